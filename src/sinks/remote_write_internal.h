/**
 * remote_write_internal.h - the Prometheus remote-write sink (kinds "cortex"
 * and "prometheus_remote_write"; docs/behaviour.md W4.6): the sink (remote_write.c), its
 * WriteRequest encoder (remote_write_pb.c) and the monotonic-counter store
 * (remote_write_counters.c). Only the sink registry and unit tests include this.
 */
#ifndef VN_SINKS_REMOTE_WRITE_INTERNAL_H
#define VN_SINKS_REMOTE_WRITE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "sinks/sink_internal.h"

/**
 * Constructor for kinds "cortex" and "prometheus_remote_write"
 * (sink_internal.h vn_sink_ctor_fn contract). VN_ERR_CONFIG names the key for
 * a missing/invalid url, a bad number or duration, or conflicting auth keys.
 */
vn_err_t vn_sink__remote_write_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                                   size_t errcap);

/* ---------------------------------------------------------------- encoder (remote_write_pb.c) */

/** Cap on the labels of one series (name + host + tags); further tags are left out. */
#define VN_RW_MAX_LABELS 256

/**
 * Appends the Prometheus name form of s[0..len) to out: every byte outside
 * [A-Za-z0-9_:] becomes '_' (one '_' per UTF-8 character, not per byte), and
 * a leading digit gets a '_' prefix (Go's sanitise, docs/behaviour.md W4.6, minus its NUL
 * bytes for multi-byte characters). VN_ERR_TOO_LARGE when out is full.
 */
vn_err_t vn_rw__sanitise(vn_buf_t *out, const char *s, size_t len);

/** Scratch state for building one series' labels; reused across series (one owner). */
typedef struct vn_rw_enc {
    vn_buf_t _text; /* sanitised names and repaired values of the series being built */
    struct vn_rw_label *_labels;
    size_t _n, _cap;
} vn_rw_enc_t;

void vn_rw__enc_init(vn_rw_enc_t *e);
void vn_rw__enc_free(vn_rw_enc_t *e);

/**
 * Appends one TimeSeries (WriteRequest field 1) to pb. Labels, sorted by name
 * (byte order) because receivers require it, each name at most once:
 *   __name__  sanitised name
 *   host      hostname (the configured one, as Go does)
 *   k         for each tag "k:v" (split at the first ':'): sanitised k -> v;
 *             tags without ':' are dropped; a later tag wins over an earlier
 *             one and over host; a tag named __name__ is dropped
 * Excluded tags (s->excluded_tags) are removed twice over: a tag whose text
 * starts with a rule (every veneur-c sink's rule), and a label whose name
 * equals the sanitised rule (Go's rule, which also removes `host`). Labels
 * with an empty value are left out (Prometheus treats them as absent); values
 * that are not valid UTF-8 get U+FFFD for each bad byte (receivers reject the
 * whole request otherwise). One sample: value as is, timestamp ts_ms.
 *
 * Returns VN_OK; VN_ERR_PARSE when the name sanitises to "" (nothing
 * appended); VN_ERR_TOO_LARGE when pb is full (pb restored to its length
 * before the call). s may be NULL (no exclusions). Borrows everything.
 */
vn_err_t vn_rw__append_series(vn_rw_enc_t *e, vn_buf_t *pb, const vn_sink_t *s, const char *name,
                              const char *const *tags, size_t ntags, const char *hostname, double value,
                              int64_t ts_ms);

/* ---------------------------------------------------------------- monotonic counters (remote_write_counters.c) */

/** One accumulated counter: name and sorted tags (owned), running sum. */
typedef struct vn_rw_counter {
    char *name; /* NULL = empty slot */
    char **tags;
    size_t ntags;
    double sum;
    uint64_t hash;
} vn_rw_counter_t;

/**
 * `convert_counters_to_monotonic`: counters summed forever, keyed by name +
 * tags (Go: name + sorted tags), emitted as cumulative series every flush.
 * Open addressing, at most max series (a new series past the cap is refused,
 * so memory stays bounded). Flush thread only.
 */
typedef struct vn_rw_counters {
    vn_rw_counter_t *slots; /* cap slots, cap a power of two (or 0) */
    size_t cap, n, max;
} vn_rw_counters_t;

void vn_rw__counters_init(vn_rw_counters_t *c, size_t max);
void vn_rw__counters_free(vn_rw_counters_t *c);
/** Adds value to the series (copies name and tags when new). VN_ERR_TOO_LARGE
 *  when the series is new and max series are held (nothing added). */
vn_err_t vn_rw__counters_add(vn_rw_counters_t *c, const char *name, const char *const *tags, size_t ntags,
                             double value);

#endif
