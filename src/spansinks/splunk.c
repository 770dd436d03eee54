/*
 * splunk.c - the "splunk" span sink (Go sinks/splunk): spans as Splunk HTTP
 * Event Collector events, sent through a delivery queue (sinks/delivery.h).
 *
 *   span_sinks:
 *     - kind: splunk
 *       name: splunk
 *       config:
 *         hec_address: https://splunk.example:8088   # required, http:// or https://
 *         hec_token: "..."                            # required
 *         hec_batch_size: 100            # events per request; < 1: 1 (Go sends one per request then)
 *         hec_submission_workers: 4      # requests in flight at once (Go: one streaming request each)
 *         hec_max_connection_lifetime: 10s   # how long a partial batch may stay open
 *         hec_connection_lifetime_jitter: 5s # + uniform random [0, jitter) per batch
 *         hec_send_timeout: 10s          # per request; Go reads this from the lifetime key, see below
 *         hec_ingest_timeout: 1s         # accepted, no effect (ingest never blocks here)
 *         hec_tls_validate_hostname: splunk.internal  # https: check the certificate for this name
 *         span_sample_rate: 10           # keep traces whose trace_id % 10 == 0
 *         # delivery (delivery.h): max_queue_bytes, max_payload_age, request_timeout, max_in_flight
 *
 * Wire format, as Go's: POST <hec_address resolved against "services/collector">
 * ?channel=<a UUID v4 drawn once per sink>, header "Authorization: Splunk
 * <token>", body = one JSON event per span, each followed by "\n" (Go's
 * json.Encoder.Encode, HTML escaping of <, > and & included):
 *
 *   {"host":"<hostname>","sourcetype":"<service>","time":"1700000000.123",
 *    "event":{"trace_id":"<hex>","id":"<hex>","parent_id":"<hex>",
 *             "start_timestamp":1700000000.1234567,"end_timestamp":...,
 *             "duration_ns":1500,"error":false,"service":"svc","tags":{...}|null,
 *             "indicator":false,"name":"op"[,"partial":true]}}
 *
 * (Go sends no Content-Type and streams the body chunked; we send
 * "Content-Type: application/json" with a Content-Length, which HEC accepts
 * alike, rather than libcurl's default form type.)
 *
 * time is a string of the start time truncated to milliseconds; ids are
 * strconv.FormatInt(id, 16) (signed hex); tags are sorted, null when the span
 * has none; "source" and "index" are never set, as in Go.
 *
 * Which spans: invalid traces (Go protocol.ValidTrace) are skipped; with
 * span_sample_rate N > 1 a span is kept when trace_id % N == 0 (Go's rule,
 * truncated remainder, so whole traces are kept or not), and an indicator
 * span is always kept, marked "partial":true when its trace was sampled out;
 * a span carrying a tag key named in tags_exclude is skipped whole (Go's
 * splunk rule: exact key, not a prefix).
 *
 * Batching: Go streams events into one open request per worker, ended after
 * hec_batch_size events or the connection lifetime. Here events are buffered
 * (at most SPLUNK_BATCH_MAX bytes) and a batch is enqueued when it holds
 * hec_batch_size events, when its lifetime has passed (checked at each span
 * and each flush), at each flush when no lifetime is set (Go would hold it
 * until it fills), and at the final flush. The delivery queue then sends up
 * to hec_submission_workers (= max_in_flight) bodies at once on one thread,
 * and retries as for the other HTTP sinks (connect errors, timeouts, 408,
 * 429, 5xx; Go never retries). Memory: one batch + max_queue_bytes.
 *
 * Go quirks kept or not: Go's HecSendTimeout carries the yaml tag of
 * hec_max_connection_lifetime, so in Go that key also sets the send timeout;
 * here hec_send_timeout is read, and when absent the lifetime is used as the
 * request timeout (Go's effective value), else the delivery default.
 * hec_tls_validate_hostname (Go: tls.Config.ServerName, the name the
 * certificate is checked against and sent as SNI) is done with libcurl's
 * CONNECT_TO: the request URL names that host, the connection goes to the
 * address's host and port, and the Host header stays the address's, as Go's.
 * It has no effect on an http:// address, as in Go.
 *
 * Counts (s->stats): every span ingest took ends in exactly one of
 * delivered (2xx), delivery_failed (rejected, e.g. 401, or expired) or
 * dropped (evicted by max_queue_bytes, still queued at shutdown); they are
 * copied from the queue's own counters at each flush and at destroy. The
 * final flush waits for the queue to empty until info->deadline_s; destroy
 * then abandons what is left (the queue's drain grace is 0).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/delivery.h"
#include "spansinks/span_sink_internal.h"

/* One request body at most; a span whose event alone exceeds it is dropped. */
#define SPLUNK_BATCH_MAX (4u << 20)
#define SPLUNK_WORKERS_MAX VN_DELIVERY_MAX_IN_FLIGHT_LIMIT

