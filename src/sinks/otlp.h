/**
 * otlp.h - the "otlp" metric sink's encoder (module-internal to src/sinks/;
 * otlp.c): each flush becomes OTLP/HTTP protobuf requests, POST
 * ENDPOINT (default http://localhost:4318/v1/metrics) with body an
 * opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest
 * (proto/otlp_*.proto), gzip'd unless `compression: none`, sent through the
 * sink's delivery queue (delivery.h: bounded bytes, retries with backoff,
 * per-sink thread). Mapping (docs/otlp.md):
 *   counter      -> Sum, DELTA, is_monotonic, as_double = the interval's sum,
 *                   start_time = flush time - interval, time = flush time
 *   gauge        -> Gauge, as_double
 *   timer/histogram parts (hist_part != NONE, sinks/sink.h) -> one Summary
 *                   point per adjacent run of one series' parts (same series
 *                   name and tags): name = the series name, count = x.count
 *                   (rounded; 0 without it), sum = x.sum, else x.avg * x.count,
 *                   else 0; quantile_values = percentiles q, min as 0, max as
 *                   1, median as 0.5 (the first of a duplicate quantile wins),
 *                   ascending; start/time as for Sum. x.avg and x.hmean have no
 *                   Summary field and stay Gauges. `histograms_as: gauges`
 *                   sends every part as before (Gauge, x.count a Sum) instead
 *   status check -> Gauge with the status code (0 OK .. 3 UNKNOWN)
 *   tags "k:v"   -> string attributes k = v (split at the first ':'); a tag
 *                   without ':' -> attribute tag = "" ; excluded tags left out
 *   hostname     -> resource attribute host.name (omitted when empty)
 * The scope is name "veneur-c", version VN_VERSION. NaN and Inf values are
 * skipped (counted). A body is at most max_per_body metrics and
 * VN_OTLP_RAW_CAP bytes before compression (split in halves past it).
 * Not thread-safe: one flush at a time (the flush thread).
 */
#ifndef VN_SINKS_OTLP_H
#define VN_SINKS_OTLP_H

#include <stdbool.h>
#include <stddef.h>

#include "sinks/delivery.h"
#include "sinks/sink.h"

#define VN_OTLP_DEFAULT_ENDPOINT "http://localhost:4318/v1/metrics"
#define VN_OTLP_DEFAULT_GRPC_ENDPOINT "http://localhost:4317"
/** Uncompressed request bytes at which a body is split: 4 MiB, the default
 *  receive limit of gRPC servers and of the OpenTelemetry Collector's receivers. */
#define VN_OTLP_RAW_CAP ((size_t)4 << 20)
#define VN_OTLP_DEFAULT_MAX_PER_BODY 10000
/** Extra `headers:` entries (the delivery request carries at most
 *  VN_HTTP_MAX_HEADERS, two of them Content-Type and Content-Encoding). */
#define VN_OTLP_MAX_USER_HEADERS (VN_HTTP_MAX_HEADERS - 2)

/**
 * Builds the transport of a `protocol: grpc` sink: endpoint "http://host:port"
 * (h2c) or "https://host:port" (TLS; the CAs of tls->ca_file, else the
 * system trust store; tls->cert_file and key_file a client certificate);
 * headers "Name: value" sent as gRPC metadata. tls and its paths borrowed. Returns VN_OK with *out owned by the
 * caller (its delivery queue), or VN_ERR_CONFIG with errbuf saying why.
 */
typedef struct vn_otlp_tls_files {
    const char *ca_file, *cert_file, *key_file; /* PEM paths; NULL = unset */
} vn_otlp_tls_files_t;

typedef vn_err_t (*vn_otlp_grpc_transport_fn)(const char *endpoint, bool gzip, char *const *headers, size_t nheaders,
                                              const vn_otlp_tls_files_t *tls, vn_http_transport_t **out,
                                              char *errbuf, size_t errcap);

/**
 * Installs the gRPC transport (otlp/grpc_client.h; the gRPC client sits above
 * the sinks in the layer order). Call once at start-up, before any sink is
 * built. Without it `protocol: grpc` is a config error.
 */
void vn_sink_otlp_set_grpc_transport(vn_otlp_grpc_transport_fn fn);

/** One OTLP metric of a body: idx[at] alone, or idx[at..at+len) as one Summary. */
typedef struct vn_otlp_unit {
    size_t at, len;
    bool summary;
} vn_otlp_unit_t;

typedef struct vn_otlp {
    char *endpoint;                            /* full URL, .../v1/metrics; grpc: http(s)://host:port */
    bool grpc;                                 /* protocol: grpc (default http/protobuf) */
    bool gzip;                                 /* compression: gzip (default) or none */
    char *headers[VN_OTLP_MAX_USER_HEADERS];   /* "Name: value", owned */
    size_t nheaders;
    size_t max_per_body;
    size_t raw_cap;      /* VN_OTLP_RAW_CAP; tests lower it */
    bool hist_gauges;    /* histograms_as: gauges (default summary) */
    size_t *idx;         /* scratch: indices of the metrics being sent */
    size_t idx_cap;
    struct vn_otlp_unit *units; /* scratch: the OTLP metrics being sent, over idx */
    size_t units_cap;
    size_t skipped;      /* metrics never sent (non-finite, alone over raw_cap), cumulative */
} vn_otlp_t;

/** The registry's constructor for kind "otlp" (sink_internal.h contract). */
vn_err_t vn_sink__otlp_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                           size_t errcap);

/**
 * Reads the sink's `config:` keys: protocol ("http/protobuf" default, or
 * "grpc"), endpoint (http:// or https:// URL; for http/protobuf a URL with
 * no path or "/" gets /v1/metrics appended, default
 * VN_OTLP_DEFAULT_ENDPOINT; for grpc the scheme says h2c or TLS, the path is
 * ignored, default VN_OTLP_DEFAULT_GRPC_ENDPOINT), compression ("gzip" default, or "none"),
 * headers ({Name: value}, at most VN_OTLP_MAX_USER_HEADERS),
 * flush_max_per_body (default 10000 OTLP metrics per body; a Summary is one),
 * histograms_as ("summary" default, or "gauges"). https endpoints are verified against
 * the system trust store. Returns VN_OK or VN_ERR_CONFIG naming the sink and
 * key; x is initialised either way (release with vn_otlp__destroy).
 */
vn_err_t vn_otlp__init(vn_otlp_t *x, const vn_sink_config_t *sc, const char *sink_name, char *errbuf,
                       size_t errcap);
void vn_otlp__destroy(vn_otlp_t *x);

/**
 * Encodes m[0..n) (the metrics s wants) into request bodies handed to
 * emit(ctx, ...), which owns each body. Returns the first emit error, or VN_OK.
 */
vn_err_t vn_otlp__encode_metrics(vn_otlp_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                                 const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);

#endif
