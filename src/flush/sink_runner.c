/*
 * sink_runner.c - per-sink flush thread and queue (sink_runner.h).
 *
 * The queue is a singly linked FIFO of items under `mu`: chunk items (one
 * reference of a shared chunk) and end-of-interval items (one reference of the
 * interval's events, or none). Items of one interval are contiguous and
 * intervals arrive in order, so "the oldest waiting interval" is the run of
 * items sharing the head's seq. The runner pops one item at a time and calls
 * the sink without holding `mu`; `busy` tells stop whether the thread is
 * inside a sink call (possibly stuck there for good).
 */
#include "flush/sink_runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mono_cond.h"
#include "core/xalloc.h"

#define EVICT_LOG_EVERY_S 10.0

typedef struct item {
    struct item *next;
    uint64_t seq;
    vn_flush_chunk_t *chunk; /* NULL for an end item */
    vn_flush_events_t *ev;   /* end item only; may be NULL */
    vn_flush_info_t info;
} item_t;

/* What one interval did on this sink, reported to the stats slot at its end. */
typedef struct tally {
    bool open;
    uint64_t seq;
    double start, deadline;
    size_t handed;
    double seconds;
    bool failed;
} tally_t;

struct vn_sink_runner {
    vn_sink_t *s;
    vn_stats_sink_t *slot;
    double interval_s;
    size_t max_metrics;
    size_t max_bytes;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work or stop for the thread */
    pthread_cond_t idle_cv; /* the thread left a sink call, or exited */
    item_t *head, *tail;
    size_t pending;         /* metrics in waiting chunk items */
    size_t pending_bytes;   /* vn_flush_chunk_t.bytes of waiting chunk items */
    uint64_t done;          /* items the thread finished: progress a waiting pusher looks for */
    uint64_t nowait_seq;    /* an interval whose pusher already waited in vain: drop, don't wait again */
    double stop_deadline;   /* set with stopping: no sink call is told it has longer */
    double call_deadline;   /* deadline the current sink call was given (valid while busy) */
    bool stopping, exited, busy;
    bool abandoned;         /* stop gave up on the thread: it frees r itself if it ever returns */
    _Atomic uint64_t dropped;
    double last_evict_log;
    uint64_t evict_suppressed;
    tally_t t;              /* thread-owned */
    vn_sink_route_t *route; /* owned; NULL: no routing. Set before the first push, then read-only */
    vn_route_scratch_t scratch; /* thread-owned: routed copies of the current chunk */
};

/* ------------------------------------------------------------ shared chunks */

vn_flush_chunk_t *vn_flush_chunk_new(vn_flush_output_t *out, size_t refs)
{
    vn_flush_chunk_t *c = vn_xcalloc(1, sizeof *c);
    c->out = *out;
    c->bytes = sizeof *c + vn_flush_output_bytes(out);
    atomic_init(&c->refs, refs);
    vn_flush_output_init(out);
    return c;
}

void vn_flush_chunk_release(vn_flush_chunk_t *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        vn_flush_output_destroy(&c->out);
        free(c);
    }
}

vn_flush_events_t *vn_flush_events_new(vn_event_list_t *l, size_t refs)
{
    vn_flush_events_t *e = vn_xcalloc(1, sizeof *e);
    e->list = *l;
    atomic_init(&e->refs, refs);
    memset(l, 0, sizeof *l);
    return e;
}

void vn_flush_events_release(vn_flush_events_t *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        vn_event_list_free(&e->list);
        free(e);
    }
}

/* ------------------------------------------------------------ queue (mu held) */

static size_t wanted(const vn_sink_t *s, const vn_flush_chunk_t *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->out.n; i++)
        n += !c->out.m[i].sink_only || strcmp(c->out.m[i].sink_only, s->name) == 0;
    return n;
}

static void item_free(item_t *it)
{
    vn_flush_chunk_release(it->chunk);
    vn_flush_events_release(it->ev);
    free(it);
}

static void append(vn_sink_runner_t *r, item_t *it)
{
    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    if (it->chunk) {
        r->pending += it->chunk->out.n;
        r->pending_bytes += it->chunk->bytes;
    }
}

