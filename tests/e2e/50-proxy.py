"""veneur-proxy (docs/behaviour.md W3, 0.9): consistent hashing of forwarded metrics to globals.

Cases:
- ring: 1 local build/veneur -> build/veneur-proxy -> 3 globals (build/veneur, grpc_address,
  jsonl). Many distinct histogram and set keys; every key lands on exactly the global Go's ring
  (computed here with zlib.crc32) names. kill -9 one global: its keys move to the survivors (the
  owners a 2-member ring names) from the next flush on, nothing else moves, and what is lost is at
  most about one interval of that global's ~1/3 of the keys (counted exactly with global-scope
  histogram .count sums against what was sent). Restart it on the same port: the proxy re-dials and
  the keys move back.
- dns: SRV discovery through a python DNS server on 127.0.0.1 (A records in the additional section
  for one target, asked separately for the other); a global that leaves the answer is removed;
  ignore_tags keeps keys that differ only in an ignored tag on one global.
- hosts_file: the hosts-style override file, re-read on every poll.
- consul: a fake Consul health API; malformed JSON, an empty list and HTTP errors leave the
  destinations unchanged and the proxy alive; a shorter list removes one.
- kubernetes: a fake Endpoints API behind a bearer token; not-ready addresses are not used.
- healthcheck: 503 without a connected destination, 204 once one is up (re-dialled with backoff).
- node: @grpc/grpc-js client -> proxy -> @grpc/grpc-js server (independent HTTP/2 and protobuf).
- cli: -strict, env overrides (VENEUR_PROXY_*), -version, --help, missing -f, /config/json and /yaml.
"""
import bisect
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, Veneur, check, expect, free_port, run, wait_for  # noqa: E402

# VENEUR_PROXY_BIN=build/asan/veneur-proxy runs the same cases against the sanitizer build.
PROXY = os.environ.get("VENEUR_PROXY_BIN") or harness.VENEUR_PROXY
GLOBAL_YAML = "aggregates: [count]\npercentiles: []\n"


def ring_owner(key, members):
    """Go's stathat.com/c/consistent: 20 points "<i><member>" by CRC-32, first point > hash, wrapping."""
    points = sorted((zlib.crc32(("%d%s" % (i, m)).encode()), m) for m in members for i in range(20))
    hashes = [p[0] for p in points]
    i = bisect.bisect_right(hashes, zlib.crc32(key.encode()))
    return points[i % len(points)][1]


