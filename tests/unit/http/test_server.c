/*
 * test_server.c - vn_http_server_* over real sockets on 127.0.0.1.
 *
 * A tiny HTTP/1.1 client below speaks raw bytes, so the tests see exactly what a
 * curl or a load balancer probe would: status line, headers and body. Every read
 * has a 5 s timeout, so a broken server fails a test instead of hanging it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/version.h"
#include "http/server.h"

#define IO_TIMEOUT_S 5
#define MAX_RESPONSE ((size_t)64 << 20)

/* ------------------------------------------------------------------------- */
/* Raw HTTP client                                                            */

typedef struct {
    int status;
    char *head; /* status line + headers, NUL-terminated */
    char *body; /* NUL-terminated for convenience */
    size_t body_len;
} http_resp_t;

static void resp_free(http_resp_t *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int connect_to(const char *ip, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    int family;
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
        len = sizeof *a;
        family = AF_INET6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
        len = sizeof *a;
        family = AF_INET;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Case-insensitive header lookup in a NUL-terminated head; returns the value start or NULL. */
static const char *header_value(const char *head, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ')
                h++;
            return h;
        }
    }
    return NULL;
}

/* True when head's header `name` equals value (up to the end of its line). */
static bool header_is(const char *head, const char *name, const char *value)
{
    const char *v = header_value(head, name);
    if (v == NULL)
        return false;
    size_t n = strlen(value);
    return strncmp(v, value, n) == 0 && v[n] == '\r';
}

/*
 * Reads one response from fd. Returns false on timeout, EOF before the headers,
 * or a short body. `head_request` means the body is empty whatever Content-Length says.
 */
static bool read_response(int fd, bool head_request, http_resp_t *out)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    char *eoh = NULL;
    memset(out, 0, sizeof *out);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= MAX_RESPONSE)
                goto fail;
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            goto fail;
        len += (size_t)r;
        buf[len] = '\0';
        if ((eoh = strstr(buf, "\r\n\r\n")) != NULL)
            break;
    }
    size_t head_len = (size_t)(eoh - buf) + 2;
    out->head = strndup(buf, head_len);
    /* "HTTP/1.x NNN ..." */
    if (strncmp(out->head, "HTTP/1.", 7) != 0 || out->head[8] != ' ')
        goto fail;
    for (int i = 9; i < 12; i++) {
        if (out->head[i] < '0' || out->head[i] > '9')
            goto fail;
        out->status = out->status * 10 + (out->head[i] - '0');
    }
    const char *cl = header_value(out->head, "Content-Length");
    size_t want = 0;
    bool until_eof = cl == NULL && !head_request;
    if (cl != NULL && !head_request)
        for (; *cl >= '0' && *cl <= '9' && want < MAX_RESPONSE; cl++)
            want = want * 10 + (size_t)(*cl - '0');
    if (want > MAX_RESPONSE)
        goto fail;
    size_t have = len - (head_len + 2);
    size_t bcap = (until_eof ? 4096 : want) + 1;
    out->body = malloc(bcap);
    memcpy(out->body, eoh + 4, have < bcap ? have : bcap - 1);
    while (until_eof || have < want) {
        if (have + 1 >= bcap) {
            if (bcap >= MAX_RESPONSE)
                goto fail;
            bcap *= 2;
            out->body = realloc(out->body, bcap);
        }
        ssize_t r = recv(fd, out->body + have, bcap - have - 1, 0);
        if (r == 0 && until_eof)
            break;
        if (r <= 0)
            goto fail;
        have += (size_t)r;
    }
    out->body_len = have;
    out->body[have] = '\0';
    free(buf);
    return true;
fail:
    free(buf);
    resp_free(out);
    return false;
}

