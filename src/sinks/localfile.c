/*
 * localfile.c - the "localfile" metric sink: appends each flush to a file, as
 * Go Veneur's gzip-CSV (`format: csv`, the default) or as JSON lines
 * (`format: jsonl`, veneur-c's addition for tests and scripts; docs/behaviour.md 0.8, W4.7).
 *
 * Config keys (the sink's `config:` block):
 *   flush_file  required; the path (opened O_APPEND|O_CREAT on every flush, so a
 *               rotated-away file is recreated, as Go does)
 *   format      "csv" (default) | "jsonl"
 *   delimiter   csv only; the first UTF-8 rune of the string; default "\t"
 *               (Go requires it and refuses to write without one)
 *
 * jsonl: one object per metric per line, keys in this order, "message" only for
 * status checks; counters carry the raw interval sum:
 *
 *   {"name":"a.b","tags":["x:1"],"type":"counter","value":3,"timestamp":1700000000,"hostname":"h","interval":10}
 *
 * csv: localfile_csv.c; each flush appends one gzip member of rows.
 *
 * Whole lines only: a flush is built in memory and appended with write(2)
 * (looping over partial writes), so a reader polling the file sees complete
 * lines and complete gzip members at every moment between writes. A flush
 * bigger than the 64 MiB chunk cap is written as several chunks, each ending on
 * a line (csv: each its own gzip member), so memory stays bounded. Events are
 * never written. Excluded tags (tags_exclude) are left out; a metric with a
 * veneursinkonly target is written only by the sink of that name.
 *
 * Full disk: a chunk that cannot be written whole (ENOSPC, EFBIG past
 * RLIMIT_FSIZE, EDQUOT, any short write) is cut off again with ftruncate to the
 * size the file had before it, so the file always ends on a complete line or
 * gzip member and later flushes append to something readable. Its metrics are
 * counted as dropped (vn_stats_sink_t.dropped). Earlier chunks of the same
 * flush stay (each is whole on its own).
 *
 * Blocking opens: the path is opened O_NONBLOCK (then switched back), so a FIFO
 * without a reader fails at once (ENXIO) instead of blocking the sink; what
 * still blocks (a hung NFS server) blocks only this sink's own flush thread
 * (flush/sink_runner.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/gzip.h"
#include "core/json.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/xalloc.h"
#include "sinks/sink_internal.h"

#define LOCALFILE_CHUNK_MAX ((size_t)64 << 20)

typedef enum { LF_CSV, LF_JSONL } lf_format_t;

/* Longest hostname the jsonl fast path's line tail holds (escaped up to 6x); longer ones take the general path. */
#define VN_SINK_LOCALFILE_HOST_MAX 4096

/* The bytes between a jsonl line's tags and its value, for one type. */
typedef struct lf_mid {
    char text[48];
    size_t len;
} lf_mid_t;

typedef struct localfile {
    char *path; /* owned */
    lf_format_t format;
    char delim[5];
    size_t delim_len;
    vn_buf_t text; /* rows/lines of the chunk being built, capped at LOCALFILE_CHUNK_MAX
                    * (kept across flushes; tests re-init it smaller to exercise chunking) */
    vn_buf_t gz;   /* csv: the compressed member of that chunk */
    size_t chunk_metrics; /* metrics encoded into `text` */
    /* jsonl: the line tail shared by one flush call's metrics (see jsonl_fast) */
    vn_buf_t tail;
    int64_t tail_ts;
    const char *tail_host; /* the info->hostname it was built for (borrowed for the call only) */
    bool tail_ok;
    lf_mid_t mid[2];      /* jsonl: `],"type":"counter","value":` for VN_IM_COUNTER, VN_IM_GAUGE */
    uint64_t dropped;     /* metrics of chunks cut off again (full disk), since start */
} localfile_t;

