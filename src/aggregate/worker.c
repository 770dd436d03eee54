/*
 * worker.c - aggregation worker thread.
 *
 * Sleep/wake protocol (no lost wake-ups): the worker sets `sleeping`, then
 * re-checks every ring before blocking on its eventfd; a reader pushes first,
 * then writes the eventfd only if it sees `sleeping`. Both sides use seq_cst
 * on `sleeping`, so either the worker sees the batch or the reader sees the flag.
 *
 * Map swap: the flusher sets `swap_req` and wakes the worker; the worker drains
 * its rings, then hands over the old map under `mu` and signals `cv`.
 *
 * Imports (gRPC, forward/import_server.c): a mutex-protected list per worker,
 * appended to by the import server and taken whole by the worker, which
 * merges it into the current map; `imp_pending` joins the same no-lost-wake-up
 * protocol as the rings. The swap applies pending imports before handing the
 * map over, so whatever was queued before the flush is in that flush.
 */
#include "aggregate/worker.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/series_key.h"
#include "core/log.h"
#include "core/metric.h"
#include "core/spsc.h"
#include "core/xalloc.h"
#include "ticker/ticker.h" /* the tick a swap closes (issue 16) */

/* Batches in flight per reader->worker pair: 64 x 64 KiB = 4 MiB of buffering. */
#define BATCHES_PER_READER 64

typedef struct pair {
    vn_spsc_t full; /* reader -> worker */
    vn_spsc_t free; /* worker -> reader */
    size_t allocated; /* reader-side count of batches created */
} pair_t;

struct vn_worker {
    int id;
    size_t nreaders;
    pair_t *pairs;
    vn_series_map_t *map;
    vn_series_limits_t lim; /* for every interval's new map */
    vn_stats_t *stats;
    int efd;
    _Atomic bool sleeping;
    _Atomic bool stop;
    _Atomic bool swap_req;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    vn_series_map_t *handed; /* old map waiting for the flusher, under mu */
    pthread_t thread;
    /* imports (see top): list and its totals under imp_mu */
    pthread_mutex_t imp_mu;
    vn_import_t *imp_head, *imp_tail;
    size_t imp_n, imp_bytes;
    _Atomic bool imp_pending;
    /* interval tags (issue 16), under imp_mu: the cut that closes a map and the
     * late check share that mutex, so "late" means exactly "missed its map" */
    bool clk_on;
    double clk_iv, clk_off;
    int64_t closed_ms; /* tick closed by the last swap; 0 = none yet */
};

static void wake(vn_worker_t *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->efd, &one, sizeof one);
    (void)r;
}

/* Records ahead of the one applied whose map slots (2x) and series (1x) are prefetched. */
#define APPLY_AHEAD 8

/* Offset of the record after the one at off (a lookahead cursor; off < used). */
static inline uint32_t next_rec(const vn_batch_t *b, uint32_t off)
{
    const vn_rec_t *r = (const vn_rec_t *)(b->data + off);
    return off + (uint32_t)vn_rec_size(r->key_len, r->aux_len);
}

