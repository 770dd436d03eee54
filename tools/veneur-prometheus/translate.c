/*
 * translate.c - Prometheus families -> DogStatsD lines (docs/behaviour.md W6.3), with the
 * names and bytes Go veneur-prometheus (datadog-go v3.7.2) produces:
 *
 *   # TYPE http_requests_total counter
 *   http_requests_total{code="200"} 1027      -> app.http_requests_total:12|c|#code:200   (delta)
 *   # TYPE temperature gauge / untyped
 *   temperature 21.5                          -> app.temperature:21.5|g
 *   # TYPE rpc_seconds summary
 *   rpc_seconds{quantile="0.99"} 0.3          -> app.rpc_seconds.99percentile:0.3|g
 *   rpc_seconds_sum 17.5 / _count 2693        -> app.rpc_seconds.sum:17.5|g, app.rpc_seconds.count:<delta>|c
 *   # TYPE req_seconds histogram
 *   req_seconds_bucket{le="0.005"} 7          -> app.req_seconds.le0.005000:<delta>|c
 *   req_seconds_bucket{le="+Inf"} 9           -> app.req_seconds.le+Inf:<delta>|c
 *
 * Tags are the labels in exposition order as name:value (value unescaped,
 * newlines dropped as datadog-go drops them), minus -ignored-labels, renamed
 * by -r, then the -a tags. Unlike Go, bytes that are DogStatsD syntax ('|',
 * ',', '#', NUL, CR; ':' in names) become '_' (vn_prom_statsd_safe), so a
 * label value cannot add a sample rate or a tag; each rewritten tag or name
 * counts in veneur.prometheus.sanitized_total (sent only when nonzero). Counters with a delta of 0 are not sent, but count
 * toward metrics_flushed_total as in Go. A line longer than one datagram is
 * dropped (datadog-go cannot send it either) and counted in too_long.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/gonum.h"
#include "prom.h"

void vn_pm_out_init(vn_pm_out_t *o)
{
    memset(o, 0, sizeof *o);
    vn_buf_init(&o->lines, VN_PM_MAX_LINES_BYTES);
    vn_buf_init(&o->_tags, VN_PM_MAX_LINES_BYTES);
    vn_buf_init(&o->_keytags, VN_PM_MAX_LINES_BYTES);
    vn_buf_init(&o->_name, VN_PM_MAX_LINES_BYTES);
    vn_buf_init(&o->_tmp, VN_PM_MAX_LINES_BYTES);
}

void vn_pm_out_reset(vn_pm_out_t *o)
{
    vn_buf_reset(&o->lines);
    o->nlines = 0;
    o->translated = o->unknown = o->too_long = o->ignored = o->sanitized = 0;
}

void vn_pm_out_destroy(vn_pm_out_t *o)
{
    if (!o)
        return;
    vn_buf_free(&o->lines);
    vn_buf_free(&o->_tags);
    vn_buf_free(&o->_keytags);
    vn_buf_free(&o->_name);
    vn_buf_free(&o->_tmp);
}

int64_t vn_pm_go_int(double v)
{
    /* amd64 CVTTSD2SQ: the "integer indefinite" value for NaN and overflow */
    if (isnan(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static bool matches(const vn_regex_t *re, vn_str_t s) { return re && vn_regex_match(re, s.p, s.len); }

/* Appends a label value, unescaped and made DogStatsD-safe (vn_prom_statsd_safe). */
static vn_err_t add_value(vn_buf_t *b, const vn_prom_label_t *l, bool *changed)
{
    if (l->value.len == 0)
        return VN_OK;
    char *dst;
    vn_err_t rc = vn_buf_reserve(b, l->value.len, &dst);
    if (rc != VN_OK)
        return rc;
    size_t n =
        l->escaped ? vn_prom_unescape(l->value, dst) : (memcpy(dst, l->value.p, l->value.len), l->value.len);
    vn_buf_commit(b, vn_prom_statsd_safe(dst, n, false, changed));
    return VN_OK;
}

/* Appends s made safe as a name (-r and -a come from the operator, but a ',' there would split the tag too). */
static vn_err_t add_safe(vn_buf_t *b, const char *p, size_t len, bool name, bool *changed)
{
    char *dst;
    vn_err_t rc = vn_buf_reserve(b, len, &dst);
    if (rc != VN_OK)
        return rc;
    memcpy(dst, p, len);
    vn_buf_commit(b, vn_prom_statsd_safe(dst, len, name, changed));
    return VN_OK;
}

static vn_err_t add_tag(vn_pm_out_t *o, vn_str_t name, const vn_prom_label_t *l, const char *val)
{
    vn_err_t rc = VN_OK;
    bool changed = false;
    size_t start = vn_buf_len(&o->_tags);
    if (start)
        rc = vn_buf_add_byte(&o->_tags, ',');
    if (rc == VN_OK)
        rc = add_safe(&o->_tags, name.p, name.len, true, &changed);
    if (rc == VN_OK)
        rc = vn_buf_add_byte(&o->_tags, ':');
    if (rc == VN_OK)
        rc = l ? add_value(&o->_tags, l, &changed) : add_safe(&o->_tags, val, strlen(val), false, &changed);
    if (rc != VN_OK)
        return rc;
    if (changed)
        o->sanitized++;
    /* the key repeats the tag behind a 0xff separator */
    const char *t = vn_buf_ptr(&o->_tags) + start + (start ? 1 : 0);
    size_t tlen = vn_buf_len(&o->_tags) - start - (start ? 1 : 0);
    rc = vn_buf_add_byte(&o->_keytags, 0xff);
    return rc == VN_OK ? vn_buf_add(&o->_keytags, t, tlen) : rc;
}

static vn_err_t build_tags(const vn_pm_tcfg_t *cfg, const vn_prom_doc_t *doc, const vn_prom_series_t *s,
                           vn_pm_out_t *o)
{
    vn_buf_reset(&o->_tags);
    vn_buf_reset(&o->_keytags);
    for (uint32_t i = 0; i < s->nlabels; i++) {
        const vn_prom_label_t *l = &doc->labels[s->label_off + i];
        if (matches(cfg->ignored_labels, l->name))
            continue;
        vn_str_t name = l->name;
        for (size_t r = 0; r < cfg->nrenames; r++)
            if (vn_str_eq(name, vn_str_c(cfg->renames[r].key))) {
                name = vn_str_c(cfg->renames[r].val);
                break;
            }
        vn_err_t rc = add_tag(o, name, l, NULL);
        if (rc != VN_OK)
            return rc;
    }
    for (size_t a = 0; a < cfg->nadds; a++) {
        vn_err_t rc = add_tag(o, vn_str_c(cfg->adds[a].key), NULL, cfg->adds[a].val);
        if (rc != VN_OK)
            return rc;
    }
    return VN_OK;
}

/* Sets the stat name (without prefix) to family + suffix. A Prometheus name may hold ':' (recording
 * rules: job:requests:rate5m), which would end a DogStatsD name: it becomes '_'. */
static vn_err_t set_name(vn_pm_out_t *o, vn_str_t family, const char *suffix)
{
    vn_buf_reset(&o->_name);
    bool changed = false; /* counted once per series by series_out */
    vn_err_t rc = add_safe(&o->_name, family.p, family.len, true, &changed);
    return rc == VN_OK && suffix ? vn_buf_add_str(&o->_name, suffix) : rc;
}

/* <prefix><name>:<value>|<type>[|#<tags>] and a '\n'; dropped when too long. */
static vn_err_t emit(vn_pm_out_t *o, const char *prefix, const char *value, char type, bool tags)
{
    vn_buf_t *b = &o->lines;
    size_t mark = vn_buf_len(b);
    vn_err_t rc = vn_buf_add_str(b, prefix);
    if (rc == VN_OK)
        rc = vn_buf_add(b, vn_buf_ptr(&o->_name), vn_buf_len(&o->_name));
    if (rc == VN_OK)
        rc = vn_buf_printf(b, ":%s|%c", value, type);
    if (rc == VN_OK && tags && vn_buf_len(&o->_tags) > 0) {
        rc = vn_buf_add(b, "|#", 2);
        if (rc == VN_OK)
            rc = vn_buf_add(b, vn_buf_ptr(&o->_tags), vn_buf_len(&o->_tags));
    }
    if (rc != VN_OK) {
        vn_buf_truncate(b, mark);
        return rc;
    }
    if (vn_buf_len(b) - mark > VN_PM_MAX_DATAGRAM) {
        vn_buf_truncate(b, mark);
        o->too_long++;
        return VN_OK;
    }
    rc = vn_buf_add_byte(b, '\n');
    if (rc != VN_OK) {
        vn_buf_truncate(b, mark);
        return rc;
    }
    o->nlines++;
    return VN_OK;
}

static vn_err_t gauge(vn_pm_out_t *o, const vn_pm_tcfg_t *cfg, double v)
{
    char num[VN_GONUM_FLOAT_MAX];
    vn_gonum_format_float(v, VN_GONUM_FMT_F, num, sizeof num);
    o->translated++;
    return emit(o, cfg->prefix, num, 'g', true);
}

static vn_err_t counter(vn_pm_out_t *o, const vn_pm_tcfg_t *cfg, vn_prom_delta_t *cache, int64_t v)
{
    /* key: name + tags, before the prefix (Go keys on the un-namespaced name) */
    vn_buf_t *k = &o->_tmp;
    vn_buf_reset(k);
    vn_err_t rc = vn_buf_add(k, vn_buf_ptr(&o->_name), vn_buf_len(&o->_name));
    if (rc == VN_OK)
        rc = vn_buf_add(k, vn_buf_ptr(&o->_keytags), vn_buf_len(&o->_keytags));
    if (rc != VN_OK)
        return rc;
    int64_t d = vn_prom_delta_diff(cache, vn_buf_ptr(k), vn_buf_len(k), v);
    o->translated++;
    if (d == 0)
        return VN_OK;
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, d);
    return emit(o, cfg->prefix, num, 'c', true);
}

static vn_err_t series_out(const vn_pm_tcfg_t *cfg, vn_prom_delta_t *cache, const vn_prom_doc_t *doc,
                           const vn_prom_family_t *f, const vn_prom_series_t *s, vn_pm_out_t *o)
{
    vn_err_t rc = build_tags(cfg, doc, s, o);
    if (rc != VN_OK)
        return rc;
    if (memchr(f->name.p, ':', f->name.len))
        o->sanitized++; /* set_name rewrites it */
    char suffix[400];
    switch (f->type) {
    case VN_PROM_COUNTER:
        rc = set_name(o, f->name, NULL);
        return rc == VN_OK ? counter(o, cfg, cache, vn_prom_counter_int(s->value)) : rc;
    case VN_PROM_GAUGE:
    case VN_PROM_UNTYPED:
        rc = set_name(o, f->name, NULL);
        return rc == VN_OK ? gauge(o, cfg, s->value) : rc;
    case VN_PROM_SUMMARY:
    case VN_PROM_HISTOGRAM:
        if ((rc = set_name(o, f->name, ".sum")) != VN_OK || (rc = gauge(o, cfg, s->sum)) != VN_OK)
            return rc;
        if ((rc = set_name(o, f->name, ".count")) != VN_OK ||
            (rc = counter(o, cfg, cache, vn_prom_counter_int(s->count))) != VN_OK)
            return rc;
        for (uint32_t p = s->point_head; p != VN_PROM_NONE; p = doc->points[p].next) {
            const vn_prom_point_t *pt = &doc->points[p];
            if (f->type == VN_PROM_SUMMARY) {
                if (isnan(pt->value))
                    continue; /* Go skips quantiles without a value */
                snprintf(suffix, sizeof suffix, ".%" PRId64 "percentile", vn_pm_go_int(pt->bound * 100));
                if ((rc = set_name(o, f->name, suffix)) != VN_OK || (rc = gauge(o, cfg, pt->value)) != VN_OK)
                    return rc;
            } else {
                if (isnan(pt->bound))
                    continue;
                char b[VN_PROM_BOUND_MAX];
                vn_prom_format_bound(pt->bound, b, sizeof b);
                snprintf(suffix, sizeof suffix, ".le%s", b);
                if ((rc = set_name(o, f->name, suffix)) != VN_OK ||
                    (rc = counter(o, cfg, cache, vn_prom_counter_int(pt->value))) != VN_OK)
                    return rc;
            }
        }
        return VN_OK;
    case VN_PROM_UNKNOWN:
        break;
    }
    return VN_OK;
}

vn_err_t vn_pm_add_count(vn_pm_out_t *out, const char *prefix, const char *name, int64_t value)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, value);
    vn_buf_reset(&out->_name);
    vn_err_t rc = vn_buf_add_str(&out->_name, name);
    return rc == VN_OK ? emit(out, prefix, num, 'c', false) : rc;
}

