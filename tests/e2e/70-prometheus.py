"""build/veneur-prometheus against real Prometheus endpoints -> build/veneur -> jsonl (issue 9).

Cases:
  node_exporter  Debian's prometheus-node-exporter (cpu, loadavg, meminfo collectors only)
  prometheus     Debian's prometheus server, scraping its own /metrics endpoint
  bad_scrapes    a python http.server that serves good bodies, garbage, a truncated body
                 and a 500: nothing from a failed scrape reaches veneur, error self-metrics do,
                 and the counter baseline skips the failed scrapes
  connect_error  nothing listening: connect_errors_total, and the tool keeps running
  mtls           https with a client certificate (-cert/-key/-cacert); without one, connect errors
  unix_socket    -socket: HTTP over a unix socket
Every wait has a deadline; every process is killed in a finally block.
"""
import http.server
import os
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, Veneur, by_name, check, expect, free_port, run, total, wait_for  # noqa: E402

PROM_TOOL = harness.VENEUR_PROMETHEUS
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PROMETHEUS = "/usr/bin/prometheus"


class Proc:
    """A child process with its output in a temp file; stop() is bounded and idempotent."""

    def __init__(self, argv, name):
        self.name = name
        self.log_path = tempfile.mktemp(prefix="vn-e2e-%s-" % name, suffix=".log")
        self._log = open(self.log_path, "w")
        self.p = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.p.poll() is None

    def log(self):
        self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=timeout)
        self._log.close()
        return self.p.returncode


def up(proc, url):
    """True once url answers 200; raises if proc died meanwhile (no point waiting)."""
    if not proc.alive():
        raise RuntimeError("%s exited %s: %s" % (proc.name, proc.p.returncode, proc.log()[-1500:]))
    return http_ok(url)


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def prom_tool(url, veneur, interval="1s", extra=()):
    return Proc([PROM_TOOL, "-h", url, "-i", interval, "-p", "test.", "-s", "127.0.0.1:%d" % veneur.udp_port]
                + list(extra), "veneur-prometheus")


def stop_all(*procs):
    for p in procs:
        if p is not None:
            try:
                p.stop()
            except Exception:  # keep stopping the others
                pass


def needs(binary, name):
    """Runs a case that needs a Debian package; says so loudly when it is missing."""
    def deco(fn):
        def wrapped():
            if not os.access(binary, os.X_OK):
                print("FAIL 70-prometheus/%s: prometheus not installed (%s missing; run make deps)" % (name, binary),
                      flush=True)
                harness._results.append(False)
                return
            check("70-prometheus/" + name, fn)
        return wrapped
    return deco


@needs(NODE_EXPORTER, "node_exporter")
def test_node_exporter():
    port = free_port(socket.SOCK_STREAM)
    ne = v = tool = None
    try:
        ne = Proc([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults",
                   "--collector.cpu", "--collector.loadavg", "--collector.meminfo"], "node-exporter")
        url = "http://127.0.0.1:%d/metrics" % port
        wait_for(lambda: up(ne, url), timeout=15, what="node exporter /metrics")
        v = Veneur(interval="1s")
        tool = prom_tool(url, v)

        def ready(recs):
            cpu = by_name(recs, "test.node_cpu_seconds_total")
            return by_name(recs, "test.node_load1") and cpu and by_name(recs, "test.node_memory_MemTotal_bytes")
        recs = v.wait_records(ready, timeout=30, what="node exporter series in veneur's output")
        expect(tool.alive(), "veneur-prometheus exited: " + tool.log())
        expect(tool.stop() == 0, "veneur-prometheus exit status")
        tool = None
        load = by_name(recs, "test.node_load1")
        expect(all(r["type"] == "gauge" and r["value"] >= 0 for r in load), "node_load1 gauge %r" % load[:2])
        mem = by_name(recs, "test.node_memory_MemTotal_bytes")
        expect(mem[0]["type"] == "gauge" and mem[0]["value"] > 1e6, "MemTotal %r" % mem[:1])
        cpu = by_name(recs, "test.node_cpu_seconds_total")
        for r in cpu:
            expect(r["type"] == "counter" and r["value"] > 0, "cpu delta must be a positive counter: %r" % r)
            keys = sorted(t.split(":", 1)[0] for t in r["tags"])
            expect(keys == ["cpu", "mode"], "cpu tags %r" % r["tags"])
        flushed = by_name(recs, "test.veneur.prometheus.metrics_flushed_total")
        expect(flushed and flushed[0]["type"] == "counter" and flushed[0]["value"] > 10, "self-metric %r" % flushed)
    finally:
        stop_all(tool, ne)
        if v:
            v.stop()


