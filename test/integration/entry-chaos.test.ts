/**
 * Issue 30's proof: runtime entries created, edited, deleted and created again through the HTTP API
 * (three writers on names of their own, several writes a second, each to a replica picked at random) while three real `beat run`
 * replicas lose their leader again and again: SIGKILL (a replacement is started), SIGSTOP under
 * the lock's TTL (1 s of a 2 s TTL: it keeps the lock) and past it (4 s: a standby leads, and the
 * paused one wakes up deposed). The oracle is the queue list itself, read directly and decoded;
 * every run's args name its entry, its incarnation (the writer's count of creations of the name)
 * and its definition's version (the writer's count of edits), so that each run can be held to what
 * the writer did and when:
 *   - no (entry, slot) published twice;
 *   - no slot lost of the entries that existed throughout (catchUp "all": every slot from the first
 *     to the end, exactly once);
 *   - no run of a deleted incarnation for a slot after its delete returned;
 *   - no run of a definition for a slot after the edit that replaced it returned;
 *   - no run of an incarnation for a slot before it was created (a re-created entry replays nothing).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, TempDir, pidOfInstance, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { checkSlots, decodeEnvelope, duplicates } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { httpPortOf, startPrivateRedis } from '../support/ops.js';
import { prng } from '../support/prng.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const NAME = 'chaos';
const QUEUE = 'chaos';
const TOKEN = 'chaos-token-0123456789abcdef';
const S = 1000;
const CHAOS_MS = 35_000;
const TTL = { ttl: '2s', renewEvery: '500ms', retryEvery: '200ms' } as const;
const STABLE = ['s0', 's1', 's2', 's3'];
const CHURN = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];

/** A run as the queue holds it, with the args the writer gave it: [name, incarnation, version]. */
interface Run extends QueuedRun {
  readonly incarnation: number;
  readonly version: number;
}

/** What the writer did to one incarnation of a name, with when its requests started and returned. */
interface Life {
  readonly createdMs: number;
  /** When each edit that replaced version v returned: edits[v] (v = 0, 1, …). */
  readonly replacedMs: number[];
  deletedMs?: number;
}

