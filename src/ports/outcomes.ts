/**
 * What became of the runs the scheduler published: the record kept per run, where records are kept
 * (a bounded history per entry), where outcomes are read from (Celery's result backend), and who
 * hears of a run that finished (metrics). Implemented by adapters (src/redis/), used by
 * src/outcomes/ and the status views.
 */
import type { CeleryState, ResultMeta } from '../celery/result-meta.js';
import type { TaskEvent, WorkerEvent, WorkerEventHandlers } from '../celery/task-events.js';

export type { ResultMeta, TaskEvent, WorkerEvent, WorkerEventHandlers };

/**
 * A run's state: Celery's states as its result backend stores them, and `unknown` for a run whose
 * outcome was not learned within the bound (`outcomeTimeout`), or whose entry ignores results.
 */
export type RunState = CeleryState | 'unknown';

/** The states after which a run's outcome does not change. */
export const FINAL_STATES: ReadonlySet<RunState> = new Set<RunState>(['SUCCESS', 'FAILURE', 'REVOKED', 'unknown']);

export const isFinal = (state: RunState): boolean => FINAL_STATES.has(state);

/** One run of an entry, as its history keeps it (src/redis/run-history-codec.ts stores it). */
export interface RunRecord {
  readonly taskId: string;
  /** The slot the run stands for (epoch ms); a manual run's is when it was requested. */
  readonly slotMs: number;
  readonly publishedAtMs: number;
  readonly state: RunState;
  /**
   * When a worker started it: the task-started event's timestamp (task events), else when STARTED
   * was first read from the result backend (`task_track_started`: within a poll interval).
   */
  readonly startedAtMs?: number;
  /** When it reached its final state: the final task event's timestamp, else the result's `date_done`, else when that state was read. */
  readonly finishedAtMs?: number;
  /**
   * From a task-succeeded event: its `runtime`, the task's own run time as the worker measured it
   * (its last attempt's, for a retried run). Otherwise finished − published, queue time included: a
   * Redis result holds no start time, and a start seen by polling is late by up to a poll interval.
   */
  readonly runtimeMs?: number;
  /** The exception's first line, `Type: message`, for FAILURE (and RETRY while it retries). */
  readonly exception?: string;
  /**
   * Given up at outcomeTimeout (published, and no outcome came), or STARTED on a worker that stopped
   * its heartbeats or was started again (task events; `exception` names it): `unknown`. What `retry.on: lost`
   * retries; an `unknown` without it (no task event heard, too many runs followed) tells nothing of a loss.
   */
  readonly lost?: true;
  /** A retry of its slot's run (core/retry.ts): its attempt, 2 or more; absent: the slot's own run (attempt 1). */
  readonly attempt?: number;
  /** With `attempt`: the task id of its slot's own run, from which every attempt's id is derived (celery/task-id.ts attemptTaskId). */
  readonly retryOf?: string;
  /** How it was published: by `beat trigger` or `beat backfill`; absent: by its schedule (and on records written before origins). */
  readonly origin?: RunOrigin;
  /**
   * tsbeat revoked it (its entry's overlap policy, when the next run came due): whatever state the
   * result backend then shows — REVOKED, or SUCCESS for a run cancelOther let finish — is its state.
   */
  readonly revokedBy?: 'cancelOther' | 'terminateOther';
  /**
   * A canvas run's tasks (a chain's steps, a group's members, a chord's header and body), each with
   * its own state: the run's state is made of theirs (src/outcomes/canvas-outcome.ts). Absent for a
   * run that is one task.
   */
  readonly parts?: readonly RunPart[];
  /**
   * A canvas run's result, JSON text, once SUCCESS: its chain's last task's, its chord body's, or
   * its group's list of its members' (src/outcomes/canvas-outcome.ts). Absent when a final part's
   * result was not read (heard from a task event only) or too long to keep.
   */
  readonly result?: string;
}

