/**
 * `beat dead-letter list|replay|discard` (issue 70; docs/outcomes.md, "Retries and the dead-letter
 * list"): the deployment's slots that failed for good, read from Redis, replayed through the
 * leader's fenced trigger path or discarded, each change audited. The verbs are
 * src/operations/dead-letter-verbs.ts, which /api and the client call too.
 */
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { NOTE_MAX_CHARS, noteProblem } from '../base/note-text.js';
import type { LabelSelector } from '../core/label-selector.js';
import { runVerb } from '../operations/door.js';
import type { DeadLetterPick } from '../operations/door.js';
import { controlDoor } from './control.js';
import { leaf } from './command-spec.js';
import type { Command, OptionHelps } from './command-spec.js';
import { redisOptions, withControl } from './control-open.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import { parseCount } from './args.js';
import { selectorArg, selectorOption } from './selector-args.js';
import { renderTable } from './table.js';

const listSpec = leaf({
  name: 'dead-letter list',
  summary: 'the slots that failed for good: id, entry, slot, attempts, how they ended, the last exception',
  listed: [{ label: 'list [-l SELECTOR] [--json]', summary: 'the slots that failed for good, oldest first' }],
  about: `Lists the deployment's dead-letter list, oldest first: each slot whose run failed for good (its
retry attempts exhausted, or a failure of an entry with deadLetter: true), with its ID (what replay
and discard take), entry, slot, the last attempt's task id, attempts, END (failure, or lost: no
outcome within outcomeTimeout), when, and the last exception when the outcome gave one.
`,
  options: {
    ...redisOptions,
    json: {
      type: 'boolean',
      help: 'one JSON object per item in an array: id, entry, slot, taskId, retryOf, attempts, end, exception, at',
    },
    ...selectorOption,
  },
  run: (args, io) => listCommand(args.values, io),
});

const noteOption = {
  note: { type: 'string', value: 'TEXT', help: `why, in one line of at most ${NOTE_MAX_CHARS} characters: kept in the audit trail` },
} as const satisfies OptionHelps;
const allOption = {
  all: { type: 'boolean', help: 'every item whose entry -l selects (both are needed: a bulk action names what it acts on)' },
} as const satisfies OptionHelps;

const replaySpec = leaf({
  name: 'dead-letter replay',
  summary: 'publish a dead letter again (or every one -l selects with --all), once, through the leader',
  listed: [{ label: 'replay ID|--all -l SELECTOR [--note]', summary: 'publish dead letters again, once each, through the leader' }],
  positionals: { usage: '[ID]', most: 1 },
  usage: 'ID|--all -l SELECTOR [--config PATH] [--broker URL] [--timeout SECONDS] [--note TEXT]',
  about: `Publishes the slot's message again (its entry's message for that slot, as a retry attempt is
rendered) as a manual run under a new task id derived from the item's id, through the leader's
fenced trigger path: the item leaves the list in the step that queues the run, so it is published
once however often replay is asked. Recorded in the audit trail (dead-letter-replay). Waits up to
--timeout for the leader to publish it; a run not published by then stays queued for the leader
(it is not withdrawn). Should the leader drop it unpublished (older than 15 minutes when read, its
entry gone from the leader's config, refused by the broker), the item goes back on the list.
Refused while the deployment is stopped (beat pause --all), nothing taken. An ID not on the list,
or one whose entry was deleted (or deleted and created again) since its run, exits 2: discard it.
`,
  options: {
    ...redisOptions,
    timeout: { type: 'string', short: 't', value: 'SECONDS', help: 'seconds to wait for the leader, 1 to 300 (default 10)' },
    ...noteOption,
    ...allOption,
    ...selectorOption,
  },
  run: (args, io) => replayCommand(args.values, args.positionals, io),
});

const discardSpec = leaf({
  name: 'dead-letter discard',
  summary: 'remove a dead letter (or every one -l selects with --all) without running it',
  listed: [{ label: 'discard ID|--all -l SELECTOR [--note]', summary: 'remove dead letters without running them' }],
  positionals: { usage: '[ID]', most: 1 },
  usage: 'ID|--all -l SELECTOR [--config PATH] [--broker URL] [--note TEXT]',
  about: `Removes items from the dead-letter list without publishing anything, recorded in the audit
trail (dead-letter-discard). An ID not on the list exits 2.
`,
  options: { ...redisOptions, ...noteOption, ...allOption, ...selectorOption },
  run: (args, io) => discardCommand(args.values, args.positionals, io),
});

export const deadLetterSpec: Command = {
  name: 'dead-letter',
  usage: '<command> [options]',
  about: `The deployment's dead-letter list (docs/outcomes.md, "Retries and the dead-letter list"): the slots
whose run failed for good, kept in Redis (bounded by deadLetters.maxItems and deadLetters.maxBytes;
the oldest leave first), to replay or discard.
`,
  heading: 'Commands',
  commands: [listSpec, replaySpec, discardSpec],
  after: `Bad input exits 2 naming the fix, with nothing done; an unreachable Redis exits 1.
Run 'beat dead-letter <command> --help' for its options.
`,
};

