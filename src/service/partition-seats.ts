/**
 * Which replica leads which partition (partitions > 1; issue 34, step F): the process's partition
 * map, read from the replicas registry once a heartbeat, and each partition's seat, which gates the
 * partition's campaign and hands the partition over when the map gives it to another replica.
 * core/partition-moves.ts decides; this module looks and acts.
 *
 * - The map is assignPartitions (core/partition.ts) over the live replicas' ids, this replica's
 *   own always among them. A read that fails keeps the last map (and marks it stale: no hand-over
 *   then); a first read that fails gives every partition to this replica, as if it were alone, so
 *   that a replica that cannot read the registry still campaigns for every lock, as before the map.
 * - A seat answers the lock's mayLead: yes for a partition the map gives this replica; for another,
 *   it looks at the lock and says yes once it has been free for the grace (the fallback). A lock
 *   seen newly free asks the map for a read at once: its assignee may have just left the registry
 *   (a clean stop leaves it before releasing its locks), and the new assignee then takes it within
 *   a round trip rather than at its next heartbeat.
 * - On each read, a seat whose partition this replica leads but the map, settled, gives to another
 *   hands it over (Supervisor.handOver: the session stops after its publish in flight, then the
 *   lock is released and announced, which wakes the taker), but only while that replica's claim on
 *   the partition is fresh (partition-claims.ts): a live replica that cannot lead (its clock, its
 *   partition count or its lock servers refuse it; it is stopped) claims nothing, and the partition
 *   stays here rather than sit leaderless until the fallback at every round. A hold that lasts a
 *   TTL is logged once per assignee. One the map newly gives this replica is tried at once, and
 *   claimed after each attempt that found its lock held (Leadership's onHeld: this seat's `held`).
 */
import { DEFAULTS } from '../base/defaults.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { PokedLoop } from '../base/poked-loop.js';
import { within } from '../base/within.js';
import { assignPartitions, partitionsLedBy } from '../core/partition.js';
import { claimedMove, leaderMove, standbyMove } from '../core/partition-moves.js';
import type { MoveTiming } from '../core/partition-moves.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import { PartitionClaims } from './partition-claims.js';
import type { ClaimStore } from './partition-claims.js';
import { heartbeatIntervalMs } from './replica-heartbeat.js';
import { deferred } from './running.js';

/** The moves' timing for a lock TTL (base/defaults-leadership.ts says why each). */
export function moveTiming(ttlMs: number): MoveTiming {
  return {
    graceMs: ttlMs * DEFAULTS.partitionFallbackGraceTtls,
    stableReads: DEFAULTS.partitionHandOverReads,
    fallbackHoldMs: ttlMs * DEFAULTS.partitionFallbackHoldTtls,
  };
}

/** What a seat moves: its partition's supervisor and lock. */
export interface SeatHolder {
  /** This replica leads the partition (its session runs). */
  leading(): boolean;
  /** The session stopped after its publish in flight, then the lock released and announced; never rejects (the supervisor logs its failures). */
  handOver(reason: string): Promise<void>;
  /** Tries the lock now rather than at the next retry. */
  campaignNow(): void;
}

export interface PartitionMapOptions {
  readonly partitions: number;
  readonly instanceId: string;
  /** The live replicas' ids, from the registry; throws when it cannot be read. */
  readonly readLive: () => Promise<readonly string[]>;
  /** Whether a partition's lock is free now (redis/lock-look.ts). */
  readonly lockFree: (partition: number) => Promise<boolean>;
  /** The partitions' claims in Redis (redis/partition-claims.ts), each living `ttlMs`. */
  readonly claims: ClaimStore;
  readonly ttlMs: number;
  readonly logger: Logger;
  /** A monotonic clock (ms) for the grace and the hold; performance.now by default. */
  readonly now?: () => number;
}

/** What the map says of one partition now. */
export interface PartitionAssignment {
  /** The replica the map gives it to; undefined before the first read. */
  readonly assignee: string | undefined;
  /** Successive reads that gave it to `assignee`. */
  readonly agreedReads: number;
  /** The last read of the registry succeeded. */
  readonly fresh: boolean;
}

export class PartitionMap {
  readonly seats: readonly PartitionSeat[];
  private map: readonly string[] | undefined;
  private readonly agreed: number[];
  private fresh = false;
  private lastError: string | undefined;
  private readonly loop: PokedLoop;
  private readonly read = deferred();
  private readonly claims: PartitionClaims;

