#!/usr/bin/env python3
"""90-deploy: deploy/ (Kubernetes manifests, Helm chart, Dockerfile) against the real binaries.

Static part (node, tests/deploy/validate.js): every manifest object validates against the
Kubernetes OpenAPI schemas (kubernetes-models) with no field the schemas lack; the Helm chart's
defaults render (a small renderer for the chart's subset of Go templates) to exactly the plain
manifests; ports, probes, Services, ConfigMap mounts and in-pod addresses agree; the Dockerfile
lints. Self-checks mutate a copy of deploy/ and expect those checks to catch each mistake.
yamllint (Debian package) lints every YAML file and the rendered chart. Docker cannot run here,
so the image is checked against this machine's build instead: the libraries build/veneur* link
come from packages the runtime stage installs, and every file `make all` compiled (its .d
files) is under a path the build stage copies.

Runtime part: for every container that runs veneur, build/veneur -validate-config-strict accepts
the ConfigMap file it is given with -f and its env vars; then build/veneur runs with that env
(listen addresses mapped to 127.0.0.1 ephemeral ports): /healthz and /readyz answer on the probe
port, every env var shows in the effective config (/config/yaml), the statsd and gRPC ports
accept traffic, the stand-in app's own command delivers its heartbeat to the sidecar, and SIGTERM
exits 0. veneur-proxy containers: build/veneur-proxy does not exist yet (issue 7), so only their
env var names are checked against Go Veneur's proxy config (docs/behaviour.md W3.1).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request

import harness
from harness import check, expect, free_port, wait_for

ROOT = harness.ROOT
DEPLOY_TESTS = os.path.join(ROOT, "tests", "deploy")
VALIDATE_JS = os.path.join(DEPLOY_TESTS, "validate.js")
BUILD = os.path.join(ROOT, "build")
VENEUR = os.path.join(BUILD, "veneur")

# Go Veneur's proxy config keys (docs/behaviour.md W3.1, proxy/config.go); env name = VENEUR_PROXY_ + the Go
# field path upper-cased, nested structs joined by "_" (envconfig).
PROXY_KEYS = ["debug", "dial_timeout", "discovery_interval", "forward_addresses", "forward_service",
              "grpc_server.connection_timeout", "grpc_server.max_connection_idle",
              "grpc_server.max_connection_age", "grpc_server.max_connection_age_grace",
              "grpc_server.ping_timeout", "grpc_server.keepalive_timeout", "grpc_address",
              "grpc_tls_address", "http.enable_config", "http.enable_profiling", "http_address",
              "ignore_tags", "runtime_metrics_interval", "send_buffer_size", "sentry_dsn",
              "shutdown_timeout", "statsd.address", "statsd.aggregation_interval",
              "statsd.channel_buffer_size", "statsd.messages_per_payload", "tls.ca_file",
              "tls.cert_file", "tls.key_file", "tls.server_name"]


def env_name(prefix, key):
    return prefix + "_".join(seg.replace("_", "").upper() for seg in key.split("."))


# veneur-c's additions (docs/internals/proxy.md): discovery of the globals by DNS, Consul or Kubernetes.
PROXY_KEYS += ["discovery.kind", "discovery.timeout", "discovery.consul_address", "discovery.dns_server",
               "discovery.dns_port", "discovery.hosts_file", "discovery.kubernetes_api",
               "discovery.kubernetes_namespace", "discovery.kubernetes_port_name",
               "discovery.kubernetes_token_file"]
PROXY_ENV = {env_name("VENEUR_PROXY_", k) for k in PROXY_KEYS}
PROXY = os.path.join(BUILD, "veneur-proxy")
# [v13] flat keys become a metric_sinks entry (docs/behaviour.md 0.1), so they show there, not as a key.
V13_SINK_ENV = {"VENEUR_DATADOGAPIKEY": ("datadog", "api_key"),
                "VENEUR_DATADOGAPIHOSTNAME": ("datadog", "api_hostname")}
LOCAL_HOSTS = {"0.0.0.0", "127.0.0.1", "localhost", "[::]", "[::1]", ""}
ADDR_RE = re.compile(r"^(?:([a-z0-9]+)://)?(\[[^\]]*\]|[A-Za-z0-9.\-]*):(\d{1,5})$")


def node(args, stdin=None, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(["node", VALIDATE_JS] + args, input=stdin, capture_output=True, text=True,
                       cwd=DEPLOY_TESTS, env=e, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("validate.js %s exited %d: %s" % (args[0], p.returncode, p.stderr.strip()[-800:]))
    return p.stdout


def ensure_node_modules():
    """Installs tests/deploy's pinned npm packages if absent; returns an error text or None."""
    if os.path.isdir(os.path.join(DEPLOY_TESTS, "node_modules", "kubernetes-models")):
        return None
    if not shutil.which("npm"):
        return "npm not installed"
    for cmd in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "install", "--no-audit", "--no-fund"]):
        try:
            p = subprocess.run(cmd, cwd=DEPLOY_TESTS, capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:
            continue
        if p.returncode == 0:
            return None
    return "npm could not install tests/deploy's packages (kubernetes-models, yaml, dockerfile-utils)"


# ---------------------------------------------------------------- static

def static_checks():
    err = ensure_node_modules()
    if err:
        check("deploy/node-modules", lambda: expect(False, err))
        return None
    data = json.loads(node(["check"]))
    for c in data["cases"]:
        check(c["name"], lambda c=c: expect(c["ok"], c.get("why", "")))
    return data


def yamllint_check():
    exe = shutil.which("yamllint")
    expect(exe, "yamllint is not installed (Debian package yamllint: add it to scripts/deps.sh)")
    tmp = tempfile.mkdtemp(prefix="vn-deploy-")
    files = []
    for label, args in (("default", []), ("createSecret", ["datadog.createSecret=true", "datadog.apiKey=k"])):
        path = os.path.join(tmp, "rendered-%s.yaml" % label)
        with open(path, "w") as f:
            f.write(node(["render"] + args))
        files.append(path)
    targets = [os.path.join(ROOT, "deploy", "kubernetes"),
               os.path.join(ROOT, "deploy", "helm", "veneur-c", "Chart.yaml"),
               os.path.join(ROOT, "deploy", "helm", "veneur-c", "values.yaml"),
               os.path.join(ROOT, "deploy", "docker", "veneur.yaml"),
               os.path.join(DEPLOY_TESTS, "yamllint.yaml")] + files
    p = subprocess.run([exe, "-s", "-f", "parsable", "-c", os.path.join(DEPLOY_TESTS, "yamllint.yaml")] + targets,
                       capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, (p.stdout + p.stderr).strip()[:1500])


# Each mutation is a mistake one of the static checks must catch: (case, file, old, new, failing case).
MUTATIONS = [
    ("unknown-field", "deploy/kubernetes/10-global.yaml", "readinessProbe:", "readinessprobe:",
     "deploy/schema/10-global.yaml/Deployment/veneur-global"),
    ("wrong-type", "deploy/kubernetes/10-global.yaml", "containerPort: 8128", 'containerPort: "8128"',
     "deploy/schema/10-global.yaml/Deployment/veneur-global"),
    ("chart-drift", "deploy/helm/veneur-c/templates/global.yaml", "failureThreshold: 2", "failureThreshold: 4",
     "deploy/helm-defaults-equal-manifests"),
    ("probe-path", "deploy/kubernetes/30-app.yaml", "path: /readyz", "path: /ready",
     "deploy/pod-consistency/heartbeat"),
    ("service-port", "deploy/kubernetes/30-app.yaml", '"veneur-proxy:8128"', '"veneur-proxy:8129"',
     "deploy/pod-consistency/heartbeat"),
    ("in-pod-address", "deploy/kubernetes/20-proxy.yaml", '"127.0.0.1:8126"', '"127.0.0.1:8125"',
     "deploy/pod-consistency/veneur-proxy"),
    ("root-user", "deploy/docker/Dockerfile", "USER 10001:10001", "USER root", "deploy/dockerfile"),
]


def mutation_checks():
    tmp = tempfile.mkdtemp(prefix="vn-deploy-mut-")
    for name, rel, old, new, must_fail in MUTATIONS:
        def case(rel=rel, old=old, new=new, must_fail=must_fail):
            root = os.path.join(tmp, name)
            shutil.copytree(os.path.join(ROOT, "deploy"), os.path.join(root, "deploy"))
            path = os.path.join(root, rel)
            with open(path) as f:
                text = f.read()
            expect(text.count(old) >= 1, "%s no longer contains %r: update this mutation" % (rel, old))
            with open(path, "w") as f:
                f.write(text.replace(old, new, 1))
            cases = {c["name"]: c for c in json.loads(node(["check"], env={"DEPLOY_ROOT": root}))["cases"]}
            expect(must_fail in cases, "no case %s" % must_fail)
            expect(not cases[must_fail]["ok"], "%s still passes with %r -> %r in %s" % (must_fail, old, new, rel))
        check("deploy/selfcheck/" + name, case)


def image_libraries(docker):
    """Every library build/veneur* needs directly comes from a package the image's runtime stage installs."""
    expect(docker, "the Dockerfile check failed")
    expect(shutil.which("readelf") and shutil.which("ldd") and shutil.which("dpkg"), "readelf/ldd/dpkg missing")
    # In every Debian image (apt depends on them); everything else must be installed explicitly.
    have = set(docker["runtimePackages"]) | {"libc6", "libgcc-s1", "libstdc++6"}
    bins = [os.path.join(BUILD, b) for b in sorted(os.listdir(BUILD))
            if (b == "veneur" or b.startswith("veneur-")) and os.path.isfile(os.path.join(BUILD, b))]
    expect(bins, "no build/veneur*")
    missing = set()
    for b in bins:
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                            subprocess.run(["readelf", "-d", b], capture_output=True, text=True).stdout)
        where = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", b], capture_output=True,
                                                                        text=True).stdout, re.M))
        for so in needed:
            path = where.get(so)
            expect(path and path != "not", "%s: %s not found by ldd" % (os.path.basename(b), so))
            pkg = None
            for cand in (path, "/usr" + path, os.path.realpath(path)):
                p = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
                if p.returncode == 0:
                    pkg = p.stdout.split(":", 1)[0].strip()
                    break
            expect(pkg, "%s: no Debian package owns %s" % (os.path.basename(b), path))
            if pkg not in have:
                missing.add("%s (%s, needed by %s)" % (pkg, so, os.path.basename(b)))
    expect(not missing, "the runtime stage does not install: " + ", ".join(sorted(missing)))


