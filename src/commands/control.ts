/**
 * `beat status`, `beat trigger ENTRY`, `beat pause ENTRY`, `beat resume ENTRY`: live control of a
 * running deployment through its Redis, from any machine that can reach it. They read the same
 * config file as `beat run` (for the entry names, the deployment name and the Redis URL).
 */
import { buildStatus, entryStateText } from '../control/status.js';
import { statusParts } from '../control/status-parts.js';
import type { DeploymentStatus } from '../control/status.js';
import { groupStatuses } from '../operations/read-verbs.js';
import type { EntryView } from '../control/entry-view-schema.js';
import { warningsOf } from '../service/deployment-watch.js';
import { BeatError, ErrorCode, errorMessage, problemsInline, shown } from '../base/errors.js';
import { outcomeText } from '../control/run-view.js';
import { ageText } from '../control/replicas.js';
import { parseCount, unknownEntryError } from './args.js';
import { djangoOverride } from './config-args.js';
import { djangoOption } from './django-read.js';
import type { BrokerOverride } from '../config/connection-checks.js';
import { openControl, redisOptions } from './control-open.js';
import type { Control } from './control-open.js';
import { ExitCode, terminalColumns } from './io.js';
import type { Io } from './io.js';
import { leaf } from './command-spec.js';
import type { Command, OptionHelps } from './command-spec.js';
import { findRuntime, readControlView, throwFailures } from './runtime-view.js';
import { renderTable, wrapLines } from './table.js';
import { narrowStatusLines } from './status-narrow.js';
import { DEFAULTS } from '../base/defaults.js';
import { keepsRunHistory } from '../config/outcome-sources.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { NOTE_MAX_CHARS, noteProblem } from '../base/note-text.js';
import { labelsText } from '../core/labels.js';
import { nothingSelected, oneOrSelected, selectEntries, selected, selectorArg, selectorOption } from './selector-args.js';
import { pushAll } from '../base/chunks.js';
import { deploymentStopText } from '../control/deployment-stop.js';
import type { EntryPauseAnswer, SelectionPauseAnswer, StopAnswer } from '../operations/control-verbs.js';
import { runVerb } from '../operations/door.js';
import type { Door } from '../operations/door.js';
import { scopeOf } from '../operations/operator.js';
import type { ScopedEntry } from '../core/grants.js';
import { selectorOrThrow } from '../core/label-selector.js';
import { retryPolicyOf } from '../config/retry-schema.js';

/** The --note of a pause, resume or trigger, checked; undefined without one. */
function noteOf(command: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const problem = noteProblem(text);
  if (problem !== undefined) throw new BeatError(ErrorCode.Usage, `beat ${command}: --note: ${problem}`);
  return text;
}

