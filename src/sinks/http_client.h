/**
 * http_client.h - the HTTP transport of the sink delivery queues
 * (sinks/delivery.h): many POSTs in flight at once over kept-alive
 * connections, each with its own timeout, driven by one thread.
 *
 * A transport is a small vtable so the delivery queue can be tested against an
 * in-process fake (tests/unit/sinks/test_delivery.c); vn_http_client_new
 * returns the real one, built on a libcurl multi handle (connection cache and
 * keep-alive shared by every request of the transport).
 *
 * Threading: one owner thread calls start/wait/next_done/abort_all/destroy;
 * wakeup may be called from any thread (it interrupts a wait).
 *
 * Outcomes: a request ends exactly once, reported by next_done with the tag
 * given to start: either a response (VN_HTTP_RESPONSE with its status and the
 * first VN_HTTP_EXCERPT_MAX bytes of its body; the rest of the body is read
 * and discarded) or a transport failure (connect, timeout, I/O, a request that
 * cannot be made, or abort_all).
 */
#ifndef VN_SINKS_HTTP_CLIENT_H
#define VN_SINKS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/** Bytes of a response body kept for logs (the rest is discarded). */
#define VN_HTTP_EXCERPT_MAX 200
/** Headers per request (the sinks use at most four). */
#define VN_HTTP_MAX_HEADERS 8

typedef enum vn_http_outcome {
    VN_HTTP_RESPONSE = 0, /* a complete response arrived: see status */
    VN_HTTP_CONNECT,      /* name resolution or TCP/TLS connect failed */
    VN_HTTP_TIMEOUT,      /* the request's timeout passed */
    VN_HTTP_IO,           /* connection reset, empty or truncated reply, send/receive error */
    VN_HTTP_UNUSABLE,     /* the request cannot be made (malformed URL, unsupported scheme) */
    VN_HTTP_ABORTED,      /* ended by abort_all */
} vn_http_outcome_t;

typedef struct vn_http_result {
    vn_http_outcome_t outcome;
    int status;                            /* HTTP status for VN_HTTP_RESPONSE, else 0 */
    char excerpt[VN_HTTP_EXCERPT_MAX + 1]; /* first bytes of the body, NUL-terminated (may hold NULs) */
    size_t excerpt_len;
    char error[128]; /* transport error text (never contains the URL) */
    /* Retry-After of the response in seconds from its arrival (RFC 9110:
     * delay-seconds or an HTTP-date), capped at VN_HTTP_RETRY_AFTER_MAX_S;
     * 0 when absent, unparsable or in the past. The caller decides which
     * statuses it honours (delivery.c: 429 and 503). */
    double retry_after_s;
} vn_http_result_t;

/** Longest Retry-After honoured: a server asking for more is still probed this often. */
#define VN_HTTP_RETRY_AFTER_MAX_S 120.0

/**
 * Parses a Retry-After value v[0..len) (no NUL needed; surrounding blanks
 * ignored): delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015
 * 07:28:00 GMT", and the obsolete forms libcurl's date parser accepts),
 * relative to now_unix. Returns seconds capped at VN_HTTP_RETRY_AFTER_MAX_S,
 * 0 for a date in the past, -1 when unparsable.
 */
double vn_http_parse_retry_after(const char *v, size_t len, long long now_unix);

/** One POST. The transport copies url and headers at start; body is borrowed
 *  and must stay valid and unchanged until the request is reported done. */
typedef struct vn_http_request {
    const char *url;
    const char *headers[VN_HTTP_MAX_HEADERS]; /* "Name: value" */
    size_t nheaders;
    const char *body;
    size_t body_len;
    long timeout_ms; /* whole request, connect included; > 0 */
    const char *method;    /* NULL: POST; else e.g. "PUT" (the body is sent the same way) */
    const char *aws_sigv4; /* NULL, or libcurl's CURLOPT_AWS_SIGV4 "aws:amz:REGION:SERVICE" (needs userpwd) */
    const char *userpwd;   /* NULL, or "ACCESS_KEY_ID:SECRET" for aws_sigv4 */
    /* NULL, or libcurl's CURLOPT_CONNECT_TO "HOST:PORT:CONNECT_HOST:CONNECT_PORT": the URL's
     * host (SNI, certificate check) is kept while the TCP connection goes elsewhere */
    const char *connect_to;
} vn_http_request_t;

typedef struct vn_http_transport vn_http_transport_t;

typedef struct vn_http_transport_ops {
    /** Starts sending req; tag comes back with its result. VN_ERR_AGAIN when the
     *  transport cannot take another request now (nothing started). */
    vn_err_t (*start)(vn_http_transport_t *t, const vn_http_request_t *req, void *tag);
    /** Drives transfers; returns after activity, a wakeup, or timeout_ms. */
    void (*wait)(vn_http_transport_t *t, int timeout_ms);
    /** Pops one finished request: true with *tag and *res filled, false when none. */
    bool (*next_done)(vn_http_transport_t *t, void **tag, vn_http_result_t *res);
    /** Thread-safe: makes a concurrent or the next wait return at once. */
    void (*wakeup)(vn_http_transport_t *t);
    /** Ends every request in flight as VN_HTTP_ABORTED (reported by next_done). */
    void (*abort_all)(vn_http_transport_t *t);
    /** Frees the transport; requests still in flight are dropped unreported. */
    void (*destroy)(vn_http_transport_t *t);
} vn_http_transport_ops_t;

/** Implementations embed this as their first member. */
struct vn_http_transport {
    const vn_http_transport_ops_t *ops;
};

typedef struct vn_http_client_opts {
    unsigned max_connections; /* per host, = the most requests in flight; >= 1 */
    long idle_timeout_s;      /* a kept-alive connection idle longer is not reused; <= 0: libcurl's default */
    const char *user_agent;   /* copied; NULL: "veneur-c/<version>" */
    /* PEM file paths, copied; NULL: the system trust store (libcurl's default), no client certificate */
    const char *tls_ca_file;   /* CURLOPT_CAINFO: the CAs that may sign an https:// server */
    const char *tls_cert_file; /* CURLOPT_SSLCERT: client certificate (mutual TLS) */
    const char *tls_key_file;  /* CURLOPT_SSLKEY: its private key */
} vn_http_client_opts_t;

/**
 * Returns the libcurl transport (owned; free with t->ops->destroy(t)). Calls
 * curl_global_init once per process. Requests honour the usual http_proxy /
 * https_proxy / no_proxy environment variables, verify TLS peers, never follow
 * redirects (a 3xx is an answer) and never send `Expect: 100-continue`.
 */
vn_http_transport_t *vn_http_client_new(const vn_http_client_opts_t *opts);

/** Static name of an outcome ("response", "connect", "timeout", "io", "unusable", "aborted"). */
const char *vn_http_outcome_name(vn_http_outcome_t o);

#endif
