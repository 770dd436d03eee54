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
/** Most bytes one packed centroid of integer weight in [1, 2^32) takes. */
#define VN_TDIGEST_PACK_MAX_INT 14u
/** Bytes vn_tdigest_pack may write past its result (it stores whole words). */
#define VN_TDIGEST_PACK_SLACK 8u

/** Sequential reader over a packed list. */
typedef struct vn_tdigest_pack_rd {
    const uint8_t *p, *end;
    uint64_t key;
} vn_tdigest_pack_rd_t;

/* Negative: all bits flipped; positive: the sign bit set (branch-free). */
static inline uint64_t vn_tdigest_pack_key(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b ^ ((uint64_t)((int64_t)b >> 63) | 0x8000000000000000ull);
}

static inline double vn_tdigest_pack_unkey(uint64_t k)
{
    uint64_t b = k ^ (((k >> 63) - 1u) | 0x8000000000000000ull);
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
    r->end = len ? p + len : p; /* p may be NULL for an empty list */
    r->key = 0;
}

/** A ctrl byte decoded: delta bytes (15: invalid code), the delta's shift
 *  in bits (8 z), the weight (0: it follows), and the entry's length when
 *  a weight that follows takes one byte (1 + n + (w == 0); 1 for an
 *  invalid code), which lets the own-bytes readers step without branches. */
typedef struct vn_tdigest_pack_ctl {
    uint8_t n, shift, w, len;
} vn_tdigest_pack_ctl_t;
extern const vn_tdigest_pack_ctl_t vn_tdigest_pack_ctrl[256];
/** Low n bytes of a word, n = 0..8; 0 for n = 9..15 (the invalid codes'
 *  n, so that a reader of own bytes needs no clamp to stay in bounds). */
extern const uint64_t vn_tdigest_pack_mask[16];

/* The cold half of vn_tdigest_pack_next: near the end of the buffer, or an
 * escaped weight. Returns false on truncated or malformed bytes. */
bool vn_tdigest_pack_next_slow(vn_tdigest_pack_rd_t *r, vn_tdigest_centroid_t *c);

/**
 * vn_tdigest_pack_next for bytes this process packed itself, with at least
 * VN_TDIGEST_PACK_SLACK readable bytes after the list: no bounds or code
 * checks (a fold's inner loop). Never use it on bytes from elsewhere.
 */
static inline void vn_tdigest_pack_next_own(vn_tdigest_pack_rd_t *r, vn_tdigest_centroid_t *c)
{
    const uint8_t *p = r->p;
    vn_tdigest_pack_ctl_t t = vn_tdigest_pack_ctrl[p[0]];
    r->key += (vn_tdigest_pack_le64(p + 1) & vn_tdigest_pack_mask[t.n]) << t.shift;
    c->mean = vn_tdigest_pack_unkey(r->key);
    /* a one-byte weight without branches: the byte before the entry's end
     * (read even when the weight is in ctrl; it is inside the entry) */
    unsigned wb = p[t.len - 1];
    unsigned w = t.w ? t.w : wb;
    if (__builtin_expect(w - 1u < 0x7fu, 1)) {
        c->weight = (double)w;
        r->p = p + t.len;
        return;
    }
    const uint8_t *q = p + t.len - 1; /* a multi-byte varint, or 0 and a raw double */
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b = *q++;
        v |= (uint64_t)(b & 0x7fu) << shift;
        if (!(b & 0x80u))
            break;
    }
    if (v == 0) { /* raw double */
        memcpy(&c->weight, q, sizeof c->weight);
        q += sizeof c->weight;
    } else {
        c->weight = (double)v;
    }
    r->p = q;
}

/**
 * vn_tdigest_pack_next_own for a list whose weights are all integers in
 * [1, 2^32) (a compact digest's), on a reader kept in the caller's locals
 * (*p, *key): advances *key to the entry's key (the mean is
 * vn_tdigest_pack_unkey(*key), left to the caller, which often needs only
 * the key) and returns the weight.
 */
static inline __attribute__((always_inline)) uint32_t vn_tdigest_pack_next_key(const uint8_t **pp, uint64_t *key)
{
    const uint8_t *p = *pp;
    vn_tdigest_pack_ctl_t t = vn_tdigest_pack_ctrl[p[0]];
    uint64_t d = (vn_tdigest_pack_le64(p + 1) & vn_tdigest_pack_mask[t.n]) << t.shift;
    unsigned wb = p[t.len - 1]; /* see vn_tdigest_pack_next_own */
    unsigned w = t.w ? t.w : wb;
    if (__builtin_expect(w - 1u < 0x7fu, 1)) {
        *pp = p + t.len;
        *key += d;
        return w;
    }
    vn_tdigest_pack_rd_t r = {p, p, *key}; /* a multi-byte varint */
    vn_tdigest_centroid_t c;
    vn_tdigest_pack_next_own(&r, &c);
    *pp = r.p;
    *key = r.key;
    return (uint32_t)c.weight;
}

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
    vn_tdigest_pack_ctl_t t = vn_tdigest_pack_ctrl[p[0]];
    unsigned n = t.n, w = t.w;
    if (n > 8)
        return false;
    const uint8_t *q = p + 1 + n;
    if (w == 0) {
        w = q[0];
        if (w - 1u >= 0x7fu) /* 0 (raw double) or a multi-byte varint */
            return vn_tdigest_pack_next_slow(r, c);
        q++;
    }
    r->key += (vn_tdigest_pack_le64(p + 1) & vn_tdigest_pack_mask[n]) << t.shift;
    c->mean = vn_tdigest_pack_unkey(r->key);
    c->weight = (double)w;
    r->p = q;
    return true;
}