/* One request on a fresh connection. `extra` is added to the headers (may be ""). */
static http_resp_t do_request(int port, const char *method, const char *path, const char *extra,
                              const char *body)
{
    char req[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method,
                     path, extra);
    if (body != NULL)
        n += snprintf(req + n, sizeof req - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    int fd = connect_to("127.0.0.1", port);
    assert_true(send_all(fd, req, (size_t)n));
    if (body != NULL)
        assert_true(send_all(fd, body, blen));
    http_resp_t r;
    assert_true(read_response(fd, strcmp(method, "HEAD") == 0, &r));
    close(fd);
    return r;
}

static http_resp_t get(int port, const char *path) { return do_request(port, "GET", path, "", NULL); }

/* ------------------------------------------------------------------------- */
/* Handlers under test                                                        */

typedef struct {
    atomic_bool ready;
    _Atomic size_t metrics_size; /* bytes the metrics handler renders */
    atomic_int metrics_calls;
    atomic_int metrics_short; /* calls whose cap was too small */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quits;
} fixture_t;

static bool h_ready(void *ctx) { return atomic_load(&((fixture_t *)ctx)->ready); }

/* Renders metrics_size bytes: a..z repeated, a newline every 64th byte. */
static size_t h_metrics(void *ctx, char *buf, size_t cap)
{
    fixture_t *f = ctx;
    size_t n = atomic_load(&f->metrics_size);
    atomic_fetch_add(&f->metrics_calls, 1);
    if (cap < n) {
        atomic_fetch_add(&f->metrics_short, 1);
        return n;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
    return n;
}

static size_t h_json(void *ctx, char *buf, size_t cap)
{
    (void)ctx;
    static const char body[] = "{\n  \"interval\": \"10s\"\n}\n";
    if (cap >= sizeof body - 1)
        memcpy(buf, body, sizeof body - 1);
    return sizeof body - 1;
}

static size_t h_yaml(void *ctx, char *buf, size_t cap)
{
    (void)ctx;
    static const char body[] = "interval: 10s\n";
    if (cap >= sizeof body - 1)
        memcpy(buf, body, sizeof body - 1);
    return sizeof body - 1;
}

static void h_quit(void *ctx)
{
    fixture_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->quits++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Waits up to IO_TIMEOUT_S for quit to have been called n times. */
static int wait_quits(fixture_t *f, int n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += IO_TIMEOUT_S;
    pthread_mutex_lock(&f->mu);
    while (f->quits < n && pthread_cond_timedwait(&f->cv, &f->mu, &dl) != ETIMEDOUT) {
    }
    int q = f->quits;
    pthread_mutex_unlock(&f->mu);
    return q;
}

typedef struct {
    fixture_t f;
    vn_http_server_t *srv;
    int port;
} state_t;

static int start_with(void **st, bool all_handlers)
{
    state_t *s = calloc(1, sizeof *s);
    atomic_init(&s->f.ready, true);
    atomic_init(&s->f.metrics_size, 16);
    pthread_mutex_init(&s->f.mu, NULL);
    pthread_cond_init(&s->f.cv, NULL);
    vn_http_handlers_t h = {.ctx = &s->f, .ready = h_ready, .metrics = h_metrics};
    if (all_handlers) {
        h.config_json = h_json;
        h.config_yaml = h_yaml;
        h.quit = h_quit;
    }
    char err[256];
    if (vn_http_server_start("127.0.0.1:0", &h, &s->srv, err, sizeof err) != VN_OK) {
        fprintf(stderr, "start: %s\n", err);
        free(s);
        return -1;
    }
    s->port = vn_http_server_port(s->srv);
    *st = s;
    return 0;
}

static int setup_all(void **st) { return start_with(st, true); }
static int setup_min(void **st) { return start_with(st, false); }

static int teardown(void **st)
{
    state_t *s = *st;
    vn_http_server_stop(s->srv);
    pthread_mutex_destroy(&s->f.mu);
    pthread_cond_destroy(&s->f.cv);
    free(s);
    return 0;
}

static void assert_text(http_resp_t *r, int status, const char *body)
{
    assert_int_equal(r->status, status);
    assert_string_equal(r->body, body);
    assert_int_equal(r->body_len, strlen(body));
    assert_true(header_is(r->head, "Content-Type", "text/plain; charset=utf-8"));
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */

static void test_http__health_endpoints(void **st)
{
    state_t *s = *st;
    static const char *paths[] = {"/healthcheck", "/healthcheck/tracing", "/healthz"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        http_resp_t r = get(s->port, paths[i]);
        assert_text(&r, 200, "ok\n");
        resp_free(&r);
    }
}

static void test_http__version_builddate_echo(void **st)
{
    state_t *s = *st;
    http_resp_t r = get(s->port, "/version");
    assert_text(&r, 200, VN_VERSION);
    resp_free(&r);
    r = get(s->port, "/builddate");
    assert_text(&r, 200, VN_BUILD_DATE);
    resp_free(&r);
    r = get(s->port, "/echo");
    assert_text(&r, 200, "hello world!\n");
    resp_free(&r);
}

static void test_http__readyz_flips(void **st)
{
    state_t *s = *st;
    http_resp_t r = get(s->port, "/readyz");
    assert_text(&r, 200, "ready\n");
    resp_free(&r);
    atomic_store(&s->f.ready, false);
    r = get(s->port, "/readyz");
    assert_text(&r, 503, "shutting down\n");
    resp_free(&r);
    /* liveness does not follow readiness */
    r = get(s->port, "/healthz");
    assert_text(&r, 200, "ok\n");
    resp_free(&r);
    atomic_store(&s->f.ready, true);
    r = get(s->port, "/readyz");
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

/* What the server appends to every /metrics body after the program's own text. */
static size_t own_tail(unsigned long long evicted, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "# HELP veneur_http_connections_evicted_total HTTP connections closed by the connection limits "
                     "or the request deadline.\n"
                     "# TYPE veneur_http_connections_evicted_total counter\n"
                     "veneur_http_connections_evicted_total %llu\n",
                     evicted);
    return (size_t)n;
}

static void test_http__metrics_small(void **st)
{
    state_t *s = *st;
    char tail[512];
    size_t tl = own_tail(0, tail, sizeof tail);
    http_resp_t r = get(s->port, "/metrics");
    assert_int_equal(r.status, 200);
    assert_true(header_is(r.head, "Content-Type", "text/plain; version=0.0.4; charset=utf-8"));
    assert_int_equal(r.body_len, 16 + tl);
    assert_memory_equal(r.body, "abcdefghijklmnop", 16);
    assert_memory_equal(r.body + 16, tail, tl);
    resp_free(&r);
    s->f.metrics_size = 0; /* an empty page is still a page (with the server's own counter) */
    r = get(s->port, "/metrics");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, tl);
    assert_memory_equal(r.body, tail, tl);
    resp_free(&r);
}

static void check_metrics_body(const http_resp_t *r, size_t n)
{
    char tail[512];
    size_t tl = own_tail(0, tail, sizeof tail);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, n + tl);
    assert_memory_equal(r->body + n, tail, tl);
    for (size_t i = 0; i < n; i++)
        if (r->body[i] != ((i % 64 == 63) ? '\n' : (char)('a' + i % 26)))
            fail_msg("metrics body differs at byte %zu", i);
}

static void test_http__metrics_buffer_growth(void **st)
{
    state_t *s = *st;
    s->f.metrics_size = 100 << 10; /* over the first 64 KiB buffer */
    atomic_store(&s->f.metrics_calls, 0);
    atomic_store(&s->f.metrics_short, 0);
    http_resp_t r = get(s->port, "/metrics");
    check_metrics_body(&r, s->f.metrics_size);
    resp_free(&r);
    assert_int_equal(atomic_load(&s->f.metrics_short), 1);
    assert_int_equal(atomic_load(&s->f.metrics_calls), 2);
    /* the size that fitted is remembered: the next scrape needs one call */
    r = get(s->port, "/metrics");
    check_metrics_body(&r, s->f.metrics_size);
    resp_free(&r);
    assert_int_equal(atomic_load(&s->f.metrics_calls), 3);
}

static void test_http__metrics_over_cap_is_500(void **st)
{
    state_t *s = *st;
    s->f.metrics_size = VN_HTTP_MAX_RENDER + 1;
    http_resp_t r = get(s->port, "/metrics");
    assert_int_equal(r.status, 500);
    resp_free(&r);
    s->f.metrics_size = 16; /* still serves afterwards */
    r = get(s->port, "/metrics");
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body, "abcdefghijklmnop", 16);
    resp_free(&r);
}

static void test_http__config_endpoints(void **st)
{
    state_t *s = *st;
    http_resp_t r = get(s->port, "/config/json");
    assert_int_equal(r.status, 200);
    assert_true(header_is(r.head, "Content-Type", "application/json"));
    assert_string_equal(r.body, "{\n  \"interval\": \"10s\"\n}\n");
    resp_free(&r);
    r = get(s->port, "/config/yaml");
    assert_int_equal(r.status, 200);
    assert_true(header_is(r.head, "Content-Type", "application/x-yaml"));
    assert_string_equal(r.body, "interval: 10s\n");
    resp_free(&r);
}

static void test_http__not_found(void **st)
{
    state_t *s = *st;
    static const char *paths[] = {"/", "/nope", "/healthcheck/", "/metricsx", "/debug/pprof/"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        http_resp_t r = get(s->port, paths[i]);
        assert_text(&r, 404, "404 page not found\n");
        resp_free(&r);
    }
    http_resp_t r = do_request(s->port, "DELETE", "/nope", "", NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
}

static void test_http__wrong_method_is_405(void **st)
{
    state_t *s = *st;
    http_resp_t r = do_request(s->port, "POST", "/healthcheck", "", "x");
    assert_int_equal(r.status, 405);
    assert_true(header_is(r.head, "Allow", "GET, HEAD"));
    resp_free(&r);
    r = get(s->port, "/quitquitquit");
    assert_int_equal(r.status, 405);
    assert_true(header_is(r.head, "Allow", "POST"));
    resp_free(&r);
    assert_int_equal(s->f.quits, 0);
}

static void test_http__head_has_no_body(void **st)
{
    state_t *s = *st;
    http_resp_t r = do_request(s->port, "HEAD", "/healthcheck", "", NULL);
    assert_int_equal(r.status, 200);
    assert_true(header_is(r.head, "Content-Length", "3"));
    assert_int_equal(r.body_len, 0);
    resp_free(&r);
}

static void test_http__quitquitquit(void **st)
{
    state_t *s = *st;
    http_resp_t r = do_request(s->port, "POST", "/quitquitquit", "", "");
    assert_text(&r, 200, "Beginning graceful shutdown....\n");
    resp_free(&r);
    assert_int_equal(wait_quits(&s->f, 1), 1);
    /* the server keeps serving until the daemon stops it */
    r = get(s->port, "/healthcheck");
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(s->f.quits, 1);
}

static void test_http__disabled_endpoints_404(void **st)
{
    state_t *s = *st;
    http_resp_t r = do_request(s->port, "POST", "/quitquitquit", "", "");
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = get(s->port, "/config/json");
    assert_int_equal(r.status, 404);
    resp_free(&r);
    r = get(s->port, "/config/yaml");
    assert_int_equal(r.status, 404);
    resp_free(&r);
    assert_int_equal(s->f.quits, 0);
}

static void test_http__body_limit(void **st)
{
    state_t *s = *st;
    char extra[128];
    snprintf(extra, sizeof extra, "Content-Length: %zu\r\n", VN_HTTP_MAX_BODY + 1);
    http_resp_t r = do_request(s->port, "POST", "/quitquitquit", extra, NULL);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    assert_int_equal(s->f.quits, 0);
    /* a body within the limit is read and ignored */
    char *body = malloc(64 << 10);
    memset(body, 'x', (64 << 10) - 1);
    body[(64 << 10) - 1] = '\0';
    r = do_request(s->port, "POST", "/quitquitquit", "", body);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(body);
    assert_int_equal(wait_quits(&s->f, 1), 1);
}

static void test_http__chunked_body_over_limit_closes(void **st)
{
    state_t *s = *st;
    int fd = connect_to("127.0.0.1", s->port);
    const char *head = "POST /healthcheck HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_true(send_all(fd, head, strlen(head)));
    static char chunk[(64 << 10) + 16];
    int n = snprintf(chunk, sizeof chunk, "%x\r\n", 64 << 10);
    memset(chunk + n, 'y', 64 << 10);
    memcpy(chunk + n + (64 << 10), "\r\n", 2);
    size_t clen = (size_t)n + (64 << 10) + 2;
    bool sent_all = true;
    for (int i = 0; i < 20 && sent_all; i++) /* 1.25 MiB */
        sent_all = send_all(fd, chunk, clen);
    if (sent_all)
        (void)send_all(fd, "0\r\n\r\n", 5);
    http_resp_t r;
    bool got = read_response(fd, false, &r);
    if (got) { /* MHD cannot answer mid-upload: there must be no 200 */
        assert_int_not_equal(r.status, 200);
        resp_free(&r);
    }
    close(fd);
}

static void test_http__keep_alive(void **st)
{
    state_t *s = *st;
    int fd = connect_to("127.0.0.1", s->port);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 3; i++) {
        assert_true(send_all(fd, req, strlen(req)));
        http_resp_t r;
        assert_true(read_response(fd, false, &r));
        assert_text(&r, 200, "ok\n");
        resp_free(&r);
    }
    close(fd);
}

static void test_http__bad_addresses(void **st)
{
    (void)st;
    static const struct {
        const char *addr;
        vn_err_t err;
        const char *msg;
    } cases[] = {
        {"127.0.0.1", VN_ERR_CONFIG, "address \"127.0.0.1\": missing port in address"},
        {"", VN_ERR_CONFIG, "address \"\": missing port in address"},
        {"127.0.0.1:99999", VN_ERR_CONFIG, "address \"127.0.0.1:99999\": invalid port"},
        {"[::1:80", VN_ERR_CONFIG, "address \"[::1:80\": missing ']' in address"},
        {"[::1]", VN_ERR_CONFIG, "address \"[::1]\": missing port in address"},
        {"::1:80", VN_ERR_CONFIG, "address \"::1:80\": too many colons in address"},
        /* TEST-NET-1 is never a local address: bind must fail, nothing is sent */
        {"192.0.2.1:0", VN_ERR_IO, "listen tcp 192.0.2.1:0: bind: Cannot assign requested address"},
    };
    vn_http_handlers_t h = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_http_server_t *srv = (vn_http_server_t *)&h; /* must be reset to NULL */
        char err[256];
        assert_int_equal(vn_http_server_start(cases[i].addr, &h, &srv, err, sizeof err), cases[i].err);
        assert_null(srv);
        assert_string_equal(err, cases[i].msg);
    }
    /* NULL errbuf is allowed */
    vn_http_server_t *srv = NULL;
    assert_int_equal(vn_http_server_start("nope", &h, &srv, NULL, 0), VN_ERR_CONFIG);
}

