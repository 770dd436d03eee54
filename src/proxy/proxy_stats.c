/*
 * proxy_stats.c - Prometheus text for vn_proxy_stats_t (see proxy_stats.h).
 * Label values mirror the tags of Go's veneur_proxy.* DogStatsD metrics.
 */
#include "proxy/proxy_stats.h"

#include <stdio.h>

#include "core/stats.h"
#include "telemetry/statsd_out.h"

static void family(vn_buf_t *out, const char *name, const char *type, const char *help)
{
    vn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void value(vn_buf_t *out, const char *name, const char *labels, const _Atomic uint64_t *v)
{
    vn_buf_printf(out, "%s%s%s%s %llu\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
                  (unsigned long long)vn_stats_get(v));
}

void vn_proxy_stats_render(const vn_proxy_stats_t *s, vn_buf_t *out)
{
    static const char *const proto[2] = {"protocol=\"grpc-single\"", "protocol=\"grpc-stream\""};
    family(out, "veneur_proxy_ingest_requests_total", "counter", "forwardrpc calls received");
    for (int i = 0; i < 2; i++)
        value(out, "veneur_proxy_ingest_requests_total", proto[i], &s->ingest_requests[i]);
    family(out, "veneur_proxy_ingest_metrics_total", "counter", "metrics received");
    for (int i = 0; i < 2; i++)
        value(out, "veneur_proxy_ingest_metrics_total", proto[i], &s->ingest_metrics[i]);
    family(out, "veneur_proxy_ingest_request_errors_total", "counter", "calls answered with a non-0 grpc-status");
    for (int i = 0; i < 2; i++)
        value(out, "veneur_proxy_ingest_request_errors_total", proto[i], &s->ingest_errors[i]);
    family(out, "veneur_proxy_handle_metrics_total", "counter",
           "routing outcome: error=false queued, destination no destination, dropped queue full or gone, "
           "invalid not a metricpb.Metric");
    value(out, "veneur_proxy_handle_metrics_total", "error=\"false\"", &s->handle_ok);
    value(out, "veneur_proxy_handle_metrics_total", "error=\"destination\"", &s->handle_no_destination);
    value(out, "veneur_proxy_handle_metrics_total", "error=\"dropped\"", &s->handle_dropped);
    value(out, "veneur_proxy_handle_metrics_total", "error=\"invalid\"", &s->handle_invalid);
    family(out, "veneur_proxy_rerouted_metrics_total", "counter",
           "queued metrics moved from a failed or removed destination to its successor");
    value(out, "veneur_proxy_rerouted_metrics_total", NULL, &s->rerouted);
    family(out, "veneur_proxy_discovery_total", "counter", "discovery polls by status");
    value(out, "veneur_proxy_discovery_total", "status=\"success\"", &s->discovery_success);
    value(out, "veneur_proxy_discovery_total", "status=\"fail\"", &s->discovery_fail);
    family(out, "veneur_proxy_discovery_destinations", "gauge", "addresses the last successful poll returned");
    value(out, "veneur_proxy_discovery_destinations", NULL, &s->discovery_destinations);
    family(out, "veneur_proxy_discovery_duration_seconds_total", "counter", "time spent polling discovery");
    vn_buf_printf(out, "veneur_proxy_discovery_duration_seconds_total %.6f\n",
                  (double)vn_stats_get(&s->discovery_duration_ns_total) / 1e9);
    family(out, "veneur_proxy_ring_rebuilds_total", "counter", "times the ring was rebuilt and swapped");
    value(out, "veneur_proxy_ring_rebuilds_total", NULL, &s->ring_rebuilds);
    family(out, "veneur_proxy_grpc_connections_total", "counter", "HTTP/2 connections accepted on grpc_address");
    value(out, "veneur_proxy_grpc_connections_total", NULL, &s->grpc_connections_total);
    family(out, "veneur_proxy_loop_refused_total", "counter",
           "forwarding loops refused: self_address a destination is our own listener, self_id a call came back "
           "with our own x-veneur-proxy-id, hops a call over the x-veneur-hops limit");
    value(out, "veneur_proxy_loop_refused_total", "reason=\"self_address\"", &s->loop_self_address);
    value(out, "veneur_proxy_loop_refused_total", "reason=\"self_id\"", &s->loop_self_id);
    value(out, "veneur_proxy_loop_refused_total", "reason=\"hops\"", &s->loop_hops);
    family(out, "veneur_proxy_hops_restreams_total", "counter",
           "destination streams re-opened to carry a higher x-veneur-hops (a proxy chain, or a loop)");
    value(out, "veneur_proxy_hops_restreams_total", NULL, &s->hops_restreams);
    family(out, "veneur_proxy_self_metrics_dropped_total", "counter",
           "self-metrics datagrams to statsd.address that could not be sent (no listener, buffer full)");
    value(out, "veneur_proxy_self_metrics_dropped_total", NULL, &s->self_metrics_dropped);
}

void vn_proxy_stats_render_grpc(const vn_stats_t *c, vn_buf_t *out)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } fams[] = {
        {"veneur_proxy_grpc_accept_paused_total", "times the gRPC listener paused because accept ran out of resources",
         offsetof(vn_stats_t, grpc_accept_paused)},
        {"veneur_proxy_grpc_connections_refused_total", "gRPC connections refused at a connection limit",
         offsetof(vn_stats_t, grpc_connections_refused)},
        {"veneur_proxy_grpc_connections_evicted_total", "idle gRPC connections closed to admit a new one",
         offsetof(vn_stats_t, grpc_connections_evicted)},
        {"veneur_proxy_grpc_handshake_timeouts_total", "gRPC connections closed without an HTTP/2 handshake in time",
         offsetof(vn_stats_t, grpc_handshake_timeouts)},
        {"veneur_proxy_grpc_reassembly_refused_total", "gRPC calls ended by a message reassembly budget",
         offsetof(vn_stats_t, grpc_reassembly_refused)},
        {"veneur_proxy_grpc_body_timeouts_total", "gRPC calls ended because a split message did not complete in time",
         offsetof(vn_stats_t, grpc_body_timeouts)},
        {"veneur_proxy_grpc_tls_handshake_failures_total", "gRPC TLS handshakes that failed (e.g. no valid client certificate)",
         offsetof(vn_stats_t, grpc_tls_handshake_failures)},
        {"veneur_proxy_grpc_max_age_goaways_total", "gRPC connections sent GOAWAY at grpc_server.max_connection_age",
         offsetof(vn_stats_t, grpc_max_age_goaways)},
        {"veneur_proxy_grpc_max_age_closes_total", "gRPC connections closed at max_connection_age plus its grace",
         offsetof(vn_stats_t, grpc_max_age_closes)},
        {"veneur_proxy_grpc_keepalive_timeouts_total", "gRPC connections closed because a keepalive PING went unanswered",
         offsetof(vn_stats_t, grpc_keepalive_timeouts)},
    };
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        const _Atomic uint64_t *v = (const _Atomic uint64_t *)((const char *)c + fams[i].off);
        family(out, fams[i].name, "counter", fams[i].help);
        value(out, fams[i].name, NULL, v);
    }
}

