/**
 * dogstatsd.h - zero-copy parser for statsd/DogStatsD lines: metrics, events
 * (`_e{..}`) and service checks (`_sc|..`). docs/behaviour.md section 1 and 0.3.
 *
 * Ownership: every vn_str_t in the outputs borrows either the input line or the
 * parser's implicit tags; valid until the input buffer is reused. The parser
 * never allocates. A vn_parser_t is immutable after init and may be shared by
 * threads; output structs are per-caller.
 */
#ifndef VN_PARSE_DOGSTATSD_H
#define VN_PARSE_DOGSTATSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metric.h"
#include "core/parse_err.h"
#include "core/str.h"

/** Lines with more tags than this are rejected (VN_PARSE_ERR_TOO_MANY_TAGS). */
#define VN_PARSE_MAX_TAGS 128

/** Parser settings. Borrows implicit_tags (must outlive the parser). */
typedef struct vn_parser {
    const vn_str_t *implicit_tags; /* extend_tags; empty strings ignored */
    size_t n_implicit;
} vn_parser_t;

/** True when one of p's implicit tags has key k[0..klen) ("k:v" or bare "k"):
 *  extend_tags override a source's tag of that key (Go's extendTags). NULL p: false. */
bool vn_parser_implicit_key(const vn_parser_t *p, const char *k, size_t klen);

/** One parsed metric line (before value splitting). */
typedef struct vn_metric_line {
    vn_str_t name;
    vn_mtype_t type;
    vn_scope_t scope;
    double rate;        /* 0 < rate <= 1; 1 when absent */
    vn_str_t values;    /* raw value chunk, e.g. "1:2:3"; may be empty */
    uint32_t ignored_sections; /* DogStatsD 1.1+ fields skipped: `x:`, `T<digits>` (docs/behaviour.md 0.3) */
    size_t ntags;
    vn_str_t tags[VN_PARSE_MAX_TAGS]; /* extended and byte-wise sorted */
} vn_metric_line_t;

/**
 * Every vn_parse_* entry point rejects a line holding a NUL byte
 * (VN_PARSE_ERR_NUL_BYTE) or a '\n' (VN_PARSE_ERR_NEWLINE) before anything
 * else, so no name, tag, set member or event/check field can carry either.
 */

/**
 * Parses one metric line (no '\n'). Fills *out on VN_PARSE_OK; values are NOT
 * validated here (use the value iterator), so section errors come first, as in Go.
 */
vn_parse_err_t vn_parse_metric(const vn_parser_t *p, const char *line, size_t len, vn_metric_line_t *out);

/** Iterates the ':'-separated values of a parsed line. */
typedef struct vn_value_iter {
    const char *p;
    const char *end;
    bool done;
} vn_value_iter_t;

void vn_value_iter_init(vn_value_iter_t *it, const vn_metric_line_t *m);
/** 1: *out set; 0: no more values; -1: the next piece is not a finite number. */
int vn_value_next_num(vn_value_iter_t *it, double *out);
/** 1: *out set (raw piece, for sets); 0: no more values. */
int vn_value_next_str(vn_value_iter_t *it, vn_str_t *out);

/** Writes tags joined by ',' into buf; returns the joined length, or SIZE_MAX if cap is too small. */
size_t vn_tags_join(const vn_str_t *tags, size_t n, char *buf, size_t cap);

/** A parsed `_e{..}` event. text is unescaped into the caller's scratch buffer. */
typedef struct vn_event {
    vn_str_t title;
    vn_str_t text;        /* points into scratch: literal "\n" replaced by newline */
    int64_t timestamp;    /* d: value, or `now` passed to the parser */
    vn_str_t hostname;    /* h:, empty if absent */
    vn_str_t agg_key;     /* k: */
    vn_str_t priority;    /* p: normal|low, empty if absent */
    vn_str_t source_type; /* s: */
    vn_str_t alert_type;  /* t: error|warning|info|success, empty if absent */
    uint32_t ignored_sections; /* unknown `x:` fields skipped (c:, e:, card:, ...) */
    size_t ntags;
    vn_str_t tags[VN_PARSE_MAX_TAGS]; /* extended and sorted, "k:v" or "k" */
} vn_event_t;

/** scratch must hold at least len bytes. */
vn_parse_err_t vn_parse_event(const vn_parser_t *p, const char *line, size_t len, int64_t now, char *scratch,
                              size_t scratch_cap, vn_event_t *out);

/** A parsed `_sc|..` service check. message is unescaped into scratch. */
typedef struct vn_service_check {
    vn_str_t name;
    int status;         /* 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN */
    int64_t timestamp;  /* d: or now */
    vn_str_t hostname;  /* h: */
    vn_str_t message;   /* m:, in scratch */
    vn_scope_t scope;   /* exact-match magic tags only */
    uint32_t ignored_sections; /* unknown `x:` fields skipped, also after m: */
    size_t ntags;
    vn_str_t tags[VN_PARSE_MAX_TAGS]; /* extended and sorted */
} vn_service_check_t;

vn_parse_err_t vn_parse_service_check(const vn_parser_t *p, const char *line, size_t len, int64_t now,
                                      char *scratch, size_t scratch_cap, vn_service_check_t *out);

#endif
