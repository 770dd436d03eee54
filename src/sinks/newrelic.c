/*
 * newrelic.c - the "newrelic" metric sink (Go's sinks/newrelic metric sink):
 * Metric API and Insights event bodies (newrelic.h) fed to a delivery queue
 * (delivery.h), which sends, retries and bounds them like every HTTP sink.
 *
 *   metric_sinks:
 *     - kind: newrelic
 *       config:
 *         insert_key: "..."                 # required
 *         account_id: 1234567               # needed for status checks and events
 *         region: US                        # or EU
 *         common_tags: [env:prod]
 *         event_type: veneur
 *         service_check_event_type: veneurCheck
 *         # veneur-c: metric_url, event_url, flush_max_per_body, and the
 *         # delivery keys of delivery.h
 *
 * Differences from Go, on purpose: the region also picks the Metric API host
 * (Go's harvester always posts metrics to the US host, which EU keys are not
 * valid for); status checks carry "timestamp" as unix seconds (Go sends an
 * RFC 3339 string, which the Event API does not read as the event time);
 * counters and gauges carry no "hostname" attribute (as in Go, where only
 * status checks have a host); a status check whose host and tags are both
 * empty is sent (Go's sink panics on it); tags_exclude applies here as in the
 * other HTTP sinks. NaN/Inf values are never sent (the SDK refuses them too).
 */
#include "sinks/newrelic.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/gonum.h"
#include "core/gzip.h"
#include "core/json.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/queued.h"
#include "sinks/sink_internal.h"

/* ------------------------------------------------------------ config */

static vn_err_t bad(char *errbuf, size_t errcap, const char *sink, const char *what)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sink \"%s\" (newrelic): %s", sink, what);
    return VN_ERR_CONFIG;
}

static bool header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool http_url(const char *s)
{
    return (strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8]);
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = vn_xmalloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

