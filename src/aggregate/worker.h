/**
 * worker.h - an aggregation worker: one thread that owns a disjoint shard of
 * series (chosen by key hash % number of workers) and applies batches of
 * sample records pushed by readers over lock-free SPSC rings.
 *
 * Rings: for each reader r there is a pair (full[r]: reader -> worker,
 * free[r]: worker -> reader). A batch belongs to whoever last popped it.
 * A reader must only use its own reader id; ids are 0..nreaders-1.
 *
 * Flush: vn_worker_swap (flusher thread) drains the rings, installs a fresh
 * map and returns the old one, whose ownership passes to the caller.
 */
#ifndef VN_AGGREGATE_WORKER_H
#define VN_AGGREGATE_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "aggregate/batch.h"
#include "aggregate/series_map.h"
#include "core/stats.h"

typedef struct vn_worker vn_worker_t;

/**
 * Starts the worker thread. max_series caps series per interval (0 = none);
 * stats is borrowed and must outlive the worker. Returns an owned worker.
 */
vn_worker_t *vn_worker_start(int id, size_t nreaders, size_t max_series, vn_stats_t *stats);

/** Stops and joins the thread, frees rings, batches and the current map. NULL ok. */
void vn_worker_free(vn_worker_t *w);

/**
 * Reader side: an empty batch for reader `reader`, or NULL when the reader
 * already holds its cap of batches in flight (caller counts a drop).
 * Returned batch is owned by the caller until pushed.
 */
vn_batch_t *vn_worker_get_batch(vn_worker_t *w, size_t reader);

/**
 * Reader side: hands a filled batch to the worker (ownership moves). Never
 * blocks; the ring is sized to hold every batch a reader can own, so this
 * cannot fail.
 */
void vn_worker_push(vn_worker_t *w, size_t reader, vn_batch_t *b);

/** Flusher side: returns the interval's map (owned by the caller) after applying everything already pushed. */
vn_series_map_t *vn_worker_swap(vn_worker_t *w);

/** Applies one batch to a map (exposed for tests and benchmarks). Returns samples dropped by the cap. */
size_t vn_worker_apply(vn_series_map_t *m, const vn_batch_t *b);

#endif
