/*
 * test_router.c - proxy/router, proxy/dest, proxy/h2_stream over real
 * loopback sockets, with forward/h2_server instances as fake globals that
 * record what reaches them: routing by the ring, one long-lived stream per
 * destination, removal on failure and re-dial after it, discovery changes,
 * a stalled destination that must not block routing (counted drops), and
 * the drain at shutdown.
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
#include <unistd.h>

#include "core/clock.h"
#include "forward/h2_server.h"
#include "forward/metricpb_codec.h"
#include "proxy/ring.h"
#include "proxy/router.h"

#define NKEYS 300

typedef struct fake {
    vn_h2_server_t *srv;
    char addr[64];
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool paused;
    size_t got[NKEYS]; /* messages per key index */
    size_t total, calls_open, calls_closed;
} fake_t;

static void *f_open(void *ctx, const char *path, vn_grpc_status_t *st, const char **msg)
{
    fake_t *f = ctx;
    if (strcmp(path, "/forwardrpc.Forward/SendMetricsV2") != 0) {
        *st = VN_GRPC_UNIMPLEMENTED;
        *msg = "no";
        return NULL;
    }
    pthread_mutex_lock(&f->mu);
    f->calls_open++;
    pthread_mutex_unlock(&f->mu);
    return f;
}

static vn_grpc_status_t f_message(void *call, const uint8_t *data, size_t len, const char **msg)
{
    fake_t *f = call;
    vn_pb_metric_t m;
    if (vn_pb_metric_decode(data, len, &m) != VN_OK) {
        *msg = "bad";
        return VN_GRPC_INVALID_ARGUMENT;
    }
    int k = atoi(m.name.p + 2); /* "k.<i>" */
    pthread_mutex_lock(&f->mu);
    while (f->paused)
        pthread_cond_wait(&f->cv, &f->mu);
    if (k >= 0 && k < NKEYS)
        f->got[k]++;
    f->total++;
    pthread_mutex_unlock(&f->mu);
    return VN_GRPC_OK;
}

static vn_grpc_status_t f_finish(void *call, const char **msg)
{
    (void)call;
    (void)msg;
    return VN_GRPC_OK;
}

static void f_close(void *call, vn_grpc_status_t final)
{
    (void)final;
    fake_t *f = call;
    pthread_mutex_lock(&f->mu);
    f->calls_closed++;
    pthread_mutex_unlock(&f->mu);
}

static void fake_start(fake_t *f, int port)
{
    char err[256];
    if (!f->addr[0]) {
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->cv, NULL);
    }
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", port);
    vn_h2_server_opts_t o = {
        .address = f->addr,
        .handler = {.open = f_open, .message = f_message, .finish = f_finish, .close = f_close, .ctx = f},
    };
    assert_int_equal(vn_h2_server_start(&o, &f->srv, err, sizeof err), VN_OK);
    f->port = vn_h2_server_port(f->srv);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", f->port);
}

static void fake_stop(fake_t *f)
{
    vn_h2_server_stop(f->srv);
    f->srv = NULL;
}

static void fake_reset(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    memset(f->got, 0, sizeof f->got);
    f->total = 0;
    pthread_mutex_unlock(&f->mu);
}

