/*
 * proxy_server.c - forwardrpc.Forward for veneur-proxy (see proxy_server.h):
 * the h2_server handler that routes each request message through the ring.
 *
 * Per call: a routing context (the ring snapshot it last used) and counters
 * kept locally and added to the shared stats when the server has drained
 * the connection's input (handler.drained) and when the call closes, so the
 * atomics are touched per read, not per metric.
 */
#include "proxy/proxy_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "forward/fwd_call.h"
#include "forward/h2_server.h"
#include "forward/hops.h"
#include "forward/metricpb_codec.h"


struct vn_proxy_server {
    vn_h2_server_t *h2;
    vn_router_t *router;
    vn_proxy_stats_t *stats;
};

static void *h_open(void *ctx, const char *path, vn_grpc_status_t *status, const char **msg);

typedef struct counts {
    uint64_t metrics, ok, no_dest, dropped, invalid;
} counts_t;

typedef struct pcall {
    vn_proxy_server_t *srv;
    vn_fwd_call_t fc;
    size_t rejected, total; /* for the final status */
    counts_t c;             /* not yet added to the shared stats */
    vn_route_ctx_t rc;
    char msg[160];
    double t0; /* call opened (monotonic): Go's ingest.request_latency_ms */
} pcall_t;

static void flush_counts(pcall_t *p)
{
    vn_proxy_stats_t *st = p->srv->stats;
    int proto = p->fc.unary ? VN_PSTAT_SINGLE : VN_PSTAT_STREAM;
    vn_stats_add(&st->ingest_metrics[proto], p->c.metrics);
    vn_stats_add(&st->handle_ok, p->c.ok);
    vn_stats_add(&st->handle_no_destination, p->c.no_dest);
    vn_stats_add(&st->handle_dropped, p->c.dropped);
    vn_stats_add(&st->handle_invalid, p->c.invalid);
    memset(&p->c, 0, sizeof p->c);
}

static void route_one(void *arg, const uint8_t *m, size_t len)
{
    pcall_t *p = arg;
    p->c.metrics++;
    p->total++;
    switch (vn_route_metric(&p->rc, m, len)) {
    case VN_ROUTE_OK: p->c.ok++; break;
    case VN_ROUTE_NO_DEST: p->c.no_dest++; break;
    case VN_ROUTE_DROPPED: p->c.dropped++; break;
    case VN_ROUTE_INVALID:
        p->c.invalid++;
        p->rejected++;
        break;
    }
}

/* Loop protection (forward/hops.h, issue 15): a call from ourselves or over the hop limit is refused. */
static void *h_open_meta(void *ctx, const char *path, const vn_grpc_meta_t *meta, vn_grpc_status_t *status,
                         const char **msg)
{
    vn_proxy_server_t *s = ctx;
    const vn_self_t *self = vn_router_self(s->router);
    if (self && meta->proxy_id[0] && strcmp(meta->proxy_id, self->id) == 0) {
        vn_stats_add(&s->stats->loop_self_id, 1);
        VN_LOG(WARN, "event=proxy_loop_refused reason=self_id destination=%s msg=\"a call from this veneur-proxy "
                     "to itself: that destination is refused\"",
               VN_LOG_Q(meta->authority));
        vn_router_mark_self(s->router, meta->authority);
        *status = VN_GRPC_FAILED_PRECONDITION;
        *msg = "forwarding loop: this veneur-proxy is its own destination (x-veneur-proxy-id)";
        return NULL;
    }
    if (meta->hops >= VN_HOPS_MAX) {
        vn_stats_add(&s->stats->loop_hops, 1);
        uint64_t n = vn_stats_get(&s->stats->loop_hops);
        if ((n & (n - 1)) == 0) /* 1st, 2nd, 4th, ...: a loop retries for as long as it exists */
            VN_LOG(WARN, "event=proxy_loop_refused reason=hops hops=%u max=%d refused=%llu msg=\"a call came through too many "
                         "veneur-proxies: a forwarding loop\"",
                   meta->hops, VN_HOPS_MAX, (unsigned long long)n);
        *status = VN_GRPC_FAILED_PRECONDITION;
        *msg = "forwarding loop: x-veneur-hops over the limit";
        return NULL;
    }
    void *call = h_open(ctx, path, status, msg);
    if (call)
        vn_router_note_hops(s->router, meta->hops);
    return call;
}

