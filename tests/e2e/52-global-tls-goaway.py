"""TLS globals behind a TLS proxy, and proxy streams that survive the global's GOAWAY (issue 21;
docs/behaviour.md 0.14, docs/operations.md "TLS between tiers").

Cases:
- tls_chain: local (tls: block, client certificate) -> veneur-proxy (grpc_tls_address + tls:, and
  forward_tls: with a client certificate) -> 2 globals serving only grpc_tls_address (tls_certificate,
  tls_key, tls_authority_certificate: mutual TLS). Values exact at the globals. A proxy whose
  forward_tls has no client certificate, and one whose certificate is from another CA, are refused by
  the globals' handshake (counted on the globals and as failed dials on those proxies; nothing they
  were sent is merged); a local whose certificate is from another CA is refused by the proxy.
- goaway_restream: local -> proxy A -> proxy B (grpc_server.max_connection_age 1s: B sends GOAWAY on
  A's stream every ~1 s) -> global. 15 s of steady load: A ends each stream cleanly and re-dials
  (veneur_proxy_forward_goaway_restreams_total), and the global's sums equal what was sent: zero lost,
  zero duplicated. A has one destination, so anything it failed to deliver would be dropped, not
  rerouted.
Binaries from harness (VENEUR_BUILD_DIR=build/asan runs the same against the sanitizer build).
"""
import os
import signal
import socket
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


def tls_block(name, ca, cert=None, key=None):
    s = '%s:\n  ca_file: "%s"\n' % (name, ca)
    if cert:
        s += '  cert_file: "%s"\n  key_file: "%s"\n' % (cert, key)
    return s


pem_key = harness.yaml_pem


def tls_global(pki, port):
    return Veneur(GLOBAL_YAML + 'grpc_tls_address: "127.0.0.1:%d"\n' % port + pem_key("tls_key", pki["server.key"]) +
                  pem_key("tls_certificate", pki["server.pem"]) + pem_key("tls_authority_certificate", pki["ca.pem"]),
                  interval="1s")


