/*
 * import_server.c - forwardrpc.Forward for a global veneur (see
 * import_server.h): the gRPC handler that turns request messages into worker
 * imports.
 *
 * Per call: one pending chain per worker. A metric goes to the chain of
 * worker hash % nworkers (the hash of its series key, as the reader path
 * computes it, so an imported series and the same series received over UDP
 * meet in one map); a chain is handed over with vn_worker_import when it
 * reaches CHAIN_MAX items and at the end of the call, so a worker takes its
 * mutex once per CHAIN_MAX metrics, never per metric.
 */
#include "forward/import_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "forward/fwd_call.h"
#include "forward/h2_server.h"
#include "forward/hops.h"
#include "forward/metricpb_codec.h"

#define CHAIN_MAX 256

struct vn_import_server {
    vn_h2_server_t *h2;
    vn_worker_t **workers;
    size_t nworkers;
    vn_stats_t *stats;
};

typedef struct chain {
    vn_import_t *head, *tail;
    size_t n;
} chain_t;

typedef struct call {
    vn_import_server_t *srv;
    vn_fwd_call_t fc;
    int64_t interval_ms; /* the caller's x-veneur-interval-end (issue 16); 0 = untagged */
    size_t accepted, rejected;
    const char *first_reason;
    char msg[256]; /* final grpc-message */
    chain_t chains[];
} call_t;

static void push_chain(call_t *c, size_t w)
{
    chain_t *ch = &c->chains[w];
    if (!ch->head)
        return;
    size_t dropped = vn_worker_import(c->srv->workers[w], ch->head);
    vn_stats_add(&c->srv->stats->import_metrics_received, ch->n - dropped);
    vn_stats_add(&c->srv->stats->import_metrics_dropped, dropped);
    ch->head = ch->tail = NULL;
    ch->n = 0;
}

static void push_all(call_t *c)
{
    for (size_t w = 0; w < c->srv->nworkers; w++)
        push_chain(c, w);
}

/* Decodes one Metric and queues it; a bad one is counted and skipped. */
static void take_metric(void *arg, const uint8_t *data, size_t len)
{
    call_t *c = arg;
    vn_pb_metric_t m;
    vn_import_t *it = NULL;
    const char *why = "invalid protobuf";
    if (vn_pb_metric_decode(data, len, &m) != VN_OK || vn_pb_metric_to_import(&m, &it, &why) != VN_OK) {
        c->rejected++;
        if (!c->first_reason)
            c->first_reason = why;
        return;
    }
    c->accepted++;
    if (!it)
        return; /* valid but nothing to merge (histogram without digest) */
    it->interval_ms = c->interval_ms;
    size_t w = c->srv->nworkers > 1 ? it->hash % c->srv->nworkers : 0;
    chain_t *ch = &c->chains[w];
    if (ch->tail)
        ch->tail->next = it;
    else
        ch->head = it;
    ch->tail = it;
    if (++ch->n >= CHAIN_MAX)
        push_chain(c, w);
}

static void *h_open(void *ctx, const char *path, vn_grpc_status_t *status, const char **msg)
{
    vn_import_server_t *s = ctx;
    vn_fwd_call_t fc;
    if (!vn_fwd_call_open(&fc, path, status, msg)) {
        vn_stats_add(&s->stats->import_calls, 1);
        vn_stats_add(&s->stats->import_call_errors, 1);
        return NULL;
    }
    call_t *c = vn_xcalloc(1, sizeof *c + s->nworkers * sizeof(chain_t));
    c->srv = s;
    c->fc = fc;
    return c;
}

