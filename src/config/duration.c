/**
 * duration.c - Go time.ParseDuration syntax, so `interval: 1m30s` and
 * VENEUR_INTERVAL mean what they mean to Go Veneur.
 *
 * Grammar: [-+]? ( "0" | ( digits? ( "." digits? )? unit )+ ), where each
 * element needs at least one digit (before or after the point) and
 * unit is ns, us, µs (U+00B5), μs (U+03BC), ms, s, m or h:
 *
 *     "1m30.5s"  ->  1*60e9 + 30*1e9 + 0.5*1e9 ns
 *      ^^ ^^^^^      one element each; the fraction is scaled into the unit
 *
 * The sum is kept as exact integer nanoseconds with the same overflow limit as
 * Go (|d| <= 2^63 ns, +2^63 itself rejected), then returned as seconds. A bare
 * number other than "0" is an error ("missing unit"), as in Go.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"

#define LIMIT ((uint64_t)1 << 63)

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Leading integer; false on overflow past 2^63. Advances *s. */
static bool leading_int(const char **s, uint64_t *out)
{
    uint64_t x = 0;
    const char *p = *s;
    for (; is_digit(*p); p++) {
        if (x > LIMIT / 10)
            return false;
        x = x * 10 + (uint64_t)(*p - '0');
        if (x > LIMIT)
            return false;
    }
    *s = p;
    *out = x;
    return true;
}

/* Digits after the point: keeps as many as fit, consumes all. */
static void leading_fraction(const char **s, uint64_t *f, double *scale)
{
    uint64_t x = 0;
    double sc = 1;
    bool overflow = false;
    const char *p = *s;
    for (; is_digit(*p); p++) {
        if (overflow)
            continue;
        if (x > (LIMIT - 1) / 10) {
            overflow = true;
            continue;
        }
        uint64_t y = x * 10 + (uint64_t)(*p - '0');
        if (y > LIMIT) {
            overflow = true;
            continue;
        }
        x = y;
        sc *= 10;
    }
    *s = p;
    *f = x;
    *scale = sc;
}

static bool unit_ns(const char *u, size_t n, uint64_t *out)
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
            *out = units[i].ns;
            return true;
        }
    }
    return false;
}

vn_err_t vn_config_parse_duration(const char *s, double *seconds)
{
    if (s == NULL || seconds == NULL)
        return VN_ERR_PARSE;
    bool neg = false;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *seconds = 0;
        return VN_OK;
    }
    if (*s == '\0')
        return VN_ERR_PARSE;
    uint64_t d = 0;
    while (*s) {
        if (!(*s == '.' || is_digit(*s)))
            return VN_ERR_PARSE;
        const char *start = s;
        uint64_t v = 0, f = 0;
        double scale = 1;
        if (!leading_int(&s, &v))
            return VN_ERR_PARSE; /* overflow */
        bool pre = s != start, post = false;
        if (*s == '.') {
            s++;
            const char *fs = s;
            leading_fraction(&s, &f, &scale);
            post = s != fs;
        }
        if (!pre && !post)
            return VN_ERR_PARSE; /* "." or ".s" */
        size_t i = 0;
        while (s[i] && s[i] != '.' && !is_digit(s[i]))
            i++;
        if (i == 0)
            return VN_ERR_PARSE; /* missing unit */
        uint64_t unit;
        if (!unit_ns(s, i, &unit))
            return VN_ERR_PARSE; /* unknown unit */
        s += i;
        if (v > LIMIT / unit)
            return VN_ERR_PARSE;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > LIMIT)
                return VN_ERR_PARSE;
        }
        d += v;
        if (d > LIMIT)
            return VN_ERR_PARSE;
    }
    if (!neg && d > LIMIT - 1)
        return VN_ERR_PARSE;
    double ns = (double)d;
    *seconds = (neg ? -ns : ns) / 1e9;
    return VN_OK;
}

void vn_cfg__format_duration(double seconds, char *buf, size_t cap)
{
    double nsd = seconds * 1e9;
    if (!(nsd > -9.2e18 && nsd < 9.2e18)) {
        snprintf(buf, cap, "0s");
        return;
    }
    long long ns = llround(nsd);
    const char *unit = "ns";
    long long div = 1;
    if (ns % 1000000000LL == 0) {
        unit = "s";
        div = 1000000000LL;
    } else if (ns % 1000000LL == 0) {
        unit = "ms";
        div = 1000000LL;
    } else if (ns % 1000LL == 0) {
        unit = "us";
        div = 1000LL;
    }
    snprintf(buf, cap, "%lld%s", ns / div, unit);
}
