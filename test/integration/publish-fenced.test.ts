/**
 * publish-fenced.lua on the shared Redis (DB 12, this file's only DB), through the KEYS/ARGV
 * protocol its header documents: the fence, the per-slot check, the state it writes, and
 * all-or-nothing when a push would fail. The runner's guarantees rest on these. Then the fenced
 * dispatcher, which sends it with arguments encoded by hand.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { redisEnvelope } from '../../src/kombu/redis-envelope.js';
import { packArgs } from '../../src/kombu/redis-envelope.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { createLogger } from '../../src/base/log.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { createHash } from 'node:crypto';
import { lua, withScripts } from '../../src/redis/scripts.js';
import type { DueRun } from '../../src/ports/dispatcher.js';
import { ENV } from '../support/messages.js';

const DB = 12;
const URL = `redis://127.0.0.1:6379/${DB}`;
const keys = schedulerKeys('tsbeat', 'fenced-test');
const T = 1_795_243_280_537; // an epoch-ms slot with every digit significant

interface Run {
  readonly entry: string;
  readonly slot: number;
  readonly id?: string;
  /** [list key, payload] */
  readonly pushes?: readonly (readonly [string, string])[];
  /** [channel, payload] */
  readonly channels?: readonly (readonly [string, string])[];
  /** The revision of a runtime entry's record the run was read from; undefined: a config-file entry. */
  readonly revision?: string;
}

let redis: Redis;
let second: Redis;

/** Calls the script as the fenced dispatcher does: four columns of runs, then the delivery groups. */
async function publish(
  client: Redis,
  token: string,
  nowMs: number,
  runs: readonly Run[],
  maxAheadMs: number = DEFAULTS.maxClockSkewMs,
): Promise<number[]> {
  const allKeys = [keys.fence, keys.state, keys.entries, keys.stop];
  const groups = new Map<string, { kind: 'list' | 'channel'; target: string; runs: number[]; payloads: string[] }>();
  const group = (kind: 'list' | 'channel', name: string): { runs: number[]; payloads: string[] } => {
    let g = groups.get(`${kind}:${name}`);
    if (g === undefined) {
      let target = name;
      if (kind === 'list') {
        let index = allKeys.indexOf(name) + 1;
        if (index === 0) index = allKeys.push(name);
        target = String(index);
      }
      g = { kind, target, runs: [], payloads: [] };
      groups.set(`${kind}:${name}`, g);
    }
    return g;
  };
  runs.forEach((run, i) => {
    for (const [key, payload] of run.pushes ?? [['celery', `${run.entry}@${run.slot}`] as const]) {
      group('list', key).runs.push(i + 1);
      group('list', key).payloads.push(payload);
    }
    for (const [channel, payload] of run.channels ?? []) {
      group('channel', channel).runs.push(i + 1);
      group('channel', channel).payloads.push(payload);
    }
  });
  const argv: string[] = [token, String(maxAheadMs), String(runs.length)];
  argv.push(...runs.map((r) => r.entry), ...runs.map((r) => String(r.slot)));
  argv.push(...runs.map((r) => `"at":${nowMs},"id":${JSON.stringify(r.id ?? `id-${r.entry}-${r.slot}`)},"n":`));
  argv.push(...runs.map((r) => r.revision ?? ''));
  argv.push(String(groups.size));
  for (const g of groups.values()) argv.push(g.kind, g.target, g.runs.join(' '), String(g.payloads.length), ...g.payloads);
  return withScripts(client).publishFenced(allKeys.length, ...allKeys, packArgs(argv).bytes);
}

async function stateOf(entry: string): Promise<unknown> {
  const text = await redis.hget(keys.state, entry);
  return text === null ? undefined : JSON.parse(text);
}

beforeAll(async () => {
  redis = new Redis(URL);
  second = new Redis(URL);
  await redis.flushdb();
});

beforeEach(async () => {
  await redis.flushdb();
  await redis.set(keys.fence, 'leader-token');
});

afterAll(async () => {
  await redis.flushdb();
  redis.disconnect();
  second.disconnect();
});

