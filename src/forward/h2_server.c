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
 *
 * Connections sit in one list in accept order. A connection closed while the
 * loop may still hold its pointer in this wake-up's event array (evicted on
 * accept, closed by the sweep) is only unlinked and shut (conn_kill) and put
 * in a graveyard freed at the end of the wake-up (reap).
 *
 * Reassembly accounting: every call's reader reserves through budget_reserve
 * (ctx = the call), which charges the connection and the server; see
 * h2_server.h for the policy.
 *
 * Lifecycle (h2_server.h): each connection carries its own deadlines (age
 * limit with jitter, keepalive PING due or overdue, grace end); the sweep
 * acts on them and records the earliest one still ahead in next_due, which
 * bounds the loop's epoll wait, so a 2 s max_age is kept to the millisecond
 * rather than to the one-second sweep tick.
 *
 * TLS: the socket is driven non-blocking through SSL_do_handshake /
 * SSL_read / SSL_write. Until the handshake is done, both the read and the
 * write paths only advance it (EPOLLOUT while OpenSSL wants to write).
 */
#include "forward/h2_server.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/accept_backoff.h"
#include "core/clock.h"
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
    double partial_since; /* a split message began (CLOCK_MONOTONIC s), 0 = none pending */
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
    bool handshake_done; /* the client's first SETTINGS arrived */
    bool dead;           /* killed, waiting in the graveyard */
    double accepted_at, last_active; /* last_active: any input bytes (keepalive) */
    double last_frame;   /* a frame other than PING began (idle timeout) */
    SSL *ssl;            /* TLS, NULL for h2c */
    bool tls_done;       /* handshake complete */
    /* lifecycle: see h2_server.h */
    double age_at;       /* GOAWAY due (jittered max_age); 0 = never */
    int drain;           /* DRAIN_* */
    double ka_ping_at;   /* keepalive PING outstanding since; 0 = none */
    uint8_t peer[16];    /* source address (IPv4 as ::ffff:a.b.c.d) */
    size_t held;         /* reassembly bytes of this connection's calls */
    size_t ncalls;
    call_t *calls;
};

enum { DRAIN_NONE, DRAIN_NOTICE, DRAIN_FINAL };

/* PING payloads: which of our PINGs an ACK answers */
static const uint8_t PING_DRAIN[8] = {'v', 'n', '-', 'd', 'r', 'a', 'i', 'n'};
static const uint8_t PING_KEEPALIVE[8] = {'v', 'n', '-', 'k', 'e', 'e', 'p', 'a'};

struct vn_h2_server {
    vn_h2_server_opts_t o;
    uint64_t rng;    /* max_age jitter (splitmix64; no crypto need) */
    double next_due; /* earliest lifecycle deadline of any connection; 0 = none */
    double last_tls_log;
    uint64_t tls_unlogged;
    double (*clock)(void *); /* CLOCK_MONOTONIC seconds; tests replace it (vn_h2_server_set_clock) */
    void *clock_ctx;
    char address[300];
    int lfd, efd, epfd;
    int port;
    pthread_t thread;
    conn_t *conns, *conns_tail; /* accept order, oldest first */
    conn_t *graveyard;
    size_t nconns;
    size_t held;     /* reassembly bytes, all connections */
    size_t nholding; /* connections with held > 0 */
    /* accept back-off (see h2_server.h) */
    vn_accept_backoff_t backoff;
    double last_limit_log; /* refusal/eviction log lines: one per second */
    uint64_t limit_unlogged;
};

static double real_clock(void *ctx)
{
    (void)ctx;
    return vn_clock_mono_s();
}

static double now_s(const struct vn_h2_server *s) { return s->clock(s->clock_ctx); }

#define BUMP(s, field)                                                                                             \
    do {                                                                                                           \
        if ((s)->o.stats)                                                                                          \
            vn_stats_add(&(s)->o.stats->field, 1);                                                                 \
    } while (0)

/* ---- responses ---- */

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
    c->conn->ncalls--;
    free(c);
}

/* ---- reassembly budget ---- */

static void set_want_out(conn_t *cn, bool want);

