/**
 * h2_server.h - a small gRPC server over HTTP/2 (libnghttp2), plain TCP with
 * prior knowledge (h2c, what Go's grpc.NewServer() serves on grpc_address),
 * for unary and client-streaming methods whose response is Empty.
 *
 * One thread runs an epoll loop over the listening socket and every
 * connection. For each request it calls the handler: open when the request
 * headers are in (the handler picks the method by path or refuses), message
 * for each complete gRPC message, finish when the client ends its stream,
 * close exactly once for every opened call, whatever happened. The response
 * is Empty with grpc-status 0, or a Trailers-Only response with a non-zero
 * grpc-status and grpc-message (followed by RST_STREAM NO_ERROR if the client
 * is still sending, as gRPC's HTTP/2 mapping asks).
 *
 * Limits (defaults in brackets; all bounded before allocation):
 *   - max_message per gRPC message (RESOURCE_EXHAUSTED beyond) [4 MiB].
 *   - Reassembly of messages split across DATA frames is paid for as bytes
 *     arrive, never on the announced length (issue 15): per connection
 *     conn_reassembly [16 MiB], server-wide reassembly_budget [256 MiB]. When
 *     the server-wide budget is short, the connection holding the most is cut
 *     back (its largest partial message ends RESOURCE_EXHAUSTED) if it holds
 *     more than its fair share (budget / connections holding any); otherwise
 *     the asker is refused. A split message must complete within
 *     body_timeout_s [30 s] of its first byte (DEADLINE_EXCEEDED).
 *   - max_connections [4096] and max_per_peer [128] connections per source
 *     address. A newcomer over either limit evicts the least recently active
 *     connection without open calls (of that peer, resp. of anyone; one that
 *     never completed the handshake first) - idle sockets cannot lock
 *     senders out; only when every candidate has calls open is it refused.
 *   - handshake_timeout_s [10 s] for the TLS handshake (when tls is set),
 *     the client preface and first SETTINGS (grpc-go's ConnectionTimeout).
 *   - idle_timeout_s [300 s]: a connection that sent no frame other than
 *     PINGs this long is closed (GOAWAY first).
 *   - max_streams concurrent calls per connection (HTTP/2 setting) [32].
 *
 * Connection lifecycle (issue 21), grpc-go's keepalive.ServerParameters:
 *   - max_age_s [off]: at the connection's age plus or minus 10 % (uniform
 *     jitter drawn per connection, so a fleet does not reconnect in step)
 *     the server sends GOAWAY with the largest stream id (a notice: calls in
 *     flight are still accepted) and a PING; the PING's answer proves the
 *     client has seen the notice, and a second GOAWAY then names the last
 *     call taken. Calls up to it run to completion; a call the client sent
 *     after it is refused unprocessed (REFUSED_STREAM) and goes to the
 *     client's next connection. With no call open the connection closes.
 *   - max_age_grace_s [unlimited]: calls still open this long after the
 *     GOAWAY are cancelled and the connection closed.
 *   - keepalive_time_s [off]: after this long without any input the server
 *     PINGs; keepalive_timeout_s [20 s] later, still without input, the
 *     connection is closed (a dead peer, a black-holed path).
 * TLS (tls set): every connection is TLS; a failed handshake (for a server
 * context that requires client certificates: a client without one, or one
 * not signed by its CA) closes it, counted (grpc_tls_handshake_failures)
 * and logged at most once per second.
 * accept(2) failing for want of resources (EMFILE, ENFILE, ENOMEM, ENOBUFS)
 * takes the listener out of epoll for 100 ms, doubling to 1 s while it
 * persists (core/accept_backoff.h: logged once per episode, counted), instead
 * of spinning on a listener that stays readable.
 */
#ifndef VN_FORWARD_H2_SERVER_H
#define VN_FORWARD_H2_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/err.h"
#include "core/stats.h"
#include "forward/grpc_frame.h"

/** Loop-protection request headers (forward/hops.h), read by the server for the handler. */
typedef struct vn_grpc_meta {
    unsigned hops;          /* x-veneur-hops; 0 when absent; a malformed value reads as UINT_MAX */
    char proxy_id[33];      /* x-veneur-proxy-id, "" when absent or longer than 32 */
    char authority[256];    /* :authority as the client dialled it, "" when absent or too long */
    int64_t interval_ms;    /* x-veneur-interval-end in unix ms; 0 when absent or malformed */
} vn_grpc_meta_t;

