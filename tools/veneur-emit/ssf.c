/*
 * ssf.c - -ssf: the one SSFSpan veneur-emit sends (proto/ssf.proto), as Go
 * veneur-emit v14 fills it (cmd/veneur-emit createMetric / setupSpan):
 *
 *   span fields, only when tracing (trace id from -trace_id or VENEUR_EMIT_TRACE_ID):
 *     trace_id, parent_id (-parent_span_id or VENEUR_EMIT_PARENT_SPAN_ID),
 *     id (random, 1..2^63-1), name = -name, service = -span_service
 *     ("veneur-emit"), tags = -tag then -span_tags (span_tags win),
 *     indicator = -indicator, error = -error
 *   always:
 *     start/end_timestamp  unix ns around -command, replaced by -span_starttime/-span_endtime
 *     error                also set when the -command exited non-zero
 *     metrics              samples in Go's order, all named -name, tags = -tag, sample_rate 1:
 *       command timer  HISTOGRAM  whole ms (truncated)  unit "ms"
 *       -timing        HISTOGRAM  whole ms (truncated)  unit "ms"
 *       -gauge         GAUGE      the value as float32
 *       -count         COUNTER    the value as float32
 *       -set           SET        message = the value
 *
 * On the wire (Go trace.Client): a udp destination gets the bare protobuf as one
 * datagram; a unix destination gets Go's stream framing (protocol/wire.go):
 *
 *   00 | 00 00 01 2c | <300 bytes of SSFSpan>
 *   ^^ version 0      ^^ length, big-endian uint32
 *
 * Differences from Go, on purpose (docs/internals/emit.md): a sample needs
 * -name, and a run with neither a sample nor a trace id is refused instead of
 * sending an empty span.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "emit.h"
#include "ssf.pb-c.h"

#define MAX_SAMPLES 5

/* Go's ParseFloat(s, 32) refuses magnitudes that round past FLT_MAX: at or above FLT_MAX + half an ulp. */
static const double k_float32_overflow = 0x1.ffffffp+127;

static char *dup_str(vn_str_t s) { return vn_xstrndup(s.p, s.len); }

/* Everything allocated for one span, freed together. */
typedef struct build {
    Ssf__SSFSpan span;
    Ssf__SSFSample samples[MAX_SAMPLES];
    Ssf__SSFSample *sample_ptrs[MAX_SAMPLES];
    Ssf__SSFSample__TagsEntry *sample_tags, **sample_tag_ptrs;
    Ssf__SSFSpan__TagsEntry *span_tags, **span_tag_ptrs;
    size_t n_sample_tags, n_span_tags;
    char *name;
} build_t;

static void build_free(build_t *b)
{
    for (size_t i = 0; i < b->n_sample_tags; i++) {
        free(b->sample_tags[i].key);
        free(b->sample_tags[i].value);
    }
    for (size_t i = 0; i < b->n_span_tags; i++) {
        free(b->span_tags[i].key);
        free(b->span_tags[i].value);
    }
    free(b->sample_tags);
    free(b->sample_tag_ptrs);
    free(b->span_tags);
    free(b->span_tag_ptrs);
    free(b->name);
}

static Ssf__SSFSample *add_sample(build_t *b, Ssf__SSFSample__Metric type, float value)
{
    Ssf__SSFSample *s = &b->samples[b->span.n_metrics];
    ssf__ssfsample__init(s);
    s->metric = type;
    s->name = b->name;
    s->value = value;
    s->sample_rate = 1.0f;
    s->n_tags = b->n_sample_tags;
    s->tags = b->sample_tag_ptrs;
    b->sample_ptrs[b->span.n_metrics++] = s;
    return s;
}

static void add_timer(build_t *b, int64_t ns)
{
    Ssf__SSFSample *s = add_sample(b, SSF__SSFSAMPLE__METRIC__HISTOGRAM, (float)(ns / 1000000));
    s->unit = "ms";
}

static void sample_tags(build_t *b, const vn_emit_tags_t *t)
{
    b->n_sample_tags = t->n;
    b->sample_tags = vn_xcalloc(t->n ? t->n : 1, sizeof *b->sample_tags);
    b->sample_tag_ptrs = vn_xcalloc(t->n ? t->n : 1, sizeof *b->sample_tag_ptrs);
    for (size_t i = 0; i < t->n; i++) {
        ssf__ssfsample__tags_entry__init(&b->sample_tags[i]);
        b->sample_tags[i].key = dup_str(t->v[i].key);
        b->sample_tags[i].value = dup_str(t->v[i].val);
        b->sample_tag_ptrs[i] = &b->sample_tags[i];
    }
}

