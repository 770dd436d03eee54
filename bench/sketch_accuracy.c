/*
 * sketch_accuracy.c - accuracy and speed of the t-digest and the HyperLogLog.
 *
 * Prints, for 1e6-value streams (uniform, lognormal(0,1), bimodal, exponential;
 * each in random, ascending and descending order) split into 100 contiguous
 * parts whose digests are merged into one: the rank error |F(quantile(q)) - q|
 * at q = 0.5, 0.9, 0.99, 0.999 for veneur-c's scale function and for Go's
 * (k1), and whether min, max, count and sum are exact. Then HyperLogLog
 * relative errors (mean |error| over 20 seeds) at 1e3..1e7 members and for a
 * union of two disjoint sets, ns per add and per merge, and bytes per sketch
 * (t-digest: after 1 sample, 1e3 samples, 1e3 merges of those, 2e6 samples).
 *
 * Usage: sketch_accuracy [-n values] [-quick] [-seed k] [-digest-only [-k1]]
 *                        [-compression c]
 *   -quick: 1e5 values, HLL up to 1e6; -seed: other streams than the unit
 *   tests' (robustness); -digest-only: only the rank-error table of the
 *   default scale (-k1: of Go's); -compression: for the rank-error tables.
 * Everything is seeded, so two runs print the same errors. Speeds are the best
 * of three runs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/hll.h"
#include "aggregate/metrohash.h"
#include "aggregate/tdigest.h"
#include "bench_rank.h"

#define PARTS 100

/* splitmix64: small, seedable, good enough for test data */
static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(rng() >> 11) * 0x1.0p-53; }
static double gauss(void)
{
    double u = unif(), v = unif();
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static const char *const DIST[] = {"uniform", "lognormal", "bimodal", "exponential"};
static const char *const ORDER[] = {"random", "ascending", "descending"};

static double draw(int dist)
{
    switch (dist) {
    case 0: return unif();
    case 1: return exp(gauss());
    case 2: return unif() < 0.7 ? gauss() : 6 + gauss(); /* modes at 0 and 6, 70/30 */
    default: return -log1p(-unif());
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const double QS[] = {0.5, 0.9, 0.99, 0.999};
static uint64_t seed_offset; /* -seed: other streams, to check robustness */
static double compression = 100;

static void digest_table(size_t n, vn_tdigest_scale_t scale)
{
    double *v = malloc(n * sizeof(double)), *s = malloc(n * sizeof(double));
    double worst[4] = {0};
    size_t max_centroids = 0;
    printf("\nt-digest, %s scale, compression %g: %zu values in %d merged parts\n",
           scale == VN_TDIGEST_SCALE_K1 ? "Go k1" : "veneur-c default", compression, n, PARTS);
    printf("%-12s %-10s %9s %9s %9s %9s  %9s  %s\n", "distribution", "order", "q=0.5", "q=0.9", "q=0.99",
           "q=0.999", "centroids", "min/max/count/sum exact");
    for (int d = 0; d < 4; d++) {
        for (int o = 0; o < 3; o++) {
            rng_state = 1234 + (uint64_t)d + seed_offset;
            double exact_sum = 0;
            for (size_t i = 0; i < n; i++)
                v[i] = draw(d);
            memcpy(s, v, n * sizeof(double));
            qsort(s, n, sizeof(double), cmp_dbl);
            if (o == 1)
                memcpy(v, s, n * sizeof(double));
            else if (o == 2)
                for (size_t i = 0; i < n; i++)
                    v[i] = s[n - 1 - i];
            for (size_t i = 0; i < n; i++)
                exact_sum += s[i]; /* ascending order: little cancellation */
            vn_tdigest_t all;
            (void)vn_tdigest_init_scale(&all, compression, scale);
            for (size_t p = 0; p < PARTS; p++) {
                vn_tdigest_t part;
                (void)vn_tdigest_init_scale(&part, compression, scale);
                for (size_t i = p * n / PARTS; i < (p + 1) * n / PARTS; i++)
                    (void)vn_tdigest_add(&part, v[i], 1);
                (void)vn_tdigest_merge(&all, &part);
                vn_tdigest_destroy(&part);
            }
            printf("%-12s %-10s", DIST[d], ORDER[o]);
            for (int k = 0; k < 4; k++) {
                double e = fabs(rank_of(s, n, vn_tdigest_quantile(&all, QS[k])) - QS[k]);
                worst[k] = e > worst[k] ? e : worst[k];
                printf(" %9.2e", e);
            }
            size_t nc = vn_tdigest_centroid_count(&all);
            max_centroids = nc > max_centroids ? nc : max_centroids;
            bool exact = vn_tdigest_min(&all) == s[0] && vn_tdigest_max(&all) == s[n - 1] &&
                         vn_tdigest_count(&all) == (double)n &&
                         fabs(vn_tdigest_sum(&all) - exact_sum) <= 1e-9 * fabs(exact_sum);
            printf("  %9zu  %s\n", nc, exact ? "yes" : "NO");
            vn_tdigest_destroy(&all);
        }
    }
    printf("%-23s %9.2e %9.2e %9.2e %9.2e  %9zu\n", "worst", worst[0], worst[1], worst[2], worst[3],
           max_centroids);
    free(v);
    free(s);
}

static void digest_speed(vn_tdigest_scale_t scale)
{
    const size_t n = 2000000;
    vn_tdigest_t td;
    rng_state = 99;
    double *v = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        v[i] = exp(gauss());
    double add_ns = INFINITY, t0;
    for (int rep = 0; rep < 3; rep++) {
        if (rep)
            vn_tdigest_destroy(&td);
        (void)vn_tdigest_init_scale(&td, 100, scale);
        t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            (void)vn_tdigest_add(&td, v[i], 1);
        vn_tdigest_compress(&td);
        add_ns = fmin(add_ns, (now_ns() - t0) / n);
    }

    /* merge: 1000 digests of 1000 samples each into one */
    const int parts = 1000;
    vn_tdigest_t *p = malloc(parts * sizeof(*p));
    for (int i = 0; i < parts; i++) {
        (void)vn_tdigest_init_scale(&p[i], 100, scale);
        for (int j = 0; j < 1000; j++)
            (void)vn_tdigest_add(&p[i], v[(size_t)i * 1000 + j], 1);
        vn_tdigest_compress(&p[i]);
    }
    vn_tdigest_t all;
    double merge_ns = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        (void)vn_tdigest_init_scale(&all, 100, scale);
        t0 = now_ns();
        for (int i = 0; i < parts; i++)
            (void)vn_tdigest_merge(&all, &p[i]);
        merge_ns = fmin(merge_ns, (now_ns() - t0) / parts);
        if (rep < 2)
            vn_tdigest_destroy(&all);
    }

    vn_tdigest_t one;
    (void)vn_tdigest_init_scale(&one, 100, scale);
    (void)vn_tdigest_add(&one, 1.0, 1);
    uint8_t *buf = malloc(vn_tdigest_encoded_size(&td));
    size_t len = 0;
    (void)vn_tdigest_encode(&td, buf, vn_tdigest_encoded_size(&td), &len);
    printf("%-18s add %6.1f ns   merge %8.0f ns   bytes: struct %zu + block (1 sample %zu, 1e3 samples %zu, "
           "1e3 merges %zu, 2e6 samples %zu, cap %zu)   wire %zu B (%zu centroids)\n",
           scale == VN_TDIGEST_SCALE_K1 ? "Go k1" : "veneur-c default", add_ns, merge_ns,
           sizeof(vn_tdigest_t),
           vn_tdigest_memory(&one), vn_tdigest_memory(&p[0]), vn_tdigest_memory(&all), vn_tdigest_memory(&td),
           scale == VN_TDIGEST_SCALE_K1 ? (size_t)0 : vn_tdigest_max_bytes(100), len,
           vn_tdigest_centroid_count(&td));
    free(buf);
    for (int i = 0; i < parts; i++)
        vn_tdigest_destroy(&p[i]);
    free(p);
    vn_tdigest_destroy(&all);
    vn_tdigest_destroy(&one);
    vn_tdigest_destroy(&td);
    free(v);
}

/* n distinct members: 12 bytes each, a tag, the seed and the index (the
 * same members as tests/unit/aggregate/test_hll.c) */
static void fill_hll(vn_hll_t *h, uint32_t tag, uint32_t seed, long n)
{
    uint32_t m[3] = {tag, seed, 0};
    for (long i = 0; i < n; i++) {
        m[2] = (uint32_t)i;
        vn_hll_add(h, m, sizeof m);
    }
}

static void hll_table(long max_n)
{
    const int seeds = 20;
    printf("\nHyperLogLog p=14: mean |relative error| over %d seeds (Go's estimator in brackets)\n", seeds);
    for (long n = 1000; n <= max_n; n *= 10) {
        double ours = 0, go = 0;
        for (int s = 0; s < seeds; s++) {
            vn_hll_t h;
            vn_hll_init(&h);
            fill_hll(&h, 1, (uint32_t)s, n);
            ours += fabs((double)vn_hll_estimate(&h) - n) / n;
            go += fabs((double)vn_hll_estimate_go(&h) - n) / n;
            vn_hll_destroy(&h);
        }
        printf("  n=%-9ld %6.3f%%  [%6.3f%%]\n", n, 100 * ours / seeds, 100 * go / seeds);
    }
    long sizes[][2] = {{2000, 3000}, {40000, 60000}, {300000, 700000}};
    for (int k = 0; k < 3; k++) {
        double err = 0;
        for (int s = 0; s < seeds; s++) {
            vn_hll_t a, b;
            vn_hll_init(&a);
            vn_hll_init(&b);
            fill_hll(&a, 2, (uint32_t)s, sizes[k][0]);
            fill_hll(&b, 3, (uint32_t)s, sizes[k][1]);
            (void)vn_hll_merge(&a, &b);
            double n = (double)(sizes[k][0] + sizes[k][1]);
            err += fabs((double)vn_hll_estimate(&a) - n) / n;
            vn_hll_destroy(&a);
            vn_hll_destroy(&b);
        }
        printf("  union %ld + %ld disjoint: %6.3f%%\n", sizes[k][0], sizes[k][1], 100 * err / seeds);
    }
}

static void hll_speed(void)
{
    const long n = 4000000;
    vn_hll_t h;
    uint64_t *keys = malloc(n * sizeof(uint64_t));
    rng_state = 5;
    for (long i = 0; i < n; i++)
        keys[i] = rng();
    double add_ns = INFINITY, sparse_ns = INFINITY, t0;
    for (int rep = 0; rep < 3; rep++) {
        if (rep)
            vn_hll_destroy(&h);
        vn_hll_init(&h);
        t0 = now_ns();
        for (long i = 0; i < n; i++)
            vn_hll_add(&h, &keys[i], sizeof(keys[i]));
        add_ns = fmin(add_ns, (now_ns() - t0) / n);

        /* sparse: 200 sketches of 5000 members, list merges included */
        t0 = now_ns();
        for (long i = 0; i < 200; i++) {
            vn_hll_t small;
            vn_hll_init(&small);
            for (long j = 0; j < 5000; j++)
                vn_hll_add(&small, &keys[i * 5000 + j], 8);
            vn_hll_destroy(&small);
        }
        sparse_ns = fmin(sparse_ns, (now_ns() - t0) / 1000000);
    }

    vn_hll_t dense, acc;
    vn_hll_init(&dense);
    vn_hll_init(&acc);
    for (long i = 0; i < 100000; i++)
        vn_hll_add(&dense, &keys[i], 8);
    const int rounds = 2000;
    double merge_ns = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        t0 = now_ns();
        for (int i = 0; i < rounds; i++)
            (void)vn_hll_merge(&acc, &dense);
        merge_ns = fmin(merge_ns, (now_ns() - t0) / rounds);
    }

    vn_hll_t tiny;
    vn_hll_init(&tiny);
    vn_hll_add(&tiny, "foo", 3);
    printf("\nHyperLogLog: add %.1f ns (dense; sparse up to 5000 members, list merges included: %.1f ns), "
           "dense merge %.0f ns; bytes: struct %zu + heap (1 member %zu, dense %zu); wire 1 member %zu B, "
           "dense %zu B\n",
           add_ns, sparse_ns, merge_ns, sizeof(vn_hll_t), vn_hll_memory(&tiny), vn_hll_memory(&h),
           vn_hll_marshal_size(&tiny), vn_hll_marshal_size(&h));
    vn_hll_destroy(&tiny);
    vn_hll_destroy(&dense);
    vn_hll_destroy(&acc);
    vn_hll_destroy(&h);
    free(keys);
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    long hll_max = 10000000;
    bool digest_only = false;
    vn_tdigest_scale_t only_scale = VN_TDIGEST_SCALE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-quick") == 0) {
            n = 100000;
            hll_max = 1000000;
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-seed") == 0 && i + 1 < argc) {
            seed_offset = strtoull(argv[++i], NULL, 10) * 7919;
        } else if (strcmp(argv[i], "-digest-only") == 0) {
            digest_only = true;
        } else if (strcmp(argv[i], "-k1") == 0) {
            only_scale = VN_TDIGEST_SCALE_K1;
        } else if (strcmp(argv[i], "-compression") == 0 && i + 1 < argc) {
            compression = strtod(argv[++i], NULL);
        }
    }
    if (n < PARTS)
        n = PARTS;
    if (digest_only) {
        digest_table(n, only_scale);
        return 0;
    }
    digest_table(n, VN_TDIGEST_SCALE_DEFAULT);
    digest_table(n, VN_TDIGEST_SCALE_K1);
    printf("\nt-digest speed (lognormal values, compression 100):\n");
    digest_speed(VN_TDIGEST_SCALE_DEFAULT);
    digest_speed(VN_TDIGEST_SCALE_K1);
    hll_table(hll_max);
    hll_speed();
    return 0;
}
