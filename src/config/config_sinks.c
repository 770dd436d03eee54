/*
 * config_sinks.c - the sink and span sink entries after the YAML: Go's
 * per-sink envconfig overrides (NAME_KEY, with the sink name as prefix) and the
 * [v13] flat keys turned into metric_sinks and span_sinks entries (docs/behaviour.md
 * 0.1 and 4.3). Called from config.c's finish step, after validation.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/log.h"
#include "core/xalloc.h"

/* Sink config keys that Go's sink structs define, so NAME_<KEY> works even
 * when the key is absent from the file (envconfig sets any field). */
static const struct {
    const char *kind, *key;
    bool list;
    bool span; /* a span sink's key (the table is per section) */
} known_sink_keys[] = {
    {"datadog", "api_key", false, false},          {"datadog", "api_hostname", false, false},
    {"datadog", "flush_max_per_body", false, false}, {"datadog", "metric_name_prefix_drops", true, false},
    {"localfile", "flush_file", false, false},     {"localfile", "delimiter", false, false},
    {"localfile", "format", false, false},         {"signalfx", "api_key", false, false},
    {"signalfx", "endpoint_base", false, false},   {"signalfx", "endpoint_api", false, false},
    {"signalfx", "flush_max_per_body", false, false}, {"signalfx", "hostname_tag", false, false},
    {"signalfx", "vary_key_by", false, false},     {"signalfx", "preferred_vary_key_by", false, false},
    {"signalfx", "drop_host_with_tag_key", false, false}, {"signalfx", "metric_name_prefix_drops", true, false},
    {"signalfx", "metric_tag_prefix_drops", true, false}, {"kafka", "broker", false, false},
    {"kafka", "metric_topic", false, false},       {"kafka", "check_topic", false, false},
    {"kafka", "event_topic", false, false},        {"kafka", "metric_require_acks", false, false},
    {"kafka", "partitioner", false, false},        {"kafka", "retry_max", false, false},
    {"prometheus", "repeater_address", false, false}, {"prometheus", "network_type", false, false},
    {"cortex", "url", false, false},               {"cortex", "remote_timeout", false, false},
    {"cortex", "batch_write_size", false, false},
    /* span sinks (Go parses each span sink's config struct with envconfig too) */
    {"datadog", "datadog_trace_api_address", false, true}, {"datadog", "datadog_span_buffer_size", false, true},
    {"kafka", "broker", false, true},        {"kafka", "span_topic", false, true},
    {"kafka", "span_serialization_format", false, true}, {"kafka", "span_sample_tag", false, true},
    {"kafka", "span_sample_rate_percent", false, true}, {"kafka", "span_require_acks", false, true},
    {"kafka", "partitioner", false, true},   {"kafka", "retry_max", false, true},
    {"kafka", "span_buffer_bytes", false, true}, {"kafka", "span_buffer_mesages", false, true},
    {"kafka", "span_buffer_frequency", false, true},
    {"splunk", "hec_address", false, true},  {"splunk", "hec_token", false, true},
    {"splunk", "hec_batch_size", false, true}, {"splunk", "span_sample_rate", false, true},
    {"xray", "address", false, true},        {"xray", "sample_percentage", false, true},
    {"xray", "annotation_tags", true, true}, {"localfile", "flush_file", false, true},
};

/* envconfig name for a flattened sink key: NAME_SEG1_SEG2 with '_' dropped inside
 * segments; false for keys under a list index (envconfig cannot address those). */
static bool sink_env_name(const char *sink, const char *key, char *buf, size_t cap)
{
    size_t n = 0;
    for (const char *p = sink; *p && n + 2 < cap; p++)
        buf[n++] = (char)toupper((unsigned char)*p);
    buf[n++] = '_';
    const char *seg = key;
    while (*seg) {
        const char *end = strchr(seg, '.');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        bool numeric = len > 0;
        for (size_t i = 0; i < len; i++)
            numeric = numeric && isdigit((unsigned char)seg[i]);
        if (numeric || len == 0)
            return false;
        for (size_t i = 0; i < len && n + 2 < cap; i++)
            if (seg[i] != '_')
                buf[n++] = (char)toupper((unsigned char)seg[i]);
        if (!end)
            break;
        if (n + 2 < cap)
            buf[n++] = '_';
        seg = end + 1;
    }
    if (n + 1 >= cap)
        return false;
    buf[n] = '\0';
    return true;
}

