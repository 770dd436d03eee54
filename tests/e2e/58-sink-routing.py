#!/usr/bin/env python3
"""Sink routing and per-sink limits (issue 19): three jsonl localfile sinks,
two metric_sink_routing rules and the four limits (max_name_length, max_tags,
max_tag_length, strip_tags) plus add_tags.

The expected per-sink sets come from a model of Go Veneur's code, written
from flusher.go (Server.Flush: the routed set is the union over rules of
matched / not_matched; Server.flushSink: the per-sink limits in Go's order)
and util/matcher/matcher.go (Match: OR over matchers; name AND every tag
matcher, unset = no tag may match) -- not from veneur-c's code. Each sink
must receive exactly that set: names, tags in order, values. /metrics must
carry Go's flushed_metrics{status} and dropped_metrics{reason} counts.

  routed      the three sinks get exactly the model's sets; counters match
  off         without features.enable_metric_sink_routing every sink gets
              everything unchanged (Go applies the limits only when routing)
  bad_regex   a rule whose regex does not compile fails config validation

Binaries: harness constants (VENEUR_BUILD_DIR honoured).
"""
import os
import re
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# ---------------------------------------------------------------- config

SINKS = {
    # name: (max_name_length, max_tag_length, max_tags, strip_tags [(kind, value)], add_tags [(k, v)])
    "a": (20, 0, 3, [("prefix", "secret")], [("team", "core")]),
    "b": (0, 12, 0, [("regex", r"^tmp\d+:")], [("env", "prod")]),
    "c": (0, 0, 0, [], []),
}

# rules: (match list, matched sinks, not_matched sinks); a matcher is
# ((name kind, name value), [(tag kind, tag value, unset)])
RULES = [
    ([(("prefix", "api."), []),
      (("regex", r"(?i)^DB\.\w+$"), [("exact", "region:us", False)])], ["a"], ["c"]),
    ([(("any", ""), [("prefix", "env:", True)]),
      (("exact", "special"), [])], ["b"], []),
]

# (name, sorted tags, type, value): every metric sent once, as a gauge or counter
METRICS = [
    ("api.hits", ["a:1"], "c", 3),
    ("api.secret.x", ["a:2", "secret:zz"], "g", 5),
    ("api.very.long.name.exceeding", [], "g", 7),
    ("db.query", ["region:us"], "g", 11),
    ("db.query", ["region:eu"], "g", 13),
    ("DB.Other", ["region:us", "zz:1"], "c", 17),
    ("db.no-match", ["region:us"], "g", 19),
    ("other.m", ["env:dev"], "g", 23),
    ("special", ["env:x"], "g", 29),
    ("api.many", ["a:1", "b:2", "c:3"], "g", 31),
    ("api.longtag", ["abcdefghijklmnop:1"], "g", 37),
    ("api.tmp", ["tmp12:verylongvalue_here", "x:1"], "c", 41),
    ("api.teamed", ["teamx:1"], "g", 43),
    ("plain", [], "g", 47),
]


def yaml_config(out_dir, routing=True):
    y = []
    if routing:
        y.append("features:\n  enable_metric_sink_routing: true")
    y.append("metric_sinks:")
    for name, (mnl, mtl, mt, strip, add) in SINKS.items():
        y.append("  - kind: localfile\n    name: %s" % name)
        y.append("    config: {flush_file: \"%s\", format: jsonl}" % os.path.join(out_dir, name + ".jsonl"))
        for key, val in (("max_name_length", mnl), ("max_tag_length", mtl), ("max_tags", mt)):
            if val:
                y.append("    %s: %d" % (key, val))
        if strip:
            y.append("    strip_tags:")
            for kind, value in strip:
                y.append("      - {kind: %s, value: '%s'}" % (kind, value))
        if add:
            y.append("    add_tags:")
            for k, v in add:
                y.append("      %s: %s" % (k, v))
    y.append("metric_sink_routing:")
    for i, (match, matched, not_matched) in enumerate(RULES):
        y.append("  - name: rule%d\n    match:" % i)
        for (nk, nv), tags in match:
            y.append("      - name: {kind: %s, value: '%s'}" % (nk, nv))
            if tags:
                y.append("        tags:")
                for tk, tv, unset in tags:
                    y.append("          - {kind: %s, value: '%s', unset: %s}" % (tk, tv, "true" if unset else "false"))
        y.append("    sinks:\n      matched: [%s]\n      not_matched: [%s]" % (", ".join(matched), ", ".join(not_matched)))
    return "\n".join(y) + "\n"


# ---------------------------------------------------------------- Go's semantics, modelled

def go_value_match(kind, value, s):
    """matcher.go: any / exact / prefix / regex (regexp.MatchString: unanchored)."""
    if kind == "any":
        return True
    if kind == "exact":
        return s == value
    if kind == "prefix":
        return s.startswith(value)
    return re.search(value, s) is not None  # the patterns above mean the same in Python and Go


