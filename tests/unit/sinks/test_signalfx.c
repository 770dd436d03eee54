/*
 * test_signalfx.c - sinks/signalfx encoder: bodies decoded back with the
 * protobuf-c code of proto/signalfx.proto and compared field by field
 * (metric types, values, ms timestamps, dimensions in order), gzip above 1500
 * bytes, token selection by vary_key_by / preferred_vary_key_by, dimension
 * rules and key sanitising, batching, events, config errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "signalfx.pb-c.h"
#include "sinks/signalfx.h"

/* ---------------------------------------------------------------- recorder */

typedef struct rec {
    const char *what;
    char url[256];
    char hdr[VN_HTTP_MAX_HEADERS][96];
    size_t nhdr;
    uint8_t *body; /* gunzipped when gzip-encoded */
    size_t len;    /* decoded length */
    size_t sent;   /* as sent */
    size_t nmetrics;
} rec_t;

typedef struct recorder {
    rec_t r[64];
    size_t n;
} recorder_t;

static bool has_hdr(const rec_t *r, const char *h)
{
    for (size_t i = 0; i < r->nhdr; i++)
        if (strcmp(r->hdr[i], h) == 0)
            return true;
    return false;
}

static uint8_t *gunzip(const char *in, size_t len, size_t *out_len)
{
    size_t cap = 1 << 20;
    uint8_t *out = malloc(cap);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 31), Z_OK); /* gzip wrapper required */
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    inflateEnd(&zs);
    return out;
}

static vn_err_t record(void *ctx, vn_delivery_req_t *q)
{
    recorder_t *rc = ctx;
    assert_true(rc->n < 64);
    rec_t *r = &rc->r[rc->n++];
    r->what = q->what;
    snprintf(r->url, sizeof r->url, "%s", q->url);
    r->nhdr = q->nheaders;
    for (size_t i = 0; i < q->nheaders; i++)
        snprintf(r->hdr[i], sizeof r->hdr[i], "%s", q->headers[i]);
    r->nmetrics = q->nmetrics;
    r->sent = q->len;
    if (has_hdr(r, "Content-Encoding: gzip")) {
        r->body = gunzip(q->body, q->len, &r->len);
        free(q->body);
    } else {
        r->body = (uint8_t *)q->body;
        r->len = q->len;
    }
    q->body = NULL;
    return VN_OK;
}

static void recorder_free(recorder_t *rc)
{
    for (size_t i = 0; i < rc->n; i++)
        free(rc->r[i].body);
    rc->n = 0;
}

static Sfxpb__DataPointUploadMessage *decode(const rec_t *r)
{
    Sfxpb__DataPointUploadMessage *m = sfxpb__data_point_upload_message__unpack(NULL, r->len, r->body);
    assert_non_null(m);
    return m;
}

/* "k=v,k=v" of a point's dimensions, in wire order */
static const char *dims_str(const Sfxpb__Dimension *const *d, size_t n)
{
    static char buf[512];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s=%s", i ? "," : "", d[i]->key, d[i]->value);
    return buf;
}

/* ---------------------------------------------------------------- fixtures */

#define TS 1700000000

static vn_sfx_t *sfx_new(const vn_kv_t *extra, size_t nextra)
{
    vn_kv_t kv[24] = {{.key = "api_key", .value = "DEFTOKEN"},
                      {.key = "endpoint_base", .value = "http://sfx.example:8080/ignored/path?q=1"},
                      {.key = "hostname_tag", .value = "host"}};
    size_t n = 3;
    for (size_t i = 0; i < nextra; i++) {
        size_t at = n;
        for (size_t k = 0; k < 3; k++) /* an extra key replaces a base one */
            if (strcmp(kv[k].key, extra[i].key) == 0)
                at = k;
        kv[at] = extra[i];
        if (at == n)
            n++;
    }
    vn_sink_config_t sc = {.kind = "signalfx", .name = "sfx", .kv = kv, .n_kv = n};
    vn_sfx_t *x = calloc(1, sizeof *x);
    char err[256] = "";
    assert_int_equal(vn_sfx__init(x, &sc, "sfx", err, sizeof err), VN_OK);
    return x;
}

