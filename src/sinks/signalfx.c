/*
 * signalfx.c - the "signalfx" metric sink (docs/behaviour.md W4.3, 0.10): protobuf
 * datapoints and events (signalfx.h, proto/signalfx.proto) fed to a delivery
 * queue (delivery.h).
 *
 *   metric_sinks:
 *     - kind: signalfx
 *       config:
 *         api_key: "..."                          # required: the default token
 *         endpoint_base: https://ingest.signalfx.com
 *         hostname_tag: host                      # dimension that carries the hostname
 *         flush_max_per_body: 0                   # 0: one body per token
 *         vary_key_by: team                       # dimension whose value picks a token
 *         per_tag_api_keys: [{name: a, api_key: "..."}]
 *         dynamic_per_tag_api_keys_enable: true   # also fetch per-tag tokens ...
 *         dynamic_per_tag_api_keys_refresh_period: 10m  # ... this often ...
 *         endpoint_api: https://api.signalfx.com  # ... from {origin}/v2/token (signalfx_tokens.c)
 *         # also preferred_vary_key_by, drop_host_with_tag_key,
 *         # metric_name_prefix_drops, metric_tag_prefix_drops, and the
 *         # delivery keys of delivery.h
 *
 * A point per metric, in the order the flusher gave them: gauges and status
 * checks as GAUGE with a double, counters as COUNTER with int64(sum) (Go's
 * truncation). Each point carries the flush time in ms: Go sends 0 (server
 * receive time), which a retried body would turn into the wrong time.
 * Dimensions are in insertion order (Go: random map order); empty keys or
 * values are left out and keys sanitised like golib (vn_sfx__sanitize_key).
 * NaN/Inf values are not sent (counted in vn_sfx_t.skipped).
 *
 * Events: one EventUploadMessage per flush (Go posts one request per event),
 * default token; eventType = title cut to 256 bytes, property "description" =
 * text cut to 256 bytes, minus the first "%%% \n" and "\n %%%" (Datadog
 * markdown markers), trimmed; category USER_DEFINED; timestamp in ms;
 * dimensions {hostname_tag: event host or hostname} plus the event's tags.
 */
#include "sinks/signalfx.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "core/gzip.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "signalfx.pb-c.h"
#include "sinks/queued.h"
#include "sinks/sink_internal.h"

#define ARENA_CHUNK ((size_t)256 << 10)

/* ------------------------------------------------------------ config */

static vn_err_t bad(char *errbuf, size_t errcap, const char *sink, const char *what)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sink \"%s\" (signalfx): %s", sink, what);
    return VN_ERR_CONFIG;
}

static void token_init(vn_sfx_token_t *t, const char *name, const char *token)
{
    t->name = name ? vn_xstrdup(name) : NULL;
    t->token = vn_xstrdup(token);
    size_t n = strlen(token) + 16;
    t->header = vn_xmalloc(n);
    snprintf(t->header, n, "X-Sf-Token: %s", token);
}

static void token_free(vn_sfx_token_t *t)
{
    free(t->name);
    free(t->token);
    free(t->header);
}

static char *dupkey(const vn_sink_config_t *sc, const char *key)
{
    const char *v = vn_sink_config_get(sc, key);
    return vn_xstrdup(v ? v : "");
}

/* scheme://authority of an http(s) URL, or NULL. */
static char *origin_of(const char *url)
{
    size_t skip = strncmp(url, "http://", 7) == 0 ? 7 : strncmp(url, "https://", 8) == 0 ? 8 : 0;
    if (!skip)
        return NULL;
    size_t end = skip + strcspn(url + skip, "/?#");
    if (end == skip)
        return NULL;
    return vn_xstrndup(url, end);
}

static bool header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

