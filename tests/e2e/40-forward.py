"""Global aggregation over gRPC (docs/behaviour.md 2.7, W1, 0.12): locals forward to a global.

Cases: two build/veneur locals + one global (the union of histograms and sets,
the sum of a veneurglobalonly counter, locals keeping only their local
aggregates); a Node @grpc/grpc-js client calling our global (SendMetrics and
SendMetricsV2); our local forwarding to a Node @grpc/grpc-js server that
records what it decoded; a global that is down, and one that never answers,
neither of which may stop the local from flushing its own metrics.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import VENEUR, Veneur, by_name, check, expect, free_port, run, total, wait_for  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
PEER = os.path.join(NODE_DIR, "grpc_peer.js")
PCT = "percentiles: [0.5, 0.9, 0.99]\n"


def send_values(v, name, values, suffix):
    """Multi-value lines (v14) in datagrams well under metric_max_length."""
    for i in range(0, len(values), 50):
        chunk = values[i:i + 50]
        v.send_udp("%s:%s|%s" % (name, ":".join(str(x) for x in chunk), suffix))


def global_and_locals(n_locals, global_interval="60s", local_interval="1s"):
    gport = free_port(socket.SOCK_STREAM)
    g = Veneur(PCT + 'grpc_address: "127.0.0.1:%d"\n' % gport, interval=global_interval)
    locals_ = []
    try:
        for _ in range(n_locals):
            locals_.append(Veneur(PCT + 'forward_address: "127.0.0.1:%d"\n' % gport, interval=local_interval))
    except Exception:
        for v in locals_:
            v.stop()
        g.stop()
        raise
    return g, locals_


def test_two_locals_one_global():
    g, (a, b) = global_and_locals(2)
    try:
        # Histogram values and set members split across the locals.
        send_values(a, "fw.hist", list(range(1, 501)), "h|#env:e2e")
        send_values(b, "fw.hist", list(range(501, 1001)), "h|#env:e2e")
        send_values(a, "fw.timer", [10, 20], "ms")
        send_values(b, "fw.timer", [30, 40], "ms")
        for i in range(0, 100, 25):
            a.send_udp("\n".join("fw.set:a%d|s" % j for j in range(i, i + 25)))
        for i in range(50, 150, 25):  # a50..a99 overlap with local a
            b.send_udp("\n".join("fw.set:a%d|s" % j for j in range(i, i + 25)))
        a.send_udp("\n".join(["fw.gc:1|c|#veneurglobalonly"] * 5 + ["fw.local:1|c"]))
        b.send_udp("\n".join(["fw.gc:1|c|#veneurglobalonly"] * 7 + ["fw.local:1|c"]))
        b.send_udp("fw.gg:3.25|g|#veneurglobalonly")
        # lines: 10 histogram lines (50 values each), 1 timer line, 100 set lines, counters, gauge
        for v, lines in ((a, 10 + 1 + 100 + 6), (b, 10 + 1 + 100 + 9)):
            wait_for(lambda: v.metric("veneur_lines_received_total") >= lines, what="lines at a local")
        # A local's SIGTERM flushes and forwards what it holds before it exits (docs/behaviour.md 0.7), so once
        # both have exited the global has answered every call they made.
        for v in (a, b):
            expect(v.stop() == 0, "local exit 0")
        arecs, brecs = a.records(), b.records()
        expect(g.metric("veneur_import_metrics_received_total") >= 9, "global received both locals' metrics")
        expect(g.metric("veneur_import_metrics_rejected_total") == 0, "no rejected imports")
        expect(g.metric("veneur_import_calls_total") >= 2, "one call per local interval at least")
        expect(g.stop() == 0, "global exit 0")  # its final flush holds every import
        grecs = g.records()
    finally:
        for v in (g, a, b):
            v.stop()

    gv = {r["name"]: r for r in grecs}
    for p, want in (("50", 500.5), ("90", 900.5), ("99", 990.5)):
        r = gv.get("fw.hist.%spercentile" % p)
        expect(r is not None, "global has fw.hist.%spercentile: %r" % (p, sorted(gv)))
        expect(abs(r["value"] - want) <= 5, "p%s of the union %r (want ~%s)" % (p, r["value"], want))
        expect(r["tags"] == ["env:e2e"] and r["type"] == "gauge", "percentile record %r" % r)
    # Imported-only mixed histograms: no local aggregates at the global (docs/behaviour.md 2.7).
    for agg in ("min", "max", "count"):
        expect("fw.hist." + agg not in gv, "global must not emit fw.hist.%s" % agg)
    expect(abs(gv["fw.timer.50percentile"]["value"] - 25) <= 1e-9, "timer p50 %r" % gv["fw.timer.50percentile"])
    s = by_name(grecs, "fw.set")
    expect(len(s) == 1 and s[0]["value"] == 150, "set count of the union: %r" % s)
    gc = by_name(grecs, "fw.gc")
    expect(len(gc) == 1 and gc[0]["value"] == 12 and gc[0]["type"] == "counter", "global counter summed: %r" % gc)
    gg = by_name(grecs, "fw.gg")
    expect(len(gg) == 1 and gg[0]["value"] == 3.25, "global gauge: %r" % gg)
    expect(not by_name(grecs, "fw.local"), "mixed counters stay local")

    for name, recs, lo, hi, n in (("a", arecs, 1, 500, 500), ("b", brecs, 501, 1000, 500)):
        names = {r["name"] for r in recs}
        expect(min(r["value"] for r in by_name(recs, "fw.hist.min")) == lo, "local %s min" % name)
        expect(max(r["value"] for r in by_name(recs, "fw.hist.max")) == hi, "local %s max" % name)
        expect(total(recs, "fw.hist.count") == n, "local %s count" % name)
        expect(not any("percentile" in x for x in names), "local %s emits no percentiles: %r" % (name, names))
        for fwd_only in ("fw.set", "fw.gc", "fw.gg"):
            expect(fwd_only not in names, "local %s must not emit %s" % (name, fwd_only))
        expect(total(recs, "fw.local") == 1, "local %s keeps its mixed counter" % name)


def node_peer(*args, **kw):
    return subprocess.Popen(["node", PEER] + list(args), cwd=NODE_DIR, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_node_client_to_our_global():
    gport = free_port(socket.SOCK_STREAM)
    g = Veneur(PCT + 'grpc_address: "127.0.0.1:%d"\n' % gport, interval="60s")
    try:
        p = node_peer("client", "127.0.0.1:%d" % gport)
        out, err = p.communicate(timeout=60)
        expect(p.returncode == 0, "node client failed: %s" % err[-800:])
        res = json.loads(out.strip().splitlines()[-1])
        expect(res["unary"]["code"] == 0, "SendMetrics (unary) OK: %r" % res)
        expect(res["v2"]["code"] == 0, "SendMetricsV2 OK: %r" % res)
        expect(res["local"]["code"] == 3 and "local metrics" in res["local"]["details"],
               "Local scope refused with INVALID_ARGUMENT: %r" % res)
        wait_for(lambda: g.metric("veneur_import_metrics_applied_total") >= 7, what="imports applied")
        expect(g.stop() == 0, "global exit 0")
        recs = g.records()
    finally:
        g.stop()
    v = {r["name"]: r for r in recs}
    expect(v["node.unary.counter"]["value"] == 10 and v["node.unary.counter"]["tags"] == ["via:unary"],
           "unary counters (Mixed scope forced to global) summed: %r" % v.get("node.unary.counter"))
    expect(v["node.after.local"]["value"] == 9, "the good metric of a call with a bad one is kept")
    expect("node.local" not in v, "the Local-scope metric is refused")
    expect(v["node.v2.gauge"]["value"] == 2.5, "gauge %r" % v.get("node.v2.gauge"))
    expect(abs(v["node.v2.hist.50percentile"]["value"] - 5.5) < 1e-9, "hist p50 %r" % v.get("node.v2.hist.50percentile"))
    # A Global-scope timer gets every aggregate at the global from the digest.
    expect(v["node.v2.timer.min"]["value"] == 100 and v["node.v2.timer.max"]["value"] == 200, "timer min/max")
    expect(v["node.v2.timer.count"]["value"] == 2 and v["node.v2.timer.count"]["type"] == "counter", "timer count")
    expect(v["node.v2.set"]["value"] == 1, "set from the W7 HLL bytes")


def test_our_local_to_node_server():
    d = tempfile.mkdtemp(prefix="vn-e2e-node-")
    outp = os.path.join(d, "received.jsonl")
    p = node_peer("server", outp)
    v = None
    try:
        line = p.stdout.readline()
        expect(line.startswith("PORT "), "node server did not start: %r %s" % (line, p.stderr.read()[-500:]
                                                                              if p.poll() is not None else ""))
        port = int(line.split()[1])
        v = Veneur('forward_address: "127.0.0.1:%d"\n' % port, interval="1s")
        v.send_udp("n.gc:2|c|#veneurglobalonly,z:1,a:2\nn.gc:0.5|c|#veneurglobalonly,z:1,a:2\n"
                   "n.gg:-4.5|g|#veneurglobalonly\nn.h:5|h|#a:b\nn.t:1|ms|@0.5\nn.t:3|ms|@0.5\n"
                   "n.s:foo|s\nn.mixed:1|c\nn.lh:1|h|#veneurlocalonly")

        def received():
            if not os.path.exists(outp):
                return None
            with open(outp) as f:
                recs = [json.loads(x) for x in f if x.strip()]
            return recs if len({r["name"] for r in recs}) >= 5 else None
        recs = wait_for(received, timeout=15, what="node server received 5 metrics")
        wait_for(lambda: v.metric("veneur_forward_calls_total") >= 1, what="forward call counted")
    finally:
        if v:
            v.stop()
        p.terminate()
        p.wait(timeout=10)
    m = {r["name"]: r for r in recs}
    expect(set(m) == {"n.gc", "n.gg", "n.h", "n.t", "n.s"}, "forwarded set (docs/behaviour.md W1.2): %r" % sorted(m))
    expect(all(r["_method"] == "SendMetricsV2" for r in recs), "a local streams with SendMetricsV2")
    gc = m["n.gc"]
    expect(gc["type"] == "Counter" and gc["scope"] == "Global" and gc["value"] == "counter", "counter %r" % gc)
    expect(gc["counter"]["value"] == "3", "2.5 rounds to the nearest int64 (docs/behaviour.md 0.2): %r" % gc)
    expect(gc["tags"] == ["a:2", "z:1"], "sorted tags, magic tag stripped: %r" % gc["tags"])
    gg = m["n.gg"]
    expect(gg["type"] == "Gauge" and gg["scope"] == "Global" and gg["gauge"]["value"] == -4.5, "gauge %r" % gg)
    h = m["n.h"]
    td = h["histogram"]["t_digest"]
    expect(h["type"] == "Histogram" and h["scope"] == "Mixed" and h["tags"] == ["a:b"], "histogram %r" % h)
    expect(td["compression"] == 100 and td["min"] == 5 and td["max"] == 5, "digest header %r" % td)
    expect([(c["mean"], c["weight"]) for c in td["main_centroids"]] == [(5, 1)], "centroids %r" % td)
    expect(abs(td["reciprocalSum"] - 0.2) < 1e-12, "reciprocalSum %r" % td)
    t = m["n.t"]
    tw = sum(c["weight"] for c in t["histogram"]["t_digest"]["main_centroids"])
    expect(t["type"] == "Timer" and t["value"] == "histogram" and tw == 4, "timer weight 1/rate: %r" % t)
    s = m["n.s"]
    import base64
    hll = base64.b64decode(s["set"]["hyper_log_log"])
    expect(s["type"] == "Set" and hll.hex() == "010e00010000000102c512b6000000000000000000000000",
           "set HLL bytes are Go's (W7): %s" % hll.hex())


def make_certs(d):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI)."""
    def ossl(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True, timeout=30)
        expect(r.returncode == 0, "openssl %s: %s" % (args[0], r.stderr[-300:]))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=vn-test-ca")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "cli.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for who in ("srv", "cli"):
        ossl("req", *ec, "-keyout", who + ".key", "-out", who + ".csr", "-subj", "/CN=vn-test-" + who)
        ossl("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", who + ".pem", "-days", "2", "-extfile", who + ".ext")
    return {k: os.path.join(d, k) for k in ("ca.pem", "srv.pem", "srv.key", "cli.pem", "cli.key")}


