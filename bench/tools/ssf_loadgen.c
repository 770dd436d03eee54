/*
 * ssf_loadgen.c - SSF span load generator for `make bench` (bench/ssf_bench.py).
 * Standalone (no veneur-c code, so it measures the daemon, not itself): scripts/bench.sh
 * compiles it into build/bench-tools/. It lives in bench/tools/, apart from the
 * micro-benchmarks (bench/NAME.c, each run by make bench).
 *
 * Sends SSFSpan protobufs (proto/ssf.proto field numbers), one per UDP datagram, with
 * sendmmsg from a pool of pre-encoded spans (distinct ids), paced to -r spans/s (0 = as fast
 * as possible) for -d seconds. Each span is a valid trace (ids, start/end, service, name, one
 * tag); with -m 2 it also carries two samples: a counter "lg.c.ssf" = 1 (so the flushed
 * counter total equals the spans that arrived, read like loadgen's lg.c.* counters) and a
 * histogram "lg.h.ssf". Prints one summary line of key=value pairs:
 *   sent_spans sent_datagrams failed_datagrams seconds spans_per_s lines_per_s
 *   counter_sum udp_rcvbuferrors_delta
 * (lines_per_s and sent_datagrams mirror loadgen's names for the harness).
 *
 *   ssf_loadgen -H 127.0.0.1 -p PORT [-r SPANS_PER_S] [-d SECONDS] [-m 0|2] [-n POOL]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define SPAN_MAX 256

typedef struct {
    uint8_t b[SPAN_MAX];
    size_t n;
} pb_t;

static void put_varint(pb_t *p, uint64_t v)
{
    while (v >= 0x80) {
        p->b[p->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p->b[p->n++] = (uint8_t)v;
}

static void put_key(pb_t *p, unsigned field, unsigned wire) { put_varint(p, (uint64_t)(field << 3 | wire)); }

static void put_uint(pb_t *p, unsigned field, uint64_t v)
{
    put_key(p, field, 0);
    put_varint(p, v);
}

static void put_bytes(pb_t *p, unsigned field, const void *s, size_t len)
{
    put_key(p, field, 2);
    put_varint(p, len);
    memcpy(p->b + p->n, s, len);
    p->n += len;
}

static void put_str(pb_t *p, unsigned field, const char *s) { put_bytes(p, field, s, strlen(s)); }

static void put_float(pb_t *p, unsigned field, float v)
{
    put_key(p, field, 5);
    memcpy(p->b + p->n, &v, 4); /* little-endian host assumed (x86_64, aarch64) */
    p->n += 4;
}

static void put_map_entry(pb_t *p, unsigned field, const char *k, const char *v)
{
    pb_t e = {.n = 0};
    put_str(&e, 1, k);
    put_str(&e, 2, v);
    put_bytes(p, field, e.b, e.n);
}

static void sample(pb_t *span, unsigned metric, const char *name, float value)
{
    pb_t s = {.n = 0};
    if (metric)
        put_uint(&s, 1, metric);
    put_str(&s, 2, name);
    put_float(&s, 3, value);
    put_map_entry(&s, 8, "route", "home");
    put_bytes(span, 10, s.b, s.n);
}

static void encode(pb_t *p, uint64_t i, int samples)
{
    const uint64_t t0 = 1700000000000000000ull + i * 1000u;
    p->n = 0;
    put_uint(p, 2, i + 1);              /* trace_id */
    put_uint(p, 3, i + 1);              /* id */
    put_uint(p, 5, t0);                 /* start_timestamp */
    put_uint(p, 6, t0 + 1000000u);      /* end_timestamp */
    put_str(p, 8, "bench");             /* service */
    if (samples >= 1)
        sample(p, 0, "lg.c.ssf", 1.0f);  /* COUNTER */
    if (samples >= 2)
        sample(p, 2, "lg.h.ssf", (float)(i % 100)); /* HISTOGRAM */
    put_map_entry(p, 11, "env", "bench"); /* tags */
    put_str(p, 13, "op");               /* name */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Udp RcvbufErrors from /proc/net/snmp (system-wide, as loadgen reports it). */
static long long rcvbuf_errors(void)
{
    FILE *f = fopen("/proc/net/snmp", "r");
    if (!f)
        return 0;
    char hdr[1024], val[1024];
    long long out = 0;
    while (fgets(hdr, sizeof hdr, f)) {
        if (strncmp(hdr, "Udp:", 4) != 0 || !fgets(val, sizeof val, f))
            continue;
        int col = -1, k = 0;
        for (char *t = strtok(hdr, " \n"); t; t = strtok(NULL, " \n"), k++)
            if (strcmp(t, "RcvbufErrors") == 0)
                col = k;
        k = 0;
        for (char *t = strtok(val, " \n"); t; t = strtok(NULL, " \n"), k++)
            if (k == col)
                out = atoll(t);
        break;
    }
    fclose(f);
    return out;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, samples = 2, pool_n = 4096;
    double rate = 0, dur = 1.0;
    int o;
    while ((o = getopt(argc, argv, "H:p:r:d:m:n:")) != -1) {
        switch (o) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'd': dur = atof(optarg); break;
        case 'm': samples = atoi(optarg); break;
        case 'n': pool_n = atoi(optarg); break;
        default: fprintf(stderr, "usage: ssf_loadgen -H host -p port [-r spans/s] [-d s] [-m 0|2] [-n pool]\n"); return 2;
        }
    }
    if (port <= 0 || pool_n <= 0 || samples < 0 || samples > 2) {
        fprintf(stderr, "ssf_loadgen: bad arguments\n");
        return 2;
    }
    pb_t *pool = calloc((size_t)pool_n, sizeof *pool);
    if (!pool)
        return 1;
    for (int i = 0; i < pool_n; i++)
        encode(&pool[i], (uint64_t)i, samples);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("ssf_loadgen: socket");
        return 1;
    }
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    memset(msgs, 0, sizeof msgs);
    long long rb0 = rcvbuf_errors();
    unsigned long long sent = 0, failed = 0, next = 0;
    double t0 = now_s(), t = t0;
    while ((t = now_s()) - t0 < dur) {
        int n = BATCH;
        if (rate > 0) {
            double due = rate * (t - t0) - (double)(sent + failed);
            if (due < 1) {
                struct timespec ts = {0, 50000};
                nanosleep(&ts, NULL);
                continue;
            }
            if (due < n)
                n = (int)due;
        }
        for (int k = 0; k < n; k++) {
            pb_t *p = &pool[next++ % (unsigned long long)pool_n];
            iov[k] = (struct iovec){.iov_base = p->b, .iov_len = p->n};
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs, (unsigned)n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            failed += (unsigned long long)n; /* ECONNREFUSED (nobody bound), ENOBUFS, ... */
            continue;
        }
        sent += (unsigned long long)r;
        failed += (unsigned long long)(n - r);
    }
    double secs = now_s() - t0;
    usleep(100000); /* let the receiver's socket counters settle before the snapshot */
    long long rb1 = rcvbuf_errors();
    printf("sent_spans=%llu sent_datagrams=%llu failed_datagrams=%llu seconds=%.3f spans_per_s=%.0f lines_per_s=%.0f "
           "counter_sum=%llu udp_rcvbuferrors_delta=%lld\n",
           sent, sent, failed, secs, (double)sent / secs, (double)sent / secs, samples >= 1 ? sent : 0ULL, rb1 - rb0);
    free(pool);
    close(fd);
    return 0;
}
