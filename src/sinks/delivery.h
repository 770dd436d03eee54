/**
 * delivery.h - the per-sink delivery queue of the HTTP sinks (datadog,
 * signalfx): a bounded queue of request bodies and one thread that sends them,
 * retrying transient failures (docs/behaviour.md 0.10; design in docs/internals/delivery.md).
 *
 * The sink's flush (flush thread) encodes the interval into request bodies and
 * enqueues them; enqueueing never blocks on the network, so a slow or dead
 * server never slows ingest, the flusher or another sink. The delivery thread
 * sends the oldest ready bodies first, up to max_in_flight at once, and
 * classifies each outcome:
 *
 *   2xx                                  sent (counted, freed)
 *   connect error, timeout, I/O error,   transient: the queue enters an outage:
 *   408, 429, 5xx                        only its oldest body is sent, alone, after
 *                                        an exponential backoff with jitter (base
 *                                        backoff_base_s, doubling, capped at
 *                                        backoff_max_s) or the 429/503 response's
 *                                        Retry-After if longer; the first success
 *                                        ends it and every body is ready at once.
 *                                        A body older than max_age_s is dropped
 *                                        (expired)
 *   any other status, unusable URL       permanent: logged once with an excerpt
 *                                        of the response body (<= 200 bytes,
 *                                        secrets redacted) and dropped
 *
 * The queue holds at most max_queue_bytes of bodies (waiting + in flight). An
 * enqueue that does not fit evicts the oldest waiting bodies first; a body that
 * still does not fit (the rest is in flight, or it alone exceeds the cap) is
 * dropped. Every outcome is counted in the sink's self-metrics slot
 * (core/stats.h vn_stats_sink_t payload* fields, plus the per-metric
 * delivered/delivery_failed/dropped/transport_errors counters).
 *
 * Ownership: bodies are malloc'd by the caller and owned by the queue from the
 * enqueue call on (freed by the delivery thread, or by vn_delivery_free).
 */
#ifndef VN_SINKS_DELIVERY_H
#define VN_SINKS_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/err.h"
#include "core/stats.h"
#include "sinks/http_client.h"

#define VN_DELIVERY_DEFAULT_MAX_QUEUE_BYTES ((size_t)64 << 20)
#define VN_DELIVERY_DEFAULT_MAX_IN_FLIGHT 4u
#define VN_DELIVERY_MAX_IN_FLIGHT_LIMIT 64u
#define VN_DELIVERY_BACKOFF_BASE_S 0.25
#define VN_DELIVERY_BACKOFF_MAX_S 10.0
/**
 * Payload age limit by default: 55 minutes, so an API outage of up to ten
 * minutes (and far longer) loses nothing while the byte cap holds, yet no
 * point is sent after Datadog's one-hour acceptance window (5 min margin for
 * clock skew and the request itself). Never below this many intervals.
 */
#define VN_DELIVERY_DEFAULT_MAX_AGE_S 3300.0
#define VN_DELIVERY_DEFAULT_AGE_INTERVALS 3.0
/** Shutdown drain grace: min(interval, this). */
#define VN_DELIVERY_MAX_GRACE_S 5.0

typedef struct vn_delivery vn_delivery_t;

typedef struct vn_delivery_opts {
    const char *name;            /* sink name, for logs; copied */
    size_t max_queue_bytes;      /* > 0 */
    double max_age_s;            /* > 0: older bodies are dropped instead of (re)sent */
    double request_timeout_s;    /* > 0: per request, connect included */
    double backoff_base_s;       /* > 0 */
    double backoff_max_s;        /* >= backoff_base_s */
    unsigned max_in_flight;      /* 1..VN_DELIVERY_MAX_IN_FLIGHT_LIMIT */
    double drain_grace_s;        /* >= 0: how long vn_delivery_free lets the queue drain */
    double idle_conn_timeout_s;  /* kept-alive connections idle longer are not reused; <= 0: default */
    const char *const *secrets;  /* copied; each occurrence in a logged body excerpt is redacted */
    size_t nsecrets;
    /* PEM files for the libcurl transport vn_delivery_new makes (http_client.h); borrowed until
     * vn_delivery_new returns; NULL = system trust store, no client certificate */
    const char *tls_ca_file, *tls_cert_file, *tls_key_file;
} vn_delivery_opts_t;

