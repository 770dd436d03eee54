/**
 * sink.h - the metric sink interface. The flusher calls every sink with the
 * interval's flushed metrics (in chunks of at most 16384 metrics and about 8 MiB,
 * flush/flusher.h, so a sink may be called several times per interval); adding a
 * sink never touches the flusher.
 *
 * Threading: each sink has its own flush thread (flush/sink_runner.h); its
 * flush and flush_events are called from it, one call at a time, interval by
 * interval (never two intervals in one call). A sink that blocks delays only
 * itself; it should still give up by the deadline in vn_flush_info_t (its
 * interval start + interval), or its queue drops whole old intervals (counted).
 *
 * Ownership: the metrics array and every string inside are owned by the flusher
 * and valid only for the duration of the call; a sink that keeps data copies it.
 *
 * Histogram/timer provenance: every metric the flusher derives from one
 * histogram or timer series (x.max, x.count, x.50percentile, ...) carries
 * its hist_part and hist_base_len = strlen("x"): the series name is the first
 * hist_base_len bytes of name (a length, not a copy of the name: histograms
 * are most of the flushed bytes). All other metrics have hist_part NONE and
 * hist_base_len 0 (zero-init), so sinks that ignore these fields see the flat
 * form unchanged. The parts of one series are adjacent in the array (routing
 * may drop some, never reorders) and never straddle two chunks: the flusher
 * closes a chunk only between series (flush/flusher.h), so a sink can rebuild
 * the series from one call without buffering across calls.
 */
#ifndef VN_SINKS_SINK_H
#define VN_SINKS_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "core/event.h"

/** Output types (Go InterMetric.Type numbering). */
typedef enum vn_im_type { VN_IM_COUNTER = 0, VN_IM_GAUGE = 1, VN_IM_STATUS = 2 } vn_im_type_t;

/** Which output of a histogram/timer series a metric is (sink.h header comment). */
typedef enum vn_hist_part {
    VN_HP_NONE = 0, /* not derived from a histogram/timer */
    VN_HP_PERCENTILE, /* quantile in vn_inter_metric_t.quantile (0.5 for x.50percentile) */
    VN_HP_MIN,
    VN_HP_MAX,
    VN_HP_COUNT,
    VN_HP_SUM,
    VN_HP_AVG,
    VN_HP_MEDIAN,
    VN_HP_HMEAN,
} vn_hist_part_t;

typedef struct vn_inter_metric {
    const char *name;
    int64_t timestamp; /* unix seconds of the flush */
    double value;      /* counters: raw interval sum, not a rate */
    const char *const *tags; /* sorted */
    size_t ntags;
    vn_im_type_t type;
    const char *message;  /* status checks; NULL otherwise */
    const char *hostname; /* status check h: host, else the configured hostname ("" allowed) */
    const char *sink_only; /* veneursinkonly:NAME target, or NULL for every sink */
    vn_hist_part_t hist_part;
    size_t hist_base_len; /* hist_part != NONE: name[0..hist_base_len) is the series name */
    double quantile; /* VN_HP_PERCENTILE only: 0..1 */
} vn_inter_metric_t;

typedef struct vn_flush_info {
    int64_t timestamp;   /* unix seconds */
    double interval_s;   /* configured interval */
    const char *hostname;
    double deadline_s;   /* monotonic seconds by which the flush must return */
} vn_flush_info_t;

typedef struct vn_sink vn_sink_t;

typedef struct vn_sink_ops {
    const char *kind;
    /** Delivers a chunk of the interval's metrics. Returns VN_OK or an error (counted, logged by caller). */
    vn_err_t (*flush)(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info);
    /** Optional: events of the interval. */
    void (*flush_events)(vn_sink_t *s, const vn_sink_event_t *ev, size_t n, const vn_flush_info_t *info);
    /** Frees impl. */
    void (*destroy)(vn_sink_t *s);
} vn_sink_ops_t;

struct vn_sink {
    const vn_sink_ops_t *ops;
    char *name; /* owned */
    void *impl;
    /* per-sink tag prefixes resolved from tags_exclude ("prefix" or "prefix|sink|...");
     * owned by the registry, freed by vn_sink_free; read-only for the sink */
    const char *const *excluded_tags;
    size_t n_excluded_tags;
    /* the sink's self-metrics slot (core/stats.h), borrowed: set by the flusher
     * before its thread starts, NULL when not wired (unit tests). Sinks with a
     * remote end update its delivery counters from their flush call. */
    struct vn_stats_sink *stats;
};

/**
 * Builds a sink from its config entry. Known kinds: "debug", "localfile" (more
 * added by later issues in sinks/registry.c). Returns VN_ERR_CONFIG with a message
 * naming the bad key, VN_ERR_IO when an output cannot be opened (debug `output`),
 * or VN_ERR_NOTFOUND for an unknown kind; errbuf (may be NULL) gets one line.
 * Borrows sc and cfg (not kept). *out is owned; free with vn_sink_free.
 */
vn_err_t vn_sink_new(const vn_sink_config_t *sc, const vn_config_t *cfg, vn_sink_t **out, char *errbuf,
                     size_t errcap);
void vn_sink_free(vn_sink_t *s);

/**
 * The tag prefixes `tags_exclude` removes for the sink named name (rules
 * "prefix" or "prefix|sink|..."; empty prefixes dropped). *out is owned (NULL
 * when none): free with vn_sink_excluded_tags_free. Span sinks use it too.
 */
void vn_sink_excluded_tags_resolve(const vn_config_t *cfg, const char *name, const char *const **out, size_t *nout);
void vn_sink_excluded_tags_free(const char *const *tags, size_t n);

#endif
