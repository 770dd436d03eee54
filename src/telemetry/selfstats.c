/* selfstats.c - vn_stats_t deltas as Go Veneur's veneur.* DogStatsD metrics (see selfstats.h). */
#include "telemetry/selfstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "telemetry/statsd_out.h"

/* Counters whose previous value we keep; indexes into prev[]. */
enum {
    P_SAMPLES,
    P_IMPORTED,
    P_TCP_CONN,
    P_TCP_DISC,
    P_TLS_FAIL,
    P_TOO_LONG,
    P_PERR_METRIC,
    P_PERR_EVENT,
    P_PERR_SC,
    P_FWD_CALLS,
    P_FWD_FAIL, /* 3 slots: one per VN_FWD_CAUSE_* */
    P_FWD_SENT = P_FWD_FAIL + 3,
    P_FWD_FAILED_M,
    P_FWD_DUR,
    P_SSF_SPANS,
    P_SSF_ROOT,
    P_SSF_EMPTY,
    P_SSF_CHAN_CAP,
    P_PROTO,                          /* VN_PROTO__COUNT entries */
    P_SINK = P_PROTO + VN_PROTO__COUNT, /* S__COUNT entries per sink */
};
enum { S_FLUSHED, S_ERRORS, S_DROPPED, S_R_SKIP, S_R_NAME, S_R_TAGS, S_R_TAGLEN, S_R_OK, S_D_NAME, S_D_TAGS, S_D_TAGLEN,
       S__COUNT };
#define P_SPAN_SINK (P_SINK + VN_STATS_MAX_SINKS * S__COUNT) /* SP__COUNT entries per span sink */
enum { SP_FLUSHED, SP_DROPPED, SP_SKIPPED, SP__COUNT };
#define NPREV (P_SPAN_SINK + VN_STATS_MAX_SINKS * SP__COUNT)

struct vn_selfstats {
    const vn_config_t *cfg;
    vn_stats_t *st; /* borrowed; only self_metrics_dropped is written */
    vn_statsd_out_t *out;
    const char *scope_c, *scope_g, *scope_h; /* ",veneurlocalonly:true" / ",veneurglobalonly:true" / "" */
    uint64_t prev[NPREV];
};

static const char *scope_tag(const char *v)
{
    if (v && strcmp(v, "local") == 0)
        return "veneurlocalonly:true";
    if (v && strcmp(v, "global") == 0)
        return "veneurglobalonly:true";
    return "";
}

