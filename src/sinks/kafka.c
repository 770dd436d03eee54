/*
 * kafka.c - the "kafka" metric sink: every flushed metric becomes one Kafka
 * message on metric_topic (docs/behaviour.md W4.4), produced with librdkafka.
 *
 * Config keys (the sink's `config:` block; Go's names, sarama semantics mapped
 * onto librdkafka properties):
 *   broker                   required; comma-separated host:port list -> bootstrap.servers
 *   metric_topic             required (check_topic/event_topic are accepted and
 *                            ignored: Go produces nothing on them either)
 *   metric_require_acks      all (default; also any unknown value, with a warning)
 *                            | none | local -> acks -1 | 0 | 1
 *   partitioner              random -> "random"; anything else -> "consistent_random"
 *                            (Go's hash partitioner: no key is set, so both spread
 *                            messages randomly, as Go does)
 *   retry_max                -> message.send.max.retries; default 3 (sarama's
 *                            default; Go passes its unset 0)
 *   metric_buffer_bytes      -> queue.buffering.max.kbytes (rounded up); default 32 MiB
 *   metric_buffer_messages   -> queue.buffering.max.messages; default 100000
 *   metric_buffer_frequency  Go duration -> linger.ms; default librdkafka's 5 ms
 *   serialization_format     json (default, Go's) | protobuf (kafka_encode.c)
 *   metric_delivery_timeout  veneur-c: Go duration -> message.timeout.ms; default 30s
 *   librdkafka.<property>    veneur-c: any librdkafka producer property, e.g.
 *                            `librdkafka: {security.protocol: ssl}`; checked at start
 *
 * Bounded and non-blocking: librdkafka's own queue is the sink's buffer (the
 * two metric_buffer_* caps). rd_kafka_produce copies each message
 * (RD_KAFKA_MSG_F_COPY) and never waits (no RD_KAFKA_MSG_F_BLOCK), so a flush
 * costs encoding plus a memcpy per metric however slow or absent the brokers
 * are; a full queue makes the rest of the flush a counted drop.
 *
 * The producer (config translation, delivery reports, client errors) is
 * kafka_producer.c, shared with the Kafka span sink. Each flush publishes its
 * totals to the sink's self-metrics slot (vn_sink_t.stats): delivered /
 * delivery_failed per message, transport_errors per client error event
 * (connection refused, all brokers down, ...).
 *
 * Shutdown: destroy flushes what is queued for at most KAFKA_CLOSE_TIMEOUT_MS,
 * then purges the rest (counted as failed deliveries) so exit never hangs on a
 * dead broker.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/stats.h"
#include "core/xalloc.h"
#include "sinks/kafka_internal.h"
#include "sinks/kafka_producer.h"

#define KAFKA_CLOSE_TIMEOUT_MS 3000

static const vn_kafka_keys_t metric_keys = {
    .topic = "metric_topic",
    .acks = "metric_require_acks",
    .buffer_bytes = "metric_buffer_bytes",
    .buffer_messages = "metric_buffer_messages",
    .buffer_frequency = "metric_buffer_frequency",
    .delivery_timeout = "metric_delivery_timeout",
};

typedef struct kafka {
    vn_kafka_producer_t p;
    vn_kafka_format_t format;
    vn_buf_t msg; /* one encoded message, reused */
    /* flush thread only */
    uint64_t produced, dropped;
} kafka_t;

/* ---------------------------------------------------------------- flush */

/* Copies the sink's totals into its self-metrics slot (flush thread). */
static void publish(vn_sink_t *s, kafka_t *k)
{
    vn_kafka_producer_warn_errors(&k->p);
    if (!s->stats)
        return;
    atomic_store_explicit(&s->stats->delivered, vn_kafka_producer_load(&k->p.delivered), memory_order_relaxed);
    atomic_store_explicit(&s->stats->delivery_failed, vn_kafka_producer_load(&k->p.delivery_failed),
                          memory_order_relaxed);
    atomic_store_explicit(&s->stats->transport_errors, vn_kafka_producer_load(&k->p.transport_errors),
                          memory_order_relaxed);
    atomic_store_explicit(&s->stats->dropped, k->dropped, memory_order_relaxed);
}

