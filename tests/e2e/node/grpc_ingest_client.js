// grpc_ingest_client.js - an independent client of veneur's gRPC ingest
// (grpc_listen_addresses, issue 21), built on @grpc/grpc-js and
// @grpc/proto-loader, so neither HTTP/2 nor protobuf comes from our own code.
// It loads proto/dogstatsd_grpc.proto, proto/ssf_grpc.proto and
// proto/health.proto (Go Veneur's packages, services and field numbers).
//
//   node grpc_ingest_client.js HOST:PORT CALLS_JSON [CA.pem CERT.pem KEY.pem]
//
// With the PEM files the channel is TLS (CA.pem must sign the server; CERT/KEY are the client
// certificate, or "-" for none).
//
// CALLS_JSON is a JSON array of calls, made one after the other on one channel:
//   {"packet": "line\nline"}     DogstatsdGRPC/SendPacket
//   {"span": {...SSFSpan...}}    SSFGRPC/SendSpan (keepCase field names; int64 as strings)
//   {"health": "service"}        grpc.health.v1.Health/Check
//   {"raw": "/pkg.Svc/Method", "hex": "0a01"}  a unary call with these request bytes
// Prints one JSON line: an array of {"code", "details", "response"} in call order.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');
const def = protoLoader.loadSync(['dogstatsd_grpc.proto', 'ssf_grpc.proto', 'health.proto'], {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
});
const pkg = grpc.loadPackageDefinition(def);

function main() {
  const addr = process.argv[2];
  const calls = JSON.parse(process.argv[3]);
  const tls = process.argv.slice(4);
  const pem = (f) => (f && f !== '-' ? fs.readFileSync(f) : null);
  const creds = tls.length ? grpc.credentials.createSsl(pem(tls[0]), pem(tls[2]), pem(tls[1]))
    : grpc.credentials.createInsecure();
  const dogstatsd = new pkg.dogstatsd.DogstatsdGRPC(addr, creds);
  const channel = dogstatsd.getChannel();
  const ssf = new pkg.ssf.SSFGRPC(addr, creds, { channelOverride: channel });
  const health = new pkg.grpc.health.v1.Health(addr, creds, { channelOverride: channel });
  const raw = new grpc.Client(addr, creds, { channelOverride: channel });
  const out = [];
  const deadline = () => ({ deadline: new Date(Date.now() + 10000) });
  const one = (i) => {
    if (i >= calls.length) {
      process.stdout.write(JSON.stringify(out) + '\n');
      dogstatsd.close();
      return;
    }
    const c = calls[i];
    const done = (err, resp) => {
      out.push(err ? { code: err.code, details: err.details, response: null }
        : { code: 0, details: '', response: resp === undefined ? null : resp });
      one(i + 1);
    };
    if ('packet' in c) {
      dogstatsd.SendPacket({ packetBytes: Buffer.from(c.packet) }, deadline(), done);
    } else if ('span' in c) {
      ssf.SendSpan(c.span, deadline(), done);
    } else if ('health' in c) {
      health.Check({ service: c.health }, deadline(), done);
    } else if ('raw' in c) {
      raw.makeUnaryRequest(c.raw, (b) => b, (b) => b.toString('hex'), Buffer.from(c.hex, 'hex'), deadline(), done);
    } else {
      throw new Error('unknown call ' + JSON.stringify(c));
    }
  };
  one(0);
}

main();
