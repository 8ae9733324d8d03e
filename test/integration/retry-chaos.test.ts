/**
 * Issue 70's chaos proof of retries: three real `beat run` replicas (FAST_LOCK) whose leader is
 * SIGKILLed (a replacement is started), SIGSTOPped under the lock's TTL and past it, as in
 * entry-chaos.test.ts, while every entry's task fails every attempt on real Celery workers (Debian's
 * 5.2.6) and each slot is retried twice (attempts 3, 1 s apart); two of the entries share a
 * concurrency group of limit 1 (whenFull "wait", both due at the same instants) and run 0.2 s each.
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 * Oracle: the workers' own record of each run they executed (tsbeat_test.fail_recorded: id,
 * beat_attempt, beat_retry_of, beat_scheduled_at, entry, start, end), after the faults stop and the
 * attempts of every slot due by then have drained:
 *   - no task id executed twice, so no (entry, slot, attempt) twice, each under its deterministic id;
 *   - every slot of every entry from its first to the end of the faults (catchUp "all") ran its
 *     attempts 1, 2 and 3, each once: none lost, and no fourth;
 *   - the group's runs, attempts included, never two at once on the workers' clocks.
 */
import type { Redis } from 'ioredis';
import { mostAtOnce } from '../support/run-spans.js';
import { afterAll, beforeAll, expect, describe, it } from 'vitest';
import { attemptTaskId, slotTaskId } from '../../src/celery/task-id.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { ChaosReplicas } from '../support/entry-chaos.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const CHAOS_MS = 45_000;
const ATTEMPTS = 3;
const RETRY = { attempts: ATTEMPTS, backoff: { initial: '1s', factor: 1, max: '1s' } } as const;
const GROUP = { group: 'serial', limit: 1, whenFull: 'wait' } as const;
/** Entry name → its period in seconds; g1 and g2 share the group. */
const PERIODS: Record<string, number> = { tick1: 1, tick2: 2, g1: 6, g2: 6 };
const GROUPED = new Set(['g1', 'g2']);

/** One run as the worker executed it (tsbeat_testapp.py fail_recorded). */
interface Ran {
  readonly id: string;
  readonly attempt: number | null;
  readonly retry_of: string | null;
  readonly scheduled: string | null;
  readonly entry: string;
  readonly start: number;
  readonly end: number;
}

/** Each entry's slots from its first run's to `untilMs`, on its grid, with the attempts the workers ran of each. */
function slotsOf(runs: readonly Ran[], untilMs: number): Map<string, Map<number, number[]>> {
  const out = new Map<string, Map<number, number[]>>();
  for (const [entry, period] of Object.entries(PERIODS)) {
    const mine = runs.filter((r) => r.entry === entry && r.scheduled !== null);
    const firstMs = Math.min(...mine.map((r) => Date.parse(r.scheduled as string)));
    const slots = new Map<number, number[]>();
    for (let s = firstMs; s <= untilMs; s += period * 1000) slots.set(s, []);
    for (const r of mine) {
      const s = Date.parse(r.scheduled as string);
      if (s <= untilMs) slots.set(s, [...(slots.get(s) ?? []), r.attempt ?? 1]);
    }
    out.set(entry, slots);
  }
  return out;
}

/** The slots up to `untilMs` whose attempts are not 1..ATTEMPTS once each, as `entry@slot: [attempts]`. */
function incomplete(runs: readonly Ran[], untilMs: number): string[] {
  const want = Array.from({ length: ATTEMPTS }, (_, i) => i + 1);
  const bad: string[] = [];
  for (const [entry, slots] of slotsOf(runs, untilMs))
    for (const [s, attempts] of slots)
      if (JSON.stringify([...attempts].sort((a, b) => a - b)) !== JSON.stringify(want))
        bad.push(`${entry}@${new Date(s).toISOString()}: ${JSON.stringify(attempts)}`);
  return bad;
}

