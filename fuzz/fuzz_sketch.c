/*
 * fuzz_sketch.c - libFuzzer target for the two sketch decoders that read
 * peer bytes: vn_tdigest_decode (and vn_tdigest_from_pb after protobuf-c's
 * unpack) for metricpb HistogramValue, vn_hll_unmarshal for SetValue.
 *
 * Every input goes to all of them. Whatever decodes is then used the way the
 * global uses it (quantiles, cdf, estimate, merge into fresh and populated
 * sketches, more samples) and re-encoded; invariants that must hold for any
 * accepted input abort on failure:
 *   - encode(decode(x)) decodes again and re-encodes to the same bytes;
 *   - quantile(0) == min, quantile(1) == max, quantiles are monotone;
 *   - cdf is within [0, 1]; merging keeps count and the extremes;
 *   - marshal(unmarshal(x)) unmarshals again to the same bytes and estimate.
 *
 * The packed resting form of a digest (tdigest_pack.h) is never read from
 * outside input: only tdigest.c packs and unpacks it, in memory. Still, the
 * input is also (a) taken as raw {mean, weight} pairs, which must pack and
 * unpack bit for bit, (b) given to the checked unpacker as bytes, which
 * must never read out of bounds, and (c) added, as integer weights, to a
 * digest that rests packed and to a wide twin: both must give the same
 * bits for every quantile.
 * Leaks and memory errors are ASan's job.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/hll.h"
#include "aggregate/tdigest.h"
#include "aggregate/tdigest_pack.h"
#include "tdigest.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                         \
    do {                                                                                                 \
        if (!(c))                                                                                        \
            abort();                                                                                     \
    } while (0)

static uint8_t *encode(vn_tdigest_t *td, size_t *len)
{
    size_t cap = vn_tdigest_encoded_size(td);
    uint8_t *buf = malloc(cap ? cap : 1);
    CHECK(buf);
    CHECK(vn_tdigest_encode(td, buf, cap, len) == VN_OK && *len == cap);
    if (cap > 0)
        CHECK(vn_tdigest_encode(td, buf, cap - 1, len) == VN_ERR_TOO_LARGE);
    *len = cap;
    return buf;
}

static void use_digest(vn_tdigest_t *td)
{
    double count = vn_tdigest_count(td), mn = vn_tdigest_min(td), mx = vn_tdigest_max(td);
    if (count > 0) {
        CHECK(vn_tdigest_quantile(td, 0) == mn);
        CHECK(vn_tdigest_quantile(td, 1) == mx);
        double prev = -INFINITY;
        for (int i = 0; i <= 20; i++) {
            double x = vn_tdigest_quantile(td, i / 20.0);
            CHECK(!(x < prev));
            if (!isnan(x))
                prev = x;
            double c = vn_tdigest_cdf(td, x);
            CHECK(isnan(c) || (c >= 0 && c <= 1));
        }
    } else {
        CHECK(isnan(vn_tdigest_quantile(td, 0.5)));
    }

    /* merged into an empty digest and into one with samples */
    vn_tdigest_t a, b;
    (void)vn_tdigest_init(&a, 100);
    CHECK(vn_tdigest_merge(&a, td) == VN_OK);
    /* weights are re-added in another order: equal up to rounding */
    CHECK(fabs(vn_tdigest_count(&a) - count) <= 1e-9 * count);
    if (count > 0)
        CHECK(vn_tdigest_min(&a) == mn && vn_tdigest_max(&a) == mx);
    (void)vn_tdigest_init_scale(&b, 20, VN_TDIGEST_SCALE_K1);
    for (int i = 0; i < 50; i++)
        CHECK(vn_tdigest_add(&b, i - 25, 1) == VN_OK);
    vn_err_t e = vn_tdigest_merge(&b, td);
    CHECK(e == VN_OK || e == VN_ERR_TOO_LARGE);
    (void)vn_tdigest_quantile(&b, 0.99);
    (void)vn_tdigest_merge(td, &b);
    for (int i = 0; i < 300; i++)
        (void)vn_tdigest_add(td, i * 0.5, 1 + i % 4);
    (void)vn_tdigest_quantile(td, 0.5);
    vn_tdigest_destroy(&a);
    vn_tdigest_destroy(&b);
}

