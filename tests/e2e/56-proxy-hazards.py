"""veneur-proxy hazards (issue 15): forwarding loops and a regex on a hostile tag.

Cases (local build/veneur -> build/veneur-proxy -> global build/veneur with jsonl):
- self_address: the proxy's own address is among its static destinations. It is refused before
  dialling (loop_refused_total{reason="self_address"} = 1); every histogram sample reaches the
  global exactly once and the proxy receives each forwarded metric once (no loop: without the
  check it re-receives every metric ~100 000 times a second).
- self_id: the proxy reaches itself through a TCP relay (a NAT or Service IP: the address check
  cannot see it). Its own server recognises x-veneur-proxy-id and refuses that destination
  (reason="self_id"); values exact as above.
- two_proxy_loop: proxies A and B each list only the other. x-veneur-hops rises by one per pass
  until a proxy refuses the call (reason="hops"): metrics received stay bounded and stop growing.
- chain: local -> A -> B -> global: B raises its hop count to 2 (one clean re-stream) and every
  sample still arrives exactly once.
- regex_64k_tag: ignore_tags has a regex that glibc's regexec takes ~9 s on per 64 KiB tag; a
  metric with a 65 000-byte tag (the most a UDP datagram carries) and 200 ordinary ones reach the
  global within a few flushes: the routing thread does not stall.
Env VENEUR_PROXY_BIN overrides the proxy binary (to measure an older build).
"""
import importlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, check, expect, free_port, run, wait_for  # noqa: E402

px = importlib.import_module("50-proxy")
px.PROXY = os.environ.get("VENEUR_PROXY_BIN") or os.path.join(os.path.dirname(harness.VENEUR), "veneur-proxy")


def Proxy(yaml_text, env=None):
    """50-proxy's Proxy; VENEUR_PROXY_GRPCADDRESS in env (env wins over YAML) picks the gRPC port."""
    p = px.Proxy(yaml_text, env=env)
    if env and "VENEUR_PROXY_GRPCADDRESS" in env:
        p.grpc_port = int(env["VENEUR_PROXY_GRPCADDRESS"].rsplit(":", 1)[1])
    return p

GLOBAL_YAML = "aggregates: [count]\npercentiles: []\n"


def start_global():
    port = free_port(socket.SOCK_STREAM)
    return Veneur(GLOBAL_YAML + 'grpc_address: "127.0.0.1:%d"\n' % port, interval="500ms"), port


def counts(g, prefix):
    """{key: summed .count} of global histogram records whose name starts with prefix."""
    out = {}
    for r in g.records():
        if r["name"].startswith(prefix) and r["name"].endswith(".count"):
            k = r["name"][:-len(".count")]
            out[k] = out.get(k, 0) + r["value"]
    return out


def ingested(p):
    return sum(v for k, v in p.metrics().items() if k.startswith("veneur_proxy_ingest_metrics_total"))


def send_and_check(local, g, prefix, keys=40, rounds=3):
    """Sends `rounds` samples of `keys` global-only histograms, waits for every one at the global."""
    want = {}
    for r in range(rounds):
        px.send_lines(local, ["%s.%d:1|h|#veneurglobalonly" % (prefix, i) for i in range(keys)])
        for i in range(keys):
            want["%s.%d" % (prefix, i)] = want.get("%s.%d" % (prefix, i), 0) + 1
    wait_for(lambda: counts(g, prefix) == want or sum(counts(g, prefix).values()) > sum(want.values()),
             timeout=15, what="every sample at the global")
    got = counts(g, prefix)
    expect(got == want, "global counts differ: %d keys, %g samples, want %d, %d" %
           (len(got), sum(got.values()), len(want), sum(want.values())))
    return sum(want.values())


def loop_rate(p, seconds=1.0):
    """Metrics the proxy received per second, measured over `seconds`."""
    a, t0 = ingested(p), time.monotonic()
    time.sleep(seconds)  # a measurement window, not a wait for a condition
    return (ingested(p) - a) / (time.monotonic() - t0)


