/*
 * convert.c - OTLP metric data points to veneur samples (see convert.h).
 */
#include "otlp/convert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "core/xalloc.h"
#include "otlp_metrics_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest pb_req_t;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric_t;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_ndp_t;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_hdp_t;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint pb_edp_t;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets pb_ebuckets_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_t;

#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
/* DataPointFlags.FLAG_NO_RECORDED_VALUE: a point that only marks a gap */
#define NO_RECORDED_VALUE 1u

struct vn_otlp_cum {
    uint64_t key; /* 0 = empty slot (a real key of 0 is remapped to 1) */
    uint64_t start_ns;
    double last;
};

void vn_otlp_conv_init(vn_otlp_conv_t *cv, const vn_parser_t *parser, size_t max_cumulative, vn_otlp_emit_fn emit,
                       void *ctx)
{
    memset(cv, 0, sizeof *cv);
    cv->parser = parser;
    cv->emit = emit;
    cv->ctx = ctx;
    cv->_max = max_cumulative ? max_cumulative : VN_OTLP_DEFAULT_MAX_CUMULATIVE;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cv->started_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vn_otlp_conv_destroy(vn_otlp_conv_t *cv)
{
    free(cv->_cum);
    cv->_cum = NULL;
    cv->_cap = cv->_n = 0;
}

/* ------------------------------------------------------------ cumulative store */

static vn_otlp_cum_t *cum_slot(vn_otlp_cum_t *t, size_t cap, uint64_t key)
{
    size_t i = (size_t)key & (cap - 1);
    while (t[i].key && t[i].key != key)
        i = (i + 1) & (cap - 1);
    return &t[i];
}

/* The entry for key, inserted when new (NULL when the table is full); *fresh says which. */
static vn_otlp_cum_t *cum_get(vn_otlp_conv_t *cv, uint64_t key, bool *fresh)
{
    key = key ? key : 1;
    *fresh = false;
    if (cv->_cap) {
        vn_otlp_cum_t *e = cum_slot(cv->_cum, cv->_cap, key);
        if (e->key)
            return e;
    }
    if (cv->_n >= cv->_max)
        return NULL;
    if ((cv->_n + 1) * 4 > cv->_cap * 3) { /* keep the load under 3/4 */
        size_t ncap = cv->_cap ? cv->_cap * 2 : 64;
        vn_otlp_cum_t *nt = vn_xcalloc(ncap, sizeof *nt);
        for (size_t i = 0; i < cv->_cap; i++)
            if (cv->_cum[i].key)
                *cum_slot(nt, ncap, cv->_cum[i].key) = cv->_cum[i];
        free(cv->_cum);
        cv->_cum = nt;
        cv->_cap = ncap;
    }
    vn_otlp_cum_t *e = cum_slot(cv->_cum, cv->_cap, key);
    e->key = key;
    cv->_n++;
    *fresh = true;
    return e;
}

/*
 * What a cumulative point adds since the last one of its series: true with
 * *delta, false when there is nothing to count (baseline, no change, table
 * full: the latter two counted by the caller through *full).
 */
static bool cum_delta(vn_otlp_conv_t *cv, uint64_t key, uint64_t start_ns, double value, bool monotonic,
                      double *delta, bool *full)
{
    bool fresh;
    *full = false;
    vn_otlp_cum_t *e = cum_get(cv, key, &fresh);
    if (!e) {
        *full = true;
        return false;
    }
    if (fresh) {
        e->start_ns = start_ns;
        e->last = value;
        if (start_ns == 0 || start_ns < cv->started_ns) {
            cv->c.baseline++;
            return false;
        }
        *delta = value;
        return true;
    }
    bool reset = start_ns != e->start_ns || (monotonic && value < e->last);
    *delta = reset ? value : value - e->last;
    e->start_ns = start_ns;
    e->last = value;
    return true;
}

/* ------------------------------------------------------------ tags */

static int str_cmp(const void *a, const void *b)
{
    return vn_str_cmp(*(const vn_str_t *)a, *(const vn_str_t *)b);
}

/* Appends s[0..n) to the scratch with ',' and control bytes replaced (the series key's separators). */
static bool put(vn_otlp_conv_t *cv, size_t *used, const char *s, size_t n)
{
    if (n > sizeof cv->_scratch - *used)
        return false;
    char *d = cv->_scratch + *used;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        d[i] = (c < 0x20 || c == ',' || c == 0x7f) ? '_' : (char)c;
    }
    *used += n;
    return true;
}