class Proxy:
    """A running build/veneur-proxy on ephemeral ports."""

    def __init__(self, yaml_text, env=None, args=()):
        self.dir = tempfile.mkdtemp(prefix="vn-proxy-")
        self.grpc_port = free_port(socket.SOCK_STREAM)
        self.http_port = free_port(socket.SOCK_STREAM)
        self.config = os.path.join(self.dir, "proxy.yaml")
        with open(self.config, "w") as f:
            f.write('grpc_address: "127.0.0.1:%d"\nhttp_address: "127.0.0.1:%d"\ndial_timeout: 1s\n'
                    % (self.grpc_port, self.http_port) + yaml_text)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self._stderr = open(self.stderr_path, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([PROXY, "-f", self.config] + list(args), stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, env=e)
        wait_for(self._alive, timeout=10, what="veneur-proxy /healthz")

    def _alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError("veneur-proxy exited %s: %s" % (self.proc.returncode, self.log()[-2000:]))
        try:
            return self.http("/healthz")[0] == 200
        except OSError:
            return False

    def http(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http_port, path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        out = {}
        for line in self.http("/metrics")[1].splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def metric(self, key):
        return self.metrics().get(key, 0.0)

    def destinations(self):
        """{address: up} from veneur_proxy_destination_up."""
        out = {}
        for k, v in self.metrics().items():
            if k.startswith('veneur_proxy_destination_up{destination="'):
                out[k.split('"')[1]] = v
        return out

    def wait_destinations(self, want_up, timeout=15, what="destinations"):
        """Waits until exactly the addresses in want_up are known and all of them are up."""
        return wait_for(lambda: self.destinations() == {a: 1.0 for a in want_up}, timeout=timeout,
                        what="%s %s (have %r)" % (what, sorted(want_up), self.destinations()))

    def log(self):
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._stderr.closed:
            self._stderr.close()
        return self.proc.returncode


class Tail:
    """New records of a jsonl file since the last poll (whole lines only)."""

    def __init__(self, path):
        self.path, self.off, self.all = path, 0, []

    def poll(self):
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.off += end
            self.all += [json.loads(l) for l in data[:end].splitlines() if l.strip()]
        return self.all


def start_global(port):
    return Veneur(GLOBAL_YAML + 'grpc_address: "127.0.0.1:%d"\n' % port, interval="500ms")


def send_lines(v, lines, limit=3800):
    """Packs lines into datagrams under the local's metric_max_length."""
    chunk, size = [], 0
    for line in lines:
        if size + len(line) + 1 > limit and chunk:
            v.send_udp("\n".join(chunk))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        v.send_udp("\n".join(chunk))


class Sender:
    """Sends one sample of every histogram key (value 1) and a new member to every set key each period."""

    def __init__(self, local, hkeys, skeys, period=0.1):
        self.local, self.hkeys, self.skeys, self.period = local, hkeys, skeys, period
        self.sent = {k: 0 for k in hkeys}
        self.lines = 0
        self.ticks = 0
        self.stop_evt = threading.Event()
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop_evt.is_set():
            lines = ["%s:1|h|#veneurglobalonly" % k for k in self.hkeys]
            lines += ["%s:m%d|s" % (k, self.ticks) for k in self.skeys]
            send_lines(self.local, lines)
            for k in self.hkeys:
                self.sent[k] += 1
            self.lines += len(lines)
            self.ticks += 1
            self.stop_evt.wait(self.period)

    def stop(self):
        self.stop_evt.set()
        self.thread.join()
        self.elapsed = time.monotonic() - self.t0


def key_of(rec_name):
    """Record name -> key: "px.h.7.count" -> "px.h.7", "px.s.3" -> "px.s.3"."""
    return rec_name[:-len(".count")] if rec_name.endswith(".count") else rec_name


def ring_key(key):
    return key + ("histogram" if key.startswith("px.h.") else "set")


def owners(tails_recs, keys):
    """{key: set of global indexes whose records mention it}."""
    out = {k: set() for k in keys}
    for gi, recs in tails_recs.items():
        for r in recs:
            k = key_of(r["name"])
            if k in out:
                out[k].add(gi)
    return out


def test_ring_kill_restart():
    ports = [free_port(socket.SOCK_STREAM) for _ in range(3)]
    members = ["127.0.0.1:%d" % p for p in ports]
    globals_ = [start_global(p) for p in ports]
    proxy = local = sender = None
    restarted = None
    try:
        proxy = Proxy("forward_addresses:\n" + "".join('  - "%s"\n' % m for m in members))
        proxy.wait_destinations(members, what="3 globals up")
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % proxy.grpc_port, interval="1s")
        hkeys = ["px.h.%d" % i for i in range(240)]
        skeys = ["px.s.%d" % i for i in range(60)]
        keys = hkeys + skeys
        want = {k: members.index(ring_owner(ring_key(k), members)) for k in keys}
        tails = [Tail(g.out) for g in globals_]
        sender = Sender(local, hkeys, skeys)

        # Phase 1: every key on exactly the global Go's ring names.
        def all_seen():
            o = owners({i: t.poll() for i, t in enumerate(tails)}, keys)
            return o if all(o[k] for k in keys) else None
        o = wait_for(all_seen, timeout=15, what="every key at some global")
        wrong = {k: sorted(o[k]) for k in keys if o[k] != {want[k]}}
        expect(not wrong, "keys not exactly at their ring owner: %r" % dict(list(wrong.items())[:5]))
        shares = [sum(1 for k in keys if want[k] == i) for i in range(3)]
        expect(all(s > 0 for s in shares), "each global owns keys: %r" % shares)

        # Phase 2: kill -9 one global. Its keys go to the survivors the 2-member ring names.
        victim = max(range(3), key=lambda i: shares[i])
        survivors = [i for i in range(3) if i != victim]
        vkeys = {k for k in keys if want[k] == victim}
        marks = {i: len(tails[i].poll()) for i in survivors}
        # Kill it just after a batch reached it and before its next flush: the worst case, that
        # interval's data for its keys dies with it (the bound below is checked against this).
        got0 = globals_[victim].metric("veneur_import_metrics_received_total")
        wait_for(lambda: globals_[victim].metric("veneur_import_metrics_received_total") > got0, timeout=5,
                 step=0.005, what="a batch at the victim")
        globals_[victim].proc.kill()
        globals_[victim].proc.wait()
        wait_for(lambda: proxy.metric("veneur_proxy_destinations_healthy") == 2, timeout=5,
                 what="the proxy to drop the killed global")
        surv_members = [members[i] for i in survivors]

        def moved():
            o2 = owners({i: tails[i].poll()[marks[i]:] for i in survivors}, keys)
            return o2 if all(o2[k] for k in vkeys) else None
        o2 = wait_for(moved, timeout=8, what="the killed global's keys at the survivors")
        for k in keys:
            if k in vkeys:
                expect(o2[k] == {members.index(ring_owner(ring_key(k), surv_members))},
                       "%s after the kill: at %r" % (k, sorted(o2[k])))
            else:
                expect(o2[k] <= {want[k]}, "%s moved although its global is alive: %r" % (k, sorted(o2[k])))

        # Phase 3: restart it on the same port; the proxy re-dials and the keys move back.
        restarted = start_global(ports[victim])
        rtail = Tail(restarted.out)
        wait_for(lambda: proxy.metric("veneur_proxy_destinations_healthy") == 3, timeout=25,
                 what="the proxy to re-dial the restarted global")
        wait_for(lambda: {key_of(r["name"]) for r in rtail.poll()} >= vkeys, timeout=8,
                 what="the keys back at the restarted global")
        marks = {i: len(tails[i].poll()) for i in survivors}
        own = {i: {k for k in keys if want[k] == i} for i in survivors}

        def two_full_flushes(i):
            recs = tails[i].poll()[marks[i]:]
            seen, cut = set(), None
            for j, r in enumerate(recs):
                seen.add(key_of(r["name"]))
                if cut is None and seen >= own[i]:
                    cut, seen = j + 1, set()
                elif cut is not None and seen >= own[i]:
                    return recs[cut:j + 1]
            return None
        for i in survivors:
            later = wait_for(lambda: two_full_flushes(i), timeout=8, what="two more flushes at a survivor")
            back = sorted({key_of(r["name"]) for r in later} & vkeys)
            expect(not back, "survivor %d still gets the restarted global's keys: %r" % (i, back[:5]))

        # Shutdown in order, so every sample that reached the local is accounted for.
        sender.stop()
        wait_for(lambda: local.metric("veneur_lines_received_total") >= sender.lines, timeout=10,
                 what="the local to read every line sent")
        expect(local.stop() == 0, "local exit 0")
        expect(proxy.stop() == 0, "proxy exit 0 after draining")
        for g in [globals_[i] for i in survivors] + [restarted]:
            expect(g.stop() == 0, "global exit 0")
        got = {k: 0 for k in hkeys}
        for path in [g.out for g in globals_] + [restarted.out]:
            for r in Tail(path).poll():
                k = key_of(r["name"])
                if k in got and r["name"].endswith(".count"):
                    got[k] += r["value"]
        lost = {k: sender.sent[k] - got[k] for k in hkeys}
        extra = {k: -v for k, v in lost.items() if v < 0}
        expect(not extra, "counted more than sent: %r" % dict(list(extra.items())[:5]))
        others = {k: v for k, v in lost.items() if v and k not in vkeys}
        expect(not others, "keys of live globals lost samples: %r" % dict(list(others.items())[:5]))
        vh = [k for k in hkeys if k in vkeys]
        # One local interval (1 s) holds at most ceil(1 s / period) + 1 samples of a key (tick alignment);
        # 20% slack for a local flush that runs late under load (its batch then spans a bit more).
        per_interval = int(1.0 / sender.period + 0.999) + 1
        total_lost = sum(lost[k] for k in vh)
        bound = per_interval * len(vh) * 1.2  # one interval of the victim's keys
        print("# ring: keys=%d shares=%r victim_keys=%d lost_samples=%d bound=%.0f sent_per_key=%d"
              % (len(keys), shares, len(vkeys), total_lost, bound, sender.sent[hkeys[0]]), flush=True)
        expect(total_lost <= bound, "lost %d samples of the killed global's %d histogram keys, more than one "
               "interval (%.0f)" % (total_lost, len(vh), bound))
        expect(max(lost[k] for k in vh) <= per_interval * 1.5, "one key lost more than one interval: %r"
               % max(lost[k] for k in vh))
    finally:
        if sender and not sender.stop_evt.is_set():
            sender.stop()
        for v in [local, proxy, restarted] + globals_:
            if v:
                v.stop()


# ---------------------------------------------------------------- DNS


class FakeDNS:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP): A and SRV from a table the test edits."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.srv = {}         # name -> [(target, port)]
        self.a = {}           # name -> [ip]
        self.additional = set()  # SRV targets whose A records go in the additional section
        self.queries = []
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    @staticmethod
    def name_bytes(name):
        return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"

    def rr(self, name, rtype, rdata):
        return self.name_bytes(name) + struct.pack(">HHIH", rtype, 1, 30, len(rdata)) + rdata

    def loop(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            qid, _flags, qd = struct.unpack(">HHH", data[:6])
            pos, labels = 12, []
            while data[pos]:
                labels.append(data[pos + 1:pos + 1 + data[pos]].decode())
                pos += 1 + data[pos]
            qtype = struct.unpack(">H", data[pos + 1:pos + 3])[0]
            question = data[12:pos + 5]
            qname = ".".join(labels).lower()
            with self.lock:
                self.queries.append((qname, qtype))
                an, ar = [], []
                if qtype == 33 and qname in self.srv:
                    for target, port in self.srv[qname]:
                        an.append(self.rr(qname, 33, struct.pack(">HHH", 0, 0, port) + self.name_bytes(target)))
                        if target in self.additional:
                            ar += [self.rr(target, 1, socket.inet_aton(ip)) for ip in self.a.get(target, [])]
                elif qtype == 1 and qname in self.a:
                    an = [self.rr(qname, 1, socket.inet_aton(ip)) for ip in self.a[qname]]
                known = qname in self.srv or qname in self.a
            rcode = 0 if known else 3
            hdr = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(an), 0, len(ar))
            self.sock.sendto(hdr + question + b"".join(an) + b"".join(ar), addr)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def test_dns_srv_discovery():
    ports = [free_port(socket.SOCK_STREAM) for _ in range(2)]
    members = ["127.0.0.1:%d" % p for p in ports]
    dns = FakeDNS()
    globals_ = [start_global(p) for p in ports]
    proxy = local = None
    try:
        with dns.lock:
            dns.srv["_grpc._tcp.globals.test"] = [("g0.test", ports[0]), ("g1.test", ports[1])]
            dns.a = {"g0.test": ["127.0.0.1"], "g1.test": ["127.0.0.1"]}
            dns.additional = {"g0.test"}  # g1.test must be asked for separately
        proxy = Proxy('forward_service: "_grpc._tcp.globals.test"\ndiscovery_interval: 200ms\n'
                      'discovery:\n  kind: dns\n  dns_server: "127.0.0.1:%d"\n'
                      'ignore_tags:\n  - {kind: prefix, value: "host:"}\n' % dns.port)
        proxy.wait_destinations(members, what="both SRV targets")
        with dns.lock:
            expect(("g1.test", 1) in dns.queries, "the target without glue is resolved: %r" % dns.queries[-5:])
        # ignore_tags: one key with 12 host: tags stays on one global (the owner of the tag-less key)
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % proxy.grpc_port, interval="1s")
        lines = ["dns.h:1|h|#veneurglobalonly,host:h%d,env:x" % i for i in range(12)]
        lines += ["dns.k%d:1|h|#veneurglobalonly" % i for i in range(30)]
        send_lines(local, lines)
        tails = [Tail(g.out) for g in globals_]
        wait_for(lambda: sum(1 for t in tails for r in t.poll() if r["name"] == "dns.h.count") >= 12, timeout=10,
                 what="dns.h at the globals")
        where = {i for i, t in enumerate(tails) for r in t.poll() if r["name"] == "dns.h.count"}
        expect(where == {members.index(ring_owner("dns.hhistogramenv:x", members))},
               "ignored host: tags must not spread a key: at %r" % sorted(where))
        wait_for(lambda: sum(1 for t in tails for r in t.poll() if r["name"].startswith("dns.k")) >= 30,
                 timeout=10, what="dns.k* at the globals")
        for i, t in enumerate(tails):
            for r in t.poll():
                if r["name"].startswith("dns.k"):
                    k = key_of(r["name"])
                    expect(ring_owner(k + "histogram", members) == members[i], "%s at global %d" % (k, i))
        # g1 leaves the SRV answer: unlike Go, it is removed
        with dns.lock:
            dns.srv["_grpc._tcp.globals.test"] = [("g0.test", ports[0])]
        proxy.wait_destinations(members[:1], what="only the listed global")
        # NXDOMAIN: an error, nothing changes
        fails = proxy.metric('veneur_proxy_discovery_total{status="fail"}')
        with dns.lock:
            del dns.srv["_grpc._tcp.globals.test"]
        wait_for(lambda: proxy.metric('veneur_proxy_discovery_total{status="fail"}') > fails, timeout=5,
                 what="a failed poll")
        expect(proxy.destinations() == {members[0]: 1.0}, "destinations kept on NXDOMAIN")
    finally:
        for v in [local, proxy] + globals_:
            if v:
                v.stop()
        dns.close()


