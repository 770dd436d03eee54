#!/usr/bin/env python3
"""End-to-end tests of the span sink framework (issue 20; src/spansinks/): spans sent by
build/veneur-emit -ssf through veneur's SSF listeners reach the `localfile` (jsonl, Go's
encoding/json layout of SSFSpan) and `debug` span sinks with their values; tags_exclude applies
to span sinks; a span that is neither a valid trace nor carries metrics reaches no sink
(Go worker.ssf.empty_total); spans still queued at SIGTERM are written by the final flush;
the per-sink counters on /metrics add up.

Prints `PASS <name>` / `FAIL <name>: why`; exits 1 if any failed.
"""
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect, wait_for  # noqa: E402


def emit(port, *args):
    args = list(args)
    if "-span_starttime" not in args:  # without them veneur-emit (as Go's) sends no timestamps: not a valid trace
        args += ["-span_starttime", "1700000000000000000", "-span_endtime", "1700000000000001000"]
    r = subprocess.run([harness.VENEUR_EMIT, "-hostport", "udp://127.0.0.1:%d" % port, "-ssf"] + args,
                       capture_output=True, text=True, timeout=20, env=harness.sanitizer_env())
    expect(r.returncode == 0, "veneur-emit %s: exit %d %s" % (args, r.returncode, r.stderr[-300:]))


def prom(v, prefix):
    """Sum of the /metrics samples whose line starts with prefix (a name and the start of its labels)."""
    _, body = v.http("/metrics")
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith(prefix))


