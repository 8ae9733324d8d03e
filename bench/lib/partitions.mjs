// The partitions workload (issue 34, `npm run bench -- --only partitions`): N runtime entries over R
// `beat run` replicas with `partitions: P`, on one private redis-server:
//   seed       the entries written through the TypeScript client (million.mjs's seed), then
//              `beat partitions set P --yes` (the count recorded, the partition index built)
//   start      spawn → every partition led (each partition's lock held by its leader's token), then
//              → balanced (every replica leading ⌊P/R⌋ or ⌈P/R⌉, unchanged for 3 s) → every entry
//              held (the replicas' tsbeat_entries_held add up to N); then each replica's RSS and
//              idle CPU, and the partitions and entries it holds
//   burst      every entry due at one instant (a crontab every BURST_EVERY_MIN minutes, the first
//              after the replicas are balanced and warmed up): the last message's arrival, every
//              message read back and counted per entry for that slot (duplicates, lost)
//   kill       with --partitions-kill, the replica leading partition 0 is SIGKILLed once a tenth of
//              the burst is out: how long until every one of its partitions is led again, and the
//              burst finished by the others
// Who leads each partition is read from Redis (the lock's token against the leader record), not
// from the replicas' logs. Printed only: the figures go into RESULTS.md by hand, beside the million
// table of one process (the issue compares each replica with a quarter of it).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countByEntry, memoryOf, privateRedis, seed } from './million.mjs';
import { redisNowMs, watchArrivals } from './redis-clock.mjs';
import { CLI, processCpuSeconds, spawnTsbeat, tempDir } from './procs.mjs';

const DEPLOYMENT = 'million';
const BURST_EVERY_MIN = 3;

/** The process id in a replica's instance id ("<host>:<pid>:<random>"). */
const pidOfInstance = (instance) => Number(instance.split(':').at(-2));

/** The pid leading each partition now (undefined where the lock is free or its record is a dead leader's). */
async function leadersByPid(redis, partitions) {
  const pipe = redis.pipeline();
  for (let p = 0; p < partitions; p += 1) {
    const tag = partitions === 1 ? DEPLOYMENT : `${DEPLOYMENT}/${p}`;
    pipe.get(`tsbeat:{${tag}}:lock`);
    pipe.hmget(`tsbeat:{${tag}}:leader`, 'instance', 'token');
  }
  const replies = await pipe.exec();
  return Array.from({ length: partitions }, (_, p) => {
    const lock = replies[2 * p][1];
    const [instance, token] = replies[2 * p + 1][1];
    return lock === null || instance === null || token !== lock ? undefined : pidOfInstance(instance);
  });
}

const countsOf = (leaders, pids) => pids.map((pid) => leaders.filter((l) => l === pid).length);

/** Polls every 100 ms until `done(leaders)`; the Redis time it first held, or undefined after `timeoutMs`. */
async function leadersUntil(redis, partitions, done, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leaders = await leadersByPid(redis, partitions);
    if (done(leaders)) return { at: await redisNowMs(redis), leaders };
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/** A gauge of the replica's /metrics (tsbeat_entries_held: the entries its leading partitions schedule). */
async function gaugeOf(child, name) {
  const line = child.logLines.find((l) => l.includes('"beat.http.listen'));
  const port = line === undefined ? undefined : /"port":(\d+)/.exec(line)?.[1];
  if (port === undefined) return undefined;
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const found = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return found === null ? undefined : Number(found[1]);
  } catch {
    return undefined;
  }
}

