/* test_config_sinks.c - src/config structured sections: metric_sinks flattening, YAML merge keys,
 * metric_sink_routing, [v13] flat keys -> sinks, per-sink env overrides, sources. */
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

/* ------------------------------------------------------------------ sinks */

static void test_config__metric_sinks_flattening(void **state)
{
    (void)state;
    const char *yaml = "metric_sinks:\n"
                       "  - kind: datadog\n"
                       "    name: dd\n"
                       "    max_name_length: 100\n"
                       "    max_tag_length: 200\n"
                       "    max_tags: 10\n"
                       "    strip_tags: [{kind: prefix, value: \"secret_\"}, {kind: regex, value: \"^x\", unset: true}]\n"
                       "    add_tags: {env: prod, team: obs}\n"
                       "    config:\n"
                       "      api_key: abc\n"
                       "      api_hostname: https://app.datadoghq.com\n"
                       "      flush_max_per_body: 25000\n"
                       "      metric_name_prefix_drops: [foo., bar.]\n"
                       "      exclude_tags_prefix_by_prefix_metric:\n"
                       "        - metric_prefix: a.\n"
                       "          tags: [x, y]\n"
                       "      basic_auth: {username: u, password: p}\n"
                       "      empty_list: []\n"
                       "      nothing: ~\n"
                       "      matrix: [[1, 2], [3]]\n"
                       "  - kind: debug\n"
                       "  - kind: localfile\n"
                       "    name: file\n"
                       "    config: {flush_file: out.jsonl, format: jsonl}\n";
    vn_config_t *c = load_ok(yaml, NULL, true);
    assert_int_equal(c->n_metric_sinks, 3);
    const vn_sink_config_t *dd = &c->metric_sinks[0];
    assert_string_equal(dd->kind, "datadog");
    assert_string_equal(dd->name, "dd");
    assert_int_equal(dd->max_name_length, 100);
    assert_int_equal(dd->max_tag_length, 200);
    assert_int_equal(dd->max_tags, 10);
    assert_int_equal(dd->n_strip_tags, 2);
    assert_string_equal(dd->strip_tags[0].kind, "prefix");
    assert_string_equal(dd->strip_tags[0].value, "secret_");
    assert_false(dd->strip_tags[0].unset);
    assert_true(dd->strip_tags[1].unset);
    assert_int_equal(dd->n_add_tags, 2);
    assert_string_equal(dd->add_tags[1].key, "team");
    assert_string_equal(dd->add_tags[1].value, "obs");
    assert_string_equal(vn_sink_config_get(dd, "api_key"), "abc");
    assert_string_equal(vn_sink_config_get(dd, "flush_max_per_body"), "25000");
    assert_null(vn_sink_config_list(dd, "api_key"));
    const vn_strlist_t *drops = vn_sink_config_list(dd, "metric_name_prefix_drops");
    assert_non_null(drops);
    assert_int_equal(drops->n, 2);
    assert_string_equal(drops->v[1], "bar.");
    assert_string_equal(vn_sink_config_get(dd, "metric_name_prefix_drops"), "foo.,bar.");
    assert_string_equal(vn_sink_config_get(dd, "metric_name_prefix_drops.0"), "foo.");
    assert_string_equal(vn_sink_config_get(dd, "exclude_tags_prefix_by_prefix_metric.0.metric_prefix"), "a.");
    assert_null(vn_sink_config_list(dd, "exclude_tags_prefix_by_prefix_metric")); /* list of maps */
    const vn_strlist_t *tags = vn_sink_config_list(dd, "exclude_tags_prefix_by_prefix_metric.0.tags");
    assert_non_null(tags);
    assert_int_equal(tags->n, 2);
    assert_string_equal(vn_sink_config_get(dd, "exclude_tags_prefix_by_prefix_metric.0.tags.1"), "y");
    assert_string_equal(vn_sink_config_get(dd, "basic_auth.username"), "u");
    assert_string_equal(vn_sink_config_get(dd, "basic_auth.password"), "p");
    const vn_strlist_t *empty = vn_sink_config_list(dd, "empty_list");
    assert_non_null(empty);
    assert_int_equal(empty->n, 0);
    assert_string_equal(vn_sink_config_get(dd, "nothing"), "");
    assert_string_equal(vn_sink_config_get(dd, "matrix.0"), "1,2");
    assert_string_equal(vn_sink_config_get(dd, "matrix.1.0"), "3");
    assert_null(vn_sink_config_get(dd, "missing"));
    assert_string_equal(c->metric_sinks[1].name, "debug"); /* name defaults to kind */
    assert_int_equal(c->metric_sinks[1].n_kv, 0);
    assert_string_equal(vn_sink_config_get(&c->metric_sinks[2], "format"), "jsonl");
    vn_config_free(c);
}

