/**
 * A beat entry → Celery task messages (celery-protocol.md §1), in two steps:
 * - `compileMessageTemplate` runs once per entry: it serializes args and kwargs and computes the
 *   reprs, on a shape (message-shape.ts: routing and every header that is the same on every run)
 *   shared with the entries of the same task and options;
 * - `renderTaskMessage` runs once per publish and only splices in what changes (id, times), so
 *   publishing many messages costs string concatenation, not re-serialization.
 * Pure: time comes in as `nowMs`, ids as `taskId`.
 */
import { createHash } from 'node:crypto';
import { quoteJson } from './json-text.js';
import { json, refuseNonJson } from './template-parts.js';
import type { Part, Slot } from './template-parts.js';
import { compileMessageShape } from './message-shape.js';
import type { MessageConfig, MessageEnv, MessageShape, MessageShapes, ShapeEntry } from './message-shape.js';
import { argsRepr, kwargsRepr, signatureArgsRepr } from './repr.js';
import {
  canvasCall,
  canvasMembers,
  canvasMessageId,
  canvasPartId,
  canvasPartSpecs,
  chordSizeOf,
  compileCanvas,
  compileMember,
  hasCanvas,
  isGroupRun,
  memberGroupIndex,
  outcomePartsAt,
  renderCanvasBody,
} from './canvas.js';
import type { CanvasOutcomePart, CanvasPartSpec, CompiledCanvas } from './canvas.js';
import { chainArgsProblem } from '../config/canvas-schema.js';
import type { CanvasParts } from '../config/canvas-schema.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import type { Destination } from './routing.js';
import { isoFromMicros, isoFromMillis } from './time.js';
import { sentryCheckInId } from '../config/sentry-schema.js';
import { sentryNestedHeadersJson, sentryStartJson } from './sentry-headers.js';
import type { SentryHeaderConstants } from './sentry-headers.js';

/** Celery's `argsrepr_maxsize` / `kwargsrepr_maxsize`. */
const REPR_MAX_SIZE = 1024;

export { makeOrigin } from './message-shape.js';
export type { MessageConfig, MessageEnv, MessageShape } from './message-shape.js';

export const CONTENT_TYPE = 'application/json';
export const CONTENT_ENCODING = 'utf-8';

/** The part of an entry messages depend on (a `ResolvedEntry` fits). */
export interface MessageEntry extends ShapeEntry {
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** A chain and callbacks (canvas.ts): the message is then the canvas's first task's. */
  readonly canvas?: CanvasParts | undefined;
}

/** The AMQP properties of a task message; transports add their own (delivery tag, …). */
export interface TaskProperties {
  readonly correlation_id: string;
  readonly reply_to: string;
  /**
   * The beat entry's name, where django-celery-beat puts it (an `apply_async` option, which Celery
   * copies into the properties) and django-celery-results reads it (`request.properties`) for
   * `TaskResult.periodic_task_name`. Only kombu's Redis envelope can carry it; AMQP has no place for
   * a property of its own, so the header of the same name is there too.
   */
  readonly periodic_task_name: string;
  readonly delivery_mode: 1 | 2;
  /** Milliseconds until expiry as a decimal string, only when the entry has `expires`. */
  readonly expiration?: string;
  readonly priority: number;
}

/** One rendered task message, ready for any transport. */
export interface TaskMessage {
  readonly protocol: 1 | 2;
  /**
   * The run's id: the message's own (`headers.id`) for a plain task; for a canvas, the id Celery's
   * `apply_async(task_id=…)` gives the canvas, its last task's (canvas.ts), whose result is the run's.
   */
  readonly id: string;
  readonly task: string;
  /** The beat entry it was rendered for. */
  readonly entry: string;
  readonly destination: Destination;
  /** The headers, as the text of a JSON object (parse it for a transport that needs a table); may be computed on first read. */
  readonly headersJson: string;
  readonly properties: TaskProperties;
  /** The serialized body: UTF-8 JSON text. */
  readonly body: string;
  /** base64 of `body`, when it is the same for every run (protocol 2) and so was computed once. */
  readonly bodyBase64: string | undefined;
  readonly contentType: typeof CONTENT_TYPE;
  readonly contentEncoding: typeof CONTENT_ENCODING;
  /** The template it was rendered from: transports cache their per-entry encoding under it. */
  readonly template: MessageTemplate;
  /**
   * A group or chord run's other messages (each with the run's `id`), published with this one as
   * one run: all or nothing per slot (runMessages lists them all).
   */
  readonly more?: readonly TaskMessage[];
  /** A chord run's size, to be in the Redis result backend under its header group's id before the header is sent. */
  readonly chordSize?: ChordSize;
}

