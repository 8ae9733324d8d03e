/**
 * tsbeat over RabbitMQ (AMQP 0-9-1):
 * - messages run by a real Celery worker (Debian python3-celery with pyamqp) on the shared RabbitMQ
 *   at 127.0.0.1:5672, sent as `beat run` sends them (createPublishing's AMQP dispatcher under a
 *   fence token won with the lock, test/support/leading-publisher.ts), and the dispatcher's
 *   claim → confirm → commit against it;
 * - `beat run` (the built CLI) publishing to a PRIVATE RabbitMQ node that the test stops and starts
 *   again while beat runs (the shared node is never restarted).
 * Redis DB 1 (result backend, beat state) is this file's only DB; it is flushed before and after.
 * Every queue and exchange is named with a per-run prefix and deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { connect } from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendThenCommitDispatcher } from '../../src/publish/send-then-commit-dispatcher.js';
import type { ConfirmingSender } from '../../src/publish/send-then-commit-dispatcher.js';
import { planAmqpPublish } from '../../src/amqp/message.js';
import type { AmqpQueueConfig } from '../../src/config/amqp-queues.js';
import { AmqpTransport } from '../../src/amqp/transport.js';
import type { AmqpSendResult } from '../../src/amqp/transport.js';
import { compileMessageTemplate, makeOrigin, renderTaskMessage, runMessages } from '../../src/celery/message.js';
import type { MessageEnv, TaskMessage } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseIsoInstant } from '../../src/celery/time.js';
import { parseConfig } from '../../src/config/load.js';
import { canvasPartId } from '../../src/celery/canvas.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { OptionsInput, TaskRoutesInput } from '../../src/config/options-schema.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import type { BeatError } from '../../src/base/errors.js';
import { createLogger } from '../../src/base/log.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { readEntryState } from '../../src/redis/entry-state-codec.js';
import type { DueRun } from '../../src/ports/dispatcher.js';
import { BeatFleet, FAST_LOCK, TempDir, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import { checkSlots } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { PYTHON, pythonCelery, startWorker, stopAll, waitForResult } from '../support/celery.js';
import type { CeleryProcess, TaskResult } from '../support/celery.js';
import { leadingPublisher } from '../support/leading-publisher.js';
import type { LeadingPublisher } from '../support/leading-publisher.js';
import { config, entry } from '../support/messages.js';
import { httpPortOf, httpRequest, parsePrometheus, sampleValue } from '../support/ops.js';
import { INSTALL_HINT as RABBIT_HINT, PrivateRabbitNode, portOpen, rabbitmqInstalled } from '../support/rabbitmq-node.js';

const SHARED = 'amqp://guest:guest@127.0.0.1:5672//';
const DB = 1;
const REDIS = `redis://127.0.0.1:6379/${DB}`;
/** Every queue and exchange of this run starts with it: nothing else on the shared node is touched. */
const P = `tsbeat-it-${process.pid}-`;
const BASE_QUEUES: AmqpQueueConfig = {
  taskDefaultQueue: `${P}default`,
  taskQueueMaxPriority: undefined,
  taskDefaultQueueType: 'classic',
  taskCreateMissingQueueType: 'classic',
};
/** A deployment of tsbeat publishing to the shared node, its state and fence in DB 1 (under this run's prefix). */
const deployment = (name: string, settings: { taskQueueMaxPriority?: number } = {}) =>
  parseConfig(
    {
      name: `${P}${name}`,
      broker: { url: SHARED },
      state: { url: REDIS, prefix: `${P}state` },
      // The workers' result backend: where a chord run's size is written (docs/canvas.md).
      resultBackend: REDIS,
      taskDefaultQueue: BASE_QUEUES.taskDefaultQueue,
      ...settings,
    },
    'amqp-worker.test',
  );
/** What the config loader resolves for an entry, apart from the fields each test gives (entry() in render). */
const RESOLVED = parseConfig({ beatSchedule: { shell: { task: 'tsbeat_test.record', schedule: 60 } } }, 'amqp-worker.test')
  .entries[0] as ResolvedEntry;

const celery = pythonCelery();
const pyamqp = spawnSync(PYTHON, ['-c', 'import amqp'], { timeout: 30_000 }).status === 0;
const rabbitUp = await portOpen(5672, 2000);
const problems = [
  ...(celery.ok ? [] : [celery.problem]),
  ...(pyamqp ? [] : [`${PYTHON} cannot import amqp; install python3-amqp`]),
  ...(rabbitUp ? [] : ['nothing listens on 127.0.0.1:5672; start RabbitMQ (rabbitmq-server -detached)']),
];
const privateProblems = rabbitmqInstalled() ? [] : [RABBIT_HINT];
// In CI the suites must run: a missing piece fails them (in beforeAll) instead of skipping them.
const suite = problems.length === 0 || process.env['CI'] ? describe : describe.skip;
const privateSuite = privateProblems.length === 0 || process.env['CI'] ? describe : describe.skip;

interface Recorded {
  args: unknown[];
  kwargs: Record<string, unknown>;
  request: Record<string, unknown> & { delivery_info: Record<string, unknown> };
}

const recorded = (r: TaskResult): Recorded => {
  expect(r.status, JSON.stringify(r)).toBe('SUCCESS');
  return r.result as Recorded;
};

/** Test-side AMQP: inspect and delete what the tests created. */
async function adminChannel(url: string): Promise<{ model: ChannelModel; channel: () => Promise<Channel> }> {
  const model = await connect(url);
  model.on('error', () => undefined);
  // A failed passive check closes a channel: hand out a fresh one when the last one died.
  let current: Channel | undefined;
  const channel = async (): Promise<Channel> => {
    if (current !== undefined) return current;
    const c = await model.createChannel();
    c.on('error', () => undefined);
    c.on('close', () => {
      if (current === c) current = undefined;
    });
    current = c;
    return c;
  };
  return { model, channel };
}