static void test_config__yaml_merge_keys(void **state)
{
    (void)state;
    const char *yaml = "x-common: &common {api_hostname: https://dd, flush_max_per_body: 10}\n"
                       "x-sink: &sink {kind: datadog, max_tags: 7}\n"
                       "metric_sinks:\n"
                       "  - <<: *sink\n"
                       "    name: one\n"
                       "    config:\n"
                       "      <<: *common\n"
                       "      flush_max_per_body: 20\n"
                       "  - <<: [*sink, {kind: debug, max_name_length: 3}]\n"
                       "    name: two\n";
    capture_t cap;
    cap_begin(&cap);
    vn_config_t *c = load_ok(yaml, NULL, false); /* x-* keys are unknown: warnings */
    free(cap_end(&cap));
    assert_int_equal(c->n_metric_sinks, 2);
    const vn_sink_config_t *one = &c->metric_sinks[0], *two = &c->metric_sinks[1];
    assert_string_equal(one->kind, "datadog");
    assert_int_equal(one->max_tags, 7);
    assert_string_equal(vn_sink_config_get(one, "api_hostname"), "https://dd");
    assert_string_equal(vn_sink_config_get(one, "flush_max_per_body"), "20"); /* own key wins */
    assert_string_equal(two->kind, "datadog");                                 /* earlier merge wins */
    assert_int_equal(two->max_name_length, 3);
    vn_config_free(c);
    assert_contains(load_err("metric_sinks: [{<<: 3, kind: debug}]\n", NULL, false),
                    "a merge key (<<) needs a mapping or a list of mappings");
    assert_contains(load_err("metric_sinks: [&a {kind: debug, <<: *a}]\n", NULL, false), "too");
}

static void test_config__routing(void **state)
{
    (void)state;
    const char *yaml = "features: {enable_metric_sink_routing: true}\n"
                       "metric_sinks: [{kind: debug, name: a}, {kind: debug, name: b}]\n"
                       "metric_sink_routing:\n"
                       "  - name: r1\n"
                       "    match:\n"
                       "      - name: {kind: prefix, value: \"api.\"}\n"
                       "        tags: [{kind: exact, value: \"env:prod\"}, {kind: prefix, value: \"x\", unset: true}]\n"
                       "      - name: {kind: any}\n"
                       "    sinks: {matched: [a], not_matched: [b]}\n";
    vn_config_t *c = load_ok(yaml, NULL, true);
    assert_true(c->features_enable_metric_sink_routing);
    assert_int_equal(c->n_metric_sink_routing, 1);
    const vn_sink_routing_t *r = &c->metric_sink_routing[0];
    assert_string_equal(r->name, "r1");
    assert_int_equal(r->n_match, 2);
    assert_string_equal(r->match[0].name_kind, "prefix");
    assert_string_equal(r->match[0].name_value, "api.");
    assert_int_equal(r->match[0].n_tags, 2);
    assert_true(r->match[0].tags[1].unset);
    assert_string_equal(r->match[1].name_kind, "any");
    assert_string_equal(r->match[1].name_value, "");
    assert_int_equal(r->matched.n, 1);
    assert_string_equal(r->not_matched.v[0], "b");
    vn_config_free(c);
}

static const vn_sink_config_t *find_sink(const vn_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_metric_sinks; i++)
        if (strcmp(c->metric_sinks[i].name, name) == 0)
            return &c->metric_sinks[i];
    return NULL;
}

