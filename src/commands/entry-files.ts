/**
 * Runtime entries read from files and flags as a config file would hold them, checked before
 * anything is written, every problem named with its path and, in YAML, its line: `beat entries set
 * --file`, `beat entries import`, `beat import … --into-store`.
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { BeatError, ConfigError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import { pushAll } from '../base/chunks.js';
import { newEntryNameProblems, parseEntryDefinition, prefixProblems } from '../config/entry-definition.js';
import { formatPath } from '../config/problems.js';
import { queueNameProblems } from '../config/queue-names.js';
import type { QueueNameContext } from '../config/queue-names.js';
import { ScheduleCosts } from '../config/schedule-cost.js';
import type { ScheduleCostContext } from '../config/schedule-cost.js';
import type { LineLocator } from '../config/problems.js';
import { parseYamlConfig, yamlText } from '../config/yaml.js';

/** One entry to write: its name and its definition (a config file's `beatSchedule.<name>`). */
export interface EntryInput {
  readonly name: string;
  readonly entry: unknown;
}

/** A file of entries, read. */
export interface EntryFile {
  /** The file as the user named it. */
  readonly source: string;
  readonly value: unknown;
  readonly locate?: LineLocator;
}

const CONFIG_SCHEDULE_KEYS = ['beatSchedule', 'beat_schedule'] as const;