def test_our_local_to_node_server_over_tls():
    d = tempfile.mkdtemp(prefix="vn-e2e-tls-")
    c = make_certs(d)
    outp = os.path.join(d, "received.jsonl")
    p = node_peer("server", outp, c["ca.pem"], c["srv.pem"], c["srv.key"])
    v = None
    try:
        line = p.stdout.readline()
        expect(line.startswith("PORT "), "node TLS server did not start: %r" % line)
        port = int(line.split()[1])
        tls = 'tls: {ca_file: "%s", cert_file: "%s", key_file: "%s"}\n' % (c["ca.pem"], c["cli.pem"], c["cli.key"])
        v = Veneur('forward_address: "127.0.0.1:%d"\n' % port + tls, interval="1s")
        v.send_udp("tls.gc:7|c|#veneurglobalonly")

        def received():
            if not os.path.exists(outp):
                return None
            with open(outp) as f:
                return [json.loads(x) for x in f if x.strip()] or None
        recs = wait_for(received, timeout=15, what="node TLS server received the counter")
        expect(recs[0]["name"] == "tls.gc" and recs[0]["counter"]["value"] == "7", "over TLS: %r" % recs)
        expect(v.metric("veneur_forward_errors_total") == 0, "no failed call")
    finally:
        if v:
            v.stop()
        p.terminate()
        p.wait(timeout=10)


