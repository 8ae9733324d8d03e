#!/usr/bin/env node
/**
 * tsbeat beside what a team would pick instead, on the same workloads in one run: BullMQ's job
 * schedulers (`Queue.upsertJobScheduler`, a `Worker` consuming) and Python's `celery beat`.
 *
 *   npm run build && node bench/peer-bursts.mjs                        # everything (~25 minutes)
 *   node bench/peer-bursts.mjs --sizes 1000,10000 --only burst         # a short run
 *   node bench/peer-bursts.mjs --only tick --tick-seconds 60
 *   node bench/peer-bursts.mjs --help
 *
 * Every workload runs on a private redis-server (its own port and directory, stopped by pid), one
 * system at a time, so that Redis's CPU and memory are the measured system's alone.
 *
 * Available to the consumer means the same for all: the moment the consumer holds the message or
 * the job, on this host's clock (Redis's too). tsbeat and celery beat publish Celery messages to a
 * Redis list, read by a consumer that takes up to 1,000 a call (BLMPOP); BullMQ's jobs are received
 * by a Worker (concurrency --bullmq-concurrency) whose processor records the moment it is called.
 * BullMQ has no scheduler process: its workers promote the due jobs and add each scheduler's next,
 * so its side is the defining process plus the Worker. Each side's processes live in
 * bench/lib/peer-child.mjs (the consumers, BullMQ's definer and Worker) or are the real
 * `beat run` / `python3 -m celery beat`.
 *
 *   burst  N schedules due every minute, defined before the scheduler starts; measured at the first
 *          whole minute at least 15 s after everything is ready: first and last receipt after the
 *          instant of the runs of that instant (by the slot they state; celery beat's, which state
 *          none, by the minute they arrive in), so that a previous minute's runs still arriving
 *          (a burst longer than a minute) are not counted, though their work shares the window; CPU (seconds, /proc/PID/stat) of scheduler + consumer + redis-server from 1 s
 *          before the instant until the processes are quiet again (all work of the burst, the
 *          bookkeeping after the last receipt included); Redis bytes per schedule (used_memory
 *          once quiet after the burst, minus the empty server's, ÷ N); peak RSS (VmHWM) of every
 *          process of the side. At 10,000, idle CPU: the same processes between the bursts.
 *          At the largest size, start-up: the scheduler restarted with the N schedules defined,
 *          from spawn to ready (tsbeat: its "scheduling" line; BullMQ: the Worker ready, and apart
 *          the time to upsert the N schedules, what a deploy that defines them in code pays).
 *   tick   one schedule every second, alone and beside 10,000 every-minute schedules on the same
 *          queue: lateness of each receipt against the run's scheduled instant (tsbeat: the
 *          beat_scheduled_at header; BullMQ: the millis in the job scheduler's job id), p50/p99/max.
 *          Its grid lies at --tick-phase-ms into each second on both sides (default 0: with the
 *          minute's burst).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { memoryOf, privateRedis } from './lib/million.mjs';
import { withSection } from './lib/results-section.mjs';
import {
  celeryInstalled,
  celeryVersion,
  processCpuSeconds,
  spawnCeleryBeat,
  spawnTsbeat,
  stop,
  tempDir,
  waitForLog,
} from './lib/procs.mjs';

const CHILD = fileURLToPath(new URL('./lib/peer-child.mjs', import.meta.url));
const RESULTS = new URL('./RESULTS.md', import.meta.url);
const PEER_SECTION = {
  begin: '<!-- peer: written by node bench/peer-bursts.mjs -->',
  end: '<!-- /peer -->',
  heading: "tsbeat beside BullMQ's job schedulers and celery beat (issue 69; `node bench/peer-bursts.mjs`)",
};
const WORKLOADS = ['burst', 'tick'];
const USAGE = `usage: node bench/peer-bursts.mjs [OPTIONS]   (after npm run build)

tsbeat beside BullMQ's job schedulers and celery beat, each on a private redis-server; prints a
Markdown table. A run without options also writes it into its section of bench/RESULTS.md.

  --only LIST              workloads, comma-separated: ${WORKLOADS.join(', ')} (default: both)
  --sizes LIST             burst sizes, comma-separated (default 1000,10000,100000)
  --celery-sizes LIST      the burst sizes celery beat also runs (default 1000; none with --no-celery)
  --no-celery              tsbeat and BullMQ only
  --bullmq-concurrency N   the BullMQ Worker's concurrency (default 1000)
  --cap-seconds S          how long a burst may take to reach the consumer before it is reported
                           as cut off (default 300)
  --idle-seconds S         the idle sample at 10,000 (default 30)
  --tick-seconds S         the 1 s schedule's measured runs, after 10 s of warm-up (default 60)
  --tick-phase-ms MS       where in the second the 1 s schedule's grid lies on both sides, 0-999
                           (default 0: on the instant of the minute's burst, the worst case)
  -h, --help               this text
`;

function usageError(message) {
  process.stderr.write(`peer-bursts: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      only: { type: 'string', default: WORKLOADS.join(',') },
      sizes: { type: 'string', default: '1000,10000,100000' },
      'celery-sizes': { type: 'string', default: '1000' },
      'no-celery': { type: 'boolean' },
      'bullmq-concurrency': { type: 'string', default: '1000' },
      'cap-seconds': { type: 'string', default: '300' },
      'idle-seconds': { type: 'string', default: '30' },
      'tick-seconds': { type: 'string', default: '60' },
      'tick-phase-ms': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  usageError(error instanceof Error ? error.message : String(error));
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const wholeList = (option) => {
  const list = values[option]
    .split(',')
    .filter((s) => s !== '')
    .map(Number);
  if (!list.every((n) => Number.isInteger(n) && n > 0))
    usageError(`--${option} "${values[option]}": expected positive whole numbers separated by commas, such as 1000,10000`);
  return list;
};
const positive = (option) => {
  const n = Number(values[option]);
  if (!(n > 0)) usageError(`--${option} "${values[option]}": expected a positive number`);
  return n;
};
const only = new Set(values.only.split(','));
if (![...only].every((w) => WORKLOADS.includes(w))) usageError(`--only "${values.only}": choose from ${WORKLOADS.join(', ')}`);
const SIZES = wholeList('sizes');
const withCelery = !values['no-celery'] && celeryInstalled();
const CELERY_SIZES = new Set(withCelery ? wholeList('celery-sizes') : []);
const CONCURRENCY = positive('bullmq-concurrency');
const CAP_MS = positive('cap-seconds') * 1000;
const IDLE_MS = positive('idle-seconds') * 1000;
const TICK_S = positive('tick-seconds');
const TICK_PHASE_MS = Number(values['tick-phase-ms']);
if (!(Number.isInteger(TICK_PHASE_MS) && TICK_PHASE_MS >= 0 && TICK_PHASE_MS < 1000))
  usageError(`--tick-phase-ms "${values['tick-phase-ms']}": expected a whole number of milliseconds from 0 to 999`);
const TICK_WARMUP_S = 10;
/** The size whose scheduler is also restarted with its schedules defined (start-up). */
const STARTUP_SIZE = Math.max(...SIZES);
/** The size whose quiet part between bursts is the idle sample. */
const IDLE_SIZE = 10_000;
/** The load beside the tick: schedules every minute. */
const TICK_LOAD = 10_000;

