"""TCP, unix stream, unix datagram and TLS (with and without client certificates) ingest."""
import os
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, Veneur, by_name, check, expect, free_port, run, total, wait_for  # noqa: E402


def drain(v, lines):
    wait_for(lambda: v.metric("veneur_lines_received_total") >= lines, what="%d lines" % lines)
    expect(v.stop() == 0, "clean exit")
    return v.records()


def test_tcp_lines_and_bad_line_closes():
    port = free_port(socket.SOCK_STREAM)
    v = Veneur(listen=["tcp://127.0.0.1:%d" % port], interval="60s")
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"tcp.count:1|c\r\ntcp.count:2|c|#x:y\ntcp.count:4|c\n")
        s.close()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"tcp.after:1|c\nthis is bad\ntcp.lost:1|c\n")
        s.settimeout(5)
        expect(s.recv(10) == b"", "connection closed by veneur after a bad line")
        s.close()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"tcp.nonl:7|c")  # final line without newline still counts at EOF
        s.close()
        recs = drain(v, 6)  # the bad line closes: tcp.lost is never read
    finally:
        v.stop()
    expect(total(recs, "tcp.count", []) == 5 and total(recs, "tcp.count", ["x:y"]) == 2, "tcp counters %r" % recs)
    expect(by_name(recs, "tcp.after") and not by_name(recs, "tcp.lost"), "first bad line closes: %r" % recs)
    expect(total(recs, "tcp.nonl") == 7, "line at EOF")


def test_unix_stream_and_datagram():
    d = tempfile.mkdtemp(prefix="vn-unix-")
    sp, dp = os.path.join(d, "s.sock"), os.path.join(d, "d.sock")
    v = Veneur(listen=["unix://" + sp, "unixgram://" + dp], interval="60s")
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sp)
        s.sendall(b"ux.stream:3|c\nux.stream:4|c\n")
        s.close()
        g = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        g.sendto(b"ux.dgram:5|g\nux.dgram.c:1|c", dp)
        g.close()
        recs = drain(v, 4)
    finally:
        v.stop()
    expect(total(recs, "ux.stream") == 7, "unix stream %r" % recs)
    expect(by_name(recs, "ux.dgram")[0]["value"] == 5, "unixgram gauge")
    _ = recs


def make_certs():
    d = tempfile.mkdtemp(prefix="vn-certs-")
    tool = harness.VN_TESTCERTS
    subprocess.run([tool, d], check=True, capture_output=True)
    read = lambda n: open(os.path.join(d, n)).read()
    return d, read


def indent(pem):
    return "\n".join("  " + l for l in pem.strip().splitlines())


def tls_client(port, d, with_cert):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=os.path.join(d, "ca.pem"))
    ctx.check_hostname = False
    if with_cert:
        ctx.load_cert_chain(os.path.join(d, "client.pem"), os.path.join(d, "client.key"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_tls_without_client_certs():
    d, read = make_certs()
    port = free_port(socket.SOCK_STREAM)
    yaml = "tls_key: |\n%s\ntls_certificate: |\n%s\n" % (indent(read("server.key")), indent(read("server.pem")))
    v = Veneur(yaml, listen=["tcp://127.0.0.1:%d" % port], interval="60s")
    try:
        c = tls_client(port, d, False)
        c.sendall(b"tls.plain:2|c\ntls.plain:3|c\n")
        c.close()
        p = socket.create_connection(("127.0.0.1", port), timeout=5)  # plaintext to a TLS-only port
        p.sendall(b"tls.cleartext:1|c\n")
        p.close()
        wait_for(lambda: v.metric("veneur_tcp_tls_handshake_failures_total") >= 1, what="plaintext refused")
        recs = drain(v, 2)
    finally:
        v.stop()
    expect(total(recs, "tls.plain") == 5, "tls data %r" % recs)
    expect(not by_name(recs, "tls.cleartext"), "plaintext rejected on TLS listener")


def test_tls_requires_client_cert():
    d, read = make_certs()
    port = free_port(socket.SOCK_STREAM)
    yaml = "tls_key: |\n%s\ntls_certificate: |\n%s\ntls_authority_certificate: |\n%s\n" % (
        indent(read("server.key")), indent(read("server.pem")), indent(read("ca.pem")))
    v = Veneur(yaml, listen=["tcp://127.0.0.1:%d" % port], interval="60s")
    try:
        try:
            c = tls_client(port, d, False)
            c.sendall(b"mtls.nocert:1|c\n")
            c.recv(1)  # TLS 1.3 reports the missing-cert alert on first read
            c.close()
        except (ssl.SSLError, ConnectionError, OSError):
            pass
        wait_for(lambda: v.metric("veneur_tcp_tls_handshake_failures_total") >= 1, what="no-cert client refused")
        c = tls_client(port, d, True)
        c.sendall(b"mtls.cert:9|c\n")
        c.close()
        recs = drain(v, 1)
    finally:
        v.stop()
    expect(total(recs, "mtls.cert") == 9, "client with cert accepted %r" % recs)
    expect(not by_name(recs, "mtls.nocert"), "client without cert refused")


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("20-streams/" + name[5:], fn)
run()
