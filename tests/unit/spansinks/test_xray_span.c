/*
 * test_xray_span.c - spansinks/xray: spans in, datagrams out on a UDP socket
 * of the test, compared byte for byte.
 *
 * The first vectors are Go's own (sinks/xray/xray_test.go and its testdata JSON files:
 * same spans, same expected segments, including the sampling case); the others
 * pin Go's rules the fixtures do not reach (name cleanup and length, negative
 * ids, http mapping, repeated tags, HTML escaping, invalid UTF-8), derived from
 * sinks/xray/xray.go and encoding/json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/stats.h"
#include "spansinks/span_sink.h"

#define HDR "{\"format\": \"json\", \"version\": 1}\n"

/* ---------------------------------------------------------------- helpers */

typedef struct daemon_sock {
    int fd;
    char addr[64];
} daemon_sock_t;

static daemon_sock_t daemon_open(void)
{
    daemon_sock_t d = {.fd = socket(AF_INET, SOCK_DGRAM, 0)};
    assert_true(d.fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(d.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(d.fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(d.addr, sizeof d.addr, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    return d;
}

/* One datagram within timeout_ms, NUL-terminated in a static buffer; NULL when none came. */
static const char *daemon_recv(const daemon_sock_t *d, int timeout_ms)
{
    static char buf[70000];
    struct pollfd p = {.fd = d->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return NULL;
    ssize_t n = recv(d->fd, buf, sizeof buf - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

typedef struct sink_opts {
    const char *address;
    const char *pct;          /* NULL: key absent */
    const char *const *annot; /* NULL-terminated; NULL: key absent */
    const char *annot_scalar; /* annotation_tags given as a scalar */
} sink_opts_t;

static vn_err_t new_xray(const sink_opts_t *o, vn_span_sink_t **out, char *err, size_t errcap)
{
    vn_kv_t kv[3];
    size_t n = 0;
    char *items[8];
    if (o->address)
        kv[n++] = (vn_kv_t){.key = "address", .value = (char *)o->address};
    if (o->pct)
        kv[n++] = (vn_kv_t){.key = "sample_percentage", .value = (char *)o->pct};
    if (o->annot) {
        size_t k = 0;
        while (o->annot[k] && k < 8) {
            items[k] = (char *)o->annot[k];
            k++;
        }
        kv[n++] = (vn_kv_t){.key = "annotation_tags", .value = "", .list = {items, k}, .is_list = true};
    } else if (o->annot_scalar) {
        kv[n++] = (vn_kv_t){.key = "annotation_tags", .value = (char *)o->annot_scalar};
    }
    vn_sink_config_t sc = {.kind = "xray", .name = "xray", .kv = kv, .n_kv = n};
    return vn_span_sink_new(&sc, NULL, out, err, errcap);
}

static vn_span_sink_t *must_xray(const sink_opts_t *o)
{
    vn_span_sink_t *s = NULL;
    char err[256];
    if (new_xray(o, &s, err, sizeof err) != VN_OK)
        fail_msg("vn_span_sink_new: %s", err);
    return s;
}

typedef struct span_fixture {
    Ssf__SSFSpan sp;
    Ssf__SSFSpan__TagsEntry e[16];
    Ssf__SSFSpan__TagsEntry *ep[16];
} span_fixture_t;

/* Go's test span: xray_test.go TestIngestSpans. tags: key, value pairs, NULL-terminated. */
static void go_span(span_fixture_t *f, const char *const *tags)
{
    memset(f, 0, sizeof *f);
    ssf__ssfspan__init(&f->sp);
    f->sp.trace_id = 4601851300195147788;
    f->sp.parent_id = 1;
    f->sp.id = 2;
    f->sp.start_timestamp = INT64_C(1518279577) * 1000000000;
    f->sp.end_timestamp = f->sp.start_timestamp + INT64_C(2000000000);
    f->sp.service = "farts-srv";
    f->sp.name = "farting farty farts";
    size_t n = 0;
    for (; tags && tags[2 * n] && n < 16; n++) {
        ssf__ssfspan__tags_entry__init(&f->e[n]);
        f->e[n].key = (char *)tags[2 * n];
        f->e[n].value = (char *)tags[2 * n + 1];
        f->ep[n] = &f->e[n];
    }
    f->sp.n_tags = n;
    f->sp.tags = f->ep;
}

static const char *const go_tags[] = {"baz", "qux", "mind", "crystal", "feelings", "magenta", NULL};
static const char *const go_annot[] = {"baz", "mind", NULL};

static void expect_segment(const daemon_sock_t *d, const char *want_segment)
{
    const char *got = daemon_recv(d, 2000);
    assert_non_null(got);
    assert_memory_equal(got, HDR, strlen(HDR));
    assert_string_equal(got + strlen(HDR), want_segment);
}

/* ------------------------------------------------------- Go's test vectors */

/* testdata/xray_segment.json (TestIngestSpans) */
static const char go_segment[] =
    "{\"name\":\"farts-srv\",\"id\":\"0000000000000002\",\"trace_id\":\"1-5a7f1b00-000000003fdd0f60394d200c\","
    "\"parent_id\":\"0000000000000001\",\"start_time\":1518279577,\"end_time\":1518279579,\"namespace\":\"remote\","
    "\"error\":false,\"annotations\":{\"baz\":\"qux\",\"indicator\":\"false\",\"mind\":\"crystal\"},"
    "\"metadata\":{\"baz\":\"qux\",\"feelings\":\"magenta\",\"indicator\":\"false\",\"mind\":\"crystal\"},"
    "\"http\":{\"request\":{\"url\":\"farts-srv:farting farty farts\"},\"response\":{}}}";

static void test_go_ingest_spans(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "100", .annot = go_annot});
    vn_stats_span_sink_t st = {0};
    s->stats = &st;
    span_fixture_t f;
    go_span(&f, go_tags);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    expect_segment(&d, go_segment);
    assert_int_equal(vn_stats_get(&st.delivered), 1);
    s->ops->flush(s, &(vn_span_flush_info_t){.final = true});
    vn_span_sink_free(s);
    close(d.fd);
}

/* testdata/xray_segment_root_start.json (TestIngestSpansRootStartTimestamp) */
static void test_go_root_start(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "100", .annot = go_annot});
    span_fixture_t f;
    go_span(&f, go_tags);
    f.sp.root_start_timestamp = 1000000000;
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    expect_segment(&d,
        "{\"name\":\"farts-srv\",\"id\":\"0000000000000002\",\"trace_id\":\"1-00000001-000000003fdd0f60394d200c\","
        "\"parent_id\":\"0000000000000001\",\"start_time\":1518279577,\"end_time\":1518279579,\"namespace\":\"remote\","
        "\"error\":false,\"annotations\":{\"baz\":\"qux\",\"indicator\":\"false\",\"mind\":\"crystal\"},"
        "\"metadata\":{\"baz\":\"qux\",\"feelings\":\"magenta\",\"indicator\":\"false\",\"mind\":\"crystal\"},"
        "\"http\":{\"request\":{\"url\":\"farts-srv:farting farty farts\"},\"response\":{}}}");
    vn_span_sink_free(s);
    close(d.fd);
}

/* testdata/xray_segment_root_start_http_fields.json (TestIngestSpansHttpHeadersInTags) */
static void test_go_http_fields(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "100", .annot = go_annot});
    static const char *const tags[] = {"baz", "qux", "mind", "crystal", "feelings", "magenta",
                                       "http.url", "https://domain.name/path1/path2", "http.method", "POST",
                                       "http.status_code", "200", NULL};
    span_fixture_t f;
    go_span(&f, tags);
    f.sp.root_start_timestamp = 1000000000;
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    expect_segment(&d,
        "{\"name\":\"farts-srv\",\"id\":\"0000000000000002\",\"trace_id\":\"1-00000001-000000003fdd0f60394d200c\","
        "\"parent_id\":\"0000000000000001\",\"start_time\":1518279577,\"end_time\":1518279579,\"namespace\":\"remote\","
        "\"error\":false,\"annotations\":{\"baz\":\"qux\",\"indicator\":\"false\",\"mind\":\"crystal\"},"
        "\"metadata\":{\"baz\":\"qux\",\"feelings\":\"magenta\",\"http.method\":\"POST\",\"http.status_code\":\"200\","
        "\"http.url\":\"https://domain.name/path1/path2\",\"indicator\":\"false\",\"mind\":\"crystal\"},"
        "\"http\":{\"request\":{\"method\":\"POST\",\"url\":\"https://domain.name/path1/path2\"},"
        "\"response\":{\"status\":200}}}");
    vn_span_sink_free(s);
    close(d.fd);
}

/* TestSampleSpans: at 50% trace 548547320537590250 is sampled out, 4601851300195147788 kept
 * (crc32 3714943622 and 2037783338 against the threshold 2147483647). */
static void test_go_sample_spans(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "50", .annot = go_annot});
    static const char *const one_tag[] = {"baz", "qux", NULL};
    span_fixture_t f;
    go_span(&f, one_tag);
    f.sp.trace_id = 548547320537590250;
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_SKIPPED);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_SKIPPED);
    go_span(&f, go_tags);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    expect_segment(&d, go_segment); /* the first datagram is the kept one */
    assert_null(daemon_recv(&d, 50));
    vn_span_sink_free(s);
    close(d.fd);
}

