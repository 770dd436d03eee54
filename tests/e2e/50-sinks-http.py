"""Datadog and SignalFx sinks against a strict fake SaaS (fake_saas.py), docs/behaviour.md W4.2, W4.3, 0.10.

build/veneur runs with a jsonl localfile sink plus a datadog and a signalfx sink pointed at the
fake. Cases: exact payloads (series, service checks, events, datapoints, per-tag tokens), retry
after 503 and 429 until the data gets through, no retry after 400 (and no API key in the log),
a hanging server that never stops the localfile sink from flushing every interval, and the
shutdown drain.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, by_name, check, expect, run, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DD_KEY = "ddkey0123456789abcdef"
SFX_DEFAULT = "sfxDefaultToken42"
SFX_OBS = "sfxObsToken77"


class Fake:
    """fake_saas.py in its own process on an ephemeral port."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_saas.py"), "--dd-key", DD_KEY,
                                      "--sfx-token", SFX_DEFAULT, "--sfx-token", SFX_OBS],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        expect(line.startswith("PORT "), "fake_saas did not start: %r" % line)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def _call(self, path, method="GET"):
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read().decode())

    def got(self):
        return self._call("/_control/received")

    def fail(self, **q):
        self._call("/_control/fail?" + "&".join("%s=%s" % kv for kv in q.items()), "POST")

    def hang(self, **q):
        self._call("/_control/hang?" + "&".join("%s=%s" % kv for kv in q.items()), "POST")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def sinks_yaml(fake, out, dd_extra="", sfx_extra=""):
    return """metric_sinks:
  - kind: localfile
    name: file
    config: {flush_file: "%(out)s", format: jsonl}
  - kind: datadog
    name: dd
    config:
      api_key: %(dd)s
      api_hostname: "%(url)s"
      flush_max_per_body: 3
      max_payload_age: 30s
%(dd_extra)s  - kind: signalfx
    name: sfx
    config:
      api_key: %(sfx)s
      endpoint_base: "%(url)s"
      hostname_tag: host
      vary_key_by: team
      per_tag_api_keys: [{name: obs, api_key: %(obs)s}]
      max_payload_age: 30s
%(sfx_extra)s""" % {"out": out, "dd": DD_KEY, "url": fake.url, "sfx": SFX_DEFAULT, "obs": SFX_OBS,
                    "dd_extra": dd_extra, "sfx_extra": sfx_extra}


def start(fake, interval="1s"):
    d = tempfile.mkdtemp(prefix="vn-e2e-http-")
    out = os.path.join(d, "out.jsonl")
    v = Veneur(sinks_yaml(fake, out), interval=interval, jsonl=False)
    v.out = out  # Veneur.records() reads our localfile sink
    return v


# ---------------------------------------------------------------- helpers over what the fake recorded

def series(got, name):
    return [(r, s) for r in got["requests"] if r["path"] == "/api/v1/series" for s in r["series"]
            if s["metric"] == name]


def points(got, name):
    return [(r, p) for r in got["requests"] if r["path"] == "/v2/datapoint" for p in r["datapoints"]
            if p["metric"] == name]


def failed_series(got, name, status):
    return [r for r in got["failed"] if r["status"] == status and r["path"] == "/api/v1/series"
            and any(s["metric"] == name for s in r["series"])]


def no_invalid(fake):
    inv = fake.got()["invalid"]
    expect(not inv, "the fake rejected malformed requests: %r" % inv[:3])


def sink_metric(v, name, sink, extra=""):
    _, body = v.http("/metrics")
    prefix = '%s{sink_name="%s",sink_kind=' % (name, sink)
    total = 0.0
    for line in body.splitlines():
        if line.startswith(prefix) and extra in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---------------------------------------------------------------- cases

