#!/usr/bin/env node
// validate.js - static checks of deploy/ for tests/e2e/90-deploy.py.
//
//   node validate.js check    -> {"cases":[{name, ok, why}], "pods":[...]} on stdout
//   node validate.js parse    -> YAML on stdin (one document) as JSON on stdout
//   node validate.js render [key=value ...] -> the chart rendered with those value overrides
//
// "check" parses every manifest, validates each object against the Kubernetes
// OpenAPI schemas (kubernetes-models) and rejects fields the schemas do not
// define, renders the Helm chart's default values with a small renderer for the
// subset of Go template syntax the chart uses and compares the result with the
// plain manifests object by object, checks that ports, probes, Services,
// ConfigMap mounts and in-pod addresses agree with each other, lints the
// Dockerfile, and describes every pod for the runtime checks done in python
// (which start build/veneur with each container's environment).
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const YAML = require('yaml');

// DEPLOY_ROOT: a copy of the tree with deploy/ mutated (90-deploy.py checks that the checks catch mistakes).
const ROOT = process.env.DEPLOY_ROOT || path.resolve(__dirname, '..', '..');
const K8S_DIR = path.join(ROOT, 'deploy', 'kubernetes');
const CHART_DIR = path.join(ROOT, 'deploy', 'helm', 'veneur-c');
const DOCKERFILE = path.join(ROOT, 'deploy', 'docker', 'Dockerfile');

const cases = [];
function check(name, fn) {
  try {
    fn();
    cases.push({ name, ok: true });
  } catch (e) {
    cases.push({ name, ok: false, why: e.message });
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ------------------------------------------------------------------ YAML

/** All non-empty documents of a YAML text, as plain JS; throws on any error or warning. */
function parseAll(text, where) {
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true });
  const out = [];
  for (const d of docs) {
    const bad = [...d.errors, ...d.warnings];
    if (bad.length) throw new Error(`${where}: ${bad[0].message.split('\n')[0]}`);
    const v = d.toJS({ maxAliasCount: 0 });
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function readManifests() {
  const files = fs.readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml')).sort();
  const objs = [];
  for (const f of files) {
    for (const o of parseAll(fs.readFileSync(path.join(K8S_DIR, f), 'utf8'), f)) objs.push({ file: f, obj: o });
  }
  return objs;
}

// ------------------------------------------------------------------ schemas

/** The kubernetes-models class for apiVersion/kind ("apps/v1" -> kubernetes-models/apps/v1). */
function modelFor(apiVersion, kind) {
  let mod;
  try {
    mod = require(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    throw new Error(`no schema module for apiVersion ${apiVersion}`);
  }
  const cls = mod[kind];
  expect(typeof cls === 'function', `no schema for ${apiVersion} ${kind}`);
  return cls;
}

/**
 * Fields the schema does not define. The generated validators read every
 * property their schema knows (and iterate map-typed objects), so a field the
 * validator never read is unknown to the API server: kubectl would reject it
 * with strict field validation, and it is almost always a typo.
 */
function unknownFields(cls, obj) {
  const seen = [];
  const track = (v, p) => {
    if (v === null || typeof v !== 'object') return v;
    const rec = { p, v, read: new Set() };
    seen.push(rec);
    const kids = Array.isArray(v)
      ? v.map((x, i) => track(x, `${p}/${i}`))
      : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, track(x, `${p}/${k}`)]));
    return new Proxy(kids, {
      get(t, key, r) {
        if (typeof key === 'string') rec.read.add(key);
        return Reflect.get(t, key, r);
      },
    });
  };
  cls.prototype.validate.call(track(obj, ''));
  const out = [];
  for (const r of seen) {
    if (Array.isArray(r.v)) continue;
    for (const k of Object.keys(r.v)) if (!r.read.has(k)) out.push(`${r.p}/${k}`);
  }
  return out;
}

