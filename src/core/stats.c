/* stats.c - self-metric rendering in Prometheus text format (version 0.0.4). */
#include "core/stats.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* "dogstatsd-udp", ... (Go's listen.received_per_protocol_total tag values). */
static const char *proto_name(vn_proto_t p)
{
    switch (p) {
    case VN_PROTO_UDP: return "dogstatsd-udp";
    case VN_PROTO_TCP: return "dogstatsd-tcp";
    case VN_PROTO_UNIXGRAM: return "dogstatsd-unixgram";
    case VN_PROTO_UNIX: return "dogstatsd-unix";
    case VN_PROTO_GRPC: return "dogstatsd-grpc";
    case VN_PROTO__COUNT: break;
    }
    return "unknown";
}

void vn_stats_init(vn_stats_t *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->overflow_mu, NULL);
}

void vn_stats_note_overflow(vn_stats_t *s, const char *name, uint64_t n)
{
    pthread_mutex_lock(&s->overflow_mu);
    size_t i;
    for (i = 0; i < s->n_overflow; i++)
        if (strncmp(s->overflow[i].name, name, sizeof s->overflow[i].name - 1) == 0)
            break;
    if (i == s->n_overflow) {
        if (s->n_overflow < VN_STATS_OVERFLOW_NAMES && name[0]) {
            snprintf(s->overflow[i].name, sizeof s->overflow[i].name, "%s", name);
            s->n_overflow++;
        } else {
            i = VN_STATS_OVERFLOW_NAMES; /* the catch-all entry, name "" */
        }
    }
    s->overflow[i].samples += n;
    pthread_mutex_unlock(&s->overflow_mu);
}

/* Prometheus label value escaping: backslash, double quote and newline. */
static void label_value(char *dst, size_t cap, const char *v)
{
    size_t j = 0;
    for (; *v && j + 3 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            dst[j++] = '\\';
            dst[j++] = *v;
        } else if (*v == '\n') {
            dst[j++] = '\\';
            dst[j++] = 'n';
        } else {
            dst[j++] = *v;
        }
    }
    dst[j] = '\0';
}

typedef struct out {
    char *buf;
    size_t cap, len;
} out_t;