vn_err_t vn_sfx__init(vn_sfx_t *x, const vn_sink_config_t *sc, const char *sink_name, char *errbuf, size_t errcap)
{
    memset(x, 0, sizeof *x);
    x->raw_cap = VN_SFX_RAW_CAP;
    vn_arena_init(&x->arena, ARENA_CHUNK);
    x->hostname_tag = dupkey(sc, "hostname_tag");
    x->drop_host_with_tag_key = dupkey(sc, "drop_host_with_tag_key");
    x->vary_key_by = dupkey(sc, "vary_key_by");
    x->preferred_vary_key_by = dupkey(sc, "preferred_vary_key_by");
    vn_delivery_config_list(sc, "metric_name_prefix_drops", &x->name_drops, &x->n_name_drops);
    vn_delivery_config_list(sc, "metric_tag_prefix_drops", &x->tag_drops, &x->n_tag_drops);
    const char *name = sink_name ? sink_name : "signalfx";
    const char *key = vn_sink_config_get(sc, "api_key");
    if (!key || !key[0])
        return bad(errbuf, errcap, name, "config key api_key is required");
    if (!header_safe(key))
        return bad(errbuf, errcap, name, "config key api_key: control characters are not allowed");
    token_init(&x->def, NULL, key);
    const char *base = vn_sink_config_get(sc, "endpoint_base");
    if (!base || !base[0])
        base = VN_SFX_DEFAULT_ENDPOINT;
    char *origin = origin_of(base);
    if (!origin) {
        char msg[300];
        snprintf(msg, sizeof msg, "config key endpoint_base: invalid value \"%.200s\" (want an http:// or https:// URL)",
                 base);
        return bad(errbuf, errcap, name, msg);
    }
    size_t ol = strlen(origin) + 16;
    x->datapoint_url = vn_xmalloc(ol);
    x->event_url = vn_xmalloc(ol);
    snprintf(x->datapoint_url, ol, "%s/v2/datapoint", origin);
    snprintf(x->event_url, ol, "%s/v2/event", origin);
    free(origin);
    const char *fmpb = vn_sink_config_get(sc, "flush_max_per_body");
    if (fmpb && fmpb[0]) {
        char *end;
        long long v = strtoll(fmpb, &end, 10);
        if (*end || v < 0 || v > 100000000) {
            char msg[200];
            snprintf(msg, sizeof msg, "config key flush_max_per_body: invalid value \"%.60s\" (0 .. 100000000)", fmpb);
            return bad(errbuf, errcap, name, msg);
        }
        x->max_per_body = (size_t)v;
    }
    for (size_t i = 0; i < 100000; i++) {
        char kn[64], kk[64];
        snprintf(kn, sizeof kn, "per_tag_api_keys.%zu.name", i);
        snprintf(kk, sizeof kk, "per_tag_api_keys.%zu.api_key", i);
        const char *tn = vn_sink_config_get(sc, kn), *tk = vn_sink_config_get(sc, kk);
        if (!tn && !tk)
            break;
        if (!tn || !tk || !tk[0] || !header_safe(tk)) {
            char msg[160];
            snprintf(msg, sizeof msg, "config key per_tag_api_keys.%zu: needs a name and a non-empty api_key", i);
            return bad(errbuf, errcap, name, msg);
        }
        x->per_tag = vn_xrealloc(x->per_tag, (x->n_per_tag + 1) * sizeof *x->per_tag);
        token_init(&x->per_tag[x->n_per_tag++], tn, tk);
    }
    return VN_OK;
}

void vn_sfx__destroy(vn_sfx_t *x)
{
    token_free(&x->def);
    for (size_t i = 0; i < x->n_per_tag; i++)
        token_free(&x->per_tag[i]);
    free(x->per_tag);
    free(x->datapoint_url);
    free(x->event_url);
    free(x->hostname_tag);
    free(x->drop_host_with_tag_key);
    free(x->vary_key_by);
    free(x->preferred_vary_key_by);
    vn_delivery_strv_free(x->name_drops, x->n_name_drops);
    vn_delivery_strv_free(x->tag_drops, x->n_tag_drops);
    free(x->dims);
    free(x->order);
    free(x->token_of);
    vn_arena_destroy(&x->arena);
    memset(x, 0, sizeof *x);
}

/* ------------------------------------------------------------ dimensions */

static ssize_t find_dim(const vn_sfx_t *x, size_t nd, const char *key, size_t klen)
{
    for (size_t i = 0; i < nd; i++)
        if (x->dims[i].klen == klen && memcmp(x->dims[i].key, key, klen) == 0)
            return (ssize_t)i;
    return -1;
}

static void remove_dim(vn_sfx_t *x, size_t *nd, size_t i)
{
    memmove(&x->dims[i], &x->dims[i + 1], (*nd - i - 1) * sizeof *x->dims);
    (*nd)--;
}

