/**
 * When an entry runs, for every schedule form: when it fires next, how to say it in words, and
 * which of its slots to run now given the last slot that ran and the current instant (the
 * missed-run policy, catch-up: `planDue`, which the runner calls when an entry's next slot comes
 * due; after downtime, a failover or a clock step it decides between firing once, skipping and
 * replaying). Pure: the caller passes the instants and, for intervals, the grid anchor.
 */
import { describeCron, nextCronFires } from './cron/index.js';
import { describeInterval, nextIntervalFires } from './interval.js';
import { nextRRuleFires, rruleText } from './rrule.js';
import { describeSolar, nextSolarEvent } from './solar.js';
import { formatInstant } from '../time/zone.js';
import type { CronSpec } from './cron/index.js';
import { excludedThrough } from './exclusions.js';
import type { Exclusions } from './exclusions.js';
import { UNION_GRID_ORIGIN_MS } from './types.js';
import type { Schedule, ScheduleSpec, ScheduleUnion, SolarSchedule } from './types.js';
import { mustAdvance, spendSteps, withStepBudget } from '../base/step-budget.js';
import { DEFAULTS } from '../base/defaults.js';

export interface FireQuery {
  /** IANA zone in which the schedule's wall times are read. */
  readonly zone: string;
  /** Fire instants strictly after this one are returned. */
  readonly afterMs: number;
  /**
   * Interval grid anchor: the last slot that ran, or when the entry was first seen. Defaults to
   * `afterMs` (an entry with no history first fires one interval after it). Ignored by other forms.
   */
  readonly anchorMs?: number;
  /** The entry's `startAt`/`endAt`: no fire outside [startMs, endMs). */
  readonly window?: FireWindow | undefined;
}

/**
 * An entry's active window, epoch ms: fires at or after `startMs` and before `endMs` (half-open, as
 * django-celery-beat's `start_time` runs at the instant itself and its `expires` does not).
 */
export interface FireWindow {
  readonly startMs?: number | undefined;
  readonly endMs?: number | undefined;
  /** The entry's `exclude`: slots that fall in it do not exist (never run, never missed, never caught up). */
  readonly exclude?: Exclusions | undefined;
}

/**
 * What the exclusion scan pays from the call's budget: a step per excluded slot, and one per
 * SLOTS_PER_STEP slots of a batch it computes (a slot of a plain interval costs little, but a scan
 * over a 1-second interval computes thousands). An exclusion that covers every slot (a daily entry
 * excluding `* * * * *`) so spends the budget and fails its entry with that reason, never loops.
 */
const SLOTS_PER_STEP = 8;

/**
 * The last crontab query and its answer. Entries with the same crontab share one spec (the config
 * memoises parsed specs), and a burst asks the same question for each of them: "after this slot,
 * when next?" (100,000 entries due at the top of the hour ask it 100,000 times). Pure inputs, so
 * one remembered answer is exact; it is copied out, so no caller can change it.
 */
let lastCron: { spec: CronSpec; zone: string; afterMs: number; count: number; fires: readonly number[] } | undefined;

function nextCronFiresRemembered(spec: CronSpec, zone: string, afterMs: number, count: number): number[] {
  const last = lastCron;
  if (last !== undefined && last.spec === spec && last.afterMs === afterMs && last.count === count && last.zone === zone)
    return last.fires.slice();
  const fires = nextCronFires(spec, zone, afterMs, count);
  lastCron = { spec, zone, afterMs, count, fires: fires.slice() };
  return fires;
}

/**
 * The next `count` fire instants (epoch ms, ascending) within the query's window; fewer when the
 * schedule runs out (clocked, polar solar, past the window's end). One call has one step budget
 * (base/step-budget.ts), and each instant must be after the one before it, the first after `afterMs`:
 * a ScheduleError otherwise, which the runner takes as this entry's failure alone.
 */
export function nextFires(schedule: Schedule, query: FireQuery, count: number): number[] {
  return withStepBudget(
    () => `the next runs of ${describeSchedule(schedule, query.zone)} in ${query.zone}`,
    () => {
      const fires = excluding(schedule, query, count);
      let previous = query.afterMs;
      for (const slot of fires) {
        mustAdvance(slot, previous, () => `${describeSchedule(schedule, query.zone)} in ${query.zone}`);
        previous = slot;
      }
      return fires;
    },
    // The work grows with the fires asked for: a budget per FIRES_PER_BUDGET of them (`beat next --count 10000`),
    // and with a union's specs, each of which computes them: a budget per spec.
    DEFAULTS.scheduleStepBudget *
      Math.max(1, Math.ceil(count / FIRES_PER_BUDGET)) *
      (schedule.kind === 'union' ? schedule.specs.length : 1),
  );
}

