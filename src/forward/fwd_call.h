/**
 * fwd_call.h - the request side of forwardrpc.Forward that every server of it
 * shares (the global's import_server.c and veneur-proxy's proxy_server.c): which
 * method a path names, how one request message splits into metricpb.Metric
 * bytes for each method, the unary-call rules, and starting the h2 server.
 * What happens to each metric (merge into workers, route through the ring)
 * and the counting stay with the caller.
 *
 * Methods: /forwardrpc.Forward/SendMetrics (unary: exactly one MetricList)
 * and /forwardrpc.Forward/SendMetricsV2 (client stream: one Metric per message).
 */
#ifndef VN_FORWARD_FWD_CALL_H
#define VN_FORWARD_FWD_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "config/config.h"
#include "forward/h2_server.h"

/** Per-call state the shared rules need; embedded in the caller's call struct. */
typedef struct vn_fwd_call {
    bool unary; /* SendMetrics (v13 locals) rather than SendMetricsV2 */
    size_t messages;
} vn_fwd_call_t;

/** The grpc-message for a MetricList that is not valid protobuf (a static string). */
#define VN_FWD_BAD_LIST_TEXT "invalid protobuf: MetricList"

/**
 * Sets *fc for path. @return true for one of the two methods; false for any
 * other path, with *status = UNIMPLEMENTED and *msg (static) set.
 */
bool vn_fwd_call_open(vn_fwd_call_t *fc, const char *path, vn_grpc_status_t *status, const char **msg);

/** Gets one metricpb.Metric's bytes (borrowed for the call). */
typedef void (*vn_fwd_metric_fn)(void *arg, const uint8_t *metric, size_t len);

/** What vn_fwd_call_message found. */
typedef enum vn_fwd_msg_result {
    VN_FWD_MSG_OK,       /* every metric of the message was handed to each */
    VN_FWD_MSG_EXTRA,    /* a second message on a unary call; *msg set; nothing handed over */
    VN_FWD_MSG_BAD_LIST, /* the MetricList breaks off; the metrics before the break were handed over */
} vn_fwd_msg_result_t;

/**
 * Counts one request message and hands each metric in it to each(arg, ...):
 * the message itself on a stream, every element of the MetricList on a unary
 * call. *msg is set (static) for any result but OK.
 */
vn_fwd_msg_result_t vn_fwd_call_message(vn_fwd_call_t *fc, const uint8_t *data, size_t len, vn_fwd_metric_fn each,
                                        void *arg, const char **msg);

/** At finish: a unary call that sent no message is refused; true with *msg (static) set then. */
bool vn_fwd_call_missing(const vn_fwd_call_t *fc, const char **msg);

/**
 * HTTP/2 connection lifecycle of one of veneur's gRPC servers (h2_server.h options), from the
 * veneur-c keys grpc_server.* (the names and meaning of veneur-proxy's; 0 = h2_server's default,
 * keepalive PINGs after Go's 2 h when ping_timeout is unset).
 */
typedef struct vn_fwd_lifecycle {
    double idle_s, handshake_s, max_age_s, max_age_grace_s, keepalive_time_s, keepalive_timeout_s;
} vn_fwd_lifecycle_t;

/** The lifecycle from cfg's grpc_server.* keys. */
vn_fwd_lifecycle_t vn_fwd_lifecycle_from_config(const vn_config_t *cfg);

/** Copies lc into o's lifecycle fields (lc NULL: leaves them). */
void vn_fwd_lifecycle_apply(const vn_fwd_lifecycle_t *lc, vn_h2_server_opts_t *o);

/**
 * Starts an h2 server for handler (copied, its ctx replaced by ctx, borrowed) on address with stats (borrowed,
 * may be NULL), lifecycle lc (NULL = defaults) and tls (NULL = h2c; else referenced by the server). Same
 * contract as vn_h2_server_start: *out owned, vn_h2_server_stop.
 */
vn_err_t vn_fwd_serve(const char *address, const vn_grpc_handler_t *handler, void *ctx,
                      const vn_fwd_lifecycle_t *lc, SSL_CTX *tls, vn_stats_t *stats, vn_h2_server_t **out,
                      char *errbuf, size_t errcap);

#endif
