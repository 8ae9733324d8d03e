/**
 * Task arguments must survive the trip Python's json module makes: only plain JSON values. An
 * object with exactly the keys `__type__` and `__value__` is what kombu >= 5.3 decodes as a typed
 * value (kombu/utils/json.py object_hook, celery-protocol.md §6): those of the types kombu registers
 * (what `kombu.utils.json.dumps` writes of a datetime, date, time, Decimal, UUID or bytes, and what
 * DatabaseScheduler reads from django rows) pass through unchanged and reach the worker as that
 * type; any other `__type__` raises "Unsupported type" there, so it is refused here.
 */
import type * as z from 'zod';

const MAX_DEPTH = 100;

/**
 * kombu's decoders (kombu 5.3 to 5.6, _decoders and _register_default_types) by marker, with the
 * `__value__` each takes: the text its encoder writes (isoformat(), str(), utf-8), or for a UUID
 * `{"hex": …}` (uuid.UUID(**value); kombu 5.3 adds "version").
 */
const KOMBU_TYPES: Readonly<Record<string, 'text' | 'uuid'>> = {
  datetime: 'text',
  date: 'text',
  time: 'text',
  decimal: 'text',
  bytes: 'text',
  base64: 'text',
  uuid: 'uuid',
};

/**
 * What uuid.UUID(**value) takes, as kombu's encoders write it: `{"hex"}` (5.4 on), or
 * `{"hex", "version"}` (5.3: `o.version`, None for a UUID outside RFC 4122's variant).
 */
function isUuidValue(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const { hex, version, ...rest } = value as Record<string, unknown>;
  if (typeof hex !== 'string' || Object.keys(rest).length > 0) return false;
  return version === undefined || version === null || (Number.isInteger(version) && (version as number) >= 1 && (version as number) <= 5);
}

/** What is wrong with a kombu typed value `{"__type__", "__value__"}`, or undefined when kombu decodes its shape. */
function typedValueProblem(type: unknown, value: unknown): string | undefined {
  const kind = typeof type === 'string' && Object.hasOwn(KOMBU_TYPES, type) ? KOMBU_TYPES[type] : undefined;
  if (kind === undefined) {
    return `an object with exactly the keys "__type__" and "__value__" is decoded by kombu >= 5.3 as a typed value, and ${JSON.stringify(type)} is not one it knows (datetime, date, time, decimal, uuid, bytes, base64): it fails on the worker; rename or add a key`;
  }
  if (kind === 'text' && typeof value !== 'string') return `a kombu ${String(type)} value must have a string "__value__"`;
  if (kind === 'uuid' && !isUuidValue(value)) {
    return 'a kombu uuid value must have "__value__": {"hex": "<32 hex digits>"}, and at most "version" (null or 1 to 5) beside it';
  }
  return undefined;
}

/**
 * Describes the first value in `value` that is not faithful JSON, or undefined if all is well.
 * `typed`: whether kombu's typed values pass (task args and kwargs); in headers none does.
 */
export function findJsonProblem(
  value: unknown,
  path: (string | number)[] = [],
  depth = 0,
  typed = true,
): { path: (string | number)[]; message: string } | undefined {
  if (depth > MAX_DEPTH) return { path, message: `nested more than ${MAX_DEPTH} levels deep` };
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      if (!Number.isFinite(value)) return { path, message: `${value} is not a JSON number (JSON has no NaN or Infinity)` };
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        return { path, message: `${value} is beyond 2^53 and would not arrive exactly; pass it as a string` };
      }
      return undefined;
    case 'bigint':
      if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      return { path, message: `${value} is beyond 2^53 and would not arrive exactly; pass it as a string` };
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i += 1) {
          const problem = findJsonProblem(value[i], [...path, i], depth + 1, typed);
          if (problem) return problem;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        const kind = value.constructor?.name ?? 'object';
        return { path, message: `a ${kind} is not a JSON value; use a string, number, boolean, null, array or plain object` };
      }
      const keys = Object.keys(value);
      if (keys.length === 2 && keys.includes('__type__') && keys.includes('__value__')) {
        if (!typed) {
          return {
            path,
            message:
              'an object with exactly the keys "__type__" and "__value__" is decoded by kombu >= 5.3 as a typed value, which tsbeat does not send in headers; rename or add a key',
          };
        }
        const envelope = value as Record<string, unknown>;
        const message = typedValueProblem(envelope['__type__'], envelope['__value__']);
        return message === undefined ? undefined : { path, message };
      }
      for (const key of keys) {
        const problem = findJsonProblem((value as Record<string, unknown>)[key], [...path, key], depth + 1, typed);
        if (problem) return problem;
      }
      return undefined;
    }
    default:
      return { path, message: `a ${typeof value} is not a JSON value` };
  }
}

