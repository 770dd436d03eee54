// otlp_send.js - records a fixed set of measurements with the OpenTelemetry JS
// SDK (@opentelemetry/sdk-metrics) and exports them with the SDK's own OTLP
// exporter to veneur-c's OTLP listener (e2e 74).
// Usage: node otlp_send.js URL proto|grpc delta|cumulative ROUNDS
//   each round records the measurements below, then forceFlush() exports them;
//   prints "EXPORTED <round>" after each export succeeded, "DONE" at the end,
//   and exits 1 with the error when an export fails.
'use strict';
const { MeterProvider, AggregationTemporality, View, ExponentialHistogramAggregation } =
  require('@opentelemetry/sdk-metrics');
const { PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { Resource } = require('@opentelemetry/resources');

const [url, proto, temporality, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg || 1);
const opts = {
  url,
  temporalityPreference: temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
};
let exporter;
if (proto === 'grpc') {
  const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc');
  exporter = new OTLPMetricExporter(opts);
} else {
  const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-proto');
  exporter = new OTLPMetricExporter(opts);
}
// exportIntervalMillis is long on purpose: only forceFlush() exports
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
const provider = new MeterProvider({
  resource: new Resource({ 'service.name': 'e2e74', 'host.name': 'nodehost' }),
  readers: [reader],
  views: [new View({ instrumentName: 'otel.exp', aggregation: new ExponentialHistogramAggregation(160) })],
});
const meter = provider.getMeter('e2e74');
const requests = meter.createCounter('otel.requests');
const inflight = meter.createUpDownCounter('otel.inflight');
const latency = meter.createHistogram('otel.latency');
const exp = meter.createHistogram('otel.exp');
const temp = meter.createGauge('otel.temp');

(async () => {
  for (let r = 1; r <= rounds; r++) {
    requests.add(3, { route: 'home', 'http.code': 200 });
    requests.add(4, { route: 'home', 'http.code': 200 });
    inflight.add(5, { pool: 'a' });
    inflight.add(-7, { pool: 'a' });
    for (const v of [10, 20, 30, 1000]) latency.record(v, { svc: 'api' });
    for (const v of [1, 2, 4, 100]) exp.record(v, { svc: 'api' });
    temp.record(21.5 + r, { room: 'lab' });
    await provider.forceFlush();
    process.stdout.write('EXPORTED ' + r + '\n');
  }
  await provider.shutdown();
  process.stdout.write('DONE\n');
})().catch((e) => {
  process.stdout.write('ERROR ' + (e && e.stack ? e.stack : String(e)) + '\n');
  process.exit(1);
});