export const statusSpec = leaf({
  name: 'status',
  about: `Shows the deployment's current leader, its replicas and every entry with its schedule, last run,
next run and whether it is paused, read from Redis. While the deployment is stopped (beat pause --all)
the first line says so: by whom, since when, the note and how to resume (red on a terminal unless
NO_COLOR is set; "stopped" in --json). Its lines fit the terminal ($COLUMNS, else the terminal's
width, else ${DEFAULTS.terminalColumns}): NAME, SCHEDULE, LAST RUN, NEXT RUN, STATE (OUTCOME with outcomes, ORIGIN
with runtime entries), times relative to now, long cells cut with "…", warnings wrapped; --wide
gives every column described below, with ISO 8601 instants, and every line whole.
The REPLICA table lists every beat run, leader or standby, whose heartbeat (every 2 s, or a third of lock.ttl) is younger than its lock.ttl: ROLE
as the lock says, HEARTBEAT its age; one stopped cleanly leaves it at once, one killed within its
lock.ttl. The entries are the config file's entries, then the runtime entries as the leader
holds them: the store's (beat entries), RedBeat's (sources.redbeat) and django-celery-beat's rows
(sources.django), read once, read-only, with an ORIGIN column (file, store, redbeat, django) when
there are any ("origin" in --json, as /status gives it). Runtime entries that do not run (invalid,
or a name the config file or an earlier source takes) are listed below the table with their
problems. A RedBeat Redis or django database that cannot be read is a WARNING line, not a failure. LAST
RUN is the last slot published, or, when the last run was a manual one (beat trigger), when that
was published, marked "(trigger)". A WARNING line says when this config differs from the
leader's, or when a lock key tsbeat did not write keeps every replica from leading. STATE is
active, paused, disabled, "finished: ran 3 of 3 times" (an entry that made its maxRuns runs;
raising maxRuns brings it back), "ended" (past its endAt) or FAILING (the leader finds its runs
refused because of the entry alone, such as a queue key holding another Redis type: listed below
the table with the reason; the other entries publish on), or "UNCONSUMED: no worker consumes queue
Q" (the leader's consumer check found nobody reading the entry's queue for consumers.unconsumedAfter:
its runs wait unread; listed below the table by queue, "unconsumed" in --json). An ALERTS line says
how many alerts their receivers have not taken yet and when the next is tried, or that it is overdue
with no leader sending ("alertOutbox" in --json). With a resultBackend or taskEvents,
LAST OUTCOME is the newest run's state (PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED,
unknown), its runtime and the exception's first line: for a frequent entry, the run in flight.
LAST FINISHED is the run that finished last (state, runtime, exception, when), LAST SUCCESS and
LAST FAILURE when the last of each finished, kept in Redis across failovers ("lastFinished",
"lastSuccessAt", "lastFailureAt" in --json); 'beat history ENTRY' shows the last runs.
`,
  options: {
    ...redisOptions,
    ...djangoOption,
    wide: {
      type: 'boolean',
      short: 'w',
      help: `every column, each time in full (ISO 8601), no line cut or wrapped; without it,
        the lines fit the terminal: NAME, SCHEDULE, LAST RUN, NEXT RUN, STATE (and OUTCOME,
        ORIGIN), times relative to now ("in 3 m", "2 m ago"), long cells cut with "…"`,
    },
    json: { type: 'boolean', help: 'print the same JSON as the /status endpoint' },
    ...selectorOption,
  },
  run: (args, io) => statusCommand(args.values, io),
});

/** The --note of a pause, resume or trigger. */
const controlNoteOption = {
  note: {
    type: 'string',
    value: 'TEXT',
    help: `why, in one line of at most ${NOTE_MAX_CHARS} characters: kept in Redis as the entry's
      last note (beat status: NOTE, "lastNote" in JSON; a pause's also "pauseNote",
      removed by the resume) and with the change in the audit trail (beat audit)`,
  },
} as const satisfies OptionHelps;

export const triggerSpec = leaf({
  name: 'trigger',
  positionals: { usage: '[ENTRY]', most: 1 },
  about: `Publishes one run of ENTRY (the config file's, or a runtime entry: the store's, RedBeat's or a
django row) now, through the leader's fenced path, with a task id of its own. The entry's schedule
is not moved. Waits until the leader confirms (it checks at least every second); if no leader
publishes it in time the request is withdrawn and the command fails. Refused (exit 2) when no
source has the entry, or when the leader's config has no such entry (another deployment, same name).
With -l, one run of every entry the selector selects, recorded in the audit trail as one event
(its selector and every entry); a selector that selects nothing says so and exits 1.
`,
  options: {
    ...redisOptions,
    timeout: { type: 'string', short: 't', value: 'SECONDS', help: 'seconds to wait for the leader, 1 to 300 (default 10)' },
    ...controlNoteOption,
    ...selectorOption,
  },
  run: (args, io) => triggerCommand(args.values, args.positionals, io),
});

