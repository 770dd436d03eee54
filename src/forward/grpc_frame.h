/**
 * grpc_frame.h - the gRPC-over-HTTP/2 pieces that are not HTTP/2 itself:
 * the 5-byte length-prefixed message framing of request and response bodies,
 * status codes, and the text encodings of the grpc-message and grpc-timeout
 * headers (gRPC's PROTOCOL-HTTP2.md).
 *
 * Message framing, one per message, back to back in the DATA frames:
 *
 *   00 | 00 00 00 10 | <16 bytes of protobuf>
 *   ^^   ^^^^^^^^^^^
 *   |    message length, big-endian u32
 *   compressed flag: 0 = identity. veneur-c never advertises an encoding,
 *   so a conforming peer never sets 1; the reader refuses it.
 *
 * A message may be split across DATA frames anywhere, even inside the
 * prefix; vn_grpc_reader reassembles. An empty message (google.protobuf.Empty)
 * is the 5 bytes 00 00 00 00 00.
 */
#ifndef VN_FORWARD_GRPC_FRAME_H
#define VN_FORWARD_GRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/** Largest message either side accepts or sends: gRPC's default receive cap. */
#define VN_GRPC_MAX_MESSAGE (4u << 20)
#define VN_GRPC_PREFIX 5u

/** gRPC status codes (the grpc-status trailer). Values are the protocol's. */
typedef enum vn_grpc_status {
    VN_GRPC_OK = 0,
    VN_GRPC_CANCELLED = 1,
    VN_GRPC_UNKNOWN = 2,
    VN_GRPC_INVALID_ARGUMENT = 3,
    VN_GRPC_DEADLINE_EXCEEDED = 4,
    VN_GRPC_NOT_FOUND = 5,
    VN_GRPC_RESOURCE_EXHAUSTED = 8,
    VN_GRPC_FAILED_PRECONDITION = 9,
    VN_GRPC_UNIMPLEMENTED = 12,
    VN_GRPC_INTERNAL = 13,
    VN_GRPC_UNAVAILABLE = 14,
} vn_grpc_status_t;

/** Writes the prefix of an uncompressed message of len bytes (len <= UINT32_MAX). */
static inline void vn_grpc_prefix(uint8_t out[VN_GRPC_PREFIX], uint32_t len)
{
    /* inline: the proxy writes one per routed metric (issue 22) */
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

/**
 * Called once per complete message. msg is borrowed: valid only during the
 * call (it points into the fed bytes or the reader's buffer). Return VN_OK
 * to go on; any other code stops vn_grpc_reader_feed, which returns it.
 */
typedef vn_err_t (*vn_grpc_msg_fn)(void *ctx, const uint8_t *msg, size_t len);

/**
 * Reassembly space for split messages, asked for as bytes arrive. reserve
 * returns false to refuse n more bytes (the reader then fails with
 * RESOURCE_EXHAUSTED); release gives n back. Both run inside
 * vn_grpc_reader_feed / _destroy / _drop on the reader's thread; reserve may
 * take space back from *other* readers (vn_grpc_reader_drop), never from the
 * one asking.
 */
typedef struct vn_grpc_budget {
    bool (*reserve)(void *ctx, size_t n);
    void (*release)(void *ctx, size_t n);
    void *ctx;
} vn_grpc_budget_t;

/**
 * Reassembles messages from a byte stream. A message that arrives whole in
 * one feed is handed over in place (no copy); a split one is copied into a
 * buffer that grows with the bytes that have actually arrived (doubling from
 * VN_GRPC_REASM_MIN, never past the announced length). The announced length
 * alone reserves nothing (issue 15: a 5-byte prefix claiming 4 MiB used to
 * hold 4 MiB of a shared budget before any body came). held is what the
 * budget has granted for the buffer. Not thread-safe.
 */
#define VN_GRPC_REASM_MIN 4096u

typedef struct vn_grpc_reader {
    size_t max;             /* per-message cap */
    vn_grpc_budget_t budget; /* reserve == NULL: unlimited */
    uint8_t hdr[VN_GRPC_PREFIX];
    uint32_t hdr_have;
    uint8_t *buf;           /* split message being reassembled, or NULL */
    size_t need, have, held; /* announced, arrived, allocated (= reserved) */
    size_t messages;        /* complete messages delivered so far */
    vn_grpc_status_t error; /* why the last feed failed (VN_GRPC_OK if it did not) */
} vn_grpc_reader_t;

/**
 * Initialises an empty reader with a per-message cap (bytes, <=
 * VN_GRPC_MAX_MESSAGE sensible). budget is copied; NULL = no budget.
 */
void vn_grpc_reader_init(vn_grpc_reader_t *r, size_t max, const vn_grpc_budget_t *budget);

/**
 * Gives up the partial message (freed, its space released) and marks the
 * reader failed with RESOURCE_EXHAUSTED: used by whoever owns the budget to
 * take space back. Only _destroy may follow.
 */
void vn_grpc_reader_drop(vn_grpc_reader_t *r);

/** Frees any partial message and returns its reservation to the budget. NULL ok. */
void vn_grpc_reader_destroy(vn_grpc_reader_t *r);

/**
 * Consumes data[0..len) (borrowed), calling fn for each message completed.
 * @return VN_OK; VN_ERR_TOO_LARGE when a prefix announces more than max
 *   bytes or the budget refuses space (error = RESOURCE_EXHAUSTED);
 *   VN_ERR_PROTO when the flag byte is not 0 (error = UNIMPLEMENTED for 1,
 *   compression, INTERNAL otherwise); or fn's code (error = INVALID_ARGUMENT).
 *   After an error the reader must only be destroyed.
 */
vn_err_t vn_grpc_reader_feed(vn_grpc_reader_t *r, const uint8_t *data, size_t len, vn_grpc_msg_fn fn, void *ctx);

/** True when no partial message is pending: a stream may legally end here. */
bool vn_grpc_reader_idle(const vn_grpc_reader_t *r);

/**
 * Percent-encodes msg for the grpc-message header: bytes outside 0x20..0x7e
 * and '%' become %XX. Writes at most cap-1 bytes plus NUL (truncating at a
 * whole escape); returns out.
 */
char *vn_grpc_message_encode(const char *msg, char *out, size_t cap);

/**
 * Decodes a grpc-message value (len bytes, not NUL-terminated) into out
 * (NUL-terminated, truncated to cap-1). Malformed escapes are copied as-is,
 * as gRPC asks. Returns out.
 */
char *vn_grpc_message_decode(const char *in, size_t len, char *out, size_t cap);

/**
 * Formats a grpc-timeout value for a timeout in seconds: at most 8 digits
 * and a unit (n, u, m, S, M, H), rounded up so it never shortens the
 * deadline. out needs 10 bytes. Returns out.
 */
char *vn_grpc_timeout_format(double seconds, char out[10]);

/** Parses a grpc-timeout value into seconds; false if malformed. */
bool vn_grpc_timeout_parse(const char *in, size_t len, double *seconds);

#endif
