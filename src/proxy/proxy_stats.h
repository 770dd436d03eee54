/**
 * proxy_stats.h - veneur-proxy's own counters, shown on /metrics in
 * Prometheus text format (names veneur_proxy_*; Go's proxy sends the same
 * facts as DogStatsD metrics named veneur_proxy.*, see docs/behaviour.md W3.3).
 *
 * One per process, owned by main, passed by pointer. Relaxed atomics: the
 * routing path adds once per message batch where it can. Per-destination
 * counters live with each destination (router.h renders them).
 */
#ifndef VN_PROXY_PROXY_STATS_H
#define VN_PROXY_PROXY_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/stats.h" /* vn_stats_add / vn_stats_get: the one relaxed-atomic counter API */

enum { VN_PSTAT_SINGLE = 0, VN_PSTAT_STREAM = 1 }; /* protocol:grpc-single | grpc-stream */

typedef struct vn_proxy_stats {
    _Atomic uint64_t ingest_requests[2];   /* calls received, by protocol */
    _Atomic uint64_t ingest_metrics[2];    /* metrics received, by protocol */
    _Atomic uint64_t ingest_errors[2];     /* calls that ended with a non-0 grpc-status */
    _Atomic uint64_t handle_ok;            /* metrics queued for a destination (error:false) */
    _Atomic uint64_t handle_no_destination; /* ring empty (error:destination) */
    _Atomic uint64_t handle_dropped;       /* destination queue full or gone (error:dropped) */
    _Atomic uint64_t handle_invalid;       /* not a decodable metricpb.Metric (never forwarded) */
    _Atomic uint64_t rerouted;             /* re-routed from a failed or removed destination's queue */
    _Atomic uint64_t discovery_success, discovery_fail;
    _Atomic uint64_t discovery_destinations; /* gauge: addresses the last successful poll returned */
    _Atomic uint64_t discovery_duration_ns_total;
    _Atomic uint64_t ring_rebuilds;
    _Atomic uint64_t grpc_connections_total; /* h2_server's counter (vn_stats_t layout not used) */
    /* loop protection (issue 15, forward/hops.h) */
    _Atomic uint64_t loop_self_address;  /* destinations refused: the address is our own listener */
    _Atomic uint64_t loop_self_id;       /* destinations refused: the call reached us with our own id */
    _Atomic uint64_t loop_hops;          /* calls refused: x-veneur-hops at or over VN_HOPS_MAX */
    _Atomic uint64_t hops_restreams;     /* streams re-opened to carry a higher x-veneur-hops */
    /* Go's per-destination facts (proxy/connect), summed over destinations so a removed
     * destination's counts survive it; dest.c adds where the event happens */
    _Atomic uint64_t fwd_connect[3];    /* VN_PSTAT_CONN_*: dials by outcome */
    _Atomic uint64_t fwd_metrics[3];    /* VN_PSTAT_FWD_*: queued metrics by fate */
    _Atomic uint64_t fwd_disconnect[2]; /* streams ended: [0] cleanly (error:false), [1] failed */
    _Atomic uint64_t grpc_client_conn_begin, grpc_client_conn_end; /* connections to destinations */
    _Atomic uint64_t req_latency_us[2], req_latency_n[2]; /* ingest calls: summed duration, calls (by protocol) */
    _Atomic uint64_t self_metrics_dropped; /* statsd.address datagrams the sender dropped (copied at render) */
} vn_proxy_stats_t;

/* fwd_connect: Go's status tag values */
enum { VN_PSTAT_CONN_SUCCESS = 0, VN_PSTAT_CONN_FAILED_DIAL = 1, VN_PSTAT_CONN_FAILED_CONNECT = 2 };
/* fwd_metrics: error:false taken by a stream; error:eof the message cut when a stream failed
 * mid-message; error:dropped lost with a failed or stopped destination (not rerouted) */
enum { VN_PSTAT_FWD_OK = 0, VN_PSTAT_FWD_EOF = 1, VN_PSTAT_FWD_DROPPED = 2 };

/** Appends the process-wide counters in Prometheus text format to out. */
void vn_proxy_stats_render(const vn_proxy_stats_t *s, vn_buf_t *out);

struct vn_stats;
/**
 * Appends the gRPC server's limit counters, which h2_server keeps in a
 * vn_stats_t (accept pauses, refused and evicted connections, handshake and
 * body timeouts, reassembly refusals), as veneur_proxy_grpc_* families.
 * conn is borrowed (read with relaxed loads).
 */
void vn_proxy_stats_render_grpc(const struct vn_stats *conn, vn_buf_t *out);

struct vn_statsd_out;
/** Previous values for vn_proxy_stats_emit's deltas; zero-initialised by the owner. */
typedef struct vn_proxy_stats_prev {
    uint64_t v[40];
} vn_proxy_stats_prev_t;
/**
 * Adds one interval of Go's veneur_proxy.* DogStatsD metrics (counter deltas
 * since prev, which is updated; gauges as read) to out; the caller flushes.
 * A fixed set of lines per call. Called by one thread (the telemetry tick).
 */
void vn_proxy_stats_emit(const vn_proxy_stats_t *s, vn_proxy_stats_prev_t *prev, struct vn_statsd_out *out);
/** Go's discovery lines (discovery.count, .duration_total_ms, .destinations): Go sends them only
 * when discovery runs, so the caller adds them only then. Same threading as vn_proxy_stats_emit. */
void vn_proxy_stats_emit_discovery(const vn_proxy_stats_t *s, vn_proxy_stats_prev_t *prev,
                                   struct vn_statsd_out *out);

#endif
