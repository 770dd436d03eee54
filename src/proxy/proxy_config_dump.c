/*
 * proxy_config_dump.c - the config as /config/json and /config/yaml show it
 * (http.enable_config; see proxy_config.h), driven by the same key table as
 * the loader so a new key is dumped without further edits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_schema.h"
#include "core/json.h"
#include "proxy/proxy_config_internal.h"

/* ---------------------------------------------------------------- dumps */

/* -print-secrets (c->print_secrets) shows every value as it is, as Go's flag does. */
static bool is_secret_value(const vn_proxy_config_t *c, const vn_config_key_t *k)
{
    return (k->flags & VN_KF_SECRET) && !c->print_secrets;
}

/* v with a URL's secrets replaced ("https://<redacted>@host/?token=<redacted>",
 * vn_config_redact_url), into buf; v itself when it has none. A value longer
 * than buf keeps only "<redacted>" (never the secret). */
static const char *hide_userinfo(const vn_proxy_config_t *c, const char *v, char *buf, size_t cap)
{
    char *hidden = c->print_secrets ? NULL : vn_config_redact_url(v);
    if (!hidden)
        return v;
    int n = snprintf(buf, cap, "%s", hidden);
    free(hidden);
    return n >= 0 && (size_t)n < cap ? buf : "<redacted>";
}

/* Go field name of a key: the last segment of its Go path ("IgnoreTags" for the YAML-only key). */
static void go_split(const vn_config_key_t *k, char *group, size_t gcap, const char **field)
{
    const char *g = k->gofield ? k->gofield : "IgnoreTags";
    const char *dot = strchr(g, '.');
    snprintf(group, gcap, "%.*s", dot ? (int)(dot - g) : 0, g);
    *field = dot ? dot + 1 : g;
}

static void json_value(vn_json_t *w, const vn_proxy_config_t *c, const vn_config_key_t *k)
{
    switch (k->type) {
    case VN_KT_STR: {
        const char *v = *VN_PCFG_FIELD(c, k, char *);
        char hb[1024];
        vn_json_string(w, is_secret_value(c, k) && v[0] ? "<redacted>" : hide_userinfo(c, v, hb, sizeof hb));
        break;
    }
    case VN_KT_BOOL: vn_json_bool(w, *VN_PCFG_FIELD(c, k, bool)); break;
    case VN_KT_DURATION: /* Go's time.Duration marshals as integer nanoseconds */
        vn_json_int(w, (int64_t)llround(*VN_PCFG_FIELD(c, k, double) * 1e9));
        break;
    case VN_KT_ULONG: vn_json_int(w, (int64_t)*VN_PCFG_FIELD(c, k, unsigned long)); break;
    case VN_KT_LONG: vn_json_int(w, *VN_PCFG_FIELD(c, k, long)); break;
    case VN_KT_ENUM: vn_json_string(w, vn_disc_kind_name(*VN_PCFG_FIELD(c, k, vn_disc_kind_t))); break;
    case VN_KT_STRLIST: {
        const vn_strlist_t *l = VN_PCFG_FIELD(c, k, vn_strlist_t);
        vn_json_array_begin(w);
        char hb[1024];
        for (size_t i = 0; i < l->n; i++)
            vn_json_string(w, hide_userinfo(c, l->v[i], hb, sizeof hb));
        vn_json_array_end(w);
        break;
    }
    case VN_KT_MATCHERS:
        vn_json_array_begin(w);
        for (size_t i = 0; i < c->n_ignore_tags; i++) {
            vn_json_object_begin(w);
            vn_json_key(w, "Kind");
            vn_json_string(w, c->ignore_tags[i].kind);
            vn_json_key(w, "Unset");
            vn_json_bool(w, c->ignore_tags[i].unset);
            vn_json_key(w, "Value");
            vn_json_string(w, c->ignore_tags[i].value);
            vn_json_object_end(w);
        }
        vn_json_array_end(w);
        break;
    default: break; /* key types only veneur's table has */
    }
}

