/*
 * localfile_csv.c - the localfile sink's `format: csv` rows (the gzip members: core/gzip.h),
 * byte-compatible with Go Veneur's util.EncodeInterMetricCSV written through
 * Go's encoding/csv and compress/gzip (docs/behaviour.md W4.7, with the real interval: docs/behaviour.md 0.8).
 *
 * One row per counter/gauge, eight fields, no header, "\n" line ends:
 *
 *     Name  Tags        MetricType  VeneurHostname  Interval  Timestamp            Value  Partition
 *     a.b   {x:1,y:2}   rate        host1           10        2023-11-14 01:05:09  0.3    20231114
 *
 * (tab-separated in the file). MetricType is "rate" for counters (Value =
 * interval sum / interval seconds) and "gauge" for gauges; status checks are not
 * written. Timestamp uses Go's layout "2006-01-02 03:04:05": UTC, hour on a
 * 12-hour clock ("01" for 13:xx, "12" for 00:xx and 12:xx) and no AM/PM marker.
 * Value is the shortest round-trip decimal without exponent (Go FormatFloat 'f', -1).
 *
 * Quoting (Go encoding/csv Writer, UseCRLF false): a field is wrapped in '"'
 * when it is non-empty and either equals `\.`, contains the delimiter, '"',
 * '\r' or '\n', or starts with a Unicode white-space rune (unicode.IsSpace);
 * inside quotes '"' is doubled and everything else is copied as is.
 */
#include <string.h>
#include <time.h>

#include "core/gonum.h"
#include "sinks/sink_internal.h"

/* Decodes the first rune of s[0..n) if it is valid UTF-8; returns its code
 * point, or -1 (Go's RuneError, which is not a space). */
static long first_rune(const unsigned char *s, size_t n)
{
    if (n == 0)
        return -1;
    unsigned char c = s[0];
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF && n >= 2 && (s[1] & 0xC0) == 0x80)
        return ((long)(c & 0x1F) << 6) | (s[1] & 0x3F);
    if (c >= 0xE0 && c <= 0xEF && n >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
        long r = ((long)(c & 0x0F) << 12) | ((long)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) ? -1 : r;
    }
    if (c >= 0xF0 && c <= 0xF4 && n >= 4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
        (s[3] & 0xC0) == 0x80) {
        long r = ((long)(c & 0x07) << 18) | ((long)(s[1] & 0x3F) << 12) | ((long)(s[2] & 0x3F) << 6) |
                 (s[3] & 0x3F);
        return (r < 0x10000 || r > 0x10FFFF) ? -1 : r;
    }
    return -1;
}

/* Go unicode.IsSpace. */
static bool is_unicode_space(long r)
{
    switch (r) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return r >= 0x2000 && r <= 0x200A;
    }
}

/* Does p[0..n) contain '"', '\r', '\n' or the delimiter? */
static bool has_special(const char *p, size_t n, const char *delim, size_t dlen)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '"' || c == '\r' || c == '\n')
            return true;
        if (c == delim[0] && dlen <= n - i && memcmp(p + i, delim, dlen) == 0)
            return true;
    }
    return false;
}

/* Appends p[0..n) with every '"' doubled. */
static vn_err_t add_escaped(vn_buf_t *b, const char *p, size_t n)
{
    vn_err_t err = VN_OK;
    const char *q;
    while (err == VN_OK && n > 0 && (q = memchr(p, '"', n)) != NULL) {
        size_t k = (size_t)(q - p) + 1; /* through the quote */
        err = vn_buf_add(b, p, k);
        if (err == VN_OK)
            err = vn_buf_add_byte(b, '"');
        p += k;
        n -= k;
    }
    if (err == VN_OK)
        err = vn_buf_add(b, p, n);
    return err;
}

/* One field followed by `sep` (the delimiter, or "\n" after the last field). */
static vn_err_t add_field(vn_buf_t *b, const char *p, size_t n, const char *delim, size_t dlen, const char *sep,
                          size_t seplen)
{
    bool quote = n > 0 && ((n == 2 && p[0] == '\\' && p[1] == '.') || has_special(p, n, delim, dlen) ||
                           is_unicode_space(first_rune((const unsigned char *)p, n)));
    vn_err_t err = VN_OK;
    if (quote) {
        err = vn_buf_add_byte(b, '"');
        if (err == VN_OK)
            err = add_escaped(b, p, n);
        if (err == VN_OK)
            err = vn_buf_add_byte(b, '"');
    } else {
        err = vn_buf_add(b, p, n);
    }
    if (err == VN_OK)
        err = vn_buf_add(b, sep, seplen);
    return err;
}