static size_t fake_total(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->total;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* A metricpb.Metric: name "k.<i>", type Histogram, no value (the fakes only read the name). */
static size_t metric_bytes(int i, uint8_t *out)
{
    char name[16];
    int n = snprintf(name, sizeof name, "k.%d", i);
    size_t o = 0;
    out[o++] = 0x0a;
    out[o++] = (uint8_t)n;
    memcpy(out + o, name, (size_t)n);
    o += (size_t)n;
    out[o++] = 0x18; /* type = Histogram */
    out[o++] = 2;
    return o;
}

static bool wait_until(bool (*cond)(void *), void *arg, double timeout)
{
    double end = vn_clock_mono_s() + timeout;
    while (vn_clock_mono_s() < end) {
        if (cond(arg))
            return true;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return cond(arg);
}

typedef struct want_healthy {
    vn_router_t *r;
    size_t n;
} want_healthy_t;

static bool healthy_is(void *a)
{
    want_healthy_t *w = a;
    return vn_router_healthy(w->r) == w->n;
}

typedef struct totals {
    fake_t *f;
    size_t nf, want;
} totals_t;

static bool totals_reach(void *a)
{
    totals_t *t = a;
    size_t s = 0;
    for (size_t i = 0; i < t->nf; i++)
        s += fake_total(&t->f[i]);
    return s >= t->want;
}

static void route_all(vn_router_t *r, vn_proxy_stats_t *st)
{
    vn_route_ctx_t c;
    vn_route_ctx_init(&c, r);
    for (int i = 0; i < NKEYS; i++) {
        uint8_t m[32];
        size_t n = metric_bytes(i, m);
        if (vn_route_metric(&c, m, n) == VN_ROUTE_OK)
            vn_stats_add(&st->handle_ok, 1);
    }
    vn_route_ctx_release(&c);
}

/* Every key at the owner a ring of these members names, and nowhere else. */
static void check_owners(fake_t *f, size_t nf, const size_t *members, size_t nm)
{
    const char *addrs[3];
    for (size_t i = 0; i < nm; i++)
        addrs[i] = f[members[i]].addr;
    vn_ring_t *ring = vn_ring_new(addrs, NULL, nm);
    for (int k = 0; k < NKEYS; k++) {
        char key[32];
        int n = snprintf(key, sizeof key, "k.%dhistogram", k);
        const char *owner = vn_ring_member_addr(ring, (size_t)vn_ring_owner(ring, vn_ring_hash(key, (size_t)n)));
        for (size_t j = 0; j < nf; j++) {
            size_t want = strcmp(f[j].addr, owner) == 0 ? 1 : 0;
            if (f[j].got[k] != want)
                fail_msg("key %d: %zu at %s, owner %s", k, f[j].got[k], f[j].addr, owner);
        }
    }
    vn_ring_free(ring);
}

static vn_router_t *new_router(vn_proxy_stats_t *st, size_t max_msgs)
{
    memset(st, 0, sizeof *st);
    vn_router_opts_t o = {.dial_timeout_s = 1,
                          .queue_max_msgs = max_msgs,
                          .backoff_min_s = 0.02,
                          .backoff_max_s = 0.1,
                          .ping_interval_s = 0.2,
                          .ping_timeout_s = 1,
                          .stats = st};
    return vn_router_new(&o);
}

static void test_router__ring_failure_redial(void **state)
{
    (void)state;
    static fake_t f[3];
    memset(f, 0, sizeof f);
    for (int i = 0; i < 3; i++)
        fake_start(&f[i], 0);
    vn_proxy_stats_t st;
    vn_router_t *r = new_router(&st, 100000);
    const char *addrs[3] = {f[0].addr, f[1].addr, f[2].addr};
    vn_router_add_static(r, addrs, 3);
    want_healthy_t wh = {r, 3};
    assert_true(wait_until(healthy_is, &wh, 5));
    assert_int_equal(vn_router_size(r), 3);

    route_all(r, &st);
    totals_t t = {f, 3, NKEYS};
    assert_true(wait_until(totals_reach, &t, 5));
    size_t all3[] = {0, 1, 2};
    check_owners(f, 3, all3, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f[i].calls_open, 1); /* one long-lived stream each */

    /* a destination goes away: out of the ring at once, its keys to the survivors */
    int port1 = f[1].port;
    fake_stop(&f[1]);
    wh.n = 2;
    assert_true(wait_until(healthy_is, &wh, 5));
    for (int i = 0; i < 3; i++)
        fake_reset(&f[i]);
    route_all(r, &st);
    assert_true(wait_until(totals_reach, &t, 5));
    size_t surv[] = {0, 2};
    check_owners(f, 3, surv, 2);

    /* it comes back on the same port: re-dialled (backoff), back in the ring, keys move back */
    fake_start(&f[1], port1);
    wh.n = 3;
    assert_true(wait_until(healthy_is, &wh, 5));
    for (int i = 0; i < 3; i++)
        fake_reset(&f[i]);
    route_all(r, &st);
    assert_true(wait_until(totals_reach, &t, 5));
    check_owners(f, 3, all3, 3);

    /* render names every destination */
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    vn_router_render(r, &b);
    for (int i = 0; i < 3; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "veneur_proxy_destination_up{destination=\"%s\"} 1", f[i].addr);
        assert_non_null(strstr(vn_buf_ptr(&b), needle));
    }
    assert_non_null(strstr(vn_buf_ptr(&b), "veneur_proxy_destinations_healthy 3"));
    vn_buf_free(&b);

    vn_router_stop(r, vn_clock_mono_s() + 2);
    vn_router_free(r);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f[i].calls_closed, f[i].calls_open); /* streams ended */
        fake_stop(&f[i]);
    }
}

