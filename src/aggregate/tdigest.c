/*
 * tdigest.c - merging t-digest (Dunning & Ertl, "Computing extremely accurate
 * quantiles using t-digests", 2019), the in-memory half. The wire codec lives
 * in tdigest_codec.c, queries (quantile, cdf, iterator) in tdigest_query.c,
 * the packed resting form in tdigest_pack.c. Design notes and measurements:
 * docs/internals/sketches.md.
 *
 * State: one block of centroids. [0, n_main) are sorted by mean ("main"),
 * [n_main, n_main + n_temp) are pending samples in arrival order ("temp").
 * Samples are appended to temp; when temp holds _temp_max entries (Go's buffer
 * size for the compression, 42 at 100) or a query needs sorted data, temp is
 * sorted and folded into main by one ascending pass.
 *
 * The fold pass: walk all centroids in ascending mean; the open output
 * centroid starts at cumulative weight wl (quantile ql = wl / n) and may grow
 * while its right edge stays within q_limit(ql) * n, where q_limit is the
 * quantile one unit of the scale function k above ql: k(q_limit) = k(ql) + 1.
 * Each scale function below has a closed-form q_limit, so a pass costs one
 * sqrt and one division per output centroid (no asin per input as in Go).
 *
 *   k1 (Go):  k(q) = d * (asin(2q - 1) / pi + 1/2).  With t = asin(2q - 1) and
 *             a = pi / d: q_limit = (1 + sin(t + a)) / 2, and sin(t + a) =
 *             (2q - 1) cos a + 2 sqrt(q (1 - q)) sin a.
 *   k2:       k(q) = d / Z * log(q / (1 - q)),  Z = 4 log(max(n / d, 1)) + 24:
 *             the odds grow by m = exp(Z / d): q_limit = q m / (1 - q + q m).
 *   default:  both limits at once (the smaller wins), k1 at 2.5 d and k2 at
 *             2 d: arcsine spacing in the body, log-odds spacing in the tails
 *             (k2 is the tighter one beyond q ~ 0.99). See out_max_for() for
 *             the resulting bound on the centroid count.
 *
 * In-place fold without a second block: the output is written ascending from
 * index 0 while the two input runs (main and temp) are read. The write index
 * is always below the next unread element of run A as long as A starts at or
 * after len(B), and likewise for B. So a fold copies temp to a stack buffer
 * (run B, at most TEMP_LIMIT entries) and moves main up to [n_temp, n_temp +
 * n_main) (run A); the block needs only n_main + n_temp entries. merge()
 * instead folds dst's and src's lists, each in its own block, into a stack
 * buffer and copies the result back: dst never holds both lists at once.
 */
#include "aggregate/tdigest.h"
#include "aggregate/tdigest_pack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define INIT_CAP 8u
#define GROW_STEP 16u
/* Entries merge() folds into on the stack (16 KB); out_max is 708 at the
 * default compression, larger compressions use the heap. */
#define MERGE_STACK 1024u
/* Spare entries a merge leaves in dst's block, so a series that receives a
 * merge per interval does not realloc on every one. */
#define MERGE_SLACK 32u

_Static_assert(sizeof(vn_tdigest_centroid_t) == 16, "centroids are two packed doubles");
_Static_assert(sizeof(vn_tdigest_t) <= 96, "vn_tdigest_t is embedded in every histogram series");
_Static_assert(VN_TDIGEST_MAX_CENTROIDS <= UINT16_MAX, "_out_max is a uint16_t");

/* ---- block entries: wide or compact ---- */

