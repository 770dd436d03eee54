/*
 * convert.c - SSF samples and indicator spans to ingest samples (see convert.h).
 *
 * Differences from Go, all refusals of things our series key cannot hold or
 * our aggregators cannot use (counted in invalid_samples, docs/internals/ssf.md):
 * names or tags holding '\n' or NUL, tags holding ',', non-finite values or
 * rates, rates <= 0 or > 1, more than VN_PARSE_MAX_TAGS tags.
 */
#include "ssf/convert.h"
#include "ssf/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vn_ssf_conv_init(vn_ssf_conv_t *cv, const vn_parser_t *parser, vn_ingest_t *ingest, const char *indicator_timer,
                      const char *objective_timer, uint64_t seed)
{
    memset(&cv->c, 0, sizeof cv->c);
    cv->parser = parser;
    cv->ingest = ingest;
    cv->indicator_timer = indicator_timer ? indicator_timer : "";
    cv->objective_timer = objective_timer ? objective_timer : "";
    cv->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

bool vn_ssf_valid_trace(const Ssf__SSFSpan *s)
{
    return s->id != 0 && s->trace_id != 0 && s->start_timestamp != 0 && s->end_timestamp != 0 && s->name &&
           *s->name;
}

typedef struct kv {
    const char *k, *v;
} kv_t;

static int str_cmp(const void *a, const void *b)
{
    return vn_str_cmp(*(const vn_str_t *)a, *(const vn_str_t *)b);
}

static bool clean(const char *s, size_t n, bool tag)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || (tag && s[i] == ','))
            return false;
    return true;
}

/* Builds the final tag list of one metric from (key, value) pairs, Go ParseMetricSSF +
 * UpdateTags: magic keys set the scope and are dropped, others become "k:v", implicit
 * tags override equal keys and are appended, all sorted. False: cannot be carried. */
static bool build_tags(vn_ssf_conv_t *cv, const kv_t *kv, size_t n, vn_scope_t *scope, size_t *ntags)
{
    size_t used = 0, nt = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i].k ? kv[i].k : "", *v = kv[i].v ? kv[i].v : "";
        if (strcmp(k, "veneurlocalonly") == 0) {
            *scope = VN_SCOPE_LOCAL;
            continue;
        }
        if (strcmp(k, "veneurglobalonly") == 0) {
            *scope = VN_SCOPE_GLOBAL;
            continue;
        }
        size_t kl = strlen(k), vl = strlen(v);
        if (vn_parser_implicit_key(cv->parser, k, kl))
            continue;
        if (nt >= VN_PARSE_MAX_TAGS || kl + 1 + vl > sizeof cv->scratch - used || !clean(k, kl, true) ||
            !clean(v, vl, true))
            return false;
        char *d = cv->scratch + used;
        memcpy(d, k, kl);
        d[kl] = ':';
        memcpy(d + kl + 1, v, vl);
        cv->tags[nt++] = (vn_str_t){d, kl + 1 + vl};
        used += kl + 1 + vl;
    }
    for (size_t i = 0; cv->parser && i < cv->parser->n_implicit; i++) {
        if (!cv->parser->implicit_tags[i].len)
            continue;
        if (nt >= VN_PARSE_MAX_TAGS)
            return false;
        cv->tags[nt++] = cv->parser->implicit_tags[i];
    }
    qsort(cv->tags, nt, sizeof cv->tags[0], str_cmp); /* byte-wise, Go sort.Strings */
    *ntags = nt;
    return true;
}

/* One metric to ingest; false when it is invalid (counted by the caller). */
static bool emit(vn_ssf_conv_t *cv, const char *name, vn_mtype_t type, vn_scope_t scope, double value, double rate,
                 const kv_t *kv, size_t nkv, const char *member)
{
    if (!name || !*name || !clean(name, strlen(name), false))
        return false; /* Go ValidMetric: name required */
    size_t ntags;
    if (!build_tags(cv, kv, nkv, &scope, &ntags))
        return false;
    if (type != VN_MT_SET && type != VN_MT_STATUS && !isfinite(value))
        return false;
    if (!(rate > 0 && rate <= 1))
        return false;
    vn_str_t m = vn_str_c(member ? member : "");
    if (type == VN_MT_STATUS)
        m = vn_str_c("");
    cv->c.metrics++;
    if (cv->ingest)
        vn_ingest_sample(cv->ingest, vn_str_c(name), type, scope, value, rate, cv->tags, ntags, m);
    return true;
}

