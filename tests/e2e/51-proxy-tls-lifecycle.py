"""veneur-proxy over TLS and its HTTP/2 connection lifecycle (issue 21; docs/behaviour.md 0.14,
docs/internals/proxy.md "Inbound gRPC").

Cases:
- tls_mutual: a local forwards with the tls: block (client certificate from vn-testcerts) to the
  proxy's grpc_tls_address; the proxy routes to two globals (plain grpc_address, as Go's proxy
  dials). A local whose certificate is signed by another CA, and a bare TLS client without any
  certificate, are refused by the handshake: counted on the proxy
  (veneur_proxy_grpc_tls_handshake_failures_total), and on the refused local
  (veneur_forward_errors_total, event=forward_failed in its log); values at the globals exact.
- node_tls_client: @grpc/grpc-js with a client certificate calls the TLS listener (SendMetrics and
  SendMetricsV2; 8 metrics routed, a counter's value exact at a global); without one every call
  ends UNAVAILABLE and nothing is routed.
- max_age: grpc_server.max_connection_age 2s on the proxy; the local sends global-only counters at a
  steady rate for 20 s over TLS; the proxy sees a new connection every ~2 s (its
  veneur_proxy_grpc_connections_total and max_age_goaways), the local no failed call, and the
  globals' flushed sums equal what was sent: ZERO lost.
Binaries from harness (VENEUR_BUILD_DIR=build/asan runs the same against the sanitizer build).
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, check, expect, free_port, run, wait_for  # noqa: E402

GLOBAL_YAML = "aggregates: [count]\npercentiles: []\n"


certs = harness.test_pki


def tls_block(ca, cert, key):
    return 'tls:\n  ca_file: "%s"\n  cert_file: "%s"\n  key_file: "%s"\n' % (ca, cert, key)


class Proxy:
    """build/veneur-proxy with a plain and a TLS gRPC listener."""

    def __init__(self, yaml_text):
        self.dir = tempfile.mkdtemp(prefix="vn-proxy-tls-")
        self.grpc_port = free_port(socket.SOCK_STREAM)
        self.tls_port = free_port(socket.SOCK_STREAM)
        self.http_port = free_port(socket.SOCK_STREAM)
        cfg = os.path.join(self.dir, "proxy.yaml")
        with open(cfg, "w") as f:
            f.write('grpc_address: "127.0.0.1:%d"\ngrpc_tls_address: "127.0.0.1:%d"\nhttp_address: "127.0.0.1:%d"\n'
                    'dial_timeout: 1s\n' % (self.grpc_port, self.tls_port, self.http_port) + yaml_text)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([harness.VENEUR_PROXY, "-f", cfg, "-strict"], stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, env=harness.sanitizer_env())
        wait_for(self._alive, timeout=10, what="veneur-proxy /healthz")

    def _alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError("veneur-proxy exited %s: %s" % (self.proc.returncode, self.log()[-2000:]))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.http_port, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def metric(self, name):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=5) as r:
            body = r.read().decode()
        return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines()
                   if l.startswith(name + " ") or l.startswith(name + "{"))

    def log(self):
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        with open(self.stderr_path, errors="replace") as f:
            bad = harness.sanitizer_report(f.read())
        expect(not bad, "sanitizer report in veneur-proxy: %s" % bad)


def global_sum(globals_, name):
    return sum(r["value"] for g in globals_ for r in g.records() if r["name"] == name)


def setup(proxy_extra=""):
    ports = [free_port(socket.SOCK_STREAM) for _ in range(2)]
    globals_ = [Veneur(GLOBAL_YAML + 'grpc_address: "127.0.0.1:%d"\n' % p, interval="1s") for p in ports]
    pki = certs("main")
    proxy = Proxy("forward_addresses:\n" + "".join('  - "127.0.0.1:%d"\n' % p for p in ports) +
                  tls_block(pki["ca.pem"], pki["server.pem"], pki["server.key"]) + proxy_extra)
    wait_for(lambda: proxy.metric("veneur_proxy_destination_up") == 2, timeout=15, what="2 globals up")
    return globals_, proxy, pki


def test_tls_mutual():
    globals_, proxy, pki = setup()
    other = certs("other")
    locals_ = []
    try:
        good = Veneur('forward_address: "127.0.0.1:%d"\n' % proxy.tls_port +
                      tls_block(pki["ca.pem"], pki["client.pem"], pki["client.key"]), interval="1s")
        # trusts the proxy's CA, but its own certificate is from another CA
        bad = Veneur('forward_address: "127.0.0.1:%d"\n' % proxy.tls_port +
                     tls_block(pki["ca.pem"], other["client.pem"], other["client.key"]), interval="1s")
        locals_ = [good, bad]
        for i in range(5):
            good.send_udp("tls.ok:%d|c|#veneurglobalonly,k:%d" % (i + 1, i))
            bad.send_udp("tls.refused:1|c|#veneurglobalonly")
        wait_for(lambda: global_sum(globals_, "tls.ok") == 15, timeout=15,
                 what="15 through the TLS proxy (have %r)" % global_sum(globals_, "tls.ok"))
        wait_for(lambda: bad.metric("veneur_forward_errors_total") >= 1, timeout=15, what="refused local counts it")
        expect("event=forward_failed" in bad.log(), "refused local logs event=forward_failed")
        expect(good.metric("veneur_forward_errors_total") == 0, "no failed call from the good local")
        # a TLS client with no certificate at all: the handshake (TLS 1.3: the first read) fails
        ctx = ssl.create_default_context(cafile=pki["ca.pem"])
        ctx.set_alpn_protocols(["h2"])
        refused = False
        with socket.create_connection(("127.0.0.1", proxy.tls_port), timeout=5) as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                    refused = s.recv(100) == b""
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                refused = True
        expect(refused, "a client without a certificate is refused")
        wait_for(lambda: proxy.metric("veneur_proxy_grpc_tls_handshake_failures_total") >= 2, timeout=10,
                 what="handshake failures counted on the proxy (have %r)"
                 % proxy.metric("veneur_proxy_grpc_tls_handshake_failures_total"))
        expect("event=grpc_tls_handshake_failed" in proxy.log(), "proxy logs the refused handshake")
        expect(global_sum(globals_, "tls.refused") == 0, "nothing from the refused local reached a global")
        expect(global_sum(globals_, "tls.ok") == 15, "exact: %r" % global_sum(globals_, "tls.ok"))
    finally:
        for v in locals_:
            v.stop()
        proxy.stop()
        for g in globals_:
            g.stop()


NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def node_client(*args):
    p = subprocess.run(["node", os.path.join(NODE_DIR, "grpc_peer.js"), "client"] + list(args), cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, "node client failed: %s" % p.stderr[-800:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_node_tls_client():
    """@grpc/grpc-js (its own TLS, ALPN and HTTP/2) against the proxy's TLS listener."""
    globals_, proxy, pki = setup()
    try:
        before = proxy.metric('veneur_proxy_handle_metrics_total{error="false"}')
        res = node_client("127.0.0.1:%d" % proxy.tls_port, pki["ca.pem"], pki["client.pem"], pki["client.key"])
        expect(all(res[k]["code"] == 0 for k in ("unary", "v2", "local")), "all calls OK over mutual TLS: %r" % res)
        wait_for(lambda: proxy.metric('veneur_proxy_handle_metrics_total{error="false"}') - before == 8, timeout=10,
                 what="8 metrics routed")
        res = node_client("127.0.0.1:%d" % proxy.tls_port, pki["ca.pem"])
        expect(all(res[k]["code"] == 14 for k in ("unary", "v2", "local")),
               "UNAVAILABLE without a client certificate: %r" % res)
        expect(proxy.metric('veneur_proxy_handle_metrics_total{error="false"}') - before == 8, "nothing more routed")
        wait_for(lambda: global_sum(globals_, "node.after.local") == 9, timeout=10, what="node.after.local at a global")
    finally:
        proxy.stop()
        for g in globals_:
            g.stop()


