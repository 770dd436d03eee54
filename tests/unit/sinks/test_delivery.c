/*
 * test_delivery.c - sinks/delivery (queue, retry, caps, expiry, shutdown) on an
 * in-process fake transport. sinks/http_client against a real local server is
 * tested in test_http_client.c.
 *
 * delivery.c is #included (h2o style) so the excerpt redaction and the backoff
 * schedule can be checked directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sinks/delivery.c"

#include "delivery_fixture.h"

/* ---------------------------------------------------------------- fake transport */

typedef struct fresp {
    vn_http_outcome_t outcome;
    int status;
    const char *body;
    double delay_s; /* answer after this long */
    bool hang;      /* never answer: ends by the request timeout or abort_all */
    double retry_after_s; /* the response's parsed Retry-After */
} fresp_t;

typedef struct fflight {
    void *tag;
    double due;       /* when it completes */
    fresp_t r;        /* what it completes with */
} fflight_t;

typedef struct fdone {
    void *tag;
    vn_http_result_t res;
} fdone_t;

typedef struct frec {
    char url[256];
    char hdr[VN_HTTP_MAX_HEADERS][128];
    size_t nhdr;
    char body[256];
    size_t len;
} frec_t;

typedef struct fake {
    vn_http_transport_t base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken;
    fresp_t script[64];
    size_t nscript, next;
    fresp_t dflt;
    fflight_t fl[64];
    size_t nfl, max_fl;
    fdone_t done[256];
    size_t ndone;
    frec_t rec[256];
    size_t nrec;
} fake_t;

static void fake_complete(fake_t *f, size_t i, vn_http_outcome_t outcome, int status, const char *body)
{
    fdone_t *d = &f->done[f->ndone++];
    memset(d, 0, sizeof *d);
    d->tag = f->fl[i].tag;
    d->res.outcome = outcome;
    d->res.status = status;
    if (body) {
        size_t n = strlen(body);
        if (n > VN_HTTP_EXCERPT_MAX)
            n = VN_HTTP_EXCERPT_MAX;
        memcpy(d->res.excerpt, body, n);
        d->res.excerpt_len = n;
    }
    f->fl[i] = f->fl[--f->nfl];
}

static vn_err_t fake_start(vn_http_transport_t *t, const vn_http_request_t *req, void *tag)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    frec_t *r = &f->rec[f->nrec++ % 256];
    snprintf(r->url, sizeof r->url, "%s", req->url);
    r->nhdr = req->nheaders;
    for (size_t i = 0; i < req->nheaders; i++)
        snprintf(r->hdr[i], sizeof r->hdr[i], "%s", req->headers[i]);
    r->len = req->body_len < sizeof r->body - 1 ? req->body_len : sizeof r->body - 1;
    memcpy(r->body, req->body, r->len);
    r->body[r->len] = '\0';
    fresp_t resp = f->next < f->nscript ? f->script[f->next++] : f->dflt;
    fflight_t *fl = &f->fl[f->nfl++];
    fl->tag = tag;
    fl->r = resp;
    double now = tnow();
    fl->due = resp.hang ? now + (double)req->timeout_ms / 1e3 : now + resp.delay_s;
    if (resp.hang)
        fl->r = (fresp_t){.outcome = VN_HTTP_TIMEOUT};
    if (f->nfl > f->max_fl)
        f->max_fl = f->nfl;
    pthread_mutex_unlock(&f->mu);
    return VN_OK;
}

static void fake_settle(fake_t *f, double now)
{
    for (size_t i = 0; i < f->nfl;) {
        if (f->fl[i].due <= now) {
            double ra = f->fl[i].r.retry_after_s;
            fake_complete(f, i, f->fl[i].r.outcome, f->fl[i].r.status, f->fl[i].r.body);
            f->done[f->ndone - 1].res.retry_after_s = ra;
        } else
            i++;
    }
}

static void fake_wait(vn_http_transport_t *t, int timeout_ms)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    double end = tnow() + timeout_ms / 1e3;
    for (;;) {
        double now = tnow();
        fake_settle(f, now);
        if (f->ndone || f->woken || now >= end)
            break;
        double until = end;
        for (size_t i = 0; i < f->nfl; i++)
            if (f->fl[i].due < until)
                until = f->fl[i].due;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = until - now + 0.001;
        ts.tv_sec += (time_t)wait;
        ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    }
    f->woken = false;
    pthread_mutex_unlock(&f->mu);
}

