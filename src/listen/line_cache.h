/**
 * line_cache.h - one reader's memory of recently seen statsd lines, so a
 * repeated line skips the parser (listen/ingest.c is the only user).
 *
 * What it caches. A metric line's parse result (type, rate, scope, canonical
 * series key and its hash) depends only on its name and on everything from
 * the first '|' on, never on the value. That pair is the line's *signature*:
 *
 *     "name:1:2|c|#b:2,a:1"   signature = "name" + "|c|#b:2,a:1"
 *      ^^^^ ^^^ ^^^^^^^^^^^
 *
 * An entry maps a signature to its parsed series. A hit costs one hash, one
 * probe of two adjacent entries (one cache line each) and two memcmp, instead
 * of tokenising, sorting and joining the tags again.
 *
 * Pre-aggregation. Each counter and gauge entry also holds a *pending* value
 * for the samples seen since the last flush: counters sum value/rate in
 * double precision (a deliberate difference from Go, which truncates each
 * sample to int64), gauges keep the last value. So a hot series costs the
 * worker one record per commit (at most one per 100 ms under a steady stream:
 * listen/dgram.c "Commits") instead of one per line. A
 * pending value leaves the cache
 * only through the emit callback, exactly once, when:
 *   - vn_line_cache_flush is called (the reader's commit), or
 *   - its entry is evicted by a new signature landing on its slot, or
 *   - the byte area is full (see below).
 * Timers, histograms and sets are cached too (their series), but their
 * samples are not held: the caller sends each on at once. Events and service
 * checks never reach the cache.
 *
 * Layout and eviction. VN_LINE_CACHE_SLOTS entries, two-way set associative
 * by signature hash. A miss fills a free way of its set, else replaces one way
 * chosen by a hash bit (random replacement: no recency bookkeeping on hits).
 * Sized for a few thousand hot signatures: the peers' comparison stream has
 * 3000, which in 4096 slots missed ~16 % of lines (sets overflow and thrash);
 * in 16384 ~2 %. Only the entries in use are touched, so the larger table
 * costs address space, not cache.
 *
 * The byte area. Signature and key bytes live in one per-cache area of
 * VN_LINE_CACHE_BYTES, not in the entries, so an entry stays within one cache
 * line (a fixed 240-byte entry made every probe a cache miss). Bytes are only
 * appended; when the next entry does not fit, every pending value is emitted,
 * every entry is forgotten (stale byte ranges become unreachable) and the area
 * starts empty again. The cache never allocates.
 *
 * Limits. A line whose name + signature is longer than VN_LINE_CACHE_SIG_MAX
 * (lookup reports it as not cacheable), or whose key is longer than
 * VN_LINE_CACHE_KEY_MAX (insert refuses it), is never cached: it takes the
 * full parse every time.
 *
 * Ownership and threads. The caller owns the struct (about 2.1 MiB: embed it
 * in a heap object, not on a stack; it must not move after init). Bytes passed in are copied; pointers
 * returned (entries, keys) are valid until the next call that can insert,
 * reset or flush. One cache per reader thread; not thread-safe.
 */
#ifndef VN_LISTEN_LINE_CACHE_H
#define VN_LISTEN_LINE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/metric.h"

#define VN_LINE_CACHE_SLOTS 16384 /* power of two; a dirty index fits uint16_t */
#define VN_LINE_CACHE_SIG_MAX 1024
#define VN_LINE_CACHE_KEY_MAX 1024
#define VN_LINE_CACHE_BYTES (1024 * 1024)

_Static_assert((VN_LINE_CACHE_SLOTS & (VN_LINE_CACHE_SLOTS - 1)) == 0 && VN_LINE_CACHE_SLOTS <= 65536,
               "slot count: power of two, indexable by uint16_t");
_Static_assert(VN_LINE_CACHE_BYTES <= UINT32_MAX, "entry offsets are 32-bit");

#define VN_LINE_CACHE_INLINE 16 /* signature bytes an entry also holds itself */

/**
 * One cached signature. Read-only for callers; fields are public for the inline hot path.
 * Exactly one 64-byte cache line, and slots are line-aligned (vn_line_cache_t.slots), so a
 * lookup touches one line per way probed. A signature of up to VN_LINE_CACHE_INLINE bytes
 * (name + rest) is compared against sig[] in that same line; a longer one against the byte
 * area (one more line, usually a cache miss: profiled at a third of a hit's cost).
 */
