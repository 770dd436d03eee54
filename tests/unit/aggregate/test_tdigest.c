/* test_tdigest.c - aggregate/tdigest: the merging t-digest and its wire codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/tdigest.h"
#include "tdigest_fixtures.h"
#include "tdigest.pb-c.h"

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1] && n < cap; p += 2) {
        char b[3] = {p[0], p[1], 0};
        out[n++] = (uint8_t)strtoul(b, NULL, 16);
    }
    return n;
}

/* relative closeness for values Go computed with the same arithmetic */
static void assert_close(double got, double want, double rel)
{
    if (isnan(want) || isinf(want)) {
        assert_true(isnan(want) ? isnan(got) : got == want);
        return;
    }
    if (!(fabs(got - want) <= rel * fmax(fabs(want), 1e-300))) {
        print_error("got %.17g want %.17g\n", got, want);
        fail();
    }
}

/* ---- lifecycle and input checks ---- */

static void test_tdigest__init_bad_compression(void **state)
{
    (void)state;
    vn_tdigest_t td;
    const double bad[] = {0, 0.999, -5, 10000.5, 1e9, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vn_tdigest_init(&td, bad[i]), VN_ERR_CONFIG);
        assert_true(vn_tdigest_compression(&td) == VN_TDIGEST_DEFAULT_COMPRESSION);
        vn_tdigest_destroy(&td);
    }
    assert_int_equal(vn_tdigest_init(&td, VN_TDIGEST_MIN_COMPRESSION), VN_OK);
    vn_tdigest_destroy(&td);
    assert_int_equal(vn_tdigest_init(&td, VN_TDIGEST_MAX_COMPRESSION), VN_OK);
    vn_tdigest_destroy(&td);
    assert_int_equal(vn_tdigest_init_scale(&td, 100, VN_TDIGEST_SCALE__COUNT), VN_ERR_CONFIG);
    vn_tdigest_destroy(&td);
    vn_tdigest_destroy(NULL);
}

static void test_tdigest__empty(void **state)
{
    (void)state;
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    assert_true(vn_tdigest_count(&td) == 0);
    assert_true(vn_tdigest_sum(&td) == 0);
    assert_true(isinf(vn_tdigest_min(&td)) && vn_tdigest_min(&td) > 0);
    assert_true(isinf(vn_tdigest_max(&td)) && vn_tdigest_max(&td) < 0);
    assert_true(isnan(vn_tdigest_quantile(&td, 0.5)));
    assert_true(isnan(vn_tdigest_cdf(&td, 1.0)));
    assert_int_equal(vn_tdigest_centroid_count(&td), 0);
    assert_int_equal(vn_tdigest_memory(&td), 0); /* lazy: nothing allocated */
    /* the empty digest encodes exactly like Go's (compression, +Inf, -Inf) */
    size_t len, glen;
    uint8_t *buf = td_encode(&td, &len);
    uint8_t *go = fx_read("tdigest_empty.pb", &glen);
    assert_non_null(go);
    assert_int_equal(len, 27);
    assert_int_equal(len, glen);
    assert_memory_equal(buf, go, len);
    free(buf);
    free(go);
    vn_tdigest_destroy(&td);
}

static void test_tdigest__add_rejects_bad_samples(void **state)
{
    (void)state;
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    assert_int_equal(vn_tdigest_add(&td, 3, 1), VN_OK);
    const double bad[][2] = {{NAN, 1}, {INFINITY, 1}, {-INFINITY, 1}, {1, 0},        {1, -1},
                             {1, NAN}, {1, INFINITY}, {1, -0.0},     {1, -INFINITY}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vn_tdigest_add(&td, bad[i][0], bad[i][1]), VN_ERR_PARSE);
    assert_true(vn_tdigest_count(&td) == 1);
    assert_true(vn_tdigest_sum(&td) == 3);
    assert_true(vn_tdigest_min(&td) == 3 && vn_tdigest_max(&td) == 3);
    assert_true(vn_tdigest_quantile(&td, 0.5) == 3);
    /* out-of-range quantiles are NaN instead of a panic */
    assert_true(isnan(vn_tdigest_quantile(&td, -0.1)));
    assert_true(isnan(vn_tdigest_quantile(&td, 1.5)));
    assert_true(isnan(vn_tdigest_quantile(&td, NAN)));
    assert_true(isnan(vn_tdigest_cdf(&td, NAN)));
    /* total weight that would overflow */
    assert_int_equal(vn_tdigest_add(&td, 1, 1.7e308), VN_OK);
    assert_int_equal(vn_tdigest_add(&td, 1, 1.7e308), VN_ERR_TOO_LARGE);
    vn_tdigest_destroy(&td);
}

