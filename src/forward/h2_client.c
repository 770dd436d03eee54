/*
 * h2_client.c - the forwarder's gRPC client on libnghttp2 (see h2_client.h).
 *
 * The session runs in memory mode (nghttp2_session_mem_send/mem_recv) over
 * a non-blocking socket, optionally wrapped in OpenSSL, so every wait is a
 * poll() bounded by the call's deadline. One pass of pump():
 *
 *   write: take frames from nghttp2 until it has none or the socket is full
 *          (a partly written chunk stays in out/out_len for the next pass)
 *   wait:  poll for input, and for output while a chunk is pending
 *   read:  feed everything the socket (or TLS layer) has to nghttp2
 *
 * The request body is served from the caller's buffer by a data-source
 * callback; the response is collected by header/data/close callbacks into
 * the vn_grpc_result_t of the call in progress.
 */
#include "forward/h2_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "forward/grpc_frame.h"
#include "tls/tls.h"

enum { IO_AGAIN = -2, IO_ERR = -1 };

struct vn_h2_client {
    char host[256], port[16];
    char authority[300];
    char xname[48], xvalue[48]; /* one extra request header ("" = none), vn_h2_client_set_header */
    char *server_name;
    SSL_CTX *tls;
    int fd;
    SSL *ssl;
    bool ssl_wants_write; /* the TLS layer needs the socket writable to go on */
    nghttp2_session *sess;
    bool dead;  /* GOAWAY seen, EOF or an error: reconnect before the next call */
    /* pending output chunk from nghttp2_session_mem_send */
    const uint8_t *out;
    size_t out_len;
    /* the call in progress */
    int32_t stream_id;
    bool done;
    bool got_headers;
    const uint8_t *body;
    size_t body_len, body_off;
    vn_grpc_result_t *res;
};

double vn_h2_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

vn_err_t vn_h2_split_hostport(const char *addr, char *host, size_t hostcap, char *port, size_t portcap)
{
    const char *colon, *hs = addr, *he;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return VN_ERR_CONFIG;
        hs = addr + 1;
        he = rb;
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return VN_ERR_CONFIG;
        he = colon;
    }
    size_t hl = (size_t)(he - hs), pl = strlen(colon + 1);
    if (hl == 0 || hl >= hostcap || pl == 0 || pl >= portcap)
        return VN_ERR_CONFIG;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return VN_OK;
}

/* ---- byte I/O over plain TCP or TLS ---- */

static ssize_t io_read(vn_h2_client_t *c, uint8_t *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_ERR;
        return r;
    }
    int r = SSL_read(c->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: c->ssl_wants_write = true; return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: return IO_ERR;
    }
}

static ssize_t io_write(vn_h2_client_t *c, const uint8_t *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_ERR;
        return r;
    }
    c->ssl_wants_write = false;
    int r = SSL_write(c->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: c->ssl_wants_write = true; return IO_AGAIN;
    default: return IO_ERR;
    }
}

static int ms_until(double deadline)
{
    double left = deadline - vn_h2_now();
    if (left <= 0)
        return 0;
    return left > 3600 ? 3600000 : (int)(left * 1000) + 1;
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
    c->ssl_wants_write = false;
}

/* ---- nghttp2 callbacks (the call in progress is c->stream_id) ---- */

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)s;
    (void)flags;
    vn_h2_client_t *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->hd.stream_id != c->stream_id || !c->res)
        return 0;
    c->got_headers = true;
    vn_grpc_result_t *r = c->res;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        int st = 0;
        for (size_t i = 0; i < vlen && i < 4; i++)
            st = st * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
        r->http_status = st;
    } else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        int st = 0;
        for (size_t i = 0; i < vlen && i < 6; i++)
            st = st * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
        r->grpc_status = st;
    } else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        vn_grpc_message_decode((const char *)value, vlen, r->grpc_message, sizeof r->grpc_message);
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len, void *ud)
{
    (void)s;
    (void)flags;
    vn_h2_client_t *c = ud;
    if (sid != c->stream_id || !c->res)
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
    if (sid == c->stream_id) {
        c->done = true;
        if (c->res)
            c->res->reset_code = code;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    vn_h2_client_t *c = ud;
    if (f->hd.type == NGHTTP2_GOAWAY)
        c->dead = true; /* finish what the server accepted, then reconnect */
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
    if (n > length)
        n = length;
    if (n)
        memcpy(buf, c->body + c->body_off, n);
    c->body_off += n;
    if (c->body_off == c->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- connection set-up ---- */

static vn_err_t tcp_connect(vn_h2_client_t *c, double deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0) {
        VN_LOG(WARN, "event=forward_resolve_failed host=%s err=\"%s\"", c->host, gai_strerror(gai));
        return VN_ERR_IO;
    }
    vn_err_t err = VN_ERR_IO;
    for (struct addrinfo *ai = res; ai && err != VN_OK; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr;
            do
                pr = poll(&p, 1, ms_until(deadline));
            while (pr < 0 && errno == EINTR);
            if (pr == 0) {
                close(fd);
                err = VN_ERR_TIMEOUT;
                break;
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr ? -1 : 0;
            errno = soerr;
        }
        if (rc == 0) {
            c->fd = fd;
            err = VN_OK;
        } else {
            close(fd);
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
    if (vn_tls_set_peer_name(c->ssl, c->server_name ? c->server_name : c->host) != VN_OK)
        return VN_ERR_CONFIG;
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return VN_OK;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            VN_LOG(WARN, "event=forward_tls_handshake_failed host=%s", c->host);
            return VN_ERR_IO;
        }
        struct pollfd p = {.fd = c->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        int pr = poll(&p, 1, ms_until(deadline));
        if (pr == 0)
            return VN_ERR_TIMEOUT;
        if (pr < 0 && errno != EINTR)
            return VN_ERR_IO;
    }
}

static vn_err_t session_start(vn_h2_client_t *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    int rc = nghttp2_session_client_new(&c->sess, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return VN_ERR_NOMEM;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024},
    };
    if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0)
        return VN_ERR_PROTO;
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
            if (n < 0)
                return VN_ERR_PROTO;
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
    }
}

