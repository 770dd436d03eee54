/*
 * ingest.c - reader-side line handling: parse, key, route, pack.
 *
 * The series key is "name\njoined,tags" and its hash is vn_series_key_hash
 * (aggregate/series_key.h, shared with gRPC imports); the worker is that hash
 * modulo the worker count, so one series always lands on one worker and its
 * samples stay in order.
 */
#include "listen/ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "aggregate/batch.h"
#include "aggregate/series_key.h"
#include "core/xalloc.h"

/*
 * Line cache: a statsd line's parse result (type, rate, scope, canonical key)
 * depends only on its name and the sections after the value, never on the
 * value. So the reader remembers, per "signature" (name + everything from the
 * first '|'), the parsed series; a repeated line then costs two memchr, a hash,
 * a compare and the value parse, instead of tokenising, sorting and joining its
 * tags again.
 *
 * Each entry also pre-aggregates counters and gauges between commits (at most
 * ~10 ms), so a hot series costs the worker one record per commit instead of
 * one per line. Two-way set associative; a replaced entry first flushes the pending value into
 * the batch. Lines whose signature or key is longer than LC_SIG_MAX/LC_KEY_MAX
 * take the full path every time.
 */
#define LC_SLOTS 4096
#define LC_SIG_MAX 1024
#define LC_KEY_MAX 1024
/* Signature and key bytes live in one per-reader area, not in the entries: entries stay 48 bytes,
 * so the probe touches one cache line (a fixed 240-byte entry made the probe a cache miss). When
 * the area is full every pending value is flushed and the cache starts over. */
#define LC_BYTES (512 * 1024)

typedef struct lc_entry {
    uint64_t sig_hash;
    uint32_t key_hash;
    uint32_t pending_samples; /* lines folded into pending_value (for drop accounting) */
    double rate;
    double pending_value;     /* counter: sum of value/rate; gauge: last value */
    uint32_t off;             /* in->lc_bytes: name bytes, rest bytes, then key bytes */
    uint16_t name_len, rest_len, key_len;
    uint8_t type, scope;
    uint8_t ignored;          /* DogStatsD 1.1+ sections in the signature */
    bool used, pending;
    bool listed;              /* on in->dirty until the next commit */
} lc_entry_t;

_Static_assert(sizeof(lc_entry_t) <= 56, "keep line-cache entries within one cache line");

struct vn_ingest {
    vn_ingest_shared_t sh;
    size_t reader;
    vn_batch_t **cur; /* per worker; owned until pushed */
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
    size_t ndirty;
    uint16_t dirty[LC_SLOTS]; /* entries with a pending value */
    lc_entry_t lc[LC_SLOTS];
    size_t lc_used; /* bytes of lc_bytes in use */
    char lc_bytes[LC_BYTES];
};

vn_ingest_t *vn_ingest_new(const vn_ingest_shared_t *shared, size_t reader_id)
{
    vn_ingest_t *in = vn_xcalloc(1, sizeof *in);
    in->sh = *shared;
    in->reader = reader_id;
    in->cur = vn_xcalloc(shared->nworkers, sizeof *in->cur);
    return in;
}

void vn_ingest_free(vn_ingest_t *in)
{
    if (!in)
        return;
    vn_ingest_commit(in);
    free(in->cur);
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
        vn_worker_push(in->sh.workers[w], in->reader, b);
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
    memcpy(p, key, klen);
    if (alen)
        memcpy(p + klen, aux, alen);
    b->used += (uint32_t)sz;
    b->count++;
    return true;
}

/* Moves an entry's pre-aggregated value into its worker's batch. */
static void lc_flush(vn_ingest_t *in, lc_entry_t *e)
{
    if (!e->pending)
        return;
    /* A counter's pending value is already value/rate, so it travels with rate 1. */
    /* Cached keys are at most LC_KEY_MAX bytes, so only a full queue can refuse this. */
    if (!put(in, e->key_hash, (vn_mtype_t)e->type, (vn_scope_t)e->scope, e->pending_value, 1.0,
             in->lc_bytes + e->off + e->name_len + e->rest_len, e->key_len,
             NULL, 0))
        in->queue_dropped += e->pending_samples - 1; /* put counted one */
    e->pending = false;
}

static void lc_sample(vn_ingest_t *in, lc_entry_t *e, size_t idx, double v)
{
    if (!e->pending) {
        e->pending = true;
        e->pending_samples = 0;
        e->pending_value = 0;
        if (!e->listed) { /* an entry flushed by eviction may be refilled before the commit */
            e->listed = true;
            in->dirty[in->ndirty++] = (uint16_t)idx;
        }
    }
    e->pending_samples++;
    if (e->type == VN_MT_COUNTER)
        e->pending_value += v / e->rate; /* SPEC 0.2: double, no truncation */
    else
        e->pending_value = v;
}

/* The byte area is full: hand every pending value over, then forget every entry (stale byte
 * ranges become unreachable) and start filling the area again. */
