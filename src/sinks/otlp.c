/*
 * otlp.c - the "otlp" metric sink: flushed metrics as OTLP/HTTP protobuf
 * requests (otlp.h has the mapping; docs/otlp.md the operator's view), fed
 * to a delivery queue (delivery.h) like every HTTP sink.
 *
 *   metric_sinks:
 *     - kind: otlp
 *       config:
 *         endpoint: https://collector:4318/v1/metrics
 *         compression: gzip            # or none
 *         headers: {x-api-key: "..."}
 *         # flush_max_per_body, and the delivery keys of delivery.h
 *
 * The request is built as a protobuf-c message tree over a few arrays sized
 * for one body (flush thread only, never per sample), then packed once: the
 * tree is a handful of allocations per body, and protobuf-c is the same code
 * the ingest listener decodes with, so both directions share one schema.
 */
#include "sinks/otlp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/gzip.h"
#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "otlp_metrics_service.pb-c.h"
#include "sinks/queued.h"
#include "sinks/sink_internal.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest pb_req_t;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_rm_t;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_sm_t;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric_t;
typedef Opentelemetry__Proto__Metrics__V1__Gauge pb_gauge_t;
typedef Opentelemetry__Proto__Metrics__V1__Sum pb_sum_t;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_ndp_t;
typedef Opentelemetry__Proto__Metrics__V1__Summary pb_summary_t;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint pb_sdp_t;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile pb_vaq_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_t;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope_t;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_res_t;

/* ------------------------------------------------------------ config */

static vn_err_t bad(char *errbuf, size_t errcap, const char *sink, const char *what)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sink \"%s\" (otlp): %s", sink, what);
    return VN_ERR_CONFIG;
}


static bool header_value_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

