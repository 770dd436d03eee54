/**
 * span_sink_internal.h - what the span sink registry and the built-in span
 * sinks share. Only files under src/spansinks/ include this.
 */
#ifndef VN_SPANSINKS_SPAN_SINK_INTERNAL_H
#define VN_SPANSINKS_SPAN_SINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "spansinks/span_sink.h"

/**
 * A span sink constructor: the registry has allocated s and set s->name,
 * s->kind, s->hostname and the excluded tags; the constructor sets s->ops and
 * s->impl (owned, freed by ops->destroy). On error it leaves s->ops NULL, frees
 * what it allocated and writes one line naming the offending key into errbuf.
 */
typedef vn_err_t (*vn_span_sink_ctor_fn)(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                         char *errbuf, size_t errcap);

vn_err_t vn_span_sink__debug_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                 char *errbuf, size_t errcap);
vn_err_t vn_span_sink__datadog_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                   char *errbuf, size_t errcap);
vn_err_t vn_span_sink__localfile_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                     char *errbuf, size_t errcap);
vn_err_t vn_span_sink__splunk_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                  char *errbuf, size_t errcap);
/* xray.c: VN_ERR_IO when the daemon's address does not resolve or no socket connects to it */
vn_err_t vn_span_sink__xray_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                char *errbuf, size_t errcap);

/** Go's KafkaSpanSink (kafka.c); the producer connects in the background. */
vn_err_t vn_span_sink__kafka_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                 char *errbuf, size_t errcap);

/** printf into errbuf (NULL-safe); returns VN_ERR_CONFIG for `return vn_span_sink__errf(...)`. */
vn_err_t vn_span_sink__errf(char *errbuf, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * Appends span as Go's encoding/json.Marshal(*ssf.SSFSpan) writes it (the
 * generated struct's snake_case names, omitempty, map keys sorted, float32
 * values in their shortest float32 form), without a trailing newline. Span
 * tags excluded for s (may be NULL) are left out. VN_ERR_TOO_LARGE when b is
 * full (b may hold a partial document: truncate back).
 */
vn_err_t vn_span_json_write(vn_buf_t *b, const Ssf__SSFSpan *span, const vn_span_sink_t *s);

/**
 * Go strconv.FormatFloat(float64(f), 'g'-like, -1, 32) as encoding/json writes
 * a float32: shortest digits that read back as f, plain between 1e-6 and 1e21.
 * out needs 48 bytes. Returns the length. NaN/Inf are written as "NaN"/"+Inf"/"-Inf".
 */
size_t vn_span_json_float32(float f, char *out, size_t cap);

#endif
