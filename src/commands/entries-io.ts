/**
 * `beat entries import FILE` and `beat entries export`: many runtime entries at once, as a config
 * file holds them (YAML, JSON) or as JSON Lines (entry-lines.ts). An import checks every entry
 * before it writes the first, then writes them in chunks (each one atomic write, one version): one
 * write of them all would hold Redis up for seconds on a large import and hand the leader every
 * change at once. An export reads a page of entries at a time and writes it out before the next.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { selectorArg, selectorOption } from './selector-args.js';
import { storedLabels } from '../core/labels.js';
import { selects } from '../core/label-selector.js';
import { resolve } from 'node:path';
import { BeatError, ConfigError, ErrorCode, errorMessage, problemsInline, shown } from '../base/errors.js';
import { renderImportedConfig } from '../importers/render.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { EntryWrite, PreparedWrite, WriteResult } from '../redis/entry-store.js';
import { DEFAULTS } from '../base/defaults.js';
import { chunksOf } from '../base/chunks.js';
import type { ConfigProblem } from '../base/errors.js';
import { auditCap } from '../redis/audit-log.js';
import { queueNameContextOf } from '../config/queue-names.js';
import { scheduleCostContextOf } from '../config/schedule-cost.js';
import { formatInstant } from '../time/zone.js';
import { takenByFileProblems } from '../runtime/name-holders.js';
import { leaf } from './command-spec.js';
import { noteOption, redisOptions, withControl } from './control-open.js';
import type { Control } from './control-open.js';
import { checkEntries, entriesOf, entryChecker, readEntryFile, toYaml } from './entry-files.js';
import { entryLine, isEntryLinesFile, isVerbatimLine, readLine, textLineChunks, verbatimEntry } from './entry-lines.js';
import type { EntryInput, EntryFile } from './entry-files.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

export const entriesImportSpec = leaf({
  name: 'entries import',
  summary: 'write many entries from a file, all or nothing',
  listed: [{ label: 'import FILE [--prune]', summary: 'write many entries from a file, all or nothing' }],
  positionals: { usage: 'FILE', most: 1 },
  about: `Writes every entry of FILE into the runtime store. Every entry is checked before the first is
written: when any is wrong, none is written (exit 2, every problem named with its path and, in
YAML, its line). FILE is one of:
  *.yaml, *.yml (or any other name)  a mapping of entry names to entries, or a whole config file,
                      whose beatSchedule is imported (its top-level timezone goes to the entries
                      that name none; its other settings are not imported, and are listed)
  *.json              the same, as JSON
  *.ndjson, *.jsonl   JSON Lines: one {"name": …, "entry": {…}} per line, as 'beat entries export
                      --format ndjson' writes; read a chunk at a time (the file is read twice:
                      to check, then to write), so its size is not held in memory. Use it for
                      hundreds of thousands of entries: a YAML or JSON document is read whole.
Existing entries of the same names are replaced. The entries are written ${DEFAULTS.ioChunk.toLocaleString('en')} to a
write, each write all or nothing, in the file's order: should Redis fail in the middle, the
entries before are written and none after; importing the file again completes it (what is
already there is "unchanged").
`,
  options: {
    ...redisOptions,
    prune: { type: 'boolean', help: 'also delete the runtime entries FILE does not hold (the store becomes FILE)' },
    ...noteOption,
  },
  run: (args, io) => entriesImportCommand(args.values, args.positionals, io),
});

export const entriesExportSpec = leaf({
  name: 'entries export',
  summary: "every entry as a config file's beatSchedule ('beat check' takes it)",
  listed: [{ label: 'export [--output FILE]', summary: "every entry as a config file's beatSchedule ('beat check' takes it)" }],
  about: `Writes every runtime entry, in name order, a page at a time (memory does not grow with the
number of entries). YAML (the default) is a config file: the deployment's timezone and a
beatSchedule, that 'beat check' accepts and 'beat entries import' takes back. ndjson is one
{"name": …, "entry": {…}} per line, which 'beat entries import' streams back; an entry without a
timezone runs in the timezone of the deployment it is imported into. Entries the scheduler cannot
run (written by hand or by another version) are left out and listed on stderr.
`,
  options: {
    ...redisOptions,
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write it there (default: stdout)' },
    format: {
      type: 'string',
      value: 'yaml|ndjson',
      help: 'yaml or ndjson (default: ndjson when FILE ends in .ndjson or .jsonl, else yaml)',
    },
    ...selectorOption,
  },
  run: (args, io) => entriesExportCommand(args.values, io),
});

/** What an import did, summed over its writes. */
class WriteTally {
  private readonly counts = new Map<string, number>();
  writes = 0;
  version: number | undefined;

