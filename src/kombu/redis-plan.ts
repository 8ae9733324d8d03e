/**
 * kombu's Redis transport, planned (celery-protocol.md §2): the list each message goes to, and
 * every SADD / LPUSH / PUBLISH a batch of messages needs. Pure: exchange bindings, the queues
 * already declared and delivery tags come in through the context.
 */
import { runMessages } from '../celery/message.js';
import type { TaskMessage } from '../celery/message.js';
import { bindingKey, bindingMember, fanoutChannel, queueListKey } from './keys.js';
import type { Binding, KombuKeyOptions } from './keys.js';
import { EnvelopePush } from './redis-envelope.js';

/** A message that reached no queue. Never silent: the dispatcher logs each one. */
export interface DroppedMessage {
  readonly id: string;
  readonly entry: string;
  readonly task: string;
  readonly exchange: string;
  readonly routingKey: string;
  /** For operators: what happened and how to fix it. */
  readonly reason: string;
}

export interface RedisPush {
  /** The full list key, `globalKeyprefix` and priority suffix included. */
  readonly key: string;
  /** The envelope JSON, to LPUSH as it is (built when first read). */
  readonly payload: string;
}

export interface RedisChannelPublish {
  readonly channel: string;
  readonly payload: string;
}

/** Everything one message turns into. */
export interface RedisMessageDeliveries {
  readonly id: string;
  readonly entry: string;
  readonly task: string;
  readonly exchange: string;
  readonly routingKey: string;
  /** One LPUSH per queue reached (one for the anonymous exchange, one per matching binding otherwise). */
  readonly pushes: readonly RedisPush[];
  /** Fanout exchanges: one PUBLISH. */
  readonly publishes: readonly RedisChannelPublish[];
}

/** kombu's `maybe_declare` of a queue: its binding to its own direct exchange. */
export interface RedisDeclaration {
  readonly queue: string;
  readonly key: string;
  readonly member: string;
}

export interface RedisPublishPlan {
  /** How many messages were planned, dropped ones included. */
  readonly size: number;
  /** Messages that match no binding; they have no deliveries in the plan. */
  readonly dropped: readonly DroppedMessage[];
  /** SADDs to run before any push (idempotent, so running them again is harmless). */
  readonly declarations: readonly RedisDeclaration[];
  /** One per planned message, in input order; a dropped message has no pushes and no publishes. */
  readonly messages: readonly RedisMessageDeliveries[];
}

export interface RedisPlanContext {
  readonly keys: KombuKeyOptions;
  /** The bindings of every named direct/topic exchange among the messages (`SMEMBERS`, just read). */
  readonly bindings: ReadonlyMap<string, readonly Binding[]>;
  /** Queues whose binding was already declared on the current connection. */
  readonly declared: ReadonlySet<string>;
  /** A fresh uuid4 per envelope: kombu keys its unacked hash by it, so it must never repeat. */
  readonly newDeliveryTag: () => string;
}

/** Named exchanges whose bindings must be read before planning: direct and topic ones (fanout needs none). */
export function exchangesToLookUp(messages: readonly TaskMessage[]): string[] {
  const names = new Set<string>();
  const add = (m: TaskMessage): void => {
    if (m.destination.exchange !== '' && m.destination.exchangeType !== 'fanout') names.add(m.destination.exchange);
  };
  for (const m of messages) {
    add(m);
    m.more?.forEach(add);
  }
  return [...names];
}

const topicPatterns = new Map<string, RegExp | null>();

/** Python's `re.match(pattern, key)`: anchored at the start only. An invalid pattern matches nothing. */
function topicMatches(pattern: string, routingKey: string): boolean {
  let re = topicPatterns.get(pattern);
  if (re === undefined) {
    try {
      // Sticky: a match must begin at index 0, as re.match's does.
      re = new RegExp(pattern, 'y');
    } catch {
      // A pattern kombu wrote is valid Python; one JS cannot compile is treated as non-matching.
      re = null;
    }
    topicPatterns.set(pattern, re);
  }
  if (re === null) return false;
  re.lastIndex = 0;
  return re.test(routingKey);
}

