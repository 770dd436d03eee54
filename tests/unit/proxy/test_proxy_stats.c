/* test_proxy_stats.c - proxy/proxy_stats: the gRPC server's limit counters (kept by
 * h2_server in a vn_stats_t) are rendered, each under its own family and value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/stats.h"
#include "proxy/proxy_stats.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_stats__grpc_counters_rendered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
