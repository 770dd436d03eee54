/**
 * config_dump.c - vn_config_dump: the effective config as YAML, secrets redacted.
 *
 * The output loads back into an equal config (the round trip is unit-tested),
 * except that redacted secrets read back as the text "<redacted>". Strings are
 * always double-quoted with YAML escapes, so no value can change the structure.
 * [v13] flat keys are not written: they appear as the metric_sinks entries they
 * were translated into. Keys accepted but not implemented (config_verdicts.c)
 * are not written either: they have no effect. A sink's flattened `config:` is written back nested, as
 * one flow mapping:  {"api_key": "<redacted>", "drops": ["a", "b"], "x": {"y": "1"}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/metric.h"
#include "core/xalloc.h"

/* Decodes one UTF-8 sequence; returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *p, unsigned *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0)
        return 0;
    unsigned v = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static bool yaml_printable(unsigned c)
{
    return (c >= 0x20 && c <= 0x7e) || c == 0x85 || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) ||
           (c >= 0x10000 && c <= 0x10ffff);
}

/* Double-quoted YAML scalar; invalid UTF-8 bytes become U+FFFD. */
static void put_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp;
        size_t n = utf8_decode(p, &cp);
        if (n == 0) {
            fputs("\\uFFFD", out);
            p++;
            continue;
        }
        if (cp == '"' || cp == '\\')
            fprintf(out, "\\%c", (char)cp);
        else if (cp == '\n')
            fputs("\\n", out);
        else if (cp == '\t')
            fputs("\\t", out);
        else if (cp == '\r')
            fputs("\\r", out);
        else if (!yaml_printable(cp))
            fprintf(out, cp > 0xffff ? "\\U%08X" : "\\u%04X", cp);
        else
            fwrite(p, 1, n, out);
        p += n;
    }
    fputc('"', out);
}

/* Go's -print-secrets; set only for the duration of one vn_config_dump_opts call. */
static _Thread_local bool t_print_secrets;

/* A value: "<redacted>" for a secret; a URL's userinfo and secret query
 * parameters are hidden too, whatever the key (api_hostname:
 * https://user:pass@host/?api_key=...), since a password embedded there is as
 * secret as an api_key. */
static void put_value_str(FILE *out, const char *s, bool secret)
{
    char *hidden;
    if (t_print_secrets) {
        put_str(out, s);
    } else if (secret && *s) {
        put_str(out, "<redacted>");
    } else if ((hidden = vn_config_redact_url(s)) != NULL) {
        put_str(out, hidden);
        free(hidden);
    } else {
        put_str(out, s);
    }
}

static void put_secret(FILE *out, const char *s, bool secret) { put_value_str(out, s, secret); }

static void put_strlist(FILE *out, const vn_strlist_t *l)
{
    fputc('[', out);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            fputs(", ", out);
        put_value_str(out, l->v[i], false);
    }
    fputc(']', out);
}

