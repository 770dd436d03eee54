/* test_hll.c - aggregate/hll and aggregate/metrohash: HyperLogLog sets, Go's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/hll.h"
#include "aggregate/metrohash.h"
#include "sketch_fixtures.h"

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1] && n < cap; p += 2) {
        if (*p == ' ') {
            p--;
            continue;
        }
        char b[3] = {p[0], p[1], 0};
        out[n++] = (uint8_t)strtoul(b, NULL, 16);
    }
    return n;
}

static uint8_t *marshal(const vn_hll_t *h, size_t *len)
{
    size_t cap = vn_hll_marshal_size(h);
    uint8_t *buf = malloc(cap + 1);
    assert_non_null(buf);
    assert_int_equal(vn_hll_marshal(h, buf, cap, len), VN_OK);
    assert_int_equal(*len, cap);
    return buf;
}

static void add_range(vn_hll_t *h, const char *prefix, long from, long to)
{
    char b[64];
    for (long i = from; i <= to; i++) {
        int l = snprintf(b, sizeof b, "%s%ld", prefix, i);
        vn_hll_add(h, b, (size_t)l);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Go writes the pending keys of a sparse sketch in map order; we write them
 * ascending. Sorts that section of a blob in place so the two compare. */
static void canon_sparse(uint8_t *b, size_t len)
{
    if (len < 8 || b[3] != 1)
        return;
    uint32_t n = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    uint32_t *k = malloc((n + 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = b + 8 + 4 * i;
        k[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    qsort(k, n, sizeof(uint32_t), cmp_u32);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *p = b + 8 + 4 * i;
        p[0] = (uint8_t)(k[i] >> 24);
        p[1] = (uint8_t)(k[i] >> 16);
        p[2] = (uint8_t)(k[i] >> 8);
        p[3] = (uint8_t)k[i];
    }
    free(k);
}

static void assert_bytes(const vn_hll_t *h, const uint8_t *want, size_t wlen)
{
    size_t len;
    uint8_t *got = marshal(h, &len);
    assert_int_equal(len, wlen);
    assert_memory_equal(got, want, len);
    free(got);
}

/* ---- docs/behaviour.md W7 vectors ---- */

static void test_hll__metrohash_vectors(void **state)
{
    (void)state;
    const char *key = "012345678901234567890123456789012345678901234567890123456789012";
    static const struct {
        uint64_t seed;
        const char *le;
    } ref[] = {{0, "6b753dae06704bad"}, {1, "3b0d481cf4b9b8df"}};
    for (size_t i = 0; i < 2; i++) {
        uint8_t want[8];
        unhex(ref[i].le, want, 8);
        uint64_t h = vn_metrohash64(key, strlen(key), ref[i].seed);
        for (int b = 0; b < 8; b++)
            assert_int_equal((h >> (8 * b)) & 0xff, want[b]);
    }
    /* every tail length (0..63) goes through a different mix of the tail steps */
    uint64_t seen[64];
    for (size_t n = 0; n < 64; n++) {
        seen[n] = vn_metrohash64(key, n, 0);
        for (size_t j = 0; j < n; j++)
            assert_true(seen[j] != seen[n]);
    }
    assert_true(vn_metrohash64(NULL, 0, 1337) == 0xe2f700c7be596c30ull);
}

static void test_hll__sparse_key_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *member;
        uint64_t hash;
        uint32_t key;
    } v[] = {
        {"foo", 0xb144ade82fca73cdull, 0x02c512b6},
        {"a", 0xd924f06e80703f5full, 0x036493c0},
        {"", 0xe2f700c7be596c30ull, 0x038bdc02},
        {"hello world", 0xfcb9f6989e6f1fe4ull, 0x03f2e7da},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint64_t h = vn_metrohash64(v[i].member, strlen(v[i].member), VN_METRO_HLL_SEED);
        assert_true(h == v[i].hash);
        assert_int_equal(vn_hll_sparse_key(h, 14), v[i].key);
    }
    /* the flagged form: idx25 = 0x800 has its low 11 bits 0, so the key keeps
     * the zeros below it: x bits 38..0 = 2^30 -> clz(2^55 | 2^25-1) + 1 = 9 */
    assert_int_equal(vn_hll_sparse_key(0x800ull << 39 | 1ull << 30, 14), 0x800u << 7 | 9u << 1 | 1u);
}

