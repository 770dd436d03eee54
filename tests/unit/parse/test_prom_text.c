/*
 * test_prom_text.c - src/parse/prom_text.c (the Prometheus text parser): accepted
 * documents are checked family by family; rejected ones come from a table of
 * (input, line, message fragment); limits. The veneur-prometheus translator is
 * tested in test_prom_translate.c.
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

#include "prom_fixture.h"

/* ------------------------------------------------------------ helpers */

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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
