/*
 * h2_server.c - the gRPC server loop (see h2_server.h for what it serves).
 *
 * One thread, one epoll set: the listening socket, an eventfd that asks the
 * thread to stop, and every connection (level-triggered; EPOLLOUT only while
 * output is pending). Each connection is an nghttp2 server session in memory
 * mode, like the client. Calls live in a per-connection list so that a
 * closed connection (or the server stopping) can close every call nghttp2
 * never reported closed.
 *
 * A call's life on the stream: request HEADERS -> open (method, path and
 * content-type checked first) -> DATA fed to a vn_grpc_reader, one
 * handler.message per gRPC message -> END_STREAM -> handler.finish ->
 * response. An error at any step answers at once with Trailers-Only; the
 * client's remaining DATA is then discarded (and it is told to stop with
 * RST_STREAM NO_ERROR once our END_STREAM has gone out).
 */
#include "forward/h2_server.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "forward/hops.h"
#include "core/xalloc.h"
#include "listen/addr.h"

typedef struct conn conn_t;

typedef struct call {
    struct call *prev, *next; /* conn->calls */
    conn_t *conn;
    int32_t sid;
    char path[256];
    bool path_too_long, is_post, is_grpc;
    vn_grpc_meta_t meta;
    void *hctx;        /* handler's call context, NULL until opened */
    bool responded;    /* our response is submitted: ignore further input */
    vn_grpc_status_t final; /* what it was answered with */
    bool remote_done;  /* the client ended its stream */
    bool body_sent;    /* OK response: the Empty message went out */
    bool got_messages; /* messages since the last handler.drained */
    vn_grpc_reader_t reader;
} call_t;

struct conn {
    struct conn *prev, *next;
    struct vn_h2_server *srv;
    int fd;
    nghttp2_session *sess;
    const uint8_t *out;
    size_t out_len;
    bool want_out; /* EPOLLOUT registered */
    double last_active;
    call_t *calls;
};

struct vn_h2_server {
    vn_h2_server_opts_t o;
    char address[300];
    int lfd, efd, epfd;
    int port;
    pthread_t thread;
    conn_t *conns;
    size_t nconns;
    size_t budget_used;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- responses ---- */

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static ssize_t empty_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
                          nghttp2_data_source *src, void *ud)
{
    (void)ud;
    call_t *c = src->ptr;
    if (c->body_sent || length < VN_GRPC_PREFIX) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        return 0;
    }
    vn_grpc_prefix(buf, 0); /* google.protobuf.Empty: a zero-length message */
    c->body_sent = true;
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv tr[] = {NV("grpc-status", "0")};
    if (nghttp2_submit_trailer(s, sid, tr, 1) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return VN_GRPC_PREFIX;
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
static void respond_error(call_t *c, vn_grpc_status_t st, const char *msg)
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

/* ---- calls ---- */

static void call_close(call_t *c)
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
    free(c);
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
        respond_error(c, st, msg);
}

static vn_err_t on_message(void *ctx, const uint8_t *msg, size_t len)
{
    call_t *c = ctx;
    const char *why = NULL;
    c->got_messages = true;
    vn_grpc_status_t st = c->conn->srv->o.handler.message(c->hctx, msg, len, &why);
    if (st == VN_GRPC_OK)
        return VN_OK;
    respond_error(c, st, why);
    return VN_ERR_PARSE;
}

