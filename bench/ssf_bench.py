"""ssf_bench.py - the SSF span figures of `make bench` (ours only; run_bench.py calls run()).

Load comes from bench/tools/ssf_loadgen.c (one SSFSpan per UDP datagram, sendmmsg, paced),
compiled by scripts/bench.sh and passed as --ssf-loadgen. Figures:

  * lossless_ssf2: max lossless spans/s, each span carrying 2 samples (a counter lg.c.ssf = 1
    and a histogram), no span sink. Loss = max(RcvbufErrors delta / sent, 1 - flushed
    lg.c.ssf total / spans sent).
  * lossless_ssf_sink: max lossless spans/s of plain spans (no samples) into a localfile span
    sink. Loss = max(RcvbufErrors delta / sent, 1 - span lines written / spans sent).
  * cpu_s_per_M_spans: CPU-seconds (utime+stime of the daemon) per million 2-sample spans at a
    fixed SSF_CPU_RATE.

Method as for statsd lines: a first unthrottled trial (lossless there = sender-bound), then a
geometric bisection below it (from the previous run's figure when there is one). Trials are 1 s
(the whole SSF part is a few seconds of load plus flush waits).
"""
import os
import subprocess
import time
import urllib.request

SSF_CPU_RATE = 25_000       # spans/s of the CPU trial: below the lossless rate on a loaded 2-core box
TRIAL_S = 1.0


class SpanLinesReader:
    """Cumulative (spans, spans) written by the localfile span sink (one JSON object a line)."""

    def __init__(self, tail_reader_cls, path):
        class Lines(tail_reader_cls):
            def value(self, line):
                return 1.0 if line.strip() else 0.0
        self.r = Lines(path)

    def totals(self):
        return self.r.totals()


class SsfServer:
    """build/veneur with an SSF UDP listener; quacks like run_bench.Server for wait_flushed."""

    def __init__(self, h, rb, sink):
        self.h, self.rb, self.key, self.interval = h, rb, "ours_ssf", 1
        self.port = rb.free_port()
        self.http_port = rb.free_port()
        self.dir = os.path.join(h.work, "ssf-%s-%d" % ("sink" if sink else "samples", int(time.time() * 1000) % 10**7))
        os.makedirs(self.dir, exist_ok=True)
        self.logpath = os.path.join(self.dir, "server.log")
        out, spans = os.path.join(self.dir, "flush.jsonl"), os.path.join(self.dir, "spans.jsonl")
        cfg = os.path.join(self.dir, "veneur.yaml")
        with open(cfg, "w") as f:
            f.write("statsd_listen_addresses: []\n"
                    "ssf_listen_addresses:\n  - udp://127.0.0.1:%d\n"
                    "http_address: \"127.0.0.1:%d\"\nstats_address: \"127.0.0.1:%d\"\n"
                    "interval: 1s\nhostname: bench\nread_buffer_size_bytes: 4194304\n"
                    "num_workers: 2\nnum_span_workers: 2\nspan_channel_capacity: 1024\n"
                    "metric_sinks:\n  - kind: localfile\n    name: file\n"
                    "    config: {flush_file: \"%s\", format: jsonl}\n"
                    % (self.port, self.http_port, h.dead_port, out))
            if sink:
                f.write("span_sinks:\n  - kind: localfile\n    name: spans\n    config: {flush_file: \"%s\"}\n" % spans)
        self.reader = SpanLinesReader(rb.TailReader, spans) if sink else rb.JsonlReader(out)
        self.samples = 0 if sink else 2
        self.proc = rb.spawn([h.bins["ours"], "-f", cfg], self.logpath)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        self.rb.stop(self.proc)
        self.proc = None

    def log_tail(self, n=4):
        try:
            with open(self.logpath, errors="replace") as f:
                return " ".join("".join(f.readlines()[-n:]).split())
        except OSError:
            return ""

    def metrics_text(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=2) as r:
                return r.read().decode("utf-8", "replace")
        except Exception:
            return None


def loadgen(h, rb, srv, rate, duration):
    argv = [h.a.ssf_loadgen, "-H", "127.0.0.1", "-p", str(srv.port), "-r", "%d" % rate, "-d", "%g" % duration,
            "-m", str(srv.samples)]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=duration + 30)
    kv = {}
    for tok in r.stdout.decode().split():
        k, _, v = tok.partition("=")
        try:
            kv[k] = float(v)
        except ValueError:
            pass
    if "sent_spans" not in kv:
        raise RuntimeError("ssf_loadgen printed no summary (exit %d)" % r.returncode)
    return kv