static size_t build_dims(vn_sfx_t *x, const vn_sink_t *s, const char *host, const char *const *tags, size_t ntags,
                         bool counter, const char **client_key)
{
    if (x->dims_cap < ntags + 1) {
        free(x->dims);
        x->dims_cap = ntags + 16;
        x->dims = vn_xmalloc(x->dims_cap * sizeof *x->dims);
    }
    size_t nd = 0;
    x->dims[nd++] = (vn_sfx_dim_t){x->hostname_tag, strlen(x->hostname_tag), host ? host : ""};
    for (size_t i = 0; i < ntags; i++) {
        const char *t = tags[i];
        const char *colon = strchr(t, ':');
        size_t klen = colon ? (size_t)(colon - t) : strlen(t);
        const char *val = colon ? colon + 1 : "";
        ssize_t at = find_dim(x, nd, t, klen);
        if (at >= 0)
            x->dims[at].val = val;
        else
            x->dims[nd++] = (vn_sfx_dim_t){t, klen, val};
    }
    if (client_key) {
        const char *ck = "";
        ssize_t vb = x->vary_key_by[0] ? find_dim(x, nd, x->vary_key_by, strlen(x->vary_key_by)) : -1;
        ssize_t pv = x->preferred_vary_key_by[0]
                         ? find_dim(x, nd, x->preferred_vary_key_by, strlen(x->preferred_vary_key_by))
                         : -1;
        if (pv >= 0)
            ck = x->dims[pv].val;
        if (!ck[0] && vb >= 0)
            ck = x->dims[vb].val; /* the preferred dimension is absent or empty */
        *client_key = ck;
    }
    /* tags_exclude names whole dimension keys here (Go's SignalFx SetExcludedTags) */
    for (size_t e = 0; e < s->n_excluded_tags; e++) {
        ssize_t at = find_dim(x, nd, s->excluded_tags[e], strlen(s->excluded_tags[e]));
        if (at >= 0)
            remove_dim(x, &nd, (size_t)at);
    }
    if (counter && x->drop_host_with_tag_key[0] &&
        find_dim(x, nd, x->drop_host_with_tag_key, strlen(x->drop_host_with_tag_key)) >= 0) {
        ssize_t at = find_dim(x, nd, x->hostname_tag, strlen(x->hostname_tag));
        if (at >= 0)
            remove_dim(x, &nd, (size_t)at);
    }
    return nd;
}

size_t vn_sfx__dims(vn_sfx_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, const char *info_hostname,
                    const char **client_key)
{
    const char *host = m->hostname && m->hostname[0] ? m->hostname : info_hostname;
    return build_dims(x, s, host, m->tags, m->ntags, m->type == VN_IM_COUNTER, client_key);
}

int vn_sfx__token_for(const vn_sfx_t *x, const char *client_key)
{
    for (size_t i = 0; i < x->n_per_tag; i++)
        if (strcmp(x->per_tag[i].name, client_key) == 0)
            return (int)i;
    return -1;
}

void vn_sfx__sanitize_key(const char *key, size_t len, char *out)
{
    const unsigned char *k = (const unsigned char *)key;
    size_t i = 0;
    while (i < len) {
        unsigned char c = k[i];
        if (c < 0x80) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-';
            out[i++] = ok ? (char)c : '_';
            continue;
        }
        /* a valid multi-byte sequence is copied whole; any other byte becomes '_' */
        size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        bool valid = n && i + n <= len;
        for (size_t j = 1; valid && j < n; j++)
            valid = (k[i + j] & 0xC0) == 0x80;
        if (valid && n == 3) /* no overlongs, no surrogates */
            valid = !(c == 0xE0 && k[i + 1] < 0xA0) && !(c == 0xED && k[i + 1] > 0x9F);
        if (valid && n == 4)
            valid = !(c == 0xF0 && k[i + 1] < 0x90) && !(c == 0xF4 && k[i + 1] > 0x8F);
        if (!valid) {
            out[i++] = '_';
            continue;
        }
        memcpy(out + i, k + i, n);
        i += n;
    }
    out[len] = '\0';
}

