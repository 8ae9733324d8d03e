// The runtime entry store under load (`npm run bench -- --only entries --no-celery`): upserts per
// second through the HTTP API and through the TypeScript client, the delay from an edit to its
// effect on the leader, and start-up to leading with 100,000 store entries against 100,000 file
// entries. tsbeat alone: celery beat has no runtime store (RedBeat and django-celery-beat do, and
// are not installed here).
import { Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Entries } from '../../dist/index.js';
import { redisNowMs, watchArrivals, watchKey } from './redis-clock.mjs';
import { spawnTsbeat, stop, tempDir, waitForLog } from './procs.mjs';

const TOKEN = 'bench-token-0123456789abcdef';
const UPSERTS = 10_000;
const IN_FLIGHT = 8;
const EDITS = 30;
const STARTUP_ENTRIES = 100_000;
const STARTUP_RUNS = 3;

/** An entry that is not due for months (1 January), as the idle and start-up workloads use. */
const idle = (i) => ({ task: 'bench.idle', schedule: { crontab: { minute: i % 60, hour: 0, day_of_month: 1, month_of_year: 1 } } });

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function put(agent, port, path, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => (res.statusCode >= 300 ? reject(new Error(`PUT ${path}: ${res.statusCode} ${text}`)) : resolve(text)));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Runs `job(i)` for i in [0, n) with `inFlight` at a time; returns the elapsed milliseconds. */
async function pooled(n, inFlight, job) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) await job(next++);
    }),
  );
  return performance.now() - started;
}

/** A leader with the API on a free port and its token; resolves once it leads. */
async function startLeader(dir, broker, name, beatSchedule = {}) {
  const config = join(dir, 'beat.config.json');
  writeFileSync(config, JSON.stringify({ name, broker: { url: broker }, maxInterval: '5s', beatSchedule }));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN);
  const child = spawnTsbeat(config, ['--http', '127.0.0.1:0', '--api-token-file', tokenFile]);
  if (!(await waitForLog(child, /beat\.lock\.acquired/, 120_000))) throw new Error('the leader did not lead within 120 s');
  const listen = child.logLines.find((l) => l.includes('"beat.http.listen"'));
  return { child, port: JSON.parse(listen).port };
}

