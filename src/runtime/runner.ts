/**
 * The scheduler loop of a leader. It wakes when the first entry of the book is due (at the latest
 * after `maxInterval`), publishes what is due then and sleeps again. Each part has its own module:
 *
 * - entry-book.ts: what is due at an instant and what to record after a dispatch (pure);
 * - dispatch-window.ts: publishing what is due, batch by batch, each run rendered as its Celery
 *   message from its entry's template (RunRenderer), and recording it;
 * - warm-up.ts: message templates compiled while it sleeps, so that an instant finds them ready.
 *
 * Clocks: the injected Clock is the wall clock, which slots and due instants are read on (a clock
 * step is then a step of the schedule, which the book and the missed-run policy handle);
 * performance.now() is monotonic and measures only durations: the health check's "last woke up".
 * It wakes by plain Node timers, which fire about a millisecond after their time; one that finds the
 * wall clock short of the instant it was armed for is armed again for the rest.
 *
 * It never sleeps longer than `maxInterval`, re-reads the clock on every wake-up, and treats early
 * and late wake-ups alike: whatever is due at the current instant runs, nothing else.
 */
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { DEFAULTS } from '../base/defaults.js';
import { within } from '../base/within.js';
import type { Pause } from '../base/pause-watch.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { Clock } from '../ports/clock.js';
import type { Dispatcher, SlotAhead } from '../ports/dispatcher.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { EntryState, StateStore } from '../ports/state.js';
import { deadLettersOf, retryPolicyOf } from '../config/retry-schema.js';
import type { RunningRuns } from '../ports/outcomes.js';
import { checkedNames } from './before-publish.js';
import type { BeforePublish } from './before-publish.js';
import { RunRenderer, dispatchDue } from './dispatch-window.js';
import type { CheckedWakeUp, DispatchWindowOptions } from './dispatch-window.js';
import { EntryBook } from './entry-book.js';
import { WarmUp } from './warm-up.js';
import { EntryFailures } from './entry-backoff.js';
import { OverlapGate } from './overlap.js';
import { ConcurrencyGate } from './concurrency-gate.js';
import type { WaitingRunsStore } from '../ports/waiting-runs.js';
import type { Revoker } from '../ports/revoker.js';
import type { BookSnapshot } from './entry-book.js';
import type { ScheduleError } from '../base/step-budget.js';
import type { DeploymentStop } from '../ports/control-source.js';
import { stepsSpent } from '../base/step-budget.js';

/** A new leader waits this long at most for the runs the last one left running, before its first wake-up. */
const OVERLAP_READY_WAIT_MS = 3000;
/**
 * Longest wait, when a leader stops, for the publish in flight. A healthy publish takes
 * milliseconds; one on a black-holed connection may never settle, and stopping must not wait for it
 * (the fence and the per-slot check still decide if it reaches Redis later).
 */
export const STOP_PUBLISH_WAIT_MS = 5000;
/**
 * How much further off an instant may be when its timer fires than when it was armed, before the
 * wall clock is taken to have stepped back (armAt): more than a timer's own drift.
 */
const STEPPED_BACK_MS = 4;

