/**
 * Runtime entries that differ only in their args and kwargs (per-tenant entries: one task, one
 * schedule, one set of options, the tenant in the arguments) share one definition shape: the rest
 * of the definition is checked once per shape and resolved once per shape, and every entry of it
 * holds the same schedule, options, alerts, exclusions and window, instead of a copy each. Such
 * entries cost a name and an argument list each, not a definition each.
 *
 * Sharing is safe because parsed and resolved entries are never changed after they are made, and
 * exact because nothing the schema checks or resolveEntry computes from the rest depends on the
 * arguments (the entry schema's cross-field check reads neither; only `monitor`, a hashed crontab
 * line and `spread` depend on the entry's name, so an entry with one is resolved on its own).
 */
import * as z from 'zod';
import type { ParsedAlerts } from './alerts-schema.js';
import { entryLimitProblem, parseEntryDefinition } from './entry-definition.js';
import type { EntryParse } from './entry-definition.js';
import type { CalendarDrafts } from './exclude-schema.js';
import { resolveEntry } from './resolve.js';
import type { EntryFence, EntryOrigin, EntryScope, ResolvedEntry } from './resolve.js';
import { entryArgsSchema, entryKwargsSchema } from './schema.js';
import type { ParsedEntry } from './schema.js';

/**
 * Definition shapes a reader of runtime entries keeps (config/entry-shapes.ts): per-tenant entries
 * have a handful; past this many (entries that share nothing) it starts again, so that distinct
 * definitions never make it a second copy of the catalog.
 */
const ENTRY_SHAPES_KEPT = 10_000;

/**
 * A definition shape: the first definition of it that was checked, which every later one of the
 * shape copies but for its args and kwargs. Compared by identity.
 */
export type EntryShape = ParsedEntry;

/** A checked definition as a shape-sharing reader holds it: its own, or a shape's with these args and kwargs. */
export type ShapedDefinition =
  | { readonly entry: ParsedEntry; readonly shape?: undefined }
  | { readonly entry?: undefined; readonly shape: EntryShape; readonly args: ParsedEntry['args']; readonly kwargs: ParsedEntry['kwargs'] };

export type ShapedParse = (EntryParse & { readonly ok: false }) | ({ readonly ok: true } & ShapedDefinition);

/** The definition itself: a shape's is its shape with these args and kwargs. */
export function definitionOf(definition: ShapedDefinition): ParsedEntry {
  // Only the shape's own keys are written: every entry of it has the shape's hidden class.
  return definition.shape === undefined ? definition.entry : { ...definition.shape, args: definition.args, kwargs: definition.kwargs };
}

/** Whether a shape's chain begins with a group or a chord, whose arguments parseEntryDefinition judges. */
const groupFirst = (shape: EntryShape): boolean => {
  const first = shape.chain?.[0];
  return first !== undefined && !('task' in first);
};

/** Absent or empty kwargs, shared: an empty object each is 56 bytes an entry. Frozen, as it is everyone's. */
const NO_KWARGS: ParsedEntry['kwargs'] = Object.freeze({});

function isEmpty(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return false;
  return true;
}

let compiledArgs: typeof entryArgsSchema | undefined;
let compiledKwargs: typeof entryKwargsSchema | undefined;

/** The shapes one reader has met (a store's reads), at most `max` of them. */
export class EntryShapes {
  private readonly shapes = new Map<string, EntryShape>();

  constructor(private readonly max: number = ENTRY_SHAPES_KEPT) {}