/** What a chord run writes to the result backend (`set_chord_size`): the header group's id and its task count. */
export interface ChordSize {
  readonly groupId: string;
  readonly size: number;
}

/** Every message of a run, in the order they are published: the message itself, then `more`. */
export function runMessages(message: TaskMessage): readonly TaskMessage[] {
  return message.more === undefined ? [message] : [message, ...message.more];
}

export interface RenderInput {
  readonly taskId: string;
  /** The scheduled instant this run stands for (`beat_scheduled_at`); a manual trigger passes `nowMs`. */
  readonly slotMs: number;
  /** Publish time: numeric `expires` and `countdown` count from it. */
  readonly nowMs: number;
}

/**
 * An entry's messages: its shape (shared with every entry of the same task, options and monitor)
 * and its own values, as the JSON text the shape's slots take. Per entry, a few short strings.
 */
export interface MessageTemplate {
  readonly shape: MessageShape;
  readonly entry: string;
  /** The entry's own slot values (OwnSlot), JSON text. */
  readonly entryName: string;
  readonly args: string;
  readonly kwargs: string;
  readonly argsrepr: string;
  readonly kwargsrepr: string;
  /** Protocol 2's body (the same on every run) and its base64; undefined for protocol 1 and a canvas. */
  readonly body: string | undefined;
  readonly bodyBase64: string | undefined;
  /** A canvas's body, rendered per run with its steps' ids (canvas.ts); undefined for a plain task. */
  readonly canvas: CompiledCanvas | undefined;
  /** A group member's: the path of its group's id (canvas.ts), the `group` header's value. */
  readonly groupPath?: string;
  /** A group or chord run's other messages (canvas.ts canvasMembers), published with this one, all or nothing. */
  readonly more?: readonly MessageTemplate[];
  /** A chord run's size and the path of its header group's id, for the result backend (canvas.ts chordSizeOf). */
  readonly chordSize?: { readonly groupPath: string; readonly size: number };
  /** A canvas run's: the tasks its outcome is made of (canvas.ts canvasPartSpecs); absent for a run of one task. */
  readonly outcomeParts?: readonly CanvasPartSpec[];
}

/** A plain object with no own enumerable keys: JSON `{}`, Python repr `{}`. */
function isEmpty(value: object): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return false;
  return Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
}

/**
 * Compiles an entry's template, on the shape `shapes` keeps for entries like it when given (made
 * with the same config and env), else on a shape of its own.
 */
export function compileMessageTemplate(
  entry: MessageEntry,
  config: MessageConfig,
  env: MessageEnv,
  shapes?: MessageShapes,
): MessageTemplate {
  const isCanvas = hasCanvas(entry);
  if (isCanvas && config.taskProtocol !== 2)
    throw new BeatError(ErrorCode.MessageInvalid, `entry "${entry.name}": a chain or callbacks need taskProtocol 2 (Celery's since 4.0)`);
  const shapeOf = (call: ShapeEntry): MessageShape => (shapes === undefined ? compileMessageShape(call, config, env) : shapes.of(call));
  if (isGroupRun(entry)) {
    refuseChainArgs(entry);
    return withOutcomeParts(entry, compileGroupRun(entry, env, shapeOf));
  }
  // A canvas's message is its first task's: that task, its args and its options (canvas.ts).
  const call = isCanvas ? { ...entry, ...canvasCall(entry) } : entry;
  const template = ownTemplate(entry.name, call, shapeOf(call), isCanvas, (args, kwargs) =>
    isCanvas ? { canvas: compileCanvas(entry, args, kwargs, env.replyTo) } : {},
  );
  return isCanvas ? withOutcomeParts(entry, template) : template;
}

