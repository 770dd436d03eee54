/*
 * test_kafka_span.c - spansinks/kafka.c: Go's sampling rule (the vectors of Go's
 * sinks/kafka/kafka_test.go TestSpanSampling / TestSpanTagSampling, plus CRC-32
 * values computed here), config errors, and the real producer against
 * librdkafka's mock cluster: spans produced, consumed back and decoded (Go's
 * JSON byte for byte; protobuf unpacked field by field), delivery counted,
 * a full queue and a dead broker counted without blocking, and the [v13] flat
 * keys building the same sink as the span_sinks entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "config/config.h"
#include "core/clock.h"
#include "spansinks/span_sink.h"
#include "ssf.pb-c.h"

#include "../kafka_fixture.h"

#define START_NS 1700000000000000000LL

/* ---------------------------------------------------------------- spans */

typedef struct span {
    Ssf__SSFSpan sp;
    Ssf__SSFSpan__TagsEntry te[4];
    Ssf__SSFSpan__TagsEntry *tags[4];
    Ssf__SSFSample m;
    Ssf__SSFSample__TagsEntry mte;
    Ssf__SSFSample__TagsEntry *mtags[1];
    Ssf__SSFSample *metrics[1];
} span_t;

/* A span with trace id tid and tags "k=v" (up to 4). */
static void span_init(span_t *s, int64_t tid, const char *svc, const char *const *kv, size_t n)
{
    memset(s, 0, sizeof *s);
    s->sp = (Ssf__SSFSpan)SSF__SSFSPAN__INIT;
    s->sp.trace_id = tid;
    s->sp.parent_id = tid;
    s->sp.id = tid + 1;
    s->sp.start_timestamp = START_NS;
    s->sp.end_timestamp = START_NS + 2000000000LL;
    s->sp.service = (char *)svc;
    s->sp.name = "farting farty farts";
    for (size_t i = 0; i < n; i++) {
        s->te[i] = (Ssf__SSFSpan__TagsEntry)SSF__SSFSPAN__TAGS_ENTRY__INIT;
        s->te[i].key = (char *)kv[2 * i];
        s->te[i].value = (char *)kv[2 * i + 1];
        s->tags[i] = &s->te[i];
    }
    s->sp.tags = s->tags;
    s->sp.n_tags = n;
}

/* Adds one sample (a counter "c" = value, tag x:y) to the span. */
static void span_add_metric(span_t *s, float value)
{
    s->m = (Ssf__SSFSample)SSF__SSFSAMPLE__INIT;
    s->m.metric = SSF__SSFSAMPLE__METRIC__COUNTER;
    s->m.name = "c";
    s->m.value = value;
    s->m.sample_rate = 1;
    s->mte = (Ssf__SSFSample__TagsEntry)SSF__SSFSAMPLE__TAGS_ENTRY__INIT;
    s->mte.key = "x";
    s->mte.value = "y";
    s->mtags[0] = &s->mte;
    s->m.tags = s->mtags;
    s->m.n_tags = 1;
    s->metrics[0] = &s->m;
    s->sp.metrics = s->metrics;
    s->sp.n_metrics = 1;
}

/* ---------------------------------------------------------------- config helpers */

static vn_err_t new_sink(kvs_t *k, vn_span_sink_t **out, char *err, size_t cap)
{
    vn_sink_config_t sc = {.kind = "kafka", .name = "ks", .kv = k->kv, .n_kv = k->n};
    return vn_span_sink_new(&sc, NULL, out, err, cap);
}

typedef struct rig {
    vn_span_sink_t *s;
    vn_stats_span_sink_t stats;
} rig_t;

static void rig_new(rig_t *r, kvs_t *k)
{
    char err[512] = "";
    memset(r, 0, sizeof *r);
    if (new_sink(k, &r->s, err, sizeof err) != VN_OK)
        fail_msg("kafka span sink: %s", err);
    r->s->stats = &r->stats;
}

static void flush(rig_t *r, bool final, double within_s)
{
    vn_span_flush_info_t info = {.timestamp = 1700000000, .interval_s = 10,
                                 .deadline_s = vn_clock_mono_s() + within_s, .final = final};
    r->s->ops->flush(r->s, &info);
}

