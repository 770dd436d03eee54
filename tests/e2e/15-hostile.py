"""Hostile input (issue 10): every malformed line is rejected and counted alone; the good lines
around it in the same datagram are kept; weird-but-valid lines are accepted; the daemon survives."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, by_name, check, expect, run, total, wait_for  # noqa: E402

INVALID = [
    b"foo", b"foo:1", b":::", b"\x00\x00\x00", b":1|c", b"x:1|q", b"x:1|", b"x:1||", b"x:1|c|",
    b"x:1|c||@0.5", b"x:nan|g", b"x:NaN|g", b"x:inf|c", b"x:+Inf|c", b"x:-inf|ms", b"x:1e400|g",
    b"x:abc|c", b"x: 1|c", b"x:1 |c", b"x::|c", b"x:1|c|@0", b"x:1|c|@-1", b"x:1|c|@1.5", b"x:1|c|@abc",
    b"x:1|c|@nan", b"x:1|c|@inf", b"x:1|c|#a|#b", b"x:1|c|@0.5|@0.5", b"x:1|c|foo", b"x:1|c|T",
    b"x:1\x00|c", b"x:0x|g", b"x:1_000|c", b"x:--1|c", b"x:1.2.3|g",
    b"x:1|c|#" + b",".join(b"t%d:v" % i for i in range(300)),
    b"_e{5,5}:abc|de", b"_e{-1,2}:a|bb", b"_e{", b"_e{3,3}:foo|bar|p:urgent", b"_e{3,3}:foo|bar|d:soon",
    b"_sc", b"_sc|x", b"_sc|x|7", b"_sc||0", b"_sc|x|0|d:abc", b"_sc|x|0|m:a|h:b",
]

VALID = [  # weird but valid: must be accepted (name -> expected type)
    (b"neg.gauge:-5|g", "neg.gauge"),
    (b"neg.count:-2|c", "neg.count"),
    (b"exp.gauge:1e3|g", "exp.gauge"),
    (b"hex.gauge:0x1p-2|g", "hex.gauge"),
    (b"plus.gauge:+3|g", "plus.gauge"),
    (b"utf8.\xff\xfe.name:1|c|#t:\xc3\x28", None),  # invalid UTF-8 bytes are still bytes
    (b"n" * 3000 + b":1|c", "n" * 3000),
    (b"tags.empty:1|c|#", "tags.empty"),
    (b"dsd13:1|c|#a:b|c:abc|T1700000000|e:x", "dsd13"),
]


def insertions():
    """`:|#@` inserted at every position of a valid line: must never crash; each is either kept or counted."""
    base = b"ab.c:12|c|@0.5|#t:v,u"
    out = []
    for ch in b":|#@":
        for i in range(len(base) + 1):
            out.append(base[:i] + bytes([ch]) + base[i:])
    return out


def wrap(line):
    return b"good.before:1|c\n" + line + b"\ngood.after:1|c"


def test_invalid_lines_rejected_alone():
    v = Veneur(interval="60s")
    try:
        for line in INVALID:
            v.send_udp(wrap(line))
        n = 3 * len(INVALID)
        wait_for(lambda: v.metric("veneur_lines_received_total") >= n, what="%d lines" % n)
        errors = v.metric("veneur_packet_error_total")
        expect(v.stop() == 0, "clean exit after hostile input")
        recs = v.records()
    finally:
        v.stop()
    expect(errors == len(INVALID), "each hostile line counted once: %d of %d" % (errors, len(INVALID)))
    expect(total(recs, "good.before") == len(INVALID) and total(recs, "good.after") == len(INVALID),
           "good lines beside hostile ones kept")
    expect(not by_name(recs, "x"), "no hostile sample applied: %r" % by_name(recs, "x"))


def test_weird_valid_lines_accepted():
    v = Veneur(interval="60s")
    try:
        for line, _ in VALID:
            v.send_udp(wrap(line))
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 3 * len(VALID), what="lines")
        errors = v.metric("veneur_packet_error_total")
        expect(v.stop() == 0, "exit 0")
        recs = v.records()
    finally:
        v.stop()
    expect(errors == 0, "no valid line rejected (%d errors)" % errors)
    for _, name in VALID:
        if name:
            expect(by_name(recs, name), "accepted: %s" % name[:40])
    expect(any(r["name"].startswith("utf8.") and "\ufffd" in r["name"] for r in recs), "bad UTF-8 escaped as U+FFFD")
    expect(by_name(recs, "hex.gauge")[0]["value"] == 0.25 and by_name(recs, "neg.count")[0]["value"] == -2, "values")


def test_insertions_and_huge_datagrams():
    v = Veneur(interval="60s")
    try:
        lines = insertions()
        for line in lines:
            v.send_udp(wrap(line))
        v.send_udp(b"good.before:1|c\n" + b"x" * 65000)  # 64 KiB datagram: over metric_max_length
        v.send_udp(b"\n" * 4000)  # only empty lines: ignored, not errors
        wait_for(lambda: v.metric("veneur_lines_received_total") >= 3 * len(lines), what="lines")
        wait_for(lambda: v.metric("veneur_packet_error_total") >= 1, what="errors")
        _, m = v.http("/metrics")
        expect('veneur_packet_error_total{reason="toolong"} 1' in m, "64 KiB datagram dropped whole and counted")
        accepted = v.metric("veneur_lines_received_total") - v.metric("veneur_packet_error_total") + 1
        expect(accepted >= 2 * len(lines), "good lines kept")
        expect(v.stop() == 0, "survived")
        recs = v.records()
    finally:
        v.stop()
    expect(total(recs, "good.before") == len(lines) and total(recs, "good.after") == len(lines), "neighbours kept")


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        check("15-hostile/" + name[5:], fn)
run()
