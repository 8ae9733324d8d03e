/**
 * `beat run` under faults, against PRIVATE redis-servers (nothing on disk, a password) that the
 * tests kill, freeze and reconfigure, plus a TCP listener that only counts connections (for what
 * must not touch Redis at all). The shared Redis is not used. Their ports are free ones, picked as
 * the file starts: a fixed one may be taken (a developer's redis-server failed this file on 6391).
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { slotTaskId } from '../../src/celery/task-id.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import { ClockGuard } from '../../src/redis/clock-guard.js';
import { BeatFleet, FAST_LOCK, TempDir, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess, LogLine } from '../support/beat-process.js';
import { byEntry, checkSlots, duplicates, readQueue } from '../support/beat-queue.js';
import { ConnectionCounter, PrivateRedis, freePort } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const PASSWORD = 'pw-s3cret-4-tests';
const FAST_LOCK_TTL = 2000; // FAST_LOCK.ttl
const S = 1000;
const fleet = new BeatFleet();
const dir = new TempDir();
const servers: PrivateRedis[] = [];

/** Distinct free ports, one per private server and listener of this file. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
const [DOWN_PORT = 0, LATE_PORT = 0, LRU_PORT = 0, COUNTER_PORT = 0, PROXY_PORT = 0, BEHIND_PROXY_PORT = 0] = await freePorts(6);

function server(port: number, args: readonly string[] = []): PrivateRedis {
  const s = new PrivateRedis(port, { password: PASSWORD, args });
  servers.push(s);
  return s;
}

function configFile(name: string, url: string, beatSchedule: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return dir.write(`${name}.json`, { name, broker: { url }, maxInterval: '200ms', lock: FAST_LOCK, beatSchedule, ...extra });
}

/** Every beat.redis.* line names the URL with the password masked, and the password appears nowhere. */
function expectMasked(p: BeatProcess, port: number): LogLine[] {
  const lines = p.logs.filter((l) => l.event?.startsWith('beat.redis.') && l['url'] !== undefined);
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) expect(l['url']).toBe(`redis://:***@127.0.0.1:${port}/0`);
  expect(p.allOutput()).not.toContain(PASSWORD);
  return lines;
}

async function sigterm(p: BeatProcess): Promise<void> {
  p.signal('SIGTERM');
  expect(await p.waitForExit(10_000), p.tail()).toEqual({ code: 0, signal: null });
}

afterEach(async () => {
  await fleet.killAll();
});

afterAll(async () => {
  await fleet.killAll();
  for (const s of servers) await s.stop();
  dir.remove();
});

