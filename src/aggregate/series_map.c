/*
 * series_map.c - open addressing (linear probing) over a power-of-two table.
 * The 32-bit key hash is stored beside each slot so most probes never touch
 * the series itself. Load factor is kept <= 1/2. Deletion never happens: the
 * whole map is dropped after its interval is flushed.
 *
 * Storage: each series is one entry in the map's blocks, in insertion order:
 * the vn_series_t with its key, padded to 8, then its sampler struct (histo,
 * HLL, status) if the type has one. An entry's size follows from its key
 * length and type, so the blocks can be walked without the table
 * (vn_series_map_take). Blocks and large tables are mmap'ed, not malloc'ed:
 * glibc keeps freed heap memory (its mmap threshold rises after the first big
 * free), and the point of freeing them during the flush is to give the
 * memory back while the output is built.
 */
#include "aggregate/series_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define VN_MAP_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VN_MAP_LSAN 1
#endif
#endif
#ifdef VN_MAP_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#include "core/metric.h"
#include "core/xalloc.h"

#define INITIAL_CAP 1024
/* Blocks double from FIRST to MAX; an entry bigger than MAX gets a block of its own size. */
#define BLOCK_FIRST ((size_t)64 << 10)
#define BLOCK_MAX ((size_t)2 << 20)
/* Tables of at least this many bytes are mmap'ed (see top). */
#define TABLE_MMAP_MIN ((size_t)256 << 10)

struct vn_series_block {
    struct vn_series_block *next;
    size_t size; /* mapped bytes, this header included */
    size_t used; /* entry bytes after the header */
};

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)
#define BLOCK_HDR ALIGN8(sizeof(struct vn_series_block))

static void *pages_alloc(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "level=error event=out_of_memory file=%s line=%d bytes=%zu\n", __FILE__, __LINE__, n);
        abort();
    }
#ifdef VN_MAP_LSAN
    /* Entries hold the only pointers to digest and HLL buffers: LeakSanitizer
     * must scan these pages or it reports every held sampler as leaked. */
    __lsan_register_root_region(p, n);
#endif
    return p;
}

static void pages_free(void *p, size_t n)
{
#ifdef VN_MAP_LSAN
    __lsan_unregister_root_region(p, n);
#endif
    munmap(p, n);
}

/* Zeroed table of n bytes; freed with table_free(p, n). */
static void *table_alloc(size_t n)
{
    return n >= TABLE_MMAP_MIN ? pages_alloc(n) : vn_xcalloc(1, n);
}

static void table_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n >= TABLE_MMAP_MIN)
        pages_free(p, n);
    else
        free(p);
}

static size_t sampler_size(uint8_t type)
{
    switch (type) {
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER: return ALIGN8(sizeof(vn_histo_t));
    case VN_MT_SET: return ALIGN8(sizeof(vn_hll_t));
    case VN_MT_STATUS: return ALIGN8(sizeof(vn_status_t));
    default: return 0;
    }
}

static inline size_t head_size(size_t key_len) { return ALIGN8(sizeof(vn_series_t) + key_len + 1); }

static inline size_t entry_size(size_t key_len, uint8_t type) { return head_size(key_len) + sampler_size(type); }

/* Room for n more entry bytes at the end of the block list. */
static char *block_reserve(vn_series_map_t *m, size_t n)
{
    struct vn_series_block *b = m->last;
    if (!b || b->size - BLOCK_HDR - b->used < n) {
        size_t size = b ? b->size * 2 : BLOCK_FIRST;
        if (size > BLOCK_MAX)
            size = BLOCK_MAX;
        if (size < BLOCK_HDR + n)
            size = BLOCK_HDR + n;
        struct vn_series_block *nb = pages_alloc(size);
        nb->next = NULL;
        nb->size = size;
        nb->used = 0;
        if (b)
            b->next = nb;
        else
            m->blocks = nb;
        m->last = b = nb;
    }
    char *p = (char *)b + BLOCK_HDR + b->used;
    b->used += n;
    return p;
}

