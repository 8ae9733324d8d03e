/**
 * What Celery's `apply_async` takes, as an entry's `options`, and the `taskRoutes` rules.
 * Every key that changes the message on the wire is here; anything else is refused rather than
 * silently dropped (Celery would copy unknown keys into the message properties).
 */
import * as z from 'zod';
import { keyed } from './key-spelling.js';
import { compilePattern } from './task-pattern.js';
import { checkHeaderJson } from './json-value.js';
import { DURATION_MAX_MS, TIMER_MAX_MS, boundText } from './duration.js';
import { isShownInstant, parseIsoDateTime } from '../time/zone.js';
import { shown } from '../base/errors.js';
import { SQS_OPTION_ALIASES, sqsMessageGroupId, sqsTransportOptions } from './sqs-options.js';

export const EXCHANGE_TYPES = ['direct', 'topic', 'fanout'] as const;
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

/** Seconds, more than zero and at most `maxMs` (as milliseconds). */
const seconds = (what: string, maxMs = DURATION_MAX_MS) =>
  z
    .number({ error: `${what} must be a number of seconds` })
    .positive({ error: `${what} must be more than zero seconds` })
    .max(maxMs / 1000, { error: (issue) => `${what} must be at most ${boundText(maxMs)}, got ${String(issue.input)}` });

const priority = z
  .number({ error: 'priority must be a whole number from 0 to 255' })
  .int({ error: 'priority must be a whole number from 0 to 255' })
  .min(0, { error: 'priority must be a whole number from 0 to 255' })
  .max(255, { error: 'priority must be a whole number from 0 to 255' });

/**
 * The longest queue name, in characters: AMQP caps a queue name at 255 bytes. Without a cap one
 * entry's queue name could hold megabytes, copied into every message, log line, metric label and
 * status row.
 */
export const QUEUE_NAME_MAX = 256;
/** The longest of an entry's other option strings (exchange, routingKey, shadow), in characters. */
export const OPTION_STRING_MAX = 256;

/** A non-empty string of at most `max` characters (queue names, exchanges, routing keys…). */
const name = (what: string, max: number = OPTION_STRING_MAX) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: (issue) => `${what} must be at most ${max} characters, got ${String((issue.input as string).length)}` });

const optionsShape = {
  /** Queue to publish to; wins over `taskRoutes`. */
  queue: name('queue', QUEUE_NAME_MAX).optional(),
  /** Named exchange; with `routingKey` the message leaves the default route (Celery §3.2). */
  exchange: name('exchange').optional(),
  exchangeType: z.enum(EXCHANGE_TYPES, { error: `exchangeType must be one of ${EXCHANGE_TYPES.join(', ')}` }).optional(),
  routingKey: name('routingKey').optional(),
  /** 0-9 on Redis (0 is the highest there), up to the queue's x-max-priority on RabbitMQ (higher wins). */
  priority: priority.optional(),
  /** Seconds after publishing, or an absolute ISO-8601 date-time, after which workers revoke the task. */
  expires: z
    .union(
      [
        seconds('expires'),
        z.string().refine((text) => /^\d{4}-\d{2}-\d{2}T/.test(text) && isShownInstant(parseIsoDateTime(text, 'UTC') ?? Number.NaN), {
          error: (issue) =>
            `expires must be seconds or a real ISO-8601 date-time in the years 0001-9999 such as "2027-01-01T09:00:00Z", got ${shown(String(issue.input))}`,
        }),
      ],
      {
        error: 'expires must be a number of seconds or an ISO-8601 date-time string',
      },
    )
    .optional(),
  /** Seconds after publishing before a worker may start the task (Celery's ETA). */
  countdown: seconds('countdown').optional(),
  /** Merged at the top level of the message headers; visible in `task.request`. */
  // Checked like args: kombu >= 5.3 decodes the whole envelope, headers included, with its typed-JSON hook.
  headers: z.record(z.string(), z.unknown(), { error: 'headers must be an object' }).superRefine(checkHeaderJson).optional(),
  timeLimit: seconds('timeLimit').optional(),
  softTimeLimit: seconds('softTimeLimit').optional(),
  ignoreResult: z.boolean({ error: 'ignoreResult must be true or false' }).optional(),
  /** Another name for the task in worker logs. */
  shadow: name('shadow').optional(),
  deliveryMode: z
    .union([z.literal(1), z.literal(2), z.literal('persistent'), z.literal('transient')], {
      error: 'deliveryMode must be 1, 2, "transient" or "persistent"',
    })
    .optional(),
  /** Amazon SQS FIFO queues: the message group (Celery's `MessageGroupId` option); default: the entry's own group. */
  messageGroupId: sqsMessageGroupId.optional(),
};
export const optionsSchema = keyed(optionsShape, { MessageGroupId: 'messageGroupId' });
export type OptionsInput = z.input<typeof optionsSchema>;
export type Options = z.output<typeof optionsSchema>;