suite(
  `tsbeat over RabbitMQ, run by a real Celery worker${problems.length === 0 ? ` (celery ${celery.version})` : ` (skipped: ${problems.join('; ')})`}`,
  () => {
    const env: MessageEnv = { origin: makeOrigin(process.pid, hostname()), replyTo: randomUUID() };
    const logLines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
    const queues = new Set<string>();
    const exchanges = new Set<string>();
    const workers: CeleryProcess[] = [];
    const transports: AmqpTransport[] = [];
    let redis: Redis;
    let admin: Awaited<ReturnType<typeof adminChannel>>;
    let transport: AmqpTransport;
    /** Publishes as `beat run` does; the compatibility cases go through it. */
    let publisher: LeadingPublisher;
    const publishers: LeadingPublisher[] = [];
    const newPublisher = async (name: string, settings: { taskQueueMaxPriority?: number } = {}): Promise<LeadingPublisher> => {
      const p = await leadingPublisher(deployment(name, settings), logger);
      publishers.push(p);
      return p;
    };

    const newTransport = async (q: Partial<AmqpQueueConfig> = {}): Promise<AmqpTransport> => {
      const t = new AmqpTransport({
        url: SHARED,
        transportOptions: {},
        queues: { ...BASE_QUEUES, ...q },
        logger,
        confirmTimeoutMs: 10_000,
      });
      transports.push(t);
      await t.connect();
      await waitUntil('the transport to connect', () => (t.ready() ? true : undefined), 10_000);
      return t;
    };
    const queue = (name: string): string => {
      queues.add(`${P}${name}`);
      exchanges.add(`${P}${name}`);
      return `${P}${name}`;
    };
    const worker = async (name: string, qs: readonly string[], conf?: Record<string, unknown>): Promise<CeleryProcess> => {
      const w = await startWorker({
        name: `${P}${name}`,
        queues: qs,
        env: { broker: SHARED, backend: REDIS, ...(conf === undefined ? {} : { conf }) },
      });
      workers.push(w);
      return w;
    };

    beforeAll(async () => {
      if (problems.length > 0) throw new Error(problems.join('; '));
      redis = new Redis(REDIS);
      await redis.flushdb();
      admin = await adminChannel(SHARED);
      transport = await newTransport();
      publisher = await newPublisher('compat');
      // Started before tsbeat declares anything: the worker declares its queues first, tsbeat's declarations must match.
      await worker('main', [queue('default'), queue('custom'), queue('events-q')]);
    });

    afterAll(async () => {
      await stopAll(workers);
      await Promise.allSettled([...transports.map((t) => t.close()), ...publishers.map((p) => p.close())]);
      if (admin !== undefined) {
        for (const q of queues) await (await admin.channel()).deleteQueue(q).catch(() => undefined);
        for (const x of exchanges) await (await admin.channel()).deleteExchange(x).catch(() => undefined);
        await admin.model.close().catch(() => undefined);
      }
      await redis?.flushdb();
      redis?.disconnect();
    });

    let counter = 0;
    /** A due run of a new entry (its own name, so its slot is always fresh), as the runner hands it to the dispatcher. */
    function render(
      fields: { task?: string; args?: unknown[]; kwargs?: Record<string, unknown>; options?: OptionsInput },
      cfg: { taskRoutes?: TaskRoutesInput } = {},
      nowMs = Date.now(),
    ): DueRun {
      const name = `amqp-it-${(counter += 1)}`;
      const resolved: ResolvedEntry = { ...RESOLVED, ...entry({ name, task: 'tsbeat_test.record', ...fields }) };
      const template = compileMessageTemplate(resolved, { ...config(cfg), taskDefaultQueue: BASE_QUEUES.taskDefaultQueue }, env);
      return {
        entry: resolved,
        slotMs: nowMs,
        message: renderTaskMessage(template, { taskId: slotTaskId('amqp-test', name, nowMs), slotMs: nowMs, nowMs }),
      };
    }

    async function run(due: DueRun, via = publisher): Promise<TaskResult> {
      expect(await via.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
      return waitForResult(redis, due.message.id, workers);
    }

    /** A due run of a canvas entry (docs/canvas.md), checked and resolved as `beat run` does. */
    function renderCanvas(name: string, definition: Record<string, unknown>): DueRun {
      const parsed = parseEntryDefinition({ schedule: 60, ...definition });
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      const resolved = resolveEntry(name, parsed.entry, { zone: 'UTC', deployment: 'default' });
      const template = compileMessageTemplate(resolved, { ...config(), taskDefaultQueue: BASE_QUEUES.taskDefaultQueue }, env);
      const now = Date.now();
      return {
        entry: resolved,
        slotMs: now,
        message: renderTaskMessage(template, { taskId: slotTaskId('amqp-test', name, now), slotMs: now, nowMs: now }),
      };
    }

    const messageCount = async (q: string): Promise<number> => (await (await admin.channel()).checkQueue(q)).messageCount;

    it('runs a group of 10 and a chord of 5 as whole runs (several messages each, confirmed as one run), and a chord whose header holds a chain', async () => {
      const on = { queue: `${P}default` };
      const group = renderCanvas('amqp-group-run', {
        group: Array.from({ length: 10 }, (_, i) => ({ task: 'tsbeat_test.add', args: [i, i] })),
      });
      // The entry's options go to every header message and to the body (Celery's chord.apply_async(**options)).
      const chord = renderCanvas('amqp-chord-run', {
        chord: { header: [1, 2, 3, 4, 5].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10] })), body: { task: 'tsbeat_test.tsum' } },
        options: on,
      });
      const nested = renderCanvas('amqp-chord-chain-run', {
        chord: {
          header: [
            {
              chain: [
                { task: 'tsbeat_test.add', args: [1, 2] },
                { task: 'tsbeat_test.mul', args: [100], options: on },
              ],
            },
            { task: 'tsbeat_test.add', args: [5, 5] },
          ],
          body: { task: 'tsbeat_test.tsum' },
        },
        options: on,
      });
      expect(await publisher.dispatch([group, chord, nested])).toEqual({
        fenced: false,
        outcomes: ['published', 'published', 'published'],
      });
      // Recorded once: the same slots again are stale, nothing sent twice.
      expect(await publisher.dispatch([group, chord, nested])).toEqual({ fenced: false, outcomes: ['stale', 'stale', 'stale'] });
      const members = await Promise.all(
        Array.from({ length: 10 }, (_, j) => waitForResult(redis, canvasPartId(group.message.id, `group[${j}]`), workers)),
      );
      expect(members.map((m) => [m.status, m.result])).toEqual(Array.from({ length: 10 }, (_, i) => ['SUCCESS', 2 * i]));
      const c = await waitForResult(redis, chord.message.id, workers);
      expect([c.status, c.result]).toEqual(['SUCCESS', { sum: 150, values: [10, 20, 30, 40, 50] }]);
      const n = await waitForResult(redis, nested.message.id, workers);
      expect([n.status, n.result]).toEqual(['SUCCESS', { sum: 310, values: [300, 10] }]);
    });

    it("runs a chain whose first step is a group or a chord: that chord's messages, the later steps sent from its body", async () => {
      const on = { queue: `${P}default` };
      const record = { task: 'tsbeat_test.record', options: on };
      // The entry's options reach the header messages and the body; the later steps go where their own say.
      const groupFirst = renderCanvas('amqp-group-first', {
        chain: [
          {
            group: [
              { task: 'tsbeat_test.add', args: [1, 1] },
              { task: 'tsbeat_test.mul', args: [2, 5] },
            ],
          },
          { task: 'tsbeat_test.tsum' },
          record,
        ],
        options: on,
      });
      const chordFirst = renderCanvas('amqp-chord-first', {
        chain: [
          { chord: { header: [3, 4].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10] })), body: { task: 'tsbeat_test.tsum' } } },
          record,
        ],
        options: on,
      });
      expect([groupFirst, chordFirst].map((due) => runMessages(due.message).length)).toEqual([2, 2]);
      expect(await publisher.dispatch([groupFirst, chordFirst])).toEqual({ fenced: false, outcomes: ['published', 'published'] });
      const g = await waitForResult(redis, canvasPartId(groupFirst.message.id, 'chain[1]'), workers);
      expect([g.status, g.result]).toEqual(['SUCCESS', { sum: 12, values: [2, 10] }]);
      expect((await waitForResult(redis, groupFirst.message.id, workers)).status).toBe('SUCCESS');
      const c = await waitForResult(redis, canvasPartId(chordFirst.message.id, 'chain[0]'), workers);
      expect([c.status, c.result]).toEqual(['SUCCESS', { sum: 70, values: [30, 40] }]);
      expect((await waitForResult(redis, chordFirst.message.id, workers)).status).toBe('SUCCESS');
    });

    it("round-trips args, kwargs and integer headers exactly (py-amqp reads amqplib's int16 tag as a string: 300 must not go as one)", async () => {
      const args = [9007199254740991, -5, 300, 0.5, true, null, '', [], {}, [[['deep']]], 'wörld ☃ 😀', 'x'.repeat(50_000)];
      const kwargs = { ключ: 'значение', nested: { a: { b: [null, { c: '"q" \\ \n' }] } }, n: -70_000 };
      const due = render({
        args,
        kwargs,
        options: {
          timeLimit: 300,
          softTimeLimit: 250,
          headers: { 'x-int': 300, 'x-neg': -129, 'x-big': 2 ** 40, 'x-float': 0.25, 'x-obj': { '!': 'data', list: [1, 300, 70_000] } },
        },
      });
      const m = due.message;
      const r = recorded(await run(due));
      expect(r.args).toEqual(args);
      expect(r.kwargs).toEqual(kwargs);
      expect(r.request).toMatchObject({
        id: m.id,
        root_id: m.id,
        timelimit: [300, 250],
        'x-int': 300,
        'x-neg': -129,
        'x-big': 2 ** 40,
        'x-float': 0.25,
        'x-obj': { '!': 'data', list: [1, 300, 70_000] },
        beat_entry: m.entry,
        delivery_info: { exchange: '', routing_key: `${P}default` },
      });
    });

    it('runs a canvas: a 3-step chain in order, each step given the previous result; link_error applied with the failing id; a chord of 5 and a chain whose body gets the 6 results', async () => {
      // The worker sends the later steps to their own queue options (its default queue is Celery's "celery").
      const on = { queue: `${P}default` };
      const canvas = (name: string, chain: unknown[], more: Record<string, unknown> = {}): DueRun => renderCanvas(name, { chain, ...more });
      const ids = (due: DueRun): string[] => {
        const body = JSON.parse(due.message.body) as [unknown, unknown, { chain: { options: { task_id: string } }[] }];
        return [JSON.parse(due.message.headersJson).id as string, ...body[2].chain.map((s) => s.options.task_id).reverse()];
      };
      const ok = canvas('amqp-chain', [
        { task: 'tsbeat_test.add', args: [2, 3] },
        { task: 'tsbeat_test.mul', args: [10], options: on },
        { task: 'tsbeat_test.add', args: [7], options: on },
      ]);
      const failing = canvas(
        'amqp-chain-fail',
        [
          { task: 'tsbeat_test.add', args: [1, 1] },
          { task: 'tsbeat_test.fail', immutable: true, options: on },
          { task: 'tsbeat_test.add', args: [1], options: on },
        ],
        { linkError: [{ task: 'tsbeat_test.errback', options: on }] },
      );
      const header = [1, 2, 3, 4, 5].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10], immutable: true, options: on }));
      const chord = canvas('amqp-chord', [
        { task: 'tsbeat_test.add', args: [0, 0] },
        {
          chord: {
            header: [
              ...header,
              {
                chain: [
                  { task: 'tsbeat_test.add', args: [1, 2], immutable: true, options: on },
                  { task: 'tsbeat_test.mul', args: [100], options: on },
                ],
              },
            ],
            body: { task: 'tsbeat_test.tsum', options: on },
          },
        },
      ]);
      expect(await publisher.dispatch([ok, failing, chord])).toEqual({ fenced: false, outcomes: ['published', 'published', 'published'] });
      const c = await waitForResult(redis, chord.message.id, workers);
      expect([c.status, c.result]).toEqual(['SUCCESS', { sum: 450, values: [10, 20, 30, 40, 50, 300] }]);
      const r = await waitForResult(redis, ok.message.id, workers);
      expect([r.status, r.result]).toEqual(['SUCCESS', 57]);
      const executed = await redis.lrange('tsbeat-test:executed', 0, -1);
      expect(executed.filter((id) => ids(ok).includes(id))).toEqual(ids(ok));
      expect((await waitForResult(redis, failing.message.id, workers)).status).toBe('FAILURE');
      const failedId = ids(failing)[1] as string;
      await waitUntil(
        'the errback to be applied with the failing id',
        async () => {
          for (const id of await redis.lrange('tsbeat-test:executed', 0, -1)) {
            const meta = JSON.parse((await redis.get(`celery-task-meta-${id}`)) ?? 'null') as TaskResult | null;
            if (meta?.status === 'SUCCESS' && (meta.result as { failed?: string } | null)?.failed === failedId) return true;
          }
          return undefined;
        },
        30_000,
      );
    });

    it('publishes to a custom queue through the default exchange, the worker having declared it first (no 406)', async () => {
      const r = recorded(await run(render({ options: { queue: queue('custom') } })));
      expect(r.request.delivery_info).toMatchObject({ exchange: '', routing_key: `${P}custom` });
    });

    it('publishes to a configured exchange and routing key when both are given', async () => {
      const ch = await admin.channel();
      const x = `${P}events`;
      exchanges.add(x);
      await ch.assertExchange(x, 'topic', { durable: true });
      await ch.bindQueue(`${P}events-q`, x, 'task.#');
      const r = recorded(
        await run(render({}, { taskRoutes: { 'tsbeat_test.*': { exchange: x, exchangeType: 'topic', routingKey: 'task.add' } } })),
      );
      expect(r.request.delivery_info).toMatchObject({ exchange: x, routing_key: 'task.add' });
    });

    it('runs the higher priority first on an x-max-priority queue (on RabbitMQ a higher number wins; published low first, worker started after)', async () => {
      const prioPublisher = await newPublisher('prio', { taskQueueMaxPriority: 10 });
      const q = queue('prio');
      const runs = [1, 3, 9, 5, 0].map((priority) => render({ options: { queue: q, priority } }));
      for (const due of runs) expect(await prioPublisher.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
      const sent = runs.map((due) => due.message);
      expect(await messageCount(q)).toBe(5);
      // Declared by tsbeat before any worker: the worker's own declaration (same task_queue_max_priority) must match.
      const w = await worker('prio', [q], { task_queue_max_priority: 10, worker_prefetch_multiplier: 1 });
      for (const m of sent) await waitForResult(redis, m.id, [w]);
      const executed = await redis.lrange('tsbeat-test:executed', 0, -1);
      const byId = new Map(sent.map((m) => [m.id, m.properties.priority]));
      expect(executed.filter((id) => byId.has(id)).map((id) => byId.get(id))).toEqual([9, 5, 3, 1, 0]);
    });

    it('gets REVOKED stored in the Redis result backend when expires has already passed', async () => {
      const r = await run(render({ options: { expires: '2000-01-01T00:00:00+00:00' } }));
      expect(r).toMatchObject({ status: 'REVOKED', result: { exc_type: 'TaskRevokedError', exc_message: ['expired'] } });
    });

    it('sets the expiration property: RabbitMQ discards a message whose expires passes while it waits in the queue', async () => {
      const q = queue('ttl');
      expect(await publisher.dispatch([render({ options: { queue: q, expires: 0.5 } }), render({ options: { queue: q } })])).toEqual({
        fenced: false,
        outcomes: ['published', 'published'],
      });
      expect(await messageCount(q)).toBe(2);
      await waitUntil('RabbitMQ to expire the message', async () => ((await messageCount(q)) === 1 ? true : undefined), 10_000);
      const got = await (await admin.channel()).get(q, { noAck: true });
      expect(got !== false && got.properties.expiration).toBeUndefined();
    });

    it("reports a message no queue takes (basic.return of a mandatory publish) as refused, its entry's fault, never as published", async () => {
      const ch = await admin.channel();
      const x = `${P}lonely`;
      exchanges.add(x);
      await ch.assertExchange(x, 'topic', { durable: true });
      const due = render({}, { taskRoutes: { 'tsbeat_test.*': { exchange: x, exchangeType: 'topic', routingKey: 'nobody.listens' } } });
      const outcome = await publisher.dispatch([due]);
      expect(outcome).toMatchObject({ fenced: false, outcomes: ['refused'] });
      expect('failure' in outcome && outcome.failure).toBe(false);
      const refusals = 'refusals' in outcome ? outcome.refusals : undefined;
      expect(refusals?.get(0)).toMatch(
        /^the broker returned it unroutable: no queue is bound to exchange ".*lonely" with routing key "nobody.listens" \(312 NO_ROUTE\)/,
      );
    });

    it("refuses a publish to a missing exchange with the broker's reason, and only it: the others of its batch, sent again alone on a channel of their own, go", async () => {
      const due = render({}, { taskRoutes: { 'tsbeat_test.*': { exchange: `${P}missing`, exchangeType: 'topic', routingKey: 'a' } } });
      const others = [render({ args: [1] }), render({ args: [2] })];
      const outcome = await publisher.dispatch([others[0] as DueRun, due, others[1] as DueRun]);
      expect(outcome).toMatchObject({ fenced: false, outcomes: ['published', 'refused', 'published'] });
      expect('failure' in outcome && outcome.failure).toBe(false);
      const refusals = 'refusals' in outcome ? outcome.refusals : undefined;
      expect(refusals?.get(1)).toMatch(/^the broker closed the channel on this message: .*NOT_FOUND - no exchange/);
      for (const other of others) recorded(await waitForResult(redis, other.message.id, workers));
      recorded(await run(render({})));
    });

    it('blames the missing exchange on its own message when two batches are in flight at once: the other batch, sent again alone, goes', async () => {
      // The runner keeps several batches in flight on one channel (dispatch-window.ts): the poisoned
      // message of one closes the channel under the other's messages, and again while they are sent
      // alone. Each round publishes the two batches together.
      const mark = logLines.length;
      const poisonedRoute = {
        taskRoutes: { 'tsbeat_test.*': { exchange: `${P}missing-2`, exchangeType: 'topic' as const, routingKey: 'a' } },
      };
      for (let round = 0; round < 3; round += 1) {
        const healthy = Array.from({ length: 30 }, (_, i) => render({ args: [round, i] }).message);
        const poisoned = [render({ args: [round] }).message, render({}, poisonedRoute).message];
        const [a, b] = await Promise.all([transport.send(await transport.plan(healthy)), transport.send(await transport.plan(poisoned))]);
        expect(a.map((r) => r.status)).toEqual(healthy.map(() => 'confirmed'));
        expect(b.map((r) => r.status)).toEqual(['confirmed', 'refused']);
        expect(b[1]?.status === 'refused' && b[1].reason).toMatch(
          /^the broker closed the channel on this message: .*NOT_FOUND - no exchange/,
        );
      }
      // The case at stake happened: healthy messages of the other batch (more than the poisoned batch's
      // two) failed by the close and sent again alone, in at least one round.
      const isolated = logLines
        .slice(mark)
        .map((l) => JSON.parse(l) as { event?: string; messages?: number })
        .filter((l) => l.event === EVENTS.brokerIsolate);
      expect(isolated.some((l) => (l.messages ?? 0) > 2)).toBe(true);
    });

    it('refuses (406) to declare a queue that exists with another x-max-priority, says how to fix it, and publishes the rest', async () => {
      const q = queue('mismatch');
      await (await admin.channel()).assertQueue(q, { durable: true, arguments: { 'x-max-priority': 5 } });
      const plan = await transport.plan([render({ options: { queue: q } }).message, render({}).message]);
      const results = await transport.send(plan);
      expect(results[1]).toEqual({ status: 'confirmed' });
      // Its entry's fault alone (its queue), so it is refused, not failed: the runner retries that entry on its own.
      const refusal = results[0];
      expect(refusal?.status).toBe('refused');
      const reason = refusal?.status === 'refused' ? refusal.reason : undefined;
      expect(reason).toContain(`cannot declare queue "${q}" (durable, no arguments) with its direct exchange "${q}": `);
      expect(reason).toContain("PRECONDITION_FAILED - inequivalent arg 'x-max-priority'");
      expect(reason).toContain(
        "make taskQueueMaxPriority, taskDefaultQueueType and taskCreateMissingQueueType match the workers' task_queue_max_priority",
      );
    });

    describe('SendThenCommitDispatcher: the state moves only with confirms, fenced', () => {
      const keys = schedulerKeys(`${P}state`, 'dispatch');
      const resolvedEntry = (name: string): ResolvedEntry => ({
        name,
        task: 'tsbeat_test.record',
        schedule: { kind: 'interval', everyMs: 1000, relative: false },
        timezone: 'UTC',
        args: [],
        kwargs: {},
        options: {},
        enabled: true,
        catchUp: 'all',
        catchUpWindowMs: undefined,
        jitterMs: 0,
        overlap: 'allow',
      });
      const dueRun = (
        name: string,
        slotMs: number,
        fields: { options?: OptionsInput } = {},
        cfg: { taskRoutes?: TaskRoutesInput } = {},
      ): DueRun => {
        const template = compileMessageTemplate(
          entry({ name, task: 'tsbeat_test.record', ...fields }),
          { ...config(cfg), taskDefaultQueue: BASE_QUEUES.taskDefaultQueue },
          env,
        );
        return {
          entry: resolvedEntry(name),
          slotMs,
          message: renderTaskMessage(template, { taskId: slotTaskId('amqp-test', name, slotMs), slotMs, nowMs: slotMs }),
        };
      };
      const stored = async (name: string) => readEntryState(await redis.hget(keys.state, name));

      it('publishes and records fresh runs, reports republished ones as stale, and publishes nothing for a deposed leader', async () => {
        const q = queue('dispatch');
        const dispatcher = new SendThenCommitDispatcher(transport, redis, keys, logger, DEFAULTS.maxClockSkewMs);
        await redis.set(keys.fence, 'leader-A');
        const runs = [dueRun('d1', 1_000_000, { options: { queue: q } }), dueRun('d2', 1_000_000, { options: { queue: q } })];
        expect(await dispatcher.dispatch(runs, 'leader-A', 5000)).toEqual({ fenced: false, outcomes: ['published', 'published'] });
        expect(await stored('d1')).toMatchObject({ slotMs: 1_000_000, runCount: 1, lastTaskId: runs[0]?.message.id, publishedAtMs: 5000 });
        expect(await messageCount(q)).toBe(2);
        expect(await dispatcher.dispatch(runs, 'leader-A', 6000)).toEqual({ fenced: false, outcomes: ['stale', 'stale'] });
        expect(await dispatcher.dispatch([dueRun('d1', 1_001_000, { options: { queue: q } })], 'deposed-B', 7000)).toEqual({
          fenced: true,
        });
        expect(await messageCount(q)).toBe(2);
        expect(await stored('d1')).toMatchObject({ slotMs: 1_000_000, runCount: 1 });
      });

      it('does not record a run the broker returned as unroutable; it is published and recorded once a queue is bound', async () => {
        const ch = await admin.channel();
        const x = `${P}later`;
        exchanges.add(x);
        await ch.assertExchange(x, 'direct', { durable: true });
        const dispatcher = new SendThenCommitDispatcher(transport, redis, keys, logger, DEFAULTS.maxClockSkewMs);
        await redis.set(keys.fence, 'leader-A');
        const routed = { taskRoutes: { 'tsbeat_test.*': { exchange: x, exchangeType: 'direct' as const, routingKey: 'later' } } };
        const run = dueRun('unroutable', 2_000_000, {}, routed);
        const ok = dueRun('routable', 2_000_000, { options: { queue: queue('dispatch') } });
        const partial = await dispatcher.dispatch([run, ok], 'leader-A', 1);
        expect(partial).toMatchObject({ fenced: false, outcomes: ['refused', 'published'] });
        expect('failure' in partial && partial.failure).toBe(false);
        expect('refusals' in partial ? partial.refusals?.get(0) : undefined).toMatch(
          /^the broker returned it unroutable: no queue is bound/,
        );
        expect(await stored('unroutable')).toBeUndefined();
        expect(await stored('routable')).toMatchObject({ slotMs: 2_000_000 });
        const q = queue('later');
        await ch.assertQueue(q, { durable: true });
        await ch.bindQueue(q, x, 'later');
        // The runner's retry: the recorded run comes back stale, the other is published now.
        expect(await dispatcher.dispatch([run, ok], 'leader-A', 2)).toEqual({ fenced: false, outcomes: ['published', 'stale'] });
        expect(await stored('unroutable')).toMatchObject({ slotMs: 2_000_000, runCount: 1 });
        expect(await messageCount(q)).toBe(1);
      });

      it('does not record a later slot of an entry whose earlier slot was not confirmed (the state only moves forward: that would skip it for good)', async () => {
        // A sender that loses the first message of every batch: an object literal, as the dispatcher needs only plan and send.
        const lossy: ConfirmingSender = {
          plan: (messages) => Promise.resolve(planAmqpPublish(messages, BASE_QUEUES)),
          send: (plan) =>
            Promise.resolve(
              plan.messages.map((_, i): AmqpSendResult =>
                i === 0 ? { status: 'failed', error: new Error('message nacked') } : { status: 'confirmed' },
              ),
            ),
        };
        const dispatcher = new SendThenCommitDispatcher(lossy, redis, keys, logger, DEFAULTS.maxClockSkewMs);
        await redis.set(keys.fence, 'leader-A');
        const runs = [dueRun('gap', 4_000_000), dueRun('gap', 4_001_000), dueRun('other', 4_000_000)];
        const partial = await dispatcher.dispatch(runs, 'leader-A', 1);
        // The held-back slot went out but is not recorded: unsent, as far as the state goes.
        expect(partial).toMatchObject({ fenced: false, outcomes: ['unsent', 'unsent', 'published'] });
        const error = 'failure' in partial ? partial.failure : undefined;
        expect((error as BeatError).message).toBe(
          '1 of 3 runs not confirmed by the broker and not recorded (1 published and recorded, 1 published but held back behind an unconfirmed slot); first: gap: message nacked',
        );
        expect(await stored('gap')).toBeUndefined();
        expect(await stored('other')).toMatchObject({ slotMs: 4_000_000 });
        expect(logLines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
          expect.objectContaining({ event: 'beat.publish.unrecorded', ids: [runs[1]?.message.id] }),
        );
      });

      it('beat run: the published runs of a batch that only partly went out are logged and counted as published; only the unroutable entry is marked failing and tried again', async () => {
        const fleet = new BeatFleet();
        const dir = new TempDir();
        try {
          const nowhere = `${P}nowhere`;
          exchanges.add(nowhere);
          await (await admin.channel()).assertExchange(nowhere, 'direct', { durable: true });
          const q = queue('partial');
          const statePrefix = `${P}partial-state`;
          const name = `amqp-partial-${process.pid}`;
          const cfg = dir.write('amqp-partial.json', {
            name,
            broker: { url: SHARED },
            state: { url: REDIS, prefix: statePrefix },
            taskDefaultQueue: q,
            taskRoutes: { 'tsbeat_test.unroutable': { exchange: nowhere, exchangeType: 'direct', routingKey: 'nobody' } },
            maxInterval: '200ms',
            lock: FAST_LOCK,
            // Seen at the same instant, so their first slots share a batch.
            beatSchedule: {
              routable: { task: 'tsbeat_test.record', schedule: 1 },
              unroutable: { task: 'tsbeat_test.unroutable', schedule: 1 },
            },
          });
          const beat = fleet.spawn({ config: cfg, args: ['--http', '127.0.0.1:0'] });
          const port = await httpPortOf(beat);
          await waitUntil(
            'three published runs',
            () => (beat.events('beat.fire').length >= 3 ? true : undefined),
            20_000,
            () => beat.tail(),
          );
          const metrics = parsePrometheus((await httpRequest(port, '/metrics')).body);
          beat.signal('SIGTERM');
          expect(await beat.waitForExit(15_000), beat.tail()).toEqual({ code: 0, signal: null });

          const fires = beat.events('beat.fire');
          expect(new Set(fires.map((l) => l['entry']))).toEqual(new Set(['routable']));
          // Nothing it published came back as "already published" on a retry.
          expect(beat.events('beat.stale')).toEqual([]);
          expect(await messageCount(q)).toBe(fires.length);
          // The unroutable entry's fault is its own: it is marked failing (logged once), the other publishes on without a retry of the batch.
          expect(beat.events('beat.publish.retry')).toEqual([]);
          const failing = beat.events(EVENTS.entryFailing);
          expect(failing.map((l) => l['entry'])).toEqual(['unroutable']);
          expect(String(failing[0]?.['reason'])).toMatch(/^the broker returned it unroutable: no queue is bound/);
          expect(sampleValue(metrics, 'tsbeat_runs_refused_total')).toBeGreaterThanOrEqual(1);
          expect(sampleValue(metrics, 'tsbeat_entry_failing', { entry: 'unroutable' })).toBe(1);
          expect(
            sampleValue(metrics, 'tsbeat_messages_published_total', { entry: 'routable', task: 'tsbeat_test.record', queue: q }),
          ).toBeGreaterThanOrEqual(3);
          const state = schedulerKeys(statePrefix, name).state;
          expect(await redis.hget(state, 'unroutable').then((v) => readEntryState(v)?.slotMs)).toBeUndefined();
        } finally {
          await fleet.killAll();
          dir.remove();
        }
      });

      it('publishes a manual run once, removes its request and confirms it for the CLI', async () => {
        const dispatcher = new SendThenCommitDispatcher(transport, redis, keys, logger, DEFAULTS.maxClockSkewMs);
        await redis.set(keys.fence, 'leader-A');
        const run = dueRun('manual', 3_000_000, { options: { queue: queue('dispatch') } });
        const request = JSON.stringify({ entry: 'manual', id: run.message.id, at: 3_000_000 });
        await redis.rpush(keys.triggers, request);
        expect(await dispatcher.publishTrigger(run.message, request, 'deposed-B', 3_000_001)).toBe(-1);
        expect(await dispatcher.publishTrigger(run.message, request, 'leader-A', 3_000_001)).toBe(1);
        expect(await redis.lrange(keys.triggers, 0, -1)).toEqual([]);
        expect(await redis.get(keys.triggered(run.message.id))).toBe('3000001');
        expect(await stored('manual')).toMatchObject({ runCount: 1, lastTaskId: run.message.id });
        expect(await dispatcher.publishTrigger(run.message, request, 'leader-A', 3_000_002)).toBe(0);
      });
    });
  },
);

