/*
 * fuzz_ssf.c - libFuzzer target for ssf/decode.h and ssf/convert.h.
 *
 * The input is one SSF packet (a datagram body). Invariants: no crash, no
 * leak, no read outside the input; decode memory stays inside the arena; a
 * decoded span converts with counts that add up (every sample is either a
 * metric or invalid).
 */
#include <stdint.h>
#include <stdlib.h>

#include "ssf/convert.h"
#include "ssf/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vn_ssf_arena_t a;
    static vn_ssf_conv_t cv;
    if (!a.mem)
        vn_ssf_arena_init(&a, 65536);
    if (size > 65536)
        return 0;
    Ssf__SSFSpan *sp;
    if (vn_ssf_decode(&a, data, size, 1, &sp) != VN_SSF_DEC_OK)
        return 0;
    vn_str_t implicit[2] = {vn_str_c("env:fuzz"), vn_str_c("")};
    vn_parser_t p = {.implicit_tags = implicit, .n_implicit = 2};
    vn_ssf_conv_init(&cv, &p, NULL, "ind", "obj", 7);
    vn_ssf_conv_span(&cv, sp);
    if (cv.c.metrics + cv.c.invalid_samples < sp->n_metrics)
        abort();
    return 0;
}