const pauseSpec = (verb: 'pause' | 'resume', what: string, all: string): Command =>
  leaf({
    name: verb,
    positionals: { usage: '[ENTRY]', most: 1 },
    about: `${what}
ENTRY is the config file's or a runtime entry (the store's, RedBeat's or a django row). Refused
(exit 2) when no source has it, or when the leader's config has no such entry (another
deployment, same name). With -l, every entry the selector selects, at once (one MULTI), recorded
in the audit trail as one event (its selector and every entry it changed); a selector that
selects nothing says so and exits 1.
${all}
`,
    options: {
      ...redisOptions,
      ...controlNoteOption,
      ...selectorOption,
      all: {
        type: 'boolean',
        help:
          verb === 'pause'
            ? `stop the whole deployment (no ENTRY or -l with it): see above`
            : `lift the deployment-wide stop of 'beat pause --all' (no ENTRY or -l with it)`,
      },
    },
    run: (args, io) => pauseOrResume(verb, args.values, args.positionals, io),
  });
export const pauseCommandSpec = pauseSpec(
  'pause',
  'Pauses ENTRY: the leader stops publishing it within a second. It keeps its history; slots\nthat pass while it is paused are skipped, not caught up. Kept in Redis until `beat resume`.',
  `With --all, stops the whole deployment (an incident, a migration): while the stop is set no
replica publishes anything, scheduled runs, manual runs, backfills and canvases alike (the
publish scripts check it in the step that would publish, so a leader that has not heard of it
yet cannot publish either). It survives failovers and restarts, is shown by beat status,
/status, /readyz, the dashboard and tsbeat_deployment_stopped, and is recorded in the audit
trail (pause-all) with its --note. beat trigger and beat backfill are refused meanwhile. Unlike a
pause, the slots that pass are missed, not skipped: on 'beat resume --all' each entry's catchUp
decides what is published late (once: its latest slot; all: every slot; skip: none).`,
);
export const resumeCommandSpec = pauseSpec(
  'resume',
  'Resumes a paused ENTRY: the leader schedules it again from its next slot within a second.',
  `With --all, lifts the deployment-wide stop of 'beat pause --all' (recorded in the audit trail as
resume-all, with its --note): within a second the leader publishes again, each entry catching up
the slots that passed by its own catchUp.`,
);

/**
 * The entry a trigger, pause, resume, backfill or history names: one of the config file's, or a
 * runtime entry (the store's, RedBeat's, or a django row) that runs, as the leader's catalog holds
 * them (runtime-view.ts). A runtime entry that does not run (invalid, or a name taken first) is
 * refused with its problems; a source that could not be read, when the name is nowhere else, with
 * its failure.
 */
export async function requireControlEntry(
  command: string,
  control: Control,
  name: string | undefined,
  django?: BrokerOverride,
): Promise<ResolvedEntry> {
  if (name === undefined)
    throw new BeatError(ErrorCode.Usage, `beat ${command}: which entry? Usage: beat ${command} ENTRY. See 'beat ${command} --help'.`);
  const { config } = control;
  const own = config.entries.find((e) => e.name === name);
  if (own !== undefined) return own;
  const runtime = await readControlView(control, django);
  const { entry, problem } = findRuntime(runtime, name);
  if (entry !== undefined) return entry;
  if (problem !== undefined) {
    throw new BeatError(
      ErrorCode.UnknownEntry,
      `beat ${command}: the ${problem.origin} entry ${shown(name)} does not run: ${problemsInline(problem.problems)}`,
    );
  }
  throwFailures(runtime);
  throw unknownEntryError(
    command,
    name,
    [...config.entries.map((e) => e.name), ...runtime.entries.map((e) => e.name)],
    runtimeSourcesNamed(config),
  );
}

/** "the config or the runtime store", with the RedBeat and django sources the config has. */
function runtimeSourcesNamed(config: ResolvedConfig): string {
  const named = ['the config', 'the runtime store'];
  if (config.sources?.redbeat !== undefined) named.push("RedBeat's entries");
  if (config.sources?.django !== undefined) named.push("django-celery-beat's rows");
  return `${named.slice(0, -1).join(', ')} or ${named.at(-1) ?? ''}`;
}

