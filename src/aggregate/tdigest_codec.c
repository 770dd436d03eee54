/*
 * tdigest_codec.c - the t-digest on the wire: protobuf tdigest.MergingDigestData
 * (proto/tdigest.proto, docs/behaviour.md W1.1 / W2.1), byte-identical to Go Veneur's gogo
 * output, plus conversion to and from the protobuf-c struct used inside
 * metricpb messages.
 *
 * Layout Go writes (fields in number order, proto3: a double equal to 0,
 * either sign, is left out; NaN is written):
 *
 *   0a 12 09 <mean:8 LE> 11 <weight:8 LE>     one per centroid, ascending mean
 *   11 <compression:8>  19 <min:8>  21 <max:8>  29 <reciprocalSum:8>
 *
 * Worked example, a digest holding the single sample 5 (docs/behaviour.md W7):
 *   0a 12 09 0000000000001440 11 000000000000f03f   centroid {5, 1}
 *   11 0000000000005940                             compression 100
 *   19 0000000000001440  21 0000000000001440        min 5, max 5
 *   29 9a9999999999c93f                             reciprocalSum 0.2
 * An empty digest is 11 <100> 19 <+Inf> 21 <-Inf> (27 bytes).
 *
 * Decoding is hand-written rather than protobuf-c's unpack so that nothing
 * is allocated before the input is known to be valid and bounded: one pass
 * checks every field, counts the centroids and copies up to DECODE_STACK of
 * them to the stack; only a larger digest is read a second time.
 */
#include "aggregate/tdigest.h"
#include "core/pbwire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "tdigest.pb-c.h"

/* ---- little protobuf reader ---- */

typedef vn_pb_rd_t rd_t;

/* ---- validation shared by bytes and protobuf-c input ---- */

typedef struct hdr {
    double compression, min, max, rsum;
} hdr_t;

static bool centroid_ok(double mean, double weight, double prev_mean)
{
    return isfinite(mean) && isfinite(weight) && weight > 0.0 && mean >= prev_mean;
}

/* Turns a validated centroid list into the digest; takes ownership of c
 * (an allocation of cap >= n entries). */
static vn_err_t install(vn_tdigest_t *td, const hdr_t *h, vn_tdigest_centroid_t *c, uint32_t n, uint32_t cap)
{
    if (!(h->compression >= VN_TDIGEST_MIN_COMPRESSION && h->compression <= VN_TDIGEST_MAX_COMPRESSION)) {
        free(c);
        return VN_ERR_PROTO;
    }
    double w = 0.0, s = 0.0, sc = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        w += c[i].weight;
        double v = c[i].mean * c[i].weight, t = s + v; /* Neumaier */
        sc += fabs(s) >= fabs(v) ? (s - t) + v : (v - t) + s;
        s = t;
    }
    if (n > 0 && (!isfinite(h->min) || !isfinite(h->max) || h->min > h->max || !isfinite(w))) {
        free(c);
        return VN_ERR_PROTO;
    }
    (void)vn_tdigest_init(td, h->compression);
    td->_rsum = h->rsum;
    if (n == 0) {
        free(c);
        return VN_OK;
    }
    td->_c = c;
    td->_stride = (uint8_t)sizeof(*c); /* wide: decoded digests are transient imports */
    td->_cap = cap * (uint32_t)sizeof(*c);
    td->_n_main = n;
    td->_main_w = w;
    td->_sum = s;
    td->_sum_c = sc;
    /* Go derives min/max from centroid means after its merges; rounding in
     * a mean can put it an ulp outside them, so widen rather than reject. */
    td->_min = fmin(h->min, c[0].mean);
    td->_max = fmax(h->max, c[n - 1].mean);
    return VN_OK;
}

static vn_err_t fail(vn_tdigest_t *td)
{
    (void)vn_tdigest_init(td, VN_TDIGEST_DEFAULT_COMPRESSION);
    return VN_ERR_PROTO;
}

/* ---- bytes -> digest ---- */

/* Parses one Centroid message. */
static bool parse_centroid(rd_t *m, double *mean, double *weight)
{
    *mean = 0.0;
    *weight = 0.0;
    while (m->p < m->end) {
        uint32_t f;
        unsigned wt;
        if (!vn_pb_tag(m, &f, &wt))
            return false;
        if (f == 1 || f == 2) {
            if (wt != VN_PB_WT_FIXED64 || !vn_pb_double(m, f == 1 ? mean : weight))
                return false;
        } else if (f == 3) { /* samples: packed or not, ignored */
            if (wt == VN_PB_WT_LEN) {
                rd_t sub;
                if (!vn_pb_sub(m, &sub) || (sub.end - sub.p) % 8 != 0)
                    return false;
            } else if (wt != VN_PB_WT_FIXED64 || !vn_pb_skip(m, wt)) {
                return false;
            }
        } else if (!vn_pb_skip(m, wt)) {
            return false;
        }
    }
    return true;
}

