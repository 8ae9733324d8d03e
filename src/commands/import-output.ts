/** What every `beat import` source ends with: the config to stdout or --out, the notes and a summary on stderr. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

/** Where the config goes, and the summary and notes on stderr. */
export function writeImported(io: Io, out: string | undefined, text: string, entries: number, notes: readonly string[]): ExitCode {
  for (const note of notes) io.err(note);
  if (out === undefined) io.out(text);
  else {
    try {
      writeFileSync(resolve(io.cwd, out), text);
    } catch (error) {
      throw new BeatError(ErrorCode.ImportInput, `beat import: cannot write ${shown(out)}: ${errorMessage(error)}`, { cause: error });
    }
  }
  const left =
    notes.length === 0 ? '' : `; ${notes.length} note${notes.length === 1 ? '' : 's'} above: what the config does not carry over`;
  io.err(`beat import: ${entries} entr${entries === 1 ? 'y' : 'ies'}${out === undefined ? '' : ` written to ${out}`}${left}`);
  return ExitCode.Ok;
}
