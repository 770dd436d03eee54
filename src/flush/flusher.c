/*
 * flusher.c - the interval ticker and the flush itself.
 *
 * Ticks are scheduled on CLOCK_MONOTONIC at start + k*interval; a flush that
 * overruns skips the ticks it missed (like Go's ticker) instead of bunching.
 * With synchronize_with_interval the first tick waits for the next wall-clock
 * multiple of the interval.
 */
#include "flush/flusher.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "flush/ticker.h"

struct vn_flusher {
    vn_flusher_opts_t o;
    vn_flush_rules_t rules;
    char **pct_names;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool started;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool sink_wants(const vn_sink_t *s, const vn_inter_metric_t *m)
{
    return !m->sink_only || strcmp(m->sink_only, s->name) == 0;
}

/* Metrics handed to the sinks per call: bounds the flush's extra memory whatever the
 * number of series (a sink may be called several times per interval). */
#define FLUSH_CHUNK 16384

typedef struct sink_tally {
    size_t handed;
    double seconds;
    bool failed;
} sink_tally_t;

/* Hands one chunk to every sink, then empties it (the arena is reused). */
static void deliver(vn_flusher_t *f, vn_flush_output_t *out, const vn_flush_info_t *info, sink_tally_t *tally)
{
    if (out->n == 0)
        return; /* Go never calls sinks with an empty list */
    for (size_t i = 0; i < f->o.nsinks; i++) {
        vn_sink_t *s = f->o.sinks[i];
        double s0 = mono_now();
        for (size_t j = 0; j < out->n; j++)
            tally[i].handed += sink_wants(s, &out->m[j]);
        vn_err_t err = s->ops->flush(s, out->m, out->n, info);
        tally[i].seconds += mono_now() - s0;
        if (err != VN_OK) {
            tally[i].failed = true;
            VN_LOG(WARN, "event=sink_flush_failed sink=%s err=\"%s\"", s->name, vn_strerror(err));
        }
    }
    vn_stats_add(&f->o.stats->metrics_flushed_total, out->n);
    vn_flush_output_destroy(out);
    vn_flush_output_init(out);
}

static void note_overflow(vn_flusher_t *f, const vn_series_map_t *m)
{
    for (size_t i = 0; i <= VN_OVERFLOW_NAMES; i++) {
        const vn_series_overflow_t *ov = &m->overflow[i];
        if (ov->samples == 0)
            continue;
        vn_stats_note_overflow(f->o.stats, ov->name, ov->samples);
        VN_LOG(WARN, "event=series_cap_reached metric_name=\"%s\" dropped_samples=%llu max_series=%zu",
               ov->name[0] ? ov->name : "(other)", (unsigned long long)ov->samples, m->max_count);
    }
}

static void flush_once(vn_flusher_t *f)
{
    double t0 = mono_now();
    int64_t ts = (int64_t)time(NULL);
    /* Swap every worker first, so all shards close the interval at the same moment. */
    vn_series_map_t **maps = vn_xcalloc(f->o.nworkers, sizeof *maps);
    for (size_t w = 0; w < f->o.nworkers; w++)
        maps[w] = vn_worker_swap(f->o.workers[w]);
    vn_flush_info_t info = {
        .timestamp = ts,
        .interval_s = f->o.cfg->interval_s,
        .hostname = f->rules.hostname,
        .deadline_s = t0 + f->o.cfg->interval_s,
    };
    sink_tally_t *tally = vn_xcalloc(f->o.nsinks ? f->o.nsinks : 1, sizeof *tally);
    vn_flush_output_t out;
    vn_flush_output_init(&out);
    size_t series = 0;
    uint64_t metrics = 0;
    /* Forwarding (issue 6): NULL unless forward_address is set. Encoding the
     * forwardable series happens here; sending is the forwarder thread's. */
    vn_forward_batch_t *fwd = vn_forward_begin(f->o.forward);
    for (size_t w = 0; w < f->o.nworkers; w++) {
        vn_series_map_t *m = maps[w];
        if (!m)
            continue;
        series += m->count;
        note_overflow(f, m);
        for (size_t at = 0; at < m->cap;) {
            at = vn_flush_generate_from(m, at, FLUSH_CHUNK, &f->rules, ts, &out);
            if (out.n >= FLUSH_CHUNK) {
                metrics += out.n;
                deliver(f, &out, &info, tally);
            }
        }
        vn_forward_add_map(fwd, m);
        vn_series_map_free(m);
    }
    metrics += out.n;
    deliver(f, &out, &info, tally);
    vn_flush_output_destroy(&out);
    free(maps);
    vn_forward_end(f->o.forward, fwd); /* queues without blocking; drops (counted) when full */
    vn_event_list_t events = {0};
    if (f->o.events)
        vn_event_store_take(f->o.events, &events);
    for (size_t i = 0; i < f->o.nsinks; i++) {
        vn_sink_t *s = f->o.sinks[i];
        if (events.n && s->ops->flush_events) {
            double s0 = mono_now();
            s->ops->flush_events(s, events.ev, events.n, &info);
            tally[i].seconds += mono_now() - s0;
        }
        if (i < VN_STATS_MAX_SINKS) {
            vn_stats_add(&f->o.stats->sinks[i].flushed, tally[i].handed);
            atomic_store(&f->o.stats->sinks[i].last_duration_ns, (uint64_t)(tally[i].seconds * 1e9));
            if (tally[i].failed)
                vn_stats_add(&f->o.stats->sinks[i].errors, 1);
        }
    }
    free(tally);
    vn_event_list_free(&events);
    uint64_t dur = (uint64_t)((mono_now() - t0) * 1e9);
    vn_stats_add(&f->o.stats->flushes, 1);
    atomic_store(&f->o.stats->flush_duration_ns_last, dur);
    vn_stats_add(&f->o.stats->flush_duration_ns_total, dur);
    atomic_store(&f->o.stats->series_last_flush, series);
    VN_LOG(DEBUG, "event=flush series=%zu metrics=%llu ms=%.3f", series, (unsigned long long)metrics,
           (double)dur / 1e6);
}

static void abs_time(double mono, struct timespec *ts)
{
    ts->tv_sec = (time_t)mono;
    ts->tv_nsec = (long)((mono - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *flusher_main(void *arg)
{
    vn_flusher_t *f = arg;
    double iv = f->o.cfg->interval_s;
    double next = mono_now() + iv;
    if (f->o.cfg->synchronize_with_interval) {
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        double now = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9;
        next = mono_now() + vn_ticker_first_delay(now, iv, vn_ticker_offset_s(f->o.cfg)); /* issue 16 */
    }
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec dl;
        abs_time(next, &dl);
        int rc = pthread_cond_timedwait(&f->cv, &f->mu, &dl);
        if (f->stop)
            break;
        if (rc == 0 && mono_now() < next)
            continue; /* spurious wake-up */
        pthread_mutex_unlock(&f->mu);
        atomic_store(&f->o.stats->flush_lateness_ns_last, (uint64_t)((mono_now() - next) * 1e9));
        flush_once(f);
        double now = mono_now();
        do
            next += iv;
        while (next <= now);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

vn_flusher_t *vn_flusher_start(const vn_flusher_opts_t *opts)
{
    vn_flusher_t *f = vn_xcalloc(1, sizeof *f);
    f->o = *opts;
    const vn_config_t *c = opts->cfg;
    f->pct_names = vn_xcalloc(c->n_percentiles ? c->n_percentiles : 1, sizeof *f->pct_names);
    for (size_t i = 0; i < c->n_percentiles; i++) {
        char buf[64];
        f->pct_names[i] = vn_xstrdup(vn_percentile_suffix(c->percentiles[i], buf, sizeof buf));
    }
    f->rules = (vn_flush_rules_t){
        .aggregates = c->aggregates,
        .percentiles = c->percentiles,
        .pct_names = (const char *const *)f->pct_names,
        .npct = c->n_percentiles,
        .is_local = c->forward_address && c->forward_address[0],
        .hostname = c->hostname ? c->hostname : "",
    };
    for (size_t i = 0; i < opts->nsinks && i < VN_STATS_MAX_SINKS; i++) {
        opts->stats->sinks[i].name = opts->sinks[i]->name;
        opts->stats->sinks[i].kind = opts->sinks[i]->ops->kind;
        opts->sinks[i]->stats = &opts->stats->sinks[i];
        opts->stats->n_sinks = i + 1;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=flusher");
        abort();
    }
    f->started = true;
    return f;
}

void vn_flusher_stop(vn_flusher_t *f, bool final)
{
    if (!f || !f->started)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    f->started = false;
    if (final)
        flush_once(f);
}

void vn_flusher_free(vn_flusher_t *f)
{
    if (!f)
        return;
    vn_flusher_stop(f, false);
    for (size_t i = 0; i < f->o.cfg->n_percentiles; i++)
        free(f->pct_names[i]);
    free(f->pct_names);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
