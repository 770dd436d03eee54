/*
 * test_h2_server.c - forward/h2_server limits (issues 14, 15): reassembly
 * paid as bytes arrive, per-connection cap, fair share of the server budget,
 * body and handshake deadlines (through the memory interface), and over
 * real sockets the per-peer and total connection limits (idle connections
 * evicted, busy ones not) and the accept back-off at RLIMIT_NOFILE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"
#include "forward/grpc_frame.h"
#include "forward/h2_server.h"

#include "h2_fixture.h"
/* ---- a recording handler ---- */

#define MAXC 256
typedef struct rec {
    int opened, messages, closed;
    size_t bytes;
    vn_grpc_status_t finals[MAXC];
    int slot[MAXC];
} rec_t;

static void *h_open(void *ctx, const char *path, vn_grpc_status_t *st, const char **msg)
{
    (void)path;
    (void)st;
    (void)msg;
    rec_t *r = ctx;
    assert_true(r->opened < MAXC);
    r->slot[r->opened] = r->opened;
    int k = r->opened;
    __atomic_store_n(&r->opened, k + 1, __ATOMIC_RELEASE); /* the test thread polls it */
    return &r->slot[k];
}

static rec_t *g_rec;

static vn_grpc_status_t h_message(void *call, const uint8_t *d, size_t len, const char **msg)
{
    (void)call;
    (void)d;
    (void)msg;
    g_rec->messages++;
    g_rec->bytes += len;
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
    g_rec->finals[*(int *)call] = final;
    g_rec->closed++;
}

static vn_h2_server_opts_t opts_for(rec_t *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < MAXC; i++)
        r->finals[i] = (vn_grpc_status_t)-1;
    g_rec = r;
    vn_h2_server_opts_t o = {.handler = {h_open, h_message, h_finish, h_close, r, NULL}};
    return o;
}

/* ---- raw HTTP/2 client bytes (the buffer, preface, frames and requests: h2_fixture.h) ---- */

/* DATA frames of at most 16 KiB carrying p[0..n). */
static void data(wire_t *w, uint32_t sid, const uint8_t *p, size_t n, bool end)
{
    do {
        size_t k = n > 16384 ? 16384 : n;
        frame(w, 0, (end && k == n) ? 1 : 0, sid, p, k);
        p += k;
        n -= k;
    } while (n);
}

static void prefix_and(wire_t *w, uint32_t sid, uint32_t announced, size_t body_bytes)
{
    uint8_t *m = calloc(1, 5 + body_bytes);
    vn_grpc_prefix(m, announced);
    data(w, sid, m, 5 + body_bytes, false);
    free(m);
}

