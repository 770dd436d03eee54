/* periodic.c - fixed-rate callback thread (see periodic.h). */
#include "telemetry/periodic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/xalloc.h"

struct vn_periodic {
    double interval_s;
    void (*fn)(void *);
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    pthread_t th;
};

static void *run(void *arg)
{
    vn_periodic_t *p = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        long ns = (long)((p->interval_s - (double)(long)p->interval_s) * 1e9);
        next.tv_sec += (time_t)p->interval_s;
        next.tv_nsec += ns;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &next) == 0)
            ;
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ctx);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    p->fn(p->ctx);
    return NULL;
}

vn_periodic_t *vn_periodic_start(double interval_s, void (*fn)(void *ctx), void *ctx)
{
    vn_periodic_t *p = vn_xcalloc(1, sizeof *p);
    p->interval_s = interval_s > 0.001 ? interval_s : 10;
    p->fn = fn;
    p->ctx = ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->th, NULL, run, p) != 0) {
        VN_LOG(ERROR, "event=periodic_thread_failed");
        free(p);
        return NULL;
    }
    return p;
}

void vn_periodic_stop(vn_periodic_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
