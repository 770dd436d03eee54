/*
 * proxy.c - start-up and shutdown order of veneur-proxy (see proxy.h).
 *
 * Start: ignore_tags compiled -> router (static destinations dialled by
 * their own threads) -> gRPC listener -> HTTP -> discovery. The listener
 * opens before any destination is up: metrics that arrive with an empty
 * ring are counted (error="destination"), as Go does.
 * Stop: the reverse, with the drain of the destination queues after the
 * gRPC listener is closed, so nothing is routed into a stopping router.
 */
#include "proxy/proxy.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/hostport.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/xalloc.h"
#include "http/server.h"
#include "proxy/discovery.h"
#include "proxy/proxy_server.h"
#include "proxy/proxy_stats.h"
#include "proxy/router.h"
#include "proxy/self.h"
#include "proxy/tag_match.h"
#include "tls/tls_files.h"
#include "telemetry/periodic.h"
#include "telemetry/statsd_out.h"

struct vn_proxy {
    const vn_proxy_config_t *cfg;
    vn_tagm_set_t ignore;
    vn_self_t self; /* our id and listener, for loop protection */
    vn_proxy_stats_t stats;
    vn_stats_t conn_stats; /* only grpc_connections_total is used (h2_server counts there) */
    vn_router_t *router;
    vn_proxy_server_t *grpc;
    vn_proxy_server_t *grpc_tls; /* grpc_tls_address, NULL when unset */
    vn_http_server_t *http;
    vn_discovery_t *disc;
    _Atomic bool shutting_down;
    /* statsd.address: veneur_proxy.* every statsd.aggregation_interval (NULL when unset) */
    vn_statsd_out_t *statsd;
    vn_proxy_stats_prev_t statsd_prev;
    vn_periodic_t *statsd_tick;
};

static void statsd_tick(void *ctx)
{
    vn_proxy_t *p = ctx;
    vn_proxy_stats_emit(&p->stats, &p->statsd_prev, p->statsd);
    if (p->cfg->disc_kind != VN_DISC_NONE)
        vn_proxy_stats_emit_discovery(&p->stats, &p->statsd_prev, p->statsd);
    vn_router_emit(p->router, p->statsd);
    vn_statsd_out_flush(p->statsd);
    atomic_store(&p->stats.self_metrics_dropped, vn_statsd_out_counts(p->statsd).dgrams_dropped);
}

/* Go's datadog-go client with client-side aggregation: one line per name and
 * tag set per aggregation_interval, messages_per_payload lines per datagram.
 * channel_buffer_size bounds Go's queue of unaggregated calls; we aggregate in
 * the counters themselves, so it has nothing to bound here. */
static vn_err_t start_statsd(vn_proxy_t *p, char *err, size_t errcap)
{
    const vn_proxy_config_t *cfg = p->cfg;
    if (!cfg->statsd_address[0])
        return VN_OK;
    vn_statsd_out_opts_t o = {.address = cfg->statsd_address,
                              .ns = "",
                              .max_lines = cfg->statsd_messages_per_payload > 0
                                               ? (size_t)cfg->statsd_messages_per_payload
                                               : 0};
    char why[256] = "";
    if (vn_statsd_out_open(&o, &p->statsd, why, sizeof why) != VN_OK) {
        snprintf(err, errcap, "statsd.address: %s", why);
        return VN_ERR_CONFIG;
    }
    double iv = cfg->statsd_aggregation_interval_s > 0 ? cfg->statsd_aggregation_interval_s : 10;
    p->statsd_tick = vn_periodic_start(iv, statsd_tick, p);
    VN_LOG(INFO, "event=self_metrics addr=%s aggregation_interval_s=%g", cfg->statsd_address, iv);
    return VN_OK;
}

static size_t render_buf(vn_buf_t *b, char *buf, size_t cap);

/* grpc_tls_address: the same service over TLS with the tls: block's files.
 * Go listens there whatever the config (":0" when unset) and needs the
 * block to start at all; we serve TLS only when the address is set, and
 * then the block is required. Clients must present a certificate signed by
 * tls.ca_file (tls/tls_files.h). */
static vn_err_t start_tls_listener(vn_proxy_t *p, const vn_proxy_listen_t *plain, char *err, size_t errcap)
{
    const vn_proxy_config_t *cfg = p->cfg;
    if (!cfg->tls_ca_file[0]) {
        snprintf(err, errcap, "grpc_tls_address: needs the tls: block (ca_file, cert_file, key_file)");
        return VN_ERR_CONFIG;
    }
    char why[512] = "";
    SSL_CTX *ctx = NULL;
    vn_err_t e = vn_tls_files_server_ctx(cfg->tls_ca_file, cfg->tls_cert_file, cfg->tls_key_file, &ctx, why, sizeof why);
    if (e != VN_OK) {
        snprintf(err, errcap, "grpc_tls_address: %s", why);
        return e;
    }
    vn_proxy_listen_t l = *plain;
    l.address = cfg->grpc_tls_address;
    l.tls = ctx;
    e = vn_proxy_server_start_listen(&l, p->router, &p->stats, &p->conn_stats, &p->grpc_tls, why, sizeof why);
    SSL_CTX_free(ctx); /* the server holds its own reference */
    if (e != VN_OK) {
        snprintf(err, errcap, "grpc_tls_address: %s", why);
        return e;
    }
    VN_LOG(INFO, "event=listening proto=grpc_tls addr=%s port=%d client_certificates=required",
           cfg->grpc_tls_address, vn_proxy_server_port(p->grpc_tls));
    return VN_OK;
}