/* Sets key to the comma-split list val at position pos of sc->kv (replacing the entry
 * there when replace), and rewrites its items "key.0", "key.1", ... to match. */
static void sink_set_list(vn_cfg_loader_t *ld, vn_sink_config_t *sc, size_t pos, bool replace, const char *key,
                          const char *val)
{
    char ik[VN_CFG_MAX_KEY + 32];
    vn_strlist_t items;
    vn_cfg__split_commas(val, &items);
    char *k = vn_xstrdup(key);
    size_t klen = strlen(k), w = 0;
    vn_kv_t *nv = vn_xcalloc(sc->n_kv + 1 + items.n, sizeof *nv);
    for (size_t j = 0; j <= sc->n_kv; j++) {
        if (j == pos) {
            vn_kv_t *l = &nv[w++];
            l->key = vn_xstrdup(k);
            l->value = vn_cfg__join(&items);
            l->is_list = true;
            l->list.v = vn_xcalloc(items.n ? items.n : 1, sizeof(char *));
            for (size_t t = 0; t < items.n; t++) {
                l->list.v[l->list.n++] = vn_xstrdup(items.v[t]);
                snprintf(ik, sizeof ik, "%s.%zu", k, t);
                nv[w].key = vn_xstrdup(ik);
                nv[w++].value = vn_xstrdup(items.v[t]);
            }
            ld->kv_total += 1 + items.n;
        }
        if (j == sc->n_kv)
            break;
        vn_kv_t *o = &sc->kv[j];
        if ((replace && j == pos) || (strncmp(o->key, k, klen) == 0 && o->key[klen] == '.')) {
            vn_cfg__kv_free(o);
            ld->kv_total--;
            continue;
        }
        nv[w++] = *o;
    }
    free(sc->kv);
    sc->kv = nv;
    sc->n_kv = w;
    free(k);
    vn_cfg__strlist_free(&items);
}

/* Go runs envconfig with prefix = sink name over each sink's parsed config. */
void vn_cfg__apply_sink_env(vn_cfg_loader_t *ld, vn_sink_config_t *sc, bool span)
{
    char name[VN_CFG_MAX_KEY + 160];
    for (size_t i = 0; i < sc->n_kv; i++) {
        vn_kv_t *kv = &sc->kv[i];
        if (!sink_env_name(sc->name, kv->key, name, sizeof name))
            continue;
        const char *v = vn_cfg__getenv(ld->envp, name);
        if (!v)
            continue;
        if (kv->is_list) {
            char *key = vn_xstrdup(kv->key);
            sink_set_list(ld, sc, i, true, key, v);
            free(key);
        } else {
            free(kv->value);
            kv->value = vn_xstrdup(v);
        }
    }
    for (size_t j = 0; j < sizeof known_sink_keys / sizeof known_sink_keys[0]; j++) {
        if (known_sink_keys[j].span != span || strcmp(known_sink_keys[j].kind, sc->kind) != 0 ||
            vn_sink_config_get(sc, known_sink_keys[j].key))
            continue;
        if (!sink_env_name(sc->name, known_sink_keys[j].key, name, sizeof name))
            continue;
        const char *v = vn_cfg__getenv(ld->envp, name);
        if (!v)
            continue;
        if (known_sink_keys[j].list) {
            sink_set_list(ld, sc, sc->n_kv, false, known_sink_keys[j].key, v);
        } else {
            sc->kv = vn_xrealloc(sc->kv, (sc->n_kv + 1) * sizeof *sc->kv);
            vn_kv_t *kv = &sc->kv[sc->n_kv++];
            memset(kv, 0, sizeof *kv);
            kv->key = vn_xstrdup(known_sink_keys[j].key);
            kv->value = vn_xstrdup(v);
            ld->kv_total++;
        }
    }
}

/* ---------------------------------------------------------------- [v13] flat keys -> sinks */

static vn_sink_config_t *add_sink_to(vn_sink_config_t **arr, size_t *n, const char *kind, vn_kvvec_t *kv)
{
    *arr = vn_xrealloc(*arr, (*n + 1) * sizeof **arr);
    vn_sink_config_t *sc = &(*arr)[(*n)++];
    memset(sc, 0, sizeof *sc);
    sc->kind = vn_xstrdup(kind);
    sc->name = vn_xstrdup(kind);
    if (kv) {
        sc->kv = kv->v;
        sc->n_kv = kv->n;
        kv->v = NULL;
        kv->n = kv->cap = 0;
    }
    return sc;
}

