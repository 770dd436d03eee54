/*
 * test_splunk_span.c - the splunk span sink: the HEC event bytes (Go's
 * layout, HTML escaping, hex ids, time string, tags), which spans are kept
 * (validity, Go's trace_id % rate rule, indicator spans, excluded tags), the
 * URL Go resolves, batching, the counts, the final flush deadline and the
 * config errors, on an in-process fake transport.
 *
 * splunk.c is #included (h2o style) to reach its encoder and to inject the
 * transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spansinks/splunk.c"

/* ---------------------------------------------------------------- fake transport */

/* Answers every request with `status` at once, or never (hang: until abort_all). */
typedef struct fake {
    vn_http_transport_t base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken, hang;
    int status;
    void *inflight[64];
    size_t ninflight;
    struct {
        void *tag;
        vn_http_outcome_t outcome;
        int status;
    } done[64];
    size_t ndone;
    char url[512], connect_to[256], hdr[VN_HTTP_MAX_HEADERS][256], body[64 * 1024];
    size_t nhdr, nreq;
    long timeout_ms;
} fake_t;

static vn_err_t fake_start(vn_http_transport_t *t, const vn_http_request_t *req, void *tag)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    if (f->ndone == 64 || f->ninflight == 64) {
        pthread_mutex_unlock(&f->mu);
        return VN_ERR_AGAIN;
    }
    f->nreq++;
    snprintf(f->url, sizeof f->url, "%s", req->url);
    snprintf(f->connect_to, sizeof f->connect_to, "%s", req->connect_to ? req->connect_to : "");
    f->nhdr = req->nheaders;
    for (size_t i = 0; i < req->nheaders; i++)
        snprintf(f->hdr[i], sizeof f->hdr[i], "%s", req->headers[i]);
    snprintf(f->body, sizeof f->body, "%.*s", (int)req->body_len, req->body);
    f->timeout_ms = req->timeout_ms;
    if (f->hang)
        f->inflight[f->ninflight++] = tag;
    else {
        f->done[f->ndone].tag = tag;
        f->done[f->ndone].outcome = VN_HTTP_RESPONSE;
        f->done[f->ndone++].status = f->status;
    }
    pthread_mutex_unlock(&f->mu);
    return VN_OK;
}

static void fake_wait(vn_http_transport_t *t, int timeout_ms)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    if (!f->ndone && !f->woken && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    }
    f->woken = false;
    pthread_mutex_unlock(&f->mu);
}

static bool fake_next_done(vn_http_transport_t *t, void **tag, vn_http_result_t *res)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    bool any = f->ndone > 0;
    if (any) {
        memset(res, 0, sizeof *res);
        f->ndone--;
        *tag = f->done[f->ndone].tag;
        res->outcome = f->done[f->ndone].outcome;
        res->status = f->done[f->ndone].status;
    }
    pthread_mutex_unlock(&f->mu);
    return any;
}

static void fake_wakeup(vn_http_transport_t *t)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    f->woken = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fake_abort_all(vn_http_transport_t *t)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    while (f->ninflight) {
        f->done[f->ndone].tag = f->inflight[--f->ninflight];
        f->done[f->ndone].outcome = VN_HTTP_ABORTED;
        f->done[f->ndone++].status = 0;
    }
    pthread_mutex_unlock(&f->mu);
}

static void fake_destroy(vn_http_transport_t *t)
{
    (void)t; /* the test owns it */
}

static const vn_http_transport_ops_t fake_ops = {fake_start, fake_wait, fake_next_done, fake_wakeup,
                                                 fake_abort_all, fake_destroy};

static fake_t *fake_new(int status)
{
    fake_t *f = calloc(1, sizeof *f);
    f->base.ops = &fake_ops;
    f->status = status;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return f;
}

