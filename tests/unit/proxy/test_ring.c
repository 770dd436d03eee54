/*
 * test_ring.c - proxy/ring (Go's consistent hash, docs/behaviour.md W3.3) and
 * proxy/tag_match (ignore_tags): the ring vectors of docs/behaviour.md W7.5, key
 * building with ignored tags, wrap-around, minimal movement on removal, and
 * the RE2 -> POSIX translation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "proxy/ring.h"
#include "proxy/tag_match.h"

static const char *const members3[] = {"127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"};

/* docs/behaviour.md W7.5 "Proxy ring": confirmed against stathat.com/c/consistent v1.0.0 */
static const struct {
    const char *key;
    uint32_t crc;
    const char *owner;
} ring_vectors[] = {
    {"foocounter", 0xe92cab25u, "127.0.0.1:8002"},
    {"barhistogramenv:prod", 0xae769e85u, "127.0.0.1:8001"},
    {"bazset", 0x4d7bed39u, "127.0.0.1:8001"},
    {"a.b.ctimera:b,c:d", 0x21f3191cu, "127.0.0.1:8002"},
};

static void test_ring__go_vectors(void **state)
{
    (void)state;
    vn_ring_t *r = vn_ring_new(members3, NULL, 3);
    assert_int_equal(vn_ring_size(r), 3);
    for (size_t i = 0; i < sizeof ring_vectors / sizeof ring_vectors[0]; i++) {
        uint32_t h = vn_ring_hash(ring_vectors[i].key, strlen(ring_vectors[i].key));
        assert_int_equal(h, ring_vectors[i].crc);
        long m = vn_ring_owner(r, h);
        assert_true(m >= 0);
        assert_string_equal(vn_ring_member_addr(r, (size_t)m), ring_vectors[i].owner);
    }
    vn_ring_free(r);
}

static void test_ring__member_order_irrelevant(void **state)
{
    (void)state;
    const char *rev[] = {members3[2], members3[0], members3[1]};
    vn_ring_t *a = vn_ring_new(members3, NULL, 3), *b = vn_ring_new(rev, NULL, 3);
    for (uint32_t i = 0; i < 20000; i++) {
        uint32_t h = i * 214013u + 2531011u;
        assert_string_equal(vn_ring_member_addr(a, (size_t)vn_ring_owner(a, h)),
                            vn_ring_member_addr(b, (size_t)vn_ring_owner(b, h)));
    }
    vn_ring_free(a);
    vn_ring_free(b);
}

/* The points are CRC-32("<i><addr>"): the owner of a point's own hash is the next point's member. */
static void test_ring__strictly_greater_and_wrap(void **state)
{
    (void)state;
    const char *one[] = {"10.0.0.1:8128"};
    const char *two[] = {"10.0.0.1:8128", "10.0.0.2:8128"};
    vn_ring_t *r1 = vn_ring_new(one, NULL, 1), *r2 = vn_ring_new(two, NULL, 2);
    assert_int_equal(vn_ring_owner(r1, 0), 0);
    assert_int_equal(vn_ring_owner(r1, UINT32_MAX), 0);
    /* find the largest and smallest point over both members */
    uint32_t max = 0, min = UINT32_MAX;
    const char *max_m = NULL, *min_m = NULL;
    for (int m = 0; m < 2; m++) {
        for (int i = 0; i < VN_RING_REPLICAS; i++) {
            char b[64];
            int n = snprintf(b, sizeof b, "%d%s", i, two[m]);
            uint32_t h = vn_ring_hash(b, (size_t)n);
            if (h >= max) {
                max = h;
                max_m = two[m];
            }
            if (h <= min) {
                min = h;
                min_m = two[m];
            }
        }
    }
    /* above the last point: wraps to the first point's member */
    assert_string_equal(vn_ring_member_addr(r2, (size_t)vn_ring_owner(r2, max)), min_m);
    assert_string_equal(vn_ring_member_addr(r2, (size_t)vn_ring_owner(r2, UINT32_MAX)), min_m);
    /* just below the first point: that point's member; equal to it: strictly greater, so the next one */
    if (min > 0)
        assert_string_equal(vn_ring_member_addr(r2, (size_t)vn_ring_owner(r2, min - 1)), min_m);
    (void)max_m;
    vn_ring_free(r1);
    vn_ring_free(r2);
}

static void test_ring__empty(void **state)
{
    (void)state;
    vn_ring_t *r = vn_ring_new(NULL, NULL, 0);
    assert_int_equal(vn_ring_size(r), 0);
    assert_int_equal(vn_ring_owner(r, 12345), -1);
    vn_ring_free(r);
    vn_ring_free(NULL);
}

