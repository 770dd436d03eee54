/**
 * config.c - vn_config_load: YAML file -> VENEUR_* env -> defaults -> validation.
 *
 * Order (docs/behaviour.md 4.1): the table defaults that are not "zero means default"
 * (flush_on_shutdown, num_*) are set first; the first YAML document is applied
 * key by key through the table (config_keys.c); then every key with a Go field
 * is looked up in the environment (set-but-empty still overrides); then Go's
 * ApplyDefaults (zero -> default), normalisation, validation, the per-sink env
 * overrides, and last the [v13] flat keys become metric_sinks entries.
 *
 * Messages are one line, start with "config: ", name the key and the bad value,
 * and never contain the value of a secret (see vn_cfg__key_is_secret).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "parse/dogstatsd.h"

const char vn_config_default_yaml[] =
    "# veneur-c embedded default configuration (used when no -f is given)\n"
    "statsd_listen_addresses:\n"
    "  - udp://127.0.0.1:8126\n"
    "http_address: 127.0.0.1:8127\n"
    "interval: 10s\n"
    "percentiles: [0.5, 0.75, 0.99]\n"
    "aggregates: [min, max, count]\n"
    "# hostname: defaults to the machine's hostname\n"
    "omit_empty_hostname: false\n"
    "flush_on_shutdown: true\n"
    "metric_sinks:\n"
    "  - kind: debug\n"
    "    name: debug\n";

/* ---------------------------------------------------------------- messages */

