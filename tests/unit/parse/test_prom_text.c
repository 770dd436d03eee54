/*
 * test_prom_text.c - src/parse/prom_text.c (the Prometheus text parser) and
 * the veneur-prometheus translator, counter cache, datagram packing and flags
 * (the tools/veneur-prometheus sources are #included: they are not in libveneur).
 *
 * Parser: accepted documents are checked family by family; rejected ones come
 * from a table of (input, line, message fragment). Translator: exact statsd
 * bytes over consecutive scrapes (first scrape, deltas, resets, new series).
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

#include "parse/prom_text.h"

#include "../../../tools/veneur-prometheus/flags.c"
#include "../../../tools/veneur-prometheus/send.c"
#include "../../../tools/veneur-prometheus/translate.c"

/* ------------------------------------------------------------ helpers */

static vn_prom_doc_t g_doc;

static void parse_ok(const char *body)
{
    vn_prom_error_t e;
    vn_err_t rc = vn_prom_parse(&g_doc, body, strlen(body), &e);
    if (rc != VN_OK)
        fail_msg("parse failed at line %u: %s\n--- body:\n%s", e.line, e.msg, body);
}

static const vn_prom_family_t *fam(const char *name)
{
    for (uint32_t i = 0; i < g_doc.nfamilies; i++)
        if (vn_str_eq(g_doc.families[i].name, vn_str_c(name)))
            return &g_doc.families[i];
    fail_msg("no family %s", name);
    return NULL;
}

static const vn_prom_series_t *nth_series(const vn_prom_family_t *f, uint32_t n)
{
    uint32_t s = f->series_head;
    for (uint32_t i = 0; i < n && s != VN_PROM_NONE; i++)
        s = g_doc.series[s].next;
    assert_int_not_equal(s, VN_PROM_NONE);
    return &g_doc.series[s];
}

/* "a=x,b=y" with values unescaped, for comparing label sets in order. */
static const char *labels_of(const vn_prom_series_t *s)
{
    static char out[512];
    size_t k = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < s->nlabels; i++) {
        const vn_prom_label_t *l = &g_doc.labels[s->label_off + i];
        char v[256];
        size_t n =
            l->escaped ? vn_prom_unescape(l->value, v) : (memcpy(v, l->value.p, l->value.len), l->value.len);
        k += (size_t)snprintf(out + k, sizeof out - k, "%s%.*s=%.*s", i ? "," : "", (int)l->name.len,
                              l->name.p, (int)n, v);
    }
    return out;
}

static const vn_prom_point_t *nth_point(const vn_prom_series_t *s, uint32_t n)
{
    uint32_t p = s->point_head;
    for (uint32_t i = 0; i < n && p != VN_PROM_NONE; i++)
        p = g_doc.points[p].next;
    assert_int_not_equal(p, VN_PROM_NONE);
    return &g_doc.points[p];
}

