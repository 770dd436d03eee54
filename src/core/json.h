/**
 * json.h - a small streaming JSON writer into a capped vn_buf_t, and the
 * JSON number text (encoding/json's layout, core/gonum.h).
 *
 * Strings: '"' and '\\' are backslash-escaped; \n, \r and \t use their short
 * escapes and every other byte below 0x20 is written as \u00XX (lower-case hex);
 * U+2028/U+2029 are escaped (\u2028, \u2029) so the output is also valid
 * JavaScript; valid UTF-8 passes through unchanged; each byte that is not part
 * of a valid UTF-8 sequence (overlong forms, surrogates, > U+10FFFF, truncated
 * sequences) becomes \ufffd. This is what Go's encoding/json does, minus its
 * HTML escaping of <, > and & (nothing we write is embedded in HTML).
 *
 * Numbers: vn_gonum_format_float(VN_GONUM_FMT_JSON), the shortest round-trip
 * digits as Go's encoding/json writes them. NaN and +/-Inf have no JSON form
 * and are written as null.
 *
 * Thread-safety: a vn_json_t has one owner; the free functions are reentrant.
 */
#ifndef VN_CORE_JSON_H
#define VN_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/** Maximum nesting of objects/arrays in one vn_json_t. */
#define VN_JSON_MAX_DEPTH 64

/** Appends s[0..len) as a quoted, escaped JSON string (rules above). On
 *  VN_ERR_TOO_LARGE the buffer may hold a partial string: roll back with
 *  vn_buf_truncate to a length taken before the call. */
vn_err_t vn_json_add_string(vn_buf_t *b, const char *s, size_t len);

/** As vn_json_add_string, plus Go encoding/json's default HTML escaping: '<', '>'
 *  and '&' as \u003c, \u003e, \u0026 (what json.Marshal and json.Encoder write). */
vn_err_t vn_json_add_string_html(vn_buf_t *b, const char *s, size_t len);

/** Appends a double as encoding/json does (null for NaN/Inf). */
vn_err_t vn_json_add_double(vn_buf_t *b, double v);

/* Direct writers, for encoders that reserve one line's worst case at once
 * (vn_buf_reserve) instead of checking capacity per token. */

/** Most bytes vn_json_put_string writes for len input bytes (each may become \ufffd). */
#define VN_JSON_STRING_MAX(len) (6 * (size_t)(len) + 2)
/** Most bytes vn_json_put_double writes (a NUL may follow the text). */
#define VN_JSON_DOUBLE_MAX 352
/** Writes vn_json_add_string's text at dst (room for VN_JSON_STRING_MAX(len)); returns its length. */
size_t vn_json_put_string(char *dst, const char *s, size_t len);
/** Writes vn_json_add_double's text at dst (room for VN_JSON_DOUBLE_MAX); returns its length. */
size_t vn_json_put_double(char *dst, double v);

/**
 * Streaming writer: tracks commas and key/value position so callers only say
 * what comes next. Errors are sticky: after the first failure every call is a
 * no-op and vn_json_error returns it, so a caller checks once per document.
 * Misuse (a value where a key is due, too deep, unbalanced end) sets
 * VN_ERR_PARSE.
 */
typedef struct vn_json {
    vn_buf_t *_buf;     /* borrowed */
    vn_err_t _err;      /* first error, sticky */
    unsigned _depth;    /* open containers */
    uint64_t _nonempty; /* bit d: container at depth d already has a member */
    uint64_t _isobj;    /* bit d: container at depth d is an object */
    bool _want_value;   /* a key was just written */
} vn_json_t;

/** Starts writing at the end of buf (borrowed; must outlive the writer). */
void vn_json_init(vn_json_t *j, vn_buf_t *buf);
void vn_json_object_begin(vn_json_t *j);
void vn_json_object_end(vn_json_t *j);
void vn_json_array_begin(vn_json_t *j);
void vn_json_array_end(vn_json_t *j);
/** Writes an object key (NUL-terminated); the next call must write its value. */
void vn_json_key(vn_json_t *j, const char *key);
void vn_json_string(vn_json_t *j, const char *s);
void vn_json_string_n(vn_json_t *j, const char *s, size_t len);
void vn_json_double(vn_json_t *j, double v);
void vn_json_int(vn_json_t *j, int64_t v);
void vn_json_bool(vn_json_t *j, bool v);
void vn_json_null(vn_json_t *j);
/** VN_OK, or the first error (VN_ERR_TOO_LARGE from the buffer, VN_ERR_PARSE on misuse). */
vn_err_t vn_json_error(const vn_json_t *j);
/** vn_json_error, plus VN_ERR_PARSE if a container is still open. */
vn_err_t vn_json_finish(const vn_json_t *j);

#endif
