/*
 * ring.c - consistent hash ring (see ring.h for the exact scheme and why).
 *
 * Layout: one sorted array of points {hash, member}, binary-searched for the
 * first hash strictly greater than the key's; members hold a copy of their
 * address and the caller's opaque pointer. Building sorts 20 x N points,
 * which for a few dozen globals costs microseconds, so a ring is simply
 * rebuilt whenever the set of healthy destinations changes.
 */
#include "proxy/ring.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VN_RING_CLMUL 1
#include <immintrin.h>
#else
#define VN_RING_CLMUL 0
#endif

typedef struct point {
    uint32_t hash;
    uint32_t member;
} point_t;

typedef struct member {
    char *addr;
    void *user;
} member_t;

/* Points are bucketed by the hash's top byte: bucket[b] = first point whose top byte is >= b,
 * so a lookup searches only the points that share the key's top byte (a few for any real
 * fleet) instead of halving the whole array through a chain of dependent loads. */
#define RING_BUCKETS 256

struct vn_ring {
    point_t *points;
    size_t npoints;
    member_t *members;
    size_t nmembers;
    uint32_t bucket[RING_BUCKETS + 1];
};

/*
 * CRC-32 (IEEE, reflected 0xEDB88320). zlib's crc32 walks keys this short
 * (20-80 bytes, in pieces) a byte at a time, and it was a fifth of the
 * routing cost (issue 22). Here: with PCLMULQDQ, 16-byte blocks are folded
 * by carry-less multiplication and reduced (Barrett) to 32 bits; the tail,
 * or everything on other CPUs, goes through tables sliced by 8. Both equal
 * zlib's crc32 (test_ring compares them on random data).
 */
static uint32_t crc_tab[8][256];
static bool crc_have_clmul;
/* crc_unzero[r]: the register that r zero bytes take to the initial 0xffffffff (see
 * vn_ring_hash_pad16) */
static uint32_t crc_unzero[16];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = crc_tab[0][crc_tab[t - 1][i] & 0xff] ^ (crc_tab[t - 1][i] >> 8);
    /* A zero byte maps x to (x >> 8) ^ tab[x & 0xff]; the table's top bytes are all different,
     * so the step is undone by finding the entry whose top byte the result has. */
    uint32_t by_top[256];
    for (uint32_t i = 0; i < 256; i++)
        by_top[crc_tab[0][i] >> 24] = i;
    crc_unzero[0] = 0xffffffffu;
    for (int r = 1; r < 16; r++) {
        uint32_t y = crc_unzero[r - 1], i = by_top[y >> 24];
        crc_unzero[r] = ((y ^ crc_tab[0][i]) << 8) | i;
    }
#if VN_RING_CLMUL
    __builtin_cpu_init();
    crc_have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

