/*
 * test_metricpb_codec.c - forward/metricpb_codec: the docs/behaviour.md W7 byte vectors
 * (confirmed against Go Veneur, docs/behaviour.md W7), decode validation, the
 * import conversion rules of docs/behaviour.md W1.3, and a cross-check against the
 * protobuf-c code generated from proto/metric.proto and proto/forward.proto.
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

#include "aggregate/series_key.h"
#include "aggregate/series_map.h"
#include "aggregate/worker.h"
#include "forward/grpc_frame.h"
#include "forward/metricpb_codec.h"
#include "forward.pb-c.h"
#include "metric.pb-c.h"

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ')
            continue;
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
        p++;
    }
    return n;
}

static vn_series_t *series(vn_series_map_t *m, const char *key, vn_mtype_t t, vn_scope_t sc)
{
    size_t kl = strlen(key);
    return vn_series_map_upsert(m, vn_series_key_hash(key, kl, t), (uint8_t)t, (uint8_t)sc, key, kl);
}

/* Encodes series s and compares with the expected hex. */
static void expect_encoding(vn_series_t *s, const char *hex)
{
    uint8_t want[512], got[512];
    size_t wn = unhex(hex, want), gn = 0;
    vn_pb_metric_in_t in;
    assert_true(vn_pb_metric_from_series(s, &in));
    assert_int_equal(vn_pb_metric_size(&in), wn);
    assert_int_equal(vn_pb_metric_encode(&in, got, sizeof got, &gn), VN_OK);
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
    /* Too small a buffer is refused. */
    assert_int_equal(vn_pb_metric_encode(&in, got, wn - 1, &gn), VN_ERR_TOO_LARGE);
}

#define W7_COUNTER "0a03666f6f1203613a622a0208034802"
#define W7_GAUGE "0a03666f6f1801320909000000000000f83f4802"
#define W7_HISTO                                                                                                   \
    "0a03666f6f1203613a6218023a3a0a380a1209000000000000144011000000000000f03f11000000000000594019000000000000144" \
    "0210000000000001440299a9999999999c93f"
#define W7_HLL "010e00010000000102c512b6000000000000000000000000"
#define W7_SET "0a03666f6f1803421a0a18" W7_HLL

static void test_metricpb__w7_global_counter(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *s = series(m, "foo\na:b", VN_MT_COUNTER, VN_SCOPE_GLOBAL);
    s->u.counter = 3;
    expect_encoding(s, W7_COUNTER);
    /* docs/behaviour.md 0.2: the double sum rounds to nearest on the wire. */
    s->u.counter = 2.6;
    expect_encoding(s, W7_COUNTER);
    s->u.counter = 3.4999;
    expect_encoding(s, W7_COUNTER);
    vn_series_map_free(m);
}

static void test_metricpb__w7_global_gauge(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *s = series(m, "foo\n", VN_MT_GAUGE, VN_SCOPE_GLOBAL);
    s->u.gauge = 1.5;
    expect_encoding(s, W7_GAUGE);
    /* No tags: a key without the newline is the same metric. */
    vn_series_t *s2 = series(m, "foo", VN_MT_GAUGE, VN_SCOPE_GLOBAL);
    s2->u.gauge = 1.5;
    expect_encoding(s2, W7_GAUGE);
    /* Zero value: empty GaugeValue submessage (gogo writes the oneof member). */
    s->u.gauge = 0;
    expect_encoding(s, "0a03666f6f180132004802");
    s->u.gauge = -0.0;
    expect_encoding(s, "0a03666f6f180132004802");
    vn_series_map_free(m);
}

static void test_metricpb__w7_mixed_histogram(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *s = series(m, "foo\na:b", VN_MT_HISTOGRAM, VN_SCOPE_MIXED);
    vn_histo_sample(s->u.histo, 5.0, 1.0);
    expect_encoding(s, W7_HISTO);
    /* A timer is the same bytes with type 4; global scope appends 48 02. */
    vn_series_t *t = series(m, "foo\na:b", VN_MT_TIMER, VN_SCOPE_GLOBAL);
    vn_histo_sample(t->u.histo, 5.0, 1.0);
    uint8_t got[256];
    size_t n;
    vn_pb_metric_in_t in;
    assert_true(vn_pb_metric_from_series(t, &in));
    assert_int_equal(vn_pb_metric_encode(&in, got, sizeof got, &n), VN_OK);
    uint8_t want[256];
    size_t wn = unhex(W7_HISTO, want);
    assert_int_equal(n, wn + 2);
    assert_int_equal(got[11], 0x04);
    want[11] = 0x04;
    assert_memory_equal(got, want, wn);
    assert_memory_equal(got + wn, "\x48\x02", 2);
    vn_series_map_free(m);
}

