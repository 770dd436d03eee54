/*
 * openmetrics.c - openmetrics source: config and scrape -> samples (see openmetrics.h).
 */
#include "sources/openmetrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"

/* ---------------------------------------------------------------- config */

static const char *const known_keys[] = {"allowlist",      "denylist",       "histogram_bucket_tag",
                                         "scrape_interval", "scrape_target", "scrape_timeout",
                                         "summary_quantile_tag", "max_body_bytes", "max_series"};

static vn_err_t cfg_fail(char *err, size_t errcap, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static vn_err_t cfg_fail(char *err, size_t errcap, const char *name, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errcap, "source \"%s\": %s", name, msg);
    return VN_ERR_CONFIG;
}

static vn_err_t get_size(const vn_source_config_t *sc, const char *key, size_t def, size_t *out, char *err,
                         size_t errcap)
{
    const char *v = vn_source_config_get(sc, key);
    *out = def;
    if (!v || !*v)
        return VN_OK;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n == 0 || n > (1ull << 40) || *v == '-')
        return cfg_fail(err, errcap, sc->name, "%s: expected a positive integer, got \"%s\"", key, v);
    *out = (size_t)n;
    return VN_OK;
}

static vn_err_t get_regex(const vn_source_config_t *sc, const char *key, vn_regex_t **out, char *err,
                          size_t errcap)
{
    const char *v = vn_source_config_get(sc, key);
    if (!v || !*v) /* Go: an empty util.Regexp is no regexp */
        return VN_OK;
    char why[160];
    *out = vn_regex_compile(v, why, sizeof why);
    if (!*out) {
        return cfg_fail(err, errcap, sc->name, "%s: %s", key, why);
    }
    return VN_OK;
}

static char *dup_or(const char *v, const char *def) { return vn_xstrdup(v && *v ? v : def); }

vn_err_t vn_om_cfg_parse(const vn_source_config_t *sc, vn_om_cfg_t *c, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    c->name = vn_xstrdup(sc->name ? sc->name : "openmetrics");
    if (!sc->kind || strcmp(sc->kind, "openmetrics") != 0)
        return cfg_fail(err, errcap, c->name, "kind %s is not openmetrics", sc->kind ? sc->kind : "");
    for (size_t i = 0; i < sc->n_kv; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof known_keys / sizeof known_keys[0] && !known; k++)
            known = strcmp(sc->kv[i].key, known_keys[k]) == 0;
        if (!known)
            VN_LOG(WARN, "event=source_unknown_key source=\"%s\" key=\"%s\" msg=\"ignored\"", c->name,
                   sc->kv[i].key);
    }
    const char *target = vn_source_config_get(sc, "scrape_target");
    if (!target || !*target)
        return cfg_fail(err, errcap, c->name, "scrape_target: missing");
    if (strncmp(target, "http://", 7) != 0 && strncmp(target, "https://", 8) != 0)
        return cfg_fail(err, errcap, c->name, "scrape_target: %s is not an http:// or https:// URL", target);
    c->target = vn_xstrdup(target);
    const char *iv = vn_source_config_get(sc, "scrape_interval");
    if (!iv || vn_config_parse_duration(iv, &c->interval_s) != VN_OK || !(c->interval_s > 0))
        return cfg_fail(err, errcap, c->name, "scrape_interval: expected a duration > 0, got \"%s\"", iv ? iv : "");
    const char *tv = vn_source_config_get(sc, "scrape_timeout");
    c->timeout_s = 0;
    if (tv && *tv && (vn_config_parse_duration(tv, &c->timeout_s) != VN_OK || c->timeout_s < 0))
        return cfg_fail(err, errcap, c->name, "scrape_timeout: expected a duration, got \"%s\"", tv);
    if (c->timeout_s == 0) /* Go: zero means the interval */
        c->timeout_s = c->interval_s;
    else if (c->timeout_s > c->interval_s)
        return cfg_fail(err, errcap, c->name, "scrape timeout cannot be larger than scrape interval");
    vn_err_t rc = get_regex(sc, "allowlist", &c->allow, err, errcap);
    if (rc == VN_OK)
        rc = get_regex(sc, "denylist", &c->deny, err, errcap);
    if (rc == VN_OK)
        rc = get_size(sc, "max_body_bytes", VN_OM_DEFAULT_MAX_BODY, &c->max_body, err, errcap);
    if (rc == VN_OK)
        rc = get_size(sc, "max_series", VN_OM_DEFAULT_MAX_SERIES, &c->max_series, err, errcap);
    if (rc != VN_OK)
        return rc;
    if (c->max_series > UINT32_MAX / 4)
        c->max_series = UINT32_MAX / 4;
    c->bucket_tag = dup_or(vn_source_config_get(sc, "histogram_bucket_tag"), "le");
    c->quantile_tag = dup_or(vn_source_config_get(sc, "summary_quantile_tag"), "quantile");
    /* tags go straight into series keys, which join tags with ',' */
    for (size_t i = 0; i < sc->tags.n; i++)
        if (strpbrk(sc->tags.v[i], ",\n"))
            return cfg_fail(err, errcap, c->name, "tags: \"%s\" holds a ',' or a newline", sc->tags.v[i]);
    if (sc->tags.n > VN_OM_MAX_TAGS / 2)
        return cfg_fail(err, errcap, c->name, "tags: too many (max %u)", VN_OM_MAX_TAGS / 2);
    c->tags = vn_xcalloc(sc->tags.n ? sc->tags.n : 1, sizeof *c->tags);
    for (size_t i = 0; i < sc->tags.n; i++)
        c->tags[c->ntags++] = vn_xstrdup(sc->tags.v[i]);
    return VN_OK;
}

