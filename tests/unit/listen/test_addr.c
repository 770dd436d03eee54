/* test_addr.c - listen/addr: parsing limits and binds that cannot be stolen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen/addr.h"

static vn_addr_t parse_ok(const char *url)
{
    vn_addr_t a;
    char err[256];
    assert_int_equal(vn_addr_parse(url, &a, err, sizeof err), VN_OK);
    return a;
}

static void test_addr__port_range(void **state)
{
    (void)state;
    vn_addr_t a;
    char err[256];
    assert_string_equal(parse_ok("udp://127.0.0.1:65535").port, "65535");
    assert_string_equal(parse_ok("tcp://:0").port, "0");
    assert_int_equal(vn_addr_parse("udp://127.0.0.1:65537", &a, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "65537"));
    assert_non_null(strstr(err, "0 to 65535"));
    assert_int_equal(vn_addr_parse("tcp://:99999999999999", &a, err, sizeof err), VN_ERR_CONFIG);
    assert_int_equal(vn_addr_parse("udp://:", &a, err, sizeof err), VN_ERR_CONFIG);
}

static int raw_udp_bind(int port, int opt)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    if (opt)
        setsockopt(fd, SOL_SOCKET, opt, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = bind(fd, (struct sockaddr *)&sin, sizeof sin);
    close(fd);
    return rc;
}

static void test_addr__udp_is_exclusive(void **state)
{
    (void)state;
    char err[256];
    vn_addr_t a = parse_ok("udp://127.0.0.1:0");
    int fd = vn_addr_bind(&a, false, 0, err, sizeof err);
    assert_true(fd >= 0);
    int port = vn_addr_bound_port(fd);
    /* neither a plain bind nor SO_REUSEADDR nor SO_REUSEPORT may share it */
    assert_int_not_equal(raw_udp_bind(port, 0), 0);
    assert_int_not_equal(raw_udp_bind(port, SO_REUSEADDR), 0);
    assert_int_not_equal(raw_udp_bind(port, SO_REUSEPORT), 0);
    vn_addr_t b = a;
    snprintf(b.port, sizeof b.port, "%d", port);
    assert_int_equal(vn_addr_bind(&b, false, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "already in use"));
    close(fd);
}

static void test_addr__group_shares_one_port_and_refuses_a_second_group(void **state)
{
    (void)state;
    char err[256];
    vn_addr_t a = parse_ok("udp://127.0.0.1:0");
    int fds[3];
    assert_int_equal(vn_addr_bind_group(&a, 3, 0, fds, err, sizeof err), 0);
    int port = vn_addr_bound_port(fds[0]);
    assert_true(port > 0);
    assert_int_equal(vn_addr_bound_port(fds[1]), port);
    assert_int_equal(vn_addr_bound_port(fds[2]), port);
    vn_addr_t b = a;
    snprintf(b.port, sizeof b.port, "%d", port);
    int other[3] = {-1, -1, -1};
    assert_int_equal(vn_addr_bind_group(&b, 3, 0, other, err, sizeof err), -1); /* the probe fails */
    assert_non_null(strstr(err, "already in use"));
    assert_int_equal(vn_addr_bind_group(&b, 1, 0, other, err, sizeof err), -1);
    assert_int_not_equal(raw_udp_bind(port, SO_REUSEADDR), 0);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

static void test_addr__tcp_second_listener_refused(void **state)
{
    (void)state;
    char err[256];
    vn_addr_t a = parse_ok("tcp://127.0.0.1:0");
    int fd = vn_addr_bind(&a, false, 0, err, sizeof err);
    assert_true(fd >= 0);
    snprintf(a.port, sizeof a.port, "%d", vn_addr_bound_port(fd));
    assert_int_equal(vn_addr_bind(&a, false, 0, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    close(fd);
}

static void unix_cases(const char *scheme, int type)
{
    char dir[] = "/tmp/vn_addr_XXXXXX", url[160], path[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.sock", dir);
    snprintf(url, sizeof url, "%s://%s", scheme, path);
    vn_addr_t a = parse_ok(url);
    int fd = vn_addr_bind(&a, false, 0, err, sizeof err);
    assert_true(fd >= 0);
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    /* live listener: refused, and the file is the same one afterwards */
    assert_int_equal(vn_addr_bind(&a, false, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "live listener"));
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st1.st_ino == st2.st_ino);
    /* stale (nobody listens): replaced */
    close(fd);
    fd = vn_addr_bind(&a, false, 0, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    /* a regular file is never removed */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(vn_addr_bind(&a, false, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a socket"));
    assert_int_equal(stat(path, &st2), 0);
    assert_true(S_ISREG(st2.st_mode));
    unlink(path);
    rmdir(dir);
    (void)type;
}

static void test_addr__unix_stream_path_not_stolen(void **state)
{
    (void)state;
    unix_cases("unix", SOCK_STREAM);
}

static void test_addr__unixgram_path_not_stolen(void **state)
{
    (void)state;
    unix_cases("unixgram", SOCK_DGRAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr__port_range),
        cmocka_unit_test(test_addr__udp_is_exclusive),
        cmocka_unit_test(test_addr__group_shares_one_port_and_refuses_a_second_group),
        cmocka_unit_test(test_addr__tcp_second_listener_refused),
        cmocka_unit_test(test_addr__unix_stream_path_not_stolen),
        cmocka_unit_test(test_addr__unixgram_path_not_stolen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
