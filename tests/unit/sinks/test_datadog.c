/*
 * test_datadog.c - sinks/datadog encoder: exact JSON bytes of series, service
 * checks and events (after inflating the deflate bodies), counters as rates,
 * magic host/device tags, tag filters, chunking like Go and by byte caps,
 * escaping, config errors and the registry entry.
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
#include <time.h>
#include <zlib.h>

#include "sinks/datadog.h"

/* ---------------------------------------------------------------- recorder */

typedef struct rec {
    const char *what;
    char url[256];
    char hdr[VN_HTTP_MAX_HEADERS][96];
    size_t nhdr;
    char *body; /* inflated when deflate-encoded */
    size_t len;
    size_t nmetrics;
} rec_t;

typedef struct recorder {
    rec_t r[64];
    size_t n;
} recorder_t;

static char *inflate_all(const char *in, size_t len, size_t *out_len)
{
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap + 1);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15), Z_OK); /* zlib wrapper (RFC 1950) required */
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        if (n == cap) {
            cap *= 2;
            out = realloc(out, cap + 1);
        }
        zs.next_out = (Bytef *)out + n;
        zs.avail_out = (uInt)(cap - n);
        rc = inflate(&zs, Z_NO_FLUSH);
        n = zs.total_out;
    } while (rc == Z_OK);
    assert_int_equal(rc, Z_STREAM_END);
    inflateEnd(&zs);
    out[n] = '\0';
    *out_len = n;
    return out;
}

static bool has_hdr(const rec_t *r, const char *h)
{
    for (size_t i = 0; i < r->nhdr; i++)
        if (strcmp(r->hdr[i], h) == 0)
            return true;
    return false;
}

static vn_err_t record(void *ctx, vn_delivery_req_t *q)
{
    recorder_t *rc = ctx;
    assert_true(rc->n < 64);
    rec_t *r = &rc->r[rc->n++];
    r->what = q->what;
    snprintf(r->url, sizeof r->url, "%s", q->url);
    r->nhdr = q->nheaders;
    for (size_t i = 0; i < q->nheaders; i++)
        snprintf(r->hdr[i], sizeof r->hdr[i], "%s", q->headers[i]);
    r->nmetrics = q->nmetrics;
    r->len = q->len; /* as sent */
    if (has_hdr(r, "Content-Encoding: deflate")) {
        size_t n;
        r->body = inflate_all(q->body, q->len, &n);
        free(q->body);
    } else {
        r->body = realloc(q->body, q->len + 1);
        r->body[q->len] = '\0';
    }
    q->body = NULL;
    return VN_OK;
}

