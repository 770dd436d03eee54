/**
 * series_key.h - the hash of a series key, shared by every path that puts
 * samples into worker maps (statsd readers in listen/ingest.c, gRPC imports in
 * forward/import_server.c). Both must agree bit for bit: the hash picks the
 * worker (hash % number of workers) and is the first thing a map probe
 * compares, so a series imported from a local and the same series received
 * over UDP at the global only merge if they hash the same.
 *
 * Key layout: name '\n' tags joined by ',' (e.g. "api.req\nmethod:get,route:/").
 * Hash: XXH3-64 of the key seeded with type + 1, folded to 32 bits by xor of
 * the halves. An internal choice (Go uses FNV-1a with per-path inputs, docs/behaviour.md
 * 2.7); nothing outside the process sees it.
 */
#ifndef VN_AGGREGATE_SERIES_KEY_H
#define VN_AGGREGATE_SERIES_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <xxhash.h>

#include "core/metric.h"

/** Hash of key[0..len) for a series of type t. Pure; thread-safe. */
static inline uint32_t vn_series_key_hash(const char *key, size_t len, vn_mtype_t t)
{
    uint64_t h = XXH3_64bits_withSeed(key, len, (uint64_t)t + 1);
    return (uint32_t)(h ^ (h >> 32));
}

#endif