vn_err_t vn_nr__init(vn_nr_t *x, const vn_sink_config_t *sc, const char *sink_name, char *errbuf, size_t errcap)
{
    memset(x, 0, sizeof *x);
    x->gzip_cap = VN_NR_GZIP_CAP;
    x->raw_cap = VN_NR_RAW_CAP;
    x->max_per_body = VN_NR_DEFAULT_MAX_PER_BODY;
    vn_buf_init(&x->json, x->raw_cap);
    const char *name = sink_name ? sink_name : "newrelic";
    const char *et = vn_sink_config_get(sc, "event_type");
    const char *cet = vn_sink_config_get(sc, "service_check_event_type");
    x->event_type = vn_xstrdup(et && et[0] ? et : VN_NR_DEFAULT_EVENT_TYPE);
    x->check_event_type = vn_xstrdup(cet && cet[0] ? cet : VN_NR_DEFAULT_CHECK_EVENT_TYPE);

    const char *key = vn_sink_config_get(sc, "insert_key");
    if (!key || !key[0])
        return bad(errbuf, errcap, name, "config key insert_key is required");
    if (!header_safe(key))
        return bad(errbuf, errcap, name, "config key insert_key: control characters are not allowed");
    x->insert_key = vn_xstrdup(key);
    x->api_header = join3("Api-Key: ", key, "");
    x->insert_header = join3("X-Insert-Key: ", key, "");

    const char *region = vn_sink_config_get(sc, "region");
    bool eu = false;
    if (region && region[0]) {
        if (strcasecmp(region, "EU") == 0)
            eu = true;
        else if (strcasecmp(region, "US") != 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "config key region: invalid value \"%.60s\" (US or EU)", region);
            return bad(errbuf, errcap, name, msg);
        }
    }
    const char *murl = vn_sink_config_get(sc, "metric_url");
    if (murl && murl[0] && !http_url(murl))
        return bad(errbuf, errcap, name, "config key metric_url: want an http:// or https:// URL");
    x->metric_url = vn_xstrdup(murl && murl[0] ? murl : eu ? VN_NR_METRIC_URL_EU : VN_NR_METRIC_URL_US);

    const char *acct = vn_sink_config_get(sc, "account_id");
    long long account = 0;
    if (acct && acct[0]) {
        char *end;
        errno = 0;
        account = strtoll(acct, &end, 10);
        if (*end || errno || account < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "config key account_id: invalid value \"%.60s\" (a New Relic account number)",
                     acct);
            return bad(errbuf, errcap, name, msg);
        }
    }
    const char *eurl = vn_sink_config_get(sc, "event_url");
    if (eurl && eurl[0] && !http_url(eurl))
        return bad(errbuf, errcap, name, "config key event_url: want an http:// or https:// URL");
    if (account > 0) {
        char id[32];
        snprintf(id, sizeof id, "%lld", account);
        const char *base = eurl && eurl[0] ? eurl : eu ? VN_NR_INSIGHTS_EU : VN_NR_INSIGHTS_US;
        size_t bl = strlen(base);
        while (bl > 0 && base[bl - 1] == '/')
            bl--;
        char *b = vn_xstrndup(base, bl);
        char *acc = join3(b, "/accounts/", id);
        x->event_url = join3(acc, "/events", "");
        free(acc);
        free(b);
    }

    const char *fmpb = vn_sink_config_get(sc, "flush_max_per_body");
    if (fmpb && fmpb[0]) {
        char *end;
        long long v = strtoll(fmpb, &end, 10);
        if (*end || v < 0 || v > 100000000) {
            char msg[200];
            snprintf(msg, sizeof msg, "config key flush_max_per_body: invalid value \"%.60s\" (0 .. 100000000)", fmpb);
            return bad(errbuf, errcap, name, msg);
        }
        if (v > 0)
            x->max_per_body = (size_t)v;
    }

    char **ct = NULL;
    size_t nct = 0;
    vn_delivery_config_list(sc, "common_tags", &ct, &nct);
    if (nct) {
        vn_buf_t b = VN_BUF_INIT((size_t)1 << 20);
        vn_err_t err = vn_nr__attributes(&b, NULL, (const char *const *)ct, nct, NULL, NULL, NULL, true);
        if (err == VN_OK)
            x->common_json = vn_xstrdup(vn_buf_ptr(&b));
        vn_buf_free(&b);
        vn_delivery_strv_free(ct, nct);
        if (err != VN_OK)
            return bad(errbuf, errcap, name, "config key common_tags: too long");
    }
    return VN_OK;
}

void vn_nr__destroy(vn_nr_t *x)
{
    free(x->insert_key);
    free(x->metric_url);
    free(x->event_url);
    free(x->api_header);
    free(x->insert_header);
    free(x->event_type);
    free(x->check_event_type);
    free(x->common_json);
    vn_buf_free(&x->json);
    free(x->idx);
    memset(x, 0, sizeof *x);
}

/* ------------------------------------------------------------ attributes */

