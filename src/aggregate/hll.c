/*
 * hll.c - HyperLogLog with axiomhq/hyperloglog's representation (the one Go
 * Veneur ships), so sketches and their bytes move freely between Go and C.
 *
 * Hash x = MetroHash64(member, 1337). With p the precision (m = 2^p
 * registers) and pp = 25:
 *
 * Dense index and rank:  idx = x >> (64 - p);
 *                        rank = clz64((x << p) | 1 << (p - 1)) + 1   (1..65-p)
 *
 * Sparse key (uint32), built from the top 25 bits idx25 = x >> 39:
 *   if the low pp-p bits of idx25 are all 0 (rank not derivable from idx25):
 *       zeros = clz64(((x & (2^39 - 1)) << 25) | (2^25 - 1)) + 1   (1..40)
 *       key = idx25 << 7 | zeros << 1 | 1
 *   else key = idx25 << 1
 *   decoding: flag set   -> idx = key >> (32 - p), rank = zeros + (pp - p)
 *             flag clear -> idx = (key >> (pp - p + 1)) & (m - 1),
 *                           rank = clz32(key << (32 - pp + p - 1)) + 1
 *   Example (W7): "foo" -> x = 0xb144ade82fca73cd, idx25 = x >> 39 = 0x162895b,
 *   whose low 11 bits (0x15b) are not 0, so key = idx25 << 1 = 0x02c512b6:
 *   dense register 0x162895b >> 11 = 0x2c51, rank clz32(0x15b << 21) + 1 = 3.
 *
 * Sparse mode keeps distinct keys: new keys go to a small sorted array
 * ("tmp"); once it holds more than m/100 keys it is merged into a sorted
 * list stored as little-endian base-128 varints of the deltas between
 * consecutive keys (0x80 = continuation). When that list passes m bytes the
 * sketch turns dense.
 *
 * Dense registers are 4 bits, two per byte, register 2i in the high nibble of
 * byte i and 2i+1 in the low nibble; each holds rank - b (0..15, saturating).
 * When a rank would need more than 15 above b and no register is 0, every
 * register drops by the smallest one and b rises by it (lossless). Go runs
 * that check whenever (uint8)(rank - b) >= 16, i.e. also when rank < b; we
 * keep the same rule so that the same members give the same bytes.
 *
 * Estimates: sparse, linear counting over the 2^25 key space:
 *   2^25 * ln(2^25 / (2^25 - keys)). Dense, LogLog-Beta (Qin et al.):
 *   b == 0: alpha m (m - z) / (sum + beta(z)), else alpha m^2 / sum, with
 *   sum = sum_i 2^-(b + reg_i), z = zero registers, plus Go's two "+ 0.5".
 */
#include "aggregate/hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/metrohash.h"
#include "core/xalloc.h"

_Static_assert(sizeof(vn_hll_t) <= 64, "vn_hll_t is embedded in every set series");

#define PP VN_HLL_SPARSE_PRECISION
#define VERSION 1
#define HDR_LEN 4

static inline unsigned clz64(uint64_t v) { return v ? (unsigned)__builtin_clzll(v) : 64; }
static inline unsigned clz32(uint32_t v) { return v ? (unsigned)__builtin_clz(v) : 32; }
static inline uint32_t hll_m(const vn_hll_t *h) { return 1u << h->_p; }
/* Pending keys are merged once there are more than m/100 of them. */
static inline uint32_t tmp_max(const vn_hll_t *h) { return hll_m(h) / 100 + 1; }

/* ---- keys ---- */

uint32_t vn_hll_sparse_key(uint64_t x, unsigned p)
{
    uint32_t idx = (uint32_t)(x >> (64 - PP));
    if ((idx & ((1u << (PP - p)) - 1)) == 0) {
        uint64_t w = ((x & ((1ull << (64 - PP)) - 1)) << PP) | ((1ull << PP) - 1);
        uint32_t zeros = clz64(w) + 1;
        return idx << 7 | zeros << 1 | 1;
    }
    return idx << 1;
}

