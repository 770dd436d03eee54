/**
 * ring.h - the proxy's consistent hash ring, Go Veneur's exactly (docs/behaviour.md W3.3,
 * 0.9): stathat.com/c/consistent v1.0.0 with its defaults, so a Go proxy and a
 * C proxy given the same destinations route every metric to the same global.
 *
 *   points:  for each member address A and i = 0..19, CRC-32 (IEEE) of the
 *            decimal i followed by A: "0127.0.0.1:8001", ..., "19127.0.0.1:8001"
 *   lookup:  CRC-32 of the key; the owner is the member of the first point
 *            strictly greater than it, wrapping to the first point
 *   key:     metric name + lower-case metricpb.Type name + the tags that no
 *            ignore_tags matcher drops, joined by ',' (no other separators):
 *            "a.b.c" "timer" "a:b,c:d" -> "a.b.ctimera:b,c:d"
 *
 * Go keeps the points in a map, so when two points collide (20 x N values in
 * 2^32) the member added last owns it and the order of adds decides. Here
 * the member with the byte-wise smallest address wins, which is at least
 * deterministic. A ring is immutable once built: readers share it freely
 * (see router.h for how it is swapped and reference-counted).
 */
#ifndef VN_PROXY_RING_H
#define VN_PROXY_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Points per member (stathat consistent.New's NumberOfReplicas). */
#define VN_RING_REPLICAS 20
/** Most members a ring takes (far above any real fleet of globals). */
#define VN_RING_MAX_MEMBERS 4096
/** Longest member address accepted (bytes). */
#define VN_RING_MAX_ADDR 255

typedef struct vn_ring vn_ring_t; /* opaque, immutable after vn_ring_new */

/**
 * Builds a ring. addrs[i] (copied) names member i; users[i] (borrowed,
 * opaque, may be NULL as a whole) is handed back by vn_ring_member_user.
 * Duplicate addresses are kept once (the first). Members longer than
 * VN_RING_MAX_ADDR or past VN_RING_MAX_MEMBERS are left out.
 * @return owned ring (vn_ring_free); never NULL (n = 0 gives an empty ring).
 */
vn_ring_t *vn_ring_new(const char *const *addrs, void *const *users, size_t n);

/** Frees the ring (not the user pointers). NULL ok. */
void vn_ring_free(vn_ring_t *r);

/** Members in the ring. */
size_t vn_ring_size(const vn_ring_t *r);

/** CRC-32 (IEEE 802.3, zlib's crc32) of p[0..len). */
uint32_t vn_ring_hash(const void *p, size_t len);

/**
 * vn_ring_hash(p, len), faster for keys of 16 bytes or more that are not a
 * multiple of 16 long: the 15 bytes before p must be writable scratch (they
 * are overwritten with zeros).
 */
uint32_t vn_ring_hash_pad16(uint8_t *p, size_t len);

/**
 * The member owning key hash h: its index (< vn_ring_size), or -1 when the
 * ring is empty (Go: "empty circle"). O(log points). Thread-safe.
 */
long vn_ring_owner(const vn_ring_t *r, uint32_t h);

/** Member i's address (borrowed from the ring; valid while it lives). */
const char *vn_ring_member_addr(const vn_ring_t *r, size_t i);
/** Member i's user pointer as given to vn_ring_new. */
void *vn_ring_member_user(const vn_ring_t *r, size_t i);

/**
 * Lower-case metricpb.Type name: counter, gauge, histogram, set, timer; any
 * other value as its decimal number (what Go's enum String() gives for an
 * unknown value). out needs 12 bytes; returns out.
 */
const char *vn_ring_type_name(int32_t type, char out[12]);
/** The names of types 0..4 and their lengths (vn_ring_type_name's, without the copy). */
extern const char *const vn_ring_type_names[5];
extern const uint8_t vn_ring_type_lens[5];

/**
 * Incremental key hash: feeds the pieces of the key to CRC-32 without
 * building the string on the heap. begin with the name and type, one
 * tag_add per kept tag in order (the ',' separators are added here), then
 * end (once). The pieces are gathered in a small buffer inside the key and
 * hashed in one run; longer keys are hashed in several, same result.
 */
typedef struct vn_ring_key {
    uint32_t crc; /* of the bytes already hashed (not those in buf) */
    bool any_tag;
    size_t n;     /* bytes waiting in buf */
    uint8_t buf[256];
} vn_ring_key_t;

void vn_ring_key_begin(vn_ring_key_t *k, const char *name, size_t name_len, int32_t type);
void vn_ring_key_tag(vn_ring_key_t *k, const char *tag, size_t len);
/** The key's CRC-32 (vn_ring_hash of the whole key string). */
uint32_t vn_ring_key_end(vn_ring_key_t *k);

#endif