/* The text of a scalar attribute value into buf; false for arrays, maps, bytes and unset values. */
static bool any_text(const pb_any_t *a, const char **s, size_t *n, char *buf, size_t cap)
{
    if (!a)
        return false;
    int k;
    switch (a->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        *s = a->string_value ? a->string_value : "";
        *n = strlen(*s);
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        *s = a->bool_value ? "true" : "false";
        *n = strlen(*s);
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        k = snprintf(buf, cap, "%lld", (long long)a->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        k = snprintf(buf, cap, "%.17g", a->double_value);
        break;
    default:
        return false;
    }
    if (k < 0 || (size_t)k >= cap)
        return false;
    *s = buf;
    *n = (size_t)k;
    return true;
}

/* One "k:v" (or "k" when v is empty) tag; false when it does not fit. */
static bool add_tag(vn_otlp_conv_t *cv, size_t *used, size_t *nt, const char *k, size_t kl, const char *v, size_t vl)
{
    if (*nt >= VN_PARSE_MAX_TAGS)
        return false;
    size_t start = *used;
    if (!put(cv, used, k, kl) || (vl && (!put(cv, used, ":", 1) || !put(cv, used, v, vl))))
        return false;
    cv->_tags[(*nt)++] = (vn_str_t){cv->_scratch + start, *used - start};
    return true;
}

/* The final tags of one data point; false when they cannot be carried (too many, too long). */
static bool build_tags(vn_otlp_conv_t *cv, const char *host, pb_kv_t *const *attrs, size_t nattrs,
                       vn_scope_t *scope, size_t *ntags)
{
    size_t used = 0, nt = 0;
    char num[40];
    *scope = VN_SCOPE_MIXED;
    bool host_set = false;
    for (size_t i = 0; i < nattrs; i++) {
        const pb_kv_t *kv = attrs[i];
        const char *k = kv && kv->key ? kv->key : "", *v;
        size_t kl = strlen(k), vl;
        if (!kl || !any_text(kv->value, &v, &vl, num, sizeof num))
            continue;
        if (strcmp(k, "veneurlocalonly") == 0) {
            *scope = VN_SCOPE_LOCAL;
            continue;
        }
        if (strcmp(k, "veneurglobalonly") == 0) {
            *scope = VN_SCOPE_GLOBAL;
            continue;
        }
        if (vn_parser_implicit_key(cv->parser, k, kl))
            continue;
        host_set = host_set || strcmp(k, "host") == 0;
        if (!add_tag(cv, &used, &nt, k, kl, v, vl))
            return false;
    }
    /* a point's own host attribute wins over the resource's host.name */
    if (host && *host && !host_set && !vn_parser_implicit_key(cv->parser, "host", 4) &&
        !add_tag(cv, &used, &nt, "host", 4, host, strlen(host)))
        return false;
    for (size_t i = 0; cv->parser && i < cv->parser->n_implicit; i++) {
        if (!cv->parser->implicit_tags[i].len)
            continue;
        if (nt >= VN_PARSE_MAX_TAGS)
            return false;
        cv->_tags[nt++] = cv->parser->implicit_tags[i];
    }
    qsort(cv->_tags, nt, sizeof cv->_tags[0], str_cmp);
    *ntags = nt;
    return true;
}

static uint64_t series_key(const char *name, unsigned kind, const vn_str_t *tags, size_t n)
{
    uint64_t h = XXH3_64bits_withSeed(name, strlen(name), kind);
    for (size_t i = 0; i < n; i++)
        h = XXH3_64bits_withSeed(tags[i].p, tags[i].len, h);
    return h;
}

static uint64_t bucket_key(uint64_t series, int64_t idx)
{
    return XXH3_64bits_withSeed(&idx, sizeof idx, series);
}

/* ------------------------------------------------------------ data points */

typedef struct point_ctx {
    const char *name;
    vn_str_t vname;
    vn_scope_t scope;
    size_t ntags;
} point_ctx_t;

static void emit(vn_otlp_conv_t *cv, const point_ctx_t *p, vn_mtype_t type, double value, double rate)
{
    cv->c.samples++;
    if (cv->emit)
        cv->emit(cv->ctx, p->vname, type, p->scope, value, rate, cv->_tags, p->ntags);
}

static bool number_value(const pb_ndp_t *d, double *v)
{
    if (d->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
        *v = d->as_double;
    else if (d->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
        *v = (double)d->as_int;
    else
        return false;
    return isfinite(*v);
}

/* count samples of value v (weight count); the rate of a weight is its reciprocal */
static void weighted(vn_otlp_conv_t *cv, const point_ctx_t *p, double v, double count)
{
    if (count > 0 && isfinite(v))
        emit(cv, p, VN_MT_HISTOGRAM, v, 1.0 / count);
}

/* Bucket counts of one histogram point with their representative values; used by both kinds. */
typedef struct bucket_set {
    double min, max; /* NAN when unknown */
    bool cumulative;
    uint64_t series; /* cumulative store key of the point */
} bucket_set_t;

/* The count to add for bucket idx: the delta for cumulative points. */
static bool bucket_count(vn_otlp_conv_t *cv, const bucket_set_t *b, uint64_t start_ns, int64_t idx, uint64_t raw,
                         double *count, bool *full)
{
    *full = false;
    if (!b->cumulative) {
        *count = (double)raw;
        return raw > 0;
    }
    double d;
    if (!cum_delta(cv, bucket_key(b->series, idx), start_ns, (double)raw, true, &d, full))
        return false;
    *count = d;
    return d > 0;
}

static double clampd(double v, const bucket_set_t *b)
{
    if (!isnan(b->min) && v < b->min)
        v = b->min;
    if (!isnan(b->max) && v > b->max)
        v = b->max;
    return v;
}

/* Emits the buckets in order; min and max (when known) each take one count of the first and last non-empty bucket. */
typedef struct pending {
    double v, count;
} pending_t;

static void flush_buckets(vn_otlp_conv_t *cv, const point_ctx_t *p, const bucket_set_t *b, pending_t *pend, size_t n)
{
    size_t first = n, last = n;
    for (size_t i = 0; i < n; i++)
        if (pend[i].count > 0) {
            if (first == n)
                first = i;
            last = i;
        }
    if (first == n)
        return;
    if (!isnan(b->min) && pend[first].count >= 1) {
        weighted(cv, p, b->min, 1);
        pend[first].count -= 1;
    }
    if (!isnan(b->max) && pend[last].count >= 1) {
        weighted(cv, p, b->max, 1);
        pend[last].count -= 1;
    }
    for (size_t i = 0; i < n; i++)
        weighted(cv, p, clampd(pend[i].v, b), pend[i].count);
}

#define MAX_BUCKETS 4096 /* per point; more is refused (OTel's defaults: 16 explicit, 160 exponential) */

static bool histogram_point(vn_otlp_conv_t *cv, const point_ctx_t *p, const pb_hdp_t *d, bool cumulative,
                            uint64_t series)
{
    size_t nb = d->n_bucket_counts, ne = d->n_explicit_bounds;
    if (nb == 0)
        return true; /* no distribution: nothing to add */
    if (nb != ne + 1 || nb > MAX_BUCKETS)
        return false;
    for (size_t i = 0; i < ne; i++)
        if (!isfinite(d->explicit_bounds[i]) || (i && d->explicit_bounds[i] <= d->explicit_bounds[i - 1]))
            return false;
    bucket_set_t b = {.min = NAN, .max = NAN, .cumulative = cumulative, .series = series};
    if (!cumulative) {
        if (d->_min_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN && isfinite(d->min))
            b.min = d->min;
        if (d->_max_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX && isfinite(d->max))
            b.max = d->max;
    }
    pending_t pend[MAX_BUCKETS];
    bool full_any = false;
    for (size_t i = 0; i < nb; i++) {
        double lo = i ? d->explicit_bounds[i - 1] : NAN, hi = i < ne ? d->explicit_bounds[i] : NAN, v;
        if (i == 0)
            v = ne == 0 ? (!isnan(b.min) ? b.min : 0) : (!isnan(b.min) ? b.min : hi);
        else if (i == ne)
            v = !isnan(b.max) ? b.max : lo;
        else
            v = lo + (hi - lo) / 2;
        bool full;
        pend[i].v = v;
        if (!bucket_count(cv, &b, d->start_time_unix_nano, (int64_t)i, d->bucket_counts[i], &pend[i].count, &full))
            pend[i].count = 0;
        full_any = full_any || full;
    }
    flush_buckets(cv, p, &b, pend, nb);
    return !full_any;
}

static bool exp_histogram_point(vn_otlp_conv_t *cv, const point_ctx_t *p, const pb_edp_t *d, bool cumulative,
                                uint64_t series)
{
    if (d->scale < -10 || d->scale > 20)
        return false; /* outside OTLP's defined range */
    const pb_ebuckets_t *neg = d->negative, *pos = d->positive;
    size_t nn = neg ? neg->n_bucket_counts : 0, np = pos ? pos->n_bucket_counts : 0;
    if (nn + np + 1 > MAX_BUCKETS)
        return false;
    bucket_set_t b = {.min = NAN, .max = NAN, .cumulative = cumulative, .series = series};
    if (!cumulative) {
        if (d->_min_case == OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN &&
            isfinite(d->min))
            b.min = d->min;
        if (d->_max_case == OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX &&
            isfinite(d->max))
            b.max = d->max;
    }
    double base = pow(2.0, pow(2.0, -(double)d->scale));
    pending_t pend[MAX_BUCKETS];
    size_t n = 0;
    bool full_any = false, full;
    /* in value order: negative buckets from the largest magnitude down, zero, positive up */
    for (size_t k = nn; k-- > 0;) {
        int64_t idx = (int64_t)neg->offset + (int64_t)k;
        pend[n].v = -pow(base, (double)idx + 0.5);
        if (!bucket_count(cv, &b, d->start_time_unix_nano, 2 * idx + 1, neg->bucket_counts[k], &pend[n].count, &full))
            pend[n].count = 0;
        full_any = full_any || full;
        n++;
    }
    pend[n].v = 0;
    if (!bucket_count(cv, &b, d->start_time_unix_nano, INT64_MIN, d->zero_count, &pend[n].count, &full))
        pend[n].count = 0;
    full_any = full_any || full;
    n++;
    for (size_t k = 0; k < np; k++) {
        int64_t idx = (int64_t)pos->offset + (int64_t)k;
        pend[n].v = pow(base, (double)idx + 0.5);
        if (!bucket_count(cv, &b, d->start_time_unix_nano, 2 * idx, pos->bucket_counts[k], &pend[n].count, &full))
            pend[n].count = 0;
        full_any = full_any || full;
        n++;
    }
    flush_buckets(cv, p, &b, pend, n);
    return !full_any;
}

/* Sets up p for one data point; false when its name or tags cannot be carried. */
static bool point_begin(vn_otlp_conv_t *cv, point_ctx_t *p, const char *host, pb_kv_t *const *attrs, size_t nattrs)
{
    return build_tags(cv, host, attrs, nattrs, &p->scope, &p->ntags);
}

static void metric(vn_otlp_conv_t *cv, const pb_metric_t *m, const char *host)
{
    const char *name = m->name ? m->name : "";
    point_ctx_t p = {.name = name, .vname = vn_str_c(name)};
    bool name_ok = name[0] && !strchr(name, '\n');
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: {
        bool is_sum = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        size_t n = is_sum ? (m->sum ? m->sum->n_data_points : 0) : (m->gauge ? m->gauge->n_data_points : 0);
        pb_ndp_t **pts = is_sum ? (m->sum ? m->sum->data_points : NULL) : (m->gauge ? m->gauge->data_points : NULL);
        bool cumulative = is_sum && m->sum->aggregation_temporality == CUMULATIVE;
        bool known = !is_sum || cumulative || m->sum->aggregation_temporality == DELTA;
        for (size_t i = 0; i < n; i++) {
            const pb_ndp_t *d = pts[i];
            cv->c.points++;
            if (d->flags & NO_RECORDED_VALUE)
                continue;
            double v;
            if (!name_ok || !known || !number_value(d, &v) ||
                !point_begin(cv, &p, host, d->attributes, d->n_attributes)) {
                cv->c.rejected++;
                continue;
            }
            if (!is_sum) {
                emit(cv, &p, VN_MT_GAUGE, v, 1);
            } else if (!cumulative) {
                emit(cv, &p, VN_MT_COUNTER, v, 1);
            } else {
                double delta;
                bool full;
                uint64_t key = series_key(name, 1, cv->_tags, p.ntags);
                if (cum_delta(cv, key, d->start_time_unix_nano, v, m->sum->is_monotonic, &delta, &full)) {
                    if (delta != 0)
                        emit(cv, &p, VN_MT_COUNTER, delta, 1);
                } else if (full) {
                    cv->c.rejected++;
                }
            }
        }
        return;
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: {
        const Opentelemetry__Proto__Metrics__V1__Histogram *h = m->histogram;
        bool cumulative = h->aggregation_temporality == CUMULATIVE;
        bool known = cumulative || h->aggregation_temporality == DELTA;
        for (size_t i = 0; i < h->n_data_points; i++) {
            const pb_hdp_t *d = h->data_points[i];
            cv->c.points++;
            if (d->flags & NO_RECORDED_VALUE)
                continue;
            if (!name_ok || !known || !point_begin(cv, &p, host, d->attributes, d->n_attributes) ||
                !histogram_point(cv, &p, d, cumulative, series_key(name, 2, cv->_tags, p.ntags)))
                cv->c.rejected++;
        }
        return;
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: {
        const Opentelemetry__Proto__Metrics__V1__ExponentialHistogram *h = m->exponential_histogram;
        bool cumulative = h->aggregation_temporality == CUMULATIVE;
        bool known = cumulative || h->aggregation_temporality == DELTA;
        for (size_t i = 0; i < h->n_data_points; i++) {
            const pb_edp_t *d = h->data_points[i];
            cv->c.points++;
            if (d->flags & NO_RECORDED_VALUE)
                continue;
            if (!name_ok || !known || !point_begin(cv, &p, host, d->attributes, d->n_attributes) ||
                !exp_histogram_point(cv, &p, d, cumulative, series_key(name, 3, cv->_tags, p.ntags)))
                cv->c.rejected++;
        }
        return;
    }
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        cv->c.points += m->summary ? m->summary->n_data_points : 0;
        cv->c.rejected += m->summary ? m->summary->n_data_points : 0;
        return;
    default:
        cv->c.rejected++; /* a metric with no data kind set */
        return;
    }
}

/* The resource's host.name, or NULL. */
static const char *resource_host(const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm)
{
    if (!rm->resource)
        return NULL;
    for (size_t i = 0; i < rm->resource->n_attributes; i++) {
        const pb_kv_t *kv = rm->resource->attributes[i];
        if (kv && kv->key && strcmp(kv->key, "host.name") == 0 && kv->value &&
            kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return kv->value->string_value;
    }
    return NULL;
}

vn_err_t vn_otlp_conv_request(vn_otlp_conv_t *cv, const uint8_t *body, size_t len, uint64_t *rejected)
{
    if (rejected)
        *rejected = 0;
    pb_req_t *req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(NULL, len, body);
    if (!req)
        return VN_ERR_PARSE;
    uint64_t before = cv->c.rejected;
    cv->c.requests++;
    for (size_t i = 0; i < req->n_resource_metrics; i++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[i];
        const char *host = resource_host(rm);
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics; k++)
                metric(cv, sm->metrics[k], host);
        }
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(req, NULL);
    if (rejected)
        *rejected = cv->c.rejected - before;
    return VN_OK;
}
