/**
 * Celery's task events on RabbitMQ: the workers publish them to `celeryev`, a durable topic
 * exchange (celery/events/event.py: `Exchange('celeryev', type='topic')`, kombu's defaults
 * durable, not auto-delete), with routing keys `task.started`, `task.succeeded`, … (`task.multi`
 * for a buffered list). tsbeat declares the exchange with those same arguments (so neither
 * declaration conflicts with the other, whichever comes first), binds a server-named exclusive,
 * auto-deleted queue to it with `task.#` (as Celery's EventReceiver binds its own queue), and
 * `worker.#` for the workers' liveness events when asked (worker-heartbeat every 2 s a worker), and
 * consumes without acks: the queue goes with the connection, so nothing piles up while no leader
 * listens. A connection lost is reopened with backoff (connection.ts) and the queue set up again.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ConsumeMessage } from 'amqplib';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { EVENT_EXCHANGE, taskEventsOf, workerEventsOf } from '../celery/task-events.js';
import { CONTENT_TYPE } from '../celery/message.js';
import type { TaskEvent, WorkerEventHandlers } from '../celery/task-events.js';
import { parseAmqpUrl } from '../config/amqp-url.js';
import { AmqpConnection } from './connection.js';

export const TASK_EVENTS_BINDING = 'task.#';
export const WORKER_EVENTS_BINDING = 'worker.#';

/** An event message's body (JSON only: Celery's `event_serializer` default). */
export function decodeEventMessage(contentType: string | undefined, content: Buffer): unknown {
  if (contentType !== CONTENT_TYPE)
    throw new Error(`content-type ${JSON.stringify(contentType)}: tsbeat reads events of event_serializer "json" only`);
  return JSON.parse(content.toString('utf8')) as unknown;
}

export interface AmqpTaskEventsOptions {
  readonly url: string;
  readonly logger: Logger;
  readonly readFile?: (path: string) => Buffer;
}

export class AmqpTaskEvents {
  private connection: AmqpConnection | undefined;
  private unreadable = false;

  constructor(private readonly o: AmqpTaskEventsOptions) {}

  start(onEvents: (events: TaskEvent[]) => void, workers?: WorkerEventHandlers): void {
    if (this.connection !== undefined) return;
    const spec = parseAmqpUrl(this.o.url);
    const logger = this.o.logger.child({ role: 'task events' });
    const connection: AmqpConnection = new AmqpConnection({
      spec,
      logger,
      readFile: this.o.readFile ?? ((path) => readFileSync(path)),
      connectionName: `tsbeat task events ${hostname()} pid ${process.pid}`,
      onReturn: () => undefined,
      onLost: () => undefined,
      onReady: () => void this.consume(connection, logger, onEvents, workers),
    });
    this.connection = connection;
    void connection.start();
  }

  private async consume(
    connection: AmqpConnection,
    logger: Logger,
    onEvents: (events: TaskEvent[]) => void,
    workers: WorkerEventHandlers | undefined,
  ): Promise<void> {
    try {
      const channel = await connection.confirmChannel();
      await channel.assertExchange(EVENT_EXCHANGE, 'topic', { durable: true, autoDelete: false });
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await channel.bindQueue(queue, EVENT_EXCHANGE, TASK_EVENTS_BINDING);
      if (workers !== undefined) await channel.bindQueue(queue, EVENT_EXCHANGE, WORKER_EVENTS_BINDING);
      await channel.consume(queue, (message) => this.deliver(message, onEvents, workers), { noAck: true });
      // A new queue: what the workers sent while there was none is gone.
      workers?.listening();
      logger.info({ event: EVENTS.taskEventsListening, exchange: EVENT_EXCHANGE, queue }, `listening to Celery's task events (${queue})`);
    } catch (error) {
      // A refused declaration (406: celeryev declared otherwise) closes the channel: say why; the
      // next connection tries again.
      logger.warn(
        { event: EVENTS.taskEventsError, err: errorMessage(error) },
        `cannot consume Celery's task events from the ${EVENT_EXCHANGE} exchange (${errorMessage(error)}); run outcomes come from the result backend alone until the broker connection is reopened`,
      );
    }
  }

  private deliver(message: ConsumeMessage | null, onEvents: (events: TaskEvent[]) => void, workers: WorkerEventHandlers | undefined): void {
    if (message === null) return; // the broker cancelled the consumer (queue deleted)
    let events: TaskEvent[];
    let body: unknown;
    try {
      body = decodeEventMessage(message.properties.contentType as string | undefined, message.content);
      events = taskEventsOf(body);
    } catch (error) {
      if (!this.unreadable)
        this.o.logger.warn(
          { event: EVENTS.taskEventsError, err: errorMessage(error) },
          `a task event could not be read (${errorMessage(error)}); such events are skipped (logged once)`,
        );
      this.unreadable = true;
      return;
    }
    if (events.length > 0) onEvents(events);
    const alive = workers === undefined ? [] : workerEventsOf(body);
    if (alive.length > 0) workers?.events(alive);
  }

  async stop(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }
}
