#!/usr/bin/env python3
"""OTLP trace ingest (otlp_listen_addresses, docs/otlp.md "Traces"): the OpenTelemetry JS SDK
(@opentelemetry/sdk-trace-base) exports a parent and a child span (the child with ERROR status)
with its own OTLP trace exporters (OTLP/HTTP protobuf: @opentelemetry/exporter-trace-otlp-proto;
OTLP/gRPC: @opentelemetry/exporter-trace-otlp-grpc) to build/veneur, whose SSF span pipeline
(ssf_listen_addresses) hands them to a `localfile` span sink; the jsonl holds each span mapped:
trace_id = low 64 bits of the trace id, id and parent_id from the span ids, name, service from the
resource's service.name, error from the status, tags = span attributes over resource attributes,
timestamps in ns. Also: a span with a bad trace id length is refused with partial_success; without
a span pipeline traces get 501 / UNIMPLEMENTED naming ssf_listen_addresses; the counters on /metrics.

Prints `PASS <name>` / `FAIL <name>: why`; exits 1 if any failed.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TIME_SCALE, check, expect, free_port, run, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OTEL = os.path.join(HERE, "otel")


def start(with_ssf=True):
    d = tempfile.mkdtemp(prefix="vn-otlptrace-")
    port, gport = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
    extra = 'otlp_listen_addresses: ["http://127.0.0.1:%d", "grpc://127.0.0.1:%d"]\n' % (port, gport)
    if with_ssf:
        extra += ('ssf_listen_addresses: ["udp://127.0.0.1:%d"]\n' % free_port() +
                  "span_sinks:\n  - kind: localfile\n    name: spans\n    config: {flush_file: \"%s\"}\n" %
                  os.path.join(d, "spans.jsonl"))
    v = harness.Veneur(extra_yaml=extra)
    v.spans_path = os.path.join(d, "spans.jsonl")
    v.http_base = "http://127.0.0.1:%d" % port
    v.grpc_url = "http://127.0.0.1:%d" % gport
    return v


def send(url, proto, tag, ok=True):
    p = subprocess.run(["node", os.path.join(OTEL, "otlp_trace_send.js"), url, proto, tag], cwd=OTEL,
                       capture_output=True, text=True, timeout=40 * TIME_SCALE)
    if not ok:
        return p
    expect(p.returncode == 0 and "DONE" in p.stdout, "sender failed: %s %s" % (p.stdout[-1500:], p.stderr[-800:]))
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def spans_in(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def s64(hexstr):
    """The low 8 bytes of a hex id, big-endian, as a signed int64 (the SSF mapping)."""
    v = int(hexstr[-16:], 16)
    return v - (1 << 64) if v >= 1 << 63 else v


def check_spans(v, sent, tag):
    expect(len(sent) == 2, "sender reported %r" % sent)
    want = {s["name"]: s for s in sent}
    got = wait_for(lambda: (lambda ss: len(ss) == 2 and ss)([s for s in spans_in(v.spans_path)
                                                              if s.get("name", "").endswith("." + tag)]),
                   timeout=15 * TIME_SCALE, what="2 %s spans in the jsonl" % tag)
    by = {s["name"]: s for s in got}
    p, c = by["parent." + tag], by["child." + tag]
    wp, wc = want["parent." + tag], want["child." + tag]
    expect(wp["trace_id"] == wc["trace_id"] and len(wp["trace_id"]) == 32, "sdk ids %r" % sent)
    expect(p["trace_id"] == s64(wp["trace_id"]) and c["trace_id"] == p["trace_id"], "trace ids %r" % got)
    expect(p["id"] == s64(wp["id"]) and c["id"] == s64(wc["id"]), "span ids %r vs %r" % (got, sent))
    expect(c["parent_id"] == p["id"] and p.get("parent_id", 0) == 0, "parent ids %r" % got)
    expect(p["start_timestamp"] == 1700000000123456789 and p["end_timestamp"] == 1700000001000000005,
           "parent times %r" % p)
    expect(c["start_timestamp"] == 1700000000200000000 and c["end_timestamp"] == 1700000000300000001,
           "child times %r" % c)
    expect(str(p["start_timestamp"]) == wp["start"] and str(c["end_timestamp"]) == wc["end"], "sdk times %r" % sent)
    expect(c.get("error") is True and not p.get("error"), "error flags %r" % got)
    expect(p["service"] == "e2e75" and c["service"] == "e2e75", "service %r" % got)
    expect(not p.get("indicator") and not c.get("indicator"), "indicator %r" % got)
    pt = p["tags"]
    expect(pt.get("http.route") == "/home" and pt.get("retries") == "3" and pt.get("ratio") == "0.5" and
           pt.get("ok") == "true" and pt.get("list") == '["a","b"]', "parent attribute tags %r" % pt)
    expect(pt.get("env") == "span-env", "span attribute must win over the resource's: %r" % pt)
    expect(pt.get("service.name") == "e2e75" and pt.get("host.name") == "nodehost", "resource tags %r" % pt)
    ct = c["tags"]
    expect(ct.get("db") == "orders" and ct.get("env") == "resource-env" and "http.route" not in ct,
           "child tags %r" % ct)


def post(url, body):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def ld(field, payload):
    """A length-delimited protobuf field (payloads here are < 128 bytes)."""
    return bytes([field << 3 | 2, len(payload)]) + payload


def case_http_and_grpc():
    v = start()
    try:
        check_spans(v, send(v.http_base + "/v1/traces", "proto", "http"), "http")
        check_spans(v, send(v.grpc_url, "grpc", "grpc"), "grpc")
        expect(v.metric("veneur_otlp_spans_total") == 4, "spans %r" % v.metric("veneur_otlp_spans_total"))
        expect(v.metric("veneur_otlp_trace_requests_total") == 2, "requests %r" %
               v.metric("veneur_otlp_trace_requests_total"))
        expect(v.metric("veneur_otlp_spans_refused_total") == 0, "refused %r" %
               v.metric("veneur_otlp_spans_refused_total"))
    finally:
        v.stop()


def case_refused_span():
    v = start()
    try:
        bad = ld(1, b"abc") + ld(2, b"\x00" * 7 + b"\x01")  # a 3-byte trace id
        good = ld(1, b"\x00" * 15 + b"\x09") + ld(2, b"\x00" * 7 + b"\x02") + ld(5, b"raw.ok")
        good += b"\x39" + (1700000000 * 10**9).to_bytes(8, "little") + b"\x41" + (1700000001 * 10**9).to_bytes(8, "little")
        body = ld(1, ld(2, ld(2, bad) + ld(2, good)))
        st, resp = post(v.http_base + "/v1/traces", body)
        # ExportTraceServiceResponse{partial_success{rejected_spans: 1, error_message}}
        expect(st == 200 and resp[:1] == b"\x0a" and b"\x08\x01\x12" in resp[:6] and b"trace_id" in resp,
               "response %d %r" % (st, resp))
        got = wait_for(lambda: [s for s in spans_in(v.spans_path) if s.get("name") == "raw.ok"], timeout=10,
                       what="raw.ok span")
        expect(got[0]["trace_id"] == 9 and got[0]["id"] == 2 and got[0].get("service", "") == "" and
               got[0]["end_timestamp"] == 1700000001 * 10**9, "raw span %r" % got)
        st, _ = post(v.http_base + "/v1/traces", b"\xff\xff\xff")
        expect(st == 400, "garbage: %d" % st)
        expect(v.metric("veneur_otlp_spans_total") == 1 and v.metric("veneur_otlp_spans_refused_total") == 1,
               "counters %r %r" % (v.metric("veneur_otlp_spans_total"), v.metric("veneur_otlp_spans_refused_total")))
        expect(v.metric("veneur_otlp_requests_refused_total") == 1, "requests refused %r" %
               v.metric("veneur_otlp_requests_refused_total"))
    finally:
        v.stop()


def case_no_span_pipeline():
    v = start(with_ssf=False)
    try:
        st, body = post(v.http_base + "/v1/traces", b"")
        expect(st == 501 and b"ssf_listen_addresses" in body, "http: %d %r" % (st, body))
        p = send(v.grpc_url, "grpc", "nopipe", ok=False)
        out = p.stdout + p.stderr
        expect(p.returncode != 0 and "ssf_listen_addresses" in out and ("UNIMPLEMENTED" in out or "12" in out),
               "grpc exporter: %d %s" % (p.returncode, out[-800:]))
        expect(v.metric("veneur_otlp_requests_refused_total") == 2, "refused %r" %
               v.metric("veneur_otlp_requests_refused_total"))
    finally:
        v.stop()


if __name__ == "__main__":
    check("otlp_traces_http_and_grpc", case_http_and_grpc)
    check("otlp_traces_refused_span_partial_success", case_refused_span)
    check("otlp_traces_no_span_pipeline", case_no_span_pipeline)
    run()