def image_build_inputs(docker):
    """Every file `make all` compiled (the -MMD .d files of the release build) is under a path the
    Dockerfile's build stage copies, so the image builds from its reduced context."""
    expect(docker, "the Dockerfile check failed")
    copied = [p.rstrip("/") for p in docker["buildInputs"]]
    obj = os.path.join(BUILD, "obj")
    dfiles = []
    for sub in ("src", "tools"):
        for d, _, fs in os.walk(os.path.join(obj, sub)):
            dfiles += [os.path.join(d, f) for f in fs if f.endswith(".d")]
    expect(len(dfiles) > 10, "no dependency files in build/obj: build with make first")
    outside = set()
    for df in dfiles:
        with open(df) as f:
            text = f.read().replace("\\\n", " ")
        for dep in re.findall(r"\S+", text):
            dep = dep.rstrip(":")
            if dep.endswith(".o") or os.path.isabs(dep) or dep.startswith("build/"):
                continue
            rel = os.path.normpath(dep)
            if not any(rel == c or rel.startswith(c + "/") for c in copied):
                outside.add(rel)
    expect(not outside, "compiled by make all but not copied into the build stage: " + ", ".join(sorted(outside)))


# ---------------------------------------------------------------- runtime

class PodPorts:
    """Maps one pod's ports (and remote host:port) to 127.0.0.1 ephemeral ports, consistently."""

    def __init__(self):
        self.local = {}
        self.remote = {}

    def port(self, p):
        if p not in self.local:
            self.local[p] = free_port()
        return self.local[p]

    def addr(self, text):
        m = ADDR_RE.match(text)
        if not m:
            return text
        scheme, host, port = m.group(1), m.group(2), int(m.group(3))
        if host in LOCAL_HOSTS:
            new = self.port(port)
        else:  # a Service elsewhere in the cluster: a closed local port stands in for it
            new = self.remote.setdefault((host, port), free_port())
        return "%s127.0.0.1:%d" % (scheme + "://" if scheme else "", new)

    def value(self, v):
        # A URL (a sink's endpoint, e.g. Datadog's) must never be contacted from a test: it
        # becomes a closed local port, so a flush fails at once and stays on this machine.
        if re.match(r"^[a-z][a-z0-9+.-]*://[^/]*\.[a-z]", v) and not ADDR_RE.match(v):
            return "http://127.0.0.1:%d" % self.remote.setdefault((v, 0), free_port())
        return ",".join(self.addr(part) for part in v.split(","))


