/**
 * tsbeat's messages, run by a real Celery worker (Debian python3-celery) on the local Redis.
 * Redis DBs reserved for this file: 2 (broker), 3 (results), 4 (golden comparison with beat).
 * Every message goes out as `beat run` sends it: the fenced dispatcher of createPublishing, under
 * a fence token won with the lock (test/support/leading-publisher.ts).
 * Each task records what it received into its result; the tests read that back.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMessageTemplate, makeOrigin, renderTaskMessage, runMessages } from '../../src/celery/message.js';
import type { MessageEnv } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { canvasOutcomeParts, canvasPartId } from '../../src/celery/canvas.js';
import { OutcomeTracker } from '../../src/outcomes/tracker.js';
import type { RunRecord } from '../../src/ports/outcomes.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisResultReader } from '../../src/redis/result-backend.js';
import { RedisRunHistory } from '../../src/redis/run-history-store.js';
import { parseConfig } from '../../src/config/load.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { OptionsInput, TaskRoutesInput, TransportOptionsInput } from '../../src/config/options-schema.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { createLogger } from '../../src/base/log.js';
import { kombuKeyOptions, queueListKey } from '../../src/kombu/keys.js';
import type { DueRun } from '../../src/ports/dispatcher.js';
import { resultKey } from '../support/celery.js';
import { pythonCelery, startBeat, startWorker, stopAll, versionAtLeast, waitFor, waitForResult } from '../support/celery.js';
import type { CeleryProcess, TaskResult } from '../support/celery.js';
import { compareWithBeat } from '../support/golden.js';
import type { Envelope } from '../support/golden.js';
import { leadingPublisher } from '../support/leading-publisher.js';
import type { LeadingPublisher } from '../support/leading-publisher.js';
import { config, entry } from '../support/messages.js';

const BROKER_DB = 2;
const RESULT_DB = 3;
const GOLDEN_DB = 4;
const url = (db: number) => `redis://127.0.0.1:6379/${db}`;
const PREFIX = 'tsbeat-pfx:';
/** The deployment whose lock and fence the main publisher wins on the broker's Redis (DB 2). */
const DEPLOYMENT = 'celery-test';
/** A config of tsbeat publishing to `url` (the state and the fence on the broker's own Redis, as in production). */
const deployment = (name: string, url: string, transportOptions: TransportOptionsInput = {}, resultBackend?: string) =>
  parseConfig({ name, broker: { url, transportOptions }, ...(resultBackend === undefined ? {} : { resultBackend }) }, 'celery-worker.test');
/** What the config loader resolves for an entry, apart from the fields each test gives (entry() in render). */
const RESOLVED = parseConfig({ beatSchedule: { shell: { task: 'tsbeat_test.record', schedule: 60 } } }, 'celery-worker.test')
  .entries[0] as ResolvedEntry;
const celery = pythonCelery();
// In CI the suite must run: a missing Celery fails it (in beforeAll) instead of skipping it.
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface Recorded {
  args: unknown[];
  kwargs: Record<string, unknown>;
  request: Record<string, unknown> & { delivery_info: Record<string, unknown>; hostname: string };
}

