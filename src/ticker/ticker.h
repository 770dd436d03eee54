/**
 * ticker.h - when a synchronized veneur flushes, and which interval a flush
 * closes (issue 16: one global flush = one interval's union).
 *
 * Every synchronized veneur ticks at the wall-clock multiples T of the
 * interval. A local flushes at T and forwards what it held right after,
 * tagged with T (forward/hops.h, x-veneur-interval-end). A global (one with
 * grpc_address) flushes at T + offset instead, so the forwards of interval T
 * that are in flight at the tick are inside its window rather than racing
 * it; the offset is import_grace_period (0 = min(interval/4, 2 s), < 0 = off).
 *
 * Pure functions: no clock is read here, callers pass wall-clock seconds.
 */
#ifndef VN_TICKER_TICKER_H
#define VN_TICKER_TICKER_H

#include <stdint.h>

#include "config/config.h"

/** Default grace when import_grace_period is unset: a quarter interval, at most this. */
#define VN_TICKER_GRACE_MAX_S 2.0

/**
 * Seconds after each wall-clock tick at which this instance flushes: the
 * grace for a synchronized global, 0 for everything else (locals, proxies'
 * peers, unsynchronized instances). cfg borrowed.
 */
double vn_ticker_offset_s(const vn_config_t *cfg);

/**
 * Seconds from wall time now until the first flush: the next instant
 * k*interval + offset strictly after now. interval_s > 0, 0 <= offset_s.
 */
double vn_ticker_first_delay(double now, double interval_s, double offset_s);

/**
 * The tick (unix milliseconds, a multiple of the interval) that a flush
 * running at wall time `when` with this offset closes: the multiple of the
 * interval nearest to when - offset, so a flush up to half an interval late
 * or early still names its own tick.
 */
int64_t vn_ticker_tick_ms(double when, double interval_s, double offset_s);

#endif
