/**
 * tdigest_pack.h - the resting form of a t-digest's sorted centroids: a
 * lossless variable-length byte encoding (issue 22), about 7 bytes per
 * centroid instead of 10 or 16. Only tdigest.c produces and reads it, from
 * and into its own fold buffers; it never comes from outside input (the
 * wire form is protobuf, tdigest_codec.c).
 *
 * Entry (one per centroid, in ascending mean order):
 *
 *   ctrl            says n, z and the weight, see below
 *   n bytes         delta >> (8 z), little-endian
 *   [weight]        only when ctrl says "follows": varint v; v >= 1 is the
 *                   integer weight v (v < 2^32), v == 0 is followed by the
 *                   weight's 8 raw bytes (any double)
 *
 *   ctrl with low nibble 0..8:  n = low nibble, z = bits 4-6 (zero bytes
 *        dropped at the low end of the delta), weight 1.0 unless bit 7
 *        is set (then it follows);
 *   ctrl with low nibble 9..15: k = (ctrl >> 4) * 7 + low - 9 < 108 gives
 *        n = k / 12, z = 0, weight 2 + k % 12 (integer weights 2..13, the
 *        usual body centroid, cost no byte of their own).
 * vn_tdigest_pack_ctrl[] holds that decoding as a table.
 *
 * The delta is key(mean) - key(previous mean) modulo 2^64 (key of the first
 * is taken from 0), where key() maps a double's bits to an unsigned integer
 * that ascends with the value (-0.0 just below +0.0). Sorted means give
 * small deltas: the shared sign, exponent and top mantissa bits cancel
 * (leading zero bytes) and values with short mantissas, such as integer
 * milliseconds, leave trailing zero bytes. Any bit pattern round-trips
 * exactly, NaN and out-of-order means included (they cost 8 bytes).
 *
 * Thread safety: pure functions over caller buffers.
 */
#ifndef VN_AGGREGATE_TDIGEST_PACK_H
#define VN_AGGREGATE_TDIGEST_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aggregate/tdigest.h"

/** Most bytes one packed centroid takes (ctrl, 8 delta bytes, varint 0, 8 weight bytes). */
#define VN_TDIGEST_PACK_MAX 18u
/** Bytes vn_tdigest_pack may write past its result (it stores whole words). */
#define VN_TDIGEST_PACK_SLACK 8u

/** Sequential reader over a packed list. */
typedef struct vn_tdigest_pack_rd {
    const uint8_t *p, *end;
    uint64_t key;
} vn_tdigest_pack_rd_t;

static inline uint64_t vn_tdigest_pack_key(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return (b >> 63) ? ~b : b | 0x8000000000000000ull;
}

static inline double vn_tdigest_pack_unkey(uint64_t k)
{
    uint64_t b = (k >> 63) ? k & 0x7fffffffffffffffull : ~k;
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline uint64_t vn_tdigest_pack_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void vn_tdigest_pack_rd_init(vn_tdigest_pack_rd_t *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->end = p + len;
    r->key = 0;
}

/** ctrl byte -> {n (15: invalid), z, weight (0: follows)}. */
extern const uint8_t vn_tdigest_pack_ctrl[256][3];

/* The cold half of vn_tdigest_pack_next: near the end of the buffer, or an
 * escaped weight. Returns false on truncated or malformed bytes. */
bool vn_tdigest_pack_next_slow(vn_tdigest_pack_rd_t *r, vn_tdigest_centroid_t *c);

/**
 * Reads the next centroid into *c. @return false (r, *c unspecified) when
 * the bytes end or are malformed: callers that packed the list themselves
 * read exactly the count they packed and never see false.
 */
static inline bool vn_tdigest_pack_next(vn_tdigest_pack_rd_t *r, vn_tdigest_centroid_t *c)
{
    const uint8_t *p = r->p;
    /* fast path: ctrl, 8 loadable bytes, at most a one-byte integer weight */
    if (r->end - p < 10)
        return vn_tdigest_pack_next_slow(r, c);
    const uint8_t *t = vn_tdigest_pack_ctrl[p[0]];
    unsigned n = t[0];
    if (n > 8)
        return false;
    const uint8_t *q = p + 1 + n;
    double w = (double)t[2];
    if (t[2] == 0) {
        unsigned v = q[0];
        if (v - 1u >= 0x7fu) /* 0 (raw double) or a multi-byte varint */
            return vn_tdigest_pack_next_slow(r, c);
        w = (double)v;
        q++;
    }
    uint64_t d = n ? vn_tdigest_pack_le64(p + 1) & (~0ull >> (64 - 8 * n)) : 0;
    r->key += d << (8 * t[1]);
    c->mean = vn_tdigest_pack_unkey(r->key);
    c->weight = w;
    r->p = q;
    return true;
}

/**
 * Packs c[0, n) into out, which must hold vn_tdigest_pack_size(c, n) +
 * VN_TDIGEST_PACK_SLACK bytes (at most n * VN_TDIGEST_PACK_MAX + SLACK).
 * @return the packed length.
 */
size_t vn_tdigest_pack(const vn_tdigest_centroid_t *c, size_t n, uint8_t *out);

/** Bytes vn_tdigest_pack(c, n, ...) returns. */
size_t vn_tdigest_pack_size(const vn_tdigest_centroid_t *c, size_t n);

/**
 * Unpacks exactly n centroids from buf[0, len) into out[0, n).
 * @return true when all n were read and they used exactly len bytes.
 */
bool vn_tdigest_unpack(const uint8_t *buf, size_t len, vn_tdigest_centroid_t *out, size_t n);

#endif
