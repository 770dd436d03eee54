/*
 * xray.c - the "xray" span sink (Go sinks/xray): each valid, sampled span
 * becomes one AWS X-Ray segment sent to the X-Ray daemon as one UDP datagram,
 *
 *   {"format": "json", "version": 1}\n<segment JSON>
 *
 * at once from ingest, as Go does (the sink runs on its own thread, and the
 * socket is non-blocking, so a slow daemon never stalls it).
 *
 *   span_sinks:
 *     - kind: xray
 *       config:
 *         address: 127.0.0.1:2000        # required: the daemon's UDP host:port
 *         annotation_tags: [svc, region] # span tags also written as annotations ("k:v" means k)
 *         sample_percentage: 100         # 0..100 of traces kept; Go's default 0 keeps almost none
 *
 * The segment, field by field, as Go's XRaySegment and encoding/json build it
 * (docs: xray-api-segmentdocuments; the field order is Go's struct order):
 *   name        service with every run of bytes outside [a-zA-Z0-9_.:/%&#=+\-@\\ \t\n\f\r]
 *               replaced by one '_', cut to 190 bytes, then "-indicator" for indicator spans
 *   id          fmt "%016x" of the span id; parent_id likewise, left out when 0
 *   trace_id    "1-%08x-%024x": root_start_timestamp / 1e9 (integer seconds), or when that is 0
 *               start_timestamp / 1e9 with its low byte cleared (stable for ~4 min of a trace's
 *               spans); then the trace id
 *   start_time, end_time  the ns timestamps / 1e9 as float64 seconds
 *   namespace   "remote";  error  the span's error flag (Go never sets fault)
 *   annotations the tags named by annotation_tags, plus "indicator": "true"/"false"
 *   metadata    every tag except xray_client_ip, plus "indicator"
 *   http        {"request": {method (tag http.method), client_ip (tag xray_client_ip),
 *               url (tag http.url, else "service:name")}, "response": {status (tag
 *               http.status_code when it is an integer 100..599)}}, always present
 * Go's fmt "%x" of a negative int64 is "-" and the magnitude, the sign counted
 * in the width; map keys are sorted bytewise; a repeated tag keeps its last
 * value (protobuf map); strings get Go's escaping, HTML escapes included.
 *
 * Sampling: kept when crc32-IEEE(decimal trace id) <= uint32(pct * (2^32-1) / 100),
 * so every span of a trace is kept or dropped together, the same ones Go keeps.
 *
 * Counting: invalid traces (Go protocol.ValidateTrace) and sampled-out spans
 * are SKIPPED; a segment over the datagram limit is DROPPED; a send the kernel
 * refuses (EAGAIN with a full socket buffer, ECONNREFUSED after an ICMP port
 * unreachable) is delivery_failed; a send that went out is delivered.
 * tags_exclude does not apply: Go's X-Ray sink has no SetExcludedTags.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "core/gonum.h"
#include "core/hostport.h"
#include "core/json.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "spansinks/span_sink_internal.h"
#include "ssf/convert.h"

#define XRAY_HEADER "{\"format\": \"json\", \"version\": 1}\n"
#define XRAY_NAME_MAX 190
/* UDP payload limits (65535 minus the IP and UDP headers; IPv6's header is not in its length) */
#define XRAY_MAX_DGRAM_V4 65507u
#define XRAY_MAX_DGRAM_V6 65527u

typedef struct xray_tag {
    const char *k, *v;
    size_t idx; /* position in the span, so a repeated key keeps its last value */
} xray_tag_t;

typedef struct xray_span_sink {
    int fd; /* connected, non-blocking UDP socket */
    size_t max_dgram;
    uint32_t sample_threshold;
    char **annotation_keys; /* owned, deduplicated */
    size_t n_annotation_keys;
    vn_buf_t dgram;   /* header + segment of the span being sent (reused) */
    vn_buf_t url;     /* Go's default request url "service:name" (reused) */
    xray_tag_t *tags; /* per-span scratch, grown to the largest span seen (bounded by trace_max_length_bytes) */
    size_t tags_cap;
    /* since the last flush, for the debug line Go writes there */
    uint64_t n_sent, n_sampled_out, n_failed;
} xray_span_sink_t;

