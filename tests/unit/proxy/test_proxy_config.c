/*
 * test_proxy_config.c - proxy/proxy_config: Go's proxy keys from YAML,
 * VENEUR_PROXY_* environment overrides (envconfig names), the defaults
 * that replace Go's zero values, -strict, and every refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json_read.h"
#include "proxy/proxy_config.h"

static vn_proxy_config_t *load(const char *yaml, char **env, bool strict, char *err, size_t errcap)
{
    vn_proxy_config_t *c = NULL;
    vn_err_t e = vn_proxy_config_load(yaml, yaml ? strlen(yaml) : 0, env, strict, &c, err, errcap);
    if (e != VN_OK)
        assert_null(c);
    return c;
}

static void test_proxy_config__defaults(void **state)
{
    (void)state;
    char err[256];
    vn_proxy_config_t *c = load(NULL, NULL, true, err, sizeof err);
    assert_non_null(c);
    assert_true(c->dial_timeout_s == 2);
    assert_true(c->discovery_interval_s == 10);
    assert_int_equal(c->send_buffer_size, 131072);
    assert_true(c->shutdown_timeout_s == 10);
    assert_true(c->disc_timeout_s == 5);
    assert_int_equal(c->disc_kind, VN_DISC_NONE);
    assert_string_equal(c->grpc_address, "");
    assert_string_equal(c->forward_service, "");
    assert_int_equal(c->forward_addresses.n, 0);
    assert_string_equal(c->consul_address, "127.0.0.1:8500");
    assert_string_equal(c->k8s_api, "https://kubernetes.default.svc");
    assert_string_equal(c->k8s_port_name, "grpc");
    assert_string_equal(c->k8s_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
    assert_string_equal(c->k8s_ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    vn_proxy_config_free(c);
    vn_proxy_config_free(NULL);
}

static const char full_yaml[] = "debug: true\n"
                                "dial_timeout: 1500ms\n"
                                "discovery_interval: 1m\n"
                                "forward_addresses:\n  - global-a:8128\n  - \"[::1]:8128\"\n"
                                "forward_service: veneur-global\n"
                                "grpc_server:\n"
                                "  connection_timeout: 1s\n  max_connection_idle: 2m\n  max_connection_age: 3m\n"
                                "  max_connection_age_grace: 4s\n  ping_timeout: 5s\n  keepalive_timeout: 6s\n"
                                "grpc_address: 0.0.0.0:8128\n"
                                "grpc_tls_address: 0.0.0.0:8129\n"
                                "http:\n  enable_config: true\n  enable_profiling: false\n"
                                "http_address: 0.0.0.0:8127\n"
                                "ignore_tags:\n  - kind: prefix\n    value: \"host:\"\n"
                                "  - {kind: regex, value: \"^pod\"}\n"
                                "runtime_metrics_interval: 10s\n"
                                "send_buffer_size: 4096\n"
                                "sentry_dsn: https://secret@sentry\n"
                                "shutdown_timeout: 20s\n"
                                "statsd:\n  address: 127.0.0.1:8125\n  aggregation_interval: 10s\n"
                                "  channel_buffer_size: 100\n  messages_per_payload: 7\n"
                                "tls:\n  ca_file: /ca\n  cert_file: /cert\n  key_file: /key\n"
                                "discovery:\n  kind: kubernetes\n  kubernetes_namespace: globals\n"
                                "  kubernetes_port_name: forward\n  timeout: 3s\n";

static void test_proxy_config__go_keys(void **state)
{
    (void)state;
    char err[256] = "";
    vn_proxy_config_t *c = load(full_yaml, NULL, true, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_true(c->debug);
    assert_true(c->dial_timeout_s == 1.5);
    assert_true(c->discovery_interval_s == 60);
    assert_int_equal(c->forward_addresses.n, 2);
    assert_string_equal(c->forward_addresses.v[0], "global-a:8128");
    assert_string_equal(c->forward_addresses.v[1], "[::1]:8128");
    assert_string_equal(c->forward_service, "veneur-global");
    assert_true(c->grpc_connection_timeout_s == 1 && c->grpc_max_connection_idle_s == 120);
    assert_true(c->grpc_max_connection_age_s == 180 && c->grpc_max_connection_age_grace_s == 4);
    assert_true(c->grpc_ping_timeout_s == 5 && c->grpc_keepalive_timeout_s == 6);
    assert_string_equal(c->grpc_address, "0.0.0.0:8128");
    assert_string_equal(c->grpc_tls_address, "0.0.0.0:8129");
    assert_true(c->http_enable_config);
    assert_false(c->http_enable_profiling);
    assert_string_equal(c->http_address, "0.0.0.0:8127");
    assert_int_equal(c->n_ignore_tags, 2);
    assert_string_equal(c->ignore_tags[0].kind, "prefix");
    assert_string_equal(c->ignore_tags[0].value, "host:");
    assert_string_equal(c->ignore_tags[1].kind, "regex");
    assert_true(c->runtime_metrics_interval_s == 10);
    assert_int_equal(c->send_buffer_size, 4096);
    assert_string_equal(c->sentry_dsn, "https://secret@sentry");
    assert_true(c->shutdown_timeout_s == 20);
    assert_string_equal(c->statsd_address, "127.0.0.1:8125");
    assert_int_equal(c->statsd_channel_buffer_size, 100);
    assert_int_equal(c->statsd_messages_per_payload, 7);
    assert_string_equal(c->tls_ca_file, "/ca");
    assert_int_equal(c->disc_kind, VN_DISC_KUBERNETES);
    assert_string_equal(c->k8s_namespace, "globals");
    assert_string_equal(c->k8s_port_name, "forward");
    assert_true(c->disc_timeout_s == 3);
    vn_proxy_config_free(c);
}

static void test_proxy_config__env_overrides(void **state)
{
    (void)state;
    char *env[] = {
        "VENEUR_PROXY_FORWARDADDRESSES=a:1,b:2,c:3",
        "VENEUR_PROXY_GRPCADDRESS=127.0.0.1:9000",
        "VENEUR_PROXY_HTTPADDRESS=127.0.0.1:9001",
        "VENEUR_PROXY_DIALTIMEOUT=250ms",
        "VENEUR_PROXY_DEBUG=true",
        "VENEUR_PROXY_SENDBUFFERSIZE=10",
        "VENEUR_PROXY_GRPCSERVER_MAXCONNECTIONIDLE=90s",
        "VENEUR_PROXY_HTTP_ENABLECONFIG=1",
        "VENEUR_PROXY_STATSD_ADDRESS=s:1",
        "VENEUR_PROXY_TLS_CAFILE=/c",
        "VENEUR_PROXY_TLS_CERTFILE=/d",
        "VENEUR_PROXY_TLS_KEYFILE=/e",
        "VENEUR_PROXY_FORWARDSERVICE=_grpc._tcp.g.test",
        "VENEUR_PROXY_DISCOVERY_KIND=dns",
        "VENEUR_PROXY_DISCOVERY_DNSSERVER=127.0.0.1:53",
        "VENEUR_PROXY_DISCOVERY_HOSTSFILE=/etc/veneur-hosts",
        "VENEUR_PROXY_DISCOVERY_DNSPORT=8128",
        "CONSUL_HTTP_ADDR=http://consul:8500",
        "CONSUL_HTTP_TOKEN=t0k",
        "KUBERNETES_SERVICE_HOST=10.0.0.1",
        "KUBERNETES_SERVICE_PORT=6443",
        "VENEUR_FORWARDADDRESS=ignored:1", /* the daemon's prefix is not ours */
        NULL,
    };
    char err[256] = "";
    /* env wins over the file; the file's other keys stay */
    vn_proxy_config_t *c = load("forward_addresses: [x:1]\ngrpc_address: 1.1.1.1:1\nshutdown_timeout: 3s\n", env,
                                true, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->forward_addresses.n, 3);
    assert_string_equal(c->forward_addresses.v[2], "c:3");
    assert_string_equal(c->grpc_address, "127.0.0.1:9000");
    assert_string_equal(c->http_address, "127.0.0.1:9001");
    assert_true(c->dial_timeout_s == 0.25);
    assert_true(c->debug);
    assert_int_equal(c->send_buffer_size, 10);
    assert_true(c->grpc_max_connection_idle_s == 90);
    assert_true(c->http_enable_config);
    assert_string_equal(c->statsd_address, "s:1");
    assert_string_equal(c->tls_key_file, "/e");
    assert_true(c->shutdown_timeout_s == 3);
    assert_int_equal(c->disc_kind, VN_DISC_DNS);
    assert_string_equal(c->dns_server, "127.0.0.1:53");
    assert_string_equal(c->hosts_file, "/etc/veneur-hosts");
    assert_int_equal(c->dns_port, 8128);
    assert_string_equal(c->consul_address, "http://consul:8500");
    assert_string_equal(c->consul_token, "t0k");
    assert_string_equal(c->k8s_api, "https://10.0.0.1:6443");
    vn_proxy_config_free(c);

    /* an empty env value still overrides (envconfig sets the field) */
    char *env2[] = {"VENEUR_PROXY_FORWARDADDRESSES=", NULL};
    c = load("forward_addresses: [x:1]\n", env2, true, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->forward_addresses.n, 0);
    vn_proxy_config_free(c);
}