export interface RunnerOptions {
  readonly config: ResolvedConfig;
  readonly dispatcher: Dispatcher;
  readonly state: StateStore;
  /** The wall clock slots are read on (see the header). */
  readonly clock: Clock;
  readonly logger: Logger;
  readonly messageEnv: MessageEnv;
  /** The fence token to publish with, or undefined when this instance must not publish now. */
  readonly lease: () => string | undefined;
  /** Called when the dispatcher reports that another instance holds the fence. */
  readonly onFenced: () => void;
  /**
   * The last run of each entry that this process saw published while it led before (see
   * `lastRuns()`), by knownRunKey (a runtime entry's belong to its incarnation): a stored state
   * missing or older than this was lost, and is not trusted.
   */
  readonly knownRuns?: ReadonlyMap<string, number>;
  /** For the entries that never ran, how far this process had settled their slots (see `firstSightings()`, EntryBook.load). */
  readonly knownSightings?: ReadonlyMap<string, number>;
  /**
   * Entries whose lost state an earlier session of this process reported and that have not run
   * since: their stored state still predates what this process knew, so they are found lost
   * again, but said once (a reload or a regained lock does not report them again).
   */
  readonly lostReported?: ReadonlySet<string>;
  /** Where published runs and lost states are reported (`stateLost` once at start, see `knownRuns`). */
  readonly events?: SchedulerEvents;
  /** Called when the dispatcher refused a slot ahead of Redis's clock (this clock is ahead): nothing was published. */
  readonly onClockAhead?: (ahead: SlotAhead) => void;
  /**
   * Called with each failed publish of a batch (thrown, or only part of it out), after `events`
   * heard of it; the runs left stay due and are tried again after a backoff. The leadership's
   * holder hands over on a refusal that retrying cannot fix.
   */
  readonly onPublishFailed?: (error: unknown) => void;
  /** Which entries' previous runs are still running (the outcome tracker), for overlap policies; undefined = none known. */
  readonly running?: RunningRuns;
  /** Revokes previous runs for overlap cancelOther and terminateOther; undefined on a broker without Celery's remote control. */
  readonly revoker?: Revoker;
  /** Where runs wait for a place in their concurrency group; without it (or `running`) groups limit nothing. */
  readonly waiting?: WaitingRunsStore;
  /** Whether a group's runs may wait (the broker's publish takes part in a Redis script); false: a full group's runs are passed over. */
  readonly groupsWait?: boolean;
  /** Runs of these runtime entries were refused as superseded: read the runtime entries again (applyChanges follows). */
  readonly onSuperseded?: (names: readonly string[]) => void;
  /** Read before you publish (runtime entries); without it the runner publishes from what it holds. */
  readonly readFirst?: RunnerReadFirst;
  /** Entries of its origins are checked before each publish of them; the wake-up publishes what was due when it began. */
  readonly beforePublish?: BeforePublish;
}

/**
 * What a runner with runtime entries reads before publishing after a gap. The two go together: the
 * pause watch is the one way a runner learns that the process was held up, so one that reads first
 * always has it.
 */
export interface RunnerReadFirst {
  /**
   * Brings the runtime entries up to date (their changes come through applyChanges before it
   * resolves): awaited before publishing after a pause `pauses` noticed, or after a failed
   * publish. It must resolve in bounded time (ReadFirst).
   */
  readonly read: () => Promise<void>;
  /**
   * The last pause of the process noticed (base/pause-watch.ts), watched from shortly before each
   * publish (`watchFrom`, monotonic ms; undefined when nothing is due).
   */
  readonly pauses: { last(): Pause | undefined; watchFrom(fromMs: number | undefined): void };
}

export class Runner {
  private readonly book: EntryBook;
  /** The armed wake-up, if one is. */
  private timeout: NodeJS.Timeout | undefined;
  private readonly warmUp: WarmUp;
  private readonly window: DispatchWindowOptions;
  private readonly renderer: RunRenderer;
  /** Concurrency groups, shared with the control loop (which releases the waiting runs). */
  readonly concurrency: ConcurrencyGate | undefined;
  private running = false;
  /** Ends the listening to the outcome tracker's finished runs (bufferOne's released slot). */
  private stopHearingFinished: (() => void) | undefined;
  /** Changes of runtime entries are applied one after the other, and only once the book is loaded. */
  private changes: Promise<void> = Promise.resolve();
  private loaded: Promise<void> | undefined;
  /** The tick running, if one is: ticks never overlap. */
  private inFlight: Promise<void> | undefined;
  /** A wake-up was asked for while a tick ran (a resume, say): honoured as soon as it ends. */
  private wakeAfterTick = false;
  /** When the loop last woke up (performance.now(), immune to clock steps), for the health check; 0 before the first. */
  lastWakeMs = 0;
  /** When the armed wake-up is meant to come (performance.now()): how late it came is told with a pause. */
  private plannedWakeMs = 0;
  /** The last publish failed (Redis or the broker gone, say): read the runtime entries before the next. */
  private publishFailed = false;
  /** The armed wake-up is the backoff after a failed publish (publishRetryMs): a reconnect cuts it short. */
  private backingOff = false;
  /** The next wake-up is the early try a reconnect asked for (reconnected): if it fails, no other is. */
  private resuming = false;
  /** When the last pause read for ended (`readFirst.pauses`): each pause is read for once. */
  private pauseReadEndMs: number | undefined;
  /**
   * The deployment is stopped (`beat pause --all`), as the control loop last read it or a publish
   * script answered: no wake-up publishes, and the book keeps every entry's cursor, so that on
   * resume each entry's catchUp decides what of the slots that passed is published late.
   */
  private stopped = false;
  /** The stop as the control loop last read it (undefined: not read yet, or not stopped): what its alerts name. */
  private stopSeen: DeploymentStop | undefined;
  /** The paused names last applied (setPaused), for pausedCount. */
  private pausedNames: ReadonlySet<string> = new Set();
  /** How many entries it schedules (its book's): the entries a replica holds, in /metrics. */
  readonly entryCount = (): number => this.book.size();