static void test_config__v13_flat_keys_create_sinks(void **state)
{
    (void)state;
    const char *yaml = "tags: [\"env:prod\"]\n"
                       "extend_tags: [\"a:b\"]\n"
                       "flush_file: /tmp/out.csv.gz\n"
                       "datadog_api_key: k1\n"
                       "datadog_api_hostname: https://app.datadoghq.com\n"
                       "datadog_metric_name_prefix_drops: [x.]\n"
                       "datadog_exclude_tags_prefix_by_prefix_metric: [{metric_prefix: m., tags: [t]}]\n"
                       "signalfx_api_key: s1\n"
                       "signalfx_endpoint_base: https://ingest.signalfx.com\n"
                       "signalfx_per_tag_api_keys: [{name: team, api_key: s2}]\n"
                       "kafka_broker: \"k:9092\"\n"
                       "kafka_metric_topic: metrics\n"
                       "kafka_partitioner: random\n"
                       "debug_flushed_metrics: true\n"
                       "forward_use_grpc: false\n"
                       "metric_sinks: [{kind: debug, name: first}]\n";
    vn_config_t *c = load_ok(yaml, NULL, true);
    assert_int_equal(c->n_metric_sinks, 6);
    assert_string_equal(c->metric_sinks[0].name, "first"); /* v14 entries first */
    const vn_sink_config_t *dd = find_sink(c, "datadog");
    assert_non_null(dd);
    assert_string_equal(dd->kind, "datadog");
    assert_string_equal(vn_sink_config_get(dd, "api_key"), "k1");
    assert_string_equal(vn_sink_config_get(dd, "api_hostname"), "https://app.datadoghq.com");
    assert_string_equal(vn_sink_config_get(dd, "flush_max_per_body"), "25000");
    assert_int_equal(vn_sink_config_list(dd, "metric_name_prefix_drops")->n, 1);
    assert_string_equal(vn_sink_config_get(dd, "exclude_tags_prefix_by_prefix_metric.0.tags.0"), "t");
    const vn_sink_config_t *lf = find_sink(c, "localfile");
    assert_non_null(lf);
    assert_string_equal(lf->kind, "localfile");
    assert_string_equal(vn_sink_config_get(lf, "flush_file"), "/tmp/out.csv.gz");
    assert_string_equal(vn_sink_config_get(lf, "format"), "csv");
    const vn_sink_config_t *sfx = find_sink(c, "signalfx");
    assert_non_null(sfx);
    assert_string_equal(vn_sink_config_get(sfx, "api_key"), "s1");
    assert_string_equal(vn_sink_config_get(sfx, "endpoint_base"), "https://ingest.signalfx.com");
    assert_string_equal(vn_sink_config_get(sfx, "per_tag_api_keys.0.api_key"), "s2");
    const vn_sink_config_t *kf = find_sink(c, "kafka");
    assert_non_null(kf);
    assert_string_equal(vn_sink_config_get(kf, "broker"), "k:9092");
    assert_string_equal(vn_sink_config_get(kf, "metric_topic"), "metrics");
    assert_string_equal(vn_sink_config_get(kf, "partitioner"), "random");
    assert_non_null(find_sink(c, "debug"));
    /* v13 tags join extend_tags */
    assert_int_equal(c->extend_tags.n, 2);
    assert_string_equal(c->extend_tags.v[0], "a:b");
    assert_string_equal(c->extend_tags.v[1], "env:prod");
    vn_config_free(c);

    /* env replaces a passthrough key given in the file */
    char *envp[] = {"VENEUR_KAFKAPARTITIONER=hash", NULL};
    c = load_ok("kafka_broker: b\nkafka_metric_topic: m\nkafka_partitioner: random\n", envp, true);
    assert_string_equal(vn_sink_config_get(find_sink(c, "kafka"), "partitioner"), "hash");
    vn_config_free(c);

    /* from env only, as old deployments do */
    char *env[] = {"VENEUR_DATADOGAPIKEY=envkey", "VENEUR_DATADOGAPIHOSTNAME=https://dd", "VENEUR_FLUSHFILE=/tmp/f",
                   "VENEUR_DATADOGFLUSHMAXPERBODY=100", "VENEUR_DATADOGMETRICNAMEPREFIXDROPS=a.,b.", NULL};
    c = load_ok(NULL, env, true);
    assert_int_equal(c->n_metric_sinks, 2);
    dd = find_sink(c, "datadog");
    assert_string_equal(vn_sink_config_get(dd, "api_key"), "envkey");
    assert_string_equal(vn_sink_config_get(dd, "flush_max_per_body"), "100");
    assert_int_equal(vn_sink_config_list(dd, "metric_name_prefix_drops")->n, 2);
    assert_string_equal(vn_sink_config_get(find_sink(c, "localfile"), "flush_file"), "/tmp/f");
    vn_config_free(c);

    /* half a datadog config, or kafka without topics: no sink (warned) */
    capture_t cap;
    cap_begin(&cap);
    c = load_ok("datadog_api_key: k\nkafka_broker: b\nflush_max_per_body: 77\n", NULL, true);
    char *log = cap_end(&cap);
    assert_int_equal(c->n_metric_sinks, 0);
    assert_int_equal(c->datadog_flush_max_per_body, 77); /* old alias */
    assert_contains(log, "event=config_v13_sink_skipped kind=datadog");
    assert_contains(log, "event=config_v13_sink_skipped kind=kafka");
    free(log);
    vn_config_free(c);
}

