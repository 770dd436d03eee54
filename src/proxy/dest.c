/*
 * dest.c - a destination's thread and queue (see dest.h).
 *
 * Buffers: q (being filled by routing threads, under mu) and the batch
 * (owned by the thread, being read by the stream). A swap exchanges them
 * whole, so the lock is held for a pointer swap, never for I/O. The batch
 * is handed to the stream only when the previous one has been taken whole
 * by nghttp2, which copies it into frames; after a failure the untaken
 * rest of the batch is found by walking its frames from the start:
 *
 *   batch: |00 len msg|00 len msg|00 len msg|
 *                          ^ taken up to here
 *          sent (counted)  lost (1)  rerouted
 */
#include "proxy/dest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client.h"
#include "forward/hops.h"

#define PATH_V2 "/forwardrpc.Forward/SendMetricsV2"
/* A batch buffer this large that was mostly empty is released, so a burst does not pin memory,
 * but only when no batch of a quarter of that size went out for SHRINK_AFTER_S: a steady or
 * periodic load (locals flush every interval) keeps its buffers instead of page-faulting them
 * in again on each burst (issue 22: the routing thread takes those faults). */
#define SHRINK_ABOVE ((size_t)4 << 20)
#define SHRINK_AFTER_S 30.0
/* With a batch in flight the thread polls the queue this often instead of being woken per
 * batch: a wake-up (eventfd write, the other thread scheduled) cost the routing thread more
 * than scanning, hashing and copying a metric together (issue 22). Bounds the added latency. */
#define BUSY_POLL_MS 1
/* After a batch went out whole and nothing was queued, the thread still looks at the queue
 * this many times (BUSY_POLL_MS apart) before it asks to be woken: under a steady flow the
 * stream often outruns the routing threads for a moment, and a wake-up per such gap was the
 * largest system cost on the routing thread (issue 22: eventfd write + scheduling IPI). */
#define IDLE_POLLS 3
/* Connect failures are logged once, then at most this often. */
#define FAIL_LOG_EVERY_S 60.0

typedef struct batch {
    uint8_t *p;
    size_t len, cap, count;
    double first; /* monotonic time its first message was queued */
    double last_big; /* monotonic time of the last batch of SHRINK_ABOVE / 4 bytes or more */
} batch_t;

/* Process-wide counters (Go's veneur_proxy.forward.* / grpc.conn_*); none without stats. */
#define PSTAT(d, field, n)                                                                                            \
    do {                                                                                                               \
        if ((d)->o.stats)                                                                                              \
            vn_stats_add(&(d)->o.stats->field, (n));                                                                   \
    } while (0)

static void count_sent(vn_dest_t *d, size_t n)
{
    atomic_fetch_add_explicit(&d->sent, n, memory_order_relaxed);
    PSTAT(d, fwd_metrics[VN_PSTAT_FWD_OK], n);
}

static int stopping(vn_dest_t *d) { return atomic_load(&d->stop); }

static void wake(vn_dest_t *d)
{
    uint64_t one = 1;
    ssize_t w = write(d->efd, &one, sizeof one);
    (void)w; /* a full counter still wakes the reader */
}

static void drain_efd(vn_dest_t *d)
{
    uint64_t v;
    ssize_t r = read(d->efd, &v, sizeof v);
    (void)r;
}

/* Sleeps up to s seconds, returning early when stopped. */
static void nap(vn_dest_t *d, double s)
{
    double end = vn_clock_mono_s() + s;
    while (!stopping(d)) {
        double left = end - vn_clock_mono_s();
        if (left <= 0)
            return;
        struct pollfd p = {.fd = d->efd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1000) + 1) > 0)
            drain_efd(d);
    }
}

