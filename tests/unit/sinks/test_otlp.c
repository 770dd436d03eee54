/*
 * test_otlp.c - sinks/otlp encoder: bodies decoded back with the protobuf-c
 * code of proto/otlp_*.proto (the mapping of otlp.h), gzip and headers,
 * splitting by count and by size, skipped metrics, config keys and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "otlp_metrics_service.pb-c.h"
#include "aggregate/samplers.h"
#include "aggregate/series_map.h"
#include "core/hash.h"
#include "core/metric.h"
#include "flush/flusher.h"
#include "sinks/otlp.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req_t;

typedef struct rec {
    char url[256];
    char hdr[VN_HTTP_MAX_HEADERS][96];
    size_t nhdr;
    req_t *req;
    size_t nmetrics;
} rec_t;

typedef struct recorder {
    rec_t r[64];
    size_t n;
    int gzip;
} recorder_t;

static uint8_t *gunzip(const char *in, size_t len, size_t *out_len)
{
    size_t cap = 8 << 20;
    uint8_t *out = malloc(cap);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 31), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    inflateEnd(&zs);
    return out;
}

static vn_err_t record(void *ctx, vn_delivery_req_t *q)
{
    recorder_t *rc = ctx;
    assert_true(rc->n < 64);
    rec_t *r = &rc->r[rc->n++];
    snprintf(r->url, sizeof r->url, "%s", q->url);
    r->nhdr = q->nheaders;
    for (size_t i = 0; i < q->nheaders; i++)
        snprintf(r->hdr[i], sizeof r->hdr[i], "%s", q->headers[i]);
    size_t len = q->len;
    uint8_t *raw = (uint8_t *)q->body;
    if (rc->gzip)
        raw = gunzip(q->body, q->len, &len);
    r->req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(NULL, len, raw);
    assert_non_null(r->req);
    if (raw != (uint8_t *)q->body)
        free(raw);
    free(q->body);
    q->body = NULL;
    r->nmetrics = q->nmetrics;
    return VN_OK;
}

static void recorder_free(recorder_t *rc)
{
    for (size_t i = 0; i < rc->n; i++)
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(rc->r[i].req,
                                                                                                   NULL);
    rc->n = 0;
}

static vn_err_t init(vn_otlp_t *x, vn_kv_t *kv, size_t n)
{
    vn_sink_config_t sc = {.kind = "otlp", .name = "o", .kv = kv, .n_kv = n};
    char err[256];
    return vn_otlp__init(x, &sc, "o", err, sizeof err);
}

static const char *attr(const Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p, const char *key)
{
    for (size_t i = 0; i < p->n_attributes; i++)
        if (strcmp(p->attributes[i]->key, key) == 0)
            return p->attributes[i]->value->string_value;
    return NULL;
}

static void test_otlp__mapping(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "endpoint", .value = "http://c:4318"}, {.key = "headers.x-api-key", .value = "k1"}};
    vn_otlp_t x;
    assert_int_equal(init(&x, kv, 2), VN_OK);
    assert_string_equal(x.endpoint, "http://c:4318/v1/metrics");
    const char *t1[] = {"env:prod", "flag", "url:http://a:b"};
    vn_inter_metric_t m[] = {
        {.name = "hits", .timestamp = 1000, .value = 7, .tags = t1, .ntags = 3, .type = VN_IM_COUNTER},
        {.name = "temp", .timestamp = 1000, .value = -2.5, .type = VN_IM_GAUGE},
        {.name = "chk", .timestamp = 1000, .value = 2, .type = VN_IM_STATUS},
        {.name = "nan", .timestamp = 1000, .value = NAN, .type = VN_IM_GAUGE},
    };
    vn_sink_t s = {.name = "o"};
    vn_flush_info_t info = {.timestamp = 1000, .interval_s = 10, .hostname = "h1"};
    recorder_t rc = {.gzip = 1};
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m, 4, &info, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_int_equal(x.skipped, 1);
    rec_t *r = &rc.r[0];
    assert_string_equal(r->url, "http://c:4318/v1/metrics");
    assert_int_equal(r->nhdr, 3);
    assert_string_equal(r->hdr[0], "Content-Type: application/x-protobuf");
    assert_string_equal(r->hdr[1], "Content-Encoding: gzip");
    assert_string_equal(r->hdr[2], "x-api-key: k1");
    assert_int_equal(r->nmetrics, 3);
    assert_int_equal(r->req->n_resource_metrics, 1);
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = r->req->resource_metrics[0];
    assert_int_equal(rm->resource->n_attributes, 1);
    assert_string_equal(rm->resource->attributes[0]->key, "host.name");
    assert_string_equal(rm->resource->attributes[0]->value->string_value, "h1");
    assert_int_equal(rm->n_scope_metrics, 1);
    assert_string_equal(rm->scope_metrics[0]->scope->name, "veneur-c");
    Opentelemetry__Proto__Metrics__V1__Metric **ms = rm->scope_metrics[0]->metrics;
    assert_int_equal(rm->scope_metrics[0]->n_metrics, 3);

    assert_string_equal(ms[0]->name, "hits");
    assert_int_equal(ms[0]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    assert_int_equal(ms[0]->sum->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA);
    assert_true(ms[0]->sum->is_monotonic);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = ms[0]->sum->data_points[0];
    assert_int_equal(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    assert_true(p->as_double == 7);
    assert_true(p->time_unix_nano == 1000000000000ull);
    assert_true(p->start_time_unix_nano == 990000000000ull);
    assert_int_equal(p->n_attributes, 3);
    assert_string_equal(attr(p, "env"), "prod");
    assert_string_equal(attr(p, "flag"), "");
    assert_string_equal(attr(p, "url"), "http://a:b");

    assert_int_equal(ms[1]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_true(ms[1]->gauge->data_points[0]->as_double == -2.5);
    assert_true(ms[1]->gauge->data_points[0]->start_time_unix_nano == 0);
    assert_int_equal(ms[1]->gauge->data_points[0]->n_attributes, 0);
    assert_int_equal(ms[2]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_true(ms[2]->gauge->data_points[0]->as_double == 2);
    recorder_free(&rc);
    vn_otlp__destroy(&x);
}

static void test_otlp__excluded_and_sink_only(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "compression", .value = "none"}};
    vn_otlp_t x;
    assert_int_equal(init(&x, kv, 1), VN_OK);
    const char *rules[] = {"secret"};
    vn_sink_t s = {.name = "o", .excluded_tags = rules, .n_excluded_tags = 1};
    const char *t[] = {"keep:1", "secret:x"};
    vn_inter_metric_t m[] = {
        {.name = "a", .value = 1, .tags = t, .ntags = 2, .type = VN_IM_GAUGE},
        {.name = "b", .value = 1, .type = VN_IM_GAUGE, .sink_only = "other"},
    };
    vn_flush_info_t info = {.timestamp = 5, .interval_s = 1, .hostname = ""};
    recorder_t rc = {.gzip = 0};
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m, 2, &info, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_int_equal(rc.r[0].nhdr, 1);
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = rc.r[0].req->resource_metrics[0];
    assert_int_equal(rm->resource->n_attributes, 0); /* no hostname: no host.name */
    assert_int_equal(rm->scope_metrics[0]->n_metrics, 1);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = rm->scope_metrics[0]->metrics[0]->gauge->data_points[0];
    assert_int_equal(p->n_attributes, 1);
    assert_string_equal(attr(p, "keep"), "1");
    recorder_free(&rc);
    vn_otlp__destroy(&x);
}

