/**
 * config_kv.c - the config's owned lists and key/value vectors (config.h vn_strlist_t,
 * vn_kvvec_t): comma splitting, joining, bounded appends, and freeing the structured
 * parts of a config (sinks, sources, tag matchers, routing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/xalloc.h"

/* ---------------------------------------------------------------- lists and kvs */
void vn_cfg__strlist_free(vn_strlist_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void vn_cfg__split_commas(const char *s, vn_strlist_t *out)
{
    out->v = NULL;
    out->n = 0;
    if (*s == '\0')
        return; /* envconfig >= 1.4 semantics: set-but-empty is an empty list */
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    out->v = vn_xcalloc(n, sizeof *out->v);
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ',' || *p == '\0') {
            out->v[out->n++] = vn_xstrndup(start, (size_t)(p - start));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
}

char *vn_cfg__join(const vn_strlist_t *l)
{
    size_t len = 1;
    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + 1;
    char *out = vn_xmalloc(len), *p = out;
    for (size_t i = 0; i < l->n; i++) {
        size_t k = strlen(l->v[i]);
        if (i)
            *p++ = ',';
        memcpy(p, l->v[i], k);
        p += k;
    }
    *p = '\0';
    return out;
}

void vn_cfg__kv_free(vn_kv_t *kv)
{
    free(kv->key);
    free(kv->value);
    vn_cfg__strlist_free(&kv->list);
    kv->key = kv->value = NULL;
}

void vn_cfg__kvvec_free(vn_kvvec_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        vn_cfg__kv_free(&v->v[i]);
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

vn_err_t vn_cfg__kvvec_push(vn_cfg_loader_t *ld, vn_kvvec_t *v, const char *key, const char *value,
                            vn_strlist_t *list, bool is_list)
{
    if (ld->kv_total >= VN_CFG_MAX_KV) {
        vn_cfg__strlist_free(list);
        return vn_cfg__errf(ld, "too many sink config entries (max %u)", VN_CFG_MAX_KV);
    }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = vn_xrealloc(v->v, v->cap * sizeof *v->v);
    }
    vn_kv_t *kv = &v->v[v->n++];
    memset(kv, 0, sizeof *kv);
    kv->key = vn_xstrdup(key);
    kv->value = vn_xstrdup(value);
    kv->is_list = is_list;
    if (list) {
        kv->list = *list;
        list->v = NULL;
        list->n = 0;
    }
    ld->kv_total++;
    return VN_OK;
}

void vn_cfg__kvvec_remove_prefix(vn_kvvec_t *v, const char *key)
{
    size_t klen = strlen(key), w = 0;
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->v[i].key;
        if (strncmp(k, key, klen) == 0 && (k[klen] == '\0' || k[klen] == '.'))
            vn_cfg__kv_free(&v->v[i]);
        else
            v->v[w++] = v->v[i];
    }
    v->n = w;
}

void vn_cfg__matchers_free(vn_tag_matcher_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].kind);
        free(m[i].value);
    }
    free(m);
}

void vn_cfg__sink_free(vn_sink_config_t *sc)
{
    free(sc->kind);
    free(sc->name);
    for (size_t i = 0; i < sc->n_kv; i++)
        vn_cfg__kv_free(&sc->kv[i]);
    free(sc->kv);
    vn_cfg__matchers_free(sc->strip_tags, sc->n_strip_tags);
    for (size_t i = 0; i < sc->n_add_tags; i++)
        vn_cfg__kv_free(&sc->add_tags[i]);
    free(sc->add_tags);
    memset(sc, 0, sizeof *sc);
}

void vn_cfg__source_free(vn_source_config_t *sc)
{
    free(sc->kind);
    free(sc->name);
    for (size_t i = 0; i < sc->n_kv; i++)
        vn_cfg__kv_free(&sc->kv[i]);
    free(sc->kv);
    vn_cfg__strlist_free(&sc->tags);
    memset(sc, 0, sizeof *sc);
}

void vn_cfg__routing_free(vn_sink_routing_t *r)
{
    free(r->name);
    for (size_t i = 0; i < r->n_match; i++) {
        vn_metric_matcher_t *m = &r->match[i];
        free(m->name_kind);
        free(m->name_value);
        vn_cfg__matchers_free(m->tags, m->n_tags);
    }
    free(r->match);
    vn_cfg__strlist_free(&r->matched);
    vn_cfg__strlist_free(&r->not_matched);
    memset(r, 0, sizeof *r);
}