def test_payloads(fake, v):
    v.send_udp("e2e.count:6|c|#team:obs,env:x\ne2e.gauge:2.5|g|#host:web1,device:sda,env:x\n"
               "e2e.count2:3|c\ne2e.count3:4|c|#env:y\n")
    v.send_udp("_sc|e2e.check|1|#env:x|m:disk warn")
    v.send_udp("_e{6,7}:deploy|v2 done|#env:x")

    def all_there():
        g = fake.got()
        ok = (series(g, "e2e.count") and series(g, "e2e.gauge") and series(g, "e2e.count3")
              and any(r["path"] == "/api/v1/check_run" for r in g["requests"])
              and any(r["path"] == "/intake" for r in g["requests"])
              and points(g, "e2e.count") and points(g, "e2e.gauge")
              and any(r["path"] == "/v2/event" for r in g["requests"]))
        return g if ok else None
    g = wait_for(all_there, timeout=15, what="datadog and signalfx payloads")
    no_invalid(fake)

    (_, c), = series(g, "e2e.count")
    ts = c["points"][0][0]
    expect(abs(ts - time.time()) < 60, "timestamp %r" % ts)
    expect(c == {"metric": "e2e.count", "points": [[ts, 6]], "tags": ["env:x", "team:obs"], "type": "rate",
                 "host": "testhost", "interval": 1}, "counter series %r" % c)
    (_, gg), = series(g, "e2e.gauge")
    expect(gg == {"metric": "e2e.gauge", "points": [[gg["points"][0][0], 2.5]], "tags": ["env:x"], "type": "gauge",
                  "host": "web1", "device_name": "sda", "interval": 1}, "gauge series (magic tags) %r" % gg)
    (_, c2), = series(g, "e2e.count2")
    expect("tags" not in c2 and c2["type"] == "rate", "tags omitted when empty: %r" % c2)
    # flush_max_per_body: 3 -> no body holds more than 3 series
    expect(all(len(r["series"]) <= 3 for r in g["requests"] if r["path"] == "/api/v1/series"), "chunking")

    checks = [c for r in g["requests"] if r["path"] == "/api/v1/check_run" for c in r["checks"]]
    expect(checks == [{"check": "e2e.check", "status": 1, "host_name": "testhost", "timestamp": checks[0]["timestamp"],
                       "tags": ["env:x"], "message": "disk warn"}], "check_run %r" % checks)
    evs = [e for r in g["requests"] if r["path"] == "/intake" for e in r["events"]]
    expect(len(evs) == 1 and evs[0]["msg_title"] == "deploy" and evs[0]["msg_text"] == "v2 done"
           and evs[0]["priority"] == "normal"
           and evs[0]["alert_type"] == "info" and evs[0]["host"] == "testhost" and evs[0]["tags"] == ["env:x"],
           "intake event %r" % evs)

    (r, p), = points(g, "e2e.count")
    expect(r["token"] == SFX_OBS, "team:obs picks the per-tag token, got %r" % r["token"])
    expect(p["metricType"] == 1 and p["value"] == {"intValue": 6}, "COUNTER int64: %r" % p)
    expect(p["dims"] == {"host": "testhost", "env": "x", "team": "obs"}, "dims %r" % p["dims"])
    expect(p["timestamp"] == ts * 1000, "ms timestamp %r" % p["timestamp"])
    (r, p), = points(g, "e2e.gauge")
    expect(r["token"] == SFX_DEFAULT, "default token %r" % r["token"])
    expect(p["metricType"] == 0 and p["value"] == {"doubleValue": 2.5}, "GAUGE double: %r" % p)
    expect(p["dims"] == {"host": "web1", "device": "sda", "env": "x"}, "dims %r" % p["dims"])
    (r, p), = points(g, "e2e.check")
    expect(p["metricType"] == 0 and p["value"] == {"doubleValue": 1.0}, "status check as GAUGE: %r" % p)
    sev = [e for r in g["requests"] if r["path"] == "/v2/event" for e in r["events"]]
    expect(len(sev) == 1 and sev[0]["eventType"] == "deploy" and sev[0]["category"] == 1000000
           and sev[0]["props"] == {"description": {"strValue": "v2 done"}}
           and sev[0]["dims"] == {"host": "testhost", "env": "x"}, "signalfx event %r" % sev)

    # the localfile sink saw the same interval
    recs = v.wait_records(lambda rs: by_name(rs, "e2e.count"), what="localfile e2e.count")
    expect(by_name(recs, "e2e.count")[0]["value"] == 6, "localfile counter")
    # self-metrics, and connections kept alive across requests
    wait_for(lambda: sink_metric(v, "veneur_sink_payloads_sent_total", "dd") >= 3, what="dd payloads_sent")
    wait_for(lambda: sink_metric(v, "veneur_sink_payloads_sent_total", "sfx") >= 2, what="sfx payloads_sent")
    expect(sink_metric(v, "veneur_sink_payloads_sent_total", "file") == 0, "localfile has no queue")
    # one flush sends its bodies in parallel (a connection each); the next flush reuses them
    g1 = fake.got()
    v.send_udp("e2e.again:1|c|#team:obs\ne2e.again2:2|g")
    g2 = wait_for(lambda: (lambda g: g if series(g, "e2e.again") and points(g, "e2e.again") and
                           points(g, "e2e.again2") else None)(fake.got()), timeout=10, what="second flush")
    expect(len(g2["requests"]) > len(g1["requests"]) and g2["connections"] == g1["connections"],
           "keep-alive: %d -> %d connections for %d -> %d requests"
           % (g1["connections"], g2["connections"], len(g1["requests"]), len(g2["requests"])))


