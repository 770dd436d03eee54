/*
 * test_kafka.c - sinks/kafka*: message encoding (Go's InterMetric JSON byte for
 * byte; protobuf decoded with the protobuf-c code from proto/intermetric.proto),
 * config errors, and the real librdkafka producer against librdkafka's
 * built-in mock cluster: produce a flush, consume it back with an rdkafka
 * consumer and compare the bytes; broker errors injected with
 * rd_kafka_mock_push_request_errors are counted, not fatal; a full queue is a
 * counted drop and never blocks; an unreachable broker is counted and does not
 * hold up shutdown.
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

#include "core/stats.h"
#include "intermetric.pb-c.h"
#include "sinks/kafka_internal.h"

#include "../kafka_fixture.h"

#define TS 1700000000
#define PRODUCE_API_KEY 0 /* Kafka protocol ApiKey of Produce requests */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- encoding */

static const char *const TAGS2[] = {"env:prod", "role:web"};
static const char *const TAGS_ODD[] = {"q:\"x\"\\", "u:caf\xc3\xa9", "z:a<b"};

static void test_kafka__json(void **state)
{
    (void)state;
    static const struct {
        vn_inter_metric_t m;
        const char *want;
    } cases[] = {
        {{.name = "a.b", .timestamp = TS, .value = 3, .tags = TAGS2, .ntags = 2, .type = VN_IM_COUNTER,
          .hostname = "testhost"},
         "{\"Name\":\"a.b\",\"Timestamp\":1700000000,\"Value\":3,\"Tags\":[\"env:prod\",\"role:web\"],\"Type\":0,"
         "\"Message\":\"\",\"HostName\":\"\",\"Sinks\":null}"},
        {{.name = "g", .timestamp = TS, .value = 0.1, .type = VN_IM_GAUGE, .hostname = "h"},
         "{\"Name\":\"g\",\"Timestamp\":1700000000,\"Value\":0.1,\"Tags\":[],\"Type\":1,\"Message\":\"\","
         "\"HostName\":\"\",\"Sinks\":null}"},
        /* Go's float64 text: exponent at 1e21 and below 1e-6 */
        {{.name = "big", .timestamp = TS, .value = 1e21, .type = VN_IM_GAUGE},
         "{\"Name\":\"big\",\"Timestamp\":1700000000,\"Value\":1e+21,\"Tags\":[],\"Type\":1,\"Message\":\"\","
         "\"HostName\":\"\",\"Sinks\":null}"},
        {{.name = "small", .timestamp = TS, .value = -1.5e-7, .type = VN_IM_GAUGE},
         "{\"Name\":\"small\",\"Timestamp\":1700000000,\"Value\":-1.5e-7,\"Tags\":[],\"Type\":1,\"Message\":\"\","
         "\"HostName\":\"\",\"Sinks\":null}"},
        /* service check: message and its host */
        {{.name = "db.up", .timestamp = TS, .value = 2, .type = VN_IM_STATUS, .message = "disk \"full\"\n",
          .hostname = "db1"},
         "{\"Name\":\"db.up\",\"Timestamp\":1700000000,\"Value\":2,\"Tags\":[],\"Type\":2,"
         "\"Message\":\"disk \\\"full\\\"\\n\",\"HostName\":\"db1\",\"Sinks\":null}"},
        /* veneursinkonly target: Go's RouteInformation map */
        {{.name = "r", .timestamp = TS, .value = 1, .type = VN_IM_GAUGE, .sink_only = "kafka1"},
         "{\"Name\":\"r\",\"Timestamp\":1700000000,\"Value\":1,\"Tags\":[],\"Type\":1,\"Message\":\"\","
         "\"HostName\":\"\",\"Sinks\":{\"kafka1\":{}}}"},
        /* escaping; UTF-8 passes; no HTML escaping (Go would write \u003c) */
        {{.name = "e", .timestamp = TS, .value = 1, .tags = TAGS_ODD, .ntags = 3, .type = VN_IM_GAUGE},
         "{\"Name\":\"e\",\"Timestamp\":1700000000,\"Value\":1,\"Tags\":[\"q:\\\"x\\\"\\\\\",\"u:caf\xc3\xa9\","
         "\"z:a<b\"],\"Type\":1,\"Message\":\"\",\"HostName\":\"\",\"Sinks\":null}"},
    };
    vn_sink_t s = {.name = "kafka1"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_buf_t b = VN_BUF_INIT(4096);
        assert_int_equal(vn_kafka__encode(&b, VN_KAFKA_JSON, &s, &cases[i].m), VN_OK);
        if (strcmp(vn_buf_ptr(&b), cases[i].want) != 0)
            fail_msg("case %zu:\n got %s\nwant %s", i, vn_buf_ptr(&b), cases[i].want);
        vn_buf_free(&b);
    }
    /* NaN/Inf: Go's json.Marshal fails; only that metric is refused */
    vn_inter_metric_t nan = {.name = "n", .value = NAN}, inf = {.name = "n", .value = -INFINITY};
    vn_buf_t b = VN_BUF_INIT(4096);
    assert_int_equal(vn_kafka__encode(&b, VN_KAFKA_JSON, &s, &nan), VN_ERR_PARSE);
    assert_int_equal(vn_kafka__encode(&b, VN_KAFKA_JSON, &s, &inf), VN_ERR_PARSE);
    assert_int_equal(vn_buf_len(&b), 0);
    /* excluded tags are left out */
    const char *rules[] = {"env"};
    vn_sink_t ex = {.name = "k", .excluded_tags = rules, .n_excluded_tags = 1};
    vn_inter_metric_t m = {.name = "x", .timestamp = 1, .value = 1, .tags = TAGS2, .ntags = 2};
    assert_int_equal(vn_kafka__encode(&b, VN_KAFKA_JSON, &ex, &m), VN_OK);
    assert_non_null(strstr(vn_buf_ptr(&b), "\"Tags\":[\"role:web\"]"));
    /* too large for the buffer */
    vn_buf_t tiny = VN_BUF_INIT(10);
    assert_int_equal(vn_kafka__encode(&tiny, VN_KAFKA_JSON, &s, &m), VN_ERR_TOO_LARGE);
    vn_buf_free(&tiny);
    vn_buf_free(&b);
}

