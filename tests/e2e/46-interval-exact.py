"""One global flush = one interval's union (issue 16): forwards must not race the global's tick.

N synchronized locals (interval 1 s) forward to one synchronized global. Once per interval, in the
middle of it, every local gets one burst: a set with members unique to (round, local), a
veneurglobalonly histogram and a veneurglobalonly counter. Every global flush that holds data must
hold exactly one round from every local: set cardinality N*M, histogram count N*M, counter N*M,
and be the flush of that round's own tick (histogram min encodes the round; stamp = tick second).
ROUNDS rounds in a row on an idle machine, then ROUNDS more with CPU hogs (busy python processes,
one per core) loading it. The global must also count no late import.

Go's veneur joins as extra locals when its binary is built ($HOME/.cache/veneur-peers/bin/veneur);
it is not on most machines, and then that part is skipped (printed).

Env: VN_IE_ROUNDS (default 20), VN_IE_GRACE (the global's import_grace_period, default unset =
auto; "-1s" turns the offset off, which shows the race the offset removes: the script then prints
the split rounds and reports FAIL).
"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, check, expect, free_port, run  # noqa: E402

N = 4
M = 40
ROUNDS = int(os.environ.get("VN_IE_ROUNDS") or 20)
GRACE = os.environ.get("VN_IE_GRACE")
GO_VENEUR = os.path.join(os.path.expanduser("~"), ".cache", "veneur-peers", "bin", "veneur")
SYNC = "synchronize_with_interval: true\npercentiles: [0.5]\n"


def burst(rnd, lid):
    """One local's data for one round (lines, datagrams under 1 KiB)."""
    members = ["ie.set:r%dl%sm%d|s" % (rnd, lid, i) for i in range(M)]
    hist = "ie.hist:%s|h|#veneurglobalonly" % ":".join(str(rnd * 100 + i) for i in range(M))
    cnt = "ie.cnt:%d|c|#veneurglobalonly" % M
    dgrams = ["\n".join(members[i:i + 20]) for i in range(0, M, 20)]
    return dgrams + [hist, cnt]


def send_round(sock, locals_, rnd):
    for lid, port in locals_:
        for d in burst(rnd, lid):
            sock.sendto(d.encode(), ("127.0.0.1", port))


def sleep_until_wall(t):
    while True:
        left = t - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def flushes(g):
    """{timestamp: {name: value}} of the global's flushes holding this test's metrics."""
    out = {}
    for r in g.records():
        if r["name"] in ("ie.set", "ie.hist.count", "ie.cnt", "ie.hist.min"):
            out.setdefault(r["timestamp"], {})[r["name"]] = r["value"]
    return out


def run_rounds(g, sock, locals_, rounds, label):
    n = len(locals_)
    want = n * M
    seen_before = set(flushes(g))
    first = int(time.time()) + 2
    for k in range(rounds):
        sleep_until_wall(first + k + 0.45)  # the middle of the locals' interval (first+k, first+k+1]
        send_round(sock, locals_, k)
    # the last round is in the global's flush at first+rounds+grace (grace <= 2 s)
    sleep_until_wall(first + rounds + 2.5)
    got = {t: v for t, v in flushes(g).items() if t not in seen_before}
    exact = split = 0
    bad = []
    for t in sorted(got):
        v = got[t]
        ok = v.get("ie.set") == want and v.get("ie.hist.count") == want and v.get("ie.cnt") == want
        # and it is the round of the interval that ends at its tick (round k: (first+k, first+k+1])
        ok = ok and v.get("ie.hist.min") == (t - first - 1) * 100
        exact += ok
        if not ok:
            split += 1
            bad.append((t, v))
    print("  %s: %d flushes with data, %d exact, %d split (want %d rounds of set=hist.count=cnt=%d, each in its own tick's flush)%s"
          % (label, len(got), exact, split, rounds, want, "" if not bad else "; first split: %r" % bad[:3]),
          flush=True)
    return exact, split, len(got)


def start_hogs():
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]


def stop_hogs(hogs):
    for h in hogs:
        h.kill()
        h.wait()


def fleet(go_locals=0):
    gport = free_port(socket.SOCK_STREAM)
    gy = SYNC + 'grpc_address: "127.0.0.1:%d"\n' % gport
    if GRACE:
        gy += 'import_grace_period: "%s"\n' % GRACE
    g = Veneur(gy)
    procs = [g]
    try:
        for _ in range(N):
            procs.append(Veneur(SYNC + 'forward_address: "127.0.0.1:%d"\n' % gport))
        for _ in range(go_locals):
            # Go v14 exits at start without a statsd address for its own client (nothing listens there),
            # and with num_readers 0 (its default) it never opens its HTTP port.
            stats = 'num_readers: 1\nstats_address: "127.0.0.1:%d"\n' % free_port(socket.SOCK_DGRAM)
            procs.append(Veneur(SYNC + stats + 'forward_address: "127.0.0.1:%d"\n' % gport, binary=GO_VENEUR,
                                jsonl=False))
    except Exception:
        for p in procs:
            p.stop()
        raise
    return g, procs


def test_interval_exact(go_locals=0):
    g, procs = fleet(go_locals)
    hogs = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        locals_ = [("%d" % i, p.udp_port) for i, p in enumerate(procs[1:])]
        idle = run_rounds(g, sock, locals_, ROUNDS, "idle")
        hogs = start_hogs()
        loaded = run_rounds(g, sock, locals_, ROUNDS, "cpu hog x%d" % len(hogs))
        stop_hogs(hogs)
        hogs = []
        late = g.metric("veneur_import_metrics_late_total")
        print("  global: veneur_import_metrics_late_total=%d" % late, flush=True)
        for label, (exact, split, nflush) in (("idle", idle), ("loaded", loaded)):
            expect(split == 0 and exact == ROUNDS and nflush == ROUNDS,
                   "%s: %d of %d rounds exact, %d split, %d flushes" % (label, exact, ROUNDS, split, nflush))
        expect(late == 0, "late imports: %d" % late)
    finally:
        stop_hogs(hogs)
        sock.close()
        for p in procs:
            p.stop()


# With Go built, its two locals join the same fleet as ours instead of a second fleet: every round
# must still be exact from all N+2 locals, which is stricter than ours alone and takes half the time.
GO_LOCALS = 2 if os.path.exists(GO_VENEUR) else 0
if not GO_LOCALS:
    print("SKIP go locals: %s not built on this machine" % GO_VENEUR, flush=True)
check("interval-exact global flushes, %d locals (%d of them Go) x %d rounds idle and loaded"
      % (N + GO_LOCALS, GO_LOCALS, ROUNDS), lambda: test_interval_exact(go_locals=GO_LOCALS))
run()
