/*
 * tdigest_pack.c - packing sorted centroids into the resting form described
 * in tdigest_pack.h, and the reader's cold path.
 */
#include "aggregate/tdigest_pack.h"

/* Integer weights below this are varints; others are stored raw. */
#define VARINT_W_LIMIT 4294967296.0

/* ctrl -> {n, 8 z, weight}: generated from the rule in tdigest_pack.h;
 * n = 15 marks the 4 unused codes. */
const vn_tdigest_pack_ctl_t vn_tdigest_pack_ctrl[256] = {
    {0, 0, 1, 0}, {1, 0, 1, 0}, {2, 0, 1, 0}, {3, 0, 1, 0}, {4, 0, 1, 0}, {5, 0, 1, 0},
    {6, 0, 1, 0}, {7, 0, 1, 0}, {8, 0, 1, 0}, {0, 0, 2, 0}, {0, 0, 3, 0}, {0, 0, 4, 0},
    {0, 0, 5, 0}, {0, 0, 6, 0}, {0, 0, 7, 0}, {0, 0, 8, 0}, {0, 8, 1, 0}, {1, 8, 1, 0},
    {2, 8, 1, 0}, {3, 8, 1, 0}, {4, 8, 1, 0}, {5, 8, 1, 0}, {6, 8, 1, 0}, {7, 8, 1, 0},
    {8, 8, 1, 0}, {0, 0, 9, 0}, {0, 0, 10, 0}, {0, 0, 11, 0}, {0, 0, 12, 0}, {0, 0, 13, 0},
    {1, 0, 2, 0}, {1, 0, 3, 0}, {0, 16, 1, 0}, {1, 16, 1, 0}, {2, 16, 1, 0}, {3, 16, 1, 0},
    {4, 16, 1, 0}, {5, 16, 1, 0}, {6, 16, 1, 0}, {7, 16, 1, 0}, {8, 16, 1, 0}, {1, 0, 4, 0},
    {1, 0, 5, 0}, {1, 0, 6, 0}, {1, 0, 7, 0}, {1, 0, 8, 0}, {1, 0, 9, 0}, {1, 0, 10, 0},
    {0, 24, 1, 0}, {1, 24, 1, 0}, {2, 24, 1, 0}, {3, 24, 1, 0}, {4, 24, 1, 0}, {5, 24, 1, 0},
    {6, 24, 1, 0}, {7, 24, 1, 0}, {8, 24, 1, 0}, {1, 0, 11, 0}, {1, 0, 12, 0}, {1, 0, 13, 0},
    {2, 0, 2, 0}, {2, 0, 3, 0}, {2, 0, 4, 0}, {2, 0, 5, 0}, {0, 32, 1, 0}, {1, 32, 1, 0},
    {2, 32, 1, 0}, {3, 32, 1, 0}, {4, 32, 1, 0}, {5, 32, 1, 0}, {6, 32, 1, 0}, {7, 32, 1, 0},
    {8, 32, 1, 0}, {2, 0, 6, 0}, {2, 0, 7, 0}, {2, 0, 8, 0}, {2, 0, 9, 0}, {2, 0, 10, 0},
    {2, 0, 11, 0}, {2, 0, 12, 0}, {0, 40, 1, 0}, {1, 40, 1, 0}, {2, 40, 1, 0}, {3, 40, 1, 0},
    {4, 40, 1, 0}, {5, 40, 1, 0}, {6, 40, 1, 0}, {7, 40, 1, 0}, {8, 40, 1, 0}, {2, 0, 13, 0},
    {3, 0, 2, 0}, {3, 0, 3, 0}, {3, 0, 4, 0}, {3, 0, 5, 0}, {3, 0, 6, 0}, {3, 0, 7, 0},
    {0, 48, 1, 0}, {1, 48, 1, 0}, {2, 48, 1, 0}, {3, 48, 1, 0}, {4, 48, 1, 0}, {5, 48, 1, 0},
    {6, 48, 1, 0}, {7, 48, 1, 0}, {8, 48, 1, 0}, {3, 0, 8, 0}, {3, 0, 9, 0}, {3, 0, 10, 0},
    {3, 0, 11, 0}, {3, 0, 12, 0}, {3, 0, 13, 0}, {4, 0, 2, 0}, {0, 56, 1, 0}, {1, 56, 1, 0},
    {2, 56, 1, 0}, {3, 56, 1, 0}, {4, 56, 1, 0}, {5, 56, 1, 0}, {6, 56, 1, 0}, {7, 56, 1, 0},
    {8, 56, 1, 0}, {4, 0, 3, 0}, {4, 0, 4, 0}, {4, 0, 5, 0}, {4, 0, 6, 0}, {4, 0, 7, 0},
    {4, 0, 8, 0}, {4, 0, 9, 0}, {0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0}, {3, 0, 0, 0},
    {4, 0, 0, 0}, {5, 0, 0, 0}, {6, 0, 0, 0}, {7, 0, 0, 0}, {8, 0, 0, 0}, {4, 0, 10, 0},
    {4, 0, 11, 0}, {4, 0, 12, 0}, {4, 0, 13, 0}, {5, 0, 2, 0}, {5, 0, 3, 0}, {5, 0, 4, 0},
    {0, 8, 0, 0}, {1, 8, 0, 0}, {2, 8, 0, 0}, {3, 8, 0, 0}, {4, 8, 0, 0}, {5, 8, 0, 0},
    {6, 8, 0, 0}, {7, 8, 0, 0}, {8, 8, 0, 0}, {5, 0, 5, 0}, {5, 0, 6, 0}, {5, 0, 7, 0},
    {5, 0, 8, 0}, {5, 0, 9, 0}, {5, 0, 10, 0}, {5, 0, 11, 0}, {0, 16, 0, 0}, {1, 16, 0, 0},
    {2, 16, 0, 0}, {3, 16, 0, 0}, {4, 16, 0, 0}, {5, 16, 0, 0}, {6, 16, 0, 0}, {7, 16, 0, 0},
    {8, 16, 0, 0}, {5, 0, 12, 0}, {5, 0, 13, 0}, {6, 0, 2, 0}, {6, 0, 3, 0}, {6, 0, 4, 0},
    {6, 0, 5, 0}, {6, 0, 6, 0}, {0, 24, 0, 0}, {1, 24, 0, 0}, {2, 24, 0, 0}, {3, 24, 0, 0},
    {4, 24, 0, 0}, {5, 24, 0, 0}, {6, 24, 0, 0}, {7, 24, 0, 0}, {8, 24, 0, 0}, {6, 0, 7, 0},
    {6, 0, 8, 0}, {6, 0, 9, 0}, {6, 0, 10, 0}, {6, 0, 11, 0}, {6, 0, 12, 0}, {6, 0, 13, 0},
    {0, 32, 0, 0}, {1, 32, 0, 0}, {2, 32, 0, 0}, {3, 32, 0, 0}, {4, 32, 0, 0}, {5, 32, 0, 0},
    {6, 32, 0, 0}, {7, 32, 0, 0}, {8, 32, 0, 0}, {7, 0, 2, 0}, {7, 0, 3, 0}, {7, 0, 4, 0},
    {7, 0, 5, 0}, {7, 0, 6, 0}, {7, 0, 7, 0}, {7, 0, 8, 0}, {0, 40, 0, 0}, {1, 40, 0, 0},
    {2, 40, 0, 0}, {3, 40, 0, 0}, {4, 40, 0, 0}, {5, 40, 0, 0}, {6, 40, 0, 0}, {7, 40, 0, 0},
    {8, 40, 0, 0}, {7, 0, 9, 0}, {7, 0, 10, 0}, {7, 0, 11, 0}, {7, 0, 12, 0}, {7, 0, 13, 0},
    {8, 0, 2, 0}, {8, 0, 3, 0}, {0, 48, 0, 0}, {1, 48, 0, 0}, {2, 48, 0, 0}, {3, 48, 0, 0},
    {4, 48, 0, 0}, {5, 48, 0, 0}, {6, 48, 0, 0}, {7, 48, 0, 0}, {8, 48, 0, 0}, {8, 0, 4, 0},
    {8, 0, 5, 0}, {8, 0, 6, 0}, {8, 0, 7, 0}, {8, 0, 8, 0}, {8, 0, 9, 0}, {8, 0, 10, 0},
    {0, 56, 0, 0}, {1, 56, 0, 0}, {2, 56, 0, 0}, {3, 56, 0, 0}, {4, 56, 0, 0}, {5, 56, 0, 0},
    {6, 56, 0, 0}, {7, 56, 0, 0}, {8, 56, 0, 0}, {8, 0, 11, 0}, {8, 0, 12, 0}, {8, 0, 13, 0},
    {15, 0, 0, 0}, {15, 0, 0, 0}, {15, 0, 0, 0}, {15, 0, 0, 0},
};