static void sfx_free(vn_sfx_t *x)
{
    vn_sfx__destroy(x);
    free(x);
}

static const vn_flush_info_t INFO = {.timestamp = TS, .interval_s = 10, .hostname = "h"};

static vn_inter_metric_t M(const char *name, vn_im_type_t type, double v, const char *const *tags, size_t ntags)
{
    return (vn_inter_metric_t){.name = name, .timestamp = TS, .value = v, .tags = tags, .ntags = ntags,
                               .type = type, .hostname = "h"};
}

static const vn_kv_t PER_TAG[] = {
    {.key = "vary_key_by", .value = "team"},
    {.key = "per_tag_api_keys.0.name", .value = "obs"},
    {.key = "per_tag_api_keys.0.api_key", .value = "OBSTOKEN"},
    {.key = "per_tag_api_keys.1.name", .value = "a"},
    {.key = "per_tag_api_keys.1.api_key", .value = "ATOKEN"},
};

/* ---------------------------------------------------------------- cases */

static void test_signalfx__datapoints_decoded(void **state)
{
    (void)state;
    vn_sfx_t *x = sfx_new(PER_TAG, 5);
    const char *tc[] = {"env:x", "team:obs"};
    const char *tg[] = {"device:sda", "host:web1"};
    vn_inter_metric_t m[] = {
        M("c", VN_IM_COUNTER, 3.9, tc, 2),
        M("g", VN_IM_GAUGE, 2.5, tg, 2),
        M("s", VN_IM_STATUS, 1, NULL, 0),
        M("neg", VN_IM_COUNTER, -2.7, NULL, 0),
        M("huge", VN_IM_COUNTER, 1e30, NULL, 0),
    };
    vn_sink_t s = {.name = "sfx"};
    recorder_t rc = {0};
    assert_int_equal(vn_sfx__encode_metrics(x, &s, m, 5, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 2); /* default token first, then per-tag tokens in config order */

    rec_t *r = &rc.r[0];
    assert_string_equal(r->what, "datapoint");
    assert_string_equal(r->url, "http://sfx.example:8080/v2/datapoint");
    assert_int_equal(r->nhdr, 2);
    assert_string_equal(r->hdr[0], "Content-Type: application/x-protobuf");
    assert_string_equal(r->hdr[1], "X-Sf-Token: DEFTOKEN");
    assert_int_equal(r->nmetrics, 4);
    Sfxpb__DataPointUploadMessage *u = decode(r);
    assert_int_equal(u->n_datapoints, 4);
    Sfxpb__DataPoint *p = u->datapoints[0];
    assert_string_equal(p->metric, "g");
    assert_null(p->source);
    assert_true(p->has_timestamp && p->timestamp == (int64_t)TS * 1000);
    assert_true(p->has_metrictype && p->metrictype == SFXPB__METRIC_TYPE__GAUGE);
    assert_true(p->value->has_doublevalue && p->value->doublevalue == 2.5);
    assert_false(p->value->has_intvalue);
    assert_null(p->value->strvalue);
    /* the host tag replaces the hostname dimension in place */
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)p->dimensions, p->n_dimensions),
                        "host=web1,device=sda");
    p = u->datapoints[1];
    assert_string_equal(p->metric, "s");
    assert_true(p->metrictype == SFXPB__METRIC_TYPE__GAUGE && p->value->doublevalue == 1);
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)p->dimensions, p->n_dimensions), "host=h");
    p = u->datapoints[2];
    assert_string_equal(p->metric, "neg");
    assert_true(p->metrictype == SFXPB__METRIC_TYPE__COUNTER);
    assert_true(p->value->has_intvalue && p->value->intvalue == -2); /* Go int64(): toward zero */
    assert_false(p->value->has_doublevalue);
    p = u->datapoints[3];
    assert_true(p->value->intvalue == INT64_MAX); /* clamped, never undefined */
    sfxpb__data_point_upload_message__free_unpacked(u, NULL);

    r = &rc.r[1];
    assert_string_equal(r->hdr[1], "X-Sf-Token: OBSTOKEN");
    u = decode(r);
    assert_int_equal(u->n_datapoints, 1);
    p = u->datapoints[0];
    assert_string_equal(p->metric, "c");
    assert_true(p->metrictype == SFXPB__METRIC_TYPE__COUNTER && p->value->intvalue == 3);
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)p->dimensions, p->n_dimensions),
                        "host=h,env=x,team=obs");
    sfxpb__data_point_upload_message__free_unpacked(u, NULL);
    recorder_free(&rc);
    sfx_free(x);
}