privateSuite(
  `beat run against a private RabbitMQ node restarted while it runs${privateProblems.length === 0 ? '' : ` (skipped: ${privateProblems.join('; ')})`}`,
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    let node: PrivateRabbitNode | undefined;
    let redis: Redis;

    beforeAll(async () => {
      if (privateProblems.length > 0) throw new Error(privateProblems.join('; '));
      redis = new Redis(REDIS);
      await redis.flushdb();
    });

    afterAll(async () => {
      await fleet.killAll();
      await node?.remove();
      await redis?.flushdb();
      redis?.disconnect();
      dir.remove();
    });

    /** Takes every message off `q`, with its delivery count by task id. */
    async function drain(url: string, q: string): Promise<QueuedRun[]> {
      const model = await connect(url);
      try {
        const ch = await model.createChannel();
        const runs: QueuedRun[] = [];
        for (let got = await ch.get(q, { noAck: true }); got !== false; got = await ch.get(q, { noAck: true })) {
          const h = got.properties.headers as { id: string; task: string; beat_entry: string; beat_scheduled_at: string };
          JSON.parse(got.content.toString('utf8'));
          const slotMs = parseIsoInstant(h.beat_scheduled_at);
          if (slotMs === undefined) throw new Error(`bad beat_scheduled_at ${h.beat_scheduled_at}`);
          runs.push({ entry: h.beat_entry, task: h.task, id: h.id, slotMs });
        }
        return runs;
      } finally {
        await model.close();
      }
    }

    it('publishes every slot exactly once across a broker restart under a running beat (catchUp "all"; counted by task id)', async () => {
      // A retry (vitest.config.ts) starts afresh: no beat, node or state of the failed attempt.
      await fleet.killAll();
      await node?.remove();
      await redis.flushdb();
      node = await PrivateRabbitNode.create();
      const firstStartMs = await node.start();
      const q = `${P}beat`;
      const name = `amqp-restart-${process.pid}`;
      const statePrefix = `${P}beat-state`;
      const every = 2;
      const cfg = dir.write('amqp-restart.json', {
        name,
        broker: { url: node.url },
        state: { url: REDIS, prefix: statePrefix },
        taskDefaultQueue: q,
        maxInterval: '200ms',
        lock: FAST_LOCK,
        beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: every, catchUp: 'all' } },
      });
      const beat = fleet.spawn({ config: cfg });
      await waitUntil(
        'three publishes before the restart',
        () => (beat.events('beat.fire').length >= 3 ? true : undefined),
        30_000,
        () => beat.tail(),
      );

      // Stop right after a publish, so the stop lands in the gap before the next slot.
      const mark = beat.logs.length;
      await beat.waitForEvent('beat.fire', 10_000, mark);
      const stoppedAt = Date.now();
      const stopMs = await node.stop();
      await beat.waitForLog('a failed publish while the broker is down', (l) => l.event === 'beat.publish.retry', 15_000, mark);
      await sleep(2000);
      const restartMs = await node.start();
      const restartedAt = Date.now();
      const back = beat.logs.length;
      await beat.waitForLog(
        'the reconnection',
        (l) => l.event === 'beat.broker.reconnect' && l.msg === 'reconnected to the broker',
        20_000,
        back,
      );
      // Three publishes, one of them of a slot after the restart: on a loaded machine the first
      // ones after a slow restart can all be the outage's slots, replayed.
      await waitUntil(
        'three publishes after the restart, one of a slot after it',
        () => {
          const fires = beat.events('beat.fire', back);
          const slotAfter = fires.some((l) => logTimeMs(l) - Number(l['latenessMs']) > restartedAt + 100);
          return fires.length >= 3 && slotAfter ? true : undefined;
        },
        30_000,
        () => beat.tail(),
      );

      beat.signal('SIGTERM');
      expect(await beat.waitForExit(15_000), beat.tail()).toEqual({ code: 0, signal: null });
      expect(beat.allOutput()).not.toMatch(/Unhandled|uncaught/i);

      const runs = await drain(node.url, q);
      const report = checkSlots('tick', runs, every * 1000, name);
      expect(report, JSON.stringify({ report, tail: beat.tail(40) })).toMatchObject({
        duplicateSlots: [],
        duplicateIds: [],
        missingSlots: [],
        offGrid: [],
        wrongIds: [],
      });
      // The slots of the outage were published after it (replayed), not lost.
      const duringOutage = runs.filter((r) => r.slotMs > stoppedAt + 1000 && r.slotMs < restartedAt);
      expect(duringOutage.length).toBeGreaterThanOrEqual(1);
      expect(report.lastMs).toBeGreaterThan(restartedAt);
      // State and queue agree: the last slot stored, one run per message.
      const state = readEntryState(await redis.hget(schedulerKeys(statePrefix, name).state, 'tick'));
      expect(state).toMatchObject({ slotMs: report.lastMs, runCount: report.count, lastTaskId: slotTaskId(name, 'tick', report.lastMs) });
      console.info(
        `amqp restart: private node ${node.node} started in ${firstStartMs} ms, stopped in ${stopMs} ms, restarted in ${restartMs} ms; ` +
          `${report.count} slots, ${duringOutage.length} replayed after the outage`,
      );
    }, 180_000);

    const ensureNode = async (): Promise<PrivateRabbitNode> => {
      node ??= await PrivateRabbitNode.create();
      if (!node.running) await node.start();
      return node;
    };
    const tick = (name: string, i: number, q: string, body = ''): TaskMessage => {
      const template = compileMessageTemplate(
        entry({ name, task: 'tsbeat_test.record', args: [i, body] }),
        { ...config(), taskDefaultQueue: q },
        { origin: 'gen1@test', replyTo: '' },
      );
      return renderTaskMessage(template, { taskId: slotTaskId('amqp-test', name, i), slotMs: i, nowMs: Date.now() });
    };

    it('counts confirms outstanding when the broker crashes as not sent, and every confirmed message survives the crash', async () => {
      const n = await ensureNode();
      const q = `${P}crash`;
      const lines: string[] = [];
      const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
      const t = new AmqpTransport({ url: n.url, transportOptions: {}, queues: { ...BASE_QUEUES, taskDefaultQueue: q }, logger });
      try {
        await t.connect();
        await waitUntil('the transport to connect', () => (t.ready() ? true : undefined), 10_000);
        const confirmed = new Set<string>();
        const notSent = new Map<string, string>();
        let crashed = false;
        const crash = sleep(300).then(async () => {
          await n.crash();
          crashed = true;
        });
        // Publish continuously: some batch is always waiting for its confirms when the node dies.
        for (let i = 0; !crashed;) {
          const batch = Array.from({ length: 200 }, () => tick('crash', (i += 1), q, 'x'.repeat(2000)));
          const results = await t.send(await t.plan(batch));
          results.forEach((r, k) => {
            const id = (batch[k] as TaskMessage).id;
            if (r.status === 'confirmed') confirmed.add(id);
            else notSent.set(id, r.status === 'failed' ? r.error.message : r.reason);
          });
          if (i > 500_000) throw new Error('the crash never interrupted a publish');
          // Without a connection, send fails in microtasks only: yield, or the crash's own events never run.
          await new Promise((resolve) => setImmediate(resolve));
        }
        await crash;
        expect(notSent.size).toBeGreaterThan(0);
        expect(confirmed.size).toBeGreaterThan(0);
        expect([...new Set(notSent.values())].join('\n')).toMatch(/channel closed|Unexpected close|not connected|ECONNRESET|socket/i);
        expect(lines.map((l) => JSON.parse(l) as { msg?: string }).some((l) => l.msg?.startsWith('lost the broker connection'))).toBe(true);

        await n.start();
        await waitUntil('the transport to reconnect', () => (t.ready() ? true : undefined), 20_000);
        const queued = new Set((await drain(n.url, q)).map((r) => r.id));
        // No confirmed message is lost; a not-confirmed one may have arrived (at least once).
        expect([...confirmed].filter((id) => !queued.has(id))).toEqual([]);
        const arrivedUnconfirmed = [...notSent.keys()].filter((id) => queued.has(id)).length;
        console.info(
          `amqp crash: ${confirmed.size} confirmed (all kept), ${notSent.size} reported not sent, ${arrivedUnconfirmed} of those were on the broker anyway`,
        );
        expect(await t.send(await t.plan([tick('crash', 0, q)]))).toEqual([{ status: 'confirmed' }]);
      } finally {
        await t.close();
      }
    }, 120_000);

    it('fails a publish whose confirm does not come in time (RabbitMQ memory alarm) instead of waiting forever, and recovers', async () => {
      const n = await ensureNode();
      const q = `${P}alarm`;
      const lines: string[] = [];
      const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
      const t = new AmqpTransport({
        url: n.url,
        transportOptions: {},
        queues: { ...BASE_QUEUES, taskDefaultQueue: q },
        logger,
        confirmTimeoutMs: 2000,
      });
      try {
        await t.connect();
        await waitUntil('the transport to connect', () => (t.ready() ? true : undefined), 10_000);
        expect(await t.send(await t.plan([tick('alarm', 1, q)]))).toEqual([{ status: 'confirmed' }]);
        await n.ctl(['set_vm_memory_high_watermark', '0']);
        try {
          const started = Date.now();
          const [result] = await t.send(await t.plan([tick('alarm', 2, q)]));
          expect(Date.now() - started).toBeLessThan(2000 + 2000);
          expect(result).toMatchObject({ status: 'failed', error: { message: 'no publisher confirm within 2000 ms' } });
          expect(lines.map((l) => JSON.parse(l) as { event?: string }).some((l) => l.event === 'beat.broker.blocked')).toBe(true);
        } finally {
          await n.ctl(['set_vm_memory_high_watermark', '0.4']);
        }
        await waitUntil(
          'a confirmed publish after the alarm cleared',
          async () => ((await t.send(await t.plan([tick('alarm', 3, q)])))[0]?.status === 'confirmed' ? true : undefined),
          30_000,
        );
      } finally {
        await t.close();
      }
    }, 120_000);
  },
);
