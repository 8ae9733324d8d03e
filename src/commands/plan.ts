/**
 * `beat plan` and `beat apply`: runtime entries kept as code. A tool (a CI job, say) owns the
 * entries it writes (`owner`); a plan shows what making the store match a file for that owner would
 * do, and an apply does it in one atomic write (entries-write.lua, each op guarded by the version
 * the plan read), never touching the entries of another owner or of none.
 */
import { BeatError, ConfigError, ErrorCode, shown } from '../base/errors.js';
import { maskUrl } from '../config/redis-url.js';
import type { ConfigProblem } from '../base/errors.js';
import { newEntryNameProblems } from '../config/entry-definition.js';
import type { EntryPlan, PlanItem, PlanLoad, PlannedInput } from '../control/entry-plan.js';
import { addedNames, definitionOf, definitionsLoad, planConfig } from '../control/deployment-definition.js';
import { ownerOf } from '../control/entry-plan.js';
import { chunksOf } from '../base/chunks.js';
import type { ConfigPlan } from '../control/deployment-definition.js';
import { readDefinition } from '../redis/definition-store.js';
import { conflictSentence, ownedInputs } from '../redis/owner-apply.js';
import { applyEntries, planEntries } from '../operations/plan-verbs.js';
import type { PlanStores } from '../operations/plan-verbs.js';
import type { ApplyResult } from '../redis/owner-apply.js';
import { schedulerKeys } from '../redis/keys.js';
import { leaf } from './command-spec.js';
import { noteOption, redisOptions, withControl } from './control-open.js';
import type { Control } from './control-open.js';
import { checkFileEntries } from './entries-io.js';
import { entriesOf, readEntryFile } from './entry-files.js';
import type { EntryInput } from './entry-files.js';
import { isEntryLinesFile, readLine, textLineChunks } from './entry-lines.js';
import { ExitCode, terminalColumns } from './io.js';
import { wrapLines } from './table.js';
import { horizonMs, horizonOption, horizonText, renderLoads } from './load-view.js';
import type { Io } from './io.js';

const FILE_FORMATS = `FILE is read as 'beat entries import' reads it: a mapping of entry names to entries or a whole
config file (*.yaml, *.yml, *.json: its beatSchedule), or JSON Lines (*.ndjson, *.jsonl).`;

const ownerOptions = {
  ...redisOptions,
  entries: { type: 'string', value: 'FILE', required: true, help: 'the entries the owner should hold (required)' },
  owner: {
    type: 'string',
    value: 'NAME',
    required: true,
    help: 'the tool that owns them, spelled as an entry name (required), e.g. gitops',
  },
} as const;

/** plan's: both or neither (neither: the config itself is planned). */
const planOwnerOptions = {
  ...redisOptions,
  entries: { type: 'string', value: 'FILE', help: 'the runtime entries the owner should hold (with --owner)' },
  owner: { type: 'string', value: 'NAME', help: 'the tool that owns them, spelled as an entry name (with --entries), e.g. gitops' },
} as const;

export const planSpec = leaf({
  name: 'plan',
  about: `Without --entries: compares the config file (--config NEW, or the one found as for beat run)
with the definition the running deployment of its name recorded (its leader records the config it
runs when it starts leading and on reload), and prints per entry of the file what running NEW would
do: add, change (the fields that differ), remove or leave unchanged, with the next three fires
before and after, and the settings that shape every entry (timezone, calendars, task routing) that
differ. An entry that names no timezone is compared in the config's, so a change of timezone shows
on every entry it moves; an added name that a runtime entry holds is named (that one would stop
running). Exit 2 when the deployment has recorded no definition yet: start beat run with the
config it runs once.
With --entries FILE --owner NAME: compares the runtime entries FILE holds with those NAME owns in
the store, and prints per entry what 'beat apply' would do, with the same diff and fires, the state
a removal drops, and the names in FILE that another owner or no owner holds (a conflict: the apply
would be refused). ${FILE_FORMATS}
Both show the load before and after: the runs the entries compared (the config's, or the owner's)
start over the next day (--horizon, up to 7d), with the busiest minute and second, and an hour a line.
Nothing is written. Exit code (as terraform plan -detailed-exitcode, but 2 is ours for errors): 0 no
changes, 3 changes, 2 an error (an invalid file, no recorded definition) or a conflict, 1 Redis
unavailable.
`,
  options: {
    ...planOwnerOptions,
    json: {
      type: 'boolean',
      help: `the plan as JSON. With --entries: owner, digest (what beat apply takes to refuse a later
        store), counts and entries (name, action, changes, kind, firesBefore, firesAfter, dropped,
        heldBy). Of a config: deployment, recorded, config, counts, settings and entries (with
        runtimeHeldBy). Both: load (horizonMs, before and after: from, to, total, perMinute,
        peakMinute and peakSecond as {at, runs}, capped)`,
    },
    ...horizonOption,
  },
  run: (args, io) => planCommand(args.values, io),
});

