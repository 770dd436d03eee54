/**
 * arena.h - bump allocator for objects that all die together (one interval's
 * series, one flush's output strings). Chunks are malloc'ed on demand and freed
 * by vn_arena_reset/destroy; individual objects are never freed. Not thread-safe.
 */
#ifndef VN_CORE_ARENA_H
#define VN_CORE_ARENA_H

#include <stddef.h>

typedef struct vn_arena_chunk vn_arena_chunk_t;

typedef struct vn_arena {
    vn_arena_chunk_t *head;
    char *cur;
    size_t left;
    size_t chunk_size;
    size_t bytes; /* total bytes of all chunks, for memory accounting */
} vn_arena_t;

void vn_arena_init(vn_arena_t *a, size_t chunk_size);
/** Frees every chunk. NULL ok. */
void vn_arena_destroy(vn_arena_t *a);
/** Returns n bytes aligned to 8, valid until reset/destroy. Fatal on OOM. */
void *vn_arena_alloc(vn_arena_t *a, size_t n);
/** Copies s[0..n) and NUL-terminates; returns arena memory. */
char *vn_arena_strndup(vn_arena_t *a, const char *s, size_t n);

#endif
