/* Unit tests for spansinks: the Go JSON span encoder, the registry, and the runner
 * (queue bound, drop counting, drain and final flush at stop, flush cadence). */
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
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "spansinks/runner.h"
#include "spansinks/span_sink_internal.h"

/* ---- span builders ---- */

typedef struct {
    Ssf__SSFSpan span;
    Ssf__SSFSpan__TagsEntry te[4], *tp[4];
    Ssf__SSFSample sm[2], *sp[2];
    Ssf__SSFSample__TagsEntry ste[2], *stp[2];
} span_fix_t;

static void fix_init(span_fix_t *f)
{
    memset(f, 0, sizeof *f);
    ssf__ssfspan__init(&f->span);
    f->span.trace_id = 10;
    f->span.id = 11;
    f->span.parent_id = 10;
    f->span.start_timestamp = 1700000000000000000LL;
    f->span.end_timestamp = 1700000000000001500LL;
    f->span.service = "svc";
    f->span.name = "op";
    const char *kv[][2] = {{"zeta", "1"}, {"alpha", "a\"b"}, {"zeta", "2"}, {"secret_x", "s"}};
    for (int i = 0; i < 4; i++) {
        ssf__ssfspan__tags_entry__init(&f->te[i]);
        f->te[i].key = (char *)kv[i][0];
        f->te[i].value = (char *)kv[i][1];
        f->tp[i] = &f->te[i];
    }
    f->span.tags = f->tp;
    f->span.n_tags = 4;
    for (int i = 0; i < 2; i++) {
        ssf__ssfsample__init(&f->sm[i]);
        f->sp[i] = &f->sm[i];
    }
    f->sm[0].metric = SSF__SSFSAMPLE__METRIC__COUNTER;
    f->sm[0].name = "c";
    f->sm[0].value = 0.1f;
    f->sm[0].sample_rate = 1;
    ssf__ssfsample__tags_entry__init(&f->ste[0]);
    f->ste[0].key = "k";
    f->ste[0].value = "v";
    f->stp[0] = &f->ste[0];
    f->sm[0].tags = f->stp;
    f->sm[0].n_tags = 1;
    f->sm[1].metric = SSF__SSFSAMPLE__METRIC__HISTOGRAM;
    f->sm[1].name = "h";
    f->sm[1].value = 16777216.0f;
    f->sm[1].sample_rate = 0.5f;
    f->sm[1].unit = "ms";
    f->sm[1].scope = SSF__SSFSAMPLE__SCOPE__GLOBAL;
    f->span.metrics = f->sp;
    f->span.n_metrics = 2;
}

static void test_json__go_layout(void **state)
{
    (void)state;
    span_fix_t f;
    fix_init(&f);
    vn_buf_t b;
    vn_buf_init(&b, 1 << 16);
    assert_int_equal(vn_span_json_write(&b, &f.span, NULL), VN_OK);
    vn_buf_add_byte(&b, 0);
    /* Go json.Marshal(*ssf.SSFSpan): omitempty, map keys sorted, a repeated map key keeps the
     * last value, float32 in its shortest float32 digits (0.1, not 0.10000000149011612) */
    assert_string_equal(vn_buf_ptr(&b),
                        "{\"trace_id\":10,\"id\":11,\"parent_id\":10,\"start_timestamp\":1700000000000000000,"
                        "\"end_timestamp\":1700000000000001500,\"service\":\"svc\",\"metrics\":["
                        "{\"name\":\"c\",\"value\":0.1,\"sample_rate\":1,\"tags\":{\"k\":\"v\"}},"
                        "{\"metric\":2,\"name\":\"h\",\"value\":16777216,\"sample_rate\":0.5,\"unit\":\"ms\",\"scope\":2}],"
                        "\"tags\":{\"alpha\":\"a\\\"b\",\"secret_x\":\"s\",\"zeta\":\"2\"},\"name\":\"op\"}");
    /* an empty span is {} */
    Ssf__SSFSpan empty;
    ssf__ssfspan__init(&empty);
    vn_buf_reset(&b);
    assert_int_equal(vn_span_json_write(&b, &empty, NULL), VN_OK);
    assert_int_equal(vn_buf_len(&b), 2);
    /* a full buffer is an error, never an overrun */
    vn_buf_t small;
    vn_buf_init(&small, 40);
    assert_int_not_equal(vn_span_json_write(&small, &f.span, NULL), VN_OK);
    assert_true(vn_buf_len(&small) <= 40);
    vn_buf_free(&small);
    vn_buf_free(&b);
}

