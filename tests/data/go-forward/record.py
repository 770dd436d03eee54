#!/usr/bin/env python3
"""Re-records the Go Veneur v14 SendMetricsV2 fixtures in this folder (README.md).

    python3 tests/data/go-forward/record.py /path/to/go/veneur

Needs an already-built Go Veneur v14 `veneur` binary (this script does not build it) and the npm
modules of tests/e2e/node. Starts two recorders (tests/e2e/node/grpc_raw.js record) and two Go
locals on 127.0.0.1, each local forwarding to its own recorder; sends each local the statsd lines
of LINES_A / LINES_B over UDP about 2 s after start, well inside the first 10 s interval; takes
each local's first SendMetricsV2 call (its first flush) after checking that it holds one message
per forwarded series (WANT_SERIES: a call with fewer means the lines straddled a flush, so run the
script again); and writes local-a.bin, local-b.bin, lines-a.txt, lines-b.txt and
go-local-{a,b}.yaml here. (Go Veneur v14's main never calls Server.Shutdown, so
flush_on_shutdown cannot be used to get a single flush on SIGTERM.)
Nothing here is run by the tests: they replay the committed .bin files.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "..", "..", "e2e", "node")


def multi(name, values, suffix, per_line=50):
    return ["%s:%s|%s" % (name, ":".join(str(v) for v in values[i:i + per_line]), suffix)
            for i in range(0, len(values), per_line)]


# Every metric type and scope a Go local forwards (histograms, timers, distributions and sets of
# any scope; counters and gauges only with veneurglobalonly), plus lines it must keep local.
LINES_A = (multi("go.hist", list(range(1, 501)), "h|#env:fixture")
           + multi("go.hist", [1, 2, 3, 4], "h|#az:b,env:fixture")
           + ["go.timer:10:20|ms|#env:fixture,unit:ms"]
           + multi("go.dist", list(range(1, 101)), "d|#env:fixture")
           + multi("go.ghist", list(range(1, 11)), "h|#veneurglobalonly,env:fixture")
           + ["go.set:a%d|s|#env:fixture" % i for i in range(0, 100)]
           + ["go.gc:1|c|#veneurglobalonly,env:fixture"] * 5
           + ["go.gcr:1|c|@0.5|#veneurglobalonly"] * 4
           + ["go.ga:-7.5|g|#veneurglobalonly,env:fixture"]
           + ["go.local:1|c", "go.localgauge:3|g", "go.lonly:5|h|#veneurlocalonly"])
LINES_B = (multi("go.hist", list(range(501, 1001)), "h|#env:fixture")
           + multi("go.hist", [5, 6, 7, 8], "h|#az:b,env:fixture")
           + ["go.timer:30:40|ms|#env:fixture,unit:ms"]
           + multi("go.dist", list(range(101, 201)), "d|#env:fixture")
           + multi("go.ghist", list(range(11, 21)), "h|#veneurglobalonly,env:fixture")
           + ["go.set:a%d|s|#env:fixture" % i for i in range(50, 150)]
           + ["go.gc:1|c|#veneurglobalonly,env:fixture"] * 7
           + ["go.gg:3.25|g|#veneurglobalonly"]
           + ["go.local:1|c", "go.localgauge:4|g", "go.lonly:6|h|#veneurlocalonly"])

# Series a Go local forwards: everything but the mixed counter/gauge and the veneurlocalonly line.
WANT_SERIES = {"a": 9, "b": 8}

CONFIG = """statsd_listen_addresses:
  - "udp://127.0.0.1:{udp}"
http_address: "127.0.0.1:{http}"
grpc_address: ""
forward_address: "127.0.0.1:{fwd}"
interval: "10s"
hostname: "{host}"
percentiles: [0.5, 0.9, 0.99]
aggregates: ["min", "max", "count"]
num_workers: 2
num_readers: 1
read_buffer_size_bytes: 4194304
stats_address: "127.0.0.1:{stats}"
"""


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_line(proc, prefix, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line.split()
        if not line and proc.poll() is not None:
            break
    raise SystemExit("no %r line from %r" % (prefix, proc.args))


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    go = sys.argv[1]
    work = tempfile.mkdtemp(prefix="go-forward-rec-")
    procs = []
    try:
        sides = {}
        for side, lines in (("a", LINES_A), ("b", LINES_B)):
            rec = subprocess.Popen(["node", "grpc_raw.js", "record", os.path.join(work, side)], cwd=NODE_DIR,
                                   stdout=subprocess.PIPE, text=True)
            procs.append(rec)
            fwd = int(wait_line(rec, "PORT ", 10)[1])
            udp = free_port(socket.SOCK_DGRAM)
            cfg = CONFIG.format(udp=udp, http=free_port(socket.SOCK_STREAM), fwd=fwd, host="go-local-" + side,
                                stats=free_port(socket.SOCK_DGRAM))
            path = os.path.join(work, "go-local-%s.yaml" % side)
            with open(path, "w") as f:
                f.write(cfg)
            log = open(os.path.join(work, "go-local-%s.log" % side), "w")
            local = subprocess.Popen([go, "-f", path], stdout=log, stderr=subprocess.STDOUT)
            procs.append(local)
            sides[side] = (rec, local, udp, lines, cfg)
        time.sleep(2)  # one-off tool: Go Veneur has no readiness endpoint we can poll for UDP
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for side, (rec, local, udp, lines, cfg) in sides.items():
            for line in lines:
                s.sendto(line.encode(), ("127.0.0.1", udp))
        for side, (rec, local, udp, lines, cfg) in sides.items():
            call = wait_line(rec, "CALL ", 30)
            if call[1] != "1" or int(call[2]) != WANT_SERIES[side]:
                raise SystemExit("local %s: first call %r, want %d messages; run again" % (side, call, WANT_SERIES[side]))
            os.replace(os.path.join(work, side + "-1.bin"), os.path.join(HERE, "local-%s.bin" % side))
            with open(os.path.join(HERE, "lines-%s.txt" % side), "w") as f:
                f.write("\n".join(lines) + "\n")
            with open(os.path.join(HERE, "go-local-%s.yaml" % side), "w") as f:
                f.write(cfg)
            print("local-%s.bin: %s messages, %s bytes" % (side, call[2], call[3]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM if p.args[0] == "node" else signal.SIGKILL)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