def test_retry_after_503_and_429(fake, v):
    retried0 = sink_metric(v, "veneur_sink_payloads_retried_total", "dd")
    fake.fail(status=503, seconds=2.5, path="/api/v1/series")
    fake.fail(status=429, count=2, path="/v2/datapoint")
    t0 = time.time()
    v.send_udp("retry.me:1|c|#env:r\nretry.gauge:7|g")
    g = wait_for(lambda: (lambda g: g if series(g, "retry.me") and points(g, "retry.gauge") else None)(fake.got()),
                 timeout=20, what="retried payloads to arrive")
    no_invalid(fake)
    expect(failed_series(g, "retry.me", 503), "retry.me was refused with 503 first")
    (r, s), = series(g, "retry.me")
    expect(r["t"] - t0 >= 2.0, "accepted only after the outage (%.2fs)" % (r["t"] - t0))
    expect(s["points"][0][1] == 1 and s["tags"] == ["env:r"], "same data after retry: %r" % s)
    sfx_failed = [x for x in g["failed"] if x["path"] == "/v2/datapoint" and x["status"] == 429]
    expect(len(sfx_failed) == 2, "two 429s answered: %r" % len(sfx_failed))
    expect(sink_metric(v, "veneur_sink_payloads_retried_total", "dd") > retried0, "retries counted")
    expect(sink_metric(v, "veneur_sink_payloads_retried_total", "sfx") >= 2, "sfx retries counted")


def test_permanent_400_not_retried(fake, v):
    perm0 = sink_metric(v, "veneur_sink_payloads_dropped_total", "dd", 'reason="permanent"')
    fake.fail(status=400, count=1, path="/api/v1/series")
    v.send_udp("perm.drop:1|c")
    wait_for(lambda: sink_metric(v, "veneur_sink_payloads_dropped_total", "dd", 'reason="permanent"') > perm0,
             timeout=10, what="permanent drop counted")
    # A retry, if there were one, would land within the backoff (<= 0.5 s): give it two flushes.
    f0 = v.metric("veneur_flushes_total")
    wait_for(lambda: v.metric("veneur_flushes_total") >= f0 + 2, timeout=10, what="two more flushes")
    g = fake.got()
    expect(not series(g, "perm.drop"), "a 400 is not retried")
    expect(len(failed_series(g, "perm.drop", 400)) == 1, "exactly one attempt")
    log = v.log()
    rej = [l for l in log.splitlines() if "event=sink_payload_rejected" in l and "sink=dd" in l]
    expect(rej and "status=400" in rej[-1] and "forced 400" in rej[-1], "rejection logged with an excerpt: %r" % rej)
    expect("<redacted>" in rej[-1], "the echoed API key is redacted: %r" % rej[-1])
    expect(DD_KEY not in log and SFX_DEFAULT not in log and SFX_OBS not in log, "no API key anywhere in the log")


def test_hanging_server_does_not_stop_flushes(fake, v):
    fake.hang(seconds=4, hold=3)
    t0 = time.time()
    stamps = set()
    i = 0
    while time.time() - t0 < 3.5:
        i += 1
        v.send_udp("hang.tick:%d|g" % i)
        time.sleep(0.1)
    recs = v.records()
    stamps = {r["timestamp"] for r in by_name(recs, "hang.tick")}
    expect(len(stamps) >= 3, "localfile flushed every interval while the SaaS hung: %r" % sorted(stamps))
    # the flush loop itself stayed on time
    _, m = v.http("/metrics")
    late = [float(l.split()[-1]) for l in m.splitlines() if l.startswith("veneur_flush_lateness_seconds ")]
    expect(late and late[0] < 0.5, "flush lateness %r" % late)
    # after the outage, data sent during it arrives too (timeouts were retried)
    g = wait_for(lambda: (lambda g: g if len({s["points"][0][0] for _, s in series(g, "hang.tick")}) >= 3
                          else None)(fake.got()), timeout=30, what="hang.tick series after the outage")
    expect(sink_metric(v, "veneur_sink_payloads_retried_total", "dd") > 0, "timeouts retried")
    no_invalid(fake)


def test_shutdown_drains(fake):
    v = start(fake)
    try:
        fake.fail(status=503, count=1, path="/api/v1/series")
        v.send_udp("final.flush:5|c")
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 1, what="line received")
        rc = v.stop()
        expect(rc == 0, "exit status %s" % rc)
    finally:
        v.stop()
    g = fake.got()
    expect(series(g, "final.flush"), "the final flush was delivered, after its 503, before exit")
    expect(points(g, "final.flush"), "signalfx got the final flush too")


