#!/usr/bin/env python3
"""SIGTERM does not lose the final flush of a slow but healthy sink (issues 14/15 follow-up).

  slow_sink_final_flush  a cortex (remote-write) sink, one series per request, whose endpoint
                         answers the first request after 6 s: after SIGTERM with the default
                         10 s interval both requests of the final flush arrive with their values,
                         the process exits 0 without abandoning the sink (before: each sink got
                         min(interval, 5 s) at stop, so the second request was never sent)
  hung_sink_bounded      the same endpoint never answering: exit still comes before the
                         process watchdog (25 s), with the sink's wait bounded by its deadline

Binaries from harness (VENEUR_BUILD_DIR honoured).
"""
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SLOW_S = 6.0


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def unsnappy(b):
    """Snappy block format (what remote-write uses)."""
    n, i = varint(b, 0)
    out = bytearray()
    while i < len(b):
        tag = b[i]
        i += 1
        kind = tag & 3
        if kind == 0:
            ln = tag >> 2
            if ln >= 60:
                nb = ln - 59
                ln = int.from_bytes(b[i:i + nb], "little")
                i += nb
            ln += 1
            out += b[i:i + ln]
            i += ln
            continue
        if kind == 1:
            ln, off = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | b[i]
            i += 1
        elif kind == 2:
            ln, off = (tag >> 2) + 1, int.from_bytes(b[i:i + 2], "little")
            i += 2
        else:
            ln, off = (tag >> 2) + 1, int.from_bytes(b[i:i + 4], "little")
            i += 4
        for _ in range(ln):
            out.append(out[-off])
    h.expect(len(out) == n, "snappy length %d != %d" % (len(out), n))
    return bytes(out)


def pb_fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 2:
            ln, i = varint(b, i)
            v, i = b[i:i + ln], i + ln
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield f, v


def write_request(body):
    """prometheus.WriteRequest -> [(name, [values])]."""
    import struct
    out = []
    for f, ts in pb_fields(unsnappy(body)):
        if f != 1:
            continue
        name, vals = None, []
        for tf, tv in pb_fields(ts):
            if tf == 1:
                lab = dict(pb_fields(tv))
                if lab.get(1) == b"__name__":
                    name = lab.get(2, b"").decode()
            elif tf == 2:
                smp = dict(pb_fields(tv))
                vals.append(struct.unpack("<d", smp[1])[0] if 1 in smp else 0.0)
        out.append((name, vals))
    return out


class SlowWriteServer:
    """Answers remote-write POSTs; the first after `first_delay` seconds (None: never)."""

    def __init__(self, first_delay):
        self.series, self.requests, self.answered = [], 0, 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.requests += 1
                    first = outer.requests == 1
                    outer.series += write_request(body)
                if first:
                    if first_delay is None:
                        time.sleep(60)
                        return
                    time.sleep(first_delay)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with outer.lock:
                    outer.answered += 1

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def launch(port):
    extra = """  - kind: cortex
    name: prom
    config: {url: "http://127.0.0.1:%d/api/v1/write", batch_write_size: 1}
""" % port
    return h.Veneur(interval="10s", extra_yaml=extra)


def send_and_term(v):
    v.send_udp("slow.a:3|c\nslow.b:4|c")
    h.wait_for(lambda: v.metric("veneur_samples_processed_total") >= 2, what="2 samples applied")
    t0 = time.monotonic()
    v.proc.send_signal(signal.SIGTERM)
    try:
        v.proc.wait(timeout=30)
    except Exception:
        return None
    return time.monotonic() - t0


def case_slow_sink_final_flush():
    srv = SlowWriteServer(SLOW_S)
    v = launch(srv.port)
    try:
        took = send_and_term(v)
        log = v.log()
        with srv.lock:
            got = {n: vals for n, vals in srv.series}
            reqs, answered = srv.requests, srv.answered
        print("  slow sink: SIGTERM->exit %s s, %d requests, %d answered, series %s"
              % ("%.1f" % took if took is not None else "> 30", reqs, answered, sorted(got.items())), flush=True)
        h.expect(took is not None and SLOW_S - 0.5 <= took < 20, "SIGTERM->exit %s s" % took)
        h.expect(v.proc.returncode == 0, "exit code %s" % v.proc.returncode)
        h.expect("event=sink_abandoned" not in log, "the slow sink was abandoned")
        h.expect(reqs == 2 and answered == 2, "%d requests, %d answered, want 2 and 2" % (reqs, answered))
        h.expect(got.get("slow_a") == [3.0] and got.get("slow_b") == [4.0], "values: %r" % got)
        h.expect(h.total(v.records(), "slow.a") == 3 and h.total(v.records(), "slow.b") == 4,
                 "the jsonl sink's final flush")
    finally:
        v.stop()
        srv.close()


def case_hung_sink_bounded():
    srv = SlowWriteServer(None)
    v = launch(srv.port)
    try:
        took = send_and_term(v)
        print("  hung sink: SIGTERM->exit %s s" % ("%.1f" % took if took is not None else "> 30"), flush=True)
        # The sink's call gives up at its deadline (interval start + 10 s), well before the
        # watchdog (25 s); the watchdog would exit 1.
        h.expect(took is not None and took < 15, "SIGTERM->exit %s s" % took)
        h.expect(v.proc.returncode == 0, "exit code %s" % v.proc.returncode)
        h.expect(h.total(v.records(), "slow.a") == 3, "the healthy sink's final flush")
    finally:
        v.stop()
        srv.close()


h.check("25b-shutdown-slow-sink/slow_sink_final_flush", case_slow_sink_final_flush)
h.check("25b-shutdown-slow-sink/hung_sink_bounded", case_hung_sink_bounded)
h.run()
