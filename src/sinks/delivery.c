/*
 * delivery.c - the per-sink delivery queue (delivery.h; design notes in
 * docs/internals/delivery.md).
 *
 * State: one doubly linked list of payloads in enqueue order (oldest at the
 * head), guarded by `mu`. A payload is either waiting (ready at next_at) or in
 * flight (handed to the transport; its body is borrowed by the transport and
 * only the delivery thread touches it until the result comes back). Only the
 * delivery thread frees in-flight payloads; the enqueuer may evict waiting
 * ones.
 *
 * The delivery thread sleeps only inside transport->wait (curl_multi_poll),
 * woken by the transport's thread-safe wakeup on every enqueue and on stop, or
 * by its own deadline: the earliest retry time, expiry, or the end of the
 * shutdown grace period (at most 1 s, so a missed wakeup costs little).
 *
 * Outages: a transient failure (connect, timeout, 408, 429, 5xx) switches the
 * queue into outage mode: nothing but one probe is sent -- the oldest waiting
 * payload, alone, after the backoff (or the server's Retry-After on 429/503,
 * whichever is longer). The first accepted probe ends the outage and every
 * waiting payload becomes ready at once, so delivery resumes oldest first
 * within one backoff step (capped at one interval by vn_delivery_config) of
 * the server coming back, and a dead API gets one request per step rather than
 * one per queued payload. A payload is never sent twice unless its first
 * attempt failed. The age limit (default 55 min, under the hour Datadog
 * accepts points for) and the byte cap decide what an outage may cost.
 *
 * Logs never carry a URL (the Datadog API key is a query parameter), only the
 * payload label; response excerpts have every configured secret redacted.
 * Repeated failure lines are rate-limited to one per 10 s per kind with a
 * count of those suppressed.
 */
#include "sinks/delivery.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

#define LOG_EVERY_S 10.0
#define MAX_WAIT_MS 1000

typedef struct payload {
    struct payload *prev, *next;
    const char *what;
    char *url;
    char *hdr[VN_HTTP_MAX_HEADERS];
    size_t nhdr;
    char *method, *aws_sigv4, *userpwd, *connect_to; /* NULL unless the sink set them */
    char *body;
    size_t len;
    size_t nmetrics;
    double created, next_at;
    unsigned attempts;
    bool in_flight;
} payload_t;

typedef struct limiter {
    double last;
    uint64_t suppressed;
} limiter_t;

struct vn_delivery {
    vn_delivery_opts_t o; /* name and secrets point at our copies */
    char *name;
    char **secrets;
    vn_http_transport_t *t;
    pthread_t thread;
    pthread_mutex_t mu;
    payload_t *head, *tail;
    size_t bytes;     /* bodies held, waiting + in flight */
    size_t npayloads;
    unsigned inflight;
    bool stopping, aborted;
    double grace_deadline;
    uint64_t rng;
    vn_stats_sink_t own; /* counters until a slot is bound */
    vn_stats_sink_t *_Atomic st;
    limiter_t lim_full, lim_retry, lim_perm, lim_expired;
    /* Outage (see the top): after a transient failure only the oldest waiting
     * payload is sent, one at a time, at probe_at; the first success ends it. */
    bool outage;
    unsigned outage_fails; /* transient failures since the outage began: the backoff step */
    double probe_at;
    double outage_since;
};

static vn_stats_sink_t *st(vn_delivery_t *d)
{
    return atomic_load_explicit(&d->st, memory_order_acquire);
}

static void set_gauges(vn_delivery_t *d)
{
    vn_stats_sink_t *s = st(d);
    atomic_store_explicit(&s->queue_payloads, d->npayloads, memory_order_relaxed);
    atomic_store_explicit(&s->queue_bytes, d->bytes, memory_order_relaxed);
}

