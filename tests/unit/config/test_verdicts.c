/*
 * test_verdicts.c - every key of Go Veneur's Config (server, [v13] flat keys,
 * proxy) and every Go sink/source kind has a verdict here: a row in our key
 * table (implemented, or listed as accepted-but-not-implemented), and each
 * kind is in vn_config_kinds. Go's lists are data: tests/data/go-keys/ (see
 * its README.md). Also: strict loads list every unknown and every
 * unimplemented key at once; non-strict loads accept them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "proxy/proxy_config.h"
#include "proxy/proxy_config_internal.h"
#include "sinks/sink.h"

static FILE *open_data(const char *name)
{
    static const char *const dirs[] = {"tests/data/go-keys/", "../tests/data/go-keys/", "../../tests/data/go-keys/"};
    char path[512];
    const char *env = getenv("VN_TEST_GO_KEYS_DIR");
    if (env) {
        snprintf(path, sizeof path, "%s/%s", env, name);
        return fopen(path, "r");
    }
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", dirs[i], name);
        FILE *f = fopen(path, "r");
        if (f)
            return f;
    }
    return NULL;
}

/* Walks one key list: every key must have a row in schema. Returns the
 * number of keys; *warned gets how many of them are not implemented. */
static size_t walk_keys(const char *file, const vn_config_schema_t *schema, size_t *warned)
{
    FILE *f = open_data(file);
    if (!f)
        fail_msg("cannot open tests/data/go-keys/%s (run from the repository root)", file);
    char line[256];
    size_t n = 0, missing = 0;
    *warned = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        n++;
        if (!vn_cfg__schema_find(schema, line)) {
            fprintf(stderr, "%s: Go key \"%s\" has no verdict (no row in the key table)\n", file, line);
            missing++;
        } else if (vn_cfg_unimplemented(schema, line)) {
            (*warned)++;
        }
    }
    fclose(f);
    assert_int_equal(missing, 0);
    assert_true(n > 10);
    printf("%s: %zu Go keys, %zu implemented, %zu warned (accepted, not implemented)\n", file, n, n - *warned,
           *warned);
    return n;
}

static void test_verdicts__every_go_key_has_one(void **state)
{
    (void)state;
    size_t w;
    assert_int_equal(walk_keys("server.txt", &vn_config_schema, &w), 53);
    walk_keys("v13.txt", &vn_config_schema, &w);
    walk_keys("proxy.txt", &vn_proxy__schema, &w);
}

/* A row in a verdict list that names no key would hide a typo. */
static void test_verdicts__unimpl_rows_name_keys(void **state)
{
    (void)state;
    const vn_config_schema_t *schemas[] = {&vn_config_schema, &vn_proxy__schema};
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; schemas[s]->unimpl[i].key; i++) {
            if (!vn_cfg__schema_find(schemas[s], schemas[s]->unimpl[i].key))
                fail_msg("verdict row \"%s\" names no key", schemas[s]->unimpl[i].key);
            assert_null(strchr(schemas[s]->unimpl[i].why, ' ')); /* a log field */
        }
    assert_null(vn_cfg_unimplemented(&vn_config_schema, "interval"));
    assert_null(vn_cfg_unimplemented(&vn_config_schema, "span_sinks"));
    assert_string_equal(vn_cfg_unimplemented(&vn_config_schema, "lightstep_access_token"),
                        "lightstep_span_sink_not_implemented");
    assert_non_null(vn_cfg_unimplemented(&vn_proxy__schema, "sentry_dsn"));
    assert_null(vn_cfg_unimplemented(&vn_proxy__schema, "forward_addresses"));
}

static void test_verdicts__every_go_kind_has_one(void **state)
{
    (void)state;
    FILE *f = open_data("sink-kinds.txt");
    assert_non_null(f);
    char line[256];
    size_t n = 0, warned = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        bool found = false;
        for (size_t i = 0; i < vn_config_nkinds; i++)
            if (strcmp(vn_config_kinds[i].section, line) == 0 && strcmp(vn_config_kinds[i].kind, sp + 1) == 0) {
                found = true;
                warned += vn_config_kinds[i].why != NULL;
            }
        if (!found)
            fail_msg("Go kind %s %s has no verdict in vn_config_kinds", line, sp + 1);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 18);
    printf("sink-kinds.txt: %zu Go kinds, %zu implemented, %zu warned\n", n, n - warned, warned);
}

