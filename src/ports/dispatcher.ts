/**
 * What the runner hands to a dispatcher, and what it gets back. A dispatcher publishes runs and
 * moves their state forward; the Redis one does both in one fenced atomic step, the dry-run one in
 * memory. The runner knows nothing else about brokers.
 */
import type { ChordSize, TaskMessage } from '../celery/message.js';
import type { ResolvedEntry } from '../config/resolve.js';

export interface DueRun {
  readonly entry: ResolvedEntry;
  /** The scheduled instant this run stands for. */
  readonly slotMs: number;
  readonly message: TaskMessage;
}

/**
 * - published: on the broker, state moved forward;
 * - stale: the stored state already had this slot or a later one (published before): nothing done;
 * - dropped: the message matched no queue (logged by the dispatcher); state moved forward anyway,
 *   since publishing it again would be dropped again;
 * - unsent: not recorded, because the broker did not confirm it (or an earlier slot of its entry);
 *   logged by the dispatcher. The runner keeps its entry due and tries again after its error backoff.
 * - superseded: the entry's stored revision is not the run's (ResolvedEntry.revision: edited,
 *   deleted or created again since it was read): nothing published or written; the runner has its
 *   runtime entries read again and tries it with what they hold then.
 * - refused: not published and not recorded, because of this entry alone (its queue key holds
 *   another Redis type, its exchange does not exist, its message is too large…; the reason is in
 *   `refusals`). The other runs go on; the runner marks the entry failing and retries it with a
 *   backoff of its own.
 */
export type PublishResult = 'published' | 'stale' | 'dropped' | 'unsent' | 'superseded' | 'refused';

export type DispatchResult =
  | {
      readonly fenced: false;
      readonly outcomes: readonly PublishResult[];
      /** Why some runs are 'unsent' (set exactly when some are): the runner reports it as a failed publish. */
      readonly failure?: Error;
      /** Why each 'refused' run was refused, by run index (set exactly when some are): a sentence naming the fix. */
      readonly refusals?: ReadonlyMap<number, string>;
    }
  /** This instance no longer holds the fence: nothing was published or written. */
  | { readonly fenced: true }
  /** The deployment is stopped (`beat pause --all`): nothing was published or written; the runs stay due. */
  | { readonly fenced: false; readonly stopped: true }
  /** A slot was further ahead of the state Redis's clock than lock.maxClockSkew: nothing was published or written. */
  | { readonly fenced: false; readonly ahead: SlotAhead };

/** A slot the fenced script refused because the local clock is ahead of Redis's. */
export interface SlotAhead {
  readonly slotMs: number;
  /** The Redis server's clock (TIME) then, epoch ms. */
  readonly redisMs: number;
}

export interface Dispatcher {
  /** True for a dispatcher that only prints its runs (`beat run --dry-run`): the log must not say "published". */
  readonly dryRun?: boolean;
  /**
   * Publishes `runs` (in order) if `token` still holds the fence. Throws when the broker or Redis
   * failed before anything was recorded; when only some runs went out, returns them as published
   * and the others as 'unsent', with a `failure`.
   */
  dispatch(runs: readonly DueRun[], token: string, nowMs: number): Promise<DispatchResult>;
  /**
   * The publisher behind a step that only some runs need (publish/chord-runs.ts: chord runs' sizes
   * written first): a caller that knows its runs need none of it (no chord run) hands them here.
   */
  readonly plain?: Dispatcher;
}

/**
 * Writes chord runs' sizes to the result backend before their headers are published (the Redis
 * result backend's `set_chord_size`): publish/chord-runs.ts calls it on the one publish path.
 */
export interface ChordSizeWriter {
  write(sizes: readonly ChordSize[]): Promise<void>;
  close(): Promise<void>;
}
