"""Real statsd clients from npm (hot-shots for DogStatsD features, statsd-client) -> veneur."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, by_name, check, expect, run, total, wait_for  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def node(script, port):
    r = subprocess.run(["node", "-e", script, str(port)], cwd=NODE_DIR, capture_output=True, text=True, timeout=60)
    expect(r.returncode == 0, "node client failed: %s" % r.stderr[-500:])


HOT_SHOTS = r"""
const StatsD = require('hot-shots');
const c = new StatsD({host: '127.0.0.1', port: +process.argv[1], globalTags: {env: 'test'}, maxBufferSize: 0});
c.increment('hs.requests', 3, {route: 'home'});
c.increment('hs.requests', 2, {route: 'home'});  // (a rate < 1 makes hot-shots drop randomly client-side)
c.gauge('hs.queue', 42);
c.histogram('hs.size', 10, ['kind:a']);
c.histogram('hs.size', 30, ['kind:a']);
c.distribution('hs.dist', 7);
c.timing('hs.latency', 120);
c.set('hs.users', 'alice');
c.set('hs.users', 'bob');
c.set('hs.users', 'alice');
c.check('hs.service', c.CHECKS.WARNING, {hostname: 'web1', message: 'slow'}, ['team:core']);
// UDP sends complete in order: close only once the last one has left the socket.
c.event('deploy', 'v1 rolled out', {alert_type: 'info'}, ['svc:api'], () => c.close(err => process.exit(err ? 1 : 0)));
"""

STATSD_CLIENT = r"""
const SDC = require('statsd-client');
const c = new SDC({host: '127.0.0.1', port: +process.argv[1], prefix: 'sc'});
c.increment('hits');
c.increment('hits', 4);
c.decrement('hits');
c.gauge('temp', 21.5);
c.timing('db', 15);
c.histogram('payload', 512);
c.set('visitors', 'x');
c.close();  // flushes the client's buffer; the process then exits on its own
"""


def test_hot_shots():
    v = Veneur("percentiles: [0.5]\n", interval="60s")
    try:
        node(HOT_SHOTS, v.udp_port)
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 12, what="12 lines")
        expect(v.stop() == 0, "exit 0")
        recs = v.records()
    finally:
        v.stop()
    r = by_name(recs, "hs.requests")
    expect(len(r) == 1 and r[0]["tags"] == ["env:test", "route:home"] and r[0]["value"] == 5, "increment %r" % r)
    expect(by_name(recs, "hs.queue")[0]["value"] == 42, "gauge")
    expect(by_name(recs, "hs.size.max", ["env:test", "kind:a"])[0]["value"] == 30, "histogram max")
    expect(by_name(recs, "hs.size.count")[0]["value"] == 2, "histogram count")
    expect(by_name(recs, "hs.dist.max")[0]["value"] == 7, "distribution as histogram")
    expect(by_name(recs, "hs.latency.50percentile")[0]["value"] == 120, "timer p50")
    expect(by_name(recs, "hs.users")[0]["value"] == 2, "set unique count")
    sc = by_name(recs, "hs.service")
    expect(sc and sc[0]["type"] == "status" and sc[0]["value"] == 1 and sc[0]["hostname"] == "web1"
           and sc[0].get("message") == "slow" and sc[0]["tags"] == ["env:test", "team:core"], "check %r" % sc)


def test_statsd_client():
    v = Veneur(interval="60s")
    try:
        node(STATSD_CLIENT, v.udp_port)
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 7, what="7 lines")
        expect(v.stop() == 0, "exit 0")
        recs = v.records()
    finally:
        v.stop()
    expect(total(recs, "sc.hits") == 4, "increments/decrement %r" % by_name(recs, "sc.hits"))
    expect(by_name(recs, "sc.temp")[0]["value"] == 21.5, "gauge")
    expect(by_name(recs, "sc.db.max")[0]["value"] == 15, "timer")
    expect(by_name(recs, "sc.payload.count")[0]["value"] == 1, "histogram")
    expect(by_name(recs, "sc.visitors")[0]["value"] == 1, "set")


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("30-npm-clients/" + name[5:], fn)
run()
