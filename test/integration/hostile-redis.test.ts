/**
 * Every key family tsbeat reads, written with garbage and with a value of the wrong type while
 * `beat run --http` runs, beside an every-second probe entry of the config file. For each:
 *
 * - contained: the probe keeps firing, and /status answers for every other entry;
 * - named: a log line, /status or `beat status` names the key, where tsbeat read it;
 * - healed: once the key is put back (or deleted, as the error says), a runtime entry written
 *   during or after the damage fires: nothing written was silently not applied.
 *
 * Before: 3 s of garbage in `entries:version` stopped runtime-entry sync until a restart (writes
 * answered 201 and were never applied), and one wrong-typed `runs:<entry>` made /status, the
 * dashboard list and `beat status` fail for every entry, naming no key.
 * Redis: a private redis-server; beat run as real processes, one per deployment: the cases are
 * spread over several deployments on that Redis, which run theirs at the same time (so the file
 * fits CI's budget), and healing is waited for to a generous limit rather than slept for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import type { SchedulerKeys } from '../../src/redis/keys.js';
import { sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { httpPortOf, runBeatCli } from '../support/ops.js';

const NAME = 'hostile-redis';
const TOKEN = 'hostile-redis-token-0123456789';

/** A hostile value: written at `key` in place of what is there (its type is what varies). */
type Damage = (client: Redis, key: string) => Promise<unknown>;
const GARBAGE = '\u0000garbage\u00ff{not json';
const asString: Damage = (c, k) => c.set(k, GARBAGE);
/** (A list of garbage where there is a list, or in place of any other type.) */
const asHash: Damage = async (c, k) => c.multi().del(k).hset(k, 'x', GARBAGE).exec();
const asList: Damage = async (c, k) => {
  if ((await c.type(k)) !== 'list') await c.del(k);
  return c.lpush(k, GARBAGE);
};
/**
 * Garbage in one field of a hash of tsbeat's own (its type is right, a value is not). It is put
 * back by itself (the field as it was), not with the whole key: the hash takes writes meanwhile.
 */
const FIELD_UNDO = new WeakMap<Damage, { field: string }>();
const fieldOf = (field: string): Damage => {
  const damage: Damage = async (c, k) => {
    if ((await c.type(k)) !== 'hash') await c.del(k);
    return c.hset(k, field, GARBAGE);
  };
  FIELD_UNDO.set(damage, { field });
  return damage;
};

interface Case {
  readonly family: string;
  readonly key: string;
  readonly damage: Damage;
  readonly how: string;
  /**
   * Read by nothing while nothing asks for it (a request list, a record of passed-over slots): it
   * is named when it is read, and is checked here for containment and healing only. Or garbage of
   * the key's own type that tsbeat reads as nothing for its entry alone (a field it rewrites).
   */
  readonly quiet?: true;
  /** It keeps every replica from leading (the deployment's state): /readyz not ready, naming it. */
  readonly stops?: true;
}

