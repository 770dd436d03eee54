/**
 * kafka_producer.h - the librdkafka producer that the Kafka metric sink
 * (sinks/kafka.c) and the Kafka span sink (spansinks/kafka.c) share: Go's
 * sarama settings translated into librdkafka properties, delivery reports and
 * client errors counted from librdkafka's background thread, and a bounded
 * close. Only those two sinks and their unit tests include this.
 *
 * Config keys read here (key names vary per sink; vn_kafka_keys_t):
 *   broker             required by the caller; -> bootstrap.servers
 *   <acks>             all (default; any unknown value warns) | none | local -> acks -1 | 0 | 1
 *   partitioner        random -> "random"; anything else -> "consistent_random" (Go's hash
 *                      partitioner without a message key spreads messages randomly too)
 *   retry_max          -> message.send.max.retries; default 3 (sarama's)
 *   <buffer_bytes>     -> queue.buffering.max.kbytes (rounded up); 0/absent -> 32 MiB
 *   <buffer_messages>  -> queue.buffering.max.messages; 0/absent -> 100000
 *   <buffer_frequency> Go duration -> linger.ms; absent/0 -> librdkafka's 5 ms
 *   <delivery_timeout> veneur-c: Go duration -> message.timeout.ms; default 30s
 *   librdkafka.<prop>  veneur-c: any librdkafka producer property, applied last
 *
 * librdkafka's own queue is the sink's buffer, bounded by the two buffer caps:
 * produce copies the message and never blocks (a full queue is
 * RD_KAFKA_RESP_ERR__QUEUE_FULL, which the sink counts as a drop).
 */
#ifndef VN_SINKS_KAFKA_PRODUCER_H
#define VN_SINKS_KAFKA_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"

/** The per-sink names of the keys that differ between the metric and the span sink. */
typedef struct vn_kafka_keys {
    const char *topic;            /* only named in error messages */
    const char *acks;
    const char *buffer_bytes;
    const char *buffer_messages;
    const char *buffer_frequency;
    const char *delivery_timeout;
} vn_kafka_keys_t;

typedef struct vn_kafka_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    rd_kafka_queue_t *bg; /* reference to the background queue, released before rd_kafka_destroy */
    char *name;           /* owned copy of the sink's name, for log lines from librdkafka threads */
    /* written by librdkafka's background thread, read by any thread */
    _Atomic uint64_t delivered, delivery_failed, transport_errors;
    uint64_t errors_logged; /* transport_errors at the last warning (the sink's thread only) */
} vn_kafka_producer_t;

/**
 * Creates the producer for topic from sc (which connects in the background: an
 * unreachable broker is not an error here). what is "sink" or "span sink" and
 * name the sink's name; errors read `<what> "<name>" (kafka): config key K: ...`.
 * On error p holds nothing and VN_ERR_CONFIG is returned. p must be zeroed;
 * free with vn_kafka_producer_close. Borrows sc, keys, what, topic; copies name.
 */
vn_err_t vn_kafka_producer_open(vn_kafka_producer_t *p, const char *what, const char *name,
                                const vn_sink_config_t *sc, const vn_kafka_keys_t *keys, const char *topic,
                                char *errbuf, size_t errcap);

/**
 * Produces one message (copied; key as given, NULL for none, as Go sets none).
 * Never blocks. Returns 0, or the librdkafka error (RD_KAFKA_RESP_ERR__QUEUE_FULL
 * when the sink's buffer is full, _MSG_SIZE_TOO_LARGE, ...).
 */
rd_kafka_resp_err_t vn_kafka_producer_send(vn_kafka_producer_t *p, const void *val, size_t len, const void *key,
                                           size_t key_len);

/**
 * Waits at most timeout_ms for every produced message to be delivered or to
 * fail; what is still outstanding then is purged and counted as failed.
 * Returns how many messages were purged.
 */
int vn_kafka_producer_drain(vn_kafka_producer_t *p, int timeout_ms);

/** Logs one warning when new client errors were counted since the last call (sink's thread). */
void vn_kafka_producer_warn_errors(vn_kafka_producer_t *p);

/** Drains for at most timeout_ms, then frees everything in p. NULL-safe; p may be half-open. */
void vn_kafka_producer_close(vn_kafka_producer_t *p, int timeout_ms);

static inline uint64_t vn_kafka_producer_load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