static size_t fake_nreq(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nreq;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void fake_free(fake_t *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

/* ---------------------------------------------------------------- helpers */

typedef struct fixture {
    vn_span_sink_t s;
    vn_stats_span_sink_t st;
    fake_t *f;
} fixture_t;

/* kv: NULL-terminated key, value pairs added to hec_address/hec_token (unless given). */
static vn_err_t open_sink(fixture_t *fx, int status, const char *const *kv, char *err, size_t errcap)
{
    memset(fx, 0, sizeof *fx);
    fx->s.name = "splunk";
    fx->s.kind = "splunk";
    fx->s.hostname = "host-1";
    fx->s.stats = &fx->st;
    fx->f = fake_new(status);
    vn_kv_t v[24];
    size_t n = 0;
    bool has_addr = false, has_tok = false;
    for (size_t i = 0; kv && kv[i]; i += 2) {
        has_addr |= strcmp(kv[i], "hec_address") == 0;
        has_tok |= strcmp(kv[i], "hec_token") == 0;
        v[n++] = (vn_kv_t){.key = (char *)kv[i], .value = (char *)kv[i + 1]};
    }
    if (!has_addr)
        v[n++] = (vn_kv_t){.key = "hec_address", .value = "http://127.0.0.1:1/"};
    if (!has_tok)
        v[n++] = (vn_kv_t){.key = "hec_token", .value = "tok-123"};
    vn_sink_config_t sc = {.kind = "splunk", .name = "splunk", .kv = v, .n_kv = n};
    vn_err_t e = splunk_new(&fx->s, &sc, NULL, &fx->f->base, err, errcap);
    if (e != VN_OK)
        fake_free(fx->f); /* splunk_new called its destroy, a no-op */
    return e;
}

static void close_sink(fixture_t *fx)
{
    splunk_destroy(&fx->s);
    fake_free(fx->f);
}

static void final_flush(fixture_t *fx, double wait_s)
{
    vn_span_flush_info_t info = {.final = true, .deadline_s = vn_clock_mono_s() + wait_s, .interval_s = 10};
    splunk_flush(&fx->s, &info);
}

typedef struct tspan {
    Ssf__SSFSpan sp;
    Ssf__SSFSpan__TagsEntry te[8];
    Ssf__SSFSpan__TagsEntry *tp[8];
} tspan_t;

static void mk_span(tspan_t *t, int64_t trace, int64_t id, int64_t parent, const char *const *tags)
{
    Ssf__SSFSpan init = SSF__SSFSPAN__INIT;
    t->sp = init;
    t->sp.trace_id = trace;
    t->sp.id = id;
    t->sp.parent_id = parent;
    t->sp.start_timestamp = 1700000000123456789LL;
    t->sp.end_timestamp = 1700000000123458289LL;
    t->sp.service = "svc";
    t->sp.name = "op";
    size_t n = 0;
    for (size_t i = 0; tags && tags[i]; i += 2, n++) {
        Ssf__SSFSpan__TagsEntry e = SSF__SSFSPAN__TAGS_ENTRY__INIT;
        t->te[n] = e;
        t->te[n].key = (char *)tags[i];
        t->te[n].value = (char *)tags[i + 1];
        t->tp[n] = &t->te[n];
    }
    t->sp.n_tags = n;
    t->sp.tags = n ? t->tp : NULL;
}

static const char *encode(fixture_t *fx, vn_buf_t *b, const Ssf__SSFSpan *sp, bool partial)
{
    vn_buf_reset(b);
    assert_int_equal(write_event(fx->s.impl, b, sp, fx->s.hostname, partial), VN_OK);
    return vn_buf_ptr(b);
}

/* ---------------------------------------------------------------- tests */

static void test_event_bytes(void **state)
{
    (void)state;
    fixture_t fx;
    assert_int_equal(open_sink(&fx, 200, NULL, NULL, 0), VN_OK);
    vn_buf_t b = VN_BUF_INIT(1 << 16);
    tspan_t t;
    const char *tags[] = {"b", "<x>&y", "a", "1", "a", "2", NULL};
    mk_span(&t, 31, 255, -1, tags);
    assert_string_equal(encode(&fx, &b, &t.sp, false),
                        "{\"host\":\"host-1\",\"sourcetype\":\"svc\",\"time\":\"1700000000.123\",\"event\":{"
                        "\"trace_id\":\"1f\",\"id\":\"ff\",\"parent_id\":\"-1\","
                        "\"start_timestamp\":1700000000.1234567,\"end_timestamp\":1700000000.1234584,"
                        "\"duration_ns\":1500,\"error\":false,\"service\":\"svc\","
                        "\"tags\":{\"a\":\"2\",\"b\":\"\\u003cx\\u003e\\u0026y\"},"
                        "\"indicator\":false,\"name\":\"op\"}}\n");
    /* no tags: Go's nil map; partial; error; extremes of FormatInt; whole seconds */
    mk_span(&t, INT64_MIN, INT64_MAX, 0, NULL);
    t.sp.error = 1;
    t.sp.indicator = 1;
    t.sp.start_timestamp = 1500000000;
    t.sp.end_timestamp = 2000000000;
    t.sp.service = "";
    t.sp.name = "a\"b\n\xff";
    assert_string_equal(encode(&fx, &b, &t.sp, true),
                        "{\"host\":\"host-1\",\"sourcetype\":\"\",\"time\":\"1.500\",\"event\":{"
                        "\"trace_id\":\"-8000000000000000\",\"id\":\"7fffffffffffffff\",\"parent_id\":\"0\","
                        "\"start_timestamp\":1.5,\"end_timestamp\":2,\"duration_ns\":500000000,\"error\":true,"
                        "\"service\":\"\",\"tags\":null,\"indicator\":true,\"name\":\"a\\\"b\\n\\ufffd\","
                        "\"partial\":true}}\n");
    vn_buf_free(&b);
    close_sink(&fx);
}

static void test_which_spans(void **state)
{
    (void)state;
    fixture_t fx;
    const char *kv[] = {"span_sample_rate", "3", "hec_batch_size", "100", NULL};
    assert_int_equal(open_sink(&fx, 200, kv, NULL, 0), VN_OK);
    const char *excl[] = {"secret"};
    fx.s.excluded_tags = excl;
    fx.s.n_excluded_tags = 1;
    tspan_t t;
    mk_span(&t, 6, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    mk_span(&t, -6, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    mk_span(&t, 7, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_SKIPPED);
    mk_span(&t, -7, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_SKIPPED);
    t.sp.indicator = 1; /* indicator spans are never sampled out, but marked partial */
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    const char *bad_tags[] = {"ok", "1", "secret", "x", NULL};
    mk_span(&t, 9, 1, 0, bad_tags);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_SKIPPED);
    const char *prefix_only[] = {"secrets", "x", NULL}; /* exact key, not a prefix */
    mk_span(&t, 9, 2, 0, prefix_only);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    /* invalid traces (Go ValidTrace) */
    mk_span(&t, 3, 0, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_SKIPPED);
    mk_span(&t, 0, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_SKIPPED);
    mk_span(&t, 3, 1, 0, NULL);
    t.sp.name = "";
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_SKIPPED);
    mk_span(&t, 3, 1, 0, NULL);
    t.sp.end_timestamp = 0;
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_SKIPPED);
    splunk_sink_t *sk = fx.s.impl;
    assert_int_equal(sk->nbatch, 4);
    const char *body = vn_buf_ptr(&sk->batch);
    assert_non_null(strstr(body, "\"trace_id\":\"-7\""));
    assert_non_null(strstr(body, "\"indicator\":true,\"name\":\"op\",\"partial\":true}}\n"));
    assert_non_null(strstr(body, "\"trace_id\":\"-6\""));
    final_flush(&fx, 2);
    assert_int_equal(fake_nreq(fx.f), 1);
    assert_int_equal(vn_stats_get(&fx.st.delivered), 4);
    close_sink(&fx);
}

static void test_request_and_batches(void **state)
{
    (void)state;
    fixture_t fx;
    const char *kv[] = {"hec_address", "https://hec.example:8088/x/y?q=1", "hec_batch_size", "2", NULL};
    assert_int_equal(open_sink(&fx, 200, kv, NULL, 0), VN_OK);
    tspan_t t;
    mk_span(&t, 1, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    mk_span(&t, 1, 2, 1, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN); /* batch of 2: enqueued */
    for (int i = 0; i < 2000 && vn_stats_get(&((splunk_sink_t *)fx.s.impl)->dstats.delivered) < 2; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    assert_int_equal(fake_nreq(fx.f), 1);
    /* Go: base.ResolveReference("services/collector") + ?channel=<uuid v4> */
    const char *pre = "https://hec.example:8088/x/services/collector?channel=";
    assert_memory_equal(fx.f->url, pre, strlen(pre));
    const char *ch = fx.f->url + strlen(pre);
    assert_int_equal(strlen(ch), 36);
    assert_true(ch[8] == '-' && ch[13] == '-' && ch[14] == '4' && ch[18] == '-' && ch[23] == '-');
    assert_non_null(strchr("89ab", ch[19]));
    assert_string_equal(fx.f->hdr[0], "Authorization: Splunk tok-123");
    /* two events, each ending in a newline */
    char *nl = strchr(fx.f->body, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1 + strcspn(nl + 1, "\n"), "\n");
    assert_non_null(strstr(fx.f->body, "\"id\":\"2\",\"parent_id\":\"1\""));
    /* a partial batch waits for the flush when no lifetime is set */
    mk_span(&t, 1, 3, 1, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    assert_int_equal(fake_nreq(fx.f), 1);
    vn_span_flush_info_t info = {.deadline_s = vn_clock_mono_s() + 10, .interval_s = 10};
    splunk_flush(&fx.s, &info);
    final_flush(&fx, 2);
    assert_int_equal(fake_nreq(fx.f), 2);
    assert_int_equal(vn_stats_get(&fx.st.delivered), 3);
    assert_int_equal(vn_stats_get(&fx.st.delivery_failed), 0);
    close_sink(&fx);

    /* the URL for the other address shapes */
    char *ct, *hh;
    char *u = hec_url("http://h:1", "c", NULL, &ct, &hh);
    assert_string_equal(u, "http://h:1/services/collector?channel=c");
    assert_null(ct);
    assert_null(hh);
    free(u);
    u = hec_url("http://h/a/", "c", "", &ct, &hh);
    assert_string_equal(u, "http://h/a/services/collector?channel=c");
    free(u);
    u = hec_url("https://u:p@h#frag", "c", NULL, &ct, &hh);
    assert_string_equal(u, "https://u:p@h/services/collector?channel=c");
    free(u);
    /* hec_tls_validate_hostname: that name in the URL (SNI, certificate), the connection and Host header as given */
    u = hec_url("https://u@10.0.0.5:8088/p", "c", "hec.internal", &ct, &hh);
    assert_string_equal(u, "https://u@hec.internal:8088/services/collector?channel=c");
    assert_string_equal(ct, "hec.internal:8088:10.0.0.5:8088");
    assert_string_equal(hh, "Host: 10.0.0.5:8088");
    free(u), free(ct), free(hh);
    u = hec_url("https://[::1]/x", "c", "hec.internal", &ct, &hh);
    assert_string_equal(u, "https://hec.internal:443/services/collector?channel=c");
    assert_string_equal(ct, "hec.internal:443:[::1]:443");
    assert_string_equal(hh, "Host: [::1]");
    free(u), free(ct), free(hh);
    u = hec_url("http://10.0.0.5:8088/", "c", "hec.internal", &ct, &hh); /* no TLS: no effect, as Go */
    assert_string_equal(u, "http://10.0.0.5:8088/services/collector?channel=c");
    assert_null(ct);
    free(u);
}

static void test_tls_validate_hostname_request(void **state)
{
    (void)state;
    fixture_t fx;
    const char *kv[] = {"hec_address", "https://127.0.0.1:8443", "hec_tls_validate_hostname", "hec.example", NULL};
    assert_int_equal(open_sink(&fx, 200, kv, NULL, 0), VN_OK);
    tspan_t t;
    mk_span(&t, 1, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    final_flush(&fx, 2);
    assert_int_equal(fake_nreq(fx.f), 1);
    const char *pre = "https://hec.example:8443/services/collector?channel=";
    assert_memory_equal(fx.f->url, pre, strlen(pre));
    assert_string_equal(fx.f->connect_to, "hec.example:8443:127.0.0.1:8443");
    assert_int_equal(fx.f->nhdr, 3);
    assert_string_equal(fx.f->hdr[2], "Host: 127.0.0.1:8443");
    close_sink(&fx);
}

static void test_lifetime_keeps_batch_open(void **state)
{
    (void)state;
    fixture_t fx;
    const char *kv[] = {"hec_batch_size", "10", "hec_max_connection_lifetime", "1h", NULL};
    assert_int_equal(open_sink(&fx, 200, kv, NULL, 0), VN_OK);
    tspan_t t;
    mk_span(&t, 1, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    vn_span_flush_info_t info = {.deadline_s = vn_clock_mono_s() + 10, .interval_s = 10};
    splunk_flush(&fx.s, &info);
    assert_int_equal(((splunk_sink_t *)fx.s.impl)->nbatch, 1); /* its lifetime has not passed */
    ((splunk_sink_t *)fx.s.impl)->batch_close_at = vn_clock_mono_s() - 1;
    splunk_flush(&fx.s, &info);
    assert_int_equal(((splunk_sink_t *)fx.s.impl)->nbatch, 0);
    final_flush(&fx, 2);
    assert_int_equal(fake_nreq(fx.f), 1);
    /* Go's yaml tag bug: the lifetime is also the send timeout */
    pthread_mutex_lock(&fx.f->mu); /* written by the sink's delivery thread */
    long seen_timeout = fx.f->timeout_ms;
    pthread_mutex_unlock(&fx.f->mu);
    assert_int_equal(seen_timeout, 3600 * 1000);
    close_sink(&fx);
}

static void test_rejected_token_counts_failed(void **state)
{
    (void)state;
    fixture_t fx;
    assert_int_equal(open_sink(&fx, 401, NULL, NULL, 0), VN_OK);
    tspan_t t;
    for (int i = 1; i <= 3; i++) {
        mk_span(&t, 1, i, 0, NULL);
        assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    }
    final_flush(&fx, 5);
    assert_int_equal(fake_nreq(fx.f), 3); /* batch size 1 by default, as Go's 0 */
    assert_int_equal(vn_stats_get(&fx.st.delivered), 0);
    assert_int_equal(vn_stats_get(&fx.st.delivery_failed), 3);
    close_sink(&fx);
}

static void test_final_flush_deadline(void **state)
{
    (void)state;
    fixture_t fx;
    assert_int_equal(open_sink(&fx, 200, NULL, NULL, 0), VN_OK);
    fx.f->hang = true;
    tspan_t t;
    mk_span(&t, 1, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    double t0 = vn_clock_mono_s();
    final_flush(&fx, 0.3);
    double took = vn_clock_mono_s() - t0;
    assert_true(took >= 0.29 && took < 1.0);
    t0 = vn_clock_mono_s();
    splunk_destroy(&fx.s);
    assert_true(vn_clock_mono_s() - t0 < 1.0);
    assert_int_equal(vn_stats_get(&fx.st.dropped), 1); /* still in flight at the deadline */
    assert_int_equal(vn_stats_get(&fx.st.delivered), 0);
    fake_free(fx.f);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *kv[5];
        const char *msg;
    } cases[] = {
        {{"hec_address", "", NULL}, "key \"hec_address\": missing"},
        {{"hec_address", "hec.example:8088", NULL}, "key \"hec_address\": invalid value"},
        {{"hec_token", "", NULL}, "key \"hec_token\": missing"},
        {{"hec_batch_size", "ten", NULL}, "key \"hec_batch_size\": invalid integer"},
        {{"hec_submission_workers", "1.5", NULL}, "key \"hec_submission_workers\""},
        {{"span_sample_rate", "x", NULL}, "key \"span_sample_rate\""},
        {{"hec_send_timeout", "soon", NULL}, "key \"hec_send_timeout\": invalid duration"},
        {{"hec_ingest_timeout", "-1s", NULL}, "key \"hec_ingest_timeout\""},
        {{"hec_connection_lifetime_jitter", "5", NULL}, "key \"hec_connection_lifetime_jitter\""},
        {{"hec_tls_validate_hostname", "other.example:443", NULL}, "invalid value"},
        {{"max_in_flight", "0", NULL}, "max_in_flight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_t fx;
        char err[512] = "";
        assert_int_equal(open_sink(&fx, 200, cases[i].kv, err, sizeof err), VN_ERR_CONFIG);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
    }
    /* every key accepted, workers mapped to requests in flight, send timeout read */
    fixture_t fx;
    const char *kv[] = {"hec_submission_workers", "3", "hec_send_timeout", "2s", "hec_ingest_timeout", "1s",
                        "hec_max_connection_lifetime", "10s", "hec_connection_lifetime_jitter", "5s",
                        "hec_tls_validate_hostname", "", "hec_batch_size", "0", "span_sample_rate", "-4", NULL};
    assert_int_equal(open_sink(&fx, 200, kv, NULL, 0), VN_OK);
    splunk_sink_t *sk = fx.s.impl;
    assert_int_equal(sk->batch_size, 1);
    assert_int_equal(sk->sample_rate, 1);
    tspan_t t;
    mk_span(&t, 1, 1, 0, NULL);
    assert_int_equal(splunk_ingest(&fx.s, &t.sp), VN_SPAN_TAKEN);
    final_flush(&fx, 2);
    pthread_mutex_lock(&fx.f->mu); /* written by the sink's delivery thread */
    long seen_timeout = fx.f->timeout_ms;
    pthread_mutex_unlock(&fx.f->mu);
    assert_int_equal(seen_timeout, 2000);
    close_sink(&fx);
}

static void test_registry_builds_splunk(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "hec_address", .value = "http://127.0.0.1:9/"}, {.key = "hec_token", .value = "t"}};
    vn_sink_config_t sc = {.kind = "splunk", .name = "sp", .kv = kv, .n_kv = 2};
    vn_span_sink_t *s = NULL;
    char err[256];
    assert_int_equal(vn_span_sink_new(&sc, NULL, &s, err, sizeof err), VN_OK);
    assert_string_equal(s->kind, "splunk");
    vn_span_sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_bytes),
        cmocka_unit_test(test_which_spans),
        cmocka_unit_test(test_request_and_batches),
        cmocka_unit_test(test_tls_validate_hostname_request),
        cmocka_unit_test(test_lifetime_keeps_batch_open),
        cmocka_unit_test(test_rejected_token_counts_failed),
        cmocka_unit_test(test_final_flush_deadline),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_registry_builds_splunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
