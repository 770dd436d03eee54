/**
 * batch.h - the unit readers hand to workers: a fixed 64 KiB buffer of packed
 * sample records. A batch is owned by exactly one thread at a time: the reader
 * fills it, pushes it on a worker ring (ownership moves to the worker), the
 * worker applies it and returns it on the free ring (ownership back to reader).
 *
 * Record layout (8-byte aligned):
 *
 *     vn_rec_t header | key bytes (key_len) | aux bytes (aux_len) | pad to 8
 *
 *   key = name '\n' joined-tags         e.g. "api.req\nmethod:get,route:/"
 *   aux = set member bytes, or for status checks: hostname '\0' message
 *
 * '\n' can separate name from tags because neither can contain it (lines are
 * split on '\n' before parsing, and the parser rejects '\n' and NUL anywhere in
 * a line it is handed).
 *
 * Bounds: a record must fit one batch (header + key + aux <= VN_BATCH_BYTES, so
 * a key is at most VN_REC_MAX_KEY_IN_BATCH bytes) and its 16-bit length fields.
 * Every writer checks vn_rec_fits() before it writes; a record that does not
 * fit is a counted drop, never a write past data[].
 */
#ifndef VN_AGGREGATE_BATCH_H
#define VN_AGGREGATE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VN_BATCH_BYTES (64 * 1024)
#define VN_REC_MAX_KEY 65535u
#define VN_REC_MAX_AUX 65535u

typedef struct vn_rec {
    uint32_t hash;    /* key hash, see ingest.c */
    uint16_t key_len;
    uint16_t aux_len;
    uint8_t type;     /* vn_mtype_t */
    uint8_t scope;    /* vn_scope_t, already normalised per type (docs/behaviour.md 2.7) */
    uint16_t _pad;
    uint32_t _pad2;
    double value;
    double rate;      /* sample rate, (0, 1] */
} vn_rec_t;

_Static_assert(sizeof(vn_rec_t) == 32, "vn_rec_t is packed into batches; keep it 32 bytes");

typedef struct vn_batch {
    uint32_t used;  /* bytes of data in use */
    uint32_t count; /* records */
    _Alignas(8) char data[VN_BATCH_BYTES];
} vn_batch_t;

static inline size_t vn_rec_size(size_t key_len, size_t aux_len)
{
    return (sizeof(vn_rec_t) + key_len + aux_len + 7) & ~(size_t)7;
}

/** Longest key a record without aux bytes can carry (65504). */
#define VN_REC_MAX_KEY_IN_BATCH (VN_BATCH_BYTES - sizeof(vn_rec_t))

/** True when a record of these lengths fits one batch and its uint16 length fields. */
static inline bool vn_rec_fits(size_t key_len, size_t aux_len)
{
    return key_len <= UINT16_MAX && aux_len <= UINT16_MAX && vn_rec_size(key_len, aux_len) <= VN_BATCH_BYTES;
}

static inline const char *vn_rec_key(const vn_rec_t *r) { return (const char *)(r + 1); }
static inline const char *vn_rec_aux(const vn_rec_t *r) { return (const char *)(r + 1) + r->key_len; }

#endif