static void fuzz_tdigest(const uint8_t *data, size_t size)
{
    vn_tdigest_t td, again;
    if (vn_tdigest_decode(&td, data, size) == VN_OK) {
        size_t len1, len2;
        uint8_t *b1 = encode(&td, &len1);
        CHECK(vn_tdigest_decode(&again, b1, len1) == VN_OK);
        uint8_t *b2 = encode(&again, &len2);
        CHECK(len1 == len2 && memcmp(b1, b2, len1) == 0);

        /* the protobuf-c struct carries the same digest, and protobuf-c's
         * bytes for it decode too (they may differ from ours only in writing
         * a -0.0 that Go and we leave out) */
        Tdigest__MergingDigestData pb;
        vn_tdigest_to_pb(&td, &pb);
        vn_tdigest_t from;
        CHECK(vn_tdigest_from_pb(&from, &pb) == VN_OK);
        CHECK(vn_tdigest_count(&from) == vn_tdigest_count(&td));
        vn_tdigest_destroy(&from);
        size_t plen = tdigest__merging_digest_data__get_packed_size(&pb);
        uint8_t *packed = malloc(plen ? plen : 1);
        CHECK(packed && tdigest__merging_digest_data__pack(&pb, packed) == plen);
        CHECK(vn_tdigest_decode(&from, packed, plen) == VN_OK);
        CHECK(vn_tdigest_count(&from) == vn_tdigest_count(&td));
        vn_tdigest_destroy(&from);
        free(packed);
        vn_tdigest_pb_release(&pb);

        use_digest(&td);
        vn_tdigest_destroy(&again);
        free(b1);
        free(b2);
    }
    vn_tdigest_destroy(&td);

    Tdigest__MergingDigestData *up = tdigest__merging_digest_data__unpack(NULL, size, data);
    if (up) {
        if (vn_tdigest_from_pb(&td, up) == VN_OK)
            use_digest(&td);
        vn_tdigest_destroy(&td);
        tdigest__merging_digest_data__free_unpacked(up, NULL);
    }
}

static uint8_t *marshal(const vn_hll_t *h, size_t *len)
{
    size_t cap = vn_hll_marshal_size(h);
    uint8_t *buf = malloc(cap);
    CHECK(buf);
    CHECK(vn_hll_marshal(h, buf, cap, len) == VN_OK && *len == cap);
    CHECK(vn_hll_marshal(h, buf, cap - 1, len) == VN_ERR_TOO_LARGE);
    *len = cap;
    return buf;
}

static void fuzz_hll(const uint8_t *data, size_t size)
{
    vn_hll_t h, again, fresh, dense;
    if (vn_hll_unmarshal(&h, data, size) != VN_OK) {
        vn_hll_destroy(&h);
        return;
    }
    uint64_t est = vn_hll_estimate(&h);
    (void)vn_hll_estimate_go(&h);
    size_t l1, l2;
    uint8_t *b1 = marshal(&h, &l1);
    CHECK(vn_hll_unmarshal(&again, b1, l1) == VN_OK);
    uint8_t *b2 = marshal(&again, &l2);
    CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0);
    CHECK(vn_hll_estimate(&again) == est);

    /* union with an empty sketch, with a dense one (base 2), and with itself */
    CHECK(vn_hll_init_precision(&fresh, vn_hll_precision(&h)) == VN_OK);
    CHECK(vn_hll_merge(&fresh, &h) == VN_OK);
    (void)vn_hll_estimate(&fresh);
    unsigned p = vn_hll_precision(&h);
    size_t dlen = 8 + ((size_t)1 << p) / 2;
    uint8_t *d = calloc(1, dlen);
    CHECK(d);
    d[0] = 1;
    d[1] = (uint8_t)p;
    d[2] = 2;
    d[4] = (uint8_t)((dlen - 8) >> 24);
    d[5] = (uint8_t)((dlen - 8) >> 16);
    d[6] = (uint8_t)((dlen - 8) >> 8);
    d[7] = (uint8_t)(dlen - 8);
    for (size_t i = 8; i < dlen; i++)
        d[i] = (uint8_t)(i * 37);
    CHECK(vn_hll_unmarshal(&dense, d, dlen) == VN_OK);
    CHECK(vn_hll_merge(&dense, &h) == VN_OK);
    (void)vn_hll_estimate(&dense);
    CHECK(vn_hll_merge(&h, &dense) == VN_OK);
    CHECK(vn_hll_merge(&again, &fresh) == VN_OK);
    for (int i = 0; i < 64; i++)
        vn_hll_add(&again, &i, sizeof i);
    (void)vn_hll_estimate(&again);
    (void)vn_hll_estimate(&h);

    free(d);
    free(b1);
    free(b2);
    vn_hll_destroy(&h);
    vn_hll_destroy(&again);
    vn_hll_destroy(&fresh);
    vn_hll_destroy(&dense);
}

