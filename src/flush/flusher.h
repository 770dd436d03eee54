/**
 * flusher.h - the interval loop: every `interval` it swaps each worker's map,
 * turns the series into output metrics (SPEC.md 2.4-2.7, 3) and hands them to
 * every sink. A flush on stop drains what is held (SPEC 0.7).
 *
 * Threading: one flusher thread; every sink has its own thread and queue
 * (flush/sink_runner.h) fed with shared chunks, so no sink can delay the
 * ticker or another sink.
 */
#ifndef VN_FLUSH_FLUSHER_H
#define VN_FLUSH_FLUSHER_H

#include <stdbool.h>
#include <stddef.h>

#include "aggregate/events.h"
#include "aggregate/series_map.h"
#include "aggregate/worker.h"
#include "config/config.h"
#include "core/arena.h"
#include "core/stats.h"
#include "forward/forward.h"
#include "sinks/sink.h"

typedef struct vn_flusher_opts {
    const vn_config_t *cfg;     /* borrowed */
    vn_worker_t **workers;      /* borrowed */
    size_t nworkers;
    vn_sink_t **sinks;          /* borrowed; see vn_flusher_stop for the one write */
    size_t nsinks;
    vn_event_store_t *events;   /* borrowed, may be NULL */
    vn_stats_t *stats;          /* borrowed */
    vn_forward_t *forward;      /* borrowed, may be NULL: forwarding to a global (issue 6) */
} vn_flusher_opts_t;

typedef struct vn_flusher vn_flusher_t;

/** Starts the ticker thread. Returns owned. */
vn_flusher_t *vn_flusher_start(const vn_flusher_opts_t *opts);
/**
 * Stops the ticker; when final is true, runs one last flush first. Then each
 * sink's runner gets min(interval, 5 s) to deliver what is queued; a sink still
 * inside a flush call after that (stuck in the kernel: a hung NFS mount, a
 * FIFO nobody drains) is abandoned, and its entry in opts->sinks is set to NULL
 * so the caller does not free a sink another thread still uses. NULL ok.
 */
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
 * Appends the output metrics of every series in map to out (SPEC 2.7 rules).
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

#endif
