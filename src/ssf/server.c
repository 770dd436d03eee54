/*
 * server.c - SSF listeners, span queue and span workers (see server.h).
 *
 * Why one I/O thread: SSF traffic is spans, far fewer than statsd lines, and
 * the cost is in decoding, which the workers do; the reader only copies bytes.
 * Limits against hostile peers: datagrams over the limit are dropped whole
 * (MSG_TRUNC); a stream's frame may not claim more than the limit (framing
 * error: connection closed, as Go closes on any framing error); at most
 * VN_SSF_MAX_CONNS connections (VN_SSF_MAX_CONNS_PER_UID per peer uid; at a cap the
 * oldest connection that never delivered a frame is evicted, else the newcomer is
 * refused), each with one limit-sized body buffer; accept
 * errors (EMFILE, ...) pause the listener with a doubling backoff; a connection
 * silent for VN_SSF_IDLE_TIMEOUT_MS is closed (counted), so dead peers do not hold
 * slots and buffers forever.
 *
 * Stop: what the kernel already holds on the sockets (datagrams, stream bytes) was
 * sent before the shutdown and belongs in the final flush, so the I/O thread reads
 * every socket until EAGAIN (bounded by VN_SSF_DRAIN_MAX_MS) before the workers
 * finish the queue; during that drain a full queue is waited on, not dropped.
 */
#include "ssf/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "listen/addr.h"
#include "ssf/convert.h"
#include "ssf/decode.h"
#include "ssf/frame.h"

#define MAX_LISTENERS 16
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define READ_CHUNK 65536
#define UDP_BURST 64
/* A worker hands its part-filled batches to the metric workers at least this often under load. */
#define COMMIT_EVERY_SPANS 256
#define COMMIT_EVERY_MS 10
/* A lingering worker (see worker_main) is woken early only once this many spans wait. */
#define WAKE_BATCH 32

typedef struct conn {
    int fd;
    uid_t uid;       /* SO_PEERCRED; (uid_t)-1 when unknown */
    bool proven;     /* has delivered a whole frame */
    uint64_t born_ms;
    uint64_t active_ms; /* last byte read (idle timeout) */
    vn_ssf_frame_t fr;
    uint8_t *body; /* limit bytes, owned */
} conn_t;

typedef struct lsock {
    int fd;
    bool stream;
    bool paused;
    uint64_t resume_ms, backoff_ms;
} lsock_t;

typedef struct slot {
    uint32_t len;
    bool framed;
    uint8_t *buf; /* limit bytes, owned */
} slot_t;

typedef struct worker {
    vn_ssf_server_t *srv;
    vn_ingest_t *ingest;
    vn_ssf_arena_t arena;
    vn_ssf_conv_t *conv;
    uint8_t *buf;
    size_t since_commit;
    uint64_t last_commit_ms;
    pthread_t thread;
} worker_t;

