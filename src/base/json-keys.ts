/**
 * The keys of a JSON request body, checked on its text (issue 49). `JSON.parse` keeps the last of
 * duplicate keys without a word (`{"task":"a","task":"b"}` is `b`), so what a reviewer read in a
 * request is not what was stored; and a `__proto__` key becomes an own property that many readers
 * (object spread, `Object.assign`, a message's encoder) drop or treat as the prototype, so it is
 * stored but never sent. Both are refused with the key's path, as are `constructor` and
 * `prototype`, the other names that reach an object's machinery.
 *
 * A scanner rather than a parser of our own or a library: JSON.parse has already said the text is
 * JSON, so one pass that follows strings and brackets is enough, and it allocates a set of keys per
 * object only.
 */

/** Keys no request body may hold, at any depth. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface JsonKeyProblem {
  readonly kind: 'duplicate' | 'forbidden';
  /** `$.entries."nightly".kwargs."__proto__"` for an object key, `[2]` for an array index. */
  readonly path: string;
  readonly key: string;
}

interface Frame {
  readonly array: boolean;
  /** The object's keys so far (objects only). */
  readonly keys: Set<string> | undefined;
  /** The key or index being read. */
  at: string | number;
}

const pathOf = (frames: readonly Frame[]): string =>
  `$${frames.map((f) => (f.array ? `[${String(f.at)}]` : `.${JSON.stringify(f.at)}`)).join('')}`;

/**
 * The first duplicate or forbidden key of `text` (which must be valid JSON), or undefined. A key is
 * compared decoded: `"a"` and `"\u0061"` are one key, as JSON.parse sees them. A scan that stops
 * after every `sliceChars` characters of `text` (a yield), so that its caller can turn the event
 * loop over: a 3.7 MB body held the loop 130 ms in one piece.
 */
export function* jsonKeyScan(text: string, sliceChars: number): Generator<void, JsonKeyProblem | undefined> {
  let pauseAt = sliceChars;
  const frames: Frame[] = [];
  // After a string in an object, whether it was a key (followed by ':') is known at the ':'.
  let lastString: string | undefined;
  for (let i = 0; i < text.length; i += 1) {
    if (i >= pauseAt) {
      yield;
      pauseAt = i + sliceChars;
    }
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i + 1;
      let escaped = false;
      for (i = start; i < text.length; i += 1) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) {
          escaped = true;
          i += 1;
        } else if (d === 0x22) break;
      }
      lastString = escaped ? (JSON.parse(text.slice(start - 1, i + 1)) as string) : text.slice(start, i);
      continue;
    }
    // White space between a key and its ':' keeps the key.
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    const top = frames[frames.length - 1];
    if (c === 0x3a && top !== undefined && !top.array && lastString !== undefined) {
      const key = lastString;
      top.at = key;
      if (FORBIDDEN_KEYS.has(key)) return { kind: 'forbidden', path: pathOf(frames), key };
      if (top.keys?.has(key) === true) return { kind: 'duplicate', path: pathOf(frames), key };
      top.keys?.add(key);
    } else if (c === 0x2c && top !== undefined && top.array) top.at = (top.at as number) + 1;
    else if (c === 0x5b) frames.push({ array: true, keys: undefined, at: 0 });
    else if (c === 0x7b) frames.push({ array: false, keys: new Set(), at: '' });
    else if (c === 0x5d || c === 0x7d) frames.pop();
    lastString = undefined;
  }
  return undefined;
}

/** The problem as an API answer says it: the key, its path and the fix. */
export function jsonKeyMessage(problem: JsonKeyProblem): string {
  return problem.kind === 'duplicate'
    ? `the body holds the key ${JSON.stringify(problem.key)} twice in one object (at ${problem.path}); send each key once`
    : `the body holds the key ${JSON.stringify(problem.key)} (at ${problem.path}), which no request may hold (${[...FORBIDDEN_KEYS].join(', ')}); rename it`;
}
