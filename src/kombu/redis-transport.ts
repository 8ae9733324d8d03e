/**
 * The Redis broker: kombu's Redis transport (celery-protocol.md §2) over one ioredis connection,
 * for the fenced dispatcher (src/publish/redis-fenced-dispatcher.ts), which pushes through its own
 * Lua script.
 * - `planRedisPublish` (pure) decides the list each message goes to, and every SADD / LPUSH /
 *   PUBLISH a batch of messages needs; exchange bindings, the queues already declared and delivery
 *   tags come in through its context.
 * - `RedisTransport.plan` reads the bindings of named exchanges (SMEMBERS, as kombu does on every
 *   publish) and plans the SADD of each queue not yet declared on this connection (kombu's
 *   maybe_declare); `declare` runs those SADDs.
 * - `evalScript` runs a script registered on the connection like every other (redis/scripts.ts
 *   `withScripts`, ioredis's `defineCommand`), its arguments packed into one Buffer argument (a
 *   MessagePack array the script reads with cmsgpack: redis-envelope.ts `packArgs`).
 * Commands are never re-sent after a dropped connection: a publish fails rather than risk
 * duplicates, and the caller decides what to retry.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { withScripts } from '../redis/scripts.js';
import type { PackedScriptName, ScriptClient } from '../redis/scripts.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { runMessages } from '../celery/message.js';
import type { TaskMessage } from '../celery/message.js';
import { DEFAULTS } from '../base/defaults.js';
import { within } from '../base/within.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import { OUTAGES, unreachableReason } from '../base/outages.js';
import type { Logger } from '../base/log.js';
import { bindingKey, bindingMember, fanoutChannel, kombuKeyOptions, parseBindingMember, queueListKey } from './keys.js';
import type { Binding, KombuKeyOptions } from './keys.js';
import { followSentinelFailovers } from '../redis/sentinel-failover.js';
import { guardConnection } from '../redis/connect.js';
import { redisRefusal, withoutCommandArgs } from '../redis/server-errors.js';
import { EnvelopePush, packArgs } from './redis-envelope.js';
import type { RedisPush, ScriptArg } from './redis-envelope.js';
import { parseRedisUrl, redisClientOptions } from '../config/redis-url.js';
import type { RedisConnectionSpec } from '../config/redis-url.js';

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

export interface RedisTransportOptions {
  readonly url: string;
  readonly transportOptions: TransportOptionsInput;
  readonly logger: Logger;
  /** Reads the TLS files named in the URL. */
  readonly readFile?: (path: string) => Buffer;
}

// Kept importable from here: the broker's callers strip their errors through this module.
export { withoutCommandArgs } from '../redis/server-errors.js';

export class RedisTransport {
  private readonly keys: KombuKeyOptions;
  readonly spec: RedisConnectionSpec;
  /**
   * The connection, for callers that run a plan themselves (the scheduler's Lua script must run on
   * the broker's server and DB to push and move its state in one step).
   */
  readonly client: Redis;
  private readonly logger: Logger;
  /** Queues whose binding exists on the current connection; forgotten when it closes. */
  private readonly declared = new Set<string>();
  /** The connection with the scripts registered (redis/scripts.ts), as every other caller runs them. */
  private readonly scripts: ScriptClient;

  constructor(options: RedisTransportOptions) {
    this.spec = parseRedisUrl(options.url, options.transportOptions);
    this.keys = kombuKeyOptions(options.transportOptions, this.spec.db);
    this.logger = options.logger.child({ broker: this.spec.display });
    for (const warning of this.spec.warnings) this.logger.warn({ event: EVENTS.brokerWarning }, warning);
    this.client = new Redis({
      ...redisClientOptions(this.spec, options.transportOptions, options.readFile ?? ((path) => readFileSync(path))),
      lazyConnect: true,
      // A publish script must never run twice by itself: the commands awaiting a reply when the
      // connection closes are not resent. ioredis then drops them unanswered unless it fails its
      // queue, which it does at every close with no retries per request: they are rejected at once,
      // and the caller retries (the fenced scripts make a retry of a run that did land harmless).
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // A black-holed connection (a partition, a dropped NAT flow) would hang every publish until TCP
      // gives up, minutes later, while the leader keeps its lock: destroy a socket silent this long.
      socketTimeout: DEFAULTS.redisSocketTimeoutMs,
      disconnectTimeout: DEFAULTS.redisDisconnectTimeoutMs,
    });
    this.scripts = withScripts(this.client);
    followSentinelFailovers(this.client);
    let lastError: string | undefined;
    OUTAGES.register(this.spec.display, 'publishing');
    this.client.on('ready', () => {
      lastError = undefined;
      this.logger[OUTAGES.isDown(this.spec.display) ? 'debug' : 'info']({ event: EVENTS.brokerConnect }, 'connected to the broker');
      OUTAGES.found(this.spec.display, 'publishing', this.logger);
    });
    this.client.on('close', () => this.declared.clear());
    // The same guard as the scheduler's own connections: nothing is ever pushed to another DB.
    guardConnection(this.client, this.spec, (refusal, fatal) => {
      lastError = refusal.message;
      this.logger.error({ event: EVENTS.redisRefused, code: refusal.code, role: 'broker', fatal, err: refusal.message }, refusal.message);
    });
    // Without an error listener ioredis prints errors to the console itself. ioredis repeats the same
    // error on every retry: log each distinct one once per outage.
    this.client.on('error', (error: Error) => {
      if (error.message === lastError || redisRefusal(error, { url: this.spec.display }) !== undefined) return;
      lastError = error.message;
      const reason = unreachableReason(error);
      // Not reached: one line per outage for all the connections to this server (outages.ts).
      if (reason !== undefined) OUTAGES.lost(this.spec.display, 'publishing', reason, DEFAULTS.redisReconnectMaxBackoffMs, this.logger);
      else this.logger.warn({ event: EVENTS.brokerError, err: error }, 'broker connection error; reconnecting');
    });
  }

