/**
 * The one codec of a runtime entry's record: the value of its field in the `entries` hash
 * (keys.ts). The Lua scripts build and read the same shape through
 * src/redis/lua/includes/entry-record.lua.
 *
 * A record is JSON written in exactly this order, with no spaces:
 *   {"v":<version>,"i":<incarnation>,"created":<epoch ms>,"updated":<epoch ms>,"entry":<the entry's JSON>}
 *   v        the version of the write that last changed it (the `entries:version` counter then):
 *            the counter only rises, so `v` names one definition of one incarnation of the entry,
 *            which is what the publish scripts check a run against (entryRevision)
 *   i        its incarnation: the version of the write that created it, kept by later writes and
 *            never given to another entry, so that a name deleted and created again is a new entry
 *            (its state is not the old one's). Records written before incarnations have none: theirs
 *            is `c<created>` (`created` was the incarnation then), kept as long as they are edited
 *   created  when the entry was first written (kept by later writes)
 *   updated  when it was last changed
 *   entry    the entry as its writer gave it (the same object as a config file's beatSchedule.<name>),
 *            checked by the config's entry schema before it was written, and again when read
 * The fixed prefix lets Lua read `created` and compare `entry` without decoding the entry (which may
 * hold values cjson cannot round-trip, such as large integers).
 */
import { UNREADABLE } from './entry-state-codec.js';
import type { Unreadable } from './entry-state-codec.js';

export interface EntryRecord {
  readonly version: number;
  /** See the header: the digits of `i`, or `c<created>` for a record written without one. */
  readonly incarnation: string;
  readonly createdMs: number;
  readonly updatedMs: number;
  /** The entry's JSON value, unchecked here. */
  readonly entry: unknown;
}

const PREFIX = /^\{"v":(\d+),(?:"i":(\d+),)?"created":(-?\d+),"updated":(-?\d+),"entry":/;

/** `incarnation` undefined: a record of the form written before incarnations (see the header). */
export function encodeEntryRecord(
  version: number,
  incarnation: number | undefined,
  createdMs: number,
  updatedMs: number,
  entryJson: string,
): string {
  const i = incarnation === undefined ? '' : `"i":${incarnation},`;
  return `{"v":${version},${i}"created":${createdMs},"updated":${updatedMs},"entry":${entryJson}}`;
}

/**
 * What a publish script compares a run of a store entry against (the stored record's `v`): the
 * revision a runtime entry carries (ResolvedEntry.revision).
 */
export function entryRevision(record: EntryRecord): string {
  return String(record.version);
}

/** The record stored as `text`, or UNREADABLE when it is not one (written by something else). */
export function decodeEntryRecord(text: string): EntryRecord | Unreadable {
  const match = PREFIX.exec(text);
  if (match === null || !text.endsWith('}')) return UNREADABLE;
  let entry: unknown;
  try {
    entry = JSON.parse(text.slice(match[0].length, -1));
  } catch {
    return UNREADABLE;
  }
  const createdMs = Number(match[3]);
  return {
    version: Number(match[1]),
    incarnation: match[2] ?? `c${createdMs}`,
    createdMs,
    updatedMs: Number(match[4]),
    entry,
  };
}

/**
 * The text an entry is stored as: JSON with its keys in a canonical order, so that the same entry
 * written twice compares equal (the write script then reports it unchanged and raises no version).
 * An entry whose keys are in that order already (what `beat entries export` writes, and what a
 * record holds) is written as it is: the copy with sorted keys is made only when one is not.
 */
export function canonicalEntryJson(value: unknown): string {
  return keysSorted(value, 0) ? JSON.stringify(value) : JSON.stringify(value, sortedKeys);
}

function sortedKeys(_key: string, v: unknown): unknown {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]]),
      )
    : v;
}

/** Keys that objects list first, in numeric order, whatever the order they were added in (array indices; up to 9 digits surely). */
const ARRAY_INDEX = /^(0|[1-9]\d{0,8})$/;

/** Deeper than this, keysSorted gives up (the copy decides): checked entries are far shallower. */
const SORTED_CHECK_DEPTH = 64;

/**
 * Whether every object in `value` lists its keys in sorted order, so that JSON.stringify writes
 * what sortedKeys would (an object's integer-like keys come first, in numeric order, either way).
 */
function keysSorted(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth > SORTED_CHECK_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!keysSorted(item, depth + 1)) return false;
    return true;
  }
  let previous: string | undefined;
  for (const key of Object.keys(value)) {
    if (previous !== undefined && !(previous < key) && !ARRAY_INDEX.test(previous)) return false;
    previous = key;
    if (!keysSorted((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}