/** An entry's arguments beside a chain with a group or chord first, refused where its message is built too (config/canvas-schema.ts chainArgsProblem). */
function refuseChainArgs(entry: MessageEntry): void {
  const problem = chainArgsProblem({ chain: entry.canvas?.chain, args: entry.args, kwargs: entry.kwargs });
  if (problem !== undefined) throw new BeatError(ErrorCode.MessageInvalid, `entry "${entry.name}": ${problem.message}`);
}

/** A canvas run's template with the parts its outcome is made of (none for a task with callbacks only). */
function withOutcomeParts(entry: MessageEntry, template: MessageTemplate): MessageTemplate {
  const outcomeParts = canvasPartSpecs(entry);
  return outcomeParts.length === 0 ? template : { ...template, outcomeParts };
}

/**
 * The parts a run published with `message` is followed by (canvas.ts canvasPartSpecs, with the run's
 * ids): empty for a run of one task. What a manual run's and a backfill's publisher hands the
 * outcome tracker, as the runner does for a scheduled run.
 */
export function messageOutcomeParts(message: Pick<TaskMessage, 'id' | 'template'>): CanvasOutcomePart[] {
  const specs = message.template.outcomeParts;
  return specs === undefined ? [] : outcomePartsAt(specs, message.id);
}

/**
 * A group or chord run: the first member's message, the others' in `more` (canvas.ts canvasMembers).
 * The entry's Sentry monitor goes on the first only: one run, one check-in.
 */
function compileGroupRun(entry: MessageEntry, env: MessageEnv, shapeOf: (call: ShapeEntry) => MessageShape): MessageTemplate {
  const templates = canvasMembers(entry).map((member) => {
    const shapeEntry: ShapeEntry = {
      ...member.call,
      name: entry.name,
      sentry: member.index === 0 ? entry.sentry : undefined,
      groupIndex: memberGroupIndex(member),
    };
    return ownTemplate(entry.name, { ...shapeEntry, ...member.call }, shapeOf(shapeEntry), true, (args, kwargs) => {
      const compiled = compileMember(entry, member, args, kwargs, env.replyTo);
      return { canvas: compiled.canvas, groupPath: compiled.groupPath };
    });
  });
  const [first, ...more] = templates as [MessageTemplate, ...MessageTemplate[]];
  const chord = chordSizeOf(entry);
  return { ...first, more, ...(chord === undefined ? {} : { chordSize: chord }) };
}

/** One message's template: its call's args and kwargs serialized, their reprs, and its body. */
function ownTemplate(
  name: string,
  call: MessageEntry,
  shape: MessageShape,
  isCanvas: boolean,
  compileBody: (args: string, kwargs: string) => { canvas?: CompiledCanvas; groupPath?: string | undefined },
): MessageTemplate {
  refuseNonJson(name, 'args', call.args);
  refuseNonJson(name, 'kwargs', call.kwargs);
  const args = json(call.args);
  // Most entries have no kwargs (per-tenant ones share one empty object): '{}' either way.
  const noKwargs = isEmpty(call.kwargs);
  const kwargs = noKwargs ? '{}' : json(call.kwargs);
  const entryName = json(name);
  const argsrepr = json((isCanvas ? signatureArgsRepr : argsRepr)(call.args, REPR_MAX_SIZE));
  const kwargsrepr = noKwargs ? '"{}"' : json(kwargsRepr(call.kwargs, REPR_MAX_SIZE));
  const { canvas, groupPath } = compileBody(args, kwargs);
  const body =
    shape.protocol === 2 && canvas === undefined
      ? `[${args},${kwargs},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]`
      : undefined;
  return {
    shape,
    entry: name,
    entryName,
    args,
    kwargs,
    argsrepr,
    kwargsrepr,
    body,
    bodyBase64: body === undefined ? undefined : Buffer.from(body, 'utf8').toString('base64'),
    canvas,
    ...(groupPath === undefined ? {} : { groupPath }),
  };
}

