/**
 * h2_client.h - a minimal gRPC client over HTTP/2 (libnghttp2): one
 * persistent connection to one host:port, plain TCP with prior knowledge
 * (h2c, what Go's grpc.WithInsecure dials) or TLS with ALPN "h2", and one
 * call at a time whose whole request body (already gRPC-framed) is known
 * when the call starts. That covers both forwardrpc methods: the unary
 * SendMetrics and the client-streaming SendMetricsV2.
 *
 * Blocking with a deadline: vn_h2_client_call never takes longer than its
 * deadline (connect, TLS handshake, request, response), except for DNS
 * resolution of a host name, which getaddrinfo does without one. A call
 * that runs out of time is cancelled (RST_STREAM CANCEL) and the connection
 * dropped, so a slow peer costs one interval, not the next ones too.
 *
 * Thread safety: none; one thread (the forwarder's) owns a client.
 */
#ifndef VN_FORWARD_H2_CLIENT_H
#define VN_FORWARD_H2_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/err.h"

/** What one call ended with. */
typedef struct vn_grpc_result {
    vn_err_t transport;      /* VN_OK when a response arrived; VN_ERR_IO (connect, reset,
                                EOF), VN_ERR_TIMEOUT (deadline), VN_ERR_PROTO (HTTP/2 error) */
    int http_status;         /* :status, 0 if none arrived */
    int grpc_status;         /* grpc-status, -1 if none arrived */
    char grpc_message[256];  /* grpc-message, percent-decoded, "" if none */
    uint32_t reset_code;     /* HTTP/2 error code if the stream was reset, else 0 */
    bool submitted;          /* the request reached nghttp2 (false: failed while connecting,
                                nothing of the body can have reached the server) */
    size_t body_len;         /* response body bytes */
    uint8_t body[64];        /* their first bytes */
} vn_grpc_result_t;

typedef struct vn_h2_client vn_h2_client_t;

/**
 * Splits "host:port" or "[v6]:port" into host and port (copied into the
 * caller's buffers). @return VN_OK or VN_ERR_CONFIG (no port, empty host,
 * too long).
 */
vn_err_t vn_h2_split_hostport(const char *addr, char *host, size_t hostcap, char *port, size_t portcap);

/**
 * A client for addr ("host:port"); nothing is connected until the first
 * call. tls NULL = h2c; else the context is referenced (SSL_CTX_up_ref), so
 * the caller may free its own reference. server_name: the name the server
 * certificate must carry (NULL or "" = the host part of addr). All strings
 * are copied. @return VN_OK with *out owned (vn_h2_client_free), or
 * VN_ERR_CONFIG for a malformed addr.
 */
vn_err_t vn_h2_client_new(const char *addr, SSL_CTX *tls, const char *server_name, vn_h2_client_t **out);

/** Closes the connection and frees the client. NULL ok. */
void vn_h2_client_free(vn_h2_client_t *c);

/**
 * One gRPC call: POST path with content-type application/grpc, te:
 * trailers and a grpc-timeout matching the deadline, then body[0..len)
 * (borrowed for the call; the caller frames the messages), then the end
 * of the stream; waits for the response trailers. Reconnects first when
 * the previous connection failed or the server sent GOAWAY; a call the
 * server refused unprocessed (REFUSED_STREAM after a GOAWAY) is retried once
 * on a new connection if time remains.
 * @arg deadline CLOCK_MONOTONIC seconds (see vn_h2_now).
 * @return VN_OK when the call completed with grpc-status 0; otherwise the
 *   transport error, or VN_ERR_PROTO for a non-200 status or a non-0 or
 *   missing grpc-status. *res always describes what happened.
 */
vn_err_t vn_h2_client_call(vn_h2_client_t *c, const char *path, const uint8_t *body, size_t len, double deadline,
                           vn_grpc_result_t *res);

/**
 * Sets one extra request header sent on every later call (name lower-case,
 * both copied, each under 48 bytes); NULL or too long = none. Used for
 * x-veneur-interval-end (forward/hops.h).
 */
void vn_h2_client_set_header(vn_h2_client_t *c, const char *name, const char *value);

/** Current CLOCK_MONOTONIC time in seconds. */
double vn_h2_now(void);

#endif
