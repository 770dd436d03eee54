/**
 * xalloc.h - allocation that never returns NULL.
 *
 * Internal allocation failure is fatal (logged with file and line, then abort):
 * callers have no OOM branches. Every size that comes from input must be bounded
 * before it reaches these functions. Thread-safe.
 */
#ifndef VN_CORE_XALLOC_H
#define VN_CORE_XALLOC_H

#include <stddef.h>

void *vn__xmalloc(size_t n, const char *file, int line);
void *vn__xcalloc(size_t nmemb, size_t n, const char *file, int line);
void *vn__xrealloc(void *p, size_t n, const char *file, int line);
char *vn__xstrndup(const char *s, size_t n, const char *file, int line);

/** Returns owned memory (free with free()). */
#define vn_xmalloc(n) vn__xmalloc((n), __FILE__, __LINE__)
#define vn_xcalloc(m, n) vn__xcalloc((m), (n), __FILE__, __LINE__)
#define vn_xrealloc(p, n) vn__xrealloc((p), (n), __FILE__, __LINE__)
/** Copies n bytes of s and NUL-terminates; returns owned memory. */
#define vn_xstrndup(s, n) vn__xstrndup((s), (n), __FILE__, __LINE__)
#define vn_xstrdup(s) vn__xstrndup((s), strlen(s), __FILE__, __LINE__)

#endif
