/*
 * test_openmetrics.c - the openmetrics source's config validation and its
 * scrape -> samples mapping (sources/openmetrics.h), without threads or HTTP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "sources/openmetrics.h"

/* ---- a source config built by hand (the loader's shape: flattened kv) ---- */

typedef struct {
    vn_source_config_t sc;
    vn_kv_t kv[16];
    char *tagv[8];
} src_t;

static void src_init(src_t *s, const char *const *kv, const char *const *tags)
{
    memset(s, 0, sizeof *s);
    s->sc.kind = "openmetrics";
    s->sc.name = "t";
    s->sc.kv = s->kv;
    for (size_t i = 0; kv && kv[2 * i]; i++) {
        s->kv[i].key = (char *)kv[2 * i];
        s->kv[i].value = (char *)kv[2 * i + 1];
        s->sc.n_kv++;
    }
    s->sc.tags.v = s->tagv;
    for (size_t i = 0; tags && tags[i]; i++)
        s->tagv[s->sc.tags.n++] = (char *)tags[i];
}

static char g_err[512];

static const char *cfg_err(const char *const *kv, const char *const *tags)
{
    src_t s;
    src_init(&s, kv, tags);
    vn_om_cfg_t c;
    g_err[0] = '\0';
    vn_err_t rc = vn_om_cfg_parse(&s.sc, &c, g_err, sizeof g_err);
    vn_om_cfg_destroy(&c);
    assert_int_equal(rc, VN_ERR_CONFIG);
    return g_err;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void test_om__config(void **state)
{
    (void)state;
    src_t s;
    const char *kv[] = {"scrape_interval", "30s", "scrape_target", "http://h:9100/metrics", NULL};
    src_init(&s, kv, (const char *[]){"env:prod", NULL});
    vn_om_cfg_t c;
    assert_int_equal(vn_om_cfg_parse(&s.sc, &c, g_err, sizeof g_err), VN_OK);
    assert_string_equal(c.name, "t");
    assert_string_equal(c.target, "http://h:9100/metrics");
    assert_true(c.interval_s == 30 && c.timeout_s == 30); /* Go: timeout defaults to the interval */
    assert_null(c.allow);
    assert_null(c.deny);
    assert_string_equal(c.bucket_tag, "le");
    assert_string_equal(c.quantile_tag, "quantile");
    assert_int_equal(c.ntags, 1);
    assert_int_equal(c.max_body, VN_OM_DEFAULT_MAX_BODY);
    assert_int_equal(c.max_series, VN_OM_DEFAULT_MAX_SERIES);
    vn_om_cfg_destroy(&c);

    const char *kv2[] = {"scrape_interval", "10s", "scrape_target", "https://h/m", "scrape_timeout", "2s",
                         "allowlist", "^a", "denylist", "b$", "histogram_bucket_tag", "bucket",
                         "summary_quantile_tag", "q", "max_body_bytes", "1000", "max_series", "7", NULL};
    src_init(&s, kv2, NULL);
    assert_int_equal(vn_om_cfg_parse(&s.sc, &c, g_err, sizeof g_err), VN_OK);
    assert_true(c.timeout_s == 2);
    assert_non_null(c.allow);
    assert_non_null(c.deny);
    assert_string_equal(c.bucket_tag, "bucket");
    assert_string_equal(c.quantile_tag, "q");
    assert_int_equal(c.max_body, 1000);
    assert_int_equal(c.max_series, 7);
    vn_om_cfg_destroy(&c);

    assert_contains(cfg_err((const char *[]){"scrape_interval", "1s", NULL}, NULL), "scrape_target: missing");
    assert_contains(cfg_err((const char *[]){"scrape_interval", "1s", "scrape_target", "ftp://x", NULL}, NULL),
                    "not an http:// or https:// URL");
    assert_contains(cfg_err((const char *[]){"scrape_target", "http://x", NULL}, NULL), "scrape_interval");
    assert_contains(cfg_err((const char *[]){"scrape_target", "http://x", "scrape_interval", "0s", NULL}, NULL),
                    "scrape_interval");
    assert_contains(cfg_err((const char *[]){"scrape_target", "http://x", "scrape_interval", "1s",
                                             "scrape_timeout", "2s", NULL},
                            NULL),
                    "scrape timeout cannot be larger than scrape interval");
    assert_contains(cfg_err((const char *[]){"scrape_target", "http://x", "scrape_interval", "1s", "allowlist",
                                             "a(", NULL},
                            NULL),
                    "allowlist");
    assert_contains(cfg_err((const char *[]){"scrape_target", "http://x", "scrape_interval", "1s",
                                             "max_series", "-1", NULL},
                            NULL),
                    "max_series");
    assert_contains(cfg_err(kv, (const char *[]){"a:b,c", NULL}), "tags");
}

/* ---- mapping ---- */

typedef struct {
    char line[64][256]; /* "name|type|value|tag,tag" */
    size_t n;
} sink_t;

static void on_sample(void *ctx, vn_str_t name, vn_mtype_t type, double value, const vn_str_t *tags, size_t ntags)
{
    sink_t *s = ctx;
    assert_true(s->n < 64);
    char *p = s->line[s->n++];
    int k = snprintf(p, 256, "%.*s|%s|%g|", (int)name.len, name.p, vn_mtype_name(type), value);
    for (size_t i = 0; i < ntags; i++)
        k += snprintf(p + k, 256 - (size_t)k, "%s%.*s", i ? "," : "", (int)tags[i].len, tags[i].p);
}

static bool has(const sink_t *s, const char *line)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->line[i], line) == 0)
            return true;
    return false;
}

