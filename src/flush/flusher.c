/*
 * flusher.c - the interval ticker and the flush itself.
 *
 * Ticks are scheduled on CLOCK_MONOTONIC at start + k*interval; a flush that
 * overruns skips the ticks it missed (like Go's ticker) instead of bunching.
 * With synchronize_with_interval the first tick waits for the next wall-clock
 * multiple of the interval.
 *
 * Timestamps come from CLOCK_REALTIME, not time(2): time() reads the coarse
 * clock, which lags by up to a kernel tick, so a flush at 12:00:08.0001 was
 * stamped 12:00:07 and its points landed in the previous rollup bucket. With
 * synchronize_with_interval the stamp is the scheduled tick rounded to the
 * nearest second, so every tier of a fleet stamps the same interval alike
 * however late its flush thread ran.
 *
 * Sinks (issue 15): the flusher never calls a sink. Each chunk of the interval
 * becomes one shared, refcounted vn_flush_chunk_t handed to every sink's
 * runner (sink_runner.h: own thread, own queue, own deadline), so a hung sink
 * cannot hold the ticker, cannot make the next flush cover two intervals, and
 * cannot delay another sink.
 */
#include "flush/flusher.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mono_cond.h"
#include "core/xalloc.h"
#include "flush/sink_runner.h"
#include "ticker/ticker.h"

struct vn_flusher {
    vn_flusher_opts_t o;
    vn_flush_rules_t rules;
    char **pct_names;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool started;
    vn_sink_runner_t **runners; /* one per sink; NULL once stopped */
    uint64_t seq;               /* intervals flushed (flusher thread, then the stopping thread) */
    double final_by;            /* the final flush's CLOCK_MONOTONIC deadline (stopping thread) */
    unsigned long wedge_at, wedge_seen; /* VENEUR_TEST_WEDGE_FLUSH (maybe_wedge) */
};

/* The unix second to stamp a flush with. tick_mono is the scheduled tick on
 * CLOCK_MONOTONIC, or < 0 for an unscheduled flush (the final one). */
static int64_t flush_stamp(const vn_flusher_t *f, double tick_mono)
{
    double now = vn_clock_real_s();
    if (tick_mono < 0 || !f->o.cfg->synchronize_with_interval)
        return (int64_t)floor(now);
    /* a synchronized global runs offset_s past the wall-clock tick (issue 16): stamp the tick */
    double tick_real = now - (vn_clock_mono_s() - tick_mono) - vn_ticker_offset_s(f->o.cfg);
    return (int64_t)floor(tick_real + 0.5);
}

/* Hands one chunk to every sink's runner, then leaves out empty. A runner whose
 * queue is full of this interval makes it wait, until wait_until at most, while
 * that sink makes progress (sink_runner.h): a slower sink still gets the whole
 * interval without the flush holding more than its queue cap per sink. */
static void deliver(vn_flusher_t *f, vn_flush_output_t *out, const vn_flush_info_t *info, double wait_until)
{
    if (out->n == 0)
        return; /* Go never calls sinks with an empty list */
    vn_stats_add(&f->o.stats->metrics_flushed_total, out->n);
    vn_flush_output_fit(out);
    if (f->o.nsinks == 0) {
        vn_flush_output_destroy(out);
        vn_flush_output_init(out);
        return;
    }
    vn_flush_chunk_t *c = vn_flush_chunk_new(out, f->o.nsinks);
    for (size_t i = 0; i < f->o.nsinks; i++)
        vn_sink_runner_push(f->runners[i], f->seq, c, info, wait_until);
}

static void note_overflow(vn_flusher_t *f, const vn_series_map_t *m)
{
    for (size_t i = 0; i <= VN_OVERFLOW_NAMES; i++) {
        const vn_series_overflow_t *ov = &m->overflow[i];
        if (ov->samples == 0)
            continue;
        vn_stats_note_overflow(f->o.stats, ov->name, ov->samples);
        char q[VN_LOG_QUOTE_CAP]; /* a remote metric name: quoted so it cannot add fields */
        VN_LOG(WARN, "event=series_cap_reached metric_name=%s dropped_samples=%llu max_series=%zu",
               vn_log_quote_cstr(q, sizeof q, ov->name[0] ? ov->name : "(other)"), (unsigned long long)ov->samples,
               m->max_count);
    }
}