/** zod refinement: reports the first problem of an args array or kwargs object at its exact path. */
export function checkCeleryJson(value: unknown, ctx: z.RefinementCtx): void {
  const problem = findJsonProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message, input: undefined });
}

/** zod refinement of custom headers: plain JSON, no kombu typed value (see findJsonProblem). */
export function checkHeaderJson(value: unknown, ctx: z.RefinementCtx): void {
  const problem = findJsonProblem(value, [], 0, false);
  if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message, input: undefined });
}

/** How deep and how large a runtime entry's args and kwargs may be (config `entryLimits`). */
export interface JsonLimits {
  /** Levels of arrays and objects inside args (or kwargs): `[[1]]` is 2. */
  readonly maxDepth: number;
  /** The size of its JSON text, in bytes (UTF-16 code units of strings, as measured here). */
  readonly maxBytes: number;
}

/**
 * The first way `value` breaks `limits`, measured without recursion and stopping as soon as a limit
 * is passed: a 5,000-deep array or 3 MB of kwargs costs what it takes to find out, not what it
 * would cost to walk, copy or render. The size is that of its JSON text (keys, quotes and
 * separators included); an escaped character counts once.
 */
export function jsonLimitProblem(value: unknown, limits: JsonLimits): { path: (string | number)[]; message: string } | undefined {
  // Each item names its container and key, not a copy of its path: the path is built only for a problem.
  const stack: WalkItem[] = [{ value, depth: 0, parent: undefined, key: '' }];
  let bytes = 0;
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (v !== null && typeof v === 'object') {
      const depth = item.depth + 1;
      if (depth > limits.maxDepth) {
        return { path: pathOf(item), message: `nested more than ${limits.maxDepth} levels deep (entryLimits.maxDepth)` };
      }
      // The container's own bytes are counted before its items are queued: a million-item array is
      // refused before a million items are pushed.
      if (Array.isArray(v)) {
        bytes += 2 + Math.max(0, v.length - 1);
        if (bytes > limits.maxBytes) return tooLarge(limits);
        for (let i = v.length - 1; i >= 0; i -= 1) stack.push({ value: v[i], depth, parent: item, key: i });
      } else {
        const keys = Object.keys(v);
        bytes += 2 + Math.max(0, keys.length - 1);
        for (const key of keys) bytes += key.length + 3;
        if (bytes > limits.maxBytes) return tooLarge(limits);
        for (const key of keys) stack.push({ value: (v as Record<string, unknown>)[key], depth, parent: item, key });
      }
    } else {
      bytes += typeof v === 'string' ? v.length + 2 : String(v).length;
      if (bytes > limits.maxBytes) return tooLarge(limits);
    }
  }
  return undefined;
}

/** A value met by jsonLimitProblem's walk: its container's item (undefined for the value walked) and its key there. */
interface WalkItem {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: WalkItem | undefined;
  readonly key: string | number;
}

function pathOf(item: WalkItem): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: WalkItem | undefined = item; at?.parent !== undefined; at = at.parent) path.push(at.key);
  return path.reverse();
}

function tooLarge(limits: JsonLimits): { path: (string | number)[]; message: string } {
  return {
    path: [],
    message: `larger than ${limits.maxBytes} bytes of JSON (entryLimits.maxArgsBytes): pass a reference (an id, a URL) instead of the data`,
  };
}
