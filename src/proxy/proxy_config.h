/**
 * proxy_config.h - veneur-proxy's configuration (docs/behaviour.md W3.1): Go's keys
 * (proxy/config.go), plus a `discovery:` block that is a veneur-c addition.
 *
 * Loading: the first YAML document, then environment overrides named as Go's
 * envconfig names them with the prefix VENEUR_PROXY_ (upper-cased Go field
 * path, nested fields joined with '_': VENEUR_PROXY_FORWARDADDRESSES,
 * VENEUR_PROXY_DIALTIMEOUT, VENEUR_PROXY_GRPCSERVER_MAXCONNECTIONIDLE,
 * VENEUR_PROXY_DISCOVERY_HOSTSFILE); env wins over the file, lists are
 * comma-separated, ignore_tags has no env form (as in Go, where envconfig
 * cannot decode it). Text templates ({{ }}) are not expanded.
 *
 * Defaults where Go leaves zero values (Go's zero would break the proxy):
 *   dial_timeout 2s (Go: dials fail at once), discovery_interval 10s (Go's
 *   ticker panics on 0), send_buffer_size 131072 metrics per destination
 *   (Go: unbuffered, every metric waits for the sender), shutdown_timeout
 *   10s, discovery.timeout 5s, discovery.kind consul,
 *   discovery.kubernetes_port_name grpc, the in-cluster token/CA/namespace
 *   paths, discovery.consul_address $CONSUL_HTTP_ADDR else 127.0.0.1:8500,
 *   discovery.kubernetes_api https://$KUBERNETES_SERVICE_HOST:$..._PORT.
 * See docs/internals/proxy.md for every key.
 *
 * Ownership: every pointer is owned by the config (vn_proxy_config_free);
 * after a successful load every char * is non-NULL ("" when unset). The
 * loaded config is read-only and may be shared by threads.
 */
#ifndef VN_PROXY_PROXY_CONFIG_H
#define VN_PROXY_PROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"

/** Largest send_buffer_size accepted (metrics queued per destination). */
#define VN_PROXY_MAX_SEND_BUFFER (16u << 20)
/** grpc_server.ping_timeout when unset: grpc-go's default keepalive Time (2 h). */
#define VN_PROXY_KEEPALIVE_TIME_S 7200.0
/** Largest config file read (bytes). */
#define VN_PROXY_MAX_CONFIG_FILE (4u << 20)

typedef enum vn_disc_kind {
    VN_DISC_NONE = 0, /* forward_service empty: static forward_addresses only */
    VN_DISC_CONSUL,
    VN_DISC_DNS,
    VN_DISC_KUBERNETES,
} vn_disc_kind_t;

