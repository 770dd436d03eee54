/*
 * queued.c - sink glue for encoder + delivery-queue sinks (see queued.h).
 */
#include "sinks/queued.h"

#include <stdlib.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/sink_internal.h"

/* What the encoder skipped since `before` (non-finite values, items alone over a cap) counts as dropped. */
static void count_skipped(vn_sink_t *s, const vn_queued_sink_t *q, size_t before)
{
    size_t now = q->kind->skipped(q->enc);
    if (now > before && s->stats)
        vn_stats_add(&s->stats->dropped, now - before);
}

vn_err_t vn_queued_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    vn_queued_sink_t *q = s->impl;
    vn_delivery_bind_stats(q->dl, s->stats);
    size_t skipped = q->kind->skipped(q->enc);
    vn_err_t err = q->kind->metrics(q->enc, s, m, n, info, vn_delivery_emit, q->dl);
    count_skipped(s, q, skipped);
    return err;
}

void vn_queued_flush_events(vn_sink_t *s, const vn_sink_event_t *ev, size_t n, const vn_flush_info_t *info)
{
    vn_queued_sink_t *q = s->impl;
    vn_delivery_bind_stats(q->dl, s->stats);
    size_t skipped = q->kind->skipped(q->enc);
    vn_err_t err = q->kind->events(q->enc, s, ev, n, info, vn_delivery_emit, q->dl);
    count_skipped(s, q, skipped);
    if (err != VN_OK)
        VN_LOG(WARN, "event=sink_events_failed sink=%s events=%zu err=\"%s\"", s->name, n, vn_strerror(err));
}

void vn_queued_destroy(vn_sink_t *s)
{
    vn_queued_sink_t *q = s->impl;
    if (!q)
        return;
    vn_delivery_free(q->dl); /* drains for the grace period first */
    q->kind->destroy(q->enc);
    free(q->enc);
    free(q);
    s->impl = NULL;
}

vn_err_t vn_queued_start(vn_sink_t *s, const vn_queued_kind_t *kind, void *enc,
                         vn_err_t enc_err, const vn_sink_config_t *sc, const vn_config_t *cfg,
                         const char *const *secrets, size_t nsecrets, vn_delivery_opts_t *o, char *errbuf,
                         size_t errcap)
{
    vn_err_t err = enc_err;
    if (err == VN_OK)
        err = vn_delivery_config(sc, cfg, s->name, o, errbuf, errcap);
    if (err != VN_OK) {
        kind->destroy(enc);
        free(enc);
        return err;
    }
    o->name = s->name;
    o->secrets = secrets;
    o->nsecrets = nsecrets;
    vn_queued_sink_t *q = vn_xcalloc(1, sizeof *q);
    q->kind = kind;
    q->enc = enc;
    q->dl = vn_delivery_new(o, NULL);
    s->impl = q;
    s->ops = &kind->ops;
    return VN_OK;
}