describe('publish-fenced.lua', () => {
  it('a deposed leader cannot publish: a token that is not the fence pushes and writes nothing', async () => {
    expect(await publish(redis, 'old-leader-token', T, [{ entry: 'e', slot: T }])).toEqual([-1]);
    await redis.del(keys.fence); // Redis lost its data: no fence at all
    expect(await publish(redis, 'leader-token', T, [{ entry: 'e', slot: T }])).toEqual([-1]);
    expect(await redis.dbsize()).toBe(0);
  });

  it('publishes a new slot and stores it exactly; a slot at or before the stored one is stale and writes nothing', async () => {
    expect(await publish(redis, 'leader-token', T + 3, [{ entry: 'e', slot: T, id: 'task-1' }])).toEqual([1, 1]);
    expect(await stateOf('e')).toEqual({ slot: T, at: T + 3, n: 1, id: 'task-1' });
    expect(
      await publish(redis, 'leader-token', T + 9, [
        { entry: 'e', slot: T },
        { entry: 'e', slot: T - 1000 },
      ]),
    ).toEqual([1, 0, 0]);
    expect(await redis.lrange('celery', 0, -1)).toEqual([`e@${T}`]);
    expect(await stateOf('e')).toEqual({ slot: T, at: T + 3, n: 1, id: 'task-1' });
    // A first sighting ({seen, n}) is not a slot: the first run goes through and counts from n.
    await redis.hset(keys.state, 'f', JSON.stringify({ seen: T - 5000, n: 0 }));
    expect(await publish(redis, 'leader-token', T, [{ entry: 'f', slot: T }])).toEqual([1, 1]);
    expect(await stateOf('f')).toMatchObject({ slot: T, n: 1 });
  });

  it('no slot is published twice when calls race: 40 overlapping calls on two connections publish each slot once', async () => {
    const slots = Array.from({ length: 10 }, (_, i) => T + i * 1000);
    const calls = Array.from({ length: 40 }, (_, i) => {
      const from = i % 5;
      return publish(
        i % 2 === 0 ? redis : second,
        'leader-token',
        T,
        slots.slice(from, from + 4).map((slot) => ({ entry: 'race', slot })),
      );
    });
    await Promise.all(calls);
    const pushed = await redis.lrange('celery', 0, -1);
    expect(new Set(pushed).size).toBe(pushed.length);
    // Only slots newer than the stored one go: a call that comes after a later slot finds its own stale.
    for (const payload of pushed) expect(slots.map((s) => `race@${s}`)).toContain(payload);
    expect(await stateOf('race')).toMatchObject({ n: pushed.length });
  });

  it("the entry fence: a run whose revision is not its record's version (edited, deleted, created again) is refused (2) with nothing written for it; the others go on", async () => {
    const record = (v: number, i: number): string => `{"v":${v},"i":${i},"created":1,"updated":1,"entry":{"schedule":1,"task":"t"}}`;
    await redis.hset(keys.entries, 'kept', record(7, 3), 'edited', record(9, 4), 'reborn', record(12, 12));
    await redis.hset(keys.state, 'deleted', JSON.stringify({ seen: T - 1, n: 0 })); // a state the delete left (--keep-history)
    const reply = await publish(redis, 'leader-token', T, [
      { entry: 'kept', slot: T, revision: '7' },
      { entry: 'kept', slot: T + 1000, revision: '7' },
      { entry: 'edited', slot: T, revision: '8' }, // read before the edit that made it 9
      { entry: 'deleted', slot: T, revision: '5' }, // no record any more
      { entry: 'reborn', slot: T, revision: '10' }, // deleted and created again (incarnation 12)
      { entry: 'file', slot: T }, // a config-file entry: no revision, not checked
    ]);
    expect(reply).toEqual([1, 1, 1, 2, 2, 2, 1]);
    expect((await redis.lrange('celery', 0, -1)).reverse()).toEqual([`kept@${T}`, `kept@${T + 1000}`, `file@${T}`]);
    expect(await stateOf('kept')).toMatchObject({ slot: T + 1000, n: 2 });
    expect(await stateOf('edited')).toBeUndefined();
    expect(await stateOf('reborn')).toBeUndefined();
    expect(await stateOf('deleted')).toEqual({ seen: T - 1, n: 0 });
    // A record of the form written before incarnations is checked by its version all the same.
    await redis.hset(keys.entries, 'old', '{"v":4,"created":1,"updated":1,"entry":{"schedule":1,"task":"t"}}');
    expect(await publish(redis, 'leader-token', T, [{ entry: 'old', slot: T, revision: '4' }])).toEqual([1, 1]);
    expect(await publish(redis, 'leader-token', T, [{ entry: 'old', slot: T + 1000, revision: '3' }])).toEqual([1, 2]);
    expect(await stateOf('old')).toMatchObject({ slot: T, n: 1 });
  });

  it('a run that reached no queue moves the state forward so it is not retried forever', async () => {
    expect(await publish(redis, 'leader-token', T, [{ entry: 'd', slot: T, pushes: [] }])).toEqual([1, 1]);
    expect(await stateOf('d')).toMatchObject({ slot: T, n: 1 });
    expect(await redis.exists('celery')).toBe(0);
  });

  it('a queue key that is not a list refuses only the runs that push to it (code 3, the key and its type after the codes): none of their pushes, no state; the others go', async () => {
    await redis.set('not-a-list', 'some string');
    await redis.hset('app-hash', 'f', 'v');
    const batch: Run[] = [
      { entry: 'first', slot: T },
      {
        entry: 'fanned',
        slot: T,
        pushes: [
          ['q1', 'fanned-1'],
          ['not-a-list', 'fanned-2'],
        ],
      },
      // A catch-up of a refused entry: its later slot is held back too, whatever its queues.
      { entry: 'fanned', slot: T + 1000, pushes: [['q1', 'fanned-later']] },
      { entry: 'hashed', slot: T, pushes: [['app-hash', 'x']] },
      { entry: 'last', slot: T, pushes: [['q1', 'last-1']] },
    ];
    expect(await publish(redis, 'leader-token', T, batch)).toEqual([1, 1, 3, 3, 3, 1, 'not-a-list', 'string', 'app-hash', 'hash']);
    expect(await redis.lrange('celery', 0, -1)).toEqual([`first@${T}`]);
    expect(await redis.lrange('q1', 0, -1)).toEqual(['last-1']);
    expect(await redis.get('not-a-list')).toBe('some string');
    expect(await redis.hgetall('app-hash')).toEqual({ f: 'v' });
    expect(Object.keys(await redis.hgetall(keys.state)).sort()).toEqual(['first', 'last']);

    // Once the key is fixed, the retry publishes each of the refused pushes exactly once.
    await redis.del('not-a-list');
    expect(await publish(redis, 'leader-token', T, batch)).toEqual([1, 0, 1, 1, 3, 0, 'app-hash', 'hash']);
    expect(await redis.lrange('q1', 0, -1)).toEqual(['fanned-later', 'fanned-1', 'last-1']);
    expect(await redis.lrange('not-a-list', 0, -1)).toEqual(['fanned-2']);
    expect(await stateOf('fanned')).toMatchObject({ slot: T + 1000, n: 2 });
  });

  it('the state hash of another type still refuses the whole batch (the deployment is wrong, not an entry)', async () => {
    await redis.set(keys.state, 'stray');
    await expect(publish(redis, 'leader-token', T, [{ entry: 'a', slot: T }])).rejects.toThrow(
      /WRONGTYPE publish-fenced: .*state holds a string/,
    );
    expect(await redis.exists('celery')).toBe(0);
  });

  it("with stale runs in a batch, only the fresh runs' payloads go, in order, to every list and channel", async () => {
    await publish(redis, 'leader-token', T, [{ entry: 'old', slot: T }]);
    await redis.del('celery');
    const subscriber = new Redis(URL);
    const heard: string[] = [];
    try {
      await subscriber.subscribe('fan');
      subscriber.on('message', (_channel: string, payload: string) => heard.push(payload));
      const fanned = (entry: string, slot: number): Run => ({
        entry,
        slot,
        pushes: [
          ['celery', `${entry}@${slot}`],
          ['q2', `${entry}@${slot}#2`],
        ],
        channels: [['fan', `${entry}@${slot}!`]],
      });
      const codes = await publish(redis, 'leader-token', T + 5, [
        fanned('a', T),
        fanned('old', T),
        fanned('b', T),
        fanned('old', T + 1000),
      ]);
      expect(codes).toEqual([1, 1, 0, 1, 1]);
      // LPUSH puts the newest at the head: reversed, the lists read in run order.
      expect((await redis.lrange('celery', 0, -1)).reverse()).toEqual([`a@${T}`, `b@${T}`, `old@${T + 1000}`]);
      expect((await redis.lrange('q2', 0, -1)).reverse()).toEqual([`a@${T}#2`, `b@${T}#2`, `old@${T + 1000}#2`]);
      await expect.poll(() => heard).toEqual([`a@${T}!`, `b@${T}!`, `old@${T + 1000}!`]);
      expect(await stateOf('old')).toMatchObject({ slot: T + 1000, at: T + 5, n: 2 });
    } finally {
      subscriber.disconnect();
    }
  });

  it('reads states in any key order: one written by the trigger and AMQP scripts (count before id) counts on, and loses its manual-run mark', async () => {
    await redis.hset(keys.state, 'e', JSON.stringify({ slot: T, at: T, by: 'trigger', n: 4, id: 'x' }));
    expect(
      await publish(redis, 'leader-token', T + 1, [
        { entry: 'e', slot: T },
        { entry: 'e', slot: T + 1000 },
      ]),
    ).toEqual([1, 0, 1]);
    expect(await stateOf('e')).toEqual({ slot: T + 1000, at: T + 1, n: 5, id: `id-e-${T + 1000}` });
    expect(await publish(redis, 'leader-token', T + 2, [{ entry: 'e', slot: T + 2000 }])).toEqual([1, 1]);
    expect(await stateOf('e')).toMatchObject({ slot: T + 2000, n: 6 });
  });

  it("a slot further ahead of Redis's clock (TIME) than the allowed skew refuses the whole batch: nothing pushed or stored (a leader whose clock stepped forward)", async () => {
    const [seconds] = await redis.time();
    const redisNow = Number(seconds) * 1000;
    const hourAhead = redisNow + 3_600_000;
    const batch: Run[] = [
      { entry: 'now', slot: redisNow },
      { entry: 'ahead', slot: hourAhead, channels: [['fan', 'ahead!']] },
    ];
    const codes = await publish(redis, 'leader-token', hourAhead, batch);
    expect(codes.slice(0, 1)).toEqual([-2]);
    expect(codes[2]).toBe(hourAhead);
    expect(Math.abs((codes[1] as number) - Date.now())).toBeLessThan(60_000);
    expect(await redis.exists('celery', keys.state)).toBe(0);
    // Within the allowed skew it goes: a clock a little ahead, as NTP leaves it, publishes on time.
    expect(await publish(redis, 'leader-token', redisNow, [{ entry: 'soon', slot: redisNow + 500 }])).toEqual([1, 1]);
    expect(await stateOf('soon')).toMatchObject({ slot: redisNow + 500 });

    // The AMQP claim refuses it the same way (and commit records only what the claim let through).
    const claim = (slot: number) =>
      withScripts(redis).claimFenced(
        4,
        keys.fence,
        keys.state,
        keys.entries,
        keys.stop,
        'leader-token',
        String(DEFAULTS.maxClockSkewMs),
        '1',
        'amqp',
        String(slot),
        '',
      );
    expect((await claim(hourAhead)).slice(0, 1)).toEqual([-2]);
    expect(await claim(redisNow)).toEqual([1, 1]);
  });

  it('a corrupt state value does not block publishing: it is read as no state, as the state store reads it', async () => {
    await redis.hset(keys.state, 'corrupt', '{not json');
    expect(
      await publish(redis, 'leader-token', T, [
        { entry: 'corrupt', slot: T },
        { entry: 'fine', slot: T },
      ]),
    ).toEqual([1, 1, 1]);
    expect(await stateOf('corrupt')).toMatchObject({ slot: T, n: 1 });
    expect(await redis.llen('celery')).toBe(2);
  });
});

