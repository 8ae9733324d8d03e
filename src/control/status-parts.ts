/**
 * The parts of a status (`/status`, `beat status`, the dashboard's entries) read each on its own:
 * a key of the deployment that holds another type, or a value tsbeat never writes (something else
 * wrote it: RedisWrongType, RedisGarbled, whose messages name the key and its repair), costs the
 * part it belongs to, shown empty with the refusal among the status's warnings, and never the
 * status of every entry. Any other failure (Redis away) fails the status as before.
 */
import { BeatError, ErrorCode } from '../base/errors.js';

const KEY_FAULTS: readonly string[] = [ErrorCode.RedisWrongType, ErrorCode.RedisGarbled];

/** Whether `error` is one key's fault (named, with its repair) rather than Redis's. */
export function isKeyFault(error: unknown): error is BeatError {
  return error instanceof BeatError && KEY_FAULTS.includes(error.code);
}

/** A reader of status parts that adds each key's fault to `warnings` (once) and answers `fallback` for its part. */
export function statusParts(warnings: string[]): <T>(read: Promise<T> | T, fallback: T) => Promise<T> {
  return async (read, fallback) => {
    try {
      return await read;
    } catch (error) {
      if (!isKeyFault(error)) throw error;
      if (!warnings.includes(error.message)) warnings.push(error.message);
      return fallback;
    }
  };
}
