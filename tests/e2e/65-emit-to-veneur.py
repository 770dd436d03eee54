"""veneur-emit -> build/veneur -> jsonl: the seed's stand-in application, end to end (issue 5)."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, Veneur, by_name, check, expect, free_port, run, wait_for  # noqa: E402

EMIT = harness.VENEUR_EMIT


def emit(*args):
    r = subprocess.run([EMIT] + list(args), capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, "veneur-emit %r failed: %s" % (args, r.stderr))


def test_emit_metrics_events_checks():
    tcp = free_port(socket.SOCK_STREAM)
    v = Veneur("percentiles: [0.5]\n", listen=None, interval="60s")
    v2 = None
    try:
        hp = "udp://localhost:%d" % v.udp_port
        emit("-hostport", hp, "-count", "1", "-name", "resp_success", "-tag", "method:post")
        emit("-hostport", hp, "-count", "2", "-name", "resp_success", "-tag", "method:post")
        emit("-hostport", hp, "-name", "queue.depth", "-gauge", "12345678.9", "-tag", "a:b,c:d")
        emit("-hostport", hp, "-name", "req.time", "-timing", "1.5s")
        emit("-hostport", hp, "-name", "users", "-set", "alice")
        emit("-hostport", "127.0.0.1:%d" % v.udp_port, "-name", "users", "-set", "bob")
        emit("-hostport", hp, "-mode", "sc", "-sc_name", "app.up", "-sc_status", "2", "-sc_msg", "down",
             "-sc_hostname", "web9")
        emit("-hostport", hp, "-name", "cmd.time", "-command", "true")
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 8, what="8 lines")
        expect(v.stop() == 0, "exit 0")
        recs = v.records()
    finally:
        v.stop()
    r = by_name(recs, "resp_success")
    expect(len(r) == 1 and r[0]["value"] == 3 and r[0]["tags"] == ["method:post"], "counter %r" % r)
    g = by_name(recs, "queue.depth")
    expect(g and g[0]["value"] == 12345678.9 and g[0]["tags"] == ["a:b", "c:d"], "full-precision gauge %r" % g)
    expect(by_name(recs, "req.time.50percentile")[0]["value"] == 1500, "timer in ms")
    expect(by_name(recs, "users")[0]["value"] == 2, "set")
    sc = by_name(recs, "app.up")
    expect(sc and sc[0]["value"] == 2 and sc[0]["hostname"] == "web9" and sc[0].get("message") == "down", "sc %r" % sc)
    expect(by_name(recs, "cmd.time.count"), "-command timer %r" % [x["name"] for x in recs])
    _ = tcp, v2


def test_emit_over_tcp():
    tcp = free_port(socket.SOCK_STREAM)
    v = Veneur(listen=["tcp://127.0.0.1:%d" % tcp], interval="60s")
    try:
        emit("-hostport", "tcp://127.0.0.1:%d" % tcp, "-name", "tcp.emit", "-count", "5", "-gauge", "1.5")
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 2, what="2 lines")
        expect(v.stop() == 0, "exit 0")
        recs = v.records()
    finally:
        v.stop()
    types = sorted((x["type"], x["value"]) for x in by_name(recs, "tcp.emit"))
    expect(types == [("counter", 5), ("gauge", 1.5)], "tcp emit %r" % types)


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("65-emit-to-veneur/" + name[5:], fn)
run()