vn_series_limits_t vn_series_limits_share(size_t total_count, size_t total_bytes, size_t nworkers,
                                          size_t worker)
{
    if (nworkers == 0)
        nworkers = 1;
    vn_series_limits_t l = {.max_count = VN_SERIES_UNLIMITED, .max_bytes = VN_SERIES_UNLIMITED};
    if (total_count)
        l.max_count = total_count / nworkers + (worker < total_count % nworkers);
    if (total_bytes != VN_SERIES_UNLIMITED)
        l.max_bytes = total_bytes / nworkers + (worker < total_bytes % nworkers);
    return l;
}

vn_series_map_t *vn_series_map_new_limited(const vn_series_limits_t *lim)
{
    vn_series_map_t *m = vn_xcalloc(1, sizeof *m);
    m->cap = INITIAL_CAP;
    m->slots = table_alloc(m->cap * sizeof *m->slots);
    m->hashes = table_alloc(m->cap * sizeof *m->hashes);
    m->max_count = lim->max_count;
    m->max_bytes = lim->max_bytes;
    return m;
}

vn_series_map_t *vn_series_map_new(size_t max_count)
{
    vn_series_limits_t lim = {.max_count = max_count ? max_count : VN_SERIES_UNLIMITED,
                              .max_bytes = VN_SERIES_UNLIMITED};
    return vn_series_map_new_limited(&lim);
}

void vn_series_release_sampler(vn_series_t *s)
{
    switch (s->type) {
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER: vn_histo_destroy(s->u.histo); break;
    case VN_MT_SET: vn_hll_destroy(s->u.set); break;
    case VN_MT_STATUS: vn_status_destroy(s->u.status); break;
    default: break;
    }
}

void vn_series_map_drop_index(vn_series_map_t *m)
{
    table_free(m->slots, m->cap * sizeof *m->slots);
    table_free(m->hashes, m->cap * sizeof *m->hashes);
    m->slots = NULL;
    m->hashes = NULL;
    m->cap = 0;
}

vn_series_t *vn_series_map_take(vn_series_map_t *m)
{
    if (m->taken) {
        vn_series_release_sampler(m->taken);
        m->taken = NULL;
    }
    for (;;) {
        struct vn_series_block *b = m->blocks;
        if (!b)
            return NULL;
        if (m->take_off < b->used) {
            vn_series_t *s = (vn_series_t *)((char *)b + BLOCK_HDR + m->take_off);
            m->take_off += entry_size(s->key_len, s->type);
            m->taken = s;
            return s;
        }
        m->blocks = b->next;
        if (m->last == b)
            m->last = NULL;
        m->take_off = 0;
        pages_free(b, b->size);
    }
}

void vn_series_map_free(vn_series_map_t *m)
{
    if (!m)
        return;
    while (vn_series_map_take(m)) /* sequential: releases every sampler, unmaps every block */
        ;
    vn_series_map_drop_index(m);
    free(m);
}

/* Spreads Go's FNV digest (weak low bits for similar keys) over the table. */
static inline size_t slot_of(uint32_t h, size_t mask) { return vn_series_map__slot_of(h, mask); }

static void grow(vn_series_map_t *m)
{
    size_t ncap = m->cap * 2, mask = ncap - 1;
    vn_series_t **ns = table_alloc(ncap * sizeof *ns);
    uint32_t *nh = table_alloc(ncap * sizeof *nh);
    for (size_t i = 0; i < m->cap; i++) {
        vn_series_t *s = m->slots[i];
        if (!s)
            continue;
        size_t j = slot_of(s->hash, mask);
        while (ns[j])
            j = (j + 1) & mask;
        ns[j] = s;
        nh[j] = s->hash;
    }
    table_free(m->slots, m->cap * sizeof *m->slots);
    table_free(m->hashes, m->cap * sizeof *m->hashes);
    m->slots = ns;
    m->hashes = nh;
    m->cap = ncap;
}

