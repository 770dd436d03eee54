/**
 * convert.h - OTLP metrics (an ExportMetricsServiceRequest, proto/otlp_*.proto)
 * to veneur samples, the ingest half of docs/otlp.md:
 *
 *   Gauge                       -> gauge per data point
 *   Sum, DELTA                  -> counter += value
 *   Sum, CUMULATIVE             -> counter += value - previous value of the series
 *                                  (monotonic: a drop or a new start time is a
 *                                  reset and counts the new value whole)
 *   Histogram                   -> histogram samples: each bucket's count at one
 *                                  representative value (the bucket's midpoint,
 *                                  clamped to the point's min/max; the open
 *                                  end buckets use min/max, else their bound),
 *                                  weighted by the count (rate 1/count); one
 *                                  count goes to min and one to max when the
 *                                  point carries them, so min, max and count
 *                                  are exact; cumulative points count bucket
 *                                  deltas (min/max then unused)
 *   ExponentialHistogram        -> the same with the buckets' geometric midpoints
 *                                  (base^(index + 1/2)) and the zero bucket at 0
 *   Summary, no value set       -> refused (counted)
 *
 * Tags: each data point attribute k -> "k:v" (strings as they are, bools,
 * ints and doubles as text; arrays, maps and bytes left out; "" -> "k"),
 * the resource attribute host.name -> "host:NAME"; ',' and control bytes
 * become '_'; attributes veneurlocalonly / veneurglobalonly set the scope as
 * the DogStatsD magic tags do; implicit tags (extend_tags) override equal
 * keys and are added; sorted byte-wise.
 *
 * Cumulative series are remembered (key: XXH3 of kind, name and tags, per
 * bucket for histograms) in a table of at most max_cumulative entries; a new
 * series past the cap is refused (counted). The first point of a series
 * counts whole only when its start time is at or after the converter's
 * creation (the series began while we were listening); otherwise it only
 * sets the baseline (counted), the OpenTelemetry Collector's
 * cumulativetodelta "auto" rule, so a restart of veneur never re-counts an
 * application's whole history.
 *
 * Not thread-safe: one converter per ingest thread. Decoding allocates
 * (protobuf-c) in proportion to the request; conversion itself does not.
 */
#ifndef VN_OTLP_CONVERT_H
#define VN_OTLP_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/metric.h"
#include "core/str.h"
#include "parse/dogstatsd.h"

/** Where samples go (vn_ingest_sample's arguments); false = dropped downstream (counted there). */
typedef bool (*vn_otlp_emit_fn)(void *ctx, vn_str_t name, vn_mtype_t type, vn_scope_t scope, double value,
                                double rate, const vn_str_t *tags, size_t ntags);

typedef struct vn_otlp_counts {
    uint64_t requests;  /* requests decoded */
    uint64_t points;    /* data points read */
    uint64_t samples;   /* samples handed to emit */
    uint64_t rejected;  /* data points refused: bad name or value, too many tags, summary or
                           unset kind, cumulative table full */
    uint64_t baseline;  /* cumulative points that only set a series' baseline */
} vn_otlp_counts_t;

#define VN_OTLP_DEFAULT_MAX_CUMULATIVE 100000
/** Tag text of one data point (attributes, host, implicit tags). */
#define VN_OTLP_TAG_BYTES 16384

typedef struct vn_otlp_cum vn_otlp_cum_t; /* opaque: one remembered cumulative value */

typedef struct vn_otlp_conv {
    const vn_parser_t *parser; /* borrowed: implicit tags; NULL = none */
    vn_otlp_emit_fn emit;
    void *ctx;
    uint64_t started_ns; /* unix ns at init: the "auto" first-point rule */
    vn_otlp_cum_t *_cum; /* open addressing, _cap a power of two */
    size_t _cap, _n, _max;
    char _scratch[VN_OTLP_TAG_BYTES];
    vn_str_t _tags[VN_PARSE_MAX_TAGS];
    vn_otlp_counts_t c;
} vn_otlp_conv_t;

/** max_cumulative 0 = VN_OTLP_DEFAULT_MAX_CUMULATIVE. parser may be NULL. */
void vn_otlp_conv_init(vn_otlp_conv_t *cv, const vn_parser_t *parser, size_t max_cumulative, vn_otlp_emit_fn emit,
                       void *ctx);
void vn_otlp_conv_destroy(vn_otlp_conv_t *cv);

/**
 * Decodes body[0..len) (an uncompressed ExportMetricsServiceRequest) and
 * converts every data point. *rejected (may be NULL) gets the points refused
 * by this call (the OTLP partial-success count). Returns VN_OK, or
 * VN_ERR_PARSE when the bytes are not a request (nothing converted).
 */
vn_err_t vn_otlp_conv_request(vn_otlp_conv_t *cv, const uint8_t *body, size_t len, uint64_t *rejected);

#endif