static unsigned health_cb(void *ctx)
{
    vn_proxy_t *p = ctx;
    return !atomic_load(&p->shutting_down) && vn_router_healthy(p->router) > 0 ? 204 : 503;
}

static bool ready_cb(void *ctx) { return !atomic_load(&((vn_proxy_t *)ctx)->shutting_down); }

static size_t metrics_cb(void *ctx, char *buf, size_t cap)
{
    vn_proxy_t *p = ctx;
    atomic_store(&p->stats.grpc_connections_total, vn_stats_get(&p->conn_stats.grpc_connections_total));
    vn_buf_t b = VN_BUF_INIT(VN_HTTP_MAX_RENDER);
    vn_proxy_stats_render(&p->stats, &b);
    vn_proxy_stats_render_grpc(&p->conn_stats, &b);
    vn_router_render(p->router, &b);
    return render_buf(&b, buf, cap);
}

static size_t render_buf(vn_buf_t *b, char *buf, size_t cap)
{
    size_t n = vn_buf_len(b);
    if (n <= cap)
        memcpy(buf, vn_buf_ptr(b), n);
    vn_buf_free(b);
    return n;
}

static size_t config_json_cb(void *ctx, char *buf, size_t cap)
{
    vn_buf_t b = VN_BUF_INIT(VN_HTTP_MAX_RENDER);
    vn_proxy_config_dump_json(((vn_proxy_t *)ctx)->cfg, &b);
    return render_buf(&b, buf, cap);
}

static size_t config_yaml_cb(void *ctx, char *buf, size_t cap)
{
    vn_buf_t b = VN_BUF_INIT(VN_HTTP_MAX_RENDER);
    vn_proxy_config_dump_yaml(((vn_proxy_t *)ctx)->cfg, &b);
    return render_buf(&b, buf, cap);
}