/** The queues a named direct or topic exchange delivers to (kombu `DirectExchange`/`TopicExchange.lookup`). */
export function matchBindings(bindings: readonly Binding[], type: 'direct' | 'topic', routingKey: string): string[] {
  const queues = new Set<string>();
  for (const b of bindings) {
    if (type === 'direct' ? b.routingKey === routingKey : topicMatches(b.pattern, routingKey)) queues.add(b.queue);
  }
  return [...queues];
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * One delivery set per input message. A run of several messages (a group or chord run, runMessages)
 * is planned as one: its messages' pushes together, so the scheduler's script pushes them all or
 * none; when one of them reaches no queue, none of them is pushed and the run is dropped.
 */
export function planRedisPublish(messages: readonly TaskMessage[], ctx: RedisPlanContext): RedisPublishPlan {
  // Most batches hold single-message runs only: planned as they are, with no copy.
  if (!messages.some((m) => m.more !== undefined)) return planEach(messages, ctx);
  const plan = planEach(messages.flatMap(runMessages), ctx);
  const planned: RedisMessageDeliveries[] = [];
  const dropped: DroppedMessage[] = [];
  // Each message with no delivery has the next of plan.dropped, in order.
  let at = 0;
  let drop = 0;
  for (const run of messages) {
    const parts = plan.messages.slice(at, at + runMessages(run).length);
    at += parts.length;
    let lost: DroppedMessage | undefined;
    for (const part of parts) {
      if (part.pushes.length + part.publishes.length > 0) continue;
      lost ??= plan.dropped[drop];
      drop += 1;
    }
    const head = parts[0] as RedisMessageDeliveries;
    if (lost === undefined) {
      planned.push(
        parts.length === 1 ? head : { ...head, pushes: parts.flatMap((p) => p.pushes), publishes: parts.flatMap((p) => p.publishes) },
      );
      continue;
    }
    const reason =
      parts.length === 1
        ? lost.reason
        : `one of the run's ${parts.length} messages (${lost.task}) reached no queue, so none was sent: ${lost.reason}`;
    dropped.push({ ...lost, id: run.id, reason });
    planned.push({ ...head, pushes: NONE, publishes: NONE });
  }
  return { size: messages.length, dropped, declarations: plan.declarations, messages: planned };
}

function planEach(messages: readonly TaskMessage[], ctx: RedisPlanContext): RedisPublishPlan {
  const declarations: RedisDeclaration[] = [];
  const declaring = new Set<string>();
  const planned: RedisMessageDeliveries[] = [];
  const dropped: DroppedMessage[] = [];
  for (const m of messages) {
    const { exchange, exchangeType, routingKey, declareQueue } = m.destination;
    if (declareQueue !== undefined && !ctx.declared.has(declareQueue) && !declaring.has(declareQueue)) {
      declaring.add(declareQueue);
      declarations.push({
        queue: declareQueue,
        key: bindingKey(ctx.keys, declareQueue),
        member: bindingMember(ctx.keys, declareQueue, '', declareQueue),
      });
    }
    // Plain object literals: spreading a shared base costs more than everything else per message.
    if (exchange === '') {
      const push = new EnvelopePush(
        queueListKey(ctx.keys, routingKey, m.properties.priority),
        m,
        exchange,
        routingKey,
        ctx.newDeliveryTag(),
      );
      planned.push({ id: m.id, entry: m.entry, task: m.task, exchange, routingKey, pushes: [push], publishes: NONE });
      continue;
    }
    if (exchangeType === 'fanout') {
      const publish = {
        channel: fanoutChannel(ctx.keys, exchange, routingKey),
        payload: new EnvelopePush('', m, exchange, routingKey, ctx.newDeliveryTag()).payload,
      };
      planned.push({ id: m.id, entry: m.entry, task: m.task, exchange, routingKey, pushes: NONE, publishes: [publish] });
      continue;
    }
    const queues = matchBindings(ctx.bindings.get(exchange) ?? [], exchangeType, routingKey);
    if (queues.length === 0) {
      dropped.push({
        id: m.id,
        entry: m.entry,
        task: m.task,
        exchange,
        routingKey,
        reason:
          `no queue is bound to ${exchangeType} exchange "${exchange}" with routing key "${routingKey}" ` +
          `(set ${bindingKey(ctx.keys, exchange)} is empty or has no match); start a worker whose queue is bound to it, or route the entry to a queue`,
      });
      planned.push({ id: m.id, entry: m.entry, task: m.task, exchange, routingKey, pushes: NONE, publishes: NONE });
      continue;
    }
    // kombu pushes one envelope object to every queue; each copy gets its own delivery tag here
    // so that two workers acking copies never remove each other's unacked entry.
    const pushes = queues.map(
      (queue) => new EnvelopePush(queueListKey(ctx.keys, queue, m.properties.priority), m, exchange, routingKey, ctx.newDeliveryTag()),
    );
    planned.push({ id: m.id, entry: m.entry, task: m.task, exchange, routingKey, pushes, publishes: NONE });
  }
  return { size: messages.length, dropped, declarations, messages: planned };
}
