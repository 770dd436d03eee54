/**
 * config_yaml.c - reading libyaml documents: null scalars, mapping pairs (merge keys,
 * duplicates), lists, unknown keys, and flattening of free-form sink `config:` blocks.
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
#include "core/xalloc.h"

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

const char *vn_cfg__scalar_text(const yaml_node_t *n)
{
    return vn_cfg__is_null(n) ? "" : (const char *)n->data.scalar.value;
}

/* Sequence item i, or NULL. */
yaml_node_t *vn_cfg__seq_item(yaml_document_t *doc, yaml_node_t *seq, size_t i)
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
                    yaml_node_t *src = val->type == YAML_SEQUENCE_NODE ? vn_cfg__seq_item(doc, val, j) : val;
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

vn_err_t vn_cfg__seq_check(vn_cfg_loader_t *ld, yaml_node_t *node, const char *where, size_t *n)
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
    vn_err_t err = vn_cfg__seq_check(ld, node, where, &n);
    if (err != VN_OK)
        return err;
    out->v = vn_xcalloc(n ? n : 1, sizeof *out->v);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = vn_cfg__seq_item(doc, node, i);
        if (!it || it->type != YAML_SCALAR_NODE || !vn_cfg__visit(ld)) {
            vn_cfg__strlist_free(out);
            return ld->failed ? VN_ERR_CONFIG
                              : vn_cfg__errf(ld, "key \"%s[%zu]\": expected a single value", where, i);
        }
        out->v[out->n++] = vn_xstrdup(vn_cfg__scalar_text(it));
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
        return vn_cfg__kvvec_push(ld, out, prefix, vn_cfg__scalar_text(node), NULL, false);
    case YAML_SEQUENCE_NODE: {
        size_t n;
        if ((err = vn_cfg__seq_check(ld, node, prefix, &n)) != VN_OK)
            return err;
        bool all_scalar = true;
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *it = vn_cfg__seq_item(doc, node, i);
            if (!it)
                return vn_cfg__errf(ld, "key \"%s\": malformed list", vn_cfg__show(prefix, false, shown, sizeof shown));
            all_scalar = all_scalar && it->type == YAML_SCALAR_NODE;
        }
        if (all_scalar) {
            vn_strlist_t l = {vn_xcalloc(n ? n : 1, sizeof(char *)), 0};
            for (size_t i = 0; i < n; i++)
                l.v[l.n++] = vn_xstrdup(vn_cfg__scalar_text(vn_cfg__seq_item(doc, node, i)));
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
            err = vn_cfg__flatten(ld, doc, vn_cfg__seq_item(doc, node, i), child, depth + 1, out);
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