class Proxy:
    """build/veneur-proxy with a plain (and optionally a TLS) gRPC listener."""

    def __init__(self, yaml_text, tls_listener=False):
        self.dir = tempfile.mkdtemp(prefix="vn-proxy-52-")
        self.grpc_port = free_port(socket.SOCK_STREAM)
        self.tls_port = free_port(socket.SOCK_STREAM)
        self.http_port = free_port(socket.SOCK_STREAM)
        cfg = os.path.join(self.dir, "proxy.yaml")
        head = 'grpc_address: "127.0.0.1:%d"\nhttp_address: "127.0.0.1:%d"\ndial_timeout: 1s\n' % (
            self.grpc_port, self.http_port)
        if tls_listener:
            head += 'grpc_tls_address: "127.0.0.1:%d"\n' % self.tls_port
        with open(cfg, "w") as f:
            f.write(head + yaml_text)
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

    def metric(self, name, label=""):
        """Sum of a family's samples on /metrics, only those whose labels contain label when given."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=5) as r:
            body = r.read().decode()
        return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines()
                   if (l.startswith(name + " ") or l.startswith(name + "{")) and label in l)

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


def dests(ports):
    return "forward_addresses:\n" + "".join('  - "127.0.0.1:%d"\n' % p for p in ports)


def test_tls_chain():
    pki, other = certs("main"), certs("other")
    ports = [free_port(socket.SOCK_STREAM) for _ in range(2)]
    globals_ = [tls_global(pki, p) for p in ports]
    procs, locals_ = [], []
    try:
        proxy = Proxy(dests(ports) + tls_block("tls", pki["ca.pem"], pki["server.pem"], pki["server.key"]) +
                      tls_block("forward_tls", pki["ca.pem"], pki["client.pem"], pki["client.key"]), tls_listener=True)
        procs.append(proxy)
        wait_for(lambda: proxy.metric("veneur_proxy_destination_up") == 2, timeout=15, what="2 TLS globals up")
        good = Veneur('forward_address: "127.0.0.1:%d"\n' % proxy.tls_port +
                      tls_block("tls", pki["ca.pem"], pki["client.pem"], pki["client.key"]), interval="1s")
        bad = Veneur('forward_address: "127.0.0.1:%d"\n' % proxy.tls_port +
                     tls_block("tls", pki["ca.pem"], other["client.pem"], other["client.key"]), interval="1s")
        locals_ += [good, bad]
        # The ring is built from the globals' random ports, so 40 keys (not a handful) make
        # "both globals own some" certain rather than likely (all on one: 2^-39).
        nkeys = 40
        want = nkeys * (nkeys + 1) // 2
        for i in range(nkeys):
            good.send_udp("chain.ok:%d|c|#veneurglobalonly,k:%d" % (i + 1, i))
            if i < 6:
                bad.send_udp("chain.badlocal:1|c|#veneurglobalonly")
        wait_for(lambda: global_sum(globals_, "chain.ok") == want, timeout=15,
                 what="%d through TLS proxy to TLS globals (have %r)" % (want, global_sum(globals_, "chain.ok")))
        expect(all(any(r["name"] == "chain.ok" for r in g.records()) for g in globals_),
               "both globals got a share of the keys")
        wait_for(lambda: bad.metric("veneur_forward_errors_total") >= 1, timeout=15, what="refused local counts it")
        # proxies the globals must refuse: no client certificate, and a certificate from another CA
        nocert = Proxy(dests(ports) + tls_block("forward_tls", pki["ca.pem"]))
        procs.append(nocert)
        wrongca = Proxy(dests(ports) + tls_block("forward_tls", pki["ca.pem"], other["client.pem"], other["client.key"]))
        procs.append(wrongca)
        hs0 = sum(g.metric("veneur_grpc_tls_handshake_failures_total") for g in globals_)
        for p in (nocert, wrongca):
            wait_for(lambda: p.metric("veneur_proxy_forward_connect_total", 'status="failed_dial"') >= 2, timeout=15,
                     what="failed dials counted on the refused proxy")
            expect(p.metric("veneur_proxy_destination_up") == 0, "no destination up on a refused proxy")
        wait_for(lambda: sum(g.metric("veneur_grpc_tls_handshake_failures_total") for g in globals_) >= 2,
                 timeout=15, what="handshake failures counted on the globals (before: %r)" % hs0)
        expect(any("event=grpc_tls_handshake_failed" in g.log() for g in globals_), "a global logs the refusal")
        sender = Veneur('forward_address: "127.0.0.1:%d"\n' % nocert.grpc_port, interval="1s")
        locals_.append(sender)
        sender.send_udp("chain.refused:5|c|#veneurglobalonly")
        wait_for(lambda: nocert.metric("veneur_proxy_handle_metrics_total", 'error="destination"') >= 1,
                 timeout=15, what="the refused proxy counts what it could not send")
        time.sleep(2.2)  # two global intervals: anything merged would be flushed by now
        expect(global_sum(globals_, "chain.refused") == 0, "nothing from a refused proxy merged")
        expect(global_sum(globals_, "chain.badlocal") == 0, "nothing from the refused local merged")
        expect(global_sum(globals_, "chain.ok") == want, "exact: %r" % global_sum(globals_, "chain.ok"))
        expect(good.metric("veneur_forward_errors_total") == 0, "no failed call from the good local")
    finally:
        for v in locals_:
            v.stop()
        for p in procs:
            p.stop()
        for g in globals_:
            g.stop()


def test_goaway_restream():
    gport, bport = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
    glob = Veneur(GLOBAL_YAML + 'grpc_address: "127.0.0.1:%d"\n' % gport, interval="1s")
    procs, local = [], None
    try:
        b = Proxy(dests([gport]) + "grpc_server:\n  max_connection_age: 1s\n")
        procs.append(b)
        a = Proxy(dests([b.grpc_port]))
        procs.append(a)
        wait_for(lambda: a.metric("veneur_proxy_destination_up") == 1 and b.metric("veneur_proxy_destination_up") == 1,
                 timeout=15, what="A -> B -> global up")
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % a.grpc_port, interval="1s")
        keys = ["ga.c%d" % i for i in range(8)]
        sent = {k: 0 for k in keys}
        start, n = time.monotonic(), 0
        while time.monotonic() - start < 15:  # 15 s of steady load, ~40 datagrams/s of 8 lines
            local.send_udp("\n".join("%s:%d|c|#veneurglobalonly" % (k, 1 + (n + j) % 5) for j, k in enumerate(keys)))
            for j, k in enumerate(keys):
                sent[k] += 1 + (n + j) % 5
            n += 1
            time.sleep(0.025)
        elapsed = time.monotonic() - start
        for k in keys:
            wait_for(lambda: global_sum([glob], k) >= sent[k], timeout=15,
                     what="%s: %d sent, %r at the global" % (k, sent[k], global_sum([glob], k)))
        time.sleep(2.2)  # two more global intervals: anything duplicated would show up now
        got = {k: global_sum([glob], k) for k in keys}
        restreams = a.metric("veneur_proxy_forward_goaway_restreams_total")
        goaways = b.metric("veneur_proxy_grpc_max_age_goaways_total")
        lost = a.metric("veneur_proxy_forward_metrics_total", 'error="dropped_down"')
        nodest = a.metric("veneur_proxy_handle_metrics_total", 'error="destination"')
        print("  goaway_restream: %.1f s, %d datagrams, %d counted, B sent %d GOAWAYs, A re-streamed %d times, "
              "A dropped_down %d, no_destination %d" % (elapsed, n, sum(sent.values()), goaways, restreams, lost,
                                                        nodest), flush=True)
        expect(got == sent, "zero lost, none duplicated: sent %r got %r" % (sent, got))
        expect(goaways >= 8, "B sent GOAWAY at max_connection_age: %r" % goaways)
        expect(restreams >= 8, "A re-streamed after each GOAWAY: %r" % restreams)
        expect(lost == 0 and nodest == 0, "nothing dropped on A: dropped_down %r no_destination %r" % (lost, nodest))
        expect(local.metric("veneur_forward_errors_total") == 0, "no failed call from the local")
    finally:
        if local:
            local.stop()
        for p in reversed(procs):
            p.stop()
        glob.stop()


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("52-global-tls-goaway/" + name[5:], fn)
run()
