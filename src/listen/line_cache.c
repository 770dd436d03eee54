/*
 * line_cache.c - the cold half of the line cache (line_cache.h): inserting,
 * evicting, resetting the byte area and flushing. Lookups and samples are
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
    memset(c->slots, 0, sizeof c->slots);
}

/* Hands an entry's pending value to the emitter; the entry stays on dirty[] (listed) until the flush. */
static void flush_entry(vn_line_cache_t *c, vn_line_cache_entry_t *e)
{
    if (!e->pending)
        return;
    e->pending = false;
    c->emit(c->emit_ctx, e, vn_line_cache_key(c, e));
}

void vn_line_cache_flush(vn_line_cache_t *c)
{
    for (size_t i = 0; i < c->ndirty; i++) {
        vn_line_cache_entry_t *e = &c->slots[c->dirty[i]];
        flush_entry(c, e);
        e->listed = false;
    }
    c->ndirty = 0;
}

/* The byte area is full: every pending value leaves, then every entry is forgotten (their byte
 * ranges are about to be overwritten) and the area fills again from the start. */
static void reset(vn_line_cache_t *c)
{
    vn_line_cache_flush(c);
    for (size_t i = 0; i < VN_LINE_CACHE_SLOTS; i++)
        c->slots[i].used = false;
    c->used = 0;
    c->resets++;
}

vn_line_cache_entry_t *vn_line_cache_insert(vn_line_cache_t *c, const vn_line_cache_probe_t *p, const char *name,
                                            size_t nlen, const char *rest, size_t rlen,
                                            const vn_line_cache_series_t *s)
{
    if (p->slot == VN_LINE_CACHE_NONE || s->key_len > VN_LINE_CACHE_KEY_MAX)
        return NULL;
    vn_line_cache_entry_t *e = &c->slots[p->slot];
    flush_entry(c, e); /* the slot's previous series keeps its pending value */
    size_t need = nlen + rlen + s->key_len;
    if (c->used + need > VN_LINE_CACHE_BYTES)
        reset(c);
    char *dst = c->bytes + c->used;
    memcpy(dst, name, nlen);
    memcpy(dst + nlen, rest, rlen);
    memcpy(dst + nlen + rlen, s->key, s->key_len);
    e->used = true;
    e->sig_hash = p->sig_hash;
    e->off = (uint32_t)c->used;
    e->name_len = (uint16_t)nlen;
    e->rest_len = (uint16_t)rlen;
    e->key_hash = s->key_hash;
    e->key_len = (uint16_t)s->key_len;
    e->type = s->type;
    e->scope = s->scope;
    e->rate = s->rate;
    e->ignored = (uint8_t)(s->ignored > 255 ? 255 : s->ignored);
    c->used += need;
    return e;
}
