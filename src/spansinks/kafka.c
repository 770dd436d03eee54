/*
 * kafka.c - the "kafka" span sink (Go sinks/kafka KafkaSpanSink): every span
 * that passes the sampling rule becomes one Kafka message on span_topic, with
 * no message key (as Go), produced with librdkafka (sinks/kafka_producer.h,
 * shared with the metric sink).
 *
 *   span_sinks:
 *     - kind: kafka
 *       config:
 *         broker: "k1:9092,k2:9092"       # required
 *         span_topic: veneur_spans        # required
 *         span_serialization_format: json # or protobuf; absent or unknown -> protobuf (Go, with a warning)
 *         span_sample_rate_percent: 100   # 0..100; absent = 0, see below
 *         span_sample_tag: request_id     # optional
 *         span_require_acks, partitioner, retry_max, span_buffer_bytes,
 *         span_buffer_mesages (sic, Go's spelling), span_buffer_frequency:
 *                                         # kafka_producer.h
 *         span_delivery_timeout, librdkafka.<property>: veneur-c, kafka_producer.h
 *
 * Sampling is Go's, so the same spans are kept: when span_sample_tag is set or
 * the threshold uint32(percent * 4294967295 / 100) is below 2^32-1, the key is
 * the tag's value (a span without the tag is skipped) or else the decimal
 * trace id; the span is kept when CRC-32 IEEE (zlib's crc32, Go's
 * crc32.ChecksumIEEE) of the key is <= the threshold. Go applies this even
 * when span_sample_rate_percent is absent (threshold 0: only keys whose CRC
 * is 0 pass), so we do too, and warn at start.
 *
 * Message value: json = Go's encoding/json of the SSFSpan (span_json.c; a span
 * whose float32 values are NaN or +-Inf is dropped, as json.Marshal fails on
 * them); protobuf = the decoded span packed again (Go's span.Marshal).
 * Go's Kafka span sink has no SetExcludedTags, so tags_exclude does not apply.
 *
 * Bounded: ingest produces at once (Go hands each span to sarama's input
 * channel at Ingest); librdkafka's queue, capped by span_buffer_bytes and
 * span_buffer_mesages, is the only buffer, and a full queue drops the span
 * (counted by the runner as dropped) instead of Go's 5 s blocking wait.
 * Delivery reports are published to s->stats (delivered / delivery_failed) at
 * each flush; the final flush waits for outstanding deliveries until
 * info->deadline_s and purges the rest (counted as failed).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/kafka_producer.h"
#include "spansinks/span_sink_internal.h"
#include "ssf/decode.h"

/* librdkafka's message.max.bytes default is 1000000; leave room for the record overhead */
#define KSPAN_MSG_MAX ((size_t)1000000 - 512)
#define KSPAN_CLOSE_TIMEOUT_MS 100 /* destroy after the final flush: nothing should be left */

static const vn_kafka_keys_t span_keys = {
    .topic = "span_topic",
    .acks = "span_require_acks",
    .buffer_bytes = "span_buffer_bytes",
    .buffer_messages = "span_buffer_mesages",
    .buffer_frequency = "span_buffer_frequency",
    .delivery_timeout = "span_delivery_timeout",
};

typedef struct kafka_span_sink {
    vn_kafka_producer_t p;
    bool protobuf;
    bool sampling;    /* Go: sampleTag != "" || threshold < MaxUint32 */
    char *sample_tag; /* owned; NULL: sample on the trace id */
    uint32_t threshold;
    vn_buf_t msg; /* one encoded span, reused */
    /* sink thread only: losses since the last flush, for one warning per flush */
    uint64_t produce_failed, unencodable;
    rd_kafka_resp_err_t last_err;
} kafka_span_sink_t;

/* Go's uint32(percent * math.MaxUint32 / 100) for percent in [0, 100]. */
static uint32_t sample_threshold(double percent)
{
    return (uint32_t)(percent * 4294967295.0 / 100.0);
}

