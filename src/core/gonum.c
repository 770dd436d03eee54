/*
 * gonum.c - Go's number grammars and shortest float text (see gonum.h).
 *
 * Float parsing, two paths:
 *  - fast: [+-]digits[.digits] with at most 19 digits, mantissa <= 2^53 and at
 *    most 22 fraction digits. Both the mantissa and 10^frac are exact doubles,
 *    so one IEEE division gives the correctly rounded result (Clinger's fast
 *    path) -- the same double Go returns, with no strtod and no copy. This is
 *    the DogStatsD hot path ("1", "12.5", "0.37").
 *  - slow: everything else. The bytes are checked against Go's grammar while
 *    being rewritten into a canonical form in a bounded stack buffer:
 *    "[-]0.<digits>e<exp>" or "[-]0x0.<hexdigits>p<exp>". Leading zeros and
 *    underscores are dropped, at most KEEP_DIGITS significant digits are kept,
 *    plus a sticky '1' when a dropped digit was non-zero. A decimal halfway
 *    point between two doubles has at most 767 significant digits, so the
 *    sticky digit keeps the rounding exact. Only then does strtod (correctly
 *    rounded in glibc) see the NUL-terminated buffer. The exponent is
 *    accumulated like Go's (digits stop counting at 10000), so absurd
 *    exponents saturate the same way.
 *
 * Shortest formatting, two paths:
 *  - few decimals (integers, 0.37, timestamps): the smallest k <= 8 with
 *    round(v*10^k) / 10^k == v exactly (IEEE division is correctly rounded),
 *    which is the shortest form when it has <= 15 digits: every decimal of
 *    <= 15 digits survives the double round trip, so no shorter one reads
 *    back as v. A few multiplies, cheaper than the general path.
 *  - everything else (interpolated percentiles, subnormals, 16-17 digits):
 *    double-conversion's SHORTEST mode (core/dtoa.h), the shortest digits
 *    that read back as v, the closest when several do -- Go's rule, including
 *    the lopsided interval at a power of two (2^-24 = 5.960464477539063e-8).
 *    It replaced printf("%.*e") + strtod round trips that cost microseconds
 *    per value (issue 22); tests/unit/core/test_gonum_shortest.c keeps that
 *    algorithm as the reference and compares millions of doubles byte for byte.
 */
#include "core/gonum.h"

#include "core/dtoa.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ shared bits */

static inline int lower(int c) { return c | 0x20; }

/* Digit value in base 2..36 terms (letters 10..35), or 99. */
static inline unsigned digit_val(int c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    int l = lower(c);
    if (l >= 'a' && l <= 'z')
        return (unsigned)(l - 'a' + 10);
    return 99;
}

/* Case-insensitive equality of s[0..n) with the lower-case word w. */
static bool word_eq(const char *s, size_t n, const char *w)
{
    size_t wn = strlen(w);
    if (n != wn)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != w[i])
            return false;
    return true;
}

/*
 * Go's rule for '_' in a number: each one sits between two digits, or between
 * a base prefix (0b, 0o, 0x; the prefix counts as a digit) and a digit.
 *   1_000 ok    0x_1F ok    _1  1_  1__0  1_.5  1._5  -_1   rejected
 */