struct vn_ssf_server {
    size_t limit;
    size_t nworkers;
    const char *indicator, *objective; /* borrowed from the config */
    lsock_t ls[MAX_LISTENERS];
    size_t nls;
    int epfd, wakefd;
    conn_t *conns[VN_SSF_MAX_CONNS];
    size_t nconns;
    _Atomic bool stop;
    bool started;
    uint64_t idle_ms;        /* VN_SSF_IDLE_TIMEOUT_MS, or the test override */
    bool draining;           /* I/O thread only: the stop-time drain is running */
    uint64_t drain_end_ms;   /* deadline of that drain */
    pthread_t io;
    vn_stats_t *stats;
    vn_ingest_shared_t shared;
    /* the span queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t space; /* signalled when a worker frees a slot */
    slot_t *slots;
    size_t cap, head, count;
    bool closing; /* no more pushes; workers drain and exit */
    size_t lingering; /* workers in their 1 ms linger: they come back without a signal */
    worker_t *workers;
    vn_ssf_span_hook_fn hook;
    void *hook_ctx;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

vn_err_t vn_ssf_server_open(const vn_config_t *cfg, vn_ssf_server_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    if (!cfg->ssf_listen_addresses.n && !cfg->grpc_listen_addresses.n)
        return VN_OK;
    if (cfg->ssf_listen_addresses.n > MAX_LISTENERS) {
        snprintf(errbuf, errcap, "at most %d ssf_listen_addresses", MAX_LISTENERS);
        return VN_ERR_CONFIG;
    }
    vn_ssf_server_t *s = vn_xcalloc(1, sizeof *s);
    s->limit = cfg->trace_max_length_bytes > 0 ? (size_t)cfg->trace_max_length_bytes : VN_SSF_DEFAULT_MAX_LEN;
    if (s->limit > VN_SSF_FRAME_GO_MAX)
        s->limit = VN_SSF_FRAME_GO_MAX;
    s->nworkers = cfg->num_span_workers > 0 ? (size_t)cfg->num_span_workers : 1;
    s->cap = cfg->span_channel_capacity > 0 ? (size_t)cfg->span_channel_capacity : 100;
    s->indicator = cfg->indicator_span_timer_name;
    s->objective = cfg->objective_span_timer_name;
    s->epfd = s->wakefd = -1;
    s->idle_ms = VN_SSF_IDLE_TIMEOUT_MS;
    /* test hook (read once, like VENEUR_TEST_WEDGE_FLUSH): e2e tests cannot wait 10 minutes */
    const char *idle = getenv("VENEUR_TEST_SSF_IDLE_MS");
    if (idle && strtoull(idle, NULL, 10) > 0)
        s->idle_ms = strtoull(idle, NULL, 10);
    for (size_t i = 0; i < cfg->ssf_listen_addresses.n; i++) {
        const char *url = cfg->ssf_listen_addresses.v[i];
        vn_addr_t a;
        if (vn_addr_parse(url, &a, errbuf, errcap) != VN_OK)
            goto fail;
        if (a.kind != VN_ADDR_UDP && a.kind != VN_ADDR_UNIX) {
            /* Go: "Can't listen for SSF on %v: only udp:// & unix:// are supported" */
            snprintf(errbuf, errcap, "can't listen for SSF on %s: only udp:// and unix:// are supported", url);
            goto fail;
        }
        /* Go applies read_buffer_size_bytes to its SSF UDP sockets too (startProcessingOnUDP) */
        int fd = vn_addr_bind(&a, false, a.kind == VN_ADDR_UDP ? cfg->read_buffer_size_bytes : 0, errbuf, errcap);
        if (fd < 0)
            goto fail;
        s->ls[s->nls++] = (lsock_t){.fd = fd, .stream = a.kind == VN_ADDR_UNIX};
        if (a.kind == VN_ADDR_UDP)
            VN_LOG(INFO, "event=listening proto=ssf-udp addr=%s port=%d", url, vn_addr_bound_port(fd));
        else
            VN_LOG(INFO, "event=listening proto=ssf-unix addr=%s", url);
    }
    *out = s;
    return VN_OK;
fail:
    vn_ssf_server_free(s);
    return VN_ERR_CONFIG;
}

size_t vn_ssf_server_reader_count(const vn_ssf_server_t *s)
{
    return s ? s->nworkers : 0;
}

/* Copies one span's bytes into the queue; false (counted) when it is full. A stream frame
 * waits for room instead (Go blocks on its span channel): the sender is slowed through its
 * socket buffer rather than losing spans it has no way to learn about. The wait ends at stop,
 * except in the stop-time drain, where everything waits (the workers are still running)
 * until the drain deadline. never_wait (vn_ssf_server_offer, the gRPC thread): never. */
static bool may_wait(vn_ssf_server_t *s, bool framed)
{
    if (s->draining)
        return now_ms() < s->drain_end_ms;
    return framed && !atomic_load(&s->stop);
}

static bool enqueue(vn_ssf_server_t *s, const uint8_t *p, size_t len, bool framed, bool never_wait)
{
    pthread_mutex_lock(&s->mu);
    while (!never_wait && s->count == s->cap && may_wait(s, framed)) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 100000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->space, &s->mu, &dl);
    }
    if (s->count == s->cap || s->closing) {
        /* closing: the workers are leaving; a span queued now would never be read */
        pthread_mutex_unlock(&s->mu);
        vn_stats_add(&s->stats->ssf_spans_dropped, 1);
        return false;
    }
    slot_t *sl = &s->slots[(s->head + s->count) % s->cap];
    if (len)
        memcpy(sl->buf, p, len);
    sl->len = (uint32_t)len;
    sl->framed = framed;
    s->count++;
    /* At a trickle, a signal per span would cost a worker wake-up (two context switches) per
     * span; a lingering worker comes back within 1 ms anyway, so it is only hurried for a batch. */
    if (s->lingering == 0 || s->count >= WAKE_BATCH)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return true;
}

