import type { SlotAhead } from './dispatcher.js';

/**
 * Concurrency groups (issue 70; config/concurrency.ts): what the leader keeps in Redis of the runs
 * that wait for a place in their group, and the store that keeps them (redis/waiting-store.ts).
 */

/** A run waiting for its group: taken off its schedule (its slot stored), published when a place frees. */
export interface WaitingRun {
  readonly group: string;
  readonly entry: string;
  readonly slotMs: number;
  /** The slot's own task id: the run is the slot's, published late. */
  readonly taskId: string;
  /** The revision it was taken under (ResolvedEntry.revision); undefined for an entry of the config file. */
  readonly revision?: string;
  /** Past this instant it no longer runs: recorded as missed (its entry's catch-up window). */
  readonly untilMs: number;
}

/** group-wait.lua's code for one run: it waits; it was published or waits already (stale); its entry changed (superseded). */
export type WaitCode = 'waits' | 'stale' | 'superseded';

export interface WaitingRunsStore {
  /**
   * Takes these runs' slots and makes them wait, in one fenced step (lua/group-wait.lua); nothing
   * when fenced, stopped, or when a slot is ahead of Redis's clock by more than lock.maxClockSkew.
   */
  wait(
    runs: readonly WaitingRun[],
    token: string,
    nowMs: number,
  ): Promise<'fenced' | 'stopped' | { readonly ahead: SlotAhead } | WaitCode[]>;
  /**
   * The waiting runs, the earliest slot first, at most `max`, each with its member's text; `run`
   * undefined for a member that does not decode (something else wrote it), which the leader discards.
   */
  waiting(max: number): Promise<{ member: string; run: WaitingRun | undefined }[]>;
  /** Whether a run of `entry` for `slotMs` waits (its slot taken, not published). */
  waitsAt(entry: string, slotMs: number): Promise<boolean>;
  /** Removes a waiting run unpublished (past its wait, its entry gone, or it does not decode). */
  discard(member: string): Promise<void>;
}
