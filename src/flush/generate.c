/*
 * generate.c - from one interval's series to output metrics (docs/behaviour.md 2.7).
 *
 *   type/scope           standalone or global     local (forward_address set)
 *   counter, gauge       emitted                   emitted (global scope: forwarded)
 *   histogram/timer      aggregates+percentiles    aggregates only (digest forwarded)
 *     local scope        aggregates+percentiles    aggregates+percentiles
 *     global scope       global=true flush         forwarded only
 *   set                  estimate                  forwarded (local scope: estimate)
 *   status               emitted                   emitted
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/metric.h"
#include "core/xalloc.h"
#include "flush/flusher.h"

#define SINKONLY_PREFIX "veneursinkonly:"

/* Most outputs one series makes: emit_histo's 7 aggregates + 64 percentiles. */
#define VN_FLUSH_SERIES_MAX_OUT (7 + 64)

/* Slots ahead whose series is prefetched (a few misses in flight, not so far they are evicted). */
#define VN_FLUSH_PREFETCH 16

void vn_flush_output_init(vn_flush_output_t *o)
{
    memset(o, 0, sizeof *o);
    vn_arena_init(&o->arena, 256 * 1024);
}

void vn_flush_output_destroy(vn_flush_output_t *o)
{
    free(o->m);
    vn_arena_destroy(&o->arena);
    memset(o, 0, sizeof *o);
}

static vn_inter_metric_t *push(vn_flush_output_t *o)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 1024;
        o->m = vn_xrealloc(o->m, o->cap * sizeof *o->m);
    }
    vn_inter_metric_t *m = &o->m[o->n++];
    memset(m, 0, sizeof *m);
    return m;
}

typedef struct split {
    const char *name;   /* borrowed from the series key: not NUL-terminated */
    size_t name_len;
    const char *name_z; /* arena copy of name, made on first bare use (see bare_name) */
    const char *const *tags;
    size_t ntags;
    const char *sink_only;
} split_t;

/* Splits "name\nt1,t2": tags into arena strings, strips veneursinkonly:NAME (kept
 * as routing). The name stays in the key: histograms only ever emit it with a
 * suffix, so copying it here too would cost one more key-sized copy per series. */
static void split_key(const vn_series_t *s, vn_flush_output_t *o, split_t *out)
{
    const char *nl = memchr(s->key, '\n', s->key_len);
    size_t nlen = nl ? (size_t)(nl - s->key) : s->key_len;
    out->name = s->key;
    out->name_len = nlen;
    out->name_z = NULL;
    out->sink_only = NULL;
    const char *t = nl ? nl + 1 : s->key + s->key_len;
    const char *end = s->key + s->key_len;
    size_t cnt = 0;
    if (t < end) {
        cnt = 1;
        for (const char *p = t; p < end; p++)
            cnt += *p == ',';
    }
    const char **tags = vn_arena_alloc(&o->arena, (cnt ? cnt : 1) * sizeof *tags);
    size_t n = 0;
    while (t < end) {
        const char *c = memchr(t, ',', (size_t)(end - t));
        const char *te = c ? c : end;
        char *tag = vn_arena_strndup(&o->arena, t, (size_t)(te - t));
        if (strncmp(tag, SINKONLY_PREFIX, sizeof SINKONLY_PREFIX - 1) == 0) {
            if (!out->sink_only)
                out->sink_only = tag + sizeof SINKONLY_PREFIX - 1;
        } else {
            tags[n++] = tag;
        }
        t = c ? c + 1 : end;
    }
    out->tags = tags;
    out->ntags = n;
}

/* The name alone as a C string in the output arena (the key it came from dies with the map). */
static const char *bare_name(vn_flush_output_t *o, split_t *k)
{
    if (!k->name_z)
        k->name_z = vn_arena_strndup(&o->arena, k->name, k->name_len);
    return k->name_z;
}

