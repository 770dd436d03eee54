/*
 * h2_client.c - the gRPC client on libnghttp2 (see h2_client.h).
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

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hostport.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "forward/grpc_frame.h"
#include "tls/tls.h"

enum { IO_AGAIN = -2, IO_ERR = -1 };

/* Bounds one read pass so a peer that floods us cannot starve the write side. */
#define READS_PER_PASS 64

struct vn_h2_client {
    char host[256], port[16];
    char authority[300];
    struct {
        char name[48], value[80];
    } xh[VN_H2_CLIENT_MAX_HEADERS]; /* extra request headers, vn_h2_client_set_header */
    size_t nxh;
    char *server_name;
    SSL_CTX *tls;
    /* the connection */
    int fd;
    SSL *ssl;
    bool ssl_wants_write; /* the TLS layer needs the socket writable to go on */
    nghttp2_session *sess;
    bool dead;         /* GOAWAY seen, EOF or an error: reconnect before the next call */
    bool got_settings; /* the server's SETTINGS arrived */
    bool dialled;      /* ... on the last stream open (kept after a disconnect) */
    const uint8_t *out; /* pending output chunk from nghttp2_session_mem_send */
    size_t out_len;
    /* the call in progress */
    int32_t sid;
    bool streaming;   /* a long-lived stream (keepalive; GOAWAY drains it) */
    bool goaway;      /* the server sent GOAWAY naming this stream as taken: finish it, open another */
    bool closed;      /* the call's stream closed (answered or reset) */
    bool failed;      /* the stream failed: only a new open or free */
    bool got_headers; /* any response header arrived */
    bool ending;      /* END_STREAM once the body is used up */
    const uint8_t *body;
    size_t body_len, body_off;
    vn_grpc_result_t *res; /* the caller's (unary) or own_res (stream) */
    vn_grpc_result_t own_res;
    /* stream keepalive */
    vn_h2_client_timing_t t;
    double ping_sent;     /* monotonic time of the outstanding PING, 0 if none */
    double last_ping_ack; /* last PING answered (or the open time) */
    double last_progress; /* last time output moved, or nothing was pending */
    double last_data;     /* last time body bytes were taken */
    bool heartbeat_due;   /* the data source owes an empty DATA frame */
    char why[256];
};

__attribute__((format(printf, 2, 3))) static void set_why(vn_h2_client_t *c, const char *fmt, ...)
{
    if (c->why[0])
        return; /* the first reason is the one worth reporting */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
}

static void timing_defaults(vn_h2_client_timing_t *t, const vn_h2_client_timing_t *in)
{
    vn_h2_client_timing_t z = {0};
    if (!in)
        in = &z;
    t->ping_interval_s = in->ping_interval_s > 0 ? in->ping_interval_s : 310;
    t->ping_timeout_s = in->ping_timeout_s > 0 ? in->ping_timeout_s : 20;
    t->stall_timeout_s = in->stall_timeout_s > 0 ? in->stall_timeout_s : 30;
    t->heartbeat_s = in->heartbeat_s > 0 ? in->heartbeat_s : 60;
}

/* ---- byte I/O over plain TCP or TLS ---- */

static ssize_t io_read(vn_h2_client_t *c, uint8_t *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return IO_AGAIN;
            set_why(c, "recv: %s", strerror(errno));
            return IO_ERR;
        }
        return r;
    }
    int r = SSL_read(c->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: c->ssl_wants_write = true; return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: set_why(c, "%s", "tls: read failed"); return IO_ERR;
    }
}

static ssize_t io_write(vn_h2_client_t *c, const uint8_t *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return IO_AGAIN;
            set_why(c, "send: %s", strerror(errno));
            return IO_ERR;
        }
        return r;
    }
    c->ssl_wants_write = false;
    int r = SSL_write(c->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: c->ssl_wants_write = true; return IO_AGAIN;
    default: set_why(c, "%s", "tls: write failed"); return IO_ERR;
    }
}

