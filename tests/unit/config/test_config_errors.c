/* test_config_errors.c - src/config: error messages name the key and value, secrets are never
 * printed (values, URL userinfo and query), unknown keys, and hostile YAML stays bounded. */
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

/* ------------------------------------------------------------------ errors and secrets */

static void test_config__bad_values_name_key_and_value(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"num_workers: abc\n", "config: key \"num_workers\": invalid integer \"abc\" (line 1)"},
        {"debug: maybe\n", "key \"debug\": invalid boolean \"maybe\""},
        {"num_readers: 99999999999\n", "key \"num_readers\": invalid integer \"99999999999\""},
        {"metric_max_length: -1\n", "key \"metric_max_length\": invalid value \"-1\""},
        {"read_buffer_size_bytes: -2\n", "key \"read_buffer_size_bytes\": invalid value \"-2\""},
        {"hostname: [a]\n", "key \"hostname\": expected a single value"},
        {"features: 3\n", "key \"features\": expected a mapping"},
        {"statsd_listen_addresses: [\"http://127.0.0.1:8126\"]\n",
         "unknown address family \"http\" on address \"http://127.0.0.1:8126\""},
        {"statsd_listen_addresses: [\"127.0.0.1:8126\"]\n", "first path segment in URL cannot contain colon"},
        {"statsd_listen_addresses: [\"localhost:8126\"]\n",
         "unknown address family \"localhost\" on address \"localhost:8126\""},
        {"statsd_listen_addresses: [\"foo\"]\n", "unknown address family \"\" on address \"foo\""},
        {"grpc_listen_addresses: [\"sctp://x:1\"]\n", "unknown address family \"sctp\""},
        {"tls_key: KEYDATA\n", "config: tls_key is set; must set tls_certificate"},
        {"tls:\n  ca_file: a\n", "key \"tls\": ca_file, cert_file, and key_file must all be set"},
        {"veneur_metrics_scopes:\n  counter: everywhere\n",
         "key \"veneur_metrics_scopes.counter\": unknown metric scope option \"everywhere\""},
        {"num_workers: 1\nnum_workers: 2\n", "duplicate key"},
        {"- a\n- b\n", "the top level must be a mapping"},
        {"a: [\n", "YAML error at line"},
        {"a: \"\\q\"\n", "YAML error"},
        {"metric_sinks: [{name: x}]\n", "key \"metric_sinks[0].kind\": missing"},
        {"metric_sinks: [{kind: debug, max_tags: -1}]\n", "key \"metric_sinks[0].max_tags\": invalid integer \"-1\""},
        {"metric_sinks: [{kind: debug, config: 3}]\n", "key \"metric_sinks[0].config\": expected a mapping"},
        {"metric_sinks: {kind: debug}\n", "key \"metric_sinks\": expected a list"},
        {"metric_sinks: [{kind: debug, strip_tags: [{kind: glob, value: x}]}]\n",
         "key \"metric_sinks[0].strip_tags[0].kind\": unknown matcher kind \"glob\""},
        {"metric_sink_routing: [{name: r, match: [{name: {kind: fuzzy, value: x}}]}]\n",
         "key \"metric_sink_routing[0].match[0].name.kind\": unknown matcher kind \"fuzzy\""},
        {"metric_sink_routing: [{name: r, match: [{tags: []}]}]\n",
         "key \"metric_sink_routing[0].match[0].name\": missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_contains(load_err(cases[i].yaml, NULL, false), cases[i].msg);
    /* long and control-character values are escaped and cut, the message stays one line */
    char yaml[1024];
    memset(yaml, 0, sizeof yaml);
    strcpy(yaml, "num_workers: \"1\\n");
    memset(yaml + strlen(yaml), 'x', 600);
    strcat(yaml, "\"\n");
    const char *m = load_err(yaml, NULL, true);
    assert_contains(m, "invalid integer \"1\\x0axxx");
    assert_contains(m, "...");
}