typedef struct tag_ref {
    const char *k, *v;
    size_t idx; /* position in the span, so the last of equal keys wins */
} tag_ref_t;

typedef struct splunk_sink {
    char *url;         /* .../services/collector?channel=<uuid> */
    char *auth_header; /* "Authorization: Splunk <token>" */
    char *token;       /* redacted from logged response excerpts */
    char *connect_to;  /* hec_tls_validate_hostname: where to connect (else NULL) */
    char *host_header; /* ... and the Host header of hec_address */
    int64_t sample_rate;
    size_t batch_size;
    double lifetime_s, jitter_s;
    vn_buf_t batch;       /* the open batch: events, '\n'-terminated */
    size_t nbatch;        /* events in it */
    double batch_close_at; /* monotonic; 0: no lifetime, closed at flush */
    uint64_t rng;
    tag_ref_t *tags; /* scratch for sorting one span's tags */
    size_t tags_cap;
    vn_delivery_t *dl;
    /* the queue's counters (bound to the queue, written by its thread) and
     * how much of them has been copied to s->stats */
    vn_stats_sink_t dstats;
    uint64_t seen_delivered, seen_failed, seen_dropped;
} splunk_sink_t;

/* ------------------------------------------------------------ encoding */

/* Go's json.Encoder string: HTML escaping included (core/json.h). */
static vn_err_t put_gostr(vn_buf_t *b, const char *s)
{
    return vn_json_add_string_html(b, s ? s : "", s ? strlen(s) : 0);
}

/* strconv.FormatInt(v, 16) */
static size_t format_hex(int64_t v, char *out)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[u & 15];
        u >>= 4;
    } while (u);
    size_t w = 0;
    if (v < 0)
        out[w++] = '-';
    while (n)
        out[w++] = tmp[--n];
    out[w] = '\0';
    return w;
}

