// The source files one run crosses from "due" to "in the broker" (docs/design.md, "The hops of a
// run"), measured rather than read: `beat run` in this process on tsc's per-module build (dist/,
// not the bundle, so each function is named by its file), with V8's precise coverage counting
// calls. The counts are reset 50 ms before the entry's instant and read while the publish's
// EVALSHA waits in Redis, sent and not yet run: Redis's writes are paused (CLIENT PAUSE WRITE,
// Redis >= 6.2) from just before the instant until the script is seen waiting, so nothing that
// follows the reply (the run's log line, events, metrics, outcomes) is counted. A second window of
// the same length with nothing due tells the background (the pause watch, the lock's renewal,
// timers) apart. On a machine too busy to start the window before the instant (the run already in
// the queue when Redis is paused), it says so and measures nothing.
//
//   node bench/publish-hops.mjs [redis://127.0.0.1:6379/0]   (the DB is flushed)
import { Session } from 'node:inspector/promises';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379/0';
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const redis = new Redis(url);
await redis.flushdb();

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });

const dir = mkdtempSync(join(tmpdir(), 'bench-hops-'));
const config = join(dir, 'beat.config.json');
const [seconds] = await redis.time();
const at = (Number(seconds) + 10) * 1000;
const entry = { task: 'bench.hop', schedule: 3600, startAt: new Date(at).toISOString(), args: [1, 'a'], kwargs: { k: 'v' } };
// Published 2 s before: its queue's binding is declared then (a write, SADD, which the pause would
// hold), so the measured run's one write is its EVALSHA, on the connection named here.
const first = { ...entry, startAt: new Date(at - 2000).toISOString() };
const broker = { url, transportOptions: { clientName: 'hops-broker' } };
writeFileSync(config, JSON.stringify({ name: 'hops', broker, beatSchedule: { first, hop: entry } }));

const { main } = await import('../dist/commands/main.js');
void main(['run', '--config', config, '--log-level', 'warn']);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** The files (under dist/, as their sources) with a function called since the last look. */
async function calledFiles() {
  const { result } = await session.post('Profiler.takePreciseCoverage');
  const files = new Map();
  for (const script of result) {
    if (!script.url.startsWith('file://')) continue;
    const path = fileURLToPath(script.url);
    if (!path.startsWith(DIST)) continue;
    const calls = script.functions.reduce((n, f) => n + (f.ranges[0]?.count ?? 0), 0);
    if (calls > 0) files.set(`src/${relative(DIST, path).replace(/\.js$/, '.ts')}`, calls);
  }
  return files;
}

// Reading the counts takes time itself (~100 ms on a busy machine): the reset begins that much
// earlier (twice what a first read took), so that it ends about 50 ms before the instant.
await sleep(at - Date.now() - 1000);
const readStartMs = Date.now();
await calledFiles();
const readMs = Date.now() - readStartMs;
await sleep(at - Date.now() - 50 - 2 * readMs);
await calledFiles();
await sleep(Math.max(0, at - Date.now() - 20));
await redis.call('CLIENT', 'PAUSE', '5000', 'WRITE');
// The first run's message is in the queue; the measured one must not be yet.
if ((await redis.llen('celery')) > 1) {
  console.error(
    'the run went out before Redis was paused (the machine too busy to start the window in time): nothing measured; run it again',
  );
  await redis.call('CLIENT', 'UNPAUSE');
  process.exit(1);
}
/** Whether a client's EVALSHA waits in Redis for the pause to end (CLIENT LIST's flag b). */
const scriptWaiting = async () =>
  String(await redis.call('CLIENT', 'LIST'))
    .split('\n')
    .some((line) => / name=hops-broker /.test(line) && / flags=\w*b/.test(line) && / cmd=evalsha /.test(line));
while (!(await scriptWaiting())) await sleep(1);
const publish = await calledFiles();
const windowMs = Date.now() - (at - 50);
await redis.call('CLIENT', 'UNPAUSE');
while ((await redis.llen('celery')) < 2) await sleep(1);
await sleep(1000);
await calledFiles();
await sleep(windowMs);
const background = await calledFiles();

const hops = [...publish].filter(([file]) => !background.has(file)).sort();
const shared = [...publish].filter(([file]) => background.has(file)).sort();
console.log(`window ${windowMs} ms (until the EVALSHA was sent); files called by the publish alone: ${hops.length}`);
for (const [file, calls] of hops) console.log(`  ${file}  (${calls} calls)`);
console.log(`also called in a window with nothing due (background): ${shared.length}`);
for (const [file, calls] of shared) console.log(`  ${file}  (${calls} calls; ${background.get(file)} in the quiet window)`);
await redis.quit();
process.exit(0);