/* A wide digest's block is entries of vn_tdigest_centroid_t (double mean,
 * double weight), sorted ones then pending ones. A compact digest's block is
 * its sorted centroids packed (_plen bytes, tdigest_pack.h: exact for any
 * value) followed by pending entries of 10 bytes: the double mean and the
 * weight as a uint16_t. That is exact while every sample's weight is an
 * integer <= PENDING_MAX_W; the total is kept <= COMPACT_MAX_W so that
 * every centroid weight is an integer below 2^32 (a varint of at most 5
 * bytes: a packed entry stays under 16 bytes). A fold unpacks the sorted
 * centroids into a stack buffer, folds there as a wide digest does, and
 * packs the result back, so values are the same either way. A digest starts
 * compact and turns wide for good (widen()) before anything would break the
 * weight rule: a fractional or large weight, a merge of a wide digest. */
#define WIDE ((uint8_t)sizeof(vn_tdigest_centroid_t))
#define COMPACT ((uint8_t)10)
#define PENDING_MAX_W 65535.0
#define COMPACT_MAX_W 4294967295.0

static inline double ent_mean(const uint8_t *e)
{
    double m;
    memcpy(&m, e, sizeof m);
    return m;
}

static inline double ent_weight(const uint8_t *e, unsigned stride)
{
    if (stride == WIDE) {
        double w;
        memcpy(&w, e + 8, sizeof w);
        return w;
    }
    uint16_t w;
    memcpy(&w, e + 8, sizeof w);
    return w;
}

static inline vn_tdigest_centroid_t ent_get(const uint8_t *e, unsigned stride)
{
    return (vn_tdigest_centroid_t){ent_mean(e), ent_weight(e, stride)};
}

static inline void ent_put(uint8_t *e, unsigned stride, vn_tdigest_centroid_t c)
{
    memcpy(e, &c.mean, sizeof c.mean);
    if (stride == WIDE) {
        memcpy(e + 8, &c.weight, sizeof c.weight);
    } else {
        uint16_t w = (uint16_t)c.weight;
        memcpy(e + 8, &w, sizeof w);
    }
}

/* Whether a compact digest can take weight w on top of its total. */
static inline bool compact_ok(double total, double w)
{
    return total + w <= COMPACT_MAX_W && w <= PENDING_MAX_W && (double)(uint32_t)w == w;
}

/* ---- scale functions: per-pass constants and the closed-form limits ---- */

typedef struct scale_pass {
    double n, inv_n; /* total weight of the pass and its inverse */
    bool use_k1, use_k2;
    double cos_a, sin_a; /* k1: a = pi / d1 */
    double odds_m;       /* k2: exp(Z / d2) */
} scale_pass_t;

/* Internal compressions of the default scale, as multiples of the nominal
 * (wire) compression d. Chosen from the measurements in sketches.md: the
 * smallest pair that keeps the rank error of a 100-way merged 1e6-sample
 * stream below 1e-4 at q = 0.99 and 0.999 with margin. */
#ifndef DEFAULT_K1_MULT /* overridable only for tuning experiments */
#define DEFAULT_K1_MULT 2.5
#endif
#ifndef DEFAULT_K2_MULT
#define DEFAULT_K2_MULT 2.0
#endif

static void scale_params(double d, vn_tdigest_scale_t scale, double *d1, double *d2)
{
    *d1 = 0.0; /* 0: constraint not used */
    *d2 = 0.0;
    if (scale == VN_TDIGEST_SCALE_K1) {
        *d1 = d;
    } else {
        *d1 = d * DEFAULT_K1_MULT;
        *d2 = d * DEFAULT_K2_MULT;
    }
}

static void scale_pass_init(scale_pass_t *s, const vn_tdigest_t *td, double n)
{
    double d1, d2;
    scale_params(td->_compression, (vn_tdigest_scale_t)td->_scale, &d1, &d2);
    s->n = n;
    s->inv_n = 1.0 / n;
    s->use_k1 = d1 > 0.0;
    s->use_k2 = d2 > 0.0;
    if (s->use_k1) {
        s->cos_a = cos(M_PI / d1);
        s->sin_a = sin(M_PI / d1);
    }
    if (s->use_k2) {
        double z = 4.0 * log(fmax(n / d2, 1.0)) + 24.0;
        s->odds_m = exp(z / d2);
    }
}

