/* test_grpc_frame.c - forward/grpc_frame: message framing, limits, header encodings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "forward/grpc_frame.h"

typedef struct got {
    size_t n;
    size_t lens[64];
    uint8_t first[64];
    int fail_at; /* message index whose callback fails, -1 never */
} got_t;

static vn_err_t collect(void *ctx, const uint8_t *msg, size_t len)
{
    got_t *g = ctx;
    if ((int)g->n == g->fail_at)
        return VN_ERR_PARSE;
    if (g->n < 64) {
        g->lens[g->n] = len;
        g->first[g->n] = len ? msg[0] : 0;
    }
    g->n++;
    return VN_OK;
}

/* Builds a stream of messages of the given lengths, message i filled with byte i+1. */
static size_t build(uint8_t *out, const size_t *lens, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        vn_grpc_prefix(out + o, (uint32_t)lens[i]);
        o += VN_GRPC_PREFIX;
        memset(out + o, (int)(i + 1), lens[i]);
        o += lens[i];
    }
    return o;
}

static void test_grpc_frame__prefix_bytes(void **state)
{
    (void)state;
    uint8_t p[5];
    vn_grpc_prefix(p, 0);
    assert_memory_equal(p, "\0\0\0\0\0", 5); /* google.protobuf.Empty response */
    vn_grpc_prefix(p, 0x01020304);
    assert_memory_equal(p, "\x00\x01\x02\x03\x04", 5);
    vn_grpc_prefix(p, 16);
    assert_memory_equal(p, "\x00\x00\x00\x00\x10", 5);
}

static void test_grpc_frame__whole_and_split_at_every_offset(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 16, 300, 0, 7};
    uint8_t stream[512];
    size_t total = build(stream, lens, 6);
    /* Two feeds split at every possible offset, including inside prefixes. */
    for (size_t cut = 0; cut <= total; cut++) {
        vn_grpc_reader_t r;
        vn_grpc_reader_init(&r, 1024, NULL);
        got_t g = {.fail_at = -1};
        assert_int_equal(vn_grpc_reader_feed(&r, stream, cut, collect, &g), VN_OK);
        assert_int_equal(vn_grpc_reader_feed(&r, stream + cut, total - cut, collect, &g), VN_OK);
        assert_int_equal(g.n, 6);
        for (size_t i = 0; i < 6; i++) {
            assert_int_equal(g.lens[i], lens[i]);
            if (lens[i])
                assert_int_equal(g.first[i], i + 1);
        }
        assert_true(vn_grpc_reader_idle(&r));
        assert_int_equal(r.messages, 6);
        vn_grpc_reader_destroy(&r);
    }
    /* One byte at a time. */
    vn_grpc_reader_t r;
    vn_grpc_reader_init(&r, 1024, NULL);
    got_t g = {.fail_at = -1};
    for (size_t i = 0; i < total; i++) {
        assert_int_equal(vn_grpc_reader_feed(&r, stream + i, 1, collect, &g), VN_OK);
        if (i + 1 < total && i + 1 > VN_GRPC_PREFIX)
            assert_true(g.n < 6);
    }
    assert_int_equal(g.n, 6);
    assert_int_equal(g.lens[3], 300);
    vn_grpc_reader_destroy(&r);
}

/* A test budget: a counter with a ceiling. */
typedef struct tbudget {
    size_t used, max, refused;
} tbudget_t;

static bool tb_reserve(void *ctx, size_t n)
{
    tbudget_t *b = ctx;
    if (b->used + n > b->max) {
        b->refused++;
        return false;
    }
    b->used += n;
    return true;
}

static void tb_release(void *ctx, size_t n)
{
    tbudget_t *b = ctx;
    assert_true(n <= b->used);
    b->used -= n;
}

static void test_grpc_frame__partial_is_not_idle(void **state)
{
    (void)state;
    static const size_t lens[] = {10};
    uint8_t stream[64];
    size_t total = build(stream, lens, 1);
    vn_grpc_reader_t r;
    tbudget_t b = {.max = 1 << 20};
    vn_grpc_budget_t bud = {tb_reserve, tb_release, &b};
    vn_grpc_reader_init(&r, 1024, &bud);
    got_t g = {.fail_at = -1};
    assert_int_equal(vn_grpc_reader_feed(&r, stream, 3, collect, &g), VN_OK);
    assert_false(vn_grpc_reader_idle(&r)); /* inside the prefix */
    assert_int_equal(vn_grpc_reader_feed(&r, stream + 3, 4, collect, &g), VN_OK);
    assert_false(vn_grpc_reader_idle(&r)); /* inside the body */
    assert_int_equal(b.used, 10);           /* arrived bytes held, capped at the announced length */
    vn_grpc_reader_destroy(&r);             /* a truncated stream: freed, budget returned */
    assert_int_equal(b.used, 0);
    assert_int_equal(g.n, 0);
    (void)total;
}

