/*
 * grpc_ingest.c - SendPacket, SendSpan and Health/Check on grpc_listen_addresses
 * (see grpc_ingest.h).
 *
 * Call contexts come from a free list owned by the service (one server thread,
 * so no lock): a steady stream of calls allocates nothing once the list has
 * grown to the number of calls open at once. The list keeps at most
 * FREE_MAX spare contexts; more are freed.
 */
#include "forward/grpc_ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pbwire.h"
#include "core/xalloc.h"
#include "listen/addr.h"

#define FREE_MAX 64
#define DEFAULT_METRIC_MAX 4096

typedef enum method { M_PACKET, M_SPAN, M_HEALTH } method_t;

typedef struct call {
    struct call *next_free;
    vn_grpc_ingest_t *g;
    method_t m;
    size_t messages;
    const uint8_t *resp; /* Health/Check answer (static) */
    size_t resp_len;
} call_t;

struct vn_grpc_ingest {
    vn_ingest_shared_t shared;
    vn_ingest_t *in;
    vn_ssf_server_t *ssf;
    vn_stats_t *stats;
    size_t max_len;
    SSL_CTX *tls; /* borrowed until listen (the h2 server takes its own reference) */
    vn_fwd_lifecycle_t lifecycle;
    vn_h2_server_t *h2;
    call_t *free_calls;
    size_t nfree;
};

/* HealthCheckResponse{status: SERVING}: field 1, varint 1 */
static const uint8_t k_serving[] = {0x08, 0x01};

bool vn_grpc_ingest_decode_packet(const uint8_t *data, size_t len, const uint8_t **bytes, size_t *blen)
{
    vn_pb_rd_t r = {data, data + len};
    *bytes = NULL;
    *blen = 0;
    while (r.p < r.end) {
        uint32_t field;
        unsigned wt;
        if (!vn_pb_tag(&r, &field, &wt))
            return false;
        if (field == 1) {
            vn_pb_rd_t sub;
            if (wt != VN_PB_WT_LEN || !vn_pb_sub(&r, &sub))
                return false;
            *bytes = sub.p; /* proto3: a repeated singular field, the last one wins */
            *blen = (size_t)(sub.end - sub.p);
        } else if (!vn_pb_skip(&r, wt)) {
            return false;
        }
    }
    return true;
}

/* HealthCheckRequest.service (field 1, string); false if not valid protobuf. */
static bool decode_health(const uint8_t *data, size_t len, const uint8_t **svc, size_t *slen)
{
    /* the same shape as DogstatsdPacket: one length-delimited field 1 */
    return vn_grpc_ingest_decode_packet(data, len, svc, slen);
}

static void *h_open(void *ctx, const char *path, vn_grpc_status_t *status, const char **msg)
{
    vn_grpc_ingest_t *g = ctx;
    method_t m;
    if (strcmp(path, VN_GRPC_INGEST_PATH_PACKET) == 0) {
        m = M_PACKET;
    } else if (strcmp(path, VN_GRPC_INGEST_PATH_SPAN) == 0 && g->ssf) {
        m = M_SPAN;
    } else if (strcmp(path, VN_GRPC_INGEST_PATH_HEALTH) == 0) {
        m = M_HEALTH;
    } else {
        *status = VN_GRPC_UNIMPLEMENTED;
        *msg = strcmp(path, VN_GRPC_INGEST_PATH_SPAN) == 0 ? "SSF span pipeline not running"
               : strcmp(path, "/grpc.health.v1.Health/Watch") == 0
                   ? "Health/Watch is not served (use Health/Check)"
                   : "unknown method (grpc_listen_addresses serve DogstatsdGRPC/SendPacket, SSFGRPC/SendSpan, "
                     "Health/Check)";
        vn_stats_add(&g->stats->grpc_ingest_calls, 1);
        vn_stats_add(&g->stats->grpc_ingest_call_errors, 1);
        return NULL;
    }
    call_t *c = g->free_calls;
    if (c) {
        g->free_calls = c->next_free;
        g->nfree--;
    } else {
        c = vn_xmalloc(sizeof *c);
    }
    *c = (call_t){.g = g, .m = m};
    return c;
}

