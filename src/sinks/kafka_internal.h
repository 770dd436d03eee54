/**
 * kafka_internal.h - the Kafka metric sink (kafka.c) and its message encoders
 * (kafka_encode.c). Only the sink registry and the unit tests include this.
 */
#ifndef VN_SINKS_KAFKA_INTERNAL_H
#define VN_SINKS_KAFKA_INTERNAL_H

#include "core/buf.h"
#include "sinks/sink_internal.h"

/** Largest encoded message we hand to librdkafka (its message.max.bytes default is 1000000). */
#define VN_KAFKA_MSG_MAX ((size_t)1000000 - 512)

typedef enum vn_kafka_format { VN_KAFKA_JSON = 0, VN_KAFKA_PROTOBUF = 1 } vn_kafka_format_t;

/**
 * Constructor for kind "kafka" (sink_internal.h vn_sink_ctor_fn contract).
 * Creates the librdkafka producer (which connects in the background; an
 * unreachable broker is not an error here). VN_ERR_CONFIG names the key for a
 * missing broker/metric_topic or a bad value.
 */
vn_err_t vn_sink__kafka_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                            size_t errcap);

/**
 * Appends m as one Kafka message value to b (b is not reset first).
 *
 * JSON: Go's json.Marshal of samplers.InterMetric (docs/behaviour.md W4.4), keys in Go's
 * field order: {"Name","Timestamp","Value","Tags","Type","Message","HostName",
 * "Sinks"}. Tags is always an array (Go's flushed tags are never nil); Sinks is
 * null, or {"<target>":{}} for a veneursinkonly metric; HostName is m->hostname
 * for status checks and "" otherwise (Go sets it only on checks).
 * Protobuf: veneurc.InterMetric (proto/intermetric.proto), the same fields.
 * Tags that s excludes (tags_exclude) are left out in both.
 *
 * Returns VN_OK; VN_ERR_PARSE (JSON only) for a value JSON cannot carry (NaN,
 * +-Inf: Go's json.Marshal fails on them), nothing appended; protobuf carries
 * them as they are. VN_ERR_TOO_LARGE when b
 * is full (b may hold a partial message: truncate to the length before the call).
 * Borrows everything; thread-safe for distinct b.
 */
vn_err_t vn_kafka__encode(vn_buf_t *b, vn_kafka_format_t fmt, const vn_sink_t *s, const vn_inter_metric_t *m);

#endif