/* Ends the largest partial message of cn to give its bytes back. */
static void conn_cut_back(conn_t *cn)
{
    call_t *big = NULL;
    for (call_t *c = cn->calls; c; c = c->next)
        if (c->reader.held && (!big || c->reader.held > big->reader.held))
            big = c;
    if (!big)
        return;
    respond_error(big, VN_GRPC_RESOURCE_EXHAUSTED, "reassembly budget: connection over its fair share");
    vn_grpc_reader_drop(&big->reader);
    big->partial_since = 0;
    BUMP(cn->srv, grpc_reassembly_refused);
    set_want_out(cn, true); /* the answer goes out when the loop next looks at cn */
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

/* The answer to the drain PING: the client has read the notice, so every
 * call it will ever send on this connection has reached us; name the last. */
static void drain_final(conn_t *cn)
{
    if (cn->drain != DRAIN_NOTICE)
        return;
    cn->drain = DRAIN_FINAL;
    nghttp2_submit_goaway(cn->sess, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(cn->sess),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    conn_t *cn = ud;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
        cn->handshake_done = true;
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK) &&
        memcmp(f->ping.opaque_data, PING_DRAIN, 8) == 0)
        drain_final(cn);
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
            respond_error(c, c->reader.error,
                          c->reader.need ? "reassembly budget exhausted" : "message larger than the limit");
            break;
        case VN_GRPC_UNIMPLEMENTED: respond_error(c, c->reader.error, "compressed messages are not supported"); break;
        default: respond_error(c, VN_GRPC_INTERNAL, "bad message framing"); break;
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
        call_close(c);
    }
    return 0;
}

/* ---- connections ---- */

/* Unlinks and shuts cn; the memory stays until reap (see the file comment). */
static void conn_kill(conn_t *cn)
{
    struct vn_h2_server *s = cn->srv;
    if (cn->dead)
        return;
    while (cn->calls)
        call_close(cn->calls);
    nghttp2_session_del(cn->sess);
    cn->sess = NULL;
    if (cn->ssl) {
        SSL_free(cn->ssl); /* no close_notify: the peer learns from GOAWAY or EOF */
        cn->ssl = NULL;
    }
    if (cn->fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, cn->fd, NULL);
        close(cn->fd);
        cn->fd = -1;
    }
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        s->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    else
        s->conns_tail = cn->prev;
    s->nconns--;
    cn->dead = true;
    cn->prev = NULL;
    cn->next = s->graveyard;
    s->graveyard = cn;
}

static void reap(struct vn_h2_server *s)
{
    while (s->graveyard) {
        conn_t *cn = s->graveyard;
        s->graveyard = cn->next;
        free(cn);
    }
}

static void set_want_out(conn_t *cn, bool want)
{
    if (cn->want_out == want || cn->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = cn};
    epoll_ctl(cn->srv->epfd, EPOLL_CTL_MOD, cn->fd, &ev);
    cn->want_out = want;
}

static bool conn_alive(conn_t *cn)
{
    return nghttp2_session_want_read(cn->sess) || nghttp2_session_want_write(cn->sess);
}

/* ---- socket I/O: plain or TLS ---- */

enum { IO_AGAIN = -1, IO_FAILED = -2 };

static void peer_text(const uint8_t peer[16], char *out, size_t cap)
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(peer, v4, 12) == 0)
        inet_ntop(AF_INET, peer + 12, out, (socklen_t)cap);
    else
        inet_ntop(AF_INET6, peer, out, (socklen_t)cap);
}

/* A failed TLS handshake: counted, and logged at most once a second with
 * OpenSSL's reason (a scanner or a client without a certificate must not
 * be able to fill the log). */
static void tls_failed(conn_t *cn)
{
    struct vn_h2_server *s = cn->srv;
    BUMP(s, grpc_tls_handshake_failures);
    double now = now_s(s);
    if (now - s->last_tls_log < 1.0) {
        s->tls_unlogged++;
        ERR_clear_error();
        return;
    }
    char why[256] = "connection closed during the handshake", peer[64];
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    ERR_clear_error();
    peer_text(cn->peer, peer, sizeof peer);
    VN_LOG(WARN, "event=grpc_tls_handshake_failed peer=%s reason=\"%s\" suppressed=%llu", peer, why,
           (unsigned long long)s->tls_unlogged);
    s->last_tls_log = now;
    s->tls_unlogged = 0;
}

