/*
 * prom_text_series.c - assembling a parsed Prometheus text document (prom_text.h):
 * families found by name, series found by label set, and each series' points in
 * line order. Every array is capped by the document's limits; going over one is
 * a parse error naming the limit.
 */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/xalloc.h"
#include "parse/prom_text_internal.h"

static bool has_suffix(vn_str_t s, const char *suf, size_t n)
{
    return s.len > n && memcmp(s.p + s.len - n, suf, n) == 0;
}

/* Makes room for one more element of an array capped at max elements. */
bool vn_prom__grow(void **arr, uint32_t *cap, uint32_t used, uint32_t max, size_t elem)
{
    if (used < *cap)
        return true;
    if (used >= max)
        return false;
    uint64_t ncap = *cap ? (uint64_t)*cap * 2 : 64;
    if (ncap > max)
        ncap = max;
    *arr = vn_xrealloc(*arr, (size_t)ncap * elem);
    *cap = (uint32_t)ncap;
    return true;
}

/* ------------------------------------------------------------ family index */

static uint64_t name_hash(vn_str_t s) { return vn_fnv1a64(s.p, s.len); }

static void fam_rehash(vn_prom_doc_t *d, uint32_t slots)
{
    free(d->_fam_index);
    d->_fam_index = vn_xcalloc(slots, sizeof *d->_fam_index);
    d->_fam_mask = slots - 1;
    for (uint32_t i = 0; i < d->nfamilies; i++) {
        uint64_t h = name_hash(d->families[i].name);
        uint32_t j = (uint32_t)h & d->_fam_mask;
        while (d->_fam_index[j])
            j = (j + 1) & d->_fam_mask;
        d->_fam_index[j] = i + 1;
    }
}

static uint32_t fam_lookup(const vn_prom_doc_t *d, vn_str_t name)
{
    if (!d->_fam_index)
        return VN_PROM_NONE;
    uint32_t j = (uint32_t)name_hash(name) & d->_fam_mask;
    for (uint32_t v; (v = d->_fam_index[j]) != 0; j = (j + 1) & d->_fam_mask)
        if (vn_str_eq(d->families[v - 1].name, name))
            return v - 1;
    return VN_PROM_NONE;
}

static vn_err_t fam_create(pstate_t *ps, vn_str_t name, uint32_t *out)
{
    vn_prom_doc_t *d = ps->d;
    if (!vn_prom__grow((void **)&d->families, &d->_cap_families, d->nfamilies, d->_lim.max_families,
                       sizeof *d->families))
        return vn_prom__fail(ps, VN_ERR_TOO_LARGE, "too many metric families (limit %u)", d->_lim.max_families);
    uint32_t idx = d->nfamilies++;
    d->families[idx] = (vn_prom_family_t){
        .name = name, .type = VN_PROM_UNTYPED, .series_head = VN_PROM_NONE, .series_tail = VN_PROM_NONE};
    /* keep the load factor at or below 1/2 */
    if (!d->_fam_index || (uint64_t)d->nfamilies * 2 > (uint64_t)d->_fam_mask + 1) {
        uint32_t slots = d->_fam_index ? (d->_fam_mask + 1) * 2 : 256;
        fam_rehash(d, slots);
    } else {
        uint32_t j = (uint32_t)name_hash(name) & d->_fam_mask;
        while (d->_fam_index[j])
            j = (j + 1) & d->_fam_mask;
        d->_fam_index[j] = idx + 1;
    }
    *out = idx;
    return VN_OK;
}


vn_err_t vn_prom__fam_for_name(pstate_t *ps, vn_str_t name, uint32_t *fam, int *role)
{
    vn_prom_doc_t *d = ps->d;
    *role = ROLE_PLAIN;
    uint32_t f = fam_lookup(d, name);
    if (f != VN_PROM_NONE) {
        *fam = f;
        return VN_OK;
    }
    bool cnt = has_suffix(name, "_count", 6), sum = has_suffix(name, "_sum", 4);
    if (cnt || sum) {
        f = fam_lookup(d, vn_str(name.p, name.len - (cnt ? 6 : 4)));
        if (f != VN_PROM_NONE &&
            (d->families[f].type == VN_PROM_SUMMARY || d->families[f].type == VN_PROM_HISTOGRAM)) {
            *fam = f;
            *role = cnt ? ROLE_COUNT : ROLE_SUM;
            return VN_OK;
        }
    } else if (has_suffix(name, "_bucket", 7)) {
        f = fam_lookup(d, vn_str(name.p, name.len - 7));
        if (f != VN_PROM_NONE && d->families[f].type == VN_PROM_HISTOGRAM) {
            *fam = f;
            return VN_OK;
        }
    }
    return fam_create(ps, name, fam);
}

