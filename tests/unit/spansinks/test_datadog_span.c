/*
 * test_datadog_span.c - spansinks/datadog (Go DatadogSpanSink): the exact JSON
 * of a Datadog trace span (resource, meta, parent_id, error, type, escaping),
 * the ring that keeps the newest spans (slot and byte caps, evictions), the
 * PUT body grouped by trace id, and the sink end to end against a fake HTTP
 * transport: method, URL, header, body, skipped invalid traces and the
 * delivered / delivery_failed / dropped counters. Spans are built with the
 * protobuf-c structs, packed and decoded again, as the sink thread gets them.
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
#include <time.h>

#include "core/clock.h"
#include "spansinks/datadog.h"

/* ---------------------------------------------------------------- spans */

typedef struct span_spec {
    int64_t trace_id, id, parent_id, start, end;
    bool error;
    const char *service, *name;
    const char *tags[16]; /* key, value, ..., NULL */
} span_spec_t;

/* Packs spec with protobuf-c and decodes it again; free with ssf__ssfspan__free_unpacked. */
static Ssf__SSFSpan *make_span(const span_spec_t *sp)
{
    Ssf__SSFSpan s = SSF__SSFSPAN__INIT;
    Ssf__SSFSpan__TagsEntry ents[8], *eps[8];
    s.version = 0;
    s.trace_id = sp->trace_id;
    s.id = sp->id;
    s.parent_id = sp->parent_id;
    s.start_timestamp = sp->start;
    s.end_timestamp = sp->end;
    s.error = sp->error;
    s.service = (char *)(sp->service ? sp->service : "");
    s.name = (char *)(sp->name ? sp->name : "");
    size_t n = 0;
    for (; n < 8 && sp->tags[2 * n]; n++) {
        ssf__ssfspan__tags_entry__init(&ents[n]);
        ents[n].key = (char *)sp->tags[2 * n];
        ents[n].value = (char *)sp->tags[2 * n + 1];
        eps[n] = &ents[n];
    }
    s.n_tags = n;
    s.tags = eps;
    uint8_t wire[4096];
    size_t len = ssf__ssfspan__get_packed_size(&s);
    assert_true(len <= sizeof wire);
    ssf__ssfspan__pack(&s, wire);
    Ssf__SSFSpan *out = ssf__ssfspan__unpack(NULL, len, wire);
    assert_non_null(out);
    return out;
}

static char *span_json(const span_spec_t *sp)
{
    Ssf__SSFSpan *s = make_span(sp);
    vn_buf_t b = VN_BUF_INIT(1 << 16);
    assert_int_equal(vn_ddspan_json_write(&b, s), VN_OK);
    char *out = strdup(vn_buf_ptr(&b));
    vn_buf_free(&b);
    ssf__ssfspan__free_unpacked(s, NULL);
    return out;
}

/* ---------------------------------------------------------------- span JSON */

static void test_ddspan__json_full(void **state)
{
    (void)state;
    span_spec_t sp = {.trace_id = 77, .id = 78, .parent_id = 76, .start = 1500000000000000000,
                      .end = 1500000000250000000, .error = true, .service = "farts-srv", .name = "farting farty farts",
                      .tags = {"resource", "GET /users", "baz", "qux", "type", "db", "a<b", "x&y>z", NULL}};
    char *j = span_json(&sp);
    assert_string_equal(j, "{\"duration\":250000000,\"error\":2,"
                           "\"meta\":{\"a\\u003cb\":\"x\\u0026y\\u003ez\",\"baz\":\"qux\",\"type\":\"db\"},"
                           "\"metrics\":null,\"name\":\"farting farty farts\",\"parent_id\":76,"
                           "\"resource\":\"GET /users\",\"service\":\"farts-srv\",\"span_id\":78,"
                           "\"start\":1500000000000000000,\"trace_id\":77,\"type\":\"web\"}");
    free(j);
}