vn_err_t vn_otlp__init(vn_otlp_t *x, const vn_sink_config_t *sc, const char *sink_name, char *errbuf, size_t errcap)
{
    memset(x, 0, sizeof *x);
    x->gzip = true;
    x->max_per_body = VN_OTLP_DEFAULT_MAX_PER_BODY;
    x->raw_cap = VN_OTLP_RAW_CAP;
    const char *name = sink_name ? sink_name : "otlp";
    char msg[256];

    const char *proto = vn_sink_config_get(sc, "protocol");
    if (proto && proto[0]) {
        if (strcasecmp(proto, "grpc") == 0)
            x->grpc = true;
        else if (strcasecmp(proto, "http/protobuf") != 0) {
            snprintf(msg, sizeof msg, "config key protocol: want http/protobuf or grpc, got \"%.60s\"", proto);
            return bad(errbuf, errcap, name, msg);
        }
    }
    const char *ep = vn_sink_config_get(sc, "endpoint");
    if (!ep || !ep[0])
        ep = x->grpc ? VN_OTLP_DEFAULT_GRPC_ENDPOINT : VN_OTLP_DEFAULT_ENDPOINT;
    size_t skip = strncasecmp(ep, "http://", 7) == 0 ? 7 : strncasecmp(ep, "https://", 8) == 0 ? 8 : 0;
    if (!skip || !ep[skip] || ep[skip] == '/') {
        snprintf(msg, sizeof msg, "config key endpoint: want an http:// or https:// URL, got \"%.80s\"", ep);
        return bad(errbuf, errcap, name, msg);
    }
    /* OTel exporters take a base URL in OTEL_EXPORTER_OTLP_ENDPOINT and add the
     * signal path; a bare host:port here means the same */
    const char *path = strchr(ep + skip, '/');
    if (x->grpc) {
        x->endpoint = vn_xstrndup(ep, path ? (size_t)(path - ep) : strlen(ep));
    } else if (!path || strcmp(path, "/") == 0) {
        size_t n = strlen(ep) + sizeof "/v1/metrics";
        x->endpoint = vn_xmalloc(n);
        snprintf(x->endpoint, n, "%.*s/v1/metrics", (int)(path ? (size_t)(path - ep) : strlen(ep)), ep);
    } else {
        x->endpoint = vn_xstrdup(ep);
    }

    const char *comp = vn_sink_config_get(sc, "compression");
    if (comp && comp[0]) {
        if (strcasecmp(comp, "none") == 0)
            x->gzip = false;
        else if (strcasecmp(comp, "gzip") != 0) {
            snprintf(msg, sizeof msg, "config key compression: want gzip or none, got \"%.60s\"", comp);
            return bad(errbuf, errcap, name, msg);
        }
    }

    const char *fmpb = vn_sink_config_get(sc, "flush_max_per_body");
    if (fmpb && fmpb[0]) {
        char *end;
        long long v = strtoll(fmpb, &end, 10);
        if (*end || v < 0 || v > 100000000) {
            snprintf(msg, sizeof msg, "config key flush_max_per_body: invalid value \"%.60s\" (0 .. 100000000)", fmpb);
            return bad(errbuf, errcap, name, msg);
        }
        if (v > 0)
            x->max_per_body = (size_t)v;
    }

    const char *hist = vn_sink_config_get(sc, "histograms_as");
    if (hist && hist[0]) {
        if (strcasecmp(hist, "gauges") == 0)
            x->hist_gauges = true;
        else if (strcasecmp(hist, "summary") != 0) {
            snprintf(msg, sizeof msg, "config key histograms_as: want summary or gauges, got \"%.60s\"", hist);
            return bad(errbuf, errcap, name, msg);
        }
    }

    for (size_t i = 0; i < sc->n_kv; i++) {
        const char *key = sc->kv[i].key;
        const char *val = sc->kv[i].value ? sc->kv[i].value : "";
        if (!key || strncmp(key, "headers.", 8) != 0)
            continue;
        const char *h = key + 8;
        if (!vn_sink__header_name_ok(h) || strcasecmp(h, "content-type") == 0 || strcasecmp(h, "content-encoding") == 0) {
            snprintf(msg, sizeof msg, "config key %.80s: not a header name this sink lets you set", key);
            return bad(errbuf, errcap, name, msg);
        }
        if (!header_value_ok(val)) {
            snprintf(msg, sizeof msg, "config key %.80s: control characters are not allowed", key);
            return bad(errbuf, errcap, name, msg);
        }
        if (x->nheaders == VN_OTLP_MAX_USER_HEADERS) {
            snprintf(msg, sizeof msg, "config key headers: at most %d headers", (int)VN_OTLP_MAX_USER_HEADERS);
            return bad(errbuf, errcap, name, msg);
        }
        size_t n = strlen(h) + strlen(val) + 3;
        x->headers[x->nheaders] = vn_xmalloc(n);
        snprintf(x->headers[x->nheaders++], n, "%s: %s", h, val);
    }
    return VN_OK;
}

void vn_otlp__destroy(vn_otlp_t *x)
{
    free(x->endpoint);
    for (size_t i = 0; i < x->nheaders; i++)
        free(x->headers[i]);
    free(x->idx);
    free(x->units);
    memset(x, 0, sizeof *x);
}

/* ------------------------------------------------------------ encoder */

typedef struct enc {
    vn_otlp_t *x;
    const vn_sink_t *s;
    const vn_inter_metric_t *m;
    const vn_flush_info_t *info;
    vn_delivery_emit_fn emit;
    void *ctx;
    vn_err_t first_err;
} enc_t;

static void note_err(enc_t *e, vn_err_t err)
{
    if (err != VN_OK && e->first_err == VN_OK)
        e->first_err = err;
}

/* The arrays one request's message tree lives in (freed after packing). */
typedef struct tree {
    pb_metric_t *metrics;
    pb_metric_t **metric_ptrs;
    pb_ndp_t *points;
    pb_ndp_t **point_ptrs; /* one per metric: each metric has one point */
    pb_gauge_t *gauges;
    pb_sum_t *sums;
    pb_summary_t *summaries;
    pb_sdp_t *spoints;
    pb_sdp_t **spoint_ptrs;
    pb_vaq_t *vaqs;
    pb_vaq_t **vaq_ptrs;
    char *names; /* the Summaries' names (series names are not NUL-terminated in m) */
    pb_kv_t *kvs;
    pb_kv_t **kv_ptrs;
    pb_any_t *anys;
    char *text; /* the tags' text, each split into key NUL value NUL */
} tree_t;

