"""SSF spans (Go ssf/sample.proto, protocol/wire.go) reach the workers as metrics with Go's values.

The test encodes SSFSpan protobuf by hand (varints and length-delimited fields from the proto's
field numbers), sends spans over UDP (one per datagram) and a unix stream socket (Go's framing:
version byte 0, big-endian u32 length, body), and reads the jsonl flush: counters, gauges,
histogram aggregates and percentiles, sets and statuses from samples inside spans; the indicator
and objective timers with Go's tags; and hostile bytes (truncated protobuf, oversize datagram,
empty datagram, bad frame version, frame length over the limit, a stream written one byte at a
time) counted and dropped while good spans next to them are kept.
"""
import os
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, by_name, check, expect, run, wait_for  # noqa: E402

# --- a tiny protobuf encoder (proto3, only what SSF needs) ---------------------------------


def varint(n):
    n &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3 | 0) + varint(v) if v else b""


def f_bytes(num, b):
    b = b.encode() if isinstance(b, str) else b
    return varint(num << 3 | 2) + varint(len(b)) + b if b else b""


def f_float(num, v):
    return varint(num << 3 | 5) + struct.pack("<f", v) if v else b""


def f_map(num, d):
    return b"".join(f_bytes(num, varint(1 << 3 | 2) + varint(len(k)) + k.encode() + f_bytes(2, v) if True else b"")
                    for k, v in d.items())


COUNTER, GAUGE, HISTOGRAM, SET, STATUS = range(5)
DEFAULT, LOCAL, GLOBAL = range(3)


def sample(metric, name, value=0.0, message="", status=0, rate=0.0, tags=None, unit="", scope=DEFAULT):
    return (f_varint(1, metric) + f_bytes(2, name) + f_float(3, value) + f_bytes(5, message) + f_varint(6, status) +
            f_float(7, rate) + f_map(8, tags or {}) + f_bytes(9, unit) + f_varint(10, scope))


def span(metrics=(), trace_id=0, id=0, parent=0, start=0, end=0, error=False, service="", tags=None,
         indicator=False, name=""):
    return (f_varint(2, trace_id) + f_varint(3, id) + f_varint(4, parent) + f_varint(5, start) + f_varint(6, end) +
            f_varint(7, 1 if error else 0) + f_bytes(8, service) + b"".join(f_bytes(10, m) for m in metrics) +
            f_map(11, tags or {}) + f_varint(12, 1 if indicator else 0) + f_bytes(13, name))


def frame(body, version=0):
    return bytes([version]) + struct.pack(">I", len(body)) + body


T0 = 1_700_000_000_000_000_000