void vn_om_cfg_destroy(vn_om_cfg_t *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->target);
    vn_regex_free(c->allow);
    vn_regex_free(c->deny);
    free(c->bucket_tag);
    free(c->quantile_tag);
    for (size_t i = 0; i < c->ntags; i++)
        free(c->tags[i]);
    free(c->tags);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- mapping */

void vn_om_mapper_init(vn_om_mapper_t *m)
{
    memset(m, 0, sizeof *m);
    vn_prom_delta_init(&m->delta, VN_OM_MAX_DELTA_KEY_BYTES);
    /* one series' tags and names: bounded by the parser (labels per line, line length) */
    vn_buf_init(&m->tagbytes, 16u << 20);
    vn_buf_init(&m->name, 1u << 20);
    vn_buf_init(&m->key, 17u << 20);
}

void vn_om_mapper_destroy(vn_om_mapper_t *m)
{
    if (!m)
        return;
    vn_prom_delta_destroy(&m->delta);
    vn_buf_free(&m->tagbytes);
    vn_buf_free(&m->name);
    vn_buf_free(&m->key);
}

typedef struct series_ctx {
    vn_om_mapper_t *m;
    const vn_om_cfg_t *cfg;
    vn_om_emit_fn emit;
    void *ctx;
    vn_om_counts_t *counts;
    uint32_t ntags; /* base tags of the current series in tagoff/taglen */
} series_ctx_t;

static bool add_tag_bytes(vn_om_mapper_t *m, uint32_t i, const char *a, size_t alen, const char *b, size_t blen)
{
    size_t off = vn_buf_len(&m->tagbytes);
    if (vn_buf_add(&m->tagbytes, a, alen) != VN_OK || vn_buf_add_byte(&m->tagbytes, ':') != VN_OK ||
        vn_buf_add(&m->tagbytes, b, blen) != VN_OK)
        return false;
    m->tagoff[i] = (uint32_t)off;
    m->taglen[i] = (uint32_t)(vn_buf_len(&m->tagbytes) - off);
    return true;
}

/* A label value becomes part of a series key that joins tags with ',' and of
 * line-based sink output: ',' and NUL become '_', newlines go. */