vn_dest_push_t vn_dest_push(vn_dest_t *d, const uint8_t *msg, size_t len)
{
    size_t need = VN_GRPC_PREFIX + len;
    pthread_mutex_lock(&d->mu);
    if (!d->accepting) {
        pthread_mutex_unlock(&d->mu);
        return VN_DEST_DOWN;
    }
    if (d->qcount >= d->o.max_msgs || need > d->o.max_bytes - d->qlen || len > UINT32_MAX) {
        pthread_mutex_unlock(&d->mu);
        atomic_fetch_add_explicit(&d->dropped_full, 1, memory_order_relaxed);
        return VN_DEST_FULL;
    }
    if (d->qlen + need > d->qcap) {
        size_t cap = d->qcap ? d->qcap : 64 * 1024;
        while (cap < d->qlen + need)
            cap *= 2;
        if (cap > d->o.max_bytes)
            cap = d->o.max_bytes;
        d->q = vn_xrealloc(d->q, cap);
        d->qcap = cap;
    }
    if (d->qlen == 0)
        d->q_first = vn_clock_mono_s(); /* once per batch: the buffer latency is the oldest message's */
    vn_grpc_prefix(d->q + d->qlen, (uint32_t)len);
    memcpy(d->q + d->qlen + VN_GRPC_PREFIX, msg, len);
    d->qlen += need;
    d->qcount++;
    /* The queue's next bytes are cold (the buffer cycles through megabytes between swaps):
     * ask for them now, for writing, so the next push here finds them in cache instead of
     * stalling on the write misses (issue 22). Within the buffer only. */
    if (d->qcap - d->qlen >= 512) {
        const uint8_t *t = d->q + d->qlen;
        __builtin_prefetch(t, 1);
        __builtin_prefetch(t + 64, 1);
        __builtin_prefetch(t + 128, 1);
        __builtin_prefetch(t + 192, 1);
        __builtin_prefetch(t + 256, 1);
        __builtin_prefetch(t + 320, 1);
        __builtin_prefetch(t + 384, 1);
        __builtin_prefetch(t + 448, 1);
    }
    /* The thread had nothing to send: the first push wakes it. Or the queue passed half its
     * bounds before the thread's next look (BUSY_POLL_MS): wake it once, so a small queue is
     * taken as soon as the stream can, as when every batch woke it, not refused meanwhile. */
    bool half = d->qcount * 2 >= d->o.max_msgs || d->qlen * 2 >= d->o.max_bytes;
    bool wake_now = d->sleeping || (half && !d->nudged);
    d->nudged |= half;
    d->sleeping = false;
    pthread_mutex_unlock(&d->mu);
    if (wake_now)
        wake(d);
    return VN_DEST_QUEUED;
}

/* Exchanges the queue with b (which must be empty). */
static void swap_queue(vn_dest_t *d, batch_t *b)
{
    pthread_mutex_lock(&d->mu);
    uint8_t *p = d->q;
    size_t len = d->qlen, cap = d->qcap, count = d->qcount;
    b->first = d->q_first;
    d->q = b->p;
    d->qcap = b->cap;
    d->qlen = 0;
    d->qcount = 0;
    d->nudged = false;
    pthread_mutex_unlock(&d->mu);
    b->p = p;
    b->len = len;
    b->cap = cap;
    b->count = count;
}

static void batch_done(batch_t *b)
{
    if (b->len >= SHRINK_ABOVE / 4)
        b->last_big = vn_clock_mono_s();
    else if (b->cap > SHRINK_ABOVE && b->len < b->cap / 4 && vn_clock_mono_s() - b->last_big >= SHRINK_AFTER_S) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
    b->len = b->count = 0;
}

/* b, just emptied, is the routing threads' next queue (the swap hands it over). A batch that
 * filled more than half its buffer says the next queue may need twice that: grow it here and
 * fault the new pages in on this thread, so a routing thread neither reallocates under the
 * queue's lock nor takes those page faults while copying in (issue 22: 15-40 k faults per
 * 5 M routed metrics when the queue grew on the routing thread). Only on the way up: a
 * smaller load leaves the buffer as it is, and batch_done's shrink still applies. */
