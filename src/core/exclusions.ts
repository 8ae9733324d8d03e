/**
 * An entry's exclusions (`exclude:`): dates, ranges and cron patterns, read in the entry's zone, at
 * which its slots do not exist. Pure: the zone and the instant are arguments.
 *
 * Dates and ranges are compared on the wall clock (the local date and time), not as instants, so
 * "2026-12-25" is the whole local day however long DST makes it, and a repeated wall hour is
 * excluded on both passes.
 */
import { zoneOffsets } from '../time/zone.js';
import { CronExclusionSet } from './exclusion-crons.js';
import type { CronExclusion } from './exclusion-crons.js';

export type { CronExclusion } from './exclusion-crons.js';

export interface Exclusions {
  /**
   * Wall-clock spans [start, end) as "wall-as-UTC" milliseconds, sorted by start and merged, as
   * one flat array: start0, end0, start1, end1, ...
   */
  readonly spans: readonly number[];
  readonly crons: readonly CronExclusion[];
  /** What the user wrote, in words, for `beat check` and `beat next`. */
  readonly words: readonly string[];
}

/** Sorts and merges [start, end) pairs into the flat form of `Exclusions.spans`. */
export function mergeSpans(pairs: ReadonlyArray<readonly [number, number]>): number[] {
  const sorted = pairs.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [start, end] of sorted) {
    const last = out.length - 1;
    if (last > 0 && start <= (out[last] as number)) out[last] = Math.max(out[last] as number, end);
    else out.push(start, end);
  }
  return out;
}

/** Index of the span holding `wall`, or -1 (binary search over the flat pairs). */
function spanAt(spans: readonly number[], wall: number): number {
  let lo = 0;
  let hi = spans.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (wall < (spans[2 * mid] as number)) hi = mid - 1;
    else if (wall >= (spans[2 * mid + 1] as number)) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/**
 * Each entry's cron exclusions compiled into one matcher, made at its first slot and kept with its
 * lines (an entry's resolved exclusions live as long as the entry).
 */
const compiled = new WeakMap<readonly CronExclusion[], CronExclusionSet>();

function cronSetOf(crons: readonly CronExclusion[]): CronExclusionSet {
  let set = compiled.get(crons);
  if (set === undefined) compiled.set(crons, (set = new CronExclusionSet(crons)));
  return set;
}

/**
 * When `slotMs` is excluded: the latest instant up to which every instant is excluded for the same
 * reason (so a scan can jump there), at least `slotMs`. Undefined when the slot is not excluded.
 */
export function excludedThrough(exclusions: Exclusions, zone: string, slotMs: number): number | undefined {
  const offsets = zoneOffsets(zone);
  const wall = slotMs + offsets.offsetMs(slotMs);
  let wallEnd: number | undefined;
  const span = exclusions.spans.length === 0 ? -1 : spanAt(exclusions.spans, wall);
  if (span >= 0) wallEnd = exclusions.spans[2 * span + 1];
  else if (exclusions.crons.length > 0) wallEnd = cronSetOf(exclusions.crons).excludedUntil(wall);
  if (wallEnd === undefined) return undefined;
  // Under a constant offset the instants up to the wall end are all inside; across a transition,
  // only those before it are sure to be (a clock turned back re-enters wall times the span may not cover).
  const target = slotMs + (wallEnd - wall) - 1;
  if (target <= slotMs) return slotMs;
  const pieces = offsets.segments(slotMs, target);
  const next = pieces[1];
  return next === undefined ? target : Math.max(slotMs, next.start - 1);
}

export function isExcluded(exclusions: Exclusions, zone: string, slotMs: number): boolean {
  return excludedThrough(exclusions, zone, slotMs) !== undefined;
}

/** "except on 2026-12-25, ..." for descriptions; empty when nothing is excluded. */
export function describeExclusions(exclusions: Exclusions | undefined): string {
  if (exclusions === undefined || exclusions.words.length === 0) return '';
  return `except ${exclusions.words.join('; ')}`;
}