/* ---- docs/behaviour.md 0.5 / 2.4 vectors: values that are each their own centroid ---- */

typedef struct spec_case {
    const char *name;
    double samples[5];
    size_t n;
    double weight;
    double q[3];
    double want[3];
} spec_case_t;

static void test_tdigest__spec_vectors(void **state)
{
    (void)state;
    static const spec_case_t cases[] = {
        {"{1,2}", {1, 2}, 2, 1, {0.5, 0.75, 0.99}, {1.5, 1.75, 1.99}},
        {"5..25", {5, 10, 15, 20, 25}, 5, 1, {0.5, 0.9, 0}, {15, 23.75, 5}},
        /* docs/behaviour.md 0.5 lists 250/275/299 for this case, but W2.1's interpolation
         * (and Go, checked: tests/data/wire/tdigest_weighted.pb) gives the
         * median of {100,100,200,200,300,300} as 200; these are Go's values. */
        {"100,200,300 w=2", {100, 200, 300}, 3, 2, {0.5, 0.75, 0.99}, {200, 262.5, 298.5}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int scale = 0; scale < VN_TDIGEST_SCALE__COUNT; scale++) {
            vn_tdigest_t td;
            assert_int_equal(vn_tdigest_init_scale(&td, 100, (vn_tdigest_scale_t)scale), VN_OK);
            td_add_all(&td, cases[c].samples, cases[c].n, cases[c].weight);
            for (int k = 0; k < 3; k++)
                assert_close(vn_tdigest_quantile(&td, cases[c].q[k]), cases[c].want[k], 1e-15);
            assert_int_equal(vn_tdigest_centroid_count(&td), cases[c].n);
            vn_tdigest_destroy(&td);
        }
    }
    /* docs/behaviour.md 2.4 aggregates of 5,10,15,20,25 */
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    td_add_all(&td, cases[1].samples, 5, 1);
    assert_true(vn_tdigest_count(&td) == 5);
    assert_true(vn_tdigest_sum(&td) == 75);
    assert_true(vn_tdigest_min(&td) == 5 && vn_tdigest_max(&td) == 25);
    assert_close(vn_tdigest_count(&td) / vn_tdigest_reciprocal_sum(&td),
                 5 / (1.0 / 5 + 1.0 / 10 + 1.0 / 15 + 1.0 / 20 + 1.0 / 25), 1e-15);
    assert_close(vn_tdigest_cdf(&td, 15), 0.5, 1e-15);
    assert_true(vn_tdigest_cdf(&td, 5) == 0 && vn_tdigest_cdf(&td, 25) == 1);
    vn_tdigest_destroy(&td);
}

/* ---- memory ---- */

static void test_tdigest__one_sample_is_small(void **state)
{
    (void)state;
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    assert_int_equal(vn_tdigest_add(&td, 5, 1), VN_OK);
    assert_true(sizeof(td) + vn_tdigest_memory(&td) <= 256); /* well under 1 KiB */
    /* and it is the W7 histogram payload */
    uint8_t want[64];
    size_t wlen = unhex("0a1209000000000000144011000000000000f03f110000000000005940190000000000001440"
                        "210000000000001440299a9999999999c93f",
                        want, sizeof want);
    size_t len;
    uint8_t *buf = td_encode(&td, &len);
    assert_int_equal(len, wlen);
    assert_memory_equal(buf, want, len);
    free(buf);
    vn_tdigest_destroy(&td);
}

static void test_tdigest__memory_is_bounded(void **state)
{
    (void)state;
    fx_rng_t r = {42};
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    size_t peak = 0;
    for (int i = 0; i < 300000; i++) {
        assert_int_equal(vn_tdigest_add(&td, exp(fx_gauss(&r)), 1), VN_OK);
        size_t m = vn_tdigest_memory(&td);
        peak = m > peak ? m : peak;
    }
    assert_true(peak <= vn_tdigest_max_bytes(100));
    assert_true(vn_tdigest_max_bytes(100) <= 16384);
    size_t nc = vn_tdigest_centroid_count(&td);
    assert_true(nc > 150 && nc < 500);
    /* merging many digests keeps it bounded too */
    for (int k = 0; k < 50; k++) {
        vn_tdigest_t part;
        assert_int_equal(vn_tdigest_init(&part, 100), VN_OK);
        for (int i = 0; i < 5000; i++)
            assert_int_equal(vn_tdigest_add(&part, exp(fx_gauss(&r)), 1), VN_OK);
        assert_int_equal(vn_tdigest_merge(&td, &part), VN_OK);
        assert_true(vn_tdigest_memory(&td) <= vn_tdigest_max_bytes(100));
        vn_tdigest_destroy(&part);
    }
    vn_tdigest_destroy(&td);
}

