/**
 * A fast reader for the plain YAML most configs are written in: block mappings and sequences,
 * one-line flow collections, plain and quoted scalars, comments, anchors and aliases of block
 * values and merge keys (`<<: *defaults`). It gives exactly what the `yaml`
 * library gives (YAML 1.2 core schema; integers beyond 2^53 as bigints), or `undefined` as soon as
 * it meets anything else (tags, block or multi-line scalars, flow collections over several lines,
 * several documents, tabs, duplicate keys, ...), and the caller then parses with the library, which also
 * finds the lines for messages. Why: the library builds a concrete syntax tree and a document
 * model first, ~15x slower than JSON.parse and ~5x the memory for 100,000 entries (bench:
 * config-load).
 */

/** Thrown inside the reader to give up; never escapes it. */
class NotPlain extends Error {}
const giveUp = (): never => {
  throw new NotPlain();
};

interface Line {
  readonly indent: number;
  readonly text: string;
}

// YAML 1.2 core schema, as the yaml library's tags test them.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const SPECIAL_FLOAT = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
/** What gives a plain scalar a meaning other than a string when it starts it ("-5" is a number, "- 5" a list). */
const INDICATOR = /^(?:[,[\]{}#&*!|>'"%@`]|[-?:](?: |$))/;

function resolvePlain(text: string): unknown {
  if (NULL.test(text)) return null;
  if (BOOL.test(text)) return text[0] === 't' || text[0] === 'T';
  if (INT.test(text)) {
    const big = BigInt(text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  if (FLOAT.test(text)) return parseFloat(text);
  if (SPECIAL_FLOAT.test(text)) giveUp();
  return text;
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0' };

/** A quoted scalar starting at `at`; returns it and the index after its closing quote. */
function quoted(text: string, at: number): [string, number] {
  const quote = text[at];
  let out = '';
  let i = at + 1;
  for (;;) {
    const c = text[i];
    if (c === undefined) return giveUp(); // continues on the next line
    if (quote === "'") {
      if (c === "'") {
        if (text[i + 1] !== "'") return [out, i + 1];
        out += "'";
        i += 2;
        continue;
      }
    } else if (c === '"') {
      return [out, i + 1];
    } else if (c === '\\') {
      const e = text[i + 1] ?? '';
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
        continue;
      }
      const plain = ESCAPES[e];
      if (plain === undefined) return giveUp();
      out += plain;
      i += 2;
      continue;
    }
    out += c;
    i += 1;
  }
}

/** Only spaces and perhaps a comment may follow a value on its line. */
function expectEnd(text: string, at: number): void {
  const rest = text.slice(at);
  if (rest.trim() !== '' && !/^\s+#/.test(rest)) giveUp();
}

function isEntryEnd(c: string | undefined): boolean {
  return c === undefined || c === ' ';
}

/** A flow collection (`{...}` or `[...]`) on one line, from `at`; returns it and the index after it. */
/** Resolves `*name` to the anchored value (gives up on an unknown name). */
type AliasOf = (name: string) => unknown;

/** A merge key's value (a mapping, or a list of them) into `map`, where it has no such key yet: the first source wins. */
function mergeInto(map: Record<string, unknown>, value: unknown): void {
  for (const source of Array.isArray(value) ? value : [value]) {
    if (source === null || typeof source !== 'object' || Array.isArray(source)) giveUp();
    const from = source as Record<string, unknown>;
    for (const key in from) if (!Object.hasOwn(map, key)) map[key] = from[key];
  }
}

function flow(text: string, at: number, aliasOf: AliasOf): [unknown, number] {
  const open = text[at];
  const close = open === '{' ? '}' : ']';
  const result: Record<string, unknown> | unknown[] = open === '{' ? {} : [];
  let i = at + 1;
  const skipSpaces = (): void => {
    while (text[i] === ' ') i += 1;
  };
  const item = (): unknown => {
    skipSpaces();
    const c = text[i];
    if (c === '{' || c === '[') {
      const [value, next] = flow(text, i, aliasOf);
      i = next;
      return value;
    }
    if (c === '"' || c === "'") {
      const [value, next] = quoted(text, i);
      i = next;
      return value;
    }
    if (c === '*') {
      const name = /^[\w-]+(?=[ ,\]}]|$)/.exec(text.slice(i + 1))?.[0] ?? giveUp();
      i += 1 + name.length;
      return aliasOf(name);
    }
    const start = i;
    while (i < text.length) {
      const d = text[i];
      if (d === ',' || d === '[' || d === ']' || d === '{' || d === '}') break;
      if (d === ':' && (text[i + 1] === ' ' || text[i + 1] === ',' || text[i + 1] === close)) break;
      if (d === '#' && text[i - 1] === ' ') giveUp();
      i += 1;
    }
    const plain = text.slice(start, i).trim();
    if (plain !== '' && INDICATOR.test(plain)) giveUp();
    return resolvePlain(plain);
  };
  skipSpaces();
  if (text[i] === close) return [result, i + 1];
  // After a merge, the keys written in this map (which win over merged ones) are kept apart.
  let written: Set<string> | undefined;
  for (;;) {
    if (Array.isArray(result)) {
      result.push(item());
    } else {
      const keyStart = text[i];
      const key = item();
      const isQuoted = keyStart === '"' || keyStart === "'";
      if (typeof key !== 'string' || keyStart === '*' || (!isQuoted && key === '')) giveUp();
      skipSpaces();
      if (text[i] !== ':') giveUp();
      i += 1;
      skipSpaces();
      const value = text[i] === ',' || text[i] === close ? null : item();
      if (key === '<<') {
        if (isQuoted || written !== undefined) giveUp(); // a quoted "<<" is an ordinary key to the library; or a second merge
        written = new Set(Object.keys(result));
        mergeInto(result, value);
      } else {
        if (written === undefined ? Object.hasOwn(result, key as string) : written.has(key as string)) giveUp();
        written?.add(key as string);
        result[key as string] = value;
      }
    }
    skipSpaces();
    if (text[i] === ',') {
      i += 1;
      skipSpaces();
      if (text[i] === close) giveUp(); // a trailing comma: leave it to the library
      continue;
    }
    if (text[i] === close) return [result, i + 1];
    return giveUp();
  }
}

/** A value written after `key:` or `- `, to the end of its line. */
function inlineValue(text: string, aliasOf: AliasOf): unknown {
  const c = text[0];
  if (c === '{' || c === '[') {
    const [value, end] = flow(text, 0, aliasOf);
    expectEnd(text, end);
    return value;
  }
  if (c === '"' || c === "'") {
    const [value, end] = quoted(text, 0);
    expectEnd(text, end);
    return value;
  }
  const comment = text.indexOf(' #');
  const plain = (comment === -1 ? text : text.slice(0, comment)).trim();
  if (INDICATOR.test(plain) || plain.includes(': ') || plain.endsWith(':')) giveUp();
  return resolvePlain(plain);
}

/** `key: rest` → [key, rest]; undefined when the line is no mapping entry. */
function splitEntry(text: string): [string, string] | undefined {
  if (text[0] === '"' || text[0] === "'") {
    const [key, end] = quoted(text, 0);
    if (text[end] !== ':') return undefined; // a quoted scalar, not a key
    // A quoted "<<" is an ordinary key to the library, not a merge.
    if (!isEntryEnd(text[end + 1]) || key === '<<') return giveUp();
    const rest = text.slice(end + 1).trim();
    return [key, rest.startsWith('#') ? '' : rest];
  }
  let colon = text.indexOf(':');
  while (colon !== -1 && !isEntryEnd(text[colon + 1])) colon = text.indexOf(':', colon + 1);
  if (colon === -1) return undefined;
  const key = text.slice(0, colon).trim();
  if (key === '' || INDICATOR.test(key) || key.includes(' #') || typeof resolvePlain(key) !== 'string') giveUp();
  const rest = text.slice(colon + 1).trim();
  return [key, rest.startsWith('#') ? '' : rest];
}

function isSeqItem(text: string): boolean {
  return text[0] === '-' && isEntryEnd(text[1]);
}

// Anchor names of letters, digits, '_' and '-' only (what yaml.stringify writes); any other leaves it to the library.
const ANCHOR = /^&([\w-]+)(?: +|$)/;
const ALIAS = /^\*([\w-]+)(?: +#.*)?$/;

class Reader {
  private at = 0;
  /** Anchored values by name: an alias is the same object, as the library's toJS makes it. */
  private readonly anchors = new Map<string, unknown>();
  aliases = 0;
  constructor(private readonly lines: Line[]) {}

  document(): unknown {
    const first = this.lines[0];
    if (first === undefined) return null;
    const value = this.block(first.indent);
    if (this.at < this.lines.length) giveUp();
    return value;
  }

  /** The block collection starting at the current line, whose indent is `indent`. */
  private block(indent: number): unknown {
    const line = this.lines[this.at] as Line;
    if (line.indent !== indent) giveUp();
    return isSeqItem(line.text) ? this.sequence(indent) : this.mapping(indent);
  }

  /** After `key:` or `-` with nothing else on the line: a nested block, or null. */
  private nested(indent: number, seqAllowedAtSameIndent: boolean): unknown {
    const next = this.lines[this.at];
    if (next !== undefined && next.indent > indent) return this.block(next.indent);
    if (seqAllowedAtSameIndent && next !== undefined && next.indent === indent && isSeqItem(next.text)) return this.sequence(indent);
    return null;
  }

  /** What follows `key:` or `- `: perhaps an anchor, then an alias, a value on the line, or a nested block. */
  private value(rest: string, indent: number, seqAllowedAtSameIndent: boolean): unknown {
    let text = rest;
    let anchor: string | undefined;
    if (text[0] === '&') {
      const match = ANCHOR.exec(text) ?? giveUp();
      anchor = match[1] as string;
      text = text.slice(match[0].length);
      if (text.startsWith('#')) text = '';
    }
    let value: unknown;
    if (text === '') value = this.nested(indent, seqAllowedAtSameIndent);
    else if (text[0] === '*') value = this.alias(text);
    else value = inlineValue(text, this.aliasOf);
    if (anchor !== undefined) {
      if (this.anchors.has(anchor)) giveUp(); // a redefined anchor: leave the scoping to the library
      this.anchors.set(anchor, value);
    }
    return value;
  }

  private alias(text: string): unknown {
    return this.aliasOf((ALIAS.exec(text) ?? giveUp())[1] as string);
  }

  private readonly aliasOf: AliasOf = (name) => {
    if (!this.anchors.has(name)) giveUp();
    this.aliases += 1;
    return this.anchors.get(name);
  };

  private mapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    // After a merge, the keys written in this map (which win over merged ones) are kept apart.
    let written: Set<string> | undefined;
    for (let line = this.lines[this.at]; line !== undefined && line.indent === indent && !isSeqItem(line.text); line = this.lines[this.at]) {
      const entry = splitEntry(line.text);
      if (entry === undefined) return giveUp();
      const [key, rest] = entry;
      this.at += 1;
      if (key === '<<') {
        if (written !== undefined) giveUp(); // a second merge key
        written = new Set(Object.keys(map));
        mergeInto(map, this.value(rest, indent, true));
        continue;
      }
      if (written === undefined ? Object.hasOwn(map, key) : written.has(key)) giveUp();
      written?.add(key);
      map[key] = this.value(rest, indent, true);
    }
    this.expectDedent(indent);
    return map;
  }

  private sequence(indent: number): unknown[] {
    const list: unknown[] = [];
    for (let line = this.lines[this.at]; line !== undefined && line.indent === indent && isSeqItem(line.text); line = this.lines[this.at]) {
      const rest = line.text.slice(1).trimStart();
      if (rest === '' || rest.startsWith('#') || rest[0] === '&' || rest[0] === '*') {
        this.at += 1;
        list.push(this.value(rest.startsWith('#') ? '' : rest, indent, false));
      } else if (isSeqItem(rest) || splitEntry(rest) !== undefined) {
        // `- key: value` or `- - x`: a collection whose first line starts after the dash.
        this.lines[this.at] = { indent: indent + (line.text.length - rest.length), text: rest };
        list.push(this.block(indent + (line.text.length - rest.length)));
      } else {
        this.at += 1;
        list.push(inlineValue(rest, this.aliasOf));
      }
    }
    this.expectDedent(indent);
    return list;
  }

  /** A collection ends at a line less indented; one more indented here is a continuation line. */
  private expectDedent(indent: number): void {
    const next = this.lines[this.at];
    if (next !== undefined && next.indent > indent) giveUp();
  }
}

/** Whitespace to trim() that is not whitespace to YAML, and a CR that ends no line. */
const UNICODE_SPACE = /[\v\f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]|\r(?!\n)/;

/**
 * The document's value, or undefined when it is not plain YAML (the library then reads it).
 * `aliases` counts the aliases used: their values are shared, as the library shares them.
 */
export function parsePlainYaml(source: string): { value: unknown; aliases: number } | undefined {
  // The reader trims with String.prototype.trim, which takes these for spaces too; YAML does not.
  if (source.includes('\t') || UNICODE_SPACE.test(source)) return undefined;
  const lines: Line[] = [];
  let started = false;
  for (const raw of source.split('\n')) {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const body = text.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    if (!started && text === '---') {
      started = true;
      continue;
    }
    started = true;
    if (text.startsWith('---') || text.startsWith('...') || text.startsWith('%')) return undefined;
    lines.push({ indent: text.length - body.length, text: body.trimEnd() });
  }
  try {
    const reader = new Reader(lines);
    const value = reader.document();
    return { value, aliases: reader.aliases };
  } catch (error) {
    if (error instanceof NotPlain) return undefined;
    throw error;
  }
}
