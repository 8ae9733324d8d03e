#!/usr/bin/env node
/**
 * How fast tsbeat renders and publishes real-sized task messages to Redis, next to what Redis
 * itself accepts over one connection (`redis-benchmark -c 1 -P 64 -t lpush -d 865`), in the same
 * run on the same machine.
 *
 *   npx tsc -p tsconfig.build.json && node bench/redis-publish.mjs [--messages 200000] [--rounds 3] [--db 7]
 *
 * tsbeat publishes as `beat run` does: the dispatcher of createPublishing (the fenced one: one
 * publish-fenced.lua per batch of runs, which checks the fence, pushes and moves each entry's
 * state), under the fence token this process wins with the deployment's lock, with batches of
 * runs handed over as the runner hands them.
 *
 * Uses a scratch DB (7 by default: FLUSHDB before and after). The goal is at least half of the
 * redis-benchmark rate, counting everything tsbeat does per message: id, render, envelope, push,
 * the fence check and the state write.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { DEFAULTS } from '../dist/base/defaults.js';
import { silentLogger } from '../dist/base/log.js';
import { compileMessageTemplate, makeOrigin, renderTaskMessage } from '../dist/celery/message.js';
import { slotTaskId } from '../dist/celery/task-id.js';
import { parseConfig } from '../dist/config/load.js';
import { createPublishing } from '../dist/publish/brokers.js';
import { stateUrlFor } from '../dist/config/broker-kinds.js';
import { connectWithRetry, createRedisClient } from '../dist/redis/connect.js';
import { schedulerKeys } from '../dist/redis/keys.js';
import { Leadership, newInstanceId } from '../dist/redis/leadership.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    db: { type: 'string', default: '7' },
    entries: { type: 'string', default: '50' },
    chunk: { type: 'string', default: String(DEFAULTS.dispatchBatchRuns) },
    'in-flight': { type: 'string', default: String(DEFAULTS.dispatchMaxInFlight) },
  },
});
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const DB = Number(values.db);
const ENTRIES = Number(values.entries);
/** Runs per dispatch() call: the runner's batch, DEFAULTS.dispatchBatchRuns. */
const CHUNK = Number(values.chunk);
/** dispatch() calls awaiting their replies at once: the runner's DEFAULTS.dispatchMaxInFlight. */
const IN_FLIGHT = Number(values['in-flight']);
const url = `redis://127.0.0.1:6379/${DB}`;
const QUEUE = 'tsbeat-bench';
/** The queue's list for priority 5 (kombu's priority step 3). */
const LIST = `${QUEUE}\x06\x163`;

const out = (line) => process.stdout.write(`${line}\n`);

/**
 * The entry of the observed beat message in celery-protocol.md §1.7 (args [2, 3], expires 30,
 * priority 5, one custom header), under many entry names: with tsbeat's two beat_* headers its
 * envelope is about 1,000 bytes, a little more than redis-benchmark's 865-byte values.
 */
const beatSchedule = Object.fromEntries(
  Array.from({ length: ENTRIES }, (_, i) => [
    `add-every-minute-${String(i).padStart(3, '0')}`,
    { task: 'proj.add', schedule: 60, args: [2, 3], options: { queue: QUEUE, expires: 30, priority: 5, headers: { 'x-custom': 'v' } } },
  ]),
);
const config = parseConfig({ name: 'bench-publish', broker: { url }, beatSchedule }, 'redis-publish.mjs');
const keys = schedulerKeys(config.state.prefix, config.name);
const env = { origin: makeOrigin(process.pid, 'bench-host'), replyTo: randomUUID() };
const templates = config.entries.map((entry) => compileMessageTemplate(entry, config, env));

/** Due runs `from` to `to` of a round: each entry's slots a minute apart, the last at `baseMs` (none ahead of Redis's clock). */
function renderAll(from, to, baseMs, n) {
  const runs = new Array(to - from);
  const firstMs = baseMs - (Math.ceil(n / templates.length) - 1) * 60_000;
  for (let i = from; i < to; i += 1) {
    const template = templates[i % templates.length];
    const slotMs = firstMs + Math.floor(i / templates.length) * 60_000;
    const message = renderTaskMessage(template, { taskId: slotTaskId(config.name, template.entry, slotMs), slotMs, nowMs: baseMs });
    runs[i - from] = { entry: config.entries[i % templates.length], slotMs, message };
  }
  return runs;
}

