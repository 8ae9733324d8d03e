/**
 * `beat backfill ENTRY --from ISO --to ISO`: publishes every slot of the entry's schedule in the
 * range that was never published, through the leader (runtime/backfill-work.ts, lua/backfill-fenced.lua),
 * and reports what it published and skipped. `--dry-run` lists the slots without Redis writes.
 */
import { awaitBackfill, queueBackfills } from '../operations/backfill-verbs.js';
import { nothingSelected, oneOrSelected, selectEntries, selectorArg, selectorOption } from './selector-args.js';
import type { LabelSelector } from '../core/label-selector.js';
import type { BrokerOverride } from '../config/connection-checks.js';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import {
  CLI_FIELDS,
  backfillPolicy,
  checkBackfillInput,
  coveredSlots,
  overLimitMessage,
  planBackfill,
  progressText,
  slotTexts,
} from '../control/backfill-request.js';
import type { BackfillInput, BackfillPlan, BackfillProgress } from '../control/backfill-request.js';
import type { BackfillOverlap } from '../core/backfill-overlap.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { NOTE_MAX_CHARS } from '../base/note-text.js';
import { parseCount } from './args.js';
import { djangoOverride } from './config-args.js';
import { openControl, redisOptions } from './control-open.js';
import type { Control } from './control-open.js';
import { leaf } from './command-spec.js';
import { requireControlEntry, requireLeaderHas } from './control.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

/** The longest `--timeout` accepted, seconds (how long `beat backfill` waits for the leader at most). */
const BACKFILL_TIMEOUT_MAX_S = 3600;

export const backfillSpec = leaf({
  name: 'backfill',
  positionals: { usage: '[ENTRY]', most: 1 },
  about: `Publishes every slot of ENTRY's schedule from --from to --to (both included) that was never
published, through the leader's fenced path, each with the task id its schedule gives that slot.
ENTRY is the config file's or a runtime entry (the store's, RedBeat's or a django row).
A slot already published, by the schedule or by an earlier backfill, is skipped in the same atomic
step that would publish it, so a backfill can be repeated safely (also after a leader died half-way:
the next leader goes on where it stopped). Slots the entry's exclude names are not backfilled.
Slots after the entry's last scheduled slot are skipped: they are the schedule's own, to publish
or to catch up. The schedule publishes in order, so the leader records only the slots it passes
over (missed, skipped by the overlap policy, paused), each entry's newest ${DEFAULTS.passedRangesKept} ranges of them;
a slot older than that record speaks for (from before the first leader that kept it, or below its
trimmed ranges) is skipped (counted as unrecorded) unless --unrecorded. Backfilled runs show
as "backfill" in beat history.
The entry's overlap policy applies, or --overlap's (as Temporal's backfill overlap_policy): the
range's slots are taken in order as if each came due in turn. allowAll publishes them all at once;
skip publishes one while no run of the entry is in flight and skips the rest; bufferOne publishes
the first and, once it finished, the next; bufferAll publishes one at a time, each once the run
before finished (the leader keeps the request's place in Redis: a failover goes on with it);
cancelOther and terminateOther revoke the run in flight and publish the range's last slot. Slots
a policy skips are counted as overlap and stay passed over: a later --overlap allowAll publishes
them. Every policy but allowAll needs resultBackend or taskEvents (exit 2 without).
On RabbitMQ and SQS a step is recorded once the broker confirms its messages: a slot whose confirm
was lost (or whose leader died before recording it) goes out again, with the same task id.
Waits until the leader is done, with a progress line on a terminal.
Exit 2 for bad input (an unknown entry, --to before --from, a range over --limit, not ISO).
With -l instead of ENTRY, the range of every entry the selector selects: each is planned and
checked before any is requested (one that cannot be refuses them all, exit 2), the requests are
queued in one MULTI with one audit event (the selector, the range and every entry), and each is
reported as it finishes; a selector that selects nothing exits 1.
`,
  options: {
    ...redisOptions,
    from: {
      type: 'string',
      value: 'ISO',
      required: true,
      help: 'the first instant of the range, ISO 8601 with an offset (2026-11-20T00:00:00Z)',
    },
    to: { type: 'string', value: 'ISO', required: true, help: 'the last instant of the range, at or after --from' },
    'dry-run': { type: 'boolean', help: 'list the slots of the range (the ones beat next lists), publish nothing' },
    limit: {
      type: 'string',
      short: 'n',
      value: 'N',
      help: `refuse a range of more than N slots, 1 to ${DEFAULTS.backfillLimitMax} (default ${DEFAULTS.backfillLimit})`,
    },
    overlap: {
      type: 'string',
      value: 'POLICY',
      help: `allowAll, skip, bufferOne, bufferAll, cancelOther or terminateOther (default: the entry's
        overlap, its allow as allowAll)`,
    },
    unrecorded: {
      type: 'boolean',
      help: `also publish slots older than the record of passed-over slots speaks for (they
        may have been published before; a duplicate carries the same task id)`,
    },
    note: {
      type: 'string',
      value: 'TEXT',
      help: `why, in one line of at most ${NOTE_MAX_CHARS} characters: kept in the audit trail (beat audit)`,
    },
    timeout: {
      type: 'string',
      short: 't',
      value: 'SECONDS',
      help: `seconds to wait for the leader, 1 to ${BACKFILL_TIMEOUT_MAX_S} (default ${DEFAULTS.backfillTimeoutS}); then the
        request is withdrawn (what was published stays published)`,
    },
    json: { type: 'boolean', help: 'print the result (or the --dry-run slots) as JSON' },
    ...selectorOption,
  },
  run: (args, io) => backfillCommand(args.values, args.positionals, io),
});