static void test_ddspan__json_root_no_resource(void **state)
{
    (void)state;
    /* Go: parent_id <= 0 is 0 and left out; no resource tag: "unknown"; no tags: meta {} */
    span_spec_t sp = {.trace_id = 1, .id = 2, .parent_id = -1, .start = 10, .end = 5, .name = "op"};
    char *j = span_json(&sp);
    assert_string_equal(j, "{\"duration\":-5,\"error\":0,\"meta\":{},\"metrics\":null,\"name\":\"op\","
                           "\"resource\":\"unknown\",\"service\":\"\",\"span_id\":2,\"start\":10,\"trace_id\":1,"
                           "\"type\":\"web\"}");
    free(j);
}

static void test_ddspan__json_duplicates_and_escapes(void **state)
{
    (void)state;
    /* a repeated key keeps its last value (protobuf map); an empty resource is "unknown" and still removed */
    span_spec_t sp = {.trace_id = 5, .id = 6, .start = 1, .end = 2, .name = "n\"\n", .service = "s\\",
                      .tags = {"k", "first", "resource", "r1", "k", "second", "resource", "", "\xff", "\xe2\x80\xa8",
                               NULL}};
    char *j = span_json(&sp);
    assert_string_equal(j, "{\"duration\":1,\"error\":0,\"meta\":{\"k\":\"second\",\"\\ufffd\":\"\\u2028\"},"
                           "\"metrics\":null,\"name\":\"n\\\"\\n\",\"resource\":\"unknown\",\"service\":\"s\\\\\","
                           "\"span_id\":6,\"start\":1,\"trace_id\":5,\"type\":\"web\"}");
    free(j);
}

static void test_ddspan__json_too_large(void **state)
{
    (void)state;
    span_spec_t sp = {.trace_id = 5, .id = 6, .start = 1, .end = 2, .name = "op", .service = "svc"};
    Ssf__SSFSpan *s = make_span(&sp);
    vn_buf_t b = VN_BUF_INIT(40);
    assert_int_equal(vn_ddspan_json_write(&b, s), VN_ERR_TOO_LARGE);
    vn_buf_free(&b);
    ssf__ssfspan__free_unpacked(s, NULL);
}

/* ---------------------------------------------------------------- ring and body */

static size_t add(vn_ddspan_buf_t *rb, int64_t trace, int64_t id)
{
    char name[16];
    snprintf(name, sizeof name, "s%lld", (long long)id);
    span_spec_t sp = {.trace_id = trace, .id = id, .start = 100, .end = 101, .name = name, .service = "v"};
    Ssf__SSFSpan *s = make_span(&sp);
    size_t ev = 99;
    assert_int_equal(vn_ddspan_buf_add(rb, s, &ev), VN_OK);
    ssf__ssfspan__free_unpacked(s, NULL);
    return ev;
}

/* the span ids in a body, in order, with '|' between traces: "1,3|2" */
static void body_ids(const char *body, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    int depth = 0;
    for (const char *p = body; *p; p++) {
        if (*p == '[')
            depth++;
        else if (*p == ']' && --depth == 1 && p[1] == ',')
            n += (size_t)snprintf(out + n, cap - n, "|");
        else if (strncmp(p, "\"span_id\":", 10) == 0) {
            long long id = strtoll(p + 10, NULL, 10);
            bool sep = n > 0 && out[n - 1] != '|';
            n += (size_t)snprintf(out + n, cap - n, "%s%lld", sep ? "," : "", id);
        }
    }
}

