/*
 * metricpb_codec.c - metricpb.Metric encode/decode and MetricList walking
 * (layout and worked example in metricpb_codec.h; docs/behaviour.md W1.1, W7).
 *
 * The encoder computes the exact size first (the gRPC prefix needs it and
 * the output buffer is capped), then writes in field-number order. The
 * decoder makes one bounded pass that records slices into the input and
 * never allocates; turning the result into a worker import is a separate
 * step that validates values and allocates only what the import keeps.
 */
#include "forward/metricpb_codec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "forward/grpc_frame.h"
#include "core/pbwire.h"

/* Field keys: (field << 3) | wire type. */
#define KEY_NAME 0x0a      /* 1, LEN */
#define KEY_TAGS 0x12      /* 2, LEN */
#define KEY_TYPE 0x18      /* 3, VARINT */
#define KEY_COUNTER 0x2a   /* 5, LEN */
#define KEY_GAUGE 0x32     /* 6, LEN */
#define KEY_HISTOGRAM 0x3a /* 7, LEN */
#define KEY_SET 0x42       /* 8, LEN */
#define KEY_SCOPE 0x48     /* 9, VARINT */
#define KEY_INNER_VARINT 0x08 /* CounterValue.value */
#define KEY_INNER_DOUBLE 0x09 /* GaugeValue.value */
#define KEY_INNER_BYTES 0x0a  /* HistogramValue.t_digest, SetValue.hyper_log_log */

/* ------------------------------------------------------------------ encode */

bool vn_pb_metric_from_series(vn_series_t *s, vn_pb_metric_in_t *out)
{
    memset(out, 0, sizeof *out);
    switch ((vn_mtype_t)s->type) {
    case VN_MT_COUNTER: {
        if (s->scope != VN_SCOPE_GLOBAL || !isfinite(s->u.counter))
            return false;
        double v = s->u.counter;
        /* docs/behaviour.md 0.2: the double sum, rounded to nearest where the wire needs an integer. */
        out->counter = v >= 9223372036854775807.0    ? INT64_MAX
                       : v <= -9223372036854775808.0 ? INT64_MIN
                                                     : (int64_t)llround(v);
        out->type = VN_PB_COUNTER;
        break;
    }
    case VN_MT_GAUGE:
        if (s->scope != VN_SCOPE_GLOBAL)
            return false;
        out->gauge = s->u.gauge;
        out->type = VN_PB_GAUGE;
        break;
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER:
        if (s->scope == VN_SCOPE_LOCAL)
            return false;
        out->digest = &s->u.histo->digest;
        out->type = s->type == VN_MT_TIMER ? VN_PB_TIMER : VN_PB_HISTOGRAM;
        break;
    case VN_MT_SET:
        if (s->scope != VN_SCOPE_MIXED)
            return false;
        out->hll = s->u.set;
        out->type = VN_PB_SET;
        break;
    default: return false;
    }
    out->scope = (vn_scope_t)s->scope;
    const char *nl = memchr(s->key, '\n', s->key_len);
    size_t nlen = nl ? (size_t)(nl - s->key) : s->key_len;
    out->name = vn_str(s->key, nlen);
    out->tags = nl ? vn_str(nl + 1, s->key_len - nlen - 1) : vn_str(s->key + s->key_len, 0);
    return true;
}

/* Calls fn for each ','-separated tag of a joined list ("" = none). */
#define FOR_EACH_TAG(joined, t, body)                                                                         \
    do {                                                                                                       \
        const char *p_ = (joined).p, *end_ = (joined).p + (joined).len;                                        \
        if ((joined).len == 0)                                                                                 \
            break;                                                                                             \
        for (;;) {                                                                                             \
            const char *c_ = memchr(p_, ',', (size_t)(end_ - p_));                                             \
            vn_str_t t = vn_str(p_, (size_t)((c_ ? c_ : end_) - p_));                                          \
            body;                                                                                              \
            if (!c_)                                                                                           \
                break;                                                                                         \
            p_ = c_ + 1;                                                                                       \
        }                                                                                                      \
    } while (0)

