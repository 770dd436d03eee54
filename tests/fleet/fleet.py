"""`make fleet`: the seed's fleet invariants, measured (issue 16).

A fleet on 127.0.0.1 with interval 1 s and synchronize_with_interval everywhere: LOCALS veneur
locals (each lists every proxy in forward_address, as a Kubernetes Service name would give them
several endpoints), PROXIES veneur-proxies that find the globals through discovery (kind dns with a
hosts_file, re-read every 200 ms), GLOBALS veneur globals. SENDERS threads send steady load: once
per interval, in its middle, every local gets every one of KEYS veneurglobalonly counters +1, so
each key's value in one interval's global flushes is LOCALS and the fleet's whole interval is
KEYS * LOCALS contributions. Interval-exact global flushes (tests/e2e/46-interval-exact.py) let
every global flush be attributed to one round by its timestamp.

Events, one after another, with rounds in between:
  kill -9 global  (0.1 s after a tick, while it holds that interval's imports: the worst moment)
                  lost <= that global's share of one interval; complete again from the next round
  restart it      steady (complete and back on the baseline owners) within 2 intervals of rejoining
  kill -9 proxy   its locals move to the other proxies; lost <= one interval of its traffic
  restart it      complete within 2 intervals
  add a global    through discovery: exactly the keys the ring (proxy/ring.h, replicated here)
                  gives the new member move (~1/(G+1); the share varies with the addresses), every
                  one of them to the new global; nothing lost
Every bound is asserted on counts. Prints the loss table. Exit 0 when every bound holds.

Usage: python3 tests/fleet/fleet.py [--locals 20 --proxies 3 --globals 4 --senders 4 --keys 400]
(tests/e2e/97-fleet-short.py runs a small one inside make test).
"""
import argparse
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import harness  # noqa: E402
from harness import VENEUR_PROXY, Veneur, free_port, wait_for  # noqa: E402

SYNC = "synchronize_with_interval: true\n"


