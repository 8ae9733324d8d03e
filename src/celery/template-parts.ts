/**
 * The pieces message templates are made of (message.ts): constant JSON text with named slots
 * between, filled in per run. Also the checks a template's inputs pass once, when compiled.
 */
import type { Options } from '../config/options-schema.js';
import { findJsonProblem } from '../config/json-value.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { quoteJson } from './json-text.js';
import { parseIsoInstant } from './time.js';

/** A value computed at render time; everything else is constant JSON text. */
export type Slot = 'id' | 'eta' | 'expires' | 'scheduledAt' | 'traceparent' | 'group' | SentrySlot | OwnSlot;
/** An entry's own values (message-shape.ts): the same on every run of the entry, different between entries of one shape. */
export type OwnSlot = 'entryName' | 'args' | 'kwargs' | 'argsrepr' | 'kwargsrepr';
/** The slots of an entry with `monitor.sentry` (sentry-headers.ts): empty text in other messages, which have none of them. */
export type SentrySlot = 'sentryCheckInId' | 'sentryStart' | 'sentryHeaders';
/** Constant JSON text at even indexes, slots at odd ones. */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- Slot says which strings are slot names
export type Part = string | Slot;

export type ExpiresSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'relative'; readonly seconds: number; readonly expiration: string }
  | { readonly kind: 'absolute'; readonly iso: string; readonly isoJson: string; readonly atMs: number };

const bigintAsNumber = (_key: string, v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

/**
 * JSON text of a config value. A replacer function makes JSON.stringify several times slower on
 * every value, and only a BigInt (from a JS/TS config) needs one: JSON.stringify throws on a BigInt,
 * so the replacer runs only then.
 */
export function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, bigintAsNumber) ?? 'null';
  }
}

/** `typed`: whether kombu's typed values pass (args and kwargs; not headers: see findJsonProblem). */
export function refuseNonJson(entry: string, what: string, value: unknown, typed = true): void {
  const problem = findJsonProblem(value, [], 0, typed);
  if (problem === undefined) return;
  const at = problem.path.length === 0 ? what : `${what}.${problem.path.join('.')}`;
  throw new BeatError(ErrorCode.MessageInvalid, `entry "${entry}": ${at}: ${problem.message}`);
}

export function compileExpires(entry: string, expires: Options['expires']): ExpiresSpec {
  if (expires === undefined) return { kind: 'none' };
  if (typeof expires === 'number') {
    // Producer.publish: str(int(seconds * 1000)).
    return { kind: 'relative', seconds: expires, expiration: String(Math.trunc(expires * 1000)) };
  }
  const atMs = parseIsoInstant(expires);
  if (atMs === undefined) {
    throw new BeatError(
      ErrorCode.MessageInvalid,
      `entry "${entry}": options.expires ${JSON.stringify(expires)} is not an ISO-8601 date-time`,
    );
  }
  return { kind: 'absolute', iso: expires, isoJson: quoteJson(expires), atMs };
}

/** Folds `[key, part]` pairs into JSON-object parts, merging neighbouring constants. */
export function objectParts(fields: readonly (readonly [string, Field])[]): Part[] {
  const parts: Part[] = [];
  let text = '{';
  fields.forEach(([key, value], i) => {
    text += `${i === 0 ? '' : ','}${json(key)}:`;
    if (typeof value === 'string') {
      parts.push(text, value);
      text = '';
    } else text += json(value.constant);
  });
  parts.push(`${text}}`);
  return parts;
}

export const c = (constant: unknown): { readonly constant: unknown } => ({ constant });
/** A field's value: a render-time slot or a constant. */
export type Field = Part | { readonly constant: unknown };

/** Python's dict.update: an existing key keeps its place and takes the new value; new keys go last. */
export function withCustomHeaders(
  fields: (readonly [string, Field])[],
  custom: Readonly<Record<string, unknown>> | undefined,
): (readonly [string, Field])[] {
  if (custom === undefined) return fields;
  const out = [...fields];
  for (const [key, value] of Object.entries(custom)) {
    const at = out.findIndex(([k]) => k === key);
    if (at === -1) out.push([key, c(value)]);
    else out[at] = [key, c(value)];
  }
  return out;
}