/* ---- Go interop ---- */

/* k1 mode folds at the same points as Go and must give Go's centroids. */
static void test_tdigest__k1_reproduces_go(void **state)
{
    (void)state;
    size_t glen, len;
    uint8_t *go = fx_read("tdigest_seq1000.pb", &glen);
    assert_non_null(go);
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init_scale(&td, 100, VN_TDIGEST_SCALE_K1), VN_OK);
    for (int i = 1; i <= 1000; i++)
        assert_int_equal(vn_tdigest_add(&td, i, 1), VN_OK);
    assert_int_equal(vn_tdigest_centroid_count(&td), 141);
    uint8_t *buf = td_encode(&td, &len);
    assert_int_equal(len, glen);
    assert_memory_equal(buf, go, len); /* byte-identical to gogo's Marshal */
    free(buf);
    free(go);
    vn_tdigest_destroy(&td);
}

static void test_tdigest__go_fixtures(void **state)
{
    (void)state;
    /* c_*: written by veneur-c (default scale), read back by Go */
    static const char *const files[] = {
        "tdigest_seq1000.pb", "tdigest_lognormal10k.pb", "tdigest_weighted.pb", "tdigest_5to25.pb",
        "tdigest_1and2.pb",   "tdigest_single5.pb",      "tdigest_empty.pb",    "tdigest_merged_exp.pb",
        "c_tdigest_default_lognormal.pb"};
    fx_value_t *vals = calloc(512, sizeof(*vals));
    size_t nv = fx_load_values(vals, 512);
    assert_true(nv > 100);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len, elen;
        uint8_t *bytes = fx_read(files[f], &len);
        assert_non_null(bytes);
        vn_tdigest_t td;
        assert_int_equal(vn_tdigest_decode(&td, bytes, len), VN_OK);
        size_t checked = 0;
        for (size_t i = 0; i < nv; i++) {
            const fx_value_t *v = &vals[i];
            if (strcmp(v->file, files[f]) != 0)
                continue;
            double want = fx_f64(v->bits), got;
            if (strcmp(v->kind, "centroids") == 0) {
                assert_int_equal(vn_tdigest_centroid_count(&td), v->ival);
                checked++;
                continue;
            } else if (strcmp(v->kind, "go_roundtrip") == 0) {
                assert_int_equal(v->ival, 1); /* Go re-encoded our bytes identically */
                checked++;
                continue;
            } else if (strcmp(v->kind, "quantile") == 0) {
                got = vn_tdigest_quantile(&td, v->arg);
            } else if (strcmp(v->kind, "cdf") == 0) {
                got = vn_tdigest_cdf(&td, v->arg);
            } else if (strcmp(v->kind, "count") == 0) {
                got = vn_tdigest_count(&td);
            } else if (strcmp(v->kind, "sum") == 0) {
                got = vn_tdigest_sum(&td);
            } else if (strcmp(v->kind, "min") == 0) {
                got = vn_tdigest_min(&td);
            } else if (strcmp(v->kind, "max") == 0) {
                got = vn_tdigest_max(&td);
            } else if (strcmp(v->kind, "rsum") == 0) {
                got = vn_tdigest_reciprocal_sum(&td);
            } else {
                continue;
            }
            /* same interpolation, same operations: Go's value to the ulp, except
             * sum, which Go re-adds from centroid means and we compensate */
            assert_close(got, want, strcmp(v->kind, "sum") == 0 ? 1e-12 : 4e-16);
            checked++;
        }
        assert_true(checked >= 6);
        /* decode then encode gives Go's bytes back */
        uint8_t *again = td_encode(&td, &elen);
        assert_int_equal(elen, len);
        assert_memory_equal(again, bytes, len);
        free(again);
        free(bytes);
        vn_tdigest_destroy(&td);
    }
    free(vals);
}