class SilentServer:
    """Accepts TCP connections and reads forever without answering (a stuck global)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.conns = []
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        deadline = time.monotonic() + 120
        while not self.stop and time.monotonic() < deadline:
            try:
                c, _ = self.sock.accept()
                c.setblocking(False)
                self.conns.append(c)
            except OSError:
                pass
            for c in self.conns:
                try:
                    c.recv(65536)
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.t.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


def local_keeps_flushing(forward_port):
    v = Veneur('forward_address: "127.0.0.1:%d"\n' % forward_port, interval="1s")
    try:
        t0 = time.monotonic()
        for i in range(4):
            v.send_udp("own.count:1|c\nfwd.gc:1|c|#veneurglobalonly\nfwd.h:%d|h" % i)
            wait_for(lambda: len(by_name(v.records(), "own.count")) > i, timeout=5,
                     what="local flush %d while the global is unreachable" % i)
        took = time.monotonic() - t0
        wait_for(lambda: v.metric("veneur_forward_errors_total") >= 2, timeout=10, what="forward errors counted")
        expect(v.metric("veneur_forward_calls_total") == 0, "no call succeeded")
        expect(v.metric("veneur_forward_metrics_failed_total") >= 4, "failed metrics counted")
        recs = v.records()
        expect(total(recs, "own.count") == 4, "every interval flushed its own counter: %r" % by_name(recs, "own.count"))
        expect(not by_name(recs, "fwd.gc"), "forwardable series are not emitted locally")
        expect(took < 12, "flushes kept their pace (%.1fs for 4)" % took)
        expect(v.stop() == 0, "local exit 0 even with the global unreachable")
    finally:
        v.stop()


def test_global_down_does_not_block_local():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    local_keeps_flushing(port)


def test_global_silent_does_not_block_local():
    srv = SilentServer()
    try:
        local_keeps_flushing(srv.port)
    finally:
        srv.close()


def run_config(text):
    d = tempfile.mkdtemp(prefix="vn-e2e-cfg-")
    path = os.path.join(d, "veneur.yaml")
    with open(path, "w") as f:
        f.write(text)
    return subprocess.run([VENEUR, "-f", path], capture_output=True, text=True, timeout=20)


def test_bad_forward_config():
    r = run_config('forward_address: "nohostport"\nhttp_address: "127.0.0.1:0"\n')
    expect(r.returncode == 2 and "forward_address" in r.stderr, "malformed forward_address refused: %r" % r.stderr)
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        r = run_config('grpc_address: "127.0.0.1:%d"\n' % busy.getsockname()[1])
    finally:
        busy.close()
    expect(r.returncode == 2 and "bind" in r.stderr, "grpc_address in use refused: %r" % r.stderr)
    r = run_config('forward_address: "127.0.0.1:1"\ntls: {ca_file: /nonexistent/ca.pem, cert_file: /x, key_file: /y}\n')
    expect(r.returncode == 2 and "ca_file" in r.stderr, "unreadable tls files refused: %r" % r.stderr)


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("40-forward/" + name[5:], fn)
run()