describe('runtime entries under chaos: three replicas, a writer through the API, leaders killed and paused (issue 30)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  /** Replicas paused now (SIGSTOP): the writer does not send them requests, which would hang. */
  const stopped = new Set<BeatProcess>();
  const ports = new Map<BeatProcess, number>();
  /** Requests in flight per replica: one is paused only once its requests have returned (a paused
   * replica would apply a write late, after the writer gave up on it and went on). */
  const inFlight = new Map<BeatProcess, number>();

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    for (const p of stopped) p.signal('SIGCONT');
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  /** The replica that leads now: named by the leader hash, alive, its last leadership event an acquisition. */
  async function currentLeader(): Promise<BeatProcess | undefined> {
    const info = (await redis.hgetall(schedulerKeys('tsbeat', NAME).leader)) as { instance?: string };
    const p = info.instance === undefined ? undefined : fleet.byPid(pidOfInstance(info.instance));
    if (p === undefined || !p.alive || stopped.has(p)) return undefined;
    const last = [...p.logs]
      .reverse()
      .find((l) => l.event?.startsWith('beat.lock.') && l.event !== 'beat.lock.renew_failed' && l.event !== 'beat.lock.handover');
    return last?.event === EVENTS.lockAcquired ? p : undefined;
  }

  it('publishes no slot twice, loses none, and never runs a deleted, replaced or not yet created definition', async () => {
    const file = dir.write('chaos.json', {
      name: NAME,
      broker: { url: server.url(0) },
      taskDefaultQueue: QUEUE,
      maxInterval: '200ms',
      lock: TTL,
    });
    const tokenFile = dir.write('token', `${TOKEN}\n`);
    const spawn = async (): Promise<BeatProcess> => {
      const p = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
      ports.set(p, await httpPortOf(p, 30_000));
      return p;
    };
    await Promise.all([spawn(), spawn(), spawn()]);
    await waitUntil('a leader', currentLeader, 20_000, () => fleet.dump());

    const random = prng(30);
    const lives = new Map<string, Life[]>();
    const versions = new Map<string, number>();
    /** One write through the API of a replica picked at random; tried on another until one answers. */
    async function write(name: string, method: 'PUT' | 'DELETE', args?: unknown[]): Promise<{ startMs: number; endMs: number }> {
      const startMs = Date.now();
      for (let attempt = 0; attempt < 200; attempt += 1) {
        const usable = fleet.all.filter((p) => p.alive && !stopped.has(p) && ports.has(p));
        const p = usable[Math.floor(random() * usable.length)];
        if (p === undefined) {
          await sleep(50);
          continue;
        }
        inFlight.set(p, (inFlight.get(p) ?? 0) + 1);
        try {
          const res = await fetch(`http://127.0.0.1:${String(ports.get(p))}/api/entries/${name}`, {
            method,
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            ...(args === undefined ? {} : { body: JSON.stringify({ task: TASK, schedule: 1, catchUp: 'all', args }) }),
            signal: AbortSignal.timeout(1500),
          });
          await res.text();
          // A retry of a write whose first try's outcome was not known: the same PUT is "unchanged", the same DELETE 404.
          if (res.status < 300 || (method === 'DELETE' && res.status === 404)) return { startMs, endMs: Date.now() };
          if (res.status < 500) throw new Error(`${method} ${name}: ${String(res.status)}`);
        } catch (error) {
          if (error instanceof Error && error.message.startsWith(`${method} ${name}:`)) throw error;
        } finally {
          inFlight.set(p, (inFlight.get(p) ?? 1) - 1);
        }
        await sleep(20);
      }
      throw new Error(`${method} ${name}: no replica answered`);
    }
    const create = async (name: string): Promise<void> => {
      const list = lives.get(name) ?? [];
      const incarnation = list.length;
      versions.set(name, 0);
      const { startMs } = await write(name, 'PUT', [name, incarnation, 0]);
      list.push({ createdMs: startMs, replacedMs: [] });
      lives.set(name, list);
    };
    const edit = async (name: string): Promise<void> => {
      const list = lives.get(name) ?? [];
      const life = list[list.length - 1] as Life;
      const version = (versions.get(name) ?? 0) + 1;
      versions.set(name, version);
      const { endMs } = await write(name, 'PUT', [name, list.length - 1, version]);
      life.replacedMs.push(endMs);
    };
    const remove = async (name: string): Promise<void> => {
      const list = lives.get(name) ?? [];
      const { endMs } = await write(name, 'DELETE');
      (list[list.length - 1] as Life).deletedMs = endMs;
      versions.delete(name);
    };

    for (const name of [...STABLE, ...CHURN]) await create(name);
    const startedMs = Date.now();
    const endMs = startedMs + CHAOS_MS;
    let writes = 0;
    // Three writers on names of their own (one name's writes stay in order, as the oracle needs).
    const writerOf = (names: readonly string[], stable: boolean) => async (): Promise<void> => {
      while (Date.now() < endMs) {
        const name = names[Math.floor(random() * names.length)] as string;
        const exists = versions.has(name);
        if (stable || (exists && random() < 0.5)) await edit(name);
        else if (exists) await remove(name);
        else await create(name);
        writes += 1;
        await sleep(50 + Math.floor(random() * 100));
      }
    };
    const writer = Promise.all([writerOf(STABLE, true)(), writerOf(CHURN.slice(0, 3), false)(), writerOf(CHURN.slice(3), false)()]);

    const faults: string[] = [];
    const chaos = (async () => {
      const kinds = ['kill', 'stop-under', 'stop-past'] as const;
      for (let i = 0; Date.now() < endMs - 6000; i += 1) {
        await sleep(1500);
        const leader = await waitUntil('a leader', currentLeader, 20_000, () => fleet.dump());
        const kind = kinds[i % kinds.length] as (typeof kinds)[number];
        faults.push(kind);
        if (kind === 'kill') {
          leader.signal('SIGKILL');
          await leader.waitForExit(5000);
          await spawn();
        } else {
          stopped.add(leader);
          await waitUntil('its requests to return', async () => ((inFlight.get(leader) ?? 0) === 0 ? true : undefined), 5000);
          leader.signal('SIGSTOP');
          await sleep(kind === 'stop-under' ? 1000 : 4000);
          leader.signal('SIGCONT');
          stopped.delete(leader);
        }
      }
    })();
    await Promise.all([writer, chaos]);
    const chaosEndMs = Date.now();

    // Settled: every stable entry has published a slot well after the chaos (catchUp "all" has caught up).
    const readRuns = async (): Promise<Run[]> =>
      (await redis.lrange(QUEUE, 0, -1)).reverse().map((text) => {
        const run = decodeEnvelope(text);
        const envelope = JSON.parse(text) as { body: string };
        const [args] = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) as [[string, number, number]];
        return { ...run, incarnation: args[1], version: args[2] };
      });
    await waitUntil(
      'every stable entry to publish a slot 2 s after the chaos',
      async () => {
        const runs = await readRuns();
        return STABLE.every((name) => runs.some((r) => r.entry === name && r.slotMs >= chaosEndMs + 2 * S)) ? runs : undefined;
      },
      20_000,
      () => fleet.dump(),
    );
    await fleet.killAll();
    const runs = await readRuns();

    // Nothing twice.
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    // Nothing lost of the entries that existed throughout (edits keep their grid).
    for (const name of STABLE) {
      const report = checkSlots(
        name,
        runs.filter((r) => r.entry === name),
        S,
        NAME,
      );
      expect({ name, missing: report.missingSlots, offGrid: report.offGrid, wrongIds: report.wrongIds }).toEqual({
        name,
        missing: [],
        offGrid: [],
        wrongIds: [],
      });
      expect(report.lastMs - report.firstMs).toBeGreaterThan(CHAOS_MS);
    }
    // Every run held to what the writer did, and when.
    const wrong: string[] = [];
    for (const run of runs) {
      const life = lives.get(run.entry)?.[run.incarnation];
      const at = `${run.entry}#${String(run.incarnation)}v${String(run.version)} slot ${new Date(run.slotMs).toISOString()}`;
      if (life === undefined) {
        wrong.push(`${at}: no such incarnation`);
        continue;
      }
      if (run.slotMs < life.createdMs) wrong.push(`${at}: before its creation (${new Date(life.createdMs).toISOString()})`);
      if (life.deletedMs !== undefined && run.slotMs > life.deletedMs)
        wrong.push(`${at}: after its delete (${new Date(life.deletedMs).toISOString()})`);
      const replaced = life.replacedMs[run.version];
      if (replaced !== undefined && run.slotMs > replaced) wrong.push(`${at}: after its edit (${new Date(replaced).toISOString()})`);
    }
    expect(wrong).toEqual([]);
    const churnRuns = runs.filter((r) => CHURN.includes(r.entry)).length;
    const recreated = [...lives.values()].reduce((n, list) => n + list.length - 1, 0);
    console.log(
      `entry chaos: ${String(writes)} writes in ${String(Math.round((chaosEndMs - startedMs) / S))} s, ${String(recreated)} re-creations, ` +
        `faults ${faults.join(' ')}; ${String(runs.length)} runs checked (${String(churnRuns)} of re-created or deleted entries)`,
    );
    expect(new Set(faults)).toEqual(new Set(['kill', 'stop-under', 'stop-past']));
    expect(recreated).toBeGreaterThan(10);
  }, 150_000);
});
