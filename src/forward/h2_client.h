/**
 * h2_client.h - the one gRPC client over HTTP/2 (libnghttp2), used by the
 * local forwarder (forward/forwarder.c) and by the proxy's destinations
 * (proxy/dest.c): one connection to one host:port, plain TCP with prior
 * knowledge (h2c, what Go's grpc.WithInsecure dials) or TLS with ALPN "h2",
 * and one call at a time of either shape:
 *
 *   unary-style call (vn_h2_client_call): the whole request body (already
 *     gRPC-framed) is known when the call starts; the connection persists
 *     across calls. Covers the unary SendMetrics and a client-streaming
 *     SendMetricsV2 that carries one interval.
 *   long-lived stream (vn_h2_client_stream_*): an open-ended request body
 *     handed over one buffer at a time, on a fresh connection, until the
 *     owner ends it or it fails (the proxy's SendMetricsV2 to one global).
 *
 * Blocking with a deadline: nothing waits longer than the deadline it is
 * given, except DNS resolution of a host name, which getaddrinfo does
 * without one. A unary call that runs out of time is cancelled
 * (RST_STREAM CANCEL) and the connection dropped, so a slow peer costs one
 * interval, not the next ones too.
 *
 * Every connection asks the kernel to watch the peer: TCP keepalive (15 s
 * idle, then 3 probes 5 s apart) and TCP_USER_TIMEOUT (data unacknowledged
 * for the stall timeout), so a dead host or a black-holed path fails without
 * any frame a gRPC server could object to.
 *
 * A stream fails on anything that means metrics may no longer arrive: EOF or
 * a reset connection, a GOAWAY that does not name it as taken, the server ending or resetting the stream
 * (its response is, for a client stream, the end of it), an HTTP/2 protocol
 * error, a PING the server has not answered within the ping timeout (a hung
 * peer), output that has made no progress for the stall timeout (a peer that
 * stopped reading). A stream with nothing to send still sends an empty DATA
 * frame every heartbeat: no gRPC message (servers ignore it) but activity
 * for servers that close idle connections. PINGs are rare on purpose: a Go
 * (grpc-go) server allows one per 5 minutes by default and answers more
 * frequent ones, after two strikes, with GOAWAY ENHANCE_YOUR_CALM
 * "too_many_pings", which would drop a Go global every few seconds.
 *
 * Thread safety: none; one thread (the forwarder's, or a destination's)
 * owns a client.
 */
#ifndef VN_FORWARD_H2_CLIENT_H
#define VN_FORWARD_H2_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/err.h"

/** What one unary-style call ended with. */
typedef struct vn_grpc_result {
    vn_err_t transport;      /* VN_OK when a response arrived; VN_ERR_IO (connect, reset,
                                EOF), VN_ERR_TIMEOUT (deadline), VN_ERR_PROTO (HTTP/2 error) */
    int http_status;         /* :status, 0 if none arrived */
    int grpc_status;         /* grpc-status, -1 if none arrived */
    char grpc_message[256];  /* grpc-message, percent-decoded, "" if none */
    uint32_t reset_code;     /* HTTP/2 error code if the stream was reset, else 0 */
    bool submitted;          /* the request reached nghttp2 (false: failed while connecting,
                                nothing of the body can have reached the server); the
                                forwarder fails over to another address only when false */
    size_t body_len;         /* response body bytes */
    uint8_t body[64];        /* their first bytes */
} vn_grpc_result_t;

typedef struct vn_h2_client vn_h2_client_t;

/** Most extra request headers (vn_h2_client_set_header) a client carries. */
#define VN_H2_CLIENT_MAX_HEADERS 4

/** Timing of a long-lived stream; 0 in any field = its default. */
typedef struct vn_h2_client_timing {
    double ping_interval_s; /* 310: a PING when none was sent for this long (grpc-go's default
                               enforcement allows one per 300 s) */
    double ping_timeout_s;  /* 20: an unanswered PING this old fails the stream */
    double stall_timeout_s; /* 30: pending output that has not moved for this long fails it;
                               also the TCP_USER_TIMEOUT of every connection */
    double heartbeat_s;     /* 60: an empty DATA frame after this long without body bytes, so
                               a server's idle timeout (veneur-c globals: 300 s) never fires */
} vn_h2_client_timing_t;

/**
 * A client for addr ("host:port"); nothing is connected until the first
 * call or stream. tls NULL = h2c; else the context is referenced
 * (SSL_CTX_up_ref), so the caller may free its own reference. server_name:
 * the name the server certificate must carry (NULL or "" = the host part
 * of addr). All strings are copied. @return VN_OK with *out owned
 * (vn_h2_client_free), or VN_ERR_CONFIG for a malformed addr.
 */
vn_err_t vn_h2_client_new(const char *addr, SSL_CTX *tls, const char *server_name, vn_h2_client_t **out);

/** Closes the connection at once (the server sees EOF) and frees the client. NULL ok. */
void vn_h2_client_free(vn_h2_client_t *c);

