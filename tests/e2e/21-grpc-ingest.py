"""gRPC ingest on grpc_listen_addresses (issue 21; Go networking.go StartGRPC).

One veneur with a gRPC listener and no ssf_listen_addresses (so the span workers exist because
of the gRPC listener alone, as in Go), a jsonl localfile metric sink and a localfile span sink.
An independent client (Node @grpc/grpc-js + proto-loader on our proto/ copies of Go's schemas)
calls DogstatsdGRPC/SendPacket with good and bad lines mixed, an invalid DogstatsdPacket and an
over-long one, SSFGRPC/SendSpan with samples, and Health/Check; veneur-emit -grpc sends metrics
(SendPacket) and, with -ssf, a span (SendSpan). Checked: the flushed VALUES and tags, the spans
in the span sink file, the gRPC statuses, and the self-metrics counting each path. A second
veneur with tls_key + tls_authority_certificate serves the listener over mutual TLS (as Go):
a client with a certificate is served, one without and a plaintext one are refused.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import VENEUR_EMIT, Veneur, by_name, check, expect, free_port, run, sanitizer_env, total, wait_for  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
CLIENT = os.path.join(NODE_DIR, "grpc_ingest_client.js")

STATE = {}


def node_calls(calls):
    p = subprocess.run(["node", CLIENT, "127.0.0.1:%d" % STATE["port"], json.dumps(calls)], cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=40)
    expect(p.returncode == 0, "node client failed: %s" % p.stderr[-800:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def emit(args):
    return subprocess.run([VENEUR_EMIT, "-hostport", "tcp://127.0.0.1:%d" % STATE["port"], "-grpc"] + args,
                          capture_output=True, text=True, timeout=30, env=sanitizer_env())


def spans():
    path = STATE["spans"]
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_span(pred, what):
    return wait_for(lambda: [s for s in spans() if pred(s)], timeout=15, what=what)


def test_send_packet_mixed_lines():
    v = STATE["v"]
    packet = ("grpc.count:2|c|#via:node\nthis is not a metric\ngrpc.count:3|c|#via:node\ngrpc.gauge:1.5|g\n"
              "grpc.set:a|s\ngrpc.set:b|s\ngrpc.set:a|s\nbad.type:1|zz\ngrpc.count:1|c|@0.5|#via:node")
    res = node_calls([{"packet": packet}, {"packet": "grpc.toolong:1|c\n" + "x" * 5000},
                      {"raw": "/dogstatsd.DogstatsdGRPC/SendPacket", "hex": "0a7f00"}])
    expect(res[0]["code"] == 0, "SendPacket OK even with bad lines (Go answers Empty): %r" % res[0])
    expect(res[1]["code"] == 0, "an over-long packet is dropped, call OK (Go): %r" % res[1])
    expect(res[2]["code"] == 13 and "DogstatsdPacket" in res[2]["details"],
           "invalid protobuf: INTERNAL, as grpc-go: %r" % res[2])
    recs = v.wait_records(lambda r: total(r, "grpc.count", ["via:node"]) >= 7 and by_name(r, "grpc.set"),
                          what="grpc.count and grpc.set flushed")
    expect(total(recs, "grpc.count", ["via:node"]) == 7, "2 + 3 + 1/0.5 = 7: %r" % by_name(recs, "grpc.count"))
    g = by_name(recs, "grpc.gauge")
    expect(len(g) == 1 and g[0]["value"] == 1.5 and g[0]["type"] == "gauge", "gauge 1.5: %r" % g)
    s = by_name(recs, "grpc.set")
    expect(len(s) == 1 and s[0]["value"] == 2, "set of a, b: %r" % s)
    expect(not by_name(recs, "grpc.toolong") and not by_name(recs, "bad.type"), "dropped lines never flushed")
    wait_for(lambda: v.metric("veneur_packet_error_total") >= 2, what="two bad lines counted")
    got = {}
    for line in v.http("/metrics")[1].splitlines():
        if line.startswith("veneur_packets_received_total{protocol=\"dogstatsd-grpc\"}"):
            got["pk"] = float(line.rsplit(" ", 1)[1])
        if line.startswith("veneur_packet_error_total{reason=\"toolong\"}"):
            got["long"] = float(line.rsplit(" ", 1)[1])
    expect(got.get("pk", 0) >= 1 and got.get("long") == 1, "per-protocol packets and toolong counted: %r" % got)


def test_send_span_with_samples():
    v = STATE["v"]
    span = {"trace_id": "7001", "id": "7002", "parent_id": "7000", "start_timestamp": "1700000000000000000",
            "end_timestamp": "1700000000250000000", "service": "nodesvc", "name": "node.op",
            "tags": {"team": "obs"},
            "metrics": [{"metric": "COUNTER", "name": "span.count", "value": 4, "tags": {"k": "v"}},
                        {"metric": "GAUGE", "name": "span.gauge", "value": 2.25},
                        {"metric": "HISTOGRAM", "name": "span.hist", "value": 10, "tags": {"h": "1"}}]}
    res = node_calls([{"span": span}, {"span": {"trace_id": "0", "id": "0"}}])
    expect(res[0]["code"] == 0, "SendSpan OK: %r" % res[0])
    expect(res[1]["code"] == 0, "an empty span is accepted (Go: counted, reaches no sink): %r" % res[1])
    got = wait_span(lambda s: s.get("trace_id") == 7001, "the node span in the span sink")[0]
    expect(got["id"] == 7002 and got["parent_id"] == 7000 and got["service"] == "nodesvc" and
           got["name"] == "node.op" and got["tags"] == {"team": "obs"}, "span fields: %r" % got)
    expect(got["end_timestamp"] - got["start_timestamp"] == 250000000, "span times: %r" % got)
    expect(len(got["metrics"]) == 3, "samples kept on the span: %r" % got["metrics"])
    recs = v.wait_records(lambda r: by_name(r, "span.count") and by_name(r, "span.gauge") and
                          by_name(r, "span.hist.max"), what="span samples flushed as metrics")
    expect(total(recs, "span.count", ["k:v"]) == 4, "span counter 4: %r" % by_name(recs, "span.count"))
    expect(by_name(recs, "span.gauge")[0]["value"] == 2.25, "span gauge 2.25")
    expect(by_name(recs, "span.hist.max", ["h:1"])[0]["value"] == 10, "span histogram max 10")
    wait_for(lambda: v.metric("veneur_grpc_ingest_spans_total") == 2, what="two spans queued")
    wait_for(lambda: v.metric("veneur_ssf_spans_received_total") >= 2, what="two spans decoded")
    expect(not [s for s in spans() if s.get("trace_id", 0) == 0 and s.get("id", 0) == 0],
           "the empty span reaches no span sink")


def test_health_check():
    res = node_calls([{"health": ""}, {"health": "veneur"}, {"health": "other"},
                      {"raw": "/grpc.health.v1.Health/Watch", "hex": ""},
                      {"raw": "/forwardrpc.Forward/SendMetricsV2", "hex": ""}])
    expect(res[0] == {"code": 0, "details": "", "response": {"status": "SERVING"}}, "\"\" SERVING: %r" % res[0])
    expect(res[1]["response"] == {"status": "SERVING"}, "veneur SERVING: %r" % res[1])
    expect(res[2]["code"] == 5 and res[2]["details"] == "unknown service", "other: NOT_FOUND: %r" % res[2])
    expect(res[3]["code"] == 12 and res[4]["code"] == 12, "Watch and other methods UNIMPLEMENTED: %r" % res[3:])


def test_emit_grpc_metrics():
    v = STATE["v"]
    p = emit(["-name", "emit.grpc", "-count", "5", "-gauge", "3.5", "-tag", "via:emit"])
    expect(p.returncode == 0, "veneur-emit -grpc exit 0: %r" % p.stderr)
    p = emit(["-name", "emit.grpc", "-count", "6", "-tag", "via:emit"])
    expect(p.returncode == 0, "second veneur-emit -grpc exit 0: %r" % p.stderr)
    recs = v.wait_records(lambda r: total(r, "emit.grpc", ["via:emit"]) >= 11 and
                          [x for x in by_name(r, "emit.grpc") if x["type"] == "gauge"], what="emit -grpc flushed")
    counts = [x for x in by_name(recs, "emit.grpc", ["via:emit"]) if x["type"] == "counter"]
    gauges = [x for x in by_name(recs, "emit.grpc", ["via:emit"]) if x["type"] == "gauge"]
    expect(sum(x["value"] for x in counts) == 11, "5 + 6: %r" % counts)
    expect(len(gauges) == 1 and gauges[0]["value"] == 3.5, "gauge 3.5: %r" % gauges)


def test_emit_grpc_ssf():
    v = STATE["v"]
    p = emit(["-ssf", "-trace_id", "8101", "-parent_span_id", "8100", "-span_service", "emitsvc",
              "-name", "emit.ssf", "-count", "9", "-tag", "k:w", "-span_tags", "a:b",
              "-span_starttime", "1700000000", "-span_endtime", "1700000002"])
    expect(p.returncode == 0, "veneur-emit -grpc -ssf exit 0: %r" % p.stderr)
    got = wait_span(lambda s: s.get("trace_id") == 8101, "the emit span in the span sink")[0]
    expect(got["parent_id"] == 8100 and got["service"] == "emitsvc" and got["name"] == "emit.ssf",
           "span fields: %r" % got)
    expect(got["tags"].get("a") == "b", "span tags: %r" % got["tags"])
    expect(got["end_timestamp"] - got["start_timestamp"] == 2 * 10**9, "span times: %r" % got)
    recs = v.wait_records(lambda r: by_name(r, "emit.ssf"), what="the span's counter flushed")
    expect(total(recs, "emit.ssf", ["k:w"]) == 9, "counter 9 from the span: %r" % by_name(recs, "emit.ssf"))


def test_emit_grpc_nothing_listening():
    port = free_port(socket.SOCK_STREAM)
    t0 = time.monotonic()
    p = subprocess.run([VENEUR_EMIT, "-hostport", "127.0.0.1:%d" % port, "-grpc", "-name", "x", "-count", "1"],
                       capture_output=True, text=True, timeout=30, env=sanitizer_env())
    expect(p.returncode == 1 and "gRPC" in p.stderr, "exit 1 naming gRPC: %r %r" % (p.returncode, p.stderr))
    expect(time.monotonic() - t0 < 12, "fails within the 10 s deadline")


def test_tls_listener():
    """tls_key + tls_authority_certificate: the gRPC listener is TLS with client certificates, as Go."""
    f = harness.test_pki("grpc")

    def ind(path):
        with open(path) as fh:
            return "\n".join("  " + line for line in fh.read().strip().splitlines())
    port = free_port(socket.SOCK_STREAM)
    yaml = ('grpc_listen_addresses: ["tcp://127.0.0.1:%d"]\ntls_key: |\n%s\ntls_certificate: |\n%s\n'
            "tls_authority_certificate: |\n%s\n" % (port, ind(f["server.key"]), ind(f["server.pem"]), ind(f["ca.pem"])))
    v = Veneur(yaml, interval="1s")
    try:
        def calls(calls, *tls):
            p = subprocess.run(["node", CLIENT, "127.0.0.1:%d" % port, json.dumps(calls)] + list(tls), cwd=NODE_DIR,
                               capture_output=True, text=True, timeout=40)
            expect(p.returncode == 0, "node client failed: %s" % p.stderr[-800:])
            return json.loads(p.stdout.strip().splitlines()[-1])
        res = calls([{"packet": "tls.grpc:4|c|#via:tls"}, {"health": ""}], f["ca.pem"], f["client.pem"],
                    f["client.key"])
        expect(res[0]["code"] == 0 and res[1]["response"] == {"status": "SERVING"}, "mutual TLS calls: %r" % res)
        res = calls([{"packet": "tls.nocert:1|c"}], f["ca.pem"], "-", "-")
        expect(res[0]["code"] == 14, "no client certificate: UNAVAILABLE (handshake refused): %r" % res)
        res = calls([{"packet": "tls.plain:1|c"}])
        expect(res[0]["code"] == 14, "plaintext to a TLS listener: UNAVAILABLE: %r" % res)
        recs = v.wait_records(lambda r: by_name(r, "tls.grpc"), what="the TLS packet flushed")
        expect(total(recs, "tls.grpc", ["via:tls"]) == 4, "value over TLS: %r" % by_name(recs, "tls.grpc"))
        expect(not by_name(recs, "tls.nocert") and not by_name(recs, "tls.plain"), "refused clients sent nothing")
        expect(v.metric("veneur_grpc_tls_handshake_failures_total") >= 2, "failed handshakes counted")
        expect("mode=tls" in v.log(), "listening in TLS mode logged")
    finally:
        expect(v.stop() == 0, "veneur exit 0")


def main():
    port = free_port(socket.SOCK_STREAM)
    STATE["port"] = port
    STATE["spans"] = os.path.join(tempfile.mkdtemp(prefix="vn-e2e-grpc-"), "spans.jsonl")
    v = Veneur('grpc_listen_addresses: ["tcp://127.0.0.1:%d"]\nmetric_max_length: 4096\n'
               "span_sinks:\n  - kind: localfile\n    name: spans\n    config: {flush_file: \"%s\"}\n"
               % (port, STATE["spans"]), interval="1s")
    STATE["v"] = v
    try:
        for name, fn in [("send_packet_mixed_lines", test_send_packet_mixed_lines),
                         ("send_span_with_samples", test_send_span_with_samples),
                         ("health_check", test_health_check),
                         ("emit_grpc_metrics", test_emit_grpc_metrics),
                         ("emit_grpc_ssf", test_emit_grpc_ssf),
                         ("emit_grpc_nothing_listening", test_emit_grpc_nothing_listening),
                         ("tls_listener", test_tls_listener)]:
            check(name, fn)

        def stops_clean():
            rc = v.stop()
            expect(rc == 0, "veneur exit %s" % rc)
            expect("grpc_listen_addresses are ignored" not in v.log(), "no not-supported warning")
            expect("event=listening proto=grpc" in v.log(), "listening logged")
        check("stops_clean", stops_clean)
    finally:
        v.stop()
    run()


if __name__ == "__main__":
    main()
