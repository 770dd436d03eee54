/*
 * test_sink_runner.c - flush/sink_runner: each interval reaches the sink as its
 * own calls, in order; a blocked sink never blocks the pusher; its queue drops
 * whole old intervals (counted) instead of merging; stop abandons a sink stuck
 * past the deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flush/sink_runner.h"

/* ---------------------------------------------------------------- a fake sink */

#define MAX_CALLS 64

typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold;          /* flush blocks while true */
    long delay_ms;      /* each flush call takes this long (a slow but healthy sink) */
    bool in_flush;
    int64_t call_ts[MAX_CALLS]; /* info->timestamp of each flush call */
    size_t call_n[MAX_CALLS];
    double call_deadline[MAX_CALLS];
    size_t ncalls;
    size_t nevents_calls;
    int returned;       /* flush calls that returned */
} fake_t;

static vn_err_t fake_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    (void)m;
    fake_t *f = s->impl;
    pthread_mutex_lock(&f->mu);
    f->in_flush = true;
    pthread_cond_broadcast(&f->cv);
    while (f->hold)
        pthread_cond_wait(&f->cv, &f->mu);
    if (f->delay_ms) {
        pthread_mutex_unlock(&f->mu);
        struct timespec d = {f->delay_ms / 1000, (f->delay_ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
        pthread_mutex_lock(&f->mu);
    }
    if (f->ncalls < MAX_CALLS) {
        f->call_ts[f->ncalls] = info->timestamp;
        f->call_n[f->ncalls] = n;
        f->call_deadline[f->ncalls] = info->deadline_s;
        f->ncalls++;
    }
    f->in_flush = false;
    f->returned++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return VN_OK;
}

static void fake_events(vn_sink_t *s, const vn_sink_event_t *ev, size_t n, const vn_flush_info_t *info)
{
    (void)ev;
    (void)n;
    (void)info;
    fake_t *f = s->impl;
    pthread_mutex_lock(&f->mu);
    f->nevents_calls++;
    pthread_mutex_unlock(&f->mu);
}

static const vn_sink_ops_t fake_ops = {.kind = "fake", .flush = fake_flush, .flush_events = fake_events};

static void fake_init(fake_t *f, vn_sink_t *s)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    memset(s, 0, sizeof *s);
    s->ops = &fake_ops;
    s->name = "fake";
    s->impl = f;
}

