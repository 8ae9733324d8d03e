// The `cluster-shards` workload of bench/run.mjs: several deployments spread over the shards of
// one Redis Cluster, the documented way past one Redis thread (docs/high-availability.md).
//
// A private cluster of 3 masters and 3 replicas on free loopback ports (redis-server
// --cluster-enabled yes, joined by redis-cli --cluster create), 4 deployments (one `beat run`
// each, state and lock on the cluster: redis-cluster://), their names picked so that every master
// holds at least one deployment's slot. Each deployment runs `entries` entries every second
// (catchUp all) to its own RabbitMQ queue (the shared one at 127.0.0.1:5672, guest/guest), which
// this process consumes without acks. Halfway through, the master of the first deployment's slot
// is SIGKILLed and the cluster promotes its replica. Reported: each shard's share of the cluster's
// CPU (user + system time of its master and replica, from /proc), each deployment's runs, and
// over every entry's slots from its first to its last: duplicates (a slot or a task id twice) and
// lost slots (none published).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { freePort, processCpuSeconds, spawnTsbeat, stop, waitForLog } from './procs.mjs';

const run = promisify(execFile);
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672/';
const BEGIN = '<!-- cluster-shards:begin -->';
const END = '<!-- cluster-shards:end -->';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A cluster-mode redis-server on `port`, nothing on disk; resolves once it accepts connections. */
async function clusterNode(dir, port) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000');
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server ${port} did not start: ${output}`)), 15_000);
    child.stdout.on('data', (c) => {
      output += c;
      if (/Ready to accept/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server ${port} exited (${code}): ${output}`)));
  });
  return { port, child };
}

async function ask(port, ...command) {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await c.call(...command);
  } finally {
    c.disconnect();
  }
}

/** CLUSTER NODES as `port` sees it: [{id, port, master, masterId, failed, slots: [[a, b]…]}]. */
async function table(port) {
  const text = String(await ask(port, 'CLUSTER', 'NODES'));
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
      const master = flags.includes('master');
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        master,
        masterId: master ? id : masterId,
        failed: flags.split(',').some((f) => f === 'fail' || f === 'fail?'),
        slots: slots.filter((s) => /^\d/.test(s)).map((s) => s.split('-').map(Number)),
      };
    });
}

function masterOf(nodes, slot) {
  return nodes.find((n) => n.master && !n.failed && n.slots.some(([a, b = a]) => slot >= a && slot <= b));
}

/**
 * How long from now to the middle of the widest gap between `slots`' phases in the second (their
 * epoch ms modulo 1000): the instant of the second furthest from any slot of one-second entries.
 */
export function quietDelay(slots, now = Date.now()) {
  const phases = [...new Set(slots.map((s) => ((s % 1000) + 1000) % 1000))].sort((a, b) => a - b);
  if (phases.length === 0) return 0;
  let best = { gap: -1, mid: 0 };
  phases.forEach((p, i) => {
    const next = i + 1 < phases.length ? phases[i + 1] : phases[0] + 1000;
    if (next - p > best.gap) best = { gap: next - p, mid: (p + (next - p) / 2) % 1000 };
  });
  return (best.mid - (now % 1000) + 1000) % 1000;
}

