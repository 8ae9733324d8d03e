/**
 * The broker connection cut while publishing: `beat run`, on a private redis-server (a free port of
 * 6381-6389, DEBUG allowed from loopback), publishes entries every second while the test kills its
 * broker connection (CLIENT KILL): at the start of bursts of 1,500, again and again; and between a
 * script that ran and its reply, which the retry must find already published, not send twice.
 * Afterwards every slot of every entry, from its first to its last, must be in the queue exactly
 * once, and the stored state must agree with the queue.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { byEntry, checkSlots, readQueue } from '../support/beat-queue.js';
import { httpPortOf, parsePrometheus, sampleValue, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const CLIENT_NAME = 'tsbeat-connection-kill-broker';
const CHAOS_MS = 20_000;
const LOST_REPLY_ATTEMPTS = 5;

const fleet = new BeatFleet();
const dir = new TempDir();
let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startPrivateRedis({ args: ['--enable-debug-command', 'local'] });
  redis = new Redis(server.url());
});

afterAll(async () => {
  await fleet.killAll();
  redis?.disconnect();
  await server?.stop();
  dir.remove();
});

/**
 * The id of the scheduler's broker connection, if connected. Its state and pub/sub connections carry
 * the same name (they take the broker's transport options); the broker connection is the one opened
 * last, and the only one that reconnects here, so it has the highest id of the two that are not
 * subscribed. Were the state connection ever picked, the test would see it reconnect and fail.
 */
