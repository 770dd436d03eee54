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

vn_err_t vn_forward_start(const vn_config_t *cfg, vn_worker_t **workers, size_t nworkers, vn_stats_t *stats,
                          vn_forward_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    bool fwd = cfg->forward_address && cfg->forward_address[0];
    bool imp = cfg->grpc_address && cfg->grpc_address[0];
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
        e = vn_import_server_start(cfg->grpc_address, workers, nworkers, stats, &f->imp, errbuf, errcap);
        if (e != VN_OK)
            goto fail;
        if (f->tag_intervals)
            VN_LOG(INFO, "event=import_window interval_s=%g flush_offset_s=%g", cfg->interval_s, f->offset_s);
        VN_LOG(INFO, "event=listening proto=grpc addr=%s port=%d", cfg->grpc_address, vn_import_server_port(f->imp));
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
    vn_import_server_stop(f->imp);
    f->imp = NULL;
}

void vn_forward_free(vn_forward_t *f)
{
    if (!f)
        return;
    vn_import_server_stop(f->imp);
    vn_forwarder_stop(f->fwd, f->interval_s > 0 ? f->interval_s : 10.0);
    free(f);
}
