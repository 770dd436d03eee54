"""bench_servers.py - one running instance of a server under test (ours, Go Veneur, statsite,
brubeck, udpsink): its config, its sink or collector, the reader of what it flushed.
"""
import json
import os
import signal
import sys
import time
import urllib.request

from bench_util import (JsonlReader, NullReader, StateReader, StatsiteReader, free_port, spawn,
                        stop, udp_bound, wait_tcp)

SERVERS = [
    # key, label, kind
    ("udpsink", "udpsink (no parsing)", "udpsink"),
    ("ours", "veneur-c (num_workers 2)", "ours"),
    ("ours_w1", "veneur-c (num_workers 1)", "ours"),
    ("ours_ssf", "veneur-c SSF spans (udp)", "ours_ssf"),
    ("goveneur", "Go Veneur v14", "goveneur"),
    ("statsite", "statsite", "statsite"),
    ("brubeck", "brubeck", "brubeck"),
]


class Server:
    """One running instance of a server under test, its sink and its reader."""

    def __init__(self, h, key, workers=2, interval=1):
        self.h, self.key, self.workers, self.interval = h, key, workers, int(interval)
        self.proc = None
        self.aux = []
        self.port = free_port()
        self.http_port = None
        self.reader = NullReader()
        self.scratch = []   # flush output files, deleted at stop (see stop)
        self.dir = os.path.join(h.work, "%s-%d" % (key, int(time.time() * 1000) % 10**7))
        os.makedirs(self.dir, exist_ok=True)
        self.logpath = os.path.join(self.dir, "server.log")

    # -- per-server start-up
    def start(self):
        getattr(self, "_start_" + self.h.kind_of(self.key))()

    def _start_ours(self):
        out = os.path.join(self.dir, "flush.jsonl")
        self.http_port = free_port()
        cfg = os.path.join(self.dir, "veneur.yaml")
        with open(cfg, "w") as f:
            f.write(
                "statsd_listen_addresses:\n  - udp://127.0.0.1:%d\n"
                "http_address: \"127.0.0.1:%d\"\n"
                "stats_address: \"127.0.0.1:%d\"\n"
                "interval: %ds\nhostname: bench\n"
                "read_buffer_size_bytes: 4194304\nnum_readers: 1\nnum_workers: %d\n"
                # the memory trials hold 1 M series: the default 128 MiB budget refuses ~5 % of them
                "max_series_bytes_per_interval: 536870912\n"
                "metric_sinks:\n  - kind: localfile\n    name: file\n"
                "    config: {flush_file: \"%s\", format: jsonl}\n"
                % (self.port, self.http_port, self.h.dead_port, self.interval, self.workers, out))
        self.reader = JsonlReader(out)
        self.scratch.append(out)
        self.proc = spawn([self.h.bins["ours"], "-f", cfg], self.logpath)

    def _start_collector(self, kind):
        """Starts bench_collector.py KIND on a free port; its state file becomes the reader.
        Returns the port (the caller waits on it once the server's config is written)."""
        cport = free_port()
        state = os.path.join(self.dir, "collector.json")
        self.aux.append(spawn([sys.executable, self.h.collector, kind, "--port", str(cport),
                               "--state", state], os.path.join(self.dir, "collector.log")))
        self.reader = StateReader(state)
        return cport

    def _start_goveneur(self):
        cport = self._start_collector("datadog")
        self.http_port = free_port()
        cfg = os.path.join(self.dir, "veneur.yaml")
        with open(cfg, "w") as f:
            f.write(
                "statsd_listen_addresses:\n  - udp://127.0.0.1:%d\n"
                "http_address: \"127.0.0.1:%d\"\n"
                "grpc_address: \"\"\n"
                "stats_address: \"127.0.0.1:%d\"\n"
                "interval: %ds\nhostname: bench\n"
                "read_buffer_size_bytes: 4194304\nnum_readers: 1\nnum_workers: %d\n"
                "metric_sinks:\n  - kind: datadog\n    name: dd\n"
                "    config:\n      api_key: bench\n      api_hostname: \"http://127.0.0.1:%d\"\n"
                "      flush_max_per_body: 25000\n"
                % (self.port, self.http_port, self.h.dead_port, self.interval, self.workers, cport))
        wait_tcp(cport, 5)
        self.proc = spawn([self.h.bins["goveneur"], "-f", cfg], self.logpath)

    def _start_statsite(self):
        out = os.path.join(self.dir, "flush.txt")
        cfg = os.path.join(self.dir, "statsite.ini")
        with open(cfg, "w") as f:
            f.write("[statsite]\nport = 0\nudp_port = %d\nbind_address = 127.0.0.1\n"
                    "udp_rcvbuf = 4194304\nflush_interval = %d\nlog_level = WARN\n"
                    "stream_cmd = cat >> %s\n" % (self.port, self.interval, out))
        self.reader = StatsiteReader(out)
        self.scratch.append(out)
        self.proc = spawn([self.h.bins["statsite"], "-f", cfg], self.logpath)

    def _start_brubeck(self):
        cport = self._start_collector("carbon")
        cfg = os.path.join(self.dir, "brubeck.json")
        with open(cfg, "w") as f:
            json.dump({"server_name": "bench", "dumpfile": os.path.join(self.dir, "brubeck.dump"),
                       "capacity": 15, "expire": 0,
                       "backends": [{"type": "carbon", "address": "127.0.0.1", "port": cport,
                                     "frequency": self.interval}],
                       "samplers": [{"type": "statsd", "address": "127.0.0.1", "port": self.port,
                                     "workers": 1, "multisock": False, "multimsg": 8}]}, f)
        wait_tcp(cport, 5)
        self.proc = spawn([self.h.bins["brubeck"], "--config", cfg], self.logpath)

    def _start_udpsink(self):
        self.proc = spawn([self.h.bins["udpsink"], "-H", "127.0.0.1", "-p", str(self.port),
                           "-i", "0", "-r", "4194304"], self.logpath)

    # -- life cycle
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        stop(self.proc)
        for a in self.aux:
            stop(a)
        self.proc, self.aux = None, []
        # Every figure is read before stop. A kept file keeps its page cache, and on a VM whose freed
        # pages go back to the host (free page reporting) the next server's writes then fault in fresh
        # host pages (measured: the mix trial's ~200 MB write took ~360 ms of kernel copy with the earlier
        # trials' files kept, ~20 ms with them deleted).
        for path in self.scratch:
            try:
                os.unlink(path)
            except OSError:
                pass
        self.scratch = []

    def exit_desc(self):
        rc = self.proc.poll() if self.proc else None
        if rc is None:
            return "running"
        if rc < 0:
            try:
                return "killed by %s" % signal.Signals(-rc).name
            except ValueError:
                return "killed by signal %d" % -rc
        return "exit status %d" % rc

    def log_tail(self, n=8):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:]).strip()
        except OSError:
            return ""

    def wait_ready(self):
        """Port bound, then a small stream must show up in the flush output (except udpsink)."""
        t_end = time.time() + 15
        while time.time() < t_end and self.alive() and not udp_bound(self.port):
            time.sleep(0.05)
        if not self.alive():
            return "exited at start-up (%s): %s" % (self.exit_desc(), self.log_tail())
        if not udp_bound(self.port):
            return "UDP port never bound"
        time.sleep(0.3)
        if self.reader.totals() is None:
            return None
        for attempt in range(2):
            before = self.reader.totals()
            lg = self.h.loadgen(self.port, ["-l", "20", "-m", "c=1", "-N", "1", "-n", "200",
                                            "-r", "20000"])
            t_end = time.time() + self.interval + 5
            while time.time() < t_end and self.alive():
                now = self.reader.totals()
                if now[0] - before[0] >= lg["counter_sum"] > 0:
                    return None
                time.sleep(0.1)
        if not self.alive():
            return "exited (%s): %s" % (self.exit_desc(), self.log_tail())
        return "no counters flushed within %d s of a test stream: %s" % (
            self.interval + 5, self.log_tail(4))

    def metrics_text(self):
        if not self.http_port:
            return None
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port,
                                        timeout=2) as r:
                return r.read().decode("utf-8", "replace")
        except Exception:
            return None
