/*
 * test_routing.c - flush/routing: Go's matcher.Match cases (util/matcher
 * matcher_test.go semantics), the union over rules, each per-sink limit in
 * Go's order, the no-copy path, and config-load rejection of bad patterns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "flush/routing.h"

static char g_err[512];

static vn_config_t *load(const char *yaml)
{
    char *env[] = {NULL};
    vn_config_t *cfg = NULL;
    vn_err_t err = vn_config_load(yaml, strlen(yaml), env, false, &cfg, g_err, sizeof g_err);
    if (err != VN_OK)
        fail_msg("config: %s", g_err);
    return cfg;
}

static vn_sink_route_t *route_for(const vn_config_t *cfg, const char *sink)
{
    vn_sink_route_t *r = NULL;
    assert_int_equal(vn_sink_route_new(cfg, sink, &r, g_err, sizeof g_err), VN_OK);
    assert_non_null(r);
    return r;
}

#define SINKS "metric_sinks:\n  - {kind: debug, name: s}\n  - {kind: debug, name: other}\n"
#define ON "features: {enable_metric_sink_routing: true}\n"

/* One rule sending matches to s; checks (name, tags) against want. */
static void match_case(const char *match_yaml, const char *name, const char *const *tags, size_t ntags, bool want)
{
    char y[2048];
    snprintf(y, sizeof y, ON SINKS "metric_sink_routing:\n  - name: r\n    match:\n%s    sinks: {matched: [s]}\n",
             match_yaml);
    vn_config_t *cfg = load(y);
    vn_sink_route_t *r = route_for(cfg, "s");
    if (vn_sink_route_wants(r, name, tags, ntags) != want)
        fail_msg("%s on \"%s\" (%zu tags): want %d", match_yaml, name, ntags, want);
    vn_sink_route_free(r);
    vn_config_free(cfg);
}

static void test_name_kinds(void **st)
{
    (void)st;
    const char *any = "      - name: {kind: any}\n";
    match_case(any, "aaa", NULL, 0, true);
    const char *exact = "      - name: {kind: exact, value: aab}\n";
    match_case(exact, "aab", NULL, 0, true);
    match_case(exact, "aaba", NULL, 0, false);
    const char *prefix = "      - name: {kind: prefix, value: aa}\n";
    match_case(prefix, "aaba", NULL, 0, true);
    match_case(prefix, "abb", NULL, 0, false);
    const char *rx = "      - name: {kind: regex, value: 'ab+$'}\n";
    match_case(rx, "aab", NULL, 0, true);
    match_case(rx, "abb", NULL, 0, true);
    match_case(rx, "aaba", NULL, 0, false);
    /* Go syntax through RE2: \d, (?i), non-greedy */
    match_case("      - name: {kind: regex, value: '(?i)^API\\.\\d+?x'}\n", "api.12x", NULL, 0, true);
}

static void test_tag_kinds_and_unset(void **st)
{
    (void)st;
    const char *t1[] = {"aab"}, *t2[] = {"aaba"}, *t3[] = {"x", "aab"};
    const char *exact = "      - name: {kind: any}\n        tags: [{kind: exact, value: aab}]\n";
    match_case(exact, "n", t1, 1, true);
    match_case(exact, "n", t2, 1, false);
    match_case(exact, "n", t3, 2, true);
    match_case(exact, "n", NULL, 0, false);
    const char *unset = "      - name: {kind: any}\n        tags: [{kind: exact, value: aab, unset: true}]\n";
    match_case(unset, "n", t1, 1, false);
    match_case(unset, "n", t2, 1, true);
    match_case(unset, "n", NULL, 0, true); /* no tag matches: an unset matcher holds */
    const char *pre = "      - name: {kind: any}\n        tags: [{kind: prefix, value: aa}]\n";
    match_case(pre, "n", t2, 1, true);
    const char *rx = "      - name: {kind: any}\n        tags: [{kind: regex, value: 'b$'}]\n";
    match_case(rx, "n", t1, 1, true);
    match_case(rx, "n", t2, 1, false);
    /* AND of every tag matcher within one matcher */
    const char *both = "      - name: {kind: any}\n        tags: [{kind: exact, value: x}, {kind: exact, value: aab}]\n";
    match_case(both, "n", t3, 2, true);
    match_case(both, "n", t1, 1, false);
    /* OR over matchers; name AND tags within one */
    const char *orm = "      - name: {kind: exact, value: a}\n        tags: [{kind: exact, value: aab}]\n"
                      "      - name: {kind: exact, value: b}\n";
    match_case(orm, "a", t2, 1, false);
    match_case(orm, "a", t1, 1, true);
    match_case(orm, "b", NULL, 0, true);
}

