/*
 * fuzz_h2_server.c - libFuzzer target for the HTTP/2 gRPC server side
 * (src/forward/h2_server.h through its memory interface): frames, HPACK,
 * flow control, stream states, gRPC prefixes and the reassembly budgets.
 *
 * Input: byte 0 = flags, byte 1 = chunk pattern, the rest = what a client
 * sends. Flags: bit 0 prepends a valid client preface + SETTINGS + ACK (so
 * the fuzzer spends its time past the handshake), bit 1 opens a second
 * connection first that holds reassembly space (8 streams with half-sent
 * messages), so the per-connection cap and the fair-share cut-back run,
 * bit 2 runs the deadline sweep at the end as if 31 s had passed. The
 * client bytes are fed in chunks cut where the pattern says, the output
 * drained after each, as the socket loop does.
 *
 * Invariants: every call the handler opened is closed exactly once; the
 * reassembly bytes held never exceed the server budget and are 0 once the
 * server is freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward/grpc_frame.h"
#include "forward/h2_server.h"
#include "forward/metricpb_codec.h"

#define BUDGET (96u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct calls {
    long opened, closed;
    int slots[512];
} calls_t;

static calls_t g_calls;

static void *h_open(void *ctx, const char *path, vn_grpc_status_t *st, const char **msg)
{
    calls_t *c = ctx;
    if (strncmp(path, "/forwardrpc.", 12) != 0 || c->opened >= 512) {
        *st = VN_GRPC_UNIMPLEMENTED;
        *msg = "unknown method";
        return NULL;
    }
    c->slots[c->opened] = 1;
    return &c->slots[c->opened++];
}

static vn_grpc_status_t h_message(void *call, const uint8_t *d, size_t len, const char **msg)
{
    (void)call;
    vn_pb_metric_t m;
    (void)vn_pb_metric_decode(d, len, &m);
    if (len > 0 && d[0] == 0xff) { /* the handler's own error path */
        *msg = "refused";
        return VN_GRPC_INVALID_ARGUMENT;
    }
    return VN_GRPC_OK;
}

static vn_grpc_status_t h_finish(void *call, const char **msg)
{
    (void)call;
    (void)msg;
    return VN_GRPC_OK;
}

static void h_close(void *call, vn_grpc_status_t final)
{
    (void)final;
    int *slot = call;
    if (*slot != 1)
        abort(); /* closed twice */
    *slot = 2;
    g_calls.closed++;
}

static void h_drained(void *call) { (void)call; }

static bool drain(vn_h2_conn_t *c)
{
    const uint8_t *out;
    long n;
    while ((n = vn_h2_conn_output(c, &out)) > 0)
        ;
    return n == 0;
}

static const uint8_t PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                 "\x00\x00\x00\x04\x00\x00\x00\x00\x00"  /* SETTINGS */
                                 "\x00\x00\x00\x04\x01\x00\x00\x00\x00"; /* SETTINGS ACK */

/* HEADERS for SendMetricsV2 on stream sid (HPACK literals, no Huffman). */
static size_t headers(uint8_t *out, uint32_t sid)
{
    static const char *nv[][2] = {{":method", "POST"},
                                  {":scheme", "http"},
                                  {":path", "/forwardrpc.Forward/SendMetricsV2"},
                                  {":authority", "f"},
                                  {"content-type", "application/grpc"}};
    size_t n = 9;
    for (size_t i = 0; i < 5; i++) {
        out[n++] = 0;
        out[n++] = (uint8_t)strlen(nv[i][0]);
        memcpy(out + n, nv[i][0], strlen(nv[i][0]));
        n += strlen(nv[i][0]);
        out[n++] = (uint8_t)strlen(nv[i][1]);
        memcpy(out + n, nv[i][1], strlen(nv[i][1]));
        n += strlen(nv[i][1]);
    }
    size_t len = n - 9;
    uint8_t h[9] = {0, (uint8_t)(len >> 8), (uint8_t)len, 1, 4, 0, 0, 0, (uint8_t)sid};
    memcpy(out, h, 9);
    return n;
}

/* A connection holding reassembly space: 8 streams, each 40 KiB into a 64 KiB message. */
static vn_h2_conn_t *hog(vn_h2_server_t *s)
{
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    if (!vn_h2_conn_feed(c, PREFACE, sizeof PREFACE - 1) || !drain(c))
        return c;
    static uint8_t buf[9 + 16384];
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t sid = 1 + 2 * k;
        size_t n = headers(buf, sid);
        if (!vn_h2_conn_feed(c, buf, n))
            return c;
        for (size_t sent = 0; sent < 40000;) {
            size_t len = 16000;
            uint8_t h[9] = {0, (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0, 0, 0, (uint8_t)sid};
            memcpy(buf, h, 9);
            memset(buf + 9, 0x0a, len);
            if (sent == 0)
                vn_grpc_prefix(buf + 9, 64u << 10);
            if (!vn_h2_conn_feed(c, buf, 9 + len) || !drain(c))
                return c;
            sent += len;
        }
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0], pattern = data[1];
    data += 2;
    size -= 2;
    memset(&g_calls, 0, sizeof g_calls);
    vn_h2_server_opts_t o = {
        .handler = {.open = h_open, .message = h_message, .finish = h_finish, .close = h_close, .ctx = &g_calls,
                    .drained = h_drained},
        .max_message = 64u << 10,
        .reassembly_budget = BUDGET,
        .conn_reassembly = 64u << 10,
        .max_streams = 16,
        /* flags & 8: the lifecycle (issue 21): a GOAWAY notice and PINGs go out mid-input */
        .max_age_s = (flags & 8) ? 1 : 0,
        .keepalive_time_s = (flags & 8) ? 1 : 0,
    };
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    if (flags & 2)
        (void)hog(s);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    bool alive = true;
    if (flags & 1)
        alive = vn_h2_conn_feed(c, PREFACE, sizeof PREFACE - 1) && drain(c);
    size_t off = 0, i = 0;
    while (alive && off < size) {
        size_t chunk = 1 + ((pattern >> (i++ % 8)) & 7) * (1 + (pattern & 31));
        if (chunk > size - off)
            chunk = size - off;
        alive = vn_h2_conn_feed(c, data + off, chunk) && drain(c);
        off += chunk;
        if (alive && (flags & 8) && i == 2) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            vn_h2_server_sweep(s, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + 1.5);
            if (vn_h2_server_connections(s) == 0) {
                c = NULL; /* closed and freed by the sweep */
                break;
            }
            alive = drain(c);
        }
        if (vn_h2_server_held(s) > BUDGET)
            abort();
    }
    if (c && !alive)
        vn_h2_conn_close(c);
    if (flags & 4) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        vn_h2_server_sweep(s, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + 31);
    }
    vn_h2_server_free_detached(s);
    if (g_calls.opened != g_calls.closed)
        abort(); /* a call never closed */
    return 0;
}
