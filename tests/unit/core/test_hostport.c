/* test_hostport.c - core/hostport and core/clock: the one splitter/joiner and the one clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/clock.h"
#include "core/hostport.h"

static void test_hostport__split_forms(void **state)
{
    (void)state;
    char h[64], p[16];
    assert_int_equal(vn_hostport_split("example.com:8128", false, h, sizeof h, p, sizeof p), VN_OK);
    assert_string_equal(h, "example.com");
    assert_string_equal(p, "8128");
    assert_int_equal(vn_hostport_split("[::1]:53", false, h, sizeof h, p, sizeof p), VN_OK);
    assert_string_equal(h, "::1");
    assert_string_equal(p, "53");
    /* unbracketed v6: the last colon separates the port */
    assert_int_equal(vn_hostport_split("fe80::1:99", false, h, sizeof h, p, sizeof p), VN_OK);
    assert_string_equal(h, "fe80::1");
    assert_string_equal(p, "99");
    assert_int_equal(vn_hostport_split("svc:grpc", false, h, sizeof h, p, sizeof p), VN_OK);
    assert_string_equal(p, "grpc");
}

static void test_hostport__split_rejects(void **state)
{
    (void)state;
    char h[8], p[6];
    assert_int_equal(vn_hostport_split("nocolon", false, h, sizeof h, p, sizeof p), VN_ERR_CONFIG);
    assert_int_equal(vn_hostport_split("host:", false, h, sizeof h, p, sizeof p), VN_ERR_CONFIG);
    assert_int_equal(vn_hostport_split("[::1:53", false, h, sizeof h, p, sizeof p), VN_ERR_CONFIG);
    assert_int_equal(vn_hostport_split("[::1]53", false, h, sizeof h, p, sizeof p), VN_ERR_CONFIG);
    assert_int_equal(vn_hostport_split(":8125", false, h, sizeof h, p, sizeof p), VN_ERR_CONFIG);
    assert_int_equal(vn_hostport_split("12345678:1", false, h, sizeof h, p, sizeof p), VN_ERR_CONFIG);
    assert_int_equal(vn_hostport_split("h:123456", false, h, sizeof h, p, sizeof p), VN_ERR_CONFIG);
    /* listen addresses: an empty host means any */
    assert_int_equal(vn_hostport_split(":8125", true, h, sizeof h, p, sizeof p), VN_OK);
    assert_string_equal(h, "");
    assert_string_equal(p, "8125");
    assert_int_equal(vn_hostport_split("[]:1", true, h, sizeof h, p, sizeof p), VN_OK);
}

static void test_hostport__port_num(void **state)
{
    (void)state;
    assert_int_equal(vn_hostport_port_num("0"), 0);
    assert_int_equal(vn_hostport_port_num("65535"), 65535);
    assert_int_equal(vn_hostport_port_num("65536"), -2);
    assert_int_equal(vn_hostport_port_num("99999999999999999999999"), -2);
    assert_int_equal(vn_hostport_port_num(""), -1);
    assert_int_equal(vn_hostport_port_num("8a"), -1);
    assert_int_equal(vn_hostport_port_num("-1"), -1);
}

static void test_hostport__join(void **state)
{
    (void)state;
    char b[32];
    vn_hostport_join("10.0.0.1", 8128, b, sizeof b);
    assert_string_equal(b, "10.0.0.1:8128");
    vn_hostport_join("fe80::1", 1, b, sizeof b);
    assert_string_equal(b, "[fe80::1]:1");
    char tiny[6];
    vn_hostport_join("host", 8128, tiny, sizeof tiny);
    assert_string_equal(tiny, "host:");
}

static void test_clock__monotonic_and_deadlines(void **state)
{
    (void)state;
    double a = vn_clock_mono_s();
    uint64_t ms = vn_clock_mono_ms();
    int64_t ns = vn_clock_mono_ns();
    double b = vn_clock_mono_s();
    assert_true(b >= a);
    /* one epoch: ms and ns agree with seconds */
    assert_true((double)ms / 1e3 >= a - 0.001 && (double)ms / 1e3 <= b + 0.001);
    assert_true((double)ns / 1e9 >= a - 1e-6 && (double)ns / 1e9 <= b + 1e-6);
    assert_true(vn_clock_mono_coarse_s() <= vn_clock_mono_s() + 0.001);
    assert_true(vn_clock_mono_coarse_s() > a - 0.1);
    assert_true(vn_clock_real_s() > 1.5e9);
    assert_int_equal(vn_clock_ms_until(a - 1), 0);
    int w = vn_clock_ms_until(vn_clock_mono_s() + 0.5);
    assert_true(w >= 1 && w <= 501);
    assert_int_equal(vn_clock_ms_until(vn_clock_mono_s() + 1e6), 3600000);
}

/* Go's net.Listen rules, with its messages (the HTTP listener reports them as is). */
static void test_hostport__split_go_strict(void **state)
{
    (void)state;
    char h[64], p[16], e[128];
    assert_int_equal(vn_hostport_split_go("127.0.0.1:8127", h, sizeof h, p, sizeof p, e, sizeof e), VN_OK);
    assert_string_equal(h, "127.0.0.1");
    assert_string_equal(p, "8127");
    assert_int_equal(vn_hostport_split_go(":", h, sizeof h, p, sizeof p, e, sizeof e), VN_OK);
    assert_string_equal(h, "");
    assert_string_equal(p, "0"); /* empty port: any, as net.Listen */
    assert_int_equal(vn_hostport_split_go("[::1]:80", h, sizeof h, p, sizeof p, e, sizeof e), VN_OK);
    assert_string_equal(h, "::1");
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"::1:80", "too many colons in address"}, {"localhost", "missing port in address"},
        {"[::1]", "missing port in address"},     {"[::1", "missing ']' in address"},
        {"[::1]x:80", "unexpected ']' in address"}, {"a[b:80", "unexpected '[' or ']' in address"},
        {"h:65536", "invalid port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vn_hostport_split_go(bad[i].in, h, sizeof h, p, sizeof p, e, sizeof e), VN_ERR_CONFIG);
        assert_non_null(strstr(e, bad[i].why));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostport__split_forms),
        cmocka_unit_test(test_hostport__split_rejects),
        cmocka_unit_test(test_hostport__port_num),
        cmocka_unit_test(test_hostport__join),
        cmocka_unit_test(test_hostport__split_go_strict),
        cmocka_unit_test(test_clock__monotonic_and_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
