/**
 * Cut-over between RedBeat's beat and tsbeat, there and back twice, on a private Redis: RedBeat's
 * beat's tick (test/support/redbeat_client.py `tick`: RedBeatScheduler.schedule, is_due,
 * _next_instance, from RedBeat's source, on the Celery PYTHONPATH gives; it publishes each run as
 * Celery's Scheduler.apply_async does) runs an entry, then tsbeat takes over and publishes the next
 * slot RedBeat would have (its last_run_at plus the interval), is stopped, and RedBeat's beat runs
 * the slot after tsbeat's last publish from the meta tsbeat wrote; three times. Whichever last run
 * is newer wins, compared by slot, so tsbeat's older state never wins over RedBeat's newer meta.
 * The oracle is the broker's list: every run's message once, in order, tsbeat's task ids naming
 * their slots, each run one period after the one before: 0 lost, 0 doubled, 0 early.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import type { BeatProcess, LogLine } from '../support/beat-process.js';
import { BeatFleet, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { JsonLineProcess } from '../support/json-lines.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { slotId } from '../support/slot-id.js';

const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const EVERY_S = 4;
const DEPLOYMENT = 'rbcut';

suite(`cut-over between RedBeat's beat and tsbeat${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let broker: Redis;
  let py: JsonLineProcess;
  let url = '';

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    server = await startPrivateRedis();
    url = server.url(0);
    broker = new Redis(url);
    py = new JsonLineProcess('redbeat_client.py', PYTHON, [CLIENT, '--serve'], {});
  }, 30_000);

  afterAll(async () => {
    await fleet.killAll();
    await py?.close();
    broker?.disconnect();
    await server?.stop();
    dir.remove();
  });

  /** One run by RedBeat's beat: when it ran (its meta's last_run_at, epoch ms) and its message's task id. */
  interface RedBeatRun {
    readonly at: number;
    readonly id: string;
  }

  /** RedBeat's beat ticking every 100 ms until it sent `runs` runs of `name`, each published to the broker. */
  async function redbeatRuns(name: string, runs: number): Promise<RedBeatRun[]> {
    const sent: RedBeatRun[] = [];
    const deadline = Date.now() + (runs + 1) * EVERY_S * 1000 + 5000;
    while (sent.length < runs) {
      if (Date.now() > deadline) throw new Error(`RedBeat's beat sent ${String(sent.length)} of ${String(runs)} runs of ${name}`);
      const reply = await py.call<{ sent: boolean; last_run_at_epoch?: number; id?: string }>({ op: 'tick', url, name, publish: true });
      if (reply.sent) sent.push({ at: Math.round((reply.last_run_at_epoch ?? 0) * 1000), id: String(reply.id) });
      await sleep(100);
    }
    return sent;
  }

  /** RedBeat's meta of `name` as RedBeat's decoder reads it: last_run_at (epoch ms) and total_run_count. */
  async function meta(name: string): Promise<{ last: number; count: number }> {
    const read = await py.call<{ last_run_at_epoch: number | null; total_run_count: number | null }>({ op: 'read', url, name });
    return { last: Math.round((read.last_run_at_epoch ?? 0) * 1000), count: read.total_run_count ?? 0 };
  }

  /** One run by tsbeat, from its fire line: its slot, when it was published (epoch ms) and its task id. */
  interface TsbeatRun {
    readonly slot: number;
    readonly published: number;
    readonly id: string;
  }

  const runsOf = (beat: BeatProcess, name: string): TsbeatRun[] =>
    beat.logs
      .filter((l: LogLine) => l.event === EVENTS.fire && l['entry'] === name)
      .map((l) => {
        const slot = Date.parse(String(l['slot']));
        return { slot, published: slot + Number(l['latenessMs']), id: String(l['id']) };
      });

  /** tsbeat until it published `runs` runs of `name`, then stopped as in production (SIGTERM: its write-back drains). */
  async function tsbeatRuns(name: string, runs: number, label: string): Promise<TsbeatRun[]> {
    const file = dir.write(
      `${label}.yaml`,
      [`name: ${DEPLOYMENT}`, `broker: { url: "${url}" }`, 'maxInterval: 1s', 'sources: { redbeat: { keyPrefix: "redbeat:" } }', ''].join(
        '\n',
      ),
    );
    const beat = fleet.spawn({ config: file, label });
    await waitUntil(
      `${String(runs)} runs of ${name} by ${label}`,
      async () => (runsOf(beat, name).length >= runs ? true : undefined),
      (runs + 2) * EVERY_S * 1000 + 15_000,
      () => fleet.dump(),
    );
    beat.signal('SIGTERM');
    await beat.waitForExit(15_000);
    return runsOf(beat, name);
  }

  it('publishes the slot the other scheduler would have published next, there and back twice, none twice', async () => {
    await fleet.killAll();
    await broker.flushall();
    await py.call({ op: 'save', url, name: 'rt', task: 'tsbeat_test.record', schedule: { interval: EVERY_S }, kwargs: { entry: 'rt' } });
    const every = EVERY_S * 1000;
    const rounds: { redbeat: RedBeatRun[]; tsbeat: TsbeatRun[] }[] = [];
    let redbeatNext: number | undefined;
    for (const [round, redbeatCount, tsbeatCount] of [
      [1, 1, 2],
      [2, 1, 1],
      [3, 1, 1],
    ] as const) {
      const redbeat = await redbeatRuns('rt', redbeatCount);
      if (redbeatNext !== undefined) {
        // RedBeat's beat continues from the meta tsbeat wrote (its last publish): at that slot, not
        // before it (a slot twice) and not a period after it (a slot lost).
        const first = (redbeat[0] as RedBeatRun).at;
        expect(first, `round ${String(round)}: RedBeat's first run`).toBeGreaterThanOrEqual(redbeatNext);
        expect(first - redbeatNext, `round ${String(round)}: RedBeat's first run`).toBeLessThan(every / 2);
      }
      const tsbeat = await tsbeatRuns('rt', tsbeatCount, `tsbeat${String(round)}`);
      // RedBeat's next: its last_run_at plus the interval (due_at = last_run_at + remaining_estimate);
      // tsbeat's older state (round 2 on) does not win over RedBeat's newer meta.
      const [first, second] = tsbeat;
      expect(
        Math.abs((first as TsbeatRun).slot - ((redbeat.at(-1) as RedBeatRun).at + every)),
        `round ${String(round)}: tsbeat's first slot`,
      ).toBeLessThanOrEqual(1);
      expect((first as TsbeatRun).published).toBeGreaterThanOrEqual((first as TsbeatRun).slot);
      if (second !== undefined) expect(second.slot).toBe((first as TsbeatRun).slot + every);
      // What RedBeat's beat reads next: tsbeat's last run (the time of its publish, taken around the
      // send: not its slot's fire line to the millisecond), not an older one, and every run so far counted.
      const written = await meta('rt');
      const last = tsbeat.at(-1) as TsbeatRun;
      expect(written.last, `round ${String(round)}: meta's last_run_at`).toBeGreaterThanOrEqual(last.slot);
      expect(Math.abs(written.last - last.published), `round ${String(round)}: meta's last_run_at`).toBeLessThan(every / 2);
      rounds.push({ redbeat, tsbeat });
      expect(written.count).toBe(rounds.reduce((n, r) => n + r.redbeat.length + r.tsbeat.length, 0));
      redbeatNext = written.last + every;
    }

    // Every run, in order (RedBeat's at its last_run_at, tsbeat's at its slot): none within one
    // period of another (a slot run twice), none two periods after another (a slot lost).
    const times = rounds.flatMap((r) => [...r.redbeat.map((x) => x.at), ...r.tsbeat.map((x) => x.slot)]);
    for (let i = 1; i < times.length; i += 1) {
      const gap = (times[i] as number) - (times[i - 1] as number);
      expect(gap, `run ${String(i)} of ${JSON.stringify(times)}`).toBeGreaterThanOrEqual(every - 5);
      expect(gap, `run ${String(i)} of ${JSON.stringify(times)}`).toBeLessThan(2 * every);
    }
    // The broker's list: each run's message once, RedBeat's and tsbeat's, nothing else; tsbeat's
    // task ids name their slots (uuid5 of deployment, entry and slot).
    const ids = (await broker.lrange('celery', 0, -1))
      .reverse()
      .map((m) => JSON.parse(m) as { headers: { id: string; kwargsrepr: string } })
      .filter((m) => m.headers.kwargsrepr.includes("'entry': 'rt'"))
      .map((m) => m.headers.id);
    const expected = rounds.flatMap((r) => [...r.redbeat.map((x) => x.id), ...r.tsbeat.map((x) => x.id)]);
    expect(ids).toEqual(expected);
    for (const run of rounds.flatMap((r) => r.tsbeat)) expect(run.id).toBe(slotId(DEPLOYMENT, 'rt', run.slot));
  }, 150_000);
});
