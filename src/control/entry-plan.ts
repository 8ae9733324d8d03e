/**
 * A plan (`beat plan`, `beat apply`, POST /api/plan): what making the store match a file of runtime
 * entries for one owner would do, entry by entry, and what follows from it. Pure: the caller reads
 * the store and the file, and passes the time; the next fires come from the core's schedule
 * functions. The digest names what the plan saw, so that an apply can refuse when anything changed.
 * A plan of a config file (deployment-definition.ts) shares its change and fires (changeItem, firesOf).
 */
import { createHash } from 'node:crypto';
import { parseEntryDefinition } from '../config/entry-definition.js';
import type { CalendarDrafts } from '../config/exclude-schema.js';
import { entryWindow, resolveEntry } from '../config/resolve.js';
import type { EntryScope } from '../config/resolve.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { nextFires } from '../core/schedule.js';
import { isScheduleError } from '../base/step-budget.js';
import { DEFAULTS } from '../base/defaults.js';
import { WorkMeter } from '../base/work-meter.js';
import { entriesLoad, loadReport } from './entries-load.js';
import type { LoadInput, LoadReport } from './entries-load.js';
import { formatInstant } from '../time/zone.js';
import { entryDiff } from './audit-events.js';
import type { FieldChange } from './audit-events.js';

/** How many next fires a plan shows before and after a change. */
export const PLAN_FIRES = 3;

/** A runtime entry as the store holds it, for a plan. */
export interface PlannedStored {
  readonly name: string;
  /** Its definition (JSON value), undefined when the record could not be read. */
  readonly entry: unknown;
  /** Its canonical JSON, as the store compares it. */
  readonly json: string;
  readonly version: number;
  /** What deleting it drops besides its definition: `state`, `paused`… (read by the caller). */
  readonly kept?: readonly string[];
}

/** An entry of the file, its owner already set. */
export interface PlannedInput {
  readonly name: string;
  readonly entry: unknown;
  readonly json: string;
}

export type PlanAction = 'add' | 'change' | 'remove' | 'unchanged' | 'conflict';

export interface PlanItem {
  readonly name: string;
  readonly action: PlanAction;
  /** A change's fields (path, before, after). */
  readonly changes?: readonly FieldChange[];
  /** The schedule's kind before and after, when a change makes it another kind (cron → interval). */
  readonly kind?: { readonly before: string; readonly after: string };
  /** The next fires (ISO, in the entry's zone) now and after the apply; absent for an entry gone or unchanged. */
  readonly firesBefore?: readonly string[];
  readonly firesAfter?: readonly string[];
  /** What a remove drops with the definition (its state, its paused mark…). */
  readonly dropped?: readonly string[];
  /** A conflict's holder: another owner, or null for an entry with none (made by hand). */
  readonly heldBy?: string | null;
  /** The stored version the apply expects (0: none). */
  readonly version: number;
}

export interface EntryPlan {
  readonly owner: string;
  readonly digest: string;
  readonly counts: Readonly<Record<PlanAction, number>>;
  readonly entries: readonly PlanItem[];
  /** The load before and after, when the plan was asked for it (`horizonMs`). */
  readonly load?: PlanLoad;
}

/**
 * The load a plan's entries make over the coming `horizonMs`, now and after the change: those it
 * compares (the owner's, or the config file's), the rest of the deployment being the same on both
 * sides. An entry whose definition is invalid or cannot be resolved is not counted (the plan names it).
 */
export interface PlanLoad {
  readonly horizonMs: number;
  readonly before: LoadReport;
  readonly after: LoadReport;
}

/** Entry definitions (name, definition) and where they are read, for a plan's load. */
export interface PlanSide {
  readonly entries: Iterable<readonly [string, unknown]>;
  readonly context: FireContext;
}

function* loadInputs(side: PlanSide): Generator<LoadInput> {
  for (const [name, entry] of side.entries) {
    let resolved: ResolvedEntry | undefined;
    try {
      resolved = resolvedOf(name, entry, side.context);
    } catch (error) {
      if (!isScheduleError(error)) throw error;
    }
    if (resolved !== undefined) yield { entry: resolved };
  }
}