describe('RedisFencedDispatcher (its script registered through ioredis, with hand-encoded arguments)', () => {
  it('publishes the exact envelopes, and loads the script when the server has forgotten it (SCRIPT FLUSH, a restart)', async () => {
    const config = parseConfig(
      {
        name: 'fenced-test',
        broker: { url: URL },
        beatSchedule: { 'e ☃': { task: 'proj.add', schedule: 10, args: ['wörld', 2], options: { expires: 30 } } },
      },
      'publish-fenced.test',
    );
    const entry = config.entries[0] as ResolvedEntry;
    const transport = new RedisTransport({ url: URL, transportOptions: {}, logger: createLogger({ level: 'silent' }) });
    try {
      const dispatcher = new RedisFencedDispatcher(transport, keys, createLogger({ level: 'silent' }), DEFAULTS.maxClockSkewMs);
      const template = compileMessageTemplate(entry, config, ENV);
      const runs = [T, T + 10_000].map((slotMs) => ({
        entry,
        slotMs,
        message: renderTaskMessage(template, { taskId: slotTaskId('fenced-test', entry.name, slotMs), slotMs, nowMs: T }),
      }));
      expect(await redis.dbsize()).toBe(1); // the fence alone
      // A first call, refused by the fence (nothing pushed), has ioredis load the script on this
      // connection: the next goes by EVALSHA, and meets NOSCRIPT once the server forgot it.
      expect(await dispatcher.dispatch(runs, 'old-token', T)).toEqual({ fenced: true });
      expect(await redis.llen('celery')).toBe(0);
      await redis.script('FLUSH');
      expect(await dispatcher.dispatch(runs, 'leader-token', T)).toEqual({ fenced: false, outcomes: ['published', 'published'] });
      // The same bytes as the envelope text, oldest first for BRPOP.
      const listed = await redis.lrange('celery', 0, -1);
      const envelopes = listed
        .reverse()
        .map((text) => JSON.parse(text) as { headers: Record<string, unknown>; properties: { delivery_tag: string } });
      expect(envelopes.map((e) => e.headers['id'])).toEqual(runs.map((r) => r.message.id));
      envelopes.forEach((e, i) =>
        expect(listed[i]).toBe(redisEnvelope((runs[i] as DueRun).message, '', 'celery', e.properties.delivery_tag)),
      );
      expect(await stateOf(entry.name)).toEqual({ slot: T + 10_000, at: T, n: 2, id: (runs[1] as DueRun).message.id });
      // Loaded now: the next call goes by EVALSHA alone; a stale slot is reported as such.
      expect(await redis.script('EXISTS', createHash('sha1').update(lua('publish-fenced')).digest('hex'))).toEqual([1]);
      expect(await dispatcher.dispatch(runs.slice(1), 'leader-token', T)).toEqual({ fenced: false, outcomes: ['stale'] });
      expect(await dispatcher.dispatch(runs, 'old-token', T)).toEqual({ fenced: true });
      expect(await redis.llen('celery')).toBe(2);
    } finally {
      await transport.close();
    }
  });

  it('a run whose message matches no queue is reported dropped, logged, and its state moves forward; the others in the batch publish', async () => {
    const config = parseConfig(
      {
        name: 'fenced-test',
        broker: { url: URL },
        beatSchedule: {
          lonely: { task: 'proj.lonely', schedule: 10, options: { exchange: 'lonely-ex', routingKey: 'nobody' } },
          fine: { task: 'proj.fine', schedule: 10 },
        },
      },
      'publish-fenced.test',
    );
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const transport = new RedisTransport({ url: URL, transportOptions: {}, logger: createLogger({ level: 'silent' }) });
    try {
      const dispatcher = new RedisFencedDispatcher(
        transport,
        keys,
        createLogger({ level: 'info', destination: sink }),
        DEFAULTS.maxClockSkewMs,
      );
      const runs = config.entries.map((entry) => {
        const template = compileMessageTemplate(entry, config, ENV);
        return {
          entry,
          slotMs: T,
          message: renderTaskMessage(template, { taskId: slotTaskId('fenced-test', entry.name, T), slotMs: T, nowMs: T }),
        };
      });
      expect(await dispatcher.dispatch(runs, 'leader-token', T)).toEqual({ fenced: false, outcomes: ['dropped', 'published'] });
      expect(await stateOf('lonely')).toMatchObject({ slot: T, n: 1 });
      expect(await redis.llen('celery')).toBe(1);
      await expect
        .poll(() => lines)
        .toContainEqual(
          expect.objectContaining({ event: 'beat.publish.dropped', entry: 'lonely', exchange: 'lonely-ex', routingKey: 'nobody' }),
        );
    } finally {
      await transport.close();
    }
  });
});
