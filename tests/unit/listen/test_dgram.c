/*
 * test_dgram.c - listen/dgram: one reader thread over a real loopback UDP
 * socket, feeding the real ingest path into real workers. Datagrams are split
 * into lines, a datagram longer than max_len is dropped whole and counted (one
 * of exactly max_len is not), and a stop drains what the kernel already holds.
 * Every wait is on a condition with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/worker.h"
#include "listen/dgram.h"

#define MAX_LEN 64
#define DEADLINE_S 10.0

typedef struct fx {
    vn_stats_t stats;
    vn_worker_t *w;
    vn_event_store_t ev;
    vn_parser_t parser;
    vn_ingest_t *in;
    int rx, tx, wake;
    struct sockaddr_in addr;
    vn_dgram_reader_t r;
} fx_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    vn_stats_init(&f->stats);
    f->w = vn_worker_start(0, 1, 0, &f->stats);
    vn_event_store_init(&f->ev, 10, &f->stats);
    vn_ingest_shared_t sh = {.parser = &f->parser, .workers = &f->w, .nworkers = 1, .events = &f->ev,
                             .stats = &f->stats};
    f->in = vn_ingest_new(&sh, 0);
    f->rx = socket(AF_INET, SOCK_DGRAM, 0);
    f->tx = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(f->rx >= 0 && f->tx >= 0);
    int big = 4 << 20; /* room for every datagram a test queues before the reader runs */
    setsockopt(f->rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    f->addr.sin_family = AF_INET;
    f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->rx, (struct sockaddr *)&f->addr, sizeof f->addr), 0);
    socklen_t al = sizeof f->addr;
    assert_int_equal(getsockname(f->rx, (struct sockaddr *)&f->addr, &al), 0);
    f->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(f->wake >= 0);
    f->r = (vn_dgram_reader_t){.fd = f->rx,
                               .wake_fd = f->wake,
                               .proto = VN_PROTO_UDP,
                               .max_len = MAX_LEN,
                               .drain_s = DEADLINE_S,
                               .ingest = f->in,
                               .stats = &f->stats};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    vn_ingest_free(f->in);
    vn_worker_free(f->w);
    vn_event_store_destroy(&f->ev);
    close(f->rx);
    close(f->tx);
    close(f->wake);
    free(f);
    return 0;
}

static void send_str(fx_t *f, const char *s, size_t n)
{
    ssize_t w = sendto(f->tx, s, n, 0, (struct sockaddr *)&f->addr, sizeof f->addr);
    assert_int_equal(w, (ssize_t)n);
}

/* Stops the reader the way vn_listeners does: flag, then one write to the shared wake fd. */
static void stop_reader(fx_t *f)
{
    vn_dgram_reader_signal(&f->r);
    uint64_t one = 1;
    assert_int_equal(write(f->wake, &one, sizeof one), (ssize_t)sizeof one);
    vn_dgram_reader_join(&f->r);
}

static bool wait_packets(fx_t *f, uint64_t want)
{
    double end = now() + DEADLINE_S;
    while (vn_stats_get(&f->stats.packets[VN_PROTO_UDP]) < want && now() < end)
        nap_ms(2);
    return vn_stats_get(&f->stats.packets[VN_PROTO_UDP]) >= want;
}

static vn_series_t *find(vn_series_map_t *m, const char *key, vn_mtype_t t)
{
    for (size_t i = 0; i < m->cap; i++) {
        vn_series_t *s = m->slots[i];
        if (s && s->type == t && strcmp(s->key, key) == 0)
            return s;
    }
    return NULL;
}