static void test_ddspan__ring_keeps_newest_and_groups(void **state)
{
    (void)state;
    vn_ddspan_buf_t rb;
    vn_ddspan_buf_init(&rb, 4, 1 << 20);
    size_t len, ns, nt;
    assert_null(vn_ddspan_buf_take(&rb, &len, &ns, &nt));
    assert_int_equal(ns, 0);
    assert_int_equal(add(&rb, 9, 1), 0);
    assert_int_equal(add(&rb, 2, 2), 0);
    assert_int_equal(add(&rb, 9, 3), 0);
    assert_int_equal(add(&rb, 2, 4), 0);
    assert_int_equal(add(&rb, 9, 5), 1); /* span 1 overwritten */
    assert_int_equal(add(&rb, 7, 6), 1); /* span 2 overwritten */
    assert_int_equal(vn_ddspan_buf_count(&rb), 4);
    char *body = vn_ddspan_buf_take(&rb, &len, &ns, &nt);
    assert_non_null(body);
    assert_int_equal(ns, 4);
    assert_int_equal(nt, 3);
    assert_int_equal(len, strlen(body));
    assert_true(body[0] == '[' && body[1] == '[');
    assert_string_equal(body + len - 3, "]]\n");
    char ids[64];
    body_ids(body, ids, sizeof ids);
    assert_string_equal(ids, "4|6|3,5"); /* traces 2, 7, 9; spans in arrival order */
    free(body);
    /* the take emptied the ring: the next body holds only what came after */
    assert_int_equal(vn_ddspan_buf_count(&rb), 0);
    add(&rb, 1, 10);
    body = vn_ddspan_buf_take(&rb, &len, &ns, &nt);
    char one[256];
    snprintf(one, sizeof one, "[[%.*s]]\n", (int)(len - 5), body + 2);
    assert_string_equal(body, one);
    assert_int_equal(ns, 1);
    assert_int_equal(nt, 1);
    free(body);
    vn_ddspan_buf_destroy(&rb);
}

static void test_ddspan__ring_byte_cap_wraps(void **state)
{
    (void)state;
    /* each span's JSON is ~150 bytes: 700 bytes hold 4, so the byte cap evicts
     * before the 100 slots do, and the copies wrap around the ring's end */
    vn_ddspan_buf_t rb;
    vn_ddspan_buf_init(&rb, 100, 700);
    size_t evicted = 0;
    for (int64_t i = 1; i <= 23; i++)
        evicted += add(&rb, 1000 + i % 3, i);
    size_t kept = vn_ddspan_buf_count(&rb);
    assert_true(kept >= 3 && kept <= 5);
    assert_int_equal(evicted + kept, 23);
    size_t len, ns, nt;
    char *body = vn_ddspan_buf_take(&rb, &len, &ns, &nt);
    assert_int_equal(ns, kept);
    /* every kept span is whole: each object ends with the type field */
    size_t objs = 0;
    for (const char *p = body; (p = strstr(p, ",\"type\":\"web\"}")); p++)
        objs++;
    assert_int_equal(objs, kept);
    char ids[128];
    body_ids(body, ids, sizeof ids);
    for (size_t i = 0; i < kept; i++) {
        char want[8];
        snprintf(want, sizeof want, "%zu", 23 - i);
        assert_non_null(strstr(ids, want)); /* the newest ones */
    }
    free(body);
    /* a span that alone is over the ring is refused, nothing evicted */
    vn_ddspan_buf_t tiny;
    vn_ddspan_buf_init(&tiny, 4, 50);
    span_spec_t sp = {.trace_id = 1, .id = 2, .start = 1, .end = 2, .name = "op"};
    Ssf__SSFSpan *s = make_span(&sp);
    size_t ev = 7;
    assert_int_equal(vn_ddspan_buf_add(&tiny, s, &ev), VN_ERR_TOO_LARGE);
    assert_int_equal(ev, 0);
    assert_int_equal(vn_ddspan_buf_count(&tiny), 0);
    ssf__ssfspan__free_unpacked(s, NULL);
    vn_ddspan_buf_destroy(&tiny);
    vn_ddspan_buf_destroy(&rb);
}

/* ---------------------------------------------------------------- fake transport */

typedef struct fake {
    vn_http_transport_t base;
    pthread_mutex_t mu;
    int status; /* the answer to every request */
    void *pending[16];
    size_t npending;
    bool aborted;
    int nreq;
    char method[8], url[256], hdr[VN_HTTP_MAX_HEADERS][96];
    size_t nhdr;
    char *body; /* the last one */
    size_t len;
} fake_t;

