/* test_h2_client.c - forward/h2_client: the one gRPC client, both call shapes (unary-style calls of the
 * forwarder, long-lived streams of the proxy), against forward/h2_server on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client.h"
#include "forward/h2_server.h"
#include "forward/hops.h"

#define V2 "/forwardrpc.Forward/SendMetricsV2"

/* What the server saw; written on its thread, read after a wait under mu. */
typedef struct seen {
    pthread_mutex_t mu;
    int opens, messages, finishes;
    vn_grpc_meta_t meta; /* of the last call */
} seen_t;

static void *h_open(void *ctx, const char *path, const vn_grpc_meta_t *meta, vn_grpc_status_t *st, const char **msg)
{
    seen_t *s = ctx;
    (void)path;
    pthread_mutex_lock(&s->mu);
    s->opens++;
    s->meta = *meta;
    pthread_mutex_unlock(&s->mu);
    if (strcmp(meta->proxy_id, "refuse") == 0) {
        *st = VN_GRPC_FAILED_PRECONDITION;
        *msg = "refused by test";
        return NULL;
    }
    return s;
}

static vn_grpc_status_t h_message(void *call, const uint8_t *data, size_t len, const char **msg)
{
    seen_t *s = call;
    (void)data;
    (void)len;
    (void)msg;
    pthread_mutex_lock(&s->mu);
    s->messages++;
    pthread_mutex_unlock(&s->mu);
    return VN_GRPC_OK;
}

static vn_grpc_status_t h_finish(void *call, const char **msg)
{
    seen_t *s = call;
    (void)msg;
    pthread_mutex_lock(&s->mu);
    s->finishes++;
    pthread_mutex_unlock(&s->mu);
    return VN_GRPC_OK;
}

static void h_close(void *call, vn_grpc_status_t final)
{
    (void)call;
    (void)final;
}

typedef struct fx {
    seen_t seen;
    vn_h2_server_t *srv;
    char addr[64];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->seen.mu, NULL);
    vn_h2_server_opts_t o = {.address = "127.0.0.1:0",
                             .handler = {.open_meta = h_open,
                                         .message = h_message,
                                         .finish = h_finish,
                                         .close = h_close,
                                         .ctx = &f->seen}};
    char err[256];
    assert_int_equal(vn_h2_server_start(&o, &f->srv, err, sizeof err), VN_OK);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", vn_h2_server_port(f->srv));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    vn_h2_server_stop(f->srv);
    pthread_mutex_destroy(&f->seen.mu);
    free(f);
    return 0;
}

static int seen_get(seen_t *s, const int *field)
{
    pthread_mutex_lock(&s->mu);
    int v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Two framed messages of 3 and 1 bytes. */
static size_t two_messages(uint8_t *b)
{
    vn_grpc_prefix(b, 3);
    memcpy(b + 5, "abc", 3);
    vn_grpc_prefix(b + 8, 1);
    b[13] = 'z';
    return 14;
}

static void test_h2_client__headers_table(void **state)
{
    (void)state;
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new("127.0.0.1:1", NULL, NULL, &c), VN_OK);
    char longname[64];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(vn_h2_client_set_header(c, longname, "v"), VN_ERR_CONFIG);
    assert_int_equal(vn_h2_client_set_header(c, "x-a", longname), VN_OK); /* 63 < 80 */
    char longvalue[100];
    memset(longvalue, 'v', sizeof longvalue - 1);
    longvalue[sizeof longvalue - 1] = '\0';
    assert_int_equal(vn_h2_client_set_header(c, "x-a", longvalue), VN_ERR_CONFIG);
    assert_int_equal(vn_h2_client_set_header(c, "x-b", "2"), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, "x-c", "3"), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, "x-d", "4"), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, "x-e", "5"), VN_ERR_CONFIG); /* table full */
    assert_int_equal(vn_h2_client_set_header(c, "x-d", "44"), VN_OK);        /* replace in place */
    assert_int_equal(vn_h2_client_set_header(c, "x-a", NULL), VN_OK);        /* remove */
    assert_int_equal(vn_h2_client_set_header(c, "x-e", "5"), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, "x-none", NULL), VN_OK);
    vn_h2_client_free(c);
    assert_int_equal(vn_h2_client_new("nohost", NULL, NULL, &c), VN_ERR_CONFIG);
    assert_null(c);
}

/* The forwarder's shape: headers set on the client reach the server; removing one stops it. */
static void test_h2_client__unary_headers(void **state)
{
    fx_t *f = *state;
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(f->addr, NULL, NULL, &c), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, VN_INTERVAL_HEADER, "1765072808.500"), VN_OK);
    uint8_t body[32];
    size_t n = two_messages(body);
    vn_grpc_result_t res;
    assert_int_equal(vn_h2_client_call(c, V2, body, n, vn_clock_mono_s() + 5, &res), VN_OK);
    assert_true(res.submitted);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.grpc_status, 0);
    assert_int_equal(seen_get(&f->seen, &f->seen.messages), 2);
    assert_int_equal(f->seen.meta.interval_ms, 1765072808500LL);
    assert_int_equal(f->seen.meta.hops, 0);
    assert_int_equal(vn_h2_client_set_header(c, VN_INTERVAL_HEADER, NULL), VN_OK);
    assert_int_equal(vn_h2_client_call(c, V2, body, n, vn_clock_mono_s() + 5, &res), VN_OK);
    assert_int_equal(f->seen.meta.interval_ms, 0);
    assert_int_equal(seen_get(&f->seen, &f->seen.opens), 2);
    vn_h2_client_free(c);
}

