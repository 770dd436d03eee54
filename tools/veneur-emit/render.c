/*
 * render.c - the bytes veneur-emit sends (docs/behaviour.md W5.3, W5.4, 0.13).
 *
 * Metric lines are what datadog-go v3.7.2 writes for Go veneur-emit:
 *
 *   resp_success:1|c|#env:prod,method:post
 *   ^^^^^^^^^^^^ name, verbatim
 *               ^ value: count %PRId64, gauge shortest round-trip ('f', no exponent),
 *                        timer whole ms as %.6f ("150.000000"), set verbatim
 *                  ^ type: c g ms s          (rate 1, so never "|@")
 *                    ^^^^^^^^^^^^^^^^^^^^^ "|#" + DD_* global tags, then -tag tags;
 *                                          omitted when there are none; '\n' dropped from tags
 *
 * Lines come in Go's order (command timer, -timing, -gauge, -count, -set). They
 * all carry the same name, so datadog-go puts them in one buffer: joined by
 * "\n", no trailing newline, a new datagram whenever the next line would take
 * the current one past 1432 bytes. A single line over 1432 bytes is refused
 * (datadog-go refuses it too) before anything is sent.
 *
 * Events and service checks are Go veneur-emit's own raw builders (no
 * datadog-go, so no DD_* tags and no escaping except event-text newlines):
 *
 *   _e{5,11}:title|line1\nline2|d:1|h:host|k:key|p:low|s:src|t:info|#a:b
 *      ^ ^^ lengths of the title and of the ORIGINAL text (before "\n" -> "\\n"), Go's quirk
 *   _sc|name|status|d:1|h:host|#a:b|m:message
 *
 * Optional sections appear exactly when their flag was passed (even empty).
 * Tags: e_event_tags / sc_tags first, then every -tag; a repeated key keeps its
 * first position and takes the last value (Go: random map order, last -tag only).
 *
 * Appends below OR their results together: vn_emit_buf_add can only fail with
 * VN_ERR_TOO_LARGE, and any failure discards the whole payload, so checking
 * once per line or packet is enough.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gonum.h"
#include "core/xalloc.h"
#include "emit.h"

vn_err_t vn_emit_buf_add(vn_emit_buf_t *b, const void *data, size_t n)
{
    if (n > VN_EMIT_MAX_PAYLOAD - b->len)
        return VN_ERR_TOO_LARGE;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = vn_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0'; /* handy for debug output; not part of the payload */
    return VN_OK;
}

vn_err_t vn_emit_buf_adds(vn_emit_buf_t *b, const char *s) { return vn_emit_buf_add(b, s, strlen(s)); }

void vn_emit_buf_destroy(vn_emit_buf_t *b)
{
    free(b->p);
    *b = (vn_emit_buf_t){0};
}

void vn_emit_payload_destroy(vn_emit_payload_t *p)
{
    vn_emit_buf_destroy(&p->buf);
    p->nchunks = 0;
}

/* ---- tags ---- */

static void tags_put(vn_emit_tags_t *t, vn_str_t key, vn_str_t val)
{
    for (size_t i = 0; i < t->n; i++) {
        if (vn_str_eq(t->v[i].key, key)) {
            t->v[i].val = val;
            return;
        }
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->v = vn_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n++] = (vn_emit_tag_t){key, val};
}