export const applySpec = leaf({
  name: 'apply',
  about: `Makes the runtime entries NAME owns be those FILE holds: adds, changes and removes them in one
atomic write (all or nothing), and never touches an entry of another owner or of none. Refused,
with nothing written (exit 2): when another owner or no owner holds a name FILE holds; when
--plan-digest is given and the store or FILE has changed since that plan; when an entry is
invalid. One audit event names the owner, the digest, the counts and the note. ${FILE_FORMATS}
`,
  options: {
    ...ownerOptions,
    'plan-digest': { type: 'string', value: 'D', help: "the digest 'beat plan' printed: refuse if anything changed since" },
    ...noteOption,
  },
  run: (args, io) => applyCommand(args.values, io),
});

interface OwnerValues {
  config?: string;
  broker?: string;
  entries?: string;
  owner?: string;
}

function usage(command: string, problem: string): BeatError {
  return new BeatError(ErrorCode.Usage, `beat ${command}: ${problem}. See 'beat ${command} --help'.`);
}

/** --entries and --owner, checked before Redis is asked. */
function ownerArgs(command: string, values: OwnerValues): { file: string; owner: string } {
  if (values.entries === undefined || values.entries === '') throw usage(command, 'name the file of entries: --entries FILE');
  if (values.owner === undefined) throw usage(command, 'name the owner: --owner NAME');
  const problems = newEntryNameProblems(values.owner);
  if (problems.length > 0) throw usage(command, `--owner ${shown(values.owner)}: ${problems[0]?.message ?? 'not a valid name'}`);
  return { file: values.entries, owner: values.owner };
}

/** The file's entries, each given the owner (one that names another owner is a problem), checked as an import checks them. */
async function ownedEntries(command: string, io: Io, control: Control, path: string, owner: string): Promise<PlannedInput[]> {
  let entries: EntryInput[];
  let base: readonly string[] = [];
  let file: Awaited<ReturnType<typeof readEntryFile>> | undefined;
  if (isEntryLinesFile(path)) {
    entries = [];
    const problems: ConfigProblem[] = [];
    for await (const { lines } of textLineChunks(command, io.cwd, path)) {
      for (const { text, line } of lines) {
        const read = readLine(text, line);
        if (read.input === undefined) problems.push({ path: '', message: read.problem, line });
        else entries.push(read.input);
      }
    }
    if (problems.length > 0) throw new ConfigError(path, problems, ErrorCode.EntryInvalid);
  } else {
    file = await readEntryFile(command, io.cwd, path);
    const found = entriesOf(file, control.config.timezone);
    entries = [...found.entries];
    base = found.base;
  }
  const inputs = ownedInputs(entries, owner, path, base);
  checkFileEntries(control.config, inputs, { source: path, base, ...(file === undefined ? {} : { file }), nowMs: io.now() });
  return inputs;
}

function keysOf(control: Control): ReturnType<typeof schedulerKeys> {
  return schedulerKeys(control.config.state.prefix, control.config.name);
}

/** What plan and apply read and write: the deployment's Redis and store, with its audit cap. */
function planStoresOf(control: Control): PlanStores {
  return {
    client: control.redis,
    keys: keysOf(control),
    store: control.store,
    auditSettings: { maxEvents: control.config.auditMaxEvents },
  };
}

async function planCommand(values: OwnerValues & { json?: boolean; horizon?: string }, io: Io): Promise<ExitCode> {
  const horizon = horizonMs('plan', values.horizon);
  if (values.entries === undefined && values.owner === undefined) return configPlanCommand(values, horizon, io);
  const { file, owner } = ownerArgs('plan', values);
  return withControl(io, 'plan', values, async (control) => {
    const inputs = await ownedEntries('plan', io, control, file, owner);
    const plan = await planEntries(planStoresOf(control), control.audit(undefined), {
      owner,
      inputs,
      zone: control.config.timezone,
      deployment: control.config.name,
      nowMs: io.now(),
      horizonMs: horizon,
    });
    if (values.json === true) io.out(JSON.stringify(plan));
    else io.out(wrapLines(renderPlan(plan, control.config.name), terminalColumns(io)));
    if (plan.counts.conflict > 0) {
      io.err(wrapLines(`beat plan: ${conflictSentence(plan)}; beat apply would be refused`, terminalColumns(io)));
      return ExitCode.BadInput;
    }
    return plan.counts.add + plan.counts.change + plan.counts.remove === 0 ? ExitCode.Ok : ExitCode.Changes;
  });
}

