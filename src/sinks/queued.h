/**
 * queued.h - the sink half shared by the sinks that encode HTTP bodies into a
 * delivery queue (datadog, signalfx, newrelic): what flush, flush_events and destroy do
 * around the encoder, and the construction steps after the encoder exists.
 *
 *   flush:        bind the sink's stats to the queue, encode, count metrics the
 *                 encoder skipped (NaN/Inf, alone over a cap) as dropped;
 *   flush_events: the same for events; a failure is logged (the flusher has no
 *                 error path for events);
 *   destroy:      the queue first (it drains for its grace period and its
 *                 thread may still read nothing of the encoder), then the encoder.
 *
 * A kind supplies its encoder through a static vn_queued_kind_t whose ops
 * (VN_QUEUED_OPS) are the vn_queued_* functions. s->impl is a
 * vn_queued_sink_t owned by the sink. Called from the sink's own thread,
 * one call at a time (sink.h).
 */
#ifndef VN_SINKS_QUEUED_H
#define VN_SINKS_QUEUED_H

#include <stddef.h>

#include "core/err.h"
#include "sinks/delivery.h"
#include "sinks/sink.h"

typedef struct vn_queued_kind {
    /** The sink's ops: VN_QUEUED_OPS("kind"). s->ops points here. */
    vn_sink_ops_t ops;
    /** Encodes m[0..n) into bodies handed to emit(ctx, ...). */
    vn_err_t (*metrics)(void *enc, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                        const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);
    /** Encodes ev[0..n) the same way. */
    vn_err_t (*events)(void *enc, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                       const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);
    /** The encoder's cumulative count of metrics it could not encode. */
    size_t (*skipped)(const void *enc);
    /** Frees what the encoder holds (not enc itself). */
    void (*destroy)(void *enc);
} vn_queued_kind_t;

typedef struct vn_queued_sink {
    const vn_queued_kind_t *kind; /* static */
    void *enc;                    /* owned: kind->destroy, then free */
    vn_delivery_t *dl;            /* owned */
} vn_queued_sink_t;

vn_err_t vn_queued_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info);
void vn_queued_flush_events(vn_sink_t *s, const vn_sink_event_t *ev, size_t n, const vn_flush_info_t *info);
void vn_queued_destroy(vn_sink_t *s);

/** The vn_sink_ops_t of a queued sink of kind `name` (a string literal). */
#define VN_QUEUED_OPS(name)                                                                                          \
    {.kind = (name), .flush = vn_queued_flush, .flush_events = vn_queued_flush_events, .destroy = vn_queued_destroy}

/**
 * Finishes constructing a queued sink once its encoder is initialised (or
 * failed to be: pass its error as enc_err). Takes ownership of enc (malloc'd)
 * in every case. Reads the delivery keys of sc (delivery.h), starts the queue
 * with secrets[0..nsecrets) (copied) redacted from its messages, and sets
 * s->impl and s->ops (&kind->ops). On error the encoder is destroyed and errbuf says why.
 * *o receives the delivery options in use (for the start-up log line).
 */
vn_err_t vn_queued_start(vn_sink_t *s, const vn_queued_kind_t *kind, void *enc,
                         vn_err_t enc_err, const vn_sink_config_t *sc, const vn_config_t *cfg,
                         const char *const *secrets, size_t nsecrets, vn_delivery_opts_t *o, char *errbuf,
                         size_t errcap);

#endif
