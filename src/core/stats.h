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

#include <pthread.h>

#include "core/parse_err.h"

#define VN_STATS_OVERFLOW_NAMES 32

typedef enum vn_proto {
    VN_PROTO_UDP = 0,
    VN_PROTO_TCP,
    VN_PROTO_UNIXGRAM,
    VN_PROTO_UNIX,
    VN_PROTO_GRPC,
    VN_PROTO__COUNT
} vn_proto_t;

#define VN_STATS_MAX_SINKS 16

typedef struct vn_stats_sink {
    const char *name; /* borrowed from the sink; set once at start-up */
    const char *kind;
    _Atomic uint64_t flushed;  /* metrics handed to the sink */
    _Atomic uint64_t errors;   /* failed flush calls */
    _Atomic uint64_t last_duration_ns;
    /* Delivery counters kept by sinks that talk to a remote end (kafka, cortex),
     * written by the sink itself through vn_sink_t.stats (sinks/sink.h). */
    _Atomic uint64_t delivered;        /* metrics the remote end accepted (Kafka delivery report, HTTP 2xx) */
    _Atomic uint64_t delivery_failed;  /* metrics whose delivery failed for good (after any retries) */
    _Atomic uint64_t dropped;          /* metrics never sent: local queue full, unencodable, over a cap */
    _Atomic uint64_t transport_errors; /* connect/broker errors and retryable responses (429, 5xx), per attempt */
    /* Payload counters of the per-sink HTTP delivery queue (sinks/delivery.c:
     * datadog, signalfx). A payload is one request body; written by the flush
     * and delivery threads once the flusher has set vn_sink_t.stats. */
    _Atomic uint64_t payloads_sent;              /* accepted by the server (2xx) */
    _Atomic uint64_t payloads_retried;           /* transient failure (connect, timeout, 408, 429, 5xx), sent again */
    _Atomic uint64_t payloads_dropped_full;      /* evicted oldest-first, or refused, by max_queue_bytes */
    _Atomic uint64_t payloads_dropped_permanent; /* rejected: 4xx other than 408/429, or an unusable URL */
    _Atomic uint64_t payloads_dropped_expired;   /* older than the age limit before they got through */
    _Atomic uint64_t payloads_dropped_shutdown;  /* still queued when the shutdown grace period ended */
    _Atomic uint64_t payload_bytes_sent;         /* body bytes (as sent, compressed) of accepted payloads */
    _Atomic uint64_t queue_payloads;             /* gauge: payloads held (waiting + in flight) */
    _Atomic uint64_t queue_bytes;                /* gauge: body bytes held */
    /* Sink routing (flush/routing.h), Go's flushed_metrics{status} and
     * dropped_metrics{reason}; written by the sink's runner thread, zero
     * while features.enable_metric_sink_routing is off. */
    _Atomic uint64_t route_skipped;         /* status:skipped, not routed to this sink */
    _Atomic uint64_t route_max_name_length; /* status:max_name_length */
    _Atomic uint64_t route_max_tags;        /* status:max_tags */
    _Atomic uint64_t route_max_tag_length;  /* status:max_tag_length */
    _Atomic uint64_t route_flushed;         /* status:flushed */
    _Atomic uint64_t route_dropped_max_name_length; /* dropped_metrics reason:max_name_length */
    _Atomic uint64_t route_dropped_max_tags;        /* reason:max_tags */
    _Atomic uint64_t route_dropped_max_tag_length;  /* reason:max_tag_length */
} vn_stats_sink_t;

/* One span sink's counters (spansinks/runner.h): the runner writes queued..flushes, the sink
 * itself (through vn_span_sink_t.stats) writes delivered and delivery_failed. */
