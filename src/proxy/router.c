/*
 * router.c - destinations, the ring snapshot and routing (see router.h).
 *
 * Locks, never nested the other way round:
 *   mu       the destination table and each destination's router flags
 *            (in_ring, removed, is_static, is_discovered); taken by
 *            discovery, by destination threads (up/down hooks) and /metrics
 *   snap_mu  only around reading `cur` and taking a reference (a few
 *            instructions; routing threads take it when the generation moved)
 *   dest->mu inside dest.c (the queue); routing threads take it per metric
 * mu may be held while taking snap_mu or a dest->mu; never the reverse.
 *
 * Ordering that keeps metrics from falling between two rings:
 *   up:   the destination accepts first, then joins the ring;
 *   down: it leaves the ring first, then stops accepting and hands its
 *         queue back for re-routing (everything queued by a thread that
 *         still saw the old ring is in that queue).
 */
#include "proxy/router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "forward/grpc_frame.h"
#include "telemetry/statsd_out.h"
#include "forward/hops.h"
#include "proxy/dest.h"
#include "proxy/metric_scan.h"
#include "proxy/ring.h"

struct vn_route_snap {
    _Atomic long refs;
    vn_ring_t *ring; /* member user pointers: vn_dest_t *, one reference each */
    uint64_t gen;
};

struct vn_router {
    vn_router_opts_t o;
    pthread_mutex_t mu;
    vn_dest_t **dests;
    size_t n, cap;
    pthread_mutex_t snap_mu;
    vn_route_snap_t *cur;
    _Atomic uint64_t gen;
    _Atomic size_t healthy;
    _Atomic unsigned hops; /* x-veneur-hops our streams carry */
};

/* ---- snapshots ---- */

static void snap_unref(vn_route_snap_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < vn_ring_size(s->ring); i++)
        vn_dest_unref(vn_ring_member_user(s->ring, i));
    vn_ring_free(s->ring);
    free(s);
}

static vn_route_snap_t *snap_acquire(vn_router_t *r)
{
    pthread_mutex_lock(&r->snap_mu);
    vn_route_snap_t *s = r->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&r->snap_mu);
    return s;
}

/* Builds a ring of the destinations in_ring and publishes it. Holds mu. */
static void rebuild(vn_router_t *r)
{
    const char **addrs = vn_xcalloc(r->n ? r->n : 1, sizeof *addrs);
    void **users = vn_xcalloc(r->n ? r->n : 1, sizeof *users);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->dests[i]->in_ring)
            continue;
        addrs[k] = r->dests[i]->addr;
        users[k] = r->dests[i];
        k++;
    }
    vn_route_snap_t *s = vn_xcalloc(1, sizeof *s);
    s->ring = vn_ring_new(addrs, users, k);
    for (size_t i = 0; i < vn_ring_size(s->ring); i++)
        vn_dest_ref(vn_ring_member_user(s->ring, i));
    atomic_init(&s->refs, 1);
    free(addrs);
    free(users);
    pthread_mutex_lock(&r->snap_mu);
    vn_route_snap_t *old = r->cur;
    s->gen = atomic_load(&r->gen) + 1;
    r->cur = s;
    atomic_store(&r->gen, s->gen);
    pthread_mutex_unlock(&r->snap_mu);
    atomic_store(&r->healthy, vn_ring_size(s->ring));
    snap_unref(old);
    vn_stats_add(&r->o.stats->ring_rebuilds, 1);
    VN_LOG(INFO, "event=proxy_ring_rebuilt members=%zu generation=%llu", vn_ring_size(s->ring),
           (unsigned long long)s->gen);
}

/* ---- destination hooks ---- */

static void hook_up(void *ctx, vn_dest_t *d)
{
    vn_router_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (!d->removed && !d->in_ring && !atomic_load(&d->is_self)) {
        d->in_ring = true;
        rebuild(r);
    }
    pthread_mutex_unlock(&r->mu);
}

static void hook_down(void *ctx, vn_dest_t *d)
{
    vn_router_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (d->in_ring) {
        d->in_ring = false;
        rebuild(r);
    }
    pthread_mutex_unlock(&r->mu);
}

