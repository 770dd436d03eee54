/* Unit tests for the per-interval bounds of aggregate/: series count cap and its split across workers,
 * series byte budget (keys, fixed cost, status strings; map, worker batches and imports), event byte budget. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "aggregate/events.h"
#include "aggregate/series_map.h"
#include "aggregate/worker.h"
#include "core/metric.h"

static vn_series_t *put(vn_series_map_t *m, const char *key, size_t len)
{
    return vn_series_map_upsert(m, (uint32_t)len * 2654435761u ^ (uint8_t)key[0], VN_MT_COUNTER, VN_SCOPE_MIXED, key,
                                len);
}

static void test_budgets__share_is_exact_and_never_unlimited(void **state)
{
    (void)state;
    /* A total below the number of workers still caps: the shares add up to the total. */
    size_t sum = 0;
    for (size_t w = 0; w < 4; w++) {
        vn_series_limits_t l = vn_series_limits_share(2, 10, 4, w);
        assert_int_equal(l.max_count, w < 2 ? 1 : 0);
        assert_int_equal(l.max_bytes, w < 2 ? 3 : 2);
        sum += l.max_count;
    }
    assert_int_equal(sum, 2);
    for (size_t total = 1; total < 50; total++) {
        size_t s = 0;
        for (size_t w = 0; w < 7; w++)
            s += vn_series_limits_share(total, VN_SERIES_UNLIMITED, 7, w).max_count;
        assert_int_equal(s, total);
    }
    vn_series_limits_t none = vn_series_limits_share(0, VN_SERIES_UNLIMITED, 3, 0);
    assert_true(none.max_count == VN_SERIES_UNLIMITED && none.max_bytes == VN_SERIES_UNLIMITED);
    vn_series_limits_t one = vn_series_limits_share(5, 100, 0, 0); /* 0 workers is treated as 1 */
    assert_int_equal(one.max_count, 5);
    assert_int_equal(one.max_bytes, 100);
}

static void test_budgets__zero_share_refuses_everything(void **state)
{
    (void)state;
    vn_series_limits_t l = vn_series_limits_share(1, VN_SERIES_UNLIMITED, 2, 1);
    vn_series_map_t *m = vn_series_map_new_limited(&l);
    assert_null(put(m, "a", 1));
    assert_int_equal(m->count, 0);
    assert_int_equal(m->refused_count, 1);
    vn_series_map_free(m);
}

static void test_budgets__bytes_checked_before_insert(void **state)
{
    (void)state;
    const size_t F = VN_SERIES_FIXED_COST;
    vn_series_limits_t l = {.max_count = VN_SERIES_UNLIMITED, .max_bytes = 10 + 2 * F};
    vn_series_map_t *m = vn_series_map_new_limited(&l);
    assert_non_null(put(m, "aaaa", 4));
    assert_non_null(put(m, "bbbbbb", 6)); /* exactly at the budget */
    assert_int_equal(m->bytes, 10 + 2 * F);
    assert_null(put(m, "c", 1));
    assert_int_equal(m->refused_bytes, 1);
    assert_non_null(put(m, "aaaa", 4)); /* existing series are still found */
    assert_int_equal(m->count, 2);
    assert_int_equal(m->refused_count, 0);
    vn_series_map_free(m);

    /* A single key larger than the whole budget, and the largest possible key. */
    l.max_bytes = 65534 + F;
    m = vn_series_map_new_limited(&l);
    char *big = malloc(65535);
    memset(big, 'k', 65535);
    assert_null(put(m, big, 65535));
    assert_non_null(put(m, big, 65534));
    assert_int_equal(m->bytes, 65534 + F);
    free(big);
    vn_series_map_free(m);

    /* The legacy constructor: 0 = no cap, no key budget. */
    m = vn_series_map_new(0);
    assert_true(m->max_count == VN_SERIES_UNLIMITED && m->max_bytes == VN_SERIES_UNLIMITED);
    vn_series_map_free(m);
}