  add(result: WriteResult): void {
    this.writes += 1;
    this.version = result.version;
    for (const outcome of result.outcomes) this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }

  /** `3 created, 1 deleted; deployment d, store version 7[, in 2 writes]`. */
  said(deployment: string): string {
    const parts = ['created', 'updated', 'unchanged', 'deleted'].filter((o) => this.counts.has(o)).map((o) => `${this.counts.get(o)} ${o}`);
    const writes = this.writes > 1 ? `, in ${this.writes} writes` : '';
    return `${parts.join(', ')}; deployment ${deployment}, store version ${this.version ?? 0}${writes}`;
  }
}

/**
 * Checks `entries` as a config file's (every problem at once, from `source`, at `base` and with the
 * lines `file` knows), then writes them; `prune` deletes the stored names not among them. Prints
 * what happened.
 */
export async function writeEntries(
  io: Io,
  control: Control,
  entries: readonly EntryInput[],
  options: { source: string; base?: readonly string[]; file?: EntryFile; prune?: boolean; note?: string | undefined },
): Promise<void> {
  checkFileEntries(control.config, entries, { ...options, nowMs: io.now() });
  await writeChecked(io, control, checkedChunks(entries), { ...options, total: entries.length });
}

/** Entries to write, and whether they were checked as the store would check them (see RedisEntryStore.write). */
interface WriteChunk {
  /** With `json`: the entry's canonical JSON as the file holds it (`entry` is then undefined). */
  readonly entries: readonly (EntryInput & { readonly json?: string })[];
  readonly checked: boolean;
}

/** Entries checked whole (checkFileEntries), in chunks of a write each. */
function* checkedChunks(entries: readonly EntryInput[]): Generator<WriteChunk> {
  for (const chunk of chunksOf(entries)) yield { entries: chunk, checked: true };
}

/**
 * Writes chunks of entries already checked, one write each, then (with `prune`) deletes the stored
 * names that none of them had, a chunk at a time.
 */
async function writeChecked(
  io: Io,
  control: Control,
  chunks: Iterable<WriteChunk> | AsyncIterable<WriteChunk>,
  options: { source: string; prune?: boolean; note?: string | undefined; total: number },
): Promise<void> {
  const tally = new WriteTally();
  const keep = options.prune === true ? new Set<string>() : undefined;
  const audit = control.audit(options.note);
  // The audit stream keeps its last maxEvents events: the puts before those are not recorded (an
  // import larger than the cap would write events only for the stream to trim them at once).
  let unrecorded = Math.max(0, options.total - auditCap(audit.maxEvents));
  const prepare = (writes: EntryWrite[], checked = false): PreparedWrite => {
    const unaudited = Math.min(unrecorded, writes.length);
    unrecorded -= unaudited;
    return control.store.prepare(writes, { nowMs: io.now(), source: options.source, audit, unaudited, checked });
  };
  const write = async (writes: EntryWrite[]): Promise<void> => {
    tally.add(await control.store.apply(prepare(writes)));
  };
  // One write in flight, and the next chunk read, checked and encoded meanwhile: Redis runs the
  // script on its own core while this one prepares the next. A write is sent once the one before
  // it has succeeded, so the writes apply in the file's order and a failure leaves the chunks
  // before it written and none after (importing the file again completes it).
  let pending: Promise<void> | undefined;
  for await (const { entries: chunk, checked } of chunks) {
    if (chunk.length === 0) continue;
    if (keep !== undefined) for (const e of chunk) keep.add(e.name);
    let prepared: PreparedWrite;
    try {
      prepared = prepare(
        chunk.map(({ name, entry, json }) => (json === undefined ? { op: 'put', name, entry } : { op: 'put', name, entry, json })),
        checked,
      );
    } catch (error) {
      // A chunk that changed since it was checked, and is wrong now: the one before it completes first.
      await pending;
      throw error;
    }
    await pending;
    pending = control.store.apply(prepared).then((result) => tally.add(result));
    // Awaited above or below; until then a failure must not count as unhandled.
    pending.catch(() => undefined);
  }
  await pending;
  if (keep !== undefined) {
    // As for the puts: the deletes the capped stream would trim at once are not recorded.
    unrecorded = Math.max(0, (await control.store.count()) - keep.size - auditCap(audit.maxEvents));
    let deletes: EntryWrite[] = [];
    for await (const page of control.store.pages()) {
      for (const stored of page) if (!keep.has(stored.name)) deletes.push({ op: 'delete', name: stored.name });
      // Deleted after the page is read: the next page starts after its last name, deleted or not.
      if (deletes.length >= DEFAULTS.ioChunk) {
        await write(deletes);
        deletes = [];
      }
    }
    if (deletes.length > 0) await write(deletes);
  }
  io.out(tally.writes === 0 ? 'nothing to write: no entries' : tally.said(control.config.name));
}

