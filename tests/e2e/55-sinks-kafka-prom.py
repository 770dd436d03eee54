"""build/veneur's remote-write ("cortex") and Kafka metric sinks against real peers (issue 8).

Cases:
  remote_write        Debian's real prometheus with --web.enable-remote-write-receiver: veneur
                      flushes counters, gauges, sets and histograms to /api/v1/write (batched);
                      Prometheus's query API shows the series with veneur's labels and values
  prometheus_late     the endpoint is down at first (kind prometheus_remote_write): connection
                      refused is counted, veneur keeps running and keeps writing its localfile
                      sink; once Prometheus starts on that port, later flushes arrive
  kafka_unreachable   a kafka sink whose broker refuses connections: veneur starts, keeps
                      flushing its localfile sink, counts the broker errors and failed
                      deliveries, and still shuts down promptly (the Kafka round trip itself is
                      covered by tests/unit/sinks/test_kafka.c against librdkafka's mock cluster)
  config_errors       a kafka sink without metric_topic / a cortex sink without url: exit 2,
                      the message names the key
Every wait has a deadline; every process is stopped in a finally block.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import VENEUR, Veneur, by_name, check, expect, free_port, run, wait_for  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
NAME = "55-sinks-kafka-prom/"


class Prometheus:
    """Debian's prometheus on 127.0.0.1:port with the remote-write receiver; stop() is bounded."""

    def __init__(self, port, workdir):
        self.port = port
        cfg = os.path.join(workdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 15s\n")  # no scrape targets: only remote write
        self.log_path = os.path.join(workdir, "prometheus-%d.log" % port)
        self._log = open(self.log_path, "w")
        self.p = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(workdir, "data"),
             "--web.listen-address=127.0.0.1:%d" % port, "--web.enable-remote-write-receiver"],
            stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=60, step=0.1, what="prometheus /-/ready")

    def log(self):
        self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def _ready(self):
        if self.p.poll() is not None:
            raise RuntimeError("prometheus exited %s: %s" % (self.p.returncode, self.log()[-1500:]))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, q):
        """Instant query; {frozenset(labels.items()): float value}."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port, urllib.parse.urlencode({"query": q}))
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.loads(r.read().decode())
        expect(body.get("status") == "success", "query %s: %r" % (q, body))
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in body["data"]["result"]}

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._log.close()


def sink_counter(v, family, sink):
    """Value of family{sink_name="sink",...} on veneur's /metrics, or 0."""
    _, body = v.http("/metrics")
    for line in body.splitlines():
        if line.startswith(family + "{") and 'sink_name="%s"' % sink in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def series(prom, name):
    """The single series of name as (labels dict, value), or None."""
    got = prom.query(name)
    if len(got) != 1:
        return None
    labels, value = next(iter(got.items()))
    return dict(labels), value


def needs_prometheus(name, fn):
    if not os.access(PROMETHEUS, os.X_OK):
        print("FAIL %s%s: prometheus not installed (%s missing; run make deps)" % (NAME, name, PROMETHEUS),
              flush=True)
        harness._results.append(False)
        return
    check(NAME + name, fn)


def cortex_yaml(kind, port, extra=""):
    return ("  - kind: %s\n    name: prom\n    config:\n      url: http://127.0.0.1:%d/api/v1/write\n"
            "      remote_timeout: 2s\n%s" % (kind, port, extra))


