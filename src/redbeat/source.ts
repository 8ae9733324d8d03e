/**
 * RedBeat's entries as a source of runtime entries: what Python code saves with
 * `RedBeatSchedulerEntry(...).save()` runs under tsbeat unchanged.
 *
 * RedBeat keeps no version counter and sends no message when an entry changes; but its save()
 * always ZADDs the entry's key to `<prefix>:schedule`, and its delete() removes the key from there
 * and the hash. So every look (every maxInterval, see EntryCatalog) reads the zset with a digest of
 * each definition (redbeat-digest.lua: 40 hex digits per entry, 1,000 entries per call), and
 * fetches only the definitions whose digest changed. An entry Python saves, edits, disables or
 * deletes is picked up within maxInterval. Only the zset's members count, as for RedBeat's own
 * beat: a hash whose key is not in the zset is not scheduled by either.
 *
 * Incarnations: the digest script marks each entry's hash when it first sees it (keys.ts
 * REDBEAT_INCARNATION_FIELD); an entry deleted and saved again has a new mark, which the catalog
 * takes for a re-creation (even with the same definition) and whose state starts afresh.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ParsedEntry } from '../config/schema.js';
import { incarnationRevision, sourcedDefinition } from '../ports/entry-source.js';
import type { EntryChanges, EntrySnapshot, EntrySource, SourcedEntry } from '../ports/entry-source.js';
import { sourcedRedBeatEntry } from './definition.js';
import { REDBEAT_INCARNATION_FIELD } from './keys.js';
import type { RedBeatKeys } from './keys.js';
import type { SeedState } from '../ports/seeds.js';
import { withRedBeatScripts } from './scripts.js';
import { decodeDatetime } from './typed-json.js';

/** What RedBeat's meta says of an entry's last run, for cut-over adoption (redis/seed-states.ts). */
export type RedBeatSeed = SeedState;

export interface RedBeatSourceOptions {
  readonly client: Redis;
  readonly keys: RedBeatKeys;
  /**
   * Called with the entries first seen (per incarnation) that RedBeat ran before, before they are
   * handed on: tsbeat adopts RedBeat's last run where it is newer by slot (redis/seed-states.ts).
   */
  readonly seed?: (seeds: readonly RedBeatSeed[]) => Promise<void>;
}

/** The writes a look makes to what is known, through which a failed look undoes them. */
interface KnownWrites {
  set(name: string, value: string): void;
  delete(name: string): boolean;
}

/** Zset ranks per digest call: large enough to be quick, small enough not to hold Redis up. */
const CHUNK = 1000;

export class RedBeatSource implements EntrySource {
  readonly origin = 'redbeat' as const;
  /** The incarnation and digest of each entry's definition as last handed on (`<mark>/<digest>`), by name. */
  private readonly known = new Map<string, string>();
  private looks = 0;

  constructor(private readonly options: RedBeatSourceOptions) {}

  async load(): Promise<EntrySnapshot> {
    this.known.clear();
    const { changed, cursor } = await this.look();
    return { entries: changed, cursor };
  }

  async changesSince(cursor: string): Promise<EntryChanges> {
    // A cursor from another look than the last (the catalog reloaded): everything again.
    if (cursor !== String(this.looks)) this.known.clear();
    return this.look();
  }

  /**
   * Whether any of `names` is no longer as the look that returned `cursor` handed it on: deleted,
   * saved again (no mark, or another), or with another definition. One pipelined read of their
   * hashes (HMGET definition and mark), made before each publish of RedBeat entries, so that a save
   * or delete that returned before a slot is in force for it.
   *
   * Why a read here and not a check in the fenced publish script (as the store's record version
   * is): RedBeat's keys may live on another Redis than tsbeat's state and queues (sources.redbeat.url),
   * where no script sees both; and each fenced script (publish-fenced, claim-fenced, backfill-fenced,
   * trigger-fenced) would need another column of digests and keys it does not declare (the hashes
   * under RedBeat's prefix), beside the '@' incarnation fence they share. What a check in the
   * script would add is a change landing between this read and the script: that change returned
   * after the slot's instant (the leader publishes only slots due when it read), which may run as
   * it was then, as for any source read just before its slot.
   */
  async outdated(cursor: string, names: readonly string[]): Promise<boolean> {
    if (cursor !== String(this.looks)) return true;
    const { client, keys } = this.options;
    const pipeline = client.pipeline();
    for (const name of names) pipeline.hmget(keys.entry(name), 'definition', REDBEAT_INCARNATION_FIELD);
    const replies = (await pipeline.exec()) ?? [];
    return names.some((name, i) => {
      const [error, value] = replies[i] ?? [null, null];
      // A failed read tells nothing: the looks read it again.
      if (error !== null) return false;
      const [definition, mark] = value as (string | null)[];
      if (definition === null || definition === undefined || mark === null || mark === undefined) return true;
      return this.known.get(name) !== `${mark}/${createHash('sha1').update(definition).digest('hex')}`;
    });
  }

