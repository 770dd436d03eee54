/*
 * test_prom_translate.c - the veneur-prometheus translator, counter cache, datagram
 * packing and flags (the tools/veneur-prometheus sources are #included: they are not
 * in libveneur), on top of src/parse/prom_text.c (tested in test_prom_text.c).
 *
 * Translator: exact statsd bytes over consecutive scrapes (first scrape, deltas,
 * resets, new series).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse/prom_text.h"

#include "../../../tools/veneur-prometheus/flags.c"
#include "../../../tools/veneur-prometheus/send.c"
#include "../../../tools/veneur-prometheus/translate.c"

#include "prom_fixture.h"

/* ------------------------------------------------------------ translator */

typedef struct {
    vn_prom_delta_t cache;
    vn_pm_out_t out;
    vn_pm_tcfg_t cfg;
} tr_t;

static void tr_init(tr_t *t, const char *prefix)
{
    vn_prom_delta_init(&t->cache, VN_PM_MAX_CACHE_BYTES);
    vn_pm_out_init(&t->out);
    memset(&t->cfg, 0, sizeof t->cfg);
    t->cfg.prefix = prefix;
}

static void tr_destroy(tr_t *t)
{
    vn_prom_delta_destroy(&t->cache);
    vn_pm_out_destroy(&t->out);
}

/* One scrape: parse, translate, commit the cache; returns the lines. */
static const char *scrape(tr_t *t, const char *body)
{
    parse_ok(body);
    vn_pm_out_reset(&t->out);
    assert_int_equal(vn_pm_translate(&t->cfg, &t->cache, &g_doc, &t->out), VN_OK);
    vn_prom_delta_done(&t->cache);
    return vn_buf_ptr(&t->out.lines);
}

static void test_prom_text__cache_delta_logic(void **state)
{
    (void)state;
    vn_prom_delta_t c;
    vn_prom_delta_init(&c, VN_PM_MAX_CACHE_BYTES);
    /* first scrape: no basis, nothing counted */
    assert_int_equal(vn_prom_delta_diff(&c, "a", 1, 3), 0);
    assert_int_equal(vn_prom_delta_diff(&c, "b", 1, 3), 0);
    vn_prom_delta_done(&c);
    assert_int_equal(vn_prom_delta_size(&c), 2);
    assert_int_equal(vn_prom_delta_diff(&c, "a", 1, 6), 3); /* grew */
    assert_int_equal(vn_prom_delta_diff(&c, "c", 1, 4), 4); /* new series: full value */
    vn_prom_delta_done(&c);
    assert_int_equal(vn_prom_delta_diff(&c, "b", 1, 3), 3); /* came, left, came back: new again */
    assert_int_equal(vn_prom_delta_diff(&c, "a", 1, 6), 0); /* unchanged */
    assert_int_equal(vn_prom_delta_diff(&c, "c", 1, 1), 1); /* went down: a reset, send current */
    vn_prom_delta_done(&c);
    /* abort: the scrape that failed does not move the baseline */
    assert_int_equal(vn_prom_delta_diff(&c, "a", 1, 100), 94);
    vn_prom_delta_abort(&c);
    assert_int_equal(vn_prom_delta_diff(&c, "a", 1, 10), 4);
    vn_prom_delta_done(&c);
    /* keys are whole byte strings ("a" vs "a\xff") and the delta saturates */
    assert_int_equal(vn_prom_delta_diff(&c, "a\xff", 2, 7), 7);
    assert_int_equal(vn_prom_delta_diff(&c, "a", 1, 12), 2);
    vn_prom_delta_done(&c);
    assert_int_equal(vn_prom_delta_diff(&c, "neg", 3, INT64_MIN), INT64_MIN);
    vn_prom_delta_done(&c);
    assert_int_equal(vn_prom_delta_diff(&c, "neg", 3, INT64_MAX), INT64_MAX);
    /* many keys grow the index */
    char k[32];
    for (int i = 0; i < 5000; i++)
        vn_prom_delta_diff(&c, k, (size_t)snprintf(k, sizeof k, "k%d", i), i);
    vn_prom_delta_done(&c);
    assert_int_equal(vn_prom_delta_size(&c), 5001); /* and "neg" */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(vn_prom_delta_diff(&c, k, (size_t)snprintf(k, sizeof k, "k%d", i), i + 2), 2);
    vn_prom_delta_destroy(&c);
}

