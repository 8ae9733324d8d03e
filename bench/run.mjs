#!/usr/bin/env node
// `npm run bench`: tsbeat side by side with Python's `celery beat` (when Debian's python3-celery is
// installed) on the same workloads against the local Redis, one after the other, timed by Redis
// itself. Prints a Markdown table and writes it to its section of bench/RESULTS.md.
//
//   npm run bench                      # everything (about 12 minutes)
//   npm run bench -- --only burst,idle # some workloads
//   npm run bench -- --no-celery       # tsbeat alone
//   npm run bench -- --only burst --cpu-prof /tmp/prof   # a .cpuprofile per tsbeat process
//   npm run bench -- --only burst --burst-sizes 10000 --no-celery
//   npm run bench -- --only burst,accuracy --burst-sizes 10000 --accuracy-load 10000 --no-celery --result-backend
//   npm run bench -- --only amqp-burst --burst-sizes 10000   # the burst to RabbitMQ (bench/lib/amqp-burst.mjs)
//   npm run bench -- --only django     # side by side with django-celery-beat's DatabaseScheduler (bench/lib/django.mjs)
//   npm run bench -- --only million    # 10k, 100k and 1M runtime entries in one process, side by side (bench/lib/million.mjs)
//   npm run bench -- --only cluster-shards   # 4 deployments over a local 3-master Redis Cluster, a master killed (bench/lib/cluster-shards.mjs)
//   npm run bench -- --only entries-io # 1,000,000 runtime entries imported, listed, exported, deleted (bench/lib/entries-io.mjs)
//   npm run bench -- --only entries-import --import-sizes 100000,200000   # beat entries import alone: entries/s, CPU per entry
//   npm run bench -- --only plan-apply # beat plan and beat apply of 100,000 entries of one owner (bench/lib/plan-apply.mjs)
//   npm run bench -- --help            # every option
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { cpuTicks, stealShare } from './lib/host.mjs';
import { consume, headersOf, redisNowMs, watchArrivals, watchKey } from './lib/redis-clock.mjs';
import {
  celeryInstalled,
  celeryVersion,
  sampleIdle,
  shebangNodeFlags,
  spawnCeleryBeat,
  spawnTsbeat,
  stop,
  tempDir,
  tsbeatNodeFlags,
  waitForLog,
} from './lib/procs.mjs';
import { runtimeEntries } from './lib/runtime-entries.mjs';
import { amqpBurst } from './lib/amqp-burst.mjs';
import { withSection } from './lib/results-section.mjs';

const RESULTS = new URL('./RESULTS.md', import.meta.url);
/** Where a full run's table goes in RESULTS.md. */
const RUN_SECTION = {
  begin: '<!-- run: written by npm run bench -->',
  end: '<!-- /run -->',
  heading: 'tsbeat beside celery beat, every workload (`npm run bench`)',
};

// In the order they run (function declarations, hoisted from below).
const workloads = {
  burst,
  idle,
  accuracy,
  startup,
  failover,
  entries,
  ceiling,
  django,
  'amqp-burst': amqpBurstRows,
  'entries-io': entriesIoRun,
  'entries-import': entriesImportRun,
  'plan-apply': planApplyRun,
  million: millionRun,
  'cluster-shards': clusterShardsRun,
};
const WORKLOADS = Object.keys(workloads);
/**
 * Named with --only, never part of "everything": django needs PostgreSQL and Django (Debian's
 * postgresql, python3-django-celery-beat) and takes about 10 minutes of its own; amqp-burst needs
 * RabbitMQ at 127.0.0.1:5672 (guest/guest); entries-io writes a million entries (several minutes);
 * million runs a scheduler of a million entries on a private redis-server (~15 minutes, ~3 GB);
 * cluster-shards starts a Redis Cluster of 6 redis-servers and needs RabbitMQ (about a minute).
 */
