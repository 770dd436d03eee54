/*
 * registry.c - builds metric sinks from their config entries (sink.h), and the
 * small helpers every built-in sink shares (sink_internal.h).
 *
 * Adding a sink kind = one constructor + one row in `kinds` below; the flusher
 * never changes.
 *
 * Excluded tags (Go server.go generateExcludedTags): each `tags_exclude` entry
 * is either "prefix" (applies to every sink) or "prefix|sink1|sink2" (only to
 * sinks with one of those instance names). The registry resolves the list once
 * per sink at construction, copying the prefixes (the "|..." part cannot be
 * borrowed as a C string), so flushing never parses the rules again. An empty
 * prefix is dropped: in Go it would strip every tag, which is never what an
 * operator who wrote `tags_exclude: [""]` meant.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "sinks/datadog.h"
#include "sinks/kafka_internal.h"
#include "sinks/newrelic.h"
#include "sinks/otlp.h"
#include "sinks/prometheus_repeater.h"
#include "sinks/remote_write_internal.h"
#include "sinks/s3.h"
#include "sinks/signalfx.h"
#include "sinks/sink_internal.h"

static const struct {
    const char *kind;
    vn_sink_ctor_fn ctor;
} kinds[] = {
    {"debug", vn_sink__debug_new},
    {"localfile", vn_sink__localfile_new},
    {"datadog", vn_sink__datadog_new},
    {"signalfx", vn_sink__signalfx_new},
    {"kafka", vn_sink__kafka_new},
    {"cortex", vn_sink__remote_write_new},
    {"prometheus_remote_write", vn_sink__remote_write_new}, /* veneur-c alias of cortex */
    {"newrelic", vn_sink__newrelic_new},
    {"prometheus", vn_sink__prometheus_new}, /* Go's statsd repeater, not remote write */
    {"s3", vn_sink__s3_new},
    {"otlp", vn_sink__otlp_new}, /* veneur-c: OpenTelemetry OTLP/HTTP protobuf */
};

static void errf(char *errbuf, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (!errbuf || !errcap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errcap, fmt, ap);
    va_end(ap);
}

/* Does the rule "prefix|a|b" name sink `name` (or apply to all: no '|')?
 * On success *plen is the prefix length. */
static bool rule_applies(const char *rule, const char *name, size_t *plen)
{
    const char *bar = strchr(rule, '|');
    if (!bar) {
        *plen = strlen(rule);
        return true;
    }
    *plen = (size_t)(bar - rule);
    size_t nlen = strlen(name);
    const char *p = bar + 1;
    for (;;) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == nlen && memcmp(p, name, len) == 0)
            return true;
        if (!end)
            return false;
        p = end + 1;
    }
}

void vn_sink_excluded_tags_resolve(const vn_config_t *cfg, const char *name, const char *const **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!cfg || cfg->tags_exclude.n == 0)
        return;
    char **v = vn_xcalloc(cfg->tags_exclude.n, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < cfg->tags_exclude.n; i++) {
        const char *rule = cfg->tags_exclude.v[i];
        size_t plen;
        if (rule && rule_applies(rule, name, &plen) && plen > 0)
            v[n++] = vn_xstrndup(rule, plen);
    }
    if (n == 0) {
        free(v);
        return;
    }
    *out = (const char *const *)v;
    *nout = n;
}

void vn_sink_excluded_tags_free(const char *const *tags, size_t n)
{
    /* vn_sink_excluded_tags_resolve allocated both the array and the strings */
    char **v = (char **)(uintptr_t)tags;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void set_excluded_tags(vn_sink_t *s, const vn_config_t *cfg)
{
    vn_sink_excluded_tags_resolve(cfg, s->name, &s->excluded_tags, &s->n_excluded_tags);
}

static void free_excluded_tags(vn_sink_t *s)
{
    vn_sink_excluded_tags_free(s->excluded_tags, s->n_excluded_tags);
    s->excluded_tags = NULL;
    s->n_excluded_tags = 0;
}

vn_err_t vn_sink_new(const vn_sink_config_t *sc, const vn_config_t *cfg, vn_sink_t **out, char *errbuf,
                     size_t errcap)
{
    *out = NULL;
    if (errbuf && errcap)
        errbuf[0] = '\0';
    if (!sc || !sc->kind || !sc->kind[0]) {
        errf(errbuf, errcap, "metric_sinks: entry has no kind");
        return VN_ERR_CONFIG;
    }
    vn_sink_ctor_fn ctor = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, sc->kind) == 0)
            ctor = kinds[i].ctor;
    const char *name = sc->name && sc->name[0] ? sc->name : sc->kind;
    if (!ctor) {
        errf(errbuf, errcap, "metric_sinks: unknown sink kind \"%s\" (sink \"%s\")", sc->kind, name);
        return VN_ERR_NOTFOUND;
    }

    vn_sink_t *s = vn_xcalloc(1, sizeof *s);
    s->name = vn_xstrdup(name);
    set_excluded_tags(s, cfg);
    vn_err_t err = ctor(s, sc, cfg, errbuf, errcap);
    if (err != VN_OK) {
        s->ops = NULL; /* the constructor cleaned up its own impl */
        vn_sink_free(s);
        return err;
    }
    *out = s;
    return VN_OK;
}

void vn_sink_free(vn_sink_t *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s);
    free_excluded_tags(s);
    free(s->name);
    free(s);
}

const char *vn_sink__type_name(vn_im_type_t t)
{
    switch (t) {
    case VN_IM_COUNTER: return "counter";
    case VN_IM_GAUGE: return "gauge";
    case VN_IM_STATUS: return "status";
    }
    return "unknown";
}

bool vn_sink__header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z') || (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

bool vn_sink__wants(const vn_sink_t *s, const vn_inter_metric_t *m)
{
    return !m->sink_only || strcmp(m->sink_only, s->name) == 0;
}

bool vn_sink__tag_excluded(const vn_sink_t *s, const char *tag)
{
    for (size_t i = 0; i < s->n_excluded_tags; i++) {
        const char *p = s->excluded_tags[i];
        size_t n = strlen(p);
        if (strncmp(tag, p, n) == 0)
            return true;
    }
    return false;
}

vn_err_t vn_sink__write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return VN_ERR_IO;
        }
        if (w == 0) {
            errno = EIO; /* a regular file never does this; do not spin */
            return VN_ERR_IO;
        }
        buf += w;
        len -= (size_t)w;
    }
    return VN_OK;
}
