/**
 * watchdog.h - flush_watchdog_missed_flushes (Go panics when that many
 * intervals pass without a flush). A thread checks once a second; when
 * missed * interval seconds pass since the last completed flush (or since
 * start), health turns false, one ERROR line is logged, and after a short
 * grace (so /healthz and /readyz are seen failing) the process exits 1.
 */
#ifndef VN_TELEMETRY_WATCHDOG_H
#define VN_TELEMETRY_WATCHDOG_H

#include <stdbool.h>

typedef struct vn_watchdog vn_watchdog_t;

/** Returns NULL when missed <= 0 (the watchdog is off). */
vn_watchdog_t *vn_watchdog_start(int missed, double interval_s);
/** A flush completed (any thread). NULL ok. */
void vn_watchdog_kick(vn_watchdog_t *w);
/** false once tripped; true for NULL. */
bool vn_watchdog_healthy(const vn_watchdog_t *w);
void vn_watchdog_stop(vn_watchdog_t *w);

#endif
