/*
 * ingest.c - reader-side line handling: parse, key, route, pack.
 *
 * The series key is "name\njoined,tags" and its hash is vn_series_key_hash
 * (aggregate/series_key.h, shared with gRPC imports); the worker is that hash
 * modulo the worker count, so one series always lands on one worker and its
 * samples stay in order.
 *
 * A metric line first meets the line cache (listen/line_cache.h): a repeated
 * signature skips the parser, and counter/gauge samples are pre-aggregated
 * there until vn_ingest_commit (or an eviction) emits them through lc_emit.
 */
#include "listen/ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/batch.h"
#include "aggregate/series_key.h"
#include "core/xalloc.h"
#include "listen/line_cache.h"

static void lc_emit(void *ctx, const vn_line_cache_entry_t *e, const char *key);

struct vn_ingest {
    vn_ingest_shared_t sh;
    size_t reader;
    vn_batch_t **cur; /* per worker; owned until pushed */
    bool *unwoken;    /* per worker: a lazy push may have left it asleep (kicked at commit) */
    /* local counters, added to shared stats on commit */
    uint64_t lines, ignored, queue_dropped, service_checks;
    uint64_t errors[VN_PARSE_ERR__COUNT];
    union {
        vn_metric_line_t ml;
        vn_event_t ev;
        vn_service_check_t sc;
    } u;
    char key[VN_REC_MAX_KEY + 1];
    char scratch[VN_REC_MAX_AUX + 1];
    vn_line_cache_t lc; /* last: large, and only its front is hot */
};

vn_ingest_t *vn_ingest_new(const vn_ingest_shared_t *shared, size_t reader_id)
{
    vn_ingest_t *in = vn_xcalloc(1, sizeof *in);
    in->sh = *shared;
    in->reader = reader_id;
    in->cur = vn_xcalloc(shared->nworkers, sizeof *in->cur);
    in->unwoken = vn_xcalloc(shared->nworkers, sizeof *in->unwoken);
    vn_line_cache_init(&in->lc, lc_emit, in);
    return in;
}

void vn_ingest_free(vn_ingest_t *in)
{
    if (!in)
        return;
    vn_ingest_commit(in);
    free(in->cur);
    free(in->unwoken);
    free(in);
}

/* Appends one record to worker w's batch; false when it was dropped: no batch available
 * (queue_dropped) or a record that cannot fit a batch (errors[KEY_TOO_LONG]). The size check is
 * here, where the bytes are written, so no caller can overrun data[] whatever it checked. */
static bool put(vn_ingest_t *in, uint32_t hash, vn_mtype_t type, vn_scope_t scope, double value, double rate,
                const char *key, size_t klen, const char *aux, size_t alen)
{
    if (!vn_rec_fits(klen, alen)) {
        in->errors[VN_PARSE_ERR_KEY_TOO_LONG]++;
        return false;
    }
    size_t w = in->sh.nworkers > 1 ? hash % in->sh.nworkers : 0;
    size_t sz = vn_rec_size(klen, alen);
    vn_batch_t *b = in->cur[w];
    if (b && b->used + sz > VN_BATCH_BYTES) {
        in->unwoken[w] |= vn_worker_push_lazy(in->sh.workers[w], in->reader, b);
        b = in->cur[w] = NULL;
    }
    if (!b) {
        b = in->cur[w] = vn_worker_get_batch(in->sh.workers[w], in->reader);
        if (!b) {
            in->queue_dropped++;
            return false;
        }
    }
    vn_rec_t *r = (vn_rec_t *)(b->data + b->used);
    r->hash = hash;
    r->key_len = (uint16_t)klen;
    r->aux_len = (uint16_t)alen;
    r->type = (uint8_t)type;
    r->scope = (uint8_t)scope;
    r->_pad = 0;
    r->_pad2 = 0;
    r->value = value;
    r->rate = rate;
    char *p = (char *)(r + 1);
    if (klen >= 8 && klen <= 16) { /* the usual key: two overlapping words, no libc call */
        uint64_t a, z;
        memcpy(&a, key, 8);
        memcpy(&z, key + klen - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + klen - 8, &z, 8);
    } else {
        memcpy(p, key, klen);
    }
    if (alen)
        memcpy(p + klen, aux, alen);
    b->used += (uint32_t)sz;
    b->count++;
    return true;
}