/* Issue 15: metrics that came through more proxies than a real chain has are in a loop (forward/hops.h). */
static void *h_open_meta(void *ctx, const char *path, const vn_grpc_meta_t *meta, vn_grpc_status_t *status,
                         const char **msg)
{
    vn_import_server_t *s = ctx;
    if (meta->hops > VN_HOPS_MAX) {
        *status = VN_GRPC_FAILED_PRECONDITION;
        *msg = "forwarding loop: x-veneur-hops over the limit";
        vn_stats_add(&s->stats->import_calls, 1);
        vn_stats_add(&s->stats->import_call_errors, 1);
        VN_LOG(WARN, "event=import_loop_refused hops=%u max=%d", meta->hops, VN_HOPS_MAX);
        return NULL;
    }
    call_t *c = h_open(ctx, path, status, msg);
    if (c)
        c->interval_ms = meta->interval_ms;
    return c;
}

static vn_grpc_status_t h_message(void *call, const uint8_t *data, size_t len, const char **msg)
{
    call_t *c = call;
    switch (vn_fwd_call_message(&c->fc, data, len, take_metric, c, msg)) {
    case VN_FWD_MSG_OK: return VN_GRPC_OK;
    case VN_FWD_MSG_EXTRA: return VN_GRPC_INVALID_ARGUMENT;
    case VN_FWD_MSG_BAD_LIST:
        /* the metrics before the break are kept; the call ends with the count at finish */
        c->rejected++;
        if (!c->first_reason)
            c->first_reason = VN_FWD_BAD_LIST_TEXT;
        return VN_GRPC_OK;
    }
    return VN_GRPC_OK;
}

/* A long-lived stream (a proxy's, docs/behaviour.md W3.3) must not hold metrics until it
 * ends: hand what this read brought to the workers now, as Go ingests each
 * Recv. A local's one-call-per-interval stream gets here too, per read. */
static void h_drained(void *call) { push_all(call); }

static vn_grpc_status_t h_finish(void *call, const char **msg)
{
    call_t *c = call;
    push_all(c);
    if (vn_fwd_call_missing(&c->fc, msg))
        return VN_GRPC_INVALID_ARGUMENT;
    if (c->rejected) {
        snprintf(c->msg, sizeof c->msg, "%zu of %zu metrics rejected; first: %s", c->rejected,
                 c->rejected + c->accepted, c->first_reason);
        *msg = c->msg;
        return VN_GRPC_INVALID_ARGUMENT;
    }
    return VN_GRPC_OK;
}

static void h_close(void *call, vn_grpc_status_t final)
{
    call_t *c = call;
    push_all(c); /* complete messages of a cut-off call are kept, as Go does */
    vn_stats_t *st = c->srv->stats;
    vn_stats_add(&st->import_calls, 1);
    vn_stats_add(&st->import_metrics_rejected, c->rejected);
    if (final != VN_GRPC_OK)
        vn_stats_add(&st->import_call_errors, 1);
    if (c->rejected)
        VN_LOG(WARN, "event=import_metrics_rejected n=%zu of=%zu first=\"%s\"", c->rejected,
               c->rejected + c->accepted, c->first_reason);
    free(c);
}

static const vn_grpc_handler_t handler = {.open = h_open,
                                          .open_meta = h_open_meta,
                                          .message = h_message,
                                          .finish = h_finish,
                                          .close = h_close,
                                          .drained = h_drained};

vn_err_t vn_import_server_start(const char *address, SSL_CTX *tls, const vn_fwd_lifecycle_t *lc,
                                vn_worker_t **workers, size_t nworkers, vn_stats_t *stats, vn_import_server_t **out,
                                char *errbuf, size_t errcap)
{
    *out = NULL;
    vn_import_server_t *s = vn_xcalloc(1, sizeof *s);
    s->workers = workers;
    s->nworkers = nworkers ? nworkers : 1;
    s->stats = stats;
    vn_err_t e = vn_fwd_serve(address, &handler, s, lc, tls, stats, &s->h2, errbuf, errcap);
    if (e == VN_OK)
        *out = s;
    else
        free(s);
    return e;
}

int vn_import_server_port(const vn_import_server_t *s) { return vn_h2_server_port(s->h2); }

void vn_import_server_stop(vn_import_server_t *s)
{
    if (s)
        vn_h2_server_stop(s->h2); /* joins: no handler runs after this */
    free(s);
}