/** The load of both sides of a plan, each counted in slices of the event loop (entries-load.ts). */
export async function planLoad(before: PlanSide, after: PlanSide, nowMs: number, horizonMs: number): Promise<PlanLoad> {
  return {
    horizonMs,
    before: loadReport(await entriesLoad(loadInputs(before), nowMs, horizonMs)),
    after: loadReport(await entriesLoad(loadInputs(after), nowMs, horizonMs)),
  };
}

/** The owner an entry definition records, or undefined. */
export function ownerOf(entry: unknown): string | undefined {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
  const owner = (entry as Record<string, unknown>)['owner'];
  return typeof owner === 'string' ? owner : undefined;
}

/** The entry with `owner` set to `owner`. */
export function owned(entry: unknown, owner: string): unknown {
  return entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? { ...entry, owner } : entry;
}

/**
 * The plan of making the store's entries of `owner` be `inputs`. `stored` holds every stored entry
 * the owner holds and every one named in `inputs` (whoever holds it); `zone` and `deployment` are the deployment's.
 * Each entry's fires are computed within their step budget, the event loop turned over whenever
 * DEFAULTS.writeCheckSliceMs of that work is done (issue 66): `beat run` plans on the scheduler's
 * loop, and sixty entries of costly rules, tens of milliseconds each, held it for a second.
 */