/* Go's KafkaSpanSink.Ingest sampling rule (the file comment). */
static bool sampled_in(const kafka_span_sink_t *k, const Ssf__SSFSpan *sp)
{
    if (!k->sampling)
        return true;
    char id[24];
    const char *key = id;
    if (k->sample_tag) {
        key = vn_ssf_span_tag(sp, k->sample_tag);
        if (!key)
            return false;
    } else {
        snprintf(id, sizeof id, "%lld", (long long)sp->trace_id);
    }
    uint32_t h = (uint32_t)crc32(0L, (const Bytef *)key, (uInt)strlen(key));
    return h <= k->threshold;
}

static bool finite_f32(float f)
{
    return !isnan(f) && !isinf(f);
}

/* Go's json.Marshal refuses NaN and +-Inf; the span's only floats are its samples'. */
static bool json_encodable(const Ssf__SSFSpan *sp)
{
    for (size_t i = 0; i < sp->n_metrics; i++) {
        const Ssf__SSFSample *m = sp->metrics[i];
        if (m && (!finite_f32(m->value) || !finite_f32(m->sample_rate)))
            return false;
    }
    return true;
}

static vn_err_t encode(kafka_span_sink_t *k, const Ssf__SSFSpan *sp)
{
    vn_buf_reset(&k->msg);
    if (!k->protobuf)
        return json_encodable(sp) ? vn_span_json_write(&k->msg, sp, NULL) : VN_ERR_PARSE;
    size_t n = ssf__ssfspan__get_packed_size(sp);
    char *tail;
    vn_err_t err = vn_buf_reserve(&k->msg, n, &tail);
    if (err != VN_OK)
        return err;
    vn_buf_commit(&k->msg, ssf__ssfspan__pack(sp, (uint8_t *)tail));
    return VN_OK;
}

static vn_span_ingest_rc_t kspan_ingest(vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    kafka_span_sink_t *k = s->impl;
    if (!sampled_in(k, sp))
        return VN_SPAN_SKIPPED;
    if (encode(k, sp) != VN_OK) {
        k->unencodable++;
        return VN_SPAN_DROPPED;
    }
    rd_kafka_resp_err_t err = vn_kafka_producer_send(&k->p, vn_buf_ptr(&k->msg), vn_buf_len(&k->msg), NULL, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->produce_failed++; /* _QUEUE_FULL: librdkafka's buffer is at its cap */
        k->last_err = err;
        return VN_SPAN_DROPPED;
    }
    return VN_SPAN_TAKEN;
}