static void call_end_of_input(call_t *c)
{
    c->remote_done = true;
    if (c->responded || !c->hctx)
        return;
    if (!vn_grpc_reader_idle(&c->reader)) {
        respond_error(c, VN_GRPC_INTERNAL, "stream ended inside a message");
        return;
    }
    const char *msg = NULL;
    vn_grpc_status_t st = c->conn->srv->o.handler.finish(c->hctx, &msg);
    if (st == VN_GRPC_OK)
        respond_ok(c);
    else
        respond_error(c, st, msg);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    conn_t *cn = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    call_t *c = vn_xcalloc(1, sizeof *c);
    c->conn = cn;
    c->sid = f->hd.stream_id;
    vn_grpc_reader_init(&c->reader, cn->srv->o.max_message, &cn->srv->budget_used, cn->srv->o.reassembly_budget);
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
    } else if (nlen == 10 && memcmp(name, ":authority", 10) == 0) {
        if (vlen < sizeof c->meta.authority) {
            memcpy(c->meta.authority, value, vlen);
            c->meta.authority[vlen] = '\0';
        }
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
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
    if (vn_grpc_reader_feed(&c->reader, data, len, on_message, c) != VN_OK && !c->responded) {
        switch (c->reader.error) {
        case VN_GRPC_RESOURCE_EXHAUSTED: respond_error(c, c->reader.error, "message larger than the limit"); break;
        case VN_GRPC_UNIMPLEMENTED: respond_error(c, c->reader.error, "compressed messages are not supported"); break;
        default: respond_error(c, VN_GRPC_INTERNAL, "bad message framing"); break;
        }
    }
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
        call_close(c);
    }
    return 0;
}

/* ---- connections ---- */

static void conn_free(conn_t *cn)
{
    struct vn_h2_server *s = cn->srv;
    while (cn->calls)
        call_close(cn->calls);
    nghttp2_session_del(cn->sess);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, cn->fd, NULL);
    close(cn->fd);
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        s->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    s->nconns--;
    free(cn);
}

static void set_want_out(conn_t *cn, bool want)
{
    if (cn->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = cn};
    epoll_ctl(cn->srv->epfd, EPOLL_CTL_MOD, cn->fd, &ev);
    cn->want_out = want;
}

/* Writes what nghttp2 has; false when the connection must be closed. */
static bool conn_flush(conn_t *cn)
{
    for (;;) {
        if (!cn->out_len) {
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(cn->sess, &d);
            if (n < 0)
                return false;
            if (n == 0)
                break;
            cn->out = d;
            cn->out_len = (size_t)n;
        }
        ssize_t w = send(cn->fd, cn->out, cn->out_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            return false;
        }
        cn->out += w;
        cn->out_len -= (size_t)w;
    }
    set_want_out(cn, cn->out_len > 0);
    return cn->out_len > 0 || nghttp2_session_want_read(cn->sess) || nghttp2_session_want_write(cn->sess);
}

/* Reads what the socket has (at most 512 KiB per wake-up, so one busy
 * connection cannot starve the others; epoll is level-triggered and comes
 * back for the rest); false when the connection must be closed. */
static bool conn_read(conn_t *cn)
{
    uint8_t buf[32768];
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(cn->fd, buf, sizeof buf, 0);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        if (n == 0)
            return false;
        cn->last_active = now_s();
        if (nghttp2_session_mem_recv(cn->sess, buf, (size_t)n) < 0)
            return false;
        if ((size_t)n < sizeof buf)
            return true;
    }
    return true;
}

/* After a read wake-up: tell handlers that want it that their calls are caught up. */
static void conn_drained(conn_t *cn)
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

static void conn_accept(struct vn_h2_server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (s->nconns >= s->o.max_connections) {
            close(fd);
            VN_LOG(WARN, "event=grpc_connection_refused reason=max_connections max=%zu", s->o.max_connections);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *cn = vn_xcalloc(1, sizeof *cn);
        cn->srv = s;
        cn->fd = fd;
        cn->last_active = now_s();
        nghttp2_session_callbacks *cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
        nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
        int rc = nghttp2_session_server_new(&cn->sess, cb, cn);
        nghttp2_session_callbacks_del(cb);
        if (rc != 0) {
            close(fd);
            free(cn);
            continue;
        }
        /* Large windows: locals stream a whole interval per call. */
        nghttp2_settings_entry iv[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->o.max_streams},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
            {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16 * 1024},
        };
        nghttp2_submit_settings(cn->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
        nghttp2_session_set_local_window_size(cn->sess, NGHTTP2_FLAG_NONE, 0, 8 << 20);
        cn->next = s->conns;
        if (s->conns)
            s->conns->prev = cn;
        s->conns = cn;
        s->nconns++;
        if (s->o.stats)
            vn_stats_add(&s->o.stats->grpc_connections_total, 1);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cn};
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (!conn_flush(cn))
            conn_free(cn);
    }
}

