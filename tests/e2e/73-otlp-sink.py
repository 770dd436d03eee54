"""The otlp metric sink (docs/otlp.md) against a Node receiver that decodes with the
OpenTelemetry JS SDK's own protobuf classes (@opentelemetry/otlp-transformer, tests/e2e/otel).

build/veneur runs with a jsonl localfile sink (the reference) and an otlp sink pointed at
the receiver. Cases: every flushed counter and gauge arrives with the localfile value,
counters as monotonic delta Sums with start = time - interval, gauges as Gauges (and, with
`histograms_as: gauges`, timer percentiles/aggregates too), tags as string attributes,
host.name on the resource, gzip and the configured headers; by default 100 timer samples as
one Summary point (count, sum, quantiles equal to the localfile sink's flat values); compression none; retry after the receiver comes back (delivery queue);
`protocol: grpc` to an @grpc/grpc-js server (gzip'd messages, metadata, a retried UNAVAILABLE).
"""
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, check, expect, run, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OTEL = os.path.join(HERE, "otel")


class Receiver:
    """otel/otlp_receiver.js in its own process; .requests are its decoded lines."""

    def __init__(self, port=0, grpc_fail=None):
        env = dict(os.environ, PORT=str(port))
        if grpc_fail is not None:
            env.update(GRPC="1", GRPC_FAIL=str(grpc_fail))
        self.proc = subprocess.Popen(["node", os.path.join(OTEL, "otlp_receiver.js")], cwd=OTEL,
                                     stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        expect(line.startswith("LISTEN "), "receiver did not start: %r" % line)
        self.port = int(line.split()[1])
        self.requests = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.requests.append(json.loads(line))

    def got(self):
        with self._lock:
            return list(self.requests)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def points(requests):
    """(name, kind, point, resource attrs, scope) for every data point received."""
    out = []
    for r in requests:
        expect("error" not in r, "receiver could not decode: %s" % r.get("error"))
        if r.get("failed"):
            continue
        for rm in r["request"].get("resourceMetrics", []):
            res = {a["key"]: a["value"].get("stringValue") for a in rm.get("resource", {}).get("attributes", [])}
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    kind = m.get("data")
                    for p in m[kind].get("dataPoints", []):
                        out.append((m["name"], kind, p, res, sm.get("scope", {}), m[kind]))
    return out


def attrs(p):
    return {a["key"]: a["value"]["stringValue"] for a in p.get("attributes", [])}


def sink_yaml(v_out, port, extra=""):
    return """metric_sinks:
  - kind: localfile
    name: file
    config: {flush_file: "%s", format: jsonl}
  - kind: otlp
    name: otel
    config:
      endpoint: "http://127.0.0.1:%d"
      headers: {x-api-key: sekret42, X-Scope-OrgID: team-a}
%s""" % (v_out, port, extra)


def start(port, extra="", aggregates="min, max, count"):
    import tempfile
    d = tempfile.mkdtemp(prefix="vn-otlp-")
    out = os.path.join(d, "ref.jsonl")
    v = Veneur(extra_yaml=sink_yaml(out, port, extra) + "percentiles: [0.5, 0.99]\naggregates: [%s]\n" % aggregates,
               jsonl=False)
    v.out = out
    return v


def case_values():
    rx = Receiver()
    v = start(rx.port, "      histograms_as: gauges\n")
    try:
        v.send_udp("otlp.hits:3|c|#route:home,env:prod\notlp.hits:4|c|#route:home,env:prod\n"
                   "otlp.temp:21.5|g|#room:lab\notlp.lat:10|ms|#svc:api\notlp.lat:30|ms|#svc:api\n"
                   "otlp.bare:1|c|#flag\n")
        names = {"otlp.hits", "otlp.temp", "otlp.lat.50percentile", "otlp.lat.max", "otlp.lat.count", "otlp.bare"}
        wait_for(lambda: names <= {p[0] for p in points(rx.got())}, timeout=15, what="otlp points")
        recs = v.wait_records(lambda r: names <= {x["name"] for x in r}, what="localfile reference")
        pts = points(rx.got())
        for rec in recs:
            if rec["name"] not in names:
                continue
            got = [p for p in pts if p[0] == rec["name"]]
            expect(len(got) == 1, "%s: want one point, got %d" % (rec["name"], len(got)))
            name, kind, p, res, scope, data = got[0]
            want_kind = "sum" if rec["type"] == "counter" else "gauge"
            expect(kind == want_kind, "%s: kind %s, want %s" % (name, kind, want_kind))
            expect(abs(p["asDouble"] - rec["value"]) < 1e-9, "%s: value %r, want %r" % (name, p["asDouble"], rec["value"]))
            want_attrs = dict(t.split(":", 1) if ":" in t else (t, "") for t in rec["tags"])
            expect(attrs(p) == want_attrs, "%s: attributes %r, want %r" % (name, attrs(p), want_attrs))
            expect(res == {"host.name": "testhost"}, "%s: resource %r" % (name, res))
            expect(scope.get("name") == "veneur-c", "scope %r" % scope)
            t = int(p["timeUnixNano"])
            expect(t % 1000000000 == 0 and abs(t // 1000000000 - rec["timestamp"]) <= 1,
                   "%s: time %d vs %d" % (name, t, rec["timestamp"]))
            if kind == "sum":
                expect(data.get("aggregationTemporality") == "AGGREGATION_TEMPORALITY_DELTA" and
                       data.get("isMonotonic") is True, "%s: sum %r" % (name, data))
                expect(int(p["startTimeUnixNano"]) == t - 1000000000, "%s: start %s" % (name, p["startTimeUnixNano"]))
        by = {p[0]: p[2]["asDouble"] for p in pts}
        expect(by["otlp.hits"] == 7 and by["otlp.temp"] == 21.5 and by["otlp.lat.max"] == 30 and
               by["otlp.lat.count"] == 2, "values %r" % by)
        h = rx.got()[0]["headers"]
        expect(rx.got()[0]["path"] == "/v1/metrics", "path %r" % rx.got()[0]["path"])
        expect(h.get("content-type") == "application/x-protobuf" and h.get("content-encoding") == "gzip",
               "headers %r" % h)
        expect(h.get("x-api-key") == "sekret42" and h.get("x-scope-orgid") == "team-a", "user headers %r" % h)
    finally:
        v.stop()
        rx.stop()


def case_summary():
    # default histograms_as: summary - one timer's parts arrive as one Summary point named after it
    rx = Receiver()
    v = start(rx.port, aggregates="min, max, count, sum")
    try:
        vals = [(i * 37) % 100 + 1 for i in range(100)]  # 1..100, shuffled
        v.send_udp("".join("otlp.sl:%d|ms|#svc:api\n" % n for n in vals) + "otlp.sc:2|c\n")
        flat = {"otlp.sl.50percentile", "otlp.sl.99percentile", "otlp.sl.min", "otlp.sl.max", "otlp.sl.count",
                "otlp.sl.sum"}
        wait_for(lambda: {"otlp.sl", "otlp.sc"} <= {p[0] for p in points(rx.got())}, timeout=15, what="summary")
        recs = v.wait_records(lambda r: flat <= {x["name"] for x in r}, what="localfile reference")
        pts = points(rx.got())
        got = [p for p in pts if p[0] == "otlp.sl"]
        expect(len(got) == 1, "want one otlp.sl point, got %d" % len(got))
        name, kind, p, res, scope, data = got[0]
        expect(kind == "summary", "kind %s" % kind)
        expect(not [q for q in pts if q[0].startswith("otlp.sl.")], "flat parts also sent: %r" %
               [q[0] for q in pts if q[0].startswith("otlp.sl.")])
        ref = {r["name"]: r for r in recs if r["name"] in flat}
        expect(int(p["count"]) == 100 and ref["otlp.sl.count"]["value"] == 100, "count %r" % p.get("count"))
        expect(p["sum"] == 5050 and ref["otlp.sl.sum"]["value"] == 5050, "sum %r" % p.get("sum"))
        qv = [(q.get("quantile", 0), q["value"]) for q in p["quantileValues"]]
        want = [(0, ref["otlp.sl.min"]["value"]), (0.5, ref["otlp.sl.50percentile"]["value"]),
                (0.99, ref["otlp.sl.99percentile"]["value"]), (1, ref["otlp.sl.max"]["value"])]
        expect(qv == want, "quantiles %r, want %r" % (qv, want))
        expect(want[0][1] == 1 and want[3][1] == 100, "min/max %r" % want)
        expect(attrs(p) == {"svc": "api"} and res == {"host.name": "testhost"}, "attrs %r res %r" % (attrs(p), res))
        t = int(p["timeUnixNano"])
        expect(abs(t // 1000000000 - ref["otlp.sl.max"]["timestamp"]) <= 1 and
               int(p["startTimeUnixNano"]) == t - 1000000000, "times %r" % p)
        sc = [q for q in pts if q[0] == "otlp.sc"]
        expect(len(sc) == 1 and sc[0][1] == "sum" and sc[0][2]["asDouble"] == 2, "counter %r" % sc)
    finally:
        v.stop()
        rx.stop()


def case_uncompressed():
    rx = Receiver()
    v = start(rx.port, "      compression: none\n")
    try:
        v.send_udp("otlp.plain:5|c\n")
        wait_for(lambda: any(p[0] == "otlp.plain" for p in points(rx.got())), timeout=15, what="plain point")
        r = [x for x in rx.got() if any(p[0] == "otlp.plain" for p in points([x]))][0]
        expect("content-encoding" not in r["headers"], "headers %r" % r["headers"])
        expect(sum(p[2]["asDouble"] for p in points(rx.got()) if p[0] == "otlp.plain") == 5, "value")
    finally:
        v.stop()
        rx.stop()


def case_retry():
    # nothing listens at first: the delivery queue keeps the body and sends it when the receiver is up
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    v = start(port, "      max_payload_age: 60s\n")
    rx = None
    try:
        v.send_udp("otlp.later:9|c\n")
        wait_for(lambda: v.metric("veneur_sink_transport_errors_total") > 0, timeout=15,
                 what="a failed attempt")
        rx = Receiver(port)
        expect(rx.port == port, "receiver port %d" % rx.port)
        wait_for(lambda: any(p[0] == "otlp.later" for p in points(rx.got())), timeout=20, what="retried body")
        expect(sum(p[2]["asDouble"] for p in points(rx.got()) if p[0] == "otlp.later") == 9, "value once")
    finally:
        v.stop()
        if rx:
            rx.stop()


def case_grpc():
    # OTLP/gRPC to @grpc/grpc-js; its first call answers UNAVAILABLE, which the delivery queue retries
    rx = Receiver(grpc_fail=1)
    v = start(rx.port, "      protocol: grpc\n      max_payload_age: 60s\n")
    try:
        v.send_udp("otlp.g:4|c|#k:v\notlp.gg:2.5|g\n")
        wait_for(lambda: {"otlp.g", "otlp.gg"} <= {p[0] for p in points(rx.got())}, timeout=20, what="grpc points")
        reqs = rx.got()
        expect(reqs[0].get("failed"), "first call should have been refused: %r" % reqs[0])
        pts = points(reqs)
        by = {p[0]: p for p in pts}
        expect(by["otlp.g"][1] == "sum" and by["otlp.g"][2]["asDouble"] == 4 and attrs(by["otlp.g"][2]) == {"k": "v"},
               "counter %r" % (by["otlp.g"],))
        expect(by["otlp.gg"][1] == "gauge" and by["otlp.gg"][2]["asDouble"] == 2.5, "gauge %r" % (by["otlp.gg"],))
        expect(by["otlp.g"][3] == {"host.name": "testhost"}, "resource %r" % by["otlp.g"][3])
        ok = [r for r in reqs if not r.get("failed")]
        expect(ok[0]["headers"].get("x-api-key") == "sekret42", "metadata %r" % ok[0]["headers"])
        expect(sum(p[2]["asDouble"] for p in pts if p[0] == "otlp.g") == 4, "counter delivered once")
    finally:
        v.stop()
        rx.stop()


check("otlp_sink_values_match_localfile", case_values)
check("otlp_sink_timer_as_summary", case_summary)
check("otlp_sink_grpc_with_retry", case_grpc)
check("otlp_sink_compression_none", case_uncompressed)
check("otlp_sink_retries_until_receiver_up", case_retry)
run()
