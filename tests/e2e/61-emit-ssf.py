#!/usr/bin/env python3
"""End-to-end tests of build/veneur-emit -ssf (issue 20; tools/veneur-emit/ssf.c).

veneur-emit sends to sockets owned by this test: a UDP socket (one SSFSpan
protobuf per datagram) and a unix stream listener (Go's framing,
protocol/wire.go: version byte 0, big-endian uint32 length, the span). The
protobuf is decoded here by a small decoder written from proto/ssf.proto's
field numbers, and every field is checked against what Go veneur-emit v14
puts there (cmd/veneur-emit/main.go setupSpan / createMetric, ssf/samples.go):

  span, only when tracing (-trace_id or VENEUR_EMIT_TRACE_ID non-zero):
    trace_id, parent_id (-parent_span_id or VENEUR_EMIT_PARENT_SPAN_ID), id random
    in [1, 2^63), name = -name, service = -span_service (default "veneur-emit"),
    tags = -tag then -span_tags (span_tags win), indicator, error
  always: start/end timestamps (unix ns) around -command or from
    -span_starttime/-span_endtime; error also when the command exits non-zero
  samples, all named -name with the -tag tags and sample_rate 1, in Go's order:
    command timer and -timing: HISTOGRAM, whole ms truncated, unit "ms";
    -gauge GAUGE float32; -count COUNTER float32; -set SET with message = value

No sleeps: veneur-emit has exited before we read, so its datagram is queued and
its connection is in the accept queue. "Nothing sent" is checked with a marker
datagram and a non-blocking look at the listener.

Prints `PASS <name>` / `FAIL <name>: why`; exits 1 if any failed.
"""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EMIT = os.environ.get("VENEUR_EMIT", harness.VENEUR_EMIT)
# Go Veneur v14's veneur-emit, when ../shared/peers/build-peers.sh built it: every span is compared with its.
GO_EMIT = os.environ.get("GO_VENEUR_EMIT") or os.path.join(os.path.expanduser("~"), ".cache", "veneur-peers",
                                                          "bin", "veneur-emit")
TIMEOUT = 5.0

COUNTER, GAUGE, HISTOGRAM, SET = 0, 1, 2, 3


# ---- a protobuf decoder for SSFSpan / SSFSample (proto/ssf.proto) ----