#if VN_RING_CLMUL
/* x (128 bits) multiplied forward by x^(d) for a fold distance d: k holds x^(d+32) and x^(d-32)
 * mod P, bit-reflected and shifted left by one, for x's low and high halves. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* c: the running CRC register (inverted); n: a multiple of 16, at least 16. Blocks are folded
 * onto the next 128 bits one at a time while more than 4 are left; the last 4 (routing keys
 * are mostly 2-4 blocks) are folded onto the end at once, 384, 256 and 128 bits forward, so
 * their carry-less multiplies do not wait on each other. Then 128 -> 64 -> 32 bits (Barrett
 * with P' and u' = floor(x^64 / P)). */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_clmul(uint32_t c, const uint8_t *p, size_t n)
{
    const __m128i k128 = _mm_set_epi64x(0xccaa009eLL, 0x1751997d0LL);
    const __m128i k256 = _mm_set_epi64x(0x15a546366LL, 0xf1da05aaLL);
    const __m128i k384 = _mm_set_epi64x(0x174359406LL, 0x3db1ecdcLL);
    const __m128i k_64to32 = _mm_set_epi64x(0, 0x163cd6124LL);
    const __m128i k_barrett = _mm_set_epi64x(0x1f7011641LL, 0x1db710641LL);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
#define LD(q) _mm_loadu_si128((const __m128i *)(const void *)(q))
    __m128i x = _mm_xor_si128(LD(p), _mm_cvtsi32_si128((int)c));
    size_t left = n / 16 - 1; /* blocks after x */
    for (p += 16; left > 3; p += 16, left--)
        x = _mm_xor_si128(fold(x, k128), LD(p));
    switch (left) {
    case 3:
        x = _mm_xor_si128(_mm_xor_si128(fold(x, k384), fold(LD(p), k256)),
                          _mm_xor_si128(fold(LD(p + 16), k128), LD(p + 32)));
        break;
    case 2: x = _mm_xor_si128(_mm_xor_si128(fold(x, k256), fold(LD(p), k128)), LD(p + 16)); break;
    case 1: x = _mm_xor_si128(fold(x, k128), LD(p)); break;
    default: break;
    }
#undef LD
    x = _mm_xor_si128(_mm_clmulepi64_si128(x, k128, 0x10), _mm_srli_si128(x, 8)); /* 128 -> 64 */
    __m128i hi32 = _mm_srli_si128(x, 4);
    x = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask32), k_64to32, 0x00), hi32); /* 64 -> 32 */
    __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), k_barrett, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), k_barrett, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(t, x), 1);
}
#endif

/* zlib's crc32(crc, p, n) contract: crc is a finished CRC (0 to start), so pieces chain. */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    uint32_t c = ~crc;
#if VN_RING_CLMUL
    if (n >= 16 && crc_have_clmul) {
        size_t m = n & ~(size_t)15;
        c = crc_clmul(c, p, m);
        p += m;
        n -= m;
    }
#endif
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
            crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^ crc_tab[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

uint32_t vn_ring_hash(const void *p, size_t len) { return crc_update(0, p, len); }

uint32_t vn_ring_hash_pad16(uint8_t *p, size_t len)
{
#if VN_RING_CLMUL
    pthread_once(&crc_once, crc_init);
    if (len >= 16 && crc_have_clmul) {
        /* r zero bytes in front, the register started where they lead to the usual start: the
         * same CRC, over whole 16-byte blocks only (no byte-at-a-time tail) */
        size_t r = (16 - (len & 15)) & 15;
        memset(p - r, 0, r);
        return ~crc_clmul(crc_unzero[r], p - r, len + r);
    }
#endif
    return crc_update(0, p, len);
}

/* Ascending hash; on a collision the smaller address first (it wins, see ring.h). */
static int point_cmp_r(const void *a, const void *b, void *ctx)
{
    const point_t *x = a, *y = b;
    const member_t *m = ctx;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return strcmp(m[x->member].addr, m[y->member].addr);
}

vn_ring_t *vn_ring_new(const char *const *addrs, void *const *users, size_t n)
{
    vn_ring_t *r = vn_xcalloc(1, sizeof *r);
    if (n > VN_RING_MAX_MEMBERS)
        n = VN_RING_MAX_MEMBERS;
    r->members = vn_xcalloc(n ? n : 1, sizeof *r->members);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(addrs[i]);
        if (len == 0 || len > VN_RING_MAX_ADDR)
            continue;
        bool dup = false;
        for (size_t j = 0; j < r->nmembers && !dup; j++)
            dup = strcmp(r->members[j].addr, addrs[i]) == 0;
        if (dup)
            continue;
        r->members[r->nmembers].addr = vn_xstrndup(addrs[i], len);
        r->members[r->nmembers].user = users ? users[i] : NULL;
        r->nmembers++;
    }
    r->points = vn_xcalloc(r->nmembers ? r->nmembers * VN_RING_REPLICAS : 1, sizeof *r->points);
    char buf[VN_RING_MAX_ADDR + 8];
    for (size_t m = 0; m < r->nmembers; m++) {
        for (int i = 0; i < VN_RING_REPLICAS; i++) {
            int len = snprintf(buf, sizeof buf, "%d%s", i, r->members[m].addr);
            r->points[r->npoints++] = (point_t){vn_ring_hash(buf, (size_t)len), (uint32_t)m};
        }
    }
    qsort_r(r->points, r->npoints, sizeof *r->points, point_cmp_r, r->members);
    /* Collisions: keep the first of each run of equal hashes (the smallest address). */
    size_t w = 0;
    for (size_t i = 0; i < r->npoints; i++)
        if (w == 0 || r->points[w - 1].hash != r->points[i].hash)
            r->points[w++] = r->points[i];
    r->npoints = w;
    size_t p = 0;
    for (size_t b = 0; b <= RING_BUCKETS; b++) {
        while (p < r->npoints && (r->points[p].hash >> 24) < b)
            p++;
        r->bucket[b] = (uint32_t)p;
    }
    return r;
}

