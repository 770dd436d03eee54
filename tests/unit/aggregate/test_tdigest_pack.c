/* test_tdigest_pack.c - aggregate/tdigest_pack: the packed resting form of a
 * digest's centroids (issue 22) round-trips every bit pattern, and digests
 * that rest packed give the same values as wide ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/tdigest_pack.h"
#include "tdigest_fixtures.h"

static uint64_t bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* p's centroids (iterated from its resting form) are w's, bit for bit, and no more. */
static void assert_same_centroids(vn_tdigest_t *p, vn_tdigest_t *w)
{
    vn_tdigest_iter_t it;
    vn_tdigest_iter_init(p, &it);
    size_t nw;
    const vn_tdigest_centroid_t *cw = vn_tdigest_centroids(w, &nw);
    vn_tdigest_centroid_t c;
    for (size_t i = 0; i < nw; i++) {
        assert_true(vn_tdigest_iter_next(&it, &c));
        assert_true(bits_of(c.mean) == bits_of(cw[i].mean) && c.weight == cw[i].weight);
    }
    assert_false(vn_tdigest_iter_next(&it, &c));
}

/* Packs c[0, n), checks the length against the bound, unpacks it with the
 * checked reader and the own-bytes reader, and compares every bit. */
static void roundtrip(const vn_tdigest_centroid_t *c, size_t n)
{
    size_t cap = n * VN_TDIGEST_PACK_MAX + VN_TDIGEST_PACK_SLACK;
    uint8_t *buf = malloc(cap);
    vn_tdigest_centroid_t *back = malloc((n ? n : 1) * sizeof(*back));
    assert_non_null(buf);
    assert_non_null(back);
    size_t len = vn_tdigest_pack(c, n, buf);
    assert_true(len <= n * VN_TDIGEST_PACK_MAX);
    assert_true(vn_tdigest_unpack(buf, len, back, n));
    vn_tdigest_pack_rd_t own;
    vn_tdigest_pack_rd_init(&own, buf, len);
    for (size_t i = 0; i < n; i++) {
        if (bits_of(back[i].mean) != bits_of(c[i].mean) || bits_of(back[i].weight) != bits_of(c[i].weight)) {
            print_error("entry %zu: %a/%a came back as %a/%a\n", i, c[i].mean, c[i].weight, back[i].mean,
                        back[i].weight);
            fail();
        }
        vn_tdigest_centroid_t o;
        vn_tdigest_pack_next_own(&own, &o);
        assert_true(bits_of(o.mean) == bits_of(c[i].mean) && bits_of(o.weight) == bits_of(c[i].weight));
    }
    assert_ptr_equal(own.p, buf + len);
    /* one byte short at the end: never read past, reported as bad */
    if (len > 0)
        assert_false(vn_tdigest_unpack(buf, len - 1, back, n));
    free(back);
    free(buf);
}

static void test_pack__weights_of_every_size(void **state)
{
    (void)state;
    static const double w[] = {
        1, 2, 3, 7, 13,                   /* in ctrl */
        14, 100, 127,                     /* one varint byte */
        128, 16383, 16384, 65535, 65536,  /* two and three */
        4294967295.0,                     /* largest varint weight: 5 bytes */
        4294967296.0, 1e300, DBL_MAX,     /* raw */
        0.5, 2.5, 1.0 + DBL_EPSILON, 5e-324, /* fractional, denormal: raw */
        0.0, -0.0, -1, -3, INFINITY, -INFINITY, NAN,
    };
    size_t n = sizeof w / sizeof w[0];
    vn_tdigest_centroid_t c[sizeof w / sizeof w[0]];
    /* each weight after a near mean (z == 0, short delta), a far one and an
     * equal one (delta 0), and integer means (low zero bytes) */
    static const double step[] = {1e-9, 1e12, 0, 1};
    for (size_t k = 0; k < sizeof step / sizeof step[0]; k++) {
        double m = k == 3 ? 12 : 1.5;
        for (size_t i = 0; i < n; i++) {
            c[i] = (vn_tdigest_centroid_t){m, w[i]};
            m += k == 3 ? 1 : m * step[k];
        }
        roundtrip(c, n);
    }
}

static void test_pack__special_means(void **state)
{
    (void)state;
    double nan2;
    uint64_t payload = 0x7ff8dead0000beefull;
    memcpy(&nan2, &payload, sizeof nan2);
    const double m[] = {
        -INFINITY, -DBL_MAX, -1.0, -DBL_MIN, -5e-324, -0.0, 0.0, 5e-324, DBL_MIN, 1.0, DBL_MAX, INFINITY,
        NAN, nan2, -NAN,     /* NaNs keep their payload and sign */
        0.0, -0.0, 3.0, 3.0, /* out of order, equal */
        -1e300, 1e300, -7.25,
    };
    size_t n = sizeof m / sizeof m[0];
    vn_tdigest_centroid_t c[sizeof m / sizeof m[0]];
    for (size_t i = 0; i < n; i++)
        c[i] = (vn_tdigest_centroid_t){m[i], (double)(i % 5 + 1)};
    roundtrip(c, n);
    /* -0.0 right after +0.0 is a wrapped (8-byte) delta, still exact */
    vn_tdigest_centroid_t z[2] = {{0.0, 1}, {-0.0, 1}};
    roundtrip(z, 2);
}

