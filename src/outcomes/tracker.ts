/**
 * Follows each published run to its outcome, for the leader. Publishing only hands it the run
 * (`published`, at once); on its own timer it records new runs in their entries' histories (a burst
 * once, after it), and every poll interval reads the results of the runs still pending from the
 * result backend, in MGET batches and at most `readsPerPoll` a poll (oldest first, then round-robin),
 * until each is final (SUCCESS, FAILURE, REVOKED) or `timeoutMs` has passed (then `unknown`).
 * STARTED and RETRY are recorded as they are seen.
 *
 * A run's final state is its last final state: Celery >= 5.6.2 stores REVOKED the moment a revoke
 * arrives (celery#9869, the worker's `_revoke` calls `backend.mark_as_revoked`), and a run the
 * revoke did not stop (cancelOther's, without terminate) stores its SUCCESS or FAILURE over it when
 * it ends. So a run seen REVOKED is finished at once (it holds its entry back no longer, as before)
 * and is still read until `timeoutMs` after its publication: a SUCCESS or FAILURE found then
 * replaces the REVOKED in its history (lua/run-history.lua lets exactly that replace a final state). A new leader takes over the runs the histories
 * still hold as pending (`start`), so a failover loses no outcome.
 *
 * With Celery's task events (`taskEvents`), the leader also hears the workers' task-started,
 * task-retried, task-succeeded, task-failed and task-revoked as they happen (`observed`): a run
 * moves at once, with the worker's own times, and a run finished by an event is not read again.
 * Polling goes on for the others (pub/sub loses what is sent while nobody listens); without a
 * result backend the events are the only source, and the poll only gives up on runs past the timeout.
 *
 * With task events, a run STARTED on a worker that then went away (its heartbeats stopped, or it
 * was started again: worker-liveness.ts) is lost at once (`unknown`, `lost`, saying which worker
 * and why), as one given up at the timeout is: its worker will not finish it. A canvas run is left
 * to the timeout (its parts run on several workers).
 *
 * Task events read by default (`silenceMs`: no result backend, taskEvents unset) are not counted
 * on: the workers may send none. Until some worker's task event reaches this leader, a run
 * `silenceMs` past its publish is given up as `unknown`, saying so (NO_TASK_EVENTS), never as
 * failed; the first event heard ends that, for the rest of the leadership.
 */
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import type { Clock } from '../ports/clock.js';
import { isFinal } from '../ports/outcomes.js';
import { advanceParts } from './canvas-outcome.js';
import { WorkerLiveness } from './worker-liveness.js';
import type {
  OutcomeEvents,
  PendingAttempt,
  ResultMeta,
  ResultReader,
  RunHistory,
  RunRecord,
  RunOrigin,
  RunPart,
  RunToRecord,
  RunningRuns,
  TaskEvent,
  TaskEventFeed,
} from '../ports/outcomes.js';

/**
 * Task events of tasks the leader does not follow (yet) are kept this long, for this many tasks
 * at most: a worker can start a run before the broker's confirm of its publish reaches the leader.
 */
const TASK_EVENTS_EARLY_MS = 60_000;
const TASK_EVENTS_EARLY_MAX = 10_000;

/** How often the leader reads the results of the runs still pending. */
const OUTCOME_POLL_MS = 1000;
/** Result keys per MGET. */
const OUTCOME_BATCH = 500;
/** At most this many result keys read per poll: the rest wait for the next ones, oldest first. */
const OUTCOME_READS_PER_POLL = 2000;
/**
 * At most this many runs followed at once: beyond it the oldest is given up as `unknown` (tasks
 * that never store a result, published often, would otherwise pile up until outcomeTimeout).
 */
const OUTCOME_MAX_PENDING = 100_000;
/**
 * A followed run is given up for a newer one (past OUTCOME_MAX_PENDING) only once it was followed
 * this long, and only for a run of a later burst (published after a pause of
 * OUTCOME_RECORD_DELAY_MS): a burst past OUTCOME_MAX_PENDING follows its first runs and not the
 * rest, instead of giving up each run a moment after its publish (and writing every one of them twice).
 */
const OUTCOME_FOLLOW_AT_LEAST_MS = 10_000;
/** Runs waiting to be recorded in their histories are written once none was published for this long (a burst is written after it). */
const OUTCOME_RECORD_DELAY_MS = 50;
/**
 * ... or, when OUTCOME_RECORDS_WHILE_ARRIVING or more wait (a burst), this long: a burst hands its
 * runs over in bunches as their batches are recorded, at times more than 50 ms apart, and a pause
 * between two bunches is not its end.
 */
export const OUTCOME_BURST_QUIET_MS = 500;
/**
 * ... and while runs keep being published without such a pause, every this long the oldest of
 * them are written, at most OUTCOME_RECORDS_WHILE_ARRIVING (a stream's histories stay current; a
 * burst's are written after it).
 */
const OUTCOME_RECORD_MAX_WAIT_MS = 2000;
export const OUTCOME_RECORDS_WHILE_ARRIVING = 1000;

