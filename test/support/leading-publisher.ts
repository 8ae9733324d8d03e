/**
 * Publishing as `beat run` does it, for tests whose real Celery workers must run exactly what
 * production sends: the dispatcher of `createPublishing` (the service's factory) for a config,
 * under a fence token won by `Leadership` on the config's state Redis, so the lock, fence and
 * leader keys are the ones the service writes. Runs go through `dispatch` as the runner hands them.
 */
import { hostname } from 'node:os';
import type { Logger } from '../../src/base/log.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedConfig, ResolvedEntry } from '../../src/config/resolve.js';
import type { DispatchResult, Dispatcher, DueRun } from '../../src/ports/dispatcher.js';
import { createPublishing } from '../../src/publish/brokers.js';
import { stateUrlFor } from '../../src/config/broker-kinds.js';
import { connectWithRetry, createRedisClient } from '../../src/redis/connect.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import type { SchedulerKeys } from '../../src/redis/keys.js';
import { Leadership, newInstanceId } from '../../src/redis/leadership.js';

export interface LeadingPublisher {
  readonly dispatcher: Dispatcher;
  readonly keys: SchedulerKeys;
  /** The fence token this instance won with the lock. */
  readonly token: string;
  /** `dispatcher.dispatch(runs, token, nowMs)`, as the runner calls it. */
  dispatch(runs: readonly DueRun[], nowMs?: number): Promise<DispatchResult>;
  /** Steps down (releases the lock) and closes every connection. */
  close(): Promise<void>;
}

/** Connects, wins the lock of `config`'s deployment and resolves once leading (rejects after `timeoutMs`). */
export async function leadingPublisher(config: ResolvedConfig, logger: Logger, timeoutMs = 15_000): Promise<LeadingPublisher> {
  const keys = schedulerKeys(config.state.prefix, config.name);
  const stateUrl = stateUrlFor(config);
  const state = createRedisClient(stateUrl, config.broker.transportOptions, 'state', logger);
  const subscriber = createRedisClient(stateUrl, config.broker.transportOptions, 'subscriber', logger);
  const publishing = createPublishing(config, keys, logger, state);
  const leadership = new Leadership({
    instanceId: newInstanceId(hostname(), process.pid),
    keys,
    ttlMs: config.lock.ttlMs,
    renewEveryMs: config.lock.renewEveryMs,
    retryEveryMs: config.lock.retryEveryMs,
    lockClients: [state],
    state,
    subscriber,
    logger,
  });
  const close = async (): Promise<void> => {
    await leadership.stop();
    await Promise.allSettled([
      publishing.close(),
      state.quit().catch(() => state.disconnect()),
      subscriber.quit().catch(() => subscriber.disconnect()),
    ]);
  };
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    await Promise.all([connectWithRetry(state, signal), connectWithRetry(subscriber, signal)]);
    await publishing.connect();
    const token = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not leading ${config.name} after ${timeoutMs} ms`)), timeoutMs);
      void leadership
        .start({
          onLead: (lease) => {
            clearTimeout(timer);
            resolve(lease.token);
          },
          onLose: () => undefined,
        })
        .catch(reject);
    });
    return {
      dispatcher: publishing.dispatcher,
      keys,
      token,
      dispatch: (runs, nowMs = Date.now()) => publishing.dispatcher.dispatch(runs, token, nowMs),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** What the config loader resolves for an entry; a dispatcher reads only its name and task. */
const RESOLVED_ENTRY = parseConfig({ beatSchedule: { shell: { task: 'shell', schedule: 60 } } }, 'leading-publisher')
  .entries[0] as ResolvedEntry;

/** The due run of `message` at `slotMs`, as the runner hands it to a dispatcher. */
export function dueRunOf(message: TaskMessage, slotMs: number): DueRun {
  return { entry: { ...RESOLVED_ENTRY, name: message.entry, task: message.task }, slotMs, message };
}