static void test_hll__marshal_vectors(void **state)
{
    (void)state;
    uint8_t want[64];
    vn_hll_t h;
    vn_hll_init(&h);
    size_t n = unhex("010e0001 00000000 00000000 00000000 00000000", want, sizeof want);
    assert_int_equal(n, 20);
    assert_bytes(&h, want, n);
    assert_int_equal(vn_hll_memory(&h), 0); /* nothing allocated yet */
    vn_hll_add(&h, "foo", 3);
    n = unhex("010e0001 00000001 02c512b6 00000000 00000000 00000000", want, sizeof want);
    assert_int_equal(n, 24);
    assert_bytes(&h, want, n);
    vn_hll_add(&h, "foo", 3); /* a member already pending changes nothing */
    assert_bytes(&h, want, n);
    assert_int_equal(vn_hll_estimate(&h), 1);
    vn_hll_destroy(&h);
    vn_hll_destroy(NULL);
}

static void test_hll__init_bad_precision(void **state)
{
    (void)state;
    vn_hll_t h;
    assert_int_equal(vn_hll_init_precision(&h, 3), VN_ERR_CONFIG);
    assert_int_equal(vn_hll_precision(&h), 14);
    vn_hll_destroy(&h);
    assert_int_equal(vn_hll_init_precision(&h, 19), VN_ERR_CONFIG);
    vn_hll_destroy(&h);
    for (unsigned p = VN_HLL_MIN_PRECISION; p <= VN_HLL_MAX_PRECISION; p++) {
        assert_int_equal(vn_hll_init_precision(&h, p), VN_OK);
        add_range(&h, "", 1, 2000);
        double e = (double)vn_hll_estimate(&h);
        assert_true(fabs(e - 2000) / 2000 < 6 * 1.04 / sqrt((double)(1u << p)));
        vn_hll_destroy(&h);
    }
}

/* docs/behaviour.md 2.3 */
static void test_hll__spec_set_vectors(void **state)
{
    (void)state;
    vn_hll_t h;
    vn_hll_init(&h);
    const char *m[] = {"5", "5", "123", "2147483647", "-2147483648"};
    for (size_t i = 0; i < 5; i++)
        vn_hll_add(&h, m[i], strlen(m[i]));
    assert_int_equal(vn_hll_estimate(&h), 4);
    vn_hll_destroy(&h);
    vn_hll_init(&h);
    assert_int_equal(vn_hll_estimate(&h), 0);
    fx_rng_t r = {2024};
    char b[32];
    for (int i = 0; i < 100; i++) {
        /* distinct by construction: random high part, index in the low part */
        int l = snprintf(b, sizeof b, "%d", (int)((fx_next(&r) & 0x7fff) * 1000 + (uint64_t)i));
        vn_hll_add(&h, b, (size_t)l);
    }
    assert_int_equal(vn_hll_estimate(&h), 100);
    vn_hll_destroy(&h);
}

/* ---- Go fixtures ---- */

typedef struct fixture {
    const char *file;
    long truth;        /* distinct members */
    bool deterministic; /* Go's bytes have no map-ordered section */
} fixture_t;

static const fixture_t FIXTURES[] = {
    {"hll_empty.bin", 0, true},
    {"hll_foo.bin", 1, true},
    {"hll_1to200.bin", 200, true},
    {"hll_1to200_tmpset.bin", 200, false},
    {"hll_1to20000.bin", 20000, true},
    {"hll_1to1000000.bin", 1000000, true},
    {"hll_a3000.bin", 3000, false},
    {"hll_b50000.bin", 50000, true},
    {"hll_a3000_b50000_merged.bin", 53000, true},
    {"hll_p16_1to100000.bin", 100000, true},
    /* written by veneur-c, read back by Go (its estimate, its re-marshal) */
    {"c_hll_sparse1000.bin", 1000, true},
    {"c_hll_dense300000.bin", 300000, true},
};