/*
 * Limit of the open centroid, which starts at cumulative weight wl: the
 * centroid may grow while its right edge x satisfies x <= l1 and
 * x * den2 <= num2 (the k2 limit n q m / (1 - q + q m), kept as a fraction so
 * that the hot loop multiplies instead of dividing).
 */
typedef struct limit {
    double l1, num2, den2;
} limit_t;

static inline __attribute__((always_inline)) void limit_at(const scale_pass_t *s, double wl, limit_t *lim)
{
    double q = wl * s->inv_n;
    q = q < 0.0 ? 0.0 : (q > 1.0 ? 1.0 : q);
    lim->l1 = INFINITY;
    if (s->use_k1) {
        double u = 2.0 * q - 1.0; /* sin t */
        if (u < s->cos_a) {       /* else t + a passes pi/2: no k1 limit left */
            double v = 2.0 * sqrt(q * (1.0 - q)); /* cos t */
            lim->l1 = 0.5 * (1.0 + u * s->cos_a + v * s->sin_a) * s->n;
        }
    }
    lim->num2 = 1.0;
    lim->den2 = 0.0; /* x * 0 <= 1: no k2 limit */
    if (s->use_k2) {
        double qm = q * s->odds_m;
        lim->num2 = qm * s->n;
        lim->den2 = 1.0 - q + qm;
    }
}

static inline bool within(const limit_t *lim, double x) { return x <= lim->l1 && x * lim->den2 <= lim->num2; }

/* ---- sizing ---- */

/* Pending samples are sorted in a stack buffer of this many entries during a
 * fold, so no digest's temp buffer may be larger. */
#define TEMP_LIMIT 192u

/* Go's temp buffer size heuristic (estimateTempBuffer): 42 at compression
 * 100, at most 178. With k1 it makes us fold at the same points as Go, so we
 * reproduce its centroids. The default scale uses it too: buffering 2-3x
 * more samples made adds ~30% cheaper but raised the worst rank error at
 * q = 0.99 by half (sketches.md), and adds are already ~2x faster than Go's. */
static uint32_t temp_max_for(double d)
{
    double c = fmin(925.0, fmax(20.0, d));
    uint32_t t = (uint32_t)(7.5 + 0.37 * c - 2e-4 * c * c);
    return t < TEMP_LIMIT ? t : TEMP_LIMIT;
}

/* Centroid count a fold may produce before it stops splitting. Every pair of
 * neighbouring output centroids spans more than one unit of k1 or of k2, so
 * a fold yields at most 2 (K1 + K2) + 1 centroids, where K1 = d1 is k1's
 * whole range and K2, k2's range over [1/n, 1 - 1/n], stays below
 * d2 * max(1/2, ln(d2) / 12) for any n when weights are >= 1 (its supremum is
 * at n = d2 or n -> infinity). The cap only binds for weights far below 1;
 * the fold then stops splitting at the top end. */
static uint32_t out_max_for(double d, vn_tdigest_scale_t scale)
{
    double d1, d2;
    scale_params(d, scale, &d1, &d2);
    double k2 = d2 > 0.0 ? d2 * fmax(0.5, log(d2) / 12.0) : 0.0;
    double b = 2.0 * (d1 + k2) + 8.0;
    if (b > VN_TDIGEST_MAX_CENTROIDS)
        b = VN_TDIGEST_MAX_CENTROIDS;
    return (uint32_t)b;
}

size_t vn_tdigest_max_bytes(double compression)
{
    if (!(compression >= VN_TDIGEST_MIN_COMPRESSION && compression <= VN_TDIGEST_MAX_COMPRESSION))
        compression = VN_TDIGEST_DEFAULT_COMPRESSION;
    uint32_t n = out_max_for(compression, VN_TDIGEST_SCALE_DEFAULT) + temp_max_for(compression);
    return (size_t)n * sizeof(vn_tdigest_centroid_t);
}

