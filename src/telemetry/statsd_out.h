/**
 * statsd_out.h - a small DogStatsD client for our own self-metrics: lines are
 * packed into bounded datagrams and sent, non-blocking, over UDP (or a
 * unixgram socket) to `stats_address` / veneur-proxy's `statsd.address`.
 *
 * Not thread-safe: one owner thread adds lines and flushes (the flusher for the
 * daemon, the telemetry thread for the proxy). A failed send drops that
 * datagram and counts it; nothing is retried or queued beyond one datagram.
 */
#ifndef VN_TELEMETRY_STATSD_OUT_H
#define VN_TELEMETRY_STATSD_OUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/** Largest datagram we send: fits one Ethernet MTU after IP/UDP headers (datadog-go's default). */
#define VN_STATSD_OUT_MAX_DGRAM 1432

typedef struct vn_statsd_out_opts {
    const char *address;      /* "host:port", "udp://host:port" or "unix:///path" (unixgram) */
    const char *ns;           /* prepended to every name, e.g. "veneur." */
    const char *const *tags;  /* appended to every line (veneur_metrics_additional_tags); borrowed */
    size_t ntags;
    size_t max_dgram;         /* 0 = VN_STATSD_OUT_MAX_DGRAM; capped at it */
    size_t max_lines;         /* lines per datagram, 0 = as many as fit (proxy's messages_per_payload) */
} vn_statsd_out_opts_t;

typedef struct vn_statsd_out vn_statsd_out_t;

/**
 * Resolves the address once and opens a connected, non-blocking socket.
 * Returns VN_ERR_CONFIG with a one-line err on a bad address. *out is owned.
 */
vn_err_t vn_statsd_out_open(const vn_statsd_out_opts_t *o, vn_statsd_out_t **out, char *err, size_t errcap);

/**
 * Adds one line: <ns><name>:<value>|<type>[|#<tags>,<extra tags>]. type is a
 * DogStatsD type ("c", "g", "h", "ms"); tags is a comma-joined list or NULL.
 * Sends the current datagram first when the line would not fit; a line longer
 * than a datagram is dropped and counted.
 */
void vn_statsd_out_add(vn_statsd_out_t *s, const char *name, double value, const char *type, const char *tags);
/**
 * As vn_statsd_out_add with a DogStatsD sample rate (|@rate, when 0 < rate < 1):
 * the receiver counts the line as 1/rate samples, so one mean per interval
 * stands for every timed call without one line per call.
 */
void vn_statsd_out_add_rate(vn_statsd_out_t *s, const char *name, double value, const char *type, double rate,
                            const char *tags);
/** Sends what is buffered. */
void vn_statsd_out_flush(vn_statsd_out_t *s);

typedef struct vn_statsd_out_counts {
    uint64_t lines;          /* lines added */
    uint64_t dgrams_sent;
    uint64_t dgrams_dropped; /* send failed (no listener, buffer full, ...) */
    uint64_t lines_dropped;  /* lines in dropped datagrams, plus over-long lines */
} vn_statsd_out_counts_t;

/** Snapshot of the counters (readable from any thread). */
vn_statsd_out_counts_t vn_statsd_out_counts(const vn_statsd_out_t *s);

void vn_statsd_out_free(vn_statsd_out_t *s);

#endif