/** Each family with a value of the wrong type, and, where its type allows one, garbage of its own type. */
function cases(keys: SchedulerKeys): Case[] {
  const wrongType = (family: string, key: string, damage: Damage, how: string, more: Partial<Case> = {}): Case => ({
    family,
    key,
    damage,
    how,
    ...more,
  });
  const quiet = { quiet: true } as const;
  return [
    wrongType('entries:version', keys.entriesVersion, asString, 'garbage'),
    wrongType('entries:version', keys.entriesVersion, asHash, 'a hash'),
    wrongType('entries', keys.entries, asString, 'a string'),
    wrongType('entries', keys.entries, fieldOf('rt-victim'), 'a garbage record', quiet),
    wrongType('entries:changes', keys.entryChanges, asString, 'a string'),
    wrongType('entries:names', keys.entryNames, asString, 'a string'),
    wrongType('runs:<entry>', keys.runs('rt-victim'), asString, 'a string'),
    wrongType('runs:<entry>', keys.runs('rt-victim'), asList, 'a garbage run', quiet),
    wrongType('runs:pending', keys.runsPending, asString, 'a string', quiet),
    wrongType('finished', keys.runsFinished, asString, 'a string'),
    wrongType('finished', keys.runsFinished, fieldOf('rt-victim'), 'a garbage field', quiet),
    wrongType('failures', keys.failures, asString, 'a string'),
    wrongType('failing', keys.failing, asString, 'a string'),
    wrongType('failing', keys.failing, fieldOf('rt-victim'), 'a garbage field', quiet),
    wrongType('state', keys.state, fieldOf('rt-victim'), 'a garbage field', quiet),
    wrongType('state', keys.state, asString, 'a string', { stops: true }),
    wrongType('lock', keys.lock, asHash, 'a hash'),
    wrongType('fence', keys.fence, asHash, 'a hash'),
    wrongType('leader', keys.leader, asString, 'a string'),
    wrongType('paused', keys.paused, asString, 'a string'),
    wrongType('paused:notes', keys.pauseNotes, asString, 'a string'),
    wrongType('notes', keys.notes, asString, 'a string'),
    wrongType('notes', keys.notes, fieldOf('rt-victim'), 'a garbage field', quiet),
    wrongType('resumed', keys.resumed, asString, 'a string'),
    wrongType('resumed', keys.resumed, fieldOf('rt-victim'), 'a garbage field', quiet),
    wrongType('triggers', keys.triggers, asString, 'a string', quiet),
    wrongType('triggers', keys.triggers, asList, 'a garbage request', quiet),
    wrongType('backfills', keys.backfills, asString, 'a string'),
    wrongType('backfills', keys.backfills, asList, 'a garbage request', quiet),
    wrongType('passed:<entry>', keys.passed('rt-victim'), asString, 'a string', quiet),
    wrongType('passed-floor', keys.passedFloor, asString, 'a string', quiet),
    wrongType('passed-open', keys.passedOpen, asString, 'a string', quiet),
    wrongType('passed-since', keys.passedSince, asHash, 'a hash', quiet),
    wrongType('missed:<entry>', keys.missed('rt-victim'), asString, 'a string', quiet),
    wrongType('missed:<entry>', keys.missed('rt-victim'), asList, 'a garbage report', quiet),
    wrongType('statics', keys.statics, asString, 'a string'),
    wrongType('statics:id', keys.staticsId, asHash, 'a hash', quiet),
    wrongType('alerts:items', keys.alertItems, asString, 'a string'),
    wrongType('alerts:due', keys.alertsDue, asString, 'a string'),
    wrongType('alerts:sent', keys.alertsSent, asString, 'a string'),
    wrongType('replicas', keys.replicas, asString, 'a string'),
    wrongType('replicas', keys.replicas, fieldOf('someone'), 'a garbage record', quiet),
    wrongType('replicas:expiry', keys.replicaExpiry, asString, 'a string'),
    wrongType('partitioning', keys.partitioning, asString, 'a string'),
    wrongType('unconsumed', keys.unconsumed, asString, 'a string'),
    wrongType('audit', keys.audit, asString, 'a string'),
  ];
}

/**
 * The cases are dealt round-robin to this many deployments (distinct names, so distinct keys, on one
 * Redis), each with its own beat and probe, which run their cases at the same time: a case damages
 * only its own deployment's keys, so no case sees another's damage.
 */
const DEPLOYMENTS = 6;
/** How long each key stays damaged: the probe (every second) must fire within it. */
const DAMAGED_MS = 2000;
/** The limit on healing: the probe, the write made while damaged and one made after all fire. */
const HEAL_LIMIT_MS = 20_000;

/** One deployment under test: its beat, its keys, its config and HTTP port. */
interface Deployment {
  readonly name: string;
  readonly keys: SchedulerKeys;
  readonly config: string;
  readonly beat: BeatProcess;
  readonly port: number;
}