static void test_kafka__protobuf(void **state)
{
    (void)state;
    vn_sink_t s = {.name = "k"};
    /* the example in kafka_encode.c's header comment */
    vn_inter_metric_t c = {.name = "a.b", .timestamp = TS, .value = 3, .type = VN_IM_COUNTER, .hostname = "h"};
    vn_buf_t b = VN_BUF_INIT(4096);
    assert_int_equal(vn_kafka__encode(&b, VN_KAFKA_PROTOBUF, &s, &c), VN_OK);
    static const unsigned char want[] = {0x0a, 0x03, 'a', '.', 'b', 0x10, 0x80, 0xe2, 0xcf, 0xaa, 0x06,
                                         0x19, 0,    0,   0,   0,   0,    0,    0x08, 0x40};
    assert_int_equal(vn_buf_len(&b), sizeof want);
    assert_memory_equal(vn_buf_ptr(&b), want, sizeof want);

    const char *rules[] = {"env"};
    vn_sink_t ex = {.name = "k", .excluded_tags = rules, .n_excluded_tags = 1};
    vn_inter_metric_t st_m = {.name = "db.up", .timestamp = TS, .value = 2, .tags = TAGS2, .ntags = 2,
                              .type = VN_IM_STATUS, .message = "m", .hostname = "db1", .sink_only = "k"};
    vn_buf_reset(&b);
    assert_int_equal(vn_kafka__encode(&b, VN_KAFKA_PROTOBUF, &ex, &st_m), VN_OK);
    Veneurc__InterMetric *im =
        veneurc__inter_metric__unpack(NULL, vn_buf_len(&b), (const uint8_t *)vn_buf_ptr(&b));
    assert_non_null(im);
    assert_string_equal(im->name, "db.up");
    assert_int_equal(im->timestamp, TS);
    assert_true(im->value == 2);
    assert_int_equal(im->n_tags, 1);
    assert_string_equal(im->tags[0], "role:web");
    assert_int_equal(im->type, VENEURC__INTER_METRIC__TYPE__STATUS);
    assert_string_equal(im->message, "m");
    assert_string_equal(im->host_name, "db1");
    assert_int_equal(im->n_sinks, 1);
    assert_string_equal(im->sinks[0], "k");
    veneurc__inter_metric__free_unpacked(im, NULL);

    /* a gauge: HostName empty as in Go, NaN carried as is */
    vn_inter_metric_t g = {.name = "g", .timestamp = TS, .value = NAN, .type = VN_IM_GAUGE, .hostname = "h"};
    vn_buf_reset(&b);
    assert_int_equal(vn_kafka__encode(&b, VN_KAFKA_PROTOBUF, &s, &g), VN_OK);
    im = veneurc__inter_metric__unpack(NULL, vn_buf_len(&b), (const uint8_t *)vn_buf_ptr(&b));
    assert_non_null(im);
    assert_true(isnan(im->value));
    assert_int_equal(im->type, VENEURC__INTER_METRIC__TYPE__GAUGE);
    assert_string_equal(im->host_name, "");
    assert_int_equal(im->n_sinks, 0);
    veneurc__inter_metric__free_unpacked(im, NULL);
    vn_buf_free(&b);
}