static void emit(vn_flush_output_t *o, split_t *k, const char *suffix, double value, vn_im_type_t type,
                 int64_t ts, const char *host)
{
    vn_inter_metric_t *m = push(o);
    if (suffix) {
        /* Each output owns "name.suffix": sinks take C strings, and the map (the
         * key) is freed before the sinks run. */
        size_t sl = strlen(suffix);
        char *nm = vn_arena_alloc(&o->arena, k->name_len + sl + 1);
        memcpy(nm, k->name, k->name_len);
        memcpy(nm + k->name_len, suffix, sl + 1);
        m->name = nm;
    } else {
        m->name = bare_name(o, k);
    }
    m->timestamp = ts;
    m->value = value;
    m->tags = k->tags;
    m->ntags = k->ntags;
    m->type = type;
    m->hostname = host;
    m->sink_only = k->sink_only;
}

/* The provenance of an aggregate output from its suffix (samplers.h names). */
static vn_hist_part_t agg_part(const char *suffix)
{
    static const struct {
        const char *suffix;
        vn_hist_part_t part;
    } parts[] = {{".max", VN_HP_MAX},   {".min", VN_HP_MIN},       {".sum", VN_HP_SUM},    {".avg", VN_HP_AVG},
                 {".count", VN_HP_COUNT}, {".median", VN_HP_MEDIAN}, {".hmean", VN_HP_HMEAN}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strcmp(suffix, parts[i].suffix) == 0)
            return parts[i].part;
    return VN_HP_NONE;
}

static void emit_histo(vn_flush_output_t *o, split_t *k, vn_histo_t *h, const vn_flush_rules_t *r, bool pct,
                       bool global, int64_t ts)
{
    vn_histo_out_t outs[VN_FLUSH_SERIES_MAX_OUT];
    size_t npct = pct ? r->npct : 0;
    if (npct > 64)
        npct = 64;
    size_t n = vn_histo_flush(h, r->aggregates, r->percentiles, r->pct_names, npct, global, outs);
    for (size_t i = 0; i < n; i++) {
        emit(o, k, outs[i].suffix, outs[i].value, outs[i].is_counter ? VN_IM_COUNTER : VN_IM_GAUGE, ts,
             r->hostname);
        vn_inter_metric_t *m = &o->m[o->n - 1];
        m->hist_base_len = k->name_len;
        /* vn_histo_flush writes the npct percentiles last, after the aggregates */
        if (i >= n - npct) {
            m->hist_part = VN_HP_PERCENTILE;
            m->quantile = r->percentiles[i - (n - npct)];
        } else {
            m->hist_part = agg_part(outs[i].suffix);
        }
    }
}

void vn_flush_output_fit(vn_flush_output_t *o)
{
    size_t c = 1024;
    while (c < o->n)
        c *= 2;
    if (c < o->cap) {
        o->m = vn_xrealloc(o->m, c * sizeof *o->m);
        o->cap = c;
    }
}

size_t vn_flush_output_bytes(const vn_flush_output_t *o)
{
    return o->arena.bytes + o->cap * sizeof *o->m;
}

void vn_flush_generate(const vn_series_map_t *map, const vn_flush_rules_t *r, int64_t ts, vn_flush_output_t *o)
{
    vn_flush_generate_bounded(map, 0, SIZE_MAX, SIZE_MAX, r, ts, o);
}

size_t vn_flush_generate_from(const vn_series_map_t *map, size_t start, size_t limit, const vn_flush_rules_t *r,
                              int64_t ts, vn_flush_output_t *o)
{
    return vn_flush_generate_bounded(map, start, limit, SIZE_MAX, r, ts, o);
}

