/**
 * router.h - the proxy's destinations and the ring that routes metrics to
 * them (docs/behaviour.md W3.3, 0.9).
 *
 * The router keeps the set of wanted destinations (static forward_addresses
 * plus whatever discovery returned last), one destination object per
 * address, each with its own thread, HTTP/2 connection, long-lived
 * SendMetricsV2 stream and bounded queue. The ring holds exactly the
 * destinations whose stream is up:
 *   - a destination whose stream fails is taken out of the ring at once
 *     (its keys move to the survivors from the next metric on) and what it
 *     still had queued is routed again through the new ring; it then
 *     re-dials with exponential backoff and rejoins the ring when its
 *     stream is up again (Go: a static destination never comes back);
 *   - an address that leaves discovery is removed (Go keeps it), its queue
 *     routed again; one that appears is dialled.
 *
 * Swapping: the ring is rebuilt whole on each change and published as an
 * immutable, reference-counted snapshot with a generation number. Routing
 * threads keep a snapshot in a vn_route_ctx_t and only compare the
 * generation per metric (one atomic load); nothing on the routing path
 * waits for a destination: a full queue is a counted drop.
 *
 * Thread safety: every function may be called from any thread, except
 * that a vn_route_ctx_t belongs to one thread at a time.
 */
#ifndef VN_PROXY_ROUTER_H
#define VN_PROXY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/err.h"
#include "proxy/proxy_stats.h"
#include "proxy/self.h"
#include "proxy/tag_match.h"

/** Bytes of framed metrics one destination may hold queued (besides the batch being sent). */
#define VN_DEST_MAX_QUEUE_BYTES ((size_t)64 << 20)

typedef struct vn_router vn_router_t;
typedef struct vn_route_snap vn_route_snap_t; /* opaque ring snapshot */

typedef struct vn_router_opts {
    double dial_timeout_s;       /* per connection attempt (TCP + HTTP/2 SETTINGS) */
    size_t queue_max_msgs;       /* send_buffer_size */
    size_t queue_max_bytes;      /* 0 = VN_DEST_MAX_QUEUE_BYTES */
    double backoff_min_s;        /* 0 = 0.25: first re-dial after a failure */
    double backoff_max_s;        /* 0 = 8 */
    double ping_interval_s;      /* 0 = forward/h2_client.h's default (310 s) */
    double ping_timeout_s;       /* 0 = forward/h2_client.h's default (20 s) */
    double stall_timeout_s;      /* 0 = forward/h2_client.h's default (30 s) */
    double heartbeat_s;          /* 0 = forward/h2_client.h's default (60 s) */
    const vn_tagm_set_t *ignore; /* ignore_tags; borrowed, must outlive the router; NULL = none */
    vn_proxy_stats_t *stats;     /* borrowed, must outlive the router */
    const vn_self_t *self;       /* borrowed, must outlive the router; NULL = no self detection (tests) */
    SSL_CTX *tls;                /* forward_tls: dial destinations over TLS; NULL = h2c. Referenced
                                    (SSL_CTX_up_ref) until vn_router_free */
    const char *server_name;     /* forward_tls.server_name; borrowed, must outlive the router */
} vn_router_opts_t;

/** A new router with no destinations. opts is copied (pointers in it borrowed). Returns owned. */
vn_router_t *vn_router_new(const vn_router_opts_t *opts);

/**
 * Stops and removes every destination. Queued metrics are sent until
 * deadline (CLOCK_MONOTONIC seconds): each up stream is drained and ended
 * (END_STREAM, then the server's answer is awaited); what is left at the
 * deadline is dropped and counted. The router stays valid (empty) for
 * vn_router_render and vn_router_healthy. Call after routing has stopped.
 */
void vn_router_stop(vn_router_t *r, double deadline);

/** Stops what is left (no drain) and frees. No vn_route_ctx_t may be in use. NULL ok. */
void vn_router_free(vn_router_t *r);

/** Adds static destinations (copied): dialled now, kept for the router's life. */
void vn_router_add_static(vn_router_t *r, const char *const *addrs, size_t n);

/**
 * Replaces the discovered set with addrs (copied): new addresses are
 * dialled, addresses no longer listed are removed (unless also static).
 * Blocks until removed destinations have stopped (at most about one dial
 * timeout). Call from one thread (discovery).
 */
void vn_router_set_discovered(vn_router_t *r, const char *const *addrs, size_t n);

/**
 * Our own server got a call carrying our own proxy id, dialled as addr
 * (its :authority): that destination is this proxy. It leaves the ring and
 * is never dialled again (dest.h). Unknown addr: nothing. Any thread.
 */
void vn_router_mark_self(vn_router_t *r, const char *addr);

/**
 * A call arrived with x-veneur-hops = hops_in (< VN_HOPS_MAX): streams must
 * now carry at least hops_in + 1, and those opened with less are re-opened
 * (the count only rises; see forward/hops.h). Cheap when nothing changes.
 */
void vn_router_note_hops(vn_router_t *r, unsigned hops_in);

/** opts.self (may be NULL). */
const vn_self_t *vn_router_self(const vn_router_t *r);

/** The x-veneur-hops new streams carry (1 until a call with hops arrives). */
unsigned vn_router_hops(const vn_router_t *r);

/** Destinations whose stream is up (the ring's members). */
size_t vn_router_healthy(const vn_router_t *r);

/** Destinations known (up or not). */
size_t vn_router_size(const vn_router_t *r);

/** Appends per-destination counters (Prometheus text, label destination="addr") to out. */
void vn_router_render(vn_router_t *r, vn_buf_t *out);

struct vn_statsd_out;
/**
 * Adds Go's per-destination veneur_proxy.* lines to out (tag destination:<addr>):
 * forward.buffer_size (messages queued) for each destination in the ring,
 * forward.buffer_latency_ns / send_latency_ns when a batch went out since the
 * last call, handle.enqueue when metrics found the queue full. One caller
 * thread (the telemetry tick); does not flush.
 */
void vn_router_emit(vn_router_t *r, struct vn_statsd_out *out);

/* ---- routing ---- */

typedef enum vn_route_result {
    VN_ROUTE_OK = 0,        /* queued for its destination */
    VN_ROUTE_NO_DEST = 1,   /* the ring is empty */
    VN_ROUTE_DROPPED = 2,   /* the destination's queue is full, or it failed and no survivor took it */
    VN_ROUTE_INVALID = 3,   /* not a decodable metricpb.Metric */
} vn_route_result_t;

/** One routing thread's view of the ring. */
typedef struct vn_route_ctx {
    vn_router_t *r;
    vn_route_snap_t *snap; /* owned reference, NULL until the first metric */
    uint64_t gen;
} vn_route_ctx_t;

void vn_route_ctx_init(vn_route_ctx_t *c, vn_router_t *r);
/** Drops the snapshot reference. */
void vn_route_ctx_release(vn_route_ctx_t *c);

/**
 * Routes one metricpb.Metric (msg borrowed; its bytes are copied into the
 * destination's queue and forwarded unchanged): key = name + lower-case
 * type + tags not matched by ignore_tags (ring.h), owner from the ring.
 * Does not count in vn_proxy_stats_t (the caller does, per batch).
 */
vn_route_result_t vn_route_metric(vn_route_ctx_t *c, const uint8_t *msg, size_t len);

/** The key hash vn_route_metric uses for a decoded metric's bytes, or false if they do not decode. */
bool vn_route_key_hash(const vn_router_t *r, const uint8_t *msg, size_t len, uint32_t *hash);

#endif
