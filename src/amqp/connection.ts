/**
 * One AMQP connection with one confirm channel, kept open (and short-lived channels of a caller's
 * own, see ownConfirmChannel): connects in the background, and when the
 * connection is lost (broker restart, network, heartbeat timeout) reconnects with exponential
 * backoff and jitter, rotating through the failover URLs. Never throws from a timer or an event.
 *
 * amqplib fails every confirm still outstanding on a channel when it closes, so a publish in flight
 * at the moment of loss is reported as not sent. `reset()` drops a connection whose state is
 * unknown (confirms overdue) the same way.
 */
import type { Channel, ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { within } from '../base/within.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { amqpRefusal } from './refusal.js';
import { amqpConnectOptions } from '../config/amqp-url.js';
import type { AmqpConnectOptions, AmqpConnectionSpec, AmqpEndpoint } from '../config/amqp-url.js';

/** Reconnect backoff after an AMQP connection is lost: doubles from the first value up to the second, with jitter. */
const AMQP_RECONNECT_MIN_MS = 100;
const AMQP_RECONNECT_MAX_MS = 5000;
/** Longest wait for the broker to close the connection politely on shutdown before the socket is destroyed. */
const AMQP_CLOSE_TIMEOUT_MS = 5000;

export type AmqpStatus = 'idle' | 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface AmqpConnectionOptions {
  readonly spec: AmqpConnectionSpec;
  readonly logger: Logger;
  /** Reads the TLS files named in the URL. */
  readonly readFile: (path: string) => Buffer;
  /** Shown to operators by RabbitMQ (`connection_name`). */
  readonly connectionName: string;
  /** Every basic.return (a mandatory message that reached no queue). */
  readonly onReturn: (message: Message) => void;
  /** A connection was lost or replaced: whatever was declared on it must be declared again. */
  readonly onLost: () => void;
  /** A connection (the first, or a new one after a loss) is open with its channel: what a consumer sets up goes here. */
  readonly onReady?: () => void;
}

/** Backoff before reconnect attempt `attempt` (0-based): doubling, capped, ±20 % jitter. */
export function reconnectDelayMs(attempt: number, random: number): number {
  const base = Math.min(AMQP_RECONNECT_MAX_MS, AMQP_RECONNECT_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (0.8 + 0.4 * random));
}

/** ownConfirmChannel()'s channel (the broker's reason for closing it: AmqpConnection.closedBy). */
export interface OwnConfirmChannel {
  readonly channel: ConfirmChannel;
  readonly isClosed: () => boolean;
  readonly close: () => void;
}

export class AmqpConnection {
  private state: AmqpStatus = 'idle';
  private model: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private nextEndpoint = 0;
  private lastError = '';
  private everConnected = false;
  /**
   * The broker refused the last connection attempt itself (a vhost that does not exist, a refused
   * login): what a publish fails with until a connection opens, so that the leader hands over.
   */
  refusal: BeatError | undefined;
  /** Why the broker closed a channel (a 404 on publish, a 406 on declare), for the failures it caused on that channel. */
  private readonly closeReasons = new WeakMap<ConfirmChannel, string>();

  /** Per endpoint; built once, so that an unreadable TLS file fails at start-up, not on every retry. */
  private readonly connectOptions: readonly AmqpConnectOptions[];
  /**
   * Each connection's way to drop its socket, one that no longer answers included: amqplib hands its
   * socket options to `net.connect`/`tls.connect`, which destroy the socket when this signal aborts
   * (amqplib then fails the outstanding confirms and emits 'close'). `close()` alone waits for a
   * close-ok that a silent broker never sends.
   */
  private readonly hangUps = new WeakMap<ChannelModel, AbortController>();

  constructor(private readonly options: AmqpConnectionOptions) {
    this.connectOptions = options.spec.endpoints.map((e) => amqpConnectOptions(e, options.readFile, options.connectionName));
  }

  get status(): AmqpStatus {
    return this.state;
  }

  /** Starts connecting; resolves after the first attempt, connected or not (it goes on retrying). */
  start(): Promise<void> {
    if (this.state !== 'idle') return Promise.resolve();
    this.state = 'connecting';
    return this.attempt();
  }

  private async attempt(): Promise<void> {
    this.timer = undefined;
    if (this.state === 'closed') return;
    const { spec, logger } = this.options;
    const index = this.nextEndpoint % spec.endpoints.length;
    const endpoint = spec.endpoints[index] as AmqpEndpoint;
    const options = this.connectOptions[index] as AmqpConnectOptions;
    this.nextEndpoint += 1;
    let model: ChannelModel | undefined;
    try {
      // Loaded on first use: a Redis deployment never carries amqplib in memory.
      const { connect } = await import('amqplib');
      const hangUp = new AbortController();
      // amqplib passes its socket options on to net.connect / tls.connect (its documented contract),
      // whose `signal` its typings do not list.
      const socket: AmqpConnectOptions['socket'] & { signal: AbortSignal } = { ...options.socket, signal: hangUp.signal };
      model = await connect(options.connect, socket);
      this.hangUps.set(model, hangUp);
      if (this.closed()) {
        await model.close().catch(() => undefined);
        return;
      }
      this.model = model;
      this.watch(model);
      const channel = await this.openChannel(model);
      // close() may have run meanwhile (it closes the connection it found); or the connection died.
      if (this.closed() || this.model !== model) return;
      this.channel = channel;
      this.state = 'ready';
      this.attempts = 0;
      this.lastError = '';
      this.refusal = undefined;
      logger.info(
        { event: this.everConnected ? EVENTS.brokerReconnect : EVENTS.brokerConnect, url: endpoint.display },
        this.everConnected ? 'reconnected to the broker' : 'connected to the broker',
      );
      this.everConnected = true;
      this.options.onReady?.();
    } catch (error) {
      if (model !== undefined) {
        // Connected but the channel failed: let go of this connection (its 'close' is ignored once it is not current).
        if (this.model === model) this.model = undefined;
        const abandoned = model;
        void abandoned.close().catch(() => this.hangUp(abandoned, new Error('connection abandoned')));
      }
      const refusal = amqpRefusal(error, endpoint);
      this.refusal = refusal;
      const message = errorMessage(refusal ?? error);
      // Every retry fails the same way during an outage: say it once per distinct error.
      if (message !== this.lastError) {
        if (refusal)
          logger.error({ event: EVENTS.brokerError, code: refusal.code, url: endpoint.display, err: refusal }, `${message}; retrying`);
        else logger.warn({ event: EVENTS.brokerError, url: endpoint.display, err: error }, 'cannot connect to the broker; retrying');
        this.lastError = message;
      }
      this.schedule();
    }
  }

  /** A method, not a field test: `close()` may have run during an await, which TS's narrowing cannot see. */
  private closed(): boolean {
    return this.state === 'closed';
  }

  private schedule(): void {
    if (this.state === 'closed' || this.timer !== undefined) return;
    this.state = this.everConnected ? 'reconnecting' : 'connecting';
    const delayMs = reconnectDelayMs(this.attempts, Math.random());
    this.attempts += 1;
    this.timer = setTimeout(() => void this.attempt(), delayMs);
  }

  private watch(model: ChannelModel): void {
    const { logger } = this.options;
    // amqplib emits 'error' before 'close' when the connection fails; 'close' does the work.
    model.on('error', (error: Error) => logger.warn({ event: EVENTS.brokerError, err: error }, 'broker connection error'));
    model.on('close', (error?: Error) => this.lost(model, error));
    model.on('blocked', (reason: string) =>
      logger.warn({ event: EVENTS.brokerBlocked, reason }, 'the broker blocked publishing (resource alarm); confirms wait until it clears'),
    );
    model.on('unblocked', () => logger.info({ event: EVENTS.brokerBlocked, reason: 'unblocked' }, 'the broker unblocked publishing'));
  }

  private lost(model: ChannelModel, error: Error | undefined): void {
    if (model !== this.model) return;
    this.model = undefined;
    this.channel = undefined;
    this.opening = undefined;
    this.options.onLost();
    if (this.state === 'closed') return;
    this.options.logger.warn(
      { event: EVENTS.brokerReconnect, err: error ?? 'closed by the broker' },
      'lost the broker connection; unconfirmed messages count as not sent; reconnecting',
    );
    this.schedule();
  }

  private async openChannel(model: ChannelModel): Promise<ConfirmChannel> {
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => {
      this.closeReasons.set(channel, error.message);
      this.options.logger.warn({ event: EVENTS.brokerError, err: error }, 'the broker closed the channel');
    });
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    channel.on('return', (message: Message) => this.options.onReturn(message));
    return channel;
  }

  /**
   * The confirm channel, reopened when the broker closed it (channel errors leave the connection
   * up). Throws a `BROKER_PUBLISH` BeatError while there is no connection.
   */
  async confirmChannel(): Promise<ConfirmChannel> {
    if (this.channel !== undefined) return this.channel;
    const model = this.model;
    if (model === undefined && this.refusal !== undefined && this.state !== 'closed') throw this.refusal;
    if (model === undefined || this.state === 'closed') {
      throw new BeatError(
        ErrorCode.BrokerPublish,
        `not connected to the broker ${this.options.spec.display} (${this.state}); nothing was published`,
      );
    }
    this.opening ??= this.openChannel(model)
      .then((channel) => {
        if (this.model === model) this.channel = channel;
        return channel;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  /**
   * A plain channel of its own on the current connection, for a caller that may have it closed by
   * the broker (a passive declare of a queue that does not exist answers 404 by closing it) without
   * touching the publishing channel; the caller closes it. Throws as confirmChannel() does while
   * there is no connection.
   */
  async sideChannel(): Promise<Channel> {
    const model = this.connectedModel();
    const channel = await model.createChannel();
    // A broker-closed side channel is expected (404 on a passive declare): its caller reads the rejection.
    channel.on('error', () => undefined);
    return channel;
  }

  /**
   * A confirm channel of the caller's own on the current connection, that no other publish shares:
   * a close of it by the broker is about what the caller sent on it (its reason: `closedBy`). The
   * caller closes it when done. Throws as confirmChannel() does while there is no connection, and
   * when the broker opens no channel within `openWithinMs` (the connection is dropped then).
   */
  async ownConfirmChannel(openWithinMs: number): Promise<OwnConfirmChannel> {
    const model = this.connectedModel();
    const channel = await within(model.createConfirmChannel(), openWithinMs, () => {
      // No answer on this connection: drop it (as overdue confirms do) rather than wait on it.
      this.reset(`no channel opened within ${openWithinMs} ms`);
      throw new BeatError(ErrorCode.BrokerPublish, `the broker ${this.options.spec.display} opened no channel within ${openWithinMs} ms`);
    });
    let closed = false;
    channel.on('error', (error: Error) => {
      this.closeReasons.set(channel, error.message);
    });
    channel.on('close', () => {
      closed = true;
    });
    channel.on('return', (message: Message) => this.options.onReturn(message));
    return {
      channel,
      isClosed: () => closed,
      close: () => {
        if (!closed) channel.close().catch(() => undefined);
      },
    };
  }

  /** The current connection, for a channel of a caller's own; throws while there is none. */
  private connectedModel(): ChannelModel {
    const model = this.model;
    if (model === undefined || this.state === 'closed') {
      throw (
        this.refusal ?? new BeatError(ErrorCode.BrokerPublish, `not connected to the broker ${this.options.spec.display} (${this.state})`)
      );
    }
    return model;
  }

  /** The broker's reason for closing `channel` (e.g. 404 NOT_FOUND - no exchange), once it did. */
  closedBy(channel: ConfirmChannel): string | undefined {
    return this.closeReasons.get(channel);
  }

  /** Stops using `channel`: the broker closed it (a refused declaration), maybe before amqplib said so. */
  forget(channel: ConfirmChannel): void {
    if (this.channel === channel) this.channel = undefined;
  }

  /** Drops the connection, e.g. when confirms are overdue and their fate on it is unknown; the loop reconnects. */
  reset(reason: string): void {
    const model = this.model;
    if (model === undefined) return;
    this.options.logger.warn({ event: EVENTS.brokerReconnect, reason }, 'dropping the broker connection');
    // amqplib notices a socket error, fails the outstanding confirms and emits 'close'.
    this.hangUp(model, new Error(reason));
  }

  private hangUp(model: ChannelModel, reason: Error): void {
    this.hangUps.get(model)?.abort(reason);
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const model = this.model;
    this.model = undefined;
    this.channel = undefined;
    if (model === undefined) return;
    // A broker that stopped answering would leave close() waiting for close-ok forever.
    const closing = model.close().then(
      () => 'closed' as const,
      () => 'failed' as const,
    );
    const result = await within(closing, AMQP_CLOSE_TIMEOUT_MS, () => 'overdue' as const);
    if (result !== 'closed') this.hangUp(model, new Error('the broker did not answer the close'));
  }
}
