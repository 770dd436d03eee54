/*
 * flush_bench.c - wall time of the flusher's own work for one interval of
 * 1 M series (issue 22): turning two workers' swapped maps into bounded
 * output chunks and freeing the maps, with no sink attached (a sink's own
 * time is the sink's; the daemon figure veneur_flush_duration_seconds adds
 * the wait on sink queues). Two cases: counters only, and a 1:1:1 mix of
 * counters, timers (one sample each) and sets (one member each), with keys
 * like loadgen's ("lg.c.n123"). Each case is built and flushed RUNS times;
 * prints the median and min ms.
 * Usage: flush_bench [series] [runs]   (BENCH_QUICK=1: 250 k series, 3 runs)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/series_key.h"
#include "aggregate/series_map.h"
#include "flush/flusher.h"

#define WORKERS 2

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fills WORKERS maps as the readers' hash % workers would. mix: 1:1:1 counter/timer/set. */
static void build(vn_series_map_t **maps, size_t n, int mix)
{
    static const char tc[] = {'c', 't', 's'};
    static const vn_mtype_t tt[] = {VN_MT_COUNTER, VN_MT_TIMER, VN_MT_SET};
    for (int w = 0; w < WORKERS; w++)
        maps[w] = vn_series_map_new(0);
    for (size_t i = 0; i < n; i++) {
        int k = mix ? (int)(i % 3) : 0;
        char key[64];
        int len = snprintf(key, sizeof key, "lg.%c.n%zu", tc[k], i);
        uint32_t h = vn_series_key_hash(key, (size_t)len, tt[k]);
        vn_series_t *s = vn_series_map_upsert(maps[h % WORKERS], h, (uint8_t)tt[k], VN_SCOPE_MIXED, key, (size_t)len);
        if (!s)
            abort();
        switch (k) {
        case 0: s->u.counter += 1.0; break;
        case 1: vn_histo_sample(s->u.histo, (double)(i % 1000), 1.0); break;
        default: vn_hll_add(s->u.set, &i, sizeof i); break;
        }
    }
}

/* What flush_once does between the swap and the sinks (nsinks 0: each chunk is dropped as it fills). */
__attribute__((noinline)) static size_t flush(vn_series_map_t **maps, const vn_flush_rules_t *r)
{
    size_t metrics = 0;
    vn_flush_output_t out;
    vn_flush_output_init(&out);
    for (int w = 0; w < WORKERS; w++)
        vn_series_map_drop_index(maps[w]);
    for (int w = 0; w < WORKERS; w++) {
        while (!vn_flush_generate_drain(maps[w], VN_FLUSH_CHUNK_MAX_METRICS, VN_FLUSH_CHUNK_MAX_BYTES, r, 1700000000,
                                        &out)) {
            metrics += out.n;
            vn_flush_output_destroy(&out);
            vn_flush_output_init(&out);
        }
        vn_series_map_free(maps[w]);
        maps[w] = NULL;
    }
    metrics += out.n;
    vn_flush_output_destroy(&out);
    return metrics;
}

int main(int argc, char **argv)
{
    int quick = getenv("BENCH_QUICK") && getenv("BENCH_QUICK")[0] == '1';
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : (quick ? 250000 : 1000000);
    int runs = argc > 2 ? atoi(argv[2]) : (quick ? 3 : 7);
    if (runs < 1 || runs > 64)
        runs = 7;
    static const double pct[] = {0.5, 0.75, 0.99};
    static const char *const pct_names[] = {".50percentile", ".75percentile", ".99percentile"};
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT,
                          .percentiles = pct,
                          .pct_names = pct_names,
                          .npct = 3,
                          .is_local = false,
                          .hostname = "bench-host"};
    const char *names[] = {"counters", "mix_c_t_s"};
    for (int mix = 0; mix < 2; mix++) {
        double ms[64];
        size_t metrics = 0;
        for (int i = 0; i < runs; i++) {
            vn_series_map_t *maps[WORKERS];
            build(maps, n, mix);
            double t0 = now();
            metrics = flush(maps, &r);
            ms[i] = (now() - t0) * 1e3;
        }
        qsort(ms, (size_t)runs, sizeof ms[0], cmp_d);
        printf("flush_%s series=%zu workers=%d metrics_out=%zu runs=%d median_ms=%.1f min_ms=%.1f\n", names[mix], n,
               WORKERS, metrics, runs, ms[runs / 2], ms[0]);
    }
    return 0;
}
