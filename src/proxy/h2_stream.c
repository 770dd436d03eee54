/*
 * h2_stream.c - a long-lived client-streaming gRPC call on libnghttp2 (see
 * h2_stream.h).
 *
 * Same shape as forward/h2_client.c: an nghttp2 client session in memory
 * mode over a non-blocking socket, every wait a poll() with a bound. The
 * request body comes from a data source that serves the owner's current
 * buffer and answers NGHTTP2_ERR_DEFERRED when it is used up; handing a new
 * buffer resumes it. nghttp2 copies body bytes into its own frames when it
 * asks for them, so "taken" (the buffer may be reused) is known exactly.
 *
 * Life of a stream:
 *   connect -> preface + SETTINGS out -> server SETTINGS in (the dial is
 *   done) -> HEADERS (POST path, te: trailers, no grpc-timeout: the call has
 *   no deadline) -> DATA as buffers come -> [finish: END_STREAM, wait for
 *   the trailers] or failure.
 */
#include "proxy/h2_stream.h"

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
#include "forward/hops.h"

struct vn_h2_stream {
    int fd;
    nghttp2_session *sess;
    char authority[300];
    char path[128];
    int32_t sid;
    /* output chunk from nghttp2_session_mem_send not yet fully written */
    const uint8_t *out;
    size_t out_len;
    /* the owner's buffer being served as body */
    const uint8_t *body;
    size_t body_len, body_off;
    bool ending;          /* finish: END_STREAM after the body */
    bool got_settings;    /* the server's SETTINGS arrived */
    bool closed;          /* our stream closed (answered or reset) */
    bool failed;
    int grpc_status;
    char grpc_message[128];
    uint32_t reset_code;
    double ping_interval, ping_timeout, stall_timeout;
    double ping_sent;     /* monotonic time of the outstanding PING, 0 if none */
    double last_ping_ack; /* last PING answered (or the open time) */
    double last_progress; /* last time output moved (bytes to the socket), or nothing was pending */
    double heartbeat, last_data; /* empty DATA frame interval; last time body bytes were taken */
    bool heartbeat_due;          /* the data source owes an empty DATA frame */
    char why[256];
};

__attribute__((format(printf, 2, 3))) static void set_why(vn_h2_stream_t *s, const char *fmt, ...)
{
    if (s->why[0])
        return; /* the first reason is the one worth reporting */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
}

/* ---- nghttp2 callbacks ---- */

static int on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)ss;
    (void)flags;
    vn_h2_stream_t *s = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->hd.stream_id != s->sid)
        return 0;
    if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        int st = 0;
        for (size_t i = 0; i < vlen && i < 6; i++)
            st = st * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
        s->grpc_status = st;
    } else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        vn_grpc_message_decode((const char *)value, vlen, s->grpc_message, sizeof s->grpc_message);
    }
    return 0;
}

static int on_close(nghttp2_session *ss, int32_t sid, uint32_t code, void *ud)
{
    (void)ss;
    vn_h2_stream_t *s = ud;
    if (sid == s->sid) {
        s->closed = true;
        s->reset_code = code;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
    (void)ss;
    vn_h2_stream_t *s = ud;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
        s->got_settings = true;
    else if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK)) {
        s->ping_sent = 0;
        s->last_ping_ack = vn_clock_mono_s();
    } else if (f->hd.type == NGHTTP2_GOAWAY) {
        /* The server is leaving (idle close, shutdown): this stream will end;
         * fail now so the destination reconnects without waiting for it. */
        s->failed = true;
        set_why(s, "%s", "server sent GOAWAY");
    }
    return 0;
}

static ssize_t body_read(nghttp2_session *ss, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)ss;
    (void)sid;
    (void)src;
    vn_h2_stream_t *s = ud;
    size_t n = s->body_len - s->body_off;
    if (n == 0) {
        if (s->ending) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        if (s->heartbeat_due) { /* 0 bytes without EOF: nghttp2 sends an empty DATA frame */
            s->heartbeat_due = false;
            s->last_data = vn_clock_mono_s();
            return 0;
        }
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > length)
        n = length;
    memcpy(buf, s->body + s->body_off, n);
    s->body_off += n;
    s->last_data = vn_clock_mono_s();
    return (ssize_t)n;
}