@needs(PROMETHEUS, "prometheus")
def test_prometheus_server():
    port = free_port(socket.SOCK_STREAM)
    d = tempfile.mkdtemp(prefix="vn-e2e-prom-")
    prom = v = tool = None
    try:
        cfg = os.path.join(d, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % port)
        prom = Proc([PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(d, "data"),
                     "--web.listen-address=127.0.0.1:%d" % port], "prometheus")
        url = "http://127.0.0.1:%d/metrics" % port
        wait_for(lambda: up(prom, url), timeout=30, what="prometheus /metrics")
        v = Veneur(interval="1s")
        tool = prom_tool(url, v)

        def ready(recs):
            names = {r["name"] for r in recs}
            return ("test.prometheus_build_info" in names and "test.go_goroutines" in names
                    and "test.go_gc_duration_seconds.sum" in names
                    and any(n.startswith("test.prometheus_http_requests_total") for n in names))
        recs = v.wait_records(ready, timeout=30, what="prometheus series in veneur's output")
        expect(tool.stop() == 0, "veneur-prometheus exit status")
        tool = None
        bi = by_name(recs, "test.prometheus_build_info")[0]
        expect(bi["type"] == "gauge" and bi["value"] == 1, "build_info %r" % bi)
        expect(any(t.startswith("version:") for t in bi["tags"]), "build_info tags %r" % bi["tags"])
        expect(by_name(recs, "test.go_goroutines")[0]["value"] > 0, "goroutines")
        # /metrics is requested once per scrape: a delta of at least 1 with handler and code tags
        req = [r for r in by_name(recs, "test.prometheus_http_requests_total") if "handler:/metrics" in r["tags"]]
        expect(req and all(r["type"] == "counter" and r["value"] >= 1 for r in req), "requests %r" % req[:2])
        expect("code:200" in req[0]["tags"], "code tag %r" % req[0]["tags"])
        names = {r["name"] for r in recs}
        # histogram families: .sum gauge; summary families: Go's NNpercentile names
        expect(any(re.match(r"^test\.prometheus_[a-z_]+_seconds\.sum$", n) for n in names), "a histogram .sum")
        expect("test.go_gc_duration_seconds.50percentile" in names, "summary quantile %r" %
               sorted(n for n in names if n.startswith("test.go_gc"))[:10])
    finally:
        stop_all(tool, prom)
        if v:
            v.stop()
        shutil.rmtree(d, ignore_errors=True)


GOOD = "# HELP good_total A counter.\n# TYPE good_total counter\ngood_total{a=\"b\"} %d\n# TYPE seq gauge\nseq %d\n"
# served in order, then the last entry forever: (status, body)
SCRIPT = [
    (200, GOOD % (10, 1)),
    (200, "# TYPE poison gauge\npoison 1\ngood_total{a=\"b\"} 1000\nthis is { not the text format\n"),
    (500, "# TYPE poison500 gauge\npoison500 1\n"),
    (200, GOOD % (15, 2)),
    (200, "poison_truncated 1\ngood_total{a=\"b\"} 99"),  # no final newline: a cut-off body
    (200, "\x00\xff\xfe binary garbage\n"),
    (200, GOOD % (20, 3)),
]


def test_bad_scrapes():
    def script(i):
        status, body = SCRIPT[min(i, len(SCRIPT) - 1)]
        return status, body.encode("latin-1")

    srv = harness.ScriptedHTTP(script)
    v = tool = None
    try:
        v = Veneur(interval="1s")
        tool = prom_tool(srv.url, v, interval="200ms")
        wait_for(lambda: srv.hits >= len(SCRIPT) + 2, timeout=20, what="every scripted response served")
        expect(tool.alive(), "veneur-prometheus died on bad input: " + tool.log())
        expect(tool.stop() == 0, "veneur-prometheus exit status")
        tool = None
        expect(v.stop() == 0, "veneur exit status")  # flushes what it holds
        recs = v.records()
        v = None
        names = {r["name"] for r in recs}
        expect(not any("poison" in n for n in names), "partial/failed scrape leaked: %r" % sorted(names))
        # first good scrape is the baseline (10); failed scrapes (1000, 99) never move it
        expect(total(recs, "test.good_total", ["a:b"]) == 10, "counter deltas %r" % by_name(recs, "test.good_total"))
        expect(total(recs, "test.veneur.prometheus.decode_errors_total") == 3, "decode errors %r" %
               by_name(recs, "test.veneur.prometheus.decode_errors_total"))
        expect(total(recs, "test.veneur.prometheus.connect_errors_total") == 1, "the 500 counts as a failed request")
        expect(by_name(recs, "test.seq")[-1]["value"] == 3, "last good gauge")
    finally:
        stop_all(tool)
        if v:
            v.stop()
        srv.close()


