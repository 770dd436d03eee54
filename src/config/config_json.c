/**
 * config_json.c - vn_config_dump_json: the effective config as /config/json
 * shows it (http.config: true), in the shape of Go's json.Marshal of its
 * Config: Go struct field names as keys, nested structs as objects
 * ("Features", "HTTP", "Tls", "VeneurMetricsScopes"), durations as integer
 * nanoseconds. Driven by the key table, so a new key is dumped without edits.
 *
 * Differences from Go, on purpose: secrets (tls_key, sentry_dsn, secret-named
 * sink config keys, URL userinfo and secret query parameters) show as
 * "<redacted>" unless print_secrets (Go prints sink configs' secrets as they
 * are); a sink's Config is its flattened "a.b": value pairs; [v13] flat keys
 * show only as the MetricSinks entries they were translated into.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/json.h"

static void str_value(vn_json_t *w, const char *s, bool secret, bool print_secrets)
{
    s = s ? s : "";
    if (print_secrets) {
        vn_json_string(w, s);
        return;
    }
    if (secret && *s) {
        vn_json_string(w, "<redacted>");
        return;
    }
    char *hidden = vn_config_redact_url(s);
    vn_json_string(w, hidden ? hidden : s);
    free(hidden);
}

static void strlist(vn_json_t *w, const vn_strlist_t *l, bool secret, bool print_secrets)
{
    vn_json_array_begin(w);
    for (size_t i = 0; i < l->n; i++)
        str_value(w, l->v[i], secret, print_secrets);
    vn_json_array_end(w);
}

static void tag_matchers(vn_json_t *w, const vn_tag_matcher_t *t, size_t n)
{
    vn_json_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        vn_json_object_begin(w);
        vn_json_key(w, "Kind");
        vn_json_string(w, t[i].kind ? t[i].kind : "");
        vn_json_key(w, "Unset");
        vn_json_bool(w, t[i].unset);
        vn_json_key(w, "Value");
        vn_json_string(w, t[i].value ? t[i].value : "");
        vn_json_object_end(w);
    }
    vn_json_array_end(w);
}

static void kv_object(vn_json_t *w, const vn_kv_t *kvs, size_t n, bool ps)
{
    vn_json_object_begin(w);
    for (size_t j = 0; j < n; j++) {
        const vn_kv_t *kv = &kvs[j];
        bool secret = vn_cfg__key_is_secret(kv->key);
        vn_json_key(w, kv->key);
        if (kv->is_list)
            strlist(w, &kv->list, secret, ps);
        else
            str_value(w, kv->value, secret, ps);
    }
    vn_json_object_end(w);
}

/* Opens a sink or source object with what both have: Kind, Name, Config. */
static void entry_head(vn_json_t *w, const char *kind, const char *name, const vn_kv_t *kv, size_t n_kv, bool ps)
{
    vn_json_object_begin(w);
    vn_json_key(w, "Kind");
    vn_json_string(w, kind ? kind : "");
    vn_json_key(w, "Name");
    vn_json_string(w, name ? name : "");
    vn_json_key(w, "Config");
    kv_object(w, kv, n_kv, ps);
}

/* Go SourceConfig: Kind, Name, Config, Tags. */
static void sources(vn_json_t *w, const vn_source_config_t *arr, size_t n, bool ps)
{
    vn_json_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        const vn_source_config_t *sc = &arr[i];
        entry_head(w, sc->kind, sc->name, sc->kv, sc->n_kv, ps);
        vn_json_key(w, "Tags");
        strlist(w, &sc->tags, false, ps);
        vn_json_object_end(w);
    }
    vn_json_array_end(w);
}

static void sinks(vn_json_t *w, const vn_sink_config_t *arr, size_t n, bool ps)
{
    vn_json_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        const vn_sink_config_t *sc = &arr[i];
        entry_head(w, sc->kind, sc->name, sc->kv, sc->n_kv, ps);
        vn_json_key(w, "MaxNameLength");
        vn_json_int(w, sc->max_name_length);
        vn_json_key(w, "MaxTagLength");
        vn_json_int(w, sc->max_tag_length);
        vn_json_key(w, "MaxTags");
        vn_json_int(w, sc->max_tags);
        vn_json_key(w, "StripTags");
        tag_matchers(w, sc->strip_tags, sc->n_strip_tags);
        vn_json_key(w, "AddTags");
        vn_json_object_begin(w);
        for (size_t j = 0; j < sc->n_add_tags; j++) {
            vn_json_key(w, sc->add_tags[j].key);
            vn_json_string(w, sc->add_tags[j].value ? sc->add_tags[j].value : "");
        }
        vn_json_object_end(w);
        vn_json_object_end(w);
    }
    vn_json_array_end(w);
}