/* ---- I/O ---- */

static vn_err_t flush_out(vn_h2_stream_t *s)
{
    for (;;) {
        if (!s->out_len) {
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(s->sess, &d);
            if (n < 0) {
                set_why(s, "http2: %s", nghttp2_strerror((int)n));
                return VN_ERR_PROTO;
            }
            if (n == 0)
                return VN_OK;
            s->out = d;
            s->out_len = (size_t)n;
        }
        ssize_t w = send(s->fd, s->out, s->out_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return VN_OK;
            set_why(s, "send: %s", strerror(errno));
            return VN_ERR_IO;
        }
        s->out += w;
        s->out_len -= (size_t)w;
        if (w > 0)
            s->last_progress = vn_clock_mono_s();
    }
}

static vn_err_t read_in(vn_h2_stream_t *s)
{
    uint8_t buf[16384];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(s->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return VN_OK;
            set_why(s, "recv: %s", strerror(errno));
            return VN_ERR_IO;
        }
        if (n == 0) {
            set_why(s, "%s", "connection closed by the server");
            return VN_ERR_IO;
        }
        ssize_t r = nghttp2_session_mem_recv(s->sess, buf, (size_t)n);
        if (r < 0) {
            set_why(s, "http2: %s", nghttp2_strerror((int)r));
            return VN_ERR_PROTO;
        }
    }
    return VN_OK;
}

/* Waits for the socket (and wake_fd) at most ms; then reads. */
static vn_err_t wait_io(vn_h2_stream_t *s, int ms, int wake_fd, bool *woken)
{
    struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    if (s->out_len)
        p[0].events |= POLLOUT;
    int np = wake_fd >= 0 ? 2 : 1;
    int pr = poll(p, (nfds_t)np, ms);
    if (pr < 0 && errno != EINTR) {
        set_why(s, "poll: %s", strerror(errno));
        return VN_ERR_IO;
    }
    if (pr <= 0)
        return VN_OK;
    if (np == 2 && (p[1].revents & POLLIN) && woken)
        *woken = true;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        return read_in(s);
    return VN_OK;
}

static vn_err_t check_state(vn_h2_stream_t *s)
{
    if (s->failed)
        return VN_ERR_IO;
    if (s->closed) {
        if (s->grpc_status >= 0)
            set_why(s, "server ended the stream: grpc-status %d %.150s", s->grpc_status, s->grpc_message);
        else
            set_why(s, "stream reset by the server (code %u)", s->reset_code);
        return VN_ERR_PROTO;
    }
    return VN_OK;
}

static vn_err_t tcp_connect(vn_h2_stream_t *s, const char *host, const char *port, double deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        set_why(s, "resolve: %s", gai_strerror(gai));
        return VN_ERR_IO;
    }
    vn_err_t err = VN_ERR_IO;
    for (struct addrinfo *ai = res; ai && err != VN_OK; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* The kernel's own checks: a dead host or a black-holed path fails the
         * connection without any frame a gRPC server could object to. */
        int one = 1, idle = 15, intvl = 5, cnt = 3;
        unsigned user_timeout = (unsigned)(s->stall_timeout * 1000);
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
                set_why(s, "%s", "connect: dial timeout");
                err = VN_ERR_TIMEOUT;
                break;
            }
            socklen_t sl = sizeof e;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl);
            rc = e ? -1 : 0;
        }
        if (rc == 0) {
            s->fd = fd;
            err = VN_OK;
        } else {
            close(fd);
            set_why(s, "connect: %s", strerror(e));
        }
    }
    freeaddrinfo(res);
    return err;
}

