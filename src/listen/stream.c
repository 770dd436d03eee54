/*
 * stream.c - epoll loop for statsd over TCP, TLS and unix streams.
 *
 * Every socket is non-blocking. TLS connections run SSL_accept/SSL_read in
 * non-blocking mode: WANT_READ/WANT_WRITE just wait for the next readiness
 * event. Each connection has a fixed 64 KiB line buffer (Go's bufio.Scanner
 * limit); a longer line closes the connection and is counted.
 */
#include "listen/stream.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"

#define MAX_LISTENERS 32
#define MAX_CONNS 4096
#define LINE_MAX_BYTES (64 * 1024)
#define IDLE_TIMEOUT_S 600

typedef struct conn {
    int fd;
    bool tcp;
    SSL *ssl;
    bool handshaken;
    time_t last_active;
    size_t len;
    char buf[LINE_MAX_BYTES];
} conn_t;

typedef struct lsock {
    int fd;
    bool tcp;
} lsock_t;

struct vn_stream_loop {
    SSL_CTX *tls;
    vn_stats_t *stats;
    vn_ingest_t *ingest;
    int epfd, wakefd;
    lsock_t ls[MAX_LISTENERS];
    size_t nls;
    conn_t **conns; /* indexed by slot; epoll data carries a tagged pointer */
    size_t nconns;
    _Atomic bool stop;
    pthread_t thread;
    bool started;
};

/* epoll user data: listeners are tagged with the low bit (pointers are aligned). */
#define TAG_LISTENER 1u

vn_stream_loop_t *vn_stream_loop_new(void *tls_ctx, vn_stats_t *stats)
{
    vn_stream_loop_t *l = vn_xcalloc(1, sizeof *l);
    l->tls = tls_ctx;
    l->stats = stats;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev);
    l->conns = vn_xcalloc(MAX_CONNS, sizeof *l->conns);
    return l;
}

void vn_stream_loop_add_listener(vn_stream_loop_t *l, int fd, bool tcp)
{
    if (l->nls >= MAX_LISTENERS) {
        VN_LOG(ERROR, "event=too_many_stream_listeners max=%d", MAX_LISTENERS);
        close(fd);
        return;
    }
    l->ls[l->nls] = (lsock_t){fd, tcp};
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)(uintptr_t)&l->ls[l->nls]) | TAG_LISTENER};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
    l->nls++;
}

size_t vn_stream_loop_listener_count(const vn_stream_loop_t *l) { return l->nls; }

void vn_stream_loop_set_stats(vn_stream_loop_t *l, vn_stats_t *stats) { l->stats = stats; }

static void conn_close(vn_stream_loop_t *l, conn_t *c)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* best effort close_notify; never block */
        SSL_free(c->ssl);
    }
    close(c->fd);
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (l->conns[i] == c) {
            l->conns[i] = NULL;
            break;
        }
    l->nconns--;
    vn_stats_add(&l->stats->tcp_disconnects, 1);
    free(c);
}

static void accept_all(vn_stream_loop_t *l, lsock_t *ls)
{
    for (;;) {
        int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                VN_LOG_ERRNO(WARN, "event=accept_failed");
            return;
        }
        if (l->nconns >= MAX_CONNS) {
            vn_stats_add(&l->stats->tcp_conn_rejected, 1);
            close(fd);
            continue;
        }
        conn_t *c = vn_xmalloc(sizeof *c);
        c->fd = fd;
        c->tcp = ls->tcp;
        c->ssl = NULL;
        c->handshaken = true;
        c->len = 0;
        c->last_active = time(NULL);
        if (ls->tcp && l->tls) {
            c->ssl = SSL_new(l->tls);
            SSL_set_fd(c->ssl, fd);
            SSL_set_accept_state(c->ssl);
            c->handshaken = false;
        }
        for (size_t i = 0; i < MAX_CONNS; i++)
            if (!l->conns[i]) {
                l->conns[i] = c;
                break;
            }
        l->nconns++;
        vn_stats_add(&l->stats->tcp_connects, 1);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Consumes complete lines in c->buf. Returns false when the connection must close. */
static bool consume_lines(vn_stream_loop_t *l, conn_t *c, uint64_t *lines)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(c->buf + start, '\n', c->len - start);
        if (!nl)
            break;
        size_t ll = (size_t)(nl - (c->buf + start));
        if (ll && c->buf[start + ll - 1] == '\r')
            ll--; /* bufio.ScanLines strips a trailing CR */
        (*lines)++;
        if (!vn_ingest_line(l->ingest, c->buf + start, ll))
            return false; /* Go closes a stream on its first bad line */
        start = (size_t)(nl - c->buf) + 1;
    }
    if (start) {
        memmove(c->buf, c->buf + start, c->len - start);
        c->len -= start;
    }
    if (c->len == sizeof c->buf) {
        vn_stats_add(&l->stats->packet_too_long, 1);
        return false;
    }
    return true;
}

