/**
 * Argument parsing on node:util's parseArgs, with errors that name the command and point to --help.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { BeatError, ErrorCode, errorMessage } from '../errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export type ParsedCommandArgs<O extends OptionSpec> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>>;

export function parseCommandArgs<O extends OptionSpec>(command: string, argv: string[], options: O, positionals = 0): ParsedCommandArgs<O> {
  let parsed: ParsedCommandArgs<O>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals > 0 });
  } catch (error) {
    throw new BeatError(ErrorCode.Usage, `beat ${command}: ${errorMessage(error).replace(/^TypeError \[[A-Z_]+\]: /, '')}. See 'beat ${command} --help'.`);
  }
  if (parsed.positionals.length > positionals) {
    throw new BeatError(ErrorCode.Usage, `beat ${command}: unexpected argument "${parsed.positionals[positionals] ?? ''}". See 'beat ${command} --help'.`);
  }
  return parsed;
}

/** A whole number within bounds, or a usage error naming the option. */
export function parseCount(command: string, option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new BeatError(ErrorCode.Usage, `beat ${command}: ${option} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** An ISO-8601 instant; an offset is required, because the entries may live in different zones. */
export function parseInstant(command: string, option: string, text: string): number {
  const ms = ISO_WITH_OFFSET.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new BeatError(
      ErrorCode.Usage,
      `beat ${command}: ${option} must be an ISO-8601 instant with an offset, such as 2026-03-08T00:00:00-05:00 or 2026-03-08T05:00:00Z, got "${text}"`,
    );
  }
  return ms;
}
