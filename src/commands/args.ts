/**
 * Argument parsing on node:util's parseArgs, with errors that name the command and point to --help.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { readInstantWithOffset } from '../time/zone.js';
import { BeatError, ECHO_MAX_CHARS, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { closest } from '../config/keys.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export type ParsedCommandArgs<O extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>
>;

export function parseCommandArgs<O extends OptionSpec>(command: string, argv: string[], options: O, positionals = 0): ParsedCommandArgs<O> {
  let parsed: ParsedCommandArgs<O>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals > 0 });
  } catch (error) {
    // Node quotes the offending option in single quotes; it is user text like any other.
    const why = errorMessage(error)
      .replace(/^TypeError \[[A-Z_]+\]: /, '')
      .replace(/'([^']*)'/g, (quoted, text: string) => (text.length > ECHO_MAX_CHARS ? shown(text) : quoted));
    const renamed = renamedOption(error, options);
    if (renamed !== undefined)
      throw new BeatError(
        ErrorCode.Usage,
        `beat ${command}: --${renamed.old} is spelt --${renamed.now}, as in every command that takes it. See 'beat ${command} --help'.`,
      );
    const hint = optionHint(error, options);
    throw new BeatError(ErrorCode.Usage, `beat ${command}: ${why}.${hint ? ` ${hint}` : ''} See 'beat ${command} --help'.`);
  }
  if (parsed.positionals.length > positionals) {
    throw new BeatError(
      ErrorCode.Usage,
      `beat ${command}: unexpected argument ${shown(parsed.positionals[positionals] ?? '')}. See 'beat ${command} --help'.`,
    );
  }
  return parsed;
}

/** Options once spelt otherwise by one command, each with the one spelling every command takes now. */
const RENAMED: Readonly<Record<string, string>> = { 'time-zone': 'timezone' };

/** An unknown option that is an old spelling of one the command takes. */
function renamedOption(error: unknown, options: OptionSpec): { old: string; now: string } | undefined {
  if ((error as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return undefined;
  const old = /^Unknown option '--([^'=]*)/.exec(errorMessage(error))?.[1];
  const now = old === undefined ? undefined : RENAMED[old];
  return old === undefined || now === undefined || !(now in options) ? undefined : { old, now };
}

/** For an unknown option, the closest one the command takes: `Did you mean "--count"?`. */
function optionHint(error: unknown, options: OptionSpec): string {
  if ((error as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return '';
  const given = /^Unknown option '(-{1,2}[^'=]*)/.exec(errorMessage(error))?.[1];
  if (given === undefined || !given.startsWith('--')) return '';
  const hint = closest(given.slice(2), Object.keys(options));
  return hint === undefined ? '' : `Did you mean "--${hint}"?`;
}

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