static void test_metricpb__w7_mixed_set(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *s = series(m, "foo\n", VN_MT_SET, VN_SCOPE_MIXED);
    vn_hll_add(s->u.set, "foo", 3);
    expect_encoding(s, W7_SET);
    vn_series_map_free(m);
}

static void test_metricpb__what_is_forwarded(void **state)
{
    (void)state;
    /* docs/behaviour.md W1.2: mixed counters/gauges, local-scope series and status checks stay local. */
    static const struct {
        vn_mtype_t t;
        vn_scope_t sc;
        bool fwd;
    } cases[] = {
        {VN_MT_COUNTER, VN_SCOPE_MIXED, false},  {VN_MT_COUNTER, VN_SCOPE_GLOBAL, true},
        {VN_MT_GAUGE, VN_SCOPE_MIXED, false},    {VN_MT_GAUGE, VN_SCOPE_GLOBAL, true},
        {VN_MT_HISTOGRAM, VN_SCOPE_MIXED, true}, {VN_MT_HISTOGRAM, VN_SCOPE_LOCAL, false},
        {VN_MT_HISTOGRAM, VN_SCOPE_GLOBAL, true}, {VN_MT_TIMER, VN_SCOPE_MIXED, true},
        {VN_MT_TIMER, VN_SCOPE_LOCAL, false},    {VN_MT_TIMER, VN_SCOPE_GLOBAL, true},
        {VN_MT_SET, VN_SCOPE_MIXED, true},       {VN_MT_SET, VN_SCOPE_LOCAL, false},
        {VN_MT_STATUS, VN_SCOPE_LOCAL, false},
    };
    vn_series_map_t *m = vn_series_map_new(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_series_t *s = series(m, "x\nt:1", cases[i].t, cases[i].sc);
        vn_pb_metric_in_t in;
        assert_int_equal(vn_pb_metric_from_series(s, &in), cases[i].fwd);
        if (cases[i].fwd) {
            assert_int_equal(in.scope, cases[i].sc);
            assert_int_equal(in.name.len, 1);
            assert_int_equal(in.tags.len, 3);
        }
    }
    /* A counter whose sum is not finite is not forwarded. */
    vn_series_t *c = series(m, "inf", VN_MT_COUNTER, VN_SCOPE_GLOBAL);
    c->u.counter = INFINITY;
    vn_pb_metric_in_t in;
    assert_false(vn_pb_metric_from_series(c, &in));
    vn_series_map_free(m);
}

static void test_metricpb__counter_rounding_and_range(void **state)
{
    (void)state;
    static const struct {
        double sum;
        int64_t wire;
    } cases[] = {{2.5, 3}, {-2.5, -3}, {0.49, 0}, {1e30, INT64_MAX}, {-1e30, INT64_MIN}, {-7, -7}};
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *s = series(m, "c", VN_MT_COUNTER, VN_SCOPE_GLOBAL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s->u.counter = cases[i].sum;
        vn_pb_metric_in_t in;
        assert_true(vn_pb_metric_from_series(s, &in));
        assert_true(in.counter == cases[i].wire);
        uint8_t buf[64];
        size_t n;
        assert_int_equal(vn_pb_metric_encode(&in, buf, sizeof buf, &n), VN_OK);
        vn_pb_metric_t d;
        assert_int_equal(vn_pb_metric_decode(buf, n, &d), VN_OK);
        assert_int_equal(d.value, VN_PB_VALUE_COUNTER);
        assert_true(d.counter == cases[i].wire);
        /* protobuf-c agrees on the bytes (negative int64 = 10-byte varint). */
        Metricpb__Metric *pb = metricpb__metric__unpack(NULL, n, buf);
        assert_non_null(pb);
        assert_int_equal(pb->value_case, METRICPB__METRIC__VALUE_COUNTER);
        assert_true(pb->counter->value == cases[i].wire);
        assert_int_equal(pb->scope, METRICPB__SCOPE__Global);
        metricpb__metric__free_unpacked(pb, NULL);
    }
    vn_series_map_free(m);
}