static void test_dgram__lines_split_and_too_long_dropped(void **state)
{
    fx_t *f = *state;
    assert_int_equal(vn_dgram_reader_start(&f->r), 0);
    /* three lines in one datagram, a trailing newline, and a gauge split across lines */
    const char d1[] = "a:1|c\nb:2|c|#k:v\ng:5|g\n";
    const char d2[] = "a:2|c\ng:7|g";
    send_str(f, d1, sizeof d1 - 1);
    send_str(f, d2, sizeof d2 - 1);
    /* exactly max_len bytes: accepted; one byte more: dropped whole, its lines never counted */
    char exact[MAX_LEN + 1], over[MAX_LEN + 2];
    memset(exact, 'x', sizeof exact);
    memcpy(exact, "e:1|c\n", 6); /* "e:1|c" then one long name that is one more line */
    memcpy(exact + MAX_LEN - 4, ":3|c", 4);
    memset(over, 'y', sizeof over);
    memcpy(over, "a:100|c\n", 8);
    memcpy(over + MAX_LEN + 1 - 4, ":9|c", 4);
    send_str(f, exact, MAX_LEN);
    send_str(f, over, MAX_LEN + 1);
    assert_true(wait_packets(f, 4));
    stop_reader(f);
    assert_int_equal(vn_stats_get(&f->stats.packets[VN_PROTO_UDP]), 4);
    assert_int_equal(vn_stats_get(&f->stats.packet_too_long), 1);
    assert_int_equal(vn_stats_get(&f->stats.bytes[VN_PROTO_UDP]),
                     (sizeof d1 - 1) + (sizeof d2 - 1) + MAX_LEN + (MAX_LEN + 1));
    assert_int_equal(vn_stats_get(&f->stats.lines), 3 + 2 + 2); /* the dropped datagram adds none */
    vn_series_map_t *m = vn_worker_swap(f->w);
    assert_int_equal(m->count, 5); /* a, b, g, e, the long name */
    vn_series_t *a = find(m, "a\n", VN_MT_COUNTER);
    assert_non_null(a);
    assert_true(a->u.counter == 3); /* not 103: the oversized datagram never reached ingest */
    vn_series_t *b = find(m, "b\nk:v", VN_MT_COUNTER);
    assert_non_null(b);
    assert_true(b->u.counter == 2);
    vn_series_t *g = find(m, "g\n", VN_MT_GAUGE);
    assert_non_null(g);
    assert_true(g->u.gauge == 7);
    vn_series_t *e = find(m, "e\n", VN_MT_COUNTER);
    assert_non_null(e);
    assert_true(e->u.counter == 1);
    char longname[MAX_LEN];
    memset(longname, 'x', sizeof longname);
    size_t ln = MAX_LEN - 4 - 6;
    longname[ln] = '\n';
    longname[ln + 1] = '\0';
    vn_series_t *x = find(m, longname, VN_MT_COUNTER);
    assert_non_null(x);
    assert_true(x->u.counter == 3);
    vn_series_map_free(m);
}

static void queue_counters(fx_t *f, int n)
{
    for (int i = 0; i < n; i++) {
        char d[64];
        int len = snprintf(d, sizeof d, "q:%d|c\nq.%d:1|c", i + 1, i % 10);
        send_str(f, d, (size_t)len);
    }
}

static void check_counters(fx_t *f, int n)
{
    assert_int_equal(vn_stats_get(&f->stats.packets[VN_PROTO_UDP]), n);
    assert_int_equal(vn_stats_get(&f->stats.lines), 2 * n);
    assert_int_equal(vn_stats_get(&f->stats.queue_dropped_samples), 0);
    vn_series_map_t *m = vn_worker_swap(f->w);
    vn_series_t *q = find(m, "q\n", VN_MT_COUNTER);
    assert_non_null(q);
    assert_true(q->u.counter == (double)n * (n + 1) / 2);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "q.%d\n", i);
        vn_series_t *s = find(m, key, VN_MT_COUNTER);
        assert_non_null(s);
        assert_true(s->u.counter == n / 10);
    }
    vn_series_map_free(m);
    /* the socket is empty: nothing was left behind */
    char buf[8];
    assert_int_equal(recv(f->rx, buf, sizeof buf, MSG_DONTWAIT), -1);
}

/* ~1.3 KiB of receive buffer each: fits even a default 212992-byte rmem_max, doubled */
#define NQUEUED 200

/* The drain alone: the stop is set before the reader runs (on this thread), so every datagram
 * already in the kernel is read by the drain, counted, and in the final commit. */
