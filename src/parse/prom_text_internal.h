/**
 * prom_text_internal.h - what the Prometheus text parser's two files share:
 * prom_text.c reads the text (tokens, lines), prom_text_series.c assembles the
 * document (families, series, points). Only those two files include this.
 *
 * Ownership: everything lives in the caller's vn_prom_doc_t; names and label
 * values are vn_str_t views into the caller's body (prom_text.h). Nothing here
 * is thread-safe; one parse runs on one thread.
 */
#ifndef VN_PARSE_PROM_TEXT_INTERNAL_H
#define VN_PARSE_PROM_TEXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse/prom_text.h"

/* One parse: the document being filled, where errors go (may be NULL), the current line (1-based). */
typedef struct pstate {
    vn_prom_doc_t *d;
    vn_prom_error_t *err;
    uint32_t line;
} pstate_t;

/* What a line's name means for its family (Go setOrCreateCurrentMF). */
enum { ROLE_PLAIN = 0, ROLE_COUNT, ROLE_SUM };

/* ---- prom_text.c ---- */

/** Records the error (line and message, Go's wording) in ps->err when set; returns code. */
__attribute__((format(printf, 3, 4))) vn_err_t vn_prom__fail(pstate_t *ps, vn_err_t code, const char *fmt, ...);

/* ---- prom_text_series.c ---- */

/** Room for one more element of *arr (elem bytes each, *cap allocated, used in use), capped at max
 * elements; grows by doubling (vn_xrealloc). false when used already reached max. */
bool vn_prom__grow(void **arr, uint32_t *cap, uint32_t used, uint32_t max, size_t elem);
/** The family a sample line's name belongs to (*role: plain, _count or _sum), created untyped if none. */
vn_err_t vn_prom__fam_for_name(pstate_t *ps, vn_str_t name, uint32_t *fam, int *role);
/** Signature of a label set within family fam, independent of label order. */
uint64_t vn_prom__sig_hash(uint32_t fam, const vn_prom_label_t *l, uint32_t n);
/** The summary/histogram series of fam with exactly labels l[0..n), or VN_PROM_NONE. */
uint32_t vn_prom__sig_lookup(const vn_prom_doc_t *d, uint32_t fam, uint64_t sig, const vn_prom_label_t *l,
                             uint32_t n);
/** Appends a series of fam (labels at label_off..+nlabels in d->labels; sig != 0: indexed by label set). */
vn_err_t vn_prom__new_series(pstate_t *ps, uint32_t fam, uint32_t label_off, uint32_t nlabels, uint64_t sig,
                             uint32_t *out);
/** Appends a point (bound: its quantile or le) to series sidx, after the series' last one. */
vn_err_t vn_prom__add_point(pstate_t *ps, uint32_t sidx, double bound, double value);

#endif