static int tag_cmp(const void *a, const void *b)
{
    const tag_ref_t *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Go map[string]string: sorted keys, the last of repeated keys; nil map -> null. */
static vn_err_t put_tags(splunk_sink_t *sk, vn_buf_t *b, const Ssf__SSFSpan *sp)
{
    if (sp->n_tags == 0)
        return vn_buf_add_str(b, "null");
    if (sp->n_tags > sk->tags_cap) {
        sk->tags_cap = sp->n_tags;
        sk->tags = vn_xrealloc(sk->tags, sk->tags_cap * sizeof *sk->tags);
    }
    for (size_t i = 0; i < sp->n_tags; i++) {
        const Ssf__SSFSpan__TagsEntry *e = sp->tags[i];
        sk->tags[i] = (tag_ref_t){e->key ? e->key : "", e->value ? e->value : "", i};
    }
    qsort(sk->tags, sp->n_tags, sizeof *sk->tags, tag_cmp);
    vn_err_t err = vn_buf_add_byte(b, '{');
    bool first = true;
    for (size_t i = 0; err == VN_OK && i < sp->n_tags; i++) {
        if (i + 1 < sp->n_tags && strcmp(sk->tags[i].k, sk->tags[i + 1].k) == 0)
            continue; /* a later occurrence follows */
        if (!first)
            err = vn_buf_add_byte(b, ',');
        first = false;
        if (err == VN_OK)
            err = put_gostr(b, sk->tags[i].k);
        if (err == VN_OK)
            err = vn_buf_add_byte(b, ':');
        if (err == VN_OK)
            err = put_gostr(b, sk->tags[i].v);
    }
    return err == VN_OK ? vn_buf_add_byte(b, '}') : err;
}

/* Go epochTime: UnixNano/1e6 as "%d.%03d" (truncating division, as Go's). */
static vn_err_t put_time(vn_buf_t *b, int64_t start_ns)
{
    int64_t ms = start_ns / 1000000;
    return vn_buf_printf(b, "\"%lld.%03lld\"", (long long)(ms / 1000), (long long)(ms % 1000));
}

/** Appends sp as one HEC event line (header comment) to b. */
static vn_err_t write_event(splunk_sink_t *sk, vn_buf_t *b, const Ssf__SSFSpan *sp, const char *host, bool partial)
{
    char hex[24];
    vn_err_t err = vn_buf_add_str(b, "{\"host\":");
    if (err == VN_OK)
        err = put_gostr(b, host);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"sourcetype\":");
    if (err == VN_OK)
        err = put_gostr(b, sp->service);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"time\":");
    if (err == VN_OK)
        err = put_time(b, sp->start_timestamp);
    const struct {
        const char *key;
        int64_t v;
    } ids[] = {{"{\"trace_id\":\"", sp->trace_id}, {"\",\"id\":\"", sp->id}, {"\",\"parent_id\":\"", sp->parent_id}};
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"event\":");
    for (size_t i = 0; err == VN_OK && i < 3; i++) {
        format_hex(ids[i].v, hex);
        err = vn_buf_printf(b, "%s%s", ids[i].key, hex);
    }
    if (err == VN_OK)
        err = vn_buf_add_str(b, "\",\"start_timestamp\":");
    if (err == VN_OK)
        err = vn_json_add_double(b, (double)sp->start_timestamp / 1e9);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"end_timestamp\":");
    if (err == VN_OK)
        err = vn_json_add_double(b, (double)sp->end_timestamp / 1e9);
    /* int64 subtraction wraps in Go */
    int64_t dur = (int64_t)((uint64_t)sp->end_timestamp - (uint64_t)sp->start_timestamp);
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"duration_ns\":%lld,\"error\":%s,\"service\":", (long long)dur,
                            sp->error ? "true" : "false");
    if (err == VN_OK)
        err = put_gostr(b, sp->service);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"tags\":");
    if (err == VN_OK)
        err = put_tags(sk, b, sp);
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"indicator\":%s,\"name\":", sp->indicator ? "true" : "false");
    if (err == VN_OK)
        err = put_gostr(b, sp->name);
    if (err == VN_OK)
        err = vn_buf_add_str(b, partial ? ",\"partial\":true}}\n" : "}}\n");
    return err;
}

/* ------------------------------------------------------------ batching and counts */