/* ------------------------------------------------------------ segment fields */

/* Go fmt "%0<width>x" of an int64: a negative value is '-' and its magnitude, the sign inside the width. */
static size_t go_hex(int64_t v, int width, char *out, size_t cap)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return (size_t)snprintf(out, cap, v < 0 ? "-%0*llx" : "%0*llx", v < 0 ? width - 1 : width,
                            (unsigned long long)mag);
}

/* Go's name regexp: [^a-zA-Z0-9_\.\:\/\%\&#=+\-\@\s\\]+ (RE2 \s is \t \n \f \r and space). */
static bool name_byte_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("_.:/%&#=+-@\\ \t\n\f\r", c) != NULL;
}

/* Every maximal run of other bytes becomes one '_' (a multi-byte rune or an invalid byte is
 * such a byte run too, so a byte-wise pass matches Go's rune-wise one); cut to 190 bytes.
 * out needs XRAY_NAME_MAX + 1 bytes; the result is ASCII. */
static size_t clean_name(const char *svc, char *out)
{
    size_t n = 0;
    bool in_run = false;
    for (const unsigned char *p = (const unsigned char *)svc; *p && n < XRAY_NAME_MAX; p++) {
        if (name_byte_ok(*p)) {
            out[n++] = (char)*p;
            in_run = false;
        } else if (!in_run) {
            out[n++] = '_';
            in_run = true;
        }
    }
    out[n] = '\0';
    return n;
}

/* Go strconv.Atoi then the 100..599 check; 0 when Go would warn and leave status out. */
static int http_status(const char *v)
{
    int64_t st = 0;
    if (vn_gonum_parse_int64(v, strlen(v), 10, &st) != VN_GONUM_OK || st < 100 || st > 599)
        return 0;
    return (int)st;
}

/* Appends s as encoding/json.Marshal writes it, HTML escaping included (core/json.h). */
static vn_err_t put_string(vn_buf_t *b, const char *s)
{
    return vn_json_add_string_html(b, s, strlen(s));
}

static vn_err_t put_key(vn_buf_t *b, bool comma, const char *k)
{
    vn_err_t err = comma ? vn_buf_add_byte(b, ',') : VN_OK;
    if (err == VN_OK)
        err = put_string(b, k);
    return err == VN_OK ? vn_buf_add_byte(b, ':') : err;
}

static int tag_cmp(const void *a, const void *b)
{
    const xray_tag_t *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static bool is_annotation(const xray_span_sink_t *x, const char *k)
{
    if (strcmp(k, "indicator") == 0)
        return true;
    for (size_t i = 0; i < x->n_annotation_keys; i++)
        if (strcmp(x->annotation_keys[i], k) == 0)
            return true;
    return false;
}

static vn_err_t put_map(xray_span_sink_t *x, vn_buf_t *b, const char *name, size_t n, bool annotations)
{
    vn_err_t err = put_key(b, true, name);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '{');
    bool first = true;
    for (size_t i = 0; i < n && err == VN_OK; i++) {
        if (annotations && !is_annotation(x, x->tags[i].k))
            continue;
        err = put_key(b, !first, x->tags[i].k);
        if (err == VN_OK)
            err = put_string(b, x->tags[i].v);
        first = false;
    }
    return err == VN_OK ? vn_buf_add_byte(b, '}') : err;
}

/* The span's tags, last value per key, sorted, xray_client_ip out and "indicator" in: both
 * maps are this list (annotations filtered). Returns the count; *client_ip etc. from the tags. */