describe('Redis lost while running', () => {
  const redis = server(DOWN_PORT, ['--enable-debug-command', 'local']);
  let admin: Redis;

  beforeAll(async () => {
    await redis.start();
  });

  afterAll(async () => {
    admin?.disconnect();
  });

  it('survives a Redis restart that lost everything: no crash, leadership regained, beat.redis.* lines mask the password, beat.state.lost logged, and the outage caught up from the last run it knew', async () => {
    // `fresh` has not run yet when Redis goes: its first slot (5 s after it was first seen) falls in the outage.
    const p = fleet.spawn({
      config: configFile('fault-restart', redis.url(), {
        tick: { task: 't.tick', schedule: 1, catchUp: 'all' },
        fresh: { task: 't.fresh', schedule: 5, catchUp: 'all' },
      }),
    });
    await p.waitForLog('two publishes', () => p.events('beat.fire').length >= 2, 10_000);

    const mark = p.logs.length;
    const freshRanBefore = p.events('beat.fire').some((l) => l['entry'] === 'fresh');
    await redis.kill();
    const killedAt = Date.now();
    const fired = p.logs.slice(0, mark).filter((l) => l.event === 'beat.fire');
    const lastKnownSlot = Date.parse(String(fired[fired.length - 1]?.['slot']));
    await p.waitForEvent('beat.redis.down', 5000, mark);
    const lost = await p.waitForEvent('beat.lock.lost', FAST_LOCK_TTL + 3000, mark);
    expect(logTimeMs(lost) - killedAt).toBeLessThan(FAST_LOCK_TTL);
    await sleep(Math.max(0, killedAt + 4000 - Date.now()));
    expect(p.alive, p.tail()).toBe(true);
    expect(p.events('beat.fire', p.logs.indexOf(lost))).toEqual([]);

    await redis.start();
    const restartedAt = Date.now();
    const up = await p.waitForEvent('beat.redis.up', 10_000, mark);
    const regained = await p.waitForEvent('beat.lock.acquired', 10_000, mark);
    await p.waitForLog('a publish after the restart', (l) => l.event === 'beat.fire', 5000, p.logs.indexOf(regained));
    await sleep(1500);
    await sigterm(p);

    expectMasked(p, DOWN_PORT);
    // The outage as an operator reads it: one line when Redis went away, naming what waits for it
    // and the retry, one when it is back with its length, and no library's own words in between
    // (ioredis's offline queue, redlock's quorum) at warning level or above.
    const down = p.events('beat.redis.down', mark);
    expect(down, p.tail()).toHaveLength(1);
    // The first connection to notice may find the socket reset, closed or refused: each says so in words.
    expect(down[0]).toMatchObject({
      level: 'warn',
      reason: expect.stringMatching(/^(connection refused|connection reset|connection closed|not connected)$/),
      retryMs: DEFAULTS.redisReconnectMaxBackoffMs,
    });
    expect(down[0]?.['waiting']).toEqual(expect.arrayContaining(['publishing', 'the lock and the schedule state']));
    expect(p.events('beat.redis.up', mark)).toHaveLength(1);
    expect(Number(up['outageMs'])).toBeGreaterThanOrEqual(restartedAt - killedAt - 500);
    const during = p.logs
      .slice(p.logs.indexOf(down[0] as LogLine), p.logs.indexOf(up) + 1)
      .filter((l) => l.level === 'warn' || l.level === 'error');
    // The outage's own line once, the lock lost once; any other warning says something else (a
    // state change), never the library's "not reached" in its own words (checked below).
    expect(during.filter((l) => l.event === 'beat.redis.down')).toHaveLength(1);
    expect(during.filter((l) => l.event === 'beat.lock.lost')).toHaveLength(1);
    expect(JSON.stringify(during)).not.toMatch(/Stream isn't writeable|quorum|maxRetriesPerRequest|max retries per request/);
    expect(p.events('beat.redis.error', mark)).toEqual([]);
    // The default noeviction policy draws no warning (the maxmemory test below is the positive case).
    expect(p.events('beat.redis.warning')).toEqual([]);
    // It keeps nothing on disk (--save '' --appendonly no), which `run` says at start, once.
    expect(p.events('beat.redis.no_persistence')).toEqual([expect.objectContaining({ level: 'warn', save: '', appendonly: 'no' })]);

    // The server kept nothing (no persistence): the queue and the state went with it. The instance
    // saw its own runs before the restart, so it knows the state went backwards: it says so, and
    // continues from its last run — catchUp "all" replays the outage's slots, on the same grid,
    // nothing published twice, and the new state agrees with the new queue.
    const stateLost = p.events('beat.state.lost', mark);
    expect(stateLost, p.tail()).toHaveLength(1);
    expect(stateLost[0]).toMatchObject({ entries: 2, examples: expect.arrayContaining(['tick', 'fresh']) });
    admin = redis.client();
    await admin.connect();
    const all = byEntry(await readQueue(admin));
    // The entry that had never run lost its first sighting too: the slot that passed in the outage
    // was caught up after the restart (as catchUp "all" says), not passed over by a new sighting.
    const freshRuns = all.get('fresh') ?? [];
    if (!freshRanBefore) expect(Math.min(...freshRuns.map((r) => r.slotMs)), p.tail()).toBeLessThan(restartedAt);
    expect(duplicates(freshRuns)).toEqual({ slots: [], ids: [] });
    const runs = all.get('tick') ?? [];
    expect(runs.length).toBeGreaterThan(0);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    expect(Math.min(...runs.map((r) => r.slotMs))).toBe(lastKnownSlot + 1 * S);
    expect(Math.max(...runs.map((r) => r.slotMs))).toBeGreaterThan(restartedAt);
    expect(checkSlots('tick', runs, 1 * S, 'fault-restart')).toMatchObject({ missingSlots: [], offGrid: [], wrongIds: [] });
    const stored = JSON.parse((await admin.hget('tsbeat:{fault-restart}:state', 'tick')) ?? '{}') as { n?: number };
    expect(stored.n).toBe(runs.length);
  });

  it('after an outage with the data kept (DEBUG SLEEP past the lock TTL) drops and regains leadership and catches up per policy', async () => {
    admin ??= redis.client();
    if (admin.status === 'wait') await admin.connect();
    await admin.flushall();
    const p = fleet.spawn({
      config: configFile('fault-sleep', redis.url(), {
        all: { task: 't.all', schedule: 1, catchUp: 'all' },
        once: { task: 't.once', schedule: 1, catchUp: 'once' },
        skip: { task: 't.skip', schedule: 1, catchUp: 'skip' },
      }),
    });
    await p.waitForLog('three publishes of each', () => p.events('beat.fire').length >= 9, 10_000);
    const mark = p.logs.length;
    const sleeper = redis.client();
    await sleeper.connect();
    await sleeper.call('DEBUG', 'SLEEP', '4'); // the server answers no one for 4 s
    const wokeAt = Date.now();
    sleeper.disconnect();
    const regained = await p.waitForEvent('beat.lock.acquired', 10_000, mark);
    // Publishing again at once, not a TTL later: the attempt queued during the hang took the lock
    // too late to use it, and must give it back rather than lead for an instant and sit on it.
    const resumed = await p.waitForLog('a publish after the outage', (l) => l.event === 'beat.fire', 5000, p.logs.indexOf(regained));
    expect(logTimeMs(resumed) - wokeAt).toBeLessThan(1000);
    await p.waitForLog('publishing again', () => p.events('beat.fire', mark).length >= 6, 10_000);
    await sleep(500);
    await sigterm(p);

    // Leadership was dropped while the server hung (the watchdog does not wait for Redis), then regained.
    const lost = p.events('beat.lock.lost', mark);
    expect(
      lost,
      p.logs
        .slice(mark)
        .filter((l) => l.event !== 'beat.fire')
        .map((l) => JSON.stringify(l))
        .join('\n'),
    ).toHaveLength(1);
    expect(p.logs.indexOf(lost[0] as LogLine)).toBeLessThan(p.logs.indexOf(p.events('beat.lock.acquired', mark)[0] as LogLine));

    const runs = byEntry(await readQueue(admin));
    // "all": every slot through the outage, once.
    expect(checkSlots('all', runs.get('all') ?? [], 1 * S, 'fault-sleep')).toMatchObject({
      duplicateSlots: [],
      missingSlots: [],
      offGrid: [],
    });
    // "once": one run for the slots missed during the outage, then on the grid again.
    const once = (runs.get('once') ?? []).map((r) => r.slotMs);
    const onceGaps = once
      .slice(1)
      .map((s, i) => s - (once[i] as number))
      .filter((d) => d !== 1 * S);
    expect(onceGaps).toHaveLength(1);
    expect(onceGaps[0]).toBeGreaterThanOrEqual(3 * S);
    expect(p.events('beat.catch_up', mark).find((l) => l['entry'] === 'once')).toMatchObject({ firing: 1, policy: 'once' });
    expect(p.events('beat.catch_up', mark).find((l) => l['entry'] === 'once')?.['missed']).toBeGreaterThanOrEqual(2);
    // "skip": whatever ran was on time (within the 1 s grace); the late slots were passed over.
    for (const l of p.events('beat.fire').filter((l) => l['entry'] === 'skip')) expect(l['latenessMs']).toBeLessThanOrEqual(1000);
    const skipLine = [...p.events('beat.skip', mark), ...p.events('beat.catch_up', mark)].find((l) => l['entry'] === 'skip');
    expect(skipLine?.['missed']).toBeGreaterThanOrEqual(2);
    for (const list of runs.values()) expect(duplicates(list)).toEqual({ slots: [], ids: [] });
  });

  it('counts a hung server (SIGSTOP: connections accepted, nothing answered) as an outage: beat.redis.down (not answering) once, then beat.redis.up when it answers again (issue 66)', async () => {
    admin ??= redis.client();
    if (admin.status === 'wait') await admin.connect();
    await admin.flushall();
    const p = fleet.spawn({ config: configFile('fault-hung', redis.url(), { hung: { task: 't.hung', schedule: 1, catchUp: 'all' } }) });
    await p.waitForLog('two publishes', () => p.events('beat.fire').length >= 2, 10_000);
    const mark = p.logs.length;
    redis.pause();
    try {
      // Once a command has waited the socket timeout (5 s) for it.
      const down = await p.waitForEvent(EVENTS.redisDown, 15_000, mark);
      expect(down).toMatchObject({ reason: 'not answering', url: `redis://:***@127.0.0.1:${DOWN_PORT}/0` });
    } finally {
      redis.resume();
    }
    await p.waitForEvent(EVENTS.redisUp, 20_000, mark);
    const afterUp = p.logs.length;
    await p.waitForLog('publishing again', () => p.events('beat.fire', afterUp).length >= 2, 15_000);
    const order = p.logs
      .slice(mark)
      .map((l) => l.event)
      .filter((e) => e === EVENTS.redisDown || e === EVENTS.redisUp || e === EVENTS.redisError);
    expect(order).toEqual([EVENTS.redisDown, EVENTS.redisUp]);
    await sigterm(p);
  });
});

describe('a black-holed connection', () => {
  const redis = server(BEHIND_PROXY_PORT);
  const proxy = new TcpProxy(PROXY_PORT, BEHIND_PROXY_PORT);

  beforeAll(async () => {
    await redis.start();
    await proxy.start();
  });

  afterAll(async () => {
    await proxy.stop();
  });

  it('gives up a lock connection that stops answering without closing (partition, dropped NAT flow) and leads again over a new one', async () => {
    const lockUrl = `redis://:${PASSWORD}@127.0.0.1:${PROXY_PORT}/0`;
    const p = fleet.spawn({
      config: configFile(
        'fault-blackhole',
        redis.url(),
        { bh: { task: 't.bh', schedule: 1, catchUp: 'all' } },
        { lock: { ...FAST_LOCK, urls: [lockUrl] } },
      ),
    });
    await p.waitForLog('two publishes', () => p.events('beat.fire').length >= 2, 10_000);
    const mark = p.logs.length;
    expect(proxy.freeze()).toBeGreaterThan(0);
    // The watchdog does not wait for Redis: publishing stops before the lock can have expired.
    const lost = await p.waitForEvent('beat.lock.lost', FAST_LOCK_TTL + 2000, mark);
    // Then the dead connection must be noticed and replaced; TCP alone would take many minutes.
    const regained = await p.waitForEvent('beat.lock.acquired', 20_000, mark);
    await p.waitForLog('a publish after the partition', (l) => l.event === 'beat.fire', 5000, p.logs.indexOf(regained));
    expect(logTimeMs(regained)).toBeGreaterThan(logTimeMs(lost));
    expect(proxy.connections).toBeGreaterThan(1);
    await sigterm(p);
    const client = redis.client();
    try {
      await client.connect();
      const runs = await readQueue(client);
      expect(checkSlots('bh', runs, 1 * S, 'fault-blackhole')).toMatchObject({ duplicateSlots: [], missingSlots: [], offGrid: [] });
    } finally {
      client.disconnect();
    }
  });
});

describe('Redis at start', () => {
  it('keeps retrying while Redis is unreachable at start, with a clear line naming the URL (password masked), and starts when it appears', async () => {
    const redis = server(LATE_PORT);
    const p = fleet.spawn({ config: configFile('fault-late', redis.url(), { late: { task: 't.late', schedule: 1 } }) });
    const error = await p.waitForEvent('beat.redis.down', 10_000);
    expect(error).toMatchObject({
      level: 'warn',
      url: `redis://:***@127.0.0.1:${LATE_PORT}/0`,
      reason: 'connection refused',
      msg: expect.stringMatching(
        new RegExp(
          `^Redis redis://:\\*\\*\\*@127\\.0\\.0\\.1:${LATE_PORT}/0 is unreachable \\(connection refused\\): .* wait for it; reconnecting every 5 s at most`,
        ),
      ),
    });
    await sleep(2500);
    expect(p.alive, p.tail()).toBe(true);
    expect(p.events('beat.lock.acquired')).toEqual([]);

    await redis.start();
    await p.waitForEvent('beat.redis.connect', 15_000);
    await p.waitForEvent('beat.lock.acquired', 10_000);
    await p.waitForEvent('beat.fire', 5000);
    await sigterm(p);
    expectMasked(p, LATE_PORT);
  });

  it('warns (beat.redis.warning) when maxmemory-policy may evict keys, and (beat.clock.skew) when the local clock is off by more than a second', async () => {
    const redis = server(LRU_PORT, ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    await redis.start();
    const p = fleet.spawn({ config: configFile('fault-lru', redis.url(), { lru: { task: 't.lru', schedule: 1 } }) });
    const warning = await p.waitForEvent('beat.redis.warning', 10_000);
    expect(warning).toMatchObject({ level: 'warn', maxmemoryPolicy: 'allkeys-lru', msg: expect.stringMatching(/noeviction/) });
    await p.waitForEvent('beat.lock.acquired', 10_000);
    expect(p.events('beat.clock.skew')).toEqual([]);
    await sigterm(p);

    // The clock check, in-process: a local clock 5 s ahead is reported, a right one is not.
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: { write: (t: string) => void lines.push(JSON.parse(t) as Record<string, unknown>) },
    });
    const client = redis.client();
    await client.connect();
    try {
      expect(
        await new ClockGuard({ client, clock: { now: () => Date.now() }, maxSkewMs: DEFAULTS.maxClockSkewMs, logger }).check(),
      ).toBeUndefined();
      expect(lines.filter((l) => l['event'] === EVENTS.clockSkew)).toEqual([]);
      await new ClockGuard({ client, clock: { now: () => Date.now() + 5000 }, maxSkewMs: DEFAULTS.maxClockSkewMs, logger }).check();
      const skew = lines.find((l) => l['event'] === EVENTS.clockSkew);
      expect(skew).toMatchObject({ level: 'warn', msg: expect.stringMatching(/ahead of the Redis server's/) });
      expect(Math.abs((skew?.['skewMs'] as number) - 5000)).toBeLessThan(500);
    } finally {
      client.disconnect();
    }
  });
});

describe('without Redis', () => {
  const counter = new ConnectionCounter(COUNTER_PORT);
  const url = `redis://:${PASSWORD}@127.0.0.1:${COUNTER_PORT}/0`;

  beforeAll(async () => {
    await counter.start();
  });

  afterAll(async () => {
    await counter.close();
  });

  it('--dry-run needs no Redis: one JSON line per message on stdout, logs on stderr, exit 0 on SIGTERM', async () => {
    const before = counter.count;
    const p = fleet.spawn({
      config: configFile('dry', url, { dry: { task: 't.dry', schedule: 0.5, args: [1, 'two'] } }),
      args: ['--dry-run'],
    });
    await waitUntil(
      'four dry-run messages',
      () => (p.outputLines.length >= 4 ? true : undefined),
      8000,
      () => p.tail(),
    );
    await sigterm(p);
    const messages = p.outputLines as { entry: string; task: string; id: string; scheduledAt: string; body: unknown }[];
    const slots = messages.map((m) => Date.parse(m.scheduledAt));
    for (const [i, m] of messages.entries()) {
      expect(m).toMatchObject({ entry: 'dry', task: 't.dry' });
      expect(m.id).toBe(slotTaskId('dry', 'dry', slots[i] as number));
      if (i > 0) expect((slots[i] as number) - (slots[i - 1] as number)).toBe(500);
    }
    expect(JSON.stringify(messages[0]?.body)).toContain('"two"');
    // Nothing was published, and the log must not say otherwise.
    const fires = p.events('beat.fire');
    expect(fires.length).toBeGreaterThanOrEqual(1);
    expect(new Set(fires.map((l) => l.msg))).toEqual(new Set(['would publish (dry run: not published)']));
    expect(p.logsOnStdout).toBe(0);
    expect(p.text).toEqual([]);
    expect(counter.count - before).toBe(0);
  });

  it('exits 2 on a config error before connecting to Redis', async () => {
    const before = counter.count;
    const invalid = fleet.spawn({ config: configFile('bad', url, { bad: { task: 't.bad', schedule: 1, catchUp: 'sometimes' } }) });
    expect(await invalid.waitForExit(15_000)).toEqual({ code: 2, signal: null });
    expect(invalid.text.join('\n')).toMatch(/beatSchedule\.bad\.catchUp: catchUp must be one of once, skip, all/);

    // A state Redis apart from the broker's is refused with the config, as beat check refuses it, before any connection.
    const split = fleet.spawn({
      config: configFile('split', url, { ok: { task: 't.ok', schedule: 1 } }, { state: { url: `redis://127.0.0.1:${COUNTER_PORT}/1` } }),
    });
    expect(await split.waitForExit(15_000)).toEqual({ code: 2, signal: null });
    expect(split.text.join('\n')).toMatch(new RegExp(`state\\.url: redis://127\\.0\\.0\\.1:${COUNTER_PORT}/1 differs from the broker`));
    expect(split.allOutput()).not.toContain(PASSWORD);
    await sleep(200);
    expect(counter.count - before).toBe(0);
  });
});