function schemaCheck(obj) {
  expect(obj && typeof obj === 'object' && obj.apiVersion && obj.kind, 'not a Kubernetes object (apiVersion/kind)');
  const cls = modelFor(obj.apiVersion, obj.kind);
  const m = new cls(obj);
  try {
    m.validate();
  } catch (e) {
    throw new Error(`${obj.kind} ${obj.metadata && obj.metadata.name}: ${e.message}`);
  }
  const unk = unknownFields(cls, m.toJSON());
  expect(unk.length === 0, `${obj.kind} ${obj.metadata && obj.metadata.name}: unknown field(s) ${unk.join(', ')}`);
}

const objName = (o) => `${o.kind}/${o.metadata && o.metadata.name}`;

// ------------------------------------------------------------------ Helm subset

/**
 * Renders a template using only: {{ .Values.a.b }}, {{ .Values.a.b | quote }},
 * {{ if .Values.a }} / {{ else }} / {{ end }}, and the {{- / -}} whitespace
 * trimming markers (a dash followed by a space, as in Go). Anything else is an
 * error, so the chart cannot quietly use syntax this renderer would mis-handle.
 * Unlike Helm, a missing value is an error instead of "<no value>".
 */
function renderTemplate(src, values, where) {
  const toks = [];
  const re = /\{\{(-\s)?\s*([\s\S]*?)\s*(\s-)?\}\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(src)) !== null) {
    toks.push({ text: src.slice(last, m.index) });
    toks.push({ act: m[2], trimL: !!m[1], trimR: !!m[3] });
    last = re.lastIndex;
  }
  toks.push({ text: src.slice(last) });
  for (let i = 0; i < toks.length; i++) {
    if (!toks[i].act) continue;
    if (toks[i].trimL) toks[i - 1].text = toks[i - 1].text.replace(/\s+$/, '');
    if (toks[i].trimR) toks[i + 1].text = toks[i + 1].text.replace(/^\s+/, '');
  }
  const lookup = (expr) => {
    const pm = /^\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/.exec(expr);
    if (!pm) throw new Error(`${where}: unsupported expression "${expr}"`);
    let v = values;
    for (const k of pm[1].slice(1).split('.')) {
      if (v === null || typeof v !== 'object' || !(k in v)) throw new Error(`${where}: no value for ${expr}`);
      v = v[k];
    }
    return v;
  };
  const truthy = (v) =>
    !(v === false || v === null || v === undefined || v === 0 || v === '' ||
      (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v && Object.keys(v).length === 0));
  const show = (v, expr) => {
    if (v === null || typeof v === 'object') throw new Error(`${where}: ${expr} is not a scalar`);
    return String(v);
  };
  let out = '';
  const stack = []; // each: {on: emitting in this branch, parentOn}
  const emitting = () => stack.every((s) => s.on);
  for (const t of toks) {
    if (t.text !== undefined) {
      if (emitting()) out += t.text;
      continue;
    }
    const a = t.act;
    let mm;
    if ((mm = /^if\s+(\S+)$/.exec(a))) {
      stack.push({ on: truthy(lookup(mm[1])), sawElse: false });
    } else if (a === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.sawElse) throw new Error(`${where}: else without if`);
      top.on = !top.on;
      top.sawElse = true;
    } else if (a === 'end') {
      if (!stack.length) throw new Error(`${where}: end without if`);
      stack.pop();
    } else {
      const parts = a.split('|').map((s) => s.trim());
      let v = show(lookup(parts[0]), parts[0]);
      for (const f of parts.slice(1)) {
        if (f !== 'quote') throw new Error(`${where}: unsupported function "${f}"`);
        v = JSON.stringify(v);
      }
      if (emitting()) out += v;
    }
  }
  if (stack.length) throw new Error(`${where}: if without end`);
  return out;
}

function deepMerge(base, over) {
  if (over === null || typeof over !== 'object' || Array.isArray(over)) return over;
  const out = { ...(base && typeof base === 'object' ? base : {}) };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out;
}

function setPath(obj, dotted, value) {
  const ks = dotted.split('.');
  let o = obj;
  for (const k of ks.slice(0, -1)) o = o[k] = o[k] && typeof o[k] === 'object' ? o[k] : {};
  o[ks[ks.length - 1]] = value;
}

