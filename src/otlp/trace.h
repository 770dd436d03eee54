/**
 * trace.h - OTLP spans (an ExportTraceServiceRequest, proto/otlp_trace.proto and otlp_trace_service.proto)
 * to SSF spans (proto/ssf.proto), the trace half of docs/otlp.md:
 *
 *   SSFSpan.trace_id   low 64 bits of the 16-byte trace_id (bytes 8..15,
 *                      big-endian) as int64
 *   SSFSpan.id         the 8-byte span_id, big-endian, as int64
 *   SSFSpan.parent_id  parent_span_id the same way (0 when empty)
 *   name, start_timestamp, end_timestamp   name, start/end_time_unix_nano
 *   error              status.code == STATUS_CODE_ERROR
 *   service            resource attribute service.name (string form)
 *   tags               the span's attributes, then the resource's whose key
 *                      the span does not have (the span's win), each value in
 *                      string form: strings as they are, bools true/false,
 *                      ints decimal, doubles shortest round-trip text, bytes
 *                      base64, arrays and maps as JSON
 *   indicator          false
 *
 * A span whose ids have the wrong length (trace 16, span 8, parent 0 or 8),
 * with more than VN_OTLP_TRACE_MAX_TAGS tags, more than VN_OTLP_TRACE_TEXT
 * bytes of rendered values, or an SSFSpan over max_span bytes is refused and
 * counted, as is one the emit callback does not take.
 *
 * Not thread-safe: one converter per ingest thread. Decoding allocates
 * (protobuf-c) in proportion to the request; the mapping uses the
 * converter's preallocated buffers.
 */
#ifndef VN_OTLP_TRACE_H
#define VN_OTLP_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ssf.pb-c.h"

/** Where a packed SSFSpan goes (bytes borrowed for the call); false = not taken (counted as refused). */
typedef bool (*vn_otlp_span_fn)(void *ctx, const uint8_t *span, size_t len);

typedef struct vn_otlp_trace_counts {
    uint64_t requests; /* requests decoded */
    uint64_t spans;    /* spans read */
    uint64_t accepted; /* spans the emit callback took */
    uint64_t invalid;  /* refused here: bad id lengths, too many tags, too large */
    uint64_t refused;  /* refused by the emit callback */
} vn_otlp_trace_counts_t;

#define VN_OTLP_TRACE_MAX_TAGS 512
/** Bytes of rendered non-string attribute values of one span. */
#define VN_OTLP_TRACE_TEXT 65536
/** Nesting of array and map values rendered as JSON; deeper values become null. */
#define VN_OTLP_TRACE_MAX_DEPTH 8

typedef struct vn_otlp_tracer {
    vn_otlp_span_fn emit;
    void *ctx;
    size_t max_span;
    uint8_t *_out; /* max_span bytes, owned */
    char _text[VN_OTLP_TRACE_TEXT];
    Ssf__SSFSpan__TagsEntry _entries[VN_OTLP_TRACE_MAX_TAGS];
    Ssf__SSFSpan__TagsEntry *_ptrs[VN_OTLP_TRACE_MAX_TAGS];
    vn_otlp_trace_counts_t c;
} vn_otlp_tracer_t;

/** max_span: the largest packed SSFSpan handed to emit (vn_ssf_server_max_span), > 0. */
void vn_otlp_trace_init(vn_otlp_tracer_t *t, size_t max_span, vn_otlp_span_fn emit, void *ctx);
void vn_otlp_trace_destroy(vn_otlp_tracer_t *t);

/**
 * Decodes body[0..len) (an uncompressed ExportTraceServiceRequest) and hands
 * every span to emit. *rejected (may be NULL) gets the spans refused by this
 * call (invalid + refused; the OTLP partial-success count). VN_OK, or
 * VN_ERR_PARSE when the bytes are not a request (nothing emitted).
 */
vn_err_t vn_otlp_trace_request(vn_otlp_tracer_t *t, const uint8_t *body, size_t len, uint64_t *rejected);

/**
 * Maps one decoded span (exposed for tests): packs it into t's buffer;
 * out and out_len borrow it until the next call. false = refused (invalid).
 */
struct Opentelemetry__Proto__Trace__V1__Span;
struct Opentelemetry__Proto__Resource__V1__Resource;
bool vn_otlp_trace_map(vn_otlp_tracer_t *t, const struct Opentelemetry__Proto__Trace__V1__Span *sp,
                       const struct Opentelemetry__Proto__Resource__V1__Resource *res, const uint8_t **out,
                       size_t *out_len);

#endif
