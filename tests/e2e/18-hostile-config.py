"""Hostile configs and hostile neighbours (issue 14): config edges fail fast with one clear line,
a second instance cannot steal or unlink the first one's sockets, remote peers cannot flood the
log, and /config/yaml never shows a password embedded in a URL."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, Veneur, check, expect, free_port, run, total, wait_for  # noqa: E402

# harness.VENEUR honours VENEUR_BUILD_DIR (build/asan for the ASan+UBSan binaries)
BIN = harness.VENEUR


def start_fails(yaml=None, args=(), env=None, path=None, timeout=20):
    """Runs veneur with a config that must be refused: returns its one stderr line."""
    if path is None:
        d = tempfile.mkdtemp(prefix="vn-e2e-cfg-")
        path = os.path.join(d, "veneur.yaml")
        with open(path, "w") as f:
            f.write(yaml)
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.monotonic()
    p = subprocess.run([BIN, "-f", path] + list(args), capture_output=True, timeout=timeout, env=e)
    took = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    lines = [l for l in err.splitlines() if l.strip() and "level=" not in l]
    expect(p.returncode == 2, "exit status %s (want 2), stderr %r" % (p.returncode, err[-500:]))
    expect(len(lines) >= 1 and (lines[0].startswith("veneur: ") or lines[0].startswith("invalid")),
           "one error line, got %r" % err[-500:])
    msg = lines[0]
    expect(len(msg.split(":", 1)[1].strip()) > 10, "non-empty message %r" % msg)
    expect(took < 10, "refused in %.1fs" % took)
    return msg, p.stdout.decode(errors="replace")


BASE = 'http_address: ""\nmetric_sinks: []\n'


def test_port_above_65535():
    msg, _ = start_fails('statsd_listen_addresses: ["udp://127.0.0.1:65537"]\n' + BASE)
    expect("statsd_listen_addresses" in msg and "65537" in msg, msg)
    msg, _ = start_fails('statsd_listen_addresses: []\nhttp_address: "127.0.0.1:70000"\nmetric_sinks: []\n')
    expect("http_address" in msg, msg)
    msg, _ = start_fails('statsd_listen_addresses: ["tcp://127.0.0.1:99999999"]\n' + BASE)
    expect("statsd_listen_addresses" in msg, msg)


def test_deep_nesting_is_refused_fast():
    d = tempfile.mkdtemp(prefix="vn-e2e-cfg-")
    path = os.path.join(d, "deep.yaml")
    with open(path, "w") as f:
        f.write("x: " + "[" * (8 << 20) + "\n")  # 8 MiB: hours before the cap
    msg, _ = start_fails(path=path)
    expect("nested too deeply" in msg and "64" in msg, msg)
    ok = "x: " + "[" * 60 + "]" * 60 + "\n" + 'statsd_listen_addresses: []\n' + BASE
    with open(path, "w") as f:
        f.write(ok)
    p = subprocess.run([BIN, "-validate-config", "-f", path], capture_output=True, timeout=20)
    expect(p.returncode == 0, "60 levels are fine: %r" % p.stderr[-300:])


def test_validate_config_bool_flag():
    d = tempfile.mkdtemp(prefix="vn-e2e-cfg-")
    path = os.path.join(d, "v.yaml")
    with open(path, "w") as f:
        f.write('statsd_listen_addresses: ["udp://127.0.0.1:0"]\n' + BASE)
    msg, _ = start_fails(path=path, args=["-validate-config=maybe"])
    expect('invalid boolean value "maybe" for -validate-config' in msg, msg)
    for v in ("true", "TRUE", "t", "1", "True"):
        p = subprocess.run([BIN, "-validate-config=" + v, "-f", path], capture_output=True, timeout=20)
        expect(p.returncode == 0 and b"config ok" in p.stdout, "-validate-config=%s: %r" % (v, p.stderr))
    # false really means false: the daemon starts (stopped as soon as it is up)
    http_port = free_port(socket.SOCK_STREAM)
    with open(path, "w") as f:
        f.write('statsd_listen_addresses: []\nhttp_address: "127.0.0.1:%d"\nmetric_sinks: []\n' % http_port)
    p = subprocess.Popen([BIN, "-validate-config=F", "-f", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: http_get(http_port, "/healthcheck") is not None or p.poll() is not None, timeout=10,
                 what="daemon up")
        expect(p.poll() is None, "-validate-config=F starts the daemon")
    finally:
        p.terminate()
        p.wait(timeout=15)


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def test_fifo_config_refused():
    d = tempfile.mkdtemp(prefix="vn-e2e-cfg-")
    fifo = os.path.join(d, "fifo.yaml")
    os.mkfifo(fifo)
    msg, _ = start_fails(path=fifo)  # no writer ever opens it: must not block
    expect("not a regular file" in msg, msg)
    msg, _ = start_fails(path="/dev/zero")
    expect("not a regular file" in msg, msg)


def test_no_empty_error_message():
    for yaml in ("? [a]\n: 1\n", "{a: 1}: 2\n", "a: \"\\q\"\n", ": x\n", "- 1\n"):
        msg, _ = start_fails(yaml)
        expect('key ""' not in msg and not msg.rstrip().endswith(":"), msg)


def test_implicit_tags_over_parser_limit():
    tags = ", ".join('"t%d:v"' % i for i in range(129))
    msg, _ = start_fails("tags: [%s]\nstatsd_listen_addresses: []\n" % tags + BASE)
    expect("at most 128" in msg, msg)
    env = {"VENEUR_TAGS": ",".join("t%d" % i for i in range(129))}
    msg, _ = start_fails("statsd_listen_addresses: []\n" + BASE, env=env)
    expect("at most 128" in msg and "tags" in msg, msg)


def steal_udp(port):
    """What an unprivileged neighbour would try: every bind option; returns the ones that worked."""
    got = []
    for opt in (None, socket.SO_REUSEADDR):
        for host in ("127.0.0.1", "0.0.0.0"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if opt:
                s.setsockopt(socket.SOL_SOCKET, opt, 1)
            try:
                s.bind((host, port))
                got.append((opt, host))
            except OSError:
                pass
            finally:
                s.close()
    return got


def test_udp_port_cannot_be_stolen():
    for readers in (1, 2):
        a = Veneur(extra_yaml="num_readers: %d\n" % readers, interval="1s", binary=BIN)
        try:
            second = 'statsd_listen_addresses: ["udp://127.0.0.1:%d"]\nnum_readers: %d\n' % (a.udp_port, readers)
            msg, _ = start_fails(second + BASE)
            expect("already in use" in msg and "statsd_listen_addresses" in msg, msg)
            expect(steal_udp(a.udp_port) == [], "neighbour bound the port: %r" % steal_udp(a.udp_port))
            for _ in range(200):
                a.send_udp(b"steal.check:1|c")
            recs = a.wait_records(lambda r: total(r, "steal.check") >= 200, what="all 200 counts")
            expect(total(recs, "steal.check") == 200, "first instance got every datagram: %r" % total(recs, "steal.check"))
        finally:
            a.stop()


def test_unix_socket_not_unlinked_by_second_start():
    d = tempfile.mkdtemp(prefix="vn-e2e-ux-")
    stream, dgram = os.path.join(d, "s.sock"), os.path.join(d, "d.sock")
    listen = ["unix://" + stream, "unixgram://" + dgram]
    a = Veneur(listen=listen, interval="1s", binary=BIN)
    try:
        ino = (os.stat(stream).st_ino, os.stat(dgram).st_ino)
        for addr in listen:
            msg, _ = start_fails('statsd_listen_addresses: ["%s"]\n' % addr + BASE)
            expect("live listener" in msg, msg)
        expect((os.stat(stream).st_ino, os.stat(dgram).st_ino) == ino, "socket files replaced")
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(stream)
        c.sendall(b"ux.keep:3|c\n")
        c.close()
        g = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        g.sendto(b"ux.keep:4|c", dgram)
        g.close()
        recs = a.wait_records(lambda r: total(r, "ux.keep") >= 7, what="unix data after the failed start")
        expect(total(recs, "ux.keep") == 7, "values %r" % total(recs, "ux.keep"))
    finally:
        a.stop()
    # after a clean stop the stale files are replaced by the next start
    b = Veneur(listen=listen, interval="1s", binary=BIN)
    b.stop()


def make_certs():
    d = tempfile.mkdtemp(prefix="vn-certs-")
    tool = os.path.join(harness.BUILD_DIR, "vn-testcerts")
    if not os.path.exists(tool):
        tool = os.path.join(ROOT, "build", "vn-testcerts")
    subprocess.run([tool, d], check=True, capture_output=True)
    return lambda n: open(os.path.join(d, n)).read()


def indent(pem):
    return "\n".join("  " + l for l in pem.strip().splitlines())


def test_log_flood_is_rate_limited():
    read = make_certs()
    port = free_port(socket.SOCK_STREAM)
    yaml = "tls_key: |\n%s\ntls_certificate: |\n%s\n" % (indent(read("server.key")), indent(read("server.pem")))
    v = Veneur(extra_yaml=yaml, listen=["tcp://127.0.0.1:%d" % port], interval="60s", binary=BIN)
    try:
        n = 2000
        t0 = time.monotonic()
        for i in range(n):  # plaintext on a TLS listener: one failed handshake each
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n\x16\x03\x01 junk level=error event=forged\n")
            s.close()
        wait_for(lambda: v.metric("veneur_tcp_tls_handshake_failures_total") >= n, timeout=30,
                 what="%d failed handshakes" % n)

        # then silence: the main loop's periodic report says what the site still holds (core/log.h)
        site = "event=log_suppressed site=src/listen/stream.c:"
        wait_for(lambda: site in v.log(), timeout=15, step=0.2, what="the periodic log_suppressed report")
        elapsed = time.monotonic() - t0
        failures = v.metric("veneur_tcp_tls_handshake_failures_total")
        counted = v.metric("veneur_log_suppressed_total")
        log = v.log().splitlines()
        lines = [l for l in log if "tls_handshake_failed" in l]
        reports = [l for l in log if site in l]
    finally:
        v.stop()
    bound = 10 + int(elapsed) + 2
    expect(len(lines) <= bound, "%d handshake log lines for %d failures in %.1fs (bound %d)" % (
        len(lines), n, elapsed, bound))
    suppressed = sum(int(l.split("log_suppressed=")[1].split()[0]) for l in lines if "log_suppressed=" in l)
    reported = sum(int(l.split(" count=")[1].split()[0]) for l in reports)
    expect(reported > 0 and len(reports) == 1, "one report after the burst: %r" % reports)
    # nothing failed after the burst: every dropped line is accounted for, in a line or in the report
    expect(len(lines) + suppressed + reported == failures,
           "lines %d + suppressed %d + reported %d != failures %d" % (len(lines), suppressed, reported, failures))
    suppressed += reported
    # what was written plus what was reported as dropped never exceeds what happened
    expect(suppressed > 0 and len(lines) + suppressed <= failures,
           "suppressed=%d lines=%d failures=%d" % (suppressed, len(lines), failures))
    expect(all(l.startswith("ts=") for l in lines), "every line is whole: %r" % lines[:3])
    expect(counted >= suppressed and counted + len(lines) >= n,
           "/metrics veneur_log_suppressed_total=%d (lines %d, reported %d)" % (counted, len(lines), suppressed))
    print("  log flood: %d failures -> %d lines (%d reported suppressed) in %.1fs" % (
        failures, len(lines), suppressed, elapsed), flush=True)


def test_config_yaml_redacts_url_userinfo():
    # a datadog sink whose api_hostname embeds a password, and a secret key
    extra = ("http:\n  config: true\n"
             "datadog_api_key: SEKRETKEY1\n"
             "datadog_api_hostname: \"https://ddu:SEKRETPASS2@127.0.0.1:1/?api_key=SEKRETQ3&x=1\"\n"
             "forward_address: \"\"\n")
    v = Veneur(extra_yaml=extra, interval="60s", binary=BIN)
    try:
        status, body = v.http("/config/yaml")
    finally:
        v.stop()
    expect(status == 200, "status %d" % status)
    expect("SEKRET" not in body, "secret shown:\n" + "\n".join(l for l in body.splitlines() if "SEKRET" in l))
    expect("https://<redacted>@127.0.0.1:1" in body, "userinfo replaced: " + body[-1500:])
    expect("1/?api_key=<redacted>&x=1" in body, "query secret replaced: " + body[-1500:])


def test_print_secrets_shows_them():
    d = tempfile.mkdtemp(prefix="vn-e2e-cfg-")
    path = os.path.join(d, "v.yaml")
    http_port = free_port(socket.SOCK_STREAM)
    with open(path, "w") as f:
        f.write('statsd_listen_addresses: []\nhttp_address: "127.0.0.1:%d"\nhttp:\n  config: true\n'
                'metric_sinks: []\ndatadog_api_key: SEKRETKEY3\n'
                'datadog_api_hostname: "https://u:SEKRETPASS4@127.0.0.1:1"\n' % http_port)
    p = subprocess.Popen([BIN, "-print-secrets", "-f", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = wait_for(lambda: http_get(http_port, "/config/yaml"), timeout=10, what="/config/yaml")
    finally:
        p.terminate()
        p.wait(timeout=15)
    expect("SEKRETPASS4" in body and "SEKRETKEY3" in body, "-print-secrets shows secrets")


if __name__ == "__main__":
    check("18-hostile-config/port_above_65535", test_port_above_65535)
    check("18-hostile-config/deep_nesting_refused_fast", test_deep_nesting_is_refused_fast)
    check("18-hostile-config/validate_config_bool_flag", test_validate_config_bool_flag)
    check("18-hostile-config/fifo_config_refused", test_fifo_config_refused)
    check("18-hostile-config/no_empty_error_message", test_no_empty_error_message)
    check("18-hostile-config/implicit_tags_over_parser_limit", test_implicit_tags_over_parser_limit)
    check("18-hostile-config/udp_port_cannot_be_stolen", test_udp_port_cannot_be_stolen)
    check("18-hostile-config/unix_socket_not_unlinked", test_unix_socket_not_unlinked_by_second_start)
    check("18-hostile-config/log_flood_rate_limited", test_log_flood_is_rate_limited)
    check("18-hostile-config/config_yaml_redacts_url_userinfo", test_config_yaml_redacts_url_userinfo)
    check("18-hostile-config/print_secrets_shows_them", test_print_secrets_shows_them)
    run()
