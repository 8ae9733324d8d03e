/**
 * One entry on its own, as the runtime store, the `beat entries` commands, the HTTP API and the
 * TypeScript client take it: its name and the same object a config file's `beatSchedule.<name>`
 * holds, checked by the same schema, so that the same mistakes get the same messages. Problems are
 * located by the path under the entry (`schedule.cron`), prefixed by whatever the caller says the
 * entry is (`entries.nightly`, a file name and line, a request body).
 */
import * as z from 'zod';
import type { ConfigProblem } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import { chainArgsProblem } from './canvas-schema.js';
import { jsonLimitProblem } from './json-value.js';
import { formatPath, toProblems } from './problems.js';
import type { LineLocator } from './problems.js';
import { newEntryNameSchema } from './name-lookalikes.js';
import { specCountOver, tooManySpecsMessage } from './schedule-schema.js';
import { entryNameSchema, entrySchema } from './schema.js';
import type { ParsedEntry } from './schema.js';

export type EntryParse = { readonly ok: true; readonly entry: ParsedEntry } | { readonly ok: false; readonly problems: ConfigProblem[] };

let compiledEntrySchema: typeof entrySchema | undefined;

/** How deep and large a runtime entry's args and kwargs may be (the config's `entryLimits`). */
export interface EntryLimits {
  readonly maxDepth: number;
  readonly maxArgsBytes: number;
  /** The most entries the store may hold, and the most bytes of their names and definitions (entries-write.lua checks them). */
  readonly maxEntries: number;
  readonly maxStoreBytes: number;
  /** The most specs a `schedule` list may hold (issue 71). */
  readonly maxSpecs: number;
}

let entryLimits: EntryLimits = {
  maxDepth: DEFAULTS.entryMaxDepth,
  maxArgsBytes: DEFAULTS.entryMaxArgsBytes,
  maxEntries: DEFAULTS.entryMaxEntries,
  maxStoreBytes: DEFAULTS.entryMaxStoreBytes,
  maxSpecs: DEFAULTS.maxSpecs,
};

/** Sets the limits every later parseEntryDefinition applies (`beat run` does, from the config, at start and on reload). */
export function setEntryLimits(limits: EntryLimits): void {
  entryLimits = limits;
}

export function currentEntryLimits(): EntryLimits {
  return entryLimits;
}

function limitPath(path: readonly (string | number)[], prefix: string): string {
  return formatPath(prefix === '' ? path : [prefix, ...path]);
}

/**
 * The first way an entry breaks the limits, before anything walks it: a schedule list within
 * maxSpecs, args and kwargs within maxDepth and (together) maxArgsBytes, and the whole entry within
 * maxDepth + 2 levels (options and the rest hold no deep values) and twice maxArgsBytes.
 */
function limitProblem(value: unknown, limits: EntryLimits): ConfigProblem | undefined {
  // (No arrow made here per call: the bundle's keepNames defines a name on each one.)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const specs = specCountOver((value as Record<string, unknown>)['schedule'], limits.maxSpecs);
  if (specs !== undefined) return { path: 'schedule', message: tooManySpecsMessage(specs, limits.maxSpecs) };
  let budget = limits.maxArgsBytes;
  for (const field of ['args', 'kwargs'] as const) {
    const part = (value as Record<string, unknown>)[field];
    if (part === undefined) continue;
    const problem = jsonLimitProblem(part, { maxDepth: limits.maxDepth, maxBytes: budget });
    if (problem !== undefined) {
      const message =
        field === 'kwargs' && limits.maxArgsBytes !== budget ? `${problem.message} (args and kwargs together)` : problem.message;
      return { path: limitPath(problem.path, field), message };
    }
    budget -= JSON.stringify(part).length;
  }
  const whole = jsonLimitProblem(value, { maxDepth: limits.maxDepth + 2, maxBytes: 2 * limits.maxArgsBytes });
  return whole === undefined ? undefined : { path: limitPath(whole.path, ''), message: whole.message };
}

/**
 * The problems of an entry name as it is read (empty when it is fine), at path `name`: a RedBeat
 * entry's or a Django row's, an owner's.
 */
export function entryNameProblems(name: unknown): ConfigProblem[] {
  return nameProblems(entryNameSchema, name);
}

/** The problems of the name of an entry about to be written: those of entryNameProblems, and a lookalike's (name-lookalikes.ts). */
export function newEntryNameProblems(name: unknown): ConfigProblem[] {
  return nameProblems(newEntryNameSchema, name);
}

function nameProblems(schema: z.ZodType<string>, name: unknown): ConfigProblem[] {
  if (typeof name !== 'string') return [{ path: 'name', message: 'an entry name must be a string' }];
  const result = schema.safeParse(name);
  return result.success ? [] : toProblems(result.error.issues).map((p) => ({ ...p, path: 'name' }));
}

/** The first way `value` breaks the current limits (setEntryLimits), or undefined. */
export function entryLimitProblem(value: unknown): ConfigProblem | undefined {
  return limitProblem(value, entryLimits);
}

/**
 * Checks an entry definition (a JSON value) as `beat check` checks one in a config file. The paths
 * of the problems are relative to the entry: `schedule`, `options.queue`, `` for the value itself;
 * `locate` (given the path under the entry) puts each on its line of a YAML file.
 */
export function parseEntryDefinition(value: unknown, locate?: LineLocator): EntryParse {
  // A value that is not an object is left to the schema too, so that it reads as `beat check` says it.
  // Compiled on first use, as the config schema is (load.ts): ~3x faster per entry, same messages.
  const tooLarge = limitProblem(value, entryLimits);
  if (tooLarge !== undefined) return { ok: false, problems: [tooLarge] };
  compiledEntrySchema ??= z.compile(entrySchema);
  const result = compiledEntrySchema.safeParse(value);
  if (!result.success) return { ok: false, problems: toProblems(result.error.issues, locate) };
  const chainArgs = chainArgsProblem(result.data);
  return chainArgs === undefined ? { ok: true, entry: result.data } : { ok: false, problems: [chainArgs] };
}

/** Problems of an entry, with their paths put under `prefix` (`entries.nightly` → `entries.nightly.schedule`). */
export function prefixProblems(prefix: string, problems: readonly ConfigProblem[]): ConfigProblem[] {
  return problems.map((p) => ({
    ...p,
    path: p.path === '' ? prefix : prefix === '' ? p.path : p.path.startsWith('[') ? `${prefix}${p.path}` : `${prefix}.${p.path}`,
  }));
}