static void test_signalfx__gzip_over_1500_bytes(void **state)
{
    (void)state;
    vn_sfx_t *x = sfx_new(NULL, 0);
    static vn_inter_metric_t m[200];
    static char names[200][24];
    for (size_t i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "metric.%zu", i);
        m[i] = M(names[i], VN_IM_GAUGE, (double)i, NULL, 0);
    }
    vn_sink_t s = {.name = "sfx"};
    recorder_t rc = {0};
    assert_int_equal(vn_sfx__encode_metrics(x, &s, m, 200, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_true(has_hdr(&rc.r[0], "Content-Encoding: gzip"));
    assert_true(rc.r[0].len > 1500 && rc.r[0].sent < rc.r[0].len);
    Sfxpb__DataPointUploadMessage *u = decode(&rc.r[0]);
    assert_int_equal(u->n_datapoints, 200);
    for (size_t i = 0; i < 200; i++) {
        assert_string_equal(u->datapoints[i]->metric, names[i]);
        assert_true(u->datapoints[i]->value->doublevalue == (double)i);
    }
    sfxpb__data_point_upload_message__free_unpacked(u, NULL);
    recorder_free(&rc);
    /* a small body goes uncompressed */
    assert_int_equal(vn_sfx__encode_metrics(x, &s, m, 3, &INFO, record, &rc), VN_OK);
    assert_false(has_hdr(&rc.r[0], "Content-Encoding: gzip"));
    assert_true(rc.r[0].len <= 1500 && rc.r[0].len == rc.r[0].sent);
    recorder_free(&rc);
    sfx_free(x);
}

static void test_signalfx__token_selection(void **state)
{
    (void)state;
    static const struct {
        const char *vary, *preferred;
        const char *tags[3];
        size_t ntags;
        const char *want_key;
        int want_token; /* -1 default, else per_tag index (obs=0, a=1) */
    } cases[] = {
        {"team", "", {"team:obs"}, 1, "obs", 0},
        {"team", "", {"team:other"}, 1, "other", -1},
        {"team", "", {"env:x"}, 1, "", -1},
        {"team", "svc", {"svc:a", "team:obs"}, 2, "a", 1},        /* preferred wins */
        {"team", "svc", {"svc:", "team:obs"}, 2, "obs", 0},       /* empty preferred: vary_key_by */
        {"team", "svc", {"svc", "team:obs"}, 2, "obs", 0},        /* no colon: value "" */
        {"team", "svc", {"team:obs"}, 1, "obs", 0},
        {"", "svc", {"svc:a"}, 1, "a", 1},
        {"", "", {"team:obs"}, 1, "", -1},
        {"team", "", {"team:a", "team:obs"}, 2, "obs", 0},        /* a later tag overrides */
        {"team", "", {"team:nobody", "x:1"}, 2, "nobody", -1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vn_kv_t kv[6];
        memcpy(kv, PER_TAG, sizeof PER_TAG);
        kv[0].value = (char *)cases[c].vary;
        kv[5] = (vn_kv_t){.key = "preferred_vary_key_by", .value = (char *)cases[c].preferred};
        vn_sfx_t *x = sfx_new(kv, 6);
        vn_inter_metric_t m = M("m", VN_IM_GAUGE, 1, cases[c].tags, cases[c].ntags);
        vn_sink_t s = {.name = "sfx"};
        const char *ck = NULL;
        vn_sfx__dims(x, &s, &m, "h", &ck);
        assert_non_null(ck);
        assert_string_equal(ck, cases[c].want_key);
        assert_int_equal(vn_sfx__token_for(x, ck), cases[c].want_token);
        /* and the encoder sends the point with that token */
        recorder_t rc = {0};
        assert_int_equal(vn_sfx__encode_metrics(x, &s, &m, 1, &INFO, record, &rc), VN_OK);
        assert_int_equal(rc.n, 1);
        const char *tok = cases[c].want_token < 0 ? "X-Sf-Token: DEFTOKEN"
                          : cases[c].want_token == 0 ? "X-Sf-Token: OBSTOKEN"
                                                     : "X-Sf-Token: ATOKEN";
        assert_true(has_hdr(&rc.r[0], tok));
        recorder_free(&rc);
        sfx_free(x);
    }
}

static void test_signalfx__dimension_rules(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "drop_host_with_tag_key", .value = "svc"}};
    vn_sfx_t *x = sfx_new(kv, 1);
    const char *excl[] = {"secret", "ho"}; /* tags_exclude: whole keys here, not prefixes */
    vn_sink_t s = {.name = "sfx", .excluded_tags = excl, .n_excluded_tags = 2};
    const char *t1[] = {"a.b/c:1", "caf\xc3\xa9:2", "bad\xff:3", "flag", "empty:", "hot:4", "secret:5", "svc:x"};
    vn_inter_metric_t m[] = {
        M("gauge", VN_IM_GAUGE, 1, t1, 8),
        M("count", VN_IM_COUNTER, 1, t1, 8),
    };
    recorder_t rc = {0};
    assert_int_equal(vn_sfx__encode_metrics(x, &s, m, 2, &INFO, record, &rc), VN_OK);
    Sfxpb__DataPointUploadMessage *u = decode(&rc.r[0]);
    assert_int_equal(u->n_datapoints, 2);
    /* "flag" and "empty:" have empty values: not on the wire; "secret" excluded; "hot" kept */
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)u->datapoints[0]->dimensions,
                                 u->datapoints[0]->n_dimensions),
                        "host=h,a_b_c=1,caf\xc3\xa9=2,bad_=3,hot=4,svc=x");
    /* a counter with the drop_host_with_tag_key dimension loses the hostname */
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)u->datapoints[1]->dimensions,
                                 u->datapoints[1]->n_dimensions),
                        "a_b_c=1,caf\xc3\xa9=2,bad_=3,hot=4,svc=x");
    sfxpb__data_point_upload_message__free_unpacked(u, NULL);
    recorder_free(&rc);
    sfx_free(x);

    /* no hostname_tag: the hostname dimension has an empty key and is left out */
    vn_kv_t none[] = {{.key = "hostname_tag", .value = ""}};
    x = sfx_new(none, 1);
    vn_sink_t s2 = {.name = "sfx"};
    const char *t2[] = {"k:v"};
    vn_inter_metric_t g = M("g", VN_IM_GAUGE, 1, t2, 1);
    assert_int_equal(vn_sfx__encode_metrics(x, &s2, &g, 1, &INFO, record, &rc), VN_OK);
    u = decode(&rc.r[0]);
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)u->datapoints[0]->dimensions,
                                 u->datapoints[0]->n_dimensions),
                        "k=v");
    sfxpb__data_point_upload_message__free_unpacked(u, NULL);
    recorder_free(&rc);
    sfx_free(x);

    static const struct {
        const char *in, *out;
    } keys[] = {{"plain_key-1", "plain_key-1"}, {"a.b c", "a_b_c"},   {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
                {"x\xc3", "x_"},                {"\xe0\x80\x80", "___"}, {"\xed\xa0\x80", "___"},
                {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80_"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char out[32];
        vn_sfx__sanitize_key(keys[i].in, strlen(keys[i].in), out);
        assert_string_equal(out, keys[i].out);
    }
}

static void test_signalfx__batches_and_filters(void **state)
{
    (void)state;
    char *nd[] = {"drop."};
    char *td[] = {"internal"};
    vn_kv_t kv[] = {{.key = "flush_max_per_body", .value = "2"},
                    {.key = "metric_name_prefix_drops", .value = "drop.", .list = {nd, 1}, .is_list = true},
                    {.key = "metric_tag_prefix_drops", .value = "internal", .list = {td, 1}, .is_list = true}};
    vn_sfx_t *x = sfx_new(kv, 3);
    const char *ti[] = {"a:1", "internal_x:1"};
    vn_inter_metric_t m[] = {
        M("m0", VN_IM_GAUGE, 0, NULL, 0), M("drop.me", VN_IM_GAUGE, 1, NULL, 0), M("m1", VN_IM_GAUGE, 1, NULL, 0),
        M("tagged", VN_IM_GAUGE, 1, ti, 2), M("m2", VN_IM_GAUGE, 2, NULL, 0),  M("nan", VN_IM_GAUGE, NAN, NULL, 0),
        M("m3", VN_IM_GAUGE, 3, NULL, 0),  M("m4", VN_IM_GAUGE, 4, NULL, 0),  M("other", VN_IM_GAUGE, 5, NULL, 0),
    };
    m[8].sink_only = "datadog";
    vn_sink_t s = {.name = "sfx"};
    recorder_t rc = {0};
    assert_int_equal(vn_sfx__encode_metrics(x, &s, m, 9, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 3);
    static const size_t want[] = {2, 2, 1};
    size_t k = 0;
    for (size_t b = 0; b < 3; b++) {
        Sfxpb__DataPointUploadMessage *u = decode(&rc.r[b]);
        assert_int_equal(u->n_datapoints, want[b]);
        assert_int_equal(rc.r[b].nmetrics, want[b]);
        for (size_t i = 0; i < u->n_datapoints; i++) {
            char name[8];
            snprintf(name, sizeof name, "m%zu", k++);
            assert_string_equal(u->datapoints[i]->metric, name);
        }
        sfxpb__data_point_upload_message__free_unpacked(u, NULL);
    }
    assert_int_equal(x->skipped, 1);
    recorder_free(&rc);
    sfx_free(x);
}

static void test_signalfx__events(void **state)
{
    (void)state;
    vn_sfx_t *x = sfx_new(PER_TAG, 5);
    const char *tags[] = {"env:prod", "team:obs"};
    char title[300];
    memset(title, 'a', 255);
    memcpy(title + 255, "\xc3\xa9zz", 5); /* byte 256 would split the é: cut before it */
    vn_sink_event_t ev[] = {
        {.title = title, .text = "%%% \n  deploy done \n %%%", .timestamp = TS, .tags = tags, .ntags = 2},
        {.title = "t2", .text = "plain", .hostname = "web9", .timestamp = TS + 1},
    };
    vn_sink_t s = {.name = "sfx"};
    recorder_t rc = {0};
    assert_int_equal(vn_sfx__encode_events(x, &s, ev, 2, &INFO, record, &rc), VN_OK);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.r[0].what, "event");
    assert_string_equal(rc.r[0].url, "http://sfx.example:8080/v2/event");
    assert_true(has_hdr(&rc.r[0], "X-Sf-Token: DEFTOKEN")); /* events always use the default token */
    assert_true(has_hdr(&rc.r[0], "Content-Type: application/x-protobuf"));
    Sfxpb__EventUploadMessage *u = sfxpb__event_upload_message__unpack(NULL, rc.r[0].len, rc.r[0].body);
    assert_non_null(u);
    assert_int_equal(u->n_events, 2);
    Sfxpb__Event *e = u->events[0];
    assert_int_equal(strlen(e->eventtype), 255);
    assert_true(e->has_category && e->category == SFXPB__EVENT_CATEGORY__USER_DEFINED);
    assert_true(e->has_timestamp && e->timestamp == (int64_t)TS * 1000);
    assert_int_equal(e->n_properties, 1);
    assert_string_equal(e->properties[0]->key, "description");
    assert_string_equal(e->properties[0]->value->strvalue, "deploy done");
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)e->dimensions, e->n_dimensions),
                        "host=h,env=prod,team=obs");
    e = u->events[1];
    assert_string_equal(e->eventtype, "t2");
    assert_string_equal(e->properties[0]->value->strvalue, "plain");
    assert_string_equal(dims_str((const Sfxpb__Dimension *const *)e->dimensions, e->n_dimensions), "host=web9");
    sfxpb__event_upload_message__free_unpacked(u, NULL);
    recorder_free(&rc);
    sfx_free(x);
}

