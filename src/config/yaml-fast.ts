/**
 * The fast way to read a YAML config: js-yaml, which reads 100,000 entries in about a second where
 * the `yaml` library's document model takes tens of seconds and a gigabyte. It gives no line
 * numbers, so it only reads what it reads exactly as the library does (YAML 1.2's core schema,
 * merge keys) and hands the rest back to the library (yaml.ts), which also places every problem
 * on its line: tags, duplicate keys, syntax errors, and integers beyond 2^53 (the library reads
 * them exactly, as bigints, so that they can be refused rather than silently rounded).
 */
// Imported (its one ES module file, bundled with the config's reader), not required from
// node_modules when first used: resolving and compiling its 25 CommonJS files slowed every start.
import * as jsYaml from 'js-yaml';

let schema: jsYaml.Schema | undefined;

/** The plain value, and whether it has aliases (shared objects, whose expansion the caller bounds); undefined: ask the library. */
export function parseFastYaml(text: string): { value: unknown; aliases: boolean } | undefined {
  // The core schema, as the library's default; merge keys as the library reads them with merge: true.
  // (`types` is there at run time; @types/js-yaml leaves it out.)
  schema ??= jsYaml.CORE_SCHEMA.extend({ implicit: [(jsYaml as unknown as { types: { merge: jsYaml.Type } }).types.merge] });
  // A lone CR (js-yaml ends a line there, the library does not), a no-break space or a BOM
  // (whitespace to one, text to the other): the library's reading, not a guess.
  if (/\r(?!\n)|[\u00a0\ufeff]/.test(text)) return undefined;
  let value: unknown;
  try {
    // js-yaml stops at 10,000 merged keys by default (against merge bombs); a config merging its
    // defaults into 100,000 entries merges more. Bounded by the text's length instead: no legitimate
    // `<<: *x` (8 characters at least) merges more keys than the file has characters.
    value = jsYaml.load(text, { schema, maxTotalMergeKeys: Math.max(10_000, text.length) } as jsYaml.LoadOptions);
  } catch {
    return undefined;
  }
  if (value === undefined) value = null;
  let aliases = false;
  const seen = new Set<object>();
  let exact = true;
  const visit = (v: unknown): void => {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) exact = false;
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (seen.has(v)) {
      aliases = true;
      return;
    }
    seen.add(v);
    if (Array.isArray(v)) for (const child of v) visit(child);
    else {
      for (const [key, child] of Object.entries(v)) {
        // A mapping or a list used as a key: js-yaml writes it "[object Object]", the library as its text.
        if (key === '[object Object]') exact = false;
        visit(child);
      }
    }
  };
  visit(value);
  return exact ? { value, aliases } : undefined;
}