/* Feeds w and drains the output (so answered streams close). */
static bool feed(vn_h2_conn_t *c, wire_t *w)
{
    bool ok = vn_h2_conn_feed(c, w->b, w->n);
    w->n = 0;
    const uint8_t *out;
    long n;
    while ((n = vn_h2_conn_output(c, &out)) > 0)
        ;
    return ok;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- memory interface ---- */

static void test_h2_server__calls_and_split_messages(void **state)
{
    (void)state;
    rec_t r;
    vn_h2_server_opts_t o = opts_for(&r);
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    wire_t w = {0};
    preface(&w);
    request(&w, 1);
    uint8_t msgs[3 * (5 + 40000)];
    for (int i = 0; i < 3; i++) {
        memset(msgs + i * 40005, 'a' + i, 40005);
        vn_grpc_prefix(msgs + i * 40005, 40000);
    }
    data(&w, 1, msgs, sizeof msgs, true); /* split across 16 KiB frames */
    assert_true(feed(c, &w));
    assert_int_equal(r.messages, 3);
    assert_int_equal(r.bytes, 120000);
    assert_int_equal(r.closed, 1);
    assert_int_equal(r.finals[0], VN_GRPC_OK);
    assert_int_equal(vn_h2_server_held(s), 0);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* Issue 15: 64 streams with a 4 MiB prefix and one byte hold 64 small buffers, not 256 MiB. */
static void test_h2_server__prefix_reserves_nothing(void **state)
{
    (void)state;
    rec_t r;
    vn_h2_server_opts_t o = opts_for(&r);
    o.reassembly_budget = 1 << 20; /* far below 64 x 4 MiB */
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    vn_h2_conn_t *hostile[2];
    wire_t w = {0};
    for (int k = 0; k < 2; k++) {
        hostile[k] = vn_h2_conn_new(s, NULL);
        preface(&w);
        for (uint32_t i = 0; i < 32; i++) {
            request(&w, 1 + 2 * i);
            prefix_and(&w, 1 + 2 * i, VN_GRPC_MAX_MESSAGE, 1);
        }
        assert_true(feed(hostile[k], &w));
    }
    assert_int_equal(vn_h2_server_held(s), 64 * VN_GRPC_REASM_MIN);
    /* a legitimate 200 KiB message split across frames still gets through */
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    preface(&w);
    request(&w, 1);
    uint8_t *m = calloc(1, 5 + (200 << 10));
    vn_grpc_prefix(m, 200 << 10);
    data(&w, 1, m, 5 + (200 << 10), true);
    assert_true(feed(c, &w));
    assert_int_equal(r.messages, 1);
    assert_int_equal(r.finals[64], VN_GRPC_OK);
    vn_h2_server_free_detached(s);
    assert_int_equal(r.closed, 65);
    free(m);
    free(w.b);
}

static void test_h2_server__per_connection_cap(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_stats_init(&st);
    vn_h2_server_opts_t o = opts_for(&r);
    o.conn_reassembly = 64 << 10;
    o.stats = &st;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    wire_t w = {0};
    preface(&w);
    request(&w, 1);
    prefix_and(&w, 1, 1 << 20, 100 << 10); /* 100 KiB of a 1 MiB message */
    assert_true(feed(c, &w));
    assert_int_equal(r.finals[0], VN_GRPC_RESOURCE_EXHAUSTED);
    assert_int_equal(vn_h2_server_held(s), 0);
    assert_true(vn_stats_get(&st.grpc_reassembly_refused) >= 1);
    /* the connection itself goes on: a new call is served */
    request(&w, 3);
    uint8_t m[5 + 10];
    memset(m, 0, sizeof m);
    vn_grpc_prefix(m, 10);
    data(&w, 3, m, sizeof m, true);
    assert_true(feed(c, &w));
    assert_int_equal(r.finals[1], VN_GRPC_OK);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* The server budget is short: the connection holding more than its share gives way. */
static void test_h2_server__fair_share(void **state)
{
    (void)state;
    rec_t r;
    vn_h2_server_opts_t o = opts_for(&r);
    o.reassembly_budget = 256 << 10;
    o.conn_reassembly = 256 << 10;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    vn_h2_conn_t *a = vn_h2_conn_new(s, NULL), *b = vn_h2_conn_new(s, NULL);
    wire_t w = {0};
    preface(&w);
    request(&w, 1);
    prefix_and(&w, 1, 1 << 20, 140000); /* holds 256 KiB (the buffer doubled past 128 KiB) */
    assert_true(feed(a, &w));
    assert_int_equal(vn_h2_server_held(s), 256 << 10);
    preface(&w);
    request(&w, 1);
    uint8_t *m = calloc(1, 5 + 100000);
    vn_grpc_prefix(m, 100000);
    data(&w, 1, m, 5 + 100000, true);
    assert_true(feed(b, &w));
    assert_int_equal(r.messages, 1); /* b's message arrived */
    assert_int_equal(r.finals[1], VN_GRPC_OK);
    assert_true(feed(a, &w)); /* a's answer goes out */
    assert_int_equal(r.finals[0], VN_GRPC_RESOURCE_EXHAUSTED);
    assert_int_equal(vn_h2_server_held(s), 0);
    vn_h2_server_free_detached(s);
    free(m);
    free(w.b);
}

static void test_h2_server__deadlines(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_stats_init(&st);
    vn_h2_server_opts_t o = opts_for(&r);
    o.stats = &st;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    (void)vn_h2_conn_new(s, NULL); /* never says anything */
    wire_t w = {0};
    preface(&w);
    request(&w, 1);
    prefix_and(&w, 1, 1000, 10);
    assert_true(feed(c, &w));
    double now = mono();
    vn_h2_server_sweep(s, now + 5);
    assert_int_equal(vn_h2_server_connections(s), 2);
    assert_int_equal(r.closed, 0);
    vn_h2_server_sweep(s, now + VN_H2_DEFAULT_HANDSHAKE_S + 1);
    assert_int_equal(vn_h2_server_connections(s), 1); /* the silent one */
    assert_int_equal(vn_stats_get(&st.grpc_handshake_timeouts), 1);
    vn_h2_server_sweep(s, now + VN_H2_DEFAULT_BODY_S + 1);
    assert_true(feed(c, &w));
    assert_int_equal(r.finals[0], VN_GRPC_DEADLINE_EXCEEDED);
    assert_int_equal(vn_stats_get(&st.grpc_body_timeouts), 1);
    assert_int_equal(vn_h2_server_held(s), 0);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* ---- sockets ---- */

static int dial(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (src) {
        inet_pton(AF_INET, src, &a.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    }
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_wire(int fd, wire_t *w)
{
    assert_int_equal(send(fd, w->b, w->n, MSG_NOSIGNAL), (ssize_t)w->n);
    w->n = 0;
}

/* Reads until EOF (true) or `ms` pass with the socket open (false). */
static bool closed_within(int fd, int ms)
{
    double end = mono() + ms / 1000.0;
    char b[4096];
    for (;;) {
        int left = (int)((end - mono()) * 1000);
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            return false;
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0)
            return true;
    }
}

static void wait_stat(_Atomic uint64_t *c, uint64_t want)
{
    for (int i = 0; i < 500 && vn_stats_get(c) < want; i++)
        usleep(10000);
    assert_true(vn_stats_get(c) >= want);
}

static void test_h2_server__peer_limit_evicts_idle_refuses_busy(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_stats_init(&st);
    vn_h2_server_opts_t o = opts_for(&r);
    o.address = "127.0.0.1:0";
    o.max_per_peer = 4;
    o.max_connections = 6;
    o.stats = &st;
    vn_h2_server_t *s;
    char err[128];
    assert_int_equal(vn_h2_server_start(&o, &s, err, sizeof err), VN_OK);
    int port = vn_h2_server_port(s);
    wire_t w = {0};
    int fds[8];
    for (int i = 0; i < 4; i++) {
        fds[i] = dial(port, NULL);
        preface(&w);
        send_wire(fds[i], &w);
    }
    wait_stat(&st.grpc_connections_total, 4);
    /* a fifth from the same address: the least recently active idle one goes */
    fds[4] = dial(port, NULL);
    wait_stat(&st.grpc_connections_total, 5);
    assert_int_equal(vn_stats_get(&st.grpc_connections_evicted), 1);
    assert_true(closed_within(fds[0], 2000));
    /* now all four busy (a call open on each): a newcomer is refused */
    for (int i = 1; i <= 4; i++) {
        if (i == 4)
            preface(&w); /* the others sent theirs above */
        request(&w, 1);
        send_wire(fds[i], &w);
    }
    for (int i = 0; i < 300 && __atomic_load_n(&r.opened, __ATOMIC_ACQUIRE) < 4; i++)
        usleep(10000); /* bounded poll: up to 3 s for the server thread to open the calls */
    assert_int_equal(__atomic_load_n(&r.opened, __ATOMIC_ACQUIRE), 4);
    fds[5] = dial(port, NULL);
    wait_stat(&st.grpc_connections_refused, 1);
    assert_true(closed_within(fds[5], 2000));
    /* another address still gets in, and the total cap evicts only idle ones */
    fds[6] = dial(port, "127.0.0.2");
    fds[7] = dial(port, "127.0.0.3");
    wait_stat(&st.grpc_connections_total, 7);
    int x = dial(port, "127.0.0.4"); /* 7th live: over max_connections 6, fds[6] (idle) goes */
    wait_stat(&st.grpc_connections_evicted, 2);
    assert_true(closed_within(fds[6], 2000));
    close(x);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    vn_h2_server_stop(s);
    assert_int_equal(r.closed, 4);
    free(w.b);
}

/* RLIMIT_NOFILE reached: the listener pauses instead of spinning, and resumes. */
static void test_h2_server__accept_backoff(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_stats_init(&st);
    vn_h2_server_opts_t o = opts_for(&r);
    o.address = "127.0.0.1:0";
    o.stats = &st;
    vn_h2_server_t *s;
    char err[128];
    assert_int_equal(vn_h2_server_start(&o, &s, err, sizeof err), VN_OK);
    int port = vn_h2_server_port(s);
    enum { N = 12 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int probe = dup(0); /* the lowest free descriptor: about how many are open */
    close(probe);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    int maxfd = 0;
    for (int i = 0; i < N; i++)
        maxfd = fds[i] > maxfd ? fds[i] : maxfd;
    low.rlim_cur = (rlim_t)maxfd + 3; /* room for two or three accepted connections */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    for (int i = 0; i < N; i++)
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
    wait_stat(&st.grpc_accept_paused, 1);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    usleep(500000);
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    assert_true(cpu < 0.1); /* a spinning accept loop burns the whole 0.5 s */
    uint64_t pauses = vn_stats_get(&st.grpc_accept_paused);
    assert_true(pauses >= 1 && pauses <= 8); /* 100, 200, 400 ms ... not thousands */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    wait_stat(&st.grpc_connections_total, N); /* resumed: the backlog is taken */
    for (int i = 0; i < N; i++)
        close(fds[i]);
    vn_h2_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h2_server__calls_and_split_messages),
        cmocka_unit_test(test_h2_server__prefix_reserves_nothing),
        cmocka_unit_test(test_h2_server__per_connection_cap),
        cmocka_unit_test(test_h2_server__fair_share),
        cmocka_unit_test(test_h2_server__deadlines),
        cmocka_unit_test(test_h2_server__peer_limit_evicts_idle_refuses_busy),
        cmocka_unit_test(test_h2_server__accept_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
