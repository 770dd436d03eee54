/*
 * routing.c - metric sink routing and per-sink limits (routing.h).
 *
 * A sink's route keeps only the rules that name it: a metric reaches the sink
 * when some rule lists it under matched and matches, or lists it under
 * not_matched and does not. The union over every rule is what Go computes
 * first for all sinks; asking it per sink gives the same set and lets each
 * runner skip the rules of other sinks.
 *
 * Apply is copy-on-first-change: while every metric passes unchanged the
 * caller keeps using the chunk's own array; at the first dropped or changed
 * metric the prefix so far is copied (shallow: strings stay in the chunk) and
 * the rest is appended to the scratch array.
 */
#include "flush/routing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/regex.h"
#include "core/xalloc.h"

typedef enum { MK_ANY, MK_EXACT, MK_PREFIX, MK_REGEX } mkind_t;

typedef struct tmatch {
    mkind_t kind;
    char *value;
    size_t vlen;
    vn_regex_t *re;
    bool unset;
} tmatch_t;

typedef struct mmatch {
    tmatch_t name; /* unset unused */
    tmatch_t *tags;
    size_t ntags;
} mmatch_t;

typedef struct rule {
    mmatch_t *m;
    size_t nm;
    bool to_matched, to_not_matched;
} rule_t;

typedef struct add_tag {
    char *key; /* Go checks strings.HasPrefix(tag, key): no ':' appended */
    size_t klen;
    char *tag; /* "key:value" */
    size_t tlen;
} add_tag_t;

struct vn_sink_route {
    rule_t *rules;
    size_t nrules;
    bool always; /* a rule lists the sink under both: every metric goes */
    size_t max_name_length, max_tag_length, max_tags; /* 0: no limit */
    tmatch_t *strip;
    size_t nstrip;
    add_tag_t *add;
    size_t nadd;
};

/* ------------------------------------------------------------ build */

static vn_err_t tm_init(tmatch_t *t, const char *kind, const char *value, bool unset, char *err, size_t errcap)
{
    const char *k = kind ? kind : "";
    t->value = vn_xstrdup(value ? value : "");
    t->vlen = strlen(t->value);
    t->unset = unset;
    if (strcmp(k, "any") == 0)
        t->kind = MK_ANY;
    else if (strcmp(k, "exact") == 0)
        t->kind = MK_EXACT;
    else if (strcmp(k, "prefix") == 0)
        t->kind = MK_PREFIX;
    else if (strcmp(k, "regex") == 0) {
        char why[160];
        t->kind = MK_REGEX;
        t->re = vn_regex_compile(t->value, why, sizeof why);
        if (!t->re) {
            snprintf(err, errcap, "regex \"%.80s\": %s", t->value, why);
            return VN_ERR_CONFIG;
        }
    } else {
        snprintf(err, errcap, "unknown matcher kind \"%.40s\"", k);
        return VN_ERR_CONFIG;
    }
    return VN_OK;
}

static void tm_free(tmatch_t *t)
{
    free(t->value);
    vn_regex_free(t->re);
}

static bool in_list(const vn_strlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] && strcmp(l->v[i], name) == 0)
            return true;
    return false;
}

static vn_err_t add_rule(vn_sink_route_t *r, const vn_sink_routing_t *cr, bool m, bool nm, char *err, size_t errcap)
{
    rule_t *ru = &r->rules[r->nrules++];
    ru->to_matched = m;
    ru->to_not_matched = nm;
    ru->m = vn_xcalloc(cr->n_match ? cr->n_match : 1, sizeof *ru->m);
    for (size_t i = 0; i < cr->n_match; i++) {
        const vn_metric_matcher_t *cm = &cr->match[i];
        mmatch_t *mm = &ru->m[ru->nm++];
        vn_err_t e = tm_init(&mm->name, cm->name_kind, cm->name_value, false, err, errcap);
        if (e != VN_OK)
            return e;
        mm->tags = vn_xcalloc(cm->n_tags ? cm->n_tags : 1, sizeof *mm->tags);
        for (size_t j = 0; j < cm->n_tags; j++) {
            const vn_tag_matcher_t *ct = &cm->tags[j];
            mm->ntags++;
            if (strcmp(ct->kind ? ct->kind : "", "any") == 0) { /* tags have no "any" in Go */
                snprintf(err, errcap, "unknown matcher kind \"any\"");
                return VN_ERR_CONFIG;
            }
            e = tm_init(&mm->tags[j], ct->kind, ct->value, ct->unset, err, errcap);
            if (e != VN_OK)
                return e;
        }
    }
    return VN_OK;
}