export async function planEntries(options: {
  readonly owner: string;
  readonly inputs: readonly PlannedInput[];
  readonly stored: ReadonlyMap<string, PlannedStored>;
  readonly zone: string;
  readonly deployment: string;
  readonly nowMs: number;
  /** Also count the load of the owner's entries before and after over this window, ms (`beat plan`). */
  readonly horizonMs?: number | undefined;
}): Promise<EntryPlan> {
  const { owner, inputs, stored, zone, deployment, nowMs } = options;
  const context: FireContext = { zone, deployment };
  const items: PlanItem[] = [];
  const named = new Set<string>();
  const meter = new WorkMeter(Number.POSITIVE_INFINITY, DEFAULTS.writeCheckSliceMs);
  const metered = async <T>(work: () => T): Promise<T> => {
    await meter.pause();
    meter.begin();
    try {
      return work();
    } finally {
      meter.end();
    }
  };
  for (const input of inputs) {
    named.add(input.name);
    const before = stored.get(input.name);
    if (before === undefined) {
      const firesAfter = await metered(() => firesOf(input.name, input.entry, context, nowMs));
      items.push({ name: input.name, action: 'add', firesAfter, version: 0 });
      continue;
    }
    const holder = ownerOf(before.entry);
    if (holder !== owner) {
      items.push({ name: input.name, action: 'conflict', heldBy: holder ?? null, version: before.version });
      continue;
    }
    if (before.json === input.json) {
      items.push({ name: input.name, action: 'unchanged', version: before.version });
      continue;
    }
    const change = await metered(() => changeItem(input.name, before.entry, input.entry, context, context, nowMs));
    items.push({ ...change, version: before.version });
  }
  for (const before of stored.values()) {
    if (named.has(before.name) || ownerOf(before.entry) !== owner) continue;
    const firesBefore = await metered(() => firesOf(before.name, before.entry, context, nowMs));
    items.push({
      name: before.name,
      action: 'remove',
      firesBefore,
      dropped: before.kept ?? [],
      version: before.version,
    });
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const counts = { add: 0, change: 0, remove: 0, unchanged: 0, conflict: 0 };
  for (const item of items) counts[item.action] += 1;
  const plan = { owner, digest: planDigest(owner, inputs, stored), counts, entries: items };
  if (options.horizonMs === undefined) return plan;
  const mine = [...stored.values()].filter((e) => ownerOf(e.entry) === owner).map((e) => [e.name, e.entry] as const);
  const load = await planLoad(
    { entries: mine, context },
    { entries: inputs.map((i) => [i.name, i.entry] as const), context },
    nowMs,
    options.horizonMs,
  );
  return { ...plan, load };
}

/**
 * What the plan saw, as one hash: the owner, each stored entry it compared (the owner's and those
 * named in the file: name, version) and each entry of the file (name, canonical JSON), in name order.
 * The same store and file give the same digest; any write to one of those entries, or another file,
 * gives another.
 */
export function planDigest(owner: string, inputs: readonly PlannedInput[], stored: ReadonlyMap<string, PlannedStored>): string {
  const hash = createHash('sha256');
  hash.update(`owner\0${owner}\n`);
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  for (const name of [...stored.keys()].sort(byName)) hash.update(`stored\0${name}\0${stored.get(name)?.version ?? 0}\n`);
  for (const input of [...inputs].sort((a, b) => byName(a.name, b.name))) hash.update(`file\0${input.name}\0${input.json}\n`);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Where an entry's next fires are computed: the zone of entries that name none and the deployment's
 * name (EntryScope: it seeds hashed times), and the calendars `exclude` may name.
 */
export interface FireContext extends EntryScope {
  readonly calendars?: CalendarDrafts;
}

/**
 * A change of one entry from `before` to `after` (definitions), its fires before read in `was`
 * and after in `now` (a config plan's settings may differ on the two sides).
 */
export function changeItem(
  name: string,
  before: unknown,
  after: unknown,
  was: FireContext,
  now: FireContext,
  nowMs: number,
): Omit<PlanItem, 'version'> & { readonly action: 'change' } {
  const kindBefore = kindOf(before);
  const kindAfter = kindOf(after);
  return {
    name,
    action: 'change',
    changes: entryDiff(before, after),
    ...(kindBefore !== kindAfter ? { kind: { before: kindBefore, after: kindAfter } } : {}),
    firesBefore: firesOf(name, before, was, nowMs),
    firesAfter: firesOf(name, after, now, nowMs),
  };
}

/** The schedule's kind (`cron`, `interval`…, `list (cron, interval)` for several specs), or `?` when the definition does not parse. */
function kindOf(entry: unknown): string {
  const parsed = parseEntryDefinition(entry);
  if (!parsed.ok) return '?';
  try {
    const { schedule } = resolveEntry('', parsed.entry, { zone: 'UTC', deployment: '' });
    return schedule.kind === 'union' ? `list (${schedule.specs.map((spec) => spec.kind).join(', ')})` : schedule.kind;
  } catch {
    return '?';
  }
}

/**
 * The entry's next PLAN_FIRES fires after `nowMs` as ISO instants in its zone (an interval counted
 * from now, as `beat next` does), none for a disabled entry, or the reason they cannot be computed.
 */
export function firesOf(name: string, entry: unknown, context: FireContext, nowMs: number): string[] {
  try {
    const resolved = resolvedOf(name, entry, context);
    if (resolved === undefined) return ['(does not run: invalid)'];
    if (!resolved.enabled) return [];
    const count = Math.min(PLAN_FIRES, resolved.maxRuns ?? PLAN_FIRES);
    return nextFires(resolved.schedule, { zone: resolved.timezone, afterMs: nowMs, window: entryWindow(resolved) }, count).map((ms) =>
      formatInstant(ms, resolved.timezone),
    );
  } catch (error) {
    if (!isScheduleError(error)) throw error;
    return [`(cannot be computed: ${error.message})`];
  }
}

/**
 * The entry as it would run in `context`, or undefined when its definition is invalid (a plan names
 * it so); a schedule that cannot be resolved within its step budget throws its ScheduleError.
 */
export function resolvedOf(name: string, entry: unknown, context: FireContext): ResolvedEntry | undefined {
  const parsed = parseEntryDefinition(entry);
  return parsed.ok ? resolveEntry(name, parsed.entry, context, undefined, undefined, context.calendars) : undefined;
}
