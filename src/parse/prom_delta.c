/*
 * prom_delta.c - counter deltas between scrapes (see prom_delta.h).
 *
 * Keys are hashed with FNV-1a 64; a generation is an append-only key pool plus
 * entries and an open-addressing index rebuilt when half full.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "parse/prom_delta.h"

struct vn_prom_delta_entry {
    uint64_t hash;
    uint32_t off, len; /* in gen->keys */
    int64_t value;
};

static void gen_init(vn_prom_delta_gen_t *g, size_t max_key_bytes)
{
    memset(g, 0, sizeof *g);
    vn_buf_init(&g->keys, max_key_bytes);
}

static void gen_destroy(vn_prom_delta_gen_t *g)
{
    vn_buf_free(&g->keys);
    free(g->entries);
    free(g->index);
    memset(g, 0, sizeof *g);
}

static void gen_reset(vn_prom_delta_gen_t *g)
{
    vn_buf_reset(&g->keys);
    g->n = 0;
    if (g->index)
        memset(g->index, 0, ((size_t)g->mask + 1) * sizeof *g->index);
}

static struct vn_prom_delta_entry *gen_find(const vn_prom_delta_gen_t *g, uint64_t h, const char *key, size_t len)
{
    if (!g->index)
        return NULL;
    const char *pool = vn_buf_ptr(&g->keys);
    for (uint32_t j = (uint32_t)h & g->mask, v; (v = g->index[j]) != 0; j = (j + 1) & g->mask) {
        struct vn_prom_delta_entry *e = &g->entries[v - 1];
        if (e->hash == h && e->len == len && memcmp(pool + e->off, key, len) == 0)
            return e;
    }
    return NULL;
}

static void gen_index(vn_prom_delta_gen_t *g, uint32_t i)
{
    uint32_t j = (uint32_t)g->entries[i].hash & g->mask;
    while (g->index[j])
        j = (j + 1) & g->mask;
    g->index[j] = i + 1;
}

/* Inserts or overwrites; false when the key pool is full. */
static bool gen_put(vn_prom_delta_gen_t *g, uint64_t h, const char *key, size_t len, int64_t value)
{
    struct vn_prom_delta_entry *e = gen_find(g, h, key, len);
    if (e) {
        e->value = value;
        return true;
    }
    size_t off = vn_buf_len(&g->keys);
    if (len > UINT32_MAX || vn_buf_add(&g->keys, key, len) != VN_OK)
        return false;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->entries = vn_xrealloc(g->entries, (size_t)g->cap * sizeof *g->entries);
    }
    uint32_t i = g->n++;
    g->entries[i] = (struct vn_prom_delta_entry){h, (uint32_t)off, (uint32_t)len, value};
    if (!g->index || (uint64_t)g->n * 2 > (uint64_t)g->mask + 1) {
        uint32_t slots = g->index ? (g->mask + 1) * 2 : 2048;
        free(g->index);
        g->index = vn_xcalloc(slots, sizeof *g->index);
        g->mask = slots - 1;
        for (uint32_t k = 0; k < g->n; k++)
            gen_index(g, k);
    } else {
        gen_index(g, i);
    }
    return true;
}

void vn_prom_delta_init(vn_prom_delta_t *c, size_t max_key_bytes)
{
    memset(c, 0, sizeof *c);
    c->max_key_bytes = max_key_bytes;
    gen_init(&c->last, max_key_bytes);
    gen_init(&c->next, max_key_bytes);
}

void vn_prom_delta_destroy(vn_prom_delta_t *c)
{
    if (!c)
        return;
    gen_destroy(&c->last);
    gen_destroy(&c->next);
    c->have_last = false;
}

int64_t vn_prom_delta_diff(vn_prom_delta_t *c, const char *key, size_t keylen, int64_t value)
{
    uint64_t h = vn_fnv1a64(key, keylen);
    if (!gen_put(&c->next, h, key, keylen, value) && c->overflow++ == 0)
        VN_LOG(WARN, "event=cache_full limit_bytes=%zu msg=\"counter keys past the limit are not remembered\"",
               c->max_key_bytes);
    if (!c->have_last)
        return 0;
    const struct vn_prom_delta_entry *prev = gen_find(&c->last, h, key, keylen);
    if (!prev || prev->value > value)
        return value;
    int64_t d;
    if (__builtin_sub_overflow(value, prev->value, &d))
        d = INT64_MAX; /* value >= prev, so only the positive side can overflow */
    return d;
}

void vn_prom_delta_done(vn_prom_delta_t *c)
{
    vn_prom_delta_gen_t t = c->last;
    c->last = c->next;
    c->next = t;
    gen_reset(&c->next);
    c->have_last = true;
}

void vn_prom_delta_abort(vn_prom_delta_t *c) { gen_reset(&c->next); }

uint32_t vn_prom_delta_size(const vn_prom_delta_t *c) { return c->have_last ? c->last.n : 0; }

int64_t vn_prom_counter_int(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775808.0)
        return INT64_MAX;
    if (v < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}
