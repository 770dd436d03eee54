/*
 * test_remote_write.c - sinks/remote_write*: the WriteRequest encoder (decoded
 * back with the protobuf-c code generated from proto/remote.proto), label
 * naming/sorting/filtering, the monotonic-counter store, and the whole sink
 * against an in-process HTTP server that records each request (headers,
 * snappy body) and answers with scripted status codes: batching, auth and
 * custom headers, retries on 429/5xx, no retry on 400, connection refused and a
 * hung server bounded by the flush deadline, self-metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"
#include "remote.pb-c.h"
#include "sinks/remote_write_internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- decoding helpers */

static Prometheus__WriteRequest *decode(const vn_buf_t *pb)
{
    Prometheus__WriteRequest *wr =
        prometheus__write_request__unpack(NULL, vn_buf_len(pb), (const uint8_t *)vn_buf_ptr(pb));
    assert_non_null(wr);
    return wr;
}

/* "n1=v1,n2=v2" of one series, in wire order. */
static void labels_text(const Prometheus__TimeSeries *ts, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ts->n_labels; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", i ? "," : "", ts->labels[i]->name, ts->labels[i]->value);
}

/* ---------------------------------------------------------------- encoder */

static void test_remote_write__sanitise(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"api.hits", "api_hits"}, {"a:b_C9", "a:b_C9"}, {"9lives", "_9lives"}, {"0", "_0"},
        {"a-b c/d", "a_b_c_d"},   {"", ""},             {"caf\xc3\xa9", "caf_"}, /* one '_' per character */
        {"\xe2\x82\xac.x", "__x"}, {"\xff\xfe", "__"},  {"_x", "_x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_buf_t b = VN_BUF_INIT(64);
        assert_int_equal(vn_rw__sanitise(&b, cases[i].in, strlen(cases[i].in)), VN_OK);
        if (strcmp(vn_buf_ptr(&b), cases[i].want) != 0)
            fail_msg("sanitise(\"%s\") = \"%s\", want \"%s\"", cases[i].in, vn_buf_ptr(&b), cases[i].want);
        vn_buf_free(&b);
    }
    vn_buf_t tiny = VN_BUF_INIT(2);
    assert_int_equal(vn_rw__sanitise(&tiny, "abc", 3), VN_ERR_TOO_LARGE);
    vn_buf_free(&tiny);
}

static void test_remote_write__labels(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *tags[8];
        size_t ntags;
        const char *host;
        const char *want;
    } cases[] = {
        /* sorted by byte order: digits and '_' before lower case */
        {"api.hits", {"code:200", "env:prod", "9x:y"}, 3, "h1", "_9x=y,__name__=api_hits,code=200,env=prod,host=h1"},
        /* no ':' dropped; later tag wins (also over host); __name__ tag dropped; empty value dropped;
         * value keeps later colons */
        {"m", {"novalue", "a:1", "a:2", "host:other", "__name__:evil", "empty:", "b.c:x:y"}, 7, "h",
         "__name__=m,a=2,b_c=x:y,host=other"},
        {"m", {"a.b:1", "a_b:2"}, 2, NULL, "__name__=m,a_b=2"}, /* collide after sanitising: last wins */
        {"m", {"Z:1"}, 1, "", "Z=1,__name__=m"},                /* no host label without a hostname */
        {"m", {"k:\xffok", ":v"}, 2, "h", "__name__=m,host=h,k=\xef\xbf\xbdok"}, /* bad UTF-8 repaired; "" name */
        {"...", {NULL}, 0, NULL, "__name__=___"},
    };
    vn_rw_enc_t e;
    vn_rw__enc_init(&e);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_buf_t pb = VN_BUF_INIT(4096);
        assert_int_equal(vn_rw__append_series(&e, &pb, NULL, cases[i].name, cases[i].tags, cases[i].ntags,
                                              cases[i].host, 1.0, 1000),
                         VN_OK);
        Prometheus__WriteRequest *wr = decode(&pb);
        assert_int_equal(wr->n_timeseries, 1);
        char got[512];
        labels_text(wr->timeseries[0], got, sizeof got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: labels %s, want %s", i, got, cases[i].want);
        prometheus__write_request__free_unpacked(wr, NULL);
        vn_buf_free(&pb);
    }
    /* a name that sanitises to nothing is refused, nothing written */
    vn_buf_t pb = VN_BUF_INIT(4096);
    assert_int_equal(vn_rw__append_series(&e, &pb, NULL, "", NULL, 0, "h", 1, 1), VN_ERR_PARSE);
    assert_int_equal(vn_buf_len(&pb), 0);
    vn_buf_free(&pb);
    vn_rw__enc_free(&e);
}