typedef struct vn_line_cache_entry {
    uint64_t sig_hash;
    uint16_t name_len, rest_len;
    uint32_t off;             /* in bytes[]: name bytes, signature rest bytes, then key bytes */
    char sig[VN_LINE_CACHE_INLINE]; /* name + rest when they fit, else unused */
    double rate;              /* the line's @rate */
    double pending_value;     /* counter: sum of value/rate; gauge: last value */
    uint32_t key_hash;
    uint32_t pending_samples; /* lines folded into pending_value (for drop accounting) */
    uint16_t key_len;
    uint8_t type, scope;      /* vn_mtype_t, vn_scope_t (already normalised by the caller) */
    uint8_t ignored;          /* DogStatsD 1.1+ sections in the signature, saturated at 255 */
    bool used, pending;
    bool listed;              /* on dirty[] until the next flush */
} vn_line_cache_entry_t;

_Static_assert(sizeof(vn_line_cache_entry_t) == 64, "a line-cache entry is one cache line");

/**
 * Receives one pending value leaving the cache: the entry (its key_hash, type,
 * scope, pending_value and pending_samples; a counter's value is already
 * value/rate, so it travels with rate 1) and its key bytes. Called from
 * vn_line_cache_flush, vn_line_cache_insert (eviction, area reset).
 */
typedef void (*vn_line_cache_emit_fn)(void *ctx, const vn_line_cache_entry_t *e, const char *key);

typedef struct vn_line_cache {
    vn_line_cache_emit_fn emit;
    void *emit_ctx; /* borrowed */
    uint64_t resets; /* times the byte area filled up (tests, diagnostics) */
    size_t ndirty;
    /* VN_LINE_CACHE_SLOTS entries at the first 64-byte boundary of slot_mem (set by init: the
     * struct's own alignment is only malloc's, and an entry must not straddle two lines) */
    vn_line_cache_entry_t *slots;
    uint16_t dirty[VN_LINE_CACHE_SLOTS]; /* entries with a pending value since the last flush */
    size_t used; /* bytes of bytes[] in use */
    char bytes[VN_LINE_CACHE_BYTES];
    char slot_mem[VN_LINE_CACHE_SLOTS * sizeof(vn_line_cache_entry_t) + 64];
} vn_line_cache_t;

/** Where a signature is, or would go (filled by vn_line_cache_lookup). */
typedef struct vn_line_cache_probe {
    uint64_t sig_hash; /* set on a miss */
    size_t slot;       /* hit: its slot; miss: the slot an insert takes; VN_LINE_CACHE_NONE: not cacheable */
    const char *key;   /* hit: the entry's key bytes (vn_line_cache_key, already at hand) */
} vn_line_cache_probe_t;

#define VN_LINE_CACHE_NONE SIZE_MAX

/** The parsed series a signature stands for (vn_line_cache_insert copies key). */
typedef struct vn_line_cache_series {
    const char *key;
    size_t key_len;
    uint32_t key_hash;
    uint8_t type, scope;
    double rate;
    size_t ignored;
} vn_line_cache_series_t;

/** Empties c; emit/ctx receive every pending value from now on (ctx borrowed). */
void vn_line_cache_init(vn_line_cache_t *c, vn_line_cache_emit_fn emit, void *ctx);

/* Unaligned loads (memcpy compiles to one mov). */
static inline uint64_t vn_line_cache__ld64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t vn_line_cache__ld32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Folds n bytes into h a word at a time. Signatures are short (a statsd name is ~10-40 bytes,
 * "|c" two), so two XXH3 calls cost more in call and setup than the hashing itself. A tail is
 * read as an overlapping word (never past p + n). The hash only has to spread signatures over
 * the sets: a match is always confirmed byte for byte, so a collision costs a miss, never a
 * wrong series. */
static inline uint64_t vn_line_cache__fold(uint64_t h, const char *p, size_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t w;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8) {
            h = (h ^ vn_line_cache__ld64(p + i)) * k;
            h ^= h >> 29;
        }
        w = vn_line_cache__ld64(p + n - 8);
    } else if (n >= 4) {
        w = (uint64_t)vn_line_cache__ld32(p) | (uint64_t)vn_line_cache__ld32(p + n - 4) << 32;
    } else if (n) {
        w = (uint64_t)(unsigned char)p[0] | (uint64_t)(unsigned char)p[n / 2] << 8 |
            (uint64_t)(unsigned char)p[n - 1] << 16;
    } else {
        w = 0;
    }
    h = (h ^ w ^ ((uint64_t)n << 56)) * k; /* the length keeps "ab"+"c" apart from "a"+"bc" */
    return h ^ (h >> 29);
}

