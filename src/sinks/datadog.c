/*
 * datadog.c - the "datadog" metric sink (docs/behaviour.md W4.2, 0.10): the encoder of
 * datadog_json.c feeding a delivery queue (delivery.h).
 *
 *   metric_sinks:
 *     - kind: datadog
 *       name: datadog
 *       config:
 *         api_key: "..."                       # required
 *         api_hostname: https://app.datadoghq.com   # required
 *         flush_max_per_body: 25000            # 0/absent: 25000 (Go HEAD has no default)
 *         metric_name_prefix_drops: [a.]
 *         exclude_tags_prefix_by_prefix_metric: [{metric_prefix: b., tags: [x]}]
 *         # delivery (delivery.h): max_queue_bytes, max_payload_age,
 *         # request_timeout, max_in_flight
 *
 * flush() and flush_events() only encode and enqueue (the flush thread never
 * waits on Datadog); the delivery thread sends, retries and counts. Destroy
 * lets the queue drain for min(interval, 5 s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/datadog.h"
#include "sinks/delivery.h"
#include "sinks/queued.h"
#include "sinks/sink_internal.h"

/* ------------------------------------------------------------ config */

static vn_err_t bad(char *errbuf, size_t errcap, const char *sink, const char *what)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sink \"%s\" (datadog): %s", sink, what);
    return VN_ERR_CONFIG;
}

static char *make_url(const char *base, size_t base_len, const char *path, const char *key)
{
    vn_buf_t b = VN_BUF_INIT(16384);
    vn_err_t err = vn_buf_add(&b, base, base_len);
    if (err == VN_OK)
        err = vn_buf_printf(&b, "%s?api_key=", path);
    if (err == VN_OK)
        err = vn_dd__query_escape(&b, key);
    char *url = err == VN_OK ? vn_xstrdup(vn_buf_ptr(&b)) : NULL;
    vn_buf_free(&b);
    return url;
}

static bool http_url(const char *s)
{
    return (strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8]);
}

vn_err_t vn_dd__init(vn_dd_t *dd, const vn_sink_config_t *sc, const char *sink_name, char *errbuf, size_t errcap)
{
    memset(dd, 0, sizeof *dd);
    dd->raw_cap = VN_DD_RAW_CAP;
    dd->sent_cap = VN_DD_SENT_CAP;
    dd->max_per_body = VN_DD_DEFAULT_MAX_PER_BODY;
    vn_buf_init(&dd->json, dd->raw_cap);
    const char *name = sink_name ? sink_name : "datadog";
    const char *key = vn_sink_config_get(sc, "api_key");
    const char *host = vn_sink_config_get(sc, "api_hostname");
    if (!key || !key[0])
        return bad(errbuf, errcap, name, "config key api_key is required");
    if (!host || !host[0])
        return bad(errbuf, errcap, name, "config key api_hostname is required (e.g. https://app.datadoghq.com)");
    if (!http_url(host)) {
        char msg[300];
        snprintf(msg, sizeof msg, "config key api_hostname: invalid value \"%.200s\" (want an http:// or https:// URL)",
                 host);
        return bad(errbuf, errcap, name, msg);
    }
    const char *fmpb = vn_sink_config_get(sc, "flush_max_per_body");
    if (fmpb && fmpb[0]) {
        char *end;
        long long v = strtoll(fmpb, &end, 10);
        if (*end || v < 0 || v > 100000000) {
            char msg[200];
            snprintf(msg, sizeof msg, "config key flush_max_per_body: invalid value \"%.60s\" (0 .. 100000000)", fmpb);
            return bad(errbuf, errcap, name, msg);
        }
        if (v > 0)
            dd->max_per_body = (size_t)v;
    }
    dd->api_key = vn_xstrdup(key);
    size_t hlen = strlen(host);
    while (hlen > 0 && host[hlen - 1] == '/')
        hlen--;
    dd->series_url = make_url(host, hlen, "/api/v1/series", key);
    dd->check_url = make_url(host, hlen, "/api/v1/check_run", key);
    dd->intake_url = make_url(host, hlen, "/intake", key);
    if (!dd->series_url || !dd->check_url || !dd->intake_url)
        return bad(errbuf, errcap, name, "config keys api_hostname/api_key are too long");
    vn_delivery_config_list(sc, "metric_name_prefix_drops", &dd->name_drops, &dd->n_name_drops);

    /* exclude_tags_prefix_by_prefix_metric.N.{metric_prefix,tags} */
    for (size_t i = 0; i < 100000; i++) {
        char kp[96], kt[96];
        snprintf(kp, sizeof kp, "exclude_tags_prefix_by_prefix_metric.%zu.metric_prefix", i);
        snprintf(kt, sizeof kt, "exclude_tags_prefix_by_prefix_metric.%zu.tags", i);
        const char *prefix = vn_sink_config_get(sc, kp);
        bool has_tags = vn_sink_config_get(sc, kt) != NULL;
        if (!prefix && !has_tags)
            break;
        dd->tag_rules = vn_xrealloc(dd->tag_rules, (dd->n_tag_rules + 1) * sizeof *dd->tag_rules);
        vn_dd_tag_rule_t *r = &dd->tag_rules[dd->n_tag_rules++];
        r->metric_prefix = vn_xstrdup(prefix ? prefix : "");
        vn_delivery_config_list(sc, kt, &r->tags, &r->ntags);
    }
    return VN_OK;
}

void vn_dd__destroy(vn_dd_t *dd)
{
    free(dd->api_key);
    free(dd->series_url);
    free(dd->check_url);
    free(dd->intake_url);
    vn_delivery_strv_free(dd->name_drops, dd->n_name_drops);
    for (size_t i = 0; i < dd->n_tag_rules; i++) {
        free(dd->tag_rules[i].metric_prefix);
        vn_delivery_strv_free(dd->tag_rules[i].tags, dd->tag_rules[i].ntags);
    }
    free(dd->tag_rules);
    vn_buf_free(&dd->json);
    free(dd->idx);
    memset(dd, 0, sizeof *dd);
}

/* ------------------------------------------------------------ sink ops */

static vn_err_t dd_metrics(void *enc, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                           const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    return vn_dd__encode_metrics(enc, s, m, n, info, emit, ctx);
}

static vn_err_t dd_events(void *enc, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                          const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    (void)s;
    return vn_dd__encode_events(enc, ev, n, info, emit, ctx);
}

static size_t dd_skipped(const void *enc) { return ((const vn_dd_t *)enc)->skipped; }
static void dd_destroy(void *enc) { vn_dd__destroy(enc); }

static const vn_queued_kind_t datadog_kind = {
    .ops = VN_QUEUED_OPS("datadog"),
    .metrics = dd_metrics,
    .events = dd_events,
    .skipped = dd_skipped,
    .destroy = dd_destroy,
};

vn_err_t vn_sink__datadog_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                              size_t errcap)
{
    vn_dd_t *dd = vn_xcalloc(1, sizeof *dd);
    vn_err_t err = vn_dd__init(dd, sc, s->name, errbuf, errcap);
    const char *secrets[] = {dd->api_key};
    vn_delivery_opts_t o;
    err = vn_queued_start(s, &datadog_kind, dd, err, sc, cfg, secrets, 1, &o, errbuf, errcap);
    if (err != VN_OK)
        return err;
    VN_LOG(INFO, "event=sink_started sink=%s kind=datadog flush_max_per_body=%zu max_queue_bytes=%zu", s->name,
           dd->max_per_body, o.max_queue_bytes);
    return VN_OK;
}