static item_t *pop(vn_sink_runner_t *r)
{
    item_t *it = r->head;
    if (!it)
        return NULL;
    r->head = it->next;
    if (!r->head)
        r->tail = NULL;
    it->next = NULL;
    if (it->chunk) {
        r->pending -= it->chunk->out.n;
        r->pending_bytes -= it->chunk->bytes;
    }
    return it;
}

static void count_dropped(vn_sink_runner_t *r, size_t metrics, const char *why, uint64_t seq)
{
    if (!metrics)
        return;
    atomic_fetch_add(&r->dropped, metrics);
    if (r->slot)
        vn_stats_add(&r->slot->dropped, metrics);
    double now = vn_clock_mono_s();
    if (r->last_evict_log != 0 && now - r->last_evict_log < EVICT_LOG_EVERY_S) {
        r->evict_suppressed++;
        return;
    }
    VN_LOG(WARN, "event=sink_interval_dropped sink=%s reason=%s interval_seq=%llu metrics=%zu suppressed=%llu",
           r->s->name, why, (unsigned long long)seq, metrics, (unsigned long long)r->evict_suppressed);
    r->last_evict_log = now;
    r->evict_suppressed = 0;
}

/* Drops every waiting item of the oldest queued interval. */
static void evict_oldest(vn_sink_runner_t *r, const char *why)
{
    if (!r->head)
        return;
    uint64_t seq = r->head->seq;
    size_t metrics = 0;
    while (r->head && r->head->seq == seq) {
        item_t *it = pop(r);
        if (it->chunk)
            metrics += wanted(r->s, it->chunk);
        item_free(it);
    }
    count_dropped(r, metrics, why, seq);
}

/* ------------------------------------------------------------ thread */

static void tally_close(vn_sink_runner_t *r)
{
    tally_t *t = &r->t;
    if (!t->open)
        return;
    if (r->slot) {
        vn_stats_add(&r->slot->flushed, t->handed);
        atomic_store(&r->slot->last_duration_ns, (uint64_t)(t->seconds * 1e9));
        if (t->failed)
            vn_stats_add(&r->slot->errors, 1);
    }
    t->open = false;
}

static void tally_for(vn_sink_runner_t *r, uint64_t seq)
{
    if (r->t.open && r->t.seq == seq)
        return;
    tally_close(r); /* the previous interval lost its end to eviction */
    double now = vn_clock_mono_s();
    r->t = (tally_t){.open = true, .seq = seq, .start = now, .deadline = now + r->interval_s};
}

/* The deadline a call for `it` gets: its interval's start + interval, and no
 * later than stop_by (the stop deadline once stopping, else 0), so a sink that
 * honours it returns before it would be abandoned. */
static double call_deadline(vn_sink_runner_t *r, const item_t *it, double stop_by)
{
    tally_for(r, it->seq);
    return stop_by > 0 && stop_by < r->t.deadline ? stop_by : r->t.deadline;
}

/* Routing and limits for this sink, on this thread; counts into the slot. */
static size_t route_chunk(vn_sink_runner_t *r, const vn_flush_chunk_t *c, const vn_inter_metric_t **m)
{
    vn_route_counts_t k = {0};
    size_t n = vn_sink_route_apply(r->route, c->out.m, c->out.n, &r->scratch, m, &k);
    vn_stats_sink_t *sl = r->slot;
    if (sl) {
        vn_stats_add(&sl->route_skipped, k.skipped);
        vn_stats_add(&sl->route_max_name_length, k.max_name_length);
        vn_stats_add(&sl->route_max_tags, k.max_tags);
        vn_stats_add(&sl->route_max_tag_length, k.max_tag_length);
        vn_stats_add(&sl->route_flushed, k.flushed);
        vn_stats_add(&sl->route_dropped_max_name_length, k.dropped_max_name_length);
        vn_stats_add(&sl->route_dropped_max_tags, k.dropped_max_tags);
        vn_stats_add(&sl->route_dropped_max_tag_length, k.dropped_max_tag_length);
    }
    return n;
}