static void test_proxy_config__discovery_kind_default(void **state)
{
    (void)state;
    char err[256];
    vn_proxy_config_t *c = load("forward_service: globals\n", NULL, true, err, sizeof err);
    assert_int_equal(c->disc_kind, VN_DISC_CONSUL); /* Go's proxy discovers through Consul */
    vn_proxy_config_free(c);
    /* a kind without a service name means no discovery */
    c = load("discovery: {kind: dns}\n", NULL, true, err, sizeof err);
    assert_int_equal(c->disc_kind, VN_DISC_NONE);
    vn_proxy_config_free(c);
    char *v6[] = {"KUBERNETES_SERVICE_HOST=fd00::1", NULL};
    c = load(NULL, v6, true, err, sizeof err);
    assert_string_equal(c->k8s_api, "https://[fd00::1]:443");
    vn_proxy_config_free(c);
    c = load("discovery_interval: ~\ngrpc_address: null\nforward_addresses: []\n", NULL, true, err, sizeof err);
    assert_non_null(c);
    assert_true(c->discovery_interval_s == 10);
    assert_string_equal(c->grpc_address, "");
    vn_proxy_config_free(c);
}

static void test_proxy_config__strict(void **state)
{
    (void)state;
    char err[256];
    const char *unknown[] = {"bogus: 1\n", "grpc_server:\n  bogus: 1s\n", "discovery: {nope: 1}\n",
                             "ignore_tags: [{kind: exact, value: a, extra: 1}]\n",
                             /* v13 keys from the stale example_proxy.yaml */
                             "consul_forward_grpc_service_name: x\n", "forward_timeout: 10s\n"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_null(load(unknown[i], NULL, true, err, sizeof err));
        assert_non_null(strstr(err, "unknown key"));
        vn_proxy_config_t *c = load(unknown[i], NULL, false, err, sizeof err); /* warning only */
        assert_non_null(c);
        vn_proxy_config_free(c);
    }
}