/* Reads what is available; returns false when the connection is finished. */
static bool conn_read(vn_stream_loop_t *l, conn_t *c)
{
    vn_proto_t proto = c->tcp ? VN_PROTO_TCP : VN_PROTO_UNIX;
    if (c->ssl && !c->handshaken) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                struct epoll_event ev = {.events = (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN) | EPOLLRDHUP,
                                         .data.ptr = c};
                epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
                return true;
            }
            char eb[160];
            ERR_error_string_n(ERR_peek_last_error(), eb, sizeof eb);
            VN_LOG(WARN, "event=tls_handshake_failed err=\"%s\"", eb);
            vn_stats_add(&l->stats->tls_handshake_failures, 1);
            return false;
        }
        c->handshaken = true;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
    uint64_t lines = 0, bytes = 0;
    bool ok = true;
    for (int rounds = 0; rounds < 64 && ok; rounds++) {
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    break;
                ok = false;
                break;
            }
            n = r;
        } else {
            n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
            if (n <= 0) {
                ok = false;
                break;
            }
        }
        bytes += (uint64_t)n;
        c->len += (size_t)n;
        ok = consume_lines(l, c, &lines);
    }
    if (!ok && c->len > 0 && c->len < sizeof c->buf) {
        /* EOF: a final line without '\n' still counts, as bufio.Scanner yields it. */
        lines++;
        vn_ingest_line(l->ingest, c->buf, c->len);
        c->len = 0;
    }
    c->last_active = time(NULL);
    vn_stats_add(&l->stats->packets[proto], lines);
    vn_stats_add(&l->stats->bytes[proto], bytes);
    return ok;
}

static void reap_idle(vn_stream_loop_t *l)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (l->conns[i] && now - l->conns[i]->last_active > IDLE_TIMEOUT_S)
            conn_close(l, l->conns[i]);
}

static void *stream_main(void *arg)
{
    vn_stream_loop_t *l = arg;
    struct epoll_event evs[64];
    time_t last_reap = time(NULL);
    while (!atomic_load(&l->stop)) {
        int n = epoll_wait(l->epfd, evs, 64, 1000);
        for (int i = 0; i < n; i++) {
            uint64_t u = evs[i].data.u64;
            if (evs[i].data.ptr == NULL)
                continue; /* wake-up */
            if (u & TAG_LISTENER) {
                accept_all(l, (lsock_t *)(uintptr_t)(u & ~(uint64_t)TAG_LISTENER));
                continue;
            }
            conn_t *c = evs[i].data.ptr;
            if (!conn_read(l, c))
                conn_close(l, c);
        }
        vn_ingest_commit(l->ingest);
        if (time(NULL) - last_reap > 10) {
            reap_idle(l);
            last_reap = time(NULL);
        }
    }
    /* Drain what is already buffered in the kernel before closing (shutdown must not lose accepted data). */
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (l->conns[i] && l->conns[i]->handshaken)
            conn_read(l, l->conns[i]);
    vn_ingest_commit(l->ingest);
    return NULL;
}

int vn_stream_loop_start(vn_stream_loop_t *l, vn_ingest_t *ingest)
{
    l->ingest = ingest;
    int rc = pthread_create(&l->thread, NULL, stream_main, l);
    l->started = rc == 0;
    return rc;
}

void vn_stream_loop_stop(vn_stream_loop_t *l)
{
    if (!l || !l->started)
        return;
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    ssize_t w = write(l->wakefd, &one, sizeof one);
    (void)w;
    pthread_join(l->thread, NULL);
    l->started = false;
}

void vn_stream_loop_free(vn_stream_loop_t *l)
{
    if (!l)
        return;
    vn_stream_loop_stop(l);
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (l->conns[i])
            conn_close(l, l->conns[i]);
    for (size_t i = 0; i < l->nls; i++)
        close(l->ls[i].fd);
    close(l->epfd);
    close(l->wakefd);
    free(l->conns);
    free(l);
}
