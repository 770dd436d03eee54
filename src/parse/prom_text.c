/*
 * prom_text.c - Prometheus text format 0.0.4 -> metric families (prom_text.h).
 *
 * One pass over the body, line by line (a label value cannot hold a raw
 * newline, so a line never continues). Each line is one of:
 *
 *     <blanks>                                       empty: skipped
 *     # HELP rpc_seconds Latency.\nIn seconds.       HELP: text kept escaped
 *     # TYPE rpc_seconds summary                     TYPE: fixes the family type
 *     # anything else                                comment: ignored
 *     rpc_seconds{quantile="0.5",svc="a\"b"} 0.05 1395066363000
 *     ^^^^^^^^^^^ ^^^^^^^^^^^^^^^^^^^^^^^^^^^ ^^^^ ^^^^^^^^^^^^^
 *     name        labels (optional)           value timestamp (optional)
 *
 * The sample-line rules are Go expfmt.TextParser's, state for state:
 *  - a name first looked up as a family; failing that, `x_sum`/`x_count` go to
 *    summary x and `x_sum`/`x_count`/`x_bucket` to histogram x when x already
 *    has that type; otherwise the name starts a new (untyped) family;
 *  - `quantile` (summary) and `le` (histogram) are not labels: they select the
 *    point, and the other labels select the series, which may have been
 *    created by any earlier line of the family;
 *  - a TYPE line after a family's first sample, a second TYPE or a second
 *    HELP for a family, a duplicate label name and `__name__` are errors.
 * Error messages reuse Go's wording so logs read the same for both tools.
 *
 * This file reads the text (tokens, lines, the family/sample rules above);
 * prom_text_series.c holds the document being assembled (family index,
 * series by label set, points).
 *
 * Invariants: labels of one series are contiguous in doc->labels (a line's
 * labels are appended, then dropped again when the line joins an existing
 * summary/histogram series); points of a series are a linked list because
 * lines of different series may interleave; every array index fits uint32_t
 * because every array is capped below UINT32_MAX.
 */
#include "parse/prom_text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/gonum.h"
#include "core/xalloc.h"
#include "parse/prom_text_internal.h"

/* ------------------------------------------------------------ small helpers */

static inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

static inline bool label_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static inline bool label_cont(unsigned char c) { return label_start(c) || (c >= '0' && c <= '9'); }
static inline bool metric_start(unsigned char c) { return label_start(c) || c == ':'; }
static inline bool metric_cont(unsigned char c) { return label_cont(c) || c == ':'; }

static const char *skip_blanks(const char *p, const char *eol)
{
    while (p < eol && is_blank(*p))
        p++;
    return p;
}

/* Go's readTokenUntilWhitespace: up to a blank or the end of the line. */
static const char *token_end(const char *p, const char *eol)
{
    while (p < eol && !is_blank(*p))
        p++;
    return p;
}


/* utf8.ValidString: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return false;
        if (n - i <= need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += need + 1;
    }
    return true;
}

/* Go's expfmt parseFloat: no 'p', 'P' or '_' (so no hex floats), then
 * strconv.ParseFloat; NaN/Inf spellings are accepted, overflow is an error. */
static bool parse_value(const char *p, size_t n, double *out)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] == 'p' || p[i] == 'P' || p[i] == '_')
            return false;
    return vn_gonum_parse_float(p, n, 0, out) == VN_GONUM_OK;
}

