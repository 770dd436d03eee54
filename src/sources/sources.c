/*
 * sources.c - one thread per `sources` entry: tick, scrape, parse, map, ingest (see sources.h).
 *
 * Ticks follow Go's time.Ticker: the first scrape is one scrape_interval after
 * start, then every interval on the same grid; ticks missed while a scrape ran
 * long are skipped, not queued. A scrape is used whole or not at all: a
 * transport error, a body over max_body_bytes, a parse error or more series
 * than max_series drops it (counted) and leaves the counter baseline as it was.
 */
#include "sources/sources.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mono_cond.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "parse/prom_text.h"
#include "sinks/http_get.h"
#include "sources/openmetrics.h"

typedef struct source {
    vn_om_cfg_t cfg;
    vn_om_mapper_t mapper;
    vn_prom_doc_t doc;
    vn_ingest_t *ingest;
    vn_stats_t *stats; /* borrowed, may be NULL */
    struct vn_sources *set;
    pthread_t th;
    bool running;
    uint64_t dropped; /* this scrape: samples ingest refused */
} source_t;

struct vn_sources {
    source_t *v;
    size_t n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic bool stop;
    bool started, stopped;
};

static void stat_add(vn_stats_t *st, size_t field_off, uint64_t n)
{
    if (st && n)
        vn_stats_add((_Atomic uint64_t *)(void *)((char *)st + field_off), n);
}
#define STAT(src, field, n) stat_add((src)->stats, offsetof(vn_stats_t, field), (n))

vn_err_t vn_sources_open(const vn_config_t *cfg, vn_stats_t *stats, vn_sources_t **out, char *err, size_t errcap)
{
    *out = NULL;
    if (!cfg->n_sources)
        return VN_OK;
    vn_sources_t *s = vn_xcalloc(1, sizeof *s);
    s->v = vn_xcalloc(cfg->n_sources, sizeof *s->v);
    pthread_mutex_init(&s->mu, NULL);
    vn_mono_cond_init(&s->cv);
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const vn_source_config_t *sc = &cfg->sources[i];
        source_t *src = &s->v[s->n++];
        src->set = s;
        src->stats = stats;
        vn_om_mapper_init(&src->mapper);
        if (!sc->kind || strcmp(sc->kind, "openmetrics") != 0) {
            snprintf(err, errcap, "source \"%s\": unknown kind \"%s\" (only openmetrics exists)",
                     sc->name ? sc->name : "", sc->kind ? sc->kind : "");
            vn_sources_free(s);
            return VN_ERR_CONFIG;
        }
        if (vn_om_cfg_parse(sc, &src->cfg, err, errcap) != VN_OK) {
            vn_sources_free(s);
            return VN_ERR_CONFIG;
        }
        size_t ms = src->cfg.max_series;
        /* buckets and quantiles: a generous multiple of the series cap */
        size_t mp = ms * 64 > UINT32_MAX / 2 ? UINT32_MAX / 2 : ms * 64;
        vn_prom_limits_t lim = {.max_series = (uint32_t)ms, .max_points = (uint32_t)mp, .max_families = (uint32_t)ms};
        vn_prom_doc_init(&src->doc, &lim);
    }
    *out = s;
    return VN_OK;
}

size_t vn_sources_reader_count(const vn_sources_t *s) { return s ? s->n : 0; }

static void on_sample(void *ctx, vn_str_t name, vn_mtype_t type, double value, const vn_str_t *tags, size_t ntags)
{
    source_t *src = ctx;
    if (!vn_ingest_sample(src->ingest, name, type, VN_SCOPE_MIXED, value, 1.0, tags, ntags, (vn_str_t){"", 0}))
        src->dropped++;
}

