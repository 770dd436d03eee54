/**
 * config_keys.c - the key table and the typed setters behind it.
 *
 * One row per key: {YAML path, Go field path, type, offset, default, flags}.
 * The env name is derived from the Go field path exactly as envconfig does it:
 * "VENEUR_" + upper-case(path) with '.' -> '_' (e.g. "Features.EnableMetricSinkRouting"
 * -> VENEUR_FEATURES_ENABLEMETRICSINKROUTING). Go field names come from Go
 * Veneur's config.go (HEAD) and, for the [v13] flat keys, v13.2.0's config.go.
 *
 * YAML text and env text reach the same setters, so both accept the same
 * values; env lists are comma-split without trimming.
 */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/gonum.h"
#include "core/log.h"
#include "core/metric.h"
#include "core/xalloc.h"

#define OFF(f) offsetof(vn_config_t, f)
#define K(k_, go_, t_, field_, def_, fl_) {.key = k_, .gofield = go_, .type = t_, .off = OFF(field_), .def = def_, .flags = fl_}
/* [v13] typed flat key: kept in its own field, translated into a sink later, not dumped */
#define K13(k_, go_, t_, field_, fl_) {.key = k_, .gofield = go_, .type = t_, .off = OFF(field_), .flags = (fl_) | VN_KF_NODUMP}
/* [v13] flat sink key passed verbatim into the translated sink's config */
#define P13(k_, go_, kind_, skey_, fl_)                                                                         \
    {.key = k_, .gofield = go_, .type = VN_KT_V13, .flags = (fl_) | VN_KF_NODUMP, .sink_kind = kind_, .sink_key = skey_}
#define IGN(k_, reason_) {.key = k_, .type = VN_KT_IGNORED, .flags = VN_KF_NODUMP, .sink_key = reason_}

/* Rows that share a YAML prefix ("features.", "tls.") must stay adjacent: the
 * dump writes each group as one nested mapping. */
