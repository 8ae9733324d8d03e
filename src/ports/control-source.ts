/** What live control (pause, resume, manual runs) needs from the outside: where requests come from, and how a manual run is published. */
import type { TaskMessage } from '../celery/message.js';
import type { PendingAttempt, RetryPublishResult, RunRecord } from './outcomes.js';
import type { BackfillOverlap } from '../core/backfill-overlap.js';

export type { BackfillOverlap };

/**
 * The deployment-wide stop (`beat pause --all`): while it is set no replica publishes anything
 * (stored and shown by control/deployment-stop.ts).
 */
export interface DeploymentStop {
  /** Who set it: a token's name, `dashboard:<token name>`, or `user@host` for the CLI. */
  readonly by: string;
  /** When, epoch ms. */
  readonly atMs: number;
  readonly note?: string;
}

/** A pending manual run, stored as JSON text in the triggers list. */
export interface TriggerRequest {
  readonly entry: string;
  readonly id: string;
  /** When it was asked for, epoch ms. */
  readonly at: number;
  /** Why, as the operator said (`beat trigger --note`, the API); logged with the run. */
  readonly note?: string;
  /**
   * A replay of a dead letter (`beat dead-letter replay`): the slot its message is rendered for, as
   * a retry attempt's is (its `beat_scheduled_at`); absent: the publish time, as any manual run.
   */
  readonly slot?: number;
  /** The dead letter it replays (its id), logged with the run. */
  readonly replays?: string;
  /**
   * The item it replays as it was stored (dead-letter-codec.ts): put back on the list in the step
   * that drops the request, should the leader not publish it (too old, its entry gone, refused).
   */
  readonly item?: string;
}

/** What the control loop needs from Redis (ControlStore fits; without the backfill methods, backfills are not looked for). */
export interface ControlSource extends Partial<BackfillSource> {
  paused(): Promise<Set<string>>;
  /** The deployment-wide stop (`beat pause --all`), if it is set. Absent: the loop does not look (the scripts still refuse). */
  deploymentStop?(): Promise<DeploymentStop | undefined>;
  pendingTriggers(max: number): Promise<{ text: string; request: TriggerRequest | undefined }[]>;
  /**
   * The slots' pending attempts due at `nowMs` or before, the earliest first, at most `max` (retries
   * zset), each with its member's text; `retry` undefined for a member that does not decode (something
   * else wrote it), which the loop discards, so that it cannot hold the real ones behind it. `skip`:
   * past the first so many (those of paused entries, which stay).
   */
  dueRetries?(nowMs: number, max: number, skip?: number): Promise<{ member: string; retry: PendingAttempt | undefined }[]>;
  /** Removes a pending attempt unpublished (its entry is no longer in the config, or it does not decode). */
  discardRetry?(member: string): Promise<void>;
  /**
   * Removes a request unpublished (malformed, too old, or for an entry this config lacks); a replay's
   * (`request.replays`, with its `item`) puts its dead letter back on the list in the same step.
   * Resolves to whether an item went back.
   */
  discardTrigger(text: string, request?: TriggerRequest): Promise<boolean | void>;
  /**
   * A replay's dead letter put back once a script refused its request and removed it (its
   * confirmation says so); nothing while it is pending or was published. Whether it went back.
   */
  restoreDeadLetter?(request: TriggerRequest, text: string): Promise<boolean>;
}

/**
 * What publishing a manual run came to: the trigger scripts' replies (trigger-fenced.lua,
 * claim-trigger.lua, commit-trigger.lua), read as these names wherever they are looked at.
 */
export const TriggerResult = {
  Published: 1,
  /** The request is no longer pending (cancelled, or done): nothing published. */
  Withdrawn: 0,
  /** This instance no longer holds the fence: nothing written. */
  Fenced: -1,
  /** The entry's stored revision is not `revision` (a runtime entry's, ResolvedEntry.revision): nothing published, the request stays. */
  Superseded: 2,
  /** The broker refused the message because of its entry (commit-trigger.lua): the request is removed with the reason. */
  Refused: 3,
  /** The deployment is stopped (`beat pause --all`): nothing published or written, the request stays pending. */
  Stopped: -3,
} as const;
export type TriggerResult = (typeof TriggerResult)[keyof typeof TriggerResult];

export interface TriggerPublisher {
  /** `slotMs`: a dead letter's replay's slot (TriggerRequest.slot), reported with the published run; the publish itself ignores it. */
  publishTrigger(
    message: TaskMessage,
    requestText: string,
    token: string,
    nowMs: number,
    revision?: string,
    slotMs?: number,
  ): Promise<TriggerResult>;
  /** A backfill's step (BackfillPublisher): one atomic step on Redis; claim, send with confirms, commit on RabbitMQ and SQS. */
  publishBackfill?: BackfillPublisher['publishBackfill'];
  /** A backfill step's slots classified, nothing written (BackfillPublisher). */
  claimBackfill?: BackfillPublisher['claimBackfill'];
  /**
   * A slot's pending attempt (issue 70): `member` is the retries zset's text as read
   * (retry-fenced.lua), or with `from: 'waiting'` the waiting zset's (a run its concurrency group
   * releases; the Redis broker only). Exactly once on Redis; claim, send with confirms, commit on
   * RabbitMQ and SQS.
   */
  publishRetry?(
    message: TaskMessage,
    member: string,
    revision: string | undefined,
    token: string,
    from?: 'retries' | 'waiting',
    /** Its PENDING record, written with the publish (retry-fenced.lua ARGV[6]): a leader killed right after leaves it to the next. */
    record?: RunRecord,
  ): Promise<RetryPublishResult>;
}

