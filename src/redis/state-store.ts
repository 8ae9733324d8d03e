/**
 * The scheduler's state in Redis: one hash per deployment, one field per entry, holding the last
 * slot published, when, how many runs so far and the last task id (or, before a first run, when the
 * entry was first seen), in the shape of entry-state-codec.ts. Instants are stored, not wall times,
 * so a change of time zone keeps history. Only the fenced publish scripts move a slot forward; this
 * module reads, and records first sightings.
 */
import type { RedisClient } from './connect.js';
import type { EntryState, StateStore } from '../ports/state.js';
import { UNREADABLE, decodeEntryState, firstSighting, readEntryState } from './entry-state-codec.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';
import { readInChunks } from '../base/chunks.js';
import { revisionIncarnation } from '../ports/entry-source.js';

/**
 * Loading the states of at most this many entries reads them by name (HMGET); more, the whole
 * state hash at once (HGETALL), which is quicker than naming most of its fields.
 */
const STATE_READ_BY_NAME_MAX = 1000;
/** The state hash is read HSCAN … COUNT this at a time, decoded as it comes (the lock renews meanwhile). */
export const STATE_SCAN_COUNT = 10_000;
/** Entry names per record-seen script call at start-up (a few milliseconds of Redis each). */
export const STATE_SEEN_CHUNK = 5000;

/** A stored state that breaks the codec's rules: the entry starts afresh, and the operator hears of it. */
export type OnUnreadable = (where: { key: string; field: string; text: string }) => void;