/* Publishes the counters (non-final flushes) until delivered + failed reach n or timeout_s passes. */
static bool wait_reports(rig_t *r, uint64_t n, double timeout_s)
{
    double end = vn_clock_mono_s() + timeout_s;
    for (;;) {
        flush(r, false, 10);
        if (st(&r->stats.delivered) + st(&r->stats.delivery_failed) >= n)
            return true;
        if (vn_clock_mono_s() > end)
            return false;
        usleep(20000);
    }
}

static void dead_broker(kvs_t *k)
{
    char b[64];
    snprintf(b, sizeof b, "broker=127.0.0.1:%d", dead_port());
    kv_add(k, b);
}

/* ---------------------------------------------------------------- sampling */

static vn_span_ingest_rc_t ingest_tid(vn_span_sink_t *s, int64_t tid)
{
    span_t sp;
    span_init(&sp, tid, "farts-srv", NULL, 0);
    return s->ops->ingest(s, &sp.sp);
}

static vn_span_ingest_rc_t ingest_tag(vn_span_sink_t *s, const char *key, const char *value)
{
    span_t sp;
    const char *kv[] = {key, value};
    span_init(&sp, 1, "farts2-srv", kv, 1);
    return s->ops->ingest(s, &sp.sp);
}

static uint32_t crc(const char *s)
{
    return (uint32_t)crc32(0L, (const Bytef *)s, (uInt)strlen(s));
}

static void test_kafka_span__sampling(void **state)
{
    (void)state;
    /* Go's vectors at 50% (threshold uint32(50 * 4294967295 / 100) = 2147483647) */
    assert_true(crc("1") > 2147483647u && crc("3") <= 2147483647u);
    kvs_t k = {.n = 0};
    dead_broker(&k);
    kv_add(&k, "span_topic=spans");
    kv_add(&k, "span_sample_rate_percent=50");
    kv_add(&k, "span_serialization_format=json");
    rig_t r;
    rig_new(&r, &k);
    assert_int_equal(ingest_tid(r.s, 1), VN_SPAN_SKIPPED);
    assert_int_equal(ingest_tid(r.s, 3), VN_SPAN_TAKEN);
    /* a whole range of trace ids: kept exactly when crc32(decimal id) <= threshold */
    char id[24];
    int kept = 0;
    for (int64_t t = -50; t < 1000; t++) {
        snprintf(id, sizeof id, "%lld", (long long)t);
        vn_span_ingest_rc_t want = crc(id) <= 2147483647u ? VN_SPAN_TAKEN : VN_SPAN_SKIPPED;
        assert_int_equal(ingest_tid(r.s, t), want);
        kept += want == VN_SPAN_TAKEN;
    }
    assert_true(kept > 400 && kept < 650); /* about half */
    vn_span_sink_free(r.s);

    /* on a tag's value: Go's TestSpanTagSampling */
    k.n = 0;
    dead_broker(&k);
    kv_add(&k, "span_topic=spans");
    kv_add(&k, "span_sample_rate_percent=50");
    kv_add(&k, "span_sample_tag=baz");
    rig_new(&r, &k);
    assert_int_equal(ingest_tag(r.s, "baz", "farts0"), VN_SPAN_TAKEN);
    assert_int_equal(ingest_tag(r.s, "baz", "farts3"), VN_SPAN_SKIPPED);
    assert_int_equal(ingest_tag(r.s, "baz", "pthbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbt290"),
                     VN_SPAN_SKIPPED);
    assert_int_equal(ingest_tag(r.s, "bar", "qux"), VN_SPAN_SKIPPED); /* without the tag */
    assert_int_equal(ingest_tag(r.s, "baz", ""), VN_SPAN_TAKEN);     /* crc32("") = 0 */
    vn_span_sink_free(r.s);

    /* 100% with a tag: only the tag's presence matters */
    k.n = 0;
    dead_broker(&k);
    kv_add(&k, "span_topic=spans");
    kv_add(&k, "span_sample_rate_percent=100");
    kv_add(&k, "span_sample_tag=baz");
    rig_new(&r, &k);
    assert_int_equal(ingest_tag(r.s, "baz", "farts3"), VN_SPAN_TAKEN);
    assert_int_equal(ingest_tag(r.s, "bar", "qux"), VN_SPAN_SKIPPED);
    vn_span_sink_free(r.s);

    /* 100% without a tag: no sampling at all */
    k.n = 0;
    dead_broker(&k);
    kv_add(&k, "span_topic=spans");
    kv_add(&k, "span_sample_rate_percent=100.0");
    rig_new(&r, &k);
    for (int64_t t = 0; t < 200; t++)
        assert_int_equal(ingest_tid(r.s, t), VN_SPAN_TAKEN);
    vn_span_sink_free(r.s);

    /* absent percent is Go's 0: only keys whose CRC is 0 pass */
    k.n = 0;
    dead_broker(&k);
    kv_add(&k, "span_topic=spans");
    rig_new(&r, &k);
    for (int64_t t = 0; t < 200; t++)
        assert_int_equal(ingest_tid(r.s, t), VN_SPAN_SKIPPED);
    vn_span_sink_free(r.s);
}