/** ctrl of an entry of weight w (2..13) with z == 0: [n][w - 2]. */
extern const uint8_t vn_tdigest_pack_inline_ctrl[9][12];

static inline void vn_tdigest_pack_put_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, sizeof v);
}

/* The cold half of vn_tdigest_pack_put: a weight that is not 1..13 inline. */
uint8_t *vn_tdigest_pack_put_weight(uint8_t *p, uint8_t *ctrl, double w);

/*
 * Writes the key delta of an entry at p + 1 (the whole word: the caller's
 * VN_TDIGEST_PACK_SLACK) and sets *z (zero bytes dropped below) and *nb
 * (bytes kept); the ctrl byte at p is the caller's. @return the byte after
 * the delta.
 */
static inline uint8_t *vn_tdigest_pack_delta(uint8_t *p, uint64_t *prev, uint64_t key, unsigned *z, unsigned *nb)
{
    uint64_t d = key - *prev;
    *prev = key;
    *z = *nb = 0;
    if (d) {
        *z = (unsigned)__builtin_ctzll(d) / 8u;
        d >>= 8 * *z;
        *nb = (71u - (unsigned)__builtin_clzll(d)) / 8u;
    }
    vn_tdigest_pack_put_le64(p + 1, d);
    return p + 1 + *nb;
}

/**
 * Appends one centroid at p (which must have VN_TDIGEST_PACK_MAX +
 * VN_TDIGEST_PACK_SLACK bytes of room); *prev is the previous entry's key
 * (0 before the first). @return the end of the entry.
 */
static inline uint8_t *vn_tdigest_pack_put(uint8_t *p, uint64_t *prev, double m, double w)
{
    uint64_t key = vn_tdigest_pack_key(m);
    unsigned z, nb;
    uint8_t *ctrl = p;
    p = vn_tdigest_pack_delta(p, prev, key, &z, &nb);
    /* weights 1..127 without branches (their mix is unpredictable): 1 and
     * 2..13 at z == 0 live in ctrl, others take one byte after the delta */
    unsigned wi = (unsigned)(w >= 1.0 && w <= 127.0 ? w : 0.0);
    if (__builtin_expect(wi == 0 || (double)wi != w, 0)) { /* 0 also for -0.0, NaN */
        *ctrl = (uint8_t)(nb | z << 4);
        return vn_tdigest_pack_put_weight(p, ctrl, w);
    }
    unsigned in_ctrl = wi == 1 || (z == 0 && wi - 2u <= 11u);
    unsigned form2 = vn_tdigest_pack_inline_ctrl[nb][wi - 2u <= 11u ? wi - 2u : 0];
    *ctrl = (uint8_t)(z == 0 && wi - 2u <= 11u ? form2 : (nb | z << 4 | (wi != 1) << 7));
    *p = (uint8_t)wi;
    return p + !in_ctrl;
}

/**
 * vn_tdigest_pack_put for a mean given as its key and an integer weight w in
 * [1, 2^32) (a compact digest's fold, which knows both): the same bytes as
 * vn_tdigest_pack_put(p, prev, unkey(key), w), without the checks and
 * conversions of a double weight.
 */
static inline uint8_t *vn_tdigest_pack_put_int(uint8_t *p, uint64_t *prev, uint64_t key, uint32_t w)
{
    unsigned z, nb;
    uint8_t *ctrl = p;
    p = vn_tdigest_pack_delta(p, prev, key, &z, &nb);
    if (__builtin_expect(w > 127u, 0)) {
        *ctrl = (uint8_t)(nb | z << 4);
        return vn_tdigest_pack_put_weight(p, ctrl, (double)w);
    }
    unsigned inl = (z == 0) & (w - 2u <= 11u); /* 2..13 at z == 0: in ctrl */
    unsigned follows = (w != 1u) & !inl;
    unsigned form2 = vn_tdigest_pack_inline_ctrl[nb][inl ? w - 2u : 0];
    *ctrl = (uint8_t)(inl ? form2 : (nb | z << 4 | follows << 7));
    *p = (uint8_t)w;
    return p + follows;
}

/**
 * Packs c[0, n) into out, which must hold n * VN_TDIGEST_PACK_MAX +
 * VN_TDIGEST_PACK_SLACK bytes. out may be c itself (packing in place) when
 * every weight is an integer in [1, 2^32): such an entry takes at most
 * VN_TDIGEST_PACK_MAX_INT bytes, and entry i's bytes, slack word included,
 * end before entry i + 1 is read. @return the packed length.
 */
size_t vn_tdigest_pack(const vn_tdigest_centroid_t *c, size_t n, uint8_t *out);

/**
 * Unpacks exactly n centroids from buf[0, len) into out[0, n).
 * @return true when all n were read and they used exactly len bytes.
 */
bool vn_tdigest_unpack(const uint8_t *buf, size_t len, vn_tdigest_centroid_t *out, size_t n);

#endif
