/**
 * Run spans without the SDK: ids equal to the published message's traceparent, the attributes of
 * opentelemetry-instrumentation-celery's publish span plus tsbeat's, the times, the sink that
 * builds them off the publish path, and which environment turns export on.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/base/errors.js';
import { createLogger } from '../../src/base/log.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { randomTaskId, uuidV5 } from '../../src/celery/task-id.js';
import type { PublishedRun } from '../../src/ports/events.js';
import type { RunSpan } from '../../src/observe/run-spans.js';
import { RunSpanEvents, celeryPublishAttributes, scheduledRunSpan, traceparentIds, triggerRunSpan } from '../../src/observe/run-spans.js';
import { startTracing, tracingSettings } from '../../src/service/tracing.js';
import { ENV, config, entry } from '../support/messages.js';

const SLOT = Date.parse('2026-03-01T12:00:00Z');

function published(options: Parameters<typeof entry>[0] = {}, taskId = uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'x')) {
  const e = entry(options);
  const template = compileMessageTemplate(
    e,
    config({ taskRoutes: { 'proj.*': { exchange: 'jobs', exchangeType: 'topic', routingKey: 'work.x' } } }),
    ENV,
  );
  const message = renderTaskMessage(template, { taskId, slotMs: SLOT, nowMs: SLOT + 7 });
  const headers = JSON.parse(message.headersJson) as { traceparent: string };
  return { e, message, traceparent: headers.traceparent, run: { entry: e, slotMs: SLOT, id: taskId, destination: message.destination } };
}

describe('run spans', () => {
  it('carry the trace id and span id of the traceparent in the message the worker receives', () => {
    for (const id of [uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'slot'), randomTaskId(), 'a-custom-trigger-id']) {
      const { run, traceparent } = published({}, id);
      const span = scheduledRunSpan(run, 7, SLOT + 9) as RunSpan;
      expect(`00-${span.traceId}-${span.spanId}-01`).toBe(traceparent);
    }
  });

  it('name the entry, start when the leader woke to publish, end when the broker took it, and map attributes as the Celery instrumentation does', () => {
    const { run } = published({ name: 'nightly', task: 'proj.report' });
    const span = scheduledRunSpan(run, 7, SLOT + 9) as RunSpan;
    expect(span).toMatchObject({ name: 'beat publish nightly', startMs: SLOT + 7, endMs: SLOT + 9 });
    expect(span.attributes).toEqual({
      'celery.action': 'apply_async',
      'celery.task_name': 'proj.report',
      'messaging.message.id': run.id,
      'messaging.destination': 'work.x',
      'celery.exchange': 'jobs',
      'tsbeat.entry': 'nightly',
      'tsbeat.slot': '2026-03-01T12:00:00.000Z',
      'tsbeat.lateness_ms': 7,
      'tsbeat.trigger': false,
    });
    // The default queue through the anonymous exchange: no exchange attribute.
    expect(
      celeryPublishAttributes('t', 'i', {
        exchange: '',
        exchangeType: 'direct',
        routingKey: 'celery',
        declareQueue: 'celery',
        priority: undefined,
        matchedRoute: undefined,
      }),
    ).toEqual({
      'celery.action': 'apply_async',
      'celery.task_name': 't',
      'messaging.message.id': 'i',
      'messaging.destination': 'celery',
      'messaging.destination_kind': 'queue',
    });
  });

  it('are not made for an entry whose own headers replace the traceparent (the worker continues that one)', () => {
    const { run, traceparent } = published({
      options: { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } },
    });
    expect(traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(scheduledRunSpan(run, 0, SLOT)).toBeUndefined();
  });

  it('of a manual run take the ids from the message, as an instant when the broker took it', () => {
    const { message, traceparent } = published({ name: 'manual' }, randomTaskId());
    const span = triggerRunSpan(message, SLOT + 50) as RunSpan;
    expect(`00-${span.traceId}-${span.spanId}-01`).toBe(traceparent);
    expect(span).toMatchObject({ name: 'beat publish manual', startMs: SLOT + 50, endMs: SLOT + 50 });
    expect(span.attributes).toMatchObject({ 'tsbeat.trigger': true, 'messaging.message.id': message.id });
  });

  it('read only version-00 traceparent values', () => {
    expect(traceparentIds('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
    });
    for (const bad of ['01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-XYZ-b7ad6b7169203331-01', 7, undefined]) {
      expect(traceparentIds(bad)).toBeUndefined();
    }
  });
});

describe('the run span sink', () => {
  it('only notes runs while publishing, and hands spans to the writer a few per turn afterwards', async () => {
    const written: RunSpan[] = [];
    let now = SLOT + 100;
    const sink = new RunSpanEvents({ writer: { write: (s) => written.push(s) }, now: () => now, perTurn: 2 });
    const runs: PublishedRun[] = [];
    for (let i = 0; i < 5; i += 1) {
      const { run } = published({ name: `e${i}` }, randomTaskId());
      runs.push(run as unknown as PublishedRun);
      sink.published(run as unknown as PublishedRun, 3);
    }
    const { message } = published({ name: 'manual' }, randomTaskId());
    sink.triggerPublished(message);
    now += 1000;
    expect(written).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written.map((s) => s.name)).toEqual(['beat publish e0', 'beat publish e1']);
    // The end is when the run was reported, not when its span was made.
    expect(written[0]?.endMs).toBe(SLOT + 100);
    sink.flush();
    expect(written.map((s) => s.name)).toEqual([...runs.map((r) => `beat publish ${r.entry.name}`), 'beat publish manual']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toHaveLength(6);
  });
});

describe('trace export settings', () => {
  it('is on with an OTLP endpoint, off without one or with OTEL_SDK_DISABLED=true', () => {
    expect(tracingSettings({})).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' })).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })).toEqual({
      endpoint: 'http://c:4318/v1/traces',
      protocol: 'http/protobuf',
    });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toEqual({
      endpoint: 'http://c:4318/x',
      protocol: 'http/json',
    });
    expect(
      tracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      })?.protocol,
    ).toBe('http/protobuf');
  });

  it('refuses gRPC with a message naming the variable and the fix', () => {
    const attempt = () => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(attempt).toThrow(expect.objectContaining({ code: ErrorCode.Usage }));
    expect(attempt).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc: .*http\/protobuf .*http\/json.*4318.*4317/);
  });

  it('loads nothing of OpenTelemetry when off', async () => {
    const logger = createLogger({ level: 'silent' });
    const tracing = await startTracing({ env: {}, logger, now: Date.now, instanceId: 'i', deployment: 'd' });
    expect(tracing).toBeUndefined();
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('@opentelemetry/sdk-trace'));
    expect(loaded).toEqual([]);
  });
});
