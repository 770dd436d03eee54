/* Unit tests for histogram flush rules, percentile names and scope routing (docs/behaviour.md 2.4, 2.7, 0.4). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/samplers.h"
#include "aggregate/series_map.h"
#include "core/hash.h"
#include "core/metric.h"
#include "flush/flusher.h"

static void test_generate__percentile_names(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(vn_percentile_suffix(0.5, b, sizeof b), ".50percentile");
    assert_string_equal(vn_percentile_suffix(0.75, b, sizeof b), ".75percentile");
    assert_string_equal(vn_percentile_suffix(0.99, b, sizeof b), ".99percentile");
    assert_string_equal(vn_percentile_suffix(0.999, b, sizeof b), ".99_9percentile");
    assert_string_equal(vn_percentile_suffix(0.29, b, sizeof b), ".29percentile"); /* Go's int() gives 28 */
    assert_string_equal(vn_percentile_suffix(0.9999, b, sizeof b), ".99_99percentile");
    assert_string_equal(vn_percentile_suffix(1.0, b, sizeof b), ".100percentile");
}

/* docs/behaviour.md 2.4: samples 5,10,15,20,25 global, all aggregates, percentile 0.9. */
static void test_generate__histo_all_aggregates_global(void **state)
{
    (void)state;
    vn_histo_t h;
    vn_histo_init(&h);
    for (int v = 5; v <= 25; v += 5)
        vn_histo_sample(&h, v, 1.0);
    double pct[] = {0.9};
    const char *names[] = {".90percentile"};
    vn_histo_out_t out[8];
    unsigned all = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_MEDIAN | VN_AGG_AVG | VN_AGG_COUNT | VN_AGG_SUM | VN_AGG_HMEAN;
    size_t n = vn_histo_flush(&h, all, pct, names, 1, true, out);
    assert_int_equal(n, 8);
    const char *order[] = {".max", ".min", ".sum", ".avg", ".count", ".median", ".hmean", ".90percentile"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(out[i].suffix, order[i]);
    assert_true(out[0].value == 25 && out[1].value == 5 && out[2].value == 75 && out[3].value == 15);
    assert_true(out[4].value == 5 && out[4].is_counter);
    assert_true(fabs(out[5].value - 15) < 1e-9);
    assert_true(fabs(out[6].value - 5.0 / (1.0 / 5 + 1.0 / 10 + 1.0 / 15 + 1.0 / 20 + 1.0 / 25)) < 1e-9);
    assert_true(fabs(out[7].value - 23.75) < 1e-9);
    vn_histo_destroy(&h);
}

/* docs/behaviour.md 2.4: rate 0.5 weights count; local (non-global) rules skip aggregates without local samples. */
static void test_generate__histo_rate_and_local_guards(void **state)
{
    (void)state;
    vn_histo_t h;
    vn_histo_init(&h);
    for (int v = 5; v <= 25; v += 5)
        vn_histo_sample(&h, v, 0.5);
    double pct[] = {0.5};
    const char *names[] = {".50percentile"};
    vn_histo_out_t out[8];
    size_t n = vn_histo_flush(&h, VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT, pct, names, 1, false, out);
    assert_int_equal(n, 4);
    assert_true(out[0].value == 25);
    assert_string_equal(out[2].suffix, ".count");
    assert_true(out[2].value == 10);
    vn_histo_destroy(&h);

    vn_histo_t empty;
    vn_histo_init(&empty);
    n = vn_histo_flush(&empty, VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT | VN_AGG_AVG, NULL, NULL, 0, false, out);
    assert_int_equal(n, 0);
    vn_histo_destroy(&empty);
}

static vn_series_t *add(vn_series_map_t *m, vn_mtype_t t, vn_scope_t sc, const char *key)
{
    uint32_t h = vn_fnv1a32_add(VN_FNV1A32_INIT, key, strlen(key));
    return vn_series_map_upsert(m, h, (uint8_t)t, (uint8_t)sc, key, strlen(key));
}

static const vn_inter_metric_t *find(const vn_flush_output_t *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->m[i].name, name) == 0)
            return &o->m[i];
    return NULL;
}

