/*
 * test_series_map.c - aggregate/series_map: upsert finds or creates by
 * (type, scope, key), keys are copied, growth keeps every series (and its
 * address), the count cap and the byte budget refuse new series before
 * anything is allocated and count the refusal, re-charging service-check
 * bytes, the bounded overflow-name table, and the interval swap through a
 * worker (the old map is handed over whole, the new one is empty with the
 * same limits). Cross-worker budget shares are in test_budgets.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/batch.h"
#include "aggregate/series_key.h"
#include "aggregate/series_map.h"
#include "aggregate/worker.h"
#include "core/metric.h"

static uint32_t hash_of(const char *key, size_t len, vn_mtype_t t) { return vn_series_key_hash(key, len, t); }

static vn_series_t *upsert(vn_series_map_t *m, const char *key, vn_mtype_t t, vn_scope_t s)
{
    size_t len = strlen(key);
    return vn_series_map_upsert(m, hash_of(key, len, t), (uint8_t)t, (uint8_t)s, key, len);
}

/* Every series reachable by the documented iteration. */
static size_t count_slots(const vn_series_map_t *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        n += m->slots[i] != NULL;
    return n;
}

static void test_series_map__insert_and_lookup(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    char key[] = "req\nroute:home";
    vn_series_t *a = upsert(m, key, VN_MT_COUNTER, VN_SCOPE_MIXED);
    assert_non_null(a);
    assert_int_equal(m->count, 1);
    /* the key is copied, NUL-terminated, and the sampler starts at zero */
    key[0] = 'X';
    assert_string_equal(a->key, "req\nroute:home");
    assert_int_equal(a->key_len, 14);
    assert_true(a->u.counter == 0);
    assert_int_equal(a->type, VN_MT_COUNTER);
    a->u.counter = 5;
    /* found again: same series, nothing added */
    assert_ptr_equal(upsert(m, "req\nroute:home", VN_MT_COUNTER, VN_SCOPE_MIXED), a);
    assert_int_equal(m->count, 1);
    assert_true(a->u.counter == 5);
    /* type, scope and key each make another series */
    vn_series_t *g = upsert(m, "req\nroute:home", VN_MT_GAUGE, VN_SCOPE_MIXED);
    vn_series_t *gl = upsert(m, "req\nroute:home", VN_MT_COUNTER, VN_SCOPE_GLOBAL);
    vn_series_t *k = upsert(m, "req\nroute:away", VN_MT_COUNTER, VN_SCOPE_MIXED);
    assert_true(g && gl && k && g != a && gl != a && k != a && g != gl);
    assert_int_equal(m->count, 4);
    /* equal hashes, different keys (a forced collision): two series, both found */
    vn_series_t *c1 = vn_series_map_upsert(m, 42, VN_MT_COUNTER, VN_SCOPE_MIXED, "c1\n", 3);
    vn_series_t *c2 = vn_series_map_upsert(m, 42, VN_MT_COUNTER, VN_SCOPE_MIXED, "c2\n", 3);
    assert_true(c1 && c2 && c1 != c2);
    assert_ptr_equal(vn_series_map_upsert(m, 42, VN_MT_COUNTER, VN_SCOPE_MIXED, "c2\n", 3), c2);
    assert_ptr_equal(vn_series_map_upsert(m, 42, VN_MT_COUNTER, VN_SCOPE_MIXED, "c1\n", 3), c1);
    /* every type gets its sampler initialised */
    vn_series_t *h = upsert(m, "lat\n", VN_MT_TIMER, VN_SCOPE_MIXED);
    vn_series_t *s = upsert(m, "users\n", VN_MT_SET, VN_SCOPE_MIXED);
    vn_series_t *st = upsert(m, "svc\n", VN_MT_STATUS, VN_SCOPE_LOCAL);
    assert_true(h && h->u.histo && s && s->u.set && st && st->u.status);
    assert_int_equal(vn_hll_estimate(s->u.set), 0);
    assert_int_equal(m->count, 9);
    assert_int_equal(count_slots(m), 9);
    assert_int_equal(m->refused_count + m->refused_bytes, 0);
    vn_series_map_free(m); /* frees sampler buffers too (ASan checks) */
}