static void decode_key(uint32_t k, unsigned p, uint32_t *idx, uint8_t *rank)
{
    if (k & 1) {
        *idx = k >> (32 - p);
        *rank = (uint8_t)(((k >> 1) & 63) + (PP - p));
    } else {
        *idx = (k >> (PP - p + 1)) & ((1u << p) - 1);
        *rank = (uint8_t)(clz32(k << (32 - PP + p - 1)) + 1);
    }
}

/* True for exactly the keys vn_hll_sparse_key can return at precision p. */
static bool key_valid(uint32_t k, unsigned p)
{
    uint32_t low = (1u << (PP - p)) - 1;
    if (k & 1) {
        uint32_t zeros = (k >> 1) & 63;
        return zeros >= 1 && zeros <= 64 - PP + 1 && ((k >> 7) & low) == 0;
    }
    return k < (1u << (PP + 1)) && ((k >> 1) & low) != 0;
}

/* ---- dense registers ---- */

static inline uint8_t reg_get(const uint8_t *regs, uint32_t i)
{
    return (i & 1) ? (regs[i >> 1] & 0x0f) : (regs[i >> 1] >> 4);
}

static inline void reg_set(uint8_t *regs, uint32_t i, uint8_t v)
{
    uint8_t *p = &regs[i >> 1];
    *p = (i & 1) ? (uint8_t)((*p & 0xf0) | v) : (uint8_t)((*p & 0x0f) | (v << 4));
}

static uint32_t count_zero_regs(const uint8_t *regs, uint32_t m)
{
    uint32_t z = 0;
    for (uint32_t i = 0; i < m / 2; i++)
        z += ((regs[i] >> 4) == 0) + ((regs[i] & 0x0f) == 0);
    return z;
}

static uint8_t regs_min(const vn_hll_t *h)
{
    if (h->_nz > 0)
        return 0;
    uint8_t mn = 15;
    for (uint32_t i = 0; i < hll_m(h) / 2 && mn > 0; i++) {
        uint8_t hi = h->_regs[i] >> 4, lo = h->_regs[i] & 0x0f;
        mn = hi < mn ? hi : mn;
        mn = lo < mn ? lo : mn;
    }
    return mn;
}

/* Lowers every register by delta (0 if below), e.g. to raise the base. */
static void regs_lower(uint8_t *regs, uint32_t m, uint8_t delta)
{
    for (uint32_t i = 0; i < m / 2; i++) {
        uint8_t hi = regs[i] >> 4, lo = regs[i] & 0x0f;
        hi = hi > delta ? (uint8_t)(hi - delta) : 0;
        lo = lo > delta ? (uint8_t)(lo - delta) : 0;
        regs[i] = (uint8_t)(hi << 4 | lo);
    }
}

static void dense_insert(vn_hll_t *h, uint32_t idx, uint8_t rank)
{
    if ((uint8_t)(rank - h->_b) >= 16) { /* overflow check, Go's uint8 rule */
        uint8_t db = regs_min(h);
        if (db > 0) {
            h->_b = (uint8_t)(h->_b + db);
            regs_lower(h->_regs, hll_m(h), db);
            h->_nz = count_zero_regs(h->_regs, hll_m(h));
        }
    }
    if (rank > h->_b) {
        uint8_t v = (uint8_t)(rank - h->_b);
        if (v > 15)
            v = 15;
        uint8_t old = reg_get(h->_regs, idx);
        if (v > old) {
            if (old == 0)
                h->_nz--;
            reg_set(h->_regs, idx, v);
        }
    }
}

/* ---- sparse list: varint deltas ---- */

typedef struct list_it {
    const uint8_t *p, *end;
    uint32_t last;
} list_it_t;

/* (An empty list may have a NULL buffer; NULL + 0 is not valid C.) */
static inline list_it_t list_iter(const uint8_t *buf, uint32_t len)
{
    list_it_t it = {buf, buf ? buf + len : buf, 0};
    return it;
}

static inline bool list_next(list_it_t *it, uint32_t *out)
{
    if (it->p >= it->end)
        return false;
    uint32_t d = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        b = *it->p++;
        d |= (uint32_t)(b & 0x7f) << shift;
        shift += 7;
    } while ((b & 0x80) && it->p < it->end);
    it->last += d;
    *out = it->last;
    return true;
}

