/* test_config_files.c - src/config: the embedded default config, the dump round trip, loading
 * from a file and refusing what is not a regular file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/metric.h"
#include "parse/dogstatsd.h"

#include "config_fixture.h"

/* ------------------------------------------------------------------ embedded default, dump, files */

static void test_config__embedded_default_parses(void **state)
{
    (void)state;
    vn_config_t *c = load_ok(vn_config_default_yaml, NULL, true);
    assert_int_equal(c->statsd_listen_addresses.n, 1);
    assert_string_equal(c->statsd_listen_addresses.v[0], "udp://127.0.0.1:8126");
    assert_string_equal(c->http_address, "127.0.0.1:8127");
    assert_true(c->interval_s == 10);
    assert_int_equal(c->n_percentiles, 3);
    assert_true(c->percentiles[0] == 0.5 && c->percentiles[1] == 0.75 && c->percentiles[2] == 0.99);
    assert_int_equal(c->aggregates, DEFAULT_AGGS);
    assert_int_equal(c->n_metric_sinks, 1);
    assert_string_equal(c->metric_sinks[0].kind, "debug");
    assert_string_equal(c->metric_sinks[0].name, "debug");
    assert_true(c->flush_on_shutdown);
    assert_true(c->hostname[0] != '\0');
    vn_config_free(c);
}

static void test_config__dump_round_trip(void **state)
{
    (void)state;
    const char *yaml = "statsd_listen_addresses: [\"udp://127.0.0.1:8126\", \"unixgram:///tmp/s\"]\n"
                       "http_address: \"127.0.0.1:8127\"\n"
                       "interval: 1500ms\n"
                       "percentiles: [0.5, 0.999]\n"
                       "aggregates: [min, hmean]\n"
                       "hostname: \"h\\\"q\\tx\"\n"
                       "extend_tags: [\"a:b\", \"\xc3\xa9:1\"]\n"
                       "features: {enable_metric_sink_routing: true}\n"
                       "http: {config: true}\n"
                       "veneur_metrics_scopes: {counter: local}\n"
                       "max_series_per_interval: 100000\n"
                       "flush_file: /tmp/x.gz\n"
                       "metric_sinks:\n"
                       "  - kind: datadog\n"
                       "    name: dd\n"
                       "    max_tags: 5\n"
                       "    strip_tags: [{kind: exact, value: a}]\n"
                       "    add_tags: {k: v}\n"
                       "    config:\n"
                       "      api_hostname: https://x\n"
                       "      drops: [a, b]\n"
                       "      empty: []\n"
                       "      nested: {deep: {er: 1}}\n"
                       "      list_of_maps: [{a: 1}, {a: 2, b: [x]}]\n"
                       "metric_sink_routing: [{name: r, match: [{name: {kind: any}}], sinks: {matched: [dd]}}]\n";
    vn_config_t *a = load_ok(yaml, NULL, true);
    char *d = dump_to_string(a);
    vn_config_t *b = load_ok(d, NULL, true);
    assert_int_equal(b->statsd_listen_addresses.n, 2);
    assert_string_equal(b->statsd_listen_addresses.v[1], "unixgram:///tmp/s");
    assert_true(b->interval_s == 1.5);
    assert_int_equal(b->n_percentiles, 2);
    assert_true(b->percentiles[1] == 0.999);
    assert_int_equal(b->aggregates, VN_AGG_MIN | VN_AGG_HMEAN);
    assert_string_equal(b->hostname, "h\"q\tx");
    assert_string_equal(b->extend_tags.v[1], "\xc3\xa9:1");
    assert_true(b->features_enable_metric_sink_routing && b->http_config);
    assert_string_equal(b->veneur_metrics_scopes_counter, "local");
    assert_int_equal(b->max_series_per_interval, 100000);
    assert_int_equal(b->n_metric_sinks, a->n_metric_sinks); /* the v13 localfile is dumped as a sink, once */
    assert_int_equal(b->n_metric_sinks, 2);
    for (size_t s = 0; s < a->n_metric_sinks; s++) {
        const vn_sink_config_t *x = &a->metric_sinks[s], *y = &b->metric_sinks[s];
        assert_string_equal(x->kind, y->kind);
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->max_tags, y->max_tags);
        assert_int_equal(x->n_strip_tags, y->n_strip_tags);
        assert_int_equal(x->n_add_tags, y->n_add_tags);
        if (x->n_kv != y->n_kv)
            fail_msg("sink %zu: %zu kv before, %zu after:\n%s", s, x->n_kv, y->n_kv, d);
        for (size_t i = 0; i < x->n_kv; i++) {
            assert_string_equal(x->kv[i].key, y->kv[i].key);
            assert_string_equal(x->kv[i].value, y->kv[i].value);
            assert_int_equal(x->kv[i].is_list, y->kv[i].is_list);
        }
    }
    assert_int_equal(b->n_metric_sink_routing, 1);
    assert_string_equal(b->metric_sink_routing[0].matched.v[0], "dd");
    /* dumping the reloaded config gives the same text */
    char *d2 = dump_to_string(b);
    assert_string_equal(d, d2);
    free(d);
    free(d2);
    vn_config_free(a);
    vn_config_free(b);
}

static void test_config__load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/vn_cfg_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *yaml = "num_workers: 3\n";
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    vn_config_t *c = NULL;
    assert_int_equal(vn_config_load_file(path, NULL, true, &c, g_err, sizeof g_err), VN_OK);
    assert_int_equal(c->num_workers, 3);
    vn_config_free(c);
    unlink(path);
    assert_int_equal(vn_config_load_file(path, NULL, true, &c, g_err, sizeof g_err), VN_ERR_CONFIG);
    assert_null(c);
    assert_contains(g_err, "cannot open");
    assert_int_equal(vn_config_load_file("/", NULL, true, &c, g_err, sizeof g_err), VN_ERR_CONFIG);
    /* a NULL or tiny errbuf is fine */
    assert_int_equal(vn_config_load("num_workers: x\n", 15, NULL, true, &c, NULL, 0), VN_ERR_CONFIG);
    char tiny[4];
    assert_int_equal(vn_config_load("num_workers: x\n", 15, NULL, true, &c, tiny, sizeof tiny), VN_ERR_CONFIG);
    assert_string_equal(tiny, "con");
}

static void test_config__non_regular_file_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/vn_cfg_fifo_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    vn_config_t *c = (vn_config_t *)1;
    /* returns at once: no writer is waited for */
    assert_int_equal(vn_config_load_file(path, NULL, true, &c, g_err, sizeof g_err), VN_ERR_CONFIG);
    assert_null(c);
    assert_contains(g_err, "not a regular file");
    unlink(path);
    rmdir(dir);
    assert_int_equal(vn_config_load_file("/dev/null", NULL, true, &c, g_err, sizeof g_err), VN_ERR_CONFIG);
    assert_contains(g_err, "not a regular file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__embedded_default_parses),
        cmocka_unit_test(test_config__dump_round_trip),
        cmocka_unit_test(test_config__load_file),
        cmocka_unit_test(test_config__non_regular_file_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
