/**
 * Owns the changes of leadership: the leader's session (scheduler and control loops) starts when the
 * lock is won and stops when it is lost, handed over, or the config is reloaded. Changes are applied
 * one at a time, in order: a session is fully stopped (its publish in flight finished) before the
 * next starts, and a reload is applied between two sessions. Across sessions it keeps what the next
 * one must know (the last runs seen published) and what readiness reports (stored state found lost).
 */
import type { MessageEnv } from '../celery/message.js';
import { entryScopeOf } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { configFingerprint, fingerprintFields } from '../control/fingerprint.js';
import type { ConfigFingerprint } from '../control/fingerprint.js';
import { isKeyFault } from '../control/status-parts.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { Clock } from '../ports/clock.js';
import type { ControlSource, TriggerPublisher } from '../ports/control-source.js';
import type { Dispatcher } from '../ports/dispatcher.js';
import type { RunningRuns } from '../ports/outcomes.js';
import type { Revoker } from '../ports/revoker.js';
import type { WaitingRunsStore } from '../ports/waiting-runs.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { StateStore } from '../ports/state.js';
import type { ClockGuard } from '../redis/clock-guard.js';
import type { ControlStore } from '../redis/control-store.js';
import type { Leadership } from '../redis/leadership.js';
import { LeaderSession } from '../runtime/leader-session.js';
import type { Runner } from '../runtime/runner.js';
import type { RuntimeEntries } from '../runtime/entry-catalog.js';
import { reloadableConfig } from './reload.js';
import { handOverOnRefusal } from './metered-triggers.js';

/**
 * How often the leader's control loop looks for pause, resume and trigger requests without being
 * told (a CLI announces each on the events channel; this catches a missed announcement), and at
 * most every maxInterval.
 */
const CONTROL_INTERVAL_MS = 1000;

export interface SupervisorOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly messageEnv: MessageEnv;
  readonly dispatcher: Dispatcher;
  readonly triggers: TriggerPublisher;
  readonly state: StateStore;
  readonly control: ControlSource & Pick<ControlStore, 'updateLeaderFingerprint'>;
  readonly leadership: Pick<Leadership, 'start' | 'stop' | 'relinquish' | 'currentLease' | 'leaseToken'>;
  readonly clockGuard: Pick<ClockGuard, 'watch' | 'unwatch' | 'reportAhead'>;
  /** Where the sessions report, and leadership changes are reported. */
  readonly events: SchedulerEvents;
  /** The runtime entries (store, RedBeat, django), kept by every replica, leader or standby. */
  readonly catalog?: RuntimeEntries;
  /** Which runs are still running (the outcome tracker), for overlap policies. */
  readonly running?: RunningRuns;
  /** Revokes previous runs for overlap cancelOther and terminateOther (the broker's remote control); undefined on SQS. */
  readonly revoker?: Revoker;
  /** Where runs wait for a place in their concurrency group (with `running`), and whether they may (the broker shares Redis). */
  readonly waiting?: WaitingRunsStore;
  readonly groupsWait?: boolean;
  /** Work only the leader does besides scheduling (sending alerts): started with each session, stopped with it. */
  readonly leaderTasks?: readonly LeaderTask[];
  /** Tells the runtime store's writers the config file's entry names, whose names they may not take (the leader does it). */
  readonly publishStaticNames?: (names: readonly string[]) => Promise<void>;
  /** Records the definition of the config the leader runs, for `beat plan --config` (the leader does it; it logs its own failures). */
  readonly recordDefinition?: (config: ResolvedConfig, configHash: string) => Promise<void>;
  /**
   * Awaited before each session schedules (the record of passed-over slots cuts what this leader
   * may publish into, redis/passed-slots-store.ts); a failure stands by, as a state that cannot be loaded does.
   */
  readonly beforeSession?: () => Promise<void>;
}

/** Work that runs while this instance leads. */
export interface LeaderTask {
  start(): void;
  stop(): Promise<void>;
}

/** Stored state found lost by a session (see Runner's knownRuns): when, and for how many entries. */
export interface StateLoss {
  readonly atMs: number;
  readonly entries: number;
}

export class Supervisor {
  private session: LeaderSession | undefined;
  private stopRequested = false;
  private currentConfig: ResolvedConfig;
  private currentFingerprint: ConfigFingerprint;
  /** Changes run one after the other on this chain. */
  private transition: Promise<unknown> = Promise.resolve();
  /**
   * The last run of each entry seen published by this process's earlier sessions, by knownRunKey (a
   * runtime entry's belong to its incarnation): a later session that finds the stored state behind
   * it knows Redis lost data (see Runner's knownRuns).
   */
  private readonly knownRuns = new Map<string, number>();
  /** For the entries that never ran, how far those sessions had settled their slots (see Runner's knownSightings). */
  private readonly knownSightings = new Map<string, number>();
  /**
   * The entries found with their stored state lost, until each runs again (its next run writes a
   * whole state: the loss is superseded) or is removed: what `/readyz` reports, and what a later
   * session does not report again.
   */
  private readonly lost = new Set<string>();
  private lostAtMs = 0;
  private readonly sessionEvents: SchedulerEvents;