/* Decodes hex and converts to an import; returns the decode/convert result. */
static vn_err_t import_hex(const char *hex, vn_import_t **it, const char **why)
{
    static uint8_t buf[1 << 16];
    size_t n = unhex(hex, buf);
    vn_pb_metric_t m;
    *it = NULL;
    *why = NULL;
    vn_err_t e = vn_pb_metric_decode(buf, n, &m);
    if (e != VN_OK)
        return e;
    return vn_pb_metric_to_import(&m, it, why);
}

static void test_metricpb__w7_vectors_import(void **state)
{
    (void)state;
    vn_import_t *it;
    const char *why;
    assert_int_equal(import_hex(W7_COUNTER, &it, &why), VN_OK);
    assert_string_equal(it->key, "foo\na:b");
    assert_int_equal(it->type, VN_MT_COUNTER);
    assert_int_equal(it->scope, VN_SCOPE_GLOBAL);
    assert_true(it->u.value == 3);
    assert_int_equal(it->hash, vn_series_key_hash("foo\na:b", 7, VN_MT_COUNTER));
    vn_import_free(it);

    assert_int_equal(import_hex(W7_GAUGE, &it, &why), VN_OK);
    assert_string_equal(it->key, "foo\n"); /* same key the reader path builds for no tags */
    assert_int_equal(it->type, VN_MT_GAUGE);
    assert_int_equal(it->scope, VN_SCOPE_GLOBAL);
    assert_true(it->u.value == 1.5);
    vn_import_free(it);

    assert_int_equal(import_hex(W7_HISTO, &it, &why), VN_OK);
    assert_int_equal(it->type, VN_MT_HISTOGRAM);
    assert_int_equal(it->scope, VN_SCOPE_MIXED);
    assert_true(vn_tdigest_count(&it->u.digest) == 1);
    assert_true(vn_tdigest_min(&it->u.digest) == 5 && vn_tdigest_max(&it->u.digest) == 5);
    assert_true(vn_tdigest_reciprocal_sum(&it->u.digest) == 0.2);
    vn_import_free(it);

    assert_int_equal(import_hex(W7_SET, &it, &why), VN_OK);
    assert_int_equal(it->type, VN_MT_SET);
    assert_int_equal(it->scope, VN_SCOPE_MIXED);
    assert_int_equal(vn_hll_estimate(&it->u.hll), 1);
    vn_import_free(it);
}

static void test_metricpb__scope_rules(void **state)
{
    (void)state;
    vn_import_t *it;
    const char *why;
    /* Counter with Mixed scope on the wire: still a global counter (Go forces GlobalOnly). */
    assert_int_equal(import_hex("0a01632a020805", &it, &why), VN_OK);
    assert_int_equal(it->scope, VN_SCOPE_GLOBAL);
    vn_import_free(it);
    /* Gauge likewise. */
    assert_int_equal(import_hex("0a0167180132090900000000000000404800", &it, &why), VN_OK);
    assert_int_equal(it->scope, VN_SCOPE_GLOBAL);
    vn_import_free(it);
    /* Set with Global scope lands in the mixed set map. */
    assert_int_equal(import_hex("0a03666f6f1803421a0a18" W7_HLL "4802", &it, &why), VN_OK);
    assert_int_equal(it->scope, VN_SCOPE_MIXED);
    vn_import_free(it);
    /* Timer with Global scope stays global. */
    assert_int_equal(import_hex("0a01741804" "3a1d0a1b" "11000000000000594019000000000000f07f21000000000000f0ff"
                                "4802",
                                &it, &why),
                     VN_OK);
    assert_int_equal(it->type, VN_MT_TIMER);
    assert_int_equal(it->scope, VN_SCOPE_GLOBAL);
    assert_true(vn_tdigest_count(&it->u.digest) == 0);
    vn_import_free(it);
    /* Local scope is refused. */
    assert_int_equal(import_hex("0a01632a0208054801", &it, &why), VN_ERR_PROTO);
    assert_string_equal(why, "gRPC import does not accept local metrics");
    assert_null(it);
}

