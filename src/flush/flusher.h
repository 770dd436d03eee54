/**
 * flusher.h - the interval loop: every `interval` it swaps each worker's map,
 * turns the series into output metrics (docs/behaviour.md 2.4-2.7, 3) and hands them to
 * every sink. A flush on stop drains what is held (docs/behaviour.md 0.7).
 *
 * Threading: one flusher thread; every sink has its own thread and queue
 * (flush/sink_runner.h) fed with shared chunks, so no sink can delay the
 * ticker or another sink.
 */
#ifndef VN_FLUSH_FLUSHER_H
#define VN_FLUSH_FLUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/events.h"
#include "aggregate/series_map.h"
#include "aggregate/worker.h"
#include "config/config.h"
#include "core/arena.h"
#include "core/metric.h"
#include "core/stats.h"
#include "forward/forward.h"
#include "listen/listeners.h"
#include "sinks/sink.h"

/** What one completed flush did, for self-metrics and the flush watchdog (telemetry/). */
typedef struct vn_flush_report {
    int64_t done_unix_ns;                 /* wall clock when the flush completed */
    size_t series;                        /* series in the swapped maps (unique timeseries) */
    uint64_t by_type_scope[VN_MT__COUNT][3]; /* series per vn_mtype_t x vn_scope_t */
} vn_flush_report_t;
/** Called on the flusher thread after every flush; must not block. */
typedef void (*vn_flush_report_fn)(void *ctx, const vn_flush_report_t *r);

typedef struct vn_flusher_opts {
    const vn_config_t *cfg;     /* borrowed */
    vn_worker_t **workers;      /* borrowed */
    size_t nworkers;
    vn_sink_t **sinks;          /* borrowed; see vn_flusher_stop for the one write */
    size_t nsinks;
    vn_event_store_t *events;   /* borrowed, may be NULL */
    vn_stats_t *stats;          /* borrowed */
    vn_forward_t *forward;      /* borrowed, may be NULL: forwarding to a global (issue 6) */
    vn_listeners_t *listeners;  /* borrowed, may be NULL: asked to commit before each swap */
    vn_flush_report_fn on_flush; /* may be NULL */
    void *on_flush_ctx;
} vn_flusher_opts_t;

typedef struct vn_flusher vn_flusher_t;

/** Output metrics per chunk handed to the sinks (a sink may be called several times per interval). */
#define VN_FLUSH_CHUNK_MAX_METRICS 16384
/**
 * Bytes per chunk (vn_flush_output_bytes: strings and metrics array). With long
 * keys a count alone lets one chunk copy the whole map; this bounds what the
 * flush holds beside the maps to a few chunks per sink queue.
 */
#define VN_FLUSH_CHUNK_MAX_BYTES ((size_t)8 << 20)
/** vn_flusher_stop's drain budget for the sinks, counted from the call. */
#define VN_FLUSHER_STOP_GRACE_S 20.0
/** How long a flush waits for the statsd readers' commit (vn_listeners_commit) before it swaps anyway:
 * two and a half CFS periods, so a reader throttled by a CPU quota still gets to answer. */
#define VN_FLUSH_COMMIT_WAIT_S 0.25

/** Starts the ticker thread. Returns owned. */
vn_flusher_t *vn_flusher_start(const vn_flusher_opts_t *opts);
/**
 * Stops the ticker; when final is true, runs one last flush first. Then the
 * sinks' runners deliver what is queued until deadline_mono (CLOCK_MONOTONIC
 * seconds, core/clock.h vn_clock_mono_s): a slow but healthy sink gets the rest of
 * the shutdown budget for the final interval. A sink still inside a flush call
 * at the deadline (stuck in the kernel: a hung NFS mount, a FIFO nobody
 * drains) is abandoned, and its entry in opts->sinks is set to NULL so the
 * caller does not free a sink another thread still uses. NULL ok.
 */
void vn_flusher_stop_by(vn_flusher_t *f, bool final, double deadline_mono);
/** vn_flusher_stop_by with a deadline VN_FLUSHER_STOP_GRACE_S from now. */
void vn_flusher_stop(vn_flusher_t *f, bool final);
void vn_flusher_free(vn_flusher_t *f);

/** The metrics produced from some maps; strings live in the arena. */
typedef struct vn_flush_output {
    vn_inter_metric_t *m;
    size_t n, cap;
    vn_arena_t arena;
} vn_flush_output_t;

void vn_flush_output_init(vn_flush_output_t *o);
void vn_flush_output_destroy(vn_flush_output_t *o);
/**
 * Shrinks o's metrics array to what doubling from 1024 would have made for
 * o->n metrics, when it is larger (vn_flush_generate_drain sizes it for a full
 * chunk up front): the last, partial chunk of a flush, or a small interval's
 * only one, then weighs in the sink queues' byte caps what it did before.
 */
void vn_flush_output_fit(vn_flush_output_t *o);
/** Bytes o holds: its arena's chunks plus the metrics array (what a queued chunk costs). */
size_t vn_flush_output_bytes(const vn_flush_output_t *o);

/** Per-flush generation settings (derived from the config once). */
typedef struct vn_flush_rules {
    unsigned aggregates;
    const double *percentiles;
    const char *const *pct_names;
    size_t npct;
    bool is_local;              /* forward_address set */
    const char *hostname;
} vn_flush_rules_t;

/**
 * Appends the output metrics of every series in map to out (docs/behaviour.md 2.7 rules).
 * Borrows map (not modified except digest compaction). timestamp in unix seconds.
 */
void vn_flush_generate(const vn_series_map_t *map, const vn_flush_rules_t *rules, int64_t timestamp,
                       vn_flush_output_t *out);

/**
 * Like vn_flush_generate, from slot `start`, stopping once out holds `limit`
 * metrics (it may pass limit by one series' worth). Returns the slot to resume
 * from; map->cap when the map is done. Lets the flusher hand sinks bounded
 * chunks, so peak memory does not grow with the number of series.
 */
size_t vn_flush_generate_from(const vn_series_map_t *map, size_t start, size_t limit, const vn_flush_rules_t *rules,
                              int64_t timestamp, vn_flush_output_t *out);

/**
 * Like vn_flush_generate_from, also stopping once out holds max_bytes
 * (vn_flush_output_bytes; it may pass it by one series' outputs). Long keys make
 * a few metrics weigh megabytes, so a count alone does not bound a chunk.
 * Both limits are checked only between series: one series' outputs (a
 * histogram's max, count, percentiles, ...) always land in one chunk, which
 * sinks that rebuild a histogram rely on (sinks/sink.h, hist_part).
 */
size_t vn_flush_generate_bounded(const vn_series_map_t *map, size_t start, size_t max_metrics, size_t max_bytes,
                                 const vn_flush_rules_t *rules, int64_t timestamp, vn_flush_output_t *out);
/**
 * The flusher's path: generates from the series not yet taken
 * (vn_series_map_take: insertion order, each sampler released and each block
 * given back once walked), stopping once out holds max_metrics or max_bytes
 * (checked between series, as vn_flush_generate_bounded). Returns true when
 * map has no series left; map is then for vn_series_map_free only. Works
 * after vn_series_map_drop_index, which the flusher calls first.
 */
bool vn_flush_generate_drain(vn_series_map_t *map, size_t max_metrics, size_t max_bytes, const vn_flush_rules_t *r,
                             int64_t timestamp, vn_flush_output_t *out);

#endif
