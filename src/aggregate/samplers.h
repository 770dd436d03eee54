/**
 * samplers.h - per-series state for each metric type (docs/behaviour.md section 2):
 * counters and gauges are a double held inline in vn_series_t; histograms/timers
 * (t-digest + local stats), sets (HyperLogLog) and status checks live here.
 *
 * Not thread-safe: a sampler belongs to the series map that holds it.
 */
#ifndef VN_AGGREGATE_SAMPLERS_H
#define VN_AGGREGATE_SAMPLERS_H

#include <stdbool.h>
#include <stddef.h>

#include "aggregate/hll.h"
#include "aggregate/tdigest.h"

/** Histogram/timer: merging digest plus exact local aggregates (docs/behaviour.md 2.4). */
typedef struct vn_histo {
    vn_tdigest_t digest;
    double local_weight, local_min, local_max, local_sum, local_recip_sum;
} vn_histo_t;

typedef struct vn_status {
    double value;   /* 0..3 */
    char *message;  /* owned, may be NULL */
    char *hostname; /* owned, may be NULL */
} vn_status_t;

void vn_histo_init(vn_histo_t *h);
void vn_histo_destroy(vn_histo_t *h);
/** Adds v with weight 1/rate; NaN/Inf values are ignored (the parser rejects them). */
void vn_histo_sample(vn_histo_t *h, double v, double rate);

/** Replaces value, message and hostname (copies both strings). */
void vn_status_set(vn_status_t *s, double value, const char *host, size_t host_len, const char *msg, size_t msg_len);
void vn_status_destroy(vn_status_t *s);
/** Bytes of hostname and message held (what vn_status_set was given, up to a NUL in them). */
size_t vn_status_bytes(const vn_status_t *s);

/** Output of one histogram flush; names point to static suffix strings. */
typedef struct vn_histo_out {
    const char *suffix; /* ".max", ".50percentile" (caller-built for percentiles) */
    double value;
    bool is_counter;    /* only ".count" */
} vn_histo_out_t;

/**
 * Computes the metrics of docs/behaviour.md 2.4 in Go's order (max,min,sum,avg,count,median,
 * hmean, then percentiles). pct_names[i] is the suffix for percentiles[i].
 * Writes at most 7 + npct entries into out; returns the count.
 */
size_t vn_histo_flush(vn_histo_t *h, unsigned aggregates, const double *percentiles, const char *const *pct_names,
                      size_t npct, bool global, vn_histo_out_t *out);

/**
 * Suffix for percentile p (docs/behaviour.md 0.4): ".<int(p*100)>percentile" when p*100 is a
 * whole number, else the digits of p*100 with '_' for the point (0.999 ->
 * ".99_9percentile"). Writes into buf; returns buf.
 */
const char *vn_percentile_suffix(double p, char *buf, size_t cap);

#endif
