/* test_config_json.c - vn_config_dump_json (/config/json): Go's field names,
 * nesting and duration encoding; secrets redacted unless print_secrets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "core/buf.h"

static const char *yaml = "interval: 2500ms\nhostname: h1\nsentry_dsn: https://DSNSECRET@sentry/1\n"
                          "tls_key: KEYSECRET\ntls_certificate: CERT\nfeatures:\n  enable_metric_sink_routing: true\n"
                          "percentiles: [0.5, 0.99]\nforward_address: \"http://u:PWSECRET@g:8127\"\n"
                          "metric_sinks:\n  - kind: datadog\n    name: dd\n"
                          "    config: {api_key: APISECRET, api_hostname: \"https://dd\", drops: [a, b]}\n";

static void expect_has(const char *s, const char *needle, bool want)
{
    if ((strstr(s, needle) != NULL) != want)
        fail_msg("%s \"%s\" in:\n%s", want ? "missing" : "unexpected", needle, s);
}

static void test_config_json__shape_and_redaction(void **state)
{
    (void)state;
    vn_config_t *cfg = NULL;
    char err[512];
    if (vn_config_load(yaml, strlen(yaml), NULL, false, &cfg, err, sizeof err) != VN_OK)
        fail_msg("%s", err);
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    vn_config_dump_json(cfg, false, &b);
    const char *j = vn_buf_ptr(&b);
    assert_true(j[0] == '{' && j[vn_buf_len(&b) - 2] == '}' && j[vn_buf_len(&b) - 1] == '\n');
    expect_has(j, "\"Interval\":2500000000", true);
    expect_has(j, "\"Hostname\":\"h1\"", true);
    expect_has(j, "\"Features\":{\"DiagnosticsMetricsEnabled\":false,\"EnableMetricSinkRouting\":true}", true);
    expect_has(j, "\"HTTP\":{\"Config\":false}", true);
    expect_has(j, "\"Percentiles\":[0.5,0.99]", true);
    expect_has(j, "\"MetricSinks\":[{\"Kind\":\"datadog\",\"Name\":\"dd\",\"Config\":{", true);
    expect_has(j, "\"drops\":[\"a\",\"b\"]", true);
    expect_has(j, "\"SentryDsn\":\"<redacted>\"", true);
    expect_has(j, "\"TLSKey\":\"<redacted>\"", true);
    expect_has(j, "\"api_key\":\"<redacted>\"", true);
    expect_has(j, "\"ForwardAddress\":\"http://<redacted>@g:8127\"", true);
    expect_has(j, "SECRET", false);
    vn_buf_reset(&b);
    vn_config_dump_json(cfg, true, &b); /* -print-secrets */
    j = vn_buf_ptr(&b);
    expect_has(j, "\"SentryDsn\":\"https://DSNSECRET@sentry/1\"", true);
    expect_has(j, "\"api_key\":\"APISECRET\"", true);
    expect_has(j, "PWSECRET", true);
    vn_buf_free(&b);
    vn_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_config_json__shape_and_redaction)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