  constructor(private readonly options: RunnerOptions) {
    const { config, dispatcher, clock, logger, lease } = options;
    this.book = new EntryBook({
      maxIntervalMs: config.maxIntervalMs,
      onKeyed: (held) => this.warmUp.keyed(held),
      onScheduleFailure: (held, error, nowMs) => this.scheduleFailed(held.entry, error, nowMs),
    });
    const renderer = new RunRenderer(config, options.messageEnv);
    this.renderer = renderer;
    this.warmUp = new WarmUp({ book: this.book, renderer, clock, idle: () => this.running && this.inFlight === undefined });
    const events = options.events ?? NO_EVENTS;
    const runLog = { logger, events, dryRun: dispatcher.dryRun === true };
    const { running, waiting } = options;
    this.concurrency =
      running === undefined || waiting === undefined
        ? undefined
        : new ConcurrencyGate({
            store: waiting,
            running,
            groupOf: (name) => this.book.entry(name)?.concurrency,
            logger,
            deployment: config.name,
            canWait: options.groupsWait ?? true,
          });
    this.window = {
      book: this.book,
      renderer,
      dispatcher,
      clock,
      logger,
      runLog,
      // A stop ends a burst at its next batch (the rest stays due for the next leader), rather than
      // after its last: a SIGTERM during a long burst waited for all of it.
      lease: () => (this.running ? lease() : undefined),
      onFenced: options.onFenced,
      onStopped: () => this.stoppedByScript(),
      onClockAhead: options.onClockAhead,
      onPublishFailed: options.onPublishFailed,
      overlap: new OverlapGate(options.running, runLog, options.revoker),
      concurrency: this.concurrency,
      onSuperseded: options.onSuperseded,
      failures: new EntryFailures(),
    };
  }

  /**
   * An entry whose schedule cannot be computed (its step budget spent, or a slot that does not
   * advance: base/step-budget.ts) fails alone, as a refused run does (dispatch-window.ts, contain): the
   * same failure record with the error as its reason (status, the API, the dashboard, metrics),
   * logged once per reason, tried again after its backoff. Answers when.
   */
  private scheduleFailed(entry: ResolvedEntry, error: ScheduleError, nowMs: number): number {
    const { failure, changed } = this.window.failures.refused(entry.name, error.message, nowMs);
    if (changed)
      this.options.logger.error(
        {
          event: EVENTS.entryFailing,
          entry: entry.name,
          task: entry.task,
          code: error.code,
          reason: failure.reason,
          retryInMs: failure.retryAtMs - nowMs,
        },
        `entry "${entry.name}" cannot be scheduled: ${failure.reason}; tried again with a backoff, the other entries go on`,
      );
    this.window.runLog.events.entryRefused?.(failure, changed);
    return failure.retryAtMs;
  }

  /**
   * Loads the stored state and starts the loop, with the config file's entries and `runtimeEntries`
   * (those of the runtime sources: the store, RedBeat, django), whose later changes come through
   * applyChanges.
   */
  start(runtimeEntries: readonly ResolvedEntry[] = []): Promise<void> {
    this.loaded = this.load(runtimeEntries);
    return this.loaded;
  }

