"""Go Veneur v14 compatibility without Go: replay recorded SendMetricsV2 streams to our global.

tests/data/go-forward/local-{a,b}.bin are the raw gRPC messages two real Go Veneur v14 locals
sent to a recorder in one flush (README.md there says how they were made, and from which
statsd lines). Node @grpc/grpc-js (tests/e2e/node/grpc_raw.js) replays them byte for byte on
/forwardrpc.Forward/SendMetricsV2 to build/veneur running as a global, both streams at once; the
global's final flush (SIGTERM, docs/behaviour.md 0.7) is then checked against the statsd lines the Go locals
got: percentiles of the merged t-digests within tolerance, set cardinality exact, global-only
counters summed, gauges kept, tags and scopes as Go sent them. A second case replays each
stream three times concurrently (six streams): counters triple, everything else is unchanged.
"""
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, by_name, check, expect, free_port, run, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
DATA = os.path.join(os.path.dirname(HERE), "data", "go-forward")
STREAMS = [os.path.join(DATA, "local-a.bin"), os.path.join(DATA, "local-b.bin")]
MESSAGES = 9 + 8  # series in local-a.bin + local-b.bin
PCT = "percentiles: [0.5, 0.9, 0.99]\naggregates: [min, max, count]\n"
ENV = ["env:fixture"]


def replay(port, files):
    p = subprocess.run(["node", "grpc_raw.js", "replay", "127.0.0.1:%d" % port] + files, cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=40)
    expect(p.returncode == 0, "replay failed (%d): %s %s" % (p.returncode, p.stdout[-800:], p.stderr[-800:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def global_flush(copies):
    """Starts a global, replays every stream `copies` times at once, returns its final flush."""
    gport = free_port(socket.SOCK_STREAM)
    g = Veneur(PCT + 'grpc_address: "127.0.0.1:%d"\n' % gport, interval="60s")
    try:
        res = replay(gport, STREAMS * copies)
        expect(len(res) == len(STREAMS) and all(r["code"] == 0 for r in res.values()), "stream status %r" % res)
        want = MESSAGES * copies
        wait_for(lambda: g.metric("veneur_import_metrics_received_total") >= want, timeout=10, what="imports counted")
        got = g.metric("veneur_import_metrics_received_total")
        expect(got == want, "imported %r metrics, want %d" % (got, MESSAGES * copies))
        expect(g.metric("veneur_import_metrics_rejected_total") == 0, "no rejected imports")
        expect(g.stop() == 0, "global exit 0")  # the final flush holds every import
        return g.records()
    finally:
        g.stop()


def one(recs, name, tags):
    rs = by_name(recs, name, tags)
    expect(len(rs) == 1, "one %s %r, got %r" % (name, tags, rs))
    return rs[0]


def near(recs, name, tags, want, tol):
    r = one(recs, name, tags)
    expect(r["type"] == "gauge" and abs(r["value"] - want) <= tol, "%s %r = %r, want %s +- %s"
           % (name, tags, r["value"], want, tol))


def check_union(recs, copies):
    # go.hist: a sent 1..500, b 501..1000 (env:fixture); 1..4 and 5..8 under az:b as well.
    for p, want in (("50", 500.5), ("90", 900.5), ("99", 990.5)):
        near(recs, "go.hist.%spercentile" % p, ENV, want, 10)
    near(recs, "go.hist.50percentile", ["az:b", "env:fixture"], 4.5, 0.5)
    # Mixed-scope histograms: the locals emit min/max/count, the global only percentiles (docs/behaviour.md 2.7).
    for agg in ("min", "max", "count"):
        expect(not by_name(recs, "go.hist." + agg), "global must not emit go.hist.%s" % agg)
    # go.dist (a DogStatsD distribution is a Go histogram): 1..100 and 101..200.
    for p, want in (("50", 100.5), ("90", 180.5), ("99", 198.5)):
        near(recs, "go.dist.%spercentile" % p, ENV, want, 3)
    # go.timer (type Timer on the wire): 10, 20 and 30, 40.
    near(recs, "go.timer.50percentile", ["env:fixture", "unit:ms"], 25, 0.5)
    near(recs, "go.timer.99percentile", ["env:fixture", "unit:ms"], 40, 0.5)
    # go.ghist, veneurglobalonly: the global owns it whole, so it emits the aggregates too.
    expect(one(recs, "go.ghist.min", ENV)["value"] == 1, "ghist min")
    expect(one(recs, "go.ghist.max", ENV)["value"] == 20, "ghist max")
    c = one(recs, "go.ghist.count", ENV)
    expect(c["type"] == "counter" and c["value"] == 20 * copies, "ghist count %r" % c)
    near(recs, "go.ghist.50percentile", ENV, 10.5, 1)
    # go.set: a0..a99 and a50..a149 -> 150 distinct members, however often replayed.
    s = one(recs, "go.set", ENV)
    expect(s["value"] == 150, "set cardinality of the union %r" % s)
    # veneurglobalonly counters: 5 + 7, and 4 lines at @0.5 (Go sends the scaled 8).
    gc = one(recs, "go.gc", ENV)
    expect(gc["type"] == "counter" and gc["value"] == 12 * copies, "global counter summed %r" % gc)
    gcr = one(recs, "go.gcr", [])
    expect(gcr["type"] == "counter" and gcr["value"] == 8 * copies, "sampled global counter %r" % gcr)
    ga, gg = one(recs, "go.ga", ENV), one(recs, "go.gg", [])
    expect(ga["type"] == "gauge" and ga["value"] == -7.5, "global gauge from a %r" % ga)
    expect(gg["type"] == "gauge" and gg["value"] == 3.25, "global gauge from b %r" % gg)
    # What Go keeps local never reaches the global; no magic tag survives.
    for name in ("go.local", "go.localgauge", "go.lonly"):
        expect(not [r for r in recs if r["name"].startswith(name)], "%s must stay at the locals" % name)
    for r in recs:
        expect(not any(t.startswith(("veneurglobalonly", "veneurlocalonly")) for t in r["tags"]), "magic tag %r" % r)
    expect(all(r["hostname"] == "testhost" for r in recs if r["name"].startswith("go.")), "global's hostname")


def main():
    have_node = os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@grpc", "grpc-js"))
    for copies, case in ((1, "two_go_locals"), (3, "six_streams_at_once")):
        def fn(copies=copies):
            expect(have_node, "npm modules missing: run scripts/deps.sh (npm ci in tests/e2e/node)")
            check_union(global_flush(copies), copies)
        check("45-go-fixtures/" + case, fn)
    run()


if __name__ == "__main__":
    main()
