/* test_config.c - src/config: YAML + VENEUR_* env -> vn_config_t (docs/behaviour.md 0.1, 0.7, 4.1-4.3, W4.7):
 * defaults, env names, every key from YAML and env, scalar syntax. Siblings: test_config_sinks.c,
 * test_config_errors.c, test_config_files.c; shared helpers in config_fixture.h. */
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

/* ------------------------------------------------------------------ defaults */

static void test_config__defaults(void **state)
{
    (void)state;
    vn_config_t *c = vn_config_new_defaults();
    assert_non_null(c);
    assert_true(c->interval_s == 10.0);
    assert_int_equal(c->aggregates, DEFAULT_AGGS);
    assert_int_equal(c->num_workers, 1);
    assert_int_equal(c->num_readers, 1);
    assert_int_equal(c->read_buffer_size_bytes, 2097152);
    assert_int_equal(c->metric_max_length, 4096);
    assert_int_equal(c->span_channel_capacity, 100);
    assert_true(c->flush_on_shutdown);
    assert_false(c->omit_empty_hostname);
    assert_int_equal(c->n_percentiles, 0);
    assert_int_equal(c->n_metric_sinks, 0);
    assert_int_equal(c->statsd_listen_addresses.n, 0);
    assert_int_equal(c->datadog_flush_max_per_body, 25000);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(c->hostname, host);
    /* every string is non-NULL after load */
    assert_string_equal(c->http_address, "");
    assert_string_equal(c->forward_address, "");
    assert_string_equal(c->tls_key, "");
    vn_config_free(c);
    vn_config_free(NULL);
}

static void test_config__omit_empty_hostname(void **state)
{
    (void)state;
    vn_config_t *c = load_ok("omit_empty_hostname: true\n", NULL, true);
    assert_string_equal(c->hostname, "");
    vn_config_free(c);
    c = load_ok("hostname: box1\n", NULL, true);
    assert_string_equal(c->hostname, "box1");
    vn_config_free(c);
}

static void test_config__zero_means_default(void **state)
{
    (void)state;
    vn_config_t *c = load_ok("interval: 0s\nmetric_max_length: 0\nread_buffer_size_bytes: 0\n"
                             "span_channel_capacity: 0\naggregates: []\nnum_readers: 0\nnum_workers: -3\n"
                             "hostname: ~\npercentiles: ~\n",
                             NULL, true);
    assert_true(c->interval_s == 10.0);
    assert_int_equal(c->metric_max_length, 4096);
    assert_int_equal(c->read_buffer_size_bytes, 2097152);
    assert_int_equal(c->span_channel_capacity, 100);
    assert_int_equal(c->aggregates, DEFAULT_AGGS);
    assert_int_equal(c->num_readers, 1); /* docs/behaviour.md 0.7 */
    assert_int_equal(c->num_workers, 1);
    assert_int_equal(c->n_percentiles, 0);
    vn_config_free(c);
    c = load_ok("flush_on_shutdown: false\n", NULL, true);
    assert_false(c->flush_on_shutdown);
    vn_config_free(c);
}

/* ------------------------------------------------------------------ env names */

static void upper_nounderscore(const char *seg, size_t n, char *out, size_t *w)
{
    for (size_t i = 0; i < n; i++)
        if (seg[i] != '_')
            out[(*w)++] = (char)(seg[i] >= 'a' && seg[i] <= 'z' ? seg[i] - 32 : seg[i]);
}

/* Every Go field in the table yields the env name envconfig would use; for
 * Veneur's fields that is also "upper-case YAML key without '_', '.' -> '_'". */
