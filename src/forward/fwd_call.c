/*
 * fwd_call.c - forwardrpc.Forward request rules shared by its servers (see fwd_call.h).
 */
#include "forward/fwd_call.h"

#include <string.h>

#include "forward/metricpb_codec.h"

#define PATH_V1 "/forwardrpc.Forward/SendMetrics"
#define PATH_V2 "/forwardrpc.Forward/SendMetricsV2"

bool vn_fwd_call_open(vn_fwd_call_t *fc, const char *path, vn_grpc_status_t *status, const char **msg)
{
    bool v2 = strcmp(path, PATH_V2) == 0;
    if (!v2 && strcmp(path, PATH_V1) != 0) {
        *status = VN_GRPC_UNIMPLEMENTED;
        *msg = "unknown method: forwardrpc.Forward serves SendMetrics and SendMetricsV2";
        return false;
    }
    fc->unary = !v2;
    fc->messages = 0;
    return true;
}

vn_fwd_msg_result_t vn_fwd_call_message(vn_fwd_call_t *fc, const uint8_t *data, size_t len, vn_fwd_metric_fn each,
                                        void *arg, const char **msg)
{
    fc->messages++;
    if (!fc->unary) {
        each(arg, data, len);
        return VN_FWD_MSG_OK;
    }
    if (fc->messages > 1) {
        *msg = "SendMetrics is unary: more than one request message";
        return VN_FWD_MSG_EXTRA;
    }
    size_t pos = 0, ml;
    const uint8_t *m;
    int r;
    while ((r = vn_pb_list_next(data, len, &pos, &m, &ml)) == 1)
        each(arg, m, ml);
    if (r < 0) {
        *msg = VN_FWD_BAD_LIST_TEXT;
        return VN_FWD_MSG_BAD_LIST;
    }
    return VN_FWD_MSG_OK;
}

bool vn_fwd_call_missing(const vn_fwd_call_t *fc, const char **msg)
{
    if (fc->unary && fc->messages == 0) {
        *msg = "SendMetrics is unary: no request message";
        return true;
    }
    return false;
}

vn_fwd_lifecycle_t vn_fwd_lifecycle_from_config(const vn_config_t *cfg)
{
    return (vn_fwd_lifecycle_t){
        .idle_s = cfg->grpc_max_connection_idle_s,
        .handshake_s = cfg->grpc_connection_timeout_s,
        .max_age_s = cfg->grpc_max_connection_age_s,
        .max_age_grace_s = cfg->grpc_max_connection_age_grace_s,
        /* Go's keepalive Time is the key ping_timeout; its default is 2 h */
        .keepalive_time_s = cfg->grpc_ping_timeout_s > 0 ? cfg->grpc_ping_timeout_s : 7200.0,
        .keepalive_timeout_s = cfg->grpc_keepalive_timeout_s,
    };
}

void vn_fwd_lifecycle_apply(const vn_fwd_lifecycle_t *lc, vn_h2_server_opts_t *o)
{
    if (!lc)
        return;
    o->idle_timeout_s = lc->idle_s;
    o->handshake_timeout_s = lc->handshake_s;
    o->max_age_s = lc->max_age_s;
    o->max_age_grace_s = lc->max_age_grace_s;
    o->keepalive_time_s = lc->keepalive_time_s;
    o->keepalive_timeout_s = lc->keepalive_timeout_s;
}

vn_err_t vn_fwd_serve(const char *address, const vn_grpc_handler_t *handler, void *ctx,
                      const vn_fwd_lifecycle_t *lc, SSL_CTX *tls, vn_stats_t *stats, vn_h2_server_t **out,
                      char *errbuf, size_t errcap)
{
    vn_h2_server_opts_t o = {
        .address = address,
        .handler = *handler,
        .stats = stats,
        .tls = tls,
    };
    vn_fwd_lifecycle_apply(lc, &o);
    o.handler.ctx = ctx;
    return vn_h2_server_start(&o, out, errbuf, errcap);
}