  /**
   * An entry as RedBeat holds it: its `definition` JSON as the Python code saved it (RedBeat's typed
   * JSON, `__type__` markers and all), with the key it is under; undefined when there is none.
   */
  async written(name: string): Promise<{ source: string; definition: unknown } | undefined> {
    const key = this.options.keys.entry(name);
    const text = await this.options.client.hget(key, 'definition');
    if (text === null) return undefined;
    let definition: unknown;
    try {
      definition = JSON.parse(text);
    } catch {
      // Shown as the text it is: the scheduler names the problem on the entry itself.
      definition = text;
    }
    return { source: `RedBeat: hash ${key}, field definition`, definition };
  }

  /**
   * One look, all or nothing: a look that fails (a read, or the seed's write) leaves `known` as it
   * was, so that the next look hands on what this one found (else its changes and removals, taken
   * for handed on, would never reach the catalog until the entry changed again).
   */
  private async look(): Promise<EntryChanges> {
    const before = new Map<string, string | undefined>();
    const known = {
      set: (name: string, value: string): void => {
        if (!before.has(name)) before.set(name, this.known.get(name));
        this.known.set(name, value);
      },
      delete: (name: string): boolean => {
        if (!before.has(name)) before.set(name, this.known.get(name));
        return this.known.delete(name);
      },
    };
    try {
      return await this.lookWith(known);
    } catch (error) {
      for (const [name, value] of before) {
        if (value === undefined) this.known.delete(name);
        else this.known.set(name, value);
      }
      throw error;
    }
  }

  private async lookWith(known: KnownWrites): Promise<EntryChanges> {
    const { client, keys } = this.options;
    const scripts = withRedBeatScripts(client);
    const now = new Map<string, string>();
    for (let start = 0; ; start += CHUNK) {
      const reply = await scripts.redbeatDigest(1, keys.schedule, String(start), String(start + CHUNK - 1), REDBEAT_INCARNATION_FIELD);
      for (let i = 0; i + 2 < reply.length; i += 3) {
        const name = keys.nameOf(reply[i] as string);
        const digest = reply[i + 1] as string;
        if (name !== undefined && digest !== '') now.set(name, `${reply[i + 2] as string}/${digest}`);
      }
      if (reply.length < 3 * CHUNK) break;
    }
    const removed = [...this.known.keys()].filter((name) => !now.has(name));
    for (const name of removed) known.delete(name);
    const fetch = [...now].filter(([name, digest]) => this.known.get(name) !== digest).map(([name]) => name);
    const changed: SourcedEntry[] = [];
    const seeds: RedBeatSeed[] = [];
    for (let i = 0; i < fetch.length; i += CHUNK) {
      const names = fetch.slice(i, i + CHUNK);
      const pipeline = client.pipeline();
      for (const name of names) pipeline.hmget(keys.entry(name), 'definition', 'meta', REDBEAT_INCARNATION_FIELD);
      const replies = (await pipeline.exec()) ?? [];
      names.forEach((name, j) => {
        const [error, value] = replies[j] ?? [null, null];
        // A failed read is not a delete (what tsbeat kept of it would go): left as known, read again next look.
        if (error !== null) return;
        const [definition, meta, mark] = value as (string | null)[];
        if (definition === null || definition === undefined || mark === null || mark === undefined) {
          // Deleted between the digest and the read (and maybe saved again, not marked yet: the
          // next look marks it and hands it on as a re-creation).
          if (known.delete(name)) removed.push(name);
          return;
        }
        // First sight of this incarnation: a new name, or a name deleted and saved again.
        const firstSight = this.known.get(name)?.startsWith(`${mark}/`) !== true;
        known.set(name, `${mark}/${createHash('sha1').update(definition).digest('hex')}`);
        const incarnation = `r${mark}`;
        const sourced: SourcedEntry = { ...sourcedRedBeatEntry(name, definition), incarnation, revision: incarnationRevision(incarnation) };
        changed.push(sourced);
        const seed = firstSight ? seedOf(name, meta ?? null, incarnation, sourcedDefinition(sourced)) : undefined;
        if (seed !== undefined) seeds.push(seed);
      });
    }
    if (seeds.length > 0 && this.options.seed !== undefined) await this.options.seed(seeds);
    this.looks += 1;
    return { changed, removed, cursor: String(this.looks) };
  }
}

/**
 * RedBeat's meta of an entry that ran under RedBeat: its last run and count, with the entry's
 * definition to compare by slot; undefined when it never ran.
 */
export function seedOf(name: string, meta: string | null, incarnation?: string, entry?: ParsedEntry): RedBeatSeed | undefined {
  if (meta === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(meta);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const { last_run_at: lastRun, total_run_count: count } = parsed as Record<string, unknown>;
  const lastRunMs = decodeDatetime(lastRun);
  if (typeof lastRunMs !== 'number') return undefined;
  const runCount = typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : 0;
  return {
    name,
    lastRunMs,
    runCount,
    ...(incarnation === undefined ? {} : { incarnation }),
    ...(entry === undefined ? {} : { entry }),
  };
}
