/*
 * test_h2_lifecycle.c - forward/h2_server connection lifecycle (issue 21)
 * through the memory interface and a fake clock: max_age with its +-10 %
 * jitter, the two-step GOAWAY (notice + PING, then the last stream id),
 * the grace close, keepalive PINGs and their timeout, idle time that PINGs
 * do not refresh; and over real sockets, TLS with client certificates
 * (tls/tls_files.h contexts, h2_client as the peer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/stats.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client.h"
#include "forward/h2_server.h"
#include "tls/tls.h"
#include "tls/tls_files.h"

#include "../tls/tls_testcerts.h"

#include "h2_fixture.h"
/* ---- handler: counts, remembers each call's final status ---- */

#define MAXC 64
typedef struct rec {
    int opened, closed;
    vn_grpc_status_t finals[MAXC];
    int slot[MAXC];
} rec_t;

static void *h_open(void *ctx, const char *path, vn_grpc_status_t *st, const char **msg)
{
    (void)path;
    (void)st;
    (void)msg;
    rec_t *r = ctx;
    int k = __atomic_load_n(&r->opened, __ATOMIC_ACQUIRE);
    r->slot[k] = k;
    __atomic_store_n(&r->opened, k + 1, __ATOMIC_RELEASE);
    return &r->slot[k];
}

static rec_t *g_rec;
static unsigned long g_msgs; /* messages handled, all calls (atomic) */

static vn_grpc_status_t h_message(void *call, const uint8_t *d, size_t len, const char **msg)
{
    (void)call;
    (void)d;
    (void)len;
    (void)msg;
    __atomic_add_fetch(&g_msgs, 1, __ATOMIC_RELAXED);
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
    __atomic_add_fetch(&g_rec->closed, 1, __ATOMIC_RELEASE);
}

static vn_h2_server_opts_t opts_for(rec_t *r, vn_stats_t *st)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < MAXC; i++)
        r->finals[i] = (vn_grpc_status_t)-1;
    g_rec = r;
    vn_stats_init(st);
    vn_h2_server_opts_t o = {.handler = {h_open, h_message, h_finish, h_close, r, NULL}, .stats = st};
    return o;
}

/* ---- fake clock ---- */

static double g_now;
static double fake_clock(void *ctx)
{
    (void)ctx;
    return g_now;
}

/* ---- raw HTTP/2 client bytes (the buffer, preface, frames and requests: h2_fixture.h) ---- */

static void end_stream(wire_t *w, uint32_t sid) { frame(w, 0, 1, sid, NULL, 0); }

static void ping(wire_t *w, bool ack, const uint8_t opaque[8]) { frame(w, 6, ack ? 1 : 0, 0, opaque, 8); }

/* ---- what the server sent ---- */

typedef struct seen {
    int goaways;
    uint32_t goaway_last[4];
    int pings;            /* PINGs without ACK */
    uint8_t ping_opaque[8]; /* the last one's */
} seen_t;

/* Drains c's output and parses its frames (after the first call, output starts on a frame boundary). */
static void drain_out(vn_h2_conn_t *c, seen_t *sn)
{
    wire_t all = {0};
    const uint8_t *out;
    long n;
    while ((n = vn_h2_conn_output(c, &out)) > 0)
        put(&all, out, (size_t)n);
    for (size_t off = 0; off + 9 <= all.n;) {
        const uint8_t *h = all.b + off;
        size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        assert_true(off + 9 + len <= all.n);
        const uint8_t *p = h + 9;
        if (h[3] == 7) {
            assert_true(sn->goaways < 4);
            sn->goaway_last[sn->goaways++] = ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) &
                                            0x7fffffffu;
        } else if (h[3] == 6 && !(h[4] & 1)) {
            sn->pings++;
            memcpy(sn->ping_opaque, p, 8);
        }
        off += 9 + len;
    }
    free(all.b);
}

static bool feed(vn_h2_conn_t *c, wire_t *w, seen_t *sn)
{
    bool ok = vn_h2_conn_feed(c, w->b, w->n);
    w->n = 0;
    drain_out(c, sn);
    return ok;
}

/* ---- max_age ---- */