static void test_config__per_sink_env_override(void **state)
{
    (void)state;
    const char *yaml = "metric_sinks:\n"
                       "  - kind: datadog\n"
                       "    name: datadog\n"
                       "    config:\n"
                       "      api_key: fromfile\n"
                       "      metric_name_prefix_drops: [x.]\n"
                       "      per_tag: [{name: a}]\n"
                       "  - kind: cortex\n"
                       "    name: cx\n"
                       "    config: {url: http://c, basic_auth: {username: u, password: filepw}}\n"
                       "  - kind: localfile\n"
                       "    name: my-file\n"
                       "    config: {flush_file: a.jsonl}\n";
    char *env[] = {"DATADOG_APIKEY=fromenv", "DATADOG_APIHOSTNAME=https://env", "DATADOG_METRICNAMEPREFIXDROPS=a.,b.",
                   "CX_BASICAUTH_PASSWORD=envpw", "MY-FILE_FLUSHFILE=b.jsonl", "MY-FILE_FORMAT=jsonl",
                   "DATADOG_PERTAG_0_NAME=nope", NULL};
    vn_config_t *c = load_ok(yaml, env, true);
    const vn_sink_config_t *dd = &c->metric_sinks[0];
    assert_string_equal(vn_sink_config_get(dd, "api_key"), "fromenv");
    assert_string_equal(vn_sink_config_get(dd, "api_hostname"), "https://env"); /* known key, absent from file */
    const vn_strlist_t *l = vn_sink_config_list(dd, "metric_name_prefix_drops");
    assert_int_equal(l->n, 2);
    assert_string_equal(vn_sink_config_get(dd, "metric_name_prefix_drops"), "a.,b.");
    assert_string_equal(vn_sink_config_get(dd, "metric_name_prefix_drops.1"), "b.");
    assert_string_equal(vn_sink_config_get(dd, "per_tag.0.name"), "a"); /* list items: not env-addressable */
    assert_string_equal(vn_sink_config_get(&c->metric_sinks[1], "basic_auth.password"), "envpw");
    assert_string_equal(vn_sink_config_get(&c->metric_sinks[2], "flush_file"), "b.jsonl");
    assert_string_equal(vn_sink_config_get(&c->metric_sinks[2], "format"), "jsonl");
    vn_config_free(c);
    /* v13-translated sinks keep Go v13's rules: only VENEUR_* applies */
    char *env2[] = {"DATADOG_APIKEY=other", NULL};
    c = load_ok("datadog_api_key: k\ndatadog_api_hostname: h\n", env2, true);
    assert_string_equal(vn_sink_config_get(&c->metric_sinks[0], "api_key"), "k");
    vn_config_free(c);
}

/* ------------------------------------------------------------------ sources */