def main():
    d = tempfile.mkdtemp(prefix="vn-e2e-ssf-")
    sock_path = os.path.join(d, "ssf.sock")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    ssf_port = s.getsockname()[1]
    s.close()
    extra = ("ssf_listen_addresses:\n  - \"udp://127.0.0.1:%d\"\n  - \"unix://%s\"\n"
             "trace_max_length_bytes: 4096\nnum_span_workers: 2\nspan_channel_capacity: 1000\n"
             "indicator_span_timer_name: \"indicator.span.timer\"\n"
             "objective_span_timer_name: \"objective.span.timer\"\n"
             "percentiles: [0.5, 0.99]\naggregates: [min, max, count]\n" % (ssf_port, sock_path))
    v = Veneur(extra)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(b):
        udp.sendto(b, ("127.0.0.1", ssf_port))

    def counter(name):
        return v.metric(name)

    try:
        base = {n: counter(n) for n in ["veneur_ssf_spans_received_total", "veneur_ssf_errors_decode_total",
                                        "veneur_ssf_packet_too_long_total", "veneur_ssf_frame_errors_total",
                                        "veneur_ssf_errors_zerolength_total", "veneur_ssf_samples_invalid_total",
                                        "veneur_ssf_frames_total"]}
        # --- UDP: samples carried by spans ---
        good_udp = [
            span([sample(COUNTER, "ssf.count", 3, tags={"b": "2", "a": "1"}),
                  sample(COUNTER, "ssf.count", 2, rate=0.5, tags={"a": "1", "b": "2"}),
                  sample(GAUGE, "ssf.gauge", 7.25, unit="ms"),
                  sample(SET, "ssf.set", message="alice"), sample(SET, "ssf.set", message="bob"),
                  sample(SET, "ssf.set", message="alice"),
                  sample(COUNTER, "ssf.local", 1, scope=LOCAL),
                  sample(COUNTER, "ssf.magic", 1, tags={"veneurglobalonly": "", "x": "y"}),
                  sample(COUNTER, "", 1)],  # no name: invalid, counted, the others are kept
                 trace_id=1, id=1, start=T0, end=T0 + 1000, service="svc", name="op"),
            span([sample(HISTOGRAM, "ssf.hist", float(x)) for x in range(1, 101)], trace_id=5, id=6),
            # indicator spans: 250 ms ok, 1 s error; objective from the name, then from ssf_objective
            span(trace_id=10, id=10, start=T0, end=T0 + 250_000_000, service="pay", name="charge", indicator=True),
            span(trace_id=10, id=11, parent=10, start=T0, end=T0 + 1_000_000_000, service="pay", name="charge",
                 indicator=True, error=True, tags={"ssf_objective": "checkout"}),
            # not a valid trace (no start): no timers, its samples still count
            span([sample(COUNTER, "ssf.carrier", 4)], trace_id=0, id=0, service="pay", name="x", indicator=True),
        ]
        hostile_udp = [b"\x0a\xff\xff", span([sample(COUNTER, "ssf.count", 1)])[:-1] + b"\x52\x05ab",
                       span([sample(COUNTER, "ssf.toolong", 1, message="x" * 5000)]), b""]
        for b in hostile_udp[:1] + good_udp[:2] + hostile_udp[1:] + good_udp[2:]:
            send(b)

        # --- unix stream: good frames, then a byte-at-a-time frame, then a bad version ---
        st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        st.connect(sock_path)
        st.sendall(frame(span([sample(COUNTER, "ssf.stream", 10)])) + frame(b"\x0a\xff") +  # bad protobuf: kept going
                   frame(span([sample(COUNTER, "ssf.stream", 5)])))
        for byte in frame(span([sample(GAUGE, "ssf.bytewise", 42)])):
            st.send(bytes([byte]))
        st.sendall(frame(span([sample(COUNTER, "ssf.after_bad", 1)]), version=1))
        st2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        st2.connect(sock_path)
        st2.sendall(frame(span([sample(COUNTER, "ssf.stream", 100)])) + b"\x00" + struct.pack(">I", 1 << 20))

        # our own veneur-emit as a real SSF client: a counter over udp, a traced indicator
        # command over the unix stream (its duration becomes the indicator timers)
        import subprocess
        from harness import VENEUR_EMIT
        emit_rc = [subprocess.run([VENEUR_EMIT, "-hostport", "udp://127.0.0.1:%d" % ssf_port, "-ssf", "-name",
                                   "emit.count", "-count", "3", "-tag", "via:emit"], timeout=20).returncode,
                   subprocess.run([VENEUR_EMIT, "-hostport", "unix://" + sock_path, "-ssf", "-trace_id", "77",
                                   "-name", "emit.job", "-span_service", "batch", "-indicator", "-command", "true"],
                                  timeout=20).returncode]
        state["emit_rc"] = emit_rc

        # 260 silent connections from our uid (cap 256 per uid): the oldest silent ones are
        # evicted so a newcomer that sends a span is still served
        silent = []
        for _ in range(260):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(sock_path)
            silent.append(c)
        wait_for(lambda: counter("veneur_ssf_connections_accepted_total") >= 262, timeout=10, what="accepts")
        late = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        late.connect(sock_path)
        late.sendall(frame(span([sample(COUNTER, "ssf.evict_ok", 1)])))
        state["evicted"] = lambda: counter("veneur_ssf_connections_evicted_total")

        def gains(name, n):
            return counter(name) - base[name] >= n
        wait_for(lambda: gains("veneur_ssf_frame_errors_total", 2) and gains("veneur_ssf_spans_received_total", 9),
                 timeout=15, what="spans and frame errors counted")

        def have_all(recs):
            names = {r["name"] for r in recs}
            return {"ssf.count", "ssf.gauge", "ssf.set", "ssf.hist.50percentile", "indicator.span.timer.count",
                    "objective.span.timer.count", "ssf.stream", "ssf.bytewise", "ssf.carrier", "ssf.evict_ok", "emit.count"} <= names and any(
                r["name"] == "indicator.span.timer.count" and "service:batch" in r["tags"] for r in recs)
        recs = v.wait_records(have_all, timeout=15, what="span-derived metrics flushed")
        # a second interval may split them; wait for the next flush so totals are final
        state["recs"] = recs
        state["v"] = v
        state["evicted_n"] = state["evicted"]()
        for c in silent + [late, st, st2]:
            c.close()
    finally:
        udp.close()
        rc = v.stop()
    state["rc"] = rc
    state["final"] = v.records()
    state["base"] = base