/** Fires one step budget covers; a call asking for more has a budget per this many. */
const FIRES_PER_BUDGET = 256;

function excluding(schedule: Schedule, query: FireQuery, count: number): number[] {
  const exclude = query.window?.exclude;
  if (exclude === undefined || (exclude.spans.length === 0 && exclude.crons.length === 0)) return windowed(schedule, query, count);
  const out: number[] = [];
  // The grid anchor stays where the caller put it: an interval keeps its phase over excluded slots.
  const anchorMs = query.anchorMs ?? query.afterMs;
  let afterMs = query.afterMs;
  let size = Math.max(1, count);
  while (out.length < count) {
    const batch = windowed(schedule, { ...query, afterMs, anchorMs }, size);
    spendSteps(Math.ceil(batch.length / SLOTS_PER_STEP));
    // Slots up to here are inside an exclusion already found (a whole excluded day, say).
    let skipThrough = afterMs;
    for (const slot of batch) {
      if (slot <= skipThrough) continue;
      const through = excludedThrough(exclude, query.zone, slot);
      if (through === undefined) {
        out.push(slot);
        if (out.length === count) return out;
        skipThrough = slot;
        continue;
      }
      spendSteps();
      skipThrough = through;
    }
    if (batch.length < size) return out;
    afterMs = Math.max(skipThrough, batch[batch.length - 1] as number);
    size = Math.min(256, size * 2);
  }
  return out;
}

function windowed(schedule: Schedule, query: FireQuery, count: number): number[] {
  const { window } = query;
  if (window === undefined || (window.startMs === undefined && window.endMs === undefined)) return unbounded(schedule, query, count);
  const { startMs, endMs } = window;
  if (endMs !== undefined && query.afterMs >= endMs - 1) return [];
  let { afterMs } = query;
  let anchorMs = query.anchorMs ?? query.afterMs;
  if (startMs !== undefined) {
    // Nothing before the start: a slot exactly at it is the first that can run.
    afterMs = Math.max(afterMs, startMs - 1);
    // An interval that has not run since the start has its grid start there, so its first run is at
    // startAt (django-celery-beat's start_time runs then too), not wherever it was first seen.
    if (schedule.kind === 'interval' && anchorMs < startMs) anchorMs = startMs - schedule.everyMs;
  }
  const fires = unbounded(schedule, { zone: query.zone, afterMs, anchorMs }, count);
  if (endMs === undefined) return fires;
  let inside = 0;
  while (inside < fires.length && (fires[inside] as number) < endMs) inside += 1;
  return inside === fires.length ? fires : fires.slice(0, inside);
}

/**
 * The form's slots, moved by the entry's spread (spread.ts): the question is asked of the unmoved
 * schedule (after and anchor moved back), the answer moved forward, so that a spread entry's stored
 * slots, window, exclusions and catch-up all deal in the instants it runs at.
 */
function unbounded(schedule: Schedule, query: FireQuery, count: number): number[] {
  const shift = schedule.offsetMs ?? 0;
  if (shift === 0) return unmoved(schedule, query, count);
  const anchorMs = query.anchorMs === undefined ? undefined : query.anchorMs - shift;
  return unmoved(schedule, { zone: query.zone, afterMs: query.afterMs - shift, anchorMs }, count).map((slot) => slot + shift);
}

function unmoved(schedule: Schedule, query: FireQuery, count: number): number[] {
  return schedule.kind === 'union' ? unionFires(schedule, query, count) : specFires(schedule, query, count);
}

/**
 * The union's next `count` instants: each spec's next `count`, merged, an instant two specs share
 * once. Its intervals run on their grid from UNION_GRID_ORIGIN_MS whatever the query's anchor (the
 * entry's last run, which may be another spec's), so the answer depends on `afterMs` alone.
 */