/* Sets the block to `bytes` (realloc: contents kept up to the smaller size). */
static void set_cap(vn_tdigest_t *td, size_t bytes)
{
    td->_c = vn_xrealloc(td->_c, bytes);
    td->_cap = (uint32_t)bytes;
}

/* Reads all sorted centroids of a compact digest into out[0, _n_main). */
static void unpack_main(const vn_tdigest_t *td, vn_tdigest_centroid_t *out)
{
    vn_tdigest_pack_rd_t r;
    vn_tdigest_pack_rd_init(&r, td->_c, td->_plen);
    for (uint32_t i = 0; i < td->_n_main; i++)
        if (!vn_tdigest_pack_next(&r, &out[i]))
            out[i] = (vn_tdigest_centroid_t){0, 0}; /* unreachable: we packed these bytes */
}

/* Start of the pending entries. */
static inline uint8_t *temp_base(const vn_tdigest_t *td)
{
    return (uint8_t *)td->_c + (td->_stride == WIDE ? (size_t)td->_n_main * WIDE : td->_plen);
}

/* Makes the block wide (entries of 16 bytes), for good. */
static void widen(vn_tdigest_t *td)
{
    if (td->_stride == WIDE)
        return;
    vn_tdigest_centroid_t *c = NULL;
    uint32_t nm = td->_n_main, nt = td->_n_temp, cap = 0;
    if (td->_cap) {
        cap = nm + nt < INIT_CAP ? INIT_CAP : nm + nt;
        c = vn_xmalloc((size_t)cap * WIDE);
        unpack_main(td, c);
        const uint8_t *t = temp_base(td);
        for (uint32_t i = 0; i < nt; i++)
            c[nm + i] = ent_get(t + (size_t)i * COMPACT, COMPACT);
    }
    free(td->_c);
    td->_c = c;
    td->_cap = cap * WIDE;
    td->_plen = 0;
    td->_stride = WIDE;
}

/* After a fold of a wide digest: a merge or a decode may have left the
 * block above the steady size; give the excess back once the centroids fit
 * again. */
static void maybe_shrink(vn_tdigest_t *td)
{
    uint32_t steady = ((uint32_t)td->_out_max + td->_temp_max) * WIDE;
    if (td->_cap > steady && (td->_n_main + td->_n_temp) * WIDE <= steady)
        set_cap(td, steady);
}

/* Makes room for `need` entries of the digest's stride: all of them for a
 * wide digest, the pending ones (after the packed bytes) for a compact one. */
static void ensure_cap(vn_tdigest_t *td, uint32_t need)
{
    unsigned st = td->_stride;
    uint32_t base = st == WIDE ? 0 : td->_plen;
    uint32_t have = td->_cap > base ? (td->_cap - base) / st : 0;
    if (need <= have)
        return;
    /* 1.5x while small, then steps of GROW_STEP: the block settles within
     * GROW_STEP entries of the real need (~23 reallocs up to 1000 samples,
     * none after) instead of overshooting it by up to 64 */
    uint32_t cap = have < INIT_CAP ? INIT_CAP : have;
    while (cap < need)
        cap = cap < 64 ? cap + cap / 2 : cap + GROW_STEP;
    uint32_t steady = st == WIDE ? (uint32_t)td->_out_max + td->_temp_max : td->_temp_max;
    if (cap > steady && need <= steady)
        cap = steady;
    set_cap(td, base + (size_t)cap * st);
}

/* ---- lifecycle ---- */

