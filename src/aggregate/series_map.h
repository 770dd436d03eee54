/**
 * series_map.h - one worker's series for one interval: an open-addressing hash
 * table of vn_series_t keyed by (type, scope, key bytes).
 *
 * A map is owned by one thread at a time (the worker while the interval is
 * open, then the flusher after the swap). Series, their keys and their sampler
 * structs live in the map's blocks (mmap'ed, in insertion order) and die with
 * the map; samplers that own heap memory (digests, HLLs, status strings) are
 * released by vn_series_map_free or by the draining walk (vn_series_map_take).
 *
 * Flush (issue 22): the flusher needs no lookups once the interval is closed,
 * so it drops the hash table first (vn_series_map_drop_index: ~24 bytes a
 * series back at once) and then takes the series in insertion order
 * (vn_series_map_take): a sequential read instead of one cache miss per
 * series, and each block goes back to the kernel as soon as it is walked, so
 * the map shrinks while the flush output grows.
 */
#ifndef VN_AGGREGATE_SERIES_MAP_H
#define VN_AGGREGATE_SERIES_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "aggregate/samplers.h"
#include "core/metric.h"

typedef struct vn_series {
    uint32_t hash;
    uint16_t key_len;
    uint8_t type;  /* vn_mtype_t */
    uint8_t scope; /* vn_scope_t */
    union {
        double counter;
        double gauge;
        vn_histo_t *histo;
        vn_hll_t *set;
        vn_status_t *status;
    } u;
    char key[]; /* name '\n' joined tags, NUL-terminated */
} vn_series_t;

/** Samples refused by the series cap, by metric name (bounded: the first names seen, then "other"). */
#define VN_OVERFLOW_NAMES 16
#define VN_OVERFLOW_NAME_MAX 96

typedef struct vn_series_overflow {
    char name[VN_OVERFLOW_NAME_MAX]; /* "" for the catch-all entry */
    uint64_t samples;
} vn_series_overflow_t;

/** "No limit" for vn_series_limits_t fields (0 is a real limit: refuse every new series). */
#define VN_SERIES_UNLIMITED SIZE_MAX

/**
 * What a series is charged against the byte budget: its key bytes plus
 * VN_SERIES_FIXED_COST (the vn_series_t, its sampler struct and its share of
 * the slot table, rounded up), plus the hostname and message bytes a service
 * check holds. Histogram digests and set HLLs grow after insertion and are
 * bounded per series by their own implementations, not charged here.
 */
#define VN_SERIES_FIXED_COST 128u

/**
 * Default `max_series_bytes_per_interval` (all workers together, split evenly):
 * 128 MiB, e.g. 1 M series with 100-byte keys. Keys are what a sender controls
 * (up to 64 KiB each) and the flush copies every key again, so this bounds
 * both the interval's maps and the flush's working set.
 */
#define VN_SERIES_DEFAULT_BYTES ((size_t)128 << 20)

/** Per-map limits; VN_SERIES_UNLIMITED disables one. */
typedef struct vn_series_limits {
    size_t max_count;     /* series */
    size_t max_bytes; /* charged bytes (see VN_SERIES_FIXED_COST) over the map's series */
} vn_series_limits_t;

/**
 * One worker's share of process-wide limits (total_count 0 = no series cap, as
 * `max_series_per_interval`). The count is split exactly: worker w gets
 * total/n plus one when w < total % n, so the shares add up to the total and a
 * total below n leaves some workers with 0 (they refuse every new series)
 * instead of rounding to "unlimited". Key bytes are split evenly the same way.
 */
vn_series_limits_t vn_series_limits_share(size_t total_count, size_t total_bytes, size_t nworkers,
                                          size_t worker);

typedef struct vn_series_map {
    vn_series_t **slots;
    uint32_t *hashes;  /* parallel to slots: cheap probe before the key compare */
    size_t cap;        /* power of two */
    size_t count;
    size_t max_count;  /* VN_SERIES_UNLIMITED = none; at it inserts fail (counted by caller) */
    size_t bytes;           /* charged so far, <= max_bytes */
    size_t max_bytes;       /* VN_SERIES_UNLIMITED = none */
    uint64_t refused_count; /* upserts refused by max_count (samples or imports) */
    uint64_t refused_bytes; /* upserts and status updates refused by max_bytes */
    size_t n_overflow;
    vn_series_overflow_t overflow[VN_OVERFLOW_NAMES + 1]; /* last slot: every other name */
    /* series per type x scope (types and scopes in range only): the flush's
     * report, without a pass over the slots that misses the cache per series */
    size_t by_type_scope[VN_MT__COUNT][3];
    struct vn_series_block *blocks; /* oldest first: insertion order; see vn_series_map_take */
    struct vn_series_block *last;   /* where new series go */
    size_t take_off;                /* vn_series_map_take's offset in blocks (the oldest block) */
    vn_series_t *taken;             /* returned by the last take: its sampler is released by the next */
} vn_series_map_t;

