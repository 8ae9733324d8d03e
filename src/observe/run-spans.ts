/**
 * One OpenTelemetry span per published run, described without the SDK: its name, times, ids and
 * attributes (src/observe/otel-export.ts hands them to the SDK), and the SchedulerEvents sink that
 * collects them off the publish path.
 *
 * The span's trace id and span id are those of the `traceparent` the run's message carries
 * (celery/message.ts traceparentJson): opentelemetry-instrumentation-celery on the worker extracts
 * that header and starts its `run/<task>` span as a child of this one, so a tracing backend shows
 * the scheduling and the execution as one trace.
 */
import type { TaskMessage } from '../celery/message.js';
import { traceparentJson } from '../celery/message.js';
import type { Destination } from '../celery/routing.js';
import type { PublishedRun, SchedulerEvents } from '../ports/events.js';

export type SpanAttributeValue = string | number | boolean;

/** A finished span, ready to be written. */
export interface RunSpan {
  readonly name: string;
  /** 32 lowercase hex digits: the trace id of the message's traceparent. */
  readonly traceId: string;
  /** 16 lowercase hex digits: the parent id of the message's traceparent. */
  readonly spanId: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Readonly<Record<string, SpanAttributeValue>>;
}

/** Where finished spans go (the SDK's tracer, in otel-export.ts). Must not throw. */
export interface SpanWriter {
  write(span: RunSpan): void;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** The trace and parent ids of a version-00 `traceparent` value; undefined for any other text. */
export function traceparentIds(value: unknown): { traceId: string; spanId: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value);
  if (match === null) return undefined;
  const [, traceId, spanId] = match as unknown as [string, string, string];
  return { traceId, spanId };
}

/**
 * The attributes opentelemetry-instrumentation-celery gives its own publish span (`apply_async/<task>`:
 * `celery.action`, `celery.task_name`, `messaging.message.id`, and from `before_task_publish`'s
 * arguments `messaging.destination` = the routing key, `celery.exchange`, and
 * `messaging.destination_kind` from the declared queue's exchange type), so that queries written
 * for Python publishers find tsbeat's runs too.
 */
export function celeryPublishAttributes(task: string, id: string, destination: Destination): Record<string, SpanAttributeValue> {
  const attributes: Record<string, SpanAttributeValue> = {
    'celery.action': 'apply_async',
    'celery.task_name': task,
    'messaging.message.id': id,
    'messaging.destination': destination.routingKey,
  };
  if (destination.exchange !== '') attributes['celery.exchange'] = destination.exchange;
  if (destination.declareQueue !== undefined) {
    if (destination.exchangeType === 'direct') attributes['messaging.destination_kind'] = 'queue';
    else if (destination.exchangeType === 'topic') attributes['messaging.destination_kind'] = 'topic';
  }
  return attributes;
}

/** What the span of a scheduled run is made from: a PublishedRun's. */
export interface ScheduledRun extends Pick<PublishedRun, 'slotMs' | 'id' | 'destination'> {
  readonly entry: Pick<PublishedRun['entry'], 'name' | 'task' | 'options'>;
}

/**
 * The span of a scheduled run. It starts when the leader woke to publish it (the slot plus its
 * lateness, jitter included) and ends when the broker took it (`endMs`, when the run was reported
 * published): the publish itself, as a messaging producer span measures it. The slot and the
 * lateness are attributes, so a long catch-up after downtime does not draw an hours-long span.
 * Undefined when the entry's own `options.headers` replace the traceparent: the worker then
 * continues that one, not ours.
 */
export function scheduledRunSpan(run: ScheduledRun, latenessMs: number, endMs: number): RunSpan | undefined {
  const { entry } = run;
  const custom = entry.options.headers;
  if (custom !== undefined && Object.hasOwn(custom, 'traceparent')) return undefined;
  // The JSON text of a string with nothing to escape (hex digits and dashes): its quotes go.
  const ids = traceparentIds(traceparentJson(run.id).slice(1, -1));
  if (ids === undefined) return undefined;
  const startMs = Math.min(run.slotMs + latenessMs, endMs);
  return {
    name: `beat publish ${entry.name}`,
    ...ids,
    startMs,
    endMs,
    attributes: {
      ...celeryPublishAttributes(entry.task, run.id, run.destination),
      'tsbeat.entry': entry.name,
      'tsbeat.slot': new Date(run.slotMs).toISOString(),
      'tsbeat.lateness_ms': latenessMs,
      'tsbeat.trigger': false,
    },
  };
}

/**
 * The span of a manual run (`beat trigger`), reported when the broker took it: its traceparent is
 * read from the message itself (a trigger may name its own task id), and it has no slot. It is
 * drawn as an instant at `endMs`: when the publish began is not reported.
 */
export function triggerRunSpan(message: TaskMessage, endMs: number): RunSpan | undefined {
  let headers: unknown;
  try {
    headers = JSON.parse(message.headersJson);
  } catch {
    return undefined;
  }
  const ids = traceparentIds((headers as Record<string, unknown> | null)?.['traceparent']);
  if (ids === undefined) return undefined;
  return {
    name: `beat publish ${message.entry}`,
    ...ids,
    startMs: endMs,
    endMs,
    attributes: {
      ...celeryPublishAttributes(message.task, message.id, message.destination),
      'tsbeat.entry': message.entry,
      'tsbeat.trigger': true,
    },
  };
}

export interface RunSpanEventsOptions {
  readonly writer: SpanWriter;
  readonly now: () => number;
  /** Spans handed to the writer per turn of the event loop; the rest wait for the next turn. */
  readonly perTurn: number;
}

/**
 * The sink: `published` and `triggerPublished` only note the run (a push onto a list), and the
 * spans are built and handed to the SDK in later turns of the event loop, a few at a time, so a
 * burst of thousands of runs is not held up by them. `flush` writes what is still waiting (at
 * shutdown, before the SDK's last export).
 */
export class RunSpanEvents implements SchedulerEvents {
  private readonly waiting: (() => RunSpan | undefined)[] = [];
  private scheduled = false;

  constructor(private readonly options: RunSpanEventsOptions) {}

  published(run: PublishedRun, latenessMs: number): void {
    const endMs = this.options.now();
    this.note(() => scheduledRunSpan(run, latenessMs, endMs));
  }

  triggerPublished(message: TaskMessage): void {
    const endMs = this.options.now();
    this.note(() => triggerRunSpan(message, endMs));
  }

  // Nothing else is a run that reached the broker.
  missed(): void {}
  dropped(): void {}
  publishFailed(): void {}
  stateLost(): void {}
  lockRenewFailed(): void {}
  leadershipChanged(): void {}

  /** Writes every span still waiting, now. */
  flush(): void {
    this.writeUpTo(Number.POSITIVE_INFINITY);
  }

  private note(span: () => RunSpan | undefined): void {
    this.waiting.push(span);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    this.writeUpTo(this.options.perTurn);
    if (this.waiting.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.turn());
    }
  }

  private writeUpTo(count: number): void {
    const taken = this.waiting.splice(0, Math.min(count, this.waiting.length));
    for (const build of taken) {
      const span = build();
      if (span !== undefined) this.options.writer.write(span);
    }
  }
}