/* A Go digest merged into ours: our limits are finer than Go's at the same
 * compression, so its centroids survive and Go's quantiles are kept. */
static void test_tdigest__merge_go_digest(void **state)
{
    (void)state;
    size_t len;
    uint8_t *bytes = fx_read("tdigest_merged_exp.pb", &len);
    assert_non_null(bytes);
    vn_tdigest_t go, ours;
    assert_int_equal(vn_tdigest_decode(&go, bytes, len), VN_OK);
    assert_int_equal(vn_tdigest_init(&ours, 100), VN_OK);
    assert_int_equal(vn_tdigest_merge(&ours, &go), VN_OK);
    assert_true(vn_tdigest_count(&ours) == vn_tdigest_count(&go));
    assert_true(vn_tdigest_min(&ours) == vn_tdigest_min(&go));
    assert_true(vn_tdigest_max(&ours) == vn_tdigest_max(&go));
    for (double q = 0; q <= 1.0; q += 0.01) {
        /* rank difference, measured on Go's own digest */
        double x = vn_tdigest_quantile(&ours, q);
        assert_true(fabs(vn_tdigest_cdf(&go, x) - q) <= 2e-3);
    }
    free(bytes);
    vn_tdigest_destroy(&go);
    vn_tdigest_destroy(&ours);
}

static void test_tdigest__roundtrip_ours(void **state)
{
    (void)state;
    fx_rng_t r = {7};
    vn_tdigest_t td, back;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(vn_tdigest_add(&td, exp(fx_gauss(&r)), 1 + (i % 3)), VN_OK);
    (void)vn_tdigest_add(&td, 0.0, 1); /* reciprocal sum becomes +Inf, and survives */
    size_t len, len2;
    uint8_t *buf = td_encode(&td, &len);
    assert_int_equal(vn_tdigest_decode(&back, buf, len), VN_OK);
    assert_true(vn_tdigest_count(&back) == vn_tdigest_count(&td));
    assert_true(vn_tdigest_min(&back) == vn_tdigest_min(&td));
    assert_true(vn_tdigest_max(&back) == vn_tdigest_max(&td));
    assert_true(isinf(vn_tdigest_reciprocal_sum(&back)));
    assert_close(vn_tdigest_sum(&back), vn_tdigest_sum(&td), 1e-12);
    for (double q = 0; q <= 1.0; q += 0.001)
        assert_true(vn_tdigest_quantile(&back, q) == vn_tdigest_quantile(&td, q));
    uint8_t *again = td_encode(&back, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, again, len);
    free(buf);
    free(again);
    vn_tdigest_destroy(&td);
    vn_tdigest_destroy(&back);
}

/* Our encoder and protobuf-c's packer agree; protobuf-c's unpack of a Go
 * fixture converts back to the same digest. */
