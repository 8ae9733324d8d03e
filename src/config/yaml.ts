/**
 * A YAML config file → plain JSON-like values, with a line locator for messages. js-yaml reads it
 * fast where it reads it exactly as the library would (yaml-fast.ts); the rest takes the `yaml` library, where what YAML can say that
 * JSON cannot is either resolved (merge keys, aliases) or refused with its line (tags such as
 * `!!binary` or `!!set`, aliases that expand without bound, duplicate keys).
 */
import type { Document, LineCounter } from 'yaml';
import { DEFAULTS } from '../base/defaults.js';
import { ConfigError } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import type { LineLocator } from './problems.js';
import { parseFastYaml } from './yaml-fast.js';
import { SPEEDUPS } from '../base/speedups.js';
import { loadOnFirstUse } from '../base/load-on-first-use.js';

/**
 * The `yaml` library (its ~75 modules), loaded only when it reads a file: one js-yaml does not read
 * as it does, or one with a problem to place on its line. A valid config that js-yaml reads (`beat
 * check` of one) and a JSON one do not load it or carry it in memory (bench: idle, cli-start).
 */
const yamlLibrary = loadOnFirstUse<typeof import('yaml')>('yaml');

export interface YamlConfig {
  readonly value: unknown;
  readonly locate: LineLocator;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

export async function parseYamlConfig(text: string, source: string): Promise<YamlConfig> {
  const plain = SPEEDUPS.yaml ? parseFastYaml(text) : undefined;
  if (plain === undefined) return parseWithLibrary(yamlLibrary(), text, source);
  if (plain.aliases) checkExpansion(plain.value, source);
  // Lines are only needed for messages: the library finds them then, once.
  let locate: LineLocator | undefined;
  return { value: plain.value, locate: (keys) => (locate ??= parseWithLibrary(yamlLibrary(), text, source).locate)(keys) };
}

function parseWithLibrary(yaml: typeof import('yaml'), text: string, source: string): YamlConfig {
  const lineCounter = new yaml.LineCounter();
  const doc: Document = yaml.parseDocument(text, {
    lineCounter,
    intAsBigInt: true,
    // `<<: *defaults` (YAML 1.1 merge keys), as docker-compose and Kubernetes files use them.
    merge: true,
    // `!!binary`, `!!set`, `!!omap`, `!!timestamp` would become a Buffer, Set, Map or Date, which
    // no setting takes; left unresolved they are reported below, with their line.
    resolveKnownTags: false,
    // yaml's own unique-key check compares every key with every other (quadratic: minutes for a map
    // of 100,000 entries); duplicates are found with a Set per map instead.
    uniqueKeys: false,
  });
  const problems = syntaxProblems(doc);
  const aliases = walkDocument(yaml, doc, lineCounter, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const value = documentValue(doc, source);
  if (aliases > 0) checkExpansion(value, source);
  normaliseIntegers(value, aliases > 0);
  return { value, locate: lineLocator(yaml, doc, lineCounter) };
}

/** The parser's errors, and the tags it left unresolved (no setting takes what they would make). */
function syntaxProblems(doc: Document): ConfigProblem[] {
  const problems: ConfigProblem[] = doc.errors.map((e) => ({
    path: '',
    line: e.linePos?.[0]?.line ?? 0,
    message: `YAML syntax: ${firstLine(e.message)}`,
  }));
  for (const w of doc.warnings) {
    if (w.code !== 'TAG_RESOLVE_FAILED') continue;
    const tag = /Unresolved tag: (\S+)/.exec(w.message)?.[1]?.replace(/^tag:yaml\.org,2002:/, '!!') ?? 'this tag';
    problems.push({
      path: '',
      line: w.linePos?.[0]?.line ?? 0,
      message: `YAML tag ${tag} is not supported: settings take plain values (strings, numbers, true/false, null, lists, mappings); remove the tag`,
    });
  }
  return problems;
}

/** One walk of the document: each map's duplicate keys added to `problems`, with their line; the number of aliases. */
function walkDocument(yaml: typeof import('yaml'), doc: Document, lineCounter: LineCounter, problems: ConfigProblem[]): number {
  const { isNode, isScalar, visit } = yaml;
  const lineOf = (node: unknown): number => (isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : 0);
  let aliases = 0;
  visit(doc, {
    Alias() {
      aliases += 1;
    },
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!seen.has(key)) {
          seen.add(key);
          continue;
        }
        problems.push({
          path: '',
          line: lineOf(pair.key),
          message: `YAML syntax: Map keys must be unique; ${JSON.stringify(String(key))} appears twice`,
        });
      }
    },
  });
  return aliases;
}