  async plan(messages: readonly TaskMessage[]): Promise<RedisPublishPlan> {
    const bindings = await this.readBindings(messages);
    return planRedisPublish(messages, { keys: this.keys, bindings, declared: this.declared, newDeliveryTag: randomUUID });
  }

  /**
   * Runs a plan's declarations (kombu's maybe_declare SADDs) not yet run on this connection. For
   * callers that push a plan themselves (the scheduler's Lua script): call it before pushing.
   */
  async declare(plan: RedisPublishPlan): Promise<void> {
    const todo = plan.declarations.filter((d) => !this.declared.has(d.queue));
    if (todo.length === 0) return;
    try {
      await Promise.all(todo.map((d) => this.client.sadd(d.key, d.member)));
    } catch (error) {
      throw new BeatError(ErrorCode.BrokerPublish, `cannot declare queue bindings on ${this.spec.display}: ${errorMessage(error)}`, {
        cause: withoutCommandArgs(error),
      });
    }
    this.markDeclared(todo.map((d) => d.queue));
  }

  /**
   * Runs a script that reads its arguments with `cmsgpack.unpack(ARGV[1])`, the arguments packed
   * into one Buffer (redis-envelope.ts packArgs): the scheduler's fenced publish sends thousands of
   * envelopes in one call. The script is registered once through ioredis (redis/scripts.ts), which
   * loads it on each new connection and again after NOSCRIPT (a server restarted or flushed)
   * without running anything twice.
   */
  evalScript(script: PackedScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    // Packed here, synchronously, so that nothing holds the arguments (thousands of envelopes)
    // while the reply is awaited: only the bytes wait, in a buffer lent until the call settles.
    const packed = packArgs(args);
    const reply = this.scripts[script](keys.length, ...keys, packed.bytes);
    reply.then(packed.release, packed.release);
    return reply;
  }

  async close(): Promise<void> {
    // Closed for good: an outage waits for it no longer (ioredis emits no 'end' while reconnecting).
    OUTAGES.gone(this.spec.display, 'publishing', this.logger);
    // QUIT lets the server finish what it has; without a live connection there is nothing to finish.
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    // QUIT over a connection that went silent never answers: give it a second, then hang up.
    const quit = this.client.quit().then(
      () => true,
      () => false,
    );
    if (!(await within(quit, 1000, () => false, { unref: true }))) this.client.disconnect();
  }

  private async readBindings(messages: readonly TaskMessage[]): Promise<Map<string, Binding[]>> {
    const bindings = new Map<string, Binding[]>();
    await Promise.all(
      exchangesToLookUp(messages).map(async (exchange) => {
        let members: string[];
        try {
          members = await this.client.smembers(bindingKey(this.keys, exchange));
        } catch (error) {
          throw new BeatError(
            ErrorCode.BrokerPublish,
            `cannot read the bindings of exchange "${exchange}" from ${this.spec.display}: ${errorMessage(error)}`,
            { cause: withoutCommandArgs(error) },
          );
        }
        bindings.set(
          exchange,
          members.map((m) => parseBindingMember(this.keys, m)).filter((b): b is Binding => b !== undefined),
        );
      }),
    );
    return bindings;
  }

  private markDeclared(queues: readonly string[]): void {
    if (queues.length === 0) return;
    for (const q of queues) this.declared.add(q);
    this.logger.debug({ event: EVENTS.brokerDeclare, queues }, 'declared queue bindings');
  }
}