static bool underscores_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n && (s[0] == '+' || s[0] == '-')) {
        s++;
        n--;
    }
    char saw = '^'; /* ^ start, 0 digit or prefix, _ underscore, ! other */
    bool hex = false;
    if (n >= 2 && s[0] == '0' && (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
        hex = lower(s[1]) == 'x';
        i = 2;
        saw = '0';
    }
    for (; i < n; i++) {
        unsigned d = digit_val((unsigned char)s[i]);
        if (d < 10 || (hex && d < 16)) {
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

/* ------------------------------------------------------------ ParseFloat */

#define KEEP_DIGITS 800
/* sign + "0x0." + digits + sticky + 'p' + sign + exponent digits + NUL */
#define CANON_CAP (KEEP_DIGITS + 48)

static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static vn_gonum_rc_t parse_float_slow(const char *s, size_t n, unsigned flags, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (n == 0)
        return VN_GONUM_SYNTAX;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    /* "-Infinity" / "inf" / "NaN": Go takes a sign on inf only. */
    if (word_eq(s + i, n - i, "inf") || word_eq(s + i, n - i, "infinity")) {
        *out = neg ? -INFINITY : INFINITY;
        return VN_GONUM_OK;
    }
    if (i == 0 && word_eq(s, n, "nan")) {
        *out = NAN;
        return VN_GONUM_OK;
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
        if (digit_val(c) >= (hex ? 16u : 10u))
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
        return VN_GONUM_SYNTAX;
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
            return VN_GONUM_SYNTAX;
        for (; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'); i++) {
            if (s[i] == '_') {
                underscores = true;
                continue;
            }
            if (e < 10000)
                e = e * 10 + (s[i] - '0');
        }
    } else if (hex) {
        return VN_GONUM_SYNTAX; /* Go: a hex mantissa must have a p exponent */
    }
    if (i != n)
        return VN_GONUM_SYNTAX;
    if (underscores && ((!hex && (flags & VN_GONUM_UNDERSCORE_HEX_ONLY)) || !underscores_ok(s, n)))
        return VN_GONUM_SYNTAX;

    if (sticky)
        buf[bl++] = '1';
    if (kept == 0)
        buf[bl++] = '0';
    /* value = 0.<digits> * base^dp * 10^e (decimal) or * 2^e (hex) */
    long long x = hex ? dp * 4 + esign * e : dp + esign * e;
    int w = snprintf(buf + bl, CANON_CAP - bl, "%c%lld", hex ? 'p' : 'e', x);
    if (w < 0 || (size_t)w >= CANON_CAP - bl)
        return VN_GONUM_SYNTAX; /* cannot happen: the exponent has < 24 digits */
    double v = strtod(buf, NULL);
    *out = v;
    return isinf(v) ? VN_GONUM_RANGE : VN_GONUM_OK;
}

vn_gonum_rc_t vn_gonum_parse_float(const char *s, size_t n, unsigned flags, double *out)
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
                return parse_float_slow(s, n, flags, out);
            m = m * 10 + d;
            nd++;
            fd += dot;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            return parse_float_slow(s, n, flags, out);
        }
    }
    if (nd == 0 || m > (1ull << 53) || fd > 22)
        return parse_float_slow(s, n, flags, out);
    double v = (double)m;
    if (fd)
        v /= k_pow10[fd];
    *out = neg ? -v : v;
    return VN_GONUM_OK;
}

/* ------------------------------------------------------------ ParseInt */

vn_gonum_rc_t vn_gonum_parse_int64(const char *s, size_t n, int base, int64_t *out)
{
    /* "-1136239445", base 0 also "0x1F", "0o17", "017", "1_000" */
    if (base != 0 && base != 10)
        return VN_GONUM_SYNTAX;
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return VN_GONUM_SYNTAX;
    size_t start = i; /* Go checks underscores on the text after the sign */
    unsigned b = 10;
    if (base == 0 && s[i] == '0') {
        int p = n - i >= 3 ? lower((unsigned char)s[i + 1]) : 0;
        if (p == 'b' || p == 'o' || p == 'x') {
            b = p == 'b' ? 2 : p == 'o' ? 8 : 16;
            i += 2;
        } else {
            b = 8; /* 017: a leading zero means octal ("0" alone is 0) */
            i += 1;
        }
    }
    /* Like Go (ParseUint, then a signed bound), a digit that overflows uint64
     * ends the scan with a range error; syntax is checked up to there. */
    uint64_t acc = 0;
    bool underscores = false;
    for (; i < n; i++) {
        if (s[i] == '_' && base == 0) {
            underscores = true;
            continue;
        }
        unsigned d = digit_val((unsigned char)s[i]);
        if (d >= b)
            return VN_GONUM_SYNTAX;
        if (acc > (UINT64_MAX - d) / b)
            return VN_GONUM_RANGE;
        acc = acc * b + d;
    }
    if (underscores && !underscores_ok(s + start, n - start))
        return VN_GONUM_SYNTAX;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (acc > lim)
        return VN_GONUM_RANGE;
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return VN_GONUM_OK;
}