  /**
   * Applies changes of runtime entries: `removed` ones leave the book at once; then `changed` ones are added or take their new definition (a disabled one leaves the
   * book). A name in both was re-created: it starts afresh from its stored state.
   * Changes wait for the start and for each other, so that they apply in order.
   */
  applyChanges(changed: readonly ResolvedEntry[], removed: readonly string[]): Promise<void> {
    const apply = async (): Promise<void> => {
      await this.loaded;
      if (!this.running) return;
      const { state, clock } = this.options;
      const gone = [...removed, ...changed.filter((e) => !e.enabled).map((e) => e.name)];
      const kept = changed.filter((e) => e.enabled);
      // A name both removed and changed was deleted and created again: it joins afresh.
      const leaving = new Set(removed);
      const freshEntries = kept.filter((e) => leaving.has(e.name) || !this.book.has(e.name));
      const fresh = freshEntries.map((e) => e.name);
      let revisions: Map<string, string> | undefined;
      // In slices, as at the start: a large import reaches a leader in one change.
      await inSlices(freshEntries, (slice) => (revisions = revisionsOf(slice, revisions)));
      const stored = fresh.length === 0 ? new Map<string, EntryState>() : await state.load(fresh, clock.now(), revisions);
      if (!this.running) return;
      for (const entry of this.book.remove(gone)) {
        this.renderer.forget(entry);
        if (this.window.failures.clear(entry.name) !== undefined) this.window.runLog.events.entryFailureCleared?.(entry.name, false);
      }
      if (gone.length > 0) this.window.runLog.events.entriesRemoved?.(gone);
      const nowMs = clock.now();
      await bySteps(kept, (entry) => {
        for (const replaced of this.book.upsert([entry], stored, nowMs)) this.renderer.forget(replaced);
      });
      this.wake(0);
    };
    this.changes = this.changes.then(apply, apply);
    return this.changes;
  }

  /** The entry of this name the scheduler runs now (a file or runtime entry), if any. */
  entry(name: string): ResolvedEntry | undefined {
    return this.book.entry(name);
  }

  private async load(runtimeEntries: readonly ResolvedEntry[]): Promise<void> {
    const { config, clock, state, logger } = this.options;
    const all = runtimeEntries.length === 0 ? config.entries : [...config.entries, ...runtimeEntries];
    const enabled = all.filter((e) => e.enabled);
    let revisions: Map<string, string> | undefined;
    await inSlices(enabled, (slice) => (revisions = revisionsOf(slice, revisions)));
    const stored = await state.load(
      enabled.map((e) => e.name),
      clock.now(),
      revisions,
    );
    // Overlap policies need the runs the last leader left running: a failover must not find them finished.
    await this.runsStillRunningKnown();
    const lost: string[] = [];
    const loadedAtMs = clock.now();
    await inSlices(enabled, (slice) => {
      for (const name of this.book.load(slice, stored, loadedAtMs, this.options.knownRuns, this.options.knownSightings))
        if (this.options.lostReported?.has(name) !== true) lost.push(name);
    });
    if (lost.length > 0) {
      logger.warn(
        { event: EVENTS.stateLost, entries: lost.length, examples: lost.slice(0, 5) },
        'the stored state is missing or older than the runs this instance saw published (Redis lost data: a restart without persistence, a flush, or a failover to a lagging replica); continuing from the last runs this instance knew',
      );
      (this.options.events ?? NO_EVENTS).stateLost(lost);
    }
    this.running = true;
    void this.followUnrecorded(enabled, stored).finally(() => this.concurrency?.known());
    // A finished run may release its entry's buffered slot (overlap "bufferOne"): look at once.
    this.stopHearingFinished = this.options.running?.onFinished((entry) => {
      if (this.book.isBuffered(entry)) this.wake(0);
    });
    logger.info({ event: EVENTS.start, entries: enabled.length, disabled: all.length - enabled.length }, 'scheduling');
    this.wake(0);
  }

  /**
   * The last run each entry's state says was published, followed when its history may not hold it:
   * a leader killed within a moment of a publish (its tracker writes runs a moment later) leaves
   * runs nobody follows, whose failure would then schedule no retry, go to no dead-letter list and
   * hold no place in a concurrency group. Only for entries where that matters (a retry policy, dead
   * letters, a group), published within outcomeTimeout; not a run of a group that waits (its slot
   * taken, not published), nor a manual run or a canvas. Never throws: what it cannot read stays
   * as before (the run's outcome unknown to this leader).
   */
  private async followUnrecorded(entries: readonly ResolvedEntry[], stored: ReadonlyMap<string, EntryState>): Promise<void> {
    const { running, waiting, config, clock, logger } = this.options;
    if (running?.followRun === undefined) return;
    try {
      await running.ready();
      const now = clock.now();
      for (const entry of entries) {
        const state = stored.get(entry.name);
        const { slotMs, lastTaskId, publishedAtMs } = state ?? {};
        if (slotMs === undefined || lastTaskId === undefined || publishedAtMs === undefined || state?.lastRunTriggered === true) continue;
        if (now - publishedAtMs > config.outcomeTimeoutMs || entry.options.ignoreResult === true || entry.canvas !== undefined) continue;
        if (retryPolicyOf(entry, config) === undefined && !deadLettersOf(entry, config) && entry.concurrency === undefined) continue;
        if (entry.concurrency !== undefined && (await waiting?.waitsAt(entry.name, slotMs)) === true) continue;
        await running.followRun(entry.name, lastTaskId, slotMs, entry.revision, undefined, true);
      }
    } catch (error) {
      logger.warn(
        { event: EVENTS.outcomeError, err: error },
        'could not look for the runs the last leader published without writing them; their outcomes may be unknown',
      );
    }
  }

