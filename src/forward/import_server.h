/**
 * import_server.h - the global side of forwarding (docs/behaviour.md W1.3, 0.12): serves
 * forwardrpc.Forward on grpc_address and merges what locals send into the
 * workers' current maps.
 *
 * Methods: /forwardrpc.Forward/SendMetricsV2 (client stream of
 * metricpb.Metric, what v14 and veneur-c locals send) and
 * /forwardrpc.Forward/SendMetrics (unary MetricList, what v13 locals send;
 * Go's v14 global answers "not implemented", we accept it). Each metric is
 * decoded and validated on its own (metricpb_codec.h), routed to worker
 * hash % nworkers with the reader path's key hash, and queued with
 * vn_worker_import in chains of up to 256. A bad metric is counted and
 * skipped; the others of the call are still merged, and the call then ends
 * with INVALID_ARGUMENT naming how many were refused and the first reason
 * (Go logs and answers OK). Other answers: RESOURCE_EXHAUSTED for a message
 * over 4 MiB, UNIMPLEMENTED for an unknown method or a compressed message,
 * INVALID_ARGUMENT for a unary call without exactly one request message or
 * a MetricList that is not valid protobuf.
 */
#ifndef VN_FORWARD_IMPORT_SERVER_H
#define VN_FORWARD_IMPORT_SERVER_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "aggregate/worker.h"
#include "core/err.h"
#include "core/stats.h"
#include "forward/fwd_call.h"

typedef struct vn_import_server vn_import_server_t;

/**
 * Starts serving on address ("host:port"; port 0 = ephemeral). workers
 * (array and workers) and stats are borrowed and must outlive the server.
 * tls NULL = h2c (grpc_address); else every connection is TLS with this
 * server context (grpc_tls_address; tls/tls_files.h
 * vn_tls_grpc_server_ctx_pem), referenced by the server.
 * @return VN_OK with *out owned (vn_import_server_stop), or an error with a
 *   one-line reason in errbuf (e.g. the address is in use).
 */
vn_err_t vn_import_server_start(const char *address, SSL_CTX *tls, const vn_fwd_lifecycle_t *lc,
                                vn_worker_t **workers, size_t nworkers, vn_stats_t *stats, vn_import_server_t **out,
                                char *errbuf, size_t errcap);

/** The bound port. */
int vn_import_server_port(const vn_import_server_t *s);

/** Stops accepting, ends open calls (what they delivered is kept), joins, frees. NULL ok. */
void vn_import_server_stop(vn_import_server_t *s);

#endif
