/*
 * test_json_read.c - proxy/json_read: the strict JSON reader used for
 * discovery responses. Accept and reject tables (RFC 8259 edge cases,
 * UTF-8 and surrogate rules, limits), tree walking, lookups, integers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_read.h"

static vn_err_t parse(const char *s, vn_jread_doc_t *d)
{
    char err[128];
    return vn_jread_parse(s, strlen(s), 1000, d, err, sizeof err);
}

static void test_json_read__accepts(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "0", "-0", "1.5e10", "-12.5E-3", "1E+2", "true", "false", "null", "\"\"", "[]", "{}", " \t\r\n[ 1 , 2 ]\n",
        "{\"a\":{\"b\":[{},[],\"x\"]}}", "\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "\"\x7f\"", "{\"a\":1,\"a\":2}", "123456789012345678901234567890",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        vn_jread_doc_t d;
        vn_err_t e = parse(ok[i], &d);
        if (e != VN_OK)
            fail_msg("rejected %s", ok[i]);
        vn_jread_free(&d);
    }
}

static void test_json_read__rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "[1,]", "{\"a\":1,}", "[1 2]", "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity",
        "tru", "nul", "True", "'a'", "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
        "\"\x80\"", "\"\xff\"", "{a:1}", "{\"a\" 1}", "{\"a\":}", "[", "]", "{}}", "[] []", "{\"a\":1} x",
        "/* c */ 1", "[1,,2]", "{,}", "\"\\", "-01", "1.e5", "[-]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vn_jread_doc_t d;
        char err[128] = "";
        vn_err_t e = vn_jread_parse(bad[i], strlen(bad[i]), 1000, &d, err, sizeof err);
        if (e == VN_OK)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(strncmp(err, "json: ", 6), 0);
        assert_null(d.nodes);
        assert_int_equal(d.n, 0);
    }
    /* embedded NUL outside a string */
    vn_jread_doc_t d;
    assert_int_equal(vn_jread_parse("[1]\0", 4, 10, &d, NULL, 0), VN_ERR_PARSE);
}

static void test_json_read__limits(void **state)
{
    (void)state;
    vn_jread_doc_t d;
    char deep[2 * (VN_JREAD_MAX_DEPTH + 2) + 1];
    size_t n = 0;
    for (int i = 0; i < VN_JREAD_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < VN_JREAD_MAX_DEPTH + 1; i++)
        deep[n++] = ']';
    assert_int_equal(vn_jread_parse(deep, n, 1000, &d, NULL, 0), VN_ERR_TOO_LARGE);
    /* exactly the max depth is fine */
    assert_int_equal(vn_jread_parse(deep + 1, n - 2, 1000, &d, NULL, 0), VN_OK);
    vn_jread_free(&d);
    const char *arr = "[1,2,3,4]";
    assert_int_equal(vn_jread_parse(arr, strlen(arr), 4, &d, NULL, 0), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_jread_parse(arr, strlen(arr), 5, &d, NULL, 0), VN_OK);
    vn_jread_free(&d);
}

static void test_json_read__walk_and_get(void **state)
{
    (void)state;
    const char *s = "[{\"Node\":{\"Address\":\"10.1.10.12\"},\"Service\":{\"Port\":8000,\"Tags\":null}},"
                    "{\"Node\":{\"Address\":\"10.1.10.13\"},\"Service\":{\"Port\":8001},\"Service\":{\"Port\":9}}]";
    vn_jread_doc_t d;
    assert_int_equal(parse(s, &d), VN_OK);
    const vn_jread_node_t *root = vn_jread_root(&d);
    assert_int_equal(root->type, VN_JREAD_ARRAY);
    assert_int_equal(root->count, 2);
    const char *want_addr[] = {"10.1.10.12", "10.1.10.13"};
    int64_t want_port[] = {8000, 9}; /* the last duplicate key wins */
    size_t i = 0;
    for (const vn_jread_node_t *e = vn_jread_child(&d, root, NULL); e; e = vn_jread_child(&d, root, e), i++) {
        size_t len;
        const char *a = vn_jread_str(&d, vn_jread_get(&d, vn_jread_get(&d, e, "Node"), "Address"), &len);
        assert_string_equal(a, want_addr[i]);
        assert_int_equal(len, strlen(want_addr[i]));
        int64_t port;
        assert_true(vn_jread_int(&d, vn_jread_get(&d, vn_jread_get(&d, e, "Service"), "Port"), &port));
        assert_int_equal(port, want_port[i]);
        assert_null(vn_jread_get(&d, e, "Missing"));
        assert_null(vn_jread_get(&d, vn_jread_get(&d, e, "Node"), "Address.x"));
    }
    assert_int_equal(i, 2);
    const vn_jread_node_t *svc = vn_jread_get(&d, vn_jread_child(&d, root, NULL), "Service");
    const vn_jread_node_t *tags = vn_jread_get(&d, svc, "Tags");
    assert_int_equal(tags->type, VN_JREAD_NULL);
    assert_string_equal(vn_jread_key(&d, tags), "Tags");
    assert_null(vn_jread_key(&d, root));
    assert_null(vn_jread_child(&d, tags, NULL));
    assert_null(vn_jread_str(&d, tags, NULL));
    assert_null(vn_jread_get(&d, root, "Node")); /* not an object */
    vn_jread_free(&d);
    vn_jread_free(&d);
}

static void test_json_read__strings_and_numbers(void **state)
{
    (void)state;
    vn_jread_doc_t d;
    assert_int_equal(parse("[\"a\\u0000b\", \"\\ud83d\\ude00\", 1.5, -9223372036854775808, 9223372036854775808, "
                           "1e2, 12, -0, 1e400]",
                           &d),
                     VN_OK);
    const vn_jread_node_t *r = vn_jread_root(&d), *c = vn_jread_child(&d, r, NULL);
    size_t len;
    const char *s = vn_jread_str(&d, c, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3);
    c = vn_jread_child(&d, r, c);
    assert_string_equal(vn_jread_str(&d, c, &len), "\xf0\x9f\x98\x80");
    c = vn_jread_child(&d, r, c);
    int64_t v;
    assert_true(c->num == 1.5);
    assert_false(vn_jread_int(&d, c, &v));
    c = vn_jread_child(&d, r, c);
    assert_true(vn_jread_int(&d, c, &v));
    assert_true(v == INT64_MIN);
    c = vn_jread_child(&d, r, c);
    assert_false(vn_jread_int(&d, c, &v)); /* 2^63 overflows */
    c = vn_jread_child(&d, r, c);
    assert_false(vn_jread_int(&d, c, &v)); /* 1e2 is not written as an integer */
    assert_true(c->num == 100);
    c = vn_jread_child(&d, r, c);
    assert_true(vn_jread_int(&d, c, &v));
    assert_int_equal(v, 12);
    c = vn_jread_child(&d, r, c);
    assert_true(vn_jread_int(&d, c, &v));
    assert_int_equal(v, 0);
    c = vn_jread_child(&d, r, c);
    assert_true(isinf(c->num));
    assert_null(vn_jread_child(&d, r, c));
    vn_jread_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_read__accepts),
        cmocka_unit_test(test_json_read__rejects),
        cmocka_unit_test(test_json_read__limits),
        cmocka_unit_test(test_json_read__walk_and_get),
        cmocka_unit_test(test_json_read__strings_and_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
