/**
 * prometheus_repeater.h - the "prometheus" metric sink (Go's
 * sinks/prometheus): repeats each flush as DogStatsD lines to a Prometheus
 * statsd_exporter over UDP or TCP (module-internal to src/sinks/;
 * prometheus_repeater.c). Not to be confused with kind "cortex" /
 * "prometheus_remote_write" (remote_write.c).
 *
 * Line format (Go's template "{{.Name}}:{{.Value}}|{{.Type}}|#{{.Tags}}\n"):
 * name, ':', the value as Go's %v prints a float64 (vn_promrep__format_value),
 * '|', "c" for counters (the interval's raw sum) or "g" for gauges and status
 * checks, "|#", the tags joined by ',' (nothing after '#' when untagged), '\n'.
 *
 * Lines go out in batches of VN_PROMREP_BATCH metrics per write (one datagram
 * per batch over UDP; a UDP batch is also cut before VN_PROMREP_UDP_MAX bytes,
 * where Go's write would fail). Over TCP, one connection per flush.
 *
 * Not thread-safe: one flush at a time (the flush thread).
 */
#ifndef VN_SINKS_PROMETHEUS_REPEATER_H
#define VN_SINKS_PROMETHEUS_REPEATER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "sinks/sink.h"

#define VN_PROMREP_BATCH 200
/** The largest UDP payload over IPv4 (65535 - 8 - 20). */
#define VN_PROMREP_UDP_MAX 65507
/** Bytes enough for any vn_promrep__format_value output, NUL included. */
#define VN_PROMREP_VALUE_MAX 40

/** The registry's constructor for kind "prometheus" (sink_internal.h contract). */
vn_err_t vn_sink__prometheus_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                                 size_t errcap);

/**
 * Formats v as Go's fmt %v prints a float64 (%g with the shortest digits that
 * read back as v): exponent form ("1e+06", "1.5e-07", exponent of at least two
 * digits) when the decimal exponent is < -4 or >= 6 (not JSON's 21), else plain
 * ("123456", "0.0001"); NaN -> "NaN", infinities "+Inf"/"-Inf", -0 -> "-0".
 * Returns the length written (out holds at least VN_PROMREP_VALUE_MAX bytes).
 */
size_t vn_promrep__format_value(double v, char *out);

/**
 * Appends m's line to b (the tags s excludes are left out; s may be NULL).
 * Returns VN_OK or VN_ERR_TOO_LARGE (b then holds a partial line: truncate back).
 */
vn_err_t vn_promrep__line(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m);

#endif