static uint8_t *put_uvarint(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Replaces the list by its union with the sorted distinct keys[0,n). */
static void list_union(vn_hll_t *h, const uint32_t *keys, uint32_t n)
{
    size_t cap = (size_t)h->_list_len + (size_t)n * 5;
    uint8_t *out = vn_xmalloc(cap ? cap : 1);
    uint8_t *w = out;
    list_it_t it = list_iter(h->_list, h->_list_len);
    uint32_t last = 0, count = 0, a = 0, i = 0;
    bool have_a = list_next(&it, &a);
    while (have_a || i < n) {
        uint32_t v;
        if (!have_a || (i < n && keys[i] < a)) {
            v = keys[i++];
        } else {
            v = a;
            if (i < n && keys[i] == a)
                i++;
            have_a = list_next(&it, &a);
        }
        w = put_uvarint(w, v - last);
        last = v;
        count++;
    }
    free(h->_list);
    h->_list = out;
    h->_list_cap = (uint32_t)cap;
    h->_list_len = (uint32_t)(w - out);
    h->_list_count = count;
    h->_list_last = last;
}

static void to_dense(vn_hll_t *h)
{
    if (h->_tmp_n) {
        list_union(h, h->_tmp, h->_tmp_n);
        h->_tmp_n = 0;
    }
    uint32_t m = hll_m(h);
    h->_regs = vn_xcalloc(m / 2, 1);
    h->_nz = m;
    h->_b = 0;
    list_it_t it = list_iter(h->_list, h->_list_len);
    uint32_t k, idx;
    uint8_t rank;
    while (list_next(&it, &k)) {
        decode_key(k, h->_p, &idx, &rank);
        dense_insert(h, idx, rank);
    }
    free(h->_list);
    free(h->_tmp);
    h->_list = NULL;
    h->_tmp = NULL;
    h->_list_len = h->_list_cap = h->_list_count = h->_list_last = 0;
    h->_tmp_n = h->_tmp_cap = 0;
    h->_sparse = false;
}

/* Go's rule after pending keys change: merge them once there are more than
 * m/100, and go dense once the list passes m bytes. */
static void maybe_flush_tmp(vn_hll_t *h)
{
    if ((uint64_t)h->_tmp_n * 100 <= hll_m(h))
        return;
    list_union(h, h->_tmp, h->_tmp_n);
    h->_tmp_n = 0;
    if (h->_list_len > hll_m(h))
        to_dense(h);
}

static void tmp_reserve(vn_hll_t *h, uint32_t n)
{
    if (n <= h->_tmp_cap)
        return;
    uint32_t cap = h->_tmp_cap ? h->_tmp_cap : 8;
    while (cap < n)
        cap *= 2;
    if (cap > tmp_max(h) && n <= tmp_max(h))
        cap = tmp_max(h);
    h->_tmp = vn_xrealloc(h->_tmp, (size_t)cap * sizeof(uint32_t));
    h->_tmp_cap = cap;
}

static void tmp_insert(vn_hll_t *h, uint32_t k)
{
    uint32_t lo = 0, hi = h->_tmp_n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (h->_tmp[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < h->_tmp_n && h->_tmp[lo] == k)
        return;
    tmp_reserve(h, h->_tmp_n + 1);
    memmove(&h->_tmp[lo + 1], &h->_tmp[lo], (h->_tmp_n - lo) * sizeof(uint32_t));
    h->_tmp[lo] = k;
    h->_tmp_n++;
    maybe_flush_tmp(h);
}

/* ---- lifecycle and updates ---- */

vn_err_t vn_hll_init_precision(vn_hll_t *h, unsigned precision)
{
    vn_err_t err = VN_OK;
    if (precision < VN_HLL_MIN_PRECISION || precision > VN_HLL_MAX_PRECISION) {
        precision = VN_HLL_DEFAULT_PRECISION;
        err = VN_ERR_CONFIG;
    }
    memset(h, 0, sizeof(*h));
    h->_p = (uint8_t)precision;
    h->_sparse = true;
    return err;
}

void vn_hll_init(vn_hll_t *h) { (void)vn_hll_init_precision(h, VN_HLL_DEFAULT_PRECISION); }

void vn_hll_destroy(vn_hll_t *h)
{
    if (!h)
        return;
    free(h->_tmp);
    free(h->_list);
    free(h->_regs);
    h->_tmp = NULL;
    h->_list = NULL;
    h->_regs = NULL;
    h->_tmp_n = h->_tmp_cap = h->_list_len = h->_list_cap = h->_list_count = 0;
}

static void add_hash(vn_hll_t *h, uint64_t x)
{
    if (h->_sparse) {
        tmp_insert(h, vn_hll_sparse_key(x, h->_p));
        return;
    }
    uint32_t idx = (uint32_t)(x >> (64 - h->_p));
    uint8_t rank = (uint8_t)(clz64((x << h->_p) | (1ull << (h->_p - 1))) + 1);
    dense_insert(h, idx, rank);
}

void vn_hll_add(vn_hll_t *h, const void *data, size_t len)
{
    add_hash(h, vn_metrohash64(data, len, VN_METRO_HLL_SEED));
}

unsigned vn_hll_precision(const vn_hll_t *h) { return h->_p; }
bool vn_hll_is_sparse(const vn_hll_t *h) { return h->_sparse; }

size_t vn_hll_memory(const vn_hll_t *h)
{
    return (size_t)h->_tmp_cap * sizeof(uint32_t) + h->_list_cap + (h->_regs ? hll_m(h) / 2 : 0);
}

/* ---- merge ---- */

/* All of a sparse sketch's keys (list and pending), sorted and distinct, in
 * a new array; *n gets the count. */
static uint32_t *sparse_keys(const vn_hll_t *s, uint32_t *n)
{
    uint32_t *out = vn_xmalloc(((size_t)s->_list_count + s->_tmp_n + 1) * sizeof(uint32_t));
    list_it_t it = list_iter(s->_list, s->_list_len);
    uint32_t a = 0, i = 0, c = 0;
    bool have_a = list_next(&it, &a);
    while (have_a || i < s->_tmp_n) {
        if (!have_a || (i < s->_tmp_n && s->_tmp[i] < a)) {
            out[c++] = s->_tmp[i++];
        } else {
            if (i < s->_tmp_n && s->_tmp[i] == a)
                i++;
            out[c++] = a;
            have_a = list_next(&it, &a);
        }
    }
    *n = c;
    return out;
}

static void merge_sparse_into_sparse(vn_hll_t *dst, const vn_hll_t *src)
{
    uint32_t n, u = 0;
    uint32_t *keys = sparse_keys(src, &n);
    uint32_t *all = vn_xmalloc(((size_t)n + dst->_tmp_n + 1) * sizeof(uint32_t));
    uint32_t i = 0, j = 0;
    while (i < n || j < dst->_tmp_n) { /* union of src keys and dst pending */
        if (j >= dst->_tmp_n || (i < n && keys[i] < dst->_tmp[j])) {
            all[u++] = keys[i++];
        } else {
            if (i < n && keys[i] == dst->_tmp[j])
                i++;
            all[u++] = dst->_tmp[j++];
        }
    }
    free(keys);
    if ((uint64_t)u * 100 > hll_m(dst)) {
        list_union(dst, all, u);
        dst->_tmp_n = 0;
        if (dst->_list_len > hll_m(dst))
            to_dense(dst);
    } else { /* still few enough to stay pending, as Go leaves them */
        tmp_reserve(dst, u);
        memcpy(dst->_tmp, all, (size_t)u * sizeof(uint32_t));
        dst->_tmp_n = u;
    }
    free(all);
}

vn_err_t vn_hll_merge(vn_hll_t *dst, const vn_hll_t *src)
{
    if (dst == src)
        return VN_ERR_PARSE;
    if (dst->_p != src->_p)
        return VN_ERR_PROTO;
    if (src->_sparse && src->_tmp_n == 0 && src->_list_count == 0)
        return VN_OK;
    if (dst->_sparse && src->_sparse) {
        merge_sparse_into_sparse(dst, src);
        return VN_OK;
    }
    if (dst->_sparse)
        to_dense(dst);
    uint32_t idx, k;
    uint8_t rank;
    if (src->_sparse) {
        list_it_t it = list_iter(src->_list, src->_list_len);
        while (list_next(&it, &k)) {
            decode_key(k, src->_p, &idx, &rank);
            dense_insert(dst, idx, rank);
        }
        for (uint32_t i = 0; i < src->_tmp_n; i++) {
            decode_key(src->_tmp[i], src->_p, &idx, &rank);
            dense_insert(dst, idx, rank);
        }
        return VN_OK;
    }
    uint32_t m = hll_m(dst);
    if (dst->_b < src->_b) {
        regs_lower(dst->_regs, m, (uint8_t)(src->_b - dst->_b));
        dst->_b = src->_b;
    }
    uint8_t d = (uint8_t)(dst->_b - src->_b); /* src registers re-based to dst->_b */
    for (uint32_t i = 0; i < m / 2; i++) {    /* both nibbles of a byte at once */
        uint8_t sh = src->_regs[i] >> 4, sl = src->_regs[i] & 0x0f;
        uint8_t dh = dst->_regs[i] >> 4, dl = dst->_regs[i] & 0x0f;
        sh = sh > d ? (uint8_t)(sh - d) : 0;
        sl = sl > d ? (uint8_t)(sl - d) : 0;
        dst->_regs[i] = (uint8_t)((sh > dh ? sh : dh) << 4 | (sl > dl ? sl : dl));
    }
    dst->_nz = count_zero_regs(dst->_regs, m);
    return VN_OK;
}

/* ---- estimates ---- */

static uint32_t sparse_distinct(const vn_hll_t *h)
{
    uint32_t extra = 0, a = 0, i = 0;
    list_it_t it = list_iter(h->_list, h->_list_len);
    bool have_a = list_next(&it, &a);
    while (i < h->_tmp_n) { /* pending keys not already in the list */
        if (have_a && a < h->_tmp[i]) {
            have_a = list_next(&it, &a);
        } else {
            extra += !(have_a && a == h->_tmp[i]);
            i++;
        }
    }
    return h->_list_count + extra;
}

/* Truncates like Go's uint64(x), but defined for every double: an estimate
 * from a crafted sketch can be negative, NaN or beyond 2^64. */
static uint64_t to_u64(double x)
{
    if (!(x > 0.0))
        return 0;
    if (x >= 18446744073709551615.0)
        return UINT64_MAX;
    return (uint64_t)x;
}

static uint64_t linear_count(uint32_t keys)
{
    double mp = (double)(1u << PP);
    return to_u64(mp * log(mp / (mp - (double)keys)));
}

static double alpha_of(double m)
{
    if (m == 16)
        return 0.673;
    if (m == 32)
        return 0.697;
    if (m == 64)
        return 0.709;
    return 0.7213 / (1 + 1.079 / m);
}

static const double BETA14[8] = {-0.370393911, 0.070471823, 0.17393686, 0.16339839,
                                 -0.09237745,  0.03738027,  -0.005384159, 0.00042419};
static const double BETA16[8] = {-0.37331876643753059, -1.41704077448122989, 0.40729184796612533,
                                 1.56152033906584164,  -0.99242233534286128, 0.26064681399483092,
                                 -0.03053811369682807, 0.00155770210179105};

/* beta(z) = c0 z + sum_{k=1..7} c_k ln(z + 1)^k, Horner form. */
static double beta(unsigned p, double z)
{
    const double *c = p < 16 ? BETA14 : BETA16;
    double zl = log(z + 1), acc = 0;
    for (int k = 7; k >= 1; k--)
        acc = (acc + c[k]) * zl;
    return c[0] * z + acc;
}

static double dense_raw(const vn_hll_t *h, double sum, double z, double bz)
{
    double m = hll_m(h), a = alpha_of(m);
    return h->_b == 0 ? a * m * (m - z) / (sum + bz) + 0.5 : a * m * m / sum + 0.5;
}

uint64_t vn_hll_estimate(const vn_hll_t *h)
{
    if (h->_sparse)
        return linear_count(sparse_distinct(h));
    uint32_t m = hll_m(h);
    double sum = 0;
    for (uint32_t i = 0; i < m / 2; i++) { /* same order as Go: high, low */
        sum += ldexp(1.0, -(int)(h->_b + (h->_regs[i] >> 4)));
        sum += ldexp(1.0, -(int)(h->_b + (h->_regs[i] & 0x0f)));
    }
    double z = h->_b == 0 ? (double)h->_nz : 0.0;
    if (h->_b == 0 && h->_nz == m)
        return 0; /* no member at all (Go would say 1) */
    return to_u64(dense_raw(h, sum, z, beta(h->_p, z)) + 0.5);
}

/* Go's math.Pow(x, n) for a small positive integer n: mantissa/exponent
 * split, then square-and-multiply (not correctly rounded, hence needed). */
static double go_pow_int(double x, unsigned n)
{
    int xe;
    double x1 = frexp(x, &xe), a1 = 1.0;
    int ae = 0;
    for (unsigned i = n; i != 0; i >>= 1) {
        if (i & 1) {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe *= 2; /* Go: xe <<= 1 (xe may be negative) */
        if (x1 < 0.5) {
            x1 += x1;
            xe--;
        }
    }
    return ldexp(a1, ae);
}

uint64_t vn_hll_estimate_go(const vn_hll_t *h)
{
    if (h->_sparse)
        return linear_count(sparse_distinct(h));
    uint32_t m = hll_m(h);
    double sum = 0, z = 0;
    for (uint32_t i = 0; i < m / 2; i++) {
        unsigned hi = h->_b + (h->_regs[i] >> 4), lo = h->_b + (h->_regs[i] & 0x0f);
        z += 2 * (hi == 0); /* Go's bug: the high nibble is tested twice */
        sum += ldexp(1.0, -(int)hi);
        sum += ldexp(1.0, -(int)lo);
    }
    const double *c = h->_p < 16 ? BETA14 : BETA16;
    double zl = log(z + 1), bz = c[0] * z + c[1] * zl;
    for (unsigned k = 2; k <= 7; k++)
        bz += c[k] * go_pow_int(zl, k);
    return to_u64(dense_raw(h, sum, z, bz) + 0.5);
}

/* ---- MarshalBinary layout ----
 *
 *   01 | p | b | flag        version 1, precision, dense base, 1 = sparse
 *   sparse (flag 1):
 *     u32 n | n x u32 pending key | u32 count | u32 last | u32 len | len bytes
 *     (the list: count varint deltas, the first from 0, summing to last)
 *   dense (flag 0):
 *     u32 m/2 | m/2 register bytes (register 2i in the high nibble of byte i)
 *   All u32 big-endian. Examples at p = 14:
 *     {"foo"}, key pending (docs/behaviour.md W7, 24 bytes):
 *       01 0e 00 01 | 00000001 | 02c512b6 | 00000000 | 00000000 | 00000000
 *     {"foo", "a"} once listed (keys 02c512b6, 036493c0):
 *       01 0e 00 01 | 00000000 | 00000002 | 036493c0 | 00000008 |
 *       b6 a5 94 16 (02c512b6 - 0) 8a 82 fe 04 (036493c0 - 02c512b6)
 */

static uint8_t *put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t vn_hll_marshal_size(const vn_hll_t *h)
{
    if (h->_sparse)
        return HDR_LEN + 4 + (size_t)h->_tmp_n * 4 + 12 + h->_list_len;
    return HDR_LEN + 4 + hll_m(h) / 2;
}

vn_err_t vn_hll_marshal(const vn_hll_t *h, uint8_t *buf, size_t cap, size_t *out_len)
{
    size_t need = vn_hll_marshal_size(h);
    if (cap < need)
        return VN_ERR_TOO_LARGE;
    uint8_t *p = buf;
    *p++ = VERSION;
    *p++ = h->_p;
    *p++ = h->_b;
    *p++ = h->_sparse ? 1 : 0;
    if (h->_sparse) {
        p = put_be32(p, h->_tmp_n);
        for (uint32_t i = 0; i < h->_tmp_n; i++)
            p = put_be32(p, h->_tmp[i]);
        p = put_be32(p, h->_list_count);
        p = put_be32(p, h->_list_last);
        p = put_be32(p, h->_list_len);
        if (h->_list_len)
            memcpy(p, h->_list, h->_list_len);
        p += h->_list_len;
    } else {
        p = put_be32(p, hll_m(h) / 2);
        memcpy(p, h->_regs, hll_m(h) / 2);
        p += hll_m(h) / 2;
    }
    *out_len = (size_t)(p - buf);
    return VN_OK;
}

/* Checks a sparse list: minimal varints, strictly ascending valid keys,
 * exactly `count` of them ending at `last`. */
static bool list_valid(const uint8_t *b, uint32_t len, uint32_t count, uint32_t last, unsigned p)
{
    const uint8_t *q = b, *end = b + len;
    uint64_t cur = 0;
    uint32_t n = 0;
    while (q < end) {
        uint64_t d = 0;
        unsigned i = 0;
        for (;; i++) {
            if (q >= end || i >= 5)
                return false;
            uint8_t c = *q++;
            d |= (uint64_t)(c & 0x7f) << (7 * i);
            if (!(c & 0x80)) {
                if (c == 0 && i > 0)
                    return false; /* non-minimal encoding */
                break;
            }
        }
        cur += d;
        if (d == 0 || cur > UINT32_MAX || !key_valid((uint32_t)cur, p))
            return false;
        n++;
    }
    return n == count && cur == last;
}

static vn_err_t unmarshal_fail(vn_hll_t *h)
{
    vn_hll_destroy(h);
    vn_hll_init(h);
    return VN_ERR_PROTO;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

vn_err_t vn_hll_unmarshal(vn_hll_t *h, const uint8_t *buf, size_t len)
{
    vn_hll_init(h);
    if (!buf || len < HDR_LEN + 4 || buf[0] != VERSION || buf[3] > 1)
        return unmarshal_fail(h);
    unsigned p = buf[1];
    if (vn_hll_init_precision(h, p) != VN_OK)
        return unmarshal_fail(h);
    uint32_t m = hll_m(h);
    uint8_t b = buf[2];
    const uint8_t *q = buf + HDR_LEN, *end = buf + len;

    if (buf[3] == 0) { /* dense */
        if (b > 64 - p + 1 || get_be32(q) != m / 2 || (size_t)(end - q - 4) != m / 2)
            return unmarshal_fail(h);
        h->_sparse = false;
        h->_b = b;
        h->_regs = vn_xmalloc(m / 2);
        memcpy(h->_regs, q + 4, m / 2);
        h->_nz = count_zero_regs(h->_regs, m);
        return VN_OK;
    }

    /* sparse: u32 n, n keys, u32 count, u32 last, u32 len, len bytes */
    uint32_t n = get_be32(q);
    q += 4;
    if (b != 0 || n > m || (size_t)(end - q) < (size_t)n * 4 + 12)
        return unmarshal_fail(h);
    const uint8_t *keys = q;
    q += (size_t)n * 4;
    uint32_t count = get_be32(q), last = get_be32(q + 4), blen = get_be32(q + 8);
    q += 12;
    if (blen > m || (size_t)(end - q) != blen || !list_valid(q, blen, count, last, p))
        return unmarshal_fail(h);
    for (uint32_t i = 0; i < n; i++)
        if (!key_valid(get_be32(keys + (size_t)i * 4), p))
            return unmarshal_fail(h);

    if (blen) {
        h->_list = vn_xmalloc(blen);
        memcpy(h->_list, q, blen);
        h->_list_len = h->_list_cap = blen;
        h->_list_count = count;
        h->_list_last = last;
    }
    if (n) {
        h->_tmp = vn_xmalloc((size_t)n * sizeof(uint32_t));
        h->_tmp_cap = n;
        for (uint32_t i = 0; i < n; i++)
            h->_tmp[i] = get_be32(keys + (size_t)i * 4);
        qsort(h->_tmp, n, sizeof(uint32_t), cmp_u32);
        uint32_t u = 0; /* drop duplicates */
        for (uint32_t i = 0; i < n; i++)
            if (u == 0 || h->_tmp[u - 1] != h->_tmp[i])
                h->_tmp[u++] = h->_tmp[i];
        h->_tmp_n = u;
        maybe_flush_tmp(h); /* more pending keys than Go ever keeps */
    }
    return VN_OK;
}