/* ---------------------------------------------------------------- config errors */

static void test_kafka_span__config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *kv[4];
        const char *want;
    } cases[] = {
        {{"span_topic=t"}, "config key broker is required"},
        {{"broker=127.0.0.1:1"}, "config key span_topic is required"},
        {{"broker=127.0.0.1:1", "span_topic=t", "span_sample_rate_percent=101"}, "span_sample_rate_percent"},
        {{"broker=127.0.0.1:1", "span_topic=t", "span_sample_rate_percent=-1"}, "span_sample_rate_percent"},
        {{"broker=127.0.0.1:1", "span_topic=t", "span_sample_rate_percent=half"}, "span_sample_rate_percent"},
        {{"broker=127.0.0.1:1", "span_topic=t", "retry_max=lots"}, "config key retry_max"},
        {{"broker=127.0.0.1:1", "span_topic=t", "span_buffer_mesages=-3"}, "config key span_buffer_mesages"},
        {{"broker=127.0.0.1:1", "span_topic=t", "span_buffer_bytes=x"}, "config key span_buffer_bytes"},
        {{"broker=127.0.0.1:1", "span_topic=t", "span_buffer_frequency=5"}, "config key span_buffer_frequency"},
        {{"broker=127.0.0.1:1", "span_topic=t", "librdkafka.no.such.property=1"},
         "config key librdkafka.no.such.property"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvs_t k = {.n = 0};
        for (size_t j = 0; j < 4 && cases[i].kv[j]; j++)
            kv_add(&k, cases[i].kv[j]);
        vn_span_sink_t *s = (vn_span_sink_t *)1;
        char err[512] = "";
        assert_int_equal(new_sink(&k, &s, err, sizeof err), VN_ERR_CONFIG);
        assert_null(s);
        if (!strstr(err, cases[i].want) || !strstr(err, "\"ks\""))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
    }
    /* every key at once is accepted (unknown acks and format only warn, as Go) */
    kvs_t k = {.n = 0};
    static const char *const ok[] = {"broker=127.0.0.1:1,127.0.0.1:2", "span_topic=t", "span_require_acks=bogus",
                                     "partitioner=random", "retry_max=0", "span_buffer_bytes=1000",
                                     "span_buffer_mesages=10", "span_buffer_frequency=50ms",
                                     "span_serialization_format=avro", "span_sample_rate_percent=12.5",
                                     "span_sample_tag=request_id", "span_delivery_timeout=2s",
                                     "librdkafka.client.id=veneur-test"};
    for (size_t j = 0; j < sizeof ok / sizeof ok[0]; j++)
        kv_add(&k, ok[j]);
    vn_span_sink_t *s = NULL;
    char err[512] = "";
    if (new_sink(&k, &s, err, sizeof err) != VN_OK)
        fail_msg("valid config refused: %s", err);
    assert_string_equal(s->ops->kind, "kafka");
    vn_span_sink_free(s);
}

/* ---------------------------------------------------------------- against the mock cluster */

typedef struct msgs {
    char *val[16];
    size_t len[16];
    bool has_key[16];
    size_t n;
} msgs_t;

static void msgs_free(msgs_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->val[i]);
    m->n = 0;
}

/* Reads partition 0 of topic from the start until want messages or timeout_s; then
 * keeps reading briefly so that an unexpected extra message is seen too. */