static size_t collect_tags(xray_span_sink_t *x, const Ssf__SSFSpan *sp, const char **client_ip, const char **url,
                           const char **method, const char **status)
{
    size_t need = sp->n_tags + 1;
    if (need > x->tags_cap) {
        x->tags = vn_xrealloc(x->tags, need * sizeof *x->tags);
        x->tags_cap = need;
    }
    size_t n = 0;
    for (size_t i = 0; i < sp->n_tags; i++) {
        const Ssf__SSFSpan__TagsEntry *e = sp->tags[i];
        x->tags[n++] = (xray_tag_t){e->key ? e->key : "", e->value ? e->value : "", i};
    }
    qsort(x->tags, n, sizeof *x->tags, tag_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(x->tags[i].k, x->tags[i + 1].k) == 0)
            continue; /* a later value of the same key follows */
        const xray_tag_t t = x->tags[i];
        if (strcmp(t.k, "xray_client_ip") == 0) {
            *client_ip = t.v;
            continue;
        }
        if (strcmp(t.k, "http.url") == 0)
            *url = t.v;
        else if (strcmp(t.k, "http.method") == 0)
            *method = t.v;
        else if (strcmp(t.k, "http.status_code") == 0)
            *status = t.v;
        if (strcmp(t.k, "indicator") == 0)
            continue; /* Go overwrites it below */
        x->tags[w++] = t;
    }
    /* "indicator" in its sorted place */
    size_t at = 0;
    while (at < w && strcmp(x->tags[at].k, "indicator") < 0)
        at++;
    memmove(x->tags + at + 1, x->tags + at, (w - at) * sizeof *x->tags);
    x->tags[at] = (xray_tag_t){"indicator", sp->indicator ? "true" : "false", 0};
    return w + 1;
}

/* Appends the segment document (no header, no newline) for sp. */
static vn_err_t put_segment(xray_span_sink_t *x, vn_buf_t *b, const Ssf__SSFSpan *sp)
{
    const char *client_ip = "", *url = NULL, *method = "", *status = NULL;
    size_t n = collect_tags(x, sp, &client_ip, &url, &method, &status);
    const char *service = sp->service ? sp->service : "", *op = sp->name ? sp->name : "";

    char name[XRAY_NAME_MAX + sizeof "-indicator"];
    size_t nl = clean_name(service, name);
    if (sp->indicator)
        memcpy(name + nl, "-indicator", sizeof "-indicator");
    int64_t secs = sp->root_start_timestamp / 1000000000;
    if (secs == 0)
        secs = (sp->start_timestamp / 1000000000) & INT64_C(0xFFFFFFFFFFFF00);
    char id[24], parent[24], tsec[24], tid[32], trace[64];
    go_hex(sp->id, 16, id, sizeof id);
    go_hex(sp->parent_id, 16, parent, sizeof parent);
    go_hex(secs, 8, tsec, sizeof tsec);
    go_hex(sp->trace_id, 24, tid, sizeof tid);
    snprintf(trace, sizeof trace, "1-%s-%s", tsec, tid);

    vn_err_t err = vn_buf_add_str(b, "{\"name\":");
    if (err == VN_OK)
        err = put_string(b, name);
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"id\":\"%s\",\"trace_id\":\"%s\"", id, trace);
    if (err == VN_OK && sp->parent_id != 0)
        err = vn_buf_printf(b, ",\"parent_id\":\"%s\"", parent);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"start_time\":");
    if (err == VN_OK)
        err = vn_json_add_double(b, (double)sp->start_timestamp / 1e9);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"end_time\":");
    if (err == VN_OK)
        err = vn_json_add_double(b, (double)sp->end_timestamp / 1e9);
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"namespace\":\"remote\",\"error\":%s", sp->error ? "true" : "false");
    if (err == VN_OK)
        err = put_map(x, b, "annotations", n, true);
    if (err == VN_OK)
        err = put_map(x, b, "metadata", n, false);

    /* http: Go's struct-valued fields are never omitted; their string fields are when empty */
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"http\":{\"request\":{");
    bool comma = false;
    if (err == VN_OK && *method) {
        err = put_key(b, false, "method");
        if (err == VN_OK)
            err = put_string(b, method);
        comma = true;
    }
    if (err == VN_OK && *client_ip) {
        err = put_key(b, comma, "client_ip");
        if (err == VN_OK)
            err = put_string(b, client_ip);
        comma = true;
    }
    if (err == VN_OK && (!url || *url)) {
        err = put_key(b, comma, "url");
        if (err == VN_OK && !url) { /* Go's default: "service:name" */
            vn_buf_reset(&x->url);
            if (vn_buf_add_str(&x->url, service) != VN_OK || vn_buf_add_byte(&x->url, ':') != VN_OK ||
                vn_buf_add_str(&x->url, op) != VN_OK || vn_buf_add_byte(&x->url, '\0') != VN_OK)
                err = VN_ERR_TOO_LARGE;
            url = vn_buf_ptr(&x->url);
        }
        if (err == VN_OK)
            err = put_string(b, url);
    }
    if (err == VN_OK)
        err = vn_buf_add_str(b, "},\"response\":{");
    int st = status ? http_status(status) : 0;
    if (err == VN_OK && st)
        err = vn_buf_printf(b, "\"status\":%d", st);
    if (status && !st)
        VN_LOG(WARN, "event=xray_malformed_status status=%s", VN_LOG_Q(status));
    if (err == VN_OK)
        err = vn_buf_add_str(b, "}}}");
    return err;
}

