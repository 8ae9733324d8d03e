/**
 * A beat entry → Celery task messages (celery-protocol.md §1), in two steps:
 * - `compileMessageTemplate` runs once per entry: it routes the entry, serializes args and kwargs,
 *   computes the reprs and pre-renders every header that is the same on every run;
 * - `renderTaskMessage` runs once per publish and only splices in what changes (id, times), so
 *   publishing many messages costs string concatenation, not re-serialization.
 * Pure: time comes in as `nowMs`, ids as `taskId`.
 */
import { createHash } from 'node:crypto';
import type { Options } from '../config/options-schema.js';
import { DEFAULTS } from '../base/defaults.js';
import { quoteJson } from './json-text.js';
import { c, compileExpires, json, objectParts, refuseNonJson, withCustomHeaders } from './template-parts.js';
import type { ExpiresSpec, Field, Part, Slot } from './template-parts.js';
import { argsRepr, kwargsRepr } from './repr.js';
import { resolveDestination } from './routing.js';
import type { Destination, RoutingConfig } from './routing.js';
import { isoFromMicros, isoFromMillis } from './time.js';
import { sentryCheckInId } from '../config/sentry-schema.js';
import type { ResolvedSentryMonitor } from '../config/sentry-schema.js';
import {
  SENTRY_CHECK_IN_ID,
  SENTRY_CONFIG,
  SENTRY_SLUG,
  SENTRY_START,
  sentryHeaderConstants,
  sentryNestedHeadersJson,
  sentryStartJson,
} from './sentry-headers.js';
import type { SentryHeaderConstants } from './sentry-headers.js';

export const CONTENT_TYPE = 'application/json';
export const CONTENT_ENCODING = 'utf-8';

/** What a message needs to know about the publishing process. */
export interface MessageEnv {
  /** `headers.origin`: Celery writes `gen<pid>@<hostname>` (see `makeOrigin`). */
  readonly origin: string;
  /** `properties.reply_to`: only the rpc:// result backend reads it; any string works for others. */
  readonly replyTo: string;
}

/** The part of the config messages depend on. */
export interface MessageConfig extends RoutingConfig {
  readonly taskProtocol: 1 | 2;
}

/** The part of an entry messages depend on (a `ResolvedEntry` fits). */
export interface MessageEntry {
  readonly name: string;
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: Options;
  /** `monitor.sentry`: the run carries sentry-python's check-in headers. */
  readonly sentry?: ResolvedSentryMonitor | undefined;
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
}

export interface RenderInput {
  readonly taskId: string;
  /** The scheduled instant this run stands for (`beat_scheduled_at`); a manual trigger passes `nowMs`. */
  readonly slotMs: number;
  /** Publish time: numeric `expires` and `countdown` count from it. */
  readonly nowMs: number;
}

export interface MessageTemplate {
  readonly entry: string;
  readonly task: string;
  readonly protocol: 1 | 2;
  readonly destination: Destination;
  /** Alternating constant JSON text and slots (template-parts.ts). */
  readonly headerParts: readonly Part[];
  readonly bodyParts: readonly Part[];
  readonly body: string | undefined;
  readonly bodyBase64: string | undefined;
  readonly expires: ExpiresSpec;
  readonly countdownUs: number | undefined;
  readonly replyTo: string;
  readonly deliveryMode: 1 | 2;
  readonly priority: number;
  /** The Sentry monitor's constant header text, when the entry has `monitor.sentry`. */
  readonly sentry: SentryHeaderConstants | undefined;
  /** SQS FIFO queues: the entry's `MessageGroupId` option, when it has one (kombu reads it from apply_async's options). */
  readonly messageGroupId?: string;
}

/** Celery's `anon_nodename()`: the origin of messages sent outside a worker. */
export function makeOrigin(pid: number, hostname: string): string {
  return `gen${pid}@${hostname}`;
}