  constructor(private readonly options: SupervisorOptions) {
    this.currentConfig = options.config;
    this.currentFingerprint = configFingerprint(options.config);
    // A runtime entry deleted (its state with it) or re-created starts afresh: what an earlier
    // session saw it publish must not pass for lost state.
    options.catalog?.onRemoved((names) => {
      const gone = new Set(names);
      for (const known of [this.knownRuns, this.knownSightings])
        for (const key of known.keys()) if (gone.has(key.split('\u0000')[0] as string)) known.delete(key);
      for (const name of names) this.lost.delete(name);
    });
    const sink = options.events;
    // Spelled out rather than spread: a sink may be a class instance, whose methods a spread drops.
    this.sessionEvents = {
      published: (run, latenessMs) => {
        this.lost.delete(run.entry.name);
        sink.published(run, latenessMs);
      },
      triggerPublished: (message, revision, parts, slotMs) => sink.triggerPublished(message, revision, parts, slotMs),
      backfillPublished: (entry, runs, revision) => sink.backfillPublished?.(entry, runs, revision),
      retryPublished: (message, slotMs, attempt, retryOf, revision, parts) =>
        sink.retryPublished?.(message, slotMs, attempt, retryOf, revision, parts),
      missed: (missed) => sink.missed(missed),
      dropped: (entry) => sink.dropped(entry),
      publishFailed: (error) => sink.publishFailed(error),
      stateLost: (entries) => {
        this.lostAtMs = options.clock.now();
        for (const name of entries) this.lost.add(name);
        sink.stateLost(entries);
      },
      lockRenewFailed: () => sink.lockRenewFailed(),
      leadershipChanged: (leading) => sink.leadershipChanged(leading),
      entryRefused: (failure, changed) => sink.entryRefused?.(failure, changed),
      entryFailureCleared: (entry, recovered) => sink.entryFailureCleared?.(entry, recovered),
      entriesRemoved: (entries) => sink.entriesRemoved?.(entries),
      revoked: (revoke) => sink.revoked?.(revoke),
      deploymentStop: (change) => sink.deploymentStop?.(change),
    };
  }

  /** The config in force (the last one reloaded). */
  get config(): ResolvedConfig {
    return this.currentConfig;
  }

  get fingerprint(): ConfigFingerprint {
    return this.currentFingerprint;
  }

  /** True while a session runs: this instance leads. */
  get leading(): boolean {
    return this.session !== undefined;
  }

  /** The scheduler loop of the session in progress, if any. */
  get runner(): Runner | undefined {
    return this.session?.runner;
  }

  /**
   * Why this instance could not lead at its last try, when a key of the deployment holds what
   * tsbeat never writes (the state hash of another type: every replica fails alike, so the
   * deployment publishes nothing): the refusal, naming the key and its repair; undefined once a
   * session starts.
   */
  get cannotLead(): string | undefined {
    return this.keyRefusal;
  }

  private keyRefusal: string | undefined;

  /** True once stop() was called. */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /**
   * The entries whose stored state a session found lost and that have not run since (the last time
   * one was found, and how many); undefined once each has run again or was removed.
   */
  get stateLost(): StateLoss | undefined {
    return this.lost.size === 0 ? undefined : { atMs: this.lostAtMs, entries: this.lost.size };
  }

  /** Campaigns for the lock: a session starts whenever it is won, and stops whenever it is lost. */
  async campaign(): Promise<void> {
    const { leadership, clockGuard, events, logger } = this.options;
    await leadership.start({
      onLead: () => {
        events.leadershipChanged(true);
        clockGuard.watch(this.currentConfig.lock.renewEveryMs, (reason) => leadership.relinquish(reason));
        void this.enqueue(() => this.startSession());
      },
      onLose: () => {
        events.leadershipChanged(false);
        clockGuard.unwatch();
        void this.enqueue(async () => {
          await this.stopSession();
          logger.info({ event: EVENTS.standby }, 'standing by');
        });
      },
      onControl: () => this.session?.poke(),
      onEntries: () => this.options.catalog?.poke(),
      leaderFields: () => fingerprintFields(this.currentFingerprint),
    });
    events.leadershipChanged(false);
    logger.info({ event: EVENTS.standby }, 'campaigning for leadership');
  }