def test_max_age():
    globals_, proxy, pki = setup("grpc_server:\n  max_connection_age: 2s\n")
    local = None
    try:
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % proxy.tls_port +
                       tls_block(pki["ca.pem"], pki["client.pem"], pki["client.key"]), interval="1s")
        conns0 = proxy.metric("veneur_proxy_grpc_connections_total")
        keys = ["ma.c%d" % i for i in range(4)]
        sent = {k: 0 for k in keys}
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 20:  # 20 s of steady load, 20 datagrams/s
            k = keys[n % len(keys)]
            local.send_udp("\n".join("%s:%d|c|#veneurglobalonly" % (k, 1 + j % 3) for j in range(10)))
            sent[k] += sum(1 + j % 3 for j in range(10))
            n += 1
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        for k in keys:
            wait_for(lambda: global_sum(globals_, k) >= sent[k], timeout=15,
                     what="%s: %d sent, %r at the globals" % (k, sent[k], global_sum(globals_, k)))
        time.sleep(2.5)  # two more global intervals: anything duplicated would show up now
        got = {k: global_sum(globals_, k) for k in keys}
        expect(got == sent, "zero lost, none duplicated: sent %r got %r" % (sent, got))
        conns = proxy.metric("veneur_proxy_grpc_connections_total") - conns0
        goaways = proxy.metric("veneur_proxy_grpc_max_age_goaways_total")
        print("  max_age: %.1f s, %d datagrams, %d metrics, %d connections, %d GOAWAYs"
              % (elapsed, n, sum(sent.values()), conns, goaways), flush=True)
        # ~2 s +-10 % of age, plus up to one 1 s interval before the local's next call notices
        expect(6 <= conns <= 12, "a new connection every ~2-3 s: %r in %.1f s" % (conns, elapsed))
        expect(goaways >= 6, "GOAWAYs at max_connection_age: %r" % goaways)
        expect(local.metric("veneur_forward_errors_total") == 0, "no failed forwarding call")
        expect(local.metric("veneur_forward_metrics_dropped_total") == 0, "nothing dropped on the local")
    finally:
        if local:
            local.stop()
        proxy.stop()
        for g in globals_:
            g.stop()


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("51-proxy-tls-lifecycle/" + name[5:], fn)
run()