export interface TrackerOptions {
  readonly history: RunHistory;
  /** The result backend; none when task events are the only source. */
  readonly results?: ResultReader;
  /** Celery's task events from the broker, listened to while tracking. */
  readonly taskEvents?: TaskEventFeed;
  readonly events: OutcomeEvents;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly pollMs?: number;
  readonly batch?: number;
  readonly readsPerPoll?: number;
  readonly recordDelayMs?: number;
  readonly maxPending?: number;
  /** Task events read by default: runs are given up this long after their publish while no task event was heard (see above). */
  readonly silenceMs?: number;
  /**
   * The slot's next attempt after a run that became final (issue 70; the policy the history
   * schedules it by): until it is published it is its entry's run in progress (unfinishedRun).
   */
  readonly nextAttempt?: (entry: string, record: RunRecord) => PendingAttempt | undefined;
}

/** Why a run was given up while task events are read by default and no worker sent any. */
export const NO_TASK_EVENTS =
  'outcome unknown: no worker has sent a task event; start the workers with -E (or worker_send_task_events), or set resultBackend';

interface Tracked {
  readonly entry: string;
  record: RunRecord;
  /** The revision its entry was published under (the history's entry fence); undefined: not checked. */
  readonly revision?: string | undefined;
  /** Its history holds it (its first write is done): a change is then an update, else the first write carries it. */
  written: boolean;
  /** The worker its last task-started came from (hostname, main process); a canvas run keeps none. */
  worker?: { readonly hostname: string; readonly pid?: number | undefined };
}

export class OutcomeTracker implements RunningRuns {
  /** Runs not final yet, by task id. */
  private readonly pending = new Map<string, Tracked>();
  /**
   * The same runs oldest first from `orderFrom` on, with finished ones among them (skipped when met):
   * a Map's oldest is found by iterating past every entry deleted since its last rehash, which made
   * a burst past maxPending, giving up one run a publish, quadratic (47 s of CPU at a million).
   */
  private order: Tracked[] = [];
  private orderFrom = 0;
  /** Runs seen REVOKED, still read until timeoutMs after publication for an end stored over it, by task id. */
  private readonly revokedRuns = new Map<string, Tracked>();
  /** Published runs not yet written to their histories: their first write takes the record they have then. */
  private toRecord: Tracked[] = [];
  /** Runs of a burst past maxPending not followed, not said yet (see mayGiveUpOldest): said once the burst is over. */
  private notFollowed = 0;
  /** Runs published since the record timer was last armed: while a burst arrives, its writes wait for its end. */
  private arrived = 0;
  /** How long (record timer's steps) no run was published. */
  private quietForMs = 0;
  /** When published runs were last written while runs kept arriving (see recordWhenQuiet). */
  private lastWrittenArrivingMs = 0;
  /** When the runs arriving now began (the first publish after recordDelayMs without one); undefined while none arrive. */
  private burstFromMs: number | undefined;
  /** Runs written to their histories whose record changed since: written together, after the first writes. */
  private readonly changed = new Set<Tracked>();
  /** Each entry's newest run this leader knows of (for "has the previous run finished?"). */
  private readonly newest = new Map<string, string>();
  /**
   * Each entry's slot whose next attempt waits out its backoff (issue 70), as that attempt's record
   * (PENDING, "published" when due): the run in progress for the entry's overlap policy until the
   * attempt is published, or until it is outcomeTimeout past due (dropped unpublished: its entry
   * was deleted or created again; or held by its entry's pause, published on resume: docs/outcomes.md).
   */
  private readonly awaiting = new Map<string, RunRecord>();
  /** Task events of runs not handed over yet, by task id, oldest first (see keepEarly). */
  private readonly early = new Map<string, { atMs: number; events: TaskEvent[] }>();
  /** The run each followed canvas part belongs to: part id → run id (RunRecord.parts). */
  private readonly partOwners = new Map<string, string>();
  private recordTimer: NodeJS.Timeout | undefined;
  /** The history writes of published runs, one after the other (an update must not overtake its run's first write). */
  private recording: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | undefined;
  private cursor = 0;
  private running = false;
  /** The start in progress (reading the pending runs), for `ready`. */
  private starting: Promise<void> | undefined;
  private readonly finishedListeners = new Set<(entry: string) => void>();
  private busy: Promise<void> | undefined;
  private failing = false;
  /** A task event was heard in this leadership (task events by default: they are then counted on). */
  private heard = false;
  /** The silence was reported in this leadership (once). */
  private silenceSaid = false;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly readsPerPoll: number;
  private readonly recordDelayMs: number;
  private readonly maxPending: number;
  /** One text for every run given up (a burst past maxPending gives up one a publish). */
  private readonly givenUpWhy: string;
  private readonly liveness: WorkerLiveness;

