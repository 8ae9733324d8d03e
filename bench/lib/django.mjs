// `npm run bench -- --only django`: tsbeat's django source side by side with django-celery-beat's
// own DatabaseScheduler (`celery beat -S django_celery_beat.schedulers:DatabaseScheduler`, Debian's)
// on the same private PostgreSQL, migrated by test/django_project, with 10,000 and 100,000 rows.
// One process per scheduler and size, through four phases in a row (the rows are due only at the
// burst's minute, so everything before it is idle):
//
//   1. start-up: spawn to leading (tsbeat's lock key exists) and to the first publish (`bench-due`,
//      an hourly row that last ran two hours ago, is overdue: its message in the list `due`);
//   2. idle: CPU time of the process (/proc/PID/stat) and the queries the django database
//      answered (pg_stat_statements, calls and rows) over at least --idle-seconds;
//   3. edits: `bench-edit` (every 0.2 s) is enabled, then its queue changed, through Django's ORM
//      (test/django_project/orm.py: save(), its signals move the change marker); each edit's delay
//      is from Redis TIME just before the ORM call to the first message in the new queue; then it
//      is disabled again, some seconds before the burst;
//   4. burst: every `burst-*` row is due at the same minute; the span is from that minute to the
//      last of the N messages in the list `celery`, by Redis TIME (LLEN polled every millisecond).
//
// Each phase has a cap; what does not finish within it is recorded as such.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { createJiti } from 'jiti';
import pg from 'pg';
import { Redis } from 'ioredis';
import { fillTables, statementTotals } from './django-rows.mjs';
import { startPostgres } from './postgres.mjs';
import { celeryVersion, processCpuSeconds, spawnTsbeat, stop, tempDir } from './procs.mjs';
import { redisNowMs, watchArrivals, watchKey } from './redis-clock.mjs';

// The tests' ORM session and migrate (plain TypeScript with no test runner in it, loaded with jiti,
// which tsbeat already depends on for TypeScript configs).
const { DjangoOrm, manage, DJANGO_PROJECT } = await createJiti(import.meta.url).import('../../test/support/django.ts');

const NAME = 'djbench';
const DATABASE = 'django';
/** Edits per run (tsbeat); DatabaseScheduler gets what fits in its edit budget. */
const EDITS = 20;
/**
 * Caps, in ms, by scheduler: start-up to the first publish, all the edits, one edit, and the burst
 * after its minute; `quiet` is the time between the end of the edits and the burst's minute, for
 * the scheduler to apply the last edit (bench-edit disabled again: DatabaseScheduler reloads every
 * row for it), so that the burst meets no entry every 0.2 s.
 */
const CAPS = {
  tsbeat: { start: 30_000, edits: 30_000, editEach: 10_000, quiet: 8_000, burst: 30_000 },
  celery: { start: 120_000, edits: 45_000, editEach: 45_000, quiet: 20_000, burst: 30_000 },
};
/** What start-up is expected to take, to place the burst's minute after the idle and edit phases. */
const EXPECTED_START = { tsbeat: { 10000: 6_000, 100000: 20_000 }, celery: { 10000: 15_000, 100000: 90_000 } };
const SETTLE_MS = 5_000;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function spawnDatabaseScheduler(dbUrl, broker) {
  const child = spawn(
    '/usr/bin/python3',
    ['-m', 'celery', '-A', 'proj', 'beat', '-S', 'django_celery_beat.schedulers:DatabaseScheduler', '--loglevel', 'WARNING', '--pidfile='],
    {
      cwd: DJANGO_PROJECT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: '1',
        DJANGO_DB_URL: dbUrl,
        DJANGO_USE_TZ: '1',
        DJANGO_TIME_ZONE: 'UTC',
        CELERY_BROKER_URL: broker,
      },
    },
  );
  child.stderr.on('data', () => undefined);
  return child;
}

/**
 * When tsbeat logged that it applied a change of bench-edit made at `atMs` (its beat.entries.changed
 * line, in its own clock, which is this machine's as Redis's is); NaN when no such line.
 */
function appliedAfter(child, atMs) {
  for (const line of child.logLines) {
    if (!line.includes('"beat.entries.changed"') || !line.includes('"bench-edit"')) continue;
    const time = Date.parse(JSON.parse(line).time);
    if (time >= atMs - 5) return time;
  }
  return Number.NaN;
}

/** Peak resident memory so far (VmHWM), in MB. */
function peakRssMB(pid) {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1000;
}