def _varint(b, i):
    v = shift = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(b):
    """Yields (field number, wire type, value): ints for varint/fixed, bytes for length-delimited."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ValueError("truncated field %d" % num)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def _int64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _map_entry(b):
    k = v = ""
    for num, _, val in _fields(b):
        if num == 1:
            k = val.decode()
        elif num == 2:
            v = val.decode()
    return k, v


def decode_sample(b):
    s = {"metric": 0, "name": "", "value": 0.0, "timestamp": 0, "message": "", "status": 0,
         "sample_rate": 0.0, "tags": {}, "unit": "", "scope": 0}
    for num, wt, v in _fields(b):
        if num == 1:
            s["metric"] = v
        elif num == 2:
            s["name"] = v.decode()
        elif num == 3:
            assert wt == 5, "value must be a float (fixed32)"
            s["value"] = struct.unpack("<f", v)[0]
        elif num == 4:
            s["timestamp"] = _int64(v)
        elif num == 5:
            s["message"] = v.decode()
        elif num == 6:
            s["status"] = v
        elif num == 7:
            assert wt == 5, "sample_rate must be a float (fixed32)"
            s["sample_rate"] = struct.unpack("<f", v)[0]
        elif num == 8:
            k, val = _map_entry(v)
            s["tags"][k] = val
        elif num == 9:
            s["unit"] = v.decode()
        elif num == 10:
            s["scope"] = v
        else:
            raise ValueError("unknown SSFSample field %d" % num)
    return s


def decode_span(b):
    sp = {"version": 0, "trace_id": 0, "id": 0, "parent_id": 0, "start_timestamp": 0, "end_timestamp": 0,
          "error": False, "service": "", "metrics": [], "tags": {}, "indicator": False, "name": "",
          "root_start_timestamp": 0}
    ints = {1: "version", 2: "trace_id", 3: "id", 4: "parent_id", 5: "start_timestamp", 6: "end_timestamp",
            14: "root_start_timestamp"}
    for num, wt, v in _fields(b):
        if num in ints:
            assert wt == 0, "field %d must be a varint" % num
            sp[ints[num]] = _int64(v)
        elif num == 7:
            sp["error"] = bool(v)
        elif num == 8:
            sp["service"] = v.decode()
        elif num == 10:
            sp["metrics"].append(decode_sample(v))
        elif num == 11:
            k, val = _map_entry(v)
            sp["tags"][k] = val
        elif num == 12:
            sp["indicator"] = bool(v)
        elif num == 13:
            sp["name"] = v.decode()
        else:
            raise ValueError("unknown SSFSpan field %d" % num)
    return sp


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


# ---- receivers ----

class Peers:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vn-emit-ssf-")
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(TIMEOUT)
        self.udp_port = self.udp.getsockname()[1]
        self.stream_path = os.path.join(self.dir, "ssf.sock")
        self.stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.stream.bind(self.stream_path)
        self.stream.listen(16)
        self.marker_n = 0

    def close(self):
        self.udp.close()
        self.stream.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def udp_url(self):
        return "udp://127.0.0.1:%d" % self.udp_port

    @property
    def unix_url(self):
        return "unix://" + self.stream_path

    def datagrams(self):
        """Every datagram sent to the UDP socket so far (read up to our own marker)."""
        self.marker_n += 1
        marker = b"__vn_marker_%d" % self.marker_n
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(marker, ("127.0.0.1", self.udp_port))
        got = []
        while True:
            d = self.udp.recv(65536)
            if d == marker:
                return got
            got.append(d)

    def connections(self):
        """The bytes of every connection pending on the unix listener (each read to EOF)."""
        out = []
        while select.select([self.stream], [], [], 0)[0]:
            self.stream.settimeout(TIMEOUT)
            conn, _ = self.stream.accept()
            conn.settimeout(TIMEOUT)
            data = b""
            with conn:
                while True:
                    b = conn.recv(65536)
                    if not b:
                        break
                    data += b
            out.append(data)
        return out


def emit(args, env=None, **kw):
    """Runs veneur-emit with a clean environment (no DD_* or VENEUR_EMIT_*)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "VENEUR_EMIT_"))}
    e.update(env or {})
    return subprocess.run([EMIT] + args, env=e, capture_output=True, timeout=60, **kw)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_eq(got, want, what):
    if got != want:
        raise AssertionError("%s = %r, want %r" % (what, got, want))


def expect_rc(p, rc):
    if p.returncode != rc:
        raise AssertionError("exit %d, want %d; stderr=%r" % (p.returncode, rc, p.stderr[-400:]))


def one_span_udp(P):
    d = P.datagrams()
    expect_eq(len(d), 1, "datagrams")
    return decode_span(d[0])


def unframe(data):
    """Go's stream frame: exactly one [0x00][len BE u32][span]."""
    expect(len(data) >= 5, "stream shorter than a frame header: %r" % data)
    expect_eq(data[0], 0, "frame version byte")
    n = struct.unpack(">I", data[1:5])[0]
    expect_eq(n, len(data) - 5, "frame length")
    return data[5:]


def sample(metric, name, value, tags, unit="", message=""):
    return {"metric": metric, "name": name, "value": value, "timestamp": 0, "message": message, "status": 0,
            "sample_rate": 1.0, "tags": tags, "unit": unit, "scope": 0}