export class RedisStateStore implements StateStore {
  private readonly stateKey: string;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Pick<SchedulerKeys, 'state' | 'resumed' | 'entries' | 'passedSince'>,
    private readonly onUnreadable: OnUnreadable = () => undefined,
  ) {
    this.stateKey = keys.state;
  }

  /**
   * Every stored state, read with HSCAN a chunk at a time and decoded as it comes: one HGETALL of a
   * million fields would be one reply of ~100 MB turned into an object in one go, a task of seconds
   * that holds up the lock's renewal.
   */
  async readAll(): Promise<Map<string, EntryState>> {
    const out = new Map<string, EntryState>();
    let resumed: Record<string, string>;
    try {
      let cursor = '0';
      do {
        const [next, pairs] = await this.client.hscan(this.stateKey, cursor, 'COUNT', STATE_SCAN_COUNT);
        for (let i = 0; i + 1 < pairs.length; i += 2) this.decodeInto(out, pairs[i] as string, pairs[i + 1] as string);
        cursor = next;
      } while (cursor !== '0');
      resumed = await this.client.hgetall(this.keys.resumed);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['state', 'resumed']));
    }
    return withResumed(out, resumed);
  }

  /** The states of these entries only (those that have one). */
  async readSome(names: readonly string[]): Promise<Map<string, EntryState>> {
    if (names.length === 0) return new Map();
    let states: (string | null)[];
    let resumed: (string | null)[];
    try {
      [states, resumed] = await Promise.all([this.client.hmget(this.stateKey, ...names), this.client.hmget(this.keys.resumed, ...names)]);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['state', 'resumed']));
    }
    const out = new Map<string, EntryState>();
    const resumedOf: Record<string, string> = {};
    names.forEach((name, i) => {
      const text = states[i];
      if (text !== null && text !== undefined) this.decodeInto(out, name, text);
      const at = resumed[i];
      if (at !== null && at !== undefined) resumedOf[name] = at;
    });
    return withResumed(out, resumedOf);
  }

  private decodeInto(out: Map<string, EntryState>, name: string, text: string): void {
    const state = decodeEntryState(text);
    if (state === UNREADABLE) this.onUnreadable({ key: this.stateKey, field: name, text });
    else out.set(name, state);
  }

  async load(entryNames: readonly string[], nowMs: number, revisions?: ReadonlyMap<string, string>): Promise<Map<string, EntryState>> {
    // A few names (runtime entries created while leading) are read by name: reading the whole hash
    // for each write made every write cost as much as every entry there is.
    const states = entryNames.length <= STATE_READ_BY_NAME_MAX ? await this.readSome(entryNames) : await this.readAll();
    // A state of another incarnation than the one read (a RedBeat entry or django row deleted and
    // created again) is not this entry's: record-seen replaces it when it is older, so the new
    // incarnation starts afresh, and refuses (2) when it is newer (this read is the stale one).
    const unseen = entryNames.filter((name) => {
      const state = states.get(name);
      if (state === undefined) return true;
      const mine = revisionIncarnation(revisions?.get(name));
      return mine !== undefined && state.incarnation !== undefined && state.incarnation !== mine;
    });
    if (unseen.length === 0) return states;
    // First writer wins, so every replica (and every restart) agrees on a new entry's anchor. An
    // unreadable value (left out of `states`, logged) is replaced by the sighting, as a missing one.
    const seen = firstSighting(nowMs);
    const scripts = withScripts(this.client);
    const chunks: string[][] = [];
    for (let i = 0; i < unseen.length; i += STATE_SEEN_CHUNK) chunks.push(unseen.slice(i, i + STATE_SEEN_CHUNK));
    const { entries, passedSince } = this.keys;
    const record = (names: string[]): Promise<number[]> =>
      scripts.recordSeen(
        3,
        this.stateKey,
        entries,
        passedSince,
        seen,
        String(names.length),
        ...names,
        ...names.map((n) => revisions?.get(n) ?? ''),
      );
    // One chunk in flight at a time: sent all at once, a million names' scripts (200 of ~0.1-0.5 s
    // of Redis each) queued ahead of the lock's renewal, and the lock expired during the start.
    const written: number[] = [];
    for (const chunk of chunks) for (const n of await record(chunk)) written.push(n);
    const lost: string[] = [];
    unseen.forEach((name, i) => {
      // 2: the entry changed since it was read (superseded): nothing written; its runs are refused
      // too until the leader reads it again, so the sighting kept here in memory is never used. A
      // stored state of another (newer) incarnation stays as read: it tells EntryBook that this
      // read is the stale one, not that Redis lost the entry's state.
      const newer = states.get(name)?.incarnation;
      if (written[i] === 2 && newer !== undefined && newer !== revisionIncarnation(revisions?.get(name))) return;
      if (written[i] === 1 || written[i] === 2) {
        const incarnation = revisionIncarnation(revisions?.get(name));
        states.set(name, incarnation === undefined ? { seenMs: nowMs, runCount: 0 } : { seenMs: nowMs, runCount: 0, incarnation });
      } else lost.push(name);
    });
    if (lost.length > 0) {
      const values = await readInChunks(lost, (chunk) => this.client.hmget(this.stateKey, ...chunk));
      lost.forEach((name, i) => {
        const state = readEntryState(values[i]);
        if (state) states.set(name, state);
      });
    }
    return states;
  }
}

/** In-memory state for `beat run --dry-run`: the same rules, nothing persisted. */
export class MemoryStateStore implements StateStore {
  readonly states = new Map<string, EntryState>();

  async load(entryNames: readonly string[], nowMs: number): Promise<Map<string, EntryState>> {
    for (const name of entryNames) if (!this.states.has(name)) this.states.set(name, { seenMs: nowMs, runCount: 0 });
    return new Map(this.states);
  }
}

/** The states with when each paused entry was last resumed (the slots before it stay skipped). */
function withResumed(out: Map<string, EntryState>, resumed: Record<string, string>): Map<string, EntryState> {
  for (const [name, text] of Object.entries(resumed)) {
    const at = Number(text);
    const state = out.get(name);
    if (state && Number.isFinite(at)) out.set(name, { ...state, resumedAtMs: at });
  }
  return out;
}
