/* Unit tests for ssf/frame (framing state machine), ssf/decode and ssf/convert. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssf/convert.h"
#include "ssf/decode.h"
#include "ssf/frame.h"

static size_t put_frame(uint8_t *out, const uint8_t *body, uint32_t len, uint8_t version)
{
    out[0] = version;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
    memcpy(out + 5, body, len);
    return 5 + len;
}

/* Feeds stream[0..n) in pieces of `step` bytes; returns frames seen, their bodies concatenated. */
static int feed_all(const uint8_t *stream, size_t n, size_t step, size_t max, char *cat, vn_ssf_frame_rc_t *last)
{
    vn_ssf_frame_t f;
    vn_ssf_frame_init(&f);
    uint8_t body[64];
    int frames = 0;
    size_t catlen = 0;
    *last = VN_SSF_FRAME_MORE;
    for (size_t off = 0; off < n;) {
        size_t piece = n - off < step ? n - off : step, pos = 0;
        while (pos < piece) {
            size_t used, blen;
            vn_ssf_frame_rc_t rc = vn_ssf_frame_feed(&f, stream + off + pos, piece - pos, &used, body, max, &blen);
            pos += used;
            if (rc == VN_SSF_FRAME_READY) {
                frames++;
                memcpy(cat + catlen, body, blen);
                catlen += blen;
                cat[catlen++] = '|';
            } else if (rc != VN_SSF_FRAME_MORE) {
                *last = rc;
                cat[catlen] = '\0';
                return frames;
            } else {
                assert_int_equal(pos, piece); /* MORE means everything was consumed */
            }
        }
        off += piece;
    }
    cat[catlen] = '\0';
    return frames;
}

static void test_frame__any_split_same_frames(void **state)
{
    (void)state;
    uint8_t s[128];
    size_t n = put_frame(s, (const uint8_t *)"abc", 3, 0);
    n += put_frame(s + n, (const uint8_t *)"", 0, 0);
    n += put_frame(s + n, (const uint8_t *)"0123456789", 10, 0);
    for (size_t step = 1; step <= n; step++) {
        char cat[128];
        vn_ssf_frame_rc_t last;
        assert_int_equal(feed_all(s, n, step, 32, cat, &last), 3);
        assert_string_equal(cat, "abc||0123456789|");
        assert_int_equal(last, VN_SSF_FRAME_MORE);
    }
}

static void test_frame__errors(void **state)
{
    (void)state;
    uint8_t s[64];
    char cat[64];
    vn_ssf_frame_rc_t last;
    size_t n = put_frame(s, (const uint8_t *)"ok", 2, 0);
    n += put_frame(s + n, (const uint8_t *)"x", 1, 1); /* version 1 */
    assert_int_equal(feed_all(s, n, 1, 32, cat, &last), 1);
    assert_int_equal(last, VN_SSF_FRAME_ERR_VERSION);
    n = put_frame(s, (const uint8_t *)"0123456789", 10, 0);
    assert_int_equal(feed_all(s, n, 3, 9, cat, &last), 0); /* over max */
    assert_int_equal(last, VN_SSF_FRAME_ERR_LENGTH);
    uint8_t big[5] = {0, 0x01, 0, 0, 1}; /* 16 MiB + 1: over Go's limit whatever max says */
    vn_ssf_frame_t f;
    vn_ssf_frame_init(&f);
    size_t used, blen;
    assert_int_equal(vn_ssf_frame_feed(&f, big, 5, &used, NULL, SIZE_MAX, &blen), VN_SSF_FRAME_ERR_LENGTH);
}

/* SSFSpan{id:1 trace_id:1 start:1 end:11 name:"op" service:"svc" indicator:true
 *         metrics:[{metric:COUNTER name:"c" value:2 sample_rate:0 tags:{b:2,a:1}}]} */
static const uint8_t SPAN[] = {
    0x10, 0x01, 0x18, 0x01, 0x28, 0x01, 0x30, 0x0b, 0x42, 0x03, 's', 'v', 'c', 0x52, 0x18,
    /* sample */ 0x12, 0x01, 'c', 0x1d, 0x00, 0x00, 0x00, 0x40, 0x42, 0x06, 0x0a, 0x01, 'b', 0x12, 0x01, '2', 0x42,
    0x06, 0x0a, 0x01, 'a', 0x12, 0x01, '1', 0x60, 0x01, 0x6a, 0x02, 'o', 'p'};

static void test_decode_convert(void **state)
{
    (void)state;
    vn_ssf_arena_t a;
    vn_ssf_arena_init(&a, 256);
    Ssf__SSFSpan *sp;
    /* the sample's length byte must match: fix it from the array */
    assert_int_equal(vn_ssf_decode(&a, SPAN, sizeof SPAN, 0, &sp), VN_SSF_DEC_OK);
    assert_int_equal(sp->n_metrics, 1);
    assert_true(sp->metrics[0]->sample_rate == 1.0f); /* 0 normalised as Go */
    assert_string_equal(sp->name, "op");
    assert_true(vn_ssf_valid_trace(sp));
    static vn_ssf_conv_t cv;
    vn_ssf_conv_init(&cv, NULL, NULL, "ind", "obj", 1);
    vn_ssf_conv_span(&cv, sp);
    assert_int_equal(cv.c.spans, 1);
    assert_int_equal(cv.c.root_spans, 1);
    assert_int_equal(cv.c.invalid_samples, 0);
    assert_int_equal(cv.c.indicator_timers, 2);
    assert_true(cv.c.metrics >= 3);
    assert_int_equal(vn_ssf_decode(&a, SPAN, sizeof SPAN - 1, 0, &sp), VN_SSF_DEC_INVALID);
    assert_int_equal(vn_ssf_decode(&a, SPAN, 0, 0, &sp), VN_SSF_DEC_EMPTY);
    assert_int_equal(vn_ssf_decode(&a, SPAN, 0, 1, &sp), VN_SSF_DEC_OK);
    vn_ssf_arena_destroy(&a);
}

static void test_decode__arena_bound(void **state)
{
    (void)state;
    /* 4000 empty samples (2 wire bytes each) against an arena sized for 64-byte packets */
    static uint8_t buf[8000];
    for (size_t i = 0; i < sizeof buf; i += 2) {
        buf[i] = 0x52;
        buf[i + 1] = 0x00;
    }
    vn_ssf_arena_t a;
    vn_ssf_arena_init(&a, 64);
    Ssf__SSFSpan *sp;
    assert_int_equal(vn_ssf_decode(&a, buf, sizeof buf, 0, &sp), VN_SSF_DEC_NOMEM);
    vn_ssf_arena_destroy(&a);
    vn_ssf_arena_init(&a, sizeof buf);
    assert_int_equal(vn_ssf_decode(&a, buf, sizeof buf, 0, &sp), VN_SSF_DEC_OK);
    assert_int_equal(sp->n_metrics, 4000);
    vn_ssf_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame__any_split_same_frames),
        cmocka_unit_test(test_frame__errors),
        cmocka_unit_test(test_decode_convert),
        cmocka_unit_test(test_decode__arena_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
