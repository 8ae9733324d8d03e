/**
 * An entry's canvas (a `chain`, and `link` / `linkError` callbacks) → the one task message Celery's
 * own `chain(...).apply_async(args, kwargs, **options)` (or `signature.apply_async(link=…,
 * link_error=…)`) publishes for it, read from celery/canvas.py (`_chain.run`, `prepare_steps`,
 * `Signature.freeze`) and celery/app/amqp.py (`as_task_v2`'s embed). Celery 5.2 and 5.5 publish
 * the same (test/fixtures/celery-canvas-*.json):
 * - the message is the chain's first task, its args and kwargs prefixed and merged with the
 *   canvas's (`task.clone(args, kwargs)`), its options under the canvas's;
 * - `embed.chain` is the other steps as signature dicts, last first (the worker pops the next one),
 *   each frozen with a `task_id` and the publisher's `reply_to` in its options; a group or chord step
 *   frozen whole (`group._freeze_unroll`, `_chord.freeze`): the worker before it publishes it;
 * - `embed.callbacks` / `errbacks` are the first task's `link` / `link_error`; a canvas-wide
 *   `linkError` is added to every step's (unless already there), a canvas-wide `link` to the last step's.
 *
 * Ids: the run's id (the slot's, task-id.ts) is what `apply_async(task_id=…)` would give the canvas:
 * the chain's last task, whose result is the chain's result (and where Celery's backend marks a
 * failure of any earlier step too), or its chord's body. Every other part's id is the UUID v5 of its
 * path (`chain[0]`, `chain[2].header[1]`) under the run's id, so a run published again (a replay
 * after failover) carries the same ids throughout. Pure.
 */
import { isSignature } from '../config/canvas-schema.js';
import type { CanvasParts, ParsedMember, ParsedSignature, ParsedStep } from '../config/canvas-schema.js';
import type { Options } from '../config/options-schema.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { json, refuseNonJson } from './template-parts.js';
import { quoteJson } from './json-text.js';
import { SLOT_ID_NAMESPACE, uuidV5 } from './task-id.js';

/** The first message's task call: what the message's headers and args come from. */
export interface CanvasCall {
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: Options;
}

/** The part of an entry a canvas message depends on (a `ResolvedEntry` fits). */
export interface CanvasEntry {
  readonly name: string;
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: Options;
  readonly canvas?: CanvasParts | undefined;
}

/**
 * A canvas compiled once per entry: the body's JSON text around the ids, which change per run.
 * `parts` alternates constant text (even indexes) and id paths (odd ones): each path's id is the
 * UUID v5 of the path under the run's id (canvasPartId), `` the run's own.
 */
export interface CompiledCanvas {
  readonly parts: readonly string[];
  /** The path of the published message's own id (`chain[0]`; `` for a task with callbacks). */
  readonly firstPath: string;
}

/** Whether an entry's run is a canvas (a chain, or a task with callbacks) rather than one plain task message. */
export function hasCanvas(entry: CanvasEntry): boolean {
  const c = entry.canvas;
  return (
    c !== undefined &&
    (c.chain !== undefined || c.group !== undefined || c.chord !== undefined || (c.link?.length ?? 0) > 0 || (c.linkError?.length ?? 0) > 0)
  );
}

/** The canvas's first task call: the chain's first step with the canvas's args, kwargs and options over it. */
export function canvasCall(entry: CanvasEntry): CanvasCall {
  const first = entry.canvas?.chain?.[0];
  // The schema makes a chain's first step a signature.
  if (first === undefined || !isSignature(first)) return entry;
  return {
    task: first.task,
    // Signature._merge: partial args go first, partial kwargs win; an immutable signature takes neither.
    args: first.immutable ? first.args : [...entry.args, ...first.args],
    kwargs: first.immutable ? first.kwargs : { ...first.kwargs, ...entry.kwargs },
    options: { ...first.options, ...entry.options },
  };
}