void vn_emit_tags_add_csv(vn_emit_tags_t *t, const char *csv)
{
    /* "a:b,,c,d:e:f" -> a="b", c="", d="e:f" (split at the first colon only) */
    const char *p = csv;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0) {
            const char *colon = memchr(p, ':', n);
            if (colon)
                tags_put(t, vn_str(p, (size_t)(colon - p)), vn_str(colon + 1, n - (size_t)(colon - p) - 1));
            else
                tags_put(t, vn_str(p, n), vn_str("", 0));
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

void vn_emit_tags_destroy(vn_emit_tags_t *t)
{
    free(t->v);
    *t = (vn_emit_tags_t){0};
}

/* Appends s without its '\n' bytes (datadog-go does this to every tag). */
static vn_err_t add_no_newlines(vn_emit_buf_t *b, vn_str_t s)
{
    vn_err_t rc = VN_OK;
    size_t start = 0;
    for (size_t i = 0; i <= s.len && rc == VN_OK; i++) {
        if (i == s.len || s.p[i] == '\n') {
            rc = vn_emit_buf_add(b, s.p + start, i - start);
            start = i + 1;
        }
    }
    return rc;
}

/* DD_* variables datadog-go turns into global tags. Go's order is map order
 * (random); ours is fixed, as docs/behaviour.md W5.3 lists them. */
static const struct {
    const char *env, *tag;
} g_env_tags[] = {
    {"DD_ENV", "env"},
    {"DD_SERVICE", "service"},
    {"DD_VERSION", "version"},
    {"DD_ENTITY_ID", "dd.internal.entity_id"},
};

static vn_err_t add_metric_tags(vn_emit_buf_t *b, const vn_emit_tags_t *user)
{
    vn_err_t rc = VN_OK;
    bool first = true;
    for (size_t i = 0; i < sizeof g_env_tags / sizeof g_env_tags[0]; i++) {
        const char *v = getenv(g_env_tags[i].env);
        if (!v || !*v)
            continue;
        rc |= vn_emit_buf_adds(b, first ? "|#" : ",");
        rc |= add_no_newlines(b, vn_str_c(g_env_tags[i].tag));
        rc |= vn_emit_buf_add(b, ":", 1);
        rc |= add_no_newlines(b, vn_str_c(v));
        first = false;
    }
    for (size_t i = 0; i < user->n; i++) {
        rc |= vn_emit_buf_adds(b, first ? "|#" : ",");
        rc |= add_no_newlines(b, user->v[i].key);
        rc |= vn_emit_buf_add(b, ":", 1);
        rc |= add_no_newlines(b, user->v[i].val);
        first = false;
    }
    return rc ? VN_ERR_TOO_LARGE : VN_OK;
}

/* Raw "|#k:v,k2:v2" for an event or check, nothing when empty: the mode's own
 * list, then every -tag (wins). */
static vn_err_t add_raw_tags(vn_emit_buf_t *b, const vn_emit_opts_t *o, const char *own)
{
    vn_emit_tags_t t = {0};
    if (own)
        vn_emit_tags_add_csv(&t, own);
    for (size_t i = 0; i < o->ntag_args; i++)
        vn_emit_tags_add_csv(&t, o->tag_args[i]);
    vn_err_t rc = VN_OK;
    for (size_t i = 0; i < t.n; i++) {
        rc |= vn_emit_buf_adds(b, i == 0 ? "|#" : ",");
        rc |= vn_emit_buf_add(b, t.v[i].key.p, t.v[i].key.len);
        rc |= vn_emit_buf_add(b, ":", 1);
        rc |= vn_emit_buf_add(b, t.v[i].val.p, t.v[i].val.len);
    }
    vn_emit_tags_destroy(&t);
    return rc ? VN_ERR_TOO_LARGE : VN_OK;
}

/* ---- metrics ---- */

static vn_err_t render_line(vn_emit_buf_t *line, const char *name, const char *value, const char *type,
                            const vn_emit_tags_t *tags)
{
    vn_err_t rc = VN_OK;
    line->len = 0;
    rc |= vn_emit_buf_adds(line, name);
    rc |= vn_emit_buf_add(line, ":", 1);
    rc |= vn_emit_buf_adds(line, value);
    rc |= vn_emit_buf_add(line, "|", 1);
    rc |= vn_emit_buf_adds(line, type);
    rc |= add_metric_tags(line, tags);
    return rc ? VN_ERR_TOO_LARGE : VN_OK;
}

/* Appends one line to the payload, opening a new chunk when it would not fit. */
static vn_err_t pack_line(vn_emit_payload_t *out, const vn_emit_buf_t *line, char *err, size_t errlen)
{
    if (line->len > VN_EMIT_MAX_CHUNK) {
        snprintf(err, errlen,
                 "a metric line of %zu bytes is over the %d-byte payload limit (shorten -name, -set or -tag)",
                 line->len, VN_EMIT_MAX_CHUNK);
        return VN_ERR_TOO_LARGE;
    }
    vn_err_t rc = VN_OK;
    size_t *cur = out->nchunks ? &out->chunk_len[out->nchunks - 1] : NULL;
    if (cur && *cur + 1 + line->len <= VN_EMIT_MAX_CHUNK) {
        rc |= vn_emit_buf_add(&out->buf, "\n", 1);
        *cur += 1 + line->len;
    } else {
        if (out->nchunks)
            rc |= vn_emit_buf_add(&out->buf, "\n", 1);
        out->chunk_off[out->nchunks] = out->buf.len;
        out->chunk_len[out->nchunks] = line->len;
        out->nchunks++;
    }
    rc |= vn_emit_buf_add(&out->buf, line->p, line->len);
    if (rc) {
        snprintf(err, errlen, "payload over %u bytes", VN_EMIT_MAX_PAYLOAD);
        return VN_ERR_TOO_LARGE;
    }
    return VN_OK;
}

vn_err_t vn_emit_render_metrics(const vn_emit_opts_t *o, const int64_t *cmd_ms, vn_emit_payload_t *out,
                                char *err, size_t errlen)
{
    *out = (vn_emit_payload_t){0};
    if (!o->name || !*o->name) {
        snprintf(err, errlen, "-name is required with -mode metric");
        return VN_ERR_CONFIG;
    }
    if (!cmd_ms && !o->has_timing && !o->has_gauge && !o->has_count && !o->set) {
        snprintf(err, errlen, "nothing to send: pass at least one of -count, -gauge, -timing, -set or -command");
        return VN_ERR_CONFIG;
    }
    /* Go's order: command timer, -timing, -gauge, -count, -set. */
    char cmd_v[48], timing_v[48], gauge_v[VN_GONUM_FLOAT_MAX], count_v[32];
    const char *vals[VN_EMIT_MAX_LINES], *types[VN_EMIT_MAX_LINES];
    size_t n = 0;
    if (cmd_ms) {
        snprintf(cmd_v, sizeof cmd_v, "%.6f", (double)*cmd_ms);
        vals[n] = cmd_v;
        types[n++] = "ms";
    }
    if (o->has_timing) { /* whole ms, truncated toward zero like Go's integer division */
        snprintf(timing_v, sizeof timing_v, "%.6f", (double)(o->timing_ns / 1000000));
        vals[n] = timing_v;
        types[n++] = "ms";
    }
    if (o->has_gauge) {
        vn_gonum_format_float(o->gauge, VN_GONUM_FMT_F, gauge_v, sizeof gauge_v);
        vals[n] = gauge_v;
        types[n++] = "g";
    }
    if (o->has_count) {
        snprintf(count_v, sizeof count_v, "%" PRId64, o->count);
        vals[n] = count_v;
        types[n++] = "c";
    }
    if (o->set) {
        vals[n] = o->set;
        types[n++] = "s";
    }
    vn_emit_tags_t tags = {0};
    for (size_t i = 0; i < o->ntag_args; i++)
        vn_emit_tags_add_csv(&tags, o->tag_args[i]);
    vn_emit_buf_t line = {0};
    vn_err_t rc = VN_OK;
    for (size_t i = 0; i < n && rc == VN_OK; i++) {
        rc = render_line(&line, o->name, vals[i], types[i], &tags);
        if (rc != VN_OK)
            snprintf(err, errlen, "payload over %u bytes", VN_EMIT_MAX_PAYLOAD);
        else
            rc = pack_line(out, &line, err, errlen);
    }
    vn_emit_buf_destroy(&line);
    vn_emit_tags_destroy(&tags);
    if (rc != VN_OK)
        vn_emit_payload_destroy(out);
    return rc;
}

/* ---- events and service checks ---- */

static vn_err_t single_chunk(vn_emit_payload_t *out, vn_err_t rc, char *err, size_t errlen)
{
    if (rc != VN_OK) {
        vn_emit_payload_destroy(out);
        snprintf(err, errlen, "payload over %u bytes", VN_EMIT_MAX_PAYLOAD);
        return VN_ERR_TOO_LARGE;
    }
    out->chunk_off[0] = 0;
    out->chunk_len[0] = out->buf.len;
    out->nchunks = 1;
    return VN_OK;
}

/* "|k:" + v when the flag was passed. */
static vn_err_t add_section(vn_emit_buf_t *b, const char *prefix, const char *v)
{
    if (!v)
        return VN_OK;
    vn_err_t rc = vn_emit_buf_adds(b, prefix);
    return rc != VN_OK ? rc : vn_emit_buf_adds(b, v);
}

vn_err_t vn_emit_render_event(const vn_emit_opts_t *o, vn_emit_payload_t *out, char *err, size_t errlen)
{
    *out = (vn_emit_payload_t){0};
    if (!o->e_title || !o->e_text) {
        snprintf(err, errlen, "%s is required with -mode event", !o->e_title ? "-e_title" : "-e_text");
        return VN_ERR_CONFIG;
    }
    vn_emit_buf_t *b = &out->buf;
    char head[64];
    snprintf(head, sizeof head, "_e{%zu,%zu}:", strlen(o->e_title), strlen(o->e_text));
    vn_err_t rc = vn_emit_buf_adds(b, head);
    rc |= vn_emit_buf_adds(b, o->e_title);
    rc |= vn_emit_buf_add(b, "|", 1);
    for (const char *c = o->e_text; *c; c++)
        rc |= *c == '\n' ? vn_emit_buf_add(b, "\\n", 2) : vn_emit_buf_add(b, c, 1);
    rc |= add_section(b, "|d:", o->e_time);
    rc |= add_section(b, "|h:", o->e_hostname);
    rc |= add_section(b, "|k:", o->e_aggr_key);
    rc |= add_section(b, "|p:", o->e_priority);
    rc |= add_section(b, "|s:", o->e_source_type);
    rc |= add_section(b, "|t:", o->e_alert_type);
    rc |= add_raw_tags(b, o, o->e_event_tags);
    return single_chunk(out, rc, err, errlen);
}

vn_err_t vn_emit_render_sc(const vn_emit_opts_t *o, vn_emit_payload_t *out, char *err, size_t errlen)
{
    *out = (vn_emit_payload_t){0};
    if (!o->sc_name || !o->sc_status) {
        snprintf(err, errlen, "%s is required with -mode sc", !o->sc_name ? "-sc_name" : "-sc_status");
        return VN_ERR_CONFIG;
    }
    vn_emit_buf_t *b = &out->buf;
    vn_err_t rc = vn_emit_buf_adds(b, "_sc|");
    rc |= vn_emit_buf_adds(b, o->sc_name);
    rc |= vn_emit_buf_add(b, "|", 1);
    rc |= vn_emit_buf_adds(b, o->sc_status);
    rc |= add_section(b, "|d:", o->sc_time);
    rc |= add_section(b, "|h:", o->sc_hostname);
    rc |= add_raw_tags(b, o, o->sc_tags);
    rc |= add_section(b, "|m:", o->sc_msg);
    return single_chunk(out, rc, err, errlen);
}
