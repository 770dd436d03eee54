/**
 * grpc_ingest.h - Go Veneur's gRPC ingest on grpc_listen_addresses (issue 21;
 * Go networking.go StartGRPC): one h2c gRPC server (forward/h2_server.h) per
 * address serving three unary methods:
 *
 *   /dogstatsd.DogstatsdGRPC/SendPacket  DogstatsdPacket{packetBytes}: one or
 *       more DogStatsD lines, read exactly as one UDP datagram (Go
 *       processMetricPacket): over metric_max_length the packet is dropped whole
 *       (packet_too_long), bad lines are counted and skipped, the call is OK.
 *   /ssf.SSFGRPC/SendSpan  one SSFSpan, queued for the span workers
 *       (ssf/server.h vn_ssf_server_offer), which decode, convert and hand it to
 *       the span sinks as a span read off a socket. Go blocks on a full span
 *       channel; here the call ends RESOURCE_EXHAUSTED (over
 *       trace_max_length_bytes) or UNAVAILABLE (queue full, stopping), counted,
 *       so the client learns its span was lost. Invalid protobuf is found by the
 *       worker (counted in ssf_errors_decode); the call is already OK then.
 *   /grpc.health.v1.Health/Check  SERVING for service "" and "veneur",
 *       NOT_FOUND "unknown service" otherwise (grpc-go's health server as Go
 *       sets it up). Health/Watch is UNIMPLEMENTED.
 *
 * A DogstatsdPacket or HealthCheckRequest that is not valid protobuf ends
 * INTERNAL, as grpc-go answers a request it cannot unmarshal. Each method is
 * unary: no request message, or more than one, ends INTERNAL (the lines of a
 * first message are already ingested then). Other paths: UNIMPLEMENTED.
 *
 * Threads: every callback runs on its server's thread, which is this
 * listener's one ingest reader (reader_id in every metric worker's rings);
 * what a read brought is committed to the workers when the server goes back
 * to wait (handler drained) and at each call's end.
 *
 * TLS: as Go, with tls_key set (main.c builds the context from tls_key,
 * tls_certificate and tls_authority_certificate, which then requires client
 * certificates), every connection is TLS with ALPN h2; else h2c.
 */
#ifndef VN_FORWARD_GRPC_INGEST_H
#define VN_FORWARD_GRPC_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/err.h"
#include "core/stats.h"
#include "forward/fwd_call.h"
#include "forward/h2_server.h"
#include "listen/ingest.h"
#include "ssf/server.h"

#define VN_GRPC_INGEST_PATH_PACKET "/dogstatsd.DogstatsdGRPC/SendPacket"
#define VN_GRPC_INGEST_PATH_SPAN "/ssf.SSFGRPC/SendSpan"
#define VN_GRPC_INGEST_PATH_HEALTH "/grpc.health.v1.Health/Check"

typedef struct vn_grpc_ingest_opts {
    const vn_ingest_shared_t *shared; /* copied; what it points to is borrowed */
    size_t reader_id;                 /* this listener's reader index in the metric workers' rings */
    vn_ssf_server_t *ssf;             /* borrowed, started before and stopped after; NULL = SendSpan UNIMPLEMENTED */
    size_t metric_max_length;         /* bytes of packetBytes; 0 = 4096 (Go's default) */
    SSL_CTX *tls;                     /* NULL = h2c; else TLS (ALPN h2), referenced by the server while it runs */
    vn_fwd_lifecycle_t lifecycle;     /* grpc_server.* (fwd_call.h); zero = h2_server defaults */
} vn_grpc_ingest_opts_t;

typedef struct vn_grpc_ingest vn_grpc_ingest_t;

/** The service without a socket (tests, fuzzing): handler callbacks only. Free with vn_grpc_ingest_free. */
vn_grpc_ingest_t *vn_grpc_ingest_new(const vn_grpc_ingest_opts_t *o);

/** The handler for an h2 server (ctx = g, borrowed: g must outlive the server). */
vn_grpc_handler_t vn_grpc_ingest_handler(vn_grpc_ingest_t *g);

/**
 * Starts serving url (tcp://host:port, tcp4://, tcp6://; port 0 = ephemeral).
 * @return VN_OK; VN_ERR_CONFIG for another scheme (Go: "Can't listen for
 *   GRPC on ... because it's not tcp://") or VN_ERR_IO (address in use), with
 *   a one-line reason in errbuf. At most once per g.
 */
vn_err_t vn_grpc_ingest_listen(vn_grpc_ingest_t *g, const char *url, char *errbuf, size_t errcap);

/** The bound port (0 before listen). */
int vn_grpc_ingest_port(const vn_grpc_ingest_t *g);

/** Stops the server (open calls end CANCELLED; what they delivered is kept) and commits. NULL ok. */
void vn_grpc_ingest_stop(vn_grpc_ingest_t *g);

/** Stops if needed and frees. NULL ok. */
void vn_grpc_ingest_free(vn_grpc_ingest_t *g);

/**
 * Reads a DogstatsdPacket (proto3: the last packetBytes wins, unknown fields
 * skipped). @return false if data is not valid protobuf for it; else *bytes,
 * *len borrow data (NULL, 0 when absent).
 */
bool vn_grpc_ingest_decode_packet(const uint8_t *data, size_t len, const uint8_t **bytes, size_t *blen);

#endif
