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

_Static_assert(VN_JSON_DOUBLE_MAX >= VN_GONUM_FLOAT_MAX, "json: a double's text must fit");

size_t vn_json_put_double(char *dst, double v)
{
    if (!isfinite(v)) {
        memcpy(dst, "null", 4);
        return 4;
    }
    return vn_gonum_format_float(v, VN_GONUM_FMT_JSON, dst, VN_JSON_DOUBLE_MAX);
}

vn_err_t vn_json_add_double(vn_buf_t *b, double v)
{
    char tmp[VN_JSON_DOUBLE_MAX];
    return vn_buf_add(b, tmp, vn_json_put_double(tmp, v));
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

/*
 * The escape for the byte at s[i] (i < len), or 0 when the bytes there are
 * copied verbatim; *adv is how many input bytes either way covers.
 */
static inline size_t escape_at(const unsigned char *s, size_t i, size_t len, bool html, char esc[8], size_t *adv)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[i];
    *adv = 1;
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && !(html && (c == '<' || c == '>' || c == '&')))
        return 0;
    if (c >= 0x80) {
        size_t k = utf8_seq(s + i, len - i);
        /* U+2028 / U+2029 are E2 80 A8 / E2 80 A9 */
        if (k == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            memcpy(esc, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            *adv = 3;
            return 6;
        }
        if (k) {
            *adv = k;
            return 0;
        }
        memcpy(esc, "\\ufffd", 6);
        return 6;
    }
    if (c == '"' || c == '\\') {
        esc[0] = '\\';
        esc[1] = (char)c;
        return 2;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
        esc[0] = '\\';
        esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        return 2;
    }
    /* control bytes, and '<' '>' '&' in html mode (Go's encoding/json default) */
    memcpy(esc, "\\u00", 4);
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 0xF];
    return 6;
}

/* The escaped string, quotes included, at dst (room for VN_JSON_STRING_MAX(len)). */
static size_t put_string(char *dst, const char *str, size_t len, bool html)
{
    /* bit 0: copied verbatim; bit 1: also in html mode. Names and tags are
     * almost all such bytes, so they skip escape_at in one table load each. */
    static const unsigned char plain[256] = {
        [' '] = 3, ['!'] = 3, ['#'] = 3, ['$'] = 3, ['%'] = 3, ['&'] = 1, ['\''] = 3, ['('] = 3, [')'] = 3,
        ['*'] = 3, ['+'] = 3, [','] = 3, ['-'] = 3, ['.'] = 3, ['/'] = 3, ['0'] = 3, ['1'] = 3, ['2'] = 3,
        ['3'] = 3, ['4'] = 3, ['5'] = 3, ['6'] = 3, ['7'] = 3, ['8'] = 3, ['9'] = 3, [':'] = 3, [';'] = 3,
        ['<'] = 1, ['='] = 3, ['>'] = 1, ['?'] = 3, ['@'] = 3, ['A'] = 3, ['B'] = 3, ['C'] = 3, ['D'] = 3,
        ['E'] = 3, ['F'] = 3, ['G'] = 3, ['H'] = 3, ['I'] = 3, ['J'] = 3, ['K'] = 3, ['L'] = 3, ['M'] = 3,
        ['N'] = 3, ['O'] = 3, ['P'] = 3, ['Q'] = 3, ['R'] = 3, ['S'] = 3, ['T'] = 3, ['U'] = 3, ['V'] = 3,
        ['W'] = 3, ['X'] = 3, ['Y'] = 3, ['Z'] = 3, ['['] = 3, [']'] = 3, ['^'] = 3, ['_'] = 3, ['`'] = 3,
        ['a'] = 3, ['b'] = 3, ['c'] = 3, ['d'] = 3, ['e'] = 3, ['f'] = 3, ['g'] = 3, ['h'] = 3, ['i'] = 3,
        ['j'] = 3, ['k'] = 3, ['l'] = 3, ['m'] = 3, ['n'] = 3, ['o'] = 3, ['p'] = 3, ['q'] = 3, ['r'] = 3,
        ['s'] = 3, ['t'] = 3, ['u'] = 3, ['v'] = 3, ['w'] = 3, ['x'] = 3, ['y'] = 3, ['z'] = 3, ['{'] = 3,
        ['|'] = 3, ['}'] = 3, ['~'] = 3, [0x7f] = 3,
    };
    const unsigned char mask = html ? 2 : 1;
    const unsigned char *s = (const unsigned char *)str;
    size_t n = 0, run = 0, i = 0;
    dst[n++] = '"';
    while (i < len) {
        if (plain[s[i]] & mask) {
            i++;
            continue;
        }
        char esc[8];
        size_t adv, esclen = escape_at(s, i, len, html, esc, &adv);
        if (!esclen) {
            i += adv;
            continue;
        }
        memcpy(dst + n, str + run, i - run);
        n += i - run;
        memcpy(dst + n, esc, esclen);
        n += esclen;
        i += adv;
        run = i;
    }
    memcpy(dst + n, str + run, i - run);
    n += i - run;
    dst[n++] = '"';
    return n;
}

static vn_err_t add_string(vn_buf_t *b, const char *str, size_t len, bool html)
{
    /* One capacity check for the worst case; byte by byte only when the
     * buffer's cap is near, where a partial string is the documented result. */
    char *dst;
    if (len <= (SIZE_MAX - 2) / 6 && vn_buf_reserve(b, VN_JSON_STRING_MAX(len), &dst) == VN_OK) {
        vn_buf_commit(b, put_string(dst, str, len, html));
        return VN_OK;
    }
    const unsigned char *s = (const unsigned char *)str;
    vn_err_t err = vn_buf_add_byte(b, '"');
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;
    while (err == VN_OK && i < len) {
        char esc[8];
        size_t adv, esclen = escape_at(s, i, len, html, esc, &adv);
        if (!esclen) {
            i += adv;
            continue;
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

size_t vn_json_put_string(char *dst, const char *s, size_t len)
{
    return put_string(dst, s, len, false);
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
