/*
 * line_cache.c - the cold half of the line cache (line_cache.h): emitting,
 * resetting the byte area and flushing. Lookups, samples and inserts are
 * inline in the header because they run once per line.
 */
#include "listen/line_cache.h"

void vn_line_cache_init(vn_line_cache_t *c, vn_line_cache_emit_fn emit, void *ctx)
{
    c->emit = emit;
    c->emit_ctx = ctx;
    c->resets = 0;
    c->ndirty = 0;
    c->used = 0;
    uintptr_t a = ((uintptr_t)c->slot_mem + 63) & ~(uintptr_t)63;
    c->slots = (vn_line_cache_entry_t *)a;
    memset(c->slots, 0, VN_LINE_CACHE_SLOTS * sizeof *c->slots);
}

/* Hands a pending value to the emitter; the entry stays on dirty[] (listed) until the flush. */
void vn_line_cache__emit(vn_line_cache_t *c, vn_line_cache_entry_t *e)
{
    e->pending = false;
    c->emit(c->emit_ctx, e, vn_line_cache_key(c, e));
}

/* Dirty entries ahead of the one emitted whose entry (2x) and key bytes (1x) are prefetched:
 * both are cache misses once thousands of series are pending. */
#define FLUSH_AHEAD 4

void vn_line_cache_flush(vn_line_cache_t *c)
{
    for (size_t i = 0; i < c->ndirty; i++) {
        if (i + 2 * FLUSH_AHEAD < c->ndirty)
            __builtin_prefetch(&c->slots[c->dirty[i + 2 * FLUSH_AHEAD]], 1);
        if (i + FLUSH_AHEAD < c->ndirty) {
            const vn_line_cache_entry_t *a = &c->slots[c->dirty[i + FLUSH_AHEAD]];
            if (a->pending)
                __builtin_prefetch(vn_line_cache_key(c, a));
        }
        vn_line_cache_entry_t *e = &c->slots[c->dirty[i]];
        if (e->pending)
            vn_line_cache__emit(c, e);
        e->listed = false;
    }
    c->ndirty = 0;
}

/* The byte area is full: every pending value leaves, then every entry is forgotten (their byte
 * ranges are about to be overwritten) and the area fills again from the start. */
void vn_line_cache__reset(vn_line_cache_t *c)
{
    vn_line_cache_flush(c);
    for (size_t i = 0; i < VN_LINE_CACHE_SLOTS; i++)
        c->slots[i].used = false;
    c->used = 0;
    c->resets++;
}
