/*
 * datadog.c - the "datadog" span sink (Go sinks/datadog DatadogSpanSink): spans
 * to a Datadog trace agent's v0.3 trace API.
 *
 *   span_sinks:
 *     - kind: datadog
 *       config:
 *         datadog_trace_api_address: http://127.0.0.1:8126   # required
 *         datadog_span_buffer_size: 16384                     # 0/absent: 16384
 *         # delivery (sinks/delivery.h): max_queue_bytes, max_payload_age,
 *         # request_timeout, max_in_flight
 *
 * Ingest (Go Ingest): spans that are not valid traces (Go protocol.ValidateTrace:
 * ids, timestamps and name set) are skipped; the rest are encoded at once into
 * a ring that keeps the newest datadog_span_buffer_size spans (Go
 * container/ring). Go overwrites the oldest without a count; we count each
 * overwritten span as dropped, and also overwrite when the encoded spans pass
 * VN_DDSPAN_RING_BYTES (Go has no byte cap).
 *
 * Flush (Go Flush): one request per interval holding every buffered span,
 * `PUT {address}/v0.3/traces`, Content-Type application/json, body = JSON array
 * of traces, a trace being the array of its spans (grouped by trace id). Each
 * span is Go's DatadogTraceSpan:
 *
 *   {"duration":end-start (ns),"error":2 if span.error else 0,
 *    "meta":{span tags but "resource"},"metrics":null,"name":name or "unknown",
 *    "parent_id":parent (left out when <= 0),"resource":tag "resource" or "unknown",
 *    "service":service,"span_id":id,"start":start (ns),"trace_id":trace_id,"type":"web"}
 *
 * Go sets no sampling priority and no metrics, always type "web" (a span tag
 * "type" stays in meta), and its tags_exclude does not reach this sink (it has
 * no SetExcludedTags), so neither does ours.
 *
 * The flush only builds the body and enqueues it: a delivery queue thread
 * sends it (and retries transient failures, which Go does not), so a dead
 * agent never holds the sink thread past its deadline. The final flush waits
 * for the queue to empty until min(deadline, interval, 5 s), then the queue is
 * freed without further grace. Delivery outcomes are counted per span on
 * s->stats: delivered (2xx), delivery_failed (rejected, expired), dropped
 * (evicted from a full queue, unsent at shutdown).
 */
#include "spansinks/datadog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/delivery.h"
#include "ssf/convert.h"
#include "spansinks/span_sink_internal.h"

/* ------------------------------------------------------------ span JSON */

/* encoding/json's string, HTML escaping included (core/json.h). */
static vn_err_t put_go_string(vn_buf_t *b, const char *s)
{
    return vn_json_add_string_html(b, s ? s : "", s ? strlen(s) : 0);
}

typedef struct tag_ref {
    const char *k, *v;
    size_t i; /* position in the span: the last of equal keys wins (protobuf map rule) */
} tag_ref_t;

static int tag_cmp(const void *a, const void *b)
{
    const tag_ref_t *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Go map iteration over span.Tags, as encoding/json writes a map: keys sorted. */
static vn_err_t put_meta(vn_buf_t *b, const Ssf__SSFSpan *span, const char **resource)
{
    size_t n = span->n_tags;
    tag_ref_t stackv[64];
    tag_ref_t *v = n <= 64 ? stackv : vn_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        const Ssf__SSFSpan__TagsEntry *e = span->tags[i];
        v[i] = (tag_ref_t){e && e->key ? e->key : "", e && e->value ? e->value : "", i};
    }
    qsort(v, n, sizeof *v, tag_cmp);
    vn_err_t err = vn_buf_add_byte(b, '{');
    bool first = true;
    for (size_t i = 0; i < n && err == VN_OK; i++) {
        if (i + 1 < n && strcmp(v[i].k, v[i + 1].k) == 0)
            continue; /* a later duplicate replaces this one */
        if (strcmp(v[i].k, "resource") == 0) {
            *resource = v[i].v;
            continue;
        }
        if (!first)
            err = vn_buf_add_byte(b, ',');
        first = false;
        if (err == VN_OK)
            err = put_go_string(b, v[i].k);
        if (err == VN_OK)
            err = vn_buf_add_byte(b, ':');
        if (err == VN_OK)
            err = put_go_string(b, v[i].v);
    }
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '}');
    if (v != stackv)
        free(v);
    return err;
}