static void *h_open(void *ctx, const char *path, vn_grpc_status_t *status, const char **msg)
{
    vn_proxy_server_t *s = ctx;
    vn_fwd_call_t fc;
    if (!vn_fwd_call_open(&fc, path, status, msg))
        return NULL;
    pcall_t *p = vn_xcalloc(1, sizeof *p);
    p->srv = s;
    p->fc = fc;
    vn_route_ctx_init(&p->rc, s->router);
    p->t0 = vn_clock_mono_s();
    vn_stats_add(&s->stats->ingest_requests[fc.unary ? VN_PSTAT_SINGLE : VN_PSTAT_STREAM], 1);
    return p;
}

static vn_grpc_status_t h_message(void *call, const uint8_t *data, size_t len, const char **msg)
{
    pcall_t *p = call;
    if (vn_fwd_call_message(&p->fc, data, len, route_one, p, msg) != VN_FWD_MSG_OK)
        return VN_GRPC_INVALID_ARGUMENT;
    return VN_GRPC_OK;
}

static void h_drained(void *call) { flush_counts(call); }

static vn_grpc_status_t h_finish(void *call, const char **msg)
{
    pcall_t *p = call;
    if (vn_fwd_call_missing(&p->fc, msg))
        return VN_GRPC_INVALID_ARGUMENT;
    if (p->rejected) {
        snprintf(p->msg, sizeof p->msg, "%zu of %zu metrics rejected: not a valid metricpb.Metric", p->rejected,
                 p->total);
        *msg = p->msg;
        return VN_GRPC_INVALID_ARGUMENT;
    }
    return VN_GRPC_OK;
}

static void h_close(void *call, vn_grpc_status_t final)
{
    pcall_t *p = call;
    flush_counts(p);
    int proto = p->fc.unary ? VN_PSTAT_SINGLE : VN_PSTAT_STREAM;
    double us = (vn_clock_mono_s() - p->t0) * 1e6;
    vn_stats_add(&p->srv->stats->req_latency_us[proto], us > 0 ? (uint64_t)us : 0);
    vn_stats_add(&p->srv->stats->req_latency_n[proto], 1);
    if (final != VN_GRPC_OK)
        vn_stats_add(&p->srv->stats->ingest_errors[proto], 1);
    if (p->rejected)
        VN_LOG(WARN, "event=proxy_metrics_rejected n=%zu of=%zu reason=\"not a valid metricpb.Metric\"",
               p->rejected, p->total);
    vn_route_ctx_release(&p->rc);
    free(p);
}

static const vn_grpc_handler_t handler = {.open = h_open,
                                          .open_meta = h_open_meta,
                                          .message = h_message,
                                          .finish = h_finish,
                                          .close = h_close,
                                          .drained = h_drained};

vn_err_t vn_proxy_server_start_listen(const vn_proxy_listen_t *l, vn_router_t *router, vn_proxy_stats_t *stats,
                                      vn_stats_t *conn_stats, vn_proxy_server_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    vn_proxy_server_t *s = vn_xcalloc(1, sizeof *s);
    s->router = router;
    s->stats = stats;
    vn_h2_server_opts_t o = {
        .address = l->address,
        .handler = handler,
        .idle_timeout_s = l->idle_timeout_s,
        .handshake_timeout_s = l->handshake_timeout_s,
        .stats = conn_stats,
        .tls = l->tls,
        .max_age_s = l->max_age_s,
        .max_age_grace_s = l->max_age_grace_s,
        .keepalive_time_s = l->keepalive_time_s,
        .keepalive_timeout_s = l->keepalive_timeout_s,
    };
    o.handler.ctx = s;
    vn_err_t e = vn_h2_server_start(&o, &s->h2, errbuf, errcap);
    if (e == VN_OK)
        *out = s;
    else
        free(s);
    return e;
}

vn_err_t vn_proxy_server_start(const char *address, vn_router_t *router, vn_proxy_stats_t *stats,
                               vn_stats_t *conn_stats, double idle_timeout_s, vn_proxy_server_t **out, char *errbuf,
                               size_t errcap)
{
    vn_proxy_listen_t l = {.address = address, .idle_timeout_s = idle_timeout_s};
    return vn_proxy_server_start_listen(&l, router, stats, conn_stats, out, errbuf, errcap);
}

int vn_proxy_server_port(const vn_proxy_server_t *s) { return vn_h2_server_port(s->h2); }

void vn_proxy_server_stop(vn_proxy_server_t *s)
{
    if (s)
        vn_h2_server_stop(s->h2); /* joins: no handler runs after this */
    free(s);
}