/** The chart rendered with values.yaml (+ overrides): [{file, text, objs}]. */
function renderChart(overrides) {
  let values = parseAll(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'), 'values.yaml')[0];
  values = deepMerge(values, overrides || {});
  const tdir = path.join(CHART_DIR, 'templates');
  const out = [];
  for (const f of fs.readdirSync(tdir).filter((x) => x.endsWith('.yaml')).sort()) {
    const text = renderTemplate(fs.readFileSync(path.join(tdir, f), 'utf8'), values, `templates/${f}`);
    out.push({ file: f, text, objs: parseAll(text, `rendered templates/${f}`) });
  }
  return out;
}

/** First path where a and b differ, or null. */
function firstDiff(a, b, p = '') {
  if (util.isDeepStrictEqual(a, b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDiff(a[k], b[k], `${p}/${k}`);
      if (d) return d;
    }
  }
  return `${p || '/'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

// ------------------------------------------------------------------ pods

/** host, port of "udp://h:p", "h:p" or "[v6]:p"; null if none. */
function hostPort(s) {
  const m = /^(?:([a-z0-9]+):\/\/)?(\[[^\]]*\]|[A-Za-z0-9.\-]*):(\d{1,5})$/.exec(s);
  return m ? { scheme: m[1] || '', host: m[2], port: Number(m[3]) } : null;
}

const LOCAL_HOSTS = new Set(['0.0.0.0', '127.0.0.1', 'localhost', '[::]', '[::1]', '']);

/** A container's binary: the basename of command[0], or the image's entrypoint (veneur). */
function binaryOf(c) {
  if (!c.command || !c.command.length) return 'veneur';
  return path.basename(c.command[0]);
}

/** The pod of a workload, with what the runtime checks need. */
function describePod(obj, configMaps, file) {
  const spec = obj.spec.template ? obj.spec.template.spec : obj.spec;
  const vols = Object.fromEntries((spec.volumes || []).map((v) => [v.name, v]));
  const containers = spec.containers.map((c) => {
    const files = {};
    for (const vm of c.volumeMounts || []) {
      const v = vols[vm.name];
      if (!v || !v.configMap) continue;
      const cm = configMaps[v.configMap.name];
      if (!cm) continue;
      for (const [k, text] of Object.entries(cm.data || {})) files[path.posix.join(vm.mountPath, k)] = text;
    }
    const env = (c.env || []).map((e) => {
      if (e.value !== undefined) return { name: e.name, value: e.value };
      const vf = e.valueFrom || {};
      if (vf.secretKeyRef) return { name: e.name, secret: vf.secretKeyRef };
      if (vf.fieldRef) return { name: e.name, field: vf.fieldRef.fieldPath };
      if (vf.configMapKeyRef) {
        const cm = configMaps[vf.configMapKeyRef.name];
        return { name: e.name, value: cm && cm.data ? cm.data[vf.configMapKeyRef.key] : undefined };
      }
      return { name: e.name, value: '' };
    });
    const probe = (p) => (p && p.httpGet ? { path: p.httpGet.path, port: p.httpGet.port } : null);
    return {
      name: c.name,
      binary: binaryOf(c),
      command: c.command || null,
      args: c.args || [],
      env,
      ports: c.ports || [],
      liveness: probe(c.livenessProbe),
      readiness: probe(c.readinessProbe),
      files,
    };
  });
  return { file, kind: obj.kind, name: obj.metadata.name, containers };
}

function portOf(container, ref) {
  const p = container.ports.find((x) => (typeof ref === 'number' ? x.containerPort === ref : x.name === ref));
  return p ? p.containerPort : null;
}

const envVal = (c, name) => {
  const e = c.env.find((x) => x.name === name);
  return e ? e.value : undefined;
};

function argValue(args, flag) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag || args[i] === `-${flag}`) return args[i + 1];
    for (const pre of [`${flag}=`, `-${flag}=`]) if (args[i].startsWith(pre)) return args[i].slice(pre.length);
  }
  return undefined;
}

/** Consistency of one pod: probes, ports, listen addresses, -f files. */
function checkPod(pod, services) {
  const errs = [];
  const all = [];
  for (const c of pod.containers) for (const p of c.ports) all.push({ c: c.name, ...p });
  const byKey = new Map();
  for (const p of all) {
    const k = `${p.protocol || 'TCP'}/${p.containerPort}`;
    if (byKey.has(k)) errs.push(`port ${k} declared by both ${byKey.get(k)} and ${p.c}`);
    byKey.set(k, p.c);
    if (p.name && all.filter((q) => q.name === p.name).length > 1) errs.push(`port name ${p.name} not unique`);
  }
  const podListens = (port, proto) => all.some((p) => p.containerPort === port && (p.protocol || 'TCP') === proto);
  for (const c of pod.containers) {
    const where = `${pod.name}/${c.name}`;
    for (const [kind, want] of [['liveness', '/healthz'], ['readiness', '/readyz']]) {
      const pr = c[kind];
      if (c.binary === 'sh' || c.binary === 'veneur-emit') continue;
      if (!pr) {
        errs.push(`${where}: no ${kind} probe`);
        continue;
      }
      if (pr.path !== want) errs.push(`${where}: ${kind} probe path ${pr.path}, want ${want}`);
      if (portOf(c, pr.port) === null) errs.push(`${where}: ${kind} probe port ${pr.port} is not a containerPort`);
    }
    const probePort = c.liveness ? portOf(c, c.liveness.port) : null;
    const pre = c.binary === 'veneur-proxy' ? 'VENEUR_PROXY_' : 'VENEUR_';
    if (c.binary === 'veneur' || c.binary === 'veneur-proxy') {
      const http = hostPort(envVal(c, `${pre}HTTPADDRESS`) || '');
      if (!http) errs.push(`${where}: no ${pre}HTTPADDRESS host:port`);
      else if (http.port !== probePort) errs.push(`${where}: ${pre}HTTPADDRESS port ${http.port} != probe port ${probePort}`);
      else if (!['0.0.0.0', '', '[::]'].includes(http.host))
        errs.push(`${where}: HTTP on ${http.host}: the kubelet's probes come from outside the pod`);
      const grpc = envVal(c, `${pre}GRPCADDRESS`);
      if (grpc !== undefined) {
        const g = hostPort(grpc);
        if (!g || !c.ports.some((p) => p.containerPort === g.port && (p.protocol || 'TCP') === 'TCP'))
          errs.push(`${where}: ${pre}GRPCADDRESS ${grpc} has no TCP containerPort`);
      }
      for (const a of (envVal(c, 'VENEUR_STATSDLISTENADDRESSES') || '').split(',').filter(Boolean)) {
        const hp = hostPort(a);
        const proto = hp && /^udp/.test(hp.scheme) ? 'UDP' : 'TCP';
        if (!hp || !c.ports.some((p) => p.containerPort === hp.port && (p.protocol || 'TCP') === proto))
          errs.push(`${where}: statsd listener ${a} has no ${proto} containerPort`);
      }
      const f = argValue(c.args, '-f');
      if (!f) errs.push(`${where}: no -f config file`);
      else if (!(f in c.files)) errs.push(`${where}: -f ${f} is not in a mounted ConfigMap`);
    }
    // Addresses this container talks to: in-pod ones must be served by a
    // container of the pod, others must be a Service's name and port.
    for (const e of c.env) {
      if (e.value === undefined || /LISTENADDRESSES$|HTTPADDRESS$|GRPCADDRESS$/.test(e.name)) continue;
      for (const a of e.value.split(',')) {
        const hp = hostPort(a);
        if (!hp) continue;
        if (LOCAL_HOSTS.has(hp.host)) {
          const proto = /^udp/.test(hp.scheme) || /STATSD|STATSADDRESS/.test(e.name) ? 'UDP' : 'TCP';
          if (!podListens(hp.port, proto)) errs.push(`${where}: ${e.name}=${a}: nothing in the pod listens on ${proto} ${hp.port}`);
        } else {
          const svc = services[hp.host];
          if (!svc) errs.push(`${where}: ${e.name}=${a}: no Service named ${hp.host}`);
          else if (!svc.spec.ports.some((p) => p.port === hp.port)) errs.push(`${where}: ${e.name}=${a}: Service has no port ${hp.port}`);
        }
      }
    }
  }
  return errs;
}