static size_t sanitize(char *p, size_t n, bool *changed)
{
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        char ch = p[r];
        if (ch == '\n') {
            *changed = true;
            continue;
        }
        if (ch == ',' || ch == '\0') {
            *changed = true;
            ch = '_';
        }
        p[w++] = ch;
    }
    return w;
}

/* Labels then the entry's tags into tagbytes; false when there are too many to carry. */
static bool series_tags(series_ctx_t *c, const vn_prom_doc_t *doc, const vn_prom_series_t *s)
{
    vn_om_mapper_t *m = c->m;
    vn_buf_reset(&m->tagbytes);
    c->ntags = 0;
    if ((size_t)s->nlabels + c->cfg->ntags + 1 > VN_OM_MAX_TAGS)
        return false;
    for (uint32_t i = 0; i < s->nlabels; i++) {
        const vn_prom_label_t *l = &doc->labels[s->label_off + i];
        size_t off = vn_buf_len(&m->tagbytes);
        char *dst;
        if (vn_buf_add(&m->tagbytes, l->name.p, l->name.len) != VN_OK || vn_buf_add_byte(&m->tagbytes, ':') != VN_OK ||
            vn_buf_reserve(&m->tagbytes, l->value.len, &dst) != VN_OK)
            return false;
        size_t n = l->escaped ? vn_prom_unescape(l->value, dst) : (memcpy(dst, l->value.p, l->value.len), l->value.len);
        bool changed = false;
        vn_buf_commit(&m->tagbytes, sanitize(dst, n, &changed));
        if (changed)
            c->counts->sanitized++;
        m->tagoff[c->ntags] = (uint32_t)off;
        m->taglen[c->ntags] = (uint32_t)(vn_buf_len(&m->tagbytes) - off);
        c->ntags++;
    }
    for (size_t i = 0; i < c->cfg->ntags; i++) {
        const char *t = c->cfg->tags[i];
        size_t off = vn_buf_len(&m->tagbytes);
        if (vn_buf_add_str(&m->tagbytes, t) != VN_OK)
            return false;
        m->tagoff[c->ntags] = (uint32_t)off;
        m->taglen[c->ntags] = (uint32_t)strlen(t);
        c->ntags++;
    }
    return true;
}

static int str_cmp(const void *a, const void *b) { return vn_str_cmp(*(const vn_str_t *)a, *(const vn_str_t *)b); }

/*
 * One sample of the current series: name = family + suffix, the series' tags
 * plus extra ("le:0.500000", or NULL), sorted. Counters go through the delta
 * baseline first (value is the cumulative count) and are sent only when they moved.
 */
static void sample(series_ctx_t *c, vn_str_t family, const char *suffix, vn_mtype_t type, double gauge,
                   int64_t cumulative, const char *extra_name, double extra_bound)
{
    vn_om_mapper_t *m = c->m;
    size_t base_len = vn_buf_len(&m->tagbytes);
    uint32_t nt = c->ntags;
    if (extra_name) {
        char b[VN_PROM_BOUND_MAX];
        size_t bl = vn_prom_format_bound(extra_bound, b, sizeof b);
        if (!add_tag_bytes(m, nt, extra_name, strlen(extra_name), b, bl)) {
            c->counts->invalid++;
            vn_buf_truncate(&m->tagbytes, base_len);
            return;
        }
        nt++;
    }
    const char *tb = vn_buf_ptr(&m->tagbytes);
    for (uint32_t i = 0; i < nt; i++)
        m->tags[i] = (vn_str_t){tb + m->tagoff[i], m->taglen[i]};
    qsort(m->tags, nt, sizeof m->tags[0], str_cmp);
    vn_buf_reset(&m->name);
    if (vn_buf_add(&m->name, family.p, family.len) != VN_OK || (suffix && vn_buf_add_str(&m->name, suffix) != VN_OK)) {
        c->counts->invalid++;
        vn_buf_truncate(&m->tagbytes, base_len);
        return;
    }
    vn_str_t name = {vn_buf_ptr(&m->name), vn_buf_len(&m->name)};
    double value = gauge;
    bool send = true;
    if (type == VN_MT_COUNTER) {
        /* key: name, then each sorted tag behind a 0xff byte (never in valid UTF-8, so no collisions) */
        vn_buf_reset(&m->key);
        bool ok = vn_buf_add(&m->key, name.p, name.len) == VN_OK;
        for (uint32_t i = 0; ok && i < nt; i++)
            ok = vn_buf_add_byte(&m->key, 0xff) == VN_OK && vn_buf_add(&m->key, m->tags[i].p, m->tags[i].len) == VN_OK;
        if (!ok) {
            c->counts->invalid++;
            vn_buf_truncate(&m->tagbytes, base_len);
            return;
        }
        int64_t d = vn_prom_delta_diff(&m->delta, vn_buf_ptr(&m->key), vn_buf_len(&m->key), cumulative);
        value = (double)d;
        send = d != 0;
    } else if (!isfinite(gauge)) {
        c->counts->invalid++;
        send = false;
    }
    if (send) {
        c->emit(c->ctx, name, type, value, m->tags, nt);
        c->counts->samples++;
    }
    vn_buf_truncate(&m->tagbytes, base_len);
}

