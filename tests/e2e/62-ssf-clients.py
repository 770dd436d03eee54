"""SSF spans from independent protobuf implementations, built from proto/ssf.proto (Go's
ssf/sample.proto field numbers), over UDP (one SSFSpan per datagram) and over the unix stream
framing of Go's protocol/wire.go (version byte 0, big-endian u32 length, body):

- Node: protobufjs (the dependency of @grpc/proto-loader in tests/e2e/node) loads the .proto;
- Python: protoc (Debian protobuf-compiler) generates ssf_pb2 into a temp dir at test time,
  and python3-protobuf encodes. The client runs under an interpreter that can import
  google.protobuf (this one, else Debian's /usr/bin/python3); skipped, with the reason,
  when none can.

Each client sends the same shape of trace under its own prefix and service. Checked in the
jsonl metric flush, with the values Go derives from span samples: a counter with a sample rate
(3 + 2@0.5 = 7), a gauge, a set (distinct members), histogram aggregates and median, a counter
carried over the stream; indicator timers (indicator_span_timer_name) with Go's tags
{error, service} and the span durations in ns. Checked in a `localfile` span sink: every span
with its ids, parent, service, name and tags.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, VENEUR, Veneur, by_name, sanitizer_env, check, expect, free_port, run, total, wait_for  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
PROTO = os.path.join(ROOT, "proto", "ssf.proto")
T0 = 1_700_000_000_000_000_000
CLIENTS = {"node": 100, "py": 200}   # prefix -> id base

# One trace per client: B+1 root with samples (udp), B+2 histogram samples (udp), B+3 indicator
# 250 ms (unix), B+4 indicator error 1 s (unix), B+5 a counter (unix).
NODE_CLIENT = r"""
const protobuf = require('protobufjs');
const dgram = require('dgram');
const net = require('net');
const [port, sockPath, protoPath] = process.argv.slice(1);
const root = new protobuf.Root().loadSync(protoPath, {keepCase: true});
const SSFSpan = root.lookupType('ssf.SSFSpan');
const M = root.lookupEnum('ssf.SSFSample.Metric').values;
const B = 100, T0 = 1700000000000000000n, P = 'node', S = 'node-svc';
const ts = (ns) => (T0 + BigInt(ns)).toString();  // int64 as a decimal string: no float rounding
function enc(o) {
  const err = SSFSpan.verify(SSFSpan.fromObject(o));
  if (err) throw new Error(err);
  return Buffer.from(SSFSpan.encode(SSFSpan.fromObject(o)).finish());
}
const common = {trace_id: B + 1, start_timestamp: ts(0), service: S};
const udpSpans = [
  enc({...common, id: B + 1, end_timestamp: ts(5e6), name: P + '.root', tags: {env: 'test', client: P},
       metrics: [
         {metric: M.COUNTER, name: P + '.count', value: 3, tags: {route: 'home'}},
         {metric: M.COUNTER, name: P + '.count', value: 2, sample_rate: 0.5, tags: {route: 'home'}},
         {metric: M.GAUGE, name: P + '.gauge', value: 7.25},
         {metric: M.SET, name: P + '.set', message: 'alice'},
         {metric: M.SET, name: P + '.set', message: 'bob'},
         {metric: M.SET, name: P + '.set', message: 'alice'}]}),
  enc({...common, id: B + 2, parent_id: B + 1, end_timestamp: ts(1e6), name: P + '.hist',
       metrics: Array.from({length: 10}, (_, i) => ({metric: M.HISTOGRAM, name: P + '.hist', value: i + 1}))}),
];
const streamSpans = [
  enc({...common, id: B + 3, parent_id: B + 1, end_timestamp: ts(250e6), name: P + '.charge', indicator: true}),
  enc({...common, id: B + 4, parent_id: B + 1, end_timestamp: ts(1e9), name: P + '.charge', indicator: true,
       error: true}),
  enc({...common, id: B + 5, parent_id: B + 1, end_timestamp: ts(2e6), name: P + '.unix',
       metrics: [{metric: M.COUNTER, name: P + '.unix', value: 5}]}),
];
function frame(body) {
  const h = Buffer.alloc(5);
  h.writeUInt8(0, 0);
  h.writeUInt32BE(body.length, 1);
  return Buffer.concat([h, body]);
}
const u = dgram.createSocket('udp4');
let left = udpSpans.length;
for (const b of udpSpans) {
  u.send(b, +port, '127.0.0.1', (e) => { if (e) throw e; if (--left === 0) u.close(); });
}
const c = net.createConnection(sockPath, () => {
  c.end(Buffer.concat(streamSpans.map(frame)));
});
c.on('error', (e) => { console.error(e); process.exit(1); });
"""

PY_CLIENT = r"""
import socket, struct, sys
import ssf_pb2
port, sock_path = int(sys.argv[1]), sys.argv[2]
B, T0, P, S = 200, 1700000000000000000, "py", "py-svc"
Sample = ssf_pb2.SSFSample