static void test_signalfx__config(void **state)
{
    (void)state;
    static const struct {
        vn_kv_t kv[3];
        size_t n;
        const char *want;
    } cases[] = {
        {{{.key = "endpoint_base", .value = "https://x"}}, 1, "api_key is required"},
        {{{.key = "api_key", .value = "k"}, {.key = "endpoint_base", .value = "ingest.signalfx.com"}}, 2,
         "endpoint_base: invalid value"},
        {{{.key = "api_key", .value = "k"}, {.key = "flush_max_per_body", .value = "x"}}, 2, "flush_max_per_body"},
        {{{.key = "api_key", .value = "k"}, {.key = "per_tag_api_keys.0.name", .value = "a"}}, 2,
         "per_tag_api_keys.0"},
        {{{.key = "api_key", .value = "k\r\nX-Evil: 1"}}, 1, "control characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_sink_config_t sc = {.kind = "signalfx", .name = "sfx", .kv = (vn_kv_t *)cases[i].kv, .n_kv = cases[i].n};
        vn_sfx_t x;
        char err[256] = "";
        assert_int_equal(vn_sfx__init(&x, &sc, "sfx", err, sizeof err), VN_ERR_CONFIG);
        assert_non_null(strstr(err, cases[i].want));
        assert_non_null(strstr(err, "sink \"sfx\" (signalfx)"));
        vn_sfx__destroy(&x);
    }
    /* defaults: SignalFx's ingest endpoint; the registry builds the sink */
    vn_kv_t kv[] = {{.key = "api_key", .value = "k"}};
    vn_sink_config_t sc = {.kind = "signalfx", .name = "sfx", .kv = kv, .n_kv = 1};
    vn_sfx_t x;
    assert_int_equal(vn_sfx__init(&x, &sc, "sfx", NULL, 0), VN_OK);
    assert_string_equal(x.datapoint_url, "https://ingest.signalfx.com/v2/datapoint");
    assert_string_equal(x.event_url, "https://ingest.signalfx.com/v2/event");
    assert_int_equal(x.max_per_body, 0);
    vn_sfx__destroy(&x);
    vn_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.interval_s = 0.2;
    vn_sink_t *s = NULL;
    assert_int_equal(vn_sink_new(&sc, &cfg, &s, NULL, 0), VN_OK);
    assert_string_equal(s->ops->kind, "signalfx");
    vn_sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signalfx__datapoints_decoded), cmocka_unit_test(test_signalfx__gzip_over_1500_bytes),
        cmocka_unit_test(test_signalfx__token_selection),    cmocka_unit_test(test_signalfx__dimension_rules),
        cmocka_unit_test(test_signalfx__batches_and_filters), cmocka_unit_test(test_signalfx__events),
        cmocka_unit_test(test_signalfx__config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
