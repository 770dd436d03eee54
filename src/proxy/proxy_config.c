/*
 * proxy_config.c - vn_proxy_config_load: YAML -> VENEUR_PROXY_* env ->
 * defaults -> validation (see proxy_config.h).
 *
 * Table-driven like src/config: one row per key with its YAML path (nested
 * keys joined by '.'), its Go field path (whose upper-cased form, '.' ->
 * '_', after VENEUR_PROXY_ is the env name), its type and its offset. YAML
 * scalars and env strings go through the same typed setter, so whatever
 * one accepts the other accepts too.
 */
#include "proxy/proxy_config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "forward/h2_client.h"

#include "proxy/proxy_config_internal.h"

#define OFF(f) offsetof(vn_proxy_config_t, f)
const vn_pcfg_key_t vn_proxy__keys[] = {
    {"debug", "Debug", VN_PCFG_BOOL, OFF(debug), false},
    {"dial_timeout", "DialTimeout", VN_PCFG_DURATION, OFF(dial_timeout_s), false},
    {"discovery_interval", "DiscoveryInterval", VN_PCFG_DURATION, OFF(discovery_interval_s), false},
    {"forward_addresses", "ForwardAddresses", VN_PCFG_STRLIST, OFF(forward_addresses), false},
    {"forward_service", "ForwardService", VN_PCFG_STR, OFF(forward_service), false},
    {"grpc_server.connection_timeout", "GrpcServer.ConnectionTimeout", VN_PCFG_DURATION, OFF(grpc_connection_timeout_s),
     false},
    {"grpc_server.max_connection_idle", "GrpcServer.MaxConnectionIdle", VN_PCFG_DURATION,
     OFF(grpc_max_connection_idle_s), false},
    {"grpc_server.max_connection_age", "GrpcServer.MaxConnectionAge", VN_PCFG_DURATION, OFF(grpc_max_connection_age_s),
     false},
    {"grpc_server.max_connection_age_grace", "GrpcServer.MaxConnectionAgeGrace", VN_PCFG_DURATION,
     OFF(grpc_max_connection_age_grace_s), false},
    {"grpc_server.ping_timeout", "GrpcServer.PingTimeout", VN_PCFG_DURATION, OFF(grpc_ping_timeout_s), false},
    {"grpc_server.keepalive_timeout", "GrpcServer.KeepaliveTimeout", VN_PCFG_DURATION, OFF(grpc_keepalive_timeout_s),
     false},
    {"grpc_address", "GrpcAddress", VN_PCFG_STR, OFF(grpc_address), false},
    {"grpc_tls_address", "GrpcTlsAddress", VN_PCFG_STR, OFF(grpc_tls_address), false},
    {"http.enable_config", "Http.EnableConfig", VN_PCFG_BOOL, OFF(http_enable_config), false},
    {"http.enable_profiling", "Http.EnableProfiling", VN_PCFG_BOOL, OFF(http_enable_profiling), false},
    {"http_address", "HttpAddress", VN_PCFG_STR, OFF(http_address), false},
    {"ignore_tags", NULL, VN_PCFG_MATCHERS, OFF(ignore_tags), false},
    {"runtime_metrics_interval", "RuntimeMetricsInterval", VN_PCFG_DURATION, OFF(runtime_metrics_interval_s), false},
    {"send_buffer_size", "SendBufferSize", VN_PCFG_ULONG, OFF(send_buffer_size), false},
    {"sentry_dsn", "SentryDsn", VN_PCFG_STR, OFF(sentry_dsn), true},
    {"shutdown_timeout", "ShutdownTimeout", VN_PCFG_DURATION, OFF(shutdown_timeout_s), false},
    {"statsd.address", "Statsd.Address", VN_PCFG_STR, OFF(statsd_address), false},
    {"statsd.aggregation_interval", "Statsd.AggregationInterval", VN_PCFG_DURATION, OFF(statsd_aggregation_interval_s),
     false},
    {"statsd.channel_buffer_size", "Statsd.ChannelBufferSize", VN_PCFG_LONG, OFF(statsd_channel_buffer_size), false},
    {"statsd.messages_per_payload", "Statsd.MessagesPerPayload", VN_PCFG_LONG, OFF(statsd_messages_per_payload), false},
    /* Go's Tls embeds its Config, so envconfig adds no segment for it */
    {"tls.ca_file", "Tls.CaFile", VN_PCFG_STR, OFF(tls_ca_file), false},
    {"tls.cert_file", "Tls.CertFile", VN_PCFG_STR, OFF(tls_cert_file), false},
    {"tls.key_file", "Tls.KeyFile", VN_PCFG_STR, OFF(tls_key_file), false},
    {"tls.server_name", "Tls.ServerName", VN_PCFG_STR, OFF(tls_server_name), false},
    /* veneur-c additions */
    {"discovery.kind", "Discovery.Kind", VN_PCFG_DISC_KIND, OFF(disc_kind), false},
    {"discovery.timeout", "Discovery.Timeout", VN_PCFG_DURATION, OFF(disc_timeout_s), false},
    {"discovery.consul_address", "Discovery.ConsulAddress", VN_PCFG_STR, OFF(consul_address), false},
    {"discovery.dns_server", "Discovery.DnsServer", VN_PCFG_STR, OFF(dns_server), false},
    {"discovery.dns_port", "Discovery.DnsPort", VN_PCFG_LONG, OFF(dns_port), false},
    {"discovery.hosts_file", "Discovery.HostsFile", VN_PCFG_STR, OFF(hosts_file), false},
    {"discovery.kubernetes_api", "Discovery.KubernetesApi", VN_PCFG_STR, OFF(k8s_api), false},
    {"discovery.kubernetes_namespace", "Discovery.KubernetesNamespace", VN_PCFG_STR, OFF(k8s_namespace), false},
    {"discovery.kubernetes_port_name", "Discovery.KubernetesPortName", VN_PCFG_STR, OFF(k8s_port_name), false},
    {"discovery.kubernetes_token_file", "Discovery.KubernetesTokenFile", VN_PCFG_STR, OFF(k8s_token_file), false},
    {"discovery.kubernetes_ca_file", "Discovery.KubernetesCaFile", VN_PCFG_STR, OFF(k8s_ca_file), false},
    {"discovery.kubernetes_namespace_file", "Discovery.KubernetesNamespaceFile", VN_PCFG_STR, OFF(k8s_namespace_file),
     false},
};
const size_t vn_proxy__nkeys = sizeof vn_proxy__keys / sizeof vn_proxy__keys[0];

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"

