/* test_self.c - proxy/self: the per-process id and "is this destination our own listener?". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "proxy/self.h"

static void test_self__id(void **state)
{
    (void)state;
    vn_self_t a, b;
    vn_self_init(&a);
    vn_self_init(&b);
    assert_int_equal(strlen(a.id), VN_PROXY_ID_LEN);
    assert_int_equal(strspn(a.id, "0123456789abcdef"), VN_PROXY_ID_LEN);
    assert_string_not_equal(a.id, b.id);
    assert_false(vn_self_is_addr(&a, "127.0.0.1:1")); /* no listener yet */
}

static void test_self__bound_address(void **state)
{
    (void)state;
    vn_self_t s;
    vn_self_init(&s);
    vn_self_set_listen(&s, "127.0.0.1", 5555);
    assert_true(vn_self_is_addr(&s, "127.0.0.1:5555"));
    assert_true(vn_self_is_addr(&s, "localhost:5555")); /* /etc/hosts: 127.0.0.1 */
    assert_false(vn_self_is_addr(&s, "127.0.0.1:5556"));
    assert_false(vn_self_is_addr(&s, "127.0.0.2:5555")); /* bound to one address: another is not us */
    assert_false(vn_self_is_addr(&s, "192.0.2.1:5555"));
    assert_false(vn_self_is_addr(&s, "not an address"));
    assert_false(vn_self_is_addr(&s, "no-such-host.invalid:5555"));
}

static void test_self__wildcard(void **state)
{
    (void)state;
    vn_self_t s;
    vn_self_init(&s);
    vn_self_set_listen(&s, "0.0.0.0", 7000);
    assert_true(vn_self_is_addr(&s, "127.0.0.1:7000"));
    assert_true(vn_self_is_addr(&s, "127.3.2.1:7000")); /* all of 127/8 is us */
    assert_false(vn_self_is_addr(&s, "192.0.2.1:7000")); /* TEST-NET: not a local interface */
    assert_false(vn_self_is_addr(&s, "127.0.0.1:7001"));
    vn_self_set_listen(&s, "", 7002);
    assert_true(vn_self_is_addr(&s, "127.0.0.1:7002"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self__id),
        cmocka_unit_test(test_self__bound_address),
        cmocka_unit_test(test_self__wildcard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
