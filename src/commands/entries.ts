/**
 * `beat entries`: the runtime entries of a deployment (src/redis/entry-store.ts), kept in its Redis
 * beside the config file's, changed while beat runs. The config file says where Redis is, the
 * deployment, and the names runtime entries may not take.
 */
import { selectorArg, selectorOption } from './selector-args.js';
import { storedLabels } from '../core/labels.js';
import { selects } from '../core/label-selector.js';
import { BeatError, ErrorCode, problemsInline, shown } from '../base/errors.js';
import { ownerOf } from '../control/entry-plan.js';
import type { ConfigProblem } from '../base/errors.js';
import { closest } from '../base/did-you-mean.js';
import { parseEntryDefinition } from '../config/entry-definition.js';
import { takenByFileProblems, unknownCalendarProblems } from '../runtime/name-holders.js';
import { entryScopeOf, resolveEntry } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { describeSchedule } from '../core/schedule.js';
import type { StoredEntry } from '../redis/entry-store.js';
import { formatInstant } from '../time/zone.js';
import { noteOption, redisOptions, withControl } from './control-open.js';
import { entriesExportSpec, entriesImportSpec } from './entries-io.js';
import { entriesSetSpec } from './entries-set.js';
import { toYaml } from './entry-files.js';
import { DEFAULTS } from '../base/defaults.js';
import { ExitCode, terminalColumns } from './io.js';
import type { Io } from './io.js';
import { leaf } from './command-spec.js';
import type { Command } from './command-spec.js';
import { renderTable, wrapLines } from './table.js';
import { relativeText } from './relative-time.js';

const listSpec = leaf({
  name: 'entries list',
  summary: 'every runtime entry: task, schedule in words, enabled, last change',
  listed: [{ label: 'list [--wide] [--json]', summary: 'every runtime entry: task, schedule in words, enabled, last change' }],
  about: `Lists the runtime entries: name, task, schedule in words, time zone, enabled, when last changed.
Entries the scheduler does not run (invalid, or a name the config file has taken since) are listed
below the table with their problems. The lines fit the terminal ($COLUMNS, else the terminal's
width, else ${DEFAULTS.terminalColumns}): UPDATED relative to now ("3 m ago"), long cells cut with "…", the problems
wrapped; --wide prints every cell and line whole, UPDATED in ISO 8601.
`,
  options: {
    ...redisOptions,
    wide: { type: 'boolean', short: 'w', help: 'every cell and line whole; without it, the lines fit the terminal' },
    json: {
      type: 'boolean',
      help: `one JSON object per entry in an array: name, owner, entry, version, created,
        updated, schedule (in words), timezone, enabled, problems`,
    },
    ...selectorOption,
  },
  run: (args, io) => listCommand(args.values, io),
});

const getSpec = leaf({
  name: 'entries get',
  summary: "one entry, as YAML a config file (or 'entries set --file') takes",
  listed: [{ label: 'get NAME [--json]', summary: "one entry, as YAML a config file (or 'entries set --file') takes" }],
  positionals: { usage: 'NAME', most: 1 },
  about: `Prints one runtime entry as YAML under its name, as a config file's beatSchedule holds it, with
its version, creation and last change as comments: edit it and write it back with
'beat entries set --file FILE'. Exit 2 when there is no such entry.
`,
  options: { ...redisOptions, json: { type: 'boolean', help: '{name, entry, version, created, updated, problems?}' } },
  run: (args, io) => getCommand(args.values, args.positionals, io),
});

const deleteSpec = leaf({
  name: 'entries delete',
  summary: 'delete entries; they stop at once',
  listed: [{ label: 'delete NAME... [--keep-history]', summary: 'delete entries; they stop at once' }],
  positionals: { usage: 'NAME...', most: Number.MAX_SAFE_INTEGER },
  about: `Deletes runtime entries, all in one write: the leader stops them at once and drops their queued
runs. Their last-run state goes too, so an entry created again under the name starts afresh, and
so do their run history, pending outcome and failing mark; --keep-history keeps them (the new
entry continues from the last run). A name that is not in the
store is refused (exit 2, nothing deleted) unless --missing-ok.
`,
  options: {
    ...redisOptions,
    'keep-history': { type: 'boolean', help: "keep the entries' last-run state and run history" },
    'missing-ok': { type: 'boolean', help: 'names not in the store are not an error' },
    ...noteOption,
  },
  run: (args, io) => deleteCommand(args.values, args.positionals, io),
});

const iso = (ms: number): string => formatInstant(ms, 'UTC');

interface ListedEntry {
  readonly stored: StoredEntry;
  /** Why the scheduler does not run it, if it does not. */
  readonly problems?: readonly ConfigProblem[];
  readonly schedule?: string;
  readonly timezone?: string;
  readonly enabled?: boolean;
}

