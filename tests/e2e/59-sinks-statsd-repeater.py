"""The "prometheus" sink (Go's statsd repeater to a statsd_exporter) over UDP and TCP (issue 19).

Two sinks, one per network_type, point at receivers in this test; every line that arrives is
parsed strictly as Go's template writes it ("name:value|c|#tags\\n", "g" for gauges and status
checks, values as Go's %v prints a float64) and the values are checked: counter sums, a gauge of
1e6 printed "1e+06", a status check as a gauge, untagged lines ending in "|#". A third case stops
the TCP receiver: the sink counts the failure and the UDP sink keeps delivering.
"""
import os
import re
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, check, expect, run, wait_for  # noqa: E402

LINE = re.compile(r"^([^:|#\n]+):([^|]+)\|([cg])\|#([^\n]*)$")


class Receiver:
    """Collects statsd lines from a UDP socket or a TCP listener (each accepted connection read to EOF)."""

    def __init__(self, tcp):
        self.tcp = tcp
        self.lines, self.bad, self.datagrams, self.conns = [], [], 0, 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        if tcp:
            self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stopped = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def take(self, data):
        text = data.decode("utf-8")
        with self.lock:
            if not text.endswith("\n"):
                self.bad.append(text)
                return
            for ln in text[:-1].split("\n"):
                m = LINE.match(ln)
                if not m:
                    self.bad.append(ln)
                    continue
                tags = m.group(4).split(",") if m.group(4) else []
                self.lines.append((m.group(1), m.group(2), m.group(3), tags))

    def loop(self):
        while not self.stopped:
            try:
                if self.tcp:
                    c, _ = self.sock.accept()
                    with self.lock:
                        self.conns += 1
                    c.settimeout(5)
                    buf = b""
                    while True:
                        d = c.recv(65536)
                        if not d:
                            break
                        buf += d
                    c.close()
                    if buf:
                        self.take(buf)
                else:
                    d = self.sock.recv(65536)
                    with self.lock:
                        self.datagrams += 1
                    self.take(d)
            except socket.timeout:
                continue
            except OSError:
                return

    def stop(self):
        self.stopped = True
        self.t.join(timeout=2)
        self.sock.close()

    def find(self, name):
        with self.lock:
            return [x for x in self.lines if x[0] == name]


def start(udp, tcp_port):
    import tempfile
    out = os.path.join(tempfile.mkdtemp(prefix="vn-e2e-rep-"), "out.jsonl")
    v = Veneur(sinks(udp, tcp_port, out), jsonl=False)
    v.out = out  # Veneur.records() reads this localfile sink
    return v


def sinks(udp, tcp_port, out):
    return """metric_sinks:
  - kind: localfile
    name: file
    config: {flush_file: "%s", format: jsonl}
  - kind: prometheus
    name: prom_udp
    config: {repeater_address: "127.0.0.1:%d", network_type: udp}
  - kind: prometheus
    name: prom_tcp
    config: {repeater_address: "localhost:%d", network_type: tcp}
""" % (out, udp.port, tcp_port)


