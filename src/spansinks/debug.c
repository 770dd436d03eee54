/*
 * debug.c - the "debug" span sink (Go sinks/debug span sink, and [v13]
 * debug_ingested_spans): one line per span, for eyeballing what arrives.
 *
 *     span service="svc" name="op" trace_id=1 id=2 parent_id=1 start=1700000000000000000
 *          duration_ns=1500 info="IE" metrics=2 tags={"k":"v"}
 *
 * (one line; info holds I for an indicator span, E for an error span, as Go's.)
 * Strings are JSON-quoted so a hostile name cannot break the line. Go logs these
 * at debug level through logrus; we write them to `output` (a file path, or
 * "-"/absent for stdout), buffered per interval and written with one fwrite.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "spansinks/span_sink_internal.h"

#define DEBUG_BUF_MAX (4u << 20)

typedef struct debug_span_sink {
    FILE *out;
    bool owned;
    vn_buf_t buf;
} debug_span_sink_t;

static void write_out(debug_span_sink_t *d)
{
    if (vn_buf_len(&d->buf) == 0)
        return;
    if (fwrite(vn_buf_ptr(&d->buf), 1, vn_buf_len(&d->buf), d->out) != vn_buf_len(&d->buf) || fflush(d->out) != 0)
        VN_LOG(WARN, "event=span_debug_write_failed errno=%d", errno);
    vn_buf_reset(&d->buf);
}

static vn_err_t span_line(vn_buf_t *b, const vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    const char *svc = sp->service ? sp->service : "", *name = sp->name ? sp->name : "";
    vn_err_t err = vn_buf_add_str(b, "span service=");
    if (err == VN_OK)
        err = vn_json_add_string(b, svc, strlen(svc));
    if (err == VN_OK)
        err = vn_buf_add_str(b, " name=");
    if (err == VN_OK)
        err = vn_json_add_string(b, name, strlen(name));
    if (err == VN_OK)
        err = vn_buf_printf(b, " trace_id=%lld id=%lld parent_id=%lld start=%lld duration_ns=%lld info=\"%s%s\" metrics=%zu",
                            (long long)sp->trace_id, (long long)sp->id, (long long)sp->parent_id,
                            (long long)sp->start_timestamp, (long long)(sp->end_timestamp - sp->start_timestamp),
                            sp->indicator ? "I" : "", sp->error ? "E" : "", sp->n_metrics);
    if (err == VN_OK)
        err = vn_buf_add_str(b, " tags={");
    bool first = true;
    for (size_t i = 0; err == VN_OK && i < sp->n_tags; i++) {
        const char *k = sp->tags[i]->key ? sp->tags[i]->key : "", *v = sp->tags[i]->value ? sp->tags[i]->value : "";
        if (vn_span_sink_tag_excluded(s, k))
            continue;
        if (!first)
            err = vn_buf_add_byte(b, ',');
        first = false;
        if (err == VN_OK)
            err = vn_json_add_string(b, k, strlen(k));
        if (err == VN_OK)
            err = vn_buf_add_byte(b, ':');
        if (err == VN_OK)
            err = vn_json_add_string(b, v, strlen(v));
    }
    if (err == VN_OK)
        err = vn_buf_add_str(b, "}\n");
    return err;
}

static vn_span_ingest_rc_t debug_ingest(vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    debug_span_sink_t *d = s->impl;
    size_t before = vn_buf_len(&d->buf);
    if (span_line(&d->buf, s, sp) == VN_OK)
        return VN_SPAN_TAKEN;
    vn_buf_truncate(&d->buf, before);
    write_out(d); /* full: make room once */
    if (span_line(&d->buf, s, sp) == VN_OK)
        return VN_SPAN_TAKEN;
    vn_buf_reset(&d->buf); /* one span larger than the buffer */
    return VN_SPAN_DROPPED;
}

static void debug_flush(vn_span_sink_t *s, const vn_span_flush_info_t *info)
{
    (void)info;
    write_out(s->impl);
}

static void debug_destroy(vn_span_sink_t *s)
{
    debug_span_sink_t *d = s->impl;
    if (!d)
        return;
    write_out(d);
    if (d->owned)
        fclose(d->out);
    vn_buf_free(&d->buf);
    free(d);
    s->impl = NULL;
}

static const vn_span_sink_ops_t debug_ops = {"debug", debug_ingest, debug_flush, debug_destroy};

vn_err_t vn_span_sink__debug_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                 char *errbuf, size_t errcap)
{
    (void)cfg;
    const char *path = sc ? vn_sink_config_get(sc, "output") : NULL;
    debug_span_sink_t *d = vn_xcalloc(1, sizeof *d);
    d->out = stdout;
    if (path && *path && strcmp(path, "-") != 0) {
        d->out = fopen(path, "ae");
        if (!d->out) {
            free(d);
            vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": output \"%s\": %s", s->name, path, strerror(errno));
            return VN_ERR_IO;
        }
        d->owned = true;
    }
    vn_buf_init(&d->buf, DEBUG_BUF_MAX);
    s->impl = d;
    s->ops = &debug_ops;
    return VN_OK;
}
