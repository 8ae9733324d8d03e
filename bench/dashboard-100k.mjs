// Benchmark (issue 37): the dashboard's list, failing filter, result sort and day strips with N
// runtime entries (default 100,000), against a `beat run --http` leader on a private redis-server
// that follows outcomes (a resultBackend). Every entry has a finished summary and a short history
// (written straight into Redis in run-history-codec.ts's format); one in a hundred fails. Reported:
// each request's time, and the worst /healthz answer sampled every 20 ms meanwhile (what the
// scheduler's event loop was held up by).
//   npm run build && node bench/dashboard-100k.mjs [N] [--cpu-prof DIR]
// --cpu-prof DIR: `beat run` writes a .cpuprofile into DIR when it stops (what its loop spent the time on).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const args = process.argv.slice(2);
const profAt = args.indexOf('--cpu-prof');
const profDir = profAt === -1 ? undefined : args.splice(profAt, 2)[1];
if (profAt !== -1 && !profDir) throw new Error('--cpu-prof needs a directory');
const n = Number(args[0] ?? 100_000);
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsbeat-dash-100k-'));
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** GET on a fresh connection each (no keep-alive: a connection the server drops while idle is no finding). */
const getJson = (href) =>
  new Promise((resolve, reject) => {
    const req = request(href, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, ok: res.statusCode < 300, json: () => JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });

const redisPort = await freePort();
let beat;
const redisServer = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
  stdio: 'ignore',
});
// Stopped with the bench, however it ends (a timeout's SIGTERM too).
const stopChildren = () => {
  beat?.kill('SIGKILL');
  redisServer.kill('SIGKILL');
};
process.on('exit', stopChildren);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));
const url = `redis://127.0.0.1:${redisPort}/0`;
for (let i = 0; ; i += 1) {
  const r = spawnSync('redis-cli', ['-p', String(redisPort), 'ping'], { encoding: 'utf8' });
  if (r.stdout.trim() === 'PONG') break;
  if (i > 50) throw new Error('redis-server did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const redis = new Redis(url);
const deployment = 'bench-dash';
const config = join(dir, 'beat.yaml');
writeFileSync(
  config,
  `name: ${deployment}\nbroker: { url: "${url}" }\nresultBackend: "redis://127.0.0.1:${redisPort}/1"\nentryLimits: { maxEntries: 10000000, maxStoreBytes: 68719476736 }\n`,
);
try {
  const entries = {};
  // Once a year, at the new year: nothing is published while the dashboard is measured.
  for (let i = 0; i < n; i += 1) entries[`entry-${i}`] = { task: 'bench.tick', schedule: { cron: `${i % 60} 0 1 1 *` }, args: [i] };
  writeFileSync(join(dir, 'entries.json'), JSON.stringify(entries));
  const imported = spawnSync(process.execPath, [cli, 'entries', 'import', join(dir, 'entries.json'), '--config', config], {
    encoding: 'utf8',
  });
  if (imported.status !== 0) throw new Error(imported.stderr);
  const base = `tsbeat:{${deployment}}:`;
  const now = Date.now();
  for (let from = 0; from < n; from += 5000) {
    const p = redis.pipeline();
    for (let i = from; i < Math.min(n, from + 5000); i += 1) {
      const name = `entry-${i}`;
      const failing = i % 100 === 0;
      const rec = (k) =>
        JSON.stringify({
          id: `${name}-${k}`,
          slot: now - k * 60_000,
          pub: now - k * 60_000,
          st: failing ? 'FAILURE' : 'SUCCESS',
          done: now - k * 60_000 + 900,
          rt: 900,
          ...(failing ? { exc: 'RuntimeError: x' } : {}),
        });
      p.rpush(`${base}runs:${name}`, rec(1), rec(2), rec(3));
      p.hset(`${base}finished`, name, JSON.stringify({ last: rec(1), ...(failing ? { fail: now - 59_100 } : { ok: now - 59_100 }) }));
      if (failing) p.hset(`${base}failures`, name, '3');
    }
    await p.exec();
  }
  const port = await freePort();
  let beatErr = '';
  let beatLog = '';
  const prof = profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir];
  beat = spawn(process.execPath, [...prof, cli, 'run', '--config', config, '--http', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  beat.stdout.on('data', (d) => {
    beatErr = (beatErr + d).slice(-4000);
    beatLog += d;
  });

  beat.stderr.on('data', (d) => (beatErr = (beatErr + d).slice(-4000)));
  process.on('exit', (code) => code !== 0 && console.error(beatErr));
  const http = `http://127.0.0.1:${port}`;
  console.error('beat run started; waiting for it');
  for (let i = 0; ; i += 1) {
    try {
      if ((await getJson(`${http}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error('beat run did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Loading 100,000 entries holds the loop for a while (not the dashboard's doing): wait for its log line.
  while (!beatLog.includes(`"total":${n},`)) await new Promise((r) => setTimeout(r, 200));
  console.error('entries loaded');
  // The catalog has every entry once the overview counts them.
  for (;;) {
    const o = (await getJson(`${http}/ui/api/overview`)).json();
    if (o.counts.entries >= n) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  let worst = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const t = performance.now();
      await getJson(`${http}/healthz`);
      worst = Math.max(worst, performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const time = async (label, path) => {
    const t = performance.now();
    const res = await getJson(`${http}${path}`);
    const body = res.json();
    const ms = performance.now() - t;
    const what =
      body.matched !== undefined
        ? `${body.matched} matched, ${body.rows.length} rows`
        : body.strips
          ? `${Object.keys(body.strips).length} strips`
          : `${res.status} ${body.code ?? ''}`;
    console.log(`${label.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms  ${what}`);
  };
  console.log(`${n} runtime entries, ${n / 100} failing; beat run --http (leader), private redis-server`);
  await new Promise((r) => setTimeout(r, 2500));
  worst = 0;
  await time('list, first page', '/ui/api/entries?limit=100');
  await time('list, next page', '/ui/api/entries?limit=100&offset=100');
  await time('list, a middle page', `/ui/api/entries?limit=100&offset=${Math.floor(n / 2)}`);
  await time('failing filter (the failures hash)', '/ui/api/entries?limit=100&failing=1');
  await time('failing filter, next page', '/ui/api/entries?limit=100&failing=1&offset=100');
  await time('search "entry-999" (a pass)', '/ui/api/entries?limit=100&q=entry-999');
  await time('sort by next run (every entry)', '/ui/api/entries?limit=100&sort=next');
  await time('sort by result (every summary)', '/ui/api/entries?limit=100&sort=result');
  await time('sort by success rate (refused)', '/ui/api/entries?limit=100&sort=success');
  const names = Array.from({ length: 100 }, (_, i) => `name=entry-${i}`).join('&');
  await time('day strips of a page (100)', `/ui/api/strips?span=day&${names}`);
  await time('entry page', '/ui/api/entries/entry-0');
  await time('overview (counts)', '/ui/api/overview');
  await time('timeline, coming hour', '/ui/api/timeline?span=hour');
  sampling = false;
  await sampler;
  console.log(`worst /healthz answer meanwhile: ${worst.toFixed(0)} ms`);
  const lockErrors = beatLog.split('\n').filter((line) => line.includes('"event":"beat.lock.error"')).length;
  console.log(`beat.lock.error logged ${lockErrors} times`);
} finally {
  if (beat !== undefined && beat.exitCode === null) {
    // Stopped and waited for: the profile is written as it exits, and SIGTERM is served as the scheduler serves it.
    const exited = new Promise((resolve) => beat.once('exit', resolve));
    const t = performance.now();
    beat.kill('SIGTERM');
    await exited;
    console.log(`beat run stopped ${(performance.now() - t).toFixed(0)} ms after SIGTERM`);
  }
  redis.disconnect();
  redisServer.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