/** A route: a queue name, or the routing options it sets. */
export const routeSchema = z.union(
  [
    name('route', QUEUE_NAME_MAX),
    keyed({
      queue: name('queue', QUEUE_NAME_MAX).optional(),
      exchange: name('exchange').optional(),
      exchangeType: z.enum(EXCHANGE_TYPES).optional(),
      routingKey: name('routingKey').optional(),
      priority: priority.optional(),
    }),
  ],
  { error: 'a route is a queue name or an object with queue, exchange, exchangeType, routingKey, priority' },
);
export type RouteInput = z.input<typeof routeSchema>;

/**
 * Celery's `task_routes`: a map from task-name pattern to route, or a list of such maps, tried in
 * order. A pattern is an exact task name, a glob (`*`, `?`, `[...]`) or a regular expression written
 * between slashes (`/^proj\.(a|b)$/i`).
 */
export const taskRoutesSchema = z
  .union([z.record(z.string(), routeSchema), z.array(z.record(z.string(), routeSchema))], {
    error: 'taskRoutes must be an object mapping task-name patterns to routes, or a list of such objects',
  })
  .superRefine((routes, ctx) => {
    const maps = Array.isArray(routes) ? routes.map((map, i) => [map, [i]] as const) : [[routes, []] as const];
    for (const [map, at] of maps) {
      for (const pattern of Object.keys(map)) {
        try {
          compilePattern(pattern);
        } catch (error) {
          const why = (error instanceof Error ? error.message : String(error)).replace(/^Invalid regular expression: /, '');
          ctx.addIssue({ code: 'custom', path: [...at, pattern], message: `not a valid regular expression: ${why}`, input: pattern });
        }
      }
    }
  });
export type TaskRoutesInput = z.input<typeof taskRoutesSchema>;

const transportOptionsShape = {
  /** kombu `global_keyprefix`: prepended as-is to every Redis key and channel. Workers must use the same. */
  globalKeyprefix: z.string().optional(),
  /** kombu `priority_steps`; workers must use the same. */
  prioritySteps: z
    .array(z.number().int().min(0).max(9))
    .min(1)
    .refine((steps) => steps.every((s, i) => i === 0 || s > (steps[i - 1] ?? -1)), { error: 'prioritySteps must be ascending' })
    .optional(),
  /** kombu `sep` between a queue name and its priority step; workers must use the same. */
  sep: z.string().min(1).optional(),
  /** Sentinel: the name of the monitored master (required with sentinel:// URLs). */
  masterName: z.string().min(1).optional(),
  /** Sentinel: credentials for the sentinel connections themselves; the only two of redis-py's sentinel_kwargs passed on. */
  sentinelKwargs: z
    .strictObject(
      {
        password: z.string({ error: 'sentinelKwargs.password must be a string' }).optional(),
        username: z.string({ error: 'sentinelKwargs.username must be a string' }).optional(),
      },
      {
        error: (issue) =>
          issue.code === 'unrecognized_keys'
            ? issue.keys
                .map((key) => `"${key}" is not supported; tsbeat passes on "password" and "username" (strings) to the sentinels`)
                .join('\n')
            : 'sentinelKwargs must be an object such as { password: "..." }',
      },
    )
    .optional(),
  /** kombu fanout channel prefix (`/{db}.` by default); `false` disables it. */
  fanoutPrefix: z.union([z.boolean(), z.string()]).optional(),
  fanoutPatterns: z.boolean().optional(),
  /** Redis connection settings, as kombu names them. */
  socketTimeout: seconds('socketTimeout', TIMER_MAX_MS).optional(),
  socketConnectTimeout: seconds('socketConnectTimeout', TIMER_MAX_MS).optional(),
  socketKeepalive: z.boolean().optional(),
  clientName: z.string().optional(),
  /** Consumer-side settings: accepted so that a Celery `broker_transport_options` copies over, unused by a publisher. */
  visibilityTimeout: z.number().positive().optional(),
  queueOrderStrategy: z.enum(['round_robin', 'sorted', 'priority']).optional(),
  maxConnections: z.number().int().positive().optional(),
  healthCheckInterval: z.number().nonnegative().optional(),
  retryOnTimeout: z.boolean().optional(),
  ...sqsTransportOptions,
};
export const transportOptionsSchema = keyed(transportOptionsShape, SQS_OPTION_ALIASES);
export type TransportOptionsInput = z.input<typeof transportOptionsSchema>;
