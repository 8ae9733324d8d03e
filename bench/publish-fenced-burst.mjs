#!/usr/bin/env node
/**
 * What one publish-fenced.lua call costs for a burst of entries due at once: N entries, one run each,
 * one call, timed from the client (EVALSHA sent to reply read), on a private redis-server. Each round
 * starts from an empty server, publishes every entry's previous slot once (not timed: the steady
 * state, each entry with a stored slot), then times the burst of the next slot.
 *
 *   npx tsc -p tsconfig.build.json && node bench/publish-fenced-burst.mjs [--entries 10000] [--rounds 6]
 *   node bench/publish-fenced-burst.mjs --ref dd63012 --published-record   # an older commit's script
 *
 * --ref REF takes src/redis/lua/publish-fenced.lua and its includes from that git commit instead of
 * this tree's dist/; --published-record calls it with the shape of the record of published slots that
 * issue 36's first cut added (KEYS[4] published-since, then the zsets' prefix and bound last).
 * Prints each round's time and redis-server's CPU per run of the burst (INFO cpu, user + sys), the
 * medians and ranges, and the load average around the run. The state column's form (the state
 * after its slot, or, before, the whole state up to its count) is read from the script's contract
 * header, so --ref compares across it.
 */
import { spawn, execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { DEFAULTS } from '../dist/base/defaults.js';
import { assembleLua } from '../dist/redis/lua-includes.js';
import { lua } from '../dist/redis/scripts.js';
import { publishedStateAfterSlot } from '../dist/redis/entry-state-codec.js';
import { freePort } from './lib/procs.mjs';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '6' },
    ref: { type: 'string' },
    'published-record': { type: 'boolean', default: false },
    batch: { type: 'string' },
    runtime: { type: 'boolean', default: false },
  },
});
const N = Number(values.entries);
const ROUNDS = Number(values.rounds);
const OLD_SHAPE = values['published-record'];
const BATCH = Number(values.batch ?? values.entries);
const RUNTIME = values.runtime;
const WRITE_CHUNK = 10_000;
const TOKEN = 'bench-token';
const QUEUE = 'celery';
const KEY = (k) => `tsbeat:{bench}:${k}`;
const T = 1_763_000_040_000;
const PAYLOAD = JSON.stringify({ body: 'x'.repeat(800) });