static vn_sink_config_t *add_sink(vn_config_t *cfg, const char *kind, vn_kvvec_t *kv)
{
    return add_sink_to(&cfg->metric_sinks, &cfg->n_metric_sinks, kind, kv);
}

static vn_sink_config_t *add_span_sink(vn_config_t *cfg, const char *kind, vn_kvvec_t *kv)
{
    return add_sink_to(&cfg->span_sinks, &cfg->n_span_sinks, kind, kv);
}

/* Builds kv = fixed entries first, then the passthrough keys of that kind. */
static vn_err_t v13_kv(vn_cfg_loader_t *ld, vn_kvvec_t *out, const char *const *pairs, size_t npairs,
                       vn_kvvec_t *pass)
{
    vn_err_t err = VN_OK;
    for (size_t i = 0; i + 1 < npairs && err == VN_OK; i += 2)
        if (pairs[i + 1])
            err = vn_cfg__kvvec_push(ld, out, pairs[i], pairs[i + 1], NULL, false);
    for (size_t i = 0; i < pass->n && err == VN_OK; i++) {
        if (vn_sink_config_get(&(vn_sink_config_t){.kv = out->v, .n_kv = out->n}, pass->v[i].key))
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 8;
            out->v = vn_xrealloc(out->v, out->cap * sizeof *out->v);
        }
        out->v[out->n++] = pass->v[i]; /* moved */
        memset(&pass->v[i], 0, sizeof pass->v[i]);
    }
    return err;
}

static const char *pass_get(const vn_kvvec_t *pass, const char *key)
{
    for (size_t i = 0; i < pass->n; i++)
        if (pass->v[i].key && strcmp(pass->v[i].key, key) == 0)
            return pass->v[i].value;
    return NULL;
}

/* Go v13 server.go: span sinks exist only with ssf_listen_addresses; each kind when its
 * address (or topic) is set. Keys arrive already renamed to the v14 span sink keys. Runs
 * before the metric sinks take the shared kafka keys (broker, partitioner, retry_max). */
static vn_err_t translate_v13_spans(vn_cfg_loader_t *ld)
{
    vn_config_t *cfg = ld->cfg;
    vn_err_t err = VN_OK;
    if (cfg->ssf_listen_addresses.n == 0)
        return VN_OK;
    vn_kvvec_t *dd = &ld->v13[VN_V13_SPAN_DATADOG];
    const char *ta = pass_get(dd, "datadog_trace_api_address");
    if (ta && *ta && *cfg->datadog_api_key) {
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, NULL, 0, dd);
        add_span_sink(cfg, "datadog", &kv);
    }
    vn_kvvec_t *xr = &ld->v13[VN_V13_SPAN_XRAY];
    const char *xa = pass_get(xr, "address");
    if (err == VN_OK && xa && *xa) {
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, NULL, 0, xr);
        add_span_sink(cfg, "xray", &kv);
    }
    vn_kvvec_t *sp = &ld->v13[VN_V13_SPAN_SPLUNK];
    const char *sa = pass_get(sp, "hec_address"), *st = pass_get(sp, "hec_token");
    if (err == VN_OK && ((sa && *sa) || (st && *st))) {
        if (!sa || !*sa || !st || !*st)
            return vn_cfg__errf(ld, "key \"splunk_hec_address\": splunk_hec_address and splunk_hec_token must "
                                    "both be set");
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, NULL, 0, sp);
        add_span_sink(cfg, "splunk", &kv);
    }
    vn_kvvec_t *fa = &ld->v13[VN_V13_SPAN_FALCONER];
    const char *ft = pass_get(fa, "target");
    if (err == VN_OK && ft && *ft) {
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, NULL, 0, fa);
        add_span_sink(cfg, "falconer", &kv);
    }
    vn_kvvec_t *ka = &ld->v13[VN_V13_SPAN_KAFKA];
    const char *topic = pass_get(ka, "span_topic");
    if (err == VN_OK && topic && *topic) {
        /* v13 passed the metric sink's acks, partitioner and retries to the span sink too */
        vn_kvvec_t *mk = &ld->v13[VN_V13_KAFKA];
        const char *pairs[] = {"broker", *cfg->kafka_broker ? cfg->kafka_broker : NULL,
                               "partitioner", pass_get(mk, "partitioner"),
                               "retry_max", pass_get(mk, "retry_max")};
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, pairs, 6, ka);
        add_span_sink(cfg, "kafka", &kv);
    }
    if (err == VN_OK && cfg->debug_ingested_spans)
        add_span_sink(cfg, "debug", NULL);
    return err;
}

