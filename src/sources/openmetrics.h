/**
 * openmetrics.h - the `openmetrics` source (Go sources/openmetrics): what one
 * `sources` entry says, and how one parsed scrape becomes samples.
 *
 *     sources:
 *       - kind: openmetrics
 *         name: node
 *         tags: ["env:prod"]                 # added to every sample (Go SourceConfig.Tags)
 *         config:
 *           scrape_target: http://127.0.0.1:9100/metrics   # required, http or https
 *           scrape_interval: 10s            # required, > 0
 *           scrape_timeout: 5s              # default scrape_interval; may not exceed it
 *           allowlist: "^node_"             # RE2 on the family name; wins over denylist
 *           denylist: "^go_"
 *           histogram_bucket_tag: le        # default "le"
 *           summary_quantile_tag: quantile  # default "quantile"
 *           max_body_bytes: 16777216        # veneur-c: a larger body drops the scrape (counted)
 *           max_series: 100000              # veneur-c: more series drops the scrape (counted)
 *
 * Mapping (Go convert*): counter -> counter `name`; gauge and untyped -> gauge
 * `name`; summary -> gauge `name` per quantile with tag `quantile:%f`, counters
 * `name.count`, `name.sum`; histogram -> counter `name.bucket` per bucket with
 * tag `le:%f` (cumulative, as exposed), counters `name.count`, `name.sum`. Tags
 * are the labels as `label:value` plus the entry's tags, sorted. Timestamps are
 * ignored (Go passes them, its workers do not use them).
 *
 * One deliberate difference (docs/behaviour.md 0.15, W6.4): Go ingests a counter's
 * cumulative value every scrape, so the flushed counter is the running total
 * summed over the scrapes of an interval. Here every counter sample (counter,
 * .count, .sum, .bucket) is the increment since the previous scrape, computed
 * exactly as veneur-prometheus does (parse/prom_delta.h: int64 truncation, the
 * first scrape only sets the baseline, a reset sends the new value, a zero
 * increment is not sent), so the flushed counter is what happened during the
 * interval.
 *
 * Thread-safety: a vn_om_cfg_t is immutable after parse; a vn_om_mapper_t has
 * one owner (the source's thread).
 */
#ifndef VN_SOURCES_OPENMETRICS_H
#define VN_SOURCES_OPENMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/metric.h"
#include "core/regex.h"
#include "core/str.h"
#include "parse/prom_delta.h"
#include "parse/prom_text.h"

#define VN_OM_DEFAULT_MAX_BODY (16u << 20)
#define VN_OM_DEFAULT_MAX_SERIES 100000u
/** Tags one sample may carry (labels + bucket/quantile tag + the entry's tags). */
#define VN_OM_MAX_TAGS 128u
/** Cap on the counter baseline's key bytes per scrape (parse/prom_delta.h). */
#define VN_OM_MAX_DELTA_KEY_BYTES (64u << 20)

/** One openmetrics entry, validated. Everything owned (vn_om_cfg_destroy). */
typedef struct vn_om_cfg {
    char *name;                    /* the entry's name */
    char *target;                  /* scrape_target */
    double interval_s, timeout_s;  /* scrape_interval, scrape_timeout */
    vn_regex_t *allow, *deny;      /* NULL when not set */
    char *bucket_tag, *quantile_tag;
    char **tags;                   /* the entry's tags, as given */
    size_t ntags;
    size_t max_body, max_series;
} vn_om_cfg_t;

/**
 * Validates sc (kind must be "openmetrics") into *out. VN_ERR_CONFIG with a
 * one-line reason naming the key in err. Unknown config keys are logged and
 * ignored (Go decodes the block leniently). *out is zeroed first; destroy it
 * in every case.
 */
vn_err_t vn_om_cfg_parse(const vn_source_config_t *sc, vn_om_cfg_t *out, char *err, size_t errcap);
void vn_om_cfg_destroy(vn_om_cfg_t *c);

/** Receives one sample; tags are sorted and valid only during the call. */
typedef void (*vn_om_emit_fn)(void *ctx, vn_str_t name, vn_mtype_t type, double value, const vn_str_t *tags,
                              size_t ntags);

/** What one mapping did (added to, not reset, by vn_om_map). */
typedef struct vn_om_counts {
    uint64_t samples;           /* emitted */
    uint64_t invalid;           /* not emitted: non-finite gauge value, over VN_OM_MAX_TAGS tags */
    uint64_t filtered_families; /* skipped by allowlist/denylist */
    uint64_t unknown_families;  /* a TYPE Go's decoder rejects */
    uint64_t sanitized;         /* label values with ',', NUL or newline rewritten */
} vn_om_counts_t;

/** Scratch and counter baseline kept from scrape to scrape (stops allocating once warm). */
typedef struct vn_om_mapper {
    vn_prom_delta_t delta;
    vn_buf_t tagbytes, name, key; /* scratch */
    uint32_t tagoff[VN_OM_MAX_TAGS + 1], taglen[VN_OM_MAX_TAGS + 1];
    vn_str_t tags[VN_OM_MAX_TAGS];
} vn_om_mapper_t;

void vn_om_mapper_init(vn_om_mapper_t *m);
void vn_om_mapper_destroy(vn_om_mapper_t *m);

/**
 * Emits the samples of one successfully parsed scrape (families in exposition
 * order) and makes it the counter baseline. Never fails: what cannot be
 * carried is counted in *counts.
 */
void vn_om_map(vn_om_mapper_t *m, const vn_om_cfg_t *cfg, const vn_prom_doc_t *doc, vn_om_emit_fn emit, void *ctx,
               vn_om_counts_t *counts);

#endif