static void test_union_and_not_matched(void **st)
{
    (void)st;
    vn_config_t *cfg = load(ON SINKS "metric_sink_routing:\n"
                                     "  - {name: r1, match: [{name: {kind: prefix, value: a.}}], sinks: {matched: [s], not_matched: [other]}}\n"
                                     "  - {name: r2, match: [{name: {kind: exact, value: b}}], sinks: {matched: [s]}}\n");
    vn_sink_route_t *s = route_for(cfg, "s"), *o = route_for(cfg, "other");
    assert_true(vn_sink_route_wants(s, "a.x", NULL, 0));
    assert_false(vn_sink_route_wants(o, "a.x", NULL, 0));
    assert_true(vn_sink_route_wants(s, "b", NULL, 0));   /* rule 2 */
    assert_true(vn_sink_route_wants(o, "b", NULL, 0));   /* rule 1 not matched */
    assert_false(vn_sink_route_wants(s, "c", NULL, 0));
    assert_true(vn_sink_route_wants(o, "c", NULL, 0));
    vn_sink_route_free(s);
    vn_sink_route_free(o);
    vn_config_free(cfg);
}

static void test_off_means_no_route(void **st)
{
    (void)st;
    vn_config_t *cfg = load(SINKS "metric_sink_routing:\n  - {name: r, match: [{name: {kind: any}}], sinks: {matched: [s]}}\n");
    vn_sink_route_t *r = (vn_sink_route_t *)1;
    assert_int_equal(vn_sink_route_new(cfg, "s", &r, g_err, sizeof g_err), VN_OK);
    assert_null(r);
    vn_config_free(cfg);
}

static vn_inter_metric_t im(const char *name, const char *const *tags, size_t ntags)
{
    return (vn_inter_metric_t){.name = name, .tags = tags, .ntags = ntags, .value = 1};
}

static void test_limits_in_go_order(void **st)
{
    (void)st;
    vn_config_t *cfg = load(ON "metric_sinks:\n"
                               "  - kind: debug\n    name: s\n    max_name_length: 8\n    max_tag_length: 10\n"
                               "    max_tags: 3\n    strip_tags: [{kind: prefix, value: secret}, {kind: regex, value: '^tmp\\d'}]\n"
                               "    add_tags: {team: core, env: prod}\n"
                               "  - kind: debug\n    name: long\n    max_tag_length: 8\n    add_tags: {zone: abcdefgh}\n"
                               "metric_sink_routing:\n"
                               "  - {name: r, match: [{name: {kind: prefix, value: skip}}], sinks: {not_matched: [s, long]}}\n");
    vn_sink_route_t *r = route_for(cfg, "s");
    const char *t_ok[] = {"a:1"}, *t_env[] = {"envx:1"}, *t_strip[] = {"secret:verylongvalue", "tmp1:x", "b:2"},
               *t_long[] = {"abcdefghijk"}, *t_many[] = {"a:1", "b:2"};
    vn_inter_metric_t in[] = {
        im("ok", t_ok, 1),              /* + team:core, env:prod */
        im("skip.me", t_ok, 1),         /* not routed */
        im("toolongname", NULL, 0),     /* max_name_length */
        im("env", t_env, 1),            /* env:prod skipped: "envx:1" starts with "env" */
        im("strip", t_strip, 3),        /* long secret stripped before the length check */
        im("long", t_long, 1),          /* max_tag_length */
        im("many", t_many, 2),          /* 4 tags after add: max_tags */
    };
    vn_route_scratch_t sc = {0};
    vn_route_counts_t k = {0};
    const vn_inter_metric_t *out = NULL;
    size_t n = vn_sink_route_apply(r, in, sizeof in / sizeof in[0], &sc, &out, &k);
    assert_int_equal(n, 3);
    assert_ptr_equal(out, sc.m);
    assert_string_equal(out[0].name, "ok");
    assert_int_equal(out[0].ntags, 3);
    assert_string_equal(out[0].tags[0], "a:1");
    assert_string_equal(out[0].tags[1], "team:core");
    assert_string_equal(out[0].tags[2], "env:prod");
    assert_ptr_equal(out[0].tags[0], t_ok[0]); /* shared, not copied */
    assert_string_equal(out[1].name, "env");
    assert_int_equal(out[1].ntags, 2);
    assert_string_equal(out[1].tags[1], "team:core");
    assert_string_equal(out[2].name, "strip");
    assert_int_equal(out[2].ntags, 3);
    assert_string_equal(out[2].tags[0], "b:2");
    assert_int_equal(k.skipped, 1);
    assert_int_equal(k.max_name_length, 1);
    assert_int_equal(k.max_tag_length, 1);
    assert_int_equal(k.max_tags, 1);
    assert_int_equal(k.flushed, 3);
    assert_int_equal(k.dropped_max_name_length, 1);
    assert_int_equal(k.dropped_max_tag_length, 1);
    assert_int_equal(k.dropped_max_tags, 1);
    vn_sink_route_free(r);

    /* an added "k:v" over max_tag_length drops the metric: counted as
     * max_tag_length, but Go emits no dropped_metrics for it */
    r = route_for(cfg, "long");
    memset(&k, 0, sizeof k);
    n = vn_sink_route_apply(r, in, 1, &sc, &out, &k);
    assert_int_equal(n, 0);
    assert_int_equal(k.max_tag_length, 1);
    assert_int_equal(k.dropped_max_tag_length, 0);
    vn_sink_route_free(r);
    vn_route_scratch_free(&sc);
    vn_config_free(cfg);
}