/* xorshift64*: jitter only, no need for quality */
static double rand_unit(splunk_sink_t *sk)
{
    sk->rng ^= sk->rng >> 12;
    sk->rng ^= sk->rng << 25;
    sk->rng ^= sk->rng >> 27;
    return (double)((sk->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void close_batch(vn_span_sink_t *s)
{
    splunk_sink_t *sk = s->impl;
    if (sk->nbatch == 0)
        return;
    size_t len = vn_buf_len(&sk->batch);
    char *body = vn_xmalloc(len);
    memcpy(body, vn_buf_ptr(&sk->batch), len);
    vn_delivery_req_t r = {
        .what = "spans",
        .url = sk->url,
        .headers = {sk->auth_header, "Content-Type: application/json", sk->host_header},
        .nheaders = sk->host_header ? 3 : 2,
        .connect_to = sk->connect_to,
        .body = body,
        .len = len,
        .nmetrics = sk->nbatch,
    };
    (void)vn_delivery_enqueue(sk->dl, &r); /* refused: counted by the queue as dropped */
    vn_buf_reset(&sk->batch);
    sk->nbatch = 0;
    sk->batch_close_at = 0;
}

static void move_counts(vn_span_sink_t *s)
{
    splunk_sink_t *sk = s->impl;
    uint64_t d = vn_stats_get(&sk->dstats.delivered), f = vn_stats_get(&sk->dstats.delivery_failed),
             x = vn_stats_get(&sk->dstats.dropped);
    if (s->stats) {
        vn_stats_add(&s->stats->delivered, d - sk->seen_delivered);
        vn_stats_add(&s->stats->delivery_failed, f - sk->seen_failed);
        vn_stats_add(&s->stats->dropped, x - sk->seen_dropped);
    }
    sk->seen_delivered = d;
    sk->seen_failed = f;
    sk->seen_dropped = x;
}

static bool has_excluded_tag(const vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    for (size_t i = 0; i < s->n_excluded_tags; i++)
        for (size_t t = 0; t < sp->n_tags; t++)
            if (sp->tags[t]->key && strcmp(sp->tags[t]->key, s->excluded_tags[i]) == 0)
                return true;
    return false;
}

static vn_span_ingest_rc_t splunk_ingest(vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    splunk_sink_t *sk = s->impl;
    if (sp->id == 0 || sp->trace_id == 0 || sp->start_timestamp == 0 || sp->end_timestamp == 0 || !sp->name ||
        !sp->name[0])
        return VN_SPAN_SKIPPED; /* Go protocol.ValidateTrace */
    bool would_drop = sp->trace_id % sk->sample_rate != 0;
    if (would_drop && !sp->indicator)
        return VN_SPAN_SKIPPED;
    if (has_excluded_tag(s, sp))
        return VN_SPAN_SKIPPED;
    if (sk->nbatch > 0 && sk->batch_close_at > 0 && vn_clock_mono_s() >= sk->batch_close_at)
        close_batch(s);
    size_t before = vn_buf_len(&sk->batch);
    if (write_event(sk, &sk->batch, sp, s->hostname, would_drop) != VN_OK) {
        vn_buf_truncate(&sk->batch, before);
        if (sk->nbatch == 0)
            return VN_SPAN_DROPPED; /* alone larger than a request body may be */
        close_batch(s);
        if (write_event(sk, &sk->batch, sp, s->hostname, would_drop) != VN_OK) {
            vn_buf_reset(&sk->batch);
            return VN_SPAN_DROPPED;
        }
    }
    if (sk->nbatch++ == 0 && sk->lifetime_s + sk->jitter_s > 0)
        sk->batch_close_at = vn_clock_mono_s() + sk->lifetime_s + sk->jitter_s * rand_unit(sk);
    if (sk->nbatch >= sk->batch_size)
        close_batch(s);
    return VN_SPAN_TAKEN;
}

static void splunk_flush(vn_span_sink_t *s, const vn_span_flush_info_t *info)
{
    splunk_sink_t *sk = s->impl;
    if (info->final || sk->batch_close_at == 0 || vn_clock_mono_s() >= sk->batch_close_at)
        close_batch(s);
    if (info->final) {
        /* what is still queued at the deadline is abandoned by destroy (grace 0) */
        const struct timespec tick = {0, 5 * 1000 * 1000};
        while (vn_stats_get(&sk->dstats.queue_payloads) > 0 && vn_clock_mono_s() < info->deadline_s)
            nanosleep(&tick, NULL);
    }
    move_counts(s);
}

static void splunk_free_impl(splunk_sink_t *sk)
{
    free(sk->url);
    free(sk->auth_header);
    free(sk->token);
    free(sk->connect_to);
    free(sk->host_header);
    free(sk->tags);
    vn_buf_free(&sk->batch);
    free(sk);
}

static void splunk_destroy(vn_span_sink_t *s)
{
    splunk_sink_t *sk = s->impl;
    if (!sk)
        return;
    vn_delivery_free(sk->dl); /* drain grace 0: ends what is in flight now, counted as dropped */
    move_counts(s);
    /* the totals at exit, also for operators without a /metrics scraper */
    VN_LOG(INFO, "event=span_sink_stopped sink=%s kind=splunk delivered=%llu delivery_failed=%llu dropped=%llu",
           s->name, (unsigned long long)sk->seen_delivered, (unsigned long long)sk->seen_failed,
           (unsigned long long)sk->seen_dropped);
    splunk_free_impl(sk);
    s->impl = NULL;
}

static const vn_span_sink_ops_t splunk_ops = {"splunk", splunk_ingest, splunk_flush, splunk_destroy};

/* ------------------------------------------------------------ config */

/* Go's hecClient.url: hec_address.ResolveReference("services/collector") (the
 * last path segment of the address is replaced; an empty path becomes "/"),
 * query and fragment of the address dropped, then ?channel=<uuid>. Dot
 * segments in the address path are kept as written.
 *
 * tls_name (https only, NULL/"" for none) is Go's tls.Config.ServerName: the
 * URL gets that host (so libcurl sends it as SNI and checks the certificate
 * against it), *connect_to sends the connection to the address's host and
 * port, and *host_hdr keeps the address's Host header, as Go's request has. */
static char *hec_url(const char *addr, const char *channel, const char *tls_name, char **connect_to,
                     char **host_hdr)
{
    *connect_to = *host_hdr = NULL;
    const char *auth = strstr(addr, "://") + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *path = auth + alen;
    size_t plen = strcspn(path, "?#");
    size_t dir = plen;
    while (dir > 0 && path[dir - 1] != '/')
        dir--;
    vn_buf_t b = VN_BUF_INIT(1 << 16);
    vn_err_t err = VN_OK;
    if (tls_name && *tls_name && strncmp(addr, "https://", 8) == 0) {
        /* [userinfo@]host[:port]; host may be an [IPv6] literal */
        const char *at = memchr(auth, '@', alen);
        const char *host = at ? at + 1 : auth;
        size_t hlen = (size_t)(auth + alen - host);
        const char *close = host[0] == '[' ? memchr(host, ']', hlen) : NULL;
        const char *colon = memchr(close ? close : host, ':', hlen - (size_t)((close ? close : host) - host));
        size_t name_len = colon ? (size_t)(colon - host) : hlen;
        const char *port = colon ? colon + 1 : "443";
        size_t port_len = colon ? hlen - name_len - 1 : 3;
        if (port_len == 0)
            port = "443", port_len = 3;
        char tmp[1024];
        if (snprintf(tmp, sizeof tmp, "%s:%.*s:%.*s:%.*s", tls_name, (int)port_len, port, (int)name_len, host,
                     (int)port_len, port) >= (int)sizeof tmp)
            return NULL;
        *connect_to = vn_xstrdup(tmp);
        if (snprintf(tmp, sizeof tmp, "Host: %.*s", (int)hlen, host) >= (int)sizeof tmp) {
            free(*connect_to);
            *connect_to = NULL;
            return NULL;
        }
        *host_hdr = vn_xstrdup(tmp);
        err = vn_buf_printf(&b, "https://%.*s%s:%.*s", (int)(host - auth), auth, tls_name, (int)port_len, port);
    } else {
        err = vn_buf_add(&b, addr, (size_t)(auth - addr) + alen);
    }
    if (err == VN_OK)
        err = dir == 0 ? vn_buf_add_byte(&b, '/') : vn_buf_add(&b, path, dir);
    if (err == VN_OK)
        err = vn_buf_printf(&b, "services/collector?channel=%s", channel);
    char *url = err == VN_OK ? vn_xstrdup(vn_buf_ptr(&b)) : NULL;
    vn_buf_free(&b);
    if (!url) {
        free(*connect_to);
        free(*host_hdr);
        *connect_to = *host_hdr = NULL;
    }
    return url;
}

/* A random (version 4) UUID, lower-case, as satori/go.uuid's String(). */
static void uuid_v4(char out[37], uint64_t *seed_out)
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof r; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[i] = (unsigned char)x;
        }
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    uint64_t seed = 0;
    memcpy(&seed, r, sizeof seed);
    *seed_out = seed | 1; /* xorshift must not start at 0 */
}

static vn_err_t get_int(const vn_span_sink_t *s, const vn_sink_config_t *sc, const char *key, long long *out,
                        char *errbuf, size_t errcap)
{
    const char *v = vn_sink_config_get(sc, key);
    *out = 0;
    if (!v || !*v)
        return VN_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"%s\": invalid integer \"%.60s\"", s->name,
                                  key, v);
    *out = x;
    return VN_OK;
}

