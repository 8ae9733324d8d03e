/**
 * OTLP trace export by `beat run` (the built CLI as a process, a private redis-server) to a
 * loopback HTTP server standing in for an OpenTelemetry collector: a span per published run,
 * scheduled and manual, whose trace id and span id are those of the `traceparent` in the message
 * the broker holds (read back from Redis: the oracle), with the resource, headers and protocol
 * the OTEL_* variables ask for; flushed on SIGTERM. Without the variables, no OpenTelemetry module
 * is loaded (a --require hook lists the loaded modules at exit).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

interface Received {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** An OTLP/HTTP collector that keeps what it is sent and answers success. */
class Collector {
  readonly received: Received[] = [];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        if (req.url === '/refuse') {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end('no thanks');
          return;
        }
        const json = (req.headers['content-type'] ?? '').includes('json');
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
        // An empty ExportTraceServiceResponse: everything accepted.
        res.end(json ? '{}' : '');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

interface OtlpJson {
  resourceSpans: {
    resource: { attributes: { key: string; value: Record<string, unknown> }[] };
    scopeSpans: { scope: { name: string }; spans: OtlpJsonSpan[] }[];
  }[];
}

/** An OTLP attribute's value, whatever its kind (stringValue, intValue, boolValue…). */
const valueOf = (attributes: OtlpJsonSpan['attributes'], key: string): unknown => {
  const found = attributes.find((a) => a.key === key)?.value;
  return found === undefined ? undefined : Object.values(found)[0];
};

/** The runs in a broker queue with the traceparent their headers carry. */
async function queuedTraceparents(redis: Redis, queue = 'celery'): Promise<{ id: string; entry: string; traceparent: string }[]> {
  const raw = await redis.lrange(queue, 0, -1);
  return raw.map((text) => {
    const headers = (JSON.parse(text) as { headers: { id: string; beat_entry: string; traceparent: string } }).headers;
    return { id: headers.id, entry: headers.beat_entry, traceparent: headers.traceparent };
  });
}

const OTEL_MODULE = /[\\/]node_modules[\\/]@opentelemetry[\\/]/;

describe('OTLP export of a span per run', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const collector = new Collector();
  let redis: PrivateRedis;
  let endpoint: string;
  let hook: string;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    endpoint = await collector.start();
    // Lists the modules the process loaded, when it exits (the CLI's bundle requires through the
    // same module cache).
    hook = dir.write(
      'list-modules.cjs',
      "process.on('exit', () => require('node:fs').writeFileSync(process.env.TSBEAT_TEST_MODULES, JSON.stringify(Object.keys(require.cache))));\n",
    );
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await collector.stop();
    await redis?.stop();
    dir.remove();
  });

  /** Runs `beat run` on DB `db` until `until` holds, then stops it with SIGTERM; returns the process and the modules it loaded. */
  async function runBeat(db: number, env: NodeJS.ProcessEnv, until: (beat: BeatProcess, file: string) => Promise<void>) {
    const name = uniqueName('otel');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(db) },
      lock: FAST_LOCK,
      beatSchedule: {
        tick: { task: 'proj.tick', schedule: 1 },
        routed: { task: 'proj.routed', schedule: 1, options: { queue: 'other' } },
        manual: { task: 'proj.manual', schedule: 3600 },
      },
    });
    const modules = dir.write(`${name}.modules.json`, '[]');
    const beat = fleet.spawn({
      config: file,
      env: { ...env, NODE_OPTIONS: `--require ${hook}`, TSBEAT_TEST_MODULES: modules },
    });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    await until(beat, file);
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(15_000)).toEqual({ code: 0, signal: null });
    return { beat, loaded: (JSON.parse(readFileSync(modules, 'utf8')) as string[]).filter((path) => OTEL_MODULE.test(path)) };
  }

  it('exports (http/json) a span per scheduled and manual run, with the ids of the traceparent the message carries', async () => {
    const db = 1;
    const client = redis.client(db);
    try {
      const before = collector.received.length;
      const { beat, loaded } = await runBeat(
        db,
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=s3cret',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci,team=sched',
          OTEL_BSP_SCHEDULE_DELAY: '200',
        },
        async (running, file) => {
          // Two rounds of the 1 s entries, and a manual run.
          await waitUntil(
            '4 scheduled runs',
            () => (running.events(EVENTS.fire).length >= 4 ? true : undefined),
            15_000,
            () => running.tail(),
          );
          const trigger = await runBeatCli(['trigger', 'manual', '--config', file]);
          expect(trigger.code).toBe(0);
          await waitUntil(
            'a span export before the stop',
            () => (collector.received.length > before ? true : undefined),
            10_000,
            () => running.tail(),
          );
          await waitUntil(
            'the manual run',
            async () => ((await queuedTraceparents(client)).some((r) => r.entry === 'manual') ? true : undefined),
            10_000,
          );
        },
      );
      expect(beat.events(EVENTS.tracingStart)[0]).toMatchObject({ protocol: 'http/json', endpoint: `${endpoint}/v1/traces` });
      expect(loaded.length).toBeGreaterThan(0);

      const requests = collector.received.slice(before);
      for (const r of requests) {
        expect(r.path).toBe('/v1/traces');
        expect(r.headers['content-type']).toMatch(/^application\/json/);
        expect(r.headers['x-collector-token']).toBe('s3cret');
      }
      const batches = requests.map((r) => JSON.parse(r.body.toString('utf8')) as OtlpJson);
      const resources = batches.flatMap((b) => b.resourceSpans.map((rs) => rs.resource.attributes));
      for (const attributes of resources) {
        expect(valueOf(attributes, 'service.name')).toBe('tsbeat');
        expect(valueOf(attributes, 'deployment.environment')).toBe('ci');
        expect(valueOf(attributes, 'team')).toBe('sched');
      }
      const spans = batches.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));

      // The oracle: every message the broker holds, each with one span of its ids.
      const queued = [...(await queuedTraceparents(client)), ...(await queuedTraceparents(client, 'other'))];
      const published = beat.events(EVENTS.fire).map((l) => l['id'] as string);
      expect(queued.length).toBeGreaterThanOrEqual(3);
      expect(spans.length).toBe(published.length + 1);
      for (const run of queued) {
        const [, traceId, spanId] = run.traceparent.split('-');
        const matching = spans.filter((s) => s.traceId === traceId && s.spanId === spanId);
        expect(matching, `span of ${run.entry} ${run.id}`).toHaveLength(1);
        const span = matching[0] as OtlpJsonSpan;
        expect(span.parentSpanId ?? '').toBe('');
        expect(span.name).toBe(`beat publish ${run.entry}`);
        // SPAN_KIND_PRODUCER
        expect(span.kind).toBe(4);
        expect(valueOf(span.attributes, 'messaging.message.id')).toBe(run.id);
        expect(valueOf(span.attributes, 'celery.task_name')).toBe(`proj.${run.entry}`);
        expect(valueOf(span.attributes, 'messaging.destination')).toBe(run.entry === 'routed' ? 'other' : 'celery');
        expect(valueOf(span.attributes, 'tsbeat.trigger')).toBe(run.entry === 'manual');
        expect(BigInt(span.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(span.startTimeUnixNano));
      }
      expect(queued.filter((r) => r.entry === 'routed').length).toBeGreaterThanOrEqual(2);
    } finally {
      client.disconnect();
    }
  });

  it('exports http/protobuf by default: the ids arrive as their bytes', async () => {
    const db = 2;
    const client = redis.client(db);
    try {
      const before = collector.received.length;
      await runBeat(
        db,
        { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/custom/traces`, OTEL_BSP_SCHEDULE_DELAY: '200' },
        async (running) => {
          await waitUntil(
            '2 scheduled runs',
            () => (running.events(EVENTS.fire).length >= 2 ? true : undefined),
            15_000,
            () => running.tail(),
          );
        },
      );
      const requests = collector.received.slice(before);
      expect(requests.length).toBeGreaterThan(0);
      for (const r of requests) {
        expect(r.path).toBe('/custom/traces');
        expect(r.headers['content-type']).toBe('application/x-protobuf');
      }
      const body = Buffer.concat(requests.map((r) => r.body));
      const queued = await queuedTraceparents(client);
      expect(queued.length).toBeGreaterThan(0);
      for (const run of queued) {
        const [, traceId, spanId] = run.traceparent.split('-') as [string, string, string];
        // OTLP protobuf: trace_id (16 bytes) and span_id (8 bytes) as length-delimited fields 1 and 2.
        expect(
          body.includes(
            Buffer.concat([Buffer.from([0x0a, 16]), Buffer.from(traceId, 'hex'), Buffer.from([0x12, 8]), Buffer.from(spanId, 'hex')]),
          ),
        ).toBe(true);
        expect(body.includes(Buffer.from(`beat publish ${run.entry}`))).toBe(true);
      }
    } finally {
      client.disconnect();
    }
  });

  it('loads no OpenTelemetry module without an OTLP endpoint (or with OTEL_SDK_DISABLED=true)', async () => {
    for (const [db, env] of [
      [3, {}],
      [4, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'true' }],
    ] as const) {
      const before = collector.received.length;
      const { beat, loaded } = await runBeat(db, env, async (running) => {
        await waitUntil(
          'a scheduled run',
          () => (running.events(EVENTS.fire).length >= 1 ? true : undefined),
          15_000,
          () => running.tail(),
        );
      });
      expect(beat.events(EVENTS.tracingStart)).toEqual([]);
      expect(loaded).toEqual([]);
      expect(collector.received.length).toBe(before);
    }
  });

  it('logs a collector that refuses, once, and goes on publishing', async () => {
    const { beat } = await runBeat(
      6,
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/refuse`, OTEL_BSP_SCHEDULE_DELAY: '100' },
      async (running) => {
        await running.waitForEvent(EVENTS.tracingWarning, 15_000);
        const fired = running.events(EVENTS.fire).length;
        await waitUntil(
          '4 more runs',
          () => (running.events(EVENTS.fire).length >= fired + 4 ? true : undefined),
          15_000,
          () => running.tail(),
        );
      },
    );
    const warnings = beat.events(EVENTS.tracingWarning);
    // Several batches were refused (one per round of runs); one line says so within the minute.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/^OpenTelemetry export: .*400/);
    expect(collector.received.filter((r) => r.path === '/refuse').length).toBeGreaterThan(1);
  });

  it('refuses gRPC at start (exit 2), naming the variable', async () => {
    const name = uniqueName('otel');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(5) },
      beatSchedule: { tick: { task: 'proj.tick', schedule: 1 } },
    });
    const beat = fleet.spawn({
      config: file,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
    });
    expect(await beat.waitForExit(15_000)).toEqual({ code: 2, signal: null });
    expect(beat.allOutput()).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc: tsbeat exports traces over OTLP\/HTTP only/);
  });
});
