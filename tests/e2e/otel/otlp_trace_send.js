// otlp_trace_send.js - makes a parent and a child span with the OpenTelemetry JS
// SDK (@opentelemetry/sdk-trace-base) and exports them with the SDK's own OTLP
// trace exporter to veneur-c's OTLP listener (e2e 75).
// Usage: node otlp_trace_send.js URL proto|grpc TAG
//   TAG goes into the span names, so two runs against one veneur can be told apart.
//   Prints one JSON line per span as the SDK exported it (ids in hex, times in ns),
//   then "DONE"; exits 1 with the error when the export fails.
'use strict';
const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');
const { Resource } = require('@opentelemetry/resources');
const api = require('@opentelemetry/api');

const [url, proto, tag] = process.argv.slice(2);
let exporter;
if (proto === 'grpc') {
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
  exporter = new OTLPTraceExporter({ url });
} else {
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
  exporter = new OTLPTraceExporter({ url });
}
const memory = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: new Resource({ 'service.name': 'e2e75', 'host.name': 'nodehost', env: 'resource-env' }),
});
// the spans are collected in memory, then handed to the OTLP exporter in one export call,
// so its result (success or the error) is what this script reports
provider.addSpanProcessor(new SimpleSpanProcessor(memory));
const tracer = provider.getTracer('e2e75');

const parent = tracer.startSpan('parent.' + tag, {
  startTime: [1700000000, 123456789],
  attributes: { 'http.route': '/home', retries: 3, ratio: 0.5, ok: true, list: ['a', 'b'], env: 'span-env' },
});
const ctx = api.trace.setSpan(api.context.active(), parent);
const child = tracer.startSpan('child.' + tag, { startTime: [1700000000, 200000000], attributes: { db: 'orders' } },
  ctx);
child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'boom' });
child.end([1700000000, 300000001]);
parent.setStatus({ code: api.SpanStatusCode.OK });
parent.end([1700000001, 5]);

const ns = (t) => (BigInt(t[0]) * 1000000000n + BigInt(t[1])).toString();
(async () => {
  const spans = memory.getFinishedSpans();
  const result = await new Promise((resolve) => exporter.export(spans, resolve));
  if (result.code !== 0) throw result.error || new Error('export failed: ' + result.code);
  for (const s of spans) {
    console.log(JSON.stringify({
      name: s.name, trace_id: s.spanContext().traceId, id: s.spanContext().spanId,
      parent_id: s.parentSpanId || '', start: ns(s.startTime), end: ns(s.endTime),
    }));
  }
  await exporter.shutdown();
  await provider.shutdown();
  console.log('DONE');
})().catch((e) => { console.error('ERROR', e); process.exit(1); });