async function brokerConnectionId(): Promise<string | undefined> {
  const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${CLIENT_NAME} `) && / sub=0 /.test(line) && / psub=0 /.test(line))
    .map((line) => Number(/\bid=(\d+)/.exec(line)?.[1]));
  return ids.length < 2 ? undefined : String(Math.max(...ids));
}

/**
 * How many batches failed to publish (the leader's tsbeat_publish_errors_total, from its /metrics).
 * Not the "publishing failed; retrying" lines: a failure that comes while the connection's outage
 * is open (beat.redis.down, nearly always so when it is killed) is logged at debug (base/outages.ts).
 */
type PublishErrors = () => Promise<number>;

function publishErrorsOf(port: number): PublishErrors {
  return async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return sampleValue(parsePrometheus(text), 'tsbeat_publish_errors_total') ?? 0;
  };
}

/**
 * Runs one `beat run` of `entries` entries every second (catchUp "all") on database `db` of the
 * private server while `chaos` does its worst to the broker connection, then stops it cleanly and
 * checks that every slot of every entry went out exactly once and that the state agrees. Returns
 * the beat and how many of its batches failed to publish.
 */
async function publishThrough(
  name: string,
  db: number,
  entries: number,
  chaos: (beat: BeatProcess, client: Redis, publishErrors: PublishErrors) => Promise<void>,
): Promise<{ beat: BeatProcess; failed: number }> {
  const client = new Redis(server.url(db));
  try {
    // A retry of the test starts afresh: the first try's queue and state would be read as this one's.
    await client.flushdb();
    const beatSchedule = Object.fromEntries(
      Array.from({ length: entries }, (_, i) => [`e${i}`, { task: 't.kill', schedule: 1, catchUp: 'all' }]),
    );
    const config = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(db), transportOptions: { clientName: CLIENT_NAME } },
      lock: FAST_LOCK,
      beatSchedule,
    });
    const beat = fleet.spawn({ config, args: ['--http', '127.0.0.1:0'] });
    const publishErrors = publishErrorsOf(await httpPortOf(beat));
    await beat.waitForEvent('beat.lock.acquired', 15_000);
    await beat.waitForEvent('beat.fire', 15_000);
    const started = Date.now();
    await chaos(beat, client, publishErrors);
    // Let it catch up over a connection left alone, then stop it cleanly. On a loaded machine the
    // kills fail a batch of nearly every wake-up (the first, small batch grows the queue, and the
    // kill lands on the next), each retried a second later, so the runs of the chaos pile up: tens
    // of thousands at 1,500 entries, published once the connection is left alone (catchUp "all").
    // Stopped only when every entry's state is within two slots of now.
    const store = new RedisStateStore(client, schedulerKeys('tsbeat', name));
    await waitUntil(
      'every entry caught up after the chaos',
      async () => {
        const states = await store.readAll();
        const behind = Date.now() - 2000;
        return states.size === entries && [...states.values()].every((s) => (s.slotMs ?? 0) >= behind) ? true : undefined;
      },
      60_000,
      () => beat.tail(10, ['beat.fire', 'beat.catch_up']),
    );
    const failed = await publishErrors();
    const stoppedAt = Date.now();
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(15_000), beat.tail()).toEqual({ code: 0, signal: null });
    // Only the broker connection was cut: the state connection and the leadership held throughout.
    expect(beat.events('beat.redis.reconnect'), beat.tail(20, ['beat.fire', 'beat.catch_up'])).toEqual([]);
    expect(beat.events('beat.lock.acquired')).toHaveLength(1);

    const runs = byEntry(await readQueue(client));
    const state = await store.readAll();
    expect(runs.size).toBe(entries);
    const problems: unknown[] = [];
    for (let i = 0; i < entries; i += 1) {
      const entry = `e${i}`;
      const list = runs.get(entry) ?? [];
      const report = checkSlots(entry, list, 1000, name);
      const stored = state.get(entry);
      const whole =
        report.duplicateSlots.length +
          report.duplicateIds.length +
          report.missingSlots.length +
          report.offGrid.length +
          report.wrongIds.length ===
          0 &&
        report.firstMs < started &&
        report.lastMs > stoppedAt - 3000 &&
        stored?.slotMs === report.lastMs &&
        stored.runCount === report.count &&
        stored.lastTaskId === list[list.length - 1]?.id;
      if (!whole) problems.push({ report, stored });
    }
    // The first few entries that went wrong, rather than one assertion message per entry.
    expect(problems.slice(0, 3)).toEqual([]);
    return { beat, failed };
  } finally {
    client.disconnect();
  }
}

describe('the broker connection killed while publishing', () => {
  it(
    'publishes every slot exactly once while the connection is killed whenever a burst of 1,500 starts to arrive',
    async () => {
      let kills = 0;
      let chaosMs = 0;
      const { failed } = await publishThrough('kill-bursts', 0, 1500, async (_beat, client, publishErrors) => {
        const started = Date.now();
        let id: string | undefined;
        let length = await client.llen('celery');
        // A burst now takes a few tens of milliseconds: on a loaded machine the kills can all land
        // between bursts for a while, so the chaos goes on (up to three times as long) until one has
        // failed a publish, which the test is about.
        let lookedAt = 0;
        let failedYet = false;
        const going = async (): Promise<boolean> => {
          const ms = Date.now() - started;
          if (ms < CHAOS_MS) return true;
          if (!failedYet && Date.now() - lookedAt >= 500) {
            lookedAt = Date.now();
            failedYet = (await publishErrors()) > 0;
          }
          return !failedYet && ms < 3 * CHAOS_MS;
        };
        while (await going()) {
          id ??= await brokerConnectionId();
          const now = await client.llen('celery');
          const growing = now > length;
          length = now;
          if (!growing || id === undefined) {
            await sleep(1);
            continue;
          }
          // A burst is being written: cut the connection between two of its scripts (or after the last).
          if ((await redis.call('CLIENT', 'KILL', 'ID', id)) === 1) kills += 1;
          id = undefined;
          await sleep(200 + Math.floor(Math.random() * 700));
          length = await client.llen('celery');
        }
        chaosMs = Date.now() - started;
      });
      console.info(
        `connection-kill: ${kills} kills in ${Math.round(chaosMs / 1000)} s; ${failed} batches failed to publish and were retried`,
      );
      // The kills landed while bursts were in flight, not only between them.
      expect(kills).toBeGreaterThanOrEqual(10);
      expect(failed).toBeGreaterThanOrEqual(1);
    },
    3 * CHAOS_MS + 120_000,
  );

  it('a script that ran but whose reply was lost with the connection is found already published on the retry, not sent again', async () => {
    const sleeper = new Redis(server.url());
    try {
      const { beat, failed } = await publishThrough('lost-replies', 1, 3, async (_beat, client) => {
        // Redis is put to sleep (DEBUG SLEEP, on a connection of its own) just before a slot, so
        // that the slot's script and then the CLIENT KILL wait in its sockets. When it wakes it
        // reads both in one turn of its loop, runs the script, then the kill, and the reply, not
        // yet written, goes with the connection.
        const phaseMs = (await readQueue(client)).at(-1)?.slotMs ?? 0;
        for (let attempt = 0; attempt < LOST_REPLY_ATTEMPTS; attempt += 1) {
          const id = await waitUntil('the broker connection', brokerConnectionId, 10_000);
          const nextSlot = phaseMs + Math.ceil((Date.now() + 400 - phaseMs) / 1000) * 1000;
          await sleep(nextSlot - 60 - Date.now());
          const asleep = sleeper.call('DEBUG', 'SLEEP', '0.3');
          await sleep(150);
          await redis.call('CLIENT', 'KILL', 'ID', id);
          await asleep;
          await sleep(1200);
        }
      });
      const stale = beat.events('beat.stale').length;
      console.info(`lost replies: ${failed} batches failed to publish; ${stale} runs found already published on the retry`);
      expect(stale).toBeGreaterThanOrEqual(1);
    } finally {
      sleeper.disconnect();
    }
  }, 90_000);
});