size_t vn_worker_apply(vn_series_map_t *m, const vn_batch_t *b)
{
    size_t off = 0, dropped = 0;
    uint32_t near = 0, far = 0; /* lookahead cursors, APPLY_AHEAD and 2 x APPLY_AHEAD records on */
    for (uint32_t i = 0; i < 2 * APPLY_AHEAD && far < b->used; i++) {
        if (i < APPLY_AHEAD)
            near = next_rec(b, near);
        vn_series_map_prefetch_slots(m, ((const vn_rec_t *)(b->data + far))->hash);
        far = next_rec(b, far);
    }
    for (uint32_t i = 0; i < b->count; i++) {
        const vn_rec_t *r = (const vn_rec_t *)(b->data + off);
        off += vn_rec_size(r->key_len, r->aux_len);
        /* hints only: the map is not changed, and a series that moves (grow) is just a miss */
        if (far < b->used) {
            vn_series_map_prefetch_slots(m, ((const vn_rec_t *)(b->data + far))->hash);
            far = next_rec(b, far);
        }
        if (near < b->used) {
            vn_series_map_prefetch_series(m, ((const vn_rec_t *)(b->data + near))->hash);
            near = next_rec(b, near);
        }
        vn_series_t *s = vn_series_map_upsert(m, r->hash, r->type, r->scope, vn_rec_key(r), r->key_len);
        if (!s) {
            vn_series_map_note_overflow(m, vn_rec_key(r), r->key_len);
            dropped++;
            continue;
        }
        switch ((vn_mtype_t)r->type) {
        case VN_MT_COUNTER: /* docs/behaviour.md 0.2: double, no truncation; v / 1 is v, minus a divide */
            s->u.counter += r->rate == 1.0 ? r->value : r->value / r->rate;
            break;
        case VN_MT_GAUGE: s->u.gauge = r->value; break;
        case VN_MT_HISTOGRAM:
        case VN_MT_TIMER: vn_histo_sample(s->u.histo, r->value, r->rate); break;
        case VN_MT_SET: vn_hll_add(s->u.set, vn_rec_aux(r), r->aux_len); break;
        case VN_MT_STATUS: {
            const char *aux = vn_rec_aux(r);
            const char *nul = memchr(aux, '\0', r->aux_len);
            size_t hl = nul ? (size_t)(nul - aux) : r->aux_len;
            size_t ml = nul ? r->aux_len - hl - 1 : 0;
            /* Up to 64 KiB of strings per check: charged like keys, or the update is dropped. */
            if (!vn_series_map_recharge(m, vn_status_bytes(s->u.status), hl + ml)) {
                dropped++;
                break;
            }
            vn_status_set(s->u.status, r->value, aux, hl, nul ? nul + 1 : NULL, ml);
            break;
        }
        default: break;
        }
    }
    return dropped;
}

/* ---- imports ---- */

vn_import_t *vn_import_new(vn_mtype_t type, vn_scope_t scope, const char *key, size_t key_len)
{
    vn_import_t *it = vn_xcalloc(1, sizeof *it + key_len + 1);
    it->type = (uint8_t)type;
    it->scope = (uint8_t)scope;
    it->key_len = (uint16_t)key_len;
    memcpy(it->key, key, key_len);
    it->key[key_len] = '\0';
    it->hash = vn_series_key_hash(it->key, key_len, type);
    return it;
}

void vn_import_free(vn_import_t *it)
{
    if (!it)
        return;
    switch ((vn_mtype_t)it->type) {
    case VN_MT_HISTOGRAM:
    case VN_MT_TIMER: vn_tdigest_destroy(&it->u.digest); break;
    case VN_MT_SET: vn_hll_destroy(&it->u.hll); break;
    default: break;
    }
    free(it);
}

void vn_import_free_chain(vn_import_t *head)
{
    while (head) {
        vn_import_t *next = head->next;
        vn_import_free(head);
        head = next;
    }
}

/* Heap bytes one queued import holds (for the queue's byte cap). */
static size_t import_bytes(const vn_import_t *it)
{
    size_t n = sizeof *it + it->key_len + 1;
    if (it->type == VN_MT_HISTOGRAM || it->type == VN_MT_TIMER)
        n += vn_tdigest_memory(&it->u.digest);
    else if (it->type == VN_MT_SET)
        n += vn_hll_memory(&it->u.hll);
    return n;
}

size_t vn_worker_apply_imports(vn_series_map_t *m, vn_import_t *chain)
{
    size_t failed = 0;
    while (chain) {
        vn_import_t *it = chain;
        chain = it->next;
        vn_series_t *s = vn_series_map_upsert(m, it->hash, it->type, it->scope, it->key, it->key_len);
        bool ok = s != NULL;
        if (ok) {
            switch ((vn_mtype_t)it->type) {
            case VN_MT_COUNTER: s->u.counter += it->u.value; break;
            case VN_MT_GAUGE: s->u.gauge = it->u.value; break; /* last received wins, as Go */
            case VN_MT_HISTOGRAM:
            case VN_MT_TIMER:
                /* Only the digest: local_* stay as the local samples left them (docs/behaviour.md 2.7). */
                ok = vn_tdigest_merge(&s->u.histo->digest, &it->u.digest) == VN_OK;
                break;
            case VN_MT_SET: ok = vn_hll_merge(s->u.set, &it->u.hll) == VN_OK; break;
            default: ok = false; break;
            }
        }
        failed += !ok;
        vn_import_free(it);
    }
    return failed;
}