function unionFires(union: ScheduleUnion, query: FireQuery, count: number): number[] {
  const merged = new Set<number>();
  for (const spec of union.specs) {
    if (spec.kind === 'solar') continue;
    for (const slot of specFires(spec, { zone: query.zone, afterMs: query.afterMs, anchorMs: UNION_GRID_ORIGIN_MS }, count))
      merged.add(slot);
  }
  // The solar specs last, each searched no further than the count-th instant found so far: an
  // event after it cannot be in the answer, and each event is a search of the sun's position.
  // Beside an hourly spec, 256 fires (beat next --count 256, a catch-up plan's batch) searched 256
  // days of sunrises for the 11 that count, ten times the work of the whole answer.
  for (const spec of union.specs) {
    if (spec.kind !== 'solar') continue;
    const untilMs = merged.size < count ? Infinity : ([...merged].sort((a, b) => a - b)[count - 1] as number);
    for (const slot of solarFromDays(spec, query.afterMs, count, untilMs)) merged.add(slot);
  }
  return [...merged].sort((a, b) => a - b).slice(0, count);
}

const DAY_MS = 86_400_000;

/**
 * A solar spec's next `count` events inside a union, none after `untilMs`. The search converges
 * from where it starts, so an event searched from another instant can land a few milliseconds away:
 * alone, a solar entry always searches from its last event, but in a union the last run may be
 * another spec's. So each event is searched from the start of its own UTC day (or from the event
 * before it that day), the same search whatever `afterMs` is: one instant per event, never two runs
 * of one sunrise.
 */
function solarFromDays(spec: SolarSchedule, afterMs: number, count: number, untilMs: number): number[] {
  const out: number[] = [];
  for (let day = Math.floor(afterMs / DAY_MS); out.length < count && day * DAY_MS <= untilMs; day += 1) {
    const end = (day + 1) * DAY_MS;
    let event = nextSolarEvent(spec.event, spec.lat, spec.lon, day * DAY_MS - 1);
    // Polar day or night: no event within the search's horizon.
    if (event === null) return out;
    while (event !== null && event < end && event <= untilMs && out.length < count) {
      if (event > afterMs) out.push(event);
      spendSteps();
      const from: number = event;
      event = nextSolarEvent(spec.event, spec.lat, spec.lon, from);
      if (event !== null) mustAdvance(event, from, () => describeSolar(spec.event, spec.lat, spec.lon));
    }
  }
  return out;
}

function specFires(schedule: ScheduleSpec, query: FireQuery, count: number): number[] {
  switch (schedule.kind) {
    case 'interval':
      return nextIntervalFires(schedule, query.zone, query.anchorMs ?? query.afterMs, query.afterMs, count);
    case 'cron':
      return nextCronFiresRemembered(schedule.spec, query.zone, query.afterMs, count);
    case 'clocked':
      return schedule.atMs > query.afterMs && count > 0 ? [schedule.atMs] : [];
    case 'rrule':
      return nextRRuleFires(schedule.spec, query.zone, query.afterMs, count);
    case 'solar': {
      const out: number[] = [];
      let after = query.afterMs;
      while (out.length < count) {
        const next = nextSolarEvent(schedule.event, schedule.lat, schedule.lon, after);
        if (next === null) break;
        // Checked here, not only on the answer: the next search starts from this one.
        mustAdvance(next, after, () => describeSolar(schedule.event, schedule.lat, schedule.lon));
        out.push(next);
        after = next;
      }
      return out;
    }
  }
}

/** The schedule in words; a union's specs in their order, separated by "; " ("every weekday at 09:00; Sat,Sun at 12:00"). */
export function describeSchedule(schedule: Schedule, zone: string): string {
  const form = schedule.kind === 'union' ? schedule.specs.map((spec) => describeSpec(spec, zone)).join('; ') : describeSpec(schedule, zone);
  const shift = schedule.offsetMs ?? 0;
  return shift === 0 ? form : `${form}, each run ${durationWords(shift)} later (spread)`;
}

