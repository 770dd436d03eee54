/*
 * fuzz_config.c - libFuzzer target for src/config/config.h.
 *
 * The input is a YAML file: loaded with no environment, both lenient and strict.
 * Invariants for any input: no crash or leak; an error leaves *out NULL and a
 * one-line "config: ..." message; a loaded config satisfies the documented
 * post-conditions (strings non-NULL, num_* >= 1, interval > 0, every sink has a
 * kind and a name), and its dump loads back (the dump is what /config/yaml serves).
 */
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
    for (int strict = 0; strict < 2; strict++) {
        vn_config_t *cfg = (vn_config_t *)1;
        vn_err_t rc = vn_config_load((const char *)data, size, NULL, strict, &cfg, err, sizeof err);
        check_err(rc, cfg, err);
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
