/**
 * pbwire.h - the few protobuf wire-format writers the Kafka (protobuf) and
 * remote-write encoders need, appending into a capped vn_buf_t. Sinks only;
 * header-only so each encoder stays one file.
 *
 * A field is (field_number << 3 | wire_type) as a varint, then the payload:
 * varint (type 0), 8 little-endian bytes (type 1, double), or a varint length
 * then the bytes (type 2, strings and nested messages). Nested messages need
 * their size up front, so callers compute it with the *_size helpers first
 * and write in one pass (no back-patching, no temporary message tree).
 *
 * Every writer returns VN_OK or VN_ERR_TOO_LARGE; on error the buffer may hold
 * a partial field: callers roll back to a length taken before the record.
 */
#ifndef VN_SINKS_PBWIRE_H
#define VN_SINKS_PBWIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/pbwire.h"

enum { PBW_VARINT = 0, PBW_FIXED64 = 1, PBW_LEN = 2 };

/** Bytes the varint encoding of v takes (1..10): core/pbwire.h's count. */
static inline size_t pbw_varint_size(uint64_t v) { return vn_pb_varint_len(v); }

/** Size of a whole length-delimited field: key + length + payload. */
static inline size_t pbw_len_field_size(unsigned field, size_t len)
{
    return pbw_varint_size((uint64_t)field << 3) + pbw_varint_size(len) + len;
}

static inline vn_err_t pbw_varint(vn_buf_t *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return vn_buf_add(b, tmp, n);
}

static inline vn_err_t pbw_key(vn_buf_t *b, unsigned field, unsigned wire_type)
{
    return pbw_varint(b, ((uint64_t)field << 3) | wire_type);
}

/** A string/bytes field (always written, even when empty). */
static inline vn_err_t pbw_bytes(vn_buf_t *b, unsigned field, const void *p, size_t len)
{
    vn_err_t err = pbw_key(b, field, PBW_LEN);
    if (err == VN_OK)
        err = pbw_varint(b, len);
    if (err == VN_OK)
        err = vn_buf_add(b, p, len);
    return err;
}

/** The key and length of a nested message whose payload (len bytes) follows. */
static inline vn_err_t pbw_msg_begin(vn_buf_t *b, unsigned field, size_t len)
{
    vn_err_t err = pbw_key(b, field, PBW_LEN);
    return err == VN_OK ? pbw_varint(b, len) : err;
}

/** A double field (fixed64, little-endian IEEE 754). */
static inline vn_err_t pbw_double(vn_buf_t *b, unsigned field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(bits >> (8 * i));
    vn_err_t err = pbw_key(b, field, PBW_FIXED64);
    return err == VN_OK ? vn_buf_add(b, le, sizeof le) : err;
}

/** An int64/enum field: two's complement as a 64-bit varint (negative values take 10 bytes). */
static inline vn_err_t pbw_int64(vn_buf_t *b, unsigned field, int64_t v)
{
    vn_err_t err = pbw_key(b, field, PBW_VARINT);
    return err == VN_OK ? pbw_varint(b, (uint64_t)v) : err;
}

/** True when proto3 would omit this double (only +0.0 is the default; -0.0 is written). */
static inline bool pbw_double_is_default(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == 0;
}

#endif
