/**
 * periodic.h - a thread that calls fn(ctx) every interval_s seconds (and once
 * more on stop, so the last partial interval is reported). Used by
 * veneur-proxy to send its self-metrics every statsd.aggregation_interval.
 */
#ifndef VN_TELEMETRY_PERIODIC_H
#define VN_TELEMETRY_PERIODIC_H

typedef struct vn_periodic vn_periodic_t;

/** Returns NULL if the thread cannot start (logged). ctx is borrowed. */
vn_periodic_t *vn_periodic_start(double interval_s, void (*fn)(void *ctx), void *ctx);
/** Stops, calls fn a last time, joins. NULL ok. */
void vn_periodic_stop(vn_periodic_t *p);

#endif