static void test_config__env_names(void **state)
{
    (void)state;
    char name[160], want[160];
    for (size_t i = 0; i < vn_config_nkeys; i++) {
        const vn_config_key_t *k = &vn_config_keys[i];
        if (!k->gofield)
            continue;
        vn_cfg__env_name(k, name, sizeof name);
        size_t w = 0;
        memcpy(want, "VENEUR_", 7);
        w = 7;
        const char *s = k->key;
        for (;;) {
            const char *d = strchr(s, '.');
            size_t n = d ? (size_t)(d - s) : strlen(s);
            upper_nounderscore(s, n, want, &w);
            if (!d)
                break;
            want[w++] = '_';
            s = d + 1;
        }
        want[w] = '\0';
        if (strcmp(name, want) != 0)
            fail_msg("key %s: env %s, expected %s", k->key, name, want);
    }
    static const struct {
        const char *key, *env;
    } spot[] = {
        {"statsd_listen_addresses", "VENEUR_STATSDLISTENADDRESSES"},
        {"read_buffer_size_bytes", "VENEUR_READBUFFERSIZEBYTES"},
        {"extend_tags", "VENEUR_EXTENDTAGS"},
        {"tags", "VENEUR_TAGS"},
        {"features.enable_metric_sink_routing", "VENEUR_FEATURES_ENABLEMETRICSINKROUTING"},
        {"http.config", "VENEUR_HTTP_CONFIG"},
        {"tls.ca_file", "VENEUR_TLS_CAFILE"},
        {"datadog_api_key", "VENEUR_DATADOGAPIKEY"},
        {"flush_file", "VENEUR_FLUSHFILE"},
        {"veneur_metrics_scopes.counter", "VENEUR_VENEURMETRICSSCOPES_COUNTER"},
        {"tls_authority_certificate", "VENEUR_TLSAUTHORITYCERTIFICATE"},
        {"http_address", "VENEUR_HTTPADDRESS"},
    };
    for (size_t i = 0; i < sizeof spot / sizeof spot[0]; i++) {
        const vn_config_key_t *k = vn_cfg__find_key(spot[i].key);
        assert_non_null(k);
        vn_cfg__env_name(k, name, sizeof name);
        assert_string_equal(name, spot[i].env);
    }
}

/* ------------------------------------------------------------------ every key, YAML and env */

typedef struct {
    char yaml_val[64]; /* YAML text of the value */
    char env_val[64];  /* env text of the value */
} sample_t;

/* A valid non-default value for key k (false if the type is not generic). */
static bool sample_for(const vn_config_key_t *k, const vn_config_t *defs, sample_t *s)
{
    const char *base = (const char *)defs + k->off;
    switch (k->type) {
    case VN_KT_STR:
        if (strncmp(k->key, "veneur_metrics_scopes.", 22) == 0) {
            strcpy(s->yaml_val, "local");
        } else {
            snprintf(s->yaml_val, sizeof s->yaml_val, "v-%zu", (size_t)(k - vn_config_keys));
        }
        strcpy(s->env_val, s->yaml_val);
        return true;
    case VN_KT_INT:
    case VN_KT_LONG:
        strcpy(s->yaml_val, "7");
        strcpy(s->env_val, "7");
        return true;
    case VN_KT_BOOL:
        strcpy(s->yaml_val, *(const bool *)(const void *)base ? "false" : "true");
        strcpy(s->env_val, s->yaml_val);
        return true;
    case VN_KT_DURATION:
        strcpy(s->yaml_val, "3s");
        strcpy(s->env_val, "3s");
        return true;
    case VN_KT_STRLIST:
        strcpy(s->yaml_val, "[a, b]");
        strcpy(s->env_val, "a,b");
        return true;
    case VN_KT_URLLIST:
        if (strcmp(k->key, "otlp_listen_addresses") == 0) { /* its own schemes (docs/otlp.md) */
            strcpy(s->yaml_val, "[\"http://h:1\", \"grpc://h:2\"]");
            strcpy(s->env_val, "http://h:1,grpc://h:2");
            return true;
        }
        strcpy(s->yaml_val, "[\"udp://h:1\", \"tcp://h:2\"]");
        strcpy(s->env_val, "udp://h:1,tcp://h:2");
        return true;
    case VN_KT_FLOATLIST:
        strcpy(s->yaml_val, "[0.25, 1]");
        strcpy(s->env_val, "0.25,1");
        return true;
    case VN_KT_AGGS:
        strcpy(s->yaml_val, "[sum, avg]");
        strcpy(s->env_val, "sum,avg");
        return true;
    default:
        return false;
    }
}