static void grow_ahead(vn_dest_t *d, batch_t *b, size_t sent_len)
{
    if (!b->p || b->cap >= d->o.max_bytes || sent_len <= b->cap / 2)
        return;
    size_t want = b->cap * 2 < d->o.max_bytes ? b->cap * 2 : d->o.max_bytes;
    b->p = vn_xrealloc(b->p, want);
    for (size_t off = b->cap; off < want; off += 4096)
        ((volatile uint8_t *)b->p)[off] = 0;
    ((volatile uint8_t *)b->p)[want - 1] = 0;
    b->cap = want;
}

/* Messages whose frames end at or before off. */
static size_t frames_before(const uint8_t *p, size_t len, size_t off, size_t *boundary)
{
    size_t pos = 0, n = 0;
    while (pos + VN_GRPC_PREFIX <= len) {
        size_t m = ((size_t)p[pos + 1] << 24) | ((size_t)p[pos + 2] << 16) | ((size_t)p[pos + 3] << 8) | p[pos + 4];
        size_t end = pos + VN_GRPC_PREFIX + m;
        if (end > off)
            break;
        pos = end;
        n++;
    }
    *boundary = pos;
    return n;
}

/* After a failure or a removal: what the stream did not take goes back to the router. */
static void give_back(vn_dest_t *d, batch_t *b, size_t unsent, bool reroute)
{
    size_t taken = b->len - unsent, boundary;
    size_t sent = frames_before(b->p, b->len, taken, &boundary);
    count_sent(d, sent);
    size_t rest_frames = b->count - sent;
    if (boundary < taken && rest_frames > 0) {
        /* one message was cut in the middle: the server drops it with the stream */
        atomic_fetch_add(&d->dropped_down, 1);
        PSTAT(d, fwd_metrics[VN_PSTAT_FWD_EOF], 1);
        rest_frames--;
        size_t m = ((size_t)b->p[boundary + 1] << 24) | ((size_t)b->p[boundary + 2] << 16) |
                   ((size_t)b->p[boundary + 3] << 8) | b->p[boundary + 4];
        boundary += VN_GRPC_PREFIX + m;
    }
    batch_t q = {0};
    pthread_mutex_lock(&d->mu);
    d->accepting = false;
    pthread_mutex_unlock(&d->mu);
    swap_queue(d, &q);
    size_t lost = 0;
    if (reroute) {
        if (boundary < b->len)
            lost += d->hooks.reroute(d->hooks.ctx, b->p + boundary, b->len - boundary);
        if (q.len)
            lost += d->hooks.reroute(d->hooks.ctx, q.p, q.len);
        atomic_fetch_add(&d->rerouted_out, rest_frames + q.count - lost);
    } else {
        lost = rest_frames + q.count;
    }
    atomic_fetch_add(&d->dropped_down, lost);
    PSTAT(d, fwd_metrics[VN_PSTAT_FWD_DROPPED], lost);
    free(q.p);
    batch_done(b);
}

typedef enum run_end { RUN_STOP, RUN_FAILED, RUN_RESTREAM, RUN_SELF, RUN_GOAWAY } run_end_t;

static unsigned want_hops(const vn_dest_t *d) { return d->o.hops ? atomic_load(d->o.hops) : 0; }