static void run_item(vn_sink_runner_t *r, item_t *it, double deadline)
{
    vn_sink_t *s = r->s;
    vn_flush_info_t info = it->info;
    info.deadline_s = deadline;
    double s0 = vn_clock_mono_s();
    if (it->chunk) {
        const vn_inter_metric_t *m = it->chunk->out.m;
        size_t n = it->chunk->out.n;
        if (r->route) {
            n = route_chunk(r, it->chunk, &m);
            r->t.handed += n;
        } else {
            r->t.handed += wanted(s, it->chunk);
        }
        vn_err_t err = n || !r->route ? s->ops->flush(s, m, n, &info) : VN_OK;
        if (err != VN_OK) {
            r->t.failed = true;
            VN_LOG(WARN, "event=sink_flush_failed sink=%s err=\"%s\"", s->name, vn_strerror(err));
        }
        r->t.seconds += vn_clock_mono_s() - s0;
        return;
    }
    if (it->ev && it->ev->list.n && s->ops->flush_events)
        s->ops->flush_events(s, it->ev->list.ev, it->ev->list.n, &info);
    r->t.seconds += vn_clock_mono_s() - s0;
    tally_close(r);
}

/* Frees r once its thread is gone: joined by stop, or (abandoned at the
 * shutdown deadline) by the thread itself on its way out. */
static void runner_free(vn_sink_runner_t *r)
{
    vn_sink_route_free(r->route);
    vn_route_scratch_free(&r->scratch);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    pthread_cond_destroy(&r->idle_cv);
    free(r);
}

static void *runner_main(void *arg)
{
    vn_sink_runner_t *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->head && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        item_t *it = pop(r);
        if (!it)
            break; /* stopping and drained */
        r->busy = true;
        r->call_deadline = call_deadline(r, it, r->stopping ? r->stop_deadline : 0);
        double dl = r->call_deadline;
        pthread_mutex_unlock(&r->mu);
        run_item(r, it, dl);
        item_free(it);
        pthread_mutex_lock(&r->mu);
        r->busy = false;
        r->done++;
        pthread_cond_broadcast(&r->idle_cv);
    }
    tally_close(r);
    r->exited = true;
    bool self_free = r->abandoned;
    pthread_cond_broadcast(&r->idle_cv);
    pthread_mutex_unlock(&r->mu);
    if (self_free) {
        runner_free(r);
    }
    return NULL;
}

/* ------------------------------------------------------------ public */

vn_sink_runner_t *vn_sink_runner_start(vn_sink_t *s, vn_stats_sink_t *slot, double interval_s, size_t max_metrics,
                                       size_t max_bytes)
{
    vn_sink_runner_t *r = vn_xcalloc(1, sizeof *r);
    r->s = s;
    r->slot = slot;
    r->interval_s = interval_s > 0 ? interval_s : 10.0;
    r->max_metrics = max_metrics ? max_metrics : VN_SINK_QUEUE_MAX_METRICS;
    r->max_bytes = max_bytes ? max_bytes : VN_SINK_QUEUE_MAX_BYTES;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    vn_mono_cond_init(&r->idle_cv);
    if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=sink_runner sink=%s", s->name);
        abort();
    }
    return r;
}

void vn_sink_runner_set_route(vn_sink_runner_t *r, vn_sink_route_t *route)
{
    pthread_mutex_lock(&r->mu); /* publishes it to the thread, which reads it after popping under mu */
    vn_sink_route_free(r->route);
    r->route = route;
    pthread_mutex_unlock(&r->mu);
}

static bool fits(const vn_sink_runner_t *r, size_t metrics, size_t bytes)
{
    return r->pending + metrics <= r->max_metrics && r->pending_bytes + bytes <= r->max_bytes;
}


/*
 * Makes room for chunk c of interval seq (mu held). Older intervals go first,
 * whole, but only when that is enough: evicting them for a chunk that cannot
 * fit anyway would lose more. What is left is this interval's own backlog: the
 * sink is slower than the flusher produces. Then the pusher waits for the
 * runner until wait_until, as long as the runner finishes an item at least
 * every VN_SINK_PUSH_STALL_S; a runner stuck in one call gets no second wait
 * in the same interval, so a hung sink costs the flusher one stall period.
 */