const vn_config_key_t vn_config_keys[] = {
    K("aggregates", "Aggregates", VN_KT_AGGS, aggregates, "min,max,count", VN_KF_ZERO_DEFAULT),
    K("block_profile_rate", "BlockProfileRate", VN_KT_INT, block_profile_rate, NULL, 0),
    K("count_unique_timeseries", "CountUniqueTimeseries", VN_KT_BOOL, count_unique_timeseries, NULL, 0),
    K("debug", "Debug", VN_KT_BOOL, debug, NULL, 0),
    K("enable_profiling", "EnableProfiling", VN_KT_BOOL, enable_profiling, NULL, 0),
    K("extend_tags", "ExtendTags", VN_KT_STRLIST, extend_tags, NULL, 0),
    K("features.diagnostics_metrics_enabled", "Features.DiagnosticsMetricsEnabled", VN_KT_BOOL,
      features_diagnostics_metrics_enabled, NULL, 0),
    K("features.enable_metric_sink_routing", "Features.EnableMetricSinkRouting", VN_KT_BOOL,
      features_enable_metric_sink_routing, NULL, 0),
    /* docs/behaviour.md 0.7: true by default (Go: false) */
    K("flush_on_shutdown", "FlushOnShutdown", VN_KT_BOOL, flush_on_shutdown, "true", 0),
    K("flush_watchdog_missed_flushes", "FlushWatchdogMissedFlushes", VN_KT_INT, flush_watchdog_missed_flushes, NULL,
      0),
    K("forward_address", "ForwardAddress", VN_KT_STR, forward_address, NULL, 0),
    K("grpc_address", "GrpcAddress", VN_KT_STR, grpc_address, NULL, 0),
    K("grpc_listen_addresses", "GrpcListenAddresses", VN_KT_URLLIST, grpc_listen_addresses, NULL, 0),
    /* veneur-c only (issue 21): veneur-proxy's grpc_server.* keys for this daemon's gRPC servers */
    K("grpc_server.connection_timeout", "GrpcServer.ConnectionTimeout", VN_KT_DURATION, grpc_connection_timeout_s,
      NULL, VN_KF_NONNEG),
    K("grpc_server.keepalive_timeout", "GrpcServer.KeepaliveTimeout", VN_KT_DURATION, grpc_keepalive_timeout_s, NULL,
      VN_KF_NONNEG),
    K("grpc_server.max_connection_age", "GrpcServer.MaxConnectionAge", VN_KT_DURATION, grpc_max_connection_age_s,
      NULL, VN_KF_NONNEG),
    K("grpc_server.max_connection_age_grace", "GrpcServer.MaxConnectionAgeGrace", VN_KT_DURATION,
      grpc_max_connection_age_grace_s, NULL, VN_KF_NONNEG),
    K("grpc_server.max_connection_idle", "GrpcServer.MaxConnectionIdle", VN_KT_DURATION, grpc_max_connection_idle_s,
      NULL, VN_KF_NONNEG),
    K("grpc_server.ping_timeout", "GrpcServer.PingTimeout", VN_KT_DURATION, grpc_ping_timeout_s, NULL, VN_KF_NONNEG),
    /* veneur-c only (issue 21): the import service again over TLS (tls_certificate + tls_key;
     * client certificates required when tls_authority_certificate is set) */
    K("grpc_tls_address", "GrpcTlsAddress", VN_KT_STR, grpc_tls_address, NULL, 0),
    K("hostname", "Hostname", VN_KT_STR, hostname, NULL, 0),
    K("http.config", "HTTP.Config", VN_KT_BOOL, http_config, NULL, 0),
    K("http_address", "HTTPAddress", VN_KT_STR, http_address, NULL, 0),
    K("http_quit", "HTTPQuit", VN_KT_BOOL, http_quit, NULL, 0),
    /* veneur-c only (issue 16): a synchronized global's import window past the tick; 0 = auto, < 0 = off */
    K("import_grace_period", "ImportGracePeriod", VN_KT_DURATION, import_grace_period_s, NULL, 0),
    K("indicator_span_timer_name", "IndicatorSpanTimerName", VN_KT_STR, indicator_span_timer_name, NULL, 0),
    K("interval", "Interval", VN_KT_DURATION, interval_s, "10s", VN_KF_ZERO_DEFAULT),
    /* veneur-c only: no Go field; the env name follows the same rule */
    K("max_event_bytes_per_interval", "MaxEventBytesPerInterval", VN_KT_LONG, max_event_bytes_per_interval,
      "16777216", 0),
    K("max_series_bytes_per_interval", "MaxSeriesBytesPerInterval", VN_KT_LONG,
      max_series_bytes_per_interval, "134217728", 0),
    K("max_series_per_interval", "MaxSeriesPerInterval", VN_KT_LONG, max_series_per_interval, NULL, 0),
    K("metric_max_length", "MetricMaxLength", VN_KT_INT, metric_max_length, "4096", VN_KF_ZERO_DEFAULT),
    /* lists of structs: Go's envconfig cannot set these either */
    K("metric_sink_routing", NULL, VN_KT_ROUTING, metric_sink_routing, NULL, 0),
    {.key = "metric_sinks", .type = VN_KT_SINKS, .off = OFF(metric_sinks), .off2 = OFF(n_metric_sinks)},
    K("mutex_profile_fraction", "MutexProfileFraction", VN_KT_INT, mutex_profile_fraction, NULL, 0),
    K("num_readers", "NumReaders", VN_KT_INT, num_readers, "1", 0),
    K("num_span_workers", "NumSpanWorkers", VN_KT_INT, num_span_workers, "1", 0),
    K("num_workers", "NumWorkers", VN_KT_INT, num_workers, "1", 0),
    K("objective_span_timer_name", "ObjectiveSpanTimerName", VN_KT_STR, objective_span_timer_name, NULL, 0),
    K("omit_empty_hostname", "OmitEmptyHostname", VN_KT_BOOL, omit_empty_hostname, NULL, 0),
    /* veneur-c only: OTLP metric ingest (otlp/server.h, docs/otlp.md) */
    K("otlp_listen_addresses", "OtlpListenAddresses", VN_KT_URLLIST, otlp_listen_addresses, NULL, 0),
    K("percentiles", "Percentiles", VN_KT_FLOATLIST, percentiles, NULL, 0),
    K("read_buffer_size_bytes", "ReadBufferSizeBytes", VN_KT_INT, read_buffer_size_bytes, "2097152",
      VN_KF_ZERO_DEFAULT),
    K("sentry_dsn", "SentryDsn", VN_KT_STR, sentry_dsn, NULL, VN_KF_SECRET),
    {.key = "sources", .type = VN_KT_SOURCES, .off = OFF(sources), .off2 = OFF(n_sources)},
    K("span_channel_capacity", "SpanChannelCapacity", VN_KT_INT, span_channel_capacity, "100", VN_KF_ZERO_DEFAULT),
    {.key = "span_sinks", .type = VN_KT_SINKS, .off = OFF(span_sinks), .off2 = OFF(n_span_sinks)},
    K("ssf_listen_addresses", "SsfListenAddresses", VN_KT_URLLIST, ssf_listen_addresses, NULL, 0),
    K("stats_address", "StatsAddress", VN_KT_STR, stats_address, NULL, 0),
    K("statsd_listen_addresses", "StatsdListenAddresses", VN_KT_URLLIST, statsd_listen_addresses, NULL, 0),
    K("synchronize_with_interval", "SynchronizeWithInterval", VN_KT_BOOL, synchronize_with_interval, NULL, 0),
    K("tags_exclude", "TagsExclude", VN_KT_STRLIST, tags_exclude, NULL, 0),
    K("tls.ca_file", "Tls.CaFile", VN_KT_STR, tls_ca_file, NULL, 0),
    K("tls.cert_file", "Tls.CertFile", VN_KT_STR, tls_cert_file, NULL, 0),
    K("tls.key_file", "Tls.KeyFile", VN_KT_STR, tls_key_file, NULL, 0),
    K("tls.server_name", "Tls.ServerName", VN_KT_STR, tls_server_name, NULL, 0),
    K("tls_authority_certificate", "TLSAuthorityCertificate", VN_KT_STR, tls_authority_certificate, NULL, 0),
    K("tls_certificate", "TLSCertificate", VN_KT_STR, tls_certificate, NULL, 0),
    K("tls_key", "TLSKey", VN_KT_STR, tls_key, NULL, VN_KF_SECRET),
    K("trace_max_length_bytes", "TraceMaxLengthBytes", VN_KT_INT, trace_max_length_bytes, NULL, 0),
    K("veneur_metrics_additional_tags", "VeneurMetricsAdditionalTags", VN_KT_STRLIST, veneur_metrics_additional_tags,
      NULL, 0),
    K("veneur_metrics_scopes.counter", "VeneurMetricsScopes.Counter", VN_KT_STR, veneur_metrics_scopes_counter, NULL,
      0),
    K("veneur_metrics_scopes.gauge", "VeneurMetricsScopes.Gauge", VN_KT_STR, veneur_metrics_scopes_gauge, NULL, 0),
    K("veneur_metrics_scopes.histogram", "VeneurMetricsScopes.Histogram", VN_KT_STR, veneur_metrics_scopes_histogram,
      NULL, 0),
    K("veneur_metrics_scopes.set", "VeneurMetricsScopes.Set", VN_KT_STR, veneur_metrics_scopes_set, NULL, 0),
    K("veneur_metrics_scopes.status", "VeneurMetricsScopes.Status", VN_KT_STR, veneur_metrics_scopes_status, NULL,
      0),

    /* ---- [v13] flat keys (docs/behaviour.md 0.1) ---- */
    K13("tags", "Tags", VN_KT_STRLIST, v13_tags, 0),
    K13("forward_use_grpc", "ForwardUseGrpc", VN_KT_BOOL, forward_use_grpc, 0),
    K13("flush_file", "FlushFile", VN_KT_STR, flush_file, 0),
    K13("flush_max_per_body", "FlushMaxPerBody", VN_KT_INT, flush_max_per_body, 0),
    K13("debug_flushed_metrics", "DebugFlushedMetrics", VN_KT_BOOL, debug_flushed_metrics, 0),
    K13("datadog_api_key", "DatadogAPIKey", VN_KT_STR, datadog_api_key, VN_KF_SECRET),
    K13("datadog_api_hostname", "DatadogAPIHostname", VN_KT_STR, datadog_api_hostname, 0),
    K13("datadog_flush_max_per_body", "DatadogFlushMaxPerBody", VN_KT_INT, datadog_flush_max_per_body, 0),
    P13("datadog_metric_name_prefix_drops", "DatadogMetricNamePrefixDrops", "datadog", "metric_name_prefix_drops",
        VN_KF_LIST),
    P13("datadog_exclude_tags_prefix_by_prefix_metric", NULL, "datadog", "exclude_tags_prefix_by_prefix_metric", 0),
    K13("signalfx_api_key", "SignalfxAPIKey", VN_KT_STR, signalfx_api_key, VN_KF_SECRET),
    K13("signalfx_endpoint_base", "SignalfxEndpointBase", VN_KT_STR, signalfx_endpoint_base, 0),
    P13("signalfx_dynamic_per_tag_api_keys_enable", "SignalfxDynamicPerTagAPIKeysEnable", "signalfx",
        "dynamic_per_tag_api_keys_enable", 0),
    P13("signalfx_dynamic_per_tag_api_keys_refresh_period", "SignalfxDynamicPerTagAPIKeysRefreshPeriod", "signalfx",
        "dynamic_per_tag_api_keys_refresh_period", 0),
    P13("signalfx_endpoint_api", "SignalfxEndpointAPI", "signalfx", "endpoint_api", 0),
    P13("signalfx_flush_max_per_body", "SignalfxFlushMaxPerBody", "signalfx", "flush_max_per_body", 0),
    P13("signalfx_hostname_tag", "SignalfxHostnameTag", "signalfx", "hostname_tag", 0),
    P13("signalfx_metric_name_prefix_drops", "SignalfxMetricNamePrefixDrops", "signalfx", "metric_name_prefix_drops",
        VN_KF_LIST),
    P13("signalfx_metric_tag_prefix_drops", "SignalfxMetricTagPrefixDrops", "signalfx", "metric_tag_prefix_drops",
        VN_KF_LIST),
    P13("signalfx_per_tag_api_keys", NULL, "signalfx", "per_tag_api_keys", 0),
    P13("signalfx_vary_key_by", "SignalfxVaryKeyBy", "signalfx", "vary_key_by", 0),
    K13("kafka_broker", "KafkaBroker", VN_KT_STR, kafka_broker, 0),
    K13("kafka_metric_topic", "KafkaMetricTopic", VN_KT_STR, kafka_metric_topic, 0),
    P13("kafka_check_topic", "KafkaCheckTopic", "kafka", "check_topic", 0),
    P13("kafka_event_topic", "KafkaEventTopic", "kafka", "event_topic", 0),
    P13("kafka_metric_buffer_bytes", "KafkaMetricBufferBytes", "kafka", "metric_buffer_bytes", 0),
    P13("kafka_metric_buffer_frequency", "KafkaMetricBufferFrequency", "kafka", "metric_buffer_frequency", 0),
    P13("kafka_metric_buffer_messages", "KafkaMetricBufferMessages", "kafka", "metric_buffer_messages", 0),
    P13("kafka_metric_require_acks", "KafkaMetricRequireAcks", "kafka", "metric_require_acks", 0),
    P13("kafka_partitioner", "KafkaPartitioner", "kafka", "partitioner", 0),
    P13("kafka_retry_max", "KafkaRetryMax", "kafka", "retry_max", 0),
    /* [v13] New Relic and S3 (a v13 plugin): translated into a sink like the above */
    P13("newrelic_account_id", "NewrelicAccountID", "newrelic", "account_id", 0),
    P13("newrelic_common_tags", "NewrelicCommonTags", "newrelic", "common_tags", VN_KF_LIST),
    P13("newrelic_event_type", "NewrelicEventType", "newrelic", "event_type", 0),
    P13("newrelic_insert_key", "NewrelicInsertKey", "newrelic", "insert_key", 0),
    P13("newrelic_region", "NewrelicRegion", "newrelic", "region", 0),
    P13("newrelic_service_check_event_type", "NewrelicServiceCheckEventType", "newrelic", "service_check_event_type",
        0),
    P13("aws_access_key_id", "AwsAccessKeyID", "s3", "access_key_id", 0),
    P13("aws_region", "AwsRegion", "s3", "region", 0),
    P13("aws_s3_bucket", "AwsS3Bucket", "s3", "s3_bucket", 0),
    P13("aws_secret_access_key", "AwsSecretAccessKey", "s3", "secret_access_key", 0),
    /* [v13] span sink keys: translated into span_sinks entries (config.c translate_v13_spans);
     * the sink kind is "span:<kind>", the key is the v14 span sink config key */
    P13("datadog_span_buffer_size", "DatadogSpanBufferSize", "span:datadog", "datadog_span_buffer_size", 0),
    P13("datadog_trace_api_address", "DatadogTraceAPIAddress", "span:datadog", "datadog_trace_api_address", 0),
    K13("debug_ingested_spans", "DebugIngestedSpans", VN_KT_BOOL, debug_ingested_spans, 0),
    P13("falconer_address", "FalconerAddress", "span:falconer", "target", 0),
    P13("kafka_span_buffer_bytes", "KafkaSpanBufferBytes", "span:kafka", "span_buffer_bytes", 0),
    P13("kafka_span_buffer_frequency", "KafkaSpanBufferFrequency", "span:kafka", "span_buffer_frequency", 0),
    P13("kafka_span_buffer_mesages", "KafkaSpanBufferMesages", "span:kafka", "span_buffer_mesages", 0),
    P13("kafka_span_require_acks", "KafkaSpanRequireAcks", "span:kafka", "span_require_acks", 0),
    P13("kafka_span_sample_rate_percent", "KafkaSpanSampleRatePercent", "span:kafka", "span_sample_rate_percent", 0),
    P13("kafka_span_sample_tag", "KafkaSpanSampleTag", "span:kafka", "span_sample_tag", 0),
    P13("kafka_span_serialization_format", "KafkaSpanSerializationFormat", "span:kafka", "span_serialization_format",
        0),
    P13("kafka_span_topic", "KafkaSpanTopic", "span:kafka", "span_topic", 0),
    IGN("lightstep_access_token", "lightstep_span_sink_not_implemented"),
    IGN("lightstep_collector_host", "lightstep_span_sink_not_implemented"),
    IGN("lightstep_maximum_spans", "lightstep_span_sink_not_implemented"),
    IGN("lightstep_num_clients", "lightstep_span_sink_not_implemented"),
    IGN("lightstep_reconnect_period", "lightstep_span_sink_not_implemented"),
    IGN("newrelic_trace_observer_url", "newrelic_span_sink_not_implemented"),
    P13("splunk_hec_address", "SplunkHecAddress", "span:splunk", "hec_address", 0),
    P13("splunk_hec_batch_size", "SplunkHecBatchSize", "span:splunk", "hec_batch_size", 0),
    P13("splunk_hec_connection_lifetime_jitter", "SplunkHecConnectionLifetimeJitter", "span:splunk",
        "hec_connection_lifetime_jitter", 0),
    P13("splunk_hec_ingest_timeout", "SplunkHecIngestTimeout", "span:splunk", "hec_ingest_timeout", 0),
    P13("splunk_hec_max_connection_lifetime", "SplunkHecMaxConnectionLifetime", "span:splunk",
        "hec_max_connection_lifetime", 0),
    P13("splunk_hec_send_timeout", "SplunkHecSendTimeout", "span:splunk", "hec_send_timeout", 0),
    P13("splunk_hec_submission_workers", "SplunkHecSubmissionWorkers", "span:splunk", "hec_submission_workers", 0),
    P13("splunk_hec_tls_validate_hostname", "SplunkHecTLSValidateHostname", "span:splunk",
        "hec_tls_validate_hostname", 0),
    P13("splunk_hec_token", "SplunkHecToken", "span:splunk", "hec_token", 0),
    P13("splunk_span_sample_rate", "SplunkSpanSampleRate", "span:splunk", "span_sample_rate", 0),
    IGN("ssf_buffer_size", "go_trace_client_buffer"),
    IGN("trace_lightstep_access_token", "lightstep_span_sink_not_implemented"),
    IGN("trace_lightstep_collector_host", "lightstep_span_sink_not_implemented"),
    IGN("trace_lightstep_maximum_spans", "lightstep_span_sink_not_implemented"),
    IGN("trace_lightstep_num_clients", "lightstep_span_sink_not_implemented"),
    IGN("trace_lightstep_reconnect_period", "lightstep_span_sink_not_implemented"),
    P13("xray_address", "XrayAddress", "span:xray", "address", 0),
    P13("xray_annotation_tags", "XrayAnnotationTags", "span:xray", "annotation_tags", VN_KF_LIST),
    P13("xray_sample_percentage", "XraySamplePercentage", "span:xray", "sample_percentage", 0),
};
const size_t vn_config_nkeys = sizeof vn_config_keys / sizeof vn_config_keys[0];
const vn_config_schema_t vn_config_schema = {vn_config_keys, sizeof vn_config_keys / sizeof vn_config_keys[0],
                                             "VENEUR_", vn_config__unimpl};

