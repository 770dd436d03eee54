/*
 * test_newrelic.c - sinks/newrelic encoder: exact Metric API and event
 * bodies (gunzipped), Go's tagsToKeyValue attribute rules, splitting by count
 * and by compressed size, skipped metrics, config keys and errors.
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

#include "sinks/newrelic.h"

/* ---------------------------------------------------------------- recorder */

typedef struct rec {
    char url[256];
    char hdr[VN_HTTP_MAX_HEADERS][96];
    size_t nhdr;
    char *json; /* gunzipped, NUL-terminated */
    size_t nmetrics;
} rec_t;

typedef struct recorder {
    rec_t r[64];
    size_t n;
} recorder_t;

static char *gunzip(const char *in, size_t len)
{
    size_t cap = 4 << 20;
    char *out = malloc(cap + 1);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 31), Z_OK); /* a gzip wrapper is required */
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    out[zs.total_out] = '\0';
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
    r->nmetrics = q->nmetrics;
    r->json = gunzip(q->body, q->len);
    free(q->body);
    q->body = NULL;
    return VN_OK;
}

static void recorder_free(recorder_t *rc)
{
    for (size_t i = 0; i < rc->n; i++)
        free(rc->r[i].json);
    rc->n = 0;
}

/* ---------------------------------------------------------------- fixtures */

#define TS 1700000000

static vn_nr_t *nr_new(const vn_kv_t *extra, size_t nextra)
{
    vn_kv_t kv[16] = {{.key = "insert_key", .value = "NRKEY"}, {.key = "account_id", .value = "77"}};
    size_t n = 2;
    for (size_t i = 0; i < nextra; i++)
        kv[n++] = extra[i];
    vn_sink_config_t sc = {.kind = "newrelic", .name = "nr", .kv = kv, .n_kv = n};
    vn_nr_t *x = calloc(1, sizeof *x);
    char err[256] = "";
    assert_int_equal(vn_nr__init(x, &sc, "nr", err, sizeof err), VN_OK);
    return x;
}

static void nr_free(vn_nr_t *x)
{
    vn_nr__destroy(x);
    free(x);
}

static const vn_flush_info_t INFO = {.timestamp = TS, .interval_s = 10, .hostname = "host1", .deadline_s = 1e9};
static vn_sink_t SINK = {.name = "nr"};

/* ---------------------------------------------------------------- cases */