/* Advances the TLS handshake: 1 done, 0 waiting for the socket, -1 failed. */
static int tls_step(conn_t *cn)
{
    ERR_clear_error();
    int r = SSL_do_handshake(cn->ssl);
    if (r == 1) {
        cn->tls_done = true;
        return 1;
    }
    switch (SSL_get_error(cn->ssl, r)) {
    case SSL_ERROR_WANT_READ: set_want_out(cn, false); return 0;
    case SSL_ERROR_WANT_WRITE: set_want_out(cn, true); return 0;
    default: tls_failed(cn); return -1;
    }
}

/* > 0 bytes read, 0 the peer closed, IO_AGAIN, IO_FAILED. */
static ssize_t sock_recv(conn_t *cn, uint8_t *buf, size_t cap)
{
    if (!cn->ssl) {
        ssize_t n = recv(cn->fd, buf, cap, 0);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_FAILED;
        return n;
    }
    ERR_clear_error();
    int n = SSL_read(cn->ssl, buf, (int)cap);
    if (n > 0)
        return n;
    switch (SSL_get_error(cn->ssl, n)) {
    case SSL_ERROR_WANT_READ: return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: set_want_out(cn, true); return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: ERR_clear_error(); return IO_FAILED;
    }
}

/* >= 0 bytes written, IO_AGAIN, IO_FAILED. */
static ssize_t sock_send(conn_t *cn, const uint8_t *buf, size_t len)
{
    if (!cn->ssl) {
        ssize_t w = send(cn->fd, buf, len, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_FAILED;
        return w;
    }
    ERR_clear_error();
    int w = SSL_write(cn->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (w > 0)
        return w;
    switch (SSL_get_error(cn->ssl, w)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return IO_AGAIN; /* the same buffer is offered again (moving allowed) */
    default: ERR_clear_error(); return IO_FAILED;
    }
}

/* Writes what nghttp2 has; false when the connection must be closed. */
static bool conn_flush(conn_t *cn)
{
    if (cn->ssl && !cn->tls_done) {
        int r = tls_step(cn);
        if (r <= 0)
            return r == 0;
    }
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
        ssize_t w = sock_send(cn, cn->out, cn->out_len);
        if (w == IO_AGAIN)
            break;
        if (w < 0)
            return false;
        cn->out += w;
        cn->out_len -= (size_t)w;
    }
    /* set_want_out is a no-op when unchanged; force it off when idle so a
     * cut-back that asked for EPOLLOUT does not keep us woken */
    bool want = cn->out_len > 0;
    if (cn->want_out != want)
        set_want_out(cn, want);
    return cn->out_len > 0 || conn_alive(cn);
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

/* Reads what the socket has (at most 512 KiB per wake-up, so one busy
 * connection cannot starve the others; epoll is level-triggered and comes
 * back for the rest, but not for a TLS record OpenSSL already holds, so that
 * one is always taken); false when the connection must be closed. */
static bool conn_read(conn_t *cn)
{
    if (cn->ssl && !cn->tls_done) {
        int r = tls_step(cn);
        if (r <= 0)
            return r == 0;
    }
    uint8_t buf[32768];
    for (int i = 0; i < 16 || (cn->ssl && SSL_pending(cn->ssl) > 0); i++) {
        ssize_t n = sock_recv(cn, buf, sizeof buf);
        if (n == IO_AGAIN)
            return true;
        if (n <= 0)
            return false;
        cn->last_active = now_s(cn->srv);
        if (nghttp2_session_mem_recv(cn->sess, buf, (size_t)n) < 0)
            return false;
        if (!cn->ssl && (size_t)n < sizeof buf)
            return true; /* a short read: the socket is empty (TLS reads one record at a time) */
    }
    return true;
}

static void note_due(struct vn_h2_server *s, double t)
{
    if (t > 0 && (s->next_due == 0 || t < s->next_due))
        s->next_due = t;
}

/* Uniform in [0, 1): splitmix64. */
static double rand01(struct vn_h2_server *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* A new connection: session, our SETTINGS queued, linked at the tail. NULL if nghttp2 fails. */
static conn_t *conn_create(struct vn_h2_server *s, int fd, const uint8_t peer[16])
{
    conn_t *cn = vn_xcalloc(1, sizeof *cn);
    cn->srv = s;
    cn->fd = fd;
    cn->accepted_at = cn->last_active = cn->last_frame = now_s(s);
    memcpy(cn->peer, peer, 16);
    if (fd >= 0 && s->o.tls) {
        cn->ssl = SSL_new(s->o.tls);
        if (!cn->ssl || SSL_set_fd(cn->ssl, fd) != 1) {
            SSL_free(cn->ssl);
            ERR_clear_error();
            free(cn);
            return NULL;
        }
        SSL_set_accept_state(cn->ssl);
        SSL_set_mode(cn->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        SSL_free(cn->ssl);
        free(cn);
        return NULL;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    int rc = nghttp2_session_server_new(&cn->sess, cb, cn);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        SSL_free(cn->ssl);
        free(cn);
        return NULL;
    }
    if (s->o.max_age_s > 0) {
        double jitter = (rand01(s) * 2 - 1) * VN_H2_MAX_AGE_JITTER;
        cn->age_at = cn->accepted_at + s->o.max_age_s * (1 + jitter);
        note_due(s, cn->age_at);
    }
    if (s->o.keepalive_time_s > 0)
        note_due(s, cn->accepted_at + s->o.keepalive_time_s);
    /* Large windows: locals stream a whole interval per call. */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->o.max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16 * 1024},
    };
    nghttp2_submit_settings(cn->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    nghttp2_session_set_local_window_size(cn->sess, NGHTTP2_FLAG_NONE, 0, 8 << 20);
    cn->prev = s->conns_tail;
    if (s->conns_tail)
        s->conns_tail->next = cn;
    else
        s->conns = cn;
    s->conns_tail = cn;
    s->nconns++;
    return cn;
}

/* Closes cn politely (GOAWAY first, so a client about to reuse it learns it is gone). */
static void conn_goaway_kill(conn_t *cn)
{
    if (cn->fd >= 0) {
        nghttp2_session_terminate_session(cn->sess, NGHTTP2_NO_ERROR);
        (void)conn_flush(cn);
    }
    conn_kill(cn);
}

/* ---- accepting ---- */

static void peer_key(const struct sockaddr_storage *ss, uint8_t out[16])
{
    memset(out, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
}

/* Rate-limited note about a refused or evicted connection: remote peers
 * must not be able to write the log without limit. */
static void limit_log(struct vn_h2_server *s, const char *what, const char *reason)
{
    double now = now_s(s);
    if (now - s->last_limit_log < 1.0) {
        s->limit_unlogged++;
        return;
    }
    VN_LOG(WARN, "event=%s reason=%s max_connections=%zu max_per_peer=%zu suppressed=%llu", what, reason,
           s->o.max_connections, s->o.max_per_peer, (unsigned long long)s->limit_unlogged);
    s->last_limit_log = now;
    s->limit_unlogged = 0;
}

/* Prefer connections that never completed the handshake, then the least recently active. */
static bool better_victim(const conn_t *a, const conn_t *b)
{
    if (!b)
        return true;
    if (a->handshake_done != b->handshake_done)
        return !a->handshake_done;
    return a->last_active < b->last_active;
}

/* Makes room for a newcomer from peer: false = refuse it. */
static bool admit(struct vn_h2_server *s, const uint8_t peer[16])
{
    size_t same = 0;
    conn_t *idle_same = NULL, *idle_any = NULL;
    for (conn_t *cn = s->conns; cn; cn = cn->next) {
        bool same_peer = memcmp(cn->peer, peer, 16) == 0;
        same += same_peer;
        if (cn->ncalls)
            continue;
        if (same_peer && better_victim(cn, idle_same))
            idle_same = cn;
        if (better_victim(cn, idle_any))
            idle_any = cn;
    }
    if (same >= s->o.max_per_peer) {
        if (!idle_same) {
            BUMP(s, grpc_connections_refused);
            limit_log(s, "grpc_connection_refused", "max_per_peer");
            return false;
        }
        BUMP(s, grpc_connections_evicted);
        limit_log(s, "grpc_connection_evicted", "max_per_peer");
        if (idle_any == idle_same)
            idle_any = NULL;
        conn_goaway_kill(idle_same);
    }
    if (s->nconns >= s->o.max_connections) {
        if (!idle_any) {
            BUMP(s, grpc_connections_refused);
            limit_log(s, "grpc_connection_refused", "max_connections");
            return false;
        }
        BUMP(s, grpc_connections_evicted);
        limit_log(s, "grpc_connection_evicted", "max_connections");
        conn_goaway_kill(idle_any);
    }
    return true;
}

static void accept_pause(struct vn_h2_server *s, int err)
{
    bool fresh = vn_accept_backoff_pause(&s->backoff, vn_clock_mono_ms());
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
    BUMP(s, grpc_accept_paused);
    if (fresh)
        VN_LOG(WARN, "event=grpc_accept_paused errno=%d err=\"%s\" pause_ms=%llu connections=%zu", err, strerror(err),
               (unsigned long long)s->backoff.backoff_ms, s->nconns);
}

static void accept_resume_if_due(struct vn_h2_server *s)
{
    if (!vn_accept_backoff_resume_due(&s->backoff, vn_clock_mono_ms()))
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->lfd};
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
}

static void conn_accept(struct vn_h2_server *s)
{
    /* bounded per wake-up: a connect flood must not starve established connections */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            vn_accept_next_t next = vn_accept_classify(errno);
            if (next == VN_ACCEPT_NEXT)
                continue;
            if (next == VN_ACCEPT_PAUSE)
                accept_pause(s, errno);
            return;
        }
        uint64_t pauses = vn_accept_backoff_accepted(&s->backoff);
        if (pauses)
            VN_LOG(INFO, "event=grpc_accept_resumed pauses=%llu", (unsigned long long)pauses);
        uint8_t peer[16];
        peer_key(&ss, peer);
        if (!admit(s, peer)) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *cn = conn_create(s, fd, peer);
        if (!cn) {
            close(fd);
            continue;
        }
        BUMP(s, grpc_connections_total);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cn};
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (!conn_flush(cn))
            conn_kill(cn);
    }
}