def go_match(match, name, tags):
    """matcher.Match: for each matcher, the name and then every tag matcher."""
    for (nk, nv), tag_matchers in match:
        if not go_value_match(nk, nv, name):
            continue
        ok = True
        for tk, tv, unset in tag_matchers:
            found = any(go_value_match(tk, tv, t) for t in tags)
            if found and unset:
                ok = False
                break
            if not found and not unset:
                ok = False
                break
        if ok:
            return True
    return False


def go_flush(metrics):
    """(per-sink lists of (name, tags, value), per-sink status counts, per-sink dropped counts)."""
    got = {s: [] for s in SINKS}
    status = {s: dict.fromkeys(("skipped", "max_name_length", "max_tags", "max_tag_length", "flushed"), 0)
              for s in SINKS}
    dropped = {s: dict.fromkeys(("max_name_length", "max_tags", "max_tag_length"), 0) for s in SINKS}
    for name, tags, value in metrics:
        routed = set()
        for match, matched, not_matched in RULES:
            routed.update(matched if go_match(match, name, tags) else not_matched)
        for s, (mnl, mtl, mt, strip, add) in SINKS.items():
            if s not in routed:
                status[s]["skipped"] += 1
                continue
            if mnl and len(name) > mnl:
                status[s]["max_name_length"] += 1
                dropped[s]["max_name_length"] += 1
                continue
            out, drop = [], False
            if not strip and not mtl:
                out = list(tags)
            else:
                for t in tags:
                    if any(go_value_match(k, v, t) for k, v in strip):
                        continue
                    if mtl and len(t) > mtl:
                        status[s]["max_tag_length"] += 1
                        dropped[s]["max_tag_length"] += 1
                        drop = True
                        break
                    out.append(t)
            if drop:
                continue
            for k, v in add:
                tag = "%s:%s" % (k, v)
                if mtl and len(tag) > mtl:
                    status[s]["max_tag_length"] += 1  # Go emits no dropped_metrics here
                    drop = True
                    break
                if not any(ft.startswith(k) for ft in out):
                    out.append(tag)
            if drop:
                continue
            if mt and len(out) > mt:
                status[s]["max_tags"] += 1
                dropped[s]["max_tags"] += 1
                continue
            status[s]["flushed"] += 1
            got[s].append((name, tuple(out), float(value)))
    return got, status, dropped


# ---------------------------------------------------------------- run

def start(routing, extra=""):
    out_dir = tempfile.mkdtemp(prefix="vn-e2e-route-")
    v = h.Veneur(extra_yaml=yaml_config(out_dir, routing) + extra, jsonl=False, interval="1s")
    return v, out_dir


def self_metric_lines(sock):
    """Every DogStatsD line read so far from the stats_address socket."""
    lines = []
    while True:
        try:
            lines += sock.recv(65536).decode().split("\n")
        except (BlockingIOError, socket.timeout):
            return lines


def self_metric_counts(lines, name, label):
    """Sums the `veneur.<name>` counters in lines: {(sink, label value): n}."""
    out = {}
    for line in lines:
        m = re.match(r"^veneur\.%s:(\d+)\|c\|#(.*)$" % name, line)
        if not m:
            continue
        tags = dict(t.split(":", 1) for t in m.group(2).split(",") if ":" in t)
        key = (tags.get("sink_name"), tags.get(label))
        out[key] = out.get(key, 0) + int(m.group(1))
    return out


def read_sink(out_dir, s):
    import json
    p = os.path.join(out_dir, s + ".jsonl")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return [json.loads(l) for l in f if l.strip()]


def send_all(v):
    lines = []
    for name, tags, typ, value in METRICS:
        lines.append("%s:%s|%s%s" % (name, value, typ, ("|#" + ",".join(tags)) if tags else ""))
    v.send_udp("\n".join(lines))


def collect(v, out_dir, expect_n):
    """Waits until every sink has its records of one flush; returns {sink: sorted [(name, tags, value)]}."""
    def cond():
        return all(len(read_sink(out_dir, s)) >= n for s, n in expect_n.items())
    h.wait_for(cond, timeout=10, what="records in every sink")
    # one more interval: nothing beyond the expected set may arrive late
    seen = {s: len(read_sink(out_dir, s)) for s in SINKS}
    h.wait_for(lambda: v.metric("veneur_flushes_total") >= 3, timeout=10, what="two more flushes")
    res = {}
    for s in SINKS:
        recs = read_sink(out_dir, s)
        h.expect(len(recs) == seen[s], "sink %s got %d records after settling (had %d)" % (s, len(recs), seen[s]))
        res[s] = sorted((r["name"], tuple(r["tags"]), float(r["value"])) for r in recs)
    return res


def prom(v, family):
    """{(sink, label value): count} of a labelled per-sink family on /metrics."""
    _, body = v.http("/metrics")
    out = {}
    for line in body.splitlines():
        m = re.match(r'^%s\{sink_name="([^"]+)",sink_kind="[^"]+",(?:status|reason)="([^"]+)"\} (\d+)$' % family, line)
        if m:
            out[(m.group(1), m.group(2))] = int(m.group(3))
    return out


