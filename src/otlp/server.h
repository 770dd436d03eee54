/**
 * server.h - OTLP metric ingest (veneur-c key otlp_listen_addresses, entries
 * "http://host:port" for OTLP/HTTP and "grpc://host:port" for OTLP/gRPC over
 * h2c): each address is its own server with one thread, one ingest reader id
 * and one converter (otlp/convert.h), so no lock is shared with any other
 * reader. HTTP: a small libmicrohttpd server. gRPC: forward/h2_server.h
 * serving /opentelemetry.proto.collector.metrics.v1.MetricsService/Export
 * (unary; the answer is an empty ExportMetricsServiceResponse, so refused
 * points are counted but not reported back) and, with a span pipeline,
 * /opentelemetry.proto.collector.trace.v1.TraceService/Export (answered
 * with partial_success when spans were refused); other OTLP services get
 * UNIMPLEMENTED; messages over VN_OTLP_MAX_BODY get RESOURCE_EXHAUSTED;
 * grpc-encoding gzip is not accepted: OTel exporters send uncompressed
 * unless configured otherwise). A gRPC listener binds at start, so its bind
 * errors stop the daemon at start-up rather than at config time.
 *
 *   POST /v1/metrics  Content-Type application/x-protobuf (Content-Encoding
 *                     gzip or none): 200 with an ExportMetricsServiceResponse
 *                     (partial_success when data points were refused);
 *                     400 undecodable, 413 over VN_OTLP_MAX_BODY bytes (or
 *                     VN_OTLP_MAX_INFLATED once inflated), 415 other content
 *                     types (OTLP/JSON is not accepted)
 *   POST /v1/traces   with a span pipeline (vn_otlp_server_set_ssf): an
 *                     ExportTraceServiceRequest, each span mapped to an SSF
 *                     span (otlp/trace.h) and offered to the span workers;
 *                     200 with an ExportTraceServiceResponse (partial_success
 *                     when spans were refused), same 400/413/415 rules;
 *                     without one 501 naming ssf_listen_addresses
 *   POST /v1/logs     501: veneur-c takes OTLP metrics and traces only
 *   anything else     404 (405 for other methods on /v1/metrics)
 *
 * Bounded memory: at most VN_OTLP_MAX_CONNS connections, each buffering at
 * most VN_OTLP_MAX_BODY request bytes, plus one inflate buffer of at most
 * VN_OTLP_MAX_INFLATED at a time per server. Every refusal is counted
 * (core/stats.h otlp_*).
 *
 * Life cycle: open (bind; errors are config errors) -> reader_count ->
 * start -> stop -> free, as ssf/server.h.
 */
#ifndef VN_OTLP_SERVER_H
#define VN_OTLP_SERVER_H

#include <stddef.h>

#include "config/config.h"
#include "core/err.h"
#include "core/stats.h"
#include "listen/ingest.h"
#include "ssf/server.h"

#define VN_OTLP_MAX_BODY ((size_t)4 << 20)
#define VN_OTLP_MAX_INFLATED ((size_t)16 << 20)
#define VN_OTLP_MAX_CONNS 16
/** gRPC: connections per listener (a quarter per peer) and split-message bytes held at once. */
#define VN_OTLP_GRPC_MAX_CONNS 256
#define VN_OTLP_GRPC_REASSEMBLY ((size_t)64 << 20)

typedef struct vn_otlp_server vn_otlp_server_t;

/** Binds every otlp_listen_addresses entry. *out NULL when there are none. stats borrowed. */
vn_err_t vn_otlp_server_open(const vn_config_t *cfg, vn_stats_t *stats, vn_otlp_server_t **out, char *errbuf,
                             size_t errcap);

/**
 * Where OTLP spans go (before start; borrowed, must be stopped after this
 * server). NULL (the default) = traces are refused with 501/UNIMPLEMENTED.
 */
void vn_otlp_server_set_ssf(vn_otlp_server_t *s, vn_ssf_server_t *ssf);

/** Reader ids the servers need (one per address; 0 for NULL). */
size_t vn_otlp_server_reader_count(const vn_otlp_server_t *s);

/** Starts serving; address i uses reader id first_reader + i. shared is copied. NULL-safe. */
vn_err_t vn_otlp_server_start(vn_otlp_server_t *s, const vn_ingest_shared_t *shared, size_t first_reader);

/** Stops the servers (requests in progress finish first, their samples committed). NULL-safe. */
void vn_otlp_server_stop(vn_otlp_server_t *s);
void vn_otlp_server_free(vn_otlp_server_t *s);

#endif