static void test_config__sources(void **state)
{
    (void)state;
    const char *yaml = "sources:\n"
                       "  - kind: openmetrics\n"
                       "    name: node\n"
                       "    tags: [\"env:test\", \"team:x\"]\n"
                       "    config:\n"
                       "      scrape_interval: 10s\n"
                       "      scrape_target: http://127.0.0.1:9100/metrics\n"
                       "      allowlist: \"^node_\"\n"
                       "  - kind: openmetrics\n"
                       "    config: {scrape_interval: 5s, scrape_target: \"http://h/m\"}\n";
    capture_t cap;
    cap_begin(&cap);
    vn_config_t *a = load_ok(yaml, NULL, true);
    char *log = cap_end(&cap);
    assert_null(strstr(log, "not_implemented")); /* the openmetrics kind is implemented */
    free(log);
    assert_int_equal(a->n_sources, 2);
    assert_string_equal(a->sources[0].kind, "openmetrics");
    assert_string_equal(a->sources[0].name, "node");
    assert_int_equal(a->sources[0].tags.n, 2);
    assert_string_equal(a->sources[0].tags.v[1], "team:x");
    assert_string_equal(vn_source_config_get(&a->sources[0], "scrape_interval"), "10s");
    assert_string_equal(vn_source_config_get(&a->sources[0], "allowlist"), "^node_");
    assert_null(vn_source_config_get(&a->sources[0], "denylist"));
    assert_string_equal(a->sources[1].name, "openmetrics"); /* name defaults to the kind */
    assert_int_equal(a->sources[1].tags.n, 0);
    /* the dump loads back into the same sources, and dumps the same */
    char *d = dump_to_string(a);
    assert_contains(d, "sources:\n  - kind: \"openmetrics\"\n    name: \"node\"\n    tags: [\"env:test\", \"team:x\"]\n");
    vn_config_t *b = load_ok(d, NULL, true);
    assert_int_equal(b->n_sources, 2);
    for (size_t s = 0; s < 2; s++) {
        assert_string_equal(a->sources[s].name, b->sources[s].name);
        assert_int_equal(a->sources[s].tags.n, b->sources[s].tags.n);
        assert_int_equal(a->sources[s].n_kv, b->sources[s].n_kv);
        for (size_t i = 0; i < a->sources[s].n_kv; i++) {
            assert_string_equal(a->sources[s].kv[i].key, b->sources[s].kv[i].key);
            assert_string_equal(a->sources[s].kv[i].value, b->sources[s].kv[i].value);
        }
    }
    char *d2 = dump_to_string(b);
    assert_string_equal(d, d2);
    free(d);
    free(d2);
    /* JSON: Go's SourceConfig field names */
    vn_buf_t j = VN_BUF_INIT(1 << 20);
    vn_config_dump_json(a, false, &j);
    const char *want[] = {"\"Sources\":[{\"Kind\":\"openmetrics\",\"Name\":\"node\",\"Config\":{",
                          "\"Tags\":[\"env:test\",\"team:x\"]"};
    for (size_t w = 0; w < 2; w++)
        if (!memmem(vn_buf_ptr(&j), vn_buf_len(&j), want[w], strlen(want[w])))
            fail_msg("no %s in %.*s", want[w], (int)vn_buf_len(&j), vn_buf_ptr(&j));
    vn_buf_free(&j);
    vn_config_free(a);
    vn_config_free(b);
    /* shape errors */
    assert_contains(load_err("sources: [{name: x}]\n", NULL, true), "sources[0].kind");
    assert_contains(load_err("sources: [{kind: openmetrics, bogus: 1}]\n", NULL, true),
                    "unknown key \"sources[0].bogus\"");
    assert_contains(load_err("sources: [{kind: openmetrics, config: [1]}]\n", NULL, true), "expected a mapping");
    /* an unknown kind is reported like an unknown sink kind */
    cap_begin(&cap);
    a = load_ok("sources: [{kind: nosuch}]\n", NULL, false);
    log = cap_end(&cap);
    assert_contains(log, "event=config_kind_not_implemented section=sources kind=\"nosuch\"");
    free(log);
    vn_config_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__metric_sinks_flattening),
        cmocka_unit_test(test_config__yaml_merge_keys),
        cmocka_unit_test(test_config__routing),
        cmocka_unit_test(test_config__v13_flat_keys_create_sinks),
        cmocka_unit_test(test_config__per_sink_env_override),
        cmocka_unit_test(test_config__sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