/* ------------------------------------------------------ rules beyond Go's fixtures */

static void test_sampling_threshold_edges(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    span_fixture_t f;
    go_span(&f, NULL);
    /* unset and 0: threshold 0, Go drops all but hash 0; -5 is clamped to 0 */
    const char *zero[] = {NULL, "0", "-5"};
    for (size_t i = 0; i < 3; i++) {
        vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = zero[i]});
        assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_SKIPPED);
        vn_span_sink_free(s);
    }
    /* 150 is clamped to 100: the largest crc32 passes */
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "150"});
    f.sp.trace_id = 548547320537590250;
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    assert_non_null(daemon_recv(&d, 2000));
    vn_span_sink_free(s);
    /* 10.5%: threshold uint32(10.5 * 4294967295 / 100) = 450971566; 2037783338 is above */
    s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "10.5"});
    f.sp.trace_id = 4601851300195147788;
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_SKIPPED);
    vn_span_sink_free(s);
    close(d.fd);
}

static void test_invalid_trace_skipped(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "100"});
    span_fixture_t f;
    for (int which = 0; which < 5; which++) {
        go_span(&f, NULL);
        switch (which) {
        case 0: f.sp.id = 0; break;
        case 1: f.sp.trace_id = 0; break;
        case 2: f.sp.start_timestamp = 0; break;
        case 3: f.sp.end_timestamp = 0; break;
        default: f.sp.name = ""; break;
        }
        assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_SKIPPED);
    }
    assert_null(daemon_recv(&d, 50));
    vn_span_sink_free(s);
    close(d.fd);
}

