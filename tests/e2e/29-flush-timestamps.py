#!/usr/bin/env python3
"""Flush timestamps match the wall clock at the flush (issue 16, first bullet).

  synchronized  synchronize_with_interval, interval 1 s: each flush runs just
                after a whole second; its records must carry that second (the
                wall clock observed when the lines appear, rounded), 6 rounds
  free          unsynchronized: the stamp is the second the flush ran in, never
                later than the moment the lines appear nor a whole second before

Binaries: $VENEUR_BIN, else $VENEUR_BUILD_DIR/veneur, else harness.VENEUR.
"""
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROUNDS = 6
# how long after the flush the lines may be seen (file poll step + a loaded machine)
SEEN_LATENCY_S = 0.25


def observe(v, rounds):
    """[(stamp, wall time when the round's lines were first seen)] for `rounds` flushes."""
    out = []
    seen = 0
    deadline = time.monotonic() + rounds * 1.0 + 10
    sent_for = -1
    while len(out) < rounds and time.monotonic() < deadline:
        if sent_for != len(out):
            v.send_udp("ts.g:%d|g" % len(out))
            sent_for = len(out)
        try:
            with open(v.out) as f:
                data = f.read()
        except FileNotFoundError:
            data = ""
        wall = time.time()
        lines = [l for l in data.split("\n") if l.strip()]
        if len(lines) > seen:
            new = [json.loads(l) for l in lines[seen:]]
            seen = len(lines)
            stamps = {r["timestamp"] for r in new if r["name"] == "ts.g"}
            for s in stamps:
                out.append((s, wall))
        time.sleep(0.002)
    return out


def case_synchronized():
    v = h.Veneur(interval="1s", extra_yaml="synchronize_with_interval: true\n")
    try:
        obs = observe(v, ROUNDS)
        h.expect(len(obs) == ROUNDS, "saw %d of %d flushes" % (len(obs), ROUNDS))
        bad = [(s, round(w, 3)) for s, w in obs if not (0 <= w - s < SEEN_LATENCY_S)]
        print("  synchronized: stamp vs wall at flush: %s" % ", ".join("%+.3f" % (w - s) for s, w in obs),
              flush=True)
        h.expect(not bad, "%d of %d rounds stamped off the flush's second: %s" % (len(bad), len(obs), bad))
    finally:
        v.stop()


def case_free():
    v = h.Veneur(interval="1s")
    try:
        obs = observe(v, ROUNDS)
        h.expect(len(obs) == ROUNDS, "saw %d of %d flushes" % (len(obs), ROUNDS))
        bad = [(s, round(w, 3)) for s, w in obs if not (s <= w and s >= math.floor(w - SEEN_LATENCY_S))]
        h.expect(not bad, "stamps outside the flush's second: %s" % bad)
    finally:
        v.stop()


h.check("flush_stamp_synchronized", case_synchronized)
h.check("flush_stamp_free", case_free)
h.run()