static void disconnect(vn_h2_client_t *c)
{
    if (c->sess)
        nghttp2_session_del(c->sess);
    c->sess = NULL;
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->out = NULL;
    c->out_len = 0;
    c->dead = false;
    c->got_settings = false;
    c->ssl_wants_write = false;
}

/* ---- nghttp2 callbacks (the call in progress is c->sid) ---- */

static int parse_status(const uint8_t *v, size_t vlen, size_t maxdigits)
{
    int st = 0;
    for (size_t i = 0; i < vlen && i < maxdigits; i++)
        st = st * 10 + (v[i] >= '0' && v[i] <= '9' ? v[i] - '0' : 0);
    return st;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)s;
    (void)flags;
    vn_h2_client_t *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->hd.stream_id != c->sid || !c->res)
        return 0;
    c->got_headers = true;
    vn_grpc_result_t *r = c->res;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
        r->http_status = parse_status(value, vlen, 4);
    else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
        r->grpc_status = parse_status(value, vlen, 6);
    else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0)
        vn_grpc_message_decode((const char *)value, vlen, r->grpc_message, sizeof r->grpc_message);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len, void *ud)
{
    (void)s;
    (void)flags;
    vn_h2_client_t *c = ud;
    if (sid != c->sid || !c->res)
        return 0;
    vn_grpc_result_t *r = c->res;
    for (size_t i = 0; i < len && r->body_len + i < sizeof r->body; i++)
        r->body[r->body_len + i] = data[i];
    r->body_len += len;
    return 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    (void)s;
    vn_h2_client_t *c = ud;
    if (sid == c->sid) {
        c->closed = true;
        if (c->res)
            c->res->reset_code = code;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    vn_h2_client_t *c = ud;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
        c->got_settings = true;
        c->dialled = true;
    } else if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK)) {
        c->ping_sent = 0;
        c->last_ping_ack = vn_clock_mono_s();
    } else if (f->hd.type == NGHTTP2_GOAWAY) {
        /* The server is leaving (max connection age, idle close, shutdown). A
         * unary call finishes what the server accepted, then reconnects. A
         * stream the GOAWAY names as taken (id <= last-stream-id) is still
         * served: tearing the connection down now would lose what nghttp2 and
         * the kernel hold unsent, so the owner ends it cleanly instead (its
         * answer proves every byte was processed) and moves to a new
         * connection. One above it was refused unprocessed: nghttp2 closes it
         * (REFUSED_STREAM), which fails the stream. */
        c->dead = true;
        if (c->streaming && c->sid > 0 && f->goaway.last_stream_id >= c->sid)
            c->goaway = true;
    }
    return 0;
}

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)sid;
    (void)src;
    vn_h2_client_t *c = ud;
    size_t n = c->body_len - c->body_off;
    if (n == 0 && !c->ending) {
        if (c->heartbeat_due) { /* 0 bytes without EOF: nghttp2 sends an empty DATA frame */
            c->heartbeat_due = false;
            c->last_data = vn_clock_mono_s();
            return 0;
        }
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > length)
        n = length;
    if (n) {
        memcpy(buf, c->body + c->body_off, n);
        c->body_off += n;
        c->last_data = vn_clock_mono_s();
    }
    if (c->ending && c->body_off == c->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- connection set-up ---- */

static vn_err_t tcp_connect(vn_h2_client_t *c, double deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0) {
        set_why(c, "resolve %s: %s", c->host, gai_strerror(gai));
        return VN_ERR_IO;
    }
    vn_err_t err = VN_ERR_IO;
    for (struct addrinfo *ai = res; ai && err != VN_OK; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1, idle = 15, intvl = 5, cnt = 3;
        unsigned user_timeout = (unsigned)(c->t.stall_timeout_s * 1000);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen), e = errno;
        if (rc < 0 && e == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr;
            do
                pr = poll(&p, 1, vn_clock_ms_until(deadline));
            while (pr < 0 && errno == EINTR);
            if (pr == 0) {
                close(fd);
                set_why(c, "%s", "connect: dial timeout");
                err = VN_ERR_TIMEOUT;
                break;
            }
            socklen_t sl = sizeof e;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl);
            rc = e ? -1 : 0;
        }
        if (rc == 0) {
            c->fd = fd;
            err = VN_OK;
        } else {
            close(fd);
            set_why(c, "connect: %s", strerror(e));
        }
    }
    freeaddrinfo(res);
    return err;
}

