/*
 * test_import_server.c - forward/{h2_server,h2_client,import_server,forwarder}
 * over real loopback sockets: both forwardrpc methods, every error status
 * the import server answers, limits, connection reuse and reconnects,
 * deadlines against dead and silent peers, and the forwarder end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aggregate/series_key.h"
#include "aggregate/worker.h"
#include "core/buf.h"
#include "core/clock.h"
#include "forward/forwarder.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client.h"
#include "forward/h2_server.h"
#include "forward/import_server.h"
#include "forward/metricpb_codec.h"

#define V1 "/forwardrpc.Forward/SendMetrics"
#define V2 "/forwardrpc.Forward/SendMetricsV2"
#define NW 2

#define W7_COUNTER "0a03666f6f1203613a622a0208034802"
#define W7_GAUGE "0a03666f6f1801320909000000000000f83f4802"
#define W7_HISTO                                                                                                   \
    "0a03666f6f1203613a6218023a3a0a380a1209000000000000144011000000000000f03f11000000000000594019000000000000144" \
    "0210000000000001440299a9999999999c93f"
#define W7_SET "0a03666f6f1803421a0a18010e00010000000102c512b6000000000000000000000000"
#define LOCAL_SCOPE "0a01632a0208054801"

typedef struct fx {
    vn_stats_t stats;
    vn_worker_t *w[NW];
    vn_import_server_t *srv;
    vn_h2_client_t *cli;
    char addr[64];
} fx_t;

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1]; p += 2) {
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Appends one gRPC message holding the hex bytes. */
static void frame_hex(vn_buf_t *b, const char *hex)
{
    uint8_t msg[512], pre[5];
    size_t n = unhex(hex, msg);
    vn_grpc_prefix(pre, (uint32_t)n);
    vn_buf_add(b, pre, 5);
    vn_buf_add(b, msg, n);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    vn_stats_init(&f->stats);
    for (int i = 0; i < NW; i++)
        f->w[i] = vn_worker_start(i, 1, 0, &f->stats);
    char err[256];
    assert_int_equal(vn_import_server_start("127.0.0.1:0", NULL, NULL, f->w, NW, &f->stats, &f->srv, err, sizeof err), VN_OK);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", vn_import_server_port(f->srv));
    assert_int_equal(vn_h2_client_new(f->addr, NULL, NULL, &f->cli), VN_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    vn_h2_client_free(f->cli);
    vn_import_server_stop(f->srv);
    for (int i = 0; i < NW; i++)
        vn_worker_free(f->w[i]);
    free(f);
    return 0;
}

/* Swaps every worker and returns the series of that key/type/scope in any map (value copied out). */
typedef struct found {
    int n;
    double counter_or_gauge;
    double digest_count;
    uint64_t set_estimate;
} found_t;

static found_t swap_find(fx_t *f, const char *key, vn_mtype_t t, vn_scope_t sc, size_t *total)
{
    found_t r = {0};
    *total = 0;
    size_t kl = strlen(key);
    for (int i = 0; i < NW; i++) {
        vn_series_map_t *m = vn_worker_swap(f->w[i]);
        *total += m->count;
        for (size_t j = 0; j < m->cap; j++) {
            vn_series_t *s = m->slots[j];
            if (!s || s->type != t || s->scope != sc || s->key_len != kl || memcmp(s->key, key, kl) != 0)
                continue;
            r.n++;
            assert_int_equal(s->hash, vn_series_key_hash(key, kl, t));
            assert_true((size_t)i == s->hash % NW); /* routed like the reader path */
            if (t == VN_MT_COUNTER || t == VN_MT_GAUGE)
                r.counter_or_gauge = s->u.counter;
            else if (t == VN_MT_SET)
                r.set_estimate = vn_hll_estimate(s->u.set);
            else
                r.digest_count = vn_tdigest_count(&s->u.histo->digest);
        }
        vn_series_map_free(m);
    }
    return r;
}

static vn_err_t call(fx_t *f, const char *path, vn_buf_t *body, vn_grpc_result_t *res)
{
    return vn_h2_client_call(f->cli, path, (const uint8_t *)vn_buf_ptr(body), vn_buf_len(body), vn_clock_mono_s() + 5,
                             res);
}

static void test_import_server__v2_stream_merges(void **state)
{
    fx_t *f = *state;
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    frame_hex(&b, W7_COUNTER);
    frame_hex(&b, W7_COUNTER);
    frame_hex(&b, W7_GAUGE);
    frame_hex(&b, W7_HISTO);
    frame_hex(&b, W7_SET);
    vn_grpc_result_t res;
    assert_int_equal(call(f, V2, &b, &res), VN_OK);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.grpc_status, 0);
    assert_int_equal(res.body_len, 5);
    assert_memory_equal(res.body, "\0\0\0\0\0", 5); /* Empty */
    size_t total;
    found_t c = swap_find(f, "foo\na:b", VN_MT_COUNTER, VN_SCOPE_GLOBAL, &total);
    assert_int_equal(total, 4);
    assert_int_equal(c.n, 1);
    assert_true(c.counter_or_gauge == 6);
    assert_int_equal(vn_stats_get(&f->stats.import_metrics_received), 5);
    assert_int_equal(vn_stats_get(&f->stats.import_calls), 1);
    assert_int_equal(vn_stats_get(&f->stats.import_call_errors), 0);
    vn_buf_free(&b);
}