/** A stored entry as the scheduler sees it: resolved in the config's zone, or with its problems. */
function listed(stored: StoredEntry, config: ResolvedConfig): ListedEntry {
  if (stored.problems !== undefined) return { stored, problems: stored.problems };
  const taken = takenByFileProblems(stored.name, new Set(config.entries.map((e) => e.name)));
  if (taken !== undefined) return { stored, problems: taken };
  const parsed = parseEntryDefinition(stored.entry);
  if (!parsed.ok) return { stored, problems: parsed.problems };
  const unknown = unknownCalendarProblems(parsed.entry.exclude, config.calendars);
  if (unknown !== undefined) return { stored, problems: unknown };
  const entry = resolveEntry(stored.name, parsed.entry, entryScopeOf(config), 'store', config.alerts, config.calendars);
  return { stored, schedule: describeSchedule(entry.schedule, entry.timezone), timezone: entry.timezone, enabled: entry.enabled };
}

async function listCommand(
  values: { config?: string; broker?: string; json?: boolean; wide?: boolean; selector?: string },
  io: Io,
): Promise<ExitCode> {
  const selector = selectorArg('entries list', values.selector);
  return withControl(io, 'entries list', values, async (control) => {
    let entries = (await control.store.list()).map((s) => listed(s, control.config));
    if (selector !== undefined) {
      // An entry that does not run has no labels to select by.
      entries = entries.filter((e) => e.problems === undefined && selects(selector, storedLabels(e.stored.entry)));
      if (entries.length === 0) {
        io.err(`beat entries list: no runtime entry matches -l ${shown(selector.text)}`);
        if (values.json) io.out('[]');
        return ExitCode.Ok;
      }
    }
    if (values.json) {
      io.out(
        JSON.stringify(
          entries.map(({ stored, problems, schedule, timezone, enabled }) => ({
            name: stored.name,
            owner: ownerOf(stored.entry) ?? null,
            entry: stored.entry ?? null,
            version: stored.version,
            created: iso(stored.createdMs),
            updated: iso(stored.updatedMs),
            schedule: schedule ?? null,
            timezone: timezone ?? null,
            enabled: enabled ?? null,
            ...(problems === undefined ? {} : { problems: problems.map(({ path, message }) => ({ path, message })) }),
          })),
        ),
      );
      return ExitCode.Ok;
    }
    if (entries.length === 0) {
      io.out(
        wrapLines(
          `no runtime entries in deployment ${control.config.name}; add one with beat entries set NAME --task T --schedule S`,
          terminalColumns(io),
        ),
      );
      return ExitCode.Ok;
    }
    const taskOf = (entry: unknown): string => {
      const task = entry !== null && typeof entry === 'object' ? (entry as Record<string, unknown>)['task'] : undefined;
      return typeof task === 'string' ? task : '-';
    };
    const columns = values.wide === true ? undefined : terminalColumns(io);
    io.out(
      renderTable(
        ['NAME', 'TASK', 'SCHEDULE', 'TIMEZONE', 'ENABLED', 'UPDATED', 'OWNER'],
        entries.map((e) => [
          e.stored.name,
          taskOf(e.stored.entry),
          e.schedule ?? 'DOES NOT RUN (see below)',
          e.timezone ?? '-',
          e.enabled === undefined ? '-' : e.enabled ? 'yes' : 'no',
          e.stored.updatedMs === 0 ? '-' : columns === undefined ? iso(e.stored.updatedMs) : relativeText(e.stored.updatedMs, io.now()),
          ownerOf(e.stored.entry) ?? '-',
        ]),
        columns,
        // The schedule in words is what the table is for: the task, the name and the owner give way first.
        [
          { column: 1, keep: 16 },
          { column: 0, keep: 20 },
          { column: 6, keep: 10 },
          { column: 2, keep: 30 },
        ],
      ),
    );
    const bad = entries.filter((e) => e.problems !== undefined);
    if (bad.length > 0) {
      const lines = [`${bad.length} entr${bad.length === 1 ? 'y does' : 'ies do'} not run:`];
      for (const e of bad) lines.push(`  ${e.stored.name}: ${problemsInline(e.problems ?? [])}`);
      io.out(columns === undefined ? lines.join('\n') : wrapLines(lines.join('\n'), columns));
    }
    return ExitCode.Ok;
  });
}

