/*
 * h2_server_stream.c - the gRPC server's calls: one per HTTP/2 stream (see h2_server.h for
 * what it serves). The nghttp2 callbacks of every server session live here.
 *
 * Calls live in a per-connection list so that a closed connection (or the
 * server stopping) can close every call nghttp2 never reported closed.
 *
 * A call's life on the stream: request HEADERS -> open (method, path and
 * content-type checked first) -> DATA fed to a vn_grpc_reader, one
 * handler.message per gRPC message -> END_STREAM -> handler.finish ->
 * response. An error at any step answers at once with Trailers-Only; the
 * client's remaining DATA is then discarded (and it is told to stop with
 * RST_STREAM NO_ERROR once our END_STREAM has gone out).
 *
 * Reassembly accounting: every call's reader reserves through budget_reserve
 * (ctx = the call), which charges the connection and the server; see
 * h2_server.h for the policy.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "forward/h2_server_internal.h"
#include "forward/hops.h"

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static ssize_t empty_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
                          nghttp2_data_source *src, void *ud)
{
    (void)ud;
    call_t *c = src->ptr;
    const vn_grpc_handler_t *h = &c->conn->srv->o.handler;
    const uint8_t *resp = NULL;
    size_t rlen = h->response && c->hctx ? h->response(c->hctx, &resp) : 0;
    if (rlen > VN_H2_MAX_RESPONSE)
        rlen = 0;
    if (c->body_sent || length < VN_GRPC_PREFIX + rlen) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        return 0;
    }
    vn_grpc_prefix(buf, (uint32_t)rlen); /* 0: google.protobuf.Empty, a zero-length message */
    if (rlen)
        memcpy(buf + VN_GRPC_PREFIX, resp, rlen);
    c->body_sent = true;
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv tr[] = {NV("grpc-status", "0")};
    if (nghttp2_submit_trailer(s, sid, tr, 1) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)(VN_GRPC_PREFIX + rlen);
}

static void respond_ok(call_t *c)
{
    if (c->responded)
        return;
    c->responded = true;
    c->final = VN_GRPC_OK;
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider p = {.source = {.ptr = c}, .read_callback = empty_body};
    nghttp2_submit_response(c->conn->sess, c->sid, h, 2, &p);
}

/* Trailers-Only: status and message in the one HEADERS frame that ends the stream. */
void vn_h2s__respond_error(call_t *c, vn_grpc_status_t st, const char *msg)
{
    if (c->responded)
        return;
    c->responded = true;
    c->final = st;
    char code[16], enc[512];
    snprintf(code, sizeof code, "%d", (int)st);
    vn_grpc_message_encode(msg ? msg : "", enc, sizeof enc);
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc"), NV("grpc-status", code),
                      NV("grpc-message", enc)};
    nghttp2_submit_response(c->conn->sess, c->sid, h, 4, NULL);
}

/* Not gRPC at all: a plain HTTP status and no body. */
static void respond_http(call_t *c, const char *status)
{
    if (c->responded)
        return;
    c->responded = true;
    c->final = VN_GRPC_UNKNOWN;
    nghttp2_nv h[] = {NV(":status", status)};
    nghttp2_submit_response(c->conn->sess, c->sid, h, 1, NULL);
}

#undef NV

void vn_h2s__call_close(call_t *c)
{
    const vn_grpc_handler_t *h = &c->conn->srv->o.handler;
    if (c->hctx)
        h->close(c->hctx, c->responded ? c->final : VN_GRPC_CANCELLED);
    c->hctx = NULL;
    vn_grpc_reader_destroy(&c->reader);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->conn->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->conn->ncalls--;
    free(c);
}

/* Ends the largest partial message of cn to give its bytes back. */
static void conn_cut_back(conn_t *cn)
{
    call_t *big = NULL;
    for (call_t *c = cn->calls; c; c = c->next)
        if (c->reader.held && (!big || c->reader.held > big->reader.held))
            big = c;
    if (!big)
        return;
    vn_h2s__respond_error(big, VN_GRPC_RESOURCE_EXHAUSTED, "reassembly budget: connection over its fair share");
    vn_grpc_reader_drop(&big->reader);
    big->partial_since = 0;
    BUMP(cn->srv, grpc_reassembly_refused);
    vn_h2s__set_want_out(cn, true); /* the answer goes out when the loop next looks at cn */
}

/* The server-wide budget is short for `asker`: take space back from the
 * connection holding the most if it holds more than its fair share. */
