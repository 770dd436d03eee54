/*
 * proxy_config.c - vn_proxy_config_load: YAML -> VENEUR_PROXY_* env ->
 * defaults -> validation (see proxy_config.h).
 *
 * The loading is src/config's (config/config_schema.h): this file holds only
 * the proxy's key table (Go's proxy keys plus `discovery:`), its defaults and
 * its validation. One row per key with its YAML path (nested keys joined by
 * '.'), its Go field path (whose upper-cased form, '.' -> '_', after
 * VENEUR_PROXY_ is the env name), its type and its offset.
 */
#include "proxy/proxy_config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_schema.h"
#include "core/hostport.h"
#include "core/xalloc.h"

#include "proxy/proxy_config_internal.h"

#define OFF(f) offsetof(vn_proxy_config_t, f)
#define S(k_, go_, f_) {.key = k_, .gofield = go_, .type = VN_KT_STR, .off = OFF(f_)}
#define B(k_, go_, f_) {.key = k_, .gofield = go_, .type = VN_KT_BOOL, .off = OFF(f_)}
/* Go's proxy refuses nothing here, but a negative timeout or interval has no meaning */
#define D(k_, go_, f_) {.key = k_, .gofield = go_, .type = VN_KT_DURATION, .off = OFF(f_), .flags = VN_KF_NONNEG}
#define L(k_, go_, f_) {.key = k_, .gofield = go_, .type = VN_KT_LONG, .off = OFF(f_), .min = INT_MIN, .max = INT_MAX}

static const char *const disc_kinds[] = {"", "consul", "dns", "kubernetes", NULL}; /* vn_disc_kind_t order */
_Static_assert(sizeof(vn_disc_kind_t) == sizeof(int), "VN_KT_ENUM fields are ints");

