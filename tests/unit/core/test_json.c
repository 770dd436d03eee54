/* test_json.c - core/json: double formatting, string escaping, streaming writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

/* Expected strings are Go's: encoding/json for JSON style, strconv.FormatFloat(v, 'f', -1, 64) for FIXED. */
static const struct {
    double v;
    const char *json;
    const char *fixed;
} double_cases[] = {
    {0.1, "0.1", "0.1"},
    {1e21, "1e+21", "1000000000000000000000"},
    {1e-7, "1e-7", "0.0000001"},
    {123456789.125, "123456789.125", "123456789.125"},
    {-0.0, "-0", "-0"},
    {0.0, "0", "0"},
    {1.0, "1", "1"},
    {3.0, "3", "3"},
    {-2.5, "-2.5", "-2.5"},
    {100.0, "100", "100"},
    {1700000000.0, "1700000000", "1700000000"},
    {1e20, "100000000000000000000", "100000000000000000000"},
    {123456789012345678901.0, "123456789012345680000", "123456789012345680000"},
    {1e-6, "0.000001", "0.000001"},
    {9.99e-7, "9.99e-7", "0.000000999"},
    {1.5e-10, "1.5e-10", "0.00000000015"},
    {1e100, "1e+100", NULL},
    {-1e21, "-1e+21", "-1000000000000000000000"},
    {1.0 / 3.0, "0.3333333333333333", "0.3333333333333333"},
    {2.0 / 3.0, "0.6666666666666666", "0.6666666666666666"},
    {0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"},
    {9007199254740992.0, "9007199254740992", "9007199254740992"},
    {1.7976931348623157e308, "1.7976931348623157e+308", NULL},
    {2.2250738585072014e-308, "2.2250738585072014e-308", NULL},
    {5e-324, "5e-324", NULL}, /* subnormal: shortest is 1 digit */
    {1.23e-320, "1.23e-320", NULL},
    {0.3, "0.3", "0.3"},
    {33.333333333333336, "33.333333333333336", "33.333333333333336"},
};

static void test_json__double_shortest(void **state)
{
    (void)state;
    char out[VN_JSON_DOUBLE_MAX];
    for (size_t i = 0; i < sizeof double_cases / sizeof double_cases[0]; i++) {
        size_t n = vn_json_format_double(double_cases[i].v, VN_JSON_DFMT_JSON, out, sizeof out);
        if (strcmp(out, double_cases[i].json) != 0)
            fail_msg("case %zu: got %s want %s", i, out, double_cases[i].json);
        assert_int_equal(n, strlen(out));
        assert_true(strtod(out, NULL) == double_cases[i].v); /* round-trips */
        if (double_cases[i].fixed) {
            vn_json_format_double(double_cases[i].v, VN_JSON_DFMT_FIXED, out, sizeof out);
            if (strcmp(out, double_cases[i].fixed) != 0)
                fail_msg("case %zu fixed: got %s want %s", i, out, double_cases[i].fixed);
        }
    }
}

static void test_json__double_non_finite(void **state)
{
    (void)state;
    char out[VN_JSON_DOUBLE_MAX];
    vn_json_format_double(NAN, VN_JSON_DFMT_JSON, out, sizeof out);
    assert_string_equal(out, "null");
    vn_json_format_double(INFINITY, VN_JSON_DFMT_JSON, out, sizeof out);
    assert_string_equal(out, "null");
    vn_json_format_double(-INFINITY, VN_JSON_DFMT_JSON, out, sizeof out);
    assert_string_equal(out, "null");
    vn_json_format_double(NAN, VN_JSON_DFMT_FIXED, out, sizeof out);
    assert_string_equal(out, "NaN");
    vn_json_format_double(INFINITY, VN_JSON_DFMT_FIXED, out, sizeof out);
    assert_string_equal(out, "+Inf");
    vn_json_format_double(-INFINITY, VN_JSON_DFMT_FIXED, out, sizeof out);
    assert_string_equal(out, "-Inf");
}

static void test_json__double_fixed_extremes(void **state)
{
    (void)state;
    char out[VN_JSON_DOUBLE_MAX];
    /* the longest outputs must fit VN_JSON_DOUBLE_MAX */
    size_t n = vn_json_format_double(-5e-324, VN_JSON_DFMT_FIXED, out, sizeof out);
    assert_int_equal(n, 3 + 323 + 1); /* "-0." + 323 zeros + "5" */
    assert_memory_equal(out, "-0.000", 6);
    assert_int_equal(out[n - 1], '5');
    assert_true(strtod(out, NULL) == -5e-324);
    n = vn_json_format_double(1e300, VN_JSON_DFMT_FIXED, out, sizeof out);
    assert_int_equal(n, 301);
    assert_int_equal(out[0], '1');
    assert_int_equal(strspn(out + 1, "0"), 300);
    n = vn_json_format_double(-1.7976931348623157e308, VN_JSON_DFMT_FIXED, out, sizeof out);
    assert_int_equal(n, 310);
    assert_memory_equal(out, "-17976931348623157000", 21);
    /* too small an output buffer */
    char small[4];
    assert_int_equal(vn_json_format_double(12345.0, VN_JSON_DFMT_JSON, small, sizeof small), 0);
    assert_string_equal(small, "");
    assert_int_equal(vn_json_format_double(123.0, VN_JSON_DFMT_JSON, small, sizeof small), 3);
    assert_string_equal(small, "123");
}

/* Every double we print must read back exactly (random bit patterns). */
static void test_json__double_roundtrip_random(void **state)
{
    (void)state;
    char out[VN_JSON_DOUBLE_MAX];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v))
            continue;
        vn_json_format_double(v, VN_JSON_DFMT_JSON, out, sizeof out);
        assert_true(strtod(out, NULL) == v);
        assert_null(strchr(out, 'E'));
        vn_json_format_double(v, VN_JSON_DFMT_FIXED, out, sizeof out);
        assert_null(strchr(out, 'e'));
        assert_true(strtod(out, NULL) == v);
    }
}