static bool reclaim(struct vn_h2_server *s, conn_t *asker)
{
    conn_t *top = NULL;
    for (conn_t *cn = s->conns; cn; cn = cn->next)
        if (cn != asker && cn->held && (!top || cn->held > top->held))
            top = cn;
    size_t holders = s->nholding + (asker->held ? 0 : 1);
    if (!top || top->held <= s->o.reassembly_budget / holders)
        return false;
    size_t before = top->held;
    conn_cut_back(top);
    return top->held < before;
}

static bool budget_reserve(void *ctx, size_t n)
{
    call_t *c = ctx;
    conn_t *cn = c->conn;
    struct vn_h2_server *s = cn->srv;
    if (cn->held + n > s->o.conn_reassembly) {
        BUMP(s, grpc_reassembly_refused);
        return false;
    }
    while (s->held + n > s->o.reassembly_budget) {
        if (!reclaim(s, cn)) {
            BUMP(s, grpc_reassembly_refused);
            return false;
        }
    }
    if (!cn->held)
        s->nholding++;
    cn->held += n;
    s->held += n;
    return true;
}

static void budget_release(void *ctx, size_t n)
{
    call_t *c = ctx;
    conn_t *cn = c->conn;
    cn->held -= n;
    cn->srv->held -= n;
    if (!cn->held)
        cn->srv->nholding--;
}

static void call_open(call_t *c)
{
    struct vn_h2_server *s = c->conn->srv;
    if (!c->is_post) {
        respond_http(c, "405");
        return;
    }
    if (!c->is_grpc) {
        respond_http(c, "415");
        return;
    }
    vn_grpc_status_t st = VN_GRPC_UNIMPLEMENTED;
    const char *msg = "unknown method";
    if (!c->path_too_long && s->o.handler.open_meta)
        c->hctx = s->o.handler.open_meta(s->o.handler.ctx, c->path, &c->meta, &st, &msg);
    else if (!c->path_too_long)
        c->hctx = s->o.handler.open(s->o.handler.ctx, c->path, &st, &msg);
    if (!c->hctx)
        vn_h2s__respond_error(c, st, msg);
}

static vn_err_t on_message(void *ctx, const uint8_t *msg, size_t len)
{
    call_t *c = ctx;
    const char *why = NULL;
    c->got_messages = true;
    vn_grpc_status_t st = c->conn->srv->o.handler.message(c->hctx, msg, len, &why);
    if (st == VN_GRPC_OK)
        return VN_OK;
    vn_h2s__respond_error(c, st, why);
    return VN_ERR_PARSE;
}

static void call_end_of_input(call_t *c)
{
    c->remote_done = true;
    if (c->responded || !c->hctx)
        return;
    if (!vn_grpc_reader_idle(&c->reader)) {
        vn_h2s__respond_error(c, VN_GRPC_INTERNAL, "stream ended inside a message");
        return;
    }
    const char *msg = NULL;
    vn_grpc_status_t st = c->conn->srv->o.handler.finish(c->hctx, &msg);
    if (st == VN_GRPC_OK)
        respond_ok(c);
    else
        vn_h2s__respond_error(c, st, msg);
}

