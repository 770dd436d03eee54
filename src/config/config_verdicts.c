/**
 * config_verdicts.c - which of the keys and kinds we accept do nothing, and
 * why (issue 18: every Go key is implemented or says plainly that it is not).
 *
 * The key table (config_keys.c) says how a key is read; this table says
 * which of the keys read are not acted on. Implementing a key is deleting
 * its row here. tests/unit/config/test_verdicts.c walks Go's key lists
 * (tests/data/go-keys/) and fails when a Go key has no row in the key table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/log.h"
#include "core/xalloc.h"

const vn_config_verdict_t vn_config__unimpl[] = {
    /* Go runtime knobs: there is no Go runtime here */
    {"block_profile_rate", "go_runtime_profiler_knob"},
    {"enable_profiling", "go_runtime_profiler_no_debug_pprof"},
    {"mutex_profile_fraction", "go_runtime_profiler_knob"},
    {"features.diagnostics_metrics_enabled", "go_runtime_diagnostics_metrics"},
    {"sentry_dsn", "sentry_reporting_not_implemented"},
    /* [v13] */
    {"forward_use_grpc", "forwarding_is_always_grpc"},
    {NULL, NULL},
};


/* Go v14's cmd/veneur/main.go registrations, and veneur-c's alias. */
const vn_config_kind_t vn_config_kinds[] = {
    {"metric_sinks", "cortex", NULL},
    {"metric_sinks", "datadog", NULL},
    {"metric_sinks", "debug", NULL},
    {"metric_sinks", "kafka", NULL},
    {"metric_sinks", "localfile", NULL},
    {"metric_sinks", "newrelic", NULL},
    {"metric_sinks", "prometheus", NULL},
    {"metric_sinks", "s3", NULL},
    {"metric_sinks", "signalfx", NULL},
    {"metric_sinks", "prometheus_remote_write", NULL}, /* veneur-c: cortex under a clearer name */
    {"metric_sinks", "otlp", NULL}, /* veneur-c: OpenTelemetry OTLP (HTTP protobuf or gRPC) */
    {"span_sinks", "datadog", NULL},
    {"span_sinks", "debug", NULL},
    {"span_sinks", "falconer", "falconer_span_sink_not_implemented"},
    {"span_sinks", "kafka", NULL},
    {"span_sinks", "lightstep", "lightstep_span_sink_not_implemented"},
    {"span_sinks", "newrelic", "newrelic_span_sink_not_implemented"},
    {"span_sinks", "splunk", NULL},
    {"span_sinks", "xray", NULL},
    {"span_sinks", "localfile", NULL}, /* veneur-c: jsonl spans for scripts and tests */
    {"sources", "openmetrics", NULL},
};
const size_t vn_config_nkinds = sizeof vn_config_kinds / sizeof vn_config_kinds[0];

const char *vn_cfg_kind_unimplemented(const char *section, const char *kind)
{
    for (size_t i = 0; i < vn_config_nkinds; i++)
        if (strcmp(vn_config_kinds[i].section, section) == 0 && kind && strcmp(vn_config_kinds[i].kind, kind) == 0)
            return vn_config_kinds[i].why;
    return "unknown_kind";
}

const char *vn_cfg_unimplemented(const vn_config_schema_t *schema, const char *key)
{
    for (size_t i = 0; schema->unimpl && schema->unimpl[i].key; i++)
        if (strcmp(schema->unimpl[i].key, key) == 0)
            return schema->unimpl[i].why;
    const vn_config_key_t *k = vn_cfg__schema_find(schema, key);
    if (k && k->type == VN_KT_IGNORED)
        return k->sink_key;
    return NULL;
}

void vn_cfg__mark_set(vn_cfg_loader_t *ld, const vn_config_key_t *k)
{
    if (!ld->set || k < ld->schema->keys || k >= ld->schema->keys + ld->schema->nkeys)
        return;
    ld->set[k - ld->schema->keys] = true;
}

/* Appends item to a list; the list is cut (with "...") rather than
 * overrun, the WARN lines carry every name anyway. */
