/* Unit tests for forward/grpc_ingest: the message handlers (SendPacket, SendSpan, Health/Check)
 * called as the h2 server calls them, with real metric workers and a real span pipeline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/worker.h"
#include "config/config.h"
#include "core/clock.h"
#include "forward/grpc_frame.h"
#include "forward/grpc_ingest.h"
#include "forward/h2_client.h"
#include "dogstatsd_grpc.pb-c.h"
#include "ssf.pb-c.h"
#include "tls/tls.h"
#include "tls/tls_files.h"

#include "../tls/tls_testcerts.h"

typedef struct fx {
    vn_stats_t stats;
    vn_worker_t *w[2];
    vn_event_store_t ev;
    vn_parser_t parser;
    vn_ingest_shared_t sh;
    vn_grpc_ingest_t *g;
    vn_grpc_handler_t h;
} fx_t;

static fx_t F;

static int setup(void **state)
{
    memset(&F, 0, sizeof F);
    vn_stats_init(&F.stats);
    for (int i = 0; i < 2; i++)
        F.w[i] = vn_worker_start(i, 3, 0, &F.stats); /* readers: 0 gRPC, 1..2 span workers */
    vn_event_store_init(&F.ev, 10, &F.stats);
    F.sh = (vn_ingest_shared_t){.parser = &F.parser, .workers = F.w, .nworkers = 2, .events = &F.ev, .stats = &F.stats};
    vn_grpc_ingest_opts_t o = {.shared = &F.sh, .reader_id = 0, .metric_max_length = 64};
    F.g = vn_grpc_ingest_new(&o);
    F.h = vn_grpc_ingest_handler(F.g);
    *state = &F;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vn_grpc_ingest_free(F.g);
    for (int i = 0; i < 2; i++)
        vn_worker_free(F.w[i]);
    vn_event_store_destroy(&F.ev);
    return 0;
}

/* One unary call through the handler: returns the final status; resp and rlen get the response. */
static vn_grpc_status_t unary(vn_grpc_handler_t *h, const char *path, const uint8_t *msg, size_t len, int nmsgs,
                             const char **why, uint8_t *resp, size_t *rlen)
{
    vn_grpc_status_t st = VN_GRPC_OK;
    const char *m = NULL;
    void *c = h->open(h->ctx, path, &st, &m);
    if (!c) {
        *why = m;
        return st;
    }
    for (int i = 0; i < nmsgs && st == VN_GRPC_OK; i++)
        st = h->message(c, msg, len, &m);
    if (st == VN_GRPC_OK) {
        h->drained(c);
        st = h->finish(c, &m);
    }
    if (st == VN_GRPC_OK && resp) {
        const uint8_t *r = NULL;
        *rlen = h->response(c, &r);
        if (*rlen)
            memcpy(resp, r, *rlen);
    }
    *why = m;
    h->close(c, st);
    return st;
}

static size_t packet(const char *lines, uint8_t *out)
{
    Dogstatsd__DogstatsdPacket p = DOGSTATSD__DOGSTATSD_PACKET__INIT;
    p.packetbytes.data = (uint8_t *)lines;
    p.packetbytes.len = strlen(lines);
    return dogstatsd__dogstatsd_packet__pack(&p, out);
}

static double counter_value(const char *key)
{
    double v = -1;
    for (int w = 0; w < 2; w++) {
        vn_series_map_t *m = vn_worker_swap(F.w[w]);
        for (size_t i = 0; i < m->cap; i++) {
            vn_series_t *s = m->slots[i];
            if (s && s->type == VN_MT_COUNTER && strcmp(s->key, key) == 0)
                v = s->u.counter;
        }
        vn_series_map_free(m);
    }
    return v;
}

