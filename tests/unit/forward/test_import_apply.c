/*
 * test_import_apply.c - aggregate/worker import path (docs/behaviour.md W1.3 merge rules):
 * vn_worker_apply_imports on a map, and vn_worker_import through a running
 * worker thread, including imports that meet series built by the reader path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "aggregate/series_key.h"
#include "aggregate/worker.h"
#include "listen/ingest.h"

static vn_series_t *find(vn_series_map_t *m, const char *key, vn_mtype_t t, vn_scope_t sc)
{
    size_t kl = strlen(key);
    uint32_t h = vn_series_key_hash(key, kl, t);
    for (size_t i = 0; i < m->cap; i++) {
        vn_series_t *s = m->slots[i];
        if (s && s->hash == h && s->type == t && s->scope == sc && s->key_len == kl && memcmp(s->key, key, kl) == 0)
            return s;
    }
    return NULL;
}

static vn_import_t *imp_value(vn_mtype_t t, const char *key, double v)
{
    vn_import_t *it = vn_import_new(t, VN_SCOPE_GLOBAL, key, strlen(key));
    it->u.value = v;
    return it;
}

static vn_import_t *imp_digest(vn_mtype_t t, vn_scope_t sc, const char *key, const double *vals, size_t n)
{
    vn_import_t *it = vn_import_new(t, sc, key, strlen(key));
    vn_tdigest_init(&it->u.digest, 100);
    for (size_t i = 0; i < n; i++)
        vn_tdigest_add(&it->u.digest, vals[i], 1);
    return it;
}

static vn_import_t *imp_set(const char *key, const char *const *members, size_t n)
{
    vn_import_t *it = vn_import_new(VN_MT_SET, VN_SCOPE_MIXED, key, strlen(key));
    vn_hll_init(&it->u.hll);
    for (size_t i = 0; i < n; i++)
        vn_hll_add(&it->u.hll, members[i], strlen(members[i]));
    return it;
}

static vn_import_t *chain(vn_import_t **items, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        items[i]->next = items[i + 1];
    return n ? items[0] : NULL;
}

static void test_import__counters_add_gauges_overwrite(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    vn_import_t *items[] = {imp_value(VN_MT_COUNTER, "c\na:b", 3), imp_value(VN_MT_COUNTER, "c\na:b", 5),
                            imp_value(VN_MT_GAUGE, "g", 1.5), imp_value(VN_MT_GAUGE, "g", -2)};
    assert_int_equal(vn_worker_apply_imports(m, chain(items, 4)), 0);
    vn_series_t *c = find(m, "c\na:b", VN_MT_COUNTER, VN_SCOPE_GLOBAL);
    assert_non_null(c);
    assert_true(c->u.counter == 8);
    vn_series_t *g = find(m, "g", VN_MT_GAUGE, VN_SCOPE_GLOBAL);
    assert_non_null(g);
    assert_true(g->u.gauge == -2); /* last received wins */
    assert_int_equal(m->count, 2);
    /* A local-reader counter of the same key but mixed scope is a different series. */
    assert_null(find(m, "c\na:b", VN_MT_COUNTER, VN_SCOPE_MIXED));
    vn_series_map_free(m);
}

static void test_import__digest_merge_keeps_local_fields(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    /* The global received one local sample itself (reader path) ... */
    const char *key = "lat\nsvc:x";
    vn_series_t *s = vn_series_map_upsert(m, vn_series_key_hash(key, strlen(key), VN_MT_HISTOGRAM),
                                          VN_MT_HISTOGRAM, VN_SCOPE_MIXED, key, strlen(key));
    vn_histo_sample(s->u.histo, 100, 1);
    /* ... and two locals forward their digests. */
    static const double a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8, 9};
    vn_import_t *items[] = {imp_digest(VN_MT_HISTOGRAM, VN_SCOPE_MIXED, key, a, 4),
                            imp_digest(VN_MT_HISTOGRAM, VN_SCOPE_MIXED, key, b, 5)};
    assert_int_equal(vn_worker_apply_imports(m, chain(items, 2)), 0);
    assert_int_equal(m->count, 1);
    vn_histo_t *h = s->u.histo;
    assert_true(vn_tdigest_count(&h->digest) == 10);
    assert_true(vn_tdigest_min(&h->digest) == 1 && vn_tdigest_max(&h->digest) == 100);
    /* local_* only know the local sample (docs/behaviour.md 2.7: no double counting of aggregates). */
    assert_true(h->local_weight == 1 && h->local_min == 100 && h->local_max == 100 && h->local_sum == 100);
    vn_series_map_free(m);
}

