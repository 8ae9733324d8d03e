/**
 * The runner's book of entries: for each enabled entry, where it stands on its schedule (the cursor),
 * the last run known published, and when it is next due, kept in a min-heap keyed by that instant.
 * It answers what is due at an instant and records what a dispatch did; it pauses and resumes.
 *
 * Pure: no timers, no I/O, no clock. Every instant comes in as an argument, so it is tested by
 * calling it (test/unit/entry-book.test.ts). Each entry is in one phase of its life (entry-life.ts:
 * waiting, dispatching, buffered, paused, finished, removed) and each method below is a transition
 * that applies to some phases only: entries leave the heap while their runs are being dispatched and
 * come back once recorded, so one entry is never in two dispatches at once.
 */
import type { ResolvedEntry } from '../config/resolve.js';
import { jitterFor, nextFires, passOver, planDue, skipThrough } from '../core/schedule.js';
import type { DuePlan } from '../core/schedule.js';
import { MinHeap } from '../core/heap.js';
import { isScheduleError } from '../base/step-budget.js';
import type { ScheduleError } from '../base/step-budget.js';
import { DEFAULTS } from '../base/defaults.js';
import type { PublishResult } from '../ports/dispatcher.js';
import type { EntryState } from '../ports/state.js';
import { bookView as viewOf, knownRunKey } from './book-entry.js';
import { isFinished } from '../config/max-runs.js';
import type { BookEntry, BookOptions, BookSnapshot, BufferRelease, Due, EntryPhase, PauseChange } from './book-entry.js';
import { BookedEntry, DISPATCHING, FINISHED, PAUSED, REMOVED, WAITING } from './entry-life.js';

/** Most slots replayed per entry per wake-up with catchUp "all"; the rest come on the next wake-up. */
const MAX_SLOTS_PER_TICK = 10_000;
/**
 * An entry whose slots come closer together than this (its rank: the time between its last two)
 * waits in the frequent lane: taken first at an instant it shares, and looked at by a dispatch
 * between its batches (frequentCameDue), so that a burst of every-minute entries does not hold a
 * 1 s entry due while it runs (issue 69).
 */
const FREQUENT_PERIOD_MS = 60_000;
/**
 * A run refused because its entry changed since it was read (PublishResult 'superseded') is tried
 * again this much later if the runtime entries have not been read again by then.
 */
export const SUPERSEDED_RETRY_MS = 1000;

export type { BookEntry, BookSnapshot, Due, EntryPhase, PauseChange } from './book-entry.js';

/** A schedule computation that failed (see EntryBook.computing): its entry was failed alone. */
const FAILED = Symbol('schedule failed');

export class EntryBook {
  /** The waiting entries by when they are due, in two lanes (see FREQUENT_PERIOD_MS): an entry is in one of them. */
  private readonly heap = new MinHeap<BookedEntry>();
  private readonly frequent = new MinHeap<BookedEntry>();
  private readonly held = new Map<string, BookedEntry>();
  /** The names of the paused entries: an entry in the book is paused, or lands paused when its dispatch ends, while its name is here. */
  private pausedNames: ReadonlySet<string> = new Set();
  /** The entries in the buffered phase (few: checked on every wake-up). */
  private readonly bufferedHeld = new Set<BookedEntry>();
  /** How many entries the book holds: those its runner schedules. */
  readonly size = (): number => this.held.size;

  constructor(private readonly options: BookOptions) {}

  /**
   * Fills the book from the stored states, at `nowMs`. `knownRuns` are the last runs this process
   * saw published while it led before (by knownRunKey: a runtime entry's are its incarnation's): an
   * entry whose stored state is missing or older has lost it (Redis lost data), and continues from
   * the known run. `knownSightings` likewise hold, for the entries that never ran, how far this
   * process had settled their slots (firstSightings): one whose stored state is only a newer first
   * sighting has lost it too, and continues from there, so that a slot that passed in the outage is
   * caught up or reported missed as any other entry's. Returns the names of those entries.
   */
  load(
    entries: readonly ResolvedEntry[],
    stored: ReadonlyMap<string, EntryState>,
    nowMs: number,
    knownRuns?: ReadonlyMap<string, number>,
    knownSightings?: ReadonlyMap<string, number>,
  ): string[] {
    const lost: string[] = [];
    for (const entry of entries) {
      const key = knownRunKey(entry);
      if (this.add(entry, stored.get(entry.name), nowMs, knownRuns?.get(key), knownSightings?.get(key))) lost.push(entry.name);
    }
    return lost;
  }

