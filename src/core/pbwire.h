/**
 * pbwire.h - the few protobuf wire primitives our hand-written codecs share
 * (metricpb in src/forward/, the t-digest in src/aggregate/): base-128 varints, fixed64 doubles,
 * tags and length-delimited fields, read from a bounded cursor that never
 * reads past its end, and written into caller-sized buffers.
 *
 * Reading: every function returns false on truncation or an over-long
 * varint and then leaves the cursor somewhere inside its range; the caller
 * rejects the whole message.
 */
#ifndef VN_CORE_PBWIRE_H
#define VN_CORE_PBWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { VN_PB_WT_VARINT = 0, VN_PB_WT_FIXED64 = 1, VN_PB_WT_LEN = 2, VN_PB_WT_FIXED32 = 5 };

typedef struct vn_pb_rd {
    const uint8_t *p, *end;
} vn_pb_rd_t;

static inline bool vn_pb_varint(vn_pb_rd_t *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return false;
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            return false; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static inline bool vn_pb_fixed64(vn_pb_rd_t *r, uint64_t *out)
{
    if (r->end - r->p < 8)
        return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | r->p[i];
    r->p += 8;
    *out = v;
    return true;
}

static inline bool vn_pb_double(vn_pb_rd_t *r, double *out)
{
    uint64_t v;
    if (!vn_pb_fixed64(r, &v))
        return false;
    memcpy(out, &v, sizeof *out);
    return true;
}

/** Reads a length prefix and carves that many bytes out of r into *sub. */
static inline bool vn_pb_sub(vn_pb_rd_t *r, vn_pb_rd_t *sub)
{
    uint64_t len;
    if (!vn_pb_varint(r, &len) || len > (uint64_t)(r->end - r->p))
        return false;
    sub->p = r->p;
    sub->end = r->p + len;
    r->p += len;
    return true;
}

/** Reads a field key; field 0 and numbers past 2^29-1 are invalid. */
static inline bool vn_pb_tag(vn_pb_rd_t *r, uint32_t *field, unsigned *wt)
{
    uint64_t tag;
    if (!vn_pb_varint(r, &tag) || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return false;
    *field = (uint32_t)(tag >> 3);
    *wt = (unsigned)(tag & 7);
    return true;
}

/** Skips one value of wire type wt (unknown fields); groups are refused. */
static inline bool vn_pb_skip(vn_pb_rd_t *r, unsigned wt)
{
    uint64_t v;
    vn_pb_rd_t sub;
    switch (wt) {
    case VN_PB_WT_VARINT: return vn_pb_varint(r, &v);
    case VN_PB_WT_FIXED64: return vn_pb_fixed64(r, &v);
    case VN_PB_WT_LEN: return vn_pb_sub(r, &sub);
    case VN_PB_WT_FIXED32:
        if (r->end - r->p < 4)
            return false;
        r->p += 4;
        return true;
    default: return false;
    }
}

/* ---- writing: callers size the buffer first with vn_pb_varint_len ---- */

static inline size_t vn_pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *vn_pb_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *vn_pb_put_double(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/** Bytes of a length-delimited field with a one-byte key (fields 1..15). */
static inline size_t vn_pb_len_field_size(size_t len) { return 1 + vn_pb_varint_len(len) + len; }

#endif