  constructor(private readonly o: TrackerOptions) {
    this.pollMs = o.pollMs ?? OUTCOME_POLL_MS;
    this.batch = o.batch ?? OUTCOME_BATCH;
    this.readsPerPoll = o.readsPerPoll ?? OUTCOME_READS_PER_POLL;
    this.recordDelayMs = o.recordDelayMs ?? OUTCOME_RECORD_DELAY_MS;
    this.maxPending = o.maxPending ?? OUTCOME_MAX_PENDING;
    this.givenUpWhy = `no longer followed: more than ${this.maxPending} runs without a result`;
    // A poll late by more than two intervals (and a second) is this leader's stall: silence counts again.
    this.liveness = new WorkerLiveness(2 * this.pollMs + 1000);
  }

  /** Begins tracking (on leading): the runs the histories hold as pending first. */
  start(): Promise<void> {
    if (this.running) return this.starting ?? Promise.resolve();
    this.running = true;
    this.heard = false;
    this.silenceSaid = false;
    this.liveness.clear();
    this.o.taskEvents?.start(
      (events) => {
        if (events.length > 0) this.heard = true;
        for (const event of events) this.observed(event);
      },
      {
        events: (events) => this.liveness.events(events, this.o.clock.now()),
        listening: () => this.liveness.listening(this.o.clock.now()),
      },
    );
    this.starting = this.loadPending();
    return this.starting;
  }

  private async loadPending(): Promise<void> {
    try {
      // Oldest first, as publishes come: `order` is then by publication (giveUpTimedOut stops at the first not due).
      const runs = (await this.o.history.pending()).sort((a, b) => a.record.publishedAtMs - b.record.publishedAtMs);
      for (const { entry, record } of runs) this.track(entry, record, undefined, true);
      if (this.o.nextAttempt !== undefined)
        for (const attempt of (await this.o.history.pendingAttempts?.(this.maxPending)) ?? [])
          this.awaiting.set(attempt.entry, awaitingRun(attempt));
    } catch (error) {
      this.failed('reading the pending runs from their histories', error);
    }
    if (!this.running) return;
    this.pollTimer = setInterval(() => void this.poll(), this.pollMs);
    this.pollTimer.unref();
  }

  /** Stops (on standing by or shutdown): runs not yet recorded are written first; what stays pending, the next leader takes over. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    await this.o.taskEvents?.stop();
    await this.busy;
    clearTimeout(this.recordTimer);
    this.recordTimer = undefined;
    this.burstFromMs = undefined;
    this.quietForMs = 0;
    await this.flushRecords();
    if (this.notFollowed > 0) this.sayNotFollowed();
    this.pending.clear();
    this.order = [];
    this.orderFrom = 0;
    this.revokedRuns.clear();
    this.newest.clear();
    this.awaiting.clear();
    this.early.clear();
    this.partOwners.clear();
    this.starting = undefined;
  }

  ready(): Promise<void> {
    return this.starting ?? Promise.resolve();
  }

  onFinished(listener: (entry: string) => void): () => void {
    // Wrapped, so that the same function added twice is two listeners, each removed by its own call.
    const heard = (entry: string): void => listener(entry);
    this.finishedListeners.add(heard);
    return () => this.finishedListeners.delete(heard);
  }

  /**
   * A run was published (`origin`: by a trigger or a backfill; none: by its schedule), its entry
   * read at `revision` (ResolvedEntry.revision): returns at once. Its outcome is written only while
   * that entry is stored (the history's entry fence): a delete in the meantime leaves no trace of it.
   * A canvas run comes with its `parts` (PENDING): its outcome is made of theirs (canvas-outcome.ts).
   */
  published(
    entry: string,
    taskId: string,
    slotMs: number,
    publishedAtMs: number,
    origin?: RunOrigin,
    revision?: string,
    parts?: readonly RunPart[],
    /** A slot's later attempt (issue 70): its number and the slot's first task id. */
    retry?: { readonly attempt: number; readonly retryOf: string },
  ): void {
    if (!this.running) return;
    // The entry's run in progress is this one now (its awaited attempt, or a slot published beside it).
    this.awaiting.delete(entry);
    this.burstFromMs ??= publishedAtMs;
    if (this.pending.size >= this.maxPending && !this.mayGiveUpOldest(publishedAtMs)) {
      this.notFollowed += 1;
      this.arrived += 1;
      this.recordSoon();
      return;
    }
    const record: RunRecord = {
      taskId,
      slotMs,
      publishedAtMs,
      state: 'PENDING',
      ...(origin === undefined ? {} : { origin }),
      ...(parts === undefined || parts.length === 0 ? {} : { parts }),
      ...(retry === undefined ? {} : { attempt: retry.attempt, retryOf: retry.retryOf }),
    };
    this.toRecord.push(this.track(entry, record, revision, false));
    this.arrived += 1;
    this.recordSoon();
    for (const id of new Set([taskId, ...(parts ?? []).map((p) => p.id)])) {
      const early = this.early.get(id);
      if (early === undefined) continue;
      this.early.delete(id);
      for (const event of early.events) this.observed(event);
    }
  }