/* ---------------------------------------------------------------- config */

static vn_err_t new_sink(kvs_t *k, vn_sink_t **out, char *err, size_t cap)
{
    vn_sink_config_t sc = {.kind = "kafka", .name = "k1", .kv = k->kv, .n_kv = k->n};
    return vn_sink_new(&sc, NULL, out, err, cap);
}

static void test_kafka__config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *kv[4];
        const char *want;
    } cases[] = {
        {{"metric_topic=t"}, "config key broker is required"},
        {{"broker=127.0.0.1:1", "check_topic=c"}, "config key metric_topic is required"},
        {{"broker=127.0.0.1:1", "metric_topic=t", "serialization_format=avro"}, "config key serialization_format"},
        {{"broker=127.0.0.1:1", "metric_topic=t", "retry_max=lots"}, "config key retry_max"},
        {{"broker=127.0.0.1:1", "metric_topic=t", "metric_buffer_frequency=5"}, "config key metric_buffer_frequency"},
        {{"broker=127.0.0.1:1", "metric_topic=t", "metric_buffer_messages=-3"}, "config key metric_buffer_messages"},
        {{"broker=127.0.0.1:1", "metric_topic=t", "librdkafka.no.such.property=1"},
         "config key librdkafka.no.such.property"},
        {{"broker=127.0.0.1:1", "metric_topic=t", "metric_delivery_timeout=-1s"}, "config key metric_delivery_timeout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvs_t k = {.n = 0};
        for (size_t j = 0; j < 4 && cases[i].kv[j]; j++)
            kv_add(&k, cases[i].kv[j]);
        vn_sink_t *s = (vn_sink_t *)1;
        char err[512] = "";
        assert_int_equal(new_sink(&k, &s, err, sizeof err), VN_ERR_CONFIG);
        assert_null(s);
        if (!strstr(err, cases[i].want) || !strstr(err, "\"k1\""))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
    }
    /* every documented key at once is accepted (unknown acks only warn) */
    kvs_t k = {.n = 0};
    static const char *const ok[] = {"broker=127.0.0.1:1,127.0.0.1:2", "metric_topic=t", "metric_require_acks=bogus",
                                     "partitioner=random", "retry_max=0", "metric_buffer_bytes=1000",
                                     "metric_buffer_messages=10", "metric_buffer_frequency=50ms",
                                     "serialization_format=protobuf", "metric_delivery_timeout=2s",
                                     "librdkafka.client.id=veneur-test", "check_topic=c"};
    for (size_t j = 0; j < sizeof ok / sizeof ok[0]; j++)
        kv_add(&k, ok[j]);
    vn_sink_t *s = NULL;
    char err[512] = "";
    if (new_sink(&k, &s, err, sizeof err) != VN_OK)
        fail_msg("valid config refused: %s", err);
    assert_string_equal(s->ops->kind, "kafka");
    vn_sink_free(s);
}

/* ---------------------------------------------------------------- against the mock cluster */