async function getCommand(
  values: { config?: string; broker?: string; json?: boolean },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const name = positionals[0];
  if (name === undefined)
    throw new BeatError(ErrorCode.Usage, "beat entries get: which entry? Usage: beat entries get NAME. See 'beat entries get --help'.");
  return withControl(io, 'entries get', values, async (control) => {
    const stored = await control.store.get(name);
    if (stored === undefined) throw await notInStore('entries get', name, control.config, () => control.store.list());
    const { problems } = listed(stored, control.config);
    if (values.json) {
      io.out(
        JSON.stringify({
          name,
          entry: stored.entry ?? null,
          version: stored.version,
          created: iso(stored.createdMs),
          updated: iso(stored.updatedMs),
          ...(problems === undefined ? {} : { problems: problems.map(({ path, message }) => ({ path, message })) }),
        }),
      );
      return ExitCode.Ok;
    }
    const comments = [
      `runtime entry of deployment ${control.config.name}: version ${stored.version}, created ${iso(stored.createdMs)}, updated ${iso(stored.updatedMs)}`,
      ...(problems === undefined ? [] : [`DOES NOT RUN: ${problemsInline(problems)}`]),
    ];
    io.out(`${comments.map((c) => `# ${c}`).join('\n')}\n${toYaml({ [name]: stored.entry ?? null })}`);
    return ExitCode.Ok;
  });
}

/** The error for a name the store does not hold: a config-file entry's name says so, else the closest stored name. */
async function notInStore(command: string, name: string, config: ResolvedConfig, list: () => Promise<StoredEntry[]>): Promise<BeatError> {
  if (config.entries.some((e) => e.name === name)) {
    return new BeatError(
      ErrorCode.UnknownEntry,
      `beat ${command}: "${name}" is an entry of the config file, not a runtime entry; change it in the file (and reload)`,
    );
  }
  const names = (await list()).map((e) => e.name);
  const hint = closest(name, names);
  return new BeatError(
    ErrorCode.UnknownEntry,
    `beat ${command}: no runtime entry named ${shown(name)} in deployment ${config.name}${hint ? ` (did you mean "${hint}"?)` : names.length === 0 ? ' (it has none)' : ''}; see beat entries list`,
  );
}

async function deleteCommand(
  values: { config?: string; broker?: string; 'keep-history'?: boolean; 'missing-ok'?: boolean; note?: string },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  if (positionals.length === 0)
    throw new BeatError(
      ErrorCode.Usage,
      "beat entries delete: which entries? Usage: beat entries delete NAME... See 'beat entries delete --help'.",
    );
  return withControl(io, 'entries delete', values, async (control) => {
    const names = [...new Set(positionals)];
    const staticOnes = names.filter((n) => control.config.entries.some((e) => e.name === n));
    if (staticOnes.length > 0) {
      throw new BeatError(
        ErrorCode.EntryIsStatic,
        `beat entries delete: ${staticOnes.map((n) => shown(n)).join(', ')} ${staticOnes.length === 1 ? 'is an entry of the config file, not a runtime entry' : 'are entries of the config file, not runtime entries'}; remove ${staticOnes.length === 1 ? 'it' : 'them'} from the file (and reload); nothing was deleted`,
      );
    }
    if (values['missing-ok'] !== true) {
      const missing: string[] = [];
      for (const n of names) if ((await control.store.get(n)) === undefined) missing.push(n);
      if (missing.length > 0) {
        throw new BeatError(
          ErrorCode.UnknownEntry,
          `beat entries delete: no runtime entr${missing.length === 1 ? 'y' : 'ies'} named ${missing.map((n) => shown(n)).join(', ')} in deployment ${control.config.name}; nothing was deleted (--missing-ok deletes the others); see beat entries list`,
        );
      }
    }
    const result = await control.store.write(
      names.map((name) => ({ op: 'delete', name })),
      {
        nowMs: io.now(),
        keepHistory: values['keep-history'] === true,
        source: 'beat entries delete',
        audit: control.audit(values.note),
      },
    );
    names.forEach((name, i) => io.out(result.outcomes[i] === 'deleted' ? `deleted ${name}` : `${name} was not in the store`));
    return ExitCode.Ok;
  });
}

export const entriesSpec: Command = {
  name: 'entries',
  usage: '<command> [options]',
  about: `The runtime entries of a deployment: kept in its Redis beside the config file's entries, created,
changed and deleted while beat runs (the leader applies a change within a second, without a
reload). Each is what a config file's beatSchedule.<name> holds, checked by the same rules. The
config file (--config) says where Redis is and the deployment; its own entries' names are refused.
`,
  heading: 'Commands',
  commands: [listSpec, getSpec, entriesSetSpec, deleteSpec, entriesImportSpec, entriesExportSpec],
  after: `Bad input exits 2 naming every problem, with nothing written; an unreachable Redis exits 1.
Run 'beat entries <command> --help' for its options.
`,
};