static void test_json__float32_forms(void **state)
{
    (void)state;
    struct {
        float f;
        const char *want;
    } v[] = {{0.1f, "0.1"},         {1.0f, "1"},         {-2.5f, "-2.5"},          {1e-7f, "1e-7"},
             {1e21f, "1e+21"},      {123456789.0f, "123456790"}, {3.4028235e38f, "3.4028235e+38"},
             {0.000001f, "0.000001"}, {1.5e-6f, "0.0000015"}, {100.0f, "100"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[48];
        vn_span_json_float32(v[i].f, out, sizeof out);
        assert_string_equal(out, v[i].want);
    }
}

static void test_registry__kinds_and_excludes(void **state)
{
    (void)state;
    vn_config_t *cfg = NULL;
    char err[256];
    const char *y = "tags_exclude: [secret, \"zeta|other\"]\n"
                    "span_sinks:\n  - kind: localfile\n    name: lf\n    config: {flush_file: /dev/null}\n"
                    "  - kind: nosuch\n  - kind: localfile\n    name: bad\n";
    assert_int_equal(vn_config_load(y, strlen(y), NULL, false, &cfg, err, sizeof err), VN_OK);
    assert_int_equal(cfg->n_span_sinks, 3);
    vn_span_sink_t *s = NULL;
    assert_int_equal(vn_span_sink_new(&cfg->span_sinks[0], cfg, &s, err, sizeof err), VN_OK);
    assert_string_equal(s->kind, "localfile");
    assert_true(vn_span_sink_tag_excluded(s, "secret_x"));
    assert_false(vn_span_sink_tag_excluded(s, "zeta")); /* rule for another sink */
    /* excluded tags leave the JSON */
    span_fix_t f;
    fix_init(&f);
    vn_buf_t b;
    vn_buf_init(&b, 1 << 16);
    assert_int_equal(vn_span_json_write(&b, &f.span, s), VN_OK);
    vn_buf_add_byte(&b, 0);
    assert_null(strstr(vn_buf_ptr(&b), "secret_x"));
    assert_non_null(strstr(vn_buf_ptr(&b), "\"zeta\":\"2\""));
    vn_buf_free(&b);
    vn_span_sink_free(s);
    s = (vn_span_sink_t *)1;
    assert_int_equal(vn_span_sink_new(&cfg->span_sinks[1], cfg, &s, err, sizeof err), VN_ERR_NOTFOUND);
    assert_null(s);
    assert_int_equal(vn_span_sink_new(&cfg->span_sinks[2], cfg, &s, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "flush_file"));
    vn_config_free(cfg);
}

static void test_config__v13_span_keys(void **state)
{
    (void)state;
    vn_config_t *cfg = NULL;
    char err[256];
    /* v13 creates span sinks only with an SSF listener; debug_ingested_spans adds the debug sink */
    const char *y = "ssf_listen_addresses: [\"udp://127.0.0.1:0\"]\ndebug_ingested_spans: true\n"
                    "xray_address: 127.0.0.1:2000\nxray_annotation_tags: [a, b]\nxray_sample_percentage: 50\n"
                    "kafka_broker: k:9092\nkafka_span_topic: spans\nkafka_span_serialization_format: protobuf\n";
    assert_int_equal(vn_config_load(y, strlen(y), NULL, false, &cfg, err, sizeof err), VN_OK);
    assert_int_equal(cfg->n_span_sinks, 3);
    assert_string_equal(cfg->span_sinks[0].kind, "xray");
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[0], "address"), "127.0.0.1:2000");
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[0], "sample_percentage"), "50");
    assert_int_equal(vn_sink_config_list(&cfg->span_sinks[0], "annotation_tags")->n, 2);
    assert_string_equal(cfg->span_sinks[1].kind, "kafka");
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[1], "broker"), "k:9092");
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[1], "span_topic"), "spans");
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[1], "span_serialization_format"), "protobuf");
    assert_string_equal(cfg->span_sinks[2].kind, "debug");
    vn_config_free(cfg);
    /* without an SSF listener: no span sink (Go v13) */
    const char *y2 = "xray_address: 127.0.0.1:2000\n";
    assert_int_equal(vn_config_load(y2, strlen(y2), NULL, false, &cfg, err, sizeof err), VN_OK);
    assert_int_equal(cfg->n_span_sinks, 0);
    vn_config_free(cfg);
    /* splunk needs both address and token */
    const char *y3 = "ssf_listen_addresses: [\"udp://127.0.0.1:0\"]\nsplunk_hec_address: http://x\n";
    assert_int_equal(vn_config_load(y3, strlen(y3), NULL, false, &cfg, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "splunk_hec_token"));
}