  /** Waits for the outcome tracker's start, at most OVERLAP_READY_WAIT_MS (a Redis that does not answer is the state's problem too). */
  private async runsStillRunningKnown(): Promise<void> {
    const { running } = this.options;
    if (running === undefined) return;
    await within(running.ready(), OVERLAP_READY_WAIT_MS, () => undefined);
  }

  /** Applies the paused set (see EntryBook.setPaused); a resumed entry may be due at once. */
  setPaused(paused: ReadonlySet<string>): void {
    const { logger } = this.options;
    this.pausedNames = paused;
    const change = this.book.setPaused(paused, this.options.clock.now());
    for (const entry of change.paused) logger.info({ event: EVENTS.pause, entry }, 'paused');
    for (const entry of change.resumed) logger.info({ event: EVENTS.resume, entry }, 'resumed');
    // The slots that passed while paused never run: reported as missed (a "missed" alert says so).
    const now = this.options.clock.now();
    for (const { entry, count, firstSlotMs, lastSlotMs } of change.passed)
      (this.options.events ?? NO_EVENTS).missed({ entry, count, reason: 'paused', firstSlotMs, atMs: now, lastSlotMs });
    if (change.resumed.length > 0) this.wake(0);
  }

  /**
   * Applies the deployment-wide stop as the control loop read it (undefined: not stopped). A lifted
   * stop wakes the loop at once: each entry's slots that passed meanwhile are planned by its catchUp
   * (core/schedule.ts planDue), as slots missed while nobody led.
   */
  setDeploymentStop(stop: DeploymentStop | undefined): void {
    const { logger } = this.options;
    const events = this.options.events ?? NO_EVENTS;
    const seen = this.stopSeen;
    if (stop !== undefined && (seen === undefined || seen.atMs !== stop.atMs || seen.by !== stop.by)) {
      this.stopSeen = stop;
      events.deploymentStop?.({ stop, lifted: false, atMs: this.options.clock.now() });
    }
    if (stop === undefined && seen !== undefined) {
      this.stopSeen = undefined;
      events.deploymentStop?.({ stop: seen, lifted: true, atMs: this.options.clock.now() });
    }
    if ((stop !== undefined) === this.stopped) return;
    this.stopped = stop !== undefined;
    if (stop !== undefined) {
      logger.warn(
        {
          event: EVENTS.deploymentStop,
          by: stop.by,
          since: new Date(stop.atMs).toISOString(),
          ...(stop.note === undefined ? {} : { note: stop.note }),
        },
        "the deployment is stopped (beat pause --all): publishing nothing until 'beat resume --all'",
      );
      return;
    }
    logger.info(
      { event: EVENTS.deploymentStop, cleared: true },
      "the deployment-wide stop was lifted: each entry's catchUp decides what of the slots that passed is published now",
    );
    this.wake(0);
  }

  /** A publish script refused because the deployment is stopped, before the control loop had read it. */
  private stoppedByScript(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.options.logger.warn(
      { event: EVENTS.deploymentStop, by: 'publish script' },
      "the publish script refused: the deployment is stopped (beat pause --all); publishing nothing until 'beat resume --all'",
    );
  }

  /** Whether this leader holds the deployment stopped (see setDeploymentStop). */
  isStopped(): boolean {
    return this.stopped;
  }

  /** The last slot known published of every entry that has one, by knownRunKey: `knownRuns` for the next session. */
  lastRuns(): Map<string, number> {
    return this.book.lastRuns();
  }

  /** How far the slots of every entry that never ran are settled, by knownRunKey: `knownSightings` for the next session. */
  firstSightings(): Map<string, number> {
    return this.book.firstSightings();
  }

  /** Every entry's next slot and paused flag, for metrics and status. */
  snapshot(): Generator<BookSnapshot> {
    return this.book.snapshot();
  }

  /** How many of the entries scheduled are paused. */
  pausedCount(): number {
    let count = 0;
    for (const name of this.pausedNames) if (this.book.has(name)) count += 1;
    return count;
  }

