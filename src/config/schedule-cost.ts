/**
 * The write-time check of a runtime entry's schedule (issue 49): its next run must be computable
 * within the step budget `beat run` gives every schedule computation (base/step-budget.ts). An
 * entry whose schedule spends it (a rule that meets its filters once in centuries, exclusions that
 * cover every slot) would be stored only to be failed alone by the leader at every retry; it is
 * refused where it is written instead (400 on the API, exit 2 on the CLI), naming its schedule, why
 * and the fix. The same computation as the leader's, so that what is written can run.
 */
import type { ConfigProblem } from '../base/errors.js';
import { isScheduleError } from '../base/step-budget.js';
import { nextFires } from '../core/schedule.js';
import type { FireWindow } from '../core/schedule.js';
import type { Schedule } from '../core/types.js';
import type { CalendarDrafts } from './exclude-schema.js';
import { entryScopeOf, entryWindow, resolveEntry } from './resolve.js';
import type { EntryScope, ResolvedConfig } from './resolve.js';
import type { ParsedEntry } from './schema.js';

/** What the deployment gives an entry's schedule: its zone when the entry names none and its name (EntryScope), and its calendars. */
export interface ScheduleDefaults extends EntryScope {
  readonly calendars?: CalendarDrafts | undefined;
}

/** The deployment's defaults and the instant to look after. */
export interface ScheduleCostContext extends ScheduleDefaults {
  readonly nowMs: number;
}

/** The context a deployment's config gives, at `nowMs`. */
export function scheduleCostContextOf(config: Pick<ResolvedConfig, 'name' | 'timezone' | 'calendars'>, nowMs: number): ScheduleCostContext {
  return { ...entryScopeOf(config), calendars: config.calendars, nowMs };
}

/**
 * The problem of an entry whose next run cannot be computed within the step budget (at `schedule`,
 * or at `exclude` when the schedule alone can be), or undefined. Costs one computation of the next
 * run, two when it fails; a calendar the context does not know is left out here (the catalog
 * refuses it).
 */
export function scheduleCostProblem(name: string, entry: ParsedEntry, context: ScheduleCostContext): ConfigProblem | undefined {
  const resolved = resolveEntry(name, entry, context, 'store', undefined, context.calendars);
  const window = entryWindow(resolved);
  const why = costlyBecause(resolved.schedule, resolved.timezone, context.nowMs, window);
  if (why === undefined) return undefined;
  const refused = 'beat run would fail the entry at every try, so it is not written';
  if (
    window?.exclude !== undefined &&
    costlyBecause(resolved.schedule, resolved.timezone, context.nowMs, { ...window, exclude: undefined }) === undefined
  )
    return {
      path: 'exclude',
      message: `its exclusions leave the schedule (almost) no slot: ${why}; ${refused} (exclude less, or choose a schedule they leave slots of)`,
    };
  return { path: 'schedule', message: `${why}; ${refused}` };
}

/** Definitions' outcomes one ScheduleCosts keeps: a pass over per-tenant entries holds a few shapes, not one per tenant. */
const KEPT = 1000;

/**
 * scheduleCostProblem over one pass of writes (one context): entries whose definitions differ only in
 * their args and kwargs (per-tenant entries) share one outcome, computed once, as they share one
 * shape when read (entry-shapes.ts): nothing the computation reads depends on the arguments, nor its cost on the name (which moves a hashed line's times, not their number).
 */
export class ScheduleCosts {
  private readonly known = new Map<string, ConfigProblem | undefined>();

  constructor(private readonly context: ScheduleCostContext) {}

  /** The problem of `entry`, parsed from `value` (the definition as written), or undefined. */
  problem(name: string, value: unknown, entry: ParsedEntry): ConfigProblem | undefined {
    const key = shapeKey(value);
    if (key !== undefined && this.known.has(key)) return this.known.get(key);
    const problem = scheduleCostProblem(name, entry, this.context);
    if (key !== undefined) {
      if (this.known.size >= KEPT) this.known.clear();
      this.known.set(key, problem);
    }
    return problem;
  }
}

/** The definition without its args and kwargs, as text; undefined when it is no object (or no JSON). */
function shapeKey(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { args: _args, kwargs: _kwargs, ...rest } = value as Record<string, unknown>;
  try {
    return JSON.stringify(rest);
  } catch {
    return undefined;
  }
}

/** Why the next run cannot be computed (the ScheduleError's message and code), or undefined when it can. */
function costlyBecause(schedule: Schedule, zone: string, nowMs: number, window: FireWindow | undefined): string | undefined {
  try {
    nextFires(schedule, { zone, afterMs: nowMs, window }, 1);
    return undefined;
  } catch (error) {
    if (!isScheduleError(error)) throw error;
    return `${error.message} (${error.code})`;
  }
}
