/*
 * test_http_client.c - sinks/http_client (libcurl) against a local libmicrohttpd
 * server: statuses, excerpts, keep-alive, timeouts, refused connections, and under
 * a delivery queue; Retry-After parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "sinks/delivery.h"
#include "sinks/http_client.h"

#include "delivery_fixture.h"

static void test_http_client__parse_retry_after(void **state)
{
    (void)state;
    const long long now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_true(vn_http_parse_retry_after("120", 3, now) == 120);
    assert_true(vn_http_parse_retry_after(" 5 \r\n", 5, now) == 5);
    assert_true(vn_http_parse_retry_after("0", 1, now) == 0);
    assert_true(vn_http_parse_retry_after("99999999999", 11, now) == VN_HTTP_RETRY_AFTER_MAX_S);
    const char *d1 = "Wed, 21 Oct 2015 07:28:30 GMT";
    assert_true(vn_http_parse_retry_after(d1, strlen(d1), now) == 30);
    const char *past = "Wed, 21 Oct 2015 07:00:00 GMT";
    assert_true(vn_http_parse_retry_after(past, strlen(past), now) == 0);
    const char *far = "Thu, 22 Oct 2015 07:28:00 GMT";
    assert_true(vn_http_parse_retry_after(far, strlen(far), now) == VN_HTTP_RETRY_AFTER_MAX_S);
    assert_true(vn_http_parse_retry_after("soon", 4, now) < 0);
    assert_true(vn_http_parse_retry_after("12x", 3, now) < 0);
    assert_true(vn_http_parse_retry_after("", 0, now) < 0);
}

/* ---------------------------------------------------------------- http_client on libmicrohttpd */

typedef struct srv {
    struct MHD_Daemon *d;
    int port;
    _Atomic int connections, requests;
    char last_body[256];
    char last_ctype[64], last_enc[64], last_ua[64], last_expect[64];
    pthread_mutex_t mu;
} srv_t;

typedef struct req_ctx {
    char body[256];
    size_t len;
} req_ctx_t;

static void on_conn(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    (void)socket_ctx;
    srv_t *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
}