/** The document as plain values; an alias it cannot resolve is the file's problem. */
function documentValue(doc: Document, source: string): unknown {
  // Aliases become shared references (-1: no count of yaml's own, which refuses an anchor used a
  // thousand times, as a merge key of defaults in every entry is); their expansion is bounded below.
  try {
    return doc.toJS({ maxAliasCount: -1 });
  } catch (error) {
    // An alias to an anchor defined later, or a merge key of something other than a mapping.
    throw new ConfigError(source, [{ path: '', message: `YAML: ${firstLine(error instanceof Error ? error.message : String(error))}` }]);
  }
}

/** The line of a key path; a missing key is reported at its nearest parent's line. */
function lineLocator(yaml: typeof import('yaml'), doc: Document, lineCounter: LineCounter): LineLocator {
  return (keys) => {
    // Walk up until a node exists: a missing key is reported at its parent's line.
    for (let n = keys.length; n >= 0; n -= 1) {
      const node = doc.getIn(keys.slice(0, n) as unknown[], true);
      if (yaml.isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

/**
 * Refuses a document whose aliases expand it far beyond what is written ("billion laughs"): every
 * later step (validation, resolving) walks the expanded tree. Sizes are memoised per shared object,
 * so this walk is linear in what is written.
 */
function checkExpansion(root: unknown, source: string): void {
  const sizes = new Map<object, number>();
  let written = 0;
  const sizeOf = (value: unknown): number => {
    written += 1;
    if (value === null || typeof value !== 'object') return 1;
    const known = sizes.get(value);
    if (known !== undefined) return known;
    let size = 1;
    for (const child of Array.isArray(value) ? value : Object.values(value)) size += sizeOf(child);
    sizes.set(value, size);
    return size;
  };
  const expanded = sizeOf(root);
  const allowed = Math.max(DEFAULTS.yamlExpandedValuesFloor, DEFAULTS.yamlAliasExpansion * written);
  if (expanded > allowed) {
    throw new ConfigError(source, [
      {
        path: '',
        message: `YAML aliases expand ${written.toLocaleString('en')} written values to ${expanded.toLocaleString('en')}, more than the ${allowed.toLocaleString('en')} allowed (an alias bomb, "billion laughs"?); write the values out or use each anchor fewer times`,
      },
    ]);
  }
}

/**
 * Integers come as bigints (so that precision lost beyond 2^53 can be reported); those that fit a
 * number become one, in place: toJS made these objects. With aliases, shared objects are visited once.
 */
function normaliseIntegers(root: unknown, shared: boolean): void {
  const done = shared ? new Set<object>() : undefined;
  const fits = (v: unknown): v is bigint =>
    typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
  const visitValue = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || done?.has(value)) return;
    done?.add(value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i += 1) {
        const v: unknown = value[i];
        if (fits(v)) value[i] = Number(v);
        else visitValue(v);
      }
      return;
    }
    const record = value as Record<string, unknown>;
    for (const key in record) {
      const v = record[key];
      if (fits(v)) record[key] = Number(v);
      else visitValue(v);
    }
  };
  visitValue(root);
}