state = {}


def vals(name, tags=None):
    return [r["value"] for r in by_name(state["final"], name, tags)]


def one(name, tags=None):
    got = vals(name, tags)
    expect(len(got) >= 1, "%s %s not flushed: %s" % (name, tags, sorted({r["name"] for r in state["final"]})))
    return sum(got) if not name.endswith(("percentile", ".max", ".min")) and "gauge" not in name else got[-1]


def case_samples():
    expect(one("ssf.count", ["a:1", "b:2"]) == 7, "counter 3 + 2@0.5 = 7: %s" % vals("ssf.count"))
    expect(one("ssf.gauge", []) == 7.25, "gauge: %s" % vals("ssf.gauge"))
    expect(one("ssf.set", []) == 2, "set of alice, bob: %s" % vals("ssf.set"))
    expect(one("ssf.local", []) == 1 and one("ssf.magic", ["x:y"]) == 1, "scoped counters")
    expect(one("ssf.carrier", []) == 4, "samples of a non-trace span")


def case_histogram():
    expect(one("ssf.hist.count", []) == 100, "count: %s" % vals("ssf.hist.count"))
    expect(one("ssf.hist.min", []) == 1 and one("ssf.hist.max", []) == 100, "min/max")
    p50 = one("ssf.hist.50percentile", [])
    expect(49 <= p50 <= 51, "p50 of 1..100: %s" % p50)
    p99 = one("ssf.hist.99percentile", [])
    expect(98 <= p99 <= 100, "p99 of 1..100: %s" % p99)


def case_indicator():
    ok = ["error:false", "service:pay"]
    bad = ["error:true", "service:pay"]
    expect(one("indicator.span.timer.count", ok) == 1 and one("indicator.span.timer.count", bad) == 1,
           "indicator counts: %s" % [(r["name"], r["tags"]) for r in state["final"] if "indicator" in r["name"]])
    expect(one("indicator.span.timer.max", ok) == 250_000_000, "indicator ns: %s" % vals("indicator.span.timer.max", ok))
    expect(one("indicator.span.timer.max", bad) == 1_000_000_000, "error span ns")
    o1 = ["error:false", "objective:charge", "service:pay"]
    o2 = ["error:true", "objective:checkout", "service:pay"]
    expect(one("objective.span.timer.count", o1) == 1 and one("objective.span.timer.count", o2) == 1,
           "objective tags: %s" % [(r["name"], r["tags"]) for r in state["final"] if "objective" in r["name"]])
    expect(one("objective.span.timer.max", o1) == 250_000_000, "objective ns")


def case_stream():
    expect(one("ssf.stream", []) == 115, "stream counter 10 + 5 + 100: %s" % vals("ssf.stream"))
    expect(one("ssf.bytewise", []) == 42, "byte-at-a-time frame")
    expect(not vals("ssf.after_bad"), "frame after a bad version must not be read")


