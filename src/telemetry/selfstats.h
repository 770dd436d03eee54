/**
 * selfstats.h - the daemon's self-metrics as DogStatsD lines to `stats_address`
 * (Go: the datadog-go client with namespace "veneur." and client-side
 * aggregation per interval). Once per flush, counters of vn_stats_t become
 * deltas since the previous flush; names, types and tags follow Go (see
 * docs/operations.md for the table).
 *
 * The set of lines per interval is fixed by the config and the sink list, so
 * pointing stats_address at our own statsd port cannot feed back into more
 * self-metrics (only worker.metrics_processed_total's value follows them).
 */
#ifndef VN_TELEMETRY_SELFSTATS_H
#define VN_TELEMETRY_SELFSTATS_H

#include "config/config.h"
#include "core/err.h"
#include "core/stats.h"
#include "flush/flusher.h"

typedef struct vn_selfstats vn_selfstats_t;

/**
 * *out is NULL (and VN_OK) when stats_address is empty. cfg and stats are
 * borrowed and must outlive the result; stats->self_metrics_dropped is written after each report.
 */
vn_err_t vn_selfstats_new(const vn_config_t *cfg, vn_stats_t *stats, vn_selfstats_t **out, char *err,
                          size_t errcap);
/** Sends one interval's lines; called on the flusher thread (vn_flush_report_fn). NULL ok. */
void vn_selfstats_report(vn_selfstats_t *s, const vn_flush_report_t *r);
void vn_selfstats_free(vn_selfstats_t *s);

#endif