static bool fake_next_done(vn_http_transport_t *t, void **tag, vn_http_result_t *res)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    bool any = f->ndone > 0;
    if (any) {
        *tag = f->done[0].tag;
        *res = f->done[0].res;
        memmove(&f->done[0], &f->done[1], (f->ndone - 1) * sizeof f->done[0]);
        f->ndone--;
    }
    pthread_mutex_unlock(&f->mu);
    return any;
}

static void fake_wakeup(vn_http_transport_t *t)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    f->woken = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fake_abort_all(vn_http_transport_t *t)
{
    fake_t *f = (fake_t *)t;
    pthread_mutex_lock(&f->mu);
    while (f->nfl)
        fake_complete(f, 0, VN_HTTP_ABORTED, 0, NULL);
    pthread_mutex_unlock(&f->mu);
}

static void fake_destroy(vn_http_transport_t *t)
{
    (void)t; /* the test owns the fake and reads it after vn_delivery_free */
}

static const vn_http_transport_ops_t fake_ops = {fake_start, fake_wait, fake_next_done, fake_wakeup,
                                                 fake_abort_all, fake_destroy};

static fake_t *fake_new(void)
{
    fake_t *f = calloc(1, sizeof *f);
    f->base.ops = &fake_ops;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->dflt = (fresp_t){.outcome = VN_HTTP_RESPONSE, .status = 202};
    return f;
}

static void fake_free(fake_t *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static void fake_script(fake_t *f, const fresp_t *r, size_t n)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < n; i++)
        f->script[f->nscript++] = r[i];
    pthread_mutex_unlock(&f->mu);
}