  constructor(private readonly options: PartitionMapOptions) {
    this.agreed = new Array<number>(options.partitions).fill(0);
    const timing = moveTiming(options.ttlMs);
    this.claims = new PartitionClaims({
      store: options.claims,
      lifeMs: options.ttlMs,
      periodMs: heartbeatIntervalMs(options.ttlMs),
      logger: options.logger,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    this.seats = Array.from({ length: options.partitions }, (_, p) => new PartitionSeat(p, this, this.claims, options, timing));
    this.loop = new PokedLoop({ intervalMs: heartbeatIntervalMs(options.ttlMs), run: () => this.refresh(), runAtStart: true });
  }

  /** What the map says of `partition` now. */
  view(partition: number): PartitionAssignment {
    return { assignee: this.map?.[partition], agreedReads: this.agreed[partition] ?? 0, fresh: this.fresh };
  }

  /** Reads the registry now and every heartbeat; resolves after the first read (or `waitMs`). */
  async start(waitMs: number): Promise<void> {
    this.loop.start();
    await within(this.read.promise, waitMs, () => undefined);
  }

  /** Reads again as soon as the read in progress ends. */
  readSoon(): void {
    this.loop.poke();
  }

  /** Stops reading (after a read in flight); the seats no longer move. */
  async stop(): Promise<void> {
    for (const seat of this.seats) seat.stop();
    await Promise.all([this.loop.stop(), this.claims.stop()]);
  }

  /** One read of the registry and what follows from it; never rejects. */
  async refresh(): Promise<void> {
    let ids: readonly string[] | undefined;
    try {
      ids = await this.options.readLive();
      this.lastError = undefined;
    } catch (error) {
      const message = errorMessage(error);
      // Once per outage, not once per heartbeat.
      if (message !== this.lastError)
        this.options.logger.warn(
          { event: EVENTS.partitionsMapReadFailed, err: error },
          'could not read the replicas registry for the partition map; keeping the last map (no partition is handed over until it can be read), retrying',
        );
      this.lastError = message;
    }
    this.apply(ids);
    this.read.resolve();
  }

  /** Applies a read: `ids` the live replicas, or undefined when the read failed. */
  apply(ids: readonly string[] | undefined): void {
    const { partitions, instanceId: self, logger } = this.options;
    const before = this.map;
    this.fresh = ids !== undefined;
    if (ids === undefined && before !== undefined) {
      for (const seat of this.seats) seat.mapRead(false);
      return;
    }
    const next = assignPartitions(partitions, [...(ids ?? []), self]);
    const moved = next.filter((id, p) => id !== before?.[p]).length;
    next.forEach((id, p) => {
      this.agreed[p] = before?.[p] === id ? (this.agreed[p] ?? 0) + 1 : 1;
    });
    this.map = next;
    if (moved > 0) {
      const own = partitionsLedBy(next, self);
      const replicas = new Set([...(ids ?? []), self]).size;
      logger.info(
        { event: EVENTS.partitionsMapChanged, replicas, partitions: own, moved },
        `the partition map ${before === undefined ? 'is' : 'changed'}: ${replicas} live replica${replicas === 1 ? '' : 's'}` +
          `${ids === undefined ? ' (the registry could not be read: this one alone)' : ''}; this replica's partitions: ` +
          `${own.length === 0 ? 'none' : own.join(', ')} of ${partitions}` +
          `${before === undefined ? '' : ` (${moved} moved)`}`,
      );
    }
    this.seats.forEach((seat, p) => seat.mapRead(before?.[p] !== next[p]));
  }
}

/** One partition's place in the map: gates its campaign, hands it over. */
export class PartitionSeat {
  /** When this replica first saw the lock free, at every look since (monotonic); undefined while held. */
  private freeSinceMs: number | undefined;
  /** Why the last attempt was allowed: the fallback (from the map's assignee) or not. */
  private allowed: { readonly fallback: boolean; readonly from: string | undefined } | undefined;
  private fallback: { readonly from: string; readonly atMs: number } | undefined;
  private holder: SeatHolder | undefined;
  private handing = false;
  /** The assignee this replica keeps the partition from for want of its claim, since when, and whether it was said. */
  private unclaimed: { readonly to: string; readonly sinceMs: number; said: boolean } | undefined;
  private stopped = false;
  private readonly log: Logger;
  private readonly now: () => number;
  /** The partition's sink: tells the seat when this replica starts and stops leading it. */
  readonly events: SchedulerEvents;

  constructor(
    readonly partition: number,
    private readonly map: Pick<PartitionMap, 'view' | 'readSoon'>,
    private readonly claims: Pick<PartitionClaims, 'claim' | 'claimant'>,
    private readonly options: Pick<PartitionMapOptions, 'instanceId' | 'lockFree' | 'logger' | 'now'>,
    private readonly timing: MoveTiming,
  ) {
    this.log = options.logger.child({ partition });
    this.now = options.now ?? (() => performance.now());
    this.events = { ...NO_EVENTS, leadershipChanged: (leading) => this.leadingChanged(leading) };
  }

  /** The partition's supervisor and lock, once made. */
  bind(holder: SeatHolder): void {
    this.holder = holder;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Asked before each attempt at the lock (Leadership's mayLead): undefined to try it now, or why not. */
  async mayTake(): Promise<string | undefined> {
    const self = this.options.instanceId;
    const { assignee } = this.map.view(this.partition);
    const first = standbyMove(self, { assignee, freeSinceMs: undefined }, this.now(), this.timing);
    if (first.move === 'campaign') {
      this.freeSinceMs = undefined;
      this.allowed = { fallback: false, from: assignee };
      return undefined;
    }
    const free = await this.options.lockFree(this.partition);
    const nowMs = this.now();
    if (!free) this.freeSinceMs = undefined;
    else if (this.freeSinceMs === undefined) {
      this.freeSinceMs = nowMs;
      // Its assignee may have just left (a clean stop leaves the registry first): read it again now.
      this.map.readSoon();
    }
    // The map may have been read meanwhile.
    const current = this.map.view(this.partition).assignee;
    const move = standbyMove(self, { assignee: current, freeSinceMs: this.freeSinceMs }, nowMs, this.timing);
    if (move.move === 'campaign') {
      this.allowed = { fallback: move.fallback, from: current };
      return undefined;
    }
    return `partition ${this.partition} is ${move.assignee}'s by the partition map`;
  }

  /**
   * Told by the lock after an attempt this seat let through found the lock held by another replica:
   * this replica is ready to take the partition, and claims it while the map gives it this replica.
   */
  held(): void {
    if (this.stopped || this.allowed?.fallback !== false) return;
    if (this.map.view(this.partition).assignee !== this.options.instanceId) return;
    this.claims.claim(this.partition);
  }

  /** After each read of the registry: hand the partition over, or try it now. `changed`: its assignee changed. */
  mapRead(changed: boolean): void {
    const holder = this.holder;
    if (this.stopped || holder === undefined) return;
    const self = this.options.instanceId;
    const view = this.map.view(this.partition);
    if (!holder.leading()) {
      if (changed && view.assignee === self) holder.campaignNow();
      return;
    }
    const move = leaderMove(self, { ...view, fallback: this.fallback }, this.now(), this.timing);
    if (move.move === 'keep') this.unclaimed = undefined;
    if (move.move !== 'hand over' || this.handing) return;
    this.handing = true;
    void this.handOver(holder, move.to);
  }

  /** Hands the partition over to `to` if its claim says it is ready to take it; otherwise keeps it. */
  private async handOver(holder: SeatHolder, to: string): Promise<void> {
    try {
      let claimant: string | undefined;
      let failure: unknown;
      try {
        claimant = await this.claims.claimant(this.partition);
      } catch (error) {
        failure = error;
      }
      if (this.stopped) return;
      if (claimedMove({ move: 'hand over', to }, claimant).move !== 'hand over') {
        this.holdUnclaimed(to, claimant, failure);
        return;
      }
      this.unclaimed = undefined;
      await holder.handOver(`the partition map gives partition ${this.partition} to ${to}`);
      if (!holder.leading())
        this.log.info(
          { event: EVENTS.partitionHandedOver, to },
          `handed partition ${this.partition} over to ${to}, which the partition map gives it to`,
        );
    } finally {
      this.handing = false;
    }
  }

  /** Keeps the partition from `to`, which has not claimed it; says why once the hold has lasted a grace. */
  private holdUnclaimed(to: string, claimant: string | undefined, failure: unknown): void {
    const nowMs = this.now();
    if (this.unclaimed?.to !== to) this.unclaimed = { to, sinceMs: nowMs, said: false };
    const hold = this.unclaimed;
    // Within a grace a ready assignee has claimed it (it tries a held lock at least once a TTL).
    if (hold.said || nowMs - hold.sinceMs < this.timing.graceMs) return;
    hold.said = true;
    const why =
      failure !== undefined
        ? `its claim could not be read (${errorMessage(failure)})`
        : `it has not claimed it${claimant === undefined ? '' : ` (${claimant} has)`}: it is live but not trying to lead it ` +
          '(its clock may be off by more than lock.maxClockSkew, its partition count or its lock servers may refuse it, or it is stopped)';
    this.log.warn(
      { event: EVENTS.partitionHandOverHeld, to, ...(claimant === undefined ? {} : { claimant }) },
      `keeping partition ${this.partition}: the partition map gives it to ${to}, but ${why}; handing it over once ${to} claims it`,
    );
  }

  private leadingChanged(leading: boolean): void {
    if (!leading) {
      this.fallback = undefined;
      this.unclaimed = undefined;
      return;
    }
    this.freeSinceMs = undefined;
    const allowed = this.allowed;
    if (allowed?.fallback === true && allowed.from !== undefined) {
      this.fallback = { from: allowed.from, atMs: this.now() };
      this.log.warn(
        { event: EVENTS.partitionTaken, how: 'fallback', from: allowed.from },
        `took partition ${this.partition} by the fallback: the partition map gives it to ${allowed.from}, but its lock stayed free for ${this.timing.graceMs} ms`,
      );
    } else
      this.log.info(
        { event: EVENTS.partitionTaken, how: 'assigned' },
        `took partition ${this.partition}, which the partition map gives this replica`,
      );
  }
}
