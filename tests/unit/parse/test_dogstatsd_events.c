/*
 * test_dogstatsd_events.c - src/parse (dogstatsd.c, tags.c; numbers via core/gonum.c):
 * events and service checks.
 *
 * Data tables: every vector of docs/behaviour.md 1.7 and 7, then the extra cases of the
 * brief (multi-value order, zero values, ignored sections, sort, implicit
 * override, tag limit, events, service checks, NUL and 0xff bytes), split by topic over
 * test_dogstatsd.c, test_dogstatsd_tags.c and test_dogstatsd_events.c.
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

#include "core/hash.h"
#include "parse/dogstatsd.h"

#include "dogstatsd_fixture.h"

/* ------------------------------------------------------------------ events */

typedef struct {
    const char *in;
    int implicit;
    vn_parse_err_t err;
    const char *title, *text;
    int64_t ts;
    const char *host, *agg, *prio, *src, *alert;
    const char *tags; /* joined */
    uint32_t ignored; /* unknown `x:` fields skipped */
} ecase_t;

static const ecase_t k_event_cases[] = {
    {"_e{3,3}:foo|bar|k:foos|s:test|t:success|p:low|#foo:bar,baz:qux|d:1136239445|h:example.com", 0, VN_PARSE_OK,
     "foo", "bar", 1136239445, "example.com", "foos", "low", "test", "success", "baz:qux,foo:bar", 0},
    {"_e{3,3}:foo|bar|k:foos|s:test|t:success|p:low|#foo:bar,baz:qux|d:1136239445|h:example.com", 1, VN_PARSE_OK,
     "foo", "bar", 1136239445, "example.com", "foos", "low", "test", "success", "baz:qux,foo:bar,implicit", 0},
    {"_e{4,3}:foo|bar", 0, VN_PARSE_ERR_EV_TITLE_LEN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,4}:foo|bar", 0, VN_PARSE_ERR_EV_TEXT_LEN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|d:abc", 0, VN_PARSE_ERR_EV_DATE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|p:baz", 0, VN_PARSE_ERR_EV_PRIORITY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|t:baz", 0, VN_PARSE_ERR_EV_ALERT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|t:info|t:info", 0, VN_PARSE_ERR_EV_MULTI, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar||", 0, VN_PARSE_ERR_EV_EMPTY_SECTION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,0}:foo||", 0, VN_PARSE_ERR_EV_TEXT_LEN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo", 0, VN_PARSE_ERR_EV_NO_TEXT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}", 0, VN_PARSE_ERR_EV_NO_COLON, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,15}:foo|foo\\nbar\\nbaz\\n", 0, VN_PARSE_OK, "foo", "foo\nbar\nbaz\n", NOW, "", "", "", "", "", "", 0},
    /* more error categories */
    {"_e{0,3}:|bar", 0, VN_PARSE_ERR_EV_TITLE_LEN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{-3,3}:foo|bar", 0, VN_PARSE_ERR_EV_TITLE_LEN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{x,3}:foo|bar", 0, VN_PARSE_ERR_EV_TITLE_LEN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3,3}:foo|bar", 0, VN_PARSE_ERR_EV_TEXT_LEN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3}:foo|bar", 0, VN_PARSE_ERR_EV_COMMA, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{}:foo|bar", 0, VN_PARSE_ERR_EV_COMMA, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"e{3,3}:foo|bar", 0, VN_PARSE_ERR_EV_WRAPPER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3:foo|bar", 0, VN_PARSE_ERR_EV_WRAPPER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {":foo|bar", 0, VN_PARSE_ERR_EV_WRAPPER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|X:1", 0, VN_PARSE_ERR_EV_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|abc", 0, VN_PARSE_ERR_EV_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|c1:abc", 0, VN_PARSE_ERR_EV_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|:abc", 0, VN_PARSE_ERR_EV_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|@0.5", 0, VN_PARSE_ERR_EV_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* T<digits> is a metric field (v1.3); events carry d: */
    {"_e{3,3}:foo|bar|T1700000000", 0, VN_PARSE_ERR_EV_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* own fields stay exact next to skipped ones */
    {"_e{3,3}:foo|bar|c:abc|p:high", 0, VN_PARSE_ERR_EV_PRIORITY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|c:abc|d:x", 0, VN_PARSE_ERR_EV_DATE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|h:a|c:abc|h:b", 0, VN_PARSE_ERR_EV_MULTI, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|c:abc||", 0, VN_PARSE_ERR_EV_EMPTY_SECTION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|#a|#b", 0, VN_PARSE_ERR_EV_MULTI, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|d:1|d:2", 0, VN_PARSE_ERR_EV_MULTI, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_e{3,3}:foo|bar|d:99999999999999999999", 0, VN_PARSE_ERR_EV_DATE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* title may contain ':'; +3 is an Atoi integer; tags are a map (last wins,
     * "k:" == "k"); implicit replaces the explicit key */
    {"_e{+3,1}:a:b|x|d:-5|#a:1,b:,a:2,c", 1, VN_PARSE_OK, "a:b", "x", -5, "", "", "", "", "", "a:2,b,c,implicit", 0},
    {"_e{1,1}:t|x|#implicit:mine,z", 1, VN_PARSE_OK, "t", "x", NOW, "", "", "", "", "", "implicit,z", 0},
    {"_e{1,2}:t|\\\\|p:normal|t:error", 0, VN_PARSE_OK, "t", "\\\\", NOW, "", "", "normal", "", "error", "", 0},
    {"_e{1,3}:t|\\\\n|#", 0, VN_PARSE_OK, "t", "\\\n", NOW, "", "", "", "", "", "", 0},
    /* DogStatsD 1.2-1.6 fields on events: skipped wherever they are, counted */
    {"_e{3,3}:foo|bar|x:1", 0, VN_PARSE_OK, "foo", "bar", NOW, "", "", "", "", "", "", 1},
    {"_e{3,3}:foo|bar|c:ci-abc,in-42|e:it-false|card:low", 0, VN_PARSE_OK, "foo", "bar", NOW, "", "", "", "", "",
     "", 3},
    /* datadog-go v5 appendEvent: d h k p s t #tags c e, text newlines as \n */
    {"_e{10,9}:Deploy web|line\\ntwo|d:1700000000|h:web1|k:dep|p:low|s:go|t:warning|#env:prod,team:a|c:ci-0123abc|"
     "e:it-false,cn-web",
     0, VN_PARSE_OK, "Deploy web", "line\ntwo", 1700000000, "web1", "dep", "low", "go", "warning",
     "env:prod,team:a", 2},
    /* datadogpy: d k p s t h #tags c (h after t) */
    {"_e{2,4}:py|text|d:1700000001|k:agg|p:normal|s:my apps|t:error|h:py-host|#a,b:c|c:0123abc", 0, VN_PARSE_OK,
     "py", "text", 1700000001, "py-host", "agg", "normal", "my apps", "error", "a,b:c", 1},
    /* in front of the own fields and between them */
    {"_e{1,1}:a|b|card:high|h:x|e:y|#t", 1, VN_PARSE_OK, "a", "b", NOW, "x", "", "", "", "", "implicit,t", 2},
};

static void expect_str(vn_str_t got, const char *want, const char *what, const char *in)
{
    if (got.len != strlen(want) || memcmp(got.p, want, got.len) != 0)
        fail_msg("%s: %s = [%.*s] want [%s]", in, what, (int)got.len, got.p, want);
}

static void test_dogstatsd__event_table(void **state)
{
    (void)state;
    static vn_event_t ev;
    char scratch[512];
    for (size_t i = 0; i < sizeof(k_event_cases) / sizeof(k_event_cases[0]); i++) {
        const ecase_t *c = &k_event_cases[i];
        const vn_parser_t *p = c->implicit ? &k_implicit : &k_plain;
        vn_parse_err_t e = vn_parse_event(p, c->in, strlen(c->in), NOW, scratch, sizeof(scratch), &ev);
        if (e != c->err)
            fail_msg("%s: got %s want %s", c->in, vn_parse_err_reason(e), vn_parse_err_reason(c->err));
        if (e != VN_PARSE_OK)
            continue;
        expect_str(ev.title, c->title, "title", c->in);
        expect_str(ev.text, c->text, "text", c->in);
        assert_true(ev.text.len == 0 || (ev.text.p >= scratch && ev.text.p < scratch + sizeof(scratch)));
        assert_int_equal(ev.timestamp, c->ts);
        expect_str(ev.hostname, c->host, "host", c->in);
        expect_str(ev.agg_key, c->agg, "agg", c->in);
        expect_str(ev.priority, c->prio, "prio", c->in);
        expect_str(ev.source_type, c->src, "source", c->in);
        expect_str(ev.alert_type, c->alert, "alert", c->in);
        char buf[256];
        size_t n = vn_tags_join(ev.tags, ev.ntags, buf, sizeof(buf));
        assert_true(n != SIZE_MAX);
        expect_str(vn_str(buf, n), c->tags, "tags", c->in);
        if (ev.ignored_sections != c->ignored)
            fail_msg("%s: ignored %u want %u", c->in, ev.ignored_sections, c->ignored);
    }
    /* "|#" gives the single empty tag; no section gives none */
    const char *l = "_e{1,1}:a|b|#";
    assert_int_equal(vn_parse_event(&k_plain, l, strlen(l), NOW, scratch, sizeof(scratch), &ev), VN_PARSE_OK);
    assert_int_equal(ev.ntags, 1);
    l = "_e{1,1}:a|b";
    assert_int_equal(vn_parse_event(&k_plain, l, strlen(l), NOW, scratch, sizeof(scratch), &ev), VN_PARSE_OK);
    assert_int_equal(ev.ntags, 0);
    /* scratch smaller than the text breaks the contract: rejected, not overrun */
    l = "_e{1,5}:a|hello";
    assert_int_equal(vn_parse_event(&k_plain, l, strlen(l), NOW, scratch, 4, &ev), VN_PARSE_ERR_EV_TEXT_LEN);
}

/* ---------------------------------------------------------- service checks */

typedef struct {
    const char *in;
    int implicit;
    vn_parse_err_t err;
    const char *name;
    int status;
    int64_t ts;
    const char *host, *msg, *tags;
    vn_scope_t scope;
    uint32_t ignored; /* unknown `x:` fields skipped */
} scase_t;

static const scase_t k_sc_cases[] = {
    {"_sc|foo.bar|0|#foo:bar,qux:dor|d:1136239445|h:example.com", 0, VN_PARSE_OK, "foo.bar", 0, 1136239445,
     "example.com", "", "foo:bar,qux:dor", VN_SCOPE_MIXED, 0},
    {"_sc|foo.bar|0|#foo:bar,qux:dor|d:1136239445|h:example.com", 1, VN_PARSE_OK, "foo.bar", 0, 1136239445,
     "example.com", "", "foo:bar,implicit,qux:dor", VN_SCOPE_MIXED, 0},
    {"foo.bar|0", 0, VN_PARSE_ERR_SC_PREFIX, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|foo.bar", 0, VN_PARSE_ERR_SC_NO_STATUS, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|foo.bar|5", 0, VN_PARSE_ERR_SC_STATUS, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|foo.bar|0||", 0, VN_PARSE_ERR_SC_EMPTY_SECTION, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|foo.bar|0|d:abc", 0, VN_PARSE_ERR_SC_DATE, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|foo|1|m:foo", 0, VN_PARSE_OK, "foo", 1, NOW, "", "foo", "", VN_SCOPE_MIXED, 0},
    {"_sc|foo|0|m:foo\\nbar\\nbaz\\n", 0, VN_PARSE_OK, "foo", 0, NOW, "", "foo\nbar\nbaz\n", "", VN_SCOPE_MIXED, 0},
    /* docs/behaviour.md 7: exact match only for service checks */
    {"_sc|n|0|#veneurlocalonly:true", 0, VN_PARSE_OK, "n", 0, NOW, "", "", "veneurlocalonly:true", VN_SCOPE_MIXED, 0},
    {"_sc|n|3|#b,veneurlocalonly,a", 0, VN_PARSE_OK, "n", 3, NOW, "", "", "a,b", VN_SCOPE_LOCAL, 0},
    {"_sc|n|2|#veneurglobalonly|h:x", 0, VN_PARSE_OK, "n", 2, NOW, "x", "", "", VN_SCOPE_GLOBAL, 0},
    /* more error categories */
    {"_sc", 0, VN_PARSE_ERR_SC_NO_NAME, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_scx|n|0", 0, VN_PARSE_ERR_SC_PREFIX, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc||0", 0, VN_PARSE_ERR_SC_EMPTY_NAME, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|00", 0, VN_PARSE_ERR_SC_STATUS, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|", 0, VN_PARSE_ERR_SC_STATUS, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|h:b", 0, VN_PARSE_ERR_SC_MSG_NOT_LAST, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|m:b", 0, VN_PARSE_ERR_SC_MSG_NOT_LAST, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|", 0, VN_PARSE_ERR_SC_EMPTY_SECTION, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|h:a|h:b", 0, VN_PARSE_ERR_SC_MULTI, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|d:1|d:1", 0, VN_PARSE_ERR_SC_MULTI, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|#a|#b", 0, VN_PARSE_ERR_SC_MULTI, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|x:1", 0, VN_PARSE_OK, "n", 0, NOW, "", "", "", VN_SCOPE_MIXED, 1},
    {"_sc|n|0|X:1", 0, VN_PARSE_ERR_SC_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|@0.5", 0, VN_PARSE_ERR_SC_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|d:+12|h:|m:", 0, VN_PARSE_OK, "n", 0, 12, "", "", "", VN_SCOPE_MIXED, 0},
    {"_sc|n|0|#implicit:x,a", 1, VN_PARSE_OK, "n", 0, NOW, "", "", "a,implicit", VN_SCOPE_MIXED, 0},
    /* DogStatsD 1.2-1.6 fields on checks. After m: the Agent ends the message
     * at the next '|' and reads c:/e:/card: as fields; we do the same for
     * unknown `x:` fields, and keep Go's "m: last" for d: h: # m: */
    {"_sc|n|0|c:ci-abc|e:it-false|card:low", 0, VN_PARSE_OK, "n", 0, NOW, "", "", "", VN_SCOPE_MIXED, 3},
    {"_sc|n|2|m:disk full|c:ci-abc", 0, VN_PARSE_OK, "n", 2, NOW, "", "disk full", "", VN_SCOPE_MIXED, 1},
    {"_sc|n|2|m:a\\nb|c:x|e:y|card:orchestrator", 0, VN_PARSE_OK, "n", 2, NOW, "", "a\nb", "", VN_SCOPE_MIXED,
     3},
    /* datadog-go v5 appendServiceCheck: d h #tags m c e */
    {"_sc|db.up|1|d:1700000000|h:db1|#env:prod,veneurlocalonly|m:slow m\\: replica|c:ci-0123abc|e:it-false,cn-db",
     0, VN_PARSE_OK, "db.up", 1, 1700000000, "db1", "slow m\\: replica", "env:prod", VN_SCOPE_LOCAL, 2},
    /* datadogpy: d h #tags m c */
    {"_sc|py.check|3|d:1700000002|h:py-host|#a:b|m:unknown state|c:0123abc", 0, VN_PARSE_OK, "py.check", 3,
     1700000002, "py-host", "unknown state", "a:b", VN_SCOPE_MIXED, 1},
    {"_sc|n|0|card:low|#t|h:x", 1, VN_PARSE_OK, "n", 0, NOW, "x", "", "implicit,t", VN_SCOPE_MIXED, 1},
    /* junk and own fields after m: stay errors */
    {"_sc|n|0|m:a|c:x|h:b", 0, VN_PARSE_ERR_SC_MSG_NOT_LAST, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|c:x|#t", 0, VN_PARSE_ERR_SC_MSG_NOT_LAST, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|d:1", 0, VN_PARSE_ERR_SC_MSG_NOT_LAST, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|b", 0, VN_PARSE_ERR_SC_MSG_NOT_LAST, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|C:x", 0, VN_PARSE_ERR_SC_MSG_NOT_LAST, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|m:a|c:x|", 0, VN_PARSE_ERR_SC_EMPTY_SECTION, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|c:x|zz", 0, VN_PARSE_ERR_SC_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|T1700000000", 0, VN_PARSE_ERR_SC_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|c:x|d:zz", 0, VN_PARSE_ERR_SC_DATE, 0, 0, 0, 0, 0, 0, 0, 0},
    {"_sc|n|0|h:a|c:x|h:b", 0, VN_PARSE_ERR_SC_MULTI, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void test_dogstatsd__service_check_table(void **state)
{
    (void)state;
    static vn_service_check_t sc;
    char scratch[512];
    for (size_t i = 0; i < sizeof(k_sc_cases) / sizeof(k_sc_cases[0]); i++) {
        const scase_t *c = &k_sc_cases[i];
        const vn_parser_t *p = c->implicit ? &k_implicit : &k_plain;
        vn_parse_err_t e = vn_parse_service_check(p, c->in, strlen(c->in), NOW, scratch, sizeof(scratch), &sc);
        if (e != c->err)
            fail_msg("%s: got %s want %s", c->in, vn_parse_err_reason(e), vn_parse_err_reason(c->err));
        if (e != VN_PARSE_OK)
            continue;
        expect_str(sc.name, c->name, "name", c->in);
        assert_int_equal(sc.status, c->status);
        assert_int_equal(sc.timestamp, c->ts);
        expect_str(sc.hostname, c->host, "host", c->in);
        expect_str(sc.message, c->msg, "message", c->in);
        assert_int_equal(sc.scope, c->scope);
        char buf[256];
        size_t n = vn_tags_join(sc.tags, sc.ntags, buf, sizeof(buf));
        assert_true(n != SIZE_MAX);
        expect_str(vn_str(buf, n), c->tags, "tags", c->in);
        if (sc.ignored_sections != c->ignored)
            fail_msg("%s: ignored %u want %u", c->in, sc.ignored_sections, c->ignored);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dogstatsd__event_table),
        cmocka_unit_test(test_dogstatsd__service_check_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
