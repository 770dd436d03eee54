/* test_json.c - core/json: doubles as JSON, string escaping, streaming writer. */
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

/* Doubles: core/gonum.h has the formatting tests; here only the JSON mapping of non-finite values. */
static void test_json__double_non_finite(void **state)
{
    (void)state;
    vn_buf_t b;
    vn_buf_init(&b, 64);
    assert_int_equal(vn_json_add_double(&b, NAN), VN_OK);
    assert_int_equal(vn_json_add_double(&b, INFINITY), VN_OK);
    assert_int_equal(vn_json_add_double(&b, 0x1p-24), VN_OK);
    assert_int_equal(vn_buf_len(&b), strlen("nullnull5.960464477539063e-8"));
    assert_memory_equal(vn_buf_ptr(&b), "nullnull5.960464477539063e-8", vn_buf_len(&b));
    vn_buf_free(&b);
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

static void test_json__string_html(void **state)
{
    (void)state;
    vn_buf_t b;
    vn_buf_init(&b, 256);
    /* Go json.Marshal("<a href=\"x\">&</a>\n") */
    const char *in = "<a href=\"x\">&</a>\n";
    assert_int_equal(vn_json_add_string_html(&b, in, strlen(in)), VN_OK);
    assert_int_equal(vn_buf_len(&b), strlen("\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\\n\""));
    assert_memory_equal(vn_buf_ptr(&b), "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\\n\"", vn_buf_len(&b));
    vn_buf_reset(&b);
    assert_int_equal(vn_json_add_string(&b, "<&>", 3), VN_OK); /* the plain form keeps them */
    assert_memory_equal(vn_buf_ptr(&b), "\"<&>\"", 5);
    vn_buf_free(&b);
}

/* The one-reservation path and the byte-by-byte path near the cap write the
 * same bytes, and vn_json_put_string writes them too (issue 22). */
static void test_json__string_paths_agree(void **state)
{
    (void)state;
    static const unsigned char alpha[] = {'a', 'z', '0', ' ', '"', '\\', '\n', 0x01, 0x7f, '<', '&',
                                          0xC3, 0xA9, 0xE2, 0x80, 0xA8, 0xF0, 0x9F, 0x98, 0x80, 0xFF, 0xED};
    uint32_t r = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char in[40];
        size_t len = (size_t)(iter % 40);
        for (size_t i = 0; i < len; i++) {
            r = r * 1664525u + 1013904223u;
            in[i] = alpha[(r >> 8) % sizeof alpha];
        }
        char direct[VN_JSON_STRING_MAX(40)];
        size_t dn = vn_json_put_string(direct, (const char *)in, len);
        assert_true(dn <= VN_JSON_STRING_MAX(len));
        vn_buf_t roomy, tight;
        vn_buf_init(&roomy, 1024);
        vn_buf_init(&tight, dn); /* exactly the text: the worst-case reservation fails */
        assert_int_equal(vn_json_add_string(&roomy, (const char *)in, len), VN_OK);
        assert_int_equal(vn_json_add_string(&tight, (const char *)in, len), VN_OK);
        assert_int_equal(vn_buf_len(&roomy), dn);
        assert_int_equal(vn_buf_len(&tight), dn);
        assert_memory_equal(vn_buf_ptr(&roomy), direct, dn);
        assert_memory_equal(vn_buf_ptr(&tight), direct, dn);
        vn_buf_free(&roomy);
        vn_buf_free(&tight);
    }
    /* every byte alone, plain and html: the verbatim table against the escaper */
    for (int html = 0; html < 2; html++) {
        for (int c = 0; c < 256; c++) {
            char in[3] = {'a', (char)c, 'z'};
            vn_buf_t roomy, probe, tight;
            vn_buf_init(&roomy, 1024);
            vn_buf_init(&probe, 1024);
            vn_err_t (*add)(vn_buf_t *, const char *, size_t) = html ? vn_json_add_string_html : vn_json_add_string;
            assert_int_equal(add(&roomy, in, 3), VN_OK);
            /* the byte-by-byte path: a cap just below the 6x reservation */
            assert_int_equal(add(&probe, in, 3), VN_OK);
            vn_buf_init(&tight, vn_buf_len(&probe));
            assert_int_equal(add(&tight, in, 3), VN_OK);
            assert_int_equal(vn_buf_len(&tight), vn_buf_len(&roomy));
            assert_memory_equal(vn_buf_ptr(&tight), vn_buf_ptr(&roomy), vn_buf_len(&roomy));
            vn_buf_free(&roomy);
            vn_buf_free(&probe);
            vn_buf_free(&tight);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__double_non_finite),
        cmocka_unit_test(test_json__string_escaping),
        cmocka_unit_test(test_json__string_html),
        cmocka_unit_test(test_json__string_paths_agree),
        cmocka_unit_test(test_json__writer_document),
        cmocka_unit_test(test_json__writer_misuse),
        cmocka_unit_test(test_json__writer_cap_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
