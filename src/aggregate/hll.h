/**
 * hll.h - HyperLogLog for sets, byte-compatible with Go Veneur's
 * axiomhq/hyperloglog @8300947202c9 (docs/behaviour.md 0.6, 2.3, W2.2, W7).
 *
 * Same as Go: MetroHash64 seed 1337 of the member bytes, precision 14 by
 * default (4..18 accepted), sparse representation (25-bit keys, pending keys
 * then a sorted varint-delta list) until the list passes m bytes, then 4-bit
 * dense registers with a shared base b; the MarshalBinary layout; the sparse
 * and dense estimators (linear counting at 2^25; LogLog-Beta). Different: the
 * dense estimator counts zero registers correctly (Go tests the high nibble
 * of each byte twice, docs/behaviour.md 0.6); merging dense sketches with different bases
 * clamps registers below the new base to 0 (Go leaves them unchanged);
 * pending keys are written in ascending order (Go: map order); estimate is
 * read-only; bad input is rejected instead of panicking.
 *
 * Memory (m = 2^precision, 16384 by default): the struct is embedded by the
 * caller and allocates lazily. Sparse: at most m/100 + 1 pending keys (4
 * bytes each, 656 bytes at p = 14) plus a list of at most m bytes (16 KiB)
 * plus 5 bytes per pending key while the two are merged; the first add
 * allocates 32 bytes. Dense: exactly m/2 bytes (8 KiB).
 *
 * Thread safety: none; one owner thread at a time. Do not copy the struct by
 * value (it owns pointers).
 */
#ifndef VN_AGGREGATE_HLL_H
#define VN_AGGREGATE_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define VN_HLL_DEFAULT_PRECISION 14u
#define VN_HLL_MIN_PRECISION 4u
#define VN_HLL_MAX_PRECISION 18u
/** Precision of the sparse keys (axiomhq's pp). */
#define VN_HLL_SPARSE_PRECISION 25u

/** Fields are private (leading underscore): use the functions below. */
typedef struct vn_hll {
    uint8_t _p;      /* precision: m = 1 << _p registers */
    uint8_t _b;      /* dense base: register value v means rank _b + v */
    bool _sparse;
    uint32_t _tmp_n, _tmp_cap; /* pending sparse keys, sorted, distinct */
    uint32_t *_tmp;
    uint32_t _list_count, _list_last; /* sparse list: keys, last key */
    uint32_t _list_len, _list_cap;    /* its varint bytes */
    uint8_t *_list;
    uint32_t _nz;    /* dense: number of zero registers */
    uint8_t *_regs;  /* dense: m/2 bytes, even register in the high nibble */
} vn_hll_t;

/** Initialises an empty precision-14 sketch (allocates nothing). */
void vn_hll_init(vn_hll_t *h);

/**
 * Initialises an empty sketch of the given precision.
 * @return VN_OK, or VN_ERR_CONFIG if precision is outside
 *   [VN_HLL_MIN_PRECISION, VN_HLL_MAX_PRECISION] (h is then initialised with
 *   precision 14, so destroy is always safe).
 */
vn_err_t vn_hll_init_precision(vn_hll_t *h, unsigned precision);

/** Frees everything h holds; NULL ok. Re-initialise before reuse. */
void vn_hll_destroy(vn_hll_t *h);

/** Adds a member: MetroHash64(data[0..len), seed 1337). @arg data borrowed. */
void vn_hll_add(vn_hll_t *h, const void *data, size_t len);

/**
 * Union: dst becomes the sketch of both sets. @arg src borrowed, unchanged.
 * @return VN_OK, VN_ERR_PROTO if the precisions differ (dst unchanged), or
 *   VN_ERR_PARSE if src == dst.
 */
vn_err_t vn_hll_merge(vn_hll_t *dst, const vn_hll_t *src);

/** Estimated number of distinct members (Go's formulas, zero count fixed). */
uint64_t vn_hll_estimate(const vn_hll_t *h);

/**
 * The number Go Veneur would report for the same registers, including its
 * zero-register bug and its math.Pow rounding. For interop tests and for
 * diagnosing differences; flushes use vn_hll_estimate.
 */
uint64_t vn_hll_estimate_go(const vn_hll_t *h);

unsigned vn_hll_precision(const vn_hll_t *h);
bool vn_hll_is_sparse(const vn_hll_t *h);
/** Heap bytes currently held by h. */
size_t vn_hll_memory(const vn_hll_t *h);

/** Bytes vn_hll_marshal writes. */
size_t vn_hll_marshal_size(const vn_hll_t *h);

/**
 * Writes axiomhq's MarshalBinary layout (all integers big-endian):
 * version 1, p, b, sparse flag; sparse: u32 n + n pending keys (ascending),
 * u32 count, u32 last, u32 byte length + varint deltas; dense: u32 m/2 + the
 * register bytes. An empty sketch is 20 bytes.
 * @return VN_OK, or VN_ERR_TOO_LARGE if cap < vn_hll_marshal_size(h).
 */
vn_err_t vn_hll_marshal(const vn_hll_t *h, uint8_t *buf, size_t cap, size_t *out_len);

/**
 * Reads MarshalBinary bytes (e.g. a metricpb SetValue) into h, which this
 * call (re)initialises: pass an uninitialised or destroyed struct. Checks,
 * before allocating: version 1, precision in range, flag 0 or 1, b = 0 when
 * sparse and b <= 64 - p + 1 when dense, every length against the bytes
 * present (no truncation, no trailing bytes), at most m pending keys, a
 * sparse list of at most m bytes whose varints are minimal, strictly
 * ascending and match count and last, every key one Go's encoder can
 * produce, and exactly m/2 dense register bytes. Pending keys may come in
 * any order (Go writes map order) and are deduplicated.
 * @arg buf borrowed.
 * @return VN_OK, or VN_ERR_PROTO with h left empty (precision 14).
 */
vn_err_t vn_hll_unmarshal(vn_hll_t *h, const uint8_t *buf, size_t len);

/** Sparse key of a hash for precision p (exposed for the W7 vector tests). */
uint32_t vn_hll_sparse_key(uint64_t x, unsigned p);

#endif