def test_lines_and_values(udp, tcp):
    v = start(udp, tcp.port)
    try:
        v.send_udp("rep.count:2|c|#env:x,role:db\nrep.count:3|c|#env:x,role:db\nrep.gauge:1000000|g\n"
                   "rep.small:0.00001|g|#a\nrep.frac:2.5|g|#b:c\n")
        v.send_udp("_sc|rep.check|2|#env:x|m:boom")
        names = ["rep.count", "rep.gauge", "rep.small", "rep.frac", "rep.check"]
        for r in (udp, tcp):
            wait_for(lambda: all(r.find(n) for n in names), timeout=10,
                     what="all lines over %s" % ("tcp" if r.tcp else "udp"))
            expect(not r.bad, "malformed lines: %r" % r.bad[:3])
            expect(r.find("rep.count") == [("rep.count", "5", "c", ["env:x", "role:db"])], "count %r" % r.find("rep.count"))
            expect(r.find("rep.gauge") == [("rep.gauge", "1e+06", "g", [])], "gauge %r" % r.find("rep.gauge"))
            expect(r.find("rep.small") == [("rep.small", "1e-05", "g", ["a"])], "small %r" % r.find("rep.small"))
            expect(r.find("rep.frac") == [("rep.frac", "2.5", "g", ["b:c"])], "frac %r" % r.find("rep.frac"))
            expect(r.find("rep.check") == [("rep.check", "2", "g", ["env:x"])], "check %r" % r.find("rep.check"))
        recs = v.wait_records(lambda rs: any(r["name"] == "rep.count" for r in rs))
        expect(sum(r["value"] for r in recs if r["name"] == "rep.count") == 5, "localfile agrees")

        # 450 metrics in one flush: batches of 200 per datagram, all of them arrive once
        d0 = udp.datagrams
        for lo in range(0, 450, 50):
            v.send_udp("".join("rep.many.%d:%d|c\n" % (i, i) for i in range(lo, lo + 50)))
        wait_for(lambda: all(udp.find("rep.many.%d" % i) for i in range(450)), timeout=10, what="450 lines")
        for i in (0, 199, 200, 449):
            expect(udp.find("rep.many.%d" % i) == [("rep.many.%d" % i, str(i), "c", [])], "many %d" % i)
        expect(udp.datagrams - d0 >= 3, "at least 3 datagrams for 450 metrics (%d)" % (udp.datagrams - d0))
    finally:
        v.stop()
    expect("event=sink_started sink=prom_tcp kind=prometheus network=tcp" in v.log(), "tcp sink started")


def test_tcp_down(udp):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there
    v = start(udp, port)
    try:
        v.send_udp("rep.down:7|c\n")
        wait_for(lambda: udp.find("rep.down"), timeout=10, what="udp delivery while tcp is down")
        expect(udp.find("rep.down") == [("rep.down", "7", "c", [])], "udp value %r" % udp.find("rep.down"))
        wait_for(lambda: "event=prometheus_repeater_dial_failed sink=prom_tcp" in v.log(), timeout=10,
                 what="dial failure logged")
        _, body = v.http("/metrics")
        line = [ln for ln in body.splitlines() if ln.startswith("veneur_sink_transport_errors_total")
                and 'sink_name="prom_tcp"' in ln]
        expect(line and float(line[0].rsplit(" ", 1)[1]) >= 1, "tcp transport errors counted: %r" % line)
    finally:
        v.stop()


def test_bad_config():
    import subprocess
    import tempfile
    from harness import VENEUR, sanitizer_env
    for cfg, want in (("{repeater_address: \"127.0.0.1:9125\", network_type: ip4}", "network_type"),
                      ("{repeater_address: \"http://127.0.0.1:9125\", network_type: udp}", "repeater_address")):
        d = tempfile.mkdtemp(prefix="vn-e2e-rep-")
        path = os.path.join(d, "v.yaml")
        with open(path, "w") as f:
            f.write('statsd_listen_addresses: ["udp://127.0.0.1:0"]\nmetric_sinks:\n'
                    '  - kind: prometheus\n    name: p\n    config: %s\n' % cfg)
        p = subprocess.run([VENEUR, "-f", path], capture_output=True, text=True, timeout=20, env=sanitizer_env())
        expect(p.returncode != 0 and want in p.stderr, "bad %s refused: rc=%d %s" % (want, p.returncode,
                                                                                   p.stderr[-400:]))


def main():
    udp, tcp = Receiver(False), Receiver(True)
    try:
        check("statsd_repeater_udp_tcp_lines_values", lambda: test_lines_and_values(udp, tcp))
        check("statsd_repeater_tcp_down_counted", lambda: test_tcp_down(udp))
        check("statsd_repeater_bad_config_refused", test_bad_config)
    finally:
        udp.stop()
        tcp.stop()
    run()


if __name__ == "__main__":
    main()
