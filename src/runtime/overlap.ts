/**
 * Overlap policies: what becomes of a slot that comes due while the entry's previous run has not
 * finished. "allow" publishes it (Celery's behaviour); "skip" passes it over; "bufferOne" keeps it
 * and publishes it once the previous run finishes, passing over the slots that came meanwhile;
 * "bufferAll" keeps them all (at most overlapBuffer, the oldest passed over past it) and publishes
 * them in order, each once the one before finished; "cancelOther" and "terminateOther" revoke the
 * previous run through Celery's remote control (the latter with terminate and overlapSignal) and
 * publish the new one. The revokes are collected while a batch is planned and sent, by the
 * leader only, before the batch goes out (sendRevokes).
 *
 * "Finished" is what the outcome tracker knows (RunningRuns): a final state in the result backend
 * (or a task event), or `unknown` after outcomeTimeout; with `overlapTimeout`, a previous run
 * published longer ago counts as lost. The decisions change the entry book (pass over, buffer,
 * release) and are logged and reported as missed slots (reason `overlap`); nothing here waits.
 */
import { EVENTS } from '../base/log-events.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { DuePlan } from '../core/schedule.js';
import type { RunRecord, RunningRuns } from '../ports/outcomes.js';
import { DEFAULTS } from '../base/defaults.js';
import { errorMessage } from '../base/errors.js';
import type { Revoker } from '../ports/revoker.js';
import { formatInstant } from '../time/zone.js';
import type { BookEntry, Due, EntryBook } from './entry-book.js';
import type { RunLogOptions } from './run-log.js';

/** Task ids revoked lately, remembered so that a revoke is not broadcast twice for one run. */
const REVOKED_REMEMBERED = 1000;

/** A revoke decided while planning, sent before the batch (sendRevokes). */
interface PendingRevoke {
  readonly entry: ResolvedEntry;
  readonly previous: RunRecord;
  readonly policy: 'cancelOther' | 'terminateOther';
}

const isRevoking = (overlap: string): overlap is 'cancelOther' | 'terminateOther' =>
  overlap === 'cancelOther' || overlap === 'terminateOther';

/** A buffered run to publish now. */
export interface Released {
  readonly held: BookEntry;
  readonly slotMs: number;
}

export class OverlapGate {
  /** Entries told once that their policy has no effect here (no outcomes). */
  private readonly untrackedSaid = new Set<string>();
  /** Revokes decided and not sent yet. */
  private pending: PendingRevoke[] = [];
  /** Task ids revoked lately (insertion order, at most REVOKED_REMEMBERED): one broadcast per run. */
  private readonly revoked = new Set<string>();

