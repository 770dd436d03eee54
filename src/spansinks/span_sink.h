/**
 * span_sink.h - the span sink interface (Go sinks.SpanSink): where decoded SSF
 * spans go after the span workers (ssf/server.h) have taken the metrics out of
 * them. Configured with Go's `span_sinks` (kind, name, config) or the [v13] flat
 * keys (config/config.c translates those into entries of cfg->span_sinks).
 *
 * Threading and isolation: every span sink runs on its own thread
 * (spansinks/runner.h) fed by its own bounded byte queue. A span worker only
 * copies the span's protobuf bytes into each sink's queue (full: the span is
 * dropped for that sink and counted); the sink thread decodes them again into
 * its own arena and calls ingest, and calls flush once per interval and once
 * at shutdown. So a slow or dead span sink loses its own spans, never delays
 * the span workers, other span sinks or metric flushes.
 *
 * Ownership: the span passed to ingest (and every string and array inside) is
 * valid only for the duration of the call; a sink that keeps data copies it.
 */
#ifndef VN_SPANSINKS_SPAN_SINK_H
#define VN_SPANSINKS_SPAN_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "core/stats.h"
#include "ssf.pb-c.h"

typedef struct vn_span_sink vn_span_sink_t;

/** What ingest tells the runner about one span (counted per sink on /metrics). */
typedef enum vn_span_ingest_rc {
    VN_SPAN_TAKEN = 0,   /* buffered or sent */
    VN_SPAN_SKIPPED,     /* not for this sink: invalid trace (Go protocol.InvalidTrace), sampled out */
    VN_SPAN_DROPPED,     /* wanted but lost: the sink's own buffer is full, unencodable */
} vn_span_ingest_rc_t;

typedef struct vn_span_flush_info {
    int64_t timestamp;  /* unix seconds of the flush */
    double interval_s;  /* configured interval */
    double deadline_s;  /* monotonic seconds (core/clock.h) by which flush should return */
    bool final;         /* the shutdown flush: nothing is ingested after it */
} vn_span_flush_info_t;

typedef struct vn_span_sink_ops {
    const char *kind;
    /** One span (sink thread). Must not block for long: buffer, and send from flush. */
    vn_span_ingest_rc_t (*ingest)(vn_span_sink_t *s, const Ssf__SSFSpan *span);
    /** Once per interval and once at shutdown (sink thread). Optional. */
    void (*flush)(vn_span_sink_t *s, const vn_span_flush_info_t *info);
    /** Frees impl (after the last flush). */
    void (*destroy)(vn_span_sink_t *s);
} vn_span_sink_ops_t;

struct vn_span_sink {
    const vn_span_sink_ops_t *ops;
    char *name; /* owned */
    const char *kind; /* static */
    void *impl;
    /* excluded span tag prefixes from tags_exclude ("prefix" or "prefix|sink|..."),
     * owned by the registry; read-only for the sink (Go SetExcludedTags on span sinks) */
    const char *const *excluded_tags;
    size_t n_excluded_tags;
    /* self-metrics slot (core/stats.h), borrowed; NULL in unit tests. A sink with a
     * remote end counts what it delivered and what it lost there (delivered,
     * delivery_failed); the runner counts the rest. */
    vn_stats_span_sink_t *stats;
    const char *hostname; /* borrowed from the config: the configured hostname */
};

/**
 * Builds a span sink from its config entry (kinds in spansinks/registry.c).
 * Returns VN_ERR_CONFIG with a message naming the bad key, VN_ERR_IO when an
 * output cannot be opened, or VN_ERR_NOTFOUND for a kind we do not have (the
 * caller warns and skips it, as config validation has already reported it).
 * Borrows sc and cfg. *out is owned; free with vn_span_sink_free.
 */
vn_err_t vn_span_sink_new(const vn_sink_config_t *sc, const vn_config_t *cfg, vn_span_sink_t **out,
                          char *errbuf, size_t errcap);
void vn_span_sink_free(vn_span_sink_t *s);

/** True when a span tag key must not be written by s (prefix rule, as metric sinks). */
bool vn_span_sink_tag_excluded(const vn_span_sink_t *s, const char *key);

#endif