vn_err_t vn_tdigest_init_scale(vn_tdigest_t *td, double compression, vn_tdigest_scale_t scale)
{
    vn_err_t err = VN_OK;
    memset(td, 0, sizeof(*td));
    if (!(compression >= VN_TDIGEST_MIN_COMPRESSION && compression <= VN_TDIGEST_MAX_COMPRESSION)) {
        compression = VN_TDIGEST_DEFAULT_COMPRESSION;
        err = VN_ERR_CONFIG;
    }
    if ((unsigned)scale >= VN_TDIGEST_SCALE__COUNT) {
        scale = VN_TDIGEST_SCALE_DEFAULT;
        err = VN_ERR_CONFIG;
    }
    td->_compression = compression;
    td->_scale = (uint8_t)scale;
    td->_min = INFINITY;
    td->_max = -INFINITY;
    td->_temp_max = temp_max_for(compression);
    td->_out_max = out_max_for(compression, scale);
    td->_stride = COMPACT;
    return err;
}

vn_err_t vn_tdigest_init(vn_tdigest_t *td, double compression)
{
    return vn_tdigest_init_scale(td, compression, VN_TDIGEST_SCALE_DEFAULT);
}

void vn_tdigest_destroy(vn_tdigest_t *td)
{
    if (!td)
        return;
    free(td->_c);
    td->_c = NULL;
    td->_cap = td->_n_main = td->_n_temp = 0;
}

/* ---- sorting pending samples by mean ---- */

/*
 * Bottom-up merge sort of a[0,n) using tmp[0,n). Samples arrive in random
 * order, so a quicksort spends most of its time on mispredicted branches;
 * these merges pick each element with a conditional move instead. Stable.
 */
static void sort_centroids(vn_tdigest_centroid_t *a, size_t n, vn_tdigest_centroid_t *tmp)
{
    /* runs of 4 by insertion sort */
    for (size_t lo = 0; lo < n; lo += 4) {
        size_t hi = lo + 4 < n ? lo + 4 : n;
        for (size_t i = lo + 1; i < hi; i++) {
            vn_tdigest_centroid_t t = a[i];
            size_t j = i;
            while (j > lo && a[j - 1].mean > t.mean) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = t;
        }
    }
    vn_tdigest_centroid_t *src = a, *dst = tmp;
    for (size_t width = 4; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                bool take_j = src[j].mean < src[i].mean;
                dst[k++] = src[take_j ? j : i];
                j += take_j;
                i += !take_j;
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        vn_tdigest_centroid_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(*a));
}

/* ---- the fold pass ---- */

/* Folds `in` into the open centroid `cur` (Welford: weight first, then mean). */
static void absorb(vn_tdigest_centroid_t *cur, const vn_tdigest_centroid_t *in)
{
    double w = cur->weight + in->weight;
    double delta = in->mean - cur->mean;
    if (isfinite(delta))
        cur->mean += delta * in->weight / w;
    else /* means of opposite huge signs: avoid Inf - Inf */
        cur->mean = cur->mean * (cur->weight / w) + in->mean * (in->weight / w);
    cur->weight = w;
}

/* Run A of a fold: wide entries, or a compact digest's packed centroids
 * read as the fold goes (no unpacked copy). */
typedef struct run_a {
    const vn_tdigest_centroid_t *w;
    vn_tdigest_pack_rd_t rd;
    size_t left;
} run_a_t;

static inline __attribute__((always_inline)) bool run_a_next(run_a_t *r, bool packed, vn_tdigest_centroid_t *c)
{
    if (r->left == 0)
        return false;
    r->left--;
    if (!packed) {
        *c = *r->w++;
        return true;
    }
    vn_tdigest_pack_next_own(&r->rd, c);
    return true;
}

/*
 * Merges sorted runs A (na entries) and b[0,nb) (total weight n) into the
 * output from its start (at most td->_out_max centroids), compressing as it
 * goes. The output is wide entries at out, or, when out_packed, packed
 * bytes at out (room for _out_max * VN_TDIGEST_PACK_MAX_INT +
 * VN_TDIGEST_PACK_SLACK; *out_len is set). Wide runs may share memory with
 * a wide output only as described in the top comment. Sets _n_main and
 * _main_w (recomputed as the sequential sum of the output weights, which is
 * what quantile() walks). The packed variants do the same arithmetic on the
 * same values (unpacking and packing are exact).
 */
