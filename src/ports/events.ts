/**
 * What the scheduler reports as it goes, for whoever counts it (Prometheus metrics today; run
 * outcomes and alerts next). Handed to constructors, never set afterwards; a part that reports
 * nothing gets NO_EVENTS. Every method returns at once and never throws: reporting must not slow
 * down or fail a publish.
 */
import type { Destination } from '../celery/routing.js';
import type { TaskMessage } from '../celery/message.js';
import type { ResolvedEntry } from '../config/resolve.js';

/** A scheduled run the broker took. */
export interface PublishedRun {
  readonly entry: ResolvedEntry;
  /** The scheduled instant this run stands for. */
  readonly slotMs: number;
  /** Its task id. */
  readonly id: string;
  readonly destination: Destination;
}

export interface SchedulerEvents {
  /** A scheduled run was published, `latenessMs` after its slot (jitter included). */
  published(run: PublishedRun, latenessMs: number): void;
  /** A manual run (`beat trigger`) was published. */
  triggerPublished(message: TaskMessage): void;
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
}

/** A sink that counts nothing. */
export const NO_EVENTS: SchedulerEvents = {
  published: () => undefined,
  triggerPublished: () => undefined,
  dropped: () => undefined,
  publishFailed: () => undefined,
  stateLost: () => undefined,
  lockRenewFailed: () => undefined,
  leadershipChanged: () => undefined,
};
