/**
 * prom_text.h - the Prometheus text exposition format (version 0.0.4), parsed
 * into metric families the way Go's expfmt.TextParser does (the decoder Go
 * veneur-prometheus uses; docs/behaviour.md W6, design notes in docs/internals/prometheus.md).
 *
 *     # HELP http_requests_total Requests served.
 *     # TYPE http_requests_total counter
 *     http_requests_total{code="200",method="get"} 1027 1395066363000
 *     # TYPE rpc_seconds summary
 *     rpc_seconds{quantile="0.5"} 0.05
 *     rpc_seconds_sum 17.5
 *     rpc_seconds_count 2693
 *
 * The whole body is parsed before anything is returned: a body with any error
 * yields no families at all (VN_ERR_PARSE with the line number and a message),
 * so a caller never acts on half a scrape.
 *
 * Zero-copy: every vn_str_t in the result points into the body. Label values
 * and HELP text are kept escaped (the bytes between the quotes); `escaped`
 * says whether vn_prom_unescape is needed. The escaped form is canonical (a
 * raw `\`, `"` or newline cannot appear), so two values are equal exactly when
 * their raw bytes are.
 *
 * Memory: a vn_prom_doc_t owns growable arrays that are kept across parses, so
 * a poller that re-parses every interval stops allocating after the first
 * scrape. Every array is capped (vn_prom_limits_t); going over a cap is
 * VN_ERR_TOO_LARGE, never unbounded growth. Nothing here reads outside
 * [body, body + len), and the body need not be NUL-terminated.
 *
 * Thread-safety: a doc has one owner; different docs may be used concurrently.
 */
#ifndef VN_PARSE_PROM_TEXT_H
#define VN_PARSE_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/str.h"

/** "No element" in the index links below. */
#define VN_PROM_NONE UINT32_MAX

/** Default caps (vn_prom_limits_t); a node exporter exposes ~1-3k series. */
#define VN_PROM_DEFAULT_MAX_SERIES   1000000u
#define VN_PROM_DEFAULT_MAX_LABELS   256u /* per series */
#define VN_PROM_DEFAULT_MAX_POINTS   4000000u
#define VN_PROM_DEFAULT_MAX_FAMILIES 1000000u

typedef enum vn_prom_type {
    VN_PROM_UNTYPED = 0, /* no TYPE line, or `# TYPE x untyped` */
    VN_PROM_COUNTER,
    VN_PROM_GAUGE,
    VN_PROM_SUMMARY,
    VN_PROM_HISTOGRAM,
    /** A TYPE word Go's decoder rejects (e.g. OpenMetrics `stateset`). We keep
     *  parsing (the samples are read like untyped ones) so one odd family does
     *  not lose the whole scrape; the translator skips and counts it. */
    VN_PROM_UNKNOWN,
} vn_prom_type_t;

typedef struct vn_prom_label {
    vn_str_t name;  /* [a-zA-Z_][a-zA-Z0-9_]* */
    vn_str_t value; /* bytes between the quotes, escapes not yet resolved; valid UTF-8 */
    bool escaped;   /* value contains a backslash escape */
} vn_prom_label_t;

/** One quantile of a summary or one bucket of a histogram. */
typedef struct vn_prom_point {
    double bound;  /* the quantile (0.99) or the bucket's upper bound `le` (may be +Inf) */
    double value;  /* the quantile's value, or the bucket's cumulative count as written */
    uint32_t next; /* next point of the same series, or VN_PROM_NONE */
} vn_prom_point_t;

/**
 * One series: a label set within a family. For a summary or histogram all the
 * lines with the same labels (ignoring `quantile` / `le`, in any order and not
 * necessarily adjacent) are one series; its labels are those of its first line.
 */
typedef struct vn_prom_series {
    uint32_t label_off, nlabels; /* doc->labels[label_off .. +nlabels), exposition order */
    double value;                /* counter, gauge, untyped, unknown: the sample value */
    double sum, count;           /* summary/histogram _sum and _count (0 when absent) */
    bool has_sum, has_count;
    bool has_ts;
    int64_t ts_ms;                   /* optional timestamp of the (last) line, ms since epoch */
    uint32_t point_head, point_tail; /* quantiles/buckets in line order, VN_PROM_NONE if none */
    uint32_t npoints;
    uint32_t next;   /* next series of the same family, or VN_PROM_NONE */
    uint32_t family; /* index in doc->families */
    uint32_t line;   /* 1-based line that created it */
    uint64_t _sig;   /* label-set hash (summary/histogram lookup) */
} vn_prom_series_t;

typedef struct vn_prom_family {
    vn_str_t name;
    vn_prom_type_t type;
    bool has_type;      /* a TYPE line or a first sample fixed the type (Go: Type != nil) */
    vn_str_t type_word; /* the TYPE line's word (for messages about VN_PROM_UNKNOWN) */
    bool has_help, help_escaped;
    vn_str_t help; /* escaped like label values (\\ and \n only) */
    uint32_t series_head, series_tail, nseries;
} vn_prom_family_t;

