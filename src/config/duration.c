/**
 * duration.c - config durations in seconds: Go time.ParseDuration syntax
 * (core/gonum.h), so `interval: 1m30s` and VENEUR_INTERVAL mean what they mean
 * to Go Veneur, and the dump's shortest exact form back.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "core/gonum.h"

vn_err_t vn_config_parse_duration(const char *s, double *seconds)
{
    int64_t ns;
    if (s == NULL || seconds == NULL || vn_gonum_parse_duration(s, strlen(s), &ns) != VN_GONUM_OK)
        return VN_ERR_PARSE;
    *seconds = (double)ns / 1e9;
    return VN_OK;
}

void vn_cfg__format_duration(double seconds, char *buf, size_t cap)
{
    double nsd = seconds * 1e9;
    if (!(nsd > -9.2e18 && nsd < 9.2e18)) {
        snprintf(buf, cap, "0s");
        return;
    }
    long long ns = llround(nsd);
    const char *unit = "ns";
    long long div = 1;
    if (ns % 1000000000LL == 0) {
        unit = "s";
        div = 1000000000LL;
    } else if (ns % 1000000LL == 0) {
        unit = "ms";
        div = 1000000LL;
    } else if (ns % 1000LL == 0) {
        unit = "us";
        div = 1000LL;
    }
    snprintf(buf, cap, "%lld%s", ns / div, unit);
}
