#!/usr/bin/env python3
"""End-to-end tests of build/veneur-emit (docs/behaviour.md W5, 0.13; docs/internals/emit.md).

Real sockets on this machine receive what veneur-emit sends, and the bytes are
compared exactly: a UDP socket and a TCP listener on 127.0.0.1 (ephemeral
ports), a unixgram socket and a unix stream listener in a temp dir.

No sleeps: veneur-emit has exited before we look, so every datagram it sent is
already queued and every connection it made is already in the accept queue. To
collect "everything it sent" from a datagram socket we send our own marker
datagram and read up to it; "nothing sent" means the marker comes first, or no
connection is pending.

Prints `PASS <name>` or `FAIL <name>: why` per case; exits 1 if any failed.
Build first: make -j2 build/veneur-emit (VENEUR_EMIT=path overrides the binary).
"""
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EMIT = os.environ.get("VENEUR_EMIT", harness.VENEUR_EMIT)
TIMEOUT = 5.0  # seconds, for every socket read
MAX_CHUNK = 1432


class Peers:
    """The four receivers, created once."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vn-emit-")
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(TIMEOUT)
        self.udp_port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp_port = self.tcp.getsockname()[1]
        self.gram_path = os.path.join(self.dir, "g.sock")
        self.gram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.gram.bind(self.gram_path)
        self.gram.settimeout(TIMEOUT)
        self.stream_path = os.path.join(self.dir, "s.sock")
        self.stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.stream.bind(self.stream_path)
        self.stream.listen(16)
        self.marker_n = 0

    def close(self):
        for s in (self.udp, self.tcp, self.gram, self.stream):
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def udp_url(self):
        return "udp://127.0.0.1:%d" % self.udp_port

    @property
    def tcp_url(self):
        return "tcp://127.0.0.1:%d" % self.tcp_port

    @property
    def gram_url(self):
        return "unixgram://" + self.gram_path

    @property
    def stream_url(self):
        return "unix://" + self.stream_path

    def _drain(self, sock, family, addr):
        self.marker_n += 1
        marker = b"__vn_emit_test_marker_%d" % self.marker_n
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.sendto(marker, addr)
        got = []
        while True:
            try:
                d = sock.recv(65536)
            except socket.timeout:
                raise AssertionError("marker datagram not received within %.0fs" % TIMEOUT)
            if d == marker:
                return got
            got.append(d)

    def udp_datagrams(self):
        """Every datagram veneur-emit sent to the UDP socket so far."""
        return self._drain(self.udp, socket.AF_INET, ("127.0.0.1", self.udp_port))

    def gram_datagrams(self):
        return self._drain(self.gram, socket.AF_UNIX, self.gram_path)

    @staticmethod
    def _pending(listener):
        r, _, _ = select.select([listener], [], [], 0)
        return bool(r)

    def _one_stream(self, listener):
        if not self._pending(listener):
            raise AssertionError("no connection was made")
        listener.settimeout(TIMEOUT)
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        data = b""
        with conn:
            while True:
                try:
                    b = conn.recv(65536)
                except socket.timeout:
                    raise AssertionError("connection not closed within %.0fs" % TIMEOUT)
                if not b:
                    break
                data += b
        if self._pending(listener):
            raise AssertionError("more than one connection")
        return data

    def tcp_bytes(self):
        return self._one_stream(self.tcp)

    def stream_bytes(self):
        return self._one_stream(self.stream)

    def no_connections(self):
        for name, l in (("tcp", self.tcp), ("unix", self.stream)):
            if self._pending(l):
                conn, _ = l.accept()
                conn.close()
                raise AssertionError("unexpected %s connection" % name)


def emit(args, env=None):
    """Runs veneur-emit with a clean environment (no DD_* or VENEUR_EMIT_*)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "VENEUR_EMIT_"))}
    e.update(env or {})
    return subprocess.run([EMIT] + args, env=e, capture_output=True, timeout=60)


def expect_rc(p, rc):
    if p.returncode != rc:
        raise AssertionError("exit %d, want %d; stderr=%r" % (p.returncode, rc, p.stderr[-400:]))


def expect_eq(got, want, what="payload"):
    if got != want:
        raise AssertionError("%s %r, want %r" % (what, got, want))