static void tree_free(tree_t *t)
{
    free(t->metrics);
    free(t->metric_ptrs);
    free(t->points);
    free(t->point_ptrs);
    free(t->gauges);
    free(t->sums);
    free(t->summaries);
    free(t->spoints);
    free(t->spoint_ptrs);
    free(t->vaqs);
    free(t->vaq_ptrs);
    free(t->names);
    free(t->kvs);
    free(t->kv_ptrs);
    free(t->anys);
    free(t->text);
}

static char *mutable_str(const char *s)
{
    /* protobuf-c's string fields are char *; packing only reads them */
    return (char *)(uintptr_t)s;
}

static uint64_t unix_nanos(double seconds)
{
    return seconds <= 0 ? 0 : (uint64_t)(seconds * 1e9);
}

/* Writes mi's tags (less excluded ones) as attributes from t->kv_ptrs[*kv] on;
 * returns how many. */
static size_t put_attrs(const enc_t *e, tree_t *t, const vn_inter_metric_t *mi, size_t *kv, size_t *tp)
{
    size_t na = 0;
    for (size_t j = 0; j < mi->ntags; j++) {
        const char *tag = mi->tags[j];
        if (!tag || vn_sink__tag_excluded(e->s, tag))
            continue;
        size_t len = strlen(tag);
        char *key = &t->text[*tp];
        memcpy(key, tag, len + 1);
        *tp += len + 1;
        char *colon = strchr(key, ':');
        char *val;
        if (colon) {
            *colon = '\0';
            val = colon + 1;
        } else {
            val = &t->text[(*tp)++];
            *val = '\0';
        }
        pb_any_t *a = &t->anys[*kv];
        opentelemetry__proto__common__v1__any_value__init(a);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        a->string_value = val;
        pb_kv_t *pkv = &t->kvs[*kv];
        opentelemetry__proto__common__v1__key_value__init(pkv);
        pkv->key = key;
        pkv->value = a;
        t->kv_ptrs[(*kv)++] = pkv;
        na++;
    }
    return na;
}

/* Adds quantile q = v to p unless p already has q (the first one wins). */
static void add_quantile(pb_sdp_t *p, pb_vaq_t *slot, double q, double v)
{
    for (size_t i = 0; i < p->n_quantile_values; i++)
        if (p->quantile_values[i]->quantile == q)
            return;
    opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(slot);
    slot->quantile = q;
    slot->value = v;
    /* ascending by quantile: a handful per point, insertion keeps it simple */
    size_t i = p->n_quantile_values++;
    while (i > 0 && p->quantile_values[i - 1]->quantile > q) {
        p->quantile_values[i] = p->quantile_values[i - 1];
        i--;
    }
    p->quantile_values[i] = slot;
}

/* Fills Summary point p from the parts idx[u->at .. u->at + u->len). */
static void fill_summary(const enc_t *e, const vn_otlp_unit_t *u, pb_sdp_t *p, pb_vaq_t *vaqs)
{
    bool have_count = false, have_sum = false, have_avg = false;
    double count = 0, sum = 0, avg = 0;
    size_t nv = 0;
    for (size_t j = 0; j < u->len; j++) {
        const vn_inter_metric_t *mi = &e->m[e->x->idx[u->at + j]];
        switch (mi->hist_part) {
        case VN_HP_COUNT: have_count = true, count = mi->value; break;
        case VN_HP_SUM: have_sum = true, sum = mi->value; break;
        case VN_HP_AVG: have_avg = true, avg = mi->value; break;
        case VN_HP_PERCENTILE: add_quantile(p, &vaqs[nv++], mi->quantile, mi->value); break;
        case VN_HP_MIN: add_quantile(p, &vaqs[nv++], 0.0, mi->value); break;
        case VN_HP_MAX: add_quantile(p, &vaqs[nv++], 1.0, mi->value); break;
        case VN_HP_MEDIAN: add_quantile(p, &vaqs[nv++], 0.5, mi->value); break;
        default: break; /* hmean: a Gauge of its own */
        }
    }
    /* sample rates make count a weight: the nearest whole number of samples */
    p->count = have_count && count > 0 ? (uint64_t)llround(count) : 0;
    p->sum = have_sum ? sum : have_avg && have_count ? avg * count : 0;
}