static void test_series_map__grow_keeps_everything(void **state)
{
    (void)state;
    enum { N = 20000 };
    vn_series_map_t *m = vn_series_map_new(0);
    size_t cap0 = m->cap;
    vn_series_t **ptr = malloc(N * sizeof *ptr);
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "g.%d\nk:v", i);
        ptr[i] = upsert(m, key, VN_MT_COUNTER, VN_SCOPE_MIXED);
        assert_non_null(ptr[i]);
        ptr[i]->u.counter = i;
        /* load factor at most 1/2, table a power of two */
        assert_true(m->count * 2 <= m->cap);
        assert_int_equal(m->cap & (m->cap - 1), 0);
    }
    assert_true(m->cap > cap0);
    assert_int_equal(m->count, N);
    assert_int_equal(count_slots(m), N);
    /* after every growth each series is still found, at the same address, with its value */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "g.%d\nk:v", i);
        vn_series_t *s = upsert(m, key, VN_MT_COUNTER, VN_SCOPE_MIXED);
        assert_ptr_equal(s, ptr[i]);
        assert_true(s->u.counter == i);
    }
    assert_int_equal(m->count, N);
    /* the parallel hash array matches the slots */
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i])
            assert_int_equal(m->hashes[i], m->slots[i]->hash);
    free(ptr);
    vn_series_map_free(m);
}

