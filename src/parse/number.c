/**
 * number.c - Go-compatible float and integer parsing over unterminated bytes.
 *
 * Two paths for floats:
 *  - fast: [+-]digits[.digits] with at most 19 digits, mantissa <= 2^53 and at
 *    most 22 fraction digits. Both the mantissa and 10^frac are exact doubles,
 *    so one IEEE division gives the correctly rounded result (Clinger's fast
 *    path) -- the same double Go returns, with no strtod and no copy.
 *  - slow: everything else. The bytes are validated against Go's grammar
 *    (strconv readFloat) while being rewritten into a canonical form in a
 *    bounded stack buffer: "[-]0.<digits>e<exp>" or "[-]0x0.<hexdigits>p<exp>".
 *    Leading zeros and underscores are dropped, and at most KEEP_DIGITS
 *    significant digits are kept, plus a sticky '1' when a dropped digit was
 *    non-zero. A decimal halfway point between two doubles has at most 767
 *    significant digits, so the sticky digit keeps the rounding exact. Only
 *    then does strtod see the (NUL-terminated) buffer.
 * The exponent is accumulated like Go (digits stop counting once it reaches
 * 10000), so absurd exponents saturate the same way.
 */
#include "parse/number.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define KEEP_DIGITS 800
/* sign + "0x0." + digits + sticky + 'p' + sign + exponent digits + NUL */
#define CANON_CAP (KEEP_DIGITS + 48)

static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int lower(int c) { return c | 0x20; }

/* Case-insensitive equality of s[0..n) with the lower-case word w. */
static bool word_eq(const char *s, size_t n, const char *w, size_t wn)
{
    if (n != wn)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != w[i])
            return false;
    return true;
}

static inline int digit_val(int c, bool hex)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (hex) {
        int l = lower(c);
        if (l >= 'a' && l <= 'f')
            return l - 'a' + 10;
    }
    return -1;
}

/*
 * Go's rule for '_' (strconv underscoreOK): an underscore must sit between two
 * digits, where the base prefix counts as a digit. Called only for 0x numbers
 * (docs/behaviour.md 1.2.9: underscores are valid only with a 0x prefix).
 */
static bool underscores_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n && (s[0] == '+' || s[0] == '-'))
        i = 1;
    i += 2; /* "0x", already checked by the caller */
    char saw = '0';
    for (; i < n; i++) {
        if (digit_val((unsigned char)s[i], true) >= 0) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0')
                return false;
            saw = '_';
        } else {
            if (saw == '_')
                return false;
            saw = '!';
        }
    }
    return saw != '_';
}

static int parse_float_slow(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (n == 0)
        return VN_NUM_SYNTAX;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }

    /* "-Infinity" / "inf" / "NaN": Go accepts a sign on inf only. */
    if (word_eq(s + i, n - i, "inf", 3) || word_eq(s + i, n - i, "infinity", 8)) {
        *out = neg ? -INFINITY : INFINITY;
        return VN_NUM_OK;
    }
    if (i == 0 && word_eq(s, n, "nan", 3)) {
        *out = NAN;
        return VN_NUM_OK;
    }

    char buf[CANON_CAP];
    size_t bl = 0;
    if (neg)
        buf[bl++] = '-';
    /* Go needs at least one byte after "0x" to take the hex branch. */
    bool hex = i + 2 < n && s[i] == '0' && lower((unsigned char)s[i + 1]) == 'x';
    if (hex) {
        i += 2;
        buf[bl++] = '0';
        buf[bl++] = 'x';
    }
    buf[bl++] = '0';
    buf[bl++] = '.';

    bool sawdot = false, sawdigits = false, underscores = false, sticky = false;
    long long nd = 0, dp = 0;
    size_t kept = 0;
    for (; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '_') {
            underscores = true;
            continue;
        }
        if (c == '.') {
            if (sawdot)
                break;
            sawdot = true;
            dp = nd;
            continue;
        }
        if (digit_val(c, hex) < 0)
            break;
        sawdigits = true;
        if (c == '0' && nd == 0) { /* leading zero: only moves the point */
            dp--;
            continue;
        }
        nd++;
        if (kept < KEEP_DIGITS) {
            buf[bl++] = (char)c;
            kept++;
        } else if (c != '0') {
            sticky = true;
        }
    }
    if (!sawdigits)
        return VN_NUM_SYNTAX;
    if (!sawdot)
        dp = nd;

    long long e = 0;
    int esign = 1;
    if (i < n && lower((unsigned char)s[i]) == (hex ? 'p' : 'e')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            esign = s[i] == '-' ? -1 : 1;
            i++;
        }
        if (i >= n || s[i] < '0' || s[i] > '9')
            return VN_NUM_SYNTAX;
        for (; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'); i++) {
            if (s[i] == '_') {
                underscores = true;
                continue;
            }
            if (e < 10000)
                e = e * 10 + (s[i] - '0');
        }
    } else if (hex) {
        return VN_NUM_SYNTAX; /* Go: a hex mantissa must have a p exponent */
    }
    if (i != n)
        return VN_NUM_SYNTAX;
    if (underscores && (!hex || !underscores_ok(s, n)))
        return VN_NUM_SYNTAX;

    if (sticky)
        buf[bl++] = '1';
    if (kept == 0)
        buf[bl++] = '0';
    /* value = 0.<digits> * base^dp * 10^e (decimal) or * 2^e (hex) */
    long long x = hex ? dp * 4 + esign * e : dp + esign * e;
    int w = snprintf(buf + bl, CANON_CAP - bl, "%c%lld", hex ? 'p' : 'e', x);
    if (w < 0 || (size_t)w >= CANON_CAP - bl)
        return VN_NUM_SYNTAX; /* cannot happen: the exponent has < 24 digits */
    double v = strtod(buf, NULL);
    *out = v;
    return isinf(v) ? VN_NUM_RANGE : VN_NUM_OK;
}

int vn_parse__float(const char *s, size_t n, double *out)
{
    /* Fast path. "-12.5"
     *             ^        sign
     *              ^^^^    digits and at most one '.'; anything else -> slow path */
    const char *p = s, *end = s + n;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    uint64_t m = 0;
    unsigned nd = 0, fd = 0;
    bool dot = false;
    for (; p < end; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d < 10) {
            if (nd == 19)
                return parse_float_slow(s, n, out);
            m = m * 10 + d;
            nd++;
            fd += dot;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            return parse_float_slow(s, n, out);
        }
    }
    if (nd == 0 || m > (1ull << 53) || fd > 22)
        return parse_float_slow(s, n, out);
    double v = (double)m;
    if (fd)
        v /= k_pow10[fd];
    *out = neg ? -v : v;
    return VN_NUM_OK;
}

int vn_parse__int64(const char *s, size_t n, int64_t *out)
{
    /* "-1136239445": optional sign, then decimal digits only */
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return VN_NUM_SYNTAX;
    /* Like Go (ParseUint, then a signed bound), a digit that overflows uint64
     * ends the scan with a range error; syntax is checked up to there. */
    uint64_t acc = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d >= 10)
            return VN_NUM_SYNTAX;
        if (acc > (UINT64_MAX - d) / 10)
            return VN_NUM_RANGE;
        acc = acc * 10 + d;
    }
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (acc > lim)
        return VN_NUM_RANGE;
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return VN_NUM_OK;
}
