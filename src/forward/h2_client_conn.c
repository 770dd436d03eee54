/*
 * h2_client_conn.c - the gRPC client's connection (h2_client_internal.h): dialling, TLS,
 * the HTTP/2 session and its callbacks, and the pump that moves bytes between them.
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
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/version.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client_internal.h"
#include "tls/tls.h"

enum { IO_AGAIN = -2, IO_ERR = -1 };

/* Bounds one read pass so a peer that floods us cannot starve the write side. */
#define READS_PER_PASS 64

static ssize_t io_read(vn_h2_client_t *c, uint8_t *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return IO_AGAIN;
            vn_h2c__why(c, "recv: %s", strerror(errno));
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
    default: vn_h2c__why(c, "%s", "tls: read failed"); return IO_ERR;
    }
}

static ssize_t io_write(vn_h2_client_t *c, const uint8_t *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return IO_AGAIN;
            vn_h2c__why(c, "send: %s", strerror(errno));
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
    default: vn_h2c__why(c, "%s", "tls: write failed"); return IO_ERR;
    }
}

void vn_h2c__disconnect(vn_h2_client_t *c)
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

static vn_err_t tcp_connect(vn_h2_client_t *c, double deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0) {
        vn_h2c__why(c, "resolve %s: %s", c->host, gai_strerror(gai));
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
                vn_h2c__why(c, "%s", "connect: dial timeout");
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
            vn_h2c__why(c, "connect: %s", strerror(e));
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
        vn_h2c__why(c, "%s", "tls: bad server name");
        return VN_ERR_CONFIG;
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return VN_OK;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            vn_h2c__why(c, "tls: handshake with %s failed", c->host);
            return VN_ERR_IO;
        }
        struct pollfd p = {.fd = c->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        int pr = poll(&p, 1, vn_clock_ms_until(deadline));
        if (pr == 0) {
            vn_h2c__why(c, "%s", "tls: handshake timeout");
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
        vn_h2c__why(c, "%s", "http2: session set-up failed");
        return VN_ERR_NOMEM;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024},
    };
    if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0) {
        vn_h2c__why(c, "%s", "http2: session set-up failed");
        return VN_ERR_PROTO;
    }
    return VN_OK;
}

vn_err_t vn_h2c__connect_all(vn_h2_client_t *c, double deadline)
{
    vn_h2c__disconnect(c);
    vn_err_t e = tcp_connect(c, deadline);
    if (e == VN_OK && c->tls)
        e = tls_handshake(c, deadline);
    if (e == VN_OK)
        e = session_start(c);
    if (e != VN_OK)
        vn_h2c__disconnect(c);
    return e;
}

/* Writes whatever nghttp2 has. Returns VN_OK (maybe with output pending) or VN_ERR_IO/PROTO. */
vn_err_t vn_h2c__flush_out(vn_h2_client_t *c)
{
    for (;;) {
        if (!c->out_len) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->sess, &data);
            if (n < 0) {
                vn_h2c__why(c, "http2: %s", nghttp2_strerror((int)n));
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
vn_err_t vn_h2c__read_in(vn_h2_client_t *c)
{
    uint8_t buf[16384];
    for (int i = 0; i < READS_PER_PASS; i++) {
        ssize_t n = io_read(c, buf, sizeof buf);
        if (n == IO_AGAIN)
            return VN_OK;
        if (n <= 0) {
            if (n == 0)
                vn_h2c__why(c, "%s", "connection closed by the server");
            c->dead = true;
            return VN_ERR_IO;
        }
        ssize_t r = nghttp2_session_mem_recv(c->sess, buf, (size_t)n);
        if (r < 0) {
            vn_h2c__why(c, "http2: %s", nghttp2_strerror((int)r));
            return VN_ERR_PROTO;
        }
    }
    return VN_OK;
}

/* Waits for the socket (and wake_fd, when >= 0) at most ms; then reads. */
vn_err_t vn_h2c__wait_io(vn_h2_client_t *c, int ms, int wake_fd, bool *woken)
{
    if (c->ssl && SSL_pending(c->ssl) > 0)
        return vn_h2c__read_in(c); /* decrypted bytes the socket will not signal again */
    struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    if (c->out_len || c->ssl_wants_write)
        p[0].events |= POLLOUT;
    int np = wake_fd >= 0 ? 2 : 1;
    int pr = poll(p, (nfds_t)np, ms);
    if (pr < 0 && errno != EINTR) {
        vn_h2c__why(c, "poll: %s", strerror(errno));
        return VN_ERR_IO;
    }
    if (pr <= 0)
        return VN_OK;
    if (np == 2 && (p[1].revents & POLLIN) && woken)
        *woken = true;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        return vn_h2c__read_in(c);
    return VN_OK;
}

/* Submits the call's HEADERS with the body data source. */
vn_err_t vn_h2c__submit(vn_h2_client_t *c, const char *path, const char *grpc_timeout)
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
        vn_h2c__why(c, "%s", "http2: cannot open the stream");
        c->dead = true;
        return VN_ERR_PROTO;
    }
    return VN_OK;
}
