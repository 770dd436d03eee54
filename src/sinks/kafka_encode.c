/*
 * kafka_encode.c - the Kafka metric sink's message values (docs/behaviour.md W4.4): Go's
 * JSON form of samplers.InterMetric, or veneur-c's protobuf form of the same
 * fields (proto/intermetric.proto). One metric = one message.
 *
 * JSON, byte for byte what Go's json.Marshal writes for the struct, e.g. a
 * counter and a service check:
 *
 *   {"Name":"a.b","Timestamp":1700000000,"Value":3,"Tags":["env:prod"],"Type":0,"Message":"","HostName":"","Sinks":null}
 *   {"Name":"db.up","Timestamp":1700000000,"Value":2,"Tags":[],"Type":2,"Message":"disk full","HostName":"db1","Sinks":null}
 *
 * Numbers are Go's float64 text (shortest round-trip, exponent outside
 * [1e-6, 1e21): core/gonum.h VN_GONUM_FMT_JSON). Two deliberate differences:
 * strings are not HTML-escaped (Go writes '<' as \u003c; both decode to the
 * same text), and a NaN/Inf value fails only that metric, where Go's
 * json.Marshal error aborts the rest of the flush.
 *
 * Protobuf (veneurc.InterMetric), fields in number order, proto3 defaults
 * omitted: name=1, timestamp=2, value=3 (double), tags=4 (repeated), type=5,
 * message=6, host_name=7, sinks=8 (repeated). Counter a.b=3 at 1700000000:
 *
 *   0a 03 'a' '.' 'b'  10 80 e2 cf aa 06  19 00 00 00 00 00 00 08 40
 *   name "a.b"         timestamp          value 3.0 (LE double)
 */
#include <math.h>
#include <string.h>

#include "core/json.h"
#include "sinks/kafka_internal.h"
#include "sinks/pbwire.h"

/* Go sets InterMetric.HostName only on service checks (from their h: field). */
static const char *go_hostname(const vn_inter_metric_t *m)
{
    return m->type == VN_IM_STATUS && m->hostname ? m->hostname : "";
}

static vn_err_t encode_json(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m)
{
    if (!isfinite(m->value))
        return VN_ERR_PARSE;
    vn_json_t j;
    vn_json_init(&j, b);
    vn_json_object_begin(&j);
    vn_json_key(&j, "Name");
    vn_json_string(&j, m->name ? m->name : "");
    vn_json_key(&j, "Timestamp");
    vn_json_int(&j, m->timestamp);
    vn_json_key(&j, "Value");
    vn_json_double(&j, m->value);
    vn_json_key(&j, "Tags");
    vn_json_array_begin(&j);
    for (size_t i = 0; i < m->ntags; i++)
        if (!vn_sink__tag_excluded(s, m->tags[i]))
            vn_json_string(&j, m->tags[i]);
    vn_json_array_end(&j);
    vn_json_key(&j, "Type");
    vn_json_int(&j, (int64_t)m->type);
    vn_json_key(&j, "Message");
    vn_json_string(&j, m->type == VN_IM_STATUS && m->message ? m->message : "");
    vn_json_key(&j, "HostName");
    vn_json_string(&j, go_hostname(m));
    vn_json_key(&j, "Sinks");
    if (m->sink_only) {
        /* Go's RouteInformation is map[string]struct{}: {"name":{}} */
        vn_json_object_begin(&j);
        vn_json_key(&j, m->sink_only);
        vn_json_object_begin(&j);
        vn_json_object_end(&j);
        vn_json_object_end(&j);
    } else {
        vn_json_null(&j);
    }
    vn_json_object_end(&j);
    return vn_json_finish(&j);
}

/* A proto3 string field: omitted when empty. */
static vn_err_t pb_str(vn_buf_t *b, unsigned field, const char *str)
{
    return str && str[0] ? pbw_bytes(b, field, str, strlen(str)) : VN_OK;
}

static vn_err_t encode_pb(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m)
{
    vn_err_t err = pb_str(b, 1, m->name);
    if (err == VN_OK && m->timestamp != 0)
        err = pbw_int64(b, 2, m->timestamp);
    if (err == VN_OK && !pbw_double_is_default(m->value))
        err = pbw_double(b, 3, m->value);
    for (size_t i = 0; err == VN_OK && i < m->ntags; i++)
        if (!vn_sink__tag_excluded(s, m->tags[i]))
            err = pbw_bytes(b, 4, m->tags[i], strlen(m->tags[i])); /* repeated: empty items kept */
    if (err == VN_OK && m->type != VN_IM_COUNTER)
        err = pbw_int64(b, 5, (int64_t)m->type);
    if (err == VN_OK && m->type == VN_IM_STATUS)
        err = pb_str(b, 6, m->message);
    if (err == VN_OK)
        err = pb_str(b, 7, go_hostname(m));
    if (err == VN_OK && m->sink_only)
        err = pbw_bytes(b, 8, m->sink_only, strlen(m->sink_only));
    return err;
}

vn_err_t vn_kafka__encode(vn_buf_t *b, vn_kafka_format_t fmt, const vn_sink_t *s, const vn_inter_metric_t *m)
{
    return fmt == VN_KAFKA_PROTOBUF ? encode_pb(b, s, m) : encode_json(b, s, m);
}