/* Name: runs of bytes outside Go's class become one '_' (a UTF-8 rune, '<', '$', '\v' are
 * outside; '&', '@', '\t', '\\' inside); indicator spans get "-indicator"; negative ids
 * print as Go's %x does; parent 0 is left out; times are float seconds. */
static void test_name_ids_times(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "100"});
    span_fixture_t f;
    go_span(&f, NULL);
    f.sp.service = "pay$ment (v2)/\xc3\xbc&<x>\t@\\\v\xff!";
    f.sp.name = "op";
    f.sp.indicator = true;
    f.sp.error = true;
    f.sp.id = -1;
    f.sp.parent_id = 0;
    f.sp.trace_id = -5;
    f.sp.start_timestamp = INT64_C(1518279577123456789);
    f.sp.end_timestamp = INT64_C(1518279578000000001);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    expect_segment(&d,
        "{\"name\":\"pay_ment _v2_/_\\u0026_x_\\t@\\\\_-indicator\",\"id\":\"-000000000000001\","
        "\"trace_id\":\"1-5a7f1b00--00000000000000000000005\",\"start_time\":1518279577.1234567,"
        "\"end_time\":1518279578,\"namespace\":\"remote\",\"error\":true,"
        "\"annotations\":{\"indicator\":\"true\"},\"metadata\":{\"indicator\":\"true\"},"
        "\"http\":{\"request\":{\"url\":\"pay$ment (v2)/\xc3\xbc\\u0026\\u003cx\\u003e\\t@\\\\\\u000b\\ufffd!:op\"},"
        "\"response\":{}}}");
    /* longer than 190 bytes: cut before "-indicator" */
    char longsvc[301];
    memset(longsvc, 'a', 300);
    longsvc[300] = '\0';
    longsvc[189] = '#';
    longsvc[190] = '%';
    f.sp.service = longsvc;
    f.sp.indicator = false;
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    const char *got = daemon_recv(&d, 2000);
    assert_non_null(got);
    char want[256];
    snprintf(want, sizeof want, "{\"name\":\"%.189s#\",", longsvc);
    assert_memory_equal(got + strlen(HDR), want, strlen(want));
    vn_span_sink_free(s);
    close(d.fd);
}

