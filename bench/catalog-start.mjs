// The start of a replica's catalog of runtime entries (issue 33), alone: N store entries written
// to a private redis-server, then read and merged by the real RedisEntryStore and EntryCatalog in a
// child process per measurement, as `beat run` does before it campaigns for the lock:
//   read      the store's load (HSCAN, every record decoded and checked)
//   merge     the rest of catalog.load (each entry decided and resolved)
//   reload    a reconfigure with the same defaults (every entry decided again, none changed)
//   heap      per entry, after a collection, with the catalog loaded (less the heap before)
//   peak RSS  the child's VmHWM
// With --against OTHER/dist[,MORE/dist] each size runs this build and those alternately (A B, then
// B A, ...), so that a loaded machine stretches them alike: only ratios within one run mean something.
//
//   node bench/catalog-start.mjs [--sizes 100000,200000] [--rounds 2] [--shapes 1,all]
//                                [--against /path/to/other/dist,...] [--no-reload] [--cpu-prof DIR]
// --shapes: how many distinct definitions the entries share (1: every entry the bench's per-tenant
// definition, differing only in its args; `all`: each its own crontab minute and hour, nothing to share).
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { privateRedis } from './lib/million.mjs';

/** Past the store's default budget (entryLimits, sized for the 512 Mi manifest): the bench measures a million. */
const BENCH_BUDGET = { maxEntries: 10_000_000, maxStoreBytes: 64 * 1024 ** 3 };

const HERE = dirname(fileURLToPath(import.meta.url));
const OWN_DIST = resolve(HERE, '../dist');
const DEPLOYMENT = 'catalog';
const SEED_CHUNK = 10_000;

const { values } = parseArgs({
  options: {
    child: { type: 'boolean', default: false },
    dist: { type: 'string' },
    url: { type: 'string' },
    n: { type: 'string' },
    sizes: { type: 'string', default: '100000,200000' },
    rounds: { type: 'string', default: '2' },
    shapes: { type: 'string', default: '1,all' },
    against: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'no-reload': { type: 'boolean', default: false },
  },
});

/** The definition of entry `i` when the entries share `shapes` definitions (0: none shared). */
function definition(i, shapes) {
  const j = shapes === 0 ? i : i % shapes;
  const schedule =
    shapes === 1
      ? { crontab: { minute: '*', hour: '*' } }
      : { crontab: { minute: j % 60, hour: Math.floor(j / 60) % 24, dayOfMonth: 1 + (Math.floor(j / 1440) % 28) } };
  return { task: 'bench.million', args: [i], schedule };
}

async function seed(url, n, shapes) {
  const { Entries } = await import(join(OWN_DIST, 'index.js'));
  const writer = await Entries.connect({ url, deployment: DEPLOYMENT, budget: BENCH_BUDGET });
  try {
    for (let from = 0; from < n; from += SEED_CHUNK) {
      const chunk = {};
      for (let i = from; i < Math.min(n, from + SEED_CHUNK); i += 1) chunk[`tenant-${i}`] = definition(i, shapes);
      await writer.setMany(chunk);
    }
  } finally {
    await writer.close();
  }
}