def trial(h, rb, srv, rate, duration=TRIAL_S):
    mark = srv.reader.totals()
    m0 = rb.drop_counters(srv.metrics_text())
    c0 = rb.cpu_seconds(srv.proc.pid)
    lg = loadgen(h, rb, srv, rate, duration)
    got = h.wait_flushed(srv, mark, lg["sent_spans"])
    if not srv.alive():
        raise RuntimeError("server died during an SSF trial: %s" % srv.log_tail(2))
    c1 = rb.cpu_seconds(srv.proc.pid)
    m1 = rb.drop_counters(srv.metrics_text())
    drops = dict((k, v - m0.get(k, 0.0)) for k, v in m1.items() if v - m0.get(k, 0.0) > 0)
    sent = max(1.0, lg["sent_spans"])
    loss_a = max(lg["udp_rcvbuferrors_delta"], 0) / sent
    if lg.get("failed_datagrams", 0) > 0:
        loss_a = max(loss_a, lg["failed_datagrams"] / (sent + lg["failed_datagrams"]))
    loss_b = 1.0 - got[0] / sent if got is not None else 0.0
    loss = max(loss_a, loss_b)
    res = {"target": rate, "achieved": lg["spans_per_s"], "sent_spans": lg["sent_spans"], "loss": loss,
           "loss_rcvbuf": loss_a, "loss_flushed": loss_b, "lossless": loss <= rb.LOSSLESS,
           "sender_bound": lg["spans_per_s"] < 0.95 * rate if rate else True, "cpu_s": c1 - c0}
    if drops:
        res["self_metrics_delta"] = drops   # e.g. veneur_ssf_spans_dropped_total: span queue full
    rb.log("  ssf%-6s r=%-9s got %9.0f spans/s  loss %.4f%% (rcvbuf %.4f%%, flushed %.4f%%)%s"
           % ("-sink" if srv.samples == 0 else "-2smp", rate or "max", res["achieved"], 100 * loss, 100 * loss_a,
              100 * loss_b, "  sender-bound" if res["sender_bound"] else "")
           + "".join("  %s+%d" % (k, v) for k, v in sorted(drops.items())))
    return res


def max_lossless(h, rb, srv, figkey):
    first = trial(h, rb, srv, 0)
    trials = [first]
    if first["lossless"]:
        return {"lines_per_s": first["achieved"], "sender_bound": True, "trials": trials}
    hi, lo, best = first["achieved"], None, None
    prev = h.prev.get(figkey)
    r, grow = (prev, 1.25) if isinstance(prev, (int, float)) and 0 < prev < hi else (hi / 2, 2.0)
    for _ in range(2 if h.quick else 4):
        res = trial(h, rb, srv, int(r))
        trials.append(res)
        if res["lossless"]:
            lo = r if lo is None else max(lo, r)
            if best is None or res["achieved"] > best["achieved"]:
                best = res
        else:
            hi = min(hi, r)
        if lo is not None and (hi <= lo or hi / lo <= 1.06):
            break
        r = r / grow if lo is None else min((lo * hi) ** 0.5, lo * grow)
    out = {"lines_per_s": best["achieved"] if best else None, "sender_bound": bool(best and best["sender_bound"]),
           "lowest_lossy_target": hi, "trials": trials}
    if best is None:
        out["note"] = "no lossless trial (lowest tried %d)" % min(t["target"] or t["achieved"] for t in trials)
    return out


def wait_ready(h, rb, srv):
    t_end = time.time() + 15
    while time.time() < t_end and srv.alive() and not rb.udp_bound(srv.port):
        time.sleep(0.05)
    if not srv.alive() or not rb.udp_bound(srv.port):
        return "did not start: %s" % srv.log_tail()
    for _ in range(2):
        before = srv.reader.totals()
        lg = loadgen(h, rb, srv, 2000, 0.1)
        t_end = time.time() + 6
        while time.time() < t_end and srv.alive():
            if srv.reader.totals()[0] - before[0] >= lg["sent_spans"] > 0:
                return None
            time.sleep(0.1)
    return "no spans flushed within 6 s of a test stream: %s" % srv.log_tail()


def run(h, rb, entry):
    """Fills entry (run_bench's per-server result) with the SSF trials."""
    if not (h.a.ssf_loadgen and os.access(h.a.ssf_loadgen, os.X_OK)):
        entry["status"] = "skipped: no ssf_loadgen (scripts/bench.sh compiles bench/tools/ssf_loadgen.c)"
        return
    entry["status"] = "ok"
    for sink, tag in ((False, "ssf2"), (True, "ssf_sink")):
        srv = SsfServer(h, rb, sink)
        try:
            err = wait_ready(h, rb, srv)
            if err:
                entry["status"] = "skipped: " + err
                return
            rb.log("veneur-c SSF: max lossless spans/s, %s" % ("plain spans, localfile span sink" if sink
                                                                else "2 samples a span"))
            entry["lossless_" + tag] = max_lossless(h, rb, srv, "ours_ssf/lossless_" + tag)
            if not sink:
                rb.log("veneur-c SSF: CPU at %d spans/s" % SSF_CPU_RATE)
                res = trial(h, rb, srv, SSF_CPU_RATE, duration=TRIAL_S * 2)
                entry["cpu"] = {"rate": SSF_CPU_RATE, "cpu_s": res["cpu_s"], "loss": res["loss"],
                                "achieved": res["achieved"],
                                "cpu_s_per_million_spans": res["cpu_s"] / (res["sent_spans"] / 1e6)
                                if res["sent_spans"] else None}
        finally:
            srv.stop()
