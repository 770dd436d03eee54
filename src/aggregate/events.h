/**
 * events.h - the interval's DogStatsD events, waiting for the flush.
 *
 * Events are rare and not aggregated, so a mutex-protected list is enough.
 * Bounded: beyond `cap` events per interval, new ones are dropped and counted.
 * Thread-safe.
 */
#ifndef VN_AGGREGATE_EVENTS_H
#define VN_AGGREGATE_EVENTS_H

#include <pthread.h>
#include <stddef.h>

#include "core/stats.h"
#include "parse/dogstatsd.h"
#include "sinks/sink.h"

typedef struct vn_event_list {
    vn_sink_event_t *ev; /* each event's strings are owned by the list */
    size_t n;
} vn_event_list_t;

typedef struct vn_event_store {
    pthread_mutex_t mu;
    vn_event_list_t cur;
    size_t cap;
    vn_stats_t *stats; /* borrowed */
} vn_event_store_t;

void vn_event_store_init(vn_event_store_t *s, size_t cap, vn_stats_t *stats);
void vn_event_store_destroy(vn_event_store_t *s);
/** Copies the event. */
void vn_event_store_add(vn_event_store_t *s, const vn_event_t *ev);
/** Moves the interval's events into *out (owned by the caller; free with vn_event_list_free). */
void vn_event_store_take(vn_event_store_t *s, vn_event_list_t *out);
void vn_event_list_free(vn_event_list_t *l);

#endif