static inline __attribute__((always_inline)) void fold_impl(vn_tdigest_t *td, void *out, size_t *out_len,
                                                            bool out_packed, run_a_t *ra, bool a_packed,
                                                            const vn_tdigest_centroid_t *b, size_t nb, double n)
{
    scale_pass_t s;
    scale_pass_init(&s, td, n);
    size_t ib = 0, no = 0;
    size_t out_max = td->_out_max;
    if (out_max < 1)
        out_max = 1;
    vn_tdigest_centroid_t cur = {0, 0}, ahead = {0, 0};
    bool has_a = run_a_next(ra, a_packed, &ahead);
    double so_far = 0.0, total = 0.0;
    limit_t limit;
    bool open = false;
    vn_tdigest_centroid_t *ow = out;
    uint8_t *op = out;
    uint64_t prev_key = 0;

    while (has_a || ib < nb) {
        /* equal means: take b (the newer data) first, as Go does */
        vn_tdigest_centroid_t next;
        if (ib >= nb || (has_a && ahead.mean < b[ib].mean)) {
            next = ahead;
            has_a = run_a_next(ra, a_packed, &ahead);
        } else {
            next = b[ib++];
        }
        if (!open) {
            cur = next;
            limit_at(&s, 0.0, &limit);
            so_far = next.weight;
            open = true;
            continue;
        }
        if (within(&limit, so_far + next.weight) || no + 1 >= out_max) {
            absorb(&cur, &next);
        } else {
            if (out_packed)
                op = vn_tdigest_pack_put(op, &prev_key, cur.mean, cur.weight);
            else
                ow[no] = cur;
            no++;
            total += cur.weight;
            limit_at(&s, so_far, &limit);
            cur = next;
        }
        so_far += next.weight;
    }
    if (open) {
        if (out_packed)
            op = vn_tdigest_pack_put(op, &prev_key, cur.mean, cur.weight);
        else
            ow[no] = cur;
        no++;
        total += cur.weight;
    }
    if (out_packed)
        *out_len = (size_t)(op - (uint8_t *)out);
    td->_n_main = (uint32_t)no;
    td->_main_w = total;
}

/* Wide runs into a wide output (wide compress, the global's merge). */
static void fold(vn_tdigest_t *td, vn_tdigest_centroid_t *out, const vn_tdigest_centroid_t *a, size_t na,
                 const vn_tdigest_centroid_t *b, size_t nb, double n)
{
    run_a_t ra = {.w = a, .left = na};
    fold_impl(td, out, NULL, false, &ra, false, b, nb, n);
}

/* A compact digest's packed centroids (run A) and wide b into packed bytes;
 * returns their length. */
static size_t fold_packed(vn_tdigest_t *td, uint8_t *out, const vn_tdigest_t *a, const vn_tdigest_centroid_t *b,
                          size_t nb, double n)
{
    run_a_t ra = {.left = a->_n_main};
    vn_tdigest_pack_rd_init(&ra.rd, a->_c, a->_plen);
    size_t len = 0;
    fold_impl(td, out, &len, true, &ra, true, b, nb, n);
    return len;
}

/* Bytes of a packed fold output (compact weights: integers < 2^32). */
static size_t packed_out_bytes(const vn_tdigest_t *td)
{
    return (size_t)td->_out_max * VN_TDIGEST_PACK_MAX_INT + VN_TDIGEST_PACK_SLACK;
}

/* Makes packed[0, len) td's sorted centroids (no pending ones), with room
 * for `pending` entries. The block is kept while it is within 64 bytes
 * above what is needed. */
static void install_packed(vn_tdigest_t *td, const uint8_t *packed, size_t len, uint32_t pending)
{
    size_t room = (size_t)pending * COMPACT;
    size_t need = len + (room > VN_TDIGEST_PACK_SLACK ? room : VN_TDIGEST_PACK_SLACK);
    size_t want = (need + 63) & ~(size_t)63;
    if (td->_cap < need || td->_cap > want)
        set_cap(td, want);
    memcpy(td->_c, packed, len);
    td->_plen = (uint32_t)len;
}

