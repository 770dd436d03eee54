/*
 * remote_write.c - the "cortex" metric sink (alias "prometheus_remote_write"):
 * each flush is POSTed as Prometheus remote-write 0.1.0 requests (docs/behaviour.md W4.6):
 * a snappy block-compressed protobuf prometheus.WriteRequest (proto/remote.proto,
 * encoded by remote_write_pb.c) per batch.
 *
 * Config keys (the sink's `config:` block; Go's names):
 *   url                      required; http:// or https:// endpoint, e.g.
 *                            http://prometheus:9090/api/v1/write
 *   remote_timeout           Go duration, per request; default 30s (always also
 *                            bounded by the flush deadline)
 *   proxy_url                HTTP proxy for the requests (default: curl's
 *                            http_proxy/https_proxy environment, as Go's transport)
 *   batch_write_size         series per request; 0 (default) = one request, split
 *                            only past RW_REQ_MAX bytes
 *   headers: {K: V}          extra request headers; they may override the
 *                            defaults below (Go parses this key but never sends it)
 *   basic_auth: {username, password}            both required together
 *   authorization: {type, credentials}          "Authorization: <type> <credentials>",
 *                            type defaults to Bearer; exclusive with basic_auth
 *   convert_counters_to_monotonic  true: counters are summed since start and sent
 *                            as cumulative series every flush (remote_write_counters.c)
 *   monotonic_max_series     veneur-c: cap on those series; default 100000
 *
 * Request headers: Content-Encoding: snappy, Content-Type: application/x-protobuf,
 * User-Agent: veneur/cortex, X-Prometheus-Remote-Write-Version: 0.1.0 (Go's).
 * Success = any 2xx, as soon as the status line is read: a body that then
 * stalls into the timeout never causes a resend (the server has the data).
 *
 * Deadline and retries: the flush runs on the flush thread and never blocks past
 * info->deadline_s. Each request gets min(remote_timeout, time left) as its curl
 * timeout; a connect error, timeout, 429 or 5xx is retried (at most RW_ATTEMPTS
 * tries, backoff 50 ms doubling) while time is left. When a batch still fails
 * that way the endpoint is taken as down for this flush: later batches are not
 * tried and count as failed (Go also stops at the first failed batch). A 4xx
 * other than 429 fails only its batch (the receiver rejected that data).
 *
 * Self-metrics (vn_sink_t.stats): delivered / delivery_failed (series),
 * dropped (unencodable: empty name, over the size cap, monotonic store full),
 * transport_errors (per failed attempt: connect errors, timeouts, 429, 5xx).
 *
 * The curl easy handle is kept across flushes so the connection is reused.
 */
#include <curl/curl.h>
#include <snappy-c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/xalloc.h"
#include "sinks/remote_write_internal.h"

#define RW_REQ_MAX ((size_t)32 << 20) /* uncompressed bytes per request */
#define RW_ATTEMPTS 4
#define RW_BACKOFF_S 0.05
#define RW_MIN_ATTEMPT_S 0.01 /* below this much time left, do not start a request */
#define RW_DEFAULT_TIMEOUT_S 30.0
#define RW_DEFAULT_MONOTONIC_MAX 100000
#define RW_RESP_MAX 256

typedef struct rw {
    char *url;
    double timeout_s;
    size_t batch_size; /* 0 = unlimited */
    bool monotonic;
    CURL *curl;
    struct curl_slist *headers;
    vn_rw_enc_t enc;
    vn_rw_counters_t counters;
    vn_buf_t pb;   /* the WriteRequest being built */
    vn_buf_t snap; /* its snappy form */
    char resp[RW_RESP_MAX + 1]; /* start of the last response body, for logs */
    size_t resp_len;
    /* per flush */
    size_t batch_n;  /* series in pb */
    bool down;       /* a batch failed transiently: send nothing more this flush */
    uint64_t delivered, failed, dropped, transport_errors;
    vn_err_t first_err;
} rw_t;

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    rw_t *w = ud;
    size_t n = size * nmemb;
    size_t room = RW_RESP_MAX - w->resp_len;
    size_t take = n < room ? n : room;
    memcpy(w->resp + w->resp_len, p, take);
    w->resp_len += take;
    w->resp[w->resp_len] = '\0';
    return n;
}