static void test_grpc_ingest__decode_packet(void **state)
{
    (void)state;
    const uint8_t *b;
    size_t n;
    /* absent field: valid, empty */
    assert_true(vn_grpc_ingest_decode_packet((const uint8_t *)"", 0, &b, &n));
    assert_int_equal(n, 0);
    /* an unknown varint field 2, then packetBytes "ab", then packetBytes "xyz": the last wins */
    const uint8_t two[] = {0x10, 0x05, 0x0a, 0x02, 'a', 'b', 0x0a, 0x03, 'x', 'y', 'z'};
    assert_true(vn_grpc_ingest_decode_packet(two, sizeof two, &b, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(b, "xyz", 3);
    const uint8_t truncated[] = {0x0a, 0x05, 'a'};
    assert_false(vn_grpc_ingest_decode_packet(truncated, sizeof truncated, &b, &n));
    const uint8_t wrong_type[] = {0x08, 0x01}; /* field 1 as a varint */
    assert_false(vn_grpc_ingest_decode_packet(wrong_type, sizeof wrong_type, &b, &n));
    const uint8_t field0[] = {0x02, 0x00};
    assert_false(vn_grpc_ingest_decode_packet(field0, sizeof field0, &b, &n));
    const uint8_t group[] = {0x0b}; /* field 1, start group */
    assert_false(vn_grpc_ingest_decode_packet(group, sizeof group, &b, &n));
}

static void test_grpc_ingest__send_packet_mixed_lines(void **state)
{
    fx_t *f = *state;
    uint8_t buf[256];
    size_t n = packet("a.c:2|c|#k:v\nnot a metric\na.c:3|c|#k:v\nb:1|q\n", buf);
    const char *why = NULL;
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_PACKET, buf, n, 1, &why, NULL, NULL), VN_GRPC_OK);
    assert_true(counter_value("a.c\nk:v") == 5.0);
    assert_int_equal(vn_stats_get(&f->stats.packets[VN_PROTO_GRPC]), 1);
    assert_int_equal(vn_stats_get(&f->stats.bytes[VN_PROTO_GRPC]), 45);
    uint64_t errs = 0;
    for (int e = 1; e < VN_PARSE_ERR__COUNT; e++)
        errs += vn_stats_get(&f->stats.parse_errors[e]);
    assert_int_equal(errs, 2);
    assert_int_equal(vn_stats_get(&f->stats.grpc_ingest_calls), 1);
    assert_int_equal(vn_stats_get(&f->stats.grpc_ingest_call_errors), 0);
}

static void test_grpc_ingest__packet_too_long_dropped_whole(void **state)
{
    fx_t *f = *state;
    uint8_t buf[256];
    char lines[100];
    memset(lines, 0, sizeof lines);
    strcpy(lines, "long:1|c\n");
    memset(lines + 9, 'x', 60); /* 69 bytes > metric_max_length 64 */
    size_t n = packet(lines, buf);
    const char *why = NULL;
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_PACKET, buf, n, 1, &why, NULL, NULL), VN_GRPC_OK);
    assert_true(counter_value("long\n") == -1);
    assert_int_equal(vn_stats_get(&f->stats.packet_too_long), 1);
    assert_int_equal(vn_stats_get(&f->stats.packets[VN_PROTO_GRPC]), 0);
}

static void test_grpc_ingest__unary_rules_and_bad_protobuf(void **state)
{
    fx_t *f = *state;
    uint8_t buf[64];
    size_t n = packet("u:1|c", buf);
    const char *why = NULL;
    /* two messages: the first is ingested, the call ends INTERNAL */
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_PACKET, buf, n, 2, &why, NULL, NULL), VN_GRPC_INTERNAL);
    assert_non_null(strstr(why, "more than one"));
    assert_true(counter_value("u\n") == 1.0);
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_PACKET, buf, n, 0, &why, NULL, NULL), VN_GRPC_INTERNAL);
    assert_non_null(strstr(why, "no request message"));
    const uint8_t bad[] = {0x0a, 0x7f, 'x'};
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_PACKET, bad, sizeof bad, 1, &why, NULL, NULL),
                     VN_GRPC_INTERNAL);
    assert_non_null(strstr(why, "unmarshalling"));
    assert_int_equal(vn_stats_get(&f->stats.grpc_ingest_calls), 3);
    assert_int_equal(vn_stats_get(&f->stats.grpc_ingest_call_errors), 3);
}