static void test_generate__scopes_local_vs_global(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    add(m, VN_MT_COUNTER, VN_SCOPE_MIXED, "c.mixed\na:b,c:d")->u.counter = 3;
    add(m, VN_MT_COUNTER, VN_SCOPE_GLOBAL, "c.global\n")->u.counter = 4;
    vn_histo_sample(add(m, VN_MT_HISTOGRAM, VN_SCOPE_MIXED, "h.mixed\n")->u.histo, 2, 1);
    vn_histo_sample(add(m, VN_MT_TIMER, VN_SCOPE_LOCAL, "t.local\n")->u.histo, 2, 1);
    vn_histo_sample(add(m, VN_MT_TIMER, VN_SCOPE_GLOBAL, "t.global\n")->u.histo, 2, 1);
    vn_hll_add(add(m, VN_MT_SET, VN_SCOPE_MIXED, "s.mixed\n")->u.set, "x", 1);
    vn_hll_add(add(m, VN_MT_SET, VN_SCOPE_LOCAL, "s.local\n")->u.set, "x", 1);
    add(m, VN_MT_GAUGE, VN_SCOPE_MIXED, "g\nveneursinkonly:file,z:1")->u.gauge = 1.5;

    double pct[] = {0.5};
    const char *names[] = {".50percentile"};
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT,
                          .percentiles = pct, .pct_names = names, .npct = 1, .is_local = false, .hostname = "h"};
    vn_flush_output_t o;
    vn_flush_output_init(&o);
    vn_flush_generate(m, &r, 100, &o);
    const vn_inter_metric_t *c = find(&o, "c.mixed");
    assert_non_null(c);
    assert_int_equal(c->ntags, 2);
    assert_string_equal(c->tags[0], "a:b");
    assert_string_equal(c->tags[1], "c:d");
    assert_int_equal(c->timestamp, 100);
    assert_non_null(find(&o, "c.global"));
    assert_non_null(find(&o, "h.mixed.50percentile"));
    assert_non_null(find(&o, "h.mixed.max"));
    assert_non_null(find(&o, "t.global.50percentile"));
    assert_non_null(find(&o, "s.mixed"));
    const vn_inter_metric_t *g = find(&o, "g");
    assert_non_null(g);
    assert_string_equal(g->sink_only, "file");
    assert_int_equal(g->ntags, 1);
    vn_flush_output_destroy(&o);

    /* A local (forwarding) instance keeps aggregates, drops percentiles and global-bound series. */
    r.is_local = true;
    vn_flush_output_init(&o);
    vn_flush_generate(m, &r, 100, &o);
    assert_non_null(find(&o, "c.mixed"));
    assert_null(find(&o, "c.global"));
    assert_non_null(find(&o, "h.mixed.max"));
    assert_null(find(&o, "h.mixed.50percentile"));
    assert_non_null(find(&o, "t.local.50percentile"));
    assert_null(find(&o, "t.global.max"));
    assert_null(find(&o, "s.mixed"));
    assert_non_null(find(&o, "s.local"));
    vn_flush_output_destroy(&o);
    vn_series_map_free(m);
}

static void test_generate__series_map_grows_and_dedups(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    char key[64];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "k%d\n", i);
        add(m, VN_MT_COUNTER, VN_SCOPE_MIXED, key)->u.counter += 1;
    }
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "k%d\n", i);
        add(m, VN_MT_COUNTER, VN_SCOPE_MIXED, key)->u.counter += 1;
    }
    assert_int_equal(m->count, 50000);
    snprintf(key, sizeof key, "k%d\n", 4242);
    assert_true(add(m, VN_MT_COUNTER, VN_SCOPE_MIXED, key)->u.counter == 2);
    /* Same key, other type: a different series (docs/behaviour.md 1.8). */
    add(m, VN_MT_GAUGE, VN_SCOPE_MIXED, key);
    assert_int_equal(m->count, 50001);
    vn_series_map_free(m);

    vn_series_map_t *capped = vn_series_map_new(2);
    assert_non_null(add(capped, VN_MT_COUNTER, VN_SCOPE_MIXED, "a\n"));
    assert_non_null(add(capped, VN_MT_COUNTER, VN_SCOPE_MIXED, "b\n"));
    assert_null(add(capped, VN_MT_COUNTER, VN_SCOPE_MIXED, "c\n"));
    assert_non_null(add(capped, VN_MT_COUNTER, VN_SCOPE_MIXED, "a\n"));
    vn_series_map_free(capped);
}

/* Long keys: chunks stop at a byte bound, every output appears once across them,
 * and a histogram's name is copied once per output, not once more for the series. */