def test_dns_a_record_and_hosts_file():
    ports = [free_port(socket.SOCK_STREAM) for _ in range(2)]
    members = ["127.0.0.1:%d" % p for p in ports]
    dns = FakeDNS()
    globals_ = [start_global(p) for p in ports]
    d = tempfile.mkdtemp(prefix="vn-hosts-")
    hosts = os.path.join(d, "hosts")
    proxies = []
    try:
        # A record + dns_port
        with dns.lock:
            dns.a["globals.test"] = ["127.0.0.1"]
        p = Proxy('forward_service: globals.test\ndiscovery_interval: 200ms\n'
                  'discovery: {kind: dns, dns_server: "127.0.0.1:%d", dns_port: %d}\n' % (dns.port, ports[1]))
        proxies.append(p)
        p.wait_destinations(members[1:], what="the A record with dns_port")
        # hosts_file wins over DNS and is re-read every poll
        with open(hosts, "w") as f:
            f.write("# veneur globals\nglobals.test 127.0.0.1:%d  # first\nGLOBALS.test. g1.local:%d\n"
                    "g1.local 127.0.0.1\n" % (ports[0], ports[1]))
        p2 = Proxy('forward_service: globals.test\ndiscovery_interval: 200ms\n'
                   'discovery: {kind: dns, dns_server: "127.0.0.1:%d", hosts_file: "%s"}\n' % (dns.port, hosts),
                   env={"VENEUR_PROXY_DISCOVERY_DNSPORT": "1"})
        proxies.append(p2)
        p2.wait_destinations(members, what="both hosts_file entries")
        with open(hosts + ".tmp", "w") as f:
            f.write("globals.test 127.0.0.1:%d\n" % ports[1])
        os.replace(hosts + ".tmp", hosts)
        p2.wait_destinations(members[1:], what="the rewritten hosts_file")
    finally:
        for v in proxies + globals_:
            v.stop()
        dns.close()