static void test_remote_write__excluded_tags(void **state)
{
    (void)state;
    /* "env": prefix rule on the tag text (also takes environment:x); "host": Go's
     * rule drops the host label; "a.b": Go's rule on the sanitised label name */
    const char *rules[] = {"env", "host", "a.b"};
    vn_sink_t s = {.name = "prom", .excluded_tags = rules, .n_excluded_tags = 3};
    const char *tags[] = {"a_b:1", "env:prod", "environment:x", "region:us"};
    vn_rw_enc_t e;
    vn_rw__enc_init(&e);
    vn_buf_t pb = VN_BUF_INIT(4096);
    assert_int_equal(vn_rw__append_series(&e, &pb, &s, "m", tags, 4, "h1", 2, 5), VN_OK);
    Prometheus__WriteRequest *wr = decode(&pb);
    char got[256];
    labels_text(wr->timeseries[0], got, sizeof got);
    assert_string_equal(got, "__name__=m,region=us");
    prometheus__write_request__free_unpacked(wr, NULL);
    vn_buf_free(&pb);
    vn_rw__enc_free(&e);
}

static void test_remote_write__wire_bytes(void **state)
{
    (void)state;
    vn_rw_enc_t e;
    vn_rw__enc_init(&e);
    vn_buf_t pb = VN_BUF_INIT(4096);
    /* name "m", value 1, ts 1000 ms: hand-computed from the proto field numbers */
    assert_int_equal(vn_rw__append_series(&e, &pb, NULL, "m", NULL, 0, NULL, 1.0, 1000), VN_OK);
    static const unsigned char want[] = {0x0a, 0x1d,                                              /* timeseries */
                                         0x0a, 0x0d, 0x0a, 0x08, '_', '_', 'n', 'a', 'm', 'e', '_', '_', /* label */
                                         0x12, 0x01, 'm',                                         /* value */
                                         0x12, 0x0c, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,         /* sample value */
                                         0x10, 0xe8, 0x07};                                       /* timestamp */
    assert_int_equal(vn_buf_len(&pb), sizeof want);
    assert_memory_equal(vn_buf_ptr(&pb), want, sizeof want);

    /* proto3 defaults: +0.0 and ts 0 are omitted but decode back; -0.0, NaN, negatives survive */
    static const struct {
        double v;
        int64_t ts;
    } samples[] = {{0.0, 0}, {-0.0, 1}, {-2.5, 1700000000000LL}, {1e300, -5}, {NAN, 7}};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        vn_buf_reset(&pb);
        assert_int_equal(vn_rw__append_series(&e, &pb, NULL, "m", NULL, 0, NULL, samples[i].v, samples[i].ts),
                         VN_OK);
        Prometheus__WriteRequest *wr = decode(&pb);
        Prometheus__Sample *sm = wr->timeseries[0]->samples[0];
        assert_int_equal(wr->timeseries[0]->n_samples, 1);
        if (isnan(samples[i].v))
            assert_true(isnan(sm->value));
        else
            assert_memory_equal(&sm->value, &samples[i].v, sizeof(double)); /* bit for bit, -0.0 included */
        assert_int_equal(sm->timestamp, samples[i].ts);
        prometheus__write_request__free_unpacked(wr, NULL);
    }
    /* a full buffer is restored to its length before the call */
    vn_buf_t small = VN_BUF_INIT(20);
    assert_int_equal(vn_rw__append_series(&e, &small, NULL, "a_long_metric_name", NULL, 0, "h", 1, 1),
                     VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_len(&small), 0);
    vn_buf_free(&small);
    vn_buf_free(&pb);
    vn_rw__enc_free(&e);
}