static void check_sample(const vn_config_key_t *k, const vn_config_t *c, const sample_t *s)
{
    const char *base = (const char *)c + k->off;
    switch (k->type) {
    case VN_KT_STR:
        if (strcmp(*(char *const *)(const void *)base, s->yaml_val) != 0)
            fail_msg("key %s: got \"%s\"", k->key, *(char *const *)(const void *)base);
        break;
    case VN_KT_INT:
        if (*(const int *)(const void *)base != 7)
            fail_msg("key %s: got %d", k->key, *(const int *)(const void *)base);
        break;
    case VN_KT_LONG:
        assert_int_equal(*(const long *)(const void *)base, 7);
        break;
    case VN_KT_BOOL:
        if (*(const bool *)(const void *)base != (strcmp(s->yaml_val, "true") == 0))
            fail_msg("key %s: bool not set", k->key);
        break;
    case VN_KT_DURATION:
        assert_true(*(const double *)(const void *)base == 3.0);
        break;
    case VN_KT_STRLIST:
    case VN_KT_URLLIST: {
        const vn_strlist_t *l = (const vn_strlist_t *)(const void *)base;
        if (l->n != 2)
            fail_msg("key %s: %zu items", k->key, l->n);
        break;
    }
    case VN_KT_FLOATLIST:
        assert_int_equal(c->n_percentiles, 2);
        assert_true(c->percentiles[0] == 0.25 && c->percentiles[1] == 1.0);
        break;
    case VN_KT_AGGS:
        assert_int_equal(c->aggregates, VN_AGG_SUM | VN_AGG_AVG);
        break;
    default:
        break;
    }
}

/* Builds "key: value" YAML (nested for "a.b") plus what the key needs to validate. */
static void yaml_for(const vn_config_key_t *k, const char *val, char *out, size_t cap)
{
    const char *dot = strchr(k->key, '.');
    if (strncmp(k->key, "tls.", 4) == 0) {
        const char *subs[] = {"ca_file", "cert_file", "key_file", "server_name"};
        size_t n = (size_t)snprintf(out, cap, "tls:\n");
        for (size_t i = 0; i < 4; i++)
            n += (size_t)snprintf(out + n, cap - n, "  %s: %s\n", subs[i],
                                  strcmp(dot + 1, subs[i]) == 0 ? val : "f");
        return;
    }
    const char *extra = strcmp(k->key, "tls_key") == 0 ? "tls_certificate: c\n" : "";
    if (dot)
        snprintf(out, cap, "%.*s:\n  %s: %s\n%s", (int)(dot - k->key), k->key, dot + 1, val, extra);
    else
        snprintf(out, cap, "%s: %s\n%s", k->key, val, extra);
}

static void test_config__every_key_from_yaml_and_env(void **state)
{
    (void)state;
    vn_config_t *defs = vn_config_new_defaults();
    size_t tested = 0;
    vn_log_set_level(VN_LOG_ERROR); /* v13 keys set alone warn about skipped sinks */
    for (size_t i = 0; i < vn_config_nkeys; i++) {
        const vn_config_key_t *k = &vn_config_keys[i];
        sample_t s;
        if (!sample_for(k, defs, &s))
            continue;
        /* YAML */
        char yaml[512];
        yaml_for(k, s.yaml_val, yaml, sizeof yaml);
        vn_config_t *c = load_ok(yaml, NULL, true);
        check_sample(k, c, &s);
        vn_config_free(c);
        /* env alone */
        char name[160], e1[256];
        vn_cfg__env_name(k, name, sizeof name);
        snprintf(e1, sizeof e1, "%s=%s", name, s.env_val);
        char *env[] = {e1, "VENEUR_TLSCERTIFICATE=c", "VENEUR_TLS_CAFILE=f", "VENEUR_TLS_CERTFILE=f",
                       "VENEUR_TLS_KEYFILE=f", NULL};
        if (strncmp(k->key, "tls", 3) == 0 && strcmp(k->key, "tls_certificate") != 0) {
            /* e1 overrides the matching helper because it comes first */
        } else {
            env[1] = NULL;
        }
        c = load_ok(NULL, env, true);
        check_sample(k, c, &s);
        vn_config_free(c);
        tested++;
    }
    vn_log_set_level(VN_LOG_INFO);
    assert_true(tested >= 55);
    vn_config_free(defs);
}