void vn_proxy_config_dump_json(const vn_proxy_config_t *c, vn_buf_t *out)
{
    vn_json_t w;
    vn_json_init(&w, out);
    vn_json_object_begin(&w);
    char open_group[64] = "";
    for (size_t i = 0; i < vn_proxy__nkeys; i++) {
        char group[64];
        const char *field;
        go_split(&vn_proxy__keys[i], group, sizeof group, &field);
        if (strcmp(group, open_group) != 0) {
            if (open_group[0])
                vn_json_object_end(&w);
            if (group[0]) {
                vn_json_key(&w, group);
                vn_json_object_begin(&w);
            }
            snprintf(open_group, sizeof open_group, "%s", group);
        }
        vn_json_key(&w, field);
        json_value(&w, c, &vn_proxy__keys[i]);
    }
    if (open_group[0])
        vn_json_object_end(&w);
    vn_json_object_end(&w);
    vn_buf_add_byte(out, '\n');
}

static void yaml_str(vn_buf_t *out, const char *s)
{
    vn_json_add_string(out, s, strlen(s)); /* a JSON string is a valid YAML double-quoted scalar */
}

void vn_proxy_config_dump_yaml(const vn_proxy_config_t *c, vn_buf_t *out)
{
    char open_group[64] = "";
    for (size_t i = 0; i < vn_proxy__nkeys; i++) {
        const vn_config_key_t *k = &vn_proxy__keys[i];
        const char *dot = strchr(k->key, '.');
        char group[64];
        snprintf(group, sizeof group, "%.*s", dot ? (int)(dot - k->key) : 0, k->key);
        if (strcmp(group, open_group) != 0 && group[0])
            vn_buf_printf(out, "%s:\n", group);
        snprintf(open_group, sizeof open_group, "%s", group);
        vn_buf_printf(out, "%s%s: ", group[0] ? "  " : "", dot ? dot + 1 : k->key);
        switch (k->type) {
        case VN_KT_STR: {
            const char *v = *VN_PCFG_FIELD(c, k, char *);
            char hb[1024];
            yaml_str(out, is_secret_value(c, k) && v[0] ? "<redacted>" : hide_userinfo(c, v, hb, sizeof hb));
            break;
        }
        case VN_KT_BOOL: vn_buf_add_str(out, *VN_PCFG_FIELD(c, k, bool) ? "true" : "false"); break;
        case VN_KT_DURATION: {
            char d[64];
            vn_cfg__format_duration(*VN_PCFG_FIELD(c, k, double), d, sizeof d);
            vn_buf_add_str(out, d);
            break;
        }
        case VN_KT_ULONG: vn_buf_printf(out, "%lu", *VN_PCFG_FIELD(c, k, unsigned long)); break;
        case VN_KT_LONG: vn_buf_printf(out, "%ld", *VN_PCFG_FIELD(c, k, long)); break;
        case VN_KT_ENUM: yaml_str(out, k->names[*VN_PCFG_FIELD(c, k, int)]); break;
        case VN_KT_STRLIST: {
            const vn_strlist_t *l = VN_PCFG_FIELD(c, k, vn_strlist_t);
            vn_buf_add_byte(out, '[');
            char hb[1024];
            for (size_t j = 0; j < l->n; j++) {
                if (j)
                    vn_buf_add_str(out, ", ");
                yaml_str(out, hide_userinfo(c, l->v[j], hb, sizeof hb));
            }
            vn_buf_add_byte(out, ']');
            break;
        }
        case VN_KT_MATCHERS:
            vn_buf_add_byte(out, '[');
            for (size_t j = 0; j < c->n_ignore_tags; j++) {
                vn_buf_add_str(out, j ? ", {kind: " : "{kind: ");
                yaml_str(out, c->ignore_tags[j].kind);
                vn_buf_add_str(out, ", value: ");
                yaml_str(out, c->ignore_tags[j].value);
                vn_buf_printf(out, ", unset: %s}", c->ignore_tags[j].unset ? "true" : "false");
            }
            vn_buf_add_byte(out, ']');
            break;
        default: break; /* key types only veneur's table has */
        }
        vn_buf_add_byte(out, '\n');
    }
}