/* Tags: the last of a repeated key wins; xray_client_ip only in http.request; a malformed or
 * out-of-range status stays in metadata and out of the response; an empty http.url empties
 * the url; a tag named "indicator" is overwritten; "k:v" in annotation_tags means k;
 * strings get Go's escaping. */
static void test_tags_http_escaping(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    static const char *const annot[] = {"region:ignored", "svc", "region", NULL};
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "100", .annot = annot});
    static const char *const tags[] = {"region", "us-1", "region", "eu-2", "xray_client_ip", "10.0.0.9",
                                       "http.status_code", "abc", "http.url", "", "indicator", "yes",
                                       "note", "<a&b>\xff\xe2\x80\xa8\"q\"", "http.method", "GET", NULL};
    span_fixture_t f;
    go_span(&f, tags);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    expect_segment(&d,
        "{\"name\":\"farts-srv\",\"id\":\"0000000000000002\",\"trace_id\":\"1-5a7f1b00-000000003fdd0f60394d200c\","
        "\"parent_id\":\"0000000000000001\",\"start_time\":1518279577,\"end_time\":1518279579,\"namespace\":\"remote\","
        "\"error\":false,\"annotations\":{\"indicator\":\"false\",\"region\":\"eu-2\"},"
        "\"metadata\":{\"http.method\":\"GET\",\"http.status_code\":\"abc\",\"http.url\":\"\",\"indicator\":\"false\","
        "\"note\":\"\\u003ca\\u0026b\\u003e\\ufffd\\u2028\\\"q\\\"\",\"region\":\"eu-2\"},"
        "\"http\":{\"request\":{\"method\":\"GET\",\"client_ip\":\"10.0.0.9\"},\"response\":{}}}");
    /* statuses: Go's Atoi accepts a sign and leading zeros; 100..599 only */
    const char *st[][2] = {{"+0200", "\"status\":200"}, {"599", "\"status\":599"}, {"600", ""}, {"99", ""},
                           {" 200", ""}, {"2e2", ""}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        const char *t2[] = {"http.status_code", st[i][0], NULL};
        go_span(&f, t2);
        assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
        const char *got = daemon_recv(&d, 2000);
        assert_non_null(got);
        char want[64];
        snprintf(want, sizeof want, "\"response\":{%s}}}", st[i][1]);
        assert_string_equal(got + strlen(got) - strlen(want), want);
    }
    vn_span_sink_free(s);
    close(d.fd);
}

