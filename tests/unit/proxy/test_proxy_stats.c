/* test_proxy_stats.c - proxy/proxy_stats: the gRPC server's limit counters (kept by
 * h2_server in a vn_stats_t) are rendered, each under its own family and value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/stats.h"
#include "proxy/proxy_stats.h"
#include "telemetry/statsd_out.h"

static void test_proxy_stats__grpc_counters_rendered(void **state)
{
    (void)state;
    vn_stats_t st;
    vn_stats_init(&st);
    vn_stats_add(&st.grpc_accept_paused, 1);
    vn_stats_add(&st.grpc_connections_refused, 2);
    vn_stats_add(&st.grpc_connections_evicted, 3);
    vn_stats_add(&st.grpc_handshake_timeouts, 4);
    vn_stats_add(&st.grpc_reassembly_refused, 5);
    vn_stats_add(&st.grpc_body_timeouts, 6);
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    vn_proxy_stats_render_grpc(&st, &b);
    const char *want[] = {"veneur_proxy_grpc_accept_paused_total 1\n",
                          "veneur_proxy_grpc_connections_refused_total 2\n",
                          "veneur_proxy_grpc_connections_evicted_total 3\n",
                          "veneur_proxy_grpc_handshake_timeouts_total 4\n",
                          "veneur_proxy_grpc_reassembly_refused_total 5\n",
                          "veneur_proxy_grpc_body_timeouts_total 6\n"};
    const char *text = vn_buf_ptr(&b);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(text, want[i]))
            fail_msg("missing %s in:\n%s", want[i], text);
        char type[160];
        size_t nl = strcspn(want[i], " ");
        snprintf(type, sizeof type, "# TYPE %.*s counter\n", (int)nl, want[i]);
        assert_non_null(strstr(text, type));
    }
    vn_buf_free(&b);
}

/* Receives everything sent so far into buf (NUL-joined datagrams become one text). */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t at = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + at, cap - at - 1, MSG_DONTWAIT);
        if (n <= 0)
            break;
        at += (size_t)n;
        buf[at++] = '\n';
    }
    buf[at] = '\0';
    return at;
}

/* Go's per-destination counters are emitted as deltas under Go's names and tags, and the
 * discovery lines only from vn_proxy_stats_emit_discovery. */
static void test_proxy_stats__emit_forward_counters(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t l = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &l);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    vn_statsd_out_opts_t o = {.address = addr};
    vn_statsd_out_t *out = NULL;
    char err[128];
    assert_int_equal(vn_statsd_out_open(&o, &out, err, sizeof err), VN_OK);

    static vn_proxy_stats_t st; /* static: zeroed */
    vn_proxy_stats_prev_t prev = {0};
    vn_stats_add(&st.fwd_connect[VN_PSTAT_CONN_SUCCESS], 2);
    vn_stats_add(&st.fwd_connect[VN_PSTAT_CONN_FAILED_DIAL], 5);
    vn_stats_add(&st.fwd_metrics[VN_PSTAT_FWD_OK], 7);
    vn_stats_add(&st.fwd_metrics[VN_PSTAT_FWD_DROPPED], 3);
    vn_stats_add(&st.fwd_disconnect[1], 1);
    vn_stats_add(&st.grpc_client_conn_begin, 2);
    vn_stats_add(&st.req_latency_us[VN_PSTAT_STREAM], 3000);
    vn_stats_add(&st.req_latency_n[VN_PSTAT_STREAM], 2);
    vn_proxy_stats_emit(&st, &prev, out);
    vn_statsd_out_flush(out);
    char buf[16384];
    drain(fd, buf, sizeof buf);
    const char *want[] = {"veneur_proxy.forward.connect:2|c|#status:success\n",
                          "veneur_proxy.forward.connect:5|c|#status:failed_dial\n",
                          "veneur_proxy.forward.connect:0|c|#status:failed_connect\n",
                          "veneur_proxy.forward.metrics_count:7|c|#error:false\n",
                          "veneur_proxy.forward.metrics_count:0|c|#error:eof\n",
                          "veneur_proxy.forward.metrics_count:3|c|#error:dropped\n",
                          "veneur_proxy.forward.disconnect:0|c|#error:false\n",
                          "veneur_proxy.forward.disconnect:1|c|#error:true\n",
                          "veneur_proxy.grpc.conn_begin:2|c|#client:true\n",
                          "veneur_proxy.grpc.conn_end:0|c|#client:true\n",
                          "veneur_proxy.ingest.request_latency_ms:1.5|ms|@0.5|#protocol:grpc-stream\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(buf, want[i]))
            fail_msg("missing %s in:\n%s", want[i], buf);
    assert_null(strstr(buf, "discovery"));
    assert_null(strstr(buf, "request_latency_ms:0")); /* grpc-single had no call: no line */

    /* the next interval carries only what happened since */
    vn_stats_add(&st.fwd_metrics[VN_PSTAT_FWD_OK], 4);
    vn_stats_add(&st.discovery_success, 1);
    vn_proxy_stats_emit(&st, &prev, out);
    vn_proxy_stats_emit_discovery(&st, &prev, out);
    vn_statsd_out_flush(out);
    drain(fd, buf, sizeof buf);
    const char *want2[] = {"veneur_proxy.forward.metrics_count:4|c|#error:false\n",
                           "veneur_proxy.forward.metrics_count:0|c|#error:dropped\n",
                           "veneur_proxy.forward.connect:0|c|#status:success\n",
                           "veneur_proxy.discovery.count:1|c|#status:success\n"};
    for (size_t i = 0; i < sizeof want2 / sizeof want2[0]; i++)
        if (!strstr(buf, want2[i]))
            fail_msg("missing %s in:\n%s", want2[i], buf);
    assert_null(strstr(buf, "request_latency_ms")); /* no call ended this interval */
    vn_statsd_out_free(out);
    close(fd);
}

static void test_proxy_stats__self_metrics_dropped_rendered(void **state)
{
    (void)state;
    static vn_proxy_stats_t st;
    atomic_store(&st.self_metrics_dropped, 9);
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    vn_proxy_stats_render(&st, &b);
    assert_non_null(strstr(vn_buf_ptr(&b), "veneur_proxy_self_metrics_dropped_total 9\n"));
    vn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_stats__grpc_counters_rendered),
        cmocka_unit_test(test_proxy_stats__emit_forward_counters),
        cmocka_unit_test(test_proxy_stats__self_metrics_dropped_rendered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