def resolve_env(container, pod_name, ports=None):
    """The container's env as the kubelet would set it; addresses mapped when ports is given."""
    out = {}
    for e in container["env"]:
        if "secret" in e:
            v = "test-secret-" + e["secret"]["key"]
        elif "field" in e:
            v = {"metadata.name": pod_name + "-7d9f8", "metadata.namespace": "default"}.get(e["field"], "x")
        else:
            v = e.get("value", "")
        out[e["name"]] = ports.value(v) if ports is not None and v else v
    return out


def arg_value(args, flag):
    for i, a in enumerate(args):
        if a in (flag, "-" + flag) and i + 1 < len(args):
            return args[i + 1]
        for pre in (flag + "=", "-" + flag + "="):
            if a.startswith(pre):
                return a[len(pre):]
    return None


def config_file(container, tmp):
    path = arg_value(container["args"], "-f")
    expect(path and path in container["files"], "-f %s is not a mounted ConfigMap file" % path)
    local = os.path.join(tmp, os.path.basename(path))
    with open(local, "w") as f:
        f.write(container["files"][path])
    return local


def base_env():
    """The test's environment without any VENEUR_* it may have inherited."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VENEUR")}


def validate_config(pod, c):
    tmp = tempfile.mkdtemp(prefix="vn-deploy-")
    cfg = config_file(c, tmp)
    env = base_env()
    env.update(resolve_env(c, pod["name"]))
    p = subprocess.run([VENEUR, "-validate-config-strict", "-f", cfg], env=env, capture_output=True, text=True,
                       timeout=20)
    expect(p.returncode == 0, "exit %d: %s" % (p.returncode, (p.stderr + p.stdout).strip()[:500]))
    # Control: the same run with one env var broken must fail, so the env above was really read.
    if "VENEUR_INTERVAL" in env:
        env["VENEUR_INTERVAL"] = "ten seconds"
        p = subprocess.run([VENEUR, "-validate-config-strict", "-f", cfg], env=env, capture_output=True, text=True,
                           timeout=20)
        expect(p.returncode != 0, "a broken VENEUR_INTERVAL was accepted: env not applied?")


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def dump_keys(d, prefix=""):
    """Flattens the /config/yaml dump: {"http.config": True, ...}; lists and sinks stay whole."""
    out = {}
    for k, v in d.items():
        key = prefix + k
        if isinstance(v, dict) and k not in ("add_tags",):
            out.update(dump_keys(v, key + "."))
        else:
            out[key] = v
    return out


def same(dump_val, env_val):
    if isinstance(dump_val, list):
        want = env_val.split(",") if env_val != "" else []
        return [str(x) for x in dump_val] == want or [fmt_num(x) for x in dump_val] == want
    if isinstance(dump_val, bool):
        return dump_val == (env_val in ("1", "t", "T", "TRUE", "true", "True"))
    if isinstance(dump_val, (int, float)):
        try:
            return float(env_val) == float(dump_val)
        except ValueError:
            return False
    return str(dump_val if dump_val is not None else "") == env_val or dump_val == "<redacted>"


def fmt_num(x):
    return repr(x) if isinstance(x, float) else str(x)


def check_effective_config(port, env):
    status, text = http_get(port, "/config/yaml")
    expect(status == 200, "/config/yaml answered %s" % status)
    dump = json.loads(node(["parse"], stdin=text))
    flat = dump_keys(dump)
    by_env = {env_name("VENEUR_", k): k for k in flat}
    sinks = {s["kind"]: s.get("config", {}) for s in dump.get("metric_sinks", [])}
    for name, val in env.items():
        if not name.startswith("VENEUR_") or name == "VENEUR_HTTP_CONFIG":
            continue
        if name in V13_SINK_ENV:
            kind, key = V13_SINK_ENV[name]
            expect(kind in sinks, "%s set but no %s sink in the effective config" % (name, kind))
            got = sinks[kind].get(key)
            expect(got == val or got == "<redacted>", "%s=%r but sink %s.%s = %r" % (name, val, kind, key, got))
            continue
        expect(name in by_env, "%s is not a veneur config key (no such key in /config/yaml)" % name)
        got = flat[by_env[name]]
        expect(same(got, val), "%s=%r but %s = %r in the effective config" % (name, val, by_env[name], got))


def lines_received(port):
    status, body = http_get(port, "/metrics")
    if status != 200:
        return -1
    m = re.search(r"^veneur_lines_received_total (\d+)", body, re.M)
    return int(m.group(1)) if m else -1


class Proc:
    def __init__(self, argv, env, log):
        self.log_path = log
        self._log = open(log, "w")
        self.p = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self):
        if self.p.poll() is not None:
            raise RuntimeError("exited %s: %s" % (self.p.returncode, self.tail()))
        return True

    def tail(self):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path) as f:
            return f.read()[-800:]

    def stop(self, timeout=15):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self._log.close()
        return self.p.returncode


def probe_port(c, ref, ports):
    for p in c["ports"]:
        if p["containerPort"] == ref or p.get("name") == ref:
            return ports.port(p["containerPort"])
    raise AssertionError("probe port %s is not a containerPort" % ref)


def run_pod(pod):
    """Starts the pod's veneur containers, checks them, then its other non-proxy containers."""
    ports = PodPorts()
    tmp = tempfile.mkdtemp(prefix="vn-deploy-%s-" % pod["name"])
    running = []  # (container, Proc, http port)
    try:
        for c in pod["containers"]:
            if c["binary"] != "veneur":
                continue

            def serve(c=c):
                env = base_env()
                cenv = resolve_env(c, pod["name"], ports)
                env.update(cenv)
                env["VENEUR_HTTP_CONFIG"] = "true"  # test only: exposes /config/yaml
                proc = Proc([VENEUR, "-f", config_file(c, tmp)], env, os.path.join(tmp, c["name"] + ".log"))
                running.append((c, proc, None))
                live = probe_port(c, c["liveness"]["port"], ports)
                ready = probe_port(c, c["readiness"]["port"], ports)
                wait_for(lambda: proc.alive() and http_get(live, c["liveness"]["path"])[0] == 200, timeout=10,
                         what="liveness %s on the probe port" % c["liveness"]["path"])
                wait_for(lambda: proc.alive() and http_get(ready, c["readiness"]["path"])[0] == 200, timeout=10,
                         what="readiness %s on the probe port" % c["readiness"]["path"])
                running[-1] = (c, proc, live)
                check_effective_config(live, cenv)
                for a in cenv.get("VENEUR_STATSDLISTENADDRESSES", "").split(","):
                    m = ADDR_RE.match(a)
                    if not m:
                        continue
                    before = lines_received(live)
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.sendto(b"deploy.test:1|c", ("127.0.0.1", int(m.group(3))))
                    s.close()
                    wait_for(lambda: lines_received(live) > before, timeout=5, what="a line on " + a)
                if "VENEUR_GRPCADDRESS" in cenv:
                    m = ADDR_RE.match(cenv["VENEUR_GRPCADDRESS"])
                    with socket.create_connection(("127.0.0.1", int(m.group(3))), timeout=5):
                        pass
            check("deploy/serve/%s/%s" % (pod["name"], c["name"]), serve)

        for c in pod["containers"]:
            if c["binary"] != "veneur-proxy":
                continue

            def serve_proxy(c=c):
                expect(os.access(PROXY, os.X_OK), "build/veneur-proxy not built")
                env = base_env()
                env.update(resolve_env(c, pod["name"], ports))
                proc = Proc([PROXY, "-strict", "-f", config_file(c, tmp)], env,
                            os.path.join(tmp, c["name"] + ".log"))
                running.append((c, proc, None))
                for probe in ("liveness", "readiness"):
                    port = probe_port(c, c[probe]["port"], ports)
                    wait_for(lambda: proc.alive() and http_get(port, c[probe]["path"])[0] == 200, timeout=10,
                             what="proxy %s %s on the probe port" % (probe, c[probe]["path"]))
                # No global is reachable from a test: Go's /healthcheck says so with 503.
                port = probe_port(c, c["liveness"]["port"], ports)
                expect(http_get(port, "/healthcheck")[0] == 503, "healthcheck without destinations is 503")
            check("deploy/serve/%s/%s" % (pod["name"], c["name"]), serve_proxy)

        for c in pod["containers"]:
            if c["binary"] in ("veneur", "veneur-proxy"):
                continue

            def app(c=c):
                sidecars = [(sc, live) for sc, _, live in running if live]
                expect(sidecars, "no veneur running in the pod")
                env = base_env()
                env.update(resolve_env(c, pod["name"], ports))
                env["PATH"] = BUILD + os.pathsep + env.get("PATH", "")
                before = {live: lines_received(live) for _, live in sidecars}
                proc = Proc((c["command"] or []) + c["args"], env, os.path.join(tmp, c["name"] + ".log"))
                try:
                    # The first heartbeat goes out at once; later ones every HEARTBEAT_SECONDS.
                    wait_for(lambda: proc.alive() and any(lines_received(live) > before[live] for _, live in sidecars),
                             timeout=10, what="the app's heartbeat at its sidecar")
                finally:
                    proc.stop(timeout=5)
            check("deploy/app/%s/%s" % (pod["name"], c["name"]), app)
    finally:
        for c, proc, live in running:
            rc = proc.stop()

            def drained(rc=rc, proc=proc):
                expect(rc == 0, "SIGTERM exit status %s: %s" % (rc, proc.tail()))
            check("deploy/sigterm/%s/%s" % (pod["name"], c["name"]), drained)