/** One task of a canvas run, as its run's record keeps it. */
export interface RunPart {
  /** Where it is in the entry's canvas: `chain[1]`, `group[2].chain[0]`, `body`. */
  readonly path: string;
  readonly task: string;
  readonly id: string;
  readonly state: RunState;
  /** Its result is (part of) the run's: a chain's last task, a chord's body, each group member's last task. */
  readonly final: boolean;
  /** A final part's result, JSON text, when it succeeded and it was read within the bound (DEFAULTS.canvasPartResultMaxChars). */
  readonly result?: string;
  /** The exception's first line, for a part that failed (or was revoked) when its result or task event gave one. */
  readonly exception?: string;
}

/** How a run was published, besides its schedule. */
export type RunOrigin = 'trigger' | 'backfill';

/**
 * An entry's finished runs at a glance, kept apart from the bounded history (an every-second entry
 * pushes a failure out of its history within minutes; its time stays here).
 */
export interface FinishedRuns {
  /** The run that finished last (by its finish time). */
  readonly last: RunRecord;
  /** When its last SUCCESS finished (epoch ms); undefined when none has. */
  readonly lastSuccessMs?: number;
  /** When its last FAILURE finished; undefined when none has. */
  readonly lastFailureMs?: number;
  /** FAILUREs since the last SUCCESS or resume (REVOKED and unknown do not count either way): what pauseOnFailure counts. */
  readonly failureStreak: number;
}

/**
 * A run to record: its entry, its record, and the revision its entry was published under
 * (ResolvedEntry.revision; undefined: not checked). A run whose entry was deleted or created again
 * since that revision is not recorded, so that no history outlives its entry.
 */
export interface RunToRecord {
  readonly entry: string;
  readonly record: RunRecord;
  readonly revision?: string | undefined;
}

/** Where each entry's recent runs are kept; the newest first. */
export interface RunHistory {
  /** Records newly published runs as PENDING (a run already recorded, or whose entry is gone, is left as it is). */
  recordPublished(runs: readonly RunToRecord[]): Promise<void>;
  /**
   * Replaces the record of `record.taskId` in the entry's history (none when it fell out, or when
   * the entry was deleted or created again since `revision`); a final record is never replaced.
   */
  update(entry: string, record: RunRecord, revision?: string): Promise<void>;
  /** `update` of each run, in as few writes as the store can. */
  recordChanges(runs: readonly RunToRecord[]): Promise<void>;
  /** Every recorded run not final yet, by entry: what a new leader goes on tracking. */
  pending(): Promise<{ readonly entry: string; readonly record: RunRecord }[]>;
  /** Slots' next attempts written and not published yet (issue 70), the earliest due first, at most `max`. */
  pendingAttempts?(max: number): Promise<PendingAttempt[]>;
  /** The entry's runs, newest first, at most `limit`. */
  list(entry: string, limit: number): Promise<RunRecord[]>;
  /** Each named entry's newest run. */
  latest(entries: readonly string[]): Promise<Map<string, RunRecord>>;
  /** Each named entry's finished runs at a glance; absent for an entry none of whose runs has finished. */
  finished(entries: readonly string[]): Promise<Map<string, FinishedRuns>>;
  /**
   * The history keys found holding another type (something else wrote them), each named with its
   * repair: their entries' runs are neither recorded nor shown meanwhile, the others' are.
   */
  faults?(): readonly string[];
}

/** Reads task results by id (Celery's `celery-task-meta-<id>`). */
export interface ResultReader {
  /** One answer per id, in order; undefined where the backend has nothing (yet). */
  read(taskIds: readonly string[]): Promise<(ResultMeta | undefined)[]>;
}

/**
 * Celery's task events from the broker (workers with `-E`), listened to while the tracker runs
 * (only the leader's does). At most once: an event sent while nobody listens is gone.
 */
export interface TaskEventFeed {
  start(onEvents: (events: TaskEvent[]) => void, workers?: WorkerEventHandlers): void;
  /** Closes the connection. */
  stop(): Promise<void>;
}