/* ------------------------------------------------------------ ParseBool */

bool vn_gonum_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, true;
        if (strcmp(s, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

/* ------------------------------------------------------------ ParseDuration */

#define DUR_LIMIT ((uint64_t)1 << 63)

static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* Nanoseconds per unit. The unit is the run of bytes up to the next digit or
 * '.', so "1.5sx" has unit "sx" (unknown), as in Go. */
static bool unit_ns(const char *u, size_t n, uint64_t *ns)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
        {"ms", 1000000},
        {"s", 1000000000ull},
        {"m", 60ull * 1000000000ull},
        {"h", 3600ull * 1000000000ull},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) {
            *ns = units[i].ns;
            return true;
        }
    }
    return false;
}

vn_gonum_rc_t vn_gonum_parse_duration(const char *s, size_t n, int64_t *ns)
{
    const char *p = s, *end = s + n;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    if (end - p == 1 && *p == '0') {
        *ns = 0;
        return VN_GONUM_OK;
    }
    if (p == end)
        return VN_GONUM_SYNTAX;
    uint64_t total = 0;
    while (p < end) {
        /* 1.5ms: whole part, optional fraction, unit
         * ^       ^^       ^^                         */
        if (!(*p == '.' || is_digit(*p)))
            return VN_GONUM_SYNTAX;
        uint64_t whole = 0;
        const char *start = p;
        for (; p < end && is_digit(*p); p++) {
            if (whole > DUR_LIMIT / 10)
                return VN_GONUM_RANGE;
            whole = whole * 10 + (uint64_t)(*p - '0');
            if (whole > DUR_LIMIT)
                return VN_GONUM_RANGE;
        }
        bool pre = p != start, post = false;
        uint64_t frac = 0;
        double scale = 1;
        if (p < end && *p == '.') {
            p++;
            const char *fs = p;
            bool full = false; /* later digits are below what a uint64 fraction holds */
            for (; p < end && is_digit(*p); p++) {
                if (full)
                    continue;
                if (frac > (DUR_LIMIT - 1) / 10) {
                    full = true;
                    continue;
                }
                uint64_t y = frac * 10 + (uint64_t)(*p - '0');
                if (y > DUR_LIMIT) {
                    full = true;
                    continue;
                }
                frac = y;
                scale *= 10;
            }
            post = p != fs;
        }
        if (!pre && !post)
            return VN_GONUM_SYNTAX; /* "." or ".s" */
        const char *u = p;
        while (p < end && *p != '.' && !is_digit(*p))
            p++;
        if (p == u)
            return VN_GONUM_NO_UNIT;
        uint64_t unit;
        if (!unit_ns(u, (size_t)(p - u), &unit))
            return VN_GONUM_BAD_UNIT;
        if (whole > DUR_LIMIT / unit)
            return VN_GONUM_RANGE;
        whole *= unit;
        if (frac > 0) {
            whole += (uint64_t)((double)frac * ((double)unit / scale));
            if (whole > DUR_LIMIT)
                return VN_GONUM_RANGE;
        }
        total += whole;
        if (total > DUR_LIMIT)
            return VN_GONUM_RANGE;
    }
    if (neg) {
        *ns = (int64_t)(0 - total);
        return VN_GONUM_OK;
    }
    if (total > DUR_LIMIT - 1)
        return VN_GONUM_RANGE;
    *ns = (int64_t)total;
    return VN_GONUM_OK;
}

/* ------------------------------------------------------------ FormatFloat */

/* Digits of a finite v > 0 with at most 8 decimals and 15 digits: m and
 * exp10 with v ~ m * 10^exp10 (m may end in zeros). Returns 0 when v has no
 * such form.
 * Integers (counts, min, max) are taken first, with one conversion. Below
 * 1e7 one test at k = 8 then decides for every k <= 8: if v is the double
 * nearest r/10^k, v*1e8 is within 0.2 of r*10^(8-k) (v's and the product's
 * rounding errors are both < 0.125 below 2^50), so llround finds that
 * integer and dividing it by 1e8 rounds back to v. Arbitrary doubles
 * (percentiles) are thus rejected with two tests, not nine. */