vn_err_t vn_ddspan_json_write(vn_buf_t *b, const Ssf__SSFSpan *span)
{
    /* Go int64 subtraction wraps; so does this one */
    int64_t duration = (int64_t)((uint64_t)span->end_timestamp - (uint64_t)span->start_timestamp);
    const char *resource = "";
    vn_err_t err = vn_buf_printf(b, "{\"duration\":%lld,\"error\":%d,\"meta\":", (long long)duration,
                                 span->error ? 2 : 0);
    if (err == VN_OK)
        err = put_meta(b, span, &resource);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"metrics\":null,\"name\":");
    if (err == VN_OK)
        err = put_go_string(b, span->name && *span->name ? span->name : "unknown");
    if (err == VN_OK && span->parent_id > 0) /* Go: <= 0 becomes 0, which omitempty leaves out */
        err = vn_buf_printf(b, ",\"parent_id\":%lld", (long long)span->parent_id);
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"resource\":");
    if (err == VN_OK)
        err = put_go_string(b, *resource ? resource : "unknown");
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"service\":");
    if (err == VN_OK)
        err = put_go_string(b, span->service);
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"span_id\":%lld,\"start\":%lld,\"trace_id\":%lld,\"type\":\"web\"}",
                            (long long)span->id, (long long)span->start_timestamp, (long long)span->trace_id);
    return err;
}

/* ------------------------------------------------------------ span ring */

void vn_ddspan_buf_init(vn_ddspan_buf_t *rb, size_t max_spans, size_t ring_bytes)
{
    memset(rb, 0, sizeof *rb);
    rb->_max_spans = max_spans ? max_spans : 1;
    rb->_slot = vn_xcalloc(rb->_max_spans, sizeof *rb->_slot);
    rb->_order = vn_xcalloc(rb->_max_spans, sizeof *rb->_order);
    rb->_cap = ring_bytes ? ring_bytes : 1;
    rb->_bytes = vn_xmalloc(rb->_cap);
    vn_buf_init(&rb->_scratch, VN_DDSPAN_MAX_SPAN_JSON);
}

void vn_ddspan_buf_destroy(vn_ddspan_buf_t *rb)
{
    if (!rb)
        return;
    free(rb->_slot);
    free(rb->_order);
    free(rb->_bytes);
    vn_buf_free(&rb->_scratch);
    memset(rb, 0, sizeof *rb);
}

size_t vn_ddspan_buf_count(const vn_ddspan_buf_t *rb)
{
    return rb->_n;
}

static void evict_oldest(vn_ddspan_buf_t *rb)
{
    const vn_ddspan_slot_t *o = &rb->_slot[rb->_head];
    rb->_bused -= o->len;
    rb->_bhead = rb->_n > 1 ? rb->_slot[(rb->_head + 1) % rb->_max_spans].off : 0;
    rb->_head = (rb->_head + 1) % rb->_max_spans;
    rb->_n--;
    if (rb->_n == 0)
        rb->_head = rb->_bhead = 0;
}

vn_err_t vn_ddspan_buf_add(vn_ddspan_buf_t *rb, const Ssf__SSFSpan *span, size_t *evicted)
{
    *evicted = 0;
    vn_buf_reset(&rb->_scratch);
    if (vn_ddspan_json_write(&rb->_scratch, span) != VN_OK || vn_buf_len(&rb->_scratch) > rb->_cap)
        return VN_ERR_TOO_LARGE;
    size_t len = vn_buf_len(&rb->_scratch);
    while (rb->_n == rb->_max_spans || rb->_bused + len > rb->_cap) {
        evict_oldest(rb);
        (*evicted)++;
    }
    size_t off = (rb->_bhead + rb->_bused) % rb->_cap, first = rb->_cap - off < len ? rb->_cap - off : len;
    memcpy(rb->_bytes + off, vn_buf_ptr(&rb->_scratch), first);
    memcpy(rb->_bytes, vn_buf_ptr(&rb->_scratch) + first, len - first);
    if (rb->_n == 0)
        rb->_bhead = off;
    rb->_bused += len;
    rb->_slot[(rb->_head + rb->_n) % rb->_max_spans] =
        (vn_ddspan_slot_t){.trace_id = span->trace_id, .seq = rb->_seq++, .off = off, .len = len};
    rb->_n++;
    return VN_OK;
}

/* qsort has no context argument: the slots being ordered, one owner thread at a time */
static _Thread_local const vn_ddspan_buf_t *sort_rb;

