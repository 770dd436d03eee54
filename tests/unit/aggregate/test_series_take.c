/*
 * test_series_take.c - aggregate/series_map's draining walk (vn_series_map_take)
 * and vn_series_map_drop_index: every series once, in insertion order, with its
 * key and sampler intact, keys from 1 byte to 64 KiB (blocks of their own), and
 * frees at any point of the walk (ASan: no leak, no double free).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/series_key.h"
#include "aggregate/series_map.h"
#include "core/metric.h"

static const vn_mtype_t TYPES[] = {VN_MT_COUNTER, VN_MT_TIMER, VN_MT_SET, VN_MT_STATUS, VN_MT_GAUGE, VN_MT_HISTOGRAM};
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

/* Key i: "k<i>" padded with 'x' to a length that cycles through small, medium and 60 KB keys. */
static size_t make_key(size_t i, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "k%zu", i);
    size_t want = i % 97 == 0 ? 60000 : (i % 7) * 13 + len;
    while (len < want && len + 1 < cap)
        buf[len++] = 'x';
    buf[len] = '\0';
    return len;
}

static vn_series_map_t *build(size_t n, char *buf, size_t cap)
{
    vn_series_map_t *m = vn_series_map_new(0);
    for (size_t i = 0; i < n; i++) {
        size_t len = make_key(i, buf, cap);
        vn_mtype_t t = TYPES[i % NTYPES];
        vn_series_t *s = vn_series_map_upsert(m, vn_series_key_hash(buf, len, t), (uint8_t)t, VN_SCOPE_MIXED, buf, len);
        assert_non_null(s);
        switch (t) {
        case VN_MT_COUNTER:
        case VN_MT_GAUGE: s->u.counter = (double)i; break;
        case VN_MT_TIMER:
        case VN_MT_HISTOGRAM: vn_histo_sample(s->u.histo, (double)i, 1.0); break;
        case VN_MT_SET: vn_hll_add(s->u.set, &i, sizeof i); break;
        case VN_MT_STATUS: vn_status_set(s->u.status, 1, "host", 4, "msg", 3); break;
        default: break;
        }
    }
    return m;
}

static void test_series_take__all_in_insertion_order(void **state)
{
    (void)state;
    enum { N = 5000 };
    static char buf[65536], want[65536];
    vn_series_map_t *m = build(N, buf, sizeof buf);
    assert_int_equal(m->count, N);
    /* the per type x scope counts the flush reports equal a pass over the slots */
    size_t by[VN_MT__COUNT][3] = {{0}};
    for (size_t j = 0; j < m->cap; j++)
        if (m->slots[j])
            by[m->slots[j]->type][m->slots[j]->scope]++;
    assert_memory_equal(by, m->by_type_scope, sizeof by);
    vn_series_map_drop_index(m);
    assert_int_equal(m->cap, 0);
    assert_null(m->slots);
    size_t i = 0;
    vn_series_t *s;
    while ((s = vn_series_map_take(m)) != NULL) {
        assert_true(i < N);
        size_t len = make_key(i, want, sizeof want);
        assert_int_equal(s->key_len, len);
        assert_memory_equal(s->key, want, len);
        assert_int_equal(s->key[len], '\0');
        assert_int_equal(s->type, TYPES[i % NTYPES]);
        switch (s->type) {
        case VN_MT_COUNTER:
        case VN_MT_GAUGE: assert_true(s->u.counter == (double)i); break;
        case VN_MT_TIMER:
        case VN_MT_HISTOGRAM: assert_true(vn_tdigest_count(&s->u.histo->digest) == 1.0); break;
        case VN_MT_SET: assert_int_equal(vn_hll_estimate(s->u.set), 1); break;
        case VN_MT_STATUS: assert_string_equal(s->u.status->message, "msg"); break;
        default: break;
        }
        i++;
    }
    assert_int_equal(i, N);
    assert_null(vn_series_map_take(m)); /* stays drained */
    vn_series_map_free(m);
}

static void test_series_take__free_mid_walk_and_unwalked(void **state)
{
    (void)state;
    static char buf[65536];
    /* part-walked, with the index still there */
    vn_series_map_t *m = build(700, buf, sizeof buf);
    for (int i = 0; i < 333; i++)
        assert_non_null(vn_series_map_take(m));
    vn_series_map_free(m);
    /* never walked */
    vn_series_map_free(build(300, buf, sizeof buf));
    /* empty, index dropped */
    m = vn_series_map_new(0);
    vn_series_map_drop_index(m);
    assert_null(vn_series_map_take(m));
    vn_series_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_take__all_in_insertion_order),
        cmocka_unit_test(test_series_take__free_mid_walk_and_unwalked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
