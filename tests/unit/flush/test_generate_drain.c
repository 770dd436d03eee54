/*
 * test_generate_drain.c - vn_flush_generate_drain (the flusher's path) gives the
 * same metrics as vn_flush_generate over the slots, in bounded chunks that
 * never split one histogram series (sinks/sink.h hist_part), for counters,
 * gauges, timers (one and many samples), sets and status checks.
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
#include "flush/flusher.h"

static const double PCT[] = {0.5, 0.99};
static const char *const PCT_NAMES[] = {".50percentile", ".99percentile"};

static vn_series_map_t *build(size_t n)
{
    static const vn_mtype_t types[] = {VN_MT_COUNTER, VN_MT_TIMER, VN_MT_SET, VN_MT_GAUGE, VN_MT_STATUS};
    vn_series_map_t *m = vn_series_map_new(0);
    for (size_t i = 0; i < n; i++) {
        char key[64];
        vn_mtype_t t = types[i % 5];
        int len = snprintf(key, sizeof key, "m%zu\na:%zu,veneursinkonly:x,b:c", i, i % 3);
        vn_series_t *s = vn_series_map_upsert(m, vn_series_key_hash(key, (size_t)len, t), (uint8_t)t,
                                              (uint8_t)(i % 3), key, (size_t)len);
        assert_non_null(s);
        switch (t) {
        case VN_MT_COUNTER:
        case VN_MT_GAUGE: s->u.counter = (double)i / 3; break;
        case VN_MT_TIMER:
            for (size_t k = 0; k <= i % 4; k++) /* 1 to 4 samples: the one-value shortcut and the fold */
                vn_histo_sample(s->u.histo, (double)(i + k * 7), 0.5);
            break;
        case VN_MT_SET:
            for (size_t k = 0; k <= i % 3; k++)
                vn_hll_add(s->u.set, &k, sizeof k);
            break;
        case VN_MT_STATUS: vn_status_set(s->u.status, (double)(i % 4), "h", 1, "msg", 3); break;
        default: break;
        }
    }
    return m;
}

static void line_of(const vn_inter_metric_t *m, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s|%.17g|%d|%s|%s|%s|%d|%zu|%g|", m->name, m->value, (int)m->type,
                     m->hostname ? m->hostname : "-", m->message ? m->message : "-", m->sink_only ? m->sink_only : "-",
                     (int)m->hist_part, m->hist_base_len, m->quantile);
    for (size_t i = 0; i < m->ntags && n > 0 && (size_t)n < cap; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%s,", m->tags[i]);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char **lines(const vn_inter_metric_t *m, size_t n)
{
    char **l = calloc(n ? n : 1, sizeof *l);
    for (size_t i = 0; i < n; i++) {
        l[i] = malloc(512);
        line_of(&m[i], l[i], 512);
    }
    qsort(l, n, sizeof *l, cmp_str);
    return l;
}

static void run(bool is_local, size_t max_metrics)
{
    enum { N = 3000 };
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT | VN_AGG_MEDIAN,
                          .percentiles = PCT,
                          .pct_names = PCT_NAMES,
                          .npct = 2,
                          .is_local = is_local,
                          .hostname = "hh"};
    vn_series_map_t *ref = build(N);
    vn_flush_output_t all;
    vn_flush_output_init(&all);
    vn_flush_generate(ref, &r, 100, &all);
    vn_series_map_free(ref);

    vn_series_map_t *m = build(N);
    vn_series_map_drop_index(m);
    vn_flush_output_t got;
    vn_flush_output_init(&got);
    vn_inter_metric_t *copy = calloc(all.n + 1, sizeof *copy);
    char **got_lines = calloc(all.n + 1, sizeof *got_lines);
    size_t ngot = 0, chunks = 0;
    bool done = false;
    while (!done) {
        done = vn_flush_generate_drain(m, max_metrics, SIZE_MAX, &r, 100, &got);
        /* a chunk passes the bound by one series' outputs at most (here <= 6) */
        assert_true(max_metrics == SIZE_MAX || got.n <= max_metrics + 6);
        for (size_t i = 0; i < got.n; i++) {
            assert_true(ngot < all.n);
            got_lines[ngot] = malloc(512);
            line_of(&got.m[i], got_lines[ngot], 512);
            ngot++;
            /* a histogram series' outputs are adjacent and complete within the chunk */
            if (got.m[i].hist_part != VN_HP_NONE && (i == 0 || got.m[i - 1].hist_part == VN_HP_NONE ||
                                                      got.m[i - 1].hist_base_len != got.m[i].hist_base_len ||
                                                      strncmp(got.m[i - 1].name, got.m[i].name, got.m[i].hist_base_len))) {
                size_t j = i;
                while (j < got.n && got.m[j].hist_part != VN_HP_NONE &&
                       strncmp(got.m[j].name, got.m[i].name, got.m[i].hist_base_len) == 0)
                    j++;
                assert_true(j - i >= 3); /* max, min, count at least */
                assert_true(strcmp(got.m[j - 1].name + got.m[i].hist_base_len, ".99percentile") == 0 ||
                            is_local);
            }
        }
        chunks++;
        vn_flush_output_destroy(&got);
        vn_flush_output_init(&got);
    }
    assert_int_equal(ngot, all.n);
    assert_true(chunks > 1 || max_metrics >= all.n);
    qsort(got_lines, ngot, sizeof *got_lines, cmp_str);
    char **want = lines(all.m, all.n);
    for (size_t i = 0; i < ngot; i++) {
        assert_string_equal(got_lines[i], want[i]);
        free(got_lines[i]);
        free(want[i]);
    }
    free(got_lines);
    free(want);
    free(copy);
    vn_flush_output_destroy(&got);
    vn_flush_output_destroy(&all);
    vn_series_map_free(m);
}