static void test_grpc_ingest__unknown_methods(void **state)
{
    fx_t *f = *state;
    const char *why = NULL;
    assert_int_equal(unary(&f->h, "/forwardrpc.Forward/SendMetricsV2", NULL, 0, 1, &why, NULL, NULL),
                     VN_GRPC_UNIMPLEMENTED);
    assert_int_equal(unary(&f->h, "/grpc.health.v1.Health/Watch", NULL, 0, 1, &why, NULL, NULL),
                     VN_GRPC_UNIMPLEMENTED);
    assert_non_null(strstr(why, "Watch"));
    /* no span pipeline in this fixture */
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_SPAN, NULL, 0, 1, &why, NULL, NULL), VN_GRPC_UNIMPLEMENTED);
    assert_int_equal(vn_stats_get(&f->stats.grpc_ingest_call_errors), 3);
}

static void test_grpc_ingest__health_check(void **state)
{
    fx_t *f = *state;
    const char *why = NULL;
    uint8_t resp[16];
    size_t rlen = 0;
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_HEALTH, (const uint8_t *)"", 0, 1, &why, resp, &rlen),
                     VN_GRPC_OK);
    assert_int_equal(rlen, 2);
    assert_int_equal(resp[0], 0x08); /* status = SERVING (1) */
    assert_int_equal(resp[1], 0x01);
    const uint8_t veneur[] = {0x0a, 0x06, 'v', 'e', 'n', 'e', 'u', 'r'};
    rlen = 0;
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_HEALTH, veneur, sizeof veneur, 1, &why, resp, &rlen),
                     VN_GRPC_OK);
    assert_int_equal(rlen, 2);
    const uint8_t other[] = {0x0a, 0x03, 'f', 'o', 'o'};
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_HEALTH, other, sizeof other, 1, &why, resp, &rlen),
                     VN_GRPC_NOT_FOUND);
    assert_string_equal(why, "unknown service");
    const uint8_t bad[] = {0x0a, 0x09};
    assert_int_equal(unary(&f->h, VN_GRPC_INGEST_PATH_HEALTH, bad, sizeof bad, 1, &why, resp, &rlen),
                     VN_GRPC_INTERNAL);
}

/* ---- SendSpan against a running span pipeline ---- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_spans, g_block;
static uint64_t g_last_trace;

static void hook(void *ctx, const uint8_t *span, size_t len)
{
    (void)ctx;
    Ssf__SSFSpan *s = ssf__ssfspan__unpack(NULL, len, span);
    pthread_mutex_lock(&g_mu);
    g_spans++;
    if (s)
        g_last_trace = (uint64_t)s->trace_id;
    pthread_cond_broadcast(&g_cv);
    while (g_block) /* holds this span worker: the queue behind it fills */
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    if (s)
        ssf__ssfspan__free_unpacked(s, NULL);
}

static void wait_spans(int n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&g_mu);
    while (g_spans < n)
        if (pthread_cond_timedwait(&g_cv, &g_mu, &dl) != 0)
            break;
    pthread_mutex_unlock(&g_mu);
}

static size_t span_bytes(int64_t trace, uint8_t *out, size_t cap)
{
    Ssf__SSFSpan s = SSF__SSFSPAN__INIT;
    s.trace_id = trace;
    s.id = trace + 1;
    s.start_timestamp = 1;
    s.end_timestamp = 2;
    s.service = "svc";
    s.name = "op";
    assert_true(ssf__ssfspan__get_packed_size(&s) <= cap);
    return ssf__ssfspan__pack(&s, out);
}

