/**
 * config.h - the immutable daemon configuration (docs/behaviour.md section 4 and 0.1).
 *
 * Loaded once from YAML (`-f FILE`), then VENEUR_* environment overrides (Go
 * envconfig naming: "VENEUR_" + upper-cased Go field name, no underscores between
 * words; env wins over the file), then defaults. After vn_config_load returns,
 * the struct is read-only and may be shared by all threads.
 *
 * Ownership: every pointer inside vn_config_t is owned by the config and freed by
 * vn_config_free. Lists are NULL-terminated-free arrays with an explicit count.
 * After a successful load every char * field of vn_config_t is non-NULL ("" when
 * unset), and the [v13] flat sink keys have been translated into metric_sinks
 * entries (after the v14 entries). Implementation: config.c (load order),
 * config_keys.c (the key table: YAML key, Go field / env name, type, default),
 * config_yaml.c (YAML node readers), config_sections.c (sink blocks, sources, routing),
 * config_kv.c (lists, kv vectors), config_dump.c, duration.c.
 */
#ifndef VN_CONFIG_CONFIG_H
#define VN_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

typedef struct vn_strlist {
    char **v;
    size_t n;
} vn_strlist_t;

/** One key of a sink's `config:` block, flattened: nested maps join keys with '.',
 *  sequence items use their index ("per_tag_api_keys.0.name"). A sequence of
 *  scalars is kept both as items ("k.0", "k.1") and as `list` under "k". */
typedef struct vn_kv {
    char *key;
    char *value;       /* scalar text; for a scalar sequence, items joined by ',' */
    vn_strlist_t list; /* scalar sequence items (n == 0 for plain scalars) */
    bool is_list;      /* veneur-c addition: true for a scalar sequence, even an empty one */
} vn_kv_t;

/** veneur-c addition: a tag matcher (`strip_tags` items, routing `tags`). kind: exact|prefix|regex. */
typedef struct vn_tag_matcher {
    char *kind;
    char *value;
    bool unset;
} vn_tag_matcher_t;

typedef struct vn_sink_config {
    char *kind; /* "localfile", "debug", "datadog", ... */
    char *name; /* instance name; defaults to kind */
    int max_name_length, max_tag_length, max_tags;
    vn_kv_t *kv;
    size_t n_kv;
    /* veneur-c additions: per-sink tag rules (applied only with sink routing, docs/behaviour.md W4.1) */
    vn_tag_matcher_t *strip_tags;
    size_t n_strip_tags;
    vn_kv_t *add_tags; /* key = tag key, value = tag value; document order */
    size_t n_add_tags;
} vn_sink_config_t;

/** One `sources` entry (Go SourceConfig): a metric source such as the openmetrics
 *  scraper (sources/source.h). `config:` is flattened like a sink's. */
typedef struct vn_source_config {
    char *kind;       /* "openmetrics" */
    char *name;       /* instance name; defaults to kind */
    vn_kv_t *kv;      /* the flattened `config:` block */
    size_t n_kv;
    vn_strlist_t tags; /* "k:v" tags added to every metric the source ingests */
} vn_source_config_t;

/** Value of a source config key, or NULL when absent. Borrows; valid while cfg lives. */
const char *vn_source_config_get(const vn_source_config_t *sc, const char *key);

/** veneur-c addition: one `metric_sink_routing` matcher (docs/behaviour.md W4.1). name_kind: any|exact|prefix|regex. */
typedef struct vn_metric_matcher {
    char *name_kind;
    char *name_value;
    vn_tag_matcher_t *tags;
    size_t n_tags;
} vn_metric_matcher_t;

/** veneur-c addition: one `metric_sink_routing` entry. Regexes are not compiled here. */
typedef struct vn_sink_routing {
    char *name;
    vn_metric_matcher_t *match;
    size_t n_match;
    vn_strlist_t matched;     /* sinks.matched */
    vn_strlist_t not_matched; /* sinks.not_matched */
} vn_sink_routing_t;

/** Value of a sink config key, or NULL when absent. Borrows; valid while cfg lives. */
const char *vn_sink_config_get(const vn_sink_config_t *sc, const char *key);
/** Scalar-sequence items of a key (n may be 0 for `k: []`), or NULL when absent/not a sequence. Borrows. */
const vn_strlist_t *vn_sink_config_list(const vn_sink_config_t *sc, const char *key);

