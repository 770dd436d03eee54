/**
 * spsc.h - bounded lock-free single-producer/single-consumer ring of pointers.
 *
 * Exactly one thread pushes and exactly one thread pops. Capacity is a power of
 * two fixed at init. Ownership of a pushed pointer passes to the consumer.
 */
#ifndef VN_CORE_SPSC_H
#define VN_CORE_SPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct vn_spsc {
    _Alignas(64) _Atomic size_t head; /* next slot to pop (consumer writes) */
    _Alignas(64) _Atomic size_t tail; /* next slot to push (producer writes) */
    _Alignas(64) size_t mask;
    void **slots;
} vn_spsc_t;

/** cap must be a power of two >= 2. Allocates (fatal on OOM). */
void vn_spsc_init(vn_spsc_t *q, size_t cap);
/** Frees the slot array; the caller frees any items still queued. NULL ok. */
void vn_spsc_destroy(vn_spsc_t *q);

/** Producer side: false when full (the caller counts a drop). */
static inline bool vn_spsc_push(vn_spsc_t *q, void *item)
{
    size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (t - h > q->mask)
        return false;
    q->slots[t & q->mask] = item;
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return true;
}

/** Consumer side: NULL when empty. */
static inline void *vn_spsc_pop(vn_spsc_t *q)
{
    size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (h == t)
        return NULL;
    void *item = q->slots[h & q->mask];
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    return item;
}

static inline bool vn_spsc_empty(vn_spsc_t *q)
{
    return atomic_load_explicit(&q->head, memory_order_acquire) ==
           atomic_load_explicit(&q->tail, memory_order_acquire);
}

#endif