/* Packs units[lo..hi) into one request; returns its malloc'd bytes. */
static vn_err_t pack_range(enc_t *e, size_t lo, size_t hi, uint8_t **out, size_t *out_len)
{
    vn_otlp_t *x = e->x;
    size_t n = hi - lo, ntags = 0, text = 0, nq = 0, names = 0;
    for (size_t i = lo; i < hi; i++) {
        const vn_otlp_unit_t *u = &x->units[i];
        const vn_inter_metric_t *mi = &e->m[x->idx[u->at]];
        for (size_t t = 0; t < mi->ntags; t++) {
            ntags++;
            text += strlen(mi->tags[t]) + 2;
        }
        if (u->summary) {
            nq += u->len;
            names += mi->hist_base_len + 1;
        }
    }
    tree_t t = {
        .metrics = vn_xcalloc(n, sizeof *t.metrics),
        .metric_ptrs = vn_xcalloc(n, sizeof *t.metric_ptrs),
        .points = vn_xcalloc(n, sizeof *t.points),
        .point_ptrs = vn_xcalloc(n, sizeof *t.point_ptrs),
        .gauges = vn_xcalloc(n, sizeof *t.gauges),
        .sums = vn_xcalloc(n, sizeof *t.sums),
        .summaries = vn_xcalloc(n, sizeof *t.summaries),
        .spoints = vn_xcalloc(n, sizeof *t.spoints),
        .spoint_ptrs = vn_xcalloc(n, sizeof *t.spoint_ptrs),
        .vaqs = vn_xcalloc(nq ? nq : 1, sizeof *t.vaqs),
        .vaq_ptrs = vn_xcalloc(nq ? nq : 1, sizeof *t.vaq_ptrs),
        .names = vn_xmalloc(names ? names : 1),
        .kvs = vn_xcalloc(ntags ? ntags : 1, sizeof *t.kvs),
        .kv_ptrs = vn_xcalloc(ntags ? ntags : 1, sizeof *t.kv_ptrs),
        .anys = vn_xcalloc(ntags ? ntags : 1, sizeof *t.anys),
        .text = vn_xmalloc(text ? text : 1),
    };
    uint64_t now_ns = unix_nanos((double)e->info->timestamp);
    uint64_t start_ns = unix_nanos((double)e->info->timestamp - e->info->interval_s);
    size_t kv = 0, tp = 0, q = 0, np = 0;
    for (size_t k = 0; k < n; k++) {
        const vn_otlp_unit_t *u = &x->units[lo + k];
        const vn_inter_metric_t *mi = &e->m[x->idx[u->at]];
        pb_metric_t *pm = &t.metrics[k];
        opentelemetry__proto__metrics__v1__metric__init(pm);
        t.metric_ptrs[k] = pm;
        pb_kv_t **attrs = &t.kv_ptrs[kv];
        size_t nattrs = put_attrs(e, &t, mi, &kv, &tp);
        if (u->summary) {
            pb_sdp_t *p = &t.spoints[k];
            opentelemetry__proto__metrics__v1__summary_data_point__init(p);
            p->start_time_unix_nano = start_ns;
            p->time_unix_nano = now_ns;
            p->attributes = nattrs ? attrs : NULL;
            p->n_attributes = nattrs;
            p->quantile_values = &t.vaq_ptrs[q];
            fill_summary(e, u, p, &t.vaqs[q]);
            q += u->len;
            if (p->n_quantile_values == 0)
                p->quantile_values = NULL;
            t.spoint_ptrs[k] = p;
            pb_summary_t *sm = &t.summaries[k];
            opentelemetry__proto__metrics__v1__summary__init(sm);
            sm->n_data_points = 1;
            sm->data_points = &t.spoint_ptrs[k];
            memcpy(&t.names[np], mi->name, mi->hist_base_len);
            t.names[np + mi->hist_base_len] = '\0';
            pm->name = &t.names[np];
            np += mi->hist_base_len + 1;
            pm->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
            pm->summary = sm;
            continue;
        }
        pb_ndp_t *p = &t.points[k];
        opentelemetry__proto__metrics__v1__number_data_point__init(p);
        p->time_unix_nano = now_ns;
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        p->as_double = mi->value;
        p->attributes = nattrs ? attrs : NULL;
        p->n_attributes = nattrs;
        t.point_ptrs[k] = p;
        pm->name = mutable_str(mi->name);
        if (mi->type == VN_IM_COUNTER) {
            pb_sum_t *sum = &t.sums[k];
            opentelemetry__proto__metrics__v1__sum__init(sum);
            sum->aggregation_temporality =
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
            sum->is_monotonic = true;
            sum->n_data_points = 1;
            sum->data_points = &t.point_ptrs[k];
            p->start_time_unix_nano = start_ns;
            pm->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
            pm->sum = sum;
        } else {
            pb_gauge_t *g = &t.gauges[k];
            opentelemetry__proto__metrics__v1__gauge__init(g);
            g->n_data_points = 1;
            g->data_points = &t.point_ptrs[k];
            pm->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
            pm->gauge = g;
        }
    }

    pb_scope_t scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = mutable_str("veneur-c");
    scope.version = mutable_str(VN_VERSION);
    pb_sm_t sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.scope = &scope;
    sm.n_metrics = n;
    sm.metrics = t.metric_ptrs;
    pb_sm_t *smp = &sm;

    pb_any_t host_val = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    host_val.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    host_val.string_value = mutable_str(e->info->hostname ? e->info->hostname : "");
    pb_kv_t host_kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    host_kv.key = mutable_str("host.name");
    host_kv.value = &host_val;
    pb_kv_t *host_kvp = &host_kv;
    pb_res_t res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    if (e->info->hostname && e->info->hostname[0]) {
        res.n_attributes = 1;
        res.attributes = &host_kvp;
    }
    pb_rm_t rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &res;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = &smp;
    pb_rm_t *rmp = &rm;
    pb_req_t req = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.n_resource_metrics = 1;
    req.resource_metrics = &rmp;

    vn_err_t err = VN_OK;
    size_t len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(&req);
    if (len > x->raw_cap) {
        err = VN_ERR_TOO_LARGE;
    } else {
        *out = vn_xmalloc(len ? len : 1);
        *out_len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req, *out);
    }
    tree_free(&t);
    return err;
}

