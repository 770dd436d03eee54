/* Unit tests for listen/linebuf: stream framing as a pure state machine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen/linebuf.h"

/* Collects delivered lines as "line|" and rejects any line starting with "bad". */
typedef struct sink {
    char out[4096];
    size_t len;
    size_t lines;
    size_t longest;
} sink_t;

static bool collect(void *ctx, const char *line, size_t len)
{
    sink_t *s = ctx;
    s->lines++;
    if (len > s->longest)
        s->longest = len;
    if (len < 200 && s->len + len + 1 < sizeof s->out) {
        memcpy(s->out + s->len, line, len);
        s->len += len;
        s->out[s->len++] = '|';
        s->out[s->len] = 0;
    }
    return !(len >= 3 && memcmp(line, "bad", 3) == 0);
}

static void test_linebuf__any_split_same_lines(void **state)
{
    (void)state;
    static const char in[] = "a:1|c\r\nb:2|c\n\nc:3|c|#x:y\nd:4|c";
    size_t n = sizeof in - 1;
    /* every two-way split and byte-at-a-time give the same lines */
    for (size_t cut = 0; cut <= n; cut++) {
        vn_linebuf_t lb;
        sink_t s = {0};
        vn_linebuf_init(&lb, 64 * 1024, NULL);
        assert_int_equal(vn_linebuf_feed(&lb, in, cut, collect, &s), VN_LINEBUF_READING);
        assert_int_equal(vn_linebuf_feed(&lb, in + cut, n - cut, collect, &s), VN_LINEBUF_READING);
        assert_int_equal(vn_linebuf_eof(&lb, collect, &s), VN_LINEBUF_EOF);
        assert_string_equal(s.out, "a:1|c|b:2|c||c:3|c|#x:y|d:4|c|");
        vn_linebuf_destroy(&lb);
    }
    vn_linebuf_t lb;
    sink_t s = {0};
    vn_linebuf_init(&lb, 64 * 1024, NULL);
    for (size_t i = 0; i < n; i++)
        vn_linebuf_feed(&lb, in + i, 1, collect, &s);
    assert_int_equal(s.lines, 4); /* the last line waits for EOF */
    vn_linebuf_eof(&lb, collect, &s);
    assert_string_equal(s.out, "a:1|c|b:2|c||c:3|c|#x:y|d:4|c|");
    /* finished: further bytes are ignored, EOF is not repeated */
    assert_int_equal(vn_linebuf_feed(&lb, "e:1|c\n", 6, collect, &s), VN_LINEBUF_EOF);
    assert_int_equal(vn_linebuf_eof(&lb, collect, &s), VN_LINEBUF_EOF);
    assert_int_equal(s.lines, 5);
    vn_linebuf_destroy(&lb);
}

/* The double-count case: nothing after a bad line, nothing before it twice. */
static void test_linebuf__bad_line_finishes(void **state)
{
    (void)state;
    vn_linebuf_t lb;
    sink_t s = {0};
    vn_linebuf_init(&lb, 64 * 1024, NULL);
    assert_int_equal(vn_linebuf_feed(&lb, "hd.good:1|c\nbadline\nafter:1|c\n", 30, collect, &s),
                     VN_LINEBUF_BAD_LINE);
    assert_string_equal(s.out, "hd.good:1|c|badline|");
    assert_int_equal(vn_linebuf_eof(&lb, collect, &s), VN_LINEBUF_BAD_LINE);
    assert_int_equal(vn_linebuf_feed(&lb, "more:1|c\n", 9, collect, &s), VN_LINEBUF_BAD_LINE);
    assert_int_equal(s.lines, 2);
    assert_null(lb.buf); /* a finished stream pins nothing */
    vn_linebuf_destroy(&lb);

    /* "bad\ny.name:1|c" with no final newline: y.name is never delivered, not even at EOF */
    sink_t s2 = {0};
    vn_linebuf_init(&lb, 64 * 1024, NULL);
    assert_int_equal(vn_linebuf_feed(&lb, "bad\ny.name:1|c", 14, collect, &s2), VN_LINEBUF_BAD_LINE);
    assert_int_equal(vn_linebuf_eof(&lb, collect, &s2), VN_LINEBUF_BAD_LINE);
    assert_string_equal(s2.out, "bad|");
    vn_linebuf_destroy(&lb);

    /* a bad final line at EOF */
    sink_t s3 = {0};
    vn_linebuf_init(&lb, 64 * 1024, NULL);
    vn_linebuf_feed(&lb, "ok:1|c\nbadtail", 14, collect, &s3);
    assert_int_equal(vn_linebuf_eof(&lb, collect, &s3), VN_LINEBUF_BAD_LINE);
    assert_string_equal(s3.out, "ok:1|c|badtail|");
    vn_linebuf_destroy(&lb);
}