static void test_config__env_wins_over_file(void **state)
{
    (void)state;
    const char *yaml = "num_workers: 4\ninterval: 5s\nhostname: filehost\ndebug: false\n"
                       "http_address: 127.0.0.1:1\npercentiles: [0.5]\nfeatures:\n  enable_metric_sink_routing: false\n";
    char *env[] = {"VENEUR_NUMWORKERS=0x10", "VENEUR_INTERVAL=1m30s", "VENEUR_HOSTNAME=envhost", "VENEUR_DEBUG=T",
                   "VENEUR_HTTPADDRESS=", "VENEUR_PERCENTILES=0.9,0.99",
                   "VENEUR_FEATURES_ENABLEMETRICSINKROUTING=1", NULL};
    vn_config_t *c = load_ok(yaml, env, true);
    assert_int_equal(c->num_workers, 16);
    assert_true(c->interval_s == 90.0);
    assert_string_equal(c->hostname, "envhost");
    assert_true(c->debug);
    assert_string_equal(c->http_address, ""); /* set but empty still overrides */
    assert_int_equal(c->n_percentiles, 2);
    assert_true(c->percentiles[1] == 0.99);
    assert_true(c->features_enable_metric_sink_routing);
    vn_config_free(c);
    /* empty VENEUR_HOSTNAME overrides, then the default applies (as in Go) */
    char *env2[] = {"VENEUR_HOSTNAME=", NULL};
    c = load_ok("hostname: filehost\n", env2, true);
    assert_string_not_equal(c->hostname, "filehost");
    vn_config_free(c);
    /* unrelated or lower-case names are not ours */
    char *env3[] = {"veneur_numworkers=9", "VENEUR_NUMWORKERSX=9", "XVENEUR_NUMWORKERS=9", NULL};
    c = load_ok(NULL, env3, true);
    assert_int_equal(c->num_workers, 1);
    vn_config_free(c);
}

static void test_config__lists_from_env(void **state)
{
    (void)state;
    char *env[] = {"VENEUR_STATSDLISTENADDRESSES=udp://127.0.0.1:8126,tcp://127.0.0.1:8126",
                   "VENEUR_EXTENDTAGS=a:b, c:d", "VENEUR_TAGSEXCLUDE=", "VENEUR_AGGREGATES=min,max,median,avg,count,sum,hmean",
                   NULL};
    vn_config_t *c = load_ok("tags_exclude: [x, y]\nstatsd_listen_addresses: [\"udp://0.0.0.0:1\"]\n", env, true);
    assert_int_equal(c->statsd_listen_addresses.n, 2);
    assert_string_equal(c->statsd_listen_addresses.v[0], "udp://127.0.0.1:8126");
    assert_string_equal(c->statsd_listen_addresses.v[1], "tcp://127.0.0.1:8126");
    assert_int_equal(c->extend_tags.n, 2);
    assert_string_equal(c->extend_tags.v[1], " c:d"); /* no trimming */
    assert_int_equal(c->tags_exclude.n, 0);           /* set-but-empty: empty list */
    assert_int_equal(c->aggregates, 127);
    vn_config_free(c);
    /* every listen family Go resolves; schemes are lower-cased like Go's url.Parse */
    c = load_ok("statsd_listen_addresses: [\"UDP://127.0.0.1:1\", \"udp4://h:1\", \"udp6://[::1]:1\", \"tcp://h:1\",\n"
                "  \"tcp4://h:1\", \"tcp6://h:1\", \"unix:///tmp/a\", \"unixgram:///tmp/b\", \"unixgram:@abstract\"]\n",
                NULL, true);
    assert_int_equal(c->statsd_listen_addresses.n, 9);
    assert_string_equal(c->statsd_listen_addresses.v[0], "udp://127.0.0.1:1");
    assert_string_equal(c->statsd_listen_addresses.v[8], "unixgram:@abstract");
    vn_config_free(c);
}

/* ------------------------------------------------------------------ scalar syntax */

