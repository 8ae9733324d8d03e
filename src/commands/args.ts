/**
 * The values of the commands' arguments (a count, an instant, an entry's name), read with errors
 * that name the command and the option.
 */
import { readInstantWithOffset } from '../time/zone.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { closest } from '../base/did-you-mean.js';

/** A whole number within bounds, or a usage error naming the option. */
export function parseCount(command: string, option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new BeatError(ErrorCode.Usage, `beat ${command}: ${option} must be a whole number from ${min} to ${max}, got ${shown(text)}`);
  }
  return n;
}

/**
 * An ISO-8601 instant; an offset is required, because the entries may live in different zones. A
 * day or time that does not exist (2026-02-30) is refused as clocked schedules refuse it, not
 * rolled over into the next month.
 */
export function parseInstant(command: string, option: string, text: string): number {
  const ms = readInstantWithOffset(text);
  if (ms === 'format')
    throw new BeatError(
      ErrorCode.Usage,
      `beat ${command}: ${option} must be an ISO-8601 instant with an offset, such as 2026-03-08T00:00:00-05:00 or 2026-03-08T05:00:00Z, got ${shown(text)}`,
    );
  if (ms === 'invalid') throw new BeatError(ErrorCode.Usage, `beat ${command}: ${option} ${shown(text)} is not a real date and time`);
  if (ms === 'range') throw new BeatError(ErrorCode.Usage, `beat ${command}: ${option} must be in the years 0001-9999, got ${shown(text)}`);
  return ms;
}

/** The error for an entry name the config does not have: the closest name if one is near, else the first names. */
export function unknownEntryError(command: string, name: string, names: readonly string[], where = 'the config'): BeatError {
  const hint = closest(name, names);
  const listed =
    names.length === 0
      ? `; ${where} ${where.includes(' or ') ? 'have' : 'has'} no entries`
      : `; entries: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`;
  return new BeatError(
    ErrorCode.UnknownEntry,
    `beat ${command}: no entry named ${shown(name)} in ${where}${hint ? `; did you mean "${hint}"?` : listed}`,
  );
}