async function requireEntry(command: string, control: Control, name: string | undefined, django?: BrokerOverride): Promise<string> {
  return (await requireControlEntry(command, control, name, django)).name;
}

/**
 * The deployment's status, and the keys found holding what tsbeat never writes (named with their
 * repair, and among the warnings too): their parts are shown empty, and `beat status` exits 1.
 */
export async function readStatus(
  control: Control,
  nowMs: number,
  django?: BrokerOverride,
): Promise<DeploymentStatus & { readonly keyFaults: readonly string[] }> {
  const { config } = control;
  // The runtime entries as a replica's catalog holds them; a source away is said, not fatal (Redis holds the rest).
  const runtime = await readControlView(control, django);
  const sourceWarnings = runtime.failures.map(({ origin, error }) => `${origin} entries not shown: ${errorMessage(error)}`);
  const names = [...config.entries.map((e) => e.name), ...runtime.entries.map((e) => e.name)];
  // Each part read on its own: a key something else wrote costs its part, named among the warnings.
  const keyWarnings: string[] = [];
  const part = statusParts(keyWarnings);
  const [stop, states, paused, pauseNotes, notes, check, replicas, outcomes, finished, failing, unconsumed, alertOutbox] =
    await Promise.all([
      part(control.control.deploymentStop(), undefined),
      part(control.states.readAll(), new Map()),
      part(control.control.paused(), new Set<string>()),
      part(control.control.pauseNotes(), new Map()),
      part(control.control.notes(), new Map()),
      control.check(),
      part(control.replicas.read(), []),
      keepsRunHistory(config) ? part(control.runs.latest(names), undefined) : undefined,
      keepsRunHistory(config) ? part(control.runs.finished(names), undefined) : undefined,
      part(control.failures.read(), undefined),
      part(control.unconsumed.read(), undefined),
      part(control.alertOutbox.pending(), undefined),
    ]);
  pushAll(keyWarnings, control.runs.faults?.() ?? []);
  const status = buildStatus({
    stop,
    alertOutbox,
    failing,
    unconsumed,
    ...(outcomes === undefined ? {} : { outcomes }),
    ...(finished === undefined ? {} : { finished }),
    pauseNotes,
    notes,
    config: control.config,
    states,
    paused,
    leader: check.leader,
    replicas,
    self: { instance: 'cli', role: 'cli' },
    nowMs,
    warnings: [...warningsOf(check), ...sourceWarnings, ...keyWarnings],
    runtime,
  });
  const groups = await groupStatuses(control, [...config.entries, ...runtime.entries], part);
  return { ...status, ...(groups === undefined ? {} : { groups }), keyFaults: keyWarnings };
}

/**
 * Before a trigger, pause, resume or backfill: a leader whose config lacks the entry would drop the request
 * (the CLI waited in vain, or said "paused" for nothing), so refuse, naming the cause and the fix.
 * A leader that has the entry, defined differently, publishes its own definition: say so, go on.
 */
export async function requireLeaderHas(command: string, control: Control, entry: string, io: Io): Promise<void> {
  const { mismatch } = await control.check();
  if (mismatch === undefined) return;
  if (mismatch.onlyHere.includes(entry)) {
    throw new BeatError(
      ErrorCode.UnknownEntry,
      `beat ${command}: the leader has no entry "${entry}", so it would never act on this; ${mismatch.message}`,
    );
  }
  io.err(`beat ${command}: WARNING: ${mismatch.message}`);
}

/**
 * "ALERTS: 3 pending …": alerts not taken by their receivers yet (queued, being sent, or waiting to
 * be retried). Due before now (by more than a look's second): no leader is sending them.
 */
