#!/usr/bin/env python3
"""The otlp metric sink's TLS options (docs/otlp.md: tls_ca_file, tls_cert_file, tls_key_file)
against the Node receiver (otel/otlp_receiver.js) serving TLS with build/vn-testcerts' files:
https with tls_ca_file delivers the flushed values; without tls_ca_file the test CA is not
trusted, nothing arrives and the failures are counted (veneur_sink_transport_errors_total);
a receiver that demands a client certificate gets ours (tls_cert_file + tls_key_file);
protocol grpc over TLS with tls_ca_file; a tls_cert_file without tls_key_file is a config error.

Prints `PASS <name>` / `FAIL <name>: why`; exits 1 if any failed.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TIME_SCALE, Veneur, check, expect, run, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OTEL = os.path.join(HERE, "otel")


def certs():
    return harness.test_pki("otlp")["dir"]


class Receiver:
    def __init__(self, pki, grpc=False, mtls=False):
        env = dict(os.environ, PORT="0", TLS=pki)
        if grpc:
            env.update(GRPC="1", GRPC_FAIL="0")
        if mtls:
            env["MTLS"] = "1"
        self.proc = subprocess.Popen(["node", os.path.join(OTEL, "otlp_receiver.js")], cwd=OTEL,
                                     stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        expect(line.startswith("LISTEN "), "receiver did not start: %r" % line)
        self.port = int(line.split()[1])
        self.requests = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.requests.append(json.loads(line))

    def values(self, name):
        with self._lock:
            reqs = list(self.requests)
        out = []
        for r in reqs:
            for rm in r.get("request", {}).get("resourceMetrics", []):
                for sm in rm.get("scopeMetrics", []):
                    for m in sm.get("metrics", []):
                        if m["name"] == name:
                            out += [p.get("asDouble") for p in m[m["data"]].get("dataPoints", [])]
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def start(port, pki, extra):
    return Veneur(extra_yaml="""metric_sinks:
  - kind: otlp
    name: otel
    config:
      endpoint: "https://127.0.0.1:%d"
      max_payload_age: 60s
%s""" % (port, extra % {"d": pki}), jsonl=False)


CA = '      tls_ca_file: "%(d)s/ca.pem"\n'
CLIENT = '      tls_cert_file: "%(d)s/client.pem"\n      tls_key_file: "%(d)s/client.key"\n'


def delivered(pki, rx, extra, name):
    v = start(rx.port, pki, extra)
    try:
        v.send_udp("%s:7|c\n" % name)
        wait_for(lambda: rx.values(name), timeout=15 * TIME_SCALE, what="%s at the receiver" % name)
        expect(rx.values(name) == [7], "values %r" % rx.values(name))
        expect(v.metric("veneur_sink_transport_errors_total") == 0, "transport errors %r" %
               v.metric("veneur_sink_transport_errors_total"))
    finally:
        v.stop()


def case_https_ca():
    pki = certs()
    rx = Receiver(pki)
    try:
        delivered(pki, rx, CA, "tls.ca")
    finally:
        rx.stop()


def case_https_untrusted():
    pki = certs()
    rx = Receiver(pki)
    v = start(rx.port, pki, "")
    try:
        v.send_udp("tls.none:1|c\n")
        wait_for(lambda: v.metric("veneur_sink_transport_errors_total") >= 1, timeout=15 * TIME_SCALE,
                 what="a counted TLS failure")
        expect(rx.values("tls.none") == [], "an untrusted server got the body")
    finally:
        v.stop()
        rx.stop()


def case_mtls():
    pki = certs()
    rx = Receiver(pki, mtls=True)
    try:
        delivered(pki, rx, CA + CLIENT, "tls.mutual")
        v = start(rx.port, pki, CA)  # no client certificate: the receiver refuses the handshake
        try:
            v.send_udp("tls.nocert:1|c\n")
            wait_for(lambda: v.metric("veneur_sink_transport_errors_total") >= 1, timeout=15 * TIME_SCALE,
                     what="a counted handshake failure")
            expect(rx.values("tls.nocert") == [], "accepted without a client certificate")
        finally:
            v.stop()
    finally:
        rx.stop()


def case_grpc_ca():
    pki = certs()
    rx = Receiver(pki, grpc=True)
    try:
        delivered(pki, rx, "      protocol: grpc\n" + CA, "tls.grpc")
    finally:
        rx.stop()


def case_cert_without_key():
    pki = certs()
    d = tempfile.mkdtemp(prefix="vn-otlp-cfg-")
    cfg = os.path.join(d, "v.yaml")
    with open(cfg, "w") as f:
        f.write('http_address: "127.0.0.1:%d"\nmetric_sinks:\n  - kind: otlp\n    name: otel\n    config:\n'
                '      endpoint: "https://127.0.0.1:4318"\n      tls_cert_file: "%s/client.pem"\n' %
                (harness.free_port(harness.socket.SOCK_STREAM), pki))
    p = subprocess.run([harness.veneur_binary(), "-f", cfg], capture_output=True, text=True, timeout=20 * TIME_SCALE,
                       env=harness.sanitizer_env())
    expect(p.returncode != 0 and "tls_key_file" in p.stderr + p.stdout,
           "want a config error naming tls_key_file: %d %r" % (p.returncode, (p.stderr + p.stdout)[-400:]))


check("otlp_sink_tls_ca_file_delivers", case_https_ca)
check("otlp_sink_tls_untrusted_fails_counted", case_https_untrusted)
check("otlp_sink_tls_client_certificate", case_mtls)
check("otlp_sink_tls_grpc_ca_file", case_grpc_ca)
check("otlp_sink_tls_cert_without_key_refused", case_cert_without_key)
run()
