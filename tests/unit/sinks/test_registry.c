/* test_registry.c - sinks/registry: dispatch on kind, names, per-sink excluded tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sinks/sink.h"

static void test_registry__unknown_kind(void **state)
{
    (void)state;
    vn_sink_config_t sc = {.kind = "graphite", .name = "g1"};
    vn_sink_t *s = (vn_sink_t *)1;
    char err[256] = "";
    assert_int_equal(vn_sink_new(&sc, NULL, &s, err, sizeof err), VN_ERR_NOTFOUND);
    assert_null(s);
    assert_non_null(strstr(err, "unknown sink kind \"graphite\""));
    assert_non_null(strstr(err, "\"g1\""));

    sc.kind = "";
    assert_int_equal(vn_sink_new(&sc, NULL, &s, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "kind"));
    sc.kind = NULL;
    assert_int_equal(vn_sink_new(&sc, NULL, &s, NULL, 0), VN_ERR_CONFIG);
    /* a tiny errbuf is truncated, never overrun */
    char tiny[8];
    sc.kind = "nope";
    assert_int_equal(vn_sink_new(&sc, NULL, &s, tiny, sizeof tiny), VN_ERR_NOTFOUND);
    assert_int_equal(strlen(tiny), 7);
}

static void test_registry__known_kinds_and_names(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "flush_file", .value = "/tmp/never-written"}};
    vn_sink_config_t sc = {.kind = "localfile", .name = "archive", .kv = kv, .n_kv = 1};
    vn_sink_t *s = NULL;
    char err[256];
    assert_int_equal(vn_sink_new(&sc, NULL, &s, err, sizeof err), VN_OK);
    assert_string_equal(s->ops->kind, "localfile");
    assert_string_equal(s->name, "archive");
    assert_int_equal(s->n_excluded_tags, 0);
    vn_sink_free(s);

    vn_sink_config_t dbg = {.kind = "debug"}; /* no name: the kind is the name */
    assert_int_equal(vn_sink_new(&dbg, NULL, &s, err, sizeof err), VN_OK);
    assert_string_equal(s->ops->kind, "debug");
    assert_string_equal(s->name, "debug");
    vn_sink_free(s);
    vn_sink_free(NULL);
}

/* Go's generateExcludedTags cases (server_test.go) plus edge cases. */
static void test_registry__tags_exclude(void **state)
{
    (void)state;
    static const struct {
        const char *sink;
        const char *rules[4];
        size_t nrules;
        const char *want[4];
        size_t nwant;
    } cases[] = {
        {"datadog", {"host"}, 1, {"host"}, 1},
        {"signalfx", {"host", "ip|signalfx|datadog"}, 2, {"host", "ip"}, 2},
        {"datadog", {"host", "ip|signalfx|datadog"}, 2, {"host", "ip"}, 2},
        {"signalfx", {"host", "ip|datadog"}, 2, {"host"}, 1},
        {"debug", {"", "x|", "|debug", "y|debugger"}, 4, {NULL}, 0}, /* empty prefixes dropped; exact names */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.tags_exclude.v = (char **)cases[i].rules;
        cfg.tags_exclude.n = cases[i].nrules;
        vn_sink_config_t sc = {.kind = "debug", .name = (char *)cases[i].sink};
        vn_sink_t *s = NULL;
        char err[256];
        assert_int_equal(vn_sink_new(&sc, &cfg, &s, err, sizeof err), VN_OK);
        assert_string_equal(s->name, cases[i].sink);
        if (s->n_excluded_tags != cases[i].nwant)
            fail_msg("case %zu: %zu excluded tags, want %zu", i, s->n_excluded_tags, cases[i].nwant);
        for (size_t k = 0; k < cases[i].nwant; k++)
            assert_string_equal(s->excluded_tags[k], cases[i].want[k]);
        vn_sink_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry__unknown_kind),
        cmocka_unit_test(test_registry__known_kinds_and_names),
        cmocka_unit_test(test_registry__tags_exclude),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