static void fake_release(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->hold = false;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fake_wait_in_flush(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    while (!f->in_flush)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A chunk of n metrics named "m" (strings are literals: the arena stays empty). */
static vn_flush_chunk_t *chunk_of(size_t n, size_t refs)
{
    vn_flush_output_t out;
    vn_flush_output_init(&out);
    out.m = calloc(n, sizeof *out.m);
    out.n = out.cap = n;
    for (size_t i = 0; i < n; i++)
        out.m[i] = (vn_inter_metric_t){.name = "m", .type = VN_IM_GAUGE, .value = 1};
    return vn_flush_chunk_new(&out, refs);
}

/* A chunk of n metrics whose arena holds about kib KiB (as long names would). */
static vn_flush_chunk_t *chunk_kib(size_t n, size_t kib)
{
    vn_flush_output_t out;
    vn_flush_output_init(&out);
    out.m = calloc(n, sizeof *out.m);
    out.n = out.cap = n;
    char *p = vn_arena_alloc(&out.arena, kib << 10);
    memset(p, 'x', kib << 10);
    p[(kib << 10) - 1] = '\0';
    for (size_t i = 0; i < n; i++)
        out.m[i] = (vn_inter_metric_t){.name = p, .type = VN_IM_GAUGE, .value = 1};
    return vn_flush_chunk_new(&out, 1);
}

static vn_flush_info_t info_at(int64_t ts)
{
    return (vn_flush_info_t){.timestamp = ts, .interval_s = 10, .hostname = "h"};
}

/* ---------------------------------------------------------------- cases */

static void test_sink_runner__intervals_in_order_never_merged(void **state)
{
    (void)state;
    fake_t f;
    vn_sink_t s;
    fake_init(&f, &s);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 10, 0, 0);
    double before = mono();
    for (uint64_t seq = 1; seq <= 3; seq++) {
        vn_flush_info_t info = info_at(1700000000 + (int64_t)seq * 10);
        vn_sink_runner_push(r, seq, chunk_of(3, 1), &info, 0);
        vn_sink_runner_push(r, seq, chunk_of(2, 1), &info, 0);
        vn_event_list_t l = {.ev = calloc(1, sizeof(vn_sink_event_t)), .n = 1};
        l.ev[0].title = NULL; /* vn_event_list_free frees the (NULL) strings */
        vn_sink_runner_end(r, seq, seq == 2 ? vn_flush_events_new(&l, 1) : NULL, &info);
        if (seq != 2)
            vn_event_list_free(&l);
    }
    double stop_by = mono() + 5;
    assert_true(vn_sink_runner_stop(r, stop_by));
    assert_int_equal(f.ncalls, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(f.call_ts[i], 1700000000 + (int64_t)(i / 2 + 1) * 10);
        assert_int_equal(f.call_n[i], i % 2 ? 2 : 3);
        /* the runner's own deadline: its interval start + interval; or, for a call
         * made once stopping, the earlier stop deadline */
        assert_true((f.call_deadline[i] >= before + 10 && f.call_deadline[i] < mono() + 10) ||
                    f.call_deadline[i] == stop_by);
    }
    assert_int_equal(f.nevents_calls, 1);
    assert_int_equal(vn_stats_get(&slot.flushed), 15);
    assert_int_equal(vn_stats_get(&slot.dropped), 0);
}

/* With a route the runner hands its sink only the routed metrics and counts
 * Go's flushed_metrics statuses into the slot (issue 19). */
static void test_sink_runner__applies_route(void **state)
{
    (void)state;
    static const char yaml[] = "features: {enable_metric_sink_routing: true}\n"
                               "metric_sinks: [{kind: debug, name: fake, max_name_length: 3}]\n"
                               "metric_sink_routing: [{name: r, match: [{name: {kind: prefix, value: m}}], "
                               "sinks: {matched: [fake]}}]\n";
    char err[256];
    char *env[] = {NULL};
    vn_config_t *cfg = NULL;
    assert_int_equal(vn_config_load(yaml, strlen(yaml), env, false, &cfg, err, sizeof err), VN_OK);
    vn_sink_route_t *route = NULL;
    assert_int_equal(vn_sink_route_new(cfg, "fake", &route, err, sizeof err), VN_OK);
    fake_t f;
    vn_sink_t s;
    fake_init(&f, &s);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 10, 0, 0);
    vn_sink_runner_set_route(r, route);
    vn_flush_output_t out;
    vn_flush_output_init(&out);
    out.m = calloc(4, sizeof *out.m);
    out.n = out.cap = 4;
    static const char *const names[] = {"m", "x", "mmmm", "m2"};
    for (size_t i = 0; i < 4; i++)
        out.m[i] = (vn_inter_metric_t){.name = names[i], .type = VN_IM_GAUGE, .value = 1};
    vn_flush_info_t info = info_at(10);
    vn_sink_runner_push(r, 1, vn_flush_chunk_new(&out, 1), &info, 0);
    vn_sink_runner_end(r, 1, NULL, &info);
    assert_true(vn_sink_runner_stop(r, mono() + 5));
    assert_int_equal(f.ncalls, 1);
    assert_int_equal(f.call_n[0], 2); /* "m" and "m2" */
    assert_int_equal(vn_stats_get(&slot.flushed), 2);
    assert_int_equal(vn_stats_get(&slot.route_flushed), 2);
    assert_int_equal(vn_stats_get(&slot.route_skipped), 1);
    assert_int_equal(vn_stats_get(&slot.route_max_name_length), 1);
    assert_int_equal(vn_stats_get(&slot.route_dropped_max_name_length), 1);
    vn_config_free(cfg);
}

static void test_sink_runner__blocked_sink_drops_whole_old_intervals(void **state)
{
    (void)state;
    fake_t f;
    vn_sink_t s;
    fake_init(&f, &s);
    f.hold = true;
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 10, 10, 0);
    vn_flush_info_t i1 = info_at(10), i2 = info_at(20), i3 = info_at(30), i4 = info_at(40);
    vn_sink_runner_push(r, 1, chunk_of(5, 1), &i1, 0);
    vn_sink_runner_end(r, 1, NULL, &i1);
    fake_wait_in_flush(&f); /* interval 1 is inside the sink, blocked */
    double t0 = mono();
    vn_sink_runner_push(r, 2, chunk_of(3, 1), &i2, 0);
    vn_sink_runner_push(r, 2, chunk_of(2, 1), &i2, 0);
    vn_sink_runner_end(r, 2, NULL, &i2);
    vn_sink_runner_push(r, 3, chunk_of(5, 1), &i3, 0); /* 10 waiting: at the cap */
    vn_sink_runner_end(r, 3, NULL, &i3);
    vn_sink_runner_push(r, 4, chunk_of(4, 1), &i4, 0); /* over: interval 2 goes whole */
    vn_sink_runner_end(r, 4, NULL, &i4);
    vn_sink_runner_push(r, 4, chunk_of(20, 1), &i4, 0); /* alone over the cap: this chunk goes */
    assert_true(mono() - t0 < 1.0); /* pushing never waited for the sink */
    assert_int_equal(vn_sink_runner_dropped(r), 5 + 20);
    assert_int_equal(vn_stats_get(&slot.dropped), 25);
    fake_release(&f);
    assert_true(vn_sink_runner_stop(r, mono() + 5));
    /* intervals 1, 3, 4 arrived, each in its own calls */
    assert_int_equal(f.ncalls, 3);
    assert_int_equal(f.call_ts[0], 10);
    assert_int_equal(f.call_n[0], 5);
    assert_int_equal(f.call_ts[1], 30);
    assert_int_equal(f.call_n[1], 5);
    assert_int_equal(f.call_ts[2], 40);
    assert_int_equal(f.call_n[2], 4);
    assert_int_equal(vn_stats_get(&slot.flushed), 14);
}