  /** Applies a new config between two sessions; false (and the old schedule kept) when it cannot. */
  async reload(next: ResolvedConfig): Promise<boolean> {
    const { control, leadership, logger } = this.options;
    const applied = await this.enqueue(async () => {
      this.currentConfig = reloadableConfig(this.currentConfig, next, logger);
      this.currentFingerprint = configFingerprint(this.currentConfig);
      await this.options.catalog?.reconfigure(
        { ...entryScopeOf(this.currentConfig), alerts: this.currentConfig.alerts, calendars: this.currentConfig.calendars },
        new Set(this.currentConfig.entries.map((e) => e.name)),
      );
      if (this.session) {
        await this.stopSession();
        await this.startSession();
        const token = leadership.currentLease()?.token;
        if (token !== undefined) {
          await control.updateLeaderFingerprint(token, this.currentFingerprint).catch((error: unknown) => {
            logger.warn(
              { event: EVENTS.lockError, err: error },
              "could not publish the reloaded config's fingerprint; standbys may report a config difference",
            );
          });
        }
      }
      logger.info({ event: EVENTS.reload, entries: this.currentConfig.entries.length }, 'config reloaded');
      return true;
    });
    return applied ?? false;
  }

  /** Stops the session (after its publish in flight), then leadership, which hands the lock over. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.enqueue(() => this.stopSession(false));
    await this.options.leadership.stop();
    this.options.clockGuard.unwatch();
  }

  private enqueue<T>(step: () => Promise<T>): Promise<T | undefined> {
    const next = this.transition.then(step).catch((error: unknown) => {
      this.options.logger.error({ event: EVENTS.leadershipTransitionFailed, err: error }, 'leadership transition failed');
      return undefined;
    });
    this.transition = next;
    return next;
  }

  private async startSession(): Promise<void> {
    // A lock won while shutting down must not start a session that nobody would stop.
    if (this.stopRequested) return;
    const { leadership, clockGuard, logger } = this.options;
    const config = this.currentConfig;
    const current = new LeaderSession({
      config,
      dispatcher: this.options.dispatcher,
      triggers: this.options.triggers,
      state: this.options.state,
      control: this.options.control,
      clock: this.options.clock,
      logger,
      messageEnv: this.options.messageEnv,
      lease: leadership.leaseToken,
      onFenced: () => leadership.relinquish('another instance holds the fence'),
      onClockAhead: (ahead) => leadership.relinquish(clockGuard.reportAhead(ahead)),
      onPublishFailed: (error) => handOverOnRefusal(error, (reason) => leadership.relinquish(reason)),
      controlIntervalMs: Math.min(CONTROL_INTERVAL_MS, config.maxIntervalMs),
      knownRuns: this.knownRuns,
      knownSightings: this.knownSightings,
      lostReported: this.lost,
      events: this.sessionEvents,
      ...(this.options.catalog ? { runtimeEntries: this.options.catalog } : {}),
      ...(this.options.running ? { running: this.options.running } : {}),
      ...(this.options.revoker ? { revoker: this.options.revoker } : {}),
      ...(this.options.waiting ? { waiting: this.options.waiting } : {}),
      ...(this.options.groupsWait === undefined ? {} : { groupsWait: this.options.groupsWait }),
    });
    this.options.publishStaticNames?.(config.entries.map((e) => e.name)).catch((error: unknown) => {
      logger.warn(
        { event: EVENTS.entriesSyncFailed, err: error },
        "could not record the config file's entry names for the runtime store's writers; they are still refused when read",
      );
    });
    void this.options.recordDefinition?.(config, this.currentFingerprint.configHash);
    this.session = current;
    // Before the session: the outcome tracker must be reading the runs the last leader left
    // running when the runner first decides an overlap policy.
    for (const task of this.options.leaderTasks ?? []) task.start();
    try {
      await this.options.beforeSession?.();
      await current.start(this.options.control);
      this.keyRefusal = undefined;
    } catch (error) {
      this.keyRefusal = isKeyFault(error) ? error.message : undefined;
      this.session = undefined;
      await current.stop();
      await Promise.all((this.options.leaderTasks ?? []).map((task) => task.stop()));
      logger.error({ event: EVENTS.stateLoadFailed, err: error }, 'could not load the schedule state; standing by');
      leadership.relinquish('state could not be loaded');
    }
  }

  /** `keepKnownRuns` false: no later session in this process will need them (a stop for good). */
  private async stopSession(keepKnownRuns = true): Promise<void> {
    const current = this.session;
    this.session = undefined;
    await current?.stop();
    // After the session, and before the lock is let go (stop, relinquish): the runs its last
    // dispatch published are recorded (outcome histories, check-ins) for the next leader to find.
    if (current) await Promise.all((this.options.leaderTasks ?? []).map((task) => task.stop()));
    // Keyed by incarnation: what it saw a deleted entry publish can never pass for the history of
    // one created under its name later, even though the deletion was heard before this.
    // Not on the final stop: a walk of every entry (~1 s a million) that would only delay the exit.
    if (current && keepKnownRuns) {
      for (const [key, slotMs] of current.runner.lastRuns()) {
        this.knownRuns.set(key, slotMs);
        this.knownSightings.delete(key);
      }
      for (const [key, cursorMs] of current.runner.firstSightings()) this.knownSightings.set(key, cursorMs);
    }
  }
}
