#!/usr/bin/env python3
"""End-to-end tests of the splunk span sink (issue 20; src/spansinks/splunk.c).

Spans are sent with veneur-emit -ssf to veneur's SSF UDP listener; veneur's
splunk span sink posts them to a strict fake Splunk HTTP Event Collector run
by this test (http.server on 127.0.0.1). The fake checks what Go veneur's
sinks/splunk sends: POST to /services/collector?channel=<UUID v4> (the address
resolved against "services/collector"), "Authorization: Splunk <token>", and a
body that is a sequence of JSON event objects each ended by "\n" (Go's
json.Encoder) with exactly Go's fields, in Go's order and with Go's types:

  {"host": str, "sourcetype": str, "time": "<secs>.<ms>",
   "event": {"trace_id": hex str, "id": hex str, "parent_id": hex str,
             "start_timestamp": number, "end_timestamp": number,
             "duration_ns": int, "error": bool, "service": str,
             "tags": object|null, "indicator": bool, "name": str
             [, "partial": true]}}

It answers {"text":"Success","code":0}, 401 {"text":"Invalid token","code":4}
for another token, and 400 {"code":6,...} for a malformed body (which fails
the test). The values of every event are checked against the spans sent,
including Go's sampling (trace_id % span_sample_rate), the indicator rule and
HTML escaping. A second veneur with a wrong token must count its spans as
failed, log the 401, keep serving and exit cleanly.

Binaries come from harness (VENEUR_BUILD_DIR=build/asan for the sanitizer build).
Prints `PASS <name>` / `FAIL <name>: why`; exits 1 if any failed.
"""
import collections
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect, wait_for  # noqa: E402

TOKEN = "good-token-7"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
HEX = re.compile(r"^-?(0|[1-9a-f][0-9a-f]*)$")
EVENT_KEYS = ["host", "sourcetype", "time", "event"]
SPAN_KEYS = ["trace_id", "id", "parent_id", "start_timestamp", "end_timestamp", "duration_ns", "error", "service",
             "tags", "indicator", "name"]
START_NS = 1700000000123456789
END_NS = 1700000000623456789


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_event(ev):
    """Why ev is not a Go splunk HEC event, or None."""
    if not isinstance(ev, collections.OrderedDict) or list(ev.keys()) != EVENT_KEYS:
        return "event keys %r" % (list(ev.keys()) if isinstance(ev, dict) else ev)
    if not isinstance(ev["host"], str) or not isinstance(ev["sourcetype"], str):
        return "host/sourcetype not strings"
    if not isinstance(ev["time"], str) or not re.match(r"^\d+\.\d{3}$", ev["time"]):
        return "time %r is not a seconds.millis string" % (ev["time"],)
    sp = ev["event"]
    keys = list(sp.keys()) if isinstance(sp, dict) else None
    if keys not in (SPAN_KEYS, SPAN_KEYS + ["partial"]):
        return "span keys %r" % keys
    for k in ("trace_id", "id", "parent_id"):
        if not isinstance(sp[k], str) or not HEX.match(sp[k]):
            return "%s %r is not FormatInt(x, 16)" % (k, sp[k])
    if not is_num(sp["start_timestamp"]) or not is_num(sp["end_timestamp"]):
        return "timestamps not numbers"
    if not isinstance(sp["duration_ns"], int) or isinstance(sp["duration_ns"], bool):
        return "duration_ns not an integer"
    for k in ("error", "indicator"):
        if not isinstance(sp[k], bool):
            return "%s not a bool" % k
    if not isinstance(sp["service"], str) or not isinstance(sp["name"], str):
        return "service/name not strings"
    if sp["tags"] is not None and (not isinstance(sp["tags"], dict)
                                   or not all(isinstance(v, str) for v in sp["tags"].values())):
        return "tags not an object of strings"
    if "partial" in sp and sp["partial"] is not True:
        return "partial present but not true"
    return None