static bool make_room(vn_sink_runner_t *r, uint64_t seq, const vn_flush_chunk_t *c, double wait_until)
{
    if (c->out.n > r->max_metrics || c->bytes > r->max_bytes)
        return false; /* would not fit an empty queue */
    for (;;) {
        size_t same = 0, same_bytes = 0;
        for (const item_t *q = r->head; q; q = q->next) {
            if (q->seq == seq && q->chunk) {
                same += q->chunk->out.n;
                same_bytes += q->chunk->bytes;
            }
        }
        bool can_fit = same + c->out.n <= r->max_metrics && same_bytes + c->bytes <= r->max_bytes;
        while (can_fit && !fits(r, c->out.n, c->bytes) && r->head && r->head->seq != seq)
            evict_oldest(r, "queue_full");
        if (r->stopping || r->exited)
            return false;
        if (fits(r, c->out.n, c->bytes))
            return true;
        /* Only this interval's chunks are left, or c alone is over the cap. */
        if (r->nowait_seq == seq || (r->pending == 0 && !r->busy))
            return false;
        double now = vn_clock_mono_s(), until = now + VN_SINK_PUSH_STALL_S;
        if (until > wait_until)
            until = wait_until;
        if (now >= until)
            return false;
        uint64_t done = r->done;
        struct timespec dl = vn_mono_cond_deadline(until);
        while (r->done == done && !r->exited && pthread_cond_timedwait(&r->idle_cv, &r->mu, &dl) == 0)
            ;
        if (r->done == done) {
            r->nowait_seq = seq; /* no progress in a whole stall period (or out of time) */
            return false;
        }
    }
}

static item_t *item_new(uint64_t seq, const vn_flush_info_t *info)
{
    item_t *it = vn_xcalloc(1, sizeof *it);
    it->seq = seq;
    it->info = *info;
    return it;
}

/* Called with r->mu held; queues it (owned by the queue from here), wakes the thread and unlocks. */
static void enqueue_unlock(vn_sink_runner_t *r, item_t *it)
{
    append(r, it);
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void vn_sink_runner_push(vn_sink_runner_t *r, uint64_t seq, vn_flush_chunk_t *c, const vn_flush_info_t *info,
                         double wait_until)
{
    item_t *it = item_new(seq, info);
    it->chunk = c;
    pthread_mutex_lock(&r->mu);
    if (!make_room(r, seq, c, wait_until)) {
        count_dropped(r, wanted(r->s, c), r->stopping ? "stopping" : "queue_full", seq);
        pthread_mutex_unlock(&r->mu);
        item_free(it);
        return;
    }
    enqueue_unlock(r, it);
}

void vn_sink_runner_end(vn_sink_runner_t *r, uint64_t seq, vn_flush_events_t *ev, const vn_flush_info_t *info)
{
    item_t *it = item_new(seq, info);
    it->ev = ev;
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        item_free(it);
        return;
    }
    enqueue_unlock(r, it);
}

bool vn_sink_runner_stop(vn_sink_runner_t *r, double deadline_mono)
{
    if (!r)
        return true;
    struct timespec dl = vn_mono_cond_deadline(deadline_mono);
    pthread_mutex_lock(&r->mu);
    r->stopping = true; /* the thread drains the queue, then exits */
    r->stop_deadline = deadline_mono;
    pthread_cond_broadcast(&r->cv);
    for (;;) {
        if (r->exited)
            break;
        /* A call already past its own deadline by VN_SINK_OVERDUE_S does not
         * honour deadlines (stuck in the kernel): waiting longer for it would
         * only hold the process. Slow calls within theirs get until deadline_mono. */
        double until = deadline_mono, now = vn_clock_mono_s();
        if (r->busy && r->call_deadline + VN_SINK_OVERDUE_S < until)
            until = r->call_deadline + VN_SINK_OVERDUE_S;
        if (now >= until)
            break;
        dl = vn_mono_cond_deadline(until);
        pthread_cond_timedwait(&r->idle_cv, &r->mu, &dl);
    }
    if (!r->exited) {
        /* Past the deadline: what still waits is dropped; a thread stuck in the
         * sink is left behind so shutdown can finish. */
        while (r->head)
            evict_oldest(r, "shutdown_deadline");
        pthread_cond_broadcast(&r->cv);
        if (r->busy) {
            VN_LOG(WARN, "event=sink_abandoned sink=%s msg=\"still inside a flush at the shutdown deadline\"",
                   r->s->name);
            r->abandoned = true;
            pthread_t th = r->thread;
            pthread_mutex_unlock(&r->mu);
            pthread_detach(th);
            return false;
        }
    }
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    runner_free(r);
    return true;
}

uint64_t vn_sink_runner_dropped(const vn_sink_runner_t *r)
{
    return atomic_load(&((vn_sink_runner_t *)r)->dropped);
}
