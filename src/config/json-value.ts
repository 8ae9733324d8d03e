/**
 * Task arguments must survive the trip Python's json module makes: only plain JSON values, and no
 * object that kombu >= 5.3 would decode as a typed value (`{"__type__": …, "__value__": …}`,
 * celery-protocol.md §6), which workers fail on.
 */
import type * as z from 'zod';

const MAX_DEPTH = 100;

/** Describes the first value in `value` that is not faithful JSON, or undefined if all is well. */
export function findJsonProblem(
  value: unknown,
  path: (string | number)[] = [],
  depth = 0,
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
          const problem = findJsonProblem(value[i], [...path, i], depth + 1);
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
        return {
          path,
          message:
            'an object with exactly the keys "__type__" and "__value__" is decoded by kombu >= 5.3 as a typed value and fails on the worker; rename or add a key',
        };
      }
      for (const key of keys) {
        const problem = findJsonProblem((value as Record<string, unknown>)[key], [...path, key], depth + 1);
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