/* Reads up to want messages of partition 0 from the start, within timeout_s. */
static size_t consume(const char *bootstraps, const char *topic, size_t want, char **payloads, size_t *lens,
                      double timeout_s)
{
    rd_kafka_t *rk = consumer_from_start(bootstraps, topic);
    size_t got = 0;
    double end = now_s() + timeout_s;
    while (got < want && now_s() < end) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg)
            continue;
        if (!msg->err) {
            payloads[got] = malloc(msg->len + 1);
            memcpy(payloads[got], msg->payload, msg->len);
            payloads[got][msg->len] = '\0';
            lens[got++] = msg->len;
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

typedef struct rig {
    vn_sink_t *s;
    vn_stats_sink_t stats;
} rig_t;

static void rig_new(rig_t *r, kvs_t *k)
{
    char err[512] = "";
    memset(r, 0, sizeof *r);
    if (new_sink(k, &r->s, err, sizeof err) != VN_OK)
        fail_msg("kafka sink: %s", err);
    r->s->stats = &r->stats;
}

static vn_flush_info_t info_now(void)
{
    return (vn_flush_info_t){.timestamp = TS, .interval_s = 10, .hostname = "testhost", .deadline_s = now_s() + 10};
}

/* Publishes the sink's counters (an empty flush) until cond holds or timeout_s passes. */
static bool wait_stats(rig_t *r, uint64_t delivered_min, uint64_t failed_min, uint64_t terr_min, double timeout_s)
{
    double end = now_s() + timeout_s;
    vn_flush_info_t info = info_now();
    for (;;) {
        r->s->ops->flush(r->s, NULL, 0, &info);
        if (st(&r->stats.delivered) >= delivered_min && st(&r->stats.delivery_failed) >= failed_min &&
            st(&r->stats.transport_errors) >= terr_min)
            return true;
        if (now_s() > end)
            return false;
        usleep(20000);
    }
}

static void test_kafka__produce_and_consume(void **state)
{
    (void)state;
    cluster_t c;
    static const char *const topics[] = {"metrics"};
    cluster_start(&c, topics, 1);
    rd_kafka_mock_topic_create(c.mc, "metrics_pb", 1, 1);
    kvs_t k = {.n = 0};
    char broker[300];
    snprintf(broker, sizeof broker, "broker=%s", c.bootstraps);
    kv_add(&k, broker);
    kv_add(&k, "metric_topic=metrics");
    kv_add(&k, "metric_buffer_frequency=1ms");
    rig_t r;
    rig_new(&r, &k);

    vn_inter_metric_t m[] = {
        {.name = "api.hits", .timestamp = TS, .value = 42, .tags = TAGS2, .ntags = 2, .type = VN_IM_COUNTER,
         .hostname = "testhost"},
        {.name = "mem.used", .timestamp = TS, .value = 0.25, .type = VN_IM_GAUGE, .hostname = "testhost"},
        {.name = "not.mine", .timestamp = TS, .value = 1, .type = VN_IM_GAUGE, .sink_only = "other"},
        {.name = "db.up", .timestamp = TS, .value = 1, .type = VN_IM_STATUS, .message = "slow", .hostname = "db1"},
    };
    vn_flush_info_t info = info_now();
    double t0 = now_s();
    assert_int_equal(r.s->ops->flush(r.s, m, 4, &info), VN_OK);
    assert_true(now_s() - t0 < 1.0); /* produce never waits for the broker */
    assert_true(wait_stats(&r, 3, 0, 0, 10));
    assert_int_equal(st(&r.stats.delivered), 3);
    assert_int_equal(st(&r.stats.delivery_failed) + st(&r.stats.dropped), 0);

    char *got[8];
    size_t lens[8];
    size_t n = consume(c.bootstraps, "metrics", 3, got, lens, 15);
    assert_int_equal(n, 3);
    static const char *const want[] = {
        "{\"Name\":\"api.hits\",\"Timestamp\":1700000000,\"Value\":42,\"Tags\":[\"env:prod\",\"role:web\"],"
        "\"Type\":0,\"Message\":\"\",\"HostName\":\"\",\"Sinks\":null}",
        "{\"Name\":\"mem.used\",\"Timestamp\":1700000000,\"Value\":0.25,\"Tags\":[],\"Type\":1,\"Message\":\"\","
        "\"HostName\":\"\",\"Sinks\":null}",
        "{\"Name\":\"db.up\",\"Timestamp\":1700000000,\"Value\":1,\"Tags\":[],\"Type\":2,\"Message\":\"slow\","
        "\"HostName\":\"db1\",\"Sinks\":null}",
    };
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i], want[i]);
        free(got[i]);
    }
    vn_sink_free(r.s);

    /* the same flush as protobuf on another topic */
    k.n = 0;
    kv_add(&k, broker);
    kv_add(&k, "metric_topic=metrics_pb");
    kv_add(&k, "serialization_format=protobuf");
    rig_new(&r, &k);
    assert_int_equal(r.s->ops->flush(r.s, m, 4, &info), VN_OK);
    n = consume(c.bootstraps, "metrics_pb", 3, got, lens, 15);
    assert_int_equal(n, 3);
    static const char *const names[] = {"api.hits", "mem.used", "db.up"};
    for (size_t i = 0; i < n; i++) {
        Veneurc__InterMetric *im = veneurc__inter_metric__unpack(NULL, lens[i], (const uint8_t *)got[i]);
        assert_non_null(im);
        assert_string_equal(im->name, names[i]);
        assert_int_equal(im->timestamp, TS);
        veneurc__inter_metric__free_unpacked(im, NULL);
        free(got[i]);
    }
    vn_sink_free(r.s);
    cluster_stop(&c);
}