static void test_otlp__splits(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "flush_max_per_body", .value = "4"}};
    vn_otlp_t x;
    assert_int_equal(init(&x, kv, 1), VN_OK);
    enum { N = 10 };
    vn_inter_metric_t m[N];
    char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        m[i] = (vn_inter_metric_t){.name = names[i], .value = i, .type = VN_IM_COUNTER};
    }
    vn_sink_t s = {.name = "o"};
    vn_flush_info_t info = {.timestamp = 5, .interval_s = 1, .hostname = "h"};
    recorder_t rc = {.gzip = 1};
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m, N, &info, record, &rc), VN_OK);
    assert_int_equal(rc.n, 3); /* 4 + 4 + 2 */
    size_t total = 0;
    for (size_t i = 0; i < rc.n; i++)
        total += rc.r[i].req->resource_metrics[0]->scope_metrics[0]->n_metrics;
    assert_int_equal(total, N);
    recorder_free(&rc);

    /* a size cap that fits about 2 metrics splits in halves; one alone over it is skipped */
    x.max_per_body = 100;
    x.raw_cap = 120;
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m, N, &info, record, &rc), VN_OK);
    total = 0;
    for (size_t i = 0; i < rc.n; i++)
        total += rc.r[i].req->resource_metrics[0]->scope_metrics[0]->n_metrics;
    assert_true(rc.n > 3);
    assert_int_equal(total, N);
    recorder_free(&rc);
    x.raw_cap = 10;
    size_t before = x.skipped;
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m, 2, &info, record, &rc), VN_OK);
    assert_int_equal(rc.n, 0);
    assert_int_equal(x.skipped - before, 2);
    vn_otlp__destroy(&x);
}