/* Control bytes of a response excerpt become spaces so the log line stays one line. */
static const char *resp_text(rw_t *w)
{
    for (size_t i = 0; i < w->resp_len; i++)
        if ((unsigned char)w->resp[i] < 0x20 || w->resp[i] == '"')
            w->resp[i] = ' ';
    return w->resp;
}

static bool transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

/*
 * POSTs body with retries inside the deadline. VN_OK on 2xx; otherwise
 * *transient says whether the endpoint looked down/overloaded (connect error,
 * timeout, 429, 5xx) rather than rejecting this request.
 */
static vn_err_t post(rw_t *w, const vn_sink_t *s, const char *body, size_t len, double deadline, bool *transient)
{
    double backoff = RW_BACKOFF_S;
    *transient = true;
    for (int attempt = 1;; attempt++) {
        double left = deadline - vn_clock_mono_s();
        if (left < RW_MIN_ATTEMPT_S)
            return VN_ERR_TIMEOUT;
        double t = left < w->timeout_s ? left : w->timeout_s;
        long ms = (long)(t * 1000.0);
        curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
        curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1L);
        w->resp_len = 0;
        w->resp[0] = '\0';
        CURLcode rc = curl_easy_perform(w->curl);
        long code = 0;
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
        /* A status that arrived counts even when the body then stalled or broke off:
         * the server took the request, and a resend would duplicate it. */
        if (rc != CURLE_OK && code >= 200)
            rc = CURLE_OK;
        if (rc == CURLE_OK && code >= 200 && code < 300)
            return VN_OK;
        bool retry = rc == CURLE_OK ? (code == 429 || code >= 500) : transient_curl(rc);
        if (!retry) {
            *transient = false;
            if (rc == CURLE_OK)
                VN_LOG(WARN, "event=remote_write_rejected sink=%s status=%ld body=%s", s->name, code,
                       VN_LOG_Q(resp_text(w)));
            else
                VN_LOG(WARN, "event=remote_write_failed sink=%s err=\"%s\"", s->name, curl_easy_strerror(rc));
            return rc == CURLE_OK ? VN_ERR_PROTO : VN_ERR_IO;
        }
        w->transport_errors++;
        if (attempt >= RW_ATTEMPTS || deadline - vn_clock_mono_s() < backoff + RW_MIN_ATTEMPT_S) {
            if (rc == CURLE_OK)
                VN_LOG(WARN, "event=remote_write_failed sink=%s status=%ld attempts=%d body=%s", s->name, code,
                       attempt, VN_LOG_Q(resp_text(w)));
            else
                VN_LOG(WARN, "event=remote_write_failed sink=%s err=\"%s\" attempts=%d", s->name,
                       curl_easy_strerror(rc), attempt);
            return rc == CURLE_OPERATION_TIMEDOUT ? VN_ERR_TIMEOUT : rc == CURLE_OK ? VN_ERR_PROTO : VN_ERR_IO;
        }
        sleep_s(backoff);
        backoff *= 2;
    }
}

/* Compresses and sends the batch in w->pb, then empties it. */
static void send_batch(rw_t *w, const vn_sink_t *s, double deadline)
{
    size_t n = w->batch_n;
    if (n == 0)
        return;
    vn_err_t err;
    bool transient = false;
    if (w->down) {
        err = VN_ERR_IO; /* went down while this batch was being filled */
    } else {
        size_t len = vn_buf_len(&w->pb);
        size_t clen = snappy_max_compressed_length(len);
        char *out = NULL;
        vn_buf_reset(&w->snap);
        err = vn_buf_reserve(&w->snap, clen, &out);
        if (err == VN_OK && snappy_compress(vn_buf_ptr(&w->pb), len, out, &clen) != SNAPPY_OK)
            err = VN_ERR_IO;
        if (err == VN_OK) {
            vn_buf_commit(&w->snap, clen);
            err = post(w, s, vn_buf_ptr(&w->snap), clen, deadline, &transient);
        }
        if (err != VN_OK && transient)
            w->down = true;
    }
    if (err == VN_OK) {
        w->delivered += n;
    } else {
        w->failed += n;
        if (w->first_err == VN_OK)
            w->first_err = err;
    }
    vn_buf_reset(&w->pb);
    w->batch_n = 0;
}