const vn_config_key_t vn_proxy__keys[] = {
    B("debug", "Debug", debug),
    D("dial_timeout", "DialTimeout", dial_timeout_s),
    D("discovery_interval", "DiscoveryInterval", discovery_interval_s),
    {.key = "forward_addresses", .gofield = "ForwardAddresses", .type = VN_KT_STRLIST, .off = OFF(forward_addresses)},
    S("forward_service", "ForwardService", forward_service),
    D("grpc_server.connection_timeout", "GrpcServer.ConnectionTimeout", grpc_connection_timeout_s),
    D("grpc_server.max_connection_idle", "GrpcServer.MaxConnectionIdle", grpc_max_connection_idle_s),
    D("grpc_server.max_connection_age", "GrpcServer.MaxConnectionAge", grpc_max_connection_age_s),
    D("grpc_server.max_connection_age_grace", "GrpcServer.MaxConnectionAgeGrace", grpc_max_connection_age_grace_s),
    D("grpc_server.ping_timeout", "GrpcServer.PingTimeout", grpc_ping_timeout_s),
    D("grpc_server.keepalive_timeout", "GrpcServer.KeepaliveTimeout", grpc_keepalive_timeout_s),
    S("grpc_address", "GrpcAddress", grpc_address),
    S("grpc_tls_address", "GrpcTlsAddress", grpc_tls_address),
    B("http.enable_config", "Http.EnableConfig", http_enable_config),
    B("http.enable_profiling", "Http.EnableProfiling", http_enable_profiling),
    S("http_address", "HttpAddress", http_address),
    /* a list of structs: Go's envconfig cannot set it either */
    {.key = "ignore_tags", .type = VN_KT_MATCHERS, .off = OFF(ignore_tags), .off2 = OFF(n_ignore_tags)},
    D("runtime_metrics_interval", "RuntimeMetricsInterval", runtime_metrics_interval_s),
    {.key = "send_buffer_size",
     .gofield = "SendBufferSize",
     .type = VN_KT_ULONG,
     .off = OFF(send_buffer_size),
     .min = 0,
     .max = VN_PROXY_MAX_SEND_BUFFER},
    {.key = "sentry_dsn", .gofield = "SentryDsn", .type = VN_KT_STR, .off = OFF(sentry_dsn), .flags = VN_KF_SECRET},
    D("shutdown_timeout", "ShutdownTimeout", shutdown_timeout_s),
    S("statsd.address", "Statsd.Address", statsd_address),
    D("statsd.aggregation_interval", "Statsd.AggregationInterval", statsd_aggregation_interval_s),
    L("statsd.channel_buffer_size", "Statsd.ChannelBufferSize", statsd_channel_buffer_size),
    L("statsd.messages_per_payload", "Statsd.MessagesPerPayload", statsd_messages_per_payload),
    /* Go's Tls embeds its Config, so envconfig adds no segment for it */
    S("tls.ca_file", "Tls.CaFile", tls_ca_file),
    S("tls.cert_file", "Tls.CertFile", tls_cert_file),
    S("tls.key_file", "Tls.KeyFile", tls_key_file),
    S("tls.server_name", "Tls.ServerName", tls_server_name),
    /* veneur-c additions */
    {.key = "discovery.kind",
     .gofield = "Discovery.Kind",
     .type = VN_KT_ENUM,
     .off = OFF(disc_kind),
     .names = disc_kinds,
     .sink_key = "consul, dns or kubernetes"},
    D("discovery.timeout", "Discovery.Timeout", disc_timeout_s),
    S("discovery.consul_address", "Discovery.ConsulAddress", consul_address),
    S("discovery.dns_server", "Discovery.DnsServer", dns_server),
    L("discovery.dns_port", "Discovery.DnsPort", dns_port),
    S("discovery.hosts_file", "Discovery.HostsFile", hosts_file),
    S("discovery.kubernetes_api", "Discovery.KubernetesApi", k8s_api),
    S("discovery.kubernetes_namespace", "Discovery.KubernetesNamespace", k8s_namespace),
    S("discovery.kubernetes_port_name", "Discovery.KubernetesPortName", k8s_port_name),
    S("discovery.kubernetes_token_file", "Discovery.KubernetesTokenFile", k8s_token_file),
    S("discovery.kubernetes_ca_file", "Discovery.KubernetesCaFile", k8s_ca_file),
    S("discovery.kubernetes_namespace_file", "Discovery.KubernetesNamespaceFile", k8s_namespace_file),
    S("forward_tls.ca_file", "ForwardTls.CaFile", fwd_tls_ca_file),
    S("forward_tls.cert_file", "ForwardTls.CertFile", fwd_tls_cert_file),
    S("forward_tls.key_file", "ForwardTls.KeyFile", fwd_tls_key_file),
    S("forward_tls.server_name", "ForwardTls.ServerName", fwd_tls_server_name),
};
const size_t vn_proxy__nkeys = sizeof vn_proxy__keys / sizeof vn_proxy__keys[0];

/* Keys accepted but not implemented (config_schema.h vn_config_verdict_t):
 * each one set is a WARN at start and fails -validate-config-strict. */
static const vn_config_verdict_t proxy_unimpl[] = {
    {"http.enable_profiling", "go_runtime_profiler_no_debug_pprof"},
    {"runtime_metrics_interval", "go_runtime_metrics"},
    {"sentry_dsn", "sentry_reporting_not_implemented"},
    /* the self-metric sender writes each interval's lines at once; there is no channel to size */
    {"statsd.channel_buffer_size", "no_buffered_channel_to_size"},
    {NULL, NULL},
};
const vn_config_schema_t vn_proxy__schema = {vn_proxy__keys, sizeof vn_proxy__keys / sizeof vn_proxy__keys[0],
                                             "VENEUR_PROXY_", proxy_unimpl};

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"

const char *vn_disc_kind_name(vn_disc_kind_t k)
{
    switch (k) {
    case VN_DISC_CONSUL: return "consul";
    case VN_DISC_DNS: return "dns";
    case VN_DISC_KUBERNETES: return "kubernetes";
    case VN_DISC_NONE: break;
    }
    return "none";
}

