/**
 * grpc_client.h - the OTLP/gRPC transport of the otlp metric sink
 * (`protocol: grpc`, sinks/otlp.h): a sinks/http_client.h transport whose
 * requests are unary MetricsService/Export calls on forward/h2_client.h, so
 * the sink keeps its delivery queue (bounded bytes, retries, backoff) and
 * only the last hop changes. It lives here, above forward, because sinks sit
 * below the gRPC client in the layer order; main installs it with
 * vn_sink_otlp_set_grpc_transport.
 *
 * One call at a time: start() makes the whole call (bounded by the
 * request's timeout) and the result is ready when it returns; wait() then
 * returns at once, or sleeps until the timeout or a wakeup.
 *
 * Mapping of the request: the body becomes one gRPC message (compressed
 * flag and `grpc-encoding: gzip` when the sink gzips); Content-Type and
 * Content-Encoding are replaced by gRPC's own; the sink's extra headers are
 * sent as metadata (lower-cased). Outcomes: grpc-status 0 -> a 200
 * response; UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED,
 * CANCELLED -> 503 (the queue retries); other statuses -> 400 (dropped,
 * logged with grpc-message); no connection -> connect; deadline -> timeout;
 * anything else on the wire -> io.
 */
#ifndef VN_OTLP_GRPC_CLIENT_H
#define VN_OTLP_GRPC_CLIENT_H

#include "sinks/otlp.h"

/** A vn_otlp_grpc_transport_fn (sinks/otlp.h). */
vn_err_t vn_otlp_grpc_transport_new(const char *endpoint, bool gzip, char *const *headers, size_t nheaders,
                                    const vn_otlp_tls_files_t *tls, vn_http_transport_t **out, char *errbuf, size_t errcap);

#endif
