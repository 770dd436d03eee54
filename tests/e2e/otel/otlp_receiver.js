// otlp_receiver.js - an OTLP/HTTP metrics receiver for e2e 73: decodes each
// POST /v1/metrics body with the OpenTelemetry JS SDK's own message classes
// (@opentelemetry/otlp-transformer's generated protobuf root) and prints one
// JSON line per request: {"path", "headers", "request"} with the request as
// protobufjs toObject (longs as strings, enums as names, oneofs kept).
// Usage: [PORT=n] node otlp_receiver.js  -> first line "LISTEN <port>" (127.0.0.1;
// an ephemeral port unless PORT is set).
'use strict';
const http = require('http');
const zlib = require('zlib');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const svc = root.opentelemetry.proto.collector.metrics.v1;
const Req = svc.ExportMetricsServiceRequest;
const Resp = svc.ExportMetricsServiceResponse;

const server = http.createServer((req, res) => {
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
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write('LISTEN ' + server.address().port + '\n');
});
process.on('SIGTERM', () => process.exit(0));
