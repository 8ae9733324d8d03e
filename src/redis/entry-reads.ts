/**
 * A runtime entry's record (entry-record-codec.ts) read from the store: as `beat entries get` and
 * the API show it (StoredEntry), and as the scheduler takes it (a SourcedEntry, its definition
 * checked once per shape). A value that is no record is shown and handed on with its problem.
 */
import type { ConfigProblem } from '../base/errors.js';
import { parseEntryDefinition } from '../config/entry-definition.js';
import type { EntryShapes } from '../config/entry-shapes.js';
import type { SourcedEntry } from '../ports/entry-source.js';
import { UNREADABLE } from './entry-state-codec.js';
import { decodeEntryRecord, entryRevision } from './entry-record-codec.js';

/** A stored entry with its bookkeeping, as `beat entries get` and the API show it. */
export interface StoredEntry {
  readonly name: string;
  /** The entry as written (its JSON value). */
  readonly entry: unknown;
  readonly version: number;
  readonly createdMs: number;
  readonly updatedMs: number;
  /** Why the scheduler does not run it (written by an older or newer tsbeat, or by hand), if it does not. */
  readonly problems?: readonly ConfigProblem[];
}

const UNREADABLE_RECORD: ConfigProblem[] = [
  { path: '', message: 'the stored value is not a tsbeat entry record; write the entry again (beat entries set) or delete it' },
];

export function storedEntry(name: string, text: string): StoredEntry {
  const record = decodeEntryRecord(text);
  if (record === UNREADABLE) return { name, entry: undefined, version: 0, createdMs: 0, updatedMs: 0, problems: UNREADABLE_RECORD };
  const parsed = parseEntryDefinition(record.entry);
  const { version, createdMs, updatedMs, entry } = record;
  return parsed.ok
    ? { name, entry, version, createdMs, updatedMs }
    : { name, entry, version, createdMs, updatedMs, problems: parsed.problems };
}

export function sourced(name: string, text: string, shapes: EntryShapes): SourcedEntry {
  const record = decodeEntryRecord(text);
  if (record === UNREADABLE) return { name, problems: UNREADABLE_RECORD };
  const parsed = shapes.parse(record.entry);
  const { incarnation } = record;
  if (!parsed.ok) return { name, problems: parsed.problems, incarnation };
  const revision = entryRevision(record);
  return parsed.shape === undefined
    ? { name, entry: parsed.entry, incarnation, revision }
    : { name, shape: parsed.shape, args: parsed.args, kwargs: parsed.kwargs, incarnation, revision };
}