/* Go's strconv.ParseFloat accepting v, to a finite double (anything else stays a string). */
static bool go_float(const char *v, double *out)
{
    double d;
    if (vn_gonum_parse_float(v, strlen(v), 0, &d) != VN_GONUM_OK || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool key_is(const char *t, size_t klen, const char *k)
{
    return strlen(k) == klen && memcmp(t, k, klen) == 0;
}

static size_t key_len(const char *t)
{
    const char *c = strchr(t, ':');
    return c ? (size_t)(c - t) : strlen(t);
}

static bool skipped_key(const char *t, size_t klen, const char *hostname, const char *message,
                        const char *const *skip)
{
    if (hostname && hostname[0] && key_is(t, klen, "hostname"))
        return true;
    if (message && message[0] && key_is(t, klen, "message"))
        return true;
    for (size_t i = 0; skip && skip[i]; i++)
        if (key_is(t, klen, skip[i]))
            return true;
    return false;
}

static vn_err_t add_member_str(vn_buf_t *b, bool *first, const char *k, size_t klen, const char *v)
{
    vn_err_t err = *first ? VN_OK : vn_buf_add_byte(b, ',');
    *first = false;
    if (err == VN_OK)
        err = vn_json_add_string(b, k, klen);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, ':');
    if (err == VN_OK)
        err = vn_json_add_string(b, v, strlen(v));
    return err;
}

vn_err_t vn_nr__attributes(vn_buf_t *b, const vn_sink_t *s, const char *const *tags, size_t ntags,
                           const char *hostname, const char *message, const char *const *skip, bool braces)
{
    vn_err_t err = braces ? vn_buf_add_byte(b, '{') : VN_OK;
    bool first = braces;
    for (size_t i = 0; i < ntags && err == VN_OK; i++) {
        const char *t = tags[i];
        if (!t || (s && vn_sink__tag_excluded(s, t)))
            continue;
        size_t klen = key_len(t);
        if (skipped_key(t, klen, hostname, message, skip))
            continue;
        bool later = false; /* a later tag with the same key wins (Go map assignment) */
        for (size_t j = i + 1; j < ntags && !later; j++)
            later = tags[j] && key_len(tags[j]) == klen && memcmp(tags[j], t, klen) == 0 &&
                    !(s && vn_sink__tag_excluded(s, tags[j]));
        if (later)
            continue;
        if (!t[klen]) {
            err = add_member_str(b, &first, t, klen, "true");
            continue;
        }
        const char *v = t + klen + 1;
        double d;
        if (!go_float(v, &d)) {
            err = add_member_str(b, &first, t, klen, v);
            continue;
        }
        err = first ? VN_OK : vn_buf_add_byte(b, ',');
        first = false;
        if (err == VN_OK)
            err = vn_json_add_string(b, t, klen);
        if (err == VN_OK)
            err = vn_buf_add_byte(b, ':');
        if (err == VN_OK)
            err = vn_json_add_double(b, d);
    }
    if (err == VN_OK && hostname && hostname[0])
        err = add_member_str(b, &first, "hostname", 8, hostname);
    if (err == VN_OK && message && message[0])
        err = add_member_str(b, &first, "message", 7, message);
    if (err == VN_OK && braces)
        err = vn_buf_add_byte(b, '}');
    return err;
}

/* ------------------------------------------------------------ bodies */

enum body_kind { BODY_METRICS, BODY_CHECKS, BODY_EVENTS };

typedef struct enc {
    vn_nr_t *x;
    const vn_sink_t *s;
    const vn_inter_metric_t *m;
    const vn_sink_event_t *ev;
    const vn_flush_info_t *info;
    vn_delivery_emit_fn emit;
    void *ctx;
    vn_err_t first_err;
    enum body_kind kind;
} enc_t;

static void note_err(enc_t *e, vn_err_t err)
{
    if (err != VN_OK && e->first_err == VN_OK)
        e->first_err = err;
}

static int64_t interval_ms(const vn_flush_info_t *info)
{
    return (int64_t)llround(info->interval_s * 1000.0);
}

static vn_err_t write_metric(enc_t *e, vn_buf_t *b, const vn_inter_metric_t *m)
{
    bool count = m->type == VN_IM_COUNTER;
    vn_err_t err = vn_buf_add_str(b, "{\"name\":");
    if (err == VN_OK)
        err = vn_json_add_string(b, m->name, strlen(m->name));
    if (err == VN_OK)
        err = vn_buf_add_str(b, count ? ",\"type\":\"count\",\"value\":" : ",\"type\":\"gauge\",\"value\":");
    if (err == VN_OK)
        err = vn_json_add_double(b, m->value);
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"timestamp\":%lld", (long long)m->timestamp * 1000);
    if (err == VN_OK && count)
        err = vn_buf_printf(b, ",\"interval.ms\":%lld", (long long)interval_ms(e->info));
    if (err == VN_OK && m->ntags) {
        size_t mark = vn_buf_len(b);
        err = vn_buf_add_str(b, ",\"attributes\":");
        if (err == VN_OK)
            err = vn_nr__attributes(b, e->s, m->tags, m->ntags, NULL, NULL, NULL, true);
        if (err == VN_OK && strcmp(vn_buf_ptr(b) + mark, ",\"attributes\":{}") == 0)
            vn_buf_truncate(b, mark); /* every tag was excluded */
    }
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '}');
    return err;
}