static int setup(void **state)
{
    (void)state;
    vn_prom_doc_init(&g_doc, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vn_prom_doc_destroy(&g_doc);
    return 0;
}

/* ------------------------------------------------------------ parser: accepted input */

static void test_prom_text__counter_gauge_help_type(void **state)
{
    (void)state;
    parse_ok("# HELP http_requests_total The total number of HTTP requests.\n"
             "# TYPE http_requests_total counter\n"
             "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
             "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
             "\n"
             "# a plain comment\n"
             "   # TYPE temp gauge\n"
             "temp 21.5\n");
    assert_int_equal(g_doc.nfamilies, 2);
    const vn_prom_family_t *f = fam("http_requests_total");
    assert_int_equal(f->type, VN_PROM_COUNTER);
    assert_true(f->has_help);
    assert_true(vn_str_eq(f->help, vn_str_c("The total number of HTTP requests.")));
    assert_int_equal(f->nseries, 2);
    const vn_prom_series_t *s = nth_series(f, 0);
    assert_string_equal(labels_of(s), "method=post,code=200"); /* exposition order, not sorted */
    assert_true(s->value == 1027);
    assert_true(s->has_ts);
    assert_true(s->ts_ms == 1395066363000LL);
    assert_int_equal(s->line, 3);
    s = nth_series(f, 1);
    assert_string_equal(labels_of(s), "method=post,code=400");
    assert_true(s->value == 3);
    f = fam("temp");
    assert_int_equal(f->type, VN_PROM_GAUGE);
    assert_false(nth_series(f, 0)->has_ts);
    assert_true(nth_series(f, 0)->value == 21.5);
    assert_int_equal(g_doc.nlines, 8);
}

static void test_prom_text__escapes(void **state)
{
    (void)state;
    parse_ok("# HELP m Line one.\\nBack\\\\slash \"quoted\"\n"
             "m{path=\"C:\\\\DIR\\\\\",msg=\"say "
             "\\\"hi\\\"\\nbye\",plain=\"a,b|c:d\",empty=\"\",u=\"caf\xc3\xa9\"} 1\n");
    const vn_prom_family_t *f = fam("m");
    assert_true(f->help_escaped);
    char h[128];
    size_t n = vn_prom_unescape(f->help, h);
    assert_int_equal(n, strlen("Line one.\nBack\\slash \"quoted\""));
    assert_memory_equal(h, "Line one.\nBack\\slash \"quoted\"", n);
    const vn_prom_series_t *s = nth_series(f, 0);
    assert_string_equal(labels_of(s),
                        "path=C:\\DIR\\,msg=say \"hi\"\nbye,plain=a,b|c:d,empty=,u=caf\xc3\xa9");
    assert_true(g_doc.labels[s->label_off].escaped);
    assert_false(g_doc.labels[s->label_off + 2].escaped);
    /* zero-copy: the raw value points into the body */
    assert_int_equal(g_doc.labels[s->label_off + 2].value.len, 7);
}

static void test_prom_text__untyped_and_missing_type(void **state)
{
    (void)state;
    parse_ok("no_type 5\n"
             "# TYPE explicit untyped\n"
             "explicit{a=\"b\"} -2.5e3\n"
             "# HELP only_help nothing follows\n"
             "# TYPE only_type counter\n");
    assert_int_equal(fam("no_type")->type, VN_PROM_UNTYPED);
    assert_true(fam("no_type")->has_type);
    assert_int_equal(fam("explicit")->type, VN_PROM_UNTYPED);
    assert_true(nth_series(fam("explicit"), 0)->value == -2500);
    /* families named only by HELP/TYPE exist but hold no series (Go drops them) */
    assert_int_equal(fam("only_help")->nseries, 0);
    assert_int_equal(fam("only_type")->nseries, 0);
    assert_int_equal(fam("only_type")->type, VN_PROM_COUNTER);
}

static void test_prom_text__special_values(void **state)
{
    (void)state;
    parse_ok("a NaN\nb +Inf\nc -Inf\nd Inf\ne nan\nf -0\ng 1e-7\nh 0.1 -5\ni +3\nj 1E3\n");
    assert_true(isnan(nth_series(fam("a"), 0)->value));
    assert_true(isinf(nth_series(fam("b"), 0)->value) && nth_series(fam("b"), 0)->value > 0);
    assert_true(isinf(nth_series(fam("c"), 0)->value) && nth_series(fam("c"), 0)->value < 0);
    assert_true(isinf(nth_series(fam("d"), 0)->value));
    assert_true(isnan(nth_series(fam("e"), 0)->value));
    assert_true(signbit(nth_series(fam("f"), 0)->value));
    assert_true(nth_series(fam("g"), 0)->value == 1e-7);
    assert_true(nth_series(fam("h"), 0)->ts_ms == -5);
    assert_true(nth_series(fam("i"), 0)->value == 3);
    assert_true(nth_series(fam("j"), 0)->value == 1000);
}

static void test_prom_text__histogram(void **state)
{
    (void)state;
    parse_ok("# HELP req_seconds Latency.\n"
             "# TYPE req_seconds histogram\n"
             "req_seconds_bucket{svc=\"a\",le=\"0.005\"} 1\n"
             "req_seconds_bucket{le=\"0.01\",svc=\"b\"} 10\n"
             "req_seconds_bucket{le=\"0.01\",svc=\"a\"} 2\n" /* other order, interleaved */
             "req_seconds_bucket{svc=\"a\",le=\"+Inf\"} 3\n"
             "req_seconds_sum{svc=\"a\"} 0.75\n"
             "req_seconds_count{svc=\"a\"} 3\n"
             "req_seconds_bucket{svc=\"b\",le=\"+Inf\"} 10\n"
             "req_seconds_count{svc=\"b\"} 10\n"
             "req_seconds_bucket{svc=\"a\",le=\"NaN\"} 7\n");
    const vn_prom_family_t *f = fam("req_seconds");
    assert_int_equal(g_doc.nfamilies, 1); /* _bucket/_sum/_count joined the family */
    assert_int_equal(f->type, VN_PROM_HISTOGRAM);
    assert_int_equal(f->nseries, 2);
    const vn_prom_series_t *a = nth_series(f, 0), *b = nth_series(f, 1);
    assert_string_equal(labels_of(a), "svc=a"); /* le is not a label */
    assert_string_equal(labels_of(b), "svc=b");
    assert_int_equal(a->npoints, 3); /* the NaN bound is not a bucket (Go) */
    assert_true(nth_point(a, 0)->bound == 0.005 && nth_point(a, 0)->value == 1);
    assert_true(nth_point(a, 1)->bound == 0.01 && nth_point(a, 1)->value == 2);
    assert_true(isinf(nth_point(a, 2)->bound) && nth_point(a, 2)->value == 3);
    assert_true(a->has_sum && a->sum == 0.75);
    assert_true(a->has_count && a->count == 3);
    assert_int_equal(b->npoints, 2);
    assert_false(b->has_sum);
    assert_true(b->count == 10);
}

static void test_prom_text__summary(void **state)
{
    (void)state;
    parse_ok("# TYPE rpc summary\n"
             "rpc{quantile=\"0.5\"} 0.05\n"
             "rpc{quantile=\"0.99\"} NaN\n"
             "rpc{quantile=\"0.999\"} 0.3\n"
             "rpc_sum 17.5\n"
             "rpc_count 2693\n"
             "rpc{quantile=\"NaN\"} 9\n"
             "rpc{le=\"1\"} 4\n" /* le is an ordinary label on a summary */
             "# TYPE plain_sum counter\n"
             "plain_sum 4\n");
    const vn_prom_family_t *f = fam("rpc");
    assert_int_equal(f->nseries, 2);
    const vn_prom_series_t *s = nth_series(f, 0);
    assert_int_equal(s->nlabels, 0);
    assert_int_equal(s->npoints, 3); /* quantile NaN selects no point */
    assert_true(nth_point(s, 0)->bound == 0.5 && nth_point(s, 0)->value == 0.05);
    assert_true(isnan(nth_point(s, 1)->value));
    assert_true(s->sum == 17.5 && s->count == 2693);
    assert_string_equal(labels_of(nth_series(f, 1)), "le=1");
    /* a family whose own name ends in _sum stays its own family */
    assert_int_equal(fam("plain_sum")->type, VN_PROM_COUNTER);
    assert_true(nth_series(fam("plain_sum"), 0)->value == 4);
}

static void test_prom_text__suffix_without_parent(void **state)
{
    (void)state;
    /* _count/_sum before the TYPE line of their parent, or for a counter parent,
     * are families of their own (Go setOrCreateCurrentMF) */
    parse_ok("x_count 3\n# TYPE x summary\nx_sum 2\n# TYPE y counter\ny 1\ny_count 5\ny_bucket 1\n");
    assert_int_equal(fam("x_count")->type, VN_PROM_UNTYPED);
    assert_true(nth_series(fam("x"), 0)->sum == 2);
    assert_int_equal(fam("y_count")->type, VN_PROM_UNTYPED);
    assert_int_equal(fam("y_bucket")->type, VN_PROM_UNTYPED);
}

static void test_prom_text__lenient_whitespace_and_go_quirks(void **state)
{
    (void)state;
    parse_ok("a 1 \nb 2 3\t \n\t c { x = \"y\" , } 4\nd{} 5\n  \n# TYPE\n#\n# HELP e\nfoo-1 2\n   ");
    assert_true(nth_series(fam("a"), 0)->value == 1);
    assert_true(nth_series(fam("b"), 0)->ts_ms == 3);
    assert_string_equal(labels_of(nth_series(fam("c"), 0)), "x=y"); /* trailing comma is fine */
    assert_int_equal(nth_series(fam("d"), 0)->nlabels, 0);
    /* Go reads "foo-1 2" as foo = -1 at timestamp 2: the value starts where the name stops */
    assert_true(nth_series(fam("foo"), 0)->value == -1);
    assert_true(nth_series(fam("foo"), 0)->ts_ms == 2);
    /* "# HELP e" names no help text and creates nothing */
    for (uint32_t i = 0; i < g_doc.nfamilies; i++)
        assert_false(vn_str_eq(g_doc.families[i].name, VN_STR_LIT("e")));
}

static void test_prom_text__unknown_type_is_kept(void **state)
{
    (void)state;
    parse_ok("# TYPE s stateset\ns{s=\"a\"} 1\n# TYPE g GAUGE\ng 2\n");
    assert_int_equal(fam("s")->type, VN_PROM_UNKNOWN);
    assert_true(vn_str_eq(fam("s")->type_word, VN_STR_LIT("stateset")));
    assert_int_equal(fam("g")->type, VN_PROM_GAUGE); /* case-insensitive, as Go's ToUpper */
    assert_string_equal(vn_prom_type_name(VN_PROM_UNKNOWN), "unknown");
    assert_string_equal(vn_prom_type_name(VN_PROM_HISTOGRAM), "histogram");
}

static void test_prom_text__empty_and_reuse(void **state)
{
    (void)state;
    parse_ok("");
    assert_int_equal(g_doc.nfamilies, 0);
    parse_ok("\n\n# only comments\n");
    assert_int_equal(g_doc.nseries, 0);
    /* many families force the indexes to grow; then a smaller parse reuses them */
    static char big[200000];
    size_t k = 0;
    for (int i = 0; i < 3000; i++)
        k += (size_t)snprintf(big + k, sizeof big - k,
                              "# TYPE h%d histogram\nh%d_bucket{i=\"%d\",le=\"1\"} %d\n", i, i, i, i);
    parse_ok(big);
    assert_int_equal(g_doc.nfamilies, 3000);
    assert_int_equal(g_doc.nseries, 3000);
    assert_true(nth_point(nth_series(fam("h2999"), 0), 0)->value == 2999);
    parse_ok("z 1\n");
    assert_int_equal(g_doc.nfamilies, 1);
    assert_int_equal(g_doc.nseries, 1);
    /* a failed parse leaves the doc empty */
    vn_prom_error_t e;
    assert_int_equal(vn_prom_parse(&g_doc, "y 1\nbad\n", 8, &e), VN_ERR_PARSE);
    assert_int_equal(g_doc.nfamilies, 0);
    assert_int_equal(g_doc.nseries, 0);
    /* a zeroed doc works too (defaults are applied on first use) */
    vn_prom_doc_t z;
    memset(&z, 0, sizeof z);
    assert_int_equal(vn_prom_parse(&z, "q 1\n", 4, NULL), VN_OK);
    assert_int_equal(z.nseries, 1);
    vn_prom_doc_destroy(&z);
    vn_prom_doc_destroy(NULL);
}

static void test_prom_text__not_nul_terminated(void **state)
{
    (void)state;
    /* the parser must stop at len: "a 12" + "3\n" beyond it would change the value */
    const char body[] = "a 1\nb 12\n3\n";
    assert_int_equal(vn_prom_parse(&g_doc, body, 9, NULL), VN_OK);
    assert_true(nth_series(fam("b"), 0)->value == 12);
    vn_prom_error_t e;
    assert_int_equal(vn_prom_parse(&g_doc, body, 7, &e), VN_ERR_PARSE);
    assert_int_equal(e.line, 2);
    assert_string_equal(e.msg, "unexpected end of input stream");
}

/* ------------------------------------------------------------ parser: errors */

typedef struct {
    const char *in;
    uint32_t line;
    const char *msg; /* substring of the message */
} ecase_t;

static const ecase_t k_errors[] = {
    {"foo bar\n", 1, "expected float as value, got \"bar\""},
    {"ok 1\n{a=\"b\"} 1\n", 2, "invalid metric name"},
    {"ok 1\n\n1abc 2\n", 3, "invalid metric name"},
    {"foo{a=1} 2\n", 1, "expected '\"' at start of label value, found '1'"},
    {"foo{a \"x\"} 2\n", 1, "expected '=' after label name, found '\"'"},
    {"foo{a=\"b\" c=\"d\"} 1\n", 1, "unexpected end of label value \"b\""},
    {"foo{__name__=\"x\"} 1\n", 1, "label name \"__name__\" is reserved"},
    {"foo{a=\"b\",a=\"c\"} 1\n", 1, "duplicate label names for metric \"foo\""},
    {"foo{1a=\"b\"} 1\n", 1, "invalid label name for metric \"foo\""},
    {"foo{a=\"b} 1\nnext 2\n", 1, "contains unescaped new-line"},
    {"foo{a=\"b\\tc\"} 1\n", 1, "invalid escape sequence '\\t'"},
    {"foo{a=\"b\\", 1, "invalid escape sequence"},
    {"foo{a=\"\xff\"} 1\n", 1, "invalid label value"},
    {"foo{a=\"\xed\xa0\x80\"} 1\n", 1, "invalid label value"}, /* a UTF-16 surrogate */
    {"foo{a=\"\xc0\xaf\"} 1\n", 1, "invalid label value"},     /* overlong '/' */
    {"foo 1", 1, "unexpected end of input stream"},
    {"a 1\n# comment", 2, "unexpected end of input stream"},
    {"foo 0x1p3\n", 1, "expected float as value, got \"0x1p3\""},
    {"foo 0x10\n", 1, "expected float as value"},
    {"foo 1_000\n", 1, "expected float as value"},
    {"foo 1e400\n", 1, "expected float as value"},
    {"foo +NaN\n", 1, "expected float as value"},
    {"foo 1\r\n", 1, "expected float as value, got \"1\\x0d\""},
    {"foo{a=\"b\"}\n", 1, "expected float as value, got \"\""},
    {"foo 1 abc\n", 1, "expected integer as timestamp, got \"abc\""},
    {"foo 1 1.5\n", 1, "expected integer as timestamp, got \"1.5\""},
    {"foo 1 2 3\n", 1, "spurious string after timestamp: \"3\""},
    {"# TYPE foo counter\n# TYPE foo gauge\n", 2, "second TYPE line for metric name \"foo\""},
    {"foo 1\n# TYPE foo counter\n", 2, "or TYPE reported after samples"},
    {"# HELP foo a\n# HELP foo b\n", 2, "second HELP line for metric name \"foo\""},
    {"# HELP foo a\\tb\n", 1, "invalid escape sequence '\\t'"},
    {"# HELP foo trailing\\\n", 1, "invalid escape sequence"},
    {"# TYPE 1foo counter\n", 1, "invalid metric name in comment"},
    {"# TYPE foo-bar counter\n", 1, "invalid metric name in comment"},
    {"# TYPE s summary\ns{quantile=\"x\"} 1\n", 2, "expected float as value for 'quantile' label, got \"x\""},
    {"# TYPE h histogram\nh_bucket{le=\"1_0\"} 1\n", 2, "expected float as value for 'le' label"},
    /* the summary's _count line carries the family's labels */
    {"# TYPE s summary\ns_count{__name__=\"s\"} 1\n", 2, "reserved"},
};

static void test_prom_text__error_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++) {
        const ecase_t *c = &k_errors[i];
        vn_prom_error_t e;
        vn_err_t rc = vn_prom_parse(&g_doc, c->in, strlen(c->in), &e);
        if (rc != VN_ERR_PARSE || e.line != c->line || !strstr(e.msg, c->msg))
            fail_msg("case %zu %s: rc=%d line=%u msg=%s (want line %u, %s)", i, c->in, rc, e.line, e.msg,
                     c->line, c->msg);
        assert_int_equal(g_doc.nfamilies, 0);
    }
}

