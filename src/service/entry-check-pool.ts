/**
 * The checks of `beat run`'s API writes (the schema's, the queue names', the schedules' cost),
 * run on a worker thread (src/entry-check-worker.ts) so that the scheduler's event loop never runs
 * them (docs/design.md, "Checks off the loop"). One thread, started at the first write that needs
 * it and kept for the next (a start costs tens of milliseconds and a schema compiled); jobs wait
 * their turn, each given its write's time. The thread stops itself between two entries once that
 * time is spent; one that overruns it by DEFAULTS.writeCheckStopMs is terminated, the outcomes it
 * posted kept, the rest refused unchecked as any write that ran out of time.
 */
import { Worker } from 'node:worker_threads';
import { DEFAULTS } from '../base/defaults.js';
import type { ConfigProblem } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { entryCheckWorkerUrl } from '../base/package-files.js';
import { yieldToLoop } from '../base/chunks.js';
import type { EntryChecker, EntryCheckJob, EntryCheckOutcomes, EntryCheckReply } from '../config/entry-checks.js';

/** Items per message to the thread: each is copied on this loop, ~1.5 ms for a thousand of a few hundred bytes. */
const POST_CHUNK = 1000;

interface Job {
  readonly id: number;
  readonly job: EntryCheckJob;
  readonly outcomes: (readonly ConfigProblem[])[];
  readonly resolve: (outcomes: EntryCheckOutcomes) => void;
  readonly reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

export class EntryCheckPool implements EntryChecker {
  private worker: Worker | undefined;
  /** Whether the thread has said it is loaded: jobs are posted from then on, each timed from its post. */
  private ready = false;
  private running: Job | undefined;
  private readonly waiting: Job[] = [];
  private lastId = 0;
  private closed = false;
  /** Threads started so far: one, unless one failed or was stopped for overrunning. */
  threadsStarted = 0;

  constructor(
    private readonly logger: Logger,
    private readonly options: {
      /** The thread's script (a test gives its own). */
      readonly url?: URL;
      /** How long past a job's time it may run before it is stopped, ms. */
      readonly stopMs?: number;
    } = {},
  ) {}

  check(job: EntryCheckJob): Promise<EntryCheckOutcomes> {
    if (this.closed) return Promise.reject(stopping());
    return new Promise((resolve, reject) => {
      this.lastId += 1;
      this.waiting.push({ id: this.lastId, job, outcomes: [], resolve, reject });
      this.next();
    });
  }

  /** Stops the thread; a job still waiting or running is refused. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    for (const job of [...(this.running === undefined ? [] : [this.running]), ...this.waiting.splice(0)]) {
      clearTimeout(job.timer);
      job.reject(stopping());
    }
    this.running = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  private get stopMs(): number {
    return this.options.stopMs ?? DEFAULTS.writeCheckStopMs;
  }

  private next(): void {
    if (this.running !== undefined || this.waiting.length === 0) return;
    const worker = this.thread();
    // Held while it works or loads (a write waits on it), let go of while idle: an idle thread keeps no process alive.
    worker.ref();
    if (!this.ready) return;
    const job = this.waiting.shift() as Job;
    this.running = job;
    job.timer = setTimeout(() => this.overran(job), Math.max(0, job.job.allowanceMs) + this.stopMs);
    void this.post(worker, job);
  }

  /** The job's context, then its items a chunk at a time with a turn of this loop between two. */
  private async post(worker: Worker, job: Job): Promise<void> {
    const { items, ...context } = job.job;
    worker.postMessage({ id: job.id, job: context });
    for (let from = 0; ; from += POST_CHUNK) {
      if (this.running !== job || this.worker !== worker) return;
      const last = from + POST_CHUNK >= items.length;
      worker.postMessage({ id: job.id, items: items.slice(from, from + POST_CHUNK), last });
      if (last) return;
      await yieldToLoop();
    }
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(this.options.url ?? entryCheckWorkerUrl);
    this.ready = false;
    this.threadsStarted += 1;
    // A thread stopped for overrunning may still post: only the current one's replies count.
    worker.on('message', (reply: EntryCheckReply) => {
      if (this.worker === worker) this.replied(reply);
    });
    worker.on('error', (error) => this.lost(worker, error));
    worker.on('exit', (code) => this.lost(worker, new Error(`the entry checks' worker thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private replied(reply: EntryCheckReply): void {
    if (reply.ready === true) {
      this.ready = true;
      this.next();
      return;
    }
    const job = this.running;
    if (job === undefined || reply.id !== job.id) return;
    for (const outcome of reply.outcomes) job.outcomes.push(outcome);
    if (reply.error !== undefined) this.finish(job, new Error(`the entry checks failed: ${reply.error}`));
    else if (reply.done === true) this.finish(job);
  }

  /** The job ran past its time and the stop's margin: the thread is stopped, the job answered with what it found. */
  private overran(job: Job): void {
    if (this.running !== job) return;
    this.logger.warn(
      { event: EVENTS.apiCheckStopped, overranMs: this.stopMs, checked: job.outcomes.length, items: job.job.items.length },
      'the checks of a write overran its time; their worker thread was stopped',
    );
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) void worker.terminate();
    this.finish(job);
  }

  /** The thread failed (it could not load, it threw outside a job) or exited: the running job fails, the next starts another. */
  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (this.running !== undefined) this.finish(this.running, error);
    // One that never loaded (its file missing, say): the writes that wait for it fail with it, none waits for ever.
    else for (const job of this.waiting.splice(0)) job.reject(error);
  }

  private finish(job: Job, error?: Error): void {
    clearTimeout(job.timer);
    this.running = undefined;
    if (error === undefined) job.resolve(job.outcomes);
    else job.reject(error);
    this.worker?.unref();
    this.next();
  }
}

function stopping(): Error {
  return new Error('the entry checks were stopped: beat run is stopping');
}
