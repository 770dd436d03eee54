/**
 * forwarder.h - the local side of forwarding (docs/behaviour.md W1.2, 0.12): what a
 * veneur with forward_address sends to its global, and the thread that
 * sends it.
 *
 * The flusher (its own thread) builds one batch per interval: for every
 * worker map it appends the forwardable series (global counters and gauges,
 * mixed and global histograms and timers, mixed sets) as gRPC-framed
 * metricpb.Metric messages, then submits the batch. Submitting never blocks:
 * the queue holds VN_FORWARD_QUEUE batches and a batch that finds it full
 * is dropped and counted. The forwarder thread sends each batch as one
 * SendMetricsV2 call with a deadline shorter than the interval, so a global
 * that is down or slow costs the local nothing but the counted failure.
 * Like Go, a failed interval is not retried later (its data would be stale
 * and would double-count against a global that got part of it).
 */
#ifndef VN_FORWARD_FORWARDER_H
#define VN_FORWARD_FORWARDER_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "aggregate/series_map.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/stats.h"

/** Batches waiting for the forwarder thread before submit drops. */
#define VN_FORWARD_QUEUE 4
/** Addresses forward_address may list (comma-separated). */
#define VN_FORWARD_MAX_ADDRESSES 16
/** Cap on one interval's request body (all its framed messages). */
#define VN_FORWARD_MAX_BATCH_BYTES (512u << 20)

/** One interval's forwardable metrics, gRPC-framed. Owned by one thread at a time. */
typedef struct vn_forward_batch {
    struct vn_forward_batch *next; /* queue link */
    vn_buf_t body;
    size_t metrics; /* messages in body */
    size_t dropped; /* forwardable series left out: over 4 MiB, or the batch cap reached */
    int64_t interval_ms; /* the flush tick it belongs to (unix ms), sent as x-veneur-interval-end; 0 = none */
} vn_forward_batch_t;

/** Returns an owned empty batch (vn_forward_batch_free). */
vn_forward_batch_t *vn_forward_batch_new(void);
void vn_forward_batch_free(vn_forward_batch_t *b);

/**
 * Appends the forwardable series of m (borrowed; digests are folded, nothing
 * else changes) to b. Returns the number appended. Call before the map is freed.
 */
size_t vn_forward_batch_add_map(vn_forward_batch_t *b, vn_series_map_t *m);

typedef struct vn_forwarder_opts {
    const char *address;     /* forward_address (copied): "host:port", or several comma-separated:
                                calls go to one until it fails, then to the next (a call that
                                failed before its request was sent is retried there at once) */
    SSL_CTX *tls;            /* NULL = h2c; else referenced for the forwarder's life */
    const char *server_name; /* certificate name to check; NULL/"" = the host of address */
    double deadline_s;       /* per call; keep it below the interval */
    vn_stats_t *stats;       /* borrowed */
} vn_forwarder_opts_t;

typedef struct vn_forwarder vn_forwarder_t;

/**
 * Starts the forwarder thread (it connects lazily, on the first batch).
 * @return VN_OK with *out owned (vn_forwarder_stop), or VN_ERR_CONFIG for
 *   an address that is not host:port (reason in errbuf).
 */
vn_err_t vn_forwarder_start(const vn_forwarder_opts_t *opts, vn_forwarder_t **out, char *errbuf, size_t errcap);

/**
 * Flusher side: queues b for sending (takes ownership) and returns at once.
 * A batch with no metrics is freed (nothing is sent, as Go). When the queue
 * is full the batch is freed and its metrics counted as dropped.
 */
void vn_forwarder_submit(vn_forwarder_t *f, vn_forward_batch_t *b);

/**
 * Sends what is still queued (each call bounded by its deadline and all of
 * them by drain_s seconds from now), stops the thread, frees f. NULL ok.
 */
void vn_forwarder_stop(vn_forwarder_t *f, double drain_s);

#endif