/* The wire dimensions of x->dims[0..nd): empty keys/values left out, keys sanitised. */
static Sfxpb__Dimension **wire_dims(vn_sfx_t *x, size_t nd, size_t *n_out)
{
    size_t n = 0;
    for (size_t i = 0; i < nd; i++)
        n += x->dims[i].klen && x->dims[i].val[0];
    *n_out = n;
    if (!n)
        return NULL;
    Sfxpb__Dimension **v = vn_arena_alloc(&x->arena, n * sizeof *v);
    Sfxpb__Dimension *d = vn_arena_alloc(&x->arena, n * sizeof *d);
    size_t k = 0;
    for (size_t i = 0; i < nd; i++) {
        if (!x->dims[i].klen || !x->dims[i].val[0])
            continue;
        char *key = vn_arena_alloc(&x->arena, x->dims[i].klen + 1);
        vn_sfx__sanitize_key(x->dims[i].key, x->dims[i].klen, key);
        d[k] = (Sfxpb__Dimension)SFXPB__DIMENSION__INIT;
        d[k].key = key;
        d[k].value = (char *)(uintptr_t)x->dims[i].val; /* packing only reads it */
        v[k] = &d[k];
        k++;
    }
    return v;
}

static void arena_reset(vn_sfx_t *x)
{
    vn_arena_destroy(&x->arena);
    vn_arena_init(&x->arena, ARENA_CHUNK);
}

/* ------------------------------------------------------------ datapoints */

typedef struct enc {
    vn_sfx_t *x;
    const vn_sink_t *s;
    const vn_inter_metric_t *m;
    const vn_flush_info_t *info;
    vn_delivery_out_t out;
} enc_t;

static int64_t counter_value(double v)
{
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v; /* truncation toward zero, as Go's int64(float64) */
}

/* Hands body to emit, gzipped when over the threshold (body is consumed). */
static vn_err_t emit_body(enc_t *e, const char *what, const char *url, const vn_sfx_token_t *tok, char *body,
                          size_t len, size_t nmetrics)
{
    bool gz = false;
    if (len > VN_SFX_GZIP_OVER) {
        char *z = NULL;
        size_t zl = 0;
        if (vn_gzip_alloc(body, len, VN_GZIP_GZIP, &z, &zl) == VN_OK) {
            free(body);
            body = z;
            len = zl;
            gz = true;
        }
    }
    vn_delivery_req_t r = {.what = what, .url = url, .body = body, .len = len, .nmetrics = nmetrics};
    r.headers[r.nheaders++] = "Content-Type: application/x-protobuf";
    r.headers[r.nheaders++] = tok->header;
    if (gz)
        r.headers[r.nheaders++] = "Content-Encoding: gzip";
    return e->out.emit(e->out.ctx, &r);
}

static void emit_points(enc_t *e, const vn_sfx_token_t *tok, const size_t *idx, size_t lo, size_t hi)
{
    if (lo >= hi)
        return;
    vn_sfx_t *x = e->x;
    arena_reset(x);
    size_t n = hi - lo;
    Sfxpb__DataPointUploadMessage msg = SFXPB__DATA_POINT_UPLOAD_MESSAGE__INIT;
    msg.n_datapoints = n;
    msg.datapoints = vn_arena_alloc(&x->arena, n * sizeof *msg.datapoints);
    Sfxpb__DataPoint *dp = vn_arena_alloc(&x->arena, n * sizeof *dp);
    Sfxpb__Datum *dt = vn_arena_alloc(&x->arena, n * sizeof *dt);
    for (size_t i = 0; i < n; i++) {
        const vn_inter_metric_t *m = &e->m[idx[lo + i]];
        dp[i] = (Sfxpb__DataPoint)SFXPB__DATA_POINT__INIT;
        dt[i] = (Sfxpb__Datum)SFXPB__DATUM__INIT;
        dp[i].metric = (char *)(uintptr_t)m->name;
        dp[i].has_timestamp = 1;
        dp[i].timestamp = m->timestamp * 1000;
        dp[i].has_metrictype = 1;
        if (m->type == VN_IM_COUNTER) {
            dp[i].metrictype = SFXPB__METRIC_TYPE__COUNTER;
            dt[i].has_intvalue = 1;
            dt[i].intvalue = counter_value(m->value);
        } else {
            dp[i].metrictype = SFXPB__METRIC_TYPE__GAUGE;
            dt[i].has_doublevalue = 1;
            dt[i].doublevalue = m->value;
        }
        dp[i].value = &dt[i];
        size_t nd = vn_sfx__dims(x, e->s, m, e->info->hostname, NULL);
        dp[i].dimensions = wire_dims(x, nd, &dp[i].n_dimensions);
        msg.datapoints[i] = &dp[i];
    }
    size_t len = sfxpb__data_point_upload_message__get_packed_size(&msg);
    if (len > x->raw_cap) {
        if (n == 1) {
            x->skipped++;
            char q[VN_LOG_QUOTE_CAP]; /* a remote metric name */
            VN_LOG(WARN, "event=signalfx_metric_too_large sink=%s metric=%s", e->s->name,
                   vn_log_quote_cstr(q, sizeof q, e->m[idx[lo]].name));
            return;
        }
        size_t mid = lo + n / 2;
        emit_points(e, tok, idx, lo, mid);
        emit_points(e, tok, idx, mid, hi);
        return;
    }
    char *body = vn_xmalloc(len ? len : 1);
    sfxpb__data_point_upload_message__pack(&msg, (uint8_t *)body);
    arena_reset(x); /* do not keep a huge flush's structs until the next one */
    vn_delivery_out_note(&e->out, emit_body(e, "datapoint", x->datapoint_url, tok, body, len, n));
}