static void put_double(FILE *out, double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

/* ---- a sink's flattened kv, written back nested ---- */

static size_t seg_len(const char *s)
{
    const char *d = strchr(s, '.');
    return d ? (size_t)(d - s) : strlen(s);
}

static const char *rest(const vn_kv_t *kv, size_t plen) { return strlen(kv->key) >= plen ? kv->key + plen : ""; }

/* Entry i plus the entries right after it that lie strictly under its first segment. */
static size_t group_end(const vn_kv_t *kv, size_t i, size_t hi, size_t plen)
{
    const char *a = rest(&kv[i], plen);
    size_t n = seg_len(a), j = i + 1;
    while (j < hi) {
        const char *b = rest(&kv[j], plen);
        if (strncmp(a, b, n) != 0 || b[n] != '.')
            break;
        j++;
    }
    return j;
}

/* Below this depth the rest of each key is written as one literal key: "a.b.c": v
 * flattens back to the same entry, and a key full of dots cannot nest past the
 * loader's depth limit. */
#define DUMP_MAX_NEST 8

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void put_kv_flat(FILE *out, const vn_kv_t *kv, size_t lo, size_t hi, size_t plen)
{
    fputc('{', out);
    bool first = true;
    for (size_t i = lo; i < hi; i++) {
        const char *r = rest(&kv[i], plen);
        bool skip = false;
        for (size_t j = lo; j < i && !skip; j++) {
            const char *o = rest(&kv[j], plen);
            size_t n = strlen(o);
            skip = strcmp(o, r) == 0 || /* duplicate, or an item the list entry regenerates */
                   (kv[j].is_list && strncmp(o, r, n) == 0 && r[n] == '.' && all_digits(r + n + 1));
        }
        if (skip)
            continue;
        if (!first)
            fputs(", ", out);
        first = false;
        put_str(out, r);
        fputs(": ", out);
        bool secret = vn_cfg__key_is_secret(kv[i].key);
        if (kv[i].is_list && !(secret && !t_print_secrets && kv[i].list.n))
            put_strlist(out, &kv[i].list);
        else
            put_secret(out, kv[i].value, secret);
    }
    fputc('}', out);
}

static void put_kv_tree(FILE *out, const vn_kv_t *kv, size_t lo, size_t hi, size_t plen, int depth)
{
    if (depth >= DUMP_MAX_NEST) {
        put_kv_flat(out, kv, lo, hi, plen);
        return;
    }
    /* a sequence if the groups are named 0, 1, 2, ... in order and hold lists or maps */
    bool seq = depth > 0; /* a sink's `config:` itself must stay a mapping */
    size_t idx = 0;
    for (size_t i = lo; i < hi; i = group_end(kv, i, hi, plen), idx++) {
        char want[24];
        snprintf(want, sizeof want, "%zu", idx);
        const char *s = rest(&kv[i], plen);
        seq = seq && seg_len(s) == strlen(want) && strncmp(s, want, strlen(want)) == 0;
        /* a plain scalar under "0" came from {"0": x} or a mixed list: a mapping
         * reloads to the same entries, a list would add a list entry */
        if (s[seg_len(s)] == '\0' && !kv[i].is_list)
            seq = false;
    }
    fputc(seq ? '[' : '{', out);
    bool first = true;
    /* keys with dots ({"a.b": 1, a: {b: 2}}) can flatten to the same path twice:
     * write the first only, so the output stays loadable */
    size_t *seen = vn_xmalloc((hi - lo) * sizeof *seen), nseen = 0;
    for (size_t i = lo; i < hi;) {
        size_t j = group_end(kv, i, hi, plen);
        const char *s = rest(&kv[i], plen);
        size_t n = seg_len(s);
        bool dup = false;
        for (size_t t = 0; t < nseen && !dup; t++) {
            const char *o = rest(&kv[seen[t]], plen);
            dup = seg_len(o) == n && strncmp(o, s, n) == 0;
        }
        if (dup) {
            i = j;
            continue;
        }
        seen[nseen++] = i;
        if (!first)
            fputs(", ", out);
        first = false;
        if (!seq) {
            char *k = vn_xstrndup(s, n);
            put_str(out, k);
            free(k);
            fputs(": ", out);
        }
        bool secret = vn_cfg__key_is_secret(kv[i].key);
        if (s[n] == '\0') { /* a leaf: a scalar, or a scalar list whose items follow it */
            if (kv[i].is_list && !(secret && !t_print_secrets && kv[i].list.n)) {
                put_strlist(out, &kv[i].list);
            } else {
                put_secret(out, kv[i].value, secret);
            }
        } else {
            put_kv_tree(out, kv, i, j, plen + n + 1, depth + 1);
        }
        i = j;
    }
    free(seen);
    fputc(seq ? ']' : '}', out);
}

static void put_tag_matchers(FILE *out, const vn_tag_matcher_t *t, size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", {kind: " : "{kind: ", out);
        put_str(out, t[i].kind);
        fputs(", value: ", out);
        put_str(out, t[i].value);
        fprintf(out, ", unset: %s}", t[i].unset ? "true" : "false");
    }
    fputc(']', out);
}

