#!/usr/bin/env python3
"""End-to-end: HTTP/2 connection lifecycle on veneur's own gRPC servers (issue 21). The veneur-c keys
grpc_server.* (veneur-proxy's names and meaning) apply to a global's import server: with
`max_connection_age: 2s` a local's forwarding connection is closed by GOAWAY and re-established
every ~2 s, and over 12 s of steady load nothing is lost or counted twice. They apply to the gRPC
ingest listeners too (grpc_listen_addresses): a veneur-emit -grpc call still lands with them set.

Prints `PASS <name>` / `FAIL <name>: why`; exits 1 if any failed.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, check, expect, wait_for  # noqa: E402


def test_import_max_age():
    gport = harness.free_port()
    g = Veneur('grpc_address: "127.0.0.1:%d"\ngrpc_server:\n  max_connection_age: 2s\n'
               '  max_connection_age_grace: 5s\n' % gport, interval="1s")
    local = None
    try:
        local = Veneur('forward_address: "127.0.0.1:%d"\n' % gport, interval="1s")
        conns0 = g.metric("veneur_grpc_connections_total")
        sent = 0
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 12 * harness.TIME_SCALE:  # steady load, 20 datagrams/s
            local.send_udp("\n".join("gl.c:%d|c|#veneurglobalonly" % (1 + j % 3) for j in range(10)))
            sent += sum(1 + j % 3 for j in range(10))
            n += 1
            time.sleep(0.05)
        wait_for(lambda: harness.total(g.records(), "gl.c") >= sent, timeout=15,
                 what="gl.c: %d sent" % sent)
        time.sleep(2.5)  # two more intervals: a duplicate would show now
        got = harness.total(g.records(), "gl.c")
        expect(got == sent, "zero lost, none duplicated: sent %d got %r" % (sent, got))
        conns = g.metric("veneur_grpc_connections_total") - conns0
        goaways = g.metric("veneur_grpc_max_age_goaways_total")
        print("  import max_age: %d datagrams, %d counted, %d connections, %d GOAWAYs" % (n, sent, conns, goaways),
              flush=True)
        expect(conns >= 3, "a new connection every ~2-3 s: %r" % conns)
        expect(goaways >= 3, "GOAWAYs at max_connection_age: %r" % goaways)
        expect(local.metric("veneur_forward_metrics_dropped_total") == 0, "nothing dropped on the local")
    finally:
        if local:
            local.stop()
        g.stop()


def test_ingest_with_lifecycle_keys():
    port = harness.free_port()
    v = Veneur('grpc_listen_addresses: ["tcp://127.0.0.1:%d"]\ngrpc_server:\n  max_connection_age: 1s\n'
               '  ping_timeout: 1s\n  keepalive_timeout: 1s\n  connection_timeout: 2s\n' % port, interval="1s")
    try:
        for i in range(3):
            r = subprocess.run([harness.VENEUR_EMIT, "-grpc", "-hostport", "tcp://127.0.0.1:%d" % port,
                                "-name", "gi.c", "-count", "2"], capture_output=True, text=True, timeout=20,
                               env=harness.sanitizer_env())
            expect(r.returncode == 0, "veneur-emit -grpc: %d %s" % (r.returncode, r.stderr[-300:]))
        v.wait_records(lambda r: harness.total(r, "gi.c") == 6, what="gi.c = 6")
    finally:
        expect(v.stop() == 0, "exit code")


check("53-global-lifecycle/import_max_age", test_import_max_age)
check("53-global-lifecycle/ingest_with_lifecycle_keys", test_ingest_with_lifecycle_keys)
sys.exit(harness.run())