/* ---- deadlines ---- */

/* max_age: the GOAWAY notice and its PING, then the hard close after the grace.
 * false when cn was closed. *queued: frames wait to be sent. */
static bool age_step(conn_t *cn, double now, bool *queued)
{
    struct vn_h2_server *s = cn->srv;
    if (cn->age_at <= 0)
        return true;
    if (cn->drain == DRAIN_NONE) {
        if (now < cn->age_at) {
            note_due(s, cn->age_at);
            return true;
        }
        BUMP(s, grpc_max_age_goaways);
        VN_LOG(DEBUG, "event=grpc_max_age_goaway age_s=%.3f calls=%zu", now - cn->accepted_at, cn->ncalls);
        cn->drain = DRAIN_NOTICE;
        nghttp2_submit_shutdown_notice(cn->sess);
        nghttp2_submit_ping(cn->sess, NGHTTP2_FLAG_NONE, PING_DRAIN);
        *queued = true;
    }
    if (s->o.max_age_grace_s > 0) {
        double end = cn->age_at + s->o.max_age_grace_s;
        if (now >= end) {
            BUMP(s, grpc_max_age_closes);
            VN_LOG(DEBUG, "event=grpc_max_age_closed calls=%zu", cn->ncalls);
            conn_kill(cn);
            return false;
        }
        note_due(s, end);
    }
    return true;
}