static const char *status_name(double v)
{
    switch ((int)v) {
    case 0:
        return "OK";
    case 1:
        return "WARNING";
    case 2:
        return "CRITICAL";
    default:
        return "UNKNOWN";
    }
}

static const char *const check_keys[] = {"eventType", "name", "timestamp", "statusCode", "status", NULL};

static vn_err_t write_check(enc_t *e, vn_buf_t *b, const vn_inter_metric_t *m)
{
    vn_err_t err = vn_buf_add_str(b, "{\"eventType\":");
    if (err == VN_OK)
        err = vn_json_add_string(b, e->x->check_event_type, strlen(e->x->check_event_type));
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"name\":");
    if (err == VN_OK)
        err = vn_json_add_string(b, m->name, strlen(m->name));
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"timestamp\":%lld,\"statusCode\":%d,\"status\":\"%s\"", (long long)m->timestamp,
                            (int)m->value, status_name(m->value));
    if (err == VN_OK) /* without braces every member comes with its leading ',' */
        err = vn_nr__attributes(b, e->s, m->tags, m->ntags, m->hostname, m->message, check_keys, false);
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '}');
    return err;
}

static const char *const event_keys[] = {"eventType", "type", "name", "value", "timestamp", "message", "status",
                                         "rate", "unit", "scope", NULL};

/* Go's sink sees a DogStatsD event as an SSF sample: the fields below, then its
 * tags flattened, the DogStatsD fields among them under vdogstatsd_* keys. */
static vn_err_t write_event(enc_t *e, vn_buf_t *b, const vn_sink_event_t *v)
{
    const char *title = v->title ? v->title : "", *text = v->text ? v->text : "";
    vn_err_t err = vn_buf_add_str(b, "{\"eventType\":");
    if (err == VN_OK)
        err = vn_json_add_string(b, e->x->event_type, strlen(e->x->event_type));
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"type\":0,\"name\":");
    if (err == VN_OK)
        err = vn_json_add_string(b, title, strlen(title));
    if (err == VN_OK)
        err = vn_buf_printf(b, ",\"value\":0,\"timestamp\":%lld,\"message\":", (long long)v->timestamp);
    if (err == VN_OK)
        err = vn_json_add_string(b, text, strlen(text));
    if (err == VN_OK)
        err = vn_buf_add_str(b, ",\"status\":0,\"rate\":1,\"unit\":\"\",\"scope\":0,\"vdogstatsd_ev\":\"\"");
    const struct {
        const char *k, *v;
    } dd[] = {{"vdogstatsd_hostname", v->hostname}, {"vdogstatsd_ak", v->agg_key}, {"vdogstatsd_pri", v->priority},
              {"vdogstatsd_st", v->source_type},    {"vdogstatsd_at", v->alert_type}};
    for (size_t i = 0; i < sizeof dd / sizeof dd[0] && err == VN_OK; i++) {
        if (!dd[i].v || !dd[i].v[0])
            continue;
        bool first = false;
        err = add_member_str(b, &first, dd[i].k, strlen(dd[i].k), dd[i].v);
    }
    /* SSF tags are a map of strings: no number conversion here */
    for (size_t i = 0; i < v->ntags && err == VN_OK; i++) {
        const char *t = v->tags[i];
        if (!t || vn_sink__tag_excluded(e->s, t))
            continue;
        size_t klen = key_len(t);
        bool reserved = false;
        for (size_t k = 0; event_keys[k] && !reserved; k++)
            reserved = key_is(t, klen, event_keys[k]);
        if (reserved)
            continue;
        bool first = false;
        err = add_member_str(b, &first, t, klen, t[klen] ? t + klen + 1 : "");
    }
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '}');
    return err;
}

