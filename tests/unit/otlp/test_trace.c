/*
 * test_trace.c - otlp/trace.h: ExportTraceServiceRequests built with the
 * protobuf-c code of proto/otlp_trace*.proto, packed, converted; each SSFSpan
 * handed on is unpacked and checked field by field: id byte order and
 * signedness, parent, times, error, service, tags (value string forms,
 * span attributes over resource ones), and the refusals (id lengths, too
 * large, emit refusing, undecodable body).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "otlp/trace.h"
#include "otlp_trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;

static Ssf__SSFSpan *got[8];
static size_t ngot;
static bool take = true;

static bool rec(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    if (!take)
        return false;
    assert_true(ngot < 8);
    got[ngot] = ssf__ssfspan__unpack(NULL, n, p);
    assert_non_null(got[ngot]);
    ngot++;
    return true;
}

static void reset(void)
{
    for (size_t i = 0; i < ngot; i++)
        ssf__ssfspan__free_unpacked(got[i], NULL);
    ngot = 0;
    take = true;
}

static const char *tag(const Ssf__SSFSpan *s, const char *k)
{
    for (size_t i = 0; i < s->n_tags; i++)
        if (strcmp(s->tags[i]->key, k) == 0)
            return s->tags[i]->value;
    return NULL;
}

/* One request: a resource with attrs, one scope, the given spans; packed into a malloc'd buffer. */
static uint8_t *pack(Opentelemetry__Proto__Trace__V1__Span **spans, size_t n, kv_t **rattrs, size_t nr, size_t *len)
{
    Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.attributes = rattrs;
    res.n_attributes = nr;
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.spans = spans;
    ss.n_spans = n;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp = &ss;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.resource = &res;
    rs.scope_spans = &ssp;
    rs.n_scope_spans = 1;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp = &rs;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.resource_spans = &rsp;
    req.n_resource_spans = 1;
    *len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
    uint8_t *b = malloc(*len + 1);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, b);
    return b;
}

static uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0, 0, 0, 0, 0, 0, 0x2a};
static uint8_t sid[8] = {0, 0, 0, 0, 0, 0, 1, 2};
static uint8_t pid[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};

