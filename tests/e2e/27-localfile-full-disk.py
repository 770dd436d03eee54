#!/usr/bin/env python3
"""A full disk never corrupts a localfile sink's file (issue 15).

The running veneur's RLIMIT_FSIZE is lowered with prlimit(2), so its writes past
the limit fail with EFBIG exactly as they would with ENOSPC on a full disk. Then:

  jsonl_full_then_space  round 1 fits; round 2 does not: the file keeps its
                         round-1 size (no partial line), the metrics are
                         counted as dropped; the limit is lifted and round 3 is
                         appended whole, with exact values
  csv_full_then_space    the same with Go's gzip-CSV format: after the failed
                         flush the whole file still decompresses, and round 3's
                         rows follow intact

Binaries: harness constants (VENEUR_BUILD_DIR picks a sanitizer build).
"""
import gzip
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# Only the soft limit moves, so lifting it again needs no CAP_SYS_RESOURCE.
UNLIMITED = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)


def send_round(v, prefix, n):
    # Distinct names: every counter is its own line in the flush; 20 per datagram.
    lines = ["%s.%03d:%d|c" % (prefix, i, i + 1) for i in range(n)]
    for i in range(0, n, 20):
        v.send_udp("\n".join(lines[i:i + 20]))


def dropped(v):
    return v.metric("veneur_sink_metrics_dropped_total")


def jsonl_records(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, "rb") as f:
        data = f.read()
    h.expect(data == b"" or data.endswith(b"\n"), "jsonl file does not end on a whole line")
    for line in data.split(b"\n"):
        if line:
            out.append(h.json.loads(line))  # a partial line would raise here
    return out


def csv_rows(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    with gzip.open(path, "rt") as f:  # raises on a truncated member
        return [r.split("\t") for r in f.read().splitlines() if r]


def run_case(fmt):
    path_holder = {}
    extra = ""
    jsonl = fmt == "jsonl"
    v = None
    try:
        if not jsonl:
            # A csv sink beside no jsonl one: the harness's default sink is jsonl.
            import tempfile
            d = tempfile.mkdtemp(prefix="vn-e2e-csv-")
            path_holder["p"] = os.path.join(d, "out.csv.gz")
            extra = ("metric_sinks:\n  - kind: localfile\n    name: file\n"
                     "    config: {flush_file: \"%s\", format: csv}\n" % path_holder["p"])
        v = h.Veneur(extra_yaml=extra, jsonl=jsonl)
        path = v.out if jsonl else path_holder["p"]
        read = (lambda: jsonl_records(path)) if jsonl else (lambda: csv_rows(path))
        name_of = (lambda r: r["name"]) if jsonl else (lambda r: r[0])
        value_of = (lambda r: float(r["value"])) if jsonl else (lambda r: float(r[6]))  # csv: sum / 1 s

        def names(prefix):
            return {name_of(r): value_of(r) for r in read() if name_of(r).startswith(prefix)}

        # Round 1: fits.
        send_round(v, "r1", 40)
        h.wait_for(lambda: len(names("r1.")) == 40, timeout=10 * h.TIME_SCALE, what="round 1 flushed")
        size1 = os.path.getsize(path)
        # The disk is now "full": nothing more than 64 bytes past what is there.
        limit = size1 + 64
        resource.prlimit(v.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        d0 = dropped(v)
        send_round(v, "r2", 400)
        h.wait_for(lambda: dropped(v) - d0 >= 400, timeout=10 * h.TIME_SCALE, what="round 2 counted as dropped")
        h.expect(os.path.getsize(path) == size1,
                 "file changed size after the failed flush: %d -> %d" % (size1, os.path.getsize(path)))
        h.expect(len(names("r2.")) == 0, "part of round 2 was written")
        h.expect(len(names("r1.")) == 40, "round 1 damaged")
        # Space comes back: the next flush is appended whole.
        resource.prlimit(v.proc.pid, resource.RLIMIT_FSIZE, UNLIMITED)
        send_round(v, "r3", 400)
        h.wait_for(lambda: len(names("r3.")) == 400, timeout=10 * h.TIME_SCALE, what="round 3 flushed")
        got = names("r3.")
        want = {"r3.%03d" % i: float(i + 1) for i in range(400)}
        h.expect(got == want, "round 3 values differ: %d of 400 exact" %
                 sum(1 for k, x in want.items() if got.get(k) == x))
        r1 = names("r1.")
        h.expect(r1 == {"r1.%03d" % i: float(i + 1) for i in range(40)}, "round 1 values changed")
        h.expect(v.proc.poll() is None, "veneur died (SIGXFSZ?)")
    finally:
        if v:
            v.stop()


h.check("27-localfile-full-disk/jsonl_full_then_space", lambda: run_case("jsonl"))
h.check("27-localfile-full-disk/csv_full_then_space", lambda: run_case("csv"))
h.run()