static void test_otlp__config(void **state)
{
    (void)state;
    struct {
        vn_kv_t kv[8];
        size_t n;
        vn_err_t want;
        const char *endpoint;
    } cases[] = {
        {{{0}}, 0, VN_OK, VN_OTLP_DEFAULT_ENDPOINT},
        {{{.key = "endpoint", .value = "https://x.example/"}}, 1, VN_OK, "https://x.example/v1/metrics"},
        {{{.key = "endpoint", .value = "https://x.example/otlp/v1/metrics"}}, 1, VN_OK,
         "https://x.example/otlp/v1/metrics"},
        {{{.key = "endpoint", .value = "ftp://x"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "endpoint", .value = "http://"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "compression", .value = "zstd"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "protocol", .value = "http/json"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "protocol", .value = "grpc"}}, 1, VN_OK, VN_OTLP_DEFAULT_GRPC_ENDPOINT},
        {{{.key = "protocol", .value = "grpc"}, {.key = "endpoint", .value = "https://c:4317/x"}}, 2, VN_OK,
         "https://c:4317"},
        {{{.key = "flush_max_per_body", .value = "-1"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "headers.bad name", .value = "v"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "headers.Content-Type", .value = "text/plain"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "headers.x", .value = "a\r\nb"}}, 1, VN_ERR_CONFIG, NULL},
        {{{.key = "headers.a", .value = "1"}, {.key = "headers.b", .value = "1"}, {.key = "headers.c", .value = "1"},
          {.key = "headers.d", .value = "1"}, {.key = "headers.e", .value = "1"}, {.key = "headers.f", .value = "1"},
          {.key = "headers.g", .value = "1"}},
         7, VN_ERR_CONFIG, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_otlp_t x;
        vn_err_t err = init(&x, cases[i].kv, cases[i].n);
        assert_int_equal(err, cases[i].want);
        if (cases[i].endpoint)
            assert_string_equal(x.endpoint, cases[i].endpoint);
        vn_otlp__destroy(&x);
    }
}

/* Without an installed gRPC transport (main installs it), protocol grpc is a config error, not a crash. */
static void test_otlp__grpc_needs_transport(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "protocol", .value = "grpc"}};
    vn_sink_config_t sc = {.kind = "otlp", .name = "o", .kv = kv, .n_kv = 1};
    vn_sink_t *s = NULL;
    char err[256] = "";
    assert_int_equal(vn_sink_new(&sc, NULL, &s, err, sizeof err), VN_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(err, "grpc is not available"));
}

typedef Opentelemetry__Proto__Metrics__V1__Metric pbm_t;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint sdp_t;

#define HP(nm, part, q, v, ty) \
    {.name = nm, .timestamp = 1000, .value = v, .tags = tg, .ntags = 2, .type = ty, .hist_part = part, \
     .hist_base_len = 3, .quantile = q}

static double quantile_of(const sdp_t *p, double q)
{
    for (size_t i = 0; i < p->n_quantile_values; i++)
        if (p->quantile_values[i]->quantile == q)
            return p->quantile_values[i]->value;
    fail_msg("no quantile %g", q);
    return NAN;
}

