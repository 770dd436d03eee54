/**
 * dest.h - one forwarding destination (a global): its queue, its thread,
 * its stream. Internal to src/proxy (router.c is the only user); the
 * router decides membership in the ring, the destination reports its
 * stream going up and down through hooks.
 *
 * Thread: dial (dial_timeout) -> up: accepting = true, hooks.up -> send
 * batches from the queue until the stream fails or a stop is asked ->
 * down: hooks.down (out of the ring first), accepting = false, what is
 * still queued (and the unsent rest of the batch in flight) handed to
 * hooks.reroute -> wait the backoff (min, doubling to max) -> dial again.
 * A destination that turns out to be this proxy itself (self.h) is never
 * dialled again and never joins the ring; its thread waits for the stop.
 * A stream whose x-veneur-hops is lower than the router's current value is
 * ended cleanly and re-opened (hops.h). So is a stream the global sent
 * GOAWAY for (max connection age, graceful shutdown; issue 21): the batch
 * in flight is finished on the old stream, whose grpc-status 0 proves the
 * global processed all of it (counted sent only then; nothing resent, so
 * nothing duplicated), and the destination re-dials at once while staying
 * in the ring; its queue waits meanwhile. Only if the old stream fails
 * before its answer, or the re-dial fails, does the destination go down as
 * for any failure.
 *
 * Queue: framed gRPC messages appended to one buffer under a mutex
 * (at most max_msgs messages and max_bytes bytes; beyond, a counted drop);
 * the thread swaps the whole buffer out and hands it to the stream. The
 * routing path never waits on the destination: it copies and leaves, and
 * makes a system call only to wake a thread that had nothing to send.
 */
#ifndef VN_PROXY_DEST_H
#define VN_PROXY_DEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "proxy/proxy_stats.h"
#include "proxy/self.h"

typedef struct vn_dest vn_dest_t;

typedef struct vn_dest_hooks {
    void *ctx; /* the router */
    /** The stream is up and the destination accepts metrics: add it to the ring. */
    void (*up)(void *ctx, vn_dest_t *d);
    /** The stream failed or the destination stops: take it out of the ring (idempotent). */
    void (*down)(void *ctx, vn_dest_t *d);
    /** Routes whole gRPC frames again (borrowed); returns how many could not be placed. */
    size_t (*reroute)(void *ctx, const uint8_t *frames, size_t len);
} vn_dest_hooks_t;

typedef struct vn_dest_opts {
    double dial_timeout_s, backoff_min_s, backoff_max_s, ping_interval_s, ping_timeout_s, stall_timeout_s,
        heartbeat_s;
    size_t max_msgs, max_bytes;
    /* loop protection (issue 15); all borrowed from the router, NULL = off */
    const vn_self_t *self;       /* our id and listener: a destination that is us is refused */
    const _Atomic unsigned *hops; /* x-veneur-hops to send; a stream opened with less is re-opened */
    vn_proxy_stats_t *stats;     /* loop_self_address, hops_restreams */
    /* forward_tls (veneur-c addition): NULL = h2c, as Go's proxy dials; borrowed from the router,
     * which holds it until every destination is joined */
    SSL_CTX *tls;
    const char *server_name; /* NULL or "" = the host part of the address */
} vn_dest_opts_t;

typedef enum vn_dest_stop {
    VN_DEST_RUN = 0,
    VN_DEST_STOP_DRAIN = 1,   /* shutdown: send what is queued until the deadline, end the stream */
    VN_DEST_STOP_REROUTE = 2, /* no longer wanted: route the queue elsewhere, end the stream */
} vn_dest_stop_t;

typedef enum vn_dest_push { VN_DEST_QUEUED, VN_DEST_FULL, VN_DEST_DOWN } vn_dest_push_t;

struct vn_dest {
    char *addr; /* owned; the ring member string */
    /* router-owned, under the router's mutex */
    bool is_static, is_discovered, in_ring, removed;
    /* set by the router when the proxy's own server got a call from this destination (our id) */
    _Atomic bool is_self;
    _Atomic long refs;
    /* the queue, under mu */
    pthread_mutex_t mu;
    bool accepting;
    /* the thread has nothing in flight and waits for a push: the next push wakes it (efd) and
     * clears this; with a batch in flight, and for a few looks after one (IDLE_POLLS), it polls the
     * queue itself (BUSY_POLL_MS in dest.c) */
    bool sleeping;
    /* a push found the queue past half its bounds and woke the thread; cleared at the swap */
    bool nudged;
    uint8_t *q;
    size_t qlen, qcap, qcount;
    double q_first; /* monotonic time the oldest queued message arrived */
    vn_dest_opts_t o;
    vn_dest_hooks_t hooks;
    int efd; /* eventfd: queue became non-empty, or stop */
    _Atomic int stop; /* vn_dest_stop_t */
    double stop_deadline;
    pthread_t thread;
    /* counters for /metrics */
    _Atomic uint64_t up, connects, connect_failures, disconnects, sent, dropped_full, dropped_down, rerouted_out;
    _Atomic uint64_t goaway_restreams; /* streams ended cleanly and re-opened after the global's GOAWAY */
    /* Go's forward.buffer_latency_ns / send_latency_ns: the last batch's oldest message, queued
     * to handed to the stream / to taken whole by it; lat_fresh: a batch was sent since the last read */
    _Atomic uint64_t lat_buffer_ns, lat_send_ns, lat_fresh;
    uint64_t dropped_full_emitted; /* the telemetry thread's last read, for handle.enqueue's delta */
};

/** Creates the destination (addr copied), refs = 1 (the caller's), and starts its thread. */
vn_dest_t *vn_dest_start(const char *addr, const vn_dest_opts_t *o, const vn_dest_hooks_t *hooks);

/** Asks the thread to stop (mode, deadline in CLOCK_MONOTONIC seconds for DRAIN); does not wait. */
void vn_dest_signal_stop(vn_dest_t *d, vn_dest_stop_t mode, double deadline);

/** Waits for the thread after vn_dest_signal_stop. Call once. */
void vn_dest_join(vn_dest_t *d);

void vn_dest_ref(vn_dest_t *d);
/** Drops a reference; the last one frees (the thread must have been joined). */
void vn_dest_unref(vn_dest_t *d);

/** Wakes the thread (e.g. to notice is_self or a higher hop count at once). */
void vn_dest_wake(vn_dest_t *d);

/** Copies one message (5-byte prefix added here) into the queue. Never blocks on I/O. */
vn_dest_push_t vn_dest_push(vn_dest_t *d, const uint8_t *msg, size_t len);

#endif
