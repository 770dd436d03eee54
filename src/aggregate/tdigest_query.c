/*
 * tdigest_query.c - reading a t-digest: quantile and cdf as Go interpolates
 * them (docs/behaviour.md W2.1), the one-sample shortcut, and the in-order
 * iterator over the sorted centroids of either layout (wide entries or the
 * packed resting form, tdigest_pack.h). The state and its folds are in
 * tdigest.c.
 */
#include "aggregate/tdigest.h"
#include "aggregate/tdigest_pack.h"

#include <math.h>
#include <string.h>

#define WIDE ((uint8_t)sizeof(vn_tdigest_centroid_t))

/* ---- queries (docs/behaviour.md W2.1 interpolation) ---- */

static double midpoint(double a, double b)
{
    /* (a + b) / 2 without overflow; identical to it for normal numbers */
    return a * 0.5 + b * 0.5;
}

/* lo + t (hi - lo), Go's expression, kept inside [lo, hi]: rounding could
 * put it an ulp above hi, making quantiles step back at a centroid border. */
static double lerp(double lo, double hi, double t)
{
    double span = hi - lo;
    double r = isfinite(span) ? lo + t * span : lo * (1.0 - t) + hi * t;
    return r > hi ? hi : (r < lo ? lo : r);
}

/* ---- reading the sorted centroids in order, either layout ---- */

void vn_tdigest_iter_init(const vn_tdigest_t *td, vn_tdigest_iter_t *it)
{
    it->_p = td->_c;
    it->_end = td->_stride == WIDE || !td->_plen ? it->_p : it->_p + td->_plen; /* no NULL + 0 */
    it->_key = 0;
    it->_left = td->_n_main;
    it->_stride = td->_stride;
}

static inline __attribute__((always_inline)) bool iter_step(vn_tdigest_iter_t *it, vn_tdigest_centroid_t *c)
{
    if (it->_left == 0)
        return false;
    it->_left--;
    if (it->_stride == WIDE) {
        memcpy(c, it->_p, sizeof(*c));
        it->_p += sizeof(*c);
        return true;
    }
    vn_tdigest_pack_rd_t r = {it->_p, it->_end, it->_key};
    if (!vn_tdigest_pack_next(&r, c)) { /* unreachable: we packed these bytes */
        it->_left = 0;
        return false;
    }
    it->_p = r.p;
    it->_key = r.key;
    return true;
}

bool vn_tdigest_iter_next(vn_tdigest_iter_t *it, vn_tdigest_centroid_t *c) { return iter_step(it, c); }

double vn_tdigest_quantile(vn_tdigest_t *td, double q)
{
    if (!(q >= 0.0 && q <= 1.0))
        return NAN;
    vn_tdigest_compress(td);
    uint32_t n = td->_n_main;
    if (n == 0)
        return NAN;
    if (q == 1.0) /* Go's formula gives max up to an ulp */
        return td->_max;
    vn_tdigest_iter_t it;
    vn_tdigest_iter_init(td, &it);
    vn_tdigest_centroid_t c = {0, 0}, next = {0, 0};
    (void)iter_step(&it, &c);
    double target = q * td->_main_w;
    double so_far = 0.0, lower = td->_min;
    for (uint32_t i = 0; i < n; i++, c = next) {
        bool more = i + 1 < n && iter_step(&it, &next);
        double upper = more ? midpoint(c.mean, next.mean) : td->_max;
        double w = c.weight;
        if (target <= so_far + w)
            return lerp(lower, upper, (target - so_far) / w);
        so_far += w;
        lower = upper;
    }
    return td->_max; /* only reachable through rounding in the weight sums */
}

bool vn_tdigest_single(const vn_tdigest_t *td, double *x)
{
    /* One centroid: quantile() is lerp(min, max, t) with t in [0, 1], so x
     * exactly when min == max; q == 1 returns max. A pending sample folds
     * into one centroid of its own (positive) weight. */
    bool one = (td->_n_main == 0 && td->_n_temp == 1 && td->_temp_w > 0) ||
               (td->_n_main == 1 && td->_n_temp == 0 && td->_main_w > 0 && isfinite(td->_main_w));
    if (!one || td->_min != td->_max || !isfinite(td->_min))
        return false;
    *x = td->_min;
    return true;
}

double vn_tdigest_cdf(vn_tdigest_t *td, double x)
{
    if (isnan(x))
        return NAN;
    vn_tdigest_compress(td);
    uint32_t n = td->_n_main;
    if (n == 0)
        return NAN;
    if (x <= td->_min)
        return 0.0;
    if (x >= td->_max)
        return 1.0;
    vn_tdigest_iter_t it;
    vn_tdigest_iter_init(td, &it);
    vn_tdigest_centroid_t c = {0, 0}, next = {0, 0};
    (void)iter_step(&it, &c);
    double so_far = 0.0, lower = td->_min;
    for (uint32_t i = 0; i < n; i++, c = next) {
        bool more = i + 1 < n && iter_step(&it, &next);
        double upper = more ? midpoint(c.mean, next.mean) : td->_max;
        double w = c.weight;
        if (x < upper) {
            /* Go's expression; it can overflow for huge weights or spans */
            double part = w * (x - lower) / (upper - lower);
            if (!isfinite(part))
                part = w * ((x * 0.5 - lower * 0.5) / (upper * 0.5 - lower * 0.5));
            double r = (so_far + part) / td->_main_w;
            return r > 1.0 ? 1.0 : r;
        }
        so_far += w;
        lower = upper;
    }
    return 1.0;
}