static vn_err_t jsonl_line(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m,
                           const vn_flush_info_t *info)
{
    vn_json_t j;
    vn_json_init(&j, b);
    vn_json_object_begin(&j);
    vn_json_key(&j, "name");
    vn_json_string(&j, m->name ? m->name : "");
    vn_json_key(&j, "tags");
    vn_json_array_begin(&j);
    for (size_t i = 0; i < m->ntags; i++)
        if (!vn_sink__tag_excluded(s, m->tags[i]))
            vn_json_string(&j, m->tags[i]);
    vn_json_array_end(&j);
    vn_json_key(&j, "type");
    vn_json_string(&j, vn_sink__type_name(m->type));
    vn_json_key(&j, "value");
    vn_json_double(&j, m->value);
    vn_json_key(&j, "timestamp");
    vn_json_int(&j, m->timestamp);
    vn_json_key(&j, "hostname");
    vn_json_string(&j, m->hostname ? m->hostname : info->hostname ? info->hostname : "");
    vn_json_key(&j, "interval");
    vn_json_double(&j, info->interval_s);
    if (m->type == VN_IM_STATUS) {
        vn_json_key(&j, "message");
        vn_json_string(&j, m->message ? m->message : "");
    }
    vn_json_object_end(&j);
    vn_err_t err = vn_json_finish(&j);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '\n');
    return err;
}

/*
 * True when vn_json_put_string would copy s[0..n) verbatim: every byte in
 * 0x20..0x7f except '"' and '\\' (core/json.c's table). Eight bytes a step:
 * names and tags are short, and the byte-at-a-time table walk was the largest
 * single cost of a jsonl line (issue 22).
 */
static bool json_plain(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t bad = 0;
    size_t i = 0;
    for (;; i += 8) {
        uint64_t w = ones * 'a'; /* a short tail is padded with a plain byte */
        if (i + 8 <= n)
            memcpy(&w, s + i, 8);
        else if (i < n)
            memcpy(&w, s + i, n - i);
        else
            break;
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        /* any byte >= 0x80, < 0x20, == '"' or == '\\' sets its high bit (the
         * borrow tricks may flag more bytes only when one is already flagged) */
        bad |= w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
    }
    return (bad & high) == 0;
}

/* A JSON string at o: the quoted bytes when plain, else the escaping writer. */
static size_t put_str(char *o, const char *s, size_t n)
{
    if (!json_plain(s, n))
        return vn_json_put_string(o, s, n);
    o[0] = '"';
    memcpy(o + 1, s, n);
    o[n + 1] = '"';
    return n + 2;
}

/*
 * vn_json_put_double's text for the values most flushes carry (counts,
 * one-sample timers, set sizes): an integral value below 1e15 is its decimal
 * digits, as Go's 'f' layout of the shortest digits gives (exact in a double,
 * so the shortest digits are the integer's). Anything else goes to it.
 */
static size_t put_value(char *o, double v)
{
    if (!(fabs(v) < 1e15) || v != (double)(int64_t)v || v == 0)
        return vn_json_put_double(o, v); /* NaN, large, fractional, and +-0 (sign) */
    char tmp[20];
    size_t n = 0, k = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v;
    if (v < 0)
        o[n++] = '-';
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (k)
        o[n++] = tmp[--k];
    return n;
}

/*
 * jsonl_line's output for the common metric, byte for byte, without the
 * generic writer's per-token state: 1 M lines are what a 1 M-series flush
 * waits on once the sink queue is full (issue 22). Everything after "value"
 * (timestamp, hostname, interval) is the same for every metric of a flush
 * call that carries the call's hostname, so it is encoded once per call into
 * lf->tail; what lies between the tags and the value depends only on the
 * type (lf->mid, built at start). Returns false (nothing written) when the
 * metric needs the general path: a status check, or another hostname or timestamp.
 */