/** Signature hash of name[0..nlen) + rest[0..rlen) (rest starts at the first '|'). */
static inline uint64_t vn_line_cache_hash(const char *name, size_t nlen, const char *rest, size_t rlen)
{
    uint64_t h = vn_line_cache__fold(vn_line_cache__fold(0x243F6A8885A308D3ull, name, nlen), rest, rlen);
    /* murmur3's finaliser: every output bit (the set index is the low bits) depends on every input bit */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* a[0..n) == b[0..n), inline: most signatures are under 32 bytes, where a libc memcmp call
 * costs more than the compare. Reads only inside both ranges (overlapping tail words). */
static inline bool vn_line_cache__eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (vn_line_cache__ld64(a + i) != vn_line_cache__ld64(b + i))
                return false;
        return vn_line_cache__ld64(a + n - 8) == vn_line_cache__ld64(b + n - 8);
    }
    if (n >= 4)
        return vn_line_cache__ld32(a) == vn_line_cache__ld32(b) &&
               vn_line_cache__ld32(a + n - 4) == vn_line_cache__ld32(b + n - 4);
    /* n <= 3: bytes 0, n/2 and n-1 are every byte */
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/** First slot of the two-way set a signature hash maps to. */
static inline size_t vn_line_cache_set(uint64_t sig_hash)
{
    return (size_t)(sig_hash & (VN_LINE_CACHE_SLOTS / 2 - 1)) * 2;
}

/**
 * vn_line_cache_lookup with the signature hash already computed (sh =
 * vn_line_cache_hash of the same bytes) and the signature known to be at most
 * VN_LINE_CACHE_SIG_MAX bytes.
 */
static inline vn_line_cache_entry_t *vn_line_cache_lookup_hashed(vn_line_cache_t *c, uint64_t sh, const char *name,
                                                                 size_t nlen, const char *rest, size_t rlen,
                                                                 vn_line_cache_probe_t *p)
{
    size_t set = vn_line_cache_set(sh);
    for (size_t way = 0; way < 2; way++) {
        vn_line_cache_entry_t *e = &c->slots[set + way];
        if (e->used && e->sig_hash == sh && e->name_len == nlen && e->rest_len == rlen) {
            const char *sig = nlen + rlen <= VN_LINE_CACHE_INLINE ? e->sig : c->bytes + e->off;
            if (vn_line_cache__eq(sig, name, nlen) && vn_line_cache__eq(sig + nlen, rest, rlen)) {
                p->slot = set + way;
                p->key = c->bytes + e->off + nlen + rlen;
                return e;
            }
        }
    }
    p->sig_hash = sh;
    /* fill a free way, else evict one chosen by a hash bit (random replacement) */
    p->slot = !c->slots[set].used ? set : !c->slots[set + 1].used ? set + 1 : set + ((sh >> 40) & 1);
    return NULL;
}

/**
 * Finds the entry for a signature. On a hit returns it and sets p->slot to its
 * slot (for vn_line_cache_sample) and p->key to its key bytes; on a miss returns NULL and fills *p for
 * vn_line_cache_insert: the hash and the slot a new entry would take
 * (VN_LINE_CACHE_NONE when the signature is too long to cache).
 */
static inline vn_line_cache_entry_t *vn_line_cache_lookup(vn_line_cache_t *c, const char *name, size_t nlen,
                                                          const char *rest, size_t rlen, vn_line_cache_probe_t *p)
{
    if (nlen + rlen > VN_LINE_CACHE_SIG_MAX) {
        *p = (vn_line_cache_probe_t){.slot = VN_LINE_CACHE_NONE};
        return NULL;
    }
    return vn_line_cache_lookup_hashed(c, vn_line_cache_hash(name, nlen, rest, rlen), name, nlen, rest, rlen, p);
}

/**
 * Starts loading the key bytes of the entry for sig_hash when it is cached and its samples are
 * sent on at once (timers, histograms, sets: their records carry the key). Call after
 * vn_line_cache_prefetch of the same hash had time to land. A hint: no effect on the state.
 */
static inline void vn_line_cache_prefetch_key(const vn_line_cache_t *c, uint64_t sig_hash)
{
    const vn_line_cache_entry_t *e = &c->slots[vn_line_cache_set(sig_hash)];
    if (e->sig_hash != sig_hash)
        e++;
    if (e->used && e->sig_hash == sig_hash && e->type != VN_MT_COUNTER && e->type != VN_MT_GAUGE)
        __builtin_prefetch(c->bytes + e->off + e->name_len + e->rest_len);
}

