// The million workload (issue 33, `npm run bench -- --only million`): N runtime entries in one
// process, each size on a private redis-server of its own (a million messages are ~1 GB there):
//   seed       the entries written through the TypeScript client (setMany, 10,000 a call)
//   start      spawn → the lock taken (leading) → "scheduling" (the book loaded)
//   idle       CPU share and RSS in the quiet part of the minute after the burst (see oneSize)
//   burst      every entry due at one instant (every minute: the first minute after the start): the last message's arrival after
//              the instant (LLEN polled with TIME), then every message read back from the list and
//              counted by its args (the entry's index): duplicates and lost from the broker itself
//   sigterm    the entries are due again a minute later: SIGTERM 1 s into that burst, and how long the
//              process takes to exit
// Peak RSS is the process's VmHWM read just before the SIGTERM.
// With --kill-mid-burst (killMidBurst below) each size runs a leader and a standby instead: the
// leader SIGKILLed once a tenth of the burst is in the queue, the standby finishing it; every
// message read back and counted per (entry, slot).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Entries } from '../../dist/index.js';
import { redisNowMs, watchArrivals, watchKey } from './redis-clock.mjs';
import { freePort, processCpuSeconds, spawnTsbeat, tempDir, tsbeatNodeFlags, waitForLog } from './procs.mjs';

/** Past the store's default budget (entryLimits, sized for the 512 Mi manifest): the bench measures a million. */
const BENCH_BUDGET = { maxEntries: 10_000_000, maxStoreBytes: 64 * 1024 ** 3 };

const DEPLOYMENT = 'million';
const SEED_CHUNK = 10_000;
export const MILLION_BEGIN = '<!-- million: written by npm run bench -- --only million -->';
export const MILLION_END = '<!-- /million -->';

