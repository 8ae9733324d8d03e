/**
 * What the scheduler reports as it goes, for whoever counts it (Prometheus metrics today; run
 * outcomes and alerts next). Handed to constructors, never set afterwards; a part that reports
 * nothing gets NO_EVENTS. Every method returns at once and never throws: reporting must not slow
 * down or fail a publish.
 */
import type { DeploymentStop } from './control-source.js';
import type { Destination } from '../celery/routing.js';
import type { CanvasOutcomePart } from '../celery/canvas.js';
import type { TaskMessage } from '../celery/message.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { MissReason } from '../core/schedule.js';
import type { UnconsumedQueue } from './consumers.js';

/** A slot of a backfill the broker took. */
export interface BackfillRunPublished {
  readonly id: string;
  readonly slotMs: number;
  /** A canvas run's parts (celery/message.ts messageOutcomeParts); absent or empty for a run of one task. */
  readonly parts?: readonly CanvasOutcomePart[];
}

/** A scheduled run the broker took. */
export interface PublishedRun {
  readonly entry: ResolvedEntry;
  /** The scheduled instant this run stands for. */
  readonly slotMs: number;
  /** Its task id. */
  readonly id: string;
  readonly destination: Destination;
}

/**
 * Why slots will never run: the missed-run policy's reasons, `overlap` (the entry's previous run
 * had not finished, and its overlap policy passed them over), or `paused` (they passed while the
 * entry was paused; reported when it is resumed).
 */
export type MissedReason = MissReason | 'overlap' | 'paused' | 'concurrency';

/** Slots of an entry that will never run (the missed-run or the overlap policy passed them over). */
export interface MissedSlots {
  readonly entry: ResolvedEntry;
  /** How many (counted up to core/schedule.ts MISSED_COUNT_CAP). */
  readonly count: number;
  readonly reason: MissedReason;
  /** The first of them: the same for every leader that finds them, so a report of them can be deduplicated. */
  readonly firstSlotMs: number;
  /**
   * The last of them, when the leader passed them over for good (no other slot of the entry lies
   * between the first and the last): the range `beat backfill`'s record keeps (redis/passed-slots-store.ts).
   * Absent when they may still run after all (bufferOne's slots passed over at a release that may not
   * be sent): not recorded, so a backfill takes them for published (an under-fill, never a duplicate).
   */
  readonly lastSlotMs?: number;
  /** When they were found missed. */
  readonly atMs: number;
}

/** An entry whose runs are refused because of the entry alone (see PublishResult 'refused'). */
export interface EntryFailure {
  readonly entry: string;
  /** Why, with the fix. */
  readonly reason: string;
  /** The first refusal with this reason, epoch ms. */
  readonly sinceMs: number;
  /** Refusals with this reason so far. */
  readonly attempts: number;
  /** When its runs are tried again, epoch ms. */
  readonly retryAtMs: number;
}

/** A revoke of an entry's previous run by its overlap policy (cancelOther, terminateOther). */
export interface RunRevoked {
  readonly entry: string;
  /** The revoked run's task id. */
  readonly taskId: string;
  readonly policy: 'cancelOther' | 'terminateOther';
  /** The signal sent with terminate (terminateOther); undefined for cancelOther. */
  readonly signal?: string;
  /** 'sent': the broker took the broadcast; 'failed': it could not be sent (the new run is published all the same). */
  readonly outcome: 'sent' | 'failed';
  readonly atMs: number;
}

