"""veneur's `sources: [{kind: openmetrics}]` scraping real endpoints -> jsonl (issue 21).

Cases:
  exact          a python http.server whose counters we step: the flushed counter deltas add up
                 exactly (first scrape = baseline, a reset sends the new value whole), gauges,
                 untyped, histogram buckets/count/sum, summary quantiles, label tags + the entry's
                 tags, allowlist and denylist (allowlist wins), a label value with ',' rewritten
  bad_scrapes    500s, garbage and an oversized body are dropped whole and counted on /metrics;
                 the counter baseline skips them
  node_exporter  Debian's prometheus-node-exporter (cpu, loadavg, meminfo collectors), allowlist
  bad_config     a config error in an entry stops veneur at start with exit 2 (Go: ParseConfig)
Every wait has a deadline; every process is stopped in a finally block.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ScriptedHTTP, Veneur, by_name, check, expect, free_port, run, total, wait_for  # noqa: E402

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


def source_yaml(entries):
    """entries: [(name, url, tags, {config})] -> a `sources:` block (scrape_interval 1s unless given)."""
    out = ["sources:"]
    for name, url, tags, extra in entries:
        cfg = {"scrape_interval": "1s", "scrape_target": url}
        cfg.update(extra)
        out += ["  - kind: openmetrics", "    name: %s" % name,
                "    tags: [%s]" % ", ".join('"%s"' % t for t in tags),
                "    config:"]
        out += ['      %s: "%s"' % (k, v) for k, v in cfg.items()]
    return "\n".join(out) + "\n"


# Counter values the i-th scrape sees; they stop moving at the end so a late scrape adds nothing.
REQS = [100, 107, 114, 121, 3, 10]          # deltas 7, 7, 7, reset -> 3, 7: total 31
FLOATS = [1.5, 2.7, 3.2, 3.9, 10.99, 11.0]  # int64-truncated 1, 2, 3, 3, 10, 11: total 10
BUCKET = [1, 2, 4, 4, 4, 6]                 # le=0.5 cumulative
INF = [2, 4, 7, 8, 8, 11]                   # le=+Inf and _count
SUMS = [0.5, 1.5, 3.0, 4.75, 4.75, 9.0]     # truncated 0, 1, 3, 4, 4, 9: total 9


def exposition(i):
    k = min(i, len(REQS) - 1)
    body = (
        "# HELP app_requests_total Requests.\n# TYPE app_requests_total counter\n"
        'app_requests_total{method="get",code="200"} %d\n'
        "# TYPE app_cpu_seconds_total counter\napp_cpu_seconds_total %s\n"
        "# TYPE app_temp gauge\napp_temp %s\n"
        'app_untyped{path="/a,b"} 7\n'
        "# TYPE app_lat histogram\n"
        'app_lat_bucket{le="0.5"} %d\napp_lat_bucket{le="+Inf"} %d\napp_lat_sum %s\napp_lat_count %d\n'
        "# TYPE app_rpc summary\n"
        'app_rpc{quantile="0.99"} 0.25\napp_rpc_sum 1\napp_rpc_count 1\n'
        "# TYPE skip_me gauge\nskip_me 1\n"
        "# TYPE other_gauge gauge\nother_gauge 5\n"
    ) % (REQS[k], repr(FLOATS[k]), "21.5" if i >= 2 else "%d" % i, BUCKET[k], INF[k], repr(SUMS[k]), INF[k])
    return 200, body.encode()


def test_exact():
    srv = v = None
    try:
        srv = ScriptedHTTP(exposition)
        # two entries on the same target: the second only sees what its allowlist admits
        srv2 = ScriptedHTTP(exposition)
        yaml = source_yaml([
            ("app", srv.url, ["env:e2e", "src:app"], {"denylist": "^skip_"}),
            ("allow", srv2.url, ["src:allow"], {"allowlist": "^other_", "denylist": "^other_"}),
        ])
        v = Veneur(extra_yaml=yaml, interval="1s")
        # enough scrapes for every value above to have been seen, then a final flush
        wait_for(lambda: srv.hits >= len(REQS) + 2 and srv2.hits >= 2, timeout=30, what="scrapes")
        expect(v.stop() == 0, "veneur exit status")
        recs = v.records()
        app = [r for r in recs if "src:app" in r["tags"]]
        allow = [r for r in recs if "src:allow" in r["tags"]]
        tags = ["code:200", "env:e2e", "method:get", "src:app"]
        req = by_name(app, "app_requests_total", tags)
        expect(req and all(r["type"] == "counter" for r in req), "requests counter %r" % req[:2])
        expect(total(app, "app_requests_total", tags) == 31, "request deltas sum to %r, want 31 (%r)" %
               (total(app, "app_requests_total", tags), [r["value"] for r in req]))
        expect(total(app, "app_cpu_seconds_total") == 10, "float counter deltas %r" %
               [r["value"] for r in by_name(app, "app_cpu_seconds_total")])
        temp = by_name(app, "app_temp", ["env:e2e", "src:app"])
        expect(temp and temp[-1]["type"] == "gauge" and temp[-1]["value"] == 21.5, "gauge %r" % temp[-2:])
        unt = by_name(app, "app_untyped", ["env:e2e", "path:/a_b", "src:app"])
        expect(unt and unt[-1]["type"] == "gauge" and unt[-1]["value"] == 7, "untyped with ',' label %r"
               % [r for r in app if r["name"] == "app_untyped"][:1])
        b05 = total(app, "app_lat.bucket", ["env:e2e", "le:0.500000", "src:app"])
        binf = total(app, "app_lat.bucket", ["env:e2e", "le:+Inf", "src:app"])
        expect(b05 == 5 and binf == 9, "bucket deltas le=0.5 %r (want 5), +Inf %r (want 9)" % (b05, binf))
        expect(total(app, "app_lat.count") == 9, "histogram count %r" % total(app, "app_lat.count"))
        expect(total(app, "app_lat.sum") == 9, "histogram sum %r" % total(app, "app_lat.sum"))
        q = by_name(app, "app_rpc", ["env:e2e", "quantile:0.990000", "src:app"])
        expect(q and q[-1]["type"] == "gauge" and q[-1]["value"] == 0.25, "summary quantile %r" % q[-1:])
        expect(not by_name(app, "app_rpc.count"), "an unchanging summary count sends nothing")
        expect(not by_name(recs, "skip_me"), "denylist")
        expect(by_name(app, "other_gauge"), "other_gauge passes app's denylist")
        names = sorted({r["name"] for r in allow})
        expect(names == ["other_gauge"], "allowlist wins over denylist: %r" % names)
        log = v.log()
        expect("event=source_started kind=openmetrics source=\"app\"" in log, "start log line")
    finally:
        for x in (v,):
            if x is not None:
                x.stop()
        for s in (srv, locals().get("srv2")):
            if s is not None:
                s.close()


def test_bad_scrapes():
    big = b"# TYPE big gauge\n" + b"".join(b"big{i=\"%d\"} 1\n" % i for i in range(3000))
    script = [
        (200, b"# TYPE c counter\nc 10\n"),
        (500, b"# TYPE c counter\nc 1000\n"),
        (200, b"# TYPE c counter\nc 1000 garbage here\n"),
        (200, big),
        (200, b"# TYPE c counter\nc 17\n"),
    ]

    def serve(i):
        return script[min(i, len(script) - 1)]
    srv = v = None
    try:
        srv = ScriptedHTTP(serve)
        yaml = source_yaml([("bad", srv.url, [], {"max_body_bytes": 20000})])
        v = Veneur(extra_yaml=yaml, interval="1s")
        wait_for(lambda: srv.hits >= len(script) + 1, timeout=30, what="scrapes")
        wait_for(lambda: v.metric("veneur_source_scrapes_total") >= 3, timeout=10, what="scrape count")
        fails = v.metric("veneur_source_scrape_failures_total")
        parse = v.metric("veneur_source_parse_errors_total")
        big_n = v.metric("veneur_source_scrapes_too_large_total")
        expect(fails == 1 and parse == 1 and big_n == 1, "failures %r parse %r too_large %r" % (fails, parse, big_n))
        expect(v.stop() == 0, "veneur exit status")
        recs = v.records()
        expect(total(recs, "c") == 7, "baseline skips dropped scrapes: %r" % [r["value"] for r in by_name(recs, "c")])
        expect(not by_name(recs, "big"), "nothing from the oversized scrape")
    finally:
        if v is not None:
            v.stop()
        if srv is not None:
            srv.close()


def test_node_exporter():
    if not os.access(NODE_EXPORTER, os.X_OK):
        raise RuntimeError("%s missing: apt-get install prometheus-node-exporter (scripts/deps.sh)" % NODE_EXPORTER)
    port = free_port(socket.SOCK_STREAM)
    logf = tempfile.TemporaryFile()
    ne = subprocess.Popen([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults",
                           "--collector.cpu", "--collector.loadavg", "--collector.meminfo"], stdout=logf,
                          stderr=subprocess.STDOUT)
    v = None
    try:
        url = "http://127.0.0.1:%d/metrics" % port
        yaml = source_yaml([("node", url, ["exporter:node"], {"allowlist": "^node_(cpu_seconds|load1$|memory_MemTotal)"})])
        v = Veneur(extra_yaml=yaml, interval="1s")

        def ready(recs):
            return (by_name(recs, "node_load1") and by_name(recs, "node_memory_MemTotal_bytes")
                    and by_name(recs, "node_cpu_seconds_total"))
        recs = v.wait_records(ready, timeout=30, what="node exporter series in veneur's output")
        expect(ne.poll() is None, "node exporter exited")
        load = by_name(recs, "node_load1")
        expect(all(r["type"] == "gauge" and r["value"] >= 0 and r["tags"] == ["exporter:node"] for r in load),
               "node_load1 %r" % load[:2])
        mem = by_name(recs, "node_memory_MemTotal_bytes")
        expect(mem[0]["type"] == "gauge" and mem[0]["value"] > 1e6, "MemTotal %r" % mem[:1])
        for r in by_name(recs, "node_cpu_seconds_total"):
            expect(r["type"] == "counter" and r["value"] > 0, "cpu delta must be a positive counter: %r" % r)
            keys = sorted(t.split(":", 1)[0] for t in r["tags"])
            expect(keys == ["cpu", "exporter", "mode"], "cpu tags %r" % r["tags"])
        others = {r["name"] for r in recs} - {"node_load1", "node_memory_MemTotal_bytes", "node_cpu_seconds_total"}
        expect(not others, "allowlist let through %r" % sorted(others)[:5])
        expect(v.metric("veneur_source_families_filtered_total") > 0, "filtered families counted")
        expect(v.metric("veneur_source_samples_total") > 0, "samples counted")
        expect(v.stop() == 0, "veneur exit status")
    finally:
        if v is not None:
            v.stop()
        ne.send_signal(signal.SIGTERM)
        try:
            ne.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ne.kill()
            ne.wait()
        logf.close()


def test_bad_config():
    d = tempfile.mkdtemp(prefix="vn-e2e-")
    path = os.path.join(d, "v.yaml")
    with open(path, "w") as f:
        f.write('statsd_listen_addresses: ["udp://127.0.0.1:0"]\n' + source_yaml(
            [("x", "http://127.0.0.1:1/metrics", [], {"scrape_interval": "1s", "scrape_timeout": "5s"})]))
    p = subprocess.run([harness.veneur_binary(), "-f", path], capture_output=True, text=True, timeout=30,
                       env=harness.sanitizer_env())
    expect(p.returncode == 2, "exit %r: %s" % (p.returncode, p.stderr[-500:]))
    expect("scrape timeout cannot be larger than scrape interval" in p.stderr, p.stderr[-500:])
    bad = harness.sanitizer_report(p.stderr)
    expect(not bad, "sanitizer: %s" % bad)


if __name__ == "__main__":
    check("72-openmetrics-source/exact", test_exact)
    check("72-openmetrics-source/bad_scrapes", test_bad_scrapes)
    check("72-openmetrics-source/node_exporter", test_node_exporter)
    check("72-openmetrics-source/bad_config", test_bad_config)
    run()
