/*
 * h2_server_accept.c - accepting gRPC connections: admission against max_connections and
 * max_per_peer (evicting an idle connection when one is over), and the accept back-off
 * when accept(2) runs out of resources (h2_server.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "forward/h2_server_internal.h"

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
        vn_h2s__conn_goaway_kill(idle_same);
    }
    if (s->nconns >= s->o.max_connections) {
        if (!idle_any) {
            BUMP(s, grpc_connections_refused);
            limit_log(s, "grpc_connection_refused", "max_connections");
            return false;
        }
        BUMP(s, grpc_connections_evicted);
        limit_log(s, "grpc_connection_evicted", "max_connections");
        vn_h2s__conn_goaway_kill(idle_any);
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

void vn_h2s__accept_resume_if_due(struct vn_h2_server *s)
{
    if (!vn_accept_backoff_resume_due(&s->backoff, vn_clock_mono_ms()))
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->lfd};
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
}

void vn_h2s__conn_accept(struct vn_h2_server *s)
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
        conn_t *cn = vn_h2s__conn_create(s, fd, peer);
        if (!cn) {
            close(fd);
            continue;
        }
        BUMP(s, grpc_connections_total);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cn};
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (!vn_h2s__conn_flush(cn))
            vn_h2s__conn_kill(cn);
    }
}
