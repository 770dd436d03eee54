/* bench_rank.h - exact rank of a value in a sorted sample, for the
 * benchmarks that report a t-digest's rank error (sketch_accuracy,
 * merge_bench). Header-only: each benchmark is one binary. */
#ifndef VN_BENCH_RANK_H
#define VN_BENCH_RANK_H

#include <stddef.h>

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* fraction of sorted[0,n) that is <= x */
static double rank_of(const double *sorted, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (double)lo / (double)n;
}

#endif