static void consume(const char *bootstraps, const char *topic, size_t want, msgs_t *out, double timeout_s)
{
    rd_kafka_t *rk = consumer_from_start(bootstraps, topic);
    memset(out, 0, sizeof *out);
    double end = vn_clock_mono_s() + timeout_s, extra_end = 0;
    for (;;) {
        double now = vn_clock_mono_s();
        if (now > end || (extra_end && now > extra_end) || out->n == 16)
            break;
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 50);
        if (msg && !msg->err) {
            out->val[out->n] = malloc(msg->len + 1);
            memcpy(out->val[out->n], msg->payload, msg->len);
            out->val[out->n][msg->len] = '\0';
            out->len[out->n] = msg->len;
            out->has_key[out->n] = msg->key != NULL;
            out->n++;
            if (out->n == want)
                extra_end = vn_clock_mono_s() + 0.3;
        }
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static const char *const TAGS_GOOD[] = {"baz", "farts0", "a", "b\"q"};
static const char *const TAGS_BAD[] = {"baz", "farts3"};

/* Go's encoding/json.Marshal of the span ingested by produce_spans (fields in struct order, omitempty). */
static const char WANT_JSON[] =
    "{\"trace_id\":3,\"id\":4,\"parent_id\":3,\"start_timestamp\":1700000000000000000,"
    "\"end_timestamp\":1700000002000000000,\"error\":true,\"service\":\"farts2-srv\","
    "\"metrics\":[{\"name\":\"c\",\"value\":0.1,\"sample_rate\":1,\"tags\":{\"x\":\"y\"}}],"
    "\"tags\":{\"a\":\"b\\\"q\",\"baz\":\"farts0\"},\"indicator\":true,\"name\":\"farting farty farts\"}";

/* Ingests a kept span (tag baz=farts0), a sampled-out one (farts3) and a second kept one; 2 delivered. */
static void produce_spans(rig_t *r)
{
    span_t good, bad, plain;
    span_init(&good, 3, "farts2-srv", TAGS_GOOD, 2);
    good.sp.error = 1;
    good.sp.indicator = 1;
    span_add_metric(&good, 0.1f);
    span_init(&bad, 5, "farts2-srv", TAGS_BAD, 1);
    span_init(&plain, 7, "plain-srv", TAGS_GOOD, 1);
    assert_int_equal(r->s->ops->ingest(r->s, &good.sp), VN_SPAN_TAKEN);
    assert_int_equal(r->s->ops->ingest(r->s, &bad.sp), VN_SPAN_SKIPPED);
    assert_int_equal(r->s->ops->ingest(r->s, &plain.sp), VN_SPAN_TAKEN);
    double t0 = vn_clock_mono_s();
    flush(r, true, 10); /* final: waits for the deliveries */
    assert_true(vn_clock_mono_s() - t0 < 5);
    assert_int_equal(st(&r->stats.delivered), 2);
    assert_int_equal(st(&r->stats.delivery_failed), 0);
}

static void test_kafka_span__produce_and_consume(void **state)
{
    (void)state;
    static const char *const topics[] = {"spans_json", "spans_pb", "spans_default"};
    cluster_t c;
    cluster_start(&c, topics, 3);

    /* json */
    kvs_t k = {.n = 0};
    kv_add(&k, c.broker_kv);
    kv_add(&k, "span_topic=spans_json");
    kv_add(&k, "span_serialization_format=json");
    kv_add(&k, "span_sample_rate_percent=50");
    kv_add(&k, "span_sample_tag=baz");
    kv_add(&k, "span_buffer_frequency=1ms");
    rig_t r;
    rig_new(&r, &k);
    produce_spans(&r);
    vn_span_sink_free(r.s);
    msgs_t m;
    consume(c.bootstraps, "spans_json", 2, &m, 15);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.val[0], WANT_JSON);
    assert_string_equal(m.val[1], "{\"trace_id\":7,\"id\":8,\"parent_id\":7,\"start_timestamp\":1700000000000000000,"
                                  "\"end_timestamp\":1700000002000000000,\"service\":\"plain-srv\","
                                  "\"tags\":{\"baz\":\"farts0\"},\"name\":\"farting farty farts\"}");
    assert_false(m.has_key[0] || m.has_key[1]); /* Go sets no message key */
    msgs_free(&m);

    /* protobuf, explicit and by default (Go: absent format -> protobuf) */
    static const char *const pb_topics[] = {"spans_pb", "spans_default"};
    for (size_t t = 0; t < 2; t++) {
        k.n = 0;
        kv_add(&k, c.broker_kv);
        char kv[64];
        snprintf(kv, sizeof kv, "span_topic=%s", pb_topics[t]);
        kv_add(&k, kv);
        if (t == 0)
            kv_add(&k, "span_serialization_format=protobuf");
        kv_add(&k, "span_sample_rate_percent=50");
        kv_add(&k, "span_sample_tag=baz");
        rig_new(&r, &k);
        produce_spans(&r);
        vn_span_sink_free(r.s);
        consume(c.bootstraps, pb_topics[t], 2, &m, 15);
        assert_int_equal(m.n, 2);
        Ssf__SSFSpan *sp = ssf__ssfspan__unpack(NULL, m.len[0], (const uint8_t *)m.val[0]);
        assert_non_null(sp);
        assert_int_equal(sp->trace_id, 3);
        assert_int_equal(sp->id, 4);
        assert_int_equal(sp->parent_id, 3);
        assert_int_equal(sp->start_timestamp, START_NS);
        assert_int_equal(sp->end_timestamp, START_NS + 2000000000LL);
        assert_true(sp->error && sp->indicator);
        assert_string_equal(sp->service, "farts2-srv");
        assert_string_equal(sp->name, "farting farty farts");
        assert_int_equal(sp->n_tags, 2);
        assert_string_equal(sp->tags[0]->key, "baz");
        assert_string_equal(sp->tags[0]->value, "farts0");
        assert_string_equal(sp->tags[1]->key, "a");
        assert_string_equal(sp->tags[1]->value, "b\"q");
        assert_int_equal(sp->n_metrics, 1);
        assert_string_equal(sp->metrics[0]->name, "c");
        assert_true(sp->metrics[0]->value == 0.1f);
        assert_int_equal(sp->metrics[0]->metric, SSF__SSFSAMPLE__METRIC__COUNTER);
        ssf__ssfspan__free_unpacked(sp, NULL);
        sp = ssf__ssfspan__unpack(NULL, m.len[1], (const uint8_t *)m.val[1]);
        assert_non_null(sp);
        assert_int_equal(sp->trace_id, 7);
        assert_string_equal(sp->service, "plain-srv");
        ssf__ssfspan__free_unpacked(sp, NULL);
        msgs_free(&m);
    }
    cluster_stop(&c);
}