static void test_sink_runner__sink_only_counts(void **state)
{
    (void)state;
    fake_t f;
    vn_sink_t s;
    fake_init(&f, &s);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 10, 0, 0);
    vn_flush_chunk_t *c = chunk_of(4, 1);
    c->out.m[1].sink_only = "other";
    c->out.m[2].sink_only = "fake";
    vn_flush_info_t i1 = info_at(10);
    vn_sink_runner_push(r, 1, c, &i1, 0);
    vn_sink_runner_end(r, 1, NULL, &i1);
    assert_true(vn_sink_runner_stop(r, mono() + 5));
    assert_int_equal(vn_stats_get(&slot.flushed), 3);
}

static void test_sink_runner__stop_abandons_a_stuck_sink(void **state)
{
    (void)state;
    static fake_t f; /* outlives the test body: the abandoned thread still uses it */
    static vn_sink_t s;
    fake_init(&f, &s);
    f.hold = true;
    static vn_stats_sink_t slot_storage; /* static for the same reason: no sleep needed before it goes */
    memset(&slot_storage, 0, sizeof slot_storage);
    vn_stats_sink_t *slot = &slot_storage;
    vn_sink_runner_t *r = vn_sink_runner_start(&s, slot, 10, 0, 0);
    vn_flush_info_t i1 = info_at(10), i2 = info_at(20);
    vn_sink_runner_push(r, 1, chunk_of(5, 1), &i1, 0);
    vn_sink_runner_end(r, 1, NULL, &i1);
    vn_sink_runner_push(r, 2, chunk_of(7, 1), &i2, 0);
    vn_sink_runner_end(r, 2, NULL, &i2);
    fake_wait_in_flush(&f);
    double t0 = mono();
    assert_false(vn_sink_runner_stop(r, t0 + 0.2));
    double took = mono() - t0;
    assert_true(took >= 0.15 && took < 2.0);
    assert_int_equal(vn_stats_get(&slot->dropped), 7); /* what still waited */
    /* the sink comes back: the thread finishes its call and frees the runner */
    fake_release(&f);
    pthread_mutex_lock(&f.mu);
    while (f.returned < 1)
        pthread_cond_wait(&f.cv, &f.mu);
    size_t ncalls = f.ncalls;
    pthread_mutex_unlock(&f.mu);
    assert_int_equal(ncalls, 1);
}

/* Bytes cap: a blocked sink's older intervals go whole once the waiting bytes pass the cap. */
static void test_sink_runner__byte_cap_drops_old_intervals(void **state)
{
    (void)state;
    fake_t f;
    vn_sink_t s;
    fake_init(&f, &s);
    f.hold = true;
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 10, 0, (size_t)1 << 20); /* 1 MiB */
    vn_flush_info_t i1 = info_at(10), i2 = info_at(20), i3 = info_at(30);
    vn_sink_runner_push(r, 1, chunk_kib(1, 1), &i1, 0);
    vn_sink_runner_end(r, 1, NULL, &i1);
    fake_wait_in_flush(&f);
    double t0 = mono();
    vn_sink_runner_push(r, 2, chunk_kib(2, 300), &i2, 0);
    vn_sink_runner_push(r, 2, chunk_kib(3, 300), &i2, 0);
    vn_sink_runner_end(r, 2, NULL, &i2);
    vn_sink_runner_push(r, 3, chunk_kib(4, 600), &i3, 0); /* 1.2 MiB with interval 2: it goes whole */
    vn_sink_runner_end(r, 3, NULL, &i3);
    vn_sink_runner_push(r, 3, chunk_kib(6, 2048), &i3, 0); /* alone over the cap: dropped */
    assert_true(mono() - t0 < 1.0);
    assert_int_equal(vn_sink_runner_dropped(r), 5 + 6);
    fake_release(&f);
    assert_true(vn_sink_runner_stop(r, mono() + 5));
    assert_int_equal(f.ncalls, 2);
    assert_int_equal(f.call_ts[1], 30);
    assert_int_equal(f.call_n[1], 4);
}