  /**
   * Adds entries that were not in the book, or changes those that were (runtime entries). A changed
   * entry keeps its cursor and last run: its new schedule continues from its last run, as a file
   * entry's does across a reload (Celery's merge rule). `stored` holds the states of the new ones.
   * Returns the entries replaced, whose compiled templates are now stale.
   */
  upsert(entries: readonly ResolvedEntry[], stored: ReadonlyMap<string, EntryState>, nowMs: number): ResolvedEntry[] {
    const replaced: ResolvedEntry[] = [];
    for (const entry of entries) {
      const held = this.held.get(entry.name);
      if (held === undefined) {
        this.add(entry, stored.get(entry.name), nowMs, undefined, undefined);
        continue;
      }
      replaced.push(held.entry);
      held.define(entry);
      // An entry in a dispatch is rescheduled, with its new schedule, when the dispatch is recorded;
      // a buffered one keeps waiting for its previous run (its new overlap policy decides then); a
      // paused one when it is resumed.
      if (held.phase.kind === 'waiting' || held.phase.kind === 'finished') this.settleNext(held, nowMs);
    }
    return replaced;
  }

  /** Takes entries out of the book for good; returns those that were in it. */
  remove(names: Iterable<string>): ResolvedEntry[] {
    const removed: ResolvedEntry[] = [];
    for (const name of names) {
      const held = this.held.get(name);
      if (held === undefined) continue;
      this.unkey(held);
      this.bufferedHeld.delete(held);
      this.held.delete(name);
      held.phase = REMOVED;
      removed.push(held.entry);
    }
    return removed;
  }

  /** True when the book holds an entry of this name. */
  has(name: string): boolean {
    return this.held.has(name);
  }

  /** The entry of this name in the book, if any. */
  entry(name: string): ResolvedEntry | undefined {
    return this.held.get(name)?.entry;
  }

  /** Adds one entry from its stored state; true when that state was found lost (see load). */
  private add(
    entry: ResolvedEntry,
    state: EntryState | undefined,
    nowMs: number,
    knownMs: number | undefined,
    knownCursorMs: number | undefined,
  ): boolean {
    let lost = false;
    // A state of another incarnation: the entry was deleted and created again since this instance
    // read it (from a source it cannot read again now, say). This read is the stale one and Redis
    // lost nothing; its runs are refused until it is read again (the publish fence). It starts
    // from now, as a sighting would, and the known runs of its old incarnation are not compared.
    const stale = state?.incarnation !== undefined && entry.incarnation !== undefined && state.incarnation !== entry.incarnation;
    const own = stale ? undefined : state;
    let cursorMs = own?.slotMs ?? own?.seenMs ?? nowMs;
    let lastRunMs = own?.slotMs;
    if (!stale && knownMs !== undefined && (lastRunMs === undefined || lastRunMs < knownMs)) {
      // Re-anchoring at now would drop the slots of the outage whatever the catch-up policy and
      // shift an interval's phase; what this instance saw published is a better history.
      lost = true;
      cursorMs = lastRunMs = knownMs;
    } else if (
      !stale &&
      knownCursorMs !== undefined &&
      lastRunMs === undefined &&
      (own?.seenMs === undefined || own.seenMs > knownCursorMs)
    ) {
      // Never ran, and its first sighting is newer than what this instance had settled: the
      // sighting was lost with the rest and written again now, which would pass over the outage.
      lost = true;
      cursorMs = knownCursorMs;
    }
    // Slots that passed while the entry was paused stay skipped across restarts and failovers.
    const runs = own === undefined ? 0 : own.runCount - (own.manualRuns ?? 0);
    const held = new BookedEntry(entry, PAUSED, cursorMs, lastRunMs, runs);
    this.held.set(entry.name, held);
    if (own?.resumedAtMs !== undefined) {
      const { resumedAtMs } = own;
      const skipped = this.computing(held, nowMs, () => skipThrough(entry.schedule, entry.timezone, cursorMs, resumedAtMs, held.window));
      if (skipped === FAILED) return lost;
      held.cursorMs = skipped;
    }
    // Due at once if a slot was missed while no one led; plan() then applies the catch-up policy.
    if (!this.pausedNames.has(entry.name)) this.settleNext(held, nowMs);
    return lost;
  }

