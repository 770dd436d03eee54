/*
 * proxy_bench.c - veneur-proxy's routing path without the inbound gRPC
 * side: metricpb.Metric messages (a name from 10 000, 3 tags, one ignored by
 * an ignore_tags prefix matcher, a 20-centroid t-digest: ~460 bytes, what a
 * local forwards for a histogram) go through vn_route_metric to 3
 * destinations on loopback, each an h2_server that only counts messages, over
 * the proxy's real long-lived streams. Prints the routing cost on the calling
 * thread (ns per metric) and the delivered rate (metrics/s and MB/s until the
 * last message is counted by the servers). The messages are routed as the
 * proxy's server thread routes them: framed back to back in a just-received
 * 32 KiB buffer, after an untimed warm-up pass (see main). Usage:
 * proxy_bench [metrics]; PROXY_BENCH_LAYOUT=cold for the older cold layout.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/clock.h"
#include "forward/grpc_frame.h"
#include "forward/h2_server.h"
#include "proxy/router.h"
#include "proxy/tag_match.h"

static _Atomic uint64_t g_received;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *b_open(void *ctx, const char *path, vn_grpc_status_t *st, const char **msg)
{
    (void)path;
    (void)st;
    (void)msg;
    return ctx;
}
static vn_grpc_status_t b_message(void *call, const uint8_t *d, size_t len, const char **msg)
{
    (void)call;
    (void)d;
    (void)len;
    (void)msg;
    atomic_fetch_add_explicit(&g_received, 1, memory_order_relaxed);
    return VN_GRPC_OK;
}
static vn_grpc_status_t b_finish(void *call, const char **msg)
{
    (void)call;
    (void)msg;
    return VN_GRPC_OK;
}
static void b_close(void *call, vn_grpc_status_t f)
{
    (void)call;
    (void)f;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* name (1), three tags (2), type Histogram (3), histogram{t_digest{20 centroids, compression}} (7) */
