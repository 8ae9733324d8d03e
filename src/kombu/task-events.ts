/**
 * Celery's task events on a Redis broker. Celery makes the `celeryev` exchange a fanout exchange
 * on Redis (celery/events/event.py `get_exchange`), and kombu's Redis transport delivers a fanout
 * exchange by PUBLISH on the channel `<global_keyprefix><fanout_prefix>celeryev/<routing key>`
 * (kombu/transport/redis.py `_put_fanout`, `_get_publish_topic`; `fanout_prefix` is `/{db}.` by
 * default, and without `fanout_patterns` the routing key is left out). The message is kombu's
 * envelope: JSON `{"body": <base64>, "content-type": "application/json", "properties":
 * {"body_encoding": "base64", …}, …}`. Pub/sub keeps nothing: an event sent while nobody listens
 * is gone (the result backend's poll covers such runs).
 */
import type { Redis } from 'ioredis';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { EVENT_EXCHANGE, taskEventsOf, workerEventsOf } from '../celery/task-events.js';
import { CONTENT_TYPE } from '../celery/message.js';
import type { TaskEvent, WorkerEventHandlers } from '../celery/task-events.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { parseRedisUrl } from '../config/redis-url.js';
import { closeRedisClient, createRedisClient } from '../redis/connect.js';
import { fanoutChannel, kombuKeyOptions } from './keys.js';

/** A kombu envelope from a fanout channel → its decoded body (JSON only: Celery's `event_serializer` default). */
export function decodeEnvelopeBody(raw: string | Buffer): unknown {
  const envelope = JSON.parse(raw.toString()) as Record<string, unknown>;
  if (envelope === null || typeof envelope !== 'object') throw new Error('not a kombu envelope');
  const contentType = envelope['content-type'];
  if (contentType !== CONTENT_TYPE)
    throw new Error(`content-type ${JSON.stringify(contentType)}: tsbeat reads events of event_serializer "json" only`);
  const body = envelope['body'];
  if (typeof body !== 'string') throw new Error('the envelope has no body');
  const properties = envelope['properties'] as Record<string, unknown> | undefined;
  const text = properties?.['body_encoding'] === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body;
  return JSON.parse(text) as unknown;
}

/** Redis glob metacharacters in a literal part of a pattern. */
const globEscape = (text: string): string => text.replace(/[\\*?[\]]/g, (c) => `\\${c}`);

/** The PSUBSCRIBE pattern of the task events (`group` worker: the workers' liveness events) on a broker's DB, with its transport options. */
export function taskEventPattern(transport: TransportOptionsInput, db: number, group: 'task' | 'worker' = 'task'): string {
  const keys = kombuKeyOptions(transport, db);
  // Without fanout_patterns every event of the exchange comes on one channel; taskEventsOf keeps the task ones.
  return keys.fanoutPatterns
    ? `${globEscape(fanoutChannel(keys, EVENT_EXCHANGE, `${group}.`))}*`
    : globEscape(fanoutChannel(keys, EVENT_EXCHANGE, ''));
}

export interface RedisTaskEventsOptions {
  readonly url: string;
  readonly transportOptions: TransportOptionsInput;
  readonly logger: Logger;
}

/** Listens to the task events on a Redis broker while started; ioredis reconnects and subscribes again by itself. */
export class RedisTaskEvents {
  private client: Redis | undefined;
  private unreadable = false;

  constructor(private readonly o: RedisTaskEventsOptions) {}

  start(onEvents: (events: TaskEvent[]) => void, workers?: WorkerEventHandlers): void {
    if (this.client !== undefined) return;
    const { url, transportOptions, logger } = this.o;
    const db = parseRedisUrl(url, transportOptions).db;
    const pattern = taskEventPattern(transportOptions, db);
    // One pattern without fanout_patterns: both groups come on the exchange's one channel.
    const patterns = [...new Set([pattern, ...(workers === undefined ? [] : [taskEventPattern(transportOptions, db, 'worker')])])];
    const client = createRedisClient(url, transportOptions, 'task events', logger);
    this.client = client;
    client.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
      let events: TaskEvent[];
      let body: unknown;
      try {
        body = decodeEnvelopeBody(message);
        events = taskEventsOf(body);
      } catch (error) {
        this.unreadableOnce(error);
        return;
      }
      if (events.length > 0) onEvents(events);
      const alive = workers === undefined ? [] : workerEventsOf(body);
      if (alive.length > 0) workers?.events(alive);
    });
    // Each ready is a (re)subscription (ioredis's autoResubscribe): the workers were not heard meanwhile.
    client.on('ready', () => workers?.listening());
    // Subscribed once ready; after a reconnect ioredis subscribes again (autoResubscribe).
    client.once('ready', () => {
      client.psubscribe(...patterns).then(
        () =>
          logger.info(
            { event: EVENTS.taskEventsListening, pattern: patterns.join(' ') },
            `listening to Celery's task events (${patterns.join(', ')})`,
          ),
        (error: unknown) => logger.warn({ event: EVENTS.taskEventsError, err: errorMessage(error) }, 'cannot subscribe to task events'),
      );
    });
    // createRedisClient logs the connection's losses and returns once each; it retries for ever.
    client.connect().catch(() => undefined);
  }

  private unreadableOnce(error: unknown): void {
    if (this.unreadable) return;
    this.unreadable = true;
    this.o.logger.warn(
      { event: EVENTS.taskEventsError, err: errorMessage(error) },
      `a task event could not be read (${errorMessage(error)}); such events are skipped (logged once)`,
    );
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    await closeRedisClient(client);
  }
}
