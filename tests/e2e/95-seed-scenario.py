"""The seed's scenario script (examples/seed-scenario.sh): app -> local -> proxy -> 2 globals, run for a
few 1 s intervals on 127.0.0.1; checks every tier did its part (issue 11)."""
import json
import os
import random
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, expect, run  # noqa: E402


def free_block(n=8):
    for _ in range(200):
        base = random.randint(20000, 60000)
        ok = True
        for p in range(base, base + n):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                finally:
                    s.close()
        if ok:
            return base
    raise RuntimeError("no free port block")


def load(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_three_tiers():
    work = tempfile.mkdtemp(prefix="vn-seed-")
    env = dict(os.environ, INTERVAL="1", DURATION="5", WORKDIR=work, BASE_PORT=str(free_block()))
    r = subprocess.run([os.path.join(ROOT, "examples", "seed-scenario.sh")], env=env, capture_output=True,
                       text=True, timeout=120)
    expect(r.returncode == 0, "script failed (%d): %s %s" % (r.returncode, r.stdout[-500:], r.stderr[-800:]))
    local = load(os.path.join(work, "local.jsonl"))
    globs = load(os.path.join(work, "global-1.jsonl")) + load(os.path.join(work, "global-2.jsonl"))
    hb = sum(x["value"] for x in local if x["name"] == "heartbeat")
    expect(hb >= 5, "local flushed the heartbeat counter: %r" % hb)
    expect(any(x["name"] == "app.request.max" for x in local), "local emits local aggregates")
    expect(not any(x["name"].startswith("app.request.") and "percentile" in x["name"] for x in local),
           "local emits no percentiles")
    p50 = [x["value"] for x in globs if x["name"] == "app.request.50percentile"]
    expect(p50 and all(12 <= v <= 250 for v in p50), "globals emit request percentiles: %r" % p50)
    users = [x["value"] for x in globs if x["name"] == "app.users"]
    expect(users and all(1 <= v <= 3 for v in users), "globals count unique users: %r" % users)
    errors = sum(x["value"] for x in globs if x["name"] == "app.errors")
    expect(errors >= 5, "globals sum veneurglobalonly counters: %r" % errors)
    hosts = {x["hostname"] for x in globs}
    expect(hosts <= {"global-1", "global-2"} and hosts, "written by the globals: %r" % hosts)


check("95-seed-scenario/three_tiers", test_three_tiers)
run()
