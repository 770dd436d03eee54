/**
 * sources.h - the daemon's metric sources (Go `sources`): each entry scrapes
 * on its own thread and hands samples to the aggregation workers through the
 * ingest API, as a statsd reader does (listen/ingest.h), with its own reader id.
 * Only the `openmetrics` kind exists (sources/openmetrics.h).
 *
 * Why a thread per source: a scrape blocks on HTTP for up to scrape_timeout,
 * and one slow target must not delay another's ticks.
 *
 * Life cycle: open (validate every entry; config errors are fatal, as Go's
 * ParseConfig errors are) -> reader_count (workers are sized with it) ->
 * start -> stop (ends an in-flight scrape at once, joins, commits pending
 * batches; call before the final flush) -> free.
 *
 * Memory per source: the scrape body (max_body_bytes; allocated per scrape
 * and freed after it), the parsed document (bounded by max_series) and the
 * counter baseline (two scrapes of keys), both reused between scrapes.
 */
#ifndef VN_SOURCES_SOURCES_H
#define VN_SOURCES_SOURCES_H

#include <stddef.h>

#include "config/config.h"
#include "core/err.h"
#include "core/stats.h"
#include "listen/ingest.h"

typedef struct vn_sources vn_sources_t;

/**
 * Validates and builds every cfg->sources entry. *out is NULL when there are
 * none. An unknown kind is an error here (Go would crash on it); the config
 * loader has already warned about it. stats is borrowed (may be NULL in tests).
 * VN_ERR_CONFIG with one line in err.
 */
vn_err_t vn_sources_open(const vn_config_t *cfg, vn_stats_t *stats, vn_sources_t **out, char *err, size_t errcap);

/** Reader ids the sources need (one per source); 0 for NULL. */
size_t vn_sources_reader_count(const vn_sources_t *s);

/** Starts one thread per source; source i uses reader id first_reader + i. shared is copied. NULL-safe. */
vn_err_t vn_sources_start(vn_sources_t *s, const vn_ingest_shared_t *shared, size_t first_reader);

/** Stops and joins every source thread (an in-flight scrape is cancelled). NULL-safe, idempotent. */
void vn_sources_stop(vn_sources_t *s);

/** Stops if needed and frees. NULL-safe. */
void vn_sources_free(vn_sources_t *s);

#endif
