/*
 * test_dest.c - proxy/dest on its own (no router): one destination against a
 * local forward/h2_server as a fake global, with recording hooks. The queue
 * is bounded (a full queue refuses and counts, nothing blocks), a down
 * destination refuses pushes, dialling backs off (min, doubling, capped) and
 * reconnects when the global comes back, the up/down hooks follow the stream,
 * and on every path each queued message ends exactly once: sent, rerouted or
 * counted as dropped. Waits are on conditions with deadlines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward/grpc_frame.h"
#include "forward/h2_server.h"
#include "proxy/dest.h"

#define DEADLINE_S 10.0
#define PATH "/forwardrpc.Forward/SendMetricsV2"

static double mono(void)
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

/* ---------------------------------------------------------------- the fake global */

typedef struct global {
    vn_h2_server_t *srv;
    char addr[64];
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool paused; /* message() blocks while set: the server stops reading, the client backs up */
    size_t got, bytes, calls;
} global_t;

static void *g_open(void *ctx, const char *path, vn_grpc_status_t *st, const char **msg)
{
    global_t *g = ctx;
    if (strcmp(path, PATH) != 0) {
        *st = VN_GRPC_UNIMPLEMENTED;
        *msg = "no";
        return NULL;
    }
    pthread_mutex_lock(&g->mu);
    g->calls++;
    pthread_mutex_unlock(&g->mu);
    return g;
}

static vn_grpc_status_t g_message(void *call, const uint8_t *data, size_t len, const char **msg)
{
    (void)data;
    (void)msg;
    global_t *g = call;
    pthread_mutex_lock(&g->mu);
    while (g->paused)
        pthread_cond_wait(&g->cv, &g->mu);
    g->got++;
    g->bytes += len;
    pthread_mutex_unlock(&g->mu);
    return VN_GRPC_OK;
}

static vn_grpc_status_t g_finish(void *call, const char **msg)
{
    (void)call;
    (void)msg;
    return VN_GRPC_OK;
}

static void g_close(void *call, vn_grpc_status_t final)
{
    (void)call;
    (void)final;
}

static void global_start(global_t *g, int port)
{
    char err[256];
    if (!g->addr[0]) {
        pthread_mutex_init(&g->mu, NULL);
        pthread_cond_init(&g->cv, NULL);
    }
    snprintf(g->addr, sizeof g->addr, "127.0.0.1:%d", port);
    vn_h2_server_opts_t o = {
        .address = g->addr,
        .handler = {.open = g_open, .message = g_message, .finish = g_finish, .close = g_close, .ctx = g},
    };
    assert_int_equal(vn_h2_server_start(&o, &g->srv, err, sizeof err), VN_OK);
    g->port = vn_h2_server_port(g->srv);
    snprintf(g->addr, sizeof g->addr, "127.0.0.1:%d", g->port);
}

static void global_stop(global_t *g)
{
    vn_h2_server_stop(g->srv);
    g->srv = NULL;
}