def case_eviction():
    expect(one("ssf.evict_ok", []) == 1, "newcomer past the per-uid cap served")
    expect(state["evicted_n"] >= 5, "silent connections evicted: %s" % state["evicted_n"])


def case_veneur_emit():
    expect(state["emit_rc"] == [0, 0], "veneur-emit exit status: %s" % state["emit_rc"])
    expect(one("emit.count", ["via:emit"]) == 3, "veneur-emit -ssf counter: %s" % vals("emit.count"))
    tags = ["error:false", "service:batch"]
    expect(one("indicator.span.timer.count", tags) == 1, "indicator timer of the traced command")
    ns = one("indicator.span.timer.max", tags)
    expect(0 < ns < 20e9, "command duration in ns: %s" % ns)
    expect(one("objective.span.timer.count", ["error:false", "objective:emit.job", "service:batch"]) == 1,
           "objective timer named after the span")


def case_bad_scheme():
    import subprocess
    from harness import VENEUR, sanitizer_env
    d = tempfile.mkdtemp(prefix="vn-e2e-ssf-cfg-")
    cfg = os.path.join(d, "v.yaml")
    with open(cfg, "w") as f:
        f.write('statsd_listen_addresses: ["udp://127.0.0.1:0"]\nssf_listen_addresses: ["tcp://127.0.0.1:0"]\n')
    p = subprocess.run([VENEUR, "-f", cfg], capture_output=True, text=True, timeout=20, env=sanitizer_env())
    expect(p.returncode == 2 and "only udp:// and unix://" in p.stderr, "tcp:// refused: rc %s %s"
           % (p.returncode, p.stderr[-400:]))


def case_hostile_counted():
    v, b = state["v"], state["base"]
    g = {n: state["after"][n] - b[n] for n in b}
    expect(g["veneur_ssf_errors_decode_total"] >= 3, "decode errors (2 udp, 1 frame): %s" % g)
    expect(g["veneur_ssf_packet_too_long_total"] == 1, "oversize datagram: %s" % g)
    expect(g["veneur_ssf_errors_zerolength_total"] == 1, "empty datagram: %s" % g)
    expect(g["veneur_ssf_frame_errors_total"] == 2, "bad version + length over limit: %s" % g)
    expect(g["veneur_ssf_samples_invalid_total"] == 1, "nameless sample: %s" % g)
    expect(state["rc"] == 0, "exit status %s" % state["rc"])


def setup():
    main()


if __name__ == "__main__":
    orig_stop = Veneur.stop

    def stop_capturing(self, *a, **k):
        if self.proc.poll() is None:
            state["after"] = {n: self.metric(n) for n in ["veneur_ssf_spans_received_total",
                                                          "veneur_ssf_errors_decode_total",
                                                          "veneur_ssf_packet_too_long_total",
                                                          "veneur_ssf_frame_errors_total",
                                                          "veneur_ssf_errors_zerolength_total",
                                                          "veneur_ssf_samples_invalid_total",
                                                          "veneur_ssf_frames_total"]}
        return orig_stop(self, *a, **k)
    Veneur.stop = stop_capturing
    check("ssf setup (spans over udp and unix)", setup)
    if "final" in state:
        check("ssf samples: counter with rate, gauge, set, scopes", case_samples)
        check("ssf histogram aggregates and percentiles", case_histogram)
        check("ssf indicator and objective timers with Go's tags", case_indicator)
        check("ssf unix stream framing, byte-at-a-time, bad version closes", case_stream)
        check("ssf hostile bytes counted and dropped", case_hostile_counted)
        check("ssf per-uid connection cap evicts silent connections", case_eviction)
        check("ssf_listen_addresses tcp:// is a config error (exit 2), as Go refuses it", case_bad_scheme)
        check("ssf from our veneur-emit -ssf (udp and unix, -indicator -command)", case_veneur_emit)
    run()
