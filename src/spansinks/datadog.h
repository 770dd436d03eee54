/**
 * datadog.h - the "datadog" span sink's parts (Go sinks/datadog DatadogSpanSink),
 * exposed for its unit test: the span buffer (a ring that keeps the newest
 * spans, already encoded as Datadog trace-API span objects) and the PUT body
 * built from it. The sink itself (spansinks/datadog.c) feeds the body to a
 * delivery queue (sinks/delivery.h).
 *
 * Threading: a vn_ddspan_buf_t has one owner (the sink's thread).
 */
#ifndef VN_SPANSINKS_DATADOG_H
#define VN_SPANSINKS_DATADOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "sinks/http_client.h"
#include "spansinks/span_sink.h"

/** Go datadogSpanBufferSize: spans kept per interval when datadog_span_buffer_size is 0/absent. */
#define VN_DDSPAN_DEFAULT_BUFFER_SIZE 16384u
/** Largest datadog_span_buffer_size accepted (the slot array is allocated up front, 32 B a slot). */
#define VN_DDSPAN_MAX_BUFFER_SIZE (1u << 20)
/** Encoded span bytes kept per interval (Go has no byte cap; this bounds the PUT body too). */
#define VN_DDSPAN_RING_BYTES ((size_t)16 << 20)
/** One encoded span larger than this is dropped (counted) instead of buffered. */
#define VN_DDSPAN_MAX_SPAN_JSON ((size_t)1 << 20)

typedef struct vn_ddspan_slot {
    int64_t trace_id;
    uint64_t seq; /* arrival order, so a trace's spans keep it after sorting */
    size_t off;   /* into the byte ring */
    size_t len;
} vn_ddspan_slot_t;

/** Encoded spans, oldest first; private fields, use the functions below. */
typedef struct vn_ddspan_buf {
    vn_ddspan_slot_t *_slot; /* _max_spans, circular from _head */
    uint32_t *_order;        /* _max_spans: scratch for grouping at take */
    size_t _max_spans, _head, _n;
    char *_bytes; /* _cap bytes, circular: the spans' JSON objects back to back */
    size_t _cap, _bhead, _bused;
    uint64_t _seq;
    vn_buf_t _scratch; /* one span being encoded */
} vn_ddspan_buf_t;

/** max_spans >= 1 slots and ring_bytes of span JSON (allocated now; pages fill as used). */
void vn_ddspan_buf_init(vn_ddspan_buf_t *rb, size_t max_spans, size_t ring_bytes);
void vn_ddspan_buf_destroy(vn_ddspan_buf_t *rb);
size_t vn_ddspan_buf_count(const vn_ddspan_buf_t *rb);

/**
 * Encodes span (borrowed, not kept) and buffers it as the newest span. The
 * oldest spans are overwritten when all slots or bytes are taken: *evicted
 * says how many (Go's ring overwrites without a word; we count them).
 * VN_ERR_TOO_LARGE (nothing changed) when the span alone is over
 * VN_DDSPAN_MAX_SPAN_JSON or the ring.
 */
vn_err_t vn_ddspan_buf_add(vn_ddspan_buf_t *rb, const Ssf__SSFSpan *span, size_t *evicted);

/**
 * The PUT body of everything buffered, and empties the buffer: a JSON array of
 * traces, each the array of its spans in arrival order, grouped by trace id
 * (traces in ascending id; Go's order is its map order, i.e. random), then
 * "\n" as Go's json.Encoder ends it. Returns owned (free) or NULL when empty;
 * *len, *nspans and *ntraces describe it.
 */
char *vn_ddspan_buf_take(vn_ddspan_buf_t *rb, size_t *len, size_t *nspans, size_t *ntraces);

/**
 * Appends span as one Datadog trace-API span, the JSON Go's encoding/json
 * writes for DatadogTraceSpan (fields in struct order, meta keys sorted, <>&
 * escaped as \u003c \u003e \u0026). VN_ERR_TOO_LARGE when b is full (b may
 * hold a partial object: truncate back).
 */
vn_err_t vn_ddspan_json_write(vn_buf_t *b, const Ssf__SSFSpan *span);

/**
 * The constructor with the HTTP transport given (owned from the call on; NULL:
 * libcurl). The registry's constructor passes NULL; unit tests pass a fake.
 */
vn_err_t vn_span_sink__datadog_new_with(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                        vn_http_transport_t *transport, char *errbuf, size_t errcap);

#endif
