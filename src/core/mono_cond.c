/*
 * mono_cond.c - monotonic condition variables (see mono_cond.h).
 */
#include "core/mono_cond.h"

void vn_mono_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

struct timespec vn_mono_cond_deadline(double mono)
{
    if (mono < 0)
        mono = 0;
    struct timespec ts = {.tv_sec = (time_t)mono};
    ts.tv_nsec = (long)((mono - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) { /* rounding of a value just under a whole second */
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