static int fast_digits(double v, uint64_t *m, int *exp10)
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    if (v >= 1e15)
        return 0;
    long long i = (long long)v;
    if ((double)i == v) {
        *m = (uint64_t)i;
        *exp10 = 0;
        return i != 0;
    }
    for (int k = v * 1e8 < 1e15 ? 8 : 1; k < 9; k++) {
        double scaled = v * p10[k];
        if (scaled >= 1e15)
            return 0;
        long long r = llround(scaled);
        if (r == 0 || (double)r / p10[k] != v)
            continue;
        *m = (uint64_t)r;
        *exp10 = -k;
        return 1;
    }
    return 0;
}

/* Shortest digits of a finite v > 0 into digs (no trailing zeros); returns
 * their count and sets *dp, the position of the decimal point (v =
 * 0.d1d2... * 10^dp, Go's decimal.dp). */
static int shortest(double v, char digs[24], int *dp)
{
    uint64_t m = 0;
    int e = 0;
    if (!(v >= DBL_MIN && fast_digits(v, &m, &e)))
        return vn_dtoa_shortest(v, digs, dp);
    while (m % 10000 == 0) { /* 12.5 arrives as 1250000000e-8 */
        m /= 10000;
        e += 4;
    }
    while (m % 10 == 0) { /* 1500e-3 -> 15e-1 */
        m /= 10;
        e++;
    }
    /* by hand, not snprintf: this runs once per flushed value in every sink (issue 22) */
    char rev[24];
    int nd = 0;
    do {
        rev[nd++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    for (int i = 0; i < nd; i++)
        digs[i] = rev[nd - 1 - i];
    digs[nd] = '\0';
    *dp = nd + e;
    return nd;
}

/* 'f' layout: "12345" dp 3 -> "123.45", dp -2 -> "0.0012345", dp 7 -> "1234500". */
static size_t layout_f(char *o, const char *digs, int nd, int dp)
{
    size_t n = 0;
    if (dp <= 0) {
        o[n++] = '0';
    } else {
        for (int i = 0; i < dp; i++)
            o[n++] = i < nd ? digs[i] : '0';
    }
    if (nd > dp) {
        o[n++] = '.';
        for (int i = dp; i < nd; i++)
            o[n++] = i < 0 ? '0' : digs[i];
    }
    return n;
}

/* 'e' layout: "1.5e+21"; Go pads the exponent to two digits, and
 * encoding/json then trims the padding of negative ones ("1e-7"). */
static size_t layout_e(char *o, const char *digs, int nd, int dp, bool trim_neg)
{
    size_t n = 0;
    o[n++] = digs[0];
    if (nd > 1) {
        o[n++] = '.';
        for (int i = 1; i < nd; i++)
            o[n++] = digs[i];
    }
    int x = dp - 1;
    int w = x < 0 ? snprintf(o + n, 8, trim_neg ? "e-%d" : "e-%02d", -x) : snprintf(o + n, 8, "e+%02d", x);
    return n + (size_t)w;
}

size_t vn_gonum_format_float(double v, vn_gonum_fmt_t fmt, char *out, size_t cap)
{
    char tmp[VN_GONUM_FLOAT_MAX];
    size_t n = 0;
    if (isnan(v) || isinf(v)) {
        const char *s = isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
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
            int dp;
            int nd = shortest(a, digs, &dp);
            int x = dp - 1; /* the exponent in d.ddd x 10^x */
            bool e_form = fmt == VN_GONUM_FMT_G    ? (x < -4 || x >= 6)
                          : fmt == VN_GONUM_FMT_JSON ? (a < 1e-6 || a >= 1e21)
                                                     : false;
            if (e_form)
                n += layout_e(tmp + n, digs, nd, dp, fmt == VN_GONUM_FMT_JSON);
            else
                n += layout_f(tmp + n, digs, nd, dp);
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