/* Every connection gets its GOAWAY within max_age +-10 %, not all at the same moment. */
static void test_h2_lifecycle__max_age_jitter(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.max_age_s = 10;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    g_now = 1000;
    vn_h2_server_set_clock(s, fake_clock, NULL);
    enum { N = 24 };
    vn_h2_conn_t *c[N];
    seen_t sn[N];
    double at[N];
    wire_t w = {0};
    for (int i = 0; i < N; i++) {
        memset(&sn[i], 0, sizeof sn[i]);
        c[i] = vn_h2_conn_new(s, NULL);
        preface(&w);
        assert_true(feed(c[i], &w, &sn[i]));
        at[i] = 0;
    }
    for (double t = 1000; t <= 1012; t += 0.01) {
        g_now = t;
        vn_h2_server_sweep(s, t);
        for (int i = 0; i < N; i++) {
            drain_out(c[i], &sn[i]);
            if (sn[i].goaways && !at[i])
                at[i] = t - 1000;
        }
    }
    double lo = 1e9, hi = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(sn[i].goaways, 1);
        assert_int_equal(sn[i].goaway_last[0], 0x7fffffff); /* the notice: nothing refused yet */
        assert_int_equal(sn[i].pings, 1);
        assert_true(at[i] >= 9.0 - 1e-6 && at[i] <= 11.0 + 0.011);
        lo = at[i] < lo ? at[i] : lo;
        hi = at[i] > hi ? at[i] : hi;
    }
    assert_true(hi - lo > 0.2); /* 24 uniform draws over 2 s: spread far wider than this */
    assert_int_equal(vn_stats_get(&st.grpc_max_age_goaways), N);
    assert_int_equal(vn_h2_server_connections(s), N); /* idle, unlimited grace: left to the clients */
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* The PING answer brings the final GOAWAY naming the last call taken; calls up to it
 * complete, one sent after it is not opened, and the connection ends when they are done. */