class FakeHEC:
    """A strict Splunk HTTP Event Collector on 127.0.0.1 (ephemeral port)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []      # accepted events, in arrival order
        self.requests = []    # (status, number of events, raw body)
        self.errors = []      # protocol violations seen
        self.channels = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                outer.bad("GET %s" % self.path)
                self.answer(405, {"text": "Method not allowed", "code": 6})

            do_PUT = do_GET

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                if u.path != "/services/collector" or list(q) != ["channel"] or not UUID4.match(q["channel"][0]):
                    outer.bad("path %r" % self.path)
                    return self.answer(404, {"text": "The requested URL was not found on this server.", "code": 404})
                if self.headers.get("Authorization") != "Splunk " + TOKEN:
                    with outer.lock:
                        outer.requests.append((401, None, body))
                    return self.answer(401, {"text": "Invalid token", "code": 4})
                events, why = [], None
                text = body.decode("utf-8")
                dec = json.JSONDecoder(object_pairs_hook=collections.OrderedDict)
                i = 0
                while i < len(text) and why is None:
                    try:
                        ev, j = dec.raw_decode(text, i)
                    except ValueError as e:
                        why = "not JSON at %d: %s" % (i, e)
                        break
                    if text[j:j + 1] != "\n":
                        why = "event %d not followed by a newline" % len(events)
                        break
                    why = validate_event(ev)
                    events.append(ev)
                    i = j + 1
                if not events and why is None:
                    why = "no data"
                with outer.lock:
                    outer.channels.add(q["channel"][0])
                    if why:
                        outer.errors.append(why)
                        outer.requests.append((400, len(events), body))
                    else:
                        outer.events.extend(events)
                        outer.requests.append((200, len(events), body))
                if why:
                    return self.answer(400, {"text": "Invalid data format", "code": 6,
                                             "invalid-event-number": len(events)})
                self.answer(200, {"text": "Success", "code": 0})

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def bad(self, why):
        with self.lock:
            self.errors.append(why)

    def snapshot(self):
        with self.lock:
            return list(self.events), list(self.requests), list(self.errors), set(self.channels)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def start_veneur(hec, token, extra_cfg=""):
    ssf_port = harness.free_port()
    yaml = ("ssf_listen_addresses:\n  - \"udp://127.0.0.1:%d\"\n"
            "span_sinks:\n  - kind: splunk\n    name: hec\n    config:\n"
            "      hec_address: \"%s\"\n      hec_token: \"%s\"\n%s" % (ssf_port, hec.url, token, extra_cfg))
    v = harness.Veneur(extra_yaml=yaml, jsonl=False)
    return v, "udp://127.0.0.1:%d" % ssf_port


def emit(hostport, *args):
    p = subprocess.run([harness.VENEUR_EMIT, "-hostport", hostport, "-ssf", "-span_starttime", str(START_NS),
                        "-span_endtime", str(END_NS)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10 * harness.TIME_SCALE,
                       env=harness.sanitizer_env())
    expect(p.returncode == 0, "veneur-emit exited %d: %s" % (p.returncode, p.stderr.decode()[-500:]))


def case_values():
    hec = FakeHEC()
    v = None
    try:
        # a batch stays open (1h lifetime) until it holds 2 events, or until the final flush at shutdown:
        # so the batches do not depend on when the interval flushes fall
        v, hp = start_veneur(hec, TOKEN, "      hec_batch_size: 2\n      span_sample_rate: 2\n"
                             "      hec_max_connection_lifetime: 1h\n      hec_send_timeout: 5s\n")
        # trace 10: kept (10 % 2 == 0); trace 11: sampled out, except its indicator span (partial)
        emit(hp, "-trace_id", "10", "-parent_span_id", "5", "-span_service", "svc-a", "-name", "op.a",
             "-span_tags", "k:v,z:<b>&")
        emit(hp, "-trace_id", "11", "-parent_span_id", "1", "-span_service", "svc-b", "-name", "dropped")
        emit(hp, "-trace_id", "11", "-parent_span_id", "1", "-span_service", "svc-b", "-name", "ind", "-indicator")
        emit(hp, "-trace_id", "12", "-parent_span_id", "0", "-span_service", "svc-c", "-name", "op.c", "-error")
        wait_for(lambda: len(hec.snapshot()[0]) >= 2, timeout=15, what="the first batch at the fake HEC")
        expect([r[1] for r in hec.snapshot()[1]] == [2], "one batch of 2: %r" % [r[1] for r in hec.snapshot()[1]])
        # counts move to /metrics at the sink's next interval flush
        wait_for(lambda: v.metric("veneur_span_sink_spans_flushed_total") >= 2, timeout=10, what="flushed 2")
        got = {k: v.metric("veneur_span_sink_spans_%s_total" % k)
               for k in ("ingested", "skipped", "flushed", "delivery_failed", "dropped")}
        expect(got == {"ingested": 3, "skipped": 1, "flushed": 2, "delivery_failed": 0, "dropped": 0},
               "/metrics span sink counts %r" % got)
        expect(v.stop() == 0, "veneur exit status")  # the final flush sends the open batch
        events, reqs, errors, channels = hec.snapshot()
        expect(not errors, "protocol violations: %r" % errors)
        expect(len(events) == 3, "want 3 events, got %d: %r" % (len(events), events))
        expect(len(channels) == 1, "one channel per sink, got %r" % channels)
        expect([r[1] for r in reqs] == [2, 1], "a full batch, then the open one at shutdown: %r" % [r[1] for r in reqs])
        by_name = {e["event"]["name"]: e for e in events}
        expect(set(by_name) == {"op.a", "ind", "op.c"}, "names %r" % sorted(by_name))
        for name, trace, parent, svc, err, ind in (("op.a", "a", "5", "svc-a", False, False),
                                                   ("ind", "b", "1", "svc-b", False, True),
                                                   ("op.c", "c", "0", "svc-c", True, False)):
            e = by_name[name]
            sp = e["event"]
            expect(e["host"] == "testhost" and e["sourcetype"] == svc, "%s: host/sourcetype %r" % (name, e))
            expect(e["time"] == "1700000000.123", "%s: time %r" % (name, e["time"]))
            expect(sp["trace_id"] == trace and sp["parent_id"] == parent,
                   "%s: ids %r/%r" % (name, sp["trace_id"], sp["parent_id"]))
            expect(int(sp["id"], 16) > 0, "%s: id %r" % (name, sp["id"]))
            expect(sp["start_timestamp"] == START_NS / 1e9 and sp["end_timestamp"] == END_NS / 1e9,
                   "%s: timestamps %r %r" % (name, sp["start_timestamp"], sp["end_timestamp"]))
            expect(sp["duration_ns"] == END_NS - START_NS, "%s: duration %r" % (name, sp["duration_ns"]))
            expect(sp["error"] is err and sp["indicator"] is ind and sp["service"] == svc,
                   "%s: error/indicator/service %r" % (name, sp))
            expect(("partial" in sp) == (name == "ind"), "%s: partial %r" % (name, sp.get("partial")))
        expect(by_name["op.a"]["event"]["tags"] == {"k": "v", "z": "<b>&"}, "tags %r" % by_name["op.a"]["event"]["tags"])
        expect(by_name["ind"]["event"]["tags"] is None, "no tags is null (Go nil map)")
        raw = b"".join(r[2] for r in reqs)
        expect(b'"z":"\\u003cb\\u003e\\u0026"' in raw, "Go's HTML escaping of < > & in %r" % raw[:400])
        expect(b'"start_timestamp":1700000000.1234567,' in raw, "Go float64 text of the start")
        log = v.log()
        expect("event=span_sink_stopped sink=hec kind=splunk delivered=3 delivery_failed=0 dropped=0" in log,
               "counts at exit: %s" % [l for l in log.splitlines() if "span_sink_stopped" in l])
    finally:
        if v:
            v.stop()
        hec.close()


def case_bad_token():
    hec = FakeHEC()
    v = None
    try:
        v, hp = start_veneur(hec, "wrong-token")
        for i in range(3):
            emit(hp, "-trace_id", str(20 + i), "-span_service", "svc", "-name", "op%d" % i)
        wait_for(lambda: len(hec.snapshot()[1]) >= 3, timeout=15, what="3 requests at the fake HEC")
        events, reqs, errors, _ = hec.snapshot()
        expect(not errors and not events, "errors %r events %r" % (errors, events))
        expect([r[0] for r in reqs] == [401, 401, 401], "one request per span (batch size 1), each refused: %r"
               % [r[0] for r in reqs])
        expect(v.http("/healthcheck")[0] == 200, "veneur still healthy")
        wait_for(lambda: "status=401" in v.log(), timeout=5, what="the 401 in the log")
        wait_for(lambda: v.metric("veneur_span_sink_spans_delivery_failed_total") >= 3, timeout=10,
                 what="3 failed on /metrics")
        got = {k: v.metric("veneur_span_sink_spans_%s_total" % k) for k in ("ingested", "flushed", "delivery_failed")}
        expect(got == {"ingested": 3, "flushed": 0, "delivery_failed": 3}, "/metrics span sink counts %r" % got)
        expect(v.stop() == 0, "veneur exit status")
        log = v.log()
        expect("event=span_sink_stopped sink=hec kind=splunk delivered=0 delivery_failed=3 dropped=0" in log,
               "counts at exit: %s" % [l for l in log.splitlines() if "span_sink_stopped" in l])
        expect("wrong-token" not in log, "the token is not logged")
    finally:
        if v:
            v.stop()
        hec.close()


def case_v13_flat_keys():
    hec = FakeHEC()
    v = None
    try:
        ssf_port = harness.free_port()
        yaml = ("ssf_listen_addresses:\n  - \"udp://127.0.0.1:%d\"\n"
                "splunk_hec_address: \"%s\"\nsplunk_hec_token: \"%s\"\nsplunk_span_sample_rate: 3\n"
                % (ssf_port, hec.url, TOKEN))
        v = harness.Veneur(extra_yaml=yaml, jsonl=False)
        hp = "udp://127.0.0.1:%d" % ssf_port
        emit(hp, "-trace_id", "4", "-span_service", "s", "-name", "out")  # 4 % 3 != 0: sampled out
        emit(hp, "-trace_id", "9", "-span_service", "s", "-name", "in")
        wait_for(lambda: hec.snapshot()[0], timeout=15, what="an event from the [v13] splunk_* keys")
        expect(v.stop() == 0, "veneur exit status")
        events, _, errors, _ = hec.snapshot()
        expect(not errors, "protocol violations: %r" % errors)
        expect([e["event"]["name"] for e in events] == ["in"], "events %r" % events)
        expect(events[0]["event"]["trace_id"] == "9", "trace_id %r" % events[0]["event"]["trace_id"])
    finally:
        if v:
            v.stop()
        hec.close()


def case_config_error():
    d = harness.tempfile.mkdtemp(prefix="vn-e2e-")
    cfg = os.path.join(d, "v.yaml")
    with open(cfg, "w") as f:
        f.write('statsd_listen_addresses: ["udp://127.0.0.1:0"]\nssf_listen_addresses: ["udp://127.0.0.1:0"]\n'
                'span_sinks:\n  - kind: splunk\n    name: hec\n    config: {hec_token: t}\n')
    p = subprocess.run([harness.veneur_binary(), "-f", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20 * harness.TIME_SCALE, env=harness.sanitizer_env())
    err = p.stderr.decode(errors="replace")
    expect(p.returncode != 0, "veneur must refuse a splunk sink without hec_address")
    expect("hec_address" in err, "the error names the key: %s" % err[-500:])
    expect(harness.sanitizer_report(err) is None, "sanitizer: %s" % harness.sanitizer_report(err))


def main():
    check("splunk span sink: Go's HEC events, values, sampling, indicator, batches", case_values)
    check("splunk span sink: a wrong token is a 401, spans counted as failed, no crash", case_bad_token)
    check("splunk span sink: [v13] splunk_hec_* / splunk_span_sample_rate keys", case_v13_flat_keys)
    check("splunk span sink: hec_address is required", case_config_error)
    harness.run()


if __name__ == "__main__":
    main()