/* --------------------------------------------------------------- the sink */

/* Go: crc32.ChecksumIEEE(strconv.FormatInt(trace_id, 10)) <= threshold. */
static bool sampled_in(const xray_span_sink_t *x, int64_t trace_id)
{
    char dec[24];
    int n = snprintf(dec, sizeof dec, "%lld", (long long)trace_id);
    uint32_t h = (uint32_t)crc32(0L, (const Bytef *)dec, (uInt)n);
    return h <= x->sample_threshold;
}

static vn_span_ingest_rc_t xray_ingest(vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    xray_span_sink_t *x = s->impl;
    if (!vn_ssf_valid_trace(sp))
        return VN_SPAN_SKIPPED;
    if (!sampled_in(x, sp->trace_id)) {
        x->n_sampled_out++;
        return VN_SPAN_SKIPPED;
    }
    vn_buf_reset(&x->dgram);
    vn_err_t err = vn_buf_add_str(&x->dgram, XRAY_HEADER);
    if (err == VN_OK)
        err = put_segment(x, &x->dgram, sp);
    if (err != VN_OK || vn_buf_len(&x->dgram) > x->max_dgram) {
        VN_LOG(WARN, "event=xray_segment_too_large sink=%s max_bytes=%zu", s->name, x->max_dgram);
        return VN_SPAN_DROPPED;
    }
    ssize_t w;
    do
        w = send(x->fd, vn_buf_ptr(&x->dgram), vn_buf_len(&x->dgram), MSG_DONTWAIT | MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno == EMSGSIZE) { /* the route's limit is below ours */
        VN_LOG(WARN, "event=xray_segment_too_large sink=%s bytes=%zu", s->name, vn_buf_len(&x->dgram));
        return VN_SPAN_DROPPED;
    }
    if (w < 0) {
        int e = errno;
        VN_LOG(WARN, "event=xray_send_failed sink=%s errno=%d err=\"%s\"", s->name, e, strerror(e));
        x->n_failed++;
        if (s->stats)
            vn_stats_add(&s->stats->delivery_failed, 1);
        return VN_SPAN_TAKEN;
    }
    x->n_sent++;
    if (s->stats)
        vn_stats_add(&s->stats->delivered, 1);
    return VN_SPAN_TAKEN;
}

static void xray_flush(vn_span_sink_t *s, const vn_span_flush_info_t *info)
{
    (void)info;
    xray_span_sink_t *x = s->impl;
    VN_LOG(DEBUG, "event=xray_flush sink=%s flushed_spans=%llu sampled_out=%llu send_failed=%llu", s->name,
           (unsigned long long)x->n_sent, (unsigned long long)x->n_sampled_out, (unsigned long long)x->n_failed);
    x->n_sent = x->n_sampled_out = x->n_failed = 0;
}

static void xray_free_impl(xray_span_sink_t *x)
{
    if (!x)
        return;
    if (x->fd >= 0)
        close(x->fd);
    for (size_t i = 0; i < x->n_annotation_keys; i++)
        free(x->annotation_keys[i]);
    free(x->annotation_keys);
    vn_buf_free(&x->dgram);
    vn_buf_free(&x->url);
    free(x->tags);
    free(x);
}

static void xray_destroy(vn_span_sink_t *s)
{
    xray_free_impl(s->impl);
    s->impl = NULL;
}

static const vn_span_sink_ops_t xray_ops = {"xray", xray_ingest, xray_flush, xray_destroy};