typedef struct vn_proxy_config {
    bool debug;
    double dial_timeout_s;
    double discovery_interval_s;
    vn_strlist_t forward_addresses; /* static destinations, "host:port" */
    char *forward_service;          /* name to discover; "" = no discovery */
    /* grpc_server.*: grpc-go's keepalive.ServerParameters on both listeners
     * (forward/h2_server.h): max_connection_idle is the idle timeout,
     * connection_timeout the handshake deadline, ping_timeout the keepalive
     * PING interval (VN_PROXY_KEEPALIVE_TIME_S when 0, Go's default) */
    double grpc_connection_timeout_s, grpc_max_connection_idle_s, grpc_max_connection_age_s,
        grpc_max_connection_age_grace_s, grpc_ping_timeout_s, grpc_keepalive_timeout_s;
    char *grpc_address;
    char *grpc_tls_address;
    bool http_enable_config, http_enable_profiling;
    char *http_address;
    vn_tag_matcher_t *ignore_tags;
    size_t n_ignore_tags;
    double runtime_metrics_interval_s;
    unsigned long send_buffer_size;
    char *sentry_dsn; /* secret; accepted, unused */
    double shutdown_timeout_s;
    char *statsd_address; /* statsd.*: accepted; self-metrics are on /metrics */
    double statsd_aggregation_interval_s;
    long statsd_channel_buffer_size, statsd_messages_per_payload;
    char *tls_ca_file, *tls_cert_file, *tls_key_file, *tls_server_name;

    /* ---- veneur-c additions: `discovery:` ---- */
    vn_disc_kind_t disc_kind;   /* discovery.kind: consul | dns | kubernetes */
    double disc_timeout_s;      /* per discovery request */
    char *consul_address;       /* [scheme://]host:port of the Consul agent */
    char *consul_token;         /* $CONSUL_HTTP_TOKEN (env only, as Go's Consul client); secret */
    char *dns_server;           /* host:port of a DNS server; "" = system resolver */
    long dns_port;              /* port for A/AAAA answers (0: the name must be SRV) */
    char *hosts_file;           /* hosts-style override file, consulted first */
    char *k8s_api;              /* https://host:port (http:// allowed for tests) */
    char *k8s_namespace;        /* "" = the service account's namespace file */
    char *k8s_port_name;
    char *k8s_token_file, *k8s_ca_file, *k8s_namespace_file;
    /* ---- veneur-c addition: `forward_tls:` - dial the globals over TLS (Go's proxy dials
     * them in plaintext). On when ca_file or cert_file is set; ca_file "" = the system trust
     * store; cert_file + key_file (both or neither) = the client certificate presented to
     * globals that require one (the daemon's grpc_tls_address with tls_authority_certificate) */
    char *fwd_tls_ca_file, *fwd_tls_cert_file, *fwd_tls_key_file, *fwd_tls_server_name;
    bool print_secrets; /* not a key: -print-secrets (Go's util.PrintSecrets) shows secrets in the dumps */
} vn_proxy_config_t;

/**
 * Loads YAML text (NULL/0 = empty file), then env overrides from envp
 * (NULL-terminated "K=V" array, e.g. environ; NULL = none), then defaults,
 * then validation. strict: unknown keys are errors (else warnings naming
 * them). @return VN_OK with *out owned, or VN_ERR_CONFIG with a one-line
 * message naming the key in errbuf and *out NULL.
 */
vn_err_t vn_proxy_config_load(const char *yaml, size_t len, char *const *envp, bool strict,
                              vn_proxy_config_t **out, char *errbuf, size_t errcap);

/** Reads path (at most VN_PROXY_MAX_CONFIG_FILE bytes) and calls vn_proxy_config_load. */
vn_err_t vn_proxy_config_load_file(const char *path, char *const *envp, bool strict, vn_proxy_config_t **out,
                                   char *errbuf, size_t errcap);

/**
 * As vn_proxy_config_load_file with strict, and keys accepted but not
 * implemented are errors too (-validate-config-strict); the error lists
 * every unknown and every unimplemented key.
 */
vn_err_t vn_proxy_config_validate_file(const char *path, char *const *envp, vn_proxy_config_t **out, char *errbuf,
                                       size_t errcap);

/** NULL ok. */
void vn_proxy_config_free(vn_proxy_config_t *c);

/**
 * /config/json (http.enable_config): the config as Go's json.Marshal of its
 * Config struct writes it (Go field names, durations in nanoseconds), the
 * discovery block under "Discovery"; secrets (sentry_dsn) print as
 * "<redacted>", and so do URL userinfo and secret query parameters
 * (vn_config_redact_url), unless c->print_secrets. Appended to out.
 */
void vn_proxy_config_dump_json(const vn_proxy_config_t *c, vn_buf_t *out);

/** /config/yaml: the YAML keys with their values (loads back into an equal config, secrets aside). */
void vn_proxy_config_dump_yaml(const vn_proxy_config_t *c, vn_buf_t *out);

/** "consul", "dns", "kubernetes" or "none". */
const char *vn_disc_kind_name(vn_disc_kind_t k);

#endif