/* Line-cache emitter: a pre-aggregated value goes to its worker's batch. A counter's value is
 * already value/rate, so it travels with rate 1. Cached keys are at most VN_LINE_CACHE_KEY_MAX
 * bytes, so only a full queue can refuse it, and then every folded line counts as dropped. */
static void lc_emit(void *ctx, const vn_line_cache_entry_t *e, const char *key)
{
    vn_ingest_t *in = ctx;
    if (!put(in, e->key_hash, (vn_mtype_t)e->type, (vn_scope_t)e->scope, e->pending_value, 1.0, key, e->key_len,
             NULL, 0))
        in->queue_dropped += e->pending_samples - 1; /* put counted one */
}

/* Builds "name\ntags" into in->key and its hash; returns key length or 0 when the key could not
 * be carried by one batch record (VN_REC_MAX_KEY_IN_BATCH, below the 16-bit field's limit). */
static size_t build_key(vn_ingest_t *in, vn_str_t name, vn_mtype_t type, const vn_str_t *tags, size_t ntags,
                        uint32_t *hash)
{
    const size_t cap = VN_REC_MAX_KEY_IN_BATCH;
    _Static_assert(VN_REC_MAX_KEY_IN_BATCH <= VN_REC_MAX_KEY, "in->key holds any batch key");
    if (name.len + 1 > cap)
        return 0;
    memcpy(in->key, name.p, name.len);
    in->key[name.len] = '\n';
    size_t tl = vn_tags_join(tags, ntags, in->key + name.len + 1, cap - name.len - 1);
    if (tl == SIZE_MAX)
        return 0;
    size_t klen = name.len + 1 + tl;
    *hash = vn_series_key_hash(in->key, klen, type);
    return klen;
}

/* docs/behaviour.md 2.7: which map a (type, scope) pair lands in; equivalent scopes are merged. */
static vn_scope_t normalise_scope(vn_mtype_t t, vn_scope_t s)
{
    switch (t) {
    case VN_MT_COUNTER:
    case VN_MT_GAUGE: return s == VN_SCOPE_LOCAL ? VN_SCOPE_MIXED : s;
    case VN_MT_SET: return s == VN_SCOPE_GLOBAL ? VN_SCOPE_MIXED : s;
    case VN_MT_STATUS: return VN_SCOPE_LOCAL;
    default: return s;
    }
}

/* Applies every value of a line whose series is known; false on a bad value. e: the line's cache
 * entry in slot `slot`, or NULL when it is not cached (then every sample goes to a batch at once). */
static bool apply_values(vn_ingest_t *in, vn_value_iter_t *it, vn_mtype_t type, vn_scope_t scope, double rate,
                         uint32_t hash, const char *key, size_t klen, const vn_line_cache_entry_t *e, size_t slot)
{
    if (type == VN_MT_SET) {
        vn_str_t v;
        while (vn_value_next_str(it, &v) == 1) {
            /* A line-cache hit skips the parser, so a member's bytes are checked here too. */
            if (v.len && (memchr(v.p, '\0', v.len) || memchr(v.p, '\n', v.len))) {
                in->errors[memchr(v.p, '\0', v.len) ? VN_PARSE_ERR_NUL_BYTE : VN_PARSE_ERR_NEWLINE]++;
                return false;
            }
            if (!vn_rec_fits(klen, v.len)) {
                in->errors[VN_PARSE_ERR_KEY_TOO_LONG]++;
                return false;
            }
            put(in, hash, type, scope, 0, 1, key, klen, v.p, v.len);
        }
        return true;
    }
    bool combinable = e && vn_line_cache_combines(e);
    double v;
    int r;
    while ((r = vn_value_next_num(it, &v)) == 1) {
        if (combinable)
            vn_line_cache_sample(&in->lc, slot, v);
        else if (!put(in, hash, type, scope, v, rate, key, klen, NULL, 0) && !vn_rec_fits(klen, 0))
            return false; /* counted by put; a full queue is not the line's fault */
    }
    if (r < 0) {
        /* Go semantics: earlier values of the line were already applied. */
        in->errors[VN_PARSE_ERR_BAD_VALUE]++;
        return false;
    }
    return true;
}