/** This process as `beat run` starts: state and subscriber connections, the publishing, then the lock and its fence token. */
async function lead() {
  const stateUrl = stateUrlFor(config);
  const state = createRedisClient(stateUrl, config.broker.transportOptions, 'state', silentLogger);
  const subscriber = createRedisClient(stateUrl, config.broker.transportOptions, 'subscriber', silentLogger);
  const signal = AbortSignal.timeout(15_000);
  await Promise.all([connectWithRetry(state, signal), connectWithRetry(subscriber, signal)]);
  const publishing = createPublishing(config, keys, silentLogger, state);
  await publishing.connect();
  const leadership = new Leadership({
    instanceId: newInstanceId(hostname(), process.pid),
    keys,
    ttlMs: config.lock.ttlMs,
    renewEveryMs: config.lock.renewEveryMs,
    retryEveryMs: config.lock.retryEveryMs,
    lockClients: [state],
    state,
    subscriber,
    logger: silentLogger,
  });
  const token = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not leading after 15 s')), 15_000);
    void leadership.start({ onLead: (lease) => (clearTimeout(timer), resolve(lease.token)), onLose: () => undefined }).catch(reject);
  });
  const close = async () => {
    await leadership.stop();
    await publishing.close();
    for (const client of [state, subscriber]) await client.quit().catch(() => client.disconnect());
  };
  return { dispatcher: publishing.dispatcher, token, close };
}

/**
 * Renders and dispatches N runs, CHUNK per dispatch() call (one fenced script each), with up to
 * IN_FLIGHT calls awaiting their replies while the next chunk is rendered.
 */
async function tsbeatRound(leader, admin, n) {
  // The lock and the fence stay; the queue and the entries' state go, so every slot is fresh.
  await admin.del(LIST, keys.state);
  const base = Date.now();
  let render = 0n;
  let published = 0;
  const pending = [];
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let start = 0; start < n; start += CHUNK) {
    const r0 = process.hrtime.bigint();
    const runs = renderAll(start, Math.min(n, start + CHUNK), base, n);
    render += process.hrtime.bigint() - r0;
    pending.push(
      leader.dispatcher.dispatch(runs, leader.token, base).then((result) => {
        if (result.fenced || !('outcomes' in result)) throw new Error(`dispatch refused: ${JSON.stringify(result)}`);
        published += result.outcomes.filter((o) => o === 'published').length;
      }),
    );
    // The runner sends the next batch without waiting for the previous one's reply.
    if (pending.length >= IN_FLIGHT) await pending.shift();
  }
  await Promise.all(pending);
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const stored = await admin.llen(LIST);
  if (published !== n || stored !== n) throw new Error(`published ${published}, stored ${stored}, expected ${n}`);
  const first = await admin.lindex(LIST, -1);
  const rate = (ns) => n / (Number(ns) / 1e9);
  return {
    total: rate(t1 - t0),
    render: rate(render),
    publish: rate(t1 - t0 - render),
    cpuUs: (cpu.user + cpu.system) / n,
    avgBytes: Buffer.byteLength(first ?? ''),
  };
}

function redisBenchmark(n) {
  const run = spawnSync(
    'redis-benchmark',
    ['-h', '127.0.0.1', '-p', '6379', '--dbnum', String(DB), '-c', '1', '-P', '64', '-t', 'lpush', '-d', '865', '-n', String(n), '-q'],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`redis-benchmark failed: ${run.stderr || run.error}`);
  const rates = [...run.stdout.matchAll(/LPUSH: ([\d.]+) requests per second/g)].map((m) => Number(m[1]));
  const rate = rates.at(-1);
  if (rate === undefined) throw new Error(`cannot read redis-benchmark output: ${run.stdout}`);
  return rate;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');

const admin = new Redis(url);
await admin.flushdb();
const leader = await lead();
try {
  await tsbeatRound(leader, admin, Math.min(N, 20_000)); // warm-up (JIT, connection)
  const ours = [];
  const theirs = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    ours.push(await tsbeatRound(leader, admin, N));
    await admin.del(LIST, keys.state);
    theirs.push(redisBenchmark(N));
    await admin.del('mylist');
  }
  const total = median(ours.map((o) => o.total));
  const base = median(theirs);
  out(
    `messages per round: ${fmt(N)} from ${ENTRIES} entries, ${fmt(CHUNK)} per dispatch, ${IN_FLIGHT} in flight; envelope ${Math.round(ours[0].avgBytes)} bytes; ${ROUNDS} rounds, medians:`,
  );
  out(
    `  tsbeat render+publish : ${fmt(total)} msg/s   (time split: render ${fmt(median(ours.map((o) => o.render)))}/s, publish ${fmt(median(ours.map((o) => o.publish)))}/s; ${median(ours.map((o) => o.cpuUs)).toFixed(2)} µs of Node CPU per message)`,
  );
  out(`  redis-benchmark -c 1 -P 64 -t lpush -d 865 : ${fmt(base)} req/s`);
  out(`  ratio: ${((100 * total) / base).toFixed(0)} % (goal >= 50 %)`);
} finally {
  await leader.close();
  await admin.flushdb();
  admin.disconnect();
}