typedef struct vn_stats_span_sink {
    const char *name; /* borrowed from the sink; set once at start-up */
    const char *kind;
    _Atomic uint64_t queued;          /* spans copied into the sink's queue */
    _Atomic uint64_t queue_dropped;   /* spans lost because the sink's queue was full */
    _Atomic uint64_t ingested;        /* spans the sink took (buffered or sent) */
    _Atomic uint64_t skipped;         /* spans not for this sink: invalid trace, sampled out */
    _Atomic uint64_t dropped;         /* spans the sink wanted but lost before sending (its buffer full, unencodable) */
    _Atomic uint64_t delivered;       /* spans the remote end accepted */
    _Atomic uint64_t delivery_failed; /* spans whose delivery failed for good */
    _Atomic uint64_t flushes;
    _Atomic uint64_t last_flush_ns;   /* duration of the last flush call */
    _Atomic uint64_t queue_bytes;     /* gauge: bytes waiting in the sink's queue */
} vn_stats_span_sink_t;

/* Go's forward.error_total causes (flusher.go): the flush deadline passed; the connection
 * was refused, lost or never up (grpc-go's TransientFailure / "transport is closing");
 * anything else (an error status, a protocol error). */
enum { VN_FWD_CAUSE_DEADLINE = 0, VN_FWD_CAUSE_UNAVAILABLE = 1, VN_FWD_CAUSE_SEND = 2 };

