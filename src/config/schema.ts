/**
 * The config file, as users write it. The TypeScript types of `defineConfig` come from this schema,
 * so what type-checks and what validates cannot drift apart. Every key may also be written in
 * snake_case, as in a Python celeryconfig.
 */
import * as z from 'zod';
import { DEFAULTS } from '../base/defaults.js';
import { keyed } from './key-spelling.js';
import { EXCHANGE_TYPES, optionsSchema, taskRoutesSchema, transportOptionsSchema } from './options-schema.js';
import { scheduleSchema, tooManySpecsMessage } from './schedule-schema.js';
import { spreadProblem } from './entry-schedule.js';
import { alertsSchema, configAlertsSchema } from './alerts-schema.js';
import { authSchema } from './oidc-schema.js';
import { monitorScheduleProblem, monitorSchema, monitorSlugProblem, sentrySettingsSchema } from './sentry-schema.js';
import {
  canvasBoundProblem,
  chainArgsProblem,
  chainSchema,
  chordSchema,
  groupSchema,
  hasGroups,
  entryArgsSchema,
  entryKwargsSchema,
  signatureSchema,
} from './canvas-schema.js';
import { DURATION_MAX_MS, TIMER_MAX_MS, durationSchema } from './duration.js';
import { djangoSourceSchema } from './django-source-schema.js';
import { labelsSchema, metricsLabelKeysSchema } from './labels-schema.js';
import { leaseMarginMs } from './lease-margin.js';
import { newEntryNameSchema } from './name-lookalikes.js';
import { entryNameSchema, taskNameSchema } from './name-text.js';
import { calendarsSchema, excludeSchema, unknownCalendarMessage, unknownCalendars } from './exclude-schema.js';
import { deadLetterSchema, entryRetrySchema, retrySchema } from './retry-schema.js';
import { concurrencySchema } from './concurrency.js';
import { shown } from '../base/errors.js';
import { ISO_DATE_TIME, isShownInstant, isValidZone, parseIsoDateTime } from '../time/zone.js';

/** The refusal of an entryLimits.maxSpecs out of its range. */
const MAX_SPECS_RANGE = `entryLimits.maxSpecs must be a whole number of specs from 1 to ${DEFAULTS.maxSpecsCeiling}`;
/** The largest overlapBuffer accepted: a backlog longer than this is not a buffer any more. */
const OVERLAP_BUFFER_MAX = 10_000;
/**
 * The largest deadLetters.maxItems and maxBytes accepted: the list is read whole by `beat
 * dead-letter list`, and run-history.lua sums its items' sizes (HSTRLEN of each) in the step that
 * adds one, which holds Redis for about a millisecond per 1,000 items (10 ms at this ceiling,
 * measured with Redis 7 on one core).
 */
const DEAD_LETTERS_MAX_ITEMS_CEILING = 10_000;
const DEAD_LETTERS_MAX_BYTES_CEILING = 256 * 1024 * 1024;