# ---------------------------------------------------------------- HTTP discovery


class FakeAPI:
    """A python http.server answering every GET with the body/status the test sets."""

    def __init__(self, require_auth=None):
        api = self
        self.status, self.body, self.requests = 200, b"[]", []
        self.require_auth = require_auth

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                api.requests.append((self.path, self.headers.get("Authorization"), self.headers.get("Accept")))
                if api.require_auth and self.headers.get("Authorization") != api.require_auth:
                    status, body = 401, b'{"kind":"Status","code":401}'
                else:
                    status, body = api.status, api.body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def set(self, body, status=200):
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.status = status

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def consul_entries(ports):
    return [{"Node": {"Node": "n%d" % i, "Address": "127.0.0.1", "TaggedAddresses": {"lan": "127.0.0.1"}},
             "Service": {"ID": "g", "Service": "globals", "Tags": None, "Address": "10.9.9.9", "Port": p},
             "Checks": [{"Status": "passing"}]} for i, p in enumerate(ports)]


def expect_unchanged_after(proxy, api, body, want, status=200):
    shown = repr(body)[:50]
    fails = proxy.metric('veneur_proxy_discovery_total{status="fail"}')
    api.set(body, status)
    wait_for(lambda: proxy.metric('veneur_proxy_discovery_total{status="fail"}') >= fails + 2, timeout=5,
             what="two failed polls for " + shown)
    expect(proxy.proc.poll() is None, "proxy alive after " + shown)
    expect(proxy.destinations() == {a: 1.0 for a in want}, "destinations kept after a bad answer: %r"
           % proxy.destinations())


