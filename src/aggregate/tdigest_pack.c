/*
 * tdigest_pack.c - packing sorted centroids into the resting form described
 * in tdigest_pack.h, and the reader's cold path.
 */
#include "aggregate/tdigest_pack.h"

#include <math.h>

/* Integer weights below this are varints; others are stored raw. */
#define VARINT_W_LIMIT 4294967296.0
/* Integer weights in [2, INLINE_W_MAX] live in the ctrl byte (z == 0). */
#define INLINE_W_MAX 13.0

/* Generated from the rule in tdigest_pack.h (two forms of ctrl). */
const uint8_t vn_tdigest_pack_ctrl[256][3] = {
    {0, 0, 1}, {1, 0, 1}, {2, 0, 1}, {3, 0, 1}, {4, 0, 1}, {5, 0, 1}, {6, 0, 1}, {7, 0, 1},
    {8, 0, 1}, {0, 0, 2}, {0, 0, 3}, {0, 0, 4}, {0, 0, 5}, {0, 0, 6}, {0, 0, 7}, {0, 0, 8},
    {0, 1, 1}, {1, 1, 1}, {2, 1, 1}, {3, 1, 1}, {4, 1, 1}, {5, 1, 1}, {6, 1, 1}, {7, 1, 1},
    {8, 1, 1}, {0, 0, 9}, {0, 0, 10}, {0, 0, 11}, {0, 0, 12}, {0, 0, 13}, {1, 0, 2}, {1, 0, 3},
    {0, 2, 1}, {1, 2, 1}, {2, 2, 1}, {3, 2, 1}, {4, 2, 1}, {5, 2, 1}, {6, 2, 1}, {7, 2, 1},
    {8, 2, 1}, {1, 0, 4}, {1, 0, 5}, {1, 0, 6}, {1, 0, 7}, {1, 0, 8}, {1, 0, 9}, {1, 0, 10},
    {0, 3, 1}, {1, 3, 1}, {2, 3, 1}, {3, 3, 1}, {4, 3, 1}, {5, 3, 1}, {6, 3, 1}, {7, 3, 1},
    {8, 3, 1}, {1, 0, 11}, {1, 0, 12}, {1, 0, 13}, {2, 0, 2}, {2, 0, 3}, {2, 0, 4}, {2, 0, 5},
    {0, 4, 1}, {1, 4, 1}, {2, 4, 1}, {3, 4, 1}, {4, 4, 1}, {5, 4, 1}, {6, 4, 1}, {7, 4, 1},
    {8, 4, 1}, {2, 0, 6}, {2, 0, 7}, {2, 0, 8}, {2, 0, 9}, {2, 0, 10}, {2, 0, 11}, {2, 0, 12},
    {0, 5, 1}, {1, 5, 1}, {2, 5, 1}, {3, 5, 1}, {4, 5, 1}, {5, 5, 1}, {6, 5, 1}, {7, 5, 1},
    {8, 5, 1}, {2, 0, 13}, {3, 0, 2}, {3, 0, 3}, {3, 0, 4}, {3, 0, 5}, {3, 0, 6}, {3, 0, 7},
    {0, 6, 1}, {1, 6, 1}, {2, 6, 1}, {3, 6, 1}, {4, 6, 1}, {5, 6, 1}, {6, 6, 1}, {7, 6, 1},
    {8, 6, 1}, {3, 0, 8}, {3, 0, 9}, {3, 0, 10}, {3, 0, 11}, {3, 0, 12}, {3, 0, 13}, {4, 0, 2},
    {0, 7, 1}, {1, 7, 1}, {2, 7, 1}, {3, 7, 1}, {4, 7, 1}, {5, 7, 1}, {6, 7, 1}, {7, 7, 1},
    {8, 7, 1}, {4, 0, 3}, {4, 0, 4}, {4, 0, 5}, {4, 0, 6}, {4, 0, 7}, {4, 0, 8}, {4, 0, 9},
    {0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {4, 0, 0}, {5, 0, 0}, {6, 0, 0}, {7, 0, 0},
    {8, 0, 0}, {4, 0, 10}, {4, 0, 11}, {4, 0, 12}, {4, 0, 13}, {5, 0, 2}, {5, 0, 3}, {5, 0, 4},
    {0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 1, 0}, {4, 1, 0}, {5, 1, 0}, {6, 1, 0}, {7, 1, 0},
    {8, 1, 0}, {5, 0, 5}, {5, 0, 6}, {5, 0, 7}, {5, 0, 8}, {5, 0, 9}, {5, 0, 10}, {5, 0, 11},
    {0, 2, 0}, {1, 2, 0}, {2, 2, 0}, {3, 2, 0}, {4, 2, 0}, {5, 2, 0}, {6, 2, 0}, {7, 2, 0},
    {8, 2, 0}, {5, 0, 12}, {5, 0, 13}, {6, 0, 2}, {6, 0, 3}, {6, 0, 4}, {6, 0, 5}, {6, 0, 6},
    {0, 3, 0}, {1, 3, 0}, {2, 3, 0}, {3, 3, 0}, {4, 3, 0}, {5, 3, 0}, {6, 3, 0}, {7, 3, 0},
    {8, 3, 0}, {6, 0, 7}, {6, 0, 8}, {6, 0, 9}, {6, 0, 10}, {6, 0, 11}, {6, 0, 12}, {6, 0, 13},
    {0, 4, 0}, {1, 4, 0}, {2, 4, 0}, {3, 4, 0}, {4, 4, 0}, {5, 4, 0}, {6, 4, 0}, {7, 4, 0},
    {8, 4, 0}, {7, 0, 2}, {7, 0, 3}, {7, 0, 4}, {7, 0, 5}, {7, 0, 6}, {7, 0, 7}, {7, 0, 8},
    {0, 5, 0}, {1, 5, 0}, {2, 5, 0}, {3, 5, 0}, {4, 5, 0}, {5, 5, 0}, {6, 5, 0}, {7, 5, 0},
    {8, 5, 0}, {7, 0, 9}, {7, 0, 10}, {7, 0, 11}, {7, 0, 12}, {7, 0, 13}, {8, 0, 2}, {8, 0, 3},
    {0, 6, 0}, {1, 6, 0}, {2, 6, 0}, {3, 6, 0}, {4, 6, 0}, {5, 6, 0}, {6, 6, 0}, {7, 6, 0},
    {8, 6, 0}, {8, 0, 4}, {8, 0, 5}, {8, 0, 6}, {8, 0, 7}, {8, 0, 8}, {8, 0, 9}, {8, 0, 10},
    {0, 7, 0}, {1, 7, 0}, {2, 7, 0}, {3, 7, 0}, {4, 7, 0}, {5, 7, 0}, {6, 7, 0}, {7, 7, 0},
    {8, 7, 0}, {8, 0, 11}, {8, 0, 12}, {8, 0, 13}, {15, 0, 0}, {15, 0, 0}, {15, 0, 0}, {15, 0, 0},
};

static inline void put_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, sizeof v);
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80u) {
        *p++ = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* The delta of one mean, with its low zero bytes dropped (*z of them) and
 * its byte count (*nb). */
static inline uint64_t delta_of(uint64_t key, uint64_t prev, unsigned *z, unsigned *nb)
{
    uint64_t d = key - prev;
    *z = *nb = 0;
    if (d) {
        *z = (unsigned)__builtin_ctzll(d) / 8u;
        d >>= 8 * *z;
        *nb = (64u - (unsigned)__builtin_clzll(d) + 7u) / 8u;
    }
    return d;
}

static inline bool varint_weight(double w) { return w >= 1.0 && w < VARINT_W_LIMIT && (double)(uint64_t)w == w; }

static inline bool inline_weight(double w) { return w >= 2.0 && w <= INLINE_W_MAX && (double)(int)w == w; }

static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80u) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t vn_tdigest_pack_size(const vn_tdigest_centroid_t *c, size_t n)
{
    size_t len = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = vn_tdigest_pack_key(c[i].mean);
        unsigned z, nb;
        (void)delta_of(key, prev, &z, &nb);
        prev = key;
        double w = c[i].weight;
        len += 1 + nb;
        if (w != 1.0 && !(z == 0 && inline_weight(w)))
            len += varint_weight(w) ? varint_len((uint64_t)w) : 1 + sizeof w;
    }
    return len;
}