const SLICE_MS = 10_000;
/**
 * The CPU share of a process over `ms` (all its threads: V8's garbage collector marks on helper
 * threads), and of each 10 s slice of it: a full collection of a large heap some tens of seconds
 * after start-up shows as one busy slice, the steady state as the median.
 */
async function sampleCpu(pid, ms) {
  const t0 = performance.now();
  const c0 = processCpuSeconds(pid);
  const slices = [];
  let [t, c] = [t0, c0];
  while (performance.now() - t0 < ms - 100) {
    await sleep(Math.min(SLICE_MS, ms - (performance.now() - t0)));
    const [t1, c1] = [performance.now(), processCpuSeconds(pid)];
    if (t1 - t >= SLICE_MS / 2) slices.push((100 * (c1 - c)) / ((t1 - t) / 1000));
    [t, c] = [t1, c1];
  }
  const sorted = [...slices].sort((a, b) => a - b);
  return {
    cpuPercent: (100 * (c - c0)) / ((t - t0) / 1000),
    sliceMedian: sorted.length > 0 ? percentile(sorted, 50) : undefined,
    sliceMax: sorted.length > 0 ? sorted[sorted.length - 1] : undefined,
    rssMB: peakRssMB(pid),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** One scheduler with `n` rows through the four phases; returns what it measured. */
async function runOne({ impl, n, pgServer, redis, broker, idleSeconds, log }) {
  const out = { impl, n };
  const caps = CAPS[impl];
  const admin = new pg.Client({ connectionString: pgServer.url('postgres') });
  const db = new pg.Client({ connectionString: pgServer.url(DATABASE) });
  await admin.connect();
  await db.connect();
  await redis.flushdb();
  await fillTables(db, { n, minute: 0, hour: 0 });
  const orm = new DjangoOrm({ url: pgServer.url(DATABASE) });
  await orm.call({ op: 'get', name: 'bench-edit' }); // Django is loaded before the clock starts
  // The minute of the burst: after start-up, the idle window and the edits, with room to spare
  // (set before the scheduler starts: no change marker to move).
  const needed = EXPECTED_START[impl][n] ?? caps.start;
  const burstAt =
    Math.ceil(((await redisNowMs(redis)) + 1_000 + needed + SETTLE_MS + idleSeconds * 1000 + caps.edits + caps.quiet) / 60_000) * 60_000;
  const d = new Date(burstAt);
  await db.query(`UPDATE django_celery_beat_crontabschedule SET minute = $1, hour = $2`, [
    String(d.getUTCMinutes()),
    String(d.getUTCHours()),
  ]);

  const dir = tempDir('bench-django-');
  let child;
  const spawnedAt = await redisNowMs(redis);
  if (impl === 'tsbeat') {
    // bench-due's stored last run, two hours ago, as DatabaseScheduler reads it from last_run_at.
    const past = spawnedAt - 7_200_000;
    await redis.hset(`tsbeat:{${NAME}}:state`, 'bench-due', JSON.stringify({ slot: past, at: past, n: 1 }));
    const config = join(dir, 'beat.config.json');
    writeFileSync(config, JSON.stringify({ name: NAME, broker: { url: broker }, sources: { django: { url: pgServer.url(DATABASE) } } }));
    child = spawnTsbeat(config);
  } else {
    child = spawnDatabaseScheduler(pgServer.url(DATABASE), broker);
  }
  try {
    // 1. start-up
    const watcher = new Redis(broker);
    const [leadingAt, due] = await Promise.all([
      impl === 'tsbeat' ? watchKey(watcher, `tsbeat:{${NAME}}:lock`, caps.start) : undefined,
      watchArrivals(redis, ['due'], 1, caps.start),
    ]);
    watcher.disconnect();
    out.leading = leadingAt === undefined ? undefined : leadingAt - spawnedAt;
    out.first = due.first === undefined ? undefined : due.first - spawnedAt;
    out.startCpu = processCpuSeconds(child.pid);
    log(`  start-up: ${out.first === undefined ? `no publish within ${caps.start / 1000} s` : `${(out.first / 1000).toFixed(2)} s`}`);
    if (out.first === undefined) {
      out.startCapS = caps.start / 1000;
      return out;
    }

    // 2. idle, until the edits must begin
    await sleep(SETTLE_MS);
    const idleEnd = burstAt - caps.edits - caps.quiet;
    const idleMs = idleEnd - (await redisNowMs(redis));
    if (idleMs >= 10_000) {
      const before = await statementTotals(admin, DATABASE);
      const sample = await sampleCpu(child.pid, idleMs);
      const after = await statementTotals(admin, DATABASE);
      const minutes = idleMs / 60_000;
      out.idle = {
        seconds: idleMs / 1000,
        cpu: sample.cpuPercent,
        sliceMedian: sample.sliceMedian,
        sliceMax: sample.sliceMax,
        rssMB: sample.rssMB,
        queriesPerMin: (after.calls - before.calls) / minutes,
        rowsPerMin: (after.rows - before.rows) / minutes,
      };
      log(
        `  idle ${out.idle.seconds.toFixed(0)} s: ${sample.cpuPercent.toFixed(2)} % CPU, ${out.idle.queriesPerMin.toFixed(0)} queries/min`,
      );
    } else {
      log(`  idle: not measured, start-up left ${(idleMs / 1000).toFixed(1)} s before the edits`);
    }

    // 3. edits through the ORM
    await sleep(idleEnd - (await redisNowMs(redis)));
    const editsEnd = Date.now() + caps.edits;
    out.edits = [];
    out.editsBudgetS = caps.edits / 1000;
    out.applied = [];
    for (let k = 1; k <= EDITS && Date.now() < editsEnd - 1_000; k++) {
      const queue = `edit-${k}`;
      const at = await redisNowMs(redis);
      await orm.call({ op: 'edit', name: 'bench-edit', queue, ...(k === 1 ? { enabled: true } : {}) });
      const budgetEnds = editsEnd - Date.now() < caps.editEach;
      const seen = await watchArrivals(redis, [queue], 1, Math.min(caps.editEach, editsEnd - Date.now()));
      if (seen.first === undefined) {
        out.editTimedOut = { k, afterS: ((await redisNowMs(redis)) - at) / 1000, budgetEnds };
        break;
      }
      out.edits.push(seen.first - at);
      if (impl === 'tsbeat') out.applied.push(appliedAfter(child, at) - at);
      await sleep(100 + Math.random() * 400); // the next edit at another phase of the 1 s poll
    }
    await orm.call({ op: 'disable', name: 'bench-edit' });
    log(
      `  edits (ms): ${out.edits.map(Math.round).join(' ')}; applied (ms): ${out.applied.map(Math.round).join(' ')}${out.editTimedOut ? `, edit ${out.editTimedOut.k} not seen within ${out.editTimedOut.afterS.toFixed(0)} s` : ''}`,
    );

    // 4. burst
    if ((await redisNowMs(redis)) > burstAt - 500) {
      out.burstMissed = true;
      log('  burst: the phases before it ran past its minute; not measured');
      return out;
    }
    const burst = await watchArrivals(redis, ['celery'], n, burstAt - (await redisNowMs(redis)) + caps.burst);
    out.burst = {
      first: burst.first === undefined ? undefined : burst.first - burstAt,
      last: burst.last === undefined ? undefined : burst.last - burstAt,
      count: burst.count,
      capS: caps.burst / 1000,
    };
    log(
      `  burst: ${burst.count} of ${n}${burst.last === undefined ? ` after ${caps.burst / 1000} s` : ` in ${((burst.last - burstAt) / 1000).toFixed(3)} s`}`,
    );
    return out;
  } finally {
    await stop(child, impl === 'tsbeat' ? 'SIGTERM' : 'SIGKILL');
    await orm.close();
    await db.end();
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtS = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`);
const int = (x) => Math.round(x).toLocaleString('en');

function cells(r) {
  const noStart = `did not publish within ${r.startCapS} s`;
  const start = r.first === undefined ? noStart : `${r.leading === undefined ? '— (no lock)' : fmtS(r.leading)} / ${fmtS(r.first)}`;
  const notRun = r.first === undefined ? 'not measured (no start-up)' : 'not measured';
  let burst = notRun;
  if (r.burstMissed) burst = 'not measured (earlier phases ran past the minute)';
  else if (r.burst?.last !== undefined) burst = `first ${fmtS(r.burst.first)}, last ${fmtS(r.burst.last)}`;
  else if (r.burst) burst = `${int(r.burst.count)} of ${int(r.n)} within ${r.burst.capS} s (did not finish)`;
  let edits = notRun;
  if (r.edits?.length > 0) {
    const sorted = [...r.edits].sort((a, b) => a - b);
    edits = `p50 ${fmtS(percentile(sorted, 50))}, p99 ${fmtS(percentile(sorted, 99))}, max ${fmtS(sorted[sorted.length - 1])} (${sorted.length} edits)`;
    const applied = (r.applied ?? []).filter(Number.isFinite).sort((a, b) => a - b);
    if (applied.length > 0) edits += `; applied (its log): p50 ${fmtS(percentile(applied, 50))}, p99 ${fmtS(percentile(applied, 99))}`;
    if (r.editTimedOut)
      edits += `; edit ${r.editTimedOut.k} not seen within ${r.editTimedOut.afterS.toFixed(0)} s${r.editTimedOut.budgetEnds ? `, when the ${r.editsBudgetS} s for edits ended` : ''}`;
  } else if (r.editTimedOut) edits = `the first edit not seen within ${r.editTimedOut.afterS.toFixed(0)} s`;
  const idle = r.idle
    ? `${r.idle.cpu.toFixed(2)} % CPU (10 s slices: median ${r.idle.sliceMedian?.toFixed(2) ?? '—'} %, max ${r.idle.sliceMax?.toFixed(2) ?? '—'} %), ${int(r.idle.rssMB)} MB peak; ${int(r.idle.queriesPerMin)} queries/min (${int(r.idle.rowsPerMin)} rows/min) over ${r.idle.seconds.toFixed(0)} s`
    : notRun;
  return { start, startCpu: r.startCpu === undefined ? '—' : `${r.startCpu.toFixed(1)} s`, burst, edits, idle };
}

/**
 * Runs the workload for each size: tsbeat, then (withCelery) DatabaseScheduler. Returns the
 * Markdown table and the raw results; `log` gets progress lines.
 */
export async function djangoSideBySide({ broker, sizes, idleSeconds, withCelery, port, log }) {
  const pgServer = await startPostgres(port);
  const redis = new Redis(broker);
  const results = [];
  try {
    const admin = new pg.Client({ connectionString: pgServer.url('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    // The counts are read from here, so that reading them is not counted among the django database's.
    await admin.query('CREATE EXTENSION pg_stat_statements');
    await admin.end();
    await manage({ url: pgServer.url(DATABASE) }, ['migrate', '-v0']);
    for (const n of sizes) {
      for (const impl of withCelery ? ['tsbeat', 'celery'] : ['tsbeat']) {
        log(`django ${n}: ${impl === 'tsbeat' ? 'tsbeat' : 'DatabaseScheduler'}`);
        results.push(await runOne({ impl, n, pgServer, redis, broker, idleSeconds, log }));
      }
    }
  } finally {
    await redis.flushdb().catch(() => undefined);
    redis.disconnect();
    await pgServer.stop();
  }
  const table = [
    '| scheduler | rows | start: to leading / to the first publish | CPU time of start-up | burst: all rows due at one minute, after the minute | ORM edit → its first message | idle |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r) => {
      const c = cells(r);
      const who = r.impl === 'tsbeat' ? 'tsbeat `beat run`' : 'DatabaseScheduler';
      return `| ${who} | ${int(r.n)} | ${c.start} | ${c.startCpu} | ${c.burst} | ${c.edits} | ${c.idle} |`;
    }),
    '| target (tsbeat) | | 100,000: < 3 s to leading | | 10,000: all within 0.5 s | p99 < 1.5 s | < 1 % CPU |',
  ].join('\n');
  return { table, results };
}

/** Between these markers, RESULTS.md's django section is the bench's; what follows the end marker is kept. */
const DJANGO_BEGIN = '<!-- django side by side: written by npm run bench -- --only django -->';
const DJANGO_END = '<!-- end of the generated part -->';

export function djangoMarkdown({ at, table, steal }) {
  const version = (code) => spawnSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8' }).stdout.trim() || 'unknown';
  const postgres = spawnSync('sh', ['-c', 'ls /usr/lib/postgresql | sort -n | tail -1'], { encoding: 'utf8' }).stdout.trim();
  return `${DJANGO_BEGIN}
Date: ${at.toISOString()}  
Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB; CPU time taken by the hypervisor (steal) meanwhile: ${steal}  
Versions: Node ${process.version}, PostgreSQL ${postgres || 'unknown'}, Django ${version('import django; print(django.get_version())')}, django-celery-beat ${version('import django_celery_beat; print(django_celery_beat.__version__)')}, Celery ${celeryVersion()} (Debian's)  
Command: \`npm run bench -- --only django\` (\`bench/lib/django.mjs\`; about 10 minutes)

${table}
${DJANGO_END}`;
}

/** RESULTS.md with the django section's generated part replaced (or the section added at the end). */
export function withDjangoSection(text, generated) {
  const begin = text.indexOf(DJANGO_BEGIN);
  const end = text.indexOf(DJANGO_END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + generated + text.slice(end + DJANGO_END.length);
  return `${text.trimEnd()}\n\n## django-celery-beat side by side (issue 23)\n\n${generated}\n`;
}