static bool jsonl_fast(localfile_t *lf, const vn_sink_t *s, const vn_inter_metric_t *m,
                       const vn_flush_info_t *info, vn_err_t *err)
{
    const char *ihost = info->hostname ? info->hostname : "";
    const char *host = m->hostname ? m->hostname : ihost;
    if ((m->type != VN_IM_COUNTER && m->type != VN_IM_GAUGE) || (host != ihost && strcmp(host, ihost) != 0))
        return false;
    if (!lf->tail_ok || lf->tail_ts != m->timestamp || lf->tail_host != info->hostname) {
        vn_buf_reset(&lf->tail);
        vn_json_t j;
        vn_json_init(&j, &lf->tail);
        vn_json_object_begin(&j); /* the keys' commas come from the writer; only the tail is kept */
        vn_json_key(&j, "timestamp");
        vn_json_int(&j, m->timestamp);
        vn_json_key(&j, "hostname");
        vn_json_string(&j, ihost);
        vn_json_key(&j, "interval");
        vn_json_double(&j, info->interval_s);
        vn_json_object_end(&j);
        if (vn_json_finish(&j) != VN_OK || vn_buf_add_byte(&lf->tail, '\n') != VN_OK)
            return false;
        lf->tail_ts = m->timestamp;
        lf->tail_host = info->hostname;
        lf->tail_ok = true;
    }
    const char *name = m->name ? m->name : "";
    const lf_mid_t *mid = &lf->mid[m->type];
    size_t name_len = strlen(name), tail_len = vn_buf_len(&lf->tail) - 1;
    /* One capacity check per line, for its worst case (every string byte
     * escaped 6x); near the chunk cap, token by token as before. */
    size_t need = 8 + VN_JSON_STRING_MAX(name_len) + 9 + mid->len + VN_JSON_DOUBLE_MAX + 1 + tail_len;
    for (size_t i = 0; i < m->ntags; i++)
        need += VN_JSON_STRING_MAX(strlen(m->tags[i])) + 1;
    char *o;
    if (vn_buf_reserve(&lf->text, need, &o) == VN_OK) {
        char *start = o;
        memcpy(o, "{\"name\":", 8);
        o += 8;
        o += put_str(o, name, name_len);
        memcpy(o, ",\"tags\":[", 9);
        o += 9;
        bool first = true;
        for (size_t i = 0; i < m->ntags; i++) {
            if (s->n_excluded_tags && vn_sink__tag_excluded(s, m->tags[i]))
                continue;
            if (!first)
                *o++ = ',';
            first = false;
            o += put_str(o, m->tags[i], strlen(m->tags[i]));
        }
        memcpy(o, mid->text, mid->len);
        o += mid->len;
        o += put_value(o, m->value);
        /* the tail starts with "{": this line's object continues with a comma instead */
        *o++ = ',';
        memcpy(o, vn_buf_ptr(&lf->tail) + 1, tail_len);
        o += tail_len;
        vn_buf_commit(&lf->text, (size_t)(o - start));
        *err = VN_OK;
        return true;
    }
    vn_buf_t *b = &lf->text;
    vn_err_t e = vn_buf_add(b, "{\"name\":", 8);
    if (e == VN_OK)
        e = vn_json_add_string(b, name, name_len);
    if (e == VN_OK)
        e = vn_buf_add(b, ",\"tags\":[", 9);
    bool first = true;
    for (size_t i = 0; e == VN_OK && i < m->ntags; i++) {
        if (vn_sink__tag_excluded(s, m->tags[i]))
            continue;
        if (!first)
            e = vn_buf_add_byte(b, ',');
        first = false;
        if (e == VN_OK)
            e = vn_json_add_string(b, m->tags[i], strlen(m->tags[i]));
    }
    if (e == VN_OK)
        e = vn_buf_add(b, mid->text, mid->len);
    if (e == VN_OK)
        e = vn_json_add_double(b, m->value);
    if (e == VN_OK)
        e = vn_buf_add_byte(b, ',');
    if (e == VN_OK)
        e = vn_buf_add(b, vn_buf_ptr(&lf->tail) + 1, tail_len);
    *err = e;
    return true;
}