def test_connect_error():
    port = free_port(socket.SOCK_STREAM)  # nothing listens there
    v = tool = None
    try:
        v = Veneur(interval="1s")
        tool = prom_tool("http://127.0.0.1:%d/metrics" % port, v, interval="200ms")
        recs = v.wait_records(lambda r: total(r, "test.veneur.prometheus.connect_errors_total") >= 3, timeout=15,
                              what="connect_errors_total")
        expect(tool.alive(), "veneur-prometheus exited: " + tool.log())
        expect("event=scrape_failed" in tool.log(), "the failure is logged")
        names = {r["name"] for r in recs}
        expect(not any(n.startswith("test.") and "connect_errors" not in n for n in names),
               "only the error counter is sent: %r" % sorted(names))
    finally:
        stop_all(tool)
        if v:
            v.stop()


class Scripted(http.server.BaseHTTPRequestHandler):
    """Always answers 200 with the text body in self.server.body."""
    def do_GET(self):
        data = self.server.body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def serve(srv, body):
    srv.body = body
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_mtls():
    d = tempfile.mkdtemp(prefix="vn-e2e-pki-")
    srv = v = tool = bad = None
    try:
        r = subprocess.run([harness.VN_TESTCERTS, d], capture_output=True, text=True, timeout=30)
        expect(r.returncode == 0, "vn-testcerts: " + r.stderr)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
        ctx.load_verify_locations(os.path.join(d, "ca.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED  # the server insists on a client certificate
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        serve(srv, "# TYPE tls_gauge gauge\ntls_gauge 42\n")
        url = "https://127.0.0.1:%d/metrics" % srv.server_address[1]
        v = Veneur(interval="1s")
        tool = prom_tool(url, v, interval="200ms", extra=["-cert", os.path.join(d, "client.pem"), "-key",
                                                          os.path.join(d, "client.key"), "-cacert",
                                                          os.path.join(d, "ca.pem")])
        # without a client certificate the handshake fails: a connect error, never the gauge
        bad = Proc([PROM_TOOL, "-h", url, "-i", "200ms", "-p", "nocert.", "-cacert", os.path.join(d, "ca.pem"),
                    "-s", "127.0.0.1:%d" % v.udp_port], "veneur-prometheus-nocert")
        recs = v.wait_records(lambda r: by_name(r, "test.tls_gauge") and
                              total(r, "nocert.veneur.prometheus.connect_errors_total") >= 2, timeout=15,
                              what="gauge over mTLS and connect errors without a client cert")
        expect(by_name(recs, "test.tls_gauge")[0]["value"] == 42, "gauge value")
        expect(not by_name(recs, "nocert.tls_gauge"), "no client cert must not scrape")
    finally:
        stop_all(tool, bad)
        if v:
            v.stop()
        if srv:
            srv.shutdown()
            srv.server_close()
        shutil.rmtree(d, ignore_errors=True)


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class UnixScripted(Scripted):
    def address_string(self):
        return "unix"


def test_unix_socket():
    d = tempfile.mkdtemp(prefix="vn-e2e-sock-")
    path = os.path.join(d, "metrics.sock")
    srv = v = tool = None
    try:
        srv = serve(UnixHTTPServer(path, UnixScripted), "unix_gauge{via=\"socket\"} 7\n")
        v = Veneur(interval="1s")
        # the URL's host is only the Host header; https is spoken as plain HTTP on the socket (as Go)
        tool = prom_tool("https://metrics.invalid/metrics", v, interval="200ms", extra=["-socket", path])
        recs = v.wait_records(lambda r: by_name(r, "test.unix_gauge"), timeout=15, what="gauge over the unix socket")
        expect(by_name(recs, "test.unix_gauge")[0]["tags"] == ["via:socket"], "tags")
    finally:
        stop_all(tool)
        if v:
            v.stop()
        if srv:
            srv.shutdown()
            srv.server_close()
        shutil.rmtree(d, ignore_errors=True)


def test_flags():
    r = subprocess.run([PROM_TOOL, "-i", "0s"], capture_output=True, text=True, timeout=10)
    expect(r.returncode == 1 and "flag -i" in r.stderr, "bad interval: %d %s" % (r.returncode, r.stderr))
    r = subprocess.run([PROM_TOOL, "-nope"], capture_output=True, text=True, timeout=10)
    expect(r.returncode == 2 and "not defined" in r.stderr, "unknown flag: %d %s" % (r.returncode, r.stderr))
    r = subprocess.run([PROM_TOOL, "-help"], capture_output=True, text=True, timeout=10)
    expect(r.returncode == 0 and "-ignored-metrics" in r.stdout, "usage")


if not os.access(PROM_TOOL, os.X_OK):
    print("FAIL 70-prometheus: %s not built (make all)" % PROM_TOOL, flush=True)
    sys.exit(1)
test_node_exporter()
test_prometheus_server()
check("70-prometheus/bad_scrapes", test_bad_scrapes)
check("70-prometheus/connect_error", test_connect_error)
check("70-prometheus/mtls", test_mtls)
check("70-prometheus/unix_socket", test_unix_socket)
check("70-prometheus/flags", test_flags)
run()
