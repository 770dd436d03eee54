/*
 * forwarder.c - collect forwardable series into batches (flusher thread) and
 * send each batch as one SendMetricsV2 call (forwarder thread); see
 * forwarder.h for the contract.
 *
 * Handoff: a mutex-protected FIFO of at most VN_FORWARD_QUEUE batches and a
 * condition variable. The flusher holds the mutex only to link a batch in;
 * the forwarder holds it only to unlink one, never while sending.
 */
#include "forward/forwarder.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client.h"
#include "forward/hops.h"
#include "forward/metricpb_codec.h"

#define PATH_V2 "/forwardrpc.Forward/SendMetricsV2"

struct vn_forwarder {
    vn_forwarder_opts_t o;
    char address[300]; /* the one in use (forwarder thread's logs only) */
    char list[1024];   /* forward_address as configured (any thread's logs) */
    vn_h2_client_t *clients[VN_FORWARD_MAX_ADDRESSES];
    char addrs[VN_FORWARD_MAX_ADDRESSES][300];
    size_t naddr, cur; /* cur: the address calls go to until one fails */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    vn_forward_batch_t *head, *tail;
    size_t queued;
    bool stop;
    double stop_deadline; /* monotonic; set with stop */
    unsigned fail_streak; /* consecutive failed calls, to keep the log quiet */
};

vn_forward_batch_t *vn_forward_batch_new(void)
{
    vn_forward_batch_t *b = vn_xcalloc(1, sizeof *b);
    vn_buf_init(&b->body, VN_FORWARD_MAX_BATCH_BYTES);
    return b;
}

void vn_forward_batch_free(vn_forward_batch_t *b)
{
    if (!b)
        return;
    vn_buf_free(&b->body);
    free(b);
}

size_t vn_forward_batch_add_map(vn_forward_batch_t *b, vn_series_map_t *m)
{
    size_t added = 0;
    for (size_t i = 0; i < m->cap; i++) {
        vn_series_t *s = m->slots[i];
        vn_pb_metric_in_t in;
        if (!s || !vn_pb_metric_from_series(s, &in))
            continue;
        if (vn_pb_metric_append_frame(&in, VN_GRPC_MAX_MESSAGE, &b->body) == VN_OK)
            added++;
        else
            b->dropped++;
    }
    b->metrics += added;
    return added;
}

/* One call to the current address; on failure the next call goes to the next
 * address. A call that failed before its request was submitted (refused,
 * unreachable: nothing can have reached that peer) is retried at once on the
 * next address, within the same deadline; one that failed later is not, since
 * the peer may have merged part of it and a resend would count that twice. */
static vn_err_t call_with_failover(vn_forwarder_t *f, vn_forward_batch_t *b, double deadline, vn_grpc_result_t *res)
{
    char tick[32] = "";
    if (b->interval_ms > 0) {
        if (b->interval_ms % 1000)
            snprintf(tick, sizeof tick, "%lld.%03lld", (long long)(b->interval_ms / 1000),
                     (long long)(b->interval_ms % 1000));
        else
            snprintf(tick, sizeof tick, "%lld", (long long)(b->interval_ms / 1000));
    }
    vn_err_t e = VN_ERR_IO;
    for (size_t tries = 0; tries < f->naddr; tries++) {
        vn_h2_client_t *c = f->clients[f->cur];
        (void)vn_h2_client_set_header(c, VN_INTERVAL_HEADER, tick[0] ? tick : NULL);
        snprintf(f->address, sizeof f->address, "%s", f->addrs[f->cur]);
        e = vn_h2_client_call(c, PATH_V2, (const uint8_t *)vn_buf_ptr(&b->body), vn_buf_len(&b->body), deadline,
                              res);
        if (e == VN_OK || f->naddr == 1)
            return e;
        size_t from = f->cur;
        f->cur = (f->cur + 1) % f->naddr;
        vn_stats_add(&f->o.stats->forward_failovers, 1);
        VN_LOG(WARN, "event=forward_failover from=%s to=%s submitted=%s err=\"%s\"", f->addrs[from],
               f->addrs[f->cur], res->submitted ? "yes" : "no", vn_strerror(e));
        if (res->submitted || vn_clock_mono_s() >= deadline)
            return e;
    }
    return e;
}

/* Go's forward.error_total cause for a failed call (core/stats.h VN_FWD_CAUSE_*). */
static int failure_cause(vn_err_t e, const vn_grpc_result_t *res, double deadline)
{
    vn_err_t t = res->transport != VN_OK ? res->transport : e;
    if (t == VN_ERR_TIMEOUT || vn_clock_mono_s() >= deadline)
        return VN_FWD_CAUSE_DEADLINE;
    /* refused, unreachable or reset with no answer: the connection, not the call, failed */
    if (t == VN_ERR_IO && res->grpc_status < 0)
        return VN_FWD_CAUSE_UNAVAILABLE;
    return VN_FWD_CAUSE_SEND;
}

