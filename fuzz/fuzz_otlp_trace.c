/*
 * fuzz_otlp_trace.c - libFuzzer target for otlp/trace.h: the input is one
 * OTLP/HTTP POST /v1/traces body (an uncompressed ExportTraceServiceRequest).
 *
 * Invariants: no crash, no leak, no read outside the input; every SSFSpan
 * handed on is at most max_span bytes, decodes as an SSFSpan, has tag keys
 * unique and at most VN_OTLP_TRACE_MAX_TAGS tags; the call's refused count
 * matches the converter's counters, and every span read is accepted,
 * invalid or refused. The emit callback refuses every seventh span, so
 * that path runs too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SPAN 4096

static bool check_span(void *ctx, const uint8_t *p, size_t n)
{
    unsigned *calls = ctx;
    if (n > MAX_SPAN)
        abort();
    Ssf__SSFSpan *s = ssf__ssfspan__unpack(NULL, n, p);
    if (!s || s->n_tags > VN_OTLP_TRACE_MAX_TAGS || s->indicator)
        abort();
    for (size_t i = 0; i < s->n_tags; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->tags[i]->key, s->tags[j]->key) == 0)
                abort();
    ssf__ssfspan__free_unpacked(s, NULL);
    return ++*calls % 7 != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vn_otlp_tracer_t *t;
    static unsigned calls;
    if (!t) {
        t = malloc(sizeof *t);
        vn_otlp_trace_init(t, MAX_SPAN, check_span, &calls);
    }
    if (size > (1u << 20))
        return 0;
    vn_otlp_trace_counts_t before = t->c;
    uint64_t rejected = 0;
    if (vn_otlp_trace_request(t, data, size, &rejected) != VN_OK)
        return 0;
    uint64_t spans = t->c.spans - before.spans;
    uint64_t bad = (t->c.invalid - before.invalid) + (t->c.refused - before.refused);
    if (rejected != bad || spans != bad + (t->c.accepted - before.accepted))
        abort();
    return 0;
}