static void test_prom_text__translate_counters_over_scrapes(void **state)
{
    (void)state;
    tr_t t;
    tr_init(&t, "myapp.");
    const char *s1 = "# TYPE http_requests_total counter\n"
                     "http_requests_total{code=\"200\",method=\"get\"} 5\n"
                     "http_requests_total{code=\"500\",method=\"get\"} 1\n"
                     "# TYPE temperature gauge\n"
                     "temperature 21.5\n";
    /* first scrape: gauges only; flushed = 3 translated + 2 */
    assert_string_equal(scrape(&t, s1), "myapp.temperature:21.5|g\n"
                                        "myapp.veneur.prometheus.metrics_flushed_total:5|c\n");
    /* unchanged: zero deltas are not sent but still counted */
    assert_string_equal(scrape(&t, s1), "myapp.temperature:21.5|g\n"
                                        "myapp.veneur.prometheus.metrics_flushed_total:5|c\n");
    const char *s3 = "# TYPE http_requests_total counter\n"
                     "http_requests_total{code=\"200\",method=\"get\"} 12.9\n" /* truncated to 12 */
                     "http_requests_total{code=\"500\",method=\"get\"} 0\n"    /* reset */
                     "http_requests_total{code=\"404\",method=\"get\"} 2\n"    /* new */
                     "# TYPE temperature gauge\n"
                     "temperature 1e21\n";
    assert_string_equal(scrape(&t, s3), "myapp.http_requests_total:7|c|#code:200,method:get\n"
                                        "myapp.http_requests_total:2|c|#code:404,method:get\n"
                                        "myapp.temperature:1000000000000000000000|g\n"
                                        "myapp.veneur.prometheus.metrics_flushed_total:6|c\n");
    tr_destroy(&t);
}

static void test_prom_text__translate_histogram_summary(void **state)
{
    (void)state;
    tr_t t;
    tr_init(&t, "");
    const char *h1 = "# TYPE h histogram\n"
                     "h_bucket{le=\"0.005\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 2\n"
                     "h_sum 0.5\nh_count 2\n"
                     "# TYPE s summary\n"
                     "s{quantile=\"0.5\"} 0.25\ns{quantile=\"0.99\"} NaN\ns{quantile=\"0.999\"} 4\n"
                     "s{quantile=\"0.29\"} 7\ns_sum 3\ns_count 9\n";
    assert_string_equal(scrape(&t, h1), "h.sum:0.5|g\n"
                                        "s.sum:3|g\n"
                                        "s.50percentile:0.25|g\n"
                                        "s.99percentile:4|g\n" /* Go's int(0.999*100) */
                                        "s.28percentile:7|g\n" /* int(28.999999999999996) */
                                        "veneur.prometheus.metrics_flushed_total:12|c\n");
    const char *h2 = "# TYPE h histogram\n"
                     "h_bucket{le=\"0.005\"} 1\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 6\n"
                     "h_sum 2.5\nh_count 6\n";
    assert_string_equal(scrape(&t, h2), "h.sum:2.5|g\n"
                                        "h.count:4|c\n"
                                        "h.le1.000000:3|c\n"
                                        "h.le+Inf:4|c\n"
                                        "veneur.prometheus.metrics_flushed_total:7|c\n");
    tr_destroy(&t);
}

static void test_prom_text__translate_tags(void **state)
{
    (void)state;
    tr_t t;
    tr_init(&t, "p.");
    char why[128];
    vn_regex_t *ign = vn_regex_compile(".*5.*|(?i)^L?abel1.*?$", why, sizeof why); /* RE2, as Go */
    vn_regex_t *ignm = vn_regex_compile("^go_", why, sizeof why);
    assert_non_null(ign);
    assert_non_null(ignm);
    vn_pm_kv_t renames[] = {{(char *)"label2", (char *)"two"}};
    vn_pm_kv_t adds[] = {{(char *)"env", (char *)"prod"}, {(char *)"team", (char *)"x"}};
    t.cfg.ignored_labels = ign;
    t.cfg.ignored_metrics = ignm;
    t.cfg.renames = renames;
    t.cfg.nrenames = 1;
    t.cfg.adds = adds;
    t.cfg.nadds = 2;
    const char *b = "g{label1=\"a\",label2=\"b\",label3=\"c\\\"d\\nx\",l5=\"e\"} 1\n"
                    "go_goroutines 7\n"
                    "# TYPE st stateset\nst 1\n";
    assert_string_equal(scrape(&t, b), "p.g:1|g|#two:b,label3:c\"dx,env:prod,team:x\n"
                                       "p.veneur.prometheus.unknown_metric_type_total:1|c\n"
                                       "p.veneur.prometheus.metrics_flushed_total:3|c\n");
    assert_int_equal(t.out.ignored, 1);
    assert_int_equal(t.out.unknown, 1);
    vn_regex_free(ign);
    vn_regex_free(ignm);
    tr_destroy(&t);
}