export function compileMessageTemplate(entry: MessageEntry, config: MessageConfig, env: MessageEnv): MessageTemplate {
  refuseNonJson(entry.name, 'args', entry.args);
  refuseNonJson(entry.name, 'kwargs', entry.kwargs);
  refuseNonJson(entry.name, 'options.headers', entry.options.headers ?? {});
  const o = entry.options;
  const destination = resolveDestination(entry.task, o, config);
  const expires = compileExpires(entry.name, o.expires);
  const timelimit = [o.timeLimit ?? null, o.softTimeLimit ?? null];
  const argsJson = json(entry.args);
  const kwargsJson = json(entry.kwargs);
  const beatFields = [
    ['beat_entry', c(entry.name)],
    ['beat_scheduled_at', 'scheduledAt'],
    // A header is an attribute of the worker's task.request: where django-celery-results' readers
    // and opentelemetry-instrumentation-celery (`extract(task.request)`) look.
    ['periodic_task_name', c(entry.name)],
    ['traceparent', 'traceparent'],
  ] as const;
  const sentry = entry.sentry === undefined ? undefined : sentryHeaderConstants(entry.sentry);
  // Where sentry-python's beat puts them: at the top (apply_async's `headers`) and nested in `headers`.
  const sentryFields: (readonly [string, Field])[] =
    entry.sentry === undefined
      ? []
      : [
          [SENTRY_SLUG, c(entry.sentry.slug)],
          [SENTRY_CONFIG, c(entry.sentry.config)],
          [SENTRY_CHECK_IN_ID, 'sentryCheckInId'],
          [SENTRY_START, 'sentryStart'],
          ['headers', 'sentryHeaders'],
        ];
  const eta: Field = o.countdown !== undefined ? 'eta' : c(null);
  const expiresField: Field = expires.kind === 'none' ? c(null) : 'expires';

  let headerParts: Part[];
  let bodyParts: Part[];
  let body: string | undefined;
  if (config.taskProtocol === 2) {
    // as_task_v2, in its key order, then the 5.3+ keys, then ours; custom headers merge last.
    headerParts = objectParts(
      withCustomHeaders(
        [
          ['lang', c('py')],
          ['task', c(entry.task)],
          ['id', 'id'],
          ['shadow', c(o.shadow ?? null)],
          ['eta', eta],
          ['expires', expiresField],
          ['group', c(null)],
          ['group_index', c(null)],
          ['retries', c(0)],
          ['timelimit', c(timelimit)],
          ['root_id', 'id'],
          ['parent_id', c(null)],
          ['argsrepr', c(argsRepr(entry.args, DEFAULTS.reprMaxSize))],
          ['kwargsrepr', c(kwargsRepr(entry.kwargs, DEFAULTS.reprMaxSize))],
          ['origin', c(env.origin)],
          ['ignore_result', c(o.ignoreResult ?? false)],
          ['replaced_task_nesting', c(0)],
          ['stamped_headers', c(null)],
          ['stamps', c({})],
          ...beatFields,
          ...sentryFields,
        ],
        o.headers,
      ),
    );
    body = `[${argsJson},${kwargsJson},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]`;
    bodyParts = [body];
  } else {
    // as_task_v1: everything in the body; the headers hold only custom ones (and ours).
    headerParts = objectParts(withCustomHeaders([...beatFields, ...sentryFields], o.headers));
    bodyParts = objectParts([
      ['task', c(entry.task)],
      ['id', 'id'],
      ['args', c(entry.args)],
      ['kwargs', c(entry.kwargs)],
      ['group', c(null)],
      ['group_index', c(null)],
      ['retries', c(0)],
      ['eta', eta],
      ['expires', expiresField],
      // enable_utc: tsbeat always writes UTC times.
      ['utc', c(true)],
      ['callbacks', c(null)],
      ['errbacks', c(null)],
      ['timelimit', c(timelimit)],
      ['taskset', c(null)],
      ['chord', c(null)],
    ]);
    body = undefined;
  }
  const deliveryMode = o.deliveryMode === 'transient' || o.deliveryMode === 1 ? 1 : 2;
  return {
    entry: entry.name,
    task: entry.task,
    protocol: config.taskProtocol,
    destination,
    headerParts,
    bodyParts,
    body,
    bodyBase64: body === undefined ? undefined : Buffer.from(body, 'utf8').toString('base64'),
    expires,
    countdownUs: o.countdown === undefined ? undefined : Math.round(o.countdown * 1e6),
    replyTo: env.replyTo,
    deliveryMode,
    priority: destination.priority ?? 0,
    sentry,
    ...(o.messageGroupId === undefined ? {} : { messageGroupId: o.messageGroupId }),
  };
}

