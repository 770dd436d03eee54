/*
 * metric_scan.c - one pass over a metricpb.Metric for routing (see
 * metric_scan.h for what is accepted and why it matches the codec).
 *
 * Cost is in the field keys, not the payload: a t-digest of any size is
 * one length prefix to step over (it sits inside HistogramValue field 1,
 * whose own fields are walked, not its centroids). Field keys and lengths
 * are almost always one byte, so that case is tried before the general
 * varint reader.
 */
#include "proxy/metric_scan.h"

#include "core/pbwire.h"

/* A field key: the one-byte form inline, anything longer through pbwire (same limits). */
static inline bool rd_tag(vn_pb_rd_t *r, uint32_t *f, unsigned *wt)
{
    if (r->p < r->end && *r->p < 0x80 && *r->p >= 8) {
        *f = *r->p >> 3;
        *wt = *r->p & 7;
        r->p++;
        return true;
    }
    return vn_pb_tag(r, f, wt);
}

static inline bool rd_sub(vn_pb_rd_t *r, vn_pb_rd_t *sub)
{
    if (r->p < r->end && *r->p < 0x80) {
        size_t n = *r->p;
        if (n > (size_t)(r->end - r->p - 1))
            return false;
        sub->p = r->p + 1;
        sub->end = sub->p + n;
        r->p = sub->end;
        return true;
    }
    /* two-byte lengths (128 B - 16 KiB: a t-digest, its HistogramValue) the same way */
    if (r->end - r->p >= 2 && r->p[1] < 0x80) {
        size_t n = (size_t)(r->p[0] & 0x7f) | (size_t)r->p[1] << 7;
        if (n > (size_t)(r->end - r->p - 2))
            return false;
        sub->p = r->p + 2;
        sub->end = sub->p + n;
        r->p = sub->end;
        return true;
    }
    return vn_pb_sub(r, sub);
}

/* A value submessage (oneof member `field`): well formed, its field 1 of the declared wire type. */
static bool value_ok(uint32_t field, vn_pb_rd_t sub)
{
    unsigned want = field == 5 ? VN_PB_WT_VARINT : field == 6 ? VN_PB_WT_FIXED64 : VN_PB_WT_LEN;
    while (sub.p < sub.end) {
        uint32_t f;
        unsigned wt;
        if (!rd_tag(&sub, &f, &wt))
            return false;
        if (f == 1 && wt != want)
            return false;
        vn_pb_rd_t skipped;
        if (!(wt == VN_PB_WT_LEN ? rd_sub(&sub, &skipped) : vn_pb_skip(&sub, wt)))
            return false;
    }
    return true;
}

bool vn_mscan_metric(const uint8_t *msg, size_t len, vn_mscan_t *o)
{
    o->name = "";
    o->name_len = 0;
    o->type = 0;
    o->ntags = 0;
    o->tags_from = o->tags_to = o->spans_to = 0;
    vn_pb_rd_t r = {msg, msg + len};
    while (r.p < r.end) {
        const uint8_t *key = r.p;
        uint32_t f;
        unsigned wt;
        vn_pb_rd_t sub;
        uint64_t v;
        if (!rd_tag(&r, &f, &wt))
            return false;
        switch (f) {
        case 1:
        case 2:
        case 5:
        case 6:
        case 7:
        case 8:
            if (wt != VN_PB_WT_LEN || !rd_sub(&r, &sub))
                return false;
            if (f == 1) {
                o->name = (const char *)sub.p;
                o->name_len = (size_t)(sub.end - sub.p);
            } else if (f == 2) {
                if (o->ntags == 0)
                    o->tags_from = (size_t)(key - msg);
                o->tags_to = (size_t)(r.p - msg);
                if (o->ntags < VN_MSCAN_SPANS) {
                    o->span[o->ntags].off = (size_t)(sub.p - msg);
                    o->span[o->ntags].len = (size_t)(sub.end - sub.p);
                    o->spans_to = o->tags_to;
                }
                o->ntags++;
            } else if (!value_ok(f, sub)) {
                return false;
            }
            break;
        case 3:
        case 9:
            if (wt != VN_PB_WT_VARINT || !vn_pb_varint(&r, &v))
                return false;
            if (f == 3)
                o->type = (int32_t)(uint32_t)v; /* enums are int32 on the wire */
            break;
        default:
            if (!vn_pb_skip(&r, wt))
                return false;
            break;
        }
    }
    return true;
}

bool vn_mscan_next_tag(const uint8_t *msg, const vn_mscan_t *s, size_t *pos, const char **tag, size_t *tag_len)
{
    vn_pb_rd_t r = {msg + *pos, msg + s->tags_to};
    while (r.p < r.end) {
        uint32_t f;
        unsigned wt;
        if (!rd_tag(&r, &f, &wt))
            break;
        if (f == 2 && wt == VN_PB_WT_LEN) {
            vn_pb_rd_t sub;
            if (!rd_sub(&r, &sub))
                break;
            *tag = (const char *)sub.p;
            *tag_len = (size_t)(sub.end - sub.p);
            *pos = (size_t)(r.p - msg);
            return true;
        }
        if (!vn_pb_skip(&r, wt))
            break;
    }
    *pos = s->tags_to;
    return false;
}
