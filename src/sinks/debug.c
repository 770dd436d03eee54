/*
 * debug.c - the "debug" metric sink: one human-readable line per flushed metric
 * and per event, for `make run` and for eyeballing what a sink would receive.
 *
 *     flush ts=1700000000 type=counter name=a.b.c value=3 tags=[a:b,c:d] host=h
 *     flush ts=1700000000 type=status name=svc.up value=1 tags=[] host=h message="all good"
 *     event ts=1700000000 title="deploy" text="v2 out" host="h" priority="normal" tags=[env:prod]
 *
 * Values use the shortest round-trip form (core/gonum.h, Go encoding/json layout;
 * NaN/+Inf/-Inf spelled out). Counters show the raw interval sum. Bytes below
 * 0x20 and 0x7f in names, tags and hosts are written as \xNN so each metric
 * stays on one line; quoted fields also escape '"' and '\\'.
 *
 * Config (all optional): `output`: a file path (opened for append at start), or
 * "-" / absent for stdout. Excluded tags (tags_exclude) and veneursinkonly
 * targets are honoured like any other sink.
 *
 * Output is built in a capped buffer and written with one fwrite + fflush per
 * flush (more only when a flush is larger than the 4 MiB buffer; then every
 * write still ends on a line boundary).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gonum.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/sink_internal.h"

#define DEBUG_BUF_MAX (4u << 20)

typedef struct debug_sink {
    FILE *out;
    bool owned; /* out was opened by us (not stdout) */
    vn_buf_t buf;
} debug_sink_t;

/* Appends s with control bytes as \xNN; quoted adds "..." and escapes '"', '\\'. */
static vn_err_t add_text(vn_buf_t *b, const char *s, bool quoted)
{
    static const char hex[] = "0123456789abcdef";
    vn_err_t err = VN_OK;
    if (!s)
        s = "";
    if (quoted)
        err = vn_buf_add_byte(b, '"');
    const char *run = s;
    for (const char *p = s; err == VN_OK && *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[4];
        size_t n;
        if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 0xF];
            n = 4;
        } else if (quoted && (c == '"' || c == '\\')) {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else {
            continue;
        }
        err = vn_buf_add(b, run, (size_t)(p - run));
        if (err == VN_OK)
            err = vn_buf_add(b, esc, n);
        run = p + 1;
    }
    if (err == VN_OK)
        err = vn_buf_add_str(b, run);
    if (err == VN_OK && quoted)
        err = vn_buf_add_byte(b, '"');
    return err;
}

static vn_err_t add_tags(vn_buf_t *b, const vn_sink_t *s, const char *const *tags, size_t n)
{
    vn_err_t err = vn_buf_add_str(b, " tags=[");
    bool first = true;
    for (size_t i = 0; err == VN_OK && i < n; i++) {
        if (vn_sink__tag_excluded(s, tags[i]))
            continue;
        if (!first)
            err = vn_buf_add_byte(b, ',');
        first = false;
        if (err == VN_OK)
            err = add_text(b, tags[i], false);
    }
    if (err == VN_OK)
        err = vn_buf_add_byte(b, ']');
    return err;
}

static vn_err_t metric_line(vn_buf_t *b, const vn_sink_t *s, const void *item)
{
    const vn_inter_metric_t *m = item;
    char num[VN_GONUM_FLOAT_MAX];
    vn_gonum_format_float(m->value, VN_GONUM_FMT_JSON, num, sizeof num); /* NaN, +Inf as 'f' writes them */
    vn_err_t err =
        vn_buf_printf(b, "flush ts=%lld type=%s name=", (long long)m->timestamp, vn_sink__type_name(m->type));
    if (err == VN_OK)
        err = add_text(b, m->name, false);
    if (err == VN_OK)
        err = vn_buf_printf(b, " value=%s", num);
    if (err == VN_OK)
        err = add_tags(b, s, m->tags, m->ntags);
    if (err == VN_OK)
        err = vn_buf_add_str(b, " host=");
    if (err == VN_OK)
        err = add_text(b, m->hostname, false);
    if (err == VN_OK && m->type == VN_IM_STATUS) {
        err = vn_buf_add_str(b, " message=");
        if (err == VN_OK)
            err = add_text(b, m->message, true);
    }
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '\n');
    return err;
}

/* " key=\"value\"" for optional event fields that are set. */
static vn_err_t add_opt(vn_buf_t *b, const char *key, const char *v)
{
    if (!v || !v[0])
        return VN_OK;
    vn_err_t err = vn_buf_printf(b, " %s=", key);
    if (err == VN_OK)
        err = add_text(b, v, true);
    return err;
}