static void test_tdigest__protobuf_c_agrees(void **state)
{
    (void)state;
    fx_rng_t r = {3};
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(vn_tdigest_add(&td, fx_unif(&r) * 100 - 50, 1), VN_OK);
    Tdigest__MergingDigestData pb;
    vn_tdigest_to_pb(&td, &pb);
    size_t len;
    uint8_t *ours = td_encode(&td, &len);
    assert_int_equal(tdigest__merging_digest_data__get_packed_size(&pb), len);
    uint8_t *packed = malloc(len);
    assert_int_equal(tdigest__merging_digest_data__pack(&pb, packed), len);
    assert_memory_equal(packed, ours, len);
    vn_tdigest_t back;
    assert_int_equal(vn_tdigest_from_pb(&back, &pb), VN_OK);
    for (double q = 0; q <= 1.0; q += 0.01)
        assert_true(vn_tdigest_quantile(&back, q) == vn_tdigest_quantile(&td, q));
    vn_tdigest_pb_release(&pb);
    vn_tdigest_pb_release(&pb); /* idempotent */
    vn_tdigest_pb_release(NULL);
    vn_tdigest_destroy(&back);
    free(packed);
    free(ours);

    /* a centroid mean of 0 is left off the wire by both (proto3) */
    vn_tdigest_t z;
    assert_int_equal(vn_tdigest_init(&z, 100), VN_OK);
    const double zs[] = {-1, 0, 1};
    td_add_all(&z, zs, 3, 1);
    vn_tdigest_to_pb(&z, &pb);
    ours = td_encode(&z, &len);
    assert_int_equal(tdigest__merging_digest_data__get_packed_size(&pb), len);
    packed = malloc(len);
    assert_int_equal(tdigest__merging_digest_data__pack(&pb, packed), len);
    assert_memory_equal(packed, ours, len);
    assert_memory_equal(ours + 20, "\x0a\x09\x11\x00\x00\x00\x00\x00\x00\xf0\x3f", 11);
    vn_tdigest_pb_release(&pb);
    vn_tdigest_destroy(&z);
    free(packed);
    free(ours);

    size_t glen;
    uint8_t *go = fx_read("tdigest_lognormal10k.pb", &glen);
    assert_non_null(go);
    Tdigest__MergingDigestData *up = tdigest__merging_digest_data__unpack(NULL, glen, go);
    assert_non_null(up);
    vn_tdigest_t a, b;
    assert_int_equal(vn_tdigest_from_pb(&a, up), VN_OK);
    assert_int_equal(vn_tdigest_decode(&b, go, glen), VN_OK);
    assert_int_equal(vn_tdigest_centroid_count(&a), 134);
    for (double q = 0; q <= 1.0; q += 0.01)
        assert_true(vn_tdigest_quantile(&a, q) == vn_tdigest_quantile(&b, q));
    /* from_pb validates like decode */
    up->main_centroids[3]->weight = -1;
    vn_tdigest_t bad;
    assert_int_equal(vn_tdigest_from_pb(&bad, up), VN_ERR_PROTO);
    assert_true(vn_tdigest_count(&bad) == 0);
    vn_tdigest_destroy(&bad);
    assert_int_equal(vn_tdigest_from_pb(&bad, NULL), VN_ERR_PROTO);
    vn_tdigest_destroy(&bad);
    tdigest__merging_digest_data__free_unpacked(up, NULL);
    free(go);
    vn_tdigest_destroy(&a);
    vn_tdigest_destroy(&b);
    vn_tdigest_destroy(&td);
}

/* ---- decode: rejects and tolerances ---- */

#define C5 "0a1209000000000000144011000000000000f03f" /* centroid {5, 1} */
#define C6 "0a1209000000000000184011000000000000f03f" /* centroid {6, 1} */
#define COMP "110000000000005940"                     /* compression 100 */
#define MIN5 "190000000000001440"
#define MAX6 "210000000000001840"

static void test_tdigest__decode_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *why, *hex;
    } bad[] = {
        {"empty: compression 0", ""},
        {"compression only 0.5", "11000000000000e03f"},
        {"compression 20000", "11000000000088d340"},
        {"compression NaN", "11000000000000f87f"},
        {"truncated tag", "0a"},
        {"truncated centroid", "0a120900000000000014401100000000"},
        {"length past the end", "0aff01" C5},
        {"truncated fixed64", "1100000000"},
        {"NaN mean", "0a1209000000000000f87f11000000000000f03f" COMP MIN5 MAX6},
        {"infinite mean", "0a1209000000000000f07f11000000000000f03f" COMP MIN5 MAX6},
        {"weight 0 (absent)", "0a09090000000000001440" COMP MIN5 MAX6},
        {"negative weight", "0a1209000000000000144011000000000000f0bf" COMP MIN5 MAX6},
        {"NaN weight", "0a1209000000000000144011000000000000f87f" COMP MIN5 MAX6},
        {"infinite weight", "0a1209000000000000144011000000000000f07f" COMP MIN5 MAX6},
        {"means descending", C6 C5 COMP MIN5 MAX6},
        {"total weight overflows", "0a120900000000000014401100000000ffffef7f"
                                   "0a120900000000000018401100000000ffffef7f" COMP MIN5 MAX6},
        {"min NaN", C5 COMP "19000000000000f87f" MAX6},
        {"max -Inf with centroids", C5 COMP MIN5 "21000000000000f0ff"},
        {"min > max", C5 COMP "190000000000002040" MAX6},
        {"centroids as fixed64", "090000000000001440" COMP},
        {"compression as varint", C5 "1064" MIN5 MAX6},
        {"mean as varint", "0a0b080511000000000000f03f" COMP},
        {"group wire type", "0b" C5 COMP},
        {"wire type 7", "0f" COMP},
        {"field number 0", "0200" COMP},
        {"varint over 64 bits", "48ffffffffffffffffff7f" COMP},
        {"packed samples not x8", "0a17" "09000000000000144011000000000000f03f" "1a03010203" COMP MIN5 MAX6},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[256];
        size_t n = unhex(bad[i].hex, buf, sizeof buf);
        vn_tdigest_t td;
        if (vn_tdigest_decode(&td, buf, n) != VN_ERR_PROTO) {
            print_error("accepted: %s\n", bad[i].why);
            fail();
        }
        /* left empty, usable and destroyable */
        assert_true(vn_tdigest_count(&td) == 0);
        assert_int_equal(vn_tdigest_add(&td, 1, 1), VN_OK);
        vn_tdigest_destroy(&td);
    }

    /* more centroids than VN_TDIGEST_MAX_CENTROIDS */
    size_t n = VN_TDIGEST_MAX_CENTROIDS + 1;
    uint8_t *big = malloc(n * 20 + 9), *p = big;
    for (size_t i = 0; i < n; i++) {
        double mean = (double)i, w = 1;
        *p++ = 0x0a;
        *p++ = 0x12;
        *p++ = 0x09;
        memcpy(p, &mean, 8); /* little-endian host, as the wire */
        p += 8;
        *p++ = 0x11;
        memcpy(p, &w, 8);
        p += 8;
    }
    p += unhex(COMP, p, 9);
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_decode(&td, big, (size_t)(p - big)), VN_ERR_PROTO);
    vn_tdigest_destroy(&td);
    /* exactly the maximum is fine: drop the first centroid */
    assert_int_equal(vn_tdigest_decode(&td, big + 20, (size_t)(p - big) - 20), VN_OK);
    assert_int_equal(vn_tdigest_centroid_count(&td), VN_TDIGEST_MAX_CENTROIDS);
    vn_tdigest_destroy(&td);
    free(big);
    assert_int_equal(vn_tdigest_decode(&td, NULL, 5), VN_ERR_PROTO);
    vn_tdigest_destroy(&td);
}