static void scrape_once(source_t *src)
{
    const vn_om_cfg_t *c = &src->cfg;
    char err[256] = "", q[VN_LOG_QUOTE_CAP], qn[VN_LOG_QUOTE_CAP];
    vn_http_get_opts_t o = {.url = c->target,
                            .headers = {"Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1"},
                            .timeout_s = c->timeout_s,
                            .max_body = c->max_body,
                            .user_agent = "veneur-c/" VN_VERSION,
                            .cancel = &src->set->stop};
    vn_buf_t body = VN_BUF_INIT(0);
    vn_err_t rc = vn_http_get(&o, &body, NULL, err, sizeof err);
    if (atomic_load(&src->set->stop)) {
        if (rc == VN_OK)
            vn_buf_free(&body);
        return; /* cancelled: neither a failure nor a sample */
    }
    vn_log_quote_cstr(qn, sizeof qn, c->name);
    if (rc != VN_OK) {
        if (rc == VN_ERR_TOO_LARGE)
            STAT(src, source_scrapes_too_large, 1);
        else
            STAT(src, source_scrape_failures, 1);
        VN_LOG(WARN, "event=source_scrape_failed source=%s target=%s reason=%s", qn,
               vn_log_quote_cstr(q, sizeof q, c->target), VN_LOG_Q(err));
        return;
    }
    vn_prom_error_t perr;
    rc = vn_prom_parse(&src->doc, vn_buf_ptr(&body), vn_buf_len(&body), &perr);
    if (rc != VN_OK) {
        if (rc == VN_ERR_TOO_LARGE)
            STAT(src, source_scrapes_too_large, 1);
        else
            STAT(src, source_parse_errors, 1);
        VN_LOG(WARN, "event=source_scrape_dropped source=%s reason=%s line=%u msg=%s max_series=%zu", qn,
               rc == VN_ERR_TOO_LARGE ? "too_large" : "parse_error", perr.line,
               vn_log_quote_cstr(q, sizeof q, perr.msg), c->max_series);
        vn_buf_free(&body);
        return;
    }
    STAT(src, source_scrapes, 1);
    vn_om_counts_t n = {0};
    src->dropped = 0;
    vn_om_map(&src->mapper, c, &src->doc, on_sample, src, &n);
    vn_ingest_commit(src->ingest);
    vn_buf_free(&body); /* the doc borrows it; the doc is not read again before the next parse */
    STAT(src, source_samples, n.samples - src->dropped);
    STAT(src, source_samples_dropped, src->dropped);
    STAT(src, source_samples_invalid, n.invalid);
    STAT(src, source_families_filtered, n.filtered_families);
    STAT(src, source_tags_sanitized, n.sanitized);
    VN_LOG(DEBUG, "event=source_scraped source=%s samples=%" PRIu64 " dropped=%" PRIu64 " filtered=%" PRIu64, qn,
           n.samples, src->dropped, n.filtered_families);
}

static void *source_main(void *arg)
{
    source_t *src = arg;
    vn_sources_t *s = src->set;
    double interval = src->cfg.interval_s;
    double next = vn_clock_mono_s() + interval;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!atomic_load(&s->stop) && vn_clock_mono_s() < next) {
            struct timespec ts = vn_mono_cond_deadline(next);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
        if (atomic_load(&s->stop))
            break;
        scrape_once(src);
        /* the next tick on the grid still ahead: a scrape that overran skips ticks (Go's Ticker drops them) */
        double now = vn_clock_mono_s();
        next += interval;
        if (next <= now)
            next += ceil((now - next) / interval) * interval;
        if (next <= now)
            next += interval;
    }
    vn_ingest_commit(src->ingest);
    return NULL;
}

vn_err_t vn_sources_start(vn_sources_t *s, const vn_ingest_shared_t *shared, size_t first_reader)
{
    if (!s)
        return VN_OK;
    s->started = true;
    for (size_t i = 0; i < s->n; i++) {
        source_t *src = &s->v[i];
        src->ingest = vn_ingest_new(shared, first_reader + i);
        if (pthread_create(&src->th, NULL, source_main, src) != 0)
            return VN_ERR_IO;
        src->running = true;
        VN_LOG(INFO, "event=source_started kind=openmetrics source=%s target=%s interval_s=%g", VN_LOG_Q(src->cfg.name),
               VN_LOG_Q(src->cfg.target), src->cfg.interval_s);
    }
    return VN_OK;
}

void vn_sources_stop(vn_sources_t *s)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, true);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].running) {
            pthread_join(s->v[i].th, NULL);
            s->v[i].running = false;
        }
}

void vn_sources_free(vn_sources_t *s)
{
    if (!s)
        return;
    vn_sources_stop(s);
    for (size_t i = 0; i < s->n; i++) {
        source_t *src = &s->v[i];
        vn_om_cfg_destroy(&src->cfg);
        vn_om_mapper_destroy(&src->mapper);
        vn_prom_doc_destroy(&src->doc);
        vn_ingest_free(src->ingest);
    }
    free(s->v);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