static void test_http__port_in_use(void **st)
{
    state_t *s = *st;
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s->port);
    vn_http_handlers_t h = {0};
    vn_http_server_t *srv = NULL;
    assert_int_equal(vn_http_server_start(addr, &h, &srv, err, sizeof err), VN_ERR_IO);
    assert_null(srv);
    char want[128];
    snprintf(want, sizeof want, "listen tcp %s: bind: Address already in use", addr);
    assert_string_equal(err, want);
}

static void test_http__any_and_ipv6(void **st)
{
    (void)st;
    vn_http_handlers_t h = {0};
    vn_http_server_t *srv = NULL;
    char err[256];
    assert_int_equal(vn_http_server_start(":0", &h, &srv, err, sizeof err), VN_OK);
    int port = vn_http_server_port(srv);
    assert_true(port > 0);
    http_resp_t r = get(port, "/healthcheck");
    assert_text(&r, 200, "ok\n");
    resp_free(&r);
    vn_http_server_stop(srv);

    srv = NULL;
    if (vn_http_server_start("[::1]:0", &h, &srv, err, sizeof err) != VN_OK) {
        fprintf(stderr, "no IPv6 loopback here (%s); skipping the [::1] half\n", err);
        return;
    }
    port = vn_http_server_port(srv);
    int fd = connect_to("::1", port);
    const char *req = "GET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_true(send_all(fd, req, strlen(req)));
    assert_true(read_response(fd, false, &r));
    assert_text(&r, 200, "ok\n");
    resp_free(&r);
    close(fd);
    vn_http_server_stop(srv);
    vn_http_server_stop(NULL);
}