/* Reads everything available into nghttp2. Returns VN_OK or VN_ERR_IO (EOF, reset) / PROTO. */
static vn_err_t read_in(vn_h2_client_t *c)
{
    uint8_t buf[16384];
    for (;;) {
        ssize_t n = io_read(c, buf, sizeof buf);
        if (n == IO_AGAIN)
            return VN_OK;
        if (n <= 0) {
            c->dead = true;
            return VN_ERR_IO;
        }
        if (nghttp2_session_mem_recv(c->sess, buf, (size_t)n) < 0)
            return VN_ERR_PROTO;
    }
}

/* One write/wait/read pass. Returns VN_OK, VN_ERR_TIMEOUT when the deadline passed, or an error. */
static vn_err_t pump(vn_h2_client_t *c, double deadline)
{
    vn_err_t e = flush_out(c);
    if (e != VN_OK || c->done)
        return e;
    int ms = ms_until(deadline);
    if (ms == 0)
        return VN_ERR_TIMEOUT;
    bool pending = c->ssl ? (SSL_pending(c->ssl) > 0) : false;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (c->out_len || c->ssl_wants_write)
        p.events |= POLLOUT;
    int pr = pending ? 1 : poll(&p, 1, ms);
    if (pr < 0 && errno != EINTR)
        return VN_ERR_IO;
    if (pr > 0 && (pending || (p.revents & (POLLIN | POLLHUP | POLLERR))))
        return read_in(c);
    return VN_OK;
}

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
    vn_grpc_timeout_format(deadline - vn_h2_now(), timeout);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME}
    nghttp2_nv hdrs[] = {
        NV(":method", "POST"),
        NV(":scheme", c->tls ? "https" : "http"),
        NV(":path", path),
        NV(":authority", c->authority),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
        NV("grpc-timeout", timeout),
        NV("user-agent", "veneur-c/" VN_VERSION),
        {(uint8_t *)c->xname, (uint8_t *)c->xvalue, strlen(c->xname), strlen(c->xvalue), NGHTTP2_NV_FLAG_NONE},
    };
#undef NV
    size_t nhdrs = sizeof hdrs / sizeof hdrs[0] - (c->xname[0] ? 0 : 1);
    nghttp2_data_provider prov = {.source = {.ptr = NULL}, .read_callback = body_read};
    c->done = false;
    c->got_headers = false;
    c->body_off = 0;
    c->res = res;
    res->submitted = true;
    c->stream_id = nghttp2_submit_request(c->sess, NULL, hdrs, nhdrs, &prov, c);
    if (c->stream_id < 0) {
        c->dead = true;
        return VN_ERR_PROTO;
    }
    vn_err_t e = VN_OK;
    while (!c->done && e == VN_OK)
        e = pump(c, deadline);
    if (e == VN_OK)
        e = flush_out(c); /* e.g. the WINDOW_UPDATE or SETTINGS ACK behind the response */
    if (!c->done) {
        if (e == VN_ERR_TIMEOUT && c->sess) {
            nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
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
    c->body = body;
    c->body_len = len;
    vn_err_t e = VN_ERR_IO;
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(res, 0, sizeof *res);
        res->grpc_status = -1;
        bool refused;
        e = one_call(c, path, deadline, res, &refused);
        c->res = NULL;
        c->stream_id = 0;
        if (!(refused && vn_h2_now() < deadline))
            break;
        c->dead = true;
    }
    c->body = NULL;
    res->transport = e;
    if (e != VN_OK)
        return e;
    if (res->http_status != 200 || res->grpc_status != VN_GRPC_OK)
        return VN_ERR_PROTO;
    return VN_OK;
}

vn_err_t vn_h2_client_new(const char *addr, SSL_CTX *tls, const char *server_name, vn_h2_client_t **out)
{
    *out = NULL;
    vn_h2_client_t *c = vn_xcalloc(1, sizeof *c);
    c->fd = -1;
    if (vn_h2_split_hostport(addr, c->host, sizeof c->host, c->port, sizeof c->port) != VN_OK) {
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

void vn_h2_client_set_header(vn_h2_client_t *c, const char *name, const char *value)
{
    if (!name || !value || strlen(name) >= sizeof c->xname || strlen(value) >= sizeof c->xvalue) {
        c->xname[0] = c->xvalue[0] = '\0';
        return;
    }
    snprintf(c->xname, sizeof c->xname, "%s", name);
    snprintf(c->xvalue, sizeof c->xvalue, "%s", value);
}
