/*
 * h2_client.c - the gRPC client on libnghttp2 (see h2_client.h): its life cycle and the
 * unary-style calls. The connection and the pump are in h2_client_conn.c, long-lived
 * streams in h2_client_stream.c (h2_client_internal.h lists what they share).
 *
 * The session runs in memory mode (nghttp2_session_mem_send/mem_recv) over
 * a non-blocking socket, optionally wrapped in OpenSSL, so every wait is a
 * poll() with a bound. One pass of the pump:
 *
 *   write: take frames from nghttp2 until it has none or the socket is full
 *          (a partly written chunk stays in out/out_len for the next pass)
 *   wait:  poll for input, and for output while a chunk is pending
 *   read:  feed what the socket (or TLS layer) has to nghttp2
 *
 * The request body is served by one data source for both call shapes: it
 * serves the current buffer, ends the stream once `ending` is set and the
 * buffer is used up (a unary call sets it at the start), and otherwise
 * answers NGHTTP2_ERR_DEFERRED until the owner hands the next buffer.
 * nghttp2 copies body bytes into its own frames when it asks for them, so
 * "taken" (the buffer may be reused) is known exactly. The response is
 * collected by header/data/close callbacks into the call's result.
 */
#include "forward/h2_client.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hostport.h"
#include "core/xalloc.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client_internal.h"

void vn_h2c__why(vn_h2_client_t *c, const char *fmt, ...)
{
    if (c->why[0])
        return; /* the first reason is the one worth reporting */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
}

void vn_h2c__timing_defaults(vn_h2_client_timing_t *t, const vn_h2_client_timing_t *in)
{
    vn_h2_client_timing_t z = {0};
    if (!in)
        in = &z;
    t->ping_interval_s = in->ping_interval_s > 0 ? in->ping_interval_s : 310;
    t->ping_timeout_s = in->ping_timeout_s > 0 ? in->ping_timeout_s : 20;
    t->stall_timeout_s = in->stall_timeout_s > 0 ? in->stall_timeout_s : 30;
    t->heartbeat_s = in->heartbeat_s > 0 ? in->heartbeat_s : 60;
}

/* Before reusing an idle connection: takes in whatever arrived (GOAWAY, EOF). */
static void check_idle(vn_h2_client_t *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 0) > 0 && vn_h2c__read_in(c) != VN_OK)
        c->dead = true;
    if (!nghttp2_session_want_read(c->sess))
        c->dead = true;
}

static vn_err_t one_call(vn_h2_client_t *c, const char *path, double deadline, vn_grpc_result_t *res,
                         bool *refused)
{
    *refused = false;
    if (c->sess)
        check_idle(c);
    if (!c->sess || c->dead) {
        vn_err_t e = vn_h2c__connect_all(c, deadline);
        if (e != VN_OK)
            return e;
    }
    char timeout[10];
    vn_grpc_timeout_format(deadline - vn_clock_mono_s(), timeout);
    c->body_off = 0;
    c->ending = true;
    c->res = res;
    res->submitted = true;
    vn_err_t e = vn_h2c__submit(c, path, timeout);
    while (!c->closed && e == VN_OK) {
        e = vn_h2c__flush_out(c);
        if (e != VN_OK || c->closed)
            break;
        int ms = vn_clock_ms_until(deadline);
        e = ms == 0 ? VN_ERR_TIMEOUT : vn_h2c__wait_io(c, ms, -1, NULL);
    }
    if (e == VN_OK)
        e = vn_h2c__flush_out(c); /* e.g. the WINDOW_UPDATE or SETTINGS ACK behind the response */
    if (!c->closed) {
        if (e == VN_ERR_TIMEOUT && c->sess && c->sid > 0) {
            nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, c->sid, NGHTTP2_CANCEL);
            (void)vn_h2c__flush_out(c);
        }
        c->dead = true; /* timed out or broken: a fresh connection next time */
        return e == VN_OK ? VN_ERR_IO : e;
    }
    if (res->reset_code == NGHTTP2_REFUSED_STREAM && !c->got_headers)
        *refused = true; /* not processed by the server: safe to send again */
    if (res->reset_code != NGHTTP2_NO_ERROR && res->grpc_status < 0)
        return *refused ? VN_ERR_IO : VN_ERR_PROTO;
    return VN_OK;
}

vn_err_t vn_h2_client_call(vn_h2_client_t *c, const char *path, const uint8_t *body, size_t len, double deadline,
                           vn_grpc_result_t *res)
{
    if (c->streaming) { /* a failed or finished stream's connection is not reused */
        vn_h2c__disconnect(c);
        c->streaming = c->failed = false;
    }
    c->why[0] = '\0';
    c->body = body;
    c->body_len = len;
    vn_err_t e = VN_ERR_IO;
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(res, 0, sizeof *res);
        res->grpc_status = -1;
        bool refused;
        e = one_call(c, path, deadline, res, &refused);
        c->res = NULL;
        c->sid = 0;
        if (!(refused && vn_clock_mono_s() < deadline))
            break;
        c->dead = true;
    }
    c->body = NULL;
    c->body_len = c->body_off = 0;
    res->transport = e;
    if (e != VN_OK)
        return e;
    if (res->http_status != 200 || res->grpc_status != VN_GRPC_OK)
        return VN_ERR_PROTO;
    return VN_OK;
}

const char *vn_h2_client_error(const vn_h2_client_t *c) { return c->why[0] ? c->why : "no error"; }

vn_err_t vn_h2_client_new(const char *addr, SSL_CTX *tls, const char *server_name, vn_h2_client_t **out)
{
    *out = NULL;
    vn_h2_client_t *c = vn_xcalloc(1, sizeof *c);
    c->fd = -1;
    if (vn_hostport_split(addr, false, c->host, sizeof c->host, c->port, sizeof c->port) != VN_OK) {
        free(c);
        return VN_ERR_CONFIG;
    }
    snprintf(c->authority, sizeof c->authority, "%s", addr);
    if (server_name && server_name[0])
        c->server_name = vn_xstrdup(server_name);
    if (tls) {
        SSL_CTX_up_ref(tls);
        c->tls = tls;
    }
    vn_h2c__timing_defaults(&c->t, NULL);
    *out = c;
    return VN_OK;
}

void vn_h2_client_free(vn_h2_client_t *c)
{
    if (!c)
        return;
    vn_h2c__disconnect(c);
    if (c->tls)
        SSL_CTX_free(c->tls);
    free(c->server_name);
    free(c);
}

vn_err_t vn_h2_client_set_header(vn_h2_client_t *c, const char *name, const char *value)
{
    if (!name || strlen(name) >= sizeof c->xh[0].name || (value && strlen(value) >= sizeof c->xh[0].value))
        return VN_ERR_CONFIG;
    size_t i = 0;
    while (i < c->nxh && strcmp(c->xh[i].name, name) != 0)
        i++;
    if (!value) {
        if (i < c->nxh)
            c->xh[i] = c->xh[--c->nxh];
        return VN_OK;
    }
    if (i == c->nxh) {
        if (c->nxh == VN_H2_CLIENT_MAX_HEADERS)
            return VN_ERR_CONFIG;
        c->nxh++;
    }
    snprintf(c->xh[i].name, sizeof c->xh[i].name, "%s", name);
    snprintf(c->xh[i].value, sizeof c->xh[i].value, "%s", value);
    return VN_OK;
}