static void test_config__secrets_never_printed(void **state)
{
    (void)state;
    char shown[64];
    assert_string_equal(vn_cfg__show("hunter2", true, shown, sizeof shown), "<redacted>");
    static const char *const secret_keys[] = {"api_key", "tls_key", "sentry_dsn", "splunk_hec_token",
                                              "basic_auth.password", "aws_secret_access_key", "per_tag_api_keys.0.api_key",
                                              "authorization.credentials", "X_API_KEY"};
    for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++)
        assert_true(vn_cfg__key_is_secret(secret_keys[i]));
    assert_false(vn_cfg__key_is_secret("api_hostname"));
    assert_false(vn_cfg__key_is_secret("flush_file"));
    /* an error after secrets were read does not echo them */
    const char *m = load_err("datadog_api_key: SEKRET1\ntls_key: SEKRET2\nsentry_dsn: SEKRET3\nnum_workers: x\n",
                             NULL, true);
    assert_null(strstr(m, "SEKRET"));
    char *env[] = {"VENEUR_TLSKEY=SEKRET4", NULL};
    m = load_err(NULL, env, true);
    assert_contains(m, "tls_key is set");
    assert_null(strstr(m, "SEKRET"));
    /* the dump redacts top-level secrets, translated v13 secrets and sink config secrets */
    vn_config_t *c = load_ok("tls_key: SEKRET5\ntls_certificate: CERT\nsentry_dsn: SEKRET6\n"
                             "datadog_api_key: SEKRET7\ndatadog_api_hostname: https://dd\n"
                             "signalfx_api_key: SEKRET8\n"
                             "metric_sinks:\n"
                             "  - kind: cortex\n"
                             "    config:\n"
                             "      url: http://c\n"
                             "      basic_auth: {username: u, password: SEKRET9}\n"
                             "      authorization: {type: Bearer, credentials: SEKRET10}\n"
                             "      headers: {X-Auth-Token: SEKRET11}\n"
                             "      api_keys: [SEKRET12, SEKRET13]\n",
                             NULL, true);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vn_config_dump(c, f);
    fclose(f);
    assert_null(strstr(buf, "SEKRET"));
    assert_contains(buf, "<redacted>");
    assert_contains(buf, "CERT");
    assert_contains(buf, "http://c");
    free(buf);
    vn_config_free(c);
}

static void test_config__unknown_keys(void **state)
{
    (void)state;
    const char *yaml = "bogus_key: 1\nfeatures:\n  bogus_feature: true\nmetric_sinks: [{kind: debug, bogus_field: 1}]\n";
    capture_t cap;
    cap_begin(&cap);
    vn_config_t *c = load_ok(yaml, NULL, false);
    char *log = cap_end(&cap);
    assert_contains(log, "event=config_unknown_key key=\"bogus_key\"");
    assert_contains(log, "event=config_unknown_key key=\"features.bogus_feature\"");
    assert_contains(log, "event=config_unknown_key key=\"metric_sinks[0].bogus_field\"");
    assert_int_equal(c->n_metric_sinks, 1);
    free(log);
    vn_config_free(c);
    assert_contains(load_err("bogus_key: 1\n", NULL, true), "unknown key \"bogus_key\"");
    assert_contains(load_err("http.config: true\n", NULL, true), "unknown key \"http.config\"");
    assert_contains(load_err("features:\n  bogus_feature: true\n", NULL, true), "unknown key \"features.bogus_feature\"");
    assert_contains(load_err("metric_sinks: [{kind: debug, bogus_field: 1}]\n", NULL, true),
                    "unknown key \"metric_sinks[0].bogus_field\"");
    /* accepted-but-ignored keys are known (not "unknown key"), and say so */
    cap_begin(&cap);
    c = load_ok("span_sinks: [{kind: debug}, {kind: lightstep, name: ls}]\nforward_use_grpc: true\n"
                "lightstep_access_token: t\n", NULL, true);
    log = cap_end(&cap);
    assert_null(strstr(log, "key=span_sinks"));
    assert_contains(log, "event=config_kind_not_implemented section=span_sinks kind=\"lightstep\" name=\"ls\"");
    assert_contains(log, "event=config_key_not_implemented key=lightstep_access_token");
    assert_true(c->forward_use_grpc);
    assert_int_equal(c->n_span_sinks, 2);
    assert_string_equal(c->span_sinks[0].kind, "debug");
    assert_string_equal(c->span_sinks[0].name, "debug");
    free(log);
    vn_config_free(c);
}

static void test_config__template_warning(void **state)
{
    (void)state;
    capture_t cap;
    cap_begin(&cap);
    vn_config_t *c = load_ok("# {{ .Env }}\nhostname: \"{{x}}\"\n", NULL, true);
    char *log = cap_end(&cap);
    assert_contains(log, "event=config_template_unsupported");
    assert_string_equal(c->hostname, "{{x}}");
    free(log);
    vn_config_free(c);
}

