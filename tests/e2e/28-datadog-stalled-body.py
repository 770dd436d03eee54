#!/usr/bin/env python3
"""HTTP sinks: a 2xx whose body stalls is delivered once, never sent again (issue 15).

The fake SaaS (fake_saas.py, mode `stall`) accepts the request, sends the status
line, headers and half of the body, then stalls past veneur's request timeout.
  once         one stalled answer: exactly one POST carries the counter, and the
               sink counts the payload as sent (not retried)
  every_flush  every answer stalls for 3 intervals: the sum of the counter over
               every POST equals what was sent (no duplicate, no loss)

Binaries: $VENEUR_BIN, else $VENEUR_BUILD_DIR/veneur, else harness.VENEUR.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DD_KEY = "ddkey0123456789abcdef"


class Fake:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_saas.py"), "--dd-key", DD_KEY,
                                      "--sfx-token", "unusedToken1"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        h.expect(line.startswith("PORT "), "fake_saas did not start: %r" % line)
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])

    def call(self, path, method="GET"):
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read().decode())

    def posts_with(self, name):
        """[(request, value)] of every accepted series POST holding metric name."""
        got = self.call("/_control/received")
        h.expect(not got["invalid"], "fake rejected requests: %r" % got["invalid"][:2])
        return [(r, s["points"][0][1]) for r in got["requests"] if r["path"] == "/api/v1/series"
                for s in r["series"] if s["metric"] == name]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def start(fake):
    d = tempfile.mkdtemp(prefix="vn-e2e-stall-")
    yaml = """metric_sinks:
  - kind: datadog
    name: dd
    config:
      api_key: %s
      api_hostname: "%s"
      request_timeout: 700ms
      max_payload_age: 30s
""" % (DD_KEY, fake.url)
    v = h.Veneur(yaml, interval="1s", jsonl=False)
    v.out = os.path.join(d, "none.jsonl")
    return v


def sink_metric(v, name, sink="dd"):
    _, body = v.http("/metrics")
    prefix = '%s{sink_name="%s",' % (name, sink)
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith(prefix))


def settled(v, fake, name, want_sum):
    """The queue is empty and what arrived adds up to want_sum (or more: then a duplicate)."""
    if sink_metric(v, "veneur_sink_queue_payloads") != 0:
        return None
    posts = fake.posts_with(name)
    return posts if sum(x for _, x in posts) >= want_sum else None


def case_once(fake):
    v = start(fake)
    try:
        fake.call("/_control/stall?count=1&path=/api/v1/series&hold=8", "POST")
        v.send_udp("stall.once:5|c")
        posts = h.wait_for(lambda: settled(v, fake, "stall.once", 5), timeout=15, what="the series POST")
        # the retry of a stalled request would follow within backoff (<= 0.25 s) + timeout
        h.wait_for(lambda: sink_metric(v, "veneur_sink_payloads_sent_total") >= 1 or
                   sink_metric(v, "veneur_sink_payloads_retried_total") >= 1, timeout=10, what="an outcome")
        posts = fake.posts_with("stall.once")
        retried = sink_metric(v, "veneur_sink_payloads_retried_total")
        print("  once: POSTs carrying the counter: %d (stalled: %d), retried: %g"
              % (len(posts), sum(1 for r, _ in posts if r.get("stalled")), retried), flush=True)
        h.expect(len(posts) == 1, "the payload was POSTed %d times" % len(posts))
        h.expect(posts[0][0].get("stalled"), "the one POST was not the stalled one")
        h.expect(retried == 0, "retried %g" % retried)
    finally:
        v.stop()


def case_every_flush(fake):
    v = start(fake)
    try:
        fake.call("/_control/stall?seconds=3&path=/api/v1/series&hold=3", "POST")
        sent = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.0:
            v.send_udp("stall.many:1|c")
            sent += 1
            time.sleep(0.05)
        posts = h.wait_for(lambda: settled(v, fake, "stall.many", sent), timeout=20, what="all series POSTs")

        got = sum(x for _, x in posts)
        print("  every_flush: sent %d, received %g over %d POSTs (%d stalled)"
              % (sent, got, len(posts), sum(1 for r, _ in posts if r.get("stalled"))), flush=True)
        h.expect(got == sent, "received %g, sent %d" % (got, sent))
    finally:
        v.stop()


fake = Fake()
try:
    h.check("stalled_200_posted_once", lambda: case_once(fake))
    fake.call("/_control/reset", "POST")
    h.check("stalled_200_every_flush_no_duplicate", lambda: case_every_flush(fake))
finally:
    fake.stop()
h.run()
