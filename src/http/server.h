/**
 * server.h - the daemon's HTTP server (http_address): health, readiness, version,
 * Prometheus self-metrics, optional config dump and optional POST /quitquitquit.
 *
 * Built on libmicrohttpd with one internal polling thread (epoll where MHD has it,
 * else poll, else select). Every callback in vn_http_handlers_t runs on that one
 * thread, one request at a time, so callbacks never race each other; they must be
 * safe against the rest of the daemon (read atomics or take their own locks).
 *
 * Endpoints (GET also answers HEAD, as Go's goji pat.Get does):
 *   GET  /healthcheck          200 "ok\n" (or handlers->healthcheck's status, empty body)
 *   GET  /healthcheck/tracing  200 "ok\n"
 *   GET  /healthz              200 "ok\n" / 503 (liveness, handlers->live)
 *   GET  /readyz               200 "ready\n" / 503 "shutting down\n"
 *   GET  /version              200 VN_VERSION           (no newline, like Go)
 *   GET  /builddate            200 VN_BUILD_DATE        (no newline, like Go)
 *   GET  /echo                 200 "hello world!\n"     (cmd/veneur's custom handler)
 *   GET  /metrics              200 Prometheus text 0.0.4 (when handlers->metrics); the
 *                              server appends its own veneur_http_connections_evicted_total
 *   GET  /config/json          200 application/json     (when handlers->config_json)
 *   GET  /config/yaml          200 application/x-yaml   (when handlers->config_yaml)
 *   POST /quitquitquit         200 "Beginning graceful shutdown....\n" (when handlers->quit)
 *   anything else              404 "404 page not found\n"
 * A known path asked with the wrong method gets 405 and an Allow header (Go: 404);
 * see docs/internals/http.md. Request bodies are read and discarded; one whose
 * Content-Length exceeds VN_HTTP_MAX_BODY gets 413 and the connection is closed.
 */
#ifndef VN_HTTP_SERVER_H
#define VN_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/*
 * Connection limits (issue 14: half-sent requests from one client used to
 * hold every slot, so /healthz and /readyz timed out and the pod was
 * restarted). Hard limits are MHD's; the soft ones are ours: when a new
 * connection takes the count of its address past VN_HTTP_SOFT_PER_IP, or the
 * total past VN_HTTP_SOFT_CONNECTIONS, the oldest connection of that address
 * (resp. of anyone) that has not delivered a complete request is shut, and
 * any connection that has not completed its first request within
 * VN_HTTP_HEADER_TIMEOUT_S goes too. A probe
 * sends its request at once, so it is always among the newest and never the
 * one evicted: it is served even when the attacker shares its address (the
 * kubelet and a hostile local process both come from the node). The gap
 * between soft and hard exceeds what MHD accepts in one loop turn (10), so
 * the hard limits are only met by connections that are all mid-response.
 */
/** Most connections served at once (MHD's limit); more wait in the backlog. */
#define VN_HTTP_MAX_CONNECTIONS 256u
/** Total above which the oldest connection without a complete request is evicted. */
#define VN_HTTP_SOFT_CONNECTIONS 192u
/** Most connections from one address (MHD's per-IP limit; more are closed at once). */
#define VN_HTTP_MAX_PER_IP 64u
/** Connections from one address above which its oldest without a complete request is evicted. */
#define VN_HTTP_SOFT_PER_IP 32u
/** Seconds a new connection may take to deliver its first complete request (checked when another arrives). */
#define VN_HTTP_HEADER_TIMEOUT_S 5u
/** Seconds of inactivity after which a connection is closed (MHD). */
#define VN_HTTP_CONN_TIMEOUT_S 15u
/** Largest request body accepted (bytes); a larger Content-Length gets 413. */
#define VN_HTTP_MAX_BODY ((size_t)1 << 20)
/** First buffer offered to a render callback (bytes). */
#define VN_HTTP_RENDER_INITIAL ((size_t)64 << 10)
/** Largest rendered body (bytes); a callback that needs more gets 500. */
#define VN_HTTP_MAX_RENDER ((size_t)16 << 20)

