/**
 * The AMQP 0-9-1 (RabbitMQ) transport: Celery's messages over a publisher-confirm channel.
 *
 * A message counts as sent only when the broker confirmed it (basic.ack) and did not hand it back
 * as unroutable (basic.return, which RabbitMQ sends before the ack of a `mandatory` message). A nack,
 * a channel or connection closed while the confirm was outstanding, or no confirm within
 * `confirmTimeoutMs` all count as NOT sent. Queues are declared as Celery declares them, once per
 * connection, before the first message for them (see amqp-message.ts).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import type { TaskMessage } from '../celery/message.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { within } from '../base/within.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { AmqpConnection } from './connection.js';
import type { AmqpStatus, OwnConfirmChannel } from './connection.js';
import { amqpQueueConfigProblems } from '../config/amqp-queues.js';
import { planAmqpPublish, queueArgumentsTable } from './message.js';
import type { AmqpQueueConfig } from '../config/amqp-queues.js';
import type { AmqpDeclaration, AmqpDelivery, AmqpPublishPlan } from './message.js';
import type { AmqpBroadcast } from './pidbox.js';
import { DELAYED_DELIVERY_EXCHANGE } from './native-delayed-delivery.js';
import { parseAmqpUrl } from '../config/amqp-url.js';
import type { AmqpConnectionSpec } from '../config/amqp-url.js';

export interface AmqpTransportOptions {
  readonly url: string;
  /** Redis-only options; any given is reported as ignored. */
  readonly transportOptions: TransportOptionsInput;
  readonly queues: AmqpQueueConfig;
  readonly logger: Logger;
  /** Reads the TLS files named in the URL. */
  readonly readFile?: (path: string) => Buffer;
  /** Longest wait for a batch's confirms; defaults to AMQP_CONFIRM_TIMEOUT_MS. */
  readonly confirmTimeoutMs?: number;
  /** Shown to operators by RabbitMQ; defaults to `tsbeat <host> pid <pid>`. */
  readonly connectionName?: string;
}

/** What became of one message. */
export type AmqpSendResult =
  | { readonly status: 'confirmed' }
  /** Confirmed, but RabbitMQ handed it back: it reached no queue. */
  | { readonly status: 'returned'; readonly reason: string }
  /** Not sent, or not known to be: channel or connection lost, no confirm in time. */
  | { readonly status: 'failed'; readonly error: Error }
  /**
   * Not sent because of this message alone: the broker closed the channel on it when it went alone
   * (an exchange that does not exist, a message over the broker's size limit…), nacked it, refused
   * its queue's declaration, or it could not be encoded. The other messages are not held back.
   */
  | { readonly status: 'refused'; readonly reason: string };

/** The broker closed the channel with this message's confirm outstanding (maybe for another message). */
class ChannelClosedError extends Error {}

/** A message awaiting its confirm; a basic.return marks it. */
interface InFlight {
  returned: string | undefined;
}

/**
 * Longest wait for the publisher confirms of one batch. Past it the unconfirmed messages count as
 * not sent and the connection is dropped and reopened, since their fate on it is unknown.
 */
const AMQP_CONFIRM_TIMEOUT_MS = 15_000;

const failed = (error: unknown): AmqpSendResult => ({ status: 'failed', error: error instanceof Error ? error : new Error(String(error)) });

export class AmqpTransport {
  readonly spec: AmqpConnectionSpec;
  private readonly logger: Logger;
  private readonly queues: AmqpQueueConfig;
  private readonly confirmTimeoutMs: number;
  private readonly connection: AmqpConnection;
  /** Queues declared on the current connection (kombu's maybe_declare cache); cleared when it is lost. */
  private readonly declared = new Set<string>();
  /** Messages awaiting their confirm, by correlation id (the task id), for matching basic.return. */
  private readonly inFlight = new Map<string, InFlight[]>();

