/*
 * test_convert.c - otlp/convert.h: requests built with the protobuf-c code
 * of proto/otlp_*.proto, packed, converted; the samples are checked one by
 * one (type, value, rate, tags, scope): gauges, delta and cumulative sums
 * (baseline, reset, table cap), explicit and exponential histograms,
 * refusals.
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

#include "otlp/convert.h"
#include "otlp_metrics_service.pb-c.h"

typedef struct sample {
    char name[64];
    vn_mtype_t type;
    vn_scope_t scope;
    double value, rate;
    char tags[256]; /* joined with '|' */
} sample_t;

static sample_t got[256];
static size_t ngot;

static bool rec(void *ctx, vn_str_t name, vn_mtype_t type, vn_scope_t scope, double value, double rate,
                const vn_str_t *tags, size_t ntags)
{
    (void)ctx;
    assert_true(ngot < 256);
    sample_t *s = &got[ngot++];
    snprintf(s->name, sizeof s->name, "%.*s", (int)name.len, name.p);
    s->type = type;
    s->scope = scope;
    s->value = value;
    s->rate = rate;
    s->tags[0] = '\0';
    for (size_t i = 0; i < ntags; i++) {
        size_t l = strlen(s->tags);
        snprintf(s->tags + l, sizeof s->tags - l, "%s%.*s", i ? "|" : "", (int)tags[i].len, tags[i].p);
    }
    return true;
}

/* ---- request building ---- */

typedef Opentelemetry__Proto__Metrics__V1__Metric metric_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;

static kv_t kvs[16];
static any_t anys[16];
static kv_t *kvp[16];

static kv_t **attrs_str(size_t n, const char *const *kv)
{
    for (size_t i = 0; i < n; i++) {
        opentelemetry__proto__common__v1__any_value__init(&anys[i]);
        anys[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        anys[i].string_value = (char *)(uintptr_t)kv[2 * i + 1];
        opentelemetry__proto__common__v1__key_value__init(&kvs[i]);
        kvs[i].key = (char *)(uintptr_t)kv[2 * i];
        kvs[i].value = &anys[i];
        kvp[i] = &kvs[i];
    }
    return kvp;
}

/* Packs one request of metrics ms[0..n) under a resource with host.name host (NULL: none) and converts it. */
static vn_err_t convert(vn_otlp_conv_t *cv, const char *host, metric_t **ms, size_t n, uint64_t *rejected)
{
    Opentelemetry__Proto__Common__V1__AnyValue hv = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    hv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    hv.string_value = (char *)(uintptr_t)(host ? host : "");
    kv_t hkv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    hkv.key = (char *)"host.name";
    hkv.value = &hv;
    kv_t *hkvp = &hkv;
    Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    if (host) {
        res.n_attributes = 1;
        res.attributes = &hkvp;
    }
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.n_metrics = n;
    sm.metrics = ms;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *smp = &sm;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &res;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = &smp;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rmp = &rm;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.n_resource_metrics = 1;
    req.resource_metrics = &rmp;
    size_t len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(&req);
    uint8_t *buf = malloc(len + 1);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req, buf);
    ngot = 0;
    vn_err_t err = vn_otlp_conv_request(cv, buf, len, rejected);
    free(buf);
    return err;
}

static void test_convert__gauge_sum_tags(void **state)
{
    (void)state;
    vn_str_t implicit[] = {vn_str_c("env:prod")};
    vn_parser_t p = {.implicit_tags = implicit, .n_implicit = 1};
    vn_otlp_conv_t *cv = malloc(sizeof *cv);
    vn_otlp_conv_init(cv, &p, 0, rec, NULL);

    const char *a1[] = {"z", "1,2", "env", "dev", "veneurglobalonly", "x", "empty", ""};
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint g = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    g.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    g.as_double = 2.5;
    g.n_attributes = 4;
    g.attributes = attrs_str(4, a1);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *gp = &g;
    Opentelemetry__Proto__Metrics__V1__Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    gauge.n_data_points = 1;
    gauge.data_points = &gp;
    metric_t m1 = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m1.name = (char *)"g1";
    m1.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m1.gauge = &gauge;

    Opentelemetry__Proto__Metrics__V1__NumberDataPoint d = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    d.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    d.as_int = -3;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *dp = &d;
    Opentelemetry__Proto__Metrics__V1__Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    sum.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    sum.n_data_points = 1;
    sum.data_points = &dp;
    metric_t m2 = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m2.name = (char *)"s1";
    m2.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m2.sum = &sum;
    metric_t m3 = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT; /* a summary: refused */
    Opentelemetry__Proto__Metrics__V1__Summary summ = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT;
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint sdp = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *sdpp = &sdp;
    summ.n_data_points = 1;
    summ.data_points = &sdpp;
    m3.name = (char *)"sm";
    m3.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
    m3.summary = &summ;
    metric_t *ms[] = {&m1, &m2, &m3};
    uint64_t rejected = 9;
    assert_int_equal(convert(cv, "h1", ms, 3, &rejected), VN_OK);
    assert_int_equal(rejected, 1);
    assert_int_equal(ngot, 2);
    assert_string_equal(got[0].name, "g1");
    assert_int_equal(got[0].type, VN_MT_GAUGE);
    assert_int_equal(got[0].scope, VN_SCOPE_GLOBAL);
    assert_true(got[0].value == 2.5 && got[0].rate == 1);
    /* env:dev overridden by the implicit env:prod; ',' -> '_'; "" -> key only; host from the resource */
    assert_string_equal(got[0].tags, "empty|env:prod|host:h1|z:1_2");
    assert_int_equal(got[1].type, VN_MT_COUNTER);
    assert_true(got[1].value == -3);
    assert_string_equal(got[1].tags, "env:prod|host:h1");

    assert_int_equal(vn_otlp_conv_request(cv, (const uint8_t *)"\xff\xff\xff", 3, &rejected), VN_ERR_PARSE);
    vn_otlp_conv_destroy(cv);
    free(cv);
}