/* Fold of a compact digest: read packed, fold, written packed to a stack
 * buffer and copied back. */
static void compress_packed(vn_tdigest_t *td, const vn_tdigest_centroid_t *temp, uint32_t nt, double n)
{
    vn_tdigest_centroid_t stack[MERGE_STACK];
    size_t need = packed_out_bytes(td);
    uint8_t *buf = need <= sizeof stack ? (uint8_t *)stack : vn_xmalloc(need);
    size_t len = fold_packed(td, buf, td, temp, nt, n);
    /* room for the samples up to the next fold, so that adds do not
     * realloc; a small digest, for which that room would be most of its
     * block, gets less and grows it (ensure_cap) if more samples come */
    uint32_t pending = td->_n_main / 2 + 8;
    install_packed(td, buf, len, pending < td->_temp_max ? pending : td->_temp_max);
    if (buf != (uint8_t *)stack)
        free(buf);
}

void vn_tdigest_compress(vn_tdigest_t *td)
{
    uint32_t nt = td->_n_temp, nm = td->_n_main;
    if (nt == 0)
        return;
    unsigned st = td->_stride;
    double n = td->_main_w + td->_temp_w;
    /* temp (at most TEMP_LIMIT entries) is sorted on the stack, as wide
     * entries */
    vn_tdigest_centroid_t scratch[TEMP_LIMIT], sort_tmp[TEMP_LIMIT];
    const uint8_t *t = temp_base(td);
    for (uint32_t i = 0; i < nt; i++)
        scratch[i] = ent_get(t + (size_t)i * st, st);
    sort_centroids(scratch, nt, sort_tmp);
    if (st == WIDE) {
        /* main moves up by nt: see the in-place rule in the top comment */
        vn_tdigest_centroid_t *c = td->_c;
        memmove(c + nt, c, (size_t)nm * sizeof(*c));
        fold(td, c, c + nt, nm, scratch, nt, n);
    } else {
        compress_packed(td, scratch, nt, n);
    }
    td->_n_temp = 0;
    td->_temp_w = 0.0;
    if (st == WIDE)
        maybe_shrink(td);
}

/* ---- adding and merging ---- */

static void sum_add(vn_tdigest_t *td, double v)
{
    /* Neumaier's compensated summation */
    double t = td->_sum + v;
    if (fabs(td->_sum) >= fabs(v))
        td->_sum_c += (td->_sum - t) + v;
    else
        td->_sum_c += (v - t) + td->_sum;
    td->_sum = t;
}

vn_err_t vn_tdigest_add(vn_tdigest_t *td, double x, double w)
{
    if (!isfinite(x) || !isfinite(w) || !(w > 0.0))
        return VN_ERR_PARSE;
    if (!isfinite(td->_main_w + td->_temp_w + w))
        return VN_ERR_TOO_LARGE;
    if (td->_stride == COMPACT && !compact_ok(td->_main_w + td->_temp_w, w))
        widen(td);
    if (td->_n_temp >= td->_temp_max)
        vn_tdigest_compress(td);
    ensure_cap(td, (td->_stride == WIDE ? td->_n_main : 0) + td->_n_temp + 1);
    ent_put(temp_base(td) + (size_t)td->_n_temp * td->_stride, td->_stride, (vn_tdigest_centroid_t){x, w});
    td->_n_temp++;
    td->_temp_w += w;
    if (x < td->_min)
        td->_min = x;
    if (x > td->_max)
        td->_max = x;
    td->_rsum += (1.0 / x) * w; /* Go's expression: x = 0 gives +Inf */
    sum_add(td, x * w);
    return VN_OK;
}