static void test_import__imported_only_histogram_emits_no_local_aggregates(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    static const double a[] = {10, 20, 30};
    vn_import_t *it = imp_digest(VN_MT_TIMER, VN_SCOPE_MIXED, "t", a, 3);
    assert_int_equal(vn_worker_apply_imports(m, it), 0);
    vn_series_t *s = find(m, "t", VN_MT_TIMER, VN_SCOPE_MIXED);
    assert_non_null(s);
    vn_histo_out_t out[16];
    static const double pct[] = {0.5};
    static const char *const names[] = {".50percentile"};
    size_t n = vn_histo_flush(s->u.histo, VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT, pct, names, 1, false, out);
    assert_int_equal(n, 1); /* only the percentile */
    assert_string_equal(out[0].suffix, ".50percentile");
    assert_true(out[0].value == 20);
    vn_series_map_free(m);
}

static void test_import__global_histogram_and_sets(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    static const double a[] = {1, 2};
    static const char *const m1[] = {"x", "y"}, *const m2[] = {"y", "z"};
    vn_import_t *items[] = {imp_digest(VN_MT_HISTOGRAM, VN_SCOPE_GLOBAL, "h", a, 2), imp_set("s", m1, 2),
                            imp_set("s", m2, 2)};
    assert_int_equal(vn_worker_apply_imports(m, chain(items, 3)), 0);
    assert_non_null(find(m, "h", VN_MT_HISTOGRAM, VN_SCOPE_GLOBAL));
    assert_null(find(m, "h", VN_MT_HISTOGRAM, VN_SCOPE_MIXED));
    vn_series_t *s = find(m, "s", VN_MT_SET, VN_SCOPE_MIXED);
    assert_non_null(s);
    assert_int_equal(vn_hll_estimate(s->u.set), 3);
    vn_series_map_free(m);
}

static void test_import__series_cap_and_bad_merge_counted(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(1);
    vn_import_t *items[] = {imp_value(VN_MT_COUNTER, "a", 1), imp_value(VN_MT_COUNTER, "b", 1),
                            imp_value(VN_MT_COUNTER, "a", 1)};
    assert_int_equal(vn_worker_apply_imports(m, chain(items, 3)), 1); /* "b" over the cap */
    assert_true(find(m, "a", VN_MT_COUNTER, VN_SCOPE_GLOBAL)->u.counter == 2);
    vn_series_map_free(m);
    /* An HLL of another precision cannot merge into a precision-14 set series. */
    m = vn_series_map_new(0);
    vn_import_t *it = vn_import_new(VN_MT_SET, VN_SCOPE_MIXED, "s", 1);
    vn_hll_init_precision(&it->u.hll, 10);
    vn_hll_add(&it->u.hll, "q", 1);
    assert_int_equal(vn_worker_apply_imports(m, it), 1);
    vn_series_map_free(m);
    /* Freeing unapplied chains (and NULL) is safe. */
    vn_import_free_chain(NULL);
    vn_import_free(NULL);
    static const double a[] = {1};
    vn_import_t *two[] = {imp_digest(VN_MT_TIMER, VN_SCOPE_MIXED, "t", a, 1), imp_set("s", NULL, 0)};
    vn_import_free_chain(chain(two, 2));
}

static void test_import__through_worker_thread_and_swap(void **state)
{
    (void)state;
    vn_stats_t stats;
    vn_stats_init(&stats);
    vn_worker_t *w = vn_worker_start(0, 1, 0, &stats);
    /* Many small chains, as the import server sends them. */
    for (int i = 0; i < 100; i++) {
        vn_import_t *items[] = {imp_value(VN_MT_COUNTER, "c", 1), imp_value(VN_MT_GAUGE, "g", i)};
        assert_int_equal(vn_worker_import(w, chain(items, 2)), 0);
    }
    /* The swap applies whatever is queued before handing the map over. */
    vn_series_map_t *m = vn_worker_swap(w);
    vn_series_t *c = find(m, "c", VN_MT_COUNTER, VN_SCOPE_GLOBAL);
    assert_non_null(c);
    assert_true(c->u.counter == 100);
    assert_true(find(m, "g", VN_MT_GAUGE, VN_SCOPE_GLOBAL)->u.gauge == 99);
    vn_series_map_free(m);
    assert_int_equal(vn_stats_get(&stats.import_metrics_applied), 200);
    assert_int_equal(vn_stats_get(&stats.import_metrics_failed), 0);
    /* The next interval starts empty. */
    m = vn_worker_swap(w);
    assert_int_equal(m->count, 0);
    vn_series_map_free(m);
    /* Imports still queued when the worker stops are freed (ASan checks). */
    vn_worker_import(w, imp_value(VN_MT_COUNTER, "late", 1));
    vn_worker_free(w);
}