/** Reads a YAML or JSON file (by its extension; YAML otherwise); a file that is not there or not valid is bad input. */
export async function readEntryFile(command: string, cwd: string, file: string): Promise<EntryFile> {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; check the path' : code === 'EISDIR' ? 'it is a directory' : errorMessage(error);
    throw new BeatError(ErrorCode.ImportInput, `beat ${command}: cannot read ${shown(file)}: ${why}`, { cause: error });
  }
  if (extname(file).toLowerCase() === '.json') {
    try {
      return { source: file, value: JSON.parse(text) as unknown };
    } catch (error) {
      throw new ConfigError(file, [{ path: '', message: `JSON syntax: ${errorMessage(error)}` }], ErrorCode.EntryInvalid);
    }
  }
  try {
    const { value, locate } = await parseYamlConfig(text, file);
    return { source: file, value, locate };
  } catch (error) {
    // The YAML reader's problems (syntax, tags, duplicate keys) with their lines, as bad entry input.
    if (error instanceof ConfigError) throw new ConfigError(error.source, error.problems, ErrorCode.EntryInvalid);
    throw error;
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface EntriesOf {
  readonly entries: readonly EntryInput[];
  /** Where the entries sit in the file (`['beatSchedule']` in a config file, `[]` in a mapping). */
  readonly base: readonly string[];
  /** Settings of a config file that are not imported (everything but its entries, name and timezone). */
  readonly ignored: readonly string[];
}

/**
 * The entries of a file that holds either a mapping name → entry, or a whole config file (its
 * `beatSchedule`). Entries that name no `timezone` get the file's top-level one when it differs from
 * `zone` (the deployment's), so that they run in the zone the file meant.
 */
export function entriesOf(file: EntryFile, zone: string): EntriesOf {
  const { value } = file;
  if (!isMapping(value)) {
    throw new ConfigError(
      file.source,
      [{ path: '', message: 'expected a mapping of entry names to entries, or a config file with beatSchedule', line: file.locate?.([]) }],
      ErrorCode.EntryInvalid,
    );
  }
  const key = CONFIG_SCHEDULE_KEYS.find((k) => Object.hasOwn(value, k));
  if (key === undefined) return { entries: Object.entries(value).map(([name, entry]) => ({ name, entry })), base: [], ignored: [] };
  const schedule = value[key];
  if (!isMapping(schedule)) {
    throw new ConfigError(
      file.source,
      [{ path: key, message: `${key} must be a mapping of entry names to entries`, line: file.locate?.([key]) }],
      ErrorCode.EntryInvalid,
    );
  }
  const fileZone = typeof value['timezone'] === 'string' ? value['timezone'] : undefined;
  const entries = Object.entries(schedule).map(([name, entry]) =>
    fileZone !== undefined && fileZone !== zone && isMapping(entry) && !Object.hasOwn(entry, 'timezone')
      ? { name, entry: { ...entry, timezone: fileZone } }
      : { name, entry },
  );
  const ignored = Object.keys(value).filter((k) => k !== key && k !== 'name' && k !== 'timezone' && !k.startsWith('x-'));
  return { entries, base: [key], ignored };
}

/**
 * Every problem of the entries, as `beat check` would name them (path under `base`, YAML line), and
 * the config file's names, which runtime entries may not take. Throws ConfigError ENTRY_INVALID.
 */
export function checkEntries(
  source: string,
  entries: readonly EntryInput[],
  options: {
    base?: readonly string[];
    locate?: LineLocator;
    staticNames: ReadonlySet<string>;
    queueNames?: QueueNameContext | undefined;
    schedules?: ScheduleCostContext | undefined;
  },
): void {
  const check = entryChecker(options);
  const problems: ConfigProblem[] = [];
  for (const { name, entry } of entries) pushAll(problems, check(name, entry));
  if (problems.length > 0) throw new ConfigError(source, problems, ErrorCode.EntryInvalid);
}

/**
 * The check of one entry after another (a name twice is a problem of the second): what
 * checkEntries does for a whole file, and a streamed import for each line (`line` given). It is
 * the store's whole check (RedisEntryStore.write), queue names included when `queueNames` is given
 * and the schedule's cost (config/schedule-cost.ts) when `schedules` is, so that entries it passed
 * are written without another.
 */
export function entryChecker(options: {
  base?: readonly string[];
  locate?: LineLocator;
  staticNames: ReadonlySet<string>;
  /** The deployment's queue names context (queueNameContextOf): a queue that can only collide is refused. */
  queueNames?: QueueNameContext | undefined;
  /** The deployment's zone, calendars and now: an entry whose next run spends the step budget is refused. */
  schedules?: ScheduleCostContext | undefined;
}): (name: string, entry: unknown, line?: number) => ConfigProblem[] {
  const base = options.base ?? [];
  const seen = new Set<string>();
  const costs = options.schedules === undefined ? undefined : new ScheduleCosts(options.schedules);
  // No closure is made for an entry without problems: the bundle names every arrow it makes
  // (keepNames, Object.defineProperty each time), which cost a streamed import ~2.5 µs an entry.
  return (name, entry, knownLine) => {
    const problems: ConfigProblem[] = [];
    for (const p of newEntryNameProblems(name)) problems.push(placed([...base, name], p.message, knownLine, options.locate));
    if (seen.has(name))
      problems.push(placed([...base, name], 'the same name twice; each entry needs its own name', knownLine, options.locate));
    seen.add(name);
    if (options.staticNames.has(name)) {
      problems.push(
        placed(
          [...base, name],
          'the config file (beatSchedule) defines an entry of this name, and a runtime entry may not take it: choose another name, or remove it from the file first',
          knownLine,
          options.locate,
        ),
      );
    }
    const parsed = parseEntryDefinition(entry);
    if (!parsed.ok) {
      // Checked again with the lines only when wrong: asking the locator builds YAML's document
      // model (tens of seconds and a gigabyte for 100,000 entries), and each lookup walks the mapping.
      const at = [...base, name];
      const located =
        knownLine !== undefined || options.locate !== undefined
          ? parseEntryDefinition(entry, entryLocator(at, knownLine, options.locate))
          : parsed;
      pushAll(problems, prefixProblems(formatPath(at), located.ok ? parsed.problems : located.problems));
    } else {
      if (options.queueNames !== undefined)
        for (const p of queueNameProblems(parsed.entry, options.queueNames))
          problems.push(placed([...base, name, ...p.path], p.message, knownLine, options.locate));
      const costly = costs?.problem(name, entry, parsed.entry);
      if (costly !== undefined) problems.push(placed([...base, name, costly.path], costly.message, knownLine, options.locate));
    }
    return problems;
  };
}

/** A problem at `at`, on the line the file gives (a streamed line's own, or the YAML locator's). */
function placed(
  at: readonly (string | number)[],
  message: string,
  knownLine: number | undefined,
  locate: LineLocator | undefined,
): ConfigProblem {
  const line = knownLine ?? locate?.(at);
  return { path: formatPath(at), message, ...(line === undefined ? {} : { line }) };
}

/** The locator of paths under the entry at `at`: a streamed line's number, or the file's locator. */
function entryLocator(at: readonly string[], knownLine: number | undefined, locate: LineLocator | undefined): LineLocator {
  return (path) => knownLine ?? locate?.([...at, ...path]);
}

/** A value as YAML (block style, long lines kept whole). */
export function toYaml(value: unknown): string {
  return yamlText(value);
}
