/**
 * Key spelling rules shared by every object of the config: each camelCase key may also be written
 * in snake_case (so definitions copy over from Python's celeryconfig unchanged), and an unknown key
 * is reported with the nearest known one as a hint.
 */
import * as z from 'zod';
import { shown } from '../base/errors.js';
import { closest } from '../base/did-you-mean.js';

export function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const hint = closest(key, known);
  return hint !== undefined
    ? `unknown key ${shown(key)}; did you mean "${hint}"?`
    : `unknown key ${shown(key)}; allowed keys: ${known.join(', ')}`;
}

/**
 * `x-…` keys are extensions, ignored in every settings object, as docker-compose ignores them: the
 * place for a YAML anchor of shared values (`x-defaults: &defaults {...}`, then `<<: *defaults`).
 */
function isExtension(key: string): boolean {
  return key.charCodeAt(0) === 120 /* x */ && key.charCodeAt(1) === 45; /* - */
}

function needsRenaming(record: Record<string, unknown>, spellings: ReadonlyMap<string, string>): boolean {
  for (const key in record) if (Object.hasOwn(record, key) && (spellings.has(key) || isExtension(key))) return true;
  return false;
}

/**
 * A strict object whose keys may be spelt camelCase or snake_case, with `aliases` for other
 * spellings (Celery names such as `beat_schedule`), and `x-…` keys dropped. Output keys are always
 * the camelCase ones.
 */
export function keyed<Shape extends z.ZodRawShape>(shape: Shape, aliases: Record<string, keyof Shape & string> = {}) {
  const spellings = new Map<string, keyof Shape & string>();
  for (const key of Object.keys(shape) as (keyof Shape & string)[]) {
    spellings.set(snakeCase(key), key);
  }
  for (const [alias, key] of Object.entries(aliases)) spellings.set(alias, key);
  for (const key of Object.keys(shape)) spellings.delete(key);
  const known = Object.keys(shape);

  const strict = z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      return issue.keys.map((key) => unknownKeyMessage(key, known)).join('\n');
    },
  });
  const withAliases = z.preprocess((input, ctx) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const record = input as Record<string, unknown>;
    // Loops over `in` rather than Object.keys/entries: this runs for every object of every entry,
    // and the arrays those allocate were a tenth of the garbage of loading 10,000 entries.
    if (!needsRenaming(record, spellings)) return input;
    const renamed: Record<string, unknown> = {};
    for (const key in record) {
      if (!Object.hasOwn(record, key) || isExtension(key)) continue;
      const value = record[key];
      const canonical = spellings.get(key);
      if (canonical === undefined) {
        renamed[key] = value;
      } else if (canonical in record) {
        ctx.issues.push({
          code: 'custom',
          message: `"${key}" and "${canonical}" are the same setting; give only one`,
          path: [key],
          input: value,
        });
      } else {
        renamed[canonical] = value;
      }
    }
    return renamed;
  }, strict);
  // The aliases are a convenience of untyped files (YAML, JSON); TS configs are typed with the
  // canonical camelCase keys only, so the static type is that of the strict object.
  return withAliases as unknown as typeof strict;
}
