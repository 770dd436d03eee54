/**
 * config_yaml.c - walking libyaml documents: mapping checks, flattening of free-form
 * sink `config:` blocks, metric_sinks and metric_sink_routing, and the kv/list helpers.
 *
 * Flattening (config.h vn_kv_t):
 *
 *     config: {api_key: k, drops: [a, b], per_tag: [{name: x}]}
 *     ->  api_key=k   drops=a,b (list [a,b])   drops.0=a   drops.1=b   per_tag.0.name=x
 *
 * Every walk is bounded: nesting depth, nodes visited (aliases may point back at
 * their own ancestors, or fan out exponentially), pairs per mapping, items per
 * list and kv entries in total, so arbitrary input cannot loop or blow up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/log.h"
#include "core/regex.h"
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

/* ---------------------------------------------------------------- node helpers */

bool vn_cfg__is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE)
        return false;
    if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

bool vn_cfg__visit(vn_cfg_loader_t *ld)
{
    if (++ld->visits <= VN_CFG_MAX_NODE_VISITS)
        return true;
    vn_cfg__errf(ld, "document too complex (more than %u nodes walked; alias loop?)", VN_CFG_MAX_NODE_VISITS);
    return false;
}

static const char *scalar_text(const yaml_node_t *n) { return vn_cfg__is_null(n) ? "" : (const char *)n->data.scalar.value; }

/* Sequence item i, or NULL. */
static yaml_node_t *item(yaml_document_t *doc, yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(doc, seq->data.sequence.items.start[i]);
}

static bool is_merge_key(const yaml_node_t *k)
{
    if (k->type != YAML_SCALAR_NODE)
        return false;
    if (k->tag && strcmp((const char *)k->tag, "tag:yaml.org,2002:merge") == 0)
        return true;
    return k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp((const char *)k->data.scalar.value, "<<") == 0;
}

static bool has_key(const vn_cfg_pair_t *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return true;
    return false;
}

/* Where a mapping sits, for messages: the root mapping has no key of its own. */
static const char *where_name(const char *where) { return *where ? where : "(top level)"; }

static vn_err_t push_pair(vn_cfg_loader_t *ld, vn_cfg_pair_t **v, size_t *n, size_t *cap, const char *key,
                          yaml_node_t *val, const char *where)
{
    if (*n >= VN_CFG_MAX_PAIRS)
        return vn_cfg__errf(ld, "key \"%s\": too many keys (max %u)", where_name(where), VN_CFG_MAX_PAIRS);
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = vn_xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = (vn_cfg_pair_t){key, val};
    return VN_OK;
}

/* Effective pairs of one mapping into a fresh array: its own keys (scalar, distinct),
 * then keys of merged mappings it does not set; in `<<: [*a, *b]` a wins over b. */
