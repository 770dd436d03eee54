/**
 * server.h - the SSF span pipeline of one daemon (Go ssf_listen_addresses):
 * one I/O thread on epoll reads `udp://` sockets (one SSFSpan per datagram,
 * at most trace_max_length_bytes) and `unix://` stream sockets (ssf/frame.h
 * framing), copies each span's bytes into a bounded queue of
 * span_channel_capacity preallocated slots (full: a datagram is dropped and
 * counted; a stream frame waits for room, as Go blocks), and
 * num_span_workers threads decode (ssf/decode.h), convert (ssf/convert.h)
 * and free each span. docs/internals/ssf.md.
 *
 * Life cycle: open (bind; errors are config errors) -> reader_count (reader
 * ids the span workers need in every metric worker's rings) -> start -> stop
 * -> free.
 */
#ifndef VN_SSF_SERVER_H
#define VN_SSF_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "listen/ingest.h"

/** Used when trace_max_length_bytes is 0 (Go would read every datagram into 0 bytes). */
#define VN_SSF_DEFAULT_MAX_LEN 16384
/** Open unix stream connections; see server.c for eviction (counted). */
#define VN_SSF_MAX_CONNS 1024
/** Open connections per peer uid (SO_PEERCRED), so one local user cannot take them all. */
#define VN_SSF_MAX_CONNS_PER_UID 256
/**
 * A unix stream connection that sends nothing for this long is closed (counted in
 * veneur_ssf_connections_idle_closed_total). Go has no SSF idle timeout; this is its statsd
 * TCP read timeout (defaultTCPReadTimeout, 10 min), also ours for statsd streams. Tests
 * shorten it with env VENEUR_TEST_SSF_IDLE_MS, read once at open.
 */
#define VN_SSF_IDLE_TIMEOUT_MS (600u * 1000u)
/** Budget of the stop-time drain of the SSF sockets (as the statsd readers' VN_DGRAM_DRAIN_MAX_S). */
#define VN_SSF_DRAIN_MAX_MS 2000

typedef struct vn_ssf_server vn_ssf_server_t;

/**
 * Binds every ssf_listen_addresses entry (udp://, unix:// only). *out NULL
 * when there are none and no grpc_listen_addresses either: as in Go, a gRPC
 * listener alone brings up the span workers (SSFGRPC/SendSpan feeds them
 * through vn_ssf_server_offer).
 */
vn_err_t vn_ssf_server_open(const vn_config_t *cfg, vn_ssf_server_t **out, char *errbuf, size_t errcap);

/** Reader ids used by the span workers (0 for a NULL server). */
size_t vn_ssf_server_reader_count(const vn_ssf_server_t *s);

/**
 * Where a span goes after its metrics are taken out (the span sinks,
 * spansinks/runner.h): called on a span worker with the span's protobuf bytes,
 * for every span Go would hand its span sinks (a valid trace, or one carrying
 * metrics). Must not block.
 */
typedef void (*vn_ssf_span_hook_fn)(void *ctx, const uint8_t *span, size_t len);

/** Starts the threads; span worker i uses reader id first_reader + i. shared is copied. */
vn_err_t vn_ssf_server_start(vn_ssf_server_t *s, const vn_ingest_shared_t *shared, size_t first_reader);

/** Sets the span hook (before start; NULL = spans end at the metric conversion). */
void vn_ssf_server_set_span_hook(vn_ssf_server_t *s, vn_ssf_span_hook_fn fn, void *ctx);

/** What vn_ssf_server_offer did with a span. */
typedef enum vn_ssf_offer_rc {
    VN_SSF_OFFER_OK = 0,   /* queued for a span worker */
    VN_SSF_OFFER_FULL,     /* the span queue is full: dropped, counted in ssf_spans_dropped */
    VN_SSF_OFFER_TOO_LONG, /* over vn_ssf_server_max_span: not queued (the caller counts it) */
    VN_SSF_OFFER_STOPPED,  /* not started, or stopping: not queued */
} vn_ssf_offer_rc_t;

/**
 * Queues one SSFSpan's protobuf bytes (copied; 0 bytes is a valid empty span,
 * as a decoded gRPC message is) for the span workers, from any thread, like
 * a span read off a socket. Never waits for room: a full queue drops the span
 * (the gRPC thread that calls this serves every connection, so blocking on
 * one span would stall them all).
 */
vn_ssf_offer_rc_t vn_ssf_server_offer(vn_ssf_server_t *s, const uint8_t *span, size_t len);

/** The largest span vn_ssf_server_offer takes (trace_max_length_bytes, its default, Go's frame cap). */
size_t vn_ssf_server_max_span(const vn_ssf_server_t *s);

/**
 * Stops reading after a drain of what the kernel already holds on every socket (until
 * EAGAIN, at most VN_SSF_DRAIN_MAX_MS), lets the workers finish the queue, joins. NULL-safe.
 */
void vn_ssf_server_stop(vn_ssf_server_t *s);
void vn_ssf_server_free(vn_ssf_server_t *s);

#endif
