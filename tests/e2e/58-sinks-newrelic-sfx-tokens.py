"""New Relic sink and SignalFx dynamic per-tag tokens against the strict fake_saas.py (issue 19).

newrelic: build/veneur sends counters/gauges to the fake Metric API (gzip JSON, Api-Key, the
telemetry SDK's [{"common":..., "metrics":[...]}] shape) and service checks / events to the fake
Insights API (X-Insert-Key); the values, types, attributes (Go's tagsToKeyValue: numbers as
numbers, bare tags as "true") and common tags are checked, then a 503 burst must delay but not lose
or duplicate anything.

signalfx: with dynamic_per_tag_api_keys_enable the sink pages through the fake token API
(/v2/token?limit=200&name=&offset=N, 251 tokens -> offsets 0, 200, 400) with the default token,
then sends a metric whose vary_key_by value names a fetched token with that token (the fake
refuses unknown tokens); a rotated secret is picked up on a later refresh.
"""
import gzip  # noqa: F401  (the fake decompresses; kept for local debugging)
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, check, expect, run, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DD_KEY = "ddkey-unused-0123"
SFX_DEFAULT = "sfxDefaultToken42"
NR_KEY = "nrInsertKey0123456789"
NR_ACCOUNT = "4242"


class Fake:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_saas.py"), "--dd-key", DD_KEY,
                                      "--sfx-token", SFX_DEFAULT, "--nr-key", NR_KEY, "--nr-account", NR_ACCOUNT],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        expect(line.startswith("PORT "), "fake_saas did not start: %r" % line)
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])

    def call(self, path, method="GET", body=None):
        data = body if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.url + path, method=method, data=data)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read().decode())

    def got(self):
        return self.call("/_control/received")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def no_invalid(fake):
    inv = fake.got()["invalid"]
    expect(not inv, "the fake rejected requests: %r" % inv[:3])


def nr_metrics(got, name):
    return [(r, m) for r in got["requests"] if r["path"] == "/metric/v1" for m in r["metrics"] if m["name"] == name]


def nr_events(got, event_type, name):
    return [e for r in got["requests"] if "nr_events" in r for e in r["nr_events"]
            if e["eventType"] == event_type and e.get("name") == name]


def test_newrelic(fake):
    v = Veneur("""metric_sinks:
  - kind: newrelic
    name: nr
    config:
      insert_key: %s
      account_id: %s
      common_tags: ["env:e2e", "region_id:7"]
      metric_url: "%s/metric/v1"
      event_url: "%s/v1"
      max_payload_age: 60s
""" % (NR_KEY, NR_ACCOUNT, fake.url, fake.url), jsonl=False)
    try:
        v.send_udp("nr.count:6|c|#team:obs,size:3.5,flag\nnr.count:4|c|#team:obs,size:3.5,flag\n"
                   "nr.gauge:2.5|g|#host:web1,big:1e3,inf:infinity\n")
        v.send_udp("_sc|nr.check|2|#env:x|m:disk full")
        v.send_udp("_e{6,4}:deploy|done|#k:v")

        def all_there():
            g = fake.got()
            ok = (nr_metrics(g, "nr.count") and nr_metrics(g, "nr.gauge")
                  and nr_events(g, "veneurCheck", "nr.check") and nr_events(g, "veneur", "deploy"))
            return g if ok else None
        g = wait_for(all_there, timeout=15, what="new relic metrics and events")
        no_invalid(fake)
        (req, c), = nr_metrics(g, "nr.count")
        expect(c["type"] == "count" and c["value"] == 10, "count %r" % c)
        expect(c["interval.ms"] == 1000, "count interval.ms %r" % c)
        expect(c["timestamp"] % 1000 == 0 and abs(c["timestamp"] / 1000 - time.time()) < 60, "timestamp %r" % c)
        expect(c["attributes"] == {"team": "obs", "size": 3.5, "flag": "true"}, "count attributes %r" % c)
        expect(req["common"]["attributes"] == {"env": "e2e", "region_id": 7}, "common %r" % req["common"])
        expect(req["common"]["interval.ms"] == 1000, "common interval %r" % req["common"])
        (_, gm), = nr_metrics(g, "nr.gauge")
        expect(gm["type"] == "gauge" and gm["value"] == 2.5 and "interval.ms" not in gm, "gauge %r" % gm)
        expect(gm["attributes"] == {"host": "web1", "big": 1000, "inf": "infinity"}, "gauge attributes %r" % gm)
        (chk,) = nr_events(g, "veneurCheck", "nr.check")
        expect(chk["statusCode"] == 2 and chk["status"] == "CRITICAL" and chk["message"] == "disk full"
               and chk["env"] == "x" and chk["hostname"] == "testhost", "service check %r" % chk)
        (ev,) = nr_events(g, "veneur", "deploy")
        expect(ev["message"] == "done" and ev["k"] == "v", "event %r" % ev)
        for r in g["requests"]:
            expect(r["encoding"] == "gzip", "every New Relic body is gzip: %r" % r["encoding"])

        # a 503 burst: the queue retries; every value arrives exactly once
        fake.call("/_control/reset", "POST")
        fake.call("/_control/fail?status=503&count=3&path=/metric/v1", "POST")
        for i in range(3):
            v.send_udp("nr.retry:%d|c\n" % (i + 1))
            time.sleep(0.35)

        def retried():
            g2 = fake.got()
            got = sum(m["value"] for _, m in nr_metrics(g2, "nr.retry"))
            return g2 if got >= 6 and len(g2["failed"]) >= 3 else None
        g2 = wait_for(retried, timeout=20, what="nr.retry delivered after the 503s")
        time.sleep(1.5)  # a duplicate would arrive within the next flush or retry
        g2 = fake.got()
        total = sum(m["value"] for _, m in nr_metrics(g2, "nr.retry"))
        expect(total == 6, "nr.retry delivered %r, want exactly 6 (1+2+3)" % total)
        expect(v.metric("veneur_sink_payloads_retried_total") >= 3,
               "retries counted: %r" % v.metric("veneur_sink_payloads_retried_total"))
        no_invalid(fake)
    finally:
        v.stop()
    expect("event=sink_started sink=nr kind=newrelic" in v.log(), "sink started log")
    expect(NR_KEY not in v.log(), "the insert key must not be logged")


