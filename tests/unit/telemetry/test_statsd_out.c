/* test_statsd_out.c - telemetry/statsd_out: line format, bounded datagrams, counted drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "telemetry/statsd_out.h"

/* A bound UDP socket on 127.0.0.1; returns fd, port in *port. */
static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t l = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &l);
    *port = ntohs(sa.sin_port);
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static vn_statsd_out_t *open_to(int port, const char *const *tags, size_t ntags, size_t max_lines)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    vn_statsd_out_opts_t o = {.address = addr, .ns = "veneur.", .tags = tags, .ntags = ntags, .max_lines = max_lines};
    vn_statsd_out_t *s = NULL;
    char err[128];
    assert_int_equal(vn_statsd_out_open(&o, &s, err, sizeof err), VN_OK);
    return s;
}

/* A sample rate goes between the type and the tags; rate 1 adds nothing. */
static void test_statsd_out__sample_rate(void **state)
{
    (void)state;
    int port, fd = listener(&port);
    vn_statsd_out_t *s = open_to(port, NULL, 0, 0);
    vn_statsd_out_add_rate(s, "t", 2.5, "ms", 0.25, "p:q");
    vn_statsd_out_add_rate(s, "u", 1, "ms", 1.0, NULL);
    vn_statsd_out_flush(s);
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "veneur.t:2.5|ms|@0.25|#p:q\nveneur.u:1|ms");
    vn_statsd_out_free(s);
    close(fd);
}

static void test_statsd_out__format(void **state)
{
    (void)state;
    int port, fd = listener(&port);
    const char *extra[] = {"env:test"};
    vn_statsd_out_t *s = open_to(port, extra, 1, 0);
    vn_statsd_out_add(s, "a.b", 3, "c", "x:y");
    vn_statsd_out_add(s, "g", 1.5, "g", NULL);
    vn_statsd_out_flush(s);
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "veneur.a.b:3|c|#x:y,env:test\nveneur.g:1.5|g|#env:test");
    vn_statsd_out_counts_t c = vn_statsd_out_counts(s);
    assert_int_equal(c.lines, 2);
    assert_int_equal(c.dgrams_sent, 1);
    vn_statsd_out_free(s);
    close(fd);
}

static void test_statsd_out__bounded(void **state)
{
    (void)state;
    int port, fd = listener(&port);
    vn_statsd_out_t *s = open_to(port, NULL, 0, 0);
    for (int i = 0; i < 200; i++)
        vn_statsd_out_add(s, "some.fairly.long.metric.name.for.packing", i, "c", "tag:value");
    char huge[2000];
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    vn_statsd_out_add(s, huge, 1, "c", NULL); /* longer than a datagram: dropped, counted */
    vn_statsd_out_flush(s);
    char buf[4096];
    size_t lines = 0, dgrams = 0;
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        assert_true(n <= VN_STATSD_OUT_MAX_DGRAM);
        dgrams++;
        lines++;
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    }
    assert_int_equal(lines, 200);
    vn_statsd_out_counts_t c = vn_statsd_out_counts(s);
    assert_int_equal(c.dgrams_sent, dgrams);
    assert_int_equal(c.lines_dropped, 1);
    vn_statsd_out_free(s);
    close(fd);
}

static void test_statsd_out__max_lines_and_drops(void **state)
{
    (void)state;
    int port, fd = listener(&port);
    vn_statsd_out_t *s = open_to(port, NULL, 0, 2);
    for (int i = 0; i < 5; i++)
        vn_statsd_out_add(s, "m", i, "c", NULL);
    vn_statsd_out_flush(s);
    assert_int_equal(vn_statsd_out_counts(s).dgrams_sent, 3); /* 2 + 2 + 1 */
    close(fd); /* nobody listens any more: ICMP port unreachable makes a later send fail */
    for (int k = 0; k < 4; k++) {
        vn_statsd_out_add(s, "m", 1, "c", NULL);
        vn_statsd_out_flush(s);
        usleep(10000);
    }
    vn_statsd_out_counts_t c = vn_statsd_out_counts(s);
    assert_true(c.dgrams_dropped >= 1);
    assert_int_equal(c.dgrams_sent + c.dgrams_dropped, 7);
    vn_statsd_out_free(s);
}

static void test_statsd_out__bad_address(void **state)
{
    (void)state;
    vn_statsd_out_opts_t o = {.address = "no-port-here"};
    vn_statsd_out_t *s = NULL;
    char err[128] = "";
    assert_int_equal(vn_statsd_out_open(&o, &s, err, sizeof err), VN_ERR_CONFIG);
    assert_null(s);
    assert_true(err[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statsd_out__format),
        cmocka_unit_test(test_statsd_out__sample_rate),
        cmocka_unit_test(test_statsd_out__bounded),
        cmocka_unit_test(test_statsd_out__max_lines_and_drops),
        cmocka_unit_test(test_statsd_out__bad_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
