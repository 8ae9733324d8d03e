/**
 * `argsrepr` / `kwargsrepr`: a port of Celery's `saferepr` (celery/utils/saferepr.py), the
 * streaming, truncating repr that `as_task_v2` applies with a 1024-character budget. Workers only
 * log it, but the golden test compares it with Python beat's, so the port follows the original
 * token by token, quirks included:
 * - strings are always single-quoted with only `'` escaped (no other escaping, unlike `repr`);
 * - containers nested 3 levels deep or more print as `[...]` / `{...}`;
 * - when the budget runs out, the current token is dropped, `, ...` is written, then the closing
 *   brackets still pending on the current chain.
 * Values are JSON values as Python's json module decodes them: a JS integer below 1e21 arrives as a
 * Python int, any other number as a float.
 */

type Literal = { readonly kind: 'literal'; readonly value: string; readonly truncate: boolean; readonly direction: -1 | 0 | 1 };
type Key = { readonly kind: 'key'; readonly value: string };
type Quoted = { readonly kind: 'quoted'; readonly value: string };
type Token = Literal | Key | Quoted | string;

const lit = (value: string, truncate: boolean, direction: -1 | 0 | 1): Literal => ({ kind: 'literal', value, truncate, direction });
const DICT_START = lit('{', false, 1);
const DICT_KVSEP = lit(': ', true, 0);
const DICT_END = lit('}', false, -1);
const LIST_START = lit('[', false, 1);
const LIST_END = lit(']', false, -1);
const LIST_SEP = lit(', ', true, 0);
const TUPLE_START = lit('(', false, 1);
const TUPLE_END = lit(')', false, -1);

/** Marks an args array that Python holds as a tuple (beat turns empty args into `()`). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

function isLiteral(x: unknown): x is Literal {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'literal';
}
function isKey(x: unknown): x is Key {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'key';
}

/** Length in code points, as Python's `len(str)`. */
function pyLen(s: string): number {
  return /[\uD800-\uDFFF]/.test(s) ? Array.from(s).length : s.length;
}

/** celery.utils.text.truncate: cut at maxlen, back to the last space, then add '...'. */
function truncate(s: string, maxlen: number | undefined): string {
  if (maxlen === undefined || maxlen === 0 || s.length < maxlen) return s;
  const chars = Array.from(s);
  if (chars.length < maxlen) return s;
  const head = chars.slice(0, maxlen).join('');
  const space = head.lastIndexOf(' ');
  return `${space === -1 ? head : head.slice(0, space)}...`;
}

/** Python's `str(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16. */
export function pyFloat(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa = '0', exponent = '0'] = n.toExponential().split('e');
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  const e = Number(exponent);
  if (e >= -4 && e < 16) {
    if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
    const int = digits.slice(0, e + 1).padEnd(e + 1, '0');
    const frac = digits.slice(e + 1);
    return `${sign}${int}.${frac === '' ? '0' : frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** What Python prints for a JSON number after `json.loads(JSON.stringify(n))`. */
export function pyNumber(n: number): string {
  // JSON.stringify writes NaN/Infinity as null, integers below 1e21 as digits (a Python int).
  if (!Number.isFinite(n)) return 'None';
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  return pyFloat(n);
}

function* chainList(items: readonly unknown[]): Generator<unknown> {
  for (let i = 0; i < items.length; i += 1) {
    yield items[i];
    if (i < items.length - 1) yield LIST_SEP;
  }
}

function* chainDict(map: Readonly<Record<string, unknown>>): Generator<unknown> {
  const keys = Object.keys(map);
  for (let i = 0; i < keys.length; i += 1) {
    const k = keys[i] ?? '';
    yield { kind: 'key', value: k } satisfies Key;
    yield DICT_KVSEP;
    yield map[k];
    if (i < keys.length - 1) yield LIST_SEP;
  }
}

function* chain(...parts: Iterable<unknown>[]): Generator<unknown> {
  for (const part of parts) yield* part;
}

/** `reprstream`: yields each token with the iterator it came from (needed for the dangling brackets). */
function* reprStream(stack: Iterator<unknown>[], maxlevels: number): Generator<[Token, Iterator<unknown>]> {
  let level = 0;
  while (stack.length > 0) {
    const it = stack.shift() as Iterator<unknown>;
    // A manual loop: leaving a for-of would close the generator, Python's `break` does not.
    for (let step = it.next(); !step.done; step = it.next()) {
      const val = step.value;
      if (isLiteral(val)) {
        level += val.direction;
        yield [val, it];
      } else if (isKey(val)) {
        yield [val, it];
      } else if (val === null || val === undefined) {
        yield ['None', it];
      } else if (typeof val === 'boolean') {
        yield [val ? 'True' : 'False', it];
      } else if (typeof val === 'number') {
        yield [pyNumber(val), it];
      } else if (typeof val === 'bigint') {
        yield [val.toString(), it];
      } else if (typeof val === 'string') {
        yield [{ kind: 'quoted', value: val }, it];
      } else {
        let start: Literal;
        let end: Literal;
        let items: Iterable<unknown>;
        if (val instanceof PyTuple) {
          // Python writes a 1-tuple as `(x,)`.
          [start, end, items] = [TUPLE_START, val.items.length === 1 ? lit(',)', false, -1) : TUPLE_END, chainList(val.items)];
        } else if (Array.isArray(val)) {
          [start, end, items] = [LIST_START, LIST_END, chainList(val)];
        } else if (typeof val === 'object') {
          [start, end, items] = [DICT_START, DICT_END, chainDict(val as Record<string, unknown>)];
        } else {
          yield [String(val), it];
          continue;
        }
        if (maxlevels > 0 && level >= maxlevels) {
          yield [`${start.value}...${end.value}`, it];
          continue;
        }
        stack.push(chain([start], items, [end], { [Symbol.iterator]: () => it }));
        break;
      }
    }
  }
}

/** Celery's `saferepr(value, maxlen, maxlevels)`. */
export function saferepr(value: unknown, maxlen?: number, maxlevels = 3): string {
  let budget = maxlen;
  const out: string[] = [];
  const stack: Iterator<unknown>[] = [[value][Symbol.iterator]()];
  for (const [token, it] of reprStream(stack, maxlevels)) {
    if (budget !== undefined && budget <= 0) {
      out.push(', ...');
      // Only the brackets still pending on this chain are written (Python's dangling parens).
      for (let step = it.next(); !step.done; step = it.next()) {
        if (isLiteral(step.value) && !step.value.truncate) out.push(step.value.value);
      }
      break;
    }
    let text: string;
    if (typeof token === 'string') text = truncate(token, budget);
    else if (token.kind === 'literal') text = token.value;
    else if (token.kind === 'key') text = saferepr(token.value, budget, maxlevels);
    else text = `'${truncate(token.value, budget).replaceAll("'", "\\'")}'`;
    out.push(text);
    if (budget !== undefined) budget -= pyLen(text);
  }
  return out.join('');
}

/**
 * `argsrepr` as beat produces it: beat hands args over as a list, and `as_task_v2` replaces empty
 * args with `()`.
 */
export function argsRepr(args: readonly unknown[], maxlen: number): string {
  return saferepr(args.length === 0 ? new PyTuple([]) : args, maxlen);
}

/** `argsrepr` of a signature's apply_async (a canvas's first task): a Signature holds its args as a tuple. */
export function signatureArgsRepr(args: readonly unknown[], maxlen: number): string {
  return saferepr(new PyTuple(args), maxlen);
}

export function kwargsRepr(kwargs: Readonly<Record<string, unknown>>, maxlen: number): string {
  return saferepr(kwargs, maxlen);
}