/* Sends until the stream fails, a stop is asked, the hop count rose or we turned out to be ourselves. */
static run_end_t run(vn_dest_t *d, vn_h2_client_t *s, batch_t *b, unsigned hops)
{
    int idle_polls = 0; /* looks at an empty queue since the last batch (IDLE_POLLS) */
    while (!stopping(d)) {
        if (atomic_load(&d->is_self))
            return RUN_SELF;
        if (want_hops(d) > hops)
            return RUN_RESTREAM;
        if (vn_h2_client_stream_goaway(s))
            return RUN_GOAWAY; /* before another batch is handed to a stream that is ending */
        if (vn_h2_client_stream_idle(s)) {
            if (b->count) {
                /* the stream took the whole batch: Go's send latency (queued to sent) */
                atomic_store_explicit(&d->lat_send_ns, (uint64_t)((vn_clock_mono_s() - b->first) * 1e9),
                                      memory_order_relaxed);
                atomic_store_explicit(&d->lat_fresh, 1, memory_order_relaxed);
                count_sent(d, b->count);
                size_t was = b->len;
                batch_done(b);
                grow_ahead(d, b, was);
            }
            swap_queue(d, b);
            if (b->len) {
                idle_polls = 0;
                atomic_store_explicit(&d->lat_buffer_ns, (uint64_t)((vn_clock_mono_s() - b->first) * 1e9),
                                      memory_order_relaxed);
                vn_h2_client_stream_write(s, b->p, b->len);
            }
        }
        /* Wake-ups are asked for only when nothing is in flight (see `sleeping` in dest.h).
         * With a batch in flight, first a pass that does not wait: if it finished the batch,
         * the next is taken at once; otherwise the stream waits on the socket or the peer's
         * window, and the queue is looked at again within BUSY_POLL_MS. */
        int wait_ms = BUSY_POLL_MS;
        if (b->len) {
            bool woken = false;
            vn_err_t pe = vn_h2_client_stream_pump(s, 0, d->efd, &woken);
            if (woken)
                drain_efd(d);
            if (pe != VN_OK)
                return RUN_FAILED;
            if (vn_h2_client_stream_idle(s))
                continue;
        } else {
            pthread_mutex_lock(&d->mu);
            if (d->qlen == 0 && idle_polls < IDLE_POLLS) {
                idle_polls++; /* wait_ms stays BUSY_POLL_MS, no wake-up asked for */
            } else if (d->qlen == 0) {
                d->sleeping = true;
                wait_ms = 1000;
            } else {
                wait_ms = 0; /* queued since the swap: take it now */
            }
            pthread_mutex_unlock(&d->mu);
        }
        bool woken = false;
        vn_err_t pe = vn_h2_client_stream_pump(s, wait_ms, d->efd, &woken);
        if (woken)
            drain_efd(d);
        if (wait_ms == 1000) {
            pthread_mutex_lock(&d->mu);
            d->sleeping = false;
            pthread_mutex_unlock(&d->mu);
        }
        if (pe != VN_OK)
            return RUN_FAILED;
    }
    return RUN_STOP;
}

/* The destination is this proxy: never in the ring again; wait for the router to stop it. */
static void refuse_self(vn_dest_t *d, const char *how)
{
    if (strcmp(how, "address") == 0 && d->o.stats)
        vn_stats_add(&d->o.stats->loop_self_address, 1); /* by id: the server counted it */
    VN_LOG(WARN, "event=proxy_destination_is_self destination=%s detected_by=%s msg=\"this veneur-proxy is in its "
                 "own destination list: refused, metrics would loop forever\"",
           VN_LOG_Q(d->addr), how);
    while (!stopping(d))
        nap(d, 3600);
}

/* A higher hop count is wanted: end this stream cleanly (all it took is delivered), then re-dial. */
static void restream(vn_dest_t *d, vn_h2_client_t *s, batch_t *b, bool count)
{
    d->hooks.down(d->hooks.ctx, d);
    double deadline = vn_clock_mono_s() + d->o.dial_timeout_s;
    bool ok = true;
    while (ok && !vn_h2_client_stream_idle(s) && vn_clock_mono_s() < deadline)
        ok = vn_h2_client_stream_pump(s, 100, -1, NULL) == VN_OK;
    bool clean = ok && vn_h2_client_stream_idle(s) && vn_h2_client_stream_finish(s, deadline) == VN_OK;
    give_back(d, b, clean ? 0 : vn_h2_client_stream_unsent(s), true);
    if (!count)
        return;
    if (d->o.stats)
        vn_stats_add(&d->o.stats->hops_restreams, 1);
    VN_LOG(INFO, "event=proxy_destination_restream destination=%s hops=%u clean=%s", VN_LOG_Q(d->addr), want_hops(d),
           clean ? "true" : "false");
}