class Proxy:
    """A build/veneur-proxy discovering globals through a hosts_file."""

    def __init__(self, hosts_path, grpc_port=None):
        self.dir = tempfile.mkdtemp(prefix="vn-fleet-proxy-")
        self.grpc_port = grpc_port or free_port(socket.SOCK_STREAM)
        self.http_port = free_port(socket.SOCK_STREAM)
        cfg = os.path.join(self.dir, "proxy.yaml")
        with open(cfg, "w") as f:
            f.write('grpc_address: "127.0.0.1:%d"\nhttp_address: "127.0.0.1:%d"\ndial_timeout: 1s\n'
                    'forward_service: globals.fleet\ndiscovery_interval: 200ms\n'
                    'discovery: {kind: dns, dns_server: "127.0.0.1:9", hosts_file: "%s"}\n'
                    % (self.grpc_port, self.http_port, hosts_path))
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self._stderr = open(self.stderr_path, "a")
        import subprocess
        self.proc = subprocess.Popen([VENEUR_PROXY, "-f", cfg], stdout=subprocess.DEVNULL, stderr=self._stderr,
                                     env=harness.sanitizer_env(None))
        wait_for(self._alive, timeout=10, what="veneur-proxy /healthz")

    def _alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError("veneur-proxy exited %s" % self.proc.returncode)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.http_port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def destinations(self):
        """Destinations in the ring (veneur_proxy_destination_up == 1)."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=2) as r:
                body = r.read().decode()
        except OSError:
            return set()
        up = set()
        for line in body.splitlines():
            if line.startswith("veneur_proxy_destination_up{") and line.endswith(" 1"):
                up.add(line.split('destination="', 1)[1].split('"', 1)[0])
        return up

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        if not self._stderr.closed:
            self._stderr.close()
        with open(self.stderr_path, errors="replace") as f:
            return harness.sanitizer_report(f.read())


def write_hosts(path, ports):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("globals.fleet %s\n" % " ".join("127.0.0.1:%d" % p for p in ports))
    os.replace(tmp, path)


def sleep_until_wall(t):
    while True:
        left = t - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


class Fleet:
    def __init__(self, n_locals, n_proxies, n_globals, n_senders, n_keys):
        self.L, self.P, self.G, self.S, self.K = n_locals, n_proxies, n_globals, n_senders, n_keys
        self.dir = tempfile.mkdtemp(prefix="vn-fleet-")
        self.hosts = os.path.join(self.dir, "hosts")
        self.gports = [free_port(socket.SOCK_STREAM) for _ in range(n_globals + 1)]  # the last joins later
        self.globals_ = {}   # index -> list of Veneur instances (restarts append)
        self.proxies = {}    # index -> list of Proxy instances
        self.locals_ = []
        self.keys = ["fleet.k%04d" % i for i in range(n_keys)]

    # ---- processes
    def start_global(self, i):
        v = Veneur(SYNC + 'grpc_address: "127.0.0.1:%d"\n' % self.gports[i])
        self.globals_.setdefault(i, []).append(v)
        return v

    def start(self):
        write_hosts(self.hosts, self.gports[:self.G])
        for i in range(self.G):
            self.start_global(i)
        for i in range(self.P):
            self.proxies.setdefault(i, []).append(Proxy(self.hosts))
        self.pports = [self.proxies[i][0].grpc_port for i in range(self.P)]
        fwd = ",".join("127.0.0.1:%d" % p for p in self.pports)
        for _ in range(self.L):
            self.locals_.append(Veneur(SYNC + 'forward_address: "%s"\n' % fwd, jsonl=False))
        want = {"127.0.0.1:%d" % p for p in self.gports[:self.G]}
        for i in range(self.P):
            wait_for(lambda: self.proxies[i][0].destinations() == want, timeout=15, what="proxy ring complete")

    def stop(self):
        bad = []
        for v in self.locals_:
            v.stop()
        for lst in self.proxies.values():
            for p in lst:
                r = p.stop()
                if r:
                    bad.append(r)
        for lst in self.globals_.values():
            for v in lst:
                v.stop()
        return bad

    # ---- load
    def burst_lines(self):
        lines = ["%s:1|c|#veneurglobalonly" % k for k in self.keys]
        return ["\n".join(lines[i:i + 25]).encode() for i in range(0, len(lines), 25)]

    def send_round(self):
        """Every sender thread sends the whole burst to its share of the locals."""
        dgrams = self.burst_lines()

        def sender(idx):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for v in self.locals_[idx::self.S]:
                for d in dgrams:
                    s.sendto(d, ("127.0.0.1", v.udp_port))
            s.close()
        ts = [threading.Thread(target=sender, args=(i,)) for i in range(self.S)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    # ---- accounting
    def rounds(self):
        """{flush timestamp: {key: [(global index, value)]}} over every global instance ever run."""
        out = {}
        for gi, lst in self.globals_.items():
            for v in lst:
                for r in v.records():
                    if r["name"].startswith("fleet.k"):
                        out.setdefault(r["timestamp"], {}).setdefault(r["name"], []).append((gi, r["value"]))
        return out


def ring_owner(addrs, key):
    """The global a proxy routes key to: proxy/ring.h (Go's stathat consistent ring, 20 points per
    member, CRC-32 IEEE, first point strictly above the key's hash, wrapping; on a point collision
    the smallest address wins). Lets the test say which keys must move, not just how many."""
    points = {}
    for a in sorted(addrs, reverse=True):  # smaller addresses overwrite: they win collisions
        for i in range(20):
            points[zlib.crc32(("%d%s" % (i, a)).encode())] = a
    hs = sorted(points)
    h = zlib.crc32(key.encode())
    for p in hs:
        if p > h:
            return points[p]
    return points[hs[0]]


def analyse_round(fl, data):
    """(lost contributions, keys with a loss, owners {key: gi}, keys split over 2+ globals)."""
    lost = lost_keys = split = 0
    owners = {}
    for k in fl.keys:
        got = data.get(k, [])
        total = sum(v for _, v in got)
        if total < fl.L:
            lost += fl.L - total
            lost_keys += 1
        if total > fl.L:
            raise AssertionError("key %s counted %d > %d: double counted" % (k, total, fl.L))
        gs = {gi for gi, _ in got}
        if len(gs) > 1:
            split += 1
        owners[k] = min(gs) if len(gs) == 1 else (tuple(sorted(gs)) if gs else None)
    return lost, lost_keys, owners, split


def run_fleet(n_locals=20, n_proxies=3, n_globals=4, n_senders=4, n_keys=400, gap=3):
    """Runs the scenario; returns (table rows, failures). gap: rounds between events."""
    fl = Fleet(n_locals, n_proxies, n_globals, n_senders, n_keys)
    failures = []
    rows = []
    t_start = time.monotonic()
    try:
        fl.start()
        print("fleet up: %d locals, %d proxies, %d globals in %.1f s; %d keys, interval 1 s"
              % (fl.L, fl.P, fl.G, time.monotonic() - t_start, fl.K), flush=True)
        first = int(time.time()) + 2
        events = {}   # round -> (name, fn, offset in seconds after the round's tick)
        marks = {}    # name -> round
        r = 2 + gap   # warm-up (2) + baseline (gap)

        def at(name, fn, offset):
            nonlocal r
            events[r] = (name, fn, offset)
            marks[name] = r
            r += gap
        victim_g = 0
        # The proxy with the most locals: each local starts on the proxy its pid picks
        # (src/forward/forwarder.c), so with few locals proxy 0 may have none.
        starts = [((v.proc.pid * 2654435761) >> 7) % fl.P for v in fl.locals_]
        victim_p = max(range(fl.P), key=starts.count)
        at("kill -9 global", lambda: fl.globals_[victim_g][-1].proc.send_signal(signal.SIGKILL), 0.10)
        at("restart global", lambda: fl.start_global(victim_g), 0.55)
        at("kill -9 proxy", lambda: fl.proxies[victim_p][-1].kill(), 0.10)
        at("restart proxy",
           lambda: fl.proxies[victim_p].append(Proxy(fl.hosts, grpc_port=fl.pports[victim_p])), 0.55)
        at("add a global", lambda: (fl.start_global(fl.G), write_hosts(fl.hosts, fl.gports)), 0.55)
        total_rounds = r + 1
        # Round k: sent at first+k+0.45 (mid local interval), forwarded at the tick first+k+1,
        # flushed by the globals at first+k+1+grace, stamped first+k+1. An event of round k runs at
        # its tick + offset, i.e. after round k was sent to the locals.
        done = {}
        for k in range(total_rounds):
            sleep_until_wall(first + k + 0.45)
            fl.send_round()
            if k in events:
                name, fn, off = events[k]
                sleep_until_wall(first + k + 1 + off)
                fn()
                done[name] = time.time()
        sleep_until_wall(first + total_rounds + 2.0)
        flushes = fl.rounds()
        per = []
        for k in range(total_rounds):
            per.append(analyse_round(fl, flushes.get(first + k + 1, {})))
        base = per[2 + gap - 1][2]  # owners in the last baseline round
        # baseline: complete, each key on exactly one global
        for k in range(2, 2 + gap):
            lost, _, _, split = per[k]
            if lost or split:
                failures.append("baseline round %d: lost %d, split keys %d" % (k, lost, split))
        share = {}
        for k2, g in base.items():
            share[g] = share.get(g, 0) + 1
        addr4 = ["127.0.0.1:%d" % p for p in fl.gports[:fl.G]]
        mispredicted = sum(1 for k2, g in base.items()
                           if not isinstance(g, int) or addr4[g] != ring_owner(addr4, "%scounter" % k2))
        if mispredicted:
            failures.append("baseline: %d keys not on the global the ring names" % mispredicted)

        def rounds_lost(a, b):
            return sum(per[k][0] for k in range(a, b)), sum(per[k][1] for k in range(a, b))

        # kill -9 global
        kg = marks["kill -9 global"]
        lost, lk = rounds_lost(kg, marks["restart global"])
        bound = share.get(victim_g, 0) * fl.L
        next_ok = all(per[k][0] == 0 for k in range(kg + 1, marks["restart global"]))
        moved = sum(1 for key, g in per[kg + 1][2].items() if g != base[key])
        rows.append(("kill -9 global g%d" % victim_g, "%d keys (%d/interval)" % (share.get(victim_g, 0), bound),
                     lost, lk, bound, "complete from round +1: %s; %d keys rehashed" % (next_ok, moved)))
        if lost > bound:
            failures.append("global kill: lost %d > bound %d" % (lost, bound))
        if not next_ok:
            failures.append("global kill: rounds after the kill lost data: %r"
                            % [per[k][0] for k in range(kg + 1, marks["restart global"])])
        if moved != share.get(victim_g, 0):
            failures.append("global kill: %d keys moved at the next flush, want the victim's %d"
                            % (moved, share.get(victim_g, 0)))
        # restart global: steady = complete, unsplit and on the baseline owners
        rg = marks["restart global"]
        lost, lk = rounds_lost(rg, marks["kill -9 proxy"])
        steady_at = next((k for k in range(rg + 1, marks["kill -9 proxy"])
                          if per[k][0] == 0 and per[k][3] == 0 and per[k][2] == base), None)
        steady_in = None if steady_at is None else steady_at - rg
        rows.append(("restart global g%d" % victim_g, "-", lost, lk, 0,
                     "back on baseline owners after %s interval(s)" % steady_in))
        if lost:
            failures.append("global restart: lost %d" % lost)
        if steady_in is None or steady_in > 2:
            failures.append("global restart: not steady within 2 intervals (%s)" % steady_in)
        # kill -9 proxy: bound = one interval of its traffic = (its locals) * keys
        kp = marks["kill -9 proxy"]
        lost, lk = rounds_lost(kp, marks["restart proxy"])
        # the first failovers of the run: each local that was on the victim moved once
        moved_locals = sum(1 for v in fl.locals_ if v.metric("veneur_forward_failovers_total") > 0)
        bound = moved_locals * fl.K
        next_ok = all(per[k][0] == 0 for k in range(kp + 1, marks["restart proxy"]))
        rows.append(("kill -9 proxy p%d" % victim_p, "%d locals on it" % moved_locals, lost, lk, bound,
                     "complete from round +1: %s; its locals moved to the others" % next_ok))
        if moved_locals == 0:
            failures.append("proxy kill: no local was on the victim (spread by pid failed)")
        if lost > bound:
            failures.append("proxy kill: lost %d > bound %d" % (lost, bound))
        if not next_ok:
            failures.append("proxy kill: rounds after the kill lost data")
        # restart proxy
        rp = marks["restart proxy"]
        lost, lk = rounds_lost(rp, marks["add a global"])
        steady_at = next((k for k in range(rp + 1, marks["add a global"]) if per[k][0] == 0), None)
        steady_in = None if steady_at is None else steady_at - rp
        rows.append(("restart proxy p%d" % victim_p, "-", lost, lk, 0, "complete after %s interval(s)" % steady_in))
        if lost:
            failures.append("proxy restart: lost %d" % lost)
        if steady_in is None or steady_in > 2:
            failures.append("proxy restart: not steady within 2 intervals (%s)" % steady_in)
        # add a global: ~1/(G+1) of the keys move, all to the new one; nothing lost
        ag = marks["add a global"]
        lost, lk = rounds_lost(ag, total_rounds)
        last = per[total_rounds - 1][2]
        before = per[ag][2]
        moved = [key for key in fl.keys if last[key] != before[key]]
        to_new = sum(1 for key in moved if last[key] == fl.G)
        frac = len(moved) / float(fl.K)
        # the ring's own prediction: which keys the new member takes (its share of the ring varies
        # with the addresses, i.e. the ephemeral ports: 20 points per member)
        addr = ["127.0.0.1:%d" % p for p in fl.gports]
        owner_key = lambda k: "%scounter" % k  # noqa: E731 (name + type; veneurglobalonly is no tag)
        want_moved = [k for k in fl.keys if ring_owner(addr, owner_key(k)) == addr[fl.G]]
        rows.append(("add global g%d (discovery)" % fl.G, "-", lost, lk, 0,
                     "%d of %d keys moved (%.1f%%; ideal 1/%d = %.1f%%, this ring: %d), %d to the new global"
                     % (len(moved), fl.K, 100 * frac, fl.G + 1, 100.0 / (fl.G + 1), len(want_moved), to_new)))
        if lost:
            failures.append("add global: lost %d" % lost)
        if to_new != len(moved):
            failures.append("add global: %d keys moved between old globals" % (len(moved) - to_new))
        if sorted(moved) != want_moved:
            failures.append("add global: %d keys moved, the ring moves %d" % (len(moved), len(want_moved)))
        # every round after the add is complete and unsplit from the second one on
        for k in range(ag + 2, total_rounds):
            if per[k][0] or per[k][3]:
                failures.append("add global: round +%d lost %d, split %d" % (k - ag, per[k][0], per[k][3]))
        whole = sum(p[0] for p in per[2:])
        rows.append(("whole run", "%d rounds" % (total_rounds - 2), whole, sum(p[1] for p in per[2:]),
                     None, "%d contributions sent after warm-up" % ((total_rounds - 2) * fl.K * fl.L)))
    finally:
        bad = fl.stop()
        failures += ["sanitizer: %s" % b for b in bad]
    return rows, failures


def print_table(rows):
    hdr = ("event", "scope", "lost", "keys hit", "bound", "notes")
    print("%-28s %-22s %8s %8s %8s  %s" % hdr)
    for ev, scope, lost, lk, bound, note in rows:
        print("%-28s %-22s %8d %8d %8s  %s" % (ev, scope, lost, lk, "-" if bound is None else bound, note))
    print("(lost, bound: counter contributions, one per key per local per interval)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--locals", type=int, default=20)
    ap.add_argument("--proxies", type=int, default=3)
    ap.add_argument("--globals", type=int, default=4)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--keys", type=int, default=400)
    ap.add_argument("--gap", type=int, default=3)
    a = ap.parse_args()
    rows, failures = run_fleet(a.locals, a.proxies, a.globals, a.senders, a.keys, a.gap)
    print_table(rows)
    for f in failures:
        print("FAIL fleet: " + f, flush=True)
    print("PASS fleet" if not failures else "FAIL fleet (%d bounds)" % len(failures), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