const log = (text) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const load = () => loadavg()[0].toFixed(1);
const BULLMQ = { prefix: 'bull', queue: 'bench' };

// ---------------------------------------------------------------- the processes of each side

/** A peer-child.mjs process; resolves once it says it is ready (or rejects when it dies first). */
async function child(role, ...args) {
  const proc = spawn(process.execPath, [CHILD, role, ...args], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let ready;
  const readiness = new Promise((resolve, reject) => {
    proc.on('message', (message) => {
      if (message.ready) resolve((ready = message));
      if (message.report) proc.lastReport?.(message.report);
    });
    proc.once('exit', (code) => reject(new Error(`${role} exited (${code}) before it was ready`)));
  });
  await readiness;
  proc.ready = ready;
  /** What the consumer received so far. */
  proc.report = () =>
    new Promise((resolve) => {
      proc.lastReport = resolve;
      proc.send('report');
    });
  return proc;
}

/** The tsbeat side: `beat run` with the entries, and a list consumer. */
async function tsbeatSide(url, dir, entries) {
  const config = join(dir, 'beat.config.json');
  writeFileSync(config, JSON.stringify({ name: 'peer', broker: { url }, beatSchedule: Object.fromEntries(entries) }));
  const consumer = await child('list-consumer', url, 'celery');
  const start = () => {
    const spawnedAt = Date.now();
    const proc = spawnTsbeat(config);
    return waitForLog(proc, /"beat\.start".*"msg":"scheduling"/, CAP_MS).then(async (ok) => {
      if (ok) return { proc, readyMs: Date.now() - spawnedAt };
      await stop(proc);
      throw new Error(`tsbeat: no "scheduling" line within ${fmtS(CAP_MS)}`);
    });
  };
  let scheduler = await start().then(
    (started) => started.proc,
    async (error) => {
      await stop(consumer);
      throw error;
    },
  );
  return {
    consumer,
    processes: () => ({ scheduler, consumer }),
    async restart() {
      await stop(scheduler);
      const started = await start();
      scheduler = started.proc;
      return { readyMs: started.readyMs };
    },
    async close() {
      await stop(scheduler);
      await stop(consumer);
    },
  };
}

const tsbeatEntry = (task, schedule) => ({ task, schedule });
const EVERY_MINUTE = { crontab: { minute: '*', hour: '*' } };

/** The BullMQ side: the schedulers upserted by a defining process (kept for its memory), then a Worker. */
async function bullmqSide(url, groups) {
  const spec = JSON.stringify({ ...BULLMQ, groups });
  const definer = await child('bullmq-define', url, spec);
  const defineMs = definer.ready.defineMs;
  const definerPeak = memoryOf(definer.pid)?.peakMB;
  await stop(definer);
  const workerSpec = JSON.stringify({ ...BULLMQ, concurrency: CONCURRENCY });
  let consumer = await child('bullmq-worker', url, workerSpec);
  return {
    consumer,
    defineMs,
    definerPeak,
    processes: () => ({ worker: consumer }),
    async restart() {
      await stop(consumer);
      const spawnedAt = Date.now();
      consumer = await child('bullmq-worker', url, workerSpec);
      this.consumer = consumer;
      return { readyMs: Date.now() - spawnedAt };
    },
    async close() {
      await stop(consumer);
    },
  };
}

/** The celery beat side: `python3 -m celery beat` with the schedule, and a list consumer. */
async function celerySide(url, dir, n) {
  const consumer = await child('list-consumer', url, 'celery');
  const scheduler = spawnCeleryBeat(
    dir,
    url,
    `for i in range(${n}):\n    app.conf.beat_schedule[f"e{i}"] = {"task": "bench.burst", "schedule": crontab(minute="*")}\n`,
  );
  // No line says it is ready: its schedule of 1,000 is set up within a few seconds.
  await sleep(8000);
  return {
    consumer,
    processes: () => ({ scheduler, consumer }),
    async close() {
      await stop(scheduler, 'SIGKILL');
      await stop(consumer);
    },
  };
}

// ---------------------------------------------------------------- measuring

/** CPU seconds so far of each process, by role. */
function cpuOf(pids) {
  return Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, processCpuSeconds(pid) ?? 0]));
}
const cpuDelta = (after, before) => Object.fromEntries(Object.keys(after).map((role) => [role, after[role] - before[role]]));
const sum = (parts) => Object.values(parts).reduce((a, b) => a + b, 0);