const OPT_IN = new Set(['django', 'amqp-burst', 'entries-io', 'entries-import', 'plan-apply', 'million', 'cluster-shards']);
/** The sizes of a standard million run, which writes its section of RESULTS.md. */
const STANDARD_MILLION_SIZES = '10000,100000,1000000';
/** The size of a standard entries-io run, which writes its section of RESULTS.md (several minutes). */
const STANDARD_ENTRIES_IO = 1_000_000;
/** The sizes of a standard entries-import run, which writes its section of RESULTS.md. */
const STANDARD_IMPORT_SIZES = '100000,200000';
/** The burst sizes of a standard run (see fullRun). */
const STANDARD_BURST_SIZES = '1000,10000,100000';
/** The one-second entries of each deployment in a standard cluster-shards run, which writes its section of RESULTS.md. */
const STANDARD_CLUSTER_ENTRIES = 500;
/** The table sizes of a standard django run (see djangoSection). */
const STANDARD_DJANGO_ROWS = '10000,100000';
const USAGE = `usage: npm run bench [-- OPTIONS]

Runs tsbeat and (when Debian's python3-celery is installed) Python's celery beat on the same
workloads against the local Redis, and prints a Markdown table. A run of every workload at the
standard sizes also writes its section of bench/RESULTS.md.

  --only LIST          workloads to run, comma-separated: ${WORKLOADS.join(', ')}
                       (default: all but ${[...OPT_IN].join(', ')}, which runs only when named)
  --no-celery          tsbeat alone
  --db N               the Redis database the bench flushes and uses (default 7)
  --redis-port P       the port of that Redis on 127.0.0.1 (default 6379; another one keeps the bench
                       off a Redis that tests share)
  --idle-seconds S     length of each idle sample (default 30; django: at least this long, default 20,
                       as its window also takes the wait for the burst's minute)
  --accuracy-seconds S length of the accuracy run (default 60)
  --burst-sizes LIST   burst sizes, comma-separated (default ${STANDARD_BURST_SIZES})
  --cpu-prof DIR       a .cpuprofile per tsbeat process, written to DIR
  --result-backend     tsbeat follows run outcomes (resultBackend: database N+1, where no
                       worker writes: every run stays pending and is polled)
  --accuracy-load N    tsbeat's accuracy run has N more entries, each every 10 minutes, spread
                       over them, a quarter of a second off the ticks, on another queue (default 0)
  --django-rows LIST   django: table sizes, comma-separated (default ${STANDARD_DJANGO_ROWS}); a run at the
                       standard sizes with DatabaseScheduler writes its section of bench/RESULTS.md
  --django-port P      django: the private PostgreSQL's port (default 55440)
  --entries-io-size N  entries-io: how many entries (default ${STANDARD_ENTRIES_IO}); a run at the standard size
                       writes its section of bench/RESULTS.md
  --import-sizes LIST  entries-import: entry counts, comma-separated (default ${STANDARD_IMPORT_SIZES}), each
                       on a private redis-server; a run at the standard sizes writes its section of
                       bench/RESULTS.md (1000000 takes ~1 GB there and is worth it on a quiet machine)
  --million-sizes LIST million: entry counts, comma-separated (default ${STANDARD_MILLION_SIZES}); a run at
                       the standard sizes writes its section of bench/RESULTS.md
  --million-config JSON million: settings merged into each scheduler's config, such as
                       '{"taskEvents":false}' (a run with them writes no section of bench/RESULTS.md)
  --kill-mid-burst     million: a leader and a standby per size instead, the leader SIGKILLed once a
                       tenth of the burst is out, the standby finishing it: duplicates and lost per
                       (entry, slot), printed only
  --cluster-entries N  cluster-shards: one-second entries per deployment (default ${STANDARD_CLUSTER_ENTRIES}); a run at the
                       standard size writes its section of bench/RESULTS.md
  -h, --help           this text
`;