function peakRssMB() {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** The child: one load of the catalog from the store at `url`, with the build at `dist`. */
async function child() {
  const dist = values.dist;
  const n = Number(values.n);
  const { Redis } = await import('ioredis');
  const { RedisEntryStore } = await import(join(dist, 'redis/entry-store.js'));
  const { EntryCatalog } = await import(join(dist, 'runtime/entry-catalog.js'));
  const { schedulerKeys } = await import(join(dist, 'redis/keys.js'));
  const { createLogger } = await import(join(dist, 'base/log.js'));
  const client = new Redis(values.url);
  const store = new RedisEntryStore(client, schedulerKeys('tsbeat', DEPLOYMENT));
  let readMs = 0;
  let readCpuMs = 0;
  const timed = {
    origin: store.origin,
    async load() {
      const t = performance.now();
      const c = process.cpuUsage();
      const snapshot = await store.load();
      readMs = performance.now() - t;
      const used = process.cpuUsage(c);
      readCpuMs = (used.user + used.system) / 1000;
      return snapshot;
    },
    changesSince: (cursor) => store.changesSince(cursor),
  };
  const logger = createLogger({ level: 'warn', destination: { write: () => undefined } });
  const defaults = { zone: 'UTC' };
  const catalog = new EntryCatalog({ sources: [timed], logger, intervalMs: 3_600_000, defaults, staticNames: new Set() });
  globalThis.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await catalog.load();
  const loadMs = performance.now() - started;
  const loadCpu = process.cpuUsage(cpu);
  const loadCpuMs = (loadCpu.user + loadCpu.system) / 1000;
  const count = catalog.entries().length;
  globalThis.gc();
  globalThis.gc();
  const heapAfter = process.memoryUsage().heapUsed;
  const reloadStarted = performance.now();
  if (!values['no-reload']) await catalog.reconfigure({ zone: 'UTC' }, new Set());
  const reloadMs = performance.now() - reloadStarted;
  if (count !== n) throw new Error(`the catalog holds ${count} entries, not ${n}`);
  client.disconnect();
  process.stdout.write(
    `${JSON.stringify({ loadMs, loadCpuMs, readMs, readCpuMs, mergeMs: loadMs - readMs, reloadMs, heapPerEntry: (heapAfter - heapBefore) / n, peakMB: peakRssMB() })}\n`,
  );
}

function runChild(dist, url, n, label) {
  const flags = ['--expose-gc', '--max-old-space-size=8192'];
  const passed = values['no-reload'] ? ['--no-reload'] : [];
  if (values['cpu-prof'] !== undefined)
    flags.push('--cpu-prof', '--cpu-prof-dir', values['cpu-prof'], '--cpu-prof-name', `catalog-${label}-${n}-${Date.now()}.cpuprofile`);
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(
      process.execPath,
      [...flags, fileURLToPath(import.meta.url), '--child', '--dist', dist, '--url', url, '--n', String(n), ...passed],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.on('data', (chunk) => (out += chunk));
    proc.once('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out)) : reject(new Error(`child exited ${code}: ${out}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function parent() {
  const sizes = values.sizes.split(',').map(Number);
  const rounds = Number(values.rounds);
  const builds = [{ label: 'this', dist: OWN_DIST }];
  for (const [i, dist] of (values.against?.split(',') ?? []).entries()) builds.push({ label: `other${i + 1}`, dist: resolve(dist) });
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  console.log(`load average at the start: ${load()}`);
  for (const shapesText of values.shapes.split(',')) {
    const shapes = shapesText === 'all' ? 0 : Number(shapesText);
    for (const n of sizes) {
      const redis = await privateRedis();
      try {
        await seed(redis.url, n, shapes);
        const results = new Map(builds.map((b) => [b.label, []]));
        for (let round = 0; round < rounds; round += 1) {
          // A B, then B A: no build always goes first.
          const order = round % 2 === 0 ? builds : [...builds].reverse();
          for (const build of order) results.get(build.label).push(await runChild(build.dist, redis.url, n, build.label));
        }
        for (const build of builds) {
          const rs = results.get(build.label);
          const per = (key) => `${((median(rs.map((r) => r[key])) * 1000) / n).toFixed(1)} µs`;
          console.log(
            `${n} entries, ${shapes === 0 ? 'no shared' : shapes} definition${shapes === 1 ? '' : 's'}, ${build.label} (${build.dist}), median of ${rs.length}: ` +
              `load ${(median(rs.map((r) => r.loadMs)) / 1000).toFixed(2)} s (${per('loadMs')}/entry, CPU ${per('loadCpuMs')}), ` +
              `read ${per('readMs')}, merge ${per('mergeMs')}, reload ${per('reloadMs')}, ` +
              `heap ${median(rs.map((r) => r.heapPerEntry)).toFixed(0)} B/entry, peak RSS ${median(rs.map((r) => r.peakMB)).toFixed(0)} MB; load ${load()}`,
          );
        }
      } finally {
        await redis.stop();
      }
    }
  }
}

await (values.child ? child() : parent());
