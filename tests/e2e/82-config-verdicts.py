#!/usr/bin/env python3
"""Every Go key, one verdict (issue 18), checked on Go's own example configs.

Strict validation of Go v14's example.yaml / example_proxy.yaml
(tests/data/go-keys/) must fail and list exactly the keys the examples set
that our tables mark as accepted-but-not-implemented; non-strict validation
must pass with one WARN line per such key. The expected lists are computed
from our C tables (src/config/config_verdicts.c, the IGN rows of
src/config/config_keys.c, proxy_unimpl in src/proxy/proxy_config.c), never
written down a second time here. Also /config/json on the daemon.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, expect  # noqa: E402

ROOT = harness.ROOT
DATA = os.path.join(ROOT, "tests", "data", "go-keys")


def src(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def table_rows(text, start):
    """{"key", "why"} rows of the C array that starts at `start`, up to {NULL, NULL}."""
    body = text[text.index(start):]
    body = body[:body.index("{NULL, NULL}")]
    return set(re.findall(r'\{"([^"]+)",\s*"[^"]+"\}', body))


def server_unimpl():
    keys = table_rows(src("src/config/config_verdicts.c"), "vn_config__unimpl[] = {")
    keys |= set(re.findall(r'IGN\("([^"]+)"', src("src/config/config_keys.c")))
    return keys


def proxy_unimpl():
    return table_rows(src("src/proxy/proxy_config.c"), "proxy_unimpl[] = {")


def yaml_keys_set(path):
    """Keys (nested joined with '.') a simple YAML file sets to a non-null value."""
    lines = []
    with open(path) as f:
        for raw in f:
            line = re.sub(r'\s+#.*$', "", raw.rstrip("\n"))
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line)
    keys = set()
    i = 0
    while i < len(lines):
        m = re.match(r'^([A-Za-z_]\w*):\s*(.*)$', lines[i])
        i += 1
        if not m:
            continue
        top, val = m.group(1), m.group(2).strip()
        children = []
        while i < len(lines) and lines[i][:1] in (" ", "\t", "-"):
            children.append(lines[i])
            i += 1
        if val and val not in ("~", "null"):
            keys.add(top)
        elif any(c.lstrip().startswith("-") for c in children):
            keys.add(top)
        else:
            for c in children:
                cm = re.match(r'^\s+([A-Za-z_]\w*):\s*(.*)$', c)
                if cm and cm.group(2).strip() not in ("~", "null"):
                    keys.add(top + "." + cm.group(1))
    return keys


def go_keys(name):
    with open(os.path.join(DATA, name)) as f:
        return {l.strip() for l in f if l.strip()}


def validate(binary, path, strict):
    flag = "-validate-config-strict" if strict else "-validate-config"
    p = subprocess.run([binary, flag, "-f", path], capture_output=True, text=True, timeout=30,
                       env=harness.sanitizer_env())
    bad = harness.sanitizer_report(p.stderr)
    expect(not bad, "sanitizer: %s" % bad)
    return p.returncode, p.stdout, p.stderr


def listed_unimpl(stderr):
    m = re.search(r"(\d+) keys? or kinds? accepted but not implemented: (.*)$", stderr, re.M)
    expect(m, "no unimplemented list in %r" % stderr[-500:])
    items = [s.strip() for s in m.group(2).split(",")]
    expect(int(m.group(1)) == len(items) and "..." not in items, "list cut or miscounted: %r" % m.group(0))
    return set(items)


def warned(stderr):
    return set(re.findall(r"event=config_key_not_implemented key=(\S+)", stderr))


def case_server_strict():
    path = os.path.join(DATA, "example.yaml")
    present = yaml_keys_set(path)
    expect(len(present) >= 40, "the YAML reader found too few keys: %r" % sorted(present))
    want = present & server_unimpl()
    expect(want, "no unimplemented key in Go's example.yaml: the test would prove nothing")
    rc, out, err = validate(harness.VENEUR, path, True)
    expect(rc != 0, "strict validation passed: %r" % out)
    got = listed_unimpl(err)
    expect(got == want, "listed %r, want %r (extra %r, missing %r)" % (sorted(got), sorted(want),
                                                                       sorted(got - want), sorted(want - got)))
    expect("unknown key" not in err, "Go's example.yaml has a key we do not know: %r" % err[-400:])
    print("  example.yaml: %d keys not implemented: %s" % (len(want), " ".join(sorted(want))))


def case_server_lenient():
    path = os.path.join(DATA, "example.yaml")
    want = yaml_keys_set(path) & server_unimpl()
    rc, out, err = validate(harness.VENEUR, path, False)
    expect(rc == 0 and "config ok" in out, "rc=%d %r" % (rc, err[-400:]))
    expect(warned(err) == want, "warned %r, want %r" % (sorted(warned(err)), sorted(want)))


def case_proxy_strict():
    path = os.path.join(DATA, "example_proxy.yaml")
    present = yaml_keys_set(path)
    want = present & proxy_unimpl()
    unknown = present - go_keys("proxy.txt")  # Go's example still has the pre-v14 proxy's keys
    rc, out, err = validate(harness.VENEUR_PROXY, path, True)
    expect(rc != 0, "strict validation passed: %r" % out)
    got = listed_unimpl(err)
    expect(got == want, "listed %r, want %r" % (sorted(got), sorted(want)))
    m = re.search(r'unknown keys? ((?:"[^"]*"(?:, )?)+)', err)
    got_unknown = set(re.findall(r'"([^"]*)"', m.group(1))) if m else set()
    expect(got_unknown == unknown, "unknown %r, want %r" % (sorted(got_unknown), sorted(unknown)))
    print("  example_proxy.yaml: %d not implemented (%s), %d unknown (pre-v14 proxy keys)"
          % (len(want), " ".join(sorted(want)), len(unknown)))


def case_proxy_lenient():
    path = os.path.join(DATA, "example_proxy.yaml")
    want = yaml_keys_set(path) & proxy_unimpl()
    rc, out, err = validate(harness.VENEUR_PROXY, path, False)
    expect(rc == 0 and "config ok" in out, "rc=%d %r" % (rc, err[-400:]))
    expect(warned(err) == want, "warned %r, want %r" % (sorted(warned(err)), sorted(want)))


LIGHTSTEP_YAML = """statsd_listen_addresses: ["udp://127.0.0.1:0"]
lightstep_access_token: "tok"
lightstep_collector_host: "https://collector.lightstep.example:443"
lightstep_num_clients: 2
span_sinks:
  - kind: lightstep
    name: ls
    config:
      access_token: tok
  - kind: xray
    name: xr
    config:
      address: "127.0.0.1:2000"