function alertOutboxText(alerts: NonNullable<DeploymentStatus['alertOutbox']>, nowMs: number): string {
  const head = `ALERTS: ${alerts.pending} pending in the outbox, not yet taken by their receiver`;
  if (alerts.nextAttemptAt === null) return head;
  const overdue = Date.parse(alerts.nextAttemptAt) < nowMs - 2000;
  return overdue
    ? `${head}; the first was due at ${alerts.nextAttemptAt} and no leader has sent it: is one running? (beat.alert.* in its log)`
    : `${head}; the next try at ${alerts.nextAttemptAt} (beat.alert.retry in the leader's log says why one failed)`;
}

/** The last run, scheduled (its slot) or manual (when it was published, marked as such). */
function lastRunText(e: EntryView): string {
  if (e.lastRunBy === 'trigger' && e.lastPublishedAt !== null) return `${e.lastPublishedAt} (trigger)`;
  return e.lastSlot ?? '-';
}

/** "SUCCESS 0.02s at 2026-11-23T12:00:01+01:00", "FAILURE 0.4s: ValueError: boom at …", "-". */
function finishedText(e: EntryView): string {
  const run = e.lastFinished;
  if (run === null) return '-';
  return run.finishedAt === null ? outcomeText(run) : `${outcomeText(run)} at ${run.finishedAt}`;
}

/** The deployment's line: its leader. */
function leaderLines(status: DeploymentStatus, io: Io): void {
  io.out(
    `deployment ${status.deployment}: ${status.leader ? `leader ${status.leader.instance} since ${status.leader.since}` : 'NO LEADER (no beat run instance holds the lock)'}`,
  );
}

/** The REPLICA table (nothing without replicas). */
function replicaLines(status: DeploymentStatus, io: Io): void {
  if (status.replicas.length === 0) return;
  io.out(
    renderTable(
      ['REPLICA', 'ROLE', 'HOST', 'PID', 'VERSION', 'STARTED', 'HEARTBEAT', 'HTTP'],
      status.replicas.map((r) => [
        r.instance,
        r.role,
        r.host,
        String(r.pid),
        r.version,
        r.startedAt,
        ageText(r.heartbeatAgeMs),
        r.http ?? '-',
      ]),
    ),
  );
  io.out('');
}

/** The entry table; its optional columns only when some entry has something to show in them. */
function entryTable(status: DeploymentStatus, withOutcomes: boolean, io: Io): void {
  // NOTE only when some entry has one; ORIGIN only when some entry is not the file's: a file-only
  // deployment's table is unchanged.
  const noted = status.entries.some((e) => e.lastNote !== null);
  const origins = status.entries.some((e) => e.origin !== 'file') || status.entryProblems.length > 0;
  // LABELS only when some entry has one.
  const labelled = status.entries.some((e) => Object.keys(e.labels).length > 0);
  io.out(
    renderTable(
      [
        'NAME',
        'TASK',
        'SCHEDULE',
        'LAST RUN',
        'NEXT RUN',
        'RUNS',
        'STATE',
        ...(withOutcomes ? ['LAST OUTCOME', 'LAST FINISHED', 'LAST SUCCESS', 'LAST FAILURE'] : []),
        ...(noted ? ['NOTE'] : []),
        ...(origins ? ['ORIGIN'] : []),
        ...(labelled ? ['LABELS'] : []),
      ],
      status.entries.map((e) => [
        e.name,
        e.canvas ?? e.task,
        e.schedule,
        lastRunText(e),
        e.nextRun ?? '-',
        String(e.runCount),
        entryStateText(e),
        ...(withOutcomes ? [outcomeText(e.lastOutcome), finishedText(e), e.lastSuccessAt ?? '-', e.lastFailureAt ?? '-'] : []),
        ...(noted ? [e.lastNote === null ? '-' : `${e.lastNote.action}: ${e.lastNote.note}`] : []),
        ...(origins ? [e.origin] : []),
        ...(labelled ? [labelsText(e.labels) || '-'] : []),
      ]),
    ),
  );
}

