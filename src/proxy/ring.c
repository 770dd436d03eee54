/*
 * ring.c - consistent hash ring (see ring.h for the exact scheme and why).
 *
 * Layout: one sorted array of points {hash, member}, binary-searched for the
 * first hash strictly greater than the key's; members hold a copy of their
 * address and the caller's opaque pointer. Building sorts 20 x N points,
 * which for a few dozen globals costs microseconds, so a ring is simply
 * rebuilt whenever the set of healthy destinations changes.
 */
#include "proxy/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/xalloc.h"

typedef struct point {
    uint32_t hash;
    uint32_t member;
} point_t;

typedef struct member {
    char *addr;
    void *user;
} member_t;

struct vn_ring {
    point_t *points;
    size_t npoints;
    member_t *members;
    size_t nmembers;
};

uint32_t vn_ring_hash(const void *p, size_t len)
{
    /* zlib takes uInt lengths: feed in chunks so any size_t works. */
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef *b = p;
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, b, n);
        b += n;
        len -= n;
    }
    return (uint32_t)crc;
}

/* Ascending hash; on a collision the smaller address first (it wins, see ring.h). */
static int point_cmp_r(const void *a, const void *b, void *ctx)
{
    const point_t *x = a, *y = b;
    const member_t *m = ctx;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return strcmp(m[x->member].addr, m[y->member].addr);
}

vn_ring_t *vn_ring_new(const char *const *addrs, void *const *users, size_t n)
{
    vn_ring_t *r = vn_xcalloc(1, sizeof *r);
    if (n > VN_RING_MAX_MEMBERS)
        n = VN_RING_MAX_MEMBERS;
    r->members = vn_xcalloc(n ? n : 1, sizeof *r->members);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(addrs[i]);
        if (len == 0 || len > VN_RING_MAX_ADDR)
            continue;
        bool dup = false;
        for (size_t j = 0; j < r->nmembers && !dup; j++)
            dup = strcmp(r->members[j].addr, addrs[i]) == 0;
        if (dup)
            continue;
        r->members[r->nmembers].addr = vn_xstrndup(addrs[i], len);
        r->members[r->nmembers].user = users ? users[i] : NULL;
        r->nmembers++;
    }
    r->points = vn_xcalloc(r->nmembers ? r->nmembers * VN_RING_REPLICAS : 1, sizeof *r->points);
    char buf[VN_RING_MAX_ADDR + 8];
    for (size_t m = 0; m < r->nmembers; m++) {
        for (int i = 0; i < VN_RING_REPLICAS; i++) {
            int len = snprintf(buf, sizeof buf, "%d%s", i, r->members[m].addr);
            r->points[r->npoints++] = (point_t){vn_ring_hash(buf, (size_t)len), (uint32_t)m};
        }
    }
    qsort_r(r->points, r->npoints, sizeof *r->points, point_cmp_r, r->members);
    /* Collisions: keep the first of each run of equal hashes (the smallest address). */
    size_t w = 0;
    for (size_t i = 0; i < r->npoints; i++)
        if (w == 0 || r->points[w - 1].hash != r->points[i].hash)
            r->points[w++] = r->points[i];
    r->npoints = w;
    return r;
}

void vn_ring_free(vn_ring_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nmembers; i++)
        free(r->members[i].addr);
    free(r->members);
    free(r->points);
    free(r);
}

size_t vn_ring_size(const vn_ring_t *r) { return r->nmembers; }

long vn_ring_owner(const vn_ring_t *r, uint32_t h)
{
    if (r->npoints == 0)
        return -1;
    /* first index whose hash > h (sort.Search in Go's consistent.search) */
    size_t lo = 0, hi = r->npoints;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->points[mid].hash > h)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo >= r->npoints)
        lo = 0;
    return (long)r->points[lo].member;
}

const char *vn_ring_member_addr(const vn_ring_t *r, size_t i) { return r->members[i].addr; }

void *vn_ring_member_user(const vn_ring_t *r, size_t i) { return r->members[i].user; }

const char *vn_ring_type_name(int32_t type, char out[12])
{
    static const char *const names[] = {"counter", "gauge", "histogram", "set", "timer"};
    if (type >= 0 && type < 5)
        snprintf(out, 12, "%s", names[type]);
    else
        snprintf(out, 12, "%d", (int)type);
    return out;
}

/* Names and tags come from one gRPC message (<= 4 MiB), so uInt lengths suffice. */
void vn_ring_key_begin(vn_ring_key_t *k, const char *name, size_t name_len, int32_t type)
{
    char tn[12];
    vn_ring_type_name(type, tn);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)name, (uInt)name_len);
    crc = crc32(crc, (const Bytef *)tn, (uInt)strlen(tn));
    k->crc = (uint32_t)crc;
    k->any_tag = false;
}

void vn_ring_key_tag(vn_ring_key_t *k, const char *tag, size_t len)
{
    uLong crc = k->crc;
    if (k->any_tag)
        crc = crc32(crc, (const Bytef *)",", 1);
    crc = crc32(crc, (const Bytef *)tag, (uInt)len);
    k->crc = (uint32_t)crc;
    k->any_tag = true;
}
