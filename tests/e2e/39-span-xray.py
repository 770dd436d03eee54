#!/usr/bin/env python3
"""The xray span sink (src/spansinks/xray.c, Go sinks/xray) against a strict fake X-Ray daemon.

Spans go in through veneur's SSF UDP listener, sent by build/veneur-emit -ssf
(and, for the invalid ones veneur-emit cannot make, by a small SSF protobuf
encoder here). Two xray sinks in one veneur: "all" (sample_percentage 100)
and "half" (50), each to its own UDP socket owned by this test. Every datagram
must be the X-Ray daemon header line plus one segment document whose fields
have the types and formats of the X-Ray segment document spec
(docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html):
id 16 lower-case hex digits, trace_id 1-<8 hex>-<24 hex>, start/end times as
epoch seconds, name 1..200 characters of the allowed set, annotation keys
alphanumeric/underscore with scalar values, and nothing outside the fields
Go's sink writes. Then the values are checked against what Go's sink builds
for the same span, and the 50% sink must keep exactly the traces whose
crc32-IEEE(decimal trace id) <= uint32(50 * (2^32 - 1) / 100), as Go's does.

One span worker keeps the spans in send order, so a final marker span (one
the 50% sink keeps) seen by a daemon means every span before it was handled:
no sleeps, only waits on what arrived.
"""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect  # noqa: E402

HEADER = b'{"format": "json", "version": 1}\n'
HEX16 = re.compile(r"^[0-9a-f]{16}$")
TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
NAME_OK = re.compile(r"^[\w.:/%&#=+\-@\s\\]{1,200}$")  # the spec's set: letters, digits, whitespace, _ . : / % & # = + \ - @
ANNOT_KEY = re.compile(r"^[A-Za-z0-9_]{1,500}$")
TOP_KEYS = {"name", "id", "trace_id", "parent_id", "start_time", "end_time", "namespace", "error",
            "annotations", "metadata", "http"}
REQUEST_KEYS = {"method", "client_ip", "url", "user_agent", "x_forwarded_for"}
T0_NS = 1_700_000_000_123_456_789  # span start; the end is 1.5 s later
THRESH50 = int(50 * 4294967295 / 100)


def kept_at_50(trace_id):
    return zlib.crc32(str(trace_id).encode()) <= THRESH50


