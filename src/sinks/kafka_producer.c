/*
 * kafka_producer.c - the librdkafka producer shared by the Kafka metric and
 * span sinks (kafka_producer.h): config translation, callbacks, bounded close.
 *
 * Delivery reports and client errors are served by librdkafka's background
 * thread (the main queue is forwarded to the background queue), which counts
 * them in the producer's atomics; the sinks publish those totals to their
 * self-metrics slots. librdkafka's own log lines go through VN_LOG (levels
 * <= 4 as warn).
 */
#include "sinks/kafka_producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"

#define KAFKA_DEFAULT_BUFFER_BYTES ((long long)32 << 20)
#define KAFKA_DEFAULT_BUFFER_MESSAGES 100000
#define KAFKA_DEFAULT_RETRIES 3
#define KAFKA_DEFAULT_DELIVERY_TIMEOUT_S 30.0
#define LIBRDKAFKA_PREFIX "librdkafka."

/* ---------------------------------------------------------------- librdkafka callbacks */

/* Background thread: delivery reports and client errors. */
static void on_event(rd_kafka_t *rk, rd_kafka_event_t *ev, void *opaque)
{
    (void)rk;
    vn_kafka_producer_t *p = opaque;
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
        atomic_fetch_add_explicit(&p->delivered, ok, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->delivery_failed, bad, memory_order_relaxed);
        break;
    }
    case RD_KAFKA_EVENT_ERROR:
        atomic_fetch_add_explicit(&p->transport_errors, 1, memory_order_relaxed);
        if (rd_kafka_event_error_is_fatal(ev))
            VN_LOG(ERROR, "event=kafka_fatal_error sink=%s err=%s", p->name,
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

/* ---------------------------------------------------------------- config */

typedef struct ctor_ctx {
    const char *what, *name;
    rd_kafka_conf_t *conf;
    char *errbuf;
    size_t errcap;
} ctor_ctx_t;

static vn_err_t bad_key(ctor_ctx_t *c, const char *key, const char *why, const char *value)
{
    /* "config key K: want X, got \"v\"" */
    snprintf(c->errbuf, c->errcap, "%s \"%s\" (kafka): config key %s: %s \"%s\"", c->what, c->name, key, why,
             value ? value : "");
    return VN_ERR_CONFIG;
}

/* Sets a librdkafka property that a config key was translated into. */
static vn_err_t set_prop(ctor_ctx_t *c, const char *key, const char *prop, const char *value)
{
    char why[256];
    if (rd_kafka_conf_set(c->conf, prop, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(c->errbuf, c->errcap, "%s \"%s\" (kafka): config key %s: librdkafka %s=%s: %s", c->what, c->name,
                 key, prop, value, why);
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

static vn_err_t configure(ctor_ctx_t *c, const vn_sink_config_t *sc, const vn_kafka_keys_t *keys)
{
    vn_err_t err = set_prop(c, "broker", "bootstrap.servers", vn_sink_config_get(sc, "broker"));

    const char *acks = vn_sink_config_get(sc, keys->acks);
    const char *acks_prop = "all";
    if (acks && strcmp(acks, "none") == 0)
        acks_prop = "0";
    else if (acks && strcmp(acks, "local") == 0)
        acks_prop = "1";
    else if (acks && acks[0] && strcmp(acks, "all") != 0)
        VN_LOG(WARN, "event=kafka_unknown_acks sink=%s value=\"%s\" msg=\"using all\"", c->name, acks);
    if (err == VN_OK)
        err = set_prop(c, keys->acks, "acks", acks_prop);

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
        err = get_int(c, sc, keys->buffer_bytes, 0, (long long)2147483647 * 1024, KAFKA_DEFAULT_BUFFER_BYTES,
                      &bytes);
    if (err == VN_OK) {
        if (bytes == 0)
            bytes = KAFKA_DEFAULT_BUFFER_BYTES; /* Go: 0 means "not set" */
        snprintf(num, sizeof num, "%lld", (bytes + 1023) / 1024);
        err = set_prop(c, keys->buffer_bytes, "queue.buffering.max.kbytes", num);
    }
    if (err == VN_OK)
        err = get_int(c, sc, keys->buffer_messages, 0, 2147483647LL, KAFKA_DEFAULT_BUFFER_MESSAGES, &msgs);
    if (err == VN_OK) {
        snprintf(num, sizeof num, "%lld", msgs ? msgs : KAFKA_DEFAULT_BUFFER_MESSAGES);
        err = set_prop(c, keys->buffer_messages, "queue.buffering.max.messages", num);
    }
    if (err == VN_OK && vn_sink_config_get(sc, keys->buffer_frequency)) {
        err = get_duration_ms(c, sc, keys->buffer_frequency, 0, 0, &linger_ms);
        if (err == VN_OK && linger_ms > 0) {
            snprintf(num, sizeof num, "%lld", linger_ms);
            err = set_prop(c, keys->buffer_frequency, "linger.ms", num);
        }
    }
    if (err == VN_OK)
        err = get_duration_ms(c, sc, keys->delivery_timeout, KAFKA_DEFAULT_DELIVERY_TIMEOUT_S, 1, &timeout_ms);
    if (err == VN_OK) {
        snprintf(num, sizeof num, "%lld", timeout_ms);
        err = set_prop(c, keys->delivery_timeout, "message.timeout.ms", num);
    }

    /* librdkafka.<property> pass-through (after ours, so an operator can override them) */
    for (size_t i = 0; err == VN_OK && i < sc->n_kv; i++) {
        const char *key = sc->kv[i].key;
        if (key && strncmp(key, LIBRDKAFKA_PREFIX, strlen(LIBRDKAFKA_PREFIX)) == 0)
            err = set_prop(c, key, key + strlen(LIBRDKAFKA_PREFIX), sc->kv[i].value ? sc->kv[i].value : "");
    }
    return err;
}

/* ---------------------------------------------------------------- public API */

vn_err_t vn_kafka_producer_open(vn_kafka_producer_t *p, const char *what, const char *name,
                                const vn_sink_config_t *sc, const vn_kafka_keys_t *keys, const char *topic,
                                char *errbuf, size_t errcap)
{
    char dummy[1];
    if (!errbuf || !errcap) {
        errbuf = dummy;
        errcap = sizeof dummy;
    }
    ctor_ctx_t c = {.what = what, .name = name, .conf = rd_kafka_conf_new(), .errbuf = errbuf, .errcap = errcap};
    vn_err_t err = configure(&c, sc, keys);
    if (err != VN_OK) {
        rd_kafka_conf_destroy(c.conf);
        return err;
    }
    p->name = vn_xstrdup(name);
    rd_kafka_conf_set_opaque(c.conf, p);
    rd_kafka_conf_set_log_cb(c.conf, on_log);
    rd_kafka_conf_set_events(c.conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);
    rd_kafka_conf_set_background_event_cb(c.conf, on_event);
    char why[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c.conf, why, sizeof why); /* takes conf on success */
    if (!p->rk) {
        rd_kafka_conf_destroy(c.conf);
        snprintf(errbuf, errcap, "%s \"%s\" (kafka): cannot create producer: %s", what, name, why);
        vn_kafka_producer_close(p, 0);
        return VN_ERR_CONFIG;
    }
    /* Delivery reports and errors land on the main queue; forwarding it to the
     * background queue has librdkafka's background thread call on_event, so
     * nothing has to poll. */
    p->bg = rd_kafka_queue_get_background(p->rk);
    rd_kafka_queue_t *mainq = rd_kafka_queue_get_main(p->rk);
    if (!p->bg || !mainq) {
        if (mainq)
            rd_kafka_queue_destroy(mainq);
        snprintf(errbuf, errcap, "%s \"%s\" (kafka): librdkafka has no background queue", what, name);
        vn_kafka_producer_close(p, 0);
        return VN_ERR_CONFIG;
    }
    rd_kafka_queue_forward(mainq, p->bg);
    rd_kafka_queue_destroy(mainq);
    p->topic = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!p->topic) {
        snprintf(errbuf, errcap, "%s \"%s\" (kafka): config key %s: %s", what, name, keys->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        vn_kafka_producer_close(p, 0);
        return VN_ERR_CONFIG;
    }
    return VN_OK;
}

rd_kafka_resp_err_t vn_kafka_producer_send(vn_kafka_producer_t *p, const void *val, size_t len, const void *key,
                                           size_t key_len)
{
    if (rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)val, len, key, key_len,
                         NULL) == 0)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    return rd_kafka_last_error();
}

int vn_kafka_producer_drain(vn_kafka_producer_t *p, int timeout_ms)
{
    if (!p || !p->rk)
        return 0;
    if (rd_kafka_flush(p->rk, timeout_ms > 0 ? timeout_ms : 0) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    int left = rd_kafka_outq_len(p->rk);
    VN_LOG(WARN, "event=kafka_close_timeout sink=%s queued=%d msg=\"purging undelivered messages\"", p->name, left);
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(p->rk, 100); /* lets the purge's delivery reports be counted */
    return left;
}

void vn_kafka_producer_warn_errors(vn_kafka_producer_t *p)
{
    uint64_t terr = vn_kafka_producer_load(&p->transport_errors);
    if (terr <= p->errors_logged)
        return;
    VN_LOG(WARN, "event=kafka_client_errors sink=%s new=%llu delivered=%llu failed=%llu", p->name,
           (unsigned long long)(terr - p->errors_logged),
           (unsigned long long)vn_kafka_producer_load(&p->delivered),
           (unsigned long long)vn_kafka_producer_load(&p->delivery_failed));
    p->errors_logged = terr;
}

void vn_kafka_producer_close(vn_kafka_producer_t *p, int timeout_ms)
{
    if (!p)
        return;
    if (p->rk) {
        if (p->topic)
            vn_kafka_producer_drain(p, timeout_ms);
        if (p->topic)
            rd_kafka_topic_destroy(p->topic);
        if (p->bg)
            rd_kafka_queue_destroy(p->bg);
        rd_kafka_destroy(p->rk);
    }
    free(p->name);
    p->rk = NULL;
    p->topic = NULL;
    p->bg = NULL;
    p->name = NULL;
}
