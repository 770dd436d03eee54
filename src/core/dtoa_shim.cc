// dtoa_shim.cc - the C interface of core/dtoa.h over double-conversion (see
// dtoa.h for why; the other C++ in veneur-c is the RE2 shim).
#include <double-conversion/double-to-string.h>

extern "C" {
#include "core/dtoa.h"
}

extern "C" int vn_dtoa_shortest(double v, char *digs, int *dp)
{
    bool sign = false;
    int length = 0, point = 0;
    // SHORTEST ignores requested_digits; point is Go's decimal.dp (v = 0.digits * 10^point).
    double_conversion::DoubleToStringConverter::DoubleToAscii(
        v, double_conversion::DoubleToStringConverter::SHORTEST, 0, digs, VN_DTOA_DIGITS_CAP, &sign, &length,
        &point);
    *dp = point;
    return length;
}
