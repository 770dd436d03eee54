/*
 * remote_write_counters.c - the remote-write sink's `convert_counters_to_monotonic`
 * store: every counter series seen since start, with its running sum, so each
 * flush can send Prometheus-style cumulative counters instead of per-interval
 * deltas (Go's CortexMetricSink.counters, docs/behaviour.md W4.6).
 *
 * Key: name + tags. Flushed tags arrive sorted (sink.h), so the tag list is
 * compared as is; Go joins the sorted tags with "|" into a string key, which
 * confuses a tag containing '|' with two tags - we compare the lists.
 *
 * Open addressing with linear probing, XXH3-64 of the key, load factor <= 1/2;
 * never shrinks (series are never forgotten, as in Go). Unlike Go the store is
 * capped (`monotonic_max_series`): a new series past the cap is refused and
 * counted as dropped by the caller, so memory is bounded.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/xalloc.h"
#include "sinks/remote_write_internal.h"

void vn_rw__counters_init(vn_rw_counters_t *c, size_t max)
{
    memset(c, 0, sizeof *c);
    c->max = max;
}

static void free_entry(vn_rw_counter_t *e)
{
    for (size_t i = 0; i < e->ntags; i++)
        free(e->tags[i]);
    free(e->tags);
    free(e->name);
}

void vn_rw__counters_free(vn_rw_counters_t *c)
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].name)
            free_entry(&c->slots[i]);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

static uint64_t key_hash(const char *name, const char *const *tags, size_t ntags)
{
    /* each string hashed with its NUL, so ("ab",[]) and ("a",["b"]) differ */
    uint64_t h = XXH3_64bits(name, strlen(name) + 1);
    for (size_t i = 0; i < ntags; i++)
        h = XXH3_64bits_withSeed(tags[i], strlen(tags[i]) + 1, h);
    return h;
}

static bool key_eq(const vn_rw_counter_t *e, uint64_t h, const char *name, const char *const *tags, size_t ntags)
{
    if (e->hash != h || e->ntags != ntags || strcmp(e->name, name) != 0)
        return false;
    for (size_t i = 0; i < ntags; i++)
        if (strcmp(e->tags[i], tags[i]) != 0)
            return false;
    return true;
}

/* Slot for key h in slots[cap]: the matching entry or the empty slot where it goes. */
static vn_rw_counter_t *probe(vn_rw_counter_t *slots, size_t cap, uint64_t h, const char *name,
                              const char *const *tags, size_t ntags)
{
    size_t mask = cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        vn_rw_counter_t *e = &slots[i];
        if (!e->name || (name && key_eq(e, h, name, tags, ntags)))
            return e;
    }
}

static void grow(vn_rw_counters_t *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    vn_rw_counter_t *slots = vn_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].name)
            *probe(slots, cap, c->slots[i].hash, NULL, NULL, 0) = c->slots[i];
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
}

vn_err_t vn_rw__counters_add(vn_rw_counters_t *c, const char *name, const char *const *tags, size_t ntags,
                             double value)
{
    uint64_t h = key_hash(name, tags, ntags);
    if (c->cap) {
        vn_rw_counter_t *e = probe(c->slots, c->cap, h, name, tags, ntags);
        if (e->name) {
            e->sum += value;
            return VN_OK;
        }
    }
    if (c->n >= c->max)
        return VN_ERR_TOO_LARGE;
    if ((c->n + 1) * 2 > c->cap)
        grow(c);
    vn_rw_counter_t *e = probe(c->slots, c->cap, h, name, tags, ntags);
    e->name = vn_xstrdup(name);
    e->tags = vn_xcalloc(ntags ? ntags : 1, sizeof *e->tags);
    for (size_t i = 0; i < ntags; i++)
        e->tags[i] = vn_xstrdup(tags[i]);
    e->ntags = ntags;
    e->sum = value;
    e->hash = h;
    c->n++;
    return VN_OK;
}
