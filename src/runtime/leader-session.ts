/**
 * Everything that runs while this instance leads: the scheduler loop and the control loop (pause,
 * resume, manual runs). Started when the lock is won, stopped (after the publish in flight) when
 * it is lost, handed over, or the config is reloaded.
 */
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Logger } from '../base/log.js';
import { ControlLoop } from './control-loop.js';
import type { ControlSource, TriggerPublisher } from '../ports/control.js';
import type { Dispatcher, SlotAhead } from '../ports/dispatcher.js';
import type { StateStore } from '../ports/state.js';
import { Runner } from './runner.js';
import type { Clock } from '../ports/clock.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { EntryCatalog } from './entry-catalog.js';
import type { RunningRuns } from '../ports/outcomes.js';
import type { Revoker } from '../ports/revoker.js';

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
  /** See RunnerOptions.knownRuns and events. */
  readonly knownRuns?: ReadonlyMap<string, number>;
  readonly events?: SchedulerEvents;
  /** How often the control loop looks for pause/resume/trigger requests without being told. */
  readonly controlIntervalMs: number;
  /** The runtime entries (store, RedBeat, django) in force; their changes come through `runner.applyChanges`. */
  readonly runtimeEntries?: EntryCatalog;
  /** See RunnerOptions.running. */
  readonly running?: RunningRuns;
  /** See RunnerOptions.revoker. */
  readonly revoker?: Revoker;
}

export class LeaderSession {
  readonly runner: Runner;
  private readonly control: ControlLoop;
  private readonly catalog: EntryCatalog | undefined;

  constructor(options: LeaderSessionOptions) {
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
      ...(options.knownRuns ? { knownRuns: options.knownRuns } : {}),
      ...(options.events ? { events: options.events } : {}),
      ...(options.running ? { running: options.running } : {}),
      ...(options.revoker ? { revoker: options.revoker } : {}),
      ...(options.runtimeEntries ? { onSuperseded: () => options.runtimeEntries?.poke() } : {}),
      ...(options.runtimeEntries ? { beforeCatchUp: () => options.runtimeEntries?.refresh() ?? Promise.resolve() } : {}),
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
      intervalMs: options.controlIntervalMs,
      ...(options.runtimeEntries ? { findRuntimeEntry: (name: string) => options.runtimeEntries?.find(name) } : {}),
    });
    this.catalog = options.runtimeEntries;
  }

  /**
   * Reads the paused set first, so that a paused entry never fires at start, and the runtime
   * entries as they are now (read before you publish): a standby's catalog may be behind by a
   * missed message, and one that was paused by longer than that.
   */
  async start(controlSource: ControlSource): Promise<void> {
    this.runner.setPaused(await controlSource.paused());
    await this.catalog?.refresh();
    // Changes from here on queue behind the start (Runner.applyChanges), so none falls between the
    // entries taken now and the first change handed over.
    this.catalog?.listen((changed, removed) => this.runner.applyChanges(changed, removed));
    await this.runner.start(this.catalog?.entries() ?? []);
    this.control.start();
  }

  /** A CLI announced a change: look now instead of at the next interval. */
  poke(): void {
    this.control.poke();
  }

  async stop(): Promise<void> {
    this.catalog?.listen(undefined);
    await Promise.all([this.control.stop(), this.runner.stop()]);
  }
}
