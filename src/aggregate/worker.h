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
 *
 * Imports (gRPC from local veneurs, docs/behaviour.md W1.3): any thread queues decoded
 * metrics with vn_worker_import on a bounded, mutex-protected list; the
 * worker merges them into its current map, and vn_worker_swap merges what is
 * still queued before it hands the map over.
 */
#ifndef VN_AGGREGATE_WORKER_H
#define VN_AGGREGATE_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "aggregate/batch.h"
#include "aggregate/series_map.h"
#include "core/metric.h"
#include "core/stats.h"

typedef struct vn_worker vn_worker_t;

/**
 * Starts the worker thread. Every interval's map is bounded by *lim (copied;
 * see vn_series_limits_share for a worker's share of the process-wide
 * limits); stats is borrowed and must outlive the worker. Returns an owned worker.
 */
vn_worker_t *vn_worker_start_limited(int id, size_t nreaders, const vn_series_limits_t *lim, vn_stats_t *stats);

/** As vn_worker_start_limited with max_series series (0 = no cap) and no byte budget (tests, tools). */
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

/** Full batches a lazy push leaves queued before it wakes a sleeping worker. */
#define VN_WORKER_LAZY_WAKE 4

/**
 * Reader side: vn_worker_push for a batch that filled up mid-stream. A sleeping worker is woken
 * only once reader's ring holds VN_WORKER_LAZY_WAKE batches, so a steady stream wakes it per few
 * batches instead of per batch (issue 22: each wake-up is a write(2) and a context switch).
 * Returns true when the worker may have been left asleep with this batch queued: the caller must
 * then call vn_worker_kick before it waits for anything (the reader's commit does), which bounds
 * the extra hand-off latency by the commit's. A swap always drains every ring first.
 */
bool vn_worker_push_lazy(vn_worker_t *w, size_t reader, vn_batch_t *b);

/** Reader side: wakes the worker if it sleeps (after vn_worker_push_lazy returned true). */
void vn_worker_kick(vn_worker_t *w);

/** Flusher side: returns the interval's map (owned by the caller) after applying everything already pushed. */
vn_series_map_t *vn_worker_swap(vn_worker_t *w);

/** Applies one batch to a map (exposed for tests and benchmarks). Returns samples dropped by the cap. */
size_t vn_worker_apply(vn_series_map_t *m, const vn_batch_t *b);

/* ---- imports: metrics merged in from local veneurs (forward/import_server.c, docs/behaviour.md W1.3) ---- */

/**
 * One decoded, validated imported metric, ready to merge into a series of
 * the same key format and hash as the reader path (aggregate/series_key.h).
 * Allocated by vn_import_new (one block, key included); the union member in
 * use is chosen by type: value for counters (the int64 from the wire) and
 * gauges, digest for histograms/timers, hll for sets. The creator fills it
 * (e.g. vn_tdigest_decode / vn_hll_unmarshal); vn_import_free releases it.
 */
typedef struct vn_import {
    struct vn_import *next; /* chain link for vn_worker_import; NULL ends it */
    uint32_t hash;          /* vn_series_key_hash(key, key_len, type) */
    uint16_t key_len;
    uint8_t type;  /* vn_mtype_t: COUNTER, GAUGE, HISTOGRAM, TIMER or SET */
    uint8_t scope; /* target series scope (docs/behaviour.md W1.3): GLOBAL for counters and
                      gauges, MIXED for sets, MIXED or GLOBAL for histograms/timers */
    int64_t interval_ms; /* the sender's interval tick (x-veneur-interval-end, unix ms); 0 = untagged */
    union {
        double value;
        vn_tdigest_t digest;
        vn_hll_t hll;
    } u;
    char key[]; /* name '\n' tags joined by ',' (received order), NUL-terminated */
} vn_import_t;

/** Longest key an import may carry (series keys are 16-bit lengths). */
#define VN_IMPORT_MAX_KEY 65535u
/** Imports one worker holds before vn_worker_import drops (count and bytes). */
#define VN_WORKER_MAX_IMPORTS 262144u
#define VN_WORKER_MAX_IMPORT_BYTES (256u << 20)

/**
 * Allocates an import for key[0..key_len) (copied; key_len <= VN_IMPORT_MAX_KEY,
 * checked by the caller) with its hash computed. The union is zeroed and not
 * initialised: the caller fills the member its type uses. Returns owned
 * (vn_import_free). Thread-safe.
 */
vn_import_t *vn_import_new(vn_mtype_t type, vn_scope_t scope, const char *key, size_t key_len);

/** Frees one import (not its chain) and what its union member holds. NULL ok. */
void vn_import_free(vn_import_t *it);

/** Frees a whole chain linked by next. NULL ok. */
void vn_import_free_chain(vn_import_t *head);

/**
 * Any thread (the import server): queues a chain of imports for worker w and
 * wakes it; the worker merges them into its current map (and always before
 * vn_worker_swap hands that map over). Takes ownership of the whole chain.
 * Never blocks on the worker's sample path: one mutex shared only with the
 * worker's take of the list. When the per-worker queue is at
 * VN_WORKER_MAX_IMPORTS items or VN_WORKER_MAX_IMPORT_BYTES, the rest of the
 * chain is freed. @return the number of imports dropped that way.
 */
size_t vn_worker_import(vn_worker_t *w, vn_import_t *chain);

/**
 * Issue 16: makes w tell imports tagged with an interval it has already
 * flushed ("late") from the others. From now on each swap records the tick
 * it closes (ticker/ticker.h: nearest multiple of interval_s to the wall
 * clock minus offset_s); vn_worker_import counts a tagged import whose tick
 * is not after that one in stats->import_metrics_late (it is still merged,
 * into the interval that is open). Call once, before imports start.
 */
void vn_worker_set_interval_clock(vn_worker_t *w, double interval_s, double offset_s);

/**
 * Merges a chain into a map (docs/behaviour.md W1.3: counters add, gauges overwrite,
 * digests and HLLs merge; a merged digest never touches the histogram's
 * local_* fields) and frees the chain. Exposed for tests; the worker thread
 * calls it. @return imports not applied: series cap reached or merge
 * refused (HLL precision mismatch, digest weight overflow).
 */
size_t vn_worker_apply_imports(vn_series_map_t *m, vn_import_t *chain);

#endif