static void list_add(char *list, size_t cap, size_t *n, const char *item)
{
    size_t len = strlen(list);
    (*n)++;
    if (len + strlen(item) + 8 >= cap) {
        if (!strstr(list, ", ..."))
            snprintf(list + len, cap - len, ", ...");
        return;
    }
    snprintf(list + len, cap - len, "%s%s", *n > 1 ? ", " : "", item);
}

void vn_cfg__strict_add(vn_cfg_loader_t *ld, bool unknown, const char *item)
{
    if (unknown)
        list_add(ld->unknown, sizeof ld->unknown, &ld->n_unknown, item);
    else
        list_add(ld->unimpl, sizeof ld->unimpl, &ld->n_unimpl, item);
}

void vn_cfg_loader_fail_unimplemented(vn_cfg_loader_t *ld) { ld->fail_unimpl = true; }

vn_err_t vn_cfg_loader_verdicts(vn_cfg_loader_t *ld)
{
    char q[160], item[192];
    for (size_t i = 0; ld->set && i < ld->schema->nkeys; i++) {
        if (!ld->set[i])
            continue;
        const char *key = ld->schema->keys[i].key;
        const char *why = vn_cfg_unimplemented(ld->schema, key);
        if (!why)
            continue;
        /* not rate-limited: the operator needs every one, and the table bounds them */
        vn_log_write(VN_LOG_WARN, 0, "event=config_key_not_implemented key=%s reason=%s msg=\"accepted, has no effect\"",
                     key, why);
        vn_cfg__strict_add(ld, false, key);
    }
    for (int sec = 0; ld->cfg && sec < 3; sec++) {
        const char *section = sec == 2 ? "sources" : sec ? "span_sinks" : "metric_sinks";
        const vn_sink_config_t *arr = sec ? ld->cfg->span_sinks : ld->cfg->metric_sinks;
        size_t n = sec == 2 ? ld->cfg->n_sources : sec ? ld->cfg->n_span_sinks : ld->cfg->n_metric_sinks;
        for (size_t i = 0; i < n; i++) {
            const char *kind = sec == 2 ? ld->cfg->sources[i].kind : arr[i].kind;
            const char *name = sec == 2 ? ld->cfg->sources[i].name : arr[i].name;
            const char *why = vn_cfg_kind_unimplemented(section, kind);
            if (!why)
                continue;
            vn_log_write(VN_LOG_WARN, 0, "event=config_kind_not_implemented section=%s kind=%s name=%s reason=%s",
                         section, vn_log_quote_cstr(q, sizeof q, kind),
                         vn_log_quote_cstr(item, sizeof item, name), why);
            snprintf(item, sizeof item, "%s[%zu].kind=%s", section, i, vn_cfg__show(kind, false, q, sizeof q));
            vn_cfg__strict_add(ld, false, item);
        }
    }
    if (!ld->fail_unimpl)
        ld->n_unimpl = 0;
    if (!ld->strict || (!ld->n_unknown && !ld->n_unimpl))
        return VN_OK;
    char unknown[sizeof ld->unknown + 32] = "", msg[2 * (sizeof unknown + sizeof ld->unimpl)];
    if (ld->n_unknown)
        snprintf(unknown, sizeof unknown, "unknown key%s %s", ld->n_unknown == 1 ? "" : "s", ld->unknown);
    if (!ld->n_unimpl)
        snprintf(msg, sizeof msg, "%s", unknown);
    else
        snprintf(msg, sizeof msg, "%s%s%zu key%s or kind%s accepted but not implemented: %s", unknown,
                 ld->n_unknown ? "; " : "", ld->n_unimpl, ld->n_unimpl == 1 ? "" : "s",
                 ld->n_unimpl == 1 ? "" : "s", ld->unimpl);
    /* a caller's small buffer gets a visibly cut message, not one that stops mid-list at a ", " */
    size_t room = ld->errcap > 8 + 1 ? ld->errcap - 8 - 1 : 0;
    if (room > 4 && strlen(msg) > room)
        memcpy(msg + room - 4, " ...", 5);
    return vn_cfg__errf(ld, "%s", msg);
}