suite(`messages run by a real Celery worker${celery.ok ? ` (celery ${celery.version})` : ` (skipped: ${celery.problem})`}`, () => {
  const env: MessageEnv = { origin: makeOrigin(process.pid, hostname()), replyTo: randomUUID() };
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
  let broker: Redis;
  let results: Redis;
  let publisher: LeadingPublisher;
  let main: CeleryProcess | undefined;
  let soft: CeleryProcess | undefined;
  let prefixed: CeleryProcess | undefined;
  const extra: CeleryProcess[] = [];
  const workers = () => [main, soft, prefixed, ...extra].filter((w): w is CeleryProcess => w !== undefined);

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    broker = new Redis(url(BROKER_DB));
    results = new Redis(url(RESULT_DB));
    await Promise.all([broker.flushdb(), results.flushdb(), new Redis(url(GOLDEN_DB)).flushdb()]);
    // The result backend's Redis takes a chord run's size (docs/canvas.md).
    publisher = await leadingPublisher(deployment(DEPLOYMENT, url(BROKER_DB), {}, url(RESULT_DB)), logger);
    const backend = url(RESULT_DB);
    [main, soft, prefixed] = await Promise.all([
      startWorker({
        name: 'main',
        // tsbeat-prefixed is consumed here without the prefix: a message that missed the prefix would run here.
        queues: ['celery', 'tsbeat-q1', 'tsbeat-routed', 'tsbeat-direct', 'tsbeat-v1', 'tsbeat-prefixed'],
        env: {
          broker: url(BROKER_DB),
          backend,
          namedQueues: [{ queue: 'tsbeat-direct', exchange: 'tsbeat-ex', type: 'direct', routing_key: 'tsbeat-rk' }],
        },
      }),
      // Time limits are enforced by the prefork pool only; the solo pool ignores them.
      startWorker({ name: 'soft', queues: ['tsbeat-soft'], pool: 'prefork', env: { broker: url(BROKER_DB), backend } }),
      startWorker({
        name: 'prefixed',
        queues: ['tsbeat-prefixed'],
        env: { broker: url(BROKER_DB), backend, transportOptions: { global_keyprefix: PREFIX } },
      }),
    ]);
  });

  afterAll(async () => {
    await stopAll(workers());
    await publisher?.close();
    for (const db of [BROKER_DB, RESULT_DB, GOLDEN_DB]) {
      const r = new Redis(url(db));
      await r.flushdb();
      r.disconnect();
    }
    broker?.disconnect();
    results?.disconnect();
  });

  let counter = 0;
  /** A due run of a new entry (its own name, so its slot is always fresh), as the runner hands it to the dispatcher. */
  function render(
    fields: { task?: string; args?: unknown[]; kwargs?: Record<string, unknown>; options?: OptionsInput },
    cfg: { taskRoutes?: TaskRoutesInput; taskProtocol?: 1 | 2 } = {},
    nowMs = Date.now(),
  ): DueRun {
    const name = `it-${(counter += 1)}`;
    const resolved: ResolvedEntry = { ...RESOLVED, ...entry({ name, task: 'tsbeat_test.record', ...fields }) };
    const template = compileMessageTemplate(resolved, config(cfg), env);
    return {
      entry: resolved,
      slotMs: nowMs,
      message: renderTaskMessage(template, { taskId: slotTaskId(DEPLOYMENT, name, nowMs), slotMs: nowMs, nowMs }),
    };
  }

  async function run(due: DueRun, via = publisher): Promise<TaskResult> {
    expect(await via.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
    return waitForResult(results, due.message.id, workers());
  }

  const recorded = (r: TaskResult): Recorded => {
    expect(r.status, JSON.stringify(r)).toBe('SUCCESS');
    return r.result as Recorded;
  };

  it('delivers args and kwargs of every JSON type exactly: nested, unicode, empty, ≥ 100 KB, integers near 2^53', async () => {
    const big = 'ü☃😀 '.repeat(25_000);
    const args = [
      9007199254740991,
      -9007199254740991,
      0,
      -0.5,
      0.1,
      1e-5,
      6.02e-23,
      123456.789,
      true,
      false,
      null,
      '',
      [],
      {},
      [[[['deep']]]],
      'wörld ☃ 😀',
      'lone \ud800 surrogate',
      big,
    ];
    const kwargs = {
      ключ: 'значение',
      empty: {},
      list: Array.from({ length: 2000 }, (_, i) => i * 1.5),
      nested: { a: { b: { c: [null, { d: '"quoted" \\ back\nslash' }] } } },
    };
    const due = render({ args, kwargs });
    expect(Buffer.byteLength(due.message.body)).toBeGreaterThan(100_000);
    const r = recorded(await run(due));
    expect(r.args).toEqual(args);
    expect(r.kwargs).toEqual(kwargs);
  });

  it('delivers empty args and kwargs as () and {}', async () => {
    const r = recorded(await run(render({ args: [], kwargs: {} })));
    expect([r.args, r.kwargs]).toEqual([[], {}]);
  });

  it('shows the id, beat_entry, beat_scheduled_at and custom headers in task.request', async () => {
    const due = render({ options: { headers: { 'x-custom': 'v', 'x-nested': { a: [1, 2] } }, shadow: 'shadowed-name' } });
    const { request } = recorded(await run(due));
    const m = due.message;
    expect(request).toMatchObject({
      id: m.id,
      root_id: m.id,
      task: 'tsbeat_test.record',
      shadow: 'shadowed-name',
      'x-custom': 'v',
      'x-nested': { a: [1, 2] },
      beat_entry: m.entry,
      beat_scheduled_at: JSON.parse(m.headersJson).beat_scheduled_at,
      delivery_info: { exchange: '', routing_key: 'celery' },
    });
  });

  it('shows periodic_task_name where django-celery-results reads it and traceparent where OpenTelemetry extracts it', async () => {
    const due = render({});
    const { request } = recorded(await run(due));
    // django_celery_results/backends/database.py: `getattr(request, 'properties', {}).get('periodic_task_name')`.
    expect((request['properties'] as Record<string, unknown>)['periodic_task_name']).toBe(due.entry.name);
    // opentelemetry-instrumentation-celery: extract(task.request) with a getter doing getattr(request, key).
    const traceparent = request['traceparent'];
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // W3C trace id = the task id's hex digits (an oracle independent of the renderer's slicing).
    expect(String(traceparent).split('-')[1]).toBe(due.message.id.replace(/-/g, ''));
    expect(request['periodic_task_name']).toBe(due.entry.name);
  });

  it('publishes to a custom queue consumed with -Q', async () => {
    expect(recorded(await run(render({ options: { queue: 'tsbeat-q1' } }))).request.delivery_info).toMatchObject({
      routing_key: 'tsbeat-q1',
    });
  });

  it('follows a taskRoutes glob rule to its queue', async () => {
    const r = recorded(await run(render({}, { taskRoutes: { 'nomatch.*': 'elsewhere', 'tsbeat_test.rec*': { queue: 'tsbeat-routed' } } })));
    expect(r.request.delivery_info).toMatchObject({ routing_key: 'tsbeat-routed' });
  });

  it('routes a named direct exchange through the binding the worker declared', async () => {
    const r = recorded(await run(render({ options: { exchange: 'tsbeat-ex', routingKey: 'tsbeat-rk' } })));
    expect(r.request.delivery_info).toMatchObject({ exchange: 'tsbeat-ex', routing_key: 'tsbeat-rk' });
  });

  it('logs and reports a message that matches no binding of a named exchange instead of losing it silently', async () => {
    const due = render({ options: { exchange: 'tsbeat-ex', routingKey: 'nobody-listens' } });
    const m = due.message;
    // A batch whose every message was dropped still reports each drop.
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['dropped'] });
    expect(logLines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({
        event: 'beat.publish.dropped',
        id: m.id,
        entry: m.entry,
        exchange: 'tsbeat-ex',
        routingKey: 'nobody-listens',
        level: 'error',
      }),
    );
  });

  it('runs a priority-0 message before a priority-9 one that was already waiting (on Redis 0 is highest)', async () => {
    const lowRun = render({ options: { queue: 'tsbeat-prio', priority: 9 } });
    const highRun = render({ options: { queue: 'tsbeat-prio', priority: 0 } });
    expect(await publisher.dispatch([lowRun])).toEqual({ fenced: false, outcomes: ['published'] });
    expect(await publisher.dispatch([highRun])).toEqual({ fenced: false, outcomes: ['published'] });
    const kombu = kombuKeyOptions({}, BROKER_DB);
    expect(await broker.llen(queueListKey(kombu, 'tsbeat-prio', 9))).toBe(1);
    expect(await broker.llen(queueListKey(kombu, 'tsbeat-prio', 0))).toBe(1);
    const [low, high] = [lowRun.message, highRun.message];
    extra.push(await startWorker({ name: 'prio', queues: ['tsbeat-prio'], env: { broker: url(BROKER_DB), backend: url(RESULT_DB) } }));
    await waitForResult(results, low.id, workers());
    await waitForResult(results, high.id, workers());
    const executed = await results.lrange('tsbeat-test:executed', 0, -1);
    expect(executed.filter((id) => id === low.id || id === high.id)).toEqual([high.id, low.id]);
  });

  it('gets REVOKED from the worker when expires has already passed', async () => {
    const r = await run(render({ options: { expires: '2000-01-01T00:00:00+00:00' } }));
    expect(r).toMatchObject({ status: 'REVOKED', result: { exc_type: 'TaskRevokedError', exc_message: ['expired'] } });
  });

  it('runs a task whose numeric expires lies ahead, and the worker sees the absolute expiry', async () => {
    const due = render({ options: { expires: 120 } });
    expect(recorded(await run(due)).request['expires']).toBe(JSON.parse(due.message.headersJson).expires);
  });

  it('makes the task see SoftTimeLimitExceeded after softTimeLimit, with timelimit [hard, soft]', async () => {
    const r = await run(
      render({ task: 'tsbeat_test.sleepy', args: [10], options: { queue: 'tsbeat-soft', timeLimit: 30, softTimeLimit: 1 } }),
    );
    expect(r).toMatchObject({ status: 'SUCCESS', result: { soft_time_limit_exceeded: true, timelimit: [30, 1] } });
  });

  it('stores no result for ignoreResult, although the task ran', async () => {
    const ignoredRun = render({ options: { ignoreResult: true } });
    const afterRun = render({});
    expect(await publisher.dispatch([ignoredRun, afterRun])).toEqual({ fenced: false, outcomes: ['published', 'published'] });
    const [ignored, after] = [ignoredRun.message, afterRun.message];
    // The solo worker runs them in order: once the second has a result, the first has finished.
    await waitForResult(results, after.id, workers());
    expect(await results.lrange('tsbeat-test:executed', 0, -1)).toContain(ignored.id);
    expect(await results.exists(resultKey(ignored.id))).toBe(0);
  });

  it('reaches a worker whose broker_transport_options has the same global_keyprefix, and only that one', async () => {
    // A deployment of its own on the same Redis: its own lock and fence.
    const prefixed = await leadingPublisher(deployment(`${DEPLOYMENT}-prefixed`, url(BROKER_DB), { globalKeyprefix: PREFIX }), logger);
    try {
      const r = recorded(await run(render({ options: { queue: 'tsbeat-prefixed' } }), prefixed));
      expect(r.request.hostname).toMatch(/^prefixed@/);
      expect(await broker.sismember(`${PREFIX}_kombu.binding.tsbeat-prefixed`, 'tsbeat-prefixed\x06\x16\x06\x16tsbeat-prefixed')).toBe(1);
    } finally {
      await prefixed.close();
    }
  });

  it('is understood by the worker in protocol v1', async () => {
    const due = render(
      { args: [1, 'two'], kwargs: { three: 3 }, options: { queue: 'tsbeat-v1', softTimeLimit: 50, headers: { 'x-v1': 'yes' } } },
      { taskProtocol: 1 },
    );
    const m = due.message;
    expect(JSON.parse(m.headersJson)).not.toHaveProperty('task');
    const r = recorded(await run(due));
    expect(r).toMatchObject({
      args: [1, 'two'],
      kwargs: { three: 3 },
      request: { id: m.id, 'x-v1': 'yes', beat_entry: m.entry, timelimit: [null, 50] },
    });
  });

  it('publishes a batch of 40 runs in one fenced dispatch, every message run once with its own id', async () => {
    const runs = Array.from({ length: 40 }, (_, i) => render({ args: [i] }));
    expect(await publisher.dispatch(runs)).toEqual({ fenced: false, outcomes: runs.map(() => 'published') });
    const got = await Promise.all(
      runs.map(({ message }) => waitForResult(results, message.id, workers()).then((r) => recorded(r).args[0])),
    );
    expect(got).toEqual(runs.map((_, i) => i));
    expect(new Set(runs.map(({ message }) => message.id)).size).toBe(40);
  });

  it("matches Python's own celery beat for the same entry: envelope, header and property keys and values", async () => {
    const golden = {
      name: 'golden-entry',
      task: 'tsbeat_test.record',
      schedule: 1,
      args: [2, 3.5, 1e-5, null, true, "it's", 'wörld ☃', { k: [1, [2, [3, [4]]]] }, 'x '.repeat(700), 9007199254740991],
      kwargs: { a: 1, nested: { b: [] }, long: 'word '.repeat(300) },
      options: {
        expires: 30,
        priority: 5,
        countdown: 5,
        headers: { 'x-custom': 'v', 'x-nested': { a: [1, 2] } },
        time_limit: 20,
        soft_time_limit: 10,
        shadow: 'golden-shadow',
        ignore_result: true,
      },
    };
    const routes = { 'tsbeat_test.*': { queue: 'golden' } };
    const goldenDb = new Redis(url(GOLDEN_DB));
    const dir = mkdtempSync(join(tmpdir(), 'tsbeat-golden-'));
    let goldenPublisher: LeadingPublisher | undefined;
    let beat: CeleryProcess | undefined;
    try {
      const key = queueListKey(kombuKeyOptions({}, GOLDEN_DB), 'golden', 5);
      // No worker consumes "golden": beat's message stays in the list for us to read.
      // periodic_task_name as django-celery-beat passes it: an apply_async option (ModelEntry.options).
      const beatEntry = { ...golden, options: { ...golden.options, periodic_task_name: golden.name } };
      beat = startBeat({ env: { broker: url(GOLDEN_DB), routes, beatEntry }, scheduleFile: join(dir, 'schedule') });
      await waitFor(
        'celery beat to push a message',
        async () => ((await goldenDb.llen(key)) > 0 ? true : undefined),
        30_000,
        () => beat?.output() ?? '',
      );
      await beat.stop();
      const python = JSON.parse((await goldenDb.lindex(key, -1)) ?? 'null') as Envelope;

      const resolved: ResolvedEntry = {
        ...RESOLVED,
        ...entry({ name: golden.name, task: golden.task, args: golden.args, kwargs: golden.kwargs, options: golden.options }),
      };
      const template = compileMessageTemplate(resolved, config({ taskRoutes: routes }), env);
      const now = Date.now();
      goldenPublisher = await leadingPublisher(deployment(`${DEPLOYMENT}-golden`, url(GOLDEN_DB)), logger);
      const due = {
        entry: resolved,
        slotMs: now,
        message: renderTaskMessage(template, { taskId: slotTaskId(DEPLOYMENT, golden.name, now), slotMs: now, nowMs: now }),
      };
      expect(await goldenPublisher.dispatch([due], now)).toEqual({ fenced: false, outcomes: ['published'] });
      const ours = JSON.parse((await goldenDb.lindex(key, 0)) ?? 'null') as Envelope;

      const allowedExtra = [
        'beat_entry',
        'beat_scheduled_at',
        'periodic_task_name',
        'traceparent',
        ...(versionAtLeast(celery.version, 5, 3) ? [] : ['replaced_task_nesting', 'stamped_headers', 'stamps']),
      ];
      expect(compareWithBeat(python, ours, allowedExtra, 60_000)).toEqual([]);
      // The comparison must have had something to compare.
      expect(python.headers['argsrepr']).toMatch(/^\[2, 3\.5, 1e-05, None, True/);
      expect(python.properties).toMatchObject({
        periodic_task_name: golden.name,
        priority: 5,
        expiration: '30000',
        delivery_info: { exchange: '', routing_key: 'golden' },
      });
    } finally {
      await beat?.stop();
      await goldenPublisher?.close();
      goldenDb.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A due run of a canvas entry (docs/canvas.md), checked and resolved as `beat run` does, and its steps' ids. */
  function renderCanvas(definition: Record<string, unknown>): DueRun {
    const name = `canvas-${(counter += 1)}`;
    const parsed = parseEntryDefinition({ schedule: 60, ...definition });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const resolved = resolveEntry(name, parsed.entry, { zone: 'UTC', deployment: 'default' });
    const nowMs = Date.now();
    const template = compileMessageTemplate(resolved, config(), env);
    return {
      entry: resolved,
      slotMs: nowMs,
      message: renderTaskMessage(template, { taskId: slotTaskId(DEPLOYMENT, name, nowMs), slotMs: nowMs, nowMs }),
    };
  }
  /** The ids of a canvas run's chain steps, first to last, as its message carries them. */
  const stepIds = (due: DueRun): string[] => {
    const body = JSON.parse(due.message.body) as [unknown, unknown, { chain: { options: { task_id: string } }[] | null }];
    return [JSON.parse(due.message.headersJson).id as string, ...(body[2].chain ?? []).map((s) => s.options.task_id).reverse()];
  };

  it("runs a 3-step chain in order, each step given the previous result; the run id holds the last step's result", async () => {
    const due = renderCanvas({
      chain: [
        { task: 'tsbeat_test.add', args: [2, 3] },
        { task: 'tsbeat_test.mul', args: [10] },
        { task: 'tsbeat_test.add', args: [7] },
      ],
    });
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
    const r = await waitForResult(results, due.message.id, workers());
    expect([r.status, r.result]).toEqual(['SUCCESS', 57]);
    const ids = stepIds(due);
    expect(ids[2]).toBe(due.message.id);
    const executed = await results.lrange('tsbeat-test:executed', 0, -1);
    expect(executed.filter((id) => ids.includes(id))).toEqual(ids);
    // Each step ran under the id its message was published with, the first as the chain's root.
    const first = await waitForResult(results, ids[0] as string, workers());
    expect([first.status, first.result]).toEqual(['SUCCESS', 5]);
  });

  it("calls link on success and link_error with the failing task's id; the run fails, its later steps never run", async () => {
    const due = renderCanvas({
      chain: [
        { task: 'tsbeat_test.add', args: [1, 1], link: [{ task: 'tsbeat_test.mul', args: [100] }] },
        { task: 'tsbeat_test.fail', immutable: true },
        { task: 'tsbeat_test.add', args: [1] },
      ],
      linkError: [{ task: 'tsbeat_test.errback' }],
    });
    const ids = stepIds(due);
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
    // Celery's backend marks the chain's remaining steps failed too: the run's id reads FAILURE.
    const r = await waitForResult(results, due.message.id, workers());
    expect(r.status).toBe('FAILURE');
    expect((await waitForResult(results, ids[1] as string, workers())).status).toBe('FAILURE');
    const errback = await waitFor(
      'the errback to run',
      async () => {
        for (const id of await results.lrange('tsbeat-test:executed', 0, -1)) {
          const meta = JSON.parse((await results.get(resultKey(id))) ?? 'null') as TaskResult | null;
          const value = meta?.result as { failed?: string } | undefined;
          if (meta?.status === 'SUCCESS' && value?.failed === ids[1]) return value;
        }
        return undefined;
      },
      30_000,
      () =>
        workers()
          .map((w) => w.output())
          .join('\n'),
    );
    expect(errback).toMatchObject({ failed: ids[1], parent_id: ids[1] });
    // The first step's link ran with its result: mul(2, 100).
    await waitFor(
      'the link to run',
      async () => {
        for (const id of await results.lrange('tsbeat-test:executed', 0, -1)) {
          const meta = JSON.parse((await results.get(resultKey(id))) ?? 'null') as TaskResult | null;
          if (meta?.status === 'SUCCESS' && meta.result === 200) return true;
        }
        return undefined;
      },
      30_000,
      () =>
        workers()
          .map((w) => w.output())
          .join('\n'),
    );
    const executed = await results.lrange('tsbeat-test:executed', 0, -1);
    expect(executed).not.toContain(ids[2]);
  });

  it('runs a chord of 5 after a first step: the body receives the 5 results (Redis result backend), its result under the run id', async () => {
    const header = [1, 2, 3, 4, 5].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10], immutable: true }));
    const due = renderCanvas({
      chain: [{ task: 'tsbeat_test.add', args: [0, 0] }, { chord: { header, body: { task: 'tsbeat_test.tsum' } } }],
    });
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
    const r = await waitForResult(results, due.message.id, workers());
    expect([r.status, r.result]).toEqual(['SUCCESS', { sum: 150, values: [10, 20, 30, 40, 50] }]);
  });

  it("runs a chain inside a chord header, and a group of 10 as a chain's last step (every member under its derived id)", async () => {
    const nested = renderCanvas({
      chain: [
        { task: 'tsbeat_test.add', args: [0, 0] },
        {
          chord: {
            header: [
              {
                chain: [
                  { task: 'tsbeat_test.add', args: [1, 2], immutable: true },
                  { task: 'tsbeat_test.mul', args: [100] },
                ],
              },
              { task: 'tsbeat_test.add', args: [5, 5], immutable: true },
            ],
            body: { task: 'tsbeat_test.tsum' },
          },
        },
      ],
    });
    const group = renderCanvas({
      chain: [
        { task: 'tsbeat_test.add', args: [0, 0] },
        { group: Array.from({ length: 10 }, (_, i) => ({ task: 'tsbeat_test.add', args: [i, i], immutable: true })) },
      ],
    });
    expect(await publisher.dispatch([nested, group])).toEqual({ fenced: false, outcomes: ['published', 'published'] });
    const r = await waitForResult(results, nested.message.id, workers());
    expect([r.status, r.result]).toEqual(['SUCCESS', { sum: 310, values: [300, 10] }]);
    // The group's members carry ids derived from the run's: each one's result is where it says.
    const memberIds = Array.from({ length: 10 }, (_, j) => canvasPartId(group.message.id, `chain[1].group[${j}]`));
    const got = await Promise.all(memberIds.map((id) => waitForResult(results, id, workers()).then((m) => m.result)));
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => 2 * i));
  });
  it('publishes a group of 10 as the whole run in one fenced step, 10 messages a worker pool takes in parallel, none again on a replay', async () => {
    const due = renderCanvas({
      group: Array.from({ length: 10 }, (_, i) => ({ task: 'tsbeat_test.add', args: [i, i] })),
      options: { queue: 'tsbeat-parallel' },
    });
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
    // All 10 are on the queue at once, each its own message: no member waits for another.
    expect(await broker.llen('tsbeat-parallel')).toBe(10);
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['stale'] });
    expect(await broker.llen('tsbeat-parallel')).toBe(10);
    extra.push(
      ...(await Promise.all(
        ['parallel-a', 'parallel-b'].map((name) =>
          startWorker({ name, queues: ['tsbeat-parallel'], env: { broker: url(BROKER_DB), backend: url(RESULT_DB) } }),
        ),
      )),
    );
    const memberIds = Array.from({ length: 10 }, (_, j) => canvasPartId(due.message.id, `group[${j}]`));
    const got = await Promise.all(memberIds.map((id) => waitForResult(results, id, workers()).then((m) => [m.status, m.result])));
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => ['SUCCESS', 2 * i]));
  });

  it("publishes a chord of 5 as the whole run: its size in the result backend first, then the body receives the 5 results under the run's id", async () => {
    const due = renderCanvas({
      chord: {
        header: [1, 2, 3, 4, 5].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10] })),
        body: { task: 'tsbeat_test.tsum' },
      },
    });
    expect(runMessages(due.message)).toHaveLength(5);
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
    const r = await waitForResult(results, due.message.id, workers());
    expect([r.status, r.result]).toEqual(['SUCCESS', { sum: 150, values: [10, 20, 30, 40, 50] }]);
  });

  it("follows a canvas run's parts to its outcome: a group of 3 (nothing under its own id) SUCCESS, a chain failing in its middle step FAILURE naming it, a chord the body's", async () => {
    const history = new RedisRunHistory(broker, schedulerKeys('tsbeat', `parts-${randomUUID()}`));
    const tracker = new OutcomeTracker({
      history,
      results: new RedisResultReader(results, undefined),
      events: { finished: () => undefined },
      logger,
      clock: { now: () => Date.now() },
      timeoutMs: 60_000,
      pollMs: 100,
      recordDelayMs: 50,
    });
    const group = renderCanvas({ group: [1, 2, 3].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10] })) });
    const chain = renderCanvas({
      chain: [
        { task: 'tsbeat_test.add', args: [1, 1] },
        { task: 'tsbeat_test.fail', immutable: true },
        { task: 'tsbeat_test.add', args: [1] },
      ],
    });
    const chord = renderCanvas({
      chord: { header: [1, 2].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10] })), body: { task: 'tsbeat_test.tsum' } },
    });
    const runs = [group, chain, chord];
    await tracker.start();
    try {
      for (const due of runs) {
        const parts = canvasOutcomeParts(due.entry, due.message.id).map((part) => ({ ...part, state: 'PENDING' as const }));
        tracker.published(due.entry.name, due.message.id, due.slotMs, Date.now(), undefined, undefined, parts);
      }
      expect(await publisher.dispatch(runs)).toEqual({ fenced: false, outcomes: ['published', 'published', 'published'] });
      const final = (due: DueRun): Promise<RunRecord> =>
        waitFor(
          `the run of ${due.entry.name} to finish`,
          async () => {
            const found = (await history.list(due.entry.name, 1))[0];
            return found !== undefined && ['SUCCESS', 'FAILURE', 'REVOKED', 'unknown'].includes(found.state) ? found : undefined;
          },
          30_000,
        );
      const [g, c, h] = await Promise.all(runs.map(final));
      // A group stores no result under its id: without its parts, this run read `unknown` after outcomeTimeout.
      expect(g?.state).toBe('SUCCESS');
      expect(g?.parts?.map((p) => [p.path, p.task, p.state])).toEqual([
        ['group[0]', 'tsbeat_test.mul', 'SUCCESS'],
        ['group[1]', 'tsbeat_test.mul', 'SUCCESS'],
        ['group[2]', 'tsbeat_test.mul', 'SUCCESS'],
      ]);
      const values = await Promise.all((g?.parts ?? []).map((p) => waitForResult(results, p.id, workers()).then((m) => m.result)));
      expect(values).toEqual([10, 20, 30]);
      expect(g?.result).toBe('[10,20,30]');
      // Celery marks the chain's last step failed too: the middle one, which raised, is named.
      expect(c?.state).toBe('FAILURE');
      expect(c?.exception).toContain(`chain[1] tsbeat_test.fail (${canvasPartId(chain.message.id, 'chain[1]')}) failed`);
      expect(c?.parts?.map((p) => p.state)).toEqual(['SUCCESS', 'FAILURE', 'FAILURE']);
      expect(h?.state).toBe('SUCCESS');
      expect(h?.parts?.map((p) => [p.path, p.state])).toEqual([
        ['header[0]', 'SUCCESS'],
        ['header[1]', 'SUCCESS'],
        ['body', 'SUCCESS'],
      ]);
      expect(JSON.parse(h?.result ?? 'null')).toEqual({ sum: 30, values: [10, 20] });
      expect((await waitForResult(results, chord.message.id, workers())).result).toEqual({ sum: 30, values: [10, 20] });
    } finally {
      await tracker.stop();
    }
  });

  it("runs a group followed by a signature in a chain as Celery's chord of the two (the members given the step before's result), followed to its outcome", async () => {
    const history = new RedisRunHistory(broker, schedulerKeys('tsbeat', `parts-${randomUUID()}`));
    const tracker = new OutcomeTracker({
      history,
      results: new RedisResultReader(results, undefined),
      events: { finished: () => undefined },
      logger,
      clock: { now: () => Date.now() },
      timeoutMs: 60_000,
      pollMs: 100,
      recordDelayMs: 50,
    });
    const due = renderCanvas({
      chain: [
        { task: 'tsbeat_test.add', args: [1, 1] },
        {
          group: [
            { task: 'tsbeat_test.mul', args: [3] },
            { task: 'tsbeat_test.add', args: [10] },
          ],
        },
        { task: 'tsbeat_test.tsum' },
        { task: 'tsbeat_test.record' },
      ],
    });
    await tracker.start();
    try {
      const parts = canvasOutcomeParts(due.entry, due.message.id).map((part) => ({ ...part, state: 'PENDING' as const }));
      tracker.published(due.entry.name, due.message.id, due.slotMs, Date.now(), undefined, undefined, parts);
      expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
      const run = await waitFor(
        'the run to finish',
        async () => {
          const found = (await history.list(due.entry.name, 1))[0];
          return found !== undefined && ['SUCCESS', 'FAILURE', 'REVOKED', 'unknown'].includes(found.state) ? found : undefined;
        },
        30_000,
      );
      expect(run.state).toBe('SUCCESS');
      expect(run.parts?.map((p) => [p.path, p.task, p.state, p.final])).toEqual([
        ['chain[0]', 'tsbeat_test.add', 'SUCCESS', false],
        ['chain[1].group[0]', 'tsbeat_test.mul', 'SUCCESS', false],
        ['chain[1].group[1]', 'tsbeat_test.add', 'SUCCESS', false],
        ['chain[2]', 'tsbeat_test.tsum', 'SUCCESS', false],
        ['chain[3]', 'tsbeat_test.record', 'SUCCESS', true],
      ]);
      // The oracle: what the worker stored under each part's id. Each member got add's 2; the body both, in order.
      const stored = async (path: string): Promise<unknown> =>
        (await waitForResult(results, canvasPartId(due.message.id, path), workers())).result;
      expect(await stored('chain[1].group[0]')).toBe(6);
      expect(await stored('chain[1].group[1]')).toBe(12);
      expect(await stored('chain[2]')).toEqual({ sum: 18, values: [6, 12] });
      expect((await waitForResult(results, due.message.id, workers())).status).toBe('SUCCESS');
    } finally {
      await tracker.stop();
    }
  });

  it("runs a chain whose first step is a group or a chord as Celery does (that chord's messages, the later steps sent from its body), followed to its outcome", async () => {
    const history = new RedisRunHistory(broker, schedulerKeys('tsbeat', `parts-${randomUUID()}`));
    const tracker = new OutcomeTracker({
      history,
      results: new RedisResultReader(results, undefined),
      events: { finished: () => undefined },
      logger,
      clock: { now: () => Date.now() },
      timeoutMs: 60_000,
      pollMs: 100,
      recordDelayMs: 50,
    });
    const groupFirst = renderCanvas({
      chain: [
        {
          group: [
            { task: 'tsbeat_test.add', args: [1, 1] },
            { task: 'tsbeat_test.mul', args: [2, 5] },
          ],
        },
        { task: 'tsbeat_test.tsum' },
        { task: 'tsbeat_test.record' },
      ],
    });
    const chordFirst = renderCanvas({
      chain: [
        { chord: { header: [3, 4].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10] })), body: { task: 'tsbeat_test.tsum' } } },
        { task: 'tsbeat_test.fail', immutable: true },
      ],
    });
    const runs = [groupFirst, chordFirst];
    await tracker.start();
    try {
      for (const due of runs) {
        const parts = canvasOutcomeParts(due.entry, due.message.id).map((part) => ({ ...part, state: 'PENDING' as const }));
        tracker.published(due.entry.name, due.message.id, due.slotMs, Date.now(), undefined, undefined, parts);
      }
      // Each run is its header's messages.
      expect(runs.map((due) => runMessages(due.message).length)).toEqual([2, 2]);
      expect(await publisher.dispatch(runs)).toEqual({ fenced: false, outcomes: ['published', 'published'] });
      const final = (due: DueRun): Promise<RunRecord> =>
        waitFor(
          `the run of ${due.entry.name} to finish`,
          async () => {
            const found = (await history.list(due.entry.name, 1))[0];
            return found !== undefined && ['SUCCESS', 'FAILURE', 'REVOKED', 'unknown'].includes(found.state) ? found : undefined;
          },
          30_000,
        );
      const [g, c] = await Promise.all(runs.map(final));
      expect(g?.state).toBe('SUCCESS');
      expect(g?.parts?.map((p) => [p.path, p.state])).toEqual([
        ['chain[0].group[0]', 'SUCCESS'],
        ['chain[0].group[1]', 'SUCCESS'],
        ['chain[1]', 'SUCCESS'],
        ['chain[2]', 'SUCCESS'],
      ]);
      // The oracle: the body got both members' results, and the step after it ran under the run's id.
      expect((await waitForResult(results, canvasPartId(groupFirst.message.id, 'chain[1]'), workers())).result).toEqual({
        sum: 12,
        values: [2, 10],
      });
      expect((await waitForResult(results, groupFirst.message.id, workers())).status).toBe('SUCCESS');
      // The chord's body ran, then the step after it failed: named.
      expect(c?.state).toBe('FAILURE');
      expect(c?.exception).toBe(`chain[1] tsbeat_test.fail (${chordFirst.message.id}) failed: ValueError: boom: line one`);
      expect(c?.parts?.map((p) => [p.path, p.state])).toEqual([
        ['chain[0].header[0]', 'SUCCESS'],
        ['chain[0].header[1]', 'SUCCESS'],
        ['chain[0].body', 'SUCCESS'],
        ['chain[1]', 'FAILURE'],
      ]);
      expect((await waitForResult(results, canvasPartId(chordFirst.message.id, 'chain[0]'), workers())).result).toEqual({
        sum: 70,
        values: [30, 40],
      });
    } finally {
      await tracker.stop();
    }
  });

  it('publishes a chord whose header holds a chain as the whole run: the chain runs in order and its last result joins the body', async () => {
    const due = renderCanvas({
      chord: {
        header: [
          {
            chain: [
              { task: 'tsbeat_test.add', args: [1, 2] },
              { task: 'tsbeat_test.mul', args: [100] },
            ],
          },
          { task: 'tsbeat_test.add', args: [5, 5] },
        ],
        body: { task: 'tsbeat_test.tsum' },
      },
    });
    expect(await publisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
    const r = await waitForResult(results, due.message.id, workers());
    expect([r.status, r.result]).toEqual(['SUCCESS', { sum: 310, values: [300, 10] }]);
    const first = await waitForResult(results, canvasPartId(due.message.id, 'header[0].chain[0]'), workers());
    expect([first.status, first.result]).toEqual(['SUCCESS', 3]);
  });

  it('refuses a chord run alone where no result backend would take its size (its body would never fire), and publishes the others', async () => {
    const bare = await leadingPublisher(deployment(`${DEPLOYMENT}-bare`, url(BROKER_DB)), logger);
    try {
      const chord = renderCanvas({ chord: { header: [{ task: 'tsbeat_test.add', args: [1, 1] }], body: { task: 'tsbeat_test.tsum' } } });
      const plain = renderCanvas({ group: [{ task: 'tsbeat_test.add', args: [2, 2] }] });
      const result = await bare.dispatch([chord, plain]);
      expect(result).toMatchObject({ fenced: false, outcomes: ['refused', 'published'] });
      expect((result as { refusals?: ReadonlyMap<number, string> }).refusals?.get(0)).toMatch(/a chord run needs a Redis result backend/);
      const member = await waitForResult(results, canvasPartId(plain.message.id, 'group[0]'), workers());
      expect([member.status, member.result]).toEqual(['SUCCESS', 4]);
    } finally {
      await bare.close();
    }
  });
});