/* forward_tls (veneur-c): a CA alone (no client certificate) or all three; env names as Go's envconfig would. */
static void test_proxy_config__forward_tls(void **state)
{
    (void)state;
    char err[256] = "";
    vn_proxy_config_t *c = load("forward_tls: {ca_file: /ca.pem}\n", NULL, true, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->fwd_tls_ca_file, "/ca.pem");
    assert_string_equal(c->fwd_tls_cert_file, "");
    vn_proxy_config_free(c);
    char *env[] = {"VENEUR_PROXY_FORWARDTLS_CERTFILE=/c.pem", "VENEUR_PROXY_FORWARDTLS_KEYFILE=/c.key",
                   "VENEUR_PROXY_FORWARDTLS_SERVERNAME=global.example", NULL};
    c = load("forward_tls: {ca_file: /ca.pem}\n", env, true, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->fwd_tls_cert_file, "/c.pem");
    assert_string_equal(c->fwd_tls_key_file, "/c.key");
    assert_string_equal(c->fwd_tls_server_name, "global.example");
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_yaml(c, &b);
    assert_non_null(strstr(vn_buf_ptr(&b), "forward_tls"));
    vn_buf_free(&b);
    vn_proxy_config_free(c);
}

static void test_proxy_config__refusals(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *env;
        const char *needle;
    } bad[] = {
        {"dial_timeout: 10\n", NULL, "dial_timeout"},
        {"dial_timeout: -1s\n", NULL, "dial_timeout"},
        {"debug: maybe\n", NULL, "debug"},
        {"send_buffer_size: -1\n", NULL, "send_buffer_size"},
        {"send_buffer_size: 99999999999\n", NULL, "send_buffer_size"},
        {"forward_addresses: [nohost]\n", NULL, "forward_addresses"},
        {"forward_addresses: [\"h:0\"]\n", NULL, "forward_addresses"},
        {"forward_addresses: a:1\n", NULL, "expected a list"},
        {"forward_addresses: [[a]]\n", NULL, "forward_addresses"},
        {"grpc_address: [a]\n", NULL, "grpc_address"},
        {"discovery: {kind: zookeeper}\n", NULL, "zookeeper"},
        {"discovery: {dns_server: \"127.0.0.1\"}\n", NULL, "dns_server"},
        {"discovery: {dns_port: 70000}\n", NULL, "dns_port"},
        {"tls: {ca_file: /a}\n", NULL, "must all be set"},
        {"forward_tls: {ca_file: /a, cert_file: /c}\n", NULL, "forward_tls"},
        {"forward_tls: {key_file: /k}\n", NULL, "set together"},
        {"forward_tls: {server_name: g}\n", NULL, "TLS is off"},
        {"ignore_tags: [{kind: glob, value: a}]\n", NULL, "glob"},
        {"ignore_tags: {kind: exact}\n", NULL, "ignore_tags"},
        {"ignore_tags: [a]\n", NULL, "ignore_tags[0]"},
        {"- a\n- b\n", NULL, "mapping"},
        {"a: [\n", NULL, "YAML"},
        {NULL, "VENEUR_PROXY_DIALTIMEOUT=soon", "VENEUR_PROXY_DIALTIMEOUT"},
        {NULL, "VENEUR_PROXY_SENDBUFFERSIZE=x", "VENEUR_PROXY_SENDBUFFERSIZE"},
        {NULL, "VENEUR_PROXY_DISCOVERY_KIND=etcd", "VENEUR_PROXY_DISCOVERY_KIND"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        char *env[] = {(char *)bad[i].env, NULL};
        vn_proxy_config_t *c = load(bad[i].yaml, bad[i].env ? env : NULL, false, err, sizeof err);
        if (c)
            fail_msg("accepted case %zu", i);
        if (!strstr(err, bad[i].needle))
            fail_msg("case %zu: \"%s\" does not name \"%s\"", i, err, bad[i].needle);
        assert_int_equal(strncmp(err, "config: ", 8), 0);
    }
}

