"""bench_cgroup.py - the 25m sidecar figure of `make bench` (issue 22).

A sidecar given 25 millicores must hold >= 125 k lines/s. Two figures per server:

  * computed: 0.025 CPU-s per second / (CPU-s per line) from the CPU trial at 1 M lines/s.
  * measured: the server is moved into a cgroup v1 cpu group with cfs_quota_us 2500 per
    cfs_period_us 100000 (25 m) and the max *sustained* lossless lines/s is found by bisection.
    Sustained = the trial lost nothing (same loss rule as every trial), the socket's receive
    queue is empty within 0.2 s + RXQ_DRAIN_S of the last datagram and, for ours, the flushes
    that fell inside the send carried >= MIN_PROCESSED of the counters sent meanwhile (each flush
    holds one interval of processed work, FlushTimeline). Throttled for up to 97.5 ms in every 100 ms, a
    server slightly too slow would otherwise look lossless: its 4 MiB socket buffer and its
    internal queues (ours: up to 64 batches of records per worker) hide the backlog of a
    few-second trial, which is then flushed after the send.

Every group made here is removed (its tasks moved back to the root group first), also on errors
and on exit (remove_all, called by run_bench.main). When the cpu hierarchy is not writable (not
root, cgroup v2 only) the computed figure is reported alone and says so.
"""
import os
import threading
import time

from bench_util import log, udp_rx_queue

ROOT = "/sys/fs/cgroup/cpu"
PERIOD_US = 100000
QUOTA_US = 2500               # 25 m = 2.5 ms of CPU per 100 ms
CORES = QUOTA_US / PERIOD_US
# loadgen sleeps 0.2 s after its last datagram (to read RcvbufErrors); the queue must be empty
# within one more period after it exits
RXQ_DRAIN_S = 0.1
MIN_PROCESSED = 0.95          # flushed / sent counters during the send, for "sustained"
FLUSH_GAP_S = 0.3             # changes of the flushed total closer than this are one flush
FLUSH_LAG_S = 0.25            # a flush seen this long after the send began ticked after it
CREATED = []                  # paths of groups made here, removed by remove_all()


def writable():
    """None when a group can be made under ROOT, else why not."""
    if not os.path.isfile(os.path.join(ROOT, "cpu.cfs_quota_us")):
        return "no cgroup v1 cpu controller at %s" % ROOT
    if not os.access(ROOT, os.W_OK):
        return "%s is not writable (not root?)" % ROOT
    return None


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