void vn_ring_free(vn_ring_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nmembers; i++)
        free(r->members[i].addr);
    free(r->members);
    free(r->points);
    free(r);
}

size_t vn_ring_size(const vn_ring_t *r) { return r->nmembers; }

long vn_ring_owner(const vn_ring_t *r, uint32_t h)
{
    if (r->npoints == 0)
        return -1;
    /* First index whose hash > h (sort.Search in Go's consistent.search), looked for among the
     * points of h's bucket; none there means the first point of a later bucket. A large bucket
     * is halved with a conditional move, not a branch: key hashes are random. */
    size_t lo = r->bucket[h >> 24], n = r->bucket[(h >> 24) + 1] - lo;
    const point_t *base = r->points + lo;
    while (n > 8) {
        size_t half = n / 2;
        base = base[half].hash <= h ? base + half : base;
        n -= half;
    }
    while (n > 0 && base->hash <= h) {
        base++;
        n--;
    }
    size_t i = (size_t)(base - r->points);
    if (i >= r->npoints)
        i = 0;
    return (long)r->points[i].member;
}

const char *vn_ring_member_addr(const vn_ring_t *r, size_t i) { return r->members[i].addr; }

void *vn_ring_member_user(const vn_ring_t *r, size_t i) { return r->members[i].user; }

const char *const vn_ring_type_names[5] = {"counter", "gauge", "histogram", "set", "timer"};
const uint8_t vn_ring_type_lens[5] = {7, 5, 9, 3, 5};

const char *vn_ring_type_name(int32_t type, char out[12])
{
    if (type >= 0 && type < 5)
        snprintf(out, 12, "%s", vn_ring_type_names[type]);
    else
        snprintf(out, 12, "%d", (int)type);
    return out;
}

/* The key's bytes are gathered in k->buf and hashed in runs: one CRC pass over
 * "name type tag,tag" instead of a call per piece. */
static void key_put(vn_ring_key_t *k, const void *p, size_t len)
{
    if (k->n + len > sizeof k->buf) {
        k->crc = crc_update(k->crc, k->buf, k->n);
        k->n = 0;
        if (len > sizeof k->buf) {
            k->crc = crc_update(k->crc, p, len);
            return;
        }
    }
    memcpy(k->buf + k->n, p, len);
    k->n += len;
}

void vn_ring_key_begin(vn_ring_key_t *k, const char *name, size_t name_len, int32_t type)
{
    k->crc = 0;
    k->n = 0;
    k->any_tag = false;
    key_put(k, name, name_len);
    if (type >= 0 && type < 5) {
        key_put(k, vn_ring_type_names[type], vn_ring_type_lens[type]);
    } else {
        char tn[12];
        vn_ring_type_name(type, tn);
        key_put(k, tn, strlen(tn));
    }
}

void vn_ring_key_tag(vn_ring_key_t *k, const char *tag, size_t len)
{
    if (k->any_tag)
        key_put(k, ",", 1);
    key_put(k, tag, len);
    k->any_tag = true;
}

uint32_t vn_ring_key_end(vn_ring_key_t *k)
{
    k->crc = crc_update(k->crc, k->buf, k->n);
    k->n = 0;
    return k->crc;
}