static void test_proxy_config__file(void **state)
{
    (void)state;
    char path[] = "/tmp/vn-proxy-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "grpc_address: 127.0.0.1:1\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    char err[256];
    vn_proxy_config_t *c = NULL;
    assert_int_equal(vn_proxy_config_load_file(path, NULL, true, &c, err, sizeof err), VN_OK);
    assert_string_equal(c->grpc_address, "127.0.0.1:1");
    vn_proxy_config_free(c);
    unlink(path);
    assert_int_equal(vn_proxy_config_load_file(path, NULL, true, &c, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, path));
    assert_null(c);
}

static void test_proxy_config__dumps(void **state)
{
    (void)state;
    char err[256] = "";
    vn_proxy_config_t *c = load(full_yaml, NULL, true, err, sizeof err);
    assert_non_null(c);
    /* YAML loads back into an equal config (the secret aside) */
    vn_buf_t y = VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_yaml(c, &y);
    assert_null(strstr(vn_buf_ptr(&y), "secret@"));
    vn_proxy_config_t *c2 = load(vn_buf_ptr(&y), NULL, true, err, sizeof err);
    if (!c2)
        fail_msg("%s\n%s", err, vn_buf_ptr(&y));
    assert_true(c2->dial_timeout_s == c->dial_timeout_s);
    assert_true(c2->grpc_max_connection_idle_s == 120);
    assert_int_equal(c2->forward_addresses.n, 2);
    assert_string_equal(c2->forward_addresses.v[1], "[::1]:8128");
    assert_int_equal(c2->n_ignore_tags, 2);
    assert_string_equal(c2->ignore_tags[1].value, "^pod");
    assert_int_equal(c2->disc_kind, VN_DISC_KUBERNETES);
    assert_int_equal(c2->send_buffer_size, 4096);
    assert_string_equal(c2->sentry_dsn, "<redacted>");
    vn_proxy_config_free(c2);
    vn_buf_free(&y);
    /* JSON: Go's field names, durations in nanoseconds */
    vn_buf_t j = VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_json(c, &j);
    vn_jread_doc_t d;
    assert_int_equal(vn_jread_parse(vn_buf_ptr(&j), vn_buf_len(&j), 10000, &d, err, sizeof err), VN_OK);
    const vn_jread_node_t *r = vn_jread_root(&d);
    int64_t v;
    assert_true(vn_jread_int(&d, vn_jread_get(&d, r, "DialTimeout"), &v));
    assert_true(v == 1500000000);
    assert_true(vn_jread_int(&d, vn_jread_get(&d, vn_jread_get(&d, r, "GrpcServer"), "MaxConnectionIdle"), &v));
    assert_true(v == 120000000000LL);
    assert_string_equal(vn_jread_str(&d, vn_jread_get(&d, r, "SentryDsn"), NULL), "<redacted>");
    assert_string_equal(vn_jread_str(&d, vn_jread_get(&d, vn_jread_get(&d, r, "Tls"), "CaFile"), NULL), "/ca");
    const vn_jread_node_t *it = vn_jread_get(&d, r, "IgnoreTags");
    assert_int_equal(it->count, 2);
    assert_string_equal(vn_jread_str(&d, vn_jread_get(&d, vn_jread_child(&d, it, NULL), "Kind"), NULL), "prefix");
    assert_string_equal(vn_jread_str(&d, vn_jread_get(&d, vn_jread_get(&d, r, "Discovery"), "Kind"), NULL),
                        "kubernetes");
    vn_jread_free(&d);
    vn_buf_free(&j);
    vn_proxy_config_free(c);
}