static void test_linebuf__too_long(void **state)
{
    (void)state;
    const size_t max = 64 * 1024;
    char *big = malloc(max + 2);
    memset(big, 'x', max + 2);
    /* max-1 bytes + '\n' fits (Go: the 64 KiB buffer holds line and newline) */
    vn_linebuf_t lb;
    sink_t s = {0};
    vn_linebuf_init(&lb, max, NULL);
    big[max - 1] = '\n';
    assert_int_equal(vn_linebuf_feed(&lb, big, max, collect, &s), VN_LINEBUF_READING);
    assert_int_equal(s.lines, 1);
    assert_int_equal(s.longest, max - 1);
    assert_true(lb.cap <= VN_LINEBUF_BASE); /* shrunk back after the long line */
    /* max bytes without '\n': too long, and the good line before it was delivered once */
    big[max - 1] = 'x';
    sink_t s2 = {0};
    assert_int_equal(vn_linebuf_feed(&lb, "pre:1|c\n", 8, collect, &s2), VN_LINEBUF_READING);
    assert_int_equal(vn_linebuf_feed(&lb, big, max, collect, &s2), VN_LINEBUF_TOO_LONG);
    assert_int_equal(vn_linebuf_eof(&lb, collect, &s2), VN_LINEBUF_TOO_LONG);
    assert_string_equal(s2.out, "pre:1|c|");
    assert_int_equal(vn_linebuf_pending(&lb), 0);
    vn_linebuf_destroy(&lb);
    /* byte-at-a-time up to the limit */
    sink_t s3 = {0};
    vn_linebuf_init(&lb, max, NULL);
    vn_linebuf_state_t st = VN_LINEBUF_READING;
    size_t fed = 0;
    while (st == VN_LINEBUF_READING && fed < max + 2)
        st = vn_linebuf_feed(&lb, big + fed++, 1, collect, &s3);
    assert_int_equal(st, VN_LINEBUF_TOO_LONG);
    assert_int_equal(fed, max);
    assert_int_equal(s3.lines, 0);
    vn_linebuf_destroy(&lb);
    free(big);
}

/* Half lines are bounded in bytes across every buffer charged to one budget. */
static void test_linebuf__budget(void **state)
{
    (void)state;
    vn_linebuf_budget_t b = {.used = 0, .limit = 2 * VN_LINEBUF_BASE + VN_LINEBUF_BASE / 2};
    vn_linebuf_t x, y;
    sink_t s = {0};
    vn_linebuf_init(&x, 64 * 1024, &b);
    vn_linebuf_init(&y, 64 * 1024, &b);
    assert_int_equal(b.used, 0); /* nothing until the first byte */
    vn_linebuf_feed(&x, "a", 1, collect, &s);
    vn_linebuf_feed(&y, "b", 1, collect, &s);
    assert_int_equal(b.used, 2 * VN_LINEBUF_BASE);
    char half[VN_LINEBUF_BASE];
    memset(half, 'h', sizeof half);
    /* x needs 8 KiB: over the 10 KiB budget with y holding 4 KiB */
    assert_int_equal(vn_linebuf_feed(&x, half, sizeof half, collect, &s), VN_LINEBUF_NO_MEMORY);
    assert_int_equal(b.used, VN_LINEBUF_BASE);
    assert_int_equal(vn_linebuf_feed(&y, half, sizeof half, collect, &s), VN_LINEBUF_READING);
    assert_int_equal(b.used, 2 * VN_LINEBUF_BASE);
    vn_linebuf_feed(&y, "\n", 1, collect, &s);
    assert_int_equal(b.used, VN_LINEBUF_BASE); /* shrunk after the line */
    vn_linebuf_destroy(&x);
    vn_linebuf_destroy(&y);
    assert_int_equal(b.used, 0);
    assert_int_equal(s.lines, 1);
}

static void test_linebuf__state_names(void **state)
{
    (void)state;
    assert_string_equal(vn_linebuf_state_name(VN_LINEBUF_READING), "reading");
    assert_string_equal(vn_linebuf_state_name(VN_LINEBUF_BAD_LINE), "bad_line");
    assert_string_equal(vn_linebuf_state_name(VN_LINEBUF_TOO_LONG), "too_long");
    assert_string_equal(vn_linebuf_state_name(VN_LINEBUF_NO_MEMORY), "no_memory");
    assert_string_equal(vn_linebuf_state_name(VN_LINEBUF_EOF), "eof");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linebuf__any_split_same_lines),
        cmocka_unit_test(test_linebuf__bad_line_finishes),
        cmocka_unit_test(test_linebuf__too_long),
        cmocka_unit_test(test_linebuf__budget),
        cmocka_unit_test(test_linebuf__state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