/* Size of the value submessage's content; *payload gets the nested blob size. */
static size_t inner_size(vn_pb_metric_in_t *m, size_t *payload)
{
    *payload = 0;
    switch (m->type) {
    case VN_PB_COUNTER: return m->counter ? 1 + vn_pb_varint_len((uint64_t)m->counter) : 0;
    case VN_PB_GAUGE: return m->gauge != 0 ? 9 : 0; /* -0.0 is left out too, as gogo's != 0 */
    case VN_PB_HISTOGRAM:
    case VN_PB_TIMER:
        *payload = m->digest ? vn_tdigest_encoded_size(m->digest) : 0;
        return m->digest ? vn_pb_len_field_size(*payload) : 0;
    case VN_PB_SET:
        *payload = m->hll ? vn_hll_marshal_size(m->hll) : 0;
        return *payload ? vn_pb_len_field_size(*payload) : 0;
    }
    return 0;
}

size_t vn_pb_metric_size(vn_pb_metric_in_t *m)
{
    size_t n = m->name.len ? vn_pb_len_field_size(m->name.len) : 0;
    FOR_EACH_TAG(m->tags, t, n += vn_pb_len_field_size(t.len));
    if (m->type != VN_PB_COUNTER)
        n += 1 + vn_pb_varint_len((uint64_t)m->type);
    size_t payload;
    n += vn_pb_len_field_size(inner_size(m, &payload));
    if (m->scope != VN_SCOPE_MIXED)
        n += 1 + vn_pb_varint_len((uint64_t)m->scope);
    return n;
}

static uint8_t *put_bytes(uint8_t *p, uint8_t key, const void *data, size_t len)
{
    *p++ = key;
    p = vn_pb_put_varint(p, len);
    memcpy(p, data, len);
    return p + len;
}

vn_err_t vn_pb_metric_encode(vn_pb_metric_in_t *m, uint8_t *buf, size_t cap, size_t *out_len)
{
    size_t total = vn_pb_metric_size(m);
    if (cap < total)
        return VN_ERR_TOO_LARGE;
    uint8_t *p = buf;
    if (m->name.len)
        p = put_bytes(p, KEY_NAME, m->name.p, m->name.len);
    FOR_EACH_TAG(m->tags, t, p = put_bytes(p, KEY_TAGS, t.p, t.len));
    if (m->type != VN_PB_COUNTER) {
        *p++ = KEY_TYPE;
        p = vn_pb_put_varint(p, (uint64_t)m->type);
    }
    size_t payload;
    size_t inner = inner_size(m, &payload);
    static const uint8_t value_key[] = {[VN_PB_COUNTER] = KEY_COUNTER, [VN_PB_GAUGE] = KEY_GAUGE,
                                        [VN_PB_HISTOGRAM] = KEY_HISTOGRAM, [VN_PB_SET] = KEY_SET,
                                        [VN_PB_TIMER] = KEY_HISTOGRAM};
    *p++ = value_key[m->type];
    p = vn_pb_put_varint(p, inner);
    size_t n = 0;
    switch (m->type) {
    case VN_PB_COUNTER:
        if (m->counter) {
            *p++ = KEY_INNER_VARINT;
            p = vn_pb_put_varint(p, (uint64_t)m->counter); /* negative: 10 bytes, two's complement */
        }
        break;
    case VN_PB_GAUGE:
        if (m->gauge != 0) {
            *p++ = KEY_INNER_DOUBLE;
            p = vn_pb_put_double(p, m->gauge);
        }
        break;
    case VN_PB_HISTOGRAM:
    case VN_PB_TIMER:
        if (!m->digest)
            break;
        *p++ = KEY_INNER_BYTES;
        p = vn_pb_put_varint(p, payload);
        if (vn_tdigest_encode(m->digest, p, payload, &n) != VN_OK || n != payload)
            return VN_ERR_TOO_LARGE;
        p += n;
        break;
    case VN_PB_SET:
        if (!payload)
            break;
        *p++ = KEY_INNER_BYTES;
        p = vn_pb_put_varint(p, payload);
        if (vn_hll_marshal(m->hll, p, payload, &n) != VN_OK || n != payload)
            return VN_ERR_TOO_LARGE;
        p += n;
        break;
    }
    if (m->scope != VN_SCOPE_MIXED) {
        *p++ = KEY_SCOPE;
        p = vn_pb_put_varint(p, (uint64_t)m->scope);
    }
    *out_len = (size_t)(p - buf);
    return *out_len == total ? VN_OK : VN_ERR_TOO_LARGE;
}

