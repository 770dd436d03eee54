/**
 * linebuf.h - line framing for one statsd stream connection, as a pure state
 * machine: bytes in (in pieces of any size), complete lines out through a
 * callback. No sockets, no epoll, no clock: listen/stream.c drives it from its
 * event loop, and tests and fuzz/fuzz_ingest.c drive it directly.
 *
 * Semantics (Go Veneur: bufio.Scanner with ScanLines and a 64 KiB buffer):
 *   - a line ends at '\n'; one trailing '\r' is stripped; empty lines are
 *     delivered too (the callback decides what they mean);
 *   - a line of max_line bytes or more without its '\n' is too long: it is
 *     dropped and the stream is finished (VN_LINEBUF_TOO_LONG);
 *   - the first line the callback rejects finishes the stream
 *     (VN_LINEBUF_BAD_LINE): nothing after it is ever delivered, nothing
 *     before it is delivered twice;
 *   - at EOF an unterminated final line is delivered once (VN_LINEBUF_EOF).
 * Once the state is not VN_LINEBUF_READING every further call is a no-op that
 * returns the state; the owner closes the connection.
 *
 * Memory: nothing is allocated until the first byte. The buffer starts at
 * VN_LINEBUF_BASE bytes and doubles only while one unterminated line needs
 * it, up to max_line; after the long line it shrinks back. Every byte of
 * capacity is charged to an optional budget shared by all line buffers of one
 * thread, which bounds the bytes half-sent lines can pin (a growth the budget
 * cannot pay for finishes the stream: VN_LINEBUF_NO_MEMORY).
 *
 * Not thread-safe; a budget is shared only by line buffers of one thread.
 */
#ifndef VN_LISTEN_LINEBUF_H
#define VN_LISTEN_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

/** First allocation; most statsd connections never need more. */
#define VN_LINEBUF_BASE 4096u

typedef enum vn_linebuf_state {
    VN_LINEBUF_READING = 0, /* accepting bytes */
    VN_LINEBUF_BAD_LINE,    /* the callback rejected a line */
    VN_LINEBUF_TOO_LONG,    /* a line reached max_line bytes without '\n' */
    VN_LINEBUF_NO_MEMORY,   /* the shared budget could not pay for a longer buffer */
    VN_LINEBUF_EOF,         /* the peer finished; the final line (if any) was delivered */
} vn_linebuf_state_t;

/** Capacity bytes held by every line buffer charged to it; limit 0 = unlimited. */
typedef struct vn_linebuf_budget {
    size_t used;
    size_t limit;
} vn_linebuf_budget_t;

typedef struct vn_linebuf {
    char *buf; /* owned; NULL until the first byte and after the stream finishes */
    size_t len, cap;
    size_t max_line;
    vn_linebuf_budget_t *budget; /* borrowed, may be NULL */
    vn_linebuf_state_t state;
} vn_linebuf_t;

/** Receives one line (no '\n', no trailing '\r'); returns false to reject it (finishes the stream). */
typedef bool (*vn_linebuf_line_fn)(void *ctx, const char *line, size_t len);

/** max_line >= VN_LINEBUF_BASE; budget borrowed (NULL: unlimited). */
void vn_linebuf_init(vn_linebuf_t *lb, size_t max_line, vn_linebuf_budget_t *budget);

/** Frees the buffer and returns its bytes to the budget. The struct may be re-initialised. */
void vn_linebuf_destroy(vn_linebuf_t *lb);

/**
 * Where the next bytes go: returns a pointer just past the buffered bytes and
 * sets *room > 0, or returns NULL (state no longer READING, or NO_MEMORY set
 * now). Allocates or grows the buffer when needed.
 */
char *vn_linebuf_space(vn_linebuf_t *lb, size_t *room);

/** n (<= room) bytes were written at the space pointer: delivers every complete line. */
vn_linebuf_state_t vn_linebuf_commit(vn_linebuf_t *lb, size_t n, vn_linebuf_line_fn fn, void *ctx);

/** The peer finished: delivers an unterminated final line, if any, then state EOF. */
vn_linebuf_state_t vn_linebuf_eof(vn_linebuf_t *lb, vn_linebuf_line_fn fn, void *ctx);

/** Copies data in through space/commit (tests, fuzzing, TLS plaintext). */
vn_linebuf_state_t vn_linebuf_feed(vn_linebuf_t *lb, const char *data, size_t n, vn_linebuf_line_fn fn, void *ctx);

/** Bytes of an unterminated line held. */
static inline size_t vn_linebuf_pending(const vn_linebuf_t *lb) { return lb->len; }

const char *vn_linebuf_state_name(vn_linebuf_state_t s);

#endif
