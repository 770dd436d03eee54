/*
 * span_json.c - Go's encoding/json layout of an SSFSpan (span_sink_internal.h),
 * shared by the span sinks that write JSON spans (localfile jsonl, kafka json).
 *
 * Why not vn_json_double for the float32 fields: Go formats a float32 with the
 * shortest digits that round-trip *as a float32* ("0.1", not 0.10000000149011612).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "spansinks/span_sink_internal.h"

size_t vn_span_json_float32(float f, char *out, size_t cap)
{
    if (isnan(f))
        return (size_t)snprintf(out, cap, "NaN");
    if (isinf(f))
        return (size_t)snprintf(out, cap, f > 0 ? "+Inf" : "-Inf");
    if (f == 0)
        return (size_t)snprintf(out, cap, signbit(f) ? "-0" : "0");
    /* shortest %e precision that reads back as the same float32 */
    char e[48];
    int prec = 0;
    for (; prec < 9; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, (double)f);
        if (strtof(e, NULL) == f)
            break;
    }
    /* digits and exponent from the %e form */
    char digits[16];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int exp10 = *p == 'e' ? atoi(p + 1) : 0;
    size_t n = 0;
    if (neg)
        n += (size_t)snprintf(out + n, cap - n, "-");
    if (fabsf(f) < 1e-6f || fabsf(f) >= 1e21f) { /* encoding/json (bits 32 compares as float32): exponent form */
        n += (size_t)snprintf(out + n, cap - n, "%c", digits[0]);
        if (nd > 1)
            n += (size_t)snprintf(out + n, cap - n, ".%.*s", (int)(nd - 1), digits + 1);
        n += (size_t)snprintf(out + n, cap - n, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        if (exp10 < 0 && abs(exp10) < 10) { /* Go writes e-7, not e-07 */
            char *m = strrchr(out, 'e');
            memmove(m + 2, m + 3, strlen(m + 3) + 1);
            n--;
        }
        return n;
    }
    if (exp10 < 0) {
        n += (size_t)snprintf(out + n, cap - n, "0.");
        for (int i = -1; i > exp10; i--)
            n += (size_t)snprintf(out + n, cap - n, "0");
        n += (size_t)snprintf(out + n, cap - n, "%.*s", (int)nd, digits);
        return n;
    }
    for (int i = 0; i <= exp10 || (size_t)i < nd; i++) {
        if (i == exp10 + 1)
            n += (size_t)snprintf(out + n, cap - n, ".");
        n += (size_t)snprintf(out + n, cap - n, "%c", (size_t)i < nd ? digits[i] : '0');
    }
    return n;
}

typedef struct {
    const char *k, *v;
} pair_t;

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const pair_t *)a)->k, ((const pair_t *)b)->k);
}

/* Go map[string]string: keys sorted; a repeated key keeps the last value (protobuf map rule). */
static vn_err_t put_map(vn_buf_t *b, bool *first, const char *name, void *const *entries, size_t n,
                        const vn_span_sink_t *s)
{
    if (n == 0)
        return VN_OK;
    pair_t stackp[64];
    pair_t *ps = n <= 64 ? stackp : malloc(n * sizeof *ps);
    if (!ps)
        return VN_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const Ssf__SSFSpan__TagsEntry *e = entries[i]; /* same layout as the sample's entry */
        const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";
        if (s && vn_span_sink_tag_excluded(s, k))
            continue;
        ps[m++] = (pair_t){k, v};
    }
    /* stable merge of duplicates: keep the last occurrence */
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++)
            if (strcmp(ps[i].k, ps[j].k) == 0) {
                ps[i].k = NULL;
                break;
            }
    size_t w = 0;
    for (size_t i = 0; i < m; i++)
        if (ps[i].k)
            ps[w++] = ps[i];
    qsort(ps, w, sizeof *ps, pair_cmp);
    vn_err_t err = VN_OK;
    if (w) {
        err = vn_buf_printf(b, "%s\"%s\":{", *first ? "" : ",", name);
        *first = false;
        for (size_t i = 0; i < w && err == VN_OK; i++) {
            if (i)
                err = vn_buf_add_byte(b, ',');
            if (err == VN_OK)
                err = vn_json_add_string_html(b, ps[i].k, strlen(ps[i].k));
            if (err == VN_OK)
                err = vn_buf_add_byte(b, ':');
            if (err == VN_OK)
                err = vn_json_add_string_html(b, ps[i].v, strlen(ps[i].v));
        }
        if (err == VN_OK)
            err = vn_buf_add_byte(b, '}');
    }
    if (ps != stackp)
        free(ps);
    return err;
}

