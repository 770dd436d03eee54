// grpc_raw.js - records and replays forwardrpc.Forward/SendMetricsV2 streams as
// raw protobuf message bytes, with @grpc/grpc-js and no schema: the bytes are
// never decoded here, so a fixture holds exactly what the sender put on the
// wire (tests/data/go-forward/README.md).
//
// Stream file format (*.bin): for each message in stream order, a 4-byte
// big-endian length followed by that many bytes of one metricpb.Metric.
//
//   node grpc_raw.js record OUT_PREFIX
//       Serves forwardrpc.Forward on 127.0.0.1 (ephemeral port; prints
//       "PORT <n>" once bound). Each SendMetricsV2 call is written, when its
//       client half-closes, to OUT_PREFIX-<call#>.bin and announced as
//       "CALL <call#> <messages> <bytes>" on stdout; the call is answered
//       with an empty google.protobuf.Empty. SendMetrics (unary V1) is
//       refused with UNIMPLEMENTED so a sender using it is noticed. Runs
//       until SIGTERM.
//
//   node grpc_raw.js replay HOST:PORT FILE.bin [FILE.bin ...]
//       Opens one SendMetricsV2 stream per file, all at once, writes every
//       message of its file, half-closes, and prints one JSON line:
//       {"FILE.bin": {"code": 0, "details": "", "messages": n}, ...}.
//       Exit status 0 when every stream ended with code 0.
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');

const V2 = '/forwardrpc.Forward/SendMetricsV2';
const V1 = '/forwardrpc.Forward/SendMetrics';
const raw = (b) => b;
const empty = () => Buffer.alloc(0);

function readStream(file) {
  const buf = fs.readFileSync(file);
  const msgs = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 4 > buf.length) throw new Error(file + ': truncated length at ' + off);
    const n = buf.readUInt32BE(off);
    off += 4;
    if (off + n > buf.length) throw new Error(file + ': truncated message at ' + off);
    msgs.push(buf.subarray(off, off + n));
    off += n;
  }
  return msgs;
}

function writeStream(file, msgs) {
  const parts = [];
  for (const m of msgs) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(m.length, 0);
    parts.push(len, m);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

function record(prefix) {
  let calls = 0;
  const server = new grpc.Server();
  server.addService({
    SendMetricsV2: {
      path: V2, requestStream: true, responseStream: false,
      requestDeserialize: raw, responseSerialize: empty,
    },
    SendMetrics: {
      path: V1, requestStream: false, responseStream: false,
      requestDeserialize: raw, responseSerialize: empty,
    },
  }, {
    SendMetricsV2(call, callback) {
      const msgs = [];
      call.on('data', (m) => msgs.push(Buffer.from(m)));
      call.on('end', () => {
        const n = ++calls;
        writeStream(prefix + '-' + n + '.bin', msgs);
        const bytes = msgs.reduce((s, m) => s + m.length, 0);
        process.stdout.write('CALL ' + n + ' ' + msgs.length + ' ' + bytes + '\n');
        callback(null, {});
      });
      call.on('error', () => {});
    },
    SendMetrics(call, callback) {
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'recorder takes SendMetricsV2 only' });
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(String(err) + '\n');
      process.exit(1);
    }
    process.stdout.write('PORT ' + port + '\n');
  });
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

function replay(addr, files) {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure());
  const out = {};
  const calls = files.map((file) => new Promise((resolve) => {
    const msgs = readStream(file);
    const deadline = new Date(Date.now() + 20000);
    const stream = client.makeClientStreamRequest(V2, raw, raw, { deadline }, (err) => {
      out[file] = err ? { code: err.code, details: err.details, messages: msgs.length }
        : { code: 0, details: '', messages: msgs.length };
      resolve();
    });
    for (const m of msgs) stream.write(m);
    stream.end();
  }));
  Promise.all(calls).then(() => {
    client.close();
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(Object.values(out).every((r) => r.code === 0) ? 0 : 1);
  });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'record' && args.length === 1) {
  record(args[0]);
} else if (mode === 'replay' && args.length >= 2) {
  replay(args[0], args.slice(1));
} else {
  process.stderr.write('usage: grpc_raw.js record OUT_PREFIX | replay HOST:PORT FILE.bin...\n');
  process.exit(2);
}