type BackfillValues = {
  config?: string;
  broker?: string;
  from?: string;
  to?: string;
  'dry-run'?: boolean;
  limit?: string;
  unrecorded?: boolean;
  note?: string;
  overlap?: string;
  timeout?: string;
  json?: boolean;
  selector?: string;
};

async function backfillCommand(values: BackfillValues, positionals: readonly string[], io: Io): Promise<ExitCode> {
  const input = checkedInput(values);
  const timeoutS =
    values.timeout === undefined
      ? DEFAULTS.backfillTimeoutS
      : parseCount('backfill', '--timeout', values.timeout, 1, BACKFILL_TIMEOUT_MAX_S);
  const selector = selectorArg('backfill', values.selector);
  oneOrSelected('backfill', positionals[0], selector);
  const django = djangoOverride(io, undefined);
  const control = await openControl(io, values.config, values.broker, undefined, django);
  try {
    if (selector !== undefined) return await backfillSelected(control, selector, input, timeoutS, values, io, django);
    const entry = await requireControlEntry('backfill', control, positionals[0], django);
    const { plan, policy } = await planFor(control, entry, input);
    if (input.dryRun) return printDryRun(io, entry, plan, values);
    await requireLeaderHas('backfill', control, entry.name, io);
    const [queued] = await queueBackfills(
      control.control,
      control.audit(input.note),
      [{ entry: entry.name, plan }],
      input,
      undefined,
      io.now(),
    );
    const run: BackfillRun = {
      entry: entry.name,
      id: queued?.id ?? '',
      text: queued?.text ?? '',
      total: plan.slots.length + plan.excluded.length,
      policy,
      timeoutS,
    };
    const progress = await awaitLeader(control, run, io);
    return await report(control, run, progress, values, io);
  } catch (error) {
    throw control.failure('backfill', error);
  } finally {
    await control.close();
  }
}

/**
 * `beat backfill -l`: every selected entry's range, planned and checked before any is requested,
 * queued in one MULTI with one audit event, then waited for and reported one after the other (the
 * leader takes them in order). Exit 1 when any did not finish.
 */
async function backfillSelected(
  control: Control,
  selector: LabelSelector,
  input: BackfillInput,
  timeoutS: number,
  values: BackfillValues,
  io: Io,
  django: BrokerOverride | undefined,
): Promise<ExitCode> {
  const entries = await selectEntries(control, selector, django);
  if (entries.length === 0) throw nothingSelected('backfill', selector);
  const planned: { entry: ResolvedEntry; plan: BackfillPlan; policy: BackfillOverlap }[] = [];
  for (const entry of entries) planned.push({ entry, ...(await planFor(control, entry, input)) });
  if (input.dryRun) {
    for (const { entry, plan } of planned) printDryRun(io, entry, plan, values);
    return ExitCode.Ok;
  }
  const { mismatch } = await control.check();
  if (mismatch !== undefined) io.err(`beat backfill: WARNING: ${mismatch.message}`);
  const by = control.audit(input.note);
  const queued = await queueBackfills(
    control.control,
    by,
    planned.map(({ entry, plan }) => ({ entry: entry.name, plan })),
    input,
    selector.text,
    io.now(),
  );
  let exit: ExitCode = ExitCode.Ok;
  for (const [i, { entry, plan, policy }] of planned.entries()) {
    const request = queued[i];
    if (request === undefined) continue;
    const run: BackfillRun = { ...request, entry: entry.name, total: plan.slots.length + plan.excluded.length, policy, timeoutS };
    const code = await report(control, run, await awaitLeader(control, run, io), values, io);
    if (code !== ExitCode.Ok) exit = code;
  }
  return exit;
}