static vn_err_t tls_handshake(vn_h2_client_t *c, double deadline)
{
    c->ssl = SSL_new(c->tls);
    if (!c->ssl)
        return VN_ERR_NOMEM;
    SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_fd(c->ssl, c->fd);
    static const unsigned char alpn[] = "\x02h2";
    SSL_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1);
    if (vn_tls_set_peer_name(c->ssl, c->server_name ? c->server_name : c->host) != VN_OK) {
        set_why(c, "%s", "tls: bad server name");
        return VN_ERR_CONFIG;
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return VN_OK;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            set_why(c, "tls: handshake with %s failed", c->host);
            return VN_ERR_IO;
        }
        struct pollfd p = {.fd = c->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        int pr = poll(&p, 1, vn_clock_ms_until(deadline));
        if (pr == 0) {
            set_why(c, "%s", "tls: handshake timeout");
            return VN_ERR_TIMEOUT;
        }
        if (pr < 0 && errno != EINTR)
            return VN_ERR_IO;
    }
}

static vn_err_t session_start(vn_h2_client_t *c)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return VN_ERR_NOMEM;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    int rc = nghttp2_session_client_new(&c->sess, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        set_why(c, "%s", "http2: session set-up failed");
        return VN_ERR_NOMEM;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024},
    };
    if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0) {
        set_why(c, "%s", "http2: session set-up failed");
        return VN_ERR_PROTO;
    }
    return VN_OK;
}

static vn_err_t connect_all(vn_h2_client_t *c, double deadline)
{
    disconnect(c);
    vn_err_t e = tcp_connect(c, deadline);
    if (e == VN_OK && c->tls)
        e = tls_handshake(c, deadline);
    if (e == VN_OK)
        e = session_start(c);
    if (e != VN_OK)
        disconnect(c);
    return e;
}

/* ---- the pump ---- */

/* Writes whatever nghttp2 has. Returns VN_OK (maybe with output pending) or VN_ERR_IO/PROTO. */
static vn_err_t flush_out(vn_h2_client_t *c)
{
    for (;;) {
        if (!c->out_len) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->sess, &data);
            if (n < 0) {
                set_why(c, "http2: %s", nghttp2_strerror((int)n));
                return VN_ERR_PROTO;
            }
            if (n == 0)
                return VN_OK;
            c->out = data;
            c->out_len = (size_t)n;
        }
        ssize_t w = io_write(c, c->out, c->out_len);
        if (w == IO_AGAIN)
            return VN_OK;
        if (w < 0)
            return VN_ERR_IO;
        c->out += w;
        c->out_len -= (size_t)w;
        if (w > 0)
            c->last_progress = vn_clock_mono_s();
    }
}

/* Reads what is available (a bounded number of reads) into nghttp2. VN_OK or VN_ERR_IO (EOF, reset) / PROTO. */
static vn_err_t read_in(vn_h2_client_t *c)
{
    uint8_t buf[16384];
    for (int i = 0; i < READS_PER_PASS; i++) {
        ssize_t n = io_read(c, buf, sizeof buf);
        if (n == IO_AGAIN)
            return VN_OK;
        if (n <= 0) {
            if (n == 0)
                set_why(c, "%s", "connection closed by the server");
            c->dead = true;
            return VN_ERR_IO;
        }
        ssize_t r = nghttp2_session_mem_recv(c->sess, buf, (size_t)n);
        if (r < 0) {
            set_why(c, "http2: %s", nghttp2_strerror((int)r));
            return VN_ERR_PROTO;
        }
    }
    return VN_OK;
}