int64_t vn_h2_parse_interval_ms(const char *v, size_t len)
{
    int64_t sec = 0, ms = 0;
    size_t i = 0, digits = 0;
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
        if (digits >= 12)
            return 0; /* past year 33000: not a tick */
        sec = sec * 10 + (v[i] - '0');
    }
    if (digits == 0)
        return 0;
    if (i < len) {
        if (v[i++] != '.' || i == len || len - i > 3)
            return 0;
        int64_t scale = 100;
        for (; i < len; i++, scale /= 10) {
            if (v[i] < '0' || v[i] > '9')
                return 0;
            ms += (v[i] - '0') * scale;
        }
    }
    return sec * 1000 + ms;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    conn_t *cn = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    call_t *c = vn_xcalloc(1, sizeof *c);
    c->conn = cn;
    c->sid = f->hd.stream_id;
    vn_grpc_budget_t b = {budget_reserve, budget_release, c};
    vn_grpc_reader_init(&c->reader, cn->srv->o.max_message, &b);
    cn->ncalls++;
    c->next = cn->calls;
    if (cn->calls)
        cn->calls->prev = c;
    cn->calls = c;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, c);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    call_t *c = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!c)
        return 0;
    if (nlen == 7 && memcmp(name, ":method", 7) == 0) {
        c->is_post = vlen == 4 && memcmp(value, "POST", 4) == 0;
    } else if (nlen == 5 && memcmp(name, ":path", 5) == 0) {
        if (vlen >= sizeof c->path) {
            c->path_too_long = true;
        } else {
            memcpy(c->path, value, vlen);
            c->path[vlen] = '\0';
        }
    } else if (nlen == 12 && memcmp(name, "content-type", 12) == 0) {
        /* "application/grpc" optionally followed by "+proto" or ";..." */
        c->is_grpc = vlen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                     (vlen == 16 || value[16] == '+' || value[16] == ';');
    } else if (nlen == sizeof VN_HOPS_HEADER - 1 && memcmp(name, VN_HOPS_HEADER, nlen) == 0) {
        unsigned h = vlen && vlen <= 9 ? 0 : UINT_MAX; /* malformed reads as too many: refused */
        for (size_t i = 0; i < vlen && h != UINT_MAX; i++)
            h = value[i] >= '0' && value[i] <= '9' ? h * 10 + (unsigned)(value[i] - '0') : UINT_MAX;
        c->meta.hops = h;
    } else if (nlen == sizeof VN_PROXY_ID_HEADER - 1 && memcmp(name, VN_PROXY_ID_HEADER, nlen) == 0) {
        if (vlen < sizeof c->meta.proxy_id) {
            memcpy(c->meta.proxy_id, value, vlen);
            c->meta.proxy_id[vlen] = '\0';
        }
    } else if (nlen == sizeof VN_INTERVAL_HEADER - 1 && memcmp(name, VN_INTERVAL_HEADER, nlen) == 0) {
        c->meta.interval_ms = vn_h2_parse_interval_ms((const char *)value, vlen);
    } else if (nlen == 10 && memcmp(name, ":authority", 10) == 0) {
        if (vlen < sizeof c->meta.authority) {
            memcpy(c->meta.authority, value, vlen);
            c->meta.authority[vlen] = '\0';
        }
    }
    return 0;
}

/* Idle time counts frames, not bytes: keepalive PING answers do not keep a connection "busy". */
static int on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *ud)
{
    (void)s;
    conn_t *cn = ud;
    if (hd->type != NGHTTP2_PING)
        cn->last_frame = cn->last_active;
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    conn_t *cn = ud;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
        cn->handshake_done = true;
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
        vn_h2s__ping_acked(cn, f->ping.opaque_data);
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    call_t *c = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!c)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
        call_open(c);
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        call_end_of_input(c);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    call_t *c = nghttp2_session_get_stream_user_data(s, sid);
    if (!c || c->responded || !c->hctx)
        return 0; /* after an error the rest of the stream is discarded */
    size_t before = c->reader.messages;
    if (vn_grpc_reader_feed(&c->reader, data, len, on_message, c) != VN_OK) {
        switch (c->reader.error) {
        case VN_GRPC_RESOURCE_EXHAUSTED:
            /* need is only set once the announced length passed the cap */
            vn_h2s__respond_error(c, c->reader.error,
                                  c->reader.need ? "reassembly budget exhausted" : "message larger than the limit");
            break;
        case VN_GRPC_UNIMPLEMENTED:
            vn_h2s__respond_error(c, c->reader.error, "compressed messages are not supported");
            break;
        default: vn_h2s__respond_error(c, VN_GRPC_INTERNAL, "bad message framing"); break;
        }
        vn_grpc_reader_destroy(&c->reader); /* the partial bytes are of no use any more */
        c->partial_since = 0;
        return 0;
    }
    if (vn_grpc_reader_idle(&c->reader))
        c->partial_since = 0;
    else if (!c->partial_since || c->reader.messages != before)
        c->partial_since = now_s(c->conn->srv);
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    call_t *c = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (c && !c->remote_done)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    (void)code;
    (void)ud;
    call_t *c = nghttp2_session_get_stream_user_data(s, sid);
    if (c) {
        nghttp2_session_set_stream_user_data(s, sid, NULL);
        vn_h2s__call_close(c);
    }
    return 0;
}

/* After a read wake-up: tell handlers that want it that their calls are caught up. */
void vn_h2s__conn_drained(conn_t *cn)
{
    void (*fn)(void *) = cn->srv->o.handler.drained;
    if (!fn)
        return;
    for (call_t *c = cn->calls; c; c = c->next) {
        if (c->got_messages && c->hctx && !c->responded)
            fn(c->hctx);
        c->got_messages = false;
    }
}

int vn_h2s__session_new(conn_t *cn)
{
    nghttp2_session_callbacks *cb;
    int rc = nghttp2_session_callbacks_new(&cb);
    if (rc != 0)
        return rc;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    rc = nghttp2_session_server_new(&cn->sess, cb, cn);
    nghttp2_session_callbacks_del(cb);
    return rc;
}