export const CATCH_UP_POLICIES = ['once', 'skip', 'all'] as const;
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];
/** What to do with a slot while the entry's previous run has not finished (Temporal's names). */
export const OVERLAP_POLICIES = ['allow', 'skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
/**
 * The signals `overlapSignal` may name: those Celery's `signals.signum` resolves on Linux workers
 * (celery/platforms.py, Python's `signal.SIG*`), written as `celery control revoke --signal` takes them.
 */
export const OVERLAP_SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGABRT', 'SIGALRM'] as const;
/** The answer to a config that still sets `partitions` (retired in 0.3.0; CHANGELOG.md), with the way back. */
export const PARTITIONS_RETIRED =
  "partitions was removed in 0.3.0: one leader per deployment; delete the setting. A deployment that ran with partitions > 1 must first run 'beat partitions set 1' with tsbeat 0.2.x, then upgrade";
const overlapBufferError = `overlapBuffer must be a whole number from 1 to ${OVERLAP_BUFFER_MAX} (slots kept while the previous run runs)`;
const overlapSignalError = `overlapSignal must be one of ${OVERLAP_SIGNALS.join(', ')} (the signal the worker sends the running task's process)`;

/** RabbitMQ queue types Celery declares (`x-queue-type`). */
export const QUEUE_TYPES = ['classic', 'quorum'] as const;
export type QueueType = (typeof QUEUE_TYPES)[number];

export const timezoneSchema = z.string({ error: 'expected an IANA time zone name such as "Europe/Berlin"' }).refine(isValidZone, {
  error: (issue) => `unknown time zone ${shown(String(issue.input))}; use an IANA name such as "Europe/Berlin" or "UTC"`,
});

const ISO_EXAMPLE = 'an ISO-8601 date-time such as "2027-01-01T09:00:00+01:00" (without an offset: a wall time in the entry\'s zone)';

/** `startAt` / `endAt`: an ISO date-time, checked to exist (2027-02-30 does not) and to be shown within 0001-9999. */
const boundSchema = (key: 'startAt' | 'endAt') =>
  z
    .string({ error: `${key} must be ${ISO_EXAMPLE}` })
    .regex(ISO_DATE_TIME, { error: `${key} must be ${ISO_EXAMPLE}` })
    .superRefine((text, ctx) => {
      // Not shaped like a date-time: the regex said so already.
      if (!ISO_DATE_TIME.test(text)) return;
      const ms = parseIsoDateTime(text, 'UTC');
      if (ms === undefined || !isShownInstant(ms)) {
        ctx.addIssue({
          code: 'custom',
          message: `${key} ${shown(text)} ${ms === undefined ? 'is not a real date and time' : 'must be in the years 0001-9999'}`,
          input: text,
        });
      }
    });

const pauseOnFailureError = 'pauseOnFailure must be a whole number of at least 1 (failed runs in a row that pause the entry)';
const maxRunsError = 'maxRuns must be a whole number of at least 1 (the entry stops after that many scheduled runs)';

/** True when an ISO date-time text carries its own offset (or Z): an instant, whatever the zone. */
function hasOffset(text: string): boolean {
  return /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(text);
}

export { entryArgsSchema, entryKwargsSchema } from './canvas-schema.js';

/** What an entry runs: exactly one of them. */
const RUN_KEYS = ['task', 'chain', 'group', 'chord'] as const;

export const entrySchema = keyed({
  /** The Celery task name the worker has registered (or, instead, a `chain`). */
  task: taskNameSchema.optional(),
  /**
   * Instead of `task`, a canvas (docs/canvas.md): signatures run one after the other, each given
   * the previous one's result. `args`, `kwargs` and `options` are then the canvas's, as Celery's
   * `chain(...).apply_async(args, kwargs, **options)` takes them.
   */
  chain: chainSchema.optional(),
  /** Instead of `task`, a group as the whole run (docs/canvas.md): its members run in parallel, one message each. */
  group: groupSchema.optional(),
  /** Instead of `task`, a chord as the whole run (docs/canvas.md): `{header: [...], body: {...}}`, the body given the header's results. */
  chord: chordSchema.optional(),
  /**
   * The tool that manages this runtime entry (`beat apply --owner NAME`), spelled as an entry name:
   * `beat apply` changes and prunes only its own. An entry made by hand has none.
   */
  owner: entryNameSchema.optional(),
  schedule: scheduleSchema,
  /** Positional arguments, any JSON values. */
  args: entryArgsSchema,
  /** Keyword arguments, any JSON values. */
  kwargs: entryKwargsSchema,
  options: optionsSchema.default({}),
  /** Signatures applied with the run's result when it succeeds (a chain's: its last task's); Celery's `link`. */
  link: z.array(signatureSchema, { error: 'link must be a list of signatures such as [{ task: "proj.notify" }]' }).optional(),
  /** Signatures applied with the failing task's id when the run (any task of a chain) fails; Celery's `link_error`. */
  linkError: z.array(signatureSchema, { error: 'linkError must be a list of signatures such as [{ task: "proj.alert" }]' }).optional(),
  /** Celery's `relative`: interval slots are truncated to the interval's unit (day, hour, minute). */
  relative: z.boolean({ error: 'relative must be true or false' }).default(false),
  /** Time zone of this entry's crontab/clocked wall times; defaults to the config's `timezone`. */
  timezone: timezoneSchema.optional(),
  /** A disabled entry stays in the config (and keeps its history) but never runs. */
  enabled: z.boolean({ error: 'enabled must be true or false' }).default(true),
  /**
   * Missed runs (downtime, failover, a clock step): "once" fires an overdue entry once (Celery's
   * behaviour), "skip" waits for the next slot, "all" fires every missed slot in order.
   */
  catchUp: z.enum(CATCH_UP_POLICIES, { error: `catchUp must be one of ${CATCH_UP_POLICIES.join(', ')}` }).default(DEFAULTS.catchUp),
  /** Missed slots older than this are dropped, whatever `catchUp` says. Default: no limit. */
  catchUpWindow: durationSchema('catchUpWindow', 1).optional(),
  /**
   * A slot that comes due while the entry's previous run has not finished: "allow" publishes it
   * anyway (Celery's behaviour), "skip" passes it over, "bufferOne" keeps one to publish when the
   * previous run finishes (later ones are passed over), "bufferAll" keeps them all (up to
   * overlapBuffer) and publishes them one after the other, "cancelOther" revokes the previous run
   * and publishes, "terminateOther" revokes it with terminate (overlapSignal) and publishes. Needs
   * run outcomes (resultBackend or taskEvents); the revoking ones a broker with Celery's remote control.
   */
  overlap: z.enum(OVERLAP_POLICIES, { error: `overlap must be one of ${OVERLAP_POLICIES.join(', ')}` }).default(DEFAULTS.overlap),
  /** With an overlap policy other than "allow": a previous run published longer ago than this counts as lost, not running. */
  overlapTimeout: durationSchema('overlapTimeout', 1000).optional(),
  /** With overlap "bufferAll": at most this many slots wait; past it the oldest is passed over (missed, reason overlap). */
  overlapBuffer: z
    .number({ error: overlapBufferError })
    .int({ error: overlapBufferError })
    .min(1, { error: overlapBufferError })
    .max(OVERLAP_BUFFER_MAX, { error: overlapBufferError })
    .optional(),
  /** With overlap "terminateOther": the signal the worker sends the previous run's process (`revoke --terminate --signal`). */
  overlapSignal: z.enum(OVERLAP_SIGNALS, { error: overlapSignalError }).optional(),
  /** Each run is delayed by a pseudo-random amount up to this (the same for every replica). */
  jitter: durationSchema('jitter').optional(),
  /**
   * Every slot moves by the same offset below this, in whole seconds, hashed from the deployment's
   * and the entry's names (core/spread.ts): entries written alike run spread over the window, each
   * at its own stable time. Shorter than the schedule's shortest period. Default: none.
   */
  spread: durationSchema('spread', 1000).optional(),
  /**
   * No run before this instant (a slot exactly at it runs): ISO 8601; without an offset, a wall time
   * in the entry's zone. Slots before it are never caught up. An interval's grid starts there.
   */
  startAt: boundSchema('startAt').optional(),
  /** No run at or after this instant (a slot exactly at it does not run); then the entry has no next run. */
  endAt: boundSchema('endAt').optional(),
  /**
   * Slots that do not exist, read in the entry's zone: dates ("2026-12-25"), ranges ({from, to}),
   * crontab lines or objects, names of the config's calendars. An excluded slot is not run, not
   * missed and not caught up (see exclude-schema.ts).
   */
  exclude: excludeSchema.optional(),
  /**
   * After this many failed runs in a row (FAILURE; a SUCCESS starts the count again, so does
   * `beat resume`) the entry is paused, with a note saying why, and a `paused` alert goes out.
   * Needs run outcomes (resultBackend or taskEvents).
   */
  pauseOnFailure: z
    .number({ error: pauseOnFailureError })
    .int({ error: pauseOnFailureError })
    .min(1, { error: pauseOnFailureError })
    .optional(),
  /**
   * A run that ends in FAILURE, or is lost on the way, is published again after a backoff, up to
   * `attempts` runs of its slot (retry-schema.ts); over the config's `retry`, and false turns that
   * off for this entry. Needs run outcomes.
   */
  retry: entryRetrySchema.optional(),
  /** A run that failed for good (its attempts exhausted, or failed without retry) goes to the dead-letter list; over the config's `deadLetter`. */
  deadLetter: deadLetterSchema.optional(),
  /** A group of entries with at most `limit` runs in flight; a run due while it is full waits or is skipped (concurrency.ts). Needs run outcomes. */
  concurrency: concurrencySchema.optional(),
  /** The entry stops after this many scheduled runs (`beat trigger` runs are not counted); then status says it finished. */
  maxRuns: z.number({ error: maxRunsError }).int({ error: maxRunsError }).min(1, { error: maxRunsError }).optional(),
  /** `oneOff: true` is `maxRuns: 1` (django-celery-beat's `one_off`). */
  oneOff: z.boolean({ error: 'oneOff must be true or false' }).optional(),
  /** This entry's alerts and ping, over the config's `alerts` (see alerts-schema.ts). */
  alerts: alertsSchema.optional(),
  /** `monitor.sentry`: this entry's runs check in to Sentry Crons (see sentry-schema.ts). */
  monitor: monitorSchema.optional(),
  /** Labels to select the entry by (`team: billing`): Kubernetes' spelling and selectors (see labels-schema.ts). */
  labels: labelsSchema.optional(),
}).superRefine((entry, ctx) => {
  // Reads neither args nor kwargs: entries that differ only in them share one check (entry-shapes.ts).
  const runs = RUN_KEYS.filter((key) => entry[key] !== undefined);
  if (runs.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: [runs[1] ?? 'task'],
      message:
        runs.length === 0
          ? 'task is required: the registered name of a Celery task, such as "proj.tasks.add"'
          : `give one of task, chain, group or chord, not ${runs.join(' and ')}: a canvas names its tasks in its signatures`,
      input: entry[runs[1] ?? 'task'],
    });
  }
  const bound = canvasBoundProblem(entry);
  if (bound !== undefined) ctx.addIssue({ code: 'custom', ...bound, input: entry });
  for (const key of ['link', 'linkError'] as const) {
    if ((entry[key]?.length ?? 0) > 0 && (hasGroups(entry.chain) || entry.group !== undefined || entry.chord !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `an entry's ${key} cannot go with a chain that holds a group or chord, nor with an entry's group or chord (Celery places it differently from version to version): give ${key} to the signatures themselves`,
        input: entry[key],
      });
  }
  // A relative interval's grid walks from its anchor unit by unit; in a list it has none but 1970
  // (types.ts ScheduleUnion), a walk of decades at every next run.
  if (entry.relative && entry.schedule.kind === 'union' && entry.schedule.specs.some((spec) => spec.kind === 'interval')) {
    ctx.addIssue({
      code: 'custom',
      path: ['relative'],
      message:
        'relative: true truncates an interval to its unit, which an interval in a list of schedules cannot be: ' +
        'say the instants with a cron line instead ({ cron: "0 */2 * * *" } for every 2 hours on the hour), or drop relative',
      input: entry.relative,
    });
  }
  // The slug is judged with the entry's name, by the config (below).
  const monitorProblem = monitorScheduleProblem(entry.monitor, entry.schedule);
  if (monitorProblem !== undefined) ctx.addIssue({ code: 'custom', ...monitorProblem, input: entry.monitor });
  const spread = entry.spread === undefined ? undefined : spreadProblem(entry.schedule, { ...entry, spread: entry.spread });
  if (spread !== undefined) ctx.addIssue({ code: 'custom', path: ['spread'], message: spread, input: entry.spread });
  if (entry.oneOff === true && entry.maxRuns !== undefined && entry.maxRuns !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['maxRuns'],
      message: `oneOff: true means maxRuns: 1, but maxRuns is ${entry.maxRuns}; give only one of them`,
      input: entry.maxRuns,
    });
  }
  // Wall times are read in the entry's zone. Without a zone of its own the entry takes the config's,
  // unknown here: two wall times (or two instants) compare the same in every zone; a mix does not,
  // and the config checks it with its zone (windowProblem in configSchema).
  const { startAt, endAt } = entry;
  if (startAt === undefined || endAt === undefined) return;
  if (entry.timezone === undefined && hasOffset(startAt) !== hasOffset(endAt)) return;
  windowProblem(entry, entry.timezone ?? 'UTC', [], ctx);
});