static bool dropped(const vn_sfx_t *x, const vn_inter_metric_t *m)
{
    if (vn_delivery_strv_prefixes(m->name, x->name_drops, x->n_name_drops))
        return true;
    for (size_t t = 0; t < m->ntags; t++)
        if (vn_delivery_strv_prefixes(m->tags[t], x->tag_drops, x->n_tag_drops))
            return true;
    return false;
}

vn_err_t vn_sfx__encode_metrics(vn_sfx_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                                const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    if (n == 0)
        return VN_OK;
    if (x->order_cap < n) {
        free(x->order);
        free(x->token_of);
        x->order_cap = n;
        x->order = vn_xmalloc(n * sizeof *x->order);
        x->token_of = vn_xmalloc(n * sizeof *x->token_of);
    }
    /* token per wanted metric (-2: not sent), then a counting sort by token */
    size_t ngroups = x->n_per_tag + 1;
    size_t *count = vn_xcalloc(ngroups + 1, sizeof *count);
    for (size_t i = 0; i < n; i++) {
        const vn_inter_metric_t *mi = &m[i];
        x->token_of[i] = -2;
        if (!vn_sink__wants(s, mi) || !mi->name || dropped(x, mi))
            continue;
        if (!isfinite(mi->value) || (mi->type != VN_IM_COUNTER && mi->type != VN_IM_GAUGE && mi->type != VN_IM_STATUS)) {
            x->skipped++;
            continue;
        }
        const char *ck = "";
        vn_sfx__dims(x, s, mi, info->hostname, &ck);
        x->token_of[i] = vn_sfx__token_for(x, ck);
        count[x->token_of[i] + 2]++;
    }
    for (size_t g = 1; g <= ngroups; g++)
        count[g] += count[g - 1]; /* count[g] = start of group g (group 0 = default token) */
    size_t *start = vn_xcalloc(ngroups + 1, sizeof *start);
    memcpy(start, count, (ngroups + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        if (x->token_of[i] >= -1)
            x->order[count[x->token_of[i] + 1]++] = i;
    enc_t e = {.x = x, .s = s, .m = m, .info = info, .out = {emit, ctx, VN_OK}};
    for (size_t g = 0; g < ngroups; g++) {
        size_t lo = start[g], hi = start[g + 1];
        const vn_sfx_token_t *tok = g == 0 ? &x->def : &x->per_tag[g - 1];
        size_t per = x->max_per_body ? x->max_per_body : hi - lo;
        for (size_t b = lo; b < hi; b += per)
            emit_points(&e, tok, x->order, b, b + per < hi ? b + per : hi);
    }
    free(start);
    free(count);
    return e.out.first_err;
}

/* ------------------------------------------------------------ events */

/* Copies s cut to at most max bytes without splitting a UTF-8 sequence. */
static char *cut_copy(vn_arena_t *a, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return vn_arena_strndup(a, s, n);
}

static void remove_first(char *s, const char *pat)
{
    char *p = strstr(s, pat);
    if (p) {
        size_t pl = strlen(pat);
        memmove(p, p + pl, strlen(p + pl) + 1);
    }
}

static char *description(vn_arena_t *a, const char *text)
{
    char *d = cut_copy(a, text ? text : "", VN_SFX_EVENT_FIELD_MAX);
    remove_first(d, "%%% \n");
    remove_first(d, "\n %%%");
    char *p = d;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
        p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || (p[n - 1] >= '\t' && p[n - 1] <= '\r')))
        n--;
    p[n] = '\0';
    return p;
}

