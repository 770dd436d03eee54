/*
 * ingest_bench.c - CPU cost of the daemon's ingest path without the kernel:
 * packets of 20 DogStatsD lines (60 % counters, 20 % gauges, 20 % timers over
 * 100 names x 10 tag sets, like the peers comparison stream) go through the
 * reader path (parse, key, combine, batch) into real worker threads, then a
 * map swap. Prints CPU-seconds (user+sys of the whole process) per million
 * lines and wall-clock lines/s. Usage: ingest_bench [lines] [workers] [dog|name]
 * "name" folds the tag set into the name ("lg.c.n5.k3:1|c"), as the peers
 * comparison stream does (loadgen -T name); "dog" (default) sends "|#k:3".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "aggregate/events.h"
#include "aggregate/worker.h"
#include "listen/ingest.h"

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* The calling (reader) thread only: the workers' share is the rest. */
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long lines = argc > 1 ? atol(argv[1]) : 20000000;
    int nworkers = argc > 2 ? atoi(argv[2]) : 1;
    int named = argc > 3 && strcmp(argv[3], "name") == 0;
    /* 1000 pre-rendered packets so generation is not measured. */
    enum { NPKT = 1000, PER = 20 };
    char **pkts = malloc(NPKT * sizeof *pkts);
    size_t *lens = malloc(NPKT * sizeof *lens);
    unsigned seed = 7;
    for (int p = 0; p < NPKT; p++) {
        char buf[2048];
        size_t n = 0;
        for (int l = 0; l < PER; l++) {
            unsigned r = (unsigned)rand_r(&seed);
            unsigned kind = r % 10, name = (r / 10) % 100, tag = (r / 1000) % 10;
            if (named && kind < 6)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "lg.c.n%u.k%u:1|c\n", name, tag);
            else if (named && kind < 8)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "lg.g.n%u.k%u:%u|g\n", name, tag, r % 1000);
            else if (named)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "lg.t.n%u.k%u:%u|ms\n", name, tag, r % 1000);
            else if (kind < 6)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "lg.c.n%u:1|c|#k:%u\n", name, tag);
            else if (kind < 8)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "lg.g.n%u:%u|g|#k:%u\n", name, r % 1000, tag);
            else
                n += (size_t)snprintf(buf + n, sizeof buf - n, "lg.t.n%u:%u|ms|#k:%u\n", name, r % 1000, tag);
        }
        pkts[p] = malloc(n);
        memcpy(pkts[p], buf, n - 1);
        lens[p] = n - 1;
    }
    vn_stats_t stats;
    vn_stats_init(&stats);
    vn_worker_t **w = calloc((size_t)nworkers, sizeof *w);
    for (int i = 0; i < nworkers; i++)
        w[i] = vn_worker_start(i, 1, 0, &stats);
    vn_event_store_t ev;
    vn_event_store_init(&ev, 100, &stats);
    vn_parser_t parser = {0};
    vn_ingest_shared_t sh = {.parser = &parser, .workers = w, .nworkers = (size_t)nworkers, .events = &ev, .stats = &stats};
    vn_ingest_t *in = vn_ingest_new(&sh, 0);
    double c0 = cpu_seconds(), t0 = wall(), r0 = thread_cpu_seconds();
    long sent = 0;
    for (int p = 0; sent < lines; p = (p + 1) % NPKT) {
        vn_ingest_packet(in, pkts[p], lens[p]);
        sent += PER;
        if (p % 64 == 63)
            vn_ingest_commit(in); /* like one recvmmsg burst */
    }
    vn_ingest_commit(in);
    double r1 = thread_cpu_seconds();
    size_t series = 0;
    for (int i = 0; i < nworkers; i++) {
        vn_series_map_t *m = vn_worker_swap(w[i]);
        series += m->count;
        vn_series_map_free(m);
    }
    double c1 = cpu_seconds(), t1 = wall();
    printf("ingest_bench lines=%ld workers=%d series=%zu cpu_s_per_M_lines=%.4f reader_cpu_s_per_M_lines=%.4f "
           "lines_per_s=%.0f dropped=%llu\n",
           sent, nworkers, series, (c1 - c0) / ((double)sent / 1e6), (r1 - r0) / ((double)sent / 1e6),
           (double)sent / (t1 - t0),
           (unsigned long long)vn_stats_get(&stats.queue_dropped_samples));
    vn_ingest_free(in);
    for (int i = 0; i < nworkers; i++)
        vn_worker_free(w[i]);
    vn_event_store_destroy(&ev);
    for (int p = 0; p < NPKT; p++)
        free(pkts[p]);
    free(pkts);
    free(lens);
    free(w);
    return 0;
}