class FakeXRayDaemon:
    """A UDP socket that validates every datagram as the X-Ray daemon's input."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.segments = []  # validated documents, in arrival order
        self.errors = []

    def poll(self, timeout):
        """Reads what arrives within timeout seconds (at least one read attempt)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(70000)
                self._validate(data)
                self.sock.settimeout(0.001)
        except (socket.timeout, BlockingIOError):
            pass

    def _validate(self, data):
        try:
            expect(data.startswith(HEADER), "no header line: %r" % data[:60])
            doc = json.loads(data[len(HEADER):].decode("utf-8"))
            expect(isinstance(doc, dict), "segment is not an object")
            expect(set(doc) <= TOP_KEYS, "unexpected fields %r" % (set(doc) - TOP_KEYS))
            expect(isinstance(doc.get("name"), str) and NAME_OK.match(doc["name"]), "name %r" % doc.get("name"))
            expect(isinstance(doc.get("id"), str) and HEX16.match(doc["id"]), "id %r" % doc.get("id"))
            expect(isinstance(doc.get("trace_id"), str) and TRACE_ID.match(doc["trace_id"]),
                   "trace_id %r" % doc.get("trace_id"))
            if "parent_id" in doc:
                expect(isinstance(doc["parent_id"], str) and HEX16.match(doc["parent_id"]),
                       "parent_id %r" % doc["parent_id"])
            for k in ("start_time", "end_time"):
                v = doc.get(k)
                expect(isinstance(v, (int, float)) and not isinstance(v, bool) and 1e9 < v < 1e10, "%s %r" % (k, v))
            expect(doc["end_time"] >= doc["start_time"], "end before start")
            expect(doc.get("namespace") in ("remote", "aws"), "namespace %r" % doc.get("namespace"))
            expect(isinstance(doc.get("error"), bool), "error %r" % doc.get("error"))
            ann = doc.get("annotations", {})
            expect(isinstance(ann, dict), "annotations %r" % ann)
            for k, v in ann.items():
                expect(ANNOT_KEY.match(k), "annotation key %r" % k)
                expect(isinstance(v, (str, int, float, bool)), "annotation value %r" % v)
            meta = doc.get("metadata", {})
            expect(isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values()), "metadata %r" % meta)
            http = doc.get("http", {})
            expect(isinstance(http, dict) and set(http) <= {"request", "response"}, "http %r" % http)
            req, resp = http.get("request", {}), http.get("response", {})
            expect(isinstance(req, dict) and set(req) <= REQUEST_KEYS and all(isinstance(v, str) for v in req.values()),
                   "http.request %r" % req)
            expect(isinstance(resp, dict) and set(resp) <= {"status", "content_length"}, "http.response %r" % resp)
            if "status" in resp:
                expect(isinstance(resp["status"], int) and 100 <= resp["status"] <= 599, "status %r" % resp["status"])
            self.segments.append(doc)
        except (AssertionError, ValueError) as e:
            self.errors.append("%s in %r" % (e, data[:300]))

    def wait_trace(self, trace_id, timeout=10.0):
        """Waits until a segment of trace_id has arrived; returns it."""
        suffix = "%024x" % trace_id
        deadline = time.monotonic() + timeout * harness.TIME_SCALE
        while True:
            for d in self.segments:
                if d["trace_id"].endswith(suffix):
                    return d
            left = deadline - time.monotonic()
            expect(left > 0, "no segment of trace %d within %.0fs (got %d segments, errors %r)"
                   % (trace_id, timeout, len(self.segments), self.errors[:3]))
            self.poll(min(left, 0.2))

    def traces(self):
        return [int(d["trace_id"].split("-")[2], 16) for d in self.segments]


def emit(ssf_port, trace_id, name="op", service="svc", parent=0, tags="", extra=()):
    args = [harness.VENEUR_EMIT, "-hostport", "udp://127.0.0.1:%d" % ssf_port, "-ssf", "-trace_id", str(trace_id),
            "-name", name, "-span_service", service, "-span_starttime", str(T0_NS),
            "-span_endtime", str(T0_NS + 1_500_000_000)]
    if parent:
        args += ["-parent_span_id", str(parent)]
    if tags:
        args += ["-span_tags", tags]
    p = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=20, env=harness.sanitizer_env())
    expect(p.returncode == 0, "veneur-emit rc=%d %s" % (p.returncode, p.stderr[-300:]))
    bad = harness.sanitizer_report(p.stderr)
    expect(not bad, "veneur-emit sanitizer: %s" % bad)


# ---- a few SSFSpan fields (proto/ssf.proto), for spans veneur-emit will not make ----

def _varint(v):
    v &= (1 << 64) - 1
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def raw_span(trace_id, span_id, start, end, name, service="svc"):
    """A span carrying one counter sample: without one an invalid trace stops at the span
    workers (Go's worker.ssf.empty_total) and never reaches a span sink."""
    f = lambda n, v: _varint(n << 3) + _varint(v) if v else b""  # noqa: E731
    s = lambda n, b: _varint(n << 3 | 2) + _varint(len(b)) + b if b else b""  # noqa: E731
    sample = s(2, b"xray.e2e.carrier") + _varint(3 << 3 | 5) + struct.pack("<f", 1.0)
    return (f(2, trace_id) + f(3, span_id) + f(5, start) + f(6, end) + s(8, service.encode()) +
            s(10, sample) + s(13, name.encode()))