/* One series' parts (generate.c order) -> one Summary; avg and hmean stay Gauges; others untouched. */
static void test_otlp__summary(void **state)
{
    (void)state;
    vn_otlp_t x;
    assert_int_equal(init(&x, NULL, 0), VN_OK);
    const char *tg[] = {"env:prod", "svc:a"};
    const char *tg2[] = {"env:prod", "svc:b"};
    vn_inter_metric_t m[] = {
        {.name = "hits", .timestamp = 1000, .value = 7, .type = VN_IM_COUNTER},
        HP("lat.max", VN_HP_MAX, 0, 100, VN_IM_GAUGE),
        HP("lat.min", VN_HP_MIN, 0, 1, VN_IM_GAUGE),
        HP("lat.sum", VN_HP_SUM, 0, 5050, VN_IM_GAUGE),
        HP("lat.avg", VN_HP_AVG, 0, 50.5, VN_IM_GAUGE),
        HP("lat.count", VN_HP_COUNT, 0, 100, VN_IM_COUNTER),
        HP("lat.median", VN_HP_MEDIAN, 0, 50.5, VN_IM_GAUGE),
        HP("lat.hmean", VN_HP_HMEAN, 0, 19.3, VN_IM_GAUGE),
        HP("lat.99percentile", VN_HP_PERCENTILE, 0.99, 99.5, VN_IM_GAUGE),
        HP("lat.50percentile", VN_HP_PERCENTILE, 0.5, 50.4, VN_IM_GAUGE), /* median came first: it wins */
        /* the same name with other tags: its own Summary, sum from avg * count */
        {.name = "lat.avg", .value = 2.5, .tags = tg2, .ntags = 2, .type = VN_IM_GAUGE, .hist_part = VN_HP_AVG,
         .hist_base_len = 3},
        {.name = "lat.count", .value = 4, .tags = tg2, .ntags = 2, .type = VN_IM_COUNTER,
         .hist_part = VN_HP_COUNT, .hist_base_len = 3},
        {.name = "set", .timestamp = 1000, .value = 3, .type = VN_IM_GAUGE},
    };
    size_t n = sizeof m / sizeof m[0];
    vn_sink_t s = {.name = "o"};
    vn_flush_info_t info = {.timestamp = 1000, .interval_s = 10, .hostname = "h1"};
    recorder_t rc = {.gzip = 1};
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m, n, &info, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rc.r[0].req->resource_metrics[0]->scope_metrics[0];
    /* hits, lat Summary, lat.avg, lat.hmean, lat{svc:b} Summary, lat.avg{svc:b}, set */
    assert_int_equal(sm->n_metrics, 7);
    assert_int_equal(rc.r[0].nmetrics, 7);
    pbm_t **ms = sm->metrics;
    assert_string_equal(ms[0]->name, "hits");
    assert_int_equal(ms[0]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    assert_string_equal(ms[1]->name, "lat");
    assert_int_equal(ms[1]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
    assert_int_equal(ms[1]->summary->n_data_points, 1);
    sdp_t *p = ms[1]->summary->data_points[0];
    assert_true(p->count == 100);
    assert_true(p->sum == 5050);
    assert_true(p->time_unix_nano == 1000000000000ull);
    assert_true(p->start_time_unix_nano == 990000000000ull);
    assert_int_equal(p->n_attributes, 2);
    assert_string_equal(p->attributes[1]->key, "svc");
    assert_string_equal(p->attributes[1]->value->string_value, "a");
    assert_int_equal(p->n_quantile_values, 4); /* 0, 0.5, 0.99, 1 */
    double want_q[] = {0, 0.5, 0.99, 1}, want_v[] = {1, 50.5, 99.5, 100};
    for (size_t i = 0; i < 4; i++) {
        assert_true(p->quantile_values[i]->quantile == want_q[i]);
        assert_true(p->quantile_values[i]->value == want_v[i]);
    }
    assert_string_equal(ms[2]->name, "lat.avg");
    assert_int_equal(ms[2]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_true(ms[2]->gauge->data_points[0]->as_double == 50.5);
    assert_string_equal(ms[3]->name, "lat.hmean");
    assert_int_equal(ms[3]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_string_equal(ms[4]->name, "lat");
    p = ms[4]->summary->data_points[0];
    assert_true(p->count == 4 && p->sum == 10 && p->n_quantile_values == 0);
    assert_string_equal(p->attributes[1]->value->string_value, "b");
    assert_string_equal(ms[5]->name, "lat.avg");
    assert_string_equal(ms[6]->name, "set");
    assert_int_equal(ms[6]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    recorder_free(&rc);

    /* Without count: count 0 and sum only from a sum part. Only avg: no Summary at all. */
    vn_inter_metric_t m2[] = {
        HP("lat.max", VN_HP_MAX, 0, 9, VN_IM_GAUGE),
        HP("lat.avg", VN_HP_AVG, 0, 4, VN_IM_GAUGE),
        {.name = "abc.avg", .value = 1, .type = VN_IM_GAUGE, .hist_part = VN_HP_AVG, .hist_base_len = 3},
    };
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m2, 3, &info, record, &rc), VN_OK);
    sm = rc.r[0].req->resource_metrics[0]->scope_metrics[0];
    assert_int_equal(sm->n_metrics, 3);
    p = sm->metrics[0]->summary->data_points[0];
    assert_true(p->count == 0 && p->sum == 0 && quantile_of(p, 1) == 9);
    assert_string_equal(sm->metrics[1]->name, "lat.avg");
    assert_string_equal(sm->metrics[2]->name, "abc.avg");
    recorder_free(&rc);
    vn_otlp__destroy(&x);

    /* histograms_as: gauges keeps the flat form */
    vn_kv_t kv[] = {{.key = "histograms_as", .value = "gauges"}};
    assert_int_equal(init(&x, kv, 1), VN_OK);
    assert_int_equal(vn_otlp__encode_metrics(&x, &s, m, n, &info, record, &rc), VN_OK);
    sm = rc.r[0].req->resource_metrics[0]->scope_metrics[0];
    assert_int_equal(sm->n_metrics, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(sm->metrics[i]->name, m[i].name);
        assert_int_equal(sm->metrics[i]->data_case, m[i].type == VN_IM_COUNTER
                                                        ? OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM
                                                        : OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    }
    recorder_free(&rc);
    vn_otlp__destroy(&x);
    vn_kv_t bad[] = {{.key = "histograms_as", .value = "histogram"}};
    char err[256];
    vn_sink_config_t sc = {.kind = "otlp", .name = "o", .kv = bad, .n_kv = 1};
    assert_int_equal(vn_otlp__init(&x, &sc, "o", err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "histograms_as"));
    vn_otlp__destroy(&x);
}

/* The flusher's chunks at a tiny size (one metric): every timer still arrives as one whole Summary,
 * and a body limit of one metric splits between Summaries, never inside one. */
static void test_otlp__summary_tiny_chunks(void **state)
{
    (void)state;
    enum { NT = 12 };
    vn_series_map_t *map = vn_series_map_new(0);
    for (int i = 0; i < NT; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "t%02d\nk:v", i);
        vn_series_t *se = vn_series_map_upsert(map, vn_fnv1a32_add(VN_FNV1A32_INIT, key, (size_t)kl), VN_MT_TIMER,
                                               VN_SCOPE_MIXED, key, (size_t)kl);
        for (int v = 1; v <= 10 + i; v++)
            vn_histo_sample(se->u.histo, v, 1);
    }
    double pct[] = {0.5, 0.99};
    const char *names[] = {".50percentile", ".99percentile"};
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT | VN_AGG_SUM,
                          .percentiles = pct, .pct_names = names, .npct = 2, .hostname = "h"};
    vn_kv_t kv[] = {{.key = "flush_max_per_body", .value = "1"}, {.key = "compression", .value = "none"}};
    vn_otlp_t x;
    assert_int_equal(init(&x, kv, 2), VN_OK);
    vn_sink_t s = {.name = "o"};
    vn_flush_info_t info = {.timestamp = 1000, .interval_s = 10, .hostname = "h"};
    int seen[NT] = {0};
    size_t calls = 0;
    for (size_t at = 0; at < map->cap;) {
        vn_flush_output_t o;
        vn_flush_output_init(&o);
        at = vn_flush_generate_bounded(map, at, 1, SIZE_MAX, &r, 1000, &o);
        recorder_t rc = {.gzip = 0};
        assert_int_equal(vn_otlp__encode_metrics(&x, &s, o.m, o.n, &info, record, &rc), VN_OK);
        calls += o.n > 0;
        for (size_t b = 0; b < rc.n; b++) {
            Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rc.r[b].req->resource_metrics[0]->scope_metrics[0];
            assert_int_equal(sm->n_metrics, 1);
            pbm_t *pm = sm->metrics[0];
            assert_int_equal(pm->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
            int i = atoi(pm->name + 1);
            assert_true(i >= 0 && i < NT);
            seen[i]++;
            sdp_t *p = pm->summary->data_points[0];
            int cnt = 10 + i;
            assert_true(p->count == (uint64_t)cnt);
            assert_true(p->sum == cnt * (cnt + 1) / 2.0);
            assert_int_equal(p->n_quantile_values, 4);
            assert_true(quantile_of(p, 0) == 1 && quantile_of(p, 1) == cnt);
            assert_true(quantile_of(p, 0.5) > 1 && quantile_of(p, 0.5) < cnt);
            assert_string_equal(p->attributes[0]->key, "k");
        }
        recorder_free(&rc);
        vn_flush_output_destroy(&o);
    }
    assert_int_equal(calls, NT);
    for (int i = 0; i < NT; i++)
        assert_int_equal(seen[i], 1);
    vn_otlp__destroy(&x);
    vn_series_map_free(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otlp__mapping),
        cmocka_unit_test(test_otlp__summary),
        cmocka_unit_test(test_otlp__summary_tiny_chunks),
        cmocka_unit_test(test_otlp__excluded_and_sink_only),
        cmocka_unit_test(test_otlp__splits),
        cmocka_unit_test(test_otlp__config),
        cmocka_unit_test(test_otlp__grpc_needs_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