def test_remote_write():
    d = tempfile.mkdtemp(prefix="vn-e2e-rw-")
    prom = v = None
    try:
        port = free_port(socket.SOCK_STREAM)
        prom = Prometheus(port, d)
        v = Veneur(extra_yaml=cortex_yaml("cortex", port, "      batch_write_size: 3\n"
                                          "      headers: {X-Scope-OrgID: e2e}\n")
                   + "percentiles: [0.5, 0.99]\naggregates: [min, max, count]\n")
        # one datagram, so every sample lands in the same interval
        v.send_udp("e2e.hits:3|c|#env:prod,role:web\ne2e.hits:4|c|#env:prod,role:web\n"
                   "e2e.temp:21.5|g|#env:prod\ne2e.lat:10|h|#env:prod\ne2e.lat:20|h|#env:prod\n"
                   "e2e.lat:30|h|#env:prod\ne2e.users:a|s\ne2e.users:b|s\ne2e.users:a|s\n"
                   "e2e.odd-name:1|g|#9lives:yes,no_colon,dotted.key:v")
        want = {"e2e_hits": 7, "e2e_temp": 21.5, "e2e_lat_max": 30, "e2e_lat_min": 10, "e2e_lat_count": 3,
                "e2e_users": 2, "e2e_odd_name": 1}

        def all_there():
            return all(series(prom, n) for n in list(want) + ["e2e_lat_50percentile", "e2e_lat_99percentile"])
        wait_for(all_there, timeout=30, step=0.2, what="series in prometheus")
        for name, value in want.items():
            labels, got = series(prom, name)
            expect(got == value, "%s = %r, want %r" % (name, got, value))
            expect(labels["__name__"] == name and labels["host"] == "testhost", "%s labels %r" % (name, labels))
        labels, _ = series(prom, "e2e_hits")
        expect(labels == {"__name__": "e2e_hits", "env": "prod", "role": "web", "host": "testhost"},
               "e2e_hits labels %r" % labels)
        labels, _ = series(prom, "e2e_odd_name")
        expect(labels == {"__name__": "e2e_odd_name", "_9lives": "yes", "dotted_key": "v", "host": "testhost"},
               "sanitised labels %r" % labels)
        _, p50 = series(prom, "e2e_lat_50percentile")
        expect(10 <= p50 <= 30, "p50 %r" % p50)
        # the localfile sink saw the same interval
        recs = v.wait_records(lambda r: by_name(r, "e2e.hits"), what="localfile e2e.hits")
        expect(by_name(recs, "e2e.hits")[0]["value"] == 7, "localfile e2e.hits %r" % by_name(recs, "e2e.hits"))
        expect(sink_counter(v, "veneur_sink_metrics_delivered_total", "prom") >= 9, "delivered self-metric")
        expect(sink_counter(v, "veneur_sink_metrics_delivery_failed_total", "prom") == 0,
               "no failed deliveries: %s" % v.log()[-1500:])
        expect(v.stop() == 0, "veneur exit status")
        v = None
    finally:
        if v:
            v.stop()
        if prom:
            prom.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_prometheus_late():
    d = tempfile.mkdtemp(prefix="vn-e2e-rw-late-")
    prom = v = None
    try:
        port = free_port(socket.SOCK_STREAM)  # nothing listens there yet
        v = Veneur(extra_yaml=cortex_yaml("prometheus_remote_write", port))

        def refused_and_written():
            v.send_udp("e2e.before:1|g")
            return (sink_counter(v, "veneur_sink_transport_errors_total", "prom") > 0
                    and sink_counter(v, "veneur_sink_metrics_delivery_failed_total", "prom") > 0
                    and by_name(v.records(), "e2e.before"))
        wait_for(refused_and_written, timeout=20, step=0.2, what="connection refused counted + localfile written")
        expect(v.proc.poll() is None, "veneur exited while the endpoint was down")

        prom = Prometheus(port, d)

        def arrived():
            v.send_udp("e2e.after:5|g|#phase:late")
            return series(prom, "e2e_after")
        labels, value = wait_for(arrived, timeout=30, step=0.2, what="e2e_after in prometheus")
        expect(value == 5 and labels.get("phase") == "late", "e2e_after %r %r" % (labels, value))
        expect(sink_counter(v, "veneur_sink_metrics_delivered_total", "prom") > 0, "delivered self-metric")
        expect(v.stop() == 0, "veneur exit status")
        v = None
    finally:
        if v:
            v.stop()
        if prom:
            prom.stop()
        shutil.rmtree(d, ignore_errors=True)


def dead_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_kafka_unreachable():
    v = None
    try:
        v = Veneur(extra_yaml="  - kind: kafka\n    name: kafka\n    config:\n"
                              "      broker: 127.0.0.1:%d\n      metric_topic: veneur_metrics\n"
                              "      metric_delivery_timeout: 1s\n" % dead_port())

        def counted():
            v.send_udp("e2e.k:1|c|#a:b")
            recs = v.records()
            return (len(by_name(recs, "e2e.k")) >= 2
                    and sink_counter(v, "veneur_sink_transport_errors_total", "kafka") > 0
                    and sink_counter(v, "veneur_sink_metrics_delivery_failed_total", "kafka") > 0)
        wait_for(counted, timeout=20, step=0.2, what="kafka errors counted while localfile keeps flushing")
        expect(sink_counter(v, "veneur_sink_metrics_delivered_total", "kafka") == 0, "nothing delivered")
        t0 = time.monotonic()
        rc = v.stop()
        v = None
        expect(rc == 0, "veneur exit status %r" % rc)
        expect(time.monotonic() - t0 < 10, "shutdown took %.1fs" % (time.monotonic() - t0))
    finally:
        if v:
            v.stop()


def test_config_errors():
    d = tempfile.mkdtemp(prefix="vn-e2e-sinkcfg-")
    try:
        cases = [("kafka", "{broker: '127.0.0.1:9092'}", "metric_topic"),
                 ("cortex", "{remote_timeout: 5s}", "url")]
        for kind, cfg, key in cases:
            path = os.path.join(d, kind + ".yaml")
            with open(path, "w") as f:
                f.write("statsd_listen_addresses: ['udp://127.0.0.1:%d']\nmetric_sinks:\n"
                        "  - kind: %s\n    name: s1\n    config: %s\n" % (free_port(), kind, cfg))
            r = subprocess.run([VENEUR, "-f", path], capture_output=True, text=True, timeout=20)
            expect(r.returncode == 2, "%s: exit %d (%s)" % (kind, r.returncode, r.stderr[-500:]))
            expect("config key %s" % key in r.stderr, "%s: stderr lacks the key: %s" % (kind, r.stderr[-500:]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


needs_prometheus("remote_write", test_remote_write)
needs_prometheus("prometheus_late", test_prometheus_late)
check(NAME + "kafka_unreachable", test_kafka_unreachable)
check(NAME + "config_errors", test_config_errors)
run()