static void test_remote_write__counters_store(void **state)
{
    (void)state;
    vn_rw_counters_t c;
    vn_rw__counters_init(&c, 100);
    const char *t1[] = {"a:1"}, *t2[] = {"a:1", "b:2"}, *t3[] = {"a:1|b:2"};
    assert_int_equal(vn_rw__counters_add(&c, "x", t1, 1, 1), VN_OK);
    assert_int_equal(vn_rw__counters_add(&c, "x", t1, 1, 2.5), VN_OK);
    assert_int_equal(vn_rw__counters_add(&c, "x", t2, 2, 10), VN_OK);
    assert_int_equal(vn_rw__counters_add(&c, "x", t3, 1, 100), VN_OK); /* Go's "|" join would merge these */
    assert_int_equal(vn_rw__counters_add(&c, "x", NULL, 0, 1000), VN_OK);
    for (int i = 0; i < 90; i++) { /* grow past the first table size */
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        assert_int_equal(vn_rw__counters_add(&c, name, NULL, 0, i), VN_OK);
    }
    assert_int_equal(c.n, 94);
    double sum_x1 = -1, sum_x2 = -1, sum_x3 = -1, sum_x0 = -1, sum_n42 = -1;
    for (size_t i = 0; i < c.cap; i++) {
        const vn_rw_counter_t *e = &c.slots[i];
        if (!e->name)
            continue;
        if (strcmp(e->name, "x") == 0 && e->ntags == 0)
            sum_x0 = e->sum;
        else if (strcmp(e->name, "x") == 0 && e->ntags == 2)
            sum_x2 = e->sum;
        else if (strcmp(e->name, "x") == 0 && strcmp(e->tags[0], "a:1") == 0)
            sum_x1 = e->sum;
        else if (strcmp(e->name, "x") == 0)
            sum_x3 = e->sum;
        else if (strcmp(e->name, "n42") == 0)
            sum_n42 = e->sum;
    }
    assert_true(sum_x1 == 3.5 && sum_x2 == 10 && sum_x3 == 100 && sum_x0 == 1000 && sum_n42 == 42);
    /* the cap refuses new series but keeps adding to known ones */
    for (int i = 0; i < 6; i++) { /* 94 + 6 = the cap of 100 */
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        assert_int_equal(vn_rw__counters_add(&c, name, NULL, 0, i), VN_OK);
    }
    assert_int_equal(vn_rw__counters_add(&c, "z", NULL, 0, 1), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_rw__counters_add(&c, "x", t1, 1, 1), VN_OK);
    assert_int_equal(c.n, 100);
    vn_rw__counters_free(&c);
}

/* ---------------------------------------------------------------- a recording HTTP server */

#define SRV_MAX_REQS 64

typedef struct request {
    char head[4096];
    char *body; /* snappy-decoded, owned */
    size_t body_len;
} request_t;

typedef struct server {
    int fd, port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    request_t reqs[SRV_MAX_REQS];
    size_t nreq;
    int statuses[16]; /* answer for request i; 200 past the end */
    size_t nstatus;
    double delay_s; /* before answering */
} server_t;