static void test_proxy_config__hostile_edges(void **state)
{
    (void)state;
    char err[256];
    /* ports that would wrap */
    assert_null(load("grpc_address: \"127.0.0.1:65537\"\n", NULL, true, err, sizeof err));
    assert_non_null(strstr(err, "key \"grpc_address\""));
    assert_null(load("http_address: \":99999\"\n", NULL, true, err, sizeof err));
    assert_non_null(strstr(err, "key \"http_address\""));
    /* nesting is capped before the document is built */
    char deep[256] = "forward_addresses: ";
    for (int i = 0; i < 80; i++)
        strcat(deep, "[");
    assert_null(load(deep, NULL, true, err, sizeof err));
    assert_non_null(strstr(err, "nested too deeply"));
    /* a FIFO is refused without waiting for a writer */
    char dir[] = "/tmp/vn_pcfg_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    vn_proxy_config_t *c = NULL;
    assert_int_equal(vn_proxy_config_load_file(path, NULL, true, &c, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "not a regular file"));
    unlink(path);
    rmdir(dir);
    /* URL userinfo never shows, in dumps or messages */
    c = load("discovery:\n  kubernetes_api: \"https://ku:SEKRET1@k8s:6443\"\n  consul_address: \"http://cu:SEKRET2@consul:8500\"\n"
             "sentry_dsn: \"https://SEKRET3@sentry/1\"\n",
             NULL, true, err, sizeof err);
    assert_non_null(c);
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_yaml(c, &b);
    assert_null(strstr(vn_buf_ptr(&b), "SEKRET"));
    assert_non_null(strstr(vn_buf_ptr(&b), "https://<redacted>@k8s:6443"));
    vn_buf_free(&b);
    b = (vn_buf_t)VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_json(c, &b);
    assert_null(strstr(vn_buf_ptr(&b), "SEKRET"));
    assert_non_null(strstr(vn_buf_ptr(&b), "http://<redacted>@consul:8500"));
    vn_buf_free(&b);
    vn_proxy_config_free(c);
    assert_null(load("forward_addresses: [\"http://u:SEKRET4@h:1/\"]\n", NULL, true, err, sizeof err));
    assert_null(strstr(err, "SEKRET"));
    /* so do secret query parameters */
    c = load("discovery:\n  kubernetes_api: \"https://k8s:6443/?token=SEKRET5\"\n"
             "  consul_address: \"http://consul:8500?x=1&api_key=SEKRET6\"\n",
             NULL, true, err, sizeof err);
    assert_non_null(c);
    b = (vn_buf_t)VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_yaml(c, &b);
    assert_null(strstr(vn_buf_ptr(&b), "SEKRET"));
    assert_non_null(strstr(vn_buf_ptr(&b), "https://k8s:6443/?token=<redacted>"));
    vn_buf_free(&b);
    b = (vn_buf_t)VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_json(c, &b);
    assert_null(strstr(vn_buf_ptr(&b), "SEKRET"));
    assert_non_null(strstr(vn_buf_ptr(&b), "http://consul:8500?x=1&api_key=<redacted>"));
    vn_buf_free(&b);
    vn_proxy_config_free(c);
    /* -print-secrets (c->print_secrets): both dumps show every value as it is */
    c = load("discovery:\n  kubernetes_api: \"https://ku:SEKRET8@k8s:6443/?token=SEKRET9\"\n"
             "sentry_dsn: \"https://SEKRET10@sentry/1\"\n",
             NULL, true, err, sizeof err);
    assert_non_null(c);
    c->print_secrets = true;
    b = (vn_buf_t)VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_yaml(c, &b);
    assert_non_null(strstr(vn_buf_ptr(&b), "https://ku:SEKRET8@k8s:6443/?token=SEKRET9"));
    assert_non_null(strstr(vn_buf_ptr(&b), "https://SEKRET10@sentry/1"));
    vn_buf_free(&b);
    b = (vn_buf_t)VN_BUF_INIT(1 << 20);
    vn_proxy_config_dump_json(c, &b);
    assert_non_null(strstr(vn_buf_ptr(&b), "https://ku:SEKRET8@k8s:6443/?token=SEKRET9"));
    assert_non_null(strstr(vn_buf_ptr(&b), "\"SentryDsn\":\"https://SEKRET10@sentry/1\""));
    vn_buf_free(&b);
    vn_proxy_config_free(c);
    assert_null(load("forward_addresses: [\"http://h:1/?password=SEKRET7\"]\n", NULL, true, err, sizeof err));
    assert_true(err[0] != '\0');
    assert_null(strstr(err, "SEKRET"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_config__defaults),
        cmocka_unit_test(test_proxy_config__go_keys),
        cmocka_unit_test(test_proxy_config__env_overrides),
        cmocka_unit_test(test_proxy_config__discovery_kind_default),
        cmocka_unit_test(test_proxy_config__strict),
        cmocka_unit_test(test_proxy_config__refusals),
        cmocka_unit_test(test_proxy_config__forward_tls),
        cmocka_unit_test(test_proxy_config__file),
        cmocka_unit_test(test_proxy_config__dumps),
        cmocka_unit_test(test_proxy_config__hostile_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