/** Problems of a streamed file past this many are counted, not listed. */
const LISTED_PROBLEMS = 1000;

/**
 * A JSON Lines file, checked a chunk at a time (nothing written when any line is wrong), then read
 * again and written a chunk at a time.
 */
async function importLines(io: Io, control: Control, path: string, options: { prune: boolean; note: string | undefined }): Promise<void> {
  const check = entryChecker({
    staticNames: new Set(control.config.entries.map((e) => e.name)),
    queueNames: queueNameContextOf(control.config),
    schedules: scheduleCostContextOf(control.config, io.now()),
  });
  const problems: ConfigProblem[] = [];
  // Each chunk checked: the second pass writes a chunk of the same text (digest) unchecked, and
  // takes the entries of a chunk whose lines are all verbatim (isVerbatimLine) from its text.
  const seen: { readonly digest: string; readonly verbatim: boolean }[] = [];
  let count = 0;
  let lines = 0;
  for await (const { lines: chunk, digest } of textLineChunks('entries import', io.cwd, path)) {
    lines += chunk.length;
    let verbatim = true;
    for (const { text, line } of chunk) {
      const read = readLine(text, line);
      const found = read.input === undefined ? [{ path: '', message: read.problem, line }] : check(read.input.name, read.input.entry, line);
      if (verbatim && (found.length > 0 || read.input === undefined || !isVerbatimLine(text, read.input))) verbatim = false;
      for (const problem of found) {
        count += 1;
        if (problems.length < LISTED_PROBLEMS) problems.push(problem);
      }
    }
    seen.push({ digest, verbatim });
  }
  if (count > problems.length) problems.push({ path: '', message: `and ${count - problems.length} more problems (fix these first)` });
  if (problems.length > 0) throw new ConfigError(path, problems, ErrorCode.EntryInvalid);
  async function* inputs(): AsyncGenerator<WriteChunk> {
    let n = 0;
    // A chunk whose text changed since it was checked (the file was edited meanwhile) is checked by the store as it is written.
    for await (const { lines: chunk, digest } of textLineChunks('entries import', io.cwd, path)) {
      const checked = seen[n]?.digest === digest;
      const verbatim = checked && seen[n]?.verbatim === true;
      n += 1;
      yield {
        entries: verbatim
          ? chunk.map(({ text }) => verbatimEntry(text))
          : chunk.flatMap(({ text, line }) => readLine(text, line).input ?? []),
        checked,
      };
    }
  }
  await writeChecked(io, control, inputs(), { source: path, ...options, total: lines });
}

/** Every problem of entries from a file (or an importer), with the config file's names refused. */
export function checkFileEntries(
  config: ResolvedConfig,
  entries: readonly EntryInput[],
  options: { source: string; nowMs: number; base?: readonly string[]; file?: EntryFile },
): void {
  const locate = options.file?.locate;
  const staticNames = new Set(config.entries.map((e) => e.name));
  checkEntries(options.source, entries, {
    base: options.base ?? [],
    ...(locate ? { locate } : {}),
    staticNames,
    queueNames: queueNameContextOf(config),
    schedules: scheduleCostContextOf(config, options.nowMs),
  });
}