static vn_err_t get_dur(const vn_span_sink_t *s, const vn_sink_config_t *sc, const char *key, double *out,
                        char *errbuf, size_t errcap)
{
    const char *v = vn_sink_config_get(sc, key);
    *out = 0;
    if (!v || !*v)
        return VN_OK;
    if (vn_config_parse_duration(v, out) != VN_OK || *out < 0)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"%s\": invalid duration \"%.60s\" (e.g. 10s)",
                                  s->name, key, v);
    return VN_OK;
}

/* Reads the keys into sk (allocated, zeroed) and o (the delivery defaults, adjusted). */
static vn_err_t parse(vn_span_sink_t *s, const vn_sink_config_t *sc, splunk_sink_t *sk, vn_delivery_opts_t *o,
                      char *errbuf, size_t errcap)
{
    const char *addr = vn_sink_config_get(sc, "hec_address"), *token = vn_sink_config_get(sc, "hec_token");
    if (!addr || !*addr)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"hec_address\": missing", s->name);
    if (!((strncmp(addr, "http://", 7) == 0 && addr[7]) || (strncmp(addr, "https://", 8) == 0 && addr[8])))
        return vn_span_sink__errf(errbuf, errcap,
                                  "span sink \"%s\": key \"hec_address\": invalid value \"%.200s\" (want an http:// or "
                                  "https:// URL)",
                                  s->name, addr);
    if (!token || !*token)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"hec_token\": missing", s->name);
    const char *tlsname = vn_sink_config_get(sc, "hec_tls_validate_hostname");
    if (tlsname && strpbrk(tlsname, ":/@[]?# \t\r\n"))
        return vn_span_sink__errf(errbuf, errcap,
                                  "span sink \"%s\": key \"hec_tls_validate_hostname\": invalid value \"%.100s\" "
                                  "(want a host name)",
                                  s->name, tlsname);
    long long batch, workers, rate;
    double ingest_to, send_to;
    vn_err_t err = get_int(s, sc, "hec_batch_size", &batch, errbuf, errcap);
    if (err == VN_OK)
        err = get_int(s, sc, "hec_submission_workers", &workers, errbuf, errcap);
    if (err == VN_OK)
        err = get_int(s, sc, "span_sample_rate", &rate, errbuf, errcap);
    if (err == VN_OK)
        err = get_dur(s, sc, "hec_max_connection_lifetime", &sk->lifetime_s, errbuf, errcap);
    if (err == VN_OK)
        err = get_dur(s, sc, "hec_connection_lifetime_jitter", &sk->jitter_s, errbuf, errcap);
    if (err == VN_OK)
        err = get_dur(s, sc, "hec_ingest_timeout", &ingest_to, errbuf, errcap);
    if (err == VN_OK)
        err = get_dur(s, sc, "hec_send_timeout", &send_to, errbuf, errcap);
    if (err != VN_OK)
        return err;
    sk->batch_size = batch < 1 ? 1 : (size_t)batch;
    sk->sample_rate = rate < 1 ? 1 : rate;
    /* Go: HecSendTimeout is decoded from hec_max_connection_lifetime (its yaml tag) */
    if (send_to <= 0)
        send_to = sk->lifetime_s;
    if (send_to > 0 && !vn_sink_config_get(sc, "request_timeout"))
        o->request_timeout_s = send_to;
    if (!vn_sink_config_get(sc, "max_in_flight"))
        o->max_in_flight = workers < 1 ? 1 : workers > SPLUNK_WORKERS_MAX ? SPLUNK_WORKERS_MAX : (unsigned)workers;
    o->drain_grace_s = 0; /* the final flush drains until its deadline */
    char channel[37];
    uuid_v4(channel, &sk->rng);
    sk->url = hec_url(addr, channel, tlsname, &sk->connect_to, &sk->host_header);
    if (!sk->url)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"hec_address\": too long", s->name);
    sk->token = vn_xstrdup(token);
    size_t hl = strlen(token) + 32;
    sk->auth_header = vn_xmalloc(hl);
    snprintf(sk->auth_header, hl, "Authorization: Splunk %s", token);
    return VN_OK;
}

