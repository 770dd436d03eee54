/*
 * cache.c - counter values of the previous scrape, for deltas (docs/behaviour.md W6.3).
 *
 * Prometheus counters are cumulative; statsd counters are increments. Each
 * scrape records every counter under its key (metric name, then each tag
 * preceded by a 0xff byte -- a byte valid UTF-8 never contains, so, unlike
 * Go's "-"-joined key, `a:b-c` and `a:b`,`c` cannot collide) in `next`, and
 * compares it with `last`, the previous scrape that was sent:
 *
 *   no scrape completed yet        -> 0 (no basis: Go's "first" state)
 *   key absent from last           -> the full value (a new series)
 *   value < last                   -> the full value (the target restarted)
 *   otherwise                      -> value - last
 *
 * Only two generations are kept, so series that disappear are forgotten after
 * one scrape and memory follows the target's current size. Each generation is
 * a key-byte pool, an entry array and an open-addressing index, all reused
 * from scrape to scrape (reset, not freed).
 */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "prom.h"

struct vn_pm_entry {
    uint64_t hash;
    uint32_t off, len; /* in gen->keys */
    int64_t value;
};

static void gen_init(vn_pm_gen_t *g)
{
    memset(g, 0, sizeof *g);
    vn_buf_init(&g->keys, VN_PM_MAX_CACHE_BYTES);
}

static void gen_destroy(vn_pm_gen_t *g)
{
    vn_buf_free(&g->keys);
    free(g->entries);
    free(g->index);
    memset(g, 0, sizeof *g);
}

static void gen_reset(vn_pm_gen_t *g)
{
    vn_buf_reset(&g->keys);
    g->n = 0;
    if (g->index)
        memset(g->index, 0, ((size_t)g->mask + 1) * sizeof *g->index);
}

static struct vn_pm_entry *gen_find(const vn_pm_gen_t *g, uint64_t h, const char *key, size_t len)
{
    if (!g->index)
        return NULL;
    const char *pool = vn_buf_ptr(&g->keys);
    for (uint32_t j = (uint32_t)h & g->mask, v; (v = g->index[j]) != 0; j = (j + 1) & g->mask) {
        struct vn_pm_entry *e = &g->entries[v - 1];
        if (e->hash == h && e->len == len && memcmp(pool + e->off, key, len) == 0)
            return e;
    }
    return NULL;
}

static void gen_index(vn_pm_gen_t *g, uint32_t i)
{
    uint32_t j = (uint32_t)g->entries[i].hash & g->mask;
    while (g->index[j])
        j = (j + 1) & g->mask;
    g->index[j] = i + 1;
}

/* Inserts or overwrites; false when the key pool is full. */
static bool gen_put(vn_pm_gen_t *g, uint64_t h, const char *key, size_t len, int64_t value)
{
    struct vn_pm_entry *e = gen_find(g, h, key, len);
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
    g->entries[i] = (struct vn_pm_entry){h, (uint32_t)off, (uint32_t)len, value};
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

void vn_pm_cache_init(vn_pm_cache_t *c)
{
    memset(c, 0, sizeof *c);
    gen_init(&c->last);
    gen_init(&c->next);
}

void vn_pm_cache_destroy(vn_pm_cache_t *c)
{
    if (!c)
        return;
    gen_destroy(&c->last);
    gen_destroy(&c->next);
    c->have_last = false;
}

int64_t vn_pm_cache_diff(vn_pm_cache_t *c, const char *key, size_t keylen, int64_t value)
{
    uint64_t h = vn_fnv1a64(key, keylen);
    if (!gen_put(&c->next, h, key, keylen, value) && c->overflow++ == 0)
        VN_LOG(WARN, "event=cache_full limit_bytes=%u msg=\"counter keys past the limit are not remembered\"",
               VN_PM_MAX_CACHE_BYTES);
    if (!c->have_last)
        return 0;
    const struct vn_pm_entry *prev = gen_find(&c->last, h, key, keylen);
    if (!prev || prev->value > value)
        return value;
    int64_t d;
    if (__builtin_sub_overflow(value, prev->value, &d))
        d = INT64_MAX; /* value >= prev, so only the positive side can overflow */
    return d;
}

void vn_pm_cache_done(vn_pm_cache_t *c)
{
    vn_pm_gen_t t = c->last;
    c->last = c->next;
    c->next = t;
    gen_reset(&c->next);
    c->have_last = true;
}

void vn_pm_cache_abort(vn_pm_cache_t *c) { gen_reset(&c->next); }

uint32_t vn_pm_cache_size(const vn_pm_cache_t *c) { return c->have_last ? c->last.n : 0; }