/** A pending backfill, as stored (JSON) in the `backfills` list. */
export interface BackfillRequest {
  /** The request's own id (a random UUID): its progress key. */
  readonly id: string;
  readonly entry: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** The most slots (run and excluded) it may cover. */
  readonly limit: number;
  /** The grid anchor of an interval entry (core/backfill-slots.ts backfillAnchor), as the requester worked it out. */
  readonly anchorMs?: number;
  /** Publish slots older than the record of passed-over slots speaks for (`--unrecorded`). */
  readonly unrecorded: boolean;
  /**
   * The overlap policy its slots are published under (`--overlap`, the API's `overlap`), as
   * Temporal's BackfillRequest.overlap_policy; absent: the entry's own (its `allow` as allowAll).
   */
  readonly overlap?: BackfillOverlap;
  /** When it was asked for, epoch ms. */
  readonly at: number;
  readonly note?: string;
}

/** One step of a backfill: a chunk of an entry's slots, ascending, with their messages. */
export interface BackfillStep {
  /** `overlap`: held by the request's overlap policy: published by no step, counted as overlap and left passed over. */
  readonly runs: readonly { readonly slotMs: number; readonly message: TaskMessage; readonly overlap?: boolean }[];
  /** bufferOne kept a slot while a run was in flight: the progress says so, for the next leader. */
  readonly kept?: boolean;
  /** Excluded slots this step passed over (counted, not published). */
  readonly excluded: number;
  /** The last slot this step covers, epoch ms: the next leader goes on after it. */
  readonly throughMs: number;
  /** The slots in the whole request (run and excluded). */
  readonly total: number;
  /** The request's last step: it is removed and marked done with it. */
  readonly last: boolean;
}

/**
 * Each slot of a step: published; recorded (published before: skipped); ahead (after the entry's
 * last scheduled slot: the schedule's own); unrecorded (older than the record of passed-over slots speaks for);
 * overlap (would have been published, held by the request's overlap policy).
 */
export type BackfillSlotOutcome = 'published' | 'recorded' | 'ahead' | 'unrecorded' | 'overlap';

export type BackfillStepResult =
  | { readonly kind: 'done'; readonly outcomes: readonly BackfillSlotOutcome[] }
  /** The request is no longer pending (withdrawn by its requester, or done): nothing written. */
  | { readonly kind: 'withdrawn' }
  /** This instance no longer holds the fence: nothing written. */
  | { readonly kind: 'fenced' }
  /** The deployment is stopped (`beat pause --all`): nothing published or written; the request stays pending. */
  | { readonly kind: 'deploymentStopped' }
  /** The entry changed since it was read: nothing written; the request waits for the entry as it is now. */
  | { readonly kind: 'superseded' }
  /** One of the entry's keys holds another Redis type: the request was removed and its progress says why. */
  | { readonly kind: 'refused'; readonly reason: string };

/** The backfill request a step belongs to, as the leader read it from the pending list: its stored text, its id, and `--unrecorded`. */
export interface BackfillStepRequest {
  readonly text: string;
  readonly id: string;
  readonly unrecorded: boolean;
}

/**
 * One step of a backfill as the leader hands it to the publisher: the entry's name, the step, the
 * request it belongs to, the lease's token (the fence), the time, and the revision the entry was
 * read at (the entry fence; none for an entry of the config file).
 */
export interface BackfillStepCall {
  readonly entry: string;
  readonly step: BackfillStep;
  readonly request: BackfillStepRequest;
  readonly token: string;
  readonly nowMs: number;
  readonly revision?: string;
}

/** Publishes a backfill's steps through the leader's fenced path (see publish/). */
export interface BackfillPublisher {
  publishBackfill(call: BackfillStepCall): Promise<BackfillStepResult>;
  /**
   * Classifies a step's slots as the step would, writing nothing (backfill-fenced.lua's claim):
   * what an overlap policy other than allowAll decides on. Absent: such policies are refused.
   */
  claimBackfill?(call: BackfillStepCall): Promise<BackfillStepResult>;
}

/** What the control loop needs from Redis for backfills (ControlStore fits). */
export interface BackfillSource {
  pendingBackfills(max: number): Promise<{ text: string; request: BackfillRequest | undefined }[]>;
  /** The last slot a leader covered of this request, if one began it. */
  backfillThrough(id: string): Promise<number | undefined>;
  /** The request's progress so far (its published count and bufferOne's `kept`), if one began it. */
  backfillProgress(
    id: string,
  ): Promise<{ readonly published: number; readonly kept?: boolean; readonly throughMs?: number; readonly lastMs?: number } | undefined>;
  /** Removes a request that cannot be honoured, with why in its progress (for the requester to show). */
  refuseBackfill(text: string, id: string | undefined, reason: string, nowMs: number): Promise<void>;
}
