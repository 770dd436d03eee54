/* watchdog.c - exits when flushes stop completing (see watchdog.h). */
#include "telemetry/watchdog.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"

struct vn_watchdog {
    int missed;
    double interval_s;
    _Atomic int64_t last_ms; /* CLOCK_MONOTONIC of the last completed flush */
    _Atomic bool tripped, stop;
    pthread_t th;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void *run(void *arg)
{
    vn_watchdog_t *w = arg;
    int64_t limit_ms = (int64_t)llround(w->missed * w->interval_s * 1000.0);
    long step = w->interval_s < 2 ? (long)(w->interval_s * 250) + 1 : 500;
    while (!atomic_load(&w->stop)) {
        sleep_ms(step);
        int64_t since = mono_ms() - atomic_load(&w->last_ms);
        if (since <= limit_ms)
            continue;
        atomic_store(&w->tripped, true);
        VN_LOG(ERROR, "event=flush_watchdog_tripped missed_flushes=%d interval_s=%g since_last_flush_s=%.1f "
                      "msg=\"no flush completed for flush_watchdog_missed_flushes intervals; exiting\"",
               w->missed, w->interval_s, (double)since / 1000.0);
        /* Let probes see the failing health before the restart (bounded: half an interval, <= 2 s). */
        sleep_ms(w->interval_s < 4 ? (long)(w->interval_s * 500) : 2000);
        _exit(1);
    }
    return NULL;
}

vn_watchdog_t *vn_watchdog_start(int missed, double interval_s)
{
    if (missed <= 0 || interval_s <= 0)
        return NULL;
    vn_watchdog_t *w = vn_xcalloc(1, sizeof *w);
    w->missed = missed;
    w->interval_s = interval_s;
    atomic_store(&w->last_ms, mono_ms());
    if (pthread_create(&w->th, NULL, run, w) != 0) {
        VN_LOG(ERROR, "event=flush_watchdog_not_started");
        free(w);
        return NULL;
    }
    return w;
}

void vn_watchdog_kick(vn_watchdog_t *w)
{
    if (w)
        atomic_store(&w->last_ms, mono_ms());
}

bool vn_watchdog_healthy(const vn_watchdog_t *w) { return !w || !atomic_load(&((vn_watchdog_t *)w)->tripped); }

void vn_watchdog_stop(vn_watchdog_t *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->th, NULL);
    free(w);
}