/* NaN cannot be JSON (Go's json.Marshal fails): dropped in json, carried in protobuf. */
static void test_kafka_span__nan(void **state)
{
    (void)state;
    for (int pb = 0; pb < 2; pb++) {
        kvs_t k = {.n = 0};
        dead_broker(&k);
        kv_add(&k, "span_topic=spans");
        kv_add(&k, "span_sample_rate_percent=100");
        kv_add(&k, pb ? "span_serialization_format=protobuf" : "span_serialization_format=json");
        rig_t r;
        rig_new(&r, &k);
        span_t s;
        span_init(&s, 3, "svc", NULL, 0);
        span_add_metric(&s, NAN);
        assert_int_equal(r.s->ops->ingest(r.s, &s.sp), pb ? VN_SPAN_TAKEN : VN_SPAN_DROPPED);
        s.m.value = 1;
        s.m.sample_rate = INFINITY;
        assert_int_equal(r.s->ops->ingest(r.s, &s.sp), pb ? VN_SPAN_TAKEN : VN_SPAN_DROPPED);
        vn_span_sink_free(r.s);
    }
}

/* A full librdkafka queue drops without blocking; a dead broker fails the queued spans at the
 * final flush's deadline, counted, and shutdown stays bounded. */
static void test_kafka_span__full_queue_and_dead_broker(void **state)
{
    (void)state;
    kvs_t k = {.n = 0};
    dead_broker(&k);
    kv_add(&k, "span_topic=spans");
    kv_add(&k, "span_sample_rate_percent=100");
    kv_add(&k, "span_buffer_mesages=2");
    rig_t r;
    rig_new(&r, &k);
    double t0 = vn_clock_mono_s();
    assert_int_equal(ingest_tid(r.s, 1), VN_SPAN_TAKEN);
    assert_int_equal(ingest_tid(r.s, 2), VN_SPAN_TAKEN);
    assert_int_equal(ingest_tid(r.s, 3), VN_SPAN_DROPPED);
    assert_true(vn_clock_mono_s() - t0 < 1.0);
    t0 = vn_clock_mono_s();
    flush(&r, true, 0.5);
    assert_true(vn_clock_mono_s() - t0 < 2.0);
    assert_true(wait_reports(&r, 2, 5));
    assert_int_equal(st(&r.stats.delivered), 0);
    assert_int_equal(st(&r.stats.delivery_failed), 2);
    t0 = vn_clock_mono_s();
    vn_span_sink_free(r.s);
    assert_true(vn_clock_mono_s() - t0 < 2.0);
}

/* ---------------------------------------------------------------- [v13] flat keys */