static void test_generate__chunks_bounded_in_bytes(void **state)
{
    (void)state;
    enum { NSERIES = 40, NAME = 60000 };
    vn_series_map_t *m = vn_series_map_new(0);
    char *key = malloc(NAME + 16);
    for (int i = 0; i < NSERIES; i++) {
        memset(key, 'k', NAME);
        int n = snprintf(key + NAME - 4, 16, "%04d", i);
        size_t kl = NAME - 4 + (size_t)n;
        uint32_t h = vn_fnv1a32_add(VN_FNV1A32_INIT, key, kl);
        vn_series_t *s = vn_series_map_upsert(m, h, (uint8_t)(i % 2 ? VN_MT_TIMER : VN_MT_COUNTER),
                                              VN_SCOPE_MIXED, key, kl);
        assert_non_null(s);
        if (i % 2)
            vn_histo_sample(s->u.histo, i, 1);
        else
            s->u.counter = i;
    }
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT, .hostname = "h"};
    const size_t max_bytes = (size_t)1 << 20;
    int seen[NSERIES][4] = {{0}}; /* bare, .min, .max, .count */
    size_t chunks = 0, outputs = 0;
    for (size_t at = 0; at < m->cap;) {
        vn_flush_output_t o;
        vn_flush_output_init(&o);
        at = vn_flush_generate_bounded(m, at, SIZE_MAX, max_bytes, &r, 100, &o);
        /* over the bound by at most one series' outputs (3 names) and arena slack */
        assert_true(vn_flush_output_bytes(&o) <= max_bytes + 4 * (size_t)NAME + (256u << 10));
        for (size_t i = 0; i < o.n; i++) {
            const char *nm = o.m[i].name;
            assert_int_equal(strspn(nm, "k"), NAME - 4);
            int idx = atoi(nm + NAME - 4);
            assert_true(idx >= 0 && idx < NSERIES);
            const char *suf = nm + NAME;
            int slot = !*suf ? 0 : !strcmp(suf, ".min") ? 1 : !strcmp(suf, ".max") ? 2 : !strcmp(suf, ".count") ? 3 : -1;
            assert_true(slot >= 0);
            seen[idx][slot]++;
            if (slot == 0)
                assert_true(o.m[i].value == idx);
            else
                assert_true(o.m[i].value == (slot == 3 ? 1 : idx));
        }
        outputs += o.n;
        chunks += o.n > 0;
        vn_flush_output_destroy(&o);
    }
    assert_true(chunks >= 4);
    assert_int_equal(outputs, NSERIES / 2 + 3 * NSERIES / 2);
    /* One name copy per output (80 here), not one more per timer (100): arena chunks
     * of 256 KiB waste under 10 % with 60 KB strings. */
    vn_flush_output_t all;
    vn_flush_output_init(&all);
    vn_flush_generate(m, &r, 100, &all);
    assert_int_equal(all.n, outputs);
    assert_true(all.arena.bytes < (size_t)NAME * 90);
    vn_flush_output_destroy(&all);
    for (int i = 0; i < NSERIES; i++)
        for (int j = 0; j < 4; j++)
            assert_int_equal(seen[i][j], (i % 2) ? (j != 0) : (j == 0));
    free(key);
    vn_series_map_free(m);
}

