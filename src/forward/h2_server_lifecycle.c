/*
 * h2_server_lifecycle.c - the gRPC server's connection deadlines (h2_server.h: lifecycle).
 *
 * Each connection carries its own deadlines (age limit with jitter, keepalive PING due or
 * overdue, grace end); the sweep acts on them and records the earliest one still ahead in
 * next_due, which bounds the loop's epoll wait, so a 2 s max_age is kept to the millisecond
 * rather than to the one-second sweep tick. The sweep also closes connections that never
 * finished the handshake, idle ones, and calls whose message body stalls.
 *
 * max_age drains in two steps (h2_server.h): a GOAWAY notice plus a PING, then, once the PING
 * is answered, the final GOAWAY naming the last call taken; after the grace, the hard close.
 */
#include <string.h>

#include "core/log.h"
#include "forward/h2_server_internal.h"

/* PING payloads: which of our PINGs an ACK answers */
static const uint8_t PING_DRAIN[8] = {'v', 'n', '-', 'd', 'r', 'a', 'i', 'n'};
static const uint8_t PING_KEEPALIVE[8] = {'v', 'n', '-', 'k', 'e', 'e', 'p', 'a'};

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

void vn_h2s__lifecycle_start(conn_t *cn)
{
    struct vn_h2_server *s = cn->srv;
    if (s->o.max_age_s > 0) {
        double jitter = (rand01(s) * 2 - 1) * VN_H2_MAX_AGE_JITTER;
        cn->age_at = cn->accepted_at + s->o.max_age_s * (1 + jitter);
        note_due(s, cn->age_at);
    }
    if (s->o.keepalive_time_s > 0)
        note_due(s, cn->accepted_at + s->o.keepalive_time_s);
}

/* The answer to the drain PING: the client has read the notice, so every
 * call it will ever send on this connection has reached us; name the last. */
void vn_h2s__ping_acked(conn_t *cn, const uint8_t *opaque)
{
    if (memcmp(opaque, PING_DRAIN, 8) != 0 || cn->drain != DRAIN_NOTICE)
        return;
    cn->drain = DRAIN_FINAL;
    nghttp2_submit_goaway(cn->sess, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(cn->sess),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

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
            vn_h2s__conn_kill(cn);
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
            vn_h2s__conn_kill(cn);
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
            vn_h2s__conn_kill(cn);
            continue;
        }
        if (now - cn->last_frame > s->o.idle_timeout_s) {
            VN_LOG(DEBUG, "event=grpc_connection_idle_closed");
            vn_h2s__conn_goaway_kill(cn);
            continue;
        }
        bool queued = false;
        if (!age_step(cn, now, &queued) || !keepalive_step(cn, now, &queued))
            continue;
        bool answered = queued;
        for (call_t *c = cn->calls; c; c = c->next) {
            if (!c->partial_since || c->responded || now - c->partial_since <= s->o.body_timeout_s)
                continue;
            vn_h2s__respond_error(c, VN_GRPC_DEADLINE_EXCEEDED, "message body did not arrive in time");
            vn_grpc_reader_destroy(&c->reader);
            c->partial_since = 0;
            BUMP(s, grpc_body_timeouts);
            answered = true;
        }
        if (answered && cn->fd >= 0 && !vn_h2s__conn_flush(cn))
            vn_h2s__conn_kill(cn);
    }
    vn_h2s__reap(s); /* callers hold no connection pointers across a sweep */
}