static void test_h2_lifecycle__drain_completes_calls(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.max_age_s = 10;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    g_now = 50;
    vn_h2_server_set_clock(s, fake_clock, NULL);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    seen_t sn = {0};
    wire_t w = {0};
    preface(&w);
    request(&w, 1);
    assert_true(feed(c, &w, &sn));
    g_now = 62; /* past 10 s + 10 % */
    vn_h2_server_sweep(s, g_now);
    drain_out(c, &sn);
    assert_int_equal(sn.goaways, 1);
    assert_int_equal(sn.pings, 1);
    request(&w, 3); /* in flight when the notice arrived: still taken */
    ping(&w, true, sn.ping_opaque);
    assert_true(feed(c, &w, &sn));
    assert_int_equal(sn.goaways, 2);
    assert_int_equal(sn.goaway_last[1], 3);
    request(&w, 5); /* after the final GOAWAY: ignored, the client retries elsewhere */
    assert_true(feed(c, &w, &sn));
    assert_int_equal(r.opened, 2);
    end_stream(&w, 1);
    assert_true(feed(c, &w, &sn));
    end_stream(&w, 3);
    assert_true(feed(c, &w, &sn)); /* the answers are still to be written */
    assert_int_equal(r.closed, 2);
    assert_int_equal(r.finals[0], VN_GRPC_OK);
    assert_int_equal(r.finals[1], VN_GRPC_OK);
    assert_false(vn_h2_conn_feed(c, (const uint8_t *)"", 0)); /* written: nothing left, the connection closes */
    vn_h2_conn_close(c);
    assert_int_equal(vn_stats_get(&st.grpc_max_age_closes), 0);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* Calls still open at max_age + grace are cancelled and the connection closed. */
static void test_h2_lifecycle__grace_close(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.max_age_s = 10;
    o.max_age_grace_s = 5;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    g_now = 0.5;
    vn_h2_server_set_clock(s, fake_clock, NULL);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    seen_t sn = {0};
    wire_t w = {0};
    preface(&w);
    request(&w, 1);
    assert_true(feed(c, &w, &sn));
    g_now = 11.6;
    vn_h2_server_sweep(s, g_now);
    assert_int_equal(vn_h2_server_connections(s), 1);
    g_now = 13.4; /* before the earliest possible end (9 + 5 + 0.5) */
    vn_h2_server_sweep(s, g_now);
    assert_int_equal(vn_h2_server_connections(s), 1);
    g_now = 16.6; /* past the latest (11 + 5 + 0.5) */
    vn_h2_server_sweep(s, g_now);
    assert_int_equal(vn_h2_server_connections(s), 0);
    assert_int_equal(r.finals[0], VN_GRPC_CANCELLED);
    assert_int_equal(vn_stats_get(&st.grpc_max_age_goaways), 1);
    assert_int_equal(vn_stats_get(&st.grpc_max_age_closes), 1);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* ---- keepalive ---- */

static void test_h2_lifecycle__keepalive(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.keepalive_time_s = 2;
    o.keepalive_timeout_s = 3;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    g_now = 100;
    vn_h2_server_set_clock(s, fake_clock, NULL);
    vn_h2_conn_t *quiet = vn_h2_conn_new(s, NULL), *live = vn_h2_conn_new(s, NULL);
    seen_t sq = {0}, sl = {0};
    wire_t w = {0};
    preface(&w);
    assert_true(feed(quiet, &w, &sq));
    preface(&w);
    assert_true(feed(live, &w, &sl));
    g_now = 101.9;
    vn_h2_server_sweep(s, g_now);
    drain_out(quiet, &sq);
    assert_int_equal(sq.pings, 0);
    g_now = 102.1;
    vn_h2_server_sweep(s, g_now);
    drain_out(quiet, &sq);
    drain_out(live, &sl);
    assert_int_equal(sq.pings, 1);
    assert_int_equal(sl.pings, 1);
    g_now = 103;
    ping(&w, true, sl.ping_opaque); /* live answers */
    assert_true(feed(live, &w, &sl));
    g_now = 105.0; /* quiet: 2.9 s unanswered */
    vn_h2_server_sweep(s, g_now);
    assert_int_equal(vn_h2_server_connections(s), 2);
    drain_out(live, &sl);
    assert_int_equal(sl.pings, 2); /* 2 s after its answer: the next PING */
    g_now = 105.2;
    vn_h2_server_sweep(s, g_now); /* quiet: 3.1 s */
    assert_int_equal(vn_h2_server_connections(s), 1);
    assert_int_equal(vn_stats_get(&st.grpc_keepalive_timeouts), 1);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* keepalive_time under grpc-go's 1 s floor is raised to it. */
static void test_h2_lifecycle__keepalive_floor(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.keepalive_time_s = 0.01;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    g_now = 10;
    vn_h2_server_set_clock(s, fake_clock, NULL);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    seen_t sn = {0};
    wire_t w = {0};
    preface(&w);
    assert_true(feed(c, &w, &sn));
    g_now = 10.9;
    vn_h2_server_sweep(s, g_now);
    drain_out(c, &sn);
    assert_int_equal(sn.pings, 0);
    g_now = 11.1;
    vn_h2_server_sweep(s, g_now);
    drain_out(c, &sn);
    assert_int_equal(sn.pings, 1);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* The idle timeout counts frames, not PINGs: a client that only pings is still idle. */
static void test_h2_lifecycle__pings_do_not_refresh_idle(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.idle_timeout_s = 5;
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    g_now = 0;
    vn_h2_server_set_clock(s, fake_clock, NULL);
    vn_h2_conn_t *pinger = vn_h2_conn_new(s, NULL), *caller = vn_h2_conn_new(s, NULL);
    seen_t sp = {0}, sc = {0};
    wire_t w = {0};
    preface(&w);
    assert_true(feed(pinger, &w, &sp));
    preface(&w);
    assert_true(feed(caller, &w, &sc));
    static const uint8_t op[8] = "clientpi";
    for (int i = 1; i <= 6; i++) {
        g_now = i;
        ping(&w, false, op);
        assert_true(feed(pinger, &w, &sp));
        if (i == 3) { /* a call: real activity */
            request(&w, 1);
            end_stream(&w, 1);
            assert_true(feed(caller, &w, &sc));
        }
        vn_h2_server_sweep(s, g_now);
    }
    /* at t=6 the pinger's last frame other than PING is 6 s old; the caller's 3 s */
    assert_int_equal(vn_h2_server_connections(s), 1);
    assert_int_equal(r.finals[0], VN_GRPC_OK);
    vn_h2_server_free_detached(s);
    free(w.b);
}

/* ---- TLS over sockets ---- */

typedef struct pki {
    char dir[64];
    char ca[96], srv[96], srvkey[96], cli[96], clikey[96];
} pki_t;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void pki_make(pki_t *p)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/vn-h2tls-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    testcerts_t tc;
    assert_true(testcerts_make(&tc, 1));
    snprintf(p->ca, sizeof p->ca, "%s/ca.pem", p->dir);
    snprintf(p->srv, sizeof p->srv, "%s/srv.pem", p->dir);
    snprintf(p->srvkey, sizeof p->srvkey, "%s/srv.key", p->dir);
    snprintf(p->cli, sizeof p->cli, "%s/cli.pem", p->dir);
    snprintf(p->clikey, sizeof p->clikey, "%s/cli.key", p->dir);
    write_file(p->ca, tc.ca_pem);
    write_file(p->srv, tc.server_pem);
    write_file(p->srvkey, tc.server_key_pem);
    write_file(p->cli, tc.client_pem);
    write_file(p->clikey, tc.client_key_pem);
    testcerts_free(&tc);
}

static void pki_remove(pki_t *p)
{
    const char *f[] = {p->ca, p->srv, p->srvkey, p->cli, p->clikey};
    for (size_t i = 0; i < 5; i++)
        unlink(f[i]);
    rmdir(p->dir);
}

static vn_err_t one_call(const char *addr, SSL_CTX *tls, vn_grpc_result_t *res)
{
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(addr, tls, NULL, &c), VN_OK);
    uint8_t body[5];
    vn_grpc_prefix(body, 0);
    vn_err_t e = vn_h2_client_call(c, "/forwardrpc.Forward/SendMetricsV2", body, sizeof body,
                                   vn_clock_mono_s() + 5, res);
    vn_h2_client_free(c);
    return e;
}

static void test_h2_lifecycle__tls_requires_client_cert(void **state)
{
    (void)state;
    pki_t p;
    pki_make(&p);
    char err[512] = "";
    SSL_CTX *sctx = NULL, *cctx = NULL, *nocert = NULL;
    assert_int_equal(vn_tls_files_server_ctx(p.ca, p.srv, p.srvkey, &sctx, err, sizeof err), VN_OK);
    assert_int_equal(vn_tls_files_client_ctx(p.ca, p.cli, p.clikey, &cctx, err, sizeof err), VN_OK);
    /* a client that trusts the CA but has no certificate of its own */
    FILE *f = fopen(p.ca, "r");
    char ca[8192];
    size_t n = fread(ca, 1, sizeof ca - 1, f);
    ca[n] = '\0';
    fclose(f);
    assert_int_equal(vn_tls_client_ctx_new(ca, NULL, NULL, &nocert, err, sizeof err), VN_OK);
    SSL_CTX *bad = NULL;
    assert_int_equal(vn_tls_files_server_ctx(p.ca, "/nonexistent", p.srvkey, &bad, err, sizeof err), VN_ERR_CONFIG);
    assert_null(bad);
    assert_non_null(strstr(err, "tls.cert_file /nonexistent"));

    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.address = "127.0.0.1:0";
    o.tls = sctx;
    vn_h2_server_t *s = NULL;
    assert_int_equal(vn_h2_server_start(&o, &s, err, sizeof err), VN_OK);
    SSL_CTX_free(sctx); /* the server holds its own reference */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", vn_h2_server_port(s));

    vn_grpc_result_t res;
    assert_int_equal(one_call(addr, cctx, &res), VN_OK);
    assert_int_equal(res.grpc_status, 0);
    assert_int_equal(one_call(addr, nocert, &res), VN_ERR_IO);
    assert_int_equal(one_call(addr, NULL, &res), VN_ERR_IO); /* h2c against TLS */
    double deadline = vn_clock_mono_s() + 5;
    while (vn_stats_get(&st.grpc_tls_handshake_failures) < 2 && vn_clock_mono_s() < deadline)
        usleep(10000);
    assert_int_equal(vn_stats_get(&st.grpc_tls_handshake_failures), 2);
    assert_int_equal(__atomic_load_n(&r.opened, __ATOMIC_ACQUIRE), 1);
    vn_h2_server_stop(s);
    SSL_CTX_free(cctx);
    SSL_CTX_free(nocert);
    pki_remove(&p);
}

/* max_age over a real socket: a client making a call every 50 ms is told to go
 * and reconnects; every call succeeds (a refused one is retried on the new connection). */
static void test_h2_lifecycle__max_age_reconnects_without_failures(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.address = "127.0.0.1:0";
    o.max_age_s = 0.3;
    o.stats = &st;
    char err[256];
    vn_h2_server_t *s = NULL;
    assert_int_equal(vn_h2_server_start(&o, &s, err, sizeof err), VN_OK);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", vn_h2_server_port(s));
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
    uint8_t body[5];
    vn_grpc_prefix(body, 0);
    int ok = 0;
    for (int i = 0; i < 30; i++) {
        vn_grpc_result_t res;
        if (vn_h2_client_call(c, "/forwardrpc.Forward/SendMetricsV2", body, sizeof body, vn_clock_mono_s() + 5,
                              &res) == VN_OK)
            ok++;
        usleep(50000);
    }
    vn_h2_client_free(c);
    assert_int_equal(ok, 30);
    assert_true(vn_stats_get(&st.grpc_connections_total) >= 3); /* 1.5 s at ~0.3 s each */
    assert_true(vn_stats_get(&st.grpc_max_age_goaways) >= 2);
    vn_h2_server_stop(s);
}

/* A long-lived stream told to go at max_age keeps working: the owner finishes it (the
 * answer proves every message was handled), opens the next on a new connection, and
 * nothing sent is lost or handled twice. */
static void test_h2_lifecycle__stream_finishes_on_goaway(void **state)
{
    (void)state;
    rec_t r;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(&r, &st);
    o.address = "127.0.0.1:0";
    o.max_age_s = 0.2;
    char err[256];
    vn_h2_server_t *s = NULL;
    assert_int_equal(vn_h2_server_start(&o, &s, err, sizeof err), VN_OK);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", vn_h2_server_port(s));
    __atomic_store_n(&g_msgs, 0, __ATOMIC_RELAXED);
    enum { PER = 50, ROUNDS = 60 };
    uint8_t batch[PER * 9];
    for (int i = 0; i < PER; i++) {
        vn_grpc_prefix(batch + i * 9, 4);
        memcpy(batch + i * 9 + 5, "abcd", 4);
    }
    vn_h2_client_t *c = NULL;
    assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
    assert_int_equal(vn_h2_client_stream_open(c, "/x", NULL, vn_clock_mono_s() + 5), VN_OK);
    int restreams = 0;
    for (int round = 0; round < ROUNDS; round++) {
        if (vn_h2_client_stream_goaway(c)) {
            assert_int_equal(vn_h2_client_stream_finish(c, vn_clock_mono_s() + 5), VN_OK);
            vn_h2_client_free(c);
            assert_int_equal(vn_h2_client_new(addr, NULL, NULL, &c), VN_OK);
            assert_int_equal(vn_h2_client_stream_open(c, "/x", NULL, vn_clock_mono_s() + 5), VN_OK);
            restreams++;
        }
        vn_h2_client_stream_write(c, batch, sizeof batch);
        double end = vn_clock_mono_s() + 0.02;
        while (vn_clock_mono_s() < end || !vn_h2_client_stream_idle(c))
            assert_int_equal(vn_h2_client_stream_pump(c, 5, -1, NULL), VN_OK);
    }
    assert_int_equal(vn_h2_client_stream_finish(c, vn_clock_mono_s() + 5), VN_OK);
    vn_h2_client_free(c);
    assert_true(restreams >= 2); /* ~1.2 s of rounds at ~0.2 s per connection */
    assert_int_equal(__atomic_load_n(&g_msgs, __ATOMIC_RELAXED), PER * ROUNDS);
    vn_h2_server_stop(s);
}

/* ---- client: a call refused by GOAWAY is retried on a new connection ---- */

typedef struct goaway_srv {
    int lfd;
    int accepted;
    bool saw_headers_first; /* the first connection carried the call's HEADERS */
} goaway_srv_t;

/* Reads from fd until a HEADERS frame has arrived (after the 24-byte preface) or 3 s passed. */
static bool read_until_headers(int fd)
{
    uint8_t buf[65536];
    size_t n = 0;
    double deadline = vn_clock_mono_s() + 3;
    while (vn_clock_mono_s() < deadline && n < sizeof buf) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t k = recv(fd, buf + n, sizeof buf - n, 0);
        if (k <= 0)
            return false;
        n += (size_t)k;
        for (size_t off = 24; off + 9 <= n;) {
            size_t len = (size_t)buf[off] << 16 | (size_t)buf[off + 1] << 8 | buf[off + 2];
            if (buf[off + 3] == 1)
                return true;
            off += 9 + len;
        }
    }
    return false;
}

/* First connection: SETTINGS, then GOAWAY with last-stream-id 0 once the call's HEADERS are in
 * (the call was not processed), then close. Second: a real h2_server engine over the socket. */
static void *goaway_main(void *arg)
{
    goaway_srv_t *g = arg;
    int fd = accept(g->lfd, NULL, NULL);
    assert_true(fd >= 0);
    g->accepted++;
    g->saw_headers_first = read_until_headers(fd);
    static const uint8_t refuse[] = {0, 0, 0, 4, 0, 0, 0, 0, 0,                    /* SETTINGS */
                                     0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* GOAWAY 0 NO_ERROR */
    assert_int_equal(send(fd, refuse, sizeof refuse, MSG_NOSIGNAL), (ssize_t)sizeof refuse);
    shutdown(fd, SHUT_WR);
    usleep(100000);
    close(fd);

    fd = accept(g->lfd, NULL, NULL);
    assert_true(fd >= 0);
    g->accepted++;
    rec_t *r = g_rec;
    vn_stats_t st;
    vn_h2_server_opts_t o = opts_for(r, &st);
    vn_h2_server_t *s = vn_h2_server_new_detached(&o);
    vn_h2_conn_t *c = vn_h2_conn_new(s, NULL);
    double deadline = vn_clock_mono_s() + 5;
    bool alive = true;
    while (alive && vn_clock_mono_s() < deadline) {
        const uint8_t *out;
        long n;
        while ((n = vn_h2_conn_output(c, &out)) > 0)
            assert_int_equal(send(fd, out, (size_t)n, MSG_NOSIGNAL), n);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        uint8_t buf[16384];
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        alive = k > 0 && vn_h2_conn_feed(c, buf, (size_t)k);
    }
    vn_h2_conn_close(c);
    vn_h2_server_free_detached(s);
    close(fd);
    return NULL;
}

static void test_h2_lifecycle__client_retries_call_refused_by_goaway(void **state)
{
    (void)state;
    rec_t r;
    memset(&r, 0, sizeof r);
    g_rec = &r;
    goaway_srv_t g = {.lfd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(g.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(g.lfd, 4), 0);
    socklen_t al = sizeof a;
    getsockname(g.lfd, (struct sockaddr *)&a, &al);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, goaway_main, &g), 0);
    vn_grpc_result_t res;
    vn_err_t e = one_call(addr, NULL, &res);
    pthread_join(t, NULL);
    close(g.lfd);
    assert_true(g.saw_headers_first);
    assert_int_equal(g.accepted, 2);
    assert_int_equal(e, VN_OK);
    assert_int_equal(res.grpc_status, 0);
    assert_int_equal(r.opened, 1); /* processed once, on the second connection */
    assert_int_equal(r.finals[0], VN_GRPC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h2_lifecycle__max_age_jitter),
        cmocka_unit_test(test_h2_lifecycle__drain_completes_calls),
        cmocka_unit_test(test_h2_lifecycle__grace_close),
        cmocka_unit_test(test_h2_lifecycle__keepalive),
        cmocka_unit_test(test_h2_lifecycle__keepalive_floor),
        cmocka_unit_test(test_h2_lifecycle__pings_do_not_refresh_idle),
        cmocka_unit_test(test_h2_lifecycle__tls_requires_client_cert),
        cmocka_unit_test(test_h2_lifecycle__max_age_reconnects_without_failures),
        cmocka_unit_test(test_h2_lifecycle__client_retries_call_refused_by_goaway),
        cmocka_unit_test(test_h2_lifecycle__stream_finishes_on_goaway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
