/*
 * flags.c - veneur-prometheus's command line, with Go `flag` package rules so
 * every Go invocation means the same here:
 *
 *   -h http://x/metrics   --h http://x/metrics   -h=http://x/metrics     all the same
 *   -d   -d=true   -d=false                      bool: never takes the next argument
 *   first non-flag argument or `--`              ends the flags (the rest is ignored, as in Go)
 *
 * Then the values are checked once, up front, so a typo fails at start-up
 * instead of every interval: -i must be a Go duration > 0 (Go's ticker panics
 * on 0), -h must be http:// or https://, the regexes must compile, the cert
 * files must be readable and -cert needs -key (Go's LoadX509KeyPair).
 *
 * Regexes: as in Go, the comma-separated list is joined with "|" into one
 * RE2 regexp (core/regex.h) matched unanchored: same syntax, linear time.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/cli.h"
#include "core/gonum.h"
#include "core/xalloc.h"
#include "prom.h"

typedef struct flagdef {
    const char *name;
    bool is_bool;
    size_t off;
    const char *help;
} flagdef_t;

#define OFF(f) offsetof(vn_pm_opts_t, f)

/* Sorted by name, as Go prints its usage. */
static const flagdef_t g_flags[] = {
    {"a", false, OFF(add),
     "Comma-separated tags to add to every metric, e.g. \"newtag=value,other=value2\"."},
    {"cacert", false, OFF(cacert),
     "CA bundle (PEM) used to verify the server's certificate instead of the system's."},
    {"cert", false, OFF(cert), "Client certificate (PEM) to present to the server, for mTLS; needs -key."},
    {"d", true, OFF(debug), "Debug logging: each scrape and every datagram sent."},
    {"h", false, OFF(url), "The full URL to scrape (default \"http://localhost:9090/metrics\")."},
    {"i", false, OFF(interval),
     "Scrape interval, a Go duration such as 10s or 1m30s (default \"10s\"). The first scrape\n"
     "happens at start-up, then one every interval."},
    {"ignored-labels", false, OFF(ignored_labels),
     "Comma-separated regexes (RE2, as Go) of label names not to export as tags."},
    {"ignored-metrics", false, OFF(ignored_metrics),
     "Comma-separated regexes (RE2, as Go) of metric family names not to export."},
    {"key", false, OFF(key), "Private key (PEM) for -cert."},
    {"p", false, OFF(prefix),
     "Prefix prepended to every metric name sent, self-metrics included; include the\n"
     "trailing period (e.g. \"myservice.\")."},
    {"r", false, OFF(rename), "Comma-separated label renames, e.g. \"oldtag=newtag,other=new2\"."},
    {"s", false, OFF(statsd),
     "Where to send: host:port over UDP, or unix:///path (unixgram)\n"
     "(default \"127.0.0.1:8126\")."},
    {"socket", false, OFF(socket),
     "Scrape over this unix socket instead of TCP (the URL's host becomes the Host\n"
     "header; TLS flags are not used)."},
};

static const flagdef_t *lookup(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof g_flags / sizeof g_flags[0]; i++)
        if (strlen(g_flags[i].name) == n && memcmp(g_flags[i].name, name, n) == 0)
            return &g_flags[i];
    return NULL;
}

void vn_pm_flags_usage(FILE *out)
{
    fprintf(out, "Usage of veneur-prometheus:\n");
    for (size_t i = 0; i < sizeof g_flags / sizeof g_flags[0]; i++) {
        fprintf(out, "  -%s%s\n    \t", g_flags[i].name, g_flags[i].is_bool ? "" : " string");
        for (const char *h = g_flags[i].help; *h; h++) {
            fputc(*h, out);
            if (*h == '\n')
                fputs("    \t", out);
        }
        fputc('\n', out);
    }
}