static void test_kafka__broker_errors_counted(void **state)
{
    (void)state;
    cluster_t c;
    static const char *const topics[] = {"metrics"};
    cluster_start(&c, topics, 1);
    kvs_t k = {.n = 0};
    char broker[300];
    snprintf(broker, sizeof broker, "broker=%s", c.bootstraps);
    kv_add(&k, broker);
    kv_add(&k, "metric_topic=metrics");
    kv_add(&k, "retry_max=0");
    rig_t r;
    rig_new(&r, &k);
    vn_inter_metric_t m[] = {
        {.name = "a", .timestamp = TS, .value = 1, .type = VN_IM_GAUGE},
        {.name = "b", .timestamp = TS, .value = 2, .type = VN_IM_GAUGE},
    };
    vn_flush_info_t info = info_now();
    /* warm up: metadata known, one message delivered */
    assert_int_equal(r.s->ops->flush(r.s, m, 1, &info), VN_OK);
    assert_true(wait_stats(&r, 1, 0, 0, 10));

    /* the broker answers the next Produce requests with an error; retry_max=0 fails the messages */
    rd_kafka_mock_push_request_errors(c.mc, PRODUCE_API_KEY, 4, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    assert_int_equal(r.s->ops->flush(r.s, m, 2, &info), VN_OK); /* producing itself succeeds */
    double end = now_s() + 10;
    while (st(&r.stats.delivered) + st(&r.stats.delivery_failed) < 3 && now_s() < end)
        wait_stats(&r, 0, 0, 0, 0);
    assert_int_equal(st(&r.stats.delivered) + st(&r.stats.delivery_failed), 3);
    assert_true(st(&r.stats.delivery_failed) >= 1);

    /* not fatal: once the broker is healthy again, later flushes are delivered */
    rd_kafka_mock_clear_request_errors(c.mc, PRODUCE_API_KEY);
    uint64_t before = st(&r.stats.delivered);
    assert_int_equal(r.s->ops->flush(r.s, m, 2, &info), VN_OK);
    assert_true(wait_stats(&r, before + 2, 0, 0, 10));
    vn_sink_free(r.s);
    cluster_stop(&c);
}

static void test_kafka__queue_full_and_unreachable(void **state)
{
    (void)state;
    kvs_t k = {.n = 0};
    char broker[64];
    snprintf(broker, sizeof broker, "broker=127.0.0.1:%d", dead_port());
    kv_add(&k, broker);
    kv_add(&k, "metric_topic=metrics");
    kv_add(&k, "metric_buffer_messages=2");
    kv_add(&k, "metric_delivery_timeout=500ms");
    rig_t r;
    rig_new(&r, &k);
    vn_inter_metric_t m[5];
    for (int i = 0; i < 5; i++)
        m[i] = (vn_inter_metric_t){.name = "x", .timestamp = TS, .value = i, .type = VN_IM_GAUGE};
    m[4].value = NAN; /* unencodable in JSON */
    vn_flush_info_t info = info_now();
    double t0 = now_s();
    assert_int_equal(r.s->ops->flush(r.s, m, 5, &info), VN_ERR_AGAIN);
    assert_true(now_s() - t0 < 1.0); /* a full queue never blocks the flush */
    /* 2 fit the queue; the 3rd finds it full and the rest of the flush (the NaN
     * included, never encoded) is dropped with it */
    assert_int_equal(st(&r.stats.dropped), 3);

    /* the two queued messages expire (metric_delivery_timeout) and the refused
     * connections show up as transport errors */
    assert_true(wait_stats(&r, 0, 2, 1, 10));
    assert_int_equal(st(&r.stats.delivered), 0);
    assert_int_equal(st(&r.stats.delivery_failed), 2);

    /* with room again, a NaN alone is an encoding drop */
    assert_int_equal(r.s->ops->flush(r.s, &m[4], 1, &info), VN_ERR_PARSE);
    assert_int_equal(st(&r.stats.dropped), 4);

    /* shutdown with messages still queued is bounded */
    assert_int_equal(r.s->ops->flush(r.s, m, 2, &info), VN_OK);
    t0 = now_s();
    vn_sink_free(r.s);
    assert_true(now_s() - t0 < 4.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka__json),
        cmocka_unit_test(test_kafka__protobuf),
        cmocka_unit_test(test_kafka__config_errors),
        cmocka_unit_test(test_kafka__produce_and_consume),
        cmocka_unit_test(test_kafka__broker_errors_counted),
        cmocka_unit_test(test_kafka__queue_full_and_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
