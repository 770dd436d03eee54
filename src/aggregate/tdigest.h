/**
 * tdigest.h - merging t-digest for histograms and timers, wire-compatible with
 * Go Veneur's tdigest.MergingDigest (docs/behaviour.md 0.5, 2.4, W2.1).
 *
 * What is the same as Go: the protobuf form (MergingDigestData), the default
 * compression (100), how quantile() and cdf() interpolate (uniform inside a
 * centroid, bounds at the midpoints between neighbouring means, min below the
 * first centroid and max above the last), count/sum/min/max/reciprocal_sum.
 * What differs, on purpose: the scale function (see vn_tdigest_scale_t and
 * docs/internals/sketches.md), merge keeps the source's own min/max, merging
 * is deterministic (Go shuffles), the sum is tracked exactly (compensated)
 * instead of being recomputed from centroid means, and bad input returns an
 * error instead of panicking.
 *
 * Memory: the struct is embedded by the caller (96 bytes) and owns one heap
 * block of centroids, allocated lazily and grown on demand. While every
 * sample's weight is an integer <= 65535 and the total is below 2^32
 * ("compact"), the sorted centroids rest packed (tdigest_pack.h, ~7 bytes
 * each) and pending samples take 10 bytes (double mean, uint16 weight);
 * else every entry is 16 bytes (two doubles). Both give the same values,
 * bit for bit. An idle digest holds no block; one sample 80 bytes; 1000
 * unit-weight samples ~2.7 KB. A digest that only receives adds
 * never holds more than vn_tdigest_max_bytes() (12000 bytes at compression
 * 100; ~6 KB typical for a wide one after 1e5..1e6 samples). A
 * merge folds into a 16 KB stack buffer and leaves dst's block at the
 * merged size plus 32 entries; a decoded digest holds what was sent (at most
 * VN_TDIGEST_MAX_CENTROIDS) until its next fold shrinks it back to the cap.
 *
 * Thread safety: none. A digest belongs to one thread at a time (the worker
 * that owns its series); hand it over whole. Even the query functions
 * (quantile, cdf, centroid_count) fold pending samples and so write.
 *
 * Copying the struct by value is not allowed (it owns a pointer); move
 * ownership by pointer.
 */
#ifndef VN_AGGREGATE_TDIGEST_H
#define VN_AGGREGATE_TDIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* protobuf-c message (build/gen/tdigest.pb-c.h); only pointers are used here. */
struct Tdigest__MergingDigestData;

/** Go Veneur's histogram compression (samplers.NewHist). */
#define VN_TDIGEST_DEFAULT_COMPRESSION 100.0
/** Accepted compression range, for init and for the wire. */
#define VN_TDIGEST_MIN_COMPRESSION 1.0
#define VN_TDIGEST_MAX_COMPRESSION 10000.0
/** Decode rejects a digest with more centroids than this (Go emits at most
 *  2 * compression + 1, i.e. 201 at the default). */
#define VN_TDIGEST_MAX_CENTROIDS 32768u

/**
 * Scale function: how many centroids each part of the distribution may use.
 *  - VN_TDIGEST_SCALE_DEFAULT: veneur-c's choice: a centroid must satisfy
 *    both Go's arcsine function k1 at 2.5x the compression and Dunning's
 *    log-odds function k2 at 2x (arcsine spacing in the body, log-odds in the
 *    tails). About 2.7x Go's centroids for large inputs (~410 at 1e6
 *    samples, compression 100) for ~4x lower rank error at q >= 0.99; see
 *    docs/internals/sketches.md for the measurements.
 *  - VN_TDIGEST_SCALE_K1: Go Veneur's arcsine function alone, index(q) =
 *    compression * (asin(2q-1)/pi + 1/2); for comparisons (bench) and to
 *    reproduce Go's centroids in tests.
 * The wire carries the compression only, never the scale function: any
 * receiver (Go or C) re-compresses with its own.
 */
typedef enum vn_tdigest_scale {
    VN_TDIGEST_SCALE_DEFAULT = 0,
    VN_TDIGEST_SCALE_K1 = 1,
    VN_TDIGEST_SCALE__COUNT
} vn_tdigest_scale_t;

typedef struct vn_tdigest_centroid {
    double mean;
    double weight;
} vn_tdigest_centroid_t;