void vn_pm_kv_parse(const char *arg, vn_pm_kv_t **v, size_t *n)
{
    const char *p = arg ? arg : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len > 0 && eq) {
            size_t kl = (size_t)(eq - p);
            char *key = vn_xstrndup(p, kl);
            char *val = vn_xstrndup(eq + 1, len - kl - 1);
            size_t i = 0;
            while (i < *n && strcmp((*v)[i].key, key) != 0)
                i++;
            if (i < *n) { /* a map in Go: the last value wins */
                free((*v)[i].val);
                (*v)[i].val = val;
                free(key);
            } else {
                *v = vn_xrealloc(*v, (*n + 1) * sizeof **v);
                (*v)[(*n)++] = (vn_pm_kv_t){key, val};
            }
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

static bool compile(const char *flag, const char *arg, vn_regex_t **re, char *err, size_t errlen)
{
    *re = NULL;
    if (!arg || !*arg)
        return true;
    char *joined = vn_xstrdup(arg);
    for (char *c = joined; *c; c++)
        if (*c == ',')
            *c = '|';
    char why[256];
    *re = vn_regex_compile(joined, why, sizeof why);
    free(joined);
    if (!*re) {
        snprintf(err, errlen, "invalid value \"%s\" for flag -%s: %s", arg, flag, why);
        return false;
    }
    return true;
}

static bool readable(const char *flag, const char *path, char *err, size_t errlen)
{
    if (!path || !*path || access(path, R_OK) == 0)
        return true;
    snprintf(err, errlen, "flag -%s: cannot read \"%s\"", flag, path);
    return false;
}

static vn_pm_flags_rc_t validate(vn_pm_opts_t *o, char *err, size_t errlen)
{
    if (vn_config_parse_duration(o->interval, &o->interval_s) != VN_OK || !(o->interval_s > 0)) {
        snprintf(err, errlen, "invalid value \"%s\" for flag -i: want a Go duration above 0, e.g. 10s",
                 o->interval);
        return VN_PM_FLAGS_BAD;
    }
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for flag -h: want an http:// or https:// URL", o->url);
        return VN_PM_FLAGS_BAD;
    }
    if (!compile("ignored-labels", o->ignored_labels, &o->re_labels, err, errlen) ||
        !compile("ignored-metrics", o->ignored_metrics, &o->re_metrics, err, errlen))
        return VN_PM_FLAGS_BAD;
    if (o->cert && *o->cert && !(o->key && *o->key)) {
        snprintf(err, errlen, "flag -cert needs -key");
        return VN_PM_FLAGS_BAD;
    }
    if (!readable("cert", o->cert, err, errlen) || !readable("key", o->key, err, errlen) ||
        !readable("cacert", o->cacert, err, errlen))
        return VN_PM_FLAGS_BAD;
    vn_pm_kv_parse(o->rename, &o->renames, &o->nrenames);
    vn_pm_kv_parse(o->add, &o->adds, &o->nadds);
    return VN_PM_FLAGS_OK;
}

vn_pm_flags_rc_t vn_pm_flags_parse(int argc, char **argv, vn_pm_opts_t *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->url = "http://localhost:9090/metrics";
    o->interval = "10s";
    o->statsd = "127.0.0.1:8126";
    o->prefix = "";
    int i = 1;
    const char *name, *eqval;
    size_t nlen;
    for (;;) {
        vn_cli_tok_t t = vn_cli_next(argc, argv, &i, &name, &nlen, &eqval);
        if (t == VN_CLI_END)
            break;
        if (t == VN_CLI_BAD) {
            snprintf(err, errlen, "bad flag syntax: %s", argv[i]);
            return VN_PM_FLAGS_USAGE;
        }
        const flagdef_t *f = lookup(name, nlen);
        if (!f) {
            if ((nlen == 4 && memcmp(name, "help", 4) == 0))
                return VN_PM_FLAGS_HELP;
            snprintf(err, errlen, "flag provided but not defined: -%.*s", (int)nlen, name);
            return VN_PM_FLAGS_USAGE;
        }
        char *base = (char *)o;
        if (f->is_bool) {
            bool v = true;
            if (eqval && !vn_gonum_parse_bool(eqval, &v)) {
                snprintf(err, errlen, "invalid boolean value \"%s\" for -%s", eqval, f->name);
                return VN_PM_FLAGS_USAGE;
            }
            *(bool *)(base + f->off) = v;
            continue;
        }
        const char *val = eqval;
        if (!val) {
            if (i >= argc) {
                snprintf(err, errlen, "flag needs an argument: -%s", f->name);
                return VN_PM_FLAGS_USAGE;
            }
            val = argv[i++];
        }
        *(const char **)(base + f->off) = val;
    }
    return validate(o, err, errlen);
}

void vn_pm_opts_destroy(vn_pm_opts_t *o)
{
    if (!o)
        return;
    vn_regex_free(o->re_labels);
    vn_regex_free(o->re_metrics);
    for (size_t i = 0; i < o->nrenames; i++) {
        free(o->renames[i].key);
        free(o->renames[i].val);
    }
    for (size_t i = 0; i < o->nadds; i++) {
        free(o->adds[i].key);
        free(o->adds[i].val);
    }
    free(o->renames);
    free(o->adds);
    memset(o, 0, sizeof *o);
}
