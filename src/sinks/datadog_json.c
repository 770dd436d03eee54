/*
 * datadog_json.c - the Datadog encoder (datadog.h): one flush -> request
 * bodies, docs/behaviour.md W4.2.
 *
 * Series element, keys in Go's struct order, empty/zero ones left out as Go's
 * `omitempty` does:
 *
 *   {"metric":"a.b","points":[[1700000000,0.3]],"tags":["x:1"],"type":"rate",
 *    "host":"h","device_name":"sda","interval":10}
 *
 * Counters become "rate" with value = interval sum / interval seconds; gauges
 * "gauge". `interval` is the whole number of interval seconds (Go int32
 * truncation), left out when 0. Magic tags: the last `host:X` sets host and
 * the last `device:X` sets device_name; both are removed from the tags. Without
 * a host tag, host is the metric's hostname (a service check's `h:` host, else
 * the configured hostname). The other tags are kept unless they start with a
 * `tags_exclude` prefix of this sink or with a prefix of the first
 * exclude_tags_prefix_by_prefix_metric rule whose metric_prefix starts the
 * name (first in config order; Go picks a random matching rule).
 *
 * Service check element: {"check","status","host_name","timestamp"(omitted
 * when 0),"tags"(omitted when empty),"message"(omitted when empty)}.
 *
 * Event element (/intake): {"msg_title","msg_text","timestamp","host",
 * "aggregation_key","priority","source_type_name","alert_type","tags"} with
 * empty ones left out; priority defaults to "normal", alert_type to "info",
 * host to the configured hostname.
 *
 * Values that are NaN or infinite are not sent (Go's encoder fails the whole
 * body on them); they are counted in vn_dd_t.skipped.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gzip.h"
#include "core/json.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/datadog.h"
#include "sinks/sink_internal.h"

typedef enum { TAG_KEEP, TAG_DROP, TAG_HOST, TAG_DEVICE } tag_kind_t;

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static const vn_dd_tag_rule_t *rule_for(const vn_dd_t *dd, const char *name)
{
    for (size_t i = 0; i < dd->n_tag_rules; i++)
        if (has_prefix(name, dd->tag_rules[i].metric_prefix))
            return &dd->tag_rules[i];
    return NULL;
}

static tag_kind_t classify_tag(const vn_sink_t *s, const vn_dd_tag_rule_t *rule, const char *tag)
{
    if (strncmp(tag, "host:", 5) == 0)
        return TAG_HOST;
    if (strncmp(tag, "device:", 7) == 0)
        return TAG_DEVICE;
    if (vn_sink__tag_excluded(s, tag))
        return TAG_DROP;
    if (rule && vn_delivery_strv_prefixes(tag, rule->tags, rule->ntags))
        return TAG_DROP;
    return TAG_KEEP;
}

/* Host, device and whether any tag survives, for one metric. */
typedef struct tag_scan {
    const char *host, *device;
    size_t kept;
} tag_scan_t;

static tag_scan_t scan_tags(const vn_sink_t *s, const vn_dd_tag_rule_t *rule, const vn_inter_metric_t *m)
{
    tag_scan_t t = {NULL, NULL, 0};
    for (size_t i = 0; i < m->ntags; i++) {
        switch (classify_tag(s, rule, m->tags[i])) {
        case TAG_HOST: t.host = m->tags[i] + 5; break;
        case TAG_DEVICE: t.device = m->tags[i] + 7; break;
        case TAG_KEEP: t.kept++; break;
        case TAG_DROP: break;
        }
    }
    return t;
}

static void write_tags(vn_json_t *j, const vn_sink_t *s, const vn_dd_tag_rule_t *rule, const vn_inter_metric_t *m)
{
    vn_json_key(j, "tags");
    vn_json_array_begin(j);
    for (size_t i = 0; i < m->ntags; i++)
        if (classify_tag(s, rule, m->tags[i]) == TAG_KEEP)
            vn_json_string(j, m->tags[i]);
    vn_json_array_end(j);
}

static const char *host_of(const tag_scan_t *t, const vn_inter_metric_t *m, const vn_flush_info_t *info)
{
    if (t->host && t->host[0])
        return t->host;
    if (m->hostname && m->hostname[0])
        return m->hostname;
    return info->hostname ? info->hostname : "";
}