static void global_destroy(global_t *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

static void set_paused(global_t *g, bool p)
{
    pthread_mutex_lock(&g->mu);
    g->paused = p;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static size_t global_got(global_t *g)
{
    pthread_mutex_lock(&g->mu);
    size_t n = g->got;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* ---------------------------------------------------------------- recording hooks */

typedef struct hooks {
    _Atomic int ups, downs;
    _Atomic size_t rerouted_frames;
} hooks_t;

static void h_up(void *ctx, vn_dest_t *d)
{
    (void)d;
    atomic_fetch_add(&((hooks_t *)ctx)->ups, 1);
}

static void h_down(void *ctx, vn_dest_t *d)
{
    (void)d;
    atomic_fetch_add(&((hooks_t *)ctx)->downs, 1);
}

/* Takes every frame (counts them, checking the framing is whole), places them all. */
static size_t h_reroute(void *ctx, const uint8_t *frames, size_t len)
{
    size_t pos = 0, n = 0;
    while (pos + VN_GRPC_PREFIX <= len) {
        size_t m = ((size_t)frames[pos + 1] << 24) | ((size_t)frames[pos + 2] << 16) |
                   ((size_t)frames[pos + 3] << 8) | frames[pos + 4];
        assert_int_equal(frames[pos], 0);
        pos += VN_GRPC_PREFIX + m;
        n++;
    }
    assert_int_equal(pos, len); /* whole frames only */
    atomic_fetch_add(&((hooks_t *)ctx)->rerouted_frames, n);
    return 0;
}

static vn_dest_t *dest_start(const char *addr, hooks_t *h, size_t max_msgs, size_t max_bytes)
{
    vn_dest_opts_t o = {.dial_timeout_s = 1,
                        .backoff_min_s = 0.05,
                        .backoff_max_s = 0.2,
                        .max_msgs = max_msgs,
                        .max_bytes = max_bytes};
    vn_dest_hooks_t hk = {.ctx = h, .up = h_up, .down = h_down, .reroute = h_reroute};
    return vn_dest_start(addr, &o, &hk);
}

static bool wait_atomic_u64(_Atomic uint64_t *v, uint64_t want)
{
    double end = mono() + DEADLINE_S;
    while (atomic_load(v) < want && mono() < end)
        nap_ms(2);
    return atomic_load(v) >= want;
}

static bool wait_got(global_t *g, size_t want)
{
    double end = mono() + DEADLINE_S;
    while (global_got(g) < want && mono() < end)
        nap_ms(2);
    return global_got(g) >= want;
}

/* Pushes until `want` messages were accepted; returns the count of pushes refused as DOWN. */
static size_t push_accepted(vn_dest_t *d, size_t want, size_t len)
{
    uint8_t msg[2048];
    memset(msg, 'm', len);
    size_t ok = 0, down = 0;
    double end = mono() + DEADLINE_S;
    while (ok < want && mono() < end) {
        vn_dest_push_t r = vn_dest_push(d, msg, len);
        if (r == VN_DEST_QUEUED)
            ok++;
        else if (r == VN_DEST_DOWN) {
            down++;
            nap_ms(1);
        } else {
            nap_ms(1); /* full: the thread is sending */
        }
    }
    assert_int_equal(ok, want);
    return down;
}

/* ---------------------------------------------------------------- cases */

/* A global that stops reading: the destination's queue fills to its bound (messages or bytes),
 * further pushes are refused at once (never block) and counted; when the global reads again
 * everything accepted arrives, and a drain on stop sends each exactly once. */
static void queue_bounded(size_t max_msgs, size_t max_bytes)
{
    static global_t g;
    memset(&g, 0, sizeof g);
    global_start(&g, 0);
    hooks_t h = {0};
    const size_t len = 1000;
    vn_dest_t *d = dest_start(g.addr, &h, max_msgs, max_bytes);
    assert_true(wait_atomic_u64(&d->up, 1));
    assert_int_equal(atomic_load(&h.ups), 1);
    set_paused(&g, true);
    uint8_t msg[1000];
    memset(msg, 'x', sizeof msg);
    size_t queued = 0, full = 0;
    double end = mono() + DEADLINE_S;
    /* kernel buffers and HTTP/2 windows may absorb some first; then the queue itself fills */
    for (size_t i = 0; i < 200000 && full < 100 && mono() < end; i++) {
        double t0 = mono();
        vn_dest_push_t r = vn_dest_push(d, msg, len);
        assert_true(mono() - t0 < 1.0); /* never waits on the peer */
        if (r == VN_DEST_QUEUED)
            queued++;
        else {
            assert_int_equal(r, VN_DEST_FULL);
            full++;
        }
        pthread_mutex_lock(&d->mu);
        assert_true(d->qcount <= max_msgs);
        assert_true(d->qlen <= max_bytes);
        pthread_mutex_unlock(&d->mu);
        if (r == VN_DEST_QUEUED && i % 64 == 63)
            nap_ms(1); /* let the thread move batches into the stream */
    }
    print_message("max_msgs %zu max_bytes %zu: accepted %zu before 100 refusals\n", max_msgs, max_bytes, queued);
    assert_int_equal(full, 100);
    /* a message that can never fit is refused too */
    uint8_t *huge = calloc(1, max_bytes);
    assert_int_equal(vn_dest_push(d, huge, max_bytes), VN_DEST_FULL);
    free(huge);
    assert_int_equal(atomic_load(&d->dropped_full), full + 1);
    set_paused(&g, false);
    assert_true(wait_got(&g, queued));
    vn_dest_signal_stop(d, VN_DEST_STOP_DRAIN, mono() + DEADLINE_S);
    vn_dest_join(d);
    assert_int_equal(global_got(&g), queued);
    assert_int_equal(atomic_load(&d->sent), queued);
    assert_int_equal(atomic_load(&d->dropped_down), 0);
    assert_int_equal(atomic_load(&h.rerouted_frames), 0);
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.bytes, queued * len);
    pthread_mutex_unlock(&g.mu);
    vn_dest_unref(d);
    global_stop(&g);
    global_destroy(&g);
}

static void test_dest__queue_bounded_by_messages(void **state)
{
    (void)state;
    queue_bounded(16, 64 * 1024);
}

static void test_dest__queue_bounded_by_bytes(void **state)
{
    (void)state;
    queue_bounded(100000, 4096); /* four 1000-byte messages with their 5-byte prefixes */
}

/* No global yet: pushes are refused as DOWN, dials fail and back off (doubling from min, capped at
 * max); the global appears: up; it goes away: down, the queue is rerouted; it comes back on the
 * same port: up again. */
static void test_dest__reconnect_and_backoff(void **state)
{
    (void)state;
    static global_t g;
    memset(&g, 0, sizeof g);
    global_start(&g, 0); /* only to find a free port */
    int port = g.port;
    char addr[64];
    snprintf(addr, sizeof addr, "%s", g.addr);
    global_stop(&g);

    hooks_t h = {0};
    double t0 = mono();
    vn_dest_t *d = dest_start(addr, &h, 100000, 64 << 20);
    assert_true(wait_atomic_u64(&d->connect_failures, 4));
    double elapsed = mono() - t0;
    uint8_t m[8] = {0};
    assert_int_equal(vn_dest_push(d, m, sizeof m), VN_DEST_DOWN);
    assert_int_equal(atomic_load(&d->up), 0);
    assert_int_equal(atomic_load(&h.ups), 0);
    /* backoff: after n failures the thread has waited at least 0.05 + 0.1 + 0.2 + 0.2 ... for the
     * first n - 1; load only makes that longer, so the count can never run ahead of it */
    uint64_t fails = atomic_load(&d->connect_failures);
    double waited = 0, b = 0.05;
    uint64_t bound = 1;
    while (waited + b <= elapsed + 0.01) {
        waited += b;
        bound++;
        b = b * 2 > 0.2 ? 0.2 : b * 2;
    }
    assert_true(fails <= bound + 1); /* +1: the counter may tick between the wait and the read */

    /* the global appears on that port: the destination comes up within the capped backoff */
    global_start(&g, port);
    assert_true(wait_atomic_u64(&d->up, 1));
    assert_int_equal(atomic_load(&d->connects), 1);
    assert_int_equal(atomic_load(&h.ups), 1);
    push_accepted(d, 50, 100);
    assert_true(wait_got(&g, 50));

    /* it goes away: down hook, up = 0, disconnect counted, pushes refused */
    global_stop(&g);
    assert_true(wait_atomic_u64(&d->disconnects, 1));
    double end = mono() + DEADLINE_S;
    while (atomic_load(&h.downs) < 1 && mono() < end)
        nap_ms(2);
    assert_true(atomic_load(&h.downs) >= 1);
    assert_int_equal(atomic_load(&d->up), 0);
    /* the down hook runs before the queue is taken: a push may still be accepted in between */
    uint64_t late = 0;
    end = mono() + DEADLINE_S;
    vn_dest_push_t pr;
    while ((pr = vn_dest_push(d, m, sizeof m)) != VN_DEST_DOWN && mono() < end) {
        late += pr == VN_DEST_QUEUED;
        nap_ms(2);
    }
    assert_int_equal(pr, VN_DEST_DOWN);

    /* back on the same port: reconnected */
    global_start(&g, port);
    assert_true(wait_atomic_u64(&d->connects, 2));
    assert_true(wait_atomic_u64(&d->up, 1));
    assert_int_equal(atomic_load(&h.ups), 2);
    size_t before = global_got(&g);
    push_accepted(d, 20, 100);
    assert_true(wait_got(&g, before + 20));

    vn_dest_signal_stop(d, VN_DEST_STOP_REROUTE, 0);
    vn_dest_join(d);
    /* every accepted message ended once: the 70 pushed while up were sent, or handed back */
    uint64_t pushed_ok = 70 + late, sent = atomic_load(&d->sent), dropped = atomic_load(&d->dropped_down);
    uint64_t rerouted = atomic_load(&d->rerouted_out);
    assert_int_equal(sent + dropped + rerouted, pushed_ok);
    assert_int_equal(rerouted, atomic_load(&h.rerouted_frames));
    assert_int_equal(atomic_load(&d->dropped_full), 0);
    vn_dest_unref(d);
    global_stop(&g);
    global_destroy(&g);
}

/* Stop with REROUTE while the global is not reading: what is still queued goes to the reroute hook in
 * whole frames; nothing is lost or counted twice. */
static void test_dest__stop_reroutes_queue(void **state)
{
    (void)state;
    static global_t g;
    memset(&g, 0, sizeof g);
    global_start(&g, 0);
    hooks_t h = {0};
    vn_dest_t *d = dest_start(g.addr, &h, 64, 1 << 20);
    assert_true(wait_atomic_u64(&d->up, 1));
    set_paused(&g, true);
    uint8_t msg[1000];
    memset(msg, 'r', sizeof msg);
    size_t queued = 0;
    double end = mono() + DEADLINE_S;
    /* fill until the queue itself holds its bound (the stream is backed up) */
    while (mono() < end) {
        vn_dest_push_t r = vn_dest_push(d, msg, sizeof msg);
        if (r == VN_DEST_QUEUED)
            queued++;
        else
            break;
        if (queued % 64 == 0)
            nap_ms(1);
    }
    assert_true(atomic_load(&d->dropped_full) == 1);
    print_message("accepted %zu until the queue was full\n", queued);
    vn_dest_signal_stop(d, VN_DEST_STOP_REROUTE, 0);
    /* the thread leaves without waiting for the global: it may still be mid-write, so let it read */
    set_paused(&g, false);
    vn_dest_join(d);
    assert_true(atomic_load(&h.downs) >= 1);
    uint64_t sent = atomic_load(&d->sent), dropped = atomic_load(&d->dropped_down);
    uint64_t rerouted = atomic_load(&d->rerouted_out);
    assert_int_equal(sent + dropped + rerouted, queued);
    assert_true(rerouted >= 1); /* at least the queue that was full */
    assert_int_equal(rerouted, atomic_load(&h.rerouted_frames));
    assert_true(dropped <= 1); /* at most the one message cut mid-frame */
    print_message("sent %llu rerouted %llu dropped %llu\n", (unsigned long long)sent, (unsigned long long)rerouted,
                  (unsigned long long)dropped);
    vn_dest_unref(d);
    global_stop(&g);
    global_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dest__queue_bounded_by_messages),
        cmocka_unit_test(test_dest__queue_bounded_by_bytes),
        cmocka_unit_test(test_dest__reconnect_and_backoff),
        cmocka_unit_test(test_dest__stop_reroutes_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