/* issue 15: a label value cannot open a DogStatsD section or add a tag */
static void test_prom_text__translate_hostile_labels(void **state)
{
    (void)state;
    tr_t t;
    tr_init(&t, "");
    vn_pm_kv_t adds[] = {{(char *)"a,b", (char *)"x|y"}};
    t.cfg.adds = adds;
    t.cfg.nadds = 1;
    const char *b = "# TYPE c counter\n"
                    "c{v=\"x|@0.0001\",w=\"p,q:r\",z=\"#t|#u:1\\nn\"} 10\n"
                    "job:rate5m{v=\"ok\"} 3\n";
    scrape(&t, b);
    b = "# TYPE c counter\n"
        "c{v=\"x|@0.0001\",w=\"p,q:r\",z=\"#t|#u:1\\nn\"} 12\n"
        "job:rate5m{v=\"ok\"} 3\n";
    assert_string_equal(scrape(&t, b), "c:2|c|#v:x_@0.0001,w:p_q:r,z:_t__u:1n,a_b:x_y\n"
                                       "job_rate5m:3|g|#v:ok,a_b:x_y\n"
                                       "veneur.prometheus.sanitized_total:6|c\n"
                                       "veneur.prometheus.metrics_flushed_total:4|c\n");
    char buf[16] = "a\0b\rc:d,e|f#g\n";
    bool changed = false;
    size_t n = vn_prom_statsd_safe(buf, 15, false, &changed);
    assert_true(changed);
    assert_int_equal(n, 14);
    assert_memory_equal(buf, "a_b_c:d_e_f_g", 13);
    changed = false;
    n = vn_prom_statsd_safe(buf, 3, true, &changed);
    assert_false(changed);
    changed = false;
    char nl[] = "a\nb";
    assert_int_equal(vn_prom_statsd_safe(nl, 3, false, &changed), 2);
    assert_false(changed); /* dropping a newline is datadog-go's behaviour, not counted */
    char ok[] = "fine.name_1";
    changed = false;
    assert_int_equal(vn_prom_statsd_safe(ok, 11, true, &changed), 11);
    assert_false(changed);
    char colon[] = "a:b";
    vn_prom_statsd_safe(colon, 3, true, &changed);
    assert_string_equal(colon, "a_b");
    tr_destroy(&t);
}

static void test_prom_text__translate_counter_keys_include_tags(void **state)
{
    (void)state;
    tr_t t;
    tr_init(&t, "");
    /* "a:b-c" and ("a:b","c") collide in Go's "-"-joined key, not here */
    scrape(&t, "# TYPE c counter\nc{a=\"b-c\"} 1\nc{a=\"b\",c=\"\"} 5\n");
    assert_string_equal(scrape(&t, "# TYPE c counter\nc{a=\"b-c\"} 2\nc{a=\"b\",c=\"\"} 7\n"),
                        "c:1|c|#a:b-c\nc:2|c|#a:b,c:\nveneur.prometheus.metrics_flushed_total:4|c\n");
    tr_destroy(&t);
}

static void test_prom_text__translate_long_line_dropped(void **state)
{
    (void)state;
    tr_t t;
    tr_init(&t, "");
    static char body[4000];
    char val[1500];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    snprintf(body, sizeof body, "big{x=\"%s\"} 1\nsmall 2\n", val);
    assert_string_equal(scrape(&t, body), "small:2|g\nveneur.prometheus.metrics_flushed_total:4|c\n");
    assert_int_equal(t.out.too_long, 1);
    assert_int_equal(t.out.nlines, 2);
    vn_pm_out_reset(&t.out);
    assert_int_equal(vn_pm_add_count(&t.out, "x.", "veneur.prometheus.connect_errors_total", 1), VN_OK);
    assert_string_equal(vn_buf_ptr(&t.out.lines), "x.veneur.prometheus.connect_errors_total:1|c\n");
    tr_destroy(&t);
}