  /** tsbeat revoked a run it follows (overlap cancelOther, terminateOther): its history says so. */
  revoked(entry: string, taskId: string, policy: 'cancelOther' | 'terminateOther'): void {
    const tracked = this.pending.get(taskId);
    if (tracked === undefined || tracked.entry !== entry) return;
    this.change(tracked, { ...tracked.record, revokedBy: policy });
    void this.flushRecords(0);
  }

  /** `scheduled`: the run is its slot's, published by its schedule (a new leader's look at what its predecessor published last, runner.ts). */
  async followRun(
    entry: string,
    taskId: string,
    slotMs: number,
    revision?: string,
    parts?: readonly RunPart[],
    scheduled = false,
  ): Promise<void> {
    if (!this.running || this.pending.has(taskId)) return;
    const recorded = (await this.o.history.list(entry, DEFAULTS.runHistoryLength)).find((r) => r.taskId === taskId);
    if (recorded !== undefined && isFinal(recorded.state)) return;
    if (this.pending.has(taskId)) return;
    // Its publish time is not known here: a record already written keeps its own.
    const origin = scheduled ? recorded?.origin : 'backfill';
    this.published(entry, taskId, slotMs, recorded?.publishedAtMs ?? this.o.clock.now(), origin, revision, recorded?.parts ?? parts);
  }

  unfinishedRun(entry: string): RunRecord | undefined {
    const id = this.newest.get(entry);
    const running = id === undefined ? undefined : this.pending.get(id)?.record;
    if (running !== undefined) return running;
    const awaited = this.awaiting.get(entry);
    if (awaited === undefined || this.o.clock.now() <= awaited.publishedAtMs + this.o.timeoutMs) return awaited;
    this.awaiting.delete(entry);
    return undefined;
  }

  /**
   * A task event (task events): the run it names moves at once, if this leader follows it; an event
   * of any other task (not published here, or already final) is ignored.
   */
  observed(event: TaskEvent): void {
    if (!this.running) return;
    const owner = this.partOwners.get(event.taskId);
    const tracked = this.pending.get(owner ?? event.taskId);
    if (tracked === undefined) {
      const revoked = this.revokedRuns.get(event.taskId);
      if (revoked !== undefined) this.endedAfterRevoke(revoked, applyTaskEvent(reopened(revoked.record), event));
      else this.keepEarly(event);
      return;
    }
    const next = tracked.record.parts === undefined ? applyTaskEvent(tracked.record, event) : partEvent(tracked.record, event);
    if (event.state === 'STARTED' && tracked.record.parts === undefined && event.hostname !== undefined)
      tracked.worker = { hostname: event.hostname, pid: event.pid };
    if (next === tracked.record) return;
    this.change(tracked, next);
    if (isFinal(next.state)) this.finish(tracked);
    void this.flushRecords(0);
  }

  /**
   * Keeps an event of a task not followed (yet): a worker can start a run before the broker's
   * confirm of its publish reaches the leader, which hands the run over only then. Most such events
   * are other publishers' tasks: the oldest go past TASK_EVENTS_EARLY_MAX ids or
   * TASK_EVENTS_EARLY_MS.
   */
  private keepEarly(event: TaskEvent): void {
    const now = this.o.clock.now();
    const kept = this.early.get(event.taskId);
    if (kept !== undefined) {
      kept.events.push(event);
      return;
    }
    this.early.set(event.taskId, { atMs: now, events: [event] });
    for (const [id, { atMs }] of this.early) {
      if (this.early.size <= TASK_EVENTS_EARLY_MAX && now - atMs <= TASK_EVENTS_EARLY_MS) break;
      this.early.delete(id);
    }
  }

  /** Runs being followed. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private track(entry: string, record: RunRecord, revision: string | undefined, written: boolean): Tracked {
    const tracked: Tracked = { entry, record, revision, written };
    this.pending.set(record.taskId, tracked);
    this.order.push(tracked);
    // The runs passed over, and those that finished out of order (they stay until the oldest passes
    // them), are dropped once they are most of it: it holds about twice the runs followed at most,
    // and each drop costs no more than the steps that made it due.
    const left = this.order.length - this.orderFrom;
    if ((this.orderFrom > 1024 && this.orderFrom > left) || left > 2 * this.pending.size + 1024) {
      this.order = this.order.slice(this.orderFrom).filter((t) => this.pending.get(t.record.taskId) === t);
      this.orderFrom = 0;
    }
    for (const part of record.parts ?? []) this.partOwners.set(part.id, record.taskId);
    if (this.pending.size > this.maxPending) this.giveUpOldest();
    const known = this.newest.get(entry);
    const knownRecord = known === undefined ? undefined : this.pending.get(known)?.record;
    if (knownRecord === undefined || knownRecord.publishedAtMs <= record.publishedAtMs) this.newest.set(entry, record.taskId);
    return tracked;
  }

  private giveUpOldest(): void {
    const oldest = this.oldestPending();
    if (oldest === undefined) return;
    this.change(oldest, {
      ...oldest.record,
      state: 'unknown',
      finishedAtMs: this.o.clock.now(),
      exception: this.givenUpWhy,
    });
    this.finish(oldest);
    // With the next writes: a burst past maxPending gives up a run at each publish, and most of
    // them were never written, so their first write is already the given-up record.
    this.recordSoon();
  }

  /**
   * Whether a run published at `atMs` may take the place of the oldest run followed: only one
   * followed for OUTCOME_FOLLOW_AT_LEAST_MS, and published before the runs arriving now began. Else (a
   * burst past maxPending) the new run is not followed: giving up runs of the same burst a moment
   * after their publish tells nothing of them, and each run given up is written to its history
   * twice, during the burst (measured: CHANGELOG.md's benchmark history).
   */
  private mayGiveUpOldest(atMs: number): boolean {
    const oldest = this.oldestPending();
    if (oldest === undefined) return true;
    const { publishedAtMs } = oldest.record;
    return atMs - publishedAtMs >= OUTCOME_FOLLOW_AT_LEAST_MS && publishedAtMs < (this.burstFromMs ?? atMs);
  }

