/*
 * ticker.c - flush schedule arithmetic (see ticker.h).
 */
#include "ticker/ticker.h"

#include <math.h>

double vn_ticker_offset_s(const vn_config_t *cfg)
{
    bool global = (cfg->grpc_address && cfg->grpc_address[0]) || (cfg->grpc_tls_address && cfg->grpc_tls_address[0]);
    if (!global || !cfg->synchronize_with_interval || !(cfg->interval_s > 0) || cfg->import_grace_period_s < 0)
        return 0;
    double g = cfg->import_grace_period_s;
    if (g == 0) {
        g = cfg->interval_s / 4;
        if (g > VN_TICKER_GRACE_MAX_S)
            g = VN_TICKER_GRACE_MAX_S;
    }
    /* An offset of a whole interval or more would only rename the ticks; keep it inside one. */
    return fmod(g, cfg->interval_s);
}

double vn_ticker_first_delay(double now, double interval_s, double offset_s)
{
    double d = interval_s - fmod(now - offset_s, interval_s);
    if (d <= 0 || d > interval_s)
        d = interval_s;
    return d;
}

int64_t vn_ticker_tick_ms(double when, double interval_s, double offset_s)
{
    double k = floor((when - offset_s) / interval_s + 0.5);
    return (int64_t)llround(k * interval_s * 1000.0);
}