/** Reports an entry whose endAt is not after its startAt, both read in `zone`, at `path` + endAt. */
function windowProblem(
  entry: { startAt?: string | undefined; endAt?: string | undefined },
  zone: string,
  path: PropertyKey[],
  ctx: z.RefinementCtx,
): void {
  const { startAt, endAt } = entry;
  if (startAt === undefined || endAt === undefined) return;
  const startMs = parseIsoDateTime(startAt, zone);
  const endMs = parseIsoDateTime(endAt, zone);
  if (startMs !== undefined && endMs !== undefined && endMs <= startMs) {
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'endAt'],
      message: `endAt ${shown(endAt)} must be after startAt ${shown(startAt)}: no run could fall between them`,
      input: endAt,
    });
  }
}
export type EntryInput = z.input<typeof entrySchema>;
export type ParsedEntry = z.output<typeof entrySchema>;

// Kept importable from here: the entry readers take it with the entry schema.
export { entryNameSchema } from './name-text.js';

export const brokerSchema = keyed({
  /** redis://, rediss://, redis+socket://, sentinel://… (Celery's `broker_url`). */
  url: z.string({ error: 'broker.url must be a URL such as "redis://127.0.0.1:6379/0"' }).min(1).default(DEFAULTS.brokerUrl),
  transportOptions: transportOptionsSchema.default({}),
});