static size_t hook_reroute(void *ctx, const uint8_t *frames, size_t len)
{
    vn_router_t *r = ctx;
    vn_route_ctx_t c;
    vn_route_ctx_init(&c, r);
    size_t pos = 0, ok = 0, failed = 0;
    while (pos + VN_GRPC_PREFIX <= len) {
        size_t m = ((size_t)frames[pos + 1] << 24) | ((size_t)frames[pos + 2] << 16) |
                   ((size_t)frames[pos + 3] << 8) | frames[pos + 4];
        if (m > len - pos - VN_GRPC_PREFIX)
            break; /* cannot happen: the queue holds whole frames */
        if (vn_route_metric(&c, frames + pos + VN_GRPC_PREFIX, m) == VN_ROUTE_OK)
            ok++;
        else
            failed++;
        pos += VN_GRPC_PREFIX + m;
    }
    vn_route_ctx_release(&c);
    vn_stats_add(&r->o.stats->rerouted, ok);
    return failed;
}

/* ---- the table ---- */

static vn_dest_t *find(vn_router_t *r, const char *addr)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->dests[i]->addr, addr) == 0)
            return r->dests[i];
    return NULL;
}

/* Holds mu. */
static vn_dest_t *add_dest(vn_router_t *r, const char *addr)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->dests = vn_xrealloc(r->dests, r->cap * sizeof *r->dests);
    }
    vn_dest_opts_t o = {.dial_timeout_s = r->o.dial_timeout_s,
                        .backoff_min_s = r->o.backoff_min_s,
                        .backoff_max_s = r->o.backoff_max_s,
                        .ping_interval_s = r->o.ping_interval_s,
                        .ping_timeout_s = r->o.ping_timeout_s,
                        .stall_timeout_s = r->o.stall_timeout_s,
                        .heartbeat_s = r->o.heartbeat_s,
                        .max_msgs = r->o.queue_max_msgs,
                        .max_bytes = r->o.queue_max_bytes,
                        .self = r->o.self,
                        .hops = &r->hops,
                        .stats = r->o.stats,
                        .tls = r->o.tls,
                        .server_name = r->o.server_name};
    vn_dest_hooks_t h = {.ctx = r, .up = hook_up, .down = hook_down, .reroute = hook_reroute};
    vn_dest_t *d = vn_dest_start(addr, &o, &h);
    r->dests[r->n++] = d;
    VN_LOG(INFO, "event=proxy_destination_added destination=%s", VN_LOG_Q(addr));
    return d;
}

vn_router_t *vn_router_new(const vn_router_opts_t *opts)
{
    vn_router_t *r = vn_xcalloc(1, sizeof *r);
    r->o = *opts;
    if (r->o.tls)
        SSL_CTX_up_ref(r->o.tls);
    if (!r->o.queue_max_bytes)
        r->o.queue_max_bytes = VN_DEST_MAX_QUEUE_BYTES;
    if (!r->o.queue_max_msgs)
        r->o.queue_max_msgs = 131072;
    if (!(r->o.backoff_min_s > 0))
        r->o.backoff_min_s = 0.25;
    if (!(r->o.backoff_max_s > 0))
        r->o.backoff_max_s = 8;
    if (r->o.backoff_max_s < r->o.backoff_min_s)
        r->o.backoff_max_s = r->o.backoff_min_s;
    if (!(r->o.dial_timeout_s > 0))
        r->o.dial_timeout_s = 2;
    atomic_init(&r->hops, 1);
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->snap_mu, NULL);
    pthread_mutex_lock(&r->mu);
    rebuild(r); /* an empty ring, so cur is never NULL */
    pthread_mutex_unlock(&r->mu);
    return r;
}

void vn_router_add_static(vn_router_t *r, const char *const *addrs, size_t n)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        vn_dest_t *d = find(r, addrs[i]);
        if (!d)
            d = add_dest(r, addrs[i]);
        d->is_static = true;
    }
    pthread_mutex_unlock(&r->mu);
}

static bool listed(const char *const *addrs, size_t n, const char *a)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(addrs[i], a) == 0)
            return true;
    return false;
}