/* Series per type and scope, Go's worker.metrics_flushed_total{metric_type} (counted by each map at insert). */
static void tally(vn_series_map_t **maps, size_t n, vn_flush_report_t *r)
{
    memset(r, 0, sizeof *r);
    for (size_t w = 0; w < n; w++)
        for (size_t t = 0; maps[w] && t < VN_MT__COUNT; t++)
            for (size_t sc = 0; sc < 3; sc++)
                r->by_type_scope[t][sc] += maps[w]->by_type_scope[t][sc];
}

/* Debug hook for the watchdog's e2e test: VENEUR_TEST_WEDGE_FLUSH=N makes the
 * flusher block for good at its N-th flush, as a flusher stuck in a deadlock
 * would. Read once at start; unset in production. */
static void maybe_wedge(vn_flusher_t *f)
{
    if (f->wedge_at == 0 || ++f->wedge_seen < f->wedge_at)
        return;
    VN_LOG(WARN, "event=test_wedge_flush msg=\"VENEUR_TEST_WEDGE_FLUSH: the flusher blocks forever\"");
    for (;;)
        pause();
}

static void flush_once(vn_flusher_t *f, double tick_mono)
{
    if (tick_mono >= 0)
        maybe_wedge(f);
    double t0 = vn_clock_mono_s();
    int64_t ts = flush_stamp(f, tick_mono);
    /* The statsd readers first hand over what they have read (pre-aggregated counters and gauges
     * wait in them up to VN_DGRAM_COMMIT_MAX_S otherwise); then every worker is swapped, so all
     * shards close the interval at the same moment. */
    if (f->o.listeners && !vn_listeners_commit(f->o.listeners, VN_FLUSH_COMMIT_WAIT_S))
        VN_LOG(DEBUG, "event=reader_commit_late msg=\"a statsd reader's share goes to the next interval\"");
    vn_series_map_t **maps = vn_xcalloc(f->o.nworkers, sizeof *maps);
    for (size_t w = 0; w < f->o.nworkers; w++)
        maps[w] = vn_worker_swap(f->o.workers[w]);
    vn_flush_info_t info = {
        .timestamp = ts,
        .interval_s = f->o.cfg->interval_s,
        .hostname = f->rules.hostname,
        .deadline_s = t0 + f->o.cfg->interval_s,
    };
    /* Waiting on slow sinks may use half the interval: the next tick stays on
     * time. The final flush may use what is left of the shutdown budget. */
    double wait_until = tick_mono < 0 ? f->final_by : t0 + f->o.cfg->interval_s / 2;
    f->seq++;
    vn_flush_output_t out;
    vn_flush_output_init(&out);
    size_t series = 0;
    uint64_t metrics = 0;
    /* Forwarding (issue 6): NULL unless forward_address is set. Encoding the
     * forwardable series happens here, before the sinks' chunks, so a slow sink
     * that makes deliver() wait never delays the forward; sending is the
     * forwarder thread's. (Both paths compact digests first, so the order does
     * not change what either sees.) */
    vn_forward_batch_t *fwd = vn_forward_begin(f->o.forward);
    for (size_t w = 0; w < f->o.nworkers; w++) {
        if (!maps[w])
            continue;
        series += maps[w]->count;
        note_overflow(f, maps[w]);
        vn_forward_add_map(fwd, maps[w]);
    }
    vn_forward_end(f->o.forward, fwd); /* queues without blocking; drops (counted) when full */
    vn_flush_report_t rep;
    if (f->o.on_flush)
        tally(maps, f->o.nworkers, &rep);
    /* Lookups are over: the tables go back before any output is built. */
    for (size_t w = 0; w < f->o.nworkers; w++)
        if (maps[w])
            vn_series_map_drop_index(maps[w]);
    for (size_t w = 0; w < f->o.nworkers; w++) {
        vn_series_map_t *m = maps[w];
        if (!m)
            continue;
        while (!vn_flush_generate_drain(m, VN_FLUSH_CHUNK_MAX_METRICS, VN_FLUSH_CHUNK_MAX_BYTES, &f->rules, ts,
                                        &out)) {
            metrics += out.n;
            deliver(f, &out, &info, wait_until);
        }
        vn_series_map_free(m);
    }
    metrics += out.n;
    deliver(f, &out, &info, wait_until);
    vn_flush_output_destroy(&out);
    free(maps);
    vn_event_list_t events = {0};
    if (f->o.events)
        vn_event_store_take(f->o.events, &events);
    vn_flush_events_t *ev = NULL;
    if (events.n && f->o.nsinks)
        ev = vn_flush_events_new(&events, f->o.nsinks);
    for (size_t i = 0; i < f->o.nsinks; i++)
        vn_sink_runner_end(f->runners[i], f->seq, ev, &info);
    vn_event_list_free(&events); /* empty unless no sink took it */
    uint64_t dur = (uint64_t)((vn_clock_mono_s() - t0) * 1e9);
    vn_stats_add(&f->o.stats->flushes, 1);
    atomic_store(&f->o.stats->flush_duration_ns_last, dur);
    vn_stats_add(&f->o.stats->flush_duration_ns_total, dur);
    atomic_store(&f->o.stats->series_last_flush, series);
    if (f->o.on_flush) {
        rep.done_unix_ns = (int64_t)(vn_clock_real_s() * 1e9);
        rep.series = series;
        f->o.on_flush(f->o.on_flush_ctx, &rep);
    }
    VN_LOG(DEBUG, "event=flush series=%zu metrics=%llu ms=%.3f", series, (unsigned long long)metrics,
           (double)dur / 1e6);
}