/** Options as `apply_async` takes them (and a signature dict holds them): Celery's names for tsbeat's. */
export function celeryOptions(options: Options): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const names: readonly (readonly [keyof Options, string])[] = [
    ['queue', 'queue'],
    ['exchange', 'exchange'],
    ['exchangeType', 'exchange_type'],
    ['routingKey', 'routing_key'],
    ['priority', 'priority'],
    ['expires', 'expires'],
    ['countdown', 'countdown'],
    ['headers', 'headers'],
    ['timeLimit', 'time_limit'],
    ['softTimeLimit', 'soft_time_limit'],
    ['ignoreResult', 'ignore_result'],
    ['shadow', 'shadow'],
    ['deliveryMode', 'delivery_mode'],
    ['messageGroupId', 'MessageGroupId'],
  ];
  for (const [ours, theirs] of names) if (options[ours] !== undefined) out[theirs] = options[ours];
  return out;
}

/**
 * Celery's `Signature` as a dict (what `dict(sig)` serializes to), its links in its options, with
 * `links` / `errbacks` added after its own (the canvas-wide ones) and `frozen` after those
 * (`Signature.freeze`'s task_id and reply_to): the key order Celery's dict has.
 */
function signatureDict(
  sig: ParsedSignature,
  added: { links?: readonly unknown[]; errbacks?: readonly unknown[]; frozen?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const options: Record<string, unknown> = celeryOptions(sig.options);
  const links = [...(sig.link ?? []).map((s) => signatureDict(s)), ...(added.links ?? [])];
  if (links.length > 0) options.link = links;
  const errbacks = withErrbacks(
    (sig.linkError ?? []).map((s) => signatureDict(s)),
    added.errbacks ?? [],
  );
  if (errbacks.length > 0) options.link_error = errbacks;
  Object.assign(options, added.frozen);
  return { task: sig.task, args: sig.args, kwargs: sig.kwargs, options, subtask_type: null, immutable: sig.immutable };
}

/** `append_to_list_option('link_error', …)`: each added unless an equal one is there. */
function withErrbacks(own: readonly unknown[], added: readonly unknown[]): unknown[] {
  const out = [...own];
  const seen = new Set(own.map((d) => json(d)));
  for (const d of added) {
    const text = json(d);
    if (!seen.has(text)) {
      seen.add(text);
      out.push(d);
    }
  }
  return out;
}

const list = (dicts: readonly unknown[]): string => (dicts.length === 0 ? 'null' : json(dicts));

/** Stands for an id in a dict until its text is split into parts: the path between the marks. */
const MARK = '\u0000tsbeat-id:';
const mark = (path: string): string => `${MARK}${path}\u0000`;
/** A mark as JSON writes it, its path captured (a path holds no quote or backslash). */
const MARKED = /"\\u0000tsbeat-id:([^"\\]*)\\u0000"/g;

/** `Signature.freeze`'s keys: its id and the publisher's reply_to, then what the canvas adds. */
const frozen = (path: string, replyTo: string, more: Record<string, unknown> = {}): Record<string, unknown> => ({
  task_id: mark(path),
  reply_to: replyTo,
  ...more,
});

/**
 * A group's or chord header's members, frozen as `group._freeze_unroll` freezes them: each with its
 * id, `chord` (the body, in a chord) and `group_index`; a chain member by `prepare_steps` (its last
 * task takes the chord and the index; Celery 5.5 writes its `task_id: None`, 5.2 leaves it out).
 */
function memberDicts(
  members: readonly ParsedMember[],
  path: string,
  replyTo: string,
  chord: Record<string, unknown> | undefined,
): unknown[] {
  return members.map((member, j) => {
    const at = `${path}[${j}]`;
    const joined = { ...(chord === undefined ? {} : { chord }), group_index: j };
    if (isSignature(member)) return signatureDict(member, { frozen: frozen(at, replyTo, joined) });
    const last = member.chain.length - 1;
    const tasks = member.chain.map((sig, k) =>
      signatureDict(sig, { frozen: frozen(`${at}.chain[${k}]`, replyTo, k === last ? joined : {}) }),
    );
    return { task: 'celery.chain', args: [], kwargs: { tasks }, options: { task_id: null }, subtask_type: 'chain', immutable: false };
  });
}