static void test_router__discovery_changes(void **state)
{
    (void)state;
    static fake_t f[3];
    memset(f, 0, sizeof f);
    for (int i = 0; i < 3; i++)
        fake_start(&f[i], 0);
    vn_proxy_stats_t st;
    vn_router_t *r = new_router(&st, 100000);
    const char *st0[] = {f[0].addr};
    vn_router_add_static(r, st0, 1);
    const char *d12[] = {f[1].addr, f[2].addr};
    vn_router_set_discovered(r, d12, 2);
    want_healthy_t wh = {r, 3};
    assert_true(wait_until(healthy_is, &wh, 5));
    /* f[2] leaves discovery: removed (Go keeps it); f[0] is static and also listed then dropped: kept */
    const char *d01[] = {f[0].addr, f[1].addr};
    vn_router_set_discovered(r, d01, 2);
    assert_int_equal(vn_router_size(r), 2);
    wh.n = 2;
    assert_true(wait_until(healthy_is, &wh, 5));
    vn_router_set_discovered(r, NULL, 0);
    assert_int_equal(vn_router_size(r), 1);
    wh.n = 1;
    assert_true(wait_until(healthy_is, &wh, 5));
    route_all(r, &st);
    totals_t t = {f, 1, NKEYS};
    assert_true(wait_until(totals_reach, &t, 5));
    assert_int_equal(fake_total(&f[1]) + fake_total(&f[2]), 0);
    vn_router_stop(r, vn_clock_mono_s() + 2);
    vn_router_free(r);
    for (int i = 0; i < 3; i++)
        fake_stop(&f[i]);
}

/* A destination that stops reading: its queue fills and routing drops, it never blocks. */
static void test_router__slow_destination_never_blocks(void **state)
{
    (void)state;
    static fake_t f[1];
    memset(f, 0, sizeof f);
    fake_start(&f[0], 0);
    vn_proxy_stats_t st;
    vn_router_t *r = new_router(&st, 1000);
    const char *a[] = {f[0].addr};
    vn_router_add_static(r, a, 1);
    want_healthy_t wh = {r, 1};
    assert_true(wait_until(healthy_is, &wh, 5));
    pthread_mutex_lock(&f[0].mu);
    f[0].paused = true;
    pthread_mutex_unlock(&f[0].mu);
    vn_route_ctx_t c;
    vn_route_ctx_init(&c, r);
    uint8_t m[64];
    size_t n = metric_bytes(1, m);
    size_t ok = 0, dropped = 0, no_dest = 0;
    double t0 = vn_clock_mono_s();
    for (int i = 0; i < 200000; i++) { /* more than the queue, the h2 window and the socket buffers hold */
        vn_route_result_t res = vn_route_metric(&c, m, n);
        ok += res == VN_ROUTE_OK;
        dropped += res == VN_ROUTE_DROPPED;
        no_dest += res == VN_ROUTE_NO_DEST;
    }
    double took = vn_clock_mono_s() - t0;
    vn_route_ctx_release(&c);
    assert_true(took < 5);              /* no waiting on the stalled peer */
    assert_true(dropped + no_dest > 0); /* the overflow was refused, not queued */
    /* Every metric is accounted for. On a slow (sanitizer, loaded) run the stalled peer may be
     * declared failed mid-loop, which empties this one-member ring: those count as no_dest. */
    assert_int_equal(ok + dropped + no_dest, 200000);
    pthread_mutex_lock(&f[0].mu);
    f[0].paused = false;
    pthread_cond_broadcast(&f[0].cv);
    pthread_mutex_unlock(&f[0].mu);
    /* what was queued is delivered by the drain at shutdown (stop returns as soon as it is done) */
    vn_router_stop(r, vn_clock_mono_s() + 30);
    if (no_dest == 0)
        assert_int_equal(fake_total(&f[0]), ok);
    else
        assert_true(fake_total(&f[0]) <= ok);
    vn_router_free(r);
    fake_stop(&f[0]);
}

