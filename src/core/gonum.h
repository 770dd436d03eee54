/**
 * gonum.h - numbers as Go reads and writes them: the one place for
 * strconv.ParseFloat, ParseInt, ParseBool, time.ParseDuration and the shortest
 * round-trip strconv.FormatFloat / encoding/json float text.
 *
 * Go Veneur, its clients (datadog-go, veneur-emit's flags) and its sinks use
 * Go's grammars, which are not C's: strtod accepts leading blanks, "0x1.8"
 * without an exponent and "nan(123)", and rejects "1_000"; printf has no
 * shortest round-trip mode. Every parser and formatter in veneur-c that must
 * agree with Go calls these.
 *
 * All parsers read exactly [s, s+n): the input need not be NUL-terminated and
 * is never read past n. Nothing here allocates; every function is reentrant
 * and thread-safe. Formatting assumes the "C" locale (the daemon and the tools
 * never call setlocale).
 */
#ifndef VN_CORE_GONUM_H
#define VN_CORE_GONUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Results of the parsers below. */
typedef enum vn_gonum_rc {
    VN_GONUM_OK = 0,        /* *out set */
    VN_GONUM_SYNTAX = -1,   /* not a number in Go's syntax; *out untouched */
    VN_GONUM_RANGE = -2,    /* well-formed but out of range; *out untouched except for floats (+-Inf) */
    VN_GONUM_NO_UNIT = -3,  /* duration: an element without a unit ("1", "1.5") */
    VN_GONUM_BAD_UNIT = -4, /* duration: a unit other than ns us µs μs ms s m h */
} vn_gonum_rc_t;

/** vn_gonum_parse_float flags. */
enum {
    /** Underscores only after a 0x prefix (the DogStatsD value grammar,
     *  docs/behaviour.md 1.2.9); Go's ParseFloat also takes "1_000". */
    VN_GONUM_UNDERSCORE_HEX_ONLY = 1u << 0,
};

/**
 * Go strconv.ParseFloat(s, 64): optional sign, decimal digits with an optional
 * '.', optional e/E exponent; hex mantissa with a mandatory p/P exponent
 * ("0x1.8p1"); "inf"/"infinity" (any case, optional sign) and "nan" (any case,
 * no sign) give Inf/NaN with VN_GONUM_OK, so callers that want finite values
 * check isfinite. '_' between digits (or after a base prefix) as Go allows,
 * narrowed by `flags`. No whitespace. Overflow ("1e400") -> VN_GONUM_RANGE
 * with *out = +-Inf; underflow rounds to 0 or a subnormal, OK. Correctly
 * rounded; short plain decimals ("12.5") take a path with no strtod.
 */
vn_gonum_rc_t vn_gonum_parse_float(const char *s, size_t n, unsigned flags, double *out);

/**
 * Go strconv.ParseInt(s, base, 64) for base 10 or base 0. Base 10: [+-]digits,
 * no '_'. Base 0 (Go's flag package): prefixes 0x, 0o, 0b, and a leading 0 for
 * octal, '_' as Go allows. VN_GONUM_RANGE as soon as the magnitude passes
 * 2^64 (syntax is checked up to there, as Go does) or at the end when it does
 * not fit an int64. Any other base -> VN_GONUM_SYNTAX.
 */
vn_gonum_rc_t vn_gonum_parse_int64(const char *s, size_t n, int base, int64_t *out);

/** Go strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False (s is
 *  NUL-terminated). false for anything else, *out untouched. */
bool vn_gonum_parse_bool(const char *s, bool *out);

/**
 * Go time.ParseDuration: [-+]? ( "0" | ( digits? ( "." digits? )? unit )+ ),
 * each element with at least one digit, unit ns, us, µs (U+00B5), μs (U+03BC),
 * ms, s, m or h ("1m30.5s"). Exact integer nanoseconds with Go's limit
 * (|d| <= 2^63 ns, +2^63 itself rejected -> VN_GONUM_RANGE). A fraction is
 * scaled into its unit the way Go does (through a double). VN_GONUM_NO_UNIT /
 * VN_GONUM_BAD_UNIT say what Go's error message would; other malformed input
 * is VN_GONUM_SYNTAX.
 */
vn_gonum_rc_t vn_gonum_parse_duration(const char *s, size_t n, int64_t *ns);

/** Layouts for vn_gonum_format_float; the digits are the same in each. */
typedef enum vn_gonum_fmt {
    /** strconv.FormatFloat(v, 'f', -1, 64): never an exponent (1e300 prints
     *  301 digits); "NaN", "+Inf", "-Inf". */
    VN_GONUM_FMT_F = 0,
    /** strconv.FormatFloat(v, 'g', -1, 64): exponent form when the decimal
     *  exponent is < -4 or >= 6 (Go fixes 6 for shortest output), with at
     *  least two exponent digits ("1e+06", "5.960464477539063e-08"), else
     *  as 'f' ("123456", "0.0001"). */
    VN_GONUM_FMT_G = 1,
    /** encoding/json: plain when 1e-6 <= |v| < 1e21 (and for 0), else
     *  exponent form with negative exponents unpadded ("1e+21", "1e-7").
     *  NaN/Inf as in 'f' (JSON has no form for them; callers decide). */
    VN_GONUM_FMT_JSON = 2,
} vn_gonum_fmt_t;

/** Bytes enough for any double in any layout, NUL included (the longest is a
 *  17-digit value near 2.2e-308 in 'f': sign + "0." + 307 zeros + 17 digits). */
#define VN_GONUM_FLOAT_MAX 352

/**
 * Writes v into out (cap bytes, NUL-terminated) with the shortest decimal
 * digits that read back as exactly v, the closest to v when several of that
 * length do (Go's rule: 2^-24 is 5.960464477539063e-8, not ...0625e-8 nor the
 * tie-rounded ...062e-8, which reads back as another double). -0 keeps its
 * sign. Returns the length written, or 0 when cap is too small (out then
 * holds "" if cap > 0). cap >= VN_GONUM_FLOAT_MAX always suffices.
 */
size_t vn_gonum_format_float(double v, vn_gonum_fmt_t fmt, char *out, size_t cap);

#endif
