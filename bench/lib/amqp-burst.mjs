// The `amqp-burst` workload of bench/run.mjs: tsbeat's burst (N crontab entries due at one minute)
// published to RabbitMQ instead of Redis, the row beside Redis's and SQS's in bench/RESULTS.md.
//
// RabbitMQ is the shared one at 127.0.0.1:5672 (guest/guest, the tests' broker); the burst goes
// to a queue of its own name (bench-burst-PID-N), deleted afterwards. tsbeat's state and lock live
// in a private redis-server on a free port, not in the shared Redis the tests use. Arrival times
// are when this process, consuming the queue without acks, received each message: RabbitMQ has no
// clock to ask, and the consumer runs on the same cores as tsbeat and RabbitMQ.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { freePort, processCpuSeconds, spawnTsbeat, stop } from './procs.mjs';

export const AMQP_BENCH_URL = 'amqp://guest:guest@127.0.0.1:5672/';

/** A redis-server of its own, nothing on disk; resolves once it accepts connections. */
async function privateRedis(dir) {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 15_000);
    child.stdout.on('data', (c) => {
      output += c;
      if (/Ready to accept/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  return { url: `redis://127.0.0.1:${port}/0`, child };
}

/**
 * One burst of `n`: returns first and last arrival after the instant (ms), the count, and the
 * CPU seconds tsbeat used from a second before the instant to the last arrival.
 */
export async function amqpBurst(n, log) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-amqp-burst-'));
  const queue = `bench-burst-${process.pid}-${n}`;
  const redis = await privateRedis(dir);
  const connection = await amqp.connect(AMQP_BENCH_URL);
  let beat;
  try {
    const channel = await connection.createChannel();
    // Declared as tsbeat declares Celery's queue (durable, no arguments), so both agree.
    await channel.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
    await channel.purgeQueue(queue);
    const at = Math.ceil((Date.now() + (n >= 100_000 ? 25_000 : 12_000)) / 60_000) * 60_000;
    const d = new Date(at);
    const entries = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [
        `e${i}`,
        { task: 'bench.burst', schedule: { crontab: { minute: d.getUTCMinutes(), hour: d.getUTCHours() } } },
      ]),
    );
    const config = join(dir, 'beat.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        name: `amqpburst${n}`,
        broker: { url: AMQP_BENCH_URL },
        state: { url: redis.url },
        taskDefaultQueue: queue,
        beatSchedule: entries,
      }),
    );
    let first;
    let last;
    let count = 0;
    let done;
    const all = new Promise((resolve) => (done = resolve));
    await channel.consume(
      queue,
      () => {
        const now = Date.now();
        first ??= now;
        count += 1;
        if (count === n) {
          last = now;
          done();
        }
      },
      { noAck: true },
    );
    beat = spawnTsbeat(config);
    let cpuBefore;
    const sampler = setInterval(() => {
      if (cpuBefore === undefined && Date.now() > at - 1000) cpuBefore = processCpuSeconds(beat.pid);
    }, 50);
    log(`amqp burst ${n} at ${d.toISOString()} (in ${Math.round((at - Date.now()) / 1000)} s), queue ${queue}`);
    let timer;
    await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, at - Date.now() + 120_000)))]);
    clearTimeout(timer);
    clearInterval(sampler);
    const cpu = cpuBefore === undefined ? undefined : processCpuSeconds(beat.pid) - cpuBefore;
    // The queue and the exchange tsbeat declared for it (Celery's: one direct exchange per queue name).
    await channel.deleteQueue(queue);
    await channel.deleteExchange(queue).catch(() => undefined);
    return {
      first: first === undefined ? undefined : first - at,
      last: last === undefined ? undefined : last - at,
      count,
      cpu,
      errors: beat.logLines.filter((l) => l.includes('error')).slice(0, 5),
    };
  } finally {
    if (beat !== undefined) await stop(beat);
    await connection.close().catch(() => undefined);
    redis.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
