/**
 * The check before a publish of RedBeat's and django's entries (ReadFirst.check, issue 30), as each
 * path that publishes one applies it: the schedule's wake-ups (Runner's checkWakeUp, a buffered slot
 * released when the previous run finished included), manual runs (ControlLoop) and backfill steps
 * (backfill-work.ts, backfill-walk.ts). An edit or delete that returned before the publish is in
 * force for it. The store's entries are fenced inside the publish scripts and the config file's do
 * not change under a leader: neither is checked, nor waited for.
 */
import type { EntryOrigin, ResolvedEntry } from '../config/resolve.js';

export interface BeforePublish {
  /** The origins checked (EntryCatalog.checkedOrigins). */
  readonly origins: ReadonlySet<EntryOrigin>;
  /** Checks the entries (names by origin) and applies their changes before it resolves, in bounded time (ReadFirst.check). */
  check(due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<void>;
}

/** The names of `entries` of the checked origins, by origin; undefined when there is none. */
export function checkedNames(entries: Iterable<ResolvedEntry>, origins: ReadonlySet<EntryOrigin>): Map<EntryOrigin, string[]> | undefined {
  let due: Map<EntryOrigin, string[]> | undefined;
  for (const entry of entries) {
    if (entry.origin === undefined || !origins.has(entry.origin)) continue;
    due ??= new Map();
    const names = due.get(entry.origin);
    if (names === undefined) due.set(entry.origin, [entry.name]);
    else names.push(entry.name);
  }
  return due;
}

/**
 * The definition in force of `entry` once checked against its source: `entry` itself at once when
 * its origin is not checked; else, after the check, what `find` holds then (the same object when
 * it did not change, EntryCatalog keeps it), or undefined when it was deleted.
 */
export async function checkedEntry(
  before: BeforePublish | undefined,
  entry: ResolvedEntry,
  find: (name: string) => ResolvedEntry | undefined,
): Promise<ResolvedEntry | undefined> {
  const due = before === undefined ? undefined : checkedNames([entry], before.origins);
  if (before === undefined || due === undefined) return entry;
  await before.check(due);
  return find(entry.name);
}