static void dump(const sink_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        print_message("  %s\n", s->line[i]);
}

#define EXPECT(s, l)                                                                                                  \
    do {                                                                                                              \
        if (!has(s, l)) {                                                                                             \
            dump(s);                                                                                                  \
            fail_msg("missing %s", l);                                                                                \
        }                                                                                                             \
    } while (0)

typedef struct {
    vn_om_cfg_t cfg;
    vn_om_mapper_t m;
    vn_prom_doc_t doc;
} fixture_t;

static void fx_init(fixture_t *f, const char *const *kv, const char *const *tags)
{
    src_t s;
    src_init(&s, kv, tags);
    assert_int_equal(vn_om_cfg_parse(&s.sc, &f->cfg, g_err, sizeof g_err), VN_OK);
    vn_om_mapper_init(&f->m);
    vn_prom_doc_init(&f->doc, NULL);
}

static void fx_destroy(fixture_t *f)
{
    vn_om_cfg_destroy(&f->cfg);
    vn_om_mapper_destroy(&f->m);
    vn_prom_doc_destroy(&f->doc);
}

static vn_om_counts_t scrape(fixture_t *f, const char *body, sink_t *out)
{
    memset(out, 0, sizeof *out);
    vn_prom_error_t e;
    if (vn_prom_parse(&f->doc, body, strlen(body), &e) != VN_OK)
        fail_msg("parse: line %u: %s", e.line, e.msg);
    vn_om_counts_t c = {0};
    vn_om_map(&f->m, &f->cfg, &f->doc, on_sample, out, &c);
    return c;
}

static const char *const base_kv[] = {"scrape_interval", "1s", "scrape_target", "http://x/m", NULL};

static const char *body(int cnt, int bucket, int inf)
{
    static char b[2048];
    snprintf(b, sizeof b,
             "# TYPE req_total counter\n"
             "req_total{method=\"get\",code=\"200\"} %d\n"
             "# TYPE temp gauge\n"
             "temp 21.5\n"
             "odd 3\n" /* untyped */
             "# TYPE lat histogram\n"
             "lat_bucket{le=\"0.5\"} %d\n"
             "lat_bucket{le=\"+Inf\"} %d\n"
             "lat_sum 12.9\n"
             "lat_count %d\n"
             "# TYPE rpc summary\n"
             "rpc{quantile=\"0.99\"} 0.3\n"
             "rpc{quantile=\"0.5\"} NaN\n"
             "rpc_sum 17.5\n"
             "rpc_count 100\n",
             cnt, bucket, inf, inf);
    return b;
}

static void test_om__map_first_scrape_and_deltas(void **state)
{
    (void)state;
    fixture_t f;
    fx_init(&f, base_kv, (const char *[]){"env:e2e", NULL});
    sink_t s;
    vn_om_counts_t c = scrape(&f, body(100, 3, 9), &s);
    /* first scrape: gauges only, counters set the baseline */
    EXPECT(&s, "temp|gauge|21.5|env:e2e");
    EXPECT(&s, "odd|gauge|3|env:e2e");
    EXPECT(&s, "rpc|gauge|0.3|env:e2e,quantile:0.990000");
    assert_int_equal(s.n, 3);
    assert_int_equal(c.samples, 3);
    assert_int_equal(c.invalid, 1); /* the NaN quantile */

    c = scrape(&f, body(107, 5, 12), &s);
    EXPECT(&s, "req_total|counter|7|code:200,env:e2e,method:get");
    EXPECT(&s, "lat.bucket|counter|2|env:e2e,le:0.500000");
    EXPECT(&s, "lat.bucket|counter|3|env:e2e,le:+Inf");
    EXPECT(&s, "lat.count|counter|3|env:e2e");
    /* unchanged counters (lat.sum, rpc.count, rpc.sum) are not sent */
    assert_int_equal(s.n, 3 + 4);

    /* a reset (the target restarted) sends the new value whole */
    scrape(&f, body(4, 5, 12), &s);
    EXPECT(&s, "req_total|counter|4|code:200,env:e2e,method:get");
    assert_int_equal(s.n, 3 + 1);
    fx_destroy(&f);
}