  /** One entry's next slot and paused flag as the book has them; undefined when it is not in the book. */
  view(name: string): BookSnapshot | undefined {
    return this.book.view(name);
  }

  /**
   * Redis is back (its client reconnected): a wake-up backing off after a failed publish tries
   * again now, not up to publishRetryMs later. One such early try per failure: if it fails too, the
   * loop sleeps the whole backoff whatever reconnects meanwhile, so that a connection that comes
   * back and drops again at once costs at most one extra wake-up a backoff, never a loop.
   */
  reconnected(): void {
    if (!this.backingOff || !this.running) return;
    this.backingOff = false;
    this.resuming = true;
    this.options.logger.info({ event: EVENTS.publishResume }, 'Redis is back: publishing what is due now');
    this.wake(0);
  }

  /**
   * Stops the loop after the dispatch in flight (if any) has finished, waiting for it at most
   * STOP_PUBLISH_WAIT_MS: a dispatch on a connection that went silent (black-holed, not
   * closed) may never settle, and every later leadership change and SIGTERM wait for this stop. Not
   * waiting longer is safe: if that publish does reach Redis later, the fence and the per-slot check
   * in the script still decide, as for any deposed leader.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.backingOff = false;
    this.stopHearingFinished?.();
    this.stopHearingFinished = undefined;
    this.disarm();
    const inFlight = this.inFlight;
    // Its kept templates go back to the room once nothing renders.
    if (inFlight === undefined) return this.renderer.forgetAll();
    const settled = inFlight.then(
      () => false,
      () => false,
    );
    const gaveUp = await within(settled, STOP_PUBLISH_WAIT_MS, () => true);
    if (gaveUp) {
      this.options.logger.warn(
        { event: EVENTS.stopUnsettled, waitedMs: STOP_PUBLISH_WAIT_MS },
        'the publish in flight has not finished; stopping without it (the fence still guards it)',
      );
      void settled.then(() => this.renderer.forgetAll());
    } else this.renderer.forgetAll();
  }

  /**
   * Arms the next tick `delayMs` from now, or at `instantMs` when a tick named the instant it
   * sleeps until: for that instant when an entry is due by then (armAt), else for the `maxInterval`
   * re-check. Compiles ahead meanwhile (warm-up.ts).
   */
  private wake(delayMs: number, instantMs?: number): void {
    if (!this.running) return;
    if (this.inFlight !== undefined) {
      this.wakeAfterTick = true;
      return;
    }
    const now = this.options.clock.now();
    const dueMs = instantMs ?? now + Math.max(0, delayMs);
    const sleepMs = Math.max(0, dueMs - now);
    const monotonicNow = performance.now();
    this.plannedWakeMs = monotonicNow + sleepMs;
    const nextDueMs = this.book.nextDueMs();
    // Pauses matter to a publish that follows them closely: one that ended longer than a read
    // of the runtime entries may take (readFirstMaxMs) before it left the reads it held up time
    // to end. Before that the watch rests, so that an idle leader is not woken for it. A publish
    // this did not foresee (a released buffered run, a resumed or changed entry due at once)
    // after a pause in the rest is not read for: the script still refuses a store entry's run
    // that was edited or deleted meanwhile (superseded: read, then tried again), and RedBeat's
    // and django's entries are checked before each publish of them (beforePublish).
    this.options.readFirst?.pauses.watchFrom(
      nextDueMs === undefined ? undefined : monotonicNow + (nextDueMs - now) - DEFAULTS.readFirstMaxMs,
    );
    if (nextDueMs !== undefined && nextDueMs <= dueMs) {
      // A clock that does not get there (stepped back) is looked at again from timers, never
      // later than maxInterval, so that a further step is seen.
      this.armAt(
        dueMs,
        () => this.fire(),
        (leftMs) => this.wake(Math.min(leftMs, this.options.config.maxIntervalMs)),
      );
    } else {
      this.disarm();
      this.timeout = setTimeout(() => {
        this.timeout = undefined;
        this.fire();
      }, sleepMs);
    }
    if (sleepMs > 0) this.warmUp.whileSleeping(sleepMs);
  }