const deploymentName = z.string({ error: 'name must be a string' }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
  error: 'name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
});

export const lockSchema = keyed({
  /** How long the lock lives without renewal: a dead leader is replaced within this. */
  ttl: durationSchema('lock.ttl', 1000, TIMER_MAX_MS).default(DEFAULTS.lockTtlMs),
  /** How often the leader renews the lock. Default: a third of the TTL. */
  renewEvery: durationSchema('lock.renewEvery', 100, TIMER_MAX_MS).optional(),
  /** How often a standby tries to take the lock (it is also told at once when a leader steps down). */
  retryEvery: durationSchema('lock.retryEvery', 50, TIMER_MAX_MS).default(DEFAULTS.lockRetryMs),
  /**
   * Independent Redis servers for a Redlock quorum (at least 3 for the quorum to mean anything).
   * Default: the state Redis alone.
   */
  urls: z.array(z.string().min(1)).min(1).optional(),
  /**
   * A replica whose clock is further than this from the state Redis's (TIME) does not lead, and a
   * leader steps down; no slot further ahead of Redis's clock is ever published or recorded.
   */
  maxClockSkew: durationSchema('lock.maxClockSkew', 10, TIMER_MAX_MS).default(DEFAULTS.maxClockSkewMs),
}).superRefine((lock, ctx) => {
  // A leader stops publishing leaseMarginMs before its lock could expire; renewals must come at
  // least twice within what is left, or one slow renewal costs the leadership.
  const ttl = lock.ttl ?? DEFAULTS.lockTtlMs;
  const most = Math.floor((ttl - leaseMarginMs(ttl)) / 2);
  if (lock.renewEvery !== undefined && lock.renewEvery > most) {
    ctx.addIssue({
      code: 'custom',
      path: ['renewEvery'],
      message: `lock.renewEvery must be at most ${most} ms with a ttl of ${ttl} ms (twice within the ttl less its safety margin); leave it unset for a third of the ttl`,
      input: lock.renewEvery,
    });
  }
});

