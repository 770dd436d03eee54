/* test_config.c - src/config: YAML + VENEUR_* env -> vn_config_t (docs/behaviour.md 0.1, 0.7, 4.1-4.3, W4.7). */
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

#define DEFAULT_AGGS (VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT)

static char g_err[512];

/* Loads yaml with env (NULL-terminated); asserts success. strict here means
 * "no unknown key": a strict load that fails only because keys are accepted
 * but not implemented (issue 18; test_verdicts.c covers that) is retried
 * without strict, so these tests keep checking values. */
static vn_config_t *load_ok(const char *yaml, char **env, bool strict)
{
    vn_config_t *cfg = NULL;
    vn_err_t err = vn_config_load(yaml, yaml ? strlen(yaml) : 0, env, strict, &cfg, g_err, sizeof g_err);
    if (err != VN_OK && strict && strstr(g_err, "accepted but not implemented") && !strstr(g_err, "unknown key"))
        err = vn_config_load(yaml, yaml ? strlen(yaml) : 0, env, false, &cfg, g_err, sizeof g_err);
    if (err != VN_OK)
        fail_msg("load failed: %s\n--- yaml ---\n%s", g_err, yaml ? yaml : "(null)");
    assert_non_null(cfg);
    return cfg;
}

/* Loads and expects VN_ERR_CONFIG; returns the message (static). */
static const char *load_err(const char *yaml, char **env, bool strict)
{
    vn_config_t *cfg = (vn_config_t *)1;
    vn_err_t err = vn_config_load(yaml, yaml ? strlen(yaml) : 0, env, strict, &cfg, g_err, sizeof g_err);
    if (err != VN_ERR_CONFIG)
        fail_msg("expected an error for:\n%s", yaml ? yaml : "(null)");
    assert_null(cfg);
    assert_true(strncmp(g_err, "config: ", 8) == 0);
    assert_null(strchr(g_err, '\n'));
    return g_err;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* ---- stderr capture (the logger writes fd 2 directly) ---- */
typedef struct {
    FILE *tmp;
    int saved;
} capture_t;

static void cap_begin(capture_t *c)
{
    c->tmp = tmpfile();
    assert_non_null(c->tmp);
    c->saved = dup(2);
    dup2(fileno(c->tmp), 2);
}

static char *cap_end(capture_t *c)
{
    dup2(c->saved, 2);
    close(c->saved);
    long n = ftell(c->tmp);
    (void)n;
    fseek(c->tmp, 0, SEEK_END);
    long len = ftell(c->tmp);
    rewind(c->tmp);
    char *buf = calloc(1, (size_t)len + 1);
    if (len > 0 && fread(buf, 1, (size_t)len, c->tmp) != (size_t)len)
        fail();
    fclose(c->tmp);
    return buf;
}

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

static char *dump_to_string(const vn_config_t *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vn_config_dump(c, f);
    fclose(f);
    return buf;
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
        cmocka_unit_test(test_config__bad_values_name_key_and_value),
        cmocka_unit_test(test_config__secrets_never_printed),
        cmocka_unit_test(test_config__unknown_keys),
        cmocka_unit_test(test_config__template_warning),
        cmocka_unit_test(test_config__metric_sinks_flattening),
        cmocka_unit_test(test_config__yaml_merge_keys),
        cmocka_unit_test(test_config__routing),
        cmocka_unit_test(test_config__v13_flat_keys_create_sinks),
        cmocka_unit_test(test_config__per_sink_env_override),
        cmocka_unit_test(test_config__embedded_default_parses),
        cmocka_unit_test(test_config__dump_round_trip),
        cmocka_unit_test(test_config__load_file),
        cmocka_unit_test(test_config__hostile_yaml_is_bounded),
        cmocka_unit_test(test_config__ports_above_65535_rejected),
        cmocka_unit_test(test_config__nesting_capped_and_linear),
        cmocka_unit_test(test_config__non_regular_file_refused),
        cmocka_unit_test(test_config__no_empty_messages),
        cmocka_unit_test(test_config__implicit_tag_limit),
        cmocka_unit_test(test_config__url_userinfo_redacted),
        cmocka_unit_test(test_config__url_query_secrets_redacted),
        cmocka_unit_test(test_config__sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