  /** When the first waiting entry is due (of those due after `afterMs` if given, a walk of those due by then); undefined when none. */
  nextDueMs(afterMs?: number): number | undefined {
    const keyOf = (lane: MinHeap<BookedEntry>): number | undefined =>
      afterMs === undefined ? lane.peek()?.key : lane.firstKeyAbove(afterMs);
    const main = keyOf(this.heap);
    const frequent = keyOf(this.frequent);
    return main === undefined || (frequent !== undefined && frequent < main) ? frequent : main;
  }

  /**
   * True when an entry of the frequent lane fell due after `sinceMs`, a dispatch's instant, and by
   * `nowMs`: that dispatch takes it at once (dispatch-window.ts). Those due by `sinceMs` need no
   * look: takeDue takes them before any other.
   */
  frequentCameDue(sinceMs: number, nowMs: number): boolean {
    const top = this.frequent.peek();
    return top !== undefined && top.key > sinceMs && top.key <= nowMs;
  }

  /** The waiting entries due at or before `limitMs` (at most `most`), in no particular order. */
  dueBy(limitMs: number, most?: number): BookEntry[] {
    const frequent = this.frequent.upTo(limitMs, most);
    return frequent.concat(this.heap.upTo(limitMs, most === undefined ? undefined : most - frequent.length));
  }

  /** True while the entry waits in the heap (not taken for a dispatch, not paused, not run out, not removed). */
  isWaiting(entry: BookEntry): boolean {
    return entry.phase.kind === 'waiting';
  }

  /**
   * What the missed-run policy would run for an entry at `nowMs`, from its cursor; changes nothing.
   * An entry whose schedule cannot be computed has nothing to run (takeDue fails it).
   */
  plan(entry: BookEntry, nowMs: number): DuePlan {
    try {
      return this.planDue(BookedEntry.open(entry), nowMs);
    } catch (error) {
      if (!isScheduleError(error)) throw error;
      return { slots: [], missed: 0, missedReason: undefined, cursorMs: entry.cursorMs, nextSlotMs: undefined };
    }
  }

  private planDue(entry: BookedEntry, nowMs: number): DuePlan {
    const held = entry;
    const e = entry.entry;
    const { backlogToMs } = held;
    const next = entry.nextSlotMs;
    // A bufferAll backlog is not missed: its slots waited on purpose, and run in order, one a time.
    if (backlogToMs !== undefined && e.overlap === 'bufferAll' && next !== undefined && next <= backlogToMs && !isFinished(e, entry.runs))
      return { slots: [next], missed: 0, missedReason: undefined, cursorMs: next, nextSlotMs: this.nextSlotAfter(held, next) };
    // Never more runs in one plan than maxRuns leaves (catchUp "all" after downtime, say).
    const left = e.maxRuns === undefined ? Infinity : Math.max(0, e.maxRuns - entry.runs);
    return planDue(
      { schedule: e.schedule, zone: e.timezone, catchUp: e.catchUp, catchUpWindowMs: e.catchUpWindowMs, window: held.window },
      entry.cursorMs,
      nowMs,
      // The jitter delays a slot on purpose: that delay is not lateness, and an entry with catchUp
      // "skip" must not skip the slots its own jitter delayed past the grace.
      {
        graceMs: Math.max(1000, this.options.maxIntervalMs) + e.jitterMs,
        maxSlots: Math.min(MAX_SLOTS_PER_TICK, left),
        nextSlotMs: entry.nextSlotMs,
      },
    );
  }