/** Each slot's value as JSON text. */
export interface SlotValues {
  readonly id: string;
  readonly eta: string;
  readonly expires: string;
  readonly scheduledAt: string;
  readonly traceparent: string;
  /** A group member's `group` header: its group's id (null text for any other message, whose headers do not name the slot). */
  readonly group: string;
  readonly sentryCheckInId: string;
  readonly sentryStart: string;
  readonly sentryHeaders: string;
  readonly entryName: string;
  readonly args: string;
  readonly kwargs: string;
  readonly argsrepr: string;
  readonly kwargsrepr: string;
}

function renderParts(parts: readonly Part[], values: SlotValues): string {
  // Even indexes are constant text, odd ones slots (objectParts alternates them). join() makes one
  // flat string: a message may wait in a big batch through garbage collections, and a tree of
  // concatenated pieces costs far more to keep than one string.
  const out = new Array<string>(parts.length);
  for (let i = 0; i < parts.length; i += 1) out[i] = i % 2 === 0 ? (parts[i] as string) : values[parts[i] as Slot];
  return out.join('');
}

/**
 * A UUID in lowercase hex with a version of 1-8 and the RFC variant: then neither half of its digits
 * is all zeros (the version and variant digits are not), as W3C requires of trace and parent ids.
 */
const LOWERCASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The W3C `traceparent` of a run (version 00, sampled), as JSON text. The trace id is the task id's
 * 32 hex digits, so a run's trace can be found from its id alone and a run published twice keeps
 * one trace; the parent span id is their second half (the span tsbeat stands for as it schedules
 * the run). A task id is a UUID (v5 for slots, v4 for triggers): never all zeros, which W3C forbids.
 */
export function traceparentJson(taskId: string): string {
  if (LOWERCASE_UUID.test(taskId)) return uuidTraceparentJson(taskId);
  // An id of another shape (one given to `beat trigger`, say): its SHA-1 stands in, still deterministic.
  const hex = createHash('sha1').update(taskId).digest('hex');
  const trace = /^0{32}/.test(hex) ? `1${hex.slice(1, 32)}` : hex.slice(0, 32);
  const parent = /^0{16}$/.test(trace.slice(16)) ? `${trace.slice(16, 31)}1` : trace.slice(16);
  return `"00-${trace}-${parent}-01"`;
}

/** The traceparent of a lowercase UUID: its 32 hex digits, then their last 16. */
function uuidTraceparentJson(id: string): string {
  const parent = id.slice(19, 23) + id.slice(24);
  return `"00-${id.slice(0, 8)}${id.slice(9, 13)}${id.slice(14, 18)}${parent}-${parent}-01"`;
}

const NO_SENTRY_SLOTS = { sentryCheckInId: '', sentryStart: '', sentryHeaders: '' } as const;

/** The Sentry slots of a run (empty text when the entry has no monitor: no part names them then). */
function sentrySlots(
  constants: SentryHeaderConstants | undefined,
  input: RenderInput,
): Pick<SlotValues, 'sentryCheckInId' | 'sentryStart' | 'sentryHeaders'> {
  if (constants === undefined) return NO_SENTRY_SLOTS;
  const id = `"${sentryCheckInId(input.taskId)}"`;
  const start = sentryStartJson(input.nowMs);
  return { sentryCheckInId: id, sentryStart: start, sentryHeaders: sentryNestedHeadersJson(constants, id, start) };
}

/** A time of ours as JSON: `isoFromMicros` writes digits, '-', ':', '.', '+' and 'T' only. */
const timeJson = (iso: string | null): string => (iso === null ? 'null' : `"${iso}"`);

/** The last slot's `beat_scheduled_at` text: the runs of a burst share their slot, formatted once. */
let lastScheduled = { slotMs: Number.NaN, json: '' };

function scheduledAtJson(slotMs: number): string {
  if (slotMs !== lastScheduled.slotMs) lastScheduled = { slotMs, json: timeJson(isoFromMillis(slotMs)) };
  return lastScheduled.json;
}

/**
 * A rendered message. The headers stay as template parts plus this run's values until someone
 * asks for their text: the Redis transport writes them from the parts (see redis-envelope.ts), so
 * a message waiting in a large batch holds a few short strings, not a copy of its headers.
 */
