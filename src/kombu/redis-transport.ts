/**
 * The Redis broker: kombu's Redis transport over one ioredis connection, for the fenced dispatcher
 * (src/publish/redis-fenced-dispatcher.ts), which pushes through its own Lua script. The thin, I/O
 * half; what goes where is decided by the pure `planRedisPublish` (redis-plan.ts).
 * - `plan` reads the bindings of named exchanges (SMEMBERS, as kombu does on every publish) and
 *   plans the SADD of each queue not yet declared on this connection (kombu's maybe_declare);
 *   `declare` runs those SADDs.
 * - `encodeScript` / `sendScript` run a Lua script by EVALSHA through ioredis's `sendCommand`, its
 *   arguments packed into one Buffer argument (a MessagePack array the script reads with cmsgpack;
 *   envelopes written from their layouts, never built as strings: envelope-bytes.ts).
 * Commands are never re-sent after a dropped connection: a publish fails rather than risk
 * duplicates, and the caller decides what to retry.
 */
import { readFileSync } from 'node:fs';
import { Command, Redis } from 'ioredis';
import type { LuaScript } from '../redis/scripts.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import type { MessageTemplate, TaskMessage } from '../celery/message.js';
import { DEFAULTS } from '../base/defaults.js';
import { within } from '../base/within.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import { OUTAGES, unreachableReason } from '../base/outages.js';
import type { Logger } from '../base/log.js';
import { bindingKey, kombuKeyOptions, parseBindingMember } from './keys.js';
import type { Binding, KombuKeyOptions } from './keys.js';
import { settleOnClose } from '../redis/ioredis-close.js';
import { guardConnection } from '../redis/connect.js';
import { redisRefusal, withoutCommandArgs } from '../redis/server-errors.js';
import { randomDeliveryTag } from './delivery-tag.js';
import { exchangesToLookUp, planRedisPublish } from './redis-plan.js';
import type { RedisPublishPlan } from './redis-plan.js';
import { BufferPool, packArgs, prepareLayout } from './envelope-bytes.js';
import type { ScriptArg } from './envelope-bytes.js';
import { parseRedisUrl, redisClientOptions } from '../config/redis-url.js';
import type { RedisConnectionSpec } from '../config/redis-url.js';

export interface RedisTransportOptions {
  readonly url: string;
  readonly transportOptions: TransportOptionsInput;
  readonly logger: Logger;
  /** Reads the TLS files named in the URL. */
  readonly readFile?: (path: string) => Buffer;
}

// Kept importable from here: the broker's callers strip their errors through this module.
export { withoutCommandArgs } from '../redis/server-errors.js';

/**
 * An EVALSHA ready to send (RedisTransport.encodeScript): its keys and its arguments packed into
 * `packed`, a view of `buffer` (pooled, released once the call is answered or given up).
 */
export interface EncodedScript {
  readonly script: LuaScript;
  readonly keys: readonly string[];
  readonly packed: Buffer;
  readonly buffer: Buffer;
}

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
  private readonly buffers: BufferPool;

  constructor(options: RedisTransportOptions) {
    this.spec = parseRedisUrl(options.url, options.transportOptions);
    this.keys = kombuKeyOptions(options.transportOptions, this.spec.db);
    this.logger = options.logger.child({ broker: this.spec.display });
    this.buffers = new BufferPool(DEFAULTS.scriptBuffersKept);
    for (const warning of this.spec.warnings) this.logger.warn({ event: EVENTS.brokerWarning }, warning);
    this.client = new Redis({
      ...redisClientOptions(this.spec, options.transportOptions, options.readFile ?? ((path) => readFileSync(path))),
      lazyConnect: true,
      maxRetriesPerRequest: DEFAULTS.brokerMaxRetriesPerRequest,
      autoResendUnfulfilledCommands: false,
      // A black-holed connection (a partition, a dropped NAT flow) would hang every publish until TCP
      // gives up, minutes later, while the leader keeps its lock: destroy a socket silent this long.
      socketTimeout: DEFAULTS.redisSocketTimeoutMs,
      disconnectTimeout: DEFAULTS.redisDisconnectTimeoutMs,
    });
    settleOnClose(this.client);
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
    return planRedisPublish(messages, { keys: this.keys, bindings, declared: this.declared, newDeliveryTag: randomDeliveryTag });
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
   * Work done ahead of a template's first message: its envelope layout, encoded. A fanout message
   * goes out by PUBLISH as text and needs none.
   */
  prepare(template: MessageTemplate): void {
    const d = template.shape.destination;
    if (d.exchangeType !== 'fanout') prepareLayout(template, d.exchange, d.routingKey);
  }

  /**
   * Runs a Lua script that reads its arguments with `cmsgpack.unpack(ARGV[1])` by EVALSHA, the
   * arguments packed into one Buffer (envelope-bytes.ts), envelopes never made into strings (the scheduler's fenced publish sends thousands of
   * envelopes in one call). A server without the script (restarted, flushed) answers NOSCRIPT
   * without running anything: the script is loaded and the same bytes sent again.
   */
  evalScript(script: LuaScript, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    // Encoded here, synchronously, so that nothing holds the arguments (thousands of envelopes)
    // while the reply is awaited: only the bytes wait.
    return this.sendScript(this.encodeScript(script, keys, args));
  }

  /** The EVALSHA's arguments packed into a pooled buffer, released once sendScript() is answered. */
  private encodeScript(script: LuaScript, keys: readonly string[], args: readonly ScriptArg[]): EncodedScript {
    return { script, keys, ...packArgs(args, (bytes) => this.buffers.acquire(bytes)) };
  }

  private releaseScript(encoded: EncodedScript): void {
    this.buffers.release(encoded.buffer);
  }

  private async sendScript(encoded: EncodedScript): Promise<unknown> {
    const { script, keys, packed } = encoded;
    const command = (): Command => new Command('EVALSHA', [script.sha1, String(keys.length), ...keys, packed]);
    try {
      try {
        return await this.client.sendCommand(command());
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        await this.client.script('LOAD', script.text);
        return await this.client.sendCommand(command());
      }
    } finally {
      // Answered or failed, ioredis is done with the arguments' bytes.
      this.releaseScript(encoded);
    }
  }

  async close(): Promise<void> {
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