/** Bad options end the run before anything is flushed, with the option named and the fix. */
function usageError(message) {
  process.stderr.write(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      only: { type: 'string' },
      'no-celery': { type: 'boolean' },
      db: { type: 'string', default: '7' },
      // No default here: the idle workload's is 30 s, the django workload's 20 s (see below).
      'idle-seconds': { type: 'string' },
      'accuracy-seconds': { type: 'string', default: '60' },
      'cpu-prof': { type: 'string' },
      'result-backend': { type: 'boolean' },
      'accuracy-load': { type: 'string', default: '0' },
      'burst-sizes': { type: 'string', default: STANDARD_BURST_SIZES },
      'django-rows': { type: 'string', default: STANDARD_DJANGO_ROWS },
      'django-port': { type: 'string', default: '55440' },
      'entries-io-size': { type: 'string', default: String(STANDARD_ENTRIES_IO) },
      'import-sizes': { type: 'string', default: STANDARD_IMPORT_SIZES },
      'million-sizes': { type: 'string', default: STANDARD_MILLION_SIZES },
      'million-config': { type: 'string' },
      'cluster-entries': { type: 'string', default: String(STANDARD_CLUSTER_ENTRIES) },
      'kill-mid-burst': { type: 'boolean' },
      'redis-port': { type: 'string', default: '6379' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  usageError(error instanceof Error ? error.message : String(error));
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const only = values.only === undefined ? undefined : new Set(values.only.split(',').filter((name) => name !== ''));
if (only !== undefined) {
  const unknown = [...only].filter((name) => !WORKLOADS.includes(name));
  if (unknown.length > 0 || only.size === 0) {
    usageError(
      `--only "${values.only}": ${only.size === 0 ? 'name at least one workload' : `unknown workload ${unknown.join(', ')}`}; choose from ${WORKLOADS.join(', ')}`,
    );
  }
}
if (!/^\d+$/.test(values.db) || Number(values.db) > 15) usageError(`--db "${values.db}": expected a Redis database number from 0 to 15`);
for (const option of ['idle-seconds', 'accuracy-seconds']) {
  if (values[option] !== undefined && !(Number(values[option]) > 0))
    usageError(`--${option} "${values[option]}": expected a positive number of seconds`);
}
if (values['cpu-prof']) tsbeatNodeFlags.push('--cpu-prof', '--cpu-prof-dir', values['cpu-prof']);
const burstSizes = values['burst-sizes'].split(',').map(Number);
if (!burstSizes.every((n) => Number.isInteger(n) && n > 0)) {
  usageError(`--burst-sizes "${values['burst-sizes']}": expected positive whole numbers separated by commas, such as 1000,10000`);
}
const djangoRows = values['django-rows'].split(',').map(Number);
if (!djangoRows.every((n) => Number.isInteger(n) && n > 0)) {
  usageError(`--django-rows "${values['django-rows']}": expected positive whole numbers separated by commas, such as 10000,100000`);
}
if (!/^\d+$/.test(values['django-port']) || Number(values['django-port']) > 65535) {
  usageError(`--django-port "${values['django-port']}": expected a TCP port number`);
}
if (!/^\d+$/.test(values['redis-port']) || Number(values['redis-port']) > 65535)
  usageError(`--redis-port "${values['redis-port']}": expected a TCP port number`);
const entriesIoSize = Number(values['entries-io-size']);
if (!Number.isInteger(entriesIoSize) || entriesIoSize < 1)
  usageError(`--entries-io-size "${values['entries-io-size']}": expected a positive whole number of entries, such as 100000`);
const importSizes = values['import-sizes'].split(',').map(Number);
if (importSizes.some((n) => !Number.isInteger(n) || n < 1))
  usageError(
    `--import-sizes "${values['import-sizes']}": expected positive whole numbers of entries, comma-separated, such as 100000,200000`,
  );
const millionSizes = values['million-sizes'].split(',').map(Number);
const millionConfig = (() => {
  if (values['million-config'] === undefined) return {};
  try {
    const parsed = JSON.parse(values['million-config']);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  } catch {
    // Named below.
  }
  return usageError(
    `--million-config '${values['million-config']}': expected a JSON object of config settings, such as '{"taskEvents":false}'`,
  );
})();
const clusterEntries = Number(values['cluster-entries']);
if (!Number.isInteger(clusterEntries) || clusterEntries < 1)
  usageError(`--cluster-entries "${values['cluster-entries']}": expected a positive whole number, such as 500`);
if (!millionSizes.every((n) => Number.isInteger(n) && n > 0))
  usageError(`--million-sizes "${values['million-sizes']}": expected positive whole numbers separated by commas, such as 10000,100000`);
/** Only a run of every workload at the standard sizes replaces its section of bench/RESULTS.md. */
const fullRun =
  values.only === undefined &&
  values['burst-sizes'] === STANDARD_BURST_SIZES &&
  !values['result-backend'] &&
  values['accuracy-load'] === '0';
const DB = Number(values.db);
const BROKER = `redis://127.0.0.1:${values['redis-port']}/${DB}`;
if (values['result-backend'] && DB >= 15) usageError(`--result-backend uses database --db + 1: choose --db from 0 to 14`);
/** With --result-backend: where tsbeat reads outcomes (no worker writes there, so every run stays pending). */
const RESULT_BACKEND = values['result-backend'] ? `redis://127.0.0.1:${values['redis-port']}/${DB + 1}` : undefined;
/** The accuracy run's other entries (--accuracy-load). */
const ACCURACY_LOAD = Number(values['accuracy-load']);
if (!Number.isInteger(ACCURACY_LOAD) || ACCURACY_LOAD < 0)
  usageError(`--accuracy-load "${values['accuracy-load']}": expected a whole number of entries, such as 10000`);
const wants = (name) => (only === undefined ? !OPT_IN.has(name) : only.has(name));
const withCelery = !values['no-celery'] && celeryInstalled();
const redis = new Redis(BROKER);
const resultRedis = RESULT_BACKEND === undefined ? undefined : new Redis(RESULT_BACKEND);
const rows = [];
const log = (text) => process.stderr.write(`${text}\n`);

const fmtS = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`);
const ratio = (celery, ts) => (celery === undefined || ts === undefined || ts <= 0 ? '—' : `${(celery / ts).toFixed(1)}×`);
const celeryAbsent = values['no-celery'] ? 'not run (--no-celery)' : 'not installed';
function row(workload, tsbeat, celery, ratioText, target) {
  rows.push({ workload, tsbeat, celery: withCelery ? celery : celeryAbsent, ratio: withCelery ? ratioText : '—', target });
  log(`| ${workload} | ${tsbeat} | ${withCelery ? celery : celeryAbsent} | ${withCelery ? ratioText : '—'} | ${target} |`);
}

/** Whether a workload used the shared Redis's database (the end then empties it again). */
let flushed = false;
async function flush() {
  flushed = true;
  await redis.flushdb();
  await resultRedis?.flushdb();
}

/** Writes a JSON config (parsed in milliseconds even with 100,000 entries). */
function writeConfig(dir, name, entries) {
  const path = join(dir, 'beat.config.json');
  const backend = RESULT_BACKEND === undefined ? {} : { resultBackend: RESULT_BACKEND };
  writeFileSync(path, JSON.stringify({ name, broker: { url: BROKER }, ...backend, beatSchedule: Object.fromEntries(entries) }));
  return path;
}

/** The next whole minute at least `leadMs` away, by the Redis clock. */
async function nextMinute(leadMs) {
  const now = await redisNowMs(redis);
  return Math.ceil((now + leadMs) / 60_000) * 60_000;
}

// ---------------------------------------------------------------- 1. burst
async function burstTsbeat(n) {
  await flush();
  const dir = tempDir('bench-burst-');
  const at = await nextMinute(n >= 100_000 ? 25_000 : 12_000);
  const d = new Date(at);
  const entries = Array.from({ length: n }, (_, i) => [
    `e${i}`,
    { task: 'bench.burst', schedule: { crontab: { minute: d.getUTCMinutes(), hour: d.getUTCHours() } } },
  ]);
  const child = spawnTsbeat(writeConfig(dir, `burst${n}`, entries));
  const arrivals = await watchArrivals(redis, ['celery'], n, at - Date.now() + 60_000);
  // With --result-backend: proof that the leader did follow the runs (each recorded as pending in
  // its entry's history, written after the burst), not merely that it was configured to.
  let followed;
  if (RESULT_BACKEND !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    followed = await redis.scard(`tsbeat:{burst${n}}:runs:pending`);
  }
  await stop(child);
  return {
    first: arrivals.first - at,
    last: arrivals.last === undefined ? undefined : arrivals.last - at,
    count: arrivals.count,
    followed,
  };
}

async function burstCelery(n, capMs) {
  await flush();
  const dir = tempDir('bench-burst-celery-');
  const at = await nextMinute(n >= 10_000 ? 40_000 : 15_000);
  const d = new Date(at);
  const child = spawnCeleryBeat(
    dir,
    BROKER,
    `for i in range(${n}):\n    app.conf.beat_schedule[f"e{i}"] = {"task": "bench.burst", "schedule": crontab(minute=${d.getUTCMinutes()}, hour=${d.getUTCHours()})}\n`,
  );
  const arrivals = await watchArrivals(redis, ['celery'], n, at - Date.now() + capMs);
  await stop(child, 'SIGKILL');
  return {
    first: arrivals.first === undefined ? undefined : arrivals.first - at,
    last: arrivals.last === undefined ? undefined : arrivals.last - at,
    count: arrivals.count,
  };
}

async function burst() {
  for (const n of burstSizes) {
    log(`burst ${n}: tsbeat`);
    const ts = await burstTsbeat(n);
    let celeryText = 'not run (tsbeat alone)';
    let c;
    if (withCelery && n <= 10_000) {
      log(`burst ${n}: celery beat`);
      c = await burstCelery(n, 240_000);
      celeryText =
        c.last === undefined
          ? `${c.count.toLocaleString('en')} of ${n.toLocaleString('en')} after 240 s`
          : `first ${fmtS(c.first)}, last ${fmtS(c.last)}`;
    }
    const target = n === 10_000 ? 'all within 0.25 s' : n === 100_000 ? 'all within 1.5 s' : '';
    const followedText = ts.followed === undefined ? '' : `; outcomes followed for ${ts.followed.toLocaleString('en')} entries`;
    const tsText =
      (ts.last === undefined ? `${ts.count} of ${n} (timed out)` : `first ${fmtS(ts.first)}, last ${fmtS(ts.last)}`) + followedText;
    row(`Burst ${n.toLocaleString('en')} due at once`, tsText, celeryText, ratio(c?.last ?? (c ? 240_000 : undefined), ts.last), target);
  }
}

/** The burst to RabbitMQ (bench/lib/amqp-burst.mjs): tsbeat alone, its state in a private Redis. */
async function amqpBurstRows() {
  for (const n of burstSizes) {
    log(`amqp burst ${n}: tsbeat`);
    const b = await amqpBurst(n, log);
    if (b.errors.length > 0) log(b.errors.join('\n'));
    const rate = b.last === undefined || b.last <= 0 ? '—' : Math.round(n / (b.last / 1000)).toLocaleString('en');
    const cpu = b.cpu === undefined ? '' : `; tsbeat CPU ${b.cpu.toFixed(2)} s`;
    const text =
      b.last === undefined
        ? `${b.count.toLocaleString('en')} of ${n.toLocaleString('en')} (timed out)`
        : `first ${fmtS(b.first)}, last ${fmtS(b.last)}; ${rate} messages/s${cpu}`;
    row(`Burst ${n.toLocaleString('en')} due at once, to RabbitMQ`, text, 'not run (tsbeat alone)', '—', '');
  }
}

// ---------------------------------------------------------------- 2. idle
/** Entries that are not due for months (1 January), spread over the minutes of the hour. */
function idleEntries(n) {
  return Array.from({ length: n }, (_, i) => [
    `e${i}`,
    { task: 'bench.idle', schedule: { crontab: { minute: i % 60, hour: 0, day_of_month: 1, month_of_year: 1 } } },
  ]);
}

/** `extraArgs`: more `beat run` options (`--http 127.0.0.1:0`: /metrics and the dashboard served, nobody asking). */
async function idleOne(n, impl, extraArgs = []) {
  await flush();
  const dir = tempDir('bench-idle-');
  const seconds = Number(values['idle-seconds'] ?? 30);
  let child;
  if (impl === 'tsbeat') {
    child = spawnTsbeat(writeConfig(dir, `idle${n}`, idleEntries(n)), extraArgs);
    await waitForLog(child, /beat\.start.*entries/, 60_000);
  } else {
    child = spawnCeleryBeat(
      dir,
      BROKER,
      `for i in range(${n}):\n    app.conf.beat_schedule[f"e{i}"] = {"task": "bench.idle", "schedule": crontab(minute=i % 60, hour=0, day_of_month=1, month_of_year=1)}\n`,
    );
  }
  await new Promise((r) => setTimeout(r, 5000)); // let start-up finish before measuring
  const sample = await sampleIdle(child.pid, seconds * 1000);
  await stop(child, impl === 'tsbeat' ? 'SIGTERM' : 'SIGKILL');
  return sample;
}

async function idle() {
  for (const n of [10_000, 100_000]) {
    log(`idle ${n}: tsbeat`);
    const ts = await idleOne(n, 'tsbeat');
    let c;
    if (withCelery && n <= 10_000) {
      log(`idle ${n}: celery beat`);
      c = await idleOne(n, 'celery');
    }
    const fmt = (s) => `${s.cpuPercent.toFixed(2)} % CPU, ${Math.round(s.rssMB)} MB peak (${Math.round(s.lastRssMB)} MB at the end)`;
    row(
      `Idle, ${n.toLocaleString('en')} entries (${values['idle-seconds'] ?? 30} s)`,
      fmt(ts),
      c ? fmt(c) : 'not run (tsbeat alone)',
      c ? `${(c.rssMB / ts.rssMB).toFixed(1)}× memory` : '—',
      n === 10_000 ? '< 0.5 % CPU, < 100 MB' : '< 350 MB',
    );
    if (n === 10_000) {
      // The same with --http: /metrics and the dashboard served, and nobody asking. The dashboard
      // runs no timer and builds nothing until a page asks; what --http adds is /metrics' samplers.
      log(`idle ${n}: tsbeat --http`);
      const served = await idleOne(n, 'tsbeat', ['--http', '127.0.0.1:0']);
      row(
        `Idle, ${n.toLocaleString('en')} entries, --http (dashboard and /metrics served, nobody asking; ${values['idle-seconds'] ?? 30} s)`,
        fmt(served),
        'n/a',
        '—',
        'dashboard adds no measurable CPU',
      );
    }
  }
}

// ---------------------------------------------------------------- 3. accuracy
const ACCURACY_WARMUP_S = 10;
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The load's entries run every 10 minutes, spread over them: about 17 runs a second for 10,000. */
const LOAD_PERIOD_S = 600;
const LOAD_BASE_MS = Math.floor(Date.now() / 1000) * 1000 - LOAD_PERIOD_S * 1000;
/**
 * Where the grid of the accuracy run's entry `i` starts (an interval's grid starts at its
 * startAt): 0 is the tick's, on whole seconds; the load's are spread over the period, a quarter of
 * a second before or after a whole second.
 */
function loadGrid(i) {
  if (i === 0) return new Date(LOAD_BASE_MS).toISOString();
  const offsetMs = (i % LOAD_PERIOD_S) * 1000 + (Math.floor(i / LOAD_PERIOD_S) % 2 === 0 ? 250 : 750);
  return new Date(LOAD_BASE_MS + offsetMs).toISOString();
}

async function accuracyOne(impl) {
  await flush();
  const dir = tempDir('bench-acc-');
  const seconds = Number(values['accuracy-seconds']);
  const child =
    impl === 'tsbeat'
      ? spawnTsbeat(
          writeConfig(dir, 'accuracy', [
            // With a load, the ticks fall on whole seconds and the load's runs a quarter of a
            // second away from them: what is measured is the ticks beside a steady load and its
            // bookkeeping, not a tick's place in a burst (that is the burst workload).
            ['tick', { task: 'bench.tick', schedule: 1, ...(ACCURACY_LOAD > 0 ? { startAt: loadGrid(0) } : {}) }],
            ...Array.from({ length: ACCURACY_LOAD }, (_, i) => [
              `load${i}`,
              { task: 'bench.load', schedule: LOAD_PERIOD_S, startAt: loadGrid(i + 1), catchUp: 'skip', options: { queue: 'bench-load' } },
            ]),
          ]),
        )
      : spawnCeleryBeat(dir, BROKER, 'app.conf.beat_schedule["tick"] = {"task": "bench.tick", "schedule": 1.0}\n');
  const consumer = new Redis(BROKER);
  const arrivals = [];
  await consume(consumer, 'celery', Date.now() + (ACCURACY_WARMUP_S + seconds + 4) * 1000, (message, at) =>
    arrivals.push({ at, slot: headersOf(message).beat_scheduled_at }),
  );
  await consumer.quit();
  await stop(child, impl === 'tsbeat' ? 'SIGTERM' : 'SIGKILL');
  // Steady state: the runs of the first seconds (start-up, JIT compilation of the publish path)
  // are left out, for both schedulers alike.
  const runs = arrivals.slice(ACCURACY_WARMUP_S, ACCURACY_WARMUP_S + seconds);
  // The ideal grid: tsbeat states each run's slot; for celery it is the first run plus whole seconds.
  const t0 = runs[0].at;
  const lateness = runs.map((r, k) => (r.slot ? r.at - Date.parse(r.slot) : r.at - (t0 + k * 1000)));
  const sorted = [...lateness].sort((a, b) => a - b);
  const drift = runs.length > 1 ? runs[runs.length - 1].at - (runs[0].at + (runs.length - 1) * 1000) : 0;
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1], driftMs: drift, runs: runs.length };
}

async function accuracy() {
  log('accuracy: tsbeat');
  const ts = await accuracyOne('tsbeat');
  let c;
  if (withCelery) {
    log('accuracy: celery beat');
    c = await accuracyOne('celery');
  }
  const fmt = (r) =>
    `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms; drift ${r.driftMs.toFixed(1)} ms over ${r.runs - 1} s`;
  // celery beat's messages carry no slot: its lateness is against its own first run, which leaves
  // out the delay of that first run; tsbeat's is against the slots it states, delay included.
  row(
    `Accuracy, 1 s interval for ${values['accuracy-seconds']} s (after ${ACCURACY_WARMUP_S} s of warm-up)`,
    `${fmt(ts)} (against its stated slots)`,
    c ? `${fmt(c)} (against its first run: no slot stated)` : '—',
    c ? `drift ${ratio(Math.abs(c.driftMs), Math.max(Math.abs(ts.driftMs), 0.1))}` : '—',
    'p99 < 2 ms, no drift',
  );
}

// ---------------------------------------------------------------- 4. start-up
async function startupOne(impl) {
  await flush();
  const dir = tempDir('bench-start-');
  const n = 10_000;
  let child;
  const spawnedAt = await redisNowMs(redis);
  if (impl === 'tsbeat') {
    // An entry that is overdue when the scheduler starts: its stored last run is an hour old.
    await redis.hset('tsbeat:{startup}:state', 'due', JSON.stringify({ slot: spawnedAt - 3_600_000, at: spawnedAt - 3_600_000, n: 1 }));
    const entries = idleEntries(n);
    entries.push(['due', { task: 'bench.due', schedule: 60 }]);
    child = spawnTsbeat(writeConfig(dir, 'startup', entries));
  } else {
    child = spawnCeleryBeat(
      dir,
      BROKER,
      `for i in range(${n}):\n    app.conf.beat_schedule[f"e{i}"] = {"task": "bench.idle", "schedule": crontab(minute=i % 60, hour=0, day_of_month=1, month_of_year=1)}\napp.conf.beat_schedule["due"] = {"task": "bench.due", "schedule": 0.001}\n`,
    );
  }
  // Leading: the moment the lock key exists (celery beat has no lock: its first publish is all there is).
  const watcher = new Redis(BROKER);
  const [leadingAt, arrivals] = await Promise.all([
    impl === 'tsbeat' ? watchKey(watcher, 'tsbeat:{startup}:lock', 120_000) : undefined,
    watchArrivals(redis, ['celery'], 1, 120_000),
  ]);
  watcher.disconnect();
  await stop(child, impl === 'tsbeat' ? 'SIGTERM' : 'SIGKILL');
  return {
    leading: leadingAt === undefined ? undefined : leadingAt - spawnedAt,
    first: arrivals.first === undefined ? undefined : arrivals.first - spawnedAt,
  };
}

/**
 * Start-up is a few hundred milliseconds, of which tens swing with whatever else the machine does:
 * each scheduler starts STARTUP_RUNS times and the row gives the median (and the range).
 */
const STARTUP_RUNS = 5;

async function startupRuns(impl) {
  const runs = [];
  for (let i = 0; i < STARTUP_RUNS; i++) runs.push(await startupOne(impl));
  const summary = (key) => {
    const values = runs
      .map((r) => r[key])
      .filter((v) => v !== undefined)
      .sort((a, b) => a - b);
    return values.length === 0 ? undefined : { median: percentile(values, 50), min: values[0], max: values[values.length - 1] };
  };
  return { leading: summary('leading'), first: summary('first') };
}

const fmtRange = (m) => (m === undefined ? '—' : `${fmtS(m.median)} (${fmtS(m.min)}–${fmtS(m.max)})`);

async function startup() {
  log(`start-up: tsbeat (${STARTUP_RUNS} runs)`);
  const ts = await startupRuns('tsbeat');
  if (withCelery) log(`start-up: celery beat (${STARTUP_RUNS} runs)`);
  const c = withCelery ? await startupRuns('celery') : undefined;
  row(
    `Start-up, 10,000 entries: to leading / to the first publish (median of ${STARTUP_RUNS}, range)`,
    `${fmtRange(ts.leading)} / ${fmtRange(ts.first)}`,
    `— / ${fmtRange(c?.first)}`,
    `${ratio(c?.first?.median, ts.first?.median)} (first publish)`,
    '< 0.5 s to leading',
  );
}

// ---------------------------------------------------------------- 5. runtime entries (bench/lib/runtime-entries.mjs)
async function entries() {
  await runtimeEntries({ broker: BROKER, flush, row, log, fmtS });
}

// ---------------------------------------------------------------- 6. failover
async function failover() {
  await flush();
  const dir = tempDir('bench-failover-');
  const config = writeConfig(dir, 'failover', [['tick', { task: 'bench.tick', schedule: 0.1, catchUp: 'all' }]]);
  const a = spawnTsbeat(config);
  await waitForLog(a, /beat\.lock\.acquired/, 20_000);
  const b = spawnTsbeat(config);
  await waitForLog(b, /beat\.standby/, 20_000);
  await new Promise((r) => setTimeout(r, 2000));
  const consumer = new Redis(BROKER);
  const arrivals = [];
  const consuming = consume(consumer, 'celery', Date.now() + 45_000, (message, at) =>
    arrivals.push({ at, slot: headersOf(message).beat_scheduled_at, id: headersOf(message).id }),
  );
  await new Promise((r) => setTimeout(r, 2000));
  const killAt = await redisNowMs(redis);
  a.kill('SIGKILL');
  await waitForLog(b, /beat\.lock\.acquired/, 20_000);
  await new Promise((r) => setTimeout(r, 3000));
  const c = spawnTsbeat(config);
  await waitForLog(c, /beat\.standby/, 20_000);
  await new Promise((r) => setTimeout(r, 1000));
  const termAt = await redisNowMs(redis);
  await stop(b, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 3000));
  await stop(c, 'SIGTERM');
  await consuming;
  await consumer.quit();
  // Gaps: from the signal to the first message published by the next leader.
  const firstAfter = (t) => arrivals.find((x) => x.at > t)?.at;
  const afterKill = firstAfter(killAt) - killAt;
  const afterTerm = firstAfter(termAt) - termAt;
  const slots = arrivals.map((x) => Date.parse(x.slot)).sort((x, y) => x - y);
  const duplicates = slots.length - new Set(slots).size;
  let lost = 0;
  for (let i = 1; i < slots.length; i += 1) lost += Math.max(0, Math.round((slots[i] - slots[i - 1]) / 100) - 1);
  row(
    'Failover after SIGKILL (lock TTL 10 s)',
    `next publish ${fmtS(afterKill)} after the kill`,
    'n/a (one instance only)',
    '—',
    'within TTL + 0.5 s',
  );
  row('Failover after SIGTERM', `next publish ${fmtS(afterTerm)} after the signal`, 'n/a', '—', 'within 0.2 s');
  row(
    'Slots across both failovers',
    `${slots.length} slots, ${duplicates} duplicated, ${lost} lost`,
    'n/a',
    '—',
    'none duplicated or lost',
  );
}

// ---------------------------------------------------------------- 7. raw ceiling
function ceiling() {
  const r = spawnSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      '6379',
      '--dbnum',
      String(DB),
      '-c',
      '1',
      '-P',
      '64',
      '-t',
      'lpush',
      '-d',
      '865',
      '-n',
      '200000',
      '-q',
      '--csv',
    ],
    { encoding: 'utf8' },
  );
  const rate = Number(/"LPUSH[^"]*","([\d.]+)"/.exec(r.stdout)?.[1]);
  row(
    'Raw ceiling: redis-benchmark -c 1 -P 64 -t lpush -d 865',
    Number.isFinite(rate) ? `${Math.round(rate).toLocaleString('en')} LPUSH/s` : 'redis-benchmark not installed',
    '—',
    '—',
    'reference',
  );
  return rate;
}

// ---------------------------------------------------------------- 8. django (bench/lib/django.mjs)
let djangoSection;
async function django() {
  // Loaded only when asked: it brings the test Django project's helpers (through jiti) and pg.
  const { djangoSideBySide, djangoMarkdown, withDjangoSection } = await import('./lib/django.mjs');
  const at = new Date();
  const before = cpuTicks();
  const { table } = await djangoSideBySide({
    broker: BROKER,
    sizes: djangoRows,
    // The django runs' idle window also takes the wait for the burst's minute: 20 s at least is enough.
    idleSeconds: Number(values['idle-seconds'] ?? 20),
    withCelery,
    port: Number(values['django-port']),
    log,
  });
  djangoSection = { generated: djangoMarkdown({ at, table, steal: stealShare(before, cpuTicks()) }), withDjangoSection };
}

// ---------------------------------------------------------------- 9. entries-io (bench/lib/entries-io.mjs)
let entriesIoSection;
async function entriesIoRun() {
  const { entriesIo, withEntriesIoSection } = await import('./lib/entries-io.mjs');
  await flush();
  const generated = await entriesIo({ broker: BROKER, n: entriesIoSize, nodeFlags: shebangNodeFlags, log });
  entriesIoSection = { generated, withEntriesIoSection };
}

// ---------------------------------------------------------------- 9b. entries-import (bench/lib/entries-io.mjs)
let entriesImportSection;
async function entriesImportRun() {
  const { entriesImport, withEntriesImportSection } = await import('./lib/entries-io.mjs');
  const generated = await entriesImport({ sizes: importSizes, nodeFlags: [...shebangNodeFlags, ...tsbeatNodeFlags], log });
  entriesImportSection = { generated, withEntriesImportSection };
}

// ---------------------------------------------------------------- 9c. plan-apply (bench/lib/plan-apply.mjs)
let planApplySection;
async function planApplyRun() {
  const { planApply, withPlanApplySection, STANDARD_PLAN_APPLY } = await import('./lib/plan-apply.mjs');
  await flush();
  const generated = await planApply({ broker: BROKER, n: STANDARD_PLAN_APPLY, nodeFlags: shebangNodeFlags, log });
  planApplySection = { generated, withPlanApplySection };
}

// ---------------------------------------------------------------- 10. million (bench/lib/million.mjs)
let millionSection;
async function millionRun() {
  const { killMidBurst, million, withMillionSection } = await import('./lib/million.mjs');
  if (values['kill-mid-burst']) process.stdout.write(`\n${await killMidBurst({ sizes: millionSizes, log, extraConfig: millionConfig })}\n`);
  else millionSection = { generated: await million({ sizes: millionSizes, log, extraConfig: millionConfig }), withMillionSection };
}

// ---------------------------------------------------------------- 11. cluster-shards (bench/lib/cluster-shards.mjs)
let clusterShardsSection;
async function clusterShardsRun() {
  const { clusterShards, withClusterShardsSection } = await import('./lib/cluster-shards.mjs');
  clusterShardsSection = { generated: await clusterShards({ entries: clusterEntries, log }), withClusterShardsSection };
}

const started = new Date();
/** Per workload, the share of CPU time the hypervisor took meanwhile. */
const steal = [];
for (const [name, run] of Object.entries(workloads)) {
  if (!wants(name)) continue;
  const before = cpuTicks();
  try {
    await run();
  } catch (error) {
    row(name, `failed: ${error instanceof Error ? error.message : String(error)}`, '—', '—', '');
  }
  steal.push(`${name} ${stealShare(before, cpuTicks())}`);
}
const stealLine = `CPU time taken by the hypervisor (steal, /proc/stat) during each workload: ${steal.join(', ')}. On a shared host, figures from a workload with more than a few per cent are the host's more than the schedulers'.`;
log(stealLine);
// Only if a workload wrote there: amqp-burst alone leaves the shared Redis (the tests' too) as it was.
if (flushed) await flush();
await redis.quit();
await resultRedis?.quit();

const versions = {
  node: process.version,
  redis: spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=([\d.]+)/)?.[1] ?? 'unknown',
  celery: celeryVersion(),
};
const table = [
  '| workload | tsbeat | celery beat | celery ÷ tsbeat | target |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.workload} | ${r.tsbeat} | ${r.celery} | ${r.ratio} | ${r.target} |`),
].join('\n');
const report = `Date: ${started.toISOString()}  
Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB  
Versions: Node ${versions.node}, Redis ${versions.redis}, Celery ${versions.celery}  
Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`  
Timestamps are Redis's own (TIME, read with LLEN or right after BRPOP), not the schedulers' logs.  
tsbeat runs as its \`beat\` bin starts it: \`${['node', ...shebangNodeFlags, 'dist/cli.js', 'run'].join(' ')}\`; celery beat as \`python3 -m celery beat\` (Debian's).

${table}

${stealLine}
`;
if (rows.length > 0) process.stdout.write(`\n${table}\n`);
// Its own section only: the others are written by their own runs, and the text around them by hand.
if (fullRun) {
  const previous = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
  writeFileSync(RESULTS, withSection(previous, RUN_SECTION, report));
}
if (djangoSection !== undefined) {
  const { generated, withDjangoSection } = djangoSection;
  process.stdout.write(`\n${generated}\n`);
  // Side by side is the point: a run without DatabaseScheduler or at other sizes only prints.
  if (withCelery && values['django-rows'] === STANDARD_DJANGO_ROWS) {
    writeFileSync(RESULTS, withDjangoSection(readFileSync(RESULTS, 'utf8'), generated));
  }
}
if (entriesIoSection !== undefined) {
  const { generated, withEntriesIoSection } = entriesIoSection;
  process.stdout.write(`\n${generated}\n`);
  if (entriesIoSize === STANDARD_ENTRIES_IO) writeFileSync(RESULTS, withEntriesIoSection(readFileSync(RESULTS, 'utf8'), generated));
}
if (entriesImportSection !== undefined) {
  const { generated, withEntriesImportSection } = entriesImportSection;
  process.stdout.write(`\n${generated}\n`);
  if (values['import-sizes'] === STANDARD_IMPORT_SIZES)
    writeFileSync(RESULTS, withEntriesImportSection(readFileSync(RESULTS, 'utf8'), generated));
}
if (clusterShardsSection !== undefined) {
  const { generated, withClusterShardsSection } = clusterShardsSection;
  process.stdout.write(`\n${generated}\n`);
  if (clusterEntries === STANDARD_CLUSTER_ENTRIES)
    writeFileSync(RESULTS, withClusterShardsSection(readFileSync(RESULTS, 'utf8'), generated));
}
if (planApplySection !== undefined) {
  const { generated, withPlanApplySection } = planApplySection;
  process.stdout.write(`\n${generated}\n`);
  writeFileSync(RESULTS, withPlanApplySection(readFileSync(RESULTS, 'utf8'), generated));
}
if (millionSection !== undefined) {
  const { generated, withMillionSection } = millionSection;
  process.stdout.write(`\n${generated}\n`);
  if (values['million-sizes'] === STANDARD_MILLION_SIZES && values['million-config'] === undefined)
    writeFileSync(RESULTS, withMillionSection(readFileSync(RESULTS, 'utf8'), generated));
}
