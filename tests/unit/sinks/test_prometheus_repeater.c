/*
 * test_prometheus_repeater.c - sinks/prometheus_repeater: Go %v float
 * formatting, the DogStatsD line of each metric type, config errors, and
 * whole flushes over real UDP and TCP sockets on 127.0.0.1 (batches of 200,
 * every line once, delivery counters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/stats.h"
#include "sinks/prometheus_repeater.h"

static void test_promrep__format_value(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},           {1, "1"},           {1.5, "1.5"},          {100, "100"},
        {123456, "123456"}, {999999, "999999"}, {1e6, "1e+06"},        {1234567, "1.234567e+06"},
        {0.0001, "0.0001"}, {0.00001, "1e-05"}, {1.5e-7, "1.5e-07"},   {-2.5, "-2.5"},
        {1e21, "1e+21"},    {1e100, "1e+100"},  {123456.789, "123456.789"}, {0.1 + 0.2, "0.30000000000000004"},
        {-0.0, "-0"},       {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {12345.5, "12345.5"},
    };
    char out[VN_PROMREP_VALUE_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = vn_promrep__format_value(cases[i].v, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    vn_promrep__format_value(NAN, out);
    assert_string_equal(out, "NaN");
    vn_promrep__format_value(-INFINITY, out);
    assert_string_equal(out, "-Inf");
    vn_promrep__format_value(INFINITY, out);
    assert_string_equal(out, "+Inf");
}

static void test_promrep__lines(void **state)
{
    (void)state;
    const char *tags[] = {"a:b", "skip:me", "c"};
    const char *excl[] = {"skip"};
    vn_sink_t s = {.name = "p", .excluded_tags = excl, .n_excluded_tags = 1};
    vn_inter_metric_t c = {.name = "x.count", .value = 7, .tags = tags, .ntags = 3, .type = VN_IM_COUNTER};
    vn_inter_metric_t g = {.name = "x.gauge", .value = 2e6, .type = VN_IM_GAUGE};
    vn_inter_metric_t st = {.name = "x.check", .value = 2, .tags = tags, .ntags = 1, .type = VN_IM_STATUS};
    vn_buf_t b = VN_BUF_INIT(1024);
    assert_int_equal(vn_promrep__line(&b, &s, &c), VN_OK);
    assert_int_equal(vn_promrep__line(&b, &s, &g), VN_OK);
    assert_int_equal(vn_promrep__line(&b, NULL, &st), VN_OK);
    assert_string_equal(vn_buf_ptr(&b), "x.count:7|c|#a:b,c\nx.gauge:2e+06|g|#\nx.check:2|g|#a:b\n");
    vn_buf_free(&b);
}

static vn_sink_t *make(const char *net, const char *addr, char *err, size_t errcap, vn_err_t *rc)
{
    vn_kv_t kv[] = {{.key = "network_type", .value = (char *)net}, {.key = "repeater_address", .value = (char *)addr}};
    vn_sink_config_t sc = {.kind = "prometheus", .name = "prom", .kv = kv, .n_kv = 2};
    vn_sink_t *s = NULL;
    *rc = vn_sink_new(&sc, NULL, &s, err, errcap);
    return s;
}

static void test_promrep__config(void **state)
{
    (void)state;
    static const struct {
        const char *net, *addr, *want;
    } bad[] = {
        {"ip4", "localhost:9125", "network_type"}, {"", "localhost:9125", "network_type"},
        {"udp", "hi", "repeater_address"},          {"udp", "http://127.0.0.1:9125", "repeater_address"},
        {"tcp", "localhost:0", "repeater_address"}, {"tcp", "localhost:70000", "repeater_address"},
        {"tcp", "[::1]9125", "repeater_address"},
    };
    char err[256];
    vn_err_t rc;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(make(bad[i].net, bad[i].addr, err, sizeof err, &rc));
        assert_int_equal(rc, VN_ERR_CONFIG);
        assert_non_null(strstr(err, bad[i].want));
    }
    const char *good[] = {"localhost:9125", "127.0.0.1:9125", "[::1]:9125"};
    for (size_t i = 0; i < 3; i++) {
        vn_sink_t *s = make("udp", good[i], err, sizeof err, &rc);
        assert_int_equal(rc, VN_OK);
        vn_sink_free(s);
    }
}

static int bind_local(int type, int *port)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static size_t count_lines(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k;
}

static void flush_n(vn_sink_t *s, size_t n)
{
    vn_inter_metric_t *m = calloc(n, sizeof *m);
    char (*names)[24] = calloc(n, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "m.%zu", i);
        m[i] = (vn_inter_metric_t){.name = names[i], .value = (double)i, .type = VN_IM_COUNTER};
    }
    vn_flush_info_t info = {.timestamp = 1, .interval_s = 10, .hostname = "h", .deadline_s = 1e12};
    assert_int_equal(s->ops->flush(s, m, n, &info), VN_OK);
    free(m);
    free(names);
}

static void test_promrep__udp_flush(void **state)
{
    (void)state;
    int port;
    int fd = bind_local(SOCK_DGRAM, &port);
    char addr[32], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    vn_err_t rc;
    vn_sink_t *s = make("udp", addr, err, sizeof err, &rc);
    assert_int_equal(rc, VN_OK);
    vn_stats_sink_t st = {0};
    s->stats = &st;
    flush_n(s, 450);
    size_t dgrams = 0, lines = 0;
    char buf[65536];
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (poll(&pf, 1, 500) == 1) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        assert_true(r > 0);
        dgrams++;
        lines += count_lines(buf, (size_t)r);
    }
    assert_int_equal(dgrams, 3); /* 200 + 200 + 50 */
    assert_int_equal(lines, 450);
    assert_int_equal(vn_stats_get(&st.delivered), 450);
    vn_sink_free(s);
    close(fd);
}

static void test_promrep__tcp_flush(void **state)
{
    (void)state;
    int port;
    int lfd = bind_local(SOCK_STREAM, &port);
    char addr[32], err[256];
    snprintf(addr, sizeof addr, "localhost:%d", port);
    vn_err_t rc;
    vn_sink_t *s = make("tcp", addr, err, sizeof err, &rc);
    assert_int_equal(rc, VN_OK);
    vn_stats_sink_t st = {0};
    s->stats = &st;
    flush_n(s, 250); /* the backlog holds the connection; the data fits the socket buffers */
    int c = accept(lfd, NULL, NULL);
    assert_true(c >= 0);
    size_t lines = 0;
    char buf[65536];
    ssize_t r;
    while ((r = recv(c, buf, sizeof buf, 0)) > 0)
        lines += count_lines(buf, (size_t)r);
    assert_int_equal(lines, 250);
    assert_int_equal(vn_stats_get(&st.delivered), 250);
    close(c);
    close(lfd);
    /* nobody listening any more: counted, not blocking */
    vn_inter_metric_t m = {.name = "x", .value = 1, .type = VN_IM_GAUGE};
    vn_flush_info_t info = {.timestamp = 1, .interval_s = 10, .hostname = "h", .deadline_s = 1e12};
    s->ops->flush(s, &m, 1, &info);
    assert_int_equal(vn_stats_get(&st.transport_errors), 1);
    assert_int_equal(vn_stats_get(&st.delivery_failed), 1);
    vn_sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promrep__format_value), cmocka_unit_test(test_promrep__lines),
        cmocka_unit_test(test_promrep__config),       cmocka_unit_test(test_promrep__udp_flush),
        cmocka_unit_test(test_promrep__tcp_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