def spans_in(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def span_sink_yaml(dirpath):
    return ("span_sinks:\n"
            "  - kind: localfile\n    name: spans\n    config: {flush_file: \"%s\"}\n"
            "  - kind: debug\n    name: dbg\n    config: {output: \"%s\"}\n") % (
                os.path.join(dirpath, "spans.jsonl"), os.path.join(dirpath, "debug.txt"))


def test_values():
    import tempfile
    d = tempfile.mkdtemp(prefix="vn-spansinks-")
    ssf_port = harness.free_port()
    extra = ('ssf_listen_addresses: ["udp://127.0.0.1:%d"]\n' % ssf_port +
             'tags_exclude: ["secret", "drop_for_debug|dbg"]\n' + span_sink_yaml(d))
    v = harness.Veneur(extra_yaml=extra)
    try:
        emit(ssf_port, "-trace_id", "77", "-parent_span_id", "5", "-name", "db.query", "-span_service", "orders",
             "-span_starttime", "1700000000000000000", "-span_endtime", "1700000000250000000",
             "-span_tags", "resource:select,secret_token:x,drop_for_debug:y", "-indicator", "-count", "3")
        emit(ssf_port, "-trace_id", "78", "-name", "web.req", "-span_service", "front", "-error",
             "-span_starttime", "1700000001000000000", "-span_endtime", "1700000001000001000")
        path = os.path.join(d, "spans.jsonl")
        got = wait_for(lambda: len(spans_in(path)) >= 2 and spans_in(path), timeout=10, what="2 spans in jsonl")
        a = [s for s in got if s.get("name") == "db.query"]
        b = [s for s in got if s.get("name") == "web.req"]
        expect(len(a) == 1 and len(b) == 1, "spans: %s" % got)
        a, b = a[0], b[0]
        expect(a["trace_id"] == 77 and a["parent_id"] == 5 and a["id"] > 0, "ids %s" % a)
        expect(a["service"] == "orders" and a["indicator"] is True, "service/indicator %s" % a)
        expect(a["start_timestamp"] == 1700000000000000000 and a["end_timestamp"] == 1700000000250000000,
               "times %s" % a)
        # tags_exclude "secret" applies to every sink; "drop_for_debug|dbg" only to the debug sink
        expect(a["tags"] == {"resource": "select", "drop_for_debug": "y"}, "tags %s" % a["tags"])
        expect(len(a["metrics"]) == 1 and a["metrics"][0]["name"] == "db.query" and a["metrics"][0]["value"] == 3,
               "metrics %s" % a["metrics"])
        expect(b["error"] is True and b["service"] == "front" and "parent_id" not in b, "span b %s" % b)
        # debug sink: one line per span, excluded tags gone, info I/E
        dbg = wait_for(lambda: os.path.exists(os.path.join(d, "debug.txt")) and
                       open(os.path.join(d, "debug.txt")).read().count("\n") >= 2 and
                       open(os.path.join(d, "debug.txt")).read(), timeout=10, what="debug lines")
        lines = dbg.strip().split("\n")
        la = [l for l in lines if '"db.query"' in l][0]
        expect('info="I"' in la and "trace_id=77" in la and "duration_ns=250000000" in la, la)
        expect("secret" not in la and "drop_for_debug" not in la and '"resource":"select"' in la, la)
        lb = [l for l in lines if '"web.req"' in l][0]
        expect('info="E"' in lb, lb)
        # the span-derived counter reached the metric flush too
        v.wait_records(lambda r: harness.total(r, "db.query") == 3, what="db.query counter 3")
        # per-sink counters
        wait_for(lambda: prom(v, 'veneur_span_sink_spans_flushed_total{sink_name="spans"') == 2, timeout=10,
                 what="spans flushed 2")
        expect(prom(v, 'veneur_span_sink_spans_queued_total{sink_name="dbg"') == 2, "dbg queued")
        expect(v.metric("veneur_span_sink_spans_queue_dropped_total") == 0, "no queue drops")
    finally:
        expect(v.stop() == 0, "exit code")


def test_empty_span_reaches_no_sink():
    import tempfile
    d = tempfile.mkdtemp(prefix="vn-spansinks-")
    ssf_port = harness.free_port()
    extra = 'ssf_listen_addresses: ["udp://127.0.0.1:%d"]\n' % ssf_port + span_sink_yaml(d)
    v = harness.Veneur(extra_yaml=extra)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # SSFSpan{version: 0, service: "x"}: no ids, no metrics -> neither a trace nor metrics
        s.sendto(b"\x42\x01x", ("127.0.0.1", ssf_port))
        s.close()
        wait_for(lambda: v.metric("veneur_ssf_spans_empty_total") == 1, timeout=10, what="empty span counted")
        emit(ssf_port, "-trace_id", "9", "-name", "marker", "-span_service", "m")
        path = os.path.join(d, "spans.jsonl")
        got = wait_for(lambda: spans_in(path), timeout=10, what="marker span")
        expect([x["name"] for x in got] == ["marker"], "only the marker: %s" % got)
    finally:
        expect(v.stop() == 0, "exit code")


def test_sigterm_writes_queued_spans():
    import tempfile
    d = tempfile.mkdtemp(prefix="vn-spansinks-")
    ssf_port = harness.free_port()
    # an hour's interval: only the final flush can write the spans
    extra = 'ssf_listen_addresses: ["udp://127.0.0.1:%d"]\n' % ssf_port + span_sink_yaml(d)
    v = harness.Veneur(extra_yaml=extra, interval="3600s")
    for i in range(20):
        emit(ssf_port, "-trace_id", str(100 + i), "-name", "n%d" % i, "-span_service", "s")
    wait_for(lambda: prom(v, 'veneur_span_sink_spans_ingested_total{sink_name="spans"') == 20, timeout=10,
             what="20 spans ingested")
    expect(spans_in(os.path.join(d, "spans.jsonl")) == [], "nothing written before the final flush")
    expect(v.stop() == 0, "exit code")
    got = spans_in(os.path.join(d, "spans.jsonl"))
    expect(sorted(x["trace_id"] for x in got) == list(range(100, 120)), "final flush wrote %d spans" % len(got))


if __name__ == "__main__":
    check("span_sinks_values_localfile_debug", test_values)
    check("span_sinks_empty_span_reaches_no_sink", test_empty_span_reaches_no_sink)
    check("span_sinks_sigterm_writes_queued_spans", test_sigterm_writes_queued_spans)
    sys.exit(harness.run())
