/**
 * The worker thread that checks the definitions `beat run` is asked to write over HTTP (started by
 * service/entry-check-pool.ts; the build bundles it as dist/entry-check-worker.js): the same pure
 * checks as a write makes in one process (config/entry-checks.ts), here so that the scheduler's
 * event loop never runs them. A job comes as its context then its items in chunks; its outcomes
 * are posted as they come, a few at a time, so that a pool that stops the thread for overrunning
 * its time keeps what was found. The thread says it is ready once loaded and warm (the entry schema
 * compiled), so that a job's time is its own.
 */
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { ConfigProblem } from './base/errors.js';
import { parseEntryDefinition, setEntryLimits } from './config/entry-definition.js';
import { checkEntries } from './config/entry-checks.js';
import type { EntryCheckItem, EntryCheckJob, EntryCheckReply, EntryCheckRequest } from './config/entry-checks.js';

/** Outcomes gathered for this long before they are posted: each message is a turn of the scheduler's loop. */
const POST_EVERY_MS = 20;

const port = parentPort;
let job: Omit<EntryCheckJob, 'items'> | undefined;
let items: EntryCheckItem[] = [];

function run(id: number, whole: EntryCheckJob): void {
  const startedMs = performance.now();
  let postedMs = startedMs;
  let outcomes: (readonly ConfigProblem[])[] = [];
  const post = (last: Partial<EntryCheckReply>): void => {
    port?.postMessage({ id, outcomes, ...last } satisfies EntryCheckReply);
    outcomes = [];
  };
  try {
    setEntryLimits(whole.limits);
    checkEntries(
      whole,
      () => performance.now() - startedMs,
      (problems) => {
        outcomes.push(problems);
        const nowMs = performance.now();
        if (nowMs - postedMs < POST_EVERY_MS) return;
        postedMs = nowMs;
        post({});
      },
    );
    post({ done: true });
  } catch (error) {
    post({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}

port?.on('message', (request: EntryCheckRequest) => {
  if ('job' in request) {
    job = request.job;
    items = [];
    return;
  }
  for (const item of request.items) items.push(item);
  if (!request.last || job === undefined) return;
  const whole = { ...job, items };
  job = undefined;
  items = [];
  run(request.id, whole);
});

/**
 * The thread yields the CPU to the scheduler's: on a machine with few cores and many processes the
 * two would otherwise share one core as equals, and the scheduler's slots wait their turn (Linux
 * sets a thread's nice value by its id, read from /proc/thread-self; elsewhere it keeps the process's).
 */
function yieldCpu(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, constants.priority.PRIORITY_LOW);
  } catch {
    // Not Linux, or no /proc: the thread runs at the process's priority.
  }
}

yieldCpu();
// The schema is compiled on the first parse: done here, before the first job's time runs.
parseEntryDefinition({ task: 'warm.up', schedule: 60 });
port?.postMessage({ id: 0, outcomes: [], ready: true } satisfies EntryCheckReply);
