/**
 * datadog.h - the Datadog metric sink's encoder (module-internal to
 * src/sinks/; datadog.c is the sink, datadog_json.c the encoder). docs/behaviour.md W4.2,
 * 4.3; operator notes in docs/internals/delivery.md.
 *
 * The encoder turns one flush into request bodies and hands each to an emit
 * function (the sink's delivery queue, or a test's recorder):
 *
 *   series      POST {api_hostname}/api/v1/series?api_key=KEY
 *               Content-Type: application/json, Content-Encoding: deflate (zlib)
 *               {"series":[...]}\n, at most flush_max_per_body series per body
 *   check_run   POST {api_hostname}/api/v1/check_run?api_key=KEY, uncompressed
 *               JSON array [...]\n of service checks (status metrics)
 *   intake      POST {api_hostname}/intake?api_key=KEY, deflate
 *               {"events":{"api":[...]}}\n
 *
 * Series are split like Go (n series, bodies = ceil(n / flush_max_per_body),
 * each ceil(n / bodies) long), and further halved while a body is over the
 * byte caps (raw_cap uncompressed, sent_cap as sent), so no request exceeds
 * Datadog's intake limits (62 MiB decompressed, 3.2 MB compressed).
 *
 * Not thread-safe: one flush at a time (the flush thread).
 */
#ifndef VN_SINKS_DATADOG_H
#define VN_SINKS_DATADOG_H

#include <stddef.h>

#include "core/buf.h"
#include "sinks/delivery.h"
#include "sinks/sink.h"

#define VN_DD_DEFAULT_MAX_PER_BODY 25000
#define VN_DD_RAW_CAP ((size_t)62914560) /* Datadog: 62 MiB decompressed */
#define VN_DD_SENT_CAP ((size_t)3200000) /* Datadog: 3.2 MB compressed */

typedef struct vn_dd_tag_rule {
    char *metric_prefix;
    char **tags; /* tag prefixes removed from metrics whose name starts with metric_prefix */
    size_t ntags;
} vn_dd_tag_rule_t;

typedef struct vn_dd {
    char *api_key;
    char *series_url, *check_url, *intake_url;
    size_t max_per_body; /* > 0 */
    char **name_drops;   /* metric name prefixes never sent */
    size_t n_name_drops;
    vn_dd_tag_rule_t *tag_rules; /* exclude_tags_prefix_by_prefix_metric, config order */
    size_t n_tag_rules;
    size_t raw_cap, sent_cap; /* per-body byte caps (tests lower them) */
    vn_buf_t json;            /* scratch body, kept across flushes */
    size_t *idx;              /* scratch: indices of series, then of checks */
    size_t idx_cap;
    size_t skipped;           /* metrics never encoded (non-finite value, alone over a cap), cumulative */
} vn_dd_t;

/** The registry's constructor for kind "datadog" (sink_internal.h contract). */
vn_err_t vn_sink__datadog_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                              size_t errcap);

/**
 * Reads the sink's `config:` keys: api_key (required), api_hostname (required,
 * http:// or https:// base URL; trailing '/' ignored), flush_max_per_body
 * (0/absent: 25000), metric_name_prefix_drops (list),
 * exclude_tags_prefix_by_prefix_metric ([{metric_prefix, tags: [...]}]).
 * Returns VN_OK, or VN_ERR_CONFIG with a message naming the sink and key.
 * dd is initialised either way; release with vn_dd__destroy.
 */
vn_err_t vn_dd__init(vn_dd_t *dd, const vn_sink_config_t *sc, const char *sink_name, char *errbuf, size_t errcap);
void vn_dd__destroy(vn_dd_t *dd);

/**
 * Encodes the metrics of one flush that s wants (vn_sink__wants, name drops):
 * counters and gauges as series, status metrics as service checks. Borrows
 * everything; every body goes to emit(ctx, req) (ownership of the body moves).
 * Returns VN_OK, or the first error emit returned (encoding goes on).
 */
vn_err_t vn_dd__encode_metrics(vn_dd_t *dd, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                               const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);

/** Encodes events for /intake (same contract). */
vn_err_t vn_dd__encode_events(vn_dd_t *dd, const vn_sink_event_t *ev, size_t n, const vn_flush_info_t *info,
                              vn_delivery_emit_fn emit, void *ctx);

/**
 * Appends s to b percent-encoded for a URL query value (RFC 3986 unreserved
 * bytes kept). Returns VN_OK or VN_ERR_TOO_LARGE.
 */
vn_err_t vn_dd__query_escape(vn_buf_t *b, const char *s);

#endif