static void test_config__int_and_bool_forms(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
        long long v;
    } ints[] = {
        {"0", true, 0},      {"42", true, 42},     {"-7", true, -7},     {"+7", true, 7},   {"0x10", true, 16},
        {"0o17", true, 15},  {"017", true, 15},    {"0b101", true, 5},   {"1_000", true, 1000},
        {"", false, 0},      {"abc", false, 0},    {"1.5", false, 0},    {"08", false, 0},  {"1_", false, 0},
        {"_1", false, 0},    {"1__0", false, 0},   {" 1", false, 0},     {"1 ", false, 0},  {"0x", false, 0},
        {"2147483648", false, 0},                 {"-2147483649", false, 0},
        {"2147483647", true, 2147483647},         {"-2147483648", true, -2147483648LL},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long v = -999;
        bool ok = vn_cfg__parse_int(ints[i].s, -2147483648LL, 2147483647LL, &v);
        if (ok != ints[i].ok || (ok && v != ints[i].v))
            fail_msg("parse_int(\"%s\"): ok=%d v=%lld", ints[i].s, ok, v);
    }
    bool b;
    const char *yes_env[] = {"1", "t", "T", "TRUE", "true", "True"};
    const char *no_env[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        assert_true(vn_cfg__parse_bool(yes_env[i], false, &b) && b);
        assert_true(vn_cfg__parse_bool(no_env[i], false, &b) && !b);
    }
    assert_false(vn_cfg__parse_bool("yes", false, &b));
    assert_false(vn_cfg__parse_bool("", false, &b));
    assert_false(vn_cfg__parse_bool("tRuE", false, &b));
    assert_true(vn_cfg__parse_bool("yes", true, &b) && b);
    assert_true(vn_cfg__parse_bool("off", true, &b) && !b);
    /* YAML accepts yes/no; env does not (Go strconv.ParseBool) */
    vn_config_t *c = load_ok("debug: yes\n", NULL, true);
    assert_true(c->debug);
    vn_config_free(c);
    char *env[] = {"VENEUR_DEBUG=yes", NULL};
    assert_contains(load_err(NULL, env, true), "key \"debug\": invalid boolean \"yes\" (env VENEUR_DEBUG)");
    char *env2[] = {"VENEUR_NUMWORKERS=", NULL};
    assert_contains(load_err(NULL, env2, true), "key \"num_workers\": invalid integer \"\"");
}

static void test_config__durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double sec;
    } good[] = {
        {"10s", 10},       {"1m30s", 90},          {"500ms", 0.5},   {"1.5h", 5400},   {"300us", 300e-6},
        {"300\xc2\xb5s", 300e-6},                  {"300\xce\xbcs", 300e-6},           {"7ns", 7e-9},
        {"0", 0},          {"-0", 0},              {"+5s", 5},       {"-1.5s", -1.5},  {".5s", 0.5},
        {"1.s", 1},        {"2h45m", 9900},        {"1h1m1s", 3661}, {"1m.5s", 60.5},  {"0.000000001s", 1e-9},
        {"9223372036854775807ns", 9223372036.854775807},
        {"-9223372036854775808ns", -9223372036.854775808},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double s = -12345;
        if (vn_config_parse_duration(good[i].s, &s) != VN_OK)
            fail_msg("rejected valid duration \"%s\"", good[i].s);
        if (fabs(s - good[i].sec) > 1e-12 * fmax(1, fabs(good[i].sec)))
            fail_msg("\"%s\" -> %.12g, want %.12g", good[i].s, s, good[i].sec);
    }
    static const char *const bad[] = {"",    "10",   "s",     ".s",  ".",     "abc",  "1x",   "1s2",  "--1s",
                                      "1 s", " 1s",  "1s ",   "+",   "-",     "1.2.3s", "1sm",  "1S",
                                      "9223372036854775808ns", "2562048h", "99999999999999999999s", "1e3s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double s;
        if (vn_config_parse_duration(bad[i], &s) == VN_OK)
            fail_msg("accepted invalid duration \"%s\"", bad[i]);
    }
    assert_int_equal(vn_config_parse_duration(NULL, NULL), VN_ERR_PARSE);
    /* format -> parse round trip */
    const double vals[] = {10, 90, 0.5, 0.0003, 1e-9, 0, 3600, 1.25};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char buf[48];
        double back;
        vn_cfg__format_duration(vals[i], buf, sizeof buf);
        assert_int_equal(vn_config_parse_duration(buf, &back), VN_OK);
        assert_true(fabs(back - vals[i]) < 1e-12);
    }
    /* in the config: interval as Go duration; negative rejected; bare number rejected */
    vn_config_t *c = load_ok("interval: 1m30s\n", NULL, true);
    assert_true(c->interval_s == 90);
    vn_config_free(c);
    assert_contains(load_err("interval: -5s\n", NULL, true), "key \"interval\": invalid duration \"-5s\"");
    assert_contains(load_err("interval: 10\n", NULL, true), "key \"interval\": invalid duration \"10\"");
    char *env[] = {"VENEUR_INTERVAL=forever", NULL};
    assert_contains(load_err(NULL, env, true), "key \"interval\": invalid duration \"forever\" (env VENEUR_INTERVAL)");
}