async function entriesImportCommand(
  values: { config?: string; broker?: string; prune?: boolean; note?: string },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const path = positionals[0];
  if (path === undefined)
    throw new BeatError(
      ErrorCode.Usage,
      "beat entries import: which file? Usage: beat entries import FILE. See 'beat entries import --help'.",
    );
  if (isEntryLinesFile(path))
    return withControl(io, 'entries import', values, async (control) => {
      await importLines(io, control, path, { prune: values.prune === true, note: values.note });
      return ExitCode.Ok;
    });
  const file = await readEntryFile('entries import', io.cwd, path);
  let found: ReturnType<typeof entriesOf> | undefined;
  const precheck = (config: ResolvedConfig): void => {
    found = entriesOf(file, config.timezone);
    checkFileEntries(config, found.entries, { source: file.source, base: found.base, file, nowMs: io.now() });
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
      // Checked by the precheck (before Redis was asked): written as they are.
      if (found === undefined) checkFileEntries(control.config, entries, { source: file.source, base, file, nowMs: io.now() });
      await writeChecked(io, control, checkedChunks(entries), {
        source: file.source,
        prune: values.prune === true,
        note: values.note,
        total: entries.length,
      });
      return ExitCode.Ok;
    },
    precheck,
  );
}

async function entriesExportCommand(
  values: { config?: string; broker?: string; output?: string; format?: string; selector?: string },
  io: Io,
): Promise<ExitCode> {
  const selector = selectorArg('entries export', values.selector);
  const format = values.format ?? (values.output !== undefined && isEntryLinesFile(values.output) ? 'ndjson' : 'yaml');
  if (format !== 'yaml' && format !== 'ndjson')
    throw new BeatError(
      ErrorCode.Usage,
      `beat entries export: --format ${shown(format)}: use yaml or ndjson. See 'beat entries export --help'.`,
    );
  return withControl(io, 'entries export', values, async (control) => {
    const out = exportTarget(io, values.output);
    try {
      const version = await control.store.version();
      if (format === 'yaml') {
        const header = [
          `Runtime entries of deployment ${control.config.name} (store version ${version}), exported by \`beat entries export\` at ${formatInstant(io.now(), 'UTC')}.`,
          'beat check takes this file as a config; beat entries import takes it back.',
        ];
        // The head a whole export would have, checked as a config by beat check's parser; then each entry's YAML under beatSchedule.
        const head = renderImportedConfig({ timezone: control.config.timezone, beatSchedule: {} }, header, values.output ?? '<stdout>');
        out.write(head.replace(/beatSchedule: \{\}\n$/, 'beatSchedule:\n'));
      }
      const staticNames = new Set(control.config.entries.map((e) => e.name));
      let n = 0;
      for await (const page of control.store.pages()) {
        const parts: string[] = [];
        for (const e of page) {
          const problems = e.problems ?? takenByFileProblems(e.name, staticNames);
          if (problems !== undefined) {
            io.err(`beat entries export: left out ${shown(e.name)}, which does not run: ${problemsInline(problems)}`);
            continue;
          }
          if (selector !== undefined && !selects(selector, storedLabels(e.entry))) continue;
          n += 1;
          // One entry per dump: a mapping of many would put integer-like names first (JS key order).
          parts.push(format === 'yaml' ? indent(toYaml({ [e.name]: e.entry })) : `${entryLine(e.name, e.entry)}\n`);
        }
        out.write(parts.join(''));
      }
      if (format === 'yaml' && n === 0) out.write('  {}\n');
      out.close();
      io.err(`beat entries export: ${n} entr${n === 1 ? 'y' : 'ies'}${values.output === undefined ? '' : ` written to ${values.output}`}`);
      return ExitCode.Ok;
    } catch (error) {
      out.close();
      throw error;
    }
  });
}

/** Every line two spaces further in (under beatSchedule:); block scalars keep their relative indentation. */
function indent(yaml: string): string {
  return yaml.replace(/^(?=.)/gm, '  ');
}

/** Where an export goes: the file (written as it goes), or stdout. */
function exportTarget(io: Io, output: string | undefined): { write(text: string): void; close(): void } {
  if (output === undefined) return { write: (text) => text !== '' && io.out(text), close: () => undefined };
  let fd: number;
  const fail = (error: unknown): BeatError =>
    new BeatError(ErrorCode.ImportInput, `beat entries export: cannot write ${shown(output)}: ${errorMessage(error)}`, { cause: error });
  try {
    fd = openSync(resolve(io.cwd, output), 'w');
  } catch (error) {
    throw fail(error);
  }
  let open = true;
  return {
    write: (text) => {
      try {
        writeSync(fd, text);
      } catch (error) {
        throw fail(error);
      }
    },
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