/** Waits until the processes use less than 5 ms of CPU in a 250 ms slice (or 20 s pass). */
async function quiet(pids) {
  const deadline = Date.now() + 20_000;
  let last = cpuOf(pids);
  while (Date.now() < deadline) {
    await sleep(250);
    const now = cpuOf(pids);
    if (sum(cpuDelta(now, last)) < 0.005) return;
    last = now;
  }
}

async function usedMemory(client) {
  return Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
}

/**
 * The first whole minute at least 15 s ahead: each side runs as it does between two bursts (JIT
 * compiled, connections open, whatever it prepares before an instant done), not just after a start.
 */
const nextInstant = () => Math.ceil((Date.now() + 15_000) / 60_000) * 60_000;

/**
 * One burst of `n` on a side already running: the consumer's count is read just before the
 * instant, and the burst is the receipts after it.
 */
async function measureBurst(side, redis, n, emptyBytes) {
  const at = nextInstant();
  await sleep(at - 1000 - Date.now());
  const pids = Object.fromEntries([...Object.entries(side.processes()).map(([r, p]) => [r, p.pid]), ['redis', redis.pid]]);
  const before = await side.consumer.report();
  const cpu0 = cpuOf(pids);
  const loadBefore = load();
  // The runs of the instant (by the slot they state; celery beat's by the minute they arrive in), so
  // that a previous minute's still arriving are not counted.
  const ofInstant = (report) => report.slots[at] ?? { count: 0 };
  let burst = ofInstant(before);
  const deadline = at + CAP_MS;
  while (burst.count < n && Date.now() < deadline) {
    await sleep(50);
    burst = ofInstant(await side.consumer.report());
  }
  await quiet(pids);
  const cpu = cpuDelta(cpuOf(pids), cpu0);
  const report = burst;
  const received = burst.count;
  const bytes = ((await usedMemory(redis.client)) - emptyBytes) / n;
  const peaks = Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, memoryOf(pid)?.peakMB]));
  const result = {
    received,
    first: received > 0 ? report.first - at : undefined,
    last: received >= n ? report.last - at : undefined,
    cpu,
    bytes,
    peaks,
    load: `${loadBefore}→${load()}`,
    at,
  };
  log(`  ${received}/${n}, last ${fmtS(result.last)}, CPU ${JSON.stringify(cpu)}, ${Math.round(bytes)} B/schedule, load ${result.load}`);
  return result;
}

