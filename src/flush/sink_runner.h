/**
 * sink_runner.h - one thread and one bounded queue per metric sink, so a slow
 * or hung sink delays only itself (issue 15). The flusher hands every sink the
 * same refcounted chunks of the interval's metrics and never waits for a sink;
 * each runner calls its sink's flush per chunk, in interval order, with that
 * interval's own vn_flush_info_t, so a sink never sees two intervals merged
 * into one call and every other sink still flushes on time.
 *
 * Deadline: when a runner starts an interval it sets info.deadline_s to its
 * start + interval (a sink that honours it, like cortex, gives up by then; a
 * sink stuck in the kernel blocks only this thread).
 *
 * Bound: a queue holds at most max_metrics metrics and max_bytes bytes of
 * waiting chunks (a chunk shared by every queue counts whole in each). Past
 * that, the oldest waiting interval is dropped whole (its remaining chunks and
 * events), counted in the sink's `dropped` self-metric and logged. If only the
 * incoming interval is left (the sink is slower than the flusher makes the
 * interval's chunks), the pusher waits for the runner, bounded: until the
 * caller's wait_until, and only while the runner finishes an item at least
 * every VN_SINK_PUSH_STALL_S; then the incoming chunk is dropped (counted).
 * Intervals are never merged to make room.
 *
 * Ownership: chunks and event sets are refcounted; each push takes one
 * reference, released by the runner when done (or on eviction). The sink is
 * borrowed and must outlive the runner; a runner that does not finish by its
 * stop deadline is abandoned (see vn_sink_runner_stop).
 */
#ifndef VN_FLUSH_SINK_RUNNER_H
#define VN_FLUSH_SINK_RUNNER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/events.h"
#include "core/stats.h"
#include "flush/flusher.h"
#include "flush/routing.h"
#include "sinks/sink.h"

/** Waiting metrics per sink before whole intervals are dropped. */
#define VN_SINK_QUEUE_MAX_METRICS ((size_t)1 << 20)
/**
 * Waiting bytes per sink (chunks: metrics arrays and their strings) before
 * whole intervals are dropped. Four chunks of VN_FLUSH_CHUNK_MAX_BYTES: enough
 * to keep a sink busy while the flusher makes the next one, small next to the
 * series maps the flush comes from.
 */
#define VN_SINK_QUEUE_MAX_BYTES ((size_t)32 << 20)
/**
 * At stop, a sink call this far past the deadline it was given is taken as hung
 * (it does not honour deadlines) and abandoned without waiting for the stop deadline.
 */
#define VN_SINK_OVERDUE_S 1.0
/** A pusher facing a full queue stops waiting when the runner finishes nothing for this long. */
#define VN_SINK_PUSH_STALL_S 2.0

/** An immutable chunk of one interval's metrics shared by every runner. */
typedef struct vn_flush_chunk {
    vn_flush_output_t out; /* metrics and the arena of their strings */
    size_t bytes;          /* what the chunk holds, for the queues' byte caps */
    _Atomic size_t refs;
} vn_flush_chunk_t;

/** The interval's events, shared the same way. */
typedef struct vn_flush_events {
    vn_event_list_t list;
    _Atomic size_t refs;
} vn_flush_events_t;

/** Moves *out (left empty and re-initialised) into a new chunk holding `refs` references. */
vn_flush_chunk_t *vn_flush_chunk_new(vn_flush_output_t *out, size_t refs);
void vn_flush_chunk_release(vn_flush_chunk_t *c);
/** Moves *l (left empty) into a new shared set holding `refs` references. */
vn_flush_events_t *vn_flush_events_new(vn_event_list_t *l, size_t refs);
void vn_flush_events_release(vn_flush_events_t *e);

typedef struct vn_sink_runner vn_sink_runner_t;

/**
 * Starts the thread of sink s. slot (may be NULL) receives flushed / errors /
 * last_duration_ns per interval and dropped on eviction. max_metrics 0 means
 * VN_SINK_QUEUE_MAX_METRICS, max_bytes 0 VN_SINK_QUEUE_MAX_BYTES. Aborts on
 * thread creation failure (start-up).
 */
vn_sink_runner_t *vn_sink_runner_start(vn_sink_t *s, vn_stats_sink_t *slot, double interval_s, size_t max_metrics,
                                       size_t max_bytes);

/**
 * Gives the runner sink routing and the sink's limits (flush/routing.h; takes
 * ownership of route, NULL: everything unchanged). Call before the first push.
 * The runner applies it to each chunk on its own thread, so routing costs the
 * flusher nothing, and counts Go's flushed_metrics / dropped_metrics into slot.
 */
void vn_sink_runner_set_route(vn_sink_runner_t *r, vn_sink_route_t *route);

/**
 * Queues a chunk of interval `seq` (takes one reference of c). When the queue
 * is full of this same interval, waits for the runner until wait_until
 * (CLOCK_MONOTONIC seconds; 0: never waits) while it makes progress (see Bound
 * above), else drops c (counted). Never waits on a stuck sink longer than
 * VN_SINK_PUSH_STALL_S per interval.
 */
void vn_sink_runner_push(vn_sink_runner_t *r, uint64_t seq, vn_flush_chunk_t *c, const vn_flush_info_t *info,
                         double wait_until);

/** Ends interval `seq`: ev (one reference taken; NULL: no events) goes to flush_events, then the stats. */
void vn_sink_runner_end(vn_sink_runner_t *r, uint64_t seq, vn_flush_events_t *ev, const vn_flush_info_t *info);

/**
 * Lets the runner finish what is queued until deadline_mono (CLOCK_MONOTONIC
 * seconds), then drops the rest (counted) and joins. Sink calls made while
 * stopping see a vn_flush_info_t deadline no later than deadline_mono. A call
 * still running VN_SINK_OVERDUE_S past its own deadline ends the wait early
 * (the sink ignores deadlines; waiting would only delay exit). Returns true and frees r
 * when the thread ended; false when the sink is still stuck in a call at the
 * deadline: the thread is detached and frees r itself if the call ever
 * returns; the caller must not free the sink (the process exit reclaims it).
 */
bool vn_sink_runner_stop(vn_sink_runner_t *r, double deadline_mono);

/** Metrics dropped by eviction so far (for tests). */
uint64_t vn_sink_runner_dropped(const vn_sink_runner_t *r);

#endif
