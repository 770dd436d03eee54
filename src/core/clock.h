/**
 * clock.h - the process's one view of time: monotonic seconds for
 * deadlines, intervals and timeouts (never jumps with NTP or settimeofday),
 * wall-clock seconds for timestamps that leave the process.
 *
 * Everything is inline and allocation-free, so the hot path (datagram
 * receive loops) may call it per batch. Thread safe.
 */
#ifndef VN_CORE_CLOCK_H
#define VN_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/** clock id in seconds (a helper for the named clocks below). */
static inline double vn_clock__s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/** CLOCK_MONOTONIC in seconds. */
static inline double vn_clock_mono_s(void) { return vn_clock__s(CLOCK_MONOTONIC); }

/** CLOCK_MONOTONIC in whole milliseconds. */
static inline uint64_t vn_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/** CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t vn_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/**
 * CLOCK_MONOTONIC_COARSE in seconds: the last timer tick (1-4 ms old), read
 * without a vDSO clock read; for per-batch accounting where ms precision is
 * enough. Same epoch as vn_clock_mono_s.
 */
static inline double vn_clock_mono_coarse_s(void) { return vn_clock__s(CLOCK_MONOTONIC_COARSE); }

/** CLOCK_REALTIME (Unix time) in seconds. */
static inline double vn_clock_real_s(void) { return vn_clock__s(CLOCK_REALTIME); }

/**
 * A poll() timeout for a vn_clock_mono_s deadline: 0 once it has passed,
 * rounded up otherwise (so a wait never ends just before the deadline and
 * spins), capped at one hour.
 */
static inline int vn_clock_ms_until(double deadline)
{
    double left = deadline - vn_clock_mono_s();
    if (left <= 0)
        return 0;
    return left > 3600 ? 3600000 : (int)(left * 1000) + 1;
}

#endif
