"""Self-telemetry (issue 18): veneur.* to stats_address, veneur_proxy.* to statsd.address, flush watchdog.

- daemon_stats_address: a veneur with stats_address = a UDP socket of this test receives Go's
  veneur.* names with Go's tag sets within 3 intervals; worker.metrics_processed_total sums to
  the lines sent, packet.error_total{metric,parse} to the bad lines, scopes and
  veneur_metrics_additional_tags are applied as in Go.
- daemon_own_port: stats_address = the instance's own statsd port (the sidecar set-up): the
  self-metrics come back through the pipeline, and the number of veneur.* series flushed per
  interval stays constant (no feedback storm).
- proxy_statsd_address: veneur-proxy with statsd.address sends veneur_proxy.* (see the case).
- watchdog: VENEUR_TEST_WEDGE_FLUSH wedges the flusher; with flush_watchdog_missed_flushes: 2
  /healthz, /healthcheck and /readyz turn 503 and the process exits non-zero within 4 intervals.
"""
import importlib
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, check, expect, free_port, run, wait_for  # noqa: E402

px = importlib.import_module("50-proxy")
px.PROXY = os.path.join(os.path.dirname(harness.VENEUR), "veneur-proxy")


class Sink:
    """A UDP socket collecting DogStatsD lines: (name, value, type, frozenset(tags)) tuples."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.05)
        self.port = self.s.getsockname()[1]
        self.lines = []
        self.dgrams = []

    def pump(self):
        for _ in range(10000):
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return
            self.dgrams.append(d)
            for line in d.decode().split("\n"):
                head, _, rest = line.partition("|")
                name, _, value = head.rpartition(":")
                parts = rest.split("|")
                tags = frozenset()
                for p in parts[1:]:
                    if p.startswith("#"):
                        tags = frozenset(p[1:].split(","))
                self.lines.append((name, float(value), parts[0], tags))

    def find(self, name, tags=None):
        return [l for l in self.lines if l[0] == name and (tags is None or l[3] == frozenset(tags))]

    def close(self):
        self.s.close()


EXTRA = ["env:test"]


def test_daemon_stats_address():
    sink = Sink()
    udp = free_port()
    v = Veneur('stats_address: "127.0.0.1:%d"\nveneur_metrics_additional_tags: ["env:test"]\n'
               'veneur_metrics_scopes: {gauge: global}\ncount_unique_timeseries: true\n' % sink.port,
               listen=["udp://127.0.0.1:%d" % udp, "tcp://127.0.0.1:%d" % free_port(socket.SOCK_STREAM)])
    v.udp_port = udp
    try:
        v.send_udp("a.b:1|c\na.c:2|g\na.d:3|ms\nbad_line_no_type\n")
        v.send_udp("a.b:4|c|#x:y")
        want = [
            ("worker.metrics_processed_total", []),
            ("worker.metrics_imported_total", []),
            ("worker.metrics_flushed_total", ["metric_type:counter"]),
            ("worker.metrics_flushed_total", ["metric_type:gauge"]),
            ("worker.metrics_flushed_total", ["metric_type:local_timer"]),
            ("worker.metrics_flushed_total", ["metric_type:timer"]),
            ("flush.flush_timestamp_ns", ["veneurglobalonly:true"]),
            ("flush.unique_timeseries_total", ["global_veneur:true"]),
            ("listen.received_per_protocol_total", ["protocol:dogstatsd-udp"]),
            ("listen.received_per_protocol_total", ["protocol:dogstatsd-tcp"]),
            ("packet.error_total", ["packet_type:metric", "reason:parse"]),
            ("packet.error_total", ["packet_type:unknown", "reason:toolong"]),
            ("tcp.connects", []), ("tcp.disconnects", []), ("tcp.tls_handshake_failures", []),
            ("sink.metrics_flushed_total", ["sink:file"]),
            ("sink.metrics_dropped_total", ["sink:file"]),
            ("flush.error_total", ["cause:io", "sink:file"]),
            ("sink.metric_flush_total_duration_ms", ["sink_name:file", "sink_kind:localfile"]),
        ]

        def have_all():
            sink.pump()
            return all(sink.find("veneur." + n, t + EXTRA) for n, t in want)
        try:
            wait_for(have_all, timeout=3.5, step=0.05, what="every name within 3 intervals")
        except TimeoutError:
            missing = [(n, t) for n, t in want if not sink.find("veneur." + n, t + EXTRA)]
            got = sorted({(l[0], tuple(sorted(l[3]))) for l in sink.lines})
            raise AssertionError("missing %s; got %s" % (missing, got))
        wait_for(lambda: sink.pump() or sum(l[1] for l in sink.find("veneur.worker.metrics_processed_total")) >= 4,
                 timeout=5, what="processed counted")
        time.sleep(0)  # values below are sums over every interval so far
        processed = sum(l[1] for l in sink.find("veneur.worker.metrics_processed_total"))
        expect(processed == 4, "worker.metrics_processed_total sums to the 4 good lines, got %s" % processed)
        perr = sum(l[1] for l in sink.find("veneur.packet.error_total", ["packet_type:metric", "reason:parse"] + EXTRA))
        expect(perr == 1, "one parse error, got %s" % perr)
        counters = sum(l[1] for l in sink.find("veneur.worker.metrics_flushed_total", ["metric_type:counter"] + EXTRA))
        expect(counters == 2, "two counter series flushed (a.b and a.b{x:y}), got %s" % counters)
        uniq = sum(l[1] for l in sink.find("veneur.flush.unique_timeseries_total"))
        expect(uniq == 4, "4 unique series, got %s" % uniq)
        ts = sink.find("veneur.flush.flush_timestamp_ns")[-1]
        expect(ts[2] == "g" and abs(ts[1] / 1e9 - time.time()) < 30, "flush timestamp gauge in ns: %r" % (ts,))
        udp = sum(l[1] for l in sink.find("veneur.listen.received_per_protocol_total",
                                          ["protocol:dogstatsd-udp"] + EXTRA))
        expect(udp == 2, "2 udp packets, got %s" % udp)
        types = {l[0]: l[2] for l in sink.lines}
        expect(types["veneur.sink.metric_flush_total_duration_ms"] == "ms" and
               types["veneur.worker.metrics_processed_total"] == "c", "types as Go: %r" % types)
        expect(all(len(d) <= 1432 for d in sink.dgrams), "datagrams bounded at 1432 bytes")
    finally:
        v.stop()
        sink.close()


def test_daemon_own_port():
    port = free_port()
    v = Veneur('stats_address: "127.0.0.1:%d"\n' % port, listen=["udp://127.0.0.1:%d" % port])
    try:
        def per_interval():
            by_ts = {}
            for r in v.records():
                if r["name"].startswith("veneur."):
                    by_ts.setdefault(r["timestamp"], 0)
                    by_ts[r["timestamp"]] += 1
            return [by_ts[k] for k in sorted(by_ts)]
        counts = wait_for(lambda: len(per_interval()) >= 6 and per_interval(), timeout=15, step=0.2,
                          what="6 intervals of self-metrics")
        steady = counts[1:-1]  # the first interval sees only part of a send
        expect(len(set(steady)) == 1, "veneur.* series per interval stay constant: %s" % counts)
        proc = [r for r in v.records() if r["name"] == "veneur.worker.metrics_processed_total"]
        expect(proc and max(r["value"] for r in proc) < 200, "no storm: processed per interval %s"
               % [r["value"] for r in proc])
    finally:
        v.stop()


def test_watchdog():
    v = Veneur("flush_watchdog_missed_flushes: 2\n", env={"VENEUR_TEST_WEDGE_FLUSH": "2"})
    t0 = time.monotonic()
    seen = set()
    try:
        def failing():
            try:
                for p in ("/healthz", "/healthcheck", "/readyz"):
                    if v.http(p)[0] == 503:
                        seen.add(p)
            except OSError:
                pass
            return v.proc.poll() is not None
        wait_for(failing, timeout=8, step=0.05, what="the process exits")
        took = time.monotonic() - t0
        expect(v.proc.returncode not in (0, None), "exit code non-zero: %s" % v.proc.returncode)
        expect(took < (2 + 2 + 1) * harness.TIME_SCALE, "exited within n+2 intervals (+1 s start-up): %.1fs" % took)
        expect(seen == {"/healthz", "/healthcheck", "/readyz"}, "every health endpoint failed first: %s" % seen)
        expect("event=flush_watchdog_tripped" in v.log(), "a clear log line")
    finally:
        v.stop()


def test_proxy_statsd_address():
    sink = Sink()
    gport = free_port(socket.SOCK_STREAM)
    glob = px.start_global(gport)
    p = px.Proxy('forward_addresses: ["127.0.0.1:%d"]\nstatsd:\n  address: "127.0.0.1:%d"\n'
                 '  aggregation_interval: 500ms\n  messages_per_payload: 3\n' % (gport, sink.port))
    local = None
    try:
        p.wait_destinations(["127.0.0.1:%d" % gport])
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % p.grpc_port, interval="500ms")
        local.send_udp("p.h1:1|h\np.h2:2|h\np.h3:3|h")

        def routed():
            sink.pump()
            return sum(l[1] for l in sink.find("veneur_proxy.handle.metrics_count", ["error:false"])) >= 3
        wait_for(routed, timeout=10, step=0.05, what="3 metrics routed, reported to statsd.address")
        dest = "destination:127.0.0.1:%d" % gport
        ingest = sum(l[1] for l in sink.find("veneur_proxy.ingest.metrics_count", ["protocol:grpc-stream"]))
        expect(ingest == 3, "ingest.metrics_count{grpc-stream} = 3, got %s" % ingest)
        reqs = sum(l[1] for l in sink.find("veneur_proxy.ingest.request_count"))
        expect(reqs >= 1, "ingest.request_count counted")
        for name, tags in [("veneur_proxy.ingest.request_count", ["protocol:grpc-single"]),
                           ("veneur_proxy.ingest.request_error_count", ["protocol:grpc-stream"]),
                           ("veneur_proxy.handle.metrics_count", ["error:destination"]),
                           ("veneur_proxy.handle.metrics_count", ["error:dropped"]),
                           ("veneur_proxy.forward.connect", ["status:failed_dial"]),
                           ("veneur_proxy.forward.connect", ["status:failed_connect"]),
                           ("veneur_proxy.forward.metrics_count", ["error:eof"]),
                           ("veneur_proxy.forward.metrics_count", ["error:dropped"]),
                           ("veneur_proxy.forward.disconnect", ["error:false"])]:
            expect(sink.find(name, tags), "%s %s sent" % (name, tags))
        expect(sum(l[1] for l in sink.find("veneur_proxy.handle.metrics_count", ["error:dropped"])) == 0,
               "nothing dropped")
        expect(not [l for l in sink.lines if l[0].startswith("veneur_proxy.discovery.")],
               "no discovery.* lines without discovery (Go sends them only when it polls)")

        # Go's per-destination metrics (proxy/connect): the stream came up once, carried the 3
        # metrics, and its latency gauges are tagged with the destination.
        def forwarded():
            sink.pump()
            return sum(l[1] for l in sink.find("veneur_proxy.forward.metrics_count", ["error:false"])) >= 3 and \
                sink.find("veneur_proxy.forward.send_latency_ns", [dest]) and \
                sink.find("veneur_proxy.ingest.request_latency_ms", ["protocol:grpc-stream"])
        wait_for(forwarded, timeout=10, step=0.05, what="forward.metrics_count and latency gauges")
        fwd = sum(l[1] for l in sink.find("veneur_proxy.forward.metrics_count", ["error:false"]))
        expect(fwd == 3, "forward.metrics_count{error:false} = 3, got %s" % fwd)
        conn = sum(l[1] for l in sink.find("veneur_proxy.forward.connect", ["status:success"]))
        expect(conn == 1, "forward.connect{status:success} = 1, got %s" % conn)
        begin = sum(l[1] for l in sink.find("veneur_proxy.grpc.conn_begin", ["client:true"]))
        expect(begin == 1, "grpc.conn_begin{client:true} = 1, got %s" % begin)
        size = sink.find("veneur_proxy.forward.buffer_size", [dest])
        expect(size and size[-1][2] == "g" and size[-1][1] >= 0, "forward.buffer_size gauge per destination")
        for n in ("buffer_latency_ns", "send_latency_ns"):
            g = sink.find("veneur_proxy.forward." + n, [dest])
            expect(g and g[-1][2] == "g" and 0 <= g[-1][1] < 10e9, "forward.%s gauge in ns: %r" % (n, g[-1:]))
        lat = sink.find("veneur_proxy.ingest.request_latency_ms", ["protocol:grpc-stream"])
        expect(lat[-1][2] == "ms" and 0 <= lat[-1][1] < 10000, "request_latency_ms timing: %r" % (lat[-1],))

        # The global goes away: the stream fails (disconnect error:true, the connection ends)
        # and the redials find nothing listening (failed_dial).
        glob.stop()
        glob = None

        def went_down():
            sink.pump()
            return sink.find("veneur_proxy.forward.disconnect", ["error:true"]) and \
                sum(l[1] for l in sink.find("veneur_proxy.forward.disconnect", ["error:true"])) >= 1 and \
                sum(l[1] for l in sink.find("veneur_proxy.forward.connect", ["status:failed_dial"])) >= 1 and \
                sum(l[1] for l in sink.find("veneur_proxy.grpc.conn_end", ["client:true"])) >= 1
        wait_for(went_down, timeout=10, step=0.05, what="disconnect, failed_dial, conn_end after the global stops")
        expect(all(d.count(b"\n") <= 2 for d in sink.dgrams), "messages_per_payload: 3 lines per datagram at most")
    finally:
        if local:
            local.stop()
        p.stop()
        if glob:
            glob.stop()
        sink.close()


def test_daemon_forward_cause_and_drops():
    """forward.error_total carries Go's cause: a refused connection is transient_unavailable, not
    send. Then the stats_address socket closes: the datagrams the sender drops reach /metrics."""
    sink = Sink()
    dead = free_port(socket.SOCK_STREAM)  # nothing listens: every forward is refused
    v = Veneur('stats_address: "127.0.0.1:%d"\nforward_address: "127.0.0.1:%d"\n' % (sink.port, dead),
               interval="500ms")
    try:
        v.send_udp("f.h:1|h")  # a histogram: forwarded to the global

        def refused():
            sink.pump()
            return sum(l[1] for l in sink.find("veneur.forward.error_total", ["cause:transient_unavailable"])) >= 1
        wait_for(refused, timeout=10, step=0.05, what="forward.error_total{cause:transient_unavailable}")
        for c in ("send", "deadline_exceeded"):
            lines = sink.find("veneur.forward.error_total", ["cause:" + c])
            expect(lines and sum(l[1] for l in lines) == 0, "forward.error_total{cause:%s} sent, 0: %r" % (c, lines[-3:]))
        expect(v.metric("veneur_self_metrics_dropped_total") == 0, "nothing dropped while the socket listens")
        sink.close()
        sink = None
        wait_for(lambda: v.metric("veneur_self_metrics_dropped_total") >= 1, timeout=10, step=0.1,
                 what="veneur_self_metrics_dropped_total counts datagrams to a closed socket")
    finally:
        v.stop()
        if sink:
            sink.close()


def test_proxy_self_metrics_dropped():
    dead = free_port()  # no UDP socket there: the kernel refuses the datagrams
    p = px.Proxy('statsd:\n  address: "127.0.0.1:%d"\n  aggregation_interval: 200ms\n' % dead)
    try:
        wait_for(lambda: p.metric("veneur_proxy_self_metrics_dropped_total") >= 1, timeout=10, step=0.1,
                 what="veneur_proxy_self_metrics_dropped_total on /metrics")
    finally:
        p.stop()


check("daemon_stats_address", test_daemon_stats_address)
check("daemon_forward_cause_and_drops", test_daemon_forward_cause_and_drops)
check("proxy_self_metrics_dropped", test_proxy_self_metrics_dropped)
check("daemon_own_port", test_daemon_own_port)
check("watchdog", test_watchdog)
check("proxy_statsd_address", test_proxy_statsd_address)
run()