def test_self_address():
    g, gport = start_global()
    p = local = None
    try:
        port = free_port(socket.SOCK_STREAM)
        # the Proxy helper picks its own port: pass ours via the environment override
        p = Proxy('forward_addresses: ["127.0.0.1:%d", "127.0.0.1:%d"]\n' % (port, gport),
                  env={"VENEUR_PROXY_GRPCADDRESS": "127.0.0.1:%d" % port})
        wait_for(lambda: p.metric('veneur_proxy_destination_up{destination="127.0.0.1:%d"}' % gport) == 1,
                 timeout=15, what="the global up")
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % port, interval="500ms")
        n = send_and_check(local, g, "hz.a", keys=40)
        rate = loop_rate(p)
        print("  self in destinations: %.0f metrics/s received by the proxy after sending stopped" % rate)
        expect(rate < 100, "the proxy keeps receiving %.0f metrics/s: a loop" % rate)
        expect(ingested(p) <= n, "proxy received %g metrics for %d samples" % (ingested(p), n))
        expect(p.metric('veneur_proxy_loop_refused_total{reason="self_address"}') == 1, "self_address counted")
        expect(p.metric('veneur_proxy_destination_up{destination="127.0.0.1:%d"}' % port) == 0, "self never up")
        expect("proxy_destination_is_self" in p.log(), "log line")
    finally:
        for x in (local, p, g):
            if x:
                x.stop()


class Relay:
    """A TCP port forward 127.0.0.1:port -> 127.0.0.1:target (what a NAT or a Service IP does)."""

    def __init__(self, target):
        self.target = target
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stopped:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.stopped = True
        self.ls.close()


def test_self_id():
    g, gport = start_global()
    p = local = relay = None
    try:
        port = free_port(socket.SOCK_STREAM)
        relay = Relay(port)
        p = Proxy('forward_addresses: ["127.0.0.1:%d", "127.0.0.1:%d"]\n' % (relay.port, gport),
                  env={"VENEUR_PROXY_GRPCADDRESS": "127.0.0.1:%d" % port})
        wait_for(lambda: p.metric('veneur_proxy_loop_refused_total{reason="self_id"}') >= 1, timeout=15,
                 what="the relayed destination recognised by its id")
        wait_for(lambda: p.metric('veneur_proxy_destination_up{destination="127.0.0.1:%d"}' % gport) == 1,
                 timeout=15, what="the global up")
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % port, interval="500ms")
        n = send_and_check(local, g, "hz.b", keys=40)
        rate = loop_rate(p)
        print("  self through a relay: %.0f metrics/s received after sending stopped" % rate)
        expect(rate < 100, "the proxy keeps receiving %.0f metrics/s: a loop" % rate)
        expect(ingested(p) <= n, "proxy received %g metrics for %d samples" % (ingested(p), n))
        expect(p.metric('veneur_proxy_loop_refused_total{reason="self_id"}') == 1, "self_id counted once")
        expect(p.metric('veneur_proxy_destination_up{destination="127.0.0.1:%d"}' % relay.port) == 0,
               "self never up")
    finally:
        for x in (local, p, g):
            if x:
                x.stop()
        if relay:
            relay.close()


def test_two_proxy_loop():
    a = b = local = None
    try:
        pa, pb = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
        a = Proxy('forward_addresses: ["127.0.0.1:%d"]\n' % pb, env={"VENEUR_PROXY_GRPCADDRESS": "127.0.0.1:%d" % pa})
        b = Proxy('forward_addresses: ["127.0.0.1:%d"]\n' % pa, env={"VENEUR_PROXY_GRPCADDRESS": "127.0.0.1:%d" % pb})
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % pa, interval="500ms")
        px.send_lines(local, ["hz.c.%d:1|h|#veneurglobalonly" % i for i in range(40)])
        wait_for(lambda: a.metric('veneur_proxy_loop_refused_total{reason="hops"}') +
                 b.metric('veneur_proxy_loop_refused_total{reason="hops"}') >= 1, timeout=20,
                 what="a call refused for its hop count")
        # once refused, nothing circulates: the received counts settle
        wait_for(lambda: loop_rate(a, 0.5) + loop_rate(b, 0.5) == 0, timeout=15, what="the loop to stop")
        total = ingested(a) + ingested(b)
        # refused when the streams open, before any metric bounces: A takes the 40 and has no destination
        expect(ingested(a) == 40 and ingested(b) == 0, "received A=%g B=%g" % (ingested(a), ingested(b)))
        lost = sum(a.metric('veneur_proxy_handle_metrics_total{error="%s"}' % e) for e in ("destination", "dropped"))
        expect(lost == 40, "the 40 are counted as undeliverable: %g" % lost)
        print("  two-proxy loop: %g metrics received in all for 40 sent, hops restreams A=%g B=%g" %
              (total, a.metric("veneur_proxy_hops_restreams_total"), b.metric("veneur_proxy_hops_restreams_total")))
        expect(total <= 40 * 20, "%g metrics received for 40 sent" % total)
    finally:
        for x in (local, a, b):
            if x:
                x.stop()


