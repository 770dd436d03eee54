"""Shared helpers for veneur-c end-to-end tests (python3 stdlib only).

Every test starts the real build/veneur on 127.0.0.1 with ephemeral ports,
waits on conditions with deadlines (never fixed sleeps), and prints one line
per case: "PASS name" or "FAIL name: why". run() exits non-zero on failure.

Sanitizer builds: env VENEUR_BUILD_DIR (default "build", relative to the repo
root) selects the directory of every binary below, e.g. build/asan or
build/tsan. Deadlines of wait_for are stretched by TIME_SCALE there (env
VENEUR_TIME_SCALE overrides). A Veneur whose stderr holds a sanitizer report
when it stops is reported as "FAIL sanitizer ...". Env VENEUR_BIN names one
veneur binary to run instead (to measure another build).
"""
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.path.join(ROOT, os.environ.get("VENEUR_BUILD_DIR") or "build")
VENEUR = os.path.join(BUILD_DIR, "veneur")
VENEUR_EMIT = os.path.join(BUILD_DIR, "veneur-emit")
VENEUR_PROXY = os.path.join(BUILD_DIR, "veneur-proxy")
VENEUR_PROMETHEUS = os.path.join(BUILD_DIR, "veneur-prometheus")
VN_TESTCERTS = os.path.join(BUILD_DIR, "vn-testcerts")
_SANITIZED = os.path.basename(os.path.normpath(BUILD_DIR))
# Sanitized binaries run several times slower (TSan most): stretch deadlines, never fixed sleeps.
TIME_SCALE = float(os.environ.get("VENEUR_TIME_SCALE") or {"asan": 2, "tsan": 5}.get(_SANITIZED, 1))
# Lines a sanitizer writes to stderr when it finds something.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")
# Defaults for sanitized runs (an explicit env wins): any report makes the process exit non-zero.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "TSAN_OPTIONS": "halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=" +
                    os.path.join(ROOT, "tests", "tsan.supp"),
}
_results = []
_running = []  # Veneur instances not stopped yet, checked by run()


def sanitizer_env(env=None):
    """os.environ plus SANITIZER_ENV defaults plus env: the environment for any binary a test starts."""
    e = dict(SANITIZER_ENV)
    e.update(os.environ)
    e.update(env or {})
    return e


def sanitizer_report(text):
    """The first sanitizer report line in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line.strip()
    return None


def veneur_binary():
    """The veneur binary to run: $VENEUR_BIN, else VENEUR (which honours VENEUR_BUILD_DIR)."""
    return os.environ.get("VENEUR_BIN") or VENEUR


class ScriptedHTTP:
    """An HTTP server on 127.0.0.1 (ephemeral port) whose i-th GET (from 0) is answered
    with script(i) -> (status, body bytes), as a Prometheus text endpoint.
    .hits counts the requests, .url is its /metrics URL; close() stops it."""

    def __init__(self, script, content_type="text/plain; version=0.0.4"):
        self.hits = 0
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with lock:
                    i = outer.hits
                    outer.hits += 1
                status, data = script(i)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d/metrics" % self.port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


PKI_FILES = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")


def test_pki(tag):
    """A fresh test CA, server and client certificate from build/vn-testcerts: {file name: path, "dir": dir}."""
    d = tempfile.mkdtemp(prefix="vn-e2e-pki-%s-" % tag)
    r = subprocess.run([VN_TESTCERTS, d], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("vn-testcerts: %s" % r.stderr)
    out = {k: os.path.join(d, k) for k in PKI_FILES}
    out["dir"] = d
    return out


def yaml_pem(key, path):
    """key as a YAML literal block holding the file's PEM text (the daemon's tls_* keys take contents)."""
    with open(path) as f:
        body = f.read().strip("\n")
    return "%s: |\n%s\n" % (key, "\n".join("  " + l for l in body.splitlines()))


def free_port(kind=socket.SOCK_DGRAM):
    """An ephemeral port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        other = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM)
        try:
            other.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
            other.close()
    raise RuntimeError("no free port")