static void test_grpc_ingest__send_span(void **state)
{
    fx_t *f = *state;
    const char yaml[] = "grpc_listen_addresses: [\"tcp://127.0.0.1:0\"]\nspan_channel_capacity: 1\n"
                        "num_span_workers: 1\ntrace_max_length_bytes: 200\n";
    vn_config_t *cfg = NULL;
    char err[256];
    assert_int_equal(vn_config_load(yaml, sizeof yaml - 1, NULL, false, &cfg, err, sizeof err), VN_OK);
    vn_ssf_server_t *ssf = NULL;
    assert_int_equal(vn_ssf_server_open(cfg, &ssf, err, sizeof err), VN_OK);
    assert_non_null(ssf); /* gRPC alone brings the span workers up */
    assert_int_equal(vn_ssf_server_max_span(ssf), 200);
    vn_ssf_server_set_span_hook(ssf, hook, NULL);
    uint8_t span[256];
    /* before start: nothing is queued */
    assert_int_equal(vn_ssf_server_offer(ssf, span, 0), VN_SSF_OFFER_STOPPED);
    assert_int_equal(vn_ssf_server_start(ssf, &f->sh, 1), VN_OK);
    vn_grpc_ingest_opts_t o = {.shared = &f->sh, .reader_id = 0, .ssf = ssf};
    vn_grpc_ingest_t *g = vn_grpc_ingest_new(&o);
    vn_grpc_handler_t h = vn_grpc_ingest_handler(g);
    const char *why = NULL;

    size_t n = span_bytes(42, span, sizeof span);
    assert_int_equal(unary(&h, VN_GRPC_INGEST_PATH_SPAN, span, n, 1, &why, NULL, NULL), VN_GRPC_OK);
    wait_spans(1);
    assert_int_equal(g_spans, 1);
    assert_int_equal(g_last_trace, 42);

    /* over trace_max_length_bytes */
    uint8_t big[300];
    memset(big, 0, sizeof big);
    assert_int_equal(unary(&h, VN_GRPC_INGEST_PATH_SPAN, big, sizeof big, 1, &why, NULL, NULL),
                     VN_GRPC_RESOURCE_EXHAUSTED);

    /* the worker holds span 2, span 3 fills the one-slot queue, span 4 is refused */
    pthread_mutex_lock(&g_mu);
    g_block = 1;
    pthread_mutex_unlock(&g_mu);
    n = span_bytes(2, span, sizeof span);
    assert_int_equal(unary(&h, VN_GRPC_INGEST_PATH_SPAN, span, n, 1, &why, NULL, NULL), VN_GRPC_OK);
    wait_spans(2);
    n = span_bytes(3, span, sizeof span);
    assert_int_equal(unary(&h, VN_GRPC_INGEST_PATH_SPAN, span, n, 1, &why, NULL, NULL), VN_GRPC_OK);
    n = span_bytes(4, span, sizeof span);
    assert_int_equal(unary(&h, VN_GRPC_INGEST_PATH_SPAN, span, n, 1, &why, NULL, NULL), VN_GRPC_UNAVAILABLE);
    assert_non_null(strstr(why, "queue full"));
    pthread_mutex_lock(&g_mu);
    g_block = 0;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    wait_spans(3);
    assert_int_equal(g_spans, 3);
    assert_int_equal(g_last_trace, 3);

    assert_int_equal(vn_stats_get(&f->stats.grpc_ingest_spans), 3);
    assert_int_equal(vn_stats_get(&f->stats.grpc_ingest_spans_refused), 2);
    assert_int_equal(vn_stats_get(&f->stats.ssf_spans_dropped), 1);
    vn_grpc_ingest_free(g);
    vn_ssf_server_stop(ssf);
    assert_int_equal(vn_ssf_server_offer(ssf, span, n), VN_SSF_OFFER_STOPPED);
    assert_int_equal(vn_stats_get(&f->stats.ssf_spans_received), 3);
    vn_ssf_server_free(ssf);
    vn_config_free(cfg);
}