static void default_str(char **f, const char *v)
{
    if (!*f || !**f) {
        free(*f);
        *f = vn_xstrdup(v);
    }
}

static void apply_defaults(vn_proxy_config_t *c, char *const *envp)
{
    for (size_t i = 0; i < vn_proxy__nkeys; i++)
        if (vn_proxy__keys[i].type == VN_KT_STR && !*VN_PCFG_FIELD(c, &vn_proxy__keys[i], char *))
            *VN_PCFG_FIELD(c, &vn_proxy__keys[i], char *) = vn_xstrdup("");
    if (c->dial_timeout_s <= 0)
        c->dial_timeout_s = 2;
    if (c->discovery_interval_s <= 0)
        c->discovery_interval_s = 10;
    if (c->send_buffer_size == 0)
        c->send_buffer_size = 131072;
    if (c->shutdown_timeout_s <= 0)
        c->shutdown_timeout_s = 10;
    if (c->disc_timeout_s <= 0)
        c->disc_timeout_s = 5;
    if (c->forward_service[0] == '\0')
        c->disc_kind = VN_DISC_NONE;
    else if (c->disc_kind == VN_DISC_NONE)
        c->disc_kind = VN_DISC_CONSUL; /* Go's proxy discovers through Consul only */
    const char *token = vn_cfg__getenv(envp, "CONSUL_HTTP_TOKEN");
    if (!c->consul_token)
        c->consul_token = vn_xstrdup(token ? token : "");
    const char *consul = vn_cfg__getenv(envp, "CONSUL_HTTP_ADDR");
    default_str(&c->consul_address, consul && consul[0] ? consul : "127.0.0.1:8500");
    const char *kh = vn_cfg__getenv(envp, "KUBERNETES_SERVICE_HOST"), *kp = vn_cfg__getenv(envp, "KUBERNETES_SERVICE_PORT");
    if (!c->k8s_api[0] && kh && kh[0]) {
        char url[300];
        bool v6 = strchr(kh, ':') != NULL;
        snprintf(url, sizeof url, "https://%s%s%s:%s", v6 ? "[" : "", kh, v6 ? "]" : "", kp && kp[0] ? kp : "443");
        default_str(&c->k8s_api, url);
    }
    default_str(&c->k8s_api, "https://kubernetes.default.svc");
    default_str(&c->k8s_port_name, "grpc");
    default_str(&c->k8s_token_file, SA_DIR "token");
    default_str(&c->k8s_ca_file, SA_DIR "ca.crt");
    default_str(&c->k8s_namespace_file, SA_DIR "namespace");
}

static bool valid_hostport(const char *a)
{
    char host[256], port[16];
    return vn_hostport_split(a, false, host, sizeof host, port, sizeof port) == VN_OK &&
           vn_hostport_port_num(port) >= 1;
}