static void test_prom_text__number_helpers(void **state)
{
    (void)state;
    char b[400];
    vn_prom_format_bound(0.005, b, sizeof b);
    assert_string_equal(b, "0.005000");
    vn_prom_format_bound(1, b, sizeof b);
    assert_string_equal(b, "1.000000");
    vn_prom_format_bound(INFINITY, b, sizeof b);
    assert_string_equal(b, "+Inf");
    vn_prom_format_bound(-INFINITY, b, sizeof b);
    assert_string_equal(b, "-Inf");
    vn_prom_format_bound(-0.0000004, b, sizeof b);
    assert_string_equal(b, "-0.000000");
    vn_prom_format_bound(1e20, b, sizeof b);
    assert_string_equal(b, "100000000000000000000.000000");
    /* the longest bound fits VN_PROM_BOUND_MAX; a short buffer is cut, never over-reported */
    assert_int_equal(vn_prom_format_bound(-DBL_MAX, b, VN_PROM_BOUND_MAX), 317);
    char small[64];
    assert_int_equal(vn_prom_format_bound(1e60, small, sizeof small), 63);
    assert_int_equal(strlen(small), 63);
    assert_true(vn_pm_go_int(99.9) == 99);
    assert_true(vn_pm_go_int(-0.5) == 0);
    assert_true(vn_pm_go_int(INFINITY) == INT64_MIN);
    assert_true(vn_pm_go_int(NAN) == INT64_MIN);
    assert_true(vn_prom_counter_int(12.9) == 12);
    assert_true(vn_prom_counter_int(NAN) == 0);
    assert_true(vn_prom_counter_int(1e300) == INT64_MAX);
    assert_true(vn_prom_counter_int(-1e300) == INT64_MIN);
}

/* ------------------------------------------------------------ packing */

static void test_prom_text__datagram_packing(void **state)
{
    (void)state;
    static char buf[10000];
    size_t k = 0;
    size_t lens[] = {700, 700, 31, 1432, 1433, 10, 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(buf + k, 'a' + (int)i, lens[i]);
        k += lens[i];
        buf[k++] = '\n';
    }
    size_t pos = 0, off, n;
    /* 700 + 1 + 700 = 1401; + 1 + 31 = 1433 is one byte too many */
    assert_true(vn_pm_next_datagram(buf, k, &pos, &off, &n));
    assert_int_equal(off, 0);
    assert_int_equal(n, 1401);
    assert_int_equal(buf[off + 700], '\n');
    assert_true(vn_pm_next_datagram(buf, k, &pos, &off, &n));
    assert_int_equal(n, 31);
    assert_true(vn_pm_next_datagram(buf, k, &pos, &off, &n));
    assert_int_equal(n, 1432); /* exactly the maximum */
    /* the 1433-byte line is skipped; the two short ones share a datagram */
    assert_true(vn_pm_next_datagram(buf, k, &pos, &off, &n));
    assert_int_equal(n, 31);
    assert_int_equal(buf[off], 'f');
    assert_false(vn_pm_next_datagram(buf, k, &pos, &off, &n));
    pos = 0;
    assert_false(vn_pm_next_datagram(buf, 0, &pos, &off, &n));
}

/* ------------------------------------------------------------ flags */