static double series_value(const vn_inter_metric_t *m, const vn_flush_info_t *info)
{
    return m->type == VN_IM_COUNTER ? m->value / info->interval_s : m->value;
}

static void series_elem(vn_json_t *j, const vn_dd_t *dd, const vn_sink_t *s, const vn_inter_metric_t *m,
                        const vn_flush_info_t *info)
{
    const vn_dd_tag_rule_t *rule = rule_for(dd, m->name);
    tag_scan_t t = scan_tags(s, rule, m);
    vn_json_object_begin(j);
    vn_json_key(j, "metric");
    vn_json_string(j, m->name);
    vn_json_key(j, "points");
    vn_json_array_begin(j);
    vn_json_array_begin(j);
    vn_json_double(j, (double)m->timestamp);
    vn_json_double(j, series_value(m, info));
    vn_json_array_end(j);
    vn_json_array_end(j);
    if (t.kept)
        write_tags(j, s, rule, m);
    vn_json_key(j, "type");
    vn_json_string(j, m->type == VN_IM_COUNTER ? "rate" : "gauge");
    const char *host = host_of(&t, m, info);
    if (host[0]) {
        vn_json_key(j, "host");
        vn_json_string(j, host);
    }
    if (t.device && t.device[0]) {
        vn_json_key(j, "device_name");
        vn_json_string(j, t.device);
    }
    double iv = trunc(info->interval_s);
    if (iv >= 1 && iv <= INT32_MAX) {
        vn_json_key(j, "interval");
        vn_json_int(j, (int64_t)iv);
    }
    vn_json_object_end(j);
}

static void check_elem(vn_json_t *j, const vn_dd_t *dd, const vn_sink_t *s, const vn_inter_metric_t *m,
                       const vn_flush_info_t *info)
{
    const vn_dd_tag_rule_t *rule = rule_for(dd, m->name);
    tag_scan_t t = scan_tags(s, rule, m);
    vn_json_object_begin(j);
    vn_json_key(j, "check");
    vn_json_string(j, m->name);
    vn_json_key(j, "status");
    vn_json_int(j, (int64_t)m->value);
    vn_json_key(j, "host_name");
    vn_json_string(j, host_of(&t, m, info));
    if (m->timestamp) {
        vn_json_key(j, "timestamp");
        vn_json_int(j, m->timestamp);
    }
    if (t.kept)
        write_tags(j, s, rule, m);
    if (m->message && m->message[0]) {
        vn_json_key(j, "message");
        vn_json_string(j, m->message);
    }
    vn_json_object_end(j);
}

/* ------------------------------------------------------------ bodies */

typedef enum { BODY_SERIES, BODY_CHECKS } body_kind_t;

typedef struct enc {
    vn_dd_t *dd;
    const vn_sink_t *s;
    const vn_inter_metric_t *m;
    const vn_flush_info_t *info;
    vn_delivery_out_t out;
} enc_t;

/* Builds the JSON body of idx[lo..hi) into dd->json. */
static vn_err_t build_json(enc_t *e, body_kind_t kind, const size_t *idx, size_t lo, size_t hi)
{
    vn_buf_t *b = &e->dd->json;
    if (vn_buf_max(b) != e->dd->raw_cap) { /* the cap changed (tests lower it) */
        vn_buf_free(b);
        vn_buf_init(b, e->dd->raw_cap);
    }
    vn_buf_reset(b);
    vn_json_t j;
    vn_json_init(&j, b);
    if (kind == BODY_SERIES) {
        vn_json_object_begin(&j);
        vn_json_key(&j, "series");
    }
    vn_json_array_begin(&j);
    for (size_t i = lo; i < hi && vn_json_error(&j) == VN_OK; i++) {
        if (kind == BODY_SERIES)
            series_elem(&j, e->dd, e->s, &e->m[idx[i]], e->info);
        else
            check_elem(&j, e->dd, e->s, &e->m[idx[i]], e->info);
    }
    vn_json_array_end(&j);
    if (kind == BODY_SERIES)
        vn_json_object_end(&j);
    vn_err_t err = vn_json_finish(&j);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '\n'); /* Go's json.Encoder ends every value with a newline */
    return err;
}