  /**
   * Calls `fire` once the wall clock reads `dueMs`, replacing the armed wake-up. A timer that finds
   * the clock short of it (a timer fires early by its loop's cached clock) is armed again for the
   * rest; one that finds it further off than when armed, by more than STEPPED_BACK_MS, calls
   * `behind` with how far it still is instead (the clock stepped back: the caller decides when to
   * look again).
   */
  private armAt(dueMs: number, fire: () => void, behind: (leftMs: number) => void): void {
    this.disarm();
    const { clock } = this.options;
    const leftMs = Math.max(0, dueMs - clock.now());
    this.timeout = setTimeout(() => {
      this.timeout = undefined;
      const nowMs = clock.now();
      if (nowMs >= dueMs) fire();
      else if (dueMs - nowMs > leftMs + STEPPED_BACK_MS) behind(dueMs - nowMs);
      else this.armAt(dueMs, fire, behind);
    }, leftMs);
  }

  private disarm(): void {
    if (this.timeout !== undefined) clearTimeout(this.timeout);
    this.timeout = undefined;
  }

  private fire(): void {
    if (!this.running) return;
    this.inFlight = this.tick().then(
      (next) => {
        this.inFlight = undefined;
        const again = this.wakeAfterTick;
        this.wakeAfterTick = false;
        if (again) this.wake(0);
        else this.wake(next.delayMs, next.instantMs);
      },
      () => {
        this.inFlight = undefined;
      },
    );
  }

  /** One wake-up: publishes what is due; returns how long to sleep (until the next due instant, at most maxInterval). */
  private async tick(): Promise<NextWake> {
    this.lastWakeMs = performance.now();
    const resumed = this.resuming;
    this.resuming = false;
    this.backingOff = false;
    const { clock, config, logger } = this.options;
    // Stopped: nothing is taken off the book, so every cursor stays where the last publish left it.
    if (this.stopped) return { delayMs: config.maxIntervalMs };
    const { readFirst } = this.options;
    // The pause watch, not this wake-up's lateness, tells of a pause: a timer set for a slot that
    // fell due just as a pause ended fires nearly on time, and a timer held up by a pause is one
    // the watch's beats were held up by too.
    const pause = readFirst?.pauses.last();
    const paused = pause !== undefined && pause.endMs !== this.pauseReadEndMs ? pause : undefined;
    if (readFirst !== undefined && (paused !== undefined || this.publishFailed)) {
      // Read before you publish: what was known before a pause or an outage may have been edited
      // or deleted since.
      if (paused !== undefined) {
        const lateMs = Math.round(this.lastWakeMs - this.plannedWakeMs);
        logger.info(
          { event: EVENTS.gapNoticed, lateMs, pausedMs: Math.round(paused.lengthMs) },
          'paused (held up since the last beat of the pause watch): reading the runtime entries again before publishing',
        );
      }
      if (pause !== undefined) this.pauseReadEndMs = pause.endMs;
      this.publishFailed = false;
      await readFirst.read();
      if (!this.running) return { delayMs: config.maxIntervalMs };
    }
    const checked = await checkWakeUp(this.options.beforePublish, clock, {
      due: (atMs) => this.book.dueBy(atMs),
      releasable: (atMs) => this.window.overlap.releasable(this.book, atMs),
    });
    if (!this.running) return { delayMs: config.maxIntervalMs };
    try {
      const token = this.options.lease();
      if (token !== undefined) {
        const now = checked?.atMs ?? clock.now();
        await dispatchDue(this.window, token, now, checked);
      }
    } catch (error) {
      logger.error({ event: EVENTS.publishRetry, err: error }, 'publishing failed; retrying');
      this.publishFailed = true;
      this.backingOff = !resumed;
      // The runs it left due sit first in the book with a key of "now": letting them shorten the
      // sleep would retry at once, in a hot loop, for as long as Redis is down. The backoff wins,
      // and it is not capped by maxInterval either.
      return { delayMs: DEFAULTS.publishRetryMs };
    }
    const nextDueMs = this.book.nextDueMs();
    const now = clock.now();
    if (nextDueMs === undefined || nextDueMs - now >= config.maxIntervalMs) return { delayMs: config.maxIntervalMs };
    // The instant itself, not "now + delay" read again when the timer is armed: a millisecond
    // between the two would publish the slot a millisecond after its instant.
    return nextDueMs > now ? { delayMs: nextDueMs - now, instantMs: nextDueMs } : { delayMs: nextDueMs - now };
  }
}

/** What a tick leaves: how long to sleep, and the entry's instant it sleeps until, if it is one. */
interface NextWake {
  readonly delayMs: number;
  readonly instantMs?: number;
}