typedef struct vn_stats {
    _Atomic uint64_t packets[VN_PROTO__COUNT];      /* datagrams, or lines for streams */
    _Atomic uint64_t bytes[VN_PROTO__COUNT];
    _Atomic uint64_t lines;                         /* non-empty lines seen */
    _Atomic uint64_t samples;                       /* samples handed to workers */
    _Atomic uint64_t parse_errors[VN_PARSE_ERR__COUNT];
    _Atomic uint64_t packet_too_long;               /* datagrams over metric_max_length */
    _Atomic uint64_t ignored_sections;              /* docs/behaviour.md 0.3 */
    _Atomic uint64_t queue_dropped_samples;         /* worker ring full */
    _Atomic uint64_t series_dropped_samples;        /* cardinality cap or series byte budget reached */
    _Atomic uint64_t series_dropped_bytes;          /* of those: refused by the series byte budget */
    _Atomic uint64_t events_received, events_dropped;
    _Atomic uint64_t events_dropped_bytes;          /* of events_dropped: refused by the byte budget */
    _Atomic uint64_t service_checks;
    _Atomic uint64_t tcp_connects, tcp_disconnects, tls_handshake_failures, tcp_conn_rejected;
    /* stream listeners (listen/stream.c): limits under attack */
    _Atomic uint64_t stream_evictions;           /* connections closed to admit a new one (global/per-peer cap) */
    _Atomic uint64_t stream_handshake_timeouts;  /* TLS handshakes not finished within the deadline */
    _Atomic uint64_t stream_accept_backoffs;     /* listener pauses after accept errors (EMFILE, ...) */
    _Atomic uint64_t stream_buffer_budget_drops; /* connections closed: half-line buffer budget exhausted */
    _Atomic uint64_t flushes;
    _Atomic uint64_t flush_duration_ns_last, flush_duration_ns_total;
    _Atomic uint64_t series_last_flush;             /* series held at the last flush */
    _Atomic uint64_t metrics_flushed_total;
    _Atomic uint64_t flush_lateness_ns_last;        /* how late the last tick started */
    size_t n_sinks;
    vn_stats_sink_t sinks[VN_STATS_MAX_SINKS];
    size_t n_span_sinks;
    vn_stats_span_sink_t span_sinks[VN_STATS_MAX_SINKS];
    /* forwarding, local side (forward/forwarder.c): one SendMetricsV2 call per interval */
    _Atomic uint64_t forward_calls;            /* calls that ended with grpc-status 0 */
    _Atomic uint64_t forward_failures;         /* calls that failed: connect, deadline, reset, non-0 status */
    _Atomic uint64_t forward_failovers;        /* switches to the next forward_address entry (issue 16) */
    _Atomic uint64_t forward_metrics_sent;     /* metrics in calls that succeeded */
    _Atomic uint64_t forward_metrics_failed;   /* metrics in calls that failed */
    _Atomic uint64_t forward_metrics_dropped;  /* never sent: queue full, over a size cap, unencodable */
    _Atomic uint64_t forward_duration_ns_last, forward_duration_ns_total;
    /* forward_failures split by Go's forward.error_total cause tag (VN_FWD_CAUSE_*); self-metrics only */
    _Atomic uint64_t forward_failures_by_cause[3];
    /* stats_address datagrams the self-metrics sender dropped (send failed); copied after each report */
    _Atomic uint64_t self_metrics_dropped;
    /* imports, global side (forward/import_server.c, aggregate/worker.c) */
    _Atomic uint64_t import_calls;             /* SendMetrics/SendMetricsV2 calls answered */
    _Atomic uint64_t import_call_errors;       /* calls answered with a non-0 grpc-status */
    _Atomic uint64_t import_metrics_received;  /* metrics decoded and handed to workers */
    _Atomic uint64_t import_metrics_rejected;  /* metrics refused (bad protobuf, Local scope, no value, ...) */
    _Atomic uint64_t import_metrics_dropped;   /* worker import queue full */
    _Atomic uint64_t import_metrics_late;      /* tagged with an interval already flushed (issue 16) */
    _Atomic uint64_t import_metrics_applied;   /* merged into a series by a worker */
    _Atomic uint64_t import_metrics_failed;    /* not merged: series cap, HLL precision mismatch */
    _Atomic uint64_t grpc_connections_total;   /* HTTP/2 connections accepted on grpc_address */
    /* gRPC server limits (forward/h2_server.h, issues 14/15) */
    _Atomic uint64_t grpc_accept_paused;       /* listener paused: accept failed with EMFILE, ENFILE, ... */
    _Atomic uint64_t grpc_connections_refused; /* newcomers refused: limit reached, every candidate busy */
    _Atomic uint64_t grpc_connections_evicted; /* idle connections closed to admit a newcomer */
    _Atomic uint64_t grpc_handshake_timeouts;  /* closed: no preface + SETTINGS in time */
    _Atomic uint64_t grpc_reassembly_refused;  /* calls ended RESOURCE_EXHAUSTED by a reassembly budget */
    _Atomic uint64_t grpc_body_timeouts;       /* calls ended: a split message did not complete in time */
    /* gRPC connection lifecycle (forward/h2_server.h, issue 21) */
    _Atomic uint64_t grpc_tls_handshake_failures; /* TLS handshakes failed: no or bad client certificate, not TLS */
    _Atomic uint64_t grpc_max_age_goaways;     /* connections told to go (GOAWAY) at max_connection_age */
    _Atomic uint64_t grpc_max_age_closes;      /* still open at max_connection_age + grace: closed */
    _Atomic uint64_t grpc_keepalive_timeouts;  /* closed: a keepalive PING got no answer in time */
    /* gRPC ingest on grpc_listen_addresses (forward/grpc_ingest.c, issue 21); SendPacket packets
     * count in packets/bytes[VN_PROTO_GRPC], over-long ones in packet_too_long */
    _Atomic uint64_t grpc_ingest_calls;         /* SendPacket, SendSpan, Health/Check calls answered */
    _Atomic uint64_t grpc_ingest_call_errors;   /* of those, answered with a non-0 grpc-status */
    _Atomic uint64_t grpc_ingest_spans;         /* SendSpan spans queued for the span workers */
    _Atomic uint64_t grpc_ingest_spans_refused; /* SendSpan spans not queued: too long, queue full, stopping */
    /* SSF span ingest (ssf/server.c, ssf/convert.c; Go ssf.* self-metrics, docs/internals/ssf.md) */
    _Atomic uint64_t ssf_packets;            /* UDP datagrams read */
    _Atomic uint64_t ssf_frames;             /* stream frames read */
    _Atomic uint64_t ssf_bytes;              /* span bytes read (datagrams and frame bodies) */
    _Atomic uint64_t ssf_spans_received;     /* decoded spans (Go ssf.spans.received_total) */
    _Atomic uint64_t ssf_root_spans_received; /* of those, id == trace_id (Go ssf.spans.root.received_total) */
    _Atomic uint64_t ssf_spans_dropped;      /* span queue (span_channel_capacity) full */
    _Atomic uint64_t ssf_errors_zerolength;  /* empty datagrams (Go reason:zerolength) */
    _Atomic uint64_t ssf_errors_decode;      /* not an SSFSpan protobuf, or larger than the decode arena */
    _Atomic uint64_t ssf_errors_empty_id;    /* decoded span with id 0 (Go reason:empty_id; still processed) */
    _Atomic uint64_t ssf_packet_too_long;    /* datagrams over trace_max_length_bytes */
    _Atomic uint64_t ssf_frame_errors;       /* streams closed on a framing error (version, length) */
    _Atomic uint64_t ssf_spans_empty;        /* neither a valid trace nor metrics: no span sink gets it (Go worker.ssf.empty_total) */
    _Atomic uint64_t ssf_samples_invalid;    /* samples not converted (Go reason:invalid_metrics) */
    _Atomic uint64_t ssf_metrics_generated;  /* metrics derived from spans (Go metrics_flushed_total, metric_extraction) */
    _Atomic uint64_t ssf_conns_accepted, ssf_conns_rejected, ssf_conns_evicted, ssf_accept_backoffs;
    _Atomic uint64_t ssf_conns_idle_closed;  /* unix stream connections silent for VN_SSF_IDLE_TIMEOUT_MS */
    /* metric sources (src/sources/: `sources` entries, all sources together) */
    _Atomic uint64_t source_scrapes;           /* scrapes fetched and parsed */
    _Atomic uint64_t source_scrape_failures;   /* no usable response: connect, timeout, non-200 status */
    _Atomic uint64_t source_scrapes_too_large; /* dropped whole: body over max_body_bytes or series over max_series */
    _Atomic uint64_t source_parse_errors;      /* dropped whole: not a valid text exposition */
    _Atomic uint64_t source_samples;           /* samples handed to the workers */
    _Atomic uint64_t source_samples_dropped;   /* refused by ingest (worker queue full, key too long) */
    _Atomic uint64_t source_samples_invalid;   /* not sent: non-finite gauge value, more labels than a series holds */
    _Atomic uint64_t source_families_filtered; /* families skipped by allowlist/denylist */
    _Atomic uint64_t source_tags_sanitized;    /* label values with ',', NUL or newline rewritten */
    /* OTLP metric ingest (otlp/server.c, otlp/convert.h; docs/otlp.md) */
    _Atomic uint64_t otlp_requests;          /* export requests decoded */
    _Atomic uint64_t otlp_requests_refused;  /* not decoded: bad body, too large, bad gzip, spans/logs, wrong type */
    _Atomic uint64_t otlp_points;            /* data points read */
    _Atomic uint64_t otlp_samples;           /* samples handed to the workers */
    _Atomic uint64_t otlp_points_rejected;   /* data points refused (partial success), cumulative table full included */
    _Atomic uint64_t otlp_trace_requests;    /* OTLP trace export requests decoded (otlp/trace.h) */
    _Atomic uint64_t otlp_spans;             /* OTLP spans queued for the span workers */
    _Atomic uint64_t otlp_spans_refused;     /* OTLP spans refused: bad ids, too large, span queue full, stopping */
    _Atomic uint64_t otlp_points_baseline;   /* first cumulative points that only set a baseline */
    /* Samples refused by the series cap, per metric name (first VN_STATS_OVERFLOW_NAMES names,
     * then name "" for all others). Written by the flusher under overflow_mu, read by /metrics. */
    pthread_mutex_t overflow_mu;
    size_t n_overflow;
    struct {
        char name[96];
        uint64_t samples;
    } overflow[VN_STATS_OVERFLOW_NAMES + 1];
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

/** Adds n refused samples for a metric name (copied, truncated to 95 bytes). Thread-safe. */
void vn_stats_note_overflow(vn_stats_t *s, const char *name, uint64_t n);

/**
 * Renders Prometheus text exposition (names veneur_*) into buf. Returns the
 * full length needed; output is truncated (not terminated) when cap is short.
 */
size_t vn_stats_render_prometheus(const vn_stats_t *s, char *buf, size_t cap);

#endif