vn_err_t vn_pb_metric_append_frame(vn_pb_metric_in_t *m, size_t max_message, vn_buf_t *out)
{
    size_t n = vn_pb_metric_size(m);
    if (n > max_message || n > UINT32_MAX)
        return VN_ERR_TOO_LARGE;
    size_t before = vn_buf_len(out);
    char *tail;
    if (vn_buf_reserve(out, VN_GRPC_PREFIX + n, &tail) != VN_OK)
        return VN_ERR_TOO_LARGE;
    vn_grpc_prefix((uint8_t *)tail, (uint32_t)n);
    size_t written = 0;
    if (vn_pb_metric_encode(m, (uint8_t *)tail + VN_GRPC_PREFIX, n, &written) != VN_OK) {
        vn_buf_truncate(out, before);
        return VN_ERR_TOO_LARGE;
    }
    vn_buf_commit(out, VN_GRPC_PREFIX + written);
    return VN_OK;
}

/* ------------------------------------------------------------------ decode */

/* Reads the single interesting field `want` (of wire type wt) out of a value
 * submessage, skipping anything else. */
static bool inner_field(vn_pb_rd_t *sub, uint32_t want, unsigned want_wt, vn_pb_rd_t *val, bool *found)
{
    *found = false;
    while (sub->p < sub->end) {
        uint32_t f;
        unsigned wt;
        if (!vn_pb_tag(sub, &f, &wt))
            return false;
        if (f != want) {
            if (!vn_pb_skip(sub, wt))
                return false;
            continue;
        }
        if (wt != want_wt)
            return false;
        val->p = sub->p;
        if (!vn_pb_skip(sub, wt))
            return false;
        val->end = sub->p;
        *found = true; /* keep going: the last occurrence wins */
    }
    return true;
}

static void clear_value(vn_pb_metric_t *o)
{
    o->counter = 0;
    o->gauge = 0;
    o->has_digest = false;
    o->digest = o->hll = NULL;
    o->digest_len = o->hll_len = 0;
}

/* The last occurrence of the oneof wins whole, the same member included:
 * gogo's generated Unmarshal builds a new value message each time (it does
 * not merge), and so does protobuf-c. */
static bool decode_value(vn_pb_metric_t *o, uint32_t field, vn_pb_rd_t *sub)
{
    vn_pb_rd_t v;
    bool found;
    uint64_t x;
    clear_value(o);
    o->value = (vn_pb_value_t)field;
    switch (field) {
    case VN_PB_VALUE_COUNTER:
        if (!inner_field(sub, 1, VN_PB_WT_VARINT, &v, &found))
            return false;
        if (found) {
            if (!vn_pb_varint(&v, &x))
                return false;
            o->counter = (int64_t)x;
        }
        return true;
    case VN_PB_VALUE_GAUGE:
        if (!inner_field(sub, 1, VN_PB_WT_FIXED64, &v, &found))
            return false;
        return !found || vn_pb_double(&v, &o->gauge);
    case VN_PB_VALUE_HISTOGRAM:
    case VN_PB_VALUE_SET: {
        if (!inner_field(sub, 1, VN_PB_WT_LEN, &v, &found))
            return false;
        vn_pb_rd_t bytes = {NULL, NULL};
        if (!found)
            return true;
        if (!vn_pb_sub(&v, &bytes))
            return false;
        if (field == VN_PB_VALUE_HISTOGRAM) {
            /* Two t_digest fields in one HistogramValue would merge in gogo
             * (centroid lists appended); no encoder writes that: the last is taken. */
            o->has_digest = true;
            o->digest = bytes.p;
            o->digest_len = (size_t)(bytes.end - bytes.p);
        } else {
            o->hll = bytes.p;
            o->hll_len = (size_t)(bytes.end - bytes.p);
        }
        return true;
    }
    default: return false;
    }
}

