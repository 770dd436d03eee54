/* Unit tests for the flush schedule (issue 16): offset, first delay, closing tick, and the
 * x-veneur-interval-end parser and the worker's late count that use them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include <time.h>

#include "aggregate/worker.h"
#include "core/stats.h"
#include "ticker/ticker.h"
#include "forward/h2_server.h"

static void test_ticker__offset(void **state)
{
    (void)state;
    vn_config_t c;
    memset(&c, 0, sizeof c);
    c.interval_s = 10;
    c.synchronize_with_interval = true;
    assert_true(vn_ticker_offset_s(&c) == 0); /* a local: flushes at the tick */
    c.grpc_address = "127.0.0.1:8128";
    assert_true(vn_ticker_offset_s(&c) == 2.0); /* min(10/4, 2) */
    c.interval_s = 1;
    assert_true(vn_ticker_offset_s(&c) == 0.25);
    c.import_grace_period_s = 0.4;
    assert_true(fabs(vn_ticker_offset_s(&c) - 0.4) < 1e-12);
    c.import_grace_period_s = -1;
    assert_true(vn_ticker_offset_s(&c) == 0);
    c.import_grace_period_s = 0;
    c.synchronize_with_interval = false;
    assert_true(vn_ticker_offset_s(&c) == 0);
}

static void test_ticker__first_delay_and_tick(void **state)
{
    (void)state;
    assert_true(fabs(vn_ticker_first_delay(100.1, 1, 0.25) - 0.15) < 1e-9);
    assert_true(fabs(vn_ticker_first_delay(100.3, 1, 0.25) - 0.95) < 1e-9);
    assert_true(fabs(vn_ticker_first_delay(103.0, 10, 0) - 7.0) < 1e-9);
    /* the tick a flush closes: on time, late, early */
    assert_int_equal(vn_ticker_tick_ms(101.25, 1, 0.25), 101000);
    assert_int_equal(vn_ticker_tick_ms(101.60, 1, 0.25), 101000);
    assert_int_equal(vn_ticker_tick_ms(101.001, 1, 0), 101000);
    assert_int_equal(vn_ticker_tick_ms(109.9, 10, 0), 110000);
    assert_int_equal(vn_ticker_tick_ms(4.5, 1.5, 0), 4500);
}

static void test_ticker__parse_interval_header(void **state)
{
    (void)state;
    assert_int_equal(vn_h2_parse_interval_ms("1765072808", 10), 1765072808000LL);
    assert_int_equal(vn_h2_parse_interval_ms("1765072808.5", 12), 1765072808500LL);
    assert_int_equal(vn_h2_parse_interval_ms("1765072808.125", 14), 1765072808125LL);
    assert_int_equal(vn_h2_parse_interval_ms("", 0), 0);
    assert_int_equal(vn_h2_parse_interval_ms("-5", 2), 0);
    assert_int_equal(vn_h2_parse_interval_ms("12.", 3), 0);
    assert_int_equal(vn_h2_parse_interval_ms("12.1234", 7), 0);
    assert_int_equal(vn_h2_parse_interval_ms("1234567890123", 13), 0);
    assert_int_equal(vn_h2_parse_interval_ms("12x", 3), 0);
}

static vn_import_t *counter_import(const char *name, int64_t tick_ms)
{
    vn_import_t *it = vn_import_new(VN_MT_COUNTER, VN_SCOPE_GLOBAL, name, strlen(name));
    it->u.value = 1;
    it->interval_ms = tick_ms;
    return it;
}

/* After a swap closed tick T, an import tagged T (or older) is late; T+interval and untagged are not. */
static void test_ticker__worker_counts_late(void **state)
{
    (void)state;
    vn_stats_t stats;
    vn_stats_init(&stats);
    vn_stats_t *st = &stats;
    vn_worker_t *w = vn_worker_start(0, 1, 0, st);
    vn_worker_set_interval_clock(w, 1, 0);
    assert_int_equal(vn_worker_import(w, counter_import("a\n", 5000)), 0);
    vn_series_map_free(vn_worker_swap(w)); /* closes the tick nearest to now */
    assert_int_equal(vn_stats_get(&st->import_metrics_late), 0); /* nothing closed yet when it came */
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    vn_import_t *chain = counter_import("b\n", now_ms - 3000);
    chain->next = counter_import("c\n", now_ms + 5000);
    chain->next->next = counter_import("d\n", 0);
    assert_int_equal(vn_worker_import(w, chain), 0);
    assert_int_equal(vn_stats_get(&st->import_metrics_late), 1);
    vn_series_map_t *m = vn_worker_swap(w);
    assert_int_equal(m->count, 3); /* late ones are merged, not dropped */
    vn_series_map_free(m);
    vn_worker_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticker__offset),
        cmocka_unit_test(test_ticker__first_delay_and_tick),
        cmocka_unit_test(test_ticker__parse_interval_header),
        cmocka_unit_test(test_ticker__worker_counts_late),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
