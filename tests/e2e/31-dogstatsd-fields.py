"""DogStatsD 1.2-1.6 fields from real client formats reach the sinks with exact values (docs/behaviour.md 0.3).

datadog-go v5 and datadogpy append `|c:<container>` and `|e:<external data>` to every metric,
event and service check (after a check's `|m:` too); the Agent's protocol adds `|T<unix>` (v1.3)
and `|card:` (v1.6). One veneur with a jsonl sink (metrics, checks) and a debug sink (events)
gets such lines over UDP; the flushed values must be exactly those of the same lines without the
extra fields, the skipped fields are counted in veneur_packet_ignored_section_total, and junk
fields (`X:1`, `ca_rd:x`, own fields after m:) are still rejected and counted as errors.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Veneur, by_name, check, expect, run, total, wait_for  # noqa: E402

CID = "c:ci-83c0a99c0a54c0c187f461c7980e9b57f3f6a8b0c918c8d93df19a9de6f3fe1d"
EXT = "e:it-false,cn-web,pu-0a1b2c3d"

# (datagram, skipped fields in it). Lines as the clients write them (format.go / datadogpy).
GOOD = [
    # datadog-go v5: name:v|type|@rate|#tags|c:|e:
    ("dsd.count:3|c|#env:prod|%s|%s\ndsd.count:3|c|#env:prod|%s|%s" % (CID, EXT, CID, EXT), 4),
    ("dsd.count:4|c|@0.5|#env:prod|%s|card:high" % CID, 2),
    ("dsd.timer:3.000000|ms|#env:prod|%s|%s\ndsd.timer:9.500000|ms|#env:prod|%s" % (CID, EXT, CID), 3),
    ("dsd.set:alice|s|#env:prod|%s\ndsd.set:bob|s|#env:prod|%s|card:low\ndsd.set:alice|s|#env:prod" % (CID, EXT),
     3),
    # datadogpy: |T before the tags, c: last; Agent v1.1 packed values with v1.6 card:
    ("dsd.gauge:7.25|g|T1700000000|#env:prod|c:0123abcdef", 2),
    ("dsd.dist:1:2:3:4|d|#env:prod|card:orchestrator|e:it-true", 2),
    ("dsd.global:5|c|#env:prod,veneurglobalonly|%s" % CID, 1),
    # events: datadog-go v5 (d h k p s t # c e) and datadogpy (d k p s t h # c)
    ("_e{10,9}:Deploy web|line\\ntwo|d:1700000000|h:web1|k:dep|p:low|s:go|t:warning|#env:prod,team:a|%s|%s"
     % (CID, EXT), 2),
    ("_e{2,4}:py|text|d:1700000001|k:agg|p:normal|s:my apps|t:error|h:py-host|#a,b:c|c:0123abc", 1),
    # service checks: datadog-go v5 (d h # m c e) and datadogpy (d h # m c)
    ("_sc|dsd.check|2|d:1700000000|h:db1|#env:prod|m:disk full|%s|%s" % (CID, EXT), 2),
    ("_sc|dsd.pycheck|1|h:py-host|#a:b|m:slow replica|c:0123abc", 1),
    ("_sc|dsd.cardcheck|0|card:low|#env:prod", 1),
]
BAD = [
    ("dsd.bad1:1|c|X:1", "unknown_section"),
    ("dsd.bad2:1|c|ca_rd:x", "unknown_section"),
    ("dsd.bad3:1|c|card", "unknown_section"),
    ("_e{3,3}:bad|one|C:x", "event_unknown_section"),
    ("_e{3,3}:bad|two|c:x|p:high", "event_bad_priority"),
    ("_sc|dsd.badcheck1|0|m:a|c:x|h:b", "service_check_message_not_last"),
    ("_sc|dsd.badcheck2|0|c:x|zz", "service_check_unknown_section"),
]


def errors(v, reason):
    return v.metric('veneur_packet_error_total{reason="%s"}' % reason)


def main():
    d = tempfile.mkdtemp(prefix="vn-e2e-dsd-")
    dbg = os.path.join(d, "debug.log")
    state = {}

    def setup():
        v = Veneur('  - kind: debug\n    name: dbg\n    config: {output: "%s"}\n' % dbg)
        try:
            collect(v)
        finally:
            state["rc"] = v.stop()

    def collect(v):
        ign0 = v.metric("veneur_packet_ignored_section_total")
        err0 = {r: errors(v, r) for _, r in BAD}
        for data, _ in GOOD + [(b, 0) for b, _ in BAD]:
            v.send_udp(data)
        want_ign = sum(n for _, n in GOOD)
        wait_for(lambda: v.metric("veneur_packet_ignored_section_total") - ign0 >= want_ign, timeout=10,
                 what="ignored sections counted")

        def all_flushed(recs):
            names = {r["name"] for r in recs}
            need = {"dsd.count", "dsd.timer.count", "dsd.set", "dsd.gauge", "dsd.dist.count", "dsd.global",
                    "dsd.check", "dsd.pycheck", "dsd.cardcheck"}
            if not need <= names or total(recs, "dsd.count") < 14:
                return False
            return os.path.exists(dbg) and open(dbg).read().count("event ts=") >= 2
        state["recs"] = v.wait_records(all_flushed, timeout=15, what="every good line flushed")
        state["events"] = [l for l in open(dbg).read().splitlines() if l.startswith("event ")]
        state["ign"] = v.metric("veneur_packet_ignored_section_total") - ign0
        state["want_ign"] = want_ign
        state["err"] = {r: errors(v, r) - err0[r] for r in err0}

    check("31-dogstatsd-fields/send_and_flush", setup)
    recs = state.get("recs", [])
    rc = state.get("rc")

    def metrics_exact():
        expect(total(recs, "dsd.count", ["env:prod"]) == 14, "counter 3+3+4/0.5: %r" % by_name(recs, "dsd.count"))
        expect(total(recs, "dsd.timer.count", ["env:prod"]) == 2, "timer count")
        expect(total(recs, "dsd.timer.min", ["env:prod"]) == 3 and total(recs, "dsd.timer.max", ["env:prod"]) == 9.5,
               "timer min/max %r" % by_name(recs, "dsd.timer.max"))
        expect(total(recs, "dsd.set", ["env:prod"]) == 2, "set cardinality %r" % by_name(recs, "dsd.set"))
        expect(total(recs, "dsd.gauge", ["env:prod"]) == 7.25, "gauge %r" % by_name(recs, "dsd.gauge"))
        expect(total(recs, "dsd.dist.count", ["env:prod"]) == 4 and total(recs, "dsd.dist.max", ["env:prod"]) == 4
               and total(recs, "dsd.dist.min", ["env:prod"]) == 1, "distribution %r" % by_name(recs, "dsd.dist.count"))
        # veneurglobalonly on a standalone veneur (no forward address) is flushed locally; the tag is gone
        expect(total(recs, "dsd.global", ["env:prod"]) == 5, "global-only counter %r" % by_name(recs, "dsd.global"))
        expect(not [r for r in recs if r["name"].startswith("dsd.bad")], "junk metric lines rejected")
        for r in recs:
            expect(not any(t.startswith(("c:", "e:", "card:")) for t in r["tags"]), "field leaked into tags %r" % r)

    def checks_exact():
        (c,) = by_name(recs, "dsd.check")
        expect(c["value"] == 2 and c["hostname"] == "db1" and c["tags"] == ["env:prod"]
               and c.get("message") == "disk full", "datadog-go check %r" % c)
        (c,) = by_name(recs, "dsd.pycheck")
        expect(c["value"] == 1 and c["hostname"] == "py-host" and c["tags"] == ["a:b"]
               and c.get("message") == "slow replica", "datadogpy check %r" % c)
        (c,) = by_name(recs, "dsd.cardcheck")
        expect(c["value"] == 0 and c["tags"] == ["env:prod"] and not c.get("message"), "card: check %r" % c)
        expect(not [r for r in recs if r["name"].startswith("dsd.badcheck")], "junk checks rejected")

    def events_exact():
        ev = state.get("events", [])
        expect(len(ev) == 2, "two events, junk ones dropped: %r" % ev)
        go = [e for e in ev if 'title="Deploy web"' in e]
        py = [e for e in ev if 'title="py"' in e]
        expect(go == ['event ts=1700000000 title="Deploy web" text="line\\x0atwo" host="web1" '
                      'aggregation_key="dep" priority="low" source_type="go" alert_type="warning" '
                      'tags=[env:prod,team:a]'], "datadog-go event %r" % go)
        expect(py == ['event ts=1700000001 title="py" text="text" host="py-host" aggregation_key="agg" '
                      'priority="normal" source_type="my apps" alert_type="error" tags=[a,b:c]'],
               "datadogpy event %r" % py)

    def counted():
        expect(state.get("ign") == state.get("want_ign"), "ignored sections %r want %r"
               % (state.get("ign"), state.get("want_ign")))
        want = {}
        for _, r in BAD:
            want[r] = want.get(r, 0) + 1
        expect(state.get("err") == want, "error reasons %r want %r" % (state.get("err"), want))
        expect(rc == 0, "exit code %r" % rc)

    check("31-dogstatsd-fields/metrics_exact", metrics_exact)
    check("31-dogstatsd-fields/service_checks_exact", checks_exact)
    check("31-dogstatsd-fields/events_exact", events_exact)
    check("31-dogstatsd-fields/fields_and_errors_counted", counted)
    run()


if __name__ == "__main__":
    main()