  constructor(options: AmqpTransportOptions) {
    this.spec = parseAmqpUrl(options.url);
    const problems = amqpQueueConfigProblems(options.queues);
    if (problems.length > 0) throw new BeatError(ErrorCode.ConfigInvalid, problems.join('\n'));
    this.queues = options.queues;
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? AMQP_CONFIRM_TIMEOUT_MS;
    this.logger = options.logger.child({ broker: this.spec.display });
    for (const warning of this.spec.warnings) this.logger.warn({ event: EVENTS.brokerWarning }, warning);
    const ignored = Object.entries(options.transportOptions)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k);
    if (ignored.length > 0) {
      this.logger.warn(
        { event: EVENTS.brokerWarning, options: ignored },
        `broker.transportOptions ${ignored.join(', ')} apply to Redis brokers only; ignored with an AMQP broker`,
      );
    }
    this.connection = new AmqpConnection({
      spec: this.spec,
      logger: this.logger,
      readFile: options.readFile ?? ((path) => readFileSync(path)),
      connectionName: options.connectionName ?? `tsbeat ${hostname()} pid ${process.pid}`,
      onReturn: (message) => this.onReturn(message),
      onLost: () => this.declared.clear(),
    });
  }

  /** Starts connecting (it retries on its own); resolves after the first attempt. */
  connect(): Promise<void> {
    return this.connection.start();
  }

  get status(): AmqpStatus {
    return this.connection.status;
  }

  /** The broker's refusal of the last connection attempt (a vhost that does not exist, a refused login), if any. */
  get refusal(): BeatError | undefined {
    return this.connection.refusal;
  }

  ready(): boolean {
    return this.connection.status === 'ready';
  }

  /** A channel apart from the publishing one, closed by its caller (see AmqpConnection.sideChannel). */
  sideChannel(): Promise<Channel> {
    return this.connection.sideChannel();
  }

  async plan(messages: readonly TaskMessage[]): Promise<AmqpPublishPlan> {
    return planAmqpPublish(messages, this.queues);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /**
   * Publishes a broadcast (a remote-control command) with a confirm, declaring its fanout exchange
   * first as kombu does (`declare=[exchange]`); rejects when it was not confirmed. Not mandatory: a
   * fanout exchange with no worker's queue bound to it drops the command, as Celery's does.
   */
  async broadcast(b: AmqpBroadcast): Promise<void> {
    const channel = await this.connection.confirmChannel();
    try {
      const { name, type, durable, autoDelete } = b.exchange;
      await channel.assertExchange(name, type, { durable, autoDelete, internal: false });
    } catch (error) {
      // The broker closes a channel on a refused declaration (the exchange exists with other settings).
      this.connection.forget(channel);
      throw new BeatError(ErrorCode.BrokerDeclare, `cannot declare the fanout exchange "${b.exchange.name}": ${errorMessage(error)}`, {
        cause: error,
      });
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no publisher confirm within ${this.confirmTimeoutMs} ms`)), this.confirmTimeoutMs);
      try {
        channel.publish(b.exchange.name, b.routingKey, b.content, b.properties, (error: unknown) => {
          clearTimeout(timer);
          if (error === null || error === undefined) resolve();
          else reject(error instanceof Error ? error : new Error(String(error)));
        });
      } catch (error) {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /**
   * Publishes a plan with confirms and reports each message: confirmed, returned (unroutable) or
   * failed. Never rejects; a caller that records state records only the confirmed ones.
   */
  async send(plan: AmqpPublishPlan): Promise<AmqpSendResult[]> {
    const results: Promise<AmqpSendResult>[] = [];
    let channel: ConfirmChannel;
    try {
      channel = await this.connection.confirmChannel();
    } catch (error) {
      return plan.messages.map(() => failed(error));
    }
    const refused = new Map<string, Error>();
    for (const d of plan.declarations) {
      if (this.declared.has(declaredKey(d))) continue;
      try {
        await declare(channel, d);
        this.declared.add(d.queue);
        this.declared.add(declaredKey(d));
        this.logger.debug(
          { event: EVENTS.brokerDeclare, queue: d.queue, arguments: d.arguments, delayedBinding: d.delayedBindingKey },
          'declared queue, exchange and binding',
        );
      } catch (error) {
        refused.set(d.queue, declareError(d, error));
        this.logger.error({ event: EVENTS.brokerError, queue: d.queue, err: error }, 'the broker refused a queue declaration');
        // The broker closes a channel on a refused declaration; the next one carries on.
        this.connection.forget(channel);
        try {
          channel = await this.connection.confirmChannel();
        } catch (reopen) {
          return plan.messages.map((m) => failed((m.declareQueue !== undefined && refused.get(m.declareQueue)) || reopen));
        }
      }
    }

    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const deadline = new Promise<AmqpSendResult>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve(failed(new Error(`no publisher confirm within ${this.confirmTimeoutMs} ms`)));
      }, this.confirmTimeoutMs);
    });
    try {
      for (const m of plan.messages) {
        const refusal = m.declareQueue === undefined ? undefined : refused.get(m.declareQueue);
        if (m.problem !== undefined) results.push(Promise.resolve({ status: 'refused', reason: m.problem }));
        else if (refusal !== undefined) results.push(Promise.resolve({ status: 'refused', reason: refusal.message }));
        else if (timedOut) results.push(Promise.resolve(failed(new Error('not published: earlier confirms were overdue'))));
        else {
          const { result, writable } = this.publishOne(channel, m);
          results.push(Promise.race([result, deadline]));
          // Past the high-water mark, wait for the socket to drain before writing more.
          if (!writable) await Promise.race([onceDrained(channel), deadline]);
        }
      }
      const settled = await Promise.all(results);
      if (timedOut) this.connection.reset(`publisher confirms overdue after ${this.confirmTimeoutMs} ms`);
      else await this.isolate(plan, settled);
      const confirmed = settled.filter((r) => r.status === 'confirmed').length;
      this.logger.debug({ event: EVENTS.brokerPublish, planned: plan.size, confirmed }, 'published');
      return settled;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A channel closed by the broker fails every confirm outstanding on it, most of them for messages
   * that did nothing wrong. Those are sent again one at a time on a channel of their own, which no
   * other batch shares (one in flight beside this one may close the publishing channel meanwhile):
   * one that the broker closes that channel on, alone, is refused for itself; the others go.
   */
  private async isolate(plan: AmqpPublishPlan, settled: AmqpSendResult[]): Promise<void> {
    const closedOn = settled.flatMap((r, i) => (r.status === 'failed' && r.error instanceof ChannelClosedError ? [i] : []));
    if (closedOn.length === 0) return;
    this.logger.debug({ event: EVENTS.brokerIsolate, messages: closedOn.length }, 'sending again alone what a closed channel failed');
    let own: OwnConfirmChannel | undefined;
    try {
      for (const i of closedOn) {
        const m = plan.messages[i];
        if (m === undefined) continue;
        if (own === undefined || own.isClosed()) {
          try {
            own = await this.connection.ownConfirmChannel(this.confirmTimeoutMs);
          } catch {
            return; // The connection went: the rest stay failed, for the runner's retry.
          }
        }
        let overdue = false;
        const alone = await within(this.publishOne(own.channel, m).result, this.confirmTimeoutMs, () => {
          overdue = true;
          return failed(new Error(`no publisher confirm within ${this.confirmTimeoutMs} ms`));
        });
        if (overdue) {
          // Its fate on the connection is unknown, and a close of the channel now could be about it
          // or the next one: the rest stay failed, and the connection is dropped, as send() does.
          settled[i] = alone;
          this.connection.reset(`publisher confirms overdue after ${this.confirmTimeoutMs} ms`);
          return;
        }
        const why = this.connection.closedBy(own.channel);
        settled[i] =
          alone.status === 'failed' && alone.error instanceof ChannelClosedError && why !== undefined
            ? { status: 'refused', reason: `the broker closed the channel on this message: ${why}` }
            : alone;
      }
    } finally {
      own?.close();
    }
  }

  private publishOne(channel: ConfirmChannel, m: AmqpDelivery): { result: Promise<AmqpSendResult>; writable: boolean } {
    const id = m.properties.correlationId;
    const entry: InFlight = { returned: undefined };
    const list = this.inFlight.get(id);
    if (list === undefined) this.inFlight.set(id, [entry]);
    else list.push(entry);
    const release = (): void => {
      const l = this.inFlight.get(id);
      const at = l?.indexOf(entry) ?? -1;
      if (l === undefined || at === -1) return;
      l.splice(at, 1);
      if (l.length === 0) this.inFlight.delete(id);
    };
    let writable = true;
    const result = new Promise<AmqpSendResult>((resolve) => {
      try {
        writable = channel.publish(m.exchange, m.routingKey, m.content, m.properties, (error: unknown) => {
          release();
          if (error !== null && error !== undefined) resolve(this.publishError(error, channel));
          else if (entry.returned !== undefined) resolve({ status: 'returned', reason: entry.returned });
          else resolve({ status: 'confirmed' });
        });
      } catch (error) {
        // A closed channel, or a header table too large for amqplib's encoder.
        release();
        resolve(this.publishError(error, channel));
      }
    });
    return { result, writable };
  }

  /** A nack or a lost channel, with the broker's reason when it gave one (e.g. 404: no such exchange). */
  private publishError(error: unknown, channel: ConfirmChannel): AmqpSendResult {
    const message = errorMessage(error);
    // A nack is about this message (a queue at its length limit with reject-publish, say).
    if (message === 'message nacked') return { status: 'refused', reason: 'the broker nacked the message (it could not take it)' };
    if (/channel closed/i.test(message)) {
      const why = this.connection.closedBy(channel);
      return failed(new ChannelClosedError(why !== undefined ? `channel closed before the confirm: ${why}` : message));
    }
    // amqplib could not encode it (a header table too large): this message alone.
    if (error instanceof TypeError || error instanceof RangeError) return { status: 'refused', reason: `it cannot be encoded: ${message}` };
    return failed(error);
  }

  private onReturn(message: Message): void {
    const id = String(message.properties.correlationId ?? '');
    const entry = this.inFlight.get(id)?.find((e) => e.returned === undefined);
    const fields = message.fields as Message['fields'] & { replyCode?: number; replyText?: string };
    const exchange = fields.exchange === '' ? 'the default exchange' : `exchange "${fields.exchange}"`;
    const reason = `no queue is bound to ${exchange} with routing key "${fields.routingKey}" (${fields.replyCode ?? 312} ${fields.replyText ?? 'NO_ROUTE'}); start a worker for that queue or fix the route`;
    // The queue may have been deleted since it was declared: declare it again (and its delayed-delivery bindings) on the next attempt.
    this.declared.delete(fields.routingKey);
    this.declared.delete(delayedKey(fields.routingKey));
    if (entry !== undefined) entry.returned = reason;
    else
      this.logger.warn(
        { event: EVENTS.publishDropped, id, exchange: fields.exchange, routingKey: fields.routingKey },
        `a message came back unroutable: ${reason}`,
      );
  }
}

/** What the `declared` cache knows: the queue, and apart from it the queue with its delayed-delivery bindings. */
const delayedKey = (queue: string): string => `${queue}\u0000delayed`;
const declaredKey = (d: AmqpDeclaration): string => (d.delayedBindingKey === undefined ? d.queue : delayedKey(d.queue));

/**
 * kombu's Queue.declare: the exchange, then the queue, then the binding (all durable, none
 * auto-deleted); for a delayed message's queue, then the bindings of Celery's DelayedDelivery
 * bootstep (`bind_queue_to_native_delayed_delivery_exchange`): the queue's exchange to
 * `celery_delayed_delivery` and the queue to its exchange, on `#.<routing key>`. The workers make
 * them too; tsbeat makes them as well, so that a delayed message is not dropped when the delay is
 * over because the queue's worker never bound it.
 */
async function declare(channel: ConfirmChannel, d: AmqpDeclaration): Promise<void> {
  await channel.assertExchange(d.exchange, d.exchangeType, { durable: true, autoDelete: false, internal: false });
  await channel.assertQueue(d.queue, { durable: true, exclusive: false, autoDelete: false, arguments: queueArgumentsTable(d) });
  await channel.bindQueue(d.queue, d.exchange, d.routingKey);
  if (d.delayedBindingKey === undefined) return;
  await channel.bindExchange(d.exchange, DELAYED_DELIVERY_EXCHANGE, d.delayedBindingKey);
  await channel.bindQueue(d.queue, d.exchange, d.delayedBindingKey);
}

function declareError(d: AmqpDeclaration, error: unknown): BeatError {
  const message = errorMessage(error);
  const args = Object.keys(d.arguments).length === 0 ? 'no arguments' : `arguments ${JSON.stringify(d.arguments)}`;
  let hint = '';
  if (/PRECONDITION|406/.test(message))
    hint =
      "; the queue or exchange already exists with other settings: make taskQueueMaxPriority, taskDefaultQueueType and taskCreateMissingQueueType match the workers' task_queue_max_priority, task_default_queue_type and task_create_missing_queue_type, and taskDefaultExchangeType and taskCreateMissingQueueExchangeType their task_default_exchange_type and task_create_missing_queue_exchange_type (or delete the queue)";
  else if (d.delayedBindingKey !== undefined && /NOT_FOUND|404/.test(message) && message.includes(DELAYED_DELIVERY_EXCHANGE))
    hint = `; a countdown to this quorum setup goes through native delayed delivery, whose exchanges do not exist on this vhost yet: start a Celery 5.5 (or later) worker whose queues include a quorum queue (its DelayedDelivery bootstep declares celery_delayed_0 to celery_delayed_27 and ${DELAYED_DELIVERY_EXCHANGE}), or make the queue's exchange a direct one (taskDefaultExchangeType, taskCreateMissingQueueExchangeType)`;
  const binding = d.delayedBindingKey === undefined ? '' : ` and its bindings to ${DELAYED_DELIVERY_EXCHANGE}`;
  return new BeatError(
    ErrorCode.BrokerDeclare,
    `cannot declare queue "${d.queue}" (durable, ${args}) with its ${d.exchangeType} exchange "${d.exchange}"${binding}: ${message}${hint}`,
    { cause: error },
  );
}

function onceDrained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.once('drain', done);
    channel.once('close', done);
  });
}
