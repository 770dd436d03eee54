/*
 * forward.c - builds the forwarder and the import server from the config
 * (see forward.h), and the thin flusher hooks.
 */
#include "forward/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "ticker/ticker.h"
#include "forward/import_server.h"
#include "tls/tls_files.h"

struct vn_forward {
    vn_forwarder_t *fwd;
    vn_import_server_t *imp;
    vn_import_server_t *imp_tls; /* grpc_tls_address (veneur-c only), NULL when unset */
    double interval_s;
    bool tag_intervals; /* synchronized: batches carry their tick (issue 16) */
    double offset_s;    /* this instance's flush offset past the tick (ticker/ticker.h) */
};

static vn_err_t client_tls(const vn_config_t *cfg, SSL_CTX **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    if (!cfg->tls_ca_file[0])
        return VN_OK; /* config validation guarantees all three or none */
    return vn_tls_files_client_ctx(cfg->tls_ca_file, cfg->tls_cert_file, cfg->tls_key_file, out, errbuf, errcap);
}

/* grpc_tls_address: the same import service over TLS with the daemon's statsd TLS identity
 * (tls_key, tls_certificate; PEM contents), requiring client certificates that chain to
 * tls_authority_certificate when it is set. Go's global serves gRPC in plaintext only. */
static vn_err_t start_tls_import(const vn_config_t *cfg, vn_worker_t **workers, size_t nworkers, vn_stats_t *stats,
                                 vn_import_server_t **out, char *errbuf, size_t errcap)
{
    if (!cfg->tls_key || !cfg->tls_key[0]) {
        snprintf(errbuf, errcap, "grpc_tls_address: needs tls_key and tls_certificate (PEM contents)");
        return VN_ERR_CONFIG;
    }
    SSL_CTX *ctx = NULL;
    char why[256] = "";
    vn_err_t e = vn_tls_grpc_server_ctx_pem(cfg->tls_key, cfg->tls_certificate, cfg->tls_authority_certificate,
                                            &ctx, why, sizeof why);
    if (e != VN_OK) {
        snprintf(errbuf, errcap, "grpc_tls_address: %s", why);
        return e;
    }
    vn_fwd_lifecycle_t lc = vn_fwd_lifecycle_from_config(cfg);
    e = vn_import_server_start(cfg->grpc_tls_address, ctx, &lc, workers, nworkers, stats, out, why, sizeof why);
    SSL_CTX_free(ctx); /* the server holds its own reference */
    if (e != VN_OK) {
        snprintf(errbuf, errcap, "grpc_tls_address: %s", why);
        return e;
    }
    bool mutual = cfg->tls_authority_certificate && cfg->tls_authority_certificate[0];
    VN_LOG(INFO, "event=listening proto=grpc_tls addr=%s port=%d client_certificates=%s", cfg->grpc_tls_address,
           vn_import_server_port(*out), mutual ? "required" : "not_asked");
    return VN_OK;
}

vn_err_t vn_forward_start(const vn_config_t *cfg, vn_worker_t **workers, size_t nworkers, vn_stats_t *stats,
                          vn_forward_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    bool fwd = cfg->forward_address && cfg->forward_address[0];
    bool imp_plain = cfg->grpc_address && cfg->grpc_address[0];
    bool imp_tls = cfg->grpc_tls_address && cfg->grpc_tls_address[0];
    bool imp = imp_plain || imp_tls;
    if (!fwd && !imp)
        return VN_OK;
    vn_forward_t *f = vn_xcalloc(1, sizeof *f);
    f->interval_s = cfg->interval_s;
    f->tag_intervals = cfg->synchronize_with_interval && cfg->interval_s > 0;
    f->offset_s = vn_ticker_offset_s(cfg);
    vn_err_t e = VN_OK;
    if (imp) {
        /* Before the server starts, so every import meets a worker that knows the interval clock. */
        for (size_t w = 0; f->tag_intervals && w < nworkers; w++)
            vn_worker_set_interval_clock(workers[w], cfg->interval_s, f->offset_s);
        if (imp_plain) {
            vn_fwd_lifecycle_t lc = vn_fwd_lifecycle_from_config(cfg);
            e = vn_import_server_start(cfg->grpc_address, NULL, &lc, workers, nworkers, stats, &f->imp, errbuf,
                                       errcap);
            if (e != VN_OK)
                goto fail;
            VN_LOG(INFO, "event=listening proto=grpc addr=%s port=%d", cfg->grpc_address,
                   vn_import_server_port(f->imp));
        }
        if (imp_tls) {
            e = start_tls_import(cfg, workers, nworkers, stats, &f->imp_tls, errbuf, errcap);
            if (e != VN_OK)
                goto fail;
        }
        if (f->tag_intervals)
            VN_LOG(INFO, "event=import_window interval_s=%g flush_offset_s=%g", cfg->interval_s, f->offset_s);
    }
    if (fwd) {
        SSL_CTX *tls = NULL;
        e = client_tls(cfg, &tls, errbuf, errcap);
        if (e != VN_OK)
            goto fail;
        /* Go's forward runs under the flush deadline (one interval); leave room for the next tick. */
        double deadline = cfg->interval_s * 0.9;
        vn_forwarder_opts_t o = {.address = cfg->forward_address,
                                 .tls = tls,
                                 .server_name = cfg->tls_server_name,
                                 .deadline_s = deadline > 0 ? deadline : 1.0,
                                 .stats = stats};
        bool use_tls = tls != NULL;
        e = vn_forwarder_start(&o, &f->fwd, errbuf, errcap);
        if (tls)
            SSL_CTX_free(tls); /* the client keeps its own reference */
        if (e != VN_OK)
            goto fail;
        VN_LOG(INFO, "event=forwarding addr=%s tls=%s deadline_s=%g", cfg->forward_address, use_tls ? "on" : "off",
               o.deadline_s);
    }
    *out = f;
    return VN_OK;
fail:
    vn_import_server_stop(f->imp_tls);
    vn_import_server_stop(f->imp);
    free(f);
    return e;
}

vn_forward_batch_t *vn_forward_begin(vn_forward_t *f)
{
    if (!f || !f->fwd)
        return NULL;
    vn_forward_batch_t *b = vn_forward_batch_new();
    if (f->tag_intervals) {
        /* Called by the flusher at its tick (+ offset): name the tick the data belongs to. */
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        b->interval_ms = vn_ticker_tick_ms((double)rt.tv_sec + (double)rt.tv_nsec / 1e9, f->interval_s, f->offset_s);
    }
    return b;
}

void vn_forward_add_map(vn_forward_batch_t *b, vn_series_map_t *m)
{
    if (b && m)
        vn_forward_batch_add_map(b, m);
}

void vn_forward_end(vn_forward_t *f, vn_forward_batch_t *b)
{
    if (!b)
        return;
    if (f && f->fwd)
        vn_forwarder_submit(f->fwd, b);
    else
        vn_forward_batch_free(b);
}

void vn_forward_stop_import(vn_forward_t *f)
{
    if (!f)
        return;
    vn_import_server_stop(f->imp_tls);
    vn_import_server_stop(f->imp);
    f->imp_tls = NULL;
    f->imp = NULL;
}

void vn_forward_free(vn_forward_t *f)
{
    if (!f)
        return;
    vn_import_server_stop(f->imp_tls);
    vn_import_server_stop(f->imp);
    vn_forwarder_stop(f->fwd, f->interval_s > 0 ? f->interval_s : 10.0);
    free(f);
}
