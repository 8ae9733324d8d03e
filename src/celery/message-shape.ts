/**
 * The shape of an entry's messages: everything a message template holds that does not depend on
 * the entry's name, args and kwargs (task, options, queue, headers, Sentry monitor), with those
 * three as slots. Entries of one shape share one: a tenant schedule of entries that differ only
 * in their name and arguments compiles a handful of shapes, not a header text per entry
 * (and transports lay out their envelopes once per shape too). Pure.
 */
import type { Options } from '../config/options-schema.js';
import type { ResolvedSentryMonitor } from '../config/sentry-schema.js';
import { c, compileExpires, json, objectParts, refuseNonJson, withCustomHeaders } from './template-parts.js';
import type { ExpiresSpec, Field, Part } from './template-parts.js';
import { resolveDestination } from './routing.js';
import type { Destination, RoutingConfig } from './routing.js';
import { SENTRY_CHECK_IN_ID, SENTRY_CONFIG, SENTRY_SLUG, SENTRY_START, sentryHeaderConstants } from './sentry-headers.js';
import type { SentryHeaderConstants } from './sentry-headers.js';

/** Distinct message shapes (task, options, monitor) a renderer keeps to share (celery/message-shape.ts); past it, it starts over. */
const MESSAGE_SHAPES_KEPT = 10_000;

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

/** The part of an entry a shape depends on. */
export interface ShapeEntry {
  /** Named in errors only: the shape holds no name. */
  readonly name: string;
  readonly task: string;
  readonly options: Options;
  /** `monitor.sentry`: the run carries sentry-python's check-in headers. */
  readonly sentry?: ResolvedSentryMonitor | undefined;
  /**
   * A member's index in the group or chord a run sends (canvas.ts compileMember): its message has
   * the `group` header (a slot: the group's id is the run's) and this `group_index`.
   */
  readonly groupIndex?: number | undefined;
}

