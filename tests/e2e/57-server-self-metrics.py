"""Server limit counters reach /metrics (issues 14/15 follow-up).

- proxy_grpc_counters: veneur-proxy's gRPC server counts accept pauses, refused and evicted
  connections, handshake and body timeouts and reassembly refusals; its /metrics shows each as a
  veneur_proxy_grpc_* family, and a connection that never sends the HTTP/2 preface moves
  veneur_proxy_grpc_handshake_timeouts_total to 1 (after the 10 s handshake deadline).
- daemon_http_evictions: half-sent HTTP requests from one address past the per-address soft
  limit (32) are evicted; the daemon's /metrics shows veneur_http_connections_evicted_total
  with that count (veneur-proxy's /metrics carries the same family).
"""
import importlib
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, check, expect, free_port, run, wait_for  # noqa: E402

px = importlib.import_module("50-proxy")
px.PROXY = os.path.join(os.path.dirname(harness.VENEUR), "veneur-proxy")

GRPC_FAMILIES = ["veneur_proxy_grpc_accept_paused_total", "veneur_proxy_grpc_connections_refused_total",
                 "veneur_proxy_grpc_connections_evicted_total", "veneur_proxy_grpc_handshake_timeouts_total",
                 "veneur_proxy_grpc_reassembly_refused_total", "veneur_proxy_grpc_body_timeouts_total"]
SOFT_PER_IP = 32  # VN_HTTP_SOFT_PER_IP


def test_proxy_grpc_counters():
    dead = free_port(socket.SOCK_STREAM)
    p = px.Proxy('forward_addresses: ["127.0.0.1:%d"]\n' % dead)
    silent = None
    try:
        m = p.metrics()
        missing = [f for f in GRPC_FAMILIES + ["veneur_http_connections_evicted_total"] if f not in m]
        expect(not missing, "families missing from the proxy's /metrics: %s" % missing)
        expect(all(m[f] == 0 for f in GRPC_FAMILIES), "counters start at 0: %r" % {f: m[f] for f in GRPC_FAMILIES})
        silent = socket.create_connection(("127.0.0.1", p.grpc_port))  # never sends the preface
        wait_for(lambda: p.metric("veneur_proxy_grpc_handshake_timeouts_total") == 1, timeout=20 * harness.TIME_SCALE,
                 step=0.2, what="handshake timeout counted")
        expect(p.metric("veneur_proxy_grpc_connections_refused_total") == 0, "nothing refused")
    finally:
        if silent:
            silent.close()
        p.stop()


def test_daemon_http_evictions():
    v = Veneur()
    conns = []
    try:
        expect(v.metric("veneur_http_connections_evicted_total") == 0, "starts at 0")
        _, body = v.http("/metrics")
        expect("\nveneur_http_connections_evicted_total 0\n" in body, "family shown on the daemon's /metrics")
        extra = 8
        for _ in range(SOFT_PER_IP + extra):
            c = socket.create_connection(("127.0.0.1", v.http_port))
            c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
            conns.append(c)
        # The scrapes below come from the same address: each new connection may evict one more
        # held half request, so count at least `extra`, and no more than were held.
        wait_for(lambda: v.metric("veneur_http_connections_evicted_total") >= extra, what="evictions counted")
        n = v.metric("veneur_http_connections_evicted_total")
        expect(extra <= n <= SOFT_PER_IP + extra, "evicted %s, want %d..%d" % (n, extra, SOFT_PER_IP + extra))
    finally:
        for c in conns:
            c.close()
        v.stop()


check("57-server-self-metrics/proxy_grpc_counters", test_proxy_grpc_counters)
check("57-server-self-metrics/daemon_http_evictions", test_daemon_http_evictions)
run()
