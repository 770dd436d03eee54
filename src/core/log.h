/**
 * log.h - logfmt lines on stderr: `ts=... level=info event=... k=v`.
 *
 * The level threshold is process-wide and set once at start-up (before threads)
 * by vn_log_set_level; reading it afterwards is race-free. Thread-safe: each line
 * is written with a single write(2).
 */
#ifndef VN_CORE_LOG_H
#define VN_CORE_LOG_H

typedef enum { VN_LOG_DEBUG = 0, VN_LOG_INFO = 1, VN_LOG_WARN = 2, VN_LOG_ERROR = 3 } vn_log_level_t;

void vn_log_set_level(vn_log_level_t level);
vn_log_level_t vn_log_get_level(void);

/** Writes one line; fmt should begin with "event=...". */
void vn_log_write(vn_log_level_t level, int err_no, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define VN_LOG(level, ...) vn_log_write(VN_LOG_##level, 0, __VA_ARGS__)
/** Like VN_LOG, and appends errno=N err="text" of the current errno. */
#define VN_LOG_ERRNO(level, ...) vn_log_write(VN_LOG_##level, errno ? errno : -1, __VA_ARGS__)

#endif