def proxy_env(pod, c):
    names = [e["name"] for e in c["env"]]
    bad = [n for n in names if n not in PROXY_ENV]
    expect(not bad, "not VENEUR_PROXY_* names of the proxy config (docs/behaviour.md W3.1 + veneur-c discovery): %s" % ", ".join(bad))
    args = c["args"]
    expect(arg_value(args, "-f") in c["files"], "-f file is not a mounted ConfigMap file")
    # The file itself: top-level keys must be proxy keys too.
    text = c["files"][arg_value(args, "-f")]
    top = json.loads(node(["parse"], stdin=text)) or {}
    unknown = [k for k in top if k not in {k.split(".")[0] for k in PROXY_KEYS}]
    expect(not unknown, "unknown proxy config keys in the -f file: %s" % unknown)


def main():
    data = static_checks()
    check("deploy/yamllint", yamllint_check)
    if data is None:
        harness.run()
    mutation_checks()
    check("deploy/image-libraries", lambda: image_libraries(data.get("docker")))
    check("deploy/image-build-inputs", lambda: image_build_inputs(data.get("docker")))

    def docker_default_config():
        p = subprocess.run([VENEUR, "-validate-config-strict", "-f",
                            os.path.join(ROOT, "deploy", "docker", "veneur.yaml")],
                           env=base_env(), capture_output=True, text=True, timeout=20)
        expect(p.returncode == 0, (p.stderr + p.stdout).strip()[:500])
    check("deploy/docker-default-config", docker_default_config)

    expect_bin = os.path.isfile(VENEUR) and os.access(VENEUR, os.X_OK)
    for pod in data["pods"]:
        for c in pod["containers"]:
            if c["binary"] == "veneur":
                check("deploy/validate-config/%s/%s" % (pod["name"], c["name"]),
                      lambda pod=pod, c=c: (expect(expect_bin, "build/veneur not built"), validate_config(pod, c)))
            elif c["binary"] == "veneur-proxy":
                check("deploy/proxy-env/%s/%s" % (pod["name"], c["name"]), lambda pod=pod, c=c: proxy_env(pod, c))
        if expect_bin:
            run_pod(pod)
    harness.run()


if __name__ == "__main__":
    main()