static void put_sources(FILE *out, const vn_source_config_t *arr, size_t n)
{
    if (n == 0) {
        fputs("sources: []\n", out);
        return;
    }
    fputs("sources:\n", out);
    for (size_t i = 0; i < n; i++) {
        const vn_source_config_t *sc = &arr[i];
        fputs("  - kind: ", out);
        put_str(out, sc->kind);
        fputs("\n    name: ", out);
        put_str(out, sc->name);
        fputs("\n    tags: [", out);
        for (size_t j = 0; j < sc->tags.n; j++) {
            if (j)
                fputs(", ", out);
            put_str(out, sc->tags.v[j]);
        }
        fputs("]\n    config: ", out);
        if (sc->n_kv)
            put_kv_tree(out, sc->kv, 0, sc->n_kv, 0, 0);
        else
            fputs("{}", out);
        fputc('\n', out);
    }
}

static void put_sinks(FILE *out, const char *section, const vn_sink_config_t *arr, size_t n)
{
    if (n == 0) {
        fprintf(out, "%s: []\n", section);
        return;
    }
    fprintf(out, "%s:\n", section);
    for (size_t i = 0; i < n; i++) {
        const vn_sink_config_t *sc = &arr[i];
        fputs("  - kind: ", out);
        put_str(out, sc->kind);
        fputs("\n    name: ", out);
        put_str(out, sc->name);
        fprintf(out, "\n    max_name_length: %d\n    max_tag_length: %d\n    max_tags: %d\n", sc->max_name_length,
                sc->max_tag_length, sc->max_tags);
        fputs("    strip_tags: ", out);
        put_tag_matchers(out, sc->strip_tags, sc->n_strip_tags);
        fputs("\n    add_tags: {", out);
        for (size_t j = 0; j < sc->n_add_tags; j++) {
            if (j)
                fputs(", ", out);
            put_str(out, sc->add_tags[j].key);
            fputs(": ", out);
            put_str(out, sc->add_tags[j].value);
        }
        fputs("}\n    config: ", out);
        if (sc->n_kv)
            put_kv_tree(out, sc->kv, 0, sc->n_kv, 0, 0);
        else
            fputs("{}", out);
        fputc('\n', out);
    }
}

static void put_routing(FILE *out, const vn_config_t *c)
{
    if (c->n_metric_sink_routing == 0) {
        fputs("metric_sink_routing: []\n", out);
        return;
    }
    fputs("metric_sink_routing:\n", out);
    for (size_t i = 0; i < c->n_metric_sink_routing; i++) {
        const vn_sink_routing_t *r = &c->metric_sink_routing[i];
        fputs("  - name: ", out);
        put_str(out, r->name);
        fputs("\n    match: [", out);
        for (size_t j = 0; j < r->n_match; j++) {
            fputs(j ? ", {name: {kind: " : "{name: {kind: ", out);
            put_str(out, r->match[j].name_kind);
            fputs(", value: ", out);
            put_str(out, r->match[j].name_value);
            fputs("}, tags: ", out);
            put_tag_matchers(out, r->match[j].tags, r->match[j].n_tags);
            fputc('}', out);
        }
        fputs("]\n    sinks: {matched: ", out);
        put_strlist(out, &r->matched);
        fputs(", not_matched: ", out);
        put_strlist(out, &r->not_matched);
        fputs("}\n", out);
    }
}

