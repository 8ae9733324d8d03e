// `npm run bench -- --only ablation`: each speed-up of the publish path on and off in one run, on
// the workloads users feel: bursts of 10,000 and 100,000 entries due at one instant (the first and
// the last message's arrival after it), and the lateness of an entry due every second beside a load
// of 10,000 others. Turned off through BEAT_SPEEDUPS_OFF (src/base/speedups.ts), one speed-up at a
// time, with everything else on; runs alternate on/off/on/off so that the load of a shared machine
// falls on both sides alike, and medians are reported. Timed by Redis, as the other workloads.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { consume, headersOf, redisNowMs, watchArrivals } from './redis-clock.mjs';
import { spawnTsbeat, stop, tempDir } from './procs.mjs';

/** Each speed-up and the workloads it can change (a timer or a stage does nothing for a burst's last message, say). */
export const ABLATED = {
  timer: ['tick'],
  repr: ['burst10k'],
  warmup: ['burst10k'],
};

const median = (xs) => {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * @param {{ redis: Redis, broker: string, log: (text: string) => void, pairs: number, tickSeconds: number, only?: string[], workloads?: string[], against?: string }} ctx
 * @returns the rows, one per speed-up and workload: medians with it on and off
 */
export async function ablation(ctx) {
  const { redis, broker, log } = ctx;
  const writeConfig = (dir, name, entries) => {
    const path = join(dir, 'beat.config.json');
    writeFileSync(path, JSON.stringify({ name, broker: { url: broker }, beatSchedule: Object.fromEntries(entries) }));
    return path;
  };

  /** n entries due at one instant (an interval grid starting there), far enough ahead for start-up and the warm-up. */
  async function burst(n, { env, cli }) {
    await redis.flushdb();
    const dir = tempDir('bench-ablation-');
    const at = Math.ceil((await redisNowMs(redis)) / 1000) * 1000 + (n >= 100_000 ? 40_000 : 20_000);
    const startAt = new Date(at).toISOString();
    // With args and kwargs, as most tasks have them: the message's reprs (argsrepr, kwargsrepr) cost per run.
    const entries = Array.from({ length: n }, (_, i) => [
      `e${i}`,
      { task: 'bench.burst', schedule: 3600, startAt, args: [i, `tenant-${i}`, [1, 2.5, null]], kwargs: { report: 'daily', limit: 100 } },
    ]);
    const child = spawnTsbeat(writeConfig(dir, `ablation${n}`, entries), [], env, cli);
    const arrivals = await watchArrivals(redis, ['celery'], n, at - Date.now() + 60_000);
    await stop(child);
    if (arrivals.count < n)
      throw new Error(`ablation burst of ${n}: ${arrivals.count} messages arrived; the scheduler logged: ${child.logLines.join('\n')}`);
    const size = (await redis.lindex('celery', 0))?.length ?? 0;
    // The target's yardstick, in the same run: redis-benchmark's pipelined LPUSH of messages this size.
    const rate = n / ((arrivals.last - at) / 1000);
    return { first: arrivals.first - at, last: arrivals.last - at, ratio: rate / lpushRate(size) };
  }

  /** LPUSH requests a second by `redis-benchmark -P 64 -t lpush -d size` against the bench's Redis. */
  function lpushRate(size) {
    const url = new URL(broker);
    const args = ['-h', url.hostname, '-p', url.port || '6379', '-P', '64', '-t', 'lpush', '-d', String(size), '-n', '200000', '--csv'];
    const out = spawnSync('redis-benchmark', args, { encoding: 'utf8' });
    const line = out.stdout.split('\n').find((l) => l.startsWith('"LPUSH'));
    if (line === undefined) throw new Error(`redis-benchmark ${args.join(' ')}: ${out.stderr || out.stdout}`);
    return Number(line.split(',')[1]?.replaceAll('"', ''));
  }

  /** An entry due every second beside 10,000 others (every 10 minutes, spread between its runs): lateness of its runs. */
  async function tick({ env, cli }) {
    await redis.flushdb();
    const dir = tempDir('bench-ablation-');
    const period = 600;
    const base = Math.floor(Date.now() / 1000) * 1000 - period * 1000;
    const grid = (i) => new Date(base + (i === 0 ? 0 : (i % period) * 1000 + (Math.floor(i / period) % 2 === 0 ? 250 : 750))).toISOString();
    const entries = [
      ['tick', { task: 'bench.tick', schedule: 1, startAt: grid(0) }],
      ...Array.from({ length: 10_000 }, (_, i) => [
        `load${i}`,
        { task: 'bench.load', schedule: period, startAt: grid(i + 1), catchUp: 'skip', options: { queue: 'bench-load' } },
      ]),
    ];
    const child = spawnTsbeat(writeConfig(dir, 'ablationtick', entries), [], env, cli);
    const consumer = new Redis(broker);
    const arrivals = [];
    const warmup = 10;
    await consume(consumer, 'celery', Date.now() + (warmup + ctx.tickSeconds + 4) * 1000, (message, at) =>
      arrivals.push(at - Date.parse(headersOf(message).beat_scheduled_at)),
    );
    await consumer.quit();
    await stop(child);
    const late = arrivals.slice(warmup, warmup + ctx.tickSeconds).sort((a, b) => a - b);
    return { p50: percentile(late, 50), p99: percentile(late, 99) };
  }

  const measures = {
    burst10k: async (side) => burst(10_000, side),
    burst100k: async (side) => burst(100_000, side),
    tick,
  };
  const rows = [];
  // With ctx.against (another tree's dist/cli.js): this tree against that one, every speed-up on in both.
  const ablated = ctx.against === undefined ? ABLATED : { against: ['burst10k', 'burst100k', 'tick'] };
  for (const [speedup, workloads] of Object.entries(ablated)) {
    if (ctx.only !== undefined && !ctx.only.includes(speedup)) continue;
    for (const workload of workloads.filter((w) => ctx.workloads === undefined || ctx.workloads.includes(w))) {
      const on = [];
      const off = [];
      for (let pair = 0; pair < ctx.pairs; pair += 1) {
        for (const [side, list, env] of [
          ['on', on, { env: {} }],
          ['off', off, ctx.against === undefined ? { env: { BEAT_SPEEDUPS_OFF: speedup } } : { env: {}, cli: ctx.against }],
        ]) {
          // A run that failed (a start-up slower than the lead on a loaded machine) is tried once more.
          const r = await measures[workload](env).catch((error) => {
            log(`ablation ${speedup} ${workload} ${side}: ${error.message}; once more`);
            return measures[workload](env);
          });
          log(`ablation ${speedup} ${workload} ${side}: ${JSON.stringify(r)}`);
          list.push(r);
        }
      }
      const med = (list, key) => median(list.map((r) => r[key]));
      const keys = workload === 'tick' ? ['p50', 'p99'] : ['first', 'last', 'ratio'];
      rows.push({
        speedup,
        workload,
        on: Object.fromEntries(keys.map((k) => [k, med(on, k)])),
        off: Object.fromEntries(keys.map((k) => [k, med(off, k)])),
        runs: ctx.pairs,
      });
    }
  }
  return rows;
}
