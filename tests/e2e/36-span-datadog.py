#!/usr/bin/env python3
"""The datadog span sink (Go sinks/datadog DatadogSpanSink; src/spansinks/datadog.c).

  values     spans sent by build/veneur-emit -ssf (a root whose -command is a
             second veneur-emit, so the child nests under the root's random span
             id; a span needs -command or -span_starttime/-span_endtime to
             carry timestamps, else it is no valid trace) and by hand-encoded
             SSF datagrams reach a strict fake trace
             agent with Go's values: ids, name, service, resource (tag
             "resource", else "unknown", and removed from meta), start and
             duration in ns, meta = the other tags, error 2 for failed spans,
             type "web", parent_id left out for roots; invalid traces never
             arrive. The fake agent answers 400 to anything but
             `PUT /v0.3/traces`, Content-Type application/json, and a body of
             the shape and field types of Datadog's trace API (an array of
             traces, each a non-empty array of spans of one trace id).
  flood      a span sink whose agent accepts TCP connections and never answers
             (it reads, so we know the span bodies went out),
             ~50k spans over UDP in ~3 s, statsd counters alongside: the jsonl
             metric flushes keep coming every second (consecutive stamps, no gap
             over 1.5 s), the counter totals are exact, and SIGTERM ends veneur
             well within its 25 s shutdown deadline.

Binaries from harness (VENEUR_BUILD_DIR honoured). Prints PASS/FAIL per case.
"""
import http.server
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SHUTDOWN_DEADLINE_S = 25  # src/main.c

# ---- a tiny SSF protobuf encoder (proto/ssf.proto field numbers) -------------------------


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3) + varint(v) if v else b""


def f_bytes(num, b):
    b = b.encode() if isinstance(b, str) else b
    return varint(num << 3 | 2) + varint(len(b)) + b if b else b""


def counter_sample(name, value):
    """An SSFSample COUNTER (metric 0, the default) with a float32 value."""
    return f_bytes(2, name) + varint(3 << 3 | 5) + struct.pack("<f", value)


def span(trace_id=0, id=0, parent=0, start=0, end=0, error=False, service="", tags=None, name="", samples=()):
    tags_b = b"".join(f_bytes(11, f_bytes(1, k) + f_bytes(2, v)) for k, v in (tags or {}).items())
    return (f_varint(2, trace_id) + f_varint(3, id) + f_varint(4, parent) + f_varint(5, start) + f_varint(6, end) +
            f_varint(7, 1 if error else 0) + f_bytes(8, service) + b"".join(f_bytes(10, m) for m in samples) +
            tags_b + f_bytes(13, name))


# ---- a strict fake Datadog trace agent ---------------------------------------------------

INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64 = (0, (1 << 64) - 1)
# Datadog trace API v0.3 span: field -> (types, required)
SPAN_FIELDS = {
    "trace_id": ("uint64", True), "span_id": ("uint64", True), "parent_id": ("uint64", False),
    "name": ("str", True), "resource": ("str", True), "service": ("str", True),
    "start": ("int64", True), "duration": ("int64", True), "error": ("int32", False),
    "meta": ("meta", False), "metrics": ("metrics", False), "type": ("str", False),
}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_field(k, kind, v):
    if kind in ("uint64", "int64", "int32"):
        lo, hi = {"uint64": UINT64, "int64": INT64, "int32": (-(1 << 31), (1 << 31) - 1)}[kind]
        if not is_int(v) or not lo <= v <= hi:
            return "%s: want %s, got %r" % (k, kind, v)
    elif kind == "str":
        if not isinstance(v, str) or (k in ("name", "resource", "service") and not v):
            return "%s: want a non-empty string, got %r" % (k, v)
    elif kind == "meta":
        if v is not None and not (isinstance(v, dict) and all(isinstance(a, str) and isinstance(b, str)
                                                              for a, b in v.items())):
            return "meta: want string -> string, got %r" % (v,)
    elif kind == "metrics":
        if v is not None and not (isinstance(v, dict) and all(
                isinstance(a, str) and (is_int(b) or isinstance(b, float)) for a, b in v.items())):
            return "metrics: want string -> number, got %r" % (v,)
    return None