static void read_request(server_t *sv, int c)
{
    char buf[1 << 16];
    size_t n = 0;
    char *end = NULL;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!end && n < sizeof buf - 1) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            return;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    size_t head_len = (size_t)(end - buf) + 4;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t want = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    char *body = malloc(want + 1);
    size_t have = n - head_len < want ? n - head_len : want;
    memcpy(body, buf + head_len, have);
    while (have < want) {
        ssize_t r = read(c, body + have, want - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    size_t plain_len = 0;
    char *plain = NULL;
    if (snappy_uncompressed_length(body, have, &plain_len) == SNAPPY_OK) {
        plain = malloc(plain_len + 1);
        if (snappy_uncompress(body, have, plain, &plain_len) != SNAPPY_OK) {
            free(plain);
            plain = NULL;
        }
    }
    free(body);
    pthread_mutex_lock(&sv->mu);
    size_t idx = sv->nreq;
    if (idx < SRV_MAX_REQS) {
        request_t *rq = &sv->reqs[sv->nreq++];
        snprintf(rq->head, sizeof rq->head, "%.*s", (int)head_len, buf);
        rq->body = plain;
        rq->body_len = plain ? plain_len : 0;
    } else {
        free(plain);
    }
    int status = idx < sv->nstatus ? sv->statuses[idx] : 200;
    double delay = sv->delay_s;
    pthread_mutex_unlock(&sv->mu);
    if (delay > 0)
        usleep((useconds_t)(delay * 1e6));
    char resp[256];
    int k = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerr\n!",
                     status);
    if (write(c, resp, (size_t)k) < 0)
        return;
}