/** A spread offset in words: "4 min 12 s", "2 h 0 min 5 s", "37 s". */
function durationWords(ms: number): string {
  const total = Math.round(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  if (h > 0) return `${h} h ${m} min ${s} s`;
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}

function describeSpec(schedule: ScheduleSpec, zone: string): string {
  switch (schedule.kind) {
    case 'interval':
      return describeInterval(schedule);
    case 'cron':
      return describeCron(schedule.spec);
    case 'clocked':
      return `once at ${formatInstant(schedule.atMs, zone)}`;
    case 'solar':
      return describeSolar(schedule.event, schedule.lat, schedule.lon);
    case 'rrule':
      return `rrule ${rruleText(schedule.spec)}`;
  }
}

export type CatchUpPolicy = 'once' | 'skip' | 'all';

export interface EntryTiming {
  readonly schedule: Schedule;
  readonly zone: string;
  readonly catchUp: CatchUpPolicy;
  /** Missed slots older than this (relative to now) are dropped; undefined = no limit. */
  readonly catchUpWindowMs: number | undefined;
  /**
   * The entry's `startAt`/`endAt`: slots outside do not exist, so none before the start is ever
   * caught up, and past the end the entry has no next slot.
   */
  readonly window?: FireWindow | undefined;
}

export interface DueOptions {
  /** A slot this close to now is on time, not missed (timer and publish latency). */
  readonly graceMs: number;
  /** At most this many slots per call with `all`; the rest come on the next call. */
  readonly maxSlots: number;
  /**
   * The entry's next slot after `lastSlotMs`, when the caller already has it (the runner keeps it
   * as the entry's heap key): one schedule computation fewer per run, in a burst's critical path.
   */
  readonly nextSlotMs?: number | undefined;
}

export type MissReason = 'catch_up_once' | 'skip_late' | 'outside_window';

export interface DuePlan {
  /** Slots to publish now, ascending; each one is later than the last slot that ran. */
  readonly slots: readonly number[];
  /** Due slots that will never run, counted up to `MISSED_COUNT_CAP`. */
  readonly missed: number;
  readonly missedReason: MissReason | undefined;
  /**
   * Where the entry stands once `slots` have run (or been passed over): the grid position the next
   * slot is computed from. Equals the last slot in `slots` when any run.
   */
  readonly cursorMs: number;
  /** The entry's next slot after `cursorMs`; undefined when the schedule has run out. */
  readonly nextSlotMs: number | undefined;
}

/** Counting missed slots is for the log line only; past this it says "at least". */
export const MISSED_COUNT_CAP = 10_000;
const SCAN_BATCH = 256;

function slotsBetween(timing: EntryTiming, anchorMs: number, afterMs: number, untilMs: number, limit: number): number[] {
  const out: number[] = [];
  let cursor = afterMs;
  // Most calls need one or two slots: start small and grow, so a daily schedule does not compute
  // a year of fires to find tonight's.
  let size = 2;
  while (out.length < limit) {
    const batch = nextFires(
      timing.schedule,
      { zone: timing.zone, afterMs: cursor, anchorMs, window: timing.window },
      Math.min(size, limit - out.length),
    );
    size = Math.min(SCAN_BATCH, size * 4);
    for (const slot of batch) {
      if (slot > untilMs) return out;
      out.push(slot);
    }
    const last = batch[batch.length - 1];
    if (batch.length === 0 || last === undefined) return out;
    cursor = last;
  }
  return out;
}

/**
 * The latest slot in (lowerMs, nowMs], or undefined. Probes backwards from now in growing windows,
 * so a long downtime costs a few probes instead of a walk over every missed slot.
 */
function latestSlot(timing: EntryTiming, anchorMs: number, lowerMs: number, nowMs: number): number | undefined {
  for (let window = 1000; ; window *= 4) {
    const after = Math.max(lowerMs, nowMs - window);
    const found = slotsBetween(timing, anchorMs, after, nowMs, MISSED_COUNT_CAP);
    if (found.length > 0) return found[found.length - 1];
    if (after === lowerMs) return undefined;
  }
}

function nextAfter(timing: EntryTiming, anchorMs: number, afterMs: number): number | undefined {
  return nextFires(timing.schedule, { zone: timing.zone, afterMs, anchorMs, window: timing.window }, 1)[0];
}

function countSlots(timing: EntryTiming, anchorMs: number, afterMs: number, untilMs: number): number {
  return untilMs <= afterMs ? 0 : slotsBetween(timing, anchorMs, afterMs, untilMs, MISSED_COUNT_CAP).length;
}

/**
 * Plans an entry at `nowMs`. `lastSlotMs` is the last slot that ran (or, for an entry that never
 * ran, when it was first seen: a new interval entry waits one interval). A clock that stepped back
 * (`nowMs` before `lastSlotMs`) finds nothing due, so no slot ever runs twice.
 */
export function planDue(timing: EntryTiming, lastSlotMs: number, nowMs: number, options: DueOptions): DuePlan {
  const anchor = lastSlotMs;
  const first = options.nextSlotMs ?? nextAfter(timing, anchor, lastSlotMs);
  if (first === undefined || first > nowMs) {
    return { slots: [], missed: 0, missedReason: undefined, cursorMs: lastSlotMs, nextSlotMs: first };
  }
  const second = nextAfter(timing, anchor, first);
  if ((second === undefined || second > nowMs) && (timing.catchUpWindowMs === undefined || first > nowMs - timing.catchUpWindowMs)) {
    // The common case, on time or after a short delay: exactly one slot is due.
    if (timing.catchUp === 'skip' && nowMs - first > options.graceMs) {
      return { slots: [], missed: 1, missedReason: 'skip_late', cursorMs: first, nextSlotMs: second };
    }
    return { slots: [first], missed: 0, missedReason: undefined, cursorMs: first, nextSlotMs: second };
  }
  const finish = (slots: number[], missed: number, reason: MissReason, cursorMs: number): DuePlan => ({
    slots,
    missed,
    missedReason: missed > 0 ? reason : undefined,
    cursorMs,
    nextSlotMs: nextAfter(timing, anchor, cursorMs),
  });

  // Slots older than the catch-up window are dropped whatever the policy; the cursor stays on the
  // schedule's grid (the last dropped slot), so intervals keep their phase.
  let cursor = lastSlotMs;
  let dropped = 0;
  if (timing.catchUpWindowMs !== undefined && first <= nowMs - timing.catchUpWindowMs) {
    const windowStart = nowMs - timing.catchUpWindowMs;
    dropped = countSlots(timing, anchor, lastSlotMs, windowStart);
    cursor = latestSlot(timing, anchor, lastSlotMs, windowStart) ?? lastSlotMs;
  }

  if (timing.catchUp === 'all') {
    const slots = slotsBetween(timing, anchor, cursor, nowMs, options.maxSlots);
    return finish(slots, dropped, 'outside_window', slots[slots.length - 1] ?? cursor);
  }
  const latest = latestSlot(timing, anchor, cursor, nowMs);
  if (latest === undefined) return finish([], dropped, 'outside_window', cursor);
  const earlier = countSlots(timing, anchor, cursor, latest - 1);
  const reason: MissReason = earlier > 0 ? (timing.catchUp === 'once' ? 'catch_up_once' : 'skip_late') : 'outside_window';
  if (timing.catchUp === 'skip' && nowMs - latest > options.graceMs) {
    // Late, so skipped too: the entry waits for its next slot. Nothing is stored; the cursor moves on.
    return finish([], dropped + earlier + 1, 'skip_late', latest);
  }
  return finish([latest], dropped + earlier, reason, latest);
}

/**
 * A delay in [0, jitterMs) that depends only on the entry and the slot, so every replica and every
 * restart agrees on it (a leader that takes over mid-jitter publishes at the same moment).
 */
export function jitterFor(entryName: string, slotMs: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  // FNV-1a over the name and the slot: cheap, well spread, no dependency.
  let hash = 0x811c9dc5;
  const text = `${entryName}\u0000${slotMs}`;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return Math.floor((hash / 0x1_0000_0000) * jitterMs);
}

/**
 * The cursor after skipping every slot up to `untilMs` (a pause, say): the last slot at or before
 * it on the entry's own grid, or `cursorMs` when there is none. Nothing is published for them.
 */
export function skipThrough(schedule: Schedule, zone: string, cursorMs: number, untilMs: number, window?: FireWindow): number {
  return passOver(schedule, zone, cursorMs, untilMs, window).cursorMs;
}

/**
 * Passes over the slots after `cursorMs` up to `untilMs` (included): where the cursor lands, and how
 * many slots that was (counted up to MISSED_COUNT_CAP).
 */
export function passOver(
  schedule: Schedule,
  zone: string,
  cursorMs: number,
  untilMs: number,
  window?: FireWindow,
): { readonly cursorMs: number; readonly count: number } {
  if (untilMs <= cursorMs) return { cursorMs, count: 0 };
  const plan = planDue({ schedule, zone, catchUp: 'skip', catchUpWindowMs: undefined, window }, cursorMs, untilMs, {
    graceMs: -1,
    maxSlots: 1,
  });
  return { cursorMs: plan.cursorMs, count: plan.missed };
}
