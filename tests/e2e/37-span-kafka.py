#!/usr/bin/env python3
"""build/veneur's "kafka" span sink (issue 20; src/spansinks/kafka.c) against a real Kafka peer.

The peer is librdkafka's own mock cluster (rd_kafka_mock_cluster_new), driven from this
process through ctypes (stdlib only): it listens on 127.0.0.1 like a broker, and a
librdkafka consumer reads the topic back. Spans go veneur-emit -ssf -> veneur's SSF UDP
listener -> the span sink -> the mock broker; every consumed value is decoded and checked.

  json_tag_sampling   span_sinks entry, json, 50% on tag "baz" (Go's TestSpanTagSampling
                      values): exactly the baz:farts0 spans arrive, as Go's encoding/json
                      of the span (trace/parent ids, times, service, name, tags, no key)
  protobuf_trace_id   format absent (Go: protobuf), 50% on the trace id: exactly the trace
                      ids whose CRC-32 of the decimal id is <= 2147483647 arrive, as SSFSpan
                      protobuf (decoded here from proto/ssf.proto's field numbers)
  v13_flat_keys       kafka_broker + kafka_span_* keys build the same sink: 100%, json
  dead_broker_exit    a broker that refuses connections: spans are counted lost and a
                      SIGTERM still exits promptly (the final flush is bounded)

Prints `PASS <name>` / `FAIL <name>: why`; exits 1 if any failed.
"""
import ctypes
import ctypes.util
import json
import os
import socket
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, check, expect, wait_for  # noqa: E402

NAME = "37-span-kafka/"
T0 = 1700000000  # span start, unix seconds
T0_NS = T0 * 10**9

# ---- librdkafka through ctypes: a mock cluster and a consumer ----


class _Partition(ctypes.Structure):  # rd_kafka_topic_partition_t (leading fields)
    _fields_ = [("topic", ctypes.c_char_p), ("partition", ctypes.c_int32), ("offset", ctypes.c_int64)]


class _Message(ctypes.Structure):  # rd_kafka_message_t (leading fields)
    _fields_ = [("err", ctypes.c_int), ("rkt", ctypes.c_void_p), ("partition", ctypes.c_int32),
                ("payload", ctypes.c_void_p), ("len", ctypes.c_size_t), ("key", ctypes.c_void_p),
                ("key_len", ctypes.c_size_t), ("offset", ctypes.c_int64)]


def _lib():
    lib = ctypes.CDLL(ctypes.util.find_library("rdkafka") or "librdkafka.so.1")
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    sigs = {
        "rd_kafka_conf_new": ([], vp), "rd_kafka_conf_set": ([vp, cp, cp, cp, ctypes.c_size_t], i),
        "rd_kafka_new": ([i, vp, cp, ctypes.c_size_t], vp), "rd_kafka_destroy": ([vp], None),
        "rd_kafka_mock_cluster_new": ([vp, i], vp), "rd_kafka_mock_cluster_destroy": ([vp], None),
        "rd_kafka_mock_cluster_bootstraps": ([vp], cp), "rd_kafka_mock_topic_create": ([vp, cp, i, i], i),
        "rd_kafka_poll_set_consumer": ([vp], i), "rd_kafka_topic_partition_list_new": ([i], vp),
        "rd_kafka_topic_partition_list_add": ([vp, cp, ctypes.c_int32], ctypes.POINTER(_Partition)),
        "rd_kafka_topic_partition_list_destroy": ([vp], None), "rd_kafka_assign": ([vp, vp], i),
        "rd_kafka_consumer_poll": ([vp, i], ctypes.POINTER(_Message)),
        "rd_kafka_message_destroy": ([ctypes.POINTER(_Message)], None), "rd_kafka_consumer_close": ([vp], i),
    }
    for name, (args, res) in sigs.items():
        f = getattr(lib, name)
        f.argtypes, f.restype = args, res
    return lib


