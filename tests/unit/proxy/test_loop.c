/* test_loop.c - proxy loop protection (issue 15): x-veneur-hops and x-veneur-proxy-id against the
 * proxy's own gRPC server, over loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "forward/h2_client.h"
#include "forward/hops.h"
#include "proxy/proxy_server.h"
#include "proxy/router.h"
#include "proxy/self.h"

typedef struct env {
    vn_self_t self;
    vn_proxy_stats_t st;
    vn_router_t *r;
    vn_proxy_server_t *srv;
    char addr[64];
} env_t;

static void env_start(env_t *e)
{
    memset(e, 0, sizeof *e);
    vn_self_init(&e->self); /* no listener set: only the id can tell */
    vn_router_opts_t o = {.dial_timeout_s = 1, .backoff_min_s = 0.02, .backoff_max_s = 0.1, .stats = &e->st,
                          .self = &e->self};
    e->r = vn_router_new(&o);
    char err[256];
    assert_int_equal(vn_proxy_server_start("127.0.0.1:0", e->r, &e->st, NULL, 0, &e->srv, err, sizeof err), VN_OK);
    snprintf(e->addr, sizeof e->addr, "127.0.0.1:%d", vn_proxy_server_port(e->srv));
}

static void env_stop(env_t *e)
{
    vn_proxy_server_stop(e->srv);
    vn_router_free(e->r);
}

/* Opens a stream and pumps up to 2 s: VN_OK if it stays up, else the failure (reason in why). */
static vn_err_t try_stream(const char *addr, unsigned hops, const char *id, char *why, size_t cap)
{
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
    char hv[16];
    snprintf(hv, sizeof hv, "%u", hops);
    if (hops)
        assert_int_equal(vn_h2_client_set_header(c, VN_HOPS_HEADER, hv), VN_OK);
    if (id)
        assert_int_equal(vn_h2_client_set_header(c, VN_PROXY_ID_HEADER, id), VN_OK);
    vn_err_t e = vn_h2_client_stream_open(c, "/forwardrpc.Forward/SendMetricsV2", NULL, vn_clock_mono_s() + 2);
    double end = vn_clock_mono_s() + 0.5;
    while (e == VN_OK && vn_clock_mono_s() < end)
        e = vn_h2_client_stream_pump(c, 50, -1, NULL);
    if (e != VN_OK)
        snprintf(why, cap, "%s", vn_h2_client_error(c));
    vn_h2_client_free(c);
    return e;
}

static void test_loop__hops(void **state)
{
    (void)state;
    env_t e;
    env_start(&e);
    char why[256] = "";
    assert_int_equal(vn_router_hops(e.r), 1);
    assert_int_equal(try_stream(e.addr, 0, NULL, why, sizeof why), VN_OK); /* a local veneur, Go's or ours */
    assert_int_equal(vn_router_hops(e.r), 1);
    assert_int_equal(try_stream(e.addr, 3, NULL, why, sizeof why), VN_OK); /* a chain: forwarded as 4 */
    assert_int_equal(vn_router_hops(e.r), 4);
    assert_int_equal(try_stream(e.addr, 2, NULL, why, sizeof why), VN_OK); /* never goes down */
    assert_int_equal(vn_router_hops(e.r), 4);
    assert_int_not_equal(try_stream(e.addr, VN_HOPS_MAX, NULL, why, sizeof why), VN_OK);
    assert_non_null(strstr(why, "grpc-status 9"));
    assert_int_equal(vn_stats_get(&e.st.loop_hops), 1);
    assert_int_equal(vn_router_hops(e.r), 4);
    env_stop(&e);
}

static void test_loop__own_id(void **state)
{
    (void)state;
    env_t e;
    env_start(&e);
    char why[256] = "";
    vn_self_t other;
    vn_self_init(&other);
    assert_int_equal(try_stream(e.addr, 1, other.id, why, sizeof why), VN_OK); /* another proxy */
    assert_int_not_equal(try_stream(e.addr, 1, e.self.id, why, sizeof why), VN_OK);
    assert_non_null(strstr(why, "grpc-status 9"));
    assert_int_equal(vn_stats_get(&e.st.loop_self_id), 1);

    /* the router dials itself: refused by id, never in the ring */
    const char *addrs[] = {e.addr};
    vn_router_add_static(e.r, addrs, 1);
    double end = vn_clock_mono_s() + 5;
    while (vn_stats_get(&e.st.loop_self_id) < 2 && vn_clock_mono_s() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(vn_stats_get(&e.st.loop_self_id), 2);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL); /* a window for a wrong re-dial or ring join to show */
    assert_int_equal(vn_stats_get(&e.st.loop_self_id), 2);
    assert_int_equal(vn_router_healthy(e.r), 0);
    assert_int_equal(vn_router_size(e.r), 1);
    env_stop(&e);
}

static void test_loop__own_address(void **state)
{
    (void)state;
    env_t e;
    env_start(&e);
    vn_self_set_listen(&e.self, "127.0.0.1", vn_proxy_server_port(e.srv));
    const char *addrs[] = {e.addr};
    vn_router_add_static(e.r, addrs, 1);
    double end = vn_clock_mono_s() + 5;
    while (vn_stats_get(&e.st.loop_self_address) < 1 && vn_clock_mono_s() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(vn_stats_get(&e.st.loop_self_address), 1);
    assert_int_equal(vn_stats_get(&e.st.loop_self_id), 0); /* refused before dialling */
    assert_int_equal(vn_stats_get(&e.st.ingest_requests[VN_PSTAT_STREAM]), 0);
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop__hops),
        cmocka_unit_test(test_loop__own_id),
        cmocka_unit_test(test_loop__own_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