void vn_router_set_discovered(vn_router_t *r, const char *const *addrs, size_t n)
{
    vn_dest_t **gone = NULL;
    size_t ngone = 0;
    bool ring_changed = false;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n;) {
        vn_dest_t *d = r->dests[i];
        d->is_discovered = listed(addrs, n, d->addr);
        if (d->is_static || d->is_discovered) {
            i++;
            continue;
        }
        d->removed = true;
        if (d->in_ring) {
            d->in_ring = false;
            ring_changed = true;
        }
        gone = vn_xrealloc(gone, (ngone + 1) * sizeof *gone);
        gone[ngone++] = d;
        r->dests[i] = r->dests[--r->n];
        VN_LOG(INFO, "event=proxy_destination_removed destination=%s reason=\"left discovery\"", VN_LOG_Q(d->addr));
    }
    for (size_t i = 0; i < n; i++) {
        if (!find(r, addrs[i])) {
            vn_dest_t *d = add_dest(r, addrs[i]);
            d->is_discovered = true;
        }
    }
    if (ring_changed)
        rebuild(r);
    pthread_mutex_unlock(&r->mu);
    /* out of the ring already: their queues go to the survivors while they stop */
    for (size_t i = 0; i < ngone; i++)
        vn_dest_signal_stop(gone[i], VN_DEST_STOP_REROUTE, 0);
    for (size_t i = 0; i < ngone; i++) {
        vn_dest_join(gone[i]);
        vn_dest_unref(gone[i]);
    }
    free(gone);
}

void vn_router_mark_self(vn_router_t *r, const char *addr)
{
    pthread_mutex_lock(&r->mu);
    vn_dest_t *d = find(r, addr);
    if (d && !atomic_exchange(&d->is_self, true)) {
        if (d->in_ring) {
            d->in_ring = false;
            rebuild(r);
        }
        vn_dest_wake(d);
    }
    pthread_mutex_unlock(&r->mu);
}

void vn_router_note_hops(vn_router_t *r, unsigned hops_in)
{
    unsigned want = hops_in + 1, cur = atomic_load(&r->hops);
    if (hops_in >= VN_HOPS_MAX || want <= cur)
        return;
    while (cur < want && !atomic_compare_exchange_weak(&r->hops, &cur, want))
        ;
    VN_LOG(WARN, "event=proxy_hops_raised hops=%u msg=\"a call came through %u veneur-proxies: streams re-open to "
                 "carry the count (a proxy chain, or a forwarding loop)\"",
           want, hops_in);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        vn_dest_wake(r->dests[i]);
    pthread_mutex_unlock(&r->mu);
}

const vn_self_t *vn_router_self(const vn_router_t *r) { return r->o.self; }

unsigned vn_router_hops(const vn_router_t *r) { return atomic_load(&((vn_router_t *)r)->hops); }

size_t vn_router_healthy(const vn_router_t *r) { return atomic_load(&((vn_router_t *)r)->healthy); }

size_t vn_router_size(const vn_router_t *r)
{
    vn_router_t *m = (vn_router_t *)r;
    pthread_mutex_lock(&m->mu);
    size_t n = m->n;
    pthread_mutex_unlock(&m->mu);
    return n;
}

void vn_router_stop(vn_router_t *r, double deadline)
{
    pthread_mutex_lock(&r->mu);
    vn_dest_t **all = r->dests;
    size_t n = r->n;
    for (size_t i = 0; i < n; i++)
        all[i]->removed = true; /* a destination that comes up now stays out of the ring */
    r->dests = NULL;
    r->n = r->cap = 0;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++)
        vn_dest_signal_stop(all[i], VN_DEST_STOP_DRAIN, deadline);
    for (size_t i = 0; i < n; i++)
        vn_dest_join(all[i]);
    for (size_t i = 0; i < n; i++)
        vn_dest_unref(all[i]);
    free(all);
}

void vn_router_free(vn_router_t *r)
{
    if (!r)
        return;
    vn_router_stop(r, 0);
    snap_unref(r->cur);
    SSL_CTX_free(r->o.tls); /* every destination is joined */
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->snap_mu);
    free(r);
}

/* ---- /metrics ---- */

static void put_label(vn_buf_t *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            vn_buf_add_byte(out, '\\');
        if (*p == '\n') {
            vn_buf_add_str(out, "\\n");
            continue;
        }
        vn_buf_add_byte(out, (unsigned char)*p);
    }
}

