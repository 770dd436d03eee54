/*
 * grpc_client.c - the otlp sink's OTLP/gRPC transport (see grpc_client.h).
 */
#include "otlp/grpc_client.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "forward/h2_client.h"
#include "tls/tls.h"
#include "tls/tls_files.h"

#define EXPORT_PATH "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

typedef struct gt {
    vn_http_transport_t base; /* first: the delivery queue sees this */
    vn_h2_client_t *c;
    bool gzip;
    int efd; /* wakeup */
    bool done;
    void *tag;
    vn_http_result_t res;
    uint8_t *frame; /* prefix + message, reused */
    size_t cap;
} gt_t;

static bool transient(int grpc_status)
{
    switch (grpc_status) {
    case 1:  /* CANCELLED */
    case 4:  /* DEADLINE_EXCEEDED */
    case 8:  /* RESOURCE_EXHAUSTED */
    case 10: /* ABORTED */
    case 14: /* UNAVAILABLE */
        return true;
    default:
        return false;
    }
}

static void set_excerpt(vn_http_result_t *r, const char *s)
{
    size_t n = strlen(s);
    if (n > VN_HTTP_EXCERPT_MAX)
        n = VN_HTTP_EXCERPT_MAX;
    memcpy(r->excerpt, s, n);
    r->excerpt[n] = '\0';
    r->excerpt_len = n;
}

static vn_err_t gt_start(vn_http_transport_t *t, const vn_http_request_t *req, void *tag)
{
    gt_t *g = (gt_t *)t;
    if (g->done)
        return VN_ERR_AGAIN; /* the last result has not been collected */
    size_t need = 5 + req->body_len;
    if (need > g->cap) {
        free(g->frame);
        g->frame = vn_xmalloc(need);
        g->cap = need;
    }
    g->frame[0] = g->gzip ? 1 : 0; /* the sink gzips exactly when it is configured to */
    uint32_t n = (uint32_t)req->body_len;
    g->frame[1] = (uint8_t)(n >> 24);
    g->frame[2] = (uint8_t)(n >> 16);
    g->frame[3] = (uint8_t)(n >> 8);
    g->frame[4] = (uint8_t)n;
    memcpy(g->frame + 5, req->body, req->body_len);

    vn_grpc_result_t gr;
    double deadline = vn_clock_mono_s() + (double)req->timeout_ms / 1000.0;
    vn_err_t err = vn_h2_client_call(g->c, EXPORT_PATH, g->frame, need, deadline, &gr);
    vn_http_result_t *r = &g->res;
    memset(r, 0, sizeof *r);
    if (err == VN_OK) {
        r->outcome = VN_HTTP_RESPONSE;
        r->status = 200;
    } else if (gr.transport == VN_OK || (gr.transport == VN_ERR_PROTO && gr.http_status)) {
        /* an answer: a gRPC status, or an HTTP status from something that is not a gRPC server */
        r->outcome = VN_HTTP_RESPONSE;
        if (gr.grpc_status >= 0)
            r->status = transient(gr.grpc_status) ? 503 : 400;
        else
            r->status = gr.http_status && gr.http_status != 200 ? gr.http_status : 502;
        char msg[VN_HTTP_EXCERPT_MAX + 1];
        snprintf(msg, sizeof msg, "grpc-status %d: %.180s", gr.grpc_status, gr.grpc_message);
        set_excerpt(r, msg);
    } else {
        r->outcome = !gr.submitted                       ? VN_HTTP_CONNECT
                     : gr.transport == VN_ERR_TIMEOUT ? VN_HTTP_TIMEOUT
                                                      : VN_HTTP_IO;
        snprintf(r->error, sizeof r->error, "grpc: %s", vn_strerror(gr.transport));
    }
    g->tag = tag;
    g->done = true;
    return VN_OK;
}

static void gt_wait(vn_http_transport_t *t, int timeout_ms)
{
    gt_t *g = (gt_t *)t;
    if (g->done)
        return;
    struct pollfd p = {.fd = g->efd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) > 0) {
        uint64_t v;
        if (read(g->efd, &v, sizeof v) < 0 && errno != EAGAIN)
            return;
    }
}

static bool gt_next_done(vn_http_transport_t *t, void **tag, vn_http_result_t *res)
{
    gt_t *g = (gt_t *)t;
    if (!g->done)
        return false;
    *tag = g->tag;
    *res = g->res;
    g->done = false;
    return true;
}

static void gt_wakeup(vn_http_transport_t *t)
{
    gt_t *g = (gt_t *)t;
    uint64_t one = 1;
    if (write(g->efd, &one, sizeof one) < 0) {
        /* the counter is already non-zero: the waiter wakes anyway */
    }
}