static void test_series_map__count_cap(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(3);
    assert_int_equal(m->max_count, 3);
    assert_int_equal(m->max_bytes, VN_SERIES_UNLIMITED);
    assert_non_null(upsert(m, "a\n", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_non_null(upsert(m, "b\n", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_non_null(upsert(m, "c\n", VN_MT_GAUGE, VN_SCOPE_MIXED));
    assert_null(upsert(m, "d\n", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_null(upsert(m, "a\n", VN_MT_GAUGE, VN_SCOPE_MIXED)); /* a new (type, key) is a new series */
    assert_int_equal(m->refused_count, 2);
    assert_int_equal(m->refused_bytes, 0);
    /* existing series are always found at the cap */
    assert_non_null(upsert(m, "b\n", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_int_equal(m->count, 3);
    assert_int_equal(m->refused_count, 2);
    vn_series_map_free(m);
    /* 0 means no cap for vn_series_map_new; a limits struct with 0 refuses everything */
    m = vn_series_map_new(0);
    assert_int_equal(m->max_count, VN_SERIES_UNLIMITED);
    vn_series_map_free(m);
    vn_series_limits_t zero = {.max_count = 0, .max_bytes = VN_SERIES_UNLIMITED};
    m = vn_series_map_new_limited(&zero);
    assert_null(upsert(m, "a\n", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_int_equal(m->refused_count, 1);
    vn_series_map_free(m);
}

static void test_series_map__byte_budget(void **state)
{
    (void)state;
    /* each series costs key bytes + VN_SERIES_FIXED_COST; room for exactly two 10-byte keys */
    const size_t cost = 10 + VN_SERIES_FIXED_COST;
    vn_series_limits_t l = {.max_count = VN_SERIES_UNLIMITED, .max_bytes = 2 * cost + cost - 1};
    vn_series_map_t *m = vn_series_map_new_limited(&l);
    assert_non_null(upsert(m, "key0\n12345", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_int_equal(m->bytes, cost);
    assert_non_null(upsert(m, "key1\n12345", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_int_equal(m->bytes, 2 * cost);
    /* one byte short for a third: refused, counted, nothing charged */
    assert_null(upsert(m, "key2\n12345", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_int_equal(m->refused_bytes, 1);
    assert_int_equal(m->bytes, 2 * cost);
    assert_int_equal(m->count, 2);
    /* a shorter key still fits in what is left */
    assert_non_null(upsert(m, "k\n", VN_MT_COUNTER, VN_SCOPE_MIXED));
    assert_int_equal(m->bytes, 3 * cost - 8);
    /* existing series are found whatever the budget */
    assert_non_null(upsert(m, "key0\n12345", VN_MT_COUNTER, VN_SCOPE_MIXED));
    /* re-charging: growth within the budget, growth past it refused, shrinking always allowed */
    size_t left = m->max_bytes - m->bytes; /* 7 */
    assert_true(vn_series_map_recharge(m, 0, left));
    assert_int_equal(m->bytes, m->max_bytes);
    assert_false(vn_series_map_recharge(m, left, left + 1));
    assert_int_equal(m->refused_bytes, 2);
    assert_int_equal(m->bytes, m->max_bytes);
    assert_true(vn_series_map_recharge(m, left, 0));
    assert_int_equal(m->bytes, 3 * cost - 8);
    vn_series_map_free(m);
}

static void test_series_map__overflow_names_bounded(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(1);
    /* the same name with different tags is one entry; only the name is kept */
    vn_series_map_note_overflow(m, "a.b\nk:1", 7);
    vn_series_map_note_overflow(m, "a.b\nk:2", 7);
    vn_series_map_note_overflow(m, "a.bc\n", 5); /* a longer name is another one */
    assert_int_equal(m->n_overflow, 2);
    assert_string_equal(m->overflow[0].name, "a.b");
    assert_int_equal(m->overflow[0].samples, 2);
    assert_string_equal(m->overflow[1].name, "a.bc");
    /* a name longer than the field is cut, and still matched when seen again */
    char big[300];
    memset(big, 'n', sizeof big);
    big[250] = '\n';
    vn_series_map_note_overflow(m, big, sizeof big);
    vn_series_map_note_overflow(m, big, sizeof big);
    assert_int_equal(m->n_overflow, 3);
    assert_int_equal(strlen(m->overflow[2].name), VN_OVERFLOW_NAME_MAX - 1);
    assert_int_equal(m->overflow[2].samples, 2);
    /* past VN_OVERFLOW_NAMES names, everything else lands in the catch-all */
    for (int i = 0; i < 40; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "m%d\n", i);
        vn_series_map_note_overflow(m, k, (size_t)n);
    }
    assert_int_equal(m->n_overflow, VN_OVERFLOW_NAMES);
    assert_string_equal(m->overflow[VN_OVERFLOW_NAMES].name, "");
    assert_int_equal(m->overflow[VN_OVERFLOW_NAMES].samples, 40 - (VN_OVERFLOW_NAMES - 3));
    uint64_t total = 0;
    for (size_t i = 0; i <= VN_OVERFLOW_NAMES; i++)
        total += m->overflow[i].samples;
    assert_int_equal(total, 3 + 2 + 40);
    vn_series_map_free(m);
}

static void add_counter(vn_batch_t *b, const char *key, double v)
{
    size_t len = strlen(key);
    vn_rec_t *r = (vn_rec_t *)(b->data + b->used);
    memset(r, 0, sizeof *r);
    r->hash = hash_of(key, len, VN_MT_COUNTER);
    r->key_len = (uint16_t)len;
    r->type = VN_MT_COUNTER;
    r->scope = VN_SCOPE_MIXED;
    r->value = v;
    r->rate = 1;
    memcpy((char *)(r + 1), key, len);
    b->used += (uint32_t)vn_rec_size(len, 0);
    b->count++;
}

static double counter_of(vn_series_map_t *m, const char *key)
{
    size_t len = strlen(key);
    for (size_t i = 0; i < m->cap; i++) {
        vn_series_t *s = m->slots[i];
        if (s && s->key_len == len && memcmp(s->key, key, len) == 0)
            return s->u.counter;
    }
    return -1;
}

/* The interval swap: the worker hands its map over whole and continues on a fresh one with the
 * same limits; what arrives after the swap is in the next map only. */
static void test_series_map__swap(void **state)
{
    (void)state;
    vn_stats_t stats;
    vn_stats_init(&stats);
    vn_series_limits_t l = {.max_count = 2, .max_bytes = VN_SERIES_UNLIMITED};
    vn_worker_t *w = vn_worker_start_limited(0, 1, &l, &stats);
    vn_batch_t *b = vn_worker_get_batch(w, 0);
    assert_non_null(b);
    add_counter(b, "a\n", 1);
    add_counter(b, "a\n", 2);
    add_counter(b, "b\n", 5);
    add_counter(b, "c\n", 7); /* over the cap of 2 */
    vn_worker_push(w, 0, b);
    vn_series_map_t *m1 = vn_worker_swap(w); /* drains what was pushed first */
    assert_int_equal(m1->count, 2);
    assert_true(counter_of(m1, "a\n") == 3);
    assert_true(counter_of(m1, "b\n") == 5);
    assert_true(counter_of(m1, "c\n") == -1);
    assert_int_equal(m1->refused_count, 1);
    assert_int_equal(m1->n_overflow, 1);
    assert_string_equal(m1->overflow[0].name, "c");
    /* the next interval: a new, empty map with the same limits */
    b = vn_worker_get_batch(w, 0);
    assert_non_null(b);
    add_counter(b, "a\n", 10);
    add_counter(b, "c\n", 1);
    add_counter(b, "d\n", 1);
    vn_worker_push(w, 0, b);
    vn_series_map_t *m2 = vn_worker_swap(w);
    assert_ptr_not_equal(m1, m2);
    assert_int_equal(m2->max_count, 2);
    assert_int_equal(m2->count, 2);
    assert_true(counter_of(m2, "a\n") == 10); /* not 13: the old interval stayed in m1 */
    assert_true(counter_of(m2, "c\n") == 1);
    assert_int_equal(m2->refused_count, 1);
    assert_true(counter_of(m1, "a\n") == 3); /* the handed-over map is untouched */
    vn_series_map_free(m1);
    vn_series_map_free(m2);
    /* a swap with nothing pushed hands over an empty map */
    vn_series_map_t *m3 = vn_worker_swap(w);
    assert_int_equal(m3->count, 0);
    assert_int_equal(count_slots(m3), 0);
    vn_series_map_free(m3);
    vn_worker_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_map__insert_and_lookup),
        cmocka_unit_test(test_series_map__grow_keeps_everything),
        cmocka_unit_test(test_series_map__count_cap),
        cmocka_unit_test(test_series_map__byte_budget),
        cmocka_unit_test(test_series_map__overflow_names_bounded),
        cmocka_unit_test(test_series_map__swap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