// ------------------------------------------------------------------ Dockerfile

function checkDockerfile() {
  const { validate } = require('dockerfile-utils');
  const { DockerfileParser } = require('dockerfile-ast');
  const text = fs.readFileSync(DOCKERFILE, 'utf8');
  const problems = validate(text).filter((d) => d.severity === 1 || d.severity === 2);
  expect(problems.length === 0, `dockerfile-utils: ${problems.map((d) => `line ${d.range.start.line + 1}: ${d.message}`).join('; ')}`);
  const df = DockerfileParser.parse(text);
  const froms = df.getFROMs();
  expect(froms.length >= 2, 'not multi-stage');
  for (const f of froms) expect(f.getImage() === 'debian:12-slim', `stage from ${f.getImage()}, want debian:12-slim`);
  const ins = df.getInstructions();
  const kw = (i) => i.getKeyword();
  const args = (i) => i.getArguments().map((a) => a.getValue()).join(' ');
  const lastFrom = ins.lastIndexOf(ins.filter((i) => kw(i) === 'FROM').pop());
  const build = ins.slice(0, lastFrom);
  const run = ins.slice(lastFrom);
  expect(build.some((i) => kw(i) === 'RUN' && /(^|[\s;&|])make(\s|$)/.test(args(i))), 'the build stage does not run make');
  const copied = build.filter((i) => kw(i) === 'COPY').map((i) => i.getArguments()[0].getValue().replace(/\/$/, ''));
  for (const need of ['Makefile', 'src', 'proto', 'tools'])
    expect(copied.includes(need), `the build stage does not COPY ${need} (make all reads it)`);
  const users = run.filter((i) => kw(i) === 'USER');
  expect(users.length > 0, 'the runtime stage has no USER');
  const user = args(users[users.length - 1]).split(':')[0];
  expect(/^[0-9]+$/.test(user) && user !== '0', `USER ${user}: want a numeric non-root uid`);
  expect(run.some((i) => kw(i) === 'COPY' && i.getFlags().some((f) => f.getName() === 'from')), 'runtime stage copies nothing from the build stage');
  expect(!run.some((i) => kw(i) === 'RUN' && /build-essential|-dev\b/.test(args(i))), 'runtime stage installs build tools');
  const ep = run.filter((i) => kw(i) === 'ENTRYPOINT').pop();
  expect(ep && /veneur"?\s*\]?$/.test(args(ep).replace(/[\[\]",]/g, ' ').trim()), 'ENTRYPOINT is not veneur');
  // Packages the runtime stage installs: the words after "apt-get install" up to the next "&&".
  const runtimePkgs = [];
  for (const i of run.filter((x) => kw(x) === 'RUN')) {
    for (const m of args(i).matchAll(/apt-get install((?:\s+(?!&&)\S+)+)/g))
      runtimePkgs.push(...m[1].trim().split(/\s+/).filter((w) => !w.startsWith('-')));
  }
  // The copied default config must exist and is validated by the python side.
  for (const c of run.filter((i) => kw(i) === 'COPY' && !i.getFlags().length))
    expect(fs.existsSync(path.join(ROOT, c.getArguments()[0].getValue())), `COPY ${c.getArguments()[0].getValue()}: no such file`);
  return { uid: Number(user), runtimePackages: runtimePkgs, buildInputs: copied };
}