vn_err_t vn_cfg__errf(vn_cfg_loader_t *ld, const char *fmt, ...)
{
    if (ld->failed)
        return VN_ERR_CONFIG;
    ld->failed = true;
    if (ld->err && ld->errcap) {
        int n = snprintf(ld->err, ld->errcap, "config: ");
        if (n > 0 && (size_t)n < ld->errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ld->err + n, ld->errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return VN_ERR_CONFIG;
}

bool vn_config_url_userinfo(const char *v, size_t *start, size_t *end)
{
    const char *sep = v ? strstr(v, "://") : NULL;
    if (!sep)
        return false;
    const char *auth = sep + 3;
    size_t al = strcspn(auth, "/?#");
    const char *at = NULL; /* the last '@': a password may contain an unescaped '@' */
    for (const char *q = auth; q < auth + al; q++)
        if (*q == '@')
            at = q;
    if (!at || at == auth)
        return false; /* no userinfo, or an empty one: nothing to hide */
    *start = (size_t)(auth - v);
    *end = (size_t)(at - v);
    return true;
}

/* A query parameter whose value is a secret: a secret key word in its name
 * (api_key, access_token, password, client_secret, key, auth, ...), or sig/pwd/pass. */
static bool query_name_is_secret(const char *name, size_t len)
{
    char low[VN_CFG_MAX_KEY + 1];
    if (len == 0 || len > VN_CFG_MAX_KEY)
        return len > 0; /* an over-long name is not worth guessing about */
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[len] = '\0';
    return vn_cfg__key_is_secret(low) || strstr(low, "pass") || strstr(low, "signature") || strcmp(low, "sig") == 0 ||
           strcmp(low, "pwd") == 0;
}

char *vn_config_redact_url(const char *v)
{
    const char *sep = v ? strstr(v, "://") : NULL;
    if (!sep)
        return NULL;
    size_t n = strlen(v), neq = 0;
    for (const char *p = v; *p; p++)
        neq += *p == '=';
    /* each redaction replaces at least one byte by the 10 of "<redacted>" */
    char *out = vn_xmalloc(n + 10 * (neq + 1) + 1);
    size_t o = 0, i = 0, ui0, ui1;
    bool changed = false;
    if (vn_config_url_userinfo(v, &ui0, &ui1)) {
        memcpy(out, v, ui0);
        memcpy(out + ui0, "<redacted>", 10);
        o = ui0 + 10;
        i = ui1;
        changed = true;
    }
    const char *q = strchr(sep + 3, '?'), *frag = strchr(sep + 3, '#');
    if (q && (!frag || q < frag)) {
        size_t qi = (size_t)(q - v) + 1, end = frag ? (size_t)(frag - v) : n;
        memcpy(out + o, v + i, qi - i);
        o += qi - i;
        i = qi;
        while (i < end) { /* one name[=value] per round, separators copied as they are */
            size_t pend = i;
            while (pend < end && v[pend] != '&' && v[pend] != ';')
                pend++;
            const char *eq = memchr(v + i, '=', pend - i);
            if (eq && (size_t)(eq - v) + 1 < pend && query_name_is_secret(v + i, (size_t)(eq - v) - i)) {
                size_t nl = (size_t)(eq - v) + 1 - i;
                memcpy(out + o, v + i, nl);
                memcpy(out + o + nl, "<redacted>", 10);
                o += nl + 10;
                changed = true;
            } else {
                memcpy(out + o, v + i, pend - i);
                o += pend - i;
            }
            i = pend;
            if (i < end)
                out[o++] = v[i++];
        }
    }
    if (!changed) {
        free(out);
        return NULL;
    }
    memcpy(out + o, v + i, n - i + 1);
    return out;
}

const char *vn_cfg__show(const char *v, bool secret, char *buf, size_t cap)
{
    if (secret) {
        snprintf(buf, cap, "<redacted>");
        return buf;
    }
    char *hidden = vn_config_redact_url(v); /* https://<redacted>@host/?api_key=<redacted> */
    if (hidden)
        v = hidden;
    size_t n = 0;
    const size_t limit = cap > 24 ? cap - 16 : 0; /* room for an escape and "..." */
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (n >= limit) {
            memcpy(buf + n, "...", 4);
            free(hidden);
            return buf;
        }
        if (*p == '"' || *p == '\\')
            n += (size_t)snprintf(buf + n, cap - n, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", *p);
        else
            buf[n++] = (char)*p;
    }
    buf[n] = '\0';
    free(hidden);
    return buf;
}

bool vn_cfg__key_is_secret(const char *key)
{
    static const char *const words[] = {"key", "token", "password", "passwd", "secret", "credential", "auth", "dsn"};
    char low[VN_CFG_MAX_KEY + 1];
    size_t n = 0;
    for (; key[n] && n < VN_CFG_MAX_KEY; n++)
        low[n] = (char)tolower((unsigned char)key[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(low, words[i]))
            return true;
    return false;
}

const char *vn_cfg__getenv(char *const *envp, const char *name)
{
    if (!envp)
        return NULL;
    size_t n = strlen(name);
    for (; *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* ---------------------------------------------------------------- YAML */

static vn_err_t load_root(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *root)
{
    char path[256];
    if (vn_cfg__is_null(root))
        return VN_OK;
    if (root->type != YAML_MAPPING_NODE)
        return vn_cfg__errf(ld, "the top level must be a mapping of keys (line %zu)", root->start_mark.line + 1);
    vn_cfg_pair_t *ps;
    size_t pn;
    vn_err_t err = vn_cfg__map_pairs(ld, doc, root, "", &ps, &pn);
    for (size_t i = 0; i < pn && err == VN_OK; i++) {
        const char *k = ps[i].key;
        yaml_node_t *v = ps[i].val;
        /* "features.x" is only reachable nested, as in Go */
        const vn_config_key_t *kt = strchr(k, '.') ? NULL : vn_cfg__schema_find(ld->schema, k);
        if (kt) {
            err = vn_cfg__set_from_node(ld, kt, doc, v);
        } else if (vn_cfg__schema_is_group(ld->schema, k)) {
            if (vn_cfg__is_null(v))
                continue;
            vn_cfg_pair_t *ps2;
            size_t pn2;
            err = vn_cfg__map_pairs(ld, doc, v, k, &ps2, &pn2);
            for (size_t j = 0; j < pn2 && err == VN_OK; j++) {
                snprintf(path, sizeof path, "%s.%s", k, ps2[j].key);
                kt = vn_cfg__schema_find(ld->schema, path);
                err = kt ? vn_cfg__set_from_node(ld, kt, doc, ps2[j].val) : vn_cfg__unknown_key(ld, path);
            }
        } else {
            err = vn_cfg__unknown_key(ld, k);
        }
    }
    return err;
}

/* The message for a failed parse, without the "config: " prefix. libyaml's
 * problem/context texts are fixed strings, never input bytes; an empty or
 * missing one still gets a word, so no message ends in ": ". */
static void yaml_error_text(const yaml_parser_t *p, char *buf, size_t cap)
{
    const char *problem = p->problem && p->problem[0] ? p->problem : "malformed document";
    if (p->error == YAML_MEMORY_ERROR)
        snprintf(buf, cap, "YAML error: out of memory");
    else if (p->error == YAML_READER_ERROR)
        snprintf(buf, cap, "YAML error at byte %zu: %s", p->problem_offset, problem);
    else
        snprintf(buf, cap, "YAML error at line %zu column %zu: %s%s%s", p->problem_mark.line + 1,
                 p->problem_mark.column + 1, problem, p->context && p->context[0] ? " " : "",
                 p->context && p->context[0] ? p->context : "");
}

/* Streams every document's events once and refuses nesting deeper than
 * VN_CONFIG_MAX_YAML_DEPTH before the document is built: libyaml's scanner does
 * work proportional to the open flow levels for every token, so "[[[[..." of a
 * few MB would take hours; capped, loading stays linear in the input. */
vn_err_t vn_config_yaml_check(const char *yaml, size_t len, char *errbuf, size_t errcap)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        snprintf(errbuf, errcap, "cannot initialise the YAML parser");
        return VN_ERR_CONFIG;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    vn_err_t err = VN_OK;
    int depth = 0;
    for (bool done = false; !done && err == VN_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            yaml_error_text(&p, errbuf, errcap);
            err = VN_ERR_CONFIG;
            break;
        }
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > VN_CONFIG_MAX_YAML_DEPTH) {
                snprintf(errbuf, errcap, "YAML nested too deeply at line %zu column %zu (max %d levels)",
                         ev.start_mark.line + 1, ev.start_mark.column + 1, VN_CONFIG_MAX_YAML_DEPTH);
                err = VN_ERR_CONFIG;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        /* Only the first document is used, but every one is checked: text after it that does not
         * parse, or nests too deeply, is refused rather than silently ignored. */
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return err;
}

static vn_err_t check_depth(vn_cfg_loader_t *ld, const char *yaml, size_t len)
{
    char msg[256];
    if (vn_config_yaml_check(yaml, len, msg, sizeof msg) == VN_OK)
        return VN_OK;
    return vn_cfg__errf(ld, "%s", msg);
}

vn_err_t vn_cfg_loader_yaml(vn_cfg_loader_t *ld, const char *yaml, size_t len)
{
    if (!yaml || !len)
        return VN_OK;
    if (memmem(yaml, len, "{{", 2))
        VN_LOG(WARN, "event=config_template_unsupported msg=\"the file contains {{ but text/template "
                     "expansion is not implemented; the text is used as is\"");
    vn_err_t err = check_depth(ld, yaml, len);
    if (err != VN_OK)
        return err;
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return vn_cfg__errf(ld, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&p, &doc)) {
        char msg[256];
        yaml_error_text(&p, msg, sizeof msg);
        yaml_parser_delete(&p);
        return vn_cfg__errf(ld, "%s", msg);
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root)
        err = load_root(ld, &doc, root);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return err;
}

/* ---------------------------------------------------------------- env */

vn_err_t vn_cfg_loader_env(vn_cfg_loader_t *ld)
{
    char name[160];
    for (size_t i = 0; i < ld->schema->nkeys; i++) {
        const vn_config_key_t *k = &ld->schema->keys[i];
        if (!k->gofield)
            continue;
        vn_cfg_env_name(ld->schema, k, name, sizeof name);
        const char *v = vn_cfg__getenv(ld->envp, name);
        if (v) {
            if (*v)
                vn_cfg__mark_set(ld, k);
            vn_err_t err = vn_cfg__set_from_env(ld, k, v, name);
            if (err != VN_OK)
                return err;
        }
    }
    return VN_OK;
}

/* ---------------------------------------------------------------- validation */

/* Checks each listen URL's scheme like Go's url.Parse + protocol.ResolveAddr, and
 * lower-cases the scheme in place (Go's url.URL.Scheme is lower-case). */
static vn_err_t check_listen(vn_cfg_loader_t *ld, const char *key, vn_strlist_t *l)
{
    static const char *const fams[] = {"udp", "udp4", "udp6", "tcp", "tcp4", "tcp6", "unix", "unixgram"};
    char shown[160], scheme[32];
    for (size_t i = 0; i < l->n; i++) {
        char *u = l->v[i];
        /* Go url.Parse: scheme = ALPHA *(ALPHA / DIGIT / "+" / "-" / ".") before ':', lower-cased */
        size_t n = 0;
        bool ok = isalpha((unsigned char)u[0]);
        while (ok && u[n] && u[n] != ':') {
            unsigned char c = (unsigned char)u[n];
            ok = isalnum(c) || c == '+' || c == '-' || c == '.';
            n++;
        }
        if (!ok || u[n] != ':') {
            const char *colon = strchr(u, ':'), *slash = strchr(u, '/');
            if (colon && (!slash || colon < slash))
                return vn_cfg__errf(ld, "key \"%s\": parse \"%s\": first path segment in URL cannot contain colon",
                                    key, vn_cfg__show(u, false, shown, sizeof shown));
            n = 0; /* no scheme */
        }
        if (n >= sizeof scheme)
            n = sizeof scheme - 1;
        for (size_t j = 0; j < n; j++)
            scheme[j] = u[j] = (char)tolower((unsigned char)u[j]);
        scheme[n] = '\0';
        bool known = false;
        for (size_t j = 0; j < sizeof fams / sizeof fams[0]; j++)
            known = known || strcmp(scheme, fams[j]) == 0;
        if (!known)
            return vn_cfg__errf(ld, "key \"%s\": unknown address family \"%s\" on address \"%s\"", key, scheme,
                                vn_cfg__show(u, false, shown, sizeof shown));
    }
    return VN_OK;
}

/* otlp_listen_addresses (veneur-c): "http://host:port" (OTLP/HTTP) or
 * "grpc://host:port" (OTLP/gRPC, h2c) entries (otlp/server.h); the port is
 * required (4318 and 4317 are only conventions) and nothing may follow it. */
static vn_err_t check_otlp_listen(vn_cfg_loader_t *ld, const vn_strlist_t *l)
{
    char shown[160];
    for (size_t i = 0; i < l->n; i++) {
        const char *u = l->v[i];
        const char *hp = strncasecmp(u, "http://", 7) == 0 ? u + 7 : strncasecmp(u, "grpc://", 7) == 0 ? u + 7 : NULL;
        const char *colon = hp ? strrchr(hp, ':') : NULL;
        bool ok = hp && *hp && colon && colon[1] && strcspn(hp, "/?#@") == strlen(hp);
        for (const char *q = colon ? colon + 1 : ""; ok && *q; q++)
            ok = *q >= '0' && *q <= '9';
        if (!ok)
            return vn_cfg__errf(ld,
                                "key \"otlp_listen_addresses\": want \"http://host:port\" or \"grpc://host:port\", "
                                "got \"%s\"",
                                vn_cfg__show(u, false, shown, sizeof shown));
    }
    return VN_OK;
}

bool vn_config_port_ok(const char *v)
{
    const char *h = v ? strstr(v, "://") : NULL;
    if (!v)
        return true;
    h = h ? h + 3 : v;
    size_t hl = strcspn(h, "/?#");
    const char *at = NULL;
    for (const char *q = h; q < h + hl; q++)
        if (*q == '@')
            at = q;
    if (at) {
        hl -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    const char *rb = memchr(h, ']', hl);
    const char *from = rb ? rb : h, *colon = NULL;
    for (const char *q = from; q < h + hl; q++)
        if (*q == ':')
            colon = q;
    if (!colon || colon + 1 == h + hl)
        return true;
    unsigned long port = 0;
    for (const char *q = colon + 1; q < h + hl; q++) {
        if (*q < '0' || *q > '9')
            return true;
        if (port <= 65535)
            port = port * 10 + (unsigned long)(*q - '0');
    }
    return port <= 65535;
}

static vn_err_t check_port(vn_cfg_loader_t *ld, const char *key, const char *v)
{
    char shown[160];
    if (vn_config_port_ok(v))
        return VN_OK;
    return vn_cfg__errf(ld, "key \"%s\": invalid port in address \"%s\" (must be 0 to 65535)", key,
                        vn_cfg__show(v, false, shown, sizeof shown));
}

static vn_err_t check_ports(vn_cfg_loader_t *ld)
{
    const vn_config_t *c = ld->cfg;
    vn_err_t err = VN_OK;
    for (size_t i = 0; i < vn_config_nkeys && err == VN_OK; i++) {
        const vn_config_key_t *k = &vn_config_keys[i];
        size_t kl = strlen(k->key);
        bool addr = strstr(k->key, "address") || strstr(k->key, "endpoint") || strstr(k->key, "broker") ||
                    (kl > 9 && strcmp(k->key + kl - 9, "_hostname") == 0);
        if (!addr)
            continue;
        const void *f = (const char *)c + k->off;
        if (k->type == VN_KT_STR) {
            const char *v = *(char *const *)f;
            if (v && *v)
                err = check_port(ld, k->key, v);
        } else if (k->type == VN_KT_STRLIST || k->type == VN_KT_URLLIST) {
            const vn_strlist_t *l = f;
            for (size_t j = 0; j < l->n && err == VN_OK; j++)
                err = check_port(ld, k->key, l->v[j]);
        }
    }
    return err;
}

/* Every metric carries the implicit tags, and a line with more than
 * VN_PARSE_MAX_TAGS tags in total is rejected by the parser: more implicit tags
 * than that would silently drop every metric, so the config is refused. */
static vn_err_t check_implicit_tags(vn_cfg_loader_t *ld)
{
    const vn_strlist_t *t = &ld->cfg->extend_tags;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->v[i][0] != '\0';
    if (n > VN_PARSE_MAX_TAGS)
        return vn_cfg__errf(ld, "key \"extend_tags\" (with \"tags\"): %zu implicit tags, at most %d (every metric "
                                "carries them and a metric with more than %d tags in total is rejected)",
                            n, VN_PARSE_MAX_TAGS, VN_PARSE_MAX_TAGS);
    if (n > VN_PARSE_MAX_TAGS / 2)
        VN_LOG(WARN, "event=config_many_implicit_tags n=%zu msg=\"metrics with more than %zu tags of their own "
                     "will be rejected\"", n, (size_t)VN_PARSE_MAX_TAGS - n);
    return VN_OK;
}

static vn_err_t check_nonneg(vn_cfg_loader_t *ld, const char *key, long v)
{
    if (v < 0)
        return vn_cfg__errf(ld, "key \"%s\": invalid value \"%ld\" (must be >= 0)", key, v);
    return VN_OK;
}

static vn_err_t validate(vn_cfg_loader_t *ld)
{
    vn_config_t *c = ld->cfg;
    char shown[160], dur[48];
    vn_err_t err = VN_OK;
    if (c->interval_s < 0) {
        vn_cfg__format_duration(c->interval_s, dur, sizeof dur);
        return vn_cfg__errf(ld, "key \"interval\": invalid duration \"%s\" (must be > 0)", dur);
    }
    if ((err = check_nonneg(ld, "metric_max_length", c->metric_max_length)) ||
        (err = check_nonneg(ld, "read_buffer_size_bytes", c->read_buffer_size_bytes)) ||
        (err = check_nonneg(ld, "trace_max_length_bytes", c->trace_max_length_bytes)) ||
        (err = check_nonneg(ld, "span_channel_capacity", c->span_channel_capacity)) ||
        (err = check_nonneg(ld, "flush_watchdog_missed_flushes", c->flush_watchdog_missed_flushes)) ||
        (err = check_nonneg(ld, "max_series_per_interval", c->max_series_per_interval)) ||
        (err = check_nonneg(ld, "max_event_bytes_per_interval", c->max_event_bytes_per_interval)) ||
        (err = check_nonneg(ld, "max_series_bytes_per_interval", c->max_series_bytes_per_interval)) ||
        (err = check_nonneg(ld, "datadog_flush_max_per_body", c->datadog_flush_max_per_body)))
        return err;
    if (c->metric_max_length > VN_CFG_MAX_METRIC_LENGTH)
        return vn_cfg__errf(ld, "key \"metric_max_length\": invalid value \"%d\" (max %d)", c->metric_max_length,
                            VN_CFG_MAX_METRIC_LENGTH);
    if (*c->tls_key && !*c->tls_certificate)
        return vn_cfg__errf(ld, "tls_key is set; must set tls_certificate");
    if ((*c->tls_ca_file || *c->tls_cert_file || *c->tls_key_file) &&
        !(*c->tls_ca_file && *c->tls_cert_file && *c->tls_key_file))
        return vn_cfg__errf(ld, "key \"tls\": ca_file, cert_file, and key_file must all be set");
    const struct {
        const char *key, *val;
    } scopes[] = {{"veneur_metrics_scopes.counter", c->veneur_metrics_scopes_counter},
                  {"veneur_metrics_scopes.gauge", c->veneur_metrics_scopes_gauge},
                  {"veneur_metrics_scopes.histogram", c->veneur_metrics_scopes_histogram},
                  {"veneur_metrics_scopes.set", c->veneur_metrics_scopes_set},
                  {"veneur_metrics_scopes.status", c->veneur_metrics_scopes_status}};
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) {
        const char *v = scopes[i].val;
        if (*v && strcmp(v, "default") && strcmp(v, "local") && strcmp(v, "global"))
            return vn_cfg__errf(ld, "key \"%s\": unknown metric scope option \"%s\"", scopes[i].key,
                                vn_cfg__show(v, false, shown, sizeof shown));
    }
    if ((err = check_listen(ld, "statsd_listen_addresses", &c->statsd_listen_addresses)) ||
        (err = check_listen(ld, "ssf_listen_addresses", &c->ssf_listen_addresses)) ||
        (err = check_listen(ld, "grpc_listen_addresses", &c->grpc_listen_addresses)) ||
        (err = check_otlp_listen(ld, &c->otlp_listen_addresses)))
        return err;
    if ((err = check_ports(ld)) || (err = check_implicit_tags(ld)))
        return err;
    return VN_OK;
}

/* Warnings only: Go accepts both (the second sink of a name is unreachable by routing). */
static void check_sink_names(const vn_config_t *c)
{
    char shown[160];
    for (size_t i = 0; i < c->n_metric_sinks; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->metric_sinks[i].name, c->metric_sinks[j].name) == 0)
                VN_LOG(WARN, "event=config_duplicate_sink_name name=\"%s\"",
                       vn_cfg__show(c->metric_sinks[i].name, false, shown, sizeof shown));
    for (size_t r = 0; r < c->n_metric_sink_routing; r++) {
        const vn_sink_routing_t *rt = &c->metric_sink_routing[r];
        const vn_strlist_t *ls[] = {&rt->matched, &rt->not_matched};
        for (size_t li = 0; li < 2; li++)
            for (size_t k = 0; k < ls[li]->n; k++) {
                bool found = false;
                for (size_t s = 0; s < c->n_metric_sinks && !found; s++)
                    found = strcmp(c->metric_sinks[s].name, ls[li]->v[k]) == 0;
                if (!found)
                    VN_LOG(WARN, "event=config_routing_unknown_sink routing=%zu sink=\"%s\"", r,
                           vn_cfg__show(ls[li]->v[k], false, shown, sizeof shown));
            }
    }
}

static vn_err_t finish(vn_cfg_loader_t *ld)
{
    vn_config_t *c = ld->cfg;
    /* every string field is non-NULL from here on */
    for (size_t i = 0; i < vn_config_nkeys; i++) {
        const vn_config_key_t *k = &vn_config_keys[i];
        char **p = (char **)(void *)((char *)c + k->off);
        if (k->type == VN_KT_STR && !*p)
            *p = vn_xstrdup("");
    }
    /* [v13] `tags`: appended to extend_tags (v13 added them at flush, v14 at parse; same series) */
    if (c->v13_tags.n) {
        c->extend_tags.v = vn_xrealloc(c->extend_tags.v, (c->extend_tags.n + c->v13_tags.n) * sizeof(char *));
        for (size_t i = 0; i < c->v13_tags.n; i++)
            c->extend_tags.v[c->extend_tags.n++] = vn_xstrdup(c->v13_tags.v[i]);
    }
    vn_cfg__apply_zero_defaults(c);
    if (c->num_readers <= 0) /* docs/behaviour.md 0.7 */
        c->num_readers = 1;
    if (c->num_workers <= 0)
        c->num_workers = 1;
    if (c->num_span_workers <= 0)
        c->num_span_workers = 1;
    if (!*c->hostname && !c->omit_empty_hostname) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) == 0) {
            host[sizeof host - 1] = '\0';
            free(c->hostname);
            c->hostname = vn_xstrdup(host);
        }
    }
    vn_err_t err = validate(ld);
    if (err != VN_OK)
        return err;
    for (size_t i = 0; i < c->n_metric_sinks; i++)
        vn_cfg__apply_sink_env(ld, &c->metric_sinks[i], false);
    for (size_t i = 0; i < c->n_span_sinks; i++)
        vn_cfg__apply_sink_env(ld, &c->span_sinks[i], true);
    if ((err = vn_cfg__translate_v13(ld)) != VN_OK)
        return err;
    check_sink_names(c);
    return VN_OK;
}