/* The global receives a series over UDP and the same series from a local: one series, one worker. */
static void test_import__meets_reader_path_series(void **state)
{
    (void)state;
    enum { NW = 3 };
    vn_stats_t stats;
    vn_stats_init(&stats);
    vn_worker_t *w[NW];
    for (int i = 0; i < NW; i++)
        w[i] = vn_worker_start(i, 1, 0, &stats);
    vn_event_store_t ev;
    vn_event_store_init(&ev, 10, &stats);
    vn_parser_t parser;
    memset(&parser, 0, sizeof parser);
    vn_ingest_shared_t sh = {.parser = &parser, .workers = w, .nworkers = NW, .events = &ev, .stats = &stats};
    vn_ingest_t *in = vn_ingest_new(&sh, 0);
    static const char pkt[] = "lat:100|h|#svc:x,a:1\nhits:2|c|#veneurglobalonly,k:v\nu:zed|s\ng:4|g|#veneurglobalonly";
    vn_ingest_packet(in, pkt, sizeof pkt - 1);
    vn_ingest_commit(in);
    /* Imports with the keys a local sends: tags sorted, joined by ','. */
    static const double d[] = {1, 2, 3};
    static const char *const members[] = {"alpha", "zed"};
    vn_import_t *items[] = {imp_digest(VN_MT_HISTOGRAM, VN_SCOPE_MIXED, "lat\na:1,svc:x", d, 3),
                            imp_value(VN_MT_COUNTER, "hits\nk:v", 5), imp_set("u\n", members, 2),
                            imp_value(VN_MT_GAUGE, "g\n", 7)};
    for (size_t i = 0; i < 4; i++) {
        items[i]->next = NULL;
        assert_int_equal(vn_worker_import(w[items[i]->hash % NW], items[i]), 0);
    }
    size_t series = 0;
    int seen = 0;
    for (int i = 0; i < NW; i++) {
        vn_series_map_t *m = vn_worker_swap(w[i]);
        series += m->count;
        vn_series_t *s;
        if ((s = find(m, "lat\na:1,svc:x", VN_MT_HISTOGRAM, VN_SCOPE_MIXED))) {
            seen++;
            assert_true(vn_tdigest_count(&s->u.histo->digest) == 4);
            assert_true(s->u.histo->local_weight == 1);
        }
        if ((s = find(m, "hits\nk:v", VN_MT_COUNTER, VN_SCOPE_GLOBAL))) {
            seen++;
            assert_true(s->u.counter == 7);
        }
        if ((s = find(m, "u\n", VN_MT_SET, VN_SCOPE_MIXED))) {
            seen++;
            assert_int_equal(vn_hll_estimate(s->u.set), 2);
        }
        if ((s = find(m, "g\n", VN_MT_GAUGE, VN_SCOPE_GLOBAL)))
            seen++;
        vn_series_map_free(m);
    }
    assert_int_equal(seen, 4);
    assert_int_equal(series, 4); /* merged, not side by side */
    vn_ingest_free(in);
    for (int i = 0; i < NW; i++)
        vn_worker_free(w[i]);
    vn_event_store_destroy(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import__counters_add_gauges_overwrite),
        cmocka_unit_test(test_import__digest_merge_keeps_local_fields),
        cmocka_unit_test(test_import__imported_only_histogram_emits_no_local_aggregates),
        cmocka_unit_test(test_import__global_histogram_and_sets),
        cmocka_unit_test(test_import__series_cap_and_bad_merge_counted),
        cmocka_unit_test(test_import__through_worker_thread_and_swap),
        cmocka_unit_test(test_import__meets_reader_path_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