vn_err_t vn_pm_translate(const vn_pm_tcfg_t *cfg, vn_prom_delta_t *cache, const vn_prom_doc_t *doc,
                         vn_pm_out_t *out)
{
    for (uint32_t fi = 0; fi < doc->nfamilies; fi++) {
        const vn_prom_family_t *f = &doc->families[fi];
        if (f->nseries == 0)
            continue; /* HELP/TYPE only: Go drops empty families */
        if (matches(cfg->ignored_metrics, f->name)) {
            out->ignored++;
            continue;
        }
        if (f->type == VN_PROM_UNKNOWN) {
            out->unknown++;
            continue;
        }
        for (uint32_t si = f->series_head; si != VN_PROM_NONE; si = doc->series[si].next) {
            vn_err_t rc = series_out(cfg, cache, doc, f, &doc->series[si], out);
            if (rc != VN_OK)
                return rc;
        }
    }
    vn_err_t rc = VN_OK;
    if (out->unknown)
        rc = vn_pm_add_count(out, cfg->prefix, "veneur.prometheus.unknown_metric_type_total",
                             (int64_t)out->unknown);
    if (rc == VN_OK && out->sanitized)
        rc = vn_pm_add_count(out, cfg->prefix, "veneur.prometheus.sanitized_total", (int64_t)out->sanitized);
    if (rc == VN_OK)
        rc = vn_pm_add_count(out, cfg->prefix, "veneur.prometheus.metrics_flushed_total",
                             (int64_t)out->translated + 2);
    return rc;
}