static void test_pack__one_and_max_centroids(void **state)
{
    (void)state;
    vn_tdigest_centroid_t one = {42.125, 1};
    roundtrip(&one, 1);
    one.weight = 300;
    roundtrip(&one, 1);
    roundtrip(NULL, 0);

    size_t n = VN_TDIGEST_MAX_CENTROIDS;
    vn_tdigest_centroid_t *c = malloc(n * sizeof(*c));
    assert_non_null(c);
    fx_rng_t r = {9};
    double m = -1e6;
    for (size_t i = 0; i < n; i++) {
        m += fx_unif(&r) * 100;
        c[i] = (vn_tdigest_centroid_t){m, (double)(fx_next(&r) % 200 + 1)};
    }
    roundtrip(c, n);
    free(c);
}

/* A fold packs its output over the wide entries it reads (integer weights
 * below 2^32 take at most VN_TDIGEST_PACK_MAX_INT < 16 bytes). */
static void test_pack__in_place(void **state)
{
    (void)state;
    size_t n = 500;
    vn_tdigest_centroid_t *c = malloc(n * sizeof(*c) + VN_TDIGEST_PACK_SLACK);
    vn_tdigest_centroid_t *want = malloc(n * sizeof(*c));
    assert_non_null(c);
    assert_non_null(want);
    fx_rng_t r = {3};
    for (size_t i = 0; i < n; i++) {
        /* worst case first: an 8-byte delta and a 5-byte weight each */
        double w = i < 8 ? 4294967295.0 : (double)(fx_next(&r) % 70000 + 1);
        c[i] = want[i] = (vn_tdigest_centroid_t){i < 8 ? (i % 2 ? 1e300 : -1e300) : exp(fx_gauss(&r)), w};
    }
    size_t len = vn_tdigest_pack(c, n, (uint8_t *)c);
    vn_tdigest_centroid_t *back = malloc(n * sizeof(*back));
    assert_non_null(back);
    assert_true(vn_tdigest_unpack((const uint8_t *)c, len, back, n));
    assert_memory_equal(back, want, n * sizeof(*back));
    free(back);
    free(want);
    free(c);
}

