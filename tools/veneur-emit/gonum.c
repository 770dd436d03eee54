/*
 * gonum.c - numbers as Go's flag package reads them, and the gauge format that
 * datadog-go writes.
 *
 * veneur-emit must accept exactly the values Go veneur-emit accepts, so these
 * are Go's grammars, not C's (strtoll/strtod accept leading blanks, "0x1.8"
 * without an exponent, "nan(123)", and reject "1_000"):
 *
 *   int64     [+-] ( 0x hex | 0o oct | 0b bin | 0 oct | dec ), "_" only between
 *             digits or after a base prefix                 e.g. 0x1F, 1_000, -017
 *   float64   [+-] ( inf | infinity | dec[.dec][e[+-]dec] | 0x hex[.hex]p[+-]dec )
 *             or nan (no sign); case-insensitive words; same "_" rule
 *   duration  [+-] ( "0" | ( [digits][.digits] unit )+ )    e.g. 1.5s, 1h2m, 1500us
 *
 * The float is validated here, stripped of "_" and handed to strtod, which is
 * correctly rounded for every syntax we let through.
 *
 * Gauge output: Go FormatFloat(v, 'f', -1, 64) = the shortest digit string that
 * parses back to v (ties: the one closest to v), written in plain positional
 * notation. We find it by asking printf for 1, 2, ... 17 significant digits and
 * keeping the first that round-trips; printf rounds correctly, so the candidate
 * of each length is the closest one. At a power of two the interval that reads
 * back as v is lopsided, and a candidate one unit away in the last digit can
 * round-trip where the closest does not, so those two are tried as well.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "emit.h"

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static bool is_dec(int c) { return c >= '0' && c <= '9'; }
static bool is_hex(int c) { return is_dec(c) || (lower(c) >= 'a' && lower(c) <= 'f'); }

/*
 * Go's rule for "_" in a number literal: each "_" sits between two digits, or
 * between a base prefix and a digit.
 *   1_000   ok      _1, 1_, 1__0, 1_.5   rejected     0x_1F  ok
 */
