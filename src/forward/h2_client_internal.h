/**
 * h2_client_internal.h - what the files of the gRPC client share (h2_client.h is the public side).
 * Only src/forward/h2_client*.c include this.
 *
 * A client is used by one thread at a time (h2_client.h); nothing here locks. Ownership: the
 * client owns its socket, its SSL, its nghttp2 session and its copies of host, port,
 * server_name and the extra headers; it holds a reference on tls. The request body (body) is
 * the caller's, borrowed until nghttp2 has taken it (body_off == body_len).
 *
 * Files:
 *   h2_client.c        life cycle, unary-style calls, the failure reason (why)
 *   h2_client_conn.c   the connection: dial, TLS, session set-up, the nghttp2 callbacks and
 *                      body source, and the pump (write, wait, read, submit)
 *   h2_client_stream.c long-lived streams: open, write, keepalive PINGs, stall checks, finish
 */
#ifndef VN_FORWARD_H2_CLIENT_INTERNAL_H
#define VN_FORWARD_H2_CLIENT_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "forward/h2_client.h"

struct vn_h2_client {
    char host[256], port[16];
    char authority[300];
    struct {
        char name[48], value[80];
    } xh[VN_H2_CLIENT_MAX_HEADERS]; /* extra request headers, vn_h2_client_set_header */
    size_t nxh;
    char *server_name;
    SSL_CTX *tls;
    /* the connection */
    int fd;
    SSL *ssl;
    bool ssl_wants_write; /* the TLS layer needs the socket writable to go on */
    nghttp2_session *sess;
    bool dead;         /* GOAWAY seen, EOF or an error: reconnect before the next call */
    bool got_settings; /* the server's SETTINGS arrived */
    bool dialled;      /* ... on the last stream open (kept after a disconnect) */
    const uint8_t *out; /* pending output chunk from nghttp2_session_mem_send */
    size_t out_len;
    /* the call in progress */
    int32_t sid;
    bool streaming;   /* a long-lived stream (keepalive; GOAWAY drains it) */
    bool goaway;      /* the server sent GOAWAY naming this stream as taken: finish it, open another */
    bool closed;      /* the call's stream closed (answered or reset) */
    bool failed;      /* the stream failed: only a new open or free */
    bool got_headers; /* any response header arrived */
    bool ending;      /* END_STREAM once the body is used up */
    const uint8_t *body;
    size_t body_len, body_off;
    vn_grpc_result_t *res; /* the caller's (unary) or own_res (stream) */
    vn_grpc_result_t own_res;
    /* stream keepalive */
    vn_h2_client_timing_t t;
    double ping_sent;     /* monotonic time of the outstanding PING, 0 if none */
    double last_ping_ack; /* last PING answered (or the open time) */
    double last_progress; /* last time output moved, or nothing was pending */
    double last_data;     /* last time body bytes were taken */
    bool heartbeat_due;   /* the data source owes an empty DATA frame */
    char why[256];
};

/* ---- h2_client.c ---- */

/** Records the reason of a failure in c->why (printf-style); the first reason since the last reset wins. */
__attribute__((format(printf, 2, 3))) void vn_h2c__why(vn_h2_client_t *c, const char *fmt, ...);
/** in with zero (or negative) fields replaced by the defaults into *t; in may be NULL (all defaults). */
void vn_h2c__timing_defaults(vn_h2_client_timing_t *t, const vn_h2_client_timing_t *in);

/* ---- h2_client_conn.c ---- */

/** Drops the connection (session, SSL, socket); the next call dials again. Idempotent. */
void vn_h2c__disconnect(vn_h2_client_t *c);
/** Dials (TCP, then TLS when configured) and starts the HTTP/2 session, by deadline (monotonic s).
 * VN_OK, or VN_ERR_IO/TIMEOUT/CONFIG/NOMEM/PROTO with c->why set and nothing left open. */
vn_err_t vn_h2c__connect_all(vn_h2_client_t *c, double deadline);
/** Writes whatever nghttp2 has. Returns VN_OK (maybe with output pending) or VN_ERR_IO/PROTO. */
vn_err_t vn_h2c__flush_out(vn_h2_client_t *c);
/** Feeds what the socket has to nghttp2 (bounded per pass). VN_OK, VN_ERR_IO (c->dead set) or VN_ERR_PROTO. */
vn_err_t vn_h2c__read_in(vn_h2_client_t *c);
/** Waits for the socket (and wake_fd, when >= 0; *woken set if it fired) at most ms; then reads. */
vn_err_t vn_h2c__wait_io(vn_h2_client_t *c, int ms, int wake_fd, bool *woken);
/** Submits the call's HEADERS (path, grpc-timeout when not NULL) with the body data source. */
vn_err_t vn_h2c__submit(vn_h2_client_t *c, const char *path, const char *grpc_timeout);

#endif