vn_err_t vn_h2_stream_open(const vn_h2_stream_opts_t *o, double deadline, vn_h2_stream_t **out, char *err,
                           size_t errcap)
{
    *out = NULL;
    char host[256], port[16];
    if (vn_hostport_split(o->addr, false, host, sizeof host, port, sizeof port) != VN_OK) {
        snprintf(err, errcap, "not host:port");
        return VN_ERR_CONFIG;
    }
    vn_h2_stream_t *s = vn_xcalloc(1, sizeof *s);
    s->fd = -1;
    s->grpc_status = -1;
    s->ping_interval = o->ping_interval_s > 0 ? o->ping_interval_s : 310;
    s->ping_timeout = o->ping_timeout_s > 0 ? o->ping_timeout_s : 20;
    s->stall_timeout = o->stall_timeout_s > 0 ? o->stall_timeout_s : 30;
    s->heartbeat = o->heartbeat_s > 0 ? o->heartbeat_s : 60;
    snprintf(s->authority, sizeof s->authority, "%s", o->addr);
    snprintf(s->path, sizeof s->path, "%s", o->path);
    char hops[16];
    snprintf(hops, sizeof hops, "%u", o->hops);
    vn_err_t e = tcp_connect(s, host, port, deadline);
    if (e == VN_OK) {
        nghttp2_session_callbacks *cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
        int rc = nghttp2_session_client_new(&s->sess, cb, s);
        nghttp2_session_callbacks_del(cb);
        nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024}};
        if (rc != 0 || nghttp2_submit_settings(s->sess, NGHTTP2_FLAG_NONE, iv, 2) != 0) {
            set_why(s, "%s", "http2: session set-up failed");
            e = VN_ERR_PROTO;
        }
    }
    /* the dial completes when the server's SETTINGS arrive (Go's WithBlock waits for READY) */
    while (e == VN_OK && !s->got_settings) {
        e = flush_out(s);
        if (e != VN_OK)
            break;
        int ms = vn_clock_ms_until(deadline);
        if (ms == 0) {
            set_why(s, "%s", "no HTTP/2 SETTINGS from the server before the dial timeout");
            e = VN_ERR_TIMEOUT;
            break;
        }
        e = wait_io(s, ms, -1, NULL);
        if (e == VN_OK)
            e = check_state(s);
    }
    if (e == VN_OK) {
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME}
        nghttp2_nv hdrs[] = {
            NV(":method", "POST"),
            NV(":scheme", "http"),
            NV(":path", s->path),
            NV(":authority", s->authority),
            NV("content-type", "application/grpc"),
            NV("te", "trailers"),
            NV("user-agent", "veneur-proxy-c/" VN_VERSION),
            NV(VN_HOPS_HEADER, hops),
            NV(VN_PROXY_ID_HEADER, o->proxy_id ? o->proxy_id : ""),
        };
#undef NV
        size_t nh = sizeof hdrs / sizeof hdrs[0] - 2;
        if (o->hops)
            hdrs[nh++] = hdrs[sizeof hdrs / sizeof hdrs[0] - 2];
        if (o->proxy_id)
            hdrs[nh++] = hdrs[sizeof hdrs / sizeof hdrs[0] - 1];
        nghttp2_data_provider prov = {.source = {.ptr = NULL}, .read_callback = body_read};
        s->sid = nghttp2_submit_request(s->sess, NULL, hdrs, nh, &prov, s);
        if (s->sid < 0) {
            set_why(s, "%s", "http2: cannot open the stream");
            e = VN_ERR_PROTO;
        } else {
            e = flush_out(s);
        }
    }
    /* a PING after the HEADERS: its answer means the server has processed them */
    if (e == VN_OK && nghttp2_submit_ping(s->sess, NGHTTP2_FLAG_NONE, NULL) != 0) {
        set_why(s, "%s", "http2: cannot send PING");
        e = VN_ERR_PROTO;
    }
    if (e == VN_OK)
        s->ping_sent = vn_clock_mono_s();
    while (e == VN_OK && s->ping_sent > 0) {
        e = flush_out(s);
        if (e != VN_OK)
            break;
        int ms = vn_clock_ms_until(deadline);
        if (ms == 0) {
            set_why(s, "%s", "no answer to the opening PING before the dial timeout");
            e = VN_ERR_TIMEOUT;
            break;
        }
        e = wait_io(s, ms, -1, NULL);
        if (e == VN_OK)
            e = check_state(s);
    }
    if (e == VN_OK)
        e = check_state(s);
    if (e != VN_OK) {
        snprintf(err, errcap, "%s", s->why[0] ? s->why : vn_strerror(e));
        vn_h2_stream_free(s);
        return e;
    }
    s->last_ping_ack = s->last_progress = s->last_data = vn_clock_mono_s();
    *out = s;
    return VN_OK;
}