static vn_err_t write_item(enc_t *e, vn_buf_t *b, size_t item)
{
    switch (e->kind) {
    case BODY_METRICS:
        return write_metric(e, b, &e->m[item]);
    case BODY_CHECKS:
        return write_check(e, b, &e->m[item]);
    default:
        return write_event(e, b, &e->ev[item]);
    }
}

static vn_err_t open_body(enc_t *e, vn_buf_t *b)
{
    if (e->kind != BODY_METRICS)
        return vn_buf_add_byte(b, '[');
    int64_t ims = interval_ms(e->info);
    vn_err_t err = vn_buf_printf(b, "[{\"common\":{\"timestamp\":%lld,\"interval.ms\":%lld",
                                 (long long)(e->info->timestamp * 1000 - ims), (long long)ims);
    if (err == VN_OK && e->x->common_json)
        err = vn_buf_printf(b, ",\"attributes\":%s", e->x->common_json);
    if (err == VN_OK)
        err = vn_buf_add_str(b, "},\"metrics\":[");
    return err;
}

/* Counted in the sink's dropped metrics; only an oversized item is worth a
 * warning each time (the others repeat every interval and were announced at
 * start-up or are the client's NaNs). */
static void count_skip(enc_t *e, size_t n, const char *why)
{
    e->x->skipped += n;
    if (strcmp(why, "too_large") == 0)
        VN_LOG(WARN, "event=newrelic_skipped sink=%s items=%zu reason=%s", e->s->name, n, why);
    else
        VN_LOG(DEBUG, "event=newrelic_skipped sink=%s items=%zu reason=%s", e->s->name, n, why);
}

/* Encodes items x->idx[lo..hi), compresses, splits in halves while too large, emits. */
static void emit_range(enc_t *e, size_t lo, size_t hi)
{
    if (lo >= hi)
        return;
    vn_nr_t *x = e->x;
    size_t n = hi - lo;
    vn_buf_t *b = &x->json;
    vn_buf_reset(b);
    vn_err_t err = open_body(e, b);
    for (size_t i = lo; i < hi && err == VN_OK; i++) {
        if (i > lo)
            err = vn_buf_add_byte(b, ',');
        if (err == VN_OK)
            err = write_item(e, b, x->idx[i]);
    }
    if (err == VN_OK)
        err = vn_buf_add_str(b, e->kind == BODY_METRICS ? "]}]" : "]");
    if (err == VN_ERR_TOO_LARGE && n > 1) {
        emit_range(e, lo, lo + n / 2);
        emit_range(e, lo + n / 2, hi);
        return;
    }
    if (err != VN_OK) {
        count_skip(e, n, "too_large");
        return;
    }
    char *z = NULL;
    size_t zl = 0;
    err = vn_gzip_alloc(vn_buf_ptr(b), vn_buf_len(b), VN_GZIP_GZIP, &z, &zl);
    if (err != VN_OK) {
        note_err(e, err);
        return;
    }
    if (zl >= x->gzip_cap && n > 1) {
        free(z);
        emit_range(e, lo, lo + n / 2);
        emit_range(e, lo + n / 2, hi);
        return;
    }
    vn_delivery_req_t r = {.body = z, .len = zl, .nmetrics = n};
    if (e->kind == BODY_METRICS) {
        r.what = "metrics";
        r.url = x->metric_url;
        r.headers[r.nheaders++] = x->api_header;
    } else {
        r.what = e->kind == BODY_CHECKS ? "service_checks" : "events";
        r.url = x->event_url;
        r.headers[r.nheaders++] = x->insert_header;
    }
    r.headers[r.nheaders++] = "Content-Type: application/json";
    r.headers[r.nheaders++] = "Content-Encoding: gzip";
    note_err(e, e->emit(e->ctx, &r));
}