static size_t limit(int v)
{
    return v > 0 ? (size_t)v : 0;
}

vn_err_t vn_sink_route_new(const vn_config_t *cfg, const char *sink_name, vn_sink_route_t **out, char *err,
                           size_t errcap)
{
    char dummy[8];
    if (!err || !errcap) {
        err = dummy;
        errcap = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    if (!cfg || !cfg->features_enable_metric_sink_routing)
        return VN_OK;
    vn_sink_route_t *r = vn_xcalloc(1, sizeof *r);
    r->rules = vn_xcalloc(cfg->n_metric_sink_routing ? cfg->n_metric_sink_routing : 1, sizeof *r->rules);
    vn_err_t e = VN_OK;
    for (size_t i = 0; i < cfg->n_metric_sink_routing && e == VN_OK; i++) {
        const vn_sink_routing_t *cr = &cfg->metric_sink_routing[i];
        bool m = in_list(&cr->matched, sink_name), nm = in_list(&cr->not_matched, sink_name);
        if (m && nm)
            r->always = true; /* no need to evaluate anything for this sink */
        else if (m || nm)
            e = add_rule(r, cr, m, nm, err, errcap);
    }
    const vn_sink_config_t *sc = NULL;
    for (size_t i = 0; i < cfg->n_metric_sinks; i++)
        if (cfg->metric_sinks[i].name && strcmp(cfg->metric_sinks[i].name, sink_name) == 0)
            sc = &cfg->metric_sinks[i];
    if (sc && e == VN_OK) {
        r->max_name_length = limit(sc->max_name_length);
        r->max_tag_length = limit(sc->max_tag_length);
        r->max_tags = limit(sc->max_tags);
        r->strip = vn_xcalloc(sc->n_strip_tags ? sc->n_strip_tags : 1, sizeof *r->strip);
        for (size_t i = 0; i < sc->n_strip_tags && e == VN_OK; i++) {
            r->nstrip++;
            e = tm_init(&r->strip[i], sc->strip_tags[i].kind, sc->strip_tags[i].value, false, err, errcap);
        }
        r->add = vn_xcalloc(sc->n_add_tags ? sc->n_add_tags : 1, sizeof *r->add);
        for (size_t i = 0; i < sc->n_add_tags; i++) {
            add_tag_t *a = &r->add[r->nadd++];
            const char *k = sc->add_tags[i].key ? sc->add_tags[i].key : "";
            const char *v = sc->add_tags[i].value ? sc->add_tags[i].value : "";
            a->key = vn_xstrdup(k);
            a->klen = strlen(k);
            a->tlen = a->klen + 1 + strlen(v);
            a->tag = vn_xmalloc(a->tlen + 1);
            snprintf(a->tag, a->tlen + 1, "%s:%s", k, v);
        }
    }
    if (e != VN_OK) {
        vn_sink_route_free(r);
        return e;
    }
    *out = r;
    return VN_OK;
}

void vn_sink_route_free(vn_sink_route_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrules; i++) {
        rule_t *ru = &r->rules[i];
        for (size_t j = 0; j < ru->nm; j++) {
            tm_free(&ru->m[j].name);
            for (size_t k = 0; k < ru->m[j].ntags; k++)
                tm_free(&ru->m[j].tags[k]);
            free(ru->m[j].tags);
        }
        free(ru->m);
    }
    free(r->rules);
    for (size_t i = 0; i < r->nstrip; i++)
        tm_free(&r->strip[i]);
    free(r->strip);
    for (size_t i = 0; i < r->nadd; i++) {
        free(r->add[i].key);
        free(r->add[i].tag);
    }
    free(r->add);
    free(r);
}