typedef struct loader {
    vn_proxy_config_t *c;
    bool strict;
    char *err;
    size_t errcap;
    bool failed;
} loader_t;

static vn_err_t errf(loader_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static vn_err_t errf(loader_t *ld, const char *fmt, ...)
{
    if (ld->failed)
        return VN_ERR_CONFIG;
    ld->failed = true;
    if (ld->err && ld->errcap) {
        int n = snprintf(ld->err, ld->errcap, "config: ");
        if (n > 0 && (size_t)n < ld->errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ld->err + n, ld->errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return VN_ERR_CONFIG;
}

/* A value for a message: escaped, truncated, or hidden for secrets. */
static const char *show(const char *v, bool secret, char *buf, size_t cap)
{
    if (secret) {
        snprintf(buf, cap, "<redacted>");
        return buf;
    }
    size_t n = 0;
    char *hidden = vn_config_redact_url(v); /* https://<redacted>@host/?token=<redacted> */
    if (hidden)
        v = hidden;
    for (const unsigned char *p = (const unsigned char *)v; *p && n + 8 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", *p);
        else
            buf[n++] = (char)*p;
    }
    buf[n] = '\0';
    free(hidden);
    return buf;
}

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

static bool parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(s, t[i]) == 0)
            return *out = true, true;
        if (strcmp(s, f[i]) == 0)
            return *out = false, true;
    }
    return false;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    if (*s == '\0' || *s == ' ')
        return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static void strlist_free(vn_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void strlist_push(vn_strlist_t *l, const char *s)
{
    l->v = vn_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = vn_xstrdup(s);
}

static void matchers_free(vn_proxy_config_t *c)
{
    for (size_t i = 0; i < c->n_ignore_tags; i++) {
        free(c->ignore_tags[i].kind);
        free(c->ignore_tags[i].value);
    }
    free(c->ignore_tags);
    c->ignore_tags = NULL;
    c->n_ignore_tags = 0;
}

/* Sets a scalar key from text (YAML scalar or env value); origin is for messages. */
static vn_err_t set_scalar(loader_t *ld, const vn_pcfg_key_t *k, const char *val, const char *origin)
{
    char shown[160];
    vn_proxy_config_t *c = ld->c;
    switch (k->type) {
    case VN_PCFG_STR:
        free(*VN_PCFG_FIELD(c, k, char *));
        *VN_PCFG_FIELD(c, k, char *) = vn_xstrdup(val);
        return VN_OK;
    case VN_PCFG_BOOL:
        if (!parse_bool(val, VN_PCFG_FIELD(c, k, bool)))
            return errf(ld, "key \"%s\"%s: invalid boolean \"%s\"", k->yaml, origin,
                        show(val, k->secret, shown, sizeof shown));
        return VN_OK;
    case VN_PCFG_DURATION: {
        double d;
        if (vn_config_parse_duration(val, &d) != VN_OK || d < 0)
            return errf(ld, "key \"%s\"%s: invalid duration \"%s\" (Go syntax, e.g. 2s, 500ms, 1m30s)", k->yaml,
                        origin, show(val, false, shown, sizeof shown));
        *VN_PCFG_FIELD(c, k, double) = d;
        return VN_OK;
    }
    case VN_PCFG_ULONG: {
        long v;
        if (!parse_long(val, 0, (long)VN_PROXY_MAX_SEND_BUFFER, &v))
            return errf(ld, "key \"%s\"%s: invalid count \"%s\" (0..%u)", k->yaml, origin,
                        show(val, false, shown, sizeof shown), VN_PROXY_MAX_SEND_BUFFER);
        *VN_PCFG_FIELD(c, k, unsigned long) = (unsigned long)v;
        return VN_OK;
    }
    case VN_PCFG_LONG: {
        long v;
        if (!parse_long(val, INT_MIN, INT_MAX, &v))
            return errf(ld, "key \"%s\"%s: invalid integer \"%s\"", k->yaml, origin,
                        show(val, false, shown, sizeof shown));
        *VN_PCFG_FIELD(c, k, long) = v;
        return VN_OK;
    }
    case VN_PCFG_DISC_KIND: {
        vn_disc_kind_t kind;
        if (strcmp(val, "consul") == 0)
            kind = VN_DISC_CONSUL;
        else if (strcmp(val, "dns") == 0)
            kind = VN_DISC_DNS;
        else if (strcmp(val, "kubernetes") == 0)
            kind = VN_DISC_KUBERNETES;
        else if (val[0] == '\0')
            kind = VN_DISC_NONE; /* "" = the default, consul */
        else
            return errf(ld, "key \"%s\"%s: unknown discovery kind \"%s\" (consul, dns or kubernetes)", k->yaml,
                        origin, show(val, false, shown, sizeof shown));
        *VN_PCFG_FIELD(c, k, vn_disc_kind_t) = kind;
        return VN_OK;
    }
    case VN_PCFG_STRLIST: {
        vn_strlist_t *l = VN_PCFG_FIELD(c, k, vn_strlist_t);
        strlist_free(l);
        if (val[0] == '\0')
            return VN_OK;
        const char *p = val;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            char *item = vn_xstrndup(p, n);
            strlist_push(l, item);
            free(item);
            if (!comma)
                break;
            p = comma + 1;
        }
        return VN_OK;
    }
    case VN_PCFG_MATCHERS: break;
    }
    return errf(ld, "key \"%s\"%s: cannot be set from text", k->yaml, origin);
}

/* ---------------------------------------------------------------- YAML */

static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static const vn_pcfg_key_t *find_key(const char *path)
{
    for (size_t i = 0; i < vn_proxy__nkeys; i++)
        if (strcmp(vn_proxy__keys[i].yaml, path) == 0)
            return &vn_proxy__keys[i];
    return NULL;
}

static bool is_group(const char *k)
{
    size_t n = strlen(k);
    for (size_t i = 0; i < vn_proxy__nkeys; i++)
        if (strncmp(vn_proxy__keys[i].yaml, k, n) == 0 && vn_proxy__keys[i].yaml[n] == '.')
            return true;
    return false;
}

static vn_err_t unknown_key(loader_t *ld, const char *path)
{
    if (ld->strict)
        return errf(ld, "unknown key \"%s\" (-strict)", path);
    VN_LOG(WARN, "event=config_unknown_key key=\"%s\"", path);
    return VN_OK;
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* ignore_tags: [{kind: exact|prefix|regex, value: ..., unset: bool}] */
static vn_err_t set_matchers(loader_t *ld, yaml_document_t *doc, yaml_node_t *v)
{
    vn_proxy_config_t *c = ld->c;
    matchers_free(c);
    if (is_null(v))
        return VN_OK;
    if (v->type != YAML_SEQUENCE_NODE)
        return errf(ld, "key \"ignore_tags\": expected a list of {kind, value}");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n > 10000)
        return errf(ld, "key \"ignore_tags\": more than 10000 matchers");
    c->ignore_tags = vn_xcalloc(n ? n : 1, sizeof *c->ignore_tags);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *m = yaml_document_get_node(doc, v->data.sequence.items.start[i]);
        vn_tag_matcher_t *t = &c->ignore_tags[c->n_ignore_tags++];
        t->kind = vn_xstrdup("");
        t->value = vn_xstrdup("");
        if (!m || m->type != YAML_MAPPING_NODE)
            return errf(ld, "key \"ignore_tags[%zu]\": expected a mapping {kind, value}", i);
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
            yaml_node_t *kn = yaml_document_get_node(doc, pr->key), *vn = yaml_document_get_node(doc, pr->value);
            if (!kn || kn->type != YAML_SCALAR_NODE || !vn || vn->type != YAML_SCALAR_NODE)
                return errf(ld, "key \"ignore_tags[%zu]\": keys and values must be scalars", i);
            const char *kk = scalar(kn);
            if (strcmp(kk, "kind") == 0) {
                free(t->kind);
                t->kind = vn_xstrdup(scalar(vn));
            } else if (strcmp(kk, "value") == 0) {
                free(t->value);
                t->value = vn_xstrdup(scalar(vn));
            } else if (strcmp(kk, "unset") == 0) {
                if (!parse_bool(scalar(vn), &t->unset))
                    return errf(ld, "key \"ignore_tags[%zu].unset\": invalid boolean", i);
            } else {
                char path[96];
                snprintf(path, sizeof path, "ignore_tags[%zu].%.40s", i, kk);
                if (unknown_key(ld, path) != VN_OK)
                    return VN_ERR_CONFIG;
            }
        }
    }
    return VN_OK;
}

