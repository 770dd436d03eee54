/*
 * json.c - streaming JSON writer (see json.h). Numbers are Go's encoding/json
 * text from core/gonum.c:
 *
 *     0.1 -> 0.1    1e20 -> 100000000000000000000    1e21 -> 1e+21
 *     1e-7 -> 1e-7  -0.0 -> -0                       NaN, +Inf -> null
 */
#include "core/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gonum.h"

/* ---------------------------------------------------------------- doubles */

vn_err_t vn_json_add_double(vn_buf_t *b, double v)
{
    if (!isfinite(v))
        return vn_buf_add(b, "null", 4);
    char tmp[VN_GONUM_FLOAT_MAX];
    size_t n = vn_gonum_format_float(v, VN_GONUM_FMT_JSON, tmp, sizeof tmp);
    return vn_buf_add(b, tmp, n);
}

/* ---------------------------------------------------------------- strings */

/*
 * Length of the valid UTF-8 sequence at s[0..len) (2..4), or 0 when s[0] does
 * not start one. Same acceptance as Go's utf8.DecodeRune: no overlong forms,
 * no surrogates (U+D800..DFFF), nothing above U+10FFFF.
 */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

static vn_err_t add_string(vn_buf_t *b, const char *str, size_t len, bool html)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    vn_err_t err = vn_buf_add_byte(b, '"');
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;
    while (err == VN_OK && i < len) {
        unsigned char c = s[i];
        char esc[8];
        size_t esclen = 0, adv = 1;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && !(html && (c == '<' || c == '>' || c == '&'))) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, len - i);
            /* U+2028 / U+2029 are E2 80 A8 / E2 80 A9 */
            if (k == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                memcpy(esc, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                esclen = 6;
                adv = 3;
            } else if (k) {
                i += k;
                continue;
            } else {
                memcpy(esc, "\\ufffd", 6);
                esclen = 6;
            }
        } else if (c == '<' || c == '>' || c == '&') { /* html only: Go's encoding/json default */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            esclen = 6;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            esclen = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            esclen = 2;
        } else {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            esclen = 6;
        }
        if (i > run)
            err = vn_buf_add(b, str + run, i - run);
        if (err == VN_OK)
            err = vn_buf_add(b, esc, esclen);
        i += adv;
        run = i;
    }
    if (err == VN_OK && i > run)
        err = vn_buf_add(b, str + run, i - run);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '"');
    return err;
}

vn_err_t vn_json_add_string(vn_buf_t *b, const char *s, size_t len)
{
    return add_string(b, s, len, false);
}

vn_err_t vn_json_add_string_html(vn_buf_t *b, const char *s, size_t len)
{
    return add_string(b, s, len, true);
}

/* ---------------------------------------------------------------- writer */

void vn_json_init(vn_json_t *j, vn_buf_t *buf)
{
    memset(j, 0, sizeof *j);
    j->_buf = buf;
}

/* Separator before a value or key; checks the grammar. Returns false when the
 * writer is (now) in error. */
static bool before_item(vn_json_t *j, bool is_key)
{
    if (j->_err != VN_OK)
        return false;
    uint64_t bit = j->_depth ? (uint64_t)1 << (j->_depth - 1) : 0;
    bool in_obj = j->_depth && (j->_isobj & bit);
    if (j->_want_value) {
        if (is_key) {
            j->_err = VN_ERR_PARSE;
            return false;
        }
        j->_want_value = false;
        return true; /* the ':' is already written */
    }
    if (in_obj != is_key) {
        j->_err = VN_ERR_PARSE; /* value without key in an object, or key outside one */
        return false;
    }
    if (j->_depth) {
        if (j->_nonempty & bit)
            j->_err = vn_buf_add_byte(j->_buf, ',');
        j->_nonempty |= bit;
    }
    return j->_err == VN_OK;
}

static void put(vn_json_t *j, const char *s, size_t n)
{
    if (j->_err == VN_OK)
        j->_err = vn_buf_add(j->_buf, s, n);
}

static void open_container(vn_json_t *j, bool obj)
{
    if (!before_item(j, false))
        return;
    if (j->_depth >= VN_JSON_MAX_DEPTH) {
        j->_err = VN_ERR_PARSE;
        return;
    }
    uint64_t bit = (uint64_t)1 << j->_depth;
    j->_depth++;
    j->_nonempty &= ~bit;
    if (obj)
        j->_isobj |= bit;
    else
        j->_isobj &= ~bit;
    put(j, obj ? "{" : "[", 1);
}

static void close_container(vn_json_t *j, bool obj)
{
    if (j->_err != VN_OK)
        return;
    uint64_t bit = j->_depth ? (uint64_t)1 << (j->_depth - 1) : 0;
    if (!j->_depth || j->_want_value || !!(j->_isobj & bit) != obj) {
        j->_err = VN_ERR_PARSE;
        return;
    }
    j->_depth--;
    put(j, obj ? "}" : "]", 1);
}

void vn_json_object_begin(vn_json_t *j) { open_container(j, true); }
void vn_json_object_end(vn_json_t *j) { close_container(j, true); }
void vn_json_array_begin(vn_json_t *j) { open_container(j, false); }
void vn_json_array_end(vn_json_t *j) { close_container(j, false); }

void vn_json_key(vn_json_t *j, const char *key)
{
    if (!before_item(j, true))
        return;
    j->_err = vn_json_add_string(j->_buf, key, strlen(key));
    put(j, ":", 1);
    j->_want_value = true;
}

void vn_json_string_n(vn_json_t *j, const char *s, size_t len)
{
    if (before_item(j, false))
        j->_err = vn_json_add_string(j->_buf, s, len);
}

void vn_json_string(vn_json_t *j, const char *s)
{
    vn_json_string_n(j, s, strlen(s));
}

void vn_json_double(vn_json_t *j, double v)
{
    if (before_item(j, false))
        j->_err = vn_json_add_double(j->_buf, v);
}

void vn_json_int(vn_json_t *j, int64_t v)
{
    if (!before_item(j, false))
        return;
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(j, tmp, (size_t)n);
}

void vn_json_bool(vn_json_t *j, bool v)
{
    if (before_item(j, false))
        put(j, v ? "true" : "false", v ? 4 : 5);
}

void vn_json_null(vn_json_t *j)
{
    if (before_item(j, false))
        put(j, "null", 4);
}

vn_err_t vn_json_error(const vn_json_t *j)
{
    return j->_err;
}

vn_err_t vn_json_finish(const vn_json_t *j)
{
    if (j->_err != VN_OK)
        return j->_err;
    return (j->_depth || j->_want_value) ? VN_ERR_PARSE : VN_OK;
}