/* ------------------------------------------------------------ series by label set */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Order-independent: the label set {a,b} hashes like {b,a}. */
uint64_t vn_prom__sig_hash(uint32_t fam, const vn_prom_label_t *l, uint32_t n)
{
    uint64_t acc = mix64(fam + 0x9e3779b97f4a7c15ull);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = vn_fnv1a64(l[i].name.p, l[i].name.len);
        h = mix64(h ^ vn_fnv1a64(l[i].value.p, l[i].value.len) * 31);
        acc += h;
    }
    return mix64(acc);
}

static bool same_set(const vn_prom_doc_t *d, const vn_prom_series_t *s, const vn_prom_label_t *l, uint32_t n)
{
    if (s->nlabels != n)
        return false;
    if (n == 0)
        return true; /* and d->labels may still be NULL */
    const vn_prom_label_t *o = d->labels + s->label_off;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = 0;
        while (k < n && !vn_str_eq(o[k].name, l[i].name))
            k++;
        if (k == n || !vn_str_eq(o[k].value, l[i].value))
            return false;
    }
    return true;
}

static void sig_insert(vn_prom_doc_t *d, uint32_t sidx)
{
    uint32_t j = (uint32_t)d->series[sidx]._sig & d->_sig_mask;
    while (d->_sig_index[j])
        j = (j + 1) & d->_sig_mask;
    d->_sig_index[j] = sidx + 1;
}

static void sig_add(vn_prom_doc_t *d, uint32_t sidx)
{
    d->_sig_used++;
    if (!d->_sig_index || (uint64_t)d->_sig_used * 2 > (uint64_t)d->_sig_mask + 1) {
        uint32_t slots = d->_sig_index ? (d->_sig_mask + 1) * 2 : 256;
        free(d->_sig_index);
        d->_sig_index = vn_xcalloc(slots, sizeof *d->_sig_index);
        d->_sig_mask = slots - 1;
        for (uint32_t i = 0; i < d->nseries; i++) /* only summary/histogram series are indexed */
            if (i != sidx && d->series[i]._sig != 0)
                sig_insert(d, i);
    }
    sig_insert(d, sidx);
}

uint32_t vn_prom__sig_lookup(const vn_prom_doc_t *d, uint32_t fam, uint64_t sig, const vn_prom_label_t *l,
                           uint32_t n)
{
    if (!d->_sig_index)
        return VN_PROM_NONE;
    for (uint32_t j = (uint32_t)sig & d->_sig_mask, v; (v = d->_sig_index[j]) != 0;
         j = (j + 1) & d->_sig_mask) {
        const vn_prom_series_t *s = &d->series[v - 1];
        if (s->_sig == sig && s->family == fam && same_set(d, s, l, n))
            return v - 1;
    }
    return VN_PROM_NONE;
}

/* ------------------------------------------------------------ series and points */

vn_err_t vn_prom__new_series(pstate_t *ps, uint32_t fam, uint32_t label_off, uint32_t nlabels, uint64_t sig,
                           uint32_t *out)
{
    vn_prom_doc_t *d = ps->d;
    if (!vn_prom__grow((void **)&d->series, &d->_cap_series, d->nseries, d->_lim.max_series, sizeof *d->series))
        return vn_prom__fail(ps, VN_ERR_TOO_LARGE, "too many series (limit %u)", d->_lim.max_series);
    uint32_t idx = d->nseries++;
    d->series[idx] = (vn_prom_series_t){.label_off = label_off,
                                        .nlabels = nlabels,
                                        .point_head = VN_PROM_NONE,
                                        .point_tail = VN_PROM_NONE,
                                        .next = VN_PROM_NONE,
                                        .family = fam,
                                        .line = ps->line,
                                        ._sig = sig};
    vn_prom_family_t *f = &d->families[fam];
    if (f->series_tail == VN_PROM_NONE)
        f->series_head = idx;
    else
        d->series[f->series_tail].next = idx;
    f->series_tail = idx;
    f->nseries++;
    if (sig != 0)
        sig_add(d, idx);
    *out = idx;
    return VN_OK;
}

vn_err_t vn_prom__add_point(pstate_t *ps, uint32_t sidx, double bound, double value)
{
    vn_prom_doc_t *d = ps->d;
    if (!vn_prom__grow((void **)&d->points, &d->_cap_points, d->npoints, d->_lim.max_points, sizeof *d->points))
        return vn_prom__fail(ps, VN_ERR_TOO_LARGE, "too many quantiles/buckets (limit %u)", d->_lim.max_points);
    uint32_t idx = d->npoints++;
    d->points[idx] = (vn_prom_point_t){bound, value, VN_PROM_NONE};
    vn_prom_series_t *s = &d->series[sidx];
    if (s->point_tail == VN_PROM_NONE)
        s->point_head = idx;
    else
        d->points[s->point_tail].next = idx;
    s->point_tail = idx;
    s->npoints++;
    return VN_OK;
}

/*
 * Reads `"..."` starting at the opening quote; *val gets the bytes between the
 * quotes. Escapes allowed: \" \\ \n (Go readTokenAsLabelValue).
 *   a="x\"y"
 *     ^^^^^^^ consumed; returns the position after the closing quote
 */