static int order_cmp(const void *a, const void *b)
{
    const vn_ddspan_slot_t *x = &sort_rb->_slot[*(const uint32_t *)a], *y = &sort_rb->_slot[*(const uint32_t *)b];
    if (x->trace_id != y->trace_id)
        return x->trace_id < y->trace_id ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

char *vn_ddspan_buf_take(vn_ddspan_buf_t *rb, size_t *len, size_t *nspans, size_t *ntraces)
{
    *len = *nspans = *ntraces = 0;
    size_t n = rb->_n;
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        rb->_order[i] = (uint32_t)((rb->_head + i) % rb->_max_spans);
    sort_rb = rb;
    qsort(rb->_order, n, sizeof *rb->_order, order_cmp);
    sort_rb = NULL;
    size_t traces = 1;
    for (size_t i = 1; i < n; i++)
        traces += rb->_slot[rb->_order[i]].trace_id != rb->_slot[rb->_order[i - 1]].trace_id;
    /* "[" + spans + a comma between spans + "[]" and a comma per trace - the last comma + "]\n" */
    size_t total = 1 + rb->_bused + (n - 1) + 2 * traces + 2;
    char *body = vn_xmalloc(total + 1), *w = body;
    *w++ = '[';
    for (size_t i = 0; i < n; i++) {
        const vn_ddspan_slot_t *sl = &rb->_slot[rb->_order[i]];
        bool opens = i == 0 || sl->trace_id != rb->_slot[rb->_order[i - 1]].trace_id;
        if (opens && i > 0) {
            *w++ = ']';
            *w++ = ',';
        } else if (!opens) {
            *w++ = ',';
        }
        if (opens)
            *w++ = '[';
        size_t first = rb->_cap - sl->off < sl->len ? rb->_cap - sl->off : sl->len;
        memcpy(w, rb->_bytes + sl->off, first);
        memcpy(w + first, rb->_bytes, sl->len - first);
        w += sl->len;
    }
    *w++ = ']';
    *w++ = ']';
    *w++ = '\n';
    *w = '\0';
    *len = (size_t)(w - body); /* == total */
    *nspans = n;
    *ntraces = traces;
    rb->_head = rb->_n = rb->_bhead = rb->_bused = 0; /* Go: a new ring each flush */
    return body;
}

/* ------------------------------------------------------------ sink */

typedef struct dd_span_sink {
    vn_ddspan_buf_t rb;
    char *url; /* {address}/v0.3/traces */
    vn_delivery_t *dl;
    vn_stats_sink_t dst; /* the queue's counters, bound before it sends anything */
    uint64_t seen_delivered, seen_failed, seen_dropped; /* already copied to s->stats */
    double final_wait_s;
} dd_span_sink_t;

/* Moves what the delivery queue counted since last time onto the span sink's slot. */
static void sync_stats(vn_span_sink_t *s)
{
    dd_span_sink_t *dd = s->impl;
    uint64_t d = vn_stats_get(&dd->dst.delivered), f = vn_stats_get(&dd->dst.delivery_failed),
             x = vn_stats_get(&dd->dst.dropped);
    if (s->stats) {
        vn_stats_add(&s->stats->delivered, d - dd->seen_delivered);
        vn_stats_add(&s->stats->delivery_failed, f - dd->seen_failed);
        vn_stats_add(&s->stats->dropped, x - dd->seen_dropped);
    }
    dd->seen_delivered = d;
    dd->seen_failed = f;
    dd->seen_dropped = x;
}

static vn_span_ingest_rc_t dd_ingest(vn_span_sink_t *s, const Ssf__SSFSpan *span)
{
    dd_span_sink_t *dd = s->impl;
    if (!vn_ssf_valid_trace(span))
        return VN_SPAN_SKIPPED;
    size_t evicted = 0;
    if (vn_ddspan_buf_add(&dd->rb, span, &evicted) != VN_OK)
        return VN_SPAN_DROPPED;
    if (evicted && s->stats)
        vn_stats_add(&s->stats->dropped, evicted);
    return VN_SPAN_TAKEN;
}

static void dd_flush(vn_span_sink_t *s, const vn_span_flush_info_t *info)
{
    dd_span_sink_t *dd = s->impl;
    if (!dd->dl) /* after the final flush: nothing can be sent any more */
        return;
    size_t len, nspans, ntraces;
    char *body = vn_ddspan_buf_take(&dd->rb, &len, &nspans, &ntraces);
    if (body) {
        vn_delivery_req_t r = {
            .what = "traces",
            .url = dd->url,
            .headers = {"Content-Type: application/json"},
            .nheaders = 1,
            .body = body,
            .len = len,
            .nmetrics = nspans,
            .method = "PUT",
        };
        vn_delivery_enqueue(dd->dl, &r); /* a refusal is counted by the queue (dropped) */
        VN_LOG(DEBUG, "event=span_flush sink=%s traces=%zu spans=%zu bytes=%zu", s->name, ntraces, nspans, len);
    }
    if (info && info->final) {
        double until = vn_clock_mono_s() + dd->final_wait_s;
        if (info->deadline_s < until)
            until = info->deadline_s;
        const vn_stats_sink_t *q = vn_delivery_stats(dd->dl);
        while (vn_stats_get(&q->queue_payloads) > 0 && vn_clock_mono_s() < until) {
            struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        vn_delivery_free(dd->dl); /* no grace left: aborts and counts what is still queued */
        dd->dl = NULL;
    }
    sync_stats(s);
}

static void dd_destroy(vn_span_sink_t *s)
{
    dd_span_sink_t *dd = s->impl;
    if (!dd)
        return;
    if (dd->dl) {
        vn_delivery_free(dd->dl);
        dd->dl = NULL;
        sync_stats(s);
    }
    vn_ddspan_buf_destroy(&dd->rb);
    free(dd->url);
    free(dd);
    s->impl = NULL;
}

static const vn_span_sink_ops_t dd_ops = {"datadog", dd_ingest, dd_flush, dd_destroy};

static bool http_url(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 && u[7]) || (strncmp(u, "https://", 8) == 0 && u[8]);
}

vn_err_t vn_span_sink__datadog_new_with(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                        vn_http_transport_t *transport, char *errbuf, size_t errcap)
{
    const char *addr = sc ? vn_sink_config_get(sc, "datadog_trace_api_address") : NULL;
    const char *bs = sc ? vn_sink_config_get(sc, "datadog_span_buffer_size") : NULL;
    vn_err_t err = VN_OK;
    long long size = VN_DDSPAN_DEFAULT_BUFFER_SIZE;
    if (!addr || !*addr) {
        err = vn_span_sink__errf(errbuf, errcap, "span sink \"%s\" (datadog): key \"datadog_trace_api_address\": "
                                 "missing (e.g. http://127.0.0.1:8126)", s->name);
    } else if (!http_url(addr) || strlen(addr) > 4096) {
        err = vn_span_sink__errf(errbuf, errcap, "span sink \"%s\" (datadog): key \"datadog_trace_api_address\": "
                                 "invalid value \"%.200s\" (want an http:// or https:// URL)", s->name, addr);
    } else if (bs && *bs) {
        char *end;
        long long v = strtoll(bs, &end, 10);
        if (*end || end == bs || v < 0 || v > (long long)VN_DDSPAN_MAX_BUFFER_SIZE)
            err = vn_span_sink__errf(errbuf, errcap, "span sink \"%s\" (datadog): key \"datadog_span_buffer_size\": "
                                     "invalid value \"%.60s\" (0 .. %u; 0: %u)", s->name, bs,
                                     VN_DDSPAN_MAX_BUFFER_SIZE, VN_DDSPAN_DEFAULT_BUFFER_SIZE);
        else if (v > 0)
            size = v;
    }
    vn_delivery_opts_t o;
    if (err == VN_OK)
        err = vn_delivery_config(sc, cfg, s->name, &o, errbuf, errcap);
    if (err != VN_OK) {
        if (transport)
            transport->ops->destroy(transport);
        return err;
    }
    dd_span_sink_t *dd = vn_xcalloc(1, sizeof *dd);
    size_t alen = strlen(addr);
    while (alen > 0 && addr[alen - 1] == '/')
        alen--;
    size_t ulen = alen + sizeof "/v0.3/traces";
    dd->url = vn_xmalloc(ulen);
    snprintf(dd->url, ulen, "%.*s/v0.3/traces", (int)alen, addr);
    vn_ddspan_buf_init(&dd->rb, (size_t)size, VN_DDSPAN_RING_BYTES);
    /* the final flush drains within its deadline; freeing the queue then adds no grace */
    dd->final_wait_s = o.drain_grace_s;
    o.drain_grace_s = 0;
    o.name = s->name;
    dd->dl = vn_delivery_new(&o, transport);
    vn_delivery_bind_stats(dd->dl, &dd->dst);
    s->impl = dd;
    s->ops = &dd_ops;
    VN_LOG(INFO, "event=span_sink_started sink=%s kind=datadog buffer_size=%lld max_queue_bytes=%zu", s->name, size,
           o.max_queue_bytes);
    return VN_OK;
}

vn_err_t vn_span_sink__datadog_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                   char *errbuf, size_t errcap)
{
    return vn_span_sink__datadog_new_with(s, sc, cfg, NULL, errbuf, errcap);
}
