/**
 * event.h - a DogStatsD event as the interval keeps it and sinks receive it.
 *
 * Shared by aggregate/events.h (which stores the interval's events) and
 * sinks/sink.h (whose flush_events takes them), so neither layer has to know
 * the other. Plain data: who owns the strings is said by whoever hands the
 * struct over (the event store owns its copies; a sink borrows them for the
 * duration of one flush_events call).
 */
#ifndef VN_CORE_EVENT_H
#define VN_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

/** A DogStatsD event, flattened for sinks (strings borrowed for the call). */
typedef struct vn_sink_event {
    const char *title, *text, *hostname, *agg_key, *priority, *source_type, *alert_type;
    int64_t timestamp;
    const char *const *tags;
    size_t ntags;
} vn_sink_event_t;

#endif