const uint64_t vn_tdigest_pack_mask[9] = {
    0, 0xff, 0xffff, 0xffffff, 0xffffffffull, 0xffffffffffull, 0xffffffffffffull, 0xffffffffffffffull, ~0ull,
};

/* {n, weight 2..13} -> ctrl of the second form (k = 12 n + weight - 2). */
const uint8_t vn_tdigest_pack_inline_ctrl[9][12] = {
    {0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x19, 0x1a, 0x1b, 0x1c, 0x1d},
    {0x1e, 0x1f, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x39, 0x3a, 0x3b},
    {0x3c, 0x3d, 0x3e, 0x3f, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x59},
    {0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e},
    {0x6f, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x89, 0x8a, 0x8b, 0x8c},
    {0x8d, 0x8e, 0x8f, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa9, 0xaa},
    {0xab, 0xac, 0xad, 0xae, 0xaf, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf},
    {0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd9, 0xda, 0xdb, 0xdc, 0xdd},
    {0xde, 0xdf, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef, 0xf9, 0xfa, 0xfb},
};

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80u) {
        *p++ = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

uint8_t *vn_tdigest_pack_put_weight(uint8_t *p, uint8_t *ctrl, double w)
{
    *ctrl |= 0x80u;
    if (w >= 1.0 && w < VARINT_W_LIMIT && (double)(uint64_t)w == w)
        return put_varint(p, (uint64_t)w);
    *p++ = 0;
    memcpy(p, &w, sizeof w);
    return p + sizeof w;
}

size_t vn_tdigest_pack(const vn_tdigest_centroid_t *c, size_t n, uint8_t *out)
{
    uint8_t *p = out;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        /* both loaded before anything is stored: out may overlay c */
        double m = c[i].mean, w = c[i].weight;
        p = vn_tdigest_pack_put(p, &prev, m, w);
    }
    return (size_t)(p - out);
}

bool vn_tdigest_pack_next_slow(vn_tdigest_pack_rd_t *r, vn_tdigest_centroid_t *c)
{
    const uint8_t *p = r->p, *end = r->end;
    if (p >= end)
        return false;
    vn_tdigest_pack_ctl_t t = vn_tdigest_pack_ctrl[*p++];
    unsigned n = t.n;
    if (n > 8 || (size_t)(end - p) < n)
        return false;
    uint64_t d = 0;
    for (unsigned i = 0; i < n; i++)
        d |= (uint64_t)p[i] << (8 * i);
    p += n;
    double w = (double)t.w;
    if (t.w == 0) {
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
    r->key += d << t.shift;
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