static void test_om__allow_deny(void **state)
{
    (void)state;
    fixture_t f;
    const char *kv[] = {"scrape_interval", "1s", "scrape_target", "http://x/m", "denylist", "^skip_", NULL};
    fx_init(&f, kv, NULL);
    sink_t s;
    vn_om_counts_t c = scrape(&f, "keep_a 1\nskip_b 2\nkeep_skip_c 3\n", &s);
    assert_int_equal(s.n, 2);
    EXPECT(&s, "keep_a|gauge|1|");
    EXPECT(&s, "keep_skip_c|gauge|3|"); /* unanchored match, anchored by the pattern */
    assert_int_equal(c.filtered_families, 1);
    fx_destroy(&f);

    /* allowlist wins: the denylist is not consulted (Go) */
    const char *kv2[] = {"scrape_interval", "1s", "scrape_target", "http://x/m", "allowlist", "^keep_",
                         "denylist", "^keep_", NULL};
    fx_init(&f, kv2, NULL);
    c = scrape(&f, "keep_a 1\nskip_b 2\nkeep_skip_c 3\n", &s);
    assert_int_equal(s.n, 2);
    EXPECT(&s, "keep_a|gauge|1|");
    assert_int_equal(c.filtered_families, 1);
    fx_destroy(&f);
}

static void test_om__tags(void **state)
{
    (void)state;
    fixture_t f;
    const char *kv[] = {"scrape_interval", "1s",     "scrape_target", "http://x/m", "histogram_bucket_tag",
                        "bucket",          "summary_quantile_tag", "q",  NULL};
    fx_init(&f, kv, (const char *[]){"zz:last", "aa:first", NULL});
    sink_t s;
    vn_om_counts_t c = scrape(&f,
                              "g{path=\"/a,b\",q=\"x\\\"y\\\\z\",nl=\"1\\n2\",empty=\"\"} 1\n"
                              "# TYPE s summary\ns{quantile=\"0.5\"} 2\n"
                              "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n",
                              &s);
    /* unescaped label values; ',' -> '_', newline removed; sorted with the entry's tags */
    EXPECT(&s, "g|gauge|1|aa:first,empty:,nl:12,path:/a_b,q:x\"y\\z,zz:last");
    EXPECT(&s, "s|gauge|2|aa:first,q:0.500000,zz:last");
    assert_int_equal(c.sanitized, 2);
    /* a second scrape with one more observation shows the renamed bucket tag */
    scrape(&f, "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3.5\n", &s);
    EXPECT(&s, "h.bucket|counter|1|aa:first,bucket:1.000000,zz:last");
    EXPECT(&s, "h.bucket|counter|1|aa:first,bucket:+Inf,zz:last");
    EXPECT(&s, "h.count|counter|1|aa:first,zz:last");
    EXPECT(&s, "h.sum|counter|2|aa:first,zz:last"); /* int64 truncation, as veneur-prometheus: 3 - 1 */
    fx_destroy(&f);
}

static void test_om__same_name_different_labels(void **state)
{
    (void)state;
    fixture_t f;
    fx_init(&f, base_kv, NULL);
    sink_t s;
    const char *b1 = "# TYPE c counter\nc{a=\"1\"} 10\nc{a=\"2\"} 20\nc{a=\"1\",b=\"x\"} 30\n";
    const char *b2 = "# TYPE c counter\nc{a=\"1\"} 11\nc{a=\"2\"} 25\nc{a=\"3\"} 5\nc{b=\"x\",a=\"1\"} 39\n";
    scrape(&f, b1, &s);
    assert_int_equal(s.n, 0);
    scrape(&f, b2, &s);
    EXPECT(&s, "c|counter|1|a:1");
    EXPECT(&s, "c|counter|5|a:2");
    EXPECT(&s, "c|counter|5|a:3"); /* a new series: its whole value */
    EXPECT(&s, "c|counter|9|a:1,b:x"); /* label order does not matter */
    assert_int_equal(s.n, 4);
    fx_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_om__config),
        cmocka_unit_test(test_om__map_first_scrape_and_deltas),
        cmocka_unit_test(test_om__allow_deny),
        cmocka_unit_test(test_om__tags),
        cmocka_unit_test(test_om__same_name_different_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
