/**
 * The one place that says what an entry owns in Redis, and so what its delete removes. Its
 * definition (the `entries` hash), its state, its paused mark and its resume time go in the same
 * step as the delete (lua/entries-write.lua, KEYS[1], [5]–[7]); everything else below goes right
 * after it (RedisEntryStore.forget): the leader's records of its runs and of its troubles, which
 * an entry created again under the name must not inherit (a pauseOnFailure count, a last result,
 * a day strip of slots it never had, passed-over slots a backfill would publish).
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connect.js';
import { chunksOf, pushAll } from '../base/chunks.js';
import type { SchedulerKeys } from './keys.js';

/**
 * An entry's keys of its own (one key per entry): its run history, its reports of slots that never
 * ran, and its record of passed-over slots (what `beat backfill` checks).
 */
export const OWN_KEYS = ['runs', 'missed', 'passed'] as const satisfies readonly (keyof SchedulerKeys)[];
/** Shared hashes with a field named after the entry. */
export const OWN_FIELDS = [
  'runsFinished',
  'failures',
  'failing',
  'notes',
  'pauseNotes',
  'passedFloor',
  'passedOpen',
] as const satisfies readonly (keyof SchedulerKeys)[];
/** Shared sets that may hold its name. */
export const OWN_MEMBERS = ['runsPending'] as const satisfies readonly (keyof SchedulerKeys)[];

type OwnedKeys = Pick<SchedulerKeys, (typeof OWN_KEYS)[number] | (typeof OWN_FIELDS)[number] | (typeof OWN_MEMBERS)[number]>;

/**
 * Queues on `batch` the removal of what the named entries own besides their definition and state.
 * `names` is one bounded chunk (the caller's): it goes as one argument array, never spread.
 */
export function forgetOwned(batch: ChainableCommander, keys: OwnedKeys, names: readonly string[]): void {
  if (names.length === 0) return;
  for (const name of names) for (const own of OWN_KEYS) batch.del(keys[own](name));
  // One argument array each (ioredis flattens it), not a spread.
  for (const hash of OWN_FIELDS) batch.call('HDEL', pushAll([keys[hash]], names));
  for (const set of OWN_MEMBERS) batch.call('SREM', pushAll([keys[set]], names));
}

/** Removes what the named entries own (forgetOwned), a bounded chunk per transaction. */
export async function forgetOwnedNow(client: RedisClient, keys: OwnedKeys, names: readonly string[]): Promise<void> {
  for (const chunk of chunksOf(names)) {
    const batch = client.multi();
    forgetOwned(batch, keys, chunk);
    await batch.exec();
  }
}