  /**
   * Takes the first entry due at `nowMs` off the heap (the frequent lane's first; of it alone if
   * `lane` says so) and plans it (see Due); undefined when none is due. An entry with nothing to
   * run is moved on here; one with runs waits for record or keepDue.
   */
  takeDue(nowMs: number, lane?: 'frequent'): Due | undefined {
    let top: BookedEntry | undefined;
    let plan: DuePlan | typeof FAILED = FAILED;
    // An entry whose schedule cannot be computed is failed alone (back in the heap at its retry) and the next one taken.
    while (plan === FAILED) {
      const first = this.frequent.peek();
      top = lane === 'frequent' || (first !== undefined && first.key <= nowMs) ? first : this.heap.peek();
      if (top === undefined || top.key > nowMs) return undefined;
      const held = top;
      plan = this.computing(held, nowMs, () => this.planDue(held, nowMs));
    }
    if (top === undefined) return undefined;
    this.unkey(top);
    const firstSlotMs = top.nextSlotMs;
    if (plan.slots.length === 0) {
      top.cursorMs = plan.cursorMs;
      this.settle(top, plan.nextSlotMs);
    } else {
      top.phase = DISPATCHING;
    }
    return { held: top, plan, firstSlotMs };
  }

  /**
   * Passes over the slots of an entry taken by takeDue, up to `throughMs` (overlap "skip": its
   * previous run has not finished): nothing runs for them, and the entry waits for its next slot.
   * False when the entry is not in a dispatch.
   */
  passOver(entry: BookEntry, throughMs: number): boolean {
    const held = BookedEntry.open(entry);
    if (held.phase.kind !== 'dispatching') return false;
    held.cursorMs = Math.max(held.cursorMs, throughMs);
    this.settleNext(held, throughMs);
    return true;
  }

  /**
   * Keeps `slotMs`, the first slot of an entry taken by takeDue, to publish when its previous run
   * finishes (overlap "bufferOne"): the entry leaves the heap until releaseBuffered (paused
   * meanwhile, it drops the slot as pausing does). False when the entry is not in a dispatch.
   */
  buffer(entry: BookEntry, slotMs: number): boolean {
    const held = BookedEntry.open(entry);
    if (held.phase.kind !== 'dispatching') return false;
    if (this.pausedNames.has(held.entry.name)) {
      held.backlogToMs = undefined;
      this.rest(held, PAUSED);
      return true;
    }
    this.unkey(held);
    held.phase = { kind: 'buffered', slotMs };
    this.bufferedHeld.add(held);
    return true;
  }

  /** True when the entry of this name holds a buffered slot. */
  isBuffered(name: string): boolean {
    return this.held.get(name)?.phase.kind === 'buffered';
  }

  /** Whether an entry holds a buffered slot (most wake-ups: none). */
  hasBuffered(): boolean {
    return this.bufferedHeld.size > 0;
  }

  /** The entries holding a buffered slot. */
  buffered(): IterableIterator<BookEntry> {
    return this.bufferedHeld.values();
  }

  /**
   * Takes a buffered entry's slot for a dispatch at `nowMs`. With bufferOne (`keep` undefined) the
   * slots that came due while it waited are passed over once the run is recorded (unless it is not
   * sent); with bufferAll they stay, a backlog run one at a time (see plan), of which at most `keep`
   * slots (the buffered one included) are kept: the oldest beyond are passed over now. Returns the
   * slot to publish and how many slots were passed over, and the first of them; the last of them
   * only when they are passed over for good (bufferAll's dropped slots: bufferOne's come back when
   * the release is not sent). Undefined, changing nothing, when the entry holds no buffered slot.
   */
  releaseBuffered(entry: BookEntry, nowMs: number, keep?: number): BufferRelease | undefined {
    const held = BookedEntry.open(entry);
    if (held.phase.kind !== 'buffered') return undefined;
    const bufferedMs = held.phase.slotMs;
    this.bufferedHeld.delete(held);
    held.phase = DISPATCHING;
    const { entry: e } = held;
    if (keep !== undefined) {
      held.backlogToMs = nowMs;
      const newest = this.computing(held, nowMs, () => this.newestWaiting(held, bufferedMs, nowMs, keep));
      if (newest === FAILED) return undefined;
      const { oldestKeptMs, dropped, lastDroppedMs } = newest;
      // The dropped slots count as passed over at once: a release that is not sent does not bring them back.
      if (lastDroppedMs !== undefined) held.cursorMs = Math.max(held.cursorMs, lastDroppedMs);
      return { slotMs: oldestKeptMs, passed: dropped, firstPassedMs: dropped > 0 ? bufferedMs : undefined, lastPassedMs: lastDroppedMs };
    }
    const over = this.computing(held, nowMs, () => {
      const passed = passOver(e.schedule, e.timezone, bufferedMs, nowMs, held.window);
      return { ...passed, firstPassedMs: passed.count > 0 ? this.nextSlotAfter(held, bufferedMs) : undefined };
    });
    if (over === FAILED) return undefined;
    if (over.count > 0) held.phase = { kind: 'dispatching', passOverToMs: over.cursorMs };
    return { slotMs: bufferedMs, passed: over.count, firstPassedMs: over.firstPassedMs };
  }