describe('hostile values at every key tsbeat reads, while beat runs', () => {
  const suite = beatSuite();
  const deployments: Deployment[] = [];

  beforeAll(async () => {
    const started = Array.from({ length: DEPLOYMENTS }, async (_, i) => {
      const name = `${NAME}-${i}`;
      const config = suite.dir.write(`${name}.json`, {
        name,
        broker: { url: suite.redis.url(0) },
        // Run outcomes followed: the history lists, finished and failures hashes are read and written.
        resultBackend: suite.redis.url(1),
        beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
        alerts: { webhook: 'http://127.0.0.1:9/hook' },
      });
      const beat = suite.fleet.spawn({ config, label: name, args: ['--http', '127.0.0.1:0'], env: { BEAT_API_TOKEN: TOKEN } });
      const port = await httpPortOf(beat, 30_000);
      await beat.waitForEvent(EVENTS.lockAcquired, 30_000);
      return { name, keys: schedulerKeys('tsbeat', name), config, beat, port };
    });
    deployments.push(...(await Promise.all(started)));
  }, 60_000);

  afterAll(async () => {
    await suite.fleet.killAll();
  });

  /** A request with the token: its status and body (status 0 and the error when it got no answer). */
  const api = async (d: Deployment, path: string, method = 'GET', body?: unknown): Promise<{ status: number; body: string }> => {
    try {
      const res = await fetch(`http://127.0.0.1:${d.port}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: await res.text() };
    } catch (error) {
      return { status: 0, body: String(error) };
    }
  };
  const put = (d: Deployment, name: string, body: unknown) => api(d, `/api/entries/${encodeURIComponent(name)}`, 'PUT', body);

  /** Fires of `entry` logged from line `from` on. */
  const firesOf = (d: Deployment, entry: string, from: number): number =>
    d.beat.events(EVENTS.fire, from).filter((l) => l['entry'] === entry).length;

  /** One case against deployment `d`: damage, look while damaged, put back, see it healed. */
  async function runCase(d: Deployment, c: Case, n: number): Promise<string> {
    const client = suite.client;
    const { beat } = d;
    const from = beat.logs.length;
    const saved = await client.dumpBuffer(c.key);
    const ttl = await client.pttl(c.key);
    const field = FIELD_UNDO.get(c.damage)?.field;
    const savedField = field === undefined ? null : await client.hget(c.key, field);
    await c.damage(client, c.key);
    // While it is damaged: a runtime entry written, /status, /readyz, beat status (which reads
    // Redis itself, so it runs while the key stays damaged, beside the wait).
    const written = `rt-during-${n}`;
    const during = await put(d, written, { task: 't.during', schedule: 1 });
    const [cli] = await Promise.all([runBeatCli(['status', '--config', d.config], { timeoutMs: 20_000 }), sleep(DAMAGED_MS)]);
    const status = await api(d, '/status?limit=1000');
    const ready = await api(d, '/readyz');
    const ticks = firesOf(d, 'tick', from);
    const named = beat.logs.slice(from).filter((l) => JSON.stringify(l).includes(c.key));
    const saidIn = [
      named.length > 0 ? `log(${[...new Set(named.map((l) => l['event']))].join(',')})` : '',
      status.body.includes(c.key) ? '/status' : '',
      ready.body.includes(c.key) ? '/readyz' : '',
      (cli.stdout + cli.stderr).includes(c.key) ? 'beat status' : '',
    ].filter((s) => s !== '');
    // Put back.
    if (field !== undefined) {
      if (savedField === null) await client.hdel(c.key, field);
      else await client.hset(c.key, field, savedField);
    } else {
      await client.del(c.key);
      if (saved !== null) await client.restore(c.key, ttl > 0 ? ttl : 0, saved, 'REPLACE');
    }
    const healFrom = beat.logs.length;
    const after = await put(d, `rt-after-${n}`, { task: 't.after', schedule: 1 });
    const duringOk = during.status >= 200 && during.status < 300;
    // Healed: wait (to a generous limit) for what the assertions below ask; they judge what was seen.
    await waitUntil(
      `${c.family} healed`,
      () =>
        firesOf(d, 'tick', healFrom) >= 1 && (!duringOk || firesOf(d, written, healFrom) >= 1) && firesOf(d, `rt-after-${n}`, healFrom) >= 1
          ? true
          : undefined,
      HEAL_LIMIT_MS,
    ).catch(() => undefined);
    const duringFires = firesOf(d, written, healFrom);
    const afterFires = firesOf(d, `rt-after-${n}`, healFrom);
    const tickAfter = firesOf(d, 'tick', healFrom);
    const said = saidIn.length > 0;
    const result = {
      what: `${c.family} as ${c.how}`,
      ticks,
      put: during.status,
      putNames: during.body.includes(c.key),
      status: status.status,
      ready: ready.status,
      said,
      tickAfter,
      duringFires,
      after: after.status,
      afterFires,
    };
    const row = `${JSON.stringify(result)} named in [${saidIn.join(' ')}]`;
    console.log(row);
    // Contained: the probe fired throughout (unless the key stops the deployment: then /readyz says so), /status answered.
    if (c.stops === true) expect.soft(ready.status, result.what).toBe(503);
    else expect.soft(ticks, result.what).toBeGreaterThanOrEqual(1);
    expect.soft(status.status, result.what).toBe(200);
    // Named, where it was read.
    if (c.quiet !== true) expect.soft(said, result.what).toBe(true);
    // Nothing silently not applied: a write answered 2xx ran; one refused named the key.
    if (duringOk) expect.soft(duringFires, result.what).toBeGreaterThanOrEqual(1);
    else expect.soft(result.putNames, `${result.what}: ${during.status} ${during.body}`).toBe(true);
    // Healed once it is put back: the probe fires, a write made now runs.
    expect.soft(tickAfter, result.what).toBeGreaterThanOrEqual(1);
    expect.soft(after.status, result.what).toBe(201);
    expect.soft(afterFires, result.what).toBeGreaterThanOrEqual(1);
    // Only the probe and the victim go on to the next case.
    await api(d, `/api/entries/${written}`, 'DELETE');
    await api(d, `/api/entries/rt-after-${n}`, 'DELETE');
    return row;
  }

  it('each is contained, named and healed', async () => {
    // Each deployment's cases in turn; the deployments at the same time.
    const runs = deployments.map(async (d, i) => {
      await put(d, 'rt-victim', { task: 't.victim', schedule: 1 });
      const rows: string[] = [];
      const all = cases(d.keys);
      for (let n = i; n < all.length; n += DEPLOYMENTS) rows.push(await runCase(d, all[n]!, n + 1));
      return rows;
    });
    const rows = (await Promise.all(runs)).flat();
    console.log(rows.join('\n'));
    expect(rows).toHaveLength(cases(deployments[0]!.keys).length);
    for (const d of deployments) expect(d.beat.alive, d.name).toBe(true);
  }, 300_000);
});