vn_err_t vn_tdigest_merge(vn_tdigest_t *dst, vn_tdigest_t *src)
{
    if (dst == src)
        return VN_ERR_PARSE;
    vn_tdigest_compress(src);
    if (src->_n_main == 0) {
        dst->_rsum += src->_rsum;
        return VN_OK;
    }
    double n = dst->_main_w + dst->_temp_w + src->_main_w;
    if (!isfinite(n))
        return VN_ERR_TOO_LARGE;
    vn_tdigest_compress(dst);
    /* both compact: every weight is an integer, only the total can break the rule */
    bool packed = dst->_stride == COMPACT && src->_stride == COMPACT && dst->_main_w + src->_main_w <= COMPACT_MAX_W;
    if (dst->_stride == COMPACT && !packed)
        widen(dst);
    /* fold both lists into a stack buffer and copy the result back, so that
     * dst's block never has to hold nm + ns entries (a series that receives
     * merges used to keep that peak, ~11 KB, for good). A compact input is
     * unpacked first (on the heap: the global's imports are decoded, wide
     * digests, so this is not its path). */
    uint32_t na = dst->_n_main, nb = src->_n_main;
    vn_tdigest_centroid_t *unpacked = NULL;
    const vn_tdigest_centroid_t *b = src->_c;
    if (src->_stride == COMPACT) {
        unpacked = vn_xmalloc((size_t)nb * sizeof(*unpacked));
        unpack_main(src, unpacked);
        b = unpacked;
    }
    vn_tdigest_centroid_t stack[MERGE_STACK];
    size_t out_bytes = packed ? packed_out_bytes(dst) : (size_t)dst->_out_max * sizeof(*stack);
    vn_tdigest_centroid_t *out = out_bytes <= sizeof stack ? stack : vn_xmalloc(out_bytes);
    size_t len = 0;
    if (packed)
        len = fold_packed(dst, (uint8_t *)out, dst, b, nb, n);
    else
        fold(dst, out, dst->_c, na, b, nb, n);
    free(unpacked);
    uint32_t no = dst->_n_main;
    if (packed) {
        install_packed(dst, (const uint8_t *)out, len, 0); /* merges, not adds, come next */
    } else {
        if (dst->_cap < no * WIDE)
            ensure_cap(dst, no);
        else if (dst->_cap > (no + MERGE_SLACK + GROW_STEP) * WIDE)
            set_cap(dst, (size_t)(no + MERGE_SLACK) * WIDE); /* room for the next merge's growth */
        memcpy(dst->_c, out, (size_t)no * sizeof(*out));
    }
    if (out != stack)
        free(out);

    if (src->_min < dst->_min)
        dst->_min = src->_min;
    if (src->_max > dst->_max)
        dst->_max = src->_max;
    dst->_rsum += src->_rsum;
    sum_add(dst, src->_sum);
    sum_add(dst, src->_sum_c);
    return VN_OK;
}

double vn_tdigest_count(const vn_tdigest_t *td) { return td->_main_w + td->_temp_w; }
double vn_tdigest_sum(const vn_tdigest_t *td) { return td->_sum + td->_sum_c; }
double vn_tdigest_min(const vn_tdigest_t *td) { return td->_min; }
double vn_tdigest_max(const vn_tdigest_t *td) { return td->_max; }
double vn_tdigest_reciprocal_sum(const vn_tdigest_t *td) { return td->_rsum; }
double vn_tdigest_compression(const vn_tdigest_t *td) { return td->_compression; }

size_t vn_tdigest_centroid_count(vn_tdigest_t *td)
{
    vn_tdigest_compress(td);
    return td->_n_main;
}

const vn_tdigest_centroid_t *vn_tdigest_centroids(vn_tdigest_t *td, size_t *n)
{
    vn_tdigest_compress(td);
    widen(td);
    *n = td->_n_main;
    return td->_n_main ? td->_c : NULL;
}


size_t vn_tdigest_memory(const vn_tdigest_t *td) { return td->_cap; }
