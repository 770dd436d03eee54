/*
 * trace.c - OTLP spans to SSF spans (see trace.h).
 *
 * Tag keys and string values are borrowed from the decoded request, which
 * lives until every span of it is packed; only non-string values are
 * rendered, into the converter's text buffer (reset per span).
 */
#include "otlp/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "otlp_trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv_t;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span_t;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_res_t;

void vn_otlp_trace_init(vn_otlp_tracer_t *t, size_t max_span, vn_otlp_span_fn emit, void *ctx)
{
    memset(&t->c, 0, sizeof t->c);
    t->emit = emit;
    t->ctx = ctx;
    t->max_span = max_span ? max_span : 1;
    t->_out = vn_xmalloc(t->max_span);
}

void vn_otlp_trace_destroy(vn_otlp_tracer_t *t)
{
    free(t->_out);
    t->_out = NULL;
}

/* ------------------------------------------------------------ value text */

typedef struct text {
    char *p;
    size_t used, cap;
    bool full;
} text_t;

static void put(text_t *w, const char *s, size_t n)
{
    if (w->full || n > w->cap - w->used) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->used, s, n);
    w->used += n;
}

static void puts_(text_t *w, const char *s) { put(w, s, strlen(s)); }

static void put_double(text_t *w, double d)
{
    char b[40];
    /* the shortest of %.15g..%.17g that reads back as d: "0.1", not "0.10000000000000001" */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, d);
        if (prec == 17 || strtod(b, NULL) == d)
            break;
    }
    puts_(w, b);
}

static void put_base64(text_t *w, const uint8_t *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n && !w->full; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {abc[(v >> 18) & 63], abc[(v >> 12) & 63], i + 1 < n ? abc[(v >> 6) & 63] : '=',
                     i + 2 < n ? abc[v & 63] : '='};
        put(w, q, 4);
    }
}

static void put_json_string(text_t *w, const char *s)
{
    put(w, "\"", 1);
    for (; *s && !w->full; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(w, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            put(w, e, 6);
        } else {
            put(w, (const char *)&c, 1);
        }
    }
    put(w, "\"", 1);
}

/* A value as JSON (inside arrays and maps). */
static void put_json(text_t *w, const pb_any_t *a, int depth)
{
    if (!a || depth > VN_OTLP_TRACE_MAX_DEPTH) {
        puts_(w, "null");
        return;
    }
    char b[32];
    switch (a->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        put_json_string(w, a->string_value ? a->string_value : "");
        return;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        puts_(w, a->bool_value ? "true" : "false");
        return;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        snprintf(b, sizeof b, "%lld", (long long)a->int_value);
        puts_(w, b);
        return;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        if (a->double_value != a->double_value || a->double_value - a->double_value != 0)
            put_json_string(w, a->double_value != a->double_value ? "NaN" : a->double_value > 0 ? "+Inf" : "-Inf");
        else
            put_double(w, a->double_value);
        return;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        put(w, "\"", 1);
        put_base64(w, a->bytes_value.data, a->bytes_value.len);
        put(w, "\"", 1);
        return;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        put(w, "[", 1);
        if (a->array_value)
            for (size_t i = 0; i < a->array_value->n_values && !w->full; i++) {
                if (i)
                    put(w, ",", 1);
                put_json(w, a->array_value->values[i], depth + 1);
            }
        put(w, "]", 1);
        return;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        put(w, "{", 1);
        if (a->kvlist_value)
            for (size_t i = 0; i < a->kvlist_value->n_values && !w->full; i++) {
                const pb_kv_t *kv = a->kvlist_value->values[i];
                if (i)
                    put(w, ",", 1);
                put_json_string(w, kv->key ? kv->key : "");
                put(w, ":", 1);
                put_json(w, kv->value, depth + 1);
            }
        put(w, "}", 1);
        return;
    default:
        puts_(w, "null");
        return;
    }
}

