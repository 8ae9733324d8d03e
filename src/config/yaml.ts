/**
 * A YAML config file → plain JSON-like values, with a line locator for messages: the `yaml`
 * library, the one YAML reader. What YAML can say that JSON cannot is either resolved (merge keys,
 * aliases) or refused with its line (tags such as `!!binary` or `!!set`, aliases that expand
 * without bound, duplicate keys). A file is read once without tracking lines; lines are found (by
 * reading it again with a LineCounter) only for a problem to place. Also the one YAML writer.
 *
 * The `yaml` library is bundled in the chunk of this module, which the config loader imports when
 * it reads a YAML file (load.ts): a JSON config, and a command that reads none, do not load it or
 * carry it in memory (bench: idle, cli-start).
 */
import { LineCounter, isAlias, isCollection, isMap, isNode, isPair, isScalar, isSeq, parseDocument, stringify } from 'yaml';
import type { Alias, Document, DocumentOptions, Pair, ParseOptions, SchemaOptions } from 'yaml';
import { ConfigError } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import { snakeCase } from './key-spelling.js';
import type { LineLocator } from './problems.js';

/**
 * YAML aliases and merge keys may make the document this many times larger than what is written
 * (merge keys reuse a block of defaults in every entry), and always up to YAML_EXPANDED_VALUES_FLOOR
 * values. A "billion laughs" document of nine lines expands to millions: it is refused before it
 * is expanded (config files and entries files alike).
 */
const YAML_ALIAS_EXPANSION = 10;
const YAML_EXPANDED_VALUES_FLOOR = 1_000_000;
/**
 * The YAML reader looks each alias's anchor up by walking the document from its start to the
 * alias: aliases cost the sum of their places (counted in values), refused past this many steps
 * (about a second). 1,000 entries that each merge one block of defaults take ~10,000,000.
 */
const YAML_ALIAS_LOOKUPS = 30_000_000;

const READ_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  // Integers as bigints, so that one beyond 2^53 is refused rather than silently rounded.
  intAsBigInt: true,
  // `<<: *defaults` (YAML 1.1 merge keys), as docker-compose and Kubernetes files use them.
  merge: true,
  // `!!binary`, `!!set`, `!!omap`, `!!timestamp` would become a Buffer, Set, Map or Date, which
  // no setting takes; left unresolved they are reported, with their line.
  resolveKnownTags: false,
  // yaml's own unique-key check compares every key with every other (quadratic: minutes for a map
  // of 100,000 entries); duplicates are found with a Set per map instead.
  uniqueKeys: false,
};

