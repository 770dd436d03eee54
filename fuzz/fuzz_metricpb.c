/*
 * fuzz_metricpb.c - libFuzzer target for src/forward/metricpb_codec.h: one
 * metricpb.Metric as a global receives it, and a MetricList.
 *
 * For every input: decode; turn into a worker import (which runs the
 * t-digest and HLL decoders on the payloads); merge the import into a series
 * map as a worker would; re-encode every resulting series the way a local
 * forwards it and decode that again (it must decode, to the same name and
 * type). Differential check against the protobuf-c code generated from
 * proto/metric.proto: whenever both accept the bytes they must agree on
 * name, tag count, type, scope, the value member and the counter/gauge
 * value. The same bytes are also walked as a MetricList.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/worker.h"
#include "core/buf.h"
#include "forward/grpc_frame.h"
#include "forward/metricpb_codec.h"
#include "metric.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode(vn_series_map_t *map)
{
    for (size_t i = 0; i < map->cap; i++) {
        vn_series_t *s = map->slots[i];
        vn_pb_metric_in_t in;
        if (!s || !vn_pb_metric_from_series(s, &in))
            continue;
        vn_buf_t b = VN_BUF_INIT(VN_GRPC_MAX_MESSAGE + 16);
        if (vn_pb_metric_append_frame(&in, VN_GRPC_MAX_MESSAGE, &b) != VN_OK)
            abort(); /* anything a decoded import becomes fits */
        const uint8_t *p = (const uint8_t *)vn_buf_ptr(&b) + VN_GRPC_PREFIX;
        size_t n = vn_buf_len(&b) - VN_GRPC_PREFIX;
        vn_pb_metric_t back;
        if (vn_pb_metric_decode(p, n, &back) != VN_OK || back.type != (int32_t)in.type ||
            back.name.len != in.name.len || memcmp(back.name.p, in.name.p, in.name.len) != 0)
            abort();
        vn_import_t *it = NULL;
        const char *why;
        if (vn_pb_metric_to_import(&back, &it, &why) != VN_OK)
            abort(); /* what we send, we accept */
        vn_import_free(it);
        vn_buf_free(&b);
    }
}

static void differential(const uint8_t *data, size_t size, vn_err_t ours, const vn_pb_metric_t *m)
{
    Metricpb__Metric *pb = metricpb__metric__unpack(NULL, size, data);
    if (!pb)
        return;
    if (ours != VN_OK) {
        /* protobuf-c is laxer than Go in places (it skips a field numbered 0, which
         * Go and we refuse), so only agreement on what both accept is checked. */
        metricpb__metric__free_unpacked(pb, NULL);
        return;
    }
    size_t nl = strlen(pb->name);
    /* protobuf-c strings stop at an embedded NUL; compare that prefix. */
    if (nl > m->name.len || memcmp(pb->name, m->name.p, nl) != 0)
        abort();
    if (pb->n_tags != m->ntags || (int32_t)pb->type != m->type || (int32_t)pb->scope != m->scope)
        abort();
    if ((int)pb->value_case != (int)m->value)
        abort();
    if (pb->value_case == METRICPB__METRIC__VALUE_COUNTER && pb->counter->value != m->counter)
        abort();
    if (pb->value_case == METRICPB__METRIC__VALUE_GAUGE && memcmp(&pb->gauge->value, &m->gauge, sizeof(double)) != 0)
        abort();
    if (pb->value_case == METRICPB__METRIC__VALUE_HISTOGRAM && (pb->histogram->t_digest != NULL) != m->has_digest)
        abort();
    metricpb__metric__free_unpacked(pb, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vn_pb_metric_t m;
    vn_err_t e = vn_pb_metric_decode(data, size, &m);
    differential(data, size, e, &m);
    if (e == VN_OK) {
        vn_import_t *it = NULL;
        const char *why = NULL;
        if (vn_pb_metric_to_import(&m, &it, &why) == VN_OK) {
            if (it) {
                if (it->key_len > VN_IMPORT_MAX_KEY || !memchr(it->key, '\n', it->key_len))
                    abort();
                vn_series_map_t *map = vn_series_map_new(0);
                vn_worker_apply_imports(map, it);
                reencode(map);
                vn_series_map_free(map);
            }
        } else if (!why || it) {
            abort();
        }
    }
    size_t pos = 0, ml;
    const uint8_t *msg;
    int r, n = 0;
    while ((r = vn_pb_list_next(data, size, &pos, &msg, &ml)) == 1) {
        if (msg < data || msg + ml > data + size)
            abort();
        vn_pb_metric_t lm;
        (void)vn_pb_metric_decode(msg, ml, &lm);
        if (++n > 100000)
            abort();
    }
    return 0;
}