/* The global sent GOAWAY naming our stream as taken: finish the batch in flight on it and
 * end it. grpc-status 0 means the global processed everything the stream carried, so the
 * batch is counted sent now and nothing is resent. @return false when the stream failed
 * before that answer: the caller then treats it as any failure (the unsent rest is rerouted). */
static bool goaway_handoff(vn_dest_t *d, vn_h2_client_t *s, batch_t *b)
{
    double wait = d->o.stall_timeout_s > 0 ? d->o.stall_timeout_s : 30;
    if (vn_h2_client_stream_finish(s, vn_clock_mono_s() + wait) != VN_OK)
        return false;
    if (b->count) {
        atomic_store_explicit(&d->lat_send_ns, (uint64_t)((vn_clock_mono_s() - b->first) * 1e9),
                              memory_order_relaxed);
        atomic_store_explicit(&d->lat_fresh, 1, memory_order_relaxed);
        count_sent(d, b->count);
    }
    batch_done(b);
    atomic_fetch_add(&d->goaway_restreams, 1);
    return true;
}

/* Shutdown: send what is queued until the deadline, then end the stream. */
static void drain(vn_dest_t *d, vn_h2_client_t *s, batch_t *b)
{
    double deadline = d->stop_deadline;
    bool ok = true;
    while (ok && vn_clock_mono_s() < deadline) {
        if (vn_h2_client_stream_idle(s)) {
            count_sent(d, b->count);
            batch_done(b);
            swap_queue(d, b);
            if (!b->len)
                break;
            vn_h2_client_stream_write(s, b->p, b->len);
        }
        double left = deadline - vn_clock_mono_s();
        ok = vn_h2_client_stream_pump(s, left > 0 ? (int)(left * 1000) + 1 : 0, -1, NULL) == VN_OK;
    }
    if (ok && vn_h2_client_stream_idle(s) && vn_h2_client_stream_finish(s, deadline) == VN_OK) {
        count_sent(d, b->count);
        b->len = b->count = 0;
    } else {
        VN_LOG(WARN, "event=proxy_destination_drain_incomplete destination=%s reason=%s", VN_LOG_Q(d->addr),
               VN_LOG_Q(vn_h2_client_error(s)));
    }
    give_back(d, b, b->len ? vn_h2_client_stream_unsent(s) : 0, false);
}

/* A fresh client and stream to the destination, carrying our id and hop count (forward/hops.h). */
static vn_err_t open_stream(vn_dest_t *d, unsigned hops, vn_h2_client_t **out, char *err, size_t errcap)
{
    *out = NULL;
    vn_h2_client_t *c = NULL;
    vn_err_t e = vn_h2_client_new(d->addr, d->o.tls, d->o.server_name, &c);
    if (e != VN_OK) {
        snprintf(err, errcap, "not host:port");
        return e;
    }
    char hv[16];
    snprintf(hv, sizeof hv, "%u", hops);
    (void)vn_h2_client_set_header(c, "user-agent", "veneur-proxy-c/" VN_VERSION);
    if (hops)
        (void)vn_h2_client_set_header(c, VN_HOPS_HEADER, hv);
    if (d->o.self)
        (void)vn_h2_client_set_header(c, VN_PROXY_ID_HEADER, d->o.self->id);
    vn_h2_client_timing_t t = {.ping_interval_s = d->o.ping_interval_s,
                               .ping_timeout_s = d->o.ping_timeout_s,
                               .stall_timeout_s = d->o.stall_timeout_s,
                               .heartbeat_s = d->o.heartbeat_s};
    e = vn_h2_client_stream_open(c, PATH_V2, &t, vn_clock_mono_s() + d->o.dial_timeout_s);
    if (e != VN_OK) {
        snprintf(err, errcap, "%s", vn_h2_client_error(c));
        /* Go: failed_dial when the connection never came up, failed_connect when the call was refused */
        bool dialled = vn_h2_client_dialled(c);
        PSTAT(d, fwd_connect[dialled ? VN_PSTAT_CONN_FAILED_CONNECT : VN_PSTAT_CONN_FAILED_DIAL], 1);
        PSTAT(d, grpc_client_conn_begin, dialled ? 1 : 0);
        PSTAT(d, grpc_client_conn_end, dialled ? 1 : 0);
        vn_h2_client_free(c);
        return e;
    }
    PSTAT(d, grpc_client_conn_begin, 1);
    *out = c;
    return VN_OK;
}