vn_err_t vn_sfx__encode_events(vn_sfx_t *x, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                               const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    enc_t e = {.x = x, .s = s, .info = info, .out = {emit, ctx, VN_OK}};
    size_t per = x->max_per_body ? x->max_per_body : n;
    for (size_t lo = 0; lo < n; lo += per) {
        size_t hi = lo + per < n ? lo + per : n;
        arena_reset(x);
        Sfxpb__EventUploadMessage msg = SFXPB__EVENT_UPLOAD_MESSAGE__INIT;
        msg.n_events = hi - lo;
        msg.events = vn_arena_alloc(&x->arena, msg.n_events * sizeof *msg.events);
        for (size_t i = lo; i < hi; i++) {
            const vn_sink_event_t *v = &ev[i];
            Sfxpb__Event *pe = vn_arena_alloc(&x->arena, sizeof *pe);
            *pe = (Sfxpb__Event)SFXPB__EVENT__INIT;
            pe->eventtype = cut_copy(&x->arena, v->title ? v->title : "", VN_SFX_EVENT_FIELD_MAX);
            const char *host = v->hostname && v->hostname[0] ? v->hostname : info->hostname;
            size_t nd = build_dims(x, s, host, v->tags, v->ntags, false, NULL);
            pe->dimensions = wire_dims(x, nd, &pe->n_dimensions);
            Sfxpb__PropertyValue *pv = vn_arena_alloc(&x->arena, sizeof *pv);
            *pv = (Sfxpb__PropertyValue)SFXPB__PROPERTY_VALUE__INIT;
            pv->strvalue = description(&x->arena, v->text);
            Sfxpb__Property *pp = vn_arena_alloc(&x->arena, sizeof *pp);
            *pp = (Sfxpb__Property)SFXPB__PROPERTY__INIT;
            pp->key = "description";
            pp->value = pv;
            pe->n_properties = 1;
            pe->properties = vn_arena_alloc(&x->arena, sizeof *pe->properties);
            pe->properties[0] = pp;
            pe->has_category = 1;
            pe->category = SFXPB__EVENT_CATEGORY__USER_DEFINED;
            pe->has_timestamp = 1;
            pe->timestamp = v->timestamp * 1000;
            msg.events[i - lo] = pe;
        }
        size_t len = sfxpb__event_upload_message__get_packed_size(&msg);
        char *body = vn_xmalloc(len ? len : 1);
        sfxpb__event_upload_message__pack(&msg, (uint8_t *)body);
        arena_reset(x);
        vn_delivery_out_note(&e.out, emit_body(&e, "event", x->event_url, &x->def, body, len, hi - lo));
    }
    return e.out.first_err;
}

/* ------------------------------------------------------------ sink ops */

/* The queued encoder (sinks/queued.h): the protobuf encoder, and what it shares
 * with the dynamic token fetcher. x's per-tag token table is written by the
 * fetcher: the encoder holds mu for a whole flush call, the fetcher only to merge. */
typedef struct sfx_enc {
    vn_sfx_t x;
    pthread_mutex_t mu;
    vn_sfx_fetcher_t *fetcher; /* NULL unless dynamic_per_tag_api_keys_enable */
} sfx_enc_t;

