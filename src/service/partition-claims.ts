/**
 * This replica's claims on the partitions the map gives it (partitions > 1; keys.ts `claim`): the
 * proof, for each partition's leader, that this replica is ready to take the partition now, which
 * the leader asks before it hands the partition over (core/partition-moves.ts claimedMove).
 *
 * A partition's seat claims it after each attempt at its lock that passed this replica's own checks
 * (the map, the clock against Redis's, the partition count) and that the lock servers refused only
 * because the lock is held: had it been free, this replica would lead it. A replica that cannot
 * lead fails one of those and claims nothing, so its partitions stay with their leaders.
 *
 * The claims are written together, one pipeline for the process's partitions at most once a
 * heartbeat period, each living lock.ttl: a partition claimed for the first time (just given this
 * replica), or whose claim would run out before the next write, is written at once (its leader
 * is waiting for it); the others wait for the next write. A standby retries a held lock at least
 * once a TTL (sooner, every lock.retryEvery), so a ready replica's claims do not lapse.
 */
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';

export interface ClaimStore {
  /** Claims `partitions` for this replica, each for the claims' life (redis/partition-claims.ts). */
  write(partitions: readonly number[]): Promise<void>;
  /** The replica whose claim on `partition` has not expired, or undefined. */
  claimant(partition: number): Promise<string | undefined>;
}

export interface PartitionClaimsOptions {
  readonly store: ClaimStore;
  /** How long a claim lives after it is written (the store's PX). */
  readonly lifeMs: number;
  /** The least time between two writes, but for an urgent claim. */
  readonly periodMs: number;
  readonly logger: Logger;
  /** A monotonic clock (ms); performance.now by default. */
  readonly now?: () => number;
}

export class PartitionClaims {
  private readonly pending = new Set<number>();
  /** When each partition's claim was last written (monotonic ms). */
  private readonly writtenAt = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private stopped = false;
  private lastError: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: PartitionClaimsOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Claims `partition` (written at once, or with the next batch). */
  claim(partition: number): void {
    if (this.stopped) return;
    this.pending.add(partition);
    this.plan();
  }

  /** The replica whose claim on `partition` has not expired, or undefined; rejects when it cannot be read. */
  claimant(partition: number): Promise<string | undefined> {
    return this.options.store.claimant(partition);
  }

  /** Writes no more claims (after the write in flight); those written run out by themselves. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
  }

  private plan(): void {
    if (this.stopped || this.writing !== undefined || this.pending.size === 0) return;
    const { lifeMs, periodMs } = this.options;
    const now = this.now();
    const urgent = [...this.pending].some((p) => {
      const at = this.writtenAt.get(p);
      return at === undefined || now + periodMs >= at + lifeMs;
    });
    if (urgent) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.write();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.write();
      }, periodMs);
      this.timer.unref();
    }
  }

  private write(): void {
    const batch = [...this.pending];
    this.pending.clear();
    const at = this.now();
    this.writing = this.options.store
      .write(batch)
      .then(
        () => {
          for (const p of batch) this.writtenAt.set(p, at);
          this.lastError = undefined;
        },
        (error: unknown) => {
          const message = errorMessage(error);
          // Once per outage; the next attempts at the locks claim again.
          if (message !== this.lastError)
            this.options.logger.warn(
              { event: EVENTS.partitionClaimFailed, err: error, partitions: batch },
              'could not write the claims on the partitions the map gives this replica; their leaders keep them until it can',
            );
          this.lastError = message;
        },
      )
      .finally(() => {
        this.writing = undefined;
        this.plan();
      });
  }
}