/* keepalive: a PING after keepalive_time_s without input, closed when it
 * stays unanswered (no input at all) for keepalive_timeout_s. */
static bool keepalive_step(conn_t *cn, double now, bool *queued)
{
    struct vn_h2_server *s = cn->srv;
    if (!(s->o.keepalive_time_s > 0) || !cn->handshake_done)
        return true;
    if (cn->ka_ping_at > 0 && cn->last_active > cn->ka_ping_at)
        cn->ka_ping_at = 0; /* anything at all arrived since: the peer is alive */
    if (cn->ka_ping_at > 0) {
        if (now - cn->ka_ping_at >= s->o.keepalive_timeout_s) {
            BUMP(s, grpc_keepalive_timeouts);
            VN_LOG(DEBUG, "event=grpc_keepalive_timeout silent_s=%.3f", now - cn->last_active);
            conn_kill(cn);
            return false;
        }
        note_due(s, cn->ka_ping_at + s->o.keepalive_timeout_s);
    } else if (now - cn->last_active >= s->o.keepalive_time_s) {
        nghttp2_submit_ping(cn->sess, NGHTTP2_FLAG_NONE, PING_KEEPALIVE);
        cn->ka_ping_at = now;
        *queued = true;
        note_due(s, now + s->o.keepalive_timeout_s);
    } else {
        note_due(s, cn->last_active + s->o.keepalive_time_s);
    }
    return true;
}

