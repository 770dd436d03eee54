/*
 * test_rng.h - xorshift64* for unit tests and micro-benchmarks (header only).
 * Deterministic from the caller's seed, so a failing value reproduces; not for
 * anything but test data.
 */
#ifndef VN_TEST_RNG_H
#define VN_TEST_RNG_H

#include <stdint.h>

/* Advances *state (must not be 0) and returns the next value. */
static inline uint64_t vn_test_rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

#endif
