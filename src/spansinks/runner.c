/*
 * runner.c - one thread and one bounded byte queue per span sink (runner.h).
 *
 * Why bytes and a second decode instead of sharing the decoded span: the span
 * worker's decoded tree lives in its arena and is gone at the next span; a
 * copy of the protobuf bytes is one memcpy, bounded by construction, and lets
 * each sink own its memory outright. Decoding costs ~1 us per span on the sink
 * thread, which is off every metric path.
 */
#include "spansinks/runner.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mono_cond.h"
#include "core/xalloc.h"
#include "ssf/decode.h"

typedef struct runner {
    vn_span_sink_t *sink; /* owned */
    vn_stats_span_sink_t *st; /* borrowed, never NULL (a private slot when there are no stats) */
    vn_stats_span_sink_t own_st;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *ring; /* cap bytes */
    size_t cap, head, used;
    bool waiting, closing, started;
    double deadline; /* of the final flush */
    pthread_t thread;
    vn_ssf_arena_t arena;
    uint8_t *span; /* max_span bytes: the record being decoded */
    size_t max_span;
    double interval_s;
} runner_t;

struct vn_span_sinks {
    runner_t *r;
    size_t n;
};

static void ring_copy_out(const runner_t *r, size_t off, void *dst, size_t len)
{
    size_t pos = (r->head + off) % r->cap, first = r->cap - pos < len ? r->cap - pos : len;
    memcpy(dst, r->ring + pos, first);
    memcpy((uint8_t *)dst + first, r->ring, len - first);
}

static void ring_copy_in(runner_t *r, size_t off, const void *src, size_t len)
{
    size_t pos = (r->head + off) % r->cap, first = r->cap - pos < len ? r->cap - pos : len;
    memcpy(r->ring + pos, src, first);
    memcpy(r->ring, (const uint8_t *)src + first, len - first);
}

static bool offer_one(runner_t *r, const uint8_t *p, size_t len)
{
    uint32_t l32 = (uint32_t)len;
    size_t need = sizeof l32 + len;
    pthread_mutex_lock(&r->mu);
    if (r->closing || len > r->max_span || r->cap - r->used < need) {
        pthread_mutex_unlock(&r->mu);
        vn_stats_add(&r->st->queue_dropped, 1);
        return false;
    }
    ring_copy_in(r, r->used, &l32, sizeof l32);
    ring_copy_in(r, r->used + sizeof l32, p, len);
    r->used += need;
    atomic_store_explicit(&r->st->queue_bytes, r->used, memory_order_relaxed);
    bool wake = r->waiting;
    pthread_mutex_unlock(&r->mu);
    if (wake)
        pthread_cond_signal(&r->cv);
    vn_stats_add(&r->st->queued, 1);
    return true;
}

void vn_span_sinks_offer(void *ctx, const uint8_t *span, size_t len)
{
    vn_span_sinks_t *set = ctx;
    for (size_t i = 0; set && i < set->n; i++)
        offer_one(&set->r[i], span, len);
}

static void do_flush(runner_t *r, bool final)
{
    if (!r->sink->ops->flush)
        return;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    double now = vn_clock_mono_s();
    vn_span_flush_info_t info = {
        .timestamp = (int64_t)wall.tv_sec,
        .interval_s = r->interval_s,
        .deadline_s = final ? r->deadline : now + r->interval_s,
        .final = final,
    };
    int64_t t0 = vn_clock_mono_ns();
    r->sink->ops->flush(r->sink, &info);
    atomic_store_explicit(&r->st->last_flush_ns, (uint64_t)(vn_clock_mono_ns() - t0), memory_order_relaxed);
    vn_stats_add(&r->st->flushes, 1);
}

static void handle(runner_t *r, size_t len)
{
    Ssf__SSFSpan *span;
    if (vn_ssf_decode(&r->arena, r->span, len, 1, &span) != VN_SSF_DEC_OK) {
        vn_stats_add(&r->st->dropped, 1); /* the span worker decoded these same bytes: not expected */
        return;
    }
    switch (r->sink->ops->ingest(r->sink, span)) {
    case VN_SPAN_TAKEN: vn_stats_add(&r->st->ingested, 1); break;
    case VN_SPAN_SKIPPED: vn_stats_add(&r->st->skipped, 1); break;
    default: vn_stats_add(&r->st->dropped, 1); break;
    }
}

