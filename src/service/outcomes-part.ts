/**
 * Wiring of run outcomes for `beat run` with a `resultBackend`, `taskEvents`, both, or task events
 * read by default (neither set: config/resolve.ts `taskEventsByDefault`): a connection
 * to the result backend (connected in the background: a result backend that is down never holds
 * up publishing), the listener of Celery's task events on the broker (Redis pub/sub or a RabbitMQ
 * queue; opened only while leading: the tracker starts and stops it), the histories on the state
 * Redis, and the tracker.
 */
import type { Redis } from 'ioredis';
import { configEntryNamed, followsOutcomes } from '../config/resolve.js';
import { keepsRunHistory, taskEventsByDefault } from '../config/outcome-sources.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import type { Clock } from '../ports/clock.js';
import type { OutcomeEvents, RunRecord } from '../ports/outcomes.js';
import { OutcomeTracker } from '../outcomes/tracker.js';
import { brokerWiring } from '../publish/brokers.js';
import { createRedisClient } from '../redis/connect.js';
import type { RedisClient } from '../redis/connect.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { RedisResultReader } from '../redis/result-backend.js';
import { RedisRunHistory } from '../redis/run-history-store.js';
import type { DeadLettering, FailurePausing, RetryScheduling } from '../redis/run-history-store.js';
import { deadLettersOf, retryPolicyOf } from '../config/retry-schema.js';
import type { RetrySettings } from '../config/retry-schema.js';
import { deadLetterOf, exhaustedEnd, nextAttempt } from '../runtime/attempt-end.js';
import { DEFAULTS } from '../base/defaults.js';
import type { RetryPolicy } from '../core/retry.js';

/**
 * With task events read by default (no resultBackend, taskEvents unset), a run is given up as
 * `unknown` ("workers send no task events") once this has passed since its publish while no worker
 * has sent any task event to this leader: the workers may run without -E. Long enough for a
 * worker with -E to take a run from a quiet queue and say so (task-received/-started come within
 * milliseconds); a run still waits there meanwhile, shown as published (PENDING). A shorter
 * outcomeTimeout shortens it too.
 */
const TASK_EVENTS_SILENCE_MS = 120_000;

export interface Outcomes {
  readonly tracker: OutcomeTracker;
  /** The result backend's connection; none when task events are the only source. */
  readonly client: Redis | undefined;
  readonly onError: (error: unknown) => void;
}

export function startOutcomes(
  config: ResolvedConfig,
  keys: SchedulerKeys,
  state: RedisClient,
  logger: Logger,
  clock: Clock,
  events: OutcomeEvents,
  pausing?: FailurePausing,
  /** A runtime entry of this name (the catalog), for its retry policy; the config's entries are looked up first. */
  findEntry?: (name: string) => RetrySettings | undefined,
): Outcomes | undefined {
  if (!keepsRunHistory(config)) return undefined;
  const backend = config.resultBackend;
  const client = backend === undefined ? undefined : createRedisClient(backend.url, backend.transportOptions, 'result backend', logger);
  // ioredis reconnects for ever (connect.ts); until then reads fail and the tracker retries them.
  client?.connect().catch(() => undefined);
  // Celery's task events on the broker the runs are published to (a broker without them refused taskEvents with the config).
  const taskEvents =
    config.taskEvents === true || taskEventsByDefault(config) ? brokerWiring(config).taskEvents?.(config, logger) : undefined;
  const entryOf = (name: string): RetrySettings | undefined => configEntryNamed(config, name) ?? findEntry?.(name);
  const policyOf = retryPolicies(config, entryOf);
  const scheduling = retryScheduling(policyOf, clock);
  const tracker = new OutcomeTracker({
    history: new RedisRunHistory(state, keys, undefined, pausing, scheduling, deadLettering(config, policyOf, entryOf, clock, events)),
    // A slot's next attempt is its entry's run in progress until it is published (overlap policies).
    nextAttempt: (entry: string, record: RunRecord) => scheduling.next(entry, record),
    ...(client === undefined || backend === undefined
      ? {}
      : { results: new RedisResultReader(client, backend.transportOptions.globalKeyprefix) }),
    ...(taskEvents === undefined ? {} : { taskEvents }),
    // Read by default, not counted on: a run no event tells of is given up as unknown, saying why.
    ...(followsOutcomes(config) ? {} : { silenceMs: Math.min(TASK_EVENTS_SILENCE_MS, config.outcomeTimeoutMs) }),
    events: withExhaustions(events, policyOf),
    logger,
    clock,
    timeoutMs: config.outcomeTimeoutMs,
  });
  const onError = (error: unknown): void => logger.warn({ event: EVENTS.outcomeError, err: error }, `run outcomes: ${errorMessage(error)}`);
  return { tracker, client, onError };
}

/**
 * The retry policy in force for an entry's runs (issue 70): its entry's (the config's, else the
 * runtime entry of that name), with retryPolicyOf; none for an entry not found (deleted since).
 */
function retryPolicies(
  config: ResolvedConfig,
  entryOf: (name: string) => RetrySettings | undefined,
): (entry: string) => RetryPolicy | undefined {
  return (name) => {
    const entry = entryOf(name);
    return entry === undefined ? undefined : retryPolicyOf(entry, config);
  };
}

/**
 * The next attempt of a run whose record is final: its entry's policy applied to how it ended
 * (runtime/attempt-end.ts), written by run-history.lua in the same step as the outcome.
 */
function retryScheduling(policyOf: (entry: string) => RetryPolicy | undefined, clock: Clock): RetryScheduling {
  return {
    next: (name, record) => {
      const policy = policyOf(name);
      return policy === undefined ? undefined : nextAttempt(name, record, policy, clock.now());
    },
  };
}

/**
 * The dead-letter list (issue 70): a run that failed for good goes there when its entry keeps such
 * slots (deadLettersOf), written by run-history.lua with its outcome; `events` hears of each letter
 * added and of the list's size. An entry not found (deleted since) keeps none.
 */
function deadLettering(
  config: ResolvedConfig,
  policyOf: (entry: string) => RetryPolicy | undefined,
  entryOf: (name: string) => RetrySettings | undefined,
  clock: Clock,
  events: OutcomeEvents,
): DeadLettering {
  return {
    of: (name, record, revision) => {
      const entry = entryOf(name);
      if (entry === undefined) return undefined;
      return deadLetterOf(name, record, policyOf(name), deadLettersOf(entry, config), clock.now(), revision);
    },
    maxItems: config.deadLetters?.maxItems ?? DEFAULTS.deadLettersMaxItems,
    maxBytes: config.deadLetters?.maxBytes ?? DEFAULTS.deadLettersMaxBytes,
    lettered: (entry, record, letter) => events.deadLettered?.(entry, record, letter),
    bounded: (dropped, size) => events.deadLettersBounded?.(dropped, size),
  };
}

/** `events`, also told of each run that failed for good with its attempts used up (OutcomeEvents.retriesExhausted: the metrics count them). */
function withExhaustions(events: OutcomeEvents, policyOf: (entry: string) => RetryPolicy | undefined): OutcomeEvents {
  return {
    ...events,
    finished: (entry, record) => {
      events.finished(entry, record);
      const end = exhaustedEnd(record, policyOf(entry));
      if (end !== undefined) events.retriesExhausted?.(entry, record, end);
    },
  };
}
