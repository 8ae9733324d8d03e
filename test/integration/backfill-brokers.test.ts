/**
 * `beat backfill` on RabbitMQ (the shared node on 5672, a queue of this test's own) and on SQS (the
 * local SQS server on a free port), each with its state on a private Redis: the leader claims each
 * step, sends it with the broker's confirms, then records it. What reaches the queue is read off it
 * here (amqplib's basic.get; SQS ReceiveMessage) and held to `beat next --after` and to each slot's
 * task id computed from RFC 9562 (not by tsbeat's code): every slot of the range once, the command
 * repeated publishes none. On RabbitMQ the leader is SIGKILLed half-way (its state Redis held still
 * by CLIENT PAUSE so that "half-way" is certain): the standby goes on after the last recorded step,
 * every slot arrives, and a slot that arrives twice (sent by the dead leader, not recorded) carries
 * the same task id, at most one step's worth of them.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { parseIsoInstant } from '../../src/celery/time.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { FAST_LOCK } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { killLeaderMidBackfill } from '../support/backfill-takeover.js';
import { runBeatCli, uniqueName } from '../support/ops.js';
import { portOpen } from '../support/rabbitmq-node.js';
import { slotId } from '../support/slot-id.js';
import { freePort } from '../support/redis-server.js';
import { LocalSqs } from '../support/sqs-server.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SHARED_AMQP = 'amqp://guest:guest@127.0.0.1:5672//';
const rabbitUp = await portOpen(5672);
// In CI the suite must run: a missing broker fails it instead of skipping it.
const amqpSuite = rabbitUp || process.env['CI'] ? describe : describe.skip;

interface Arrived {
  readonly id: string;
  readonly entry: string;
  readonly slotMs: number;
}

interface Result {
  published: number;
  total: number;
  skipped: { recorded: number; excluded: number; ahead: number; unrecorded: number };
}

/** A Celery message's headers (protocol 2) as a run: task id, entry, slot. */
function arrived(headers: Record<string, unknown>): Arrived {
  const slotMs = parseIsoInstant(String(headers['beat_scheduled_at']));
  if (slotMs === undefined) throw new Error(`bad beat_scheduled_at ${String(headers['beat_scheduled_at'])}`);
  return { id: String(headers['id']), entry: String(headers['beat_entry']), slotMs };
}

