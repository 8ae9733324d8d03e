/**
 * Wiring of run outcomes for `beat run` with a `resultBackend`: a connection to the result backend
 * (connected in the background: a result backend that is down never holds up publishing), the
 * histories on the state Redis, and the tracker.
 */
import type { Redis } from 'ioredis';
import type { ResolvedConfig } from '../config/resolve.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import type { Clock } from '../ports/clock.js';
import type { OutcomeEvents } from '../ports/outcomes.js';
import { OutcomeTracker } from '../outcomes/tracker.js';
import { createRedisClient } from '../redis/connect.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { RedisResultReader } from '../redis/result-backend.js';
import { RedisRunHistory } from '../redis/run-history-store.js';

export interface Outcomes {
  readonly tracker: OutcomeTracker;
  readonly client: Redis;
  readonly onError: (error: unknown) => void;
}

export function startOutcomes(
  config: ResolvedConfig,
  keys: SchedulerKeys,
  state: Redis,
  logger: Logger,
  clock: Clock,
  events: OutcomeEvents,
): Outcomes | undefined {
  const backend = config.resultBackend;
  if (backend === undefined) return undefined;
  const client = createRedisClient(backend.url, backend.transportOptions, 'result backend', logger);
  // ioredis reconnects for ever (connect.ts); until then reads fail and the tracker retries them.
  client.connect().catch(() => undefined);
  const tracker = new OutcomeTracker({
    history: new RedisRunHistory(state, keys),
    results: new RedisResultReader(client, backend.transportOptions.globalKeyprefix),
    events,
    logger,
    clock,
    timeoutMs: config.outcomeTimeoutMs,
  });
  const onError = (error: unknown): void =>
    logger.warn({ event: EVENTS.outcomeError, err: errorMessage(error) }, `run outcomes: ${errorMessage(error)}`);
  return { tracker, client, onError };
}