vn_err_t vn_proxy_start(const vn_proxy_config_t *cfg, vn_proxy_t **out, char *err, size_t errcap)
{
    *out = NULL;
    vn_proxy_t *p = vn_xcalloc(1, sizeof *p);
    p->cfg = cfg;
    vn_stats_init(&p->conn_stats);
    vn_self_init(&p->self);
    if (vn_tagm_set_init(&p->ignore, cfg->ignore_tags, cfg->n_ignore_tags, err, errcap) != VN_OK) {
        free(p);
        return VN_ERR_CONFIG;
    }
    SSL_CTX *fwd_tls = NULL;
    if (cfg->fwd_tls_ca_file[0] || cfg->fwd_tls_cert_file[0]) {
        char why[512] = "";
        if (vn_tls_files_client_ctx_block("forward_tls", cfg->fwd_tls_ca_file, cfg->fwd_tls_cert_file,
                                          cfg->fwd_tls_key_file, &fwd_tls, why, sizeof why) != VN_OK) {
            snprintf(err, errcap, "%s", why);
            vn_tagm_set_destroy(&p->ignore);
            free(p);
            return VN_ERR_CONFIG;
        }
        VN_LOG(INFO, "event=forward_tls ca_file=%s client_certificate=%s", cfg->fwd_tls_ca_file[0] ? "set" : "system",
               cfg->fwd_tls_cert_file[0] ? "yes" : "no");
    }
    vn_router_opts_t ro = {.dial_timeout_s = cfg->dial_timeout_s,
                           .queue_max_msgs = cfg->send_buffer_size,
                           .ignore = &p->ignore,
                           .stats = &p->stats,
                           .self = &p->self,
                           .tls = fwd_tls,
                           .server_name = cfg->fwd_tls_server_name};
    p->router = vn_router_new(&ro);
    SSL_CTX_free(fwd_tls); /* the router holds its own reference */

    vn_err_t e = VN_OK;
    char why[512] = "";
    /* grpc_server.* apply to both listeners, as Go gives both grpc.Servers the same
     * keepalive.ServerParameters; Go's keepalive Time is the key ping_timeout */
    vn_proxy_listen_t l = {.address = cfg->grpc_address,
                           .idle_timeout_s = cfg->grpc_max_connection_idle_s,
                           .handshake_timeout_s = cfg->grpc_connection_timeout_s,
                           .max_age_s = cfg->grpc_max_connection_age_s,
                           .max_age_grace_s = cfg->grpc_max_connection_age_grace_s,
                           .keepalive_time_s = cfg->grpc_ping_timeout_s > 0 ? cfg->grpc_ping_timeout_s
                                                                            : VN_PROXY_KEEPALIVE_TIME_S,
                           .keepalive_timeout_s = cfg->grpc_keepalive_timeout_s};
    if (cfg->grpc_address[0]) {
        e = vn_proxy_server_start_listen(&l, p->router, &p->stats, &p->conn_stats, &p->grpc, why, sizeof why);
        if (e != VN_OK)
            snprintf(err, errcap, "grpc_address: %s", why);
        else {
            char host[256] = "", port[16];
            if (vn_hostport_split(cfg->grpc_address, false, host, sizeof host, port, sizeof port) != VN_OK)
                host[0] = '\0';
            vn_self_set_listen(&p->self, host, vn_proxy_server_port(p->grpc));
            VN_LOG(INFO, "event=listening proto=grpc addr=%s port=%d proxy_id=%s", cfg->grpc_address,
                   vn_proxy_server_port(p->grpc), p->self.id);
        }
    } else {
        VN_LOG(WARN, "event=no_grpc_address msg=\"grpc_address is empty: nothing will be received\"");
    }
    if (e == VN_OK && cfg->grpc_tls_address[0])
        e = start_tls_listener(p, &l, err, errcap);
    if (e == VN_OK)
        e = start_statsd(p, err, errcap);
    if (e == VN_OK && cfg->http_address[0]) {
        vn_http_handlers_t h = {.ctx = p,
                                .ready = ready_cb,
                                .metrics = metrics_cb,
                                .healthcheck = health_cb,
                                .config_json = cfg->http_enable_config ? config_json_cb : NULL,
                                .config_yaml = cfg->http_enable_config ? config_yaml_cb : NULL};
        if (cfg->http_enable_profiling)
            VN_LOG(WARN, "event=profiling_not_supported msg=\"http.enable_profiling: no /debug/pprof in veneur-c\"");
        e = vn_http_server_start(cfg->http_address, &h, &p->http, why, sizeof why);
        if (e != VN_OK)
            snprintf(err, errcap, "http_address: %s", why);
    }
    if (e != VN_OK) {
        vn_periodic_stop(p->statsd_tick);
        vn_statsd_out_free(p->statsd);
        vn_proxy_server_stop(p->grpc_tls);
        vn_proxy_server_stop(p->grpc);
        vn_router_free(p->router);
        vn_tagm_set_destroy(&p->ignore);
        free(p);
        return e;
    }
    /* only now: our listener is known, so a destination that is this proxy is refused by
     * address before it is dialled, not found by id after (a race on a slow start) */
    vn_router_add_static(p->router, (const char *const *)cfg->forward_addresses.v, cfg->forward_addresses.n);
    if (cfg->disc_kind != VN_DISC_NONE) {
        VN_LOG(INFO, "event=proxy_discovery_started kind=%s service=\"%s\" interval_s=%g",
               vn_disc_kind_name(cfg->disc_kind), cfg->forward_service, cfg->discovery_interval_s);
        p->disc = vn_discovery_start(cfg, p->router, &p->stats);
    }
    *out = p;
    return VN_OK;
}

int vn_proxy_grpc_port(const vn_proxy_t *p) { return p->grpc ? vn_proxy_server_port(p->grpc) : 0; }

int vn_proxy_grpc_tls_port(const vn_proxy_t *p) { return p->grpc_tls ? vn_proxy_server_port(p->grpc_tls) : 0; }

int vn_proxy_http_port(const vn_proxy_t *p) { return p->http ? vn_http_server_port(p->http) : 0; }

void vn_proxy_shutdown(vn_proxy_t *p)
{
    if (!p)
        return;
    atomic_store(&p->shutting_down, true);
    vn_discovery_stop(p->disc);
    vn_proxy_server_stop(p->grpc_tls);
    vn_proxy_server_stop(p->grpc);
    /* HTTP stays up while queues drain: /healthcheck keeps saying 503 */
    vn_router_stop(p->router, vn_clock_mono_s() + p->cfg->shutdown_timeout_s);
    vn_http_server_stop(p->http);
    vn_periodic_stop(p->statsd_tick); /* reports the last partial interval */
    vn_statsd_out_free(p->statsd);
    VN_LOG(INFO, "event=proxy_stopped routed=%llu no_destination=%llu dropped=%llu rerouted=%llu",
           (unsigned long long)vn_stats_get(&p->stats.handle_ok),
           (unsigned long long)vn_stats_get(&p->stats.handle_no_destination),
           (unsigned long long)vn_stats_get(&p->stats.handle_dropped),
           (unsigned long long)vn_stats_get(&p->stats.rerouted));
    vn_router_free(p->router);
    vn_tagm_set_destroy(&p->ignore);
    free(p);
}