/* Appends a record (counter, or status check when aux is set) to a batch. */
static void add_rec_aux(vn_batch_t *b, const char *key, size_t len, double v, const char *aux, size_t alen)
{
    vn_rec_t *r = (vn_rec_t *)(b->data + b->used);
    memset(r, 0, sizeof *r);
    r->hash = (uint32_t)len;
    r->key_len = (uint16_t)len;
    r->aux_len = (uint16_t)alen;
    r->type = aux ? VN_MT_STATUS : VN_MT_COUNTER;
    r->scope = VN_SCOPE_MIXED;
    r->value = v;
    r->rate = 1;
    memcpy((char *)(r + 1), key, len);
    if (alen)
        memcpy((char *)(r + 1) + len, aux, alen);
    b->used += (uint32_t)vn_rec_size(len, alen);
    b->count++;
}

static void add_rec(vn_batch_t *b, const char *key, size_t len, double v)
{
    add_rec_aux(b, key, len, v, NULL, 0);
}

static void test_budgets__status_strings_charged(void **state)
{
    (void)state;
    /* Room for the check and 10 bytes of hostname + message. */
    vn_series_limits_t l = {.max_count = VN_SERIES_UNLIMITED, .max_bytes = 2 + VN_SERIES_FIXED_COST + 10};
    vn_series_map_t *m = vn_series_map_new_limited(&l);
    static vn_batch_t b;
    add_rec_aux(&b, "sc", 2, 1, "h1\0msg", 6); /* 5 bytes: kept */
    add_rec_aux(&b, "sc", 2, 2, "host\0message", 12); /* 11 bytes: dropped, the old strings stay */
    add_rec_aux(&b, "sc", 2, 3, "hh\0mmmmmmmm", 11); /* 10 bytes, replacing 5: kept */
    assert_int_equal(vn_worker_apply(m, &b), 1);
    assert_int_equal(m->refused_bytes, 1);
    assert_int_equal(m->bytes, l.max_bytes);
    vn_series_t *s = put(m, "sc", 2);
    assert_null(s); /* a counter "sc" is another series: no room left */
    s = vn_series_map_upsert(m, 2, VN_MT_STATUS, VN_SCOPE_MIXED, "sc", 2);
    assert_non_null(s);
    assert_true(s->u.status->value == 3.0);
    assert_string_equal(s->u.status->hostname, "hh");
    assert_string_equal(s->u.status->message, "mmmmmmmm");
    assert_int_equal(vn_status_bytes(s->u.status), 10);
    vn_series_map_free(m);
}

static void test_budgets__worker_counts_budget_drops(void **state)
{
    (void)state;
    vn_stats_t stats;
    vn_stats_init(&stats);
    const size_t budget = 3 * (1000 + VN_SERIES_FIXED_COST);
    vn_series_limits_t l = {.max_count = VN_SERIES_UNLIMITED, .max_bytes = budget};
    vn_worker_t *w = vn_worker_start_limited(0, 1, &l, &stats);
    char key[1000];
    memset(key, 'x', sizeof key);
    vn_batch_t *b = vn_worker_get_batch(w, 0);
    assert_non_null(b);
    for (size_t i = 0; i < 5; i++) {
        key[0] = (char)('a' + i); /* 5 distinct 1000-byte keys: 3 fit */
        add_rec(b, key, sizeof key, 1);
    }
    key[0] = 'a';
    add_rec(b, key, sizeof key, 2); /* existing series: kept */
    vn_worker_push(w, 0, b);
    vn_series_map_t *m = vn_worker_swap(w);
    assert_int_equal(m->count, 3);
    assert_int_equal(m->bytes, budget);
    size_t found = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i]) {
            found++;
            assert_true(m->slots[i]->u.counter == (m->slots[i]->key[0] == 'a' ? 3.0 : 1.0));
        }
    assert_int_equal(found, 3);
    assert_int_equal(vn_stats_get(&stats.series_dropped_samples), 2);
    assert_int_equal(vn_stats_get(&stats.series_dropped_bytes), 2);
    assert_int_equal(m->max_bytes, budget); /* the next interval gets a map with the same limits */
    vn_series_map_free(m);
    m = vn_worker_swap(w);
    assert_int_equal(m->max_bytes, budget);
    assert_int_equal(m->bytes, 0);
    vn_series_map_free(m);
    vn_worker_free(w);
}