/* ---------------------------------------------------------------- public API */

vn_cfg_loader_t *vn_cfg_loader_new(const vn_config_schema_t *schema, void *obj, char *const *envp, bool strict,
                                   char *err, size_t errcap)
{
    vn_cfg_loader_t *ld = vn_xcalloc(1, sizeof *ld);
    ld->schema = schema;
    ld->obj = obj;
    ld->cfg = schema == &vn_config_schema ? obj : NULL;
    ld->strict = strict;
    ld->err = err;
    ld->errcap = errcap;
    ld->envp = envp;
    ld->set = vn_xcalloc(schema->nkeys ? schema->nkeys : 1, sizeof *ld->set);
    if (err && errcap)
        err[0] = '\0';
    return ld;
}

void vn_cfg_loader_free(vn_cfg_loader_t *ld)
{
    if (!ld)
        return;
    for (int i = 0; i < VN_V13__N; i++)
        vn_cfg__kvvec_free(&ld->v13[i]);
    for (size_t i = 0; i < ld->n_arena; i++)
        free(ld->arena[i]);
    free(ld->arena);
    free(ld->set);
    free(ld);
}

vn_err_t vn_config_load(const char *yaml, size_t yaml_len, char *const *envp, bool strict, vn_config_t **out,
                        char *errbuf, size_t errcap)
{
    *out = NULL;
    vn_config_t *cfg = vn_xcalloc(1, sizeof *cfg);
    vn_cfg__init_defaults(cfg);
    vn_cfg_loader_t *ld = vn_cfg_loader_new(&vn_config_schema, cfg, envp, strict, errbuf, errcap);
    if (strict) /* veneur is strict only to validate (-validate-config-strict) */
        vn_cfg_loader_fail_unimplemented(ld);
    vn_err_t err = vn_cfg_loader_yaml(ld, yaml, yaml_len);
    if (err == VN_OK)
        err = vn_cfg_loader_env(ld);
    if (err == VN_OK)
        err = finish(ld);
    if (err == VN_OK)
        err = vn_cfg_loader_verdicts(ld);
    if (err != VN_OK && !ld->failed)
        vn_cfg__errf(ld, "%s", vn_strerror(err));
    vn_cfg_loader_free(ld);
    if (err != VN_OK) {
        vn_config_free(cfg);
        return VN_ERR_CONFIG;
    }
    *out = cfg;
    return VN_OK;
}