/* First ':' or '|' in [p, end), or end. Names are short (~10-40 bytes), where two memchr calls
 * cost more than the search: test 8 bytes at a time in a register for the first 32 bytes. */
static inline const char *find_colon_or_pipe(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (int i = 0; i < 4 && end - p >= 8; i++, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t a = w ^ (ones * ':'), b = w ^ (ones * '|'); /* matching bytes become 0 */
        /* high bit of each zero byte; bytes above the lowest zero of one pattern may be false
         * positives, but the lowest flagged byte of the union is a true match */
        uint64_t t = ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs);
        if (t)
            return p + (__builtin_ctzll(t) >> 3);
    }
#endif
    for (; p < end; p++)
        if (*p == ':' || *p == '|')
            return p;
    return end;
}

/* The common value "1" or "864": up to 15 decimal digits, no sign, dot or exponent. Exactly what
 * vn_gonum_parse_float returns for such text (the integer is below 2^53); anything else takes
 * the full iterator. */
static inline bool small_uint(const char *p, const char *end, double *out)
{
    size_t n = (size_t)(end - p);
    if (n == 0 || n > 15)
        return false;
    uint64_t m = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9)
            return false;
        m = m * 10 + d;
    }
    *out = (double)m;
    return true;
}

/* Where a metric line's signature is (ingest_metric's first step, split out so a packet can
 * locate and hash all its lines before it applies any: see vn_ingest_packet). */
typedef struct line_pos {
    const char *line;
    size_t len;
    const char *colon, *pipe; /* colon NULL: not cacheable (no ':' before a '|') */
    uint64_t sig_hash;        /* valid when colon and cacheable */
    bool cacheable;
} line_pos_t;

/* Fills *lp from a line's first ':' (NULL: the first of ':'/'|' is a '|', or neither is there)
 * and the first '|' after it (or the first '|' when there is no colon; NULL: none). */
static inline void locate_found(const char *line, size_t len, const char *colon, const char *pipe, line_pos_t *lp)
{
    lp->line = line;
    lp->len = len;
    lp->colon = pipe ? colon : NULL; /* no '|' at all: the parser rejects it */
    lp->pipe = pipe;
    lp->cacheable = false;
    if (lp->colon) {
        size_t nlen = (size_t)(colon - line), rlen = len - (size_t)(pipe - line);
        if (nlen + rlen <= VN_LINE_CACHE_SIG_MAX) {
            lp->cacheable = true;
            lp->sig_hash = vn_line_cache_hash(line, nlen, pipe, rlen);
        }
    }
}

static inline void locate(const char *line, size_t len, line_pos_t *lp)
{
    /* "name:1:2|c|#b:2,a:1"  signature = "name" + "|c|#b:2,a:1" (listen/line_cache.h)
     *  ^^^^ ^^^ ^^^^^^^^^^^                                     */
    const char *end = line + len;
    const char *first = find_colon_or_pipe(line, end);
    const char *colon = first < end && *first == ':' ? first : NULL;
    const char *pipe = colon ? memchr(colon + 1, '|', (size_t)(end - colon - 1)) : first < end ? first : NULL;
    locate_found(line, len, colon, pipe, lp);
}