"""
LIGHTSTEP_KEYS = {"lightstep_access_token", "lightstep_collector_host", "lightstep_num_clients"}


def validate_lightstep(strict):
    with tempfile.NamedTemporaryFile("w", prefix="vn-e2e-82-", suffix=".yaml") as f:
        f.write(LIGHTSTEP_YAML)
        f.flush()
        return validate(harness.VENEUR, f.name, strict)


def case_span_kind_lenient():
    """No maintained C Lightstep client: its span sink kind and keys are accepted, warned, inert;
    an implemented span sink kind (xray) next to it is not warned about."""
    rc, out, err = validate_lightstep(False)
    expect(rc == 0 and "config ok" in out, "rc=%d %r" % (rc, err[-400:]))
    expect(warned(err) == LIGHTSTEP_KEYS, "warned keys %r" % sorted(warned(err)))
    kinds = re.findall(r"event=config_kind_not_implemented section=(\S+) kind=(\S+) name=(\S+) reason=(\S+)", err)
    expect(kinds == [("span_sinks", '"lightstep"', '"ls"', "lightstep_span_sink_not_implemented")],
           "kind warnings %r" % kinds)


def case_span_kind_strict():
    rc, out, err = validate_lightstep(True)
    expect(rc != 0, "strict validation passed: %r" % out)
    got = listed_unimpl(err)
    want = LIGHTSTEP_KEYS | {"span_sinks[0].kind=lightstep"}
    expect(got == want, "listed %r, want %r" % (sorted(got), sorted(want)))


def case_config_json():
    v = harness.Veneur(extra_yaml="http:\n  config: true\nsentry_dsn: \"https://DSNSECRET@sentry.example/1\"\n"
                                  "percentiles: [0.5, 0.9]\n")
    try:
        status, body = v.http("/config/json")
        expect(status == 200, "status %d" % status)
        doc = json.loads(body)
        expect(doc["Interval"] == 1000000000, "Interval %r" % doc.get("Interval"))
        expect(doc["Hostname"] == "testhost", "Hostname %r" % doc.get("Hostname"))
        expect(doc["HTTP"] == {"Config": True}, "HTTP %r" % doc.get("HTTP"))
        expect(doc["Percentiles"] == [0.5, 0.9], "Percentiles %r" % doc.get("Percentiles"))
        expect(doc["MetricSinks"][0]["Kind"] == "localfile", "MetricSinks %r" % doc.get("MetricSinks"))
        expect(doc["SentryDsn"] == "<redacted>", "SentryDsn %r" % doc.get("SentryDsn"))
        expect("DSNSECRET" not in body, "secret in /config/json")
        expect("event=config_key_not_implemented key=sentry_dsn" in v.log(), "no start-up WARN for sentry_dsn")
    finally:
        v.stop()


check("server: strict validation of Go's example.yaml lists exactly our unimplemented keys", case_server_strict)
check("server: non-strict validation warns about each and passes", case_server_lenient)
check("proxy: strict validation of Go's example_proxy.yaml lists exactly our unimplemented keys", case_proxy_strict)
check("proxy: non-strict validation warns about each and passes", case_proxy_lenient)
check("server: span sink kind lightstep and lightstep_* keys warned, xray not; validation passes",
      case_span_kind_lenient)
check("server: strict validation fails on span sink kind lightstep and lightstep_* keys", case_span_kind_strict)
check("server: /config/json has Go's shape, values, redaction", case_config_json)
harness.run()