async function applyCommand(values: OwnerValues & { 'plan-digest'?: string; note?: string }, io: Io): Promise<ExitCode> {
  const { file, owner } = ownerArgs('apply', values);
  return withControl(io, 'apply', values, async (control) => {
    const inputs = await ownedEntries('apply', io, control, file, owner);
    let applied: ApplyResult;
    try {
      applied = await applyEntries(planStoresOf(control), control.audit(values.note), {
        owner,
        inputs,
        zone: control.config.timezone,
        deployment: control.config.name,
        nowMs: io.now(),
        planDigest: values['plan-digest'],
        checked: true,
        source: file,
      });
    } catch (error) {
      if (error instanceof BeatError && (error.code === ErrorCode.OwnerConflict || error.code === ErrorCode.PlanStale))
        throw new BeatError(error.code, `beat apply: ${error.message}`, { cause: error });
      throw error;
    }
    const { add, change, remove, unchanged } = applied.plan.counts;
    io.out(
      `applied for owner ${owner} in deployment ${control.config.name}: ${add} added, ${change} changed, ${remove} removed, ${unchanged} unchanged (${applied.plan.digest})`,
    );
    return ExitCode.Ok;
  });
}

/** `beat plan` of a config: NEW against the definition the running deployment recorded. */
async function configPlanCommand(values: OwnerValues & { json?: boolean }, horizon: number, io: Io): Promise<ExitCode> {
  return withControl(io, 'plan', values, async (control) => {
    const { config } = control;
    const next = definitionOf(config);
    if (next === undefined)
      throw new BeatError(ErrorCode.Usage, `beat plan: ${control.source} was not read from a file; pass --config NEW`);
    const read = await readDefinition(control.redis, keysOf(control));
    const start = `start beat run with the config deployment ${config.name} runs now once (its leader records it when it starts leading), then plan again`;
    if (read.kind === 'none')
      throw new BeatError(
        ErrorCode.DefinitionMissing,
        `beat plan: deployment ${shown(config.name)} has recorded no definition to compare ${control.source} with: no leader of that name has run since tsbeat records one (is ${shown(config.name)} the running deployment's name, and ${maskUrl(control.stateUrl)} its Redis?); ${start}`,
      );
    if (read.kind === 'refused')
      throw new BeatError(
        ErrorCode.DefinitionMissing,
        `beat plan: deployment ${shown(config.name)} recorded no definition: ${read.reason}; raise entryLimits.maxStoreBytes`,
      );
    if (read.kind === 'unreadable')
      throw new BeatError(
        ErrorCode.DefinitionMissing,
        `beat plan: the definition deployment ${shown(config.name)} recorded (${keysOf(control).definition}) is unreadable: ${read.problem}; ${start}`,
      );
    const runtimeHolders = await runtimeHoldersOf(control, addedNames(read.definition, next));
    const nowMs = io.now();
    const plan: ConfigPlan = {
      ...planConfig({ deployment: config.name, recorded: { ...read.definition, atMs: read.atMs }, next, nowMs, runtimeHolders }),
      load: await definitionsLoad(config.name, read.definition, next, nowMs, horizon),
    };
    io.out(values.json === true ? JSON.stringify(plan) : wrapLines(renderConfigPlan(plan), terminalColumns(io)));
    const { add, change, remove } = plan.counts;
    return add + change + remove + plan.settings.length === 0 ? ExitCode.Ok : ExitCode.Changes;
  });
}

/** The runtime entries of these names (name → owner, null: none), read a chunk at a time. */
async function runtimeHoldersOf(control: Control, names: readonly string[]): Promise<Map<string, string | null>> {
  const holders = new Map<string, string | null>();
  for (const chunk of chunksOf(names, 100)) {
    const found = await Promise.all(chunk.map((name) => control.store.get(name)));
    for (const stored of found) if (stored !== undefined) holders.set(stored.name, ownerOf(stored.entry) ?? null);
  }
  return holders;
}

