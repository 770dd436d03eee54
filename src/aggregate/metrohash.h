/**
 * metrohash.h - MetroHash64 (J. Andrew Rogers' "MetroHash64_1" variant, as
 * implemented by dgryski/go-metro @0f6473574cdf), used to hash set members for
 * the HyperLogLog so that sketches built here merge bit-for-bit with Go
 * Veneur's (docs/behaviour.md W2.2, vectors in docs/behaviour.md W7).
 *
 * Not a cryptographic hash. Pure function of (bytes, seed): thread-safe,
 * endian-independent (input words are read little-endian byte by byte).
 */
#ifndef VN_AGGREGATE_METROHASH_H
#define VN_AGGREGATE_METROHASH_H

#include <stddef.h>
#include <stdint.h>

/** Seed the HyperLogLog uses for set members (axiomhq/hyperloglog). */
#define VN_METRO_HLL_SEED 1337u

/**
 * MetroHash64 of data[0..len) with the given seed.
 * @arg data borrowed; may be NULL when len == 0.
 * @return the 64-bit hash (callers that need bytes store it little-endian).
 */
uint64_t vn_metrohash64(const void *data, size_t len, uint64_t seed);

#endif