const groupDict = (tasks: unknown[], options: Record<string, unknown>): Record<string, unknown> => ({
  task: 'celery.group',
  args: [],
  kwargs: { tasks },
  options,
  subtask_type: 'group',
  immutable: false,
});

/**
 * A chain's step as Celery runs it, with the paths of its ids. Celery's chain upgrades a group
 * followed by a signature to a chord of the two (`_chain.__or__`: "chain [last item is group] |
 * task -> chord"), so such a pair is one chord step here, its members at `chain[i].group[j]` and
 * its body at `chain[i+1]`, where the entry has them.
 * - `at`: the path of the step's result id (a signature's, a group's, a chord body's), `` for the last step;
 * - a signature's part is at `path` (`chain[i]`);
 * - a group (the last step only) has its members at `membersAt[j]`;
 * - a chord has its header group's id at `membersAt`, its members at `membersAt[j]`, and its body's
 *   part at `bodyAt` (`chain[i].body` as written, `chain[i+1]` for a group followed by a signature).
 */
type CeleryStep =
  | { readonly kind: 'signature'; readonly sig: ParsedSignature; readonly at: string; readonly path: string }
  | { readonly kind: 'group'; readonly members: readonly ParsedMember[]; readonly at: string; readonly membersAt: string }
  | {
      readonly kind: 'chord';
      readonly members: readonly ParsedMember[];
      readonly body: ParsedSignature;
      readonly at: string;
      readonly membersAt: string;
      readonly bodyAt: string;
      /** Made of a group and the signature after it: prepare_steps builds it with `root_id`, so its options hold `root_id: null`. */
      readonly upgraded: boolean;
    };

/** An entry's chain as Celery runs it (see CeleryStep); the schema lets a group be followed by a signature only. */
function celerySteps(chain: readonly ParsedStep[]): CeleryStep[] {
  const out: CeleryStep[] = [];
  for (let i = 0; i < chain.length; i += 1) {
    const step = chain[i] as ParsedStep;
    const at = `chain[${i}]`;
    const next = chain[i + 1];
    if (isSignature(step)) out.push({ kind: 'signature', sig: step, at, path: at });
    else if ('chord' in step)
      out.push({
        kind: 'chord',
        members: step.chord.header,
        body: step.chord.body,
        at,
        membersAt: `${at}.header`,
        bodyAt: `${at}.body`,
        upgraded: false,
      });
    else if (next !== undefined && isSignature(next)) {
      const bodyAt = `chain[${i + 1}]`;
      out.push({ kind: 'chord', members: step.group, body: next, at: bodyAt, membersAt: `${at}.group`, bodyAt, upgraded: true });
      i += 1;
    } else out.push({ kind: 'group', members: step.group, at, membersAt: `${at}.group` });
  }
  // The last step's result is the run's: its id the run's own.
  return out.map((step, k) => (k === out.length - 1 ? { ...step, at: '' } : step));
}

/**
 * A later step of a chain, frozen as `prepare_steps` freezes it: a signature with its id; a group
 * (the last step) with its id and its members'; a chord with its group's id, its members' and its
 * body's (the step's result id).
 */
function stepDict(step: CeleryStep, replyTo: string, added: { links: readonly unknown[]; errbacks: readonly unknown[] }): unknown {
  if (step.kind === 'signature') return signatureDict(step.sig, { ...added, frozen: frozen(step.at, replyTo) });
  if (step.kind === 'group') {
    return groupDict(memberDicts(step.members, step.membersAt, replyTo, undefined), {
      task_id: mark(step.at),
      root_id: null,
      parent_id: null,
    });
  }
  const body = signatureDict(step.body, { frozen: frozen(step.at, replyTo) });
  const gid = mark(step.membersAt);
  const header = groupDict(memberDicts(step.members, step.membersAt, replyTo, body), {
    task_id: gid,
    chord: body,
    root_id: null,
    parent_id: null,
  });
  return {
    task: 'celery.chord',
    args: [],
    kwargs: { kwargs: {}, header, body },
    options: step.upgraded ? { task_id: gid, root_id: null } : { task_id: gid },
    subtask_type: 'chord',
    immutable: false,
  };
}