  /**
   * parseEntryDefinition(value), as a shape met before (or met now) and the definition's own args
   * and kwargs. A definition with a problem is checked on its own, so that its problems read
   * exactly as parseEntryDefinition says them.
   */
  parse(value: unknown): ShapedParse {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return parseEntryDefinition(value);
    const { args, kwargs, ...rest } = value as Record<string, unknown>;
    let key: string;
    try {
      key = JSON.stringify(rest);
    } catch {
      // Not JSON (a BigInt from a YAML file): no shape.
      return parseEntryDefinition(value);
    }
    const shape = this.shapes.get(key);
    // A chain with a group or chord first takes no arguments (chainArgsProblem): checked whole.
    if (shape !== undefined && entryLimitProblem(value) === undefined && !groupFirst(shape)) {
      compiledArgs ??= z.compile(entryArgsSchema);
      compiledKwargs ??= z.compile(entryKwargsSchema);
      const parsedArgs = compiledArgs.safeParse(args);
      const parsedKwargs = compiledKwargs.safeParse(kwargs);
      if (parsedArgs.success && parsedKwargs.success)
        return { ok: true, shape, args: parsedArgs.data, kwargs: isEmpty(parsedKwargs.data) ? NO_KWARGS : parsedKwargs.data };
    }
    const parsed = parseEntryDefinition(value);
    if (!parsed.ok || shape !== undefined) return parsed;
    if (this.shapes.size >= this.max) this.shapes.clear();
    const made = parsed.entry;
    this.shapes.set(key, made);
    return { ok: true, shape: made, args: made.args, kwargs: isEmpty(made.kwargs) ? NO_KWARGS : made.kwargs };
  }
}

/** Whether resolving a shape's entry reads its name: a Sentry monitor, a hashed crontab line (H) or a spread. */
function namesItsResolution(shape: EntryShape): boolean {
  return (
    shape.monitor !== undefined || shape.spread !== undefined || (shape.schedule.kind === 'cron' && shape.schedule.hashed !== undefined)
  );
}

/** What the config gives the entries it resolves: its zone and name (EntryScope), alerts and calendars. */
export interface ResolveDefaults extends EntryScope {
  readonly alerts?: ParsedAlerts | undefined;
  readonly calendars?: CalendarDrafts | undefined;
}

/** Defaults that resolve every entry as the others do: the same zone, alerts and calendars. */
export function sameResolveDefaults(a: ResolveDefaults, b: ResolveDefaults): boolean {
  return (
    a.zone === b.zone &&
    a.deployment === b.deployment &&
    JSON.stringify([a.alerts, a.calendars]) === JSON.stringify([b.alerts, b.calendars])
  );
}

/**
 * Resolves one source's entries under fixed defaults, once per shape: an entry of a shape gets the
 * resolution of the shape's first entry with its own name, args, kwargs and fence. Make another
 * when the defaults change.
 */
export class ShapeResolver {
  /** The first entry of each shape, resolved: one entry's worth per shape, usually one the catalog holds anyway. */
  private readonly first = new WeakMap<EntryShape, ResolvedEntry>();

  constructor(
    private readonly origin: EntryOrigin,
    private readonly defaults: ResolveDefaults,
  ) {}

  /** resolveEntry(name, its definition, …, fence), sharing a shape's resolution with the shape's other entries. */
  resolve(name: string, definition: ShapedDefinition, fence: EntryFence): ResolvedEntry {
    const { alerts, calendars } = this.defaults;
    const scope = this.defaults;
    const { shape } = definition;
    const { incarnation, revision } = fence;
    // Shared in the store's case, which tells both; the monitor's check-in settings name the entry,
    // and the hashed times (H, spread) are the entry's name's.
    if (shape === undefined || namesItsResolution(shape) || incarnation === undefined || revision === undefined)
      return resolveEntry(name, definitionOf(definition), scope, this.origin, alerts, calendars, fence);
    const first = this.first.get(shape);
    if (first === undefined) {
      const resolved = resolveEntry(name, definitionOf(definition), scope, this.origin, alerts, calendars, fence);
      this.first.set(shape, resolved);
      return resolved;
    }
    // Only keys the first has are written: every entry of the shape has its hidden class.
    return { ...first, name, args: definition.args, kwargs: definition.kwargs, incarnation, revision };
  }
}
