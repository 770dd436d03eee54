#!/usr/bin/env python3
"""run_bench.py - end-to-end throughput / CPU / memory benchmark of build/veneur against its peers.

Called by scripts/bench.sh (`make bench`). Measures, the way ../shared/peers/README.md describes,
every server that exists: build/veneur (ours), Go Veneur, statsite, brubeck and udpsink (the raw
recvmmsg ceiling). A peer that is not built is skipped and reported as such.

  * max lossless lines/s, 20 lines per datagram (tags folded into names; also DogStatsD tags for
    ours and Go Veneur) and 1 line per datagram, found by bisection on loadgen's -r.
    Loss of a trial = max(RcvbufErrors delta / datagrams sent, 1 - counter total flushed /
    counter_sum); lossless = loss <= 0.1 %.
  * ratio of that rate to the udpsink ceiling for the same datagram shape.
  * CPU-seconds per million lines: utime+stime of the server across a trial at a fixed rate.
  * RSS bytes per counter series after 1 M distinct counter series (peak RSS minus RSS before).
  * ours only: flush duration at 1 M series from GET /metrics (veneur_flush_duration_*), if exposed.
  * ours only, SSF (bench/ssf_bench.py): max lossless spans/s over UDP (2 samples a span; plain
    spans into a localfile span sink) and CPU-seconds per million spans.
  * two senders (ours w2, brubeck, udpsink): two loadgens in parallel, max lossless lines/s.
  * 25m sidecar (bench_cgroup.py; ours w1; brubeck, statsite in full mode): max sustained lines/s under a
    cgroup CPU quota of 25 millicores, and 0.025 / CPU-s per line.
  * the micro-benchmark binaries in build/bench/, output included verbatim.
  * last, the issue-22 targets (bench_targets.py): each target beside the peers, with a verdict.

Output: one table on stdout (previous run beside the current one); results saved to
bench/results/latest.json after bench/results/latest.json was copied to previous.json.
Progress goes to stderr. BENCH_QUICK=1 shortens everything (~4 minutes; full ~10).
Everything runs on 127.0.0.1 and every process started here is killed on exit.
"""
import argparse
import datetime
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import bench_cgroup
import bench_targets
import ssf_bench
from bench_servers import SERVERS, Server
# run_bench's own names, also used by ssf_bench through this module (rb.free_port, rb.log, ...)
from bench_util import (LOSSLESS, JsonlReader, TailReader, cpu_seconds,  # noqa: F401
                        drop_counters, fmt, free_port, git_rev, human, input_drops, loadavg, log,
                        machine_busy, on_signal, rss_bytes, scrape_flush, spawn, stop, stop_all,
                        udp_bound, rcvbuf_errors)

# ----------------------------------------------------------------------------- the harness


