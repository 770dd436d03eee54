"""UDP ingest -> aggregation -> jsonl localfile, checked exactly (docs/behaviour.md 1, 2, 0.8)."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, VENEUR, by_name, check, expect, run, total, wait_for  # noqa: E402

PCT = "percentiles: [0.5, 0.99, 0.999]\naggregates: [min, max, count, sum, avg]\n"


def drain(v, lines):
    """Waits until veneur counted `lines` lines, then SIGTERM: the final flush holds everything."""
    wait_for(lambda: v.metric("veneur_lines_received_total") >= lines, what="%d lines received" % lines)
    rc = v.stop()
    expect(rc == 0, "exit status %s" % rc)
    return v.records()


def test_exact_flush():
    v = Veneur(PCT, interval="60s")
    try:
        v.send_udp("a.count:1|c|#b:2,a:1\na.count:2|c|#a:1,b:2\na.count:1|c|@0.1|#a:1,b:2\n")
        v.send_udp("a.gauge:5|g\na.gauge:7|g")
        v.send_udp("a.hist:" + ":".join(str(i) for i in range(1, 101)) + "|h|#t:x")
        v.send_udp("a.timer:100|ms|@0.5\na.timer:200|ms|@0.5\na.timer:300|ms|@0.5")
        v.send_udp("a.set:x|s\na.set:y|s\na.set:x|s")
        recs = drain(v, 11)
    finally:
        v.stop()
    c = by_name(recs, "a.count")
    expect(len(c) == 1 and c[0]["tags"] == ["a:1", "b:2"], "counter series %r" % c)
    expect(abs(c[0]["value"] - 13.0) < 1e-9, "counter value %r (1+2+1/0.1 in double)" % c[0]["value"])
    expect(c[0]["type"] == "counter" and c[0]["hostname"] == "testhost" and c[0]["interval"] == 60, "fields %r" % c[0])
    g = by_name(recs, "a.gauge")
    expect(len(g) == 1 and g[0]["value"] == 7 and g[0]["type"] == "gauge", "gauge %r" % g)
    h = {r["name"]: r for r in recs if r["name"].startswith("a.hist")}
    expect(h["a.hist.min"]["value"] == 1 and h["a.hist.max"]["value"] == 100, "min/max %r" % h)
    expect(h["a.hist.count"]["value"] == 100 and h["a.hist.count"]["type"] == "counter", "count %r" % h)
    expect(h["a.hist.sum"]["value"] == 5050 and h["a.hist.avg"]["value"] == 50.5, "sum/avg")
    expect(abs(h["a.hist.50percentile"]["value"] - 50.5) <= 1.0, "p50 %r" % h["a.hist.50percentile"])
    expect(abs(h["a.hist.99percentile"]["value"] - 99.5) <= 1.0, "p99 %r" % h["a.hist.99percentile"])
    expect("a.hist.99_9percentile" in h, "0.999 gets its own name (docs/behaviour.md 0.4): %r" % sorted(h))
    expect(all(r["tags"] == ["t:x"] for r in h.values()), "hist tags")
    t = {r["name"]: r["value"] for r in recs if r["name"].startswith("a.timer")}
    expect(t["a.timer.count"] == 6, "timer weighted count %r" % t)
    # Three centroids of weight 2: W2.1 interpolation puts q0.5 halfway through the middle centroid.
    expect(abs(t["a.timer.50percentile"] - 200) < 1e-9, "timer p50 %r" % t)
    expect(abs(t["a.timer.99percentile"] - 298.5) < 1e-9, "timer p99 %r" % t)
    s = by_name(recs, "a.set")
    expect(len(s) == 1 and s[0]["value"] == 2 and s[0]["type"] == "gauge", "set %r" % s)


def test_bad_lines_dropped_alone():
    v = Veneur(interval="60s")
    try:
        v.send_udp("good.one:1|c\nbad line\nfoo:1|c|@1.5\nx:nan|g\n_sc|svc|9\ngood.two:2|c\n\n")
        v.send_udp("ext.line:3|c|#a:b|c:container123|T1700000000|e:it-123")
        v.send_udp(b"big:1|c\n" + b"x" * 5000)  # over metric_max_length: whole datagram dropped
        wait_for(lambda: v.metric("veneur_packet_error_total") >= 4, what="4 parse errors")
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 7, what="7 lines")
        wait_for(lambda: v.metric("veneur_packet_ignored_section_total") >= 3, what="ignored sections")
        _, m = v.http("/metrics")
        expect('veneur_packet_error_total{reason="toolong"} 1' in m, "toolong counted:\n" + m)
        rc = v.stop()
        recs = v.records()
    finally:
        v.stop()
    expect(rc == 0, "exit %s" % rc)
    names = sorted(r["name"] for r in recs)
    expect(names == ["ext.line", "good.one", "good.two"], "kept only good lines: %r" % names)
    expect(by_name(recs, "ext.line")[0]["tags"] == ["a:b"], "dogstatsd 1.1+ sections ignored")


def test_interval_flush_and_expiry():
    v = Veneur(interval="1s")
    try:
        v.send_udp("tick:1|c\n_sc|svc.up|1|h:otherhost|#k:v|m:degraded")
        recs = v.wait_records(lambda r: by_name(r, "tick") and by_name(r, "svc.up"), what="tick flushed")
        sc = by_name(recs, "svc.up")[0]
        expect(sc["type"] == "status" and sc["value"] == 1 and sc["hostname"] == "otherhost", "status %r" % sc)
        expect(sc.get("message") == "degraded" and sc["tags"] == ["k:v"], "status message/tags %r" % sc)
        f0 = v.metric("veneur_flushes_total")
        wait_for(lambda: v.metric("veneur_flushes_total") >= f0 + 2, what="two more flushes")
        expect(len(by_name(v.records(), "tick")) == 1, "idle series not re-emitted")
    finally:
        v.stop()


def test_http_endpoints():
    v = Veneur()
    try:
        expect(v.http("/healthcheck") == (200, "ok\n"), "healthcheck")
        expect(v.http("/healthz")[0] == 200, "healthz")
        expect(v.http("/readyz")[0] == 200, "readyz")
        expect(v.http("/version")[0] == 200 and v.http("/version")[1].strip(), "version")
        expect(v.http("/nope")[0] == 404, "404")
        expect("veneur_flushes_total" in v.http("/metrics")[1], "/metrics exposition")
    finally:
        v.stop()


def test_sigterm_flushes_held_data():
    v = Veneur(interval="3600s")
    try:
        for i in range(50):
            v.send_udp("held.counter:%d|c" % (i + 1))
        recs = drain(v, 50)
    finally:
        v.stop()
    expect(total(recs, "held.counter") == sum(range(1, 51)), "final flush sum %r" % by_name(recs, "held.counter"))


def test_reuseport_readers_and_sharded_workers():
    v = Veneur("num_readers: 3\nnum_workers: 3\n", interval="60s")
    try:
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(300):  # 300 datagrams from many source ports spread over the 3 sockets
            if i % 50 == 0:
                sock.close()
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            body = "\n".join("shard.c%d:%d|c|#i:%d" % (j, i % 3 + 1, j % 5) for j in range(20))
            sock.sendto(body.encode(), ("127.0.0.1", v.udp_port))
        sock.close()
        recs = drain(v, 6000)
    finally:
        v.stop()
    c = [r for r in recs if r["name"].startswith("shard.c")]
    expect(len(c) == 20, "20 series across 3 workers: %d" % len(c))
    want = sum(i % 3 + 1 for i in range(300))
    expect(all(r["value"] == want for r in c), "every series summed once: %r" % sorted({r["value"] for r in c}))


def test_cardinality_cap_counts_overflow_by_name():
    v = Veneur("max_series_per_interval: 100\n", interval="60s")
    try:
        v.send_udp("keep.me:1|c")
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 1, what="first line")
        for i in range(0, 500, 25):
            v.send_udp("\n".join("flood.x:1|c|#id:%d" % j for j in range(i, i + 25)))
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 501, what="flood received")
        wait_for(lambda: v.metric("veneur_samples_processed_total") + v.metric("veneur_series_dropped_total") >= 501,
                 what="flood applied")
        rc = v.stop()  # the final flush reports the overflow
        recs = v.records()
        log = v.log()
    finally:
        v.stop()
    expect(rc == 0, "exit %s" % rc)
    expect(len(recs) == 100, "series capped at 100: %d" % len(recs))
    expect(by_name(recs, "keep.me"), "series admitted before the flood is kept")
    expect('event=series_cap_reached metric_name="flood.x" dropped_samples=401' in log, "overflow logged by name:\n" + log[-800:])


def test_config_validation():
    r = subprocess.run([VENEUR, "-validate-config", "-f", "/nonexistent.yaml"], capture_output=True, text=True)
    expect(r.returncode != 0, "missing file rejected")
    import tempfile
    d = tempfile.mkdtemp()
    p = os.path.join(d, "c.yaml")
    with open(p, "w") as f:
        f.write("num_workers: abc\n")
    r = subprocess.run([VENEUR, "-validate-config", "-f", p], capture_output=True, text=True)
    expect(r.returncode == 2 and "num_workers" in r.stderr and "abc" in r.stderr, "bad value named: %r" % r.stderr)
    with open(p, "w") as f:
        f.write("interval: 5s\nstatsd_listen_addresses: [udp://127.0.0.1:1]\n")
    r = subprocess.run([VENEUR, "-validate-config", "-f", p], capture_output=True, text=True)
    expect(r.returncode == 0, "valid config accepted: %r" % r.stderr)
    r = subprocess.run([VENEUR, "-validate-config", "-f", p], capture_output=True, text=True,
                       env=dict(os.environ, VENEUR_INTERVAL="bogus"))
    expect(r.returncode == 2 and "interval" in r.stderr.lower(), "env override validated: %r" % r.stderr)
    r = subprocess.run([VENEUR, "-version"], capture_output=True, text=True)
    expect(r.returncode == 0 and "veneur" in r.stdout, "version flag")


def test_env_overrides_file():
    v = Veneur(interval="60s", env={"VENEUR_EXTENDTAGS": "env:prod", "VENEUR_PERCENTILES": "0.5"})
    try:
        v.send_udp("envd:1|c|#env:dev,z:1\nenvh:3|h")
        recs = drain(v, 2)
    finally:
        v.stop()
    c = by_name(recs, "envd")
    expect(c and c[0]["tags"] == ["env:prod", "z:1"], "extend_tags from env overrides by key: %r" % c)
    expect(by_name(recs, "envh.50percentile"), "percentiles from env: %r" % [r["name"] for r in recs])


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("10-udp/" + name[5:], fn)
run()