def validate(body):
    """The decoded traces, or raises ValueError saying what Datadog's API would refuse."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise ValueError("body is not JSON: %s" % e)
    if not isinstance(doc, list) or not doc:
        raise ValueError("body: want a non-empty array of traces")
    seen = set()
    for t in doc:
        if not isinstance(t, list) or not t:
            raise ValueError("trace: want a non-empty array of spans, got %r" % (t,))
        for s in t:
            if not isinstance(s, dict):
                raise ValueError("span: want an object, got %r" % (s,))
            unknown = set(s) - set(SPAN_FIELDS)
            if unknown:
                raise ValueError("span: unknown fields %s" % sorted(unknown))
            for k, (kind, required) in SPAN_FIELDS.items():
                if k not in s:
                    if required:
                        raise ValueError("span: missing %s" % k)
                    continue
                why = check_field(k, kind, s[k])
                if why:
                    raise ValueError("span: " + why)
        ids = {s["trace_id"] for s in t}
        if len(ids) != 1 or ids & seen:
            raise ValueError("trace arrays must each hold one trace id, once: %r" % sorted(ids))
        seen |= ids
    return doc


class FakeTraceAgent:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests, self.rejected, self.spans = 0, [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n > 0 else b""
                why = None
                if self.command != "PUT":
                    why = "method %s" % self.command
                elif self.path != "/v0.3/traces":
                    why = "path %s" % self.path
                elif self.headers.get("Content-Type") != "application/json":
                    why = "content-type %r" % self.headers.get("Content-Type")
                elif self.headers.get("Content-Encoding"):
                    why = "content-encoding %r" % self.headers.get("Content-Encoding")
                doc = None
                if why is None:
                    try:
                        doc = validate(body)
                    except ValueError as e:
                        why = str(e)
                with outer.lock:
                    outer.requests += 1
                    if why:
                        outer.rejected.append(why)
                    else:
                        outer.spans += [(ti, s) for ti, t in enumerate(doc) for s in t]
                self._reply(400, why) if why else self._reply(200, "OK")

            do_PUT = do_POST = do_GET = _any

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return self.requests, list(self.rejected), [s for _, s in self.spans]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class DeadAgent:
    """Accepts TCP connections, reads what comes (counting the bytes), never answers."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.url = "http://127.0.0.1:%d" % self.ls.getsockname()[1]
        self.conns = []
        self.bytes = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    def _drain(self, c):
        while True:  # ends when the client or close() shuts the connection
            try:
                b = c.recv(1 << 16)
            except OSError:
                return
            if not b:
                return
            self.bytes += len(b)

    def close(self):
        self.closed = True
        self.ls.close()
        for c in self.conns:
            c.close()


def prom(v, family, sink="dd"):
    """veneur_span_sink_spans_<family>_total of one span sink on /metrics."""
    _, body = v.http("/metrics")
    prefix = 'veneur_span_sink_spans_%s_total{sink_name="%s"' % (family, sink)
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith(prefix))


def veneur_with_span_sink(agent_url, extra=""):
    ssf_port = h.free_port()
    yaml = ("ssf_listen_addresses: [\"udp://127.0.0.1:%d\"]\n"
            "span_sinks:\n"
            "  - kind: datadog\n"
            "    name: dd\n"
            "    config:\n"
            "      datadog_trace_api_address: \"%s\"\n" % (ssf_port, agent_url)) + extra
    return h.Veneur(extra_yaml=yaml), ssf_port


def emit(args, env=None):
    e = dict(os.environ)
    for k in ("VENEUR_EMIT_TRACE_ID", "VENEUR_EMIT_PARENT_SPAN_ID"):
        e.pop(k, None)
    e.update(env or {})
    subprocess.run([h.VENEUR_EMIT] + args, check=True, timeout=20 * h.TIME_SCALE, env=h.sanitizer_env(e),
                   stdout=subprocess.DEVNULL)