static void test_tdigest__decode_tolerates(void **state)
{
    (void)state;
    static const struct {
        const char *why, *hex;
        double count, median;
    } ok[] = {
        {"unknown fields of every type",
         "4801" "5500000000" "5a03616263" C5 COMP MIN5 MAX6 "61ffffffffffffffff", 1, 5.5},
        {"fields out of order, repeated scalar", MAX6 "11000000000000f03f" C5 C6 COMP MIN5, 2, 5.5},
        {"samples packed and unpacked",
         "0a27" "09000000000000144011000000000000f03f" "1a080000000000001440" "190000000000001440" "3801"
         COMP MIN5 MAX6, 1, 5.5},
        {"min/max widened to the means", C5 C6 COMP "190000000000001540" /* 5.25 */
                                         "210000000000001740" /* 5.75 */, 2, 5.5},
        {"empty digest with reciprocal sum", COMP "29000000000000f03f", 0, NAN},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t buf[256];
        size_t n = unhex(ok[i].hex, buf, sizeof buf);
        vn_tdigest_t td;
        if (vn_tdigest_decode(&td, buf, n) != VN_OK) {
            print_error("rejected: %s\n", ok[i].why);
            fail();
        }
        assert_true(vn_tdigest_count(&td) == ok[i].count);
        assert_close(vn_tdigest_quantile(&td, 0.5), ok[i].median, 1e-15);
        vn_tdigest_destroy(&td);
    }
}

/* ---- merge ---- */