def test_chain():
    g, gport = start_global()
    a = b = local = None
    try:
        pa, pb = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
        b = Proxy('forward_addresses: ["127.0.0.1:%d"]\n' % gport, env={"VENEUR_PROXY_GRPCADDRESS": "127.0.0.1:%d" % pb})
        a = Proxy('forward_addresses: ["127.0.0.1:%d"]\n' % pb, env={"VENEUR_PROXY_GRPCADDRESS": "127.0.0.1:%d" % pa})
        for p, d in ((a, pb), (b, gport)):
            wait_for(lambda: p.metric('veneur_proxy_destination_up{destination="127.0.0.1:%d"}' % d) == 1,
                     timeout=15, what="destination up")
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % pa, interval="500ms")
        send_and_check(local, g, "hz.d", keys=40, rounds=5)
        expect(b.metric("veneur_proxy_hops_restreams_total") == 1, "B re-streamed once for hops=2")
        expect(a.metric("veneur_proxy_hops_restreams_total") == 0, "A never re-streams")
        expect(a.metric('veneur_proxy_loop_refused_total{reason="hops"}') == 0 and
               b.metric('veneur_proxy_loop_refused_total{reason="hops"}') == 0, "no refusal in a chain")
    finally:
        for x in (local, a, b, g):
            if x:
                x.stop()


def test_regex_64k_tag():
    g, gport = start_global()
    p = local = None
    try:
        p = Proxy('forward_addresses: ["127.0.0.1:%d"]\n' % gport +
                  'ignore_tags:\n  - {kind: regex, value: "(a|aa)*b"}\n  - {kind: regex, value: "(?i)^HOST:\\\\d+$"}\n')
        wait_for(lambda: p.metric('veneur_proxy_destination_up{destination="127.0.0.1:%d"}' % gport) == 1,
                 timeout=15, what="the global up")
        local = Veneur('forward_address: "127.0.0.1:%d"\nmetric_max_length: 65536\n' % p.grpc_port, interval="500ms")
        # the longest tag a UDP datagram carries (a stream line is capped at 64 KiB, as Go's bufio.Scanner)
        big = "tag:" + "a" * 65000
        t0 = time.monotonic()
        local.send_udp("hz.e.big:1|h|#veneurglobalonly,%s" % big)
        px.send_lines(local, ["hz.e.%d:1|h|#veneurglobalonly,host:%d" % (i, i) for i in range(200)])
        want = {"hz.e.%d" % i: 1 for i in range(200)}
        want["hz.e.big"] = 1
        wait_for(lambda: counts(g, "hz.e") == want, timeout=20, what="every sample, the 64 KiB-tag one too")
        took = time.monotonic() - t0
        print("  65 000-byte tag through ignore_tags regex: all 201 metrics at the global %.2f s after sending" % took)
        expect(took < 5, "took %.1f s (glibc regexec stalled the routing thread ~9 s)" % took)
    finally:
        for x in (local, p, g):
            if x:
                x.stop()


if __name__ == "__main__":
    for name, fn in [("self_address", test_self_address), ("self_id", test_self_id),
                     ("two_proxy_loop", test_two_proxy_loop), ("chain", test_chain),
                     ("regex_64k_tag", test_regex_64k_tag)]:
        if len(sys.argv) > 1 and not any(a in name for a in sys.argv[1:]):
            continue
        check("56-proxy-hazards/" + name, fn)
    run()
