/*
 * kafka_fixture.h - what the Kafka sink tests (sinks/test_kafka.c, spansinks/test_kafka_span.c)
 * share: sink config key/value lists, librdkafka's mock cluster, a consumer that reads a topic
 * from its start, a loopback port nobody listens on, and a stats reader. Header-only: each
 * runner is its own binary. Include after <cmocka.h>. Memory: a kvs_t holds its own copies
 * (no heap); the cluster and the consumer are freed by cluster_stop / rd_kafka_destroy.
 */
#ifndef VN_TEST_KAFKA_FIXTURE_H
#define VN_TEST_KAFKA_FIXTURE_H

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"

static inline uint64_t st(_Atomic uint64_t *c)
{
    return atomic_load(c);
}

/* A sink's `config:` block: up to 16 "key=value" entries, each cut at 319 bytes. */
typedef struct kvs {
    vn_kv_t kv[16];
    char store[16][320]; /* above broker_kv and the tests' 300-byte buffers: no cut */
    size_t n;
} kvs_t;

static inline void kv_add(kvs_t *k, const char *key_eq_value)
{
    snprintf(k->store[k->n], sizeof k->store[k->n], "%s", key_eq_value);
    char *eq = strchr(k->store[k->n], '=');
    *eq = '\0';
    k->kv[k->n] = (vn_kv_t){.key = k->store[k->n], .value = eq + 1};
    k->n++;
}

/* A loopback TCP port that was free a moment ago: connecting to it is refused. */
static inline int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static inline void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

typedef struct cluster {
    rd_kafka_t *rk; /* the handle that owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
    char broker_kv[300]; /* "broker=<bootstraps>" */
} cluster_t;

/* A one-broker mock cluster with topics[0..n), one partition each. */
static inline void cluster_start(cluster_t *c, const char *const *topics, size_t n)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(c->rk);
    c->mc = rd_kafka_mock_cluster_new(c->rk, 1);
    assert_non_null(c->mc);
    c->bootstraps = rd_kafka_mock_cluster_bootstraps(c->mc);
    snprintf(c->broker_kv, sizeof c->broker_kv, "broker=%s", c->bootstraps);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rd_kafka_mock_topic_create(c->mc, topics[i], 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static inline void cluster_stop(cluster_t *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->rk);
}

/* A consumer of partition 0 of topic from its first message (close with rd_kafka_consumer_close, then
 * rd_kafka_destroy). */
static inline rd_kafka_t *consumer_from_start(const char *bootstraps, const char *topic)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof err), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "vn-test", err, sizeof err), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err), RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

#endif