class Setup:
    def __init__(self):
        self.all = FakeXRayDaemon()
        self.half = FakeXRayDaemon()
        self.ssf_port = harness.free_port()
        gone = harness.free_port()  # nobody listens: the kernel reports ICMP port unreachable on later sends
        extra = ("ssf_listen_addresses:\n  - \"udp://127.0.0.1:%d\"\nnum_span_workers: 1\n"
                 "span_sinks:\n"
                 "  - kind: xray\n    name: all\n    config:\n      address: \"%s\"\n"
                 "      annotation_tags: [\"team\", \"region:ignored\"]\n      sample_percentage: 100\n"
                 "  - kind: xray\n    name: half\n    config:\n      address: \"%s\"\n"
                 "      sample_percentage: 50\n"
                 "  - kind: xray\n    name: gone\n    config:\n      address: \"127.0.0.1:%d\"\n"
                 "      sample_percentage: 100\n" % (self.ssf_port, self.all.addr, self.half.addr, gone))
        self.v = harness.Veneur(extra)


S = None


def case_values():
    emit(S.ssf_port, 4601851300195147788, name="charge card", service="pay$ments (v2)", parent=77,
         tags="team:billing,region:eu,http.method:POST,http.status_code:201,xray_client_ip:10.1.2.3,note:<a&b>")
    d = S.all.wait_trace(4601851300195147788)
    expect(not S.all.errors, "invalid datagrams: %r" % S.all.errors)
    start_s = T0_NS // 1_000_000_000
    want_trace = "1-%08x-%024x" % (start_s & 0xFFFFFFFFFFFF00, 4601851300195147788)
    expect(d["trace_id"] == want_trace, "trace_id %r want %r" % (d["trace_id"], want_trace))
    expect(d["name"] == "pay_ments _v2_", "name %r" % d["name"])
    expect(d["parent_id"] == "%016x" % 77, "parent_id %r" % d.get("parent_id"))
    expect(int(d["id"], 16) != 0, "id %r" % d["id"])
    expect(d["start_time"] == T0_NS / 1e9 and d["end_time"] == (T0_NS + 1_500_000_000) / 1e9,
           "times %r %r" % (d["start_time"], d["end_time"]))
    expect(d["namespace"] == "remote" and d["error"] is False, "namespace/error %r %r" % (d["namespace"], d["error"]))
    expect(d["annotations"] == {"team": "billing", "region": "eu", "indicator": "false"},
           "annotations %r" % d["annotations"])
    expect(d["metadata"] == {"team": "billing", "region": "eu", "http.method": "POST", "http.status_code": "201",
                             "note": "<a&b>", "indicator": "false"}, "metadata %r" % d["metadata"])
    expect(d["http"] == {"request": {"method": "POST", "client_ip": "10.1.2.3", "url": "pay$ments (v2):charge card"},
                         "response": {"status": 201}}, "http %r" % d["http"])


def case_indicator_error():
    emit(S.ssf_port, 991, name="job", service="batch", extra=["-indicator", "-error"])
    d = S.all.wait_trace(991)
    expect(d["name"] == "batch-indicator", "name %r" % d["name"])
    expect(d["error"] is True, "error %r" % d["error"])
    expect("parent_id" not in d, "parent_id of a root span: %r" % d.get("parent_id"))
    expect(d["annotations"] == {"indicator": "true"} and d["metadata"] == {"indicator": "true"},
           "maps %r %r" % (d["annotations"], d["metadata"]))
    expect(d["http"] == {"request": {"url": "batch:job"}, "response": {}}, "http %r" % d["http"])


def prom(sink, family):
    """veneur_span_sink_spans_<family>_total of one sink on /metrics."""
    _, body = S.v.http("/metrics")
    prefix = 'veneur_span_sink_spans_%s_total{sink_name="%s"' % (family, sink)
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith(prefix))


