/*
 * kafka.c - the "kafka" metric sink: every flushed metric becomes one Kafka
 * message on metric_topic (docs/behaviour.md W4.4), produced with librdkafka.
 *
 * Config keys (the sink's `config:` block; Go's names, sarama semantics mapped
 * onto librdkafka properties):
 *   broker                   required; comma-separated host:port list -> bootstrap.servers
 *   metric_topic             required (check_topic/event_topic are accepted and
 *                            ignored: Go produces nothing on them either)
 *   metric_require_acks      all (default; also any unknown value, with a warning)
 *                            | none | local -> acks -1 | 0 | 1
 *   partitioner              random -> "random"; anything else -> "consistent_random"
 *                            (Go's hash partitioner: no key is set, so both spread
 *                            messages randomly, as Go does)
 *   retry_max                -> message.send.max.retries; default 3 (sarama's
 *                            default; Go passes its unset 0)
 *   metric_buffer_bytes      -> queue.buffering.max.kbytes (rounded up); default 32 MiB
 *   metric_buffer_messages   -> queue.buffering.max.messages; default 100000
 *   metric_buffer_frequency  Go duration -> linger.ms; default librdkafka's 5 ms
 *   serialization_format     json (default, Go's) | protobuf (kafka_encode.c)
 *   metric_delivery_timeout  veneur-c: Go duration -> message.timeout.ms; default 30s
 *   librdkafka.<property>    veneur-c: any librdkafka producer property, e.g.
 *                            `librdkafka: {security.protocol: ssl}`; checked at start
 *
 * Bounded and non-blocking: librdkafka's own queue is the sink's buffer (the
 * two metric_buffer_* caps). rd_kafka_produce copies each message
 * (RD_KAFKA_MSG_F_COPY) and never waits (no RD_KAFKA_MSG_F_BLOCK), so a flush
 * costs encoding plus a memcpy per metric however slow or absent the brokers
 * are; a full queue makes the rest of the flush a counted drop.
 *
 * Delivery reports and client errors are served by librdkafka's background
 * thread (the main queue is forwarded to the background queue), which counts
 * them in the sink's atomics; each flush publishes the totals to the sink's
 * self-metrics slot (vn_sink_t.stats): delivered / delivery_failed per message,
 * transport_errors per client error event (connection refused, all brokers
 * down, ...). librdkafka's own log lines go through VN_LOG (levels <= 4 as warn).
 *
 * Shutdown: destroy flushes what is queued for at most KAFKA_CLOSE_TIMEOUT_MS,
 * then purges the rest (counted as failed deliveries) so exit never hangs on a
 * dead broker.
 */
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/stats.h"
#include "core/xalloc.h"
#include "sinks/kafka_internal.h"

#define KAFKA_CLOSE_TIMEOUT_MS 3000
#define KAFKA_DEFAULT_BUFFER_BYTES ((long long)32 << 20)
#define KAFKA_DEFAULT_BUFFER_MESSAGES 100000
#define KAFKA_DEFAULT_RETRIES 3
#define KAFKA_DEFAULT_DELIVERY_TIMEOUT_S 30.0
#define LIBRDKAFKA_PREFIX "librdkafka."

typedef struct kafka {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    rd_kafka_queue_t *bg; /* reference to the background queue, released before rd_kafka_destroy */
    vn_kafka_format_t format;
    vn_buf_t msg; /* one encoded message, reused */
    char *sink_name; /* owned copy, for log lines from librdkafka threads */
    /* written by librdkafka's background thread, read by the flush thread */
    _Atomic uint64_t delivered, delivery_failed, transport_errors;
    /* flush thread only */
    uint64_t produced, dropped;
    uint64_t errors_logged; /* transport_errors value at the last warning */
} kafka_t;

/* ---------------------------------------------------------------- librdkafka callbacks */

/* Background thread: delivery reports and client errors. */
static void on_event(rd_kafka_t *rk, rd_kafka_event_t *ev, void *opaque)
{
    (void)rk;
    kafka_t *k = opaque;
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_DR: {
        const rd_kafka_message_t *msg;
        uint64_t ok = 0, bad = 0;
        while ((msg = rd_kafka_event_message_next(ev)) != NULL) {
            if (msg->err)
                bad++;
            else
                ok++;
        }
        atomic_fetch_add_explicit(&k->delivered, ok, memory_order_relaxed);
        atomic_fetch_add_explicit(&k->delivery_failed, bad, memory_order_relaxed);
        break;
    }
    case RD_KAFKA_EVENT_ERROR:
        atomic_fetch_add_explicit(&k->transport_errors, 1, memory_order_relaxed);
        if (rd_kafka_event_error_is_fatal(ev))
            VN_LOG(ERROR, "event=kafka_fatal_error sink=%s err=%s", k->sink_name,
                   VN_LOG_Q(rd_kafka_event_error_string(ev)));
        break;
    default:
        break;
    }
    rd_kafka_event_destroy(ev);
}