static vn_err_t fake_start(vn_http_transport_t *t, const vn_http_request_t *req, void *tag)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    if (f->npending == 16) {
        pthread_mutex_unlock(&f->mu);
        return VN_ERR_AGAIN;
    }
    f->nreq++;
    snprintf(f->method, sizeof f->method, "%s", req->method ? req->method : "POST");
    snprintf(f->url, sizeof f->url, "%s", req->url);
    f->nhdr = req->nheaders;
    for (size_t i = 0; i < req->nheaders; i++)
        snprintf(f->hdr[i], sizeof f->hdr[i], "%s", req->headers[i]);
    free(f->body);
    f->body = malloc(req->body_len + 1);
    memcpy(f->body, req->body, req->body_len);
    f->body[req->body_len] = '\0';
    f->len = req->body_len;
    f->pending[f->npending++] = tag;
    pthread_mutex_unlock(&f->mu);
    return VN_OK;
}

static void fake_wait(vn_http_transport_t *t, int timeout_ms)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    bool ready = f->npending > 0;
    pthread_mutex_unlock(&f->mu);
    if (!ready && timeout_ms > 0) {
        struct timespec ts = {.tv_nsec = (timeout_ms < 2 ? timeout_ms : 2) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static bool fake_next_done(vn_http_transport_t *t, void **tag, vn_http_result_t *res)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    bool got = f->npending > 0;
    if (got) {
        *tag = f->pending[0];
        memmove(f->pending, f->pending + 1, --f->npending * sizeof f->pending[0]);
        memset(res, 0, sizeof *res);
        res->outcome = f->aborted ? VN_HTTP_ABORTED : VN_HTTP_RESPONSE;
        res->status = f->aborted ? 0 : f->status;
    }
    pthread_mutex_unlock(&f->mu);
    return got;
}

static void fake_wakeup(vn_http_transport_t *t) { (void)t; }

static void fake_abort_all(vn_http_transport_t *t)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    f->aborted = true;
    pthread_mutex_unlock(&f->mu);
}

static void fake_destroy(vn_http_transport_t *t) { (void)t; /* the test reads it afterwards */ }

static const vn_http_transport_ops_t fake_ops = {fake_start, fake_wait, fake_next_done, fake_wakeup, fake_abort_all,
                                                 fake_destroy};

static fake_t *fake_new(int status)
{
    fake_t *f = calloc(1, sizeof *f);
    f->base.ops = &fake_ops;
    pthread_mutex_init(&f->mu, NULL);
    f->status = status;
    return f;
}

static void fake_free(fake_t *f)
{
    pthread_mutex_destroy(&f->mu);
    free(f->body);
    free(f);
}

/* ---------------------------------------------------------------- the sink */

static vn_span_sink_t *sink_new(vn_kv_t *kv, size_t n, fake_t *f, vn_stats_span_sink_t *st)
{
    vn_sink_config_t sc = {.kind = "datadog", .name = "dd", .kv = kv, .n_kv = n};
    vn_config_t cfg = {0};
    cfg.interval_s = 1;
    vn_span_sink_t *s = calloc(1, sizeof *s);
    s->name = strdup("dd");
    s->kind = "datadog";
    s->stats = st;
    char err[256];
    assert_int_equal(vn_span_sink__datadog_new_with(s, &sc, &cfg, &f->base, err, sizeof err), VN_OK);
    return s;
}

static void sink_free(vn_span_sink_t *s)
{
    s->ops->destroy(s);
    free(s->name);
    free(s);
}

static vn_span_ingest_rc_t ingest(vn_span_sink_t *s, const span_spec_t *sp)
{
    Ssf__SSFSpan *span = make_span(sp);
    vn_span_ingest_rc_t rc = s->ops->ingest(s, span);
    ssf__ssfspan__free_unpacked(span, NULL);
    return rc;
}

static void final_flush(vn_span_sink_t *s)
{
    vn_span_flush_info_t info = {.timestamp = 1, .interval_s = 1, .deadline_s = vn_clock_mono_s() + 5, .final = true};
    s->ops->flush(s, &info);
}

