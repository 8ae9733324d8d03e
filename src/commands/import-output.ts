/** What every `beat import` source ends with: the config to stdout or --out, the notes and a summary on stderr. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import type { OptionHelps } from './command-spec.js';
import { withControl } from './control-open.js';
import { checkFileEntries, writeEntries } from './entries-io.js';
import { entriesOf } from './entry-files.js';

/** The options of every `beat import` source for writing into the runtime store instead of a file. */
export const intoStoreOptions = {
  'into-store': {
    type: 'boolean',
    help: `write the entries into the runtime store of the deployment --config names
      (all or nothing; existing entries of the same names are replaced)`,
  },
  config: { type: 'string', short: 'c', value: 'PATH', help: "with --into-store: the deployment's config file (as for beat entries)" },
  broker: { type: 'string', short: 'b', value: 'URL', help: 'with --into-store: its Redis (default: as for beat entries)' },
} as const satisfies OptionHelps;

/**
 * `--into-store`: the imported config's entries go straight into the runtime store, checked as
 * `beat entries import` checks a file, all or nothing; its settings are listed, not written.
 */
export async function importIntoStore(
  io: Io,
  command: string,
  values: { config?: string | undefined; broker?: string | undefined },
  imported: Record<string, unknown>,
  notes: readonly string[],
): Promise<ExitCode> {
  const source = `beat ${command}`;
  for (const note of notes) io.err(note);
  let found: ReturnType<typeof entriesOf> | undefined;
  return withControl(
    io,
    command,
    values,
    async (control) => {
      const { entries, base, ignored } = found ?? entriesOf({ source, value: imported }, control.config.timezone);
      const settings = ignored.filter((k) => k !== 'broker');
      if (settings.length > 0)
        io.err(`${source}: settings the runtime store does not hold (put them in the config file if they matter): ${settings.join(', ')}`);
      await writeEntries(io, control, entries, { source, base });
      return ExitCode.Ok;
    },
    (config) => {
      found = entriesOf({ source, value: imported }, config.timezone);
      checkFileEntries(config, found.entries, { source, base: found.base, nowMs: io.now() });
    },
  );
}

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
