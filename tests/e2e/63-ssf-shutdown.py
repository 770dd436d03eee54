"""SSF socket life cycle: the stop-time drain and the unix stream idle timeout.

- drain: spans already queued in the kernel on the SSF sockets when SIGTERM arrives (UDP
  datagrams and unix stream frames) are read and converted before the final flush. The daemon
  is paused with SIGSTOP while the spans are sent, so they all sit in the socket buffers,
  then gets SIGTERM and SIGCONT: every span's counter must be in the final flush and every
  span in the localfile span sink.
- idle: with VENEUR_TEST_SSF_IDLE_MS (the test hook for VN_SSF_IDLE_TIMEOUT_MS, 10 min), a
  unix:// connection that sends nothing for that long is closed and counted
  (veneur_ssf_connections_idle_closed_total); a connection that keeps sending is kept.
"""
import importlib.util
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TIME_SCALE, Veneur, check, expect, free_port, run, total, wait_for  # noqa: E402

# the hand-written SSF encoder of 35-ssf.py (field numbers of proto/ssf.proto)
_spec = importlib.util.spec_from_file_location("ssf35", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                     "35-ssf.py"))
ssf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ssf)

T0 = 1_700_000_000_000_000_000
N_UDP = 6000
N_UNIX = 300
state = {}


def config(sock_path, spans_out, port):
    return ("ssf_listen_addresses:\n  - \"udp://127.0.0.1:%d\"\n  - \"unix://%s\"\n"
            "num_span_workers: 2\nspan_channel_capacity: 20000\nread_buffer_size_bytes: 33554432\n"
            "span_sinks:\n  - kind: localfile\n    name: spans\n    config: {flush_file: \"%s\"}\n"
            % (port, sock_path, spans_out))


def one_span(i, metric):
    return ssf.span([ssf.sample(ssf.COUNTER, metric, 1)], trace_id=1000 + i, id=1000 + i, start=T0, end=T0 + 1000,
                    service="drain", name="op")


def udp_drops(port):
    """The kernel's drop count of the socket bound to UDP port (/proc/net/udp, last column)."""
    want = ":%04X" % port
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1].endswith(want):
                return int(cols[-1])
    return 0


def case_drain():
    port = free_port()
    d = os.path.join(os.environ.get("TMPDIR", "/tmp"), "vn-e2e-ssfdrain-%d" % os.getpid())
    os.makedirs(d, exist_ok=True)
    sock_path, spans_out = os.path.join(d, "ssf.sock"), os.path.join(d, "spans.jsonl")
    # a long interval: only the final flush carries the spans
    v = Veneur(config(sock_path, spans_out, port), interval="60s")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        st.connect(sock_path)
        wait_for(lambda: v.metric("veneur_ssf_connections_accepted_total") >= 1, what="stream accepted")
        os.kill(v.proc.pid, signal.SIGSTOP)
        try:
            for i in range(N_UDP):
                udp.sendto(one_span(i, "drain.udp"), ("127.0.0.1", port))
            st.sendall(b"".join(ssf.frame(one_span(N_UDP + i, "drain.unix")) for i in range(N_UNIX)))
            drops = udp_drops(port)  # all must fit the socket buffer (read_buffer_size_bytes), or the test is void
            os.kill(v.proc.pid, signal.SIGTERM)
        finally:
            os.kill(v.proc.pid, signal.SIGCONT)
        rc = v.stop(timeout=30 * TIME_SCALE)
    finally:
        udp.close()
        st.close()
        v.stop()
    recs = v.records()
    log = v.log()
    drained = [l for l in log.splitlines() if "event=ssf_drained" in l]
    print("  (drain log: %s)" % (drained[-1].split("event=")[-1] if drained else "no ssf_drained line"), flush=True)
    expect(rc == 0, "exit status %s" % rc)
    expect(drops == 0, "kernel dropped %d datagrams while the daemon was stopped (socket buffer too small)" % drops)
    expect(total(recs, "drain.udp") == N_UDP, "udp spans in the final flush: %s of %d" % (total(recs, "drain.udp"), N_UDP))
    expect(total(recs, "drain.unix") == N_UNIX,
           "unix frames in the final flush: %s of %d" % (total(recs, "drain.unix"), N_UNIX))
    with open(spans_out) as f:
        spans = [json.loads(l) for l in f if l.strip()]
    ids = sorted(s["id"] for s in spans)
    expect(ids == list(range(1000, 1000 + N_UDP + N_UNIX)),
           "span sink got %d spans (want %d, ids 1000..)" % (len(ids), N_UDP + N_UNIX))


def case_idle():
    port = free_port()
    d = os.path.join(os.environ.get("TMPDIR", "/tmp"), "vn-e2e-ssfidle-%d" % os.getpid())
    os.makedirs(d, exist_ok=True)
    sock_path = os.path.join(d, "ssf.sock")
    idle_ms = 600
    v = Veneur(config(sock_path, os.path.join(d, "spans.jsonl"), port), env={"VENEUR_TEST_SSF_IDLE_MS": str(idle_ms)})
    conns = []
    try:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(sock_path)
        once = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # one frame, then silence
        once.connect(sock_path)
        busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a frame every idle/3
        busy.connect(sock_path)
        conns = [silent, once, busy]
        t0 = time.monotonic()
        once.sendall(ssf.frame(one_span(1, "idle.once")))
        for c in (silent, once):
            c.setblocking(False)

        def closed(c):
            try:
                return c.recv(1) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True
        sent = 0
        deadline = time.monotonic() + 15 * TIME_SCALE
        while not (closed(silent) and closed(once)) and time.monotonic() < deadline:
            busy.sendall(ssf.frame(one_span(2, "idle.busy")))
            sent += 1
            time.sleep(idle_ms / 3000.0)  # the busy client's send period (not a wait for a condition)
        elapsed = time.monotonic() - t0
        expect(closed(silent) and closed(once), "silent connections not closed in 15 s")
        expect(elapsed >= idle_ms / 1000.0 * 0.9, "closed too early: %.3f s < %d ms" % (elapsed, idle_ms))
        wait_for(lambda: v.metric("veneur_ssf_connections_idle_closed_total") == 2, what="2 idle closes counted")
        # the busy one outlived two idle periods and is still served
        busy.sendall(ssf.frame(one_span(3, "idle.busy")))
        sent += 1
        expect(elapsed > 0 and sent >= 3, "busy client sent %d frames" % sent)
        expect(v.metric("veneur_ssf_connections_idle_closed_total") == 2, "only the 2 silent connections closed")
        wait_for(lambda: total(v.records(), "idle.busy") == sent and total(v.records(), "idle.once") == 1,
                 timeout=10, what="busy frames flushed (%d)" % sent)
    finally:
        for c in conns:
            c.close()
        rc = v.stop()
    expect(rc == 0, "exit status %s" % rc)


if __name__ == "__main__":
    check("ssf stop drains spans queued in the kernel (udp + unix) into the final flush and the span sink", case_drain)
    check("ssf unix stream idle timeout closes silent connections (counted), keeps a busy one", case_idle)
    run()
