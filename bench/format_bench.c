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
 * Usage: format_bench [format|jsonl] (default both).
 * Prints `bench=format_float set=... impl=... ns_per_value=...` lines.
 *
 * Then the localfile jsonl sink's encoding (its flush op, writing to
 * /dev/null) over a 1 M-series 1:1:1 flush's 2.67 M lines, as flush_bench
 * emits them (a counter, a set, a timer's min/max/count/p50/p75/p99), with
 * integer values (one sample per timer) and with interpolated ones:
 * `bench=jsonl_sink values=... ns_per_line=...` (thread CPU time, best of 3).
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
#include "sinks/sink.h"
#include "../tests/unit/test_rng.h"

#define NVALS 1000000
#define ROUNDS 3

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t g_rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void) { return vn_test_rng_next(&g_rng); }

/* the pre-issue-22 digits: the differential test's reference */
#include "../tests/unit/core/gonum_reference.h"

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
                acc += ref_format_g(vals[i], out);
        }
        double dt = (now_ns() - t0) / (double)n;
        sink += acc;
        if (dt < best)
            best = dt;
    }
    return best;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define JSONL_SERIES 1000000
#define JSONL_CHUNK 8192

static int jsonl_bench(bool interpolated)
{
    static const char *const suffix[] = {"", "", ".min", ".max", ".count", ".50percentile", ".75percentile",
                                         ".99percentile"};
    static const vn_im_type_t type[] = {VN_IM_COUNTER, VN_IM_GAUGE, VN_IM_GAUGE, VN_IM_GAUGE,
                                        VN_IM_COUNTER, VN_IM_GAUGE, VN_IM_GAUGE, VN_IM_GAUGE};
    size_t n = (size_t)JSONL_SERIES / 3 * 8;
    vn_inter_metric_t *m = calloc(n, sizeof *m);
    char *names = malloc(n * 40);
    if (!m || !names)
        return 1;
    for (size_t i = 0; i < n; i++) {
        size_t series = i / 8, k = i % 8;
        char *nm = names + i * 40;
        snprintf(nm, 40, "lg.%c.n%zu%s", k == 0 ? 'c' : k == 1 ? 's' : 't', series, suffix[k]);
        double u = (double)(rnd() >> 11) / 9007199254740992.0;
        double sample = (double)(rnd() % 1000);
        m[i].name = nm;
        m[i].timestamp = 1700000000;
        m[i].type = type[k];
        m[i].value = k >= 5 && interpolated ? sample + 100 * u : k == 4 || k < 2 ? 1 : sample;
    }
    vn_kv_t kv[2] = {{.key = (char *)"flush_file", .value = (char *)"/dev/null"},
                     {.key = (char *)"format", .value = (char *)"jsonl"}};
    vn_sink_config_t sc = {.kind = (char *)"localfile", .name = (char *)"file", .kv = kv, .n_kv = 2};
    vn_sink_t *s = NULL;
    char err[256];
    if (vn_sink_new(&sc, NULL, &s, err, sizeof err) != VN_OK) {
        fprintf(stderr, "format_bench: localfile: %s\n", err);
        return 1;
    }
    vn_flush_info_t info = {.timestamp = 1700000000, .interval_s = 10, .hostname = "bench", .deadline_s = 1e12};
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = cpu_ns();
        for (size_t i = 0; i < n; i += JSONL_CHUNK)
            s->ops->flush(s, m + i, n - i < JSONL_CHUNK ? n - i : JSONL_CHUNK, &info);
        double dt = (cpu_ns() - t0) / (double)n;
        if (dt < best)
            best = dt;
    }
    printf("bench=jsonl_sink values=%s lines=%zu ns_per_line=%.1f\n", interpolated ? "interpolated" : "integer", n,
           best);
    vn_sink_free(s);
    free(m);
    free(names);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "jsonl") == 0)
        return jsonl_bench(false) || jsonl_bench(true);
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
    if (argc > 1 && strcmp(argv[1], "format") == 0)
        return 0;
    return jsonl_bench(false) || jsonl_bench(true);
}