static vn_err_t set_node(loader_t *ld, const vn_pcfg_key_t *k, yaml_document_t *doc, yaml_node_t *v)
{
    if (k->type == VN_PCFG_MATCHERS)
        return set_matchers(ld, doc, v);
    if (k->type == VN_PCFG_STRLIST) {
        vn_strlist_t *l = VN_PCFG_FIELD(ld->c, k, vn_strlist_t);
        strlist_free(l);
        if (is_null(v))
            return VN_OK;
        if (v->type != YAML_SEQUENCE_NODE)
            return errf(ld, "key \"%s\": expected a list", k->yaml);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(doc, *it);
            if (!item || item->type != YAML_SCALAR_NODE)
                return errf(ld, "key \"%s\": list items must be strings", k->yaml);
            if (l->n >= 10000)
                return errf(ld, "key \"%s\": more than 10000 items", k->yaml);
            strlist_push(l, scalar(item));
        }
        return VN_OK;
    }
    if (v->type != YAML_SCALAR_NODE)
        return errf(ld, "key \"%s\": expected a single value", k->yaml);
    if (is_null(v) && k->type != VN_PCFG_STR)
        return VN_OK; /* null = Go's zero value, the default */
    return set_scalar(ld, k, is_null(v) ? "" : scalar(v), "");
}