static void publish(vn_span_sink_t *s, kafka_span_sink_t *k)
{
    vn_kafka_producer_warn_errors(&k->p);
    if (k->produce_failed || k->unencodable) {
        VN_LOG(WARN, "event=kafka_span_dropped sink=%s produce=%llu unencodable=%llu err=\"%s\"", s->name,
               (unsigned long long)k->produce_failed, (unsigned long long)k->unencodable,
               k->last_err ? rd_kafka_err2str(k->last_err) : "none");
        k->produce_failed = k->unencodable = 0;
        k->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (!s->stats)
        return;
    atomic_store_explicit(&s->stats->delivered, vn_kafka_producer_load(&k->p.delivered), memory_order_relaxed);
    atomic_store_explicit(&s->stats->delivery_failed, vn_kafka_producer_load(&k->p.delivery_failed),
                          memory_order_relaxed);
}

static void kspan_flush(vn_span_sink_t *s, const vn_span_flush_info_t *info)
{
    kafka_span_sink_t *k = s->impl;
    bool final = info && info->final;
    if (final) {
        double left_s = info->deadline_s - vn_clock_mono_s();
        int ms = left_s > 0 ? (int)(left_s * 1000.0) : 0;
        vn_kafka_producer_drain(&k->p, ms);
    }
    publish(s, k);
    if (final) /* the totals, once: what reached the brokers over the process's life */
        VN_LOG(INFO, "event=kafka_span_sink_final sink=%s delivered=%llu delivery_failed=%llu", s->name,
               (unsigned long long)vn_kafka_producer_load(&k->p.delivered),
               (unsigned long long)vn_kafka_producer_load(&k->p.delivery_failed));
}

static void kspan_destroy(vn_span_sink_t *s)
{
    kafka_span_sink_t *k = s->impl;
    if (!k)
        return;
    vn_kafka_producer_close(&k->p, KSPAN_CLOSE_TIMEOUT_MS);
    vn_buf_free(&k->msg);
    free(k->sample_tag);
    free(k);
    s->impl = NULL;
}

static const vn_span_sink_ops_t kspan_ops = {"kafka", kspan_ingest, kspan_flush, kspan_destroy};

vn_err_t vn_span_sink__kafka_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                 char *errbuf, size_t errcap)
{
    (void)cfg;
    const char *broker = vn_sink_config_get(sc, "broker");
    const char *topic = vn_sink_config_get(sc, "span_topic");
    if (!broker || !broker[0])
        return vn_span_sink__errf(errbuf, errcap,
                                  "span sink \"%s\" (kafka): config key broker is required (comma-separated "
                                  "host:port list)",
                                  s->name);
    if (!topic || !topic[0])
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\" (kafka): config key span_topic is required",
                                  s->name);

    const char *pct_s = vn_sink_config_get(sc, "span_sample_rate_percent");
    double pct = 0;
    if (pct_s && pct_s[0]) {
        char *end = NULL;
        pct = strtod(pct_s, &end);
        if (end == pct_s || *end || !(pct >= 0 && pct <= 100))
            return vn_span_sink__errf(errbuf, errcap,
                                      "span sink \"%s\" (kafka): config key span_sample_rate_percent: want a number "
                                      "from 0 to 100, got \"%s\"",
                                      s->name, pct_s);
    }
    const char *fmt = vn_sink_config_get(sc, "span_serialization_format");
    bool json = fmt && strcmp(fmt, "json") == 0;
    if (!json && !(fmt && strcmp(fmt, "protobuf") == 0))
        VN_LOG(WARN, "event=kafka_span_unknown_format sink=%s value=%s msg=\"using protobuf, as Go\"", s->name,
               VN_LOG_Q(fmt ? fmt : ""));
    const char *tag = vn_sink_config_get(sc, "span_sample_tag");

    kafka_span_sink_t *k = vn_xcalloc(1, sizeof *k);
    k->protobuf = !json;
    k->threshold = sample_threshold(pct);
    k->sample_tag = tag && tag[0] ? vn_xstrdup(tag) : NULL;
    k->sampling = k->sample_tag || k->threshold < UINT32_MAX;
    vn_buf_init(&k->msg, KSPAN_MSG_MAX);
    vn_err_t err = vn_kafka_producer_open(&k->p, "span sink", s->name, sc, &span_keys, topic, errbuf, errcap);
    if (err != VN_OK) {
        vn_buf_free(&k->msg);
        free(k->sample_tag);
        free(k);
        return err;
    }
    if (k->threshold == 0)
        VN_LOG(WARN, "event=kafka_span_sample_rate_zero sink=%s msg=\"span_sample_rate_percent is 0 or absent: "
                     "as Go, nearly every span is sampled out; set 100 to keep all\"",
               s->name);
    VN_LOG(INFO, "event=kafka_span_sink_started sink=%s broker=%s topic=%s format=%s sample_percent=%g "
                 "sample_tag=%s",
           s->name, VN_LOG_Q(broker), VN_LOG_Q(topic), json ? "json" : "protobuf", pct,
           VN_LOG_Q(k->sample_tag ? k->sample_tag : ""));
    s->impl = k;
    s->ops = &kspan_ops;
    return VN_OK;
}