static void test_tdigest__merge_keeps_src_min_max(void **state)
{
    (void)state;
    vn_tdigest_t dst, src, empty;
    assert_int_equal(vn_tdigest_init(&dst, 100), VN_OK);
    assert_int_equal(vn_tdigest_init(&src, 100), VN_OK);
    assert_int_equal(vn_tdigest_init(&empty, 100), VN_OK);
    for (int i = 10; i <= 20; i++)
        assert_int_equal(vn_tdigest_add(&dst, i, 1), VN_OK);
    /* src: many samples near 50 plus one extreme on each side; its
     * centroids at the ends hold more than the extreme sample */
    fx_rng_t r = {11};
    for (int i = 0; i < 100000; i++)
        assert_int_equal(vn_tdigest_add(&src, 50 + fx_gauss(&r), 2), VN_OK);
    assert_int_equal(vn_tdigest_add(&src, -1000, 1), VN_OK);
    assert_int_equal(vn_tdigest_add(&src, 1000, 1), VN_OK);
    double src_count = vn_tdigest_count(&src), src_sum = vn_tdigest_sum(&src);
    double src_rsum = vn_tdigest_reciprocal_sum(&src);
    assert_int_equal(vn_tdigest_merge(&dst, &src), VN_OK);
    assert_true(vn_tdigest_min(&dst) == -1000);
    assert_true(vn_tdigest_max(&dst) == 1000);
    assert_true(vn_tdigest_count(&dst) == 11 + src_count);
    assert_close(vn_tdigest_sum(&dst), 165 + src_sum, 1e-15);
    double rs10 = 0;
    for (int i = 10; i <= 20; i++)
        rs10 += 1.0 / i;
    assert_close(vn_tdigest_reciprocal_sum(&dst), rs10 + src_rsum, 1e-12);
    assert_true(vn_tdigest_quantile(&dst, 0) == -1000 && vn_tdigest_quantile(&dst, 1) == 1000);
    /* src is unchanged in what it reports */
    assert_true(vn_tdigest_count(&src) == src_count && vn_tdigest_min(&src) == -1000);
    /* merging an empty digest changes nothing; merging into itself is refused */
    double before = vn_tdigest_quantile(&dst, 0.3);
    assert_int_equal(vn_tdigest_merge(&dst, &empty), VN_OK);
    assert_true(vn_tdigest_quantile(&dst, 0.3) == before);
    assert_int_equal(vn_tdigest_merge(&dst, &dst), VN_ERR_PARSE);
    /* merging into an empty digest copies the distribution */
    assert_int_equal(vn_tdigest_merge(&empty, &src), VN_OK);
    assert_true(vn_tdigest_count(&empty) == src_count && vn_tdigest_max(&empty) == 1000);
    vn_tdigest_destroy(&dst);
    vn_tdigest_destroy(&src);
    vn_tdigest_destroy(&empty);
}

/* ---- accuracy (the targets of docs/internals/sketches.md) ---- */

#ifndef TD_ACCURACY_N
#define TD_ACCURACY_N 1000000
#endif
#define TD_PARTS 100

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double rank_of(const double *s, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (double)lo / (double)n;
}

static double draw(fx_rng_t *r, int dist)
{
    switch (dist) {
    case 0: return fx_unif(r);
    case 1: return exp(fx_gauss(r));
    case 2: return fx_unif(r) < 0.7 ? fx_gauss(r) : 6 + fx_gauss(r); /* bimodal 70/30 */
    default: return -log1p(-fx_unif(r));
    }
}

/* Streams of 1e6 values (4 distributions x random/ascending/descending),
 * each split in 100 parts whose digests are merged: rank error at 0.5 and 0.9
 * within 1e-3, at 0.99 and 0.999 within 1e-4; min, max, count exact, sum to
 * 1e-9. Same streams as bench/sketch_accuracy.c. */
static void test_tdigest__accuracy_merged_streams(void **state)
{
    (void)state;
    const size_t n = TD_ACCURACY_N;
    static const double qs[] = {0.5, 0.9, 0.99, 0.999}, bound[] = {1e-3, 1e-3, 1e-4, 1e-4};
    double *v = malloc(n * sizeof(double)), *s = malloc(n * sizeof(double));
    assert_true(v && s);
    for (int d = 0; d < 4; d++) {
        fx_rng_t r = {1234 + (uint64_t)d};
        for (size_t i = 0; i < n; i++)
            v[i] = draw(&r, d);
        memcpy(s, v, n * sizeof(double));
        qsort(s, n, sizeof(double), cmp_dbl);
        double exact_sum = 0;
        for (size_t i = 0; i < n; i++)
            exact_sum += s[i];
        for (int o = 0; o < 3; o++) {
            if (o == 1)
                memcpy(v, s, n * sizeof(double));
            else if (o == 2)
                for (size_t i = 0; i < n; i++)
                    v[i] = s[n - 1 - i];
            vn_tdigest_t all;
            assert_int_equal(vn_tdigest_init(&all, 100), VN_OK);
            for (size_t p = 0; p < TD_PARTS; p++) {
                vn_tdigest_t part;
                assert_int_equal(vn_tdigest_init(&part, 100), VN_OK);
                for (size_t i = p * n / TD_PARTS; i < (p + 1) * n / TD_PARTS; i++)
                    assert_int_equal(vn_tdigest_add(&part, v[i], 1), VN_OK);
                assert_int_equal(vn_tdigest_merge(&all, &part), VN_OK);
                vn_tdigest_destroy(&part);
            }
            for (int k = 0; k < 4; k++) {
                double e = fabs(rank_of(s, n, vn_tdigest_quantile(&all, qs[k])) - qs[k]);
                if (e > bound[k]) {
                    print_error("dist %d order %d q=%g: rank error %.3g > %.3g\n", d, o, qs[k], e, bound[k]);
                    fail();
                }
            }
            assert_true(vn_tdigest_min(&all) == s[0]);
            assert_true(vn_tdigest_max(&all) == s[n - 1]);
            assert_true(vn_tdigest_count(&all) == (double)n);
            assert_close(vn_tdigest_sum(&all), exact_sum, 1e-9);
            vn_tdigest_destroy(&all);
        }
    }
    free(v);
    free(s);
}