def test_sfx_dynamic_tokens(fake):
    fake.call("/_control/reset", "POST")
    table = {"filler%03d" % i: "fillerSecret%03d" % i for i in range(250)}
    table["dyn"] = "sfxDynToken9"
    fake.call("/_control/sfx_token_table", "POST", json.dumps(table).encode())
    v = Veneur("""metric_sinks:
  - kind: signalfx
    name: sfx
    config:
      api_key: %s
      endpoint_base: "%s"
      endpoint_api: "%s/some/path"
      vary_key_by: team
      hostname_tag: host
      dynamic_per_tag_api_keys_enable: true
      dynamic_per_tag_api_keys_refresh_period: 1s
      max_payload_age: 30s
""" % (SFX_DEFAULT, fake.url, fake.url), jsonl=False)
    try:
        # one full paging round: 200 + 51 + an empty page
        wait_for(lambda: fake.got()["token_calls"][:3] == [0, 200, 400], timeout=10, what="token API paged")
        v.send_udp("sfx.dyn:3|c|#team:dyn\nsfx.def:4|c|#team:nobody\n")

        def points(g, name):
            return [(r["token"], p) for r in g["requests"] if r["path"] == "/v2/datapoint"
                    for p in r["datapoints"] if p["metric"] == name]
        g = wait_for(lambda: (lambda g: g if points(g, "sfx.dyn") and points(g, "sfx.def") else None)(fake.got()),
                     timeout=10, what="datapoints")
        no_invalid(fake)
        expect([t for t, _ in points(g, "sfx.dyn")] == ["sfxDynToken9"], "sfx.dyn token %r" % points(g, "sfx.dyn"))
        expect([t for t, _ in points(g, "sfx.def")] == [SFX_DEFAULT], "sfx.def token %r" % points(g, "sfx.def"))

        # rotate the secret; after the next complete refresh it is used
        table["dyn"] = "sfxDynToken10"
        fake.call("/_control/sfx_token_table", "POST", json.dumps(table).encode())
        n0 = len(fake.got()["token_calls"])
        wait_for(lambda: (lambda c: len(c) >= n0 + 6 and 400 in c[n0:])(fake.got()["token_calls"]), timeout=10,
                 what="a full refresh after the rotation")
        v.send_udp("sfx.rot:5|c|#team:dyn\n")
        g = wait_for(lambda: (lambda g: g if points(g, "sfx.rot") else None)(fake.got()), timeout=10,
                     what="rotated datapoint")
        expect([t for t, _ in points(g, "sfx.rot")] == ["sfxDynToken10"], "rotated token %r" % points(g, "sfx.rot"))
        no_invalid(fake)
    finally:
        v.stop()
    expect("event=signalfx_dynamic_tokens sink=sfx" in v.log(), "dynamic tokens start log")


def main():
    fake = Fake()
    try:
        check("newrelic_payloads_values_and_retry", lambda: test_newrelic(fake))
        check("signalfx_dynamic_per_tag_tokens", lambda: test_sfx_dynamic_tokens(fake))
    finally:
        fake.stop()
    run()


if __name__ == "__main__":
    main()