class Harness:
    def __init__(self, a):
        self.a = a
        self.quick = a.quick
        self.repo = a.repo
        self.work = a.work
        os.makedirs(self.work, exist_ok=True)
        self.collector = os.path.join(self.repo, "bench", "bench_collector.py")
        self.dead_port = free_port()   # self-metrics go here and are dropped
        self.bins = {"ours": a.ours or os.path.join(self.repo, "build", "veneur"),
                     "goveneur": os.path.join(a.peers_bin, "veneur"),
                     "statsite": os.path.join(a.peers_bin, "statsite"),
                     "brubeck": os.path.join(a.peers_bin, "brubeck"),
                     "udpsink": a.udpsink}
        self.bins["ours_ssf"] = self.bins["ours"]
        self.duration = 1.0 if self.quick else 2.0
        self.steps = {"l20": 3 if self.quick else 7, "l1": 2 if self.quick else 6,
                      "l20_2s": 4 if self.quick else 5, "cgroup": 4 if self.quick else 6}
        self.cgroup_duration = 4.0 if self.quick else 5.0
        self.prev = {}
        self.results = {"servers": {}, "figures": {}, "micro": {}}

    def kind_of(self, key):
        return dict((k, kind) for k, _, kind in SERVERS)[key]

    # -- loadgen
    def loadgen(self, port, args, timeout=None, senders=1, after_send=None, before_send=None):
        """Runs loadgen (senders > 1: that many in parallel, each at rate/senders with its own
        seed) and returns its summary; for several, the sums, lines_per_s over the longest run and
        RcvbufErrors read here around all of them (each loadgen's own delta counts the others').
        before_send() is called just before the first sender starts; after_send() as soon as the
        last one exits; its value is kv["after_send"]."""
        d = 0.0
        if "-d" in args:
            d = float(args[args.index("-d") + 1])
        argvs = []
        for i in range(senders):
            a = list(args)
            if senders > 1:
                if "-r" in a:
                    j = a.index("-r") + 1
                    a[j] = "%d" % (int(float(a[j])) // senders)
                if "-s" in a:
                    j = a.index("-s") + 1
                    a[j] = str(int(a[j]) + i)
            argvs.append([self.a.loadgen, "-H", "127.0.0.1", "-p", str(port)] + a)
        rb0 = rcvbuf_errors()
        if before_send:
            before_send()
        procs = [subprocess.Popen(v, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  start_new_session=True) for v in argvs]
        outs = []
        try:
            for p in procs:
                outs.append((p.communicate(timeout=timeout or (d + 60))[0], p.returncode))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        probe = after_send() if after_send else None
        kvs = []
        for out, rc in outs:
            kv = {}
            for tok in out.decode().split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    try:
                        kv[k] = float(v) if "." in v else int(v)
                    except ValueError:
                        kv[k] = v
            if "sent_datagrams" not in kv:
                raise RuntimeError("loadgen printed no summary (exit %d)" % rc)
            kvs.append(kv)
        kv = kvs[0]
        if senders > 1:
            kv = {k: sum(x[k] for x in kvs) for k in (
                "sent_datagrams", "sent_lines", "counter_sum", "counter_lines", "failed_datagrams")}
            kv["elapsed_s"] = max(x["elapsed_s"] for x in kvs)
            kv["lines_per_s"] = kv["sent_lines"] / max(1e-9, kv["elapsed_s"])
            rb1 = rcvbuf_errors()
            kv["udp_rcvbuferrors_delta"] = rb1 - rb0 if rb0 is not None and rb1 is not None \
                else max(x["udp_rcvbuferrors_delta"] for x in kvs)
            kv["senders"] = senders
        if after_send:
            kv["after_send"] = probe
        return kv

    # -- one trial: send, wait for the flush, compute loss
    def trial(self, srv, rate, lpd, style="name", duration=None, extra=None, senders=1,
              after_send=None, before_send=None):
        duration = duration or self.duration
        args = extra or ["-l", str(lpd), "-m", "c=60,g=20,ms=20", "-N", "100", "-K", "10",
                         "-T", style, "-o", "rand", "-c", "1", "-s", "7",
                         "-r", "%d" % rate, "-d", "%g" % duration]
        mark = srv.reader.totals()
        m0 = drop_counters(srv.metrics_text()) if srv.key.startswith("ours") else {}
        c0 = cpu_seconds(srv.proc.pid)
        lg = self.loadgen(srv.port, args, senders=senders, after_send=after_send,
                          before_send=before_send)
        got = self.wait_flushed(srv, mark, lg["counter_sum"])
        c1 = cpu_seconds(srv.proc.pid) if srv.alive() else c0
        m1 = drop_counters(srv.metrics_text()) if m0 else {}
        drops = dict((k, v - m0.get(k, 0.0)) for k, v in m1.items() if v - m0.get(k, 0.0) > 0)
        if not srv.alive():
            raise RuntimeError("server died during a trial (%s); log: %s"
                               % (srv.exit_desc(), srv.log_tail(2)))
        sent = max(1, lg["sent_datagrams"])
        loss_a = lg["udp_rcvbuferrors_delta"] / sent
        loss_b = 0.0
        if got is not None and lg["counter_sum"] > 0:
            loss_b = 1.0 - got[0] / lg["counter_sum"]
        if lg.get("failed_datagrams", 0) > 0:
            loss_a = max(loss_a, lg["failed_datagrams"] / (sent + lg["failed_datagrams"]))
        loss = max(loss_a, loss_b)
        res = {"target": rate, "achieved": lg["lines_per_s"], "sent_lines": lg["sent_lines"],
               "loss": loss, "loss_rcvbuf": loss_a, "loss_counters": loss_b,
               "lossless": loss <= LOSSLESS,
               "sender_bound": lg["lines_per_s"] < 0.95 * rate if rate else True,
               "cpu_s": c1 - c0, "series": got[1] if got else None}
        if senders > 1:
            res["senders"] = senders
        if after_send:
            res["after_send"] = lg["after_send"]
            res["elapsed_s"] = lg["elapsed_s"]
            res["counter_sum"] = lg["counter_sum"]
        if drops:
            res["self_metrics_delta"] = drops   # where our daemon says it lost samples
        log("  %-9s r=%-9s got %9.0f lines/s  loss %.4f%% (rcvbuf %.4f%%, counters %.4f%%)%s"
            % (srv.key, rate or "max", res["achieved"], 100 * loss, 100 * loss_a, 100 * loss_b,
               "  sender-bound" if res["sender_bound"] else "")
            + ("  (%d senders)" % senders if senders > 1 else "")
            + "".join("  %s+%d" % (k, v) for k, v in sorted(drops.items())))
        return res

    def wait_flushed(self, srv, mark, want, max_wait=None):
        """Waits until the counters flushed since mark reach want, or stop changing for 2 s."""
        if mark is None:
            return None
        max_wait = max_wait or 10.0
        quiet = max(2.0, srv.interval + 1.5)   # no flush for this long: nothing more is coming
        t0 = time.time()
        last, last_change = srv.reader.totals(), time.time()
        while time.time() - t0 < max_wait:
            now = srv.reader.totals()
            if now != last:
                last, last_change = now, time.time()
            if now[0] - mark[0] >= want * (1 - 1e-12):
                break
            if time.time() - last_change > quiet:
                break
            time.sleep(0.1)
        return (last[0] - mark[0], last[1] - mark[1])

    # -- max lossless rate by bisection
    def max_lossless(self, srv, lpd, style, figkey, senders=1):
        """First an unthrottled trial (-r 0): lossless there means the server keeps up with all
        loadgen can send (sender-bound). Otherwise bisect geometrically below that rate, starting
        from the previous run's figure when there is one."""
        trials = []
        first = self.trial(srv, 0, lpd, style, senders=senders)
        trials.append(first)
        if first["lossless"]:
            return {"lines_per_s": first["achieved"], "sender_bound": True,
                    "lowest_lossy_target": None, "trials": trials}
        hi = first["achieved"]
        lo = None
        best = None
        prev = self.prev.get(figkey)
        if isinstance(prev, (int, float)) and 0 < prev < hi:
            r, grow = prev, 1.25
        else:
            r, grow = hi / 2, 2.0
        for _ in range(self.steps["l20_2s" if senders > 1 else "l20" if lpd > 1 else "l1"] - 1):
            res = self.trial(srv, int(r), lpd, style, senders=senders)
            trials.append(res)
            if res["lossless"]:
                if lo is None or r > lo:
                    lo = r
                if best is None or res["achieved"] > best["achieved"]:
                    best = res
                if res["sender_bound"]:
                    break
            else:
                hi = min(hi, r)
            if lo is not None and (hi <= lo or hi / lo <= 1.06):
                break
            if lo is None:
                r = r / grow
            else:
                r = min(math.sqrt(lo * hi), lo * grow)
        out = {"lines_per_s": best["achieved"] if best else None,
               "sender_bound": bool(best and best["sender_bound"]),
               "lowest_lossy_target": hi, "trials": trials}
        if best is None:
            out["note"] = "no lossless trial (lowest tried %d)" % min(t["target"] or t["achieved"]
                                                                      for t in trials)
        return out

    # -- CPU at a fixed rate
    def cpu_trial(self, srv, rate):
        """CPU-s per M lines at a fixed rate: the median of 3 trials (1 in quick mode). One
        3 s trial is ~60 clock ticks of /proc CPU time and swung by +-20 % on a shared VM;
        every server gets the same number of trials, so the ratios stay like for like."""
        runs = []
        for _ in range(1 if self.quick else 3):
            res = self.trial(srv, rate, 20, "name", duration=self.duration * 1.5)
            per_m = res["cpu_s"] / (res["sent_lines"] / 1e6) if res["sent_lines"] else None
            runs.append((per_m if per_m is not None else float("inf"), res))
        runs.sort(key=lambda r: r[0])
        per_m, res = runs[len(runs) // 2]
        return {"rate": rate, "cpu_s": res["cpu_s"],
                "cpu_s_per_million": None if per_m == float("inf") else per_m,
                "cpu_s_per_million_runs": [r[0] for r in runs],
                "loss": res["loss"], "achieved": res["achieved"]}

    # -- memory per counter series (fresh instance)
    def mem_trial(self, key, workers, lossless=None, mix=False):
        """Fresh instance with a long interval, so that all N new counter series are held at once:
        baseline RSS right after the warm-up flush, then N series sent within 70 % of one interval
        (at min(--mem-rate, 40 % of the server's lossless rate), raised if needed to fit the
        interval), then the single flush that carries them all. mix: the N series are a 1:1:1 mix
        of counters, timers and sets (issue 22's flush figure), so bytes/series is not a
        counter figure then; the flush duration and the drops during it are what it is for."""
        n = self.a.mem_series
        ival = self.a.mem_interval
        srv = Server(self, key, workers, interval=ival)
        try:
            srv.start()
            err = srv.wait_ready()           # returns just after a flush: a fresh interval
            if err:
                return {"error": err}
            time.sleep(0.2)
            base = rss_bytes(srv.proc.pid)
            peak = [base]
            flush = {"max_flush_s": None, "max_sink_flush_s": None, "max_series": None}
            stop_ev = threading.Event()

            def sampler():
                k = 0
                while not stop_ev.is_set() and srv.alive():
                    try:
                        peak[0] = max(peak[0], rss_bytes(srv.proc.pid))
                    except OSError:
                        break
                    if key.startswith("ours") and k % 2 == 0:
                        scrape_flush(srv.metrics_text(), flush)
                    k += 1
                    time.sleep(0.05)

            th = threading.Thread(target=sampler, daemon=True)
            mark = srv.reader.totals()
            th.start()
            rate = self.a.mem_rate
            if lossless:
                rate = min(rate, 0.4 * lossless)
            rate = int(max(rate, n / (0.7 * ival)))
            drops0 = input_drops(srv.metrics_text()) if key.startswith("ours") else {}
            lg = self.loadgen(srv.port, ["-l", "20", "-m", "c=1,ms=1,s=1" if mix else "c=1", "-N", str(n), "-o", "seq",
                                         "-n", str(n), "-r", str(rate)])
            got = self.wait_flushed(srv, mark, lg["counter_sum"], max_wait=2 * ival + 10)
            time.sleep(1.2)            # one more flush: the last one's duration is now final
            stop_ev.set()
            th.join(timeout=5)
            if key.startswith("ours"):
                scrape_flush(srv.metrics_text(), flush)
            if not srv.alive():
                return {"error": "server died (%s): %s" % (srv.exit_desc(), srv.log_tail(2))}
            after = rss_bytes(srv.proc.pid)
            drops1 = input_drops(srv.metrics_text()) if key.startswith("ours") else {}
            series = got[1] if got else None
            if not series:
                series = lg["counter_lines"] - lg["udp_rcvbuferrors_delta"] * 20
            out = {"series_sent": lg["counter_lines"], "series_received": series, "interval": ival,
                   "rss_base": base, "rss_peak": peak[0], "rss_after": after, "rate": rate,
                   "bytes_per_series": (peak[0] - base) / series if series > 0 else None,
                   "bytes_per_series_after": (after - base) / series if series > 0 else None,
                   "rcvbuf_drops": lg["udp_rcvbuferrors_delta"],
                   "daemon_drops": sum(v - drops0.get(k, 0) for k, v in drops1.items()),
                   "daemon_drops_by": {k: v - drops0.get(k, 0) for k, v in drops1.items()
                                       if v - drops0.get(k, 0)}, "mix": mix}
            if mix:  # series_received counts counters only: scale to all three types
                out["bytes_per_series"] = out["bytes_per_series_after"] = None
            out.update(flush)
            log("  %-9s mem%s: %d series, RSS %.1f -> peak %.1f MiB, %.0f B/series%s, drops rcvbuf %d daemon %d"
                % (key, " (mix)" if mix else "", series, base / 2**20, peak[0] / 2**20,
                   out["bytes_per_series"] or -1,
                   ", flush %.3fs" % flush["max_flush_s"] if flush["max_flush_s"] else "",
                   out["rcvbuf_drops"], out["daemon_drops"]))
            return out
        finally:
            srv.stop()

    # -- everything about one server
    def run_server(self, key, label):
        kind = self.kind_of(key)
        binp = self.bins[kind]
        entry = {"label": label}
        self.results["servers"][key] = entry
        if not (binp and os.path.isfile(binp) and os.access(binp, os.X_OK)):
            entry["status"] = "skipped: not built (%s)" % binp
            log("%s: %s" % (label, entry["status"]))
            return
        if key == "ours_w1" and self.results["servers"].get("ours", {}).get("status") != "ok":
            entry["status"] = "skipped: num_workers 2 run did not succeed"
            return
        workers = 1 if key == "ours_w1" else 2
        entry["others_busy"] = machine_busy()
        log("%s: starting (machine %.0f%% busy with other work)" % (label, 100 * (entry["others_busy"] or 0)))
        if kind == "ours_ssf":
            try:
                ssf_bench.run(self, sys.modules[__name__], entry)
            except Exception as e:
                entry["error"] = str(e)
                log("%s: error: %s" % (label, e))
            return
        srv = Server(self, key, workers)
        try:
            srv.start()
            err = srv.wait_ready()
            if err:
                entry["status"] = "skipped: " + err
                log("%s: %s" % (label, entry["status"]))
                return
            entry["status"] = "ok"
            plans = [("l20", 20, "name", 1)]
            if key == "ours" or (key == "goveneur" and not self.quick):
                plans.append(("l20_dog", 20, "dog", 1))
            if not (self.quick and key == "ours_w1"):
                plans.append(("l1", 1, "name", 1))
            if key in ("ours", "brubeck", "udpsink"):
                # issue 22: two loadgen processes, so that one sender is not the ceiling
                plans.append(("l20_2s", 20, "name", 2))
            if self.a.flush_only:
                plans = []
            for tag, lpd, style, senders in plans:
                fk = "%s/lossless_%s" % (key, tag)
                log("%s: max lossless, %d line(s)/datagram, -T %s, %d sender(s)"
                    % (label, lpd, style, senders))
                entry["lossless_" + tag] = self.max_lossless(srv, lpd, style, fk, senders)
            if not self.a.flush_only:
                log("%s: CPU at %d lines/s" % (label, self.a.cpu_rate))
                entry["cpu"] = self.cpu_trial(srv, self.a.cpu_rate)
            # last on this instance, so that no other figure is taken under the quota
            if not self.a.flush_only and (key == "ours_w1" or (
                    key in ("brubeck", "statsite") and not self.quick)):
                log("%s: max sustained lines/s under a 25m CPU quota" % label)
                entry["sidecar"] = bench_cgroup.sidecar(
                    self, srv, entry.get("cpu"), self.prev.get("%s/sidecar_25m" % key))
        except Exception as e:
            # keep what was measured; the table shows the error under the figures
            entry["error"] = str(e)
            log("%s: error: %s" % (label, e))
            return
        finally:
            srv.stop()
        if kind != "udpsink" and key != "ours_w1":
            log("%s: memory, %d distinct counter series" % (label, self.a.mem_series))
            try:
                entry["memory"] = self.mem_trial(
                    key, workers, entry.get("lossless_l20", {}).get("lines_per_s"))
            except Exception as e:
                entry["memory"] = {"error": str(e)}
            if key == "ours":
                log("%s: flush of %d series, 1:1:1 counters/timers/sets" % (label, self.a.mem_series))
                try:
                    entry["memory_mix"] = self.mem_trial(key, workers, None, mix=True)
                except Exception as e:
                    entry["memory_mix"] = {"error": str(e)}

    # -- micro-benchmarks
    def run_micro(self):
        d = os.path.join(self.repo, "build", "bench")
        if not os.path.isdir(d):
            return
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if not (os.path.isfile(p) and os.access(p, os.X_OK)):
                continue
            if self.a.flush_only and name != "flush_bench":
                continue
            log("micro-benchmark %s" % name)
            t0 = time.time()
            try:
                r = subprocess.run([p], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   cwd=self.repo, timeout=60 if self.quick else 180,
                                   env=dict(os.environ, BENCH_QUICK="1" if self.quick else "0"))
                txt, rc = r.stdout.decode("utf-8", "replace"), r.returncode
            except subprocess.TimeoutExpired as e:
                txt, rc = (e.stdout or b"").decode("utf-8", "replace") + "\n(timed out)", -1
            self.results["micro"][name] = {"exit": rc, "seconds": round(time.time() - t0, 1),
                                           "output": txt[-20000:]}

    # -- figures, table
    def figures(self):
        f = {}
        S = self.results["servers"]
        ceil = {}
        for tag in ("l20", "l1", "l20_2s"):
            v = S.get("udpsink", {}).get("lossless_" + tag, {}).get("lines_per_s")
            if v:
                ceil[tag] = v
        for key, _, kind in SERVERS:
            e = S.get(key, {})
            if e.get("status") != "ok":
                continue
            for tag in ("l20", "l20_dog", "l1", "l20_2s"):
                v = e.get("lossless_" + tag, {}).get("lines_per_s")
                if v:
                    f["%s/lossless_%s" % (key, tag)] = v
                    base = ceil.get(ceiling_tag(tag))
                    if base and key != "udpsink":
                        f["%s/ratio_%s" % (key, tag)] = v / base
            for tag in ("ssf2", "ssf_sink"):
                v = e.get("lossless_" + tag, {}).get("lines_per_s")
                if v:
                    f["%s/lossless_%s" % (key, tag)] = v
            c = e.get("cpu", {}).get("cpu_s_per_million")
            if c is not None:
                f["%s/cpu_s_per_M" % key] = c
                f["%s/sidecar_25m_computed" % key] = bench_cgroup.computed(c)
            v = e.get("sidecar", {}).get("lines_per_s")
            if v:
                f["%s/sidecar_25m" % key] = v
            c = e.get("cpu", {}).get("cpu_s_per_million_spans")
            if c is not None:
                f["%s/cpu_s_per_M_spans" % key] = c
            m = e.get("memory", {})
            if m.get("bytes_per_series") is not None:
                f["%s/bytes_per_series" % key] = m["bytes_per_series"]
                f["%s/bytes_per_series_after" % key] = m["bytes_per_series_after"]
            if m.get("max_flush_s") is not None:
                f["%s/flush_s_mem" % key] = m["max_flush_s"]
            m = e.get("memory_mix", {})
            if m.get("max_flush_s") is not None:
                f["%s/flush_s_mix" % key] = m["max_flush_s"]
            for mk in ("memory", "memory_mix"):
                if e.get(mk, {}).get("rcvbuf_drops") is not None:
                    f["%s/drops_%s" % (key, "mem" if mk == "memory" else "mix")] = \
                        e[mk]["rcvbuf_drops"] + (e[mk].get("daemon_drops") or 0)
        # bench/flush_bench.c: the flusher's own work without sinks (median ms)
        micro = bench_targets.parse_micro(self.results["micro"])
        for src, fig in (("micro_flush_c_ms", "flush_ms_micro_c"),
                         ("micro_flush_mix_ms", "flush_ms_micro_mix")):
            if src in micro and S.get("ours", {}).get("status") == "ok":
                f["ours/%s" % fig] = micro[src]
        # the other micro-benchmark figures of issue 22 (proxy, global merge, histogram memory)
        for k, v in micro.items():
            f["ours/" + k] = v
        return f

    def note(self, key, fig):
        """Short caveat shown beside a current figure."""
        S = self.results["servers"]
        e = S.get(key, {})
        if fig.startswith("lossless") and e.get("lossless_" + fig[9:], {}).get("sender_bound"):
            return " (sender-bound)"
        if fig.startswith("ratio"):
            tag = fig[6:]
            if e.get("lossless_" + tag, {}).get("sender_bound") and \
                    S.get("udpsink", {}).get("lossless_" + ceiling_tag(tag), {}).get("sender_bound"):
                return " (both sender-bound)"
        if fig.startswith("cpu") and e.get("cpu", {}).get("loss", 0) > LOSSLESS:
            return " (lossy: %.1f%%)" % (100 * e["cpu"]["loss"])
        if fig.startswith("bytes") and fig.endswith("series"):
            m = e.get("memory", {})
            if m.get("series_received") and m["series_received"] < 0.999 * m["series_sent"]:
                return " (%.0f%% of series received)" % (100.0 * m["series_received"] / m["series_sent"])
        return ""

    def table(self):
        cur, prev = self.results["figures"], self.prev
        names = {
            "lossless_l20": "max lossless lines/s, 20/dgram",
            "ratio_l20": "  ratio to udpsink ceiling",
            "lossless_l20_dog": "max lossless lines/s, 20/dgram, -T dog",
            "ratio_l20_dog": "  ratio to udpsink ceiling",
            "lossless_l1": "max lossless lines/s, 1/dgram",
            "ratio_l1": "  ratio to udpsink ceiling",
            "lossless_l20_2s": "max lossless lines/s, 20/dgram, 2 senders",
            "ratio_l20_2s": "  ratio to udpsink, 2 senders",
            "cpu_s_per_M": "CPU-s per M lines @%s/s" % human(self.a.cpu_rate),
            "sidecar_25m": "max sustained lines/s under a 25m CPU quota",
            "sidecar_25m_computed": "  computed: 0.025 / CPU-s per line",
            "bytes_per_series": "RSS bytes per counter series (peak, %s held)" % human(self.a.mem_series),
            "bytes_per_series_after": "  same, RSS after the flush",
            "flush_s_mem": "flush duration at %s series (s)" % human(self.a.mem_series),
            "drops_mem": "  datagrams/samples dropped in that trial",
            "flush_s_mix": "flush duration, %s series 1:1:1 c/ms/s (s)" % human(self.a.mem_series),
            "drops_mix": "  datagrams/samples dropped in that trial",
            "flush_ms_micro_c": "flusher work, counters (ms, flush_bench median)",
            "flush_ms_micro_mix": "flusher work, 1:1:1 c/ms/s (ms, flush_bench median)",
            "micro_proxy_route_ns": "proxy routing ns/metric (proxy_bench)",
            "micro_global_merge_dps": "global merge digests/s (merge_bench)",
            "micro_hist_bytes": "B per histogram series, 1000 samples (merge_bench)",
            "micro_hist_p99_err": "  p99 rank error after 100-way merge",
            "micro_hist_p999_err": "  p99.9 rank error after 100-way merge",
            "lossless_ssf2": "max lossless spans/s, 2 samples/span",
            "lossless_ssf_sink": "max lossless spans/s, localfile span sink",
            "cpu_s_per_M_spans": "CPU-s per M spans @%s/s" % human(ssf_bench.SSF_CPU_RATE),
        }
        order = list(names)
        rows = [("server", "figure", "previous", "current", "change")]
        notes = []
        for key, label, _ in SERVERS:
            e = self.results["servers"].get(key, {})
            if e.get("status") != "ok":
                rows.append((label, e.get("status", "not run"), "", "", ""))
                continue
            first = True
            for fig in order:
                k = "%s/%s" % (key, fig)
                if k not in cur and k not in prev:
                    continue
                c, p = cur.get(k), prev.get(k)
                ch = ""
                if isinstance(c, (int, float)) and isinstance(p, (int, float)) and p:
                    ch = "%+.1f%%" % (100.0 * (c - p) / p)
                v = fmt(fig, c)
                if c is not None:
                    v += self.note(key, fig)
                rows.append((label if first else "", names[fig], fmt(fig, p), v, ch))
                first = False
            for what in ("error", "memory"):
                err = e.get(what) if what == "error" else e.get(what, {}).get("error")
                if err:
                    notes.append("%s: %s%s" % (label, "" if what == "error" else "memory trial: ",
                                               " ".join(err.split())[:300]))
                    rows.append((label if first else "", "(%s trial failed, see below)" % what
                                 if what == "memory" else "(stopped by an error, see below)",
                                 "", "", ""))
                    first = False
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for i, r in enumerate(rows):
            lines.append("  ".join(r[j].ljust(w[j]) if j < 2 else r[j].rjust(w[j])
                                   for j in range(5)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w[j] for j in range(5)))
        for n in notes:
            lines.append("! " + n)
        return "\n".join(lines)

    def run(self):
        # Quick runs keep their own history: their trials are shorter, so not comparable.
        sfx = "-quick" if self.quick else ""
        lp = os.path.join(self.a.results, "latest%s.json" % sfx)
        pp = os.path.join(self.a.results, "previous%s.json" % sfx)
        os.makedirs(self.a.results, exist_ok=True)
        if self.a.only:
            # A partial run compares with latest.json but does not rotate the history.
            pp, lp = lp, os.path.join(self.a.results, "partial%s.json" % sfx)
        elif os.path.isfile(lp):
            shutil.copyfile(lp, pp)
        if os.path.isfile(pp):
            try:
                with open(pp) as f:
                    self.prev = json.load(f).get("figures", {})
            except (OSError, ValueError):
                self.prev = {}
        t0 = time.time()
        self.results.update({
            "schema": 1, "quick": self.quick, "only": self.a.only or None,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": {"nproc": os.cpu_count(), "kernel": os.uname().release,
                     "loadavg_start": loadavg()},
            "git": git_rev(self.repo),
            "method": {"stream": "loadgen -l L -m c=60,g=20,ms=20 -N 100 -K 10 -T name|dog "
                                 "-o rand -c 1 -s 7 -r RATE -d %g" % self.duration,
                       "lossless_max_loss": LOSSLESS, "cpu_rate": self.a.cpu_rate,
                       "memory": "fresh instance, interval %d s; loadgen -l 20 -m c=1 -N %d -o seq "
                                 "-n %d -r R within one interval; (peak RSS - RSS before) / "
                                 "series flushed" % (self.a.mem_interval, self.a.mem_series,
                                                     self.a.mem_series)},
        })
        only = set(self.a.only.split(",")) if self.a.only else None
        for key, label, _ in SERVERS:
            if only and key not in only:
                continue
            self.run_server(key, label)
        if not self.a.no_micro:
            self.run_micro()
        self.results["figures"] = self.figures()
        trows, tnotes = bench_targets.rows(self.results, self.a.mem_series, self.quick)
        self.results["targets"] = bench_targets.to_json(trows, tnotes)
        self.results["host"]["loadavg_end"] = loadavg()
        self.results["seconds"] = round(time.time() - t0, 1)
        tmp = lp + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.results, f, indent=1, sort_keys=True)
        os.replace(tmp, lp)
        print("veneur-c benchmark (%s mode, %d cores, %.0f s, load %s -> %s)"
              % ("quick" if self.quick else "full", os.cpu_count(), self.results["seconds"],
                 self.results["host"]["loadavg_start"], self.results["host"]["loadavg_end"]))
        busy = [e.get("others_busy") or 0 for e in self.results["servers"].values()]
        if busy and max(busy) > 0.15:
            print("WARNING: other work kept the machine up to %.0f%% busy between servers "
                  "(see others_busy in the JSON): these figures are unreliable" % (100 * max(busy)))
        print(self.table())
        for name, m in self.results["micro"].items():
            print("\n== micro-benchmark %s (exit %d, %.1f s)" % (name, m["exit"], m["seconds"]))
            print(m["output"].rstrip())
        print("\n== issue 22 targets (all figures from this run)")
        print(bench_targets.render(trows, tnotes))
        print("\nresults: %s (compared with: %s)" % (lp, pp if os.path.isfile(pp) else "none"))