/**
 * Reads an x-veneur-interval-end value (forward/hops.h): decimal unix
 * seconds with up to three fraction digits, e.g. "1765072808" or
 * "1765072808.500". @return unix milliseconds, or 0 for anything else
 * (empty, signs, more digits than a 64-bit millisecond count holds).
 */
int64_t vn_h2_parse_interval_ms(const char *v, size_t len);

/** Callbacks for one service; all run on the server thread. */
typedef struct vn_grpc_handler {
    /**
     * Request headers are complete for path (borrowed, NUL-terminated).
     * Returns the call's context (owned by the handler until close), or NULL
     * with *status and *msg (a static string) set to refuse the call.
     */
    void *(*open)(void *ctx, const char *path, vn_grpc_status_t *status, const char **msg);
    /**
     * One complete request message (borrowed for the call). VN_GRPC_OK goes
     * on; any other status ends the call with it and *msg (valid until
     * close).
     */
    vn_grpc_status_t (*message)(void *call, const uint8_t *data, size_t len, const char **msg);
    /** The client ended its stream: the call's status and *msg (valid until close). */
    vn_grpc_status_t (*finish)(void *call, const char **msg);
    /**
     * Once per opened call, last: release it. final is the status the call
     * was answered with, or VN_GRPC_CANCELLED if it never was (reset, closed
     * connection, server stopping).
     */
    void (*close)(void *call, vn_grpc_status_t final);
    void *ctx;
    /**
     * Optional, NULL = never called (added for the proxy's long-lived
     * streams, issue 7): every complete message that has arrived on the call's
     * connection so far has been handed over and the server is going back to
     * wait for more. A handler that batches messages flushes here, so a stream
     * that stays open for hours does not keep them until it ends. Called at
     * most once per read wake-up, only for calls that got messages since.
     */
    void (*drained)(void *call);
    /**
     * Optional (issue 15): when set, called instead of open, with the
     * request's loop-protection headers (borrowed for the call).
     */
    void *(*open_meta)(void *ctx, const char *path, const vn_grpc_meta_t *meta, vn_grpc_status_t *status,
                       const char **msg);
    /**
     * Optional (added for grpc.health.v1.Health/Check, issue 21), NULL = an OK
     * call answers Empty: the response message of an OK call, set *msg
     * (borrowed until close) and return its length, at most
     * VN_H2_MAX_RESPONSE; 0 = Empty.
     */
    size_t (*response)(void *call, const uint8_t **msg);
} vn_grpc_handler_t;

/** Largest response message a handler's response callback may return (one DATA frame). */
#define VN_H2_MAX_RESPONSE 1024

typedef struct vn_h2_server_opts {
    const char *address;     /* "host:port" to listen on; port 0 = ephemeral */
    vn_grpc_handler_t handler;
    size_t max_message;      /* bytes per gRPC message; 0 = VN_GRPC_MAX_MESSAGE */
    size_t reassembly_budget; /* bytes of split messages held at once, all connections; 0 = 256 MiB */
    size_t conn_reassembly;  /* the same for one connection; 0 = 16 MiB */
    size_t max_connections;  /* 0 = 4096 */
    size_t max_per_peer;     /* connections from one source address; 0 = 128 */
    uint32_t max_streams;    /* per connection; 0 = 32 */
    double idle_timeout_s;   /* 0 = 300 */
    double handshake_timeout_s; /* preface + first SETTINGS; 0 = 10 */
    double body_timeout_s;   /* first to last byte of a split message; 0 = 30 */
    vn_stats_t *stats;       /* borrowed, may be NULL: grpc_* counters */
    /* ---- lifecycle and TLS (issue 21); zero = off / default, see above ---- */
    SSL_CTX *tls;            /* NULL = h2c; else referenced (SSL_CTX_up_ref) until the server stops */
    double max_age_s;        /* grpc_server.max_connection_age; 0 = none */
    double max_age_grace_s;  /* grpc_server.max_connection_age_grace; 0 = unlimited */
    double keepalive_time_s; /* PING after this long without input; 0 = never */
    double keepalive_timeout_s; /* unanswered PING closes after this long; 0 = 20 */
} vn_h2_server_opts_t;