static void test_dgram__stop_drains_queued(void **state)
{
    fx_t *f = *state;
    queue_counters(f, NQUEUED);
    vn_dgram_reader_signal(&f->r);
    vn_dgram_reader_run(&f->r);
    assert_int_equal(f->r.drained, NQUEUED);
    check_counters(f, NQUEUED);
}

/* The same through the thread: whether its loop or its drain reads them, datagrams queued before
 * the stop are all in the final flush. */
static void test_dgram__thread_stop_keeps_queued(void **state)
{
    fx_t *f = *state;
    queue_counters(f, NQUEUED);
    assert_int_equal(vn_dgram_reader_start(&f->r), 0);
    stop_reader(f);
    check_counters(f, NQUEUED);
}

/* A reader without a wake fd still notices the stop (its idle poll is bounded). */
static void test_dgram__stop_without_wake_fd(void **state)
{
    fx_t *f = *state;
    f->r.wake_fd = -1;
    assert_int_equal(vn_dgram_reader_start(&f->r), 0);
    send_str(f, "w:4|c", 5);
    assert_true(wait_packets(f, 1));
    double t0 = now();
    vn_dgram_reader_signal(&f->r); /* no wake fd to write: the bounded idle poll notices */
    vn_dgram_reader_join(&f->r);
    assert_true(now() - t0 < DEADLINE_S);
    vn_series_map_t *m = vn_worker_swap(f->w);
    vn_series_t *w = find(m, "w\n", VN_MT_COUNTER);
    assert_non_null(w);
    assert_true(w->u.counter == 4);
    vn_series_map_free(m);
}

/* A steady stream sent while the reader runs (bursts with short gaps, so its reads come up short
 * and the fill delay is taken), stopped while datagrams may still be queued: every datagram is
 * counted and in the map, and the stop is not held up by a fill delay. */
static void test_dgram__stream_with_fill_delay(void **state)
{
    fx_t *f = *state;
    assert_int_equal(vn_dgram_reader_start(&f->r), 0);
    enum { BURSTS = 100, PER = 10 };
    for (int b = 0; b < BURSTS; b++) {
        queue_counters(f, PER);
        struct timespec ts = {0, 200000}; /* 0.2 ms: datagrams keep arriving while it sleeps */
        nanosleep(&ts, NULL);
    }
    double t0 = now();
    stop_reader(f);
    assert_true(now() - t0 < 1.0);
    assert_int_equal(vn_stats_get(&f->stats.packets[VN_PROTO_UDP]), BURSTS * PER);
    assert_int_equal(vn_stats_get(&f->stats.lines), 2 * BURSTS * PER);
    vn_series_map_t *m = vn_worker_swap(f->w);
    vn_series_t *q = find(m, "q\n", VN_MT_COUNTER);
    assert_non_null(q);
    assert_true(q->u.counter == (double)BURSTS * PER * (PER + 1) / 2);
    vn_series_map_free(m);
}

/* A sender that keeps the socket busy (a datagram every 0.2 ms) until told to stop, so the
 * reader's quiet-socket commit (1 ms) does not hand its counters over. */
typedef struct steady {
    fx_t *f;
    atomic_bool stop;
    atomic_long sent;
} steady_t;