void vn_h2_server_sweep(struct vn_h2_server *s, double now)
{
    s->next_due = 0;
    for (conn_t *cn = s->conns, *next; cn; cn = next) {
        next = cn->next;
        if (!cn->handshake_done && now - cn->accepted_at > s->o.handshake_timeout_s) {
            BUMP(s, grpc_handshake_timeouts);
            VN_LOG(DEBUG, "event=grpc_handshake_timeout tls=%s", cn->ssl ? (cn->tls_done ? "done" : "pending") : "off");
            conn_kill(cn);
            continue;
        }
        if (now - cn->last_frame > s->o.idle_timeout_s) {
            VN_LOG(DEBUG, "event=grpc_connection_idle_closed");
            conn_goaway_kill(cn);
            continue;
        }
        bool queued = false;
        if (!age_step(cn, now, &queued) || !keepalive_step(cn, now, &queued))
            continue;
        bool answered = queued;
        for (call_t *c = cn->calls; c; c = c->next) {
            if (!c->partial_since || c->responded || now - c->partial_since <= s->o.body_timeout_s)
                continue;
            respond_error(c, VN_GRPC_DEADLINE_EXCEEDED, "message body did not arrive in time");
            vn_grpc_reader_destroy(&c->reader);
            c->partial_since = 0;
            BUMP(s, grpc_body_timeouts);
            answered = true;
        }
        if (answered && cn->fd >= 0 && !conn_flush(cn))
            conn_kill(cn);
    }
    reap(s); /* callers hold no connection pointers across a sweep */
}

static void *server_main(void *arg)
{
    struct vn_h2_server *s = arg;
    struct epoll_event evs[64];
    double last_sweep = vn_clock_mono_s();
    for (;;) {
        int timeout = vn_accept_backoff_wait_ms(&s->backoff, vn_clock_mono_ms(), 1000);
        if (s->next_due > 0) { /* a lifecycle deadline before the next one-second sweep */
            double ms = (s->next_due - vn_clock_mono_s()) * 1000;
            int due = ms <= 0 ? 0 : (int)ms + 1;
            if (due < timeout)
                timeout = due;
        }
        int n = epoll_wait(s->epfd, evs, 64, timeout);
        bool stop = false;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &s->lfd) {
                conn_accept(s);
            } else if (p == &s->efd) {
                stop = true;
            } else {
                conn_t *cn = p;
                if (cn->dead)
                    continue; /* killed earlier in this wake-up */
                bool ok = true;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    ok = conn_read(cn);
                    conn_drained(cn);
                }
                if (ok)
                    ok = conn_flush(cn);
                if (!ok)
                    conn_kill(cn);
            }
        }
        reap(s);
        if (stop)
            break;
        accept_resume_if_due(s);
        double now = vn_clock_mono_s();
        if (now - last_sweep >= 1.0 || (s->next_due > 0 && now >= s->next_due)) {
            vn_h2_server_sweep(s, now);
            last_sweep = now;
        }
    }
    while (s->conns)
        conn_kill(s->conns);
    reap(s);
    return NULL;
}

