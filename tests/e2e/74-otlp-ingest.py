"""OTLP metric ingest (otlp_listen_addresses, docs/otlp.md): the OpenTelemetry JS SDK
(@opentelemetry/sdk-metrics) exports with its own OTLP exporters (OTLP/HTTP protobuf:
@opentelemetry/exporter-metrics-otlp-proto; OTLP/gRPC: @opentelemetry/exporter-metrics-otlp-grpc)
to build/veneur, and the jsonl flush holds
what it sent, mapped: counters (delta and cumulative) as counter deltas, the
UpDownCounter too, the gauge's last value, explicit and exponential histograms as
histograms whose min, max and count are exact; resource host.name as tag host.
Also: traces refused with 501 (no span pipeline here: the message names ssf_listen_addresses), OTLP/JSON with 415, a body that is not protobuf with 400,
each counted on /metrics.
"""
import os
import socket
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TIME_SCALE, Veneur, by_name, check, expect, free_port, run, total  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OTEL = os.path.join(HERE, "otel")


def start():
    port, gport = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
    v = Veneur(extra_yaml='otlp_listen_addresses: ["http://127.0.0.1:%d", "grpc://127.0.0.1:%d"]\n' % (port, gport))
    v.otlp_url = "http://127.0.0.1:%d/v1/metrics" % port
    v.grpc_url = "http://127.0.0.1:%d" % gport
    return v


def send(url, proto, temporality, rounds):
    p = subprocess.run(["node", os.path.join(OTEL, "otlp_send.js"), url, proto, temporality, str(rounds)], cwd=OTEL,
                       capture_output=True, text=True, timeout=40 * TIME_SCALE)
    expect(p.returncode == 0 and "DONE" in p.stdout, "sender failed: %s %s" % (p.stdout[-1500:], p.stderr[-500:]))


H = "host:nodehost"


def wait_values(v, want):
    """want: {(name, tags tuple): value}; counters are summed over intervals, others take the last record."""
    def ok(recs):
        for (name, tags), val in want.items():
            rs = by_name(recs, name, list(tags))
            if not rs:
                return False
            got = total(recs, name, list(tags)) if rs[0]["type"] == "counter" else rs[-1]["value"]
            if abs(got - val) > 1e-9:
                return False
        return True
    try:
        v.wait_records(ok, timeout=15, what="OTLP values")
    except TimeoutError:
        recs = v.records()
        got = {}
        for (name, tags), _ in want.items():
            rs = by_name(recs, name, list(tags))
            got[name] = [(r["value"], r["tags"]) for r in rs] or [(x["value"], x["tags"]) for x in recs
                                                                    if x["name"] == name]
        raise AssertionError("flushed %r, want %r" % (got, want))


def case_delta(proto="proto"):
    v = start()
    try:
        send(v.otlp_url if proto == "proto" else v.grpc_url, proto, "delta", 1)
        wait_values(v, {
            ("otel.requests", (H, "http.code:200", "route:home")): 7,
            ("otel.inflight", (H, "pool:a")): -2,
            ("otel.temp", (H, "room:lab")): 22.5,
            ("otel.latency.min", (H, "svc:api")): 10,
            ("otel.latency.max", (H, "svc:api")): 1000,
            ("otel.latency.count", (H, "svc:api")): 4,
            ("otel.exp.min", (H, "svc:api")): 1,
            ("otel.exp.max", (H, "svc:api")): 100,
            ("otel.exp.count", (H, "svc:api")): 4,
        })
        expect(v.metric("veneur_otlp_requests_total") >= 1, "otlp requests not counted")
        expect(v.metric("veneur_otlp_points_rejected_total") == 0, "points rejected")
    finally:
        v.stop()


def case_cumulative():
    v = start()
    try:
        send(v.otlp_url, "proto", "cumulative", 2)
        wait_values(v, {
            ("otel.requests", (H, "http.code:200", "route:home")): 14,
            ("otel.inflight", (H, "pool:a")): -4,
            ("otel.temp", (H, "room:lab")): 23.5,
        })
        recs = v.records()
        cnt = sum(r["value"] for r in by_name(recs, "otel.latency.count", [H, "svc:api"]))
        expect(cnt == 8, "cumulative histogram count %r, want 8" % cnt)
        cnt = sum(r["value"] for r in by_name(recs, "otel.exp.count", [H, "svc:api"]))
        expect(cnt == 8, "cumulative exponential histogram count %r, want 8" % cnt)
    finally:
        v.stop()


def post(url, body, ctype):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def case_refusals():
    v = start()
    try:
        base = v.otlp_url[:-len("/v1/metrics")]
        st, body = post(base + "/v1/traces", b"\x0a\x00", "application/x-protobuf")
        expect(st == 501 and b"ssf_listen_addresses" in body, "traces: %d %r" % (st, body))
        st, _ = post(v.otlp_url, b"{}", "application/json")
        expect(st == 415, "json: %d" % st)
        st, _ = post(v.otlp_url, b"\xff\xff\xff", "application/x-protobuf")
        expect(st == 400, "garbage: %d" % st)
        st, body = post(v.otlp_url, b"", "application/x-protobuf")
        expect(st == 200, "empty request: %d" % st)
        expect(v.metric("veneur_otlp_requests_refused_total") == 3, "refused %r" %
               v.metric("veneur_otlp_requests_refused_total"))
    finally:
        v.stop()


def case_bad_address():
    import tempfile
    from harness import VENEUR, sanitizer_env
    d = tempfile.mkdtemp(prefix="vn-otlp-cfg-")
    cfg = os.path.join(d, "v.yaml")
    with open(cfg, "w") as f:
        f.write('otlp_listen_addresses: ["udp://127.0.0.1:4318"]\n')
    p = subprocess.run([VENEUR, "-f", cfg, "-validate-config"], capture_output=True, text=True, timeout=20,
                       env=sanitizer_env())
    expect(p.returncode != 0 and "otlp_listen_addresses" in p.stderr + p.stdout,
           "validate-config: %d %r" % (p.returncode, (p.stderr + p.stdout)[-300:]))


check("otlp_ingest_bad_address_refused", case_bad_address)
check("otlp_ingest_js_sdk_delta", case_delta)
check("otlp_ingest_js_sdk_cumulative", case_cumulative)
check("otlp_ingest_js_sdk_grpc_delta", lambda: case_delta("grpc"))
check("otlp_ingest_refusals", case_refusals)
run()
