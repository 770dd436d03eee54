/*
 * routing_bench.c - cost of sink routing per metric per rule (flush/routing.h),
 * as one sink runner pays it on a chunk of 16 384 flushed metrics with 4 tags
 * each. Rules are one matcher each, of the kind named; each names the sink
 * under `matched`, so every rule is evaluated for every metric that no earlier
 * rule sent (the worst case: most metrics match none). Reported:
 *   ns_per_metric_per_rule = time of vn_sink_route_apply / (metrics * rules)
 * plus the cost of the limits alone (strip_tags + add_tags + max_tags) per metric.
 * BENCH_QUICK shortens the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "flush/routing.h"

enum { N = 16384, NT = 4 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static vn_config_t *load(const char *yaml)
{
    char err[512];
    char *env[] = {NULL};
    vn_config_t *cfg = NULL;
    if (vn_config_load(yaml, strlen(yaml), env, false, &cfg, err, sizeof err) != VN_OK) {
        fprintf(stderr, "routing_bench: config: %s\n", err);
        exit(1);
    }
    return cfg;
}

static const char *matcher(const char *kind, int i, char *buf, size_t cap)
{
    if (strcmp(kind, "prefix") == 0)
        snprintf(buf, cap, "{name: {kind: prefix, value: 'nomatch%d.'}}", i);
    else if (strcmp(kind, "regex") == 0)
        snprintf(buf, cap, "{name: {kind: regex, value: '^svc%d\\.(?:db|cache)\\.\\w+_ms$'}}", i + 1000);
    else /* tag: any name, a tag matcher that looks at every tag */
        snprintf(buf, cap, "{name: {kind: any}, tags: [{kind: prefix, value: 'nomatch%d:'}]}", i);
    return buf;
}

int main(void)
{
    int iters = getenv("BENCH_QUICK") ? 20 : 100;
    static char names[N][48], tagbuf[N][NT][24];
    static const char *tags[N][NT];
    static vn_inter_metric_t in[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "svc%d.http.request_latency_ms", i % 97);
        for (int t = 0; t < NT; t++) {
            snprintf(tagbuf[i][t], sizeof tagbuf[i][t], "%s:%d", (const char *[]){"az", "env", "host", "route"}[t],
                     (i * 7 + t) % 1000);
            tags[i][t] = tagbuf[i][t];
        }
        in[i] = (vn_inter_metric_t){.name = names[i], .tags = tags[i], .ntags = NT, .value = i};
    }
    static const char *kinds[] = {"prefix", "regex", "tag"};
    static const int nrules[] = {1, 8};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t r = 0; r < sizeof nrules / sizeof nrules[0]; r++) {
            char yaml[8192], m[256];
            size_t o = (size_t)snprintf(yaml, sizeof yaml,
                                        "features: {enable_metric_sink_routing: true}\n"
                                        "metric_sinks: [{kind: debug, name: s}]\nmetric_sink_routing:\n");
            for (int i = 0; i < nrules[r]; i++)
                o += (size_t)snprintf(yaml + o, sizeof yaml - o, "  - {name: r%d, match: [%s], sinks: {matched: [s]}}\n",
                                      i, matcher(kinds[k], i, m, sizeof m));
            vn_config_t *cfg = load(yaml);
            vn_sink_route_t *route = NULL;
            char err[256];
            if (vn_sink_route_new(cfg, "s", &route, err, sizeof err) != VN_OK || !route) {
                fprintf(stderr, "routing_bench: %s\n", err);
                return 1;
            }
            vn_route_scratch_t sc = {0};
            vn_route_counts_t counts = {0};
            const vn_inter_metric_t *out;
            size_t kept = vn_sink_route_apply(route, in, N, &sc, &out, &counts); /* warm: scratch grown once */
            double t0 = now_s();
            for (int it = 0; it < iters; it++)
                kept = vn_sink_route_apply(route, in, N, &sc, &out, &counts);
            double dt = now_s() - t0;
            printf("bench=routing kind=%s rules=%d metrics=%d tags=%d routed=%zu ns_per_metric=%.1f "
                   "ns_per_metric_per_rule=%.1f\n",
                   kinds[k], nrules[r], N, NT, kept, dt * 1e9 / ((double)iters * N),
                   dt * 1e9 / ((double)iters * N * nrules[r]));
            vn_route_scratch_free(&sc);
            vn_sink_route_free(route);
            vn_config_free(cfg);
        }
    /* limits alone: every metric routed (any), strip one tag, add one, max_tags */
    vn_config_t *cfg = load("features: {enable_metric_sink_routing: true}\n"
                            "metric_sinks:\n  - kind: debug\n    name: s\n    max_tags: 8\n    max_tag_length: 64\n"
                            "    strip_tags: [{kind: prefix, value: 'host:'}]\n    add_tags: {team: core}\n"
                            "metric_sink_routing: [{name: r, match: [{name: {kind: any}}], sinks: {matched: [s]}}]\n");
    vn_sink_route_t *route = NULL;
    vn_sink_route_new(cfg, "s", &route, NULL, 0);
    vn_route_scratch_t sc = {0};
    vn_route_counts_t counts = {0};
    const vn_inter_metric_t *out;
    size_t kept = vn_sink_route_apply(route, in, N, &sc, &out, &counts);
    double t0 = now_s();
    for (int it = 0; it < iters; it++)
        kept = vn_sink_route_apply(route, in, N, &sc, &out, &counts);
    double dt = now_s() - t0;
    printf("bench=routing_limits strip=1 add=1 max_tags=8 metrics=%d tags=%d routed=%zu ns_per_metric=%.1f\n", N, NT,
           kept, dt * 1e9 / ((double)iters * N));
    vn_route_scratch_free(&sc);
    vn_sink_route_free(route);
    vn_config_free(cfg);
    return 0;
}