static const struct {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
} string_cases[] = {
    {"plain", 0, "\"plain\""},
    {"", 0, "\"\""},
    {"a\"b", 0, "\"a\\\"b\""},
    {"a\\b", 0, "\"a\\\\b\""},
    {"\n\r\t", 0, "\"\\n\\r\\t\""},
    {"\x01\x1f\x08\x0c", 0, "\"\\u0001\\u001f\\u0008\\u000c\""},
    {"a\0b", 3, "\"a\\u0000b\""},
    {"\x7f", 0, "\"\x7f\""},
    {"<&>/", 0, "\"<&>/\""},
    {"h\xc3\xa9llo", 0, "\"h\xc3\xa9llo\""},                      /* é */
    {"\xe6\x97\xa5\xe6\x9c\xac", 0, "\"\xe6\x97\xa5\xe6\x9c\xac\""}, /* 日本 */
    {"\xf0\x9f\x98\x80", 0, "\"\xf0\x9f\x98\x80\""},                 /* U+1F600 */
    {"\xf4\x8f\xbf\xbf", 0, "\"\xf4\x8f\xbf\xbf\""},                 /* U+10FFFF */
    {"\xe2\x80\xa8x\xe2\x80\xa9", 0, "\"\\u2028x\\u2029\""},
    {"\xff", 0, "\"\\ufffd\""},
    {"a\xc3", 0, "\"a\\ufffd\""},                            /* truncated sequence */
    {"\xc0\xaf", 0, "\"\\ufffd\\ufffd\""},                   /* overlong '/' */
    {"\xe0\x80\xaf", 0, "\"\\ufffd\\ufffd\\ufffd\""},        /* overlong 3-byte */
    {"\xed\xa0\x80", 0, "\"\\ufffd\\ufffd\\ufffd\""},        /* surrogate U+D800 */
    {"\xf4\x90\x80\x80", 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
    {"\xe2\x28\xa1", 0, "\"\\ufffd(\\ufffd\""},
    {"\x80z", 0, "\"\\ufffdz\""}, /* stray continuation byte */
};

static void test_json__string_escaping(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(1024);
    for (size_t i = 0; i < sizeof string_cases / sizeof string_cases[0]; i++) {
        vn_buf_reset(&b);
        size_t len = string_cases[i].len ? string_cases[i].len : strlen(string_cases[i].in);
        assert_int_equal(vn_json_add_string(&b, string_cases[i].in, len), VN_OK);
        if (strcmp(vn_buf_ptr(&b), string_cases[i].want) != 0)
            fail_msg("case %zu: got %s want %s", i, vn_buf_ptr(&b), string_cases[i].want);
    }
    vn_buf_free(&b);
}

static void test_json__writer_document(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(1024);
    vn_json_t j;
    vn_json_init(&j, &b);
    vn_json_object_begin(&j);
    vn_json_key(&j, "name");
    vn_json_string(&j, "a \"quoted\" name");
    vn_json_key(&j, "list");
    vn_json_array_begin(&j);
    vn_json_int(&j, -42);
    vn_json_double(&j, 0.5);
    vn_json_double(&j, NAN);
    vn_json_bool(&j, true);
    vn_json_bool(&j, false);
    vn_json_null(&j);
    vn_json_string_n(&j, "xyz", 2);
    vn_json_array_end(&j);
    vn_json_key(&j, "empty_obj");
    vn_json_object_begin(&j);
    vn_json_object_end(&j);
    vn_json_key(&j, "empty_arr");
    vn_json_array_begin(&j);
    vn_json_array_end(&j);
    vn_json_key(&j, "nested");
    vn_json_array_begin(&j);
    vn_json_object_begin(&j);
    vn_json_key(&j, "k");
    vn_json_int(&j, INT64_MIN);
    vn_json_object_end(&j);
    vn_json_object_begin(&j);
    vn_json_object_end(&j);
    vn_json_array_end(&j);
    vn_json_object_end(&j);
    assert_int_equal(vn_json_finish(&j), VN_OK);
    assert_string_equal(vn_buf_ptr(&b), "{\"name\":\"a \\\"quoted\\\" name\",\"list\":[-42,0.5,null,true,false,null,\"xy\"],"
                                        "\"empty_obj\":{},\"empty_arr\":[],"
                                        "\"nested\":[{\"k\":-9223372036854775808},{}]}");
    vn_buf_free(&b);
}

static void test_json__writer_misuse(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(1024);
    vn_json_t j;

    vn_json_init(&j, &b); /* value where a key is due */
    vn_json_object_begin(&j);
    vn_json_int(&j, 1);
    assert_int_equal(vn_json_error(&j), VN_ERR_PARSE);

    vn_buf_reset(&b); /* key inside an array */
    vn_json_init(&j, &b);
    vn_json_array_begin(&j);
    vn_json_key(&j, "k");
    assert_int_equal(vn_json_error(&j), VN_ERR_PARSE);

    vn_buf_reset(&b); /* two keys in a row */
    vn_json_init(&j, &b);
    vn_json_object_begin(&j);
    vn_json_key(&j, "a");
    vn_json_key(&j, "b");
    assert_int_equal(vn_json_error(&j), VN_ERR_PARSE);

    vn_buf_reset(&b); /* mismatched close */
    vn_json_init(&j, &b);
    vn_json_object_begin(&j);
    vn_json_array_end(&j);
    assert_int_equal(vn_json_error(&j), VN_ERR_PARSE);

    vn_buf_reset(&b); /* unclosed */
    vn_json_init(&j, &b);
    vn_json_array_begin(&j);
    assert_int_equal(vn_json_error(&j), VN_OK);
    assert_int_equal(vn_json_finish(&j), VN_ERR_PARSE);

    vn_buf_reset(&b); /* too deep */
    vn_json_init(&j, &b);
    for (int i = 0; i < VN_JSON_MAX_DEPTH; i++)
        vn_json_array_begin(&j);
    assert_int_equal(vn_json_error(&j), VN_OK);
    vn_json_array_begin(&j);
    assert_int_equal(vn_json_error(&j), VN_ERR_PARSE);
    vn_buf_free(&b);
}

static void test_json__writer_cap_is_sticky(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(12);
    vn_json_t j;
    vn_json_init(&j, &b);
    vn_json_array_begin(&j);
    vn_json_string(&j, "0123456789abc");
    assert_int_equal(vn_json_error(&j), VN_ERR_TOO_LARGE);
    vn_json_int(&j, 1); /* no-op after the error */
    vn_json_array_end(&j);
    assert_int_equal(vn_json_finish(&j), VN_ERR_TOO_LARGE);
    assert_true(vn_buf_len(&b) <= 12);
    vn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__double_shortest),
        cmocka_unit_test(test_json__double_non_finite),
        cmocka_unit_test(test_json__double_fixed_extremes),
        cmocka_unit_test(test_json__double_roundtrip_random),
        cmocka_unit_test(test_json__string_escaping),
        cmocka_unit_test(test_json__writer_document),
        cmocka_unit_test(test_json__writer_misuse),
        cmocka_unit_test(test_json__writer_cap_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
