/*
 * fuzz_otlp.c - libFuzzer target for otlp/convert.h: the input is one
 * OTLP/HTTP request body (an uncompressed ExportMetricsServiceRequest).
 *
 * Invariants: no crash, no leak, no read outside the input; every sample
 * handed on has a non-empty name without '\n', a finite value, a rate in
 * (0, 1], at most VN_PARSE_MAX_TAGS byte-wise sorted tags free of ',' and
 * control bytes; the call reports the points it refused. The converter lives
 * across inputs with a small cumulative table, so the table-full path and
 * the cumulative delta rules get exercised too.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool check_sample(void *ctx, vn_str_t name, vn_mtype_t type, vn_scope_t scope, double value, double rate,
                         const vn_str_t *tags, size_t ntags)
{
    (void)ctx, (void)scope;
    if (!name.len || memchr(name.p, '\n', name.len))
        abort();
    if (!isfinite(value) || !(rate > 0 && rate <= 1))
        abort();
    if (type != VN_MT_COUNTER && type != VN_MT_GAUGE && type != VN_MT_HISTOGRAM)
        abort();
    if (ntags > VN_PARSE_MAX_TAGS)
        abort();
    for (size_t i = 0; i < ntags; i++) {
        for (size_t j = 0; j < tags[i].len; j++)
            if ((unsigned char)tags[i].p[j] < 0x20 || tags[i].p[j] == ',')
                abort();
        if (i && vn_str_cmp(tags[i - 1], tags[i]) > 0)
            abort();
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vn_otlp_conv_t *cv;
    if (!cv) {
        static vn_str_t implicit[2];
        static vn_parser_t p;
        implicit[0] = vn_str_c("env:fuzz");
        implicit[1] = vn_str_c("");
        p = (vn_parser_t){.implicit_tags = implicit, .n_implicit = 2};
        cv = malloc(sizeof *cv);
        vn_otlp_conv_init(cv, &p, 64, check_sample, NULL);
    }
    if (size > (1u << 20))
        return 0;
    vn_otlp_counts_t before = cv->c;
    uint64_t rejected = 0;
    if (vn_otlp_conv_request(cv, data, size, &rejected) != VN_OK)
        return 0;
    if (rejected != cv->c.rejected - before.rejected)
        abort();
    return 0;
}