static bool ingest_metric_at(vn_ingest_t *in, const line_pos_t *lp)
{
    const char *line = lp->line, *colon = lp->colon, *pipe = lp->pipe;
    size_t len = lp->len;
    /* filled by the lookup, not zeroed up front: three stores per line showed in the instruction count */
    vn_line_cache_probe_t probe;
    size_t nlen = 0, rlen = 0;
    if (!colon || !lp->cacheable) {
        probe = (vn_line_cache_probe_t){.slot = VN_LINE_CACHE_NONE};
    } else {
        nlen = (size_t)(colon - line);
        rlen = len - (size_t)(pipe - line);
        vn_line_cache_entry_t *c = vn_line_cache_lookup_hashed(&in->lc, lp->sig_hash, line, nlen, pipe, rlen, &probe);
        if (c) {
            in->ignored += c->ignored;
            double v;
            if (c->type != VN_MT_SET && small_uint(colon + 1, pipe, &v)) {
                /* one plain value: what apply_values does for it, without the iterator */
                if (vn_line_cache_combines(c))
                    vn_line_cache_sample(&in->lc, probe.slot, v);
                else /* a cached key always fits a record: only a full queue refuses it (counted) */
                    put(in, c->key_hash, (vn_mtype_t)c->type, (vn_scope_t)c->scope, v, c->rate, probe.key,
                        c->key_len, NULL, 0);
                return true;
            }
            vn_value_iter_t it = {.p = colon + 1, .end = pipe, .done = pipe == colon + 1};
            return apply_values(in, &it, (vn_mtype_t)c->type, (vn_scope_t)c->scope, c->rate, c->key_hash,
                                probe.key, c->key_len, c, probe.slot);
        }
    }
    vn_metric_line_t *m = &in->u.ml;
    vn_parse_err_t pe = vn_parse_metric(in->sh.parser, line, len, m);
    if (pe != VN_PARSE_OK) {
        in->errors[pe]++;
        return false;
    }
    in->ignored += m->ignored_sections;
    uint32_t hash;
    size_t klen = build_key(in, m->name, m->type, m->tags, m->ntags, &hash);
    if (!klen || !vn_rec_fits(klen, 0)) {
        in->errors[VN_PARSE_ERR_KEY_TOO_LONG]++;
        return false;
    }
    vn_scope_t scope = normalise_scope(m->type, m->scope);
    vn_line_cache_series_t series = {.key = in->key, .key_len = klen, .key_hash = hash, .type = (uint8_t)m->type,
                                     .scope = (uint8_t)scope, .rate = m->rate, .ignored = m->ignored_sections};
    vn_line_cache_entry_t *e = vn_line_cache_insert(&in->lc, &probe, line, nlen, pipe, rlen, &series);
    vn_value_iter_t it;
    vn_value_iter_init(&it, m);
    return apply_values(in, &it, m->type, scope, m->rate, hash, in->key, klen, e, probe.slot);
}

static bool ingest_service_check(vn_ingest_t *in, const char *line, size_t len)
{
    vn_service_check_t *sc = &in->u.sc;
    vn_parse_err_t e = vn_parse_service_check(in->sh.parser, line, len, (int64_t)time(NULL), in->scratch,
                                              sizeof in->scratch, sc);
    if (e != VN_PARSE_OK) {
        in->errors[e]++;
        return false;
    }
    in->ignored += sc->ignored_sections;
    uint32_t hash;
    size_t klen = build_key(in, sc->name, VN_MT_STATUS, sc->tags, sc->ntags, &hash);
    size_t alen = sc->hostname.len + 1 + sc->message.len;
    if (!klen || !vn_rec_fits(klen, alen)) {
        in->errors[VN_PARSE_ERR_KEY_TOO_LONG]++;
        return false;
    }
    /* aux = hostname '\0' message; the message lives in scratch, so assemble after it. */
    char aux[VN_REC_MAX_AUX + 1];
    memcpy(aux, sc->hostname.p, sc->hostname.len);
    aux[sc->hostname.len] = '\0';
    if (sc->message.len)
        memcpy(aux + sc->hostname.len + 1, sc->message.p, sc->message.len);
    in->service_checks++;
    put(in, hash, VN_MT_STATUS, VN_SCOPE_LOCAL, (double)sc->status, 1, in->key, klen, aux, alen); /* fits: above */
    return true;
}

static bool ingest_event(vn_ingest_t *in, const char *line, size_t len)
{
    vn_event_t *ev = &in->u.ev;
    vn_parse_err_t e = vn_parse_event(in->sh.parser, line, len, (int64_t)time(NULL), in->scratch,
                                      sizeof in->scratch, ev);
    if (e != VN_PARSE_OK) {
        in->errors[e]++;
        return false;
    }
    in->ignored += ev->ignored_sections;
    vn_event_store_add(in->sh.events, ev);
    return true;
}

