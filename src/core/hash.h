/**
 * hash.h - fixed, documented hashes (no random seeds: results must match across
 * processes and Go Veneur).
 */
#ifndef VN_CORE_HASH_H
#define VN_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define VN_FNV1A32_INIT 2166136261u

/** FNV-1a 32-bit, streamed: h = vn_fnv1a32_add(VN_FNV1A32_INIT, p, n) ... */
static inline uint32_t vn_fnv1a32_add(uint32_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/** FNV-1a 64-bit over one buffer; used for internal hash tables only. */
static inline uint64_t vn_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