def main():
    if not os.access(EMIT, os.X_OK):
        print("FAIL setup: %s is not built (make -j2 build/veneur-emit)" % EMIT)
        return 1
    P = Peers()
    cases = []

    def case(fn):
        cases.append(fn)
        return fn

    T0 = 1709651045  # 2024-03-05T15:04:05Z
    full_args = ["-ssf", "-trace_id", "42", "-parent_span_id", "7", "-name", "job.run", "-span_service", "billing",
                 "-tag", "a:b,c", "-span_tags", "c:d,u:1:2", "-indicator", "-error",
                 "-count", "3", "-gauge", "2.5", "-timing", "1500ms", "-set", "alice",
                 "-span_starttime", "2024-03-05T15:04:05Z", "-span_endtime", "2024-03-05 15:04:06.25"]
    full_samples = [sample(HISTOGRAM, "job.run", 1500.0, {"a": "b", "c": ""}, unit="ms"),
                    sample(GAUGE, "job.run", 2.5, {"a": "b", "c": ""}),
                    sample(COUNTER, "job.run", 3.0, {"a": "b", "c": ""}),
                    sample(SET, "job.run", 0.0, {"a": "b", "c": ""}, message="alice")]

    def check_full(sp):
        expect_eq(sp["version"], 0, "version")
        expect_eq(sp["trace_id"], 42, "trace_id")
        expect_eq(sp["parent_id"], 7, "parent_id")
        expect(0 < sp["id"] < 1 << 63, "span id %d not in [1, 2^63)" % sp["id"])
        expect_eq(sp["name"], "job.run", "name")
        expect_eq(sp["service"], "billing", "service")
        expect_eq(sp["tags"], {"a": "b", "c": "d", "u": "1:2"}, "span tags")
        expect_eq(sp["indicator"], True, "indicator")
        expect_eq(sp["error"], True, "error")
        expect_eq(sp["start_timestamp"], T0 * 10**9, "start_timestamp")
        expect_eq(sp["end_timestamp"], T0 * 10**9 + 1250000000, "end_timestamp")
        expect_eq(sp["root_start_timestamp"], 0, "root_start_timestamp")
        expect_eq(sp["metrics"], full_samples, "samples")

    @case
    def udp_traced_span_every_field():
        p = emit(["-hostport", P.udp_url] + full_args)
        expect_rc(p, 0)
        expect_eq(p.stderr, b"", "stderr")
        check_full(one_span_udp(P))

    @case
    def unix_stream_go_framing_every_field():
        p = emit(["-hostport", P.unix_url] + full_args)
        expect_rc(p, 0)
        conns = P.connections()
        expect_eq(len(conns), 1, "connections")
        check_full(decode_span(unframe(conns[0])))

    @case
    def two_runs_get_different_span_ids():
        ids = set()
        for _ in range(2):
            expect_rc(emit(["-hostport", P.udp_url, "-ssf", "-trace_id", "1", "-name", "x"]), 0)
            ids.add(one_span_udp(P)["id"])
        expect_eq(len(ids), 2, "distinct span ids")

    @case
    def untraced_span_carries_only_samples():
        # Go's setupSpan fills ids, name, service and tags only when tracing.
        p = emit(["-hostport", P.udp_url, "-ssf", "-name", "foo", "-count", "-2", "-tag", "k:v",
                  "-span_service", "ignored", "-span_tags", "x:y", "-indicator", "-error"])
        expect_rc(p, 0)
        sp = one_span_udp(P)
        for f, want in (("trace_id", 0), ("id", 0), ("parent_id", 0), ("name", ""), ("service", ""),
                        ("tags", {}), ("indicator", False), ("error", False), ("start_timestamp", 0),
                        ("end_timestamp", 0)):
            expect_eq(sp[f], want, f)
        expect_eq(sp["metrics"], [sample(COUNTER, "foo", -2.0, {"k": "v"})], "samples")

    @case
    def traced_defaults_service_veneur_emit_no_samples():
        p = emit(["-hostport", P.udp_url, "-ssf", "-trace_id", "-5", "-name", "span.only"])
        expect_rc(p, 0)
        sp = one_span_udp(P)
        expect_eq((sp["trace_id"], sp["parent_id"], sp["service"], sp["name"], sp["metrics"], sp["tags"]),
                  (-5, 0, "veneur-emit", "span.only", [], {}), "span")

    @case
    def env_trace_and_parent_ids():
        env = {"VENEUR_EMIT_TRACE_ID": "0099", "VENEUR_EMIT_PARENT_SPAN_ID": "+5"}
        expect_rc(emit(["-hostport", P.udp_url, "-ssf", "-name", "e"], env), 0)
        sp = one_span_udp(P)
        expect_eq((sp["trace_id"], sp["parent_id"]), (99, 5), "ids from env")
        # flags win over the environment
        expect_rc(emit(["-hostport", P.udp_url, "-ssf", "-name", "e", "-trace_id", "3", "-parent_span_id", "4"],
                       env), 0)
        sp = one_span_udp(P)
        expect_eq((sp["trace_id"], sp["parent_id"]), (3, 4), "ids from flags")

    @case
    def env_trace_id_unparseable_is_a_warning():
        p = emit(["-hostport", P.udp_url, "-ssf", "-name", "w", "-count", "1"], {"VENEUR_EMIT_TRACE_ID": "0x10"})
        expect_rc(p, 0)
        expect(b"VENEUR_EMIT_TRACE_ID" in p.stderr, "no warning: %r" % p.stderr)
        expect_eq(one_span_udp(P)["trace_id"], 0, "trace_id")

    @case
    def sample_values_float32_and_truncated_ms():
        p = emit(["-hostport", P.udp_url, "-ssf", "-name", "v", "-gauge", "0.1", "-count", "16777217",
                  "-timing", "1.9ms"])
        expect_rc(p, 0)
        m = one_span_udp(P)["metrics"]
        expect_eq([(s["metric"], s["value"], s["unit"]) for s in m],
                  [(HISTOGRAM, 1.0, "ms"), (GAUGE, f32(0.1), ""), (COUNTER, 16777216.0, "")], "samples")

    @case
    def span_times_unix_digits_and_zones():
        for start, end, ws, we in (
                ("1709651045", "1709651045123", T0 * 10**9, T0 * 10**9 + 123000000),
                ("1709651045123456", "1709651045123456789", T0 * 10**9 + 123456000, T0 * 10**9 + 123456789),
                ("2024-03-05T16:04:05+01:00", "2024-03-05T10:04:05.5-0500", T0 * 10**9, T0 * 10**9 + 500000000),
                # Go's dateparse: 4 and 8 digits are yyyy and yyyymmdd, 14 digits are unix us, "1" is 1 s
                ("20240305", "2024/3/5 15:04:05 UTC", (T0 - 54245) * 10**9, T0 * 10**9),
                ("1", "17096510451234", 10**9, 17096510451234000),
                ("2024", "2024-03-05 15:04:05 +0000 UTC", 1704067200 * 10**9, T0 * 10**9)):
            p = emit(["-hostport", P.udp_url, "-ssf", "-name", "t", "-count", "1",
                      "-span_starttime", start, "-span_endtime", end])
            expect_rc(p, 0)
            sp = one_span_udp(P)
            expect_eq((sp["start_timestamp"], sp["end_timestamp"]), (ws, we), "times for %s / %s" % (start, end))

    @case
    def command_span_duration_and_timer():
        before = time.time_ns()
        p = emit(["-hostport", P.udp_url, "-ssf", "-trace_id", "9", "-name", "cmd", "-tag", "j:1", "-count", "1",
                  "-command", "sleep", "0.2"])
        after = time.time_ns()
        expect_rc(p, 0)
        sp = one_span_udp(P)
        expect(before <= sp["start_timestamp"] < sp["end_timestamp"] <= after,
               "span [%d, %d] not inside the run [%d, %d]" % (sp["start_timestamp"], sp["end_timestamp"],
                                                               before, after))
        dur = sp["end_timestamp"] - sp["start_timestamp"]
        expect(dur >= 200000000, "span lasts %d ns < 0.2 s" % dur)
        expect_eq(sp["error"], False, "error")
        m = sp["metrics"]
        expect_eq(len(m), 2, "samples (command timer, count)")
        expect_eq((m[0]["metric"], m[0]["name"], m[0]["unit"], m[0]["tags"]), (HISTOGRAM, "cmd", "ms", {"j": "1"}),
                  "command timer")
        expect(200 <= m[0]["value"] <= dur / 1e6 + 1, "timer %r ms vs span %d ns" % (m[0]["value"], dur))
        expect_eq(m[1], sample(COUNTER, "cmd", 1.0, {"j": "1"}), "count sample")

    @case
    def command_status_and_stdio_pass_through():
        p = emit(["-hostport", P.unix_url, "-ssf", "-name", "f", "-command", "sh", "-c",
                  "echo out; echo err >&2; exit 3"])
        expect_rc(p, 3)
        expect_eq(p.stdout, b"out\n", "stdout")
        expect_eq(p.stderr, b"err\n", "stderr")
        conns = P.connections()
        expect_eq(len(conns), 1, "connections")
        sp = decode_span(unframe(conns[0]))
        expect_eq(sp["error"], True, "error (command failed)")
        expect_eq([s["metric"] for s in sp["metrics"]], [HISTOGRAM], "samples")

    @case
    def command_gets_trace_ids_and_nests():
        # The child's own veneur-emit inherits the ids: its span is a child of ours.
        inner = "%s -hostport %s -ssf -name inner; echo $VENEUR_EMIT_TRACE_ID $VENEUR_EMIT_PARENT_SPAN_ID" % (
            EMIT, P.udp_url)
        p = emit(["-hostport", P.udp_url, "-ssf", "-trace_id", "77", "-name", "outer", "-command", "sh", "-c", inner])
        expect_rc(p, 0)
        d = P.datagrams()
        expect_eq(len(d), 2, "datagrams")
        child, outer = decode_span(d[0]), decode_span(d[1])
        expect_eq((outer["name"], child["name"]), ("outer", "inner"), "order")
        expect_eq(p.stdout.decode().split(), ["77", str(outer["id"])], "child environment")
        expect_eq((child["trace_id"], child["parent_id"]), (77, outer["id"]), "child ids")
        expect(child["id"] != outer["id"], "same span id")

    @case
    def command_without_ssf_is_a_statsd_timer():
        p = emit(["-hostport", P.udp_url, "-name", "plain", "-command", "sh", "-c", "sleep 0.2; exit 4"])
        expect_rc(p, 4)
        d = P.datagrams()
        expect_eq(len(d), 1, "datagrams")
        name, rest = d[0].split(b":", 1)
        val, typ = rest.split(b"|", 1)
        expect_eq((name, typ), (b"plain", b"ms"), "line")
        expect(200 <= float(val) < 60000, "timer %r ms" % val)

    # ---- errors: exit status, one stderr line naming the flag, nothing sent, no command run ----
    def error_case(name, args, rc, needles, hostport=None, env=None, cmd=True):
        """cmd: append a -command that leaves a file behind, to prove it never ran."""

        def fn():
            marker = os.path.join(P.dir, "ran-" + name)
            p = emit(["-hostport", hostport or P.udp_url] + args + (["-command", "touch", marker] if cmd else []),
                     env)
            expect_rc(p, rc)
            lines = p.stderr.decode(errors="replace").strip().splitlines()
            expect_eq(len(lines), 1, "stderr lines %r" % lines)
            for n in needles:
                expect(n in lines[0], "stderr %r does not mention %r" % (lines[0], n))
            expect_eq(P.datagrams(), [], "datagrams")
            expect_eq(P.connections(), [], "connections")
            expect(not os.path.exists(marker), "the command ran")

        fn.__name__ = name
        cases.append(fn)

    error_case("err_ssf_event_mode", ["-ssf", "-mode", "event", "-e_title", "t", "-e_text", "x"], 1, ["-ssf"])
    error_case("err_ssf_tcp", ["-ssf", "-name", "a"], 1, ["-hostport", "tcp"], hostport="tcp://127.0.0.1:9")
    error_case("err_ssf_sample_needs_name", ["-ssf", "-count", "1"], 2, ["-name"])
    error_case("err_ssf_nothing_to_send", ["-ssf"], 2, ["-trace_id"], cmd=False)
    error_case("err_span_start_without_end", ["-ssf", "-name", "a", "-span_starttime", "1709651045"], 2,
               ["-span_endtime"])
    error_case("err_span_bad_time", ["-ssf", "-name", "a", "-span_starttime", "yesterday", "-span_endtime",
                                     "1709651045"], 2, ["-span_starttime", "yesterday"])
    error_case("err_span_bare_hour_zone", ["-ssf", "-name", "a", "-span_starttime", "2024-03-05T15:04:05+01",
                                           "-span_endtime", "1"], 2, ["-span_starttime", "zone"])
    error_case("err_span_time_overflows_ns", ["-ssf", "-name", "a", "-span_starttime", "1",
                                              "-span_endtime", "9999999999"], 2, ["-span_endtime", "range"])
    error_case("err_span_bad_day", ["-ssf", "-name", "a", "-span_starttime", "1709651045", "-span_endtime",
                                    "2023-02-29"], 2, ["-span_endtime"])
    error_case("err_gauge_outside_float32", ["-ssf", "-name", "a", "-gauge", "1e39"], 2, ["-gauge"])
    error_case("err_bad_trace_id", ["-ssf", "-name", "a", "-trace_id", "x1"], 2, ["-trace_id"])
    error_case("err_bad_parent_id", ["-ssf", "-name", "a", "-parent_span_id", "1.5"], 2, ["-parent_span_id"])
    error_case("err_grpc_not_to_unix_socket", ["-ssf", "-grpc", "-name", "a", "-count", "1"], 1, ["-grpc"],
               hostport="unix://" + os.path.join(tempfile.gettempdir(), "vn-no-such-dir", "s.sock"), cmd=False)
    error_case("err_tracing_needs_ssf", ["-trace_id", "5", "-name", "a", "-count", "1"], 1, ["-ssf"])
    error_case("err_env_tracing_needs_ssf", ["-name", "a", "-count", "1"], 1, ["-ssf"],
               env={"VENEUR_EMIT_TRACE_ID": "12"})
    error_case("err_ssf_unix_socket_missing", ["-ssf", "-name", "a", "-count", "1"], 1, ["-hostport"],
               hostport="unix://" + os.path.join(tempfile.gettempdir(), "vn-no-such-dir", "s.sock"), cmd=False)

    @case
    def err_command_not_found_sends_nothing():
        p = emit(["-hostport", P.udp_url, "-ssf", "-name", "a", "-command", "/nonexistent/vn-no-cmd"])
        expect_rc(p, 1)
        expect(b"-command" in p.stderr, "stderr %r" % p.stderr)
        expect_eq(P.datagrams(), [], "datagrams")

    go_argsets = [
        full_args,
        ["-ssf", "-name", "foo", "-count", "-2", "-tag", "k:v", "-span_service", "s", "-span_tags", "x:y", "-error"],
        ["-ssf", "-trace_id", "-5", "-name", "span.only"],
        ["-ssf", "-name", "v", "-gauge", "0.1", "-count", "16777217", "-timing", "1.9ms"],
        ["-ssf", "-name", "v", "-timing", "-1.9ms", "-gauge", "3.3", "-set", ""],
        ["-ssf", "-name", "t", "-count", "1", "-span_starttime", "1", "-span_endtime", "17096510451234"],
        ["-ssf", "-name", "t", "-count", "1", "-span_starttime", "20240305", "-span_endtime", "2024-03-05T10:04:05.5-0500"],
        ["-ssf", "-trace_id", "3", "-name", "c", "-tag", "a:1", "-command", "sh", "-c", "exit 3"],
    ]

    def comparable(raw, args):
        """The span minus what differs per run: the random id, and command times."""
        sp = decode_span(raw)
        sp["id"] = sp["id"] != 0
        if "-command" in args:
            sp["start_timestamp"] = sp["start_timestamp"] > 0
            sp["end_timestamp"] = sp["end_timestamp"] > sp["start_timestamp"]
            for m in sp["metrics"]:
                m["value"] = m["value"] >= 0
        return sp

    def same_spans_as_go_veneur_emit():
        for hp in (P.udp_url, P.unix_url):
            for args in go_argsets:
                got = []
                for binary in (GO_EMIT, EMIT):
                    e = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "VENEUR_EMIT_"))}
                    p = subprocess.run([binary, "-hostport", hp] + args, env=e, capture_output=True, timeout=60)
                    if hp.startswith("udp"):
                        raw = P.datagrams()
                    else:
                        raw = [unframe(c) for c in P.connections()]
                    expect_eq(len(raw), 1, "spans from %s" % binary)
                    got.append((p.returncode, comparable(raw[0], args)))
                expect_eq(got[1], got[0], "veneur-c vs Go for %s %s" % (hp[:4], " ".join(args)))

    if os.access(GO_EMIT, os.X_OK):
        cases.append(same_spans_as_go_veneur_emit)
    else:
        print("SKIP same_spans_as_go_veneur_emit: %s not built on this machine" % GO_EMIT, flush=True)

    try:
        for fn in cases:
            harness.check(fn.__name__, fn)
    finally:
        P.close()
    return 0 if all(harness._results) else 1


if __name__ == "__main__":
    sys.exit(main())
