/**
 * Lists of any size, handled without spreading them into one call. `f(...xs)` puts every element
 * on the call stack: from some tens of thousands of elements (V8's limit depends on the frame) it
 * throws `RangeError: Maximum call stack size exceeded`, and one Redis command with as many
 * arguments holds the server up and builds a reply as large. Every list that can grow with the
 * number of entries goes through these instead; `test/unit/bounded-io.test.ts` fails on a spread
 * into a call in src/ that is not known to be bounded.
 */
import { DEFAULTS } from './defaults.js';

/** `items` in slices of at most `size` (the last shorter), in order. */
export function* chunksOf<T>(items: readonly T[], size: number = DEFAULTS.ioChunk): Generator<T[]> {
  if (!(size >= 1)) throw new RangeError(`chunk size ${size} is not at least 1`);
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/**
 * `read` called once per chunk of `items` (one after the other, so that Redis interleaves other
 * clients between them), its answers joined in order: for commands such as HMGET whose reply is
 * one value per argument.
 */
export async function readInChunks<T, R>(
  items: readonly T[],
  read: (chunk: T[]) => Promise<readonly R[]>,
  size: number = DEFAULTS.ioChunk,
): Promise<R[]> {
  const out: R[] = [];
  for (const chunk of chunksOf(items, size)) pushAll(out, await read(chunk));
  return out;
}

/** Appends every element of `items` to `target`, as `target.push(...items)` would without the stack: returns `target`. */
export function pushAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}

/** The largest of `values` (`empty` when there is none), as `Math.max(...values)` without the stack. */
export function maxOf(values: Iterable<number>, empty = Number.NEGATIVE_INFINITY): number {
  let max = empty;
  let any = false;
  for (const v of values) {
    if (Number.isNaN(v)) return Number.NaN;
    if (!any || v > max) max = v;
    any = true;
  }
  return max;
}

/** A turn of the event loop: the timers, I/O and signals waiting are served before the caller goes on. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What a scan in slices (a generator that yields between them) returns, with a turn of the event loop between its slices. */
export async function drainSliced<T>(scan: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = scan.next();
    if (step.done === true) return step.value;
    await yieldToLoop();
  }
}

/**
 * `f` on each of `items` in order, with a turn of the event loop after every `size` of them: a pass
 * over every entry on the scheduler's process holds the loop for one slice at most.
 */
export async function forEachSliced<T>(items: Iterable<T>, f: (item: T) => void, size: number = DEFAULTS.loopSlice): Promise<void> {
  let n = 0;
  for (const item of items) {
    f(item);
    n += 1;
    if (n % size === 0) await yieldToLoop();
  }
}