typedef struct family {
    const char *name, *type, *help, *extra; /* extra: a second label, e.g. status="success" */
    size_t off;                             /* counter in vn_dest_t, or SIZE_MAX for the queue gauge */
} family_t;

#define DOFF(f) offsetof(vn_dest_t, f)
static const family_t families[] = {
    {"veneur_proxy_destination_up", "gauge", "1 while the destination's stream is up (it is in the ring)", NULL,
     DOFF(up)},
    {"veneur_proxy_destination_queue_bytes", "gauge", "bytes queued for the destination", NULL, SIZE_MAX},
    {"veneur_proxy_forward_connect_total", "counter", "dial attempts by result", "status=\"success\"",
     DOFF(connects)},
    {"veneur_proxy_forward_connect_total", NULL, NULL, "status=\"failed_dial\"", DOFF(connect_failures)},
    {"veneur_proxy_forward_disconnect_total", "counter", "streams that failed after being up", NULL,
     DOFF(disconnects)},
    {"veneur_proxy_forward_goaway_restreams_total", "counter",
     "streams ended cleanly and re-opened after the destination sent GOAWAY (nothing lost or resent)", NULL,
     DOFF(goaway_restreams)},
    {"veneur_proxy_forward_metrics_total", "counter",
     "metrics by outcome: sent (taken by the stream), dropped_full (queue full), dropped_down (lost with a "
     "failed stream or at shutdown), rerouted (moved to another destination)",
     "error=\"false\"", DOFF(sent)},
    {"veneur_proxy_forward_metrics_total", NULL, NULL, "error=\"dropped_full\"", DOFF(dropped_full)},
    {"veneur_proxy_forward_metrics_total", NULL, NULL, "error=\"dropped_down\"", DOFF(dropped_down)},
    {"veneur_proxy_forward_metrics_total", NULL, NULL, "error=\"rerouted\"", DOFF(rerouted_out)},
};

void vn_router_render(vn_router_t *r, vn_buf_t *out)
{
    pthread_mutex_lock(&r->mu);
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        const family_t *fm = &families[f];
        if (fm->help)
            vn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fm->name, fm->help, fm->name, fm->type);
        for (size_t i = 0; i < r->n; i++) {
            vn_dest_t *d = r->dests[i];
            uint64_t v;
            if (fm->off == SIZE_MAX) {
                pthread_mutex_lock(&d->mu);
                v = d->qlen;
                pthread_mutex_unlock(&d->mu);
            } else {
                v = atomic_load((_Atomic uint64_t *)((char *)d + fm->off));
            }
            vn_buf_printf(out, "%s{destination=\"", fm->name);
            put_label(out, d->addr);
            vn_buf_printf(out, "\"%s%s} %llu\n", fm->extra ? "," : "", fm->extra ? fm->extra : "",
                          (unsigned long long)v);
        }
    }
    vn_buf_printf(out, "# HELP veneur_proxy_destinations destinations known (up or not)\n"
                       "# TYPE veneur_proxy_destinations gauge\nveneur_proxy_destinations %zu\n"
                       "# HELP veneur_proxy_destinations_healthy destinations in the ring\n"
                       "# TYPE veneur_proxy_destinations_healthy gauge\nveneur_proxy_destinations_healthy %zu\n",
                  r->n, (size_t)atomic_load(&r->healthy));
    pthread_mutex_unlock(&r->mu);
}

