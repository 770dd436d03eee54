/*
 * json.c - JSON writer and shortest round-trip double formatting (see json.h).
 *
 * Doubles: printf's "%.*e" gives correctly rounded digits, strtod tells whether
 * they read back as the same double. Trying 15, 16 then 17 significant digits
 * finds the shortest form whenever it is <= 15 digits long (any decimal of up to
 * 15 digits survives the double round trip, and rounding the exact binary value
 * to 15 digits lands on it), else the correctly rounded 16-digit form, else 17
 * digits, which always round-trip (subnormals, whose precision is lower, try
 * every length from 1). The digits are then laid out the way Go does:
 *
 *     value            JSON style                 FIXED style
 *     0.1              0.1                        0.1
 *     123456789.125    123456789.125              123456789.125
 *     1e20             100000000000000000000      100000000000000000000
 *     1e21             1e+21                      1000000000000000000000
 *     1e-7             1e-7                       0.0000001
 *     -0.0             -0                         -0
 *     NaN, +Inf        null, null                 NaN, +Inf
 */
#include "core/json.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- doubles */

/*
 * Shortest round-trip decimal digits of v (finite, > 0): digs holds nd digits
 * (no trailing zeros except a lone "0"), the value is d0.d1d2... x 10^exp10.
 *
 *     "1.2345000000000e+02"  ->  digs "12345", nd 5, exp10 2
 *      ^ ^^^^^^^^^^^^^ ^^^
 */
/*
 * Fast path for values with few decimals (integers, 0.37, 12.5, timestamps):
 * the smallest k <= 8 for which m = round(v * 10^k) satisfies m / 10^k == v
 * exactly. IEEE division is correctly rounded and m and 10^k are exact, so
 * "m e-k" reads back as v; with m < 1e15 it has <= 15 digits, and a
 * round-tripping decimal of <= 15 digits is unique per digit count, so this is
 * the same answer as the printf path below, at a fraction of the cost.
 * Returns 0 when no such k exists.
 */
static int fast_digits(double v, char digs[24], int *exp10)
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    for (int k = 0; k < 9; k++) {
        double scaled = v * p10[k];
        if (scaled >= 1e15)
            return 0;
        long long m = llround(scaled);
        if (m == 0 || (double)m / p10[k] != v)
            continue;
        char tmp[24];
        int nd = snprintf(tmp, sizeof tmp, "%lld", m);
        *exp10 = nd - 1 - k;
        while (nd > 1 && tmp[nd - 1] == '0')
            nd--;
        memcpy(digs, tmp, (size_t)nd);
        return nd;
    }
    return 0;
}

static int shortest_digits(double v, char digs[24], int *exp10)
{
    char tmp[48];
    int prec;
    if (v >= DBL_MIN) {
        int nd = fast_digits(v, digs, exp10);
        if (nd)
            return nd;
    }
    /* Subnormals carry fewer than 15 significant digits, so their shortest form
     * can be much shorter than the 15-digit rounding (5e-324 vs 4.94065645841247e-324):
     * search every precision for them. */
    for (prec = v < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    const char *p = tmp;
    int nd = 0;
    digs[nd++] = *p++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9' && nd < 23)
            digs[nd++] = *p++;
    }
    int e = 0, sign = 1;
    if (*p == 'e') {
        p++;
        if (*p == '-')
            sign = -1;
        if (*p == '-' || *p == '+')
            p++;
        while (*p >= '0' && *p <= '9')
            e = e * 10 + (*p++ - '0');
    }
    while (nd > 1 && digs[nd - 1] == '0')
        nd--;
    *exp10 = sign * e;
    return nd;
}

/* Plain decimal layout of digs x 10^exp: "12345" e2 -> "123.45", e-3 -> "0.0012345". */
static size_t layout_fixed(char *o, const char *digs, int nd, int exp)
{
    size_t n = 0;
    if (exp >= 0) {
        int intlen = exp + 1;
        for (int i = 0; i < intlen; i++)
            o[n++] = i < nd ? digs[i] : '0';
        if (nd > intlen) {
            o[n++] = '.';
            for (int i = intlen; i < nd; i++)
                o[n++] = digs[i];
        }
    } else {
        o[n++] = '0';
        o[n++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            o[n++] = '0';
        for (int i = 0; i < nd; i++)
            o[n++] = digs[i];
    }
    return n;
}

/* Go's exponent layout: "1.5e+21", "1e-7" (Go pads positive exponents to two
 * digits and trims the padding of negative ones). */
static size_t layout_exp(char *o, const char *digs, int nd, int exp)
{
    size_t n = 0;
    o[n++] = digs[0];
    if (nd > 1) {
        o[n++] = '.';
        for (int i = 1; i < nd; i++)
            o[n++] = digs[i];
    }
    int w = exp < 0 ? snprintf(o + n, 8, "e-%d", -exp) : snprintf(o + n, 8, "e+%02d", exp);
    return n + (size_t)w;
}

size_t vn_json_format_double(double v, vn_json_dfmt_t style, char *out, size_t cap)
{
    char tmp[VN_JSON_DOUBLE_MAX];
    size_t n = 0;
    if (isnan(v) || isinf(v)) {
        const char *s = style == VN_JSON_DFMT_JSON ? "null" : isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
        n = strlen(s);
        memcpy(tmp, s, n);
    } else {
        if (signbit(v))
            tmp[n++] = '-';
        double a = fabs(v);
        if (a == 0) {
            tmp[n++] = '0';
        } else {
            char digs[24];
            int exp;
            int nd = shortest_digits(a, digs, &exp);
            if (style == VN_JSON_DFMT_JSON && (a < 1e-6 || a >= 1e21))
                n += layout_exp(tmp + n, digs, nd, exp);
            else
                n += layout_fixed(tmp + n, digs, nd, exp);
        }
    }
    if (n + 1 > cap) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    memcpy(out, tmp, n);
    out[n] = '\0';
    return n;
}

vn_err_t vn_json_add_double(vn_buf_t *b, double v)
{
    char tmp[VN_JSON_DOUBLE_MAX];
    size_t n = vn_json_format_double(v, VN_JSON_DFMT_JSON, tmp, sizeof tmp);
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

vn_err_t vn_json_add_string(vn_buf_t *b, const char *str, size_t len)
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
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
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
