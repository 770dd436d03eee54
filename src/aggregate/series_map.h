/**
 * series_map.h - one worker's series for one interval: an open-addressing hash
 * table of vn_series_t keyed by (type, scope, key bytes).
 *
 * A map is owned by one thread at a time (the worker while the interval is
 * open, then the flusher after the swap). Series and their keys live in the
 * map's arena and die with the map; samplers that own heap memory (digests,
 * HLLs, status strings) are released by vn_series_map_free.
 */
#ifndef VN_AGGREGATE_SERIES_MAP_H
#define VN_AGGREGATE_SERIES_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate/samplers.h"
#include "core/arena.h"

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

typedef struct vn_series_map {
    vn_series_t **slots;
    uint32_t *hashes;  /* parallel to slots: cheap probe before the key compare */
    size_t cap;        /* power of two */
    size_t count;
    size_t max_count;  /* 0 = unlimited; beyond it inserts fail (counted by caller) */
    size_t n_overflow;
    vn_series_overflow_t overflow[VN_OVERFLOW_NAMES + 1]; /* last slot: every other name */
    vn_arena_t arena;
} vn_series_map_t;

/** Returns an owned empty map; free with vn_series_map_free. */
vn_series_map_t *vn_series_map_new(size_t max_count);
void vn_series_map_free(vn_series_map_t *m);

/**
 * Finds the series for (type, scope, key) or creates it (zeroed sampler,
 * initialised for its type). Copies key on insert. Returns NULL only when the
 * map is at max_count.
 */
vn_series_t *vn_series_map_upsert(vn_series_map_t *m, uint32_t hash, uint8_t type, uint8_t scope, const char *key,
                                  size_t key_len);

/** Records one sample refused at the cap; key is "name\ntags" (only the name is kept). */
void vn_series_map_note_overflow(vn_series_map_t *m, const char *key, size_t key_len);

/** Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slots[i]) ... */

/** Approximate heap bytes held by the map (arena + table + sampler buffers). */
size_t vn_series_map_bytes(const vn_series_map_t *m);

#endif