/** Fields are private (leading underscore): use the functions below. */
typedef struct vn_tdigest {
    double _compression;
    double _min, _max;   /* +Inf / -Inf while empty */
    double _rsum;        /* sum of w/x, Go's reciprocalSum */
    double _sum, _sum_c; /* sum of x*w with its Neumaier compensation term */
    double _main_w;      /* total weight of the sorted centroids */
    double _temp_w;      /* total weight of the pending (unsorted) samples */
    void *_c; /* [0,_n_main) sorted, then _n_temp pending: see _stride */
    uint32_t _n_main, _n_temp;
    uint32_t _cap;      /* bytes of the block at _c */
    uint32_t _plen;     /* compact: bytes of the packed sorted centroids */
    uint16_t _temp_max; /* pending samples folded in after this many */
    uint16_t _out_max;  /* hard cap on centroids after a fold */
    uint8_t _scale;     /* vn_tdigest_scale_t */
    uint8_t _stride;    /* 10 (compact: packed sorted centroids, then pending
                           entries of 10 bytes) or 16 (wide), see tdigest.c */
} vn_tdigest_t;

/**
 * Initialises an empty digest (allocates nothing).
 * @arg compression in [VN_TDIGEST_MIN_COMPRESSION, VN_TDIGEST_MAX_COMPRESSION].
 * @return VN_OK, or VN_ERR_CONFIG for a compression out of range or NaN (the
 *   digest is then initialised with the default compression, so destroy is
 *   always safe).
 */
vn_err_t vn_tdigest_init(vn_tdigest_t *td, double compression);

/** Like vn_tdigest_init with an explicit scale function (bench, tests). */
vn_err_t vn_tdigest_init_scale(vn_tdigest_t *td, double compression, vn_tdigest_scale_t scale);

/** Frees the centroid block; td may be NULL. td must be re-initialised before reuse. */
void vn_tdigest_destroy(vn_tdigest_t *td);

/**
 * Adds x with weight w (a sample rate r gives w = 1/r).
 * @return VN_OK; VN_ERR_PARSE (digest unchanged) if x is NaN or infinite or w
 *   is not finite and > 0; VN_ERR_TOO_LARGE if the total weight would
 *   overflow. Cost: an append, plus one fold of all centroids every 42 adds
 *   (compression 100), ~135 ns per add amortised; no allocation once the
 *   block has reached its steady size.
 */
vn_err_t vn_tdigest_add(vn_tdigest_t *td, double x, double w);

/**
 * Merges src into dst (the global's import path). dst keeps its compression
 * and scale; min/max become the extremes of both digests' own min/max (docs/behaviour.md
 * 0.5), count/sum/reciprocal_sum add up. Deterministic.
 * @arg src borrowed; its pending samples are folded (hence not const) but its
 *   distribution is unchanged. src == dst is rejected.
 * @return VN_OK; VN_ERR_PARSE if src == dst; VN_ERR_TOO_LARGE if the total
 *   weight would overflow (dst unchanged).
 * Folds into a stack buffer (16 KB; the heap above compression ~140) and
 * resizes dst's block to the result.
 */
vn_err_t vn_tdigest_merge(vn_tdigest_t *dst, vn_tdigest_t *src);

/**
 * Value at quantile q in [0, 1], interpolated as Go does (docs/behaviour.md W2.1), the
 * result kept inside its centroid's bounds: q = 0 gives min, q = 1 gives max.
 * NaN if the digest is empty or q is NaN or outside [0, 1].
 */
double vn_tdigest_quantile(vn_tdigest_t *td, double q);

/**
 * True when td holds one pending sample or one centroid of positive weight,
 * and min == max == *x (finite): then vn_tdigest_quantile(td, q) is *x for
 * q == 1 and *x + 0.0 for q in [0, 1) (the interpolation adds 0, which turns
 * -0 into +0), without folding. The flush's shortcut for the common series
 * that saw one sample in its interval (no sort, no fold, no scale function).
 */
bool vn_tdigest_single(const vn_tdigest_t *td, double *x);

/** Fraction of the weight below x (docs/behaviour.md W2.1): 0 if x <= min, 1 if x >= max,
 *  NaN if empty or x is NaN. */
double vn_tdigest_cdf(vn_tdigest_t *td, double x);

/** Total weight (Go Count()); 0 when empty. */
double vn_tdigest_count(const vn_tdigest_t *td);
/** Sum of x*w over every sample, compensated (exact to ~1 ulp per merge). */
double vn_tdigest_sum(const vn_tdigest_t *td);
/** Smallest / largest sample (+Inf / -Inf when empty). */
double vn_tdigest_min(const vn_tdigest_t *td);
double vn_tdigest_max(const vn_tdigest_t *td);
/** Sum of w/x (Go ReciprocalSum(); +Inf once x = 0 was added). */
double vn_tdigest_reciprocal_sum(const vn_tdigest_t *td);
double vn_tdigest_compression(const vn_tdigest_t *td);