static void test_import_server__unary_metric_list(void **state)
{
    fx_t *f = *state;
    vn_buf_t list = VN_BUF_INIT(1 << 20), body = VN_BUF_INIT(1 << 20);
    uint8_t m[256];
    const char *const hexes[] = {W7_GAUGE, W7_HISTO, W7_HISTO, W7_SET};
    for (size_t i = 0; i < 4; i++) {
        size_t n = unhex(hexes[i], m);
        vn_pb_list_append(&list, m, n);
    }
    uint8_t pre[5];
    vn_grpc_prefix(pre, (uint32_t)vn_buf_len(&list));
    vn_buf_add(&body, pre, 5);
    vn_buf_add(&body, vn_buf_ptr(&list), vn_buf_len(&list));
    vn_grpc_result_t res;
    assert_int_equal(call(f, V1, &body, &res), VN_OK);
    assert_int_equal(res.grpc_status, 0);
    size_t total;
    found_t h = swap_find(f, "foo\na:b", VN_MT_HISTOGRAM, VN_SCOPE_MIXED, &total);
    assert_int_equal(total, 3);
    assert_true(h.digest_count == 2);
    vn_buf_free(&list);
    vn_buf_free(&body);
}

static void test_import_server__bad_metrics_rejected_alone(void **state)
{
    fx_t *f = *state;
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    frame_hex(&b, W7_COUNTER);
    frame_hex(&b, LOCAL_SCOPE);
    frame_hex(&b, "0a05"); /* invalid protobuf */
    frame_hex(&b, "0a0163");   /* no value */
    frame_hex(&b, W7_COUNTER);
    vn_grpc_result_t res;
    assert_int_equal(call(f, V2, &b, &res), VN_ERR_PROTO);
    assert_int_equal(res.transport, VN_OK);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.grpc_status, VN_GRPC_INVALID_ARGUMENT);
    assert_string_equal(res.grpc_message,
                        "3 of 5 metrics rejected; first: gRPC import does not accept local metrics");
    size_t total;
    found_t c = swap_find(f, "foo\na:b", VN_MT_COUNTER, VN_SCOPE_GLOBAL, &total);
    assert_true(c.counter_or_gauge == 6); /* both good ones merged */
    assert_int_equal(total, 1);
    assert_int_equal(vn_stats_get(&f->stats.import_metrics_rejected), 3);
    assert_int_equal(vn_stats_get(&f->stats.import_call_errors), 1);
    vn_buf_free(&b);
    /* A MetricList that is not protobuf. */
    vn_buf_t u = VN_BUF_INIT(1024);
    frame_hex(&u, "0aff");
    assert_int_equal(call(f, V1, &u, &res), VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_INVALID_ARGUMENT);
    assert_non_null(strstr(res.grpc_message, "invalid protobuf"));
    vn_buf_free(&u);
}

