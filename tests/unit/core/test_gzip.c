/* test_gzip.c - core/gzip: both wrappers inflate back to the input; caps and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/gzip.h"

static void inflate_check(const char *z, size_t n, int wbits, const char *want, size_t want_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, wbits), Z_OK);
    char *back = malloc(want_len + 16);
    zs.next_in = (Bytef *)(uintptr_t)z;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)back;
    zs.avail_out = (uInt)(want_len + 16);
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, want_len);
    assert_memory_equal(back, want, want_len);
    inflateEnd(&zs);
    free(back);
}

static void test_gzip__alloc_roundtrip(void **state)
{
    (void)state;
    char in[5000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)('a' + i % 7);
    for (int w = 0; w < 2; w++) {
        char *out = NULL;
        size_t n = 0;
        assert_int_equal(vn_gzip_alloc(in, sizeof in, (vn_gzip_wrap_t)w, &out, &n), VN_OK);
        assert_true(n > 10 && n < sizeof in);
        if (w == VN_GZIP_ZLIB)
            assert_true((unsigned char)out[0] == 0x78); /* RFC 1950 header */
        else
            assert_true((unsigned char)out[0] == 0x1f && (unsigned char)out[1] == 0x8b);
        inflate_check(out, n, w == VN_GZIP_ZLIB ? 15 : 31, in, sizeof in);
        free(out);
    }
    /* empty input is still a complete stream */
    char *out;
    size_t n;
    assert_int_equal(vn_gzip_alloc("", 0, VN_GZIP_GZIP, &out, &n), VN_OK);
    inflate_check(out, n, 31, "", 0);
    free(out);
}

/* Appended members concatenate into one valid multi-member gzip file (what localfile writes). */
static void test_gzip__append_members(void **state)
{
    (void)state;
    vn_buf_t b;
    vn_buf_init(&b, 4096);
    assert_int_equal(vn_gzip_append(&b, "a,b\n", 4, VN_GZIP_GZIP), VN_OK);
    size_t first = vn_buf_len(&b);
    assert_int_equal(vn_gzip_append(&b, "c,d\n", 4, VN_GZIP_GZIP), VN_OK);
    inflate_check(vn_buf_ptr(&b), first, 31, "a,b\n", 4);
    inflate_check(vn_buf_ptr(&b) + first, vn_buf_len(&b) - first, 31, "c,d\n", 4);
    vn_buf_free(&b);
}

static void test_gzip__limits(void **state)
{
    (void)state;
    /* worst case does not fit the cap: the buffer is untouched */
    vn_buf_t b;
    vn_buf_init(&b, 16);
    assert_int_equal(vn_buf_add(&b, "xy", 2), VN_OK);
    assert_int_equal(vn_gzip_append(&b, "hello hello hello", 17, VN_GZIP_GZIP), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_len(&b), 2);
    vn_buf_free(&b);
    char *out = (char *)1;
    size_t n = 7;
    assert_int_equal(vn_gzip_alloc("x", VN_GZIP_MAX_IN + 1, VN_GZIP_ZLIB, &out, &n), VN_ERR_TOO_LARGE);
    assert_null(out);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip__alloc_roundtrip),
        cmocka_unit_test(test_gzip__append_members),
        cmocka_unit_test(test_gzip__limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
