#!/usr/bin/env node
/**
 * A burst on many queues (issue 66, finding 5): --entries runtime entries, --burst of them due every
 * minute, each on a queue of its own ("many") or all on one queue ("one"), the rest idle (due on
 * 1 January) on other queues; nobody consumes, so from the third minute or so the leader's consumer
 * check flags every burst queue, and flags them again after each burst (their depth changed).
 * `beat run` on a private redis-server per mode, for --minutes bursts; the modes alternate, --rounds
 * times. Per burst: when the first and the last run went out after the instant (each entry's state
 * records its publish time), the loop's longest stall over the minute before it
 * (nodejs_eventloop_lag_max_seconds, which restarts at each scrape), and the lock lost, if it was.
 *
 *   npm run build && node bench/many-queues-burst.mjs [--entries 50000] [--burst 5000] [--minutes 4] [--rounds 1] [--modes many,one]
 *   node bench/many-queues-burst.mjs --cpu-prof /tmp/prof    # a .cpuprofile per beat process
 *   node bench/many-queues-burst.mjs --cli /tmp/before/dist/cli.js   # another build's beat (before a change)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'node:http';
import { Entries } from '../dist/index.js';
import { schedulerKeys } from '../dist/redis/keys.js';
import { privateRedis } from './lib/million.mjs';
import { redisNowMs } from './lib/redis-clock.mjs';
import { spawnTsbeat, stop, tempDir, tsbeatNodeFlags, waitForLog } from './lib/procs.mjs';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '50000' },
    burst: { type: 'string', default: '5000' },
    minutes: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '1' },
    modes: { type: 'string', default: 'many,one' },
    'cpu-prof': { type: 'string' },
    cli: { type: 'string' },
  },
});
const TOTAL = Number(values.entries);
const BURST = Number(values.burst);
const MINUTES = Number(values.minutes);
if (values['cpu-prof'] !== undefined) tsbeatNodeFlags.push('--cpu-prof', '--cpu-prof-dir', values['cpu-prof']);
/** Past the store's default budget: the bench writes what it is told to. */
const BUDGET = { maxEntries: 10_000_000, maxStoreBytes: 64 * 1024 ** 3 };
const DEPLOYMENT = 'many-queues';
const SEED_CHUNK = 10_000;

function scrapeStall(port) {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1])));
    })
      .on('error', reject)
      .end();
  });
}

async function seed(url, queueOf) {
  const writer = await Entries.connect({ url, deployment: DEPLOYMENT, budget: BUDGET });
  try {
    for (let from = 0; from < TOTAL; from += SEED_CHUNK) {
      const chunk = {};
      for (let i = from; i < Math.min(TOTAL, from + SEED_CHUNK); i += 1) {
        chunk[`e-${i}`] =
          i < BURST
            ? { task: 'bench.burst', args: [i], schedule: { crontab: { minute: '*' } }, options: { queue: queueOf(i) } }
            : {
                task: 'bench.idle',
                args: [i],
                schedule: { crontab: { minute: i % 60, hour: 0, day_of_month: 1, month_of_year: 1 } },
                options: { queue: `idle-${i % 1000}` },
              };
      }
      await writer.setMany(chunk);
    }
  } finally {
    await writer.close();
  }
}

async function oneMode(mode) {
  const redis = await privateRedis();
  let child;
  try {
    const queueOf = mode === 'many' ? (i) => `q-${i}` : () => 'burst';
    const names = Array.from({ length: BURST }, (_, i) => `e-${i}`);
    const stateKey = schedulerKeys('tsbeat', DEPLOYMENT).state;
    await seed(redis.url, queueOf);
    // Started just after a minute: the first burst is the next one, with the start done before it.
    await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    const config = join(tempDir('bench-many-queues-'), 'beat.config.json');
    writeFileSync(config, JSON.stringify({ name: DEPLOYMENT, broker: { url: redis.url }, entryLimits: BUDGET }));
    child = spawnTsbeat(config, ['--http', '127.0.0.1:0'], {}, values.cli);
    if (!(await waitForLog(child, /"beat\.start".*"msg":"scheduling"/, 180_000)))
      throw new Error('the leader did not start scheduling within 180 s');
    const port = JSON.parse(child.logLines.find((l) => l.includes('"beat.http.listen"'))).port;
    await scrapeStall(port);
    const firstAt = Math.ceil((await redisNowMs(redis.client)) / 60_000) * 60_000;
    for (let minute = 0; minute < MINUTES; minute += 1) {
      const at = firstAt + minute * 60_000;
      await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now() - 500)));
      // Over the minute before this burst: the last burst's flags, the looks.
      const stallS = await scrapeStall(port);
      // Each run's publish time is in its entry's state (`at`, by the scheduler's clock, set as its
      // batch went out): read once a second until every burst entry holds this slot. Polling the
      // lists themselves took Redis's thread from the burst in the many-queue mode (thousands of
      // LLEN a poll) and not in the other.
      let published = [];
      const deadline = Date.now() + 180_000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.max(1000, at + 1000 - Date.now())));
        const states = (await redis.client.hmget(stateKey, ...names)).map((text) => (text === null ? undefined : JSON.parse(text)));
        if (states.every((state) => state?.slot === at)) {
          published = states.map((state) => state.at - at).sort((a, b) => a - b);
          break;
        }
      }
      const first = published[0];
      const last = published[published.length - 1];
      const lockLost = child.logLines.filter((l) => l.includes('"beat.lock.lost"')).length;
      const ms = (t) => (t === undefined ? '—' : `${Math.round(t)} ms`);
      console.log(
        `${mode.padEnd(4)} minute ${minute}: first ${ms(first)}, last ${ms(last)}; longest stall in the minute before ${stallS.toFixed(2)} s; lock lost ${lockLost} times`,
      );
    }
  } finally {
    if (child) await stop(child);
    await redis.stop();
  }
}

console.log(`${TOTAL.toLocaleString('en')} runtime entries, ${BURST.toLocaleString('en')} due every minute`);
for (let round = 0; round < Number(values.rounds); round += 1) for (const mode of values.modes.split(',')) await oneMode(mode);