vn_err_t vn_pb_metric_decode(const uint8_t *buf, size_t len, vn_pb_metric_t *o)
{
    memset(o, 0, sizeof *o);
    o->_msg = buf;
    o->_len = len;
    o->name = vn_str("", 0);
    vn_pb_rd_t r = {buf, buf + len};
    while (r.p < r.end) {
        uint32_t f;
        unsigned wt;
        vn_pb_rd_t sub;
        uint64_t v;
        if (!vn_pb_tag(&r, &f, &wt))
            return VN_ERR_PROTO;
        switch (f) {
        case 1:
        case 2:
        case 5:
        case 6:
        case 7:
        case 8:
            if (wt != VN_PB_WT_LEN || !vn_pb_sub(&r, &sub))
                return VN_ERR_PROTO;
            if (f == 1) {
                o->name = vn_str((const char *)sub.p, (size_t)(sub.end - sub.p));
            } else if (f == 2) {
                o->ntags++;
                o->tags_bytes += (size_t)(sub.end - sub.p);
            } else if (!decode_value(o, f, &sub)) {
                return VN_ERR_PROTO;
            }
            break;
        case 3:
        case 9:
            if (wt != VN_PB_WT_VARINT || !vn_pb_varint(&r, &v))
                return VN_ERR_PROTO;
            if (f == 3)
                o->type = (int32_t)(uint32_t)v; /* protobuf: enums are int32 on the wire */
            else
                o->scope = (int32_t)(uint32_t)v;
            break;
        default:
            if (!vn_pb_skip(&r, wt))
                return VN_ERR_PROTO;
            break;
        }
    }
    return VN_OK;
}

bool vn_pb_metric_next_tag(const vn_pb_metric_t *m, size_t *pos, vn_str_t *tag)
{
    vn_pb_rd_t r = {m->_msg + *pos, m->_msg + m->_len};
    while (r.p < r.end) {
        uint32_t f;
        unsigned wt;
        if (!vn_pb_tag(&r, &f, &wt))
            return false;
        if (f == 2 && wt == VN_PB_WT_LEN) {
            vn_pb_rd_t sub;
            if (!vn_pb_sub(&r, &sub))
                return false;
            *tag = vn_str((const char *)sub.p, (size_t)(sub.end - sub.p));
            *pos = (size_t)(r.p - m->_msg);
            return true;
        }
        if (!vn_pb_skip(&r, wt))
            return false;
    }
    *pos = m->_len;
    return false;
}

/* Wire type -> internal type; false for values Go does not define. */
static bool map_type(int32_t t, vn_mtype_t *out)
{
    switch (t) {
    case VN_PB_COUNTER: *out = VN_MT_COUNTER; return true;
    case VN_PB_GAUGE: *out = VN_MT_GAUGE; return true;
    case VN_PB_HISTOGRAM: *out = VN_MT_HISTOGRAM; return true;
    case VN_PB_SET: *out = VN_MT_SET; return true;
    case VN_PB_TIMER: *out = VN_MT_TIMER; return true;
    default: return false;
    }
}

static vn_err_t refuse(const char **why, const char *reason)
{
    *why = reason;
    return VN_ERR_PROTO;
}