static vn_err_t encode(localfile_t *lf, const vn_sink_t *s, const vn_inter_metric_t *m, const vn_flush_info_t *info)
{
    vn_err_t err;
    if (lf->format == LF_JSONL && jsonl_fast(lf, s, m, info, &err))
        return err;
    if (lf->format == LF_JSONL)
        return jsonl_line(&lf->text, s, m, info);
    return vn_sink__csv_row(&lf->text, s, m, lf->delim, lf->delim_len, info->hostname, info->interval_s,
                            info->timestamp);
}

/* Appends the chunk in `text` to the file (csv: as one gzip member), then
 * empties it. A chunk that does not go in whole is cut off again (see top):
 * *dropped gets its metrics, and the error is returned with errno kept. */
static vn_err_t write_chunk(localfile_t *lf, int fd, bool regular, size_t *dropped)
{
    size_t n = vn_buf_len(&lf->text);
    if (n == 0)
        return VN_OK;
    off_t before = regular ? lseek(fd, 0, SEEK_END) : -1;
    vn_err_t err;
    if (lf->format == LF_JSONL) {
        err = vn_sink__write_all(fd, vn_buf_ptr(&lf->text), n);
    } else {
        vn_buf_reset(&lf->gz);
        err = vn_gzip_append(&lf->gz, vn_buf_ptr(&lf->text), n, VN_GZIP_GZIP);
        if (err == VN_OK)
            err = vn_sink__write_all(fd, vn_buf_ptr(&lf->gz), vn_buf_len(&lf->gz));
    }
    if (err == VN_ERR_IO) {
        int saved = errno;
        *dropped += lf->chunk_metrics;
        if (before >= 0 && ftruncate(fd, before) != 0)
            VN_LOG_ERRNO(ERROR, "event=localfile_truncate_failed msg=\"the file may end in a partial record\"");
        errno = saved;
    }
    vn_buf_reset(&lf->text);
    lf->chunk_metrics = 0;
    return err;
}

/* O_NONBLOCK only for the open itself: a FIFO without a reader then fails at
 * once instead of blocking; writes stay blocking so they are whole. */
static int open_output(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0666);
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

static vn_err_t localfile_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    localfile_t *lf = s->impl;
    int fd = open_output(lf->path);
    if (fd < 0) {
        VN_LOG_ERRNO(WARN, "event=localfile_open_failed sink=%s path=\"%s\"", s->name, lf->path);
        return VN_ERR_IO;
    }
    struct stat sb;
    bool regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    vn_buf_reset(&lf->text);
    lf->chunk_metrics = 0;
    lf->tail_ok = false; /* info->hostname is only borrowed for this call */
    size_t skipped = 0, dropped = 0;
    vn_err_t err = VN_OK;
    size_t i = 0;
    for (; err == VN_OK && i < n; i++) {
        if (!vn_sink__wants(s, &m[i]))
            continue;
        size_t mark = vn_buf_len(&lf->text);
        err = encode(lf, s, &m[i], info);
        if (err == VN_OK)
            lf->chunk_metrics++;
        if (err != VN_ERR_TOO_LARGE)
            continue;
        /* The chunk is full: write the whole lines we have, retry on an empty chunk. */
        vn_buf_truncate(&lf->text, mark);
        err = write_chunk(lf, fd, regular, &dropped);
        if (err != VN_OK) {
            /* m[i] and the rest of the call are not written either */
            for (; i < n; i++)
                dropped += vn_sink__wants(s, &m[i]);
            break;
        }
        err = encode(lf, s, &m[i], info);
        if (err == VN_OK)
            lf->chunk_metrics++;
        if (err == VN_ERR_TOO_LARGE) {
            vn_buf_reset(&lf->text); /* one metric larger than a chunk: drop it */
            skipped++;
            err = VN_OK;
        }
    }
    if (err == VN_OK)
        err = write_chunk(lf, fd, regular, &dropped);
    if (err == VN_ERR_IO) {
        VN_LOG_ERRNO(WARN, "event=localfile_write_failed sink=%s path=\"%s\" dropped_metrics=%zu%s", s->name,
                     lf->path, dropped, errno == ENOSPC || errno == EFBIG || errno == EDQUOT ? " reason=disk_full" : "");
    }
    lf->dropped += dropped;
    if (dropped && s->stats)
        vn_stats_add(&s->stats->dropped, dropped);
    vn_buf_reset(&lf->text);
    lf->chunk_metrics = 0;
    close(fd);
    if (err == VN_OK && skipped) {
        VN_LOG(WARN, "event=localfile_metric_too_large sink=%s skipped=%zu", s->name, skipped);
        err = VN_ERR_TOO_LARGE;
    }
    return err;
}