/** Below the table: the FAILING entries with their reasons, the queues nobody consumes, and the runtime entries that do not run. */
function problemLines(status: DeploymentStatus): string[] {
  const lines: string[] = [];
  const unconsumed = new Map<string, { reason: string; since: string; entries: number }>();
  for (const e of status.entries) {
    const u = e.unconsumed;
    if (u === null) continue;
    const seen = unconsumed.get(u.queue);
    unconsumed.set(u.queue, { reason: u.reason, since: u.since, entries: (seen?.entries ?? 0) + 1 });
  }
  for (const [queue, u] of unconsumed)
    lines.push(
      `UNCONSUMED: ${u.reason} (since ${u.since}): the runs of ${u.entries} entr${u.entries === 1 ? 'y' : 'ies'} wait unread; start a worker with -Q ${queue}, or fix their queue`,
    );
  const failing = status.entries.filter((e) => e.failing !== null);
  if (failing.length > 0) {
    lines.push(`${failing.length} entr${failing.length === 1 ? 'y is' : 'ies are'} FAILING (the others publish on):`);
    for (const e of failing) {
      const f = e.failing;
      if (f !== null) lines.push(`  ${e.name}: ${f.reason} (since ${f.since}, ${f.attempts} attempts, next at ${f.retryAt})`);
    }
  }
  if (status.entryProblems.length > 0) {
    const n = status.entryProblems.length;
    lines.push(`${n} runtime entr${n === 1 ? 'y does' : 'ies do'} not run:`);
    for (const p of status.entryProblems) {
      lines.push(`  ${p.name} (${p.origin}): ${problemsInline(p.problems)}`);
    }
  }
  return lines;
}

async function statusCommand(
  values: { config?: string; broker?: string; 'django-url'?: string; wide?: boolean; json?: boolean; selector?: string },
  io: Io,
): Promise<ExitCode> {
  const selector = selectorArg('status', values.selector);
  const django = djangoOverride(io, values['django-url']);
  const control = await openControl(io, values.config, values.broker, undefined, django);
  try {
    const { keyFaults, ...all } = await readStatus(control, io.now(), django);
    // With -l: the entries it selects; runtime entries that do not run have no labels to select by.
    const status = selector === undefined ? all : { ...all, entries: selected(all.entries, selector), entryProblems: [] };
    if (selector !== undefined && status.entries.length === 0) io.err(`beat status: no entry matches -l ${shown(selector.text)}`);
    // Shown in full, the parts a key something else wrote holds back empty; said on stderr too, and exit 1.
    const exit = keyFaults.length === 0 ? ExitCode.Ok : ExitCode.Failure;
    for (const fault of keyFaults) io.err(`beat status: ${fault}`);
    if (values.json) {
      io.out(JSON.stringify(status));
      return exit;
    }
    // Without --wide the lines fit a terminal: the tables' cells cut, the other lines wrapped.
    const columns = values.wide === true ? undefined : terminalColumns(io);
    const fit = (text: string): string => (columns === undefined ? text : wrapLines(text, columns));
    // First, before anything else: the deployment publishes nothing (red on a terminal).
    if (status.stopped !== undefined) {
      const line = fit(deploymentStopText(status.stopped));
      if (io.alert !== undefined) io.alert(line);
      else io.out(line);
    }
    const narrow = columns === undefined ? undefined : narrowStatusLines(status, keepsRunHistory(control.config), io.now(), columns);
    if (narrow === undefined) leaderLines(status, io);
    else io.out(fit(narrow.leader));
    for (const warning of status.warnings) io.out(fit(`WARNING: ${warning}`));
    const alerts = status.alertOutbox;
    if (alerts !== undefined && alerts.pending > 0) io.out(fit(alertOutboxText(alerts, io.now())));
    if (narrow === undefined) {
      replicaLines(status, io);
      // LAST OUTCOME only with a result backend or task events: without them nothing is known of outcomes.
      entryTable(status, keepsRunHistory(control.config), io);
    } else {
      if (narrow.replicas !== undefined) io.out(`${narrow.replicas}\n`);
      io.out(narrow.entries);
    }
    for (const g of status.groups ?? [])
      io.out(
        fit(
          `group ${g.group}: ${g.running} running, ${g.waiting} waiting, limit ${g.limit} (${g.entries} entr${g.entries === 1 ? 'y' : 'ies'})`,
        ),
      );
    const problems = problemLines(status);
    if (problems.length > 0) io.out(fit(problems.join('\n')));
    return exit;
  } catch (error) {
    throw control.failure('status', error);
  } finally {
    await control.close();
  }
}