/* The checked reader refuses what the packer never writes, at any cut. */
static void test_pack__rejects_bad_bytes(void **state)
{
    (void)state;
    vn_tdigest_centroid_t out[4];
    /* the second form's unused codes: k = 15 * 7 + (low - 9) >= 108 */
    for (unsigned code = 0xfc; code <= 0xff; code++) {
        uint8_t b[12] = {(uint8_t)code};
        assert_false(vn_tdigest_unpack(b, sizeof b, out, 1));
    }
    uint8_t k107[2] = {0xfb, 0}; /* the last valid one: n = 8, which is cut short here */
    assert_false(vn_tdigest_unpack(k107, sizeof k107, out, 1));
    static const uint8_t long_varint[] = {0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_false(vn_tdigest_unpack(long_varint, sizeof long_varint, out, 1));
    static const uint8_t raw_short[] = {0x80, 0x00, 1, 2, 3};
    assert_false(vn_tdigest_unpack(raw_short, sizeof raw_short, out, 1));
    static const uint8_t extra[] = {0x00, 0x00};
    assert_false(vn_tdigest_unpack(extra, sizeof extra, out, 1)); /* a byte left over */
    assert_true(vn_tdigest_unpack(extra, sizeof extra, out, 2));
    assert_false(vn_tdigest_unpack(extra, 0, out, 1));
}

/* A digest that rests packed and one that is wide from the start (the
 * layouts differ, nothing else): the same quantiles, cdf, centroids and
 * wire bytes, at every stage, and a 1000-sample series stays under 3000
 * bytes (issue 22's target). */
static void test_pack__digest_matches_wide(void **state)
{
    (void)state;
    static const struct {
        int n;
        int integer; /* integer milliseconds (low zero bytes, equal means) */
        double w;
    } cases[] = {{1, 0, 1}, {41, 0, 1}, {43, 1, 1}, {1000, 0, 1}, {1000, 1, 1}, {5000, 1, 10}, {70000, 0, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fx_rng_t r = {100 + k};
        vn_tdigest_t p, w;
        td_twin_init(&p, &w);
        for (int i = 0; i < cases[k].n; i++) {
            double x = cases[k].integer ? (double)(fx_next(&r) % 1000) : exp(fx_gauss(&r));
            assert_int_equal(vn_tdigest_add(&p, x, cases[k].w), VN_OK);
            assert_int_equal(vn_tdigest_add(&w, x, cases[k].w), VN_OK);
        }
        if (cases[k].n == 1000 && !cases[k].integer)
            assert_true(vn_tdigest_memory(&p) <= 3000);
        if (cases[k].n >= 1000) /* past 65535 samples too: still packed */
            if (vn_tdigest_memory(&p) * 3 > vn_tdigest_memory(&w) * 2) {
                print_error("case %zu: packed %zu B, wide %zu B\n", k, vn_tdigest_memory(&p), vn_tdigest_memory(&w));
                fail();
            }
        assert_int_equal(vn_tdigest_centroid_count(&p), vn_tdigest_centroid_count(&w));
        assert_same_centroids(&p, &w);
        for (double q = 0; q <= 1.0; q += 0.001) {
            double a = vn_tdigest_quantile(&p, q), b = vn_tdigest_quantile(&w, q);
            assert_true(bits_of(a) == bits_of(b));
            assert_true(bits_of(vn_tdigest_cdf(&p, b)) == bits_of(vn_tdigest_cdf(&w, b)));
        }
        td_assert_same_wire(&p, &w);
        /* packed + packed merge, wide + wide merge */
        vn_tdigest_t p2, w2;
        td_twin_init_at(&p2, &w2, 3.5, 2);
        assert_int_equal(vn_tdigest_merge(&p2, &p), VN_OK);
        assert_int_equal(vn_tdigest_merge(&w2, &w), VN_OK);
        if (vn_tdigest_memory(&p2) >= vn_tdigest_memory(&w2)) {
            print_error("case %zu merged: packed %zu B, wide %zu B\n", k, vn_tdigest_memory(&p2), vn_tdigest_memory(&w2));
            fail();
        }
        for (double q = 0; q <= 1.0; q += 0.01)
            assert_true(bits_of(vn_tdigest_quantile(&p2, q)) == bits_of(vn_tdigest_quantile(&w2, q)));
        vn_tdigest_destroy(&p);
        vn_tdigest_destroy(&w);
        vn_tdigest_destroy(&p2);
        vn_tdigest_destroy(&w2);
    }
}

/* vn_tdigest_pack_put_int writes exactly vn_tdigest_pack_put's bytes for
 * every integer weight in [1, 2^32) and any key (the fold mixes the two
 * and copies old entries next to new ones). */
static void test_pack__put_int_same_bytes(void **state)
{
    (void)state;
    static const uint32_t ws[] = {1, 2, 13, 14, 127, 128, 16384, 65535, 65536, 4294967295u};
    fx_rng_t r = {11};
    uint8_t a[64], b[64];
    for (int i = 0; i < 20000; i++) {
        uint64_t prev = fx_next(&r), key;
        switch (i % 4) { /* delta sizes: any, short, integer-like (low zero bytes), none */
        case 0: key = fx_next(&r); break;
        case 1: key = prev + (fx_next(&r) & 0xffff); break;
        case 2: key = prev + ((fx_next(&r) & 0xff) << (8 * (fx_next(&r) % 8))); break;
        default: key = prev; break;
        }
        uint32_t w = i % 3 ? ws[fx_next(&r) % (sizeof ws / sizeof ws[0])] : (uint32_t)(fx_next(&r) % 200 + 1);
        memset(a, 0xaa, sizeof a);
        memset(b, 0xaa, sizeof b);
        uint64_t pa = prev, pb = prev;
        uint8_t *ea = vn_tdigest_pack_put(a, &pa, vn_tdigest_pack_unkey(key), (double)w);
        uint8_t *eb = vn_tdigest_pack_put_int(b, &pb, key, w);
        assert_int_equal(ea - a, eb - b);
        assert_memory_equal(a, b, (size_t)(ea - a));
        assert_true(pa == key && pb == key);
    }
}

/* The packed bytes a digest rests in, against the centroids it reports
 * packed afresh: a fold that copies unchanged entries leaves the same
 * (canonical) bytes as one that packs every entry. */
static void assert_canonical(vn_tdigest_t *p)
{
    vn_tdigest_compress(p);
    size_t n = vn_tdigest_centroid_count(p);
    vn_tdigest_centroid_t *c = malloc((n ? n : 1) * sizeof(*c));
    uint8_t *buf = malloc(n * VN_TDIGEST_PACK_MAX + VN_TDIGEST_PACK_SLACK);
    assert_non_null(c);
    assert_non_null(buf);
    vn_tdigest_iter_t it;
    vn_tdigest_iter_init(p, &it);
    for (size_t i = 0; i < n; i++)
        assert_true(vn_tdigest_iter_next(&it, &c[i]));
    size_t len = vn_tdigest_pack(c, n, buf);
    assert_int_equal(len, p->_plen);
    assert_memory_equal(buf, p->_c, len);
    free(buf);
    free(c);
}

/* Means the fold's key order must treat as the doubles do: -0.0 and +0.0
 * (equal: the pending sample goes first), negatives, denormals, values
 * of both huge signs (8-byte deltas, entries longer than a word), integer
 * milliseconds; unit and larger weights. Same values as a wide digest,
 * canonical bytes. */
static void test_pack__fold_edge_means(void **state)
{
    (void)state;
    static const double special[] = {0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300, 1.0, -1.0, 0x1p-1022};
    for (int k = 0; k < 4; k++) {
        fx_rng_t r = {200 + (uint64_t)k};
        vn_tdigest_t p, w;
        td_twin_init(&p, &w);
        for (int i = 0; i < 3000; i++) {
            uint64_t u = fx_next(&r);
            double x;
            if (k == 0)
                x = special[u % (sizeof special / sizeof special[0])];
            else if (k == 1)
                x = u % 2 ? (double)(fx_next(&r) % 1000) : -(double)(fx_next(&r) % 3);
            else if (k == 3) /* one zero per fold, signs alternating, at the bottom: a
                                pending +0.0 meets a resting -0.0 in the tail, unabsorbed */
                x = i % 42 == 0 ? (i / 42 % 2 ? 0.0 : -0.0) : 1.0 + fx_unif(&r);
            else
                x = (u % 2 ? 1 : -1) * exp(fx_gauss(&r) * 40); /* ~1e-50 .. 1e50 */
            double wt = k == 2 ? (double)(fx_next(&r) % 300 + 1) : 1;
            assert_int_equal(vn_tdigest_add(&p, x, wt), VN_OK);
            assert_int_equal(vn_tdigest_add(&w, x, wt), VN_OK);
            if (i % 97 == 0) { /* folds p: fold w at the same point */
                assert_canonical(&p);
                vn_tdigest_compress(&w);
            }
        }
        assert_int_equal(vn_tdigest_centroid_count(&p), vn_tdigest_centroid_count(&w));
        for (double q = 0; q <= 1.0; q += 0.001)
            assert_true(bits_of(vn_tdigest_quantile(&p, q)) == bits_of(vn_tdigest_quantile(&w, q)));
        td_assert_same_wire(&p, &w);
        assert_canonical(&p);
        /* the centroids themselves, bit for bit (the wire drops a zero's sign) */
        assert_same_centroids(&p, &w);
        vn_tdigest_destroy(&p);
        vn_tdigest_destroy(&w);
    }
}

/* A weight a pending entry cannot hold (fractional, > 65535) turns a packed
 * digest wide with the same values. */
static void test_pack__widen_keeps_values(void **state)
{
    (void)state;
    static const double odd[] = {65536, 0.25, 2.5};
    for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
        fx_rng_t r = {7};
        vn_tdigest_t p, w;
        assert_int_equal(vn_tdigest_init(&p, 100), VN_OK);
        assert_int_equal(vn_tdigest_init(&w, 100), VN_OK);
        assert_int_equal(vn_tdigest_add(&w, 1.0, 1), VN_OK);
        assert_int_equal(vn_tdigest_add(&p, 1.0, 1), VN_OK);
        size_t n0;
        (void)vn_tdigest_centroids(&w, &n0); /* folds w: fold p at the same point */
        vn_tdigest_compress(&p);
        for (int i = 0; i < 600; i++) {
            double x = exp(fx_gauss(&r)), wt = i == 500 ? odd[k] : 1;
            assert_int_equal(vn_tdigest_add(&p, x, wt), VN_OK);
            assert_int_equal(vn_tdigest_add(&w, x, wt), VN_OK);
        }
        for (double q = 0; q <= 1.0; q += 0.001)
            assert_true(bits_of(vn_tdigest_quantile(&p, q)) == bits_of(vn_tdigest_quantile(&w, q)));
        assert_true(vn_tdigest_memory(&p) <= vn_tdigest_memory(&w) + 16 * 32);
        vn_tdigest_destroy(&p);
        vn_tdigest_destroy(&w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack__weights_of_every_size),
        cmocka_unit_test(test_pack__special_means),
        cmocka_unit_test(test_pack__one_and_max_centroids),
        cmocka_unit_test(test_pack__in_place),
        cmocka_unit_test(test_pack__rejects_bad_bytes),
        cmocka_unit_test(test_pack__digest_matches_wide),
        cmocka_unit_test(test_pack__widen_keeps_values),
        cmocka_unit_test(test_pack__put_int_same_bytes),
        cmocka_unit_test(test_pack__fold_edge_means),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