static void span_tags(build_t *b, const vn_emit_tags_t *t)
{
    b->n_span_tags = t->n;
    b->span_tags = vn_xcalloc(t->n ? t->n : 1, sizeof *b->span_tags);
    b->span_tag_ptrs = vn_xcalloc(t->n ? t->n : 1, sizeof *b->span_tag_ptrs);
    for (size_t i = 0; i < t->n; i++) {
        ssf__ssfspan__tags_entry__init(&b->span_tags[i]);
        b->span_tags[i].key = dup_str(t->v[i].key);
        b->span_tags[i].value = dup_str(t->v[i].val);
        b->span_tag_ptrs[i] = &b->span_tags[i];
    }
    b->span.n_tags = t->n;
    b->span.tags = b->span_tag_ptrs;
}

vn_err_t vn_emit_render_ssf(const vn_emit_opts_t *o, const vn_emit_span_in_t *in, bool framed,
                            vn_emit_payload_t *out, char *err, size_t errlen)
{
    *out = (vn_emit_payload_t){0};
    bool any_sample = in->cmd_ns || o->has_timing || o->has_gauge || o->has_count || o->set;
    if (any_sample && (!o->name || !*o->name)) {
        snprintf(err, errlen, "-name is required for a metric sample (-count, -gauge, -timing, -set or -command)");
        return VN_ERR_CONFIG;
    }
    if (!any_sample && in->trace_id == 0) {
        snprintf(err, errlen, "nothing to send: pass -trace_id (or VENEUR_EMIT_TRACE_ID) for a span, or one "
                              "of -count, -gauge, -timing, -set, -command for a sample");
        return VN_ERR_CONFIG;
    }
    if (o->has_gauge && isfinite(o->gauge) && fabs(o->gauge) >= k_float32_overflow) {
        snprintf(err, errlen, "invalid value for flag -gauge: out of float32 range (SSF samples are float32)");
        return VN_ERR_CONFIG;
    }

    build_t b = {0};
    ssf__ssfspan__init(&b.span);
    b.name = vn_xstrdup(o->name ? o->name : "");

    vn_emit_tags_t tags = {0};
    for (size_t i = 0; i < o->ntag_args; i++)
        vn_emit_tags_add_csv(&tags, o->tag_args[i]);
    sample_tags(&b, &tags);

    if (in->trace_id != 0) {
        b.span.trace_id = in->trace_id;
        b.span.parent_id = in->parent_id;
        b.span.id = in->span_id;
        b.span.name = b.name;
        b.span.service = (char *)(o->span_service ? o->span_service : "veneur-emit");
        if (o->span_tags)
            vn_emit_tags_add_csv(&tags, o->span_tags);
        span_tags(&b, &tags);
        b.span.indicator = o->indicator;
        b.span.error = o->error;
    }
    b.span.error = b.span.error || in->error;
    b.span.start_timestamp = in->start_ns;
    b.span.end_timestamp = in->end_ns;

    b.span.metrics = b.sample_ptrs;
    if (in->cmd_ns)
        add_timer(&b, *in->cmd_ns);
    if (o->has_timing)
        add_timer(&b, o->timing_ns);
    if (o->has_gauge)
        add_sample(&b, SSF__SSFSAMPLE__METRIC__GAUGE, (float)o->gauge);
    if (o->has_count)
        add_sample(&b, SSF__SSFSAMPLE__METRIC__COUNTER, (float)o->count);
    if (o->set)
        add_sample(&b, SSF__SSFSAMPLE__METRIC__SET, 0.0f)->message = (char *)o->set;

    vn_err_t rc = VN_OK;
    size_t n = ssf__ssfspan__get_packed_size(&b.span), hdr = framed ? 5 : 0;
    if (n > VN_EMIT_MAX_PAYLOAD - hdr) {
        snprintf(err, errlen, "SSF span of %zu bytes is over the %u-byte limit", n, VN_EMIT_MAX_PAYLOAD);
        rc = VN_ERR_TOO_LARGE;
    } else {
        out->buf.cap = n + hdr + 1;
        out->buf.p = vn_xmalloc(out->buf.cap);
        if (framed) {
            out->buf.p[0] = 0;
            out->buf.p[1] = (char)(n >> 24);
            out->buf.p[2] = (char)(n >> 16);
            out->buf.p[3] = (char)(n >> 8);
            out->buf.p[4] = (char)n;
        }
        ssf__ssfspan__pack(&b.span, (uint8_t *)out->buf.p + hdr);
        out->buf.len = n + hdr;
        out->buf.p[out->buf.len] = '\0';
        out->chunk_off[0] = 0;
        out->chunk_len[0] = out->buf.len;
        out->nchunks = 1;
    }
    vn_emit_tags_destroy(&tags);
    build_free(&b);
    return rc;
}