async function triggerCommand(
  values: { config?: string; broker?: string; timeout?: string; note?: string; selector?: string },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const note = noteOf('trigger', values.note);
  const selector = selectorArg('trigger', values.selector);
  oneOrSelected('trigger', positionals[0], selector);
  const timeoutMs = (values.timeout === undefined ? 10 : parseCount('trigger', '--timeout', values.timeout, 1, 300)) * 1000;
  // A django row's name is found through $BEAT_DJANGO_URL too, as `beat run` finds the rows.
  const django = djangoOverride(io, undefined);
  const control = await openControl(io, values.config, values.broker, undefined, django);
  try {
    const target = selector === undefined ? { entry: positionals[0] ?? '' } : { selector: selector.text };
    const door = controlDoor('trigger', control, io, django);
    const outcomes = await runVerb('trigger', door, control.audit(note), { target, waitMs: timeoutMs });
    for (const run of outcomes) {
      if (run.state === 'published') io.out(`triggered ${run.entry}: task id ${run.taskId}`);
      else if (run.state === 'refused') io.err(`beat trigger: the leader refused the manual run of "${run.entry}": ${run.refusal ?? ''}`);
    }
    const unpublished = outcomes.filter((r) => r.state === 'withdrawn' || r.state === 'queued');
    if (unpublished.length > 0) {
      const leader = 'entry' in target ? await control.control.leader() : undefined;
      const why = 'entry' in target ? ` (${leader ? `leader ${leader.instance} did not answer` : 'no beat run instance is leading'})` : '';
      for (const run of unpublished)
        io.err(`beat trigger: no leader published "${run.entry}" within ${timeoutMs / 1000} s${why}; the request was withdrawn`);
    }
    return outcomes.every((r) => r.state === 'published') ? ExitCode.Ok : ExitCode.Failure;
  } catch (error) {
    throw control.failure('trigger', error);
  } finally {
    await control.close();
  }
}

/** Before a bulk action: a leader running another config is named (its entries may differ), not refused. */
async function warnLeaderDiffers(command: string, control: Control, io: Io): Promise<void> {
  const { mismatch } = await control.check();
  if (mismatch !== undefined) io.err(`beat ${command}: WARNING: ${mismatch.message}`);
}

/**
 * The control verbs' door on the CLI: an entry of the config file or a runtime source (the leader
 * must have it: a leader running another config is named, not refused), the entries a selector
 * selects among them all (a source that cannot be read fails it: a bulk action must not act on
 * part of what its selector means), and a run no leader took in time withdrawn (exit 1).
 * `strictLetters`: the dead letters' entries read as strictly (a replay or discard of a selection).
 */
export function controlDoor(command: string, control: Control, io: Io, django?: BrokerOverride, strictLetters = false): Door {
  return {
    control: control.control,
    now: () => io.now(),
    entry: async (name) => {
      // No name (or an empty one) is asked for: "which entry?".
      const entry = await requireEntry(command, control, name === '' ? undefined : name, django);
      await requireLeaderHas(command, control, entry, io);
      return { entry };
    },
    selector: (text) => selectorOrThrow(text),
    selected: async (selector) => {
      const entries = await selectEntries(control, selector, django);
      if (entries.length === 0) throw nothingSelected(command, selector);
      await warnLeaderDiffers(command, control, io);
      return entries.map(scopeOf);
    },
    letterScope: async () => {
      const view = await readControlView(control, undefined);
      if (strictLetters) throwFailures(view);
      const byName = new Map<string, ScopedEntry>();
      for (const e of [...control.config.entries, ...view.entries]) byName.set(e.name, { name: e.name, labels: e.labels });
      return { scopeOf: (name) => byName.get(name), runs: (name) => byName.has(name) };
    },
    history: async (name) => {
      const entry = await requireControlEntry(command, control, name, django);
      return { runs: control.runs, zone: entry.timezone, maxAttempts: retryPolicyOf(entry, control.config)?.attempts };
    },
    withdrawUntaken: true,
  };
}