static void emit_range(enc_t *e, size_t lo, size_t hi)
{
    size_t n = hi - lo;
    if (n == 0)
        return;
    uint8_t *raw = NULL;
    size_t len = 0;
    vn_err_t err = pack_range(e, lo, hi, &raw, &len);
    if (err == VN_ERR_TOO_LARGE && n > 1) {
        emit_range(e, lo, lo + n / 2);
        emit_range(e, lo + n / 2, hi);
        return;
    }
    if (err != VN_OK) {
        e->x->skipped += n;
        VN_LOG(WARN, "event=otlp_metric_too_large sink=%s metrics=%zu", e->s->name, n);
        return;
    }
    char *body = (char *)raw;
    if (e->x->gzip) {
        char *z = NULL;
        size_t zl = 0;
        err = vn_gzip_alloc((const char *)raw, len, VN_GZIP_GZIP, &z, &zl);
        free(raw);
        if (err != VN_OK) {
            note_err(e, err);
            return;
        }
        body = z;
        len = zl;
    }
    vn_delivery_req_t r = {.what = "metrics", .url = e->x->endpoint, .body = body, .len = len, .nmetrics = n};
    r.headers[r.nheaders++] = "Content-Type: application/x-protobuf";
    if (e->x->gzip)
        r.headers[r.nheaders++] = "Content-Encoding: gzip";
    for (size_t i = 0; i < e->x->nheaders; i++)
        r.headers[r.nheaders++] = e->x->headers[i];
    note_err(e, e->emit(e->ctx, &r));
}