static void test_ddspan__sink_puts_traces(void **state)
{
    (void)state;
    fake_t *f = fake_new(200);
    vn_stats_span_sink_t st = {0};
    vn_kv_t kv[] = {{.key = "datadog_trace_api_address", .value = "http://agent.test:8126/"},
                    {.key = "datadog_span_buffer_size", .value = "100"}};
    vn_span_sink_t *s = sink_new(kv, 2, f, &st);
    /* invalid traces (Go ValidateTrace): no id, no trace id, no start, no end, no name */
    span_spec_t bad[] = {{.trace_id = 1, .start = 1, .end = 2, .name = "n"},
                         {.id = 1, .start = 1, .end = 2, .name = "n"},
                         {.trace_id = 1, .id = 1, .end = 2, .name = "n"},
                         {.trace_id = 1, .id = 1, .start = 1, .name = "n"},
                         {.trace_id = 1, .id = 1, .start = 1, .end = 2}};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ingest(s, &bad[i]), VN_SPAN_SKIPPED);
    span_spec_t a = {.trace_id = 42, .id = 1, .start = 1000, .end = 3000, .service = "svc", .name = "root",
                     .tags = {"resource", "/x", NULL}};
    span_spec_t b = {.trace_id = 42, .id = 2, .parent_id = 1, .start = 1500, .end = 2000, .error = true,
                     .service = "svc", .name = "child", .tags = {"db", "pg", NULL}};
    assert_int_equal(ingest(s, &a), VN_SPAN_TAKEN);
    assert_int_equal(ingest(s, &b), VN_SPAN_TAKEN);
    final_flush(s);
    assert_int_equal(f->nreq, 1);
    assert_string_equal(f->method, "PUT");
    assert_string_equal(f->url, "http://agent.test:8126/v0.3/traces");
    assert_int_equal(f->nhdr, 1);
    assert_string_equal(f->hdr[0], "Content-Type: application/json");
    assert_string_equal(f->body,
                        "[[{\"duration\":2000,\"error\":0,\"meta\":{},\"metrics\":null,\"name\":\"root\","
                        "\"resource\":\"/x\",\"service\":\"svc\",\"span_id\":1,\"start\":1000,\"trace_id\":42,"
                        "\"type\":\"web\"},"
                        "{\"duration\":500,\"error\":2,\"meta\":{\"db\":\"pg\"},\"metrics\":null,\"name\":\"child\","
                        "\"parent_id\":1,\"resource\":\"unknown\",\"service\":\"svc\",\"span_id\":2,\"start\":1500,"
                        "\"trace_id\":42,\"type\":\"web\"}]]\n");
    assert_int_equal(vn_stats_get(&st.delivered), 2);
    assert_int_equal(vn_stats_get(&st.delivery_failed), 0);
    assert_int_equal(vn_stats_get(&st.dropped), 0);
    sink_free(s);
    fake_free(f);
}

static void test_ddspan__sink_counts_overwrites_and_failures(void **state)
{
    (void)state;
    fake_t *f = fake_new(400); /* permanent: each span counted as delivery_failed */
    vn_stats_span_sink_t st = {0};
    vn_kv_t kv[] = {{.key = "datadog_trace_api_address", .value = "https://agent.test"},
                    {.key = "datadog_span_buffer_size", .value = "3"}};
    vn_span_sink_t *s = sink_new(kv, 2, f, &st);
    for (int64_t i = 1; i <= 5; i++) {
        span_spec_t sp = {.trace_id = i, .id = i, .start = 1, .end = 2, .name = "op"};
        assert_int_equal(ingest(s, &sp), VN_SPAN_TAKEN);
    }
    assert_int_equal(vn_stats_get(&st.dropped), 2); /* the ring kept the newest 3 */
    /* an interval flush hands the body to the queue and returns at once */
    vn_span_flush_info_t info = {.timestamp = 1, .interval_s = 1, .deadline_s = vn_clock_mono_s() + 1};
    s->ops->flush(s, &info);
    final_flush(s);
    assert_int_equal(f->nreq, 1);
    char ids[64];
    body_ids(f->body, ids, sizeof ids);
    assert_string_equal(ids, "3|4|5");
    assert_int_equal(vn_stats_get(&st.delivered), 0);
    assert_int_equal(vn_stats_get(&st.delivery_failed), 3);
    sink_free(s);
    fake_free(f);
}