size_t vn_tdigest_pack(const vn_tdigest_centroid_t *c, size_t n, uint8_t *out)
{
    uint8_t *p = out;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = vn_tdigest_pack_key(c[i].mean);
        unsigned z, nb;
        uint64_t d = delta_of(key, prev, &z, &nb);
        prev = key;
        double w = c[i].weight;
        uint8_t *ctrl = p;
        put_le64(p + 1, d); /* whole word: the caller leaves VN_TDIGEST_PACK_SLACK bytes */
        p += 1 + nb;
        if (w == 1.0) {
            *ctrl = (uint8_t)(nb | z << 4);
            continue;
        }
        if (z == 0 && inline_weight(w)) {
            unsigned k = nb * 12u + (unsigned)w - 2u;
            *ctrl = (uint8_t)((k / 7u) << 4 | (9u + k % 7u));
            continue;
        }
        *ctrl = (uint8_t)(0x80u | nb | z << 4);
        if (varint_weight(w)) {
            p = put_varint(p, (uint64_t)w);
        } else {
            *p++ = 0;
            memcpy(p, &w, sizeof w);
            p += sizeof w;
        }
    }
    return (size_t)(p - out);
}

bool vn_tdigest_pack_next_slow(vn_tdigest_pack_rd_t *r, vn_tdigest_centroid_t *c)
{
    const uint8_t *p = r->p, *end = r->end;
    if (p >= end)
        return false;
    const uint8_t *t = vn_tdigest_pack_ctrl[*p++];
    unsigned n = t[0];
    if (n > 8 || (size_t)(end - p) < n)
        return false;
    uint64_t d = 0;
    for (unsigned i = 0; i < n; i++)
        d |= (uint64_t)p[i] << (8 * i);
    p += n;
    double w = (double)t[2];
    if (t[2] == 0) {
        uint64_t v = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (p >= end || shift > 28) /* integer weights are < 2^32: 5 bytes at most */
                return false;
            uint8_t b = *p++;
            v |= (uint64_t)(b & 0x7fu) << shift;
            if (!(b & 0x80u))
                break;
        }
        if (v == 0) {
            if ((size_t)(end - p) < sizeof w)
                return false;
            memcpy(&w, p, sizeof w);
            p += sizeof w;
        } else {
            w = (double)v;
        }
    }
    r->key += d << (8 * t[1]);
    c->mean = vn_tdigest_pack_unkey(r->key);
    c->weight = w;
    r->p = p;
    return true;
}

bool vn_tdigest_unpack(const uint8_t *buf, size_t len, vn_tdigest_centroid_t *out, size_t n)
{
    vn_tdigest_pack_rd_t r;
    vn_tdigest_pack_rd_init(&r, buf, len);
    for (size_t i = 0; i < n; i++)
        if (!vn_tdigest_pack_next(&r, &out[i]))
            return false;
    return r.p == r.end;
}