static bool same_tags(const vn_inter_metric_t *a, const vn_inter_metric_t *b)
{
    if (a->tags == b->tags && a->ntags == b->ntags)
        return true;
    if (a->ntags != b->ntags)
        return false;
    for (size_t i = 0; i < a->ntags; i++)
        if (strcmp(a->tags[i], b->tags[i]) != 0)
            return false;
    return true;
}

/* Whether b is another part of a's series: same name prefix and tags, and a
 * part the run does not have yet (seen: a bit per vn_hist_part_t; percentiles
 * may repeat). Two series with one name and tags (a timer and a histogram)
 * thus stay two Summaries even if adjacent. */
static bool same_series(const vn_inter_metric_t *a, const vn_inter_metric_t *b, unsigned seen)
{
    return b->hist_part != VN_HP_NONE && b->hist_base_len == a->hist_base_len &&
           (b->hist_part == VN_HP_PERCENTILE || !(seen & (1u << b->hist_part))) &&
           memcmp(a->name, b->name, a->hist_base_len) == 0 && same_tags(a, b);
}

static vn_otlp_unit_t *push_unit(vn_otlp_t *x, size_t *nu, size_t at, size_t len, bool summary)
{
    if (*nu == x->units_cap) {
        x->units_cap = x->units_cap ? x->units_cap * 2 : 256;
        x->units = vn_xrealloc(x->units, x->units_cap * sizeof *x->units);
    }
    vn_otlp_unit_t *u = &x->units[(*nu)++];
    *u = (vn_otlp_unit_t){.at = at, .len = len, .summary = summary};
    return u;
}

/* Turns the k accepted metrics in idx into OTLP metrics: a run of one
 * series' parts becomes one Summary plus a Gauge per avg/hmean part (no
 * Summary field holds them); everything else one metric each. The flusher
 * keeps a series' parts adjacent and in one chunk (sinks/sink.h). */
static size_t build_units(vn_otlp_t *x, const vn_inter_metric_t *m, size_t k)
{
    size_t nu = 0;
    for (size_t i = 0; i < k;) {
        const vn_inter_metric_t *a = &m[x->idx[i]];
        if (x->hist_gauges || a->hist_part == VN_HP_NONE) {
            push_unit(x, &nu, i++, 1, false);
            continue;
        }
        unsigned seen = 1u << a->hist_part;
        size_t len = 1;
        while (i + len < k && same_series(a, &m[x->idx[i + len]], seen))
            seen |= 1u << m[x->idx[i + len++]].hist_part;
        unsigned gauge_only = (1u << VN_HP_AVG) | (1u << VN_HP_HMEAN);
        if (seen & ~gauge_only)
            push_unit(x, &nu, i, len, true);
        for (size_t j = i; j < i + len; j++)
            if ((1u << m[x->idx[j]].hist_part) & gauge_only)
                push_unit(x, &nu, j, 1, false);
        i += len;
    }
    return nu;
}

vn_err_t vn_otlp__encode_metrics(vn_otlp_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                                 const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    if (n == 0)
        return VN_OK;
    if (x->idx_cap < n) {
        free(x->idx);
        x->idx_cap = n;
        x->idx = vn_xmalloc(n * sizeof *x->idx);
    }
    size_t k = 0, nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        const vn_inter_metric_t *mi = &m[i];
        if (!vn_sink__wants(s, mi) || !mi->name)
            continue;
        if (!isfinite(mi->value)) {
            nonfinite++;
            continue;
        }
        x->idx[k++] = i;
    }
    x->skipped += nonfinite;
    size_t nu = build_units(x, m, k);
    enc_t e = {.x = x, .s = s, .m = m, .info = info, .emit = emit, .ctx = ctx};
    for (size_t lo = 0; lo < nu; lo += x->max_per_body)
        emit_range(&e, lo, lo + x->max_per_body < nu ? lo + x->max_per_body : nu);
    return e.first_err;
}

/* ------------------------------------------------------------ sink ops */

/* Set once by main before any sink exists, read-only afterwards. */
static vn_otlp_grpc_transport_fn grpc_transport;

void vn_sink_otlp_set_grpc_transport(vn_otlp_grpc_transport_fn fn)
{
    grpc_transport = fn;
}