/* Frees an open stream's client: the connection ends (Go's grpc.conn_end client:true). */
static void close_stream(vn_dest_t *d, vn_h2_client_t **s)
{
    if (!*s)
        return;
    vn_h2_client_free(*s);
    *s = NULL;
    PSTAT(d, grpc_client_conn_end, 1);
}

static void *dest_main(void *arg)
{
    vn_dest_t *d = arg;
    batch_t b = {0};
    double backoff = 0, last_fail_log = -1e9;
    vn_h2_client_t *s = NULL;
    bool kept_up = false; /* re-dialling after a GOAWAY hand-off: still in the ring, still accepting */
    while (!stopping(d)) {
        if (backoff > 0)
            nap(d, backoff);
        if (stopping(d))
            break;
        if (atomic_load(&d->is_self)) {
            refuse_self(d, "id");
            break;
        }
        if (d->o.self && vn_self_is_addr(d->o.self, d->addr)) {
            refuse_self(d, "address");
            break;
        }
        unsigned hops = want_hops(d);
        char err[256];
        if (open_stream(d, hops, &s, err, sizeof err) != VN_OK) {
            if (kept_up) { /* the re-dial after a GOAWAY failed: down now, the queue goes elsewhere */
                kept_up = false;
                atomic_store(&d->up, 0);
                atomic_fetch_add(&d->disconnects, 1);
                PSTAT(d, fwd_disconnect[1], 1);
                d->hooks.down(d->hooks.ctx, d);
                VN_LOG(WARN, "event=proxy_destination_down destination=%s reason=%s", VN_LOG_Q(d->addr),
                       VN_LOG_Q(err));
                give_back(d, &b, 0, true);
            }
            if (atomic_load(&d->is_self))
                continue; /* our own server refused the call: refused at the top of the loop */
            atomic_fetch_add(&d->connect_failures, 1);
            if (vn_clock_mono_s() - last_fail_log >= FAIL_LOG_EVERY_S) {
                VN_LOG(WARN, "event=proxy_destination_dial_failed destination=%s reason=%s retry_s=%g",
                       VN_LOG_Q(d->addr), VN_LOG_Q(err), backoff > 0 ? backoff : d->o.backoff_min_s);
                last_fail_log = vn_clock_mono_s();
            }
            backoff = backoff > 0 ? backoff * 2 : d->o.backoff_min_s;
            if (backoff > d->o.backoff_max_s)
                backoff = d->o.backoff_max_s;
            continue;
        }
        if (atomic_load(&d->is_self)) {
            /* the opening PING's answer came after our server saw our id: never join the ring */
            close_stream(d, &s);
            continue;
        }
        atomic_fetch_add(&d->connects, 1);
        PSTAT(d, fwd_connect[VN_PSTAT_CONN_SUCCESS], 1);
        pthread_mutex_lock(&d->mu);
        d->accepting = true;
        pthread_mutex_unlock(&d->mu);
        d->hooks.up(d->hooks.ctx, d);
        atomic_store(&d->up, 1);
        if (!kept_up)
            VN_LOG(INFO, "event=proxy_destination_up destination=%s", VN_LOG_Q(d->addr));
        kept_up = false;
        run_end_t end = run(d, s, &b, hops);
        if (end == RUN_STOP)
            break; /* stop asked: handled below with the stream still open */
        if (end == RUN_GOAWAY && goaway_handoff(d, s, &b)) {
            VN_LOG(DEBUG, "event=proxy_destination_goaway destination=%s msg=\"stream ended cleanly, re-dialling\"",
                   VN_LOG_Q(d->addr));
            PSTAT(d, fwd_disconnect[0], 1); /* ended by us, cleanly */
            close_stream(d, &s);
            kept_up = true;
            backoff = 0;
            continue;
        }
        atomic_store(&d->up, 0);
        if (end == RUN_RESTREAM || end == RUN_SELF) {
            restream(d, s, &b, end == RUN_RESTREAM); /* for RUN_SELF: what was queued goes elsewhere; refused at the loop top */
            PSTAT(d, fwd_disconnect[0], 1); /* ended by us, cleanly */
            close_stream(d, &s);
            backoff = 0;
            continue;
        }
        atomic_fetch_add(&d->disconnects, 1);
        PSTAT(d, fwd_disconnect[1], 1);
        d->hooks.down(d->hooks.ctx, d); /* out of the ring before the queue is taken */
        VN_LOG(WARN, "event=proxy_destination_down destination=%s reason=%s", VN_LOG_Q(d->addr),
               VN_LOG_Q(vn_h2_client_error(s)));
        give_back(d, &b, vn_h2_client_stream_unsent(s), true);
        close_stream(d, &s);
        last_fail_log = -1e9; /* the first dial failure after an outage is worth a line */
        backoff = d->o.backoff_min_s;
    }
    atomic_store(&d->up, 0);
    if (s && stopping(d) == VN_DEST_STOP_DRAIN) {
        drain(d, s, &b);
    } else {
        d->hooks.down(d->hooks.ctx, d);
        bool reroute = stopping(d) == VN_DEST_STOP_REROUTE;
        give_back(d, &b, s ? vn_h2_client_stream_unsent(s) : 0, reroute);
        if (s) /* a clean end: the global keeps what it merged either way */
            (void)vn_h2_client_stream_finish(s, vn_clock_mono_s() + d->o.dial_timeout_s);
    }
    if (s)
        PSTAT(d, fwd_disconnect[0], 1); /* stopped: the stream ends from our side */
    close_stream(d, &s);
    free(b.p);
    return NULL;
}