def wait_for(cond, timeout=10.0, step=0.02, what="condition"):
    """Polls cond() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for " + what)
        time.sleep(step)


class Veneur:
    """A running build/veneur with a jsonl localfile sink."""

    def __init__(self, extra_yaml="", listen=None, interval="1s", env=None, jsonl=True, binary=None):
        self.dir = tempfile.mkdtemp(prefix="vn-e2e-")
        self.udp_port = free_port()
        self.http_port = free_port(socket.SOCK_STREAM)
        self.out = os.path.join(self.dir, "out.jsonl")
        listen = listen if listen is not None else ["udp://127.0.0.1:%d" % self.udp_port]
        lines = ["statsd_listen_addresses:"] + ['  - "%s"' % a for a in listen]
        lines += ['http_address: "127.0.0.1:%d"' % self.http_port, 'interval: "%s"' % interval, "hostname: testhost"]
        if jsonl:
            lines += ["metric_sinks:", "  - kind: localfile", "    name: file",
                      "    config: {flush_file: \"%s\", format: jsonl}" % self.out]
        self.config = os.path.join(self.dir, "veneur.yaml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n" + extra_yaml)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self._stderr = open(self.stderr_path, "a")  # O_APPEND: nothing written to it is overwritten
        self._checked = False
        self.proc = subprocess.Popen([binary or veneur_binary(), "-f", self.config], stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=sanitizer_env(env))
        _running.append(self)
        wait_for(self._healthy, timeout=10, what="veneur /healthcheck")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError("veneur exited %s: %s" % (self.proc.returncode, self.log()[-2000:]))
        try:
            return self.http("/healthcheck")[0] == 200
        except OSError:
            return False

    def http(self, path, method="GET"):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path), method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        """A counter from /metrics (sum over label sets), or 0."""
        _, body = self.http("/metrics")
        total = 0.0
        for line in body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def send_udp(self, data):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(data if isinstance(data, bytes) else data.encode(), ("127.0.0.1", self.udp_port))
        s.close()

    def records(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(l) for l in f if l.strip()]

    def wait_records(self, pred, timeout=10.0, what="flushed records"):
        """Waits until pred(records) is truthy; returns the records."""
        holder = {}

        def cond():
            holder["r"] = self.records()
            return pred(holder["r"])
        wait_for(cond, timeout=timeout, what=what)
        return holder["r"]

    def log(self):
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        self._check_sanitizer()
        return self.proc.returncode

    def _check_sanitizer(self):
        """Once per process: a sanitizer report in stderr is a failed case of its own."""
        if self._checked:
            return
        self._checked = True
        if self in _running:
            _running.remove(self)
        with open(self.stderr_path, errors="replace") as f:
            bad = sanitizer_report(f.read())
        if bad:
            print("FAIL sanitizer (%s, log %s): %s" % (os.path.basename(sys.argv[0]), self.stderr_path, bad),
                  flush=True)
            _results.append(False)



def vm_status_kib(pid, field="VmHWM"):
    """A /proc/PID/status memory field (VmHWM, VmRSS, ...) in KiB, or 0 when absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def vm_hwm_mb(pid):
    return vm_status_kib(pid, "VmHWM") / 1024.0


class PeakRss:
    """Polls VmHWM of a process until it exits (VmHWM only grows: the last read is the peak)."""

    def __init__(self, pid, step=0.02):
        self.pid, self.peak, self.step = pid, 0.0, step
        self._t = threading.Thread(target=self._poll, daemon=True)
        self._t.start()

    def _poll(self):
        while True:
            try:
                self.peak = max(self.peak, vm_hwm_mb(self.pid))
            except (OSError, ValueError):
                return
            time.sleep(self.step)  # a sampling period, bounded by the process's life

    def done(self, timeout=30):
        self._t.join(timeout=timeout)
        return self.peak


def by_name(records, name, tags=None):
    out = [r for r in records if r["name"] == name and (tags is None or r["tags"] == tags)]
    return out


def total(records, name, tags=None):
    return sum(r["value"] for r in by_name(records, name, tags))


def check(name, fn):
    """Runs one case; records PASS/FAIL with the reason."""
    try:
        fn()
        print("PASS " + name, flush=True)
        _results.append(True)
    except Exception as e:  # a failing case must not stop the others
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
        _results.append(False)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run():
    for v in list(_running):  # a test that forgot stop() still gets its sanitizer check
        v.stop()
    sys.exit(0 if all(_results) else 1)