const vn_config_key_t *vn_cfg__schema_find(const vn_config_schema_t *s, const char *path)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].key, path) == 0)
            return &s->keys[i];
    return NULL;
}

bool vn_cfg__schema_is_group(const vn_config_schema_t *s, const char *k)
{
    size_t n = strlen(k);
    for (size_t i = 0; i < s->nkeys; i++)
        if (strncmp(s->keys[i].key, k, n) == 0 && s->keys[i].key[n] == '.')
            return true;
    return false;
}

const vn_config_key_t *vn_cfg__find_key(const char *path) { return vn_cfg__schema_find(&vn_config_schema, path); }

void vn_cfg__env_name(const vn_config_key_t *k, char *buf, size_t cap) { vn_cfg_env_name(&vn_config_schema, k, buf, cap); }

void vn_cfg_env_name(const vn_config_schema_t *schema, const vn_config_key_t *k, char *buf, size_t cap)
{
    size_t n = 0;
    for (const char *p = schema->env_prefix; *p && n + 1 < cap; p++)
        buf[n++] = *p;
    for (const char *p = k->gofield ? k->gofield : ""; *p && n + 1 < cap; p++) {
        char c = *p;
        buf[n++] = c == '.' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    buf[n] = '\0';
}

/* ---------------------------------------------------------------- scalars */

/* Go strconv.ParseInt(s, 0, 64) (core/gonum.h), then the key's range. */
bool vn_cfg__parse_int(const char *s, long long min, long long max, long long *out)
{
    int64_t v;
    if (vn_gonum_parse_int64(s, strlen(s), 0, &v) != VN_GONUM_OK || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Go strconv.ParseBool; the YAML path also takes YAML 1.1 yes/no/on/off (as yaml.v3 does for bools). */
bool vn_cfg__parse_bool(const char *s, bool yaml_forms, bool *out)
{
    static const char *const yt[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const yf[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF"};
    if (vn_gonum_parse_bool(s, out))
        return true;
    if (yaml_forms) {
        for (size_t i = 0; i < sizeof yt / sizeof yt[0]; i++) {
            if (strcmp(s, yt[i]) == 0)
                return *out = true, true;
            if (strcmp(s, yf[i]) == 0)
                return *out = false, true;
        }
    }
    return false;
}

/* Go strconv.ParseFloat(s, 64); Inf/NaN spellings pass, overflow does not. */
bool vn_cfg__parse_float(const char *s, double *out)
{
    return vn_gonum_parse_float(s, strlen(s), 0, out) == VN_GONUM_OK;
}

/* ---------------------------------------------------------------- setters */

#define FIELD(cfg, k, T) ((T *)(void *)((char *)(cfg) + (k)->off))

bool vn_cfg__secret_key(const vn_config_key_t *k) { return (k->flags & VN_KF_SECRET) || vn_cfg__key_is_secret(k->key); }

static int v13_index(const char *kind)
{
    if (strcmp(kind, "datadog") == 0)
        return VN_V13_DATADOG;
    if (strcmp(kind, "signalfx") == 0)
        return VN_V13_SIGNALFX;
    if (strcmp(kind, "newrelic") == 0)
        return VN_V13_NEWRELIC;
    if (strcmp(kind, "s3") == 0)
        return VN_V13_S3;
    if (strcmp(kind, "span:datadog") == 0)
        return VN_V13_SPAN_DATADOG;
    if (strcmp(kind, "span:kafka") == 0)
        return VN_V13_SPAN_KAFKA;
    if (strcmp(kind, "span:splunk") == 0)
        return VN_V13_SPAN_SPLUNK;
    if (strcmp(kind, "span:xray") == 0)
        return VN_V13_SPAN_XRAY;
    if (strcmp(kind, "span:falconer") == 0)
        return VN_V13_SPAN_FALCONER;
    return VN_V13_KAFKA;
}

/* Scalar text -> field. where: " (line N)" or " (env NAME)". */
static vn_err_t set_scalar(vn_cfg_loader_t *ld, const vn_config_key_t *k, const char *val, bool yaml,
                           const char *where)
{
    void *cfg = ld->obj;
    char shown[160];
    long long ll;
    switch (k->type) {
    case VN_KT_STR: {
        char **p = FIELD(cfg, k, char *);
        free(*p);
        *p = vn_xstrdup(val);
        return VN_OK;
    }
    case VN_KT_INT:
    case VN_KT_LONG:
    case VN_KT_ULONG: {
        long long lo = k->type == VN_KT_INT ? INT_MIN : k->type == VN_KT_LONG ? LONG_MIN : 0;
        long long hi = k->type == VN_KT_INT ? INT_MAX : LONG_MAX;
        bool ranged = k->min < k->max;
        if (ranged) {
            lo = k->min;
            hi = k->max;
        }
        if (!vn_cfg__parse_int(val, lo, hi, &ll)) {
            if (ranged)
                return vn_cfg__errf(ld, "key \"%s\": invalid integer \"%s\" (%lld..%lld)%s", k->key,
                                    vn_cfg__show(val, vn_cfg__secret_key(k), shown, sizeof shown), lo, hi, where);
            return vn_cfg__errf(ld, "key \"%s\": invalid integer \"%s\"%s", k->key,
                                vn_cfg__show(val, vn_cfg__secret_key(k), shown, sizeof shown), where);
        }
        if (k->type == VN_KT_INT)
            *FIELD(cfg, k, int) = (int)ll;
        else if (k->type == VN_KT_LONG)
            *FIELD(cfg, k, long) = (long)ll;
        else
            *FIELD(cfg, k, unsigned long) = (unsigned long)ll;
        return VN_OK;
    }
    case VN_KT_ENUM:
        for (int i = 0; k->names[i]; i++) {
            if (strcmp(val, k->names[i]) == 0) {
                *FIELD(cfg, k, int) = i;
                return VN_OK;
            }
        }
        return vn_cfg__errf(ld, "key \"%s\": unknown value \"%s\" (%s)%s", k->key,
                            vn_cfg__show(val, vn_cfg__secret_key(k), shown, sizeof shown), k->sink_key, where);
    case VN_KT_BOOL:
        if (!vn_cfg__parse_bool(val, yaml, FIELD(cfg, k, bool)))
            return vn_cfg__errf(ld, "key \"%s\": invalid boolean \"%s\"%s", k->key,
                                vn_cfg__show(val, vn_cfg__secret_key(k), shown, sizeof shown), where);
        return VN_OK;
    case VN_KT_DURATION: {
        double d;
        if (vn_config_parse_duration(val, &d) != VN_OK || ((k->flags & VN_KF_NONNEG) && d < 0))
            return vn_cfg__errf(ld, "key \"%s\": invalid duration \"%s\"%s%s", k->key,
                                vn_cfg__show(val, vn_cfg__secret_key(k), shown, sizeof shown),
                                (k->flags & VN_KF_NONNEG) ? " (Go syntax, >= 0, e.g. 2s, 500ms, 1m30s)" : "", where);
        *FIELD(cfg, k, double) = d;
        return VN_OK;
    }
    default:
        return vn_cfg__errf(ld, "key \"%s\": expected a list%s", k->key, where);
    }
}

static void set_zero(void *cfg, const vn_config_key_t *k)
{
    switch (k->type) {
    case VN_KT_STR:
        free(*FIELD(cfg, k, char *));
        *FIELD(cfg, k, char *) = NULL;
        break;
    case VN_KT_INT:
        *FIELD(cfg, k, int) = 0;
        break;
    case VN_KT_LONG:
        *FIELD(cfg, k, long) = 0;
        break;
    case VN_KT_ULONG:
        *FIELD(cfg, k, unsigned long) = 0;
        break;
    case VN_KT_ENUM:
        *FIELD(cfg, k, int) = 0;
        break;
    case VN_KT_BOOL:
        *FIELD(cfg, k, bool) = false;
        break;
    case VN_KT_DURATION:
        *FIELD(cfg, k, double) = 0;
        break;
    default:
        break;
    }
}

static unsigned agg_bit(const char *name)
{
    static const struct {
        const char *name;
        unsigned bit;
    } aggs[] = {{"min", VN_AGG_MIN},     {"max", VN_AGG_MAX}, {"median", VN_AGG_MEDIAN}, {"avg", VN_AGG_AVG},
                {"count", VN_AGG_COUNT}, {"sum", VN_AGG_SUM}, {"hmean", VN_AGG_HMEAN}};
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
        if (strcmp(name, aggs[i].name) == 0)
            return aggs[i].bit;
    return 0;
}

/* List -> field; takes ownership of items (freed here on every path). */
static vn_err_t set_list(vn_cfg_loader_t *ld, const vn_config_key_t *k, vn_strlist_t *items, const char *where)
{
    vn_config_t *cfg = ld->cfg; /* FLOATLIST, AGGS: veneur's struct only */
    char shown[160];
    vn_err_t err = VN_OK;
    switch (k->type) {
    case VN_KT_STRLIST:
    case VN_KT_URLLIST: {
        vn_strlist_t *l = FIELD(ld->obj, k, vn_strlist_t);
        vn_cfg__strlist_free(l);
        *l = *items;
        items->v = NULL;
        items->n = 0;
        return VN_OK;
    }
    case VN_KT_FLOATLIST: {
        if (items->n > VN_CFG_MAX_PERCENTILES) {
            err = vn_cfg__errf(ld, "key \"%s\": too many values (%zu, max %u)%s", k->key, items->n,
                               VN_CFG_MAX_PERCENTILES, where);
            break;
        }
        double *vals = vn_xcalloc(items->n ? items->n : 1, sizeof *vals);
        for (size_t i = 0; i < items->n && err == VN_OK; i++) {
            if (!vn_cfg__parse_float(items->v[i], &vals[i]))
                err = vn_cfg__errf(ld, "key \"%s\": invalid number \"%s\"%s", k->key,
                                   vn_cfg__show(items->v[i], false, shown, sizeof shown), where);
            /* Go accepts anything here; a percentile outside (0,1] can only produce nonsense names */
            else if (!(vals[i] > 0 && vals[i] <= 1))
                err = vn_cfg__errf(ld, "key \"%s\": invalid percentile \"%s\" (must be > 0 and <= 1)%s", k->key,
                                   vn_cfg__show(items->v[i], false, shown, sizeof shown), where);
        }
        if (err != VN_OK) {
            free(vals);
            break;
        }
        free(cfg->percentiles);
        cfg->percentiles = vals;
        cfg->n_percentiles = items->n;
        break;
    }
    case VN_KT_AGGS: {
        unsigned mask = 0;
        for (size_t i = 0; i < items->n; i++) {
            unsigned b = agg_bit(items->v[i]);
            /* Go maps an unknown name to nothing and goes on; we are stricter: a typo
             * would otherwise silently drop an aggregate from every histogram. */
            if (b == 0) {
                err = vn_cfg__errf(ld, "key \"%s\": unknown aggregate \"%s\"%s", k->key,
                                   vn_cfg__show(items->v[i], false, shown, sizeof shown), where);
                break;
            }
            mask |= b;
        }
        if (err == VN_OK)
            cfg->aggregates = mask;
        break;
    }
    default:
        err = vn_cfg__errf(ld, "key \"%s\": expected a single value, not a list%s", k->key, where);
        break;
    }
    vn_cfg__strlist_free(items);
    return err;
}

static bool is_list_type(vn_ktype_t t)
{
    return t == VN_KT_STRLIST || t == VN_KT_URLLIST || t == VN_KT_FLOATLIST || t == VN_KT_AGGS;
}

vn_err_t vn_cfg__set_from_env(vn_cfg_loader_t *ld, const vn_config_key_t *k, const char *val, const char *origin)
{
    char where[128];
    snprintf(where, sizeof where, " (env %s)", origin);
    if (is_list_type(k->type)) {
        vn_strlist_t items;
        vn_cfg__split_commas(val, &items);
        return set_list(ld, k, &items, where);
    }
    if (k->type == VN_KT_V13) {
        vn_kvvec_t *v = &ld->v13[v13_index(k->sink_kind)];
        vn_cfg__kvvec_remove_prefix(v, k->sink_key);
        if (k->flags & VN_KF_LIST) {
            vn_strlist_t items;
            vn_cfg__split_commas(val, &items);
            char *joined = vn_cfg__join(&items);
            vn_err_t err = vn_cfg__kvvec_push(ld, v, k->sink_key, joined, &items, true);
            free(joined);
            return err;
        }
        return vn_cfg__kvvec_push(ld, v, k->sink_key, val, NULL, false);
    }
    if (k->type == VN_KT_SINKS || k->type == VN_KT_ROUTING || k->type == VN_KT_IGNORED || k->type == VN_KT_MATCHERS ||
        k->type == VN_KT_SOURCES)
        return VN_OK; /* no env form (gofield is NULL for these) */
    return set_scalar(ld, k, val, false, where);
}

vn_err_t vn_cfg__set_from_node(vn_cfg_loader_t *ld, const vn_config_key_t *k, yaml_document_t *doc,
                               yaml_node_t *node)
{
    char where[48];
    snprintf(where, sizeof where, " (line %zu)", node->start_mark.line + 1);
    if (!vn_cfg__is_null(node))
        vn_cfg__mark_set(ld, k);
    switch (k->type) {
    case VN_KT_SINKS: {
        vn_sink_config_t **arr = FIELD(ld->obj, k, vn_sink_config_t *);
        size_t *n = (size_t *)(void *)((char *)ld->obj + k->off2);
        for (size_t i = 0; i < *n; i++) /* a repeated key: the last one wins, as for every other key */
            vn_cfg__sink_free(&(*arr)[i]);
        free(*arr);
        *arr = NULL;
        *n = 0;
        return vn_cfg__parse_sinks(ld, doc, node, k->key, arr, n);
    }
    case VN_KT_SOURCES: {
        vn_source_config_t **arr = FIELD(ld->obj, k, vn_source_config_t *);
        size_t *n = (size_t *)(void *)((char *)ld->obj + k->off2);
        for (size_t i = 0; i < *n; i++)
            vn_cfg__source_free(&(*arr)[i]);
        free(*arr);
        *arr = NULL;
        *n = 0;
        return vn_cfg__parse_sources(ld, doc, node, arr, n);
    }
    case VN_KT_ROUTING:
        return vn_cfg__parse_routing(ld, doc, node);
    case VN_KT_MATCHERS: {
        vn_tag_matcher_t **arr = FIELD(ld->obj, k, vn_tag_matcher_t *);
        size_t *n = (size_t *)(void *)((char *)ld->obj + k->off2);
        vn_cfg__matchers_free(*arr, *n);
        *arr = NULL;
        *n = 0;
        return vn_cfg__parse_tag_matchers(ld, doc, node, k->key, arr, n);
    }
    case VN_KT_IGNORED:
        return VN_OK; /* vn_cfg_loader_verdicts says so */
    case VN_KT_V13: {
        vn_kvvec_t *v = &ld->v13[v13_index(k->sink_kind)];
        vn_cfg__kvvec_remove_prefix(v, k->sink_key);
        return vn_cfg__flatten(ld, doc, node, k->sink_key, 0, v);
    }
    default:
        break;
    }
    if (is_list_type(k->type)) {
        vn_strlist_t items = {0};
        vn_err_t err = vn_cfg__node_strlist(ld, doc, node, k->key, &items);
        if (err != VN_OK)
            return err;
        return set_list(ld, k, &items, where);
    }
    if (node->type != YAML_SCALAR_NODE)
        return vn_cfg__errf(ld, "key \"%s\": expected a single value%s", k->key, where);
    if (vn_cfg__is_null(node)) {
        set_zero(ld->obj, k);
        return VN_OK;
    }
    return set_scalar(ld, k, (const char *)node->data.scalar.value, true, where);
}

/* ---------------------------------------------------------------- defaults, free */

static void apply_default(vn_config_t *cfg, const vn_config_key_t *k)
{
    vn_cfg_loader_t ld = {.schema = &vn_config_schema, .obj = cfg, .cfg = cfg};
    (void)vn_cfg__set_from_env(&ld, k, k->def, "default"); /* table defaults always parse (unit-tested) */
}

void vn_cfg__init_defaults(vn_config_t *cfg)
{
    for (size_t i = 0; i < vn_config_nkeys; i++)
        if (vn_config_keys[i].def)
            apply_default(cfg, &vn_config_keys[i]);
}

void vn_cfg__apply_zero_defaults(vn_config_t *cfg)
{
    for (size_t i = 0; i < vn_config_nkeys; i++) {
        const vn_config_key_t *k = &vn_config_keys[i];
        if (!(k->flags & VN_KF_ZERO_DEFAULT) || !k->def)
            continue;
        bool zero = false;
        switch (k->type) {
        case VN_KT_INT:
            zero = *FIELD(cfg, k, int) == 0;
            break;
        case VN_KT_DURATION:
            zero = *FIELD(cfg, k, double) == 0;
            break;
        case VN_KT_AGGS:
            zero = cfg->aggregates == 0;
            break;
        case VN_KT_STR:
            zero = *FIELD(cfg, k, char *) == NULL || **FIELD(cfg, k, char *) == '\0';
            break;
        default:
            break;
        }
        if (zero)
            apply_default(cfg, k);
    }
}

void vn_cfg_free_fields(const vn_config_schema_t *schema, void *obj)
{
    for (size_t i = 0; i < schema->nkeys; i++) {
        const vn_config_key_t *k = &schema->keys[i];
        switch (k->type) {
        case VN_KT_STR:
            free(*FIELD(obj, k, char *));
            *FIELD(obj, k, char *) = NULL;
            break;
        case VN_KT_STRLIST:
        case VN_KT_URLLIST:
            vn_cfg__strlist_free(FIELD(obj, k, vn_strlist_t));
            break;
        case VN_KT_MATCHERS: {
            size_t *n = (size_t *)(void *)((char *)obj + k->off2);
            vn_cfg__matchers_free(*FIELD(obj, k, vn_tag_matcher_t *), *n);
            *FIELD(obj, k, vn_tag_matcher_t *) = NULL;
            *n = 0;
            break;
        }
        default:
            break;
        }
    }
}

void vn_cfg__free_fields(vn_config_t *cfg)
{
    vn_cfg_free_fields(&vn_config_schema, cfg);
    free(cfg->percentiles);
    cfg->percentiles = NULL;
    cfg->n_percentiles = 0;
}
