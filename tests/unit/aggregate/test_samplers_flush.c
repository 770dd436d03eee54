/* test_samplers_flush.c - vn_histo_flush's one-value shortcut (vn_tdigest_single) gives
 * exactly what the digest's own quantile gives, bit for bit, signed zeros included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "aggregate/samplers.h"
#include "core/metric.h"

static const double PCT[] = {0.0, 0.25, 0.5, 0.75, 0.99, 0.999, 1.0};
static const char *const PCT_NAMES[] = {".0percentile",  ".25percentile", ".50percentile", ".75percentile",
                                        ".99percentile", ".99_9percentile", ".100percentile"};
#define NPCT (sizeof PCT / sizeof PCT[0])

static void assert_same_bits(double a, double b)
{
    if (memcmp(&a, &b, sizeof a) != 0)
        fail_msg("%.17g (bits differ) != %.17g", a, b);
}

/* Flushes h (shortcut path) and checks each quantile output against a twin fed the same samples. */
static void check_against_twin(const double *vals, const double *rates, size_t n, bool expect_single)
{
    vn_histo_t h, twin;
    vn_histo_init(&h);
    vn_histo_init(&twin);
    for (size_t i = 0; i < n; i++) {
        vn_histo_sample(&h, vals[i], rates[i]);
        vn_histo_sample(&twin, vals[i], rates[i]);
    }
    double one;
    assert_int_equal(vn_tdigest_single(&h.digest, &one), expect_single);
    vn_histo_out_t out[7 + NPCT];
    unsigned agg = VN_AGG_MAX | VN_AGG_MIN | VN_AGG_COUNT | VN_AGG_MEDIAN;
    size_t k = vn_histo_flush(&h, agg, PCT, PCT_NAMES, NPCT, false, out);
    assert_true(k >= NPCT + 1);
    for (size_t i = 0; i < NPCT; i++)
        assert_same_bits(out[k - NPCT + i].value, vn_tdigest_quantile(&twin.digest, PCT[i]));
    for (size_t i = 0; i < k; i++)
        if (strcmp(out[i].suffix, ".median") == 0)
            assert_same_bits(out[i].value, vn_tdigest_quantile(&twin.digest, 0.5));
    vn_histo_destroy(&h);
    vn_histo_destroy(&twin);
}

static void test_samplers__single_value_quantiles_exact(void **state)
{
    (void)state;
    const double vals[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1e-310, -1e-310, DBL_MIN, DBL_MAX, -DBL_MAX, 123456.789};
    const double rates[] = {1.0, 0.5, 0.001, 1e-300};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        for (size_t j = 0; j < sizeof rates / sizeof rates[0]; j++)
            check_against_twin(&vals[i], &rates[j], 1, true);
}

static void test_samplers__not_single(void **state)
{
    (void)state;
    const double two[] = {1.0, 2.0}, same[] = {3.0, 3.0}, r[] = {1.0, 1.0};
    check_against_twin(two, r, 2, false);
    check_against_twin(same, r, 2, false); /* two pending samples: the full path */
    check_against_twin(two, r, 0, false);  /* empty: NaN quantiles from the digest */
    /* folded into one centroid (a query folds): still exact */
    vn_histo_t h;
    vn_histo_init(&h);
    vn_histo_sample(&h, -0.0, 1.0);
    (void)vn_tdigest_quantile(&h.digest, 0.5);
    double one;
    assert_true(vn_tdigest_single(&h.digest, &one));
    assert_same_bits(vn_tdigest_quantile(&h.digest, 0.3), one + 0.0);
    assert_same_bits(vn_tdigest_quantile(&h.digest, 1.0), one);
    vn_histo_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samplers__single_value_quantiles_exact),
        cmocka_unit_test(test_samplers__not_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