static void emit_count(vn_proxy_stats_prev_t *prev, size_t i, const _Atomic uint64_t *c, vn_statsd_out_t *out,
                       const char *name, const char *tags)
{
    uint64_t now = vn_stats_get(c);
    uint64_t d = now >= prev->v[i] ? now - prev->v[i] : 0;
    prev->v[i] = now;
    vn_statsd_out_add(out, name, (double)d, "c", tags);
}

/* prev->v slots: fixed, so the set of lines per interval never depends on traffic */
enum {
    PV_INGEST = 0,             /* 3 per protocol */
    PV_HANDLE = 6,             /* 3 */
    PV_CONNECT = 9,            /* 3 */
    PV_FWD = 12,               /* 3 */
    PV_DISC = 15,              /* 2 */
    PV_GRPC = 17,              /* 2 */
    PV_LAT_US = 19,            /* 2 */
    PV_LAT_N = 21,             /* 2 */
    PV_DISCONNECT = 23,        /* 2 */
    PV_DISC_MS = 25,
    PV__END
};
_Static_assert(PV__END <= sizeof(((vn_proxy_stats_prev_t *)0)->v) / sizeof(uint64_t), "prev slots");

static uint64_t take(vn_proxy_stats_prev_t *prev, size_t i, uint64_t now)
{
    uint64_t d = now >= prev->v[i] ? now - prev->v[i] : 0;
    prev->v[i] = now;
    return d;
}