MALFORMED = [
    b'[{"Node":{"Address":"127.0.0.1"},"Service":{"Port":1}},]',  # trailing comma
    b'[{"Node":{"Address":"127.0.0.1"},"Service":{"Port":8',        # truncated
    b'[{"Node":{"Address":"127.0.0.\xff"},"Service":{"Port":1}}]',  # invalid UTF-8
    b"[" * 100000 + b"]" * 100000,                                # nesting far past the limit
    b'{"Node":{}}',                                                # not a list
    b'[{"Node":{"Address":"127.0.0.1"},"Service":{"Port":70000}}]',  # not a port
    b"\x00\x01garbage",
]


def test_consul_discovery():
    ports = [free_port(socket.SOCK_STREAM) for _ in range(2)]
    members = ["127.0.0.1:%d" % p for p in ports]
    api = FakeAPI()
    api.set(consul_entries(ports))
    globals_ = [start_global(p) for p in ports]
    proxy = None
    try:
        proxy = Proxy('forward_service: globals\ndiscovery_interval: 100ms\n',
                      env={"CONSUL_HTTP_ADDR": "127.0.0.1:%d" % api.port})
        proxy.wait_destinations(members, what="Consul's two entries (Node.Address:Service.Port)")
        path = api.requests[0][0]
        expect(path.startswith("/v1/health/service/globals?passing"), "consul request %r" % path)
        for body in MALFORMED:
            expect_unchanged_after(proxy, api, body, members)
        expect_unchanged_after(proxy, api, b"[]", members)  # zero hosts is an error (Go)
        expect_unchanged_after(proxy, api, b"oops", members, status=500)
        api.set(consul_entries(ports[1:]))
        proxy.wait_destinations(members[1:], what="the shorter Consul list")
        expect(proxy.http("/healthcheck")[0] == 204, "healthy with one destination")
    finally:
        for v in [proxy] + globals_:
            if v:
                v.stop()
        api.close()