RK = _lib()
PRODUCER, CONSUMER = 0, 1


def _handle(kind, props):
    conf = RK.rd_kafka_conf_new()
    err = ctypes.create_string_buffer(512)
    for k, v in props.items():
        if RK.rd_kafka_conf_set(conf, k.encode(), v.encode(), err, 512) != 0:
            raise RuntimeError("librdkafka %s=%s: %s" % (k, v, err.value.decode()))
    rk = RK.rd_kafka_new(kind, conf, err, 512)
    if not rk:
        raise RuntimeError("rd_kafka_new: " + err.value.decode())
    return rk


class MockKafka:
    """A one-broker mock cluster with the given topics (one partition each)."""

    def __init__(self, topics):
        self.rk = _handle(PRODUCER, {"log_level": "0"})
        self.mc = RK.rd_kafka_mock_cluster_new(self.rk, 1)
        if not self.mc:
            raise RuntimeError("rd_kafka_mock_cluster_new failed")
        self.bootstraps = RK.rd_kafka_mock_cluster_bootstraps(self.mc).decode()
        for t in topics:
            if RK.rd_kafka_mock_topic_create(self.mc, t.encode(), 1, 1) != 0:
                raise RuntimeError("mock topic " + t)

    def consume(self, topic, want, timeout=10.0, linger=0.5):
        """[(key, value bytes)] of partition 0 from the start: until `want` arrived (then `linger`
        more seconds, so an extra message is seen) or the deadline."""
        rk = _handle(CONSUMER, {"bootstrap.servers": self.bootstraps, "group.id": "vn-e2e",
                                "enable.auto.commit": "false", "log_level": "0"})
        RK.rd_kafka_poll_set_consumer(rk)
        parts = RK.rd_kafka_topic_partition_list_new(1)
        RK.rd_kafka_topic_partition_list_add(parts, topic.encode(), 0).contents.offset = -2  # BEGINNING
        RK.rd_kafka_assign(rk, parts)
        RK.rd_kafka_topic_partition_list_destroy(parts)
        out = []
        end = time.monotonic() + timeout * harness.TIME_SCALE
        while time.monotonic() < end:
            m = RK.rd_kafka_consumer_poll(rk, 50)
            if not m:
                continue
            msg = m.contents
            if msg.err == 0:
                key = ctypes.string_at(msg.key, msg.key_len) if msg.key else None
                out.append((key, ctypes.string_at(msg.payload, msg.len)))
                if len(out) == want:
                    end = min(end, time.monotonic() + linger)
            RK.rd_kafka_message_destroy(m)
        RK.rd_kafka_consumer_close(rk)
        RK.rd_kafka_destroy(rk)
        return out

    def close(self):
        RK.rd_kafka_mock_cluster_destroy(self.mc)
        RK.rd_kafka_destroy(self.rk)


# ---- SSFSpan protobuf (proto/ssf.proto field numbers) ----

def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, i
        shift += 7


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        yield num, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def decode_span(b):
    span = {"tags": {}}
    names = {1: "version", 2: "trace_id", 3: "id", 4: "parent_id", 5: "start_timestamp", 6: "end_timestamp",
             7: "error", 8: "service", 12: "indicator", 13: "name", 14: "root_start_timestamp"}
    for num, v in _fields(b):
        if num == 11:
            kv = dict(_fields(v))
            span["tags"][kv.get(1, b"").decode()] = kv.get(2, b"").decode()
        elif num in (8, 13):
            span[names[num]] = v.decode()
        elif num in names:
            span[names[num]] = _signed(v)
        elif num == 10:
            span.setdefault("metrics", []).append(v)
    return span


# ---- helpers ----

def emit(port, trace_id, *extra):
    r = subprocess.run([harness.VENEUR_EMIT, "-hostport", "udp://127.0.0.1:%d" % port, "-ssf", "-trace_id",
                        str(trace_id), "-parent_span_id", "9", "-name", "op", "-span_service", "svc",
                        "-span_starttime", str(T0), "-span_endtime", str(T0 + 2)] + list(extra),
                       capture_output=True, text=True, timeout=20)
    expect(r.returncode == 0, "veneur-emit: %s" % r.stderr)


