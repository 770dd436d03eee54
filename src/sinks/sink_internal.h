/**
 * sink_internal.h - what the sink registry and the built-in sinks share. Only
 * files under src/sinks/ include this; everyone else uses sink.h.
 */
#ifndef VN_SINKS_SINK_INTERNAL_H
#define VN_SINKS_SINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "sinks/sink.h"

/**
 * A sink constructor: the registry has already allocated s and set s->name and
 * the excluded tags; the constructor sets s->ops and s->impl (owned, freed by
 * ops->destroy). On error it leaves s->ops NULL, frees what it allocated, and
 * writes a one-line message naming the offending config key into errbuf.
 * Returns VN_OK, VN_ERR_CONFIG (bad or missing key) or VN_ERR_IO (an output
 * that cannot be opened).
 */
typedef vn_err_t (*vn_sink_ctor_fn)(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                    char *errbuf, size_t errcap);

vn_err_t vn_sink__debug_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                            size_t errcap);
vn_err_t vn_sink__localfile_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                                size_t errcap);

/** "counter", "gauge", "status" (the debug and localfile JSON type words). */
const char *vn_sink__type_name(vn_im_type_t t);

/** An HTTP header field name (user-configured headers): RFC 9110 token characters, not empty. */
bool vn_sink__header_name_ok(const char *s);

/** True when the metric is for this sink: no veneursinkonly target, or it names s. */
bool vn_sink__wants(const vn_sink_t *s, const vn_inter_metric_t *m);

/**
 * True when tag must not be written by s: it starts with one of the sink's
 * excluded-tag prefixes (Go's Datadog sink rule: strings.HasPrefix(tag, rule),
 * so "host" also removes "hostname:x"). O(number of rules).
 */
bool vn_sink__tag_excluded(const vn_sink_t *s, const char *tag);

/**
 * Writes all of buf[0..len) to fd, looping over partial writes and EINTR.
 * Returns VN_OK or VN_ERR_IO (errno set).
 */
vn_err_t vn_sink__write_all(int fd, const char *buf, size_t len);

/* ---- localfile CSV encoder (localfile_csv.c) ---- */

/**
 * Appends one Go-compatible CSV row for m (status metrics are skipped: returns
 * VN_OK without writing): Name, Tags "{a,b}", MetricType "rate"|"gauge",
 * VeneurHostname, Interval (whole seconds), Timestamp "YYYY-MM-DD hh:mm:ss"
 * (UTC, 12-hour hh), Value (counters: sum / interval_s), Partition "YYYYMMDD"
 * (UTC date of partition_ts). delim is the field delimiter as UTF-8 bytes
 * (1..4). Excluded tags of s are left out. On VN_ERR_TOO_LARGE the buffer may
 * hold a partial row: the caller truncates back to the length before the call.
 */
vn_err_t vn_sink__csv_row(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m, const char *delim,
                          size_t delim_len, const char *hostname, double interval_s, int64_t partition_ts);

/**
 * Validates a CSV delimiter the way Go's encoding/csv does (one UTF-8 rune, not
 * NUL, '"', '\r', '\n' or U+FFFD) and returns its byte length, or 0 if invalid.
 * Only the first rune of s counts (Go's util.Rune keeps the first rune).
 */
size_t vn_sink__csv_delim_len(const char *s);

#endif