/* The string form of an attribute value: a borrowed string, or text rendered into w (NULL when w is full). */
static const char *value_text(text_t *w, const pb_any_t *a)
{
    if (!a || a->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET)
        return "";
    if (a->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
        return a->string_value ? a->string_value : "";
    if (a->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE)
        return a->bool_value ? "true" : "false";
    size_t start = w->used;
    if (a->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE)
        put_base64(w, a->bytes_value.data, a->bytes_value.len);
    else if (a->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE &&
             a->double_value == a->double_value && a->double_value - a->double_value == 0)
        put_double(w, a->double_value);
    else if (a->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE)
        puts_(w, a->double_value != a->double_value ? "NaN" : a->double_value > 0 ? "+Inf" : "-Inf");
    else
        put_json(w, a, 0);
    put(w, "", 1); /* NUL */
    return w->full ? NULL : w->p + start;
}

/* ------------------------------------------------------------ mapping */

static bool id64(const ProtobufCBinaryData *b, size_t want, int64_t *out)
{
    if (b->len != want)
        return false;
    uint64_t v = 0;
    for (size_t i = want - 8; i < want; i++)
        v = v << 8 | b->data[i];
    *out = (int64_t)v;
    return true;
}

static bool has_key(Ssf__SSFSpan__TagsEntry *const *e, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i]->key, k) == 0)
            return true;
    return false;
}

/* Adds attrs to the span's tags, skipping keys already there (the first one wins). */
static bool add_attrs(vn_otlp_tracer_t *t, text_t *w, size_t *n, pb_kv_t *const *attrs, size_t na)
{
    for (size_t i = 0; i < na; i++) {
        const char *k = attrs[i]->key ? attrs[i]->key : "";
        if (has_key(t->_ptrs, *n, k))
            continue;
        if (*n >= VN_OTLP_TRACE_MAX_TAGS)
            return false;
        const char *v = value_text(w, attrs[i]->value);
        if (!v)
            return false;
        Ssf__SSFSpan__TagsEntry *e = &t->_entries[*n];
        ssf__ssfspan__tags_entry__init(e);
        e->key = (char *)k;
        e->value = (char *)v;
        t->_ptrs[(*n)++] = e;
    }
    return true;
}

bool vn_otlp_trace_map(vn_otlp_tracer_t *t, const pb_span_t *sp, const pb_res_t *res, const uint8_t **out,
                       size_t *out_len)
{
    Ssf__SSFSpan s = SSF__SSFSPAN__INIT;
    if (!id64(&sp->trace_id, 16, &s.trace_id) || !id64(&sp->span_id, 8, &s.id))
        return false;
    if (sp->parent_span_id.len && !id64(&sp->parent_span_id, 8, &s.parent_id))
        return false;
    s.name = sp->name ? sp->name : (char *)"";
    s.start_timestamp = (int64_t)sp->start_time_unix_nano;
    s.end_timestamp = (int64_t)sp->end_time_unix_nano;
    s.error = sp->status && sp->status->code == OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    text_t w = {.p = t->_text, .cap = sizeof t->_text};
    size_t n = 0;
    if (!add_attrs(t, &w, &n, sp->attributes, sp->n_attributes))
        return false;
    if (res && !add_attrs(t, &w, &n, res->attributes, res->n_attributes))
        return false;
    s.service = (char *)"";
    for (size_t i = 0; res && i < res->n_attributes; i++)
        if (res->attributes[i]->key && strcmp(res->attributes[i]->key, "service.name") == 0) {
            const char *v = value_text(&w, res->attributes[i]->value);
            if (!v)
                return false;
            s.service = (char *)v;
            break;
        }

    s.n_tags = n;
    s.tags = t->_ptrs;
    size_t need = ssf__ssfspan__get_packed_size(&s);
    if (need > t->max_span)
        return false;
    *out_len = ssf__ssfspan__pack(&s, t->_out);
    *out = t->_out;
    return true;
}

vn_err_t vn_otlp_trace_request(vn_otlp_tracer_t *t, const uint8_t *body, size_t len, uint64_t *rejected)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, body);
    if (!req)
        return VN_ERR_PARSE;
    t->c.requests++;
    uint64_t bad = 0;
    for (size_t r = 0; r < req->n_resource_spans; r++) {
        const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[r];
        for (size_t ss = 0; ss < rs->n_scope_spans; ss++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *sc = rs->scope_spans[ss];
            for (size_t i = 0; i < sc->n_spans; i++) {
                t->c.spans++;
                const uint8_t *p;
                size_t n;
                if (!vn_otlp_trace_map(t, sc->spans[i], rs->resource, &p, &n)) {
                    t->c.invalid++;
                    bad++;
                } else if (!t->emit(t->ctx, p, n)) {
                    t->c.refused++;
                    bad++;
                } else {
                    t->c.accepted++;
                }
            }
        }
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);
    if (rejected)
        *rejected = bad;
    return VN_OK;
}
