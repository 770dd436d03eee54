/**
 * stats.h - the daemon's own counters (self-metrics), exposed on /metrics in
 * Prometheus text format.
 *
 * One vn_stats_t per process, owned by main and passed by pointer (no globals).
 * Fields are relaxed atomics: hot paths accumulate locally and add once per
 * batch (recvmmsg call, TCP read), never per line.
 */
#ifndef VN_CORE_STATS_H
#define VN_CORE_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "parse/dogstatsd.h"

typedef enum vn_proto {
    VN_PROTO_UDP = 0,
    VN_PROTO_TCP,
    VN_PROTO_UNIXGRAM,
    VN_PROTO_UNIX,
    VN_PROTO_GRPC,
    VN_PROTO__COUNT
} vn_proto_t;

/** "dogstatsd-udp", ... (Go's listen.received_per_protocol_total tag values). */
const char *vn_proto_name(vn_proto_t p);

#define VN_STATS_MAX_SINKS 16

typedef struct vn_stats_sink {
    const char *name; /* borrowed from the sink; set once at start-up */
    const char *kind;
    _Atomic uint64_t flushed;  /* metrics handed to the sink */
    _Atomic uint64_t errors;   /* failed flush calls */
    _Atomic uint64_t last_duration_ns;
} vn_stats_sink_t;

typedef struct vn_stats {
    _Atomic uint64_t packets[VN_PROTO__COUNT];      /* datagrams, or lines for streams */
    _Atomic uint64_t bytes[VN_PROTO__COUNT];
    _Atomic uint64_t lines;                         /* non-empty lines seen */
    _Atomic uint64_t samples;                       /* samples handed to workers */
    _Atomic uint64_t parse_errors[VN_PARSE_ERR__COUNT];
    _Atomic uint64_t packet_too_long;               /* datagrams over metric_max_length */
    _Atomic uint64_t ignored_sections;              /* SPEC 0.3 */
    _Atomic uint64_t queue_dropped_samples;         /* worker ring full */
    _Atomic uint64_t series_dropped_samples;        /* cardinality cap reached */
    _Atomic uint64_t events_received, events_dropped;
    _Atomic uint64_t service_checks;
    _Atomic uint64_t tcp_connects, tcp_disconnects, tls_handshake_failures, tcp_conn_rejected;
    _Atomic uint64_t flushes;
    _Atomic uint64_t flush_duration_ns_last, flush_duration_ns_total;
    _Atomic uint64_t series_last_flush;             /* series held at the last flush */
    _Atomic uint64_t metrics_flushed_total;
    _Atomic uint64_t flush_lateness_ns_last;        /* how late the last tick started */
    size_t n_sinks;
    vn_stats_sink_t sinks[VN_STATS_MAX_SINKS];
    /* forwarding, local side (forward/forwarder.c): one SendMetricsV2 call per interval */
    _Atomic uint64_t forward_calls;            /* calls that ended with grpc-status 0 */
    _Atomic uint64_t forward_failures;         /* calls that failed: connect, deadline, reset, non-0 status */
    _Atomic uint64_t forward_metrics_sent;     /* metrics in calls that succeeded */
    _Atomic uint64_t forward_metrics_failed;   /* metrics in calls that failed */
    _Atomic uint64_t forward_metrics_dropped;  /* never sent: queue full, over a size cap, unencodable */
    _Atomic uint64_t forward_duration_ns_last, forward_duration_ns_total;
    /* imports, global side (forward/import_server.c, aggregate/worker.c) */
    _Atomic uint64_t import_calls;             /* SendMetrics/SendMetricsV2 calls answered */
    _Atomic uint64_t import_call_errors;       /* calls answered with a non-0 grpc-status */
    _Atomic uint64_t import_metrics_received;  /* metrics decoded and handed to workers */
    _Atomic uint64_t import_metrics_rejected;  /* metrics refused (bad protobuf, Local scope, no value, ...) */
    _Atomic uint64_t import_metrics_dropped;   /* worker import queue full */
    _Atomic uint64_t import_metrics_applied;   /* merged into a series by a worker */
    _Atomic uint64_t import_metrics_failed;    /* not merged: series cap, HLL precision mismatch */
    _Atomic uint64_t grpc_connections_total;   /* HTTP/2 connections accepted on grpc_address */
} vn_stats_t;

static inline void vn_stats_add(_Atomic uint64_t *c, uint64_t n)
{
    if (n)
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t vn_stats_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

void vn_stats_init(vn_stats_t *s);

/**
 * Renders Prometheus text exposition (names veneur_*) into buf. Returns the
 * full length needed; output is truncated (not terminated) when cap is short.
 */
size_t vn_stats_render_prometheus(const vn_stats_t *s, char *buf, size_t cap);

#endif