/* ------------------------------------------------------------ match */

static bool tm_match(const tmatch_t *t, const char *s)
{
    switch (t->kind) {
    case MK_ANY:
        return true;
    case MK_EXACT:
        return strcmp(s, t->value) == 0;
    case MK_PREFIX:
        return strncmp(s, t->value, t->vlen) == 0;
    case MK_REGEX:
        return vn_regex_match(t->re, s, strlen(s));
    }
    return false;
}

/* Go's matcher.Match: OR over matchers; within one, the name AND every tag matcher. */
static bool rule_matches(const rule_t *ru, const char *name, const char *const *tags, size_t ntags)
{
    for (size_t i = 0; i < ru->nm; i++) {
        const mmatch_t *mm = &ru->m[i];
        if (!tm_match(&mm->name, name))
            continue;
        bool ok = true;
        for (size_t j = 0; ok && j < mm->ntags; j++) {
            const tmatch_t *t = &mm->tags[j];
            bool any = false;
            for (size_t k = 0; !any && k < ntags; k++)
                any = tm_match(t, tags[k]);
            ok = t->unset ? !any : any;
        }
        if (ok)
            return true;
    }
    return false;
}

bool vn_sink_route_wants(const vn_sink_route_t *r, const char *name, const char *const *tags, size_t ntags)
{
    if (r->always)
        return true;
    for (size_t i = 0; i < r->nrules; i++) {
        const rule_t *ru = &r->rules[i];
        bool m = rule_matches(ru, name, tags, ntags);
        if ((m && ru->to_matched) || (!m && ru->to_not_matched))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ apply */

static void scratch_reserve(vn_route_scratch_t *sc, size_t metrics, size_t tags)
{
    if (sc->mcap < metrics) {
        free(sc->m);
        sc->m = vn_xcalloc(metrics, sizeof *sc->m);
        sc->mcap = metrics;
    }
    if (sc->tcap < tags) {
        free(sc->tags);
        sc->tags = vn_xcalloc(tags ? tags : 1, sizeof *sc->tags);
        sc->tcap = tags;
    }
}

void vn_route_scratch_free(vn_route_scratch_t *sc)
{
    free(sc->m);
    free(sc->tags);
    memset(sc, 0, sizeof *sc);
}

typedef enum { KEEP, CHANGED, DROP_NAME, DROP_TAGLEN, DROP_ADDLEN, DROP_TAGS } verdict_t;

static bool stripped(const vn_sink_route_t *r, const char *tag)
{
    for (size_t i = 0; i < r->nstrip; i++)
        if (tm_match(&r->strip[i], tag))
            return true;
    return false;
}

/*
 * Go's per-sink loop for one routed metric. Writes the kept tags to tbuf
 * (room for ntags + nadd) and their count to *nt. KEEP means the tags are the
 * metric's own, unchanged (tbuf unused).
 */
static verdict_t limit_one(const vn_sink_route_t *r, const vn_inter_metric_t *m, const char **tbuf, size_t *nt)
{
    if (r->max_name_length && strlen(m->name) > r->max_name_length)
        return DROP_NAME;
    size_t n = 0;
    bool changed = false;
    if (r->nstrip == 0 && r->max_tag_length == 0) {
        for (size_t i = 0; i < m->ntags; i++)
            tbuf[n++] = m->tags[i];
    } else {
        for (size_t i = 0; i < m->ntags; i++) {
            const char *t = m->tags[i];
            if (stripped(r, t)) {
                changed = true;
                continue;
            }
            if (r->max_tag_length && strlen(t) > r->max_tag_length)
                return DROP_TAGLEN;
            tbuf[n++] = t;
        }
    }
    for (size_t a = 0; a < r->nadd; a++) {
        const add_tag_t *at = &r->add[a];
        if (r->max_tag_length && at->tlen > r->max_tag_length)
            return DROP_ADDLEN;
        bool have = false;
        for (size_t i = 0; !have && i < n; i++)
            have = strncmp(tbuf[i], at->key, at->klen) == 0;
        if (!have) {
            tbuf[n++] = at->tag;
            changed = true;
        }
    }
    if (r->max_tags && n > r->max_tags)
        return DROP_TAGS;
    *nt = n;
    return changed ? CHANGED : KEEP;
}

size_t vn_sink_route_apply(const vn_sink_route_t *r, const vn_inter_metric_t *in, size_t n, vn_route_scratch_t *sc,
                           const vn_inter_metric_t **out, vn_route_counts_t *counts)
{
    bool copying = false; /* outputs live in sc->m from the first change on */
    size_t nout = 0, tused = 0;
    const char *small[64];
    const char **tbuf = small;
    size_t tbuf_cap = sizeof small / sizeof small[0];
    for (size_t i = 0; i < n; i++) {
        const vn_inter_metric_t *m = &in[i];
        verdict_t v;
        size_t nt = 0;
        if (!vn_sink_route_wants(r, m->name, m->tags, m->ntags)) {
            counts->skipped++;
            v = DROP_NAME; /* any drop: handled below without counting it as a limit */
        } else {
            size_t need = m->ntags + r->nadd;
            if (copying) {
                tbuf = sc->tags + tused; /* reserved for the worst case at the first change */
            } else if (need > tbuf_cap) {
                scratch_reserve(sc, 0, need);
                tbuf = sc->tags;
                tbuf_cap = need;
            }
            v = limit_one(r, m, tbuf, &nt);
            switch (v) {
            case DROP_NAME:
                counts->max_name_length++;
                counts->dropped_max_name_length++;
                break;
            case DROP_TAGLEN:
                counts->max_tag_length++;
                counts->dropped_max_tag_length++;
                break;
            case DROP_ADDLEN:
                counts->max_tag_length++;
                break;
            case DROP_TAGS:
                counts->max_tags++;
                counts->dropped_max_tags++;
                break;
            default:
                counts->flushed++;
            }
        }
        bool passes = v == KEEP || v == CHANGED;
        if (!copying && passes && v == KEEP && !m->sink_only) {
            nout++; /* still identical to in[0..i] */
            continue;
        }
        if (!copying) {
            /* First difference: worst-case room for the rest, then the
             * unchanged prefix. Tags of this metric may sit in `small` or at
             * sc->tags' start; move them after reserving. */
            size_t tags_total = 0;
            for (size_t k = i; k < n; k++)
                tags_total += in[k].ntags + r->nadd;
            const char *keep[64];
            const char **saved = NULL;
            if (v == CHANGED) {
                saved = nt <= 64 ? keep : vn_xcalloc(nt, sizeof *saved);
                memcpy(saved, tbuf, nt * sizeof *saved);
            }
            scratch_reserve(sc, n, tags_total);
            memcpy(sc->m, in, nout * sizeof *sc->m);
            copying = true;
            tused = 0;
            if (v == CHANGED) {
                memcpy(sc->tags, saved, nt * sizeof *saved);
                if (saved != keep)
                    free(saved);
            }
            tbuf = sc->tags;
        }
        if (!passes)
            continue;
        vn_inter_metric_t *o = &sc->m[nout++];
        *o = *m;
        o->sink_only = NULL;
        if (v == CHANGED) {
            o->tags = sc->tags + tused;
            o->ntags = nt;
            tused += nt;
        }
    }
    *out = copying ? sc->m : in;
    return nout;
}
