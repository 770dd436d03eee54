/* test_buf.c - core/buf: capped growable buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/buf.h"

static void test_buf__empty(void **state)
{
    (void)state;
    vn_buf_t b;
    vn_buf_init(&b, 16);
    assert_int_equal(vn_buf_len(&b), 0);
    assert_string_equal(vn_buf_ptr(&b), "");
    assert_int_equal(vn_buf_max(&b), 16);
    assert_int_equal(vn_buf_room(&b), 16);
    vn_buf_free(&b);
    vn_buf_free(NULL);
}

static void test_buf__append_grows(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    char chunk[100];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vn_buf_add(&b, chunk, sizeof chunk), VN_OK);
    assert_int_equal(vn_buf_len(&b), 100000);
    assert_int_equal(strlen(vn_buf_ptr(&b)), 100000); /* NUL-terminated */
    assert_int_equal(vn_buf_add_str(&b, "yz"), VN_OK);
    assert_int_equal(vn_buf_add_byte(&b, '!'), VN_OK);
    assert_memory_equal(vn_buf_ptr(&b) + 100000, "yz!", 4);
    vn_buf_free(&b);
}

static void test_buf__cap_is_exact(void **state)
{
    (void)state;
    vn_buf_t b;
    vn_buf_init(&b, 8);
    assert_int_equal(vn_buf_add(&b, "12345678", 8), VN_OK); /* exactly the cap */
    assert_int_equal(vn_buf_room(&b), 0);
    assert_int_equal(vn_buf_add_byte(&b, 'x'), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_add(&b, "", 0), VN_OK);
    assert_string_equal(vn_buf_ptr(&b), "12345678");
    vn_buf_free(&b);
}

static void test_buf__too_large_leaves_buffer_unchanged(void **state)
{
    (void)state;
    vn_buf_t b;
    vn_buf_init(&b, 10);
    assert_int_equal(vn_buf_add_str(&b, "abcdef"), VN_OK);
    assert_int_equal(vn_buf_add_str(&b, "ghijk"), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_len(&b), 6);
    assert_string_equal(vn_buf_ptr(&b), "abcdef");
    assert_int_equal(vn_buf_add(&b, "x", SIZE_MAX), VN_ERR_TOO_LARGE); /* no overflow */
    assert_int_equal(vn_buf_printf(&b, "%s", "12345"), VN_ERR_TOO_LARGE);
    assert_string_equal(vn_buf_ptr(&b), "abcdef");
    assert_int_equal(vn_buf_printf(&b, "%d", 1234), VN_OK);
    assert_string_equal(vn_buf_ptr(&b), "abcdef1234");
    vn_buf_free(&b);
}

static void test_buf__zero_cap(void **state)
{
    (void)state;
    vn_buf_t b;
    vn_buf_init(&b, 0);
    assert_int_equal(vn_buf_add_byte(&b, 'a'), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_add(&b, "", 0), VN_OK);
    assert_string_equal(vn_buf_ptr(&b), "");
    vn_buf_free(&b);
}

static void test_buf__printf_grows(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(4096);
    assert_int_equal(vn_buf_printf(&b, "n=%d s=%s", 42, "hi"), VN_OK);
    char big[1000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(vn_buf_printf(&b, "[%s]", big), VN_OK); /* larger than the first allocation */
    assert_int_equal(vn_buf_len(&b), strlen("n=42 s=hi") + 1001);
    assert_memory_equal(vn_buf_ptr(&b), "n=42 s=hi[qqq", 13);
    assert_int_equal(vn_buf_ptr(&b)[vn_buf_len(&b) - 1], ']');
    vn_buf_free(&b);
}

static void test_buf__truncate_and_reset(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(100);
    assert_int_equal(vn_buf_add_str(&b, "line1\nline2"), VN_OK);
    vn_buf_truncate(&b, 6);
    assert_string_equal(vn_buf_ptr(&b), "line1\n");
    vn_buf_truncate(&b, 50); /* longer than content: no-op */
    assert_int_equal(vn_buf_len(&b), 6);
    const char *before = vn_buf_ptr(&b);
    vn_buf_reset(&b);
    assert_int_equal(vn_buf_len(&b), 0);
    assert_string_equal(vn_buf_ptr(&b), "");
    assert_int_equal(vn_buf_add_str(&b, "again"), VN_OK);
    assert_ptr_equal(vn_buf_ptr(&b), before); /* memory kept across reset */
    vn_buf_free(&b);
    assert_int_equal(vn_buf_add_str(&b, "after free"), VN_OK); /* still usable */
    assert_string_equal(vn_buf_ptr(&b), "after free");
    vn_buf_free(&b);
}

static void test_buf__reserve_commit(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(32);
    char *tail;
    assert_int_equal(vn_buf_add_str(&b, "ab"), VN_OK);
    assert_int_equal(vn_buf_reserve(&b, 10, &tail), VN_OK);
    memcpy(tail, "cdef", 4);
    vn_buf_commit(&b, 4);
    assert_string_equal(vn_buf_ptr(&b), "abcdef");
    assert_int_equal(vn_buf_reserve(&b, 27, &tail), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_reserve(&b, 26, &tail), VN_OK);
    vn_buf_commit(&b, 0);
    assert_string_equal(vn_buf_ptr(&b), "abcdef");
    vn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__empty),
        cmocka_unit_test(test_buf__append_grows),
        cmocka_unit_test(test_buf__cap_is_exact),
        cmocka_unit_test(test_buf__too_large_leaves_buffer_unchanged),
        cmocka_unit_test(test_buf__zero_cap),
        cmocka_unit_test(test_buf__printf_grows),
        cmocka_unit_test(test_buf__truncate_and_reset),
        cmocka_unit_test(test_buf__reserve_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