static void put_value(FILE *out, const vn_config_t *c, const vn_config_key_t *k)
{
    const char *base = (const char *)c + k->off;
    char buf[48];
    switch (k->type) {
    case VN_KT_STR: {
        const char *s = *(char *const *)(const void *)base;
        put_secret(out, s ? s : "", (k->flags & VN_KF_SECRET) != 0);
        break;
    }
    case VN_KT_INT:
        fprintf(out, "%d", *(const int *)(const void *)base);
        break;
    case VN_KT_LONG:
        fprintf(out, "%ld", *(const long *)(const void *)base);
        break;
    case VN_KT_BOOL:
        fputs(*(const bool *)(const void *)base ? "true" : "false", out);
        break;
    case VN_KT_DURATION:
        vn_cfg__format_duration(*(const double *)(const void *)base, buf, sizeof buf);
        fputs(buf, out);
        break;
    case VN_KT_STRLIST:
    case VN_KT_URLLIST:
        put_strlist(out, (const vn_strlist_t *)(const void *)base);
        break;
    case VN_KT_FLOATLIST:
        fputc('[', out);
        for (size_t i = 0; i < c->n_percentiles; i++) {
            if (i)
                fputs(", ", out);
            put_double(out, c->percentiles[i]);
        }
        fputc(']', out);
        break;
    case VN_KT_AGGS: {
        static const char *const names[] = {"min", "max", "median", "avg", "count", "sum", "hmean"};
        fputc('[', out);
        bool first = true;
        for (unsigned b = 0; b < 7; b++) {
            if (c->aggregates & (1u << b)) {
                fprintf(out, "%s%s", first ? "" : ", ", names[b]);
                first = false;
            }
        }
        fputc(']', out);
        break;
    }
    default:
        break;
    }
}

void vn_config_dump(const vn_config_t *cfg, FILE *out) { vn_config_dump_opts(cfg, out, false); }

static void dump(const vn_config_t *cfg, FILE *out);

void vn_config_dump_opts(const vn_config_t *cfg, FILE *out, bool print_secrets)
{
    if (!cfg || !out)
        return;
    t_print_secrets = print_secrets;
    dump(cfg, out);
    t_print_secrets = false;
}

static void dump(const vn_config_t *cfg, FILE *out)
{
    fputs(t_print_secrets ? "# veneur-c effective configuration (-print-secrets: secrets shown)\n"
                          : "# veneur-c effective configuration (secrets redacted)\n",
          out);
    const char *group = NULL;
    size_t glen = 0;
    for (size_t i = 0; i < vn_config_nkeys; i++) {
        const vn_config_key_t *k = &vn_config_keys[i];
        if (k->flags & VN_KF_NODUMP || k->type == VN_KT_IGNORED || k->type == VN_KT_V13)
            continue;
        /* a key with no effect is not part of the effective config (and would
         * make the dump fail -validate-config-strict) */
        if (vn_cfg_unimplemented(&vn_config_schema, k->key))
            continue;
        if (k->type == VN_KT_SINKS) {
            group = NULL;
            bool span = strcmp(k->key, "span_sinks") == 0;
            put_sinks(out, k->key, span ? cfg->span_sinks : cfg->metric_sinks,
                      span ? cfg->n_span_sinks : cfg->n_metric_sinks);
            continue;
        }
        if (k->type == VN_KT_SOURCES) {
            group = NULL;
            put_sources(out, cfg->sources, cfg->n_sources);
            continue;
        }
        if (k->type == VN_KT_ROUTING) {
            group = NULL;
            put_routing(out, cfg);
            continue;
        }
        const char *dot = strchr(k->key, '.');
        if (dot) {
            size_t n = (size_t)(dot - k->key);
            if (!group || glen != n || strncmp(group, k->key, n) != 0) {
                fprintf(out, "%.*s:\n", (int)n, k->key);
                group = k->key;
                glen = n;
            }
            fprintf(out, "  %s: ", dot + 1);
        } else {
            group = NULL;
            fprintf(out, "%s: ", k->key);
        }
        put_value(out, cfg, k);
        fputc('\n', out);
    }
}