static void fuzz_pack(const uint8_t *data, size_t size)
{
    /* (a) raw pairs round-trip */
    size_t n = size / sizeof(vn_tdigest_centroid_t);
    if (n > 4096)
        n = 4096;
    vn_tdigest_centroid_t *c = malloc((n ? n : 1) * sizeof(*c));
    vn_tdigest_centroid_t *back = malloc((n ? n : 1) * sizeof(*back));
    uint8_t *buf = malloc(n * VN_TDIGEST_PACK_MAX + VN_TDIGEST_PACK_SLACK);
    CHECK(c && back && buf);
    if (n)
        memcpy(c, data, n * sizeof(*c));
    size_t len = vn_tdigest_pack(c, n, buf);
    CHECK(len <= n * VN_TDIGEST_PACK_MAX);
    CHECK(vn_tdigest_unpack(buf, len, back, n));
    CHECK(n == 0 || memcmp(c, back, n * sizeof(*c)) == 0);

    /* (b) the checked reader on arbitrary bytes, for any count */
    size_t want = size ? data[0] : 0;
    vn_tdigest_centroid_t *sink = malloc((want ? want : 1) * sizeof(*sink));
    CHECK(sink);
    (void)vn_tdigest_unpack(data, size, sink, want);
    free(sink);

    /* (c) a packed digest and a wide twin fed the same finite samples */
    vn_tdigest_t p, w;
    (void)vn_tdigest_init(&p, 100);
    (void)vn_tdigest_init(&w, 100);
    CHECK(vn_tdigest_add(&p, 0, 1) == VN_OK && vn_tdigest_add(&w, 0, 1) == VN_OK);
    size_t n0;
    (void)vn_tdigest_centroids(&w, &n0); /* wide for good; it folds, so fold p too */
    vn_tdigest_compress(&p);
    for (size_t i = 0; i < n; i++) {
        double wt = isfinite(c[i].weight) ? 1 + floor(fabs(fmod(c[i].weight, 300.0))) : 1;
        vn_err_t ep = vn_tdigest_add(&p, c[i].mean, wt), ew = vn_tdigest_add(&w, c[i].mean, wt);
        CHECK(ep == ew);
    }
    for (int i = 0; i <= 40; i++) {
        double a = vn_tdigest_quantile(&p, i / 40.0), b = vn_tdigest_quantile(&w, i / 40.0);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
    }
    size_t l1, l2;
    uint8_t *e1 = encode(&p, &l1), *e2 = encode(&w, &l2);
    CHECK(l1 == l2 && memcmp(e1, e2, l1) == 0);
    free(e1);
    free(e2);
    vn_tdigest_destroy(&p);
    vn_tdigest_destroy(&w);
    free(buf);
    free(back);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tdigest(data, size);
    fuzz_pack(data, size);
    fuzz_hll(data, size);
    return 0;
}