bool vn_ingest_sample(vn_ingest_t *in, vn_str_t name, vn_mtype_t type, vn_scope_t scope, double value,
                      double rate, const vn_str_t *tags, size_t ntags, vn_str_t member)
{
    uint32_t hash;
    size_t klen = build_key(in, name, type, tags, ntags, &hash);
    if (!klen || !vn_rec_fits(klen, type == VN_MT_STATUS ? 1 + member.len : member.len)) {
        in->errors[VN_PARSE_ERR_KEY_TOO_LONG]++;
        return false;
    }
    scope = normalise_scope(type, scope);
    if (type == VN_MT_SET)
        return put(in, hash, type, scope, 0, 1, in->key, klen, member.p, member.len);
    if (type == VN_MT_STATUS) {
        /* aux = hostname '\0' message; SSF carries no hostname */
        char aux[VN_REC_MAX_AUX + 1];
        aux[0] = '\0';
        if (member.len)
            memcpy(aux + 1, member.p, member.len);
        in->service_checks++;
        return put(in, hash, type, scope, value, 1, in->key, klen, aux, 1 + member.len);
    }
    return put(in, hash, type, scope, value, rate, in->key, klen, NULL, 0);
}

static inline bool is_special(const char *line, size_t len)
{
    return len >= 3 && line[0] == '_' && ((line[1] == 'e' && line[2] == '{') || (line[1] == 's' && line[2] == 'c'));
}

static bool ingest_special(vn_ingest_t *in, const char *line, size_t len)
{
    return line[1] == 'e' ? ingest_event(in, line, len) : ingest_service_check(in, line, len);
}

bool vn_ingest_line(vn_ingest_t *in, const char *line, size_t len)
{
    if (len == 0)
        return true; /* trailing newline: ignored silently, as Go */
    in->lines++;
    if (is_special(line, len))
        return ingest_special(in, line, len);
    line_pos_t lp;
    locate(line, len, &lp);
    return ingest_metric_at(in, &lp);
}

/* Lines located and prefetched ahead of being applied (vn_ingest_packet). */
#define PACKET_AHEAD 32

/* Applies n located lines in order (vn_ingest_packet's second pass). */
static void apply_located(vn_ingest_t *in, line_pos_t *lp, size_t n)
{
    /* by now the first sets have landed: start on the keys that records will copy */
    for (size_t i = 0; i < n; i++)
        if (lp[i].cacheable)
            vn_line_cache_prefetch_key(&in->lc, lp[i].sig_hash);
    for (size_t i = 0; i < n; i++) {
        in->lines++;
        if (!lp[i].cacheable && is_special(lp[i].line, lp[i].len))
            ingest_special(in, lp[i].line, lp[i].len);
        else
            ingest_metric_at(in, &lp[i]);
    }
}

/* Marks a line that is an event or service check (not located: ingest_special parses it). */
static inline void locate_special(const char *line, size_t len, line_pos_t *lp)
{
    lp->line = line;
    lp->len = len;
    lp->colon = NULL;
    lp->pipe = NULL;
    lp->cacheable = false;
}

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>

/* Issue 22: a datagram's structure ('\n', ':', '|') as bitmasks, 64 bytes a word, from one SSE2
 * pass, so each line's end, colon and pipe are a few bit operations instead of a memchr call,
 * a word loop and another memchr per line (~80 instructions a line in callgrind). Packets up to
 * SCAN_MAX bytes (datagrams are metric_max_length, 4096 by default); longer ones take the
 * per-line path below, which finds the same positions. */
#define SCAN_MAX 8192
#define SCAN_WORDS (SCAN_MAX / 64)

typedef struct scan_masks {
    uint64_t nl[SCAN_WORDS], sep[SCAN_WORDS], pipe[SCAN_WORDS]; /* sep: ':' or '|' */
} scan_masks_t;

static void scan_build(const char *buf, size_t len, scan_masks_t *m)
{
    const __m128i cnl = _mm_set1_epi8('\n'), ccol = _mm_set1_epi8(':'), cpipe = _mm_set1_epi8('|');
    size_t nw = (len + 63) / 64;
    for (size_t w = 0; w < nw; w++) {
        const char *p = buf + w * 64;
        char tail[64];
        if (len - w * 64 < 64) { /* never read past the packet: NUL matches none of the three */
            memset(tail, 0, sizeof tail);
            memcpy(tail, p, len - w * 64);
            p = tail;
        }
        uint64_t a = 0, c = 0, d = 0;
        for (int k = 0; k < 4; k++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
            a |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cnl)) << (16 * k);
            c |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, ccol)) << (16 * k);
            d |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cpipe)) << (16 * k);
        }
        m->nl[w] = a;
        m->sep[w] = c | d;
        m->pipe[w] = d;
    }
}