export interface YamlConfig {
  readonly value: unknown;
  readonly locate: LineLocator;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

export async function parseYamlConfig(text: string, source: string): Promise<YamlConfig> {
  // No LineCounter, and no error messages made pretty (which would make one): a valid file needs
  // no line. Its document is dropped once its values are taken.
  const doc = parseDocument(text, { ...READ_OPTIONS, prettyErrors: false });
  const walked = walkDocument(doc, undefined);
  if (doc.errors.length > 0 || unresolvedTags(doc).length > 0 || walked.problems.length > 0) {
    // Read again, with lines, for the problems' messages and lines as they are reported.
    const placed = readWithLines(text);
    throw new ConfigError(source, [...syntaxProblems(placed.doc), ...walkDocument(placed.doc, placed.lineCounter).problems]);
  }
  const value = documentValue(doc, source);
  normaliseIntegers(value, walked.aliases > 0);
  // Lines are only needed for messages: the file is read again for them then, once.
  let locate: LineLocator | undefined;
  return {
    value,
    locate: (keys) => {
      if (locate === undefined) {
        const placed = readWithLines(text);
        locate = lineLocator(placed.doc, placed.lineCounter);
      }
      return locate(keys);
    },
  };
}

function readWithLines(text: string): { doc: Document; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  return { doc: parseDocument(text, { ...READ_OPTIONS, lineCounter }), lineCounter };
}

/** The tags the parser left unresolved: no setting takes what they would make. */
function unresolvedTags(doc: Document): Document['warnings'] {
  return doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED');
}

/** The parser's errors, and the tags it left unresolved (no setting takes what they would make). */
function syntaxProblems(doc: Document): ConfigProblem[] {
  const problems: ConfigProblem[] = doc.errors.map((e) => ({
    path: '',
    line: e.linePos?.[0]?.line ?? 0,
    message: `YAML syntax: ${firstLine(e.message)}`,
  }));
  for (const w of unresolvedTags(doc)) {
    const tag = /Unresolved tag: (\S+)/.exec(w.message)?.[1]?.replace(/^tag:yaml\.org,2002:/, '!!') ?? 'this tag';
    problems.push({
      path: '',
      line: w.linePos?.[0]?.line ?? 0,
      message: `YAML tag ${tag} is not supported: settings take plain values (strings, numbers, true/false, null, lists, mappings); remove the tag`,
    });
  }
  return problems;
}

/**
 * One walk of the document, in the order yaml resolves aliases in (a node before its children, a
 * key before its value): each map's duplicate keys, and what its aliases and merge keys expand it
 * to, as problems (on their line, with a LineCounter); and the number of aliases.
 *
 * An alias counts as every value of what its anchor marks, and so does one under a merge key
 * (`<<: *a`): each later step (validation, resolving) walks an alias's value again, and toJS copies
 * a merged mapping anew at every merge, so nested merges grow as nested aliases do ("billion
 * laughs"). Measured on the nodes, before toJS, which would already take minutes and gigabytes on
 * a bomb of merge keys. An alias always names an anchor before it, whose value is complete by then
 * (or still open: the alias is inside it), so one pass sizes every node.
 */
function walkDocument(doc: Document, lineCounter: LineCounter | undefined): { problems: ConfigProblem[]; aliases: number } {
  const lineOf = (node: unknown): number => (lineCounter && isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : 0);
  const problems: ConfigProblem[] = [];
  const anchors = new Map<string, unknown>();
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  let written = 0;
  let aliases = 0;
  let largest: { alias: Alias; size: number } | undefined;
  // yaml finds an alias's anchor by walking the document from its start up to the alias, so
  // resolving them all costs the sum of their places: 40,000 plain aliases in 120 KB took 37 s.
  let lookups = 0;
  let lookupsPassedAt: Alias | undefined;
  const sizeOf = (node: unknown): number => {
    written += 1;
    if (isAlias(node)) {
      aliases += 1;
      lookups += written;
      if (lookupsPassedAt === undefined && lookups > YAML_ALIAS_LOOKUPS) lookupsPassedAt = node;
      const target = anchors.get(node.source);
      // No anchor before it: toJS reports that, with its name.
      if (target === undefined) return 1;
      if (open.has(target)) {
        problems.push({
          path: '',
          line: lineOf(node),
          message: `YAML alias *${node.source} is inside the value its anchor &${node.source} marks, which would then contain itself without end; write the value out instead`,
        });
        return 1;
      }
      const size = sizes.get(target) ?? 1;
      if (largest === undefined || size > largest.size) largest = { alias: node, size };
      return size;
    }
    // Only an anchored node is an alias's target: only its size is kept (a file of a million
    // entries and no anchor keeps none).
    const anchor = isNode(node) ? node.anchor : undefined;
    const anchored = anchor !== undefined;
    if (anchored) anchors.set(anchor, node);
    if (!isCollection(node)) {
      if (anchored) sizes.set(node, 1);
      return 1;
    }
    if (anchored) open.add(node);
    let size = 1;
    const keys = isMap(node) ? new Set<unknown>() : undefined;
    for (const item of node.items) {
      if (!isPair(item)) {
        size += sizeOf(item);
        continue;
      }
      size += sizeOf(item.key) + sizeOf(item.value);
      const key = isScalar(item.key) ? item.key.value : item.key;
      if (keys === undefined || !keys.has(key)) {
        keys?.add(key);
        continue;
      }
      problems.push({
        path: '',
        line: lineOf(item.key),
        message: `YAML syntax: Map keys must be unique; ${JSON.stringify(String(key))} appears twice`,
      });
    }
    if (anchored) {
      open.delete(node);
      sizes.set(node, size);
    }
    return size;
  };
  const expanded = sizeOf(doc.contents);
  const allowed = Math.max(YAML_EXPANDED_VALUES_FLOOR, YAML_ALIAS_EXPANSION * written);
  if (largest !== undefined && expanded > allowed) {
    problems.push({
      path: '',
      line: lineOf(largest.alias),
      message: `YAML aliases and merge keys expand ${written.toLocaleString('en')} written values to ${expanded.toLocaleString('en')}, more than the ${allowed.toLocaleString('en')} allowed (an alias bomb, "billion laughs"?); *${largest.alias.source} here stands for ${largest.size.toLocaleString('en')}: write the values out or use each anchor fewer times`,
    });
  }
  if (lookupsPassedAt !== undefined) {
    problems.push({
      path: '',
      line: lineOf(lookupsPassedAt),
      message: `YAML: ${aliases.toLocaleString('en')} aliases in ${written.toLocaleString('en')} values cost the YAML reader ${lookups.toLocaleString('en')} steps to resolve (each one is looked up from the start of the file), more than the ${YAML_ALIAS_LOOKUPS.toLocaleString('en')} allowed; the alias here passed it: write the values out, use fewer aliases, or write the file as JSON`,
    });
  }
  return { problems, aliases };
}

/** The document as plain values; an alias it cannot resolve is the file's problem. */
function documentValue(doc: Document, source: string): unknown {
  // Aliases become shared references (-1: no count of yaml's own, which refuses an anchor used a
  // thousand times, as a merge key of defaults in every entry is); walkDocument bounded their expansion.
  try {
    return doc.toJS({ maxAliasCount: -1 });
  } catch (error) {
    // An alias to an anchor defined later, or a merge key of something other than a mapping.
    throw new ConfigError(source, [{ path: '', message: `YAML: ${firstLine(error instanceof Error ? error.message : String(error))}` }]);
  }
}

/**
 * The line of a key path; a missing key is reported at its nearest parent's line. The path names
 * the camelCase keys the schema outputs, and the file may spell a key in snake_case
 * (`beat_schedule:`, key-spelling.ts): a key is found under either spelling.
 */
function lineLocator(doc: Document, lineCounter: LineCounter): LineLocator {
  return (keys) => {
    let node: unknown = doc.contents;
    for (const key of keys) {
      const child = childNode(node, key);
      if (child === undefined) break;
      node = child;
    }
    return isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };
}

/** The value node under `key` (its key node when it has no value), the exact spelling first. */
function childNode(node: unknown, key: PropertyKey): unknown {
  if (isSeq(node)) return typeof key === 'number' ? node.items[key] : undefined;
  if (!isMap(node)) return undefined;
  const keyOf = (pair: Pair): unknown => (isScalar(pair.key) ? pair.key.value : pair.key);
  const pair =
    node.items.find((p) => keyOf(p) === key) ?? (typeof key === 'string' ? node.items.find((p) => keyOf(p) === snakeCase(key)) : undefined);
  return pair === undefined ? undefined : (pair.value ?? pair.key);
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

/**
 * A value as YAML text, block style, long lines kept whole: what `beat import` and `beat entries`
 * write, and what parseYamlConfig reads back as the same value.
 */
export function yamlText(value: unknown): string {
  return stringify(value, {
    // No folding of long strings: a line per value, as a person reading a diff expects.
    lineWidth: 0,
    // An object met twice is written twice, not as an anchor and aliases.
    aliasDuplicateObjects: false,
    // A string that must be quoted in single quotes ('*/5 * * * *'), as files were written before.
    singleQuote: true,
  });
}