/* Reads a little-endian double at p (8 readable bytes). */
static double load_double(const uint8_t *p)
{
    uint64_t v;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, p, sizeof v); /* one load; the byte loop below is not fused by gcc */
#else
    v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
#endif
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* What Go writes for a centroid whose mean and weight are both non-zero:
 * 0a 12 09 <mean:8> 11 <weight:8>. Every centroid of a digest built from
 * non-zero samples has this shape, so it is read without the generic tag
 * loop; anything else (zero mean, samples, unknown fields) takes that loop. */
#define CANON_LEN 20

static bool canonical_centroid(const uint8_t *p, const uint8_t *end)
{
    return end - p >= CANON_LEN && p[0] == 0x0a && p[1] == 0x12 && p[2] == 0x09 && p[11] == 0x11;
}

/* One pass: validates every field and counts the centroids; the first `cap`
 * of them are copied into out (out may be NULL with cap 0). */
static bool parse_digest(const uint8_t *buf, size_t len, hdr_t *h, vn_tdigest_centroid_t *out, uint32_t cap,
                         uint32_t *n)
{
    rd_t r = {buf, buf ? buf + len : buf}; /* NULL + 0 is not valid C */
    double prev = -INFINITY;
    uint32_t count = 0;
    *h = (hdr_t){0, 0, 0, 0};
    while (r.p < r.end) {
        double mean, weight;
        if (canonical_centroid(r.p, r.end)) {
            mean = load_double(r.p + 3);
            weight = load_double(r.p + 12);
            r.p += CANON_LEN;
        } else {
            uint32_t f;
            unsigned wt;
            if (!vn_pb_tag(&r, &f, &wt))
                return false;
            if (f >= 2 && f <= 5) {
                double *dst[] = {&h->compression, &h->min, &h->max, &h->rsum};
                if (wt != VN_PB_WT_FIXED64 || !vn_pb_double(&r, dst[f - 2]))
                    return false;
                continue;
            }
            if (f != 1) {
                if (!vn_pb_skip(&r, wt))
                    return false;
                continue;
            }
            rd_t m;
            if (wt != VN_PB_WT_LEN || !vn_pb_sub(&r, &m) || !parse_centroid(&m, &mean, &weight))
                return false;
        }
        if (!centroid_ok(mean, weight, prev) || count >= VN_TDIGEST_MAX_CENTROIDS)
            return false;
        if (count < cap)
            out[count] = (vn_tdigest_centroid_t){mean, weight};
        prev = mean;
        count++;
    }
    *n = count;
    return true;
}

/* Centroids a decode collects on the stack before it knows the count: Go
 * sends at most 201 at the default compression, veneur-c about 420. */
#define DECODE_STACK 512u

vn_err_t vn_tdigest_decode(vn_tdigest_t *td, const uint8_t *buf, size_t len)
{
    hdr_t h;
    uint32_t n = 0;
    vn_tdigest_centroid_t stack[DECODE_STACK];
    if (!buf && len)
        return fail(td);
    if (!parse_digest(buf, len, &h, stack, DECODE_STACK, &n))
        return fail(td);
    vn_tdigest_centroid_t *c = NULL;
    uint32_t cap = n ? n + 2 : 0; /* room for the next add and its scratch */
    if (n) {
        c = vn_xmalloc((size_t)cap * sizeof(*c));
        if (n <= DECODE_STACK)
            memcpy(c, stack, (size_t)n * sizeof(*c));
        else
            (void)parse_digest(buf, len, &h, c, n, &n); /* cannot fail: same input */
    }
    if (install(td, &h, c, n, cap) != VN_OK)
        return fail(td);
    return VN_OK;
}

/* ---- protobuf-c message -> digest ---- */

vn_err_t vn_tdigest_from_pb(vn_tdigest_t *td, const Tdigest__MergingDigestData *pb)
{
    if (!pb || pb->n_main_centroids > VN_TDIGEST_MAX_CENTROIDS ||
        (pb->n_main_centroids && !pb->main_centroids))
        return fail(td);
    uint32_t n = (uint32_t)pb->n_main_centroids;
    double prev = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        const Tdigest__Centroid *pc = pb->main_centroids[i];
        if (!pc || !centroid_ok(pc->mean, pc->weight, prev))
            return fail(td);
        prev = pc->mean;
    }
    hdr_t h = {pb->compression, pb->min, pb->max, pb->reciprocalsum};
    vn_tdigest_centroid_t *c = NULL;
    uint32_t cap = n ? n + 2 : 0;
    if (n) {
        c = vn_xmalloc((size_t)cap * sizeof(*c));
        for (uint32_t i = 0; i < n; i++)
            c[i] = (vn_tdigest_centroid_t){pb->main_centroids[i]->mean, pb->main_centroids[i]->weight};
    }
    if (install(td, &h, c, n, cap) != VN_OK)
        return fail(td);
    return VN_OK;
}

