/**
 * h2_server_internal.h - what the files of the gRPC server share (h2_server.h is the public side).
 * Only src/forward/h2_server*.c include this.
 *
 * The server is one thread (or, detached, the caller's thread) and nothing here is locked: every
 * function below runs on that thread. Ownership:
 *   - struct vn_h2_server owns its connections (conns list, accept order) and the graveyard of
 *     killed ones; it holds a reference on o.tls (released when the server is freed).
 *   - a conn owns its nghttp2 session, its SSL (NULL for h2c), its socket (fd, -1 when detached)
 *     and its calls; it is freed only by vn_h2s__reap, never while the loop may hold its pointer.
 *   - a call owns its gRPC reader; the handler's context (hctx) is the handler's until
 *     handler.close, which vn_h2s__call_close always calls once.
 *
 * Files:
 *   h2_server.c           the thread loop, start/stop, defaults, the memory interface
 *   h2_server_stream.c    calls: nghttp2 callbacks, request checks, responses, reassembly budget
 *   h2_server_conn.c      connection records: create (session + SETTINGS), kill, reap, EPOLLOUT
 *   h2_server_io.c        socket I/O, plain or TLS (handshake, reads, writes)
 *   h2_server_accept.c    accepting: admission limits, eviction, accept back-off
 *   h2_server_lifecycle.c deadlines: max_connection_age GOAWAY/drain, keepalive PINGs, the sweep
 */
#ifndef VN_FORWARD_H2_SERVER_INTERNAL_H
#define VN_FORWARD_H2_SERVER_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/accept_backoff.h"
#include "forward/h2_server.h"

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

static inline double now_s(const struct vn_h2_server *s) { return s->clock(s->clock_ctx); }

#define BUMP(s, field)                                                                                             \
    do {                                                                                                           \
        if ((s)->o.stats)                                                                                          \
            vn_stats_add(&(s)->o.stats->field, 1);                                                                 \
    } while (0)

/* ---- h2_server_stream.c ---- */

/** A server-side nghttp2 session for cn with the call callbacks installed (user data = cn). 0 or nghttp2's error. */
int vn_h2s__session_new(conn_t *cn);
/** Answers c with Trailers-Only (st, msg); a no-op once c is answered. Output waits for the next flush. */
void vn_h2s__respond_error(call_t *c, vn_grpc_status_t st, const char *msg);
/** Closes the handler's side of c (CANCELLED unless answered), unlinks and frees c. */
void vn_h2s__call_close(call_t *c);
/** After input was read: handler.drained for each open call that got messages since the last time. */
void vn_h2s__conn_drained(conn_t *cn);

/* ---- h2_server_conn.c ---- */

/** A new connection on fd (-1: detached): session, our SETTINGS queued, deadlines set, linked at the
 * tail. peer: 16 bytes, copied. NULL if OpenSSL or nghttp2 fails (fd is then the caller's to close). */
conn_t *vn_h2s__conn_create(struct vn_h2_server *s, int fd, const uint8_t peer[16]);
/** Unlinks and shuts cn (calls closed, socket closed); the memory stays until vn_h2s__reap. Idempotent. */
void vn_h2s__conn_kill(conn_t *cn);
/** Closes cn politely: GOAWAY first (when it has a socket), then vn_h2s__conn_kill. */
void vn_h2s__conn_goaway_kill(conn_t *cn);
/** Frees the graveyard: only where no caller holds a connection pointer. */
void vn_h2s__reap(struct vn_h2_server *s);
/** EPOLLOUT on or off for cn (no-op when unchanged or detached). */
void vn_h2s__set_want_out(conn_t *cn, bool want);
/** nghttp2 still wants to read or write on cn. */
bool vn_h2s__conn_alive(conn_t *cn);

/* ---- h2_server_io.c ---- */

/** Writes what nghttp2 has (advancing a TLS handshake first); false when cn must be closed. */
bool vn_h2s__conn_flush(conn_t *cn);
/** Reads what the socket has, bounded per wake-up; false when cn must be closed. */
bool vn_h2s__conn_read(conn_t *cn);

/* ---- h2_server_accept.c ---- */

/** Accepts pending connections (bounded per wake-up), admitting or refusing each; pauses on fd exhaustion. */
void vn_h2s__conn_accept(struct vn_h2_server *s);
/** Re-arms the listening socket when an accept pause is over. */
void vn_h2s__accept_resume_if_due(struct vn_h2_server *s);

/* ---- h2_server_lifecycle.c ---- */

/** Sets a new connection's max_age deadline (jittered) and notes its first keepalive check. */
void vn_h2s__lifecycle_start(conn_t *cn);
/** A PING ACK arrived on cn (opaque: its 8 bytes): the drain PING's answer sends the final GOAWAY. */
void vn_h2s__ping_acked(conn_t *cn, const uint8_t *opaque);

#endif
