/**
 * Partitioned scheduling, the replica's moves (issue 34, step F), the pure part: given the map
 * (core/partition.ts assignPartitions over the live replicas), who leads a partition and since when,
 * whether this replica tries the partition's lock, waits, keeps it or hands it over. The service
 * (service/partition-seats.ts) feeds it what it saw and does what it says; time is an argument.
 *
 * - A standby tries the lock of a partition the map gives it (or when no map gates it yet). Of one
 *   given to another replica, it only looks, and tries it once the lock has been free for a grace:
 *   the fallback, so that a partition is never leaderless because the registry lags or its
 *   assignee is stuck (a lock free that long is one whose assignee had every chance to take it).
 * - A leader keeps a partition the map gives it. One the map gives to another live replica it hands
 *   over (releases, announcing it, so that the assignee is woken at once), but only once every
 *   replica has had the time to read the same registry: the map must have named that replica at
 *   `stableReads` successive reads, so that two replicas that momentarily read different
 *   registries do not hand a partition back and forth, and never to nobody: a leader whose last
 *   read failed (its map may be stale) keeps what it leads, and so does a replica that took the
 *   partition by the fallback from that same assignee, for `fallbackHoldMs` (the assignee let it go
 *   free once: handing it straight back would leave it leaderless a grace at every round).
 * - And only to a replica that is ready to take it now: one whose claim on the partition is fresh
 *   (claimedMove). Being live (heartbeating) says only that the process runs; a replica whose own
 *   checks refuse it the lock (its clock is off by more than lock.maxClockSkew, it runs under
 *   another partition count, its lock servers refuse it) or that is stopped does not renew its
 *   claim, and a partition handed to it would sit leaderless until the fallback, one grace, at
 *   every round. The claim is renewed only by an attempt at the lock that passed those checks and
 *   found the lock held (the leader's), so it says: "released, it would be mine at once". A leader
 *   whose assignee has no claim keeps the partition, and hands it over once the claim appears.
 */

/** What a standby knows of a partition whose lock it does not hold. */
export interface StandbyView {
  /** The replica the map gives the partition to; undefined while no map gates it (every replica tries). */
  readonly assignee: string | undefined;
  /** Since when (ms) this replica has seen the lock free, at every look; undefined while held (or unknown). */
  readonly freeSinceMs: number | undefined;
}

export type StandbyMove =
  /** Try the lock now; `fallback`: the map gives the partition to another replica. */
  | { readonly move: 'campaign'; readonly fallback: boolean }
  /** Do not try it: look at the lock again (free or held) at the next retry. */
  | { readonly move: 'wait'; readonly assignee: string };

/** What a leader knows of a partition whose lock it holds. */
export interface LeaderView {
  /** The replica the map gives the partition to; undefined while no map gates it. */
  readonly assignee: string | undefined;
  /** How many successive reads of the registry have given the partition to `assignee`. */
  readonly agreedReads: number;
  /** The last read of the registry succeeded (a failed one leaves the map as it was, maybe stale). */
  readonly fresh: boolean;
  /** This replica took the lock by the fallback, while the map gave it to `from`, at `atMs`. */
  readonly fallback: { readonly from: string; readonly atMs: number } | undefined;
}

export type LeaderMove =
  | { readonly move: 'keep' }
  /** Hand the partition over to `to`, the replica the map gives it to. */
  | { readonly move: 'hand over'; readonly to: string }
  /**
   * The map gives it to `to`, but keep it for now (`why`): the map has not named `to` for long
   * enough, or cannot be read, or this replica took it by the fallback from `to` a while ago, or
   * `to` has no fresh claim on it (it is not ready to take it).
   */
  | { readonly move: 'hold'; readonly to: string; readonly why: 'unsettled' | 'stale map' | 'fallback' | 'unclaimed' };

export interface MoveTiming {
  /** How long a lock must have been seen free before a replica it is not assigned to tries it. */
  readonly graceMs: number;
  /** Successive reads of the registry that must agree before a leader hands a partition over. */
  readonly stableReads: number;
  /** How long a partition taken by the fallback stays with its taker while the same replica is its assignee. */
  readonly fallbackHoldMs: number;
}

/** A standby's move for a partition, at `nowMs`: try the lock or wait. */
export function standbyMove(self: string, view: StandbyView, nowMs: number, timing: Pick<MoveTiming, 'graceMs'>): StandbyMove {
  const { assignee, freeSinceMs } = view;
  if (assignee === undefined || assignee === self) return { move: 'campaign', fallback: false };
  if (freeSinceMs !== undefined && nowMs - freeSinceMs >= timing.graceMs) return { move: 'campaign', fallback: true };
  return { move: 'wait', assignee };
}

/** A leader's move for a partition, at `nowMs`: keep it, hold it a while longer, or hand it over. */
export function leaderMove(self: string, view: LeaderView, nowMs: number, timing: Omit<MoveTiming, 'graceMs'>): LeaderMove {
  const { assignee, agreedReads, fresh, fallback } = view;
  if (assignee === undefined || assignee === self) return { move: 'keep' };
  if (!fresh) return { move: 'hold', to: assignee, why: 'stale map' };
  if (agreedReads < timing.stableReads) return { move: 'hold', to: assignee, why: 'unsettled' };
  if (fallback !== undefined && fallback.from === assignee && nowMs - fallback.atMs < timing.fallbackHoldMs)
    return { move: 'hold', to: assignee, why: 'fallback' };
  return { move: 'hand over', to: assignee };
}

/**
 * A leader's move once the partition's claim is read: a hand-over to `to` stands only while the
 * claim names `to` (`claimant`: the replica the fresh claim names; undefined when there is none or
 * it could not be read); otherwise the leader holds the partition. Other moves stand as they are.
 */
export function claimedMove(move: LeaderMove, claimant: string | undefined): LeaderMove {
  if (move.move !== 'hand over' || claimant === move.to) return move;
  return { move: 'hold', to: move.to, why: 'unclaimed' };
}
