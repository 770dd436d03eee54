/*
 * test_flusher.c - flush/flusher through its public API only (start, stop,
 * free), with a real worker and a fake sink that records every call: ticks
 * flush every interval without bunching, a flush with nothing in it calls no
 * sink, each interval's values reach the sink exactly once, timestamps follow
 * the wall clock (the scheduled tick with synchronize_with_interval, so they
 * are multiples of the interval), a big interval reaches the sink in chunks,
 * and stop flushes once more only when asked to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/batch.h"
#include "aggregate/series_key.h"
#include "aggregate/worker.h"
#include "flush/flusher.h"

#define DEADLINE_S 15.0
#define MAX_CALLS 256
#define NKEYS 40000

/* ---------------------------------------------------------------- clocks */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- a recording sink */

typedef struct call {
    size_t n;
    int64_t ts;
    double interval_s;
    double real_at; /* CLOCK_REALTIME when the sink was called */
} call_t;

typedef struct fake {
    pthread_mutex_t mu;
    call_t calls[MAX_CALLS];
    size_t ncalls;
    double got[NKEYS]; /* counter "k.<i>": sum of values received */
    size_t metrics, other;
} fake_t;

static vn_err_t fake_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    fake_t *f = s->impl;
    double now = real();
    pthread_mutex_lock(&f->mu);
    if (f->ncalls < MAX_CALLS)
        f->calls[f->ncalls++] = (call_t){.n = n, .ts = info->timestamp, .interval_s = info->interval_s, .real_at = now};
    for (size_t i = 0; i < n; i++) {
        f->metrics++;
        /* the metric's own stamp is the interval's */
        if (m[i].timestamp != info->timestamp || m[i].type != VN_IM_COUNTER || strncmp(m[i].name, "k.", 2) != 0) {
            f->other++;
            continue;
        }
        long k = strtol(m[i].name + 2, NULL, 10);
        if (k >= 0 && k < NKEYS)
            f->got[k] += m[i].value;
        else
            f->other++;
    }
    pthread_mutex_unlock(&f->mu);
    return VN_OK;
}

static const vn_sink_ops_t fake_ops = {.kind = "fake", .flush = fake_flush};

static size_t fake_ncalls(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->ncalls;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static bool wait_calls(fake_t *f, size_t want)
{
    double end = mono() + DEADLINE_S;
    while (fake_ncalls(f) < want && mono() < end)
        nap_ms(5);
    return fake_ncalls(f) >= want;
}

/* ---------------------------------------------------------------- fixture */

typedef struct fx {
    vn_stats_t stats;
    vn_config_t *cfg;
    vn_worker_t *w;
    fake_t fake;
    vn_sink_t sink;
    vn_sink_t *sinks[1];
    vn_flusher_t *fl;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    vn_stats_init(&f->stats);
    f->cfg = vn_config_new_defaults();
    f->w = vn_worker_start(0, 1, 0, &f->stats);
    pthread_mutex_init(&f->fake.mu, NULL);
    f->sink = (vn_sink_t){.ops = &fake_ops, .name = "fake", .impl = &f->fake};
    f->sinks[0] = &f->sink;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    vn_flusher_free(f->fl);
    vn_worker_free(f->w);
    vn_config_free(f->cfg);
    pthread_mutex_destroy(&f->fake.mu);
    free(f);
    return 0;
}

static void start(fx_t *f, double interval_s, bool sync)
{
    f->cfg->interval_s = interval_s;
    f->cfg->synchronize_with_interval = sync;
    vn_flusher_opts_t o = {.cfg = f->cfg,
                           .workers = &f->w,
                           .nworkers = 1,
                           .sinks = f->sinks,
                           .nsinks = 1,
                           .stats = &f->stats};
    f->fl = vn_flusher_start(&o);
}

/* Pushes counters k.<from>..k.<to-1> with value k (times mult) into the worker, batch by batch. */
static void push_counters(fx_t *f, int from, int to, double mult)
{
    vn_batch_t *b = NULL;
    double end = mono() + DEADLINE_S;
    for (int i = from; i < to; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "k.%d\n", i);
        size_t sz = vn_rec_size((size_t)len, 0);
        if (b && b->used + sz > VN_BATCH_BYTES) {
            vn_worker_push(f->w, 0, b);
            b = NULL;
        }
        /* a reader holds a bounded number of batches: wait for the worker to hand one back */
        while (!b && !(b = vn_worker_get_batch(f->w, 0))) {
            assert_true(mono() < end);
            nap_ms(1);
        }
        vn_rec_t *r = (vn_rec_t *)(b->data + b->used);
        memset(r, 0, sizeof *r);
        r->hash = vn_series_key_hash(key, (size_t)len, VN_MT_COUNTER);
        r->key_len = (uint16_t)len;
        r->type = VN_MT_COUNTER;
        r->scope = VN_SCOPE_MIXED;
        r->value = i * mult;
        r->rate = 1;
        memcpy((char *)(r + 1), key, (size_t)len);
        b->used += (uint32_t)sz;
        b->count++;
    }
    if (b)
        vn_worker_push(f->w, 0, b);
}

/* ---------------------------------------------------------------- cases */

/* Ticks keep coming every interval; values pushed before a tick reach the sink exactly once; a tick
 * with nothing to say calls no sink; the flush count never runs ahead of the clock. */
