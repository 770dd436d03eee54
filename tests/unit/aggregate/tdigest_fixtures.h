/*
 * tdigest_fixtures.h - cmocka helpers shared by the t-digest tests
 * (test_tdigest.c, test_tdigest_layout.c, test_tdigest_pack.c). Include it
 * after <cmocka.h>: the helpers assert.
 */
#ifndef VN_TEST_TDIGEST_FIXTURES_H
#define VN_TEST_TDIGEST_FIXTURES_H

#include <stdint.h>
#include <stdlib.h>

#include "aggregate/tdigest.h"
#include "sketch_fixtures.h"

/** Adds v[0, n) with weight w, each of which must be accepted. */
static inline void td_add_all(vn_tdigest_t *td, const double *v, size_t n, double w)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vn_tdigest_add(td, v[i], w), VN_OK);
}

/** Encodes td to the wire; returns owned bytes (free()) and sets *len. */
static inline uint8_t *td_encode(vn_tdigest_t *td, size_t *len)
{
    size_t cap = vn_tdigest_encoded_size(td);
    uint8_t *buf = malloc(cap + 1);
    assert_non_null(buf);
    assert_int_equal(vn_tdigest_encode(td, buf, cap, len), VN_OK);
    assert_int_equal(*len, cap);
    return buf;
}

#endif