static void test_unchanged_chunk_is_not_copied(void **st)
{
    (void)st;
    vn_config_t *cfg = load(ON SINKS "metric_sink_routing:\n  - {name: r, match: [{name: {kind: any}}], sinks: {matched: [s]}}\n");
    vn_sink_route_t *r = route_for(cfg, "s");
    const char *t[] = {"a:1"};
    vn_inter_metric_t in[] = {im("x", t, 1), im("y", NULL, 0)};
    vn_route_scratch_t sc = {0};
    vn_route_counts_t k = {0};
    const vn_inter_metric_t *out = NULL;
    assert_int_equal(vn_sink_route_apply(r, in, 2, &sc, &out, &k), 2);
    assert_ptr_equal(out, in);
    assert_null(sc.m);
    /* veneursinkonly: routing decides (Go replaces metric.Sinks); the copy clears it */
    in[1].sink_only = "other";
    assert_int_equal(vn_sink_route_apply(r, in, 2, &sc, &out, &k), 2);
    assert_ptr_equal(out, sc.m);
    assert_null(out[1].sink_only);
    assert_string_equal(out[0].name, "x");
    assert_int_equal(k.flushed, 4);
    vn_sink_route_free(r);
    vn_route_scratch_free(&sc);
    vn_config_free(cfg);
}

static void test_many_tags_use_scratch(void **st)
{
    (void)st;
    vn_config_t *cfg = load(ON "metric_sinks:\n  - kind: debug\n    name: s\n    add_tags: {z: 1}\n"
                               "metric_sink_routing:\n  - {name: r, match: [{name: {kind: any}}], sinks: {matched: [s]}}\n");
    vn_sink_route_t *r = route_for(cfg, "s");
    enum { NT = 200, NM = 50 };
    static char tagbuf[NT][16]; /* room for any int: gcc -O1 checks the %d width */
    const char *tags[NT];
    for (int i = 0; i < NT; i++) {
        snprintf(tagbuf[i], sizeof tagbuf[i], "t%d", i);
        tags[i] = tagbuf[i];
    }
    vn_inter_metric_t in[NM];
    for (int i = 0; i < NM; i++)
        in[i] = im("m", tags, (size_t)(i % 3 == 0 ? NT : i % 5));
    vn_route_scratch_t sc = {0};
    vn_route_counts_t k = {0};
    const vn_inter_metric_t *out = NULL;
    assert_int_equal(vn_sink_route_apply(r, in, NM, &sc, &out, &k), NM);
    for (int i = 0; i < NM; i++) {
        assert_int_equal(out[i].ntags, in[i].ntags + 1);
        for (size_t j = 0; j < in[i].ntags; j++)
            assert_string_equal(out[i].tags[j], tags[j]);
        assert_string_equal(out[i].tags[in[i].ntags], "z:1");
    }
    vn_sink_route_free(r);
    vn_route_scratch_free(&sc);
    vn_config_free(cfg);
}

static void test_bad_regex_fails_load(void **st)
{
    (void)st;
    const char *bad[] = {
        ON SINKS "metric_sink_routing:\n  - {name: r, match: [{name: {kind: regex, value: '['}}], sinks: {matched: [s]}}\n",
        ON SINKS "metric_sink_routing:\n  - {name: r, match: [{name: {kind: any}, tags: [{kind: regex, value: 'a(b'}]}], sinks: {matched: [s]}}\n",
        ON "metric_sinks:\n  - {kind: debug, name: s, strip_tags: [{kind: regex, value: '*x'}]}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *env[] = {NULL};
        vn_config_t *cfg = NULL;
        assert_int_not_equal(vn_config_load(bad[i], strlen(bad[i]), env, false, &cfg, g_err, sizeof g_err), VN_OK);
        assert_non_null(strstr(g_err, "regex"));
        vn_config_free(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_kinds),
        cmocka_unit_test(test_tag_kinds_and_unset),
        cmocka_unit_test(test_union_and_not_matched),
        cmocka_unit_test(test_off_means_no_route),
        cmocka_unit_test(test_limits_in_go_order),
        cmocka_unit_test(test_unchanged_chunk_is_not_copied),
        cmocka_unit_test(test_many_tags_use_scratch),
        cmocka_unit_test(test_bad_regex_fails_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
