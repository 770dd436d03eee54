/*
 * fuzz_proxy_scan.c - libFuzzer target for src/proxy/metric_scan.h, the
 * veneur-proxy's routing scanner (issue 22).
 *
 * Differential: the scanner must accept exactly the bytes
 * forward/metricpb_codec's vn_pb_metric_decode accepts, and read the same
 * name, type and tags (in order). The routing key hash built from the scan
 * (proxy/ring.h, fed in pieces) must equal vn_ring_hash of the key joined
 * by hand, which also checks the CRC-32 paths against each other. The
 * one-pass key (vn_mscan_key) may decline any message, but one it keys
 * must be accepted by the scan and keyed as the hand-joined key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forward/metricpb_codec.h"
#include "proxy/metric_scan.h"
#include "proxy/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vn_mscan_t s;
    vn_pb_metric_t m;
    bool ok_scan = vn_mscan_metric(data, size, &s);
    bool ok_dec = vn_pb_metric_decode(data, size, &m) == VN_OK;
    if (ok_scan != ok_dec)
        abort();
    static vn_mscan_key_t fk;
    bool fast = vn_mscan_key(data, size, NULL, &fk);
    if (fast && !ok_scan)
        abort();
    if (!ok_scan)
        return 0;
    if (s.name_len != m.name.len || memcmp(s.name, m.name.p, s.name_len) != 0 || s.type != m.type ||
        s.ntags != m.ntags)
        abort();
    /* the key joined by hand: at most the message plus the type name and commas */
    char *joined = malloc(size + 16 + s.ntags);
    if (!joined)
        return 0;
    char tn[12];
    vn_ring_type_name(s.type, tn);
    size_t j = 0;
    memcpy(joined + j, s.name, s.name_len);
    j += s.name_len;
    memcpy(joined + j, tn, strlen(tn));
    j += strlen(tn);
    vn_ring_key_t k;
    vn_ring_key_begin(&k, s.name, s.name_len, s.type);
    size_t sp = s.tags_from, dp = 0, n = 0;
    const char *t;
    size_t tl;
    vn_str_t dt;
    while (vn_mscan_next_tag(data, &s, &sp, &t, &tl)) {
        if (!vn_pb_metric_next_tag(&m, &dp, &dt) || dt.len != tl || memcmp(dt.p, t, tl) != 0)
            abort();
        if (n++)
            joined[j++] = ',';
        memcpy(joined + j, t, tl);
        j += tl;
        vn_ring_key_tag(&k, t, tl);
    }
    if (n != s.ntags || vn_pb_metric_next_tag(&m, &dp, &dt))
        abort();
    /* the kept spans, then the walk from spans_to: the same tags again */
    dp = 0;
    for (n = 0; n < s.ntags && n < VN_MSCAN_SPANS; n++)
        if (!vn_pb_metric_next_tag(&m, &dp, &dt) || dt.len != s.span[n].len ||
            memcmp(dt.p, data + s.span[n].off, dt.len) != 0)
            abort();
    sp = s.spans_to;
    while (s.ntags > VN_MSCAN_SPANS && vn_mscan_next_tag(data, &s, &sp, &t, &tl)) {
        if (!vn_pb_metric_next_tag(&m, &dp, &dt) || dt.len != tl || memcmp(dt.p, t, tl) != 0)
            abort();
        n++;
    }
    if (n != s.ntags)
        abort();
    if (vn_ring_key_end(&k) != vn_ring_hash(joined, j))
        abort();
    if (fast && (fk.len != j || memcmp(fk.buf + fk.start, joined, j) != 0))
        abort();
    if (fast && vn_ring_hash_pad16(fk.buf + fk.start, fk.len) != vn_ring_hash(joined, j))
        abort();
    free(joined);
    return 0;
}