static void send_batch(vn_forwarder_t *f, vn_forward_batch_t *b)
{
    double t0 = vn_clock_mono_s();
    double deadline = t0 + f->o.deadline_s;
    pthread_mutex_lock(&f->mu);
    if (f->stop && f->stop_deadline < deadline)
        deadline = f->stop_deadline;
    pthread_mutex_unlock(&f->mu);
    vn_grpc_result_t res;
    vn_err_t e = call_with_failover(f, b, deadline, &res);
    uint64_t dur = (uint64_t)((vn_clock_mono_s() - t0) * 1e9);
    vn_stats_t *st = f->o.stats;
    atomic_store(&st->forward_duration_ns_last, dur);
    vn_stats_add(&st->forward_duration_ns_total, dur);
    if (e == VN_OK) {
        vn_stats_add(&st->forward_calls, 1);
        vn_stats_add(&st->forward_metrics_sent, b->metrics);
        if (f->fail_streak)
            VN_LOG(INFO, "event=forward_recovered addr=%s after_failures=%u", f->address, f->fail_streak);
        f->fail_streak = 0;
        VN_LOG(DEBUG, "event=forwarded addr=%s metrics=%zu bytes=%zu ms=%.1f", f->address, b->metrics,
               vn_buf_len(&b->body), (double)dur / 1e6);
        return;
    }
    /* the cause first: a reader that saw forward_failures finds its cause counted */
    vn_stats_add(&st->forward_failures_by_cause[failure_cause(e, &res, deadline)], 1);
    vn_stats_add(&st->forward_failures, 1);
    vn_stats_add(&st->forward_metrics_failed, b->metrics);
    /* The first failure and then one in 60 consecutive ones: a dead global must not flood the log. */
    if (f->fail_streak++ % 60 == 0)
        VN_LOG(WARN,
               "event=forward_failed addr=%s metrics=%zu err=\"%s\" http_status=%d grpc_status=%d "
               "grpc_message=%s failures_in_a_row=%u",
               f->address, b->metrics, vn_strerror(res.transport != VN_OK ? res.transport : e), res.http_status,
               res.grpc_status, VN_LOG_Q(res.grpc_message), f->fail_streak);
}

static void *forwarder_main(void *arg)
{
    vn_forwarder_t *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (!f->head && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        vn_forward_batch_t *b = f->head;
        if (b) {
            f->head = b->next;
            if (!f->head)
                f->tail = NULL;
            f->queued--;
        }
        bool late = f->stop && vn_clock_mono_s() >= f->stop_deadline;
        pthread_mutex_unlock(&f->mu);
        if (!b)
            break; /* stopping and nothing left */
        if (late) {
            vn_stats_add(&f->o.stats->forward_metrics_dropped, b->metrics);
        } else {
            send_batch(f, b);
        }
        vn_forward_batch_free(b);
    }
    return NULL;
}

vn_err_t vn_forwarder_start(const vn_forwarder_opts_t *opts, vn_forwarder_t **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    vn_forwarder_t *f = vn_xcalloc(1, sizeof *f);
    f->o = *opts;
    /* "a:1,b:2": several peers (e.g. every proxy), one in use at a time */
    for (const char *p = opts->address; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        if (f->naddr == VN_FORWARD_MAX_ADDRESSES || n >= sizeof f->addrs[0]) {
            snprintf(errbuf, errcap, "forward_address: more than %d addresses or one over %zu bytes",
                     VN_FORWARD_MAX_ADDRESSES, sizeof f->addrs[0] - 1);
            goto bad;
        }
        memcpy(f->addrs[f->naddr], p, n);
        f->addrs[f->naddr][n] = '\0';
        if (vn_h2_client_new(f->addrs[f->naddr], opts->tls, opts->server_name, &f->clients[f->naddr]) != VN_OK) {
            snprintf(errbuf, errcap, "forward_address %s: want host:port", f->addrs[f->naddr]);
            goto bad;
        }
        f->naddr++;
        p += n;
    }
    if (f->naddr == 0) {
        snprintf(errbuf, errcap, "forward_address \"%s\": want host:port", opts->address);
        goto bad;
    }
    /* Start on a per-process address, as a Service spreads its clients' connections. */
    f->cur = ((size_t)getpid() * 2654435761u >> 7) % f->naddr;
    snprintf(f->address, sizeof f->address, "%s", f->addrs[f->cur]);
    snprintf(f->list, sizeof f->list, "%s", opts->address);
    f->o.address = f->list;
    if (!(f->o.deadline_s > 0))
        f->o.deadline_s = 9.0;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->thread, NULL, forwarder_main, f) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=forwarder");
        abort();
    }
    *out = f;
    return VN_OK;
bad:
    for (size_t i = 0; i < f->naddr; i++)
        vn_h2_client_free(f->clients[i]);
    free(f);
    return VN_ERR_CONFIG;
}

void vn_forwarder_submit(vn_forwarder_t *f, vn_forward_batch_t *b)
{
    vn_stats_add(&f->o.stats->forward_metrics_dropped, b->dropped);
    if (b->metrics == 0) {
        vn_forward_batch_free(b);
        return;
    }
    pthread_mutex_lock(&f->mu);
    bool full = f->queued >= VN_FORWARD_QUEUE;
    if (!full) {
        b->next = NULL;
        if (f->tail)
            f->tail->next = b;
        else
            f->head = b;
        f->tail = b;
        f->queued++;
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (full) {
        vn_stats_add(&f->o.stats->forward_metrics_dropped, b->metrics);
        VN_LOG(WARN, "event=forward_queue_full addr=%s dropped_metrics=%zu", f->list, b->metrics);
        vn_forward_batch_free(b);
    }
}

void vn_forwarder_stop(vn_forwarder_t *f, double drain_s)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    f->stop_deadline = vn_clock_mono_s() + drain_s;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    for (size_t i = 0; i < f->naddr; i++)
        vn_h2_client_free(f->clients[i]);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
