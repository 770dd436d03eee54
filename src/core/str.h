/**
 * str.h - borrowed byte slices.
 *
 * A vn_str_t never owns its bytes: it points into a buffer owned by someone
 * else (a receive buffer, the config) and is valid until that buffer is reused
 * or freed. It is not NUL-terminated.
 */
#ifndef VN_CORE_STR_H
#define VN_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct vn_str {
    const char *p;
    size_t len;
} vn_str_t;

#define VN_STR_LIT(s) ((vn_str_t){(s), sizeof(s) - 1})

static inline vn_str_t vn_str(const char *p, size_t len) { return (vn_str_t){p, len}; }
static inline vn_str_t vn_str_c(const char *s) { return (vn_str_t){s, strlen(s)}; }

static inline bool vn_str_eq(vn_str_t a, vn_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/** Byte-wise comparison like Go's sort.Strings: <0, 0, >0. */
static inline int vn_str_cmp(vn_str_t a, vn_str_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c != 0)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

#endif