/** `beat pause --all` / `beat resume --all`: the deployment-wide stop set or lifted. */
export function allConflict(verb: 'pause' | 'resume', entry: string | undefined, selector: string | undefined): BeatError | undefined {
  if (entry === undefined && selector === undefined) return undefined;
  const other = entry !== undefined ? `ENTRY ${shown(entry)}` : `-l ${shown(selector ?? '')}`;
  return new BeatError(
    ErrorCode.Usage,
    `beat ${verb}: --all ${verb === 'pause' ? 'stops' : 'resumes'} the whole deployment and takes no ENTRY or -l, got ${other}; give --all alone, or drop it to ${verb} entries`,
  );
}

async function pauseOrResumeAll(
  verb: 'pause' | 'resume',
  values: { config?: string; broker?: string },
  note: string | undefined,
  io: Io,
): Promise<ExitCode> {
  const control = await openControl(io, values.config, values.broker);
  try {
    const answer = (await runVerb(verb, controlDoor(verb, control, io), control.audit(note), { target: { all: true } })) as StopAnswer;
    const name = control.config.name;
    if (answer.stopped !== null) {
      const text = deploymentStopText(answer.stopped);
      io.out(answer.changed ? `stopped the deployment ${name}: ${text}` : `the deployment ${name} was already stopped: ${text}`);
    } else {
      io.out(
        answer.lifted === null
          ? `the deployment ${name} was not stopped`
          : `resumed the deployment ${name} (stopped by ${answer.lifted.by} since ${answer.lifted.since}): each entry catches up by its catchUp`,
      );
    }
    return ExitCode.Ok;
  } catch (error) {
    throw control.failure(verb, error);
  } finally {
    await control.close();
  }
}

async function pauseOrResume(
  verb: 'pause' | 'resume',
  values: { config?: string; broker?: string; note?: string; selector?: string; all?: boolean },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const note = noteOf(verb, values.note);
  if (values.all === true) {
    const conflict = allConflict(verb, positionals[0], values.selector);
    if (conflict !== undefined) throw conflict;
    return pauseOrResumeAll(verb, values, note, io);
  }
  const selector = selectorArg(verb, values.selector);
  oneOrSelected(verb, positionals[0], selector);
  const django = djangoOverride(io, undefined);
  const control = await openControl(io, values.config, values.broker, undefined, django);
  const pausing = verb === 'pause';
  try {
    const door = controlDoor(verb, control, io, django);
    if (selector !== undefined) {
      const answer = (await runVerb(verb, door, control.audit(note), { target: { selector: selector.text } })) as SelectionPauseAnswer;
      const { changed, entries: names } = answer;
      io.out(
        `${pausing ? 'paused' : 'resumed'} ${changed.length} of ${names.length} entries -l ${selector.text}${changed.length > 0 ? `: ${changed.join(', ')}` : ''}${changed.length < names.length ? ` (the other ${names.length - changed.length} already were ${pausing ? 'paused' : 'active'})` : ''}`,
      );
      return ExitCode.Ok;
    }
    const { entry, changed } = (await runVerb(verb, door, control.audit(note), {
      target: { entry: positionals[0] ?? '' },
    })) as EntryPauseAnswer;
    io.out(changed ? `${pausing ? 'paused' : 'resumed'} ${entry}` : `${entry} was already ${pausing ? 'paused' : 'active'}`);
    return ExitCode.Ok;
  } catch (error) {
    throw control.failure(verb, error);
  } finally {
    await control.close();
  }
}
