/**
 * What `beat partitions set` moves from a partition's keys to another's (keys.ts partitionKeys), and
 * how: every record kept per entry under a partition, found by what holds the entry's name, moved
 * by lua/move-entries.lua (an entry's records all at once, under both partitions' fences), and the
 * pending requests about an entry (manual runs, backfills) by lua/move-request.lua.
 *
 * Per entry, moved: its state (the `state` hash), paused mark (`paused`), resume time (`resumed`),
 * and what entry-owned.ts says it owns: its run history (`runs:<entry>`, `finished`, `runs:pending`),
 * its FAILUREs since the last SUCCESS (`failures`), a failing mark (`failing`), its notes (`notes`,
 * `paused:notes`), its reports of missed slots (`missed:<entry>`) and its record of passed-over slots
 * (`passed:<entry>`, `passed-floor`, `passed-open`). Per request: the pending manual runs (`triggers`,
 * with `triggered:<id>`) and backfills (`backfills`, with `backfill:<id>`). A partition's
 * `passed-since` is raised to that of the partitions its entries came from. Not moved: a partition's
 * lock, fence, leader record, channel and claim (each partition has its own; a claim left by a
 * replica of the old count names no replica of the new one and runs out within lock.ttl), and the deployment's keys
 * (keys.ts DEPLOYMENT_KEYS: replicas, alerts, the audit trail, the partition map, the record of the
 * count), and the runtime entries' store and the config file's names (`entries*`, `statics*`), which
 * are the deployment's (keys.ts partitionRuntimeKeys).
 */
import type { Redis } from 'ioredis';
import { decodeBackfillRequest } from '../control/backfill.js';
import { entryOfRunsKey, globEscape } from '../control/partition-count.js';
import { OWN_FIELDS, OWN_KEYS, OWN_MEMBERS } from './entry-owned.js';
import type { SchedulerKeys } from './keys.js';
import { withScripts } from './scripts.js';

/** The hashes with a field per entry, the state first (move-entries.lua reads it to choose). */
export const MOVED_FIELDS = ['state', 'resumed', ...OWN_FIELDS] as const satisfies readonly (keyof SchedulerKeys)[];
/** The sets with the entry's name as a member. */
export const MOVED_MEMBERS = ['paused', ...OWN_MEMBERS] as const satisfies readonly (keyof SchedulerKeys)[];
/** The entry's own keys. */
export const MOVED_KEYS = OWN_KEYS;

const SCAN_COUNT = 1000;

/** A partition's keys, and the token `beat partitions set` wrote to its fence. */
export interface FencedPartition {
  readonly keys: SchedulerKeys;
  readonly token: string;
}

/** Every entry with a record under `keys` (one partition's): a field, a member, or a key of its own. */
export async function entriesIn(client: Redis, keys: SchedulerKeys): Promise<Set<string>> {
  const found = new Set<string>();
  for (const hash of MOVED_FIELDS) {
    let cursor = '0';
    do {
      const [next, flat] = await client.hscan(keys[hash], cursor, 'COUNT', SCAN_COUNT);
      for (let i = 0; i < flat.length; i += 2) found.add(flat[i] as string);
      cursor = next;
    } while (cursor !== '0');
  }
  for (const set of MOVED_MEMBERS) {
    let cursor = '0';
    do {
      const [next, members] = await client.sscan(keys[set], cursor, 'COUNT', SCAN_COUNT);
      for (const member of members) found.add(member);
      cursor = next;
    } while (cursor !== '0');
  }
  for (const own of MOVED_KEYS) {
    // The key of an entry named "x" is the key's name up to "x".
    const head = keys[own]('x').slice(0, -1);
    let cursor = '0';
    do {
      const [next, names] = await client.scan(cursor, 'MATCH', `${globEscape(head)}*`, 'COUNT', SCAN_COUNT);
      for (const key of names) {
        const suffix = key.slice(head.length);
        const entry = own === 'runs' ? entryOfRunsKey(suffix) : suffix;
        if (entry !== undefined) found.add(entry);
      }
      cursor = next;
    } while (cursor !== '0');
  }
  return found;
}

/**
 * Moves the records of `names` from `source` to `destination` (one move-entries.lua call: a bounded
 * chunk, the caller's). `sinceClaimMs`: the passed-since the destination takes for entries from a
 * source that has none. Undefined when fenced (another process took either lock): nothing written.
 */
export async function moveEntryRecords(
  client: Redis,
  source: FencedPartition,
  destination: FencedPartition,
  names: readonly string[],
  sinceClaimMs: number,
): Promise<{ moved: number; kept: number } | undefined> {
  const keys: string[] = [source.keys.fence, destination.keys.fence, source.keys.passedSince, destination.keys.passedSince];
  for (const hash of MOVED_FIELDS) keys.push(source.keys[hash], destination.keys[hash]);
  for (const set of MOVED_MEMBERS) keys.push(source.keys[set], destination.keys[set]);
  for (const name of names) for (const own of MOVED_KEYS) keys.push(source.keys[own](name), destination.keys[own](name));
  const args = [
    source.token,
    destination.token,
    String(MOVED_FIELDS.length),
    String(MOVED_MEMBERS.length),
    String(MOVED_KEYS.length),
    String(sinceClaimMs),
    String(names.length),
  ];
  for (const name of names) args.push(name);
  const reply = await withScripts(client).moveEntries(keys.length, [...keys, ...args]);
  if (reply[0] === -1) return undefined;
  return { moved: Number(reply[0]), kept: Number(reply[1]) };
}

/** A pending request in a partition's list, with the entry it is about and the key of what is recorded of it. */
export interface PendingRequest {
  readonly list: 'triggers' | 'backfills';
  readonly text: string;
  readonly entry: string;
  readonly record: (keys: SchedulerKeys) => string;
}

/** The pending manual runs and backfills in a partition's lists; one that cannot be read stays where it is. */
export async function pendingRequests(client: Redis, keys: SchedulerKeys): Promise<PendingRequest[]> {
  const [triggers, backfills] = await Promise.all([client.lrange(keys.triggers, 0, -1), client.lrange(keys.backfills, 0, -1)]);
  const found: PendingRequest[] = [];
  for (const text of triggers) {
    const request = triggerOf(text);
    if (request !== undefined) found.push({ list: 'triggers', text, entry: request.entry, record: (k) => k.triggered(request.id) });
  }
  for (const text of backfills) {
    const request = decodeBackfillRequest(text);
    if (request !== undefined) found.push({ list: 'backfills', text, entry: request.entry, record: (k) => k.backfill(request.id) });
  }
  return found;
}

/** Moves a pending request to `destination`'s list: true moved, false gone from the source already, undefined fenced. */
export async function moveRequest(
  client: Redis,
  request: PendingRequest,
  source: FencedPartition,
  destination: FencedPartition,
): Promise<boolean | undefined> {
  const reply = await withScripts(client).moveRequest(
    6,
    source.keys.fence,
    destination.keys.fence,
    source.keys[request.list],
    destination.keys[request.list],
    request.record(source.keys),
    request.record(destination.keys),
    source.token,
    destination.token,
    request.text,
  );
  return reply === -1 ? undefined : reply === 1;
}

function triggerOf(text: string): { entry: string; id: string } | undefined {
  try {
    const value = JSON.parse(text) as { entry?: unknown; id?: unknown };
    return typeof value.entry === 'string' && typeof value.id === 'string' ? { entry: value.entry, id: value.id } : undefined;
  } catch {
    return undefined;
  }
}
