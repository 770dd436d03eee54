/**
 * mono_cond.h - condition variables whose timed waits run on CLOCK_MONOTONIC
 * (core/clock.h's vn_clock_mono_s), so a wall-clock step never stretches or
 * cuts a flush interval, a drain deadline or a refresh period.
 */
#ifndef VN_CORE_MONO_COND_H
#define VN_CORE_MONO_COND_H

#include <pthread.h>
#include <time.h>

/** Initialises cv (caller-owned; pthread_cond_destroy as usual) for CLOCK_MONOTONIC timed waits. */
void vn_mono_cond_init(pthread_cond_t *cv);

/**
 * The absolute timespec for pthread_cond_timedwait on a vn_mono_cond_init
 * cv at monotonic second mono (a negative mono is taken as 0).
 */
struct timespec vn_mono_cond_deadline(double mono);

#endif
