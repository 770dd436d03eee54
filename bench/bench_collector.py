#!/usr/bin/env python3
"""bench_collector.py - tiny metric receivers for the benchmark harness (stdlib only).

Peers that cannot write a file we can read are pointed at one of these:

  carbon   - TCP listener for Graphite plaintext ("name value timestamp\\n"), used by brubeck's
             carbon backend.
  datadog  - HTTP listener for POST /api/v1/series (zlib-compressed JSON, what Go Veneur's datadog
             sink sends); /api/v1/check_run and anything else is accepted and ignored. Go Veneur's
             own localfile sink cannot be used: it passes interval 0 and writes +Inf for counters.

Both keep running totals over every metric whose name starts with --prefix (the load generator's
counters, "lg.c."): the sum of the values and the number of non-zero lines. The totals are
rewritten atomically to --state as one JSON object {"sum","series","flushes","lines"} every 50 ms
when they changed, so the harness can read them without talking to this process.

Usage: bench_collector.py {carbon|datadog} --port P --state FILE [--prefix lg.c.] [--interval 1]
"""
import argparse
import http.server
import json
import multiprocessing
import os
import socketserver
import sys
import threading
import time
import zlib


class Totals:
    """Running totals shared by the listener threads; written out by a timer thread."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.sum = 0.0
        self.series = 0
        self.flushes = 0
        self.lines = 0
        self.dirty = True

    def add(self, s, n, lines, flush=False):
        with self.lock:
            self.sum += s
            self.series += n
            self.lines += lines
            if flush:
                self.flushes += 1
            self.dirty = True

    def write_loop(self):
        while True:
            with self.lock:
                snap = None
                if self.dirty:
                    snap = {"sum": self.sum, "series": self.series,
                            "flushes": self.flushes, "lines": self.lines}
                    self.dirty = False
            if snap is not None:
                tmp = self.path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(snap, f)
                os.replace(tmp, self.path)
            time.sleep(0.05)


def run_carbon(port, totals, prefix):
    pfx = prefix.encode()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            rest = b""
            while True:
                data = self.request.recv(1 << 20)
                if not data:
                    break
                data = rest + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                rest = data[cut + 1:]
                s, n, lines = 0.0, 0, 0
                for line in data[:cut].split(b"\n"):
                    lines += 1
                    if not line.startswith(pfx):
                        continue
                    parts = line.split(b" ")
                    if len(parts) < 2:
                        continue
                    try:
                        v = float(parts[1])
                    except ValueError:
                        continue
                    if v != 0.0:
                        s += v
                        n += 1
                totals.add(s, n, lines)

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", port), Handler)
    srv.serve_forever()


def parse_series(body, deflate, prefix, interval):
    """Runs in the parser process: (sum, non-zero lines, lines) of one /api/v1/series body."""
    if deflate:
        body = zlib.decompress(body)
    doc = json.loads(body)
    s, cnt, lines = 0.0, 0, 0
    for m in doc.get("series", []):
        lines += 1
        if not m.get("metric", "").startswith(prefix):
            continue
        v = float(m["points"][0][1])
        if m.get("type") == "rate":  # counters arrive as value / interval
            v *= float(m.get("interval") or interval)
        if v != 0.0:
            s += v
            cnt += 1
    return (s, cnt, lines)


def run_datadog(port, totals, prefix, interval):
    # Go Veneur gives each flush a deadline of one interval and drops what is late, so the handler
    # only reads the body and answers; a separate process parses (the GIL would otherwise make
    # 40 concurrent 25k-metric bodies miss the deadline and look like loss).
    pool = multiprocessing.Pool(1)

    def done(res):
        totals.add(res[0], res[1], res[2], flush=True)

    def failed(e):
        sys.stderr.write("collector: bad body: %r\n" % (e,))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep stderr quiet
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            if self.path.startswith("/api/v1/series") and body:
                deflate = self.headers.get("Content-Encoding", "") == "deflate"
                pool.apply_async(parse_series, (body, deflate, prefix, interval),
                                 callback=done, error_callback=failed)
            out = b"{}"
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["carbon", "datadog"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--prefix", default="lg.c.")
    ap.add_argument("--interval", type=float, default=1.0)
    a = ap.parse_args()
    totals = Totals(a.state)
    threading.Thread(target=totals.write_loop, daemon=True).start()
    if a.kind == "carbon":
        run_carbon(a.port, totals, a.prefix)
    else:
        run_datadog(a.port, totals, a.prefix, a.interval)


if __name__ == "__main__":
    main()
