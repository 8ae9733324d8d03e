/**
 * Entries whose runs are refused because of the entry alone (PublishResult 'refused'): a queue key of
 * another Redis type, an exchange that does not exist, a message the broker will not take. Each is
 * retried after its own backoff (ENTRY_RETRY_MIN_MS, doubled per refusal up to
 * DEFAULTS.entryRetryMaxMs) while every other entry keeps its slots; a new reason is logged once,
 * and the first run that goes out again ends it. Pure bookkeeping: the caller owns the clock and
 * the book.
 */
import { DEFAULTS } from '../base/defaults.js';
import type { EntryFailure } from '../ports/events.js';

/** The first wait before an entry refused because of the entry itself is retried; doubled at each refusal. */
const ENTRY_RETRY_MIN_MS = 1000;

export class EntryFailures {
  private readonly failing = new Map<string, EntryFailure>();

  get size(): number {
    return this.failing.size;
  }

  /** Records a refusal of `entry` at `nowMs`; `changed` when it was not failing, or failed for another reason. */
  refused(entry: string, reason: string, nowMs: number): { failure: EntryFailure; changed: boolean } {
    const before = this.failing.get(entry);
    const changed = before?.reason !== reason;
    const attempts = changed ? 1 : before.attempts + 1;
    const backoffMs = Math.min(DEFAULTS.entryRetryMaxMs, ENTRY_RETRY_MIN_MS * 2 ** Math.min(attempts - 1, 30));
    const failure: EntryFailure = { entry, reason, sinceMs: changed ? nowMs : before.sinceMs, attempts, retryAtMs: nowMs + backoffMs };
    this.failing.set(entry, failure);
    return { failure, changed };
  }

  /** Ends `entry`'s failure, if it had one: returns it. */
  clear(entry: string): EntryFailure | undefined {
    const failure = this.failing.get(entry);
    if (failure !== undefined) this.failing.delete(entry);
    return failure;
  }

  get(entry: string): EntryFailure | undefined {
    return this.failing.get(entry);
  }
}
