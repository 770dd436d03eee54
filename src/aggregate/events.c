/* events.c - bounded per-interval event list; see events.h. */
#include "aggregate/events.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

void vn_event_store_init(vn_event_store_t *s, size_t cap, vn_stats_t *stats)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->cap = cap;
    s->max_bytes = VN_EVENT_STORE_DEFAULT_BYTES;
    s->stats = stats;
}

void vn_event_store_set_max_bytes(vn_event_store_t *s, size_t max_bytes)
{
    s->max_bytes = max_bytes;
}

size_t vn_event_store_cost(const vn_event_t *ev)
{
    size_t n = ev->title.len + ev->text.len + ev->hostname.len + ev->agg_key.len + ev->priority.len +
               ev->source_type.len + ev->alert_type.len;
    for (size_t i = 0; i < ev->ntags; i++)
        n += ev->tags[i].len;
    return n;
}

void vn_event_store_destroy(vn_event_store_t *s)
{
    vn_event_list_free(&s->cur);
    pthread_mutex_destroy(&s->mu);
}

static char *dup_str(vn_str_t v) { return vn_xstrndup(v.p ? v.p : "", v.len); }

void vn_event_store_add(vn_event_store_t *s, const vn_event_t *ev)
{
    vn_stats_add(&s->stats->events_received, 1);
    size_t cost = vn_event_store_cost(ev); /* outside the lock: it walks the tags */
    pthread_mutex_lock(&s->mu);
    bool over_count = s->cur.n >= s->cap;
    /* Checked before any copy, so a refused event costs nothing. */
    if (over_count || cost > s->max_bytes - s->cur_bytes) { /* cur_bytes <= max_bytes always */
        pthread_mutex_unlock(&s->mu);
        vn_stats_add(&s->stats->events_dropped, 1);
        if (!over_count)
            vn_stats_add(&s->stats->events_dropped_bytes, 1);
        return;
    }
    s->cur_bytes += cost;
    if ((s->cur.n & (s->cur.n - 1)) == 0) /* grow at powers of two */
        s->cur.ev = vn_xrealloc(s->cur.ev, (s->cur.n ? s->cur.n * 2 : 1) * sizeof *s->cur.ev);
    vn_sink_event_t *e = &s->cur.ev[s->cur.n++];
    e->title = dup_str(ev->title);
    e->text = dup_str(ev->text);
    e->hostname = dup_str(ev->hostname);
    e->agg_key = dup_str(ev->agg_key);
    e->priority = dup_str(ev->priority);
    e->source_type = dup_str(ev->source_type);
    e->alert_type = dup_str(ev->alert_type);
    e->timestamp = ev->timestamp;
    char **tags = vn_xcalloc(ev->ntags ? ev->ntags : 1, sizeof *tags);
    for (size_t i = 0; i < ev->ntags; i++)
        tags[i] = dup_str(ev->tags[i]);
    e->tags = (const char *const *)tags;
    e->ntags = ev->ntags;
    pthread_mutex_unlock(&s->mu);
}

void vn_event_store_take(vn_event_store_t *s, vn_event_list_t *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->cur;
    s->cur.ev = NULL;
    s->cur.n = 0;
    s->cur_bytes = 0;
    pthread_mutex_unlock(&s->mu);
}

void vn_event_list_free(vn_event_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        vn_sink_event_t *e = &l->ev[i];
        free((char *)e->title);
        free((char *)e->text);
        free((char *)e->hostname);
        free((char *)e->agg_key);
        free((char *)e->priority);
        free((char *)e->source_type);
        free((char *)e->alert_type);
        for (size_t j = 0; j < e->ntags; j++)
            free((char *)e->tags[j]);
        free((void *)e->tags);
    }
    free(l->ev);
    l->ev = NULL;
    l->n = 0;
}