static vn_err_t put_int(vn_buf_t *b, bool *first, const char *name, long long v)
{
    if (v == 0)
        return VN_OK;
    vn_err_t err = vn_buf_printf(b, "%s\"%s\":%lld", *first ? "" : ",", name, v);
    *first = false;
    return err;
}

static vn_err_t put_str(vn_buf_t *b, bool *first, const char *name, const char *v)
{
    if (!v || !*v)
        return VN_OK;
    vn_err_t err = vn_buf_printf(b, "%s\"%s\":", *first ? "" : ",", name);
    *first = false;
    return err == VN_OK ? vn_json_add_string_html(b, v, strlen(v)) : err;
}

static vn_err_t put_f32(vn_buf_t *b, bool *first, const char *name, float v)
{
    if (v == 0)
        return VN_OK;
    char num[48];
    vn_span_json_float32(v, num, sizeof num);
    vn_err_t err = vn_buf_printf(b, "%s\"%s\":%s", *first ? "" : ",", name, num);
    *first = false;
    return err;
}

static vn_err_t put_bool(vn_buf_t *b, bool *first, const char *name, bool v)
{
    if (!v)
        return VN_OK;
    vn_err_t err = vn_buf_printf(b, "%s\"%s\":true", *first ? "" : ",", name);
    *first = false;
    return err;
}

static vn_err_t put_sample(vn_buf_t *b, const Ssf__SSFSample *m)
{
    bool first = true;
    vn_err_t err = vn_buf_add_byte(b, '{');
    if (err == VN_OK)
        err = put_int(b, &first, "metric", m->metric);
    if (err == VN_OK)
        err = put_str(b, &first, "name", m->name);
    if (err == VN_OK)
        err = put_f32(b, &first, "value", m->value);
    if (err == VN_OK)
        err = put_int(b, &first, "timestamp", m->timestamp);
    if (err == VN_OK)
        err = put_str(b, &first, "message", m->message);
    if (err == VN_OK)
        err = put_int(b, &first, "status", m->status);
    if (err == VN_OK)
        err = put_f32(b, &first, "sample_rate", m->sample_rate);
    if (err == VN_OK)
        err = put_map(b, &first, "tags", (void *const *)m->tags, m->n_tags, NULL);
    if (err == VN_OK)
        err = put_str(b, &first, "unit", m->unit);
    if (err == VN_OK)
        err = put_int(b, &first, "scope", m->scope);
    return err == VN_OK ? vn_buf_add_byte(b, '}') : err;
}

vn_err_t vn_span_json_write(vn_buf_t *b, const Ssf__SSFSpan *span, const vn_span_sink_t *s)
{
    bool first = true;
    vn_err_t err = vn_buf_add_byte(b, '{');
    if (err == VN_OK)
        err = put_int(b, &first, "version", span->version);
    if (err == VN_OK)
        err = put_int(b, &first, "trace_id", span->trace_id);
    if (err == VN_OK)
        err = put_int(b, &first, "id", span->id);
    if (err == VN_OK)
        err = put_int(b, &first, "parent_id", span->parent_id);
    if (err == VN_OK)
        err = put_int(b, &first, "start_timestamp", span->start_timestamp);
    if (err == VN_OK)
        err = put_int(b, &first, "end_timestamp", span->end_timestamp);
    if (err == VN_OK)
        err = put_bool(b, &first, "error", span->error);
    if (err == VN_OK)
        err = put_str(b, &first, "service", span->service);
    if (err == VN_OK && span->n_metrics) {
        err = vn_buf_printf(b, "%s\"metrics\":[", first ? "" : ",");
        first = false;
        for (size_t i = 0; i < span->n_metrics && err == VN_OK; i++) {
            if (i)
                err = vn_buf_add_byte(b, ',');
            if (err == VN_OK)
                err = put_sample(b, span->metrics[i]);
        }
        if (err == VN_OK)
            err = vn_buf_add_byte(b, ']');
    }
    if (err == VN_OK)
        err = put_map(b, &first, "tags", (void *const *)span->tags, span->n_tags, s);
    if (err == VN_OK)
        err = put_bool(b, &first, "indicator", span->indicator);
    if (err == VN_OK)
        err = put_str(b, &first, "name", span->name);
    if (err == VN_OK)
        err = put_int(b, &first, "root_start_timestamp", span->root_start_timestamp);
    return err == VN_OK ? vn_buf_add_byte(b, '}') : err;
}
