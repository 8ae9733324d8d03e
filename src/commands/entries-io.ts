/**
 * `beat entries import FILE` and `beat entries export`: many runtime entries at once, as a config
 * file holds them. An import is one write, all or nothing; an export is YAML that `beat check`
 * takes as a config file and `beat entries import` takes back.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BeatError, ErrorCode, errorMessage, problemsInline, shown } from '../base/errors.js';
import { renderImportedConfig } from '../importers/render.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { EntryWrite } from '../redis/entry-store.js';
import { formatInstant } from '../time/zone.js';
import { parseCommandArgs } from './args.js';
import { CONFIG_HELP } from './config-args.js';
import { NOTE_HELP, REDIS_HELP, noteOption, redisOptions, withControl } from './control-open.js';
import type { Control } from './control-open.js';
import { checkEntries, entriesOf, readEntryFile } from './entry-files.js';
import type { EntryInput, EntryFile } from './entry-files.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

export const ENTRIES_IMPORT_HELP = `Usage: beat entries import FILE [--config PATH] [--broker URL] [--prune] [--note TEXT]

Writes every entry of FILE into the runtime store in one write: all of them, or, when any is
wrong, none (exit 2, every problem named with its path and, in YAML, its line). FILE (YAML or
JSON) holds either a mapping of entry names to entries, or a whole config file, whose beatSchedule
is imported (its top-level timezone goes to the entries that name none; its other settings are
not imported, and are listed). Existing entries of the same names are replaced.

Options:
${CONFIG_HELP}
${REDIS_HELP}
      --prune         also delete the runtime entries FILE does not hold (the store becomes FILE)
${NOTE_HELP}
  -h, --help          show this help
`;

export const ENTRIES_EXPORT_HELP = `Usage: beat entries export [--config PATH] [--broker URL] [--output FILE]

Writes every runtime entry as a config file (YAML: the deployment's timezone and a beatSchedule)
that 'beat check' accepts and 'beat entries import' takes back. Entries the scheduler cannot run
(written by hand or by another version) are left out and listed on stderr.

Options:
${CONFIG_HELP}
${REDIS_HELP}
  -o, --output FILE   write it there (default: stdout)
  -h, --help          show this help
`;

/**
 * Checks `entries` as a config file's (every problem at once, from `source`, at `base` and with the
 * lines `file` knows), then writes them in one write; `prune` deletes the stored names not among
 * them. Prints what happened.
 */
export async function writeEntries(
  io: Io,
  control: Control,
  entries: readonly EntryInput[],
  options: { source: string; base?: readonly string[]; file?: EntryFile; prune?: boolean; note?: string | undefined },
): Promise<void> {
  checkFileEntries(control.config, entries, options);
  const writes: EntryWrite[] = entries.map(({ name, entry }) => ({ op: 'put', name, entry }));
  if (options.prune === true) {
    const keep = new Set(entries.map((e) => e.name));
    for (const stored of await control.store.list()) if (!keep.has(stored.name)) writes.push({ op: 'delete', name: stored.name });
  }
  if (writes.length === 0) {
    io.out('nothing to write: no entries');
    return;
  }
  const result = await control.store.write(writes, { nowMs: io.now(), source: options.source, audit: control.audit(options.note) });
  const counts = new Map<string, number>();
  for (const outcome of result.outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  const parts = ['created', 'updated', 'unchanged', 'deleted'].filter((o) => counts.has(o)).map((o) => `${counts.get(o)} ${o}`);
  io.out(`${parts.join(', ')}; deployment ${control.config.name}, store version ${result.version}`);
}

/** Every problem of entries from a file (or an importer), with the config file's names refused. */
export function checkFileEntries(
  config: ResolvedConfig,
  entries: readonly EntryInput[],
  options: { source: string; base?: readonly string[]; file?: EntryFile },
): void {
  const locate = options.file?.locate;
  const staticNames = new Set(config.entries.map((e) => e.name));
  checkEntries(options.source, entries, { base: options.base ?? [], ...(locate ? { locate } : {}), staticNames });
}

export async function entriesImportCommand(argv: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'entries import',
    argv,
    { ...redisOptions, ...noteOption, prune: { type: 'boolean' } },
    1,
  );
  if (values.help) {
    io.out(ENTRIES_IMPORT_HELP);
    return ExitCode.Ok;
  }
  const path = positionals[0];
  if (path === undefined)
    throw new BeatError(
      ErrorCode.Usage,
      "beat entries import: which file? Usage: beat entries import FILE. See 'beat entries import --help'.",
    );
  const file = await readEntryFile('entries import', io.cwd, path);
  let found: ReturnType<typeof entriesOf> | undefined;
  const precheck = (config: ResolvedConfig): void => {
    found = entriesOf(file, config.timezone);
    checkFileEntries(config, found.entries, { source: file.source, base: found.base, file });
  };
  return withControl(
    io,
    'entries import',
    values,
    async (control) => {
      const { entries, base, ignored } = found ?? entriesOf(file, control.config.timezone);
      if (ignored.length > 0)
        io.err(
          `beat entries import: ${file.source}: settings other than beatSchedule and timezone are not imported: ${ignored.join(', ')}`,
        );
      await writeEntries(io, control, entries, { source: file.source, base, file, prune: values.prune === true, note: values.note });
      return ExitCode.Ok;
    },
    precheck,
  );
}

export async function entriesExportCommand(argv: string[], io: Io): Promise<ExitCode> {
  const { values } = parseCommandArgs('entries export', argv, { ...redisOptions, output: { type: 'string', short: 'o' } });
  if (values.help) {
    io.out(ENTRIES_EXPORT_HELP);
    return ExitCode.Ok;
  }
  return withControl(io, 'entries export', values, async (control) => {
    const [stored, version] = await Promise.all([control.store.list(), control.store.version()]);
    const beatSchedule: Record<string, unknown> = {};
    for (const e of stored) {
      const problems =
        e.problems ??
        (control.config.entries.some((f) => f.name === e.name)
          ? [{ path: 'name', message: 'the name is taken by a config-file entry; rename one of them' }]
          : undefined);
      if (problems === undefined) beatSchedule[e.name] = e.entry;
      else io.err(`beat entries export: left out ${shown(e.name)}, which does not run: ${problemsInline(problems)}`);
    }
    const header = [
      `Runtime entries of deployment ${control.config.name} (store version ${version}), exported by \`beat entries export\` at ${formatInstant(io.now(), 'UTC')}.`,
      'beat check takes this file as a config; beat entries import takes it back.',
    ];
    const text = renderImportedConfig({ timezone: control.config.timezone, beatSchedule }, header, values.output ?? '<stdout>');
    const n = Object.keys(beatSchedule).length;
    if (values.output === undefined) io.out(text);
    else {
      try {
        writeFileSync(resolve(io.cwd, values.output), text);
      } catch (error) {
        throw new BeatError(ErrorCode.ImportInput, `beat entries export: cannot write ${shown(values.output)}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
    }
    io.err(`beat entries export: ${n} entr${n === 1 ? 'y' : 'ies'}${values.output === undefined ? '' : ` written to ${values.output}`}`);
    return ExitCode.Ok;
  });
}