/* a[0..n) == b[0..n) without a libc call: keys are mostly 10-40 bytes, where memcmp's call and
 * dispatch cost more than the compare (issue 22). Reads only inside both ranges. */
static inline bool key_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    return memcmp(a, b, n) == 0;
}

vn_series_t *vn_series_map_upsert(vn_series_map_t *m, uint32_t hash, uint8_t type, uint8_t scope, const char *key,
                                  size_t key_len)
{
    size_t mask = m->cap - 1;
    size_t i = slot_of(hash, mask);
    for (;;) {
        vn_series_t *s = m->slots[i];
        if (!s)
            break;
        if (m->hashes[i] == hash && s->type == type && s->scope == scope && s->key_len == key_len &&
            key_eq(s->key, key, key_len))
            return s;
        i = (i + 1) & mask;
    }
    /* Both checks before anything is allocated: the key copy is what a hostile
     * sender makes expensive (up to 64 KiB per series). */
    if (m->count >= m->max_count) {
        m->refused_count++;
        return NULL;
    }
    size_t cost = key_len + VN_SERIES_FIXED_COST;
    if (cost > m->max_bytes - m->bytes) { /* bytes <= max_bytes always */
        m->refused_bytes++;
        return NULL;
    }
    char *e = block_reserve(m, entry_size(key_len, type));
    vn_series_t *s = (vn_series_t *)e;
    void *sampler = e + head_size(key_len);
    s->hash = hash;
    s->key_len = (uint16_t)key_len;
    s->type = type;
    s->scope = scope;
    memcpy(s->key, key, key_len);
    s->key[key_len] = '\0';
    switch (type) {
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER:
        s->u.histo = sampler;
        vn_histo_init(s->u.histo);
        break;
    case VN_MT_SET:
        s->u.set = sampler;
        vn_hll_init(s->u.set);
        break;
    case VN_MT_STATUS:
        s->u.status = sampler;
        memset(s->u.status, 0, sizeof *s->u.status);
        break;
    default: s->u.counter = 0; break;
    }
    m->slots[i] = s;
    m->hashes[i] = hash;
    m->count++;
    if (type < VN_MT__COUNT && scope < 3)
        m->by_type_scope[type][scope]++;
    m->bytes += cost;
    if (m->count * 2 > m->cap)
        grow(m);
    return s;
}

bool vn_series_map_recharge(vn_series_map_t *m, size_t old_bytes, size_t new_bytes)
{
    if (new_bytes > old_bytes && new_bytes - old_bytes > m->max_bytes - m->bytes) {
        m->refused_bytes++;
        return false;
    }
    m->bytes = m->bytes - old_bytes + new_bytes; /* old_bytes was charged before, so no underflow */
    return true;
}

void vn_series_map_note_overflow(vn_series_map_t *m, const char *key, size_t key_len)
{
    const char *nl = memchr(key, '\n', key_len);
    size_t nlen = nl ? (size_t)(nl - key) : key_len;
    if (nlen >= VN_OVERFLOW_NAME_MAX)
        nlen = VN_OVERFLOW_NAME_MAX - 1;
    for (size_t i = 0; i < m->n_overflow; i++)
        if (strncmp(m->overflow[i].name, key, nlen) == 0 && m->overflow[i].name[nlen] == '\0') {
            m->overflow[i].samples++;
            return;
        }
    if (m->n_overflow < VN_OVERFLOW_NAMES) {
        vn_series_overflow_t *o = &m->overflow[m->n_overflow++];
        memcpy(o->name, key, nlen);
        o->name[nlen] = '\0';
        o->samples = 1;
        return;
    }
    m->overflow[VN_OVERFLOW_NAMES].samples++; /* name "" = all other names */
}