/** Starts loading the set a signature hash maps to (a hint: no effect on the cache's state). */
static inline void vn_line_cache_prefetch(const vn_line_cache_t *c, uint64_t sig_hash)
{
    const vn_line_cache_entry_t *e = &c->slots[vn_line_cache_set(sig_hash)];
    __builtin_prefetch(e, 1);
    __builtin_prefetch(e + 1, 1);
}

/** An entry's series key bytes (key_len of them, not NUL-terminated). */
static inline const char *vn_line_cache_key(const vn_line_cache_t *c, const vn_line_cache_entry_t *e)
{
    return c->bytes + e->off + e->name_len + e->rest_len;
}

/** Whether an entry's samples are held (counters, gauges) rather than sent on at once. */
static inline bool vn_line_cache_combines(const vn_line_cache_entry_t *e)
{
    return e->type == VN_MT_COUNTER || e->type == VN_MT_GAUGE;
}

/**
 * Folds one sample into the pending value of the combining entry in `slot`
 * (p->slot of its lookup or insert; see vn_line_cache_combines). The slot is
 * passed rather than derived from the entry pointer: that division showed up
 * in the per-line instruction count.
 */
static inline void vn_line_cache_sample(vn_line_cache_t *c, size_t slot, double v)
{
    vn_line_cache_entry_t *e = &c->slots[slot];
    if (!e->pending) {
        e->pending = true;
        e->pending_samples = 0;
        e->pending_value = 0;
        if (!e->listed) { /* an entry flushed by eviction may be refilled before the next flush */
            e->listed = true;
            c->dirty[c->ndirty++] = (uint16_t)slot;
        }
    }
    e->pending_samples++;
    if (e->type == VN_MT_COUNTER) /* double, never truncated (see the top); v / 1 is v, minus a divide */
        e->pending_value += e->rate == 1.0 ? v : v / e->rate;
    else
        e->pending_value = v;
}

/* Cold halves of vn_line_cache_insert (line_cache.c); not for callers. */
void vn_line_cache__emit(vn_line_cache_t *c, vn_line_cache_entry_t *e);
void vn_line_cache__reset(vn_line_cache_t *c);

/**
 * Caches a signature that missed (p from that lookup, nothing inserted in
 * between) with its parsed series s. The slot's previous entry first emits its
 * pending value; when the byte area cannot hold the new bytes, every pending
 * value is emitted and the cache starts over first. Returns the new entry (in
 * p->slot), or NULL (nothing changed) when p says not cacheable or the key is
 * longer than VN_LINE_CACHE_KEY_MAX. Inline: a miss costs a full parse, but
 * misses are common while a sender's series churn.
 */
static inline vn_line_cache_entry_t *vn_line_cache_insert(vn_line_cache_t *c, const vn_line_cache_probe_t *p,
                                                          const char *name, size_t nlen, const char *rest,
                                                          size_t rlen, const vn_line_cache_series_t *s)
{
    if (p->slot == VN_LINE_CACHE_NONE || s->key_len > VN_LINE_CACHE_KEY_MAX)
        return NULL;
    vn_line_cache_entry_t *e = &c->slots[p->slot];
    if (e->pending)
        vn_line_cache__emit(c, e); /* the slot's previous series keeps its pending value */
    size_t need = nlen + rlen + s->key_len;
    if (c->used + need > VN_LINE_CACHE_BYTES)
        vn_line_cache__reset(c);
    char *dst = c->bytes + c->used;
    memcpy(dst, name, nlen);
    memcpy(dst + nlen, rest, rlen);
    memcpy(dst + nlen + rlen, s->key, s->key_len);
    if (nlen + rlen <= VN_LINE_CACHE_INLINE) {
        memcpy(e->sig, name, nlen);
        memcpy(e->sig + nlen, rest, rlen);
    }
    e->used = true;
    e->sig_hash = p->sig_hash;
    e->off = (uint32_t)c->used;
    e->name_len = (uint16_t)nlen;
    e->rest_len = (uint16_t)rlen;
    e->key_hash = s->key_hash;
    e->key_len = (uint16_t)s->key_len;
    e->type = s->type;
    e->scope = s->scope;
    e->rate = s->rate;
    e->ignored = (uint8_t)(s->ignored > 255 ? 255 : s->ignored);
    c->used += need;
    return e;
}

/** Emits every pending value (the reader's commit). Entries stay cached. */
void vn_line_cache_flush(vn_line_cache_t *c);

#endif
