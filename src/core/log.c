/* log.c - logfmt writer. One write(2) per line so threads never interleave. */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static vn_log_level_t g_level = VN_LOG_INFO; /* set once before threads start */

void vn_log_set_level(vn_log_level_t level) { g_level = level; }
vn_log_level_t vn_log_get_level(void) { return g_level; }

void vn_log_write(vn_log_level_t level, int err_no, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < g_level)
        return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 80)
        len = sizeof line - 80; /* truncated; keep room for errno and newline */
    if (err_no != 0) {
        char eb[128];
        const char *et = err_no > 0 ? strerror_r(err_no, eb, sizeof eb) : "unknown";
        int k = snprintf(line + len, sizeof line - len - 1, " errno=%d err=\"%.60s\"", err_no, et);
        if (k > 0)
            len += (size_t)k < sizeof line - len - 1 ? (size_t)k : sizeof line - len - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