typedef struct vn_http_server vn_http_server_t; /* opaque */

/** Readiness: true = ready. Runs on the server thread. */
typedef bool (*vn_http_ready_fn)(void *ctx);

/**
 * Renders a response body into buf (borrowed, cap bytes, not NUL-terminated on
 * return). Returns the full length of the body. A return value <= cap means buf
 * holds the whole body; a larger value means "I need this many bytes": the server
 * calls again with a buffer at least that large, up to VN_HTTP_MAX_RENDER (then
 * it answers 500). The callback may be called several times for one request and
 * must render the same kind of output each time. Runs on the server thread.
 */
typedef size_t (*vn_http_render_fn)(void *ctx, char *buf, size_t cap);

/**
 * Asks the daemon to shut down. Called once per POST /quitquitquit, on the server
 * thread, after the response has been sent (or the client went away). It must only
 * signal (set a flag, write a pipe, raise a signal): calling vn_http_server_stop
 * from it would deadlock.
 */
typedef void (*vn_http_quit_fn)(void *ctx);

/**
 * /healthcheck status chosen by the program (added for veneur-proxy, issue 7):
 * 200 answers "ok\n" as usual, 204 and anything else (503 meant) an empty
 * body with that status. Runs on the server thread.
 */
typedef unsigned (*vn_http_status_fn)(void *ctx);

typedef struct vn_http_handlers {
    void *ctx;                     /**< passed to every callback; borrowed, must outlive the server */
    vn_http_ready_fn ready;        /**< /readyz; NULL = always ready */
    vn_http_render_fn metrics;     /**< /metrics; NULL = 404 */
    vn_http_render_fn config_json; /**< /config/json (http.config: true); NULL = 404 */
    vn_http_render_fn config_yaml; /**< /config/yaml (http.config: true); NULL = 404 */
    vn_http_quit_fn quit;          /**< POST /quitquitquit (http_quit: true); NULL = 404 */
    vn_http_status_fn healthcheck; /**< /healthcheck status; NULL = always 200 "ok\n" */
    vn_http_ready_fn live;         /**< /healthz: false = 503; NULL = always 200 "ok\n" */
} vn_http_handlers_t;

/**
 * Binds addr and starts serving on a new thread.
 *
 * @arg addr    "host:port", ":port" (all interfaces: [::] dual-stack, else 0.0.0.0),
 *              "[v6addr]:port" or "0.0.0.0:port". The host is resolved with getaddrinfo
 *              and the first address that binds wins. Port 0 picks a free port (see
 *              vn_http_server_port). Borrowed.
 * @arg h       callbacks; the struct is copied, h->ctx is borrowed. NULL = no optional endpoints.
 * @arg out     receives the server (owned; free with vn_http_server_stop).
 * @arg errbuf  receives a one-line reason on failure (may be NULL), e.g.
 *              `address "x": missing port in address` or
 *              `listen tcp 127.0.0.1:8127: bind: Address already in use`.
 * @return VN_OK; VN_ERR_CONFIG for an unparsable address or unknown host;
 *         VN_ERR_IO when socket/bind/listen or libmicrohttpd fails.
 * Thread-safe with respect to other servers.
 */
vn_err_t vn_http_server_start(const char *addr, const vn_http_handlers_t *h, vn_http_server_t **out,
                              char *errbuf, size_t errcap);

/** Connections evicted by the soft limits and the request deadline so far (any thread). */
unsigned long long vn_http_server_evicted(const vn_http_server_t *s);

/** The TCP port actually bound (useful when addr used port 0). */
int vn_http_server_port(const vn_http_server_t *s);

/**
 * Stops accepting, closes every connection, joins the server thread and frees s.
 * NULL is ignored. Must not be called from a handler callback.
 */
void vn_http_server_stop(vn_http_server_t *s);

#endif