static void apply_defaults(vn_h2_server_opts_t *o)
{
    if (!o->max_message)
        o->max_message = VN_GRPC_MAX_MESSAGE;
    if (!o->reassembly_budget)
        o->reassembly_budget = VN_H2_DEFAULT_REASSEMBLY;
    if (!o->conn_reassembly)
        o->conn_reassembly = VN_H2_DEFAULT_CONN_REASSEMBLY;
    if (!o->max_connections)
        o->max_connections = VN_H2_DEFAULT_MAX_CONNECTIONS;
    if (!o->max_per_peer)
        o->max_per_peer = VN_H2_DEFAULT_MAX_PER_PEER;
    if (!o->max_streams)
        o->max_streams = VN_H2_DEFAULT_MAX_STREAMS;
    if (!(o->idle_timeout_s > 0))
        o->idle_timeout_s = VN_H2_DEFAULT_IDLE_S;
    if (!(o->handshake_timeout_s > 0))
        o->handshake_timeout_s = VN_H2_DEFAULT_HANDSHAKE_S;
    if (!(o->body_timeout_s > 0))
        o->body_timeout_s = VN_H2_DEFAULT_BODY_S;
    if (!(o->keepalive_timeout_s > 0))
        o->keepalive_timeout_s = VN_H2_DEFAULT_KEEPALIVE_TIMEOUT_S;
    if (!(o->max_age_s > 0))
        o->max_age_s = 0;
    if (!(o->max_age_grace_s > 0))
        o->max_age_grace_s = 0;
    if (!(o->keepalive_time_s > 0))
        o->keepalive_time_s = 0;
    else if (o->keepalive_time_s < 1)
        o->keepalive_time_s = 1; /* grpc-go's floor */
}

static void init_common(struct vn_h2_server *s)
{
    s->clock = real_clock;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)s;
    if (s->o.tls)
        SSL_CTX_up_ref(s->o.tls);
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
    vn_accept_backoff_init(&s->backoff, (uint64_t)(VN_H2_ACCEPT_PAUSE_MIN_S * 1000),
                           (uint64_t)(VN_H2_ACCEPT_PAUSE_MAX_S * 1000), VN_H2_ACCEPT_EPISODE_QUIET_MS);
    s->o = *opts;
    snprintf(s->address, sizeof s->address, "%s", opts->address);
    s->o.address = s->address;
    apply_defaults(&s->o);
    init_common(s);
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
    SSL_CTX_free(s->o.tls);
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
    SSL_CTX_free(s->o.tls);
    free(s);
}

/* ---- memory interface ---- */

vn_h2_server_t *vn_h2_server_new_detached(const vn_h2_server_opts_t *opts)
{
    struct vn_h2_server *s = vn_xcalloc(1, sizeof *s);
    s->o = *opts;
    s->address[0] = '\0';
    s->o.address = s->address;
    apply_defaults(&s->o);
    init_common(s);
    s->lfd = s->efd = s->epfd = -1;
    return s;
}

void vn_h2_server_free_detached(vn_h2_server_t *s)
{
    if (!s)
        return;
    while (s->conns)
        conn_kill(s->conns);
    reap(s);
    SSL_CTX_free(s->o.tls);
    free(s);
}

void vn_h2_server_set_clock(vn_h2_server_t *s, double (*now)(void *ctx), void *ctx)
{
    s->clock = now ? now : real_clock;
    s->clock_ctx = ctx;
}

vn_h2_conn_t *vn_h2_conn_new(vn_h2_server_t *s, const uint8_t *peer)
{
    static const uint8_t any[16];
    return conn_create(s, -1, peer ? peer : any);
}

bool vn_h2_conn_feed(vn_h2_conn_t *cn, const uint8_t *data, size_t len)
{
    cn->last_active = now_s(cn->srv);
    if (nghttp2_session_mem_recv(cn->sess, data, len) < 0)
        return false;
    conn_drained(cn);
    return conn_alive(cn);
}

long vn_h2_conn_output(vn_h2_conn_t *cn, const uint8_t **out)
{
    ssize_t n = nghttp2_session_mem_send(cn->sess, out);
    return n < 0 ? -1 : (long)n;
}

void vn_h2_conn_close(vn_h2_conn_t *cn)
{
    struct vn_h2_server *s = cn->srv;
    conn_kill(cn);
    reap(s);
}

size_t vn_h2_server_held(const vn_h2_server_t *s) { return s->held; }

size_t vn_h2_server_connections(const vn_h2_server_t *s) { return s->nconns; }
