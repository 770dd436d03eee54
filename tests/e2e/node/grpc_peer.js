// grpc_peer.js - an independent gRPC peer for veneur-c's forwarding tests,
// built on @grpc/grpc-js and @grpc/proto-loader (protobufjs underneath), so
// neither HTTP/2 nor protobuf comes from our own code. It loads the schemas in
// proto/ (same packages, fields and paths as Go Veneur's).
//
//   node grpc_peer.js client HOST:PORT [CA.pem [CERT.pem KEY.pem]]
//       With CA.pem: over TLS, trusting CA.pem, presenting CERT.pem when given.
//       Calls our global (or proxy): SendMetrics (unary MetricList), SendMetricsV2
//       (client stream) and SendMetricsV2 with a Local-scope metric. Prints
//       one JSON object: {"unary": {...}, "v2": {...}, "local": {...}} with
//       the gRPC status code and details of each call.
//
//   node grpc_peer.js server OUT.jsonl [CA.pem CERT.pem KEY.pem]
//       Serves forwardrpc.Forward on 127.0.0.1 (ephemeral port; prints
//       "PORT <n>" on stdout once bound) and appends every metric it receives
//       to OUT.jsonl as JSON (longs as strings, enums as names, bytes as
//       base64), with "_method" naming the call. Runs until SIGTERM. With
//       the three PEM files it serves TLS and requires a client certificate
//       signed by CA.pem (what the `tls` block of a local presents).
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');
const def = protoLoader.loadSync('forward.proto', {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String, // base64
  defaults: true,
  oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def);
const Forward = pkg.forwardrpc.Forward;

// HLL MarshalBinary of a precision-14 sketch holding the member "foo" (docs/behaviour.md W7).
const HLL_FOO = Buffer.from('010e00010000000102c512b6000000000000000000000000', 'hex');

function digestOf(values) {
  const c = values.map((v) => ({ mean: v, weight: 1 }));
  return {
    main_centroids: c,
    compression: 100,
    min: Math.min(...values),
    max: Math.max(...values),
    reciprocalSum: values.reduce((s, v) => s + 1 / v, 0),
  };
}

function client(addr, tlsFiles) {
  const creds = tlsFiles.length
    ? grpc.credentials.createSsl(fs.readFileSync(tlsFiles[0]),
      tlsFiles.length === 3 ? fs.readFileSync(tlsFiles[2]) : null,
      tlsFiles.length === 3 ? fs.readFileSync(tlsFiles[1]) : null)
    : grpc.credentials.createInsecure();
  const cli = new Forward(addr, creds);
  const deadline = () => new Date(Date.now() + 5000);
  const out = {};
  const done = (key) => (err) => {
    out[key] = err ? { code: err.code, details: err.details } : { code: 0, details: '' };
  };
  const unary = new Promise((resolve) => {
    cli.SendMetrics(
      {
        metrics: [
          { name: 'node.unary.counter', tags: ['via:unary'], type: 'Counter', counter: { value: 4 }, scope: 'Global' },
          { name: 'node.unary.counter', tags: ['via:unary'], type: 'Counter', counter: { value: 6 }, scope: 'Mixed' },
        ],
      },
      { deadline: deadline() },
      (err) => {
        done('unary')(err);
        resolve();
      },
    );
  });
  const v2 = new Promise((resolve) => {
    const call = cli.SendMetricsV2({ deadline: deadline() }, (err) => {
      done('v2')(err);
      resolve();
    });
    call.write({ name: 'node.v2.gauge', tags: ['b:2', 'a:1'], type: 'Gauge', gauge: { value: 2.5 }, scope: 'Global' });
    call.write({
      name: 'node.v2.hist',
      tags: [],
      type: 'Histogram',
      histogram: { t_digest: digestOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) },
      scope: 'Mixed',
    });
    call.write({
      name: 'node.v2.timer',
      tags: [],
      type: 'Timer',
      histogram: { t_digest: digestOf([100, 200]) },
      scope: 'Global',
    });
    call.write({ name: 'node.v2.set', tags: [], type: 'Set', set: { hyper_log_log: HLL_FOO }, scope: 'Mixed' });
    call.end();
  });
  const local = new Promise((resolve) => {
    const call = cli.SendMetricsV2({ deadline: deadline() }, (err) => {
      done('local')(err);
      resolve();
    });
    call.write({ name: 'node.local', tags: [], type: 'Counter', counter: { value: 1 }, scope: 'Local' });
    call.write({ name: 'node.after.local', tags: [], type: 'Counter', counter: { value: 9 }, scope: 'Global' });
    call.end();
  });
  Promise.all([unary, v2, local]).then(() => {
    process.stdout.write(JSON.stringify(out) + '\n');
    cli.close();
  });
}

function server(outPath, tlsFiles) {
  const out = fs.openSync(outPath, 'a');
  const record = (method, m) => fs.writeSync(out, JSON.stringify(Object.assign({ _method: method }, m)) + '\n');
  const srv = new grpc.Server();
  srv.addService(Forward.service, {
    SendMetrics: (call, cb) => {
      for (const m of call.request.metrics) record('SendMetrics', m);
      cb(null, {});
    },
    SendMetricsV2: (call, cb) => {
      call.on('data', (m) => record('SendMetricsV2', m));
      call.on('end', () => cb(null, {}));
      call.on('error', () => {});
    },
  });
  const creds = tlsFiles.length === 3
    ? grpc.ServerCredentials.createSsl(fs.readFileSync(tlsFiles[0]),
      [{ cert_chain: fs.readFileSync(tlsFiles[1]), private_key: fs.readFileSync(tlsFiles[2]) }], true)
    : grpc.ServerCredentials.createInsecure();
  srv.bindAsync('127.0.0.1:0', creds, (err, port) => {
    if (err) {
      process.stderr.write('bind failed: ' + err.message + '\n');
      process.exit(1);
    }
    process.stdout.write('PORT ' + port + '\n');
  });
  const stop = () => srv.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const [mode, arg, ...rest] = process.argv.slice(2);
if (mode === 'client' && arg && [0, 1, 3].includes(rest.length)) client(arg, rest);
else if (mode === 'server' && arg && (rest.length === 0 || rest.length === 3)) server(arg, rest);
else {
  process.stderr.write('usage: grpc_peer.js client HOST:PORT [CA [CERT KEY]] | server OUT.jsonl [CA CERT KEY]\n');
  process.exit(2);
}
