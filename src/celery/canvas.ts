/**
 * An entry's canvas (a `chain`, and `link` / `linkError` callbacks) → the one task message Celery's
 * own `chain(...).apply_async(args, kwargs, **options)` (or `signature.apply_async(link=…,
 * link_error=…)`) publishes for it, read from celery/canvas.py (`_chain.run`, `prepare_steps`,
 * `Signature.freeze`) and celery/app/amqp.py (`as_task_v2`'s embed). Celery 5.2 and 5.5 publish
 * the same (test/fixtures/celery-canvas-*.json):
 * - the message is the chain's first task, its args and kwargs prefixed and merged with the
 *   canvas's (`task.clone(args, kwargs)`), its options under the canvas's;
 * - `embed.chain` is the other steps as signature dicts, last first (the worker pops the next one),
 *   each frozen with a `task_id` and the publisher's `reply_to` in its options;
 * - `embed.callbacks` / `errbacks` are the first task's `link` / `link_error`; a canvas-wide
 *   `linkError` is added to every step's (unless already there), a canvas-wide `link` to the last step's.
 *
 * Ids: the run's id (the slot's, task-id.ts) is what `apply_async(task_id=…)` would give the canvas:
 * the chain's last task, whose result is the chain's result (and where Celery's backend marks a
 * failure of any earlier step too). Every other step's id is the UUID v5 of its path under the run's
 * id, so a run published again (a replay after failover) carries the same ids throughout. Pure.
 */
import type { CanvasParts, ParsedSignature } from '../config/canvas-schema.js';
import type { Options } from '../config/options-schema.js';
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
 * `steps` are the chain's other steps, in body order (last step first): each is `head` + its id + `tail`.
 */
export interface CompiledCanvas {
  /** How many signatures the chain holds (1 for a task with callbacks). */
  readonly length: number;
  readonly bodyHead: string;
  readonly steps: readonly { readonly head: string; readonly tail: string }[];
  readonly bodyTail: string;
}

/** Whether an entry's run is a canvas (a chain, or a task with callbacks) rather than one plain task message. */
export function hasCanvas(entry: CanvasEntry): boolean {
  const c = entry.canvas;
  return c !== undefined && (c.chain !== undefined || (c.link?.length ?? 0) > 0 || (c.linkError?.length ?? 0) > 0);
}

/** The canvas's first task call: the chain's first step with the canvas's args, kwargs and options over it. */
export function canvasCall(entry: CanvasEntry): CanvasCall {
  const first = entry.canvas?.chain?.[0];
  if (first === undefined) return entry;
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

/** Splits a step's dict text at its `task_id` placeholder. */
const ID_MARK = '\u0000tsbeat-step-id\u0000';

/**
 * Compiles an entry's canvas: `args` and `kwargs` are the first call's JSON text (canvasCall's,
 * already serialized by the caller); `replyTo` the publisher's (`Signature.freeze` writes the app's
 * `thread_oid` into each frozen step, which is the `reply_to` of its messages).
 */
export function compileCanvas(entry: CanvasEntry, args: string, kwargs: string, replyTo: string): CompiledCanvas {
  const canvas = entry.canvas ?? {};
  refuseNonJson(entry.name, 'chain', canvas.chain ?? []);
  const canvasLinks = (canvas.link ?? []).map((s) => signatureDict(s));
  const canvasErrbacks = (canvas.linkError ?? []).map((s) => signatureDict(s));
  const chain = canvas.chain ?? [];
  const first = chain[0];
  const last = chain.length - 1;
  const firstLinks = [...(first?.link ?? []).map((s) => signatureDict(s)), ...(last <= 0 ? canvasLinks : [])];
  const firstErrbacks = withErrbacks(
    (first?.linkError ?? []).map((s) => signatureDict(s)),
    canvasErrbacks,
  );
  const steps: { head: string; tail: string }[] = [];
  const mark = quoteJson(ID_MARK);
  for (let i = last; i >= 1; i -= 1) {
    const frozen = { task_id: ID_MARK, reply_to: replyTo };
    const text = json(
      signatureDict(chain[i] as ParsedSignature, { links: i === last ? canvasLinks : [], errbacks: canvasErrbacks, frozen }),
    );
    const at = text.lastIndexOf(mark);
    steps.push({ head: text.slice(0, at), tail: text.slice(at + mark.length) });
  }
  return {
    length: Math.max(1, chain.length),
    bodyHead: `[${args},${kwargs},{"callbacks":${list(firstLinks)},"errbacks":${list(firstErrbacks)},"chain":`,
    steps,
    bodyTail: ',"chord":null}]',
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The id of the chain's step `index` in a run with id `runId`: the last step has the run's own, the
 * others the UUID v5 of their path (`chain[0]`) in the run's id as namespace (in tsbeat's slot-id
 * namespace with the run's id for an id that is not a UUID, as `beat trigger --id` may give).
 */
export function canvasStepId(canvas: CompiledCanvas, runId: string, index: number): string {
  if (index === canvas.length - 1) return runId;
  const path = `chain[${index}]`;
  return UUID.test(runId) ? uuidV5(runId, path) : uuidV5(SLOT_ID_NAMESPACE, `${runId}\n${path}`);
}

/** The body of the run with id `runId`: the first message's, with every later step's id in its place. */
export function renderCanvasBody(canvas: CompiledCanvas, runId: string): string {
  if (canvas.steps.length === 0) return `${canvas.bodyHead}null${canvas.bodyTail}`;
  let out = `${canvas.bodyHead}[`;
  canvas.steps.forEach((step, k) => {
    const index = canvas.length - 1 - k;
    out += `${k === 0 ? '' : ','}${step.head}${quoteJson(canvasStepId(canvas, runId, index))}${step.tail}`;
  });
  return `${out}]${canvas.bodyTail}`;
}