/* librdkafka's internal threads: syslog levels (0 emerg .. 7 debug). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        VN_LOG(WARN, "event=kafka_client fac=%s msg=%s", VN_LOG_Q(fac), VN_LOG_Q(buf));
    else
        VN_LOG(DEBUG, "event=kafka_client fac=%s msg=%s", VN_LOG_Q(fac), VN_LOG_Q(buf));
}

/* ---------------------------------------------------------------- flush */

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Copies the sink's totals into its self-metrics slot (flush thread). */
static void publish(vn_sink_t *s, kafka_t *k)
{
    uint64_t terr = load(&k->transport_errors);
    if (terr > k->errors_logged) {
        VN_LOG(WARN, "event=kafka_client_errors sink=%s new=%llu delivered=%llu failed=%llu", s->name,
               (unsigned long long)(terr - k->errors_logged), (unsigned long long)load(&k->delivered),
               (unsigned long long)load(&k->delivery_failed));
        k->errors_logged = terr;
    }
    if (!s->stats)
        return;
    atomic_store_explicit(&s->stats->delivered, load(&k->delivered), memory_order_relaxed);
    atomic_store_explicit(&s->stats->delivery_failed, load(&k->delivery_failed), memory_order_relaxed);
    atomic_store_explicit(&s->stats->transport_errors, terr, memory_order_relaxed);
    atomic_store_explicit(&s->stats->dropped, k->dropped, memory_order_relaxed);
}

static vn_err_t kafka_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    (void)info; /* producing never blocks, so the deadline cannot be reached */
    kafka_t *k = s->impl;
    uint64_t dropped = 0, unencodable = 0;
    rd_kafka_resp_err_t why = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (!vn_sink__wants(s, &m[i]))
            continue;
        vn_buf_reset(&k->msg);
        if (vn_kafka__encode(&k->msg, k->format, s, &m[i]) != VN_OK) {
            unencodable++; /* NaN/Inf in JSON, or over the message size cap */
            continue;
        }
        if (rd_kafka_produce(k->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)vn_buf_ptr(&k->msg),
                             vn_buf_len(&k->msg), NULL, 0, NULL) == 0) {
            k->produced++;
            continue;
        }
        why = rd_kafka_last_error();
        if (why == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* the queue drains only as fast as the brokers ack: the rest of this
             * flush cannot fit either, and trying would only burn CPU */
            for (; i < n; i++)
                dropped += vn_sink__wants(s, &m[i]);
            break;
        }
        dropped++; /* e.g. _MSG_SIZE_TOO_LARGE, _UNKNOWN_TOPIC: this message only */
    }
    k->dropped += dropped + unencodable;
    publish(s, k);
    if (dropped || unencodable) {
        VN_LOG(WARN, "event=kafka_dropped sink=%s queue_or_produce=%llu unencodable=%llu err=\"%s\"", s->name,
               (unsigned long long)dropped, (unsigned long long)unencodable,
               why ? rd_kafka_err2str(why) : "none");
        return dropped ? VN_ERR_AGAIN : VN_ERR_PARSE;
    }
    return VN_OK;
}