static void test_hll__go_fixtures(void **state)
{
    (void)state;
    fx_value_t *vals = calloc(512, sizeof(*vals));
    size_t nv = fx_load_values(vals, 512);
    for (size_t f = 0; f < sizeof FIXTURES / sizeof FIXTURES[0]; f++) {
        size_t len;
        uint8_t *bytes = fx_read(FIXTURES[f].file, &len);
        assert_non_null(bytes);
        vn_hll_t h;
        assert_int_equal(vn_hll_unmarshal(&h, bytes, len), VN_OK);
        /* Go's own estimator, bug included, gives Go's number exactly */
        const char *est_file = strcmp(FIXTURES[f].file, "hll_1to200_tmpset.bin") == 0 ? "hll_1to200.bin"
                                                                                      : FIXTURES[f].file;
        const fx_value_t *go = fx_find(vals, nv, est_file, "estimate");
        assert_non_null(go);
        const fx_value_t *rt = fx_find(vals, nv, est_file, "go_roundtrip");
        if (rt)
            assert_int_equal(rt->ival, 1);
        assert_int_equal(vn_hll_estimate_go(&h), go->ival);
        /* ours: the same while sparse; within 1% of the truth when dense */
        uint64_t e = vn_hll_estimate(&h);
        if (vn_hll_is_sparse(&h))
            assert_int_equal(e, go->ival);
        else
            assert_true(fabs((double)e - FIXTURES[f].truth) <= 0.01 * FIXTURES[f].truth);
        /* bytes survive the round trip (pending keys come back ascending) */
        if (!FIXTURES[f].deterministic)
            canon_sparse(bytes, len);
        assert_bytes(&h, bytes, len);
        free(bytes);
        vn_hll_destroy(&h);
    }
    free(vals);
}

static void check_built(const char *file, vn_hll_t *h)
{
    size_t len;
    uint8_t *bytes = fx_read(file, &len);
    assert_non_null(bytes);
    canon_sparse(bytes, len);
    assert_bytes(h, bytes, len);
    free(bytes);
}

/* The same members give Go's bytes: sparse thresholds, dense conversion,
 * base rebasing (hll_1to1000000 has b = 3) and merging all match. */
static void test_hll__same_members_same_bytes(void **state)
{
    (void)state;
    vn_hll_t h;
    vn_hll_init(&h);
    add_range(&h, "", 1, 200);
    check_built("hll_1to200_tmpset.bin", &h); /* 36 pending + 164 listed, as in Go */
    add_range(&h, "", 201, 20000);
    check_built("hll_1to20000.bin", &h);
    add_range(&h, "", 20001, 1000000);
    check_built("hll_1to1000000.bin", &h);
    vn_hll_destroy(&h);

    vn_hll_t a, b;
    vn_hll_init(&a);
    vn_hll_init(&b);
    add_range(&a, "a", 0, 2999);
    add_range(&b, "b", 0, 49999);
    assert_true(vn_hll_is_sparse(&a) && !vn_hll_is_sparse(&b));
    check_built("hll_a3000.bin", &a);
    check_built("hll_b50000.bin", &b);
    assert_int_equal(vn_hll_merge(&a, &b), VN_OK);
    check_built("hll_a3000_b50000_merged.bin", &a);
    vn_hll_destroy(&a);
    vn_hll_destroy(&b);

    assert_int_equal(vn_hll_init_precision(&h, 16), VN_OK);
    add_range(&h, "", 1, 100000);
    check_built("hll_p16_1to100000.bin", &h);
    vn_hll_destroy(&h);
}

/* ---- unmarshal validation ---- */