static vn_err_t load_map(loader_t *ld, yaml_document_t *doc, yaml_node_t *map, const char *prefix, int depth)
{
    if (map->type != YAML_MAPPING_NODE)
        return errf(ld, "%s%s must be a mapping of keys (line %zu)", prefix[0] ? "key " : "the top level",
                    prefix, map->start_mark.line + 1);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(doc, pr->key), *vn = yaml_document_get_node(doc, pr->value);
        if (!kn || kn->type != YAML_SCALAR_NODE || !vn)
            return errf(ld, "keys must be strings (line %zu)", kn ? kn->start_mark.line + 1 : 0);
        char path[256];
        if (snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", scalar(kn)) >= (int)sizeof path)
            return errf(ld, "key too long (line %zu)", kn->start_mark.line + 1);
        const vn_pcfg_key_t *k = find_key(path);
        vn_err_t e;
        if (k)
            e = set_node(ld, k, doc, vn);
        else if (depth == 0 && is_group(path))
            e = is_null(vn) ? VN_OK : load_map(ld, doc, vn, path, depth + 1);
        else
            e = unknown_key(ld, path);
        if (e != VN_OK)
            return e;
    }
    return VN_OK;
}

static vn_err_t load_yaml(loader_t *ld, const char *yaml, size_t len)
{
    char msg[256];
    if (vn_config_yaml_check(yaml, len, msg, sizeof msg) != VN_OK) /* nesting cap: keeps the load linear */
        return errf(ld, "%s", msg);
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return errf(ld, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&p, &doc)) {
        vn_err_t e = errf(ld, "YAML error at line %zu column %zu: %s", p.problem_mark.line + 1,
                          p.problem_mark.column + 1, p.problem ? p.problem : "unknown");
        yaml_parser_delete(&p);
        return e;
    }
    vn_err_t e = VN_OK;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root))
        e = load_map(ld, &doc, root, "", 0);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return e;
}