static void flush_counts(worker_t *w)
{
    vn_ssf_conv_counts_t *c = &w->conv->c;
    vn_stats_t *st = w->srv->stats;
    vn_stats_add(&st->ssf_spans_received, c->spans);
    vn_stats_add(&st->ssf_root_spans_received, c->root_spans);
    vn_stats_add(&st->ssf_metrics_generated, c->metrics);
    vn_stats_add(&st->ssf_samples_invalid, c->invalid_samples);
    memset(c, 0, sizeof *c);
}

static void handle_span(worker_t *w, const uint8_t *buf, size_t len, bool framed)
{
    vn_stats_t *st = w->srv->stats;
    Ssf__SSFSpan *span;
    switch (vn_ssf_decode(&w->arena, buf, len, framed, &span)) {
    case VN_SSF_DEC_OK: break;
    case VN_SSF_DEC_EMPTY: vn_stats_add(&st->ssf_errors_zerolength, 1); return;
    default: vn_stats_add(&st->ssf_errors_decode, 1); return;
    }
    if (span->id == 0)
        vn_stats_add(&st->ssf_errors_empty_id, 1); /* a client problem; Go still processes it */
    vn_ssf_conv_span(w->conv, span);
    /* Go's SpanWorker: a span that is neither a valid trace nor carries metrics is a client
     * error and reaches no sink (worker.ssf.empty_total) */
    if (w->srv->hook) {
        if (vn_ssf_valid_trace(span) || span->n_metrics > 0)
            w->srv->hook(w->srv->hook_ctx, buf, len);
        else
            vn_stats_add(&st->ssf_spans_empty, 1);
    }
}

vn_ssf_offer_rc_t vn_ssf_server_offer(vn_ssf_server_t *s, const uint8_t *span, size_t len)
{
    if (!s || !s->started || atomic_load(&s->stop))
        return VN_SSF_OFFER_STOPPED;
    if (len > s->limit)
        return VN_SSF_OFFER_TOO_LONG;
    /* framed = a zero-length span decodes as an empty SSFSpan, as gRPC's unmarshal gives Go */
    return enqueue(s, span, len, true, true) ? VN_SSF_OFFER_OK : VN_SSF_OFFER_FULL;
}

size_t vn_ssf_server_max_span(const vn_ssf_server_t *s) { return s ? s->limit : 0; }

void vn_ssf_server_set_span_hook(vn_ssf_server_t *s, vn_ssf_span_hook_fn fn, void *ctx)
{
    if (!s)
        return;
    s->hook = fn;
    s->hook_ctx = ctx;
}

/* Waits on the work condition for at most ms (called with mu held). */
static void wait_ms(vn_ssf_server_t *s, long ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += ms * 1000000L;
    while (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &dl);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    vn_ssf_server_t *s = w->srv;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->count == 0 && !s->closing) {
            if (w->since_commit) {
                /* Queue empty with spans not yet handed over: give the next span 1 ms to
                 * arrive first. Committing after every span of a steady trickle would hand
                 * the metric workers one tiny batch per span, emptying the reader's batch
                 * pool (counted drops) and waking them per span. */
                s->lingering++;
                wait_ms(s, 1);
                s->lingering--;
                if (s->count || s->closing)
                    break;
                /* everything ingested so far goes to the metric workers before we sleep */
                pthread_mutex_unlock(&s->mu);
                vn_ingest_commit(w->ingest);
                flush_counts(w);
                w->since_commit = 0;
                w->last_commit_ms = now_ms();
                pthread_mutex_lock(&s->mu);
                continue;
            }
            wait_ms(s, 200);
        }
        if (s->count == 0 && s->closing)
            break;
        /* take the slot's bytes out, so the reader may reuse the slot while we decode */
        slot_t *sl = &s->slots[s->head];
        size_t len = sl->len;
        bool framed = sl->framed;
        memcpy(w->buf, sl->buf, len);
        s->head = (s->head + 1) % s->cap;
        s->count--;
        pthread_cond_signal(&s->space);
        pthread_mutex_unlock(&s->mu);
        handle_span(w, w->buf, len, framed);
        if (++w->since_commit >= COMMIT_EVERY_SPANS || now_ms() - w->last_commit_ms >= COMMIT_EVERY_MS) {
            vn_ingest_commit(w->ingest);
            flush_counts(w);
            w->since_commit = 0;
            w->last_commit_ms = now_ms();
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    vn_ingest_commit(w->ingest);
    flush_counts(w);
    return NULL;
}

