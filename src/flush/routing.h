/**
 * routing.h - metric sink routing and per-sink limits, as Go Veneur's
 * flusher.go applies them (docs/behaviour.md W4.1; docs/internals/flush.md "Routing").
 *
 * With features.enable_metric_sink_routing, every `metric_sink_routing` rule
 * is evaluated for every flushed metric: when any matcher of its `match` list
 * matches, the metric goes to the rule's sinks.matched, else to its
 * sinks.not_matched; a metric's sinks are the union over all rules. A matcher
 * matches when its name matcher does and, for each tag matcher, some tag
 * matches (unset: false) or no tag matches (unset: true).
 *
 * Then, for each sink that gets the metric, in Go's order:
 *   name longer than max_name_length        dropped (max_name_length)
 *   tags matching strip_tags                removed
 *   a kept tag longer than max_tag_length   dropped (max_tag_length)
 *   add_tags k: v                           "k:v" appended unless a tag starts with k
 *                                           ("k:v" longer than max_tag_length: dropped)
 *   more tags than max_tags                 dropped (max_tags)
 * Without the feature flag none of this applies: every sink gets every metric
 * unchanged (Go applies the limits only inside its routing branch).
 *
 * One vn_sink_route_t per sink holds only the rules that name that sink, so a
 * sink's runner thread decides for itself, off the flusher thread. Regexes go
 * through core/regex.h (RE2, Go's syntax, linear time), compiled once here.
 *
 * Ownership: a route is immutable after vn_sink_route_new and may be used by
 * one thread at a time with its own vn_route_scratch_t. Output metrics borrow
 * the input chunk's strings and the route's "k:v" strings: valid while both live.
 */
#ifndef VN_FLUSH_ROUTING_H
#define VN_FLUSH_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "sinks/sink.h"

typedef struct vn_sink_route vn_sink_route_t;

/** Go's flushed_metrics{status} and dropped_metrics{reason} for one sink, one call. */
typedef struct vn_route_counts {
    uint64_t skipped;         /* flushed_metrics status:skipped (not routed to the sink) */
    uint64_t max_name_length; /* status:max_name_length */
    uint64_t max_tags;        /* status:max_tags */
    uint64_t max_tag_length;  /* status:max_tag_length (a kept or an added tag too long) */
    uint64_t flushed;         /* status:flushed */
    /* dropped_metrics{reason}: Go counts these only where it emits them, so an
     * add_tags "k:v" over max_tag_length shows in max_tag_length above only. */
    uint64_t dropped_max_name_length, dropped_max_tags, dropped_max_tag_length;
} vn_route_counts_t;

/** Working memory of one applier (a sink runner); reused across calls, grown on demand. */
typedef struct vn_route_scratch {
    vn_inter_metric_t *m;
    size_t mcap;
    const char **tags;
    size_t tcap;
} vn_route_scratch_t;

/**
 * Builds sink `sink_name`'s route from cfg. *out = NULL (and VN_OK) when
 * routing is off (features.enable_metric_sink_routing false): the sink gets
 * everything unchanged. VN_ERR_CONFIG with one line in err when a pattern
 * does not compile (config load already rejects these). Borrows cfg; the
 * route copies what it keeps.
 */
vn_err_t vn_sink_route_new(const vn_config_t *cfg, const char *sink_name, vn_sink_route_t **out, char *err,
                           size_t errcap);
void vn_sink_route_free(vn_sink_route_t *r);

/**
 * Applies r to in[0..n). *out gets the metrics the sink receives (the returned
 * count): `in` itself when every metric passes unchanged, else sc's array.
 * Metrics are never deep-copied: outputs share in's strings; only changed tag
 * lists live in sc. sink_only is cleared on outputs (routing decides, as in
 * Go, where the routed set replaces veneursinkonly). Adds to *counts.
 * Allocates only when sc must grow.
 */
size_t vn_sink_route_apply(const vn_sink_route_t *r, const vn_inter_metric_t *in, size_t n, vn_route_scratch_t *sc,
                           const vn_inter_metric_t **out, vn_route_counts_t *counts);

/** True when the metric (name, tags) is routed to r's sink (the rules only, no limits). */
bool vn_sink_route_wants(const vn_sink_route_t *r, const char *name, const char *const *tags, size_t ntags);

void vn_route_scratch_free(vn_route_scratch_t *sc);

#endif
