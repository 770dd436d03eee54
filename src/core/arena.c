/* arena.c - bump allocator; see arena.h. */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

struct vn_arena_chunk {
    vn_arena_chunk_t *next;
    size_t size;
    _Alignas(16) char data[];
};

void vn_arena_init(vn_arena_t *a, size_t chunk_size)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : 65536;
}

void vn_arena_destroy(vn_arena_t *a)
{
    if (!a)
        return;
    vn_arena_chunk_t *c = a->head;
    while (c) {
        vn_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->cur = NULL;
    a->left = 0;
    a->bytes = 0;
}

void *vn_arena_alloc(vn_arena_t *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n > a->left) {
        size_t sz = n > a->chunk_size ? n : a->chunk_size;
        vn_arena_chunk_t *c = vn_xmalloc(sizeof *c + sz);
        c->next = a->head;
        c->size = sz;
        a->head = c;
        a->cur = c->data;
        a->left = sz;
        a->bytes += sz + sizeof *c;
    }
    void *p = a->cur;
    a->cur += n;
    a->left -= n;
    return p;
}

char *vn_arena_strndup(vn_arena_t *a, const char *s, size_t n)
{
    char *p = vn_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