def span(id, end_ns, name, parent=0, **kw):
    s = ssf_pb2.SSFSpan(trace_id=B + 1, id=id, parent_id=parent, start_timestamp=T0, end_timestamp=T0 + end_ns,
                        service=S, name=name, **kw)
    return s


def sample(s, metric, name, value=0.0, **kw):
    m = s.metrics.add(metric=metric, name=name, value=value, **kw)
    return m


root = span(B + 1, 5_000_000, P + ".root", tags={"env": "test", "client": P})
sample(root, Sample.COUNTER, P + ".count", 3, tags={"route": "home"})
sample(root, Sample.COUNTER, P + ".count", 2, sample_rate=0.5, tags={"route": "home"})
sample(root, Sample.GAUGE, P + ".gauge", 7.25)
for who in ("alice", "bob", "alice"):
    sample(root, Sample.SET, P + ".set", message=who)
hist = span(B + 2, 1_000_000, P + ".hist", parent=B + 1)
for i in range(1, 11):
    sample(hist, Sample.HISTOGRAM, P + ".hist", i)
ok = span(B + 3, 250_000_000, P + ".charge", parent=B + 1, indicator=True)
bad = span(B + 4, 1_000_000_000, P + ".charge", parent=B + 1, indicator=True, error=True)
carrier = span(B + 5, 2_000_000, P + ".unix", parent=B + 1)
sample(carrier, Sample.COUNTER, P + ".unix", 5)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for s in (root, hist):
    u.sendto(s.SerializeToString(), ("127.0.0.1", port))
st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
st.connect(sock_path)
for s in (ok, bad, carrier):
    body = s.SerializeToString()
    st.sendall(b"\x00" + struct.pack(">I", len(body)) + body)