static void sweep_idle(struct vn_h2_server *s)
{
    double now = now_s();
    for (conn_t *cn = s->conns, *next; cn; cn = next) {
        next = cn->next;
        if (now - cn->last_active > s->o.idle_timeout_s) {
            VN_LOG(DEBUG, "event=grpc_connection_idle_closed");
            /* GOAWAY first: a client about to reuse the connection learns it is gone. */
            nghttp2_session_terminate_session(cn->sess, NGHTTP2_NO_ERROR);
            (void)conn_flush(cn);
            conn_free(cn);
        }
    }
}

static void *server_main(void *arg)
{
    struct vn_h2_server *s = arg;
    struct epoll_event evs[64];
    double last_sweep = now_s();
    for (;;) {
        int n = epoll_wait(s->epfd, evs, 64, 1000);
        bool stop = false;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &s->lfd) {
                conn_accept(s);
            } else if (p == &s->efd) {
                stop = true;
            } else {
                conn_t *cn = p;
                bool ok = true;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    ok = conn_read(cn);
                    conn_drained(cn);
                }
                if (ok)
                    ok = conn_flush(cn);
                if (!ok)
                    conn_free(cn);
            }
        }
        if (stop)
            break;
        if (now_s() - last_sweep >= 1.0) {
            sweep_idle(s);
            last_sweep = now_s();
        }
    }
    while (s->conns)
        conn_free(s->conns);
    return NULL;
}

vn_err_t vn_h2_server_start(const vn_h2_server_opts_t *opts, vn_h2_server_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    char url[320];
    if (snprintf(url, sizeof url, "tcp://%s", opts->address) >= (int)sizeof url) {
        snprintf(errbuf, errcap, "grpc_address too long");
        return VN_ERR_CONFIG;
    }
    vn_addr_t a;
    if (vn_addr_parse(url, &a, errbuf, errcap) != VN_OK || a.kind != VN_ADDR_TCP)
        return VN_ERR_CONFIG;
    int lfd = vn_addr_bind(&a, false, 0, errbuf, errcap);
    if (lfd < 0)
        return VN_ERR_IO;
    struct vn_h2_server *s = vn_xcalloc(1, sizeof *s);
    s->o = *opts;
    snprintf(s->address, sizeof s->address, "%s", opts->address);
    s->o.address = s->address;
    if (!s->o.max_message)
        s->o.max_message = VN_GRPC_MAX_MESSAGE;
    if (!s->o.reassembly_budget)
        s->o.reassembly_budget = 256u << 20;
    if (!s->o.max_connections)
        s->o.max_connections = 4096;
    if (!s->o.max_streams)
        s->o.max_streams = 32;
    if (!(s->o.idle_timeout_s > 0))
        s->o.idle_timeout_s = 300;
    s->lfd = lfd;
    s->port = vn_addr_bound_port(lfd);
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->efd < 0 || s->epfd < 0) {
        snprintf(errbuf, errcap, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->lfd};
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &s->efd;
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        snprintf(errbuf, errcap, "cannot start the gRPC server thread");
        goto fail;
    }
    *out = s;
    return VN_OK;
fail:
    if (s->efd >= 0)
        close(s->efd);
    if (s->epfd >= 0)
        close(s->epfd);
    close(lfd);
    free(s);
    return VN_ERR_IO;
}

int vn_h2_server_port(const vn_h2_server_t *s) { return s->port; }

void vn_h2_server_stop(vn_h2_server_t *s)
{
    if (!s)
        return;
    uint64_t one = 1;
    ssize_t w = write(s->efd, &one, sizeof one);
    (void)w;
    pthread_join(s->thread, NULL);
    close(s->lfd);
    close(s->efd);
    close(s->epfd);
    free(s);
}
