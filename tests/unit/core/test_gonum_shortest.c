/* test_gonum_shortest.c - differential test of vn_gonum_format_float's
 * shortest digits (double-conversion since issue 22) against the algorithm it
 * replaced: printf's correctly rounded "%.*e" at 15, 16, 17 digits checked by
 * strtod round trips (with the m-1 / m+1 neighbours at power-of-two
 * boundaries and every length for subnormals). The reference lives here, not
 * in src: it is slow (microseconds per value) but obviously right, and every
 * byte of 'g' output must match it on a few million doubles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gonum.h"

#include "gonum_reference.h"
#include "../test_rng.h"

/* ------------------------------------------------ comparison */

static unsigned long long g_checked, g_failed;

static void check(double v)
{
    if (!isfinite(v))
        return;
    char want[VN_GONUM_FLOAT_MAX], got[VN_GONUM_FLOAT_MAX];
    size_t wn = ref_format_g(v, want);
    size_t gn = vn_gonum_format_float(v, VN_GONUM_FMT_G, got, sizeof got);
    g_checked++;
    if (wn != gn || memcmp(want, got, wn) != 0) {
        if (g_failed++ < 10) {
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            print_error("mismatch bits=0x%016" PRIx64 " want=%s got=%s\n", bits, want, got);
        }
    }
}

static void check_neighbours(double v, int k)
{
    check(v);
    double up = v, down = v;
    for (int i = 0; i < k; i++) {
        up = nextafter(up, INFINITY);
        down = nextafter(down, -INFINITY);
        check(up);
        check(down);
    }
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) { return vn_test_rng_next(&g_rng); }

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* Scale of the random runs; VN_SHORTEST_SCALE=10 for a longer soak. */
static unsigned long scale(void)
{
    const char *s = getenv("VN_SHORTEST_SCALE");
    long k = s ? atol(s) : 1;
    return k > 0 ? (unsigned long)k : 1;
}

static void assert_clean(const char *what)
{
    if (g_failed)
        print_error("%s: %llu of %llu differ\n", what, g_failed, g_checked);
    else
        print_message("%s: %llu values match\n", what, g_checked);
    assert_int_equal(g_failed, 0);
    g_failed = g_checked = 0;
}

static void test_shortest__random_bits(void **state)
{
    (void)state;
    unsigned long n = 1500000ul * scale();
    for (unsigned long i = 0; i < n; i++)
        check(from_bits(rnd()));
    assert_clean("random bits");
}

static void test_shortest__flush_like_values(void **state)
{
    (void)state;
    static const double div[] = {1, 2, 3, 7, 10, 100, 1000, 1e6, 1e9, 3.7, 60, 1024, 0.3};
    unsigned long n = 1000000ul * scale();
    for (unsigned long i = 0; i < n; i++) {
        uint64_t r = rnd();
        double u = (double)(r >> 11) / 9007199254740992.0; /* [0,1) */
        double x = u * 1e6;                                /* [0,1e6) */
        check(x);
        check(x / div[r % (sizeof div / sizeof div[0])]);
        /* an interpolated percentile between two integer samples */
        double lo = (double)(rnd() % 100000), hi = lo + (double)(rnd() % 1000);
        check(lo + (hi - lo) * u);
        check((double)(rnd() % 1000000) / div[(r >> 7) % (sizeof div / sizeof div[0])]);
        /* few decimals at every magnitude the fast path takes (and just past it) */
        static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
        uint64_t big = rnd() % (2000000000000000ull >> (rnd() % 50));
        check((double)big / p10[(r >> 20) % 10]);
    }
    assert_clean("flush-like values");
}

static void test_shortest__subnormals(void **state)
{
    (void)state;
    for (uint64_t m = 1; m < 5000; m++)
        check(from_bits(m));
    for (uint64_t m = (1ull << 52) - 5000; m < (1ull << 52) + 5000; m++)
        check(from_bits(m)); /* the subnormal/normal boundary, DBL_MIN */
    unsigned long n = 200000ul * scale();
    for (unsigned long i = 0; i < n; i++)
        check(from_bits(rnd() & ((1ull << 52) - 1)));
    assert_clean("subnormals");
}

static void test_shortest__powers_and_neighbours(void **state)
{
    (void)state;
    for (int k = -1074; k <= 1023; k++)
        check_neighbours(ldexp(1.0, k), 4);
    for (int k = -323; k <= 308; k++) {
        char s[32];
        snprintf(s, sizeof s, "1e%d", k);
        check_neighbours(strtod(s, NULL), 4);
        for (int d = 2; d <= 9; d++) {
            snprintf(s, sizeof s, "%de%d", d, k);
            check_neighbours(strtod(s, NULL), 2);
        }
    }
    check_neighbours(DBL_MAX, 8);
    check_neighbours(DBL_MIN, 8);
    assert_clean("powers and neighbours");
}

static void test_shortest__integers_near_2_53(void **state)
{
    (void)state;
    for (int shift = 49; shift <= 56; shift++) {
        double p = ldexp(1.0, shift);
        for (int i = -20000; i <= 20000; i++)
            check(p + (double)i * (shift > 53 ? ldexp(1.0, shift - 53) : 1.0));
    }
    for (double p = 1e14; p <= 1e17; p *= 10)
        check_neighbours(p, 2000);
    unsigned long n = 200000ul * scale();
    for (unsigned long i = 0; i < n; i++)
        check((double)(rnd() >> (rnd() % 64)));
    assert_clean("integers near 2^53");
}

static void test_shortest__negatives_and_zero(void **state)
{
    (void)state;
    check(0.0);
    check(-0.0);
    for (int i = 0; i < 100000; i++)
        check(-fabs(from_bits(rnd())));
    assert_clean("negatives and zero");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shortest__random_bits),
        cmocka_unit_test(test_shortest__flush_like_values),
        cmocka_unit_test(test_shortest__subnormals),
        cmocka_unit_test(test_shortest__powers_and_neighbours),
        cmocka_unit_test(test_shortest__integers_near_2_53),
        cmocka_unit_test(test_shortest__negatives_and_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
