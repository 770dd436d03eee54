/*
 * fuzz_prom_text.c - libFuzzer target for src/parse/prom_text.h.
 *
 * (The veneur-prometheus translator is covered by the unit tests: including
 * tool sources here would put them in this target's link line through the
 * generated dependency file.)
 *
 * The input is one scrape body, copied into an exact-size allocation so any
 * read past its end traps. Invariants checked on success: every slice lies in
 * the body; names and label names match their grammars; per-family series
 * lists and per-series point lists are finite, consistent with the counts and
 * point back at their family; label values unescape to no more bytes than
 * they hold, and an unescaped value has no backslash. On failure: a line number within the body and a
 * message. Then a tiny-limit doc must fail or agree, and a second parse of
 * the same body into the reused doc must give the same result.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/prom_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vn_prom_doc_t g_doc, g_small;
static int g_ready;

static void check_in(vn_str_t s, const char *lo, size_t n)
{
    if (s.len == 0)
        return;
    if (s.p < lo || s.p + s.len > lo + n)
        abort();
}

static int ident(vn_str_t s, int metric)
{
    if (s.len == 0)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static void check_doc(const vn_prom_doc_t *d, const char *body, size_t len)
{
    uint32_t total_series = 0, total_points = 0;
    static char tmp[1 << 16];
    for (uint32_t f = 0; f < d->nfamilies; f++) {
        const vn_prom_family_t *fam = &d->families[f];
        check_in(fam->name, body, len);
        check_in(fam->help, body, len);
        check_in(fam->type_word, body, len);
        if (!ident(fam->name, 1) || (unsigned)fam->type > VN_PROM_UNKNOWN)
            abort();
        uint32_t n = 0;
        for (uint32_t s = fam->series_head; s != VN_PROM_NONE; s = d->series[s].next) {
            if (s >= d->nseries || ++n > d->nseries)
                abort();
            const vn_prom_series_t *se = &d->series[s];
            if (se->family != f || se->line == 0 || se->line > d->nlines)
                abort();
            if ((uint64_t)se->label_off + se->nlabels > d->nlabels)
                abort();
            for (uint32_t i = 0; i < se->nlabels; i++) {
                const vn_prom_label_t *l = &d->labels[se->label_off + i];
                check_in(l->name, body, len);
                check_in(l->value, body, len);
                if (!ident(l->name, 0))
                    abort();
                if (l->value.len <= sizeof tmp && vn_prom_unescape(l->value, tmp) > l->value.len)
                    abort();
                if (!l->escaped && memchr(l->value.p ? l->value.p : "", '\\', l->value.len))
                    abort();
            }
            uint32_t np = 0;
            for (uint32_t p = se->point_head; p != VN_PROM_NONE; p = d->points[p].next)
                if (p >= d->npoints || ++np > d->npoints)
                    abort();
            if (np != se->npoints)
                abort();
            if (np && fam->type != VN_PROM_SUMMARY && fam->type != VN_PROM_HISTOGRAM)
                abort();
            total_points += np;
        }
        if (n != fam->nseries)
            abort();
        total_series += n;
    }
    if (total_series != d->nseries || total_points != d->npoints)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    if (!g_ready) {
        vn_prom_doc_init(&g_doc, NULL);
        vn_prom_limits_t lim = {.max_series = 3, .max_labels = 2, .max_points = 4, .max_families = 3};
        vn_prom_doc_init(&g_small, &lim);
        g_ready = 1;
    }
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    vn_prom_error_t e;
    vn_err_t rc = vn_prom_parse(&g_doc, body, size, &e);
    if (rc != VN_OK) {
        if ((rc != VN_ERR_PARSE && rc != VN_ERR_TOO_LARGE) || e.line == 0 || e.msg[0] == '\0' ||
            memchr(e.msg, '\0', sizeof e.msg) == NULL || g_doc.nfamilies != 0)
            abort();
        uint32_t nl = 1;
        for (size_t i = 0; i < size; i++)
            nl += body[i] == '\n';
        if (e.line > nl)
            abort();
    } else {
        check_doc(&g_doc, body, size);
        vn_prom_error_t e2;
        vn_err_t rc2 = vn_prom_parse(&g_small, body, size, &e2);
        if (rc2 == VN_OK) {
            check_doc(&g_small, body, size);
            if (g_small.nseries != g_doc.nseries || g_small.nfamilies != g_doc.nfamilies)
                abort();
        } else if (rc2 != VN_ERR_TOO_LARGE) {
            abort(); /* limits can only add VN_ERR_TOO_LARGE */
        }
        uint32_t nf = g_doc.nfamilies, ns = g_doc.nseries, nl = g_doc.nlabels, np = g_doc.npoints;
        if (vn_prom_parse(&g_doc, body, size, NULL) != VN_OK || nf != g_doc.nfamilies ||
            ns != g_doc.nseries || nl != g_doc.nlabels || np != g_doc.npoints)
            abort();
        for (uint32_t f = 0; f < g_doc.nfamilies; f++)
            if (!vn_prom_type_name(g_doc.families[f].type))
                abort();
    }
    free(body);
    return 0;
}