  /**
   * Of the slots waiting at `nowMs` — `firstMs` and those after it up to `nowMs` — the oldest of the
   * newest `keep`, and how many older ones there are (the last of them). A window slid over them in
   * chunks: as many slots as waited are read, never more than `keep` held.
   */
  private newestWaiting(
    held: BookedEntry,
    firstMs: number,
    nowMs: number,
    keep: number,
  ): { oldestKeptMs: number; dropped: number; lastDroppedMs: number | undefined } {
    const { entry } = held;
    const ring: number[] = [firstMs];
    let start = 0;
    let dropped = 0;
    let lastDroppedMs: number | undefined;
    let afterMs = firstMs;
    for (;;) {
      const chunk = nextFires(entry.schedule, { zone: entry.timezone, afterMs, anchorMs: held.cursorMs, window: held.window }, 256);
      for (const slot of chunk) {
        if (slot > nowMs) return { oldestKeptMs: ring[start] as number, dropped, lastDroppedMs };
        ring.push(slot);
        if (ring.length - start > keep) {
          lastDroppedMs = ring[start];
          start += 1;
          dropped += 1;
        }
        // Keep the array short: drop the consumed head now and then.
        if (start > 4096) {
          ring.splice(0, start);
          start = 0;
        }
      }
      if (chunk.length < 256) return { oldestKeptMs: ring[start] as number, dropped, lastDroppedMs };
      afterMs = chunk[chunk.length - 1] as number;
    }
  }

  /**
   * Records what a dispatch did: `outcomes[i]` for the run of `entries[i]` at `slots[i]`. A run that
   * went out (or was found published already, or dropped) moves its entry's cursor to its slot, and
   * the entry waits for its next slot; an entry with a run 'unsent' or 'refused' stays due at `nowMs`
   * from its cursor before that run, to be tried again (the caller may put a refused one later); one
   * with a run 'superseded' likewise, a little later. The runs of an entry not in a dispatch (removed
   * meanwhile) change nothing. Returns the entries that made their last run (maxRuns).
   */
  record(entries: readonly BookEntry[], slots: readonly number[], outcomes: readonly PublishResult[], nowMs: number): BookEntry[] {
    const touched = new Set<BookedEntry>();
    let unsent: Set<BookedEntry> | undefined;
    let superseded: Set<BookedEntry> | undefined;
    // Phases change after every run is read: an entry's runs (catchUp "all") all find it dispatching.
    entries.forEach((entry, i) => {
      const held = BookedEntry.open(entry);
      const { phase } = held;
      if (phase.kind !== 'dispatching') return;
      if (outcomes[i] === 'unsent' || outcomes[i] === 'refused') {
        (unsent ??= new Set()).add(held);
        return;
      }
      if (outcomes[i] === 'superseded') {
        (superseded ??= new Set()).add(held);
        return;
      }
      const slotMs = slots[i] as number;
      held.cursorMs = Math.max(held.cursorMs, slotMs, phase.passOverToMs ?? slotMs);
      held.phase = DISPATCHING;
      if (held.backlogToMs !== undefined && held.cursorMs >= held.backlogToMs) held.backlogToMs = undefined;
      held.lastRunMs = Math.max(held.lastRunMs ?? slotMs, slotMs);
      // A stale run was published before (by a reply lost on the way, say) and counted then in the store.
      held.runs += 1;
      touched.add(held);
    });
    const finished: BookEntry[] = [];
    for (const held of touched) {
      if (unsent?.has(held) === true) continue;
      this.settleNext(held, nowMs);
      if (isFinished(held.entry, held.runs)) finished.push(held);
    }
    if (unsent !== undefined) for (const held of unsent) this.keepDue(held, nowMs);
    // Its entry changed since it was read: due again once the change is applied (upsert, remove),
    // or after a while if it is not by then, not at once (nothing would have changed).
    if (superseded !== undefined) for (const held of superseded) if (!touched.has(held)) this.keepDue(held, nowMs + SUPERSEDED_RETRY_MS);
    return finished;
  }

