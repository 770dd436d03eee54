/* spsc.c - allocation for the SPSC ring (the hot operations are inline in spsc.h). */
#include "core/spsc.h"

#include <stdlib.h>

#include "core/xalloc.h"

void vn_spsc_init(vn_spsc_t *q, size_t cap)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    q->mask = cap - 1;
    q->slots = vn_xcalloc(cap, sizeof(void *));
}

void vn_spsc_destroy(vn_spsc_t *q)
{
    if (!q)
        return;
    free(q->slots);
    q->slots = NULL;
}
