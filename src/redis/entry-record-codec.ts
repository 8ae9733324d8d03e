/**
 * The one codec of a runtime entry's record: the value of its field in the `entries` hash
 * (keys.ts). The Lua scripts build and read the same shape through
 * src/redis/lua/includes/entry-record.lua.
 *
 * A record is JSON written in exactly this order, with no spaces:
 *   {"v":<version>,"created":<epoch ms>,"updated":<epoch ms>,"entry":<the entry's JSON>}
 *   v        the version of the write that last changed it (the `entries:version` counter then)
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
  readonly createdMs: number;
  readonly updatedMs: number;
  /** The entry's JSON value, unchecked here. */
  readonly entry: unknown;
}

const PREFIX = /^\{"v":(\d+),"created":(-?\d+),"updated":(-?\d+),"entry":/;

export function encodeEntryRecord(version: number, createdMs: number, updatedMs: number, entryJson: string): string {
  return `{"v":${version},"created":${createdMs},"updated":${updatedMs},"entry":${entryJson}}`;
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
  return { version: Number(match[1]), createdMs: Number(match[2]), updatedMs: Number(match[3]), entry };
}

/**
 * The text an entry is stored as: JSON with its keys in a canonical order, so that the same entry
 * written twice compares equal (the write script then reports it unchanged and raises no version).
 */
export function canonicalEntryJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}