def test_kubernetes_discovery():
    ports = [free_port(socket.SOCK_STREAM) for _ in range(2)]
    members = ["127.0.0.1:%d" % p for p in ports]
    api = FakeAPI(require_auth="Bearer tok-123")
    d = tempfile.mkdtemp(prefix="vn-k8s-")
    with open(os.path.join(d, "token"), "w") as f:
        f.write("tok-123\n")
    with open(os.path.join(d, "namespace"), "w") as f:
        f.write("veneur")

    def endpoints(ready, not_ready=()):
        subsets = [{"addresses": [{"ip": "127.0.0.1", "targetRef": {"kind": "Pod"}}],
                    "ports": [{"name": "http", "port": 1, "protocol": "TCP"},
                              {"name": "grpc", "port": p, "protocol": "TCP"}]} for p in ready]
        subsets += [{"notReadyAddresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "grpc", "port": p}]}
                    for p in not_ready]
        return {"kind": "Endpoints", "apiVersion": "v1", "metadata": {"name": "globals"}, "subsets": subsets}
    api.set(endpoints(ports))
    globals_ = [start_global(p) for p in ports]
    proxy = None
    try:
        proxy = Proxy('forward_service: globals\ndiscovery_interval: 100ms\ndiscovery:\n  kind: kubernetes\n'
                      '  kubernetes_api: "http://127.0.0.1:%d"\n  kubernetes_token_file: "%s/token"\n'
                      '  kubernetes_namespace_file: "%s/namespace"\n' % (api.port, d, d))
        proxy.wait_destinations(members, what="both ready endpoints")
        expect(api.requests[0][0] == "/api/v1/namespaces/veneur/endpoints/globals", "k8s path %r"
               % api.requests[0][0])
        expect(api.requests[0][1] == "Bearer tok-123", "bearer token sent")
        for body in MALFORMED[:4] + [b'{"kind":"Pod"}', b'{"subsets":[{"addresses":[{"ip":"not-an-ip"}],'
                                     b'"ports":[{"name":"grpc","port":1}]}]}']:
            expect_unchanged_after(proxy, api, body, members)
        api.set(endpoints(ports[:1], not_ready=ports[1:]))
        proxy.wait_destinations(members[:1], what="the ready endpoint only")
        with open(os.path.join(d, "token"), "w") as f:
            f.write("rotated")
        expect_unchanged_after(proxy, api, endpoints(ports), members[:1])  # 401 now: an error
    finally:
        for v in [proxy] + globals_:
            if v:
                v.stop()
        api.close()


# ---------------------------------------------------------------- independent gRPC peers

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def node_peer(*args):
    return subprocess.Popen(["node", os.path.join(NODE_DIR, "grpc_peer.js")] + list(args), cwd=NODE_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_node_client_and_server():
    """@grpc/grpc-js on both sides: a Node client calls the proxy (SendMetrics and SendMetricsV2), the
    proxy streams to a Node server standing in for the global."""
    d = tempfile.mkdtemp(prefix="vn-proxy-node-")
    outp = os.path.join(d, "received.jsonl")
    srv = node_peer("server", outp)
    proxy = None
    try:
        line = srv.stdout.readline()
        expect(line.startswith("PORT "), "node server did not start: %r" % line)
        member = "127.0.0.1:%d" % int(line.split()[1])
        proxy = Proxy('forward_addresses: ["%s"]\n' % member)
        proxy.wait_destinations([member], what="the Node server")
        cli = node_peer("client", "127.0.0.1:%d" % proxy.grpc_port)
        out, err = cli.communicate(timeout=60)
        expect(cli.returncode == 0, "node client failed: %s" % err[-800:])
        res = json.loads(out.strip().splitlines()[-1])
        # the proxy routes without judging values (as Go): even the Local-scope call is OK here
        expect(all(res[k]["code"] == 0 for k in ("unary", "v2", "local")), "all calls OK: %r" % res)

        def received():
            if not os.path.exists(outp):
                return None
            with open(outp) as f:
                recs = [json.loads(x) for x in f if x.strip()]
            return recs if len(recs) >= 8 else None
        recs = wait_for(received, timeout=10, what="8 metrics at the Node server while the stream is open")
        names = sorted(r["name"] for r in recs)
        expect(names == sorted(["node.unary.counter"] * 2 + ["node.v2.gauge", "node.v2.hist", "node.v2.timer",
                                                             "node.v2.set", "node.local", "node.after.local"]),
               "forwarded unchanged: %r" % names)
        expect(all(r["_method"] == "SendMetricsV2" for r in recs), "one stream to the destination")
        g = [r for r in recs if r["name"] == "node.v2.gauge"][0]
        expect(g["tags"] == ["b:2", "a:1"] and g["gauge"]["value"] == 2.5 and g["scope"] == "Global",
               "bytes forwarded as received: %r" % g)
        expect(proxy.metric('veneur_proxy_forward_connect_total{destination="%s",status="success"}' % member) == 1,
               "one connection, one long-lived stream")
        expect(proxy.stop() == 0, "proxy exit 0")
        expect("drain_incomplete" not in proxy.log(), "the stream to grpc-js ended cleanly: %s" % proxy.log()[-500:])
    finally:
        if proxy:
            proxy.stop()
        srv.terminate()
        srv.wait(timeout=10)


# ---------------------------------------------------------------- health, CLI


def test_healthcheck_and_redial():
    port = free_port(socket.SOCK_STREAM)
    proxy = Proxy('forward_addresses: ["127.0.0.1:%d"]\n' % port)
    g = None
    try:
        expect(proxy.http("/healthcheck")[0] == 503, "503 with no connected destination")
        expect(proxy.http("/healthz")[0] == 200 and proxy.http("/readyz")[0] == 200, "alive and ready")
        wait_for(lambda: proxy.metric('veneur_proxy_forward_connect_total{destination="127.0.0.1:%d",'
                                      'status="failed_dial"}' % port) >= 2, timeout=5, what="re-dials")
        g = start_global(port)
        wait_for(lambda: proxy.http("/healthcheck")[0] == 204, timeout=15, what="204 once the global is up")
        status, body = proxy.http("/healthcheck")
        expect(body == "", "Go writes no body: %r" % body)
        expect(proxy.stop() == 0, "exit 0 on SIGTERM")
        expect("event=proxy_stopped" in proxy.log(), "graceful stop logged")
    finally:
        proxy.stop()
        if g:
            g.stop()


def run_proxy(args, env=None, timeout=10):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([PROXY] + args, capture_output=True, text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_cli_and_env():
    d = tempfile.mkdtemp(prefix="vn-proxy-cli-")
    cfg = os.path.join(d, "p.yaml")
    with open(cfg, "w") as f:
        f.write("grpc_address: 127.0.0.1:0\nbogus_key: 1\n")
    rc, _, err = run_proxy(["-f", cfg, "-strict"])
    expect(rc == 1 and "bogus_key" in err, "-strict rejects an unknown key: %d %r" % (rc, err))
    rc, out, _ = run_proxy(["--help"])
    expect(rc == 0 and "-strict" in out and "-f string" in out, "--help: %d %r" % (rc, out))
    rc, out, _ = run_proxy(["-version"])
    expect(rc == 0 and "veneur-proxy" in out, "-version: %r" % out)
    rc, _, err = run_proxy([])
    expect(rc == 1 and "config file" in err, "missing -f: %d %r" % (rc, err))
    rc, _, err = run_proxy(["-nope"])
    expect(rc == 2, "unknown flag exits 2")
    rc, _, err = run_proxy(["-f", cfg], env={"VENEUR_PROXY_DIALTIMEOUT": "soon"})
    expect(rc == 1 and "VENEUR_PROXY_DIALTIMEOUT" in err, "bad env value named: %r" % err)
    # env overrides: forward addresses and the discovery block come from VENEUR_PROXY_*
    port = free_port(socket.SOCK_STREAM)
    g = start_global(port)
    p = None
    try:
        p = Proxy("http: {enable_config: true}\nsentry_dsn: https://key@sentry\n",
                  env={"VENEUR_PROXY_FORWARDADDRESSES": "127.0.0.1:%d" % port})
        p.wait_destinations(["127.0.0.1:%d" % port], what="the env-configured destination")
        status, body = p.http("/config/json")
        cfg = json.loads(body)
        expect(status == 200 and cfg["ForwardAddresses"] == ["127.0.0.1:%d" % port] and cfg["DialTimeout"] == 10**9,
               "/config/json: %r" % body[:300])
        expect(cfg["SentryDsn"] == "<redacted>", "secrets redacted")
        status, body = p.http("/config/yaml")
        expect(status == 200 and "dial_timeout: 1s" in body, "/config/yaml: %r" % body[:300])
    finally:
        if p:
            p.stop()
        g.stop()


def test_print_secrets():
    """Go's -print-secrets: the dumps show secrets; without it a URL's token and userinfo are redacted."""
    rc, out, _ = run_proxy(["--help"])
    expect(rc == 0 and "-print-secrets" in out, "--help lists -print-secrets: %r" % out)
    rc, _, err = run_proxy(["-print-secrets=maybe", "-f", "/nonexistent"])
    expect(rc == 2 and "invalid boolean value" in err, "-print-secrets=maybe: %d %r" % (rc, err))
    text = ('http: {enable_config: true}\nsentry_dsn: "https://SEKRET1@sentry/1"\n'
            'discovery:\n  consul_address: "http://u:SEKRET2@127.0.0.1:1/?api_key=SEKRET3"\n')
    for args, shown in (([], False), (["-print-secrets"], True), (["--print-secrets=false"], False)):
        p = Proxy(text, args=args)
        try:
            for path in ("/config/json", "/config/yaml"):
                status, body = p.http(path)
                expect(status == 200, "%s %s: status %d" % (args, path, status))
                if shown:
                    expect(all(s in body for s in ("SEKRET1", "u:SEKRET2@", "api_key=SEKRET3")),
                           "%s %s shows secrets: %r" % (args, path, body[:600]))
                else:
                    expect("SEKRET" not in body and "api_key=<redacted>" in body,
                           "%s %s redacts: %r" % (args, path, body[:600]))
        finally:
            p.stop()


if __name__ == "__main__":
    for name, fn in sorted((n, f) for n, f in globals().items() if n.startswith("test_")):
        if len(sys.argv) > 1 and not any(a in name for a in sys.argv[1:]):
            continue
        check("50-proxy/" + name[5:], fn)
    run()