  /**
   * Keeps an entry in a dispatch, or waiting, due at `atMs` without moving its cursor: its runs were
   * not published (a paused one lands paused). False, changing nothing, in any other phase.
   */
  keepDue(entry: BookEntry, atMs: number): boolean {
    const held = BookedEntry.open(entry);
    if (held.phase.kind !== 'dispatching' && held.phase.kind !== 'waiting') return false;
    if (this.pausedNames.has(held.entry.name)) {
      this.rest(held, PAUSED);
      return true;
    }
    held.phase = WAITING;
    this.key(held, atMs);
    this.options.onKeyed?.(held);
    return true;
  }

  /**
   * Applies the paused set at `nowMs`. A paused entry leaves the heap; a resumed one continues from
   * its next slot after now: the slots that passed while it was paused are skipped (that is what
   * pausing means). An entry in a dispatch lands paused, or continues from after now, when its
   * dispatch ends. Before load(), only remembers the set.
   */
  setPaused(paused: ReadonlySet<string>, nowMs: number): PauseChange {
    const change = { paused: [] as string[], resumed: [] as string[], passed: [] as PauseChange['passed'][number][] };
    // The control loop hands the set over every second: with nothing changed, touch nothing (a
    // walk over every entry each second would be most of an idle scheduler's CPU).
    if (paused.size === this.pausedNames.size && [...paused].every((name) => this.pausedNames.has(name))) return change;
    const was = this.pausedNames;
    this.pausedNames = paused;
    for (const held of this.held.values()) {
      const shouldPause = paused.has(held.entry.name);
      if (shouldPause === was.has(held.entry.name)) continue;
      if (shouldPause) {
        // Pausing drops a buffered run too: slots that pass while paused never run.
        held.backlogToMs = undefined;
        if (held.phase.kind !== 'dispatching') {
          this.bufferedHeld.delete(held);
          this.rest(held, PAUSED);
        }
        change.paused.push(held.entry.name);
      } else {
        const { entry } = held;
        change.resumed.push(entry.name);
        const resumed = this.computing(held, nowMs, () => ({
          firstSlotMs: this.nextSlotAfter(held, held.cursorMs),
          over: passOver(entry.schedule, entry.timezone, held.cursorMs, nowMs, held.window),
        }));
        if (resumed === FAILED) continue;
        const { firstSlotMs, over } = resumed;
        if (over.count > 0 && firstSlotMs !== undefined)
          change.passed.push({ entry, count: over.count, firstSlotMs, lastSlotMs: over.cursorMs });
        held.cursorMs = over.cursorMs;
        if (held.phase.kind === 'paused') this.settleNext(held, nowMs);
      }
    }
    return change;
  }

  /** The last slot known published of every entry that has one, by knownRunKey: `knownRuns` for the next session. */
  lastRuns(): Map<string, number> {
    const out = new Map<string, number>();
    for (const held of this.held.values()) if (held.lastRunMs !== undefined) out.set(knownRunKey(held.entry), held.lastRunMs);
    return out;
  }

  /**
   * For every entry that never ran, how far its slots are settled (its cursor: the first sighting,
   * or past the slots passed over since), by knownRunKey: `knownSightings` for the next session.
   */
  firstSightings(): Map<string, number> {
    const out = new Map<string, number>();
    for (const held of this.held.values()) if (held.lastRunMs === undefined) out.set(knownRunKey(held.entry), held.cursorMs);
    return out;
  }