/* Waits for the socket (and wake_fd, when >= 0) at most ms; then reads. */
static vn_err_t wait_io(vn_h2_client_t *c, int ms, int wake_fd, bool *woken)
{
    if (c->ssl && SSL_pending(c->ssl) > 0)
        return read_in(c); /* decrypted bytes the socket will not signal again */
    struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    if (c->out_len || c->ssl_wants_write)
        p[0].events |= POLLOUT;
    int np = wake_fd >= 0 ? 2 : 1;
    int pr = poll(p, (nfds_t)np, ms);
    if (pr < 0 && errno != EINTR) {
        set_why(c, "poll: %s", strerror(errno));
        return VN_ERR_IO;
    }
    if (pr <= 0)
        return VN_OK;
    if (np == 2 && (p[1].revents & POLLIN) && woken)
        *woken = true;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        return read_in(c);
    return VN_OK;
}

/* Submits the call's HEADERS with the body data source. */
static vn_err_t submit(vn_h2_client_t *c, const char *path, const char *grpc_timeout)
{
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME}
    nghttp2_nv hdrs[8 + VN_H2_CLIENT_MAX_HEADERS] = {
        NV(":method", "POST"),
        NV(":scheme", c->tls ? "https" : "http"),
        NV(":path", path),
        NV(":authority", c->authority),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
    };
#undef NV
    size_t n = 6;
    bool agent = false;
    if (grpc_timeout)
        hdrs[n++] = (nghttp2_nv){(uint8_t *)"grpc-timeout", (uint8_t *)grpc_timeout, 12, strlen(grpc_timeout),
                                 NGHTTP2_NV_FLAG_NO_COPY_NAME};
    for (size_t i = 0; i < c->nxh; i++) {
        agent |= strcmp(c->xh[i].name, "user-agent") == 0;
        hdrs[n++] = (nghttp2_nv){(uint8_t *)c->xh[i].name, (uint8_t *)c->xh[i].value, strlen(c->xh[i].name),
                                 strlen(c->xh[i].value), NGHTTP2_NV_FLAG_NONE};
    }
    if (!agent)
        hdrs[n++] = (nghttp2_nv){(uint8_t *)"user-agent", (uint8_t *)"veneur-c/" VN_VERSION, 10,
                                 sizeof("veneur-c/" VN_VERSION) - 1, NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider prov = {.source = {.ptr = NULL}, .read_callback = body_read};
    c->closed = false;
    c->got_headers = false;
    c->sid = nghttp2_submit_request(c->sess, NULL, hdrs, n, &prov, c);
    if (c->sid < 0) {
        set_why(c, "%s", "http2: cannot open the stream");
        c->dead = true;
        return VN_ERR_PROTO;
    }
    return VN_OK;
}

/* ---- unary-style calls ---- */

