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

#include <string.h>

#include "core/pbwire.h"
#include "proxy/ring.h"

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

/* ---- the routing key in one pass (vn_mscan_key) ----
 *
 * Only the common shape is taken here, and anything else returns false for
 * the general path to decide, so this never has to judge an odd message:
 * every field key one byte, name and tags with one-byte lengths, type and
 * scope one-byte varints, values checked as value_ok does with one- or
 * two-byte lengths. The tags are copied to buf + KEY_TAGS_AT as they come;
 * the name and type name, known only at the end (the type follows the tags
 * on the wire), are then written just before them, so the key is one run. */

/* A one- or two-byte length at p (left bytes from p to the end) whose bytes all follow it. */
static inline bool len_fast(const uint8_t *p, size_t left, size_t *n, size_t *hdr)
{
    if (left >= 1 && p[0] < 0x80) {
        *n = p[0];
        *hdr = 1;
    } else if (left >= 2 && p[1] < 0x80) {
        *n = (size_t)(p[0] & 0x7f) | (size_t)p[1] << 7;
        *hdr = 2;
    } else {
        return false;
    }
    return *n <= left - *hdr;
}

/* A value submessage in the fast shape and as value_ok accepts it. */
static bool value_fast(uint32_t field, const uint8_t *p, const uint8_t *end)
{
    unsigned want = field == 5 ? VN_PB_WT_VARINT : field == 6 ? VN_PB_WT_FIXED64 : VN_PB_WT_LEN;
    while (p < end) {
        uint8_t key = *p++;
        if (key < 8 || key >= 0x80)
            return false;
        unsigned wt = key & 7;
        if ((key >> 3) == 1 && wt != want)
            return false;
        size_t left = (size_t)(end - p);
        switch (wt) {
        case VN_PB_WT_VARINT: {
            size_t i = 0;
            while (i < left && i < 9 && (p[i] & 0x80))
                i++;
            if (i >= left || (p[i] & 0x80) || (i == 9 && p[i] > 1))
                return false; /* truncated, over 64 bits, or 11 bytes and more: the general reader judges */
            p += i + 1;
            break;
        }
        case VN_PB_WT_FIXED64:
            if (left < 8)
                return false;
            p += 8;
            break;
        case VN_PB_WT_FIXED32:
            if (left < 4)
                return false;
            p += 4;
            break;
        case VN_PB_WT_LEN: {
            size_t n, hdr;
            if (!len_fast(p, left, &n, &hdr))
                return false;
            p += hdr + n;
            break;
        }
        default: return false;
        }
    }
    return true;
}

/* Copies n < 128 bytes (a name or tag) in fixed-size moves: two overlapping ones cover any
 * length of a range, so nothing is written outside dst[0..n). GCC inlines a plain memcpy of
 * a variable length here as `rep movs`, whose start-up cost more than the whole scan. */
static inline void copy_short(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n >= 16) {
        for (size_t i = 0; i + 16 < n; i += 16)
            memcpy(dst + i, src + i, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n) {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

bool vn_mscan_key(const uint8_t *msg, size_t len, const vn_tagm_set_t *ign, vn_mscan_key_t *k)
{
    if (ign && ign->n == 0)
        ign = NULL;
    const uint8_t *p = msg, *end = msg + len, *name = NULL;
    size_t name_len = 0;
    unsigned type = 0;
    size_t kept = 0;
    uint8_t *t0 = k->buf + VN_MSCAN_KEY_TAGS_AT, *t = t0, *tmax = t0 + VN_MSCAN_KEY_TAGS_MAX;
    while (p < end) {
        uint8_t key = *p++;
        if (key < 8 || key >= 0x80)
            return false;
        uint32_t f = key >> 3;
        unsigned wt = key & 7;
        size_t left = (size_t)(end - p);
        if (f <= 2) { /* name, tag: one-byte length */
            if (wt != VN_PB_WT_LEN || left < 1 || p[0] >= 0x80 || p[0] > left - 1)
                return false;
            size_t n = p[0];
            const uint8_t *s = p + 1;
            p = s + n;
            if (f == 1) {
                name = s;
                name_len = n;
                continue;
            }
            if (ign && vn_tagm_set_match(ign, (const char *)s, n))
                continue;
            if ((size_t)(tmax - t) < n + (kept != 0))
                return false; /* the key is longer than the buffer: the general path hashes it in runs */
            if (kept++)
                *t++ = ','; /* not t != t0: an empty first tag still takes a ',' after it */
            if (n <= 16 && (size_t)(end - s) >= 16)
                memcpy(t, s, 16); /* one unaligned 16-byte move: the buffer has 16 spare bytes */
            else
                copy_short(t, s, n);
            t += n;
        } else if (f == 3 || f == 9) { /* type, scope: one-byte varint */
            if (wt != VN_PB_WT_VARINT || left < 1 || p[0] >= 0x80)
                return false;
            if (f == 3)
                type = p[0];
            p++;
        } else if (f >= 5 && f <= 8) { /* a value: one- or two-byte length, then checked */
            size_t n, hdr;
            if (wt != VN_PB_WT_LEN || !len_fast(p, left, &n, &hdr) || !value_fast(f, p + hdr, p + hdr + n))
                return false;
            p += hdr + n;
        } else {
            return false;
        }
    }
    if (type > 4)
        return false; /* an unknown type's name is its number: the general path writes it */
    /* each type name right-aligned in 16 bytes: one move ending at t0; the bytes before the
     * name are then the name's (written next) or outside the key */
    static const uint8_t type16[5][16] = {
        "\0\0\0\0\0\0\0\0\0counter", "\0\0\0\0\0\0\0\0\0\0\0gauge", "\0\0\0\0\0\0\0histogram",
        "\0\0\0\0\0\0\0\0\0\0\0\0\0set", "\0\0\0\0\0\0\0\0\0\0\0timer"};
    size_t tl = vn_ring_type_lens[type];
    uint8_t *start = t0 - tl - name_len;
    memcpy(t0 - 16, type16[type], 16);
    copy_short(start, name, name_len);
    k->start = (size_t)(start - k->buf);
    k->len = (size_t)(t - start);
    return true;
}
