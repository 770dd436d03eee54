/**
 * prom_delta.h - Prometheus counters (cumulative) turned into statsd counter
 * increments between two scrapes of the same target (docs/behaviour.md W6.3).
 * Shared by tools/veneur-prometheus and the openmetrics source
 * (src/sources/), so both compute deltas, resets and first scrapes the same way.
 *
 * Each scrape records every counter under a caller-built key (name plus
 * labels, in any unambiguous encoding) in `next` and compares it with `last`,
 * the previous scrape that was used:
 *
 *   no scrape completed yet        -> 0 (no basis: Go veneur-prometheus's "first" state)
 *   key absent from last           -> the full value (a new series)
 *   value < last                   -> the full value (the target restarted)
 *   otherwise                      -> value - last (saturating)
 *
 * Only two generations are kept, so series that disappear are forgotten after
 * one scrape and memory follows the target's current size. Each generation is
 * a key-byte pool (capped: max_key_bytes), an entry array and an
 * open-addressing index, all reused from scrape to scrape (reset, not freed).
 *
 * Thread-safety: one owner.
 */
#ifndef VN_PARSE_PROM_DELTA_H
#define VN_PARSE_PROM_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** One scrape's counter values. Private. */
typedef struct vn_prom_delta_gen {
    vn_buf_t keys; /* key bytes of all entries */
    struct vn_prom_delta_entry *entries;
    uint32_t n, cap;
    uint32_t *index, mask; /* entry + 1, 0 empty */
} vn_prom_delta_gen_t;

/**
 * `last` holds the previous completed scrape, `next` the one being read.
 * vn_prom_delta_done makes next the new last; vn_prom_delta_abort drops next
 * (a scrape that is not used must not move the baseline).
 */
typedef struct vn_prom_delta {
    vn_prom_delta_gen_t last, next;
    bool have_last;          /* false until the first scrape completes */
    uint64_t overflow;       /* keys not stored because the generation's key pool was full */
    size_t max_key_bytes;    /* cap on one generation's key bytes */
} vn_prom_delta_t;

/** max_key_bytes: cap on the key bytes of one scrape (keys past it are not remembered, counted in overflow). */
void vn_prom_delta_init(vn_prom_delta_t *c, size_t max_key_bytes);
void vn_prom_delta_destroy(vn_prom_delta_t *c);
/**
 * Records value under key (copied) for the next scrape and returns the delta
 * to send (rules above). A key may repeat within a scrape (last value kept).
 */
int64_t vn_prom_delta_diff(vn_prom_delta_t *c, const char *key, size_t keylen, int64_t value);
void vn_prom_delta_done(vn_prom_delta_t *c);
void vn_prom_delta_abort(vn_prom_delta_t *c);
/** Entries in the last completed scrape. */
uint32_t vn_prom_delta_size(const vn_prom_delta_t *c);
/** A counter value as an int64: truncation, NaN -> 0, saturating at the ends. */
int64_t vn_prom_counter_int(double v);

#endif