const SIGNS: Readonly<Record<PlanItem['action'], string>> = { add: '+', change: '~', remove: '-', unchanged: '=', conflict: '!' };

/** A config's plan as people read it: the settings that differ, one block per entry that changes, then the counts. */
export function renderConfigPlan(plan: ConfigPlan): string {
  const lines = [
    `Plan of ${plan.config.source} for deployment ${plan.deployment} (it runs ${plan.recorded.source}, recorded ${plan.recorded.at}):`,
  ];
  if (plan.settings.length > 0) {
    lines.push('~ settings');
    for (const c of plan.settings) lines.push(`    ${c.path}: ${c.before ?? '(none)'} -> ${c.after ?? '(removed)'}`);
  }
  // A config's entry removed stops running; its stored state stays (the name added back goes on from it).
  for (const item of plan.entries) {
    const block = itemLines(item, 'its stored state (the name added back goes on from it)');
    if (item.runtimeHeldBy !== undefined) {
      const holder = item.runtimeHeldBy === null ? 'made by hand' : `owner ${item.runtimeHeldBy}`;
      block.splice(1, 0, `    takes the name of a runtime entry (${holder}): that one stops running`);
    }
    for (const line of block) lines.push(line);
  }
  const { add, change, remove, unchanged } = plan.counts;
  const settings = plan.settings.length > 0 ? `, ${plan.settings.length} setting${plan.settings.length === 1 ? '' : 's'} changed` : '';
  lines.push(`${add} to add, ${change} to change, ${remove} to remove, ${unchanged} unchanged${settings}.`);
  if (plan.load !== undefined) lines.push(loadLines(plan.load, "the config's entries"));
  return lines.join('\n');
}

/** The plan as people read it: one block per entry that changes, then the counts. */
export function renderPlan(plan: EntryPlan, deployment: string): string {
  const lines = [`Plan for owner ${plan.owner} in deployment ${deployment}:`];
  for (const item of plan.entries) for (const line of itemLines(item)) lines.push(line);
  const { add, change, remove, unchanged, conflict } = plan.counts;
  lines.push(
    `${add} to add, ${change} to change, ${remove} to remove, ${unchanged} unchanged${conflict > 0 ? `, ${conflict} in conflict` : ''}.`,
    `digest ${plan.digest}`,
  );
  if (plan.load !== undefined) lines.push(loadLines(plan.load, `owner ${plan.owner}'s entries`));
  return lines.join('\n');
}

/** A plan's load, now and after, of the entries it compares. */
function loadLines(load: PlanLoad, whose: string): string {
  return renderLoads(`The load of ${whose} over the next ${horizonText(load.horizonMs)}, now and after`, [
    { label: 'now', load: load.before },
    { label: 'after', load: load.after },
  ]);
}

/**
 * One entry's block (none for an unchanged one): its sign and action, its changes, its fires.
 * `kept`: what a removal leaves stored (a config's entry), said instead of what it drops.
 */
function itemLines(item: Omit<PlanItem, 'version'>, kept?: string): string[] {
  if (item.action === 'unchanged') return [];
  const head = `${SIGNS[item.action]} ${item.name}`;
  const lines: string[] = [];
  switch (item.action) {
    case 'add':
      lines.push(`${head} (add)`);
      break;
    case 'change':
      lines.push(`${head} (change)`);
      for (const c of item.changes ?? []) lines.push(`    ${c.path}: ${c.before ?? '(none)'} -> ${c.after ?? '(removed)'}`);
      if (item.kind !== undefined) lines.push(`    schedule kind changes: ${item.kind.before} -> ${item.kind.after}`);
      break;
    case 'remove':
      lines.push(`${head} (remove)`);
      if ((item.dropped ?? []).length > 0) lines.push(`    drops: ${(item.dropped ?? []).join(', ')}`);
      if (kept !== undefined) lines.push(`    keeps: ${kept}`);
      break;
    case 'conflict':
      lines.push(`${head} (conflict: held by ${item.heldBy === null || item.heldBy === undefined ? 'no owner' : `owner ${item.heldBy}`})`);
      break;
  }
  if (item.firesBefore !== undefined) lines.push(`    next fires now:   ${item.firesBefore.join(', ') || '(none)'}`);
  if (item.firesAfter !== undefined) lines.push(`    next fires after: ${item.firesAfter.join(', ') || '(none)'}`);
  return lines;
}
