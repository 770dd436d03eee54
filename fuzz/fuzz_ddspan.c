/*
 * fuzz_ddspan.c - libFuzzer target for the datadog span sink's encoder and
 * ring (spansinks/datadog.h).
 *
 * The input is one SSF packet. A decoded span is encoded and buffered in a
 * small ring that lives across inputs (3 slots, 1 KiB: evictions and copies
 * that wrap around the end happen all the time); every fourth input takes the
 * PUT body. Invariants: no crash, leak or out-of-bounds access; the body is
 * valid JSON of the trace API's shape (an array of non-empty arrays of
 * objects, one trace id per array, every trace id once) holding as many spans
 * as take reports, each with the span's ids and the "web" type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_read.h"
#include "spansinks/datadog.h"
#include "ssf/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const char *body, size_t len, size_t nspans, size_t ntraces)
{
    if (!body || len != strlen(body) || len < 6 || body[len - 1] != '\n')
        abort();
    vn_jread_doc_t doc;
    char err[128];
    if (vn_jread_parse(body, len, 1u << 20, &doc, err, sizeof err) != VN_OK)
        abort();
    const vn_jread_node_t *root = vn_jread_root(&doc);
    if (!root || root->type != VN_JREAD_ARRAY || root->count != ntraces)
        abort();
    size_t spans = 0;
    int64_t prev_trace = 0;
    for (const vn_jread_node_t *t = NULL; (t = vn_jread_child(&doc, root, t));) {
        if (t->type != VN_JREAD_ARRAY || t->count == 0)
            abort();
        int64_t trace = 0;
        for (const vn_jread_node_t *s = NULL; (s = vn_jread_child(&doc, t, s));) {
            int64_t tid, sid;
            size_t tlen;
            const vn_jread_node_t *ty = vn_jread_get(&doc, s, "type");
            if (s->type != VN_JREAD_OBJECT || !vn_jread_int(&doc, vn_jread_get(&doc, s, "trace_id"), &tid) ||
                !vn_jread_int(&doc, vn_jread_get(&doc, s, "span_id"), &sid) || !ty || ty->type != VN_JREAD_STRING ||
                strcmp(vn_jread_str(&doc, ty, &tlen), "web") != 0)
                abort();
            if (spans > 0 && s == vn_jread_child(&doc, t, NULL) && tid <= prev_trace)
                abort(); /* traces ascend, each once */
            if (s != vn_jread_child(&doc, t, NULL) && tid != trace)
                abort(); /* one trace id per array */
            trace = tid;
            spans++;
        }
        prev_trace = trace;
    }
    if (spans != nspans)
        abort();
    vn_jread_free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vn_ssf_arena_t a;
    static vn_ddspan_buf_t rb;
    static unsigned calls;
    if (!a.mem) {
        vn_ssf_arena_init(&a, 65536);
        vn_ddspan_buf_init(&rb, 3, 1024);
    }
    if (size > 65536)
        return 0;
    Ssf__SSFSpan *sp;
    if (vn_ssf_decode(&a, data, size, 1, &sp) == VN_SSF_DEC_OK) {
        size_t before = vn_ddspan_buf_count(&rb), evicted = 0;
        vn_err_t err = vn_ddspan_buf_add(&rb, sp, &evicted);
        size_t after = vn_ddspan_buf_count(&rb);
        if (err == VN_OK ? after != before + 1 - evicted || after > 3 : after != before || evicted)
            abort();
    }
    if (++calls % 4 == 0) {
        size_t len, nspans, ntraces;
        char *body = vn_ddspan_buf_take(&rb, &len, &nspans, &ntraces);
        if (body)
            check_body(body, len, nspans, ntraces);
        else if (nspans || vn_ddspan_buf_count(&rb))
            abort();
        free(body);
    }
    return 0;
}