static void test_metricpb__refusals(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        const char *why; /* NULL: wire-level decode error */
    } cases[] = {
        {"0a0163", "Can't import a metric with a nil value"},
        {"0a01631805", "unknown metric type"},
        {"0a016318ffffffff0f2a00", "unknown metric type"},
        {"0a01632a004803", "unknown metric scope"},
        {"0a0163180132090900000000000000404800" "2a00", NULL}, /* fixed below: oneof last wins */
        {"0a01632a00" "1801", "value does not match the metric type"},
        {"0a016318033200", "value does not match the metric type"},
        {"2a0208011203613a62", "empty metric name"},
        {"0a03610a622a00", "newline in metric name"},
        {"0a01631203610a622a00", "newline in a tag"},
        {"0a01631801320909000000000000f87f", "gauge value is not finite"},
        {"0a016318023a030a01ff", "invalid t-digest"},
        {"0a016318034200", "invalid HyperLogLog"},
        {"0a01631803420a0a08010e000100000000", "invalid HyperLogLog"},
        /* precision 10 sparse, empty: valid HLL but cannot merge into a precision-14 set */
        {"0a0163180342160a14010a000100000000000000000000000000000000", "HyperLogLog precision is not 14"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn_import_t *it = NULL;
        const char *why = NULL;
        vn_err_t e = import_hex(cases[i].hex, &it, &why);
        if (i == 4) {
            /* Gauge type but the last oneof member is a counter: mismatch. */
            assert_int_equal(e, VN_ERR_PROTO);
            assert_string_equal(why, "value does not match the metric type");
            continue;
        }
        assert_int_equal(e, VN_ERR_PROTO);
        assert_null(it);
        if (cases[i].why) {
            assert_non_null(why);
            assert_string_equal(why, cases[i].why);
        }
    }
}

static void test_metricpb__wire_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0a05666f",           /* name longer than the message */
        "0a",                 /* key without value */
        "08",                 /* field 1 with the wrong wire type needs a varint that is missing */
        "0801",               /* name as varint: wrong wire type */
        "1a0101",             /* type as LEN: wrong wire type */
        "2a0308",             /* counter submessage truncated */
        "2a020900",           /* CounterValue.value with wrong wire type */
        "0a0163" "ffffffffffffffffffff01", /* over-long varint key */
        "00",                 /* field 0 */
        "0b",                 /* group start */
        "3209090000",         /* gauge truncated inside the submessage */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(bad[i], buf);
        vn_pb_metric_t m;
        assert_int_equal(vn_pb_metric_decode(buf, n, &m), VN_ERR_PROTO);
    }
    /* Every prefix of a valid message either decodes or is refused, never read past. */
    uint8_t full[256];
    size_t n = unhex(W7_HISTO, full);
    for (size_t cut = 0; cut <= n; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, full, cut);
        vn_pb_metric_t m;
        if (vn_pb_metric_decode(copy, cut, &m) == VN_OK) {
            vn_import_t *it = NULL;
            const char *why;
            if (vn_pb_metric_to_import(&m, &it, &why) == VN_OK)
                vn_import_free(it);
        }
        free(copy);
    }
}

static void test_metricpb__unknown_fields_and_tag_order(void **state)
{
    (void)state;
    /* Fields out of order, unknown fields 4 (varint), 15 (LEN), 20 (fixed32), 21 (fixed64); tags b then a. */
    vn_import_t *it;
    const char *why;
    assert_int_equal(import_hex("1203623a32" "2002" "7a03787878" "a50101020304" "a9010102030405060708"
                                "0a03666f6f" "1203613a31" "2a0408071001",
                                &it, &why),
                     VN_OK);
    assert_string_equal(it->key, "foo\nb:2,a:1"); /* received order kept (Go does not re-sort) */
    assert_true(it->u.value == 7);
    vn_import_free(it);
    /* Empty tags are kept as empty elements. */
    assert_int_equal(import_hex("0a01781200" "12017a2a00", &it, &why), VN_OK);
    assert_string_equal(it->key, "x\n,z");
    assert_true(it->u.value == 0);
    vn_import_free(it);
    /* The value oneof repeated: the last occurrence wins whole (gogo and protobuf-c alike). */
    assert_int_equal(import_hex(W7_COUNTER "2a00", &it, &why), VN_OK);
    assert_true(it->u.value == 0);
    vn_import_free(it);
    assert_int_equal(import_hex(W7_COUNTER "2a020809", &it, &why), VN_OK);
    assert_true(it->u.value == 9);
    vn_import_free(it);
    /* A histogram without t_digest is accepted and imports nothing (Go ignores it). */
    assert_int_equal(import_hex("0a016818023a00", &it, &why), VN_OK);
    assert_null(it);
}

