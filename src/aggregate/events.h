/**
 * events.h - the interval's DogStatsD events, waiting for the flush.
 *
 * Events are rare and not aggregated, so a mutex-protected list is enough.
 * Bounded twice per interval, because one event can carry 64 KiB of text:
 * at `cap` events, and at `max_bytes` bytes of copied strings (the cost of an
 * event is vn_event_store_cost). An event past either bound is dropped whole
 * and counted (events_dropped; events_dropped_bytes for the byte budget).
 * Thread-safe.
 */
#ifndef VN_AGGREGATE_EVENTS_H
#define VN_AGGREGATE_EVENTS_H

#include <pthread.h>
#include <stddef.h>

#include "core/event.h"
#include "core/stats.h"
#include "parse/dogstatsd.h"

typedef struct vn_event_list {
    vn_sink_event_t *ev; /* each event's strings are owned by the list */
    size_t n;
} vn_event_list_t;

/** Default `max_event_bytes_per_interval`: 16 MiB of event strings per interval. */
#define VN_EVENT_STORE_DEFAULT_BYTES ((size_t)16 << 20)

typedef struct vn_event_store {
    pthread_mutex_t mu;
    vn_event_list_t cur;
    size_t cur_bytes; /* sum of vn_event_store_cost over cur, under mu */
    size_t cap;
    size_t max_bytes;
    vn_stats_t *stats; /* borrowed */
} vn_event_store_t;

/** Initialises with at most cap events and VN_EVENT_STORE_DEFAULT_BYTES per interval. */
void vn_event_store_init(vn_event_store_t *s, size_t cap, vn_stats_t *stats);
/** Sets the byte budget (before the store is shared with other threads). */
void vn_event_store_set_max_bytes(vn_event_store_t *s, size_t max_bytes);
/**
 * Bytes an event is charged against the budget: the length of every string it
 * carries (title, text, hostname, aggregation key, priority, source type,
 * alert type and each tag), without terminators or bookkeeping.
 */
size_t vn_event_store_cost(const vn_event_t *ev);
void vn_event_store_destroy(vn_event_store_t *s);
/** Copies the event, or drops it (counted) past cap or max_bytes. */
void vn_event_store_add(vn_event_store_t *s, const vn_event_t *ev);
/** Moves the interval's events into *out (owned by the caller; free with vn_event_list_free). */
void vn_event_store_take(vn_event_store_t *s, vn_event_list_t *out);
void vn_event_list_free(vn_event_list_t *l);

#endif