static void test_ddspan__empty_flush_sends_nothing(void **state)
{
    (void)state;
    fake_t *f = fake_new(200);
    vn_kv_t kv[] = {{.key = "datadog_trace_api_address", .value = "http://a"}};
    vn_span_sink_t *s = sink_new(kv, 1, f, NULL); /* no stats slot: unit-test mode of the runner */
    span_spec_t sp = {.trace_id = 1, .id = 1, .start = 1, .end = 2, .name = "op"};
    assert_int_equal(ingest(s, &sp), VN_SPAN_TAKEN);
    vn_span_flush_info_t info = {.timestamp = 1, .interval_s = 1, .deadline_s = vn_clock_mono_s() + 1};
    s->ops->flush(s, &info);
    s->ops->flush(s, &info);
    final_flush(s);
    assert_int_equal(f->nreq, 1);
    sink_free(s);
    fake_free(f);
}

/* ---------------------------------------------------------------- config */

static void test_ddspan__config_errors(void **state)
{
    (void)state;
    struct {
        const char *addr, *size, *want;
    } cases[] = {
        {NULL, NULL, "datadog_trace_api_address\": missing"},
        {"", NULL, "datadog_trace_api_address\": missing"},
        {"127.0.0.1:8126", NULL, "want an http:// or https:// URL"},
        {"http://a", "-1", "datadog_span_buffer_size\": invalid value \"-1\""},
        {"http://a", "12x", "datadog_span_buffer_size\": invalid value \"12x\""},
        {"http://a", "1048577", "datadog_span_buffer_size\": invalid value \"1048577\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_kv_t kv[2];
        size_t n = 0;
        if (cases[i].addr)
            kv[n++] = (vn_kv_t){.key = "datadog_trace_api_address", .value = (char *)cases[i].addr};
        if (cases[i].size)
            kv[n++] = (vn_kv_t){.key = "datadog_span_buffer_size", .value = (char *)cases[i].size};
        vn_sink_config_t sc = {.kind = "datadog", .name = "dd", .kv = kv, .n_kv = n};
        vn_span_sink_t *s = NULL;
        char err[256] = "";
        assert_int_equal(vn_span_sink_new(&sc, NULL, &s, err, sizeof err), VN_ERR_CONFIG);
        assert_null(s);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: %s", i, err);
    }
}

static void test_ddspan__registry_builds_it(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "datadog_trace_api_address", .value = "http://127.0.0.1:9"},
                    {.key = "datadog_span_buffer_size", .value = "0"}};
    vn_sink_config_t sc = {.kind = "datadog", .name = "traces", .kv = kv, .n_kv = 2};
    vn_span_sink_t *s = NULL;
    char err[256] = "";
    assert_int_equal(vn_span_sink_new(&sc, NULL, &s, err, sizeof err), VN_OK);
    assert_string_equal(s->kind, "datadog");
    assert_string_equal(s->name, "traces");
    vn_span_sink_free(s); /* never flushed: destroy frees the queue */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ddspan__json_full),
        cmocka_unit_test(test_ddspan__json_root_no_resource),
        cmocka_unit_test(test_ddspan__json_duplicates_and_escapes),
        cmocka_unit_test(test_ddspan__json_too_large),
        cmocka_unit_test(test_ddspan__ring_keeps_newest_and_groups),
        cmocka_unit_test(test_ddspan__ring_byte_cap_wraps),
        cmocka_unit_test(test_ddspan__sink_puts_traces),
        cmocka_unit_test(test_ddspan__sink_counts_overwrites_and_failures),
        cmocka_unit_test(test_ddspan__empty_flush_sends_nothing),
        cmocka_unit_test(test_ddspan__config_errors),
        cmocka_unit_test(test_ddspan__registry_builds_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