static void lc_reset(vn_ingest_t *in)
{
    for (size_t i = 0; i < in->ndirty; i++) {
        lc_entry_t *d = &in->lc[in->dirty[i]];
        lc_flush(in, d);
        d->listed = false;
    }
    in->ndirty = 0;
    for (size_t i = 0; i < LC_SLOTS; i++)
        in->lc[i].used = false;
    in->lc_used = 0;
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

/* SPEC 2.7: which map a (type, scope) pair lands in; equivalent scopes are merged. */
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

/* Applies every value of a line whose series is known; false on a bad value. */
static bool apply_values(vn_ingest_t *in, vn_value_iter_t *it, vn_mtype_t type, vn_scope_t scope, double rate,
                         uint32_t hash, const char *key, size_t klen, lc_entry_t *e, size_t idx)
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
    bool combinable = e && (type == VN_MT_COUNTER || type == VN_MT_GAUGE);
    double v;
    int r;
    while ((r = vn_value_next_num(it, &v)) == 1) {
        if (combinable)
            lc_sample(in, e, idx, v);
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

static bool ingest_metric(vn_ingest_t *in, const char *line, size_t len)
{
    /* "name:1:2|c|#b:2,a:1"  signature = "name" + "|c|#b:2,a:1"
     *  ^^^^ ^^^ ^^^^^^^^^^^                                     */
    const char *pipe = memchr(line, '|', len);
    const char *colon = pipe ? memchr(line, ':', (size_t)(pipe - line)) : NULL;
    lc_entry_t *e = NULL;
    size_t idx = 0;
    uint64_t sh = 0;
    size_t nlen = 0, rlen = 0;
    if (colon) {
        nlen = (size_t)(colon - line);
        rlen = len - (size_t)(pipe - line);
        if (nlen + rlen <= LC_SIG_MAX) {
            sh = XXH3_64bits_withSeed(pipe, rlen, XXH3_64bits(line, nlen));
            size_t set = (size_t)(sh & (LC_SLOTS / 2 - 1)) * 2; /* 2-way set associative */
            for (size_t way = 0; way < 2; way++) {
                lc_entry_t *c = &in->lc[set + way];
                const char *sig = in->lc_bytes + c->off;
                if (c->used && c->sig_hash == sh && c->name_len == nlen && c->rest_len == rlen &&
                    memcmp(sig, line, nlen) == 0 && memcmp(sig + nlen, pipe, rlen) == 0) {
                    vn_value_iter_t it = {.p = colon + 1, .end = pipe, .done = pipe == colon + 1};
                    in->ignored += c->ignored;
                    return apply_values(in, &it, (vn_mtype_t)c->type, (vn_scope_t)c->scope, c->rate, c->key_hash,
                                        sig + nlen + rlen, c->key_len, c, set + way);
                }
            }
            /* Miss: fill a free way, else evict one chosen by a hash bit (random replacement). */
            idx = !in->lc[set].used ? set : !in->lc[set + 1].used ? set + 1 : set + ((sh >> 40) & 1);
            e = &in->lc[idx];
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
    if (e && klen <= LC_KEY_MAX) {
        lc_flush(in, e); /* the slot's previous series keeps its pending value */
        if (in->lc_used + nlen + rlen + klen > LC_BYTES)
            lc_reset(in);
        e->used = true;
        e->sig_hash = sh;
        e->off = (uint32_t)in->lc_used;
        e->name_len = (uint16_t)nlen;
        e->rest_len = (uint16_t)rlen;
        char *dst = in->lc_bytes + in->lc_used;
        memcpy(dst, line, nlen);
        memcpy(dst + nlen, pipe, rlen);
        memcpy(dst + nlen + rlen, in->key, klen);
        in->lc_used += nlen + rlen + klen;
        e->key_hash = hash;
        e->key_len = (uint16_t)klen;
        e->type = (uint8_t)m->type;
        e->scope = (uint8_t)scope;
        e->rate = m->rate;
        e->ignored = (uint8_t)(m->ignored_sections > 255 ? 255 : m->ignored_sections);
    } else {
        e = NULL;
    }
    vn_value_iter_t it;
    vn_value_iter_init(&it, m);
    return apply_values(in, &it, m->type, scope, m->rate, hash, in->key, klen, e, idx);
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

bool vn_ingest_line(vn_ingest_t *in, const char *line, size_t len)
{
    if (len == 0)
        return true; /* trailing newline: ignored silently, as Go */
    in->lines++;
    if (len >= 3 && line[0] == '_') {
        if (line[1] == 'e' && line[2] == '{')
            return ingest_event(in, line, len);
        if (line[1] == 's' && line[2] == 'c')
            return ingest_service_check(in, line, len);
    }
    return ingest_metric(in, line, len);
}

void vn_ingest_packet(vn_ingest_t *in, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        vn_ingest_line(in, p, (size_t)(le - p));
        p = nl ? nl + 1 : end;
    }
}

void vn_ingest_commit(vn_ingest_t *in)
{
    for (size_t i = 0; i < in->ndirty; i++) {
        lc_entry_t *e = &in->lc[in->dirty[i]];
        lc_flush(in, e);
        e->listed = false;
    }
    in->ndirty = 0;
    for (size_t w = 0; w < in->sh.nworkers; w++) {
        if (in->cur[w] && in->cur[w]->count) {
            vn_worker_push(in->sh.workers[w], in->reader, in->cur[w]);
            in->cur[w] = NULL;
        }
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
