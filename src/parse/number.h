/**
 * number.h - module-internal number parsing for src/parse (not a public API).
 *
 * One float parser and one integer parser, shared by metric values, sample
 * rates, event lengths and timestamps (STYLE 3: each numeric field has one
 * parse function). Both read exactly [s, s+n): the input need not be
 * NUL-terminated and is never read past n. Neither allocates. Thread-safe.
 */
#ifndef VN_PARSE_NUMBER_H
#define VN_PARSE_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/** Results of the parsers below. */
enum {
    VN_NUM_OK = 0,      /* *out set */
    VN_NUM_SYNTAX = -1, /* not a number in Go's syntax; *out untouched */
    VN_NUM_RANGE = -2,  /* well-formed but out of range: *out = +-Inf (float) */
};

/**
 * Go strconv.ParseFloat(s, 64): optional sign, decimal digits with an optional
 * '.', optional e/E exponent; hex mantissa with a mandatory p/P exponent
 * ("0x1.8p1"); "inf"/"infinity" (any case, optional sign) and "nan" (any case,
 * no sign) parse to Inf/NaN and return VN_NUM_OK, so callers reject them.
 * No whitespace. Underscores between digits only after a 0x prefix (docs/behaviour.md 1.2.9).
 * Overflow ("1e400") -> VN_NUM_RANGE; underflow rounds to 0 or a subnormal, OK.
 * Correctly rounded (plain short decimals are converted without strtod).
 */
int vn_parse__float(const char *s, size_t n, double *out);

/** Go strconv.ParseInt(s, 10, 64) (and Atoi): [+-]digits, no underscores. */
int vn_parse__int64(const char *s, size_t n, int64_t *out);

#endif
