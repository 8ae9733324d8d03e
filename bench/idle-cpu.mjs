#!/usr/bin/env node
/**
 * What `beat run` costs between its minute bursts: N every-minute entries (default 10,000), each
 * build on its own private redis-server, the builds taking turns within one run so that they share
 * the machine's load. For each: CPU (% of a core, /proc) of the scheduler and of redis-server from
 * 15 s to 45 s after an instant (the burst of that instant is over, the next not begun), and the
 * Redis commands the scheduler sent meanwhile (INFO commandstats); and the scheduler's and
 * redis-server's CPU over the whole minutes between the first window and the last, bursts included
 * (work moved out of the window shows there). A list consumer drains the queue as in
 * bench/peer-bursts.mjs.
 *
 *   npm run build && node bench/idle-cpu.mjs                           # dist/ alone
 *   node bench/idle-cpu.mjs --cli before=/path/to/old/dist/cli.js --cli after=dist/cli.js --rounds 3
 *   node bench/idle-cpu.mjs --cpu-prof DIR                             # a .cpuprofile per scheduler
 *
 * A build given by --cli must sit where it finds this package's node_modules (inside the checkout).
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { privateRedis } from './lib/million.mjs';
import { CLI, processCpuSeconds, spawnTsbeat, stop, tempDir, tsbeatNodeFlags, waitForLog } from './lib/procs.mjs';

const USAGE = `usage: node bench/idle-cpu.mjs [--cli NAME=PATH]... [--entries N] [--rounds R] [--cpu-prof DIR]

  --cli NAME=PATH   a build to measure (repeatable; default: this checkout's dist/cli.js)
  --entries N       every-minute entries (default 10000)
  --rounds R        measured windows per build, taken in turn (default 2)
  --cpu-prof DIR    write each scheduler's CPU profile into DIR
  -h, --help        this text
`;
const { values } = parseArgs({
  options: {
    cli: { type: 'string', multiple: true },
    entries: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '2' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const builds = (values.cli ?? [`dist=${CLI}`]).map((spec) => {
  const at = spec.indexOf('=');
  return at < 0 ? { name: spec, cli: resolve(spec) } : { name: spec.slice(0, at), cli: resolve(spec.slice(at + 1)) };
});
const N = Number(values.entries);
const ROUNDS = Number(values.rounds);
if (values['cpu-prof']) tsbeatNodeFlags.push('--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof']));

const CHILD = fileURLToPath(new URL('./lib/peer-child.mjs', import.meta.url));
const log = (text) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
const sleep = (ms) => new Promise((done) => setTimeout(done, Math.max(0, ms)));
const load = () => loadavg()[0].toFixed(2);
/** The window measured, after each minute's instant: the burst is over, the next not begun. */
const WINDOW = { fromMs: 15_000, toMs: 45_000 };

function consumer(url) {
  const proc = spawn(process.execPath, [CHILD, 'list-consumer', url, 'celery'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((ready, failed) => {
    proc.on('message', (message) => message.ready && ready(proc));
    proc.once('exit', (code) => failed(new Error(`consumer exited (${code})`)));
  });
}

/** Calls per command from INFO commandstats. */
async function commandCalls(redis) {
  const text = await redis.info('commandstats');
  return Object.fromEntries([...text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

/** A build's scheduler on its own redis-server, ready to be measured at each minute. */
async function start(build) {
  const redis = await privateRedis();
  const dir = tempDir('bench-idle-');
  const config = join(dir, 'beat.config.json');
  const entries = Array.from({ length: N }, (_, i) => [`e${i}`, { task: 'bench.idle', schedule: { crontab: { minute: '*', hour: '*' } } }]);
  writeFileSync(config, JSON.stringify({ name: 'idle', broker: { url: redis.url }, beatSchedule: Object.fromEntries(entries) }));
  const drain = await consumer(redis.url);
  const scheduler = spawnTsbeat(config, [], {}, build.cli);
  const close = async () => {
    await stop(scheduler);
    await stop(drain);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await waitForLog(scheduler, /"beat\.start".*"msg":"scheduling"/, 300_000))) {
    await close();
    throw new Error(`${build.name}: not scheduling within 300 s`);
  }
  return {
    ...build,
    redis,
    scheduler,
    samples: [],
    marks: [],
    close,
  };
}

const running = [];
try {
  for (const build of builds) running.push(await start(build));
} catch (error) {
  for (const b of running) await b.close();
  throw error;
}
log(`${running.map((b) => b.name).join(', ')}: scheduling ${N} every-minute entries (load ${load()})`);
try {
  // Each minute measures one build, in turn, so that every build's windows meet the same load.
  for (let round = 0; round < ROUNDS * running.length; round++) {
    const b = running[round % running.length];
    const instant = Math.ceil((Date.now() + 1_000) / 60_000) * 60_000;
    // Skip a minute whose window has begun already.
    const at = Date.now() > instant - 60_000 + WINDOW.fromMs ? instant : instant - 60_000;
    await sleep(at + WINDOW.fromMs - Date.now());
    // Every build's CPU at each window's start: what each spends in whole minutes, its bursts included.
    for (const r of running) r.marks.push({ atMs: Date.now(), cpu: processCpuSeconds(r.scheduler.pid) + processCpuSeconds(r.redis.pid) });
    const cpu0 = { scheduler: processCpuSeconds(b.scheduler.pid), redis: processCpuSeconds(b.redis.pid) };
    const calls0 = await commandCalls(b.redis.client);
    const t0 = performance.now();
    await sleep(at + WINDOW.toMs - Date.now());
    const seconds = (performance.now() - t0) / 1000;
    const calls1 = await commandCalls(b.redis.client);
    const percent = (pid, from) => (100 * (processCpuSeconds(pid) - from)) / seconds;
    // The two INFO calls of this script are not the scheduler's.
    const commands = Object.fromEntries(
      Object.entries(calls1)
        .map(([c, n]) => [c, n - (calls0[c] ?? 0) - (c === 'info' ? 1 : 0)])
        .filter(([, n]) => n > 0),
    );
    const sample = { scheduler: percent(b.scheduler.pid, cpu0.scheduler), redis: percent(b.redis.pid, cpu0.redis), commands, load: load() };
    b.samples.push(sample);
    log(
      `${b.name}: scheduler ${sample.scheduler.toFixed(2)} %, redis ${sample.redis.toFixed(2)} % over ${seconds.toFixed(0)} s ` +
        `(load ${sample.load}); commands ${JSON.stringify(commands)}`,
    );
  }
} finally {
  for (const b of running) await b.close();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const b of running) {
  const s = b.samples;
  const [first, last] = [b.marks[0], b.marks.at(-1)];
  const whole = last.atMs > first.atMs ? (100 * (last.cpu - first.cpu)) / ((last.atMs - first.atMs) / 1000) : NaN;
  process.stdout.write(
    `${b.name}: scheduler ${median(s.map((x) => x.scheduler)).toFixed(2)} % + redis ${median(s.map((x) => x.redis)).toFixed(2)} % of a core ` +
      `(median of ${s.length} windows of ${(WINDOW.toMs - WINDOW.fromMs) / 1000} s, load ${s.map((x) => x.load).join('/')}); ` +
      `${whole.toFixed(2)} % over the ${((last.atMs - first.atMs) / 60_000).toFixed(0)} whole minutes, bursts included\n`,
  );
}