/* The proxy's shape: hop count and id travel as headers; buffers are taken whole; finish ends the call. */
static void test_h2_client__stream_roundtrip(void **state)
{
    fx_t *f = *state;
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(f->addr, NULL, NULL, &c), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, VN_HOPS_HEADER, "3"), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, VN_PROXY_ID_HEADER, "0123456789abcdef0123456789abcdef"), VN_OK);
    assert_int_equal(vn_h2_client_stream_open(c, V2, NULL, vn_clock_mono_s() + 5), VN_OK);
    /* the opening PING was answered, so the server has seen the headers already */
    assert_int_equal(seen_get(&f->seen, &f->seen.opens), 1);
    assert_int_equal(f->seen.meta.hops, 3);
    assert_string_equal(f->seen.meta.proxy_id, "0123456789abcdef0123456789abcdef");
    uint8_t body[32];
    size_t n = two_messages(body);
    assert_true(vn_h2_client_stream_idle(c));
    vn_h2_client_stream_write(c, body, n);
    assert_int_equal(vn_h2_client_stream_unsent(c), n);
    double end = vn_clock_mono_s() + 5;
    while (!vn_h2_client_stream_idle(c) && vn_clock_mono_s() < end)
        assert_int_equal(vn_h2_client_stream_pump(c, 50, -1, NULL), VN_OK);
    assert_true(vn_h2_client_stream_idle(c));
    assert_int_equal(vn_h2_client_stream_unsent(c), 0);
    vn_h2_client_stream_write(c, body, n);
    assert_int_equal(vn_h2_client_stream_finish(c, vn_clock_mono_s() + 5), VN_OK);
    assert_int_equal(seen_get(&f->seen, &f->seen.messages), 4);
    assert_int_equal(seen_get(&f->seen, &f->seen.finishes), 1);
    assert_string_equal(vn_h2_client_error(c), "no error");
    /* the same client opens a new stream on a fresh connection */
    assert_int_equal(vn_h2_client_stream_open(c, V2, NULL, vn_clock_mono_s() + 5), VN_OK);
    assert_int_equal(seen_get(&f->seen, &f->seen.opens), 2);
    /* and a unary-style call after a stream works too */
    vn_grpc_result_t res;
    assert_int_equal(vn_h2_client_call(c, V2, body, n, vn_clock_mono_s() + 5, &res), VN_OK);
    vn_h2_client_free(c);
}

/* A call the server refuses at once: the stream fails with the server's reason, at the open or the first pump. */
static void test_h2_client__stream_refused_at_open(void **state)
{
    fx_t *f = *state;
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(f->addr, NULL, NULL, &c), VN_OK);
    assert_int_equal(vn_h2_client_set_header(c, VN_PROXY_ID_HEADER, "refuse"), VN_OK);
    /* The PING's answer proves the server read the headers (and called the handler); the refusal
     * itself may come in the same read (the open fails) or just after it (the first pump fails). */
    vn_err_t e = vn_h2_client_stream_open(c, V2, NULL, vn_clock_mono_s() + 5);
    assert_int_equal(seen_get(&f->seen, &f->seen.opens), 1);
    double end = vn_clock_mono_s() + 5;
    while (e == VN_OK && vn_clock_mono_s() < end)
        e = vn_h2_client_stream_pump(c, 50, -1, NULL);
    assert_int_equal(e, VN_ERR_PROTO);
    assert_non_null(strstr(vn_h2_client_error(c), "refused by test"));
    /* a failed stream only allows a new open */
    assert_int_equal(vn_h2_client_stream_pump(c, 10, -1, NULL), VN_ERR_IO);
    vn_h2_client_free(c);
}

/* Nothing listening: the unary call was never submitted (the forwarder may fail over), the open says why. */
static void test_h2_client__refused_connection(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd); /* a port nobody listens on */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
    vn_grpc_result_t res;
    assert_int_equal(vn_h2_client_call(c, V2, (const uint8_t *)"", 0, vn_clock_mono_s() + 2, &res), VN_ERR_IO);
    assert_false(res.submitted);
    assert_int_equal(res.transport, VN_ERR_IO);
    assert_int_equal(vn_h2_client_stream_open(c, V2, NULL, vn_clock_mono_s() + 2), VN_ERR_IO);
    assert_non_null(strstr(vn_h2_client_error(c), "connect:"));
    vn_h2_client_free(c);
}

/* A listener that never speaks HTTP/2: the open gives up at its deadline, naming the missing SETTINGS. */
static void test_h2_client__silent_peer_times_out(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
    double t0 = vn_clock_mono_s();
    assert_int_equal(vn_h2_client_stream_open(c, V2, NULL, t0 + 0.3), VN_ERR_TIMEOUT);
    double took = vn_clock_mono_s() - t0;
    assert_true(took >= 0.29 && took < 2.0);
    assert_non_null(strstr(vn_h2_client_error(c), "SETTINGS"));
    /* the unary shape: the call is cancelled at its deadline too, and it was submitted (sent on the wire) */
    vn_grpc_result_t res;
    t0 = vn_clock_mono_s();
    assert_int_equal(vn_h2_client_call(c, V2, (const uint8_t *)"", 0, t0 + 0.3, &res), VN_ERR_TIMEOUT);
    assert_true(res.submitted);
    assert_true(vn_clock_mono_s() - t0 < 2.0);
    vn_h2_client_free(c);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h2_client__headers_table),
        cmocka_unit_test_setup_teardown(test_h2_client__unary_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h2_client__stream_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h2_client__stream_refused_at_open, setup, teardown),
        cmocka_unit_test(test_h2_client__refused_connection),
        cmocka_unit_test(test_h2_client__silent_peer_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