vn_dest_t *vn_dest_start(const char *addr, const vn_dest_opts_t *o, const vn_dest_hooks_t *hooks)
{
    vn_dest_t *d = vn_xcalloc(1, sizeof *d);
    d->addr = vn_xstrdup(addr);
    d->o = *o;
    if (d->o.max_msgs == 0)
        d->o.max_msgs = 1;
    if (d->o.max_bytes < 1024)
        d->o.max_bytes = 1024;
    d->hooks = *hooks;
    atomic_init(&d->refs, 1);
    pthread_mutex_init(&d->mu, NULL);
    d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->efd < 0) {
        VN_LOG_ERRNO(ERROR, "event=eventfd_failed");
        abort(); /* out of file descriptors at start-up of a destination: nothing sane to do */
    }
    if (pthread_create(&d->thread, NULL, dest_main, d) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=proxy_destination");
        abort();
    }
    return d;
}

void vn_dest_signal_stop(vn_dest_t *d, vn_dest_stop_t mode, double deadline)
{
    d->stop_deadline = deadline;
    atomic_store(&d->stop, (int)mode);
    wake(d);
}

void vn_dest_join(vn_dest_t *d) { pthread_join(d->thread, NULL); }

void vn_dest_wake(vn_dest_t *d) { wake(d); }

void vn_dest_ref(vn_dest_t *d) { atomic_fetch_add(&d->refs, 1); }

void vn_dest_unref(vn_dest_t *d)
{
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    close(d->efd);
    pthread_mutex_destroy(&d->mu);
    free(d->q);
    free(d->addr);
    free(d);
}