/* ---- digest -> bytes ---- */

static uint8_t *put_double(uint8_t *p, uint8_t tag, double d)
{
    *p++ = tag;
    return vn_pb_put_double(p, d);
}

/* proto3 leaves out zero (0.0 and -0.0); NaN != 0 so it is written, as in Go. */
static size_t dbl_field_len(double d) { return d != 0.0 ? 9 : 0; }

static size_t centroid_len(const vn_tdigest_centroid_t *c)
{
    return dbl_field_len(c->mean) + dbl_field_len(c->weight);
}

size_t vn_tdigest_encoded_size(vn_tdigest_t *td)
{
    size_t n = vn_tdigest_centroid_count(td);
    size_t total = dbl_field_len(td->_compression) + dbl_field_len(td->_min) + dbl_field_len(td->_max) +
                   dbl_field_len(td->_rsum);
    vn_tdigest_iter_t it;
    vn_tdigest_iter_init(td, &it);
    vn_tdigest_centroid_t c;
    for (size_t i = 0; i < n && vn_tdigest_iter_next(&it, &c); i++) {
        size_t l = centroid_len(&c);
        total += 1 + vn_pb_varint_len(l) + l;
    }
    return total;
}

vn_err_t vn_tdigest_encode(vn_tdigest_t *td, uint8_t *buf, size_t cap, size_t *out_len)
{
    size_t need = vn_tdigest_encoded_size(td);
    if (cap < need)
        return VN_ERR_TOO_LARGE;
    size_t n = vn_tdigest_centroid_count(td);
    uint8_t *p = buf;
    vn_tdigest_iter_t it;
    vn_tdigest_iter_init(td, &it);
    vn_tdigest_centroid_t c;
    for (size_t i = 0; i < n && vn_tdigest_iter_next(&it, &c); i++) {
        *p++ = 0x0a; /* field 1, length-delimited */
        p = vn_pb_put_varint(p, centroid_len(&c));
        if (c.mean != 0.0)
            p = put_double(p, 0x09, c.mean);
        if (c.weight != 0.0)
            p = put_double(p, 0x11, c.weight);
    }
    if (td->_compression != 0.0)
        p = put_double(p, 0x11, td->_compression);
    if (td->_min != 0.0)
        p = put_double(p, 0x19, td->_min);
    if (td->_max != 0.0)
        p = put_double(p, 0x21, td->_max);
    if (td->_rsum != 0.0)
        p = put_double(p, 0x29, td->_rsum);
    *out_len = (size_t)(p - buf);
    return VN_OK;
}

/* ---- digest -> protobuf-c message ---- */

void vn_tdigest_to_pb(vn_tdigest_t *td, Tdigest__MergingDigestData *pb)
{
    size_t n = vn_tdigest_centroid_count(td);
    tdigest__merging_digest_data__init(pb);
    if (n) {
        /* one block: n pointers, then the n messages they point to */
        void *block = vn_xmalloc(n * (sizeof(Tdigest__Centroid *) + sizeof(Tdigest__Centroid)));
        Tdigest__Centroid **ptrs = block;
        Tdigest__Centroid *msgs = (Tdigest__Centroid *)(ptrs + n);
        vn_tdigest_iter_t it;
        vn_tdigest_iter_init(td, &it);
        for (size_t i = 0; i < n; i++) {
            tdigest__centroid__init(&msgs[i]);
            vn_tdigest_centroid_t c = {0, 0};
            (void)vn_tdigest_iter_next(&it, &c);
            msgs[i].mean = c.mean;
            msgs[i].weight = c.weight;
            ptrs[i] = &msgs[i];
        }
        pb->main_centroids = ptrs;
        pb->n_main_centroids = n;
    }
    pb->compression = td->_compression;
    pb->min = td->_min;
    pb->max = td->_max;
    pb->reciprocalsum = td->_rsum;
}

void vn_tdigest_pb_release(Tdigest__MergingDigestData *pb)
{
    if (!pb)
        return;
    free(pb->main_centroids); /* the block starts with the pointer array */
    pb->main_centroids = NULL;
    pb->n_main_centroids = 0;
}