static void too_large(enc_t *e, body_kind_t kind, size_t idx)
{
    e->dd->skipped++;
    char q[VN_LOG_QUOTE_CAP]; /* a remote metric name */
    VN_LOG(WARN, "event=datadog_metric_too_large sink=%s what=%s metric=%s msg=\"one %s is over the body cap\"",
           e->s->name, kind == BODY_SERIES ? "series" : "check_run", vn_log_quote_cstr(q, sizeof q, e->m[idx].name),
           kind == BODY_SERIES ? "series" : "check");
}

/* Encodes idx[lo..hi) as one body, halving the range while it is over a cap. */
static void emit_range(enc_t *e, body_kind_t kind, const size_t *idx, size_t lo, size_t hi)
{
    if (lo >= hi)
        return;
    vn_dd_t *dd = e->dd;
    vn_err_t err = build_json(e, kind, idx, lo, hi);
    char *body = NULL;
    size_t len = 0;
    if (err == VN_OK && kind == BODY_SERIES) {
        err = vn_gzip_alloc(vn_buf_ptr(&dd->json), vn_buf_len(&dd->json), VN_GZIP_ZLIB, &body, &len);
    } else if (err == VN_OK) {
        len = vn_buf_len(&dd->json);
        body = vn_xmalloc(len ? len : 1);
        memcpy(body, vn_buf_ptr(&dd->json), len);
    }
    if (err == VN_OK && len > dd->sent_cap) {
        free(body);
        body = NULL;
        err = VN_ERR_TOO_LARGE;
    }
    if (err == VN_ERR_TOO_LARGE) {
        if (hi - lo == 1) {
            too_large(e, kind, idx[lo]);
            return;
        }
        size_t mid = lo + (hi - lo) / 2;
        emit_range(e, kind, idx, lo, mid);
        emit_range(e, kind, idx, mid, hi);
        return;
    }
    if (err != VN_OK) {
        vn_delivery_out_note(&e->out, err);
        return;
    }
    vn_delivery_req_t r = {.body = body, .len = len, .nmetrics = hi - lo};
    r.headers[r.nheaders++] = "Content-Type: application/json";
    if (kind == BODY_SERIES) {
        r.what = "series";
        r.url = dd->series_url;
        r.headers[r.nheaders++] = "Content-Encoding: deflate";
    } else {
        r.what = "check_run";
        r.url = dd->check_url;
    }
    vn_delivery_out_send(&e->out, &r);
}

/* Go's split: bodies = ceil(n / max), each ceil(n / bodies) long (the last shorter). */
static void emit_chunks(enc_t *e, body_kind_t kind, const size_t *idx, size_t n)
{
    if (n == 0)
        return;
    size_t max = e->dd->max_per_body ? e->dd->max_per_body : VN_DD_DEFAULT_MAX_PER_BODY;
    size_t bodies = (n - 1) / max + 1;
    size_t chunk = (n - 1) / bodies + 1;
    for (size_t lo = 0; lo < n; lo += chunk)
        emit_range(e, kind, idx, lo, lo + chunk < n ? lo + chunk : n);
}

vn_err_t vn_dd__encode_metrics(vn_dd_t *dd, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                               const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    if (n == 0)
        return VN_OK;
    if (dd->idx_cap < 2 * n) {
        free(dd->idx);
        dd->idx_cap = 2 * n;
        dd->idx = vn_xmalloc(dd->idx_cap * sizeof *dd->idx);
    }
    size_t *series = dd->idx, *checks = dd->idx + n;
    size_t ns = 0, nc = 0;
    for (size_t i = 0; i < n; i++) {
        const vn_inter_metric_t *mi = &m[i];
        if (!vn_sink__wants(s, mi) || !mi->name ||
            vn_delivery_strv_prefixes(mi->name, dd->name_drops, dd->n_name_drops))
            continue;
        if (mi->type == VN_IM_STATUS) {
            if (!isfinite(mi->value)) {
                dd->skipped++;
                continue;
            }
            checks[nc++] = i;
        } else if (mi->type == VN_IM_COUNTER || mi->type == VN_IM_GAUGE) {
            if (!isfinite(series_value(mi, info))) {
                dd->skipped++;
                continue;
            }
            series[ns++] = i;
        }
    }
    enc_t e = {.dd = dd, .s = s, .m = m, .info = info, .out = {emit, ctx, VN_OK}};
    emit_chunks(&e, BODY_CHECKS, checks, nc);
    emit_chunks(&e, BODY_SERIES, series, ns);
    return e.out.first_err;
}