/* Provenance (sinks/sink.h): every histogram/timer output names its series and part; other outputs stay zero. */
static void test_generate__histo_provenance(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *t = add(m, VN_MT_TIMER, VN_SCOPE_MIXED, "lat\nsvc:a");
    vn_series_t *h = add(m, VN_MT_HISTOGRAM, VN_SCOPE_MIXED, "size\n");
    for (int v = 1; v <= 100; v++) {
        vn_histo_sample(t->u.histo, v, 1);
        vn_histo_sample(h->u.histo, v * 2, 1);
    }
    add(m, VN_MT_COUNTER, VN_SCOPE_MIXED, "c\n")->u.counter = 1;
    add(m, VN_MT_GAUGE, VN_SCOPE_MIXED, "g\n")->u.gauge = 2;
    vn_hll_add(add(m, VN_MT_SET, VN_SCOPE_MIXED, "s\n")->u.set, "x", 1);
    double pct[] = {0.5, 0.99};
    const char *names[] = {".50percentile", ".99percentile"};
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT | VN_AGG_SUM,
                          .percentiles = pct, .pct_names = names, .npct = 2, .hostname = "h"};
    vn_flush_output_t o;
    vn_flush_output_init(&o);
    vn_flush_generate(m, &r, 100, &o);
    assert_int_equal(o.n, 3 + 2 * 6);
    static const struct {
        const char *suffix;
        vn_hist_part_t part;
        double q;
    } want[] = {{".min", VN_HP_MIN, 0},     {".max", VN_HP_MAX, 0},
                {".count", VN_HP_COUNT, 0}, {".sum", VN_HP_SUM, 0},
                {".50percentile", VN_HP_PERCENTILE, 0.5}, {".99percentile", VN_HP_PERCENTILE, 0.99}};
    const char *bases[] = {"lat", "size"};
    for (size_t b = 0; b < 2; b++) {
        for (size_t w = 0; w < 6; w++) {
            char nm[64];
            snprintf(nm, sizeof nm, "%s%s", bases[b], want[w].suffix);
            const vn_inter_metric_t *x = find(&o, nm);
            assert_non_null(x);
            assert_int_equal(x->hist_part, want[w].part);
            assert_int_equal(x->hist_base_len, strlen(bases[b]));
            assert_true(x->quantile == want[w].q);
            assert_int_equal(x->ntags, b == 0 ? 1 : 0);
        }
    }
    assert_true(find(&o, "lat.count")->value == 100 && find(&o, "lat.sum")->value == 5050);
    assert_true(find(&o, "size.sum")->value == 10100);
    /* the parts of one series are adjacent */
    for (size_t i = 0; i < o.n; i++) {
        if (o.m[i].hist_part == VN_HP_NONE)
            continue;
        size_t run = 1;
        while (i + run < o.n && o.m[i + run].hist_part != VN_HP_NONE &&
               strncmp(o.m[i + run].name, o.m[i].name, o.m[i].hist_base_len) == 0)
            run++;
        assert_int_equal(run, 6);
        i += run - 1;
    }
    const char *plain[] = {"c", "g", "s"};
    for (size_t i = 0; i < 3; i++) {
        const vn_inter_metric_t *x = find(&o, plain[i]);
        assert_non_null(x);
        assert_int_equal(x->hist_part, VN_HP_NONE);
        assert_int_equal(x->hist_base_len, 0);
        assert_true(x->quantile == 0);
    }
    vn_flush_output_destroy(&o);

    /* Median, avg and hmean aggregates name their parts too. */
    r.aggregates = VN_AGG_MEDIAN | VN_AGG_AVG | VN_AGG_HMEAN;
    r.npct = 0;
    vn_flush_output_init(&o);
    vn_flush_generate(m, &r, 100, &o);
    assert_int_equal(find(&o, "lat.median")->hist_part, VN_HP_MEDIAN);
    assert_int_equal(find(&o, "lat.avg")->hist_part, VN_HP_AVG);
    assert_int_equal(find(&o, "lat.hmean")->hist_part, VN_HP_HMEAN);
    vn_flush_output_destroy(&o);
    vn_series_map_free(m);
}

/* A chunk limit of one metric still keeps every series' outputs in one chunk (sinks/sink.h). */
static void test_generate__tiny_chunks_keep_series_whole(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    enum { NT = 20 };
    for (int i = 0; i < NT; i++) {
        char key[32];
        snprintf(key, sizeof key, "t%02d\n", i);
        vn_histo_sample(add(m, VN_MT_TIMER, VN_SCOPE_MIXED, key)->u.histo, i + 1, 1); /* sum 0 is not emitted */
        snprintf(key, sizeof key, "c%02d\n", i);
        add(m, VN_MT_COUNTER, VN_SCOPE_MIXED, key)->u.counter = i;
    }
    double pct[] = {0.5, 0.99};
    const char *names[] = {".50percentile", ".99percentile"};
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT | VN_AGG_SUM,
                          .percentiles = pct, .pct_names = names, .npct = 2, .hostname = "h"};
    size_t chunks = 0, parts = 0;
    for (size_t at = 0; at < m->cap;) {
        vn_flush_output_t o;
        vn_flush_output_init(&o);
        at = vn_flush_generate_bounded(m, at, 1, SIZE_MAX, &r, 100, &o);
        if (o.n) {
            chunks++;
            /* one series per chunk: a counter alone or a timer's six parts */
            if (o.m[0].hist_part == VN_HP_NONE) {
                assert_int_equal(o.n, 1);
            } else {
                assert_int_equal(o.n, 6);
                for (size_t i = 0; i < o.n; i++) {
                    assert_int_not_equal(o.m[i].hist_part, VN_HP_NONE);
                    assert_int_equal(o.m[i].hist_base_len, 3);
                    assert_memory_equal(o.m[i].name, o.m[0].name, 3);
                }
                parts += o.n;
            }
        }
        vn_flush_output_destroy(&o);
    }
    assert_int_equal(chunks, 2 * NT);
    assert_int_equal(parts, 6 * NT);
    vn_series_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate__percentile_names),
        cmocka_unit_test(test_generate__histo_all_aggregates_global),
        cmocka_unit_test(test_generate__histo_rate_and_local_guards),
        cmocka_unit_test(test_generate__scopes_local_vs_global),
        cmocka_unit_test(test_generate__series_map_grows_and_dedups),
        cmocka_unit_test(test_generate__chunks_bounded_in_bytes),
        cmocka_unit_test(test_generate__histo_provenance),
        cmocka_unit_test(test_generate__tiny_chunks_keep_series_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
