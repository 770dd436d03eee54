/*
 * series_map.c - open addressing (linear probing) over a power-of-two table.
 * The 32-bit key hash is stored beside each slot so most probes never touch
 * the series itself. Load factor is kept <= 1/2. Deletion never happens: the
 * whole map is dropped after its interval is flushed.
 */
#include "aggregate/series_map.h"

#include <stdlib.h>
#include <string.h>

#include "core/metric.h"
#include "core/xalloc.h"

#define INITIAL_CAP 1024

vn_series_limits_t vn_series_limits_share(size_t total_count, size_t total_bytes, size_t nworkers,
                                          size_t worker)
{
    if (nworkers == 0)
        nworkers = 1;
    vn_series_limits_t l = {.max_count = VN_SERIES_UNLIMITED, .max_bytes = VN_SERIES_UNLIMITED};
    if (total_count)
        l.max_count = total_count / nworkers + (worker < total_count % nworkers);
    if (total_bytes != VN_SERIES_UNLIMITED)
        l.max_bytes = total_bytes / nworkers + (worker < total_bytes % nworkers);
    return l;
}

vn_series_map_t *vn_series_map_new_limited(const vn_series_limits_t *lim)
{
    vn_series_map_t *m = vn_xcalloc(1, sizeof *m);
    m->cap = INITIAL_CAP;
    m->slots = vn_xcalloc(m->cap, sizeof *m->slots);
    m->hashes = vn_xcalloc(m->cap, sizeof *m->hashes);
    m->max_count = lim->max_count;
    m->max_bytes = lim->max_bytes;
    vn_arena_init(&m->arena, 256 * 1024);
    return m;
}

vn_series_map_t *vn_series_map_new(size_t max_count)
{
    vn_series_limits_t lim = {.max_count = max_count ? max_count : VN_SERIES_UNLIMITED,
                              .max_bytes = VN_SERIES_UNLIMITED};
    return vn_series_map_new_limited(&lim);
}

void vn_series_release_sampler(vn_series_t *s)
{
    switch (s->type) {
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER: vn_histo_destroy(s->u.histo); break;
    case VN_MT_SET: vn_hll_destroy(s->u.set); break;
    case VN_MT_STATUS: vn_status_destroy(s->u.status); break;
    default: break;
    }
}

void vn_series_map_free(vn_series_map_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap && !m->samplers_released; i++) {
        /* as the flush's generate loop: slots are in hash order, so overlap the misses */
        if (i + 16 < m->cap && m->slots[i + 16])
            __builtin_prefetch(m->slots[i + 16]);
        if (m->slots[i])
            vn_series_release_sampler(m->slots[i]);
    }
    free(m->slots);
    free(m->hashes);
    vn_arena_destroy(&m->arena);
    free(m);
}

/* Spreads Go's FNV digest (weak low bits for similar keys) over the table. */
static inline size_t slot_of(uint32_t h, size_t mask) { return vn_series_map__slot_of(h, mask); }

static void grow(vn_series_map_t *m)
{
    size_t ncap = m->cap * 2, mask = ncap - 1;
    vn_series_t **ns = vn_xcalloc(ncap, sizeof *ns);
    uint32_t *nh = vn_xcalloc(ncap, sizeof *nh);
    for (size_t i = 0; i < m->cap; i++) {
        vn_series_t *s = m->slots[i];
        if (!s)
            continue;
        size_t j = slot_of(s->hash, mask);
        while (ns[j])
            j = (j + 1) & mask;
        ns[j] = s;
        nh[j] = s->hash;
    }
    free(m->slots);
    free(m->hashes);
    m->slots = ns;
    m->hashes = nh;
    m->cap = ncap;
}

vn_series_t *vn_series_map_upsert(vn_series_map_t *m, uint32_t hash, uint8_t type, uint8_t scope, const char *key,
                                  size_t key_len)
{
    size_t mask = m->cap - 1;
    size_t i = slot_of(hash, mask);
    for (;;) {
        vn_series_t *s = m->slots[i];
        if (!s)
            break;
        if (m->hashes[i] == hash && s->type == type && s->scope == scope && s->key_len == key_len &&
            memcmp(s->key, key, key_len) == 0)
            return s;
        i = (i + 1) & mask;
    }
    /* Both checks before anything is allocated: the key copy is what a hostile
     * sender makes expensive (up to 64 KiB per series). */
    if (m->count >= m->max_count) {
        m->refused_count++;
        return NULL;
    }
    size_t cost = key_len + VN_SERIES_FIXED_COST;
    if (cost > m->max_bytes - m->bytes) { /* bytes <= max_bytes always */
        m->refused_bytes++;
        return NULL;
    }
    vn_series_t *s = vn_arena_alloc(&m->arena, sizeof *s + key_len + 1);
    s->hash = hash;
    s->key_len = (uint16_t)key_len;
    s->type = type;
    s->scope = scope;
    memcpy(s->key, key, key_len);
    s->key[key_len] = '\0';
    switch (type) {
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER:
        s->u.histo = vn_arena_alloc(&m->arena, sizeof *s->u.histo);
        vn_histo_init(s->u.histo);
        break;
    case VN_MT_SET:
        s->u.set = vn_arena_alloc(&m->arena, sizeof *s->u.set);
        vn_hll_init(s->u.set);
        break;
    case VN_MT_STATUS:
        s->u.status = vn_arena_alloc(&m->arena, sizeof *s->u.status);
        memset(s->u.status, 0, sizeof *s->u.status);
        break;
    default: s->u.counter = 0; break;
    }
    m->slots[i] = s;
    m->hashes[i] = hash;
    m->count++;
    m->bytes += cost;
    if (m->count * 2 > m->cap)
        grow(m);
    return s;
}

bool vn_series_map_recharge(vn_series_map_t *m, size_t old_bytes, size_t new_bytes)
{
    if (new_bytes > old_bytes && new_bytes - old_bytes > m->max_bytes - m->bytes) {
        m->refused_bytes++;
        return false;
    }
    m->bytes = m->bytes - old_bytes + new_bytes; /* old_bytes was charged before, so no underflow */
    return true;
}

void vn_series_map_note_overflow(vn_series_map_t *m, const char *key, size_t key_len)
{
    const char *nl = memchr(key, '\n', key_len);
    size_t nlen = nl ? (size_t)(nl - key) : key_len;
    if (nlen >= VN_OVERFLOW_NAME_MAX)
        nlen = VN_OVERFLOW_NAME_MAX - 1;
    for (size_t i = 0; i < m->n_overflow; i++)
        if (strncmp(m->overflow[i].name, key, nlen) == 0 && m->overflow[i].name[nlen] == '\0') {
            m->overflow[i].samples++;
            return;
        }
    if (m->n_overflow < VN_OVERFLOW_NAMES) {
        vn_series_overflow_t *o = &m->overflow[m->n_overflow++];
        memcpy(o->name, key, nlen);
        o->name[nlen] = '\0';
        o->samples = 1;
        return;
    }
    m->overflow[VN_OVERFLOW_NAMES].samples++; /* name "" = all other names */
}