def case_routed():
    stats = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stats.bind(("127.0.0.1", 0))
    stats.setblocking(False)
    v, out_dir = start(True, 'stats_address: "127.0.0.1:%d"\n' % stats.getsockname()[1])
    try:
        h.wait_for(lambda: v.metric("veneur_flushes_total") >= 1, timeout=10, what="first flush")
        send_all(v)
        want, status, dropped = go_flush([(n, t, val) for n, t, _, val in METRICS])
        for s in SINKS:
            want[s] = sorted(want[s])
        flushes0 = v.metric("veneur_flushes_total")
        got = collect(v, out_dir, {s: len(want[s]) for s in SINKS})
        for s in SINKS:
            h.expect(got[s] == want[s], "sink %s:\n  got  %s\n  want %s" % (s, got[s], want[s]))
        # every metric went somewhere or was counted (the status sums equal the metrics flushed)
        st, dr = prom(v, "veneur_flushed_metrics_total"), prom(v, "veneur_dropped_metrics_total")
        nflush = v.metric("veneur_flushes_total")
        h.expect(nflush >= flushes0, "flush count")
        for s in SINKS:
            for k, n in status[s].items():
                if k == "skipped":
                    continue  # empty flushes skip nothing; checked below as >= the interval's own
                h.expect(st.get((s, k)) == n, "sink %s flushed_metrics{status=%s}: got %s want %d" % (s, k, st.get((s, k)), n))
            h.expect(st.get((s, "skipped"), -1) >= status[s]["skipped"],
                     "sink %s skipped: got %s want >= %d" % (s, st.get((s, "skipped")), status[s]["skipped"]))
            for k, n in dropped[s].items():
                h.expect(dr.get((s, k)) == n, "sink %s dropped_metrics{reason=%s}: got %s want %d" % (s, k, dr.get((s, k)), n))
        # the same counts reach stats_address as Go's DogStatsD self-metrics (veneurglobalonly:true)
        h.wait_for(lambda: v.metric("veneur_flushes_total") >= nflush + 2, timeout=10, what="self-metrics sent")
        lines = self_metric_lines(stats)
        sent_status = self_metric_counts(lines, "flushed_metrics", "status")
        sent_dropped = self_metric_counts(lines, "dropped_metrics", "reason")
        for s in SINKS:
            for k, n in status[s].items():
                if k != "skipped":
                    h.expect(sent_status.get((s, k), 0) == n,
                             "stats_address flushed_metrics %s/%s: got %s want %d" % (s, k, sent_status.get((s, k)), n))
            for k, n in dropped[s].items():
                h.expect(sent_dropped.get((s, k), 0) == n,
                         "stats_address dropped_metrics %s/%s: got %s want %d" % (s, k, sent_dropped.get((s, k)), n))
        h.expect(any(sent_dropped.values()), "no dropped_metrics reached stats_address: %s" % sent_dropped)
        # the model exercises every limit at least once (else the test proves less than it says)
        h.expect(status["a"]["max_name_length"] and status["a"]["max_tags"] and status["b"]["max_tag_length"],
                 "model does not reach every limit: %s" % status)
        print("  routed: a=%d b=%d c=%d metrics; status %s" % (len(want["a"]), len(want["b"]), len(want["c"]), status),
              flush=True)
    finally:
        v.stop()
        stats.close()


def case_off():
    v, out_dir = start(False)
    try:
        h.wait_for(lambda: v.metric("veneur_flushes_total") >= 1, timeout=10, what="first flush")
        send_all(v)
        want = sorted((n, tuple(t), float(val)) for n, t, _, val in METRICS)
        got = collect(v, out_dir, {s: len(want) for s in SINKS})
        for s in SINKS:
            h.expect(got[s] == want, "sink %s without routing:\n  got  %s\n  want %s" % (s, got[s], want))
        st = prom(v, "veneur_flushed_metrics_total")
        h.expect(all(n == 0 for n in st.values()), "routing counters moved with routing off: %s" % st)
    finally:
        v.stop()


def case_bad_regex():
    d = tempfile.mkdtemp(prefix="vn-e2e-route-bad-")
    cfg = os.path.join(d, "veneur.yaml")
    with open(cfg, "w") as f:
        f.write(yaml_config(d, True).replace(r"(?i)^DB\.\w+$", "db[") + 'statsd_listen_addresses: ["udp://127.0.0.1:0"]\n')
    p = subprocess.run([h.VENEUR, "-f", cfg, "-validate-config"], capture_output=True, text=True, timeout=20,
                       env=h.sanitizer_env(None))
    h.expect(p.returncode != 0, "an invalid regex passed validation: %s" % p.stdout + p.stderr)
    h.expect("regex" in (p.stdout + p.stderr), "no reason given: %s" % (p.stdout + p.stderr))


if __name__ == "__main__":
    h.check("routed", case_routed)
    h.check("off", case_off)
    h.check("bad_regex", case_bad_regex)
    h.run()
