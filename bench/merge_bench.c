/*
 * merge_bench.c - the global's merge rate: forwarded t-digests (as the wire
 * bytes a local sends, ~100 samples each) decoded and merged into one series
 * digest, and forwarded HLL blobs unmarshalled and merged. Prints digests/s
 * and sets/s on one core. Usage: merge_bench [n]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aggregate/hll.h"
#include "aggregate/tdigest.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    if (getenv("BENCH_QUICK") && getenv("BENCH_QUICK")[0] == '1')
        n /= 4;
    enum { BLOBS = 64 };
    static uint8_t dbuf[BLOBS][16384], hbuf[BLOBS][16384];
    size_t dlen[BLOBS], hlen[BLOBS];
    unsigned seed = 42;
    for (int b = 0; b < BLOBS; b++) {
        vn_tdigest_t td;
        vn_tdigest_init(&td, 100);
        vn_hll_t h;
        vn_hll_init(&h);
        for (int i = 0; i < 100; i++) {
            double v = (double)(rand_r(&seed) % 100000) / 7.0 + 1.0;
            vn_tdigest_add(&td, v, 1.0);
            uint64_t m = ((uint64_t)rand_r(&seed) << 31) ^ (uint64_t)rand_r(&seed);
            vn_hll_add(&h, &m, sizeof m);
        }
        if (vn_tdigest_encode(&td, dbuf[b], sizeof dbuf[b], &dlen[b]) != VN_OK ||
            vn_hll_marshal(&h, hbuf[b], sizeof hbuf[b], &hlen[b]) != VN_OK) {
            fprintf(stderr, "merge_bench: encode failed\n");
            return 1;
        }
        vn_tdigest_destroy(&td);
        vn_hll_destroy(&h);
    }
    vn_tdigest_t acc;
    vn_tdigest_init(&acc, 100);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        vn_tdigest_t in;
        vn_tdigest_init(&in, 100);
        if (vn_tdigest_decode(&in, dbuf[i % BLOBS], dlen[i % BLOBS]) == VN_OK)
            vn_tdigest_merge(&acc, &in);
        vn_tdigest_destroy(&in);
    }
    double t1 = now();
    vn_hll_t hacc;
    vn_hll_init(&hacc);
    double t2 = now();
    for (int i = 0; i < n; i++) {
        vn_hll_t in;
        vn_hll_init(&in);
        if (vn_hll_unmarshal(&in, hbuf[i % BLOBS], hlen[i % BLOBS]) == VN_OK)
            vn_hll_merge(&hacc, &in);
        vn_hll_destroy(&in);
    }
    double t3 = now();
    printf("bench=global_merge digests=%d digest_bytes=%zu digests_per_s=%.0f ns_per_digest=%.0f p99=%.1f\n", n,
           dlen[0], n / (t1 - t0), (t1 - t0) / n * 1e9, vn_tdigest_quantile(&acc, 0.99));
    printf("bench=global_merge sets=%d set_bytes=%zu sets_per_s=%.0f ns_per_set=%.0f estimate=%llu\n", n, hlen[0],
           n / (t3 - t2), (t3 - t2) / n * 1e9, (unsigned long long)vn_hll_estimate(&hacc));
    vn_tdigest_destroy(&acc);
    vn_hll_destroy(&hacc);
    return 0;
}