static size_t fake_nrec(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nrec;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static vn_err_t put(vn_delivery_t *d, const char *body, size_t nmetrics)
{
    vn_delivery_req_t r = {.what = "series", .url = "http://x/api?api_key=K", .len = strlen(body), .nmetrics = nmetrics};
    r.body = vn_xstrdup(body);
    r.headers[r.nheaders++] = "Content-Type: application/json";
    r.headers[r.nheaders++] = "Content-Encoding: deflate";
    vn_err_t err = vn_delivery_enqueue(d, &r);
    assert_null(r.body);
    return err;
}

/* ---------------------------------------------------------------- delivery cases */

static void test_delivery__sends_copies_and_counts(void **state)
{
    (void)state;
    fake_t *f = fake_new();
    vn_delivery_opts_t o = fast_opts();
    vn_delivery_t *d = vn_delivery_new(&o, &f->base);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    assert_int_equal(put(d, "one", 2), VN_OK);
    vn_delivery_bind_stats(d, &slot); /* counts before binding carry over */
    assert_int_equal(put(d, "two", 3), VN_OK);
    assert_int_equal(put(d, "three", 5), VN_OK);
    WAIT_FOR(GET(&slot, payloads_sent) == 3);
    assert_ptr_equal(vn_delivery_stats(d), &slot);
    assert_int_equal(GET(&slot, payload_bytes_sent), 11);
    assert_int_equal(GET(&slot, delivered), 10);
    assert_int_equal(GET(&slot, payloads_retried), 0);
    WAIT_FOR(GET(&slot, queue_payloads) == 0);
    assert_int_equal(GET(&slot, queue_bytes), 0);
    vn_delivery_free(d);
    assert_int_equal(f->nrec, 3);
    assert_string_equal(f->rec[0].url, "http://x/api?api_key=K");
    assert_int_equal(f->rec[0].nhdr, 2);
    assert_string_equal(f->rec[0].hdr[1], "Content-Encoding: deflate");
    /* oldest first */
    assert_string_equal(f->rec[0].body, "one");
    assert_string_equal(f->rec[1].body, "two");
    assert_string_equal(f->rec[2].body, "three");
    fake_free(f);
}

static void test_delivery__retries_transient_failures(void **state)
{
    (void)state;
    static const struct {
        fresp_t fail;
    } cases[] = {
        {{.outcome = VN_HTTP_RESPONSE, .status = 503}}, {{.outcome = VN_HTTP_RESPONSE, .status = 500}},
        {{.outcome = VN_HTTP_RESPONSE, .status = 429}}, {{.outcome = VN_HTTP_RESPONSE, .status = 408}},
        {{.outcome = VN_HTTP_CONNECT}},                {{.outcome = VN_HTTP_TIMEOUT}},
        {{.outcome = VN_HTTP_IO}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fake_t *f = fake_new();
        fake_script(f, (fresp_t[]){cases[c].fail, cases[c].fail}, 2);
        vn_delivery_opts_t o = fast_opts();
        vn_delivery_t *d = vn_delivery_new(&o, &f->base);
        vn_stats_sink_t slot;
        memset(&slot, 0, sizeof slot);
        vn_delivery_bind_stats(d, &slot);
        double t0 = tnow();
        assert_int_equal(put(d, "payload", 7), VN_OK);
        WAIT_FOR(GET(&slot, payloads_sent) == 1);
        double took = tnow() - t0;
        assert_int_equal(GET(&slot, payloads_retried), 2);
        assert_int_equal(GET(&slot, transport_errors), 2);
        assert_int_equal(GET(&slot, delivered), 7);
        assert_int_equal(GET(&slot, payloads_dropped_permanent), 0);
        /* backoff: >= base/2 then >= base (jitter in [0.5, 1)) */
        assert_true(took >= 0.01 + 0.02);
        vn_delivery_free(d);
        assert_int_equal(f->nrec, 3);
        for (size_t i = 0; i < 3; i++)
            assert_string_equal(f->rec[i].body, "payload");
        fake_free(f);
    }
}

static void test_delivery__gives_up_on_permanent_errors(void **state)
{
    (void)state;
    static const fresp_t perm[] = {
        {.outcome = VN_HTTP_RESPONSE, .status = 400, .body = "{\"errors\":[\"bad\"]}"},
        {.outcome = VN_HTTP_RESPONSE, .status = 403},
        {.outcome = VN_HTTP_RESPONSE, .status = 404},
        {.outcome = VN_HTTP_RESPONSE, .status = 413},
        {.outcome = VN_HTTP_RESPONSE, .status = 301},
        {.outcome = VN_HTTP_UNUSABLE},
    };
    for (size_t c = 0; c < sizeof perm / sizeof perm[0]; c++) {
        fake_t *f = fake_new();
        fake_script(f, &perm[c], 1);
        vn_delivery_opts_t o = fast_opts();
        vn_delivery_t *d = vn_delivery_new(&o, &f->base);
        vn_stats_sink_t slot;
        memset(&slot, 0, sizeof slot);
        vn_delivery_bind_stats(d, &slot);
        assert_int_equal(put(d, "bad", 4), VN_OK);
        assert_int_equal(put(d, "good", 1), VN_OK);
        WAIT_FOR(GET(&slot, payloads_dropped_permanent) == 1 && GET(&slot, payloads_sent) == 1);
        usleep(100000); /* longer than any backoff: a retry would show up */
        assert_int_equal(fake_nrec(f), 2);
        assert_int_equal(GET(&slot, payloads_retried), 0);
        assert_int_equal(GET(&slot, delivery_failed), 4);
        assert_int_equal(GET(&slot, delivered), 1);
        vn_delivery_free(d);
        fake_free(f);
    }
}

static void test_delivery__drops_oldest_when_full(void **state)
{
    (void)state;
    fake_t *f = fake_new();
    /* the first request hangs until its 1 s timeout, then everything succeeds */
    fake_script(f, (fresp_t[]){{.hang = true}}, 1);
    vn_delivery_opts_t o = fast_opts();
    o.max_queue_bytes = 100;
    o.max_in_flight = 1;
    o.request_timeout_s = 1.0;
    vn_delivery_t *d = vn_delivery_new(&o, &f->base);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    char a[41], b[41], c[41], e[41];
    memset(a, 'a', 40), memset(b, 'b', 40), memset(c, 'c', 40), memset(e, 'e', 40);
    a[40] = b[40] = c[40] = e[40] = '\0';
    assert_int_equal(put(d, a, 1), VN_OK);
    WAIT_FOR(fake_nrec(f) == 1); /* a is in flight (hanging) */
    assert_int_equal(put(d, b, 1), VN_OK);
    assert_int_equal(put(d, c, 1), VN_OK); /* 120 > 100: b, the oldest waiting, goes */
    assert_int_equal(GET(&slot, payloads_dropped_full), 1);
    assert_int_equal(put(d, e, 1), VN_OK); /* c goes */
    assert_int_equal(GET(&slot, payloads_dropped_full), 2);
    assert_int_equal(GET(&slot, dropped), 2);
    assert_int_equal(GET(&slot, queue_bytes), 80);
    /* one body over the whole cap is refused outright */
    char big[130];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(put(d, big, 1), VN_ERR_TOO_LARGE);
    assert_int_equal(GET(&slot, payloads_dropped_full), 3);
    WAIT_FOR(GET(&slot, payloads_sent) == 2); /* a (after its timeout and a retry) and e */
    vn_delivery_free(d);
    assert_int_equal(f->nrec, 3);
    /* a timed out: an outage, so a alone is probed again; once it is
     * accepted e follows (oldest first, issue 19) */
    assert_memory_equal(f->rec[0].body, a, 40);
    assert_memory_equal(f->rec[1].body, a, 40);
    assert_memory_equal(f->rec[2].body, e, 40);
    assert_int_equal(GET(&slot, payloads_retried), 1);
    fake_free(f);
}

static void test_delivery__expires_old_payloads(void **state)
{
    (void)state;
    /* keeps failing: retried until the age limit, then dropped as expired */
    fake_t *f = fake_new();
    f->dflt = (fresp_t){.outcome = VN_HTTP_RESPONSE, .status = 503};
    vn_delivery_opts_t o = fast_opts();
    o.max_age_s = 0.3;
    vn_delivery_t *d = vn_delivery_new(&o, &f->base);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    assert_int_equal(put(d, "stale", 3), VN_OK);
    WAIT_FOR(GET(&slot, payloads_dropped_expired) == 1);
    assert_true(GET(&slot, payloads_retried) >= 2);
    assert_int_equal(GET(&slot, delivery_failed), 3);
    assert_int_equal(GET(&slot, payloads_sent), 0);
    WAIT_FOR(GET(&slot, queue_payloads) == 0);
    vn_delivery_free(d);
    fake_free(f);

    /* waiting behind a hanging request: expires without ever being sent */
    f = fake_new();
    fake_script(f, (fresp_t[]){{.hang = true}}, 1);
    o = fast_opts();
    o.max_in_flight = 1;
    o.max_age_s = 0.2;
    o.request_timeout_s = 1.0;
    d = vn_delivery_new(&o, &f->base);
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    assert_int_equal(put(d, "first", 1), VN_OK);
    WAIT_FOR(fake_nrec(f) == 1);
    assert_int_equal(put(d, "second", 1), VN_OK);
    WAIT_FOR(GET(&slot, payloads_dropped_expired) == 2); /* second while waiting, first after its timeout */
    vn_delivery_free(d);
    assert_int_equal(f->nrec, 1);
    fake_free(f);
}

static void test_delivery__shutdown_drains_within_grace(void **state)
{
    (void)state;
    fake_t *f = fake_new();
    fake_script(f, (fresp_t[]){{.outcome = VN_HTTP_RESPONSE, .status = 503}}, 1);
    f->dflt.delay_s = 0.05;
    vn_delivery_opts_t o = fast_opts();
    o.drain_grace_s = 2;
    vn_delivery_t *d = vn_delivery_new(&o, &f->base);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    for (int i = 0; i < 6; i++)
        assert_int_equal(put(d, "p", 1), VN_OK);
    double t0 = tnow();
    vn_delivery_free(d); /* everything still gets out, the 503 included */
    assert_true(tnow() - t0 < 1.5);
    assert_int_equal(GET(&slot, payloads_sent), 6);
    assert_int_equal(GET(&slot, payloads_dropped_shutdown), 0);
    assert_int_equal(GET(&slot, queue_payloads), 0);
    fake_free(f);

    /* a dead server: free returns after the grace period and counts the rest */
    f = fake_new();
    f->dflt = (fresp_t){.hang = true};
    o = fast_opts();
    o.drain_grace_s = 0.3;
    o.max_in_flight = 2;
    o.request_timeout_s = 30;
    d = vn_delivery_new(&o, &f->base);
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    for (int i = 0; i < 5; i++)
        assert_int_equal(put(d, "p", 2), VN_OK);
    WAIT_FOR(fake_nrec(f) == 2);
    t0 = tnow();
    vn_delivery_free(d);
    double took = tnow() - t0;
    assert_true(took >= 0.25 && took < 1.5);
    assert_int_equal(GET(&slot, payloads_dropped_shutdown), 5); /* 2 aborted in flight + 3 waiting */
    assert_int_equal(GET(&slot, dropped), 10);
    assert_int_equal(GET(&slot, payloads_sent), 0);
    fake_free(f);
}

static void test_delivery__parallel_and_never_blocks(void **state)
{
    (void)state;
    fake_t *f = fake_new();
    f->dflt.delay_s = 0.1;
    vn_delivery_opts_t o = fast_opts();
    o.max_in_flight = 4;
    vn_delivery_t *d = vn_delivery_new(&o, &f->base);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    double t0 = tnow();
    for (int i = 0; i < 200; i++)
        assert_int_equal(put(d, "x", 1), VN_OK);
    assert_true(tnow() - t0 < 0.5); /* enqueue never waits for the server */
    WAIT_FOR(GET(&slot, payloads_sent) == 200);
    vn_delivery_free(d);
    assert_int_equal(f->max_fl, 4); /* bounded parallelism, and it was used */
    fake_free(f);
}

static void test_delivery__backoff_schedule(void **state)
{
    (void)state;
    vn_delivery_t d;
    memset(&d, 0, sizeof d);
    d.o.backoff_base_s = 0.25;
    d.o.backoff_max_s = 10;
    d.rng = 42;
    static const double want[] = {0.25, 0.5, 1, 2, 4, 8, 10, 10, 10};
    for (unsigned n = 1; n <= 9; n++) {
        for (int k = 0; k < 50; k++) {
            double b = backoff_s(&d, n);
            assert_true(b >= want[n - 1] * 0.5 - 1e-9 && b < want[n - 1] + 1e-9);
        }
    }
    assert_true(backoff_s(&d, 1000) <= 10);
}

static void test_delivery__excerpt_redacts_secrets(void **state)
{
    (void)state;
    vn_delivery_t d;
    memset(&d, 0, sizeof d);
    char *secrets[] = {"DDKEY123456", "tok"};
    d.secrets = secrets;
    d.o.nsecrets = 2;
    char out[1024];
    const char *in = "{\"errors\":[\"invalid api key DDKEY123456\"]}\n";
    safe_excerpt(&d, in, strlen(in), out, sizeof out);
    assert_string_equal(out, "{\\\"errors\\\":[\\\"invalid api key <redacted>\\\"]}\\x0a");
    /* a key cut off by the 200-byte excerpt limit is still redacted */
    safe_excerpt(&d, "key=DDKEY12", 11, out, sizeof out);
    assert_string_equal(out, "key=<redacted>");
    /* secrets shorter than 4 bytes are not worth masking: "tok" stays */
    safe_excerpt(&d, "tok", 3, out, sizeof out);
    assert_string_equal(out, "tok");
    /* output never overruns */
    char small[16];
    safe_excerpt(&d, in, strlen(in), small, sizeof small);
    assert_true(strlen(small) < sizeof small);
}

/* An outage (issue 19): one probe at a time, the oldest payload; on the first
 * success everything goes, oldest first, each accepted payload sent once. */
static void test_delivery__outage_probes_oldest_then_resumes_in_order(void **state)
{
    (void)state;
    fake_t *f = fake_new();
    fresp_t fail = {.outcome = VN_HTTP_RESPONSE, .status = 503, .delay_s = 0.01};
    fake_script(f, (fresp_t[]){fail, fail, fail, fail, fail, fail}, 6);
    vn_delivery_opts_t o = fast_opts();
    vn_delivery_t *d = vn_delivery_new(&o, &f->base);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    enum { NP = 12 };
    char bodies[NP][16]; /* room for any int: gcc -O1 checks the %02d width */
    for (int i = 0; i < NP; i++) {
        snprintf(bodies[i], sizeof bodies[i], "p%02d", i);
        assert_int_equal(put(d, bodies[i], 1), VN_OK);
    }
    WAIT_FOR(GET(&slot, payloads_sent) == NP);
    vn_delivery_free(d);
    /* six failed attempts, then every payload exactly once, in enqueue order */
    assert_int_equal(f->nrec, 6 + NP);
    for (int i = 0; i < NP; i++)
        assert_string_equal(f->rec[6 + i].body, bodies[i]);
    /* while failing, nothing ran beside the probe once the outage was seen:
     * the failed attempts after the first batch all carry the oldest body */
    assert_string_equal(f->rec[5].body, bodies[0]);
    assert_int_equal(GET(&slot, payloads_dropped_expired), 0);
    assert_int_equal(GET(&slot, delivered), NP);
    fake_free(f);
}

/* A 503 with Retry-After waits that long, not the (shorter) backoff. */
static void test_delivery__honours_retry_after(void **state)
{
    (void)state;
    fake_t *f = fake_new();
    fake_script(f, (fresp_t[]){{.outcome = VN_HTTP_RESPONSE, .status = 503, .retry_after_s = 0.5}}, 1);
    vn_delivery_opts_t o = fast_opts();
    vn_delivery_t *d = vn_delivery_new(&o, &f->base);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    vn_delivery_bind_stats(d, &slot);
    double t0 = tnow();
    assert_int_equal(put(d, "x", 1), VN_OK);
    WAIT_FOR(GET(&slot, payloads_sent) == 1);
    double took = tnow() - t0;
    assert_true(took >= 0.5);
    assert_true(took < 2.0);
    vn_delivery_free(d);
    fake_free(f);
}

static void test_delivery__config(void **state)
{
    (void)state;
    vn_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.interval_s = 10;
    vn_sink_config_t sc = {.kind = "datadog", .name = "dd"};
    vn_delivery_opts_t o;
    char err[256];
    assert_int_equal(vn_delivery_config(&sc, &cfg, "dd", &o, err, sizeof err), VN_OK);
    assert_int_equal(o.max_queue_bytes, 64u << 20);
    assert_true(o.max_age_s == 3300 && o.request_timeout_s == 9 && o.drain_grace_s == 5);
    assert_true(o.backoff_base_s == 0.25 && o.backoff_max_s == 10 && o.max_in_flight == 4);
    assert_true(o.idle_conn_timeout_s == 20);
    cfg.interval_s = 1;
    assert_int_equal(vn_delivery_config(&sc, &cfg, "dd", &o, err, sizeof err), VN_OK);
    assert_true(o.drain_grace_s == 1 && o.max_age_s == 3300 && o.backoff_max_s == 1);

    vn_kv_t kv[] = {{.key = "max_queue_bytes", .value = "1048576"},
                    {.key = "max_payload_age", .value = "1m"},
                    {.key = "request_timeout", .value = "2500ms"},
                    {.key = "max_in_flight", .value = "8"}};
    sc.kv = kv;
    sc.n_kv = 4;
    assert_int_equal(vn_delivery_config(&sc, &cfg, "dd", &o, err, sizeof err), VN_OK);
    assert_true(o.max_queue_bytes == 1048576 && o.max_age_s == 60 && o.request_timeout_s == 2.5 &&
                o.max_in_flight == 8);

    static const struct {
        const char *key, *value;
    } bad[] = {{"max_queue_bytes", "12"},     {"max_queue_bytes", "-5"}, {"max_queue_bytes", "1k"},
               {"max_payload_age", "10"},     {"max_payload_age", "0s"}, {"request_timeout", "-1s"},
               {"max_in_flight", "0"},        {"max_in_flight", "65"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vn_kv_t one = {.key = (char *)bad[i].key, .value = (char *)bad[i].value};
        sc.kv = &one;
        sc.n_kv = 1;
        err[0] = '\0';
        assert_int_equal(vn_delivery_config(&sc, &cfg, "dd", &o, err, sizeof err), VN_ERR_CONFIG);
        assert_non_null(strstr(err, bad[i].key));
        assert_non_null(strstr(err, "\"dd\""));
    }
}

static void test_delivery__config_list(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "a", .value = "x.,,y."}, {.key = "b", .value = ""}};
    char *items[] = {"p", "", "q"};
    kv[1].list = (vn_strlist_t){items, 3};
    kv[1].is_list = true;
    vn_sink_config_t sc = {.kind = "datadog", .kv = kv, .n_kv = 2};
    char **v;
    size_t n;
    vn_delivery_config_list(&sc, "a", &v, &n); /* a scalar (env override): split at ',' */
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "x.");
    assert_string_equal(v[1], "y.");
    vn_delivery_strv_free(v, n);
    vn_delivery_config_list(&sc, "b", &v, &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[1], "q");
    vn_delivery_strv_free(v, n);
    vn_delivery_config_list(&sc, "missing", &v, &n);
    assert_int_equal(n, 0);
    assert_null(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivery__sends_copies_and_counts),
        cmocka_unit_test(test_delivery__retries_transient_failures),
        cmocka_unit_test(test_delivery__gives_up_on_permanent_errors),
        cmocka_unit_test(test_delivery__drops_oldest_when_full),
        cmocka_unit_test(test_delivery__expires_old_payloads),
        cmocka_unit_test(test_delivery__shutdown_drains_within_grace),
        cmocka_unit_test(test_delivery__parallel_and_never_blocks),
        cmocka_unit_test(test_delivery__backoff_schedule),
        cmocka_unit_test(test_delivery__excerpt_redacts_secrets),
        cmocka_unit_test(test_delivery__outage_probes_oldest_then_resumes_in_order),
        cmocka_unit_test(test_delivery__honours_retry_after),
        cmocka_unit_test(test_delivery__config),
        cmocka_unit_test(test_delivery__config_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
