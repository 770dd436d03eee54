/**
 * self.h - how a veneur-proxy recognises itself among its destinations
 * (issue 15): a destination list that contains the proxy (static, or from a
 * hostile or mistaken DNS, Consul or Kubernetes answer) would send every
 * metric round in a loop, ~110 000 hops/s.
 *
 * Two checks, both needed:
 *   - by address, before dialling: the destination resolves to the address
 *     and port the gRPC listener is bound to (any local interface address
 *     when bound to 0.0.0.0 or ::, a loopback address, or the bound address);
 *   - by id, after dialling: every stream carries x-veneur-proxy-id (a random
 *     id per process); the proxy's server, seeing its own id, marks the
 *     destination it was dialled as (its :authority) as itself. This covers
 *     what an address cannot show: a Service IP, NAT, a port forward.
 *
 * Thread safety: set the listener once before destinations can match it
 * (vn_self_set_listen); everything else is read-only and may be shared.
 */
#ifndef VN_PROXY_SELF_H
#define VN_PROXY_SELF_H

#include <stdatomic.h>
#include <stdbool.h>

#include "forward/hops.h"

typedef struct vn_self {
    char id[VN_PROXY_ID_LEN + 1]; /* hex, NUL-terminated */
    char bind_host[256];          /* the listener's host ("" or a wildcard = every local address) */
    _Atomic int port;             /* the listener's port, 0 until set */
} vn_self_t;

/** A fresh random id (getrandom; a clock and pid mix if that fails), no listener yet. */
void vn_self_init(vn_self_t *s);

/** Records the gRPC listener: the configured host part of grpc_address and the bound port. */
void vn_self_set_listen(vn_self_t *s, const char *bind_host, int port);

/**
 * True when "host:port" names our own listener. Resolves host (getaddrinfo:
 * may block like the dial that follows it). False when the listener is not
 * set or host does not resolve.
 */
bool vn_self_is_addr(const vn_self_t *s, const char *hostport);

#endif