static void test_ring__duplicates_and_users(void **state)
{
    (void)state;
    int ua, ub;
    const char *addrs[] = {"a:1", "b:2", "a:1", ""};
    void *users[] = {&ua, &ub, &ub, &ub};
    vn_ring_t *r = vn_ring_new(addrs, users, 4);
    assert_int_equal(vn_ring_size(r), 2);
    assert_string_equal(vn_ring_member_addr(r, 0), "a:1");
    assert_ptr_equal(vn_ring_member_user(r, 0), &ua);
    assert_ptr_equal(vn_ring_member_user(r, 1), &ub);
    vn_ring_free(r);
}

/* Consistent hashing: removing a member moves only the keys it owned. */
static void test_ring__removal_moves_only_its_keys(void **state)
{
    (void)state;
    const char *two[] = {members3[0], members3[2]};
    vn_ring_t *r3 = vn_ring_new(members3, NULL, 3), *r2 = vn_ring_new(two, NULL, 2);
    size_t moved = 0, owned = 0;
    for (int i = 0; i < 30000; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "k%dhistogram", i);
        uint32_t h = vn_ring_hash(key, (size_t)n);
        const char *before = vn_ring_member_addr(r3, (size_t)vn_ring_owner(r3, h));
        const char *after = vn_ring_member_addr(r2, (size_t)vn_ring_owner(r2, h));
        if (strcmp(before, members3[1]) == 0) {
            owned++;
            assert_string_not_equal(after, members3[1]);
        } else {
            assert_string_equal(before, after);
        }
        moved += strcmp(before, after) != 0;
    }
    assert_int_equal(moved, owned);
    assert_true(owned > 30000 / 10 && owned < 30000 * 6 / 10); /* a share, not all or none */
    vn_ring_free(r3);
    vn_ring_free(r2);
}

static void test_ring__type_names(void **state)
{
    (void)state;
    char b[12];
    assert_string_equal(vn_ring_type_name(0, b), "counter");
    assert_string_equal(vn_ring_type_name(1, b), "gauge");
    assert_string_equal(vn_ring_type_name(2, b), "histogram");
    assert_string_equal(vn_ring_type_name(3, b), "set");
    assert_string_equal(vn_ring_type_name(4, b), "timer");
    assert_string_equal(vn_ring_type_name(7, b), "7");
    assert_string_equal(vn_ring_type_name(-1, b), "-1");
    assert_string_equal(vn_ring_type_name(INT32_MIN, b), "-2147483648");
}

/* Builds the key hash the way the proxy does: name, type, tags minus ignored ones. */
static uint32_t key_hash(const char *name, int32_t type, const char *const *tags, size_t n,
                         const vn_tagm_set_t *ign)
{
    vn_ring_key_t k;
    vn_ring_key_begin(&k, name, strlen(name), type);
    for (size_t i = 0; i < n; i++)
        if (!ign || !vn_tagm_set_match(ign, tags[i], strlen(tags[i])))
            vn_ring_key_tag(&k, tags[i], strlen(tags[i]));
    return vn_ring_key_end(&k);
}

static uint32_t str_hash(const char *s) { return vn_ring_hash(s, strlen(s)); }

static void test_ring__key_building(void **state)
{
    (void)state;
    const char *t2[] = {"a:b", "c:d"};
    const char *t1[] = {"env:prod"};
    assert_int_equal(key_hash("foo", 0, NULL, 0, NULL), 0xe92cab25u);
    assert_int_equal(key_hash("bar", 2, t1, 1, NULL), 0xae769e85u);
    assert_int_equal(key_hash("baz", 3, NULL, 0, NULL), 0x4d7bed39u);
    assert_int_equal(key_hash("a.b.c", 4, t2, 2, NULL), 0x21f3191cu);
    /* tag order is kept (no sorting), empty tags still get their comma */
    const char *rev[] = {"c:d", "a:b"};
    assert_int_equal(key_hash("a.b.c", 4, rev, 2, NULL), str_hash("a.b.ctimerc:d,a:b"));
    const char *empties[] = {"", "x", ""};
    assert_int_equal(key_hash("m", 1, empties, 3, NULL), str_hash("mgauge,x,"));
}