/**
 * Sets (value non-NULL) or removes (value NULL) one request header sent on
 * every later call and stream: x-veneur-interval-end, x-veneur-proxy-id,
 * x-veneur-hops (forward/hops.h); "user-agent" replaces the default
 * "veneur-c/VERSION". name lower-case, under 48 bytes; value under 80.
 * @return VN_OK, or VN_ERR_CONFIG (too long, or VN_H2_CLIENT_MAX_HEADERS
 *   already set) with nothing changed.
 */
vn_err_t vn_h2_client_set_header(vn_h2_client_t *c, const char *name, const char *value);

/**
 * One unary-style gRPC call: POST path with content-type
 * application/grpc, te: trailers, a grpc-timeout matching the deadline and
 * the extra headers, then body[0..len) (borrowed for the call), then the end
 * of the stream; waits for the response trailers. Reconnects first when the
 * previous connection failed or the server sent GOAWAY; a call the server
 * refused unprocessed (REFUSED_STREAM after a GOAWAY) is retried once on a
 * new connection if time remains. Not valid while a stream is open.
 * @arg deadline CLOCK_MONOTONIC seconds (vn_clock_mono_s).
 * @return VN_OK when the call completed with grpc-status 0; otherwise the
 *   transport error, or VN_ERR_PROTO for a non-200 status or a non-0 or
 *   missing grpc-status. *res always describes what happened.
 */
vn_err_t vn_h2_client_call(vn_h2_client_t *c, const char *path, const uint8_t *body, size_t len, double deadline,
                           vn_grpc_result_t *res);

/**
 * Opens a long-lived stream on a fresh connection (an earlier one is
 * dropped): TCP (and TLS), the HTTP/2 preface and SETTINGS exchange (the
 * server must answer with its SETTINGS, as Go's WithBlock waits for READY),
 * the call's HEADERS (no grpc-timeout: the call has no deadline), then one
 * PING whose answer means the server has read the headers (and may already
 * have refused the call, which is then a failure here: a proxy that dialled
 * itself learns it before joining the ring); all before deadline.
 * @arg t NULL = all defaults.
 * @return VN_OK; VN_ERR_IO (refused, unreachable, not HTTP/2),
 *   VN_ERR_TIMEOUT, VN_ERR_PROTO, with vn_h2_client_error saying why.
 */
vn_err_t vn_h2_client_stream_open(vn_h2_client_t *c, const char *path, const vn_h2_client_timing_t *t,
                                  double deadline);

/** True when the last buffer given to vn_h2_client_stream_write has been taken whole by nghttp2. */
bool vn_h2_client_stream_idle(const vn_h2_client_t *c);

/** Bytes of the current buffer not yet taken (0 when idle). */
size_t vn_h2_client_stream_unsent(const vn_h2_client_t *c);

/**
 * Queues data[0..len) (gRPC-framed messages; borrowed until the stream is
 * idle again or the client freed) as the next part of the request body.
 * Only valid on an open stream that is idle.
 */
void vn_h2_client_stream_write(vn_h2_client_t *c, const uint8_t *data, size_t len);

/**
 * One pass on an open stream: write what nghttp2 has, wait up to timeout_ms
 * for the socket (or for wake_fd, when >= 0, to become readable: *woken is
 * then set and the fd is left unread), read what arrived, send a keepalive
 * PING or heartbeat when due. @return VN_OK, or the failure (VN_ERR_IO,
 * VN_ERR_PROTO, VN_ERR_TIMEOUT) with vn_h2_client_error describing it.
 * After a failure only vn_h2_client_stream_open (a new stream) or
 * vn_h2_client_free are valid.
 */
vn_err_t vn_h2_client_stream_pump(vn_h2_client_t *c, int timeout_ms, int wake_fd, bool *woken);

/**
 * Ends the request body after what is queued and waits until deadline for
 * the server's answer. @return VN_OK when the call ended with grpc-status 0.
 */
vn_err_t vn_h2_client_stream_finish(vn_h2_client_t *c, double deadline);

/**
 * The server sent GOAWAY (max connection age, shutdown) naming the open
 * stream as taken (its id <= last-stream-id): the stream still works, but
 * the connection will end. The owner should stop adding to it, end it with
 * vn_h2_client_stream_finish (whose grpc-status 0 proves the server
 * processed everything the stream carried: nothing is resent, nothing
 * lost) and open a new stream, which dials a new connection (issue 21).
 */
bool vn_h2_client_stream_goaway(const vn_h2_client_t *c);

/** The last vn_h2_client_stream_open got as far as the server's SETTINGS (the dial
 * succeeded; a failure after it was the call's), whether or not it then failed. */
bool vn_h2_client_dialled(const vn_h2_client_t *c);

/** Why the last stream open or pump failed ("no error" if none); valid until the next call or free. */
const char *vn_h2_client_error(const vn_h2_client_t *c);

#endif