/** CPU of the side's processes and Redis in the quiet part after the burst at `at`, as a share of one core. */
async function measureIdle(side, redis, at) {
  const from = Math.max(Date.now(), at + 15_000);
  await sleep(from - Date.now());
  const pids = Object.fromEntries([...Object.entries(side.processes()).map(([r, p]) => [r, p.pid]), ['redis', redis.pid]]);
  const cpu0 = cpuOf(pids);
  const ms = Math.min(IDLE_MS, at + 57_000 - Date.now());
  await sleep(ms);
  const cpu = cpuDelta(cpuOf(pids), cpu0);
  return {
    percent: Object.fromEntries(Object.entries(cpu).map(([r, s]) => [r, (100 * s) / (ms / 1000)])),
    seconds: ms / 1000,
    load: load(),
  };
}

// ---------------------------------------------------------------- workloads

/**
 * Runs `work(redis, dir, started)` on a private redis-server and a scratch directory; `started(side)`
 * names the side to close at the end. A failure is logged and becomes the result's `error`.
 */
async function onPrivateRedis(work) {
  const redis = await privateRedis();
  const dir = tempDir('bench-peer-');
  let side;
  try {
    return await work(redis, dir, (started) => (side = started));
  } catch (error) {
    log(`  failed: ${error instanceof Error ? error.stack : error}`);
    return { error: `failed: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    await side?.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const burstOne = (system, n) =>
  onPrivateRedis(async (redis, dir, started) => {
    const emptyBytes = await usedMemory(redis.client);
    let side;
    log(`burst ${n}: ${system}`);
    if (system === 'tsbeat') {
      side = await tsbeatSide(
        redis.url,
        dir,
        Array.from({ length: n }, (_, i) => [`e${i}`, tsbeatEntry('bench.burst', EVERY_MINUTE)]),
      );
    } else if (system === 'bullmq') {
      side = await bullmqSide(redis.url, [{ id: 's', name: 'bench.burst', count: n, repeat: { pattern: '* * * * *', tz: 'UTC' } }]);
      log(`  ${n} schedulers upserted in ${fmtS(side.defineMs)}`);
    } else side = await celerySide(redis.url, dir, n);
    started(side);
    const result = await measureBurst(side, redis, n, emptyBytes);
    if (side.definerPeak !== undefined) result.peaks.definer = side.definerPeak;
    result.defineMs = side.defineMs;
    if (n === IDLE_SIZE && system !== 'celery') result.idle = await measureIdle(side, redis, result.at);
    if (n === STARTUP_SIZE && system !== 'celery') {
      // A restart that fails is the start-up's figure, not the loss of the burst's.
      result.startup = await side.restart().catch((error) => ({ error: `failed: ${error.message}` }));
      result.startup.load = load();
      log(`  restarted with ${n} defined: ${result.startup.error ?? `ready after ${fmtS(result.startup.readyMs)}`}`);
    }
    return result;
  });

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The 1 s schedule for TICK_S seconds after the warm-up, beside `others` every-minute schedules. */
const tickOne = (system, others) =>
  onPrivateRedis(async (redis, dir, started) => {
    let side;
    log(`tick beside ${others}: ${system}`);
    // Where each run falls within its second is chosen, the same on both sides: left to when the
    // scheduler first saw the schedule, the grid fell anywhere, and a run falling due on or just
    // after the minute's burst (the case that holds it up) came in some runs and not in others.
    // The grid starts a few seconds ahead, at a whole second plus the phase.
    const gridStartMs = Math.ceil((Date.now() + 5000) / 1000) * 1000 + TICK_PHASE_MS;
    if (system === 'tsbeat') {
      side = await tsbeatSide(redis.url, dir, [
        ['tick', { ...tsbeatEntry('bench.tick', 1), startAt: new Date(gridStartMs).toISOString() }],
        ...Array.from({ length: others }, (_, i) => [`e${i}`, tsbeatEntry('bench.load', EVERY_MINUTE)]),
      ]);
    } else {
      side = await bullmqSide(redis.url, [
        { id: 'tick', name: 'bench.tick', count: 1, repeat: { every: 1000, startDate: gridStartMs } },
        { id: 'e', name: 'bench.load', count: others, repeat: { pattern: '* * * * *', tz: 'UTC' } },
      ]);
    }
    started(side);
    const loadBefore = load();
    // The runs scheduled in the window after the warm-up, received within 10 s of its end: a run
    // received later, or never (BullMQ adds a scheduler's next job once it takes the current one,
    // so the slots it falls behind on are skipped), is missing from the count.
    const from = Date.now() + TICK_WARMUP_S * 1000;
    const to = from + TICK_S * 1000;
    await sleep(to + 10_000 - Date.now());
    const { lateness } = await side.consumer.report();
    const runs = lateness.filter((r) => r.at - r.lateMs >= from && r.at - r.lateMs < to);
    const sorted = runs.map((r) => r.lateMs).sort((a, b) => a - b);
    if (sorted.length === 0) return { error: `no run of the 1 s schedule received (load ${loadBefore}→${load()})` };
    const result = {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.at(-1),
      runs: runs.length,
      load: `${loadBefore}→${load()}`,
    };
    log(`  ${JSON.stringify(result)}`);
    return result;
  });

// ---------------------------------------------------------------- the table

function fmtS(ms) {
  return ms === undefined ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`;
}
const rows = [];
const row = (workload, ts, bull, cel, target = '') => {
  const ratio = (other) =>
    other?.value === undefined || !(ts?.value > 0) ? '—' : `${other.atLeast ? '≥ ' : ''}${(other.value / ts.value).toFixed(1)}×`;
  rows.push(
    `| ${workload} | ${ts?.text ?? '—'} | ${bull?.text ?? '—'} | ${cel?.text ?? 'not run'} | ${ratio(bull)} | ${ratio(cel)} | ${target} |`,
  );
};
const failed = (r) => (r.error === undefined ? undefined : { text: r.error });
const mb = (x) => (x === undefined ? '?' : `${Math.round(x)} MB`);

function burstRows(n, results) {
  const count = n.toLocaleString('en');
  const arrival = (r) =>
    failed(r) ??
    (r.last === undefined
      ? {
          text: `${r.received.toLocaleString('en')} of ${count} after ${fmtS(CAP_MS)} (cut off; load ${r.load})`,
          value: CAP_MS,
          atLeast: true,
        }
      : { text: `${fmtS(r.last)} (first ${fmtS(r.first)}; load ${r.load})`, value: r.last });
  const target = n === 10_000 ? '≥ 8× faster than BullMQ' : n === 100_000 ? '≥ 6× faster than BullMQ' : '';
  row(`Burst ${count} due at once: last receipt after the instant`, ...results.map((r) => r && arrival(r)), target);
  const cpu = (r) => {
    if (r.error !== undefined || r.cpu === undefined) return failed(r);
    const parts = Object.entries(r.cpu)
      .map(([role, s]) => `${role} ${s.toFixed(2)}`)
      .join(' + ');
    return { text: `${sum(r.cpu).toFixed(2)} s (${parts})`, value: sum(r.cpu) };
  };
  row(`Burst ${count}: CPU of scheduler, consumer and Redis`, ...results.map((r) => r && cpu(r)));
  const bytes = (r) => failed(r) ?? { text: `${Math.round(r.bytes).toLocaleString('en')} B`, value: r.bytes };
  // celery beat keeps its schedule in a local file: what Redis gains is its connections' buffers.
  const celeryBytes = (r) => failed(r) ?? { text: `${Math.round(r.bytes).toLocaleString('en')} B (its state is a local file)` };
  const [tsR, bullR, celR] = results;
  row(`Burst ${count}: Redis bytes per schedule (used_memory after the burst)`, bytes(tsR), bytes(bullR), celR && celeryBytes(celR));
  const peak = (r) => {
    if (r.error !== undefined) return failed(r);
    const parts = Object.entries(r.peaks).filter(([role]) => role !== 'redis');
    const total = parts.reduce((a, [, v]) => a + (v ?? 0), 0);
    return { text: `${mb(total)} (${parts.map(([role, v]) => `${role} ${mb(v)}`).join(' + ')}); redis ${mb(r.peaks.redis)}`, value: total };
  };
  row(`Burst ${count}: peak RSS (VmHWM) of the side's processes`, ...results.map((r) => r && peak(r)));
  const [ts, bull] = [tsR, bullR];
  if (bull?.defineMs !== undefined)
    row(`Burst ${count}: BullMQ's upsertJobScheduler of the ${count}`, undefined, { text: fmtS(bull.defineMs) }, undefined);
  if (ts?.idle !== undefined || bull?.idle !== undefined) {
    const idle = (r) => {
      if (r?.idle === undefined) return r && failed(r);
      const total = sum(r.idle.percent);
      const parts = Object.entries(r.idle.percent)
        .map(([role, p]) => `${role} ${p.toFixed(2)}`)
        .join(' + ');
      return { text: `${total.toFixed(2)} % of a core (${parts}; ${r.idle.seconds.toFixed(0)} s, load ${r.idle.load})`, value: total };
    };
    row(`Idle, ${count} every-minute schedules between their bursts`, idle(ts), idle(bull), undefined, 'tsbeat no higher than BullMQ');
  }
  if (ts?.startup !== undefined || bull?.startup !== undefined) {
    const start = (r) =>
      r?.startup === undefined
        ? r && failed(r)
        : (failed(r.startup) ?? { text: `${fmtS(r.startup.readyMs)} (load ${r.startup.load})`, value: r.startup.readyMs });
    row(`Start-up with ${count} schedules defined: spawn to ready`, start(ts), start(bull), undefined);
  }
}

function tickRow(others, ts, bull) {
  const text = (r) =>
    failed(r) ?? {
      text: `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms (${r.runs} of ${TICK_S} runs; load ${r.load})`,
      value: r.p99,
    };
  const target = others === 0 ? 'tsbeat p99 ≤ 5 ms' : 'tsbeat p99 ≤ 50 ms';
  row(
    `1 s schedule${others === 0 ? ' alone' : ` beside ${others.toLocaleString('en')} every minute`}: lateness of receipt`,
    text(ts),
    text(bull),
    undefined,
    target,
  );
}

const started = new Date();
if (only.has('burst')) {
  for (const n of SIZES) {
    const ts = await burstOne('tsbeat', n);
    const bull = await burstOne('bullmq', n);
    const cel = CELERY_SIZES.has(n) ? await burstOne('celery', n) : undefined;
    burstRows(n, [ts, bull, cel]);
  }
}
if (only.has('tick')) {
  for (const others of [0, TICK_LOAD]) tickRow(others, await tickOne('tsbeat', others), await tickOne('bullmq', others));
}
const versions = `Node ${process.version}, BullMQ ${JSON.parse(readFileSync(new URL('../node_modules/bullmq/package.json', import.meta.url), 'utf8')).version}, Celery ${withCelery ? celeryVersion() : 'not run'}`;
const generated =
  `Date: ${started.toISOString()}; machine: ${cpus().length} cores; ${versions}  \n` +
  `Command: \`node bench/peer-bursts.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\`\n\n` +
  '| workload | tsbeat | BullMQ job schedulers | celery beat | BullMQ ÷ tsbeat | celery ÷ tsbeat | target |\n' +
  '|---|---|---|---|---|---|---|\n' +
  `${rows.join('\n')}\n`;
process.stdout.write(generated);
// A run with every option at its default is the standard one: its table goes into RESULTS.md.
if (process.argv.length === 2) writeFileSync(RESULTS, withSection(readFileSync(RESULTS, 'utf8'), PEER_SECTION, generated));