/** The revisions of the runtime entries among `entries` (StateStore.load), added to `out`; undefined when none has one. */
function revisionsOf(entries: readonly ResolvedEntry[], out?: Map<string, string>): Map<string, string> | undefined {
  for (const entry of entries) if (entry.revision !== undefined) (out ??= new Map()).set(entry.name, entry.revision);
  return out;
}

/**
 * A session fills its book, and takes in a change, this many entries at a time, serving the event
 * loop (the lock's renewals, the slots due, /healthz) between: some 15 ms of an idle core. At
 * 10,000, a bulk write of 9,000 new entries went into the book in one task of 130 ms (issue 66).
 */
const BOOK_LOAD_SLICE = 1000;
/**
 * Steps a leader's settling of changed entries may spend between two turns of the event loop:
 * some milliseconds, so that a change of many costly entries keeps the slots.
 */
const CHANGE_SLICE_STEPS = 2500;

/**
 * Hands `items` to `each` one at a time, serving the event loop whenever their schedule
 * computations have spent CHANGE_SLICE_STEPS since the last turn (and every
 * BOOK_LOAD_SLICE items): a change of costly entries written at once (rare rules accepted,
 * each within its step budget, some milliseconds) is not settled in one task that holds the slots
 * and /healthz for hundreds of milliseconds. Steps, not the clock: the same turns on any machine.
 */
async function bySteps<T>(items: readonly T[], each: (item: T) => void): Promise<void> {
  let fromSteps = stepsSpent();
  let inSlice = 0;
  for (const item of items) {
    if (stepsSpent() - fromSteps >= CHANGE_SLICE_STEPS || inSlice >= BOOK_LOAD_SLICE) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      fromSteps = stepsSpent();
      inSlice = 0;
    }
    each(item);
    inSlice += 1;
  }
}

/**
 * Hands `items` to `each` BOOK_LOAD_SLICE at a time, serving the event loop between slices:
 * a session's start over a large catalog in one task held it for seconds (the lock's renewals too,
 * past its TTL on a busy machine).
 */
async function inSlices<T>(items: readonly T[], each: (slice: readonly T[]) => unknown): Promise<void> {
  for (let from = 0; from < items.length; from += BOOK_LOAD_SLICE) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    each(items.slice(from, from + BOOK_LOAD_SLICE));
  }
}

/** What a wake-up holds at an instant: the entries due then (the book's), and those whose buffered slot it would release then (OverlapGate.releasable). */
interface WakeUpView {
  due(atMs: number): Iterable<{ readonly entry: ResolvedEntry }>;
  releasable(atMs: number): Iterable<ResolvedEntry>;
}

/** The instant a wake-up's check looked at, and the buffered slots the wake-up may release (checked then, or of an origin not checked). */
interface CheckedInstant extends CheckedWakeUp {
  readonly atMs: number;
}

/**
 * A wake-up's check (Runner): reads the clock, checks the entries of the checked origins due then
 * and those whose buffered slot is released then, and returns that instant, which the wake-up then
 * publishes at: a change that returned before a slot of theirs is in force for it (what fell due
 * during the check waits for the next wake-up, at once). That instant holds when none was due too:
 * a slot that falls due while the process is held up before the publish (preempted, stopped) is one
 * no check has seen. So for a buffered slot of theirs: only one released at that instant is released
 * by the wake-up (`mayRelease`); one whose previous run finished during the check waits for the next
 * wake-up (the finish asks for one) and its check. Undefined when no origin is checked: the wake-up
 * publishes at the current instant.
 */
async function checkWakeUp(before: BeforePublish | undefined, clock: Clock, view: WakeUpView): Promise<CheckedInstant | undefined> {
  if (before === undefined || before.origins.size === 0) return undefined;
  const { origins } = before;
  const atMs = clock.now();
  const released = [...view.releasable(atMs)];
  const due = checkedNames(dueThenReleased(view.due(atMs), released), origins);
  if (due !== undefined) await before.check(due);
  const seen = new Set(released.map((e) => e.name));
  return { atMs, mayRelease: (entry) => entry.origin === undefined || !origins.has(entry.origin) || seen.has(entry.name) };
}

function* dueThenReleased(due: Iterable<{ readonly entry: ResolvedEntry }>, released: readonly ResolvedEntry[]): Generator<ResolvedEntry> {
  for (const { entry } of due) yield entry;
  yield* released;
}
