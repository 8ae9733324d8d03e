/**
 * The check before a publish of RedBeat's and django's entries (ReadFirst.check, issue 30), as each
 * path that publishes one applies it: the schedule's wake-ups (Runner, a buffered slot released
 * when the previous run finished included), manual runs (ControlLoop) and backfill steps
 * (backfill-work.ts, backfill-walk.ts). An edit or delete that returned before the publish is in
 * force for it. The store's entries are fenced inside the publish scripts and the config file's do
 * not change under a leader: neither is checked, nor waited for.
 */
import type { EntryOrigin, ResolvedEntry } from '../config/resolve.js';
import type { Clock } from '../ports/clock.js';

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

/** What a wake-up holds at an instant: the entries due then (the book's), and those whose buffered slot it would release then (OverlapGate.releasable). */
export interface WakeUpView {
  due(atMs: number): Iterable<{ readonly entry: ResolvedEntry }>;
  releasable(atMs: number): Iterable<ResolvedEntry>;
}

/** The instant a wake-up's check looked at, and the buffered slots the wake-up may release (checked then, or of an origin not checked). */
export interface CheckedInstant {
  readonly atMs: number;
  readonly mayRelease: (entry: ResolvedEntry) => boolean;
}

/**
 * A wake-up's check (Runner): reads the clock, checks the entries of the checked origins due then
 * and those whose buffered slot is released then, and returns that instant, which the wake-up then
 * publishes at: a change that returned before a slot of theirs is in force for it (what fell due
 * during the check waits for the next wake-up, at once). That instant holds when none was due too:
 * a slot that falls due while the process is held up before the publish (preempted, stopped) is one
 * no check has seen. So for a buffered slot of theirs: only one released at that instant is released
 * by the wake-up (`mayRelease`); one whose previous run finished during the check waits for the next
 * wake-up (the finish asks for one) and its check. Undefined when no origin is checked: the wake-up
 * publishes at the current instant.
 */
export async function checkWakeUp(before: BeforePublish | undefined, clock: Clock, view: WakeUpView): Promise<CheckedInstant | undefined> {
  if (before === undefined || before.origins.size === 0) return undefined;
  const { origins } = before;
  const atMs = clock.now();
  const released = [...view.releasable(atMs)];
  const due = checkedNames(dueThenReleased(view.due(atMs), released), origins);
  if (due !== undefined) await before.check(due);
  const seen = new Set(released.map((e) => e.name));
  return { atMs, mayRelease: (entry) => entry.origin === undefined || !origins.has(entry.origin) || seen.has(entry.name) };
}

function* dueThenReleased(due: Iterable<{ readonly entry: ResolvedEntry }>, released: readonly ResolvedEntry[]): Generator<ResolvedEntry> {
  for (const { entry } of due) yield entry;
  yield* released;
}