vn_err_t vn_pb_metric_to_import(const vn_pb_metric_t *m, vn_import_t **out, const char **why)
{
    *out = NULL;
    *why = NULL;
    vn_mtype_t type;
    if (!map_type(m->type, &type))
        return refuse(why, "unknown metric type");
    if (m->scope < 0 || m->scope > VN_SCOPE_GLOBAL)
        return refuse(why, "unknown metric scope");
    if (m->scope == VN_SCOPE_LOCAL)
        return refuse(why, "gRPC import does not accept local metrics");
    if (m->value == VN_PB_VALUE_NONE)
        return refuse(why, "Can't import a metric with a nil value");
    vn_pb_value_t want = type == VN_MT_COUNTER ? VN_PB_VALUE_COUNTER
                         : type == VN_MT_GAUGE ? VN_PB_VALUE_GAUGE
                         : type == VN_MT_SET   ? VN_PB_VALUE_SET
                                               : VN_PB_VALUE_HISTOGRAM;
    if (m->value != want)
        return refuse(why, "value does not match the metric type");
    if (m->name.len == 0)
        return refuse(why, "empty metric name");
    if (memchr(m->name.p, '\n', m->name.len))
        return refuse(why, "newline in metric name");
    size_t klen = m->name.len + 1 + m->tags_bytes + (m->ntags ? m->ntags - 1 : 0);
    if (klen > VN_IMPORT_MAX_KEY)
        return refuse(why, "metric name and tags too long");
    if (type == VN_MT_GAUGE && !isfinite(m->gauge))
        return refuse(why, "gauge value is not finite");
    if (want == VN_PB_VALUE_HISTOGRAM && !m->has_digest)
        return VN_OK; /* Go merges nothing for a nil digest */

    /* name '\n' tag,tag,... in received order (Go does not re-sort imports). */
    char small[1024];
    char *key = klen <= sizeof small ? small : vn_xmalloc(klen);
    memcpy(key, m->name.p, m->name.len);
    size_t o = m->name.len;
    key[o++] = '\n';
    size_t pos = 0;
    vn_str_t t;
    bool first = true, bad_tag = false;
    while (vn_pb_metric_next_tag(m, &pos, &t)) {
        if (memchr(t.p, '\n', t.len))
            bad_tag = true;
        if (!first)
            key[o++] = ',';
        memcpy(key + o, t.p, t.len);
        o += t.len;
        first = false;
    }
    vn_scope_t scope = type == VN_MT_SET ? VN_SCOPE_MIXED
                       : (type == VN_MT_COUNTER || type == VN_MT_GAUGE) ? VN_SCOPE_GLOBAL
                                                                        : (vn_scope_t)m->scope;
    vn_import_t *it = bad_tag ? NULL : vn_import_new(type, scope, key, o);
    if (key != small)
        free(key);
    if (!it)
        return refuse(why, "newline in a tag");

    switch (type) {
    case VN_MT_COUNTER: it->u.value = (double)m->counter; break;
    case VN_MT_GAUGE: it->u.value = m->gauge; break;
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER:
        if (vn_tdigest_decode(&it->u.digest, m->digest, m->digest_len) != VN_OK) {
            vn_import_free(it);
            return refuse(why, "invalid t-digest");
        }
        break;
    case VN_MT_SET:
        if (vn_hll_unmarshal(&it->u.hll, m->hll, m->hll_len) != VN_OK) {
            vn_import_free(it);
            return refuse(why, "invalid HyperLogLog");
        }
        if (vn_hll_precision(&it->u.hll) != VN_HLL_DEFAULT_PRECISION) {
            vn_import_free(it); /* a set series is precision 14: the merge would fail */
            return refuse(why, "HyperLogLog precision is not 14");
        }
        break;
    default: break;
    }
    *out = it;
    return VN_OK;
}

int vn_pb_list_next(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **msg, size_t *msg_len)
{
    if (*pos > len)
        return -1;
    vn_pb_rd_t r = {buf + *pos, buf + len};
    while (r.p < r.end) {
        uint32_t f;
        unsigned wt;
        if (!vn_pb_tag(&r, &f, &wt))
            return -1;
        if (f == 1) {
            vn_pb_rd_t sub;
            if (wt != VN_PB_WT_LEN || !vn_pb_sub(&r, &sub))
                return -1;
            *msg = sub.p;
            *msg_len = (size_t)(sub.end - sub.p);
            *pos = (size_t)(r.p - buf);
            return 1;
        }
        if (!vn_pb_skip(&r, wt))
            return -1;
    }
    *pos = len;
    return 0;
}

vn_err_t vn_pb_list_append(vn_buf_t *out, const uint8_t *metric, size_t len)
{
    uint8_t hdr[11];
    hdr[0] = 0x0a;
    size_t h = (size_t)(vn_pb_put_varint(hdr + 1, len) - hdr);
    if (vn_buf_room(out) < h + len)
        return VN_ERR_TOO_LARGE;
    vn_buf_add(out, hdr, h);
    vn_buf_add(out, metric, len);
    return VN_OK;
}