static void map_series(series_ctx_t *c, const vn_prom_doc_t *doc, const vn_prom_family_t *f, const vn_prom_series_t *s)
{
    if (!series_tags(c, doc, s)) {
        c->counts->invalid++;
        return;
    }
    switch (f->type) {
    case VN_PROM_COUNTER:
        sample(c, f->name, NULL, VN_MT_COUNTER, 0, vn_prom_counter_int(s->value), NULL, 0);
        return;
    case VN_PROM_GAUGE:
    case VN_PROM_UNTYPED:
        sample(c, f->name, NULL, VN_MT_GAUGE, s->value, 0, NULL, 0);
        return;
    case VN_PROM_SUMMARY:
    case VN_PROM_HISTOGRAM: {
        bool summary = f->type == VN_PROM_SUMMARY;
        for (uint32_t p = s->point_head; p != VN_PROM_NONE; p = doc->points[p].next) {
            const vn_prom_point_t *pt = &doc->points[p];
            if (summary)
                sample(c, f->name, NULL, VN_MT_GAUGE, pt->value, 0, c->cfg->quantile_tag, pt->bound);
            else if (!isnan(pt->bound))
                sample(c, f->name, ".bucket", VN_MT_COUNTER, 0, vn_prom_counter_int(pt->value), c->cfg->bucket_tag,
                       pt->bound);
        }
        sample(c, f->name, ".count", VN_MT_COUNTER, 0, vn_prom_counter_int(s->count), NULL, 0);
        sample(c, f->name, ".sum", VN_MT_COUNTER, 0, vn_prom_counter_int(s->sum), NULL, 0);
        return;
    }
    case VN_PROM_UNKNOWN:
        return;
    }
}

void vn_om_map(vn_om_mapper_t *m, const vn_om_cfg_t *cfg, const vn_prom_doc_t *doc, vn_om_emit_fn emit, void *ctx,
               vn_om_counts_t *counts)
{
    series_ctx_t c = {.m = m, .cfg = cfg, .emit = emit, .ctx = ctx, .counts = counts};
    for (uint32_t fi = 0; fi < doc->nfamilies; fi++) {
        const vn_prom_family_t *f = &doc->families[fi];
        if (f->nseries == 0)
            continue; /* HELP/TYPE only: Go's decoder drops empty families */
        if (cfg->allow ? !vn_regex_match(cfg->allow, f->name.p, f->name.len)
                       : cfg->deny && vn_regex_match(cfg->deny, f->name.p, f->name.len)) {
            counts->filtered_families++;
            continue;
        }
        if (f->type == VN_PROM_UNKNOWN) {
            counts->unknown_families++;
            continue;
        }
        for (uint32_t si = f->series_head; si != VN_PROM_NONE; si = doc->series[si].next)
            map_series(&c, doc, f, &doc->series[si]);
    }
    vn_prom_delta_done(&m->delta);
}