  /**
   * `runs` is undefined when this instance follows no outcomes: every policy then publishes.
   * `revoker` is undefined on a broker without Celery's remote control (SQS): cancelOther and
   * terminateOther then publish without revoking, and say so once per entry.
   */
  constructor(
    private readonly runs: RunningRuns | undefined,
    private readonly log: RunLogOptions,
    private readonly revoker?: Revoker,
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
    if (isRevoking(entry.overlap)) return this.replace(entry, entry.overlap, plan, nowMs);
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
      this.log.events.missed({ entry, count: plan.slots.length, reason: 'overlap', firstSlotMs: first, atMs: nowMs, lastSlotMs: last });
      return undefined;
    }
    book.buffer(held, first);
    this.log.logger.info(
      { event: EVENTS.overlapBuffer, ...fields, slot: formatInstant(first, entry.timezone) },
      `the previous run (${previous.taskId}, ${previous.state}) has not finished: slot kept until it does (overlap "${entry.overlap}")`,
    );
    return undefined;
  }

  /**
   * cancelOther, terminateOther: the previous run, if one runs, is revoked (sendRevokes) and the new
   * one published. Of several slots due at once only the last is: each would revoke the one before.
   */
  private replace(entry: ResolvedEntry, policy: 'cancelOther' | 'terminateOther', plan: DuePlan, nowMs: number): DuePlan {
    const last = plan.slots[plan.slots.length - 1] as number;
    if (plan.slots.length > 1)
      this.log.events.missed({
        entry,
        count: plan.slots.length - 1,
        reason: 'overlap',
        firstSlotMs: plan.slots[0] as number,
        atMs: nowMs,
        lastSlotMs: last - 1,
      });
    const previous = this.previous(entry, nowMs);
    if (previous !== undefined && !this.revoked.has(previous.taskId)) {
      if (this.revoker === undefined)
        this.sayOnce(
          entry,
          `overlap "${policy}" cannot revoke here: this broker has no Celery remote control (SQS); the new run is published without revoking the previous one`,
        );
      else this.pending.push({ entry, previous, policy });
    }
    return plan.slots.length > 1 ? { ...plan, slots: [last] } : plan;
  }

  /**
   * Broadcasts the revokes decided since the last call, if `leading()` still holds (only the leader
   * revokes); each outcome is logged and reported. Never throws: a revoke that cannot be sent is
   * logged, and the new runs are published all the same.
   */
  async sendRevokes(nowMs: number, leading: () => boolean): Promise<void> {
    const todo = this.pending;
    if (todo.length === 0) return;
    this.pending = [];
    if (!leading() || this.revoker === undefined) return;
    const revoker = this.revoker;
    await Promise.all(
      todo.map(async ({ entry, previous, policy }) => {
        if (this.revoked.has(previous.taskId)) return;
        this.remember(previous.taskId);
        const terminate = policy === 'terminateOther';
        const signal = entry.overlapSignal ?? DEFAULTS.overlapSignal;
        const fields = {
          entry: entry.name,
          task: entry.task,
          previous: previous.taskId,
          state: previous.state,
          policy,
          terminate,
          ...(terminate ? { signal } : {}),
        };
        try {
          const { receivers } = await revoker.revoke({ taskIds: [previous.taskId], terminate, signal }, nowMs);
          this.log.logger.info(
            { event: EVENTS.overlapRevoke, ...fields, ...(receivers === undefined ? {} : { receivers }) },
            `the previous run (${previous.taskId}, ${previous.state}) has not finished: revoked${terminate ? ` with terminate (${signal})` : ''} before publishing the new one (overlap "${policy}")${receivers === 0 ? '; no worker was listening' : ''}`,
          );
          this.log.events.revoked?.({
            entry: entry.name,
            taskId: previous.taskId,
            policy,
            ...(terminate ? { signal } : {}),
            outcome: 'sent',
            atMs: nowMs,
          });
        } catch (error) {
          // Sent again at the next slot if it is still running then.
          this.revoked.delete(previous.taskId);
          this.log.logger.warn(
            { event: EVENTS.overlapRevokeFailed, ...fields, err: errorMessage(error) },
            `the previous run (${previous.taskId}) could not be revoked (${errorMessage(error)}); the new run is published all the same (overlap "${policy}")`,
          );
          this.log.events.revoked?.({
            entry: entry.name,
            taskId: previous.taskId,
            policy,
            ...(terminate ? { signal } : {}),
            outcome: 'failed',
            atMs: nowMs,
          });
        }
      }),
    );
  }

  /** True when revokes were decided and not sent yet (a dispatch without any never waits for sendRevokes). */
  hasRevokes(): boolean {
    return this.pending.length > 0;
  }

  /** Drops the revokes decided for runs that were not published after all (their entries are decided again). */
  forgetRevokes(): void {
    this.pending = [];
  }

  /** Drops the revokes decided for this entry's new run, which did not go out after all (its concurrency group turned it away). */
  forgetRevoke(entry: string): void {
    if (this.pending.length > 0) this.pending = this.pending.filter((p) => p.entry.name !== entry);
  }

  private remember(taskId: string): void {
    this.revoked.add(taskId);
    if (this.revoked.size > REVOKED_REMEMBERED) this.revoked.delete(this.revoked.values().next().value as string);
  }

  private sayOnce(entry: ResolvedEntry, message: string): void {
    if (this.untrackedSaid.has(entry.name)) return;
    this.untrackedSaid.add(entry.name);
    this.log.logger.warn({ event: EVENTS.overlapUntracked, entry: entry.name, overlap: entry.overlap }, message);
  }

  /**
   * Takes off the book the buffered runs whose previous run has finished (or counts as lost, or
   * whose entry now allows overlap), to publish now, of the entries `may` allows (all by default:
   * the runner leaves one whose check has not seen it released); the slots they passed over are
   * reported.
   */
  release(book: EntryBook, nowMs: number, may: (entry: ResolvedEntry) => boolean = () => true): Released[] {
    const out: Released[] = [];
    for (const held of book.buffered()) {
      const { entry } = held;
      if (!may(entry)) continue;
      if (entry.overlap !== 'allow' && this.previous(entry, nowMs) !== undefined) continue;
      const all = entry.overlap === 'bufferAll';
      const keep = entry.overlapBuffer ?? DEFAULTS.overlapBuffer;
      const release = book.releaseBuffered(held, nowMs, all ? keep : undefined);
      if (release === undefined) continue;
      const { slotMs, passed, firstPassedMs, lastPassedMs } = release;
      const fields = { entry: entry.name, task: entry.task, slot: formatInstant(slotMs, entry.timezone), passed };
      if (all && passed > 0)
        this.log.logger.warn(
          { event: EVENTS.overlapBufferFull, ...fields, overlapBuffer: keep },
          `more than overlapBuffer (${keep}) slots waited for the previous run: the oldest ${passed} passed over (overlap "bufferAll")`,
        );
      this.log.logger.info(
        { event: EVENTS.overlapRelease, ...fields },
        passed === 0 || all
          ? 'the previous run finished: publishing the buffered slot'
          : `the previous run finished: publishing the buffered slot; ${passed} later slot${passed === 1 ? '' : 's'} passed over (overlap "bufferOne")`,
      );
      if (passed > 0 && firstPassedMs !== undefined)
        this.log.events.missed({
          entry,
          count: passed,
          reason: 'overlap',
          firstSlotMs: firstPassedMs,
          atMs: nowMs,
          ...(lastPassedMs === undefined ? {} : { lastSlotMs: lastPassedMs }),
        });
      out.push({ held, slotMs });
    }
    return out;
  }

  /**
   * The entries of the buffered runs that release(book, nowMs) would take, nothing changed nor said:
   * what a check before the publish (before-publish.ts) looks at with the entries due.
   */
  *releasable(book: EntryBook, nowMs: number): Generator<ResolvedEntry> {
    for (const { entry } of book.buffered()) {
      const run = this.runs === undefined || entry.options.ignoreResult === true ? undefined : this.runs.unfinishedRun(entry.name);
      const lost = run !== undefined && entry.overlapTimeoutMs !== undefined && nowMs - run.publishedAtMs > entry.overlapTimeoutMs;
      if (entry.overlap === 'allow' || run === undefined || lost) yield entry;
    }
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
