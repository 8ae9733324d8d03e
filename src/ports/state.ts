/** What the runner knows of each entry's stored state, and where it loads it from. */

/** What the runner knows of the stored state of an entry. */
export interface EntryState {
  /** The last slot published. */
  readonly slotMs?: number;
  /** When the entry was first seen by a leader (the grid anchor of a new interval entry). */
  readonly seenMs?: number;
  readonly publishedAtMs?: number;
  /** Every run published, scheduled and manual. */
  readonly runCount: number;
  /** How many of `runCount` were manual runs (`beat trigger`); absent = none. Scheduled runs are the rest. */
  readonly manualRuns?: number;
  readonly lastTaskId?: string;
  /** The last run (publishedAtMs, lastTaskId) was a manual one (`beat trigger`), not slotMs. */
  readonly lastRunTriggered?: boolean;
  /**
   * The incarnation this state belongs to (stored for entries of RedBeat and django, whose fence
   * is '@' + incarnation: ResolvedEntry.revision); absent on states written before incarnations.
   */
  readonly incarnation?: string;
  /** When the entry was last resumed after a pause: slots up to then were skipped, never caught up. */
  readonly resumedAtMs?: number;
}

export interface StateStore {
  /**
   * Every entry's stored state; entries never seen get `seenMs = nowMs` recorded (first writer
   * wins), except a runtime entry whose `revisions` entry (ResolvedEntry.revision) is no longer the
   * stored one: nothing is recorded for an entry deleted or changed since it was read (a state of a
   * newer incarnation than the one read is handed back as stored: the read is the stale one).
   */
  load(entryNames: readonly string[], nowMs: number, revisions?: ReadonlyMap<string, string>): Promise<Map<string, EntryState>>;
}
