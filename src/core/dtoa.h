/**
 * dtoa.h - shortest round-trip decimal digits of a double, through Google's
 * double-conversion library (C++, wrapped by core/dtoa_shim.cc).
 *
 * Why a library: the shortest digits that read back as v, the closest to v
 * when several of that length do, is what Go's strconv.FormatFloat(v, 'g',
 * -1, 64) prints. Finding them with printf + strtod round trips cost
 * microseconds per value, and a flush formats millions of values (issue 22).
 * double-conversion's SHORTEST mode (Grisu3 with a bignum fallback) gives the
 * same digits in tens of nanoseconds.
 *
 * Only core/gonum.c calls this; everything else formats through
 * vn_gonum_format_float. Reentrant, thread-safe, allocation-free.
 */
#ifndef VN_CORE_DTOA_H
#define VN_CORE_DTOA_H

#include <stddef.h>

/** Capacity vn_dtoa_shortest needs: 17 digits and a NUL. */
#define VN_DTOA_DIGITS_CAP 18

/**
 * Writes the shortest decimal digits of a finite v > 0 into digs (at least
 * VN_DTOA_DIGITS_CAP bytes; NUL-terminated, no leading or trailing zeros) and
 * sets *dp, the position of the decimal point: v ~ 0.d1d2... * 10^*dp.
 * Returns the digit count (1..17).
 */
int vn_dtoa_shortest(double v, char *digs, int *dp);

#endif
