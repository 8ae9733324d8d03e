#!/usr/bin/env node
/**
 * A burst to Amazon SQS: `beat run` (the built CLI, started as its `beat` bin starts it) with N
 * entries due at the same minute, sending to the local SQS server of the tests
 * (test/support/sqs-server-main.mjs: npm's local-aws-sqs, its own process on a free loopback
 * port), its state in a private redis-server on a free port. Times are the SQS server's: each
 * SendMessageBatch it answered, with how many messages it took (SQS_SERVER_LOG_SENDS=1).
 *
 *   npm run build && node bench/sqs-burst.mjs [--entries 10000]
 *
 * Prints the first and the last message after the instant and the messages per second from the
 * instant to the last one. The local server is one Node process on the same two cores: the figure
 * is tsbeat's path plus that server's, not AWS's (whose latency is the network's, with 16
 * SendMessageBatch calls in flight).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds, spawnTsbeat, stop } from './lib/procs.mjs';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '10000' } } });
const n = Number(values.entries);
if (!Number.isInteger(n) || n <= 0) {
  process.stderr.write(`--entries "${values.entries}": expected a whole number, such as 10000\n`);
  process.exit(2);
}
const SERVER = fileURLToPath(new URL('../test/support/sqs-server-main.mjs', import.meta.url));

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Starts a child and resolves once its output matches `ready`. */
function start(cmd, args, env, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.output = '';
  child.stdout.on('data', (c) => (child.output += c));
  child.stderr.on('data', (c) => (child.output += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${child.output}`)), 15_000);
    const check = () => {
      if (ready.test(child.output)) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve(child);
      }
    };
    child.stdout.on('data', check);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'bench-sqs-'));
const redisPort = await freePort();
const sqsPort = await freePort();
const redis = await start(
  'redis-server',
  ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', dir],
  {},
  /Ready to accept/,
);
const sqs = await start(process.execPath, [SERVER, String(sqsPort), 'celery'], { SQS_SERVER_LOG_SENDS: '1' }, /listening/);
let beat;
try {
  const at = Math.ceil((Date.now() + 12_000) / 60_000) * 60_000;
  const d = new Date(at);
  const entries = Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `e${i}`,
      { task: 'bench.burst', schedule: { crontab: { minute: d.getUTCMinutes(), hour: d.getUTCHours() } } },
    ]),
  );
  const config = join(dir, 'beat.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      name: 'sqsburst',
      broker: { url: `sqs://bench:bench@127.0.0.1:${sqsPort}`, transportOptions: { region: 'us-east-1' } },
      state: { url: `redis://127.0.0.1:${redisPort}/0` },
      beatSchedule: entries,
    }),
  );
  beat = spawnTsbeat(config);
  let cpuBefore;
  const sampler = setInterval(() => {
    // Both processes' CPU from a moment before the instant: the burst's own cost, not start-up's.
    if (cpuBefore === undefined && Date.now() > at - 1000)
      cpuBefore = { beat: processCpuSeconds(beat.pid), sqs: processCpuSeconds(sqs.pid) };
  }, 50);
  process.stderr.write(`burst of ${n} at ${d.toISOString()} (in ${Math.round((at - Date.now()) / 1000)} s)\n`);
  const sends = [];
  const deadline = at + 120_000;
  let taken = 0;
  while (taken < n && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    sends.length = 0;
    for (const m of sqs.output.matchAll(/^sent (\d+) (\d+)$/gm)) sends.push({ count: Number(m[1]), ms: Number(m[2]) });
    taken = sends.reduce((sum, s) => sum + s.count, 0);
  }
  clearInterval(sampler);
  const cpu = (pid, before) => (before === undefined ? '—' : `${(processCpuSeconds(pid) - before).toFixed(2)} s`);
  const cpuText = `CPU during the burst: tsbeat ${cpu(beat.pid, cpuBefore?.beat)}, the SQS server ${cpu(sqs.pid, cpuBefore?.sqs)}`;
  const firstMs = sends[0]?.ms;
  const lastMs = sends.at(-1)?.ms;
  const s = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(3)} s`);
  const rate = lastMs === undefined || lastMs <= at ? '—' : Math.round(taken / ((lastMs - at) / 1000)).toLocaleString('en-US');
  console.log(
    `| Burst ${n.toLocaleString('en-US')} due at once, to SQS (local server) | first ${s(firstMs - at)}, last ${s(lastMs - at)}; ${taken.toLocaleString('en-US')} messages in ${sends.length} SendMessageBatch calls, ${rate} messages/s; ${cpuText} |`,
  );
  if (beat.logLines.length > 0)
    process.stderr.write(
      `${beat.logLines
        .filter((l) => l.includes('error'))
        .slice(0, 5)
        .join('\n')}\n`,
    );
} finally {
  if (beat !== undefined) await stop(beat);
  sqs.kill('SIGKILL');
  redis.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