static void test_import_server__status_codes(void **state)
{
    fx_t *f = *state;
    vn_grpc_result_t res;
    vn_buf_t b = VN_BUF_INIT(1 << 20);
    /* Unknown method. */
    frame_hex(&b, W7_COUNTER);
    assert_int_equal(call(f, "/forwardrpc.Forward/Nope", &b, &res), VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_UNIMPLEMENTED);
    /* Unary with two messages, and with none. */
    frame_hex(&b, W7_COUNTER);
    assert_int_equal(call(f, V1, &b, &res), VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_INVALID_ARGUMENT);
    vn_buf_reset(&b);
    assert_int_equal(call(f, V1, &b, &res), VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_INVALID_ARGUMENT);
    /* An empty stream is fine: nothing to merge. */
    assert_int_equal(call(f, V2, &b, &res), VN_OK);
    /* Over 4 MiB announced. */
    uint8_t pre[5];
    vn_grpc_prefix(pre, VN_GRPC_MAX_MESSAGE + 1);
    vn_buf_add(&b, pre, 5);
    vn_buf_add(&b, "abc", 3);
    assert_int_equal(call(f, V2, &b, &res), VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_RESOURCE_EXHAUSTED);
    /* Compressed flag. */
    vn_buf_reset(&b);
    vn_buf_add(&b, "\x01\0\0\0\x01x", 6);
    assert_int_equal(call(f, V2, &b, &res), VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_UNIMPLEMENTED);
    /* The stream ends inside a message. */
    vn_buf_reset(&b);
    vn_buf_add(&b, "\0\0\0\0\x10x", 6);
    assert_int_equal(call(f, V2, &b, &res), VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_INTERNAL);
    /* All on one connection, and the connection still serves. */
    vn_buf_reset(&b);
    frame_hex(&b, W7_GAUGE);
    assert_int_equal(call(f, V2, &b, &res), VN_OK);
    assert_int_equal(vn_stats_get(&f->stats.grpc_connections_total), 1);
    size_t total;
    found_t g = swap_find(f, "foo\n", VN_MT_GAUGE, VN_SCOPE_GLOBAL, &total);
    assert_true(g.counter_or_gauge == 1.5);
    vn_buf_free(&b);
}