static void test_config__aggregates_mask(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        unsigned mask;
    } cases[] = {
        {"aggregates: [min, max, median, avg, count, sum, hmean]\n", 127},
        {"aggregates: [sum]\n", VN_AGG_SUM},
        {"aggregates: [median, hmean]\n", VN_AGG_MEDIAN | VN_AGG_HMEAN},
        {"aggregates: [count, count]\n", VN_AGG_COUNT}, /* duplicates harmless (Go's sum would corrupt) */
        {"aggregates: []\n", DEFAULT_AGGS},
        {"aggregates:\n", DEFAULT_AGGS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_config_t *c = load_ok(cases[i].yaml, NULL, true);
        assert_int_equal(c->aggregates, cases[i].mask);
        vn_config_free(c);
    }
    assert_contains(load_err("aggregates: [min, p99]\n", NULL, true), "key \"aggregates\": unknown aggregate \"p99\"");
    assert_contains(load_err("aggregates: min\n", NULL, true), "key \"aggregates\": expected a list");
    char *env[] = {"VENEUR_AGGREGATES=min,Max", NULL};
    assert_contains(load_err(NULL, env, true), "unknown aggregate \"Max\" (env VENEUR_AGGREGATES)");
}

static void test_config__percentiles(void **state)
{
    (void)state;
    vn_config_t *c = load_ok("percentiles: [0.5, 0.75, 0.99, 0.999, 1]\n", NULL, true);
    assert_int_equal(c->n_percentiles, 5);
    assert_true(c->percentiles[3] == 0.999);
    vn_config_free(c);
    assert_contains(load_err("percentiles: [0.5, 1.5]\n", NULL, true),
                    "key \"percentiles\": invalid percentile \"1.5\"");
    assert_contains(load_err("percentiles: [0]\n", NULL, true), "invalid percentile \"0\"");
    assert_contains(load_err("percentiles: [-0.5]\n", NULL, true), "invalid percentile \"-0.5\"");
    assert_contains(load_err("percentiles: [half]\n", NULL, true), "key \"percentiles\": invalid number \"half\"");
    assert_contains(load_err("percentiles: [[0.5]]\n", NULL, true), "key \"percentiles[0]\": expected a single value");
}

static void test_config__implicit_tag_limit(void **state)
{
    (void)state;
    char yaml[8192] = "extend_tags: [", env_tags[4096] = "VENEUR_TAGS=";
    for (int i = 0; i < VN_PARSE_MAX_TAGS + 1; i++) {
        sprintf(yaml + strlen(yaml), "%st%d:v", i ? ", " : "", i);
        sprintf(env_tags + strlen(env_tags), "%st%d", i ? "," : "", i);
    }
    strcat(yaml, "]\n");
    const char *m = load_err(yaml, NULL, true);
    assert_contains(m, "extend_tags");
    assert_contains(m, "at most 128");
    char *env[] = {env_tags, NULL};
    assert_contains(load_err(NULL, env, true), "at most 128");
    /* exactly the limit still loads (a warning says tagged metrics may not fit) */
    char *last = strrchr(yaml, ',');
    strcpy(last, "]\n");
    capture_t cap;
    cap_begin(&cap);
    vn_config_t *c = load_ok(yaml, NULL, true);
    char *log = cap_end(&cap);
    assert_contains(log, "config_many_implicit_tags");
    free(log);
    assert_int_equal(c->extend_tags.n, VN_PARSE_MAX_TAGS);
    vn_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__defaults),
        cmocka_unit_test(test_config__omit_empty_hostname),
        cmocka_unit_test(test_config__zero_means_default),
        cmocka_unit_test(test_config__env_names),
        cmocka_unit_test(test_config__every_key_from_yaml_and_env),
        cmocka_unit_test(test_config__env_wins_over_file),
        cmocka_unit_test(test_config__lists_from_env),
        cmocka_unit_test(test_config__int_and_bool_forms),
        cmocka_unit_test(test_config__durations),
        cmocka_unit_test(test_config__aggregates_mask),
        cmocka_unit_test(test_config__percentiles),
        cmocka_unit_test(test_config__implicit_tag_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