/* First set bit of mask m at or after pos and below limit (limit <= the packet's length), else limit. */
static inline size_t scan_next(const uint64_t *m, size_t pos, size_t limit)
{
    if (pos >= limit)
        return limit;
    size_t w = pos >> 6, last = (limit - 1) >> 6;
    uint64_t x = m[w] & (~0ull << (pos & 63));
    while (!x) {
        if (++w > last)
            return limit;
        x = m[w];
    }
    size_t r = (w << 6) + (size_t)__builtin_ctzll(x);
    return r < limit ? r : limit;
}

/* vn_ingest_packet for len <= SCAN_MAX: the same lines, positions and order as the per-line path. */
static void packet_scanned(vn_ingest_t *in, const char *buf, size_t len)
{
    scan_masks_t m;
    scan_build(buf, len, &m);
    line_pos_t lp[PACKET_AHEAD];
    size_t p = 0;
    while (p < len) {
        size_t n = 0;
        while (p < len && n < PACKET_AHEAD) {
            size_t le = scan_next(m.nl, p, len), ls = p;
            p = le < len ? le + 1 : len;
            if (le == ls)
                continue; /* trailing newline: ignored silently, as Go */
            const char *line = buf + ls;
            size_t ll = le - ls;
            line_pos_t *l = &lp[n++];
            if (is_special(line, ll)) {
                locate_special(line, ll, l);
                continue;
            }
            size_t first = scan_next(m.sep, ls, le);
            size_t colon = first < le && buf[first] == ':' ? first : le;
            size_t pipe = colon < le ? scan_next(m.pipe, colon + 1, le) : first;
            locate_found(line, ll, colon < le ? buf + colon : NULL, pipe < le ? buf + pipe : NULL, l);
            if (l->cacheable)
                vn_line_cache_prefetch(&in->lc, l->sig_hash);
        }
        apply_located(in, lp, n);
    }
}
#endif

void vn_ingest_packet(vn_ingest_t *in, const char *buf, size_t len)
{
#if defined(__SSE2__) && defined(__GNUC__)
    if (len <= SCAN_MAX) {
        packet_scanned(in, buf, len);
        return;
    }
#endif
    /* Two passes per group of lines: the first splits, locates and hashes each line and
     * prefetches its line-cache set; the second applies them in order. A cache entry is a
     * likely cache miss (thousands of hot series), and one line's miss used to stall the
     * next line's; prefetched together they overlap. The first pass changes no state, so the
     * lines still take effect exactly in arrival order. */
    line_pos_t lp[PACKET_AHEAD];
    const char *p = buf, *end = buf + len;
    while (p < end) {
        size_t n = 0;
        while (p < end && n < PACKET_AHEAD) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            size_t ll = (size_t)(le - p);
            p = nl ? nl + 1 : end;
            if (ll == 0)
                continue; /* trailing newline: ignored silently, as Go */
            line_pos_t *l = &lp[n++];
            if (is_special(le - ll, ll)) {
                locate_special(le - ll, ll, l);
                continue;
            }
            locate(le - ll, ll, l);
            if (l->cacheable)
                vn_line_cache_prefetch(&in->lc, l->sig_hash);
        }
        apply_located(in, lp, n);
    }
}

void vn_ingest_commit(vn_ingest_t *in)
{
    vn_line_cache_flush(&in->lc);
    for (size_t w = 0; w < in->sh.nworkers; w++) {
        if (in->cur[w] && in->cur[w]->count) {
            vn_worker_push(in->sh.workers[w], in->reader, in->cur[w]);
            in->cur[w] = NULL;
        } else if (in->unwoken[w]) {
            vn_worker_kick(in->sh.workers[w]);
        }
        in->unwoken[w] = false;
    }
    vn_stats_t *s = in->sh.stats;
    vn_stats_add(&s->lines, in->lines);
    vn_stats_add(&s->ignored_sections, in->ignored);
    vn_stats_add(&s->queue_dropped_samples, in->queue_dropped);
    vn_stats_add(&s->service_checks, in->service_checks);
    for (int e = 1; e < VN_PARSE_ERR__COUNT; e++) {
        vn_stats_add(&s->parse_errors[e], in->errors[e]);
        in->errors[e] = 0;
    }
    in->lines = in->ignored = in->queue_dropped = in->service_checks = 0;
}