static bool sample(vn_ssf_conv_t *cv, const Ssf__SSFSample *s)
{
    vn_mtype_t t;
    switch (s->metric) {
    case SSF__SSFSAMPLE__METRIC__COUNTER: t = VN_MT_COUNTER; break;
    case SSF__SSFSAMPLE__METRIC__GAUGE: t = VN_MT_GAUGE; break;
    case SSF__SSFSAMPLE__METRIC__HISTOGRAM: t = VN_MT_HISTOGRAM; break;
    case SSF__SSFSAMPLE__METRIC__SET: t = VN_MT_SET; break;
    case SSF__SSFSAMPLE__METRIC__STATUS: t = VN_MT_STATUS; break;
    default: return false; /* Go invalidMetricTypeError */
    }
    if (t == VN_MT_STATUS && ((unsigned)s->status > 3))
        return false;
    vn_scope_t scope = s->scope == SSF__SSFSAMPLE__SCOPE__LOCAL    ? VN_SCOPE_LOCAL
                       : s->scope == SSF__SSFSAMPLE__SCOPE__GLOBAL ? VN_SCOPE_GLOBAL
                                                                   : VN_SCOPE_MIXED;
    kv_t kv[VN_PARSE_MAX_TAGS + 2];
    if (s->n_tags > VN_PARSE_MAX_TAGS + 2)
        return false;
    for (size_t i = 0; i < s->n_tags; i++)
        kv[i] = (kv_t){s->tags[i] ? s->tags[i]->key : "", s->tags[i] ? s->tags[i]->value : ""};
    double value = t == VN_MT_STATUS ? (double)s->status : (double)s->value;
    if (t == VN_MT_SET && (!s->message || !clean(s->message, strlen(s->message), false)))
        return false;
    return emit(cv, s->name, t, scope, value, (double)s->sample_rate, kv, s->n_tags, s->message);
}

static uint64_t next_rand(vn_ssf_conv_t *cv)
{
    uint64_t x = cv->rng; /* xorshift64: a 1% sample needs no better */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return cv->rng = x;
}

void vn_ssf_conv_span(vn_ssf_conv_t *cv, const Ssf__SSFSpan *span)
{
    cv->c.spans++;
    if (span->id == span->trace_id)
        cv->c.root_spans++;
    for (size_t i = 0; i < span->n_metrics; i++)
        if (!span->metrics[i] || !sample(cv, span->metrics[i]))
            cv->c.invalid_samples++;
    if (!vn_ssf_valid_trace(span))
        return;
    const char *service = span->service ? span->service : "";
    const char *err = span->error ? "true" : "false";
    if (span->indicator) {
        /* Go: duration in ns, carried as the sample's float32 value */
        int64_t d;
        if (__builtin_sub_overflow(span->end_timestamp, span->start_timestamp, &d))
            d = span->end_timestamp > span->start_timestamp ? INT64_MAX : INT64_MIN; /* Go time.Sub saturates */
        double ns = (double)(float)d;
        if (*cv->indicator_timer) {
            kv_t kv[] = {{"error", err}, {"service", service}};
            if (emit(cv, cv->indicator_timer, VN_MT_HISTOGRAM, VN_SCOPE_MIXED, ns, 1, kv, 2, NULL))
                cv->c.indicator_timers++;
            else
                cv->c.invalid_samples++;
        }
        if (*cv->objective_timer) {
            const char *obj = vn_ssf_span_tag(span, "ssf_objective");
            kv_t kv[] = {{"error", err},
                         {"objective", obj && *obj ? obj : span->name},
                         {"service", service},
                         {"veneurglobalonly", "true"}};
            if (emit(cv, cv->objective_timer, VN_MT_HISTOGRAM, VN_SCOPE_MIXED, ns, 1, kv, 4, NULL))
                cv->c.indicator_timers++;
            else
                cv->c.invalid_samples++;
        }
    }
    /* Go ConvertSpanUniquenessMetrics: ssf.names_unique, randomly sampled at 1% */
    if (*service && next_rand(cv) % 100 == 0) {
        kv_t kv[] = {{"indicator", span->indicator ? "true" : "false"},
                     {"root_span", span->id == span->trace_id ? "true" : "false"},
                     {"service", service}};
        if (!emit(cv, "ssf.names_unique", VN_MT_SET, VN_SCOPE_MIXED, 0, 0.01, kv, 3, span->name))
            cv->c.invalid_samples++;
    }
}
