"""veneur-prometheus with hostile Prometheus labels -> build/veneur -> jsonl (issue 15).

A fake Prometheus endpoint serves a counter whose label values carry DogStatsD syntax:
`x|@0.0001` (would become a sample rate: the counter multiplied by 10 000), `a,env:evil`
(would add a tag), a NUL byte and `#`/`|#` (would open a tag section), and a recording-rule
name with ':' (would end the DogStatsD name). The counter rises by 1 per scrape up to K, so
veneur must flush exactly K in total under the rewritten tags, with no injected tag and
sanitized_total counted.

Env VN_PROM_TOOL overrides the veneur-prometheus binary (to measure an older build).
"""
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Veneur, by_name, check, expect, run, wait_for  # noqa: E402

PROM_TOOL = os.environ.get("VN_PROM_TOOL") or os.path.join(os.path.dirname(harness.VENEUR), "veneur-prometheus")
K = 5  # the counter stops at K; the first scrape is the baseline (value 0)

BODY = ("# TYPE reqs_total counter\n"
        "reqs_total{v=\"x|@0.0001\"} %(n)d\n"
        "# TYPE inj_total counter\n"
        "inj_total{w=\"a,env:evil\"} %(n)d\n"
        "# TYPE nul_total counter\n"
        "nul_total{z=\"n\x00l#t|#u\"} %(n)d\n"
        "# TYPE job:rate5m gauge\n"
        "job:rate5m{v=\"ok\"} 7\n")
WANT_TAGS = {"test.reqs_total": ["v:x_@0.0001"], "test.inj_total": ["w:a_env:evil"], "test.nul_total": ["z:n_l_t__u"]}


def test_hostile_labels():
    srv = harness.ScriptedHTTP(lambda i: (200, (BODY % {"n": min(i, K)}).encode()))
    v = tool = None
    log = tempfile.TemporaryFile()
    try:
        v = Veneur(interval="1s")
        tool = subprocess.Popen([PROM_TOOL, "-h", srv.url,
                                 "-i", "100ms", "-p", "test.", "-s", "127.0.0.1:%d" % v.udp_port],
                                stdout=log, stderr=subprocess.STDOUT)
        # K + 3 scrapes: the counter has reached K and been scraped again at least twice
        wait_for(lambda: srv.hits >= K + 3 or tool.poll() is not None, timeout=20, what="scrapes")
        expect(tool.poll() is None, "veneur-prometheus exited %s" % tool.returncode)
        tool.send_signal(signal.SIGTERM)
        tool.wait(timeout=10)

        # a marker sent after the tool exited is flushed with or after everything it sent
        v.send_udp("e2e.marker:1|c")
        v.wait_records(lambda r: by_name(r, "e2e.marker"), timeout=10, what="the marker in veneur's output")
        recs = v.records()
        bad = []
        for name, tags in sorted(WANT_TAGS.items()):
            c = by_name(recs, name)
            got = sum(r["value"] for r in c)
            print("  %s total %g (want %d), tags %s" % (name, got, K, sorted({t for r in c for t in r["tags"]})))
            if got != K:
                bad.append("%s total %g, want %d" % (name, got, K))
            for r in c:
                if sorted(r["tags"]) != tags or r["type"] != "counter":
                    bad.append("%s %s %r" % (name, r["type"], r["tags"]))
        expect(not bad, "; ".join(bad))
        g = by_name(recs, "test.job_rate5m")
        expect(g and g[-1]["value"] == 7 and g[-1]["tags"] == ["v:ok"], "gauge %r" % g[-1:])
        expect(not any(r["name"].startswith("test.job") and r["name"] != "test.job_rate5m" for r in recs),
               "the ':' name must not be cut")
        san = [r for r in recs if r["name"] == "test.veneur.prometheus.sanitized_total"]
        expect(san and all(r["value"] >= 4 for r in san), "sanitized_total %r" % san[:2])
    finally:
        if tool and tool.poll() is None:
            tool.kill()
            tool.wait()
        srv.close()
        if v:
            v.stop()


check("71-prometheus-escape/hostile_labels", test_hostile_labels)
run()
