/* test_tdigest_layout.c - aggregate/tdigest: the in-memory entry sizes (compact
 * and wide give the same digest) and the decoder's fast path and stack buffer
 * (issue 22). The digest's behaviour is in test_tdigest.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/tdigest.h"
#include "tdigest_fixtures.h"

/* A digest keeps 10-byte entries while its weights are integers with a total
 * of at most 65535, and turns wide before anything breaks that; the values
 * are the same as a digest that was wide from the start. */
static void test_tdigest__compact_matches_wide(void **state)
{
    (void)state;
    static const struct {
        const char *why;
        int n;
        double frac_at; /* sample index given weight 2.5, or -1 */
    } cases[] = {
        {"1000 unit samples (stays compact)", 1000, -1},
        {"a fractional weight half way", 1000, 500},
        {"past 65535 samples", 70000, -1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fx_rng_t r = {5 + k};
        vn_tdigest_t c, w;
        td_twin_init(&c, &w);
        size_t compact_bytes = vn_tdigest_memory(&c);
        for (int i = 0; i < cases[k].n; i++) {
            double x = exp(fx_gauss(&r)), wt = i == (int)cases[k].frac_at ? 2.5 : 1;
            assert_int_equal(vn_tdigest_add(&c, x, wt), VN_OK);
            assert_int_equal(vn_tdigest_add(&w, x, wt), VN_OK);
            if (i == 998)
                compact_bytes = vn_tdigest_memory(&c);
        }
        if (k == 0) /* 10-byte entries: well under the 16-byte block's ~6 KB */
            assert_true(compact_bytes <= 4096 && vn_tdigest_memory(&c) < vn_tdigest_memory(&w));
        /* merging a compact digest into a wide one and the reverse */
        vn_tdigest_t mc, mw;
        assert_int_equal(vn_tdigest_init(&mc, 100), VN_OK);
        assert_int_equal(vn_tdigest_init(&mw, 100), VN_OK);
        assert_int_equal(vn_tdigest_merge(&mc, &c), VN_OK);
        assert_int_equal(vn_tdigest_merge(&mw, &w), VN_OK);
        for (double q = 0; q <= 1.0; q += 0.0005) {
            double a = vn_tdigest_quantile(&c, q), b = vn_tdigest_quantile(&w, q);
            if (a != b) {
                print_error("%s: q=%g %.17g != %.17g\n", cases[k].why, q, a, b);
                fail();
            }
            assert_true(vn_tdigest_quantile(&mc, q) == vn_tdigest_quantile(&mw, q));
            assert_true(vn_tdigest_cdf(&c, b) == vn_tdigest_cdf(&w, b));
        }
        td_assert_same_wire(&c, &w);
        assert_true(vn_tdigest_sum(&c) == vn_tdigest_sum(&w) && vn_tdigest_count(&c) == vn_tdigest_count(&w));
        vn_tdigest_destroy(&c);
        vn_tdigest_destroy(&w);
        vn_tdigest_destroy(&mc);
        vn_tdigest_destroy(&mw);
    }
}

/* Decode reads Go's usual centroid layout by a fast path and anything else
 * by the generic loop, and collects up to 512 centroids on the stack before
 * it reads a larger digest twice: all three give the encoder's digest back. */
static void test_tdigest__decode_fast_path_and_large(void **state)
{
    (void)state;
    /* a zero mean is left out on the wire, so that centroid is not in the
     * fast path's shape; its neighbours are */
    vn_tdigest_t td, back;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    const double v[] = {-2.5, 0.0, 3.0};
    td_add_all(&td, v, 3, 1);
    size_t len;
    uint8_t *buf = td_encode(&td, &len);
    assert_int_equal(vn_tdigest_decode(&back, buf, len), VN_OK);
    size_t n;
    const vn_tdigest_centroid_t *c = vn_tdigest_centroids(&back, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(c[i].mean == v[i] && c[i].weight == 1.0);
    free(buf);
    vn_tdigest_destroy(&td);
    vn_tdigest_destroy(&back);

    /* more centroids than the stack buffer holds */
    assert_int_equal(vn_tdigest_init(&td, 2000), VN_OK);
    fx_rng_t r = {11};
    for (int i = 0; i < 3000; i++)
        assert_int_equal(vn_tdigest_add(&td, exp(fx_gauss(&r)), 1), VN_OK);
    assert_true(vn_tdigest_centroid_count(&td) > 512);
    buf = td_encode(&td, &len);
    assert_int_equal(vn_tdigest_decode(&back, buf, len), VN_OK);
    assert_int_equal(vn_tdigest_centroid_count(&back), vn_tdigest_centroid_count(&td));
    for (double q = 0; q <= 1.0; q += 0.001)
        assert_true(vn_tdigest_quantile(&back, q) == vn_tdigest_quantile(&td, q));
    vn_tdigest_destroy(&back);
    /* truncated by one byte: rejected on the first pass */
    assert_int_equal(vn_tdigest_decode(&back, buf, len - 1), VN_ERR_PROTO);
    vn_tdigest_destroy(&back);
    free(buf);
    vn_tdigest_destroy(&td);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tdigest__compact_matches_wide),
        cmocka_unit_test(test_tdigest__decode_fast_path_and_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