export async function privateRedis() {
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
    /** The server's process: its CPU time is the broker's share of a burst. */
    pid: child.pid,
    async stop() {
      probe.disconnect();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function memoryOf(pid) {
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
 * than a minute meets the next one) are counted apart. The list is renamed first and read from the
 * copy: the scheduler LPUSHes the next minute's runs onto its head meanwhile, which shifts every
 * index, so pages of the live list read some messages twice and others never (as many "duplicates"
 * as "lost"). The next minute's runs go to a new list.
 */
export async function countByEntry(redis, list, n, atMs) {
  const seen = new Uint8Array(n);
  let duplicates = 0;
  let foreign = 0;
  let later = 0;
  const counted = `${list}:counted`;
  await redis.del(counted);
  await redis.rename(list, counted);
  const total = await redis.llen(counted);
  for (let from = 0; from < total; from += 10_000) {
    for (const raw of await redis.lrange(counted, from, from + 9_999)) {
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
  await redis.del(counted);
  let lost = 0;
  for (let i = 0; i < n; i += 1) if (seen[i] === 0) lost += 1;
  return { total, duplicates, lost, foreign, later };
}

/** N entries `tenant-<i>` (args [i]) on one crontab, every minute unless `crontab` says otherwise. */
export async function seed(url, n, crontab = { minute: '*', hour: '*' }) {
  const writer = await Entries.connect({ url, deployment: DEPLOYMENT, budget: BENCH_BUDGET });
  try {
    const schedule = { crontab };
    for (let from = 0; from < n; from += SEED_CHUNK) {
      const chunk = {};
      for (let i = from; i < Math.min(n, from + SEED_CHUNK); i += 1) chunk[`tenant-${i}`] = { task: 'bench.million', args: [i], schedule };
      await writer.setMany(chunk);
    }
  } finally {
    await writer.close();
  }
}

/** The commands Redis spent most time on since its last CONFIG RESETSTAT: `name calls / seconds`, most first. */
async function commandTimes(client) {
  const text = String(await client.call('INFO', 'commandstats'));
  return [...text.matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)]
    .map(([, name, calls, usec]) => ({ name, calls: Number(calls), s: Number(usec) / 1e6 }))
    .sort((a, b) => b.s - a.s)
    .slice(0, 6)
    .map((c) => `${c.name} ${c.calls} / ${c.s.toFixed(2)} s`)
    .join(', ');
}

/** One size: returns its figures. */
async function oneSize(n, { log, extraConfig = {} }) {
  const redis = await privateRedis();
  const dir = tempDir('bench-million-');
  let child;
  try {
    // Every entry due every minute: the first burst is the first minute after the start (a new
    // entry's schedule starts when the scheduler first sees it), whatever the seeding took.
    const seedStarted = performance.now();
    await seed(redis.url, n);
    const seedMs = performance.now() - seedStarted;
    // Started just after a minute, so that a start of up to ~50 s is done before the first burst.
    await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    const config = join(dir, 'beat.config.json');
    writeFileSync(config, JSON.stringify({ name: DEPLOYMENT, broker: { url: redis.url }, entryLimits: BENCH_BUDGET, ...extraConfig }));
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
    const untilBurstMs = schedulingAt === undefined ? undefined : at - schedulingAt;
    // The process's CPU time from the instant to the last message: on a shared machine, where its
    // wall time is stretched by the others, the figure to compare.
    let cpuAtInstant;
    let redisCpuAtInstant;
    const cpuTimer = setTimeout(
      () => {
        cpuAtInstant = processCpuSeconds(child.pid);
        redisCpuAtInstant = processCpuSeconds(redis.pid);
        // Redis's time by command over the burst (logged after it): which script took its thread.
        void redis.client.call('CONFIG', 'RESETSTAT');
      },
      Math.max(0, at - Date.now()),
    );
    const arrivals = await watchArrivals(redis.client, ['celery'], n, at - Date.now() + 240_000);
    clearTimeout(cpuTimer);
    const burstCpuS = cpuAtInstant === undefined ? undefined : processCpuSeconds(child.pid) - cpuAtInstant;
    // Redis's own CPU over the same span: the fenced script's share of a run (its Lua, the state and
    // record reads, the pushes), which on two cores competes with the scheduler's.
    const redisBurstCpuS = redisCpuAtInstant === undefined ? undefined : processCpuSeconds(redis.pid) - redisCpuAtInstant;
    const lastMs = arrivals.last === undefined ? undefined : arrivals.last - at;
    log(`million ${n}: Redis's time by command over the burst: ${await commandTimes(redis.client)}`);
    log(
      `million ${n}: burst: ${arrivals.count} messages, last ${lastMs === undefined ? '—' : `${(lastMs / 1000).toFixed(2)} s`} after the instant`,
    );
    const counted = await countByEntry(redis.client, 'celery', n, at);
    // Idle after the burst: the quiet part of the minute, from 5 s after its last message (its
    // recording done) to 13 s before the second instant, in
    // windows of 5 s. V8's memory reducer gives the burst's garbage back during it, once: three full
    // collections (~20 s after the burst's end, ~0.9 s of CPU at 100,000 entries), which fell into
    // a 15 s sample or not depending on how long the burst took. So the idle figure is the median
    // window, and the quiet part's mean, the reducer included, is reported beside it.
    const second = at + 60_000;
    const quietFrom = Math.max(Date.now(), (arrivals.last ?? at) + 5000);
    const windows = [];
    for (let from = quietFrom; from + 5000 <= second - 13_000; from += 5000) {
      await new Promise((r) => setTimeout(r, Math.max(0, from - Date.now())));
      const c0 = processCpuSeconds(child.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, from + 5000 - Date.now()));
      windows.push(((processCpuSeconds(child.pid) - c0) / ((performance.now() - t0) / 1000)) * 100);
    }
    const sorted = [...windows].sort((a, b) => a - b);
    const idleCpu = sorted.length === 0 ? undefined : sorted[Math.floor((sorted.length - 1) / 2)];
    const quietCpu = windows.length === 0 ? undefined : windows.reduce((a, b) => a + b, 0) / windows.length;
    // Memory at the end of the quiet part: the reducer has given the burst's memory back by then.
    const afterBurst = memoryOf(child.pid);
    await redis.client.del('celery');
    // The seconds before the second instant: the wake-ups alone, which walked every entry due each
    // second before.
    let beforeNextCpu;
    if (Date.now() < second - 7000) {
      await new Promise((r) => setTimeout(r, second - 7000 - Date.now()));
      const c0 = processCpuSeconds(child.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, second - 300 - Date.now()));
      beforeNextCpu = ((processCpuSeconds(child.pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
    }
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
      untilBurstMs,
      afterStartMB: afterStart?.rssMB,
      idleCpu,
      quietCpu,
      idleWindows: windows.map((w) => +w.toFixed(2)),
      beforeNextCpu,
      burstFirstMs: arrivals.first === undefined ? undefined : arrivals.first - at,
      burstLastMs: lastMs,
      burstCpuS,
      redisBurstCpuS,
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

/** Spawned, and its log read until `pattern` (undefined after `timeoutMs`). */
async function beatUntil(config, pattern, timeoutMs) {
  const child = spawnTsbeat(config);
  return { child, line: await waitForLog(child, pattern, timeoutMs) };
}

/**
 * One size with two replicas: the leader SIGKILLed once a tenth of the burst is in the queue (LLEN
 * polled), the standby taking the lock and finishing it. Returns the figures of the kill-mid-burst
 * table.
 */
async function killMidBurstSize(n, { log, extraConfig = {} }) {
  const redis = await privateRedis();
  const dir = tempDir('bench-million-kill-');
  const children = [];
  try {
    await seed(redis.url, n);
    await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    const config = join(dir, 'beat.config.json');
    writeFileSync(config, JSON.stringify({ name: DEPLOYMENT, broker: { url: redis.url }, entryLimits: BENCH_BUDGET, ...extraConfig }));
    const leader = await beatUntil(config, /"beat\.start".*"msg":"scheduling"/, 300_000);
    children.push(leader.child);
    const standby = await beatUntil(config, new RegExp(`"beat\\.entries\\.changed".*"total":${n}\\b`), 300_000);
    children.push(standby.child);
    const at = Math.ceil((await redisNowMs(redis.client)) / 60_000) * 60_000;
    log(`million ${n} kill-mid-burst: both replicas up; burst at ${new Date(at).toISOString()}`);
    let out = 0;
    const deadline = Date.now() + (at - Date.now()) + 240_000;
    while ((out = await redis.client.llen('celery')) < Math.max(1, n / 10)) {
      if (Date.now() > deadline) throw new Error(`million ${n} kill-mid-burst: only ${out} messages 240 s after the instant`);
      await new Promise((r) => setTimeout(r, out === 0 ? 20 : 2));
    }
    leader.child.kill('SIGKILL');
    const killedAt = await redisNowMs(redis.client);
    const outAtKill = await redis.client.llen('celery');
    const arrivals = await watchArrivals(redis.client, ['celery'], n, 240_000);
    const counted = await countByEntry(redis.client, 'celery', n, at);
    return {
      n,
      outAtKill: Math.max(out, outAtKill),
      killMs: killedAt - at,
      lastMs: arrivals.last === undefined ? undefined : arrivals.last - at,
      counted,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The kill-mid-burst table, one column per size. */
export async function killMidBurst({ sizes, log, extraConfig = {} }) {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const results = [];
  for (const n of sizes) {
    const r = await killMidBurstSize(n, { log, extraConfig });
    log(`million ${n} kill-mid-burst: ${JSON.stringify(r)}`);
    results.push(r);
  }
  const cols = results.map((r) => r.n.toLocaleString('en'));
  const line = (label, f) => `| ${label} | ${results.map(f).join(' | ')} |`;
  return [
    `${new Date().toISOString()}; load average ${load} before. A leader SIGKILLed mid-burst, the standby finishing it.`,
    '',
    `| | ${cols.join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    line('messages out at the kill / its time after the instant', (r) => `${r.outAtKill} / ${s(r.killMs)}`),
    line('last message after the instant (the standby)', (r) => s(r.lastMs)),
    line('messages, duplicates, lost per (entry, slot)', (r) => `${r.counted.total}, ${r.counted.duplicates}, ${r.counted.lost}`),
  ].join('\n');
}

const s = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
const mb = (v) => (v === undefined ? '—' : `${Math.round(v)} MB`);

/** Runs the workload at each size (one after the other) and returns the Markdown section. */
export async function million({ sizes, log, extraConfig = {} }) {
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const results = [];
  for (const n of sizes) {
    const r = await oneSize(n, { log, extraConfig });
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
    line('start → scheduling (then the first burst after)', (r) => `${s(r.schedulingMs)} (${s(r.untilBurstMs)})`),
    line('RSS after the start', (r) => mb(r.afterStartMB)),
    line("idle CPU after the burst: median 5 s window / the quiet part's mean", (r) =>
      r.idleCpu === undefined ? '—' : `${r.idleCpu.toFixed(2)} % / ${r.quietCpu.toFixed(2)} %`,
    ),
    line('CPU 7 s to 0.3 s before the next instant', (r) => (r.beforeNextCpu === undefined ? '—' : `${r.beforeNextCpu.toFixed(2)} %`)),
    line('burst: first / last message after the instant', (r) => `${s(r.burstFirstMs)} / ${s(r.burstLastMs)}`),
    line(
      'burst: messages, duplicates, lost (read back from the list)',
      (r) =>
        `${r.counted.total}, ${r.counted.duplicates}, ${r.counted.lost}${r.counted.later > 0 ? ` (${r.counted.later} of the next minute's)` : ''}`,
    ),
    line('RSS after the burst (the end of its quiet part)', (r) => mb(r.afterBurstMB)),
    line('peak RSS (VmHWM)', (r) => mb(r.peakMB)),
    line('SIGTERM 1 s into a second burst → exit', (r) => `${s(r.sigtermMs)} (${r.sentBeforeExit} sent)`),
    line('per entry: start → leading', (r) => perEntry(r, r.leadingMs)),
    line('per entry: burst (last message)', (r) => perEntry(r, r.burstLastMs)),
    line('per entry: burst CPU', (r) => (r.burstCpuS === undefined ? '—' : `${((r.burstCpuS * 1e6) / r.n).toFixed(1)} µs`)),
    line("per entry: Redis's CPU over the burst", (r) =>
      r.redisBurstCpuS === undefined ? '—' : `${((r.redisBurstCpuS * 1e6) / r.n).toFixed(1)} µs`,
    ),
    line('per entry: peak RSS', (r) => (r.peakMB === undefined ? '—' : `${((r.peakMB * 1024 * 1024) / r.n).toFixed(0)} B`)),
    ...(tsbeatNodeFlags.includes('--cpu-prof')
      ? ['', "With --cpu-prof: the idle figures include the profiler's own sampling (~2.5 % of a core at its 1 kHz, idle or not)."]
      : []),
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