class RenderedTaskMessage implements TaskMessage {
  readonly protocol: 1 | 2;
  readonly task: string;
  readonly entry: string;
  readonly destination: Destination;
  readonly bodyBase64: string | undefined;
  readonly contentType = CONTENT_TYPE;
  readonly contentEncoding = CONTENT_ENCODING;
  more?: readonly TaskMessage[];
  chordSize?: ChordSize;
  private headersText: string | undefined;

  constructor(
    readonly template: MessageTemplate,
    readonly id: string,
    readonly slots: SlotValues,
    readonly properties: TaskProperties,
    readonly body: string,
  ) {
    this.protocol = template.shape.protocol;
    this.task = template.shape.task;
    this.entry = template.entry;
    this.destination = template.shape.destination;
    this.bodyBase64 = template.bodyBase64;
  }

  /** Computed on first read (a getter: `{...message}` does not copy it). */
  get headersJson(): string {
    this.headersText ??= renderParts(this.template.shape.headerParts, this.slots);
    return this.headersText;
  }
}

/**
 * This run's slot values as JSON text, for a transport that writes the headers itself from
 * `template.shape.headerParts` (constant text at even indexes, slot names at odd ones); undefined for a
 * message not made by `renderTaskMessage`, whose `headersJson` is then the only form.
 */
export function renderedSlots(message: TaskMessage): SlotValues | undefined {
  return message instanceof RenderedTaskMessage ? message.slots : undefined;
}

export function renderTaskMessage(template: MessageTemplate, input: RenderInput): TaskMessage {
  const shape = template.shape;
  const nowUs = Math.round(input.nowMs * 1000);
  const ex = shape.expires;
  let expires: string | null = null;
  let expiration: string | undefined;
  if (ex.kind === 'relative') {
    expires = isoFromMicros(nowUs + Math.round(ex.seconds * 1e6));
    expiration = ex.expiration;
  } else if (ex.kind === 'absolute') {
    // send_task (5.3+): seconds left until the instant; in the past means 0.
    expiration = String(Math.max(0, Math.trunc(ex.atMs - input.nowMs)));
  }
  const sentry = sentrySlots(shape.sentry, input);
  const canvas = template.canvas;
  // A canvas's message is its first task's, with an id of its own; the run's id is its last task's.
  const messageId = canvas === undefined ? input.taskId : canvasMessageId(canvas, input.taskId);
  const slots: SlotValues = {
    id: quoteJson(messageId),
    eta: shape.countdownUs === undefined ? 'null' : timeJson(isoFromMicros(nowUs + shape.countdownUs)),
    // An ISO string from the config is quoted like any string; ours need no check.
    expires: ex.kind === 'absolute' ? ex.isoJson : timeJson(expires),
    scheduledAt: scheduledAtJson(input.slotMs),
    traceparent: traceparentJson(input.taskId),
    group: template.groupPath === undefined ? 'null' : quoteJson(canvasPartId(input.taskId, template.groupPath)),
    sentryCheckInId: sentry.sentryCheckInId,
    sentryStart: sentry.sentryStart,
    sentryHeaders: sentry.sentryHeaders,
    entryName: template.entryName,
    args: template.args,
    kwargs: template.kwargs,
    argsrepr: template.argsrepr,
    kwargsrepr: template.kwargsrepr,
  };
  const properties: TaskProperties =
    expiration === undefined
      ? {
          correlation_id: messageId,
          reply_to: shape.replyTo,
          periodic_task_name: template.entry,
          delivery_mode: shape.deliveryMode,
          priority: shape.priority,
        }
      : {
          correlation_id: messageId,
          reply_to: shape.replyTo,
          periodic_task_name: template.entry,
          delivery_mode: shape.deliveryMode,
          expiration,
          priority: shape.priority,
        };
  const body = canvas === undefined ? (template.body ?? renderParts(shape.bodyParts, slots)) : renderCanvasBody(canvas, input.taskId);
  const rendered = new RenderedTaskMessage(template, input.taskId, slots, properties, body);
  if (template.more !== undefined) rendered.more = template.more.map((t) => renderTaskMessage(t, input));
  if (template.chordSize !== undefined)
    rendered.chordSize = { groupId: canvasPartId(input.taskId, template.chordSize.groupPath), size: template.chordSize.size };
  return rendered;
}