suite(
  `retries under chaos: three replicas, leaders killed and paused, real Celery workers${celery.ok ? '' : ` (skipped: ${celery.problem})`}`,
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    let server: PrivateRedis;
    let state: Redis;
    let results: Redis;
    let replicas: ChaosReplicas | undefined;
    const workers: CeleryProcess[] = [];

    beforeAll(async () => {
      if (!celery.ok) throw new Error(celery.problem);
      server = await startPrivateRedis();
      state = server.client(0);
      results = server.client(1);
      const env = { broker: server.url(0), backend: server.url(1) };
      workers.push(
        ...(await Promise.all(['c1', 'c2'].map((n) => startWorker({ name: `chaos-${n}`, queues: ['celery'], env, events: true })))),
      );
    }, 90_000);

    afterAll(async () => {
      replicas?.release();
      await fleet.killAll();
      await stopAll(workers);
      state?.disconnect();
      results?.disconnect();
      await server?.stop();
      dir.remove();
    });

    it('runs every attempt of every slot exactly once, loses none, and never two runs of the group at once', async () => {
      // A name of its own and an empty record: vitest's second try of a failed run starts afresh.
      const NAME = uniqueName('retry-chaos');
      // A first try that failed left its replicas running (and paused ones): none of them leads this one.
      replicas?.release();
      await fleet.killAll();
      await results.del('tsbeat-test:failed-runs');
      const file = dir.write(`${NAME}.json`, {
        name: NAME,
        broker: { url: server.url(0) },
        resultBackend: server.url(1),
        taskEvents: true,
        maxInterval: '200ms',
        lock: FAST_LOCK,
        beatSchedule: Object.fromEntries(
          Object.entries(PERIODS).map(([entry, period]) => [
            entry,
            {
              task: 'tsbeat_test.fail_recorded',
              schedule: period,
              args: [`${NAME}/${entry}`, GROUPED.has(entry) ? 0.2 : 0],
              catchUp: 'all',
              retry: RETRY,
              ...(GROUPED.has(entry) ? { concurrency: GROUP } : {}),
            },
          ]),
        ),
      });
      const spawn = async (): Promise<BeatProcess> => Promise.resolve(fleet.spawn({ config: file }));
      const chaos = new ChaosReplicas(fleet, state, NAME, spawn);
      replicas = chaos;
      await Promise.all([spawn(), spawn(), spawn()]);
      await chaos.leader();
      /** For a failure: each incomplete slot's runs as the replicas logged publishing them (who, when). */
      const explain = (bad: readonly string[]): string =>
        bad
          .slice(0, 10)
          .map((line) => {
            const [entry, at] = line.split(/@|: /) as [string, string];
            const slotId = slotTaskId(NAME, entry, Date.parse(at));
            const ids = new Set([1, 2, 3].map((n) => attemptTaskId(slotId, n)));
            const published = fleet.all.flatMap((p) =>
              p.logs
                .filter((l) => ids.has(String(l['id'])))
                .map((l) => `${p.label}(${p.alive ? 'alive' : 'dead'}) ${l.time} ${l.event ?? ''}`),
            );
            return `${line} published: ${published.join(', ') || 'not logged'}`;
          })
          .join('\n');
      // This deployment's runs (args name it: a first try's replicas may still run), their entries' names as configured.
      const ran = async (): Promise<Ran[]> =>
        (await results.lrange('tsbeat-test:failed-runs', 0, -1))
          .map((t) => JSON.parse(t) as Ran)
          .filter((r) => typeof r.entry === 'string' && r.entry.startsWith(`${NAME}/`))
          .map((r) => ({ ...r, entry: r.entry.slice(NAME.length + 1) }));

      const startedMs = Date.now();
      await chaos.run(startedMs + CHAOS_MS);
      const chaosEndMs = Date.now();
      // The attempts of every slot due by the end of the faults drain (the last ones 2 s and more after it).
      let seen: Ran[] = [];
      await waitUntil(
        'every attempt of every slot due by the end of the chaos',
        async () => {
          seen = await ran();
          return incomplete(seen, chaosEndMs).length === 0 ? true : undefined;
        },
        30_000,
        () => `faults ${chaos.faults.join(' ')}; incomplete ${explain(incomplete(seen, chaosEndMs))}`,
      );
      await fleet.killAll();
      const runs = await ran();

      // No task id executed twice.
      const ids = new Map<string, number>();
      for (const r of runs) ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
      expect([...ids].filter(([, n]) => n > 1).map(([id]) => id)).toEqual([]);
      // Each run under its (entry, slot, attempt)'s own id and headers: attempt 1 is the slot's id, n > 1 names it.
      for (const r of runs) {
        const slotId = slotTaskId(NAME, r.entry, Date.parse(r.scheduled as string));
        expect([r.id, r.retry_of]).toEqual(r.attempt === null ? [slotId, null] : [attemptTaskId(slotId, r.attempt), slotId]);
      }
      // None lost, none beyond the policy: every slot up to the end, attempts 1..3 once each.
      expect(incomplete(runs, chaosEndMs), explain(incomplete(runs, chaosEndMs))).toEqual([]);
      expect(runs.filter((r) => (r.attempt ?? 1) > ATTEMPTS)).toEqual([]);
      // The group never ran two at once.
      const grouped = runs.filter((r) => GROUPED.has(r.entry));
      expect(mostAtOnce(grouped), JSON.stringify(grouped.map((r) => [r.entry, r.attempt, r.start % 1000, r.end % 1000]))).toBe(1);
      expect(new Set(chaos.faults.map((f) => f.split('@')[0]))).toEqual(new Set(['kill', 'stop-under', 'stop-past']));
      const slots = [...slotsOf(runs, chaosEndMs).values()].reduce((n, s) => n + s.size, 0);
      console.log(
        `retry chaos: ${String(chaos.faults.length)} faults in ${String(Math.round((chaosEndMs - startedMs) / 1000))} s; ` +
          `${String(runs.length)} runs checked, ${String(slots)} slots of ${String(ATTEMPTS)} attempts, ${String(grouped.length)} of the group`,
      );
    }, 150_000);
  },
);
