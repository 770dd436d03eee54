#!/usr/bin/env python3
"""Sinks are isolated: a hung sink delays only itself (issue 15).

  hung_remote_write  a cortex (Prometheus remote-write) sink whose endpoint
                     accepts and never answers: the localfile sink still gets one
                     flush per interval, each its own interval (consecutive
                     timestamps, none merged), and the counter adds up to what
                     was sent
  stuck_file_write   a second localfile sink writes into a FIFO whose reader
                     never reads (the write blocks for good, like a hung NFS
                     mount), next to the hung cortex sink: the healthy sink keeps
                     flushing every interval, and SIGTERM still ends the process
                     within seconds with the final flush written

Binaries: $VENEUR_BIN, else $VENEUR_BUILD_DIR/veneur, else harness.VENEUR.
"""
import os
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RUN_S = 4.5


class HungServer:
    """Accepts TCP connections, reads what comes, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            c.setblocking(False)
            self.conns.append(c)

    def close(self):
        self.stop = True
        for c in self.conns:
            c.close()
        self.sock.close()


def cortex_yaml(port):
    return """  - kind: cortex
    name: prom
    config: {url: "http://127.0.0.1:%d/api/v1/write"}
""" % port


def launch(extra_sinks):
    """A Veneur whose metric_sinks are the harness's jsonl sink plus extra_sinks (the harness
    writes that list last, so list entries appended as extra YAML join it)."""
    return h.Veneur(interval="1s", extra_yaml=extra_sinks)


def drive(v, fill=0):
    """Sends iso.c:1|c every 20 ms for RUN_S seconds (and `fill` distinct gauges per 0.5 s); returns the count."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    t0 = time.monotonic()
    next_fill = t0
    while time.monotonic() - t0 < RUN_S:
        s.sendto(b"iso.c:1|c", ("127.0.0.1", v.udp_port))
        sent += 1
        if fill and time.monotonic() >= next_fill:
            lines = ["iso.fill.%d:1|g|#pad:%s" % (i, "x" * 40) for i in range(fill)]
            for k in range(0, fill, 20):
                s.sendto("\n".join(lines[k:k + 20]).encode(), ("127.0.0.1", v.udp_port))
            next_fill += 0.5
        time.sleep(0.02)
    s.close()
    return sent


def check_intervals(recs, what):
    ts = sorted(r["timestamp"] for r in h.by_name(recs, "iso.c"))
    h.expect(len(ts) == len(set(ts)), "%s: an interval flushed twice: %r" % (what, ts))
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    return ts, gaps


def lateness(v):
    _, m = v.http("/metrics")
    late = [float(l.split()[-1]) for l in m.splitlines() if l.startswith("veneur_flush_lateness_seconds ")]
    return late[0] if late else None


def case_hung_remote_write():
    srv = HungServer()
    v = launch(cortex_yaml(srv.port))
    try:
        sent = drive(v)
        late = lateness(v)
        recs = v.records()
        ts, gaps = check_intervals(recs, "during the hang")
        v.proc.send_signal(signal.SIGTERM)
        v.proc.wait(timeout=20)
        final = v.records()
        got = h.total(final, "iso.c")
        values = [r["value"] for r in sorted(h.by_name(recs, "iso.c"), key=lambda r: r["timestamp"])]
        print("  hung_remote_write: flushes in %.1f s: %d, timestamp gaps %s, per-flush values %s, "
              "lateness %.3f s, total %g of %d" % (RUN_S, len(ts), gaps, values, late or -1, got, sent), flush=True)
        h.expect(len(ts) >= int(RUN_S) - 1, "only %d flushes in %.1f s" % (len(ts), RUN_S))
        h.expect(all(g == 1 for g in gaps), "intervals merged or skipped: gaps %r" % gaps)
        h.expect(late is not None and late < 0.5, "flush lateness %r" % late)
        h.expect(got == sent, "counter %g, sent %d" % (got, sent))
        h.expect(v.proc.returncode == 0, "exit code %s" % v.proc.returncode)
    finally:
        v.stop()
        srv.close()


def case_stuck_file_write():
    srv = HungServer()
    tmpdir = tempfile.mkdtemp(prefix="vn-e2e-iso-")
    fifo = os.path.join(tmpdir, "stuck.fifo")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read: writes block once 64 KiB fill
    extra = cortex_yaml(srv.port) + """  - kind: localfile
    name: stuck
    config: {flush_file: "%s", format: jsonl}
""" % fifo
    v = launch(extra)
    try:
        sent = drive(v, fill=1000)
        recs = v.records()
        ts, gaps = check_intervals(recs, "while a sink is stuck")
        t0 = time.monotonic()
        v.proc.send_signal(signal.SIGTERM)
        try:
            v.proc.wait(timeout=20)
            took = time.monotonic() - t0
        except Exception:
            took = None
        final = v.records()
        got = h.total(final, "iso.c")
        print("  stuck_file_write: flushes in %.1f s: %d, gaps %s, SIGTERM->exit %s, total %g of %d"
              % (RUN_S, len(ts), gaps, "%.2f s" % took if took is not None else "> 20 s (killed)", got, sent),
              flush=True)
        h.expect(len(ts) >= int(RUN_S) - 1, "only %d flushes in %.1f s" % (len(ts), RUN_S))
        h.expect(all(g == 1 for g in gaps), "intervals merged or skipped: gaps %r" % gaps)
        h.expect(took is not None and took < 10, "SIGTERM took %s s" % took)
        h.expect(v.proc.returncode == 0, "exit code %s" % v.proc.returncode)
        h.expect(got == sent, "counter %g, sent %d" % (got, sent))
        h.expect("event=sink_abandoned sink=stuck" in v.log(), "no sink_abandoned line for the stuck sink")
    finally:
        v.stop()
        srv.close()
        os.close(reader)


h.check("hung_remote_write_isolated", case_hung_remote_write)
h.check("stuck_file_write_isolated", case_stuck_file_write)
h.run()