/* Issue 15: a prefix announcing 4 MiB reserves nothing; bytes are reserved as they arrive. */
static void test_grpc_frame__prefix_reserves_nothing(void **state)
{
    (void)state;
    tbudget_t b = {.max = 64 << 10};
    vn_grpc_budget_t bud = {tb_reserve, tb_release, &b};
    vn_grpc_reader_t rs[64];
    got_t g = {.fail_at = -1};
    uint8_t p[6];
    vn_grpc_prefix(p, VN_GRPC_MAX_MESSAGE);
    p[5] = 7;
    for (int i = 0; i < 64; i++) {
        vn_grpc_reader_init(&rs[i], VN_GRPC_MAX_MESSAGE, &bud);
        assert_int_equal(vn_grpc_reader_feed(&rs[i], p, 5, collect, &g), VN_OK);
        assert_int_equal(b.used, 0);
        assert_null(rs[i].buf);
    }
    /* one body byte each: a small first buffer, not the announced 4 MiB */
    for (int i = 0; i < 8; i++)
        assert_int_equal(vn_grpc_reader_feed(&rs[i], p + 5, 1, collect, &g), VN_OK);
    assert_int_equal(b.used, 8 * VN_GRPC_REASM_MIN);
    /* a message of 100 KiB arriving whole still goes through (in place, no budget) */
    vn_grpc_reader_t big;
    vn_grpc_reader_init(&big, VN_GRPC_MAX_MESSAGE, &bud);
    uint8_t *m = calloc(1, 5 + (100 << 10));
    vn_grpc_prefix(m, 100 << 10);
    assert_int_equal(vn_grpc_reader_feed(&big, m, 5 + (100 << 10), collect, &g), VN_OK);
    assert_int_equal(g.n, 1);
    /* split, it is reserved as it grows and refused past the budget */
    vn_grpc_reader_destroy(&big);
    vn_grpc_reader_init(&big, VN_GRPC_MAX_MESSAGE, &bud);
    assert_int_equal(vn_grpc_reader_feed(&big, m, 5 + 20000, collect, &g), VN_OK);
    assert_int_equal(big.held, 32768u);
    assert_int_equal(vn_grpc_reader_feed(&big, m + 5 + 20000, 40000, collect, &g), VN_ERR_TOO_LARGE);
    assert_int_equal(big.error, VN_GRPC_RESOURCE_EXHAUSTED);
    vn_grpc_reader_destroy(&big);
    for (int i = 0; i < 64; i++)
        vn_grpc_reader_destroy(&rs[i]);
    assert_int_equal(b.used, 0);
    free(m);
}