static void test_hll__unmarshal_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *why, *hex;
    } bad[] = {
        {"empty", ""},
        {"header only", "010e0001"},
        {"version 2", "020e0001 00000000 00000000 00000000 00000000"},
        {"version 0", "000e0001 00000000 00000000 00000000 00000000"},
        {"precision 3", "01030001 00000000 00000000 00000000 00000000"},
        {"precision 19", "01130001 00000000 00000000 00000000 00000000"},
        {"sparse flag 2", "010e0002 00000000 00000000 00000000 00000000"},
        {"sparse with b != 0", "010e0101 00000000 00000000 00000000 00000000"},
        {"pending count past the end", "010e0001 00000005 02c512b6 00000000 00000000 00000000"},
        {"pending count huge", "010e0001 ffffffff 00000000 00000000 00000000"},
        {"pending key with zeros 0", "010e0001 00000001 00000001 00000000 00000000 00000000"},
        {"pending key over 26 bits", "010e0001 00000001 04000002 00000000 00000000 00000000"},
        {"pending key, flag form, low bits set", "010e0001 00000001 00000083 00000000 00000000 00000000"},
        {"list header truncated", "010e0001 00000000 00000001 02c512b6"},
        {"list count too high", "010e0001 00000000 00000002 02c512b6 00000004 b6a59416"},
        {"list count too low", "010e0001 00000000 00000000 02c512b6 00000004 b6a59416"},
        {"list last wrong", "010e0001 00000000 00000001 02c512b7 00000004 b6a59416"},
        {"list bytes truncated", "010e0001 00000000 00000001 02c512b6 00000004 b6a594"},
        {"list varint unfinished", "010e0001 00000000 00000001 02c512b6 00000003 b6a594"},
        {"trailing byte", "010e0001 00000000 00000001 02c512b6 00000004 b6a59416 00"},
        {"non-minimal varint", "010e0001 00000000 00000001 02c512b6 00000005 b6a5949600"},
        {"repeated key (delta 0)", "010e0001 00000000 00000002 02c512b6 00000005 b6a5941600"},
        {"descending via overflow", "010e0001 00000000 00000001 ffffffff 00000005 ffffffff1f"},
        {"invalid key in list", "010e0001 00000000 00000001 00000001 00000001 01"},
        {"dense size wrong", "010e0000 00001000"},
        {"dense truncated", "010e0000 00002000 00000000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(bad[i].hex, buf, sizeof buf);
        vn_hll_t h;
        if (vn_hll_unmarshal(&h, buf, n) != VN_ERR_PROTO) {
            print_error("accepted: %s\n", bad[i].why);
            fail();
        }
        /* left empty and usable */
        assert_int_equal(vn_hll_estimate(&h), 0);
        vn_hll_add(&h, "x", 1);
        assert_int_equal(vn_hll_estimate(&h), 1);
        vn_hll_destroy(&h);
    }
    /* dense: one byte too many, and a register block of the right size */
    size_t dlen = 8 + 8192 + 1;
    uint8_t *d = calloc(1, dlen);
    unhex("010e0000 00002000", d, 8);
    vn_hll_t h;
    assert_int_equal(vn_hll_unmarshal(&h, d, dlen), VN_ERR_PROTO);
    vn_hll_destroy(&h);
    d[2] = 52; /* above the largest base a p=14 sketch can reach */
    assert_int_equal(vn_hll_unmarshal(&h, d, dlen - 1), VN_ERR_PROTO);
    vn_hll_destroy(&h);
    d[2] = 51;
    assert_int_equal(vn_hll_unmarshal(&h, d, dlen - 1), VN_OK);
    assert_false(vn_hll_is_sparse(&h));
    vn_hll_destroy(&h);
    /* sparse list longer than m bytes */
    size_t slen = 20 + 16385;
    uint8_t *s = calloc(1, slen);
    unhex("010e0001 00000000 00000001 00000002 00004001", s, 20);
    assert_int_equal(vn_hll_unmarshal(&h, s, slen), VN_ERR_PROTO);
    vn_hll_destroy(&h);
    assert_int_equal(vn_hll_unmarshal(&h, NULL, 0), VN_ERR_PROTO);
    vn_hll_destroy(&h);
    free(d);
    free(s);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_hll__unmarshal_normalizes(void **state)
{
    (void)state;
    /* pending keys out of order and repeated (Go: map order, never repeated) */
    uint8_t buf[64];
    size_t n = unhex("010e0001 00000003 036493c0 02c512b6 036493c0 00000000 00000000 00000000", buf,
                     sizeof buf);
    vn_hll_t h;
    assert_int_equal(vn_hll_unmarshal(&h, buf, n), VN_OK);
    assert_int_equal(vn_hll_estimate(&h), 2);
    uint8_t want[64];
    size_t wn = unhex("010e0001 00000002 02c512b6 036493c0 00000000 00000000 00000000", want, sizeof want);
    assert_bytes(&h, want, wn);
    vn_hll_destroy(&h);

    /* {"foo", "a"} once listed (the example of hll.c): varint deltas */
    n = unhex("010e0001 00000000 00000002 036493c0 00000008 b6a59416 8a82fe04", buf, sizeof buf);
    assert_int_equal(vn_hll_unmarshal(&h, buf, n), VN_OK);
    assert_int_equal(vn_hll_estimate(&h), 2);
    assert_bytes(&h, buf, n);
    vn_hll_destroy(&h);

    /* more pending keys than Go keeps (> m/100): folded into the list */
    const uint32_t count = 400;
    size_t len = 8 + 4 * count + 12;
    uint8_t *b = calloc(1, len);
    unhex("010e0001", b, 4);
    put_be32(b + 4, count);
    char s[16];
    for (uint32_t i = 0; i < count; i++) {
        int l = snprintf(s, sizeof s, "k%u", i);
        put_be32(b + 8 + 4 * i, vn_hll_sparse_key(vn_metrohash64(s, (size_t)l, VN_METRO_HLL_SEED), 14));
    }
    assert_int_equal(vn_hll_unmarshal(&h, b, len), VN_OK);
    assert_int_equal(vn_hll_estimate(&h), count);
    size_t olen;
    uint8_t *out = marshal(&h, &olen);
    assert_true(out[4] == 0 && out[5] == 0 && out[6] == 0 && out[7] == 0); /* nothing pending */
    free(out);
    vn_hll_t direct;
    vn_hll_init(&direct);
    add_range(&direct, "k", 0, count - 1);
    assert_int_equal(vn_hll_estimate(&direct), count);
    vn_hll_destroy(&direct);
    vn_hll_destroy(&h);
    free(b);
}

/* ---- merge ---- */

static void test_hll__merge(void **state)
{
    (void)state;
    vn_hll_t a, b, u;
    /* sparse + sparse, few keys: they stay pending */
    vn_hll_init(&a);
    vn_hll_init(&b);
    add_range(&a, "x", 0, 49);
    add_range(&b, "y", 0, 49);
    add_range(&b, "x", 0, 9); /* overlap */
    assert_int_equal(vn_hll_merge(&a, &b), VN_OK);
    assert_int_equal(vn_hll_estimate(&a), 100);
    assert_true(vn_hll_is_sparse(&a));
    assert_int_equal(vn_hll_estimate(&b), 60); /* src unchanged */
    vn_hll_destroy(&a);
    vn_hll_destroy(&b);

    /* sparse + sparse, many keys: same state as adding them directly */
    vn_hll_init(&a);
    vn_hll_init(&b);
    vn_hll_init(&u);
    add_range(&a, "x", 0, 2999);
    add_range(&b, "y", 0, 2499);
    add_range(&u, "x", 0, 2999);
    add_range(&u, "y", 0, 2499);
    assert_int_equal(vn_hll_merge(&a, &b), VN_OK);
    assert_int_equal(vn_hll_estimate(&a), vn_hll_estimate(&u));
    assert_true(fabs((double)vn_hll_estimate(&a) - 5500) <= 0.02 * 5500);
    assert_int_equal(vn_hll_is_sparse(&a), vn_hll_is_sparse(&u));
    if (!vn_hll_is_sparse(&a)) {
        size_t ul;
        uint8_t *ub = marshal(&u, &ul);
        assert_bytes(&a, ub, ul);
        free(ub);
    }
    /* dense + sparse and sparse + dense */
    vn_hll_t s, d;
    vn_hll_init(&s);
    add_range(&s, "z", 0, 99);
    assert_int_equal(vn_hll_merge(&a, &s), VN_OK);
    assert_true(fabs((double)vn_hll_estimate(&a) - 5600) <= 0.02 * 5600);
    vn_hll_init(&d);
    add_range(&d, "d", 0, 99999);
    assert_int_equal(vn_hll_merge(&s, &d), VN_OK);
    assert_false(vn_hll_is_sparse(&s));
    assert_true(fabs((double)vn_hll_estimate(&s) - 100100) <= 0.01 * 100100);
    vn_hll_destroy(&s);
    vn_hll_destroy(&d);
    vn_hll_destroy(&a);
    vn_hll_destroy(&b);
    vn_hll_destroy(&u);

    /* dense + dense with different bases (b = 3 and b = 0), both directions:
     * 1..20000 is a subset of 1..1e6, so the union is Go's 1..1e6 sketch */
    size_t big_len, small_len;
    uint8_t *big = fx_read("hll_1to1000000.bin", &big_len);
    uint8_t *small = fx_read("hll_1to20000.bin", &small_len);
    assert_true(big && small);
    assert_int_equal(vn_hll_unmarshal(&a, big, big_len), VN_OK);
    assert_int_equal(vn_hll_unmarshal(&b, small, small_len), VN_OK);
    assert_int_equal(vn_hll_merge(&b, &a), VN_OK);
    assert_bytes(&b, big, big_len);
    vn_hll_destroy(&b);
    assert_int_equal(vn_hll_unmarshal(&b, small, small_len), VN_OK);
    assert_int_equal(vn_hll_merge(&a, &b), VN_OK);
    assert_bytes(&a, big, big_len);

    /* refusals leave dst unchanged */
    vn_hll_t p16, empty;
    assert_int_equal(vn_hll_init_precision(&p16, 16), VN_OK);
    vn_hll_add(&p16, "q", 1);
    assert_int_equal(vn_hll_merge(&a, &p16), VN_ERR_PROTO);
    assert_int_equal(vn_hll_merge(&a, &a), VN_ERR_PARSE);
    vn_hll_init(&empty);
    assert_int_equal(vn_hll_merge(&a, &empty), VN_OK);
    assert_bytes(&a, big, big_len);
    vn_hll_destroy(&p16);
    vn_hll_destroy(&empty);
    vn_hll_destroy(&a);
    vn_hll_destroy(&b);
    free(big);
    free(small);
}

/* ---- accuracy and memory ---- */

/* n distinct members: 12 bytes each, a tag, the seed and the index */
static void fill(vn_hll_t *h, uint32_t tag, uint32_t seed, long n)
{
    uint32_t m[3] = {tag, seed, 0};
    for (long i = 0; i < n; i++) {
        m[2] = (uint32_t)i;
        vn_hll_add(h, m, sizeof m);
    }
}

/* mean |relative error| over 20 seeds <= 1% at 1e3..1e6 (1e7: bench) */
static void test_hll__accuracy(void **state)
{
    (void)state;
    for (long n = 1000; n <= 1000000; n *= 10) {
        double err = 0;
        for (int s = 0; s < 20; s++) {
            vn_hll_t h;
            vn_hll_init(&h);
            fill(&h, 1, (uint32_t)s, n);
            err += fabs((double)vn_hll_estimate(&h) - n) / n;
            vn_hll_destroy(&h);
        }
        if (err / 20 > 0.01) {
            print_error("n=%ld mean error %.4f\n", n, err / 20);
            fail();
        }
    }
    /* union of disjoint sets, small (sparse) and large (dense) */
    const long sizes[][2] = {{2000, 3000}, {40000, 60000}};
    for (int k = 0; k < 2; k++) {
        double err = 0;
        for (int s = 0; s < 20; s++) {
            vn_hll_t a, b;
            vn_hll_init(&a);
            vn_hll_init(&b);
            fill(&a, 2, (uint32_t)s, sizes[k][0]);
            fill(&b, 3, (uint32_t)s, sizes[k][1]);
            assert_int_equal(vn_hll_merge(&a, &b), VN_OK);
            double n = (double)(sizes[k][0] + sizes[k][1]);
            err += fabs((double)vn_hll_estimate(&a) - n) / n;
            vn_hll_destroy(&a);
            vn_hll_destroy(&b);
        }
        assert_true(err / 20 <= 0.01);
    }
}

static void test_hll__memory_is_bounded(void **state)
{
    (void)state;
    vn_hll_t h;
    vn_hll_init(&h);
    size_t peak = 0;
    char b[32];
    for (long i = 0; i < 20000; i++) {
        int l = snprintf(b, sizeof b, "mem%ld", i);
        vn_hll_add(&h, b, (size_t)l);
        if (vn_hll_is_sparse(&h)) {
            size_t m = vn_hll_memory(&h);
            peak = m > peak ? m : peak;
        } else {
            assert_int_equal(vn_hll_memory(&h), 8192);
        }
        if (i == 0)
            assert_true(vn_hll_memory(&h) <= 32);
    }
    assert_false(vn_hll_is_sparse(&h));
    /* sparse: m list bytes + pending keys + the room of one merge */
    assert_true(peak <= 16384 + (16384 / 100 + 1) * (4 + 5));
    assert_true(peak > 8192); /* it did use the sparse form for a while */
    vn_hll_destroy(&h);
}

/* estimate() is read-only: marshal before and after are equal */
static void test_hll__estimate_is_read_only(void **state)
{
    (void)state;
    vn_hll_t h;
    vn_hll_init(&h);
    add_range(&h, "", 1, 200);
    size_t l1, l2;
    uint8_t *before = marshal(&h, &l1);
    assert_int_equal(vn_hll_estimate(&h), 200);
    assert_int_equal(vn_hll_estimate_go(&h), 200);
    uint8_t *after = marshal(&h, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(before, after, l1);
    free(before);
    free(after);
    /* an all-zero dense sketch is empty (Go would report 1) */
    uint8_t *z = calloc(1, 8200);
    unhex("010e0000 00002000", z, 8);
    vn_hll_destroy(&h);
    assert_int_equal(vn_hll_unmarshal(&h, z, 8200), VN_OK);
    assert_int_equal(vn_hll_estimate(&h), 0);
    assert_int_equal(vn_hll_estimate_go(&h), 1);
    vn_hll_destroy(&h);
    vn_hll_init(&h);
    assert_true(vn_hll_is_sparse(&h) && vn_hll_memory(&h) == 0);
    free(z);
    vn_hll_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hll__metrohash_vectors),
        cmocka_unit_test(test_hll__sparse_key_vectors),
        cmocka_unit_test(test_hll__marshal_vectors),
        cmocka_unit_test(test_hll__init_bad_precision),
        cmocka_unit_test(test_hll__spec_set_vectors),
        cmocka_unit_test(test_hll__go_fixtures),
        cmocka_unit_test(test_hll__same_members_same_bytes),
        cmocka_unit_test(test_hll__unmarshal_rejects),
        cmocka_unit_test(test_hll__unmarshal_normalizes),
        cmocka_unit_test(test_hll__merge),
        cmocka_unit_test(test_hll__accuracy),
        cmocka_unit_test(test_hll__memory_is_bounded),
        cmocka_unit_test(test_hll__estimate_is_read_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
