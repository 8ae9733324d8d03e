/** Runs planned together and handed to the dispatcher in one call, and what is kept of them until they are recorded. */
import type { Destination } from '../celery/routing.js';
import type { DueRun } from '../ports/dispatcher.js';
import type { BookEntry } from './entry-book.js';

/**
 * What is kept of a batch handed to the dispatcher until it is recorded: `entries[i]` ran `slots[i]`
 * as task `ids[i]`, sent to `destinations[i]` (its shape's, shared: kept so that recording a run
 * does not look its entry's template up again).
 */
export interface SentBatch {
  readonly entries: BookEntry[];
  readonly slots: number[];
  readonly ids: string[];
  readonly destinations: Destination[];
}

/** Runs taken off the book together, rendered; only until they are handed to the dispatcher. */
export interface Batch extends SentBatch {
  readonly runs: DueRun[];
}

export function emptyBatch(): Batch {
  return { entries: [], slots: [], ids: [], destinations: [], runs: [] };
}

export function addRun(batch: Batch, entry: BookEntry, run: DueRun): void {
  batch.entries.push(entry);
  batch.slots.push(run.slotMs);
  batch.ids.push(run.message.id);
  batch.destinations.push(run.message.destination);
  batch.runs.push(run);
}

/**
 * What is kept of a batch once it is handed over: not its messages. Messages kept until a whole
 * burst is recorded would be copied by every young-generation collection and promoted.
 */
export function sentPart(batch: Batch): SentBatch {
  return { entries: batch.entries, slots: batch.slots, ids: batch.ids, destinations: batch.destinations };
}