static void conn_close(vn_ssf_server_t *s, size_t i)
{
    conn_t *c = s->conns[i];
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->body);
    free(c);
    s->conns[i] = s->conns[--s->nconns];
}

static size_t conn_index(vn_ssf_server_t *s, const conn_t *c)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i] == c)
            return i;
    return SIZE_MAX;
}

/* Reads what a connection holds, at most rounds chunks (bounded: other sockets get their
 * turn); false when it was closed. */
static bool conn_read(vn_ssf_server_t *s, conn_t *c, uint8_t *chunk, int rounds_max)
{
    c->active_ms = now_ms();
    for (int rounds = 0; rounds < rounds_max; rounds++) {
        ssize_t n = read(c->fd, chunk, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false; /* hang-up (mid-frame: Go counts a framing error; the bytes are lost either way) */
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used, blen;
            vn_ssf_frame_rc_t rc =
                vn_ssf_frame_feed(&c->fr, chunk + off, (size_t)n - off, &used, c->body, s->limit, &blen);
            off += used;
            if (rc == VN_SSF_FRAME_READY) {
                c->proven = true;
                vn_stats_add(&s->stats->ssf_frames, 1);
                vn_stats_add(&s->stats->ssf_bytes, blen);
                enqueue(s, c->body, blen, true, false);
            } else if (rc != VN_SSF_FRAME_MORE) {
                vn_stats_add(&s->stats->ssf_frame_errors, 1);
                VN_LOG(INFO, "event=ssf_frame_error reason=%s",
                       rc == VN_SSF_FRAME_ERR_VERSION ? "version" : "length");
                return false;
            }
        }
    }
    return true;
}

static uid_t peer_uid(int fd)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
        return (uid_t)-1;
    return cr.uid;
}

/* Makes room for a newcomer from uid, or says no. At a cap (global, or this uid's), the
 * oldest connection that never delivered a whole frame is closed to admit it: a peer that
 * opens connections and sends nothing cannot lock out one that sends spans. */
static bool admit(vn_ssf_server_t *s, uid_t uid)
{
    size_t mine = 0;
    for (size_t i = 0; i < s->nconns; i++)
        mine += s->conns[i]->uid == uid;
    bool full_global = s->nconns >= VN_SSF_MAX_CONNS, full_uid = mine >= VN_SSF_MAX_CONNS_PER_UID;
    if (!full_global && !full_uid)
        return true;
    size_t victim = SIZE_MAX;
    for (size_t i = 0; i < s->nconns; i++) {
        conn_t *c = s->conns[i];
        if (c->proven || (full_uid && c->uid != uid))
            continue;
        if (victim == SIZE_MAX || c->born_ms < s->conns[victim]->born_ms)
            victim = i;
    }
    if (victim == SIZE_MAX)
        return false;
    conn_close(s, victim);
    vn_stats_add(&s->stats->ssf_conns_evicted, 1);
    return true;
}

static void accept_conns(vn_ssf_server_t *s, lsock_t *l)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* EMFILE, ENFILE, ENOMEM, ...: level-triggered epoll would spin, so pause */
            l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
            if (l->backoff_ms > BACKOFF_MAX_MS)
                l->backoff_ms = BACKOFF_MAX_MS;
            l->paused = true;
            l->resume_ms = now_ms() + l->backoff_ms;
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, l->fd, NULL);
            vn_stats_add(&s->stats->ssf_accept_backoffs, 1);
            return;
        }
        l->backoff_ms = 0;
        uid_t uid = peer_uid(fd);
        if (!admit(s, uid)) {
            close(fd);
            vn_stats_add(&s->stats->ssf_conns_rejected, 1);
            continue;
        }
        conn_t *c = vn_xcalloc(1, sizeof *c);
        c->fd = fd;
        c->uid = uid;
        c->born_ms = c->active_ms = now_ms();
        c->body = vn_xmalloc(s->limit ? s->limit : 1);
        vn_ssf_frame_init(&c->fr);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c->body);
            free(c);
            continue;
        }
        s->conns[s->nconns++] = c;
        vn_stats_add(&s->stats->ssf_conns_accepted, 1);
    }
}