static void test_tdigest__monotone(void **state)
{
    (void)state;
    fx_rng_t r = {99};
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(vn_tdigest_add(&td, draw(&r, 2), 1), VN_OK);
    double prev = -INFINITY, prev_c = 0;
    for (int i = 0; i <= 10000; i++) {
        double q = i / 10000.0, x = vn_tdigest_quantile(&td, q);
        assert_true(x >= prev);
        prev = x;
        double c = vn_tdigest_cdf(&td, -4 + i * 14.0 / 10000);
        assert_true(c >= prev_c && c <= 1);
        prev_c = c;
        if (q > 0 && q < 1)
            assert_true(fabs(vn_tdigest_cdf(&td, x) - q) < 1e-9);
    }
    vn_tdigest_destroy(&td);
}

static void test_tdigest__extreme_values(void **state)
{
    (void)state;
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(vn_tdigest_add(&td, (i % 2 ? 1 : -1) * 1.7e308, 1), VN_OK);
        assert_int_equal(vn_tdigest_add(&td, 4.9e-324 * i, 1e-300), VN_OK);
    }
    for (double q = 0; q <= 1; q += 0.05)
        assert_false(isnan(vn_tdigest_quantile(&td, q)));
    assert_true(vn_tdigest_quantile(&td, 0) == -1.7e308 && vn_tdigest_quantile(&td, 1) == 1.7e308);
    assert_false(isnan(vn_tdigest_cdf(&td, 0)));
    assert_true(vn_tdigest_centroid_count(&td) <= VN_TDIGEST_MAX_CENTROIDS);
    vn_tdigest_destroy(&td);
}

static void test_tdigest__fractional_weights(void **state)
{
    (void)state;
    /* sample rate 0.3 -> weight 3.333...; the sums of weights are inexact */
    vn_tdigest_t td;
    assert_int_equal(vn_tdigest_init(&td, 100), VN_OK);
    for (int i = 1; i <= 50000; i++)
        assert_int_equal(vn_tdigest_add(&td, i, 1 / 0.3), VN_OK);
    assert_true(vn_tdigest_quantile(&td, 1) == 50000);
    assert_true(vn_tdigest_quantile(&td, 0) == 1);
    assert_close(vn_tdigest_quantile(&td, 0.5), 25000, 1e-3);
    assert_close(vn_tdigest_count(&td), 50000 / 0.3, 1e-12);
    vn_tdigest_destroy(&td);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tdigest__init_bad_compression),
        cmocka_unit_test(test_tdigest__empty),
        cmocka_unit_test(test_tdigest__add_rejects_bad_samples),
        cmocka_unit_test(test_tdigest__spec_vectors),
        cmocka_unit_test(test_tdigest__one_sample_is_small),
        cmocka_unit_test(test_tdigest__memory_is_bounded),
        cmocka_unit_test(test_tdigest__k1_reproduces_go),
        cmocka_unit_test(test_tdigest__go_fixtures),
        cmocka_unit_test(test_tdigest__merge_go_digest),
        cmocka_unit_test(test_tdigest__roundtrip_ours),
        cmocka_unit_test(test_tdigest__protobuf_c_agrees),
        cmocka_unit_test(test_tdigest__decode_rejects),
        cmocka_unit_test(test_tdigest__decode_tolerates),
        cmocka_unit_test(test_tdigest__merge_keeps_src_min_max),
        cmocka_unit_test(test_tdigest__accuracy_merged_streams),
        cmocka_unit_test(test_tdigest__monotone),
        cmocka_unit_test(test_tdigest__extreme_values),
        cmocka_unit_test(test_tdigest__fractional_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