# ---- cases --------------------------------------------------------------------------------

def case_agent_is_strict():
    """The fake agent refuses what Datadog's API would: else a PASS above proves nothing."""
    import urllib.request
    import urllib.error
    agent = FakeTraceAgent()
    good = {"duration": 1, "error": 0, "meta": {}, "metrics": None, "name": "n", "resource": "r", "service": "s",
            "span_id": 1, "start": 1, "trace_id": 1, "type": "web"}

    def send(method="PUT", path="/v0.3/traces", ctype="application/json", body=None):
        data = json.dumps([[good]] if body is None else body).encode()
        req = urllib.request.Request(agent.url + path, data=data, method=method, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
    try:
        h.expect(send() == 200, "a good body was refused: %r" % agent.snapshot()[1])
        bad = [("POST", {}), ("PUT", {"path": "/v0.4/traces"}), ("PUT", {"ctype": "text/plain"}),
               ("PUT", {"body": [good]}), ("PUT", {"body": [[]]}), ("PUT", {"body": []}),
               ("PUT", {"body": [[dict(good, span_id="1")]]}), ("PUT", {"body": [[dict(good, error=True)]]}),
               ("PUT", {"body": [[dict(good, meta={"a": 1})]]}), ("PUT", {"body": [[dict(good, extra=1)]]}),
               ("PUT", {"body": [[{k: x for k, x in good.items() if k != "resource"}]]}),
               ("PUT", {"body": [[good, dict(good, trace_id=2)]]}), ("PUT", {"body": [[good], [good]]}),
               ("PUT", {"body": [[dict(good, trace_id=1 << 64)]]})]
        for method, kw in bad:
            st = send(method, **kw)
            h.expect(st == 400, "%s %r answered %d" % (method, kw, st))
    finally:
        agent.close()


def case_values():
    agent = FakeTraceAgent()
    v, ssf_port = veneur_with_span_sink(agent.url)
    try:
        hp = "udp://127.0.0.1:%d" % ssf_port
        child = [h.VENEUR_EMIT, "-hostport", hp, "-ssf", "-name", "child.op", "-span_service", "dbsvc",
                 "-span_tags", "db:pg,resource:SELECT 1", "-error", "-command", "true"]
        now_ns = time.time_ns()
        emit(["-hostport", hp, "-ssf", "-trace_id", "4242", "-name", "root.op", "-span_service", "websvc",
              "-span_tags", "resource:GET /users,team:core,type:db", "-command"] + child)
        emit(["-hostport", hp, "-ssf", "-trace_id", "777", "-parent_span_id", "31", "-name", "timed.op",
              "-span_service", "svc2", "-span_starttime", "1700000000000000000",
              "-span_endtime", "1700000000123456789", "-span_tags", "a<b:x&y>z"])
        # hand-encoded: an invalid trace (no name; its sample takes it to the span sinks) is skipped; a
        # valid one with a tag "resource" of "" and a negative parent id
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(span(trace_id=9001, id=5, start=10, end=20, service="x", samples=[counter_sample("inv.c", 1)]),
                 ("127.0.0.1", ssf_port))
        s.sendto(span(trace_id=9002, id=6, parent=-1, start=10, end=20, service="x", name="neg.parent",
                      tags={"resource": ""}), ("127.0.0.1", ssf_port))
        s.close()

        def have():
            _, _, spans = agent.snapshot()
            return len(spans) >= 4 and spans
        h.wait_for(have, timeout=10, what="4 spans at the fake agent")
        n, rejected, spans = agent.snapshot()
        h.expect(not rejected, "agent rejected: %r" % rejected)
        byname = {}
        for sp in spans:
            h.expect(sp["name"] not in byname, "span %s delivered twice" % sp["name"])
            byname[sp["name"]] = sp
        h.expect(set(byname) == {"root.op", "child.op", "timed.op", "neg.parent"}, "spans %r" % sorted(byname))
        root, ch, timed, neg = byname["root.op"], byname["child.op"], byname["timed.op"], byname["neg.parent"]
        h.expect(root["trace_id"] == 4242 and ch["trace_id"] == 4242, "trace ids %r %r" % (root, ch))
        h.expect("parent_id" not in root, "root has a parent_id: %r" % root)
        h.expect(1 <= root["span_id"] < 1 << 63 and ch["span_id"] != root["span_id"], "ids %r %r" % (root, ch))
        h.expect(ch["parent_id"] == root["span_id"], "child's parent %r != root id %r" % (ch.get("parent_id"),
                                                                                           root["span_id"]))
        h.expect(root["service"] == "websvc" and ch["service"] == "dbsvc", "services %r" % [root, ch])
        h.expect(root["resource"] == "GET /users" and ch["resource"] == "SELECT 1", "resources %r" % [root, ch])
        h.expect(root["meta"] == {"team": "core", "type": "db"}, "root meta %r" % root["meta"])
        h.expect(ch["meta"] == {"db": "pg"}, "child meta %r" % ch["meta"])
        h.expect(root["type"] == "web" and ch["type"] == "web", "types %r" % [root["type"], ch["type"]])
        h.expect(root["error"] == 0 and ch["error"] == 2, "errors %r %r" % (root["error"], ch["error"]))
        h.expect(root["metrics"] is None, "metrics %r" % root["metrics"])
        # the child ran inside the root's command: its interval lies within the root's
        h.expect(0 < ch["duration"] <= root["duration"] < 20 * 10**9 * h.TIME_SCALE, "durations %r %r"
                 % (root["duration"], ch["duration"]))
        h.expect(root["start"] <= ch["start"] and ch["start"] + ch["duration"] <= root["start"] + root["duration"],
                 "child outside root: %r %r" % (root, ch))
        h.expect(abs(root["start"] - now_ns) < 60 * 10**9, "root start %r vs now %r" % (root["start"], now_ns))
        h.expect(timed == {"duration": 123456789, "error": 0, "meta": {"a<b": "x&y>z"}, "metrics": None,
                           "name": "timed.op", "parent_id": 31, "resource": "unknown", "service": "svc2",
                           "span_id": timed["span_id"], "start": 1700000000000000000, "trace_id": 777,
                           "type": "web"}, "timed span %r" % timed)
        h.expect(neg == {"duration": 10, "error": 0, "meta": {}, "metrics": None, "name": "neg.parent",
                         "resource": "unknown", "service": "x", "span_id": 6, "start": 10, "trace_id": 9002,
                         "type": "web"}, "hand-encoded span %r" % neg)
        h.expect(n >= 1, "requests %d" % n)
        # the sink's counters on /metrics: delivered counts reach it at the flush after the 200
        h.wait_for(lambda: prom(v, "flushed") >= 4, timeout=5, what="spans_flushed 4")
        got = {f: prom(v, f) for f in ("ingested", "skipped", "dropped", "flushed", "delivery_failed")}
        h.expect(got == {"ingested": 4, "skipped": 1, "dropped": 0, "flushed": 4, "delivery_failed": 0},
                 "span sink counters %r" % got)
        rc = v.stop()
        h.expect(rc == 0, "exit %r" % rc)
        n2, rejected, spans = agent.snapshot()
        h.expect(not rejected and len(spans) == 4, "after shutdown: %d spans, rejected %r" % (len(spans), rejected))
    finally:
        v.stop()
        agent.close()


def case_flood_dead_sink():
    dead = DeadAgent()
    v, ssf_port = veneur_with_span_sink(dead.url, "synchronize_with_interval: true\n")
    try:
        stop = threading.Event()
        sent = {"spans": 0}

        def flood():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            pkts = [span(trace_id=1000 + i % 97, id=i + 1, parent=i, start=1, end=2 + i, service="flood",
                         name="flood.op", tags={"resource": "r%d" % (i % 13), "k": "v" * (i % 40)})
                    for i in range(1000)]
            t0 = time.monotonic()
            i = 0
            while i < 50000 and not stop.is_set():
                # ~16k spans/s: 50k in ~3 s
                ahead = i - (time.monotonic() - t0) * 16000
                if ahead > 0:
                    time.sleep(ahead / 16000)
                s.sendto(pkts[i % 1000], ("127.0.0.1", ssf_port))
                i += 1
            sent["spans"] = i
            s.close()

        rss = h.PeakRss(v.proc.pid)
        th = threading.Thread(target=flood, daemon=True)
        seen = {}  # flush stamp -> monotonic time first seen

        def poll_file():
            for r in v.records():
                if r["name"] == "flood.c" and r["timestamp"] not in seen:
                    seen[r["timestamp"]] = time.monotonic()

        n_counter = 0
        th.start()
        t_end = time.monotonic() + 30 * h.TIME_SCALE
        while th.is_alive() and time.monotonic() < t_end:
            v.send_udp("flood.c:1|c\nflood.c:2|c")
            n_counter += 3
            poll_file()
            time.sleep(0.02)  # the statsd sending pace, not a wait for a condition
        stop.set()
        th.join(timeout=10)
        h.expect(sent["spans"] >= 50000, "only %d spans sent" % sent["spans"])
        recs = v.wait_records(lambda rs: h.total(rs, "flood.c") >= n_counter, timeout=5,
                              what="all flood.c counts flushed")
        poll_file()
        h.expect(h.total(recs, "flood.c") == n_counter, "flood.c total %r != %d" % (h.total(recs, "flood.c"),
                                                                                    n_counter))
        stamps = sorted(seen)
        h.expect(len(stamps) >= 3, "flushes seen: %r" % stamps)
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        h.expect(all(g == 1 for g in gaps), "flush stamps not consecutive seconds: %r" % stamps)
        arrivals = [seen[s] for s in stamps]
        worst = max(b - a for a, b in zip(arrivals, arrivals[1:]))
        h.expect(worst <= 1.5 * h.TIME_SCALE, "a flush came %.2f s after the previous one" % worst)
        # bodies of thousands of spans went out (~250 bytes a span): the flood reached the sink
        h.expect(len(dead.conns) >= 1 and dead.bytes > 1000000,
                 "the span sink sent %d bytes on %d connections" % (dead.bytes, len(dead.conns)))
        got = {f: prom(v, f) for f in ("ingested", "dropped", "queue_dropped", "flushed")}
        h.expect(got["ingested"] > 10000 and got["flushed"] == 0, "span sink counters %r" % got)
        # a flush only encodes and queues: it never waits on the dead agent
        _, body = v.http("/metrics")
        last = [float(l.rsplit(" ", 1)[1]) for l in body.splitlines()
                if l.startswith('veneur_span_sink_flush_duration_ns_last{sink_name="dd"')]
        h.expect(last and last[0] < 0.5e9 * h.TIME_SCALE, "last span flush took %r ns" % last)
        got["last_flush_ms"] = round(last[0] / 1e6, 2)
        t0 = time.monotonic()
        rc = v.stop(timeout=SHUTDOWN_DEADLINE_S + 5)
        took = time.monotonic() - t0
        h.expect(rc == 0, "exit %r after %.1f s: %s" % (rc, took, v.log()[-1500:]))
        h.expect(took < SHUTDOWN_DEADLINE_S, "shutdown took %.1f s" % took)
        print("  flood: %d spans, %d counts, %d flushes, worst flush gap %.2f s, shutdown %.2f s, peak RSS %.1f MB, "
              "%d bytes to the dead agent, span sink %r" % (sent["spans"], n_counter, len(stamps), worst, took, rss.done(),
                                                dead.bytes, got), flush=True)
    finally:
        v.stop()
        dead.close()


if __name__ == "__main__":
    h.check("the fake trace agent refuses what Datadog's trace API refuses", case_agent_is_strict)
    h.check("datadog span sink: veneur-emit spans reach a strict trace agent with Go's values", case_values)
    h.check("span flood with a dead span sink leaves metric flushes on time", case_flood_dead_sink)
    h.run()