/** The flags as a backfill request's input; exit 2 naming every problem. */
function checkedInput(values: BackfillValues): BackfillInput {
  const checked = checkBackfillInput(
    {
      from: values.from,
      to: values.to,
      limit: values.limit,
      dryRun: values['dry-run'],
      unrecorded: values.unrecorded,
      note: values.note,
      overlap: values.overlap,
    },
    CLI_FIELDS,
  );
  if (checked.problems !== undefined)
    throw new BeatError(ErrorCode.Usage, `beat backfill: ${checked.problems.map((p) => p.message).join('; ')}`);
  return checked.input;
}

/** The entry's slots in the range and the overlap policy they go out under; exit 2 when either cannot be. */
async function planFor(
  control: Control,
  entry: ResolvedEntry,
  input: BackfillInput,
): Promise<{ plan: BackfillPlan; policy: BackfillOverlap }> {
  const stored = (await control.states.readSome([entry.name])).get(entry.name);
  const plan = planBackfill(entry, input, stored?.slotMs);
  if ('refusal' in plan) throw new BeatError(ErrorCode.Usage, `beat backfill: ${plan.refusal}`);
  if (plan.overLimit) throw new BeatError(ErrorCode.Usage, `beat backfill: ${overLimitMessage(entry.name, input.limit, CLI_FIELDS)}`);
  const applied = backfillPolicy(input, entry, control.config, CLI_FIELDS);
  if (applied.problem !== undefined) throw new BeatError(ErrorCode.Usage, `beat backfill: ${applied.problem}`);
  return { plan, policy: applied.policy };
}

function printDryRun(io: Io, entry: ResolvedEntry, plan: BackfillPlan, values: BackfillValues): ExitCode {
  const slots = slotTexts(plan.slots, entry.timezone);
  const excluded = slotTexts(plan.excluded, entry.timezone);
  if (values.json) {
    io.out(JSON.stringify({ entry: entry.name, timezone: entry.timezone, dryRun: true, slots, excluded }));
  } else {
    io.out(`${entry.name}: ${slots.length} slot${slots.length === 1 ? '' : 's'} from ${values.from} to ${values.to}`);
    for (const slot of slots) io.out(`  ${slot}`);
    if (excluded.length > 0) io.out(`${excluded.length} excluded (not backfilled): ${excluded.join(', ')}`);
  }
  return ExitCode.Ok;
}

/** A backfill handed to the leader: what the waiting and the report name. */
interface BackfillRun {
  readonly entry: string;
  readonly id: string;
  /** The request as stored: what withdraws it at the timeout. */
  readonly text: string;
  /** The slots in the range (run and excluded) as planned here, until the leader's own count. */
  readonly total: number;
  readonly policy: BackfillOverlap;
  readonly timeoutS: number;
}

/** The request's progress once the leader is done, or at the timeout (the request then withdrawn), shown as it goes. */
async function awaitLeader(control: Control, run: BackfillRun, io: Io): Promise<BackfillProgress | undefined> {
  const say = (p: BackfillProgress, done = false): void =>
    io.progress?.(`backfill ${run.entry}: ${coveredSlots(p)}/${p.total ?? run.total} slots${done ? '' : `, ${progressText(p)}`}`, done);
  const progress = await awaitBackfill(control.control, run, { waitMs: run.timeoutS * 1000, withdraw: true, onProgress: say });
  if (progress !== undefined) say(progress, true);
  return progress;
}

async function report(
  control: Control,
  run: BackfillRun,
  progress: BackfillProgress | undefined,
  values: BackfillValues,
  io: Io,
): Promise<ExitCode> {
  if (progress?.error !== undefined) {
    io.err(`beat backfill: the leader refused the backfill of ${shown(run.entry)}: ${progress.error}`);
    return ExitCode.Failure;
  }
  if (progress?.doneMs === undefined) {
    const leader = await control.control.leader();
    io.err(
      `beat backfill: the leader did not finish the backfill of ${shown(run.entry)} within ${run.timeoutS} s (${leader ? `leader ${leader.instance}` : 'no beat run instance is leading'}); the request was withdrawn${progress ? ` after ${progressText(progress)}` : ''}. What was published stays published: run the same command again to go on`,
    );
    return ExitCode.Failure;
  }
  if (values.json) {
    const { published, recorded, excluded, ahead, unrecorded, overlap } = progress;
    io.out(
      JSON.stringify({
        entry: run.entry,
        id: run.id,
        from: values.from,
        to: values.to,
        total: progress.total ?? run.total,
        overlapPolicy: run.policy,
        published,
        skipped: { recorded, excluded, ahead, unrecorded, overlap },
      }),
    );
  } else io.out(`backfilled ${run.entry} (overlap ${run.policy}): ${progressText(progress)}`);
  return ExitCode.Ok;
}