/** Told of every run that reached a final state; must return at once and never throw. */
export interface OutcomeEvents {
  finished(entry: string, record: RunRecord): void;
  /**
   * A slot's run failed for good after its retries (issue 70): `record` is its last attempt, which
   * ended in `end` with no attempt left under its entry's policy. Told after `finished`.
   */
  retriesExhausted?(entry: string, record: RunRecord, end: 'failure' | 'lost'): void;
  /** `record` (its slot's last run) put its slot in the dead-letter list as `letter`: once per letter, in the step that wrote it. */
  deadLettered?(entry: string, record: RunRecord, letter: DeadLetter): void;
  /** The dead-letter list holds `size` items after its bound dropped `dropped` of the oldest (told after a letter was added). */
  deadLettersBounded?(dropped: number, size: number): void;
}

/**
 * A slot that failed for good, kept in the deployment's dead-letter list (issue 70; docs/outcomes.md,
 * "Retries and the dead-letter list"; redis/dead-letter-codec.ts stores it). Its slot and own task id
 * are what its message is published again from, as a retry attempt's is.
 */
export interface DeadLetter {
  /** Stable: the same (entry, slot) always gets the same id (deadLetterId), so a replayed outcome adds nothing. */
  readonly id: string;
  readonly entry: string;
  readonly slotMs: number;
  /** The task id of the slot's last attempt. */
  readonly taskId: string;
  /** The slot's own task id (its attempt 1). */
  readonly retryOf: string;
  readonly attempts: number;
  readonly end: 'failure' | 'lost';
  readonly exception?: string;
  /** When its slot failed for good, epoch ms. */
  readonly atMs: number;
  readonly revision?: string;
}

export const NO_OUTCOME_EVENTS: OutcomeEvents = { finished: () => undefined };

/**
 * What overlap policies ask of the outcomes: whether an entry's previous run is still running.
 * Implemented by the outcome tracker, which follows the runs the leader published.
 */
export interface RunningRuns {
  /** The newest run of `entry` published and not finished, if the tracker knows of one. */
  unfinishedRun(entry: string): RunRecord | undefined;
  /** Every run followed and not finished yet, of every entry (what a concurrency group counts in flight). */
  unfinished?(): readonly { readonly entry: string; readonly record: RunRecord }[];
  /**
   * Settles once the runs that were pending when the last leader stopped are known again (at once
   * when there is nothing to load): until then an entry's previous run may look finished.
   */
  ready(): Promise<void>;
  /**
   * Follows a run published by a backfill under bufferAll or bufferOne, by its task id, unless it is
   * followed already or its history says it finished: after a failover the new leader may not have
   * heard of it (its record is written a moment after the publish). A canvas run comes with its
   * `parts` (PENDING), as at its publish.
   */
  followRun?(
    entry: string,
    taskId: string,
    slotMs: number,
    revision?: string,
    parts?: readonly RunPart[],
    scheduled?: boolean,
  ): Promise<void>;
  /**
   * `listener` hears the name of each entry one of whose runs reached a final state, until the
   * function returned is called. Several may listen (the runner, the control loop's backfills).
   */
  onFinished(listener: (entry: string) => void): () => void;
}

/** retry-fenced.lua's reply for one pending attempt (issue 70). */
export const RetryPublishResult = {
  Published: 1,
  /** No longer pending: published already (another leader, a lost reply) or dropped. */
  Gone: 0,
  /** The entry was deleted or created again since its slot's run: the attempt was dropped, nothing published. */
  Dropped: 2,
  Fenced: -1,
  /** The deployment is stopped: the attempt stays pending. */
  Stopped: -3,
} as const;
export type RetryPublishResult = (typeof RetryPublishResult)[keyof typeof RetryPublishResult];

/** A slot's next attempt, due at `dueMs` (core/retry.ts). */
export interface PendingAttempt {
  readonly entry: string;
  readonly slotMs: number;
  readonly attempt: number;
  readonly taskId: string;
  /** The task id of the slot's own run (attempt 1). */
  readonly retryOf: string;
  /** The entry fence the slot's run was published under (includes/entry-fence.lua): an attempt of an entry deleted or re-created since is dropped. */
  readonly revision?: string;
  readonly dueMs: number;
}
