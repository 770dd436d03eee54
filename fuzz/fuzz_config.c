/*
 * fuzz_config.c - libFuzzer target for src/config/config.h.
 *
 * The input is a YAML file: loaded with no environment, both lenient and strict.
 * Invariants for any input: no crash or leak; an error leaves *out NULL and a
 * one-line "config: ..." message; a loaded config satisfies the documented
 * post-conditions (strings non-NULL, num_* >= 1, interval > 0, every sink has a
 * kind and a name), and its dump loads back (the dump is what /config/yaml serves).
 * Nesting: inputs that nest flow collections past VN_CONFIG_MAX_YAML_DEPTH must be
 * refused (the cap keeps loading linear; seeds deep_*.yaml start the fuzzer there,
 * and the dict has the brackets). Messages are never empty and name a key.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    vn_log_set_level(VN_LOG_ERROR); /* unknown-key warnings would flood the output */
    return 0;
}

static void check_err(vn_err_t err, const vn_config_t *cfg, const char *msg)
{
    if (err == VN_OK)
        return;
    if (err != VN_ERR_CONFIG || cfg != NULL || strncmp(msg, "config: ", 8) != 0 || strchr(msg, '\n'))
        abort();
    /* never an empty or truncated-looking message, never an unnamed key */
    size_t n = strlen(msg);
    if (n < 8 + 6 || msg[n - 1] == ':' || msg[n - 1] == ' ' || strstr(msg, "key \"\":"))
        abort();
}

/* The nesting cap is what keeps libyaml linear (its scanner is quadratic in the
 * flow depth): an input that nests flow collections past VN_CONFIG_MAX_YAML_DEPTH
 * must be refused. Counted exactly only on a plain subset of YAML where a bracket
 * cannot hide in a scalar (no quotes, block scalars, comments, tags, anchors,
 * escapes or document markers; inside a flow collection a plain scalar cannot
 * hold brackets; outside, one opens a collection only at the very start or after
 * "key: ", since a "- [" line may continue a plain scalar). Other inputs are not
 * checked (false). */
static bool flow_too_deep(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("\"'|>#!&*%\\\t@`", d[i]) && d[i] != '\0')
            return false;
    if (memmem(d, n, "---", 3) || memmem(d, n, "...", 3) || memchr(d, '\0', n))
        return false;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        if (depth > 0) {
            if (c == '[' || c == '{') {
                if (++depth > VN_CONFIG_MAX_YAML_DEPTH)
                    return true;
            } else if (c == ']' || c == '}') {
                depth--;
            }
            continue;
        }
        if (c != '[' && c != '{')
            continue;
        size_t j = i;
        while (j > 0 && d[j - 1] == ' ')
            j--;
        bool opens = i == 0;
        if (j > 0 && j < i && d[j - 1] == ':')
            opens = true; /* "key: [" */
        if (opens)
            depth = 1;
    }
    return false;
}

static void check_cfg(const vn_config_t *c)
{
    if (!c->hostname || !c->http_address || !c->tls_key || !c->forward_address)
        abort();
    if (c->num_workers < 1 || c->num_readers < 1 || !(c->interval_s > 0) || c->aggregates == 0)
        abort();
    if (c->metric_max_length <= 0 || c->read_buffer_size_bytes <= 0)
        abort();
    for (size_t i = 0; i < c->n_percentiles; i++)
        if (!(c->percentiles[i] > 0 && c->percentiles[i] <= 1))
            abort();
    for (size_t i = 0; i < c->n_metric_sinks; i++) {
        const vn_sink_config_t *s = &c->metric_sinks[i];
        if (!s->kind || !*s->kind || !s->name || !*s->name)
            abort();
        for (size_t k = 0; k < s->n_kv; k++)
            if (!s->kv[k].key || !s->kv[k].value || vn_sink_config_get(s, s->kv[k].key) == NULL)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    bool too_deep = flow_too_deep(data, size);
    for (int strict = 0; strict < 2; strict++) {
        vn_config_t *cfg = (vn_config_t *)1;
        vn_err_t rc = vn_config_load((const char *)data, size, NULL, strict, &cfg, err, sizeof err);
        check_err(rc, cfg, err);
        if (rc == VN_OK && too_deep)
            abort(); /* nesting past the cap was accepted */
        if (rc != VN_OK)
            continue;
        check_cfg(cfg);
        if (strict) {
            char *buf = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&buf, &len);
            if (!f)
                abort();
            vn_config_dump(cfg, f);
            fclose(f);
            vn_config_t *again = NULL;
            if (vn_config_load(buf, len, NULL, true, &again, err, sizeof err) != VN_OK)
                abort(); /* the dump of a valid config must itself be valid */
            check_cfg(again);
            if (again->n_metric_sinks != cfg->n_metric_sinks)
                abort();
            vn_config_free(again);
            free(buf);
        }
        vn_config_free(cfg);
    }
    return 0;
}