#define VN_H2_DEFAULT_REASSEMBLY ((size_t)256 << 20)
#define VN_H2_DEFAULT_CONN_REASSEMBLY ((size_t)16 << 20)
#define VN_H2_DEFAULT_MAX_CONNECTIONS 4096u
#define VN_H2_DEFAULT_MAX_PER_PEER 128u
#define VN_H2_DEFAULT_MAX_STREAMS 32u
#define VN_H2_DEFAULT_IDLE_S 300.0
#define VN_H2_DEFAULT_HANDSHAKE_S 10.0
#define VN_H2_DEFAULT_BODY_S 30.0
#define VN_H2_DEFAULT_KEEPALIVE_TIMEOUT_S 20.0
/** max_age jitter: each connection's age limit is max_age_s times [1 - this, 1 + this]. */
#define VN_H2_MAX_AGE_JITTER 0.1
/** accept(2) back-off: first pause and ceiling (seconds). */
#define VN_H2_ACCEPT_PAUSE_MIN_S 0.1
#define VN_H2_ACCEPT_PAUSE_MAX_S 1.0
/** An accept-failure episode (one log line) ends after this long without a failure. */
#define VN_H2_ACCEPT_EPISODE_QUIET_MS 10000

typedef struct vn_h2_server vn_h2_server_t;

/**
 * Binds, listens and starts the server thread. opts is copied (address
 * too). @return VN_OK with *out owned (vn_h2_server_stop), or VN_ERR_CONFIG
 * / VN_ERR_IO with a one-line reason in errbuf.
 */
vn_err_t vn_h2_server_start(const vn_h2_server_opts_t *opts, vn_h2_server_t **out, char *errbuf, size_t errcap);

/** The bound TCP port (useful with port 0). */
int vn_h2_server_port(const vn_h2_server_t *s);

/** Stops accepting, closes every connection (closing their calls), joins the thread, frees. NULL ok. */
void vn_h2_server_stop(vn_h2_server_t *s);

/* ---- Memory interface ---------------------------------------------------
 * The same connection engine without sockets or a thread, for fuzzing and
 * tests: bytes in, bytes out. Not to be mixed with a started server. */

typedef struct conn vn_h2_conn_t;

/** A server that owns no socket and no thread (opts copied, address unused). Free with vn_h2_server_free_detached. */
vn_h2_server_t *vn_h2_server_new_detached(const vn_h2_server_opts_t *opts);

/** Frees a detached server and every connection it still has (their calls are closed). */
void vn_h2_server_free_detached(vn_h2_server_t *s);

/** A new connection from peer (16-byte address key, borrowed; NULL = ::). Owned by s. */
vn_h2_conn_t *vn_h2_conn_new(vn_h2_server_t *s, const uint8_t *peer);

/**
 * Feeds bytes the client sent (borrowed). Handler callbacks run inside.
 * @return false when the connection must be closed (protocol error, or
 *   nothing left to do); the caller then calls vn_h2_conn_close.
 */
bool vn_h2_conn_feed(vn_h2_conn_t *c, const uint8_t *data, size_t len);

/**
 * Next bytes to send to the client: *out is valid until the next call on c.
 * @return their length, 0 when there is nothing to send, -1 when the
 *   connection must be closed.
 */
long vn_h2_conn_output(vn_h2_conn_t *c, const uint8_t **out);

/** Closes c (its calls closed as CANCELLED unless answered) and frees it. */
void vn_h2_conn_close(vn_h2_conn_t *c);

/**
 * Applies the deadlines at time now (CLOCK_MONOTONIC seconds): split
 * messages past body_timeout_s end DEADLINE_EXCEEDED; connections past the
 * handshake or idle deadline, past max_age + grace, or with a keepalive PING
 * unanswered are closed and freed (their handles become invalid); max_age
 * GOAWAYs and keepalive PINGs are queued (read them with vn_h2_conn_output).
 * The server thread runs this every second and at each connection's next
 * lifecycle deadline.
 */
void vn_h2_server_sweep(vn_h2_server_t *s, double now);

/**
 * Replaces the clock a detached server reads (tests of the lifecycle
 * timers): now(ctx) returns CLOCK_MONOTONIC-like seconds. NULL restores the
 * real clock. Call before the first vn_h2_conn_new.
 */
void vn_h2_server_set_clock(vn_h2_server_t *s, double (*now)(void *ctx), void *ctx);

/** Reassembly bytes held by all connections (tests). */
size_t vn_h2_server_held(const vn_h2_server_t *s);

/** Open connections (tests). */
size_t vn_h2_server_connections(const vn_h2_server_t *s);

#endif