/* Issue 14: half-sent requests must not take the slots health probes need,
 * whether they come from the probes' own address or another one. */
static void test_http__half_open_flood_keeps_health(void **st)
{
    state_t *s = *st;
    enum { N = 600 };
    static int fds[2 * N];
    int n = 0;
    const char *srcs[] = {"127.0.0.1", "127.0.0.2"};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < N; i++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in a = {.sin_family = AF_INET};
            inet_pton(AF_INET, srcs[k], &a.sin_addr);
            assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
            a.sin_port = htons((uint16_t)s->port);
            inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
            assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
            (void)send(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32, MSG_NOSIGNAL);
            fds[n++] = fd;
        }
        for (int i = 0; i < 10; i++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            http_resp_t r = get(s->port, i % 2 ? "/readyz" : "/healthz");
            clock_gettime(CLOCK_MONOTONIC, &t1);
            assert_int_equal(r.status, 200);
            double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
            assert_true(ms < 1000);
            resp_free(&r);
        }
    }
    /* soft limits: at most VN_HTTP_SOFT_PER_IP of each address were kept */
    unsigned long long ev = vn_http_server_evicted(s->srv);
    assert_true(ev >= 2 * (N - VN_HTTP_SOFT_PER_IP) - 20);
    /* and /metrics says so, whatever the program renders */
    s->f.metrics_size = 0;
    http_resp_t r = get(s->port, "/metrics");
    assert_int_equal(r.status, 200);
    static const char key[] = "\nveneur_http_connections_evicted_total ";
    const char *at = memmem(r.body, r.body_len, key, strlen(key));
    assert_non_null(at);
    unsigned long long shown = strtoull(at + strlen(key), NULL, 10); /* body ends in \n: strtoull stops */
    assert_true(shown >= ev && shown <= vn_http_server_evicted(s->srv));
    resp_free(&r);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http__health_endpoints, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__version_builddate_echo, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__readyz_flips, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__metrics_small, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__metrics_buffer_growth, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__metrics_over_cap_is_500, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__config_endpoints, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__not_found, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__wrong_method_is_405, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__head_has_no_body, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__quitquitquit, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__disabled_endpoints_404, setup_min, teardown),
        cmocka_unit_test_setup_teardown(test_http__body_limit, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__chunked_body_over_limit_closes, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__keep_alive, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__half_open_flood_keeps_health, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_http__port_in_use, setup_all, teardown),
        cmocka_unit_test(test_http__bad_addresses),
        cmocka_unit_test(test_http__any_and_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
