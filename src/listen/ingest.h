/**
 * ingest.h - the reader-side path from bytes to worker batches: split a packet
 * into lines, parse each line, build the series key and route the sample to its
 * worker's batch. One vn_ingest_t per reader thread (not thread-safe); it never
 * allocates per line.
 */
#ifndef VN_LISTEN_INGEST_H
#define VN_LISTEN_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/events.h"
#include "aggregate/worker.h"
#include "core/stats.h"
#include "parse/dogstatsd.h"

typedef struct vn_ingest_shared {
    const vn_parser_t *parser;   /* borrowed */
    vn_worker_t **workers;       /* borrowed */
    size_t nworkers;
    vn_event_store_t *events;    /* borrowed */
    vn_stats_t *stats;           /* borrowed */
} vn_ingest_shared_t;

typedef struct vn_ingest vn_ingest_t;

/** reader_id: this reader's index into every worker's rings. Returns owned. */
vn_ingest_t *vn_ingest_new(const vn_ingest_shared_t *shared, size_t reader_id);
void vn_ingest_free(vn_ingest_t *in);

/** Splits buf on '\n' and ingests every line; errors are counted per line. */
void vn_ingest_packet(vn_ingest_t *in, const char *buf, size_t len);

/** Ingests one line (no '\n'). Returns false if it was rejected (counted). */
bool vn_ingest_line(vn_ingest_t *in, const char *line, size_t len);

/**
 * Ingests one already-decoded sample (SSF spans, ssf/convert.h) exactly as a
 * parsed statsd line would be: same key, hash, worker, scope merge. tags must
 * be final (implicit tags applied, byte-wise sorted, no magic scope tags) and
 * free of ',' '\n' NUL; name free of '\n' NUL. member: the set member (VN_MT_SET)
 * or the status message (VN_MT_STATUS), else ignored. Never allocates. Returns
 * false when the sample was dropped (key too long or queue full; counted).
 */
bool vn_ingest_sample(vn_ingest_t *in, vn_str_t name, vn_mtype_t type, vn_scope_t scope, double value,
                      double rate, const vn_str_t *tags, size_t ntags, vn_str_t member);

/** Pushes partially filled batches to the workers; call after each read burst. */
void vn_ingest_commit(vn_ingest_t *in);

#endif