static void test_ring__ignore_tags(void **state)
{
    (void)state;
    vn_tag_matcher_t cfg[] = {
        {.kind = "exact", .value = "env:prod"},
        {.kind = "prefix", .value = "host:"},
        {.kind = "regex", .value = "^pod:[a-z]+-\\d+$"},
    };
    vn_tagm_set_t set;
    char err[256];
    assert_int_equal(vn_tagm_set_init(&set, cfg, 3, err, sizeof err), VN_OK);
    const char *tags[] = {"env:prod", "host:abc", "pod:web-12", "pod:web-x", "env:production", "a:b"};
    /* env:prod (exact), host:abc (prefix), pod:web-12 (regex) dropped from the key only */
    assert_int_equal(key_hash("m", 2, tags, 6, &set), str_hash("mhistogrampod:web-x,env:production,a:b"));
    /* all ignored: the key has no tag part (and no trailing comma) */
    const char *all[] = {"env:prod", "host:x"};
    assert_int_equal(key_hash("m", 2, all, 2, &set), str_hash("mhistogram"));
    assert_true(vn_tagm_set_match(&set, "host:", 5));
    assert_false(vn_tagm_set_match(&set, "hos", 3));
    assert_false(vn_tagm_set_match(&set, "env:pro", 7));
    /* regex on a slice that is not NUL-terminated */
    const char buf[] = "pod:api-7XYZ";
    assert_true(vn_tagm_set_match(&set, buf, 9));
    assert_false(vn_tagm_set_match(&set, buf, 10));
    vn_tagm_set_destroy(&set);
    vn_tagm_set_destroy(&set); /* idempotent */
}

static void test_ring__regex_unanchored_and_icase(void **state)
{
    (void)state;
    vn_tag_matcher_t cfg[] = {{.kind = "regex", .value = "(?i)secret"}, {.kind = "regex", .value = "\\w+_id:\\S"}};
    vn_tagm_set_t set;
    char err[256];
    assert_int_equal(vn_tagm_set_init(&set, cfg, 2, err, sizeof err), VN_OK);
    assert_true(vn_tagm_set_match(&set, "my-SECRET-tag", 13)); /* MatchString searches */
    assert_true(vn_tagm_set_match(&set, "user_id:42", 10));
    assert_false(vn_tagm_set_match(&set, "user_id: 42", 11));
    assert_false(vn_tagm_set_match(&set, "public", 6));
    vn_tagm_set_destroy(&set);
}

static void test_ring__matcher_errors(void **state)
{
    (void)state;
    vn_tagm_set_t set;
    char err[256];
    vn_tag_matcher_t bad_kind[] = {{.kind = "glob", .value = "x"}};
    assert_int_equal(vn_tagm_set_init(&set, bad_kind, 1, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "glob"));
    assert_int_equal(set.n, 0);
    vn_tag_matcher_t bad_re[] = {{.kind = "exact", .value = "ok"}, {.kind = "regex", .value = "a(b"}};
    assert_int_equal(vn_tagm_set_init(&set, bad_re, 2, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "ignore_tags[1]"));
    /* what Go accepts is accepted (RE2): a negated class inside brackets, lazy repeats */
    vn_tag_matcher_t go_only[] = {{.kind = "regex", .value = "[\\D\\]]+?x"}};
    assert_int_equal(vn_tagm_set_init(&set, go_only, 1, err, sizeof err), VN_OK);
    assert_true(vn_tagm_set_match(&set, "1ab]x", 5));
    assert_false(vn_tagm_set_match(&set, "12x", 3));
    vn_tagm_set_destroy(&set);
    /* and what Go rejects is rejected: backreferences, lookahead */
    vn_tag_matcher_t perl_only[] = {{.kind = "regex", .value = "(a)\\1"}, {.kind = "regex", .value = "a(?=b)"}};
    assert_int_equal(vn_tagm_set_init(&set, perl_only, 1, err, sizeof err), VN_ERR_CONFIG);
    assert_int_equal(vn_tagm_set_init(&set, perl_only + 1, 1, err, sizeof err), VN_ERR_CONFIG);
}

/* The ring's own CRC-32 (carry-less multiply or sliced tables; plain and front-padded) equals
 * zlib's, at every length and alignment, and a key fed in pieces (longer than the key's gather buffer too) equals the
 * hash of the joined string. */