def ceiling_tag(tag):
    """The udpsink figure a lossless_<tag> rate is compared with (same datagrams, same senders)."""
    return tag if tag in ("l20", "l1", "l20_2s") else tag[:3]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=repo)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--udpsink", default="")
    ap.add_argument("--ssf-loadgen", default="", help="bench/tools/ssf_loadgen.c built (SSF figures)")
    ap.add_argument("--ours", default="", help="our daemon (default REPO/build/veneur)")
    ap.add_argument("--peers-bin", default=os.path.expanduser("~/.cache/veneur-peers/bin"))
    ap.add_argument("--results", default=os.path.join(repo, "bench", "results"))
    ap.add_argument("--work", default=os.path.join(repo, "build", "bench-run"))
    ap.add_argument("--only", default="", help="comma list of: " + ",".join(k for k, _, _ in SERVERS))
    ap.add_argument("--cpu-rate", type=int, default=1_000_000)
    ap.add_argument("--mem-series", type=int, default=0, help="default 1M (250k quick)")
    ap.add_argument("--mem-interval", type=int, default=0, help="default 10 s (4 s quick)")
    ap.add_argument("--mem-rate", type=int, default=500_000)
    ap.add_argument("--no-micro", action="store_true")
    ap.add_argument("--flush-only", action="store_true",
                    help="ours only: the two 1 M-series flush trials (counters; 1:1:1 c/ms/s) and "
                         "flush_bench (issue 22); a partial run, compared with latest.json")
    ap.add_argument("--quick", action="store_true", default=quick)
    a = ap.parse_args()
    if a.flush_only:
        a.only = "ours"
    a.mem_series = a.mem_series or (200_000 if a.quick else 1_000_000)
    a.mem_interval = a.mem_interval or (3 if a.quick else 10)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if os.path.isdir(a.work):
        shutil.rmtree(a.work, ignore_errors=True)
    try:
        Harness(a).run()
    finally:
        stop_all()
        left = bench_cgroup.remove_all()
        if left:
            log("could not remove cgroup(s) %s: rmdir them by hand" % " ".join(left))


if __name__ == "__main__":
    main()