export interface SchedulerEvents {
  /** A scheduled run was published, `latenessMs` after its slot (jitter included). */
  published(run: PublishedRun, latenessMs: number): void;
  /**
   * A manual run (`beat trigger`) was published, its entry read at `revision` (ResolvedEntry.revision);
   * a canvas run with the tasks its outcome is made of (celery/message.ts messageOutcomeParts);
   * `slotMs`: a dead letter's replay's slot, its message's `beat_scheduled_at` (absent: the publish time).
   */
  triggerPublished(message: TaskMessage, revision?: string, parts?: readonly CanvasOutcomePart[], slotMs?: number): void;
  /**
   * Slots of a backfill (`beat backfill`) were published: their task ids and slots (and a canvas
   * run's parts, as a manual run's), the entry read at `revision`.
   */
  backfillPublished?(entry: string, runs: readonly BackfillRunPublished[], revision?: string): void;
  /**
   * A slot's later attempt (issue 70, retry-fenced.lua) was published: its message (the attempt's
   * task id), slot, attempt number and the slot's first task id; a canvas's parts, as a manual run's.
   */
  retryPublished?(
    message: TaskMessage,
    slotMs: number,
    attempt: number,
    retryOf: string,
    revision?: string,
    parts?: readonly CanvasOutcomePart[],
  ): void;
  /** Due slots were passed over and will never run (downtime past the catch-up window or policy). */
  missed(missed: MissedSlots): void;
  /** A run matched no queue: the broker dropped it (its state still moved forward). */
  dropped(entry: string): void;
  /** A publish failed, in full or in part: nothing or not everything went out. */
  publishFailed(error: unknown): void;
  /** These entries' stored state was found missing or behind runs this process saw published: Redis lost data. */
  stateLost(entries: readonly string[]): void;
  /** Renewing the leader's lock failed (it is retried until the lease runs out). */
  lockRenewFailed(): void;
  /** This instance began leading (true) or stands by (false; also said once when it starts campaigning). */
  leadershipChanged(leading: boolean): void;
  /** An entry's runs were refused because of the entry alone (each refusal; `changed`: a new reason). */
  entryRefused?(failure: EntryFailure, changed: boolean): void;
  /** These entries left the schedule (deleted or disabled): what was kept for each can go. */
  entriesRemoved?(entries: readonly string[]): void;
  /** An entry that was failing is not any more: it published again (`recovered`), or it left the schedule. */
  entryFailureCleared?(entry: string, recovered: boolean): void;
  /** The overlap policy revoked an entry's previous run (or failed to send the revoke). */
  revoked?(revoke: RunRevoked): void;
  /**
   * Nobody has consumed a queue the schedule publishes to for consumers.unconsumedAfter (again when
   * its reason or depth changes); `routed`: the enabled entries in force that publish to it.
   */
  queueUnconsumed?(queue: UnconsumedQueue, routed: readonly ResolvedEntry[]): void;
  /** A queue flagged unconsumed is consumed again (or no entry publishes to it any more). */
  queueConsumed?(queue: string): void;
  /**
   * The leader saw the deployment-wide stop set (`lifted` false: at each session's start too, so a
   * new leader says it again under the same delivery id) or lifted (`beat resume --all`).
   */
  deploymentStop?(change: DeploymentStopChange): void;
}

/** A change of the deployment-wide stop, as the leader saw it. */
export interface DeploymentStopChange {
  readonly stop: DeploymentStop;
  readonly lifted: boolean;
  /** When the leader saw it, epoch ms. */
  readonly atMs: number;
}

/** A sink that counts nothing. */
export const NO_EVENTS: SchedulerEvents = {
  published: () => undefined,
  triggerPublished: () => undefined,
  missed: () => undefined,
  dropped: () => undefined,
  publishFailed: () => undefined,
  stateLost: () => undefined,
  lockRenewFailed: () => undefined,
  leadershipChanged: () => undefined,
};

/** One sink that reports to each of `sinks`, in order (metrics, alerts, outcomes…). */
export function fanOutEvents(sinks: readonly SchedulerEvents[]): SchedulerEvents {
  if (sinks.length === 1 && sinks[0] !== undefined) return sinks[0];
  return {
    published: (run, latenessMs) => sinks.forEach((s) => s.published(run, latenessMs)),
    triggerPublished: (message, revision, parts, slotMs) => sinks.forEach((s) => s.triggerPublished(message, revision, parts, slotMs)),
    backfillPublished: (entry, runs, revision) => sinks.forEach((s) => s.backfillPublished?.(entry, runs, revision)),
    retryPublished: (message, slotMs, attempt, retryOf, revision, parts) =>
      sinks.forEach((s) => s.retryPublished?.(message, slotMs, attempt, retryOf, revision, parts)),
    missed: (missed) => sinks.forEach((s) => s.missed(missed)),
    dropped: (entry) => sinks.forEach((s) => s.dropped(entry)),
    publishFailed: (error) => sinks.forEach((s) => s.publishFailed(error)),
    stateLost: (entries) => sinks.forEach((s) => s.stateLost(entries)),
    lockRenewFailed: () => sinks.forEach((s) => s.lockRenewFailed()),
    leadershipChanged: (leading) => sinks.forEach((s) => s.leadershipChanged(leading)),
    entryRefused: (failure, changed) => sinks.forEach((s) => s.entryRefused?.(failure, changed)),
    entryFailureCleared: (entry, recovered) => sinks.forEach((s) => s.entryFailureCleared?.(entry, recovered)),
    entriesRemoved: (entries) => sinks.forEach((s) => s.entriesRemoved?.(entries)),
    revoked: (revoke) => sinks.forEach((s) => s.revoked?.(revoke)),
    queueUnconsumed: (queue, routed) => sinks.forEach((s) => s.queueUnconsumed?.(queue, routed)),
    queueConsumed: (queue) => sinks.forEach((s) => s.queueConsumed?.(queue)),
    deploymentStop: (change) => sinks.forEach((s) => s.deploymentStop?.(change)),
  };
}