static void *steady_main(void *arg)
{
    steady_t *st = arg;
    while (!atomic_load(&st->stop) && atomic_load(&st->sent) < 200000) {
        ssize_t w = sendto(st->f->tx, "s:1|c", 5, 0, (struct sockaddr *)&st->f->addr, sizeof st->f->addr);
        if (w == 5)
            atomic_fetch_add(&st->sent, 1);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static bool wait_committed(fx_t *f, uint64_t req)
{
    double end = now() + DEADLINE_S;
    while (!vn_dgram_reader_committed(&f->r, req) && now() < end)
        nap_ms(1);
    return vn_dgram_reader_committed(&f->r, req);
}

/* The flusher's commit request (dgram.c "Commits"): under a steady stream a reader with a
 * requester holds its pre-aggregated counters for up to its commit bound (here 60 s, so only the
 * requests hand them over), but once it has answered a request, every datagram it had read
 * before the request is in the worker's map. */
static void test_dgram__commit_request_hands_over_under_stream(void **state)
{
    fx_t *f = *state;
    _Atomic uint64_t req = 0;
    f->r.commit_req = &req;
    f->r.commit_max_s = 60;
    atomic_store(&f->r.clean, true);
    assert_true(vn_dgram_reader_committed(&f->r, 1)); /* not started: holds nothing */
    assert_int_equal(vn_dgram_reader_start(&f->r), 0);
    steady_t st = {.f = f};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, steady_main, &st), 0);
    assert_true(wait_packets(f, 500)); /* ~0.1 s of stream */
    uint64_t swapped = 0;
    for (uint64_t round = 1; round <= 3; round++) {
        uint64_t read_before = vn_stats_get(&f->stats.packets[VN_PROTO_UDP]);
        uint64_t want = atomic_fetch_add(&req, 1) + 1;
        assert_int_equal(want, round);
        assert_true(wait_committed(f, want));
        vn_series_map_t *m = vn_worker_swap(f->w);
        vn_series_t *s = find(m, "s\n", VN_MT_COUNTER);
        assert_non_null(s);
        /* this round's map: at least what was read before the request, since the last swap */
        assert_true(s->u.counter + (double)swapped >= (double)read_before);
        swapped += (uint64_t)s->u.counter;
        vn_series_map_free(m);
        nap_ms(50);
    }
    atomic_store(&st.stop, true);
    pthread_join(th, NULL);
    stop_reader(f);
    assert_true(vn_dgram_reader_committed(&f->r, UINT64_MAX)); /* stopped: clean */
    /* nothing lost or doubled across the swaps: the last map holds the rest */
    vn_series_map_t *m = vn_worker_swap(f->w);
    vn_series_t *s = find(m, "s\n", VN_MT_COUNTER);
    swapped += s ? (uint64_t)s->u.counter : 0;
    vn_series_map_free(m);
    assert_int_equal(swapped, vn_stats_get(&f->stats.packets[VN_PROTO_UDP]));
    assert_int_equal(swapped, vn_stats_get(&f->stats.lines));
}

/* The fill delay's arithmetic: capped at VN_DGRAM_FILL_MAX_S, shortened so that 8x the rate seen
 * fills at most the budget (a quarter of the receive buffer), and none when fewer than two
 * datagrams are expected or the socket has no budget. */
static void test_dgram__fill_delay_bounds(void **state)
{
    (void)state;
    /* 50 k datagrams/s of 430 bytes, 8 MiB buffer (4 MiB asked, doubled by the kernel) */
    double budget = 8.0 * 1024 * 1024 / 4;
    double dt = 0.002, rate = (100 * (430 + VN_DGRAM_SKB_COST)) / dt;
    double s = vn_dgram_fill_delay_s(budget, 100, 100 * 430, dt);
    assert_true(s > 0 && s <= VN_DGRAM_FILL_MAX_S);
    assert_true(s * VN_DGRAM_FILL_SAFETY * rate <= budget * 1.000001);
    /* a slow stream: the cap */
    assert_true(vn_dgram_fill_delay_s(budget, 10, 10 * 100, 0.002) == VN_DGRAM_FILL_MAX_S);
    /* 1 datagram in 10 ms: under two expected in the delay, no sleep */
    assert_true(vn_dgram_fill_delay_s(budget, 1, 100, 0.01) == 0);
    /* a huge rate: the bytes bound wins, far below the cap */
    double fast = vn_dgram_fill_delay_s(budget, 200, 200 * 60000.0, 0.0001);
    assert_true(fast > 0 && fast < 0.0001);
    /* no budget (unixgram, or getsockopt failed), nothing read */
    assert_true(vn_dgram_fill_delay_s(0, 100, 1000, 0.001) == 0);
    assert_true(vn_dgram_fill_delay_s(budget, 0, 0, 0.001) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dgram__lines_split_and_too_long_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dgram__stop_drains_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dgram__thread_stop_keeps_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dgram__stop_without_wake_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dgram__stream_with_fill_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dgram__commit_request_hands_over_under_stream, setup, teardown),
        cmocka_unit_test(test_dgram__fill_delay_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
