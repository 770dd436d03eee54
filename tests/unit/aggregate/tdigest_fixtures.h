/*
 * tdigest_fixtures.h - cmocka helpers shared by the t-digest tests
 * (test_tdigest.c, test_tdigest_layout.c, test_tdigest_pack.c). Include it
 * after <cmocka.h>: the helpers assert.
 */
#ifndef VN_TEST_TDIGEST_FIXTURES_H
#define VN_TEST_TDIGEST_FIXTURES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/** a and b encode to the same wire bytes (same length, same bytes). */
static inline void td_assert_same_wire(vn_tdigest_t *a, vn_tdigest_t *b)
{
    size_t la, lb;
    uint8_t *ba = td_encode(a, &la), *bb = td_encode(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
}

/**
 * Twins for layout comparisons: c and w (compression 100) each hold one sample
 * (value, weight; td_twin_init: 1.0, 1), folded; w is wide for good (asking for its centroids switches it), c is
 * still compact.
 */
static inline void td_twin_init_at(vn_tdigest_t *c, vn_tdigest_t *w, double value, double weight)
{
    assert_int_equal(vn_tdigest_init(c, 100), VN_OK);
    assert_int_equal(vn_tdigest_init(w, 100), VN_OK);
    assert_int_equal(vn_tdigest_add(c, value, weight), VN_OK);
    assert_int_equal(vn_tdigest_add(w, value, weight), VN_OK);
    size_t n0;
    (void)vn_tdigest_centroids(w, &n0);
    vn_tdigest_compress(c);
}

static inline void td_twin_init(vn_tdigest_t *c, vn_tdigest_t *w) { td_twin_init_at(c, w, 1.0, 1); }

#endif