void vn_router_emit(vn_router_t *r, vn_statsd_out_t *out)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        vn_dest_t *d = r->dests[i];
        char tag[320];
        snprintf(tag, sizeof tag, "destination:%s", d->addr);
        uint64_t full = atomic_load_explicit(&d->dropped_full, memory_order_relaxed);
        if (full > d->dropped_full_emitted)
            vn_statsd_out_add(out, "veneur_proxy.handle.enqueue", (double)(full - d->dropped_full_emitted), "c", tag);
        d->dropped_full_emitted = full;
        if (!d->in_ring)
            continue;
        pthread_mutex_lock(&d->mu);
        size_t queued = d->qcount;
        pthread_mutex_unlock(&d->mu);
        vn_statsd_out_add(out, "veneur_proxy.forward.buffer_size", (double)queued, "g", tag);
        if (atomic_exchange_explicit(&d->lat_fresh, 0, memory_order_relaxed)) {
            vn_statsd_out_add(out, "veneur_proxy.forward.buffer_latency_ns",
                              (double)atomic_load_explicit(&d->lat_buffer_ns, memory_order_relaxed), "g", tag);
            vn_statsd_out_add(out, "veneur_proxy.forward.send_latency_ns",
                              (double)atomic_load_explicit(&d->lat_send_ns, memory_order_relaxed), "g", tag);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- routing ---- */

void vn_route_ctx_init(vn_route_ctx_t *c, vn_router_t *r)
{
    c->r = r;
    c->snap = NULL;
    c->gen = 0;
}

void vn_route_ctx_release(vn_route_ctx_t *c)
{
    snap_unref(c->snap);
    c->snap = NULL;
}

bool vn_route_key_hash(const vn_router_t *r, const uint8_t *msg, size_t len, uint32_t *hash)
{
    /* The wire bytes are scanned, not decoded: the message is forwarded as it came. The
     * common shape is keyed in one pass; anything else (or invalid) by the general scan. */
    vn_mscan_key_t fk;
    if (vn_mscan_key(msg, len, r->o.ignore, &fk)) {
        *hash = vn_ring_hash_pad16(fk.buf + fk.start, fk.len); /* start >= 16: see metric_scan.h */
        return true;
    }
    vn_mscan_t m;
    if (!vn_mscan_metric(msg, len, &m))
        return false;
    vn_ring_key_t k;
    vn_ring_key_begin(&k, m.name, m.name_len, m.type);
    const vn_tagm_set_t *ign = r->o.ignore;
    if (ign && ign->n == 0)
        ign = NULL;
    size_t inline_tags = m.ntags < VN_MSCAN_SPANS ? m.ntags : VN_MSCAN_SPANS;
    for (size_t i = 0; i < inline_tags; i++) {
        const char *tag = (const char *)msg + m.span[i].off;
        if (!ign || !vn_tagm_set_match(ign, tag, m.span[i].len))
            vn_ring_key_tag(&k, tag, m.span[i].len);
    }
    size_t pos = m.spans_to;
    const char *tag;
    size_t tlen;
    while (m.ntags > VN_MSCAN_SPANS && vn_mscan_next_tag(msg, &m, &pos, &tag, &tlen))
        if (!ign || !vn_tagm_set_match(ign, tag, tlen))
            vn_ring_key_tag(&k, tag, tlen);
    *hash = vn_ring_key_end(&k);
    return true;
}

vn_route_result_t vn_route_metric(vn_route_ctx_t *c, const uint8_t *msg, size_t len)
{
    /* The bytes are copied whole once the owner is known; fetching them now overlaps the
     * cache misses with the scan and hash when a message is colder than the cache. A fixed
     * run of lines, not a loop: a just-received message is in cache, and this then costs a
     * few instructions (a prefetch past the end is harmless: it never faults). */
    if (len > 64) {
        __builtin_prefetch(msg + 64);
        __builtin_prefetch(msg + 128);
        __builtin_prefetch(msg + 192);
        __builtin_prefetch(msg + 256);
        __builtin_prefetch(msg + 320);
        __builtin_prefetch(msg + 384);
        __builtin_prefetch(msg + 448);
    }
    uint32_t h;
    if (!vn_route_key_hash(c->r, msg, len, &h))
        return VN_ROUTE_INVALID;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!c->snap || c->gen != atomic_load_explicit(&c->r->gen, memory_order_acquire)) {
            snap_unref(c->snap);
            c->snap = snap_acquire(c->r);
            c->gen = c->snap->gen;
        }
        long m = vn_ring_owner(c->snap->ring, h);
        if (m < 0)
            return VN_ROUTE_NO_DEST;
        switch (vn_dest_push(vn_ring_member_user(c->snap->ring, (size_t)m), msg, len)) {
        case VN_DEST_QUEUED: return VN_ROUTE_OK;
        case VN_DEST_FULL: return VN_ROUTE_DROPPED;
        case VN_DEST_DOWN:
            /* it left the ring a moment ago: the next snapshot no longer has it */
            snap_unref(c->snap);
            c->snap = NULL;
            break;
        }
    }
    return VN_ROUTE_DROPPED;
}
