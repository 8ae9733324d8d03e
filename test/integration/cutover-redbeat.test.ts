/**
 * Cut-over between RedBeat's beat and tsbeat, both ways, on a private Redis: RedBeat's beat's tick
 * (test/support/redbeat_client.py `tick`: RedBeatScheduler.schedule, is_due, _next_instance, from
 * RedBeat's source) runs an entry until it ran, then tsbeat takes over and publishes the next slot
 * RedBeat would have (its last_run_at plus the interval), then RedBeat's beat again, then tsbeat
 * again: whichever last run is newer wins, compared by slot, so no slot runs twice and none is lost
 * (tsbeat's older state does not win over RedBeat's newer meta).
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

const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const EVERY_S = 4;

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

  /** RedBeat's beat ticking every 100 ms until it sent `runs` runs of `name`; their last_run_at, epoch ms. */
  async function redbeatRuns(name: string, runs: number): Promise<number[]> {
    const sent: number[] = [];
    const deadline = Date.now() + (runs + 1) * EVERY_S * 1000 + 5000;
    while (sent.length < runs) {
      if (Date.now() > deadline) throw new Error(`RedBeat's beat sent ${String(sent.length)} of ${String(runs)} runs of ${name}`);
      const reply = await py.call<{ sent: boolean; last_run_at_epoch?: number }>({ op: 'tick', url, name });
      if (reply.sent) sent.push(Math.round((reply.last_run_at_epoch ?? 0) * 1000));
      await sleep(100);
    }
    return sent;
  }

  const slotsOf = (beat: BeatProcess, name: string): number[] =>
    beat.logs.filter((l: LogLine) => l.event === EVENTS.fire && l['entry'] === name).map((l) => Date.parse(String(l['slot'])));

  /** tsbeat until it published `runs` runs of `name`, then stopped as in production (SIGTERM: its write-back drains). */
  async function tsbeatRuns(name: string, runs: number, label: string): Promise<number[]> {
    const file = dir.write(
      `${label}.yaml`,
      ['name: rbcut', `broker: { url: "${url}" }`, 'maxInterval: 1s', 'sources: { redbeat: { keyPrefix: "redbeat:" } }', ''].join('\n'),
    );
    const beat = fleet.spawn({ config: file, label });
    await waitUntil(
      `${String(runs)} runs of ${name} by ${label}`,
      async () => (slotsOf(beat, name).length >= runs ? true : undefined),
      (runs + 2) * EVERY_S * 1000 + 15_000,
      () => fleet.dump(),
    );
    beat.signal('SIGTERM');
    await beat.waitForExit(15_000);
    return slotsOf(beat, name);
  }

  it('publishes the slot the other scheduler would have published next, there and back twice, none twice', async () => {
    await fleet.killAll();
    await broker.flushall();
    await py.call({ op: 'save', url, name: 'rt', task: 'tsbeat_test.record', schedule: { interval: EVERY_S }, kwargs: { entry: 'rt' } });

    const redbeat1 = await redbeatRuns('rt', 2);
    const tsbeat1 = await tsbeatRuns('rt', 2, 'tsbeat1');
    // RedBeat's next: its last_run_at plus the interval (due_at = last_run_at + remaining_estimate).
    expect(Math.abs((tsbeat1[0] as number) - ((redbeat1.at(-1) as number) + EVERY_S * 1000))).toBeLessThanOrEqual(1);
    expect(tsbeat1[1]).toBe((tsbeat1[0] as number) + EVERY_S * 1000);

    // Back to RedBeat's beat: it continues from the meta tsbeat wrote (its last publish), not before it.
    const redbeat2 = await redbeatRuns('rt', 1);
    expect(redbeat2[0]).toBeGreaterThanOrEqual((tsbeat1.at(-1) as number) + EVERY_S * 1000);

    // And tsbeat again: RedBeat's newer run wins over tsbeat's own older state (no replay of its slot).
    const tsbeat2 = await tsbeatRuns('rt', 1, 'tsbeat2');
    expect(Math.abs((tsbeat2[0] as number) - ((redbeat2[0] as number) + EVERY_S * 1000))).toBeLessThanOrEqual(1);

    // Every run, in order: none within one period of another (a slot run twice).
    const runs = [...redbeat1, ...tsbeat1, ...redbeat2, ...tsbeat2];
    for (let i = 1; i < runs.length; i += 1) {
      const gap = (runs[i] as number) - (runs[i - 1] as number);
      expect(gap, `run ${String(i)} of ${JSON.stringify(runs)}`).toBeGreaterThanOrEqual(EVERY_S * 1000 - 5);
    }
    // tsbeat's messages are in the broker's list once each (RedBeat's tick here publishes none).
    const messages = (await broker.lrange('celery', 0, -1)).filter((m) => m.includes("'entry': 'rt'"));
    expect(messages.length).toBe(tsbeat1.length + tsbeat2.length);
  }, 120_000);
});
