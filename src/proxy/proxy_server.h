/**
 * proxy_server.h - the proxy's gRPC listener (docs/behaviour.md W3.2): serves
 * forwardrpc.Forward on grpc_address like a global, but routes each metric
 * to its destination instead of aggregating it.
 *
 * Methods: SendMetricsV2 (client stream; each message routed as it is
 * reassembled) and SendMetrics (unary MetricList; Go's proxy also serves
 * it). A message that is not a decodable metricpb.Metric is counted and
 * skipped, the others of the call are still routed, and the call then ends
 * INVALID_ARGUMENT naming how many (Go fails the stream on the first one).
 * Metrics the ring cannot place (no destination, a full queue) are counted,
 * not reported to the caller, as in Go. Other answers: UNIMPLEMENTED for
 * an unknown method or a compressed message, RESOURCE_EXHAUSTED above 4 MiB
 * per message, INVALID_ARGUMENT for a unary call without exactly one
 * request message or a MetricList that is not valid protobuf.
 */
#ifndef VN_PROXY_PROXY_SERVER_H
#define VN_PROXY_PROXY_SERVER_H

#include <openssl/ssl.h>

#include "core/err.h"
#include "core/stats.h"
#include "proxy/proxy_stats.h"
#include "proxy/router.h"

typedef struct vn_proxy_server vn_proxy_server_t;

/** One listener's transport: plain h2c or TLS, and the HTTP/2 lifecycle of its connections. */
typedef struct vn_proxy_listen {
    const char *address;        /* "host:port"; port 0 = ephemeral; borrowed for the call */
    SSL_CTX *tls;               /* NULL = h2c; else referenced by the server (caller keeps its own) */
    double idle_timeout_s;      /* grpc_server.max_connection_idle; 0 = 300 s */
    double handshake_timeout_s; /* grpc_server.connection_timeout; 0 = 10 s */
    double max_age_s, max_age_grace_s; /* grpc_server.max_connection_age(_grace); 0 = none / unlimited */
    double keepalive_time_s;    /* grpc_server.ping_timeout (Go's keepalive Time); 0 = never */
    double keepalive_timeout_s; /* grpc_server.keepalive_timeout; 0 = 20 s */
} vn_proxy_listen_t;

/**
 * As vn_proxy_server_start, for the listener l describes (see
 * forward/h2_server.h for the lifecycle semantics).
 */
vn_err_t vn_proxy_server_start_listen(const vn_proxy_listen_t *l, vn_router_t *router, vn_proxy_stats_t *stats,
                                      vn_stats_t *conn_stats, vn_proxy_server_t **out, char *errbuf, size_t errcap);

/**
 * Starts serving on address ("host:port"; port 0 = ephemeral). router and
 * stats are borrowed and must outlive the server; conn_stats (borrowed, may
 * be NULL) receives h2_server's connection counter. idle_timeout_s: a
 * connection silent this long is closed (0 = 300 s).
 * @return VN_OK with *out owned (vn_proxy_server_stop), or an error with a
 *   one-line reason in errbuf.
 */
vn_err_t vn_proxy_server_start(const char *address, vn_router_t *router, vn_proxy_stats_t *stats,
                               vn_stats_t *conn_stats, double idle_timeout_s, vn_proxy_server_t **out, char *errbuf,
                               size_t errcap);

/** The bound port. */
int vn_proxy_server_port(const vn_proxy_server_t *s);

/** Stops accepting, ends open calls (what they delivered stays routed), joins, frees. NULL ok. */
void vn_proxy_server_stop(vn_proxy_server_t *s);

#endif