static void test_import_server__large_stream_and_max_message(void **state)
{
    fx_t *f = *state;
    /* 20000 distinct histograms of 200 samples each: several MB through flow control. */
    vn_series_map_t *m = vn_series_map_new(0);
    for (int i = 0; i < 20000; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "h%d\nk:v", i);
        vn_series_t *s = vn_series_map_upsert(m, vn_series_key_hash(key, (size_t)kl, VN_MT_HISTOGRAM),
                                              VN_MT_HISTOGRAM, VN_SCOPE_MIXED, key, (size_t)kl);
        for (int j = 0; j < 200; j++)
            vn_histo_sample(s->u.histo, j * 1.5 + i, 1);
    }
    vn_forward_batch_t *batch = vn_forward_batch_new();
    assert_int_equal(vn_forward_batch_add_map(batch, m), 20000);
    assert_true(vn_buf_len(&batch->body) > (8u << 20));
    vn_grpc_result_t res;
    assert_int_equal(vn_h2_client_call(f->cli, V2, (const uint8_t *)vn_buf_ptr(&batch->body),
                                       vn_buf_len(&batch->body), vn_clock_mono_s() + 20, &res),
                     VN_OK);
    size_t total;
    found_t h = swap_find(f, "h777\nk:v", VN_MT_HISTOGRAM, VN_SCOPE_MIXED, &total);
    assert_int_equal(total, 20000);
    assert_true(h.digest_count == 200);
    vn_forward_batch_free(batch);
    vn_series_map_free(m);

    /* One message of exactly 4 MiB (an unknown 4 MiB field around a counter) is accepted. */
    size_t msg_len = VN_GRPC_MAX_MESSAGE;
    uint8_t *msg = malloc(msg_len);
    size_t hdr = 0;
    msg[hdr++] = 0x7a; /* field 15, LEN */
    size_t fl = msg_len - 21; /* 1 key + 4 length bytes + fl + 16 counter bytes = exactly msg_len */
    size_t v = fl;
    while (v >= 0x80) {
        msg[hdr++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    msg[hdr++] = (uint8_t)v;
    memset(msg + hdr, 'z', fl);
    size_t o = hdr + fl;
    uint8_t tail[32];
    size_t tn = unhex(W7_COUNTER, tail);
    memcpy(msg + o, tail, tn);
    o += tn;
    assert_int_equal(o, msg_len);
    vn_buf_t b = VN_BUF_INIT(8u << 20);
    uint8_t pre[5];
    vn_grpc_prefix(pre, (uint32_t)o);
    vn_buf_add(&b, pre, 5);
    vn_buf_add(&b, msg, o);
    assert_int_equal(vn_h2_client_call(f->cli, V2, (const uint8_t *)vn_buf_ptr(&b), vn_buf_len(&b),
                                       vn_clock_mono_s() + 10, &res),
                     VN_OK);
    found_t c = swap_find(f, "foo\na:b", VN_MT_COUNTER, VN_SCOPE_GLOBAL, &total);
    assert_true(c.counter_or_gauge == 3);
    vn_buf_free(&b);
    free(msg);
}

static void test_import_server__dead_and_silent_peers(void **state)
{
    (void)state;
    /* Nobody listening: fails at once. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(s, (struct sockaddr *)&sa, &sl);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    vn_h2_client_t *c;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
    vn_grpc_result_t res;
    double t0 = vn_clock_mono_s();
    assert_int_equal(vn_h2_client_call(c, V2, (const uint8_t *)"", 0, t0 + 5, &res), VN_ERR_IO);
    assert_true(vn_clock_mono_s() - t0 < 1.0);
    /* Listening but never answering (never accepted, never read): the deadline holds. */
    assert_int_equal(listen(s, 4), 0);
    t0 = vn_clock_mono_s();
    assert_int_equal(vn_h2_client_call(c, V2, (const uint8_t *)"", 0, t0 + 0.3, &res), VN_ERR_TIMEOUT);
    double took = vn_clock_mono_s() - t0;
    assert_true(took >= 0.29 && took < 1.0);
    vn_h2_client_free(c);
    close(s);
    /* Malformed addresses. */
    assert_int_equal(vn_h2_client_new("nohost", NULL, NULL, &c), VN_ERR_CONFIG);
    assert_int_equal(vn_h2_client_new("host:", NULL, NULL, &c), VN_ERR_CONFIG);
    assert_int_equal(vn_h2_client_new("[::1:80", NULL, NULL, &c), VN_ERR_CONFIG);
    assert_int_equal(vn_h2_client_new("[::1]:80", NULL, NULL, &c), VN_OK);
    vn_h2_client_free(c);
}

/* A bare h2 server whose connections time out fast: the client must reconnect by itself. */
static void *echo_open(void *ctx, const char *path, vn_grpc_status_t *st, const char **msg)
{
    (void)path;
    (void)st;
    (void)msg;
    return ctx;
}
static vn_grpc_status_t echo_message(void *call, const uint8_t *d, size_t n, const char **msg)
{
    (void)call;
    (void)d;
    (void)n;
    (void)msg;
    return VN_GRPC_OK;
}
static vn_grpc_status_t echo_finish(void *call, const char **msg)
{
    (void)call;
    (void)msg;
    return VN_GRPC_OK;
}
static void echo_close(void *call, vn_grpc_status_t final)
{
    (void)final;
    (*(int *)call)++;
}

static void test_import_server__reconnect_after_idle_close(void **state)
{
    (void)state;
    vn_stats_t st;
    vn_stats_init(&st);
    int closed = 0;
    vn_h2_server_opts_t o = {
        .address = "127.0.0.1:0",
        .handler = {.open = echo_open, .message = echo_message, .finish = echo_finish, .close = echo_close,
                    .ctx = &closed},
        .idle_timeout_s = 0.2,
        .stats = &st,
    };
    vn_h2_server_t *srv;
    char err[128];
    assert_int_equal(vn_h2_server_start(&o, &srv, err, sizeof err), VN_OK);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", vn_h2_server_port(srv));
    vn_h2_client_t *c;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
    vn_grpc_result_t res;
    assert_int_equal(vn_h2_client_call(c, V2, (const uint8_t *)"", 0, vn_clock_mono_s() + 5, &res), VN_OK);
    assert_int_equal(vn_h2_client_call(c, V2, (const uint8_t *)"", 0, vn_clock_mono_s() + 5, &res), VN_OK);
    assert_int_equal(vn_stats_get(&st.grpc_connections_total), 1);
    usleep(1500 * 1000); /* the server sweeps once a second */
    assert_int_equal(vn_h2_client_call(c, V2, (const uint8_t *)"", 0, vn_clock_mono_s() + 5, &res), VN_OK);
    assert_int_equal(vn_stats_get(&st.grpc_connections_total), 2);
    assert_int_equal(closed, 3);
    vn_h2_client_free(c);
    vn_h2_server_stop(srv);
}

static void test_import_server__forwarder_end_to_end(void **state)
{
    fx_t *f = *state;
    vn_stats_t lst; /* the local's own counters */
    vn_stats_init(&lst);
    vn_forwarder_t *fw;
    char err[128];
    vn_forwarder_opts_t o = {.address = f->addr, .deadline_s = 2, .stats = &lst};
    assert_int_equal(vn_forwarder_start(&o, &fw, err, sizeof err), VN_OK);
    vn_series_map_t *m = vn_series_map_new(0);
    const char *keys[] = {"cnt\nveneurglobalonly-stripped:1", "mixed.cnt", "hist\nt:1", "loc.hist", "set\n"};
    vn_mtype_t types[] = {VN_MT_COUNTER, VN_MT_COUNTER, VN_MT_HISTOGRAM, VN_MT_HISTOGRAM, VN_MT_SET};
    vn_scope_t scopes[] = {VN_SCOPE_GLOBAL, VN_SCOPE_MIXED, VN_SCOPE_MIXED, VN_SCOPE_LOCAL, VN_SCOPE_MIXED};
    for (int i = 0; i < 5; i++) {
        vn_series_t *s = vn_series_map_upsert(m, vn_series_key_hash(keys[i], strlen(keys[i]), types[i]),
                                              (uint8_t)types[i], (uint8_t)scopes[i], keys[i], strlen(keys[i]));
        if (types[i] == VN_MT_COUNTER)
            s->u.counter = 2.5; /* forwarded as 3 */
        else if (types[i] == VN_MT_HISTOGRAM)
            vn_histo_sample(s->u.histo, 42, 1);
        else
            vn_hll_add(s->u.set, "m", 1);
    }
    vn_forward_batch_t *b = vn_forward_batch_new();
    assert_int_equal(vn_forward_batch_add_map(b, m), 3); /* not the mixed counter nor the local histogram */
    vn_series_map_free(m);
    vn_forwarder_submit(fw, b);
    /* An empty batch sends nothing. */
    vn_forwarder_submit(fw, vn_forward_batch_new());
    for (int i = 0; i < 500 && vn_stats_get(&lst.forward_calls) < 1; i++)
        usleep(10000);
    assert_int_equal(vn_stats_get(&lst.forward_calls), 1);
    assert_int_equal(vn_stats_get(&lst.forward_metrics_sent), 3);
    vn_forwarder_stop(fw, 1);
    size_t total;
    found_t c = swap_find(f, "cnt\nveneurglobalonly-stripped:1", VN_MT_COUNTER, VN_SCOPE_GLOBAL, &total);
    assert_int_equal(total, 3);
    assert_true(c.counter_or_gauge == 3);

    /* To a dead port: counted as a failure, quickly, and stop does not hang. */
    vn_stats_init(&lst);
    o.address = "127.0.0.1:1";
    assert_int_equal(vn_forwarder_start(&o, &fw, err, sizeof err), VN_OK);
    m = vn_series_map_new(0);
    vn_series_t *s = vn_series_map_upsert(m, 1, VN_MT_GAUGE, VN_SCOPE_GLOBAL, "g", 1);
    s->u.gauge = 1;
    for (int i = 0; i < 3; i++) {
        b = vn_forward_batch_new();
        vn_forward_batch_add_map(b, m);
        vn_forwarder_submit(fw, b);
    }
    vn_series_map_free(m);
    for (int i = 0; i < 500 && vn_stats_get(&lst.forward_failures) < 3; i++)
        usleep(10000);
    assert_int_equal(vn_stats_get(&lst.forward_failures), 3);
    /* refused: Go's transient_unavailable, not send */
    assert_int_equal(vn_stats_get(&lst.forward_failures_by_cause[VN_FWD_CAUSE_UNAVAILABLE]), 3);
    assert_int_equal(vn_stats_get(&lst.forward_failures_by_cause[VN_FWD_CAUSE_SEND]), 0);
    assert_int_equal(vn_stats_get(&lst.forward_metrics_failed), 3);
    assert_int_equal(vn_stats_get(&lst.forward_calls), 0);
    vn_forwarder_stop(fw, 1);
}

static void test_import_server__forwarder_queue_full_drops(void **state)
{
    (void)state;
    /* A peer that never answers keeps the forwarder busy; submits past the queue cap drop at once. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&sa, sizeof sa);
    listen(s, 4);
    socklen_t sl = sizeof sa;
    getsockname(s, (struct sockaddr *)&sa, &sl);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    vn_stats_t lst;
    vn_stats_init(&lst);
    vn_forwarder_t *fw;
    char err[128];
    vn_forwarder_opts_t o = {.address = addr, .deadline_s = 0.5, .stats = &lst};
    assert_int_equal(vn_forwarder_start(&o, &fw, err, sizeof err), VN_OK);
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *g = vn_series_map_upsert(m, 1, VN_MT_GAUGE, VN_SCOPE_GLOBAL, "g", 1);
    g->u.gauge = 1;
    double t0 = vn_clock_mono_s();
    for (int i = 0; i < VN_FORWARD_QUEUE + 3; i++) {
        vn_forward_batch_t *b = vn_forward_batch_new();
        vn_forward_batch_add_map(b, m);
        vn_forwarder_submit(fw, b);
    }
    assert_true(vn_clock_mono_s() - t0 < 0.2); /* submit never waits for the peer */
    assert_true(vn_stats_get(&lst.forward_metrics_dropped) >= 2);
    vn_series_map_free(m);
    /* Stop with a short drain: bounded even though every call would time out. */
    t0 = vn_clock_mono_s();
    vn_forwarder_stop(fw, 0.6);
    assert_true(vn_clock_mono_s() - t0 < 1.5);
    /* a peer that never answers: every failure is Go's deadline_exceeded */
    assert_true(vn_stats_get(&lst.forward_failures) >= 1);
    assert_int_equal(vn_stats_get(&lst.forward_failures_by_cause[VN_FWD_CAUSE_DEADLINE]),
                     vn_stats_get(&lst.forward_failures));
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_server__v2_stream_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_server__unary_metric_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_server__bad_metrics_rejected_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_server__status_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_server__large_stream_and_max_message, setup, teardown),
        cmocka_unit_test(test_import_server__dead_and_silent_peers),
        cmocka_unit_test(test_import_server__reconnect_after_idle_close),
        cmocka_unit_test_setup_teardown(test_import_server__forwarder_end_to_end, setup, teardown),
        cmocka_unit_test(test_import_server__forwarder_queue_full_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