/* The constructor with an injectable transport (NULL: libcurl), for the unit tests. */
static vn_err_t splunk_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                           vn_http_transport_t *transport, char *errbuf, size_t errcap)
{
    splunk_sink_t *sk = vn_xcalloc(1, sizeof *sk);
    vn_buf_init(&sk->batch, SPLUNK_BATCH_MAX);
    vn_delivery_opts_t o;
    vn_err_t err = vn_delivery_config(sc, cfg, s->name, &o, errbuf, errcap);
    if (err == VN_OK)
        err = parse(s, sc, sk, &o, errbuf, errcap);
    if (err != VN_OK) {
        if (transport)
            transport->ops->destroy(transport);
        splunk_free_impl(sk);
        return err;
    }
    o.name = s->name;
    const char *secrets[] = {sk->token};
    o.secrets = secrets;
    o.nsecrets = 1;
    sk->dl = vn_delivery_new(&o, transport);
    vn_delivery_bind_stats(sk->dl, &sk->dstats);
    s->impl = sk;
    s->ops = &splunk_ops;
    VN_LOG(INFO,
           "event=span_sink_started sink=%s kind=splunk batch_size=%zu workers=%u sample_rate=%lld "
           "lifetime_s=%.3f jitter_s=%.3f request_timeout_s=%.3f max_queue_bytes=%zu",
           s->name, sk->batch_size, o.max_in_flight, (long long)sk->sample_rate, sk->lifetime_s, sk->jitter_s,
           o.request_timeout_s, o.max_queue_bytes);
    return VN_OK;
}

vn_err_t vn_span_sink__splunk_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                  char *errbuf, size_t errcap)
{
    return splunk_new(s, sc, cfg, NULL, errbuf, errcap);
}