def one_line_error(p, *needles):
    lines = p.stderr.decode(errors="replace").strip().splitlines()
    if len(lines) != 1:
        raise AssertionError("want one stderr line, got %r" % lines)
    for n in needles:
        if n not in lines[0]:
            raise AssertionError("stderr %r does not mention %r" % (lines[0], n))


def pack(lines):
    """datadog-go packetization: greedy, "\\n"-joined, <= 1432 bytes each."""
    chunks = []
    for l in lines:
        if chunks and len(chunks[-1]) + 1 + len(l) <= MAX_CHUNK:
            chunks[-1] += b"\n" + l
        else:
            chunks.append(l)
    return chunks


def main():
    if not os.access(EMIT, os.X_OK):
        print("FAIL setup: %s is not built (make -j2 build/veneur-emit)" % EMIT)
        return 1
    P = Peers()
    cases = []

    def case(fn):
        cases.append(fn)
        return fn

    def udp_case(name, args, want, env=None, rc=0):
        """One run to the UDP socket; want = list of datagrams."""

        def fn():
            p = emit(["-hostport", P.udp_url] + args, env)
            expect_rc(p, rc)
            expect_eq(P.udp_datagrams(), want, "datagrams")

        fn.__name__ = name
        cases.append(fn)

    # ---- counters, gauges, timers, sets ----
    udp_case("readme_example", ["-count", "1", "-name", "resp_success", "-tag", "method:post"],
             [b"resp_success:1|c|#method:post"])
    udp_case("count_plain", ["-name", "foo", "-count", "3"], [b"foo:3|c"])
    udp_case("count_negative", ["-name", "foo", "-count", "-5"], [b"foo:-5|c"])
    udp_case("count_go_base_prefix", ["-name", "foo", "-count", "0x10"], [b"foo:16|c"])
    udp_case("count_int64_max", ["-name", "foo", "-count", "9223372036854775807"],
             [b"foo:9223372036854775807|c"])
    udp_case("count_above_2p24_exact", ["-name", "foo", "-count", "16777217"], [b"foo:16777217|c"])
    udp_case("gauge_1.5", ["-name", "foo", "-gauge", "1.5"], [b"foo:1.5|g"])
    udp_case("gauge_3.3_full_precision", ["-name", "foo", "-gauge", "3.3"], [b"foo:3.3|g"])
    udp_case("gauge_12345678.9_full_precision", ["-name", "foo", "-gauge", "12345678.9"],
             [b"foo:12345678.9|g"])
    udp_case("gauge_integer", ["-name", "foo", "-gauge", "2"], [b"foo:2|g"])
    udp_case("gauge_negative_value_as_next_arg", ["-name", "foo", "-gauge", "-1.5"], [b"foo:-1.5|g"])
    udp_case("gauge_large_no_exponent", ["-name", "foo", "-gauge", "1e21"],
             [b"foo:1000000000000000000000|g"])
    udp_case("gauge_small_no_exponent", ["-name", "foo", "-gauge", "1e-7"], [b"foo:0.0000001|g"])
    udp_case("gauge_0.1", ["-name", "foo", "-gauge", "0.1"], [b"foo:0.1|g"])
    udp_case("gauge_nan", ["-name", "foo", "-gauge", "NaN"], [b"foo:NaN|g"])
    udp_case("gauge_inf", ["-name", "foo", "-gauge", "-inf"], [b"foo:-Inf|g"])
    udp_case("timing_150ms", ["-name", "foo", "-timing", "150ms"], [b"foo:150.000000|ms"])
    udp_case("timing_1.5s", ["-name", "foo", "-timing", "1.5s"], [b"foo:1500.000000|ms"])
    udp_case("timing_1500us_truncates", ["-name", "foo", "-timing", "1500us"], [b"foo:1.000000|ms"])
    udp_case("timing_compound", ["-name", "foo", "-timing", "1h2m3.5s"], [b"foo:3723500.000000|ms"])
    udp_case("set", ["-name", "foo", "-set", "bar"], [b"foo:bar|s"])

    # ---- tags ----
    udp_case("tag_single", ["-name", "foo", "-count", "3", "-tag", "a:b"], [b"foo:3|c|#a:b"])
    udp_case("tag_multiple_in_order", ["-name", "foo", "-set", "bar", "-tag", "a:b,c:d"],
             [b"foo:bar|s|#a:b,c:d"])
    udp_case("tag_repeated_flag_keeps_all", ["-name", "foo", "-count", "1", "-tag", "a:b", "-tag", "c:d"],
             [b"foo:1|c|#a:b,c:d"])
    udp_case("tag_duplicate_key_last_wins_first_position",
             ["-name", "foo", "-count", "1", "-tag", "a:1,b:2", "-tag", "a:3"], [b"foo:1|c|#a:3,b:2"])
    udp_case("tag_without_colon", ["-name", "foo", "-count", "1", "-tag", "solo"], [b"foo:1|c|#solo:"])
    udp_case("tag_empty_elements_skipped", ["-name", "foo", "-count", "1", "-tag", ",a:b,,"],
             [b"foo:1|c|#a:b"])
    udp_case("tag_value_with_colons", ["-name", "foo", "-count", "1", "-tag", "url:http://x:1"],
             [b"foo:1|c|#url:http://x:1"])
    udp_case("tag_newlines_dropped", ["-name", "foo", "-count", "1", "-tag", "a:b\nc"], [b"foo:1|c|#a:bc"])
    udp_case("dd_env_global_tags_first",
             ["-name", "foo", "-count", "1", "-tag", "a:b"],
             [b"foo:1|c|#env:prod,service:api,version:1.2.3,dd.internal.entity_id:abc,a:b"],
             env={"DD_ENV": "prod", "DD_SERVICE": "api", "DD_VERSION": "1.2.3", "DD_ENTITY_ID": "abc"})
    udp_case("dd_env_only_and_empty_ignored", ["-name", "foo", "-count", "1"], [b"foo:1|c|#env:prod"],
             env={"DD_ENV": "prod", "DD_SERVICE": ""})
    udp_case("dd_env_on_every_line", ["-name", "foo", "-count", "1", "-gauge", "2"],
             [b"foo:2|g|#version:7\nfoo:1|c|#version:7"], env={"DD_VERSION": "7"})

    # ---- several metrics, order and packetization ----
    udp_case("gauge_then_count", ["-name", "foo", "-count", "3", "-gauge", "2"], [b"foo:2|g\nfoo:3|c"])
    udp_case("all_four_in_go_order",
             ["-name", "foo", "-set", "x", "-count", "3", "-gauge", "2", "-timing", "150ms", "-tag", "a:b"],
             [b"foo:150.000000|ms|#a:b\nfoo:2|g|#a:b\nfoo:3|c|#a:b\nfoo:x|s|#a:b"])

    def long_lines(tag_len):
        tag = "k:" + "v" * (tag_len - 2)
        args = ["-name", "foo", "-timing", "1ms", "-gauge", "1", "-count", "1", "-set", "s", "-tag", tag]
        t = tag.encode()
        lines = [b"foo:1.000000|ms|#" + t, b"foo:1|g|#" + t, b"foo:1|c|#" + t, b"foo:s|s|#" + t]
        return args, lines

    args, lines = long_lines(500)
    udp_case("packetize_1432", args, pack(lines))
    # "foo:10|g|#"+t (10+T bytes) "\n" "foo:1|c|#"+t (9+T bytes) is exactly 1432 bytes for T = 706;
    # a gauge of 100 makes it 1433, which must split.
    t_exact = (MAX_CHUNK - 20) // 2
    tx = b"k:" + b"v" * (t_exact - 2)
    want_x = [b"foo:10|g|#" + tx + b"\nfoo:1|c|#" + tx]
    assert len(want_x[0]) == MAX_CHUNK
    args_x = ["-name", "foo", "-gauge", "10", "-count", "1", "-tag", tx.decode()]
    udp_case("packetize_exactly_1432_one_datagram", args_x, want_x)
    udp_case("packetize_1433_two_datagrams", ["-name", "foo", "-gauge", "100", "-count", "1", "-tag", tx.decode()],
             [b"foo:100|g|#" + tx, b"foo:1|c|#" + tx])

    # ---- transports ----
    @case
    def tcp_count():
        p = emit(["-hostport", P.tcp_url, "-name", "foo", "-count", "3", "-tag", "a:b"])
        expect_rc(p, 0)
        expect_eq(P.tcp_bytes(), b"foo:3|c|#a:b")

    @case
    def tcp_several_chunks_one_connection():
        p = emit(["-hostport", P.tcp_url] + args)
        expect_rc(p, 0)
        expect_eq(P.tcp_bytes(), b"\n".join(lines))

    @case
    def unixgram_count():
        p = emit(["-hostport", P.gram_url, "-name", "foo", "-count", "3"])
        expect_rc(p, 0)
        expect_eq(P.gram_datagrams(), [b"foo:3|c"])

    @case
    def unixgram_packetized():
        p = emit(["-hostport", P.gram_url] + args)
        expect_rc(p, 0)
        expect_eq(P.gram_datagrams(), pack(lines))

    @case
    def unix_stream_count():
        p = emit(["-hostport", P.stream_url, "-name", "foo", "-gauge", "2", "-count", "3"])
        expect_rc(p, 0)
        expect_eq(P.stream_bytes(), b"foo:2|g\nfoo:3|c")

    @case
    def bare_hostport_is_udp():
        p = emit(["-hostport", "127.0.0.1:%d" % P.udp_port, "-name", "foo", "-count", "1"])
        expect_rc(p, 0)
        expect_eq(P.udp_datagrams(), [b"foo:1|c"])

    @case
    def bare_localhost_is_udp_ipv4():
        p = emit(["-hostport", "localhost:%d" % P.udp_port, "-name", "foo", "-count", "1"])
        expect_rc(p, 0)
        expect_eq(P.udp_datagrams(), [b"foo:1|c"])

    @case
    def udp4_scheme():
        p = emit(["-hostport", "udp4://127.0.0.1:%d" % P.udp_port, "-name", "foo", "-count", "1"])
        expect_rc(p, 0)
        expect_eq(P.udp_datagrams(), [b"foo:1|c"])

    # ---- flag syntax (Go's flag package) ----
    udp_case("double_dash_and_equals", ["--name=foo", "--count=3", "-tag=a:b"], [b"foo:3|c|#a:b"])
    udp_case("double_dash_ends_flags", ["-name", "foo", "-count", "1", "--", "-gauge", "2"], [b"foo:1|c"])
    udp_case("bool_flag_equals_false", ["-debug=false", "-name", "foo", "-count", "1"], [b"foo:1|c"])
    udp_case("last_name_wins", ["-name", "a", "-name", "foo", "-count", "1"], [b"foo:1|c"])

    @case
    def help_exits_0():
        for flag in ("-h", "--help", "-help"):
            p = emit([flag])
            expect_rc(p, 0)
            if b"-hostport" not in p.stdout or p.stderr:
                raise AssertionError("%s: usage not on stdout (stderr=%r)" % (flag, p.stderr))
        expect_eq(P.udp_datagrams(), [], "datagrams")

    @case
    def debug_logs_payload():
        p = emit(["-hostport", P.udp_url, "-debug", "-name", "foo", "-count", "1", "-gauge", "2"])
        expect_rc(p, 0)
        expect_eq(P.udp_datagrams(), [b"foo:2|g\nfoo:1|c"], "datagrams")
        if b'payload="foo:2|g\\nfoo:1|c"' not in p.stderr:
            raise AssertionError("debug output lacks the payload: %r" % p.stderr)

    # ---- -command ----
    timer = re.compile(rb"^foo:(\d+)\.000000\|ms\|#a:b$")

    def command_case(name, cmd, rc, extra=(), check=None):
        def fn():
            p = emit(["-hostport", P.udp_url, "-name", "foo", "-tag", "a:b"] + list(extra) + ["-command"] + cmd)
            expect_rc(p, rc)
            got = P.udp_datagrams()
            if len(got) != 1:
                raise AssertionError("want one datagram, got %r" % got)
            lines_ = got[0].split(b"\n")
            m = timer.match(lines_[0])
            if not m:
                raise AssertionError("first line %r is not a timer" % lines_[0])
            if check:
                check(int(m.group(1)), lines_[1:])
            elif len(lines_) != 1:
                raise AssertionError("extra lines %r" % lines_[1:])

        fn.__name__ = name
        cases.append(fn)

    command_case("command_true", ["true"], 0)
    command_case("command_false_exit_status", ["false"], 1)
    command_case("command_exit_42", ["sh", "-c", "exit 42"], 42)

    def check_slow(ms, rest):
        if ms < 100:
            raise AssertionError("timer %d ms for a 0.1 s command" % ms)

    command_case("command_wall_time_ms", ["sleep", "0.1"], 0, check=check_slow)

    def check_count(ms, rest):
        expect_eq(rest, [b"foo:150.000000|ms|#a:b", b"foo:1|c|#a:b"], "lines after the timer")

    command_case("command_timer_first_then_others", ["true"], 0, extra=("-count", "1", "-timing", "150ms"),
                 check=check_count)

    # ---- events ----
    udp_case("event_minimal", ["-mode", "event", "-e_title", "T", "-e_text", "hi"], [b"_e{1,2}:T|hi"])
    udp_case("event_all_flags_newline_text",
             ["-mode", "event", "-e_title", "An exception occurred", "-e_text", "line1\nline2",
              "-e_time", "1501002564", "-e_hostname", "tester.host", "-e_aggr_key", "testEvents",
              "-e_priority", "low", "-e_source_type", "tester", "-e_alert_type", "warning",
              "-e_event_tags", "err_type:bad,x:1", "-tag", "x:2,foo:bar"],
             [b"_e{21,11}:An exception occurred|line1\\nline2|d:1501002564|h:tester.host|k:testEvents"
              b"|p:low|s:tester|t:warning|#err_type:bad,x:2,foo:bar"])
    udp_case("event_no_dd_global_tags", ["-mode", "event", "-e_title", "T", "-e_text", "hi", "-tag", "a:b"],
             [b"_e{1,2}:T|hi|#a:b"], env={"DD_ENV": "prod"})
    udp_case("event_empty_flag_still_written", ["-mode", "event", "-e_title", "T", "-e_text", "x",
                                                "-e_hostname", ""], [b"_e{1,1}:T|x|h:"])

    @case
    def event_over_unix_stream():
        p = emit(["-hostport", P.stream_url, "-mode", "event", "-e_title", "T", "-e_text", "a\nb"])
        expect_rc(p, 0)
        expect_eq(P.stream_bytes(), b"_e{1,3}:T|a\\nb")

    @case
    def event_over_tcp():
        p = emit(["-hostport", P.tcp_url, "-mode", "event", "-e_title", "T", "-e_text", "hi"])
        expect_rc(p, 0)
        expect_eq(P.tcp_bytes(), b"_e{1,2}:T|hi")

    # ---- service checks ----
    udp_case("sc_minimal_with_tag", ["-mode", "sc", "-sc_name", "svc", "-sc_status", "0", "-tag", "a:b"],
             [b"_sc|svc|0|#a:b"])
    udp_case("sc_all_flags",
             ["-mode", "sc", "-sc_name", "Redis connection", "-sc_status", "2", "-sc_time", "1501002564",
              "-sc_hostname", "tester.host", "-sc_tags", "redis_instance:10.0.0.16:6379", "-tag", "foo:bar",
              "-sc_msg", "Redis connection timed out after 10s"],
             [b"_sc|Redis connection|2|d:1501002564|h:tester.host|#redis_instance:10.0.0.16:6379,foo:bar"
              b"|m:Redis connection timed out after 10s"])
    udp_case("sc_message_without_tags", ["-mode", "sc", "-sc_name", "svc", "-sc_status", "1", "-sc_msg", "m"],
             [b"_sc|svc|1|m:m"])

    @case
    def sc_over_unixgram():
        p = emit(["-hostport", P.gram_url, "-mode", "sc", "-sc_name", "svc", "-sc_status", "3"])
        expect_rc(p, 0)
        expect_eq(P.gram_datagrams(), [b"_sc|svc|3"])

    # ---- errors: non-zero exit, one stderr line naming the flag, nothing sent ----
    def error_case(name, args, rc, needles, hostport=None):
        def fn():
            hp = ["-hostport", hostport if hostport is not None else P.udp_url] if hostport != "" else []
            p = emit(hp + args)
            expect_rc(p, rc)
            one_line_error(p, *needles)
            expect_eq(P.udp_datagrams(), [], "datagrams")
            expect_eq(P.gram_datagrams(), [], "unixgram datagrams")
            P.no_connections()

        fn.__name__ = name
        cases.append(fn)

    error_case("err_missing_name", ["-count", "1"], 2, ["-name"])
    error_case("err_nothing_to_send", ["-name", "foo"], 2, ["-count"])
    error_case("err_bad_count", ["-name", "foo", "-count", "four"], 2, ["-count", '"four"'])
    error_case("err_count_out_of_range", ["-name", "foo", "-count", "9223372036854775808"], 2, ["-count"])
    error_case("err_bad_gauge", ["-name", "foo", "-gauge", "notanumber"], 2, ["-gauge"])
    error_case("err_bad_gauge_after_good_count", ["-name", "foo", "-count", "1", "-gauge", "1.2.3"], 2, ["-gauge"])
    error_case("err_bad_duration", ["-name", "foo", "-timing", "40megayears"], 2, ["-timing"])
    error_case("err_duration_without_unit", ["-name", "foo", "-timing", "150"], 2, ["-timing"])
    error_case("err_unknown_flag", ["-name", "foo", "-count", "1", "-bogus", "1"], 2, ["-bogus"])
    error_case("err_flag_needs_argument", ["-count", "1", "-name"], 2, ["-name"])
    error_case("err_bad_bool", ["-debug=maybe", "-name", "foo", "-count", "1"], 2, ["-debug"])
    error_case("err_bad_mode", ["-mode", "metrics", "-name", "foo", "-count", "1"], 2, ["-mode"])
    error_case("err_missing_hostport", ["-name", "foo", "-count", "1"], 2, ["-hostport"], hostport="")
    error_case("err_unix_socket_missing", ["-name", "foo", "-count", "1"], 1, ["-hostport"],
               hostport="unix://" + os.path.join(P.dir, "nope.sock"))
    error_case("err_unixgram_socket_missing", ["-name", "foo", "-count", "1"], 1, ["-hostport"],
               hostport="unixgram://" + os.path.join(P.dir, "nope.sock"))
    error_case("err_event_unix_socket_missing", ["-mode", "event", "-e_title", "T", "-e_text", "x"], 1,
               ["-hostport"], hostport="unix://" + os.path.join(P.dir, "nope.sock"))
    error_case("err_ssf_not_over_tcp", ["-ssf", "-name", "foo", "-count", "1"], 1, ["-hostport"],
               hostport=P.tcp_url)  # -ssf itself: tests/e2e/61-emit-ssf.py
    error_case("err_grpc_not_to_unix_socket", ["-grpc", "-name", "foo", "-count", "1"], 1,
               ["-grpc", "unix socket"], hostport="unix://" + os.path.join(P.dir, "nope.sock"))
    # -grpc itself: tests/e2e/21-grpc-ingest.py
    error_case("err_tracing_needs_ssf", ["-trace_id", "5", "-name", "foo", "-count", "1"], 1, ["-ssf"])
    error_case("err_event_missing_title", ["-mode", "event", "-e_text", "x"], 2, ["-e_title"])
    error_case("err_event_missing_text", ["-mode", "event", "-e_title", "x"], 2, ["-e_text"])
    error_case("err_sc_missing_status", ["-mode", "sc", "-sc_name", "x"], 2, ["-sc_status"])
    error_case("err_line_over_1432_nothing_sent", ["-name", "foo", "-count", "1", "-set", "x" * 1500], 1,
               ["1432"])
    error_case("err_command_empty", ["-name", "foo", "-command"], 2, ["-command"])
    error_case("err_command_not_found", ["-name", "foo", "-command", "/nonexistent/vn-emit-no-such-cmd"], 1,
               ["-command"])

    @case
    def err_tcp_refused():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))  # bound, never listening: connect is refused
            port = s.getsockname()[1]
            p = emit(["-hostport", "tcp://127.0.0.1:%d" % port, "-name", "foo", "-count", "1"])
        expect_rc(p, 1)
        one_line_error(p, "-hostport")

    failed = 0
    try:
        for fn in cases:
            try:
                fn()
                print("PASS %s" % fn.__name__)
            except (AssertionError, OSError, subprocess.TimeoutExpired) as e:
                failed += 1
                print("FAIL %s: %s" % (fn.__name__, e))
            sys.stdout.flush()
    finally:
        P.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