/** Each slot's value as JSON text. */
export interface SlotValues {
  readonly id: string;
  readonly eta: string;
  readonly expires: string;
  readonly scheduledAt: string;
  readonly traceparent: string;
  readonly sentryCheckInId: string;
  readonly sentryStart: string;
  readonly sentryHeaders: string;
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
 * The W3C `traceparent` of a run (version 00, sampled), as JSON text. The trace id is the task id's
 * 32 hex digits, so a run's trace can be found from its id alone and a run published twice keeps
 * one trace; the parent span id is their second half (the span tsbeat stands for as it schedules
 * the run). A task id is a UUID (v5 for slots, v4 for triggers): never all zeros, which W3C forbids.
 */
export function traceparentJson(taskId: string): string {
  if (isLowercaseUuid(taskId)) {
    // Sliced, not matched: this runs once per message published.
    const tail = taskId.slice(19, 23) + taskId.slice(24);
    return `"00-${taskId.slice(0, 8)}${taskId.slice(9, 13)}${taskId.slice(14, 18)}${tail}-${tail}-01"`;
  }
  // An id of another shape (one given to `beat trigger`, say): its SHA-1 stands in, still deterministic.
  const hex = createHash('sha1').update(taskId).digest('hex');
  const trace = /^0{32}/.test(hex) ? `1${hex.slice(1, 32)}` : hex.slice(0, 32);
  const parent = /^0{16}$/.test(trace.slice(16)) ? `${trace.slice(16, 31)}1` : trace.slice(16);
  return `"00-${trace}-${parent}-01"`;
}

/**
 * A UUID in lowercase hex with a version of 1-8 and the RFC variant: then neither half of its digits
 * is all zeros (the version and variant digits are not), as W3C requires of trace and parent ids.
 */
function isLowercaseUuid(id: string): boolean {
  if (id.length !== 36) return false;
  for (let i = 0; i < 36; i += 1) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  const version = id.charCodeAt(14);
  const variant = id.charCodeAt(19);
  return version >= 0x31 && version <= 0x38 && (variant === 0x38 || variant === 0x39 || variant === 0x61 || variant === 0x62);
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
  private headersText: string | undefined;

  constructor(
    readonly template: MessageTemplate,
    readonly id: string,
    readonly slots: SlotValues,
    readonly properties: TaskProperties,
    readonly body: string,
  ) {
    this.protocol = template.protocol;
    this.task = template.task;
    this.entry = template.entry;
    this.destination = template.destination;
    this.bodyBase64 = template.bodyBase64;
  }

  /** Computed on first read (a getter: `{...message}` does not copy it). */
  get headersJson(): string {
    this.headersText ??= renderParts(this.template.headerParts, this.slots);
    return this.headersText;
  }
}

/**
 * This run's slot values as JSON text, for a transport that writes the headers itself from
 * `template.headerParts` (constant text at even indexes, slot names at odd ones); undefined for a
 * message not made by `renderTaskMessage`, whose `headersJson` is then the only form.
 */
export function renderedSlots(message: TaskMessage): SlotValues | undefined {
  return message instanceof RenderedTaskMessage ? message.slots : undefined;
}

export function renderTaskMessage(template: MessageTemplate, input: RenderInput): TaskMessage {
  const nowUs = Math.round(input.nowMs * 1000);
  const ex = template.expires;
  let expires: string | null = null;
  let expiration: string | undefined;
  if (ex.kind === 'relative') {
    expires = isoFromMicros(nowUs + Math.round(ex.seconds * 1e6));
    expiration = ex.expiration;
  } else if (ex.kind === 'absolute') {
    // send_task (5.3+): seconds left until the instant; in the past means 0.
    expiration = String(Math.max(0, Math.trunc(ex.atMs - input.nowMs)));
  }
  const sentry = sentrySlots(template.sentry, input);
  const slots: SlotValues = {
    id: quoteJson(input.taskId),
    eta: template.countdownUs === undefined ? 'null' : timeJson(isoFromMicros(nowUs + template.countdownUs)),
    // An ISO string from the config is quoted like any string; ours need no check.
    expires: ex.kind === 'absolute' ? ex.isoJson : timeJson(expires),
    scheduledAt: timeJson(isoFromMillis(input.slotMs)),
    traceparent: traceparentJson(input.taskId),
    sentryCheckInId: sentry.sentryCheckInId,
    sentryStart: sentry.sentryStart,
    sentryHeaders: sentry.sentryHeaders,
  };
  const properties: TaskProperties =
    expiration === undefined
      ? {
          correlation_id: input.taskId,
          reply_to: template.replyTo,
          periodic_task_name: template.entry,
          delivery_mode: template.deliveryMode,
          priority: template.priority,
        }
      : {
          correlation_id: input.taskId,
          reply_to: template.replyTo,
          periodic_task_name: template.entry,
          delivery_mode: template.deliveryMode,
          expiration,
          priority: template.priority,
        };
  return new RenderedTaskMessage(template, input.taskId, slots, properties, template.body ?? renderParts(template.bodyParts, slots));
}
