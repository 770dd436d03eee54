/**
 * metric_scan.h - the proxy's one-pass reader of a metricpb.Metric's wire
 * bytes: what routing needs (the name, the type, where the tags are) and
 * nothing else. The proxy forwards the message unchanged, so it never
 * builds a decoded metric (issue 22, docs/internals/proxy.md).
 *
 * Acceptance is exactly that of forward/metricpb_codec.h's
 * vn_pb_metric_decode, so a metric the proxy refuses as invalid is the same
 * one as before (and one a global would refuse at the wire level):
 *   - every field key valid (field 1 .. 2^29-1, varint <= 10 bytes), every
 *     value whole, groups (wire types 3, 4) and types 6, 7 refused;
 *   - name (1), tags (2) and the value oneof (5 counter, 6 gauge,
 *     7 histogram, 8 set) length-delimited; type (3) and scope (9) varints;
 *   - inside a value: its fields well formed, and its field 1 of the wire
 *     type the member declares (varint, fixed64, bytes, bytes);
 *   - values are not judged (type range, digest or HLL contents): routing
 *     forwards them, the global judges them.
 * The last name and the last type win, as in protobuf; tags keep their order.
 *
 * Allocates nothing; the result borrows msg.
 */
#ifndef VN_PROXY_METRIC_SCAN_H
#define VN_PROXY_METRIC_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/tag_match.h"

/** Tags whose place the scan keeps, so routing does not walk the message twice. */
#define VN_MSCAN_SPANS 8

typedef struct vn_mscan {
    const char *name; /* borrowed from msg; "" when absent */
    size_t name_len;
    int32_t type;     /* raw metricpb.Type value (0 when absent) */
    size_t ntags;
    size_t tags_from; /* offset of the first tag's field key (0 when ntags == 0) */
    size_t tags_to;   /* offset just past the last tag */
    /* the first min(ntags, VN_MSCAN_SPANS) tags: msg + off, len bytes */
    struct {
        size_t off, len;
    } span[VN_MSCAN_SPANS];
    size_t spans_to;  /* offset just past the last tag in span[]: later tags are walked from here */
} vn_mscan_t;

/**
 * Scans msg[0..len). @return true with *out filled, false when the bytes
 * are not a metricpb.Metric vn_pb_metric_decode would accept (*out is then
 * unspecified).
 */
bool vn_mscan_metric(const uint8_t *msg, size_t len, vn_mscan_t *out);

/**
 * Tag iterator over a scanned message, in wire order: start with
 * *pos = s->tags_from for every tag, or *pos = s->spans_to for those after
 * span[]; returns false after the last tag. msg and s are the ones
 * vn_mscan_metric accepted.
 */
bool vn_mscan_next_tag(const uint8_t *msg, const vn_mscan_t *s, size_t *pos, const char **tag, size_t *tag_len);

/* vn_mscan_key's buffer: the name and type name end at KEY_TAGS_AT, the tags follow */
#define VN_MSCAN_KEY_TAGS_AT 272 /* >= 255 (longest fast-path name) + 9 ("histogram") */
#define VN_MSCAN_KEY_TAGS_MAX 1024

typedef struct vn_mscan_key {
    size_t start, len; /* the key is buf[start .. start + len); start >= 16 (scratch before it) */
    uint8_t buf[VN_MSCAN_KEY_TAGS_AT + VN_MSCAN_KEY_TAGS_MAX + 16]; /* + 16: whole-word tag copies */
} vn_mscan_key_t;

/**
 * The routing key of a metric in the shape locals send (one-byte field keys,
 * a name and tags shorter than 128 bytes, a type 0..4), built in the same
 * pass that checks the message: name, lower-case type name, then the tags
 * ign does not match (ign NULL or empty: all), joined by ','; the string
 * proxy/ring.h's vn_ring_key_* hash (Go's routing key). Acceptance is that of
 * vn_mscan_metric: @return true with *k filled only for a message
 * vn_mscan_metric accepts; false when the message is of any other shape or
 * not valid, which this does not tell apart: the caller then takes the
 * general path (vn_mscan_metric and vn_ring_key_*), which decides.
 */
bool vn_mscan_key(const uint8_t *msg, size_t len, const vn_tagm_set_t *ign, vn_mscan_key_t *k);

#endif