/* Reads at most burst datagrams; false once the socket is empty. */
static bool read_udp(vn_ssf_server_t *s, lsock_t *l, uint8_t *chunk, int burst)
{
    for (int k = 0; k < burst; k++) {
        /* chunk is READ_CHUNK >= limit + 1 bytes, MSG_TRUNC returns the real length */
        ssize_t n = recv(l->fd, chunk, s->limit + 1, MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        vn_stats_add(&s->stats->ssf_packets, 1);
        vn_stats_add(&s->stats->ssf_bytes, (uint64_t)n);
        if ((size_t)n > s->limit) {
            vn_stats_add(&s->stats->ssf_packet_too_long, 1);
            continue;
        }
        if (n == 0) {
            vn_stats_add(&s->stats->ssf_errors_zerolength, 1);
            continue;
        }
        enqueue(s, chunk, (size_t)n, false, false);
    }
    return true;
}

/* Closes connections silent for idle_ms (counted). A linear walk over at most
 * VN_SSF_MAX_CONNS pointers, done about once a second. */
static void close_idle(vn_ssf_server_t *s, uint64_t now)
{
    for (size_t i = 0; i < s->nconns;) {
        if (now - s->conns[i]->active_ms >= s->idle_ms) {
            conn_close(s, i); /* moves the last one into i */
            vn_stats_add(&s->stats->ssf_conns_idle_closed, 1);
            continue;
        }
        i++;
    }
}

/* Stop-time drain (see the file comment): every UDP socket, then every connection, read
 * until EAGAIN or the deadline. Stream bytes that end mid-frame are lost, as at a hang-up. */
static void drain(vn_ssf_server_t *s, uint8_t *chunk)
{
    s->draining = true;
    s->drain_end_ms = now_ms() + VN_SSF_DRAIN_MAX_MS;
    uint64_t before = vn_stats_get(&s->stats->ssf_packets) + vn_stats_get(&s->stats->ssf_frames);
    for (size_t i = 0; i < s->nls; i++) {
        if (s->ls[i].stream)
            continue;
        while (now_ms() < s->drain_end_ms && read_udp(s, &s->ls[i], chunk, UDP_BURST)) {
        }
    }
    for (size_t i = 0; i < s->nconns && now_ms() < s->drain_end_ms; i++) {
        conn_t *c = s->conns[i];
        /* conn_read stops at EAGAIN; the bound only caps a peer still writing */
        if (!conn_read(s, c, chunk, 1024))
            continue; /* closed by the peer or a framing error: freed at server free */
    }
    uint64_t got = vn_stats_get(&s->stats->ssf_packets) + vn_stats_get(&s->stats->ssf_frames) - before;
    if (now_ms() >= s->drain_end_ms)
        VN_LOG(WARN, "event=ssf_drain_budget_spent drained=%llu budget_ms=%d", (unsigned long long)got,
               VN_SSF_DRAIN_MAX_MS);
    else if (got)
        VN_LOG(INFO, "event=ssf_drained spans=%llu", (unsigned long long)got);
    s->draining = false;
}

static void *io_main(void *arg)
{
    vn_ssf_server_t *s = arg;
    size_t chunk_len = s->limit + 1 > READ_CHUNK ? s->limit + 1 : READ_CHUNK;
    uint8_t *chunk = vn_xmalloc(chunk_len);
    struct epoll_event evs[64];
    /* idle sweeps at least once a second; more often only for a short (test) timeout */
    uint64_t sweep_every = s->idle_ms < 2000 ? s->idle_ms / 2 + 1 : 1000, next_sweep = now_ms() + sweep_every;
    while (!atomic_load(&s->stop)) {
        int timeout = (int)sweep_every;
        uint64_t now = now_ms();
        if (now >= next_sweep) {
            close_idle(s, now);
            next_sweep = now + sweep_every;
        }
        for (size_t i = 0; i < s->nls; i++) {
            lsock_t *l = &s->ls[i];
            if (!l->paused)
                continue;
            if (now >= l->resume_ms) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
                epoll_ctl(s->epfd, EPOLL_CTL_ADD, l->fd, &ev);
                l->paused = false;
            } else if ((int)(l->resume_ms - now) < timeout) {
                timeout = (int)(l->resume_ms - now);
            }
        }
        int n = epoll_wait(s->epfd, evs, 64, timeout);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == NULL)
                continue; /* wake eventfd: the loop condition sees stop */
            lsock_t *l = NULL;
            for (size_t k = 0; k < s->nls; k++)
                if (p == &s->ls[k])
                    l = &s->ls[k];
            if (l && l->stream)
                accept_conns(s, l);
            else if (l)
                read_udp(s, l, chunk, UDP_BURST);
            else {
                conn_t *c = p;
                size_t idx = conn_index(s, c);
                if (idx == SIZE_MAX)
                    continue; /* closed earlier in this batch */
                if (!conn_read(s, c, chunk, 16))
                    conn_close(s, idx);
            }
        }
    }
    drain(s, chunk);
    free(chunk);
    return NULL;
}