void vn_proxy_stats_emit(const vn_proxy_stats_t *s, vn_proxy_stats_prev_t *prev, vn_statsd_out_t *out)
{
    static const char *const proto[2] = {"protocol:grpc-single", "protocol:grpc-stream"};
    for (int i = 0; i < 2; i++) {
        emit_count(prev, PV_INGEST + 3 * (size_t)i, &s->ingest_requests[i], out, "veneur_proxy.ingest.request_count",
                   proto[i]);
        emit_count(prev, PV_INGEST + 3 * (size_t)i + 1, &s->ingest_metrics[i], out,
                   "veneur_proxy.ingest.metrics_count", proto[i]);
        emit_count(prev, PV_INGEST + 3 * (size_t)i + 2, &s->ingest_errors[i], out,
                   "veneur_proxy.ingest.request_error_count", proto[i]);
        /* Go times every call; one mean per interval, with a sample rate so the receiver
         * counts every call (datadog-go's client-side aggregation does not aggregate timings) */
        uint64_t us = take(prev, PV_LAT_US + (size_t)i, vn_stats_get(&s->req_latency_us[i]));
        uint64_t n = take(prev, PV_LAT_N + (size_t)i, vn_stats_get(&s->req_latency_n[i]));
        if (n)
            vn_statsd_out_add_rate(out, "veneur_proxy.ingest.request_latency_ms", (double)us / 1000.0 / (double)n,
                                   "ms", 1.0 / (double)n, proto[i]);
    }
    emit_count(prev, PV_HANDLE, &s->handle_ok, out, "veneur_proxy.handle.metrics_count", "error:false");
    emit_count(prev, PV_HANDLE + 1, &s->handle_no_destination, out, "veneur_proxy.handle.metrics_count",
               "error:destination");
    emit_count(prev, PV_HANDLE + 2, &s->handle_dropped, out, "veneur_proxy.handle.metrics_count", "error:dropped");
    static const char *const conn[3] = {"status:success", "status:failed_dial", "status:failed_connect"};
    for (size_t i = 0; i < 3; i++)
        emit_count(prev, PV_CONNECT + i, &s->fwd_connect[i], out, "veneur_proxy.forward.connect", conn[i]);
    static const char *const fwd[3] = {"error:false", "error:eof", "error:dropped"};
    for (size_t i = 0; i < 3; i++)
        emit_count(prev, PV_FWD + i, &s->fwd_metrics[i], out, "veneur_proxy.forward.metrics_count", fwd[i]);
    emit_count(prev, PV_DISCONNECT, &s->fwd_disconnect[0], out, "veneur_proxy.forward.disconnect", "error:false");
    emit_count(prev, PV_DISCONNECT + 1, &s->fwd_disconnect[1], out, "veneur_proxy.forward.disconnect", "error:true");
    emit_count(prev, PV_GRPC, &s->grpc_client_conn_begin, out, "veneur_proxy.grpc.conn_begin", "client:true");
    emit_count(prev, PV_GRPC + 1, &s->grpc_client_conn_end, out, "veneur_proxy.grpc.conn_end", "client:true");
}

void vn_proxy_stats_emit_discovery(const vn_proxy_stats_t *s, vn_proxy_stats_prev_t *prev, vn_statsd_out_t *out)
{
    emit_count(prev, PV_DISC, &s->discovery_success, out, "veneur_proxy.discovery.count", "status:success");
    emit_count(prev, PV_DISC + 1, &s->discovery_fail, out, "veneur_proxy.discovery.count", "status:fail");
    uint64_t ms = take(prev, PV_DISC_MS, vn_stats_get(&s->discovery_duration_ns_total) / 1000000u);
    vn_statsd_out_add(out, "veneur_proxy.discovery.duration_total_ms", (double)ms, "c", NULL);
    vn_statsd_out_add(out, "veneur_proxy.discovery.destinations", (double)vn_stats_get(&s->discovery_destinations),
                      "g", NULL);
}
