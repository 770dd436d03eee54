/*
 * when.c - -span_starttime / -span_endtime: a date or time stamp -> unix ns.
 *
 * Go veneur-emit hands these to github.com/araddon/dateparse ParseAny, which
 * guesses among hundreds of layouts. We accept the unambiguous core of what it
 * reads (docs/internals/emit.md lists the difference), always as UTC when no
 * zone is written, as ParseAny does:
 *
 *   all digits, by length     4 yyyy   8 yyyymmdd   else unix time: 1-10 digits s,
 *                             11-13 ms, 14-16 us, 17-19 ns (what Go's vendored
 *                             dateparse does, checked against Go veneur-emit)
 *   Y-M-D or Y/M/D            2024-03-05   2024-3-5   2024/03/05
 *     then 'T' or ' ' time    15:04   15:04:05   15:04:05.123456789
 *     then a zone             Z   +07:00   -0700   " UTC"   " GMT"   " +0000 UTC"
 *
 * A bare "+07" zone is refused: Go's dateparse misreads it (as another month).
 *
 * Anything else is an error naming what was not understood, so a typo never
 * becomes a silently wrong timestamp.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "emit.h"

static bool digit(char c) { return c >= '0' && c <= '9'; }

/* Reads 1..max digits; returns how many (0 if none). */
static size_t digits(const char *s, size_t max, int64_t *v)
{
    size_t n = 0;
    *v = 0;
    while (n < max && digit(s[n]))
        *v = *v * 10 + (s[n++] - '0');
    return n;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int64_t m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Calendar fields -> unix ns; false if a field is out of range or the result does not fit int64. */
static bool civil_ns(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s, int64_t frac_ns,
                     int64_t zone_s, int64_t *out, const char **why)
{
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59) {
        *why = "month, day or time of day out of range";
        return false;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - zone_s;
    /* int64 ns spans 1677-09-21 .. 2262-04-11 */
    if (secs < -9223372036LL || secs > 9223372035LL) {
        *why = "outside the years 1678..2262 that unix nanoseconds can hold";
        return false;
    }
    *out = secs * 1000000000 + frac_ns;
    return true;
}

static bool all_digits(const char *s, int64_t *out, const char **why)
{
    size_t n = strlen(s);
    int64_t v, y, mo = 1, d = 1;
    if (n == 4 || n == 8) {
        digits(s, 4, &y);
        if (n == 8) {
            digits(s + 4, 2, &mo);
            digits(s + 6, 2, &d);
        }
        return civil_ns(y, mo, d, 0, 0, 0, 0, 0, out, why);
    }
    if (n > 19 || (n == 19 && strcmp(s, "9223372036854775807") > 0)) {
        *why = "out of range for unix nanoseconds";
        return false;
    }
    digits(s, 19, &v);
    /* unix seconds, ms, us or ns by digit count; seconds and ms stay below 2^63 ns up to 10 and 13 digits */
    static const int64_t scale[4] = {1000000000, 1000000, 1000, 1};
    int64_t k = scale[n <= 10 ? 0 : n <= 13 ? 1 : n <= 16 ? 2 : 3];
    if (v > INT64_MAX / k) {
        *why = "out of range for unix nanoseconds";
        return false;
    }
    *out = v * k;
    return true;
}

/* " UTC", "Z", "+07:00", "-0700", "+07", " +0000 UTC": seconds east of UTC. */
static bool zone(const char *p, int64_t *east, const char **why)
{
    *east = 0;
    if (*p == ' ')
        p++;
    if (*p == 'Z' && p[1] == '\0')
        return true;
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int64_t hh, mm = 0;
        p++;
        if (digits(p, 2, &hh) != 2)
            goto bad;
        p += 2;
        if (*p == ':')
            p++;
        if (digits(p, 2, &mm) != 2)
            goto bad;
        p += 2;
        if (hh > 23 || mm > 59)
            goto bad;
        *east = sign * (hh * 3600 + mm * 60);
        if (*p == ' ')
            p++;
    }
    if (*p == '\0' || strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0)
        return true;
bad:
    *why = "unrecognised time zone (want Z, +07:00, -0700 or UTC)";
    return false;
}

bool vn_emit_parse_time(const char *s, int64_t *unix_ns, const char **why)
{
    const char *p = s;
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, east = 0, v;
    *why = "want a date like 2024-03-05T15:04:05Z, \"2024-03-05 15:04:05\" or unix seconds/ms/us/ns";
    if (*p && strspn(p, "0123456789") == strlen(p))
        return all_digits(p, unix_ns, why);
    /* 2024-03-05T15:04:05.25+01:00
     * ^^^^                          year: exactly 4 digits */
    if (digits(p, 4, &y) != 4 || (p[4] != '-' && p[4] != '/'))
        return false;
    char sep = p[4];
    p += 5;
    size_t n = digits(p, 2, &mo);
    if (n == 0 || p[n] != sep)
        return false;
    p += n + 1;
    if ((n = digits(p, 2, &d)) == 0)
        return false;
    p += n;
    /* 2024-03-05T15:04:05.25+01:00
     *           ^^^^^^^^^^^^^^^^^^ optional time, then optional zone */
    if ((*p == 'T' || *p == ' ') && digit(p[1])) {
        p++;
        if ((n = digits(p, 2, &h)) == 0 || p[n] != ':')
            return false;
        p += n + 1;
        if (digits(p, 2, &mi) != 2)
            return false;
        p += 2;
        if (*p == ':') {
            if (digits(p + 1, 2, &sec) != 2)
                return false;
            p += 3;
            if (*p == '.' || *p == ',') {
                n = digits(p + 1, 9, &v);
                if (n == 0)
                    return false;
                for (frac = v; n < 9; n++)
                    frac *= 10;
                p += 1 + strspn(p + 1, "0123456789"); /* digits past ns are dropped, as Go does */
            }
        }
    }
    if (!zone(p, &east, why))
        return false;
    return civil_ns(y, mo, d, h, mi, sec, frac, east, unix_ns, why);
}
