// The million workload (issue 33, `npm run bench -- --only million`): N runtime entries in one
// process, each size on a private redis-server of its own (a million messages are ~1 GB there):
//   seed       the entries written through the TypeScript client (setMany, 10,000 a call)
//   start      spawn → the lock taken (leading) → "scheduling" (the book loaded)
//   idle       CPU share and RSS while nothing is due
//   burst      every entry due at one instant (every minute: the first minute after the start): the last message's arrival after
//              the instant (LLEN polled with TIME), then every message read back from the list and
//              counted by its args (the entry's index): duplicates and lost from the broker itself
//   sigterm    the entries are due again a minute later: SIGTERM 1 s into that burst, and how long the
//              process takes to exit
// Peak RSS is the process's VmHWM read just before the SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { Entries } from '../../dist/index.js';
import { redisNowMs, watchArrivals, watchKey } from './redis-clock.mjs';
import { processCpuSeconds, spawnTsbeat, tempDir, waitForLog } from './procs.mjs';

const DEPLOYMENT = 'million';
const SEED_CHUNK = 10_000;
export const MILLION_BEGIN = '<!-- million: written by npm run bench -- --only million -->';
export const MILLION_END = '<!-- /million -->';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function privateRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-million-redis-'));
  const child = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}/0`;
  const probe = new Redis(url, { retryStrategy: () => 50 });
  probe.on('error', () => undefined);
  // Answers once the server is up (ioredis retries the connection meanwhile).
  await probe.ping();
  return {
    url,
    client: probe,
    async stop() {
      probe.disconnect();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * Every message of `list` read back in pages: how many times each entry index (its args[0]) went
 * out for the slot `atMs` (its beat_scheduled_at header); messages of later slots (a burst longer
 * than a minute meets the next one) are counted apart.
 */
async function countByEntry(redis, list, n, atMs) {
  const seen = new Uint8Array(n);
  let duplicates = 0;
  let foreign = 0;
  let later = 0;
  const total = await redis.llen(list);
  for (let from = 0; from < total; from += 10_000) {
    for (const raw of await redis.lrange(list, from, from + 9_999)) {
      const envelope = JSON.parse(raw);
      if (Date.parse(envelope.headers.beat_scheduled_at) !== atMs) {
        later += 1;
        continue;
      }
      const [args] = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'));
      const i = args?.[0];
      if (!Number.isInteger(i) || i < 0 || i >= n) foreign += 1;
      else if (seen[i]++ > 0) duplicates += 1;
    }
  }
  let lost = 0;
  for (let i = 0; i < n; i += 1) if (seen[i] === 0) lost += 1;
  return { total, duplicates, lost, foreign, later };
}

async function seed(url, n) {
  const writer = await Entries.connect({ url, deployment: DEPLOYMENT });
  try {
    const schedule = { crontab: { minute: '*', hour: '*' } };
    for (let from = 0; from < n; from += SEED_CHUNK) {
      const chunk = {};
      for (let i = from; i < Math.min(n, from + SEED_CHUNK); i += 1) chunk[`tenant-${i}`] = { task: 'bench.million', args: [i], schedule };
      await writer.setMany(chunk);
    }
  } finally {
    await writer.close();
  }
}

/** One size: returns its figures. */
async function oneSize(n, { log }) {
  const redis = await privateRedis();
  const dir = tempDir('bench-million-');
  let child;
  try {
    // Every entry due every minute: the first burst is the first minute after the start (a new
    // entry's schedule starts when the scheduler first sees it), whatever the seeding took.
    const seedStarted = performance.now();
    await seed(redis.url, n);
    const seedMs = performance.now() - seedStarted;
    // Started just after a minute, so that a start of up to ~50 s leaves the warm-up its seconds.
    await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    const config = join(dir, 'beat.config.json');
    writeFileSync(config, JSON.stringify({ name: DEPLOYMENT, broker: { url: redis.url } }));
    const spawnedAt = await redisNowMs(redis.client);
    child = spawnTsbeat(config);
    const watcher = new Redis(redis.url);
    const leadingAt = await watchKey(watcher, `tsbeat:{${DEPLOYMENT}}:lock`, 300_000);
    watcher.disconnect();
    // The session's "scheduling" line (the process's own beat.start line says "starting as …").
    const scheduling = await waitForLog(child, /"beat\.start".*"msg":"scheduling"/, 300_000);
    const schedulingAt = scheduling ? await redisNowMs(redis.client) : undefined;
    const at = Math.ceil((schedulingAt ?? Date.now()) / 60_000) * 60_000;
    log(
      `million ${n}: seeded in ${(seedMs / 1000).toFixed(1)} s; scheduling after ${((schedulingAt - spawnedAt) / 1000).toFixed(1)} s; burst at ${new Date(at).toISOString()}`,
    );
    const afterStart = memoryOf(child.pid);
    const warmUpMs = schedulingAt === undefined ? undefined : at - schedulingAt;
    // The process's CPU time from the instant to the last message: on a shared machine, where its
    // wall time is stretched by the others, the figure to compare.
    let cpuAtInstant;
    const cpuTimer = setTimeout(() => (cpuAtInstant = processCpuSeconds(child.pid)), Math.max(0, at - Date.now()));
    const arrivals = await watchArrivals(redis.client, ['celery'], n, at - Date.now() + 240_000);
    clearTimeout(cpuTimer);
    const burstCpuS = cpuAtInstant === undefined ? undefined : processCpuSeconds(child.pid) - cpuAtInstant;
    const lastMs = arrivals.last === undefined ? undefined : arrivals.last - at;
    log(
      `million ${n}: burst: ${arrivals.count} messages, last ${lastMs === undefined ? '—' : `${(lastMs / 1000).toFixed(2)} s`} after the instant`,
    );
    const counted = await countByEntry(redis.client, 'celery', n, at);
    // Idle, after the burst: from 5 s after its last message (its recording done) to 13 s before
    // the second instant (the warm-up for it compiles templates from 11 s before), at most 15 s.
    const second = at + 60_000;
    const idleFrom = Math.max(Date.now(), (arrivals.last ?? at) + 5000);
    const idleMs = Math.min(15_000, second - 13_000 - idleFrom);
    let idleCpu;
    if (idleMs >= 2000) {
      await new Promise((r) => setTimeout(r, idleFrom - Date.now()));
      const c0 = processCpuSeconds(child.pid);
      await new Promise((r) => setTimeout(r, idleMs));
      idleCpu = ((processCpuSeconds(child.pid) - c0) / (idleMs / 1000)) * 100;
    }
    // Memory back at idle after the burst (no sooner than 5 s after its last message).
    await new Promise((r) => setTimeout(r, Math.max(0, idleFrom - Date.now())));
    const afterBurst = memoryOf(child.pid);
    await redis.client.del('celery');
    // SIGTERM a second into the second burst.
    await new Promise((r) => setTimeout(r, Math.max(0, second + 1000 - Date.now())));
    const peak = memoryOf(child.pid);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const signalledAt = performance.now();
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(killTimer);
    const sigtermMs = performance.now() - signalledAt;
    const sentBeforeExit = await redis.client.llen('celery');
    if (process.env.MILLION_LOG_DIR) writeFileSync(join(process.env.MILLION_LOG_DIR, `million-${n}.log`), child.logLines.join('\n'));
    child = undefined;
    return {
      n,
      seedMs,
      leadingMs: leadingAt === undefined ? undefined : leadingAt - spawnedAt,
      schedulingMs: schedulingAt === undefined ? undefined : schedulingAt - spawnedAt,
      warmUpMs,
      afterStartMB: afterStart?.rssMB,
      idleCpu,
      burstFirstMs: arrivals.first === undefined ? undefined : arrivals.first - at,
      burstLastMs: lastMs,
      burstCpuS,
      counted,
      afterBurstMB: afterBurst?.rssMB,
      peakMB: peak?.peakMB,
      sigtermMs,
      sentBeforeExit,
    };
  } finally {
    if (child !== undefined) child.kill('SIGKILL');
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const s = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
const mb = (v) => (v === undefined ? '—' : `${Math.round(v)} MB`);

/** Runs the workload at each size (one after the other) and returns the Markdown section. */
export async function million({ sizes, log }) {
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const results = [];
  for (const n of sizes) {
    const r = await oneSize(n, { log });
    log(`million ${n}: ${JSON.stringify(r)}`);
    results.push(r);
  }
  const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const cols = results.map((r) => r.n.toLocaleString('en'));
  const line = (label, f) => `| ${label} | ${results.map(f).join(' | ')} |`;
  const perEntry = (r, ms) => (ms === undefined ? '—' : `${((ms * 1000) / r.n).toFixed(1)} µs`);
  return [
    MILLION_BEGIN,
    `${new Date().toISOString()}; load average ${loadBefore} before, ${loadAfter} after (2 cores, shared with other work). `,
    'Runtime entries in the store, all on one crontab, one private redis-server per size.',
    '',
    `| | ${cols.join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    line('seeding (client setMany, 10,000 a call)', (r) => s(r.seedMs)),
    line('start → leading', (r) => s(r.leadingMs)),
    line('start → scheduling (then the first burst after)', (r) => `${s(r.schedulingMs)} (${s(r.warmUpMs)})`),
    line('RSS after the start', (r) => mb(r.afterStartMB)),
    line('idle CPU (after the burst)', (r) => (r.idleCpu === undefined ? '—' : `${r.idleCpu.toFixed(2)} %`)),
    line('burst: first / last message after the instant', (r) => `${s(r.burstFirstMs)} / ${s(r.burstLastMs)}`),
    line(
      'burst: messages, duplicates, lost (read back from the list)',
      (r) =>
        `${r.counted.total}, ${r.counted.duplicates}, ${r.counted.lost}${r.counted.later > 0 ? ` (${r.counted.later} of the next minute's)` : ''}`,
    ),
    line('RSS at idle after the burst', (r) => mb(r.afterBurstMB)),
    line('peak RSS (VmHWM)', (r) => mb(r.peakMB)),
    line('SIGTERM 1 s into a second burst → exit', (r) => `${s(r.sigtermMs)} (${r.sentBeforeExit} sent)`),
    line('per entry: start → leading', (r) => perEntry(r, r.leadingMs)),
    line('per entry: burst (last message)', (r) => perEntry(r, r.burstLastMs)),
    line('per entry: burst CPU', (r) => (r.burstCpuS === undefined ? '—' : `${((r.burstCpuS * 1e6) / r.n).toFixed(1)} µs`)),
    line('per entry: peak RSS', (r) => (r.peakMB === undefined ? '—' : `${((r.peakMB * 1024 * 1024) / r.n).toFixed(0)} B`)),
    MILLION_END,
  ].join('\n');
}

/** RESULTS.md with the generated table replaced, or added in a section of its own before "## Running the benchmarks". */
export function withMillionSection(text, generated) {
  const begin = text.indexOf(MILLION_BEGIN);
  const end = text.indexOf(MILLION_END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + generated + text.slice(end + MILLION_END.length);
  const running = text.indexOf('\n## Running the benchmarks');
  const section = `## A million entries in one process (issue 33)\n\n${generated}\n`;
  return running < 0 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, running)}\n${section}${text.slice(running)}`;
}
