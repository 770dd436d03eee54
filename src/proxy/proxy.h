/**
 * proxy.h - veneur-proxy as a whole (docs/behaviour.md W3): the gRPC listener, the
 * router with its destinations, discovery, and the HTTP endpoints, started
 * and stopped in order. tools/veneur-proxy/main.c only parses flags, loads
 * the config and waits for a signal.
 *
 * HTTP (http_address, src/http/server.h): /healthcheck 204 while at least
 * one destination is up and the proxy is not shutting down, else 503 (Go's
 * semantics); /healthz 200; /readyz 200, 503 once shutting down; /metrics
 * (proxy_stats.h, router.h); /version, /builddate.
 */
#ifndef VN_PROXY_PROXY_H
#define VN_PROXY_PROXY_H

#include "core/err.h"
#include "proxy/proxy_config.h"

typedef struct vn_proxy vn_proxy_t;

/**
 * Binds the listeners, dials the static destinations and starts discovery.
 * cfg is borrowed and must outlive the proxy. @return VN_OK with *out owned
 * (vn_proxy_shutdown), or VN_ERR_CONFIG / VN_ERR_IO with a one-line reason.
 */
vn_err_t vn_proxy_start(const vn_proxy_config_t *cfg, vn_proxy_t **out, char *err, size_t errcap);

/** Bound ports (0 when that listener is not configured). */
int vn_proxy_grpc_port(const vn_proxy_t *p);
int vn_proxy_grpc_tls_port(const vn_proxy_t *p);
int vn_proxy_http_port(const vn_proxy_t *p);

/**
 * Graceful stop: /healthcheck and /readyz turn 503, discovery stops, the gRPC
 * listener closes (open calls end; what they sent stays routed), queued
 * metrics are sent for at most shutdown_timeout, streams are ended, the
 * HTTP listener closes, everything is freed. NULL ok.
 */
void vn_proxy_shutdown(vn_proxy_t *p);

#endif