export async function runtimeEntries({ broker, flush, row, log, fmtS }) {
  const redis = new Redis(broker);
  const rate = (ms) => `${Math.round((UPSERTS / ms) * 1000).toLocaleString('en')} entries/s`;
  try {
    // ---- upserts
    await flush();
    let leader = await startLeader(tempDir('bench-entries-'), broker, 'entries');
    const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
    log(`entries: ${UPSERTS} PUTs through the HTTP API, ${IN_FLIGHT} in flight`);
    const httpMs = await pooled(UPSERTS, IN_FLIGHT, (i) => put(agent, leader.port, `/api/entries/http-${i}`, idle(i)));
    const bulk = Object.fromEntries(Array.from({ length: UPSERTS }, (_, i) => [`bulk-${i}`, idle(i)]));
    const bulkStarted = performance.now();
    await put(agent, leader.port, '/api/entries', bulk);
    const bulkMs = performance.now() - bulkStarted;
    agent.destroy();

    const entries = await Entries.connect({ url: broker, deployment: 'entries' });
    log(`entries: ${UPSERTS} set() through the TypeScript client, ${IN_FLIGHT} in flight`);
    const clientMs = await pooled(UPSERTS, IN_FLIGHT, (i) => entries.set(`client-${i}`, idle(i)));
    const manyStarted = performance.now();
    await entries.setMany(Object.fromEntries(Array.from({ length: UPSERTS }, (_, i) => [`many-${i}`, idle(i)])));
    const manyMs = performance.now() - manyStarted;
    // The leader took all of them in.
    const total = 4 * UPSERTS;
    const applied = await waitForLog(leader.child, new RegExp(`"beat\\.entries\\.changed".*"total":${total}\\b`), 60_000);
    row(
      `Runtime entries: ${UPSERTS.toLocaleString('en')} upserts (idle entries) while leading`,
      `HTTP PUT one each (${IN_FLIGHT} in flight) ${rate(httpMs)}, one bulk PUT ${rate(bulkMs)}; client set() (${IN_FLIGHT} in flight) ${rate(clientMs)}, setMany ${rate(manyMs)}${applied ? '' : '; the leader had not applied all of them after 60 s'}`,
      'n/a (no runtime store)',
      '—',
      '',
    );
    await stop(leader.child);

    // ---- edit to effect: an every-second entry's queue changed through the API
    await flush();
    leader = await startLeader(tempDir('bench-entries-edit-'), broker, 'entries');
    const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    await put(probeAgent, leader.port, '/api/entries/probe', { task: 'bench.probe', schedule: 1, options: { queue: 'probe-0' } });
    await watchArrivals(redis, ['probe-0'], 1, 10_000);
    log(`entries: ${EDITS} edits of an every-second entry's queue`);
    const applies = [];
    const effects = [];
    for (let i = 1; i <= EDITS; i += 1) {
      // A random phase against the entry's second, so that the effect delay samples all of it.
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1000));
      const seen = leader.child.logLines.filter((l) => l.includes('"beat.entries.changed"')).length;
      const at = await redisNowMs(redis);
      await put(probeAgent, leader.port, '/api/entries/probe', { task: 'bench.probe', schedule: 1, options: { queue: `probe-${i}` } });
      const arrivals = await watchArrivals(redis, [`probe-${i}`], 1, 5000);
      if (arrivals.first !== undefined) effects.push(arrivals.first - at);
      const line = leader.child.logLines.filter((l) => l.includes('"beat.entries.changed"'))[seen];
      if (line !== undefined) applies.push(Date.parse(JSON.parse(line).time) - at);
    }
    probeAgent.destroy();
    await stop(leader.child);
    const stats = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted.length === 0 ? '—' : `p50 ${fmtS(percentile(sorted, 50))}, p99 ${fmtS(percentile(sorted, 99))}`;
    };
    row(
      `Runtime entries: an edit's delay (${EDITS} edits of an every-second entry's queue through the API)`,
      `applied by the leader (its log): ${stats(applies)}; first run in the new queue: ${stats(effects)} (includes waiting for the entry's next second)`,
      'n/a',
      '—',
      'applied within 1 s',
    );

    // ---- start-up with 100,000 store entries, against 100,000 file entries
    const leading = { store: [], file: [] };
    for (let run = 0; run < STARTUP_RUNS; run += 1) {
      for (const kind of ['store', 'file']) {
        await flush();
        const dir = tempDir('bench-entries-start-');
        const many = Object.fromEntries(Array.from({ length: STARTUP_ENTRIES }, (_, i) => [`e${i}`, idle(i)]));
        if (kind === 'store') {
          const writer = await Entries.connect({ url: broker, deployment: 'startup' });
          for (let from = 0; from < STARTUP_ENTRIES; from += 10_000) {
            await writer.setMany(Object.fromEntries(Object.entries(many).slice(from, from + 10_000)));
          }
          await writer.close();
        }
        const config = join(dir, 'beat.config.json');
        writeFileSync(config, JSON.stringify({ name: 'startup', broker: { url: broker }, beatSchedule: kind === 'file' ? many : {} }));
        const spawnedAt = await redisNowMs(redis);
        const child = spawnTsbeat(config);
        const watcher = new Redis(broker);
        const at = await watchKey(watcher, 'tsbeat:{startup}:lock', 120_000);
        watcher.disconnect();
        await stop(child);
        if (at !== undefined) leading[kind].push(at - spawnedAt);
        log(
          `entries: start-up with ${STARTUP_ENTRIES} ${kind} entries, run ${run + 1}: ${fmtS(at === undefined ? undefined : at - spawnedAt)}`,
        );
      }
    }
    const median = (values) => (values.length === 0 ? undefined : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]);
    row(
      `Start-up to leading, ${STARTUP_ENTRIES.toLocaleString('en')} entries: in the runtime store / in the config file (median of ${STARTUP_RUNS})`,
      `${fmtS(median(leading.store))} / ${fmtS(median(leading.file))}`,
      'n/a',
      '—',
      'store as fast as file',
    );
    await entries.close();
  } finally {
    await redis.quit();
  }
}