/** Folds pending samples into the sorted centroids (no-op when none). */
void vn_tdigest_compress(vn_tdigest_t *td);

/** Number of centroids after folding pending samples. */
size_t vn_tdigest_centroid_count(vn_tdigest_t *td);

/**
 * Sorted centroids, after folding pending samples. Switches td to wide
 * entries for good (see Memory above): encoders use vn_tdigest_iter_*.
 * @return borrowed array of *n entries (NULL when empty), valid until the next
 *   call that changes td.
 */
const vn_tdigest_centroid_t *vn_tdigest_centroids(vn_tdigest_t *td, size_t *n);

/** Reads the sorted centroids in order without changing td's layout. */
typedef struct vn_tdigest_iter {
    const uint8_t *_p, *_end;
    uint64_t _key;
    uint32_t _left;
    uint8_t _stride;
} vn_tdigest_iter_t;

/** Starts at the first sorted centroid. Call vn_tdigest_compress (or
 *  vn_tdigest_centroid_count) first: pending samples are not visited.
 *  Valid until the next call that changes td. */
void vn_tdigest_iter_init(const vn_tdigest_t *td, vn_tdigest_iter_t *it);

/** Sets *c to the next centroid; false after the last. */
bool vn_tdigest_iter_next(vn_tdigest_iter_t *it, vn_tdigest_centroid_t *c);

/** Heap bytes currently held by td (its centroid block). */
size_t vn_tdigest_memory(const vn_tdigest_t *td);

/** Upper bound of vn_tdigest_memory() for a digest of this compression that
 *  only receives adds (merges may hold more until they finish). */
size_t vn_tdigest_max_bytes(double compression);

/* ---- wire: tdigest.MergingDigestData (docs/behaviour.md W1.1, W2.1) ---- */

/** Bytes vn_tdigest_encode will write (folds pending samples). */
size_t vn_tdigest_encoded_size(vn_tdigest_t *td);

/**
 * Encodes td as protobuf MergingDigestData exactly as Go's gogo marshaller
 * does: centroids (field 1) in order, then compression, min, max,
 * reciprocalSum, each omitted when 0 (proto3). An empty digest encodes
 * compression, +Inf and -Inf (27 bytes at the default).
 * @arg buf written; @arg cap its size; @arg out_len set to the bytes written.
 * @return VN_OK or VN_ERR_TOO_LARGE if cap < vn_tdigest_encoded_size(td).
 */
vn_err_t vn_tdigest_encode(vn_tdigest_t *td, uint8_t *buf, size_t cap, size_t *out_len);

/**
 * Decodes MergingDigestData bytes into td, which is (re)initialised by this
 * call: pass an uninitialised or destroyed struct. Validates before it
 * allocates anything: at most VN_TDIGEST_MAX_CENTROIDS centroids, every mean
 * finite, every weight finite and > 0, means in ascending order, finite total
 * weight, compression in range, min/max finite when there are centroids,
 * known fields with the right wire type, no truncation. Unknown fields and
 * Centroid.samples are skipped. min/max are widened to the first/last mean if
 * needed. The digest keeps the sender's compression (as Go does).
 * @arg buf borrowed (not retained).
 * @return VN_OK, or VN_ERR_PROTO with td left as an empty digest of the
 *   default compression (destroy is always safe).
 */
vn_err_t vn_tdigest_decode(vn_tdigest_t *td, const uint8_t *buf, size_t len);

/**
 * Builds td from a protobuf-c message (e.g. the t_digest of an unpacked
 * metricpb HistogramValue), with the same validation and semantics as
 * vn_tdigest_decode. @arg pb borrowed.
 */
vn_err_t vn_tdigest_from_pb(vn_tdigest_t *td, const struct Tdigest__MergingDigestData *pb);

/**
 * Fills *pb (a caller-owned, e.g. embedded, message) from td (folds pending
 * samples first). pb's header and scalar fields are overwritten; its centroid
 * arrays are allocated in one block that only vn_tdigest_pb_release frees
 * (never protobuf-c's free_unpacked). Allocation failure is fatal.
 */
void vn_tdigest_to_pb(vn_tdigest_t *td, struct Tdigest__MergingDigestData *pb);

/** Frees what vn_tdigest_to_pb allocated and empties pb's centroid list; NULL ok. */
void vn_tdigest_pb_release(struct Tdigest__MergingDigestData *pb);

#endif
