/**
 * config_sections.c - the structured config sections, walked key by key and typed:
 * tag matchers, metric_sinks / span_sinks entries, sources, and metric_sink_routing.
 * Each section is a list of mappings; every key is checked (unknown keys follow the
 * loader's strict mode) and every value typed here, on config_yaml.c's node readers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/regex.h"
#include "core/xalloc.h"

/* where + sep + key into buf; marks a truncated result with "..." (messages only). */
static const char *subkey(char *buf, size_t cap, const char *where, const char *sep, const char *key)
{
    int n = snprintf(buf, cap, "%s%s%s", where, sep, key);
    if ((n < 0 || (size_t)n >= cap) && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
    return buf;
}

/* where + "[i]" into buf. */
static const char *subidx(char *buf, size_t cap, const char *where, size_t i)
{
    char ix[24];
    snprintf(ix, sizeof ix, "[%zu]", i);
    return subkey(buf, cap, where, "", ix);
}

/* ---------------------------------------------------------------- typed scalars in structures */
static vn_err_t node_str(vn_cfg_loader_t *ld, yaml_node_t *n, const char *where, char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return vn_cfg__errf(ld, "key \"%s\": expected a single value (line %zu)", where, n->start_mark.line + 1);
    free(*out);
    *out = vn_xstrdup(vn_cfg__scalar_text(n));
    return VN_OK;
}

static vn_err_t node_int(vn_cfg_loader_t *ld, yaml_node_t *n, const char *where, int *out)
{
    char shown[160];
    long long v = 0;
    if (n->type != YAML_SCALAR_NODE)
        return vn_cfg__errf(ld, "key \"%s\": expected a single value (line %zu)", where, n->start_mark.line + 1);
    if (vn_cfg__is_null(n)) {
        *out = 0;
        return VN_OK;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (!vn_cfg__parse_int(s, 0, 0x7fffffff, &v))
        return vn_cfg__errf(ld, "key \"%s\": invalid integer \"%s\" (must be >= 0) (line %zu)", where,
                            vn_cfg__show(s, false, shown, sizeof shown), n->start_mark.line + 1);
    *out = (int)v;
    return VN_OK;
}

static vn_err_t node_bool(vn_cfg_loader_t *ld, yaml_node_t *n, const char *where, bool *out)
{
    char shown[160];
    if (n->type != YAML_SCALAR_NODE)
        return vn_cfg__errf(ld, "key \"%s\": expected a single value (line %zu)", where, n->start_mark.line + 1);
    if (vn_cfg__is_null(n)) {
        *out = false;
        return VN_OK;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (!vn_cfg__parse_bool(s, true, out))
        return vn_cfg__errf(ld, "key \"%s\": invalid boolean \"%s\" (line %zu)", where,
                            vn_cfg__show(s, false, shown, sizeof shown), n->start_mark.line + 1);
    return VN_OK;
}

static vn_err_t check_kind(vn_cfg_loader_t *ld, const char *kind, bool allow_any, const char *where)
{
    char shown[160];
    const char *k = kind ? kind : "";
    if ((allow_any && strcmp(k, "any") == 0) || strcmp(k, "exact") == 0 || strcmp(k, "prefix") == 0 ||
        strcmp(k, "regex") == 0)
        return VN_OK;
    return vn_cfg__errf(ld, "key \"%s.kind\": unknown matcher kind \"%s\"", where,
                        vn_cfg__show(k, false, shown, sizeof shown));
}

/* A regex matcher's pattern must compile (RE2, Go's syntax) at load, not at
 * the first metric: a typo fails -validate-config instead of a running flush. */
static vn_err_t check_regex(vn_cfg_loader_t *ld, const char *kind, const char *value, const char *where)
{
    char why[160], shown[160];
    if (!kind || strcmp(kind, "regex") != 0)
        return VN_OK;
    vn_regex_t *re = vn_regex_compile(value ? value : "", why, sizeof why);
    if (re) {
        vn_regex_free(re);
        return VN_OK;
    }
    return vn_cfg__errf(ld, "key \"%s.value\": invalid regex \"%s\": %s", where,
                        vn_cfg__show(value ? value : "", false, shown, sizeof shown), why);
}

/* ---------------------------------------------------------------- mapping and list walkers */
/* One key of a mapping: `sub` is its full path for messages ("where.key"). */
typedef vn_err_t (*key_fn)(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *key, yaml_node_t *val,
                           const char *sub, void *obj);

/* Calls fn for each key of the mapping at node (merge keys resolved), stopping at the first error. */
static vn_err_t each_key(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                         key_fn fn, void *obj)
{
    char sub[300];
    vn_cfg_pair_t *ps = NULL;
    size_t pn = 0;
    vn_err_t err = vn_cfg__map_pairs(ld, doc, node, where, &ps, &pn);
    for (size_t i = 0; err == VN_OK && i < pn; i++)
        err = fn(ld, doc, ps[i].key, ps[i].val, subkey(sub, sizeof sub, where, ".", ps[i].key), obj);
    return err;
}

/* One list item into elem (zeroed); `sub` is "where[i]". */
typedef vn_err_t (*item_fn)(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *sub,
                            void *elem);

/*
 * A list (null: empty) into a new array *arr of elem_size-byte elements, one
 * per item, each filled by fn. *arr is set before the first item and *n
 * counts the items handed to fn, so the caller frees what was parsed even on
 * error.
 */
static vn_err_t each_item(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                          size_t elem_size, void **arr, size_t *n, item_fn fn)
{
    char sub[300];
    size_t cnt;
    if (vn_cfg__is_null(node))
        return VN_OK;
    vn_err_t err = vn_cfg__seq_check(ld, node, where, &cnt);
    if (err != VN_OK)
        return err;
    *arr = vn_xcalloc(cnt ? cnt : 1, elem_size);
    for (size_t i = 0; i < cnt && err == VN_OK; i++) {
        yaml_node_t *it = vn_cfg__seq_item(doc, node, i);
        subidx(sub, sizeof sub, where, i);
        if (!it || !vn_cfg__visit(ld))
            return ld->failed ? VN_ERR_CONFIG : vn_cfg__errf(ld, "key \"%s\": malformed list", sub);
        (*n)++;
        err = fn(ld, doc, it, sub, (char *)*arr + i * elem_size);
    }
    return err;
}

/* ---------------------------------------------------------------- tag matchers */
static vn_err_t tag_matcher_key(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *k, yaml_node_t *v,
                                const char *sub, void *obj)
{
    (void)doc;
    vn_tag_matcher_t *tm = obj;
    if (strcmp(k, "kind") == 0)
        return node_str(ld, v, sub, &tm->kind);
    if (strcmp(k, "value") == 0)
        return node_str(ld, v, sub, &tm->value);
    if (strcmp(k, "unset") == 0)
        return node_bool(ld, v, sub, &tm->unset);
    return vn_cfg__unknown_key(ld, sub);
}

/* One {kind, value, unset} tag matcher. */
static vn_err_t parse_tag_matcher(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                                  void *elem)
{
    vn_tag_matcher_t *tm = elem;
    vn_err_t err = each_key(ld, doc, node, where, tag_matcher_key, tm);
    if (err == VN_OK)
        err = check_kind(ld, tm->kind, false, where);
    if (err == VN_OK && !tm->value)
        tm->value = vn_xstrdup("");
    if (err == VN_OK)
        err = check_regex(ld, tm->kind, tm->value, where);
    return err;
}

/* A list of tag matchers into *arr / *n (grown in place so the caller can free on error). */
vn_err_t vn_cfg__parse_tag_matchers(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                                    vn_tag_matcher_t **arr, size_t *n)
{
    void *a = NULL;
    vn_err_t err = each_item(ld, doc, node, where, sizeof **arr, &a, n, parse_tag_matcher);
    *arr = a;
    return err;
}

/* ---------------------------------------------------------------- metric_sinks */
static vn_err_t parse_add_tags(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                               vn_sink_config_t *sc)
{
    if (vn_cfg__is_null(node))
        return VN_OK;
    vn_cfg_pair_t *ps = NULL;
    size_t pn = 0;
    vn_err_t err = vn_cfg__map_pairs(ld, doc, node, where, &ps, &pn);
    if (err != VN_OK)
        return err;
    sc->add_tags = vn_xcalloc(pn ? pn : 1, sizeof *sc->add_tags);
    for (size_t i = 0; i < pn; i++) {
        yaml_node_t *v = ps[i].val;
        if (v->type != YAML_SCALAR_NODE)
            return vn_cfg__errf(ld, "key \"%s\": values must be plain strings (line %zu)", where,
                                v->start_mark.line + 1);
        vn_kv_t *kv = &sc->add_tags[sc->n_add_tags++];
        kv->key = vn_xstrdup(ps[i].key);
        kv->value = vn_xstrdup(vn_cfg__scalar_text(v));
    }
    return VN_OK;
}

static vn_err_t sink_key(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *k, yaml_node_t *v, const char *sub,
                         void *obj)
{
    vn_sink_config_t *sc = obj;
    if (strcmp(k, "kind") == 0)
        return node_str(ld, v, sub, &sc->kind);
    if (strcmp(k, "name") == 0)
        return node_str(ld, v, sub, &sc->name);
    if (strcmp(k, "max_name_length") == 0)
        return node_int(ld, v, sub, &sc->max_name_length);
    if (strcmp(k, "max_tag_length") == 0)
        return node_int(ld, v, sub, &sc->max_tag_length);
    if (strcmp(k, "max_tags") == 0)
        return node_int(ld, v, sub, &sc->max_tags);
    if (strcmp(k, "strip_tags") == 0 && !sc->strip_tags)
        return vn_cfg__parse_tag_matchers(ld, doc, v, sub, &sc->strip_tags, &sc->n_strip_tags);
    if (strcmp(k, "add_tags") == 0 && !sc->add_tags)
        return parse_add_tags(ld, doc, v, sub, sc);
    if (strcmp(k, "config") == 0 && !sc->kv) {
        if (vn_cfg__is_null(v))
            return VN_OK;
        if (v->type != YAML_MAPPING_NODE)
            return vn_cfg__errf(ld, "key \"%s\": expected a mapping (line %zu)", sub, v->start_mark.line + 1);
        vn_kvvec_t kv = {0};
        vn_err_t err = vn_cfg__flatten(ld, doc, v, "", 0, &kv);
        sc->kv = kv.v; /* handed over even on error so vn_config_free releases it */
        sc->n_kv = kv.n;
        return err;
    }
    return vn_cfg__unknown_key(ld, sub);
}

static vn_err_t parse_sink(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                           void *elem)
{
    vn_sink_config_t *sc = elem;
    vn_err_t err = each_key(ld, doc, node, where, sink_key, sc);
    if (err != VN_OK)
        return err;
    if (!sc->kind || !*sc->kind)
        return vn_cfg__errf(ld, "key \"%s.kind\": missing (every sink needs a kind)", where);
    if (!sc->name || !*sc->name) {
        free(sc->name);
        sc->name = vn_xstrdup(sc->kind);
    }
    return VN_OK;
}

vn_err_t vn_cfg__parse_sinks(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *section,
                             vn_sink_config_t **arr, size_t *n)
{
    size_t cnt;
    if (vn_cfg__is_null(node))
        return VN_OK;
    vn_err_t err = vn_cfg__seq_check(ld, node, section, &cnt);
    if (err != VN_OK)
        return err;
    if (cnt > VN_CFG_MAX_SINKS)
        return vn_cfg__errf(ld, "key \"%s\": too many sinks (%zu, max %u)", section, cnt, VN_CFG_MAX_SINKS);
    void *a = NULL;
    err = each_item(ld, doc, node, section, sizeof **arr, &a, n, parse_sink);
    *arr = a;
    return err;
}

/* ---------------------------------------------------------------- sources */
/* Flattens a `config:` mapping into *kv / *n (handed over even on error so the caller frees it). */
static vn_err_t parse_kv_block(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *v, const char *sub,
                               vn_kv_t **kv, size_t *n)
{
    if (vn_cfg__is_null(v))
        return VN_OK;
    if (v->type != YAML_MAPPING_NODE)
        return vn_cfg__errf(ld, "key \"%s\": expected a mapping (line %zu)", sub, v->start_mark.line + 1);
    vn_kvvec_t vec = {0};
    vn_err_t err = vn_cfg__flatten(ld, doc, v, "", 0, &vec);
    *kv = vec.v;
    *n = vec.n;
    return err;
}

static vn_err_t source_key(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *k, yaml_node_t *v,
                           const char *sub, void *obj)
{
    vn_source_config_t *sc = obj;
    if (strcmp(k, "kind") == 0)
        return node_str(ld, v, sub, &sc->kind);
    if (strcmp(k, "name") == 0)
        return node_str(ld, v, sub, &sc->name);
    if (strcmp(k, "config") == 0 && !sc->kv)
        return parse_kv_block(ld, doc, v, sub, &sc->kv, &sc->n_kv);
    if (strcmp(k, "tags") == 0) {
        vn_cfg__strlist_free(&sc->tags);
        return vn_cfg__node_strlist(ld, doc, v, sub, &sc->tags);
    }
    return vn_cfg__unknown_key(ld, sub);
}

static vn_err_t parse_source(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                             void *elem)
{
    vn_source_config_t *sc = elem;
    vn_err_t err = each_key(ld, doc, node, where, source_key, sc);
    if (err != VN_OK)
        return err;
    if (!sc->kind || !*sc->kind)
        return vn_cfg__errf(ld, "key \"%s.kind\": missing (every source needs a kind)", where);
    if (!sc->name || !*sc->name) {
        free(sc->name);
        sc->name = vn_xstrdup(sc->kind);
    }
    return VN_OK;
}

vn_err_t vn_cfg__parse_sources(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node,
                               vn_source_config_t **arr, size_t *n)
{
    size_t cnt;
    if (vn_cfg__is_null(node))
        return VN_OK;
    vn_err_t err = vn_cfg__seq_check(ld, node, "sources", &cnt);
    if (err != VN_OK)
        return err;
    if (cnt > VN_CFG_MAX_SINKS)
        return vn_cfg__errf(ld, "key \"sources\": too many sources (%zu, max %u)", cnt, VN_CFG_MAX_SINKS);
    void *a = NULL;
    err = each_item(ld, doc, node, "sources", sizeof **arr, &a, n, parse_source);
    *arr = a;
    return err;
}

/* ---------------------------------------------------------------- metric_sink_routing */
static vn_err_t matcher_name_key(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *k, yaml_node_t *v,
                                 const char *sub, void *obj)
{
    (void)doc;
    vn_metric_matcher_t *m = obj;
    if (strcmp(k, "kind") == 0)
        return node_str(ld, v, sub, &m->name_kind);
    if (strcmp(k, "value") == 0)
        return node_str(ld, v, sub, &m->name_value);
    return vn_cfg__unknown_key(ld, sub);
}

typedef struct {
    vn_metric_matcher_t *m;
    bool have_name;
} matcher_ctx_t;

static vn_err_t matcher_key(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *k, yaml_node_t *v,
                            const char *sub, void *obj)
{
    matcher_ctx_t *c = obj;
    if (strcmp(k, "name") == 0) {
        c->have_name = true;
        vn_err_t err = each_key(ld, doc, v, sub, matcher_name_key, c->m);
        if (err == VN_OK)
            err = check_kind(ld, c->m->name_kind, true, sub);
        if (err == VN_OK)
            err = check_regex(ld, c->m->name_kind, c->m->name_value, sub);
        return err;
    }
    if (strcmp(k, "tags") == 0 && !c->m->tags)
        return vn_cfg__parse_tag_matchers(ld, doc, v, sub, &c->m->tags, &c->m->n_tags);
    return vn_cfg__unknown_key(ld, sub);
}

static vn_err_t parse_matcher(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                              void *elem)
{
    matcher_ctx_t c = {elem, false};
    vn_err_t err = each_key(ld, doc, node, where, matcher_key, &c);
    if (err == VN_OK && !c.have_name) /* Go would crash on the first metric; say it now */
        return vn_cfg__errf(ld, "key \"%s.name\": missing", where);
    if (err == VN_OK && !c.m->name_value)
        c.m->name_value = vn_xstrdup("");
    return err;
}

static vn_err_t route_sinks_key(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *k, yaml_node_t *v,
                                const char *sub, void *obj)
{
    vn_sink_routing_t *r = obj;
    vn_strlist_t *dst = strcmp(k, "matched") == 0 ? &r->matched : strcmp(k, "not_matched") == 0 ? &r->not_matched
                                                                                              : NULL;
    if (!dst)
        return vn_cfg__unknown_key(ld, sub);
    vn_cfg__strlist_free(dst);
    return vn_cfg__node_strlist(ld, doc, v, sub, dst);
}

static vn_err_t route_key(vn_cfg_loader_t *ld, yaml_document_t *doc, const char *k, yaml_node_t *v, const char *sub,
                          void *obj)
{
    vn_sink_routing_t *r = obj;
    if (strcmp(k, "name") == 0)
        return node_str(ld, v, sub, &r->name);
    if (strcmp(k, "match") == 0 && !r->match) {
        void *a = NULL;
        vn_err_t err = each_item(ld, doc, v, sub, sizeof *r->match, &a, &r->n_match, parse_matcher);
        r->match = a;
        return err;
    }
    if (strcmp(k, "sinks") == 0)
        return vn_cfg__is_null(v) ? VN_OK : each_key(ld, doc, v, sub, route_sinks_key, r);
    return vn_cfg__unknown_key(ld, sub);
}

static vn_err_t parse_route(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                            void *elem)
{
    vn_sink_routing_t *r = elem;
    vn_err_t err = each_key(ld, doc, node, where, route_key, r);
    if (err == VN_OK && !r->name)
        r->name = vn_xstrdup("");
    return err;
}

vn_err_t vn_cfg__parse_routing(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node)
{
    vn_config_t *cfg = ld->cfg;
    void *a = NULL;
    vn_err_t err = each_item(ld, doc, node, "metric_sink_routing", sizeof *cfg->metric_sink_routing, &a,
                             &cfg->n_metric_sink_routing, parse_route);
    cfg->metric_sink_routing = a;
    return err;
}