/**
 * Fills o from the sink's `config:` keys (all optional) and the daemon config
 * (cfg may be NULL: interval 10 s):
 *   max_queue_bytes  integer bytes, >= 1024; default 64 MiB
 *   max_payload_age  Go duration; default 55 min (VN_DELIVERY_DEFAULT_MAX_AGE_S)
 *   request_timeout  Go duration; default 0.9 interval (Go's sink HTTP client timeout)
 *   max_in_flight    1..64; default 4
 *   tls_ca_file, tls_cert_file, tls_key_file   readable files (cert and key
 *                    together); borrowed from sc into o
 * Fixed: backoff 250 ms doubling to min(10 s, interval) (delivery resumes
 * within one interval of the server's return), drain grace min(interval, 5 s), idle
 * connections kept 2 intervals (Go). name and secrets are left NULL/0.
 * Returns VN_OK or VN_ERR_CONFIG with a message naming the sink and key.
 */
vn_err_t vn_delivery_config(const vn_sink_config_t *sc, const vn_config_t *cfg, const char *sink_name,
                            vn_delivery_opts_t *o, char *errbuf, size_t errcap);

/**
 * A list-valued sink config key as owned copies (free with vn_delivery_strv_free):
 * a YAML sequence, or a scalar split at ',' (how the env override arrives).
 * Empty items are skipped. *n = 0 and *out = NULL when the key is absent.
 */
void vn_delivery_config_list(const vn_sink_config_t *sc, const char *key, char ***out, size_t *n);

/** True when s starts with one of prefixes[0..n) (the "*_drops" lists above; "" matches all). */
bool vn_delivery_strv_prefixes(const char *s, char *const *prefixes, size_t n);
void vn_delivery_strv_free(char **v, size_t n);

/**
 * Starts a queue and its thread. Takes ownership of transport (destroyed by
 * vn_delivery_free); NULL means a new libcurl client (http_client.h) sized by
 * o->max_in_flight. Returns owned; free with vn_delivery_free. Aborts on
 * thread creation failure (start-up only).
 */
vn_delivery_t *vn_delivery_new(const vn_delivery_opts_t *o, vn_http_transport_t *transport);

/**
 * Stops the queue: the thread keeps sending (and retrying) until the queue is
 * empty or drain_grace_s has passed, then aborts what is in flight, drops and
 * counts the rest (payloads_dropped_shutdown), and exits. Blocks at most about
 * drain_grace_s. NULL ok.
 */
void vn_delivery_free(vn_delivery_t *d);

/** One request body to deliver. */
typedef struct vn_delivery_req {
    const char *what;                          /* static label for logs: "series", "datapoint", ... */
    const char *url;                           /* copied */
    const char *headers[VN_HTTP_MAX_HEADERS];  /* "Name: value"; copied */
    size_t nheaders;
    char *body;                                /* malloc'd; ownership moves to the callee */
    size_t len;
    size_t nmetrics;                           /* metrics (or events) in the body, for per-metric counters */
    const char *method, *aws_sigv4, *userpwd;  /* optional, copied: see vn_http_request_t */
    const char *connect_to;                    /* optional, copied: see vn_http_request_t */
} vn_delivery_req_t;

/**
 * Queues r (thread-safe; never blocks on the network). Always takes ownership
 * of r->body (sets it to NULL). Returns VN_OK, or VN_ERR_TOO_LARGE when the body
 * could not be queued within max_queue_bytes (dropped and counted).
 */
vn_err_t vn_delivery_enqueue(vn_delivery_t *d, vn_delivery_req_t *r);

/** Where encoders hand their bodies: ownership of r->body passes to the callee in every case. */
typedef vn_err_t (*vn_delivery_emit_fn)(void *ctx, vn_delivery_req_t *r);

/** A vn_delivery_emit_fn that enqueues on ctx (a vn_delivery_t *). */
vn_err_t vn_delivery_emit(void *ctx, vn_delivery_req_t *r);

/** An encoder's outlet for one flush: bodies go to emit(ctx, ...); the first
 *  error is kept while later bodies are still tried, so a bad body loses only itself. */
typedef struct vn_delivery_out {
    vn_delivery_emit_fn emit;
    void *ctx;
    vn_err_t first_err;
} vn_delivery_out_t;

/** Keeps err as out->first_err when it is the first error. */
void vn_delivery_out_note(vn_delivery_out_t *out, vn_err_t err);

/** Hands r to out->emit and notes the result. */
void vn_delivery_out_send(vn_delivery_out_t *out, vn_delivery_req_t *r);

/**
 * Points the counters at the sink's self-metrics slot (borrowed; must outlive
 * d). Counts made before are added to it. Call from the flush thread (the
 * flusher sets vn_sink_t.stats before its thread starts). NULL is ignored.
 */
void vn_delivery_bind_stats(vn_delivery_t *d, vn_stats_sink_t *slot);

/** The counters in use: the bound slot, or the queue's own until one is bound. Borrowed. */
const vn_stats_sink_t *vn_delivery_stats(const vn_delivery_t *d);

#endif
