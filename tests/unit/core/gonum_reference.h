/* gonum_reference.h - the shortest-digits algorithm core/gonum.c used before
 * issue 22 (printf's correctly rounded "%.*e" at 15, 16, 17 digits, checked by
 * strtod round trips, with the m-1 / m+1 neighbours), kept as the reference
 * the differential test (test_gonum_shortest.c) and bench/format_bench.c
 * compare the double-conversion path with. Header-only (static functions):
 * each includer is one binary. */
#ifndef VN_TEST_GONUM_REFERENCE_H
#define VN_TEST_GONUM_REFERENCE_H

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


static int ref_fast_digits(double v, uint64_t *m, int *exp10)
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

static void ref_rounded_digits(double v, int prec, uint64_t *m, int *e)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    uint64_t x = 0;
    const char *c = tmp;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9')
            x = x * 10 + (uint64_t)(*c - '0');
    int ex = 0, esign = 1;
    if (*c == 'e') {
        c++;
        if (*c == '-' || *c == '+')
            esign = *c++ == '-' ? -1 : 1;
        for (; *c >= '0' && *c <= '9'; c++)
            ex = ex * 10 + (*c - '0');
    }
    *m = x;
    *e = esign * ex - (prec - 1);
}

static bool ref_reads_back(double v, uint64_t m, int e)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%" PRIu64 "e%d", m, e);
    return strtod(tmp, NULL) == v;
}

/* Shortest digits of finite v > 0 as m * 10^e, m without trailing zeros. */
static void ref_shortest(double v, uint64_t *mo, int *eo)
{
    uint64_t m = 0;
    int e = 0;
    if (!(v >= DBL_MIN && ref_fast_digits(v, &m, &e))) {
        for (int prec = v < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
            ref_rounded_digits(v, prec, &m, &e);
            if (prec == 17 || ref_reads_back(v, m, e))
                break;
            if (prec == 15 && v >= DBL_MIN)
                continue;
            if (ref_reads_back(v, m + 1, e)) {
                m += 1;
                break;
            }
            if (m > 1 && ref_reads_back(v, m - 1, e)) {
                m -= 1;
                break;
            }
        }
    }
    while (m % 10 == 0 && m != 0) {
        m /= 10;
        e++;
    }
    *mo = m;
    *eo = e;
}

/* Go's 'g' text of finite v from the reference digits. */
static size_t ref_format_g(double v, char *o)
{
    size_t n = 0;
    if (signbit(v))
        o[n++] = '-';
    double a = fabs(v);
    if (a == 0) {
        o[n++] = '0';
        o[n] = '\0';
        return n;
    }
    uint64_t m;
    int e;
    ref_shortest(a, &m, &e);
    char digs[24];
    int nd = snprintf(digs, sizeof digs, "%" PRIu64, m);
    int dp = nd + e, x = dp - 1;
    if (x < -4 || x >= 6) {
        o[n++] = digs[0];
        if (nd > 1) {
            o[n++] = '.';
            memcpy(o + n, digs + 1, (size_t)nd - 1);
            n += (size_t)nd - 1;
        }
        n += (size_t)sprintf(o + n, x < 0 ? "e-%02d" : "e+%02d", x < 0 ? -x : x);
    } else {
        if (dp <= 0) {
            o[n++] = '0';
        } else {
            for (int i = 0; i < dp; i++)
                o[n++] = i < nd ? digs[i] : '0';
        }
        if (nd > dp) {
            o[n++] = '.';
            for (int i = dp; i < nd; i++)
                o[n++] = i < 0 ? '0' : digs[i];
        }
    }
    o[n] = '\0';
    return n;
}

#endif