function scriptText() {
  if (values.ref === undefined) return lua('publish-fenced');
  const show = (path) => {
    try {
      return execFileSync('git', ['show', `${values.ref}:${path}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return undefined;
    }
  };
  const main = show('src/redis/lua/publish-fenced.lua');
  if (main === undefined) throw new Error(`no src/redis/lua/publish-fenced.lua at ${values.ref}`);
  return assembleLua('publish-fenced', main, (name) => show(`src/redis/lua/includes/${name}.lua`));
}

const revision = (i) => String(Math.floor(i / WRITE_CHUNK) + 1);

/** The arguments of the calls of one slot's burst, BATCH runs each. */
function calls(slot, afterSlot) {
  const out = [];
  for (let from = 0; from < N; from += BATCH) out.push(call(slot, from, Math.min(N, from + BATCH), afterSlot));
  return out;
}

/** A run's state column: the state after its slot (this tree), or the whole state up to the count (before). */
function stateColumn(slot, id, afterSlot) {
  const rest = publishedStateAfterSlot(String(slot), id);
  return afterSlot ? rest : `{"slot":${slot},${rest}`;
}

function call(slot, from, to, afterSlot) {
  const R = to - from;
  const names = Array.from({ length: R }, (_, i) => `entry-${from + i}`);
  // KEYS[4] is the stop key since the deployment-wide stop (an older script takes it for an empty queue list).
  const keys = [KEY('fence'), KEY('state'), KEY('entries'), ...(OLD_SHAPE ? [KEY('published-since')] : [KEY('stop')]), QUEUE];
  const argv = [TOKEN, String(DEFAULTS.maxClockSkewMs), String(R)];
  for (const name of names) argv.push(name);
  for (let i = 0; i < R; i += 1) argv.push(String(slot));
  for (let i = 0; i < R; i += 1) argv.push(stateColumn(slot, `id-${from + i}-${slot}`, afterSlot));
  for (let i = 0; i < R; i += 1) argv.push(RUNTIME ? revision(from + i) : '');
  argv.push('1', 'list', String(keys.length), names.map((_, i) => i + 1).join(' '), String(R));
  for (let i = 0; i < R; i += 1) argv.push(PAYLOAD);
  if (OLD_SHAPE) argv.push(KEY('published:'), '10000');
  return [keys.length, ...keys, ...argv];
}

/** The runtime entries' records, changes and first sightings, written as the scripts write them. */
async function seedRuntime() {
  for (let from = 0; from < N; from += WRITE_CHUNK) {
    const v = revision(from);
    const records = [];
    const changes = [];
    const states = [];
    for (let i = from; i < Math.min(N, from + WRITE_CHUNK); i += 1) {
      const entry = JSON.stringify({ task: 'bench.million', args: [i], schedule: { crontab: { minute: '*', hour: '*' } } });
      records.push(`entry-${i}`, `{"v":${v},"i":${v},"created":${T - 3_600_000},"updated":${T - 3_600_000},"entry":${entry}}`);
      changes.push(v, `entry-${i}`);
      states.push(`entry-${i}`, `{"seen":${T - 3_600_000},"n":0}`);
    }
    await client.hset(KEY('entries'), ...records);
    await client.zadd(KEY('entries:changes'), ...changes);
    await client.hset(KEY('state'), ...states);
  }
  await client.set(KEY('entries:version'), revision(N - 1));
}

async function redisCpuMs() {
  const info = await client.info('cpu');
  const user = Number(info.match(/used_cpu_user:([\d.]+)/)?.[1]);
  const sys = Number(info.match(/used_cpu_sys:([\d.]+)/)?.[1]);
  return (user + sys) * 1000;
}

const port = await freePort();
const server = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
  stdio: ['ignore', 'pipe', 'ignore'],
});
// Ready when it says so (not a sleep).
await new Promise((resolve, reject) => {
  let seen = '';
  server.stdout.on('data', (chunk) => {
    seen += chunk;
    if (seen.includes('Ready to accept connections')) resolve();
  });
  server.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
});
const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
try {
  await client.connect();
  const text = scriptText();
  const afterSlot = text.includes('publishedStateAfterSlot');
  const sha = await client.script('LOAD', text);
  const loadBefore = loadavg()[0];
  const times = [];
  const cpus = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    await client.flushall();
    await client.set(KEY('fence'), TOKEN);
    if (RUNTIME) await seedRuntime();
    for (const args of calls(T - 60_000, afterSlot)) {
      const warm = await client.evalsha(sha, args);
      if (warm[0] !== 1 || warm.slice(1).some((c) => c !== 1)) throw new Error(`warm-up publish refused: ${warm.slice(0, 5)}`);
    }
    await client.del(QUEUE);
    const burst = calls(T, afterSlot);
    const cpuBefore = await redisCpuMs();
    const started = performance.now();
    for (const args of burst) {
      const reply = await client.evalsha(sha, args);
      if (reply[0] !== 1 || reply.slice(1).some((c) => c !== 1)) throw new Error(`burst not published: ${reply.slice(0, 5)}`);
    }
    times.push(performance.now() - started);
    cpus.push((((await redisCpuMs()) - cpuBefore) * 1000) / N);
    if ((await client.llen(QUEUE)) !== N) throw new Error('burst not published whole');
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const cpuSorted = [...cpus].sort((a, b) => a - b);
  const info = (await client.info('memory')).match(/used_memory:(\d+)/)?.[1];
  const keyCount = await client.dbsize();
  process.stdout.write(
    `${values.ref ?? 'this tree'}${OLD_SHAPE ? ' (published-record shape)' : ''}: ${N} ${RUNTIME ? 'runtime ' : ''}entries, ` +
      `${BATCH >= N ? 'one call' : `calls of ${BATCH}`}, ${ROUNDS} rounds: ` +
      `${times.map((t) => t.toFixed(0)).join(', ')} ms; median ${median.toFixed(0)} ms (${sorted[0].toFixed(0)}–${sorted[sorted.length - 1].toFixed(0)}); ` +
      `Redis CPU a run ${cpus.map((c) => c.toFixed(2)).join(', ')} µs; median ${cpuSorted[Math.floor(cpuSorted.length / 2)].toFixed(2)} µs; ` +
      `Redis after: ${keyCount} keys, used_memory ${used(info)}; load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}\n`,
  );
} finally {
  client.disconnect();
  server.kill('SIGTERM');
}

function used(bytes) {
  return bytes === undefined ? '?' : `${(Number(bytes) / 1e6).toFixed(1)} MB`;
}