vn_err_t vn_ssf_server_start(vn_ssf_server_t *s, const vn_ingest_shared_t *shared, size_t first_reader)
{
    if (!s)
        return VN_OK;
    s->shared = *shared;
    s->stats = shared->stats;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->space, NULL);
    s->slots = vn_xcalloc(s->cap, sizeof *s->slots);
    for (size_t i = 0; i < s->cap; i++)
        s->slots[i].buf = vn_xmalloc(s->limit);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epfd < 0 || s->wakefd < 0)
        return VN_ERR_IO;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev);
    for (size_t i = 0; i < s->nls; i++) {
        ev.data.ptr = &s->ls[i];
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ls[i].fd, &ev) != 0)
            return VN_ERR_IO;
    }
    s->workers = vn_xcalloc(s->nworkers, sizeof *s->workers);
    for (size_t i = 0; i < s->nworkers; i++) {
        worker_t *w = &s->workers[i];
        w->srv = s;
        w->ingest = vn_ingest_new(shared, first_reader + i);
        vn_ssf_arena_init(&w->arena, s->limit);
        w->conv = vn_xmalloc(sizeof *w->conv);
        vn_ssf_conv_init(w->conv, shared->parser, w->ingest, s->indicator, s->objective,
                         (uint64_t)time(NULL) * 2654435761u + i + 1);
        w->buf = vn_xmalloc(s->limit);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            return VN_ERR_IO;
    }
    if (pthread_create(&s->io, NULL, io_main, s) != 0)
        return VN_ERR_IO;
    s->started = true;
    return VN_OK;
}

void vn_ssf_server_stop(vn_ssf_server_t *s)
{
    if (!s || !s->started)
        return;
    atomic_store(&s->stop, true);
    uint64_t one = 1;
    if (write(s->wakefd, &one, sizeof one) < 0) {
        /* the 1 s epoll timeout still ends the loop */
    }
    pthread_join(s->io, NULL);
    pthread_mutex_lock(&s->mu);
    s->closing = true; /* workers finish what is queued, then exit */
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i].thread, NULL);
    s->started = false;
}

void vn_ssf_server_free(vn_ssf_server_t *s)
{
    if (!s)
        return;
    vn_ssf_server_stop(s);
    while (s->nconns)
        conn_close(s, 0);
    for (size_t i = 0; i < s->nls; i++)
        close(s->ls[i].fd);
    if (s->workers) {
        for (size_t i = 0; i < s->nworkers; i++) {
            worker_t *w = &s->workers[i];
            vn_ingest_free(w->ingest);
            vn_ssf_arena_destroy(&w->arena);
            free(w->conv);
            free(w->buf);
        }
        free(s->workers);
    }
    if (s->slots) {
        for (size_t i = 0; i < s->cap; i++)
            free(s->slots[i].buf);
        free(s->slots);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->space);
    }
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->wakefd >= 0)
        close(s->wakefd);
    free(s);
}