/* The prefix in one feed, the whole body in the next: delivered without a copy or a reservation. */
static void test_grpc_frame__body_after_prefix_in_place(void **state)
{
    (void)state;
    tbudget_t b = {.max = 0};
    vn_grpc_budget_t bud = {tb_reserve, tb_release, &b};
    vn_grpc_reader_t r;
    vn_grpc_reader_init(&r, 1024, &bud);
    static const size_t lens[] = {100};
    uint8_t stream[128];
    build(stream, lens, 1);
    got_t g = {.fail_at = -1};
    assert_int_equal(vn_grpc_reader_feed(&r, stream, 5, collect, &g), VN_OK);
    assert_int_equal(vn_grpc_reader_feed(&r, stream + 5, 100, collect, &g), VN_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(b.refused, 0);
    assert_true(vn_grpc_reader_idle(&r));
    vn_grpc_reader_destroy(&r);
}

/* The budget owner takes space back. */
static void test_grpc_frame__drop(void **state)
{
    (void)state;
    tbudget_t b = {.max = 1 << 20};
    vn_grpc_budget_t bud = {tb_reserve, tb_release, &b};
    vn_grpc_reader_t r;
    vn_grpc_reader_init(&r, 1024, &bud);
    static const size_t lens[] = {100};
    uint8_t stream[128];
    build(stream, lens, 1);
    got_t g = {.fail_at = -1};
    assert_int_equal(vn_grpc_reader_feed(&r, stream, 50, collect, &g), VN_OK);
    assert_true(b.used > 0);
    vn_grpc_reader_drop(&r);
    assert_int_equal(b.used, 0);
    assert_int_equal(r.error, VN_GRPC_RESOURCE_EXHAUSTED);
    vn_grpc_reader_destroy(&r);
    assert_int_equal(b.used, 0);
}

static void test_grpc_frame__over_max_is_resource_exhausted(void **state)
{
    (void)state;
    uint8_t p[5];
    vn_grpc_reader_t r;
    got_t g = {.fail_at = -1};
    /* Exactly the cap is accepted (announced; body not needed to decide). */
    vn_grpc_reader_init(&r, VN_GRPC_MAX_MESSAGE, NULL);
    vn_grpc_prefix(p, VN_GRPC_MAX_MESSAGE);
    assert_int_equal(vn_grpc_reader_feed(&r, p, 5, collect, &g), VN_OK);
    vn_grpc_reader_destroy(&r);
    /* One byte more is refused before anything is allocated. */
    vn_grpc_reader_init(&r, VN_GRPC_MAX_MESSAGE, NULL);
    vn_grpc_prefix(p, VN_GRPC_MAX_MESSAGE + 1);
    assert_int_equal(vn_grpc_reader_feed(&r, p, 5, collect, &g), VN_ERR_TOO_LARGE);
    assert_int_equal(r.error, VN_GRPC_RESOURCE_EXHAUSTED);
    assert_null(r.buf);
    vn_grpc_reader_destroy(&r);
    /* 4 GiB - 1 announced. */
    vn_grpc_reader_init(&r, VN_GRPC_MAX_MESSAGE, NULL);
    vn_grpc_prefix(p, 0xffffffffu);
    assert_int_equal(vn_grpc_reader_feed(&r, p, 5, collect, &g), VN_ERR_TOO_LARGE);
    vn_grpc_reader_destroy(&r);
    assert_int_equal(g.n, 0);
}

static void test_grpc_frame__budget_shared_and_enforced(void **state)
{
    (void)state;
    tbudget_t tb = {.max = 150};
    vn_grpc_budget_t bud = {tb_reserve, tb_release, &tb};
    vn_grpc_reader_t a, b;
    vn_grpc_reader_init(&a, 1000, &bud);
    vn_grpc_reader_init(&b, 1000, &bud);
    uint8_t p[5];
    got_t g = {.fail_at = -1};
    vn_grpc_prefix(p, 100);
    assert_int_equal(vn_grpc_reader_feed(&a, p, 5, collect, &g), VN_OK);
    assert_int_equal(vn_grpc_reader_feed(&a, (const uint8_t *)"x", 1, collect, &g), VN_OK);
    assert_int_equal(tb.used, 100); /* capped at the announced length */
    /* b's prefix alone is fine; its first body byte finds the budget short. */
    assert_int_equal(vn_grpc_reader_feed(&b, p, 5, collect, &g), VN_OK);
    assert_int_equal(vn_grpc_reader_feed(&b, (const uint8_t *)"x", 1, collect, &g), VN_ERR_TOO_LARGE);
    assert_int_equal(b.error, VN_GRPC_RESOURCE_EXHAUSTED);
    vn_grpc_reader_destroy(&b);
    assert_int_equal(tb.used, 100);
    /* Completing a's message returns its reservation. */
    uint8_t body[99];
    memset(body, 'y', sizeof body);
    assert_int_equal(vn_grpc_reader_feed(&a, body, sizeof body, collect, &g), VN_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(tb.used, 0);
    vn_grpc_reader_destroy(&a);
}

static void test_grpc_frame__bad_flags(void **state)
{
    (void)state;
    vn_grpc_reader_t r;
    got_t g = {.fail_at = -1};
    vn_grpc_reader_init(&r, 100, NULL);
    assert_int_equal(vn_grpc_reader_feed(&r, (const uint8_t *)"\x01\0\0\0\x01x", 6, collect, &g), VN_ERR_PROTO);
    assert_int_equal(r.error, VN_GRPC_UNIMPLEMENTED); /* compressed: never negotiated */
    vn_grpc_reader_destroy(&r);
    vn_grpc_reader_init(&r, 100, NULL);
    assert_int_equal(vn_grpc_reader_feed(&r, (const uint8_t *)"\x80\0\0\0\0", 5, collect, &g), VN_ERR_PROTO);
    assert_int_equal(r.error, VN_GRPC_INTERNAL);
    vn_grpc_reader_destroy(&r);
    assert_int_equal(g.n, 0);
}

static void test_grpc_frame__callback_error_stops(void **state)
{
    (void)state;
    static const size_t lens[] = {3, 3, 3};
    uint8_t stream[64];
    size_t total = build(stream, lens, 3);
    vn_grpc_reader_t r;
    vn_grpc_reader_init(&r, 100, NULL);
    got_t g = {.fail_at = 1};
    assert_int_equal(vn_grpc_reader_feed(&r, stream, total, collect, &g), VN_ERR_PARSE);
    assert_int_equal(r.error, VN_GRPC_INVALID_ARGUMENT);
    assert_int_equal(g.n, 1);
    vn_grpc_reader_destroy(&r);
    /* Same with the failing message split (buffered path). */
    vn_grpc_reader_init(&r, 100, NULL);
    got_t g2 = {.fail_at = 1};
    assert_int_equal(vn_grpc_reader_feed(&r, stream, 10, collect, &g2), VN_OK);
    assert_int_equal(vn_grpc_reader_feed(&r, stream + 10, total - 10, collect, &g2), VN_ERR_PARSE);
    vn_grpc_reader_destroy(&r);
}

static void test_grpc_frame__message_header_encoding(void **state)
{
    (void)state;
    char out[64], back[64];
    assert_string_equal(vn_grpc_message_encode("plain text", out, sizeof out), "plain text");
    assert_string_equal(vn_grpc_message_encode("50% \n\xc3\xa9", out, sizeof out), "50%25 %0A%C3%A9");
    vn_grpc_message_decode(out, strlen(out), back, sizeof back);
    assert_string_equal(back, "50% \n\xc3\xa9");
    /* Truncation never splits an escape. */
    assert_string_equal(vn_grpc_message_encode("ab\n", out, 5), "ab");
    /* Malformed escapes pass through. */
    assert_string_equal(vn_grpc_message_decode("%zz%4", 5, back, sizeof back), "%zz%4");
    assert_string_equal(vn_grpc_message_decode("abcdef", 6, back, 4), "abc");
}

static void test_grpc_frame__timeout_header_units(void **state)
{
    (void)state;
    char t[10];
    double s = 0;
    /* At most 8 digits: 9 s does not fit in ns (10 digits) or us (7+2): ms. */
    assert_string_equal(vn_grpc_timeout_format(0.0000005, t), "500n");
    assert_string_equal(vn_grpc_timeout_format(0.05, t), "50000000n");
    assert_string_equal(vn_grpc_timeout_format(9.0, t), "9000000u");
    assert_string_equal(vn_grpc_timeout_format(900.0, t), "900000m");
    assert_string_equal(vn_grpc_timeout_format(1e6, t), "1000000S");
    assert_string_equal(vn_grpc_timeout_format(0, t), "0n");
    assert_true(vn_grpc_timeout_parse("900000m", 7, &s));
    assert_true(s == 900.0);
    assert_true(vn_grpc_timeout_parse("2H", 2, &s));
    assert_true(s == 7200.0);
    assert_false(vn_grpc_timeout_parse("12", 2, &s));
    assert_false(vn_grpc_timeout_parse("123456789S", 10, &s)); /* 9 digits */
    assert_false(vn_grpc_timeout_parse("1xS", 3, &s));
    assert_false(vn_grpc_timeout_parse("S", 1, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc_frame__prefix_bytes),
        cmocka_unit_test(test_grpc_frame__whole_and_split_at_every_offset),
        cmocka_unit_test(test_grpc_frame__partial_is_not_idle),
        cmocka_unit_test(test_grpc_frame__prefix_reserves_nothing),
        cmocka_unit_test(test_grpc_frame__body_after_prefix_in_place),
        cmocka_unit_test(test_grpc_frame__drop),
        cmocka_unit_test(test_grpc_frame__over_max_is_resource_exhausted),
        cmocka_unit_test(test_grpc_frame__budget_shared_and_enforced),
        cmocka_unit_test(test_grpc_frame__bad_flags),
        cmocka_unit_test(test_grpc_frame__callback_error_stops),
        cmocka_unit_test(test_grpc_frame__message_header_encoding),
        cmocka_unit_test(test_grpc_frame__timeout_header_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