/* The outputs of one series (docs/behaviour.md 2.7 table at the top). */
static void gen_series(vn_series_t *s, const vn_flush_rules_t *r, int64_t ts, vn_flush_output_t *o)
{
    split_t k;
    bool global_scope = s->scope == VN_SCOPE_GLOBAL;
    switch ((vn_mtype_t)s->type) {
    case VN_MT_COUNTER:
        if (global_scope && r->is_local)
            break; /* forwarded */
        split_key(s, o, &k);
        emit(o, &k, NULL, s->u.counter, VN_IM_COUNTER, ts, r->hostname);
        break;
    case VN_MT_GAUGE:
        if (global_scope && r->is_local)
            break;
        split_key(s, o, &k);
        emit(o, &k, NULL, s->u.gauge, VN_IM_GAUGE, ts, r->hostname);
        break;
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER:
        if (global_scope) {
            if (r->is_local)
                break;
            split_key(s, o, &k);
            emit_histo(o, &k, s->u.histo, r, true, true, ts);
        } else if (s->scope == VN_SCOPE_LOCAL) {
            split_key(s, o, &k);
            emit_histo(o, &k, s->u.histo, r, true, false, ts);
        } else {
            split_key(s, o, &k);
            emit_histo(o, &k, s->u.histo, r, !r->is_local, false, ts);
        }
        break;
    case VN_MT_SET:
        if (s->scope != VN_SCOPE_LOCAL && r->is_local)
            break;
        split_key(s, o, &k);
        emit(o, &k, NULL, (double)vn_hll_estimate(s->u.set), VN_IM_GAUGE, ts, r->hostname);
        break;
    case VN_MT_STATUS: {
        split_key(s, o, &k);
        vn_status_t *st = s->u.status;
        const char *host =
            st->hostname ? vn_arena_strndup(&o->arena, st->hostname, strlen(st->hostname)) : r->hostname;
        emit(o, &k, NULL, st->value, VN_IM_STATUS, ts, host);
        o->m[o->n - 1].message = st->message ? vn_arena_strndup(&o->arena, st->message, strlen(st->message)) : "";
        break;
    }
    default: break;
    }
}

size_t vn_flush_generate_bounded(const vn_series_map_t *map, size_t start, size_t max_metrics, size_t max_bytes,
                                 const vn_flush_rules_t *r, int64_t ts, vn_flush_output_t *o)
{
    size_t i;
    for (i = start; i < map->cap && o->n < max_metrics && vn_flush_output_bytes(o) < max_bytes; i++) {
        /* Slots are in hash order, series in insertion order: every series
         * read is a cache miss. Touching one a few slots ahead overlaps them. */
        if (i + VN_FLUSH_PREFETCH < map->cap && map->slots[i + VN_FLUSH_PREFETCH])
            __builtin_prefetch(map->slots[i + VN_FLUSH_PREFETCH]);
        if (map->slots[i])
            gen_series(map->slots[i], r, ts, o);
    }
    return i;
}

bool vn_flush_generate_drain(vn_series_map_t *map, size_t max_metrics, size_t max_bytes, const vn_flush_rules_t *r,
                             int64_t ts, vn_flush_output_t *o)
{
    /* A chunk stops once it holds max_metrics, so it never holds more than
     * max_metrics + one series: size the array for that once instead of
     * doubling it (each doubling copied the array into fresh pages, and the
     * last one left half of it counted against the sink queues' byte caps).
     * Only when that array is a small part of max_bytes: a byte cap lower
     * than the count cap keeps the doubling, as before. */
    size_t want = max_metrics + VN_FLUSH_SERIES_MAX_OUT;
    if (o->cap < want && max_metrics < SIZE_MAX / 2 / sizeof *o->m && want * sizeof *o->m <= max_bytes / 2) {
        o->m = vn_xrealloc(o->m, want * sizeof *o->m);
        o->cap = want;
    }
    while (o->n < max_metrics && vn_flush_output_bytes(o) < max_bytes) {
        vn_series_t *s = vn_series_map_take(map);
        if (!s)
            return true;
        gen_series(s, r, ts, o);
    }
    return false;
}