static void test_config__hostile_yaml_is_bounded(void **state)
{
    (void)state;
    /* alias cycle inside a sink config */
    assert_contains(load_err("metric_sinks: [{kind: debug, config: &a {x: *a}}]\n", NULL, true), "config: ");
    /* exponential alias fan-out */
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                         "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                         "metric_sinks: [{kind: debug, config: {z: *f}}]\n";
    capture_t cap;
    cap_begin(&cap);
    vn_config_t *c = NULL;
    vn_err_t err = vn_config_load(laughs, strlen(laughs), NULL, false, &c, g_err, sizeof g_err);
    free(cap_end(&cap));
    assert_int_equal(err, VN_ERR_CONFIG);
    assert_contains(g_err, "too");
    /* deep nesting */
    char deep[2048] = "metric_sinks: [{kind: debug, config: {a: ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    for (int i = 0; i < 100; i++)
        strcat(deep, "]");
    strcat(deep, "}}]\n");
    assert_contains(load_err(deep, NULL, true), "nested too deeply");
    /* keys full of dots, empty keys: the dump still loads back to the same entries */
    const char *dots = "metric_sinks: [{kind: debug, config: {\"a........................................b\": 1, "
                       "\"\": {\"\": {x: 2}}, \"k.0\": 3, \"l\": [4], \"m.n\": {o: [5, 6]}}}]\n";
    vn_config_t *a = load_ok(dots, NULL, true);
    assert_string_equal(vn_sink_config_get(&a->metric_sinks[0], "..x"), "2");
    char *d = dump_to_string(a);
    vn_config_t *b = load_ok(d, NULL, true);
    assert_int_equal(a->metric_sinks[0].n_kv, b->metric_sinks[0].n_kv);
    for (size_t i = 0; i < a->metric_sinks[0].n_kv; i++) {
        assert_string_equal(a->metric_sinks[0].kv[i].key, b->metric_sinks[0].kv[i].key);
        assert_string_equal(a->metric_sinks[0].kv[i].value, b->metric_sinks[0].kv[i].value);
    }
    free(d);
    vn_config_free(a);
    vn_config_free(b);
    /* empty, comment-only, null and multi-document inputs */
    c = load_ok("", NULL, true);
    vn_config_free(c);
    c = load_ok("# nothing\n", NULL, true);
    vn_config_free(c);
    c = load_ok("~\n", NULL, true);
    vn_config_free(c);
    c = load_ok("num_workers: 2\n---\nnum_workers: x\n", NULL, true);
    assert_int_equal(c->num_workers, 2);
    vn_config_free(c);
    /* NUL bytes in the middle of the text */
    assert_int_equal(vn_config_load("debug: true\n\0zz", 16, NULL, true, &c, g_err, sizeof g_err), VN_ERR_CONFIG);
}

static void test_config__ports_above_65535_rejected(void **state)
{
    (void)state;
    const char *m = load_err("statsd_listen_addresses: [\"udp://127.0.0.1:65537\"]\n", NULL, true);
    assert_contains(m, "key \"statsd_listen_addresses\"");
    assert_contains(m, "65537");
    assert_contains(load_err("http_address: 127.0.0.1:70000\n", NULL, true), "key \"http_address\"");
    assert_contains(load_err("grpc_address: \"[::1]:99999999999999999999\"\n", NULL, true), "key \"grpc_address\"");
    assert_contains(load_err("forward_address: \"http://u@h:65536/x\"\n", NULL, true), "key \"forward_address\"");
    char *env[] = {"VENEUR_HTTPADDRESS=:65540", NULL};
    assert_contains(load_err(NULL, env, true), "key \"http_address\"");
    vn_config_t *c = load_ok("statsd_listen_addresses: [\"udp://127.0.0.1:65535\", \"tcp://[::1]:0\", "
                             "\"unix:///tmp/x:99999\"]\nhttp_address: \":8127\"\n",
                             NULL, true);
    vn_config_free(c);
}

