/**
 * decode.h - SSFSpan protobuf decoding with bounded memory (Go protocol.ParseSSF).
 *
 * protobuf-c allocates the decoded tree from a caller-owned arena (one per span
 * worker, sized at init, reset per span), so decoding never calls malloc on the
 * per-span path and a hostile packet that expands into many small messages
 * fails with VN_SSF_DEC_NOMEM instead of growing the heap.
 */
#ifndef VN_SSF_DECODE_H
#define VN_SSF_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "ssf.pb-c.h"

typedef struct vn_ssf_arena {
    uint8_t *mem; /* owned */
    size_t cap, used;
    int failed; /* an allocation was refused during the last decode */
} vn_ssf_arena_t;

typedef enum vn_ssf_dec_rc {
    VN_SSF_DEC_OK = 0,
    VN_SSF_DEC_EMPTY,   /* zero-length packet (Go: reason zerolength) */
    VN_SSF_DEC_INVALID, /* not an SSFSpan protobuf */
    VN_SSF_DEC_NOMEM,   /* decoded tree larger than the arena */
} vn_ssf_dec_rc_t;

/** Arena for packets of at most max_packet bytes. */
void vn_ssf_arena_init(vn_ssf_arena_t *a, size_t max_packet);
void vn_ssf_arena_destroy(vn_ssf_arena_t *a);

/**
 * Decodes buf[0..len) into *out (allocated in the arena: valid until the next
 * decode with the same arena). Applies Go's normalisation: an empty name takes
 * the "name" span tag (which is then hidden), a sample rate of 0 becomes 1.
 * allow_empty: framed streams accept a zero-length span as Go does; datagrams do not.
 */
vn_ssf_dec_rc_t vn_ssf_decode(vn_ssf_arena_t *a, const uint8_t *buf, size_t len, int allow_empty,
                              Ssf__SSFSpan **out);

/** Span tag value for key, or NULL (the hidden "name" tag is skipped). */
const char *vn_ssf_span_tag(const Ssf__SSFSpan *s, const char *key);

#endif
