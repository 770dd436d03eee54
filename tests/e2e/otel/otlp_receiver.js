// otlp_receiver.js - an OTLP/HTTP metrics receiver for e2e 73: decodes each
// POST /v1/metrics body with the OpenTelemetry JS SDK's own message classes
// (@opentelemetry/otlp-transformer's generated protobuf root) and prints one
// JSON line per request: {"path", "headers", "request"} with the request as
// protobufjs toObject (longs as strings, enums as names, oneofs kept).
// Usage: [PORT=n] [GRPC=1] node otlp_receiver.js  -> first line "LISTEN <port>"
// (127.0.0.1; an ephemeral port unless PORT is set). GRPC=1 serves OTLP/gRPC
// (MetricsService/Export, h2c, @grpc/grpc-js) instead; its lines carry the
// call's metadata as "headers" and path "grpc"; GRPC_FAIL=n answers the first
// n calls UNAVAILABLE. TLS=DIR serves TLS (both protocols) with DIR/server.pem and
// DIR/server.key (vn-testcerts' files); MTLS=1 also demands a client certificate
// signed by DIR/ca.pem.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const zlib = require('zlib');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const svc = root.opentelemetry.proto.collector.metrics.v1;
const Req = svc.ExportMetricsServiceRequest;
const Resp = svc.ExportMetricsServiceResponse;
const tlsDir = process.env.TLS;
const pem = (f) => fs.readFileSync(path.join(tlsDir, f));

if (process.env.GRPC) {
  const grpc = require('@grpc/grpc-js');
  let failLeft = Number(process.env.GRPC_FAIL || 0);
  const gserver = new grpc.Server();
  gserver.addService({
    Export: {
      path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (m) => Buffer.from(Req.encode(m).finish()),
      requestDeserialize: (b) => Req.decode(b),
      responseSerialize: (m) => Buffer.from(Resp.encode(m).finish()),
      responseDeserialize: (b) => Resp.decode(b),
    },
  }, {
    Export: (call, cb) => {
      if (failLeft > 0) {
        failLeft--;
        process.stdout.write(JSON.stringify({ path: 'grpc', failed: true }) + '\n');
        cb({ code: grpc.status.UNAVAILABLE, details: 'try later' });
        return;
      }
      const out = { path: 'grpc', headers: call.metadata.getMap(),
        request: Req.toObject(call.request, { longs: String, enums: String, oneofs: true, defaults: false }) };
      process.stdout.write(JSON.stringify(out) + '\n');
      cb(null, Resp.create({}));
    },
  });
  const creds = tlsDir
    ? grpc.ServerCredentials.createSsl(process.env.MTLS ? pem('ca.pem') : null,
      [{ cert_chain: pem('server.pem'), private_key: pem('server.key') }], !!process.env.MTLS)
    : grpc.ServerCredentials.createInsecure();
  gserver.bindAsync('127.0.0.1:' + Number(process.env.PORT || 0), creds,
    (err, port) => {
      if (err) throw err;
      process.stdout.write('LISTEN ' + port + '\n');
    });
  process.on('SIGTERM', () => process.exit(0));
  return;
}

const handler = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const out = { path: req.url, headers: req.headers };
    try {
      if ((req.headers['content-encoding'] || '') === 'gzip') body = zlib.gunzipSync(body);
      const msg = Req.decode(body);
      out.request = Req.toObject(msg, { longs: String, enums: String, oneofs: true, defaults: false });
    } catch (e) {
      out.error = String(e);
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    if (out.error) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end(out.error);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
    res.end(Buffer.from(Resp.encode(Resp.create({})).finish()));
  });
};
const server = tlsDir
  ? https.createServer({ key: pem('server.key'), cert: pem('server.pem'), ca: process.env.MTLS ? pem('ca.pem') : undefined,
    requestCert: !!process.env.MTLS, rejectUnauthorized: !!process.env.MTLS }, handler)
  : http.createServer(handler);
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write('LISTEN ' + server.address().port + '\n');
});
process.on('SIGTERM', () => process.exit(0));