/* Adds one series to the current batch, sending the batch when it is full. */
static void add_series(rw_t *w, const vn_sink_t *s, const char *name, const char *const *tags, size_t ntags,
                       const char *host, double value, int64_t ts_ms, double deadline)
{
    if (w->down) {
        w->failed++; /* the endpoint failed earlier in this flush: do not even encode */
        return;
    }
    vn_err_t err = vn_rw__append_series(&w->enc, &w->pb, s, name, tags, ntags, host, value, ts_ms);
    if (err == VN_ERR_TOO_LARGE && w->batch_n > 0) {
        send_batch(w, s, deadline);
        err = vn_rw__append_series(&w->enc, &w->pb, s, name, tags, ntags, host, value, ts_ms);
    }
    if (err != VN_OK) {
        w->dropped++; /* no usable name, or one series larger than a whole request */
        return;
    }
    if (++w->batch_n == w->batch_size)
        send_batch(w, s, deadline);
}

static vn_err_t rw_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    rw_t *w = s->impl;
    const char *host = info->hostname;
    double deadline = info->deadline_s;
    w->down = false;
    w->delivered = w->failed = w->dropped = w->transport_errors = 0;
    w->first_err = VN_OK;
    vn_buf_reset(&w->pb);
    w->batch_n = 0;
    for (size_t i = 0; i < n; i++) {
        const vn_inter_metric_t *x = &m[i];
        if (!vn_sink__wants(s, x))
            continue;
        if (w->monotonic && x->type == VN_IM_COUNTER) {
            if (vn_rw__counters_add(&w->counters, x->name ? x->name : "", x->tags, x->ntags, x->value) != VN_OK)
                w->dropped++;
            continue;
        }
        add_series(w, s, x->name, x->tags, x->ntags, host, x->value, x->timestamp * 1000, deadline);
    }
    /* Go re-sends every accumulated counter with each batch; we send each once per flush. */
    for (size_t i = 0; w->monotonic && i < w->counters.cap; i++) {
        const vn_rw_counter_t *c = &w->counters.slots[i];
        if (c->name)
            add_series(w, s, c->name, (const char *const *)c->tags, c->ntags, host, c->sum,
                       info->timestamp * 1000, deadline);
    }
    send_batch(w, s, deadline);

    if (s->stats) {
        vn_stats_add(&s->stats->delivered, w->delivered);
        vn_stats_add(&s->stats->delivery_failed, w->failed);
        vn_stats_add(&s->stats->dropped, w->dropped);
        vn_stats_add(&s->stats->transport_errors, w->transport_errors);
    }
    if (w->failed)
        return w->first_err;
    if (w->dropped) {
        VN_LOG(WARN, "event=remote_write_dropped sink=%s series=%llu", s->name, (unsigned long long)w->dropped);
        return VN_ERR_TOO_LARGE;
    }
    return VN_OK;
}

static void rw_free(rw_t *w)
{
    if (!w)
        return;
    if (w->curl)
        curl_easy_cleanup(w->curl);
    curl_slist_free_all(w->headers);
    vn_rw__enc_free(&w->enc);
    vn_rw__counters_free(&w->counters);
    vn_buf_free(&w->pb);
    vn_buf_free(&w->snap);
    free(w->url);
    free(w);
}

static void rw_destroy(vn_sink_t *s)
{
    rw_free(s->impl);
    s->impl = NULL;
}

static const vn_sink_ops_t rw_ops = {
    .kind = "cortex",
    .flush = rw_flush,
    .flush_events = NULL, /* remote-write has no events */
    .destroy = rw_destroy,
};

/* ---------------------------------------------------------------- config */

typedef struct ctor_ctx {
    const vn_sink_t *s;
    const char *kind;
    char *errbuf;
    size_t errcap;
} ctor_ctx_t;

