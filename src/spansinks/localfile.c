/*
 * localfile.c - the "localfile" span sink (veneur-c; Go has only a metric
 * localfile sink): every span as one JSON object per line (span_json.c, Go's
 * encoding/json layout of SSFSpan), appended to `flush_file` once per
 * interval, for scripts and tests.
 *
 *   span_sinks:
 *     - kind: localfile
 *       config:
 *         flush_file: /var/tmp/spans.jsonl   # required
 *
 * The file is opened O_APPEND|O_CREAT|O_NONBLOCK at each write (rotation-safe,
 * and a FIFO without a reader fails at once instead of hanging the sink). A
 * write that does not go through whole (disk full, RLIMIT_FSIZE) is cut back
 * with ftruncate so the file always ends on a whole line; its spans are
 * counted as failed. The buffer holds at most 8 MiB; when a span does not fit,
 * what is buffered is written out first.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "spansinks/span_sink_internal.h"

#define LF_BUF_MAX (8u << 20)

typedef struct lf_span_sink {
    char *path;
    vn_buf_t buf;
    uint64_t spans; /* in buf */
} lf_span_sink_t;

static bool write_whole(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

static void write_out(vn_span_sink_t *s)
{
    lf_span_sink_t *lf = s->impl;
    if (vn_buf_len(&lf->buf) == 0)
        return;
    int fd = open(lf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0666);
    bool ok = false;
    if (fd >= 0) {
        struct stat sb;
        off_t before = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? sb.st_size : -1;
        ok = write_whole(fd, vn_buf_ptr(&lf->buf), vn_buf_len(&lf->buf));
        if (!ok && before >= 0 && ftruncate(fd, before) != 0)
            VN_LOG(WARN, "event=span_localfile_truncate_failed errno=%d", errno);
        close(fd);
    }
    if (ok) {
        if (s->stats)
            vn_stats_add(&s->stats->delivered, lf->spans);
    } else {
        VN_LOG(WARN, "event=span_localfile_write_failed sink=%s errno=%d spans=%llu", s->name, errno,
               (unsigned long long)lf->spans);
        if (s->stats)
            vn_stats_add(&s->stats->delivery_failed, lf->spans);
    }
    vn_buf_reset(&lf->buf);
    lf->spans = 0;
}

static bool append_span(vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    lf_span_sink_t *lf = s->impl;
    size_t before = vn_buf_len(&lf->buf);
    if (vn_span_json_write(&lf->buf, sp, s) == VN_OK && vn_buf_add_byte(&lf->buf, '\n') == VN_OK) {
        lf->spans++;
        return true;
    }
    vn_buf_truncate(&lf->buf, before);
    return false;
}

static vn_span_ingest_rc_t lf_ingest(vn_span_sink_t *s, const Ssf__SSFSpan *sp)
{
    if (append_span(s, sp))
        return VN_SPAN_TAKEN;
    write_out(s);
    return append_span(s, sp) ? VN_SPAN_TAKEN : VN_SPAN_DROPPED;
}

static void lf_flush(vn_span_sink_t *s, const vn_span_flush_info_t *info)
{
    (void)info;
    write_out(s);
}

static void lf_destroy(vn_span_sink_t *s)
{
    lf_span_sink_t *lf = s->impl;
    if (!lf)
        return;
    vn_buf_free(&lf->buf);
    free(lf->path);
    free(lf);
    s->impl = NULL;
}

static const vn_span_sink_ops_t lf_ops = {"localfile", lf_ingest, lf_flush, lf_destroy};

vn_err_t vn_span_sink__localfile_new(vn_span_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg,
                                     char *errbuf, size_t errcap)
{
    (void)cfg;
    const char *path = sc ? vn_sink_config_get(sc, "flush_file") : NULL;
    if (!path || !*path)
        return vn_span_sink__errf(errbuf, errcap, "span sink \"%s\": key \"flush_file\": missing", s->name);
    lf_span_sink_t *lf = vn_xcalloc(1, sizeof *lf);
    lf->path = vn_xstrdup(path);
    vn_buf_init(&lf->buf, LF_BUF_MAX);
    s->impl = lf;
    s->ops = &lf_ops;
    return VN_OK;
}