void vn_worker_set_interval_clock(vn_worker_t *w, double interval_s, double offset_s)
{
    pthread_mutex_lock(&w->imp_mu);
    w->clk_on = interval_s > 0;
    w->clk_iv = interval_s;
    w->clk_off = offset_s;
    pthread_mutex_unlock(&w->imp_mu);
}

size_t vn_worker_import(vn_worker_t *w, vn_import_t *chain)
{
    size_t dropped = 0, late = 0;
    /* Ticks are whole seconds on the wire; half an interval of slack keeps a
     * sub-second or fractional interval from reading its own tick as late. */
    pthread_mutex_lock(&w->imp_mu);
    int64_t late_below = w->closed_ms + (int64_t)(w->clk_iv * 500.0);
    while (chain) {
        vn_import_t *it = chain;
        chain = it->next;
        it->next = NULL;
        late += w->clk_on && w->closed_ms && it->interval_ms && it->interval_ms < late_below;
        size_t b = import_bytes(it);
        if (w->imp_n >= VN_WORKER_MAX_IMPORTS || w->imp_bytes + b > VN_WORKER_MAX_IMPORT_BYTES) {
            vn_import_free(it);
            dropped++;
            continue;
        }
        if (w->imp_tail)
            w->imp_tail->next = it;
        else
            w->imp_head = it;
        w->imp_tail = it;
        w->imp_n++;
        w->imp_bytes += b;
    }
    bool any = w->imp_head != NULL;
    if (any)
        atomic_store(&w->imp_pending, true);
    pthread_mutex_unlock(&w->imp_mu);
    if (late)
        vn_stats_add(&w->stats->import_metrics_late, late);
    if (any && atomic_load(&w->sleeping))
        wake(w);
    return dropped;
}

/* Worker thread: takes the queued imports and merges them into the current map.
 * cut: this take closes the map (a swap), so record the tick it closes. */
static void apply_pending_imports(vn_worker_t *w, bool cut)
{
    if (!cut && !atomic_load(&w->imp_pending))
        return;
    pthread_mutex_lock(&w->imp_mu);
    if (cut && w->clk_on) {
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        w->closed_ms = vn_ticker_tick_ms((double)rt.tv_sec + (double)rt.tv_nsec / 1e9, w->clk_iv, w->clk_off);
    }
    vn_import_t *chain = w->imp_head;
    size_t n = w->imp_n;
    w->imp_head = w->imp_tail = NULL;
    w->imp_n = w->imp_bytes = 0;
    atomic_store(&w->imp_pending, false);
    pthread_mutex_unlock(&w->imp_mu);
    size_t failed = vn_worker_apply_imports(w->map, chain);
    vn_stats_add(&w->stats->import_metrics_applied, n - failed);
    vn_stats_add(&w->stats->import_metrics_failed, failed);
}

/* Drains every full ring once; returns batches applied. */
static size_t drain(vn_worker_t *w)
{
    size_t n = 0, samples = 0, dropped = 0;
    uint64_t by_bytes = w->map->refused_bytes;
    for (size_t r = 0; r < w->nreaders; r++) {
        vn_batch_t *b;
        while ((b = vn_spsc_pop(&w->pairs[r].full)) != NULL) {
            dropped += vn_worker_apply(w->map, b);
            samples += b->count;
            b->used = 0;
            b->count = 0;
            /* Cannot fail: the free ring holds every batch this pair ever allocated. */
            vn_spsc_push(&w->pairs[r].free, b);
            n++;
        }
    }
    vn_stats_add(&w->stats->samples, samples - dropped);
    vn_stats_add(&w->stats->series_dropped_samples, dropped);
    vn_stats_add(&w->stats->series_dropped_bytes, w->map->refused_bytes - by_bytes);
    return n;
}

static void handle_swap(vn_worker_t *w)
{
    if (!atomic_load(&w->swap_req))
        return;
    drain(w);
    apply_pending_imports(w, true);
    pthread_mutex_lock(&w->mu);
    w->handed = w->map;
    w->map = vn_series_map_new_limited(&w->lim);
    atomic_store(&w->swap_req, false);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg)
{
    vn_worker_t *w = arg;
    while (!atomic_load(&w->stop)) {
        handle_swap(w);
        apply_pending_imports(w, false);
        if (drain(w))
            continue;
        atomic_store(&w->sleeping, true);
        bool pending = atomic_load(&w->swap_req) || atomic_load(&w->stop) || atomic_load(&w->imp_pending);
        for (size_t r = 0; r < w->nreaders && !pending; r++)
            pending = !vn_spsc_empty(&w->pairs[r].full);
        if (!pending) {
            struct pollfd p = {.fd = w->efd, .events = POLLIN};
            if (poll(&p, 1, 1000) > 0) {
                uint64_t v;
                ssize_t rd = read(w->efd, &v, sizeof v);
                (void)rd;
            }
        }
        atomic_store(&w->sleeping, false);
    }
    handle_swap(w);
    return NULL;
}

