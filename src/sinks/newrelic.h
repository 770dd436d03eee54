/**
 * newrelic.h - the New Relic metric sink's encoder (module-internal to
 * src/sinks/; newrelic.c).
 *
 * Counters and gauges become gzip'd JSON bodies for the Metric API
 * (POST https://metric-api.newrelic.com/metric/v1, EU:
 * metric-api.eu.newrelic.com), shaped as the telemetry SDK Go Veneur uses
 * writes them:
 *
 *   [{"common":{"timestamp":MS,"interval.ms":MS,"attributes":{common_tags}},
 *     "metrics":[{"name":N,"type":"count"|"gauge","value":V,"timestamp":MS,
 *                 "interval.ms":MS (counts only),"attributes":{tags}}]}]
 *
 * with headers `Content-Type: application/json`, `Api-Key: INSERT_KEY` and
 * `Content-Encoding: gzip`. A body over VN_NR_GZIP_CAP compressed bytes is
 * split in halves (the SDK's rule; the API refuses payloads over 1 MB).
 *
 * Status checks become Insights events (the Event API Go's sink uses through
 * newrelic-client-go): POST {insights}/v1/accounts/ACCOUNT_ID/events, header
 * `X-Insert-Key`, gzip'd JSON array of flat objects with eventType
 * (service_check_event_type), name, timestamp, statusCode, status
 * (OK/WARNING/CRITICAL/UNKNOWN), hostname, message and the tags. DogStatsD
 * events go there too with eventType event_type. Without account_id there is
 * no event URL: those are counted as dropped (a warning at start-up).
 *
 * Tags become attributes the way Go's tagsToKeyValue does: "k:v" splits at
 * the first ':', a value that parses as a float (and is not "infinity") is a
 * JSON number, other values strings, a tag without ':' is {"tag":"true"}; a
 * repeated key keeps its last value.
 *
 * Not thread-safe: one flush at a time (the flush thread).
 */
#ifndef VN_SINKS_NEWRELIC_H
#define VN_SINKS_NEWRELIC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "sinks/delivery.h"
#include "sinks/sink.h"

#define VN_NR_METRIC_URL_US "https://metric-api.newrelic.com/metric/v1"
#define VN_NR_METRIC_URL_EU "https://metric-api.eu.newrelic.com/metric/v1"
#define VN_NR_INSIGHTS_US "https://insights-collector.newrelic.com/v1"
#define VN_NR_INSIGHTS_EU "https://insights-collector.eu.newrelic.com/v1"
#define VN_NR_DEFAULT_EVENT_TYPE "veneur"
#define VN_NR_DEFAULT_CHECK_EVENT_TYPE "veneurCheck"
/** Compressed bytes at which a body is split (telemetry SDK: 1 MiB). */
#define VN_NR_GZIP_CAP ((size_t)1 << 20)
/** Uncompressed JSON cap per body; a larger one is split before compressing. */
#define VN_NR_RAW_CAP ((size_t)32 << 20)
#define VN_NR_DEFAULT_MAX_PER_BODY 10000

typedef struct vn_nr {
    char *insert_key;
    char *metric_url;   /* Metric API URL */
    char *event_url;    /* Insights URL; NULL without account_id */
    char *api_header;   /* "Api-Key: KEY" */
    char *insert_header; /* "X-Insert-Key: KEY" */
    char *event_type, *check_event_type;
    char *common_json;  /* the common tags as a JSON object, or NULL when there are none */
    size_t max_per_body; /* metrics per body before the size split */
    size_t gzip_cap, raw_cap; /* tests lower them */
    vn_buf_t json;      /* scratch, kept across flushes */
    size_t *idx;        /* scratch: indices of the metrics being sent */
    size_t idx_cap;
    size_t skipped;     /* metrics never sent (non-finite, too large alone, no event URL), cumulative */
} vn_nr_t;

/** The registry's constructor for kind "newrelic" (sink_internal.h contract). */
vn_err_t vn_sink__newrelic_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                               size_t errcap);

/**
 * Reads the sink's `config:` keys (Go's names): insert_key (required),
 * account_id (integer; needed for status checks and events), region ("US"
 * default, or "EU"; case-insensitive), common_tags (list of "k:v"),
 * event_type (default "veneur"), service_check_event_type (default
 * "veneurCheck"); veneur-c additions: metric_url and event_url (override the
 * Metric API URL and the Insights base URL, e.g. for a proxy or a test
 * server) and flush_max_per_body (default 10000). Returns VN_OK or
 * VN_ERR_CONFIG naming the sink and key; x is initialised either way
 * (release with vn_nr__destroy).
 */
vn_err_t vn_nr__init(vn_nr_t *x, const vn_sink_config_t *sc, const char *sink_name, char *errbuf, size_t errcap);
void vn_nr__destroy(vn_nr_t *x);

/**
 * Appends the attribute object of tags (and hostname/message when not NULL or
 * empty, which win over tags of the same key) to b: "{...}", or with braces
 * false only the members, each preceded by ',' (to extend an open object). Tags excluded for
 * s (s may be NULL) and keys listed in skip (NULL-terminated, may be NULL) are
 * left out. Returns VN_OK or VN_ERR_TOO_LARGE.
 */
vn_err_t vn_nr__attributes(vn_buf_t *b, const vn_sink_t *s, const char *const *tags, size_t ntags,
                           const char *hostname, const char *message, const char *const *skip, bool braces);

/**
 * Encodes the counters and gauges s wants into Metric API bodies and the
 * status checks into event bodies, handing each to emit (ownership moves).
 * Returns VN_OK or the first emit/encode error.
 */
vn_err_t vn_nr__encode_metrics(vn_nr_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                               const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);

/** Encodes DogStatsD events as Insights events (same contract). */
vn_err_t vn_nr__encode_events(vn_nr_t *x, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                              const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);

#endif
