/* xalloc.c - fatal-on-failure allocators. */
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *file, int line, size_t n)
{
    fprintf(stderr, "level=error event=out_of_memory file=%s line=%d bytes=%zu\n", file, line, n);
    abort();
}

void *vn__xmalloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die(file, line, n);
    return p;
}

void *vn__xcalloc(size_t nmemb, size_t n, const char *file, int line)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p)
        die(file, line, nmemb * n);
    return p;
}

void *vn__xrealloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die(file, line, n);
    return q;
}

char *vn__xstrndup(const char *s, size_t n, const char *file, int line)
{
    char *p = vn__xmalloc(n + 1, file, line);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
