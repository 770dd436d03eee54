/**
 * metricpb_codec.h - metricpb.Metric and forwardrpc.MetricList on the wire
 * (proto/metric.proto, proto/forward.proto; docs/behaviour.md W1.1, W1.2, W1.3, W7),
 * byte-identical to Go Veneur's gogo marshaller on output and tolerant of
 * any valid protobuf on input.
 *
 * Encoding writes fields in number order and leaves proto3 zero scalars
 * out: name (1), tags (2, each one, even ""), type (3) unless Counter, the
 * value oneof (5..8; the submessage is always written, even when empty),
 * scope (9) unless Mixed. The t-digest and HLL payloads come from
 * vn_tdigest_encode and vn_hll_marshal, which are themselves Go's bytes.
 * W7's global counter foo{a:b}=3:
 *
 *   0a 03 "foo"  12 03 "a:b"  2a 02 08 03  48 02
 *   name         tag          counter{3}   scope Global
 *
 * Decoding is by hand rather than protobuf-c's unpack so that untrusted
 * input is bounded and validated before anything is allocated: the decoded
 * view borrows the input bytes, the t-digest and HLL go through their own
 * validating decoders, and a 4 MiB message cannot make the decoder allocate
 * more than the import it yields. Thread-safe (no shared state).
 */
#ifndef VN_FORWARD_METRICPB_CODEC_H
#define VN_FORWARD_METRICPB_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/series_map.h"
#include "aggregate/worker.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/metric.h"
#include "core/str.h"

/** metricpb.Type (wire numbers; note they differ from vn_mtype_t). */
typedef enum vn_pb_type {
    VN_PB_COUNTER = 0,
    VN_PB_GAUGE = 1,
    VN_PB_HISTOGRAM = 2,
    VN_PB_SET = 3,
    VN_PB_TIMER = 4,
} vn_pb_type_t;

/** Which member of Metric.value was present (its field number), or NONE. */
typedef enum vn_pb_value {
    VN_PB_VALUE_NONE = 0,
    VN_PB_VALUE_COUNTER = 5,
    VN_PB_VALUE_GAUGE = 6,
    VN_PB_VALUE_HISTOGRAM = 7,
    VN_PB_VALUE_SET = 8,
} vn_pb_value_t;

/* ------------------------------------------------------------------ encode */

/**
 * A metric to encode. Strings are borrowed. tags is the series key's tag
 * part (tags joined by ','; empty for none), split back on ','. The value
 * member used follows type: counter (Counter), gauge (Gauge), digest
 * (Histogram, Timer; folded by encoding, hence not const), hll (Set).
 */
typedef struct vn_pb_metric_in {
    vn_str_t name;
    vn_str_t tags;
    vn_pb_type_t type;
    vn_scope_t scope; /* numbers match metricpb.Scope */
    int64_t counter;
    double gauge;
    vn_tdigest_t *digest;
    const vn_hll_t *hll;
} vn_pb_metric_in_t;

/**
 * What a local forwards for series s (docs/behaviour.md 2.7, W1.2): global counters
 * (sum rounded to the nearest int64, docs/behaviour.md 0.2) and gauges, mixed and global
 * histograms and timers, mixed sets. Fills *out borrowing s (valid while the
 * map lives) and returns true; false for series that stay local (mixed
 * counters and gauges, local-scope series, status checks) and for a counter
 * sum that is not finite.
 */
bool vn_pb_metric_from_series(vn_series_t *s, vn_pb_metric_in_t *out);

/** Exact bytes vn_pb_metric_encode writes (folds a digest's pending samples). */
size_t vn_pb_metric_size(vn_pb_metric_in_t *m);

/**
 * Writes the Metric into buf. @return VN_OK with *out_len set, or
 * VN_ERR_TOO_LARGE when cap < vn_pb_metric_size(m) (nothing meaningful
 * written).
 */
vn_err_t vn_pb_metric_encode(vn_pb_metric_in_t *m, uint8_t *buf, size_t cap, size_t *out_len);

/**
 * Appends the Metric as one gRPC message (5-byte prefix + bytes) to out.
 * @return VN_OK; VN_ERR_TOO_LARGE when the message exceeds max_message or
 *   out's cap (out unchanged).
 */
vn_err_t vn_pb_metric_append_frame(vn_pb_metric_in_t *m, size_t max_message, vn_buf_t *out);

/* ------------------------------------------------------------------ decode */

/**
 * A decoded Metric. Every pointer borrows the input bytes (valid while
 * they are). Unknown fields are skipped. A field that appears more than
 * once: the last occurrence wins, the value oneof included (as gogo and
 * protobuf-c decode it); only two t_digest fields inside one HistogramValue
 * differ (gogo appends the second's centroids; no encoder writes that).
 */
typedef struct vn_pb_metric {
    vn_str_t name;
    size_t ntags;      /* tags, iterate with vn_pb_metric_next_tag */
    size_t tags_bytes; /* sum of their lengths */
    int32_t type;      /* raw enum value; validated by vn_pb_metric_to_import */
    int32_t scope;
    vn_pb_value_t value;
    int64_t counter;
    double gauge;
    bool has_digest;   /* HistogramValue.t_digest present */
    const uint8_t *digest;
    size_t digest_len;
    const uint8_t *hll;
    size_t hll_len;
    const uint8_t *_msg; /* the whole message, for tag iteration */
    size_t _len;
} vn_pb_metric_t;

/**
 * Parses one Metric at the wire level: field keys, wire types, lengths,
 * varints, truncation. Does not judge values (type ranges, digests, HLLs).
 * @arg buf borrowed. @return VN_OK or VN_ERR_PROTO.
 */
vn_err_t vn_pb_metric_decode(const uint8_t *buf, size_t len, vn_pb_metric_t *out);

/**
 * Tag iterator in received order: start with *pos = 0; returns false after
 * the last tag. The message was validated by vn_pb_metric_decode.
 */
bool vn_pb_metric_next_tag(const vn_pb_metric_t *m, size_t *pos, vn_str_t *tag);

/**
 * Turns a decoded Metric into a worker import (docs/behaviour.md W1.3): key = name '\n'
 * tags joined by ',' in received order; counters and gauges go to GLOBAL
 * series whatever the wire scope, sets to MIXED, histograms and timers to
 * MIXED or GLOBAL by wire scope. Refused, with a static reason in *why:
 * unknown type or scope, Local scope, no value, a value that does not match
 * the type, an empty name, '\n' in the name or a tag, a key over
 * VN_IMPORT_MAX_KEY, a non-finite gauge, a t-digest or HLL that fails its
 * decoder, an HLL whose precision is not 14 (it could not merge).
 * A histogram without t_digest is accepted and yields nothing (*out NULL),
 * as Go ignores it.
 * @return VN_OK with *out owned by the caller (vn_import_free) or NULL;
 *   VN_ERR_PROTO with *out NULL.
 */
vn_err_t vn_pb_metric_to_import(const vn_pb_metric_t *m, vn_import_t **out, const char **why);

/**
 * Walks a MetricList: sets *msg and *msg_len to the next metric's bytes and returns
 * 1, returns 0 at the end, -1 if the list is malformed at the wire level.
 * Start with *pos = 0. Unknown fields are skipped. Each metric can then be
 * decoded (and rejected) on its own.
 */
int vn_pb_list_next(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **msg, size_t *msg_len);

/** Appends one metric's bytes to a MetricList being built in out (field 1). */
vn_err_t vn_pb_list_append(vn_buf_t *out, const uint8_t *metric, size_t len);

#endif