static void kafka_free(kafka_t *k)
{
    if (!k)
        return;
    if (k->rk) {
        if (rd_kafka_flush(k->rk, KAFKA_CLOSE_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            VN_LOG(WARN, "event=kafka_close_timeout sink=%s queued=%d msg=\"purging undelivered messages\"",
                   k->sink_name, rd_kafka_outq_len(k->rk));
            rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(k->rk, 100); /* lets the purge's delivery reports be counted */
        }
        if (k->topic)
            rd_kafka_topic_destroy(k->topic);
        if (k->bg)
            rd_kafka_queue_destroy(k->bg);
        rd_kafka_destroy(k->rk);
    }
    vn_buf_free(&k->msg);
    free(k->sink_name);
    free(k);
}

static void kafka_destroy(vn_sink_t *s)
{
    kafka_free(s->impl);
    s->impl = NULL;
}

static const vn_sink_ops_t kafka_ops = {
    .kind = "kafka",
    .flush = kafka_flush,
    .flush_events = NULL, /* Go's Kafka metric sink produces no events or checks */
    .destroy = kafka_destroy,
};

/* ---------------------------------------------------------------- config */

typedef struct ctor_ctx {
    const vn_sink_t *s;
    rd_kafka_conf_t *conf;
    char *errbuf;
    size_t errcap;
} ctor_ctx_t;

static vn_err_t bad_key(ctor_ctx_t *c, const char *key, const char *why, const char *value)
{
    /* "config key K: want X, got \"v\"" */
    snprintf(c->errbuf, c->errcap, "sink \"%s\" (kafka): config key %s: %s \"%s\"", c->s->name, key, why,
             value ? value : "");
    return VN_ERR_CONFIG;
}

/* Sets a librdkafka property that a config key was translated into. */
static vn_err_t set_prop(ctor_ctx_t *c, const char *key, const char *prop, const char *value)
{
    char why[256];
    if (rd_kafka_conf_set(c->conf, prop, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(c->errbuf, c->errcap, "sink \"%s\" (kafka): config key %s: librdkafka %s=%s: %s", c->s->name, key,
                 prop, value, why);
        return VN_ERR_CONFIG;
    }
    return VN_OK;
}

/* A whole number in [lo, hi], or VN_ERR_CONFIG naming the key. Absent -> def. */
static vn_err_t get_int(ctor_ctx_t *c, const vn_sink_config_t *sc, const char *key, long long lo, long long hi,
                        long long def, long long *out)
{
    const char *v = vn_sink_config_get(sc, key);
    *out = def;
    if (!v || !v[0])
        return VN_OK;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return bad_key(c, key, "want a whole number in range, got", v);
    *out = x;
    return VN_OK;
}

static vn_err_t get_duration_ms(ctor_ctx_t *c, const vn_sink_config_t *sc, const char *key, double def_s,
                                long long lo_ms, long long *out_ms)
{
    const char *v = vn_sink_config_get(sc, key);
    double secs = def_s;
    if (v && v[0] && vn_config_parse_duration(v, &secs) != VN_OK)
        return bad_key(c, key, "want a duration like \"500ms\" or \"10s\", got", v);
    if (secs < 0)
        return bad_key(c, key, "must not be negative, got", v);
    long long ms = (long long)(secs * 1000.0 + 0.5);
    *out_ms = ms < lo_ms ? lo_ms : ms;
    return VN_OK;
}

static vn_err_t configure(ctor_ctx_t *c, const vn_sink_config_t *sc, vn_kafka_format_t *fmt)
{
    vn_err_t err = set_prop(c, "broker", "bootstrap.servers", vn_sink_config_get(sc, "broker"));

    const char *acks = vn_sink_config_get(sc, "metric_require_acks");
    const char *acks_prop = "all";
    if (acks && strcmp(acks, "none") == 0)
        acks_prop = "0";
    else if (acks && strcmp(acks, "local") == 0)
        acks_prop = "1";
    else if (acks && acks[0] && strcmp(acks, "all") != 0)
        VN_LOG(WARN, "event=kafka_unknown_acks sink=%s value=\"%s\" msg=\"using all\"", c->s->name, acks);
    if (err == VN_OK)
        err = set_prop(c, "metric_require_acks", "acks", acks_prop);

    const char *part = vn_sink_config_get(sc, "partitioner");
    if (err == VN_OK)
        err = set_prop(c, "partitioner", "partitioner",
                       part && strcmp(part, "random") == 0 ? "random" : "consistent_random");

    long long retries, bytes, msgs, linger_ms, timeout_ms;
    char num[32];
    if (err == VN_OK)
        err = get_int(c, sc, "retry_max", 0, 2147483647LL, KAFKA_DEFAULT_RETRIES, &retries);
    if (err == VN_OK) {
        snprintf(num, sizeof num, "%lld", retries);
        err = set_prop(c, "retry_max", "message.send.max.retries", num);
    }
    if (err == VN_OK)
        err = get_int(c, sc, "metric_buffer_bytes", 0, (long long)2147483647 * 1024, KAFKA_DEFAULT_BUFFER_BYTES,
                      &bytes);
    if (err == VN_OK) {
        if (bytes == 0)
            bytes = KAFKA_DEFAULT_BUFFER_BYTES; /* Go: 0 means "not set" */
        snprintf(num, sizeof num, "%lld", (bytes + 1023) / 1024);
        err = set_prop(c, "metric_buffer_bytes", "queue.buffering.max.kbytes", num);
    }
    if (err == VN_OK)
        err = get_int(c, sc, "metric_buffer_messages", 0, 2147483647LL, KAFKA_DEFAULT_BUFFER_MESSAGES, &msgs);
    if (err == VN_OK) {
        snprintf(num, sizeof num, "%lld", msgs ? msgs : KAFKA_DEFAULT_BUFFER_MESSAGES);
        err = set_prop(c, "metric_buffer_messages", "queue.buffering.max.messages", num);
    }
    if (err == VN_OK && vn_sink_config_get(sc, "metric_buffer_frequency")) {
        err = get_duration_ms(c, sc, "metric_buffer_frequency", 0, 0, &linger_ms);
        if (err == VN_OK && linger_ms > 0) {
            snprintf(num, sizeof num, "%lld", linger_ms);
            err = set_prop(c, "metric_buffer_frequency", "linger.ms", num);
        }
    }
    if (err == VN_OK)
        err = get_duration_ms(c, sc, "metric_delivery_timeout", KAFKA_DEFAULT_DELIVERY_TIMEOUT_S, 1, &timeout_ms);
    if (err == VN_OK) {
        snprintf(num, sizeof num, "%lld", timeout_ms);
        err = set_prop(c, "metric_delivery_timeout", "message.timeout.ms", num);
    }

    const char *format = vn_sink_config_get(sc, "serialization_format");
    *fmt = VN_KAFKA_JSON;
    if (err == VN_OK && format && strcmp(format, "protobuf") == 0)
        *fmt = VN_KAFKA_PROTOBUF;
    else if (err == VN_OK && format && format[0] && strcmp(format, "json") != 0)
        err = bad_key(c, "serialization_format", "want json or protobuf, got", format);

    /* librdkafka.<property> pass-through (after ours, so an operator can override them) */
    for (size_t i = 0; err == VN_OK && i < sc->n_kv; i++) {
        const char *key = sc->kv[i].key;
        if (key && strncmp(key, LIBRDKAFKA_PREFIX, strlen(LIBRDKAFKA_PREFIX)) == 0)
            err = set_prop(c, key, key + strlen(LIBRDKAFKA_PREFIX), sc->kv[i].value ? sc->kv[i].value : "");
    }
    return err;
}

vn_err_t vn_sink__kafka_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                            size_t errcap)
{
    (void)cfg;
    char dummy[1];
    if (!errbuf || !errcap) {
        errbuf = dummy;
        errcap = sizeof dummy;
    }
    const char *broker = vn_sink_config_get(sc, "broker");
    const char *topic = vn_sink_config_get(sc, "metric_topic");
    if (!broker || !broker[0]) {
        snprintf(errbuf, errcap, "sink \"%s\" (kafka): config key broker is required (comma-separated host:port list)",
                 s->name);
        return VN_ERR_CONFIG;
    }
    if (!topic || !topic[0]) {
        snprintf(errbuf, errcap,
                 "sink \"%s\" (kafka): config key metric_topic is required (check_topic and event_topic are not "
                 "produced)",
                 s->name);
        return VN_ERR_CONFIG;
    }

    kafka_t *k = vn_xcalloc(1, sizeof *k);
    k->sink_name = vn_xstrdup(s->name);
    vn_buf_init(&k->msg, VN_KAFKA_MSG_MAX);
    ctor_ctx_t c = {.s = s, .conf = rd_kafka_conf_new(), .errbuf = errbuf, .errcap = errcap};
    vn_err_t err = configure(&c, sc, &k->format);
    if (err != VN_OK) {
        rd_kafka_conf_destroy(c.conf);
        kafka_free(k);
        return err;
    }
    rd_kafka_conf_set_opaque(c.conf, k);
    rd_kafka_conf_set_log_cb(c.conf, on_log);
    rd_kafka_conf_set_events(c.conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);
    rd_kafka_conf_set_background_event_cb(c.conf, on_event);
    char why[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c.conf, why, sizeof why); /* takes conf on success */
    if (!k->rk) {
        rd_kafka_conf_destroy(c.conf);
        snprintf(errbuf, errcap, "sink \"%s\" (kafka): cannot create producer: %s", s->name, why);
        kafka_free(k);
        return VN_ERR_CONFIG;
    }
    /* Delivery reports and errors land on the main queue; forwarding it to the
     * background queue has librdkafka's background thread call on_event, so
     * nothing has to poll. */
    k->bg = rd_kafka_queue_get_background(k->rk);
    rd_kafka_queue_t *mainq = rd_kafka_queue_get_main(k->rk);
    if (!k->bg || !mainq) {
        if (mainq)
            rd_kafka_queue_destroy(mainq);
        snprintf(errbuf, errcap, "sink \"%s\" (kafka): librdkafka has no background queue", s->name);
        kafka_free(k);
        return VN_ERR_CONFIG;
    }
    rd_kafka_queue_forward(mainq, k->bg);
    rd_kafka_queue_destroy(mainq);
    k->topic = rd_kafka_topic_new(k->rk, topic, NULL);
    if (!k->topic) {
        snprintf(errbuf, errcap, "sink \"%s\" (kafka): config key metric_topic: %s", s->name,
                 rd_kafka_err2str(rd_kafka_last_error()));
        kafka_free(k);
        return VN_ERR_CONFIG;
    }
    VN_LOG(INFO, "event=kafka_sink_started sink=%s broker=\"%s\" topic=\"%s\" format=%s", s->name,
           broker, topic, k->format == VN_KAFKA_PROTOBUF ? "protobuf" : "json");
    s->impl = k;
    s->ops = &kafka_ops;
    return VN_OK;
}