vn_err_t vn_selfstats_new(const vn_config_t *cfg, vn_stats_t *stats, vn_selfstats_t **out, char *err,
                          size_t errcap)
{
    *out = NULL;
    if (!cfg->stats_address || !cfg->stats_address[0])
        return VN_OK;
    vn_selfstats_t *s = vn_xcalloc(1, sizeof *s);
    s->cfg = cfg;
    s->st = stats;
    s->scope_c = scope_tag(cfg->veneur_metrics_scopes_counter);
    s->scope_g = scope_tag(cfg->veneur_metrics_scopes_gauge);
    s->scope_h = scope_tag(cfg->veneur_metrics_scopes_histogram);
    vn_statsd_out_opts_t o = {.address = cfg->stats_address,
                              .ns = "veneur.",
                              .tags = (const char *const *)cfg->veneur_metrics_additional_tags.v,
                              .ntags = cfg->veneur_metrics_additional_tags.n};
    vn_err_t rc = vn_statsd_out_open(&o, &s->out, err, errcap);
    if (rc != VN_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return VN_OK;
}

/* A line with the scope tag of its type appended to tags (Go's scopedstatsd). */
static void line(vn_selfstats_t *s, const char *name, double v, const char *type, const char *tags)
{
    const char *scope = type[0] == 'c' ? s->scope_c : type[0] == 'g' ? s->scope_g : s->scope_h;
    char all[512];
    snprintf(all, sizeof all, "%s%s%s", tags ? tags : "", tags && tags[0] && scope[0] ? "," : "", scope);
    vn_statsd_out_add(s->out, name, v, type, all[0] ? all : NULL);
}

static uint64_t delta(vn_selfstats_t *s, size_t i, uint64_t now)
{
    uint64_t d = now >= s->prev[i] ? now - s->prev[i] : 0;
    s->prev[i] = now;
    return d;
}

/* Go's listen.received_per_protocol_total tag values, by vn_proto_t (the same as /metrics' protocol label). */
static const char *const proto_names[VN_PROTO__COUNT] = {
    [VN_PROTO_UDP] = "dogstatsd-udp",   [VN_PROTO_TCP] = "dogstatsd-tcp", [VN_PROTO_UNIXGRAM] = "dogstatsd-unixgram",
    [VN_PROTO_UNIX] = "dogstatsd-unix", [VN_PROTO_GRPC] = "dogstatsd-grpc"};

static uint64_t get(const _Atomic uint64_t *c) { return vn_stats_get(c); }

static void count(vn_selfstats_t *s, const char *name, size_t i, uint64_t now, const char *tags)
{
    line(s, name, (double)delta(s, i, now), "c", tags);
}

/* Go's metric_type tag per (type, scope); NULL where Go has no such bucket. */
static const char *type_tag(int type, int scope, bool global_instance)
{
    static const char *const local_side[VN_MT__COUNT][3] = {
        [VN_MT_COUNTER] = {"counter", "counter", NULL},
        [VN_MT_GAUGE] = {"gauge", "gauge", NULL},
        [VN_MT_HISTOGRAM] = {NULL, "local_histogram", NULL},
        [VN_MT_TIMER] = {NULL, "local_timer", NULL},
        [VN_MT_SET] = {NULL, "local_set", NULL},
        [VN_MT_STATUS] = {"status", "status", "status"},
    };
    static const char *const global_side[VN_MT__COUNT][3] = {
        [VN_MT_COUNTER] = {NULL, NULL, "global_counter"},
        [VN_MT_GAUGE] = {NULL, NULL, "global_gauge"},
        [VN_MT_HISTOGRAM] = {"histogram", NULL, "global_histogram"},
        [VN_MT_TIMER] = {"timer", NULL, "global_timers"},
        [VN_MT_SET] = {"set", NULL, "set"},
    };
    const char *t = local_side[type][scope];
    if (!t && global_instance)
        t = global_side[type][scope];
    return t;
}

static void flushed_by_type(vn_selfstats_t *s, const vn_flush_report_t *r, bool global_instance)
{
    /* Fixed order of Go's tag values, so the set of lines never depends on what arrived. */
    static const char *const local_names[] = {"counter", "gauge", "local_histogram", "local_set", "local_timer",
                                              "status"};
    static const char *const global_names[] = {"global_counter", "global_gauge", "global_histogram",
                                               "global_timers", "histogram", "set", "timer"};
    uint64_t lv[6] = {0}, gv[7] = {0};
    for (int t = 0; t < VN_MT__COUNT; t++)
        for (int sc = 0; sc < 3; sc++) {
            const char *name = type_tag(t, sc, global_instance);
            if (!name)
                continue;
            for (size_t k = 0; k < 6; k++)
                if (strcmp(name, local_names[k]) == 0)
                    lv[k] += r->by_type_scope[t][sc];
            for (size_t k = 0; k < 7; k++)
                if (strcmp(name, global_names[k]) == 0)
                    gv[k] += r->by_type_scope[t][sc];
        }
    char tag[64];
    for (size_t k = 0; k < 6; k++) {
        snprintf(tag, sizeof tag, "metric_type:%s", local_names[k]);
        line(s, "worker.metrics_flushed_total", (double)lv[k], "c", tag);
    }
    for (size_t k = 0; global_instance && k < 7; k++) {
        snprintf(tag, sizeof tag, "metric_type:%s", global_names[k]);
        line(s, "worker.metrics_flushed_total", (double)gv[k], "c", tag);
    }
}

static void sinks(vn_selfstats_t *s)
{
    const vn_stats_t *st = s->st;
    bool routing = s->cfg->features_enable_metric_sink_routing;
    for (size_t i = 0; i < st->n_sinks && i < VN_STATS_MAX_SINKS; i++) {
        const vn_stats_sink_t *k = &st->sinks[i];
        size_t b = P_SINK + i * S__COUNT;
        char nk[256], tags[320];
        snprintf(nk, sizeof nk, "sink_name:%s,sink_kind:%s", k->name ? k->name : "", k->kind ? k->kind : "");
        uint64_t flushed = delta(s, b + S_FLUSHED, get(&k->flushed));
        uint64_t errors = delta(s, b + S_ERRORS, get(&k->errors));
        snprintf(tags, sizeof tags, "sink:%s", k->name ? k->name : "");
        line(s, "sink.metrics_flushed_total", (double)flushed, "c", tags);
        count(s, "sink.metrics_dropped_total", b + S_DROPPED, get(&k->dropped) + get(&k->delivery_failed), tags);
        snprintf(tags, sizeof tags, "cause:io,sink:%s", k->name ? k->name : "");
        line(s, "flush.error_total", (double)errors, "c", tags);
        line(s, "sink.metric_flush_total_duration_ms", (double)get(&k->last_duration_ns) / 1e6, "ms", nk);
        if (!routing)
            continue;
        static const struct {
            const char *status;
            size_t slot, field;
        } rs[] = {{"skipped", S_R_SKIP, offsetof(vn_stats_sink_t, route_skipped)},
                  {"max_name_length", S_R_NAME, offsetof(vn_stats_sink_t, route_max_name_length)},
                  {"max_tags", S_R_TAGS, offsetof(vn_stats_sink_t, route_max_tags)},
                  {"max_tag_length", S_R_TAGLEN, offsetof(vn_stats_sink_t, route_max_tag_length)},
                  {"flushed", S_R_OK, offsetof(vn_stats_sink_t, route_flushed)}};
        for (size_t j = 0; j < sizeof rs / sizeof rs[0]; j++) {
            const _Atomic uint64_t *c = (const _Atomic uint64_t *)(const void *)((const char *)k + rs[j].field);
            snprintf(tags, sizeof tags, "%s,status:%s,veneurglobalonly:true", nk, rs[j].status);
            count(s, "flushed_metrics", b + rs[j].slot, get(c), tags);
        }
        /* Go tags each drop with metric_name too; that tag's cardinality is unbounded, so the
         * interval's drops are counted per sink and reason instead (docs/operations.md 4.1). */
        static const struct {
            const char *reason;
            size_t slot, field;
        } ds[] = {{"max_name_length", S_D_NAME, offsetof(vn_stats_sink_t, route_dropped_max_name_length)},
                  {"max_tags", S_D_TAGS, offsetof(vn_stats_sink_t, route_dropped_max_tags)},
                  {"max_tag_length", S_D_TAGLEN, offsetof(vn_stats_sink_t, route_dropped_max_tag_length)}};
        for (size_t j = 0; j < sizeof ds / sizeof ds[0]; j++) {
            const _Atomic uint64_t *c = (const _Atomic uint64_t *)(const void *)((const char *)k + ds[j].field);
            snprintf(tags, sizeof tags, "%s,reason:%s,veneurglobalonly:true", nk, ds[j].reason);
            count(s, "dropped_metrics", b + ds[j].slot, get(c), tags);
        }
    }
}

/* Go's span sink keys (sinks/sinks.go) tagged sink:NAME, and the span worker's counters. */
static void span_sinks(vn_selfstats_t *s)
{
    const vn_stats_t *st = s->st;
    if (st->n_span_sinks == 0 && get(&st->ssf_spans_received) == 0)
        return;
    count(s, "ssf.spans.received_total", P_SSF_SPANS, get(&st->ssf_spans_received), NULL);
    count(s, "ssf.spans.root.received_total", P_SSF_ROOT, get(&st->ssf_root_spans_received), NULL);
    count(s, "worker.ssf.empty_total", P_SSF_EMPTY, get(&st->ssf_spans_empty), NULL);
    count(s, "worker.span.hit_chan_cap", P_SSF_CHAN_CAP, get(&st->ssf_spans_dropped), NULL);
    for (size_t i = 0; i < st->n_span_sinks && i < VN_STATS_MAX_SINKS; i++) {
        const vn_stats_span_sink_t *k = &st->span_sinks[i];
        size_t b = P_SPAN_SINK + i * SP__COUNT;
        char tags[256];
        snprintf(tags, sizeof tags, "sink:%s", k->name ? k->name : "");
        count(s, "sink.spans_flushed_total", b + SP_FLUSHED, get(&k->delivered), tags);
        count(s, "sink.spans_dropped_total", b + SP_DROPPED,
              get(&k->queue_dropped) + get(&k->dropped) + get(&k->delivery_failed), tags);
        count(s, "sink.spans_skipped_total", b + SP_SKIPPED, get(&k->skipped), tags);
        line(s, "sink.span_flush_total_duration_ns", (double)get(&k->last_flush_ns), "ms", tags);
    }
}

void vn_selfstats_report(vn_selfstats_t *s, const vn_flush_report_t *r)
{
    if (!s)
        return;
    const vn_stats_t *st = s->st;
    bool global_instance = !s->cfg->forward_address || !s->cfg->forward_address[0];
    count(s, "worker.metrics_processed_total", P_SAMPLES, get(&st->samples), NULL);
    count(s, "worker.metrics_imported_total", P_IMPORTED, get(&st->import_metrics_received), NULL);
    flushed_by_type(s, r, global_instance);
    line(s, "flush.flush_timestamp_ns", (double)r->done_unix_ns, "g", NULL);
    if (s->cfg->count_unique_timeseries)
        line(s, "flush.unique_timeseries_total", (double)r->series, "c",
             global_instance ? "global_veneur:true" : "global_veneur:false");
    for (int p = 0; p < VN_PROTO__COUNT; p++) {
        char tag[64];
        snprintf(tag, sizeof tag, "protocol:%s", proto_names[p]);
        count(s, "listen.received_per_protocol_total", P_PROTO + (size_t)p, get(&st->packets[p]), tag);
    }
    uint64_t pm = 0, pe = 0, ps = 0;
    for (int e = 1; e < VN_PARSE_ERR__COUNT; e++) {
        uint64_t v = get(&st->parse_errors[e]);
        if (e >= VN_PARSE_ERR_SC_PREFIX)
            ps += v;
        else if (e >= VN_PARSE_ERR_EV_NO_COLON)
            pe += v;
        else
            pm += v;
    }
    count(s, "packet.error_total", P_PERR_METRIC, pm, "packet_type:metric,reason:parse");
    count(s, "packet.error_total", P_PERR_EVENT, pe, "packet_type:event,reason:parse");
    count(s, "packet.error_total", P_PERR_SC, ps, "packet_type:service_check,reason:parse");
    count(s, "packet.error_total", P_TOO_LONG, get(&st->packet_too_long), "packet_type:unknown,reason:toolong");
    count(s, "tcp.connects", P_TCP_CONN, get(&st->tcp_connects), NULL);
    count(s, "tcp.disconnects", P_TCP_DISC, get(&st->tcp_disconnects), NULL);
    count(s, "tcp.tls_handshake_failures", P_TLS_FAIL, get(&st->tls_handshake_failures), NULL);
    if (!global_instance) {
        uint64_t calls = delta(s, P_FWD_CALLS, get(&st->forward_calls));
        uint64_t fails = 0;
        static const char *const cause[3] = {[VN_FWD_CAUSE_DEADLINE] = "cause:deadline_exceeded",
                                             [VN_FWD_CAUSE_UNAVAILABLE] = "cause:transient_unavailable",
                                             [VN_FWD_CAUSE_SEND] = "cause:send"};
        uint64_t by_cause[3];
        for (size_t c = 0; c < 3; c++) {
            by_cause[c] = delta(s, P_FWD_FAIL + c, get(&st->forward_failures_by_cause[c]));
            fails += by_cause[c];
        }
        uint64_t sent = delta(s, P_FWD_SENT, get(&st->forward_metrics_sent));
        uint64_t failed = delta(s, P_FWD_FAILED_M, get(&st->forward_metrics_failed));
        uint64_t dur = delta(s, P_FWD_DUR, get(&st->forward_duration_ns_total));
        line(s, "forward.metrics_total", (double)(sent + failed), "g", NULL);
        for (size_t c = 0; c < 3; c++)
            line(s, "forward.error_total", (double)by_cause[c], "c", cause[c]);
        if (calls + fails)
            line(s, "forward.duration_ns", (double)dur / (double)(calls + fails), "h", "part:grpc");
    }
    sinks(s);
    span_sinks(s);
    vn_statsd_out_flush(s->out);
    atomic_store_explicit(&s->st->self_metrics_dropped, vn_statsd_out_counts(s->out).dgrams_dropped,
                          memory_order_relaxed);
}

void vn_selfstats_free(vn_selfstats_t *s)
{
    if (!s)
        return;
    vn_statsd_out_free(s->out);
    free(s);
}