static void localfile_destroy(vn_sink_t *s)
{
    localfile_t *lf = s->impl;
    if (!lf)
        return;
    free(lf->path);
    vn_buf_free(&lf->text);
    vn_buf_free(&lf->gz);
    vn_buf_free(&lf->tail);
    free(lf);
    s->impl = NULL;
}

static const vn_sink_ops_t localfile_ops = {
    .kind = "localfile",
    .flush = localfile_flush,
    .flush_events = NULL, /* events are not written to the file */
    .destroy = localfile_destroy,
};

/* Room for the compressed form of a full chunk: deflate's worst case adds a few
 * bytes per 16 KiB block plus the gzip wrapper. */
static size_t gz_cap(size_t chunk_max)
{
    return chunk_max + chunk_max / 64 + 4096;
}

vn_err_t vn_sink__localfile_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                                size_t errcap)
{
    (void)cfg;
    const char *path = vn_sink_config_get(sc, "flush_file");
    const char *format = vn_sink_config_get(sc, "format");
    const char *delim = vn_sink_config_get(sc, "delimiter");
    char dummy[1];
    if (!errbuf || !errcap) {
        errbuf = dummy;
        errcap = sizeof dummy;
    }
    if (!path || !path[0]) {
        snprintf(errbuf, errcap, "sink \"%s\" (localfile): config key flush_file is required", s->name);
        return VN_ERR_CONFIG;
    }
    lf_format_t fmt = LF_CSV;
    if (format && strcmp(format, "jsonl") == 0) {
        fmt = LF_JSONL;
    } else if (format && strcmp(format, "csv") != 0) {
        snprintf(errbuf, errcap, "sink \"%s\" (localfile): config key format: unknown value \"%s\" (want csv or jsonl)",
                 s->name, format);
        return VN_ERR_CONFIG;
    }
    if (!delim || fmt == LF_JSONL)
        delim = "\t"; /* jsonl has no delimiter; the key is ignored there */
    size_t dlen = vn_sink__csv_delim_len(delim);
    if (dlen == 0) {
        snprintf(errbuf, errcap,
                 "sink \"%s\" (localfile): config key delimiter: invalid value \"%s\" (one character, not a quote or line break)",
                 s->name, delim);
        return VN_ERR_CONFIG;
    }

    localfile_t *lf = vn_xcalloc(1, sizeof *lf);
    lf->path = vn_xstrdup(path);
    lf->format = fmt;
    memcpy(lf->delim, delim, dlen);
    lf->delim_len = dlen;
    vn_buf_init(&lf->text, LOCALFILE_CHUNK_MAX);
    vn_buf_init(&lf->gz, gz_cap(LOCALFILE_CHUNK_MAX));
    vn_buf_init(&lf->tail, 4096 + 6 * VN_SINK_LOCALFILE_HOST_MAX);
    for (int t = VN_IM_COUNTER; t <= VN_IM_GAUGE; t++) {
        lf_mid_t *mid = &lf->mid[t];
        const char *tn = vn_sink__type_name((vn_im_type_t)t);
        memcpy(mid->text, "],\"type\":", 9);
        mid->len = 9 + vn_json_put_string(mid->text + 9, tn, strlen(tn));
        memcpy(mid->text + mid->len, ",\"value\":", 9);
        mid->len += 9;
    }
    s->impl = lf;
    s->ops = &localfile_ops;
    return VN_OK;
}