static void test_prom_text__flags(void **state)
{
    (void)state;
    vn_pm_opts_t o;
    char err[256];
    char *a1[] = {"veneur-prometheus", NULL};
    assert_int_equal(vn_pm_flags_parse(1, a1, &o, err, sizeof err), VN_PM_FLAGS_OK);
    assert_string_equal(o.url, "http://localhost:9090/metrics");
    assert_true(o.interval_s == 10);
    assert_string_equal(o.statsd, "127.0.0.1:8126");
    assert_string_equal(o.prefix, "");
    assert_null(o.re_labels);
    vn_pm_opts_destroy(&o);

    char *a2[] = {"x",
                  "-h=http://h:9100/metrics",
                  "--i",
                  "1.5s",
                  "-d",
                  "-p",
                  "test.",
                  "-ignored-labels",
                  "^cpu$,mode",
                  "-r",
                  "a=b,,c,d=e=f,a=z",
                  "-a",
                  "k=v",
                  "rest",
                  "-s",
                  "ignored"};
    assert_int_equal(vn_pm_flags_parse(16, a2, &o, err, sizeof err), VN_PM_FLAGS_OK);
    assert_string_equal(o.url, "http://h:9100/metrics");
    assert_true(o.interval_s == 1.5);
    assert_true(o.debug);
    assert_string_equal(o.prefix, "test.");
    assert_string_equal(o.statsd, "127.0.0.1:8126"); /* parsing stopped at "rest" */
    assert_non_null(o.re_labels);
    assert_true(vn_regex_match(o.re_labels, "cpu", 3));
    assert_true(vn_regex_match(o.re_labels, "xmodex", 6)); /* unanchored, as Go */
    assert_false(vn_regex_match(o.re_labels, "cpus", 4));
    assert_int_equal(o.nrenames, 2); /* "c" has no '=': skipped; a repeated: last wins in place */
    assert_string_equal(o.renames[0].key, "a");
    assert_string_equal(o.renames[0].val, "z");
    assert_string_equal(o.renames[1].key, "d");
    assert_string_equal(o.renames[1].val, "e=f");
    assert_int_equal(o.nadds, 1);
    vn_pm_opts_destroy(&o);

    static const struct {
        int argc;
        char *argv[4];
        vn_pm_flags_rc_t rc;
        const char *msg;
    } bad[] = {
        {2, {"x", "-i"}, VN_PM_FLAGS_USAGE, "flag needs an argument: -i"},
        {2, {"x", "-nope"}, VN_PM_FLAGS_USAGE, "flag provided but not defined: -nope"},
        {2, {"x", "-d=maybe"}, VN_PM_FLAGS_USAGE, "invalid boolean"},
        {2, {"x", "---h"}, VN_PM_FLAGS_USAGE, "bad flag syntax"},
        {3, {"x", "-i", "0s"}, VN_PM_FLAGS_BAD, "flag -i"},
        {3, {"x", "-i", "ten"}, VN_PM_FLAGS_BAD, "flag -i"},
        {3, {"x", "-h", "ftp://x/"}, VN_PM_FLAGS_BAD, "flag -h"},
        {3, {"x", "-ignored-metrics", "a,(b"}, VN_PM_FLAGS_BAD, "flag -ignored-metrics"},
        {3, {"x", "-cert", "/etc/hostname"}, VN_PM_FLAGS_BAD, "-cert needs -key"},
        {3, {"x", "-cacert", "/nonexistent/ca.pem"}, VN_PM_FLAGS_BAD, "cannot read"},
        {2, {"x", "-help"}, VN_PM_FLAGS_HELP, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        vn_pm_flags_rc_t rc = vn_pm_flags_parse(bad[i].argc, (char **)bad[i].argv, &o, err, sizeof err);
        if (rc != bad[i].rc || !strstr(err, bad[i].msg))
            fail_msg("flags case %zu: rc=%d err=%s", i, rc, err);
        vn_pm_opts_destroy(&o);
    }
    char *usage = NULL;
    size_t ulen = 0;
    FILE *f = open_memstream(&usage, &ulen);
    vn_pm_flags_usage(f);
    fclose(f);
    assert_non_null(strstr(usage, "-ignored-metrics string"));
    free(usage);
}

static void test_prom_text__sender_address(void **state)
{
    (void)state;
    vn_pm_sender_t s;
    char err[256];
    assert_int_equal(vn_pm_sender_open(&s, "127.0.0.1:8126", err, sizeof err), VN_OK);
    assert_true(s.fd >= 0);
    vn_pm_sender_close(&s);
    assert_int_equal(vn_pm_sender_open(&s, "[::1]:8126", err, sizeof err) == VN_OK ||
                         strstr(err, "connect") || strstr(err, "socket"),
                     1);
    vn_pm_sender_close(&s);
    assert_int_equal(vn_pm_sender_open(&s, "nocolon", err, sizeof err), VN_ERR_CONFIG);
    assert_int_equal(vn_pm_sender_open(&s, "", err, sizeof err), VN_ERR_CONFIG);
    assert_int_equal(vn_pm_sender_open(&s, "unix://", err, sizeof err), VN_ERR_CONFIG);
    /* an unbound unixgram path fails at connect */
    assert_int_equal(vn_pm_sender_open(&s, "unix:///nonexistent/veneur.sock", err, sizeof err), VN_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_text__cache_delta_logic),
        cmocka_unit_test(test_prom_text__translate_counters_over_scrapes),
        cmocka_unit_test(test_prom_text__translate_histogram_summary),
        cmocka_unit_test(test_prom_text__translate_tags),
        cmocka_unit_test(test_prom_text__translate_hostile_labels),
        cmocka_unit_test(test_prom_text__translate_counter_keys_include_tags),
        cmocka_unit_test(test_prom_text__translate_long_line_dropped),
        cmocka_unit_test(test_prom_text__number_helpers),
        cmocka_unit_test(test_prom_text__datagram_packing),
        cmocka_unit_test(test_prom_text__flags),
        cmocka_unit_test(test_prom_text__sender_address),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
