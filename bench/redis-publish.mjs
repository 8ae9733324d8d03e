#!/usr/bin/env node
/**
 * How fast tsbeat renders and publishes real-sized task messages to Redis, next to what Redis
 * itself accepts over one connection (`redis-benchmark -c 1 -P 64 -t lpush -d 865`), in the same
 * run on the same machine.
 *
 *   npx tsc -p tsconfig.build.json && node bench/redis-publish.mjs [--messages 200000] [--rounds 3] [--db 7]
 *
 * Uses a scratch DB (7 by default: FLUSHDB before and after). The goal is at least half of the
 * redis-benchmark rate, counting everything tsbeat does per message: id, render, envelope, push.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { compileMessageTemplate, makeOrigin, renderTaskMessage } from '../dist/celery/message.js';
import { slotTaskId } from '../dist/celery/task-id.js';
import { RedisTransport } from '../dist/kombu/redis-transport.js';
import { compileRoutes } from '../dist/config/routes.js';
import { silentLogger } from '../dist/base/log.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    db: { type: 'string', default: '7' },
    entries: { type: 'string', default: '50' },
    chunk: { type: 'string', default: '1000' },
    'in-flight': { type: 'string', default: '4' },
  },
});
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const DB = Number(values.db);
const ENTRIES = Number(values.entries);
/** Messages per publish() call: a scheduler publishes what is due, not everything at once. */
const CHUNK = Number(values.chunk);
/** publish() calls awaiting their replies at once. */
const IN_FLIGHT = Number(values['in-flight']);
const url = `redis://127.0.0.1:6379/${DB}`;
const QUEUE = 'tsbeat-bench';

const out = (line) => process.stdout.write(`${line}\n`);

/**
 * The entry of the observed beat message in celery-protocol.md §1.7 (args [2, 3], expires 30,
 * priority 5, one custom header), under many entry names: with tsbeat's two beat_* headers its
 * envelope is about 1,000 bytes, a little more than redis-benchmark's 865-byte values.
 */
function benchEntry(i) {
  return {
    name: `add-every-minute-${String(i).padStart(3, '0')}`,
    task: 'proj.add',
    args: [2, 3],
    kwargs: {},
    options: { queue: QUEUE, expires: 30, priority: 5, headers: { 'x-custom': 'v' } },
  };
}

const env = { origin: makeOrigin(process.pid, 'bench-host'), replyTo: randomUUID() };
const cfg = { taskDefaultQueue: 'celery', taskRoutes: compileRoutes(undefined), taskProtocol: 2 };
const templates = Array.from({ length: ENTRIES }, (_, i) => compileMessageTemplate(benchEntry(i), cfg, env));

function renderAll(from, to, baseMs) {
  const messages = new Array(to - from);
  for (let i = from; i < to; i += 1) {
    const template = templates[i % templates.length];
    const slotMs = baseMs + Math.floor(i / templates.length) * 60_000;
    messages[i - from] = renderTaskMessage(template, { taskId: slotTaskId('bench', template.entry, slotMs), slotMs, nowMs: baseMs });
  }
  return messages;
}

/**
 * Renders and publishes N messages, CHUNK per publish() call (which plans and sends a pipeline at a
 * time), with up to IN_FLIGHT calls awaiting their replies while the next chunk is rendered.
 */
async function tsbeatRound(transport, admin, n) {
  await admin.flushdb();
  const base = Date.now();
  let render = 0n;
  let published = 0;
  const pending = [];
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let start = 0; start < n; start += CHUNK) {
    const r0 = process.hrtime.bigint();
    const messages = renderAll(start, Math.min(n, start + CHUNK), base);
    render += process.hrtime.bigint() - r0;
    pending.push(transport.publish(messages).then((outcome) => void (published += outcome.published)));
    // A scheduler publishes each tick's messages without waiting for the previous tick's replies.
    if (pending.length >= IN_FLIGHT) await pending.shift();
  }
  await Promise.all(pending);
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const stored = await admin.llen(`${QUEUE}\x06\x163`);
  if (published !== n || stored !== n) throw new Error(`published ${published}, stored ${stored}, expected ${n}`);
  const first = await admin.lindex(`${QUEUE}\x06\x163`, -1);
  const rate = (ns) => n / (Number(ns) / 1e9);
  return { total: rate(t1 - t0), render: rate(render), publish: rate(t1 - t0 - render), cpuUs: (cpu.user + cpu.system) / n, avgBytes: Buffer.byteLength(first ?? '') };
}

function redisBenchmark(n) {
  const run = spawnSync('redis-benchmark', ['-h', '127.0.0.1', '-p', '6379', '--dbnum', String(DB), '-c', '1', '-P', '64', '-t', 'lpush', '-d', '865', '-n', String(n), '-q'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`redis-benchmark failed: ${run.stderr || run.error}`);
  const rates = [...run.stdout.matchAll(/LPUSH: ([\d.]+) requests per second/g)].map((m) => Number(m[1]));
  const rate = rates.at(-1);
  if (rate === undefined) throw new Error(`cannot read redis-benchmark output: ${run.stdout}`);
  return rate;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');

const admin = new Redis(url);
const transport = new RedisTransport({ url, transportOptions: {}, logger: silentLogger });
try {
  await admin.flushdb();
  await tsbeatRound(transport, admin, Math.min(N, 20_000)); // warm-up (JIT, connection)
  const ours = [];
  const theirs = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    ours.push(await tsbeatRound(transport, admin, N));
    await admin.flushdb();
    theirs.push(redisBenchmark(N));
    await admin.del('mylist');
  }
  const total = median(ours.map((o) => o.total));
  const base = median(theirs);
  out(`messages per round: ${fmt(N)} from ${ENTRIES} entries, ${fmt(CHUNK)} per publish call; envelope ${Math.round(ours[0].avgBytes)} bytes; ${ROUNDS} rounds, medians:`);
  out(`  tsbeat render+publish : ${fmt(total)} msg/s   (time split: render ${fmt(median(ours.map((o) => o.render)))}/s, publish ${fmt(median(ours.map((o) => o.publish)))}/s; ${median(ours.map((o) => o.cpuUs)).toFixed(2)} µs of Node CPU per message)`);
  out(`  redis-benchmark -c 1 -P 64 -t lpush -d 865 : ${fmt(base)} req/s`);
  out(`  ratio: ${(100 * total / base).toFixed(0)} % (goal >= 50 %)`);
} finally {
  await admin.flushdb();
  await transport.close();
  admin.disconnect();
}