static void test_mapping(void **state)
{
    (void)state;
    vn_otlp_tracer_t *t = malloc(sizeof *t);
    vn_otlp_trace_init(t, 16384, rec, NULL);
    any_t vs = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT, vi = vs, vd = vs, vb = vs, vbytes = vs, varr = vs,
          vsvc = vs, venv = vs, vmap = vs;
    vs.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    vs.string_value = "GET";
    vi.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    vi.int_value = -42;
    vd.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    vd.double_value = 0.1;
    vb.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    vb.bool_value = 1;
    vbytes.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    vbytes.bytes_value = (ProtobufCBinaryData){2, (uint8_t *)"hi"};
    Opentelemetry__Proto__Common__V1__ArrayValue arr = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    any_t *elems[3] = {&vs, &vi, &vb};
    arr.values = elems;
    arr.n_values = 3;
    varr.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    varr.array_value = &arr;
    kv_t inner = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    inner.key = "q\"k";
    inner.value = &vd;
    kv_t *innerp = &inner;
    Opentelemetry__Proto__Common__V1__KeyValueList kvl = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    kvl.values = &innerp;
    kvl.n_values = 1;
    vmap.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    vmap.kvlist_value = &kvl;
    vsvc.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    vsvc.string_value = "checkout";
    venv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    venv.string_value = "res";

    kv_t a[8];
    const char *keys[8] = {"method", "n", "ratio", "ok", "raw", "list", "map", "env"};
    any_t *vals[8] = {&vs, &vi, &vd, &vb, &vbytes, &varr, &vmap, &vs};
    kv_t *ap[8];
    for (int i = 0; i < 8; i++) {
        opentelemetry__proto__common__v1__key_value__init(&a[i]);
        a[i].key = (char *)keys[i];
        a[i].value = vals[i];
        ap[i] = &a[i];
    }
    kv_t r[2];
    kv_t *rp[2] = {&r[0], &r[1]};
    opentelemetry__proto__common__v1__key_value__init(&r[0]);
    opentelemetry__proto__common__v1__key_value__init(&r[1]);
    r[0].key = "service.name";
    r[0].value = &vsvc;
    r[1].key = "env";
    r[1].value = &venv;

    Opentelemetry__Proto__Trace__V1__Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    st.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    Opentelemetry__Proto__Trace__V1__Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp.trace_id = (ProtobufCBinaryData){16, tid};
    sp.span_id = (ProtobufCBinaryData){8, sid};
    sp.parent_span_id = (ProtobufCBinaryData){8, pid};
    sp.name = "GET /home";
    sp.start_time_unix_nano = 1700000000123456789ull;
    sp.end_time_unix_nano = 1700000000223456789ull;
    sp.attributes = ap;
    sp.n_attributes = 8;
    sp.status = &st;
    Opentelemetry__Proto__Trace__V1__Span *spp = &sp;
    size_t len;
    uint8_t *b = pack(&spp, 1, rp, 2, &len);
    uint64_t rej = 99;
    assert_int_equal(vn_otlp_trace_request(t, b, len, &rej), VN_OK);
    free(b);
    assert_int_equal(rej, 0);
    assert_int_equal(ngot, 1);
    Ssf__SSFSpan *s = got[0];
    assert_int_equal(s->trace_id, (int64_t)0x800000000000002aull); /* bytes 8..15, negative as int64 */
    assert_true(s->trace_id < 0);
    assert_int_equal(s->id, 0x102);
    assert_int_equal(s->parent_id, -2);
    assert_string_equal(s->name, "GET /home");
    assert_int_equal(s->start_timestamp, 1700000000123456789ll);
    assert_int_equal(s->end_timestamp, 1700000000223456789ll);
    assert_true(s->error);
    assert_false(s->indicator);
    assert_string_equal(s->service, "checkout");
    assert_int_equal(s->n_tags, 9);
    assert_string_equal(tag(s, "method"), "GET");
    assert_string_equal(tag(s, "n"), "-42");
    assert_string_equal(tag(s, "ratio"), "0.1");
    assert_string_equal(tag(s, "ok"), "true");
    assert_string_equal(tag(s, "raw"), "aGk=");
    assert_string_equal(tag(s, "list"), "[\"GET\",-42,true]");
    assert_string_equal(tag(s, "map"), "{\"q\\\"k\":0.1}");
    assert_string_equal(tag(s, "env"), "GET"); /* the span's attribute wins */
    assert_string_equal(tag(s, "service.name"), "checkout");
    reset();

    /* a root span without status: parent 0, no error; a span with a 15-byte trace id is refused */
    sp.parent_span_id = (ProtobufCBinaryData){0, NULL};
    sp.status = NULL;
    sp.n_attributes = 0;
    Opentelemetry__Proto__Trace__V1__Span bad = sp;
    bad.trace_id.len = 15;
    Opentelemetry__Proto__Trace__V1__Span badparent = sp;
    badparent.parent_span_id = (ProtobufCBinaryData){4, pid};
    Opentelemetry__Proto__Trace__V1__Span *two[3] = {&sp, &bad, &badparent};
    b = pack(two, 3, NULL, 0, &len);
    assert_int_equal(vn_otlp_trace_request(t, b, len, &rej), VN_OK);
    assert_int_equal(rej, 2);
    assert_int_equal(ngot, 1);
    assert_int_equal(got[0]->parent_id, 0);
    assert_false(got[0]->error);
    assert_string_equal(got[0]->service, "");
    assert_int_equal(got[0]->n_tags, 0);
    reset();

    /* the emit callback refusing counts as refused */
    take = false;
    assert_int_equal(vn_otlp_trace_request(t, b, len, &rej), VN_OK);
    assert_int_equal(rej, 3);
    free(b);
    assert_int_equal(t->c.spans, 7);
    assert_int_equal(t->c.accepted, 2);
    assert_int_equal(t->c.invalid, 4);
    assert_int_equal(t->c.refused, 1);
    reset();

    assert_int_equal(vn_otlp_trace_request(t, (const uint8_t *)"\xff\xff\xff", 3, &rej), VN_ERR_PARSE);
    vn_otlp_trace_destroy(t);
    free(t);
}

static void test_too_large(void **state)
{
    (void)state;
    vn_otlp_tracer_t *t = malloc(sizeof *t);
    vn_otlp_trace_init(t, 64, rec, NULL);
    Opentelemetry__Proto__Trace__V1__Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp.trace_id = (ProtobufCBinaryData){16, tid};
    sp.span_id = (ProtobufCBinaryData){8, sid};
    sp.name = "a name long enough that the packed SSFSpan is over sixty-four bytes";
    Opentelemetry__Proto__Trace__V1__Span *spp = &sp;
    size_t len;
    uint8_t *b = pack(&spp, 1, NULL, 0, &len);
    uint64_t rej = 0;
    assert_int_equal(vn_otlp_trace_request(t, b, len, &rej), VN_OK);
    assert_int_equal(rej, 1);
    assert_int_equal(ngot, 0);
    free(b);
    vn_otlp_trace_destroy(t);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