static vn_err_t otlp_metrics(void *enc, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                             const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    return vn_otlp__encode_metrics(enc, s, m, n, info, emit, ctx);
}

/* OTLP metrics have no event type; DogStatsD events are not sent (logs would be the signal). */
static vn_err_t otlp_events(void *enc, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                            const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    (void)enc, (void)s, (void)ev, (void)n, (void)info, (void)emit, (void)ctx;
    return VN_OK;
}

static size_t otlp_skipped(const void *enc) { return ((const vn_otlp_t *)enc)->skipped; }
static void otlp_destroy(void *enc) { vn_otlp__destroy(enc); }

static const vn_queued_kind_t otlp_kind = {
    .ops = VN_QUEUED_OPS("otlp"),
    .metrics = otlp_metrics,
    .events = otlp_events,
    .skipped = otlp_skipped,
    .destroy = otlp_destroy,
};

/*
 * vn_queued_start with the gRPC transport instead of libcurl (queued.h:
 * the same sink half, only the queue's transport differs). Takes x.
 */
static vn_err_t start_grpc(vn_sink_t *s, vn_otlp_t *x, const vn_sink_config_t *sc, const vn_config_t *cfg,
                           const char *const *secrets, size_t nsecrets, vn_delivery_opts_t *o, char *errbuf,
                           size_t errcap)
{
    vn_http_transport_t *t = NULL;
    vn_err_t err = vn_delivery_config(sc, cfg, s->name, o, errbuf, errcap);
    if (err == VN_OK && !grpc_transport)
        err = bad(errbuf, errcap, s->name, "config key protocol: grpc is not available in this binary");
    if (err == VN_OK)
        err = grpc_transport(x->endpoint, x->gzip, x->headers, x->nheaders,
                             &(vn_otlp_tls_files_t){o->tls_ca_file, o->tls_cert_file, o->tls_key_file}, &t,
                             errbuf, errcap);
    if (err != VN_OK) {
        vn_otlp__destroy(x);
        free(x);
        return err;
    }
    o->name = s->name;
    o->secrets = secrets;
    o->nsecrets = nsecrets;
    o->max_in_flight = 1; /* the transport makes one call at a time */
    vn_queued_sink_t *q = vn_xcalloc(1, sizeof *q);
    q->kind = &otlp_kind;
    q->enc = x;
    q->dl = vn_delivery_new(o, t);
    s->impl = q;
    s->ops = &otlp_kind.ops;
    return VN_OK;
}

vn_err_t vn_sink__otlp_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                           size_t errcap)
{
    vn_otlp_t *x = vn_xcalloc(1, sizeof *x);
    vn_err_t err = vn_otlp__init(x, sc, s->name, errbuf, errcap);
    /* header values (API keys) never appear in logged response excerpts */
    const char *secrets[VN_OTLP_MAX_USER_HEADERS];
    size_t nsecrets = 0;
    for (size_t i = 0; i < x->nheaders; i++) {
        const char *v = strchr(x->headers[i], ':');
        if (v && v[1] == ' ' && v[2])
            secrets[nsecrets++] = v + 2;
    }
    vn_delivery_opts_t o;
    char *endpoint = x->endpoint ? vn_xstrdup(x->endpoint) : NULL; /* x is owned by the queue from here */
    if (err == VN_OK && x->grpc)
        err = start_grpc(s, x, sc, cfg, secrets, nsecrets, &o, errbuf, errcap);
    else
        err = vn_queued_start(s, &otlp_kind, x, err, sc, cfg, secrets, nsecrets, &o, errbuf, errcap);
    if (err == VN_OK) {
        const char *shown = endpoint && strchr(endpoint, '@') ? strchr(endpoint, '@') + 1 : endpoint;
        VN_LOG(INFO, "event=sink_started sink=%s kind=otlp protocol=%s endpoint=\"%s\" max_queue_bytes=%zu",
               s->name, x->grpc ? "grpc" : "http/protobuf", shown ? shown : "", o.max_queue_bytes);
    }
    free(endpoint);
    return err;
}