static void *flusher_main(void *arg)
{
    vn_flusher_t *f = arg;
    double iv = f->o.cfg->interval_s;
    double next = vn_clock_mono_s() + iv;
    if (f->o.cfg->synchronize_with_interval) {
        double now = vn_clock_real_s();
        next = vn_clock_mono_s() + vn_ticker_first_delay(now, iv, vn_ticker_offset_s(f->o.cfg)); /* issue 16 */
    }
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec dl = vn_mono_cond_deadline(next);
        int rc = pthread_cond_timedwait(&f->cv, &f->mu, &dl);
        if (f->stop)
            break;
        if (rc == 0 && vn_clock_mono_s() < next)
            continue; /* spurious wake-up */
        pthread_mutex_unlock(&f->mu);
        atomic_store(&f->o.stats->flush_lateness_ns_last, (uint64_t)((vn_clock_mono_s() - next) * 1e9));
        flush_once(f, next);
        double now = vn_clock_mono_s();
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
    const char *wedge = getenv("VENEUR_TEST_WEDGE_FLUSH");
    f->wedge_at = wedge ? strtoul(wedge, NULL, 10) : 0;
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
    f->runners = vn_xcalloc(opts->nsinks ? opts->nsinks : 1, sizeof *f->runners);
    for (size_t i = 0; i < opts->nsinks; i++) {
        f->runners[i] = vn_sink_runner_start(opts->sinks[i], i < VN_STATS_MAX_SINKS ? &opts->stats->sinks[i] : NULL,
                                             c->interval_s, 0, 0);
        /* Routing (issue 19): each runner applies its sink's rules and limits. */
        vn_sink_route_t *route = NULL;
        char why[256];
        if (vn_sink_route_new(c, opts->sinks[i]->name, &route, why, sizeof why) != VN_OK) {
            VN_LOG(ERROR, "event=sink_routing_invalid sink=%s err=\"%s\"", opts->sinks[i]->name, why);
            abort(); /* config load compiles every pattern first: unreachable */
        }
        vn_sink_runner_set_route(f->runners[i], route);
    }
    pthread_mutex_init(&f->mu, NULL);
    vn_mono_cond_init(&f->cv);
    if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=flusher");
        abort();
    }
    f->started = true;
    return f;
}

/* Lets every runner drain until one shared deadline; a sink still stuck in a
 * call by then is abandoned and its slot in the caller's array set to NULL. */
static void stop_runners(vn_flusher_t *f, double deadline)
{
    if (!f->runners)
        return;
    for (size_t i = 0; i < f->o.nsinks; i++) {
        if (!vn_sink_runner_stop(f->runners[i], deadline))
            f->o.sinks[i] = NULL;
    }
    free(f->runners);
    f->runners = NULL;
}

void vn_flusher_stop(vn_flusher_t *f, bool final)
{
    vn_flusher_stop_by(f, final, vn_clock_mono_s() + VN_FLUSHER_STOP_GRACE_S);
}

void vn_flusher_stop_by(vn_flusher_t *f, bool final, double deadline_mono)
{
    if (!f)
        return;
    if (!f->started) {
        stop_runners(f, deadline_mono);
        return;
    }
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    f->started = false;
    f->final_by = deadline_mono;
    if (final)
        flush_once(f, -1);
    stop_runners(f, deadline_mono);
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
