/* samplers.c - histogram/timer flush rules and status checks (docs/behaviour.md 2.4, 2.5, 0.4). */
#include "aggregate/samplers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metric.h"
#include "core/xalloc.h"

#define VN_DIGEST_COMPRESSION 100.0

void vn_histo_init(vn_histo_t *h)
{
    memset(h, 0, sizeof *h);
    vn_tdigest_init(&h->digest, VN_DIGEST_COMPRESSION);
    h->local_min = INFINITY;
    h->local_max = -INFINITY;
}

void vn_histo_destroy(vn_histo_t *h) { vn_tdigest_destroy(&h->digest); }

void vn_histo_sample(vn_histo_t *h, double v, double rate)
{
    double w = 1.0 / rate; /* double, not Go's float32 (docs/behaviour.md 0.2) */
    if (!isfinite(v) || !(w > 0) || !isfinite(w))
        return;
    if (vn_tdigest_add(&h->digest, v, w) != VN_OK)
        return;
    h->local_weight += w;
    if (v < h->local_min)
        h->local_min = v;
    if (v > h->local_max)
        h->local_max = v;
    h->local_sum += v * w;
    h->local_recip_sum += w / v; /* v == 0 gives +Inf, as Go */
}

/* vn_tdigest_quantile(d, q) when vn_tdigest_single(d, &one) (see there). */
static double quantile(vn_tdigest_t *d, bool single, double one, double q)
{
    if (!single || !(q >= 0.0 && q <= 1.0))
        return vn_tdigest_quantile(d, q);
    return q == 1.0 ? one : one + 0.0;
}

size_t vn_histo_flush(vn_histo_t *h, unsigned agg, const double *pct, const char *const *pct_names, size_t npct,
                      bool global, vn_histo_out_t *out)
{
    size_t n = 0;
    vn_tdigest_t *d = &h->digest;
    /* A series that saw one value (most of them, at high cardinality): each
     * quantile is that value, without the digest's sort and fold. */
    double one;
    bool single = vn_tdigest_single(d, &one);
    if ((agg & VN_AGG_MAX) && (global || (h->local_max != INFINITY && h->local_max != -INFINITY)))
        out[n++] = (vn_histo_out_t){".max", global ? vn_tdigest_max(d) : h->local_max, false};
    if ((agg & VN_AGG_MIN) && (global || (h->local_min != INFINITY && h->local_min != -INFINITY)))
        out[n++] = (vn_histo_out_t){".min", global ? vn_tdigest_min(d) : h->local_min, false};
    if ((agg & VN_AGG_SUM) && (global || h->local_sum != 0))
        out[n++] = (vn_histo_out_t){".sum", global ? vn_tdigest_sum(d) : h->local_sum, false};
    if ((agg & VN_AGG_AVG) && (global || (h->local_sum != 0 && h->local_weight != 0)))
        out[n++] = (vn_histo_out_t){".avg", global ? vn_tdigest_sum(d) / vn_tdigest_count(d)
                                                   : h->local_sum / h->local_weight, false};
    if ((agg & VN_AGG_COUNT) && (global || h->local_weight != 0))
        out[n++] = (vn_histo_out_t){".count", global ? vn_tdigest_count(d) : h->local_weight, true};
    if (agg & VN_AGG_MEDIAN)
        out[n++] = (vn_histo_out_t){".median", quantile(d, single, one, 0.5), false};
    if ((agg & VN_AGG_HMEAN) && (global || (h->local_recip_sum != 0 && h->local_weight != 0)))
        out[n++] = (vn_histo_out_t){".hmean", global ? vn_tdigest_count(d) / vn_tdigest_reciprocal_sum(d)
                                                     : h->local_weight / h->local_recip_sum, false};
    for (size_t i = 0; i < npct; i++)
        out[n++] = (vn_histo_out_t){pct_names[i], quantile(d, single, one, pct[i]), false};
    return n;
}

const char *vn_percentile_suffix(double p, char *buf, size_t cap)
{
    double x = p * 100.0;
    double r = nearbyint(x);
    if (fabs(x - r) < 1e-9 * (fabs(x) > 1 ? fabs(x) : 1)) {
        snprintf(buf, cap, ".%.0fpercentile", r);
        return buf;
    }
    /* Shortest decimal of p*100 that round-trips, '.' replaced by '_'. */
    char num[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, x);
        if (strtod(num, NULL) == x || prec == 17)
            break;
    }
    /* p*100 rounding noise (0.999*100 = 99.89999999999999): prefer the shortest form within 1e-9. */
    for (int prec = 1; prec <= 15; prec++) {
        char t[64];
        snprintf(t, sizeof t, "%.*g", prec, x);
        if (fabs(strtod(t, NULL) - x) <= 1e-9 * fabs(x)) {
            memcpy(num, t, sizeof t);
            break;
        }
    }
    for (char *c = num; *c; c++)
        if (*c == '.')
            *c = '_';
    snprintf(buf, cap, ".%spercentile", num);
    return buf;
}

void vn_status_set(vn_status_t *s, double value, const char *host, size_t host_len, const char *msg, size_t msg_len)
{
    s->value = value;
    free(s->message);
    free(s->hostname);
    s->message = msg_len ? vn_xstrndup(msg, msg_len) : NULL;
    s->hostname = host_len ? vn_xstrndup(host, host_len) : NULL;
}

size_t vn_status_bytes(const vn_status_t *s)
{
    return (s->message ? strlen(s->message) : 0) + (s->hostname ? strlen(s->hostname) : 0);
}

void vn_status_destroy(vn_status_t *s)
{
    free(s->message);
    free(s->hostname);
    s->message = s->hostname = NULL;
}