static void copy_hdr(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)method;
    srv_t *s = cls;
    req_ctx_t *rc = *req_cls;
    if (!rc) {
        *req_cls = calloc(1, sizeof *rc);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t take = *upload_size < sizeof rc->body - 1 - rc->len ? *upload_size : sizeof rc->body - 1 - rc->len;
        memcpy(rc->body + rc->len, upload, take);
        rc->len += take;
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&s->requests, 1);
    pthread_mutex_lock(&s->mu);
    memcpy(s->last_body, rc->body, rc->len + 1);
    copy_hdr(c, "Content-Type", s->last_ctype, sizeof s->last_ctype);
    copy_hdr(c, "Content-Encoding", s->last_enc, sizeof s->last_enc);
    copy_hdr(c, "User-Agent", s->last_ua, sizeof s->last_ua);
    copy_hdr(c, "Expect", s->last_expect, sizeof s->last_expect);
    pthread_mutex_unlock(&s->mu);
    free(rc);
    *req_cls = NULL;
    int status = 202;
    const char *text = "{\"status\":\"ok\"}";
    static char longbody[1000];
    if (strcmp(url, "/slow") == 0) {
        usleep(800000);
    } else if (strncmp(url, "/status/", 8) == 0) {
        status = atoi(url + 8);
        text = "{\"errors\":[\"nope\"]}";
    } else if (strcmp(url, "/long") == 0) {
        memset(longbody, 'z', sizeof longbody - 1);
        text = longbody;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static srv_t *srv_start(void)
{
    srv_t *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
                            NULL, NULL, on_req, s, MHD_OPTION_NOTIFY_CONNECTION, on_conn, s, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
    return s;
}

static void srv_stop(srv_t *s)
{
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Runs one request to completion on t; returns its result. */
static vn_http_result_t run_one(vn_http_transport_t *t, const char *url, const char *body, long timeout_ms)
{
    vn_http_request_t req = {.url = url, .body = body, .body_len = strlen(body), .timeout_ms = timeout_ms};
    req.headers[req.nheaders++] = "Content-Type: application/json";
    req.headers[req.nheaders++] = "Content-Encoding: deflate";
    int tag = 7;
    assert_int_equal(t->ops->start(t, &req, &tag), VN_OK);
    void *got = NULL;
    vn_http_result_t res;
    double end = tnow() + 10;
    for (;;) {
        t->ops->wait(t, 100);
        if (t->ops->next_done(t, &got, &res))
            break;
        assert_true(tnow() < end);
    }
    assert_ptr_equal(got, &tag);
    return res;
}

static void test_http_client__statuses_keepalive_timeouts(void **state)
{
    (void)state;
    srv_t *s = srv_start();
    vn_http_transport_t *t = vn_http_client_new(&(vn_http_client_opts_t){.max_connections = 2, .idle_timeout_s = 20});
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/series?api_key=k", s->port);
    for (int i = 0; i < 5; i++) {
        vn_http_result_t r = run_one(t, url, "{\"series\":[]}", 5000);
        assert_int_equal(r.outcome, VN_HTTP_RESPONSE);
        assert_int_equal(r.status, 202);
        assert_string_equal(r.excerpt, "{\"status\":\"ok\"}");
    }
    assert_int_equal(atomic_load(&s->requests), 5);
    assert_int_equal(atomic_load(&s->connections), 1); /* kept alive across requests */
    assert_string_equal(s->last_body, "{\"series\":[]}");
    assert_string_equal(s->last_ctype, "application/json");
    assert_string_equal(s->last_enc, "deflate");
    assert_string_equal(s->last_expect, "");
    assert_non_null(strstr(s->last_ua, "veneur-c/"));

    snprintf(url, sizeof url, "http://127.0.0.1:%d/status/503", s->port);
    vn_http_result_t r = run_one(t, url, "x", 5000);
    assert_int_equal(r.outcome, VN_HTTP_RESPONSE);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.excerpt, "{\"errors\":[\"nope\"]}");

    snprintf(url, sizeof url, "http://127.0.0.1:%d/long", s->port); /* the excerpt is capped */
    r = run_one(t, url, "x", 5000);
    assert_int_equal(r.excerpt_len, VN_HTTP_EXCERPT_MAX);
    assert_int_equal(strlen(r.excerpt), VN_HTTP_EXCERPT_MAX);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow?api_key=SECRET", s->port);
    double t0 = tnow();
    r = run_one(t, url, "x", 200);
    assert_int_equal(r.outcome, VN_HTTP_TIMEOUT);
    assert_true(tnow() - t0 < 0.7);
    assert_null(strstr(r.error, "SECRET"));

    /* abort_all ends a request in flight */
    vn_http_request_t req = {.url = url, .body = "x", .body_len = 1, .timeout_ms = 5000};
    int tag;
    assert_int_equal(t->ops->start(t, &req, &tag), VN_OK);
    t->ops->wait(t, 10);
    t->ops->abort_all(t);
    void *got;
    assert_true(t->ops->next_done(t, &got, &r));
    assert_int_equal(r.outcome, VN_HTTP_ABORTED);
    t->ops->destroy(t);
    srv_stop(s);

    /* nothing listens: a connect failure; a bad URL: unusable */
    t = vn_http_client_new(NULL);
    r = run_one(t, "http://127.0.0.1:9/x", "x", 2000);
    assert_int_equal(r.outcome, VN_HTTP_CONNECT);
    r = run_one(t, "ftp://127.0.0.1/x", "x", 2000);
    assert_int_equal(r.outcome, VN_HTTP_UNUSABLE);
    /* a wakeup ends a long wait at once */
    t->ops->wakeup(t);
    t0 = tnow();
    t->ops->wait(t, 5000);
    assert_true(tnow() - t0 < 1.0);
    t->ops->destroy(t);
}

/* The real client under the queue: 503 then 202, and a 400 that is not retried. */
static void test_http_client__under_delivery(void **state)
{
    (void)state;
    srv_t *s = srv_start();
    vn_delivery_opts_t o = fast_opts();
    vn_delivery_t *d = vn_delivery_new(&o, NULL);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/status/400", s->port);
    vn_delivery_req_t r = {.what = "series", .url = url, .body = vn_xstrdup("bad"), .len = 3, .nmetrics = 1};
    assert_int_equal(vn_delivery_enqueue(d, &r), VN_OK);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s->port);
    for (int i = 0; i < 10; i++) {
        r = (vn_delivery_req_t){.what = "series", .url = url, .body = vn_xstrdup("good"), .len = 4, .nmetrics = 1};
        assert_int_equal(vn_delivery_enqueue(d, &r), VN_OK);
    }
    WAIT_FOR(GET(&slot, payloads_sent) == 10 && GET(&slot, payloads_dropped_permanent) == 1);
    vn_delivery_free(d);
    assert_int_equal(atomic_load(&s->requests), 11);
    assert_true(atomic_load(&s->connections) <= (int)o.max_in_flight);
    srv_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_client__parse_retry_after),
        cmocka_unit_test(test_http_client__statuses_keepalive_timeouts),
        cmocka_unit_test(test_http_client__under_delivery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