void vn_h2_stream_free(vn_h2_stream_t *s)
{
    if (!s)
        return;
    if (s->sess)
        nghttp2_session_del(s->sess);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

bool vn_h2_stream_idle(const vn_h2_stream_t *s) { return s->body_off == s->body_len; }

size_t vn_h2_stream_unsent(const vn_h2_stream_t *s) { return s->body_len - s->body_off; }

void vn_h2_stream_write(vn_h2_stream_t *s, const uint8_t *data, size_t len)
{
    s->body = data;
    s->body_len = len;
    s->body_off = 0;
    if (len)
        nghttp2_session_resume_data(s->sess, s->sid);
}

static vn_err_t keepalive(vn_h2_stream_t *s)
{
    double now = vn_clock_mono_s();
    bool pending = s->out_len > 0 || s->body_off < s->body_len;
    if (!pending)
        s->last_progress = now;
    else if (now - s->last_progress > s->stall_timeout) {
        set_why(s, "no progress sending for %g s (the server stopped reading)", s->stall_timeout);
        return VN_ERR_TIMEOUT;
    }
    if (!pending && !s->heartbeat_due && now - s->last_data >= s->heartbeat) {
        s->heartbeat_due = true;
        nghttp2_session_resume_data(s->sess, s->sid);
    }
    if (s->ping_sent > 0) {
        if (now - s->ping_sent > s->ping_timeout) {
            set_why(s, "%s", "keepalive PING not answered in time");
            return VN_ERR_TIMEOUT;
        }
    } else if (now - s->last_ping_ack >= s->ping_interval) {
        if (nghttp2_submit_ping(s->sess, NGHTTP2_FLAG_NONE, NULL) != 0) {
            set_why(s, "%s", "http2: cannot send PING");
            return VN_ERR_PROTO;
        }
        s->ping_sent = now;
    }
    return VN_OK;
}

vn_err_t vn_h2_stream_pump(vn_h2_stream_t *s, int timeout_ms, int wake_fd, bool *woken)
{
    vn_err_t e = check_state(s);
    if (e == VN_OK)
        e = keepalive(s);
    if (e == VN_OK)
        e = flush_out(s);
    if (e == VN_OK) {
        /* never sleep past the next keepalive or stall check */
        double next = s->ping_sent > 0 ? s->ping_sent + s->ping_timeout : s->last_ping_ack + s->ping_interval;
        if (s->last_progress + s->stall_timeout < next)
            next = s->last_progress + s->stall_timeout;
        if (s->last_data + s->heartbeat < next)
            next = s->last_data + s->heartbeat;
        int ka = vn_clock_ms_until(next) + 1;
        e = wait_io(s, timeout_ms < ka ? timeout_ms : ka, wake_fd, woken);
    }
    if (e == VN_OK)
        e = check_state(s);
    if (e == VN_OK)
        e = flush_out(s); /* WINDOW_UPDATE, PING ACK, SETTINGS ACK for what was read */
    if (e != VN_OK)
        s->failed = true;
    return e;
}

vn_err_t vn_h2_stream_finish(vn_h2_stream_t *s, double deadline)
{
    if (s->failed)
        return VN_ERR_IO;
    s->ending = true;
    nghttp2_session_resume_data(s->sess, s->sid);
    vn_err_t e = VN_OK;
    while (!s->closed && e == VN_OK) {
        e = flush_out(s);
        int ms = vn_clock_ms_until(deadline);
        if (e == VN_OK && ms == 0) {
            set_why(s, "%s", "no answer before the shutdown deadline");
            e = VN_ERR_TIMEOUT;
        }
        if (e == VN_OK)
            e = wait_io(s, ms, -1, NULL);
        if (e == VN_OK && s->failed)
            e = VN_ERR_IO;
    }
    if (e == VN_OK && s->grpc_status != 0) {
        set_why(s, "grpc-status %d %.150s", s->grpc_status, s->grpc_message);
        e = VN_ERR_PROTO;
    }
    return e;
}

const char *vn_h2_stream_error(const vn_h2_stream_t *s) { return s->why[0] ? s->why : "no error"; }