def span_veneur(sink_yaml):
    ssf_port = harness.free_port()
    v = Veneur(extra_yaml='ssf_listen_addresses: ["udp://127.0.0.1:%d"]\n' % ssf_port + sink_yaml)
    v.ssf_port = ssf_port
    return v


def sink_yaml(config):
    lines = ["span_sinks:", "  - kind: kafka", "    name: kspans", "    config:"]
    lines += ["      %s: %s" % (k, json.dumps(val)) for k, val in config.items()]
    return "\n".join(lines) + "\n"


def span_sink_counter(v, family, sink="kspans"):
    """A per-span-sink counter from /metrics (spansinks/runner.h slot), or None when absent."""
    _, body = v.http("/metrics")
    prefix = '%s{sink_name="%s",' % (family, sink)
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def check_json_span(raw, trace_id, tags):
    """Go's encoding/json of the span veneur-emit sent: exact fields and values (id is random)."""
    doc = json.loads(raw)
    expect(isinstance(doc.get("id"), int) and doc["id"] > 0, "id %r" % doc.get("id"))
    want = {"trace_id": trace_id, "id": doc["id"], "parent_id": 9, "start_timestamp": T0_NS,
            "end_timestamp": T0_NS + 2 * 10**9, "service": "svc", "tags": tags, "name": "op"}
    expect(doc == want, "span %s, want %s" % (raw, json.dumps(want)))
    # Go's field order (struct order), not just the same keys
    expect(list(json.loads(raw, object_pairs_hook=lambda p: [k for k, _ in p])) ==
           ["trace_id", "id", "parent_id", "start_timestamp", "end_timestamp", "service", "tags", "name"],
           "field order of %s" % raw)


# ---- cases ----

def test_json_tag_sampling():
    k = MockKafka(["spans"])
    v = None
    try:
        v = span_veneur(sink_yaml({"broker": k.bootstraps, "span_topic": "spans", "span_serialization_format": "json",
                                   "span_sample_rate_percent": 50, "span_sample_tag": "baz",
                                   "span_buffer_frequency": "5ms"}))
        emit(v.ssf_port, 11, "-span_tags", "baz:farts0,env:prod")  # kept (Go's vector)
        emit(v.ssf_port, 12, "-span_tags", "baz:farts3")           # sampled out
        emit(v.ssf_port, 13, "-span_tags", "env:prod")             # no baz tag: skipped
        emit(v.ssf_port, 14, "-span_tags", "baz:farts0")           # kept
        got = k.consume("spans", 2)
        expect(len(got) == 2, "consumed %d messages: %r" % (len(got), got))
        expect(all(key is None for key, _ in got), "Go sets no message key")
        by_trace = {json.loads(val)["trace_id"]: val for _, val in got}
        expect(sorted(by_trace) == [11, 14], "trace ids %r" % sorted(by_trace))
        check_json_span(by_trace[11], 11, {"baz": "farts0", "env": "prod"})
        check_json_span(by_trace[14], 14, {"baz": "farts0"})
        # delivery reports reach /metrics at the next interval flush
        wait_for(lambda: span_sink_counter(v, "veneur_span_sink_spans_flushed_total") == 2, timeout=10,
                 what="2 spans flushed on /metrics")
        counts = {f: span_sink_counter(v, "veneur_span_sink_spans_%s_total" % f)
                  for f in ("ingested", "skipped", "dropped", "delivery_failed")}
        expect(counts == {"ingested": 2, "skipped": 2, "dropped": 0, "delivery_failed": 0}, "counters %r" % counts)
        expect(v.stop() == 0, "exit status")
        expect("event=kafka_span_sink_final sink=kspans delivered=2 delivery_failed=0" in v.log(),
               "final delivery counts in the log")
    finally:
        if v:
            v.stop()
        k.close()


