"""Hostile clients at the gRPC import (a global's grpc_address) and the HTTP server (issues 14, 15).

gRPC cases speak raw HTTP/2 over a socket (frames built here, HPACK literals
without Huffman), so every byte and every cut is ours to choose:
  - byte-at-a-time delivery, one gRPC byte per DATA frame: values arrive;
  - junk (no preface, bad frames, bad HPACK) does not disturb a legit client;
  - a message over 4 MiB (announced, and actually sent) ends that call only;
  - starvation (issue 15): 64 streams each sending a 4 MiB prefix and one
    byte, while a real local forwards N histograms: how many arrive, with
    their values;
  - 4096 idle connections (from 40 source addresses): time until a new
    client is served; silent sockets are closed at the handshake deadline;
  - fd exhaustion (RLIMIT_NOFILE lowered with preexec_fn): CPU over 2 s
    stays low and /healthz answers.
HTTP: 1000 half-sent requests from the probes' own address (127.0.0.1) and
from another; /healthz and /readyz must keep answering (latencies printed).
Binaries come from harness.VENEUR (or VENEUR_BUILD_DIR when the harness does
not know it). Prints MEASURE lines for the report.
"""
import os
import resource
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, by_name, check, expect, free_port, run, wait_for  # noqa: E402

BIN = harness.VENEUR
if os.environ.get("VENEUR_BUILD_DIR") and not hasattr(harness, "BUILD_DIR"):
    BIN = os.path.join(harness.ROOT, os.environ["VENEUR_BUILD_DIR"], "veneur")
PCT = "percentiles: [0.5]\n"
V2 = b"/forwardrpc.Forward/SendMetricsV2"

# ---- raw HTTP/2 + gRPC ----------------------------------------------------------------------
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def hp_int(v, bits, first=0):
    lim = (1 << bits) - 1
    if v < lim:
        return bytes([first | v])
    out = [first | lim]
    v -= lim
    while v >= 128:
        out.append(v % 128 + 128)
        v //= 128
    return bytes(out + [v])