typedef struct vn_config {
    /* listeners */
    vn_strlist_t statsd_listen_addresses;
    vn_strlist_t ssf_listen_addresses;  /* udp:// and unix:// (ssf/server.h) */
    vn_strlist_t grpc_listen_addresses;
    vn_strlist_t otlp_listen_addresses; /* veneur-c: http:// or grpc://host:port OTLP metric ingest (otlp/server.h) */
    char *grpc_address;
    char *grpc_tls_address; /* veneur-c only: the import server over TLS (docs/behaviour.md 0) */
    /* veneur-c only: grpc_server.* as veneur-proxy's, for this daemon's gRPC servers (import
     * on grpc_address / grpc_tls_address, ingest on grpc_listen_addresses); 0 = default */
    double grpc_connection_timeout_s, grpc_max_connection_idle_s, grpc_max_connection_age_s,
        grpc_max_connection_age_grace_s, grpc_ping_timeout_s, grpc_keepalive_timeout_s;
    char *http_address;
    char *forward_address;
    int read_buffer_size_bytes; /* default 2097152 */
    int metric_max_length;      /* default 4096 */
    int trace_max_length_bytes;
    int num_readers;            /* <= 0 means 1 (docs/behaviour.md 0.7) */
    int num_workers;            /* default 1 */
    int num_span_workers;
    int span_channel_capacity;
    char *tls_key;                   /* PEM contents, secret */
    char *tls_certificate;           /* PEM contents */
    char *tls_authority_certificate; /* PEM contents */
    char *tls_ca_file, *tls_cert_file, *tls_key_file; /* `tls:` block (client TLS for forwarding) */

    /* flush */
    double interval_s;              /* `interval`, Go duration; default 10s */
    bool synchronize_with_interval;
    double import_grace_period_s;   /* veneur-c: 0 = min(interval/4, 2s), < 0 = off (ticker/ticker.h) */
    bool flush_on_shutdown;         /* default TRUE (docs/behaviour.md 0.7) */
    int flush_watchdog_missed_flushes;
    double *percentiles;
    size_t n_percentiles;
    unsigned aggregates;            /* VN_AGG_* mask; default min|max|count */
    char *hostname;                 /* defaults to gethostname() unless omit_empty_hostname */
    bool omit_empty_hostname;
    vn_strlist_t extend_tags;       /* v14 extend_tags, or v13 `tags` */
    vn_strlist_t tags_exclude;
    bool count_unique_timeseries;
    long max_series_per_interval;   /* veneur-c: cardinality cap per worker interval; 0 = unlimited */
    long max_event_bytes_per_interval;      /* veneur-c: event string bytes held per interval; default 16 MiB */
    long max_series_bytes_per_interval;     /* veneur-c: series bytes (keys + fixed cost) per interval, all
                                               workers; default 128 MiB */

    /* self-metrics, misc */
    char *stats_address;
    vn_strlist_t veneur_metrics_additional_tags;
    char *sentry_dsn;               /* secret; accepted, unused */
    bool debug;
    bool enable_profiling;
    bool http_quit;
    bool http_config;               /* http.config */
    bool features_enable_metric_sink_routing;
    bool features_diagnostics_metrics_enabled;

    /* sinks: v14 metric_sinks, plus v13 flat keys translated into entries here */
    vn_sink_config_t *metric_sinks;
    size_t n_metric_sinks;
    /* span sinks (spansinks/span_sink.h): v14 span_sinks, plus the [v13] flat span keys
     * translated into entries here (same shape as metric sinks; the tag rules are unused) */
    vn_sink_config_t *span_sinks;
    size_t n_span_sinks;
    /* metric sources (Go `sources`, src/sources/): kind, name, config, tags */
    vn_source_config_t *sources;
    size_t n_sources;

    /* v13 flat sink keys kept verbatim (secrets never printed) */
    char *datadog_api_key, *datadog_api_hostname;
    int datadog_flush_max_per_body;
    char *signalfx_api_key, *signalfx_endpoint_base;
    char *kafka_broker, *kafka_metric_topic;
    char *flush_file;

    /* ---- veneur-c additions (keys Go accepts that had no field above) ---- */
    vn_sink_routing_t *metric_sink_routing; /* metric_sink_routing */
    size_t n_metric_sink_routing;
    char *tls_server_name;                  /* tls.server_name */
    int block_profile_rate, mutex_profile_fraction; /* accepted, unused */
    char *indicator_span_timer_name, *objective_span_timer_name; /* ssf/convert.h; "" disables */
    /* veneur_metrics_scopes.{counter,gauge,histogram,set,status}: "", "default", "local" or "global" */
    char *veneur_metrics_scopes_counter, *veneur_metrics_scopes_gauge, *veneur_metrics_scopes_histogram,
        *veneur_metrics_scopes_set, *veneur_metrics_scopes_status;
    bool forward_use_grpc;          /* [v13] accepted and ignored: forwarding is always gRPC */
    vn_strlist_t v13_tags;          /* [v13] `tags` as given; also appended to extend_tags at load */
    int flush_max_per_body;         /* [v13] deprecated alias of datadog_flush_max_per_body */
    bool debug_flushed_metrics;     /* [v13] true adds a {kind: debug, name: debug} sink */
    bool debug_ingested_spans;      /* [v13] true adds a {kind: debug, name: debug} span sink */
} vn_config_t;

/** Defaults only (as if from an empty file and an empty environment). Returns owned config. */
vn_config_t *vn_config_new_defaults(void);