class CpuQuota:
    """One cgroup v1 cpu group with a CFS quota; remove() always leaves nothing behind."""

    def __init__(self, name):
        self.path = os.path.join(ROOT, name)

    def create(self):
        os.mkdir(self.path)
        CREATED.append(self.path)
        _write(os.path.join(self.path, "cpu.cfs_period_us"), PERIOD_US)
        _write(os.path.join(self.path, "cpu.cfs_quota_us"), QUOTA_US)

    def add(self, pid):
        """Moves the whole process (all its threads; children forked later follow it)."""
        _write(os.path.join(self.path, "cgroup.procs"), pid)

    def stat(self):
        """nr_periods, nr_throttled, throttled_time (ns) of cpu.stat."""
        out = {}
        try:
            with open(os.path.join(self.path, "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    out[k] = int(v)
        except (OSError, ValueError):
            pass
        return out

    def remove(self):
        remove_group(self.path)


def remove_group(path):
    for _ in range(20):
        if not os.path.isdir(path):
            break
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [p.strip() for p in f if p.strip()]
            for p in pids:
                try:
                    _write(os.path.join(ROOT, "cgroup.procs"), p)
                except OSError:
                    pass        # exited meanwhile
            os.rmdir(path)
            break
        except OSError:
            time.sleep(0.1)
    if not os.path.isdir(path) and path in CREATED:
        CREATED.remove(path)


def remove_all():
    for path in list(CREATED):
        remove_group(path)
    return list(CREATED)      # what could not be removed


def remove_stale():
    """Removes the groups of earlier runs that were killed before they could (SIGKILL): named
    veneur-bench-PID-* with PID no longer running."""
    try:
        names = os.listdir(ROOT)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) >= 4 and name.startswith("veneur-bench-") and parts[2].isdigit() \
                and not os.path.exists("/proc/%s" % parts[2]):
            remove_group(os.path.join(ROOT, name))


def computed(cpu_s_per_million):
    """Lines/s that 25 m of CPU pays for at the measured CPU-s per million lines."""
    if not cpu_s_per_million:
        return None
    return CORES / (cpu_s_per_million / 1e6)


def sidecar(h, srv, cpu, prev=None):
    """Fills and returns the sidecar entry for srv (running, already measured by cpu_trial).
    h is the run_bench Harness (its trial() and steps); prev the previous run's measured figure."""
    out = {"quota_us": QUOTA_US, "period_us": PERIOD_US,
           "computed_lines_per_s": computed((cpu or {}).get("cpu_s_per_million"))}
    why = writable()
    if why:
        out["note"] = "computed only: " + why
        log("  %s sidecar: %s" % (srv.key, out["note"]))
        return out
    start = prev if isinstance(prev, (int, float)) and prev > 0 else out["computed_lines_per_s"]
    if not start:
        out["note"] = "no CPU figure to start the bisection from"
        return out
    remove_stale()
    grp = CpuQuota("veneur-bench-%d-%s" % (os.getpid(), srv.key))
    trials, lo, hi, best = [], None, None, None
    # Only ours queues samples between its socket and its tables (reader -> worker rings), and
    # only its flushes arrive whole at each tick (brubeck's carbon output comes in buffered
    # bursts): brubeck and statsite aggregate straight from the socket, so its queue is theirs.
    queued = srv.key.startswith("ours")
    out["criterion"] = "lossless, socket queue drained" + (
        ", flushed >= %.0f%% of the send rate during it" % (100 * MIN_PROCESSED) if queued else "")
    try:
        grp.create()
        grp.add(srv.proc.pid)
        time.sleep(0.3)
        st0 = grp.stat()
        r = start
        for _ in range(h.steps["cgroup"]):
            tl = FlushTimeline(srv)
            res = h.trial(srv, int(r), 20, "name", duration=h.cgroup_duration,
                          before_send=tl.start, after_send=lambda: (tl.stop(), drain_time(srv.port)))
            res["drain_s"] = res.pop("after_send")[1]
            res["processed_ratio"], res["intervals"] = tl.processed_ratio(
                res["counter_sum"] / max(1e-9, res["elapsed_s"]))
            res["flushes"] = tl.flushes     # (s after the send began, flushed total)
            res["sustained"] = bool(res["lossless"] and res["drain_s"] is not None and (
                not queued or (res["processed_ratio"] or 0) >= MIN_PROCESSED))
            trials.append(res)
            log("  %-9s 25m r=%d: %s (%ssocket queue %s)" % (
                srv.key, int(r), "sustained" if res["sustained"] else "not sustained",
                "flushed %s of the send rate in %d interval(s) during it; " % (
                    "%.1f%%" % (100 * res["processed_ratio"]) if res["processed_ratio"] else "?",
                    res["intervals"]) if queued else "",
                "empty %.2f s after the send" % (0.2 + res["drain_s"])
                if res["drain_s"] is not None
                else "not empty %.1f s after the send" % (0.2 + RXQ_DRAIN_S)))
            if res["sustained"]:
                lo = max(lo or 0, r)
                if best is None or res["achieved"] > best["achieved"]:
                    best = res
            else:
                hi = min(hi or r, r)
            if lo and hi and (hi <= lo or hi / lo <= 1.06):
                break
            if lo is None:
                r /= 1.4
            elif hi is None:
                r *= 1.4
            else:
                r = (lo * hi) ** 0.5
        st1 = grp.stat()
        out["nr_throttled"] = st1.get("nr_throttled", 0) - st0.get("nr_throttled", 0)
    except OSError as e:
        out["note"] = "cgroup failed (%s): computed only" % e
    finally:
        grp.remove()
        if os.path.isdir(grp.path):
            out["note"] = (out.get("note", "") + " cgroup %s NOT removed" % grp.path).strip()
    out["trials"] = trials
    out["lines_per_s"] = best["achieved"] if best else None
    out["lowest_unsustained"] = hi
    if trials and best is None:
        out["note"] = "no sustained trial (lowest tried %d)" % min(t["target"] for t in trials)
    return out


class FlushTimeline:
    """Polls srv's flush reader while loadgen sends (the only caller then: trial() reads it
    again only after stop()). Each flush carries exactly one interval of the server's work, so
    the counters of the flushes that both began and ended inside the send, divided by that many
    intervals, are the rate the server *processed*, whatever its buffers and internal queues
    hold back; observation lag (the throttled flush writes late) does not change it."""

    def __init__(self, srv):
        self.srv, self.samples, self.t0, self.t1 = srv, [], None, None
        self.ev = threading.Event()
        self.th = None
        self.flushes = []

    def start(self):
        self.t0 = time.time()
        self.samples = [(self.t0, self.srv.reader.totals()[0])]
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.ev.wait(0.02):
            self.samples.append((time.time(), self.srv.reader.totals()[0]))

    def stop(self):
        self.t1 = time.time() - 0.2        # loadgen waits 0.2 s after its last datagram
        self.ev.set()
        if self.th:
            self.th.join(timeout=5)

    def processed_ratio(self, counters_per_s):
        """(flushed counters per interval / counters sent per second, whole intervals used);
        (None, 0) when fewer than two flushes fell inside the send."""
        flushes = []                       # (time of the last change, total): one per flush
        prev = self.samples[0][1] if self.samples else 0
        for t, v in self.samples[1:]:
            if v != prev:
                if flushes and t - flushes[-1][0] < FLUSH_GAP_S:
                    flushes[-1] = (t, v)   # the same flush read in two parts
                else:
                    flushes.append((t, v))
                prev = v
        self.flushes = [(round(t - self.t0, 2), v) for t, v in flushes]
        # a flush seen FLUSH_LAG_S after the send began ticked after it began
        inside = [f for f in flushes if self.t0 + FLUSH_LAG_S <= f[0] <= self.t1]
        if len(inside) < 2 or not counters_per_s:
            return None, 0
        n = len(inside) - 1
        return (inside[-1][1] - inside[0][1]) / (n * self.srv.interval * counters_per_s), n


def drain_time(port, limit=RXQ_DRAIN_S):
    """Seconds (from loadgen's exit) until port's receive queue is empty; None past limit."""
    t0 = time.time()
    while True:
        q = udp_rx_queue(port)
        if q is None or q == 0:
            return time.time() - t0
        if time.time() - t0 > limit:
            return None
        time.sleep(0.005)