static void gt_abort_all(vn_http_transport_t *t)
{
    (void)t; /* calls are made inside start: nothing is ever left in flight */
}

static void gt_destroy(vn_http_transport_t *t)
{
    gt_t *g = (gt_t *)t;
    vn_h2_client_free(g->c);
    if (g->efd >= 0)
        close(g->efd);
    free(g->frame);
    free(g);
}

static const vn_http_transport_ops_t gt_ops = {
    .start = gt_start,
    .wait = gt_wait,
    .next_done = gt_next_done,
    .wakeup = gt_wakeup,
    .abort_all = gt_abort_all,
    .destroy = gt_destroy,
};

static vn_err_t cfg_err(char *errbuf, size_t errcap, const char *what, const char *v)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "otlp sink (protocol grpc): %s \"%.80s\"", what, v);
    return VN_ERR_CONFIG;
}

/* The TLS client context: PEM files read here (the config checked them readable). */
static vn_err_t tls_ctx(const vn_otlp_tls_files_t *f, SSL_CTX **ctx, char *errbuf, size_t errcap)
{
    char *pem[3] = {NULL, NULL, NULL};
    const char *path[3] = {f ? f->ca_file : NULL, f ? f->cert_file : NULL, f ? f->key_file : NULL};
    const char *key[3] = {"tls_ca_file", "tls_cert_file", "tls_key_file"};
    vn_err_t err = VN_OK;
    for (int i = 0; i < 3 && err == VN_OK; i++)
        if (path[i] && !(pem[i] = vn_tls_file_read(key[i], path[i], errbuf, errcap)))
            err = VN_ERR_CONFIG;
    if (err == VN_OK)
        err = vn_tls_client_ctx_new(pem[0], pem[1], pem[2], ctx, errbuf, errcap);
    for (int i = 0; i < 3; i++)
        free(pem[i]);
    return err == VN_OK ? VN_OK : VN_ERR_CONFIG;
}

vn_err_t vn_otlp_grpc_transport_new(const char *endpoint, bool gzip, char *const *headers, size_t nheaders,
                                    const vn_otlp_tls_files_t *tls_files,
                                    vn_http_transport_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    bool tls = strncasecmp(endpoint, "https://", 8) == 0;
    const char *addr = endpoint + (tls ? 8 : strncasecmp(endpoint, "http://", 7) == 0 ? 7 : 0);
    if (addr == endpoint || !strchr(addr, ':'))
        return cfg_err(errbuf, errcap, "config key endpoint: want http://host:port or https://host:port, got",
                       endpoint);
    SSL_CTX *ctx = NULL;
    if (tls && tls_ctx(tls_files, &ctx, errbuf, errcap) != VN_OK)
        return VN_ERR_CONFIG;
    vn_h2_client_t *c = NULL;
    vn_err_t err = vn_h2_client_new(addr, ctx, NULL, &c);
    if (ctx)
        SSL_CTX_free(ctx); /* the client holds its own reference */
    if (err != VN_OK)
        return cfg_err(errbuf, errcap, "config key endpoint: not host:port", endpoint);
    if (gzip && vn_h2_client_set_header(c, "grpc-encoding", "gzip") != VN_OK)
        err = cfg_err(errbuf, errcap, "cannot set header", "grpc-encoding");
    for (size_t i = 0; err == VN_OK && i < nheaders; i++) {
        const char *colon = strchr(headers[i], ':');
        char name[64];
        size_t nl = colon ? (size_t)(colon - headers[i]) : 0;
        if (!colon || nl >= sizeof name) {
            err = cfg_err(errbuf, errcap, "config key headers: name too long for gRPC metadata", headers[i]);
            break;
        }
        for (size_t k = 0; k < nl; k++)
            name[k] = (char)tolower((unsigned char)headers[i][k]);
        name[nl] = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        if (vn_h2_client_set_header(c, name, v) != VN_OK)
            err = cfg_err(errbuf, errcap,
                          "config key headers: gRPC metadata allows 4 headers (3 with gzip), names under 48 and "
                          "values under 80 bytes; refused",
                          name);
    }
    if (err != VN_OK) {
        vn_h2_client_free(c);
        return err;
    }
    gt_t *g = vn_xcalloc(1, sizeof *g);
    g->base.ops = &gt_ops;
    g->c = c;
    g->gzip = gzip;
    g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->efd < 0) {
        gt_destroy(&g->base);
        return cfg_err(errbuf, errcap, "eventfd failed:", strerror(errno));
    }
    *out = &g->base;
    return VN_OK;
}