  /** Every entry's next slot, paused flag and scheduled runs (finished: maxRuns reached), for metrics and status. */
  *snapshot(): Generator<BookSnapshot> {
    for (const held of this.held.values()) yield viewOf(held, this.pausedNames.has(held.entry.name));
  }

  /** One entry's view (the dashboard's page rows: their next slot as the scheduler has it, not recomputed). */
  view(name: string): BookSnapshot | undefined {
    const held = this.held.get(name);
    return held === undefined ? undefined : viewOf(held, this.pausedNames.has(name));
  }

  /**
   * An entry done with a dispatch, a change or a pause: it is paused while its name is, finished with
   * no next slot (its schedule ran out, or maxRuns is reached: a change that raises it brings it
   * back), and otherwise waits in the heap for `nextSlotMs` plus its jitter.
   */
  private settle(held: BookedEntry, nextSlotMs: number | undefined): void {
    const previousSlotMs = held.nextSlotMs;
    held.nextSlotMs = isFinished(held.entry, held.runs) ? undefined : nextSlotMs;
    if (previousSlotMs !== undefined && held.nextSlotMs !== undefined && held.nextSlotMs > previousSlotMs)
      held.rank = held.nextSlotMs - previousSlotMs;
    if (this.pausedNames.has(held.entry.name)) return this.rest(held, PAUSED);
    if (held.nextSlotMs === undefined) return this.rest(held, FINISHED);
    held.phase = WAITING;
    this.key(held, held.nextSlotMs + jitterFor(held.entry.name, held.nextSlotMs, held.entry.jitterMs));
    this.options.onKeyed?.(held);
  }

  /** Out of the heap, in `phase` (paused or finished). */
  private rest(held: BookedEntry, phase: EntryPhase): void {
    this.unkey(held);
    held.phase = phase;
  }

  /** Keys a waiting entry at `atMs` in its lane (taking it out of the other: its rank may have changed). */
  private key(held: BookedEntry, atMs: number): void {
    const frequent = held.rank > 0 && held.rank < FREQUENT_PERIOD_MS;
    (frequent ? this.heap : this.frequent).remove(held);
    (frequent ? this.frequent : this.heap).update(held, atMs);
  }

  /** Takes an entry out of whichever lane holds it. */
  private unkey(held: BookedEntry): void {
    this.heap.remove(held);
    this.frequent.remove(held);
  }

  /** settle() at the entry's next slot after its cursor; an entry whose schedule cannot be computed is failed instead. */
  private settleNext(held: BookedEntry, nowMs: number): void {
    const next = this.computing(held, nowMs, () => this.nextSlotAfter(held, held.cursorMs));
    if (next !== FAILED) this.settle(held, next);
  }

  /**
   * Runs a schedule computation of `held`; when it fails (ScheduleError: its step budget spent, or a
   * slot that does not advance), that entry alone is failed: told to the runner, which answers when
   * to try it again, and kept waiting in the heap until then with no next slot (a paused one rests
   * paused). Any other error is tsbeat's own and is thrown.
   */
  private computing<T>(held: BookedEntry, nowMs: number, compute: () => T): T | typeof FAILED {
    try {
      return compute();
    } catch (error) {
      if (!isScheduleError(error)) throw error;
      this.failSchedule(held, error, nowMs);
      return FAILED;
    }
  }

  private failSchedule(held: BookedEntry, error: ScheduleError, nowMs: number): void {
    // Never due again at this instant: takeDue would take it again in the same turn.
    const retryAtMs = Math.max(nowMs + 1, this.options.onScheduleFailure?.(held, error, nowMs) ?? nowMs + DEFAULTS.entryRetryMaxMs);
    held.nextSlotMs = undefined;
    this.bufferedHeld.delete(held);
    if (this.pausedNames.has(held.entry.name)) return this.rest(held, PAUSED);
    held.phase = WAITING;
    this.key(held, retryAtMs);
    this.options.onKeyed?.(held);
  }

  private nextSlotAfter(held: BookedEntry, afterMs: number): number | undefined {
    const { entry } = held;
    return nextFires(entry.schedule, { zone: entry.timezone, afterMs, anchorMs: held.cursorMs, window: held.window }, 1)[0];
  }
}
