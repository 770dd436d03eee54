/*
 * decode.c - SSFSpan decoding into an arena (see decode.h).
 */
#include "ssf/decode.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* Worst-case expansion of wire bytes into protobuf-c structs: an empty sample is 2 wire
 * bytes and ~120 bytes of Ssf__SSFSample plus its pointer; 80x covers a packet made only
 * of those, plus fixed slack for the span itself. */
#define ARENA_FACTOR 80
#define ARENA_SLACK 8192

void vn_ssf_arena_init(vn_ssf_arena_t *a, size_t max_packet)
{
    a->cap = max_packet * ARENA_FACTOR + ARENA_SLACK;
    a->mem = vn_xmalloc(a->cap);
    a->used = 0;
    a->failed = 0;
}

void vn_ssf_arena_destroy(vn_ssf_arena_t *a)
{
    free(a->mem);
    a->mem = NULL;
    a->cap = a->used = 0;
}

static void *arena_alloc(void *data, size_t size)
{
    vn_ssf_arena_t *a = data;
    size_t off = (a->used + 15u) & ~(size_t)15u;
    if (off > a->cap || size > a->cap - off) {
        a->failed = 1;
        return NULL;
    }
    a->used = off + size;
    return a->mem + off;
}

static void arena_free(void *data, void *p)
{
    (void)data; /* released all at once by the next decode */
    (void)p;
}

vn_ssf_dec_rc_t vn_ssf_decode(vn_ssf_arena_t *a, const uint8_t *buf, size_t len, int allow_empty,
                              Ssf__SSFSpan **out)
{
    *out = NULL;
    if (len == 0 && !allow_empty)
        return VN_SSF_DEC_EMPTY;
    a->used = 0;
    a->failed = 0;
    ProtobufCAllocator al = {.alloc = arena_alloc, .free = arena_free, .allocator_data = a};
    Ssf__SSFSpan *s = ssf__ssfspan__unpack(&al, len, buf);
    if (!s) {
        /* protobuf-c does not say why; a refused allocation is the only memory failure */
        return a->failed ? VN_SSF_DEC_NOMEM : VN_SSF_DEC_INVALID;
    }
    if (!s->name || !*s->name) {
        for (size_t i = 0; i < s->n_tags; i++) {
            if (s->tags[i] && s->tags[i]->key && strcmp(s->tags[i]->key, "name") == 0) {
                s->name = s->tags[i]->value;
                /* Go deletes the tag; a later duplicate key is already merged by the map */
                s->tags[i] = s->tags[--s->n_tags];
                i--;
            }
        }
    }
    for (size_t i = 0; i < s->n_metrics; i++)
        if (s->metrics[i] && s->metrics[i]->sample_rate == 0)
            s->metrics[i]->sample_rate = 1;
    *out = s;
    return VN_SSF_DEC_OK;
}

const char *vn_ssf_span_tag(const Ssf__SSFSpan *s, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < s->n_tags; i++) /* last entry wins, like a decoded Go map */
        if (s->tags[i] && s->tags[i]->key && strcmp(s->tags[i]->key, key) == 0)
            v = s->tags[i]->value;
    return v;
}