__attribute__((format(printf, 2, 3))) static void emit(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void counter(out_t *o, const char *name, const char *help, uint64_t v)
{
    emit(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void gauge(out_t *o, const char *name, const char *help, double v)
{
    emit(o, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

/* One per-sink counter family; field is the offset of an _Atomic uint64_t in vn_stats_sink_t. */
static void sink_counter(out_t *o, const vn_stats_t *s, const char *name, const char *help, size_t field)
{
    emit(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < s->n_sinks; i++) {
        const _Atomic uint64_t *c = (const _Atomic uint64_t *)(const void *)((const char *)&s->sinks[i] + field);
        emit(o, "%s{sink_name=\"%s\",sink_kind=\"%s\"} %llu\n", name, s->sinks[i].name, s->sinks[i].kind,
             (unsigned long long)vn_stats_get(c));
    }
}

/* One labelled family over every sink: label=value for each (value, field). */
typedef struct labelled {
    const char *value;
    size_t field;
} labelled_t;

static void sink_labelled(out_t *o, const vn_stats_t *s, const char *name, const char *help, const char *label,
                          const labelled_t *l, size_t nl)
{
    emit(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < s->n_sinks; i++)
        for (size_t k = 0; k < nl; k++) {
            const _Atomic uint64_t *c = (const _Atomic uint64_t *)(const void *)((const char *)&s->sinks[i] + l[k].field);
            emit(o, "%s{sink_name=\"%s\",sink_kind=\"%s\",%s=\"%s\"} %llu\n", name, s->sinks[i].name,
                 s->sinks[i].kind, label, l[k].value, (unsigned long long)vn_stats_get(c));
        }
}

/* Go's flushed_metrics{status} / dropped_metrics{reason} of sink routing. */
static void sink_routing(out_t *o, const vn_stats_t *s)
{
    static const labelled_t status[] = {
        {"skipped", offsetof(vn_stats_sink_t, route_skipped)},
        {"max_name_length", offsetof(vn_stats_sink_t, route_max_name_length)},
        {"max_tags", offsetof(vn_stats_sink_t, route_max_tags)},
        {"max_tag_length", offsetof(vn_stats_sink_t, route_max_tag_length)},
        {"flushed", offsetof(vn_stats_sink_t, route_flushed)},
    };
    static const labelled_t reason[] = {
        {"max_name_length", offsetof(vn_stats_sink_t, route_dropped_max_name_length)},
        {"max_tags", offsetof(vn_stats_sink_t, route_dropped_max_tags)},
        {"max_tag_length", offsetof(vn_stats_sink_t, route_dropped_max_tag_length)},
    };
    sink_labelled(o, s, "veneur_flushed_metrics_total",
                  "Sink routing (Go's flushed_metrics): metrics per sink by status (skipped, limits, flushed).",
                  "status", status, sizeof status / sizeof status[0]);
    sink_labelled(o, s, "veneur_dropped_metrics_total",
                  "Sink routing (Go's dropped_metrics): metrics a sink's limits dropped, by reason.", "reason", reason,
                  sizeof reason / sizeof reason[0]);
}

/* Payload counters of the sinks' HTTP delivery queues (sinks/delivery.c; zero
 * for sinks without one). Drops are one family with a reason label. */
static void sink_payloads(out_t *o, const vn_stats_t *s)
{
    sink_counter(o, s, "veneur_sink_payloads_sent_total", "Request bodies the sink's server accepted (2xx).",
                 offsetof(vn_stats_sink_t, payloads_sent));
    sink_counter(o, s, "veneur_sink_payloads_retried_total",
                 "Request bodies that failed transiently (connect, timeout, 408, 429, 5xx) and were sent again.",
                 offsetof(vn_stats_sink_t, payloads_retried));
    sink_counter(o, s, "veneur_sink_payload_bytes_sent_total", "Body bytes (as sent) of accepted request bodies.",
                 offsetof(vn_stats_sink_t, payload_bytes_sent));
    static const struct {
        const char *reason;
        size_t field;
    } drops[] = {
        {"full", offsetof(vn_stats_sink_t, payloads_dropped_full)},
        {"permanent", offsetof(vn_stats_sink_t, payloads_dropped_permanent)},
        {"expired", offsetof(vn_stats_sink_t, payloads_dropped_expired)},
        {"shutdown", offsetof(vn_stats_sink_t, payloads_dropped_shutdown)},
    };
    emit(o, "# HELP veneur_sink_payloads_dropped_total Request bodies dropped, by reason.\n"
            "# TYPE veneur_sink_payloads_dropped_total counter\n");
    for (size_t i = 0; i < s->n_sinks; i++)
        for (size_t r = 0; r < sizeof drops / sizeof drops[0]; r++) {
            const _Atomic uint64_t *c =
                (const _Atomic uint64_t *)(const void *)((const char *)&s->sinks[i] + drops[r].field);
            emit(o, "veneur_sink_payloads_dropped_total{sink_name=\"%s\",sink_kind=\"%s\",reason=\"%s\"} %llu\n",
                 s->sinks[i].name, s->sinks[i].kind, drops[r].reason, (unsigned long long)vn_stats_get(c));
        }
    emit(o, "# HELP veneur_sink_queue_payloads Request bodies held by the sink's delivery queue.\n"
            "# TYPE veneur_sink_queue_payloads gauge\n");
    for (size_t i = 0; i < s->n_sinks; i++)
        emit(o, "veneur_sink_queue_payloads{sink_name=\"%s\",sink_kind=\"%s\"} %llu\n", s->sinks[i].name,
             s->sinks[i].kind, (unsigned long long)vn_stats_get(&s->sinks[i].queue_payloads));
    emit(o, "# HELP veneur_sink_queue_bytes Body bytes held by the sink's delivery queue.\n"
            "# TYPE veneur_sink_queue_bytes gauge\n");
    for (size_t i = 0; i < s->n_sinks; i++)
        emit(o, "veneur_sink_queue_bytes{sink_name=\"%s\",sink_kind=\"%s\"} %llu\n", s->sinks[i].name,
             s->sinks[i].kind, (unsigned long long)vn_stats_get(&s->sinks[i].queue_bytes));
}

/* One per-span-sink family; field is the offset of an _Atomic uint64_t in vn_stats_span_sink_t. */
static void span_sink_family(out_t *o, const vn_stats_t *s, const char *name, const char *type, const char *help,
                             size_t field)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < s->n_span_sinks && i < VN_STATS_MAX_SINKS; i++) {
        const _Atomic uint64_t *c =
            (const _Atomic uint64_t *)(const void *)((const char *)&s->span_sinks[i] + field);
        emit(o, "%s{sink_name=\"%s\",sink_kind=\"%s\"} %llu\n", name, s->span_sinks[i].name,
             s->span_sinks[i].kind, (unsigned long long)vn_stats_get(c));
    }
}

/* Span sinks (spansinks/runner.h): what each took, skipped, lost and delivered. */
static void span_sinks(out_t *o, const vn_stats_t *s)
{
    static const struct {
        const char *name, *type, *help;
        size_t field;
    } fams[] = {
        {"veneur_span_sink_spans_queued_total", "counter", "Spans copied into the span sink's queue.",
         offsetof(vn_stats_span_sink_t, queued)},
        {"veneur_span_sink_spans_queue_dropped_total", "counter",
         "Spans lost because the span sink's queue was full (a slow or dead sink).",
         offsetof(vn_stats_span_sink_t, queue_dropped)},
        {"veneur_span_sink_spans_ingested_total", "counter", "Spans the span sink took.",
         offsetof(vn_stats_span_sink_t, ingested)},
        {"veneur_span_sink_spans_skipped_total", "counter",
         "Spans not for the span sink: invalid trace, sampled out (Go sink.spans_skipped_total).",
         offsetof(vn_stats_span_sink_t, skipped)},
        {"veneur_span_sink_spans_dropped_total", "counter",
         "Spans the span sink lost before sending: its buffer full, unencodable (Go sink.spans_dropped_total).",
         offsetof(vn_stats_span_sink_t, dropped)},
        {"veneur_span_sink_spans_flushed_total", "counter",
         "Spans the span sink's remote end accepted (Go sink.spans_flushed_total).",
         offsetof(vn_stats_span_sink_t, delivered)},
        {"veneur_span_sink_spans_delivery_failed_total", "counter", "Spans whose delivery failed for good.",
         offsetof(vn_stats_span_sink_t, delivery_failed)},
        {"veneur_span_sink_flushes_total", "counter", "Flush calls of the span sink.",
         offsetof(vn_stats_span_sink_t, flushes)},
        {"veneur_span_sink_flush_duration_ns_last", "gauge", "Duration of the span sink's last flush call.",
         offsetof(vn_stats_span_sink_t, last_flush_ns)},
        {"veneur_span_sink_queue_bytes", "gauge", "Bytes of spans waiting in the span sink's queue.",
         offsetof(vn_stats_span_sink_t, queue_bytes)},
    };
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++)
        span_sink_family(o, s, fams[f].name, fams[f].type, fams[f].help, fams[f].field);
}

size_t vn_stats_render_prometheus(const vn_stats_t *s, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0};
    emit(&o, "# HELP veneur_packets_received_total Datagrams (or stream lines) received, by protocol.\n"
             "# TYPE veneur_packets_received_total counter\n");
    for (int p = 0; p < VN_PROTO__COUNT; p++)
        emit(&o, "veneur_packets_received_total{protocol=\"%s\"} %llu\n", proto_name((vn_proto_t)p),
             (unsigned long long)vn_stats_get(&s->packets[p]));
    emit(&o, "# HELP veneur_bytes_received_total Bytes received, by protocol.\n"
             "# TYPE veneur_bytes_received_total counter\n");
    for (int p = 0; p < VN_PROTO__COUNT; p++)
        emit(&o, "veneur_bytes_received_total{protocol=\"%s\"} %llu\n", proto_name((vn_proto_t)p),
             (unsigned long long)vn_stats_get(&s->bytes[p]));
    counter(&o, "veneur_lines_received_total", "Non-empty statsd lines received.", vn_stats_get(&s->lines));
    counter(&o, "veneur_log_suppressed_total", "Log lines dropped by the per-call-site rate limit (core/log.h).",
            vn_log_suppressed_total());
    counter(&o, "veneur_samples_processed_total", "Samples handed to aggregation workers.",
            vn_stats_get(&s->samples));
    emit(&o, "# HELP veneur_packet_error_total Lines rejected, by reason.\n"
             "# TYPE veneur_packet_error_total counter\n");
    for (int e = 1; e < VN_PARSE_ERR__COUNT; e++)
        emit(&o, "veneur_packet_error_total{reason=\"%s\"} %llu\n", vn_parse_err_reason((vn_parse_err_t)e),
             (unsigned long long)vn_stats_get(&s->parse_errors[e]));
    emit(&o, "veneur_packet_error_total{reason=\"toolong\"} %llu\n",
         (unsigned long long)vn_stats_get(&s->packet_too_long));
    counter(&o, "veneur_packet_ignored_section_total", "DogStatsD 1.1+ sections ignored.",
            vn_stats_get(&s->ignored_sections));
    counter(&o, "veneur_worker_queue_dropped_total", "Samples dropped because a worker queue was full.",
            vn_stats_get(&s->queue_dropped_samples));
    counter(&o, "veneur_series_dropped_total",
            "Samples dropped by the per-interval series cap or series byte budget.",
            vn_stats_get(&s->series_dropped_samples));
    counter(&o, "veneur_series_dropped_byte_budget_total",
            "Samples dropped because their new series (or service-check strings) would pass the per-interval "
            "series byte budget.",
            vn_stats_get(&s->series_dropped_bytes));
    emit(&o, "# HELP veneur_series_dropped_by_name_total Samples refused by the series cap, by metric name "
             "(\"\" = every name past the first %d).\n# TYPE veneur_series_dropped_by_name_total counter\n",
         VN_STATS_OVERFLOW_NAMES);
    pthread_mutex_lock((pthread_mutex_t *)&s->overflow_mu);
    for (size_t i = 0; i <= VN_STATS_OVERFLOW_NAMES; i++) {
        if (i >= s->n_overflow && i != VN_STATS_OVERFLOW_NAMES)
            continue;
        if (i == VN_STATS_OVERFLOW_NAMES && s->overflow[i].samples == 0)
            continue;
        char esc[200];
        label_value(esc, sizeof esc, s->overflow[i].name);
        emit(&o, "veneur_series_dropped_by_name_total{metric_name=\"%s\"} %llu\n", esc,
             (unsigned long long)s->overflow[i].samples);
    }
    pthread_mutex_unlock((pthread_mutex_t *)&s->overflow_mu);
    counter(&o, "veneur_events_received_total", "DogStatsD events received.", vn_stats_get(&s->events_received));
    counter(&o, "veneur_events_dropped_total", "Events dropped over the per-interval count cap or byte budget.",
            vn_stats_get(&s->events_dropped));
    counter(&o, "veneur_events_dropped_byte_budget_total", "Events dropped over the per-interval byte budget.",
            vn_stats_get(&s->events_dropped_bytes));
    counter(&o, "veneur_service_checks_received_total", "Service checks received.",
            vn_stats_get(&s->service_checks));
    counter(&o, "veneur_tcp_connects_total", "Stream connections accepted.", vn_stats_get(&s->tcp_connects));
    counter(&o, "veneur_tcp_disconnects_total", "Stream connections closed.", vn_stats_get(&s->tcp_disconnects));
    counter(&o, "veneur_tcp_tls_handshake_failures_total", "TLS handshakes that failed.",
            vn_stats_get(&s->tls_handshake_failures));
    counter(&o, "veneur_tcp_rejected_total", "Stream connections refused over the connection cap.",
            vn_stats_get(&s->tcp_conn_rejected));
    counter(&o, "veneur_stream_evictions_total", "Stream connections closed to admit a new one at a connection cap.",
            vn_stats_get(&s->stream_evictions));
    counter(&o, "veneur_stream_handshake_timeouts_total", "TLS stream connections closed by the handshake deadline.",
            vn_stats_get(&s->stream_handshake_timeouts));
    counter(&o, "veneur_stream_accept_backoffs_total", "Stream listener pauses after accept errors (EMFILE, ...).",
            vn_stats_get(&s->stream_accept_backoffs));
    counter(&o, "veneur_stream_buffer_budget_drops_total",
            "Stream connections closed because half-line buffers hit their byte budget.",
            vn_stats_get(&s->stream_buffer_budget_drops));
    counter(&o, "veneur_flushes_total", "Flushes completed.", vn_stats_get(&s->flushes));
    gauge(&o, "veneur_flush_duration_seconds", "Duration of the last flush.",
          (double)vn_stats_get(&s->flush_duration_ns_last) / 1e9);
    counter(&o, "veneur_flush_duration_seconds_total", "Total time spent flushing (ns precision).",
            vn_stats_get(&s->flush_duration_ns_total) / 1000000000ull);
    gauge(&o, "veneur_flush_lateness_seconds", "How late the last flush tick started.",
          (double)vn_stats_get(&s->flush_lateness_ns_last) / 1e9);
    gauge(&o, "veneur_series", "Series held at the last flush.", (double)vn_stats_get(&s->series_last_flush));
    counter(&o, "veneur_metrics_flushed_total", "Metrics produced by flushes.",
            vn_stats_get(&s->metrics_flushed_total));
    if (s->n_sinks) {
        emit(&o, "# HELP veneur_sink_metrics_flushed_total Metrics handed to each sink.\n"
                 "# TYPE veneur_sink_metrics_flushed_total counter\n");
        for (size_t i = 0; i < s->n_sinks; i++)
            emit(&o, "veneur_sink_metrics_flushed_total{sink_name=\"%s\",sink_kind=\"%s\"} %llu\n", s->sinks[i].name,
                 s->sinks[i].kind, (unsigned long long)vn_stats_get(&s->sinks[i].flushed));
        emit(&o, "# HELP veneur_sink_flush_errors_total Failed sink flushes.\n"
                 "# TYPE veneur_sink_flush_errors_total counter\n");
        for (size_t i = 0; i < s->n_sinks; i++)
            emit(&o, "veneur_sink_flush_errors_total{sink_name=\"%s\",sink_kind=\"%s\"} %llu\n", s->sinks[i].name,
                 s->sinks[i].kind, (unsigned long long)vn_stats_get(&s->sinks[i].errors));
        emit(&o, "# HELP veneur_sink_flush_duration_seconds Duration of each sink's last flush.\n"
                 "# TYPE veneur_sink_flush_duration_seconds gauge\n");
        for (size_t i = 0; i < s->n_sinks; i++)
            emit(&o, "veneur_sink_flush_duration_seconds{sink_name=\"%s\",sink_kind=\"%s\"} %.9f\n", s->sinks[i].name,
                 s->sinks[i].kind, (double)vn_stats_get(&s->sinks[i].last_duration_ns) / 1e9);
        sink_counter(&o, s, "veneur_sink_metrics_delivered_total", "Metrics the sink's remote end accepted.",
                     offsetof(vn_stats_sink_t, delivered));
        sink_counter(&o, s, "veneur_sink_metrics_delivery_failed_total",
                     "Metrics whose delivery failed for good (after retries).",
                     offsetof(vn_stats_sink_t, delivery_failed));
        sink_counter(&o, s, "veneur_sink_metrics_dropped_total",
                     "Metrics a sink never sent (local queue full, unencodable, over a cap).",
                     offsetof(vn_stats_sink_t, dropped));
        sink_counter(&o, s, "veneur_sink_transport_errors_total",
                     "Connection or broker errors and retryable responses, per attempt.",
                     offsetof(vn_stats_sink_t, transport_errors));
        sink_payloads(&o, s);
        sink_routing(&o, s);
    }
    counter(&o, "veneur_forward_calls_total", "SendMetricsV2 calls to forward_address that succeeded.",
            vn_stats_get(&s->forward_calls));
    counter(&o, "veneur_forward_errors_total", "SendMetricsV2 calls to forward_address that failed.",
            vn_stats_get(&s->forward_failures));
    counter(&o, "veneur_forward_failovers_total",
            "Times the forwarder moved to the next forward_address entry after a failed call.",
            vn_stats_get(&s->forward_failovers));
    counter(&o, "veneur_forward_metrics_sent_total", "Metrics forwarded in calls that succeeded.",
            vn_stats_get(&s->forward_metrics_sent));
    counter(&o, "veneur_forward_metrics_failed_total", "Metrics in forwarding calls that failed.",
            vn_stats_get(&s->forward_metrics_failed));
    counter(&o, "veneur_forward_metrics_dropped_total", "Forwardable metrics never sent (queue full or too large).",
            vn_stats_get(&s->forward_metrics_dropped));
    gauge(&o, "veneur_forward_duration_seconds", "Duration of the last forwarding call.",
          (double)vn_stats_get(&s->forward_duration_ns_last) / 1e9);
    counter(&o, "veneur_forward_duration_seconds_total", "Total time spent forwarding (whole seconds).",
            vn_stats_get(&s->forward_duration_ns_total) / 1000000000ull);
    counter(&o, "veneur_import_calls_total", "SendMetrics/SendMetricsV2 calls answered on grpc_address.",
            vn_stats_get(&s->import_calls));
    counter(&o, "veneur_import_call_errors_total", "Import calls answered with a non-zero grpc-status.",
            vn_stats_get(&s->import_call_errors));
    counter(&o, "veneur_import_metrics_received_total", "Imported metrics decoded and handed to workers.",
            vn_stats_get(&s->import_metrics_received));
    counter(&o, "veneur_import_metrics_rejected_total", "Imported metrics refused as invalid.",
            vn_stats_get(&s->import_metrics_rejected));
    counter(&o, "veneur_import_metrics_dropped_total", "Imported metrics dropped because a worker queue was full.",
            vn_stats_get(&s->import_metrics_dropped));
    counter(&o, "veneur_import_metrics_applied_total", "Imported metrics merged into a series.",
            vn_stats_get(&s->import_metrics_applied));
    counter(&o, "veneur_import_metrics_late_total",
            "Imported metrics tagged with an interval this global had already flushed (merged into the current one).",
            vn_stats_get(&s->import_metrics_late));
    counter(&o, "veneur_import_metrics_failed_total", "Imported metrics a worker could not merge.",
            vn_stats_get(&s->import_metrics_failed));
    counter(&o, "veneur_self_metrics_dropped_total",
            "Self-metrics datagrams to stats_address that could not be sent (no listener, buffer full).",
            vn_stats_get(&s->self_metrics_dropped));
    counter(&o, "veneur_grpc_connections_total", "HTTP/2 connections accepted on grpc_address.",
            vn_stats_get(&s->grpc_connections_total));
    counter(&o, "veneur_grpc_accept_paused_total", "Times the gRPC listener paused because accept ran out of resources.",
            vn_stats_get(&s->grpc_accept_paused));
    counter(&o, "veneur_grpc_connections_refused_total", "gRPC connections refused at a connection limit.",
            vn_stats_get(&s->grpc_connections_refused));
    counter(&o, "veneur_grpc_connections_evicted_total", "Idle gRPC connections closed to admit a new one.",
            vn_stats_get(&s->grpc_connections_evicted));
    counter(&o, "veneur_grpc_handshake_timeouts_total", "gRPC connections closed without an HTTP/2 handshake in time.",
            vn_stats_get(&s->grpc_handshake_timeouts));
    counter(&o, "veneur_grpc_reassembly_refused_total", "gRPC calls ended by a message reassembly budget.",
            vn_stats_get(&s->grpc_reassembly_refused));
    counter(&o, "veneur_grpc_body_timeouts_total", "gRPC calls ended because a split message did not complete in time.",
            vn_stats_get(&s->grpc_body_timeouts));
    counter(&o, "veneur_grpc_tls_handshake_failures_total", "gRPC TLS handshakes that failed (e.g. no valid client certificate).",
            vn_stats_get(&s->grpc_tls_handshake_failures));
    counter(&o, "veneur_grpc_max_age_goaways_total", "gRPC connections sent GOAWAY at grpc_server.max_connection_age.",
            vn_stats_get(&s->grpc_max_age_goaways));
    counter(&o, "veneur_grpc_max_age_closes_total", "gRPC connections closed at max_connection_age plus its grace.",
            vn_stats_get(&s->grpc_max_age_closes));
    counter(&o, "veneur_grpc_keepalive_timeouts_total", "gRPC connections closed because a keepalive PING went unanswered.",
            vn_stats_get(&s->grpc_keepalive_timeouts));
    counter(&o, "veneur_grpc_ingest_calls_total",
            "SendPacket, SendSpan and Health/Check calls answered on grpc_listen_addresses.",
            vn_stats_get(&s->grpc_ingest_calls));
    counter(&o, "veneur_grpc_ingest_call_errors_total", "gRPC ingest calls answered with a non-0 grpc-status.",
            vn_stats_get(&s->grpc_ingest_call_errors));
    counter(&o, "veneur_grpc_ingest_spans_total", "SSFGRPC/SendSpan spans queued for the span workers.",
            vn_stats_get(&s->grpc_ingest_spans));
    counter(&o, "veneur_grpc_ingest_spans_refused_total",
            "SSFGRPC/SendSpan spans not queued: over trace_max_length_bytes, span queue full, or stopping.",
            vn_stats_get(&s->grpc_ingest_spans_refused));
    counter(&o, "veneur_ssf_packets_total", "SSF UDP datagrams read.", vn_stats_get(&s->ssf_packets));
    counter(&o, "veneur_ssf_frames_total", "SSF stream frames read.", vn_stats_get(&s->ssf_frames));
    counter(&o, "veneur_ssf_bytes_total", "SSF span bytes read.", vn_stats_get(&s->ssf_bytes));
    counter(&o, "veneur_ssf_spans_received_total", "SSF spans decoded (Go ssf.spans.received_total).",
            vn_stats_get(&s->ssf_spans_received));
    counter(&o, "veneur_ssf_spans_root_received_total", "Decoded SSF spans whose id is their trace id.",
            vn_stats_get(&s->ssf_root_spans_received));
    counter(&o, "veneur_ssf_spans_dropped_total", "SSF spans dropped: span queue full.",
            vn_stats_get(&s->ssf_spans_dropped));
    counter(&o, "veneur_ssf_errors_zerolength_total", "Empty SSF datagrams.", vn_stats_get(&s->ssf_errors_zerolength));
    counter(&o, "veneur_ssf_errors_decode_total", "SSF packets that are not an SSFSpan protobuf.",
            vn_stats_get(&s->ssf_errors_decode));
    counter(&o, "veneur_ssf_errors_empty_id_total", "SSF spans with id 0 (still processed).",
            vn_stats_get(&s->ssf_errors_empty_id));
    counter(&o, "veneur_ssf_packet_too_long_total", "SSF datagrams over trace_max_length_bytes.",
            vn_stats_get(&s->ssf_packet_too_long));
    counter(&o, "veneur_ssf_frame_errors_total", "SSF streams closed on a framing error.",
            vn_stats_get(&s->ssf_frame_errors));
    counter(&o, "veneur_ssf_samples_invalid_total", "SSF samples not converted to metrics.",
            vn_stats_get(&s->ssf_samples_invalid));
    counter(&o, "veneur_source_scrapes_total", "Source scrapes fetched and parsed.", vn_stats_get(&s->source_scrapes));
    counter(&o, "veneur_source_scrape_failures_total", "Source scrapes without a usable response.",
            vn_stats_get(&s->source_scrape_failures));
    counter(&o, "veneur_source_scrapes_too_large_total",
            "Source scrapes dropped whole: body over max_body_bytes or series over max_series.",
            vn_stats_get(&s->source_scrapes_too_large));
    counter(&o, "veneur_source_parse_errors_total", "Source scrapes dropped whole: not a valid text exposition.",
            vn_stats_get(&s->source_parse_errors));
    counter(&o, "veneur_source_samples_total", "Samples sources handed to the workers.",
            vn_stats_get(&s->source_samples));
    counter(&o, "veneur_source_samples_dropped_total", "Source samples refused by ingest: queue full, key too long.",
            vn_stats_get(&s->source_samples_dropped));
    counter(&o, "veneur_source_samples_invalid_total",
            "Source samples not sent: non-finite gauge, too many labels.", vn_stats_get(&s->source_samples_invalid));
    counter(&o, "veneur_source_families_filtered_total", "Families skipped by a source's allowlist or denylist.",
            vn_stats_get(&s->source_families_filtered));
    counter(&o, "veneur_source_tags_sanitized_total", "Source label values with ',', NUL or newline rewritten.",
            vn_stats_get(&s->source_tags_sanitized));
    counter(&o, "veneur_ssf_metrics_generated_total", "Metrics derived from SSF spans.",
            vn_stats_get(&s->ssf_metrics_generated));
    counter(&o, "veneur_ssf_connections_accepted_total", "SSF stream connections accepted.",
            vn_stats_get(&s->ssf_conns_accepted));
    counter(&o, "veneur_ssf_connections_rejected_total", "SSF stream connections refused at the connection cap.",
            vn_stats_get(&s->ssf_conns_rejected));
    counter(&o, "veneur_ssf_connections_evicted_total", "SSF stream connections that never sent a frame, closed at a cap.",
            vn_stats_get(&s->ssf_conns_evicted));
    counter(&o, "veneur_ssf_connections_idle_closed_total", "SSF stream connections closed after sending nothing for the idle timeout.",
            vn_stats_get(&s->ssf_conns_idle_closed));
    counter(&o, "veneur_ssf_accept_backoffs_total", "SSF stream listener pauses after accept errors.",
            vn_stats_get(&s->ssf_accept_backoffs));
    counter(&o, "veneur_otlp_requests_total", "OTLP metric export requests decoded.", vn_stats_get(&s->otlp_requests));
    counter(&o, "veneur_otlp_requests_refused_total",
            "OTLP requests refused: undecodable, too large, bad gzip, logs (traces without a span pipeline), unsupported content type.",
            vn_stats_get(&s->otlp_requests_refused));
    counter(&o, "veneur_otlp_points_total", "OTLP data points read.", vn_stats_get(&s->otlp_points));
    counter(&o, "veneur_otlp_samples_total", "Samples made from OTLP data points.", vn_stats_get(&s->otlp_samples));
    counter(&o, "veneur_otlp_points_rejected_total",
            "OTLP data points refused (bad name or value, summaries, cumulative table full).",
            vn_stats_get(&s->otlp_points_rejected));
    counter(&o, "veneur_otlp_points_baseline_total",
            "First points of cumulative OTLP series that only set their baseline.",
            vn_stats_get(&s->otlp_points_baseline));
    counter(&o, "veneur_otlp_trace_requests_total", "OTLP trace export requests decoded.",
            vn_stats_get(&s->otlp_trace_requests));
    counter(&o, "veneur_otlp_spans_total", "OTLP spans queued for the span workers.", vn_stats_get(&s->otlp_spans));
    counter(&o, "veneur_otlp_spans_refused_total",
            "OTLP spans refused: bad id lengths, too many tags, over trace_max_length_bytes, span queue full.",
            vn_stats_get(&s->otlp_spans_refused));
    counter(&o, "veneur_ssf_spans_empty_total",
            "SSF packets with neither a valid span nor metrics: no span sink gets them (Go worker.ssf.empty_total).",
            vn_stats_get(&s->ssf_spans_empty));
    span_sinks(&o, s);
    return o.len;
}
