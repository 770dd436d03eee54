/*
 * metrohash.c - MetroHash64, the 64-bit MetroHash by J. Andrew Rogers (public
 * domain reference algorithm, "MetroHash64_1" constants). Written from the
 * algorithm description; pinned by the reference vectors in docs/behaviour.md W7.
 *
 * Shape of the function (all arithmetic mod 2^64, words little-endian):
 *   h = (seed + K2) * K0
 *   while >= 32 bytes left: four lanes v0..v3 (all starting at h) each absorb
 *       one 8-byte word: v_i = rotr(v_i + w * K_i, 29) + v_{i+2 mod 4}
 *     then the lanes are folded together (rotr 37) and added into h
 *   16-byte tail block: two half-lanes mixed with rotr 29 / rotr 21
 *   8, 4, 2, 1-byte tails: h += w * K3; h ^= rotr(h, 55 / 26 / 48 / 37) * K1
 *   finalisation: h ^= rotr(h, 28); h *= K0; h ^= rotr(h, 29)
 * Note: this variant does not mix the input length into the initial state
 * (neither does the Go port we must match).
 */
#include "aggregate/metrohash.h"

#define K0 0xD6D018F5ull
#define K1 0xA2AA033Bull
#define K2 0x62992FC1ull
#define K3 0x30BC5B29ull

static inline uint64_t rotr64(uint64_t v, unsigned k) { return (v >> k) | (v << (64 - k)); }

static inline uint64_t le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint64_t le32(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

uint64_t vn_metrohash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    const unsigned char *end = p + len;
    uint64_t h = (seed + K2) * K0;

    if (len >= 32) {
        uint64_t v0 = h, v1 = h, v2 = h, v3 = h;
        while (end - p >= 32) {
            v0 = rotr64(v0 + le64(p) * K0, 29) + v2;
            v1 = rotr64(v1 + le64(p + 8) * K1, 29) + v3;
            v2 = rotr64(v2 + le64(p + 16) * K2, 29) + v0;
            v3 = rotr64(v3 + le64(p + 24) * K3, 29) + v1;
            p += 32;
        }
        v2 ^= rotr64((v0 + v3) * K0 + v1, 37) * K1;
        v3 ^= rotr64((v1 + v2) * K1 + v0, 37) * K0;
        v0 ^= rotr64((v0 + v2) * K0 + v3, 37) * K1;
        v1 ^= rotr64((v1 + v3) * K1 + v2, 37) * K0;
        h += v0 ^ v1;
    }
    if (end - p >= 16) {
        uint64_t a = rotr64(h + le64(p) * K2, 29) * K3;
        uint64_t b = rotr64(h + le64(p + 8) * K2, 29) * K3;
        a ^= rotr64(a * K0, 21) + b;
        b ^= rotr64(b * K3, 21) + a;
        h += b;
        p += 16;
    }
    if (end - p >= 8) {
        h += le64(p) * K3;
        h ^= rotr64(h, 55) * K1;
        p += 8;
    }
    if (end - p >= 4) {
        h += le32(p) * K3;
        h ^= rotr64(h, 26) * K1;
        p += 4;
    }
    if (end - p >= 2) {
        h += ((uint64_t)p[0] | (uint64_t)p[1] << 8) * K3;
        h ^= rotr64(h, 48) * K1;
        p += 2;
    }
    if (end - p >= 1) {
        h += (uint64_t)p[0] * K3;
        h ^= rotr64(h, 37) * K1;
    }
    h ^= rotr64(h, 28);
    h *= K0;
    h ^= rotr64(h, 29);
    return h;
}