static metric_t *cum_sum(const char *name, Opentelemetry__Proto__Metrics__V1__Sum *sum,
                         Opentelemetry__Proto__Metrics__V1__NumberDataPoint **dp, metric_t *m)
{
    opentelemetry__proto__metrics__v1__sum__init(sum);
    sum->aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    sum->is_monotonic = true;
    sum->n_data_points = 1;
    sum->data_points = dp;
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = (char *)(uintptr_t)name;
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m->sum = sum;
    return m;
}

static void test_convert__cumulative(void **state)
{
    (void)state;
    vn_otlp_conv_t *cv = malloc(sizeof *cv);
    vn_otlp_conv_init(cv, NULL, 2, rec, NULL);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint d = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    d.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *dp = &d;
    Opentelemetry__Proto__Metrics__V1__Sum sum;
    metric_t m, *mp = cum_sum("old", &sum, &dp, &m);
    uint64_t rej;

    d.start_time_unix_nano = 1000; /* started long before the converter: baseline only */
    d.as_double = 100;
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_int_equal(ngot, 0);
    assert_int_equal(cv->c.baseline, 1);
    d.as_double = 130;
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_int_equal(ngot, 1);
    assert_true(got[0].value == 30);
    d.as_double = 130; /* unchanged: nothing */
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_int_equal(ngot, 0);
    d.as_double = 5; /* a drop: reset, counts whole */
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_true(ngot == 1 && got[0].value == 5);

    /* a series that started after the converter counts its first value whole */
    mp = cum_sum("new", &sum, &dp, &m);
    d.start_time_unix_nano = cv->started_ns + 1;
    d.as_double = 7;
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_true(ngot == 1 && got[0].value == 7 && got[0].type == VN_MT_COUNTER);
    /* the table holds 2 series: a third is refused and counted */
    mp = cum_sum("third", &sum, &dp, &m);
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_int_equal(ngot, 0);
    assert_int_equal(rej, 1);
    vn_otlp_conv_destroy(cv);
    free(cv);
}

static void test_convert__histograms(void **state)
{
    (void)state;
    vn_otlp_conv_t *cv = malloc(sizeof *cv);
    vn_otlp_conv_init(cv, NULL, 0, rec, NULL);
    /* bounds 0,10,100; counts 0,3,1,1; min 2, max 500 */
    uint64_t counts[] = {0, 3, 1, 1};
    double bounds[] = {0, 10, 100};
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint h = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    h.n_bucket_counts = 4;
    h.bucket_counts = counts;
    h.n_explicit_bounds = 3;
    h.explicit_bounds = bounds;
    h.count = 5;
    h._min_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN;
    h.min = 2;
    h._max_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX;
    h.max = 500;
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *hp = &h;
    Opentelemetry__Proto__Metrics__V1__Histogram hist = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
    hist.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    hist.n_data_points = 1;
    hist.data_points = &hp;
    metric_t m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT, *mp = &m;
    m.name = (char *)"lat";
    m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
    m.histogram = &hist;
    uint64_t rej;
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    /* min (1 of bucket (0,10]), max (the last bucket's 1), then (0,10] x2 at 5, (10,100] x1 at 55 */
    assert_int_equal(ngot, 4);
    assert_true(got[0].value == 2 && got[0].rate == 1);
    assert_true(got[1].value == 500 && got[1].rate == 1);
    assert_true(got[2].value == 5 && got[2].rate == 0.5);
    assert_true(got[3].value == 55 && got[3].rate == 1);
    for (size_t i = 0; i < ngot; i++)
        assert_int_equal(got[i].type, VN_MT_HISTOGRAM);
    /* bucket counts that do not match the bounds: refused */
    h.n_explicit_bounds = 2;
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_true(ngot == 0 && rej == 1);

    /* exponential, scale 0 (base 2): positive offset 0 counts {1, 2}, zero 1, negative offset 1 counts {1} */
    uint64_t pc[] = {1, 2}, nc[] = {1};
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets pos =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets neg =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    pos.n_bucket_counts = 2;
    pos.bucket_counts = pc;
    neg.offset = 1;
    neg.n_bucket_counts = 1;
    neg.bucket_counts = nc;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint e =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    e.positive = &pos;
    e.negative = &neg;
    e.zero_count = 1;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *ep = &e;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogram eh = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    eh.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    eh.n_data_points = 1;
    eh.data_points = &ep;
    m.name = (char *)"exp";
    m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    m.exponential_histogram = &eh;
    assert_int_equal(convert(cv, NULL, &mp, 1, &rej), VN_OK);
    assert_int_equal(ngot, 4);
    assert_true(fabs(got[0].value + pow(2, 1.5)) < 1e-12 && got[0].rate == 1); /* (-4, -2] */
    assert_true(got[1].value == 0 && got[1].rate == 1);
    assert_true(fabs(got[2].value - pow(2, 0.5)) < 1e-12 && got[2].rate == 1); /* (1, 2] */
    assert_true(fabs(got[3].value - pow(2, 1.5)) < 1e-12 && got[3].rate == 0.5);
    vn_otlp_conv_destroy(cv);
    free(cv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert__gauge_sum_tags),
        cmocka_unit_test(test_convert__cumulative),
        cmocka_unit_test(test_convert__histograms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