static size_t make_metric(uint8_t *out, unsigned i)
{
    uint8_t digest[512];
    size_t dn = 0;
    for (int c = 0; c < 20; c++) {
        uint8_t cen[18] = {0x09};
        double mean = i + c, w = 1;
        memcpy(cen + 1, &mean, 8);
        cen[9] = 0x11;
        memcpy(cen + 10, &w, 8);
        digest[dn++] = 0x0a;
        digest[dn++] = 18;
        memcpy(digest + dn, cen, 18);
        dn += 18;
    }
    double comp = 100;
    digest[dn++] = 0x11;
    memcpy(digest + dn, &comp, 8);
    dn += 8;
    size_t o = 0;
    char s[64];
    int n = snprintf(s, sizeof s, "app.request.latency.%u", i % 10000);
    out[o++] = 0x0a;
    out[o++] = (uint8_t)n;
    memcpy(out + o, s, (size_t)n);
    o += (size_t)n;
    const char *tags[3] = {"env:prod", "service:api", NULL};
    char host[32];
    snprintf(host, sizeof host, "host:h%u", i % 97);
    tags[2] = host;
    for (int t = 0; t < 3; t++) {
        out[o++] = 0x12;
        out[o++] = (uint8_t)strlen(tags[t]);
        memcpy(out + o, tags[t], strlen(tags[t]));
        o += strlen(tags[t]);
    }
    out[o++] = 0x18;
    out[o++] = 2;
    /* HistogramValue{t_digest = 1} inside field 7 */
    uint8_t hv[600];
    size_t hn = 0;
    hv[hn++] = 0x0a;
    hn += put_varint(hv + hn, dn);
    memcpy(hv + hn, digest, dn);
    hn += dn;
    out[o++] = 0x3a;
    o += put_varint(out + o, hn);
    memcpy(out + o, hv, hn);
    o += hn;
    return o;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    vn_h2_server_t *srv[3];
    char addrs[3][64];
    const char *ap[3];
    for (int i = 0; i < 3; i++) {
        char err[256];
        vn_h2_server_opts_t o = {.address = "127.0.0.1:0",
                                 .handler = {.open = b_open, .message = b_message, .finish = b_finish,
                                             .close = b_close, .ctx = &srv[i]}};
        if (vn_h2_server_start(&o, &srv[i], err, sizeof err) != VN_OK) {
            fprintf(stderr, "server: %s\n", err);
            return 1;
        }
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", vn_h2_server_port(srv[i]));
        ap[i] = addrs[i];
    }
    vn_tag_matcher_t ign_cfg = {.kind = "prefix", .value = "host:"};
    vn_tagm_set_t ign;
    char err[256];
    vn_tagm_set_init(&ign, &ign_cfg, 1, err, sizeof err);
    vn_proxy_stats_t st;
    memset(&st, 0, sizeof st);
    vn_router_opts_t ro = {.dial_timeout_s = 2, .queue_max_msgs = 1u << 20, .ignore = &ign, .stats = &st};
    vn_router_t *r = vn_router_new(&ro);
    vn_router_add_static(r, ap, 3);
    double t_end = vn_clock_mono_s() + 5;
    while (vn_router_healthy(r) < 3 && vn_clock_mono_s() < t_end) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    enum { NMSG = 4096 };
    static uint8_t msgs[NMSG][1024];
    static size_t lens[NMSG];
    for (unsigned i = 0; i < NMSG; i++)
        lens[i] = make_metric(msgs[i], i * 2654435761u);
    /* The input as the proxy's server thread has it: gRPC frames back to back (00 len msg),
     * received RBUF bytes at a time into one reused buffer (h2_server_io.c recv()s into a
     * 32 KiB buffer and nghttp2 hands DATA payloads over in place), so a message is in cache
     * when it is routed: the kernel's copy has just written it. The copy into rbuf stands for
     * that recv() and is not timed. PROXY_BENCH_LAYOUT=cold routes from a 4 MiB array instead
     * (each message an L2 miss; the layout of the figures before 2026-12-07). */
    enum { RBUF = 32768 };
    static uint8_t corpus[NMSG * (1024 + VN_GRPC_PREFIX)];
    static size_t chunk_off[NMSG + 1];
    size_t clen = 0, nchunks = 0;
    for (unsigned i = 0; i < NMSG; i++) {
        if (i == 0 || clen + VN_GRPC_PREFIX + lens[i] - chunk_off[nchunks - 1] > RBUF)
            chunk_off[nchunks++] = clen;
        vn_grpc_prefix(corpus + clen, (uint32_t)lens[i]);
        memcpy(corpus + clen + VN_GRPC_PREFIX, msgs[i], lens[i]);
        clen += VN_GRPC_PREFIX + lens[i];
    }
    chunk_off[nchunks] = clen;
    const char *layout = getenv("PROXY_BENCH_LAYOUT");
    bool cold = layout && strcmp(layout, "cold") == 0;
    static uint8_t rbuf[RBUF];
    vn_route_ctx_t c;
    vn_route_ctx_init(&c, r);
    size_t ok = 0, dropped = 0, bytes = 0;
    double cpu = 0, t0 = 0, copy_cpu = 0;
    size_t faults = 0; /* page faults on the routing thread in the timed passes */
    /* Pass 0 warms up (untimed, then drained): the destinations' queues reach their steady
     * size as in a proxy that has been running, so the timed passes measure routing, not the
     * first page faults of a process. The figure is the median of the timed passes: one pass
     * is ~0.2 s and a shared VM moved single passes by up to 1.5x. */
    const char *quick = getenv("BENCH_QUICK");
    int timed = quick && *quick && strcmp(quick, "0") != 0 ? 3 : 5;
    double pass_ns[5], pass_copy_ns[5];
    for (int pass = 0; pass <= timed; pass++) {
        ok = dropped = bytes = 0;
        atomic_store(&g_received, 0);
        t0 = vn_clock_mono_s();
        cpu = 0;
        struct rusage ru0, ru1;
        getrusage(RUSAGE_THREAD, &ru0);
        struct timespec c0, c1;
        if (cold) {
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
            for (size_t i = 0; i < n; i++) {
                vn_route_result_t res = vn_route_metric(&c, msgs[i % NMSG], lens[i % NMSG]);
                ok += res == VN_ROUTE_OK;
                dropped += res == VN_ROUTE_DROPPED;
                bytes += lens[i % NMSG];
            }
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        } else {
            /* the copies into rbuf stand for recv(): timed with the routing (a CPU clock read per
             * chunk would cost more than it saves), then timed alone and taken off */
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
            for (size_t i = 0, k = 0; i < n; k = (k + 1) % nchunks) {
                size_t len = chunk_off[k + 1] - chunk_off[k];
                memcpy(rbuf, corpus + chunk_off[k], len); /* the recv() */
                for (size_t pos = 0; pos < len && i < n; i++) {
                    size_t m = ((size_t)rbuf[pos + 1] << 24) | ((size_t)rbuf[pos + 2] << 16) |
                               ((size_t)rbuf[pos + 3] << 8) | rbuf[pos + 4];
                    vn_route_result_t res = vn_route_metric(&c, rbuf + pos + VN_GRPC_PREFIX, m);
                    ok += res == VN_ROUTE_OK;
                    dropped += res == VN_ROUTE_DROPPED;
                    bytes += m;
                    pos += VN_GRPC_PREFIX + m;
                }
            }
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
            size_t sink = 0;
            for (size_t i = 0, k = 0; i < n; k = (k + 1) % nchunks) {
                size_t len = chunk_off[k + 1] - chunk_off[k];
                memcpy(rbuf, corpus + chunk_off[k], len);
                __asm__ volatile("" : : "r"(rbuf) : "memory"); /* keep each copy */
                for (size_t pos = 0; pos < len && i < n; i++) {
                    size_t m = ((size_t)rbuf[pos + 1] << 24) | ((size_t)rbuf[pos + 2] << 16) |
                               ((size_t)rbuf[pos + 3] << 8) | rbuf[pos + 4];
                    sink += m;
                    pos += VN_GRPC_PREFIX + m;
                }
            }
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            copy_cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
            if (sink != bytes)
                fprintf(stderr, "copy pass walked %zu bytes, routing pass %zu\n", sink, bytes);
            cpu -= copy_cpu;
        }
        getrusage(RUSAGE_THREAD, &ru1);
        if (pass > 0) {
            faults += (size_t)(ru1.ru_minflt - ru0.ru_minflt);
            pass_ns[pass - 1] = cpu * 1e9 / (double)(n ? n : 1);
            pass_copy_ns[pass - 1] = copy_cpu * 1e9 / (double)(n ? n : 1);
        }
        while (atomic_load(&g_received) < ok && vn_clock_mono_s() < t0 + 120) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    vn_route_ctx_release(&c);
    double wall = vn_clock_mono_s() - t0;
    qsort(pass_ns, (size_t)timed, sizeof pass_ns[0], cmp_double);
    qsort(pass_copy_ns, (size_t)timed, sizeof pass_copy_ns[0], cmp_double);
    printf("bench=proxy_route metrics=%zu bytes_per_metric=%zu ns_per_metric=%.0f ns_min=%.0f ns_max=%.0f passes=%d "
           "recv_copy_ns=%.0f page_faults=%zu (routing thread CPU less the copies into the receive buffer, median pass)\n",
           n, bytes / (n ? n : 1), pass_ns[timed / 2], pass_ns[0], pass_ns[timed - 1], timed, pass_copy_ns[timed / 2],
           faults);
    printf("bench=proxy_deliver metrics=%zu dropped=%zu metrics_per_s=%.0f MB_per_s=%.1f (3 loopback streams)\n",
           (size_t)atomic_load(&g_received), dropped, (double)atomic_load(&g_received) / wall,
           (double)bytes / wall / 1e6);
    vn_router_stop(r, vn_clock_mono_s() + 5);
    vn_router_free(r);
    for (int i = 0; i < 3; i++)
        vn_h2_server_stop(srv[i]);
    vn_tagm_set_destroy(&ign);
    return 0;
}