/**
 * Compiles an entry's canvas: `args` and `kwargs` are the first call's JSON text (canvasCall's,
 * already serialized by the caller); `replyTo` the publisher's (`Signature.freeze` writes the app's
 * `thread_oid` into each frozen step, which is the `reply_to` of its messages).
 */
export function compileCanvas(entry: CanvasEntry, args: string, kwargs: string, replyTo: string): CompiledCanvas {
  const canvas = entry.canvas ?? {};
  refuseNonJson(entry.name, 'chain', canvas.chain ?? []);
  // The marks stand for ids only if no value of the entry's spells one.
  if (`${args}${kwargs}${json(canvas)}`.includes('\\u0000tsbeat-id:'))
    throw new BeatError(
      ErrorCode.MessageInvalid,
      `entry "${entry.name}": its arguments hold the text "\\u0000tsbeat-id:", which tsbeat reserves`,
    );
  const canvasLinks = (canvas.link ?? []).map((s) => signatureDict(s));
  const canvasErrbacks = (canvas.linkError ?? []).map((s) => signatureDict(s));
  const chain = celerySteps(canvas.chain ?? []);
  const first = chain[0];
  const last = chain.length - 1;
  const firstSig = first?.kind === 'signature' ? first.sig : undefined;
  const firstLinks = [...(firstSig?.link ?? []).map((s) => signatureDict(s)), ...(last <= 0 ? canvasLinks : [])];
  const firstErrbacks = withErrbacks(
    (firstSig?.linkError ?? []).map((s) => signatureDict(s)),
    canvasErrbacks,
  );
  const steps: unknown[] = [];
  for (let i = last; i >= 1; i -= 1) {
    const added = { links: i === last ? canvasLinks : [], errbacks: canvasErrbacks };
    steps.push(stepDict(chain[i] as CeleryStep, replyTo, added));
  }
  const text = `[${args},${kwargs},{"callbacks":${list(firstLinks)},"errbacks":${list(firstErrbacks)},"chain":${steps.length === 0 ? 'null' : json(steps)},"chord":null}]`;
  return { parts: text.split(MARKED), firstPath: first?.at ?? '' };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The id of the part at `path` of a run with id `runId`: `` (the canvas's result: the chain's last
 * step, or its chord's body) has the run's own; the others the UUID v5 of their path (`chain[0]`,
 * `chain[2].header[1]`) in the run's id as namespace (in tsbeat's slot-id namespace with the run's
 * id for an id that is not a UUID, as `beat trigger --id` may give).
 */
export function canvasPartId(runId: string, path: string): string {
  if (path === '') return runId;
  return UUID.test(runId) ? uuidV5(runId, path) : uuidV5(SLOT_ID_NAMESPACE, `${runId}\n${path}`);
}

/** The id of the message published for a run with id `runId`: the chain's first task's. */
export function canvasMessageId(canvas: CompiledCanvas, runId: string): string {
  return canvasPartId(runId, canvas.firstPath);
}

/** The body of the run with id `runId`: every part's id in its place. */
export function renderCanvasBody(canvas: CompiledCanvas, runId: string): string {
  const { parts } = canvas;
  let out = parts[0] as string;
  for (let i = 1; i < parts.length; i += 2) out += `${quoteJson(canvasPartId(runId, parts[i] as string))}${parts[i + 1] as string}`;
  return out;
}

/**
 * A group or chord as the whole run (Celery's `group.apply_async`, `chord.apply_async`), or as a
 * chain's first step (runGroup): one message per member, read from celery/canvas.py
 * (`group._apply_tasks`, `_freeze_group_tasks`, `_chord.run`, `_chain.run`).
 */
export interface CanvasMember {
  /** The member's first task call, the canvas's args, kwargs and options over it (`task.clone(partial_args)`). */
  readonly call: CanvasCall;
  /** Its index in the group or header: `group_index`. */
  readonly index: number;
  readonly member: ParsedMember;
}

/**
 * A run of several messages, as the group or chord it publishes: its members (where their ids are,
 * `membersAt[j]`), its group's id path, and a chord's body (its id path, and what its options gain).
 * - an entry's `group`: the group's id is the run's (`group.apply_async(task_id=…)`), members at `group[j]`;
 * - an entry's `chord`: the header group at `header`, its members at `header[j]`, the body the run's id;
 * - a chain whose first step is a group followed by a signature (Celery's chain makes them a chord,
 *   `_chain.__or__`) or a chord: `chain.apply_async` applies that chord (`_chain.run`) with the
 *   chain's later steps in its options (`_prepare_chain_from_options`: `chain`, last first), which
 *   `_chord.run` passes to the body (`body.options.update(options)`), so the worker that runs the body
 *   sends them. Its header group at `chain[0].group` / `chain[0].header`; the body's id at its
 *   result path (`chain[1]` / `chain[0]`), the run's own when no step follows; an upgraded chord
 *   (built in prepare_steps with `root_id`) adds `root_id: null` to the body's options.
 */
interface RunGroup {
  readonly members: readonly ParsedMember[];
  readonly membersAt: string;
  readonly groupAt: string;
  readonly body?: {
    readonly sig: ParsedSignature;
    /** Its part's path (`body`, `chain[1]`, `chain[0].body`) and its id's. */
    readonly path: string;
    readonly idAt: string;
    /** The chain's steps after it: signatures, with their paths. */
    readonly after: readonly { readonly sig: ParsedSignature; readonly path: string }[];
    /** It comes from a chain (`chain` in its options, and `root_id` when upgraded). */
    readonly inChain: boolean;
    readonly upgraded: boolean;
  };
}

function runGroup(entry: CanvasEntry): RunGroup | undefined {
  const canvas = entry.canvas;
  if (canvas?.group !== undefined) return { members: canvas.group, membersAt: 'group', groupAt: '' };
  if (canvas?.chord !== undefined)
    return {
      members: canvas.chord.header,
      membersAt: 'header',
      groupAt: 'header',
      body: { sig: canvas.chord.body, path: 'body', idAt: '', after: [], inChain: false, upgraded: false },
    };
  const chain = canvas?.chain;
  const first = chain?.[0];
  if (chain === undefined || first === undefined || isSignature(first)) return undefined;
  // The schema puts a signature after a first group, and signatures only after its body or a first chord.
  const group = 'group' in first ? first.group : undefined;
  const chord = 'chord' in first ? first.chord : undefined;
  const upgraded = group !== undefined;
  const bodyIndex = upgraded ? 1 : 0;
  const body = upgraded ? chain[1] : chord?.body;
  if (body === undefined || !isSignature(body)) return undefined;
  const at = (k: number): string => `chain[${k}]`;
  const after = chain.slice(bodyIndex + 1).map((sig, i) => ({ sig: sig as ParsedSignature, path: at(bodyIndex + 1 + i) }));
  const membersAt = upgraded ? 'chain[0].group' : 'chain[0].header';
  return {
    members: group ?? chord?.header ?? [],
    membersAt,
    groupAt: membersAt,
    body: {
      sig: body,
      path: upgraded ? at(1) : 'chain[0].body',
      idAt: after.length === 0 ? '' : at(bodyIndex),
      after,
      inChain: true,
      upgraded,
    },
  };
}

/** Whether an entry's run is a group or a chord (the whole run, or a chain's first step): several messages (canvasMembers), not one. */
export function isGroupRun(entry: CanvasEntry): boolean {
  return runGroup(entry) !== undefined;
}

/** A call with the canvas's partial args, kwargs and options over it (Signature._merge), unless immutable. */
function merged(sig: ParsedSignature, entry: CanvasEntry): CanvasCall {
  return {
    task: sig.task,
    args: sig.immutable ? sig.args : [...entry.args, ...sig.args],
    kwargs: sig.immutable ? sig.kwargs : { ...sig.kwargs, ...entry.kwargs },
    options: { ...sig.options, ...entry.options },
  };
}

/** The messages of a group or chord run, in the order Celery sends them; empty for any other run. */
export function canvasMembers(entry: CanvasEntry): CanvasMember[] {
  const list = runGroup(entry)?.members ?? [];
  return list.map((member, index) => ({
    call: merged(isSignature(member) ? member : (member.chain[0] as ParsedSignature), entry),
    index,
    member,
  }));
}

/** A member's message: its body, and the path of its `group` header's id (none for a chain member's first task). */
export interface CompiledMember {
  readonly canvas: CompiledCanvas;
  readonly groupPath: string | undefined;
}

/** Whether a member's message is sent in its group (a signature, a chain of one): its `group_index`; undefined for a chain's first task. */
export function memberGroupIndex(member: CanvasMember): number | undefined {
  return isSignature(member.member) || member.member.chain.length === 1 ? member.index : undefined;
}

/**
 * Compiles a member's message of a group or chord run; `args` and `kwargs` are its call's JSON text.
 * A signature member is sent in the group (`group` and `group_index` headers; in a chord the body
 * as `embed.chord`). A chain member is sent as its first task outside the group, its later tasks in
 * `embed.chain`, the last one frozen into the group (`group_id`, the chord's body, `group_index`) as
 * `_chain.freeze(group_id=…, chord=…, group_index=…)` does.
 */
export function compileMember(entry: CanvasEntry, member: CanvasMember, args: string, kwargs: string, replyTo: string): CompiledMember {
  refuseNonJson(entry.name, 'group', [member.member]);
  if (`${args}${kwargs}${json(member.member)}`.includes('\\u0000tsbeat-id:'))
    throw new BeatError(
      ErrorCode.MessageInvalid,
      `entry "${entry.name}": its arguments hold the text "\\u0000tsbeat-id:", which tsbeat reserves`,
    );
  const run = runGroup(entry);
  const paths = { group: run?.groupAt ?? '', members: run?.membersAt ?? 'group' };
  const at = `${paths.members}[${member.index}]`;
  const b = run?.body;
  // _chord.run: `body.options.update(options)` (the entry's, and a chain's later steps) before freezing it.
  const later = b?.after.map(({ sig, path }, i) => signatureDict(sig, { frozen: frozen(i === b.after.length - 1 ? '' : path, replyTo) }));
  const body =
    b === undefined
      ? undefined
      : signatureDict(
          { ...b.sig, options: { ...b.sig.options, ...entry.options } },
          {
            frozen: frozen(b.idAt, replyTo, {
              ...(b.inChain ? { chain: [...(later ?? [])].reverse() } : {}),
              ...(b.upgraded ? { root_id: null } : {}),
            }),
          },
        );
  const steps = isSignature(member.member) ? [member.member] : member.member.chain;
  const first = steps[0] as ParsedSignature;
  const callbacks = (first.link ?? []).map((s) => signatureDict(s));
  const errbacks = (first.linkError ?? []).map((s) => signatureDict(s));
  const last = steps.length - 1;
  const tail: unknown[] = [];
  for (let k = last; k >= 1; k -= 1) {
    const joined =
      k === last ? { group_id: mark(paths.group), ...(body === undefined ? {} : { chord: body }), group_index: member.index } : {};
    tail.push(signatureDict(steps[k] as ParsedSignature, { frozen: frozen(`${at}.chain[${k}]`, replyTo, joined) }));
  }
  const inGroup = memberGroupIndex(member) !== undefined;
  const text = `[${args},${kwargs},{"callbacks":${list(callbacks)},"errbacks":${list(errbacks)},"chain":${tail.length === 0 ? 'null' : json(tail)},"chord":${inGroup && body !== undefined ? json(body) : 'null'}}]`;
  return {
    canvas: { parts: text.split(MARKED), firstPath: isSignature(member.member) ? at : `${at}.chain[0]` },
    groupPath: inGroup ? paths.group : undefined,
  };
}

/**
 * The chord size a chord run writes to a Redis result backend before its header is sent (the
 * backend's `set_chord_size`, from `group._apply_tasks`), so that the header's last task to finish
 * fires the body: the path of the header group's id and the number of header tasks. Undefined for
 * any other run (a chord after a chain's first step is counted by the worker that sends it).
 */
export function chordSizeOf(entry: CanvasEntry): { readonly groupPath: string; readonly size: number } | undefined {
  const run = runGroup(entry);
  // `_chord._descend`: a chain member counts as its last task, one.
  return run?.body === undefined ? undefined : { groupPath: run.groupAt, size: run.members.length };
}

/**
 * One task of a canvas run whose outcome is part of the run's (canvasOutcomeParts): where it is
 * (`chain[1]`, `group[2].chain[0]`, `body`), its task's name, its id (canvasPartId of its id path),
 * and whether its result is (part of) the run's result: a chain's last task, a chord's body, each
 * group member's last task.
 */
export interface CanvasOutcomePart {
  readonly path: string;
  readonly task: string;
  readonly id: string;
  readonly final: boolean;
}

/** A canvas outcome part before a run gives it its id: its path, task, finality, and the path its id is derived from. */
export interface CanvasPartSpec {
  readonly path: string;
  readonly task: string;
  /** The path of its id under the run's id (canvasPartId): `` for the canvas's result, else its own. */
  readonly idPath: string;
  readonly final: boolean;
}

/**
 * The tasks of an entry's canvas whose results make a run's outcome, in the order they run (a
 * chain's steps, a group's members, then a chord's body); empty for a run that is one task (with
 * or without callbacks: a callback's outcome is not the run's). Compiled once per entry (the
 * message template keeps them, so a manual run or a backfill is followed as a scheduled run is).
 */
export function canvasPartSpecs(entry: CanvasEntry): CanvasPartSpec[] {
  const canvas = entry.canvas;
  const out: CanvasPartSpec[] = [];
  const add = (path: string, idPath: string, task: string, final: boolean): void => {
    out.push({ path, task, idPath, final });
  };
  // A group's (or header's) members at `at[j]`; `final`: their last tasks are the run's result.
  const members = (list: readonly ParsedMember[], at: string, final: boolean): void => {
    list.forEach((member, j) => {
      if (isSignature(member)) return add(`${at}[${j}]`, `${at}[${j}]`, member.task, final);
      const last = member.chain.length - 1;
      member.chain.forEach((sig, k) => add(`${at}[${j}].chain[${k}]`, `${at}[${j}].chain[${k}]`, sig.task, final && k === last));
    });
  };
  const run = runGroup(entry);
  if (run !== undefined) {
    const b = run.body;
    members(run.members, run.membersAt, b === undefined);
    if (b !== undefined) {
      add(b.path, b.idAt, b.sig.task, b.after.length === 0);
      b.after.forEach(({ sig, path }, i) => {
        const final = i === b.after.length - 1;
        add(path, final ? '' : path, sig.task, final);
      });
    }
  } else if (canvas?.chain !== undefined) {
    const steps = celerySteps(canvas.chain);
    steps.forEach((step, i) => {
      const final = i === steps.length - 1;
      if (step.kind === 'signature') return add(step.path, step.at, step.sig.task, final);
      if (step.kind === 'group') return members(step.members, step.membersAt, final);
      members(step.members, step.membersAt, false);
      add(step.bodyAt, step.at, step.body.task, final);
    });
  }
  return out;
}

/** The parts of the run with id `runId`: each spec with its id, the one the run's messages carry (compileCanvas, compileMember). */
export function outcomePartsAt(specs: readonly CanvasPartSpec[], runId: string): CanvasOutcomePart[] {
  return specs.map(({ path, task, idPath, final }) => ({ path, task, id: canvasPartId(runId, idPath), final }));
}

/**
 * The tasks of the run with id `runId` whose results make its outcome (canvasPartSpecs with their
 * ids), so a new leader computes the same. Pure.
 */
export function canvasOutcomeParts(entry: CanvasEntry, runId: string): CanvasOutcomePart[] {
  return outcomePartsAt(canvasPartSpecs(entry), runId);
}