static void test_flusher__ticks_deliver_each_value_once(void **state)
{
    fx_t *f = *state;
    const double iv = 0.05;
    double t0 = mono();
    start(f, iv, false);
    for (int round = 0; round < 3; round++) {
        size_t before = fake_ncalls(&f->fake);
        push_counters(f, 0, 10, 1);
        assert_true(wait_calls(&f->fake, before + 1));
    }
    /* idle ticks: the flush count grows, the sink is not called */
    uint64_t flushes = vn_stats_get(&f->stats.flushes);
    size_t calls = fake_ncalls(&f->fake);
    double end = mono() + DEADLINE_S;
    while (vn_stats_get(&f->stats.flushes) < flushes + 3 && mono() < end)
        nap_ms(5);
    assert_true(vn_stats_get(&f->stats.flushes) >= flushes + 3);
    vn_flusher_stop(f->fl, false);
    double elapsed = mono() - t0;
    assert_int_equal(fake_ncalls(&f->fake), calls);
    /* no bunching: at most one flush per elapsed interval */
    assert_true((double)vn_stats_get(&f->stats.flushes) <= elapsed / iv + 1);
    pthread_mutex_lock(&f->fake.mu);
    for (int k = 0; k < 10; k++)
        assert_true(f->fake.got[k] == 3.0 * k);
    assert_int_equal(f->fake.other, 0);
    for (size_t i = 0; i < f->fake.ncalls; i++)
        assert_true(f->fake.calls[i].interval_s == iv);
    pthread_mutex_unlock(&f->fake.mu);
}

/* Without synchronisation a flush is stamped with the wall-clock second it ran in. */
static void test_flusher__timestamps_follow_the_clock(void **state)
{
    fx_t *f = *state;
    start(f, 0.05, false);
    double r0 = real();
    push_counters(f, 0, 1, 1);
    assert_true(wait_calls(&f->fake, 1));
    vn_flusher_stop(f->fl, false);
    call_t c = f->fake.calls[0];
    assert_true((double)c.ts >= floor(r0));
    assert_true((double)c.ts <= c.real_at);
}

/* synchronize_with_interval: the first tick waits for the next wall-clock multiple of the interval,
 * and the stamp is that scheduled tick, however late the sink ran. */
static void test_flusher__synchronized_ticks_aligned(void **state)
{
    fx_t *f = *state;
    const double iv = 2;
    push_counters(f, 0, 1, 1); /* something to flush at the first tick */
    double before = real();
    start(f, iv, true);
    double after = real();
    assert_true(wait_calls(&f->fake, 1));
    push_counters(f, 0, 1, 1);
    assert_true(wait_calls(&f->fake, 2));
    vn_flusher_stop(f->fl, false);
    pthread_mutex_lock(&f->fake.mu);
    call_t c0 = f->fake.calls[0], c1 = f->fake.calls[1];
    pthread_mutex_unlock(&f->fake.mu);
    /* the next multiple of 2 s after the start (the start may straddle one) */
    int64_t lo = (int64_t)(floor(before / iv) + 1) * 2, hi = (int64_t)(floor(after / iv) + 1) * 2;
    assert_true(c0.ts == lo || c0.ts == hi);
    assert_int_equal(c0.ts % 2, 0);
    /* a later tick (the next one unless the machine stalled for a whole interval), also aligned */
    assert_true(c1.ts > c0.ts);
    assert_int_equal((c1.ts - c0.ts) % 2, 0);
    assert_true(c0.real_at >= (double)c0.ts - 0.5); /* never before its tick */
    assert_true(c1.real_at >= (double)c1.ts - 0.5);
}

/* An interval of many series reaches the sink as several bounded calls, every value exactly once,
 * all stamped alike; the final flush on stop is the only flush here (the interval is an hour). */
static void test_flusher__final_flush_in_chunks(void **state)
{
    fx_t *f = *state;
    start(f, 3600, false);
    push_counters(f, 0, NKEYS, 2);
    double r0 = real();
    vn_flusher_stop(f->fl, true); /* waits for the sink runner to deliver */
    pthread_mutex_lock(&f->fake.mu);
    assert_true(f->fake.ncalls >= 2);
    size_t total = 0;
    for (size_t i = 0; i < f->fake.ncalls; i++) {
        assert_true(f->fake.calls[i].n > 0);
        assert_true(f->fake.calls[i].n < NKEYS);
        assert_int_equal(f->fake.calls[i].ts, f->fake.calls[0].ts);
        total += f->fake.calls[i].n;
    }
    assert_int_equal(total, NKEYS);
    assert_int_equal(f->fake.metrics, NKEYS);
    assert_int_equal(f->fake.other, 0);
    for (int k = 0; k < NKEYS; k++)
        assert_true(f->fake.got[k] == 2.0 * k);
    assert_true((double)f->fake.calls[0].ts >= floor(r0) - 1);
    pthread_mutex_unlock(&f->fake.mu);
    assert_int_equal(vn_stats_get(&f->stats.flushes), 1);
    assert_int_equal(vn_stats_get(&f->stats.metrics_flushed_total), NKEYS);
}

/* Stop without the final flush: what is held is not delivered. */
static void test_flusher__stop_without_final(void **state)
{
    fx_t *f = *state;
    start(f, 3600, false);
    push_counters(f, 0, 5, 1);
    vn_flusher_stop(f->fl, false);
    assert_int_equal(fake_ncalls(&f->fake), 0);
    assert_int_equal(vn_stats_get(&f->stats.flushes), 0);
    /* stopping twice, then freeing, is fine */
    vn_flusher_stop(f->fl, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flusher__ticks_deliver_each_value_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flusher__timestamps_follow_the_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flusher__synchronized_ticks_aligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flusher__final_flush_in_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flusher__stop_without_final, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