/* ---------------------------------------------------------------- env, defaults */

static const char *getenv_in(char *const *envp, const char *name)
{
    if (!envp)
        return NULL;
    size_t n = strlen(name);
    for (; *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static void env_name(const vn_pcfg_key_t *k, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "VENEUR_PROXY_");
    for (const char *p = k->gofield; *p && n + 1 < cap; p++)
        buf[n++] = *p == '.' ? '_' : (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    buf[n] = '\0';
}

static vn_err_t apply_env(loader_t *ld, char *const *envp)
{
    for (size_t i = 0; i < vn_proxy__nkeys; i++) {
        if (!vn_proxy__keys[i].gofield)
            continue;
        char name[96], origin[128];
        env_name(&vn_proxy__keys[i], name, sizeof name);
        const char *v = getenv_in(envp, name);
        if (!v)
            continue;
        snprintf(origin, sizeof origin, " (from %s)", name);
        if (set_scalar(ld, &vn_proxy__keys[i], v, origin) != VN_OK)
            return VN_ERR_CONFIG;
    }
    return VN_OK;
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
        if (vn_proxy__keys[i].type == VN_PCFG_STR && !*VN_PCFG_FIELD(c, &vn_proxy__keys[i], char *))
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
    const char *token = getenv_in(envp, "CONSUL_HTTP_TOKEN");
    if (!c->consul_token)
        c->consul_token = vn_xstrdup(token ? token : "");
    const char *consul = getenv_in(envp, "CONSUL_HTTP_ADDR");
    default_str(&c->consul_address, consul && consul[0] ? consul : "127.0.0.1:8500");
    const char *kh = getenv_in(envp, "KUBERNETES_SERVICE_HOST"), *kp = getenv_in(envp, "KUBERNETES_SERVICE_PORT");
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
    if (vn_h2_split_hostport(a, host, sizeof host, port, sizeof port) != VN_OK)
        return false;
    long p;
    return parse_long(port, 1, 65535, &p);
}

static vn_err_t validate(loader_t *ld)
{
    vn_proxy_config_t *c = ld->c;
    char shown[160];
    for (size_t i = 0; i < c->forward_addresses.n; i++)
        if (!valid_hostport(c->forward_addresses.v[i]))
            return errf(ld, "key \"forward_addresses\": \"%s\" is not host:port",
                        show(c->forward_addresses.v[i], false, shown, sizeof shown));
    if (c->dns_server[0] && !valid_hostport(c->dns_server))
        return errf(ld, "key \"discovery.dns_server\": \"%s\" is not host:port",
                    show(c->dns_server, false, shown, sizeof shown));
    for (size_t i = 0; i < vn_proxy__nkeys; i++) {
        const vn_pcfg_key_t *k = &vn_proxy__keys[i];
        if (k->type != VN_PCFG_STR || k->secret)
            continue;
        const char *v = *VN_PCFG_FIELD(c, k, char *);
        if (!vn_config_port_ok(v)) /* "host:65537" would wrap to port 1 */
            return errf(ld, "key \"%s\": invalid port in address \"%s\" (must be 0 to 65535)", k->yaml,
                        show(v, false, shown, sizeof shown));
    }
    if (c->dns_port < 0 || c->dns_port > 65535)
        return errf(ld, "key \"discovery.dns_port\": %ld is not a port", c->dns_port);
    for (size_t i = 0; i < c->n_ignore_tags; i++) {
        const char *k = c->ignore_tags[i].kind;
        if (strcmp(k, "exact") != 0 && strcmp(k, "prefix") != 0 && strcmp(k, "regex") != 0)
            return errf(ld, "key \"ignore_tags[%zu].kind\": unknown matcher kind \"%s\" (exact, prefix or regex)", i,
                        show(k, false, shown, sizeof shown));
    }
    if (c->tls_ca_file[0] || c->tls_cert_file[0] || c->tls_key_file[0]) {
        if (!c->tls_ca_file[0] || !c->tls_cert_file[0] || !c->tls_key_file[0])
            return errf(ld, "key \"tls\": ca_file, cert_file, and key_file must all be set");
    }
    return VN_OK;
}

vn_err_t vn_proxy_config_load(const char *yaml, size_t len, char *const *envp, bool strict,
                              vn_proxy_config_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    if (errbuf && errcap)
        errbuf[0] = '\0';
    vn_proxy_config_t *c = vn_xcalloc(1, sizeof *c);
    loader_t ld = {.c = c, .strict = strict, .err = errbuf, .errcap = errcap};
    if (yaml && len && memmem(yaml, len, "{{", 2))
        VN_LOG(WARN, "event=config_template_not_expanded msg=\"{{ }} is kept as text\"");
    vn_err_t e = yaml && len ? load_yaml(&ld, yaml, len) : VN_OK;
    if (e == VN_OK)
        e = apply_env(&ld, envp);
    if (e == VN_OK) {
        apply_defaults(c, envp);
        e = validate(&ld);
    }
    if (e != VN_OK) {
        apply_defaults(c, envp); /* so free sees a consistent struct */
        vn_proxy_config_free(c);
        return VN_ERR_CONFIG;
    }
    *out = c;
    return VN_OK;
}

vn_err_t vn_proxy_config_load_file(const char *path, char *const *envp, bool strict, vn_proxy_config_t **out,
                                   char *errbuf, size_t errcap)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO must not block start-up waiting for a writer; refused below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(errbuf, errcap, "failed to open config file: %s: %s", path, strerror(errno));
        return VN_ERR_CONFIG;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errbuf, errcap, "failed to read config file: %s: not a regular file", path);
        close(fd);
        return VN_ERR_CONFIG;
    }
    char *buf = vn_xmalloc(VN_PROXY_MAX_CONFIG_FILE + 1);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, VN_PROXY_MAX_CONFIG_FILE + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(errbuf, errcap, "failed to read config file: %s: %s", path, strerror(errno));
            close(fd);
            free(buf);
            return VN_ERR_CONFIG;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > VN_PROXY_MAX_CONFIG_FILE) {
            snprintf(errbuf, errcap, "config file %s is larger than %u bytes", path, VN_PROXY_MAX_CONFIG_FILE);
            close(fd);
            free(buf);
            return VN_ERR_CONFIG;
        }
    }
    close(fd);
    vn_err_t e = vn_proxy_config_load(buf, len, envp, strict, out, errbuf, errcap);
    free(buf);
    return e;
}

void vn_proxy_config_free(vn_proxy_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < vn_proxy__nkeys; i++) {
        if (vn_proxy__keys[i].type == VN_PCFG_STR)
            free(*VN_PCFG_FIELD(c, &vn_proxy__keys[i], char *));
        else if (vn_proxy__keys[i].type == VN_PCFG_STRLIST)
            strlist_free(VN_PCFG_FIELD(c, &vn_proxy__keys[i], vn_strlist_t));
    }
    matchers_free(c);
    free(c->consul_token);
    free(c);
}