static const vn_sink_config_t *only_span_sink(const vn_config_t *c, const char *kind)
{
    const vn_sink_config_t *found = NULL;
    for (size_t i = 0; i < c->n_span_sinks; i++)
        if (strcmp(c->span_sinks[i].kind, kind) == 0) {
            assert_null(found);
            found = &c->span_sinks[i];
        }
    assert_non_null(found);
    return found;
}

static void test_kafka_span__v13_keys(void **state)
{
    (void)state;
    static const char *const topics[] = {"v13spans"};
    cluster_t c;
    cluster_start(&c, topics, 1);
    char v13[1024], v14[1024], err[512] = "";
    snprintf(v13, sizeof v13,
             "ssf_listen_addresses: [\"udp://127.0.0.1:0\"]\n"
             "kafka_broker: \"%s\"\n"
             "kafka_span_topic: v13spans\n"
             "kafka_span_serialization_format: json\n"
             "kafka_span_sample_rate_percent: 50\n"
             "kafka_span_sample_tag: baz\n"
             "kafka_span_require_acks: local\n"
             "kafka_span_buffer_mesages: 1000\n"
             "kafka_span_buffer_bytes: 100000\n"
             "kafka_span_buffer_frequency: 1ms\n"
             "kafka_partitioner: random\n"
             "kafka_retry_max: 2\n",
             c.bootstraps);
    snprintf(v14, sizeof v14,
             "ssf_listen_addresses: [\"udp://127.0.0.1:0\"]\n"
             "span_sinks:\n"
             "  - kind: kafka\n"
             "    name: kafka\n"
             "    config:\n"
             "      broker: \"%s\"\n"
             "      span_topic: v13spans\n"
             "      span_serialization_format: json\n"
             "      span_sample_rate_percent: 50\n"
             "      span_sample_tag: baz\n"
             "      span_require_acks: local\n"
             "      span_buffer_mesages: 1000\n"
             "      span_buffer_bytes: 100000\n"
             "      span_buffer_frequency: 1ms\n"
             "      partitioner: random\n"
             "      retry_max: 2\n",
             c.bootstraps);
    vn_config_t *c13 = NULL, *c14 = NULL;
    if (vn_config_load(v13, strlen(v13), NULL, false, &c13, err, sizeof err) != VN_OK)
        fail_msg("v13 config: %s", err);
    if (vn_config_load(v14, strlen(v14), NULL, false, &c14, err, sizeof err) != VN_OK)
        fail_msg("v14 config: %s", err);
    const vn_sink_config_t *s13 = only_span_sink(c13, "kafka"), *s14 = only_span_sink(c14, "kafka");
    assert_string_equal(s13->name, s14->name);
    /* the same keys with the same values (a v13 key that is absent is simply not set) */
    for (size_t i = 0; i < s14->n_kv; i++) {
        const char *v = vn_sink_config_get(s13, s14->kv[i].key);
        if (!v || strcmp(v, s14->kv[i].value) != 0)
            fail_msg("v13 %s = %s, v14 %s", s14->kv[i].key, v ? v : "(absent)", s14->kv[i].value);
    }
    for (size_t i = 0; i < s13->n_kv; i++) {
        const char *v = s13->kv[i].value;
        if (v && *v && !vn_sink_config_get(s14, s13->kv[i].key))
            fail_msg("v13 has %s = %s, v14 has none", s13->kv[i].key, v);
    }
    /* and it builds a working sink: json, sampled on tag baz at 50% */
    rig_t r;
    memset(&r, 0, sizeof r);
    if (vn_span_sink_new(s13, c13, &r.s, err, sizeof err) != VN_OK)
        fail_msg("v13 kafka span sink: %s", err);
    r.s->stats = &r.stats;
    assert_string_equal(r.s->kind, "kafka");
    produce_spans(&r);
    vn_span_sink_free(r.s);
    msgs_t m;
    consume(c.bootstraps, "v13spans", 2, &m, 15);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.val[0], WANT_JSON);
    msgs_free(&m);
    vn_config_free(c13);
    vn_config_free(c14);
    cluster_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_span__sampling),
        cmocka_unit_test(test_kafka_span__config_errors),
        cmocka_unit_test(test_kafka_span__nan),
        cmocka_unit_test(test_kafka_span__produce_and_consume),
        cmocka_unit_test(test_kafka_span__full_queue_and_dead_broker),
        cmocka_unit_test(test_kafka_span__v13_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