/** One run: R replicas over P partitions holding N entries. Returns the figures. */
export async function partitionsRun({ n, replicas, partitions, kill, log }) {
  const redis = await privateRedis();
  const dir = tempDir('bench-partitions-');
  const children = [];
  try {
    const seedStarted = performance.now();
    await seed(redis.url, n, { minute: `*/${BURST_EVERY_MIN}`, hour: '*' });
    const seedMs = performance.now() - seedStarted;
    log(`partitions ${n}/${replicas}x${partitions}: seeded in ${(seedMs / 1000).toFixed(1)} s`);
    const config = join(dir, 'beat.config.json');
    writeFileSync(config, JSON.stringify({ name: DEPLOYMENT, partitions, broker: { url: redis.url } }));
    // The store was written before the deployment recorded a count: `beat partitions set` records it
    // and builds the partition index once, as an operator does before starting the replicas (without
    // it the first replicas build it, and their first take-over waits for the build).
    const setStarted = performance.now();
    execFileSync(process.execPath, [CLI, 'partitions', 'set', String(partitions), '--yes', '--config', config], { stdio: 'ignore' });
    const setMs = performance.now() - setStarted;
    log(`partitions: \`beat partitions set ${partitions}\` (the index built) in ${s(setMs)}`);
    const spawnedAt = await redisNowMs(redis.client);
    for (let i = 0; i < replicas; i += 1) children.push(spawnTsbeat(config, ['--http', '127.0.0.1:0']));
    const pids = children.map((c) => c.pid);
    const allLed = await leadersUntil(redis.client, partitions, (l) => l.every((pid) => pid !== undefined), 600_000);
    const floor = Math.floor(partitions / replicas);
    let balancedSince;
    const balanced = await leadersUntil(
      redis.client,
      partitions,
      (l) => {
        const even = l.every((pid) => pid !== undefined) && countsOf(l, pids).every((c) => c === floor || c === floor + 1);
        if (!even) balancedSince = undefined;
        else balancedSince ??= Date.now();
        return even && Date.now() - balancedSince >= 3000;
      },
      // A build that does not spread the partitions (the first replica takes every lock) never is.
      120_000,
    );
    const balancedAt = balanced === undefined ? undefined : balanced.at - 3000;
    log(
      `partitions: every partition led ${s(allLed?.at - spawnedAt)} after the spawn, balanced ${s(balancedAt - spawnedAt)} (${balanced ? countsOf(balanced.leaders, pids).join('/') : 'never'})`,
    );
    // The entries each replica holds (its tsbeat_entries_held) once together they hold every entry
    // (a partition is led before its entries are read), then its RSS and idle CPU over 5 s.
    let held = [];
    let heldAt;
    for (const until = Date.now() + 180_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      held = await Promise.all(children.map((c) => gaugeOf(c, 'tsbeat_entries_held')));
      if (held.reduce((sum, v) => sum + (v ?? 0), 0) >= n) {
        heldAt = await redisNowMs(redis.client);
        break;
      }
    }
    log(`partitions: every entry held ${heldAt === undefined ? 'never (3 min)' : `${s(heldAt - spawnedAt)} after the spawn`}`);
    const afterStart = children.map((c) => memoryOf(c.pid));
    const cpu0 = children.map((c) => processCpuSeconds(c.pid));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const idle = children.map((c, i) => ((processCpuSeconds(c.pid) - cpu0[i]) / ((performance.now() - t0) / 1000)) * 100);
    // The burst: the first slot at least 20 s away (the warm-up wants its 11 s).
    const period = BURST_EVERY_MIN * 60_000;
    const now = await redisNowMs(redis.client);
    let at = Math.ceil(now / period) * period;
    if (at - now < 20_000) at += period;
    log(`partitions: burst at ${new Date(at).toISOString()}`);
    await new Promise((r) => setTimeout(r, Math.max(0, at - 3000 - Date.now())));
    await redis.client.del('celery');
    const cpuAt = new Array(replicas);
    let redisCpuAt;
    const cpuTimer = setTimeout(
      () => {
        children.forEach((c, i) => (cpuAt[i] = processCpuSeconds(c.pid)));
        redisCpuAt = processCpuSeconds(redis.pid);
      },
      Math.max(0, at - Date.now()),
    );
    let killed;
    if (kill) {
      while ((await redis.client.llen('celery')) < n / 10) await new Promise((r) => setTimeout(r, 5));
      const victim = (await leadersByPid(redis.client, partitions))[0];
      const index = pids.indexOf(victim);
      const theirs = (await leadersByPid(redis.client, partitions)).flatMap((pid, p) => (pid === victim ? [p] : []));
      children[index].kill('SIGKILL');
      const killedAt = await redisNowMs(redis.client);
      const outAtKill = await redis.client.llen('celery');
      const taken = await leadersUntil(
        redis.client,
        partitions,
        (l) => theirs.every((p) => l[p] !== undefined && l[p] !== victim),
        120_000,
      );
      killed = {
        index,
        partitions: theirs,
        killMs: killedAt - at,
        outAtKill,
        takenMs: taken === undefined ? undefined : taken.at - killedAt,
      };
      log(
        `partitions: replica ${index} (pid ${victim}) SIGKILLed ${s(killed.killMs)} after the instant, its ${theirs.length} partitions led again ${s(killed.takenMs)} later`,
      );
    }
    const arrivals = await watchArrivals(redis.client, ['celery'], n, at - Date.now() + 300_000);
    clearTimeout(cpuTimer);
    const burstCpu = children.map((c, i) => (killed?.index === i ? undefined : processCpuSeconds(c.pid) - cpuAt[i]));
    const redisBurstCpu = redisCpuAt === undefined ? undefined : processCpuSeconds(redis.pid) - redisCpuAt;
    const peak = children.map((c, i) => (killed?.index === i ? undefined : memoryOf(c.pid)?.peakMB));
    const counted = await countByEntry(redis.client, 'celery', n, at);
    log(`partitions: burst: ${arrivals.count} messages, last ${s(arrivals.last - at)} after the instant; ${JSON.stringify(counted)}`);
    return {
      n,
      replicas,
      partitions,
      seedMs,
      setMs,
      allLedMs: allLed === undefined ? undefined : allLed.at - spawnedAt,
      balancedMs: balancedAt === undefined ? undefined : balancedAt - spawnedAt,
      led: balanced === undefined ? undefined : countsOf(balanced.leaders, pids),
      held,
      heldMs: heldAt === undefined ? undefined : heldAt - spawnedAt,
      afterStartMB: afterStart.map((m) => m?.rssMB),
      idle,
      burstLastMs: arrivals.last === undefined ? undefined : arrivals.last - at,
      burstCpu,
      redisBurstCpu,
      peakMB: peak,
      killed,
      counted,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const s = (ms) => (ms === undefined || Number.isNaN(ms) ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
const each = (values, f) => values.map((v) => (v === undefined ? '—' : f(v))).join(', ');

/** The run's table, one row per figure, the replicas' figures listed in order. */
export function partitionsTable(r) {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return [
    `${new Date().toISOString()}; load average ${load} after. ${r.n.toLocaleString('en')} runtime entries, ${r.replicas} replicas, \`partitions: ${r.partitions}\`, one private redis-server.`,
    '',
    '| | figure |',
    '|---|---|',
    `| seeding (client setMany, 10,000 a call) | ${s(r.seedMs)} |`,
    `| \`beat partitions set ${r.partitions} --yes\` (records the count, builds the partition index) | ${s(r.setMs)} |`,
    `| spawn → every partition led / → balanced (partitions each leads) | ${s(r.allLedMs)} / ${s(r.balancedMs)} (${r.led?.join(', ') ?? '—'}) |`,
    `| spawn → every entry held (read by its partition's leader) | ${r.heldMs === undefined ? 'never (3 min)' : s(r.heldMs)} |`,
    `| entries each holds (its tsbeat_entries_held) | ${each(r.held, (v) => v.toLocaleString('en'))} |`,
    `| RSS once every entry is held | ${each(r.afterStartMB, (v) => `${Math.round(v)} MB`)} |`,
    `| idle CPU over the next 5 s | ${each(r.idle, (v) => `${v.toFixed(1)} %`)} |`,
    ...(r.killed
      ? [
          `| replica SIGKILLed mid-burst: out at the kill / its time after the instant | ${r.killed.outAtKill} / ${s(r.killed.killMs)} (replica ${r.killed.index}, partitions ${r.killed.partitions.join(', ')}) |`,
          `| its partitions led again after the kill | ${s(r.killed.takenMs)} |`,
        ]
      : []),
    `| burst: last message after the instant | ${s(r.burstLastMs)} |`,
    `| burst CPU of each replica | ${each(r.burstCpu, (v) => `${v.toFixed(1)} s`)} |`,
    `| burst CPU of redis-server (a run: its µs) | ${r.redisBurstCpu === undefined ? '—' : `${r.redisBurstCpu.toFixed(1)} s (${((r.redisBurstCpu * 1e6) / r.n).toFixed(1)} µs)`} |`,
    `| peak RSS (VmHWM) | ${each(r.peakMB, (v) => `${Math.round(v)} MB`)} |`,
    `| messages, duplicates, lost per (entry, slot) | ${r.counted.total}, ${r.counted.duplicates}, ${r.counted.lost} |`,
  ].join('\n');
}