static bool underscores_ok(const char *s, size_t n)
{
    size_t i = 0;
    char saw = '^'; /* ^ start, 0 digit or prefix, _ underscore, ! other */
    bool hex = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-'))
        i = 1;
    if (n - i >= 2 && s[i] == '0' && strchr("box", lower(s[i + 1]))) {
        hex = lower(s[i + 1]) == 'x';
        i += 2;
        saw = '0';
    }
    for (; i < n; i++) {
        if (is_dec(s[i]) || (hex && is_hex(s[i]))) {
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

bool vn_emit_parse_int64(const char *s, int64_t *out, const char **why)
{
    size_t n = strlen(s);
    const char *p = s;
    bool neg = false;
    *why = "parse error";
    if (n == 0)
        return false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    /* 0x1F: base 16 ^^ prefix consumed, digits follow */
    unsigned base = 10;
    if (p[0] == '0' && p[1] != '\0') {
        switch (lower(p[1])) {
        case 'x': base = 16; p += 2; break;
        case 'o': base = 8; p += 2; break;
        case 'b': base = 2; p += 2; break;
        default: base = 8; p += 1; break; /* 017: leading zero means octal */
        }
    }
    if (*p == '\0' && base != 8)
        return false; /* "0x", "-" */
    if (strchr(s, '_') && !underscores_ok(s, n))
        return false;
    uint64_t v = 0;
    bool any = base == 8 && p > s && p[-1] == '0'; /* "0_7" after the octal 0 */
    for (; *p; p++) {
        if (*p == '_')
            continue;
        unsigned d;
        if (is_dec(*p))
            d = (unsigned)(*p - '0');
        else if (lower(*p) >= 'a' && lower(*p) <= 'z')
            d = (unsigned)(lower(*p) - 'a' + 10);
        else
            return false;
        if (d >= base)
            return false;
        any = true;
        if (v > (UINT64_MAX - d) / base) {
            *why = "value out of range";
            return false;
        }
        v = v * base + d;
    }
    if (!any)
        return false;
    if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)) {
        *why = "value out of range";
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* Case-insensitive: does s begin with word? Returns the matched length. */
static size_t prefix_ci(const char *s, const char *word)
{
    size_t i = 0;
    while (word[i] && lower((unsigned char)s[i]) == word[i])
        i++;
    return i;
}

bool vn_emit_parse_float64(const char *s, double *out, const char **why)
{
    size_t n = strlen(s);
    const char *p = s;
    *why = "parse error";
    if (n == 0)
        return false;
    /* Words: "nan" takes no sign; "inf"/"infinity" may have one. */
    if (prefix_ci(s, "nan") == 3 && n == 3) {
        *out = NAN;
        return true;
    }
    double sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    size_t rest = n - (size_t)(p - s);
    if ((prefix_ci(p, "inf") == 3 && rest == 3) || (prefix_ci(p, "infinity") == 8 && rest == 8)) {
        *out = sign * INFINITY;
        return true;
    }
    /* -0x1.8p3: mantissa digits with at most one point, then the exponent */
    bool hex = p[0] == '0' && lower(p[1]) == 'x';
    const char *q = hex ? p + 2 : p;
    bool digits = false, dot = false;
    for (; *q; q++) {
        if (*q == '_')
            continue;
        if (*q == '.' && !dot) {
            dot = true;
            continue;
        }
        if (hex ? is_hex(*q) : is_dec(*q)) {
            digits = true;
            continue;
        }
        break;
    }
    if (!digits)
        return false;
    if (lower(*q) == (hex ? 'p' : 'e')) {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!is_dec(*q))
            return false;
        while (is_dec(*q) || *q == '_')
            q++;
    } else if (hex) {
        return false; /* Go: a hex mantissa needs a 'p' exponent */
    }
    if (*q != '\0')
        return false;
    if (strchr(s, '_') && !underscores_ok(s, n))
        return false;
    char *clean = vn_xmalloc(n + 1); /* n comes from argv */
    size_t k = 0;
    for (const char *c = s; *c; c++)
        if (*c != '_')
            clean[k++] = *c;
    clean[k] = '\0';
    char *end;
    double v = strtod(clean, &end);
    bool whole = *end == '\0';
    free(clean);
    if (!whole)
        return false;
    if (isinf(v)) { /* overflow: Go reports ErrRange; underflow to 0 is fine */
        *why = "value out of range";
        return false;
    }
    *out = v;
    return true;
}

bool vn_emit_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Nanoseconds per unit; the unit is the longest run of bytes that are neither
 * digits nor '.', so "1.5sx" has unit "sx" (unknown). */
static bool unit_ns(const char *u, size_t n, uint64_t *ns)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000}, /* U+03BC greek mu */
        {"ms", 1000000},
        {"s", 1000000000ull},
        {"m", 60000000000ull},
        {"h", 3600000000000ull},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) {
            *ns = units[i].ns;
            return true;
        }
    }
    return false;
}