static vn_err_t bad_key(ctor_ctx_t *c, const char *key, const char *why, const char *value)
{
    /* "config key K is required" / "config key K: want X, got \"v\"" */
    if (value)
        snprintf(c->errbuf, c->errcap, "sink \"%s\" (%s): config key %s: %s \"%s\"", c->s->name, c->kind, key, why,
                 value);
    else
        snprintf(c->errbuf, c->errcap, "sink \"%s\" (%s): config key %s%s%s", c->s->name, c->kind, key,
                 strncmp(why, "is ", 3) == 0 ? " " : ": ", why);
    return VN_ERR_CONFIG;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static vn_err_t get_size(ctor_ctx_t *c, const vn_sink_config_t *sc, const char *key, size_t def, size_t *out)
{
    const char *v = vn_sink_config_get(sc, key);
    *out = def;
    if (!v || !v[0])
        return VN_OK;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < 0 || x > 1000000000LL)
        return bad_key(c, key, "want a whole number >= 0, got", v);
    *out = (size_t)x;
    return VN_OK;
}


typedef struct hdr {
    const char *name;
    char *value; /* owned */
} hdr_t;

#define RW_MAX_HEADERS 64

/* Sets name: value in the list, replacing a header of the same name (case-insensitive). */
static vn_err_t set_header(ctor_ctx_t *c, hdr_t *h, size_t *n, const char *name, const char *value, const char *key)
{
    if (strpbrk(value, "\r\n"))
        return bad_key(c, key, "header value must not contain a line break", NULL);
    for (size_t i = 0; i < *n; i++) {
        if (strcasecmp(h[i].name, name) == 0) {
            free(h[i].value);
            h[i].value = vn_xstrdup(value);
            return VN_OK;
        }
    }
    if (*n == RW_MAX_HEADERS)
        return bad_key(c, key, "too many headers", NULL);
    h[*n].name = name;
    h[(*n)++].value = vn_xstrdup(value);
    return VN_OK;
}

