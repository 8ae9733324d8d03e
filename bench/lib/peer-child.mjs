#!/usr/bin/env node
// The child processes of bench/peer-bursts.mjs, one role each, so that each one's CPU and peak
// memory are its own (/proc/PID):
//   list-consumer URL LIST    reads a Celery queue's Redis list (tsbeat's and celery beat's messages)
//   bullmq-define URL SPEC    upserts job schedulers (BullMQ's public Queue API), then exits
//   bullmq-worker URL         a BullMQ Worker: the consumer, and the promoter of BullMQ's due jobs
// Receipt is the same for all: the moment the consumer holds the message or the job (for the
// Worker, its processor is called), read from this host's clock, which is also Redis's.
// The parent talks over the IPC channel: the child sends {ready} once it consumes or has defined,
// and answers {report} with what it received.
import { Redis } from 'ioredis';
import { Queue, Worker } from 'bullmq';

const [role, url, ...rest] = process.argv.slice(2);
const nowMs = () => performance.timeOrigin + performance.now();
/** The parent's questions answered from the running state (`report` below). */
let report = () => ({});
process.on('message', (message) => {
  if (message === 'report') process.send({ report: report() });
});
// A bench stopped halfway leaves no consumer behind.
process.on('disconnect', () => process.exit(0));

/** The task (BullMQ: job name) whose runs' lateness is kept; the others are counted only. */
const TICK = 'bench.tick';

/**
 * Every receipt counted, with the first and last, in all and by the instant the run was scheduled
 * for (`slots`: a burst's runs apart from a previous minute's that are still arriving); the
 * lateness of the tick's runs kept one by one.
 */
function receipts() {
  const state = { count: 0, first: undefined, last: undefined, slots: {}, lateness: [] };
  const count = (bucket, at) => {
    bucket.count += 1;
    bucket.first ??= at;
    bucket.last = at;
  };
  return {
    state,
    add(at, scheduledMs, tick) {
      count(state, at);
      count((state.slots[scheduledMs] ??= { count: 0, first: undefined, last: undefined }), at);
      if (tick) state.lateness.push({ at, lateMs: at - scheduledMs });
    },
  };
}

/** The slot a tsbeat message states (its beat_scheduled_at header), found without parsing the whole message. */
function statedSlot(raw) {
  const at = raw.indexOf('"beat_scheduled_at":"');
  if (at < 0) return undefined;
  const from = at + '"beat_scheduled_at":"'.length;
  return Date.parse(raw.slice(from, raw.indexOf('"', from)));
}

if (role === 'list-consumer') {
  const [list] = rest;
  const redis = new Redis(url);
  const got = receipts();
  report = () => got.state;
  process.send({ ready: true });
  // BLMPOP takes up to 1,000 messages a call: the consumer is not what limits the rate. Each
  // message's receipt is the reply's arrival.
  for (;;) {
    const reply = await redis.call('BLMPOP', '1', '1', list, 'RIGHT', 'COUNT', '1000');
    if (reply === null) continue;
    const at = nowMs();
    // celery beat's messages state no slot: they count for the minute they arrive in (its bursts
    // here are of schedules due at whole minutes, and take less than a minute).
    for (const raw of reply[1]) got.add(at, statedSlot(raw) ?? Math.floor(at / 60_000) * 60_000, raw.includes(`"task":"${TICK}"`));
  }
} else if (role === 'bullmq-define') {
  // groups: [{ id, name, count, repeat }]: `count` schedulers `<id><k>` running job `name`.
  const { prefix, queue: name, groups } = JSON.parse(rest[0]);
  const queue = new Queue(name, { connection: { url }, prefix });
  const started = nowMs();
  for (const group of groups) {
    // A thousand calls in flight at a time, as a team's start-up would define them.
    for (let i = 0; i < group.count; i += 1000) {
      const batch = [];
      for (let k = i; k < Math.min(group.count, i + 1000); k += 1)
        batch.push(
          queue.upsertJobScheduler(`${group.id}${k}`, group.repeat, {
            name: group.name,
            data: { i: k },
            // Completed jobs go at once: what stays in Redis is the schedule, as for tsbeat.
            opts: { removeOnComplete: true, removeOnFail: true },
          }),
        );
      await Promise.all(batch);
    }
  }
  process.send({ ready: true, defineMs: nowMs() - started });
  await queue.close();
  // Stays (the IPC channel holds it) until the parent has read its peak memory and stops it.
} else if (role === 'bullmq-worker') {
  const [spec] = rest;
  const { prefix, queue: name, concurrency } = JSON.parse(spec);
  const got = receipts();
  report = () => got.state;
  const worker = new Worker(
    name,
    async (job) => {
      // The job's scheduled instant: a job scheduler's job id is `repeat:<scheduler id>:<its millis>`.
      got.add(nowMs(), Number(job.id.slice(job.id.lastIndexOf(':') + 1)), job.name === TICK);
    },
    { connection: { url }, prefix, concurrency, removeOnComplete: { count: 0 }, removeOnFail: { count: 0 } },
  );
  worker.on('error', (error) => process.stderr.write(`worker: ${error.message}\n`));
  await worker.waitUntilReady();
  process.send({ ready: true });
} else {
  process.stderr.write(`peer-child: unknown role ${role}\n`);
  process.exit(2);
}
