/**
 * `beat entries set`: creates or changes one runtime entry, from flags or from a file. Every flag
 * is read as the config file's key of the same name would be; every problem (of the flags and of
 * the entry they make) is named at once, and nothing is written unless all is well.
 */
import { ConfigError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import { parseDuration } from '../config/duration.js';
import { formatPath } from '../config/problems.js';
import { parseYamlConfig } from '../config/yaml.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { scheduleCostContextOf } from '../config/schedule-cost.js';
import type { ScheduleCostContext } from '../config/schedule-cost.js';
import { ISO_DATE_TIME } from '../time/zone.js';
import { BeatError } from '../base/errors.js';
import { redisOptions, withControl } from './control-open.js';
import { leaf } from './command-spec.js';
import type { OptionHelps, ParsedCommandArgs, helpOption } from './command-spec.js';
import type { Control } from './control-open.js';
import { EntryConflictError } from '../redis/entry-store.js';
import { checkEntries, entriesOf, readEntryFile } from './entry-files.js';
import type { EntryInput } from './entry-files.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

const setOptions = {
  ...redisOptions,
  task: { type: 'string', value: 'T', help: 'the Celery task name' },
  chain: { type: 'string', value: 'JSON', help: 'instead of --task: a chain of signatures (docs/canvas.md)' },
  group: { type: 'string', value: 'JSON', help: 'instead of --task: a group of signatures or chains as the whole run' },
  chord: { type: 'string', value: 'JSON', help: 'instead of --task: a chord ({"header": [...], "body": {...}}) as the whole run' },
  link: { type: 'string', value: 'JSON', help: "signatures applied with the run's result on success" },
  'link-error': { type: 'string', value: 'JSON', help: "signatures applied with the failing task's id" },
  schedule: { type: 'string', value: 'S', help: 'the schedule (forms above)' },
  args: { type: 'string', value: 'JSON', help: 'positional arguments' },
  kwargs: { type: 'string', value: 'JSON', help: 'keyword arguments' },
  options: { type: 'string', value: 'JSON', help: 'apply_async options: queue, priority, expires, …' },
  timezone: { type: 'string', value: 'ZONE', help: `the zone of its wall times (default: the config's timezone)` },
  enabled: { type: 'string', value: 'BOOL', help: 'true or false' },
  relative: { type: 'string', value: 'BOOL', help: `true or false (Celery's relative)` },
  'catch-up': { type: 'string', value: 'POLICY', help: 'once, skip or all' },
  'catch-up-window': { type: 'string', value: 'D', help: 'missed slots older than this are dropped (seconds or 10s, 5m, …)' },
  overlap: {
    type: 'string',
    value: 'POLICY',
    help: `allow, skip, bufferOne, bufferAll, cancelOther or terminateOther:
      a slot due while the previous run has not finished (needs
      resultBackend or taskEvents; cancelOther and terminateOther a Redis
      or RabbitMQ broker)`,
  },
  'overlap-timeout': { type: 'string', value: 'D', help: 'a previous run older than this counts as lost' },
  'overlap-buffer': { type: 'string', value: 'N', help: 'bufferAll: slots kept at most (default 100)' },
  'overlap-signal': { type: 'string', value: 'SIG', help: 'terminateOther: the signal sent to the previous run (default SIGTERM)' },
  jitter: { type: 'string', value: 'D', help: 'delays each run by up to this' },
  spread: { type: 'string', value: 'D', help: 'moves every slot by a stable offset below this, hashed from the name' },
  'start-at': { type: 'string', value: 'ISO', help: `no run before this date-time (without an offset: in the entry's zone)` },
  'end-at': { type: 'string', value: 'ISO', help: 'no run at or after it' },
  'max-runs': { type: 'string', value: 'N', help: 'stop after this many scheduled runs' },
  'one-off': { type: 'string', value: 'BOOL', help: 'true: one run (maxRuns 1)' },
  labels: {
    type: 'string',
    value: 'K=V,…',
    help: `its labels, all of them: team=billing,tier=critical (or a JSON object; '' for none),
      Kubernetes' spelling; the -l of status, pause, resume and trigger selects by them`,
  },
  replace: { type: 'boolean', help: 'write only what is given (default: change the keys given)' },
  file: { type: 'string', short: 'f', value: 'FILE', help: 'the entry, from a YAML or JSON file' },
  note: { type: 'string', value: 'TEXT', help: 'why the change is made: kept with it in the audit trail (beat audit)' },
} as const satisfies OptionHelps;

export const entriesSetSpec = leaf({
  name: 'entries set',
  summary: 'create an entry, or change the keys given of one (and more flags)',
  listed: [
    { label: 'set NAME --task T --schedule S', summary: 'create an entry, or change the keys given of one (and more flags)' },
    { label: 'set --file FILE', summary: 'create or replace one entry from a YAML or JSON file' },
  ],
  positionals: { usage: '[NAME]', most: 1 },
  helpColumn: 28,
  about: `Creates the runtime entry NAME, or changes it: the keys given replace those of the stored entry
and the others stay (with --replace the entry becomes exactly what is given). A new entry needs a
task and a schedule. Each value is read as the config file's key of the same name:

  schedule   a number of seconds (30, 0.5), a duration (5m, 1h30m), a crontab line
             ("*/15 * * * *", "@daily": a cron schedule), an ISO date-time with an offset (a
             clocked one), an RFC 5545 rule (FREQ=WEEKLY;BYDAY=MO), or an object form in JSON or
             YAML: '{"crontab": {"minute": 0, "hour": "*/3"}}', '{timedelta: {hours: 1}}'
  args       a JSON array ('[16, 16]'); kwargs and options a JSON object ('{"queue": "reports"}')
  chain      a JSON array of signatures, run one after the other, each given the previous
             result: '[{"task": "proj.fetch"}, {"task": "proj.store", "args": [1]}]'; link
             and link-error too ('[{"task": "proj.alert"}]'); group a JSON array of members
             run in parallel, chord '{"header": [...], "body": {"task": "proj.merge"}}'; see
             docs/canvas.md

A file (YAML or JSON) holds the entry as a config file writes it: under its name
("nightly: {task: …, schedule: …}", as 'beat entries get' prints it) or, with NAME given, the
entry alone ("task: …" and "schedule: …" at the top). It replaces the stored entry whole.

Refused (exit 2, naming every problem, nothing written): a bad value, an unknown key, a name the
config file's entries take. The leader applies the change within a second.
`,
  options: setOptions,
  run: (args, io) => entriesSetCommand(args, io),
});

/** Each flag and the entry key it sets. */
const FLAG_KEYS = {
  task: 'task',
  chain: 'chain',
  group: 'group',
  chord: 'chord',
  link: 'link',
  'link-error': 'linkError',
  schedule: 'schedule',
  args: 'args',
  kwargs: 'kwargs',
  options: 'options',
  timezone: 'timezone',
  enabled: 'enabled',
  relative: 'relative',
  'catch-up': 'catchUp',
  'catch-up-window': 'catchUpWindow',
  overlap: 'overlap',
  'overlap-timeout': 'overlapTimeout',
  'overlap-buffer': 'overlapBuffer',
  'overlap-signal': 'overlapSignal',
  jitter: 'jitter',
  spread: 'spread',
  'start-at': 'startAt',
  'end-at': 'endAt',
  'max-runs': 'maxRuns',
  'one-off': 'oneOff',
  labels: 'labels',
} as const;
type Flag = keyof typeof FLAG_KEYS;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const CRON_LINE = /^(@\w+|(\S+\s+){4,5}\S+)$/;

/**
 * A --schedule text as the value a config file would hold. What is neither a number, a duration,
 * a crontab line, a date-time nor a rule is read as JSON/YAML for the object forms.
 */
export async function scheduleFromText(text: string): Promise<{ value: unknown } | { problem: string }> {
  const t = text.trim();
  if (NUMBER.test(t)) return { value: Number(t) };
  const ms = parseDuration(t);
  if (ms !== undefined) return { value: ms / 1000 };
  if (/^(RRULE:)?FREQ=/i.test(t)) return { value: { rrule: t.replace(/^RRULE:/i, '') } };
  if (ISO_DATE_TIME.test(t)) return { value: { clocked: t } };
  if (!/[{:]/.test(t) && CRON_LINE.test(t)) return { value: { cron: t } };
  try {
    const { value } = await parseYamlConfig(t, '--schedule');
    if (value !== null && typeof value === 'object') return { value };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { problem: `not JSON or YAML (${error.problems.map((p) => p.message).join('; ')}); ${SCHEDULE_FORMS}` };
  }
  return { problem: `${shown(text)} is not a schedule; ${SCHEDULE_FORMS}` };
}

const SCHEDULE_FORMS =
  'give a number of seconds (30), a duration (5m), a crontab line ("0 3 * * *"), an ISO date-time, a FREQ=… rule, or an object such as \'{"crontab": {"minute": 0}}\'';

function jsonFlag(flag: string, text: string, want: 'array' | 'object', example: string): { value: unknown } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON (${errorMessage(error)}); give a JSON ${want} such as ${example} (quote it for the shell)` };
  }
  const isArray = Array.isArray(value);
  const ok = want === 'array' ? isArray : value !== null && typeof value === 'object' && !isArray;
  return ok ? { value } : { problem: `expected a JSON ${want} such as ${example}, got ${shown(text)}` };
}

/**
 * --labels: `team=billing,tier=critical` (each key once), a JSON object, or '' for none. The keys and
 * values are judged by the entry schema, which names the label and the rule.
 */
function labelsFlag(text: string): { value: unknown } | { problem: string } {
  const t = text.trim();
  if (t.startsWith('{')) return jsonFlag('--labels', t, 'object', '\'{"team": "billing"}\'');
  const labels: Record<string, string> = {};
  if (t === '') return { value: labels };
  for (const pair of t.split(',')) {
    const at = pair.indexOf('=');
    if (at < 0)
      return { problem: `${shown(pair.trim())} has no "=": give key=value pairs separated by commas, such as team=billing,tier=critical` };
    const key = pair.slice(0, at).trim();
    if (Object.hasOwn(labels, key)) return { problem: `the label ${shown(key)} is given twice` };
    labels[key] = pair.slice(at + 1).trim();
  }
  return { value: labels };
}

function booleanFlag(text: string): { value: unknown } | { problem: string } {
  if (text === 'true' || text === 'false') return { value: text === 'true' };
  return { problem: `expected true or false, got ${shown(text)}` };
}

/** A flag's text as the value of its key, or its problem. */
async function flagValue(flag: Flag, text: string): Promise<{ value: unknown } | { problem: string }> {
  switch (flag) {
    case 'schedule':
      return scheduleFromText(text);
    case 'args':
      return jsonFlag('--args', text, 'array', "'[16, 16]'");
    case 'kwargs':
      return jsonFlag('--kwargs', text, 'object', '\'{"to": "ops"}\'');
    case 'options':
      return jsonFlag('--options', text, 'object', '\'{"queue": "reports"}\'');
    case 'chain':
    case 'group':
    case 'link':
    case 'link-error':
      return jsonFlag(`--${flag}`, text, 'array', '\'[{"task": "proj.fetch"}]\'');
    case 'labels':
      return labelsFlag(text);
    case 'chord':
      return jsonFlag('--chord', text, 'object', '\'{"header": [{"task": "proj.part"}], "body": {"task": "proj.merge"}}\'');
    case 'enabled':
    case 'relative':
    case 'one-off':
      return booleanFlag(text);
    case 'max-runs':
    case 'overlap-buffer':
      return { value: NUMBER.test(text.trim()) ? Number(text) : text };
    case 'catch-up-window':
    case 'overlap-timeout':
    case 'jitter':
    case 'spread':
      return { value: NUMBER.test(text.trim()) ? Number(text) : text };
    default:
      return { value: text };
  }
}

/** The flag that sets a problem's key, named in the path: `schedule.cron (--schedule)`. */
function withFlag(problem: ConfigProblem, name: string): ConfigProblem {
  const at = formatPath([name]);
  const under = problem.path.startsWith(`${at}.`) ? problem.path.slice(at.length + 1) : problem.path;
  const key = /^[A-Za-z_]+/.exec(under)?.[0];
  const flag = (Object.keys(FLAG_KEYS) as Flag[]).find((f) => FLAG_KEYS[f] === key);
  return { ...problem, path: flag === undefined ? under : `${under} (--${flag})` };
}

type SetValues = ParsedCommandArgs<typeof setOptions & typeof helpOption>['values'];

/** How an entry from a file is checked: where it came from, and whether it stood alone (no name above it). */
interface FileCheck {
  readonly source: string;
  readonly alone: boolean;
  readonly locate?: (path: readonly PropertyKey[]) => number | undefined;
}

/** The entry to set, from the file (with `fileCheck`) or the flags (with the keys they give). */
interface SetInput {
  readonly input: EntryInput;
  readonly fileCheck?: FileCheck;
  readonly flagValues: Readonly<Record<string, unknown>>;
}

/**
 * The problems of an entry from a file; a file holding the entry alone (no name) has them at its
 * own paths (`schedule.cron`, not `nightly.schedule.cron`).
 */
function checkFileEntry(check: FileCheck, input: EntryInput, staticNames: ReadonlySet<string>, schedules?: ScheduleCostContext): void {
  try {
    checkEntries(check.source, [input], { ...(check.locate ? { locate: check.locate } : {}), staticNames, schedules });
  } catch (error) {
    if (!(error instanceof ConfigError) || !check.alone) throw error;
    const at = formatPath([input.name]);
    const problems = error.problems.map((p) =>
      p.path.startsWith(`${at}.`) || p.path.startsWith(`${at}[`) ? { ...p, path: p.path.slice(at.length).replace(/^\./, '') } : p,
    );
    throw new ConfigError(check.source, problems, ErrorCode.EntryInvalid);
  }
}

/** The problems of an entry made of flags, each named by its flag. */
function flagProblems(
  name: string,
  entry: unknown,
  staticNames: ReadonlySet<string> = new Set(),
  schedules?: ScheduleCostContext,
): ConfigProblem[] {
  try {
    checkEntries('beat entries set', [{ name, entry }], { staticNames, schedules });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => withFlag(p, name));
  }
}

async function entriesSetCommand(
  { values, positionals }: ParsedCommandArgs<typeof setOptions & typeof helpOption>,
  io: Io,
): Promise<ExitCode> {
  const given = (Object.keys(FLAG_KEYS) as Flag[]).filter((f) => values[f] !== undefined);
  const name = positionals[0];
  checkUsage(values, name, given);
  const set = values.file !== undefined ? await entryFromFile(io, values.file, name) : await entryFromFlags(name as string, given, values);
  return withControl(
    io,
    'entries set',
    values,
    async (control) => {
      // A change to some keys of a stored entry is a read and a write: the write applies only to
      // the version read, and is done again from a fresh read if another writer came in between.
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await setOnce(control, set, values, io);
        } catch (error) {
          if (!(error instanceof EntryConflictError) || attempt >= 3) throw error;
        }
      }
    },
    (config) => precheck(config, set, io.now()),
  );
}

/** The flags that cannot go together, or say nothing to set: exit 2. */
function checkUsage(values: SetValues, name: string | undefined, given: readonly Flag[]): void {
  const usage = (problem: string) => new BeatError(ErrorCode.Usage, `beat entries set: ${problem}. See 'beat entries set --help'.`);
  if (values.file !== undefined && (given.length > 0 || values.replace === true))
    throw usage(`--file holds the whole entry; give it without ${given.length > 0 ? `--${given[0]}` : '--replace'}`);
  if (values.file === undefined && name === undefined) throw usage('which entry? Usage: beat entries set NAME --task T --schedule S');
  if (values.file === undefined && given.length === 0) throw usage(`nothing to set: give --task, --schedule or another key of the entry`);
}

/** The entry of a --file: the entry alone under the NAME given, else the file's one entry under its name. */
async function entryFromFile(io: Io, path: string, name: string | undefined): Promise<SetInput> {
  const file = await readEntryFile('entries set', io.cwd, path);
  const locate = file.locate;
  if (name !== undefined) {
    return {
      input: { name, entry: file.value },
      fileCheck: { source: file.source, alone: true, ...(locate ? { locate: (p) => locate(p.slice(1)) } : {}) },
      flagValues: {},
    };
  }
  const { entries, base } = entriesOf(file, '');
  if (entries.length !== 1 || base.length > 0) {
    throw new ConfigError(
      file.source,
      [
        {
          path: '',
          message: `expected one entry under its name ("nightly: {task: …, schedule: …}"), found ${base.length > 0 ? 'a config file' : `${entries.length} names`}; for several entries use beat entries import`,
        },
      ],
      ErrorCode.EntryInvalid,
    );
  }
  return {
    input: entries[0] as EntryInput,
    fileCheck: { source: file.source, alone: false, ...(locate ? { locate } : {}) },
    flagValues: {},
  };
}

/** The keys the flags give, each read as the config file's key; exit 2 naming every flag's problem. */
async function entryFromFlags(name: string, given: readonly Flag[], values: SetValues): Promise<SetInput> {
  const problems: ConfigProblem[] = [];
  const flagValues: Record<string, unknown> = {};
  for (const flag of given) {
    const result = await flagValue(flag, values[flag] as string);
    if ('problem' in result) problems.push({ path: `--${flag}`, message: result.problem });
    else flagValues[FLAG_KEYS[flag]] = result.value;
  }
  // The flags' own mistakes are named before Redis is asked (a stand-in for the keys not given).
  // The stand-in task only where no canvas runs instead (an entry runs one of them).
  const standIn = RUN_KEYS.some((key) => Object.hasOwn(flagValues, key)) ? {} : { task: 'placeholder' };
  problems.push(...flagProblems(name, { ...standIn, schedule: 60, ...flagValues }));
  if (problems.length > 0) throw new ConfigError(`beat entries set ${name}`, problems, ErrorCode.EntryInvalid);
  return { input: { name, entry: flagValues }, flagValues };
}

/** Before Redis is asked: the entry checked against the config, whose entries' names it cannot take. */
function precheck(config: ResolvedConfig, { input, fileCheck }: SetInput, nowMs: number): void {
  const staticNames = new Set(config.entries.map((e) => e.name));
  if (fileCheck !== undefined) checkFileEntry(fileCheck, input, staticNames, scheduleCostContextOf(config, nowMs));
  else if (staticNames.has(input.name)) {
    throw new ConfigError(
      `beat entries set ${input.name}`,
      flagProblems(input.name, input.entry, staticNames).filter((p) => p.path === formatPath([input.name])),
      ErrorCode.EntryInvalid,
    );
  }
}

/** One read (unless the entry is replaced whole) and one write, applied only to the version read. */
async function setOnce(control: Control, { input, fileCheck, flagValues }: SetInput, values: SetValues, io: Io): Promise<ExitCode> {
  const entryName = input.name;
  const { entry, ifVersion } =
    values.file === undefined && values.replace !== true
      ? await mergedWithStored(control, entryName, flagValues)
      : { entry: input.entry, ifVersion: undefined };
  const staticNames = new Set(control.config.entries.map((e) => e.name));
  // The schedule's cost is checked here too, so that a costly one is named by its flag or its file's line.
  const schedules = scheduleCostContextOf(control.config, io.now());
  if (fileCheck !== undefined) {
    checkFileEntry(fileCheck, { name: entryName, entry }, staticNames, schedules);
  } else {
    const found = flagProblems(entryName, entry, staticNames, schedules);
    if (found.length > 0) throw new ConfigError(`beat entries set ${entryName}`, found, ErrorCode.EntryInvalid);
  }
  const result = await control.store.write([{ op: 'put', name: entryName, entry, ...(ifVersion === undefined ? {} : { ifVersion }) }], {
    nowMs: io.now(),
    source: 'beat entries set',
    audit: control.audit(values.note),
  });
  const outcome = result.outcomes[0] ?? 'unchanged';
  io.out(`${outcome} ${entryName}${outcome === 'unchanged' ? ' (the same definition was stored)' : ` (store version ${result.version})`}`);
  return ExitCode.Ok;
}

/** What an entry runs: giving one of them replaces the stored one. */
const RUN_KEYS: readonly string[] = ['task', 'chain', 'group', 'chord'];

/** The keys the flags give over the stored entry's others, and the version read (0: none stored). */
async function mergedWithStored(
  control: Control,
  name: string,
  flagValues: Readonly<Record<string, unknown>>,
): Promise<{ entry: unknown; ifVersion: number }> {
  const stored = await control.store.get(name);
  const ifVersion = stored?.version ?? 0;
  if (stored === undefined || stored.entry === null || typeof stored.entry !== 'object' || Array.isArray(stored.entry)) {
    return { entry: flagValues, ifVersion };
  }
  // A key given in another spelling (snake_case) replaces the stored one; a task, chain, group or
  // chord given replaces the stored one of them (an entry runs one of them).
  const given = (key: string) =>
    Object.hasOwn(flagValues, key) || (RUN_KEYS.includes(key) && RUN_KEYS.some((run) => Object.hasOwn(flagValues, run)));
  const kept = Object.fromEntries(
    Object.entries(stored.entry).filter(([k]) => !given(k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()))),
  );
  return { entry: { ...kept, ...flagValues }, ifVersion };
}