static void test_budgets__imports_respect_key_budget(void **state)
{
    (void)state;
    vn_series_limits_t l = {.max_count = VN_SERIES_UNLIMITED, .max_bytes = 2 * (3 + VN_SERIES_FIXED_COST) - 1};
    vn_series_map_t *m = vn_series_map_new_limited(&l);
    vn_import_t *a = vn_import_new(VN_MT_COUNTER, VN_SCOPE_GLOBAL, "abc", 3);
    vn_import_t *b = vn_import_new(VN_MT_COUNTER, VN_SCOPE_GLOBAL, "def", 3);
    a->u.value = 1;
    b->u.value = 1;
    a->next = b;
    assert_int_equal(vn_worker_apply_imports(m, a), 1);
    assert_int_equal(m->count, 1);
    assert_int_equal(m->refused_bytes, 1);
    vn_series_map_free(m);
}

static vn_event_t event(const char *title, const char *text, const char *tag)
{
    vn_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.title = (vn_str_t){title, strlen(title)};
    ev.text = (vn_str_t){text, strlen(text)};
    if (tag) {
        ev.tags[0] = (vn_str_t){tag, strlen(tag)};
        ev.ntags = 1;
    }
    return ev;
}

static void test_budgets__event_bytes(void **state)
{
    (void)state;
    vn_stats_t stats;
    vn_stats_init(&stats);
    vn_event_store_t s;
    vn_event_store_init(&s, 100, &stats);
    assert_int_equal(s.max_bytes, VN_EVENT_STORE_DEFAULT_BYTES);
    vn_event_store_set_max_bytes(&s, 20);
    vn_event_t e1 = event("t1", "12345678", "a:b"); /* 2 + 8 + 3 = 13 */
    assert_int_equal(vn_event_store_cost(&e1), 13);
    vn_event_store_add(&s, &e1);
    vn_event_t e2 = event("t2", "123456", NULL); /* 8: would make 21 */
    vn_event_store_add(&s, &e2);
    vn_event_t e3 = event("t3", "12345", NULL); /* 7: exactly 20 */
    vn_event_store_add(&s, &e3);
    assert_int_equal(vn_stats_get(&stats.events_received), 3);
    assert_int_equal(vn_stats_get(&stats.events_dropped), 1);
    assert_int_equal(vn_stats_get(&stats.events_dropped_bytes), 1);
    vn_event_list_t l;
    vn_event_store_take(&s, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ev[0].title, "t1");
    assert_string_equal(l.ev[0].tags[0], "a:b");
    assert_string_equal(l.ev[1].text, "12345");
    vn_event_list_free(&l);
    /* The budget is per interval: taking the list frees it. */
    vn_event_store_add(&s, &e2);
    vn_event_store_take(&s, &l);
    assert_int_equal(l.n, 1);
    vn_event_list_free(&l);
    /* The count cap still applies, and is not a byte drop. */
    vn_event_store_set_max_bytes(&s, VN_EVENT_STORE_DEFAULT_BYTES);
    s.cap = 1;
    vn_event_store_add(&s, &e3);
    vn_event_store_add(&s, &e3);
    assert_int_equal(vn_stats_get(&stats.events_dropped), 2);
    assert_int_equal(vn_stats_get(&stats.events_dropped_bytes), 1);
    vn_event_store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budgets__share_is_exact_and_never_unlimited),
        cmocka_unit_test(test_budgets__zero_share_refuses_everything),
        cmocka_unit_test(test_budgets__bytes_checked_before_insert),
        cmocka_unit_test(test_budgets__worker_counts_budget_drops),
        cmocka_unit_test(test_budgets__imports_respect_key_budget),
        cmocka_unit_test(test_budgets__status_strings_charged),
        cmocka_unit_test(test_budgets__event_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