/* The Tags field "{t1,t2}" (excluded tags left out). It always starts with '{',
 * so only the containment rules can make it quoted; the pieces are checked one
 * by one because the delimiter is a whole rune and cannot span two pieces (the
 * separators are ASCII). */
static vn_err_t add_tags_field(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m, const char *delim,
                               size_t dlen)
{
    bool quote = has_special("{", 1, delim, dlen) || has_special("}", 1, delim, dlen);
    size_t kept = 0;
    for (size_t i = 0; i < m->ntags && !quote; i++) {
        if (vn_sink__tag_excluded(s, m->tags[i]))
            continue;
        if ((kept++ > 0 && has_special(",", 1, delim, dlen)) ||
            has_special(m->tags[i], strlen(m->tags[i]), delim, dlen))
            quote = true;
    }
    vn_err_t err = quote ? vn_buf_add_byte(b, '"') : VN_OK;
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '{');
    bool first = true;
    for (size_t i = 0; err == VN_OK && i < m->ntags; i++) {
        if (vn_sink__tag_excluded(s, m->tags[i]))
            continue;
        if (!first)
            err = vn_buf_add_byte(b, ',');
        first = false;
        if (err == VN_OK) {
            size_t n = strlen(m->tags[i]);
            err = quote ? add_escaped(b, m->tags[i], n) : vn_buf_add(b, m->tags[i], n);
        }
    }
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '}');
    if (err == VN_OK && quote)
        err = vn_buf_add_byte(b, '"');
    if (err == VN_OK)
        err = vn_buf_add(b, delim, dlen);
    return err;
}

vn_err_t vn_sink__csv_row(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m, const char *delim,
                          size_t dlen, const char *hostname, double interval_s, int64_t partition_ts)
{
    const char *mtype;
    double value = m->value;
    if (m->type == VN_IM_COUNTER) {
        mtype = "rate";
        value = m->value / interval_s;
    } else if (m->type == VN_IM_GAUGE) {
        mtype = "gauge";
    } else {
        return VN_OK; /* status checks have no CSV form (Go returns an error and writes nothing) */
    }

    char ival[24], ts[32], val[VN_GONUM_FLOAT_MAX], part[16];
    int ivlen = snprintf(ival, sizeof ival, "%lld", (long long)interval_s);

    struct tm tm;
    time_t t = (time_t)m->timestamp;
    int tslen = 0;
    if (gmtime_r(&t, &tm)) {
        int h12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
        tslen = snprintf(ts, sizeof ts, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, h12, tm.tm_min, tm.tm_sec);
    }
    t = (time_t)partition_ts;
    int partlen = 0;
    if (gmtime_r(&t, &tm))
        partlen = snprintf(part, sizeof part, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    size_t vlen = vn_gonum_format_float(value, VN_GONUM_FMT_F, val, sizeof val);
    if (!hostname)
        hostname = "";

    const char *name = m->name ? m->name : "";
    vn_err_t err = add_field(b, name, strlen(name), delim, dlen, delim, dlen);
    if (err == VN_OK)
        err = add_tags_field(b, s, m, delim, dlen);
    if (err == VN_OK)
        err = add_field(b, mtype, strlen(mtype), delim, dlen, delim, dlen);
    if (err == VN_OK)
        err = add_field(b, hostname, strlen(hostname), delim, dlen, delim, dlen);
    if (err == VN_OK)
        err = add_field(b, ival, (size_t)ivlen, delim, dlen, delim, dlen);
    if (err == VN_OK)
        err = add_field(b, ts, (size_t)tslen, delim, dlen, delim, dlen);
    if (err == VN_OK)
        err = add_field(b, val, vlen, delim, dlen, delim, dlen);
    if (err == VN_OK)
        err = add_field(b, part, (size_t)partlen, delim, dlen, "\n", 1);
    return err;
}

size_t vn_sink__csv_delim_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    long r = first_rune(u, n);
    if (r <= 0 || r == '"' || r == '\r' || r == '\n' || r == 0xFFFD)
        return 0;
    return r < 0x80 ? 1 : r < 0x800 ? 2 : r < 0x10000 ? 3 : 4;
}