static vn_err_t build_headers(ctor_ctx_t *c, const vn_sink_config_t *sc, rw_t *w)
{
    hdr_t h[RW_MAX_HEADERS];
    size_t n = 0;
    vn_err_t err = VN_OK;
    /* Go's four, then "Expect:" (empty) so curl never waits for 100-continue */
    err = set_header(c, h, &n, "Content-Encoding", "snappy", "url");
    if (err == VN_OK)
        err = set_header(c, h, &n, "Content-Type", "application/x-protobuf", "url");
    if (err == VN_OK)
        err = set_header(c, h, &n, "User-Agent", "veneur/cortex", "url");
    if (err == VN_OK)
        err = set_header(c, h, &n, "X-Prometheus-Remote-Write-Version", "0.1.0", "url");

    const char *user = vn_sink_config_get(sc, "basic_auth.username");
    const char *pass = vn_sink_config_get(sc, "basic_auth.password");
    const char *atype = vn_sink_config_get(sc, "authorization.type");
    const char *acred = vn_sink_config_get(sc, "authorization.credentials");
    if (err == VN_OK && user && user[0] && (!pass || !pass[0]))
        err = bad_key(c, "basic_auth.password", "is required with basic_auth.username", NULL);
    if (err == VN_OK && user && user[0] && acred && acred[0])
        err = bad_key(c, "authorization.credentials", "set either basic_auth or authorization, not both", NULL);
    if (err == VN_OK && ((atype && atype[0]) || (acred && acred[0]))) {
        char auth[4096];
        int k = snprintf(auth, sizeof auth, "%s %s", atype && atype[0] ? atype : "Bearer", acred ? acred : "");
        if (k < 0 || (size_t)k >= sizeof auth)
            err = bad_key(c, "authorization.credentials", "too long", NULL);
        else
            err = set_header(c, h, &n, "Authorization", auth, "authorization.credentials");
    }
    if (err == VN_OK && user && user[0]) {
        curl_easy_setopt(w->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(w->curl, CURLOPT_USERNAME, user);
        curl_easy_setopt(w->curl, CURLOPT_PASSWORD, pass);
    }
    for (size_t i = 0; err == VN_OK && i < sc->n_kv; i++) {
        const char *key = sc->kv[i].key;
        if (!key || strncmp(key, "headers.", 8) != 0)
            continue;
        if (!vn_sink__header_name_ok(key + 8))
            err = bad_key(c, key, "not a valid header name", NULL);
        else
            err = set_header(c, h, &n, key + 8, sc->kv[i].value ? sc->kv[i].value : "", key);
    }
    for (size_t i = 0; i < n; i++) {
        if (err == VN_OK) {
            size_t len = strlen(h[i].name) + strlen(h[i].value) + 3;
            char *line = vn_xmalloc(len);
            snprintf(line, len, "%s: %s", h[i].name, h[i].value);
            w->headers = curl_slist_append(w->headers, line);
            free(line);
        }
        free(h[i].value);
    }
    if (err == VN_OK)
        w->headers = curl_slist_append(w->headers, "Expect:");
    return err;
}

static vn_err_t configure(ctor_ctx_t *c, const vn_sink_config_t *sc, rw_t *w)
{
    const char *url = vn_sink_config_get(sc, "url");
    if (!url || !url[0])
        return bad_key(c, "url", "is required (e.g. http://prometheus:9090/api/v1/write)", NULL);
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return bad_key(c, "url", "want an http:// or https:// URL, got", url);
    w->url = vn_xstrdup(url);

    const char *to = vn_sink_config_get(sc, "remote_timeout");
    w->timeout_s = RW_DEFAULT_TIMEOUT_S;
    if (to && to[0] && (vn_config_parse_duration(to, &w->timeout_s) != VN_OK || w->timeout_s < 0))
        return bad_key(c, "remote_timeout", "want a duration like \"30s\", got", to);
    if (w->timeout_s == 0)
        w->timeout_s = RW_DEFAULT_TIMEOUT_S; /* Go: 0 means the default */

    vn_err_t err = get_size(c, sc, "batch_write_size", 0, &w->batch_size);
    size_t mono_max = RW_DEFAULT_MONOTONIC_MAX;
    if (err == VN_OK)
        err = get_size(c, sc, "monotonic_max_series", RW_DEFAULT_MONOTONIC_MAX, &mono_max);
    const char *mono = vn_sink_config_get(sc, "convert_counters_to_monotonic");
    if (err == VN_OK && mono && mono[0] && !parse_bool(mono, &w->monotonic))
        err = bad_key(c, "convert_counters_to_monotonic", "want true or false, got", mono);
    if (err != VN_OK)
        return err;
    vn_rw__counters_init(&w->counters, mono_max);

    w->curl = curl_easy_init();
    if (!w->curl)
        return bad_key(c, "url", "cannot create a curl handle", NULL);
    err = build_headers(c, sc, w);
    if (err != VN_OK)
        return err;
    curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
    curl_easy_setopt(w->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
    const char *proxy = vn_sink_config_get(sc, "proxy_url");
    if (proxy && proxy[0])
        curl_easy_setopt(w->curl, CURLOPT_PROXY, proxy);
    return VN_OK;
}

vn_err_t vn_sink__remote_write_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                                   size_t errcap)
{
    (void)cfg; /* the host label comes from vn_flush_info_t.hostname (the configured hostname) */
    char dummy[1];
    if (!errbuf || !errcap) {
        errbuf = dummy;
        errcap = sizeof dummy;
    }
    /* curl_global_init is thread-safe in the libcurl we build against (>= 7.84) and
     * idempotent; never cleaned up, other modules may be using curl */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errbuf, errcap, "sink \"%s\" (%s): curl_global_init failed", s->name, sc->kind);
        return VN_ERR_CONFIG;
    }
    rw_t *w = vn_xcalloc(1, sizeof *w);
    vn_rw__enc_init(&w->enc);
    vn_buf_init(&w->pb, RW_REQ_MAX);
    vn_buf_init(&w->snap, RW_REQ_MAX + RW_REQ_MAX / 6 + 64); /* snappy's worst case: 32 + n + n/6 */
    ctor_ctx_t c = {.s = s, .kind = sc->kind ? sc->kind : "cortex", .errbuf = errbuf, .errcap = errcap};
    vn_err_t err = configure(&c, sc, w);
    if (err != VN_OK) {
        rw_free(w);
        return err;
    }
    /* the URL may carry user:password@: log only what follows the '@' */
    const char *shown = strchr(w->url, '@') ? strchr(w->url, '@') + 1 : w->url;
    VN_LOG(INFO, "event=remote_write_sink_started sink=%s url=\"%s\" batch_write_size=%zu monotonic=%d", s->name,
           shown, w->batch_size, (int)w->monotonic);
    s->impl = w;
    s->ops = &rw_ops;
    return VN_OK;
}
