"""bench_util.py - process, /proc and flush-output helpers shared by the `make bench` scripts.

Everything here is stdlib only and knows nothing of the servers under test: spawning and killing
process groups, free ports, CPU and RSS of a pid, machine-wide UDP drop counters, the readers of
each server's flush output, our /metrics scrapers and number formatting.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

PREFIX = "lg"                 # loadgen's default metric prefix; its counters are "lg.c.*"
LOSSLESS = 0.001              # <= 0.1 % loss counts as lossless
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# ----------------------------------------------------------------------------- processes

STARTED = []                  # every Popen we started; killed (by process group) on exit


def log(msg):
    sys.stderr.write("[bench] %s\n" % msg)
    sys.stderr.flush()


def spawn(argv, logpath, cwd=None):
    """Starts argv in its own session (so a shell and its children die together)."""
    lf = open(logpath, "ab")
    p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=cwd, start_new_session=True)
    lf.close()
    STARTED.append(p)
    return p


def stop(p, grace=3.0):
    if p is None:
        return
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=5)
    if p in STARTED:
        STARTED.remove(p)


def stop_all():
    for p in list(STARTED):
        try:
            stop(p, grace=1.0)
        except Exception:
            pass


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (small race, fine on a bench box)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def udp_bound(port):
    """True when some socket is bound to UDP port (read-only check of /proc/net/udp)."""
    want = ":%04X" % port
    for f in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    if line.split()[1].endswith(want):
                        return True
        except OSError:
            pass
    return False


def rcvbuf_errors():
    """Machine-wide Udp RcvbufErrors from /proc/net/snmp (None when unreadable)."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [line.split() for line in f if line.startswith("Udp:")]
        return int(rows[1][rows[0].index("RcvbufErrors")])
    except (OSError, IndexError, ValueError):
        return None


def udp_rx_queue(port):
    """Bytes queued on the UDP sockets bound to port on 127.0.0.1 (rx_queue of /proc/net/udp)."""
    want = ":%04X" % port
    total = 0
    try:
        with open("/proc/net/udp") as fh:
            next(fh)
            for line in fh:
                f = line.split()
                if f[1].endswith(want):
                    total += int(f[4].split(":")[1], 16)
    except (OSError, IndexError, ValueError):
        return None
    return total


def cpu_seconds(pid):
    """utime+stime of pid (all its threads), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


def machine_busy(window=0.5):
    """Fraction of all CPUs busy over window seconds (call while nothing of ours runs)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    try:
        t0, i0 = snap()
        time.sleep(window)
        t1, i1 = snap()
        return round(1.0 - (i1 - i0) / max(1, t1 - t0), 3)
    except (OSError, ValueError):
        return None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


# ----------------------------------------------------------------------------- flush readers
# Each reader returns cumulative (counter sum, non-zero counter lines) over everything the server
# flushed since it started; a trial takes the difference around itself.

class NullReader:
    def totals(self):
        return None


class TailReader:
    """Incrementally reads complete lines appended to a file."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.sum = 0.0
        self.series = 0

    def totals(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return (self.sum, self.series)
        cut = data.rfind(b"\n")
        if cut >= 0:
            self.off += cut + 1
            for line in data[:cut].split(b"\n"):
                v = self.value(line)
                if v:
                    self.sum += v
                    self.series += 1
        return (self.sum, self.series)


class JsonlReader(TailReader):
    """veneur-c localfile format: jsonl; counters are {"type":"counter","value":interval sum}."""
    pfx = b'"' + PREFIX.encode() + b".c."

    def value(self, line):
        if self.pfx not in line or b'"counter"' not in line:
            return 0.0
        try:
            o = json.loads(line)
        except ValueError:
            return 0.0
        if o.get("type") != "counter" or not str(o.get("name", "")).startswith(PREFIX + ".c."):
            return 0.0
        return float(o.get("value") or 0.0)


class StatsiteReader(TailReader):
    """statsite stream_cmd text: counts.<key>|<value>|<ts>."""
    pfx = b"counts." + PREFIX.encode() + b".c."

    def value(self, line):
        if not line.startswith(self.pfx):
            return 0.0
        try:
            return float(line.split(b"|")[1])
        except (IndexError, ValueError):
            return 0.0


class StateReader:
    """Totals kept by bench_collector.py (carbon / datadog receivers)."""

    def __init__(self, path):
        self.path = path

    def totals(self):
        try:
            with open(self.path) as f:
                o = json.load(f)
            return (float(o["sum"]), int(o["series"]))
        except (OSError, ValueError, KeyError):
            return (0.0, 0)


def wait_tcp(port, timeout):
    t_end = time.time() + timeout
    while time.time() < t_end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False




def input_drops(text):
    """drop_counters without the breakdowns of another counter (by name, by cause) and without
    the daemon's own self-metrics: one count per sample or datagram lost."""
    return {k: v for k, v in drop_counters(text).items()
            if "by_name" not in k and "byte_budget" not in k and "self_metrics" not in k}


def drop_counters(text):
    """Our /metrics counters that count lost or rejected input: {series: value}."""
    out = {}
    for line in (text or "").splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^(veneur_\S*(?:drop|error|toolong)\S*)\s+(\S+)$", line)
        if m and "sink" not in m.group(1):
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def scrape_flush(text, acc):
    """Keeps the largest veneur_flush_duration_* gauge and series count seen on /metrics."""
    if not text:
        return
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^(veneur_[A-Za-z0-9_]*flush_duration[A-Za-z0-9_]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and not m.group(1).endswith("_total") and not m.group(1).endswith("_sum") \
                and not m.group(1).endswith("_count"):
            try:
                v = float(m.group(3))
            except ValueError:
                continue
            if "_ns" in m.group(1):
                v /= 1e9
            k = "max_sink_flush_s" if m.group(1).startswith("veneur_sink") else "max_flush_s"
            acc[k] = v if acc[k] is None else max(acc[k], v)
        m = re.match(r"^veneur_series\s+(\S+)", line)
        if m:
            v = float(m.group(1))
            acc["max_series"] = v if acc["max_series"] is None else max(acc["max_series"], v)


def fmt(fig, v):
    if v is None:
        return "-"
    if fig.startswith("lossless") or fig.startswith("sidecar") or fig.endswith("_dps"):
        return human(v)
    if fig.endswith("_err"):
        return "%.1e" % v
    if fig.startswith("micro"):
        return "%.1f" % v
    if fig.startswith("ratio"):
        return "%.2f" % v
    if fig.startswith("cpu"):
        return "%.3f" % v
    if fig.startswith("bytes"):
        return "%.0f" % v
    if fig.startswith("flush_ms"):
        return "%.1f" % v
    if fig.startswith("flush"):
        return "%.3f" % v
    if fig.startswith("drops"):
        return "%d" % v
    return str(v)


def human(v):
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e3:
        return "%.0fk" % (v / 1e3)
    return "%.0f" % v


def git_rev(repo):
    try:
        return subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=5).stdout.decode().strip() or None
    except Exception:
        return None