static void *runner_main(void *arg)
{
    runner_t *r = arg;
    double next_flush = vn_clock_mono_s() + r->interval_s;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (r->used == 0 && r->closing)
            break;
        if (r->used == 0) {
            r->waiting = true;
            struct timespec dl = vn_mono_cond_deadline(next_flush);
            pthread_cond_timedwait(&r->cv, &r->mu, &dl);
            r->waiting = false;
        }
        size_t len = 0;
        bool have = false;
        if (r->used >= sizeof(uint32_t)) {
            uint32_t l32;
            ring_copy_out(r, 0, &l32, sizeof l32);
            len = l32;
            ring_copy_out(r, sizeof l32, r->span, len);
            r->head = (r->head + sizeof l32 + len) % r->cap;
            r->used -= sizeof l32 + len;
            atomic_store_explicit(&r->st->queue_bytes, r->used, memory_order_relaxed);
            have = true;
        }
        bool closing = r->closing;
        pthread_mutex_unlock(&r->mu);
        if (have)
            handle(r, len);
        double now = vn_clock_mono_s();
        if (now >= next_flush && !closing) {
            do_flush(r, false);
            next_flush += r->interval_s;
            if (next_flush <= now) /* a flush longer than an interval: do not try to catch up */
                next_flush = now + r->interval_s;
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    do_flush(r, true);
    return NULL;
}

static void runner_init(runner_t *r, vn_span_sink_t *sink, vn_stats_span_sink_t *st, size_t max_span,
                        double interval_s, size_t queue_bytes)
{
    memset(r, 0, sizeof *r);
    r->sink = sink;
    r->st = st ? st : &r->own_st;
    r->st->name = sink->name;
    r->st->kind = sink->kind;
    sink->stats = r->st;
    pthread_mutex_init(&r->mu, NULL);
    vn_mono_cond_init(&r->cv);
    r->cap = queue_bytes ? queue_bytes : VN_SPAN_QUEUE_BYTES;
    r->ring = vn_xmalloc(r->cap);
    r->max_span = max_span;
    r->span = vn_xmalloc(max_span ? max_span : 1);
    vn_ssf_arena_init(&r->arena, max_span);
    r->interval_s = interval_s > 0 ? interval_s : 10;
}

vn_span_sinks_t *vn_span_sinks_from(vn_span_sink_t **sinks, size_t n, size_t max_span, double interval_s,
                                    size_t queue_bytes, vn_stats_t *stats)
{
    vn_span_sinks_t *set = vn_xcalloc(1, sizeof *set);
    set->r = vn_xcalloc(n ? n : 1, sizeof *set->r);
    for (size_t i = 0; i < n; i++) {
        vn_stats_span_sink_t *st = NULL;
        if (stats && i < VN_STATS_MAX_SINKS) {
            st = &stats->span_sinks[i];
            stats->n_span_sinks = i + 1;
        }
        runner_init(&set->r[i], sinks[i], st, max_span, interval_s, queue_bytes);
    }
    set->n = n;
    return set;
}

vn_err_t vn_span_sinks_open(const vn_config_t *cfg, vn_stats_t *stats, vn_span_sinks_t **out, char *errbuf,
                            size_t errcap)
{
    *out = NULL;
    if (cfg->n_span_sinks == 0)
        return VN_OK;
    vn_span_sink_t **v = vn_xcalloc(cfg->n_span_sinks, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_span_sinks; i++) {
        vn_err_t err = vn_span_sink_new(&cfg->span_sinks[i], cfg, &v[n], errbuf, errcap);
        if (err == VN_ERR_NOTFOUND) {
            VN_LOG(WARN, "event=span_sink_skipped kind=%s name=%s msg=\"kind not implemented\"",
                   cfg->span_sinks[i].kind, cfg->span_sinks[i].name);
            continue;
        }
        if (err != VN_OK) {
            for (size_t j = 0; j < n; j++)
                vn_span_sink_free(v[j]);
            free(v);
            return err;
        }
        n++;
    }
    if (n > 0) {
        size_t max_span = cfg->trace_max_length_bytes > 0 ? (size_t)cfg->trace_max_length_bytes : 16384;
        *out = vn_span_sinks_from(v, n, max_span, cfg->interval_s, 0, stats);
    }
    free(v);
    return VN_OK;
}

size_t vn_span_sinks_count(const vn_span_sinks_t *set)
{
    return set ? set->n : 0;
}

vn_err_t vn_span_sinks_start(vn_span_sinks_t *set)
{
    for (size_t i = 0; set && i < set->n; i++) {
        if (pthread_create(&set->r[i].thread, NULL, runner_main, &set->r[i]) != 0)
            return VN_ERR_IO;
        set->r[i].started = true;
    }
    return VN_OK;
}

void vn_span_sinks_stop(vn_span_sinks_t *set, double deadline_mono)
{
    for (size_t i = 0; set && i < set->n; i++) {
        runner_t *r = &set->r[i];
        pthread_mutex_lock(&r->mu);
        r->closing = true;
        r->deadline = deadline_mono;
        pthread_mutex_unlock(&r->mu);
        pthread_cond_signal(&r->cv);
    }
    for (size_t i = 0; set && i < set->n; i++)
        if (set->r[i].started) {
            pthread_join(set->r[i].thread, NULL);
            set->r[i].started = false;
        }
}

void vn_span_sinks_free(vn_span_sinks_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        runner_t *r = &set->r[i];
        vn_span_sink_free(r->sink);
        vn_ssf_arena_destroy(&r->arena);
        free(r->ring);
        free(r->span);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
    }
    free(set->r);
    free(set);
}