static void emit_all(enc_t *e, size_t count)
{
    size_t per = e->x->max_per_body;
    for (size_t lo = 0; lo < count; lo += per)
        emit_range(e, lo, lo + per < count ? lo + per : count);
}

static void reserve_idx(vn_nr_t *x, size_t n)
{
    if (x->idx_cap < n) {
        free(x->idx);
        x->idx_cap = n;
        x->idx = vn_xmalloc(n * sizeof *x->idx);
    }
}

vn_err_t vn_nr__encode_metrics(vn_nr_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                               const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    if (n == 0)
        return VN_OK;
    reserve_idx(x, n);
    enc_t e = {.x = x, .s = s, .m = m, .info = info, .emit = emit, .ctx = ctx};
    for (int pass = 0; pass < 2; pass++) {
        enum body_kind kind = pass == 0 ? BODY_METRICS : BODY_CHECKS;
        size_t k = 0, nonfinite = 0;
        for (size_t i = 0; i < n; i++) {
            const vn_inter_metric_t *mi = &m[i];
            if (!vn_sink__wants(s, mi) || !mi->name)
                continue;
            if ((mi->type == VN_IM_STATUS) != (kind == BODY_CHECKS))
                continue;
            if (!isfinite(mi->value) || (mi->type != VN_IM_COUNTER && mi->type != VN_IM_GAUGE && mi->type != VN_IM_STATUS)) {
                nonfinite++;
                continue;
            }
            x->idx[k++] = i;
        }
        if (nonfinite)
            count_skip(&e, nonfinite, "not_finite");
        if (kind == BODY_CHECKS && k && !x->event_url) {
            count_skip(&e, k, "no_account_id");
            continue;
        }
        e.kind = kind;
        emit_all(&e, k);
    }
    return e.first_err;
}

vn_err_t vn_nr__encode_events(vn_nr_t *x, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                              const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    if (n == 0)
        return VN_OK;
    enc_t e = {.x = x, .s = s, .ev = ev, .info = info, .emit = emit, .ctx = ctx, .kind = BODY_EVENTS};
    if (!x->event_url) {
        count_skip(&e, n, "no_account_id");
        return VN_OK;
    }
    reserve_idx(x, n);
    for (size_t i = 0; i < n; i++)
        x->idx[i] = i;
    emit_all(&e, n);
    return e.first_err;
}

/* ------------------------------------------------------------ sink ops */

static vn_err_t nr_metrics(void *enc, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                           const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    return vn_nr__encode_metrics(enc, s, m, n, info, emit, ctx);
}

static vn_err_t nr_events(void *enc, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                          const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx)
{
    return vn_nr__encode_events(enc, s, ev, n, info, emit, ctx);
}

static size_t nr_skipped(const void *enc) { return ((const vn_nr_t *)enc)->skipped; }
static void nr_destroy(void *enc) { vn_nr__destroy(enc); }

static const vn_queued_kind_t newrelic_kind = {
    .ops = VN_QUEUED_OPS("newrelic"),
    .metrics = nr_metrics,
    .events = nr_events,
    .skipped = nr_skipped,
    .destroy = nr_destroy,
};

vn_err_t vn_sink__newrelic_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                               size_t errcap)
{
    vn_nr_t *nr = vn_xcalloc(1, sizeof *nr);
    vn_err_t err = vn_nr__init(nr, sc, s->name, errbuf, errcap);
    const char *secrets[] = {nr->insert_key};
    vn_delivery_opts_t o;
    err = vn_queued_start(s, &newrelic_kind, nr, err, sc, cfg, secrets, 1, &o, errbuf, errcap);
    if (err != VN_OK)
        return err;
    if (!nr->event_url)
        VN_LOG(WARN, "event=newrelic_no_account_id sink=%s msg=\"account_id is unset: status checks and events "
                     "are dropped (counted)\"",
               s->name);
    VN_LOG(INFO, "event=sink_started sink=%s kind=newrelic metric_url=%s max_queue_bytes=%zu", s->name,
           nr->metric_url, o.max_queue_bytes);
    return VN_OK;
}
