/**
 * scan.h - module-internal byte search for src/parse.
 *
 * DogStatsD separators are close together (a tag is ~10 bytes), where a
 * memchr call costs more than the search. vn_parse__find tests 8 bytes at a
 * time in a register for the first 32 bytes, then hands longer spans to
 * memchr (vectorised). Never reads outside [p, end).
 */
#ifndef VN_PARSE_SCAN_H
#define VN_PARSE_SCAN_H

#include <stdint.h>
#include <string.h>

/** First c in [p, end), or NULL. */
static inline const char *vn_parse__find(const char *p, const char *end, unsigned char c)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t pat = ones * c;
    for (int i = 0; i < 4 && end - p >= 8; i++, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= pat; /* matching bytes become 0 */
        /* high bit set in the lowest zero byte (higher ones may be false
         * positives from the borrow, but the lowest is exact) */
        uint64_t t = (w - ones) & ~w & highs;
        if (t)
            return p + (__builtin_ctzll(t) >> 3);
    }
    if (end - p < 8) {
        for (; p < end; p++)
            if ((unsigned char)*p == c)
                return p;
        return NULL;
    }
#endif
    return p < end ? memchr(p, c, (size_t)(end - p)) : NULL;
}

#endif
