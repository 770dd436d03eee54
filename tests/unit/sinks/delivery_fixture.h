/*
 * delivery_fixture.h - what test_delivery.c and test_http_client.c share: a monotonic clock,
 * delivery options with short back-offs, and WAIT_FOR (polls a condition for up to 10 s).
 * Header-only: each runner is its own binary. Include after <cmocka.h>.
 */
#ifndef VN_TEST_DELIVERY_FIXTURE_H
#define VN_TEST_DELIVERY_FIXTURE_H

#include <time.h>
#include <unistd.h>

#include "sinks/delivery.h"

static inline double tnow(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- helpers */

static inline vn_delivery_opts_t fast_opts(void)
{
    return (vn_delivery_opts_t){.name = "t",
                                .max_queue_bytes = 1 << 20,
                                .max_age_s = 10,
                                .request_timeout_s = 5,
                                .backoff_base_s = 0.02,
                                .backoff_max_s = 0.1,
                                .max_in_flight = 4,
                                .drain_grace_s = 2};
}

#define WAIT_FOR(cond)                                                                                          \
    do {                                                                                                        \
        double end_ = tnow() + 10;                                                                              \
        while (!(cond) && tnow() < end_)                                                                        \
            usleep(2000);                                                                                       \
        assert_true(cond);                                                                                      \
    } while (0)

#define GET(slot, field) vn_stats_get(&(slot)->field)

#endif