/* true when a line may be logged now; *suppressed gets the lines skipped since the last one */
static bool limiter_ok(limiter_t *l, double now, uint64_t *suppressed)
{
    if (l->last != 0 && now - l->last < LOG_EVERY_S) {
        l->suppressed++;
        return false;
    }
    *suppressed = l->suppressed;
    l->suppressed = 0;
    l->last = now;
    return true;
}

/* splitmix64: jitter only, so any seed will do */
static double rand01(vn_delivery_t *d)
{
    uint64_t z = (d->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Backoff before attempt n+1 after n failures: base * 2^(n-1), capped, then a
 * uniform factor in [0.5, 1) so many sinks failing together spread out. */
static double backoff_s(vn_delivery_t *d, unsigned attempts)
{
    double b = d->o.backoff_base_s;
    for (unsigned i = 1; i < attempts && b < d->o.backoff_max_s; i++)
        b *= 2;
    if (b > d->o.backoff_max_s)
        b = d->o.backoff_max_s;
    return b * (0.5 + 0.5 * rand01(d));
}

/* ------------------------------------------------------------ list */

static void list_remove(vn_delivery_t *d, payload_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        d->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        d->tail = p->prev;
    p->prev = p->next = NULL;
    d->bytes -= p->len;
    d->npayloads--;
}

static void list_append(vn_delivery_t *d, payload_t *p)
{
    p->prev = d->tail;
    p->next = NULL;
    if (d->tail)
        d->tail->next = p;
    else
        d->head = p;
    d->tail = p;
    d->bytes += p->len;
    d->npayloads++;
}

static void payload_free(payload_t *p)
{
    if (!p)
        return;
    free(p->url);
    free(p->method);
    free(p->aws_sigv4);
    free(p->userpwd);
    free(p->connect_to);
    for (size_t i = 0; i < p->nhdr; i++)
        free(p->hdr[i]);
    free(p->body);
    free(p);
}

/* ------------------------------------------------------------ outcomes (mu held) */

typedef enum { DROP_FULL, DROP_PERMANENT, DROP_EXPIRED, DROP_SHUTDOWN } drop_t;

static void count_drop(vn_delivery_t *d, const payload_t *p, drop_t why)
{
    vn_stats_sink_t *s = st(d);
    switch (why) {
    case DROP_FULL:
        vn_stats_add(&s->payloads_dropped_full, 1);
        vn_stats_add(&s->dropped, p->nmetrics);
        break;
    case DROP_SHUTDOWN:
        vn_stats_add(&s->payloads_dropped_shutdown, 1);
        vn_stats_add(&s->dropped, p->nmetrics);
        break;
    case DROP_PERMANENT:
        vn_stats_add(&s->payloads_dropped_permanent, 1);
        vn_stats_add(&s->delivery_failed, p->nmetrics);
        break;
    case DROP_EXPIRED:
        vn_stats_add(&s->payloads_dropped_expired, 1);
        vn_stats_add(&s->delivery_failed, p->nmetrics);
        break;
    }
}

/* Writes a printable, quoted-safe excerpt of a response body into out:
 * secrets replaced by <redacted> (also a secret's prefix cut off at the end of
 * the excerpt), control bytes, '"' and '\\' escaped. */
static void safe_excerpt(const vn_delivery_t *d, const char *in, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 12 < cap;) {
        bool redacted = false;
        for (size_t k = 0; k < d->o.nsecrets; k++) {
            size_t sl = strlen(d->secrets[k]);
            size_t avail = len - i;
            size_t cmp = sl < avail ? sl : avail;
            if (sl >= 4 && cmp >= 4 && memcmp(in + i, d->secrets[k], cmp) == 0) {
                memcpy(out + o, "<redacted>", 10);
                o += 10;
                i += cmp;
                redacted = true;
                break;
            }
        }
        if (redacted)
            continue;
        unsigned char c = (unsigned char)in[i++];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static bool is_transient_status(int status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/* The server answered again: every waiting payload is ready now, oldest first. */
static void end_outage(vn_delivery_t *d, double now)
{
    VN_LOG(INFO, "event=sink_delivery_resumed sink=%s outage_s=%.1f failures=%u waiting=%zu", d->name,
           now - d->outage_since, d->outage_fails, d->npayloads);
    d->outage = false;
    d->outage_fails = 0;
    for (payload_t *q = d->head; q; q = q->next)
        if (!q->in_flight)
            q->next_at = now;
}

/* A transient failure: starts or extends the outage; returns the delay to the
 * next probe (backoff step, or a longer Retry-After of a 429/503). */
static double outage_step(vn_delivery_t *d, const vn_http_result_t *r, double now)
{
    if (!d->outage) {
        d->outage = true;
        d->outage_since = now;
        d->probe_at = now;
    }
    d->outage_fails++;
    double delay = backoff_s(d, d->outage_fails);
    if (r->outcome == VN_HTTP_RESPONSE && (r->status == 429 || r->status == 503) && r->retry_after_s > delay)
        delay = r->retry_after_s;
    if (now + delay > d->probe_at)
        d->probe_at = now + delay;
    return d->probe_at - now;
}

static void on_result(vn_delivery_t *d, payload_t *p, const vn_http_result_t *r, double now)
{
    p->in_flight = false;
    d->inflight--;
    vn_stats_sink_t *s = st(d);
    uint64_t supp = 0;
    if (r->outcome == VN_HTTP_RESPONSE && r->status >= 200 && r->status <= 299) {
        vn_stats_add(&s->payloads_sent, 1);
        vn_stats_add(&s->payload_bytes_sent, p->len);
        vn_stats_add(&s->delivered, p->nmetrics);
        list_remove(d, p);
        payload_free(p);
        if (d->outage)
            end_outage(d, now);
        return;
    }
    if (r->outcome == VN_HTTP_ABORTED || d->aborted) {
        count_drop(d, p, DROP_SHUTDOWN);
        list_remove(d, p);
        payload_free(p);
        return;
    }
    bool transient = r->outcome == VN_HTTP_CONNECT || r->outcome == VN_HTTP_TIMEOUT || r->outcome == VN_HTTP_IO ||
                     (r->outcome == VN_HTTP_RESPONSE && is_transient_status(r->status));
    if (!transient) {
        char ex[VN_HTTP_EXCERPT_MAX * 4 + 16];
        safe_excerpt(d, r->excerpt, r->excerpt_len, ex, sizeof ex);
        if (limiter_ok(&d->lim_perm, now, &supp))
            VN_LOG(WARN,
                   "event=sink_payload_rejected sink=%s what=%s outcome=%s status=%d bytes=%zu metrics=%zu "
                   "response=\"%s\" error=\"%s\" suppressed=%llu msg=\"dropped, not retried\"",
                   d->name, p->what, vn_http_outcome_name(r->outcome), r->status, p->len, p->nmetrics, ex,
                   r->error, (unsigned long long)supp);
        count_drop(d, p, DROP_PERMANENT);
        list_remove(d, p);
        payload_free(p);
        if (d->outage)
            end_outage(d, now); /* the server answers: the rest need not wait for a probe */
        return;
    }
    vn_stats_add(&s->transport_errors, 1);
    p->attempts++;
    double delay = outage_step(d, r, now);
    /* While draining for shutdown a retry may still beat the grace deadline;
     * otherwise a retry that cannot start within the age limit is pointless. */
    if (!d->stopping && now + delay > p->created + d->o.max_age_s) {
        if (limiter_ok(&d->lim_expired, now, &supp))
            VN_LOG(WARN,
                   "event=sink_payload_expired sink=%s what=%s outcome=%s status=%d attempts=%u age_s=%.1f "
                   "suppressed=%llu",
                   d->name, p->what, vn_http_outcome_name(r->outcome), r->status, p->attempts, now - p->created,
                   (unsigned long long)supp);
        count_drop(d, p, DROP_EXPIRED);
        list_remove(d, p);
        payload_free(p);
        return;
    }
    p->next_at = d->probe_at;
    vn_stats_add(&s->payloads_retried, 1);
    if (limiter_ok(&d->lim_retry, now, &supp))
        VN_LOG(WARN,
               "event=sink_payload_retry sink=%s what=%s outcome=%s status=%d attempt=%u retry_in_ms=%.0f "
               "error=\"%s\" suppressed=%llu",
               d->name, p->what, vn_http_outcome_name(r->outcome), r->status, p->attempts, delay * 1e3, r->error,
               (unsigned long long)supp);
}

/* Drops waiting payloads past their age limit. */
static void expire_waiting(vn_delivery_t *d, double now)
{
    size_t n = 0;
    for (payload_t *p = d->head, *next; p; p = next) {
        next = p->next;
        if (p->in_flight || now - p->created <= d->o.max_age_s)
            continue;
        count_drop(d, p, DROP_EXPIRED);
        list_remove(d, p);
        payload_free(p);
        n++;
    }
    uint64_t supp = 0;
    if (n && limiter_ok(&d->lim_expired, now, &supp))
        VN_LOG(WARN, "event=sink_payload_expired sink=%s payloads=%zu max_age_s=%g suppressed=%llu", d->name, n,
               d->o.max_age_s, (unsigned long long)supp);
}

static size_t drop_waiting(vn_delivery_t *d, drop_t why)
{
    size_t n = 0;
    for (payload_t *p = d->head, *next; p; p = next) {
        next = p->next;
        if (p->in_flight)
            continue;
        count_drop(d, p, why);
        list_remove(d, p);
        payload_free(p);
        n++;
    }
    return n;
}

/* ------------------------------------------------------------ thread */

static void *delivery_main(void *arg)
{
    vn_delivery_t *d = arg;
    vn_http_transport_t *t = d->t;
    payload_t *batch[VN_DELIVERY_MAX_IN_FLIGHT_LIMIT];
    pthread_mutex_lock(&d->mu);
    for (;;) {
        double now = vn_clock_mono_s();
        if (d->stopping) {
            if (!d->head)
                break;
            if (now >= d->grace_deadline && !d->aborted) {
                size_t n = drop_waiting(d, DROP_SHUTDOWN);
                d->aborted = true;
                if (n || d->inflight)
                    VN_LOG(WARN, "event=sink_shutdown_dropped sink=%s waiting=%zu in_flight=%u", d->name, n,
                           d->inflight);
                t->ops->abort_all(t); /* results come back through next_done below */
            }
            if (!d->head)
                break; /* everything left was waiting: nothing to wait for */
        }
        if (!d->aborted)
            expire_waiting(d, now);

        size_t nb = 0;
        double wake = now + MAX_WAIT_MS / 1e3;
        for (payload_t *p = d->head; p && !d->aborted; p = p->next) {
            if (p->in_flight)
                continue;
            if (d->outage) {
                /* one probe at a time: the oldest waiting payload, once due */
                double expiry = p->created + d->o.max_age_s;
                if (d->inflight == 0 && d->probe_at <= now) {
                    p->in_flight = true;
                    d->inflight++;
                    batch[nb++] = p;
                } else if (d->inflight == 0 && d->probe_at < wake) {
                    wake = d->probe_at;
                }
                if (expiry < wake)
                    wake = expiry;
                break;
            }
            if (p->next_at <= now && d->inflight < d->o.max_in_flight) {
                p->in_flight = true;
                d->inflight++;
                batch[nb++] = p;
                continue;
            }
            /* ready but no free slot: a completion ends the wait; else wake for the retry */
            if (p->next_at > now && p->next_at < wake)
                wake = p->next_at;
            double expiry = p->created + d->o.max_age_s;
            if (expiry < wake)
                wake = expiry;
        }
        if (d->stopping && !d->aborted && d->grace_deadline < wake)
            wake = d->grace_deadline;
        set_gauges(d);
        pthread_mutex_unlock(&d->mu);

        long timeout_ms = (long)(d->o.request_timeout_s * 1e3);
        for (size_t i = 0; i < nb; i++) {
            payload_t *p = batch[i];
            vn_http_request_t req = {.url = p->url, .body = p->body, .body_len = p->len, .timeout_ms = timeout_ms};
            for (size_t h = 0; h < p->nhdr; h++)
                req.headers[h] = p->hdr[h];
            req.nheaders = p->nhdr;
            req.method = p->method;
            req.aws_sigv4 = p->aws_sigv4;
            req.userpwd = p->userpwd;
            req.connect_to = p->connect_to;
            if (t->ops->start(t, &req, p) != VN_OK) {
                pthread_mutex_lock(&d->mu); /* the transport is full: try again next round */
                p->in_flight = false;
                d->inflight--;
                pthread_mutex_unlock(&d->mu);
            }
        }
        double left = wake - vn_clock_mono_s();
        int ms = left <= 0 ? 0 : left * 1e3 >= MAX_WAIT_MS ? MAX_WAIT_MS : (int)ceil(left * 1e3);
        t->ops->wait(t, ms);

        pthread_mutex_lock(&d->mu);
        void *tag;
        vn_http_result_t res;
        now = vn_clock_mono_s();
        while (t->ops->next_done(t, &tag, &res))
            on_result(d, tag, &res, now);
    }
    set_gauges(d);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ------------------------------------------------------------ public */

vn_delivery_t *vn_delivery_new(const vn_delivery_opts_t *o, vn_http_transport_t *transport)
{
    vn_delivery_t *d = vn_xcalloc(1, sizeof *d);
    d->o = *o;
    d->name = vn_xstrdup(o->name ? o->name : "sink");
    d->o.name = d->name;
    if (o->nsecrets) {
        d->secrets = vn_xcalloc(o->nsecrets, sizeof *d->secrets);
        for (size_t i = 0; i < o->nsecrets; i++)
            d->secrets[i] = vn_xstrdup(o->secrets[i] ? o->secrets[i] : "");
    }
    d->o.secrets = (const char *const *)d->secrets;
    if (d->o.max_in_flight < 1)
        d->o.max_in_flight = 1;
    if (d->o.max_in_flight > VN_DELIVERY_MAX_IN_FLIGHT_LIMIT)
        d->o.max_in_flight = VN_DELIVERY_MAX_IN_FLIGHT_LIMIT;
    if (d->o.backoff_base_s <= 0)
        d->o.backoff_base_s = VN_DELIVERY_BACKOFF_BASE_S;
    if (d->o.backoff_max_s < d->o.backoff_base_s)
        d->o.backoff_max_s = d->o.backoff_base_s;
    if (d->o.request_timeout_s <= 0)
        d->o.request_timeout_s = 9.0;
    if (d->o.max_age_s <= 0)
        d->o.max_age_s = 30.0;
    if (!d->o.max_queue_bytes)
        d->o.max_queue_bytes = VN_DELIVERY_DEFAULT_MAX_QUEUE_BYTES;
    if (!transport) {
        vn_http_client_opts_t co = {.max_connections = d->o.max_in_flight,
                                    .idle_timeout_s = (long)ceil(d->o.idle_conn_timeout_s),
                                    .tls_ca_file = o->tls_ca_file,
                                    .tls_cert_file = o->tls_cert_file,
                                    .tls_key_file = o->tls_key_file};
        transport = vn_http_client_new(&co);
    }
    d->t = transport;
    d->o.tls_ca_file = d->o.tls_cert_file = d->o.tls_key_file = NULL; /* borrowed until here only */
    d->rng = (uint64_t)(uintptr_t)d ^ (uint64_t)(vn_clock_mono_s() * 1e9);
    atomic_store(&d->st, &d->own);
    pthread_mutex_init(&d->mu, NULL);
    if (pthread_create(&d->thread, NULL, delivery_main, d) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=sink_delivery sink=%s", d->name);
        abort();
    }
    return d;
}

void vn_delivery_free(vn_delivery_t *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    d->grace_deadline = vn_clock_mono_s() + (d->o.drain_grace_s > 0 ? d->o.drain_grace_s : 0);
    pthread_mutex_unlock(&d->mu);
    d->t->ops->wakeup(d->t);
    pthread_join(d->thread, NULL);
    /* The thread only exits with an empty queue; nothing is left to count. */
    d->t->ops->destroy(d->t);
    pthread_mutex_destroy(&d->mu);
    for (size_t i = 0; i < d->o.nsecrets; i++)
        free(d->secrets[i]);
    free(d->secrets);
    free(d->name);
    free(d);
}

vn_err_t vn_delivery_enqueue(vn_delivery_t *d, vn_delivery_req_t *r)
{
    char *body = r->body;
    r->body = NULL;
    double now = vn_clock_mono_s();
    payload_t *p = vn_xcalloc(1, sizeof *p);
    p->what = r->what ? r->what : "payload";
    p->url = vn_xstrdup(r->url ? r->url : "");
    p->nhdr = r->nheaders < VN_HTTP_MAX_HEADERS ? r->nheaders : VN_HTTP_MAX_HEADERS;
    for (size_t i = 0; i < p->nhdr; i++)
        p->hdr[i] = vn_xstrdup(r->headers[i] ? r->headers[i] : "");
    p->method = r->method ? vn_xstrdup(r->method) : NULL;
    p->aws_sigv4 = r->aws_sigv4 ? vn_xstrdup(r->aws_sigv4) : NULL;
    p->userpwd = r->userpwd ? vn_xstrdup(r->userpwd) : NULL;
    p->connect_to = r->connect_to ? vn_xstrdup(r->connect_to) : NULL;
    p->body = body;
    p->len = r->len;
    p->nmetrics = r->nmetrics;
    p->created = p->next_at = now;

    pthread_mutex_lock(&d->mu);
    size_t evicted = 0, waiting = 0;
    for (payload_t *q = d->head; q; q = q->next)
        waiting += q->in_flight ? 0 : q->len;
    /* Evict only when that makes room: a body that cannot fit even then (the
     * rest is in flight, or it alone is over the cap) is refused instead. */
    bool can_fit = !d->stopping && d->bytes - waiting + p->len <= d->o.max_queue_bytes;
    /* Oldest waiting bodies make room first; in-flight ones belong to the transport. */
    for (payload_t *q = d->head, *next; can_fit && q && d->bytes + p->len > d->o.max_queue_bytes; q = next) {
        next = q->next;
        if (q->in_flight)
            continue;
        count_drop(d, q, DROP_FULL);
        list_remove(d, q);
        payload_free(q);
        evicted++;
    }
    bool fits = can_fit && d->bytes + p->len <= d->o.max_queue_bytes;
    if (fits)
        list_append(d, p);
    else
        count_drop(d, p, d->stopping ? DROP_SHUTDOWN : DROP_FULL);
    uint64_t supp = 0;
    if ((evicted || !fits) && limiter_ok(&d->lim_full, now, &supp))
        VN_LOG(WARN,
               "event=sink_queue_full sink=%s evicted=%zu refused=%d max_queue_bytes=%zu held_bytes=%zu "
               "suppressed=%llu msg=\"oldest payloads dropped\"",
               d->name, evicted, fits ? 0 : 1, d->o.max_queue_bytes, d->bytes, (unsigned long long)supp);
    set_gauges(d);
    pthread_mutex_unlock(&d->mu);
    if (!fits) {
        payload_free(p);
        return VN_ERR_TOO_LARGE;
    }
    d->t->ops->wakeup(d->t);
    return VN_OK;
}

vn_err_t vn_delivery_emit(void *ctx, vn_delivery_req_t *r)
{
    return vn_delivery_enqueue(ctx, r);
}

void vn_delivery_out_note(vn_delivery_out_t *out, vn_err_t err)
{
    if (err != VN_OK && out->first_err == VN_OK)
        out->first_err = err;
}

void vn_delivery_out_send(vn_delivery_out_t *out, vn_delivery_req_t *r)
{
    vn_delivery_out_note(out, out->emit(out->ctx, r));
}

void vn_delivery_bind_stats(vn_delivery_t *d, vn_stats_sink_t *slot)
{
    if (!d || !slot || st(d) == slot)
        return;
    pthread_mutex_lock(&d->mu);
    vn_stats_sink_t *o = &d->own;
    /* counts made before binding (normally none: nothing is queued before the first flush) */
    vn_stats_add(&slot->payloads_sent, vn_stats_get(&o->payloads_sent));
    vn_stats_add(&slot->payloads_retried, vn_stats_get(&o->payloads_retried));
    vn_stats_add(&slot->payloads_dropped_full, vn_stats_get(&o->payloads_dropped_full));
    vn_stats_add(&slot->payloads_dropped_permanent, vn_stats_get(&o->payloads_dropped_permanent));
    vn_stats_add(&slot->payloads_dropped_expired, vn_stats_get(&o->payloads_dropped_expired));
    vn_stats_add(&slot->payloads_dropped_shutdown, vn_stats_get(&o->payloads_dropped_shutdown));
    vn_stats_add(&slot->payload_bytes_sent, vn_stats_get(&o->payload_bytes_sent));
    vn_stats_add(&slot->delivered, vn_stats_get(&o->delivered));
    vn_stats_add(&slot->delivery_failed, vn_stats_get(&o->delivery_failed));
    vn_stats_add(&slot->dropped, vn_stats_get(&o->dropped));
    vn_stats_add(&slot->transport_errors, vn_stats_get(&o->transport_errors));
    atomic_store_explicit(&d->st, slot, memory_order_release);
    set_gauges(d);
    pthread_mutex_unlock(&d->mu);
}

const vn_stats_sink_t *vn_delivery_stats(const vn_delivery_t *d)
{
    return atomic_load_explicit(&((vn_delivery_t *)d)->st, memory_order_acquire);
}

/* ------------------------------------------------------------ config */

static vn_err_t cfg_err(char *errbuf, size_t errcap, const char *sink, const char *key, const char *val,
                        const char *want)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sink \"%s\": config key %s: invalid value \"%s\" (%s)", sink, key, val, want);
    return VN_ERR_CONFIG;
}

static bool parse_u64(const char *s, unsigned long long *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

vn_err_t vn_delivery_config(const vn_sink_config_t *sc, const vn_config_t *cfg, const char *sink_name,
                            vn_delivery_opts_t *o, char *errbuf, size_t errcap)
{
    double iv = cfg && cfg->interval_s > 0 ? cfg->interval_s : 10.0;
    memset(o, 0, sizeof *o);
    o->max_queue_bytes = VN_DELIVERY_DEFAULT_MAX_QUEUE_BYTES;
    o->max_age_s = VN_DELIVERY_DEFAULT_AGE_INTERVALS * iv > VN_DELIVERY_DEFAULT_MAX_AGE_S
                       ? VN_DELIVERY_DEFAULT_AGE_INTERVALS * iv
                       : VN_DELIVERY_DEFAULT_MAX_AGE_S;
    o->request_timeout_s = 0.9 * iv;
    o->backoff_base_s = VN_DELIVERY_BACKOFF_BASE_S;
    /* resume within one interval of the server coming back */
    o->backoff_max_s = iv < VN_DELIVERY_BACKOFF_MAX_S ? iv : VN_DELIVERY_BACKOFF_MAX_S;
    if (o->backoff_max_s < o->backoff_base_s)
        o->backoff_max_s = o->backoff_base_s;
    o->max_in_flight = VN_DELIVERY_DEFAULT_MAX_IN_FLIGHT;
    o->drain_grace_s = iv < VN_DELIVERY_MAX_GRACE_S ? iv : VN_DELIVERY_MAX_GRACE_S;
    o->idle_conn_timeout_s = 2 * iv;
    const char *name = sink_name ? sink_name : "?";
    const char *v;
    unsigned long long u;
    double dur;
    if ((v = vn_sink_config_get(sc, "max_queue_bytes")) && *v) {
        if (!parse_u64(v, &u) || u < 1024 || u > ((unsigned long long)1 << 40))
            return cfg_err(errbuf, errcap, name, "max_queue_bytes", v, "bytes, 1024 .. 1 TiB");
        o->max_queue_bytes = (size_t)u;
    }
    if ((v = vn_sink_config_get(sc, "max_payload_age")) && *v) {
        if (vn_config_parse_duration(v, &dur) != VN_OK || dur <= 0)
            return cfg_err(errbuf, errcap, name, "max_payload_age", v, "a positive Go duration, e.g. 30s");
        o->max_age_s = dur;
    }
    if ((v = vn_sink_config_get(sc, "request_timeout")) && *v) {
        if (vn_config_parse_duration(v, &dur) != VN_OK || dur <= 0)
            return cfg_err(errbuf, errcap, name, "request_timeout", v, "a positive Go duration, e.g. 9s");
        o->request_timeout_s = dur;
    }
    if ((v = vn_sink_config_get(sc, "max_in_flight")) && *v) {
        if (!parse_u64(v, &u) || u < 1 || u > VN_DELIVERY_MAX_IN_FLIGHT_LIMIT)
            return cfg_err(errbuf, errcap, name, "max_in_flight", v, "1 .. 64");
        o->max_in_flight = (unsigned)u;
    }
    /* TLS files: checked readable here so a typo is a config error, not a failed request per flush */
    const char *const tls_keys[3] = {"tls_ca_file", "tls_cert_file", "tls_key_file"};
    const char **tls_out[3] = {&o->tls_ca_file, &o->tls_cert_file, &o->tls_key_file};
    for (int i = 0; i < 3; i++) {
        if (!(v = vn_sink_config_get(sc, tls_keys[i])) || !*v)
            continue;
        if (access(v, R_OK) != 0)
            return cfg_err(errbuf, errcap, name, tls_keys[i], v, "a readable PEM file");
        *tls_out[i] = v;
    }
    if (!o->tls_cert_file != !o->tls_key_file)
        return cfg_err(errbuf, errcap, name, o->tls_cert_file ? "tls_cert_file" : "tls_key_file",
                       o->tls_cert_file ? o->tls_cert_file : o->tls_key_file,
                       "tls_cert_file and tls_key_file go together");
    return VN_OK;
}

void vn_delivery_config_list(const vn_sink_config_t *sc, const char *key, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const vn_strlist_t *l = vn_sink_config_list(sc, key);
    if (l) {
        if (!l->n)
            return;
        *out = vn_xcalloc(l->n, sizeof **out);
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i] && l->v[i][0])
                (*out)[(*n)++] = vn_xstrdup(l->v[i]);
        return;
    }
    const char *v = vn_sink_config_get(sc, key);
    if (!v || !v[0])
        return;
    size_t items = 1;
    for (const char *p = v; *p; p++)
        items += *p == ',';
    *out = vn_xcalloc(items, sizeof **out);
    for (const char *p = v;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len)
            (*out)[(*n)++] = vn_xstrndup(p, len);
        if (!c)
            break;
        p = c + 1;
    }
}

bool vn_delivery_strv_prefixes(const char *s, char *const *prefixes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

void vn_delivery_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