static vn_err_t event_line(vn_buf_t *b, const vn_sink_t *s, const void *item)
{
    const vn_sink_event_t *ev = item;
    vn_err_t err = vn_buf_printf(b, "event ts=%lld title=", (long long)ev->timestamp);
    if (err == VN_OK)
        err = add_text(b, ev->title, true);
    if (err == VN_OK)
        err = vn_buf_add_str(b, " text=");
    if (err == VN_OK)
        err = add_text(b, ev->text, true);
    if (err == VN_OK)
        err = add_opt(b, "host", ev->hostname);
    if (err == VN_OK)
        err = add_opt(b, "aggregation_key", ev->agg_key);
    if (err == VN_OK)
        err = add_opt(b, "priority", ev->priority);
    if (err == VN_OK)
        err = add_opt(b, "source_type", ev->source_type);
    if (err == VN_OK)
        err = add_opt(b, "alert_type", ev->alert_type);
    if (err == VN_OK)
        err = add_tags(b, s, ev->tags, ev->ntags);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '\n');
    return err;
}

static vn_err_t write_out(debug_sink_t *d)
{
    size_t n = vn_buf_len(&d->buf);
    vn_err_t err = VN_OK;
    if (n && fwrite(vn_buf_ptr(&d->buf), 1, n, d->out) != n)
        err = VN_ERR_IO;
    if (fflush(d->out) != 0)
        err = VN_ERR_IO;
    vn_buf_reset(&d->buf);
    return err;
}

typedef vn_err_t (*line_fn)(vn_buf_t *b, const vn_sink_t *s, const void *item);

/* Adds one line; when the buffer is full, writes out the whole lines so far and
 * retries. A line longer than the whole buffer is dropped (counted in *skipped). */
static vn_err_t add_line(vn_sink_t *s, line_fn fn, const void *item, size_t *skipped)
{
    debug_sink_t *d = s->impl;
    size_t mark = vn_buf_len(&d->buf);
    vn_err_t err = fn(&d->buf, s, item);
    if (err != VN_ERR_TOO_LARGE)
        return err;
    vn_buf_truncate(&d->buf, mark);
    if (mark > 0) {
        err = write_out(d);
        if (err != VN_OK)
            return err;
        err = fn(&d->buf, s, item);
        if (err != VN_ERR_TOO_LARGE)
            return err;
        vn_buf_reset(&d->buf);
    }
    (*skipped)++;
    return VN_OK;
}

/* One line per item (n items, `size` bytes apart; metrics only when they are for s), then the
 * buffer goes out. *skipped counts the items too large for a line. */
static vn_err_t write_lines(vn_sink_t *s, line_fn fn, const void *items, size_t n, size_t size, bool metrics,
                            size_t *skipped)
{
    debug_sink_t *d = s->impl;
    vn_err_t err = VN_OK;
    vn_buf_reset(&d->buf);
    for (size_t i = 0; err == VN_OK && i < n; i++) {
        const void *item = (const char *)items + i * size;
        if (!metrics || vn_sink__wants(s, item))
            err = add_line(s, fn, item, skipped);
    }
    vn_err_t werr = write_out(d);
    return err == VN_OK ? werr : err;
}

static vn_err_t debug_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    (void)info;
    size_t skipped = 0;
    vn_err_t err = write_lines(s, metric_line, m, n, sizeof *m, true, &skipped);
    if (err == VN_OK && skipped)
        err = VN_ERR_TOO_LARGE;
    return err;
}

static void debug_flush_events(vn_sink_t *s, const vn_sink_event_t *ev, size_t n, const vn_flush_info_t *info)
{
    (void)info;
    size_t skipped = 0;
    vn_err_t err = write_lines(s, event_line, ev, n, sizeof *ev, false, &skipped);
    if (err != VN_OK || skipped)
        VN_LOG(WARN, "event=sink_events_failed sink=%s err=\"%s\" skipped=%zu", s->name, vn_strerror(err),
               skipped);
}

static void debug_destroy(vn_sink_t *s)
{
    debug_sink_t *d = s->impl;
    if (!d)
        return;
    if (d->owned)
        fclose(d->out);
    vn_buf_free(&d->buf);
    free(d);
    s->impl = NULL;
}

static const vn_sink_ops_t debug_ops = {
    .kind = "debug",
    .flush = debug_flush,
    .flush_events = debug_flush_events,
    .destroy = debug_destroy,
};

vn_err_t vn_sink__debug_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                            size_t errcap)
{
    (void)cfg;
    const char *path = vn_sink_config_get(sc, "output");
    FILE *out = stdout;
    bool owned = false;
    if (path && path[0] && strcmp(path, "-") != 0) {
        out = fopen(path, "a");
        if (!out) {
            if (errbuf && errcap)
                snprintf(errbuf, errcap, "sink \"%s\": config key output: cannot open \"%s\" for appending: %s",
                         s->name, path, strerror(errno));
            return VN_ERR_IO;
        }
        owned = true;
    }
    debug_sink_t *d = vn_xcalloc(1, sizeof *d);
    d->out = out;
    d->owned = owned;
    vn_buf_init(&d->buf, DEBUG_BUF_MAX);
    s->impl = d;
    s->ops = &debug_ops;
    return VN_OK;
}