async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Runs the workload; returns its Markdown (bench/RESULTS.md's section). `deployments` on a
 * 3-master cluster, `entries` one-second entries each, `seconds` long, the kill at half of it.
 */
export async function clusterShards({ deployments = 4, entries = 100, seconds = 40, log }) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const nodes = [];
  const beats = [];
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  const queues = [];
  try {
    const ports = new Set();
    while (ports.size < 6) ports.add(await freePort());
    for (const port of ports) nodes.push(await clusterNode(dir, port));
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
    const seed = nodes[0].port;
    await until(
      'the cluster to be ok',
      async () => {
        for (const n of nodes) if (!String(await ask(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        const t = await table(seed);
        return t.filter((n) => n.master && n.slots.length > 0).length === 3 && t.filter((n) => !n.master).length === 3;
      },
      30_000,
    );
    const start = await table(seed);
    // The shard of each node: its master's id (a replica's master), fixed at the start.
    const shardOf = new Map(start.map((n) => [n.port, n.masterId]));
    const shardName = new Map(
      start.filter((n) => n.master).map((n, i) => [n.id, `shard ${i + 1} (${n.slots.map((s) => s.join('-')).join(',')})`]),
    );

    // Deployment names that cover every master, at most two to a master.
    const chosen = [];
    const perMaster = new Map();
    for (let i = 0; chosen.length < deployments && i < 1000; i += 1) {
      const name = `shard${i}`;
      const slot = Number(await ask(seed, 'CLUSTER', 'KEYSLOT', `tsbeat:{${name}}:state`));
      const master = masterOf(start, slot);
      const count = perMaster.get(master.id) ?? 0;
      // First one on each master, then at most two to a master.
      const covered = perMaster.size >= Math.min(3, deployments);
      if (covered ? count >= 2 : count >= 1) continue;
      perMaster.set(master.id, count + 1);
      chosen.push({ name, slot, shard: master.id, queue: `bench-cluster-${process.pid}-${name}`, runs: [] });
    }
    const url = `redis-cluster://${addresses.slice(0, 3).join(',')}`;
    for (const d of chosen) {
      await channel.assertQueue(d.queue, { durable: true, exclusive: false, autoDelete: false });
      await channel.purgeQueue(d.queue);
      queues.push(d.queue);
      await channel.consume(
        d.queue,
        (msg) => {
          // null: the consumer cancelled (its queue deleted at the end).
          if (msg === null) return;
          const h = msg.properties.headers;
          d.runs.push({ id: String(h.id), entry: String(h.beat_entry), slotMs: Date.parse(String(h.beat_scheduled_at)) });
        },
        { noAck: true },
      );
      const config = join(dir, `${d.name}.json`);
      const schedule = Object.fromEntries(
        Array.from({ length: entries }, (_, i) => [`e${i}`, { task: 'bench.tick', schedule: 1, catchUp: 'all' }]),
      );
      writeFileSync(
        config,
        JSON.stringify({
          name: d.name,
          broker: { url: AMQP_URL },
          state: { url },
          taskDefaultQueue: d.queue,
          lock: { ttl: '3s', renewEvery: '1s', retryEvery: '200ms' },
          beatSchedule: schedule,
        }),
      );
      const beat = spawnTsbeat(config);
      beats.push(beat);
      if (!(await waitForLog(beat, /"beat\.lock\.acquired"/, 30_000)))
        throw new Error(`${d.name} did not lead: ${beat.logLines.join('\n')}`);
    }
    log(`cluster-shards: ${chosen.map((d) => `${d.name} → ${shardName.get(d.shard)}`).join(', ')}`);

    // CPU of each node, sampled until it dies: the last sample of a killed master counts.
    const cpu = new Map(nodes.map((n) => [n.port, { first: processCpuSeconds(n.child.pid), last: processCpuSeconds(n.child.pid) }]));
    const sampler = setInterval(() => {
      for (const n of nodes) {
        const now = processCpuSeconds(n.child.pid);
        if (now !== undefined) cpu.get(n.port).last = now;
      }
    }, 250);
    const t0 = Date.now();
    // The kill falls between the slots of the deployment whose master goes: a batch published to
    // RabbitMQ and not yet recorded when its master dies is published again (the AMQP broker's at
    // least once, the same task ids), which is not what this measures.
    await sleep(Math.max(0, t0 + (seconds * 1000) / 2 - Date.now()));
    await sleep(quietDelay(chosen[0].runs.map((r) => r.slotMs)));
    const victim = masterOf(await table(seed), chosen[0].slot);
    const killedAt = Date.now();
    nodes.find((n) => n.port === victim.port).child.kill('SIGKILL');
    const other = nodes.find((n) => n.port !== victim.port).port;
    const promoted = await until(
      'a replica promoted',
      async () => {
        const now = masterOf(await table(other), chosen[0].slot);
        return now && now.port !== victim.port ? now : undefined;
      },
      30_000,
    );
    const promotedAfter = Date.now() - killedAt;
    log(`cluster-shards: master ${victim.port} killed, replica ${promoted.port} promoted after ${promotedAfter} ms`);
    await sleep(Math.max(0, t0 + seconds * 1000 - Date.now()));
    clearInterval(sampler);
    const elapsed = (Date.now() - t0) / 1000;
    for (const b of beats) await stop(b);
    await sleep(1000);

    // Each shard's CPU: its master's and replica's.
    const shardCpu = new Map();
    for (const n of nodes) {
      const c = cpu.get(n.port);
      shardCpu.set(shardOf.get(n.port), (shardCpu.get(shardOf.get(n.port)) ?? 0) + (c.last - c.first));
    }
    const totalCpu = [...shardCpu.values()].reduce((a, b) => a + b, 0);
    const lines = [
      "| shard | deployments | CPU (s) | share of the cluster's CPU |",
      '|---|---|---|---|',
      ...[...shardCpu].map(
        ([id, s]) =>
          `| ${shardName.get(id)}${id === victim.id ? ', master killed' : ''} | ${chosen
            .filter((d) => d.shard === id)
            .map((d) => d.name)
            .join(', ')} | ${s.toFixed(2)} | ${((s / totalCpu) * 100).toFixed(0)} % |`,
      ),
    ];
    const deploymentLines = ['| deployment | runs | runs/s | duplicates | lost |', '|---|---|---|---|---|'];
    let duplicates = 0;
    let lost = 0;
    for (const d of chosen) {
      const ids = new Set();
      let dup = 0;
      let missing = 0;
      const byEntry = new Map();
      for (const r of d.runs) {
        if (ids.has(r.id)) dup += 1;
        ids.add(r.id);
        const list = byEntry.get(r.entry) ?? [];
        list.push(r.slotMs);
        byEntry.set(r.entry, list);
      }
      for (const slots of byEntry.values()) {
        const set = new Set(slots);
        dup += slots.length - set.size;
        const lo = Math.min(...slots);
        const hi = Math.max(...slots);
        for (let s = lo; s <= hi; s += 1000) if (!set.has(s)) missing += 1;
      }
      duplicates += dup;
      lost += missing;
      deploymentLines.push(
        `| ${d.name} (${shardName.get(d.shard)}) | ${d.runs.length.toLocaleString('en')} | ${Math.round(d.runs.length / elapsed).toLocaleString('en')} | ${dup} | ${missing} |`,
      );
    }
    return [
      BEGIN,
      `Date: ${new Date().toISOString()}; \`npm run bench -- --only cluster-shards\`: ${chosen.length} deployments of ${entries} one-second entries each (catchUp all), one \`beat run\` each, state and lock on a local Redis Cluster of 3 masters and 3 replicas (cluster-node-timeout 1 s), RabbitMQ as the broker; ${Math.round(elapsed)} s, the master of ${chosen[0].name}'s slot SIGKILLed at the half, between two of its slots (a kill during a publish has that batch sent again with the same task ids: docs/high-availability.md), and its replica promoted after ${promotedAfter} ms. CPU: each shard's redis-servers (master and replica, user + system from /proc) over the run. Duplicates and lost: over every entry's slots from its first to its last, as the queues received them.`,
      '',
      lines.join('\n'),
      '',
      deploymentLines.join('\n'),
      '',
      `Total: ${duplicates} duplicates, ${lost} lost.`,
      END,
    ].join('\n');
  } finally {
    for (const b of beats) await stop(b).catch(() => undefined);
    for (const q of queues) {
      await channel.deleteQueue(q).catch(() => undefined);
      await channel.deleteExchange(q).catch(() => undefined);
    }
    await connection.close().catch(() => undefined);
    for (const n of nodes) n.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** bench/RESULTS.md with the cluster-shards section put in (or replaced). */
export function withClusterShardsSection(text, generated) {
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + generated + text.slice(end + END.length);
  const running = text.indexOf('\n## Running the benchmarks');
  const section = `## Deployments over the shards of a Redis Cluster (issue 50)\n\n${generated}\n`;
  return running < 0 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, running)}\n${section}${text.slice(running)}`;
}