static vn_err_t map_pairs(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                          int depth, vn_cfg_pair_t **out, size_t *outn)
{
    char shown[160];
    vn_cfg_pair_t *v = NULL;
    size_t n = 0, cap = 0;
    vn_err_t err = VN_OK;
    *out = NULL;
    *outn = 0;
    if (node->type != YAML_MAPPING_NODE)
        return vn_cfg__errf(ld, "key \"%s\": expected a mapping (line %zu)", where_name(where), node->start_mark.line + 1);
    if (depth > VN_CFG_MAX_DEPTH)
        return vn_cfg__errf(ld, "key \"%s\": merge keys nested too deeply", where_name(where));
    size_t total = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    for (int pass = 0; pass < 2 && err == VN_OK; pass++) { /* 0: own keys, 1: merges */
        for (size_t i = 0; i < total && err == VN_OK; i++) {
            yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
            yaml_node_t *k = yaml_document_get_node(doc, p->key), *val = yaml_document_get_node(doc, p->value);
            if (!vn_cfg__visit(ld)) {
                err = VN_ERR_CONFIG;
                break;
            }
            if (!k || !val) {
                err = vn_cfg__errf(ld, "key \"%s\": malformed mapping", where_name(where));
                break;
            }
            if (k->type != YAML_SCALAR_NODE) {
                err = vn_cfg__errf(ld, "key \"%s\": mapping keys must be plain values (line %zu)", where_name(where),
                                   k->start_mark.line + 1);
                break;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (pass == 0 && !is_merge_key(k)) {
                if (has_key(v, n, key) && !*where && !*key)
                    err = vn_cfg__errf(ld, "duplicate empty key at the top level (line %zu)", k->start_mark.line + 1);
                else if (has_key(v, n, key))
                    err = vn_cfg__errf(ld, "key \"%s%s%s\": duplicate key (line %zu)", where, *where ? "." : "",
                                       vn_cfg__show(key, false, shown, sizeof shown), k->start_mark.line + 1);
                else
                    err = push_pair(ld, &v, &n, &cap, key, val, where);
            } else if (pass == 1 && is_merge_key(k)) {
                /* YAML merge key: a mapping or a list of mappings (usually aliases) */
                size_t m = val->type == YAML_SEQUENCE_NODE
                               ? (size_t)(val->data.sequence.items.top - val->data.sequence.items.start)
                               : 1;
                for (size_t j = 0; j < m && err == VN_OK; j++) {
                    yaml_node_t *src = val->type == YAML_SEQUENCE_NODE ? item(doc, val, j) : val;
                    if (!src || src->type != YAML_MAPPING_NODE) {
                        err = vn_cfg__errf(ld, "key \"%s\": a merge key (<<) needs a mapping or a list of mappings",
                                           where_name(where));
                        break;
                    }
                    vn_cfg_pair_t *sub;
                    size_t subn;
                    err = map_pairs(ld, doc, src, where, depth + 1, &sub, &subn);
                    for (size_t t = 0; t < subn && err == VN_OK; t++)
                        if (!has_key(v, n, sub[t].key))
                            err = push_pair(ld, &v, &n, &cap, sub[t].key, sub[t].val, where);
                    free(sub);
                }
            }
        }
    }
    if (err != VN_OK) {
        free(v);
        return err;
    }
    *out = v;
    *outn = n;
    return VN_OK;
}

vn_err_t vn_cfg__map_pairs(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                           vn_cfg_pair_t **pairs, size_t *n)
{
    vn_err_t err = map_pairs(ld, doc, node, where, 0, pairs, n);
    if (err != VN_OK)
        return err;
    /* kept until the load ends, so callers may return early */
    ld->arena = vn_xrealloc(ld->arena, (ld->n_arena + 1) * sizeof *ld->arena);
    ld->arena[ld->n_arena++] = *pairs;
    return VN_OK;
}

vn_err_t vn_cfg__unknown_key(vn_cfg_loader_t *ld, const char *key)
{
    char shown[160];
    vn_cfg__show(key, false, shown, sizeof shown);
    if (ld->strict) {
        /* the load goes on so that vn_cfg_loader_verdicts lists every one at the end */
        char item[200];
        snprintf(item, sizeof item, "\"%s\"%s", shown, *key ? "" : " (an empty key)");
        vn_cfg__strict_add(ld, true, item);
    }
    char q[VN_LOG_QUOTE_CAP];
    /* not rate-limited: the operator needs every unknown key, and the file bounds them */
    vn_log_write(VN_LOG_WARN, 0, "event=config_unknown_key key=%s", vn_log_quote_cstr(q, sizeof q, key));
    return VN_OK;
}

static vn_err_t seq_check(vn_cfg_loader_t *ld, yaml_node_t *node, const char *where, size_t *n)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return vn_cfg__errf(ld, "key \"%s\": expected a list (line %zu)", where, node->start_mark.line + 1);
    *n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (*n > VN_CFG_MAX_ITEMS)
        return vn_cfg__errf(ld, "key \"%s\": too many items (%zu, max %u)", where, *n, VN_CFG_MAX_ITEMS);
    return VN_OK;
}

vn_err_t vn_cfg__node_strlist(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                              vn_strlist_t *out)
{
    out->v = NULL;
    out->n = 0;
    if (vn_cfg__is_null(node))
        return VN_OK;
    size_t n;
    vn_err_t err = seq_check(ld, node, where, &n);
    if (err != VN_OK)
        return err;
    out->v = vn_xcalloc(n ? n : 1, sizeof *out->v);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = item(doc, node, i);
        if (!it || it->type != YAML_SCALAR_NODE || !vn_cfg__visit(ld)) {
            vn_cfg__strlist_free(out);
            return ld->failed ? VN_ERR_CONFIG
                              : vn_cfg__errf(ld, "key \"%s[%zu]\": expected a single value", where, i);
        }
        out->v[out->n++] = vn_xstrdup(scalar_text(it));
    }
    return VN_OK;
}