/* A Go-%q-like rendering of bytes for messages, cut at 48 bytes. */
static void quote(char *out, size_t cap, const char *p, size_t n)
{
    size_t k = 0;
    if (cap < 16)
        return;
    out[k++] = '"';
    for (size_t i = 0; i < n && k + 8 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (i == 48) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    out[k] = '\0';
}

/* Go's %q of one byte: 'x', '\n', '\t', '"', '\x00'. */
static void quote_char(char *out, size_t cap, int c)
{
    if (c < 0)
        snprintf(out, cap, "end of line");
    else if (c == '\n')
        snprintf(out, cap, "'\\n'");
    else if (c == '\'' || c == '\\')
        snprintf(out, cap, "'\\%c'", c);
    else if (c < 0x20 || c >= 0x7f)
        snprintf(out, cap, "'\\x%02x'", c);
    else
        snprintf(out, cap, "'%c'", c);
}

static const char *const k_type_names[] = {
    [VN_PROM_UNTYPED] = "untyped", [VN_PROM_COUNTER] = "counter",     [VN_PROM_GAUGE] = "gauge",
    [VN_PROM_SUMMARY] = "summary", [VN_PROM_HISTOGRAM] = "histogram", [VN_PROM_UNKNOWN] = "unknown",
};

/* End of the metric name starting at p ([a-zA-Z_:][a-zA-Z0-9_:]*); p if none. */
static const char *name_end(const char *p, const char *eol)
{
    if (p < eol && metric_start((unsigned char)*p))
        while (++p < eol && metric_cont((unsigned char)*p)) {
        }
    return p;
}

/* ------------------------------------------------------------ parse state */


vn_err_t vn_prom__fail(pstate_t *ps, vn_err_t code, const char *fmt, ...)
{
    if (ps->err) {
        ps->err->line = ps->line;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The error for an escape Go rejects at backslash bs: Go reads the byte after
 * it, which is the newline when bs ends the line. */
static vn_err_t bad_escape(pstate_t *ps, const char *bs, const char *eol)
{
    char q[16];
    quote_char(q, sizeof q, bs + 1 < eol ? (unsigned char)bs[1] : '\n');
    return vn_prom__fail(ps, VN_ERR_PARSE, "invalid escape sequence '\\%.*s'", (int)strlen(q) - 2, q + 1);
}


static vn_err_t read_label_value(pstate_t *ps, const char *p, const char *eol, vn_str_t *val, bool *escaped,
                                 const char **after)
{
    const char *start = ++p;
    *escaped = false;
    while (p < eol) {
        char c = *p;
        if (c == '"') {
            *val = vn_str(start, (size_t)(p - start));
            *after = p + 1;
            return VN_OK;
        }
        if (c == '\\') {
            if (p + 1 >= eol || (p[1] != '"' && p[1] != '\\' && p[1] != 'n'))
                return bad_escape(ps, p, eol);
            *escaped = true;
            p += 2;
            continue;
        }
        p++;
    }
    char q[128];
    quote(q, sizeof q, start, (size_t)(eol - start));
    return vn_prom__fail(ps, VN_ERR_PARSE, "label value %s contains unescaped new-line", q);
}

/* `# HELP name text` / `# TYPE name type` (p is just after '#'). */
static vn_err_t comment_line(pstate_t *ps, const char *p, const char *eol)
{
    vn_prom_doc_t *d = ps->d;
    p = skip_blanks(p, eol);
    const char *kw = p;
    p = token_end(p, eol);
    if (p == eol)
        return VN_OK; /* "# word" alone, or "#": nothing to do */
    size_t kwlen = (size_t)(p - kw);
    bool help = kwlen == 4 && memcmp(kw, "HELP", 4) == 0;
    bool type = kwlen == 4 && memcmp(kw, "TYPE", 4) == 0;
    if (!help && !type)
        return VN_OK; /* an ordinary comment */
    /* # TYPE rpc_seconds summary
     *        ^^^^^^^^^^^          */
    p = skip_blanks(p, eol);
    const char *name = p;
    p = name_end(p, eol);
    if (p == eol)
        return VN_OK; /* a name and nothing else is not an error in Go */
    if (!is_blank(*p))
        return vn_prom__fail(ps, VN_ERR_PARSE, "invalid metric name in comment");
    uint32_t fam;
    int role;
    vn_err_t rc = vn_prom__fam_for_name(ps, vn_str(name, (size_t)(p - name)), &fam, &role);
    if (rc != VN_OK)
        return rc;
    p = skip_blanks(p, eol);
    if (p == eol)
        return VN_OK;
    vn_prom_family_t *f = &d->families[fam];
    char q[128];
    if (help) {
        /* # HELP x Line one.\nLine two \\ done
         *          ^^^^^^^^^^^^^^^^^^^^^^^^^^^ only \\ and \n are escapes */
        if (f->has_help) {
            quote(q, sizeof q, f->name.p, f->name.len);
            return vn_prom__fail(ps, VN_ERR_PARSE, "second HELP line for metric name %s", q);
        }
        bool esc = false;
        for (const char *s = p; s < eol; s++) {
            if (*s != '\\')
                continue;
            if (s + 1 >= eol || (s[1] != '\\' && s[1] != 'n'))
                return bad_escape(ps, s, eol);
            esc = true;
            s++;
        }
        f->has_help = true;
        f->help_escaped = esc;
        f->help = vn_str(p, (size_t)(eol - p));
        return VN_OK;
    }
    if (f->has_type) {
        quote(q, sizeof q, f->name.p, f->name.len);
        return vn_prom__fail(ps, VN_ERR_PARSE, "second TYPE line for metric name %s, or TYPE reported after samples",
                             q);
    }
    const char *end = eol;
    while (end > p && is_blank(end[-1]))
        end--;
    /* Go upper-cases the word and looks it up: any case matches */
    size_t n = (size_t)(end - p);
    vn_prom_type_t t = VN_PROM_UNTYPED;
    while (t < VN_PROM_UNKNOWN && !(strlen(k_type_names[t]) == n && strncasecmp(p, k_type_names[t], n) == 0))
        t++;
    f->type = t;
    f->has_type = true;
    f->type_word = vn_str(p, n);
    return VN_OK;
}

/*
 * The label set of a sample line, p at its '{'; labels are appended to
 * doc->labels (the caller keeps or drops them). A summary's `quantile` or a
 * histogram's `le` is not a label: its value goes to *bound instead.
 *   rpc_seconds{quantile="0.5",svc="a"} 0.05
 *              ^^^^^^^^^^^^^^^^^^^^^^^^ consumed; *after is at the value
 */
static vn_err_t read_labels(pstate_t *ps, const vn_prom_family_t *f, const char *p, const char *eol,
                            double *bound, const char **after)
{
    vn_prom_doc_t *d = ps->d;
    const vn_prom_type_t type = f->type;
    const uint32_t label_off = d->nlabels;
    char q[128];
    vn_err_t rc;
    p++;
    for (;;) {
        p = skip_blanks(p, eol);
        if (p < eol && *p == '}')
            break;
        const char *ln = p;
        if (p < eol && label_start((unsigned char)*p))
            while (++p < eol && label_cont((unsigned char)*p)) {
            }
        vn_str_t lname = vn_str(ln, (size_t)(p - ln));
        if (lname.len == 0) {
            quote(q, sizeof q, f->name.p, f->name.len);
            return vn_prom__fail(ps, VN_ERR_PARSE, "invalid label name for metric %s", q);
        }
        if (vn_str_eq(lname, VN_STR_LIT("__name__")))
            return vn_prom__fail(ps, VN_ERR_PARSE, "label name \"__name__\" is reserved");
        bool special = (type == VN_PROM_SUMMARY && vn_str_eq(lname, VN_STR_LIT("quantile"))) ||
                       (type == VN_PROM_HISTOGRAM && vn_str_eq(lname, VN_STR_LIT("le")));
        p = skip_blanks(p, eol);
        if (p == eol || *p != '=') {
            quote_char(q, sizeof q, p == eol ? '\n' : (unsigned char)*p);
            return vn_prom__fail(ps, VN_ERR_PARSE, "expected '=' after label name, found %s", q);
        }
        if (!special) {
            for (uint32_t i = label_off; i < d->nlabels; i++)
                if (vn_str_eq(d->labels[i].name, lname)) {
                    quote(q, sizeof q, f->name.p, f->name.len);
                    return vn_prom__fail(ps, VN_ERR_PARSE, "duplicate label names for metric %s", q);
                }
        }
        p = skip_blanks(p + 1, eol);
        if (p == eol || *p != '"') {
            quote_char(q, sizeof q, p == eol ? '\n' : (unsigned char)*p);
            return vn_prom__fail(ps, VN_ERR_PARSE, "expected '\"' at start of label value, found %s", q);
        }
        vn_str_t val;
        bool escaped;
        rc = read_label_value(ps, p, eol, &val, &escaped, &p);
        if (rc != VN_OK)
            return rc;
        if (!utf8_valid((const unsigned char *)val.p, val.len)) {
            quote(q, sizeof q, val.p, val.len);
            return vn_prom__fail(ps, VN_ERR_PARSE, "invalid label value %s", q);
        }
        if (special) {
            /* a quantile/le holding an escape cannot be a float anyway */
            if (!parse_value(val.p, val.len, bound)) {
                quote(q, sizeof q, val.p, val.len);
                return vn_prom__fail(ps, VN_ERR_PARSE, "expected float as value for '%s' label, got %s",
                                     type == VN_PROM_SUMMARY ? "quantile" : "le", q);
            }
        } else {
            if (d->nlabels - label_off >= d->_lim.max_labels)
                return vn_prom__fail(ps, VN_ERR_TOO_LARGE, "more than %u labels on one line", d->_lim.max_labels);
            if (!vn_prom__grow((void **)&d->labels, &d->_cap_labels, d->nlabels, UINT32_MAX - 1, sizeof *d->labels))
                return vn_prom__fail(ps, VN_ERR_TOO_LARGE, "too many labels");
            d->labels[d->nlabels++] = (vn_prom_label_t){lname, val, escaped};
        }
        p = skip_blanks(p, eol);
        if (p < eol && *p == ',') {
            p++;
            continue;
        }
        if (p < eol && *p == '}')
            break;
        quote(q, sizeof q, val.p, val.len);
        return vn_prom__fail(ps, VN_ERR_PARSE, "unexpected end of label value %s", q);
    }
    *after = skip_blanks(p + 1, eol); /* past the '}' */
    return VN_OK;
}

/* A sample line (p at the first byte of the name). */
static vn_err_t sample_line(pstate_t *ps, const char *p, const char *eol)
{
    vn_prom_doc_t *d = ps->d;
    char q[128];
    /* rpc_seconds_count{svc="a"} 12 1395066363000
     * ^^^^^^^^^^^^^^^^^ */
    const char *name = p;
    p = name_end(p, eol);
    if (p == name)
        return vn_prom__fail(ps, VN_ERR_PARSE, "invalid metric name");
    uint32_t fam;
    int role;
    vn_err_t rc = vn_prom__fam_for_name(ps, vn_str(name, (size_t)(p - name)), &fam, &role);
    if (rc != VN_OK)
        return rc;
    vn_prom_family_t *f = &d->families[fam];
    if (!f->has_type) {
        f->type = VN_PROM_UNTYPED;
        f->has_type = true;
    }
    const vn_prom_type_t type = f->type;
    const bool grouped = type == VN_PROM_SUMMARY || type == VN_PROM_HISTOGRAM;
    double point_bound = NAN;
    p = skip_blanks(p, eol);

    const uint32_t label_off = d->nlabels;
    if (p < eol && *p == '{' && (rc = read_labels(ps, f, p, eol, &point_bound, &p)) != VN_OK)
        return rc;
    const uint32_t nlabels = d->nlabels - label_off;

    /* Go appends the series before reading the value; a summary/histogram
     * line joins the series with the same other labels if there is one. */
    uint32_t sidx = VN_PROM_NONE;
    if (grouped) {
        /* no label read yet: labels is still NULL, and NULL + 0 is undefined */
        const vn_prom_label_t *lab = d->labels ? d->labels + label_off : NULL;
        uint64_t sig = vn_prom__sig_hash(fam, lab, nlabels);
        if (sig == 0)
            sig = 1; /* 0 marks "not indexed" */
        sidx = vn_prom__sig_lookup(d, fam, sig, lab, nlabels);
        if (sidx != VN_PROM_NONE)
            d->nlabels = label_off; /* the first line's labels stand */
        else if ((rc = vn_prom__new_series(ps, fam, label_off, nlabels, sig, &sidx)) != VN_OK)
            return rc;
    } else if ((rc = vn_prom__new_series(ps, fam, label_off, nlabels, 0, &sidx)) != VN_OK) {
        return rc;
    }

    /* ... 0.05 1395066363000
     *     ^^^^ */
    const char *v = p;
    p = token_end(p, eol);
    double value;
    if (!parse_value(v, (size_t)(p - v), &value)) {
        quote(q, sizeof q, v, (size_t)(p - v));
        return vn_prom__fail(ps, VN_ERR_PARSE, "expected float as value, got %s", q);
    }
    vn_prom_series_t *s = &d->series[sidx];
    if (!grouped) {
        s->value = value;
    } else if (role == ROLE_COUNT) {
        s->count = value;
        s->has_count = true;
    } else if (role == ROLE_SUM) {
        s->sum = value;
        s->has_sum = true;
    } else if (!isnan(point_bound)) {
        if ((rc = vn_prom__add_point(ps, sidx, point_bound, value)) != VN_OK)
            return rc;
        s = &d->series[sidx];
    }

    /* ... 0.05 1395066363000
     *          ^^^^^^^^^^^^^ optional; trailing blanks are fine */
    p = skip_blanks(p, eol);
    if (p == eol)
        return VN_OK;
    const char *t = p;
    p = token_end(p, eol);
    int64_t ts;
    if (vn_gonum_parse_int64(t, (size_t)(p - t), 10, &ts) != VN_GONUM_OK) {
        quote(q, sizeof q, t, (size_t)(p - t));
        return vn_prom__fail(ps, VN_ERR_PARSE, "expected integer as timestamp, got %s", q);
    }
    s->has_ts = true;
    s->ts_ms = ts;
    p = skip_blanks(p, eol);
    if (p != eol) {
        quote(q, sizeof q, p, (size_t)(eol - p));
        return vn_prom__fail(ps, VN_ERR_PARSE, "spurious string after timestamp: %s", q);
    }
    return VN_OK;
}

/* ------------------------------------------------------------ public */

/* 0 means the default; anything is clamped to 2^30 so indices stay below
 * VN_PROM_NONE and the doubled hash tables still fit in uint32_t. */
static uint32_t pick_limit(uint32_t asked, uint32_t dflt)
{
    const uint32_t hard = 1u << 30;
    uint32_t v = asked ? asked : dflt;
    return v < hard ? v : hard;
}

void vn_prom_doc_init(vn_prom_doc_t *doc, const vn_prom_limits_t *limits)
{
    memset(doc, 0, sizeof *doc);
    vn_prom_limits_t l = limits ? *limits : (vn_prom_limits_t){0};
    doc->_lim.max_series = pick_limit(l.max_series, VN_PROM_DEFAULT_MAX_SERIES);
    doc->_lim.max_points = pick_limit(l.max_points, VN_PROM_DEFAULT_MAX_POINTS);
    doc->_lim.max_families = pick_limit(l.max_families, VN_PROM_DEFAULT_MAX_FAMILIES);
    doc->_lim.max_labels = pick_limit(l.max_labels, VN_PROM_DEFAULT_MAX_LABELS);
}

void vn_prom_doc_destroy(vn_prom_doc_t *doc)
{
    if (!doc)
        return;
    free(doc->families);
    free(doc->series);
    free(doc->labels);
    free(doc->points);
    free(doc->_fam_index);
    free(doc->_sig_index);
    vn_prom_limits_t l = doc->_lim;
    memset(doc, 0, sizeof *doc);
    doc->_lim = l;
}

static void doc_clear(vn_prom_doc_t *d)
{
    d->nfamilies = d->nseries = d->nlabels = d->npoints = d->nlines = 0;
    d->_sig_used = 0;
    if (d->_fam_index)
        memset(d->_fam_index, 0, ((size_t)d->_fam_mask + 1) * sizeof *d->_fam_index);
    if (d->_sig_index)
        memset(d->_sig_index, 0, ((size_t)d->_sig_mask + 1) * sizeof *d->_sig_index);
}

vn_err_t vn_prom_parse(vn_prom_doc_t *doc, const char *body, size_t len, vn_prom_error_t *err)
{
    pstate_t ps = {doc, err, 0};
    if (err) {
        err->line = 0;
        err->msg[0] = '\0';
    }
    if (doc->_lim.max_series == 0)
        vn_prom_doc_init(doc, NULL); /* a zeroed doc gets the defaults */
    doc_clear(doc);
    const char *p = body, *end = body + len;
    vn_err_t rc = VN_OK;
    while (p < end) {
        ps.line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *s = skip_blanks(p, eol);
        if (s < eol) {
            if (*s == '#')
                rc = comment_line(&ps, s + 1, eol);
            else
                rc = sample_line(&ps, s, eol);
            if (rc == VN_OK && !nl)
                rc = vn_prom__fail(&ps, VN_ERR_PARSE, "unexpected end of input stream");
            if (rc != VN_OK)
                break;
        }
        p = nl ? nl + 1 : end;
    }
    if (rc != VN_OK) {
        doc_clear(doc);
        return rc;
    }
    doc->nlines = ps.line;
    return VN_OK;
}

size_t vn_prom_unescape(vn_str_t raw, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.p[i];
        if (c == '\\' && i + 1 < raw.len) {
            char e = raw.p[++i];
            out[k++] = e == 'n' ? '\n' : e;
        } else {
            out[k++] = c;
        }
    }
    return k;
}

const char *vn_prom_type_name(vn_prom_type_t t)
{
    return (unsigned)t <= VN_PROM_UNKNOWN ? k_type_names[t] : "unknown";
}

size_t vn_prom_statsd_safe(char *p, size_t n, bool name, bool *changed)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n')
            continue; /* what datadog-go does, so not counted as a change */
        if (c == '|' || c == ',' || c == '#' || c == '\0' || c == '\r' || (name && c == ':')) {
            c = '_';
            *changed = true;
        }
        p[k++] = c;
    }
    return k;
}

size_t vn_prom_format_bound(double v, char *buf, size_t cap)
{
    int n;
    if (isnan(v))
        n = snprintf(buf, cap, "NaN");
    else if (isinf(v))
        n = snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
    else
        n = snprintf(buf, cap, "%f", v);
    if (n < 0 || cap == 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1; /* snprintf counts what did not fit too */
}