/* Before reusing an idle connection: takes in whatever arrived (GOAWAY, EOF). */
static void check_idle(vn_h2_client_t *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 0) > 0 && read_in(c) != VN_OK)
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
        vn_err_t e = connect_all(c, deadline);
        if (e != VN_OK)
            return e;
    }
    char timeout[10];
    vn_grpc_timeout_format(deadline - vn_clock_mono_s(), timeout);
    c->body_off = 0;
    c->ending = true;
    c->res = res;
    res->submitted = true;
    vn_err_t e = submit(c, path, timeout);
    while (!c->closed && e == VN_OK) {
        e = flush_out(c);
        if (e != VN_OK || c->closed)
            break;
        int ms = vn_clock_ms_until(deadline);
        e = ms == 0 ? VN_ERR_TIMEOUT : wait_io(c, ms, -1, NULL);
    }
    if (e == VN_OK)
        e = flush_out(c); /* e.g. the WINDOW_UPDATE or SETTINGS ACK behind the response */
    if (!c->closed) {
        if (e == VN_ERR_TIMEOUT && c->sess && c->sid > 0) {
            nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, c->sid, NGHTTP2_CANCEL);
            (void)flush_out(c);
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
        disconnect(c);
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

/* ---- long-lived streams ---- */

/* A stream's verdict on what the server did: it may only ever end it. */
static vn_err_t check_state(vn_h2_client_t *c)
{
    if (c->failed)
        return VN_ERR_IO;
    if (c->closed) {
        if (c->own_res.grpc_status >= 0)
            set_why(c, "server ended the stream: grpc-status %d %.150s", c->own_res.grpc_status,
                    c->own_res.grpc_message);
        else
            set_why(c, "stream reset by the server (code %u)", c->own_res.reset_code);
        return VN_ERR_PROTO;
    }
    return VN_OK;
}

/* Pumps until *flag turns false (the server's SETTINGS, the opening PING's answer) or the deadline. */
static vn_err_t open_wait(vn_h2_client_t *c, const bool *until_true, const double *until_zero, double deadline,
                          const char *what)
{
    vn_err_t e = VN_OK;
    while (e == VN_OK && (until_true ? !*until_true : *until_zero > 0)) {
        e = flush_out(c);
        if (e != VN_OK)
            break;
        int ms = vn_clock_ms_until(deadline);
        if (ms == 0) {
            set_why(c, "no %s before the dial timeout", what);
            return VN_ERR_TIMEOUT;
        }
        e = wait_io(c, ms, -1, NULL);
        if (e == VN_OK)
            e = check_state(c);
    }
    return e;
}

vn_err_t vn_h2_client_stream_open(vn_h2_client_t *c, const char *path, const vn_h2_client_timing_t *t,
                                  double deadline)
{
    c->why[0] = '\0';
    timing_defaults(&c->t, t);
    c->streaming = true;
    c->goaway = false;
    c->failed = false;
    c->ending = false;
    c->heartbeat_due = false;
    c->body = NULL;
    c->body_len = c->body_off = 0;
    c->ping_sent = 0;
    memset(&c->own_res, 0, sizeof c->own_res);
    c->own_res.grpc_status = -1;
    c->res = &c->own_res;
    c->sid = 0;
    c->closed = false;
    c->dialled = false;
    vn_err_t e = connect_all(c, deadline);
    /* the dial completes when the server's SETTINGS arrive (Go's WithBlock waits for READY) */
    if (e == VN_OK)
        e = open_wait(c, &c->got_settings, NULL, deadline, "HTTP/2 SETTINGS from the server");
    if (e == VN_OK)
        e = submit(c, path, NULL);
    if (e == VN_OK)
        e = flush_out(c);
    /* a PING after the HEADERS: its answer means the server has processed them */
    if (e == VN_OK && nghttp2_submit_ping(c->sess, NGHTTP2_FLAG_NONE, NULL) != 0) {
        set_why(c, "%s", "http2: cannot send PING");
        e = VN_ERR_PROTO;
    }
    if (e == VN_OK) {
        c->ping_sent = vn_clock_mono_s();
        e = open_wait(c, NULL, &c->ping_sent, deadline, "answer to the opening PING");
    }
    if (e == VN_OK)
        e = check_state(c);
    if (e != VN_OK) {
        if (!c->why[0])
            set_why(c, "%s", vn_strerror(e));
        c->failed = true;
        disconnect(c);
        return e;
    }
    c->last_ping_ack = c->last_progress = c->last_data = vn_clock_mono_s();
    return VN_OK;
}

bool vn_h2_client_dialled(const vn_h2_client_t *c) { return c->dialled; }

bool vn_h2_client_stream_goaway(const vn_h2_client_t *c) { return c->goaway && !c->failed; }

bool vn_h2_client_stream_idle(const vn_h2_client_t *c) { return c->body_off == c->body_len; }

size_t vn_h2_client_stream_unsent(const vn_h2_client_t *c) { return c->body_len - c->body_off; }

void vn_h2_client_stream_write(vn_h2_client_t *c, const uint8_t *data, size_t len)
{
    c->body = data;
    c->body_len = len;
    c->body_off = 0;
    if (len && c->sess)
        nghttp2_session_resume_data(c->sess, c->sid);
}

static vn_err_t keepalive(vn_h2_client_t *c)
{
    double now = vn_clock_mono_s();
    bool pending = c->out_len > 0 || c->body_off < c->body_len;
    if (!pending)
        c->last_progress = now;
    else if (now - c->last_progress > c->t.stall_timeout_s) {
        set_why(c, "no progress sending for %g s (the server stopped reading)", c->t.stall_timeout_s);
        return VN_ERR_TIMEOUT;
    }
    if (!pending && !c->heartbeat_due && now - c->last_data >= c->t.heartbeat_s) {
        c->heartbeat_due = true;
        nghttp2_session_resume_data(c->sess, c->sid);
    }
    if (c->ping_sent > 0) {
        if (now - c->ping_sent > c->t.ping_timeout_s) {
            set_why(c, "%s", "keepalive PING not answered in time");
            return VN_ERR_TIMEOUT;
        }
    } else if (now - c->last_ping_ack >= c->t.ping_interval_s) {
        if (nghttp2_submit_ping(c->sess, NGHTTP2_FLAG_NONE, NULL) != 0) {
            set_why(c, "%s", "http2: cannot send PING");
            return VN_ERR_PROTO;
        }
        c->ping_sent = now;
    }
    return VN_OK;
}

vn_err_t vn_h2_client_stream_pump(vn_h2_client_t *c, int timeout_ms, int wake_fd, bool *woken)
{
    if (!c->sess)
        return VN_ERR_IO;
    vn_err_t e = check_state(c);
    if (e == VN_OK)
        e = keepalive(c);
    if (e == VN_OK)
        e = flush_out(c);
    if (e == VN_OK) {
        /* never sleep past the next keepalive or stall check */
        double next = c->ping_sent > 0 ? c->ping_sent + c->t.ping_timeout_s : c->last_ping_ack + c->t.ping_interval_s;
        if (c->last_progress + c->t.stall_timeout_s < next)
            next = c->last_progress + c->t.stall_timeout_s;
        if (c->last_data + c->t.heartbeat_s < next)
            next = c->last_data + c->t.heartbeat_s;
        int ka = vn_clock_ms_until(next) + 1;
        e = wait_io(c, timeout_ms < ka ? timeout_ms : ka, wake_fd, woken);
    }
    if (e == VN_OK)
        e = check_state(c);
    if (e == VN_OK)
        e = flush_out(c); /* WINDOW_UPDATE, PING ACK, SETTINGS ACK for what was read */
    if (e != VN_OK)
        c->failed = true;
    return e;
}

vn_err_t vn_h2_client_stream_finish(vn_h2_client_t *c, double deadline)
{
    if (c->failed || !c->sess)
        return VN_ERR_IO;
    c->ending = true;
    nghttp2_session_resume_data(c->sess, c->sid);
    vn_err_t e = VN_OK;
    while (!c->closed && e == VN_OK) {
        e = flush_out(c);
        int ms = vn_clock_ms_until(deadline);
        if (e == VN_OK && ms == 0) {
            set_why(c, "%s", "no answer before the shutdown deadline");
            e = VN_ERR_TIMEOUT;
        }
        if (e == VN_OK)
            e = wait_io(c, ms, -1, NULL);
        if (e == VN_OK && c->failed)
            e = VN_ERR_IO;
    }
    /* A server that closes the connection once its last call is answered (after a GOAWAY)
     * sends the trailers and EOF together: the answer counts, the EOF after it does not. */
    if (c->closed && e == VN_ERR_IO)
        e = VN_OK;
    if (e == VN_OK && c->own_res.grpc_status != 0) {
        set_why(c, "grpc-status %d %.150s", c->own_res.grpc_status, c->own_res.grpc_message);
        e = VN_ERR_PROTO;
    }
    return e;
}

const char *vn_h2_client_error(const vn_h2_client_t *c) { return c->why[0] ? c->why : "no error"; }

/* ---- life cycle ---- */

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
    timing_defaults(&c->t, NULL);
    *out = c;
    return VN_OK;
}

void vn_h2_client_free(vn_h2_client_t *c)
{
    if (!c)
        return;
    disconnect(c);
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
