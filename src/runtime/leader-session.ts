/**
 * Everything that runs while this instance leads: the scheduler loop and the control loop (pause,
 * resume, manual runs). Started when the lock is won, stopped (after the publish in flight) when
 * it is lost, handed over, or the config is reloaded.
 */
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Logger } from '../base/log.js';
import { ControlLoop } from './control-loop.js';
import type { ControlSource, TriggerPublisher } from '../ports/control-source.js';
import type { Dispatcher, SlotAhead } from '../ports/dispatcher.js';
import type { StateStore } from '../ports/state.js';
import { Runner } from './runner.js';
import type { Clock } from '../ports/clock.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { RuntimeEntries } from './entry-catalog.js';
import { ReadFirst } from './read-first.js';
import { DEFAULTS } from '../base/defaults.js';
import { PauseWatch } from '../base/pause-watch.js';
import type { RunningRuns } from '../ports/outcomes.js';
import type { Revoker } from '../ports/revoker.js';
import type { WaitingRunsStore } from '../ports/waiting-runs.js';

export interface LeaderSessionOptions {
  readonly config: ResolvedConfig;
  readonly dispatcher: Dispatcher;
  readonly triggers: TriggerPublisher;
  readonly state: StateStore;
  readonly control: ControlSource;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly messageEnv: MessageEnv;
  readonly lease: () => string | undefined;
  readonly onFenced: () => void;
  readonly onClockAhead?: (ahead: SlotAhead) => void;
  /** Each failed publish of the schedule's runs (RunnerOptions.onPublishFailed). */
  readonly onPublishFailed?: (error: unknown) => void;
  /** See RunnerOptions.knownRuns, knownSightings, lostReported and events. */
  readonly knownRuns?: ReadonlyMap<string, number>;
  readonly knownSightings?: ReadonlyMap<string, number>;
  readonly lostReported?: ReadonlySet<string>;
  readonly events?: SchedulerEvents;
  /** How often the control loop looks for pause/resume/trigger requests without being told. */
  readonly controlIntervalMs: number;
  /** The runtime entries (store, RedBeat, django) in force; their changes come through `runner.applyChanges`. */
  readonly runtimeEntries?: RuntimeEntries;
  /** See RunnerOptions.running. */
  readonly running?: RunningRuns;
  /** See RunnerOptions.revoker. */
  readonly revoker?: Revoker;
  /** See RunnerOptions.waiting and groupsWait. */
  readonly waiting?: WaitingRunsStore;
  readonly groupsWait?: boolean;
}

export class LeaderSession {
  readonly runner: Runner;
  private readonly control: ControlLoop;
  private readonly catalog: RuntimeEntries | undefined;
  private readonly readFirst: ReadFirst | undefined;
  /** Pauses of the process while leading: each has the runtime entries read before the next publish. */
  private readonly pauses = new PauseWatch({ everyMs: DEFAULTS.pauseSampleMs, pauseMs: DEFAULTS.pauseNoticedMs });

  constructor(options: LeaderSessionOptions) {
    const catalog = options.runtimeEntries;
    // One per session: a look that overran its wait is not waited for again by this session.
    const readFirst = catalog ? new ReadFirst({ catalog, logger: options.logger, maxMs: DEFAULTS.readFirstMaxMs }) : undefined;
    this.readFirst = readFirst;
    // One check for every path that publishes an entry of RedBeat or django: wake-ups, manual runs, backfills.
    const beforePublish = catalog && readFirst ? { origins: catalog.checkedOrigins(), check: readFirst.check.bind(readFirst) } : undefined;
    this.runner = new Runner({
      config: options.config,
      dispatcher: options.dispatcher,
      state: options.state,
      clock: options.clock,
      logger: options.logger,
      messageEnv: options.messageEnv,
      lease: options.lease,
      onFenced: options.onFenced,
      ...(options.onClockAhead ? { onClockAhead: options.onClockAhead } : {}),
      ...(options.onPublishFailed ? { onPublishFailed: options.onPublishFailed } : {}),
      ...(options.knownRuns ? { knownRuns: options.knownRuns } : {}),
      ...(options.knownSightings ? { knownSightings: options.knownSightings } : {}),
      ...(options.lostReported ? { lostReported: options.lostReported } : {}),
      ...(options.events ? { events: options.events } : {}),
      ...(options.running ? { running: options.running } : {}),
      ...(options.revoker ? { revoker: options.revoker } : {}),
      ...(options.waiting ? { waiting: options.waiting } : {}),
      ...(options.groupsWait === undefined ? {} : { groupsWait: options.groupsWait }),
      ...(catalog ? { onSuperseded: () => catalog.poke() } : {}),
      ...(readFirst ? { readFirst: { read: () => readFirst.read(), pauses: this.pauses } } : {}),
      ...(beforePublish ? { beforePublish } : {}),
    });
    this.control = new ControlLoop({
      config: options.config,
      source: options.control,
      publisher: options.triggers,
      messageEnv: options.messageEnv,
      logger: options.logger,
      now: () => options.clock.now(),
      lease: options.lease,
      onPaused: (paused) => this.runner.setPaused(paused),
      onDeploymentStop: (stop) => this.runner.setDeploymentStop(stop),
      intervalMs: options.controlIntervalMs,
      ...(catalog ? { findRuntimeEntry: (name: string) => catalog.find(name) } : {}),
      ...(beforePublish && beforePublish.origins.size > 0 ? { beforePublish } : {}),
      running: options.running,
      revoker: options.revoker,
      revoked: options.events?.revoked?.bind(options.events),
      retryPublished: options.events?.retryPublished?.bind(options.events),
      concurrency: this.runner.concurrency,
      events: options.events,
    });
    this.catalog = catalog;
  }

  /**
   * Reads the paused set first, so that a paused entry never fires at start, and the runtime
   * entries as they are now (read before you publish): a standby's catalog may be behind by a
   * missed message, and one that was paused by longer than that. A source that does not answer
   * holds the start up for DEFAULTS.readFirstMaxMs at most (ReadFirst).
   */
  async start(controlSource: ControlSource): Promise<void> {
    this.runner.setPaused(await controlSource.paused());
    // A session that starts while the deployment is stopped publishes nothing from its first wake-up.
    if (controlSource.deploymentStop !== undefined) this.runner.setDeploymentStop(await controlSource.deploymentStop());
    await this.readFirst?.read();
    // Changes from here on queue behind the start (Runner.applyChanges), so none falls between the
    // entries taken now and the first change handed over.
    this.catalog?.listen((changed, removed) => this.runner.applyChanges(changed, removed));
    await this.runner.start(this.catalog?.entries() ?? []);
    // Pauses from here on (the read above covers what came before, the load of the book included).
    if (this.catalog) this.pauses.start();
    this.control.start();
  }

  /** A CLI announced a change: look now instead of at the next interval. */
  poke(): void {
    this.control.poke();
  }

  async stop(): Promise<void> {
    this.pauses.stop();
    this.catalog?.listen(undefined);
    await Promise.all([this.control.stop(), this.runner.stop()]);
  }
}