function noteOf(verb: string, text: string | undefined): string | undefined {
  const problem = text === undefined ? undefined : noteProblem(text);
  if (problem !== undefined) throw new BeatError(ErrorCode.Usage, `beat dead-letter ${verb}: --note: ${problem}`);
  return text;
}

/** ID, or --all with -l: exactly one of the two. */
function targetOf(verb: string, id: string | undefined, all: boolean | undefined, selector: LabelSelector | undefined): DeadLetterPick {
  const usage = `give a dead letter's ID (beat dead-letter list shows them), or --all -l SELECTOR`;
  if (id !== undefined) {
    if (all === true || selector !== undefined)
      throw new BeatError(ErrorCode.Usage, `beat dead-letter ${verb}: give ID or --all -l SELECTOR, not both`);
    if (id.trim() === '') throw new BeatError(ErrorCode.Usage, `beat dead-letter ${verb}: the ID is empty; ${usage}`);
    return { id };
  }
  if (all !== true)
    throw new BeatError(ErrorCode.Usage, `beat dead-letter ${verb}: ${selector === undefined ? 'no ID' : '-l without --all'}; ${usage}`);
  if (selector === undefined)
    throw new BeatError(ErrorCode.Usage, `beat dead-letter ${verb}: --all needs -l SELECTOR (the items whose entry it selects)`);
  return { selector: selector.text };
}

async function listCommand(values: { config?: string; broker?: string; json?: boolean; selector?: string }, io: Io): Promise<ExitCode> {
  const selector = selectorArg('dead-letter list', values.selector);
  return withControl(io, 'dead-letter list', values, async (control) => {
    const views = await runVerb('deadLetters', controlDoor('dead-letter list', control, io), control.audit(undefined), {
      selector: selector?.text,
    });
    if (values.json === true) {
      io.out(JSON.stringify(views, null, 2));
      return ExitCode.Ok;
    }
    if (views.length === 0) {
      io.out(selector === undefined ? 'the dead-letter list is empty' : `no dead letter's entry matches -l ${shown(selector.text)}`);
      return ExitCode.Ok;
    }
    io.out(
      renderTable(
        ['ID', 'ENTRY', 'SLOT', 'ATTEMPTS', 'END', 'AT', 'EXCEPTION'],
        views.map((v) => [v.id, v.entry, v.slot, String(v.attempts), v.end, v.at, v.exception ?? '-']),
      ),
    );
    return ExitCode.Ok;
  });
}

async function replayCommand(
  values: { config?: string; broker?: string; timeout?: string; note?: string; all?: boolean; selector?: string },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const note = noteOf('replay', values.note);
  const target = targetOf('replay', positionals[0], values.all, selectorArg('dead-letter replay', values.selector));
  const timeoutMs = (values.timeout === undefined ? 10 : parseCount('dead-letter replay', '--timeout', values.timeout, 1, 300)) * 1000;
  return withControl(io, 'dead-letter replay', values, async (control) => {
    const door = controlDoor('dead-letter replay', control, io, undefined, 'selector' in target);
    // Never withdrawn: the items have left the list, so the runs are the only record of them.
    const outcomes = await runVerb('replay', door, control.audit(note), { target, waitMs: timeoutMs });
    for (const run of outcomes) {
      const { id } = run;
      if (run.state === 'published') io.out(`replayed ${id} (${run.entry}): task id ${run.taskId}`);
      else if (run.state === 'refused')
        io.err(
          `beat dead-letter replay: the leader refused the replay of ${id} (${run.entry}): ${run.refusal ?? ''}; the item is back on the list`,
        );
      else
        io.err(
          `beat dead-letter replay: ${id} (${run.entry}) is queued as task id ${run.taskId}; no leader published it within ${timeoutMs / 1000} s (a leader will; should it drop the run, the item goes back on the list)`,
        );
    }
    return outcomes.every((r) => r.state === 'published') ? ExitCode.Ok : ExitCode.Failure;
  });
}

async function discardCommand(
  values: { config?: string; broker?: string; note?: string; all?: boolean; selector?: string },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const note = noteOf('discard', values.note);
  const target = targetOf('discard', positionals[0], values.all, selectorArg('dead-letter discard', values.selector));
  return withControl(io, 'dead-letter discard', values, async (control) => {
    const door = controlDoor('dead-letter discard', control, io, undefined, 'selector' in target);
    const gone = await runVerb('discard', door, control.audit(note), { target });
    for (const d of gone) io.out(`discarded ${d.id} (${d.entry})`);
    return ExitCode.Ok;
  });
}