static void *server_main(void *arg)
{
    server_t *sv = arg;
    while (!atomic_load(&sv->stop)) {
        struct pollfd p = {.fd = sv->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(sv->fd, NULL, NULL);
        if (c < 0)
            continue;
        read_request(sv, c);
        close(c);
    }
    return NULL;
}

static server_t *server_start(void)
{
    server_t *sv = calloc(1, sizeof *sv);
    sv->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(sv->fd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(sv->fd, (struct sockaddr *)&a, &len);
    sv->port = ntohs(a.sin_port);
    pthread_mutex_init(&sv->mu, NULL);
    pthread_create(&sv->thread, NULL, server_main, sv);
    return sv;
}

static void server_stop(server_t *sv)
{
    atomic_store(&sv->stop, true);
    pthread_join(sv->thread, NULL);
    close(sv->fd);
    for (size_t i = 0; i < sv->nreq; i++)
        free(sv->reqs[i].body);
    pthread_mutex_destroy(&sv->mu);
    free(sv);
}

static Prometheus__WriteRequest *request_body(server_t *sv, size_t i)
{
    assert_true(i < sv->nreq);
    assert_non_null(sv->reqs[i].body);
    Prometheus__WriteRequest *wr =
        prometheus__write_request__unpack(NULL, sv->reqs[i].body_len, (const uint8_t *)sv->reqs[i].body);
    assert_non_null(wr);
    return wr;
}

/* A port with nothing listening (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---------------------------------------------------------------- the sink */

typedef struct rig {
    vn_sink_t *s;
    vn_stats_sink_t stats;
} rig_t;

/* Builds a sink of `kind` from "key=value" strings; asserts success. */
static void make_sink(rig_t *r, const char *kind, int port, const char *const *kvs, size_t n)
{
    vn_kv_t kv[16];
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", port);
    kv[0] = (vn_kv_t){.key = "url", .value = url};
    char store[16][128];
    for (size_t i = 0; i < n; i++) {
        snprintf(store[i], sizeof store[i], "%s", kvs[i]);
        char *eq = strchr(store[i], '=');
        *eq = '\0';
        kv[i + 1] = (vn_kv_t){.key = store[i], .value = eq + 1};
    }
    vn_sink_config_t sc = {.kind = (char *)kind, .name = "prom", .kv = kv, .n_kv = n + 1};
    char err[256] = "";
    memset(r, 0, sizeof *r);
    vn_err_t rc = vn_sink_new(&sc, NULL, &r->s, err, sizeof err);
    if (rc != VN_OK)
        fail_msg("vn_sink_new: %s", err);
    r->s->stats = &r->stats;
}

#define TS 1700000000

static const char *const TAGS_A[] = {"env:prod", "role:web"};

static vn_inter_metric_t metric(const char *name, vn_im_type_t type, double v)
{
    return (vn_inter_metric_t){.name = name, .timestamp = TS, .value = v, .tags = TAGS_A, .ntags = 2, .type = type,
                               .hostname = "testhost"};
}

static vn_flush_info_t info_in(double seconds)
{
    return (vn_flush_info_t){.timestamp = TS, .interval_s = 10, .hostname = "testhost",
                             .deadline_s = now_s() + seconds};
}

static uint64_t st(_Atomic uint64_t *c)
{
    return atomic_load(c);
}

static void test_remote_write__post(void **state)
{
    (void)state;
    server_t *sv = server_start();
    rig_t r;
    const char *kvs[] = {"headers.X-Scope-OrgID=tenant1", "authorization.credentials=tok",
                         "headers.User-Agent=custom/1"};
    make_sink(&r, "cortex", sv->port, kvs, 3);
    assert_string_equal(r.s->ops->kind, "cortex");
    vn_inter_metric_t m[] = {metric("api.hits", VN_IM_COUNTER, 3), metric("mem.used", VN_IM_GAUGE, 0.5),
                             metric("db.up", VN_IM_STATUS, 2)};
    vn_flush_info_t info = info_in(5);
    assert_int_equal(r.s->ops->flush(r.s, m, 3, &info), VN_OK);
    assert_int_equal(sv->nreq, 1);
    const char *h = sv->reqs[0].head;
    assert_true(strncmp(h, "POST /api/v1/write HTTP/1.1\r\n", 29) == 0);
    static const char *const want[] = {"Content-Encoding: snappy\r\n", "Content-Type: application/x-protobuf\r\n",
                                       "User-Agent: custom/1\r\n", "X-Prometheus-Remote-Write-Version: 0.1.0\r\n",
                                       "X-Scope-OrgID: tenant1\r\n", "Authorization: Bearer tok\r\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(h, want[i]))
            fail_msg("missing header %s in:\n%s", want[i], h);
    assert_null(strstr(h, "veneur/cortex")); /* overridden */
    assert_null(strstr(h, "Expect:"));
    Prometheus__WriteRequest *wr = request_body(sv, 0);
    assert_int_equal(wr->n_timeseries, 3);
    char got[256];
    labels_text(wr->timeseries[0], got, sizeof got);
    assert_string_equal(got, "__name__=api_hits,env=prod,host=testhost,role=web");
    static const double values[] = {3, 0.5, 2}; /* counters not divided by the interval */
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(wr->timeseries[i]->n_samples, 1);
        assert_true(wr->timeseries[i]->samples[0]->value == values[i]);
        assert_int_equal(wr->timeseries[i]->samples[0]->timestamp, (int64_t)TS * 1000);
    }
    prometheus__write_request__free_unpacked(wr, NULL);
    assert_int_equal(st(&r.stats.delivered), 3);
    assert_int_equal(st(&r.stats.delivery_failed) + st(&r.stats.transport_errors) + st(&r.stats.dropped), 0);
    vn_sink_free(r.s);
    server_stop(sv);
}

static void test_remote_write__basic_auth_and_alias(void **state)
{
    (void)state;
    server_t *sv = server_start();
    rig_t r;
    const char *kvs[] = {"basic_auth.username=u", "basic_auth.password=p"};
    make_sink(&r, "prometheus_remote_write", sv->port, kvs, 2);
    assert_string_equal(r.s->ops->kind, "cortex");
    vn_inter_metric_t m = metric("x", VN_IM_GAUGE, 1);
    vn_flush_info_t info = info_in(5);
    assert_int_equal(r.s->ops->flush(r.s, &m, 1, &info), VN_OK);
    assert_int_equal(sv->nreq, 1);
    assert_non_null(strstr(sv->reqs[0].head, "Authorization: Basic dTpw\r\n")); /* base64("u:p") */
    assert_non_null(strstr(sv->reqs[0].head, "User-Agent: veneur/cortex\r\n"));
    vn_sink_free(r.s);
    server_stop(sv);
}

static void test_remote_write__batches(void **state)
{
    (void)state;
    server_t *sv = server_start();
    rig_t r;
    const char *kvs[] = {"batch_write_size=2"};
    make_sink(&r, "cortex", sv->port, kvs, 1);
    vn_inter_metric_t m[5];
    char names[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        m[i] = metric(names[i], VN_IM_GAUGE, i);
    }
    m[2].sink_only = "someone_else"; /* not for this sink: never sent, not counted */
    vn_flush_info_t info = info_in(5);
    assert_int_equal(r.s->ops->flush(r.s, m, 5, &info), VN_OK);
    assert_int_equal(sv->nreq, 2);
    static const char *const want[2][2] = {{"m0", "m1"}, {"m3", "m4"}};
    for (size_t i = 0; i < 2; i++) {
        Prometheus__WriteRequest *wr = request_body(sv, i);
        assert_int_equal(wr->n_timeseries, 2);
        for (size_t j = 0; j < 2; j++)
            assert_string_equal(wr->timeseries[j]->labels[0]->value, want[i][j]);
        prometheus__write_request__free_unpacked(wr, NULL);
    }
    assert_int_equal(st(&r.stats.delivered), 4);
    vn_sink_free(r.s);
    server_stop(sv);
}

static void test_remote_write__retries_429_and_5xx(void **state)
{
    (void)state;
    server_t *sv = server_start();
    sv->statuses[0] = 503;
    sv->statuses[1] = 429;
    sv->nstatus = 2;
    rig_t r;
    make_sink(&r, "cortex", sv->port, NULL, 0);
    vn_inter_metric_t m[] = {metric("a", VN_IM_GAUGE, 1), metric("b", VN_IM_GAUGE, 2)};
    vn_flush_info_t info = info_in(5);
    assert_int_equal(r.s->ops->flush(r.s, m, 2, &info), VN_OK);
    assert_int_equal(sv->nreq, 3); /* the same body three times */
    assert_int_equal(sv->reqs[0].body_len, sv->reqs[2].body_len);
    assert_memory_equal(sv->reqs[0].body, sv->reqs[2].body, sv->reqs[0].body_len);
    assert_int_equal(st(&r.stats.transport_errors), 2);
    assert_int_equal(st(&r.stats.delivered), 2);
    assert_int_equal(st(&r.stats.delivery_failed), 0);
    vn_sink_free(r.s);
    server_stop(sv);
}

static void test_remote_write__rejected_batch_not_retried(void **state)
{
    (void)state;
    server_t *sv = server_start();
    sv->statuses[0] = 400;
    sv->nstatus = 1;
    rig_t r;
    const char *kvs[] = {"batch_write_size=1"};
    make_sink(&r, "cortex", sv->port, kvs, 1);
    vn_inter_metric_t m[] = {metric("a", VN_IM_GAUGE, 1), metric("b", VN_IM_GAUGE, 2)};
    vn_flush_info_t info = info_in(5);
    assert_int_equal(r.s->ops->flush(r.s, m, 2, &info), VN_ERR_PROTO);
    assert_int_equal(sv->nreq, 2); /* the 400 is final for its batch only; the next batch goes out */
    assert_int_equal(st(&r.stats.delivery_failed), 1);
    assert_int_equal(st(&r.stats.delivered), 1);
    assert_int_equal(st(&r.stats.transport_errors), 0);
    vn_sink_free(r.s);
    server_stop(sv);
}

static void test_remote_write__connection_refused(void **state)
{
    (void)state;
    rig_t r;
    const char *kvs[] = {"batch_write_size=1"};
    make_sink(&r, "cortex", dead_port(), kvs, 1);
    vn_inter_metric_t m[] = {metric("a", VN_IM_GAUGE, 1), metric("b", VN_IM_GAUGE, 2), metric("c", VN_IM_GAUGE, 3)};
    vn_flush_info_t info = info_in(2);
    double t0 = now_s();
    vn_err_t err = r.s->ops->flush(r.s, m, 3, &info);
    double took = now_s() - t0;
    assert_int_equal(err, VN_ERR_IO);
    assert_true(took < 2.0);
    /* the first batch is tried RW_ATTEMPTS times (backoff 50+100+200 ms), then the
     * endpoint counts as down: the other two batches are not tried */
    assert_int_equal(st(&r.stats.transport_errors), 4);
    assert_int_equal(st(&r.stats.delivery_failed), 3);
    assert_int_equal(st(&r.stats.delivered), 0);
    /* the next flush tries again (the sink is not latched down) */
    err = r.s->ops->flush(r.s, m, 1, &info);
    assert_int_not_equal(err, VN_OK);
    assert_true(st(&r.stats.transport_errors) > 4);
    vn_sink_free(r.s);
}

static void test_remote_write__deadline_bounds_hung_server(void **state)
{
    (void)state;
    server_t *sv = server_start();
    sv->delay_s = 1.5; /* longer than the deadline */
    rig_t r;
    make_sink(&r, "cortex", sv->port, NULL, 0);
    vn_inter_metric_t m = metric("a", VN_IM_GAUGE, 1);
    vn_flush_info_t info = info_in(0.3);
    double t0 = now_s();
    vn_err_t err = r.s->ops->flush(r.s, &m, 1, &info);
    double took = now_s() - t0;
    assert_int_equal(err, VN_ERR_TIMEOUT);
    assert_true(took < 1.0); /* well short of the 1.5 s the server would take */
    assert_int_equal(st(&r.stats.delivery_failed), 1);
    /* a deadline already past: nothing is tried */
    info.deadline_s = now_s() - 1;
    pthread_mutex_lock(&sv->mu); /* the hung handler thread may still be counting */
    size_t before = sv->nreq;
    pthread_mutex_unlock(&sv->mu);
    assert_int_equal(r.s->ops->flush(r.s, &m, 1, &info), VN_ERR_TIMEOUT);
    pthread_mutex_lock(&sv->mu);
    size_t after = sv->nreq;
    pthread_mutex_unlock(&sv->mu);
    assert_int_equal(after, before);
    vn_sink_free(r.s);
    server_stop(sv);
}

static void test_remote_write__monotonic_counters(void **state)
{
    (void)state;
    server_t *sv = server_start();
    rig_t r;
    const char *kvs[] = {"convert_counters_to_monotonic=true"};
    make_sink(&r, "cortex", sv->port, kvs, 1);
    vn_inter_metric_t m[] = {metric("hits", VN_IM_COUNTER, 2), metric("temp", VN_IM_GAUGE, 20)};
    vn_flush_info_t info = info_in(5);
    assert_int_equal(r.s->ops->flush(r.s, m, 2, &info), VN_OK);
    m[0].value = 3;
    m[1].value = 21;
    info.timestamp = TS + 10;
    assert_int_equal(r.s->ops->flush(r.s, m, 2, &info), VN_OK);
    /* a flush without the counter still re-sends its running total */
    info.timestamp = TS + 20;
    assert_int_equal(r.s->ops->flush(r.s, &m[1], 1, &info), VN_OK);
    assert_int_equal(sv->nreq, 3);
    static const double want_hits[] = {2, 5, 5};
    for (size_t i = 0; i < 3; i++) {
        Prometheus__WriteRequest *wr = request_body(sv, i);
        assert_int_equal(wr->n_timeseries, 2);
        /* gauges first (in flush order), then the accumulated counters */
        assert_string_equal(wr->timeseries[0]->labels[0]->value, "temp");
        assert_string_equal(wr->timeseries[1]->labels[0]->value, "hits");
        assert_true(wr->timeseries[1]->samples[0]->value == want_hits[i]);
        assert_int_equal(wr->timeseries[1]->samples[0]->timestamp, (int64_t)(TS + 10 * (int64_t)i) * 1000);
        prometheus__write_request__free_unpacked(wr, NULL);
    }
    vn_sink_free(r.s);
    server_stop(sv);
}

static void test_remote_write__config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *kv[3];
        size_t n;
        const char *want; /* in the message */
    } cases[] = {
        {{NULL}, 0, "config key url is required"},
        {{"url=ftp://x/"}, 1, "config key url"},
        {{"url=http://x/", "remote_timeout=10"}, 2, "config key remote_timeout"},
        {{"url=http://x/", "batch_write_size=-1"}, 2, "config key batch_write_size"},
        {{"url=http://x/", "basic_auth.username=u"}, 2, "config key basic_auth.password"},
        {{"url=http://x/", "basic_auth.username=u", "basic_auth.password=p"}, 3, NULL}, /* ok */
        {{"url=http://x/", "headers.Bad Name=1"}, 2, "config key headers.Bad Name"},
        {{"url=http://x/", "convert_counters_to_monotonic=maybe"}, 2, "convert_counters_to_monotonic"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_kv_t kv[3];
        char store[3][64];
        for (size_t j = 0; j < cases[i].n; j++) {
            snprintf(store[j], sizeof store[j], "%s", cases[i].kv[j]);
            char *eq = strchr(store[j], '=');
            *eq = '\0';
            kv[j] = (vn_kv_t){.key = store[j], .value = eq + 1};
        }
        vn_sink_config_t sc = {.kind = "cortex", .name = "c1", .kv = kv, .n_kv = cases[i].n};
        vn_sink_t *s = NULL;
        char err[256] = "";
        vn_err_t rc = vn_sink_new(&sc, NULL, &s, err, sizeof err);
        if (!cases[i].want) {
            assert_int_equal(rc, VN_OK);
            vn_sink_free(s);
            continue;
        }
        assert_int_equal(rc, VN_ERR_CONFIG);
        assert_null(s);
        if (!strstr(err, cases[i].want) || !strstr(err, "\"c1\""))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
    }
    /* basic_auth and authorization together */
    vn_kv_t both[] = {{.key = "url", .value = "http://x/"},
                      {.key = "basic_auth.username", .value = "u"},
                      {.key = "basic_auth.password", .value = "p"},
                      {.key = "authorization.credentials", .value = "t"}};
    vn_sink_config_t sc = {.kind = "cortex", .name = "c1", .kv = both, .n_kv = 4};
    vn_sink_t *s = NULL;
    char err[256];
    assert_int_equal(vn_sink_new(&sc, NULL, &s, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "authorization"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_write__sanitise),
        cmocka_unit_test(test_remote_write__labels),
        cmocka_unit_test(test_remote_write__excluded_tags),
        cmocka_unit_test(test_remote_write__wire_bytes),
        cmocka_unit_test(test_remote_write__counters_store),
        cmocka_unit_test(test_remote_write__post),
        cmocka_unit_test(test_remote_write__basic_auth_and_alias),
        cmocka_unit_test(test_remote_write__batches),
        cmocka_unit_test(test_remote_write__retries_429_and_5xx),
        cmocka_unit_test(test_remote_write__rejected_batch_not_retried),
        cmocka_unit_test(test_remote_write__connection_refused),
        cmocka_unit_test(test_remote_write__deadline_bounds_hung_server),
        cmocka_unit_test(test_remote_write__monotonic_counters),
        cmocka_unit_test(test_remote_write__config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