static void recorder_free(recorder_t *rc)
{
    for (size_t i = 0; i < rc->n; i++)
        free(rc->r[i].body);
    rc->n = 0;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---------------------------------------------------------------- fixtures */

#define TS 1700000000

static vn_dd_t *dd_new(vn_kv_t *extra, size_t nextra)
{
    vn_kv_t kv[16] = {{.key = "api_key", .value = "abc+def"}, {.key = "api_hostname", .value = "https://dd.example/"}};
    size_t n = 2;
    for (size_t i = 0; i < nextra; i++)
        kv[n++] = extra[i];
    vn_sink_config_t sc = {.kind = "datadog", .name = "dd", .kv = kv, .n_kv = n};
    vn_dd_t *dd = calloc(1, sizeof *dd);
    char err[256] = "";
    assert_int_equal(vn_dd__init(dd, &sc, "dd", err, sizeof err), VN_OK);
    return dd;
}

static void dd_free(vn_dd_t *dd)
{
    vn_dd__destroy(dd);
    free(dd);
}

static const vn_flush_info_t INFO10 = {.timestamp = TS, .interval_s = 10, .hostname = "h"};

static vn_inter_metric_t M(const char *name, vn_im_type_t type, double v, const char *const *tags, size_t ntags)
{
    return (vn_inter_metric_t){.name = name, .timestamp = TS, .value = v, .tags = tags, .ntags = ntags,
                               .type = type, .hostname = "h"};
}

/* ---------------------------------------------------------------- cases */

static void test_datadog__series_exact_json(void **state)
{
    (void)state;
    vn_dd_t *dd = dd_new(NULL, 0);
    const char *t1[] = {"device:sda", "host:web1", "x:1"};
    const char *t3[] = {"host:", "z:9"}; /* an empty host tag falls back to the hostname */
    vn_inter_metric_t m[] = {
        M("a.b", VN_IM_COUNTER, 3, t1, 3),
        M("g", VN_IM_GAUGE, 0.1, NULL, 0),
        M("c", VN_IM_COUNTER, 0, t3, 2),
        M("big", VN_IM_GAUGE, 1e21, NULL, 0),
    };
    vn_sink_t s = {.name = "dd"};
    recorder_t rc = {0};
    assert_int_equal(vn_dd__encode_metrics(dd, &s, m, 4, &INFO10, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    rec_t *r = &rc.r[0];
    assert_string_equal(r->what, "series");
    assert_string_equal(r->url, "https://dd.example/api/v1/series?api_key=abc%2Bdef");
    assert_int_equal(r->nhdr, 2);
    assert_string_equal(r->hdr[0], "Content-Type: application/json");
    assert_string_equal(r->hdr[1], "Content-Encoding: deflate");
    assert_int_equal(r->nmetrics, 4);
    assert_string_equal(r->body,
                        "{\"series\":["
                        "{\"metric\":\"a.b\",\"points\":[[1700000000,0.3]],\"tags\":[\"x:1\"],\"type\":\"rate\","
                        "\"host\":\"web1\",\"device_name\":\"sda\",\"interval\":10},"
                        "{\"metric\":\"g\",\"points\":[[1700000000,0.1]],\"type\":\"gauge\",\"host\":\"h\",\"interval\":10},"
                        "{\"metric\":\"c\",\"points\":[[1700000000,0]],\"tags\":[\"z:9\"],\"type\":\"rate\","
                        "\"host\":\"h\",\"interval\":10},"
                        "{\"metric\":\"big\",\"points\":[[1700000000,1e+21]],\"type\":\"gauge\",\"host\":\"h\","
                        "\"interval\":10}"
                        "]}\n");
    recorder_free(&rc);

    /* rate division by a non-integer interval; interval is truncated; no hostname at all */
    vn_flush_info_t info = {.timestamp = TS, .interval_s = 2.5, .hostname = ""};
    vn_inter_metric_t c = M("r", VN_IM_COUNTER, 5, NULL, 0);
    c.hostname = "";
    assert_int_equal(vn_dd__encode_metrics(dd, &s, &c, 1, &info, record, &rc), VN_OK);
    assert_string_equal(rc.r[0].body,
                        "{\"series\":[{\"metric\":\"r\",\"points\":[[1700000000,2]],\"type\":\"rate\",\"interval\":2}]}\n");
    recorder_free(&rc);
    /* a sub-second interval has no `interval` field (Go's int32 truncation gives 0, omitted) */
    info.interval_s = 0.5;
    assert_int_equal(vn_dd__encode_metrics(dd, &s, &c, 1, &info, record, &rc), VN_OK);
    assert_string_equal(rc.r[0].body, "{\"series\":[{\"metric\":\"r\",\"points\":[[1700000000,10]],\"type\":\"rate\"}]}\n");
    recorder_free(&rc);
    dd_free(dd);
}

static void test_datadog__escaping(void **state)
{
    (void)state;
    vn_dd_t *dd = dd_new(NULL, 0);
    const char *tags[] = {"k:\"v\"\\", "caf\xc3\xa9:\xe2\x80\xa8", "bad:\xff"};
    vn_inter_metric_t m = M("we\"ird\\name\n\x01", VN_IM_GAUGE, -2.5, tags, 3);
    vn_sink_t s = {.name = "dd"};
    recorder_t rc = {0};
    assert_int_equal(vn_dd__encode_metrics(dd, &s, &m, 1, &INFO10, record, &rc), VN_OK);
    assert_string_equal(rc.r[0].body,
                        "{\"series\":[{\"metric\":\"we\\\"ird\\\\name\\n\\u0001\",\"points\":[[1700000000,-2.5]],"
                        "\"tags\":[\"k:\\\"v\\\"\\\\\",\"caf\xc3\xa9:\\u2028\",\"bad:\\ufffd\"],\"type\":\"gauge\","
                        "\"host\":\"h\",\"interval\":10}]}\n");
    recorder_free(&rc);
    dd_free(dd);
}

static void test_datadog__filters(void **state)
{
    (void)state;
    char *drops[] = {"drop.", "x.y"};
    char *rule0[] = {"secret", "env:"};
    char *rule1[] = {"never"};
    vn_kv_t extra[] = {
        {.key = "metric_name_prefix_drops", .value = "drop.,x.y", .list = {drops, 2}, .is_list = true},
        {.key = "exclude_tags_prefix_by_prefix_metric.0.metric_prefix", .value = "app."},
        {.key = "exclude_tags_prefix_by_prefix_metric.0.tags", .value = "secret,env:", .list = {rule0, 2},
         .is_list = true},
        {.key = "exclude_tags_prefix_by_prefix_metric.1.metric_prefix", .value = "app.db"},
        {.key = "exclude_tags_prefix_by_prefix_metric.1.tags", .value = "never", .list = {rule1, 1}, .is_list = true},
    };
    vn_dd_t *dd = dd_new(extra, 5);
    assert_int_equal(dd->n_name_drops, 2);
    assert_int_equal(dd->n_tag_rules, 2);
    const char *excl[] = {"host", "team"}; /* tags_exclude prefixes of this sink */
    vn_sink_t s = {.name = "dd", .excluded_tags = excl, .n_excluded_tags = 2};
    const char *ta[] = {"env:prod", "host:web2", "hostname:x", "never:1", "secret_a:1", "team:a", "z:1"};
    vn_inter_metric_t m[] = {
        M("drop.me", VN_IM_GAUGE, 1, NULL, 0),
        M("x.yz", VN_IM_GAUGE, 1, NULL, 0),
        M("app.db.q", VN_IM_GAUGE, 1, ta, 7), /* first matching rule (config order) applies */
        M("other", VN_IM_GAUGE, 1, ta, 7),
        M("nan", VN_IM_GAUGE, NAN, NULL, 0),
        M("inf", VN_IM_COUNTER, INFINITY, NULL, 0),
        M("mine", VN_IM_GAUGE, 1, NULL, 0),
        M("theirs", VN_IM_GAUGE, 1, NULL, 0),
    };
    m[6].sink_only = "dd";
    m[7].sink_only = "signalfx";
    recorder_t rc = {0};
    assert_int_equal(vn_dd__encode_metrics(dd, &s, m, 8, &INFO10, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.r[0].body,
                        "{\"series\":["
                        "{\"metric\":\"app.db.q\",\"points\":[[1700000000,1]],\"tags\":[\"never:1\",\"z:1\"],"
                        "\"type\":\"gauge\",\"host\":\"web2\",\"interval\":10},"
                        "{\"metric\":\"other\",\"points\":[[1700000000,1]],\"tags\":[\"env:prod\",\"never:1\","
                        "\"secret_a:1\",\"z:1\"],\"type\":\"gauge\",\"host\":\"web2\",\"interval\":10},"
                        "{\"metric\":\"mine\",\"points\":[[1700000000,1]],\"type\":\"gauge\",\"host\":\"h\",\"interval\":10}"
                        "]}\n");
    assert_int_equal(rc.r[0].nmetrics, 3);
    assert_int_equal(dd->skipped, 2); /* NaN and Inf are never sent */
    recorder_free(&rc);
    dd_free(dd);
}

static void test_datadog__chunking_like_go(void **state)
{
    (void)state;
    static const struct {
        const char *max;
        size_t n;
        size_t want[8];
        size_t nwant;
    } cases[] = {
        {"2", 5, {2, 2, 1}, 3},
        {"3", 7, {3, 3, 1}, 3},
        {"4", 10, {4, 4, 2}, 3},
        {"9", 10, {5, 5}, 2},
        {"1", 3, {1, 1, 1}, 3},
        {"0", 4, {4}, 1}, /* 0 means the default, 25000 */
        {"25000", 25000, {25000}, 1},
        {"25000", 25001, {12501, 12500}, 2},
    };
    static vn_inter_metric_t m[25001];
    for (size_t i = 0; i < 25001; i++)
        m[i] = M("m", VN_IM_GAUGE, (double)i, NULL, 0);
    vn_sink_t s = {.name = "dd"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vn_kv_t kv = {.key = "flush_max_per_body", .value = (char *)cases[c].max};
        vn_dd_t *dd = dd_new(&kv, 1);
        recorder_t rc = {0};
        assert_int_equal(vn_dd__encode_metrics(dd, &s, m, cases[c].n, &INFO10, record, &rc), VN_OK);
        assert_int_equal(rc.n, cases[c].nwant);
        size_t next = 0;
        for (size_t b = 0; b < rc.n; b++) {
            assert_int_equal(rc.r[b].nmetrics, cases[c].want[b]);
            assert_int_equal(count_of(rc.r[b].body, "\"metric\":"), cases[c].want[b]);
            /* in order, none lost: the first value of each body continues the last */
            char first[64];
            snprintf(first, sizeof first, "[[1700000000,%zu]]", next);
            assert_non_null(strstr(rc.r[b].body, first));
            next += cases[c].want[b];
        }
        recorder_free(&rc);
        dd_free(dd);
    }
}

static void test_datadog__bodies_under_byte_caps(void **state)
{
    (void)state;
    vn_dd_t *dd = dd_new(NULL, 0);
    vn_sink_t s = {.name = "dd"};
    static vn_inter_metric_t m[400];
    static char names[400][32];
    for (size_t i = 0; i < 400; i++) {
        /* incompressible-ish names so the compressed size grows with the count */
        snprintf(names[i], sizeof names[i], "n%zx.%08x", i, (unsigned)(i * 2654435761u));
        m[i] = M(names[i], VN_IM_GAUGE, (double)i * 1.37, NULL, 0);
    }
    dd->sent_cap = 2000; /* compressed bytes per body */
    recorder_t rc = {0};
    assert_int_equal(vn_dd__encode_metrics(dd, &s, m, 400, &INFO10, record, &rc), VN_OK);
    assert_true(rc.n > 2);
    size_t total = 0;
    for (size_t b = 0; b < rc.n; b++) {
        assert_true(rc.r[b].len <= 2000);
        total += rc.r[b].nmetrics;
        assert_int_equal(count_of(rc.r[b].body, "\"metric\":"), rc.r[b].nmetrics);
    }
    assert_int_equal(total, 400);
    recorder_free(&rc);

    /* the uncompressed cap too; a single series over it is dropped and counted */
    dd->sent_cap = VN_DD_SENT_CAP;
    dd->raw_cap = 600;
    char longname[700];
    memset(longname, 'q', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    m[0] = M(longname, VN_IM_GAUGE, 1, NULL, 0);
    assert_int_equal(vn_dd__encode_metrics(dd, &s, m, 20, &INFO10, record, &rc), VN_OK);
    total = 0;
    for (size_t b = 0; b < rc.n; b++) {
        assert_true(strlen(rc.r[b].body) <= 600);
        total += rc.r[b].nmetrics;
    }
    assert_int_equal(total, 19);
    assert_int_equal(dd->skipped, 1);
    recorder_free(&rc);
    dd_free(dd);
}

static void test_datadog__service_checks(void **state)
{
    (void)state;
    vn_kv_t kv = {.key = "flush_max_per_body", .value = "2"};
    vn_dd_t *dd = dd_new(&kv, 1);
    const char *t1[] = {"a:b"};
    const char *t2[] = {"host:db1", "z:1"};
    vn_inter_metric_t m[] = {
        M("svc.up", VN_IM_STATUS, 2, t1, 1),
        M("svc.plain", VN_IM_STATUS, 0, NULL, 0),
        M("svc.tagged", VN_IM_STATUS, 3, t2, 2),
        M("gauge", VN_IM_GAUGE, 1, NULL, 0),
    };
    m[0].message = "disk \"full\"";
    m[0].hostname = "other"; /* the service check's h: host */
    m[1].timestamp = 0;
    m[1].message = "";
    vn_sink_t s = {.name = "dd"};
    recorder_t rc = {0};
    assert_int_equal(vn_dd__encode_metrics(dd, &s, m, 4, &INFO10, record, &rc), VN_OK);
    assert_int_equal(rc.n, 3); /* checks: 2 + 1 (same split rule), series: 1 */
    assert_string_equal(rc.r[0].what, "check_run");
    assert_string_equal(rc.r[0].url, "https://dd.example/api/v1/check_run?api_key=abc%2Bdef");
    assert_int_equal(rc.r[0].nhdr, 1); /* not compressed */
    assert_string_equal(rc.r[0].hdr[0], "Content-Type: application/json");
    assert_string_equal(rc.r[0].body,
                        "[{\"check\":\"svc.up\",\"status\":2,\"host_name\":\"other\",\"timestamp\":1700000000,"
                        "\"tags\":[\"a:b\"],\"message\":\"disk \\\"full\\\"\"},"
                        "{\"check\":\"svc.plain\",\"status\":0,\"host_name\":\"h\"}]\n");
    assert_int_equal(rc.r[0].len, strlen(rc.r[0].body));
    assert_string_equal(rc.r[1].body, "[{\"check\":\"svc.tagged\",\"status\":3,\"host_name\":\"db1\","
                                      "\"timestamp\":1700000000,\"tags\":[\"z:1\"]}]\n");
    assert_string_equal(rc.r[2].what, "series");
    assert_int_equal(rc.r[2].nmetrics, 1);
    recorder_free(&rc);
    dd_free(dd);
}

static void test_datadog__events(void **state)
{
    (void)state;
    vn_dd_t *dd = dd_new(NULL, 0);
    const char *tags[] = {"env:prod", "team:obs"};
    vn_sink_event_t ev[] = {
        {.title = "deploy", .text = "v2 \"out\"\nnow", .hostname = "web1", .agg_key = "k", .priority = "low",
         .source_type = "jenkins", .alert_type = "warning", .timestamp = TS, .tags = tags, .ntags = 2},
        {.title = "bare", .text = ""},
    };
    recorder_t rc = {0};
    assert_int_equal(vn_dd__encode_events(dd, ev, 2, &INFO10, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.r[0].what, "intake");
    assert_string_equal(rc.r[0].url, "https://dd.example/intake?api_key=abc%2Bdef");
    assert_true(has_hdr(&rc.r[0], "Content-Encoding: deflate"));
    assert_true(has_hdr(&rc.r[0], "Content-Type: application/json"));
    assert_string_equal(rc.r[0].body,
                        "{\"events\":{\"api\":["
                        "{\"msg_title\":\"deploy\",\"msg_text\":\"v2 \\\"out\\\"\\nnow\",\"timestamp\":1700000000,"
                        "\"host\":\"web1\",\"aggregation_key\":\"k\",\"priority\":\"low\",\"source_type_name\":\"jenkins\","
                        "\"alert_type\":\"warning\",\"tags\":[\"env:prod\",\"team:obs\"]},"
                        "{\"msg_title\":\"bare\",\"msg_text\":\"\",\"host\":\"h\",\"priority\":\"normal\","
                        "\"alert_type\":\"info\"}"
                        "]}}\n");
    recorder_free(&rc);
    assert_int_equal(vn_dd__encode_events(dd, ev, 0, &INFO10, record, &rc), VN_OK);
    assert_int_equal(rc.n, 0);
    dd_free(dd);
}

static void test_datadog__config_errors(void **state)
{
    (void)state;
    static const struct {
        vn_kv_t kv[3];
        size_t n;
        const char *want;
    } cases[] = {
        {{{.key = "api_hostname", .value = "https://x"}}, 1, "api_key is required"},
        {{{.key = "api_key", .value = "k"}}, 1, "api_hostname is required"},
        {{{.key = "api_key", .value = "k"}, {.key = "api_hostname", .value = "app.datadoghq.com"}}, 2,
         "api_hostname: invalid value \"app.datadoghq.com\""},
        {{{.key = "api_key", .value = "k"},
          {.key = "api_hostname", .value = "https://x"},
          {.key = "flush_max_per_body", .value = "-1"}},
         3,
         "flush_max_per_body: invalid value \"-1\""},
        {{{.key = "api_key", .value = "k"},
          {.key = "api_hostname", .value = "https://x"},
          {.key = "flush_max_per_body", .value = "ten"}},
         3,
         "flush_max_per_body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_sink_config_t sc = {.kind = "datadog", .name = "dd", .kv = (vn_kv_t *)cases[i].kv, .n_kv = cases[i].n};
        vn_dd_t dd;
        char err[256] = "";
        assert_int_equal(vn_dd__init(&dd, &sc, "dd", err, sizeof err), VN_ERR_CONFIG);
        assert_non_null(strstr(err, cases[i].want));
        assert_non_null(strstr(err, "sink \"dd\" (datadog)"));
        vn_dd__destroy(&dd);
    }
}

static void test_datadog__registry(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "api_key", .value = "k"},
                    {.key = "api_hostname", .value = "http://127.0.0.1:9"},
                    {.key = "max_queue_bytes", .value = "1"}};
    vn_sink_config_t sc = {.kind = "datadog", .name = "dd1", .kv = kv, .n_kv = 3};
    vn_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.interval_s = 0.2; /* the shutdown grace is min(interval, 5 s) */
    vn_sink_t *s = NULL;
    char err[256] = "";
    assert_int_equal(vn_sink_new(&sc, &cfg, &s, err, sizeof err), VN_ERR_CONFIG); /* a delivery key is checked */
    assert_non_null(strstr(err, "max_queue_bytes"));
    sc.n_kv = 2;
    assert_int_equal(vn_sink_new(&sc, &cfg, &s, err, sizeof err), VN_OK);
    assert_string_equal(s->ops->kind, "datadog");
    assert_non_null(s->ops->flush_events);
    /* flush returns at once, even though nothing listens on port 9 */
    vn_inter_metric_t m = M("a", VN_IM_GAUGE, 1, NULL, 0);
    vn_flush_info_t info = {.timestamp = TS, .interval_s = 0.2, .hostname = "h"};
    assert_int_equal(s->ops->flush(s, &m, 1, &info), VN_OK);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    vn_sink_free(s); /* drains for at most min(interval, 5 s): 0.2 s here, then drops */
    clock_gettime(CLOCK_MONOTONIC, &b);
    double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(took >= 0.15 && took < 2.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datadog__series_exact_json), cmocka_unit_test(test_datadog__escaping),
        cmocka_unit_test(test_datadog__filters),           cmocka_unit_test(test_datadog__chunking_like_go),
        cmocka_unit_test(test_datadog__bodies_under_byte_caps), cmocka_unit_test(test_datadog__service_checks),
        cmocka_unit_test(test_datadog__events),            cmocka_unit_test(test_datadog__config_errors),
        cmocka_unit_test(test_datadog__registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