export const stateSchema = keyed({
  /** The Redis holding last-run state and the lock. Default: the broker's Redis. */
  url: z.string().min(1).optional(),
  /** Prefix of every key tsbeat writes; the deployment `name` follows it. */
  prefix: z
    .string()
    .regex(/^[^\s{}]*$/, { error: 'state.prefix must not contain spaces or braces' })
    .default(DEFAULTS.statePrefix),
});

/** RedBeat's keys as a source of entries (src/redbeat/): what Python saves with RedBeatSchedulerEntry runs here. */
export const redbeatSourceSchema = keyed({
  /** The Redis RedBeat uses (its `redbeat_redis_url`). Default: the broker's Redis. */
  url: z.string({ error: 'sources.redbeat.url must be a URL such as "redis://127.0.0.1:6379/0"' }).min(1).optional(),
  /** RedBeat's `redbeat_key_prefix`. */
  keyPrefix: z.string({ error: 'sources.redbeat.keyPrefix must be a string' }).default(DEFAULTS.redbeatKeyPrefix),
  /** RedBeat's `redbeat_lock_key` (put under keyPrefix, as RedBeat does). Default: `<keyPrefix>:lock`. */
  lockKey: z.string({ error: 'sources.redbeat.lockKey must be a string' }).min(1).optional(),
});

export const sourcesSchema = keyed({
  redbeat: redbeatSourceSchema.optional(),
  /** django-celery-beat's tables (src/django/). */
  django: djangoSourceSchema.optional(),
});

