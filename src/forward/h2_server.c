/*
 * h2_server.c - the gRPC server loop (see h2_server.h for what it serves).
 *
 * One thread, one epoll set: the listening socket, an eventfd that asks the
 * thread to stop, and every connection (level-triggered; EPOLLOUT only while
 * output is pending). Each connection is an nghttp2 server session in memory
 * mode, like the client.
 *
 * The other parts: h2_server_internal.h lists them (calls, connections,
 * socket I/O, accepting, lifecycle deadlines).
 */
#include "forward/h2_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "forward/h2_server_internal.h"
#include "listen/addr.h"

static double real_clock(void *ctx)
{
    (void)ctx;
    return vn_clock_mono_s();
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
                vn_h2s__conn_accept(s);
            } else if (p == &s->efd) {
                stop = true;
            } else {
                conn_t *cn = p;
                if (cn->dead)
                    continue; /* killed earlier in this wake-up */
                bool ok = true;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    ok = vn_h2s__conn_read(cn);
                    vn_h2s__conn_drained(cn);
                }
                if (ok)
                    ok = vn_h2s__conn_flush(cn);
                if (!ok)
                    vn_h2s__conn_kill(cn);
            }
        }
        vn_h2s__reap(s);
        if (stop)
            break;
        vn_h2s__accept_resume_if_due(s);
        double now = vn_clock_mono_s();
        if (now - last_sweep >= 1.0 || (s->next_due > 0 && now >= s->next_due)) {
            vn_h2_server_sweep(s, now);
            last_sweep = now;
        }
    }
    while (s->conns)
        vn_h2s__conn_kill(s->conns);
    vn_h2s__reap(s);
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
        vn_h2s__conn_kill(s->conns);
    vn_h2s__reap(s);
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
    return vn_h2s__conn_create(s, -1, peer ? peer : any);
}

bool vn_h2_conn_feed(vn_h2_conn_t *cn, const uint8_t *data, size_t len)
{
    cn->last_active = now_s(cn->srv);
    if (nghttp2_session_mem_recv(cn->sess, data, len) < 0)
        return false;
    vn_h2s__conn_drained(cn);
    return vn_h2s__conn_alive(cn);
}

long vn_h2_conn_output(vn_h2_conn_t *cn, const uint8_t **out)
{
    ssize_t n = nghttp2_session_mem_send(cn->sess, out);
    return n < 0 ? -1 : (long)n;
}

void vn_h2_conn_close(vn_h2_conn_t *cn)
{
    struct vn_h2_server *s = cn->srv;
    vn_h2s__conn_kill(cn);
    vn_h2s__reap(s);
}

size_t vn_h2_server_held(const vn_h2_server_t *s) { return s->held; }

size_t vn_h2_server_connections(const vn_h2_server_t *s) { return s->nconns; }
