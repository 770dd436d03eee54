/*
 * fuzz_grpc_frame.c - libFuzzer target for src/forward/grpc_frame.h, the
 * reassembly of gRPC messages from an HTTP/2 request body, and the metricpb
 * decoder behind it.
 *
 * The first input byte picks a chunk-size pattern; the rest is the body.
 * The body is fed twice: whole, then in chunks (as DATA frames would cut
 * it). Both runs must deliver the same messages (lengths and contents) and
 * end with the same error, every message must respect the cap, and the
 * shared reassembly budget must be back to 0 once the readers are
 * destroyed. Every delivered message also goes through the metricpb
 * decoder, and the input through the grpc-message and grpc-timeout parsers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forward/grpc_frame.h"
#include "forward/metricpb_codec.h"

#define MAX_MSG 4096
#define MAX_RECORD 256

static bool b_reserve(void *ctx, size_t n)
{
    *(size_t *)ctx += n;
    return true;
}

static void b_release(void *ctx, size_t n)
{
    size_t *u = ctx;
    if (n > *u)
        abort();
    *u -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rec {
    size_t n;
    size_t lens[MAX_RECORD];
    uint64_t sums[MAX_RECORD];
} rec_t;

static vn_err_t on_msg(void *ctx, const uint8_t *msg, size_t len)
{
    rec_t *r = ctx;
    if (len > MAX_MSG)
        abort();
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ msg[i]) * 1099511628211ull;
    if (r->n < MAX_RECORD) {
        r->lens[r->n] = len;
        r->sums[r->n] = h;
    }
    r->n++;
    vn_pb_metric_t m;
    if (vn_pb_metric_decode(msg, len, &m) == VN_OK) {
        size_t pos = 0, n = 0, bytes = 0;
        vn_str_t t;
        while (vn_pb_metric_next_tag(&m, &pos, &t)) {
            n++;
            bytes += t.len;
        }
        if (n != m.ntags || bytes != m.tags_bytes)
            abort();
    }
    return len > 0 && msg[0] == 0xff ? VN_ERR_PARSE : VN_OK; /* exercise the callback-error path */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t pattern = data[0];
    data++;
    size--;

    size_t budget = 0;
    vn_grpc_budget_t bud = {b_reserve, b_release, &budget};
    vn_grpc_reader_t a, b;
    rec_t ra = {0}, rb = {0};
    vn_grpc_reader_init(&a, MAX_MSG, &bud);
    vn_err_t ea = vn_grpc_reader_feed(&a, data, size, on_msg, &ra);
    bool idle_a = vn_grpc_reader_idle(&a);

    vn_grpc_reader_init(&b, MAX_MSG, &bud);
    vn_err_t eb = VN_OK;
    size_t off = 0, i = 0;
    while (off < size && eb == VN_OK) {
        size_t chunk = 1 + ((pattern >> (i++ % 8)) & 7) * (1 + (pattern & 31));
        if (chunk > size - off)
            chunk = size - off;
        eb = vn_grpc_reader_feed(&b, data + off, chunk, on_msg, &rb);
        off += chunk;
    }
    bool idle_b = vn_grpc_reader_idle(&b);
    /* Same messages and outcome however the bytes were cut (the budget never refuses). */
    if (ea != eb || ra.n != rb.n || (ea == VN_OK && idle_a != idle_b))
        abort();
    for (size_t k = 0; k < ra.n && k < MAX_RECORD; k++)
        if (ra.lens[k] != rb.lens[k] || ra.sums[k] != rb.sums[k])
            abort();
    vn_grpc_reader_destroy(&a);
    vn_grpc_reader_destroy(&b);
    if (budget != 0)
        abort();

    char out[128];
    vn_grpc_message_decode((const char *)data, size, out, sizeof out);
    double secs;
    (void)vn_grpc_timeout_parse((const char *)data, size, &secs);
    return 0;
}