/* A sink slower than the pusher but making progress: the pusher waits, nothing is dropped. */
static void test_sink_runner__full_queue_waits_for_a_slow_sink(void **state)
{
    (void)state;
    fake_t f;
    vn_sink_t s;
    fake_init(&f, &s);
    f.delay_ms = 40;
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 10, 0, (size_t)700 << 10); /* two chunks */
    vn_flush_info_t i1 = info_at(10);
    double t0 = mono();
    for (int i = 0; i < 8; i++)
        vn_sink_runner_push(r, 1, chunk_kib(1, 300), &i1, t0 + 10);
    double took = mono() - t0;
    vn_sink_runner_end(r, 1, NULL, &i1);
    assert_true(took >= 0.15 && took < 5.0); /* it waited for about 5 of the 8 calls */
    assert_int_equal(vn_sink_runner_dropped(r), 0);
    assert_true(vn_sink_runner_stop(r, mono() + 5));
    assert_int_equal(vn_stats_get(&slot.dropped), 0);
    assert_int_equal(f.ncalls, 8);
    assert_int_equal(vn_stats_get(&slot.flushed), 8);
}

/* A stuck sink costs a pusher one stall period per interval, then its chunks drop at once. */
static void test_sink_runner__full_queue_stuck_sink_waits_once(void **state)
{
    (void)state;
    static fake_t f; /* the thread may still use it when the test ends (released before) */
    static vn_sink_t s;
    fake_init(&f, &s);
    f.hold = true;
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 10, 0, (size_t)400 << 10); /* one chunk */
    vn_flush_info_t i1 = info_at(10);
    vn_sink_runner_push(r, 1, chunk_kib(1, 300), &i1, 0);
    fake_wait_in_flush(&f); /* first chunk inside the sink, stuck */
    double t0 = mono();
    vn_sink_runner_push(r, 1, chunk_kib(2, 300), &i1, t0 + 30); /* queued */
    vn_sink_runner_push(r, 1, chunk_kib(3, 300), &i1, t0 + 30); /* waits one stall period, dropped */
    double one = mono() - t0;
    vn_sink_runner_push(r, 1, chunk_kib(4, 300), &i1, t0 + 30); /* dropped at once */
    double both = mono() - t0;
    assert_true(one >= VN_SINK_PUSH_STALL_S - 0.1 && one < VN_SINK_PUSH_STALL_S + 1.5);
    assert_true(both - one < 0.5);
    assert_int_equal(vn_sink_runner_dropped(r), 3 + 4);
    fake_release(&f);
    assert_true(vn_sink_runner_stop(r, mono() + 5));
    assert_int_equal(f.ncalls, 2);
}

/* At stop, a sink call is told the stop deadline when it comes before its interval deadline. */
static void test_sink_runner__stop_deadline_reaches_the_sink(void **state)
{
    (void)state;
    fake_t f;
    vn_sink_t s;
    fake_init(&f, &s);
    f.hold = true;
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_sink_runner_t *r = vn_sink_runner_start(&s, &slot, 60, 0, 0);
    vn_flush_info_t i1 = info_at(10);
    vn_sink_runner_push(r, 1, chunk_of(1, 1), &i1, 0);
    fake_wait_in_flush(&f);
    vn_sink_runner_push(r, 1, chunk_of(2, 1), &i1, 0);
    vn_sink_runner_end(r, 1, NULL, &i1);
    fake_release(&f);
    double by = mono() + 3;
    assert_true(vn_sink_runner_stop(r, by));
    assert_int_equal(f.ncalls, 2);
    /* the first call started before stop (interval deadline, 60 s); the second may too, or
     * after stop: then it carries the stop deadline */
    assert_true(f.call_deadline[0] > by + 30);
    assert_true(f.call_deadline[1] == by || f.call_deadline[1] > by + 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_runner__intervals_in_order_never_merged),
        cmocka_unit_test(test_sink_runner__blocked_sink_drops_whole_old_intervals),
        cmocka_unit_test(test_sink_runner__sink_only_counts),
        cmocka_unit_test(test_sink_runner__stop_abandons_a_stuck_sink),
        cmocka_unit_test(test_sink_runner__byte_cap_drops_old_intervals),
        cmocka_unit_test(test_sink_runner__full_queue_waits_for_a_slow_sink),
        cmocka_unit_test(test_sink_runner__full_queue_stuck_sink_waits_once),
        cmocka_unit_test(test_sink_runner__stop_deadline_reaches_the_sink),
        cmocka_unit_test(test_sink_runner__applies_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