static vn_grpc_status_t take_packet(call_t *c, const uint8_t *data, size_t len, const char **msg)
{
    vn_grpc_ingest_t *g = c->g;
    const uint8_t *b;
    size_t blen;
    if (!vn_grpc_ingest_decode_packet(data, len, &b, &blen)) {
        *msg = "grpc: error unmarshalling request: invalid DogstatsdPacket";
        return VN_GRPC_INTERNAL;
    }
    if (blen > g->max_len) {
        /* Go drops it whole (packet.error_total reason:toolong) and answers OK */
        vn_stats_add(&g->stats->packet_too_long, 1);
        return VN_GRPC_OK;
    }
    vn_stats_add(&g->stats->packets[VN_PROTO_GRPC], 1);
    vn_stats_add(&g->stats->bytes[VN_PROTO_GRPC], blen);
    if (blen)
        vn_ingest_packet(g->in, (const char *)b, blen);
    return VN_GRPC_OK;
}

static vn_grpc_status_t take_span(call_t *c, const uint8_t *data, size_t len, const char **msg)
{
    vn_grpc_ingest_t *g = c->g;
    vn_ssf_offer_rc_t rc = vn_ssf_server_offer(g->ssf, data, len);
    if (rc == VN_SSF_OFFER_OK) {
        vn_stats_add(&g->stats->grpc_ingest_spans, 1);
        return VN_GRPC_OK;
    }
    vn_stats_add(&g->stats->grpc_ingest_spans_refused, 1);
    switch (rc) {
    case VN_SSF_OFFER_TOO_LONG: *msg = "span larger than trace_max_length_bytes"; return VN_GRPC_RESOURCE_EXHAUSTED;
    case VN_SSF_OFFER_FULL: *msg = "span queue full (span_channel_capacity); span dropped"; return VN_GRPC_UNAVAILABLE;
    default: *msg = "span pipeline stopping"; return VN_GRPC_UNAVAILABLE;
    }
}

static vn_grpc_status_t take_health(call_t *c, const uint8_t *data, size_t len, const char **msg)
{
    const uint8_t *svc;
    size_t slen;
    if (!decode_health(data, len, &svc, &slen)) {
        *msg = "grpc: error unmarshalling request: invalid HealthCheckRequest";
        return VN_GRPC_INTERNAL;
    }
    if (slen == 0 || (slen == 6 && memcmp(svc, "veneur", 6) == 0)) {
        c->resp = k_serving;
        c->resp_len = sizeof k_serving;
        return VN_GRPC_OK;
    }
    *msg = "unknown service";
    return VN_GRPC_NOT_FOUND;
}

static vn_grpc_status_t h_message(void *call, const uint8_t *data, size_t len, const char **msg)
{
    call_t *c = call;
    if (++c->messages > 1) {
        /* grpc-go: "grpc: client streaming protocol violation: get <nil>, want <EOF>" */
        *msg = "more than one request message for a unary method";
        return VN_GRPC_INTERNAL;
    }
    switch (c->m) {
    case M_PACKET: return take_packet(c, data, len, msg);
    case M_SPAN: return take_span(c, data, len, msg);
    case M_HEALTH: return take_health(c, data, len, msg);
    }
    return VN_GRPC_INTERNAL;
}

static vn_grpc_status_t h_finish(void *call, const char **msg)
{
    call_t *c = call;
    if (c->messages == 0) {
        *msg = "no request message for a unary method";
        return VN_GRPC_INTERNAL;
    }
    return VN_GRPC_OK;
}