/**
 * Loads YAML text (may be NULL for none), applies env overrides from envp
 * (NULL-terminated "K=V" strings, e.g. environ; NULL means no environment) and
 * defaults, validates. Only the first YAML document is read. Text templates
 * (`{{ }}`) are not expanded (a warning is logged). Not thread-safe with respect
 * to the log level only; otherwise reentrant.
 * strict (-validate-config-strict): unknown keys, and keys or metric sink
 * kinds accepted but not implemented, are errors, all listed in one message
 * (else each is a warning naming the key). On error returns VN_ERR_CONFIG, *out = NULL, and writes a one-line message
 * naming the key and the bad value into errbuf. Returns owned config in *out.
 */
vn_err_t vn_config_load(const char *yaml, size_t yaml_len, char *const *envp, bool strict, vn_config_t **out,
                        char *errbuf, size_t errcap);

/** Reads path and calls vn_config_load. */
vn_err_t vn_config_load_file(const char *path, char *const *envp, bool strict, vn_config_t **out, char *errbuf,
                             size_t errcap);

/** Accepts NULL. */
void vn_config_free(vn_config_t *cfg);

/**
 * Parses a Go time.ParseDuration string ("10s", "1m30s", "500ms", "1.5h", "300us",
 * "300µs", "7ns", "0", "-1s") into seconds. VN_ERR_PARSE for anything Go rejects
 * (no unit, unknown unit, overflow past 2^63 ns, NULL). Thread-safe.
 */
vn_err_t vn_config_parse_duration(const char *s, double *seconds);

/**
 * Writes the config as YAML with secrets redacted (for /config/yaml and -debug):
 * secret values (tls_key, sentry_dsn, and any sink config key containing key,
 * token, password, secret, credential, auth or dsn) print as "<redacted>", and
 * so does the userinfo of every URL-shaped value (https://<redacted>@host), in
 * any key, list or sink config. The output loads back into an equal config
 * (secrets aside). Borrows cfg.
 */
void vn_config_dump(const vn_config_t *cfg, FILE *out);

/** As vn_config_dump; print_secrets (Go's -print-secrets) writes secrets as they are. */
void vn_config_dump_opts(const vn_config_t *cfg, FILE *out, bool print_secrets);

struct vn_buf;
/**
 * Appends the config as one JSON object and a newline to out (/config/json,
 * config_json.c): Go's json.Marshal shape (struct field names, durations in
 * ns), secrets "<redacted>" unless print_secrets. Borrows cfg.
 */
void vn_config_dump_json(const vn_config_t *cfg, bool print_secrets, struct vn_buf *out);

/** Nesting of a YAML config document (mappings + sequences); deeper is refused. */
#define VN_CONFIG_MAX_YAML_DEPTH 64

/**
 * Streams yaml once (first document only) and fails when it nests deeper than
 * VN_CONFIG_MAX_YAML_DEPTH or does not parse, with a one-line message (no
 * "config: " prefix) in errbuf. Run it before yaml_parser_load: libyaml's
 * scanner is quadratic in the flow nesting depth, so this keeps loading linear.
 * Used by veneur and veneur-proxy. Thread-safe.
 */
vn_err_t vn_config_yaml_check(const char *yaml, size_t len, char *errbuf, size_t errcap);

/**
 * False when an address ("host:port", "[v6]:port", ":port" or
 * "scheme://user@host:port/path") has a numeric port above 65535, which the
 * resolver would take modulo 2^16 (":65537" binds port 1). Non-numeric or
 * missing ports are true here: they are checked where the address is used.
 */
bool vn_config_port_ok(const char *v);

/**
 * Finds the userinfo of a URL-shaped value, "scheme://user:password@host...":
 * true with [*start, *end) the byte span of "user:password" (what dumps and
 * messages replace by "<redacted>"); false when v has no "://" or its authority
 * (up to the first '/', '?' or '#') holds no '@'. Thread-safe, borrows v.
 */
bool vn_config_url_userinfo(const char *v, size_t *start, size_t *end);

/**
 * A URL-shaped value (it has "://") with its secrets replaced by "<redacted>":
 * the userinfo (as vn_config_url_userinfo) and the value of each query
 * parameter whose name reads as a secret - a word of vn_cfg's secret keys
 * (key, token, password, secret, auth, credential, dsn: api_key=, token=,
 * password=, client_secret=, key=) or pass/sig/pwd/signature:
 *   "https://u:p@h/x?api_key=abc&q=1#f" -> "https://<redacted>@h/x?api_key=<redacted>&q=1#f".
 * Returns a new string (caller frees), or NULL when v has nothing to hide.
 * Used by every config dump (/config/yaml, /config/json) and config message
 * of veneur and veneur-proxy. Thread-safe, borrows v.
 */
char *vn_config_redact_url(const char *v);

/** Embedded default config used by `make run` (no -f): UDP 127.0.0.1:8126, HTTP 127.0.0.1:8127, debug sink. */
extern const char vn_config_default_yaml[];

#endif