describe('beat backfill on RabbitMQ and SQS', () => {
  const suite = beatSuite();
  const { fleet, dir } = suite;
  // A past range of whole hours: from six hours and a half back to half an hour back.
  const hour = Math.floor(Date.now() / HOUR) * HOUR;
  const fromMs = hour - 6 * HOUR - 30 * MINUTE;
  const toMs = hour - 30 * MINUTE;
  const iso = (ms: number): string => new Date(ms).toISOString();
  const minutes = Array.from({ length: 6 * 60 + 1 }, (_, i) => fromMs + i * MINUTE);

  async function backfill(file: string, entry: string, ...extra: string[]): Promise<Result> {
    const run = await runBeatCli(['backfill', entry, '--config', file, '--from', iso(fromMs), '--to', iso(toMs), '--json', ...extra], {
      timeoutMs: 90_000,
    });
    expect(run, run.stderr).toMatchObject({ code: 0 });
    return JSON.parse(run.stdout) as Result;
  }

  /** `beat next --after` over the range: the oracle of which slots it holds. */
  async function nextInRange(file: string, entry: string): Promise<number[]> {
    const args = ['next', '--config', file, '--entry', entry, '--after', iso(fromMs - 1000), '--count', '1000', '--json'];
    const run = await runBeatCli(args);
    expect(run.code, run.stderr).toBe(0);
    const fires = (JSON.parse(run.stdout) as { entries: { next: string[] }[] }).entries[0]?.next ?? [];
    return fires.map((text) => Date.parse(text)).filter((ms) => ms <= toMs);
  }

  amqpSuite('RabbitMQ', () => {
    const name = uniqueName('bf-amqp');
    const queue = `${name}-q`;
    let file: string;

    /** Takes every message off the queue. */
    async function drain(): Promise<Arrived[]> {
      const model = await connect(SHARED_AMQP);
      try {
        const ch = await model.createChannel();
        await ch.assertQueue(queue);
        const runs: Arrived[] = [];
        for (let got = await ch.get(queue, { noAck: true }); got !== false; got = await ch.get(queue, { noAck: true }))
          runs.push(arrived(got.properties.headers as Record<string, unknown>));
        return runs;
      } finally {
        await model.close();
      }
    }

    beforeAll(async () => {
      file = dir.write(`${name}.json`, {
        name,
        broker: { url: SHARED_AMQP },
        state: { url: suite.redis.url(1) },
        lock: FAST_LOCK,
        beatSchedule: { minutely: { task: 'tsbeat_test.record', schedule: { crontab: { minute: '*' } }, options: { queue } } },
      });
    });
    afterAll(async () => {
      const model = await connect(SHARED_AMQP).catch(() => undefined);
      await (await model?.createChannel())?.deleteQueue(queue);
      await model?.close();
    });

    it('a leader SIGKILLed half-way: the standby goes on, every slot arrives with its id, a resend only with the same id; again none', async () => {
      const state = suite.redis.client(1);
      const keys = schedulerKeys('tsbeat', name);
      const leader = fleet.spawn({ config: file, label: 'amqp-leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      const standby = fleet.spawn({ config: file, label: 'amqp-standby' });
      await standby.waitForEvent(EVENTS.standby, 20_000);
      expect(await nextInRange(file, 'minutely')).toEqual(minutes);

      const running = backfill(file, 'minutely', '--note', 'broker outage');
      // The first step is recorded: hold the state Redis still (the leader's next claim or commit waits), kill the leader, let go.
      const halfWay = await killLeaderMidBackfill(state, keys.backfill('*'), leader, fleet);
      expect(halfWay).toBeLessThan(minutes.length);

      const result = await running;
      expect(result).toMatchObject({ published: minutes.length, total: minutes.length, skipped: { recorded: 0 } });
      expect(standby.logs.some((l) => l['event'] === EVENTS.backfill)).toBe(true);
      // The schedule sends this entry's current minutes to the same queue: those are after the range.
      const got = (await drain()).filter((r) => r.slotMs <= toMs);
      const expectedIds = minutes.map((ms) => slotId(name, 'minutely', ms));
      expect([...new Set(got.map((r) => r.id))].sort()).toEqual([...expectedIds].sort());
      for (const r of got) expect(r.id).toBe(slotId(name, 'minutely', r.slotMs));
      // Sent by the dead leader and not recorded: sent again by the standby, with the same ids — one step at most.
      expect(got.length - minutes.length).toBeLessThanOrEqual(DEFAULTS.backfillChunk);
      state.disconnect();

      const again = await backfill(file, 'minutely');
      expect(again).toMatchObject({ published: 0, skipped: { recorded: minutes.length } });
      expect((await drain()).filter((r) => r.slotMs <= toMs)).toEqual([]);
    }, 240_000);
  });

  describe('SQS', () => {
    const name = uniqueName('bf-sqs');
    const queue = `${name}-q`;
    let sqs: LocalSqs;
    let sqsClient: SQSClient;
    let file: string;

    /** Receives and deletes every message in the queue. */
    async function drain(): Promise<Arrived[]> {
      const runs: Arrived[] = [];
      for (;;) {
        const reply = await sqsClient.send(
          new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        const messages = reply.Messages ?? [];
        if (messages.length === 0) return runs;
        for (const m of messages) {
          // kombu's envelope, base64-encoded as a whole (sqs/message.ts).
          const envelope = JSON.parse(Buffer.from(m.Body ?? '', 'base64').toString('utf8')) as { headers: Record<string, unknown> };
          runs.push(arrived(envelope.headers));
        }
        await sqsClient.send(
          new DeleteMessageBatchCommand({
            QueueUrl: sqs.queueUrl(queue),
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
      }
    }

    beforeAll(async () => {
      sqs = new LocalSqs(await freePort(), [queue]);
      await sqs.start();
      sqsClient = new SQSClient({
        endpoint: `http://127.0.0.1:${sqs.port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      file = dir.write(`${name}.json`, {
        name,
        broker: { url: sqs.url, transportOptions: { region: 'us-east-1', is_secure: false } },
        state: { url: suite.redis.url(2) },
        lock: FAST_LOCK,
        beatSchedule: {
          // Every 10 minutes with one whole UTC hour excluded: 37 slots over the six hours, 6 of them excluded.
          tenth: {
            task: 'tsbeat_test.record',
            schedule: { crontab: { minute: '*/10' } },
            exclude: [`* ${new Date(fromMs + 2 * HOUR).getUTCHours()} * * *`],
            timezone: 'UTC',
            options: { queue },
          },
        },
      });
    });
    afterAll(async () => {
      sqsClient?.destroy();
      await sqs?.stop();
    });

    it('publishes exactly the slots beat next lists for the range, each once, with its slot id; again none', async () => {
      const leader = fleet.spawn({ config: file, label: 'sqs-leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      const expected = await nextInRange(file, 'tenth');
      expect(expected).toHaveLength(37 - 6);

      const first = await backfill(file, 'tenth');
      expect(first).toMatchObject({ published: expected.length, total: 37, skipped: { recorded: 0, excluded: 6, ahead: 0 } });
      const got = (await drain()).filter((r) => r.slotMs <= toMs);
      expect(got.map((r) => r.id).sort()).toEqual(expected.map((ms) => slotId(name, 'tenth', ms)).sort());
      expect(new Set(got.map((r) => r.entry))).toEqual(new Set(['tenth']));

      const again = await backfill(file, 'tenth');
      expect(again).toMatchObject({ published: 0, skipped: { recorded: expected.length, excluded: 6 } });
      expect((await drain()).filter((r) => r.slotMs <= toMs)).toEqual([]);
    }, 180_000);
  });
});