static void test_newrelic__metrics_body_exact(void **state)
{
    (void)state;
    vn_kv_t extra[] = {{.key = "common_tags", .value = "env:prod,dc:7"}};
    vn_nr_t *x = nr_new(extra, 1);
    const char *t1[] = {"a:b", "n:1.5"};
    vn_inter_metric_t m[] = {
        {.name = "c.one", .timestamp = TS, .value = 6, .tags = t1, .ntags = 2, .type = VN_IM_COUNTER, .hostname = "h"},
        {.name = "g.two", .timestamp = TS, .value = -0.25, .type = VN_IM_GAUGE, .hostname = "h"},
    };
    recorder_t rc = {0};
    assert_int_equal(vn_nr__encode_metrics(x, &SINK, m, 2, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.r[0].url, VN_NR_METRIC_URL_US);
    assert_string_equal(rc.r[0].hdr[0], "Api-Key: NRKEY");
    assert_string_equal(rc.r[0].hdr[1], "Content-Type: application/json");
    assert_string_equal(rc.r[0].hdr[2], "Content-Encoding: gzip");
    assert_int_equal(rc.r[0].nmetrics, 2);
    assert_string_equal(rc.r[0].json,
                        "[{\"common\":{\"timestamp\":1699999990000,\"interval.ms\":10000,"
                        "\"attributes\":{\"env\":\"prod\",\"dc\":7}},\"metrics\":["
                        "{\"name\":\"c.one\",\"type\":\"count\",\"value\":6,\"timestamp\":1700000000000,"
                        "\"interval.ms\":10000,\"attributes\":{\"a\":\"b\",\"n\":1.5}},"
                        "{\"name\":\"g.two\",\"type\":\"gauge\",\"value\":-0.25,\"timestamp\":1700000000000}]}]");
    recorder_free(&rc);
    nr_free(x);
}

static void test_newrelic__attribute_rules(void **state)
{
    (void)state;
    const char *tags[] = {"bare",   "i:42",      "f:-1e-3",  "inf:infinity", "INF:Inf", "nan:NaN", "hex:0x10",
                          "hp:0x1p4", "sp: 1",   "empty:",   "dup:1",        "dup:two", "big:1e999", "excl:x",
                          "hostname:tagged"};
    const char *excl[] = {"excl"};
    vn_sink_t s = {.name = "nr", .excluded_tags = excl, .n_excluded_tags = 1};
    vn_buf_t b = VN_BUF_INIT(4096);
    assert_int_equal(vn_nr__attributes(&b, &s, tags, sizeof tags / sizeof tags[0], "realhost", NULL, NULL, true),
                     VN_OK);
    assert_string_equal(vn_buf_ptr(&b), "{\"bare\":\"true\",\"i\":42,\"f\":-0.001,\"inf\":\"infinity\","
                                        "\"INF\":\"Inf\",\"nan\":\"NaN\",\"hex\":\"0x10\",\"hp\":16,\"sp\":\" 1\","
                                        "\"empty\":\"\",\"dup\":\"two\",\"big\":\"1e999\",\"hostname\":\"realhost\"}");
    vn_buf_reset(&b);
    /* without braces: members only, each with its leading comma; skip list honoured */
    const char *skip[] = {"name", NULL};
    const char *t2[] = {"name:x", "k:v"};
    assert_int_equal(vn_nr__attributes(&b, NULL, t2, 2, NULL, "msg", skip, false), VN_OK);
    assert_string_equal(vn_buf_ptr(&b), ",\"k\":\"v\",\"message\":\"msg\"");
    vn_buf_free(&b);
}

static void test_newrelic__checks_and_events(void **state)
{
    (void)state;
    vn_nr_t *x = nr_new(NULL, 0);
    const char *tags[] = {"env:x", "status:spoof"};
    vn_inter_metric_t m[] = {
        {.name = "svc.up", .timestamp = TS, .value = 1, .tags = tags, .ntags = 2, .type = VN_IM_STATUS,
         .message = "slow", .hostname = "web1"},
        {.name = "svc.down", .timestamp = TS, .value = 3, .type = VN_IM_STATUS, .hostname = ""},
    };
    recorder_t rc = {0};
    assert_int_equal(vn_nr__encode_metrics(x, &SINK, m, 2, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.r[0].url, VN_NR_INSIGHTS_US "/accounts/77/events");
    assert_string_equal(rc.r[0].hdr[0], "X-Insert-Key: NRKEY");
    assert_string_equal(rc.r[0].json,
                        "[{\"eventType\":\"veneurCheck\",\"name\":\"svc.up\",\"timestamp\":1700000000,"
                        "\"statusCode\":1,\"status\":\"WARNING\",\"env\":\"x\",\"hostname\":\"web1\","
                        "\"message\":\"slow\"},"
                        "{\"eventType\":\"veneurCheck\",\"name\":\"svc.down\",\"timestamp\":1700000000,"
                        "\"statusCode\":3,\"status\":\"UNKNOWN\"}]");
    recorder_free(&rc);

    const char *et[] = {"k:v", "name:shadowed"};
    vn_sink_event_t ev = {.title = "deploy", .text = "done", .hostname = "h2", .priority = "low", .timestamp = TS,
                          .tags = et, .ntags = 2};
    assert_int_equal(vn_nr__encode_events(x, &SINK, &ev, 1, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.r[0].json,
                        "[{\"eventType\":\"veneur\",\"type\":0,\"name\":\"deploy\",\"value\":0,"
                        "\"timestamp\":1700000000,\"message\":\"done\",\"status\":0,\"rate\":1,\"unit\":\"\","
                        "\"scope\":0,\"vdogstatsd_ev\":\"\",\"vdogstatsd_hostname\":\"h2\","
                        "\"vdogstatsd_pri\":\"low\",\"k\":\"v\"}]");
    recorder_free(&rc);
    nr_free(x);

    /* no account id: checks and events are skipped and counted, metrics still go */
    vn_kv_t kv[] = {{.key = "insert_key", .value = "K"}};
    vn_sink_config_t sc = {.kind = "newrelic", .kv = kv, .n_kv = 1};
    vn_nr_t y;
    assert_int_equal(vn_nr__init(&y, &sc, "nr", NULL, 0), VN_OK);
    assert_null(y.event_url);
    assert_int_equal(vn_nr__encode_metrics(&y, &SINK, m, 2, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 0);
    assert_int_equal(y.skipped, 2);
    vn_nr__destroy(&y);
}

static void test_newrelic__splits_and_skips(void **state)
{
    (void)state;
    vn_kv_t extra[] = {{.key = "flush_max_per_body", .value = "3"}};
    vn_nr_t *x = nr_new(extra, 1);
    vn_inter_metric_t m[8];
    char names[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "m.%d", i);
        m[i] = (vn_inter_metric_t){.name = names[i], .timestamp = TS, .value = i, .type = VN_IM_GAUGE};
    }
    m[5].value = NAN;
    m[6].sink_only = "other"; /* veneursinkonly for another sink */
    recorder_t rc = {0};
    assert_int_equal(vn_nr__encode_metrics(x, &SINK, m, 8, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 2); /* 6 sent: 3 + 3 */
    assert_int_equal(rc.r[0].nmetrics + rc.r[1].nmetrics, 6);
    assert_int_equal(x->skipped, 1);
    assert_null(strstr(rc.r[1].json, "m.5"));
    assert_null(strstr(rc.r[1].json, "m.6"));
    recorder_free(&rc);

    /* a tiny compressed cap splits down to one metric per body */
    x->max_per_body = 100;
    x->gzip_cap = 10;
    assert_int_equal(vn_nr__encode_metrics(x, &SINK, m, 5, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 5);
    for (size_t i = 0; i < rc.n; i++)
        assert_int_equal(rc.r[i].nmetrics, 1);
    recorder_free(&rc);
    nr_free(x);
}

static void test_newrelic__config(void **state)
{
    (void)state;
    static const struct {
        vn_kv_t kv[4];
        size_t n;
        const char *want; /* NULL: accepted */
    } cases[] = {
        {{{.key = "account_id", .value = "1"}}, 1, "insert_key is required"},
        {{{.key = "insert_key", .value = "K"}, {.key = "region", .value = "APAC"}}, 2, "region"},
        {{{.key = "insert_key", .value = "K"}, {.key = "account_id", .value = "12x"}}, 2, "account_id"},
        {{{.key = "insert_key", .value = "K\n"}}, 1, "control characters"},
        {{{.key = "insert_key", .value = "K"}, {.key = "metric_url", .value = "ftp://x"}}, 2, "metric_url"},
        {{{.key = "insert_key", .value = "K"}, {.key = "region", .value = "eu"}}, 2, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_sink_config_t sc = {.kind = "newrelic", .kv = (vn_kv_t *)cases[i].kv, .n_kv = cases[i].n};
        vn_nr_t x;
        char err[256] = "";
        vn_err_t rc = vn_nr__init(&x, &sc, "nr", err, sizeof err);
        if (cases[i].want) {
            assert_int_equal(rc, VN_ERR_CONFIG);
            assert_non_null(strstr(err, cases[i].want));
            assert_non_null(strstr(err, "sink \"nr\" (newrelic)"));
        } else {
            assert_int_equal(rc, VN_OK);
            assert_string_equal(x.metric_url, VN_NR_METRIC_URL_EU);
        }
        vn_nr__destroy(&x);
    }
    vn_kv_t kv[] = {{.key = "insert_key", .value = "K"},
                    {.key = "account_id", .value = "5"},
                    {.key = "region", .value = "EU"},
                    {.key = "event_url", .value = "http://fake:1/v1/"},
                    {.key = "event_type", .value = "ev"},
                    {.key = "service_check_event_type", .value = "chk"}};
    vn_sink_config_t sc = {.kind = "newrelic", .kv = kv, .n_kv = 6};
    vn_nr_t x;
    assert_int_equal(vn_nr__init(&x, &sc, "nr", NULL, 0), VN_OK);
    assert_string_equal(x.event_url, "http://fake:1/v1/accounts/5/events");
    assert_string_equal(x.event_type, "ev");
    assert_string_equal(x.check_event_type, "chk");
    vn_nr__destroy(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newrelic__metrics_body_exact), cmocka_unit_test(test_newrelic__attribute_rules),
        cmocka_unit_test(test_newrelic__checks_and_events),  cmocka_unit_test(test_newrelic__splits_and_skips),
        cmocka_unit_test(test_newrelic__config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