/* The kinds table says "implemented" only where the sink registry builds one. */
static void test_verdicts__kinds_match_the_registry(void **state)
{
    (void)state;
    vn_config_t *cfg = vn_config_new_defaults();
    for (size_t i = 0; i < vn_config_nkinds; i++) {
        if (strcmp(vn_config_kinds[i].section, "metric_sinks") != 0)
            continue;
        vn_sink_config_t sc = {.kind = (char *)vn_config_kinds[i].kind, .name = (char *)"t"};
        vn_sink_t *s = NULL;
        char err[256];
        vn_err_t e = vn_sink_new(&sc, cfg, &s, err, sizeof err);
        if (e == VN_ERR_NOTFOUND)
            fail_msg("metric_sinks kind %s is marked implemented but the registry has none", sc.kind);
        if (e == VN_OK)
            vn_sink_free(s);
    }
    vn_sink_config_t bogus = {.kind = (char *)"nope", .name = (char *)"t"};
    vn_sink_t *s = NULL;
    assert_int_equal(vn_sink_new(&bogus, cfg, &s, NULL, 0), VN_ERR_NOTFOUND);
    assert_non_null(vn_cfg_kind_unimplemented("metric_sinks", "nope"));
    vn_config_free(cfg);
}

static void test_verdicts__strict_lists_all(void **state)
{
    (void)state;
    const char *yaml = "block_profile_rate: 1\nbogus_a: 1\nsentry_dsn: https://k@s/1\n"
                       "span_sinks: [{kind: lightstep}]\nbogus_b: 2\nmetric_sinks: [{kind: nope, name: n1}]\n"
                       "interval: 10s\n";
    char err[1024];
    vn_config_t *cfg = NULL;
    assert_int_equal(vn_config_load(yaml, strlen(yaml), NULL, true, &cfg, err, sizeof err), VN_ERR_CONFIG);
    assert_null(cfg);
    const char *want[] = {"unknown keys \"bogus_a\", \"bogus_b\"", "4 keys or kinds accepted but not implemented",
                          "block_profile_rate", "sentry_dsn", "span_sinks", "metric_sinks[0].kind=nope"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(err, want[i]))
            fail_msg("\"%s\" lacks \"%s\"", err, want[i]);
    assert_null(strstr(err, "interval"));
    assert_null(strstr(err, "k@s")); /* a secret's value never shows */
    /* not strict: the same file loads (each one is a WARN line) */
    assert_int_equal(vn_config_load(yaml, strlen(yaml), NULL, false, &cfg, err, sizeof err), VN_OK);
    vn_config_free(cfg);
    /* an env value counts as set; an empty one does not */
    char *env[] = {(char *)"VENEUR_MUTEXPROFILEFRACTION=5", (char *)"VENEUR_SENTRYDSN=", NULL};
    assert_int_equal(vn_config_load("", 0, env, true, &cfg, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "1 key or kind accepted but not implemented: mutex_profile_fraction"));
    /* the proxy's too */
    const char *py = "runtime_metrics_interval: 10s\nforward_addresses: [a:1]\nnope: 1\n";
    char path[] = "/tmp/vn-verdicts-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, py, strlen(py)), (ssize_t)strlen(py));
    close(fd);
    vn_proxy_config_t *pc = NULL;
    assert_int_equal(vn_proxy_config_validate_file(path, NULL, &pc, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "unknown key \"nope\"; 1 key or kind accepted but not implemented: runtime_metrics_interval"));
    /* Go's -strict (a running proxy) refuses unknown keys only */
    assert_int_equal(vn_proxy_config_load_file(path, NULL, true, &pc, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "unknown key \"nope\""));
    assert_null(strstr(err, "runtime_metrics_interval"));
    unlink(path);
    const char *ok = "runtime_metrics_interval: 10s\nforward_addresses: [a:1]\n";
    assert_int_equal(vn_proxy_config_load(ok, strlen(ok), NULL, true, &pc, err, sizeof err), VN_OK);
    vn_proxy_config_free(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts__every_go_key_has_one),
        cmocka_unit_test(test_verdicts__unimpl_rows_name_keys),
        cmocka_unit_test(test_verdicts__every_go_kind_has_one),
        cmocka_unit_test(test_verdicts__kinds_match_the_registry),
        cmocka_unit_test(test_verdicts__strict_lists_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