def test_protobuf_trace_id():
    k = MockKafka(["pbspans"])
    v = None
    try:
        v = span_veneur(sink_yaml({"broker": k.bootstraps, "span_topic": "pbspans", "span_sample_rate_percent": 50}))
        ids = list(range(1, 9))
        kept = [t for t in ids if zlib.crc32(str(t).encode()) <= 2147483647]
        expect(0 < len(kept) < len(ids), "test ids must mix kept and skipped: %r" % kept)
        for t in ids:
            emit(v.ssf_port, t, "-span_tags", "k:v%d" % t)
        got = k.consume("pbspans", len(kept))
        spans = sorted((decode_span(val) for _, val in got), key=lambda s: s["trace_id"])
        expect([s["trace_id"] for s in spans] == kept, "trace ids %r, want %r" % ([s["trace_id"] for s in spans],
                                                                                 kept))
        for s in spans:
            t = s["trace_id"]
            expect(s["parent_id"] == 9 and s["id"] > 0, "ids %r" % s)
            expect(s["start_timestamp"] == T0_NS and s["end_timestamp"] == T0_NS + 2 * 10**9, "times %r" % s)
            expect(s["service"] == "svc" and s["name"] == "op", "service/name %r" % s)
            expect(s["tags"] == {"k": "v%d" % t}, "tags %r" % s["tags"])
        expect(v.stop() == 0, "exit status")
    finally:
        if v:
            v.stop()
        k.close()


def test_v13_flat_keys():
    k = MockKafka(["v13spans"])
    v = None
    try:
        v = span_veneur("kafka_broker: %s\nkafka_span_topic: v13spans\nkafka_span_serialization_format: json\n"
                        "kafka_span_sample_rate_percent: 100\nkafka_span_buffer_frequency: 5ms\n"
                        % json.dumps(k.bootstraps))
        for t in (21, 22, 23):
            emit(v.ssf_port, t, "-span_tags", "n:%d" % t)
        got = k.consume("v13spans", 3)
        by_trace = {json.loads(val)["trace_id"]: val for _, val in got}
        expect(sorted(by_trace) == [21, 22, 23] and len(got) == 3, "trace ids %r" % sorted(by_trace))
        for t in (21, 22, 23):
            check_json_span(by_trace[t], t, {"n": str(t)})
        expect(v.stop() == 0, "exit status")
    finally:
        if v:
            v.stop()
        k.close()


def dead_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_dead_broker_exit():
    # span_delivery_timeout (veneur-c) bounds how long an undeliverable span is held; the final
    # flush then returns as soon as the three have failed, well before the shutdown deadline
    v = span_veneur(sink_yaml({"broker": "127.0.0.1:%d" % dead_port(), "span_topic": "spans",
                               "span_sample_rate_percent": 100, "span_delivery_timeout": "1s"}))
    try:
        for t in (1, 2, 3):
            emit(v.ssf_port, t)
        wait_for(lambda: v.metric("veneur_ssf_spans_received_total") >= 3, timeout=10, what="spans received")
        t0 = time.monotonic()
        rc = v.stop()
        took = time.monotonic() - t0
        expect(rc == 0, "exit status %r" % rc)
        expect(took < 10 * harness.TIME_SCALE, "shutdown took %.1fs" % took)
        expect("event=kafka_span_sink_final sink=kspans delivered=0 delivery_failed=3" in v.log(),
               "three spans counted as failed: %s" % [l for l in v.log().splitlines() if "kafka_span" in l])
    finally:
        v.stop()


check(NAME + "json_tag_sampling", test_json_tag_sampling)
check(NAME + "protobuf_trace_id", test_protobuf_trace_id)
check(NAME + "v13_flat_keys", test_v13_flat_keys)
check(NAME + "dead_broker_exit", test_dead_broker_exit)
harness.run()