export const configSchema = keyed(
  {
    /** The deployment: replicas with the same name share state and elect one leader. */
    name: deploymentName.default(DEFAULTS.deploymentName),
    /** IANA zone in which crontab and clocked wall times are read (Celery's `timezone`). */
    timezone: timezoneSchema.default(DEFAULTS.timezone),
    /** Named lists of exclusions that entries name in their `exclude` (a holiday calendar, say). */
    calendars: calendarsSchema.default({}),
    /** The periodic tasks, by entry name (Celery's `beat_schedule`): a name is written here, so no lookalike. */
    beatSchedule: z
      .record(newEntryNameSchema, entrySchema, { error: 'beatSchedule must be an object mapping entry names to entries' })
      .default({}),
    broker: brokerSchema.default({ url: DEFAULTS.brokerUrl, transportOptions: {} }),
    /** Queue used when neither the entry's options nor a route names one (Celery's `task_default_queue`). */
    taskDefaultQueue: z.string().min(1).default(DEFAULTS.taskDefaultQueue),
    taskRoutes: taskRoutesSchema.optional(),
    /** Celery's `task_protocol`: 2 (the default) or 1 for very old workers. */
    taskProtocol: z.union([z.literal(1), z.literal(2)], { error: 'taskProtocol must be 1 or 2' }).default(DEFAULTS.taskProtocol),
    /**
     * Celery's `task_queue_max_priority` (RabbitMQ only): the `x-max-priority` argument of every queue
     * tsbeat declares, 1-255 (RabbitMQ advises at most 10). It must equal the workers' setting, or
     * RabbitMQ refuses the second declaration (406 PRECONDITION_FAILED). Default: none, so queues
     * are not priority queues and `priority` has no effect there. Redis brokers ignore it.
     */
    taskQueueMaxPriority: z
      .number({ error: 'taskQueueMaxPriority must be a whole number from 1 to 255' })
      .int({ error: 'taskQueueMaxPriority must be a whole number from 1 to 255' })
      .min(1, { error: 'taskQueueMaxPriority must be a whole number from 1 to 255' })
      .max(255, { error: 'taskQueueMaxPriority must be a whole number from 1 to 255' })
      .optional(),
    /**
     * Celery 5.5's `task_default_queue_type` (RabbitMQ only): "quorum" declares the default queue
     * (`taskDefaultQueue`) with `x-queue-type: quorum`; other queues follow
     * `taskCreateMissingQueueType`. Must match the workers. Default "classic".
     */
    taskDefaultQueueType: z
      .enum(QUEUE_TYPES, { error: `taskDefaultQueueType must be one of ${QUEUE_TYPES.join(', ')}` })
      .default(DEFAULTS.amqpQueueType),
    /**
     * Celery 5.6's `task_create_missing_queue_type` (RabbitMQ only): the type of every other queue
     * tsbeat declares (those named by `queue` options and routes). Default "classic".
     */
    taskCreateMissingQueueType: z
      .enum(QUEUE_TYPES, { error: `taskCreateMissingQueueType must be one of ${QUEUE_TYPES.join(', ')}` })
      .default(DEFAULTS.amqpQueueType),
    /**
     * Celery's `task_default_exchange_type` (RabbitMQ only): the type of the default queue's own
     * exchange (named after it), as tsbeat declares it. Must match the workers. "topic" (or
     * "fanout") with a quorum queue makes countdowns go through native delayed delivery
     * (docs/brokers.md). Default "direct".
     */
    taskDefaultExchangeType: z
      .enum(EXCHANGE_TYPES, { error: `taskDefaultExchangeType must be one of ${EXCHANGE_TYPES.join(', ')}` })
      .default(DEFAULTS.amqpExchangeType),
    /**
     * Celery 5.6's `task_create_missing_queue_exchange_type` (RabbitMQ only): the type of every other
     * queue's own exchange. Must match the workers. Default "direct" (Celery 5.5 has no such setting:
     * its queues created on demand always have a direct exchange).
     */
    taskCreateMissingQueueExchangeType: z
      .enum(EXCHANGE_TYPES, { error: `taskCreateMissingQueueExchangeType must be one of ${EXCHANGE_TYPES.join(', ')}` })
      .default(DEFAULTS.amqpExchangeType),
    /**
     * How deep (levels of arrays and objects) and how large (bytes of JSON, args and kwargs together)
     * a runtime entry's arguments may be: a larger one is refused when it is written and does not run.
     */
    entryLimits: keyed({
      maxDepth: z
        .number({ error: 'entryLimits.maxDepth must be a whole number from 1 to 1000' })
        .int({ error: 'entryLimits.maxDepth must be a whole number from 1 to 1000' })
        .min(1, { error: 'entryLimits.maxDepth must be a whole number from 1 to 1000' })
        .max(1000, { error: 'entryLimits.maxDepth must be a whole number from 1 to 1000' })
        .default(DEFAULTS.entryMaxDepth),
      maxArgsBytes: z
        .number({ error: 'entryLimits.maxArgsBytes must be a whole number of bytes from 2 to 64 MiB' })
        .int({ error: 'entryLimits.maxArgsBytes must be a whole number of bytes from 2 to 64 MiB' })
        .min(2, { error: 'entryLimits.maxArgsBytes must be a whole number of bytes from 2 to 64 MiB' })
        .max(64 * 1024 * 1024, { error: 'entryLimits.maxArgsBytes must be a whole number of bytes from 2 to 64 MiB' })
        .default(DEFAULTS.entryMaxArgsBytes),
      maxEntries: z
        .number({ error: 'entryLimits.maxEntries must be a whole number of entries from 1 to 10,000,000' })
        .int({ error: 'entryLimits.maxEntries must be a whole number of entries from 1 to 10,000,000' })
        .min(1, { error: 'entryLimits.maxEntries must be a whole number of entries from 1 to 10,000,000' })
        .max(10_000_000, { error: 'entryLimits.maxEntries must be a whole number of entries from 1 to 10,000,000' })
        .default(DEFAULTS.entryMaxEntries),
      maxStoreBytes: z
        .number({ error: 'entryLimits.maxStoreBytes must be a whole number of bytes from 1 KiB to 64 GiB' })
        .int({ error: 'entryLimits.maxStoreBytes must be a whole number of bytes from 1 KiB to 64 GiB' })
        .min(1024, { error: 'entryLimits.maxStoreBytes must be a whole number of bytes from 1 KiB to 64 GiB' })
        .max(64 * 1024 ** 3, { error: 'entryLimits.maxStoreBytes must be a whole number of bytes from 1 KiB to 64 GiB' })
        .default(DEFAULTS.entryMaxStoreBytes),
      /** The most specs an entry's `schedule` list may hold, in the config's beatSchedule and in the runtime entries alike. */
      maxSpecs: z
        .number({ error: MAX_SPECS_RANGE })
        .int({ error: MAX_SPECS_RANGE })
        .min(1, { error: MAX_SPECS_RANGE })
        .max(DEFAULTS.maxSpecsCeiling, { error: MAX_SPECS_RANGE })
        .default(DEFAULTS.maxSpecs),
    }).default({
      maxDepth: DEFAULTS.entryMaxDepth,
      maxArgsBytes: DEFAULTS.entryMaxArgsBytes,
      maxEntries: DEFAULTS.entryMaxEntries,
      maxStoreBytes: DEFAULTS.entryMaxStoreBytes,
      maxSpecs: DEFAULTS.maxSpecs,
    }),
    /**
     * `beat check` warns when more than this many runs start in one second of the next day (default
     * DEFAULTS.loadWarnAt); a warning only, never a refusal: the fix is the entries' to make.
     */
    loadWarnAt: z
      .number({ error: 'loadWarnAt must be a whole number of runs in one second, at least 1' })
      .int({ error: 'loadWarnAt must be a whole number of runs in one second, at least 1' })
      .min(1, { error: 'loadWarnAt must be a whole number of runs in one second, at least 1' })
      .optional(),
    /** Most entries with series of their own in /metrics (default DEFAULTS.metricsMaxEntries); later ones are counted as left out. */
    metricsMaxEntries: z
      .number({ error: 'metricsMaxEntries must be a whole number of entries, at least 1' })
      .int({ error: 'metricsMaxEntries must be a whole number of entries, at least 1' })
      .min(1, { error: 'metricsMaxEntries must be a whole number of entries, at least 1' })
      .optional(),
    /**
     * Label keys whose values label each entry's tsbeat_entry_labels series in /metrics (as
     * `label_<key>`); none by default, because every value of a label makes series of its own.
     */
    metricsLabelKeys: metricsLabelKeysSchema.optional(),
    /** The audit trail of changes to entries (`beat audit`): how many events its Redis stream keeps. */
    audit: keyed({
      maxEvents: z
        .number({ error: 'audit.maxEvents must be a whole number from 100 to 100,000,000' })
        .int({ error: 'audit.maxEvents must be a whole number from 100 to 100,000,000' })
        .min(100, { error: 'audit.maxEvents must be a whole number from 100 to 100,000,000' })
        .max(100_000_000, { error: 'audit.maxEvents must be a whole number from 100 to 100,000,000' })
        .default(DEFAULTS.auditMaxEvents),
    }).default({ maxEvents: DEFAULTS.auditMaxEvents }),
    /** Retired in 0.3.0: named here so that a config that still sets it is told why and what to do, not "unknown setting". */
    partitions: z.never({ error: PARTITIONS_RETIRED }).optional(),
    /** The scheduler never sleeps longer than this (Celery's `beat_max_loop_interval`). */
    maxInterval: durationSchema('maxInterval', 10, TIMER_MAX_MS).default(DEFAULTS.maxIntervalMs),
    lock: lockSchema.default({ ttl: DEFAULTS.lockTtlMs, retryEvery: DEFAULTS.lockRetryMs, maxClockSkew: DEFAULTS.maxClockSkewMs }),
    state: stateSchema.default({ prefix: DEFAULTS.statePrefix }),
    /** Sources of entries besides the file that change while beat runs: RedBeat's keys, django-celery-beat's tables. */
    sources: sourcesSchema.default({}),
    /** Alerts for every entry (a webhook, which kinds, lateAfter); an entry's own `alerts` override them. */
    alerts: configAlertsSchema.optional(),
    /** Sentry Crons: the DSN check-ins go to ($SENTRY_DSN over it), their environment and release. */
    sentry: sentrySettingsSchema.optional(),
    /** How people sign in to the dashboard: `auth.oidc`, single sign-on with OpenID Connect (see oidc-schema.ts). */
    auth: authSchema.optional(),
    // Run outcomes: read from the workers' result backend.
    /**
     * Celery's `result_backend` (also $CELERY_RESULT_BACKEND), a Redis one: redis://, rediss://,
     * sentinel://. With it the leader reads each published run's result and keeps a history per
     * entry (`beat history`). Default: none, and no outcomes.
     */
    resultBackend: z.string({ error: 'resultBackend must be a URL such as "redis://127.0.0.1:6379/1"' }).min(1).optional(),
    /** Celery's `result_backend_transport_options`: `global_keyprefix`, and the connection's (sentinel `master_name`, …). */
    resultBackendTransportOptions: transportOptionsSchema.default({}),
    /**
     * Celery's task events (workers started with `-E`): the leader also listens to them on the
     * broker, which gives STARTED without `task_track_started`, the exact start and finish and the
     * worker's runtime, at once. With or without a resultBackend (then the events alone). Unset, with
     * no resultBackend either (and a broker that carries events: not SQS), they are read by default,
     * without counting on them (docs/outcomes.md, "Task events by default"); `false` turns that off.
     */
    taskEvents: z.boolean({ error: 'taskEvents must be true or false' }).optional(),
    /** Every entry's retry policy unless it sets its own (retry-schema.ts); default: none. */
    retry: retrySchema.optional(),
    /** Every entry's `deadLetter` unless it sets its own; unset: true for an entry with a retry policy, false without (deadLettersOf). */
    deadLetter: deadLetterSchema.optional(),
    /**
     * The dead-letter list's bound (docs/outcomes.md, "Retries and the dead-letter list"): at most
     * `maxItems` items and `maxBytes` bytes of them; past either the oldest leave first, counted in
     * tsbeat_dead_letters_dropped_total.
     */
    deadLetters: keyed({
      maxItems: z
        .number({ error: `deadLetters.maxItems must be a whole number from 1 to ${DEAD_LETTERS_MAX_ITEMS_CEILING}` })
        .int({ error: `deadLetters.maxItems must be a whole number from 1 to ${DEAD_LETTERS_MAX_ITEMS_CEILING}` })
        .min(1, { error: `deadLetters.maxItems must be a whole number from 1 to ${DEAD_LETTERS_MAX_ITEMS_CEILING}` })
        .max(DEAD_LETTERS_MAX_ITEMS_CEILING, {
          error: `deadLetters.maxItems must be a whole number from 1 to ${DEAD_LETTERS_MAX_ITEMS_CEILING}`,
        })
        .default(DEFAULTS.deadLettersMaxItems),
      maxBytes: z
        .number({ error: 'deadLetters.maxBytes must be a whole number of bytes from 1 KiB to 256 MiB' })
        .int({ error: 'deadLetters.maxBytes must be a whole number of bytes from 1 KiB to 256 MiB' })
        .min(1024, { error: 'deadLetters.maxBytes must be a whole number of bytes from 1 KiB to 256 MiB' })
        .max(DEAD_LETTERS_MAX_BYTES_CEILING, { error: 'deadLetters.maxBytes must be a whole number of bytes from 1 KiB to 256 MiB' })
        .default(DEFAULTS.deadLettersMaxBytes),
    }).default({ maxItems: DEFAULTS.deadLettersMaxItems, maxBytes: DEFAULTS.deadLettersMaxBytes }),
    /** A run without a final state this long after it was published is recorded as `unknown`. */
    outcomeTimeout: durationSchema('outcomeTimeout', 1000, DURATION_MAX_MS).default(DEFAULTS.outcomeTimeoutMs),
    /**
     * The leader's check for queues nobody consumes (docs/outcomes.md): every `every` it asks the
     * workers which queues they consume (Celery's `active_queues`, answers taken for `replyWindow`)
     * and reads each queue's depth; a queue nobody consumed for `unconsumedAfter` is flagged.
     */
    consumers: keyed({
      check: z.boolean({ error: 'consumers.check must be true or false' }).default(true),
      every: durationSchema('consumers.every', 1000, TIMER_MAX_MS).default(DEFAULTS.consumerCheckEveryMs),
      unconsumedAfter: durationSchema('consumers.unconsumedAfter', 0, DURATION_MAX_MS).default(DEFAULTS.unconsumedAfterMs),
      replyWindow: durationSchema('consumers.replyWindow', 100, 10_000).default(DEFAULTS.consumerReplyWindowMs),
    }).default({
      check: true,
      every: DEFAULTS.consumerCheckEveryMs,
      unconsumedAfter: DEFAULTS.unconsumedAfterMs,
      replyWindow: DEFAULTS.consumerReplyWindowMs,
    }),
  },
  { beat_max_loop_interval: 'maxInterval' },
).superRefine((config, ctx) => {
  // The one case the entry could not judge alone: a wall time and an instant, in the config's zone.
  // `for in`, not Object.entries: no array of 100,000 pairs for a check that rarely applies.
  for (const name in config.beatSchedule) {
    const entry = config.beatSchedule[name];
    const chainArgs = entry === undefined ? undefined : chainArgsProblem(entry);
    if (chainArgs !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['beatSchedule', name, chainArgs.path],
        message: chainArgs.message,
        input: entry?.[chainArgs.path],
      });
    const specs = entry?.schedule.kind === 'union' ? entry.schedule.specs.length : 1;
    if (specs > config.entryLimits.maxSpecs) {
      ctx.addIssue({
        code: 'custom',
        path: ['beatSchedule', name, 'schedule'],
        message: tooManySpecsMessage(specs, config.entryLimits.maxSpecs),
        input: entry?.schedule,
      });
    }
    const slugProblem = entry?.monitor === undefined ? undefined : monitorSlugProblem(name, entry.monitor);
    if (slugProblem !== undefined) {
      ctx.addIssue({ code: 'custom', ...slugProblem, path: ['beatSchedule', name, ...slugProblem.path], input: entry?.monitor });
    }
    if (entry?.exclude !== undefined) {
      for (const unknown of unknownCalendars(entry.exclude, config.calendars)) {
        const index = entry.exclude.findIndex((item) => item.kind === 'calendar' && item.name === unknown);
        ctx.addIssue({
          code: 'custom',
          path: ['beatSchedule', name, 'exclude', index],
          message: unknownCalendarMessage(unknown, config.calendars),
          input: unknown,
        });
      }
    }
    if (entry === undefined || entry.timezone !== undefined || entry.startAt === undefined || entry.endAt === undefined) continue;
    if (hasOffset(entry.startAt) === hasOffset(entry.endAt)) continue;
    windowProblem(entry, config.timezone, ['beatSchedule', name], ctx);
  }
});

/** What users write: the argument of `defineConfig`. */
export type BeatConfigInput = z.input<typeof configSchema>;
/** The validated config, with defaults applied and schedules compiled. */
export type ParsedConfig = z.output<typeof configSchema>;
