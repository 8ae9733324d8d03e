/**
 * What a plan (control/entry-plan.ts) reads of the runtime store: every entry one owner holds, and
 * every entry of a name the file holds (whoever holds it), each with what deleting it would drop.
 */
import type { RedisClient } from './connect.js';
import { chunksOf } from '../base/chunks.js';
import { ownerOf } from '../control/entry-plan.js';
import type { PlannedStored } from '../control/entry-plan.js';
import { canonicalEntryJson } from './entry-record-codec.js';
import type { RedisEntryStore } from './entry-store.js';
import type { SchedulerKeys } from './keys.js';

export async function readOwnerEntries(
  client: RedisClient,
  keys: Pick<SchedulerKeys, 'state' | 'paused'>,
  store: RedisEntryStore,
  owner: string,
  names: ReadonlySet<string>,
): Promise<Map<string, PlannedStored>> {
  const found = new Map<string, PlannedStored>();
  const removed: string[] = [];
  for await (const page of store.pages()) {
    for (const stored of page) {
      const mine = ownerOf(stored.entry) === owner;
      if (!mine && !names.has(stored.name)) continue;
      if (mine && !names.has(stored.name)) removed.push(stored.name);
      const json = stored.entry === undefined ? '' : canonicalEntryJson(stored.entry);
      found.set(stored.name, { name: stored.name, entry: stored.entry, json, version: stored.version });
    }
  }
  // What a delete drops besides the definition (entry-owned.ts): said for the state and the paused mark.
  for (const chunk of chunksOf(removed)) {
    const [states, paused] = await Promise.all([client.hmget(keys.state, ...chunk), client.smismember(keys.paused, ...chunk)]);
    chunk.forEach((name, i) => {
      const kept: string[] = [];
      if (states[i] !== null && states[i] !== undefined) kept.push('state (last run, next slot)');
      if (paused[i] === 1) kept.push('paused mark');
      kept.push('run history');
      const before = found.get(name);
      if (before !== undefined) found.set(name, { ...before, kept });
    });
  }
  return found;
}