static void test_too_large_dropped(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = d.addr, .pct = "100"});
    vn_stats_span_sink_t st = {0};
    s->stats = &st;
    static char big[66000];
    memset(big, 'v', sizeof big - 1);
    const char *tags[] = {"big", big, NULL};
    span_fixture_t f;
    go_span(&f, tags);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_DROPPED);
    /* the largest that fits: header + segment = 65507 bytes */
    go_span(&f, NULL);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    const char *small = daemon_recv(&d, 2000);
    assert_non_null(small);
    size_t base = strlen(small), fit = 65507 - base - strlen(",\"big\":\"\"");
    big[fit] = '\0';
    go_span(&f, tags);
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
    const char *got = daemon_recv(&d, 2000);
    assert_non_null(got);
    assert_int_equal(strlen(got), 65507);
    big[fit] = 'v';
    big[fit + 1] = '\0';
    assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_DROPPED);
    assert_int_equal(vn_stats_get(&st.delivered), 2);
    assert_int_equal(vn_stats_get(&st.delivery_failed), 0);
    vn_span_sink_free(s);
    close(d.fd);
}

/* Nobody listening: the kernel reports the ICMP port unreachable on a later send, which
 * is counted as delivery_failed (Go: spansDropped). */
static void test_send_failure_counted(void **state)
{
    (void)state;
    daemon_sock_t d = daemon_open();
    char addr[64];
    snprintf(addr, sizeof addr, "%s", d.addr);
    close(d.fd);
    vn_span_sink_t *s = must_xray(&(sink_opts_t){.address = addr, .pct = "100"});
    vn_stats_span_sink_t st = {0};
    s->stats = &st;
    span_fixture_t f;
    go_span(&f, NULL);
    for (int i = 0; i < 200 && vn_stats_get(&st.delivery_failed) == 0; i++) {
        assert_int_equal(s->ops->ingest(s, &f.sp), VN_SPAN_TAKEN);
        usleep(1000);
    }
    assert_true(vn_stats_get(&st.delivery_failed) >= 1);
    vn_span_sink_free(s);
}

static void test_config_errors(void **state)
{
    (void)state;
    vn_span_sink_t *s = NULL;
    char err[256];
    assert_int_equal(new_xray(&(sink_opts_t){0}, &s, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "\"address\""));
    assert_int_equal(new_xray(&(sink_opts_t){.address = "nocolon"}, &s, err, sizeof err), VN_ERR_CONFIG);
    assert_int_equal(new_xray(&(sink_opts_t){.address = "127.0.0.1:2000", .pct = "lots"}, &s, err, sizeof err),
                     VN_ERR_CONFIG);
    assert_non_null(strstr(err, "sample_percentage"));
    assert_int_equal(new_xray(&(sink_opts_t){.address = "127.0.0.1:2000", .pct = "nan"}, &s, err, sizeof err),
                     VN_ERR_CONFIG);
    assert_int_equal(new_xray(&(sink_opts_t){.address = "127.0.0.1:2000", .annot_scalar = "a"}, &s, err, sizeof err),
                     VN_ERR_CONFIG);
    assert_non_null(strstr(err, "annotation_tags"));
    assert_int_equal(new_xray(&(sink_opts_t){.address = "127.0.0.1:no-such-service-xyz"}, &s, err, sizeof err),
                     VN_ERR_IO);
    assert_null(s);
    /* an IPv6 literal (VN_ERR_IO only on a host without IPv6) */
    vn_err_t rc = new_xray(&(sink_opts_t){.address = "[::1]:2000"}, &s, err, sizeof err);
    assert_true(rc == VN_OK || rc == VN_ERR_IO);
    vn_span_sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_ingest_spans),
        cmocka_unit_test(test_go_root_start),
        cmocka_unit_test(test_go_http_fields),
        cmocka_unit_test(test_go_sample_spans),
        cmocka_unit_test(test_sampling_threshold_edges),
        cmocka_unit_test(test_invalid_trace_skipped),
        cmocka_unit_test(test_name_ids_times),
        cmocka_unit_test(test_tags_http_escaping),
        cmocka_unit_test(test_too_large_dropped),
        cmocka_unit_test(test_send_failure_counted),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
