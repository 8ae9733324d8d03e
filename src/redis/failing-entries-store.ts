/**
 * The entries whose runs are refused because of the entry alone, as the leader last saw them, kept
 * in Redis (`failing`, see keys.ts) for `beat status`, `/status`, the entries API and the dashboard,
 * which may run in other processes. The leader owns the hash: it empties it when it begins leading
 * (a refusal it meets again is written again at once), writes an entry at each refusal and removes
 * it when the entry publishes again or leaves the schedule.
 */
import type { RedisClient } from './connect.js';
import { NO_EVENTS } from '../ports/events.js';
import type { EntryFailure, SchedulerEvents } from '../ports/events.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { nameWrongType } from './server-errors.js';
import { readInChunks } from '../base/chunks.js';
import { storedObject } from '../base/stored-object.js';

export class RedisEntryFailures {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: Pick<SchedulerKeys, 'failing'>,
    /** A write that failed (status only: the schedule does not depend on it). */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** The leader's sink: what it reports, written through. Every write is fire-and-forget: events never wait. */
  events(): SchedulerEvents {
    const key = this.keys.failing;
    const done = (write: Promise<unknown>): void => void write.catch(this.onError);
    return {
      ...NO_EVENTS,
      leadershipChanged: (leading) => {
        if (leading) done(this.client.del(key));
      },
      entryRefused: (failure) => done(this.client.hset(key, failure.entry, encodeFailure(failure))),
      entryFailureCleared: (entry) => done(this.client.hdel(key, entry)),
    };
  }

  /** The failing entries among `names` (a page of the entries API: bounded by its limit). */
  async some(names: readonly string[]): Promise<Map<string, EntryFailure>> {
    const out = new Map<string, EntryFailure>();
    if (names.length === 0) return out;
    let values: (string | null)[];
    try {
      values = await readInChunks(names, (chunk) => this.client.hmget(this.keys.failing, ...chunk));
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['failing']));
    }
    names.forEach((entry, i) => {
      const text = values[i];
      const failure = text === null || text === undefined ? undefined : decodeFailure(entry, text);
      if (failure !== undefined) out.set(entry, failure);
    });
    return out;
  }

  /** Every failing entry, by name (an unreadable record is skipped). */
  async read(): Promise<Map<string, EntryFailure>> {
    let all: Record<string, string>;
    try {
      all = await this.client.hgetall(this.keys.failing);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['failing']));
    }
    const out = new Map<string, EntryFailure>();
    for (const [entry, text] of Object.entries(all)) {
      const failure = decodeFailure(entry, text);
      if (failure !== undefined) out.set(entry, failure);
    }
    return out;
  }
}

export function encodeFailure(failure: EntryFailure): string {
  return JSON.stringify({ reason: failure.reason, since: failure.sinceMs, attempts: failure.attempts, retryAt: failure.retryAtMs });
}

export function decodeFailure(entry: string, text: string): EntryFailure | undefined {
  const { reason, since, attempts, retryAt } = storedObject(text) ?? {};
  if (typeof reason !== 'string' || typeof since !== 'number' || typeof attempts !== 'number' || typeof retryAt !== 'number')
    return undefined;
  return { entry, reason, sinceMs: since, attempts, retryAtMs: retryAt };
}
