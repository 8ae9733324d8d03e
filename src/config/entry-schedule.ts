/**
 * An entry's schedule from its draft (schedule-schema.ts): Jenkins' `H` resolved and its `spread`
 * applied, both from the hash of the deployment and the entry's name (core/cron/hashed.ts,
 * core/spread.ts), and the check that a spread fits the schedule it moves.
 */
import { isScheduleError } from '../base/step-budget.js';
import { hashDrawOf, parseHashedLine } from '../core/cron/index.js';
import { shortestPeriodMs, spreadOffsetMs } from '../core/spread.js';
import type { Schedule, ScheduleSpec } from '../core/types.js';
import { parseIsoDateTime } from '../time/zone.js';
import { boundText } from './duration.js';
import type { ScheduleDraft, SpecDraft } from './schedule-schema.js';

/** Whose schedule: the deployment's name and the entry's, which seed its hashed times. */
export interface ScheduleSeed {
  readonly deployment: string;
  readonly name: string;
}

/** The schedule of an entry: its `H` resolved, its `spread` offset applied. */
export function resolveSchedule(
  draft: ScheduleDraft,
  entry: { readonly relative: boolean; readonly spread?: number | undefined },
  zone: string,
  seed: ScheduleSeed,
): Schedule {
  const schedule = formOf(draft, entry.relative, zone, seed);
  return entry.spread === undefined ? schedule : { ...schedule, offsetMs: spreadOffsetMs(seed.deployment, seed.name, entry.spread) };
}

function formOf(draft: ScheduleDraft, relative: boolean, zone: string, seed: ScheduleSeed | undefined): Schedule {
  // A list of specs: each resolved as it would be alone, its H from the same seed (the entry's).
  return draft.kind === 'union'
    ? { kind: 'union', specs: draft.specs.map((spec) => specOf(spec, relative, zone, seed)) }
    : specOf(draft, relative, zone, seed);
}

function specOf(draft: SpecDraft, relative: boolean, zone: string, seed: ScheduleSeed | undefined): ScheduleSpec {
  switch (draft.kind) {
    case 'interval':
      return { kind: 'interval', everyMs: draft.everyMs, relative };
    case 'cron':
      // Without a seed (a check of the shape alone), a hashed line has its H at their lowest values.
      return {
        kind: 'cron',
        spec:
          draft.hashed === undefined || seed === undefined
            ? draft.spec
            : parseHashedLine(draft.hashed, hashDrawOf(seed.deployment, seed.name)),
      };
    case 'solar':
      return { kind: 'solar', event: draft.event, lat: draft.lat, lon: draft.lon };
    case 'rrule':
      return { kind: 'rrule', spec: draft.spec };
    case 'clocked':
      // An ISO string without an offset is a wall time in the entry's zone; with one, an instant.
      // The schema checked the text with the same parser; a wall time in a DST gap moves forward.
      return { kind: 'clocked', atMs: parseIsoDateTime(draft.text, zone) ?? Number.NaN };
  }
}

/**
 * Why `spread` cannot go with this schedule (its message, at `spread`), or undefined. A spread as
 * long as the schedule's shortest period would move a run past the next one's time; a plain
 * interval's slots follow its first run, not the clock, so a spread would not move them.
 */
export function spreadProblem(
  draft: ScheduleDraft,
  entry: { readonly relative: boolean; readonly spread: number; readonly timezone?: string | undefined },
): string | undefined {
  const schedule = formOf(draft, entry.relative, entry.timezone ?? 'UTC', undefined);
  if (schedule.kind === 'interval' && !schedule.relative)
    return 'an interval\'s runs follow its first run, not the clock, so spread would not move them: leave spread out, or write the schedule as a crontab line with H (such as { cron: "H * * * *" })';
  let period: number | undefined;
  try {
    period = shortestPeriodMs(schedule, entry.timezone ?? 'UTC');
  } catch (error) {
    // A schedule whose runs cannot be computed is refused for that where it is written (schedule-cost.ts).
    if (isScheduleError(error)) return undefined;
    throw error;
  }
  if (period === undefined || entry.spread < period) return undefined;
  return `spread ${boundText(entry.spread)} is not shorter than the schedule's shortest period, ${boundText(period)}: a run would move past the next one's time; make spread shorter than ${boundText(period)}`;
}
