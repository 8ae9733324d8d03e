/**
 * After runs of RedBeat entries, what RedBeat's own beat writes (RedBeatSchedulerEntry
 * ._next_instance): `meta` = { last_run_at, total_run_count } and the entry's next due time as its
 * score in `<prefix>:schedule` (-1 when its schedule has run out), so that RedBeat's tools and
 * Python code reading the keys see tsbeat's runs. last_run_at is when the last run was published, as
 * RedBeat records it (its `now` when it sends), written as a UTC datetime.
 *
 * Off the publishing path: the entries that ran are queued and written in one script call per batch
 * after the publish returned (redbeat-meta.lua). What is written is re-derived from tsbeat's stored
 * state at the time of the write (its publish time and scheduled run count: absolute values, not
 * increments), so a batch that fails (Redis gone, "Stream isn't writeable" while it reconnects) is
 * kept and written again, with a growing delay, without counting a run twice; and a later run
 * writes everything since. Exactly-once stays on tsbeat's own fenced state; these keys are a report
 * for RedBeat's readers.
 */
import type { Redis } from 'ioredis';
import { within } from '../base/within.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { unreachableReason } from '../base/outages.js';
import { nextFires } from '../core/schedule.js';
import { revisionIncarnation } from '../ports/entry-source.js';
import type { PublishedRun } from '../ports/events.js';
import type { EntryState } from '../ports/state.js';
import { REDBEAT_INCARNATION_FIELD } from './keys.js';
import type { RedBeatKeys } from './keys.js';
import { withRedBeatScripts } from './scripts.js';
import { encodeDatetime, pythonJson } from './typed-json.js';

/** RedBeat's write-back after a failed write (Redis gone): tries again after this, doubled per failure... */
const REDBEAT_WRITE_RETRY_MIN_MS = 500;
/** ...up to this. */
const REDBEAT_WRITE_RETRY_MAX_MS = 30_000;
/** RedBeat's write-back: a call without a reply this long is given up on and tried again. */
const REDBEAT_WRITE_TIMEOUT_MS = 3000;

/** Entries per script call: keeps each call short on a busy Redis. */
const BATCH = 500;

/** The stored states of these entries (tsbeat's state hash), those that have one. */
export type ReadStates = (names: readonly string[]) => Promise<ReadonlyMap<string, EntryState>>;

interface PendingEntry {
  /** The next due time after the last run seen, epoch seconds ('-1': no more runs). */
  readonly score: string;
  /** The incarnation the run was of ('' when unknown): RedBeat's marker, and the state's `g` without its kind. */
  readonly marker: string;
}

export class RedBeatWriteBack {
  private pending = new Map<string, PendingEntry>();
  private flushing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private lastError: string | undefined;
  private stopped = false;

  constructor(
    private readonly client: Redis,
    private readonly keys: RedBeatKeys,
    private readonly readStates: ReadStates,
    private readonly logger: Logger,
  ) {}

  /** A run went out; returns at once. */
  published(run: PublishedRun, _latenessMs: number): void {
    const { entry, slotMs } = run;
    if (entry.origin !== 'redbeat') return;
    const next = nextFires(entry.schedule, { zone: entry.timezone, afterMs: slotMs, anchorMs: slotMs }, 1)[0];
    const incarnation = revisionIncarnation(entry.revision);
    this.pending.set(entry.name, {
      score: next === undefined ? '-1' : String(Math.floor(next / 1000)),
      marker: incarnation?.startsWith('r') === true ? incarnation.slice(1) : '',
    });
    if (this.retry === undefined) this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  /** Writes what is queued (waits for a write in progress); one try, whatever a retry timer says. */
  async drain(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    while (this.flushing !== undefined) await this.flushing;
    if (this.pending.size > 0) {
      this.flushing = this.flush();
      await this.flushing;
    }
  }

  private async flush(): Promise<void> {
    try {
      const scripts = withRedBeatScripts(this.client);
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, BATCH);
        for (const [name] of batch) this.pending.delete(name);
        try {
          const states = await writeWithin(this.readStates(batch.map(([name]) => name)));
          const keys: string[] = [];
          const args: string[] = [REDBEAT_INCARNATION_FIELD];
          for (const [name, { score, marker }] of batch) {
            const state = states.get(name);
            const at = state?.publishedAtMs;
            // No run stored (yet), or the state of another incarnation: nothing of this one to report.
            if (state === undefined || at === undefined) continue;
            if (state.incarnation !== undefined && marker !== '' && state.incarnation !== `r${marker}`) continue;
            keys.push(this.keys.entry(name));
            // Scheduled runs only: manual runs (`beat trigger`) are not RedBeat's to count.
            args.push(pythonJson(encodeDatetime(at)), score, String(state.runCount - (state.manualRuns ?? 0)), marker);
          }
          if (keys.length > 0) await writeWithin(scripts.redbeatMeta(1 + keys.length, this.keys.schedule, ...keys, ...args));
          if (this.lastError !== undefined)
            this.logger.info({ event: EVENTS.redbeatWritten }, "RedBeat's meta and schedule written again after runs");
          this.lastError = undefined;
          this.retryMs = 0;
        } catch (error) {
          // Kept for the next try, unless a later run of the entry queued it again meanwhile.
          for (const [name, entry] of batch) if (!this.pending.has(name)) this.pending.set(name, entry);
          const message = errorMessage(error);
          if (message !== this.lastError) {
            // Not reached: the connection says so itself, once per outage (beat.redis.down). The write
            // can fail before that line opens the outage (a cut connection fails its commands at once,
            // and the outage opens at the reconnect's first refusal), so it is not left to the logger.
            const level = unreachableReason(error) === undefined ? 'warn' : 'debug';
            this.logger[level](
              { event: EVENTS.redbeatWriteFailed, err: error, entries: batch.length },
              "could not write RedBeat's meta and schedule after runs of RedBeat entries (the runs went out); retrying",
            );
          }
          this.lastError = message;
          this.retryLater();
          return;
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Tries again after REDBEAT_WRITE_RETRY_MIN_MS, doubled per failure up to REDBEAT_WRITE_RETRY_MAX_MS. */
  private retryLater(): void {
    if (this.stopped) return;
    this.retryMs = Math.min(REDBEAT_WRITE_RETRY_MAX_MS, this.retryMs === 0 ? REDBEAT_WRITE_RETRY_MIN_MS : this.retryMs * 2);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.flushing ??= this.flush();
    }, this.retryMs);
    this.retry.unref();
  }
}

/**
 * A write-back call, bounded by REDBEAT_WRITE_TIMEOUT_MS: a command sent just before its
 * connection dropped waits in ioredis for a reconnect that may be long in coming, and would hold
 * every later write-back behind it. Given up on, it is tried again; the values are absolute, so the
 * first one landing late writes nothing the retry does not write again.
 */
function writeWithin<T>(call: Promise<T>): Promise<T> {
  return within(call, REDBEAT_WRITE_TIMEOUT_MS, (): never => {
    throw new Error(`no reply from Redis within ${String(REDBEAT_WRITE_TIMEOUT_MS)} ms`);
  });
}
