/**
 * One entry on its own, as the runtime store, the `beat entries` commands, the HTTP API and the
 * TypeScript client take it: its name and the same object a config file's `beatSchedule.<name>`
 * holds, checked by the same schema, so that the same mistakes get the same messages. Problems are
 * located by the path under the entry (`schedule.cron`), prefixed by whatever the caller says the
 * entry is (`entries.nightly`, a file name and line, a request body).
 */
import * as z from 'zod';
import type { ConfigProblem } from '../base/errors.js';
import { toProblems } from './problems.js';
import type { LineLocator } from './problems.js';
import { entryNameSchema, entrySchema } from './schema.js';
import type { ParsedEntry } from './schema.js';

export type EntryParse = { readonly ok: true; readonly entry: ParsedEntry } | { readonly ok: false; readonly problems: ConfigProblem[] };

let compiledEntrySchema: typeof entrySchema | undefined;

/** The problems of an entry name (empty when it is fine), at path `name`. */
export function entryNameProblems(name: unknown): ConfigProblem[] {
  if (typeof name !== 'string') return [{ path: 'name', message: 'an entry name must be a string' }];
  const result = entryNameSchema.safeParse(name);
  return result.success ? [] : toProblems(result.error.issues).map((p) => ({ ...p, path: 'name' }));
}

/**
 * Checks an entry definition (a JSON value) as `beat check` checks one in a config file. The paths
 * of the problems are relative to the entry: `schedule`, `options.queue`, `` for the value itself;
 * `locate` (given the path under the entry) puts each on its line of a YAML file.
 */
export function parseEntryDefinition(value: unknown, locate?: LineLocator): EntryParse {
  // A value that is not an object is left to the schema too, so that it reads as `beat check` says it.
  // Compiled on first use, as the config schema is (load.ts): ~3x faster per entry, same messages.
  compiledEntrySchema ??= z.compile(entrySchema);
  const result = compiledEntrySchema.safeParse(value);
  return result.success ? { ok: true, entry: result.data } : { ok: false, problems: toProblems(result.error.issues, locate) };
}

/** Problems of an entry, with their paths put under `prefix` (`entries.nightly` → `entries.nightly.schedule`). */
export function prefixProblems(prefix: string, problems: readonly ConfigProblem[]): ConfigProblem[] {
  return problems.map((p) => ({
    ...p,
    path: p.path === '' ? prefix : prefix === '' ? p.path : p.path.startsWith('[') ? `${prefix}${p.path}` : `${prefix}.${p.path}`,
  }));
}