/* ------------------------------------------------------------ events */

static void opt_str(vn_json_t *j, const char *key, const char *v)
{
    if (v && v[0]) {
        vn_json_key(j, key);
        vn_json_string(j, v);
    }
}

static void event_elem(vn_json_t *j, const vn_sink_event_t *ev, const vn_flush_info_t *info)
{
    vn_json_object_begin(j);
    vn_json_key(j, "msg_title");
    vn_json_string(j, ev->title ? ev->title : "");
    vn_json_key(j, "msg_text");
    vn_json_string(j, ev->text ? ev->text : "");
    if (ev->timestamp) {
        vn_json_key(j, "timestamp");
        vn_json_int(j, ev->timestamp);
    }
    opt_str(j, "host", ev->hostname && ev->hostname[0] ? ev->hostname : info->hostname);
    opt_str(j, "aggregation_key", ev->agg_key);
    opt_str(j, "priority", ev->priority && ev->priority[0] ? ev->priority : "normal");
    opt_str(j, "source_type_name", ev->source_type);
    opt_str(j, "alert_type", ev->alert_type && ev->alert_type[0] ? ev->alert_type : "info");
    if (ev->ntags) {
        vn_json_key(j, "tags");
        vn_json_array_begin(j);
        for (size_t i = 0; i < ev->ntags; i++)
            vn_json_string(j, ev->tags[i]);
        vn_json_array_end(j);
    }
    vn_json_object_end(j);
}

static vn_err_t emit_events(vn_dd_t *dd, const vn_sink_event_t *ev, size_t lo, size_t hi,
                            const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    vn_buf_t *b = &dd->json;
    vn_buf_reset(b);
    vn_json_t j;
    vn_json_init(&j, b);
    vn_json_object_begin(&j);
    vn_json_key(&j, "events");
    vn_json_object_begin(&j);
    vn_json_key(&j, "api");
    vn_json_array_begin(&j);
    for (size_t i = lo; i < hi; i++)
        event_elem(&j, &ev[i], info);
    vn_json_array_end(&j);
    vn_json_object_end(&j);
    vn_json_object_end(&j);
    vn_err_t err = vn_json_finish(&j);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '\n');
    char *body = NULL;
    size_t len = 0;
    if (err == VN_OK)
        err = vn_gzip_alloc(vn_buf_ptr(b), vn_buf_len(b), VN_GZIP_ZLIB, &body, &len);
    if (err == VN_OK && len > dd->sent_cap) {
        free(body);
        err = VN_ERR_TOO_LARGE;
    }
    if (err == VN_ERR_TOO_LARGE && hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        vn_err_t e1 = emit_events(dd, ev, lo, mid, info, emit, ctx);
        vn_err_t e2 = emit_events(dd, ev, mid, hi, info, emit, ctx);
        return e1 != VN_OK ? e1 : e2;
    }
    if (err != VN_OK) {
        dd->skipped += hi - lo;
        return err;
    }
    vn_delivery_req_t r = {.what = "intake", .url = dd->intake_url, .body = body, .len = len, .nmetrics = hi - lo};
    r.headers[r.nheaders++] = "Content-Type: application/json";
    r.headers[r.nheaders++] = "Content-Encoding: deflate";
    return emit(ctx, &r);
}

vn_err_t vn_dd__encode_events(vn_dd_t *dd, const vn_sink_event_t *ev, size_t n, const vn_flush_info_t *info,
                              vn_delivery_emit_fn emit, void *ctx)
{
    vn_err_t first = VN_OK;
    if (n == 0)
        return VN_OK;
    size_t max = dd->max_per_body ? dd->max_per_body : VN_DD_DEFAULT_MAX_PER_BODY;
    size_t bodies = (n - 1) / max + 1;
    size_t chunk = (n - 1) / bodies + 1;
    for (size_t lo = 0; lo < n; lo += chunk) {
        vn_err_t err = emit_events(dd, ev, lo, lo + chunk < n ? lo + chunk : n, info, emit, ctx);
        if (first == VN_OK)
            first = err;
    }
    return first;
}

vn_err_t vn_dd__query_escape(vn_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    vn_err_t err = VN_OK;
    for (const unsigned char *p = (const unsigned char *)s; err == VN_OK && *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~';
        if (plain)
            err = vn_buf_add_byte(b, c);
        else
            err = vn_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
    return err;
}
