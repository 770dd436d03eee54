/**
 * log.h - logfmt lines on stderr: `ts=... level=info event=... k=v`.
 *
 * The level threshold is process-wide and set once at start-up (before threads)
 * by vn_log_set_level; reading it afterwards is race-free. Thread-safe: each line
 * is written with a single write(2).
 *
 * Rate limit: every VN_LOG / VN_LOG_ERRNO call site owns a token bucket
 * (VN_LOG_BURST lines at once, then VN_LOG_PER_SEC per second). Many log lines
 * are triggered by remote peers (bad handshakes, bad lines, full caps); without
 * a limit one peer could write the disk full and drown every other line. Lines
 * over the limit are counted, not written; the next line that passes at that
 * site carries `log_suppressed=N` (so during a flood one line per second says
 * how many were dropped), and vn_log_suppressed_total() gives the process total.
 * A burst followed by silence would leave its count unsaid, so a site that has
 * dropped lines registers itself (VN_LOG_PENDING_MAX sites at most), and once it
 * has been quiet for VN_LOG_QUIET_S seconds one `event=log_suppressed site=F:L
 * count=N` line reports what it still holds: see vn_log_report_suppressed.
 *
 * Escaping: a value that came from the network (metric name, tag, peer string,
 * TLS error text) must go through vn_log_quote before it is formatted, so it can
 * neither add logfmt fields nor break the line.
 */
#ifndef VN_CORE_LOG_H
#define VN_CORE_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { VN_LOG_DEBUG = 0, VN_LOG_INFO = 1, VN_LOG_WARN = 2, VN_LOG_ERROR = 3 } vn_log_level_t;

#define VN_LOG_BURST 10u  /* lines a call site may write at once */
#define VN_LOG_PER_SEC 1u /* refill, lines per second per call site */

#define VN_LOG_PENDING_MAX 128u /* call sites whose pending drop counts are reported periodically */
#define VN_LOG_QUIET_S 2u       /* a site silent this long has its pending count reported */

/**
 * Per-call-site limiter state; zero-initialised means a full bucket. A site
 * with file set (as VN_LOG makes them) must have static storage duration: it
 * may be kept in the pending-report registry for the life of the process.
 */
typedef struct vn_log_site {
    _Atomic uint64_t bucket;     /* (refill second << 8) | tokens; 0 = never used */
    _Atomic uint64_t suppressed; /* lines dropped since the last written or reported one */
    const char *file;            /* call site, for the periodic report; NULL = never registered */
    int line;
    _Atomic int registered; /* 1 once it holds a registry slot (or tried: the registry was full) */
} vn_log_site_t;

void vn_log_set_level(vn_log_level_t level);

/**
 * Writes one line unless the level is below the threshold or site (may be NULL:
 * no limit) is over its rate; fmt should begin with "event=...".
 */
void vn_log_write_site(vn_log_site_t *site, vn_log_level_t level, int err_no, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Writes one line without a rate limit (start-up and shutdown messages only). */
void vn_log_write(vn_log_level_t level, int err_no, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Lines dropped by the rate limit since start, all sites together. */
uint64_t vn_log_suppressed_total(void);

/**
 * Writes `event=log_suppressed site=FILE:LINE count=N` for each registered site
 * that holds dropped lines not yet reported and has logged nothing for
 * VN_LOG_QUIET_S seconds, and takes those counts (each drop is reported once,
 * here or on the site's next line). Bounded: at most VN_LOG_PENDING_MAX lines,
 * and a site is only reported again after new drops. Every log call runs it at
 * most once a second; idle daemons also call it about once a second from their
 * main thread so that a burst followed by total silence is still reported.
 * Thread-safe. Returns the number of lines written.
 */
size_t vn_log_report_suppressed(void);

/**
 * Quotes len bytes of s (need not be NUL-terminated; NULL = "") as a logfmt
 * value into buf: `"..."`, with `"` and `\` backslash-escaped, \n \r \t as
 * such, other bytes < 0x20 and 0x7f as \xNN. When it does not fit, the value
 * is cut and ends in `..."` plus the original length (`"abc..."(len=70000)`).
 * Always NUL-terminates when cap > 0; needs cap >= 32 to show anything.
 * Returns buf, so it can be an argument of VN_LOG. buf is owned by the caller.
 */
const char *vn_log_quote(char *buf, size_t cap, const char *s, size_t len);

/** vn_log_quote of a NUL-terminated string. */
const char *vn_log_quote_cstr(char *buf, size_t cap, const char *s);

/** Room for a quoted value of up to 200 input bytes (longer ones are cut). */
#define VN_LOG_QUOTE_CAP 256

/**
 * vn_log_quote_cstr / vn_log_quote into a temporary buffer (a compound literal
 * of VN_LOG_Q_CAP bytes) that lives until the end of the enclosing block, so
 * it can be written straight as a VN_LOG argument:
 *   VN_LOG(WARN, "event=x destination=%s", VN_LOG_Q(addr));
 * The format then has a bare %s: the quotes come with the value.
 */
#define VN_LOG_Q_CAP 512
#define VN_LOG_Q(s) vn_log_quote_cstr((char[VN_LOG_Q_CAP]){0}, VN_LOG_Q_CAP, (s))
#define VN_LOG_QN(s, len) vn_log_quote((char[VN_LOG_Q_CAP]){0}, VN_LOG_Q_CAP, (s), (len))

#define VN_LOG(level, ...)                                                                                             \
    do {                                                                                                               \
        static vn_log_site_t vn_log_site__ = {.file = __FILE__, .line = __LINE__};                                     \
        vn_log_write_site(&vn_log_site__, VN_LOG_##level, 0, __VA_ARGS__);                                             \
    } while (0)
/** Like VN_LOG, and appends errno=N err="text" of the current errno. */
#define VN_LOG_ERRNO(level, ...)                                                                                       \
    do {                                                                                                               \
        int vn_log_errno__ = errno;                                                                                    \
        static vn_log_site_t vn_log_site__ = {.file = __FILE__, .line = __LINE__};                                     \
        vn_log_write_site(&vn_log_site__, VN_LOG_##level, vn_log_errno__ ? vn_log_errno__ : -1, __VA_ARGS__);          \
    } while (0)

#endif