static void test_config__nesting_capped_and_linear(void **state)
{
    (void)state;
    /* 64 levels load; 65 do not, whatever the style */
    char ok[512] = "x: ", bad[512] = "x: ";
    for (int i = 0; i < VN_CONFIG_MAX_YAML_DEPTH - 1; i++)
        strcat(ok, "[");
    for (int i = 0; i < VN_CONFIG_MAX_YAML_DEPTH - 1; i++)
        strcat(ok, "]");
    for (int i = 0; i < VN_CONFIG_MAX_YAML_DEPTH; i++)
        strcat(bad, "[");
    capture_t cap;
    cap_begin(&cap);
    vn_config_t *c = load_ok(ok, NULL, false);
    free(cap_end(&cap));
    vn_config_free(c);
    const char *m = load_err(bad, NULL, false);
    assert_contains(m, "nested too deeply");
    assert_contains(m, "max 64");
    size_t n = 4u << 20, len = 0; /* 4 MiB of '[' took minutes before the cap */
    char *big = malloc(n + 8);
    len += (size_t)sprintf(big, "x: ");
    memset(big + len, '[', n);
    len += n;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vn_config_t *out = (vn_config_t *)1;
    assert_int_equal(vn_config_load(big, len, NULL, false, &out, g_err, sizeof g_err), VN_ERR_CONFIG);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_contains(g_err, "nested too deeply");
    assert_true((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < 2.0);
    /* block-style nesting counts too */
    char *blk = malloc(70 * 80);
    blk[0] = '\0';
    for (int i = 0; i < 70; i++)
        sprintf(blk + strlen(blk), "%*sk%d:\n", i, "", i);
    assert_contains(load_err(blk, NULL, false), "nested too deeply");
    free(blk);
    free(big);
}

static void test_config__no_empty_messages(void **state)
{
    (void)state;
    static const char *const inputs[] = {"? [a]\n: 1\n", "{a: 1}: 2\n", "[1]\n", "a: \"\\q\"\n", ": x\n",
                                         "a: \x01\n", "a: *x\n", "%YAML 2.0\n---\na: 1\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        const char *m = load_err(inputs[i], NULL, true);
        assert_true(strlen(m) > strlen("config: ") + 8);
        assert_null(strstr(m, "key \"\":"));
        assert_true(m[strlen(m) - 1] != ' ');
    }
    assert_contains(load_err("? [a]\n: 1\n", NULL, true), "(top level)");
    assert_contains(load_err("\"\": 1\n", NULL, true), "unknown key \"\" (an empty key)");
}

static void test_config__url_userinfo_redacted(void **state)
{
    (void)state;
    size_t a, b;
    assert_true(vn_config_url_userinfo("https://user:pass@host/x", &a, &b));
    assert_int_equal(a, 8);
    assert_int_equal(b, 17);
    assert_true(vn_config_url_userinfo("http://u:p@ss@h:1", &a, &b)); /* the last '@' ends it */
    assert_int_equal(b, 13);
    assert_false(vn_config_url_userinfo("https://host/a@b", &a, &b));
    assert_false(vn_config_url_userinfo("user:pass@host", &a, &b));
    assert_false(vn_config_url_userinfo(NULL, &a, &b));
    assert_false(vn_config_url_userinfo("unix://@abstract", &a, &b)); /* empty: nothing to hide */
    char sh[64];
    assert_string_equal(vn_cfg__show("qdp:x://@d:0", false, sh, sizeof sh), "qdp:x://@d:0"); /* once looped */
    char shown[160];
    assert_string_equal(vn_cfg__show("https://u:SEKRET@h:1/p", false, shown, sizeof shown), "https://<redacted>@h:1/p");
    vn_config_t *c = load_ok("forward_address: \"http://fu:SEKRET1@fwd:8128\"\n"
                             "statsd_listen_addresses: [\"udp://127.0.0.1:8126\"]\n"
                             "datadog_api_key: SEKRET2\ndatadog_api_hostname: \"https://du:SEKRET3@dd.example\"\n"
                             "metric_sinks:\n"
                             "  - kind: cortex\n"
                             "    config: {url: \"https://cu:SEKRET4@cortex/push\", urls: [\"http://x:SEKRET5@y\"]}\n",
                             NULL, true);
    char *d = dump_to_string(c);
    assert_null(strstr(d, "SEKRET"));
    assert_contains(d, "https://<redacted>@dd.example");
    assert_contains(d, "http://<redacted>@fwd:8128");
    assert_contains(d, "https://<redacted>@cortex/push");
    assert_contains(d, "http://<redacted>@y");
    vn_config_t *again = load_ok(d, NULL, true); /* still loads */
    vn_config_free(again);
    free(d);
    /* -print-secrets shows them, as Go's flag */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vn_config_dump_opts(c, f, true);
    fclose(f);
    assert_contains(buf, "SEKRET1");
    assert_contains(buf, "SEKRET2");
    assert_contains(buf, "SEKRET4");
    free(buf);
    /* an error message echoing a URL hides its userinfo */
    assert_null(strstr(load_err("statsd_listen_addresses: [\"bogus://u:SEKRET6@h:1\"]\n", NULL, true), "SEKRET"));
    vn_config_free(c);
}

static void redact_is(const char *in, const char *want)
{
    char *got = vn_config_redact_url(in);
    if (!want) {
        if (got)
            fail_msg("%s: redacted to %s, want unchanged", in ? in : "(null)", got);
        return;
    }
    if (!got)
        fail_msg("%s: unchanged, want %s", in ? in : "(null)", want);
    assert_string_equal(got, want);
    free(got);
}

static void test_config__url_query_secrets_redacted(void **state)
{
    (void)state;
    redact_is("https://h/x?api_key=abc&q=1#f", "https://h/x?api_key=<redacted>&q=1#f");
    redact_is("https://u:p@h/x?token=t;password=pw&key=k&sig=s&x=1&Client_Secret=c&auth=a",
              "https://<redacted>@h/x?token=<redacted>;password=<redacted>&key=<redacted>&sig=<redacted>&x=1"
              "&Client_Secret=<redacted>&auth=<redacted>");
    redact_is("https://h/?API_KEY=abc", "https://h/?API_KEY=<redacted>");
    redact_is("http://h:1/?&&access_token=a&", "http://h:1/?&&access_token=<redacted>&");
    redact_is("https://h/x?q=1&name=key", NULL); /* the name decides, not the value */
    redact_is("https://h/x?api_key=", NULL);     /* nothing to hide */
    redact_is("https://h/x?api_key", NULL);
    redact_is("https://h/x#frag?token=x", NULL); /* a fragment is not a query */
    redact_is("host:1/x?token=x", NULL);         /* not URL-shaped */
    redact_is("https://h/x", NULL);
    redact_is(NULL, NULL);
    redact_is("https://u:p@h", "https://<redacted>@h");
    char shown[200];
    assert_string_equal(vn_cfg__show("https://h:1/p?api_key=SEKRET&x=\"", false, shown, sizeof shown),
                        "https://h:1/p?api_key=<redacted>&x=\\\"");
    vn_config_t *c = load_ok("forward_address: \"http://fwd:8128/?token=SEKRET1\"\n"
                             "statsd_listen_addresses: [\"udp://127.0.0.1:8126\"]\n"
                             "datadog_api_key: SEKRET0\n"
                             "datadog_api_hostname: \"https://dd.example/?api_key=SEKRET2&site=eu\"\n"
                             "metric_sinks:\n"
                             "  - kind: cortex\n"
                             "    config: {url: \"https://cortex/push?password=SEKRET3\", "
                             "urls: [\"http://y/?secret=SEKRET4\"]}\n",
                             NULL, true);
    char *d = dump_to_string(c);
    assert_null(strstr(d, "SEKRET"));
    assert_contains(d, "http://fwd:8128/?token=<redacted>");
    assert_contains(d, "https://dd.example/?api_key=<redacted>&site=eu");
    assert_contains(d, "https://cortex/push?password=<redacted>");
    assert_contains(d, "http://y/?secret=<redacted>");
    vn_config_t *again = load_ok(d, NULL, true);
    vn_config_free(again);
    free(d);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vn_config_dump_opts(c, f, true); /* -print-secrets */
    fclose(f);
    assert_contains(buf, "?token=SEKRET1");
    assert_contains(buf, "?api_key=SEKRET2");
    free(buf);
    vn_config_free(c);
    assert_null(strstr(load_err("statsd_listen_addresses: [\"bogus://h:1/?key=SEKRET5\"]\n", NULL, true), "SEKRET"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__bad_values_name_key_and_value),
        cmocka_unit_test(test_config__secrets_never_printed),
        cmocka_unit_test(test_config__unknown_keys),
        cmocka_unit_test(test_config__template_warning),
        cmocka_unit_test(test_config__hostile_yaml_is_bounded),
        cmocka_unit_test(test_config__ports_above_65535_rejected),
        cmocka_unit_test(test_config__nesting_capped_and_linear),
        cmocka_unit_test(test_config__no_empty_messages),
        cmocka_unit_test(test_config__url_userinfo_redacted),
        cmocka_unit_test(test_config__url_query_secrets_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