export interface MessageShape {
  readonly task: string;
  readonly protocol: 1 | 2;
  readonly destination: Destination;
  /**
   * Alternating constant JSON text and slots (template-parts.ts); the entry's own values (its name,
   * args, kwargs and their reprs) are slots too.
   */
  readonly headerParts: readonly Part[];
  /** Protocol 1's body; protocol 2's body is the entry's own (MessageTemplate.body). */
  readonly bodyParts: readonly Part[];
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

/** The fields tsbeat adds to the headers, the entry's name among them. */
const BEAT_FIELDS: readonly (readonly [string, Field])[] = [
  ['beat_entry', 'entryName'],
  ['beat_scheduled_at', 'scheduledAt'],
  // A header is an attribute of the worker's task.request: where django-celery-results' readers
  // and opentelemetry-instrumentation-celery (`extract(task.request)`) look.
  ['periodic_task_name', 'entryName'],
  ['traceparent', 'traceparent'],
];

/** Where sentry-python's beat puts them: at the top (apply_async's `headers`) and nested in `headers`. */
function sentryFields(monitor: ResolvedSentryMonitor | undefined): (readonly [string, Field])[] {
  if (monitor === undefined) return [];
  return [
    [SENTRY_SLUG, c(monitor.slug)],
    [SENTRY_CONFIG, c(monitor.config)],
    [SENTRY_CHECK_IN_ID, 'sentryCheckInId'],
    [SENTRY_START, 'sentryStart'],
    ['headers', 'sentryHeaders'],
  ];
}

/** as_task_v2's headers, in its key order, then the 5.3+ keys, then ours; custom headers merge last. */
function v2HeaderFields(entry: ShapeEntry, env: MessageEnv, eta: Field, expires: Field): (readonly [string, Field])[] {
  const o = entry.options;
  return withCustomHeaders(
    [
      ['lang', c('py')],
      ['task', c(entry.task)],
      ['id', 'id'],
      ['shadow', c(o.shadow ?? null)],
      ['eta', eta],
      ['expires', expires],
      ['group', entry.groupIndex === undefined ? c(null) : 'group'],
      ['group_index', c(entry.groupIndex ?? null)],
      ['retries', c(0)],
      ['timelimit', c([o.timeLimit ?? null, o.softTimeLimit ?? null])],
      ['root_id', 'id'],
      ['parent_id', c(null)],
      ['argsrepr', 'argsrepr'],
      ['kwargsrepr', 'kwargsrepr'],
      ['origin', c(env.origin)],
      ['ignore_result', c(o.ignoreResult ?? false)],
      ['replaced_task_nesting', c(0)],
      ['stamped_headers', c(null)],
      ['stamps', c({})],
      ...BEAT_FIELDS,
      ...sentryFields(entry.sentry),
    ],
    o.headers,
  );
}

/** as_task_v1's body: everything but the custom headers (and ours). */
function v1BodyFields(entry: ShapeEntry, eta: Field, expires: Field): (readonly [string, Field])[] {
  const o = entry.options;
  return [
    ['task', c(entry.task)],
    ['id', 'id'],
    ['args', 'args'],
    ['kwargs', 'kwargs'],
    ['group', c(null)],
    ['group_index', c(null)],
    ['retries', c(0)],
    ['eta', eta],
    ['expires', expires],
    // enable_utc: tsbeat always writes UTC times.
    ['utc', c(true)],
    ['callbacks', c(null)],
    ['errbacks', c(null)],
    ['timelimit', c([o.timeLimit ?? null, o.softTimeLimit ?? null])],
    ['taskset', c(null)],
    ['chord', c(null)],
  ];
}

export function compileMessageShape(entry: ShapeEntry, config: MessageConfig, env: MessageEnv): MessageShape {
  refuseNonJson(entry.name, 'options.headers', entry.options.headers ?? {}, false);
  const o = entry.options;
  const destination = resolveDestination(entry.task, o, config);
  const expires = compileExpires(entry.name, o.expires);
  const eta: Field = o.countdown !== undefined ? 'eta' : c(null);
  const expiresField: Field = expires.kind === 'none' ? c(null) : 'expires';
  const v2 = config.taskProtocol === 2;
  return {
    task: entry.task,
    protocol: config.taskProtocol,
    destination,
    headerParts: objectParts(
      v2 ? v2HeaderFields(entry, env, eta, expiresField) : withCustomHeaders([...BEAT_FIELDS, ...sentryFields(entry.sentry)], o.headers),
    ),
    bodyParts: v2 ? [] : objectParts(v1BodyFields(entry, eta, expiresField)),
    expires,
    countdownUs: o.countdown === undefined ? undefined : Math.round(o.countdown * 1e6),
    replyTo: env.replyTo,
    deliveryMode: o.deliveryMode === 'transient' || o.deliveryMode === 1 ? 1 : 2,
    priority: destination.priority ?? 0,
    sentry: entry.sentry === undefined ? undefined : sentryHeaderConstants(entry.sentry),
    ...(o.messageGroupId === undefined ? {} : { messageGroupId: o.messageGroupId }),
  };
}

/**
 * The shapes compiled for one config and process (a renderer's): entries whose task, options and
 * monitor are the same JSON share one. Bounded: past MESSAGE_SHAPES_KEPT distinct shapes
 * (every entry its own headers, say) it starts over; the shapes already handed out stay with their
 * templates, only the sharing is lost.
 */
export class MessageShapes {
  private readonly shapes = new Map<string, MessageShape>();

  constructor(
    private readonly config: MessageConfig,
    private readonly env: MessageEnv,
  ) {}

  /** The entry's shape, compiled if none like it is kept; throws what compiling throws (nothing failed is kept). */
  of(entry: ShapeEntry): MessageShape {
    // json(): a JS config's BigInt becomes a number, as it does in the message itself.
    const key = json([entry.task, entry.options, entry.sentry ?? null, entry.groupIndex ?? null]);
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      shape = compileMessageShape(entry, this.config, this.env);
      if (this.shapes.size >= MESSAGE_SHAPES_KEPT) this.shapes.clear();
      this.shapes.set(key, shape);
    }
    return shape;
  }

  get size(): number {
    return this.shapes.size;
  }
}