  private oldestPending(): Tracked | undefined {
    while (this.orderFrom < this.order.length) {
      const tracked = this.order[this.orderFrom] as Tracked;
      if (this.pending.get(tracked.record.taskId) === tracked) return tracked;
      this.orderFrom += 1;
    }
    return undefined;
  }

  /** A run's new record, written with the next flush: as its first write, or as an update of it. */
  private change(tracked: Tracked, next: RunRecord): void {
    tracked.record = next;
    if (tracked.written) this.changed.add(tracked);
  }

  /**
   * Writes what waits once no run was published for recordDelayMs (OUTCOME_BURST_QUIET_MS when a
   * burst's runs wait): a burst's runs go in a few large writes after it, not during it, where they
   * would take Redis's one thread from the publish (measured: CHANGELOG.md's benchmark history). Runs published
   * without a pause (many entries due one after the other) are written every OUTCOME_RECORD_MAX_WAIT_MS
   * meanwhile, at most OUTCOME_RECORDS_WHILE_ARRIVING a time, oldest first: a stream's histories stay
   * current, and a burst's wait for its end. The task events, results and revokes heard meanwhile
   * change only runs already written (flushRecords(0)); a run not written yet takes its change with
   * its first write.
   */
  private recordSoon(): void {
    this.recordTimer ??= setTimeout(() => this.recordWhenQuiet(), this.recordDelayMs);
  }

  private recordWhenQuiet(): void {
    this.recordTimer = undefined;
    const arriving = this.arrived > 0;
    this.arrived = 0;
    this.quietForMs = arriving ? 0 : this.quietForMs + this.recordDelayMs;
    const burst = this.toRecord.length >= OUTCOME_RECORDS_WHILE_ARRIVING;
    if (!arriving && (!burst || this.quietForMs >= OUTCOME_BURST_QUIET_MS)) {
      this.burstFromMs = undefined;
      this.quietForMs = 0;
      void this.flushRecords();
      // How many runs were not followed is said once, when the burst is over.
      if (this.notFollowed > 0) this.sayNotFollowed();
      return;
    }
    if (!arriving) {
      this.recordSoon();
      return;
    }
    const now = this.o.clock.now();
    const oldest = this.toRecord[0]?.record.publishedAtMs;
    // A bound on what waits (memory): runs that finish as fast as they are published are followed
    // without end, so a long burst of them is written in parts of twice maxPending.
    if (this.toRecord.length >= 2 * this.maxPending) void this.flushRecords();
    else if (oldest !== undefined && now - Math.max(oldest, this.lastWrittenArrivingMs) >= OUTCOME_RECORD_MAX_WAIT_MS) {
      this.lastWrittenArrivingMs = now;
      void this.flushRecords(OUTCOME_RECORDS_WHILE_ARRIVING);
    }
    this.recordSoon();
  }

  private sayNotFollowed(): void {
    this.o.logger.warn(
      { event: EVENTS.outcomeNotFollowed, runs: this.notFollowed, maxPending: this.maxPending },
      `${this.notFollowed} runs were published while ${this.maxPending} runs (the most followed at once) were followed, for less than ${OUTCOME_FOLLOW_AT_LEAST_MS / 1000} s each: they are not followed, and their entries' histories do not record them; for bursts that large set taskEvents: false, or ignoreResult on their entries`,
    );
    this.notFollowed = 0;
  }

  /**
   * Writes the runs waiting to be recorded (the oldest `newRuns` of them, when given), then the
   * changes of runs written before, after the writes already under way; never rejects.
   */
  private flushRecords(newRuns?: number): Promise<void> {
    this.recording = this.recording.then(() => this.flushOnce(newRuns));
    return this.recording;
  }