vn_err_t vn_cfg_read_file(const char *path, size_t max, char **out, size_t *out_len, char *errbuf, size_t errcap)
{
    char shown[160];
    vn_cfg_loader_t ld = {.err = errbuf, .errcap = errcap};
    *out = NULL;
    *out_len = 0;
    /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; such
     * files are refused below, regular files ignore the flag */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return vn_cfg__errf(&ld, "cannot open \"%s\": %s", vn_cfg__show(path, false, shown, sizeof shown),
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vn_cfg__errf(&ld, "cannot read \"%s\": not a regular file",
                            vn_cfg__show(path, false, shown, sizeof shown));
    }
    if (st.st_size > (off_t)max) {
        close(fd);
        return vn_cfg__errf(&ld, "cannot read \"%s\": larger than %zu bytes",
                            vn_cfg__show(path, false, shown, sizeof shown), max);
    }
    size_t cap = (size_t)st.st_size, len = 0; /* what the file held when opened */
    char *buf = vn_xmalloc(cap + 1);
    while (len < cap) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return vn_cfg__errf(&ld, "cannot read \"%s\": %s", vn_cfg__show(path, false, shown, sizeof shown),
                                strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return VN_OK;
}

vn_err_t vn_config_load_file(const char *path, char *const *envp, bool strict, vn_config_t **out, char *errbuf,
                             size_t errcap)
{
    *out = NULL;
    char *buf;
    size_t len;
    vn_err_t err = vn_cfg_read_file(path, VN_CFG_MAX_FILE, &buf, &len, errbuf, errcap);
    if (err != VN_OK)
        return err;
    err = vn_config_load(buf, len, envp, strict, out, errbuf, errcap);
    free(buf);
    return err;
}

vn_config_t *vn_config_new_defaults(void)
{
    vn_config_t *cfg = NULL;
    vn_err_t err = vn_config_load(NULL, 0, NULL, false, &cfg, NULL, 0);
    (void)err; /* defaults always validate (unit-tested) */
    return cfg;
}

void vn_config_free(vn_config_t *cfg)
{
    if (!cfg)
        return;
    vn_cfg__free_fields(cfg);
    for (size_t i = 0; i < cfg->n_metric_sinks; i++)
        vn_cfg__sink_free(&cfg->metric_sinks[i]);
    free(cfg->metric_sinks);
    for (size_t i = 0; i < cfg->n_span_sinks; i++)
        vn_cfg__sink_free(&cfg->span_sinks[i]);
    free(cfg->span_sinks);
    for (size_t i = 0; i < cfg->n_sources; i++)
        vn_cfg__source_free(&cfg->sources[i]);
    free(cfg->sources);
    for (size_t i = 0; i < cfg->n_metric_sink_routing; i++)
        vn_cfg__routing_free(&cfg->metric_sink_routing[i]);
    free(cfg->metric_sink_routing);
    free(cfg);
}

const char *vn_sink_config_get(const vn_sink_config_t *sc, const char *key)
{
    for (size_t i = 0; i < sc->n_kv; i++)
        if (strcmp(sc->kv[i].key, key) == 0)
            return sc->kv[i].value;
    return NULL;
}

const char *vn_source_config_get(const vn_source_config_t *sc, const char *key)
{
    for (size_t i = 0; i < sc->n_kv; i++)
        if (strcmp(sc->kv[i].key, key) == 0)
            return sc->kv[i].value;
    return NULL;
}

const vn_strlist_t *vn_sink_config_list(const vn_sink_config_t *sc, const char *key)
{
    for (size_t i = 0; i < sc->n_kv; i++)
        if (strcmp(sc->kv[i].key, key) == 0)
            return sc->kv[i].is_list ? &sc->kv[i].list : NULL;
    return NULL;
}
