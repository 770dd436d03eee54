/*
 * format_bench.c - ns per shortest float formatted (vn_gonum_format_float,
 * Go's FormatFloat(v, 'g', -1, 64)), the per-value cost of every sink's flush.
 *
 * Three value sets of 1e6 each, fixed seed:
 *   percentile  interpolated between two integer samples (arbitrary doubles:
 *               the general path)
 *   few_dec     counters, rates and gauges with <= 3 decimals (the fast path)
 *   mix         the two alternating
 * and two formatters:
 *   new         vn_gonum_format_float (double-conversion + few-decimal fast path)
 *   dtoa_only   core/dtoa.h digits for every value, no layout (is the
 *               few-decimal fast path still worth keeping?)
 *   old         the printf("%.*e") + strtod algorithm it replaced (issue 22),
 *               kept here only to measure against
 * Prints `bench=format_float set=... impl=... ns_per_value=...` lines.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dtoa.h"
#include "core/gonum.h"

#define NVALS 1000000
#define ROUNDS 3

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t g_rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545f4914f6cdd1dull;
}

/* ---- the pre-issue-22 digits, only the general path (the fast path is shared) */

static void old_rounded(double v, int prec, uint64_t *m, int *e)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    uint64_t x = 0;
    const char *c = tmp;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9')
            x = x * 10 + (uint64_t)(*c - '0');
    int ex = 0, es = 1;
    if (*c == 'e') {
        c++;
        if (*c == '-' || *c == '+')
            es = *c++ == '-' ? -1 : 1;
        for (; *c >= '0' && *c <= '9'; c++)
            ex = ex * 10 + (*c - '0');
    }
    *m = x;
    *e = es * ex - (prec - 1);
}

static bool old_reads_back(double v, uint64_t m, int e)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%" PRIu64 "e%d", m, e);
    return strtod(tmp, NULL) == v;
}

static int old_fast(double v, uint64_t *m, int *exp10)
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    for (int k = 0; k < 9; k++) {
        double scaled = v * p10[k];
        if (scaled >= 1e15)
            return 0;
        long long r = llround(scaled);
        if (r == 0 || (double)r / p10[k] != v)
            continue;
        *m = (uint64_t)r;
        *exp10 = -k;
        return 1;
    }
    return 0;
}

/* Go's 'g' text of finite v > 0, the layout as in core/gonum.c. */
static size_t old_format_g(double v, char *o)
{
    uint64_t m = 0;
    int e = 0;
    if (!(v >= DBL_MIN && old_fast(v, &m, &e))) {
        for (int prec = v < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
            old_rounded(v, prec, &m, &e);
            if (prec == 17 || old_reads_back(v, m, e))
                break;
            if (prec == 15 && v >= DBL_MIN)
                continue;
            if (old_reads_back(v, m + 1, e)) {
                m += 1;
                break;
            }
            if (m > 1 && old_reads_back(v, m - 1, e)) {
                m -= 1;
                break;
            }
        }
    }
    while (m % 10 == 0 && m != 0) {
        m /= 10;
        e++;
    }
    char d[24];
    int nd = 0;
    do {
        d[23 - nd++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    const char *digs = d + 24 - nd;
    int dp = nd + e, x = dp - 1;
    size_t n = 0;
    if (x < -4 || x >= 6) {
        o[n++] = digs[0];
        if (nd > 1) {
            o[n++] = '.';
            for (int i = 1; i < nd; i++)
                o[n++] = digs[i];
        }
        n += (size_t)snprintf(o + n, 8, x < 0 ? "e-%02d" : "e+%02d", x < 0 ? -x : x);
        return n;
    }
    if (dp <= 0)
        o[n++] = '0';
    for (int i = 0; i < dp; i++)
        o[n++] = i < nd ? digs[i] : '0';
    if (nd > dp) {
        o[n++] = '.';
        for (int i = dp; i < nd; i++)
            o[n++] = i < 0 ? '0' : digs[i];
    }
    o[n] = '\0';
    return n;
}

enum { IMPL_NEW, IMPL_DTOA, IMPL_OLD };

static double run(const double *vals, size_t n, int impl)
{
    double best = 1e30;
    volatile uint64_t sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t acc = 0;
        double t0 = now_ns();
        for (size_t i = 0; i < n; i++) {
            char out[VN_GONUM_FLOAT_MAX];
            int dp;
            if (impl == IMPL_NEW)
                acc += vn_gonum_format_float(vals[i], VN_GONUM_FMT_G, out, sizeof out);
            else if (impl == IMPL_DTOA)
                acc += (uint64_t)vn_dtoa_shortest(vals[i], out, &dp) + (uint64_t)dp;
            else
                acc += old_format_g(vals[i], out);
        }
        double dt = (now_ns() - t0) / (double)n;
        sink += acc;
        if (dt < best)
            best = dt;
    }
    return best;
}

int main(void)
{
    double *pct = malloc(NVALS * sizeof *pct), *few = malloc(NVALS * sizeof *few), *mix = malloc(NVALS * sizeof *mix);
    if (!pct || !few || !mix)
        return 1;
    for (size_t i = 0; i < NVALS; i++) {
        double u = (double)(rnd() >> 11) / 9007199254740992.0;
        double lo = (double)(rnd() % 100000), hi = lo + 1 + (double)(rnd() % 1000);
        pct[i] = lo + (hi - lo) * u;
        uint64_t r = rnd();
        few[i] = (r & 1) ? (double)(r % 100000 + 1) : (double)(r % 10000000 + 1) / 1000.0;
        mix[i] = (i & 1) ? pct[i] : few[i];
    }
    static const struct {
        const char *name;
        int impl;
    } impls[] = {{"new", IMPL_NEW}, {"dtoa_only", IMPL_DTOA}, {"old", IMPL_OLD}};
    static const char *const sets[] = {"percentile", "few_dec", "mix"};
    const double *data[] = {pct, few, mix};
    for (size_t s = 0; s < 3; s++)
        for (size_t k = 0; k < 3; k++)
            printf("bench=format_float set=%s impl=%s ns_per_value=%.1f\n", sets[s], impls[k].name,
                   run(data[s], NVALS, impls[k].impl));
    free(pct);
    free(few);
    free(mix);
    return 0;
}
