/**
 * h2_stream.h - one long-lived gRPC client stream over its own HTTP/2
 * connection (h2c, what Go's proxy dials with grpc.WithInsecure): the
 * proxy's SendMetricsV2 stream to one global (docs/behaviour.md W3.3).
 *
 * Unlike forward/h2_client.h (one call per interval, whole body known up
 * front), the body here is open-ended: the owner hands over one buffer of
 * gRPC-framed messages at a time and hands the next once nghttp2 has taken
 * the previous one. The stream stays open until the owner ends it or it
 * fails. Failure is anything that means metrics may no longer arrive: EOF
 * or a reset connection, a GOAWAY, the server ending or resetting the
 * stream (its response is, for a client stream, the end of it), an HTTP/2
 * protocol error, a PING that the server has not answered within the ping
 * timeout (a hung peer), output that has made no progress for the stall
 * timeout (a peer that stopped reading), or the kernel giving up on the
 * connection (TCP keepalive: 15 s idle, then 3 probes 5 s apart; and
 * TCP_USER_TIMEOUT: data unacknowledged for the stall timeout).
 *
 * A stream with nothing to send still sends an empty DATA frame every
 * heartbeat: it carries no gRPC message (servers ignore it) but counts as
 * activity for servers that close idle connections.
 *
 * PINGs are rare on purpose: a Go (grpc-go) server allows one per 5 minutes
 * by default and answers more frequent ones, after two strikes, with
 * GOAWAY ENHANCE_YOUR_CALM "too_many_pings", which would drop a Go global
 * every few seconds. The stall and TCP checks cover the busy case.
 *
 * Thread safety: none; one thread (the destination's) owns a stream.
 */
#ifndef VN_PROXY_H2_STREAM_H
#define VN_PROXY_H2_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct vn_h2_stream vn_h2_stream_t;

typedef struct vn_h2_stream_opts {
    const char *addr;       /* "host:port" (borrowed for the call) */
    const char *path;       /* e.g. "/forwardrpc.Forward/SendMetricsV2" */
    double ping_interval_s; /* 0 = 310: a PING when none was sent for this long (grpc-go's
                               default enforcement allows one per 300 s) */
    double ping_timeout_s;  /* 0 = 20: an unanswered PING this old fails the stream */
    double stall_timeout_s; /* 0 = 30: pending output that has not moved for this long fails it */
    double heartbeat_s;     /* 0 = 60: an empty DATA frame after this long without body bytes, so
                               a server's idle timeout (veneur-c globals: 300 s) never fires */
    /* loop detection (issue 15, forward/hops.h): sent as request headers when set */
    const char *proxy_id; /* x-veneur-proxy-id, NULL = not sent */
    unsigned hops;        /* x-veneur-hops, 0 = not sent */
} vn_h2_stream_opts_t;

/**
 * Connects (TCP, then the HTTP/2 preface and SETTINGS exchange: the server
 * must answer with its SETTINGS), then opens the call and waits for the
 * answer to one PING sent after it, so the server has read the request
 * headers (and may already have refused the call, which is then a failure
 * here: a proxy that dialled itself learns it before taking metrics); all
 * before deadline
 * (CLOCK_MONOTONIC seconds, vn_h2_now). Host names are resolved with
 * getaddrinfo, which has no deadline of its own.
 * @return VN_OK with *out owned (vn_h2_stream_free); VN_ERR_CONFIG (bad
 *   address), VN_ERR_IO (refused, unreachable, not HTTP/2), VN_ERR_TIMEOUT;
 *   a one-line reason in err.
 */
vn_err_t vn_h2_stream_open(const vn_h2_stream_opts_t *o, double deadline, vn_h2_stream_t **out, char *err,
                           size_t errcap);

/** Closes the connection at once (RST of nothing; the server sees EOF) and frees. NULL ok. */
void vn_h2_stream_free(vn_h2_stream_t *s);

/** True when the last buffer given to vn_h2_stream_write has been taken whole by nghttp2. */
bool vn_h2_stream_idle(const vn_h2_stream_t *s);

/** Bytes of the current buffer not yet taken (0 when idle). */
size_t vn_h2_stream_unsent(const vn_h2_stream_t *s);

/**
 * Queues data[0..len) (gRPC-framed messages; borrowed until the stream is
 * idle again or freed) as the next part of the request body. Only valid
 * when vn_h2_stream_idle.
 */
void vn_h2_stream_write(vn_h2_stream_t *s, const uint8_t *data, size_t len);

/**
 * One pass: write what nghttp2 has, wait up to timeout_ms for the socket
 * (or for wake_fd, when >= 0, to become readable: *woken is then set and
 * the fd is left unread), read what arrived, send a keepalive PING when due.
 * @return VN_OK, or the failure (VN_ERR_IO, VN_ERR_PROTO, VN_ERR_TIMEOUT for
 *   the PING) with vn_h2_stream_error describing it. After a failure only
 *   vn_h2_stream_free is valid.
 */
vn_err_t vn_h2_stream_pump(vn_h2_stream_t *s, int timeout_ms, int wake_fd, bool *woken);

/**
 * Ends the request body after what is queued and waits until deadline for
 * the server's answer. @return VN_OK when the call ended with grpc-status 0.
 */
vn_err_t vn_h2_stream_finish(vn_h2_stream_t *s, double deadline);

/** What failed (static or stream-owned text, valid until free). */
const char *vn_h2_stream_error(const vn_h2_stream_t *s);

#endif