static vn_err_t translate_v13_metrics(vn_cfg_loader_t *ld)
{
    vn_config_t *cfg = ld->cfg;
    vn_err_t err = VN_OK;
    char num[32];
    /* Go v13 applyDefaults: flush_max_per_body is the old name; 25000 when neither is set */
    if (cfg->datadog_flush_max_per_body == 0)
        cfg->datadog_flush_max_per_body = cfg->flush_max_per_body ? cfg->flush_max_per_body : 25000;

    if (*cfg->datadog_api_key && *cfg->datadog_api_hostname) {
        snprintf(num, sizeof num, "%d", cfg->datadog_flush_max_per_body);
        const char *pairs[] = {"api_key", cfg->datadog_api_key, "api_hostname", cfg->datadog_api_hostname,
                               "flush_max_per_body", num};
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, pairs, 6, &ld->v13[VN_V13_DATADOG]);
        add_sink(cfg, "datadog", &kv);
    } else if (*cfg->datadog_api_key || *cfg->datadog_api_hostname) {
        VN_LOG(WARN, "event=config_v13_sink_skipped kind=datadog reason=\"datadog_api_key and "
                     "datadog_api_hostname must both be set\"");
    }
    if (err == VN_OK && *cfg->signalfx_api_key) {
        const char *pairs[] = {"api_key", cfg->signalfx_api_key, "endpoint_base",
                               *cfg->signalfx_endpoint_base ? cfg->signalfx_endpoint_base : NULL};
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, pairs, 4, &ld->v13[VN_V13_SIGNALFX]);
        add_sink(cfg, "signalfx", &kv);
    }
    if (err == VN_OK && *cfg->kafka_broker) {
        vn_kvvec_t *pass = &ld->v13[VN_V13_KAFKA];
        const char *ct = pass_get(pass, "check_topic"), *et = pass_get(pass, "event_topic");
        if (*cfg->kafka_metric_topic || (ct && *ct) || (et && *et)) {
            const char *pairs[] = {"broker", cfg->kafka_broker, "metric_topic",
                                   *cfg->kafka_metric_topic ? cfg->kafka_metric_topic : NULL};
            vn_kvvec_t kv = {0};
            err = v13_kv(ld, &kv, pairs, 4, pass);
            add_sink(cfg, "kafka", &kv);
        } else {
            VN_LOG(WARN, "event=config_v13_sink_skipped kind=kafka reason=\"no metric, check or event topic\"");
        }
    }
    /* Go v13 server.go: a New Relic sink when the insert key and an account id are set, S3 with a bucket */
    const char *nr_acct = pass_get(&ld->v13[VN_V13_NEWRELIC], "account_id");
    if (err == VN_OK && pass_get(&ld->v13[VN_V13_NEWRELIC], "insert_key") && nr_acct && atoll(nr_acct) > 0) {
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, NULL, 0, &ld->v13[VN_V13_NEWRELIC]);
        add_sink(cfg, "newrelic", &kv);
    }
    if (err == VN_OK && pass_get(&ld->v13[VN_V13_S3], "s3_bucket")) {
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, NULL, 0, &ld->v13[VN_V13_S3]);
        add_sink(cfg, "s3", &kv);
    }
    if (err == VN_OK && *cfg->flush_file) {
        /* docs/behaviour.md 0.8: v13's flat flush_file means the gzip-CSV format */
        const char *pairs[] = {"flush_file", cfg->flush_file, "format", "csv"};
        vn_kvvec_t kv = {0};
        err = v13_kv(ld, &kv, pairs, 4, &(vn_kvvec_t){0});
        add_sink(cfg, "localfile", &kv);
    }
    if (err == VN_OK && cfg->debug_flushed_metrics)
        add_sink(cfg, "debug", NULL);
    return err;
}

vn_err_t vn_cfg__translate_v13(vn_cfg_loader_t *ld)
{
    vn_err_t err = translate_v13_spans(ld);
    return err == VN_OK ? translate_v13_metrics(ld) : err;
}

