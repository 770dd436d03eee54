/**
 * convert.h - span-derived metrics (Go sinks/ssfmetrics + samplers/parser.go
 * ConvertMetrics, ConvertIndicatorMetrics, ConvertSpanUniquenessMetrics):
 * every SSFSample of a span becomes a sample on the statsd ingest path, an
 * indicator span adds the indicator and objective timers, and a span with a
 * service adds the 1%-sampled ssf.names_unique set. docs/internals/ssf.md.
 *
 * One vn_ssf_conv_t per span worker (not thread-safe); it never allocates
 * per span: tag strings are built in its fixed scratch buffer.
 */
#ifndef VN_SSF_CONVERT_H
#define VN_SSF_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "listen/ingest.h"
#include "parse/dogstatsd.h"
#include "ssf.pb-c.h"

/** Tag bytes one sample may carry ("k:v" strings plus implicit tags); more is invalid. */
#define VN_SSF_TAG_SCRATCH 16384

typedef struct vn_ssf_conv_counts {
    uint64_t spans;           /* spans converted (Go spansProcessed) */
    uint64_t root_spans;      /* id == trace_id */
    uint64_t metrics;         /* metrics handed to ingest (Go metricsGenerated) */
    uint64_t invalid_samples; /* Go reason:invalid_metrics, plus the bytes our key cannot carry */
    uint64_t indicator_timers;
} vn_ssf_conv_counts_t;

typedef struct vn_ssf_conv {
    const vn_parser_t *parser; /* borrowed: implicit tags */
    vn_ingest_t *ingest;       /* borrowed */
    const char *indicator_timer, *objective_timer; /* borrowed; "" disables */
    uint64_t rng;
    vn_ssf_conv_counts_t c;
    vn_str_t tags[VN_PARSE_MAX_TAGS];
    char scratch[VN_SSF_TAG_SCRATCH];
} vn_ssf_conv_t;

void vn_ssf_conv_init(vn_ssf_conv_t *cv, const vn_parser_t *parser, vn_ingest_t *ingest, const char *indicator_timer,
                      const char *objective_timer, uint64_t seed);

/** Converts one decoded span. ingest may be NULL (fuzzing: conversion without workers). */
void vn_ssf_conv_span(vn_ssf_conv_t *cv, const Ssf__SSFSpan *span);

/** Go protocol.ValidTrace: ids, timestamps and name all set. */
bool vn_ssf_valid_trace(const Ssf__SSFSpan *s);

#endif