static vn_err_t validate(vn_cfg_loader_t *ld, const vn_proxy_config_t *c)
{
    char shown[160];
    for (size_t i = 0; i < c->forward_addresses.n; i++)
        if (!valid_hostport(c->forward_addresses.v[i]))
            return vn_cfg__errf(ld, "key \"forward_addresses\": \"%s\" is not host:port",
                        vn_cfg__show(c->forward_addresses.v[i], false, shown, sizeof shown));
    if (c->dns_server[0] && !valid_hostport(c->dns_server))
        return vn_cfg__errf(ld, "key \"discovery.dns_server\": \"%s\" is not host:port",
                    vn_cfg__show(c->dns_server, false, shown, sizeof shown));
    for (size_t i = 0; i < vn_proxy__nkeys; i++) {
        const vn_config_key_t *k = &vn_proxy__keys[i];
        if (k->type != VN_KT_STR || (k->flags & VN_KF_SECRET))
            continue;
        const char *v = *VN_PCFG_FIELD(c, k, char *);
        if (!vn_config_port_ok(v)) /* "host:65537" would wrap to port 1 */
            return vn_cfg__errf(ld, "key \"%s\": invalid port in address \"%s\" (must be 0 to 65535)", k->key,
                        vn_cfg__show(v, false, shown, sizeof shown));
    }
    if (c->dns_port < 0 || c->dns_port > 65535)
        return vn_cfg__errf(ld, "key \"discovery.dns_port\": %ld is not a port", c->dns_port);
    if (c->tls_ca_file[0] || c->tls_cert_file[0] || c->tls_key_file[0]) {
        if (!c->tls_ca_file[0] || !c->tls_cert_file[0] || !c->tls_key_file[0])
            return vn_cfg__errf(ld, "key \"tls\": ca_file, cert_file, and key_file must all be set");
    }
    if (!c->fwd_tls_cert_file[0] != !c->fwd_tls_key_file[0])
        return vn_cfg__errf(ld, "key \"forward_tls\": cert_file and key_file must be set together");
    if (c->fwd_tls_server_name[0] && !c->fwd_tls_ca_file[0] && !c->fwd_tls_cert_file[0])
        return vn_cfg__errf(ld, "key \"forward_tls\": server_name needs ca_file or cert_file (TLS is off)");
    return VN_OK;
}

static vn_err_t load(const char *yaml, size_t len, char *const *envp, bool strict, bool fail_unimpl,
                     vn_proxy_config_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    vn_proxy_config_t *c = vn_xcalloc(1, sizeof *c);
    vn_cfg_loader_t *ld = vn_cfg_loader_new(&vn_proxy__schema, c, envp, strict, errbuf, errcap);
    if (fail_unimpl)
        vn_cfg_loader_fail_unimplemented(ld);
    vn_err_t e = vn_cfg_loader_yaml(ld, yaml, len);
    if (e == VN_OK)
        e = vn_cfg_loader_env(ld);
    apply_defaults(c, envp); /* also on failure, so free sees a consistent struct */
    if (e == VN_OK)
        e = validate(ld, c);
    if (e == VN_OK)
        e = vn_cfg_loader_verdicts(ld);
    vn_cfg_loader_free(ld);
    if (e != VN_OK) {
        vn_proxy_config_free(c);
        return VN_ERR_CONFIG;
    }
    *out = c;
    return VN_OK;
}

vn_err_t vn_proxy_config_load(const char *yaml, size_t len, char *const *envp, bool strict,
                              vn_proxy_config_t **out, char *errbuf, size_t errcap)
{
    return load(yaml, len, envp, strict, false, out, errbuf, errcap);
}

static vn_err_t load_file(const char *path, char *const *envp, bool strict, bool fail_unimpl, vn_proxy_config_t **out,
                          char *errbuf, size_t errcap)
{
    *out = NULL;
    char *buf;
    size_t len;
    vn_err_t e = vn_cfg_read_file(path, VN_PROXY_MAX_CONFIG_FILE, &buf, &len, errbuf, errcap);
    if (e != VN_OK)
        return e;
    e = load(buf, len, envp, strict, fail_unimpl, out, errbuf, errcap);
    free(buf);
    return e;
}

vn_err_t vn_proxy_config_load_file(const char *path, char *const *envp, bool strict, vn_proxy_config_t **out,
                                   char *errbuf, size_t errcap)
{
    return load_file(path, envp, strict, false, out, errbuf, errcap);
}

vn_err_t vn_proxy_config_validate_file(const char *path, char *const *envp, vn_proxy_config_t **out, char *errbuf,
                                       size_t errcap)
{
    return load_file(path, envp, true, true, out, errbuf, errcap);
}

void vn_proxy_config_free(vn_proxy_config_t *c)
{
    if (!c)
        return;
    vn_cfg_free_fields(&vn_proxy__schema, c);
    free(c->consul_token);
    free(c);
}