static size_t h_response(void *call, const uint8_t **msg)
{
    call_t *c = call;
    *msg = c->resp;
    return c->resp_len;
}

/* What this read brought goes to the workers now, not when the next packet fills a batch. */
static void h_drained(void *call)
{
    call_t *c = call;
    if (c->m == M_PACKET)
        vn_ingest_commit(c->g->in);
}

static void h_close(void *call, vn_grpc_status_t final)
{
    call_t *c = call;
    vn_grpc_ingest_t *g = c->g;
    if (c->m == M_PACKET)
        vn_ingest_commit(g->in);
    vn_stats_add(&g->stats->grpc_ingest_calls, 1);
    if (final != VN_GRPC_OK)
        vn_stats_add(&g->stats->grpc_ingest_call_errors, 1);
    if (g->nfree < FREE_MAX) {
        c->next_free = g->free_calls;
        g->free_calls = c;
        g->nfree++;
    } else {
        free(c);
    }
}

vn_grpc_handler_t vn_grpc_ingest_handler(vn_grpc_ingest_t *g)
{
    return (vn_grpc_handler_t){.open = h_open,
                               .message = h_message,
                               .finish = h_finish,
                               .close = h_close,
                               .drained = h_drained,
                               .response = h_response,
                               .ctx = g};
}

vn_grpc_ingest_t *vn_grpc_ingest_new(const vn_grpc_ingest_opts_t *o)
{
    vn_grpc_ingest_t *g = vn_xcalloc(1, sizeof *g);
    g->shared = *o->shared;
    g->stats = o->shared->stats;
    g->in = vn_ingest_new(&g->shared, o->reader_id);
    g->ssf = o->ssf;
    g->max_len = o->metric_max_length ? o->metric_max_length : DEFAULT_METRIC_MAX;
    g->tls = o->tls;
    g->lifecycle = o->lifecycle;
    return g;
}

vn_err_t vn_grpc_ingest_listen(vn_grpc_ingest_t *g, const char *url, char *errbuf, size_t errcap)
{
    vn_addr_t a;
    if (vn_addr_parse(url, &a, errbuf, errcap) != VN_OK)
        return VN_ERR_CONFIG;
    if (a.kind != VN_ADDR_TCP) {
        snprintf(errbuf, errcap, "can't listen for gRPC on %s: only tcp:// is supported", url);
        return VN_ERR_CONFIG;
    }
    char hostport[300];
    snprintf(hostport, sizeof hostport, strchr(a.host, ':') ? "[%s]:%s" : "%s:%s", a.host, a.port);
    vn_h2_server_opts_t so = {
        .address = hostport, .handler = vn_grpc_ingest_handler(g), .stats = g->stats, .tls = g->tls};
    vn_fwd_lifecycle_apply(&g->lifecycle, &so);
    vn_err_t e = vn_h2_server_start(&so, &g->h2, errbuf, errcap);
    g->tls = NULL;
    if (e == VN_OK)
        VN_LOG(INFO, "event=listening proto=grpc addr=%s port=%d mode=%s", url, vn_h2_server_port(g->h2),
               so.tls ? "tls" : "h2c");
    return e;
}

int vn_grpc_ingest_port(const vn_grpc_ingest_t *g) { return g && g->h2 ? vn_h2_server_port(g->h2) : 0; }

void vn_grpc_ingest_stop(vn_grpc_ingest_t *g)
{
    if (!g || !g->h2)
        return;
    vn_h2_server_stop(g->h2); /* joins: every call is closed, no callback runs after this */
    g->h2 = NULL;
    vn_ingest_commit(g->in);
}

void vn_grpc_ingest_free(vn_grpc_ingest_t *g)
{
    if (!g)
        return;
    vn_grpc_ingest_stop(g);
    vn_ingest_free(g->in);
    while (g->free_calls) {
        call_t *c = g->free_calls;
        g->free_calls = c->next_free;
        free(c);
    }
    free(g);
}
