/**
 * The runtime entries' partition index (keys.ts entriesPartition): with a recorded partition count
 * N > 1, a set of names per partition of N, so that a replica taking partitions on reads its share
 * of the store (the names of its sets, then their records by HMGET) instead of every record of the
 * one hash the deployment's entries live in. entries-write.lua keeps it in the step that writes the
 * records (it computes each name's partition itself, lua/includes/crc32.lua, so that no writer needs
 * to know the count); lua/entries-index.lua builds it where it is missing or short and drops the
 * names whose record is gone, one atomic step at a time.
 *
 * Why an index beside the hash rather than a hash per partition: every writer, the API's pages
 * (entries:names) and the change feed (entries:changes) keep working on one store, and a change of
 * the count (`beat partitions set`) builds a new index instead of moving every record. Why sets: the
 * index is asked only "which names", never in order (the names zset serves the pages), SSCAN reads a
 * set in bounded steps, and a set's member costs about half a zset's. SSCAN may return a name twice
 * (a rehash during the scan): the reader drops repeats.
 */
import type { Redis } from 'ioredis';
import { chunksOf } from '../base/chunks.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';

/** The keys the index is read and built with: the deployment's store (partitionRuntimeKeys). */
export type EntryIndexKeys = Pick<
  SchedulerKeys,
  'entries' | 'partitioning' | 'entriesPartition' | 'entriesPartitionBuild' | 'entriesPartitionHead'
>;

/** Records looked at by one build step (HSCAN's COUNT), and names by one SSCAN: a millisecond or two of Redis each. */
const STEP = 1000;
/** Names per drop call (the script looks each up). */
const DROP_CHUNK = 1000;
/** Keys per UNLINK when an index is removed. */
const UNLINK_CHUNK = 128;

/** What a caller of ready() is told when it had to build the index: where a take-over's time went. */
export interface IndexBuildHooks {
  /** The index of `count` is missing or short and this caller begins (or joins) the pass that builds it. */
  readonly building?: (count: number) => void;
  /** The pass is over: the names this caller's steps added, and how long it took it. */
  readonly built?: (report: { count: number; added: number; ms: number }) => void;
}

export class EntryIndex {
  constructor(
    private readonly client: Redis,
    private readonly keys: EntryIndexKeys,
    private readonly hooks: IndexBuildHooks = {},
  ) {}

  /**
   * Whether `count`'s index can be read: writers keep it (the count is the recorded one, or the
   * one a move goes to) and it holds as many names as the store has records, built first when it
   * holds fewer (a store written before the index, or before the count was recorded; records
   * written by hand) or while a build is under way. False when writers do not keep it: the caller
   * reads the store whole.
   */
  async ready(count: number): Promise<boolean> {
    const [kept, stored, indexed, building] = (await this.call(['check', String(count)])) as number[];
    if (kept !== 1) return false;
    if (building === 0 && indexed !== undefined && stored !== undefined && indexed >= stored) return true;
    this.hooks.building?.(count);
    const startedMs = Date.now();
    const added = await this.build(count);
    if (added === false) return false;
    this.hooks.built?.({ count, added, ms: Date.now() - startedMs });
    return true;
  }

  /**
   * Takes steps of the pass over the store's records that adds every name to its set, until it is
   * over: a pass shared with every other caller (the script keeps its cursor), begun when none is
   * under way and the sets hold fewer names than there are records. Bounded steps, so that Redis
   * and this process serve others (a lock's renewal) between them. False when writers stopped
   * keeping `count`'s index meanwhile (the count changed); else the names this caller's steps added.
   */
  async build(count: number): Promise<number | false> {
    let added = 0;
    for (;;) {
      const [state, names] = (await this.call(['build', String(count), String(STEP)])) as [string | number, number];
      if (state === -1) return false;
      added += Number(names ?? 0);
      if (state === 'done') return added;
    }
  }

  /**
   * The records of partitions `held` of `count`, by the names in their sets: HMGET in chunks, the
   * next asked for while this one is handed on; a name without a record is dropped from the index.
   */
  async records(count: number, held: Iterable<number>, each: (name: string, text: string) => void): Promise<void> {
    for (const partition of [...held].sort((a, b) => a - b)) {
      const chunks = [...chunksOf(await this.names(count, partition))];
      const fetch = (chunk: string[] | undefined) =>
        chunk === undefined
          ? undefined
          : this.read(() => this.client.hmget(this.keys.entries, ...chunk)).then((texts) => ({ chunk, texts }));
      const gone: string[] = [];
      let next = 0;
      let coming = fetch(chunks[next++]);
      while (coming !== undefined) {
        const { chunk, texts } = await coming;
        coming = fetch(chunks[next++]);
        // (Its rejection is awaited next round; one thrown by `each` meanwhile must not leave it unhandled.)
        coming?.catch(() => undefined);
        chunk.forEach((name, i) => {
          const text = texts[i];
          if (text === null || text === undefined) gone.push(name);
          else each(name, text);
        });
      }
      if (gone.length > 0) await this.drop(count, gone);
    }
  }

  /** The names in partition `partition` of `count`, each once. */
  async names(count: number, partition: number): Promise<string[]> {
    const key = this.keys.entriesPartition(count, partition);
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, members] = await this.read(() => this.client.sscan(key, cursor, 'COUNT', STEP));
      for (const name of members) seen.add(name);
      cursor = next;
    } while (cursor !== '0');
    return [...seen];
  }

  /** Drops from `count`'s index those of `names` that have no record (checked by the script, in the same step). */
  async drop(count: number, names: readonly string[]): Promise<number> {
    let removed = 0;
    for (const chunk of chunksOf(names, DROP_CHUNK)) removed += Number(await this.call(['drop', String(count), ...chunk]));
    return removed;
  }

  /** Removes `count`'s index and a build's cursor (UNLINK: Redis frees its sets off its main thread). */
  async remove(count: number): Promise<void> {
    if (count < 2) return;
    const keys = Array.from({ length: count }, (_, p) => this.keys.entriesPartition(count, p));
    keys.push(this.keys.entriesPartitionBuild(count));
    for (const chunk of chunksOf(keys, UNLINK_CHUNK)) await this.read(() => this.client.unlink(...chunk));
  }

  private call(args: string[]): Promise<unknown> {
    const { entries, partitioning, entriesPartitionHead } = this.keys;
    return this.read(() => withScripts(this.client).entriesIndex(3, [entries, partitioning, entriesPartitionHead, ...args]));
  }

  private async read<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['entries', 'partitioning']));
    }
  }
}
