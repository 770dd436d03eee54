/*
 * registry.c - builds span sinks from their config entries (span_sink.h).
 * Adding a span sink kind = one constructor + one row in `kinds`, and
 * clearing its verdict in config/config_verdicts.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "sinks/sink.h"
#include "spansinks/span_sink_internal.h"

static const struct {
    const char *kind;
    vn_span_sink_ctor_fn ctor;
} kinds[] = {
    {"datadog", vn_span_sink__datadog_new},
    {"debug", vn_span_sink__debug_new},
    {"localfile", vn_span_sink__localfile_new},
    {"kafka", vn_span_sink__kafka_new},
    {"splunk", vn_span_sink__splunk_new},
    {"xray", vn_span_sink__xray_new},
};

vn_err_t vn_span_sink__errf(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (errbuf && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
    return VN_ERR_CONFIG;
}

vn_err_t vn_span_sink_new(const vn_sink_config_t *sc, const vn_config_t *cfg, vn_span_sink_t **out, char *errbuf,
                          size_t errcap)
{
    *out = NULL;
    if (errbuf && errcap)
        errbuf[0] = '\0';
    if (!sc || !sc->kind || !sc->kind[0])
        return vn_span_sink__errf(errbuf, errcap, "span_sinks: entry has no kind");
    size_t k = 0;
    while (k < sizeof kinds / sizeof kinds[0] && strcmp(kinds[k].kind, sc->kind) != 0)
        k++;
    const char *name = sc->name && sc->name[0] ? sc->name : sc->kind;
    if (k == sizeof kinds / sizeof kinds[0]) {
        vn_span_sink__errf(errbuf, errcap, "span_sinks: unknown span sink kind \"%s\" (sink \"%s\")", sc->kind, name);
        return VN_ERR_NOTFOUND;
    }
    vn_span_sink_t *s = vn_xcalloc(1, sizeof *s);
    s->name = vn_xstrdup(name);
    s->kind = kinds[k].kind;
    s->hostname = cfg && cfg->hostname ? cfg->hostname : "";
    vn_sink_excluded_tags_resolve(cfg, s->name, &s->excluded_tags, &s->n_excluded_tags);
    vn_err_t err = kinds[k].ctor(s, sc, cfg, errbuf, errcap);
    if (err != VN_OK) {
        s->ops = NULL; /* the constructor cleaned up its own impl */
        vn_span_sink_free(s);
        return err;
    }
    *out = s;
    return VN_OK;
}

void vn_span_sink_free(vn_span_sink_t *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s);
    vn_sink_excluded_tags_free(s->excluded_tags, s->n_excluded_tags);
    free(s->name);
    free(s);
}

bool vn_span_sink_tag_excluded(const vn_span_sink_t *s, const char *key)
{
    for (size_t i = 0; s && key && i < s->n_excluded_tags; i++) {
        const char *p = s->excluded_tags[i];
        if (strncmp(key, p, strlen(p)) == 0)
            return true;
    }
    return false;
}