static void test_config__span_sink_env(void **state)
{
    (void)state;
    vn_config_t *cfg = NULL;
    char err[256];
    /* Go runs envconfig over each span sink's config with the sink name as prefix */
    const char *y = "span_sinks:\n  - kind: xray\n    name: xr\n    config: {address: \"a:1\"}\n"
                    "  - kind: localfile\n    name: lf\n";
    char *env[] = {"XR_ADDRESS=b:2", "XR_SAMPLEPERCENTAGE=25", "LF_FLUSHFILE=/tmp/x.jsonl", "XR_METRICTOPIC=no", NULL};
    assert_int_equal(vn_config_load(y, strlen(y), env, false, &cfg, err, sizeof err), VN_OK);
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[0], "address"), "b:2");
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[0], "sample_percentage"), "25");
    assert_null(vn_sink_config_get(&cfg->span_sinks[0], "metric_topic"));
    assert_string_equal(vn_sink_config_get(&cfg->span_sinks[1], "flush_file"), "/tmp/x.jsonl");
    assert_null(vn_sink_config_get(&cfg->span_sinks[1], "format")); /* a metric localfile key */
    vn_config_free(cfg);
}

/* ---- a recording span sink for the runner ---- */

typedef struct {
    pthread_mutex_t mu;
    int64_t ids[4096];
    size_t n;
    int flushes, finals;
    double block_s; /* ingest sleeps this long (a slow sink) */
    bool take_all;
} rec_t;

static vn_span_ingest_rc_t rec_ingest(vn_span_sink_t *s, const Ssf__SSFSpan *span)
{
    rec_t *r = s->impl;
    if (r->block_s > 0) {
        struct timespec ts = {0, (long)(r->block_s * 1e9)};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&r->mu);
    if (r->n < 4096)
        r->ids[r->n++] = span->id;
    pthread_mutex_unlock(&r->mu);
    return span->id % 2 == 0 || r->take_all ? VN_SPAN_TAKEN : VN_SPAN_SKIPPED;
}

static void rec_flush(vn_span_sink_t *s, const vn_span_flush_info_t *info)
{
    rec_t *r = s->impl;
    pthread_mutex_lock(&r->mu);
    r->flushes++;
    r->finals += info->final;
    pthread_mutex_unlock(&r->mu);
}

static void rec_destroy(vn_span_sink_t *s) { (void)s; }

static const vn_span_sink_ops_t rec_ops = {"rec", rec_ingest, rec_flush, rec_destroy};

static vn_span_sink_t *rec_sink(rec_t *r, const char *name)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    vn_span_sink_t *s = vn_xcalloc(1, sizeof *s);
    s->ops = &rec_ops;
    s->name = vn_xstrdup(name);
    s->kind = "rec";
    s->impl = r;
    return s;
}

static size_t pack_span(int64_t id, uint8_t *out, size_t cap)
{
    Ssf__SSFSpan sp;
    ssf__ssfspan__init(&sp);
    sp.id = id;
    sp.trace_id = 1;
    sp.start_timestamp = 1;
    sp.end_timestamp = 2;
    sp.name = "n";
    assert_true(ssf__ssfspan__get_packed_size(&sp) <= cap);
    return ssf__ssfspan__pack(&sp, out);
}