bool vn_emit_parse_duration(const char *s, int64_t *ns, const char **why)
{
    const uint64_t lim = (uint64_t)1 << 63;
    const char *p = s;
    bool neg = false;
    uint64_t total = 0;
    *why = "invalid duration";
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return true;
    }
    if (*p == '\0')
        return false;
    while (*p) {
        /* 1.5ms: whole part, optional fraction, unit
         * ^       ^^       ^^                         */
        if (!(*p == '.' || is_dec(*p)))
            return false;
        uint64_t whole = 0;
        const char *start = p;
        for (; is_dec(*p); p++) {
            if (whole > lim / 10)
                goto overflow;
            whole = whole * 10 + (uint64_t)(*p - '0');
            if (whole > lim)
                goto overflow;
        }
        bool pre = p != start, post = false;
        uint64_t frac = 0;
        double scale = 1;
        if (*p == '.') {
            p++;
            const char *fs = p;
            bool full = false; /* later digits are below nanosecond precision */
            for (; is_dec(*p); p++) {
                if (full)
                    continue;
                if (frac > (lim - 1) / 10) {
                    full = true;
                    continue;
                }
                uint64_t y = frac * 10 + (uint64_t)(*p - '0');
                if (y > lim) {
                    full = true;
                    continue;
                }
                frac = y;
                scale *= 10;
            }
            post = p != fs;
        }
        if (!pre && !post)
            return false;
        const char *u = p;
        while (*p && *p != '.' && !is_dec(*p))
            p++;
        if (p == u) {
            *why = "missing unit in duration (want ns, us, ms, s, m or h)";
            return false;
        }
        uint64_t unit;
        if (!unit_ns(u, (size_t)(p - u), &unit)) {
            *why = "unknown unit in duration (want ns, us, ms, s, m or h)";
            return false;
        }
        if (whole > lim / unit)
            goto overflow;
        whole *= unit;
        if (frac > 0) {
            whole += (uint64_t)((double)frac * ((double)unit / scale));
            if (whole > lim)
                goto overflow;
        }
        total += whole;
        if (total > lim)
            goto overflow;
    }
    if (neg) {
        *ns = (int64_t)(0 - total);
        return true;
    }
    if (total > lim - 1)
        goto overflow;
    *ns = (int64_t)total;
    return true;
overflow:
    *why = "duration out of range";
    return false;
}

/* Significant digits of |v| as an integer m and exponent e (|v| ~ m * 10^e),
 * with `prec` digits, as printf rounds them. */
static void sci_digits(double v, int prec, uint64_t *m, int *e)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, fabs(v));
    /* "1.5e+03" -> m = 15, exponent 3 */
    uint64_t x = 0;
    const char *c = tmp;
    for (; *c && *c != 'e'; c++)
        if (is_dec(*c))
            x = x * 10 + (uint64_t)(*c - '0');
    int ex = 0, esign = c[0] && c[1] == '-' ? -1 : 1;
    for (c += c[0] ? 2 : 0; is_dec(*c); c++)
        ex = ex * 10 + (*c - '0');
    *m = x;
    *e = esign * ex - (prec - 1);
}

static bool round_trips(double av, uint64_t m, int e)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%" PRIu64 "e%d", m, e);
    return strtod(tmp, NULL) == av;
}

size_t vn_emit_format_float(double v, char *out, size_t cap)
{
    if (isnan(v))
        return (size_t)snprintf(out, cap, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    const char *sign = signbit(v) ? "-" : "";
    if (v == 0)
        return (size_t)snprintf(out, cap, "%s0", sign);
    double av = fabs(v);
    uint64_t m = 0;
    int e = 0;
    for (int prec = 1; prec <= 17; prec++) {
        sci_digits(av, prec, &m, &e);
        if (round_trips(av, m, e))
            break;
        if (round_trips(av, m + 1, e)) {
            m += 1;
            break;
        }
        if (m > 1 && round_trips(av, m - 1, e)) {
            m -= 1;
            break;
        }
    }
    while (m % 10 == 0) { /* 1500e-3 -> 15e-1 */
        m /= 10;
        e++;
    }
    char dig[24];
    int nd = snprintf(dig, sizeof dig, "%" PRIu64, m);
    int dp = nd + e; /* digits before the decimal point (may be <= 0) */
    char buf[400];
    size_t k = 0;
    k += (size_t)snprintf(buf, sizeof buf, "%s", sign);
    if (dp <= 0) {
        buf[k++] = '0';
    } else {
        for (int i = 0; i < dp; i++)
            buf[k++] = i < nd ? dig[i] : '0';
    }
    if (e < 0) {
        buf[k++] = '.';
        for (int i = dp; i < nd; i++)
            buf[k++] = i < 0 ? '0' : dig[i];
    }
    buf[k] = '\0';
    return (size_t)snprintf(out, cap, "%s", buf);
}