/* Through real sockets: the h2 server's response hook puts HealthCheckResponse on the wire. */
static void test_grpc_ingest__served_over_h2(void **state)
{
    fx_t *f = *state;
    char err[256];
    assert_int_equal(vn_grpc_ingest_listen(f->g, "udp://127.0.0.1:0", err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "only tcp://"));
    assert_int_equal(vn_grpc_ingest_listen(f->g, "tcp://127.0.0.1:0", err, sizeof err), VN_OK);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", vn_grpc_ingest_port(f->g));
    vn_h2_client_t *cli = NULL;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &cli), VN_OK);
    uint8_t body[64];
    vn_grpc_prefix(body, 0);
    vn_grpc_result_t res;
    assert_int_equal(vn_h2_client_call(cli, VN_GRPC_INGEST_PATH_HEALTH, body, VN_GRPC_PREFIX, vn_clock_mono_s() + 5,
                                       &res),
                     VN_OK);
    const uint8_t want[] = {0, 0, 0, 0, 2, 0x08, 0x01};
    assert_int_equal(res.body_len, sizeof want);
    assert_memory_equal(res.body, want, sizeof want);
    size_t n = packet("h2.c:7|c", body + VN_GRPC_PREFIX);
    vn_grpc_prefix(body, (uint32_t)n);
    assert_int_equal(vn_h2_client_call(cli, VN_GRPC_INGEST_PATH_PACKET, body, VN_GRPC_PREFIX + n,
                                       vn_clock_mono_s() + 5, &res),
                     VN_OK);
    assert_int_equal(res.body_len, VN_GRPC_PREFIX); /* Empty */
    assert_int_equal(vn_h2_client_call(cli, "/nope.Svc/M", body, VN_GRPC_PREFIX, vn_clock_mono_s() + 5, &res),
                     VN_ERR_PROTO);
    assert_int_equal(res.grpc_status, VN_GRPC_UNIMPLEMENTED);
    vn_h2_client_free(cli);
    vn_grpc_ingest_stop(f->g); /* joins the server thread: its ingest is committed */
    assert_true(counter_value("h2.c\n") == 7.0);
}

/* tls_key set: the listener is TLS only (ALPN h2, client certificates when a CA is set), as Go. */
static void test_grpc_ingest__served_over_tls(void **state)
{
    fx_t *f = *state;
    testcerts_t tc;
    assert_true(testcerts_make(&tc, 1));
    char err[256];
    SSL_CTX *sctx = NULL, *cctx = NULL;
    assert_int_equal(vn_tls_server_ctx_new(tc.server_key_pem, tc.server_pem, tc.ca_pem, &sctx, err, sizeof err),
                     VN_OK);
    vn_tls_files_alpn_h2(sctx);
    assert_int_equal(vn_tls_client_ctx_new(tc.ca_pem, tc.client_pem, tc.client_key_pem, &cctx, err, sizeof err),
                     VN_OK);
    vn_grpc_ingest_opts_t o = {.shared = &f->sh, .reader_id = 2, .tls = sctx};
    vn_grpc_ingest_t *g = vn_grpc_ingest_new(&o);
    assert_int_equal(vn_grpc_ingest_listen(g, "tcp://127.0.0.1:0", err, sizeof err), VN_OK);
    SSL_CTX_free(sctx); /* the server holds its own reference */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", vn_grpc_ingest_port(g));
    uint8_t body[64];
    vn_grpc_result_t res;
    vn_h2_client_t *cli = NULL;
    assert_int_equal(vn_h2_client_new(addr, cctx, NULL, &cli), VN_OK);
    vn_grpc_prefix(body, 0);
    assert_int_equal(vn_h2_client_call(cli, VN_GRPC_INGEST_PATH_HEALTH, body, VN_GRPC_PREFIX, vn_clock_mono_s() + 5,
                                       &res),
                     VN_OK);
    assert_int_equal(res.body_len, 7);
    size_t n = packet("tls.c:3|c", body + VN_GRPC_PREFIX);
    vn_grpc_prefix(body, (uint32_t)n);
    assert_int_equal(vn_h2_client_call(cli, VN_GRPC_INGEST_PATH_PACKET, body, VN_GRPC_PREFIX + n,
                                       vn_clock_mono_s() + 5, &res),
                     VN_OK);
    vn_h2_client_free(cli);
    /* a plaintext client gets nowhere */
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &cli), VN_OK);
    assert_int_not_equal(vn_h2_client_call(cli, VN_GRPC_INGEST_PATH_PACKET, body, VN_GRPC_PREFIX + n,
                                           vn_clock_mono_s() + 5, &res),
                         VN_OK);
    vn_h2_client_free(cli);
    vn_grpc_ingest_free(g);
    assert_true(counter_value("tls.c\n") == 3.0);
    SSL_CTX_free(cctx);
    testcerts_free(&tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc_ingest__decode_packet),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__send_packet_mixed_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__packet_too_long_dropped_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__unary_rules_and_bad_protobuf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__unknown_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__health_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__send_span, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__served_over_h2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_ingest__served_over_tls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