def test_v13_env_keys(fake):
    """Deployments copied from v13 docs configure the sinks with VENEUR_* flat keys (docs/behaviour.md 0.1)."""
    env = {"VENEUR_DATADOGAPIKEY": DD_KEY, "VENEUR_DATADOGAPIHOSTNAME": fake.url,
           "VENEUR_SIGNALFXAPIKEY": SFX_DEFAULT, "VENEUR_SIGNALFXENDPOINTBASE": fake.url}
    v = Veneur(interval="1s", env=env)
    try:
        v.send_udp("v13.count:2|c|#a:b")
        g = wait_for(lambda: (lambda g: g if series(g, "v13.count") and points(g, "v13.count") else None)(
            fake.got()), timeout=10, what="v13-configured sinks to deliver")
        (_, s), = series(g, "v13.count")
        expect(s["points"][0][1] == 2 and s["tags"] == ["a:b"] and s["host"] == "testhost", "series %r" % s)
        (r, p), = points(g, "v13.count")
        expect(r["token"] == SFX_DEFAULT and p["value"] == {"intValue": 2}, "datapoint %r" % p)
        expect(v.stop() == 0, "exit status")
    finally:
        v.stop()
    no_invalid(fake)


def rss_kb(v):
    with open("/proc/%d/status" % v.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_outage_three_intervals(fake):
    """Issue 8 fault test: the SaaS is down for 3+ intervals; every metric accepted meanwhile arrives
    afterwards (the queue cap is far above this load), RSS stays bounded, ingest loses nothing."""
    d = tempfile.mkdtemp(prefix="vn-e2e-outage-")
    out = os.path.join(d, "out.jsonl")
    v = Veneur(sinks_yaml(fake, out, dd_extra="      max_queue_bytes: 8388608\n"), interval="1s", jsonl=False)
    v.out = out
    try:
        rss0 = rss_kb(v)
        fake.fail(status=503, seconds=3.5, path="/api/v1/series")
        sent = 0
        for i in range(8):  # one batch per ~half interval, all during the outage
            v.send_udp("\n".join("outage.c%d:1|c|#i:%d" % (i, j) for j in range(50)))
            sent += 50
            f0 = v.metric("veneur_flushes_total")
            wait_for(lambda: v.metric("veneur_flushes_total") >= f0 + 0.5, timeout=5, what="a flush")
        expect(v.metric("veneur_lines_received_total") == sent, "no ingest loss")
        expect(v.metric("veneur_worker_queue_dropped_total") == 0, "no queue drops")
        n_series = lambda g: sum(len(series(g, "outage.c%d" % i)) for i in range(8))
        g = wait_for(lambda: (lambda g: g if n_series(g) >= sent else None)(fake.got()),
                     timeout=30, what="every interval's series after the outage")
        got = {}
        for i in range(8):
            for _, s in series(g, "outage.c%d" % i):
                got[(i, s["tags"][0])] = got.get((i, s["tags"][0]), 0) + s["points"][0][1]
        expect(len(got) == sent and all(val == 1 for val in got.values()),
               "every accepted sample delivered exactly once: %d of %d" % (len(got), sent))
        expect(any(failed_series(g, "outage.c%d" % i, 503) for i in range(8)), "the outage refused data first")
        expect(rss_kb(v) - rss0 < 64 * 1024, "RSS bounded during the outage: +%d kB" % (rss_kb(v) - rss0))
        expect(sink_metric(v, "veneur_sink_payloads_dropped_total", "dd") == 0, "nothing dropped")
        expect(v.stop() == 0, "exit status")
    finally:
        v.stop()
    no_invalid(fake)


def main():
    fake = Fake()
    try:
        v = start(fake)
        try:
            check("50-sinks-http/exact_payloads", lambda: test_payloads(fake, v))
            check("50-sinks-http/retry_503_429", lambda: test_retry_after_503_and_429(fake, v))
            check("50-sinks-http/400_not_retried_key_redacted", lambda: test_permanent_400_not_retried(fake, v))
            check("50-sinks-http/hang_does_not_block_localfile", lambda: test_hanging_server_does_not_stop_flushes(fake, v))
            check("50-sinks-http/exit_status", lambda: expect(v.stop() == 0, "veneur exit status"))
        finally:
            v.stop()
        check("50-sinks-http/shutdown_drain", lambda: test_shutdown_drains(fake))
        check("50-sinks-http/v13_env_keys", lambda: test_v13_env_keys(fake))
        check("50-sinks-http/outage_three_intervals", lambda: test_outage_three_intervals(fake))
    finally:
        fake.stop()
    run()


if __name__ == "__main__":
    main()