static void test_ring__crc_matches_zlib(void **state)
{
    (void)state;
    static uint8_t buf[1200];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n + off <= 1100; n += (n < 200 ? 1 : 37))
            assert_int_equal(vn_ring_hash(buf + off, n), (uint32_t)crc32(0, buf + off, (uInt)n));
    /* the padded form: same CRC, and only the 15 bytes before the key are written (zeros) */
    static uint8_t pad[16 + 1200 + 16];
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n + off <= 1100; n += (n < 200 ? 1 : 37)) {
            memset(pad, 0xa5, sizeof pad);
            uint8_t *k = pad + 16 + off;
            memcpy(k, buf + off, n);
            assert_int_equal(vn_ring_hash_pad16(k, n), (uint32_t)crc32(0, buf + off, (uInt)n));
            assert_memory_equal(k, buf + off, n);
            for (uint8_t *q = pad; q < k - 15; q++)
                assert_int_equal(*q, 0xa5);
            for (uint8_t *q = k + n; q < pad + sizeof pad; q++)
                assert_int_equal(*q, 0xa5);
        }

    char name[700], tag[300], joined[1200];
    for (size_t nl = 0; nl < sizeof name; nl += 53) {
        memset(name, 'n', nl);
        memset(tag, 't', sizeof tag);
        vn_ring_key_t k;
        vn_ring_key_begin(&k, name, nl, 3);
        vn_ring_key_tag(&k, tag, 5);
        vn_ring_key_tag(&k, tag, sizeof tag);
        vn_ring_key_tag(&k, tag, 0);
        uint32_t h = vn_ring_key_end(&k);
        size_t j = 0;
        memcpy(joined + j, name, nl), j += nl;
        memcpy(joined + j, "set", 3), j += 3;
        memcpy(joined + j, tag, 5), j += 5;
        joined[j++] = ',';
        memcpy(joined + j, tag, sizeof tag), j += sizeof tag;
        joined[j++] = ',';
        assert_int_equal(h, (uint32_t)crc32(0, (const Bytef *)joined, (uInt)j));
    }
}

/* The owner lookup equals a plain linear search for the first point above the hash (wrapping),
 * on rings of every size up to 40 members, and on 300 and 600 members (tens of points share a
 * top byte: the halving path). */
#define MAXM 600
static void test_ring__owner_matches_linear_search(void **state)
{
    (void)state;
    static char addrs[MAXM][32];
    static const char *ap[MAXM];
    for (int i = 0; i < MAXM; i++) {
        snprintf(addrs[i], sizeof addrs[i], "10.%d.%d.%d:8128", i / 250, i / 7 % 250, i * 13 % 251);
        ap[i] = addrs[i];
    }
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t si = 0; si < 42; si++) {
        size_t n = si < 40 ? si + 1 : si == 40 ? 300 : 600;
        vn_ring_t *r = vn_ring_new(ap, NULL, n);
        /* the points, recomputed: hash of "<i><addr>" for every member */
        static uint32_t pts[MAXM * VN_RING_REPLICAS];
        static size_t owner_of[MAXM * VN_RING_REPLICAS];
        size_t np = 0;
        for (size_t m = 0; m < n; m++)
            for (int i = 0; i < VN_RING_REPLICAS; i++) {
                char b[64];
                int bl = snprintf(b, sizeof b, "%d%s", i, ap[m]);
                pts[np] = vn_ring_hash(b, (size_t)bl);
                owner_of[np++] = m;
            }
        for (int t = 0; t < (n > 40 ? 400 : 3000); t++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint32_t h = t < 2 ? (t ? UINT32_MAX : 0) : (uint32_t)x;
            if (t >= 2 && t % 5 == 0)
                h = pts[(size_t)(x >> 40) % np]; /* exactly on a point: owned by the next one */
            size_t best = SIZE_MAX, lowest = 0;
            for (size_t i = 0; i < np; i++) {
                bool below = pts[i] < pts[lowest] ||
                             (pts[i] == pts[lowest] && strcmp(ap[owner_of[i]], ap[owner_of[lowest]]) < 0);
                if (below)
                    lowest = i;
                if (pts[i] > h && (best == SIZE_MAX || pts[i] < pts[best] ||
                                   (pts[i] == pts[best] && strcmp(ap[owner_of[i]], ap[owner_of[best]]) < 0)))
                    best = i;
            }
            if (best == SIZE_MAX)
                best = lowest;
            long got = vn_ring_owner(r, h);
            assert_true(got >= 0);
            assert_string_equal(vn_ring_member_addr(r, (size_t)got), ap[owner_of[best]]);
        }
        vn_ring_free(r);
    }
}
#undef MAXM

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring__go_vectors),
        cmocka_unit_test(test_ring__member_order_irrelevant),
        cmocka_unit_test(test_ring__strictly_greater_and_wrap),
        cmocka_unit_test(test_ring__empty),
        cmocka_unit_test(test_ring__duplicates_and_users),
        cmocka_unit_test(test_ring__removal_moves_only_its_keys),
        cmocka_unit_test(test_ring__type_names),
        cmocka_unit_test(test_ring__key_building),
        cmocka_unit_test(test_ring__crc_matches_zlib),
        cmocka_unit_test(test_ring__owner_matches_linear_search),
        cmocka_unit_test(test_ring__ignore_tags),
        cmocka_unit_test(test_ring__regex_unanchored_and_icase),
        cmocka_unit_test(test_ring__matcher_errors),
        };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
