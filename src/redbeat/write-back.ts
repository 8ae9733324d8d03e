/**
 * After each run of a RedBeat entry, what RedBeat's own beat writes (RedBeatSchedulerEntry
 * ._next_instance): `meta` = { last_run_at, total_run_count + 1 } and the entry's next due time as
 * its score in `<prefix>:schedule` (-1 when its schedule has run out), so that RedBeat's tools and
 * Python code reading the keys see tsbeat's runs. last_run_at is when the run was published, as
 * RedBeat records it (its `now` when it sends), written as a UTC datetime.
 *
 * Off the publishing path: runs are queued and written in one script call per batch after the
 * publish returned (redbeat-meta.lua); a failure is logged and does not stop or repeat a run.
 * Exactly-once stays on tsbeat's own fenced state; these keys are a report for RedBeat's readers.
 */
import type { Redis } from 'ioredis';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { nextFires } from '../core/schedule.js';
import type { PublishedRun } from '../ports/events.js';
import type { RedBeatKeys } from './keys.js';
import { withRedBeatScripts } from './scripts.js';
import { encodeDatetime, pythonJson } from './typed-json.js';

/** Runs per script call: keeps each call short on a busy Redis. */
const BATCH = 500;

interface PendingRun {
  readonly name: string;
  readonly lastRunText: string;
  readonly score: string;
}

export class RedBeatWriteBack {
  private pending: PendingRun[] = [];
  private flushing: Promise<void> | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly client: Redis,
    private readonly keys: RedBeatKeys,
    private readonly logger: Logger,
  ) {}

  /** A run went out; returns at once. */
  published(run: PublishedRun, latenessMs: number): void {
    const { entry, slotMs } = run;
    if (entry.origin !== 'redbeat') return;
    const next = nextFires(entry.schedule, { zone: entry.timezone, afterMs: slotMs, anchorMs: slotMs }, 1)[0];
    this.pending.push({
      name: entry.name,
      lastRunText: pythonJson(encodeDatetime(slotMs + Math.max(0, latenessMs))),
      score: next === undefined ? '-1' : String(Math.floor(next / 1000)),
    });
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  /** Writes what is queued (waits for a write in progress). */
  async drain(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      const scripts = withRedBeatScripts(this.client);
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, BATCH);
        const keys = batch.map((run) => this.keys.entry(run.name));
        const args = batch.flatMap((run) => [run.lastRunText, run.score]);
        try {
          await scripts.redbeatMeta(1 + keys.length, this.keys.schedule, ...keys, ...args);
          this.lastError = undefined;
        } catch (error) {
          const message = errorMessage(error);
          if (message !== this.lastError) {
            this.logger.warn(
              { event: EVENTS.redbeatWriteFailed, err: error, entries: batch.length },
              "could not write RedBeat's meta and schedule after runs of RedBeat entries (the runs went out; RedBeat's keys show the last run before them)",
            );
          }
          this.lastError = message;
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}