def case_invalid_skipped_and_sampling():
    before = {(k, f): prom(k, f) for k in ("all", "half") for f in ("skipped", "flushed", "ingested")}
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # invalid traces (Go protocol.ValidTrace): no span id, no end time, no name
    for body in (raw_span(501, 0, T0_NS, T0_NS + 1, "x"), raw_span(502, 5, T0_NS, 0, "x"),
                 raw_span(503, 5, T0_NS, T0_NS + 1, "")):
        udp.sendto(body, ("127.0.0.1", S.ssf_port))
    ids = list(range(1000, 1024))
    for t in ids:
        emit(S.ssf_port, t, name="s%d" % t)
    marker = next(t for t in range(5000, 6000) if kept_at_50(t))
    emit(S.ssf_port, marker, name="marker")
    S.all.wait_trace(marker)
    S.half.wait_trace(marker)
    expect(not S.all.errors and not S.half.errors, "invalid datagrams: %r %r" % (S.all.errors, S.half.errors))
    got_all = [t for t in S.all.traces() if t in ids or 500 < t < 504]
    expect(got_all == ids, "100%% sink got %r, want %r" % (got_all, ids))
    want_half = [t for t in ids if kept_at_50(t)]
    expect(0 < len(want_half) < len(ids), "the id set does not exercise sampling: %r" % want_half)
    got_half = [t for t in S.half.traces() if t in ids]
    stray = [t for t in S.half.traces() if not kept_at_50(t)]
    expect(not stray, "50%% sink sent traces Go samples out: %r" % stray)
    expect(got_half == want_half, "50%% sink kept %r, want %r (Go's crc32 rule)" % (got_half, want_half))
    n_half = len(want_half) + 1  # + the marker
    want = {("all", "skipped"): 3, ("all", "flushed"): 25, ("all", "ingested"): 25,
            ("half", "skipped"): 3 + len(ids) - len(want_half), ("half", "flushed"): n_half,
            ("half", "ingested"): n_half}

    def deltas():
        return {k: prom(*k) - before[k] for k in want}
    harness.wait_for(lambda: deltas() == want, timeout=10, what="span sink counters %r, want %r" % (deltas(), want))
    print("  50%% sink kept %d of %d traces: %s" % (len(got_half), len(ids), got_half))


def case_send_failures_counted():
    """The sink whose daemon is gone: refused sends are delivery_failed, the rest flushed (as Go, per send)."""
    harness.wait_for(lambda: prom("gone", "delivery_failed") >= 1 and
                     prom("gone", "delivery_failed") + prom("gone", "flushed") == prom("gone", "ingested") >= 27,
                     timeout=10, what="delivery failures counted")
    print("  gone: ingested %d, flushed %d, delivery_failed %d"
          % (prom("gone", "ingested"), prom("gone", "flushed"), prom("gone", "delivery_failed")))


def case_v13_flat_keys():
    """[v13] xray_address, xray_annotation_tags, xray_sample_percentage make the same sink."""
    daemon = FakeXRayDaemon()
    port = harness.free_port()
    v = harness.Veneur("ssf_listen_addresses:\n  - \"udp://127.0.0.1:%d\"\nxray_address: \"%s\"\n"
                       "xray_annotation_tags: [\"team\"]\nxray_sample_percentage: 50\n" % (port, daemon.addr))
    try:
        kept = next(t for t in range(7000, 8000) if kept_at_50(t))
        dropped = next(t for t in range(7000, 8000) if not kept_at_50(t))
        emit(port, dropped, tags="team:ops")
        emit(port, kept, tags="team:ops,other:x")
        d = daemon.wait_trace(kept)
        expect(not daemon.errors, "invalid datagrams: %r" % daemon.errors)
        expect(d["annotations"] == {"team": "ops", "indicator": "false"}, "annotations %r" % d["annotations"])
        expect(daemon.traces() == [kept], "traces %r (want only %d; %d is sampled out)"
               % (daemon.traces(), kept, dropped))
    finally:
        v.stop()


def main():
    global S
    S = Setup()
    try:
        check("xray: segment fields and values as Go builds them (name cleanup, trace id, http, annotations)",
              case_values)
        check("xray: indicator and error spans", case_indicator_error)
        check("xray: invalid traces skipped; sample_percentage 50 keeps Go's crc32 subset", case_invalid_skipped_and_sampling)
        check("xray: sends the kernel refuses are counted delivery_failed", case_send_failures_counted)
    finally:
        S.v.stop()
    check("xray: [v13] flat keys xray_address, xray_annotation_tags, xray_sample_percentage", case_v13_flat_keys)
    harness.run()


if __name__ == "__main__":
    main()