/**
 * Returns an owned empty map; free with vn_series_map_free. max_count 0 means
 * no cap and there is no byte budget (kept for tests and tools; the daemon
 * uses vn_series_map_new_limited).
 */
vn_series_map_t *vn_series_map_new(size_t max_count);

/** Returns an owned empty map bounded by *lim (copied). */
vn_series_map_t *vn_series_map_new_limited(const vn_series_limits_t *lim);
void vn_series_map_free(vn_series_map_t *m);

/* First probe slot of a hash (series_map.c's probe order; inline for the prefetch hints). */
static inline size_t vn_series_map__slot_of(uint32_t h, size_t mask)
{
    uint32_t x = h * 0x9E3779B1u;
    return (size_t)(x ^ (x >> 15)) & mask;
}

/**
 * Hints for a batch applier that knows the next hashes (aggregate/worker.c): an upsert
 * touches the hash and slot arrays, then the series, each a likely cache miss in a map of
 * thousands of series. _slots starts loading the first probe of hash; _series (some records
 * later, once those lines are in) starts loading the series found there. No effect on m.
 */
static inline void vn_series_map_prefetch_slots(const vn_series_map_t *m, uint32_t hash)
{
    size_t i = vn_series_map__slot_of(hash, m->cap - 1);
    __builtin_prefetch(&m->hashes[i]);
    __builtin_prefetch(&m->slots[i]);
}

static inline void vn_series_map_prefetch_series(const vn_series_map_t *m, uint32_t hash)
{
    const vn_series_t *s = m->slots[vn_series_map__slot_of(hash, m->cap - 1)];
    if (s)
        __builtin_prefetch(s, 1);
}
/**
 * Frees the heap memory of s's sampler (digest, HLL, status strings); the
 * series keeps its key and type but its sampler reads as empty afterwards.
 * Idempotent. Lets the flush release each series right after generating its
 * outputs, while its memory is still in cache, instead of in a second pass
 * over the whole map (vn_series_map_take does this for the series it walks).
 */
void vn_series_release_sampler(vn_series_t *s);

/**
 * Frees the hash table (slots, hashes; cap becomes 0): no upsert or slot
 * iteration afterwards, only vn_series_map_take and vn_series_map_free. For the
 * flusher, once forwarding and tallying (which iterate the slots) are done.
 */
void vn_series_map_drop_index(vn_series_map_t *m);

/**
 * Draining walk in insertion order: returns the next series, or NULL when
 * every series has been taken. The series returned stays valid until the next
 * call; that call releases its sampler (vn_series_release_sampler) and gives
 * back each block once it is walked. Works with or without the index, but an
 * upsert after the first take is not allowed.
 */
vn_series_t *vn_series_map_take(vn_series_map_t *m);

/**
 * Finds the series for (type, scope, key) or creates it (zeroed sampler,
 * initialised for its type). Copies key on insert. Returns NULL only when a
 * new series would pass max_count or max_bytes (refused_count or
 * refused_bytes is incremented; existing series are always found).
 */
vn_series_t *vn_series_map_upsert(vn_series_map_t *m, uint32_t hash, uint8_t type, uint8_t scope, const char *key,
                                  size_t key_len);

/**
 * Re-charges a series' variable bytes (service-check strings) from old_bytes to
 * new_bytes. Returns false, charging nothing and counting refused_bytes, when
 * the growth would pass max_bytes.
 */
bool vn_series_map_recharge(vn_series_map_t *m, size_t old_bytes, size_t new_bytes);

/** Records one sample refused at the cap; key is "name\ntags" (only the name is kept). */
void vn_series_map_note_overflow(vn_series_map_t *m, const char *key, size_t key_len);

/** Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slots[i]) ... */

#endif