/* Go resolves and dials once at start (net.DialUDP): the first address that takes a connect. */
static vn_err_t dial(vn_span_sink_t *s, xray_span_sink_t *x, const char *addr, char *errbuf, size_t errcap)
{
    char host[256], port[64];
    if (vn_hostport_split(addr, true, host, sizeof host, port, sizeof port) != VN_OK)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"address\": \"%s\" is not host:port",
                                  s->name, addr);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": address \"%s\": %s", s->name, addr, gai_strerror(rc));
        return VN_ERR_IO;
    }
    int e = 0;
    for (struct addrinfo *ai = res; ai && x->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            x->fd = fd;
            x->max_dgram = ai->ai_family == AF_INET6 ? XRAY_MAX_DGRAM_V6 : XRAY_MAX_DGRAM_V4;
            break;
        }
        e = errno;
        if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(res);
    if (x->fd < 0) {
        vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": address \"%s\": %s", s->name, addr, strerror(e));
        return VN_ERR_IO;
    }
    return VN_OK;
}

static vn_err_t parse_config(vn_span_sink_t *s, xray_span_sink_t *x, const vn_sink_config_t *sc, char *errbuf,
                             size_t errcap)
{
    const char *pct_s = vn_sink_config_get(sc, "sample_percentage");
    double pct = 0;
    if (pct_s && *pct_s &&
        (vn_gonum_parse_float(pct_s, strlen(pct_s), 0, &pct) != VN_GONUM_OK || !isfinite(pct)))
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"sample_percentage\": \"%s\" is not a number",
                                  s->name, pct_s);
    if (pct < 0) {
        VN_LOG(WARN, "event=xray_sample_percentage_clamped sink=%s value=%g to=0", s->name, pct);
        pct = 0;
    } else if (pct > 100) {
        VN_LOG(WARN, "event=xray_sample_percentage_clamped sink=%s value=%g to=100", s->name, pct);
        pct = 100;
    }
    if (pct == 0) /* Go's behaviour, but rarely what anyone wants */
        VN_LOG(WARN, "event=xray_sample_percentage_zero sink=%s msg=\"sample_percentage is 0 or unset: only "
                     "traces whose hash is 0 are sent\"", s->name);
    x->sample_threshold = (uint32_t)(pct * 4294967295.0 / 100.0);

    const vn_strlist_t *tags = vn_sink_config_list(sc, "annotation_tags");
    if (!tags && vn_sink_config_get(sc, "annotation_tags"))
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"annotation_tags\": want a list", s->name);
    for (size_t i = 0; tags && i < tags->n; i++) {
        const char *t = tags->v[i] ? tags->v[i] : "";
        size_t kl = strcspn(t, ":"); /* Go: strings.Split(tag, ":")[0] */
        bool dup = false;
        for (size_t j = 0; j < x->n_annotation_keys && !dup; j++)
            dup = strlen(x->annotation_keys[j]) == kl && memcmp(x->annotation_keys[j], t, kl) == 0;
        if (dup)
            continue;
        x->annotation_keys = vn_xrealloc(x->annotation_keys, (x->n_annotation_keys + 1) * sizeof *x->annotation_keys);
        x->annotation_keys[x->n_annotation_keys++] = vn_xstrndup(t, kl);
    }
    return VN_OK;
}

vn_err_t vn_span_sink__xray_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                                size_t errcap)
{
    (void)cfg;
    const char *addr = sc ? vn_sink_config_get(sc, "address") : NULL;
    if (!addr || !*addr)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"address\": missing", s->name);
    xray_span_sink_t *x = vn_xcalloc(1, sizeof *x);
    x->fd = -1;
    vn_buf_init(&x->dgram, XRAY_MAX_DGRAM_V6 + 1);
    vn_buf_init(&x->url, XRAY_MAX_DGRAM_V6 + 1);
    vn_err_t err = parse_config(s, x, sc, errbuf, errcap);
    if (err == VN_OK)
        err = dial(s, x, addr, errbuf, errcap);
    if (err != VN_OK) {
        xray_free_impl(x);
        return err;
    }
    VN_LOG(INFO, "event=xray_sink_created sink=%s address=%s", s->name, VN_LOG_Q(addr));
    s->impl = x;
    s->ops = &xray_ops;
    return VN_OK;
}
