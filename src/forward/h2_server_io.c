/*
 * h2_server_io.c - the gRPC server's socket I/O, plain or TLS, between a connection's
 * socket and its nghttp2 session (memory mode, bytes in, bytes out).
 *
 * TLS: the socket is driven non-blocking through SSL_do_handshake /
 * SSL_read / SSL_write. Until the handshake is done, both the read and the
 * write paths only advance it (EPOLLOUT while OpenSSL wants to write).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "forward/h2_server_internal.h"

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
    case SSL_ERROR_WANT_READ: vn_h2s__set_want_out(cn, false); return 0;
    case SSL_ERROR_WANT_WRITE: vn_h2s__set_want_out(cn, true); return 0;
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
    case SSL_ERROR_WANT_WRITE: vn_h2s__set_want_out(cn, true); return IO_AGAIN;
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
bool vn_h2s__conn_flush(conn_t *cn)
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
        vn_h2s__set_want_out(cn, want);
    return cn->out_len > 0 || vn_h2s__conn_alive(cn);
}

/* Reads what the socket has (at most 512 KiB per wake-up, so one busy
 * connection cannot starve the others; epoll is level-triggered and comes
 * back for the rest, but not for a TLS record OpenSSL already holds, so that
 * one is always taken); false when the connection must be closed. */
bool vn_h2s__conn_read(conn_t *cn)
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