def hp_lit(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    return b"\x00" + hp_int(len(name), 7) + name + hp_int(len(value), 7) + value


def req_headers(sid, path=V2):
    block = b"".join(hp_lit(n, v) for n, v in ((b":method", b"POST"), (b":scheme", b"http"), (b":path", path),
                                                (b":authority", b"e2e"), (b"content-type", b"application/grpc"),
                                                (b"te", b"trailers")))
    return frame(HEADERS, END_HEADERS, sid, block)


def varint(v):
    out = b""
    while v >= 128:
        out += bytes([v & 127 | 128])
        v >>= 7
    return out + bytes([v])


def pb_counter(name, value, tags=()):
    """metricpb.Metric: name(1), tags(2), counter(5){value(1)}, scope(9)=Global."""
    b = b"\x0a" + varint(len(name)) + name.encode()
    for t in tags:
        b += b"\x12" + varint(len(t)) + t.encode()
    inner = b"\x08" + varint(value)
    return b + b"\x2a" + varint(len(inner)) + inner + b"\x48\x02"


def grpc_msg(body):
    return b"\x00" + struct.pack(">I", len(body)) + body


def connect(port, src="127.0.0.1", timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if src != "127.0.0.1":
        s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


class H2:
    """A raw client connection; read_until collects frames per stream."""

    def __init__(self, port, src="127.0.0.1", timeout=5.0):
        self.s = connect(port, src, timeout)
        self.buf = b""
        self.done = {}  # sid -> "ok" | "error" | "reset"
        self.data = {}
        self.goaway = False
        self.closed = False

    def handshake(self):
        self.s.sendall(PREFACE + frame(SETTINGS, 0, 0))

    def send(self, b):
        self.s.sendall(b)

    def _frames(self):
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                return
            ft, fl, sid = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            pl = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            if ft == SETTINGS and not fl & ACK:
                self.s.sendall(frame(SETTINGS, ACK, 0))
            elif ft == PING and not fl & ACK:
                self.s.sendall(frame(PING, ACK, 0, pl))
            elif ft == DATA:
                self.data[sid] = self.data.get(sid, 0) + len(pl)
                if fl & END_STREAM:
                    self.done[sid] = "ok" if self.data.get(sid) else "error"
            elif ft == HEADERS and fl & END_STREAM:
                # OK = headers, DATA (the Empty message), trailers; Trailers-Only = an error
                self.done.setdefault(sid, "ok" if self.data.get(sid) else "error")
            elif ft == RST:
                self.done.setdefault(sid, "reset")
            elif ft == GOAWAY:
                self.goaway = True

    def read_until(self, cond, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("h2 read timed out; done=%r" % self.done)
            self.s.settimeout(left)
            try:
                b = self.s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                b = b""
            if not b:
                self.closed = True
                return cond()
            self.buf += b
            self._frames()
        return True

    def close(self):
        self.s.close()


def call_v2(port, sid, metrics, src="127.0.0.1", timeout=10.0):
    """One SendMetricsV2 call on a new connection; returns its outcome."""
    c = H2(port, src)
    try:
        c.handshake()
        c.send(req_headers(sid) + frame(DATA, END_STREAM, sid, b"".join(grpc_msg(m) for m in metrics)))
        c.read_until(lambda: sid in c.done, timeout)
        return c.done.get(sid)
    finally:
        c.close()


def global_veneur(extra="", interval="60s", **kw):
    gport = free_port(socket.SOCK_STREAM)
    g = Veneur(PCT + 'grpc_address: "127.0.0.1:%d"\n' % gport + extra, interval=interval, binary=BIN, **kw)
    g.grpc_port = gport
    return g


def stop_and_records(g):
    expect(g.stop() == 0, "global exit 0")
    return g.records()


def value_of(recs, name):
    rs = by_name(recs, name)
    return sum(r["value"] for r in rs) if rs else None


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- gRPC cases ------------------------------------------------------------------------------

def test_byte_at_a_time_and_junk():
    g = global_veneur()
    try:
        # Junk first: no preface, then a preface followed by bad frames, then bad HPACK.
        junk = [b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 64, PREFACE + b"\xff" * 200,
                PREFACE + frame(SETTINGS, 0, 0) + frame(DATA, 0, 0, b"zz"),
                PREFACE + frame(SETTINGS, 0, 0) + frame(0xFA, 0, 1, b"unknown type") + frame(HEADERS, END_HEADERS, 1, b"\xff\xff\xff\xff"),
                PREFACE + frame(SETTINGS, 0, 0) + b"\xff\xff\xff" + bytes([HEADERS, 4]) + b"\x00\x00\x00\x01",
                PREFACE + frame(SETTINGS, 0, 0) + req_headers(1) + frame(DATA, END_STREAM, 1, b"\x02\x00\x00\x00\x01x"),
                PREFACE + frame(SETTINGS, 0, 0) + req_headers(1) + frame(DATA, END_STREAM, 1, b"\x00\x00\x00\x00\x03\x0a\x01")]
        for j in junk:
            c = connect(g.grpc_port)
            c.sendall(j)
            c.close()
        # Byte at a time, each gRPC byte in its own DATA frame, each TCP segment one byte.
        msgs = [pb_counter("e2e.bat", 7, ["k:v"]) for _ in range(6)]
        payload = b"".join(grpc_msg(m) for m in msgs)
        wire = PREFACE + frame(SETTINGS, 0, 0) + req_headers(1)
        wire += b"".join(frame(DATA, 0, 1, payload[i:i + 1]) for i in range(len(payload)))
        wire += frame(DATA, END_STREAM, 1)
        c = H2(g.grpc_port)
        for i in range(len(wire)):
            c.send(wire[i:i + 1])
        c.read_until(lambda: 1 in c.done)
        expect(c.done[1] == "ok", "byte-at-a-time call answered OK: %r" % c.done)
        c.close()
        expect(call_v2(g.grpc_port, 1, [pb_counter("e2e.after.junk", 5)]) == "ok", "legit call after junk")
        recs = stop_and_records(g)
    finally:
        g.stop()
    expect(value_of(recs, "e2e.bat") == 42, "6 x 7 byte-at-a-time: %r" % by_name(recs, "e2e.bat"))
    expect(value_of(recs, "e2e.after.junk") == 5, "legit counter after junk: %r" % by_name(recs, "e2e.after.junk"))


def test_oversize_message():
    g = global_veneur()
    try:
        c = H2(g.grpc_port)
        c.handshake()
        # Announced over 4 MiB: refused at the prefix.
        c.send(req_headers(1) + frame(DATA, 0, 1, b"\x00" + struct.pack(">I", (4 << 20) + 1)))
        c.read_until(lambda: 1 in c.done)
        expect(c.done[1] != "ok", "over-4-MiB prefix refused: %r" % c.done)
        # Actually sent: 5 MiB in 16 KiB frames (the window is generous); the call ends with an error.
        big = grpc_msg(b"\x0a" * (5 << 20))
        c.send(req_headers(3))
        sent = 0
        try:
            while sent < len(big) and 3 not in c.done:
                c.send(frame(DATA, 0, 3, big[sent:sent + 16384]))
                sent += 16384
        except (BrokenPipeError, ConnectionResetError):
            pass
        c.read_until(lambda: 3 in c.done or c.closed)
        expect(c.done.get(3) != "ok", "5 MiB message refused: %r" % c.done)
        c.close()
        expect(call_v2(g.grpc_port, 1, [pb_counter("e2e.after.big", 11)]) == "ok", "legit call after oversize")
        recs = stop_and_records(g)
    finally:
        g.stop()
    expect(value_of(recs, "e2e.after.big") == 11, "counter after oversize: %r" % by_name(recs, "e2e.after.big"))


N_HIST = 3000


def test_starvation():
    """Issue 15: 64 streams hold a 4 MiB prefix + 1 byte each while a real local forwards N histograms."""
    g = global_veneur()
    hostile = []
    try:
        for _ in range(2):  # max_streams is 32 per connection
            c = H2(g.grpc_port)
            c.handshake()
            for k in range(32):
                sid = 1 + 2 * k
                c.send(req_headers(sid) + frame(DATA, 0, sid, b"\x00" + struct.pack(">I", 4 << 20) + b"x"))
            hostile.append(c)
        for c in hostile:
            c.read_until(lambda: True, timeout=1)
        loc = Veneur(PCT + 'forward_address: "127.0.0.1:%d"\n' % g.grpc_port, interval="1s", binary=BIN)
        try:
            lines = ["st.h.%d:%d|h" % (i, i) for i in range(N_HIST)]
            for i in range(0, N_HIST, 40):
                loc.send_udp("\n".join(lines[i:i + 40]))
            wait_for(lambda: loc.metric("veneur_lines_received_total") >= N_HIST, what="lines at the local")
            expect(loc.stop() == 0, "local exit 0")  # flushes and forwards what it holds
        finally:
            loc.stop()
        alive = sum(1 for c in hostile if not c.closed)
        recs = stop_and_records(g)
    finally:
        for c in hostile:
            c.close()
        g.stop()
    got = {r["name"]: r["value"] for r in recs if r["name"].startswith("st.h.") and r["name"].endswith(".50percentile")}
    right = sum(1 for i in range(N_HIST) if got.get("st.h.%d.50percentile" % i) == i)
    print("MEASURE starvation: %d of %d legit histograms arrived with their value (%d hostile connections still open)"
          % (right, N_HIST, alive), flush=True)
    expect(right == N_HIST, "every forwarded histogram arrives with its value: %d of %d" % (right, N_HIST))


def test_idle_flood_and_handshake_deadline():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 4096 + 300:
        raise AssertionError("RLIMIT_NOFILE hard limit %d: 4096 connections need ~4400 descriptors" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by veneur
    g = global_veneur(extra="")
    idle, silent = [], []
    try:
        # 50 silent sockets (never a preface) to show the handshake deadline.
        for _ in range(50):
            silent.append(connect(g.grpc_port))
        t0 = time.monotonic()
        for i in range(4096 - 50):
            src = "127.0.1.%d" % (1 + i % 40)
            c = connect(g.grpc_port, src)
            c.sendall(PREFACE + frame(SETTINGS, 0, 0))
            idle.append(c)
        opened = time.monotonic() - t0
        wait_for(lambda: g.metric("veneur_grpc_connections_total") >= 4096, timeout=20, what="4096 connections")
        t1 = time.monotonic()
        try:
            outcome = call_v2(g.grpc_port, 1, [pb_counter("e2e.after.flood", 13)], timeout=10)
        except OSError as e:
            outcome = "refused (%s)" % type(e).__name__
        served = time.monotonic() - t1
        print("MEASURE idle flood: 4096 open (%.1f s to open); new client answered %r in %.1f ms; evicted %d" %
              (opened, outcome, served * 1000, g.metric("veneur_grpc_connections_evicted_total")), flush=True)
        expect(outcome == "ok", "a new client is served with 4096 idle connections open: %r" % outcome)
        # The silent ones are closed at the handshake deadline (10 s from their accept).
        def silent_closed():
            n = 0
            for s in silent:
                s.settimeout(0.001)
                try:
                    if s.recv(1) == b"":
                        n += 1
                except socket.timeout:
                    pass
                except OSError:
                    n += 1
            return n == len(silent)
        wait_for(silent_closed, timeout=15, step=0.2, what="silent connections closed at the handshake deadline")
        expect(g.metric("veneur_grpc_handshake_timeouts_total") >= 1, "handshake timeouts counted")
        recs = stop_and_records(g)
    finally:
        for c in idle + silent:
            c.close()
        g.stop()
    expect(value_of(recs, "e2e.after.flood") == 13, "value after the flood: %r" % by_name(recs, "e2e.after.flood"))


def test_fd_exhaustion():
    limit = 48

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    orig = subprocess.Popen

    def popen(*a, **kw):
        kw["preexec_fn"] = low_nofile
        return orig(*a, **kw)
    subprocess.Popen = popen
    try:
        g = global_veneur()
    finally:
        subprocess.Popen = orig
    conns = []
    try:
        for _ in range(limit + 20):  # past the limit: the rest wait in the backlog
            c = H2(g.grpc_port)
            c.handshake()
            conns.append(c)
        # The first connections get the server's SETTINGS; the last ones wait in the backlog.
        conns[0].read_until(lambda: not conns[0].buf and True, timeout=2)
        try:  # this build logs the pause; an old one spins silently
            wait_for(lambda: "grpc_accept_paused" in g.log(), timeout=3, what="accept pause logged")
        except TimeoutError:
            pass
        c0 = cpu_s(g.proc.pid)
        t0 = time.monotonic()
        time.sleep(2.0)  # a measurement window, not a wait for a condition
        cpu = (cpu_s(g.proc.pid) - c0) / (time.monotonic() - t0)
        t1 = time.monotonic()
        status = None
        for _ in range(3):  # again and again: the spare descriptor must come back each time
            try:
                st, _ = g.http("/healthz")
            except OSError as e:
                st = str(e)
            status = st if status in (None, 200) else status
        hz = (time.monotonic() - t1) / 3
        print("MEASURE fd exhaustion: CPU %.0f%% of a core over 2 s at RLIMIT_NOFILE=%d; /healthz -> %r in %.0f ms"
              % (cpu * 100, limit, status, hz * 1000), flush=True)
        expect(cpu < 0.2, "CPU at the fd limit %.0f%%" % (cpu * 100))
        expect(status == 200, "/healthz at the fd limit: %r" % status)
        for c in conns:
            c.close()
        expect(g.stop() == 0, "clean exit after the fd limit (no sanitizer report)")
    finally:
        for c in conns:
            c.close()
        g.stop()


# ---- HTTP ------------------------------------------------------------------------------------

def probe(port, path, timeout=2.0):
    t = time.monotonic()
    try:
        s = connect(port, timeout=timeout)
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, time.monotonic() - t


def test_http_half_open():
    v = Veneur(binary=BIN)
    held = []
    try:
        results = {}
        for src in ("127.0.0.1", "127.0.0.2"):
            for _ in range(1000):
                try:
                    c = connect(v.http_port, src, timeout=2)
                    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
                    held.append(c)
                except OSError:
                    pass
            lat, fails = [], 0
            for i in range(20):
                ok, dt = probe(v.http_port, b"/healthz" if i % 2 == 0 else b"/readyz")
                fails += not ok
                lat.append(dt)
            results[src] = (fails, max(lat), sorted(lat)[len(lat) // 2])
            print("MEASURE http: 1000 half-sent requests from %s (+%d earlier): %d of 20 probes failed, "
                  "median %.1f ms, max %.1f ms" % (src, len(held) - 1000, fails, results[src][2] * 1000,
                                                   results[src][1] * 1000), flush=True)
        # a request delivered one byte at a time is still served
        s = connect(v.http_port, timeout=5)
        for ch in b"GET /healthz HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n":
            s.sendall(bytes([ch]))
        resp = s.recv(4096)
        s.close()
        expect(resp.startswith(b"HTTP/1.1 200"), "byte-at-a-time request served: %r" % resp[:40])
        for src, (fails, mx, _) in results.items():
            expect(fails == 0, "probes failed with half-open connections from %s: %d" % (src, fails))
        for c in held:
            c.close()
        expect(v.stop() == 0, "clean exit after the flood (no sanitizer report)")
    finally:
        for c in held:
            c.close()
        v.stop()


if __name__ == "__main__":
    only = sys.argv[1:]
    for name, fn in (("grpc_byte_at_a_time_and_junk", test_byte_at_a_time_and_junk),
                     ("grpc_oversize_message", test_oversize_message),
                     ("grpc_starvation", test_starvation),
                     ("grpc_idle_flood_and_handshake_deadline", test_idle_flood_and_handshake_deadline),
                     ("grpc_fd_exhaustion", test_fd_exhaustion),
                     ("http_half_open", test_http_half_open)):
        if not only or name in only:
            check(name, fn)
    run()