st.close()
"""

state = {"sent": []}


def python_with_protobuf():
    """An interpreter that can import google.protobuf, or (None, why)."""
    tried = []
    for exe in (sys.executable, "/usr/bin/python3"):
        if exe in tried or not os.path.exists(exe):
            continue
        tried.append(exe)
        r = subprocess.run([exe, "-c", "import google.protobuf"], capture_output=True, timeout=30)
        if r.returncode == 0:
            return exe, None
    return None, "no python3 with google.protobuf (Debian python3-protobuf) among %s" % tried


def setup():
    d = tempfile.mkdtemp(prefix="vn-e2e-ssfclients-")
    state["dir"] = d
    sock_path, spans_out = os.path.join(d, "ssf.sock"), os.path.join(d, "spans.jsonl")
    state["spans_out"] = spans_out
    port = free_port()
    v = Veneur("ssf_listen_addresses:\n  - \"udp://127.0.0.1:%d\"\n  - \"unix://%s\"\n"
               "indicator_span_timer_name: \"indicator.span.timer\"\n"
               "percentiles: [0.5]\naggregates: [min, max, count]\n"
               "span_sinks:\n  - kind: localfile\n    name: spans\n    config: {flush_file: \"%s\"}\n"
               % (port, sock_path, spans_out))
    try:
        r = subprocess.run(["node", "-e", NODE_CLIENT, str(port), sock_path, PROTO], cwd=NODE_DIR,
                           capture_output=True, text=True, timeout=60)
        expect(r.returncode == 0, "node client failed: %s" % r.stderr[-800:])
        state["sent"].append("node")
        exe, why = python_with_protobuf()
        protoc = shutil.which("protoc")
        if exe and protoc:
            gen = os.path.join(d, "py")
            os.makedirs(gen)
            r = subprocess.run([protoc, "--proto_path=" + os.path.dirname(PROTO), "--python_out=" + gen, PROTO],
                               capture_output=True, text=True, timeout=60)
            expect(r.returncode == 0, "protoc failed: %s" % r.stderr[-800:])
            with open(os.path.join(gen, "client.py"), "w") as f:
                f.write(PY_CLIENT)
            r = subprocess.run([exe, "client.py", str(port), sock_path], cwd=gen, capture_output=True, text=True,
                               timeout=60)
            expect(r.returncode == 0, "python protobuf client failed: %s" % r.stderr[-800:])
            state["sent"].append("py")
        else:
            state["py_skip"] = why or "no protoc (Debian protobuf-compiler)"

        def have_all(recs):
            names = {r["name"] for r in recs}
            return all({p + ".count", p + ".gauge", p + ".set", p + ".hist.count", p + ".unix"} <= names and
                       any(r["name"] == "indicator.span.timer.count" and "service:%s-svc" % p in r["tags"]
                           for r in recs) for p in state["sent"])
        v.wait_records(have_all, timeout=20, what="span-derived metrics of every client flushed")
        wait_for(lambda: spans_lines() >= 5 * len(state["sent"]), timeout=20, what="spans in the span sink")
    finally:
        state["rc"] = v.stop()
    state["recs"] = v.records()


def spans_lines():
    try:
        with open(state["spans_out"]) as f:
            return sum(1 for l in f if l.strip())
    except FileNotFoundError:
        return 0


def one(name, tags):
    rs = by_name(state["recs"], name, tags)
    expect(len(rs) >= 1, "%s %s not flushed; have %s" % (name, tags, sorted({(r["name"], tuple(r["tags"]))
                                                                             for r in state["recs"]
                                                                             if r["name"].startswith(name[:4])})))
    return rs


def case_metrics(p):
    def f():
        expect(p in state["sent"], "client %s did not send: %s" % (p, state.get("py_skip")))
        recs = state["recs"]
        one(p + ".count", ["route:home"])
        expect(total(recs, p + ".count", ["route:home"]) == 7, "counter 3 + 2@0.5: %s" % by_name(recs, p + ".count"))
        expect([r["value"] for r in one(p + ".gauge", [])][-1] == 7.25, "gauge")
        expect(total(recs, p + ".set", []) == 2, "set {alice, bob}: %s" % by_name(recs, p + ".set"))
        expect(total(recs, p + ".hist.count", []) == 10, "histogram count: %s" % by_name(recs, p + ".hist.count"))
        expect(one(p + ".hist.min", [])[-1]["value"] == 1 and one(p + ".hist.max", [])[-1]["value"] == 10,
               "histogram min/max")
        med = one(p + ".hist.50percentile", [])[-1]["value"]
        expect(5 <= med <= 6, "median of 1..10: %s" % med)
        expect(total(recs, p + ".unix", []) == 5, "counter over the unix stream: %s" % by_name(recs, p + ".unix"))
        ok, bad = ["error:false", "service:%s-svc" % p], ["error:true", "service:%s-svc" % p]
        expect(total(recs, "indicator.span.timer.count", ok) == 1 and
               total(recs, "indicator.span.timer.count", bad) == 1,
               "indicator timer counts: %s" % [(r["name"], r["tags"], r["value"]) for r in recs
                                               if r["name"].startswith("indicator")])
        expect(one("indicator.span.timer.max", ok)[-1]["value"] == 250_000_000, "indicator 250 ms in ns")
        expect(one("indicator.span.timer.max", bad)[-1]["value"] == 1_000_000_000, "error indicator 1 s in ns")
        expect(state["rc"] == 0, "exit status %s" % state["rc"])
    return f


def case_spans(p):
    def f():
        expect(p in state["sent"], "client %s did not send: %s" % (p, state.get("py_skip")))
        b = CLIENTS[p]
        with open(state["spans_out"]) as fh:
            spans = {s["id"]: s for s in (json.loads(l) for l in fh if l.strip()) if b < s.get("id", 0) <= b + 5}
        expect(sorted(spans) == [b + 1, b + 2, b + 3, b + 4, b + 5], "span ids: %s" % sorted(spans))
        want = {b + 1: (0, p + ".root", 5_000_000), b + 2: (b + 1, p + ".hist", 1_000_000),
                b + 3: (b + 1, p + ".charge", 250_000_000), b + 4: (b + 1, p + ".charge", 1_000_000_000),
                b + 5: (b + 1, p + ".unix", 2_000_000)}
        for i, (parent, name, dur) in want.items():
            s = spans[i]
            expect(s.get("trace_id") == b + 1 and s.get("parent_id", 0) == parent and s.get("name") == name and
                   s.get("service") == p + "-svc", "span %d: %s" % (i, s))
            expect(s.get("start_timestamp") == T0 and s.get("end_timestamp") == T0 + dur, "span %d times: %s" % (i, s))
        expect(spans[b + 1].get("tags") == {"env": "test", "client": p}, "root tags: %s" % spans[b + 1])
        expect(spans[b + 3].get("indicator") is True and spans[b + 4].get("error") is True,
               "indicator/error flags: %s %s" % (spans[b + 3], spans[b + 4]))
        expect(len(spans[b + 1].get("metrics", [])) == 6, "root span keeps its 6 samples: %s" % spans[b + 1])
    return f


def case_example_config():
    """docs/operations.md section 7 points at this example: it must stay valid, strictly."""
    r = subprocess.run([VENEUR, "-validate-config-strict", "-f", os.path.join(ROOT, "examples", "tracing-sidecar.yaml")],
                       capture_output=True, text=True, timeout=30, env=sanitizer_env())
    expect(r.returncode == 0, "rc %s: %s" % (r.returncode, (r.stdout + r.stderr)[-600:]))


if __name__ == "__main__":
    check("ssf clients: node protobufjs and python protobuf send over udp and unix", setup)
    if "recs" in state:
        check("ssf node client (protobufjs): span samples, histogram, indicator timers", case_metrics("node"))
        check("ssf node client (protobufjs): spans in the localfile span sink", case_spans("node"))
        if state.get("py_skip"):
            print("SKIP ssf python protobuf client: %s" % state["py_skip"], flush=True)
        else:
            check("ssf python client (python3-protobuf): span samples, histogram, indicator timers",
                  case_metrics("py"))
            check("ssf python client (python3-protobuf): spans in the localfile span sink", case_spans("py"))
    check("examples/tracing-sidecar.yaml passes -validate-config-strict", case_example_config)
    run()