static bool yaml_true(const char *v)
{
    return v && (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
}

/* dynamic_per_tag_api_keys_{enable,refresh_period} and endpoint_api -> the token URL and period, or no fetching. */
static vn_err_t dynamic_config(const vn_sink_config_t *sc, const char *name, char **url, double *period,
                               char *errbuf, size_t errcap)
{
    *url = NULL;
    *period = 0;
    if (!yaml_true(vn_sink_config_get(sc, "dynamic_per_tag_api_keys_enable")))
        return VN_OK;
    const char *rp = vn_sink_config_get(sc, "dynamic_per_tag_api_keys_refresh_period");
    if (!rp || !rp[0] || vn_config_parse_duration(rp, period) != VN_OK || *period <= 0)
        return bad(errbuf, errcap, name,
                   "per tag API keys are enabled, but the refresh period is unset "
                   "(config key dynamic_per_tag_api_keys_refresh_period, a positive Go duration)");
    const char *api = vn_sink_config_get(sc, "endpoint_api");
    if (!api || !api[0]) {
        api = VN_SFX_DEFAULT_API;
        VN_LOG(INFO, "event=signalfx_endpoint_api_default sink=%s endpoint_api=%s", name, api);
    }
    char *origin = origin_of(api);
    if (!origin)
        return bad(errbuf, errcap, name, "config key endpoint_api: want an http:// or https:// URL");
    size_t n = strlen(origin) + 16;
    *url = vn_xmalloc(n);
    snprintf(*url, n, "%s/v2/token", origin); /* Go: endpoint.Parse("/v2/token") replaces the path */
    free(origin);
    return VN_OK;
}

static vn_err_t sfx_metrics(void *enc, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                            const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    sfx_enc_t *e = enc;
    pthread_mutex_lock(&e->mu);
    vn_err_t err = vn_sfx__encode_metrics(&e->x, s, m, n, info, emit, ctx);
    pthread_mutex_unlock(&e->mu);
    return err;
}

static vn_err_t sfx_events(void *enc, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                           const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    sfx_enc_t *e = enc;
    pthread_mutex_lock(&e->mu);
    vn_err_t err = vn_sfx__encode_events(&e->x, s, ev, n, info, emit, ctx);
    pthread_mutex_unlock(&e->mu);
    return err;
}

/* skipped is written only by the encoder, on the caller's thread */
static size_t sfx_skipped(const void *enc) { return ((const sfx_enc_t *)enc)->x.skipped; }

static void sfx_destroy(void *enc)
{
    sfx_enc_t *e = enc;
    vn_sfx_fetcher_free(e->fetcher); /* first: it writes into x */
    vn_sfx__destroy(&e->x);
    pthread_mutex_destroy(&e->mu);
}

static const vn_queued_kind_t signalfx_kind = {
    .ops = VN_QUEUED_OPS("signalfx"),
    .metrics = sfx_metrics,
    .events = sfx_events,
    .skipped = sfx_skipped,
    .destroy = sfx_destroy,
};

vn_err_t vn_sink__signalfx_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                               size_t errcap)
{
    sfx_enc_t *e = vn_xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->mu, NULL); /* before anything can fail: sfx_destroy always destroys it */
    vn_err_t err = vn_sfx__init(&e->x, sc, s->name, errbuf, errcap);
    char *token_url = NULL;
    double period = 0;
    if (err == VN_OK)
        err = dynamic_config(sc, s->name, &token_url, &period, errbuf, errcap);
    /* every token is a secret: the default one and each per-tag one */
    size_t nsec = err == VN_OK ? e->x.n_per_tag + 1 : 0;
    const char **secrets = vn_xcalloc(nsec + 1, sizeof *secrets);
    for (size_t i = 0; i < nsec; i++)
        secrets[i] = i == 0 ? e->x.def.token : e->x.per_tag[i - 1].token;
    vn_delivery_opts_t o;
    err = vn_queued_start(s, &signalfx_kind, e, err, sc, cfg, secrets, nsec, &o, errbuf, errcap);
    free(secrets);
    if (err != VN_OK) {
        free(token_url);
        return err;
    }
    if (token_url) {
        e->fetcher = vn_sfx_fetcher_start(&e->x, &e->mu, s->name, token_url, e->x.def.token, period);
        VN_LOG(INFO, "event=signalfx_dynamic_tokens sink=%s token_url=%s refresh_period_s=%g", s->name, token_url,
               period);
        free(token_url);
    }
    VN_LOG(INFO, "event=sink_started sink=%s kind=signalfx endpoint=%s per_tag_tokens=%zu max_queue_bytes=%zu",
           s->name, e->x.datapoint_url, e->x.n_per_tag, o.max_queue_bytes);
    return VN_OK;
}
