#!/usr/bin/env python3
"""SIGTERM: queued datagrams are kept, every reader stops at once, unused signals are ignored.

Cases (issue 15, shutdown bullet):
  drain      datagrams already queued in the UDP socket buffers when SIGTERM
             arrives are all in the final flush (the process is SIGSTOPped while
             40 000 datagrams queue up, then gets SIGTERM + SIGCONT)
  readers    num_readers: 256 shuts down in well under Kubernetes' 30 s grace
             period, and the final flush holds what was sent
  signals    SIGUSR1, SIGALRM, SIGVTALRM, SIGPROF (twice each) neither kill the
             process nor lose data; each is logged once

Binaries: $VENEUR_BIN, else $VENEUR_BUILD_DIR/veneur (e.g. build/asan), else
harness.VENEUR.
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


N_QUEUED = 40000


def rx_queued(port):
    """Bytes the kernel holds for UDP sockets bound to port (sum of rx_queue)."""
    total = 0
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if int(parts[1].split(":")[1], 16) == port:
                total += int(parts[4].split(":")[1], 16)
    return total


def wait_exit(v, timeout):
    t0 = time.monotonic()
    try:
        v.proc.wait(timeout=timeout)
    except Exception:
        v.proc.kill()
        v.proc.wait()
        raise AssertionError("still running %.0f s after SIGTERM" % timeout)
    return time.monotonic() - t0


def case_drain():
    v = h.Veneur(interval="60s",
                 extra_yaml="num_readers: 2\nread_buffer_size_bytes: 268435456\n")
    try:
        os.kill(v.proc.pid, signal.SIGSTOP)
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
        for i in range(N_QUEUED):
            socks[i % len(socks)].sendto(b"sd.queued:1|c", ("127.0.0.1", v.udp_port))
        for s in socks:
            s.close()
        queued = rx_queued(v.udp_port)
        h.expect(queued > 0, "nothing queued in the kernel")
        v.proc.send_signal(signal.SIGTERM)
        os.kill(v.proc.pid, signal.SIGCONT)
        took = wait_exit(v, 20)
        h.expect(v.proc.returncode == 0, "exit code %s" % v.proc.returncode)
        got = h.total(v.records(), "sd.queued")
        print("  drain: %d datagrams queued (%d bytes in rx_queue), %d kept, shutdown %.2f s"
              % (N_QUEUED, queued, got, took), flush=True)
        h.expect(got == N_QUEUED, "kept %d of %d queued datagrams" % (got, N_QUEUED))
        h.expect("drained_datagrams=" in v.log(), "no listeners_stopped line")
    finally:
        v.stop()


def case_readers():
    v = h.Veneur(interval="60s", extra_yaml="num_readers: 256\n")
    try:
        for i in range(50):
            v.send_udp("sd.readers:2|c")
        v.proc.send_signal(signal.SIGTERM)
        took = wait_exit(v, 40)
        got = h.total(v.records(), "sd.readers")
        print("  readers: num_readers 256, shutdown %.2f s, value %g" % (took, got), flush=True)
        h.expect(v.proc.returncode == 0, "exit code %s" % v.proc.returncode)
        h.expect(took < 5.0, "shutdown took %.1f s" % took)
        h.expect(got == 100, "flushed %g, want 100" % got)
    finally:
        v.stop()


def case_signals():
    v = h.Veneur(interval="60s")
    try:
        v.send_udp("sd.signals:3|c")
        sigs = [signal.SIGUSR1, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF]
        for _ in range(2):
            for s in sigs:
                v.proc.send_signal(s)
        h.wait_for(lambda: v.log().count("event=signal_ignored") >= len(sigs), timeout=5,
                   what="signal_ignored lines")
        h.expect(v.proc.poll() is None, "process died: rc %s" % v.proc.returncode)
        h.expect(v.http("/healthcheck")[0] == 200, "not healthy after the signals")
        v.proc.send_signal(signal.SIGTERM)
        wait_exit(v, 20)
        h.expect(v.proc.returncode == 0, "exit code %s" % v.proc.returncode)
        log = v.log()
        for s in sigs:
            n = log.count("event=signal_ignored signal=%d " % s)
            h.expect(n == 1, "signal %d logged %d times, want once" % (s, n))
        got = h.total(v.records(), "sd.signals")
        h.expect(got == 3, "flushed %g, want 3" % got)
    finally:
        v.stop()


h.check("shutdown_drains_queued_datagrams", case_drain)
h.check("shutdown_256_readers_fast", case_readers)
h.check("unused_signals_ignored", case_signals)
h.run()
