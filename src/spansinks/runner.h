/**
 * runner.h - the span sinks of one daemon, each on its own thread behind its
 * own bounded byte queue (span_sink.h explains why).
 *
 * vn_span_sinks_offer is the span workers' hook (ssf/server.h
 * vn_ssf_span_hook_fn): it copies one span's protobuf bytes into every sink's
 * queue without blocking (a full queue drops the span for that sink, counted
 * in its queue_dropped). Each sink thread decodes into its own arena, calls
 * ingest, calls flush every interval, and at stop drains its queue and
 * flushes a last time before the shutdown deadline.
 *
 * Life cycle: open -> start -> (offer from any thread) -> stop -> free.
 */
#ifndef VN_SPANSINKS_RUNNER_H
#define VN_SPANSINKS_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "core/stats.h"
#include "spansinks/span_sink.h"

/** Bytes of spans one sink may hold waiting (a record costs its length + 4). */
#define VN_SPAN_QUEUE_BYTES (8u << 20)

typedef struct vn_span_sinks vn_span_sinks_t;

/**
 * Builds every cfg->span_sinks entry (an unknown kind is warned and skipped,
 * config validation has already named it). stats (borrowed, may be NULL)
 * gets one span_sinks slot per sink. *out is NULL when there are none.
 * VN_ERR_CONFIG / VN_ERR_IO with one line in errbuf when a sink cannot be built.
 */
vn_err_t vn_span_sinks_open(const vn_config_t *cfg, vn_stats_t *stats, vn_span_sinks_t **out, char *errbuf,
                            size_t errcap);

/**
 * As open, over sinks built by the caller (tests); takes ownership of each
 * sink, not of the array. queue_bytes 0 means VN_SPAN_QUEUE_BYTES.
 */
vn_span_sinks_t *vn_span_sinks_from(vn_span_sink_t **sinks, size_t n, size_t max_span, double interval_s,
                                    size_t queue_bytes, vn_stats_t *stats);

size_t vn_span_sinks_count(const vn_span_sinks_t *set);

/** Starts one thread per sink. NULL-safe. */
vn_err_t vn_span_sinks_start(vn_span_sinks_t *set);

/** The span worker hook: ctx is the set. Never blocks on a sink. Thread-safe. */
void vn_span_sinks_offer(void *ctx, const uint8_t *span, size_t len);

/** Drains every queue, final flush, joins; each sink gets until deadline_mono (core/clock.h). NULL-safe. */
void vn_span_sinks_stop(vn_span_sinks_t *set, double deadline_mono);
void vn_span_sinks_free(vn_span_sinks_t *set);

#endif