static void test_generate_drain__same_metrics_global(void **state)
{
    (void)state;
    run(false, 100);
    run(false, 1);
    run(false, SIZE_MAX);
}

static void test_generate_drain__same_metrics_local(void **state)
{
    (void)state;
    run(true, 37);
}

/* With the flusher's bounds a chunk's array is sized once (no doubling while
 * it fills, never past max + one series); fit gives a partial chunk back the
 * size doubling from 1024 would have had, contents kept. */
static void test_generate_drain__array_sized_once_then_fit(void **state)
{
    (void)state;
    vn_series_map_t *m = build(2500);
    vn_series_map_drop_index(m);
    vn_flush_rules_t r = {.aggregates = VN_AGG_MIN | VN_AGG_MAX | VN_AGG_COUNT, .percentiles = PCT,
                          .pct_names = PCT_NAMES, .npct = 2, .hostname = "h"};
    vn_flush_output_t out;
    vn_flush_output_init(&out);
    size_t max = 2000, total = 0;
    bool done = false;
    while (!done) {
        done = vn_flush_generate_drain(m, max, VN_FLUSH_CHUNK_MAX_BYTES, &r, 100, &out);
        assert_true(out.cap >= max && out.cap <= max + 7 + 64);
        total += out.n;
        if (done)
            break;
        vn_flush_output_destroy(&out);
        vn_flush_output_init(&out);
    }
    assert_true(out.n > 0 && out.n < max); /* the last chunk is partial */
    vn_inter_metric_t first = out.m[0];
    size_t n = out.n, want = 1024;
    while (want < n)
        want *= 2;
    vn_flush_output_fit(&out);
    assert_int_equal(out.cap, want);
    assert_int_equal(out.n, n);
    assert_ptr_equal(out.m[0].name, first.name);
    assert_true(out.m[0].value == first.value || (first.value != first.value && out.m[0].value != out.m[0].value));
    vn_flush_output_fit(&out); /* already small: unchanged */
    assert_int_equal(out.cap, want);
    assert_true(total > 2500);
    vn_flush_output_destroy(&out);
    vn_series_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_drain__same_metrics_global),
        cmocka_unit_test(test_generate_drain__same_metrics_local),
        cmocka_unit_test(test_generate_drain__array_sized_once_then_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
