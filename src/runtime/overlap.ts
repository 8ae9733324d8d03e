/**
 * Overlap policies: what becomes of a slot that comes due while the entry's previous run has not
 * finished. "allow" publishes it (Celery's behaviour); "skip" passes it over; "bufferOne" keeps it
 * and publishes it once the previous run finishes, passing over the slots that came meanwhile.
 *
 * "Finished" is what the outcome tracker knows (RunningRuns): a final state in the result backend
 * (or a task event), or `unknown` after outcomeTimeout; with `overlapTimeout`, a previous run
 * published longer ago counts as lost. The decisions change the entry book (pass over, buffer,
 * release) and are logged and reported as missed slots (reason `overlap`); nothing here waits.
 */
import { EVENTS } from '../base/log-events.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { DuePlan } from '../core/due.js';
import type { RunRecord, RunningRuns } from '../ports/outcomes.js';
import { formatInstant } from '../time/zone.js';
import type { BookEntry, Due, EntryBook } from './entry-book.js';
import type { RunLogOptions } from './run-log.js';

/** A buffered run to publish now. */
export interface Released {
  readonly held: BookEntry;
  readonly slotMs: number;
}

export class OverlapGate {
  /** Entries told once that their policy has no effect here (no outcomes). */
  private readonly untrackedSaid = new Set<string>();

  /** `runs` is undefined when this instance follows no outcomes: every policy then publishes. */
  constructor(
    private readonly runs: RunningRuns | undefined,
    private readonly log: RunLogOptions,
  ) {}

  /**
   * The part of `due.plan` to publish now, or undefined when nothing is (its slots were passed over
   * or buffered, on the book). An entry that may not overlap runs one slot per wake-up: the next,
   * found due at once, meets a running previous run and follows the policy.
   */
  admit(book: EntryBook, due: Due, nowMs: number): DuePlan | undefined {
    const { held, plan } = due;
    const { entry } = held;
    const first = plan.slots[0];
    if (entry.overlap === 'allow' || first === undefined) return plan;
    const previous = this.previous(entry, nowMs);
    if (previous === undefined) return plan.slots.length > 1 ? { ...plan, slots: [first] } : plan;
    const fields = { entry: entry.name, task: entry.task, previous: previous.taskId, state: previous.state };
    if (entry.overlap === 'skip') {
      const last = plan.slots[plan.slots.length - 1] as number;
      book.passOver(held, last);
      this.log.logger.info(
        { event: EVENTS.overlapSkip, ...fields, slot: formatInstant(first, entry.timezone), slots: plan.slots.length },
        `the previous run (${previous.taskId}, ${previous.state}) has not finished: slot skipped (overlap "skip")`,
      );
      this.log.events.missed({ entry, count: plan.slots.length, reason: 'overlap', firstSlotMs: first, atMs: nowMs });
      return undefined;
    }
    book.buffer(held, first);
    this.log.logger.info(
      { event: EVENTS.overlapBuffer, ...fields, slot: formatInstant(first, entry.timezone) },
      `the previous run (${previous.taskId}, ${previous.state}) has not finished: slot kept until it does (overlap "bufferOne")`,
    );
    return undefined;
  }

  /**
   * Takes off the book the buffered runs whose previous run has finished (or counts as lost, or
   * whose entry now allows overlap), to publish now; the slots they passed over are reported.
   */
  release(book: EntryBook, nowMs: number): Released[] {
    const out: Released[] = [];
    for (const held of book.buffered()) {
      const { entry } = held;
      if (entry.overlap !== 'allow' && this.previous(entry, nowMs) !== undefined) continue;
      const { slotMs, passed, firstPassedMs } = book.releaseBuffered(held, nowMs);
      this.log.logger.info(
        { event: EVENTS.overlapRelease, entry: entry.name, task: entry.task, slot: formatInstant(slotMs, entry.timezone), passed },
        passed === 0
          ? 'the previous run finished: publishing the buffered slot'
          : `the previous run finished: publishing the buffered slot; ${passed} later slot${passed === 1 ? '' : 's'} passed over (overlap "bufferOne")`,
      );
      if (passed > 0 && firstPassedMs !== undefined)
        this.log.events.missed({ entry, count: passed, reason: 'overlap', firstSlotMs: firstPassedMs, atMs: nowMs });
      out.push({ held, slotMs });
    }
    return out;
  }

  /** The entry's previous run if it still counts as running at `nowMs`. */
  private previous(entry: ResolvedEntry, nowMs: number): RunRecord | undefined {
    // A runtime entry is not checked against the config as a file's is (beat check refuses both).
    if (this.runs === undefined || entry.options.ignoreResult === true) {
      if (!this.untrackedSaid.has(entry.name)) {
        this.untrackedSaid.add(entry.name);
        this.log.logger.warn(
          { event: EVENTS.overlapUntracked, entry: entry.name, overlap: entry.overlap },
          this.runs === undefined
            ? `overlap "${entry.overlap}" has no effect: this instance does not follow run outcomes; set resultBackend to the workers' result backend, or taskEvents`
            : `overlap "${entry.overlap}" has no effect: the entry's options.ignoreResult is true, so its runs are not followed; remove one of them`,
        );
      }
      return undefined;
    }
    const run = this.runs.unfinishedRun(entry.name);
    if (run === undefined) return undefined;
    const ageMs = nowMs - run.publishedAtMs;
    if (entry.overlapTimeoutMs !== undefined && ageMs > entry.overlapTimeoutMs) {
      this.log.logger.info(
        { event: EVENTS.overlapLost, entry: entry.name, previous: run.taskId, state: run.state, ageMs },
        `the previous run (${run.taskId}) was published ${Math.round(ageMs / 1000)} s ago, more than overlapTimeout: counted as lost`,
      );
      return undefined;
    }
    return run;
  }
}