static void routing(vn_json_t *w, const vn_config_t *c, bool ps)
{
    vn_json_array_begin(w);
    for (size_t i = 0; i < c->n_metric_sink_routing; i++) {
        const vn_sink_routing_t *r = &c->metric_sink_routing[i];
        vn_json_object_begin(w);
        vn_json_key(w, "Name");
        vn_json_string(w, r->name ? r->name : "");
        vn_json_key(w, "Match");
        vn_json_array_begin(w);
        for (size_t j = 0; j < r->n_match; j++) {
            vn_json_object_begin(w);
            vn_json_key(w, "Name");
            vn_json_object_begin(w);
            vn_json_key(w, "Kind");
            vn_json_string(w, r->match[j].name_kind ? r->match[j].name_kind : "");
            vn_json_key(w, "Value");
            vn_json_string(w, r->match[j].name_value ? r->match[j].name_value : "");
            vn_json_object_end(w);
            vn_json_key(w, "Tags");
            tag_matchers(w, r->match[j].tags, r->match[j].n_tags);
            vn_json_object_end(w);
        }
        vn_json_array_end(w);
        vn_json_key(w, "Sinks");
        vn_json_object_begin(w);
        vn_json_key(w, "Matched");
        strlist(w, &r->matched, false, ps);
        vn_json_key(w, "NotMatched");
        strlist(w, &r->not_matched, false, ps);
        vn_json_object_end(w);
        vn_json_object_end(w);
    }
    vn_json_array_end(w);
}

static void value(vn_json_t *w, const vn_config_t *c, const vn_config_key_t *k, bool ps)
{
    const char *base = (const char *)c + k->off;
    switch (k->type) {
    case VN_KT_STR:
        str_value(w, *(char *const *)(const void *)base, (k->flags & VN_KF_SECRET) != 0, ps);
        break;
    case VN_KT_INT: vn_json_int(w, *(const int *)(const void *)base); break;
    case VN_KT_LONG: vn_json_int(w, *(const long *)(const void *)base); break;
    case VN_KT_BOOL: vn_json_bool(w, *(const bool *)(const void *)base); break;
    case VN_KT_DURATION: /* Go's time.Duration marshals as integer nanoseconds */
        vn_json_int(w, (int64_t)llround(*(const double *)(const void *)base * 1e9));
        break;
    case VN_KT_STRLIST:
    case VN_KT_URLLIST: strlist(w, (const vn_strlist_t *)(const void *)base, false, ps); break;
    case VN_KT_FLOATLIST:
        vn_json_array_begin(w);
        for (size_t i = 0; i < c->n_percentiles; i++)
            vn_json_double(w, c->percentiles[i]);
        vn_json_array_end(w);
        break;
    case VN_KT_AGGS: {
        static const char *const names[] = {"min", "max", "median", "avg", "count", "sum", "hmean"};
        vn_json_array_begin(w);
        for (unsigned b = 0; b < 7; b++)
            if (c->aggregates & (1u << b))
                vn_json_string(w, names[b]);
        vn_json_array_end(w);
        break;
    }
    case VN_KT_SINKS:
        if (strcmp(k->key, "span_sinks") == 0)
            sinks(w, c->span_sinks, c->n_span_sinks, ps);
        else
            sinks(w, c->metric_sinks, c->n_metric_sinks, ps);
        break;
    case VN_KT_SOURCES: sources(w, c->sources, c->n_sources, ps); break;
    case VN_KT_ROUTING: routing(w, c, ps); break;
    default: vn_json_null(w); break;
    }
}

void vn_config_dump_json(const vn_config_t *cfg, bool print_secrets, vn_buf_t *out)
{
    vn_json_t w;
    vn_json_init(&w, out);
    vn_json_object_begin(&w);
    char open[64] = "";
    for (size_t i = 0; i < vn_config_nkeys; i++) {
        const vn_config_key_t *k = &vn_config_keys[i];
        if (k->flags & VN_KF_NODUMP || k->type == VN_KT_IGNORED || k->type == VN_KT_V13)
            continue;
        const char *go = k->gofield ? k->gofield
                         : k->type == VN_KT_SINKS ? (strcmp(k->key, "span_sinks") == 0 ? "SpanSinks" : "MetricSinks")
                         : k->type == VN_KT_ROUTING ? "MetricSinkRouting"
                         : k->type == VN_KT_SOURCES ? "Sources"
                                                     : k->key;
        const char *dot = strchr(go, '.');
        char group[64];
        snprintf(group, sizeof group, "%.*s", dot ? (int)(dot - go) : 0, go);
        if (strcmp(group, open) != 0) {
            if (open[0])
                vn_json_object_end(&w);
            if (group[0]) {
                vn_json_key(&w, group);
                vn_json_object_begin(&w);
            }
            snprintf(open, sizeof open, "%s", group);
        }
        vn_json_key(&w, dot ? dot + 1 : go);
        value(&w, cfg, k, print_secrets);
    }
    if (open[0])
        vn_json_object_end(&w);
    vn_json_object_end(&w);
    vn_buf_add_byte(out, '\n');
}