  private async flushOnce(newRuns: number | undefined): Promise<void> {
    const runs = newRuns === undefined ? this.toRecord : this.toRecord.slice(0, newRuns);
    if (runs.length > 0) {
      this.toRecord = newRuns === undefined ? [] : this.toRecord.slice(runs.length);
      // Written from here: a change made while the write is under way is an update after it.
      for (const run of runs) run.written = true;
      try {
        await this.o.history.recordPublished(runs.map(asWritten));
        this.recovered();
      } catch (error) {
        // Kept for the next try; their outcomes are still read meanwhile. Some may have been
        // written before the failure (a write is several script calls, a reply can be lost): the
        // next try's push leaves those as they are, so each is also updated after it.
        for (const run of runs) {
          run.written = false;
          this.changed.add(run);
        }
        this.toRecord = runs.concat(this.toRecord);
        this.failed('recording published runs', error);
        return;
      }
    }
    if (this.changed.size === 0) return;
    const changes = [...this.changed];
    this.changed.clear();
    try {
      await this.o.history.recordChanges(changes.map(asWritten));
      this.recovered();
    } catch (error) {
      for (const run of changes) this.changed.add(run);
      this.failed('recording changed runs', error);
    }
  }

  /** One poll; never rejects. */
  poll(): Promise<void> {
    if (this.running) this.loseRunsOfGoneWorkers();
    if (this.busy !== undefined || !this.running) return this.busy ?? Promise.resolve();
    this.busy = this.pollOnce().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  private async pollOnce(): Promise<void> {
    if (this.o.results === undefined) return this.giveUpTimedOut();
    const all = [...this.pending.values()];
    if (all.length === 0) {
      await this.pollRevoked().catch((error: unknown) => this.failed('reading results of revoked runs', error));
      return;
    }
    const count = Math.min(all.length, this.readsPerPoll);
    const start = all.length > this.readsPerPoll ? this.cursor % all.length : 0;
    const chosen = Array.from({ length: count }, (_, i) => all[(start + i) % all.length] as Tracked);
    this.cursor = start + count;
    try {
      for (let from = 0; from < chosen.length && this.running; from += this.batch) {
        const part = chosen.slice(from, from + this.batch);
        // A canvas run's parts are read in its place (a group run has no result under its own id).
        const ids = part.map((t) => t.record.parts?.map((p) => p.id) ?? [t.record.taskId]);
        const read = this.o.results === undefined ? [] : await this.o.results.read(ids.flat());
        const now = this.o.clock.now();
        let at = 0;
        part.forEach((tracked, i) => {
          const metas = read.slice(at, at + (ids[i] as string[]).length);
          at += (ids[i] as string[]).length;
          // Finished by a task event while the results were read: not again.
          if (this.pending.get(tracked.record.taskId) !== tracked) return;
          const next =
            this.silenced(tracked, now) ??
            (tracked.record.parts === undefined
              ? advance(tracked.record, metas[0], now, this.o.timeoutMs)
              : advanceParts(tracked.record, metas, now, this.o.timeoutMs));
          if (next === tracked.record) return;
          this.change(tracked, next);
          if (isFinal(next.state)) this.finish(tracked);
        });
        await this.flushRecords(0);
      }
      await this.pollRevoked();
      this.recovered();
    } catch (error) {
      this.failed('reading results or writing run histories', error);
    }
  }

  /**
   * A poll without a result backend: nothing is read, and nothing but time moves a run here (task
   * events move it as they come, in `observed`), so only the runs past silenceMs or timeoutMs are
   * looked at, oldest first (`order`), at most readsPerPoll a poll, each given up in the poll after
   * its time. A poll that finds none stops at the oldest run followed: between bursts it walks
   * nothing, where looking at readsPerPoll runs a second in turn cost 10,000 every-minute entries a
   * walk of 2,000 runs a second, and gave each up whenever the turn reached it, up to 40 s late.
   * The order is that of publication (a clock stepped back gives a run up at most as much later).
   */
  private async giveUpTimedOut(): Promise<void> {
    const now = this.o.clock.now();
    const silenceMs = this.o.silenceMs;
    const afterMs = silenceMs === undefined || this.heard ? this.o.timeoutMs : Math.min(silenceMs, this.o.timeoutMs);
    const due: Tracked[] = [];
    // Past the runs finished at the head (those given up by the last poll), once.
    this.oldestPending();
    for (let i = this.orderFrom; i < this.order.length && due.length < this.readsPerPoll; i++) {
      const tracked = this.order[i] as Tracked;
      if (this.pending.get(tracked.record.taskId) !== tracked) continue;
      if (now - tracked.record.publishedAtMs <= afterMs) break;
      due.push(tracked);
    }
    try {
      for (const tracked of due) {
        const next =
          this.silenced(tracked, now) ??
          (tracked.record.parts === undefined
            ? advance(tracked.record, undefined, now, this.o.timeoutMs)
            : advanceParts(tracked.record, [], now, this.o.timeoutMs));
        if (next === tracked.record) continue;
        this.change(tracked, next);
        if (isFinal(next.state)) this.finish(tracked);
      }
      // As the reading poll does: the changes, and those a failed write left, are written now.
      if (this.changed.size > 0) await this.flushRecords(0);
      await this.pollRevoked();
      this.recovered();
    } catch (error) {
      this.failed('writing run histories', error);
    }
  }

  /** The runs STARTED on a worker that went away since the last poll: lost (see the top). */
  private loseRunsOfGoneWorkers(): void {
    const now = this.o.clock.now();
    const gone = this.liveness.gone(now);
    if (gone.size === 0) return;
    for (const tracked of this.pending.values()) {
      const { worker } = tracked;
      const left = worker === undefined ? undefined : gone.get(worker.hostname);
      if (worker === undefined || left === undefined || tracked.record.state !== 'STARTED') continue;
      // Started again: only what another process of it started is lost.
      if (left.pid !== undefined && (worker.pid === undefined || worker.pid === left.pid)) continue;
      const exception = `lost: its worker ${worker.hostname} ${left.why} while it ran`;
      this.change(tracked, { ...tracked.record, state: 'unknown', finishedAtMs: now, lost: true, exception });
      this.o.logger.warn(
        { event: EVENTS.outcomeWorkerLost, entry: tracked.entry, id: tracked.record.taskId, worker: worker.hostname },
        `run of ${tracked.entry} ${exception}`,
      );
      this.finish(tracked);
    }
    void this.flushRecords(0);
  }

  /** The run given up for want of any task event (task events by default, none heard), or undefined. */
  private silenced(tracked: Tracked, nowMs: number): RunRecord | undefined {
    const silenceMs = this.o.silenceMs;
    if (silenceMs === undefined || this.heard || nowMs - tracked.record.publishedAtMs <= silenceMs) return undefined;
    if (!this.silenceSaid) {
      this.silenceSaid = true;
      this.o.logger.warn(
        { event: EVENTS.taskEventsSilent, entry: tracked.entry, silenceMs },
        `no worker has sent a task event within ${Math.round(silenceMs / 1000)} s of a publish: the runs' outcomes are unknown (shown as such, never as failed); start the workers with -E (or worker_send_task_events), or set resultBackend`,
      );
    }
    return { ...tracked.record, state: 'unknown', finishedAtMs: nowMs, exception: NO_TASK_EVENTS };
  }

  /** The runs followed and not finished yet (for `late` alerts). */
  unfinished(): { entry: string; record: RunRecord }[] {
    return [...this.pending.values()].map(({ entry, record }) => ({ entry, record }));
  }

  /**
   * Reads the runs seen REVOKED again (at most readsPerPoll, one batch a call), and gives up those
   * published more than timeoutMs ago: their REVOKED stands.
   */
  private async pollRevoked(): Promise<void> {
    const now = this.o.clock.now();
    for (const [id, run] of this.revokedRuns) if (now - run.record.publishedAtMs > this.o.timeoutMs) this.revokedRuns.delete(id);
    if (this.revokedRuns.size === 0 || this.o.results === undefined || !this.running) return;
    const runs = [...this.revokedRuns.values()].slice(0, Math.min(this.batch, this.readsPerPoll));
    if (runs.length === 0) return;
    const metas = await this.o.results.read(runs.map((r) => r.record.taskId));
    runs.forEach((run, i) => {
      const meta = metas[i];
      if (meta?.state !== 'SUCCESS' && meta?.state !== 'FAILURE') return;
      this.endedAfterRevoke(run, advance(reopened(run.record), meta, now, this.o.timeoutMs));
    });
  }

  /** A run seen REVOKED whose `next` record is a SUCCESS or FAILURE: its history takes it (else nothing). */
  private endedAfterRevoke(run: Tracked, next: RunRecord): void {
    if (next.state !== 'SUCCESS' && next.state !== 'FAILURE') return;
    if (this.revokedRuns.get(run.record.taskId) !== run) return;
    this.revokedRuns.delete(run.record.taskId);
    this.change(run, next);
    const { entry } = run;
    this.o.logger.debug(
      { event: EVENTS.outcomeOverwritten, entry, id: next.taskId, state: next.state, revokedBy: next.revokedBy },
      `run of ${entry} ${next.state} after a REVOKED`,
    );
    void this.flushRecords(0);
  }

  private finish(tracked: Tracked): void {
    this.pending.delete(tracked.record.taskId);
    // Not held for an entry whose newest run is over (a burst would keep every one of its ids).
    if (this.newest.get(tracked.entry) === tracked.record.taskId) this.newest.delete(tracked.entry);
    for (const part of tracked.record.parts ?? []) this.partOwners.delete(part.id);
    if (tracked.record.state === 'REVOKED') this.revokedRuns.set(tracked.record.taskId, tracked);
    const r = tracked.record;
    this.o.logger.debug(
      { event: EVENTS.outcomeFinished, entry: tracked.entry, id: r.taskId, state: r.state, runtimeMs: r.runtimeMs, exception: r.exception },
      `run of ${tracked.entry} ${r.state}`,
    );
    // Its next attempt, if one follows, holds the entry before the listeners ask (a buffered slot stays).
    const next = this.o.nextAttempt?.(tracked.entry, r);
    if (next !== undefined) this.awaiting.set(tracked.entry, awaitingRun(next));
    this.o.events.finished(tracked.entry, r);
    for (const listener of this.finishedListeners) listener(tracked.entry);
  }

  private failed(what: string, error: unknown): void {
    if (this.failing) return;
    this.failing = true;
    // The error itself, not its text: during a Redis outage the logger's hook tells its "not reached" from other failures.
    this.o.logger.warn(
      { event: EVENTS.outcomeError, err: error },
      `run outcomes: ${what} failed (${errorMessage(error)}); the runs stay tracked and are tried again every ${this.pollMs} ms`,
    );
  }

  private recovered(): void {
    this.failing = false;
  }
}

/** What a history write takes of a followed run: its record as it is now. */
const asWritten = ({ entry, record, revision }: Tracked): RunToRecord => ({ entry, record, revision });

/** A REVOKED run's record made ready to take the end stored over it: not final, without the revoke's exception. */
function reopened(record: RunRecord): RunRecord {
  const { exception: _revokedWhy, ...rest } = record;
  return { ...rest, state: 'STARTED' };
}

/** A run's record after reading its result (`meta`, undefined when there is none yet) at `nowMs`; the same object when nothing changed. */
export function advance(record: RunRecord, meta: ResultMeta | undefined, nowMs: number, timeoutMs: number): RunRecord {
  if (meta !== undefined && isFinal(meta.state)) {
    const finishedAtMs = meta.doneAtMs ?? nowMs;
    // From publication: a Redis result holds no start time, and a start seen by polling is late by
    // up to a poll interval, which would shorten the runtime by as much.
    return {
      ...record,
      state: meta.state,
      finishedAtMs,
      runtimeMs: Math.max(0, finishedAtMs - record.publishedAtMs),
      ...(meta.exception === undefined ? {} : { exception: meta.exception }),
    };
  }
  if (nowMs - record.publishedAtMs > timeoutMs) return { ...record, state: 'unknown', finishedAtMs: nowMs, lost: true };
  if (meta === undefined || meta.state === 'PENDING' || meta.state === record.state) return record;
  // STARTED or RETRY: when it was first seen running (within a poll interval of its start).
  return {
    ...record,
    state: meta.state,
    startedAtMs: record.startedAtMs ?? nowMs,
    ...(meta.exception === undefined ? {} : { exception: meta.exception }),
  };
}

/** A canvas run's record after a task event of one of its parts (the event's worker time is the time); the same object when it changes nothing. */
export function partEvent(record: RunRecord, event: TaskEvent): RunRecord {
  const metas = (record.parts ?? []).map((p) =>
    p.id === event.taskId
      ? { state: event.state, doneAtMs: event.atMs, ...(event.exception === undefined ? {} : { exception: event.exception }) }
      : undefined,
  );
  return advanceParts(record, metas, event.atMs, Number.POSITIVE_INFINITY);
}

/**
 * A run's record after a task event; the same object when it changes nothing. task-started gives
 * the exact start; a final event gives the finish and the runtime: task-succeeded's own `runtime`,
 * else (task-failed, task-revoked carry none) from the start when one is known, else from publication.
 */
export function applyTaskEvent(record: RunRecord, event: TaskEvent): RunRecord {
  if (isFinal(record.state)) return record;
  const withException = event.exception === undefined ? {} : { exception: event.exception };
  switch (event.state) {
    case 'STARTED': {
      // The first start stands for the run (a retried run starts again under the same id).
      const startedAtMs = Math.min(record.startedAtMs ?? event.atMs, event.atMs);
      if (record.state === 'STARTED' && record.startedAtMs === startedAtMs) return record;
      return { ...record, state: 'STARTED', startedAtMs };
    }
    case 'RETRY':
      return { ...record, state: 'RETRY', ...withException };
    case 'PENDING':
      return record;
    default: {
      const from = record.startedAtMs ?? record.publishedAtMs;
      // A success after retries keeps no retry's exception.
      const { exception: _retried, ...rest } = record;
      return {
        ...(event.state === 'SUCCESS' ? rest : record),
        state: event.state,
        finishedAtMs: event.atMs,
        runtimeMs: event.runtimeMs ?? Math.max(0, event.atMs - from),
        ...withException,
      };
    }
  }
}

/** A slot's attempt waiting out its backoff, as the run in progress (OutcomeTracker.awaiting): PENDING, "published" when due. */
function awaitingRun(attempt: PendingAttempt): RunRecord {
  return {
    taskId: attempt.taskId,
    slotMs: attempt.slotMs,
    publishedAtMs: attempt.dueMs,
    state: 'PENDING',
    attempt: attempt.attempt,
    retryOf: attempt.retryOf,
  };
}