/** Caps on what one parse may hold. Zero fields mean "use the default". */
typedef struct vn_prom_limits {
    uint32_t max_series;   /* series over all families */
    uint32_t max_labels;   /* labels on one line */
    uint32_t max_points;   /* quantiles + buckets over all series */
    uint32_t max_families; /* families, including ones only named by HELP/TYPE */
} vn_prom_limits_t;

/** Where and why a parse failed. */
typedef struct vn_prom_error {
    uint32_t line; /* 1-based */
    char msg[192]; /* Go's wording where Go has one, e.g. `expected float as value, got "x"` */
} vn_prom_error_t;

/**
 * Parse result and reusable scratch. Read the public arrays after a successful
 * vn_prom_parse; they are valid until the next parse or destroy, and the
 * vn_str_t inside them borrow the body (keep it alive while reading them).
 * Families are in order of first appearance (Go returns a map; we give the
 * exposition order so output is deterministic); families with nseries == 0
 * (only HELP/TYPE lines) are kept here, and callers skip them as Go drops them.
 */
typedef struct vn_prom_doc {
    vn_prom_family_t *families;
    uint32_t nfamilies;
    vn_prom_series_t *series;
    uint32_t nseries;
    vn_prom_label_t *labels;
    uint32_t nlabels;
    vn_prom_point_t *points;
    uint32_t npoints;
    uint32_t nlines; /* lines read (the last one counts even without its '\n') */

    vn_prom_limits_t _lim;
    uint32_t _cap_families, _cap_series, _cap_labels, _cap_points;
    uint32_t *_fam_index, _fam_mask; /* open addressing: family index + 1, 0 empty */
    uint32_t *_sig_index, _sig_mask; /* summary/histogram series by (family, label set) */
    uint32_t _sig_used;
} vn_prom_doc_t;

/** Initialises an empty doc with the given caps (NULL: defaults). Allocates nothing. */
void vn_prom_doc_init(vn_prom_doc_t *doc, const vn_prom_limits_t *limits);
/** Frees everything the doc holds; it may be re-initialised. NULL ok. */
void vn_prom_doc_destroy(vn_prom_doc_t *doc);

/**
 * Parses body[0..len) (borrowed; not NUL-terminated) into doc, replacing what
 * it held. Returns VN_OK; VN_ERR_PARSE for malformed input and VN_ERR_TOO_LARGE
 * when a cap is exceeded, both with *err filled (err may be NULL) and the doc
 * left empty. An empty body is an empty, valid document.
 *
 * Grammar accepted (Go expfmt.TextParser, with the differences listed in
 * docs/internals/prometheus.md): lines end with '\n' (a non-blank last line
 * without one is "unexpected end of input stream"); blanks are ' ' and '\t';
 * `# HELP name text` / `# TYPE name type` (any other comment is ignored);
 * `name[{l="v",...}] value [timestamp_ms]`; values are Go floats including
 * NaN, +Inf, -Inf (no hex, no '_'); label values escape \\ \" \n; trailing
 * blanks after the value or timestamp are accepted.
 */
vn_err_t vn_prom_parse(vn_prom_doc_t *doc, const char *body, size_t len, vn_prom_error_t *err);

/**
 * Resolves the escapes of a label value or HELP text parsed above (\\ -> \,
 * \" -> ", \n -> newline) into out, which must hold raw.len bytes (the result
 * is never longer). Returns the unescaped length. Does not NUL-terminate.
 */
size_t vn_prom_unescape(vn_str_t raw, char *out);

/**
 * Makes p[0..n) safe to put in a DogStatsD line as a tag name or value (or,
 * with name set, a metric or tag name), in place, for veneur-prometheus
 * (issue 15): the DogStatsD format has no escapes, so a label value
 * `x|@0.0001` would otherwise open a sample-rate section and `a,b:c` add a
 * tag. Replaced by '_': '|' (opens a section: @rate, #tags, c:container,
 * T:timestamp), ',' (splits tags), '#', NUL and '\r'; with name also ':'
 * (ends a name). '\n' is removed, as datadog-go does. Returns the new
 * length; *changed is set when anything was replaced (left alone otherwise).
 */
size_t vn_prom_statsd_safe(char *p, size_t n, bool name, bool *changed);

/**
 * Go `%f` of a bucket bound or quantile, as veneur-prometheus names buckets and
 * the openmetrics source writes its `le`/`quantile` tags: "0.005000", "+Inf",
 * "-Inf", "NaN". Returns the length written, which is at most cap - 1: a bound
 * that does not fit is cut (cap >= VN_PROM_BOUND_MAX always fits: "%f" of
 * -DBL_MAX is 317 bytes).
 */
#define VN_PROM_BOUND_MAX 320
size_t vn_prom_format_bound(double v, char *buf, size_t cap);

/** Lower-case name of a type ("counter", ..., "unknown"). Never NULL. */
const char *vn_prom_type_name(vn_prom_type_t t);

#endif