static vn_err_t kafka_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    (void)info; /* producing never blocks, so the deadline cannot be reached */
    kafka_t *k = s->impl;
    uint64_t dropped = 0, unencodable = 0;
    rd_kafka_resp_err_t why = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (!vn_sink__wants(s, &m[i]))
            continue;
        vn_buf_reset(&k->msg);
        if (vn_kafka__encode(&k->msg, k->format, s, &m[i]) != VN_OK) {
            unencodable++; /* NaN/Inf in JSON, or over the message size cap */
            continue;
        }
        why = vn_kafka_producer_send(&k->p, vn_buf_ptr(&k->msg), vn_buf_len(&k->msg), NULL, 0);
        if (why == RD_KAFKA_RESP_ERR_NO_ERROR) {
            k->produced++;
            continue;
        }
        if (why == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* the queue drains only as fast as the brokers ack: the rest of this
             * flush cannot fit either, and trying would only burn CPU */
            for (; i < n; i++)
                dropped += vn_sink__wants(s, &m[i]);
            break;
        }
        dropped++; /* e.g. _MSG_SIZE_TOO_LARGE, _UNKNOWN_TOPIC: this message only */
    }
    k->dropped += dropped + unencodable;
    publish(s, k);
    if (dropped || unencodable) {
        VN_LOG(WARN, "event=kafka_dropped sink=%s queue_or_produce=%llu unencodable=%llu err=\"%s\"", s->name,
               (unsigned long long)dropped, (unsigned long long)unencodable,
               why ? rd_kafka_err2str(why) : "none");
        return dropped ? VN_ERR_AGAIN : VN_ERR_PARSE;
    }
    return VN_OK;
}

static void kafka_free(kafka_t *k)
{
    if (!k)
        return;
    vn_kafka_producer_close(&k->p, KAFKA_CLOSE_TIMEOUT_MS);
    vn_buf_free(&k->msg);
    free(k);
}

static void kafka_destroy(vn_sink_t *s)
{
    kafka_free(s->impl);
    s->impl = NULL;
}

static const vn_sink_ops_t kafka_ops = {
    .kind = "kafka",
    .flush = kafka_flush,
    .flush_events = NULL, /* Go's Kafka metric sink produces no events or checks */
    .destroy = kafka_destroy,
};

/* ---------------------------------------------------------------- config */

vn_err_t vn_sink__kafka_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                            size_t errcap)
{
    (void)cfg;
    char dummy[1];
    if (!errbuf || !errcap) {
        errbuf = dummy;
        errcap = sizeof dummy;
    }
    const char *broker = vn_sink_config_get(sc, "broker");
    const char *topic = vn_sink_config_get(sc, "metric_topic");
    if (!broker || !broker[0]) {
        snprintf(errbuf, errcap, "sink \"%s\" (kafka): config key broker is required (comma-separated host:port list)",
                 s->name);
        return VN_ERR_CONFIG;
    }
    if (!topic || !topic[0]) {
        snprintf(errbuf, errcap,
                 "sink \"%s\" (kafka): config key metric_topic is required (check_topic and event_topic are not "
                 "produced)",
                 s->name);
        return VN_ERR_CONFIG;
    }
    const char *format = vn_sink_config_get(sc, "serialization_format");
    vn_kafka_format_t fmt = VN_KAFKA_JSON;
    if (format && strcmp(format, "protobuf") == 0) {
        fmt = VN_KAFKA_PROTOBUF;
    } else if (format && format[0] && strcmp(format, "json") != 0) {
        snprintf(errbuf, errcap, "sink \"%s\" (kafka): config key serialization_format: want json or protobuf, got \"%s\"",
                 s->name, format);
        return VN_ERR_CONFIG;
    }

    kafka_t *k = vn_xcalloc(1, sizeof *k);
    k->format = fmt;
    vn_buf_init(&k->msg, VN_KAFKA_MSG_MAX);
    vn_err_t err = vn_kafka_producer_open(&k->p, "sink", s->name, sc, &metric_keys, topic, errbuf, errcap);
    if (err != VN_OK) {
        kafka_free(k);
        return err;
    }
    VN_LOG(INFO, "event=kafka_sink_started sink=%s broker=\"%s\" topic=\"%s\" format=%s", s->name,
           broker, topic, k->format == VN_KAFKA_PROTOBUF ? "protobuf" : "json");
    s->impl = k;
    s->ops = &kafka_ops;
    return VN_OK;
}
