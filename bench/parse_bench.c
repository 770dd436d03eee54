/*
 * parse_bench.c - DogStatsD line parser throughput, in ns per line.
 *
 * Builds a fixed mix of 1e6 realistic metric lines (counters, timers with
 * rates, gauges, histograms, distributions with multi-values, sets; 1-6 tags
 * each, values varying per line) plus a few events and service checks, then
 * times three loops over them:
 *   parse         vn_parse_metric only
 *   parse+values  plus every value through the iterator and vn_tags_join
 *   +implicit     the same with two implicit tags (one overriding a key)
 * Deterministic (fixed seed); prints one `bench=... ns_per_line=...` line each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse/dogstatsd.h"

#define NLINES 1000000
#define ROUNDS 3

#define NTEMPLATES 10

/* One line of template k; literal formats keep -Wformat=2 checking on. */
static int make_line(char *b, size_t cap, size_t k, unsigned a, unsigned x, unsigned c, unsigned d)
{
    switch (k) {
    case 0: return snprintf(b, cap, "api.request.count:%u|c|#env:prod,host:web-%u,service:api,endpoint:/v1/users", a, c);
    case 1: return snprintf(b, cap, "api.request.latency:%u.%u|ms|@0.5|#env:prod,host:web-%u,service:api,status:200", a, x, c);
    case 2: return snprintf(b, cap, "db.pool.active:%u|g|#env:prod,db:primary", x);
    case 3: return snprintf(b, cap, "cache.hit_ratio:0.%u%u|g|#region:us-east-1,env:prod,cache:redis", x, d);
    case 4: return snprintf(b, cap, "queue.depth:%u|h|#queue:emails,env:prod,host:worker-%u", a, c);
    case 5: return snprintf(b, cap, "users.unique:user-%u-%u|s|#env:prod", a, d);
    case 6: return snprintf(b, cap, "payload.bytes:%u:%u:512:%u|d|#env:prod,host:web-%u,svc:ingest,kind:json,version:v2", a, x, d, c);
    case 7: return snprintf(b, cap, "jobs.processed:%u|c|@0.1|#worker:%u,env:prod,queue:default", x, c);
    case 8: return snprintf(b, cap, "gc.pause_ns:%u%u|h|#lang:go,env:prod,host:api-%u,service:api,pod:api-7d9f-%u,zone:b", a, x, c, d);
    default: return snprintf(b, cap, "heartbeat:1|c");
    }
}


static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint32_t rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

int main(void)
{
    size_t cap = (size_t)NLINES * 112;
    char *buf = malloc(cap);
    size_t *off = malloc(sizeof(size_t) * (NLINES + 1));
    if (!buf || !off)
        return 1;
    uint32_t seed = 42;
    size_t w = 0;
    for (size_t i = 0; i < NLINES; i++) {
        off[i] = w;
        unsigned a = rng(&seed) % 5000, b = rng(&seed) % 100, c = rng(&seed) % 64, d = rng(&seed) % 1000;
        int n = make_line(buf + w, cap - w, i % NTEMPLATES, a, b, c, d);
        if (n < 0 || (size_t)n >= cap - w)
            return 1;
        w += (size_t)n;
    }
    off[NLINES] = w;
    printf("bench=parse_input lines=%d bytes=%zu avg_line_bytes=%.1f\n", NLINES, w, (double)w / NLINES);

    static vn_metric_line_t m;
    static const vn_str_t imp[] = {VN_STR_LIT("env:staging"), VN_STR_LIT("dc:ams1")};
    const vn_parser_t plain = {NULL, 0}, with_imp = {imp, 2};
    char joined[1024];
    volatile double sink = 0;

    for (int mode = 0; mode < 3; mode++) {
        const vn_parser_t *p = mode == 2 ? &with_imp : &plain;
        double best = 1e300;
        for (int r = 0; r < ROUNDS; r++) {
            size_t errs = 0, vals = 0;
            double acc = 0;
            double t0 = now_ns();
            for (size_t i = 0; i < NLINES; i++) {
                if (vn_parse_metric(p, buf + off[i], off[i + 1] - off[i], &m) != VN_PARSE_OK) {
                    errs++;
                    continue;
                }
                if (mode == 0) {
                    acc += (double)m.ntags;
                    continue;
                }
                vn_value_iter_t it;
                vn_value_iter_init(&it, &m);
                if (m.type == VN_MT_SET) {
                    vn_str_t s;
                    while (vn_value_next_str(&it, &s) == 1)
                        vals += s.len;
                } else {
                    double v;
                    while (vn_value_next_num(&it, &v) == 1)
                        acc += v;
                }
                vals += vn_tags_join(m.tags, m.ntags, joined, sizeof(joined));
            }
            double dt = now_ns() - t0;
            sink += acc + (double)vals;
            if (errs)
                fprintf(stderr, "bench=parse errors=%zu\n", errs);
            if (dt < best)
                best = dt;
        }
        static const char *const names[] = {"parse", "parse+values+join", "parse+values+join+implicit"};
        printf("bench=%s lines=%d ns_per_line=%.1f lines_per_s=%.2fM\n", names[mode], NLINES, best / NLINES,
               NLINES / best * 1e3);
    }

    /* events and service checks are rare on the wire; a small sample */
    static vn_event_t ev;
    static vn_service_check_t sc;
    const char *el = "_e{10,19}:deploy api|version 1.2.3\\nfine|p:low|t:info|#env:prod,service:api";
    const char *sl = "_sc|api.health|0|d:1700000000|h:web-1|#env:prod,service:api|m:ok\\nall good";
    char scratch[256];
    size_t ok = 0;
    double t0 = now_ns();
    for (int i = 0; i < 200000; i++) {
        ok += vn_parse_event(&plain, el, strlen(el), 0, scratch, sizeof(scratch), &ev) == VN_PARSE_OK;
        ok += vn_parse_service_check(&plain, sl, strlen(sl), 0, scratch, sizeof(scratch), &sc) == VN_PARSE_OK;
    }
    double dt = now_ns() - t0;
    printf("bench=parse_event_sc lines=400000 ok=%zu ns_per_line=%.1f\n", ok, dt / 400000);
    (void)sink;
    free(buf);
    free(off);
    return 0;
}