static void test_prom_text__limits(void **state)
{
    (void)state;
    vn_prom_doc_t d;
    vn_prom_limits_t lim = {.max_series = 2, .max_labels = 2, .max_points = 2, .max_families = 3};
    vn_prom_doc_init(&d, &lim);
    vn_prom_error_t e;
    const char *two = "a 1\nb 2\n";
    assert_int_equal(vn_prom_parse(&d, two, strlen(two), &e), VN_OK);
    const char *three = "a 1\nb 2\nc 3\n";
    assert_int_equal(vn_prom_parse(&d, three, strlen(three), &e), VN_ERR_TOO_LARGE);
    assert_int_equal(e.line, 3);
    assert_non_null(strstr(e.msg, "too many series (limit 2)"));
    assert_int_equal(d.nseries, 0);
    const char *labels = "a{x=\"1\",y=\"2\",z=\"3\"} 1\n";
    assert_int_equal(vn_prom_parse(&d, labels, strlen(labels), &e), VN_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "more than 2 labels"));
    const char *points =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"3\"} 1\n";
    assert_int_equal(vn_prom_parse(&d, points, strlen(points), &e), VN_ERR_TOO_LARGE);
    assert_int_equal(e.line, 4);
    const char *fams = "# HELP a x\n# HELP b x\n# HELP c x\n# HELP d x\n";
    assert_int_equal(vn_prom_parse(&d, fams, strlen(fams), &e), VN_ERR_TOO_LARGE);
    assert_int_equal(e.line, 4);
    assert_non_null(strstr(e.msg, "too many metric families"));
    vn_prom_doc_destroy(&d);
}

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
        cmocka_unit_test(test_prom_text__counter_gauge_help_type),
        cmocka_unit_test(test_prom_text__escapes),
        cmocka_unit_test(test_prom_text__untyped_and_missing_type),
        cmocka_unit_test(test_prom_text__special_values),
        cmocka_unit_test(test_prom_text__histogram),
        cmocka_unit_test(test_prom_text__summary),
        cmocka_unit_test(test_prom_text__suffix_without_parent),
        cmocka_unit_test(test_prom_text__lenient_whitespace_and_go_quirks),
        cmocka_unit_test(test_prom_text__unknown_type_is_kept),
        cmocka_unit_test(test_prom_text__empty_and_reuse),
        cmocka_unit_test(test_prom_text__not_nul_terminated),
        cmocka_unit_test(test_prom_text__error_table),
        cmocka_unit_test(test_prom_text__limits),
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