// ------------------------------------------------------------------ main

function cmdCheck() {
  let manifests = [];
  check('deploy/yaml-parses', () => {
    manifests = readManifests();
    expect(manifests.length > 0, 'no objects in deploy/kubernetes');
  });
  for (const { file, obj } of manifests) check(`deploy/schema/${file}/${objName(obj)}`, () => schemaCheck(obj));

  // The chart: defaults render to the plain manifests; every branch renders valid objects.
  let rendered = [];
  check('deploy/helm-chart-yaml', () => {
    const chart = parseAll(fs.readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8'), 'Chart.yaml')[0];
    expect(chart.apiVersion === 'v2', 'Chart.yaml apiVersion must be v2');
    expect(chart.name === 'veneur-c', 'Chart.yaml name must be veneur-c');
    expect(/^\d+\.\d+\.\d+/.test(String(chart.version)), 'Chart.yaml version must be SemVer');
    expect(chart.type === 'application', 'Chart.yaml type must be application');
  });
  check('deploy/helm-render-defaults', () => {
    rendered = renderChart();
  });
  check('deploy/helm-defaults-equal-manifests', () => {
    const plain = new Map(manifests.map(({ obj }) => [objName(obj), obj]));
    const got = new Map();
    for (const r of rendered) for (const o of r.objs) {
      expect(!got.has(objName(o)), `chart renders ${objName(o)} twice`);
      got.set(objName(o), o);
    }
    const missing = [...plain.keys()].filter((k) => !got.has(k));
    const extra = [...got.keys()].filter((k) => !plain.has(k));
    expect(!missing.length && !extra.length, `chart lacks [${missing}] / adds [${extra}]`);
    for (const [k, o] of plain) {
      const d = firstDiff(o, got.get(k));
      expect(!d, `${k} differs at ${d}`);
    }
  });
  // Every if-branch: flip each boolean value the templates test.
  for (const [label, over] of [
    ['createSecret', { datadog: { createSecret: true, apiKey: 'k' } }],
    ['app-disabled', { app: { enabled: false } }],
  ]) {
    check(`deploy/helm-render-${label}`, () => {
      const r = renderChart(over);
      const objs = r.flatMap((x) => x.objs);
      for (const o of objs) schemaCheck(o);
      if (label === 'createSecret') expect(objs.some((o) => o.kind === 'Secret'), 'no Secret rendered');
      if (label === 'app-disabled') expect(!objs.some((o) => o.metadata.name === 'heartbeat'), 'app still rendered');
    });
  }

  // Cross-object consistency.
  const objs = manifests.map((m) => m.obj);
  const services = Object.fromEntries(objs.filter((o) => o.kind === 'Service').map((o) => [o.metadata.name, o]));
  const configMaps = Object.fromEntries(objs.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
  const workloads = manifests.filter(({ obj }) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(obj.kind));
  const pods = workloads.map(({ file, obj }) => describePod(obj, configMaps, file));
  let docker = null;
  check('deploy/dockerfile', () => {
    docker = checkDockerfile();
  });
  for (const { obj } of workloads) {
    check(`deploy/selector/${obj.metadata.name}`, () => {
      const want = obj.spec.selector.matchLabels;
      const have = obj.spec.template.metadata.labels || {};
      for (const [k, v] of Object.entries(want)) expect(have[k] === v, `template lacks selector label ${k}=${v}`);
    });
    check(`deploy/self-telemetry/${obj.metadata.name}`, () => {
      // Issue 18: /metrics scraped on every pod, veneur.* sent to a pod-local statsd listener.
      const an = obj.spec.template.metadata.annotations || {};
      expect(an['prometheus.io/scrape'] === 'true', 'no prometheus.io/scrape: "true" annotation');
      expect(an['prometheus.io/path'] === '/metrics', 'prometheus.io/path is not /metrics');
      const port = Number(an['prometheus.io/port']);
      const cs = obj.spec.template.spec.containers;
      expect(cs.some((c) => (c.ports || []).some((p) => p.containerPort === port)),
        `prometheus.io/port ${an['prometheus.io/port']} is not a containerPort`);
      for (const c of cs) {
        if (!(c.args || []).some((a) => /veneur\.yaml$/.test(a))) continue; /* veneur daemons only */
        const sa = ((c.env || []).find((e) => e.name === 'VENEUR_STATSADDRESS') || {}).value;
        expect(sa && /^(127\.0\.0\.1|localhost):/.test(sa), `${c.name}: VENEUR_STATSADDRESS is not pod-local (${sa})`);
      }
    });
    check(`deploy/pod-security/${obj.metadata.name}`, () => {
      const ps = obj.spec.template.spec.securityContext || {};
      expect(ps.runAsNonRoot === true, 'runAsNonRoot is not true');
      if (docker) expect(ps.runAsUser === docker.uid, `runAsUser ${ps.runAsUser} != the image's USER ${docker.uid}`);
      for (const c of obj.spec.template.spec.containers) {
        const r = c.resources || {};
        for (const k of ['requests', 'limits']) for (const q of ['cpu', 'memory'])
          expect(r[k] && r[k][q] !== undefined, `${c.name}: no ${k}.${q}`);
        const sc = c.securityContext || {};
        expect(sc.allowPrivilegeEscalation === false, `${c.name}: allowPrivilegeEscalation is not false`);
      }
    });
  }
  for (const pod of pods) check(`deploy/pod-consistency/${pod.name}`, () => {
    const errs = checkPod(pod, services);
    expect(!errs.length, errs.join('; '));
  });
  check('deploy/sidecar-cpu-limit', () => {
    // The seed's sidecar: cpu limit 25m.
    const app = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'heartbeat');
    expect(app, 'no heartbeat Deployment');
    const sc = app.spec.template.spec.containers.find((c) => c.name === 'veneur');
    expect(sc && sc.resources.limits.cpu === '25m', 'sidecar cpu limit is not 25m');
  });
  for (const svc of Object.values(services)) check(`deploy/service/${svc.metadata.name}`, () => {
    const sel = svc.spec.selector || {};
    const targets = workloads.filter(({ obj }) =>
      Object.entries(sel).every(([k, v]) => (obj.spec.template.metadata.labels || {})[k] === v));
    expect(targets.length === 1, `selector matches ${targets.length} workloads`);
    const cs = targets[0].obj.spec.template.spec.containers;
    for (const p of svc.spec.ports) {
      const t = p.targetPort === undefined ? p.port : p.targetPort;
      const hit = cs.some((c) => (c.ports || []).some((cp) =>
        (typeof t === 'number' ? cp.containerPort === t : cp.name === t) && (cp.protocol || 'TCP') === (p.protocol || 'TCP')));
      expect(hit, `targetPort ${t} is not a containerPort of ${targets[0].obj.metadata.name}`);
    }
  });
  check('deploy/global-service-headless', () => {
    const g = services['veneur-global'];
    expect(g && g.spec.clusterIP === 'None', 'veneur-global Service is not headless (clusterIP: None)');
  });

  // The README's sidecar snippet: a valid pod spec whose veneur container is described for the runtime checks.
  check('deploy/helm-readme-snippet', () => {
    const md = fs.readFileSync(path.join(CHART_DIR, 'README.md'), 'utf8');
    const m = /```yaml\n([\s\S]*?)```/.exec(md);
    expect(m, 'no ```yaml block in the chart README');
    const snip = parseAll(m[1], 'README snippet')[0];
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'readme-snippet' }, spec: snip.spec };
    schemaCheck(pod);
    const desc = describePod(pod, configMaps, 'deploy/helm/veneur-c/README.md');
    const errs = checkPod(desc, services);
    expect(!errs.length, errs.join('; '));
    pods.push(desc);
  });
  process.stdout.write(JSON.stringify({ cases, pods, docker }) + '\n');
}

function main() {
  const cmd = process.argv[2];
  if (cmd === 'check') return cmdCheck();
  if (cmd === 'parse') {
    const text = fs.readFileSync(0, 'utf8');
    process.stdout.write(JSON.stringify(parseAll(text, 'stdin')[0] ?? null) + '\n');
    return;
  }
  if (cmd === 'render') {
    const over = {};
    for (const kv of process.argv.slice(3)) {
      const i = kv.indexOf('=');
      setPath(over, kv.slice(0, i), YAML.parse(kv.slice(i + 1)));
    }
    for (const r of renderChart(over)) process.stdout.write(`# Source: templates/${r.file}\n${r.text.replace(/^\n+/, '')}`);
    return;
  }
  process.stderr.write('usage: node validate.js check | parse < file.yaml | render [key=value ...]\n');
  process.exit(2);
}

main();
