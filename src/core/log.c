/* log.c - logfmt writer. One write(2) per line so threads never interleave. */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

static vn_log_level_t g_level = VN_LOG_INFO; /* set once before threads start */
static _Atomic uint64_t g_suppressed;
/* Sites that have dropped lines (never removed: a site is static), for the periodic report. */
static vn_log_site_t *_Atomic g_pending[VN_LOG_PENDING_MAX];
static _Atomic uint64_t g_last_report_s; /* now_s() of the last automatic report */

void vn_log_set_level(vn_log_level_t level) { g_level = level; }
uint64_t vn_log_suppressed_total(void) { return atomic_load_explicit(&g_suppressed, memory_order_relaxed); }

/* Whole seconds of CLOCK_MONOTONIC, +1 so that a used bucket is never 0. */
static uint64_t now_s(void) { return vn_clock_mono_ms() / 1000u + 1; }

/* Takes one token from the site's bucket. Lock-free: the whole bucket is one word,
 * so concurrent callers at one site never lose or double-spend a token. */
static bool site_take(vn_log_site_t *site)
{
    uint64_t now = now_s();
    uint64_t old = atomic_load_explicit(&site->bucket, memory_order_relaxed);
    for (;;) {
        uint64_t tokens, last;
        if (old == 0) {
            tokens = VN_LOG_BURST;
            last = now;
        } else {
            tokens = old & 0xff;
            last = old >> 8;
            if (now > last) {
                uint64_t add = (now - last) * VN_LOG_PER_SEC;
                tokens = add >= VN_LOG_BURST || tokens + add >= VN_LOG_BURST ? VN_LOG_BURST : tokens + add;
                last = now;
            }
        }
        if (tokens == 0)
            return false;
        uint64_t next = (last << 8) | (tokens - 1);
        if (atomic_compare_exchange_weak_explicit(&site->bucket, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
}

static void vwrite_line(vn_log_level_t level, int err_no, uint64_t suppressed, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void vwrite_line(vn_log_level_t level, int err_no, uint64_t suppressed, const char *fmt, va_list ap)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     names[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 128)
        len = sizeof line - 128; /* truncated; keep room for errno, the suppressed count and newline */
    /* A format argument that was not quoted must still not split the line. */
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    if (err_no != 0) {
        char eb[128];
        const char *et = err_no > 0 ? strerror_r(err_no, eb, sizeof eb) : "unknown";
        int k = snprintf(line + len, sizeof line - len - 1, " errno=%d err=\"%.60s\"", err_no, et);
        if (k > 0)
            len += (size_t)k < sizeof line - len - 1 ? (size_t)k : sizeof line - len - 2;
    }
    if (suppressed) {
        int k = snprintf(line + len, sizeof line - len - 1, " log_suppressed=%llu", (unsigned long long)suppressed);
        if (k > 0)
            len += (size_t)k < sizeof line - len - 1 ? (size_t)k : sizeof line - len - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

/* Gives a site that has just started dropping lines a registry slot (once; when
 * all slots are taken it keeps the report-on-next-line behaviour only). */
static void site_register(vn_log_site_t *site)
{
    if (!site->file || atomic_exchange_explicit(&site->registered, 1, memory_order_relaxed))
        return;
    for (size_t i = 0; i < VN_LOG_PENDING_MAX; i++) {
        vn_log_site_t *expect = NULL;
        if (atomic_compare_exchange_strong_explicit(&g_pending[i], &expect, site, memory_order_release,
                                                    memory_order_relaxed))
            return;
    }
}

/* At most once a second per process, whoever logs first runs the report. */
static void maybe_report(void)
{
    uint64_t now = now_s(), last = atomic_load_explicit(&g_last_report_s, memory_order_relaxed);
    if (now != last &&
        atomic_compare_exchange_strong_explicit(&g_last_report_s, &last, now, memory_order_relaxed,
                                                memory_order_relaxed))
        vn_log_report_suppressed();
}

void vn_log_write_site(vn_log_site_t *site, vn_log_level_t level, int err_no, const char *fmt, ...)
{
    if (level < g_level)
        return;
    uint64_t suppressed = 0;
    if (site) {
        if (!site_take(site)) {
            if (atomic_fetch_add_explicit(&site->suppressed, 1, memory_order_relaxed) == 0)
                site_register(site);
            atomic_fetch_add_explicit(&g_suppressed, 1, memory_order_relaxed);
            maybe_report();
            return;
        }
        if (atomic_load_explicit(&site->suppressed, memory_order_relaxed))
            suppressed = atomic_exchange_explicit(&site->suppressed, 0, memory_order_relaxed);
    }
    va_list ap;
    va_start(ap, fmt);
    vwrite_line(level, err_no, suppressed, fmt, ap);
    va_end(ap);
    maybe_report();
}

static void write_line(vn_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_line(vn_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrite_line(level, 0, 0, fmt, ap);
    va_end(ap);
}

size_t vn_log_report_suppressed(void)
{
    uint64_t now = now_s();
    size_t lines = 0;
    for (size_t i = 0; i < VN_LOG_PENDING_MAX; i++) {
        vn_log_site_t *site = atomic_load_explicit(&g_pending[i], memory_order_acquire);
        if (!site)
            break; /* slots fill in order and are never freed */
        if (atomic_load_explicit(&site->suppressed, memory_order_relaxed) == 0)
            continue;
        /* A site still logging reports its own count, on its next line (within a second). */
        uint64_t last = atomic_load_explicit(&site->bucket, memory_order_relaxed) >> 8;
        if (now < last + VN_LOG_QUIET_S)
            continue;
        uint64_t n = atomic_exchange_explicit(&site->suppressed, 0, memory_order_relaxed);
        if (n == 0)
            continue;
        write_line(VN_LOG_WARN, "event=log_suppressed site=%s:%d count=%llu msg=\"lines over this call site's rate limit\"",
                   site->file, site->line, (unsigned long long)n);
        lines++;
    }
    return lines;
}

void vn_log_write(vn_log_level_t level, int err_no, const char *fmt, ...)
{
    if (level < g_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vwrite_line(level, err_no, 0, fmt, ap);
    va_end(ap);
    maybe_report();
}

/* Bytes the escaped form of c takes. */
static size_t esc_len(unsigned char c)
{
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t')
        return 2;
    return c < 0x20 || c == 0x7f ? 4 : 1;
}

const char *vn_log_quote(char *buf, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (cap == 0)
        return buf;
    if (cap < 32) { /* too small for a value and the cut marker */
        buf[0] = '\0';
        return buf;
    }
    if (!s)
        len = 0;
    /* Does the whole value fit (quotes and NUL included)? Stop counting once it cannot. */
    size_t need = 3;
    for (size_t i = 0; i < len && need <= cap; i++)
        need += esc_len((unsigned char)s[i]);
    /* else keep room for the cut marker: `..."(len=18446744073709551615)` + NUL <= 32 */
    const size_t limit = need <= cap ? cap - 2 : cap - 32;
    size_t o = 0, i = 0;
    buf[o++] = '"';
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = esc_len(c);
        if (o + k > limit)
            break; /* an escape is never cut in half */
        if (k == 1) {
            buf[o++] = (char)c;
        } else if (k == 2) {
            buf[o++] = '\\';
            buf[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    if (i < len) {
        snprintf(buf + o, cap - o, "...\"(len=%zu)", len);
    } else {
        buf[o++] = '"';
        buf[o] = '\0';
    }
    return buf;
}

const char *vn_log_quote_cstr(char *buf, size_t cap, const char *s) { return vn_log_quote(buf, cap, s, s ? strlen(s) : 0); }