static void set_paused(fake_t *f, bool paused)
{
    pthread_mutex_lock(&f->mu);
    f->paused = paused;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* A peer that stops reading (here: its only thread is stuck) leaves the ring: by the stall
 * timeout when output is pending, by the PING timeout when the stream is idle. Once it reads
 * again it is re-dialled. */
static void hung_peer(double ping_interval, double ping_timeout, double stall_timeout, int nmetrics)
{
    static fake_t f[1];
    memset(f, 0, sizeof f);
    fake_start(&f[0], 0);
    vn_proxy_stats_t st;
    memset(&st, 0, sizeof st);
    vn_router_opts_t o = {.dial_timeout_s = 0.5,
                          .queue_max_msgs = 1000000,
                          .backoff_min_s = 0.05,
                          .backoff_max_s = 0.1,
                          .ping_interval_s = ping_interval,
                          .ping_timeout_s = ping_timeout,
                          .stall_timeout_s = stall_timeout,
                          .stats = &st};
    vn_router_t *r = vn_router_new(&o);
    const char *a[] = {f[0].addr};
    vn_router_add_static(r, a, 1);
    want_healthy_t wh = {r, 1};
    assert_true(wait_until(healthy_is, &wh, 5));
    set_paused(&f[0], true);
    vn_route_ctx_t c;
    vn_route_ctx_init(&c, r);
    uint8_t m[64];
    size_t n = metric_bytes(7, m);
    for (int i = 0; i < nmetrics; i++)
        vn_route_metric(&c, m, n);
    vn_route_ctx_release(&c);
    wh.n = 0;
    double t0 = vn_clock_mono_s();
    assert_true(wait_until(healthy_is, &wh, 10));
    double took = vn_clock_mono_s() - t0;
    double bound = stall_timeout < ping_interval + ping_timeout ? stall_timeout : ping_interval + ping_timeout;
    assert_true(took < bound + 2);
    set_paused(&f[0], false);
    wh.n = 1;
    assert_true(wait_until(healthy_is, &wh, 10));
    vn_router_stop(r, vn_clock_mono_s() + 1);
    vn_router_free(r);
    fake_stop(&f[0]);
}

static void test_router__stalled_peer_leaves_ring(void **state)
{
    (void)state;
    /* 100 000 metrics (~1.2 MB) exceed the server's 1 MiB stream window: output stalls */
    hung_peer(300, 300, 0.5, 100000);
}

static void test_router__unanswered_ping_leaves_ring(void **state)
{
    (void)state;
    hung_peer(0.2, 0.3, 300, 1);
}

/* A server that closes connections idle for 0.5 s: the empty DATA heartbeat keeps the stream up. */
static void test_router__heartbeat_keeps_idle_stream(void **state)
{
    (void)state;
    static fake_t f[1];
    memset(f, 0, sizeof f);
    pthread_mutex_init(&f[0].mu, NULL);
    pthread_cond_init(&f[0].cv, NULL);
    char err[256];
    vn_h2_server_opts_t so = {
        .address = "127.0.0.1:0",
        .handler = {.open = f_open, .message = f_message, .finish = f_finish, .close = f_close, .ctx = &f[0]},
        .idle_timeout_s = 0.5,
    };
    assert_int_equal(vn_h2_server_start(&so, &f[0].srv, err, sizeof err), VN_OK);
    snprintf(f[0].addr, sizeof f[0].addr, "127.0.0.1:%d", vn_h2_server_port(f[0].srv));
    vn_proxy_stats_t st;
    memset(&st, 0, sizeof st);
    vn_router_opts_t o = {.dial_timeout_s = 1, .queue_max_msgs = 100, .heartbeat_s = 0.1, .stats = &st};
    vn_router_t *r = vn_router_new(&o);
    const char *a[] = {f[0].addr};
    vn_router_add_static(r, a, 1);
    want_healthy_t wh = {r, 1};
    assert_true(wait_until(healthy_is, &wh, 5));
    /* idle for 4 idle timeouts (the server sweeps once a second) */
    wh.n = 0;
    assert_false(wait_until(healthy_is, &wh, 2.5));
    pthread_mutex_lock(&f[0].mu);
    size_t opened = f[0].calls_open, closed = f[0].calls_closed;
    pthread_mutex_unlock(&f[0].mu);
    assert_int_equal(opened, 1);
    assert_int_equal(closed, 0);
    assert_int_equal(f[0].total, 0); /* the heartbeats carried no message */
    vn_router_stop(r, vn_clock_mono_s() + 1);
    vn_router_free(r);
    fake_stop(&f[0]);
}

static void test_router__empty_ring_and_invalid(void **state)
{
    (void)state;
    vn_proxy_stats_t st;
    vn_router_t *r = new_router(&st, 10);
    vn_route_ctx_t c;
    vn_route_ctx_init(&c, r);
    uint8_t m[32];
    size_t n = metric_bytes(3, m);
    assert_int_equal(vn_route_metric(&c, m, n), VN_ROUTE_NO_DEST);
    const uint8_t junk[] = {0x0a, 0x10, 'x'};
    assert_int_equal(vn_route_metric(&c, junk, sizeof junk), VN_ROUTE_INVALID);
    uint32_t h;
    assert_true(vn_route_key_hash(r, m, n, &h));
    assert_int_equal(h, vn_ring_hash("k.3histogram", 12));
    vn_route_ctx_release(&c);
    /* a static destination nobody listens on: dialled, never healthy */
    const char *dead[] = {"127.0.0.1:1"};
    vn_router_add_static(r, dead, 1);
    assert_int_equal(vn_router_size(r), 1);
    assert_int_equal(vn_router_healthy(r), 0);
    vn_router_stop(r, vn_clock_mono_s());
    vn_router_free(r);
    vn_router_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router__ring_failure_redial),
        cmocka_unit_test(test_router__discovery_changes),
        cmocka_unit_test(test_router__slow_destination_never_blocks),
        cmocka_unit_test(test_router__stalled_peer_leaves_ring),
        cmocka_unit_test(test_router__unanswered_ping_leaves_ring),
        cmocka_unit_test(test_router__heartbeat_keeps_idle_stream),
        cmocka_unit_test(test_router__empty_ring_and_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