/* ---------------------------------------------------------------- flattening */

vn_err_t vn_cfg__flatten(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *prefix,
                         int depth, vn_kvvec_t *out)
{
    char shown[160], child[VN_CFG_MAX_KEY + 1];
    if (!vn_cfg__visit(ld))
        return VN_ERR_CONFIG;
    if (depth > VN_CFG_MAX_DEPTH)
        return vn_cfg__errf(ld, "key \"%s\": nested too deeply (max %d)",
                            vn_cfg__show(prefix, false, shown, sizeof shown), VN_CFG_MAX_DEPTH);
    vn_err_t err = VN_OK;
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return vn_cfg__kvvec_push(ld, out, prefix, scalar_text(node), NULL, false);
    case YAML_SEQUENCE_NODE: {
        size_t n;
        if ((err = seq_check(ld, node, prefix, &n)) != VN_OK)
            return err;
        bool all_scalar = true;
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *it = item(doc, node, i);
            if (!it)
                return vn_cfg__errf(ld, "key \"%s\": malformed list", vn_cfg__show(prefix, false, shown, sizeof shown));
            all_scalar = all_scalar && it->type == YAML_SCALAR_NODE;
        }
        if (all_scalar) {
            vn_strlist_t l = {vn_xcalloc(n ? n : 1, sizeof(char *)), 0};
            for (size_t i = 0; i < n; i++)
                l.v[l.n++] = vn_xstrdup(scalar_text(item(doc, node, i)));
            char *joined = vn_cfg__join(&l);
            err = vn_cfg__kvvec_push(ld, out, prefix, joined, &l, true);
            free(joined);
            if (err != VN_OK)
                return err;
        }
        for (size_t i = 0; i < n && err == VN_OK; i++) {
            int w = snprintf(child, sizeof child, "%s.%zu", prefix, i);
            if (w < 0 || (size_t)w >= sizeof child)
                return vn_cfg__errf(ld, "key \"%s\": key too long", vn_cfg__show(prefix, false, shown, sizeof shown));
            err = vn_cfg__flatten(ld, doc, item(doc, node, i), child, depth + 1, out);
        }
        return err;
    }
    case YAML_MAPPING_NODE: {
        vn_cfg_pair_t *ps = NULL;
        size_t pn = 0;
        if ((err = vn_cfg__map_pairs(ld, doc, node, vn_cfg__show(prefix, false, shown, sizeof shown), &ps, &pn)))
            return err;
        for (size_t i = 0; i < pn && err == VN_OK; i++) {
            const char *k = ps[i].key;
            yaml_node_t *v = ps[i].val;
            /* no dot only for the keys of a sink's `config:` itself; "" is a valid key below that */
            int w = snprintf(child, sizeof child, "%s%s%s", prefix, (depth > 0 || *prefix) ? "." : "", k);
            if (w < 0 || (size_t)w >= sizeof child)
                return vn_cfg__errf(ld, "key \"%s\": key too long", vn_cfg__show(prefix, false, shown, sizeof shown));
            err = vn_cfg__flatten(ld, doc, v, child, depth + 1, out);
        }
        return err;
    }
    default:
        return vn_cfg__errf(ld, "key \"%s\": unexpected YAML node", vn_cfg__show(prefix, false, shown, sizeof shown));
    }
}

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
    *out = vn_xstrdup(scalar_text(n));
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
    vn_err_t err = seq_check(ld, node, where, &cnt);
    if (err != VN_OK)
        return err;
    *arr = vn_xcalloc(cnt ? cnt : 1, elem_size);
    for (size_t i = 0; i < cnt && err == VN_OK; i++) {
        yaml_node_t *it = item(doc, node, i);
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
        kv->value = vn_xstrdup(scalar_text(v));
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
    vn_err_t err = seq_check(ld, node, section, &cnt);
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
    vn_err_t err = seq_check(ld, node, "sources", &cnt);
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