vn_worker_t *vn_worker_start(int id, size_t nreaders, size_t max_series, vn_stats_t *stats)
{
    vn_series_limits_t lim = {.max_count = max_series ? max_series : VN_SERIES_UNLIMITED,
                              .max_bytes = VN_SERIES_UNLIMITED};
    return vn_worker_start_limited(id, nreaders, &lim, stats);
}

vn_worker_t *vn_worker_start_limited(int id, size_t nreaders, const vn_series_limits_t *lim, vn_stats_t *stats)
{
    vn_worker_t *w = vn_xcalloc(1, sizeof *w);
    w->id = id;
    w->nreaders = nreaders ? nreaders : 1;
    w->pairs = vn_xcalloc(w->nreaders, sizeof *w->pairs);
    for (size_t r = 0; r < w->nreaders; r++) {
        vn_spsc_init(&w->pairs[r].full, BATCHES_PER_READER);
        vn_spsc_init(&w->pairs[r].free, BATCHES_PER_READER);
    }
    w->lim = *lim;
    w->stats = stats;
    w->map = vn_series_map_new_limited(&w->lim);
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->efd < 0) {
        VN_LOG_ERRNO(ERROR, "event=eventfd_failed");
        abort();
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_mutex_init(&w->imp_mu, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=worker");
        abort();
    }
    return w;
}

void vn_worker_free(vn_worker_t *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    wake(w);
    pthread_join(w->thread, NULL);
    drain(w);
    for (size_t r = 0; r < w->nreaders; r++) {
        vn_batch_t *b;
        while ((b = vn_spsc_pop(&w->pairs[r].free)) != NULL)
            free(b);
        vn_spsc_destroy(&w->pairs[r].full);
        vn_spsc_destroy(&w->pairs[r].free);
    }
    free(w->pairs);
    vn_series_map_free(w->map);
    vn_series_map_free(w->handed);
    vn_import_free_chain(w->imp_head);
    close(w->efd);
    pthread_mutex_destroy(&w->imp_mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

vn_batch_t *vn_worker_get_batch(vn_worker_t *w, size_t reader)
{
    pair_t *p = &w->pairs[reader];
    vn_batch_t *b = vn_spsc_pop(&p->free);
    if (b)
        return b;
    if (p->allocated >= BATCHES_PER_READER)
        return NULL;
    p->allocated++;
    b = vn_xmalloc(sizeof *b);
    b->used = 0;
    b->count = 0;
    return b;
}

void vn_worker_push(vn_worker_t *w, size_t reader, vn_batch_t *b)
{
    vn_spsc_push(&w->pairs[reader].full, b);
    if (atomic_load(&w->sleeping))
        wake(w);
}

bool vn_worker_push_lazy(vn_worker_t *w, size_t reader, vn_batch_t *b)
{
    vn_spsc_t *q = &w->pairs[reader].full;
    vn_spsc_push(q, b);
    /* the producer's view: tail is ours, head may only have moved on (fewer queued) */
    size_t queued = atomic_load_explicit(&q->tail, memory_order_relaxed) -
                    atomic_load_explicit(&q->head, memory_order_acquire);
    if (queued < VN_WORKER_LAZY_WAKE)
        return true;
    if (atomic_load(&w->sleeping))
        wake(w);
    return false;
}

void vn_worker_kick(vn_worker_t *w)
{
    if (atomic_load(&w->sleeping))
        wake(w);
}

vn_series_map_t *vn_worker_swap(vn_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->swap_req, true);
    wake(w);
    while (atomic_load(&w->swap_req))
        pthread_cond_wait(&w->cv, &w->mu);
    vn_series_map_t *m = w->handed;
    w->handed = NULL;
    pthread_mutex_unlock(&w->mu);
    return m;
}