static void test_runner__delivers_in_order_and_drains_at_stop(void **state)
{
    (void)state;
    rec_t a, b;
    vn_span_sink_t *v[2] = {rec_sink(&a, "a"), rec_sink(&b, "b")};
    vn_stats_t *st = vn_xcalloc(1, sizeof *st);
    vn_span_sinks_t *set = vn_span_sinks_from(v, 2, 1024, 3600, 0, st);
    assert_int_equal(vn_span_sinks_count(set), 2);
    assert_int_equal(vn_span_sinks_start(set), VN_OK);
    uint8_t buf[256];
    for (int64_t i = 1; i <= 1000; i++) {
        size_t n = pack_span(i, buf, sizeof buf);
        vn_span_sinks_offer(set, buf, n);
    }
    vn_span_sinks_stop(set, vn_clock_mono_s() + 5);
    for (rec_t *r = &a; r; r = r == &a ? &b : NULL) {
        assert_int_equal(r->n, 1000);
        for (size_t i = 0; i < r->n; i++)
            assert_int_equal(r->ids[i], (int64_t)i + 1);
        assert_int_equal(r->finals, 1); /* one final flush, none periodic in an hour's interval */
        assert_int_equal(r->flushes, 1);
    }
    assert_int_equal(st->n_span_sinks, 2);
    assert_string_equal(st->span_sinks[1].name, "b");
    assert_int_equal(vn_stats_get(&st->span_sinks[0].queued), 1000);
    assert_int_equal(vn_stats_get(&st->span_sinks[0].ingested), 500);
    assert_int_equal(vn_stats_get(&st->span_sinks[0].skipped), 500);
    assert_int_equal(vn_stats_get(&st->span_sinks[0].queue_dropped), 0);
    assert_int_equal(vn_stats_get(&st->span_sinks[0].queue_bytes), 0);
    vn_span_sinks_free(set);
    free(st);
}

static void test_runner__slow_sink_drops_only_its_own(void **state)
{
    (void)state;
    rec_t slow, fast;
    vn_span_sink_t *v[2] = {rec_sink(&slow, "slow"), rec_sink(&fast, "fast")};
    slow.block_s = 0.002;
    fast.take_all = slow.take_all = true;
    vn_stats_t *st = vn_xcalloc(1, sizeof *st);
    /* 2 KiB per queue: ~80 spans fit */
    vn_span_sinks_t *set = vn_span_sinks_from(v, 2, 1024, 3600, 2048, st);
    assert_int_equal(vn_span_sinks_start(set), VN_OK);
    uint8_t buf[256];
    double t0 = vn_clock_mono_s();
    for (int64_t i = 1; i <= 2000; i++) {
        size_t n = pack_span(i, buf, sizeof buf);
        vn_span_sinks_offer(set, buf, n);
        if (i % 50 == 0)
            usleep(100); /* let the fast sink keep up */
    }
    double offer_s = vn_clock_mono_s() - t0;
    /* offering never waited for the slow sink (2000 spans x 2 ms = 4 s if it had) */
    assert_true(offer_s < 2.0);
    uint64_t slow_drop = vn_stats_get(&st->span_sinks[0].queue_dropped);
    assert_true(slow_drop > 1000);
    vn_span_sinks_stop(set, vn_clock_mono_s() + 30);
    assert_int_equal(slow.n + slow_drop, 2000); /* every span either delivered or counted */
    assert_int_equal(fast.n + vn_stats_get(&st->span_sinks[1].queue_dropped), 2000);
    assert_true(fast.n > slow.n);
    vn_span_sinks_free(set);
    free(st);
}

static void test_runner__periodic_flush_and_oversize(void **state)
{
    (void)state;
    rec_t a;
    vn_span_sink_t *v[1] = {rec_sink(&a, "a")};
    vn_span_sinks_t *set = vn_span_sinks_from(v, 1, 64, 0.05, 0, NULL);
    assert_int_equal(vn_span_sinks_start(set), VN_OK);
    uint8_t big[128] = {0};
    vn_span_sinks_offer(set, big, sizeof big); /* over max_span: dropped, never copied */
    double until = vn_clock_mono_s() + 5;
    int f = 0;
    while (vn_clock_mono_s() < until) {
        pthread_mutex_lock(&a.mu);
        f = a.flushes;
        pthread_mutex_unlock(&a.mu);
        if (f >= 3)
            break;
        usleep(10000);
    }
    assert_true(f >= 3);
    vn_span_sinks_stop(set, vn_clock_mono_s() + 5);
    assert_int_equal(a.n, 0);
    assert_int_equal(a.finals, 1);
    vn_span_sinks_free(set);
    vn_span_sinks_stop(NULL, 0);
    vn_span_sinks_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__go_layout),
        cmocka_unit_test(test_json__float32_forms),
        cmocka_unit_test(test_registry__kinds_and_excludes),
        cmocka_unit_test(test_config__v13_span_keys),
        cmocka_unit_test(test_config__span_sink_env),
        cmocka_unit_test(test_runner__delivers_in_order_and_drains_at_stop),
        cmocka_unit_test(test_runner__slow_sink_drops_only_its_own),
        cmocka_unit_test(test_runner__periodic_flush_and_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