static void test_metricpb__key_length_limit(void **state)
{
    (void)state;
    /* name of 65534 bytes + '\n' = 65535: accepted; one more byte: refused. */
    for (size_t nl = 65534; nl <= 65535; nl++) {
        uint8_t *buf = malloc(nl + 16);
        size_t o = 0;
        buf[o++] = 0x0a;
        size_t v = nl;
        while (v >= 0x80) {
            buf[o++] = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        buf[o++] = (uint8_t)v;
        memset(buf + o, 'n', nl);
        o += nl;
        buf[o++] = 0x2a;
        buf[o++] = 0x00;
        vn_pb_metric_t m;
        assert_int_equal(vn_pb_metric_decode(buf, o, &m), VN_OK);
        vn_import_t *it = NULL;
        const char *why = NULL;
        vn_err_t e = vn_pb_metric_to_import(&m, &it, &why);
        if (nl == 65534) {
            assert_int_equal(e, VN_OK);
            assert_int_equal(it->key_len, 65535);
            vn_import_free(it);
        } else {
            assert_int_equal(e, VN_ERR_PROTO);
            assert_string_equal(why, "metric name and tags too long");
        }
        free(buf);
    }
}

static void test_metricpb__frame_and_list(void **state)
{
    (void)state;
    vn_series_map_t *m = vn_series_map_new(0);
    vn_series_t *s = series(m, "foo\na:b", VN_MT_COUNTER, VN_SCOPE_GLOBAL);
    s->u.counter = 3;
    vn_pb_metric_in_t in;
    assert_true(vn_pb_metric_from_series(s, &in));
    vn_buf_t out = VN_BUF_INIT(1 << 20);
    assert_int_equal(vn_pb_metric_append_frame(&in, VN_GRPC_MAX_MESSAGE, &out), VN_OK);
    uint8_t want[64];
    size_t wn = unhex("0000000010" W7_COUNTER, want);
    assert_int_equal(vn_buf_len(&out), wn);
    assert_memory_equal(vn_buf_ptr(&out), want, wn);
    /* Over the message cap: refused, buffer unchanged. */
    assert_int_equal(vn_pb_metric_append_frame(&in, 15, &out), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_len(&out), wn);
    /* Over the buffer cap: likewise. */
    vn_buf_t small = VN_BUF_INIT(20);
    assert_int_equal(vn_pb_metric_append_frame(&in, VN_GRPC_MAX_MESSAGE, &small), VN_ERR_TOO_LARGE);
    assert_int_equal(vn_buf_len(&small), 0);
    vn_buf_free(&small);
    vn_buf_free(&out);

    /* MetricList: counter, a malformed metric, gauge; plus an unknown field. */
    uint8_t c[64], g[64];
    size_t cn = unhex(W7_COUNTER, c), gn = unhex(W7_GAUGE, g);
    vn_buf_t list = VN_BUF_INIT(1 << 20);
    assert_int_equal(vn_pb_list_append(&list, c, cn), VN_OK);
    assert_int_equal(vn_pb_list_append(&list, (const uint8_t *)"\x0a\x05", 2), VN_OK);
    vn_buf_add(&list, "\x10\x01", 2);
    assert_int_equal(vn_pb_list_append(&list, g, gn), VN_OK);
    const uint8_t *lb = (const uint8_t *)vn_buf_ptr(&list);
    size_t pos = 0, ml;
    const uint8_t *msg;
    int ok = 0, bad = 0;
    int r;
    while ((r = vn_pb_list_next(lb, vn_buf_len(&list), &pos, &msg, &ml)) == 1) {
        vn_pb_metric_t pm;
        if (vn_pb_metric_decode(msg, ml, &pm) == VN_OK)
            ok++;
        else
            bad++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(ok, 2);
    assert_int_equal(bad, 1);
    /* protobuf-c reads the same list (it would reject the whole list for the bad one). */
    Forwardrpc__MetricList *pl = forwardrpc__metric_list__unpack(NULL, vn_buf_len(&list), lb);
    assert_null(pl);
    /* A truncated list is malformed. */
    pos = 0;
    assert_int_equal(vn_pb_list_next(lb, 1, &pos, &msg, &ml), -1);
    vn_buf_free(&list);
    vn_series_map_free(m);
}

/* protobuf-c packs a message; our decoder must read it the same. */
static void test_metricpb__cross_check_protobuf_c(void **state)
{
    (void)state;
    Metricpb__Metric pm = METRICPB__METRIC__INIT;
    Metricpb__GaugeValue gv = METRICPB__GAUGE_VALUE__INIT;
    char *tags[] = {"z:1", "a:2"};
    pm.name = "pc.gauge";
    pm.n_tags = 2;
    pm.tags = tags;
    pm.type = METRICPB__TYPE__Gauge;
    pm.value_case = METRICPB__METRIC__VALUE_GAUGE;
    gv.value = -12.25;
    pm.gauge = &gv;
    pm.scope = METRICPB__SCOPE__Global;
    uint8_t buf[128];
    size_t n = metricpb__metric__pack(&pm, buf);
    vn_pb_metric_t d;
    assert_int_equal(vn_pb_metric_decode(buf, n, &d), VN_OK);
    assert_int_equal(d.ntags, 2);
    assert_true(d.gauge == -12.25);
    vn_import_t *it;
    const char *why;
    assert_int_equal(vn_pb_metric_to_import(&d, &it, &why), VN_OK);
    assert_string_equal(it->key, "pc.gauge\nz:1,a:2");
    vn_import_free(it);

    /* And our histogram/set encodings unpack in protobuf-c to the same values. */
    uint8_t hb[256];
    size_t hn = unhex(W7_HISTO, hb);
    Metricpb__Metric *h = metricpb__metric__unpack(NULL, hn, hb);
    assert_non_null(h);
    assert_string_equal(h->name, "foo");
    assert_int_equal(h->n_tags, 1);
    assert_string_equal(h->tags[0], "a:b");
    assert_int_equal(h->type, METRICPB__TYPE__Histogram);
    assert_int_equal(h->value_case, METRICPB__METRIC__VALUE_HISTOGRAM);
    assert_int_equal(h->histogram->t_digest->n_main_centroids, 1);
    assert_true(h->histogram->t_digest->main_centroids[0]->mean == 5);
    assert_true(h->histogram->t_digest->compression == 100);
    /* Re-packed by protobuf-c: the same bytes as Go's. */
    uint8_t again[256];
    assert_int_equal(metricpb__metric__pack(h, again), hn);
    assert_memory_equal(again, hb, hn);
    metricpb__metric__free_unpacked(h, NULL);

    uint8_t sb[128];
    size_t sn = unhex(W7_SET, sb);
    Metricpb__Metric *st = metricpb__metric__unpack(NULL, sn, sb);
    assert_non_null(st);
    assert_int_equal(st->value_case, METRICPB__METRIC__VALUE_SET);
    assert_int_equal(st->set->hyper_log_log.len, 24);
    assert_int_equal(metricpb__metric__pack(st, again), sn);
    assert_memory_equal(again, sb, sn);
    metricpb__metric__free_unpacked(st, NULL);

    /* Empty is zero bytes. */
    Forwardrpc__Empty e = FORWARDRPC__EMPTY__INIT;
    assert_int_equal(forwardrpc__empty__get_packed_size(&e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metricpb__w7_global_counter),
        cmocka_unit_test(test_metricpb__w7_global_gauge),
        cmocka_unit_test(test_metricpb__w7_mixed_histogram),
        cmocka_unit_test(test_metricpb__w7_mixed_set),
        cmocka_unit_test(test_metricpb__what_is_forwarded),
        cmocka_unit_test(test_metricpb__counter_rounding_and_range),
        cmocka_unit_test(test_metricpb__w7_vectors_import),
        cmocka_unit_test(test_metricpb__scope_rules),
        cmocka_unit_test(test_metricpb__refusals),
        cmocka_unit_test(test_metricpb__wire_errors),
        cmocka_unit_test(test_metricpb__unknown_fields_and_tag_order),
        cmocka_unit_test(test_metricpb__key_length_limit),
        cmocka_unit_test(test_metricpb__frame_and_list),
        cmocka_unit_test(test_metricpb__cross_check_protobuf_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
